//! What a round reads of its devices ahead of the writer, on the other core: each page's bodies,
//! parsed, and the directory devices their `azureADDeviceId`s name. The writer takes a parsed body
//! only while the stored text is the one parsed (`StoredRow::of_text`), and the directory devices
//! only while the tenant's directory stamp is the one read before them (`DirectoryAhead`).

use super::queue;
use super::results::{StoredRow, DEVICES};
use super::tenant;
use crate::error::ApiError;
use crate::store::{Cursor, Found, Query, Read, Store, StoreError, WriteTx};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Devices read per page.
const BATCH: usize = 2_000;
/// Devices parsed ahead of the writer at a time: more than one write takes (about 40 ms).
const PARSE_AHEAD: usize = 500;

/// A device of a round: its id, and its body if it was parsed ahead of the write.
pub type Ahead = (String, Option<StoredRow>);

/// Up to [`PARSE_AHEAD`] devices of a round, with their directory devices when they were read.
pub struct Chunk {
    pub devices: Vec<Ahead>,
    pub directory: Option<Arc<DirectoryAhead>>,
}

/// The object id of the directory device of each `deviceId` read (`None`: there is none), as
/// they were after the tenant's directory stamp `stamp`.
pub struct DirectoryAhead {
    stamp: String,
    found: HashMap<String, Option<String>>,
}

/// Directory object ids by `deviceId`, as a write may use them.
pub type DirectoryDevices = HashMap<String, Option<String>>;

impl DirectoryAhead {
    /// The answers, when no directory object was written since they were read (this
    /// transaction still sees the stamp read before them); else `None`, and devices are looked
    /// up one by one.
    pub fn if_current(
        &self,
        tx: &mut dyn WriteTx,
        tenant: &str,
    ) -> Result<Option<&DirectoryDevices>, StoreError> {
        Ok((queue::directory_stamp(tx, tenant)? == self.stamp).then_some(&self.found))
    }

    /// Reads the directory devices of `device_ids` (the managed devices' `azureADDeviceId`s) as
    /// `tenant::directory_device_id` finds them, and the directory stamp, all at one commit.
    async fn read(
        store: &dyn Store,
        tenant: &str,
        device_ids: Vec<String>,
    ) -> Result<Self, ApiError> {
        let mut reads = vec![Read::Get(queue::directory_stamp_key(tenant))];
        reads.extend(
            device_ids
                .iter()
                .map(|id| Read::Query(tenant::directory_device_query(tenant, id))),
        );
        let mut answers = store.read_together(reads).await?.into_iter();
        let stamp = match answers.next() {
            Some(Found::Row(row)) => row.map(|r| queue::stamp_of(&r)).unwrap_or_default(),
            other => return Err(unexpected(other)),
        };
        let mut found = HashMap::with_capacity(device_ids.len());
        for (device_id, answer) in device_ids.into_iter().zip(answers) {
            let Found::Page(rows) = answer else {
                return Err(unexpected(Some(answer)));
            };
            found.insert(device_id, tenant::directory_device_in(rows));
        }
        Ok(Self { stamp, found })
    }
}

fn unexpected(found: Option<Found>) -> ApiError {
    ApiError::Internal(format!("reading directory devices ahead found {found:?}"))
}

/// Pages through `tenant`'s managed devices and hands them over [`PARSE_AHEAD`] at a time, their
/// bodies parsed on a blocking thread (off the writer) and their directory devices read; stops
/// when the round drops `chunks`.
pub async fn read_ahead(
    store: Arc<dyn Store>,
    tenant: String,
    chunks: tokio::sync::mpsc::Sender<Chunk>,
) -> Result<(), ApiError> {
    let mut cursor: Option<Cursor> = None;
    loop {
        let mut query = Query::all(&tenant, DEVICES, "");
        query.limit = BATCH;
        query.cursor = cursor.take();
        let page = store.query(query).await?;
        let full = page.len() == BATCH;
        if let Some((last, values)) = page.last() {
            cursor = Some(Cursor {
                values: values.clone(),
                seq: last.seq,
            });
        }
        let mut rows = page.into_iter().map(|(row, _)| (row.key.id, row.body));
        loop {
            let devices: Vec<(String, String)> = rows.by_ref().take(PARSE_AHEAD).collect();
            if devices.is_empty() {
                break;
            }
            // What does not parse is left to the writer, which refuses it as it would unparsed.
            let (devices, device_ids) = tokio::task::spawn_blocking(move || parse(devices))
                .await
                .map_err(|e| {
                ApiError::Internal(format!("parsing devices ahead failed: {e}"))
            })?;
            let directory = if device_ids.is_empty() {
                None
            } else {
                Some(Arc::new(
                    DirectoryAhead::read(store.as_ref(), &tenant, device_ids).await?,
                ))
            };
            if chunks.send(Chunk { devices, directory }).await.is_err() {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// The devices parsed, and the distinct `azureADDeviceId`s they name.
fn parse(devices: Vec<(String, String)>) -> (Vec<Ahead>, Vec<String>) {
    let mut device_ids = Vec::new();
    let parsed = devices
        .into_iter()
        .map(|(id, text)| {
            let row = StoredRow::parse(text).ok();
            let named = row.as_ref().and_then(|r| r.body.get("azureADDeviceId"));
            if let Some(device_id) = named.and_then(Value::as_str) {
                device_ids.push(device_id.to_string());
            }
            (id, row)
        })
        .collect();
    device_ids.sort_unstable();
    device_ids.dedup();
    (parsed, device_ids)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::Key;
    use serde_json::json;

    fn object(id: &str) -> Key {
        Key::new("t", tenant::DIRECTORY, "", id)
    }

    async fn write_object(store: &Arc<dyn Store>, id: &'static str, ty: &'static str, aad: &str) {
        let body = json!({ "deviceId": aad }).to_string();
        store
            .write(move |tx| {
                if !tx.update(&object(id), &body)? {
                    tx.insert(&object(id), ty, &body)?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
    }

    /// What a write may take of `ahead`.
    async fn current(
        store: &Arc<dyn Store>,
        ahead: &Arc<DirectoryAhead>,
    ) -> Option<DirectoryDevices> {
        let ahead = Arc::clone(ahead);
        store
            .write(move |tx| Ok::<_, StoreError>(ahead.if_current(tx, "t")?.cloned()))
            .await
            .unwrap()
    }

    /// Directory devices read ahead answer as `directory_device_id` does, and a write takes them
    /// only until a directory object is written.
    #[tokio::test]
    async fn directory_devices_read_ahead_hold_until_the_directory_is_written() {
        let store = queue::watched(Arc::new(MemoryStore::new()));
        write_object(&store, "d1", tenant::DIRECTORY_DEVICE, "aad-1").await;
        write_object(&store, "u1", "microsoft.graph.user", "aad-2").await;
        let ids = ["aad-1", "aad-2", "aad-3"].map(String::from).to_vec();
        let ahead = Arc::new(
            DirectoryAhead::read(store.as_ref(), "t", ids)
                .await
                .unwrap(),
        );
        let found = current(&store, &ahead)
            .await
            .expect("nothing was written since");
        assert_eq!(found.get("aad-1"), Some(&Some("d1".to_string())));
        assert_eq!(found.get("aad-2"), Some(&None), "not a device");
        assert_eq!(found.get("aad-3"), Some(&None));
        let policy = Key::new("t", "deviceCompliancePolicies", "", "p");
        store
            .write(move |tx| tx.insert(&policy, "", "{}"))
            .await
            .unwrap();
        assert!(
            current(&store, &ahead).await.is_some(),
            "not a directory write"
        );
        write_object(&store, "d3", tenant::DIRECTORY_DEVICE, "aad-3").await;
        assert!(
            current(&store, &ahead).await.is_none(),
            "aad-3 has a device now"
        );
    }
}

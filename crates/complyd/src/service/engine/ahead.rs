//! What a round reads of its devices ahead of the writer, on the other core: each page's bodies,
//! parsed, the directory devices their `azureADDeviceId`s name, and their hidden records, with
//! which each device's evaluation is proved to change nothing where it does (`proof.rs`). The
//! writer takes a parsed body only while the stored text is the one parsed
//! (`StoredRow::of_text`), the directory devices only while the tenant's directory stamp is the
//! one read before them (`DirectoryAhead`), and a proof only while everything it read holds.

use super::applies;
use super::proof::{Candidate, Moment, Proof, Seen};
use super::queue;
use super::results::{StoredRow, DEVICES};
use super::snapshot::ReadOnly;
use super::tenant;
use super::{evaluation_key, Engine, TenantView};
use crate::error::ApiError;
use crate::store::{Cursor, Found, Query, Read, Row, Store, StoreError, WriteMark, WriteTx};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Devices read per page.
const BATCH: usize = 2_000;
/// Devices parsed ahead of the writer at a time: more than one write takes (about 40 ms).
const PARSE_AHEAD: usize = 500;

/// A device of a round: its id, its body if it was parsed ahead of the write, and the proof that
/// evaluating it changes nothing, if one was made.
pub struct Ahead {
    pub id: String,
    pub type_name: String,
    pub row: Option<StoredRow>,
    /// Its hidden record, parsed ahead where a proof was tried and not made (the default: it
    /// had none).
    pub record: Option<StoredRow>,
    pub proof: Option<Proof>,
    /// The store's write mark from before its page was read.
    pub mark: Option<WriteMark>,
}

/// What proofs are made against: the round's view of the tenant, at its generation.
pub struct Prover {
    pub engine: Arc<Engine>,
    pub generation: String,
    pub view: Arc<TenantView>,
}

/// A chunk on its way: its proofs may still be in the making.
pub type ChunkAhead = tokio::task::JoinHandle<Result<Chunk, ApiError>>;

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

/// The managed device's `azureADDeviceId` and its directory object, when `found` has it.
pub fn directory_device_of(
    device: &serde_json::Map<String, Value>,
    found: &DirectoryDevices,
) -> Option<(String, Option<String>)> {
    let aad = device.get("azureADDeviceId")?.as_str()?;
    Some((aad.to_string(), found.get(aad)?.clone()))
}

impl DirectoryAhead {
    /// The answers, for a write that found them current (`if_current`).
    pub fn devices(&self) -> &DirectoryDevices {
        &self.found
    }

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
        Ok(Self::read_with(store, tenant, device_ids, Vec::new())
            .await?
            .0)
    }

    /// `read`, with the rows of `also` (their text, "" when absent) at the same commit.
    async fn read_with(
        store: &dyn Store,
        tenant: &str,
        device_ids: Vec<String>,
        also: Vec<crate::store::Key>,
    ) -> Result<(Self, Vec<String>), ApiError> {
        let mut reads = vec![Read::Get(queue::directory_stamp_key(tenant))];
        let wanted = also.len();
        reads.extend(also.into_iter().map(Read::Get));
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
        let mut texts = Vec::with_capacity(wanted);
        for answer in answers.by_ref().take(wanted) {
            let Found::Row(row) = answer else {
                return Err(unexpected(Some(answer)));
            };
            texts.push(row.map(|r: Row| r.body).unwrap_or_default());
        }
        let mut found = HashMap::with_capacity(device_ids.len());
        for (device_id, answer) in device_ids.into_iter().zip(answers) {
            let Found::Page(rows) = answer else {
                return Err(unexpected(Some(answer)));
            };
            found.insert(device_id, tenant::directory_device_in(rows));
        }
        Ok((Self { stamp, found }, texts))
    }
}

fn unexpected(found: Option<Found>) -> ApiError {
    ApiError::Internal(format!("reading directory devices ahead found {found:?}"))
}

/// Pages through `tenant`'s managed devices and hands them over [`PARSE_AHEAD`] at a time, their
/// bodies parsed on a blocking thread (off the writer), their directory devices read, and, with
/// a `prover`, their evaluations proved where they change nothing (while the next chunk is
/// read); stops when the round drops `chunks`.
pub async fn read_ahead(
    store: Arc<dyn Store>,
    tenant: String,
    prover: Option<Arc<Prover>>,
    chunks: tokio::sync::mpsc::Sender<ChunkAhead>,
) -> Result<(), ApiError> {
    let mut cursor: Option<Cursor> = None;
    loop {
        let mut query = Query::all(&tenant, DEVICES, "");
        query.limit = BATCH;
        query.cursor = cursor.take();
        // Before every read a proof of this page is made from.
        let mark = store.write_mark();
        let page = store.query(query).await?;
        let full = page.len() == BATCH;
        if let Some((last, values)) = page.last() {
            cursor = Some(Cursor {
                values: values.clone(),
                seq: last.seq,
            });
        }
        let mut rows = page
            .into_iter()
            .map(|(row, _)| (row.key.id, row.type_name, row.body));
        loop {
            let devices: Vec<(String, String, String)> = rows.by_ref().take(PARSE_AHEAD).collect();
            if devices.is_empty() {
                break;
            }
            // What does not parse is left to the writer, which refuses it as it would unparsed.
            let (devices, device_ids) = blocking(move || parse(devices, mark)).await?;
            let chunk = match &prover {
                Some(prover) => {
                    let records = devices
                        .iter()
                        .map(|d| evaluation_key(&tenant, &d.id))
                        .collect();
                    let (directory, records) =
                        DirectoryAhead::read_with(store.as_ref(), &tenant, device_ids, records)
                            .await?;
                    let directory = Arc::new(directory);
                    tokio::spawn(prove_in_halves(
                        Arc::clone(prover),
                        Arc::clone(&store),
                        (tenant.clone(), mark),
                        devices,
                        directory,
                        records,
                    ))
                }
                None => {
                    let directory = if device_ids.is_empty() {
                        None
                    } else {
                        Some(Arc::new(
                            DirectoryAhead::read(store.as_ref(), &tenant, device_ids).await?,
                        ))
                    };
                    tokio::spawn(async move { Ok(Chunk { devices, directory }) })
                }
            };
            if chunks.send(chunk).await.is_err() {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("a round's work ahead failed: {e}")))
}

/// The devices parsed, and the distinct `azureADDeviceId`s they name.
fn parse(
    devices: Vec<(String, String, String)>,
    mark: Option<WriteMark>,
) -> (Vec<Ahead>, Vec<String>) {
    let mut device_ids = Vec::new();
    let parsed = devices
        .into_iter()
        .map(|(id, type_name, text)| {
            let row = StoredRow::parse(text).ok();
            if let Some(device_id) = row.as_ref().and_then(azure_ad_device_id) {
                device_ids.push(device_id.to_string());
            }
            Ahead {
                id,
                type_name,
                row,
                record: None,
                proof: None,
                mark,
            }
        })
        .collect();
    device_ids.sort_unstable();
    device_ids.dedup();
    (parsed, device_ids)
}

fn azure_ad_device_id(row: &StoredRow) -> Option<&str> {
    row.body.get("azureADDeviceId").and_then(Value::as_str)
}

/// Proves what it can of `devices` (`records`: their hidden records' texts, in order), each half
/// on a blocking thread of its own: the writer has little to do while devices are proved.
async fn prove_in_halves(
    prover: Arc<Prover>,
    store: Arc<dyn Store>,
    (tenant, mark): (String, Option<WriteMark>),
    mut devices: Vec<Ahead>,
    directory: Arc<DirectoryAhead>,
    mut records: Vec<String>,
) -> Result<Chunk, ApiError> {
    let half = devices.len() / 2;
    let (second, second_records) = (devices.split_off(half), records.split_off(half));
    let runtime = tokio::runtime::Handle::current();
    let start = |devices: Vec<Ahead>, records: Vec<String>| {
        let (prover, store, tenant) = (Arc::clone(&prover), Arc::clone(&store), tenant.clone());
        let (directory, runtime) = (Arc::clone(&directory), runtime.clone());
        blocking(move || {
            let mut devices = devices;
            let mut reader = ReadOnly::new(store, runtime);
            prove(
                &prover,
                &mut reader,
                (&tenant, mark),
                &mut devices,
                &directory,
                &records,
            );
            devices
        })
    };
    let (mut first, second) =
        tokio::try_join!(start(devices, records), start(second, second_records))?;
    first.extend(second);
    Ok(Chunk {
        devices: first,
        directory: Some(directory),
    })
}

/// Proves what it can of `devices` at the tenant's now, reading the clock and the assignment
/// filters the view's policies name once: only with the group membership in the view (else each
/// device's groups are queries, which a proof does not make).
fn prove(
    prover: &Prover,
    reader: &mut ReadOnly,
    (tenant, mark): (&str, Option<WriteMark>),
    devices: &mut [Ahead],
    directory: &DirectoryAhead,
    records: &[String],
) {
    if prover.view.membership.is_none() {
        return;
    }
    let Ok(now_ms) = crate::service::time::now_ms(reader, tenant) else {
        return;
    };
    let mut seen = Seen::new();
    for id in applies::filters_named(&prover.view.policies) {
        let key = applies::filter_key(tenant, id);
        let Ok(row) = reader.get(&key) else { return };
        seen.insert(key, row);
    }
    let moment = Moment {
        engine: &prover.engine,
        view: &prover.view,
        generation: &prover.generation,
        tenant,
        now: now_ms / 1000,
        mark,
    };
    for (device, record) in devices.iter_mut().zip(records) {
        let Some(row) = &device.row else { continue };
        let directory_device = directory_device_of(&row.body, &directory.found);
        device.proof = moment.prove(
            &seen,
            Candidate {
                id: &device.id,
                type_name: &device.type_name,
                row,
                record,
                directory_device,
            },
        );
        if device.proof.is_some() {
            // The writer checks the proof, from its own texts; the body is dropped here.
            device.row = None;
        } else if record.is_empty() {
            device.record = Some(StoredRow::default());
        } else {
            // The writer evaluates it: its record is parsed here, not there.
            device.record = StoredRow::parse(record.clone()).ok();
        }
    }
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

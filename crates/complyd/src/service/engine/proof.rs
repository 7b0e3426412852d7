//! A round's evaluations proved to change nothing, ahead of the writer (on the other core). The
//! reader side runs a device's whole evaluation against what it read for the device's chunk,
//! through a transaction that answers only from those rows, records each one it answers, and
//! refuses every write and every other read (an evaluation reads more only on its way to a
//! write). An evaluation that ends without writing is a proof: the same inputs evaluate to the
//! same nothing. The writer then
//! checks the inputs instead of evaluating: the same generation (policies, settings, groups,
//! filters), the same directory stamp (checked by the round), a tenant's now from the proof's
//! to the first moment time could change the outcome (a grace end, the check-in threshold:
//! `Verdict::steady_until`), and the same text in the device's row, its hidden record and every
//! row the evaluation read. Any difference, or no proof, and the writer evaluates the device as it always did.

use super::results::{StoredRow, DEVICES};
use super::tally::SharedTally;
use super::{evaluation_key, DeviceInput, Engine, TenantView};
use crate::error::ApiError;
use crate::store::{Key, PageRow, Row, StoreError, WriteMark, WriteTx};
use std::collections::HashMap;

/// An evaluation that changed nothing, and what it read.
#[derive(Debug)]
pub struct Proof {
    /// The tenant's now it was evaluated at, and the first now it may not hold at (Unix
    /// seconds), and the generation.
    now: i64,
    until: i64,
    generation: String,
    type_name: String,
    /// The device's text.
    device: String,
    /// The hidden record's text ("" when the device had none).
    record: String,
    /// Every other row it read, as it was (`None`: absent).
    reads: Vec<(Key, Option<(String, String)>)>,
    /// Taken before any of these rows was read: while the store can tell that none was written
    /// since, they are not read again.
    mark: Option<WriteMark>,
}

/// What a proof needs of the moment it is made at.
pub struct Moment<'a> {
    pub engine: &'a Engine,
    pub view: &'a TenantView,
    pub generation: &'a str,
    pub tenant: &'a str,
    pub now: i64,
    /// The store's write mark from before the rows were read, if it keeps one.
    pub mark: Option<WriteMark>,
}

/// The rows proofs may read (`None`: absent), read once for a chunk of devices.
pub type Seen = HashMap<Key, Option<Row>>;

/// A device as the reader side has it.
pub struct Candidate<'a> {
    pub id: &'a str,
    pub type_name: &'a str,
    pub row: &'a StoredRow,
    /// The hidden record's stored text ("" when none).
    pub record: &'a str,
    /// Its `azureADDeviceId` and the directory object found for it.
    pub directory_device: Option<(String, Option<String>)>,
}

impl Moment<'_> {
    /// The proof that evaluating `device` now writes nothing, if it does not.
    pub fn prove(&self, seen: &Seen, device: Candidate<'_>) -> Option<Proof> {
        let record = if device.record.is_empty() {
            StoredRow::default()
        } else {
            StoredRow::parse(device.record.to_string()).ok()?
        };
        let input = DeviceInput {
            type_name: device.type_name.to_string(),
            stored_device: std::borrow::Cow::Borrowed(&device.row.body),
            changed_device: None,
            stored_record: record.text,
            record: record.body,
            directory_device: device.directory_device,
        };
        let mut recorder = Recorder {
            seen,
            reads: Vec::new(),
        };
        let tally = SharedTally::default();
        let evaluated = self.engine.evaluate_with(
            &mut recorder,
            self.view,
            self.tenant,
            device.id,
            self.now,
            false,
            input,
            &tally,
        );
        let until = evaluated.ok()?.steady_until;
        tally.into_inner().is_empty().then(|| Proof {
            now: self.now,
            until,
            generation: self.generation.to_string(),
            type_name: device.type_name.to_string(),
            device: device.row.text.clone(),
            record: device.record.to_string(),
            reads: recorder.reads,
            mark: self.mark,
        })
    }
}

impl Proof {
    /// Whether this write would evaluate the device to the same nothing: `now` and `generation`
    /// are this write's.
    pub fn holds(
        &self,
        tx: &mut dyn WriteTx,
        tenant: &str,
        device_id: &str,
        now: i64,
        generation: &str,
    ) -> Result<bool, ApiError> {
        if now < self.now || now >= self.until || self.generation != generation {
            return Ok(false);
        }
        let device_key = Key::new(tenant, DEVICES, "", device_id);
        let record_key = evaluation_key(tenant, device_id);
        if let Some(mark) = self.mark {
            let mut keys = vec![&device_key, &record_key];
            keys.extend(self.reads.iter().map(|(key, _)| key));
            if tx.unwritten_since(mark, &keys) {
                return Ok(true);
            }
        }
        let device = tx.get(&device_key)?;
        if !device.is_some_and(|row| row.type_name == self.type_name && row.body == self.device) {
            return Ok(false);
        }
        let record = tx.get(&record_key)?;
        if record.map(|row| row.body).unwrap_or_default() != self.record {
            return Ok(false);
        }
        for (key, was) in &self.reads {
            let is = tx.get(key)?.map(|row| (row.type_name, row.body));
            if is != *was {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The transaction a proof evaluates through: reads of the rows seen are answered and recorded;
/// anything else ends the proof.
struct Recorder<'a> {
    seen: &'a Seen,
    reads: Vec<(Key, Option<(String, String)>)>,
}

fn unprovable() -> StoreError {
    StoreError::Backend("not provable ahead of the writer".into())
}

impl WriteTx for Recorder<'_> {
    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError> {
        let row = self.seen.get(key).ok_or_else(unprovable)?.clone();
        let was = row.as_ref().map(|r| (r.type_name.clone(), r.body.clone()));
        if !self.reads.iter().any(|(k, _)| k == key) {
            self.reads.push((key.clone(), was));
        }
        Ok(row)
    }
    fn members(&mut self, _: &str, _: &str, _: &str, _: usize) -> Result<Vec<Row>, StoreError> {
        Err(unprovable())
    }
    fn query(&mut self, _: &crate::store::Query) -> Result<Vec<PageRow>, StoreError> {
        Err(unprovable())
    }
    crate::store::schedule::refuse_writes!(unprovable);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::Store;

    const DEVICE: &str = r#"{"deviceName":"d"}"#;
    const RECORD: &str = r#"{"names":"n"}"#;
    const FILTER: &str = r#"{"rule":"(device.model -eq \"a\")"}"#;
    const TYPE: &str = "microsoft.graph.managedDevice";

    fn filter_key() -> Key {
        super::super::applies::filter_key("t", "f")
    }

    fn proof() -> Proof {
        Proof {
            now: 100,
            until: 160,
            generation: "g".into(),
            type_name: TYPE.into(),
            device: DEVICE.into(),
            record: RECORD.into(),
            reads: vec![(filter_key(), Some((String::new(), FILTER.into())))],
            mark: None,
        }
    }

    async fn stored() -> MemoryStore {
        let memory = MemoryStore::new();
        let store: &dyn Store = &memory;
        store
            .write(|tx| {
                tx.insert(&Key::new("t", DEVICES, "", "d"), TYPE, DEVICE)?;
                tx.insert(&evaluation_key("t", "d"), "", RECORD)?;
                tx.insert(&filter_key(), "", FILTER)
            })
            .await
            .unwrap();
        memory
    }

    async fn holds(store: &dyn Store, proof: Proof, now: i64, generation: &'static str) -> bool {
        store
            .write(move |tx| proof.holds(tx, "t", "d", now, generation))
            .await
            .unwrap()
    }

    async fn put(store: &dyn Store, key: Key, body: &'static str) {
        store
            .write(move |tx| {
                if !tx.update(&key, body)? {
                    tx.insert(&key, "", body)?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
    }

    /// A proof holds while everything it was made from is as it was, and not after any of it
    /// moved: the second, the generation, the device, its record, a row the evaluation read.
    #[tokio::test]
    async fn a_proof_holds_only_while_all_it_read_is_as_it_was() {
        let memory = stored().await;
        let store: &dyn Store = &memory;
        assert!(holds(store, proof(), 100, "g").await);
        assert!(
            holds(store, proof(), 159, "g").await,
            "later, before a grace end"
        );
        assert!(!holds(store, proof(), 160, "g").await, "at the grace end");
        assert!(
            !holds(store, proof(), 99, "g").await,
            "earlier (the clock went back)"
        );
        assert!(!holds(store, proof(), 100, "h").await, "another generation");
        let mut other_type = proof();
        other_type.type_name = "microsoft.graph.other".into();
        assert!(!holds(store, other_type, 100, "g").await, "another type");

        let changed = [
            (Key::new("t", DEVICES, "", "d"), r#"{"deviceName":"e"}"#),
            (evaluation_key("t", "d"), r#"{"names":"m"}"#),
            (filter_key(), r#"{"rule":"(device.model -eq \"b\")"}"#),
        ];
        for (key, body) in changed {
            let memory = stored().await;
            let store: &dyn Store = &memory;
            put(store, key.clone(), body).await;
            assert!(!holds(store, proof(), 100, "g").await, "{key:?} changed");
        }
        // A row that was absent when read must still be absent.
        let memory = stored().await;
        let store: &dyn Store = &memory;
        let absent = Key::new("t", "assignmentFilters", "", "gone");
        let mut reads_absent = proof();
        reads_absent.reads.push((absent.clone(), None));
        assert!(holds(store, reads_absent, 100, "g").await);
        put(store, absent, FILTER).await;
        let mut reads_absent = proof();
        reads_absent
            .reads
            .push((Key::new("t", "assignmentFilters", "", "gone"), None));
        assert!(!holds(store, reads_absent, 100, "g").await, "it appeared");
    }

    /// With a mark from before its reads, a proof holds on the store's word that nothing it
    /// read was written since, without reading the rows again; once one was written, it holds
    /// only if the rows read again are as they were.
    #[tokio::test]
    async fn a_marked_proof_holds_on_the_log_until_a_row_it_read_is_written() {
        let memory = stored().await;
        let store: &dyn Store = &memory;
        let mark = store.write_mark();
        assert!(mark.is_some());
        let marked = |device: &str| Proof {
            device: device.into(),
            mark,
            ..proof()
        };
        assert!(
            holds(store, marked("stale"), 100, "g").await,
            "texts are not compared while the log answers"
        );
        assert!(
            !holds(store, marked(DEVICE), 160, "g").await,
            "time still counts"
        );
        assert!(!holds(store, marked(DEVICE), 100, "h").await);
        put(store, Key::new("t", DEVICES, "", "other"), DEVICE).await;
        assert!(
            holds(store, marked("stale"), 100, "g").await,
            "another device"
        );
        put(store, filter_key(), FILTER).await;
        assert!(
            !holds(store, marked("stale"), 100, "g").await,
            "a row it read was written: the rows are read again"
        );
        assert!(holds(store, marked(DEVICE), 100, "g").await, "as they were");
        let deleted = Key::new("t", DEVICES, "", "d");
        store
            .write(move |tx| tx.delete_tree(&deleted))
            .await
            .unwrap();
        assert!(!holds(store, proof(), 100, "g").await, "the device is gone");
    }

    /// The recorder answers the rows seen, records each once, and refuses everything else.
    #[test]
    fn the_recorder_answers_only_what_was_seen_and_writes_nothing() {
        let row = Row {
            key: filter_key(),
            type_name: String::new(),
            body: FILTER.into(),
            canonical: true,
            seq: 1,
        };
        let seen: Seen = [(filter_key(), Some(row))].into_iter().collect();
        let mut recorder = Recorder {
            seen: &seen,
            reads: Vec::new(),
        };
        assert!(recorder.get(&filter_key()).unwrap().is_some());
        assert!(recorder.exists(&filter_key()).unwrap());
        assert_eq!(
            recorder.reads,
            vec![(filter_key(), Some((String::new(), FILTER.to_string())))]
        );
        let unseen = Key::new("t", "deviceCompliancePolicies/deviceStatuses", "p", "d");
        assert!(recorder.get(&unseen).is_err());
        assert!(recorder.insert(&unseen, "", "{}").is_err());
        assert!(recorder.update(&filter_key(), "{}").is_err());
        assert!(recorder.delete_tree(&filter_key()).is_err());
        assert!(recorder.due_cancel("t", "d", None).is_err());
    }
}

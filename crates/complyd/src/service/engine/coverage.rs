//! Which devices no policy covers: no policy assigned to them applies to their platform, so their
//! verdict is the tenant's default (compliant, or noncompliant when secure by default). The
//! console's overview shows how many. Each such device has a marker row in a hidden collection
//! of the tenant, so the count is one index range; the device's hidden record remembers whether
//! it was covered, so an evaluation that changes nothing writes nothing here.

use crate::error::ApiError;
use crate::store::{Key, Query, Store, WriteTx};
use serde_json::{Map, Value};

const UNCOVERED: &str = "managedDevices/_uncovered";
/// The hidden record's property.
const COVERED: &str = "covered";

fn key(tenant: &str, device: &str) -> Key {
    Key {
        tenant: tenant.to_string(),
        collection: UNCOVERED.to_string(),
        parent: String::new(),
        id: device.to_string(),
    }
}

/// Records whether the device is `covered`, if its record says otherwise (or nothing yet).
pub fn record(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device: &str,
    covered: bool,
    record: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    if record.get(COVERED).and_then(Value::as_bool) == Some(covered) {
        return Ok(());
    }
    let marker = key(tenant, device);
    if covered {
        tx.delete_tree(&marker)?;
    } else if !tx.exists(&marker)? {
        tx.insert(&marker, "", "{}")?;
    }
    record.insert(COVERED.into(), Value::Bool(covered));
    Ok(())
}

/// The device left the tenant.
pub fn forget(tx: &mut dyn WriteTx, tenant: &str, device: &str) -> Result<(), ApiError> {
    tx.delete_tree(&key(tenant, device))?;
    Ok(())
}

/// How many of the tenant's devices no policy covers.
pub async fn uncovered(store: &dyn Store, tenant: &str) -> Result<u64, ApiError> {
    Ok(store
        .count_matching(Query::all(tenant, UNCOVERED, ""))
        .await?)
}

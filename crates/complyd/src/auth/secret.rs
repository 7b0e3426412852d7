//! The HS256 signing secret: given by the operator, or generated once and kept in the data folder.

use std::io::Write;
use std::path::Path;

const FILE: &str = "jwt-secret";

pub fn load_or_create_secret(data_dir: &Path, given: Option<&str>) -> std::io::Result<Vec<u8>> {
    if let Some(secret) = given.filter(|s| !s.is_empty()) {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())?;
            file.sync_all()?;
            Ok(secret.into_bytes())
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(&path)?.trim().as_bytes().to_vec())
        }
        Err(e) => Err(e),
    }
}

/// The HS256 secret kept in a shared store, so that every instance signs and checks alike.
/// Created by the first instance that finds none (inside one write, so two never race).
pub async fn load_or_create_shared_secret(
    store: &dyn crate::store::Store,
) -> Result<Vec<u8>, crate::store::StoreError> {
    use crate::store::{Key, StoreError};
    let key = Key {
        tenant: "_system".into(),
        collection: "secrets".into(),
        parent: String::new(),
        id: "hs256".into(),
    };
    let fresh = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let body = store
        .write(move |tx| -> Result<String, StoreError> {
            if let Some(row) = tx.get(&key)? {
                return Ok(row.body);
            }
            let body = serde_json::json!({ "value": fresh }).to_string();
            tx.insert(&key, "complyd.secret", &body)?;
            Ok(body)
        })
        .await?;
    let value: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| StoreError::Backend(e.to_string()))?;
    value["value"]
        .as_str()
        .map(|s| s.as_bytes().to_vec())
        .ok_or_else(|| StoreError::Backend("the stored secret has no value".into()))
}

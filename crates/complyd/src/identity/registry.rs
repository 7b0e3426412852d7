//! Where the token service keeps what it knows: its signing key, app registrations and users.
//!
//! Everything lives in the store, as entities of the reserved tenant [`SYSTEM_TENANT`], through
//! the store's generic API only (no SQL here), so that every instance sharing one database shares
//! them too. No Graph path reaches this tenant: its collections are not in the model.

use crate::store::{Key, Query, Store, StoreError, WriteTx};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The tenant that holds the token service's own entities.
pub const SYSTEM_TENANT: &str = "_system";
const KEYS: &str = "signingKeys";
const APPS: &str = "applications";
const USERS: &str = "users";
/// `{tenant}:{username}` → user id: makes user names unique per tenant inside one write.
const USER_NAMES: &str = "userNames";
/// The one signing key in use: fixed id, so that check-then-insert settles concurrent first starts.
const CURRENT_KEY: &str = "current";

/// The RSA key tokens are signed with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningKey {
    pub kid: String,
    /// PKCS#1 DER of the private key, base64.
    pub private_key: String,
    pub created: i64,
}

/// An app registration with its service principal in one tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// The client id (`appid`).
    pub client_id: String,
    pub tenant: String,
    pub name: String,
    /// The service principal's object id (`oid`, `sub` of app-only tokens).
    pub object_id: String,
    /// Salted hashes of the client secrets ([`hash_secret`]).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// PEM certificates whose keys may sign client assertions.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Granted application permissions (`roles`).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Where the authorization-code flow may send its codes: exact URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub created: i64,
}

/// A user for delegated (`password` grant) tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The object id (`oid`).
    pub id: String,
    pub tenant: String,
    pub username: String,
    pub password: String,
    /// Delegated permissions consented for this user (`scp`).
    #[serde(default)]
    pub scopes: Vec<String>,
    pub created: i64,
}

fn key(collection: &str, id: &str) -> Key {
    Key {
        tenant: SYSTEM_TENANT.to_string(),
        collection: collection.to_string(),
        parent: String::new(),
        id: id.to_string(),
    }
}

fn user_name_key(tenant: &str, username: &str) -> Key {
    key(USER_NAMES, &format!("{tenant}:{}", username.to_lowercase()))
}

fn decode<T: DeserializeOwned>(body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Backend(format!("registry entity: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()))
}

async fn get<T: DeserializeOwned>(
    store: &Arc<dyn Store>,
    collection: &str,
    id: &str,
) -> Result<Option<T>, StoreError> {
    match store.get(&key(collection, id)).await? {
        Some(row) => decode(&row.body).map(Some),
        None => Ok(None),
    }
}

async fn all<T: DeserializeOwned>(
    store: &Arc<dyn Store>,
    collection: &str,
) -> Result<Vec<T>, StoreError> {
    let rows = store
        .query(Query::all(SYSTEM_TENANT, collection, ""))
        .await?;
    rows.iter().map(|(row, _)| decode(&row.body)).collect()
}

/// The signing key, if one was created.
pub async fn signing_key(store: &Arc<dyn Store>) -> Result<Option<SigningKey>, StoreError> {
    get(store, KEYS, CURRENT_KEY).await
}

/// Keeps `candidate` unless a key exists already; returns the key in force. The check and the
/// insert are one transaction, so instances starting together agree on one key.
pub async fn ensure_signing_key(
    store: &Arc<dyn Store>,
    candidate: SigningKey,
) -> Result<SigningKey, StoreError> {
    store
        .write(move |tx: &mut dyn WriteTx| {
            let k = key(KEYS, CURRENT_KEY);
            if let Some(row) = tx.get(&k)? {
                return decode(&row.body);
            }
            tx.insert(&k, "complyd.signingKey", &encode(&candidate)?)?;
            Ok(candidate)
        })
        .await
}

/// Registers an app; `Conflict` when the client id is taken.
pub async fn add_app(store: &Arc<dyn Store>, app: Application) -> Result<(), StoreError> {
    let body = encode(&app)?;
    store
        .write(move |tx: &mut dyn WriteTx| {
            tx.insert(&key(APPS, &app.client_id), "complyd.application", &body)
        })
        .await
}

pub async fn app(
    store: &Arc<dyn Store>,
    client_id: &str,
) -> Result<Option<Application>, StoreError> {
    get(store, APPS, client_id).await
}

pub async fn apps(store: &Arc<dyn Store>) -> Result<Vec<Application>, StoreError> {
    all(store, APPS).await
}

/// False when no such app is registered.
pub async fn remove_app(store: &Arc<dyn Store>, client_id: &str) -> Result<bool, StoreError> {
    let k = key(APPS, client_id);
    store
        .write(move |tx: &mut dyn WriteTx| tx.delete_tree(&k))
        .await
}

/// Adds a user; `Conflict` when the tenant has a user of that name.
pub async fn add_user(store: &Arc<dyn Store>, user: User) -> Result<(), StoreError> {
    let body = encode(&user)?;
    let pointer = encode(&serde_json::json!({ "userId": user.id }))?;
    store
        .write(move |tx: &mut dyn WriteTx| {
            let name = user_name_key(&user.tenant, &user.username);
            if tx.get(&name)?.is_some() {
                return Err(StoreError::Conflict);
            }
            tx.insert(&name, "complyd.userName", &pointer)?;
            tx.insert(&key(USERS, &user.id), "complyd.user", &body)
        })
        .await
}

pub async fn user_by_name(
    store: &Arc<dyn Store>,
    tenant: &str,
    username: &str,
) -> Result<Option<User>, StoreError> {
    let Some(row) = store.get(&user_name_key(tenant, username)).await? else {
        return Ok(None);
    };
    let pointer: serde_json::Value = decode(&row.body)?;
    match pointer.get("userId").and_then(|v| v.as_str()) {
        Some(id) => get(store, USERS, id).await,
        None => Ok(None),
    }
}

/// The user with object id `id`, if it can sign in.
pub async fn user(store: &Arc<dyn Store>, id: &str) -> Result<Option<User>, StoreError> {
    get(store, USERS, id).await
}

pub async fn users(store: &Arc<dyn Store>) -> Result<Vec<User>, StoreError> {
    all(store, USERS).await
}

/// Who signs in with `username` and `password`: in `tenant`, or (`None`, a sign-in at
/// `organizations` or `common`) in whichever tenant has a user of that name.
pub async fn sign_in_user(
    store: &Arc<dyn Store>,
    tenant: Option<&str>,
    username: &str,
    password: &str,
) -> Result<SignIn, StoreError> {
    let candidates = match tenant {
        Some(tenant) => user_by_name(store, tenant, username)
            .await?
            .into_iter()
            .collect(),
        // Names are unique per tenant only; every record is read (sign-in records are the
        // users with a password, not a fleet's).
        None => users(store)
            .await?
            .into_iter()
            .filter(|u| u.username.eq_ignore_ascii_case(username))
            .collect::<Vec<_>>(),
    };
    let mut matching = candidates
        .into_iter()
        .filter(|u| verify_secret(&u.password, password));
    Ok(match (matching.next(), matching.next()) {
        (Some(_), Some(_)) => SignIn::Ambiguous,
        (Some(user), None) => SignIn::User(user),
        (None, _) => SignIn::Refused,
    })
}

/// The outcome of [`sign_in_user`].
#[derive(Debug)]
pub enum SignIn {
    User(User),
    /// No such user, or not that password.
    Refused,
    /// The name and password fit users of more than one tenant: the tenant must be named.
    Ambiguous,
}

/// Removes a user by id or by user name; false when there is none.
pub async fn remove_user(store: &Arc<dyn Store>, id_or_name: &str) -> Result<bool, StoreError> {
    let found = users(store)
        .await?
        .into_iter()
        .find(|u| u.id == id_or_name || u.username.eq_ignore_ascii_case(id_or_name));
    let Some(user) = found else {
        return Ok(false);
    };
    store
        .write(move |tx: &mut dyn WriteTx| {
            tx.delete_tree(&user_name_key(&user.tenant, &user.username))?;
            tx.delete_tree(&key(USERS, &user.id))
        })
        .await
}

/// Sets the delegated permissions consented for a user (by id or user name); false when there
/// is none.
pub async fn set_scopes(
    store: &Arc<dyn Store>,
    id_or_name: &str,
    scopes: Vec<String>,
) -> Result<bool, StoreError> {
    let found = users(store)
        .await?
        .into_iter()
        .find(|u| u.id == id_or_name || u.username.eq_ignore_ascii_case(id_or_name));
    let Some(mut user) = found else {
        return Ok(false);
    };
    user.scopes = scopes;
    let body = encode(&user)?;
    store
        .write(move |tx: &mut dyn WriteTx| tx.update(&key(USERS, &user.id), &body))
        .await
}

/// The sign-in records of directory users, kept by the directory inside its own writes: a user
/// created through Graph with a password can sign in with the password grant, as its user
/// principal name; the record follows renames and password changes and goes with the user.
pub mod sign_in {
    use super::*;

    /// The record of user `id`, if it has one.
    pub fn get(tx: &mut dyn WriteTx, id: &str) -> Result<Option<User>, StoreError> {
        match tx.get(&key(USERS, id))? {
            Some(row) => decode(&row.body).map(Some),
            None => Ok(None),
        }
    }

    /// Adds a record; `Conflict` when the tenant has a user of that name.
    pub fn put(tx: &mut dyn WriteTx, user: &User) -> Result<(), StoreError> {
        let name = user_name_key(&user.tenant, &user.username);
        if tx.get(&name)?.is_some() {
            return Err(StoreError::Conflict);
        }
        let pointer = encode(&serde_json::json!({ "userId": user.id }))?;
        tx.insert(&name, "complyd.userName", &pointer)?;
        tx.insert(&key(USERS, &user.id), "complyd.user", &encode(user)?)
    }

    /// Replaces a record (its name, password or scopes); `Conflict` when the new name is taken.
    pub fn replace(tx: &mut dyn WriteTx, old: &User, new: &User) -> Result<(), StoreError> {
        if !old.username.eq_ignore_ascii_case(&new.username) {
            let name = user_name_key(&new.tenant, &new.username);
            if tx.get(&name)?.is_some() {
                return Err(StoreError::Conflict);
            }
            tx.delete_tree(&user_name_key(&old.tenant, &old.username))?;
            let pointer = encode(&serde_json::json!({ "userId": new.id }))?;
            tx.insert(&name, "complyd.userName", &pointer)?;
        }
        tx.update(&key(USERS, &new.id), &encode(new)?)?;
        Ok(())
    }

    /// Removes user `id`'s record, if any.
    pub fn remove(tx: &mut dyn WriteTx, id: &str) -> Result<(), StoreError> {
        if let Some(user) = get(tx, id)? {
            tx.delete_tree(&user_name_key(&user.tenant, &user.username))?;
            tx.delete_tree(&key(USERS, id))?;
        }
        Ok(())
    }
}

/// Whether any app or user is registered in `tenant`.
pub async fn tenant_known(store: &Arc<dyn Store>, tenant: &str) -> Result<bool, StoreError> {
    Ok(apps(store).await?.iter().any(|a| a.tenant == tenant)
        || users(store).await?.iter().any(|u| u.tenant == tenant))
}

/// `sha256$SALT$HASH` (hex), HASH = SHA-256(SALT ‖ secret).
pub fn hash_secret(secret: &str) -> String {
    let salt = uuid::Uuid::new_v4().simple().to_string();
    format!("sha256${salt}${}", digest(&salt, secret))
}

/// Compares in time independent of where the hashes differ.
pub fn verify_secret(stored: &str, given: &str) -> bool {
    let mut parts = stored.splitn(3, '$');
    let (Some("sha256"), Some(salt), Some(hash)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let computed = digest(salt, given);
    hash.len() == computed.len()
        && hash
            .bytes()
            .zip(computed.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn digest(salt: &str, secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(secret.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_verify_only_themselves() {
        let stored = hash_secret("s3cret");
        assert!(verify_secret(&stored, "s3cret"));
        assert!(!verify_secret(&stored, "s3cres"));
        assert!(!verify_secret(&stored, ""));
        assert!(!verify_secret("plain", "plain"));
    }
}

//! What the authorization-code flow hands out and takes back: codes (single use, short-lived)
//! and refresh tokens (rotating), kept in the store beside the registry (reserved tenant
//! `_system`) so that every instance sharing one database honours them.
//!
//! Only SHA-256 digests of the secrets are stored. A code is kept after its redemption, marked,
//! until it expires: a second redemption revokes what the first one gave. A refresh token is
//! `FAMILY.SECRET`; its family keeps the digest of the one current secret, so a rotated-away
//! token presented again revokes the family (it was copied). Expired records are swept a few at
//! a time, oldest first, whenever new ones are written.

use super::registry::SYSTEM_TENANT;
use crate::store::{Key, Store, StoreError, WriteTx};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const CODES: &str = "authorizationCodes";
const FAMILIES: &str = "refreshTokenFamilies";
/// Seconds a code may wait for its redemption.
pub const CODE_LIFETIME: i64 = 300;
/// Seconds a refresh token lives unused; each use gives a new one with a new lifetime.
pub const REFRESH_IDLE_LIFETIME: i64 = 24 * 3600;
/// Seconds a family of refresh tokens lives at most from its sign-in.
pub const REFRESH_MAX_LIFETIME: i64 = 90 * 24 * 3600;
/// Expired records looked at per write that adds one.
const SWEEP: usize = 16;

/// What a code was issued for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeGrant {
    pub client_id: String,
    pub tenant: String,
    pub user_id: String,
    pub redirect_uri: String,
    /// The PKCE challenge (S256): base64url of SHA-256 of the verifier.
    pub challenge: String,
    /// Graph scopes granted.
    pub scopes: Vec<String>,
    /// OpenID Connect scopes asked for (`openid`, `offline_access`, …).
    pub oidc: Vec<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    pub expires: i64,
    /// The refresh-token family its redemption started, once redeemed.
    #[serde(default)]
    pub redeemed: Option<String>,
}

/// A sign-in's refresh tokens: who, for which client, with which scopes, and the digest of the
/// one token that may be used now.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Family {
    pub id: String,
    pub client_id: String,
    pub tenant: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub oidc: Vec<String>,
    pub current: String,
    pub expires: i64,
    pub ends: i64,
}

/// Why a code or refresh token was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown, or expired.
    Unknown,
    /// Used before: what it gave is revoked now.
    Replayed,
    /// Issued to another client: left as it was.
    OtherClient,
}

fn key(collection: &str, id: &str) -> Key {
    Key {
        tenant: SYSTEM_TENANT.to_string(),
        collection: collection.to_string(),
        parent: String::new(),
        id: id.to_string(),
    }
}

/// 32 random bytes, base64url.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256 of `secret`: what is stored in its place.
fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The PKCE S256 transformation of a verifier.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Equal strings, compared in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn decode<T: DeserializeOwned>(body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Backend(format!("grant record: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()))
}

fn read<T: DeserializeOwned>(tx: &mut dyn WriteTx, key: &Key) -> Result<Option<T>, StoreError> {
    tx.get(key)?.map(|row| decode(&row.body)).transpose()
}

/// Deletes the oldest records of `collection` that have expired (each body has `expires`).
fn sweep(tx: &mut dyn WriteTx, collection: &str, now: i64) -> Result<(), StoreError> {
    for row in tx.members(SYSTEM_TENANT, collection, "", SWEEP)? {
        let expires = serde_json::from_str::<serde_json::Value>(&row.body)
            .ok()
            .and_then(|v| v.get("expires").and_then(serde_json::Value::as_i64))
            .unwrap_or(0);
        if expires <= now {
            tx.delete_tree(&row.key)?;
        }
    }
    Ok(())
}

/// Keeps `grant` and answers its code.
pub async fn issue_code(
    store: &Arc<dyn Store>,
    grant: CodeGrant,
    now: i64,
) -> Result<String, StoreError> {
    let code = random_secret();
    let k = key(CODES, &digest(&code));
    let body = encode(&grant)?;
    store
        .write(move |tx: &mut dyn WriteTx| {
            sweep(tx, CODES, now)?;
            tx.insert(&k, "complyd.authorizationCode", &body)
        })
        .await?;
    Ok(code)
}

/// Takes `code` for its one redemption, which starts refresh-token family `family`. A code
/// redeemed before revokes the family its first redemption started.
pub async fn redeem_code(
    store: &Arc<dyn Store>,
    code: &str,
    family: &str,
    now: i64,
) -> Result<Result<CodeGrant, Refusal>, StoreError> {
    let k = key(CODES, &digest(code));
    let family = family.to_string();
    store
        .write(move |tx: &mut dyn WriteTx| {
            let Some(mut grant) = read::<CodeGrant>(tx, &k)? else {
                return Ok(Err(Refusal::Unknown));
            };
            if let Some(first) = &grant.redeemed {
                tx.delete_tree(&key(FAMILIES, first))?;
                return Ok(Err(Refusal::Replayed));
            }
            if grant.expires <= now {
                tx.delete_tree(&k)?;
                return Ok(Err(Refusal::Unknown));
            }
            grant.redeemed = Some(family);
            tx.update(&k, &encode(&grant)?)?;
            Ok(Ok(grant))
        })
        .await
}

/// A new family for a redeemed code; answers its first refresh token.
pub async fn start_family(
    store: &Arc<dyn Store>,
    id: &str,
    grant: &CodeGrant,
    now: i64,
) -> Result<String, StoreError> {
    let secret = random_secret();
    let family = Family {
        id: id.to_string(),
        client_id: grant.client_id.clone(),
        tenant: grant.tenant.clone(),
        user_id: grant.user_id.clone(),
        scopes: grant.scopes.clone(),
        oidc: grant.oidc.clone(),
        current: digest(&secret),
        expires: now + REFRESH_IDLE_LIFETIME,
        ends: now + REFRESH_MAX_LIFETIME,
    };
    let k = key(FAMILIES, id);
    let body = encode(&family)?;
    store
        .write(move |tx: &mut dyn WriteTx| {
            sweep(tx, FAMILIES, now)?;
            tx.insert(&k, "complyd.refreshTokenFamily", &body)
        })
        .await?;
    Ok(format!("{id}.{secret}"))
}

fn split(token: &str) -> Option<(&str, &str)> {
    let (family, secret) = token.split_once('.')?;
    let fits = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (fits(family) && fits(secret)).then_some((family, secret))
}

/// Takes `token` (of `client_id`'s) and gives the family's next one (rotation), with the
/// family as it stands. The family moves to the end of the table (deleted and written again),
/// so that the oldest rows are the first to expire.
pub async fn rotate(
    store: &Arc<dyn Store>,
    token: &str,
    client_id: &str,
    now: i64,
) -> Result<Result<(Family, String), Refusal>, StoreError> {
    let Some((id, secret)) = split(token) else {
        return Ok(Err(Refusal::Unknown));
    };
    let k = key(FAMILIES, id);
    let given = digest(secret);
    let next = random_secret();
    let next_digest = digest(&next);
    let client_id = client_id.to_string();
    store
        .write(move |tx: &mut dyn WriteTx| {
            let Some(mut family) = read::<Family>(tx, &k)? else {
                return Ok(Err(Refusal::Unknown));
            };
            if family.client_id != client_id {
                return Ok(Err(Refusal::OtherClient));
            }
            if family.expires <= now || family.ends <= now {
                tx.delete_tree(&k)?;
                return Ok(Err(Refusal::Unknown));
            }
            if !same(&family.current, &given) {
                tx.delete_tree(&k)?;
                return Ok(Err(Refusal::Replayed));
            }
            family.current = next_digest;
            family.expires = (now + REFRESH_IDLE_LIFETIME).min(family.ends);
            tx.delete_tree(&k)?;
            sweep(tx, FAMILIES, now)?;
            tx.insert(&k, "complyd.refreshTokenFamily", &encode(&family)?)?;
            let token = format!("{}.{next}", family.id);
            Ok(Ok((family, token)))
        })
        .await
}

/// Revokes the family of `token` if it is the family's current token and `client_id`'s;
/// answers whether it did.
pub async fn revoke(
    store: &Arc<dyn Store>,
    token: &str,
    client_id: &str,
) -> Result<bool, StoreError> {
    let Some((id, secret)) = split(token) else {
        return Ok(false);
    };
    let k = key(FAMILIES, id);
    let given = digest(secret);
    let client_id = client_id.to_string();
    store
        .write(move |tx: &mut dyn WriteTx| {
            let Some(family) = read::<Family>(tx, &k)? else {
                return Ok(false);
            };
            if family.client_id != client_id || !same(&family.current, &given) {
                return Ok(false);
            }
            tx.delete_tree(&k)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_is_base64url_of_sha256_without_padding() {
        // Computed apart: base64.urlsafe_b64encode(hashlib.sha256(v).digest()) in Python.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWjOEjXk"),
            "VYFANLqdx_HDV6BqEhluZJ63rtrIPROSSFdB3P6G83I"
        );
    }

    #[test]
    fn refresh_tokens_split_into_family_and_secret_only_when_well_formed() {
        assert_eq!(split("abc.def"), Some(("abc", "def")));
        for bad in [
            "abc",
            ".def",
            "abc.",
            "a.b.c",
            "a b.c",
            &format!("{}.x", "a".repeat(65)),
        ] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }

    #[test]
    fn secrets_are_random_and_compare_exactly() {
        let (a, b) = (random_secret(), random_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same("ab", "abc"));
    }
}

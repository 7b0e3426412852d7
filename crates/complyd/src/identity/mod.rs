//! An offline Entra-style token service on complyd's own listener: OpenID discovery, the JWKS,
//! the token endpoint (client credentials with a secret or a certificate assertion, and the
//! password grant) and instance discovery. Tokens are RS256 with Graph's v1.0 claim layout.

pub mod cert;
mod endpoints;
pub mod registry;

pub use endpoints::routes;

use crate::store::{Store, StoreError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use registry::SigningKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Lifetime of issued access tokens, in seconds.
pub const TOKEN_LIFETIME: i64 = 3599;
const KEY_BITS: usize = 2048;

/// The signing key in force, ready to sign and to verify.
pub struct ActiveKey {
    pub kid: String,
    encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// Modulus and exponent, base64url, for the JWKS.
    n: String,
    e: String,
}

impl ActiveKey {
    fn from_stored(stored: &SigningKey) -> Result<Self, StoreError> {
        let bad = |e: String| StoreError::Backend(format!("stored signing key: {e}"));
        let der = base64::engine::general_purpose::STANDARD
            .decode(&stored.private_key)
            .map_err(|e| bad(e.to_string()))?;
        let private = RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| bad(e.to_string()))?;
        let (n, e) = (private.n().to_bytes_be(), private.e().to_bytes_be());
        Ok(Self {
            kid: stored.kid.clone(),
            encoding: EncodingKey::from_rsa_der(&der),
            decoding: DecodingKey::from_rsa_raw_components(&n, &e),
            n: URL_SAFE_NO_PAD.encode(&n),
            e: URL_SAFE_NO_PAD.encode(&e),
        })
    }

    /// This key as a JWK, the way Entra publishes its keys.
    pub fn jwk(&self, issuer: &str) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
            "alg": "RS256",
            "issuer": issuer,
        })
    }

    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.x5t = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }
}

/// A fresh 2048-bit key; its `kid` is derived from the public key.
fn generate() -> Result<SigningKey, StoreError> {
    let failed = |e: String| StoreError::Backend(format!("generating the signing key: {e}"));
    let private =
        RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS).map_err(|e| failed(e.to_string()))?;
    let der = private.to_pkcs1_der().map_err(|e| failed(e.to_string()))?;
    let mut hasher = Sha256::new();
    hasher.update(private.n().to_bytes_be());
    hasher.update(private.e().to_bytes_be());
    let digest = hasher.finalize();
    Ok(SigningKey {
        kid: URL_SAFE_NO_PAD.encode(&digest[..20]),
        private_key: base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
        created: crate::auth::now_unix(),
    })
}

/// The token service's state: the store that holds its registry, and the key once known.
pub struct Identity {
    pub store: Arc<dyn Store>,
    key: tokio::sync::OnceCell<Arc<ActiveKey>>,
}

impl Identity {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            key: tokio::sync::OnceCell::new(),
        }
    }

    /// The key tokens are signed with: the stored one, or a new one kept on first use (lazily, so
    /// that a server nobody asks for a token never spends the key generation).
    pub async fn signing_key(&self) -> Result<Arc<ActiveKey>, StoreError> {
        self.key
            .get_or_try_init(|| async {
                if let Some(stored) = registry::signing_key(&self.store).await? {
                    return ActiveKey::from_stored(&stored).map(Arc::new);
                }
                let candidate = tokio::task::spawn_blocking(generate)
                    .await
                    .map_err(|e| StoreError::Backend(e.to_string()))??;
                let kept = registry::ensure_signing_key(&self.store, candidate).await?;
                ActiveKey::from_stored(&kept).map(Arc::new)
            })
            .await
            .cloned()
    }

    /// The key named `kid` if this service signs with it. Never creates a key.
    pub async fn verification_key(&self, kid: &str) -> Result<Option<Arc<ActiveKey>>, StoreError> {
        let active = match self.key.get() {
            Some(key) => key.clone(),
            None => match registry::signing_key(&self.store).await? {
                Some(stored) => {
                    let key = Arc::new(ActiveKey::from_stored(&stored)?);
                    let _ = self.key.set(key.clone());
                    key
                }
                None => return Ok(None),
            },
        };
        Ok((active.kid == kid).then_some(active))
    }
}

/// The issuer of the access tokens complyd issues for Graph (v1.0 format, as Graph receives them).
pub fn access_token_issuer(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

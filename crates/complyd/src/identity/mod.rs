//! An offline Entra-style token service on complyd's own listener: OpenID discovery, the JWKS,
//! the token endpoint (client credentials with a secret or a certificate assertion, and the
//! password grant) and instance discovery. Tokens are RS256 with Graph's v1.0 claim layout.
//!
//! Its state is [`Identity`] (the store with its registry, and the signing key); `http` parses a
//! request's path into an [`Endpoint`] and hands it to [`Identity::answer`]. Nothing here knows
//! the Graph side of the server; `auth` sees only the keys, through [`VerificationKeys`].

pub mod cert;
mod client_auth;
mod discovery;
mod endpoint;
mod keys;
mod oauth_error;
pub mod registry;
mod token;

pub use endpoint::{Answer, Asked, Endpoint};
pub use keys::ActiveKey;

use crate::common::{KeyLookupError, VerificationKeys};
use crate::store::{Store, StoreError};
use futures_util::future::BoxFuture;
use jsonwebtoken::DecodingKey;
use std::sync::Arc;

/// Lifetime of issued access tokens, in seconds.
pub const TOKEN_LIFETIME: i64 = 3599;

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
                let candidate = tokio::task::spawn_blocking(keys::generate)
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

impl VerificationKeys for Identity {
    fn key<'a>(
        &'a self,
        kid: &'a str,
    ) -> BoxFuture<'a, Result<Option<DecodingKey>, KeyLookupError>> {
        Box::pin(async move {
            let key = self.verification_key(kid).await?;
            Ok(key.map(|k| k.decoding.clone()))
        })
    }
}

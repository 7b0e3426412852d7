//! An offline Entra-style token service on complyd's own listener: OpenID discovery, the JWKS,
//! the token endpoint (client credentials with a secret or a certificate assertion, the
//! password grant, authorization codes with PKCE and rotating refresh tokens), the
//! authorization endpoint's sign-in page (`authorize`), revocation and instance discovery.
//! Tokens are RS256 with Graph's v1.0 claim layout.
//!
//! Its state is [`Identity`] (the store with its registry, and the signing key); `http` parses a
//! request's path into an [`Endpoint`] and hands it to [`Identity::answer`]. Nothing here knows
//! the Graph side of the server; `auth` sees only the keys, through [`VerificationKeys`].

mod authorize;
pub mod cert;
mod client_auth;
mod code_grant;
mod delegated;
mod discovery;
mod endpoint;
pub mod grants;
mod keys;
mod oauth_error;
pub mod registry;
mod scopes;
mod signin_page;
mod token;

pub use endpoint::{Answer, Asked, Content, Endpoint};
pub use keys::ActiveKey;

use crate::common::{KeyLookupError, VerificationKeys};
use crate::store::{Store, StoreError};
use futures_util::future::BoxFuture;
use jsonwebtoken::DecodingKey;
use std::sync::Arc;

/// Lifetime of issued access tokens, in seconds.
pub const TOKEN_LIFETIME: i64 = 3599;

/// The client id of complyd's console (`complyd serve --console`): a public client known in
/// every tenant, whose codes go only to the console's own callback.
pub const CONSOLE_CLIENT_ID: &str = "c0a501e0-0000-4000-8000-00000000c0a5";
/// Its display name (`app_displayname`, the sign-in page).
pub const CONSOLE_NAME: &str = "complyd console";

/// The token service's state: the store that holds its registry, the key once known, and the
/// console's redirect URIs once it listens.
pub struct Identity {
    pub store: Arc<dyn Store>,
    key: tokio::sync::OnceCell<Arc<ActiveKey>>,
    console_redirects: std::sync::OnceLock<Vec<String>>,
}

impl Identity {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            key: tokio::sync::OnceCell::new(),
            console_redirects: std::sync::OnceLock::new(),
        }
    }

    /// Makes the console's client known, with the callbacks its listener answers (once: a
    /// server has one console).
    pub fn register_console(&self, redirect_uris: Vec<String>) {
        let _ = self.console_redirects.set(redirect_uris);
    }

    /// The client `client_id` as `tenant` knows it: an app registered there, or the console's
    /// own client while a console listens.
    pub(crate) async fn client(
        &self,
        client_id: &str,
        tenant: &str,
    ) -> Result<Option<registry::Application>, StoreError> {
        if client_id == CONSOLE_CLIENT_ID {
            return Ok(self
                .console_redirects
                .get()
                .map(|uris| registry::Application {
                    client_id: CONSOLE_CLIENT_ID.to_string(),
                    tenant: tenant.to_string(),
                    name: CONSOLE_NAME.to_string(),
                    object_id: CONSOLE_CLIENT_ID.to_string(),
                    secrets: Vec::new(),
                    certificates: Vec::new(),
                    roles: Vec::new(),
                    redirect_uris: uris.clone(),
                    created: 0,
                }));
        }
        Ok(registry::app(&self.store, client_id)
            .await?
            .filter(|a| a.tenant == tenant))
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

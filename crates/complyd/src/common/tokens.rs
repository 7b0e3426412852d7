//! Graph's access tokens as both sides see them: the audiences Graph accepts, the issuer of the
//! tokens complyd's token service signs, and the lookup of that service's verification keys.

use futures_util::future::BoxFuture;
use jsonwebtoken::DecodingKey;

/// The audiences Graph accepts: its URL and its application id.
pub const AUDIENCES: [&str; 2] = [
    "https://graph.microsoft.com",
    "00000003-0000-0000-c000-000000000000",
];

/// Graph's own host name.
pub const GRAPH_HOST: &str = "graph.microsoft.com";

/// The names Microsoft's sign-in (Entra ID, public cloud) answers on, which MSAL and
/// azure-identity treat as one authority: login.microsoftonline.com first.
pub const SIGN_IN_HOSTS: [&str; 4] = [
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoft.com",
    "sts.windows.net",
];

/// The issuer of the access tokens complyd issues for Graph (v1.0 format, as Graph receives them).
pub fn access_token_issuer(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

/// Why a key could not be looked up (the store did not answer, a stored key is unreadable).
pub type KeyLookupError = Box<dyn std::error::Error + Send + Sync>;

/// The RS256 public keys of complyd's own token service, by `kid`. `auth` verifies with it and
/// `identity` implements it, so that checking a token needs no token service.
pub trait VerificationKeys: Send + Sync {
    /// The key named `kid`, if the service signs with it. Never creates a key.
    fn key<'a>(
        &'a self,
        kid: &'a str,
    ) -> BoxFuture<'a, Result<Option<DecodingKey>, KeyLookupError>>;
}

//! Bearer tokens: validation into a `Principal`, permission checks, and minting dev tokens.
//! Tokens carry the claims Graph relies on (`aud`, `tid`, `scp`/`roles`, ...): HS256 with the dev
//! secret, RS256 from complyd's own token service, or signed by an issuer the operator trusts.

pub mod issuers;
mod secret;

pub use issuers::{TrustedIssuer, TrustedIssuerConfig};
pub use secret::{load_or_create_secret, load_or_create_shared_secret};

use crate::common::{access_token_issuer, now_unix, VerificationKeys, AUDIENCES};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use jsonwebtoken::{
    errors::ErrorKind as JwtErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use odata::edm::Permissions;
use serde::{Deserialize, Serialize};

/// The tenant of personal Microsoft accounts, which Intune does not serve.
pub const PERSONAL_ACCOUNT_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// The tenant `complyd token` uses when none is given.
pub const DEFAULT_TENANT: &str = "5e1b4d9a-0c2f-4e7b-9a51-c0a1d7f3b001";
/// The client id of tokens minted by `complyd token`.
pub const DEV_APP_ID: &str = "c0c0c0c0-1d0e-4a2b-8f00-00000000c0de";
/// Their `app_displayname`: Entra names the app in every access token, and a write's audit
/// event takes the name from there.
pub const DEV_APP_NAME: &str = "complyd token";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub aud: String,
    #[serde(default)]
    pub iss: String,
    pub tid: String,
    #[serde(default)]
    pub oid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// The client id in v2.0 tokens (v1.0 tokens carry `appid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idtyp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    #[serde(default)]
    pub ver: String,
    /// The signed-in user's name (delegated v1.0 tokens carry `upn`, some only `unique_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_name: Option<String>,
    /// The calling app's display name, as Entra writes it into access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_displayname: Option<String>,
}

/// Who is calling, as far as authorisation (and the audit log) cares.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    pub tenant: String,
    /// The calling application (`appid`, or `azp` in v2.0 tokens), for per-app throttling.
    pub app_id: Option<String>,
    pub app_only: bool,
    pub permissions: Vec<String>,
    /// `oid`: the user, or the app's service principal.
    pub object_id: Option<String>,
    /// `upn`, else `unique_name` (delegated tokens).
    pub user_principal_name: Option<String>,
    /// `app_displayname`.
    pub app_display_name: Option<String>,
}

/// Why a token was refused (401) or a caller turned away (403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    Unauthenticated(String),
    Forbidden(String),
}

/// Default clock leeway on `exp`/`nbf`, seconds (`--token-leeway`).
pub const DEFAULT_LEEWAY: u64 = 30;

/// The claims read before the signature is checked, to pick the key.
#[derive(Deserialize)]
struct Unverified {
    #[serde(default)]
    iss: String,
    #[serde(default)]
    tid: String,
}

/// How many verified tokens are remembered; past it the memory starts afresh.
const VERIFIED_LIMIT: usize = 4096;

/// A token whose signature and claims have been checked, kept until its lifetime ends.
struct Verified {
    principal: Arc<Principal>,
    nbf: i64,
    exp: i64,
}

pub struct Authenticator {
    key: DecodingKey,
    /// Verified tokens by their exact text: a client sends the same token with every request,
    /// and checking a signature and parsing claims cost more than a lookup by key. A hit still
    /// checks the lifetime.
    verified: Mutex<HashMap<String, Verified, BuildHasherDefault<SignatureTail>>>,
    leeway: u64,
    /// The keys of complyd's own token service (RS256).
    own_keys: Option<Arc<dyn VerificationKeys>>,
    trusted: Vec<TrustedIssuer>,
}

impl Authenticator {
    /// HS256 tokens signed with `secret` only.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: DecodingKey::from_secret(secret),
            verified: Mutex::new(HashMap::default()),
            leeway: DEFAULT_LEEWAY,
            own_keys: None,
            trusted: Vec::new(),
        }
    }

    /// Also RS256 tokens of complyd's own token service, verified with its keys.
    pub fn with_own_keys(mut self, keys: Arc<dyn VerificationKeys>) -> Self {
        self.own_keys = Some(keys);
        self
    }

    /// Also tokens of these issuers.
    pub fn with_trusted(mut self, trusted: Vec<TrustedIssuer>) -> Self {
        self.trusted = trusted;
        self
    }

    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    fn validation(&self, alg: Algorithm, issuer: Option<&str>) -> Validation {
        let mut validation = Validation::new(alg);
        validation.set_audience(&AUDIENCES);
        // A token verified with an issuer's key must name that issuer: without `iss` in the
        // required claims, the library would skip the issuer check for a token that has none.
        match issuer {
            Some(issuer) => {
                validation.set_required_spec_claims(&["exp", "aud", "iss"]);
                validation.set_issuer(&[issuer]);
            }
            None => validation.set_required_spec_claims(&["exp", "aud"]),
        }
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        validation
    }

    /// The key and the checks for a token signed with a public key: complyd's own (by `kid`,
    /// RS256 only, issuer `https://sts.windows.net/{tid}/`), else a trusted issuer's (by `iss`,
    /// then `kid`).
    async fn public_key(
        &self,
        token: &str,
        header: &Header,
    ) -> Result<(DecodingKey, Validation), AuthError> {
        let unauthenticated = |m: &str| AuthError::Unauthenticated(m.to_string());
        let not_allowed = || {
            unauthenticated(
                "Access token validation failure. The signing algorithm is not allowed for this key.",
            )
        };
        let kid = header.kid.as_deref().unwrap_or("");
        let claims = jsonwebtoken::dangerous::insecure_decode::<Unverified>(token)
            .map_err(|_| unauthenticated("CompactToken parsing failed with error code: 80049217"))?
            .claims;
        if let Some(own_keys) = &self.own_keys {
            let own = own_keys.key(kid).await.map_err(|e| {
                tracing::error!(error = %e, "loading the signing key");
                unauthenticated("Access token validation failure.")
            })?;
            if let Some(key) = own {
                if header.alg != Algorithm::RS256 {
                    return Err(not_allowed());
                }
                let issuer = access_token_issuer(&claims.tid);
                return Ok((key, self.validation(Algorithm::RS256, Some(&issuer))));
            }
        }
        for trusted in self
            .trusted
            .iter()
            .filter(|t| t.matches(&claims.iss, &claims.tid))
        {
            if let Some(cached) = trusted.key(kid).await {
                if !cached.algorithms.contains(&header.alg) {
                    return Err(not_allowed());
                }
                return Ok((cached.key, self.validation(header.alg, Some(&claims.iss))));
            }
        }
        if self
            .trusted
            .iter()
            .any(|t| t.matches(&claims.iss, &claims.tid))
        {
            return Err(unauthenticated(
                "Access token validation failure. The signing key was not found.",
            ));
        }
        Err(unauthenticated(
            "Access token validation failure. Invalid issuer.",
        ))
    }

    /// The `Authorization` header's value (if any) to a principal.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Arc<Principal>, AuthError> {
        let unauthenticated = |m: &str| AuthError::Unauthenticated(m.to_string());
        let raw = authorization.map(str::trim).unwrap_or("");
        let token = match raw.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ if raw.is_empty() => "",
            _ => {
                return Err(unauthenticated(
                    "CompactToken parsing failed with error code: 80049217",
                ))
            }
        };
        if token.is_empty() {
            return Err(unauthenticated("Access token is empty."));
        }
        if let Some(principal) = self.remembered(token) {
            return Ok(principal);
        }
        let verified = Box::pin(self.verify(token)).await?;
        let principal = verified.principal.clone();
        if let Ok(mut memory) = self.verified.lock() {
            if memory.len() >= VERIFIED_LIMIT {
                memory.clear();
            }
            memory.insert(token.to_string(), verified);
        }
        Ok(principal)
    }

    /// The principal of a token verified before, while its lifetime (with the leeway) lasts.
    fn remembered(&self, token: &str) -> Option<Arc<Principal>> {
        let now = now_unix();
        let leeway = self.leeway as i64;
        let memory = self.verified.lock().ok()?;
        let known = memory.get(token)?;
        (known.exp >= now - leeway && known.nbf <= now + leeway).then(|| known.principal.clone())
    }

    /// Checks a token's signature and claims.
    async fn verify(&self, token: &str) -> Result<Verified, AuthError> {
        let unauthenticated = |m: &str| AuthError::Unauthenticated(m.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            unauthenticated("CompactToken parsing failed with error code: 80049217")
        })?;
        let (key, validation) = match header.alg {
            Algorithm::HS256 => (self.key.clone(), self.validation(Algorithm::HS256, None)),
            _ => self.public_key(token, &header).await?,
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(
            |e| match e.kind() {
                JwtErrorKind::InvalidToken
                | JwtErrorKind::Base64(_)
                | JwtErrorKind::Json(_)
                | JwtErrorKind::Utf8(_) => {
                    unauthenticated("CompactToken parsing failed with error code: 80049217")
                }
                JwtErrorKind::InvalidAudience => {
                    unauthenticated("Access token validation failure. Invalid audience.")
                }
                JwtErrorKind::ExpiredSignature => {
                    unauthenticated("Lifetime validation failed, the token is expired.")
                }
                JwtErrorKind::ImmatureSignature => {
                    unauthenticated("Lifetime validation failed, the token is not yet valid.")
                }
                JwtErrorKind::InvalidIssuer => {
                    unauthenticated("Access token validation failure. Invalid issuer.")
                }
                JwtErrorKind::MissingRequiredClaim(claim) if claim == "iss" => {
                    unauthenticated("Access token validation failure. Invalid issuer.")
                }
                JwtErrorKind::InvalidSignature => {
                    unauthenticated("Access token validation failure. Invalid signature.")
                }
                JwtErrorKind::InvalidAlgorithm => unauthenticated(
                    "Access token validation failure. The signing algorithm is not allowed for this key.",
                ),
                _ => unauthenticated("Access token validation failure."),
            },
        )?;
        let claims = data.claims;
        if claims.tid.is_empty() {
            return Err(unauthenticated(
                "Access token validation failure. The token names no tenant (tid).",
            ));
        }
        let app_only = claims.idtyp.as_deref() == Some("app")
            || (claims.idtyp.is_none() && claims.scp.is_none());
        let permissions = if app_only {
            claims.roles
        } else {
            claims
                .scp
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        Ok(Verified {
            principal: Arc::new(Principal {
                tenant: claims.tid,
                app_id: claims.appid.or(claims.azp),
                app_only,
                permissions,
                object_id: Some(claims.oid).filter(|o| !o.is_empty()),
                user_principal_name: claims.upn.or(claims.unique_name),
                app_display_name: claims.app_displayname,
            }),
            nbf: claims.nbf,
            exp: claims.exp,
        })
    }
}

/// Hashes a remembered token by its last bytes, its signature's: they differ from token to
/// token, and hashing a whole token (a kilobyte) costs more than the rest of the lookup. Only
/// verified tokens are stored, so nobody can fill a bucket with tokens that share a tail.
#[derive(Default)]
struct SignatureTail(u64);

impl Hasher for SignatureTail {
    fn write(&mut self, bytes: &[u8]) {
        let tail = &bytes[bytes.len().saturating_sub(16)..];
        let mut hash = self.0 ^ crate::common::fnv1a_parts(&[tail]);
        hash ^= bytes.len() as u64;
        self.0 = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Principal {
    /// Admits the caller when it holds any one of the permissions the operation accepts.
    pub fn authorize(&self, permissions: &Permissions, write: bool) -> Result<(), AuthError> {
        if self.tenant == PERSONAL_ACCOUNT_TENANT {
            return Err(AuthError::Forbidden(
                "Personal Microsoft accounts are not supported for this API.".to_string(),
            ));
        }
        let accepted = if write {
            &permissions.write
        } else {
            &permissions.read
        };
        if accepted
            .iter()
            .any(|p| self.permissions.iter().any(|h| h == p))
        {
            return Ok(());
        }
        let (who, kind) = if self.app_only {
            ("Application", "roles")
        } else {
            ("User", "scopes")
        };
        Err(AuthError::Forbidden(format!(
            "{who} is not authorized to perform this operation. {who} must have one of the following {kind}: {}",
            accepted.join(", ")
        )))
    }
}

/// What `complyd token` and the tests ask for.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub tenant: String,
    pub permissions: Vec<String>,
    pub app_only: bool,
    pub lifetime_seconds: i64,
}

impl TokenRequest {
    pub fn delegated(tenant: &str, scopes: &[&str]) -> Self {
        Self {
            tenant: tenant.to_string(),
            permissions: scopes.iter().map(|s| s.to_string()).collect(),
            app_only: false,
            lifetime_seconds: 3600,
        }
    }
}

/// An HS256 token with Graph's claim layout.
pub fn mint(secret: &[u8], req: &TokenRequest) -> Result<String, jsonwebtoken::errors::Error> {
    let now = now_unix();
    let claims = Claims {
        aud: AUDIENCES[0].to_string(),
        iss: access_token_issuer(&req.tenant),
        tid: req.tenant.clone(),
        oid: uuid::Uuid::new_v4().to_string(),
        appid: Some(DEV_APP_ID.to_string()),
        azp: None,
        idtyp: Some(if req.app_only { "app" } else { "user" }.to_string()),
        scp: (!req.app_only).then(|| req.permissions.join(" ")),
        roles: if req.app_only {
            req.permissions.clone()
        } else {
            Vec::new()
        },
        iat: now,
        nbf: now,
        exp: now + req.lifetime_seconds,
        ver: "1.0".to_string(),
        upn: None,
        unique_name: None,
        app_displayname: Some(DEV_APP_NAME.to_string()),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

/// Encodes arbitrary claims (tests use it for wrong audiences, missing tenants, ...).
pub fn mint_claims(
    secret: &[u8],
    claims: &serde_json::Value,
) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
}

//! Delegated tokens: what a user's sign-in gives an app (the password grant, a redeemed code, a
//! refresh): an access token with the user's granted scopes and, when `openid` was asked for,
//! an ID token.

use super::discovery::v2_issuer;
use super::oauth_error::{signing_failure, store_failure, OAuthError};
use super::{registry, Identity, TOKEN_LIFETIME};
use crate::common::{access_token_issuer, AUDIENCES};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

/// Who and what a delegated token is for.
pub(super) struct Delegation<'a> {
    pub tenant: &'a str,
    pub app: &'a registry::Application,
    pub user: &'a registry::User,
    /// Graph scopes granted (`scp`).
    pub granted: &'a [String],
    /// OpenID Connect scopes asked for; `openid` adds an ID token.
    pub oidc: &'a [String],
    pub nonce: Option<&'a str>,
    /// `appidacr`: 0 public client, 1 secret, 2 certificate.
    pub acr: &'static str,
    pub now: i64,
}

/// The signed tokens and what the token response says about them.
pub(super) struct Signed {
    pub access_token: String,
    pub id_token: Option<String>,
    /// The `scope` of the response: the granted Graph scopes as URLs, then the OIDC words.
    pub scope: String,
    /// MSAL's `client_info`: the user's and tenant's ids.
    pub client_info: String,
}

/// The claims every access token of `tenant` carries.
pub(super) fn base_claims(tenant: &str, now: i64) -> Map<String, Value> {
    let issuer = access_token_issuer(tenant);
    let claims = json!({
        "aud": AUDIENCES[0],
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME,
        "idp": issuer,
        "tid": tenant,
        "uti": URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()),
        "ver": "1.0",
    });
    match claims {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Delegation<'_> {
    /// The user's pairwise subject for this app.
    fn subject(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{}:{}", self.user.id, self.app.client_id));
        URL_SAFE_NO_PAD.encode(&digest[..32])
    }

    pub(super) async fn sign(&self, identity: &Identity) -> Result<Signed, OAuthError> {
        let (app, user) = (self.app, self.user);
        let subject = self.subject();
        let mut claims = base_claims(self.tenant, self.now);
        claims.insert("acr".into(), json!("1"));
        claims.insert("amr".into(), json!(["pwd"]));
        claims.insert("app_displayname".into(), json!(app.name));
        claims.insert("appid".into(), json!(app.client_id));
        claims.insert("appidacr".into(), json!(self.acr));
        claims.insert("idtyp".into(), json!("user"));
        claims.insert("name".into(), json!(user.username));
        claims.insert("oid".into(), json!(user.id));
        claims.insert("scp".into(), json!(self.granted.join(" ")));
        claims.insert("sub".into(), json!(subject));
        claims.insert("unique_name".into(), json!(user.username));
        claims.insert("upn".into(), json!(user.username));
        let key = identity.signing_key().await.map_err(store_failure)?;
        let access_token = key.sign(&Value::Object(claims)).map_err(signing_failure)?;
        let id_token = if self.oidc.iter().any(|s| s == "openid") {
            Some(
                key.sign(&self.id_claims(&subject))
                    .map_err(signing_failure)?,
            )
        } else {
            None
        };
        let scope = self
            .granted
            .iter()
            .map(|s| format!("{}/{s}", AUDIENCES[0]))
            .chain(self.oidc.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let client_info =
            URL_SAFE_NO_PAD.encode(json!({ "uid": user.id, "utid": self.tenant }).to_string());
        Ok(Signed {
            access_token,
            id_token,
            scope,
            client_info,
        })
    }

    /// The OpenID Connect ID token's claims (v2.0), for the app as audience.
    fn id_claims(&self, subject: &str) -> Value {
        let mut claims = json!({
            "aud": self.app.client_id,
            "iss": v2_issuer(self.tenant),
            "iat": self.now,
            "nbf": self.now,
            "exp": self.now + TOKEN_LIFETIME,
            "name": self.user.username,
            "oid": self.user.id,
            "preferred_username": self.user.username,
            "sub": subject,
            "tid": self.tenant,
            "ver": "2.0",
        });
        if let (Some(nonce), Value::Object(map)) = (self.nonce, &mut claims) {
            map.insert("nonce".into(), json!(nonce));
        }
        claims
    }
}

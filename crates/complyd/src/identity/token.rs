//! The token endpoint: the grants (`client_credentials`, `password`), the resource and scopes
//! asked for, and the tokens with Graph's v1.0 claims.

use super::client_auth::Proof;
use super::discovery::v2_issuer;
use super::oauth_error::{missing, oauth, signing_failure, store_failure, OAuthError};
use super::{registry, Answer, Asked, Identity, TOKEN_LIFETIME};
use crate::common::{access_token_issuer, now_unix, AUDIENCES};
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Scopes of OpenID Connect itself, never Graph permissions.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// Answers a token request to `tenant`'s endpoint (v1 takes `resource=`, v2.0 `scope=`).
pub(super) async fn answer(
    identity: &Identity,
    asked: &Asked<'_>,
    tenant: &str,
    v1: bool,
) -> Answer {
    let call = TokenCall {
        identity,
        tenant,
        origin: asked.origin,
        params: form_urlencoded::parse(asked.form).into_owned().collect(),
        v1,
    };
    match call.answer().await {
        Ok(body) => Answer {
            status: StatusCode::OK,
            body: Some(body),
            headers: &[
                ("cache-control", "no-store, no-cache"),
                ("pragma", "no-cache"),
            ],
        },
        Err(e) => e.answer(asked.ctx),
    }
}

/// The resource a token is for, from `scope` (v2.0) or `resource` (v1).
enum Requested {
    Graph { scopes: Vec<String> },
}

struct TokenCall<'a> {
    identity: &'a Identity,
    tenant: &'a str,
    origin: &'a str,
    params: HashMap<String, String>,
    v1: bool,
}

impl TokenCall<'_> {
    /// What the client sent to prove who it is, for this token endpoint.
    fn proof(&self) -> Proof<'_> {
        let url = |path: &str| format!("{}/{}/{path}", self.origin, self.tenant);
        let (called, other) = if self.v1 {
            ("oauth2/token", "oauth2/v2.0/token")
        } else {
            ("oauth2/v2.0/token", "oauth2/token")
        };
        Proof {
            client_secret: self.param("client_secret"),
            client_assertion: self.param("client_assertion"),
            client_assertion_type: self.param("client_assertion_type"),
            endpoints: [url(called), url(other)],
        }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    async fn answer(&self) -> Result<Value, OAuthError> {
        let store = &self.identity.store;
        if !registry::tenant_known(store, self.tenant)
            .await
            .map_err(store_failure)?
        {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90002,
                format!(
                    "Tenant '{}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
                    self.tenant
                ),
            ));
        }
        let grant = self
            .param("grant_type")
            .ok_or_else(|| missing("grant_type"))?;
        match grant {
            "client_credentials" => self.client_credentials().await,
            "password" => self.password().await,
            other => Err(oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{other}'."),
            )),
        }
    }

    /// The registered app named by `client_id`, in this tenant.
    async fn app(&self) -> Result<registry::Application, OAuthError> {
        let client_id = self
            .param("client_id")
            .ok_or_else(|| missing("client_id"))?;
        registry::app(&self.identity.store, client_id)
            .await
            .map_err(store_failure)?
            .filter(|a| a.tenant == self.tenant)
            .ok_or_else(|| {
                oauth(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    700016,
                    format!(
                        "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                        self.tenant
                    ),
                )
            })
    }

    /// The Graph resource of the request; `.default` is required for client credentials.
    fn requested(&self, app_only: bool) -> Result<Requested, OAuthError> {
        let is_graph = |resource: &str| {
            let r = resource.trim_end_matches('/');
            AUDIENCES.contains(&r)
        };
        let not_found = |resource: &str| {
            oauth(
                StatusCode::BAD_REQUEST,
                "invalid_resource",
                500011,
                format!(
                    "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
                    self.tenant
                ),
            )
        };
        if self.v1 {
            let resource = self.param("resource").ok_or_else(|| missing("resource"))?;
            if !is_graph(resource) {
                return Err(not_found(resource));
            }
            return Ok(Requested::Graph { scopes: Vec::new() });
        }
        let scope = self.param("scope").ok_or_else(|| missing("scope"))?;
        let asked: Vec<&str> = scope
            .split_whitespace()
            .filter(|s| !OIDC_SCOPES.contains(s))
            .collect();
        if app_only {
            let invalid_scope = || {
                oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    1002012,
                    format!(
                        "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                    ),
                )
            };
            let [one] = asked.as_slice() else {
                return Err(invalid_scope());
            };
            let resource = one.strip_suffix("/.default").ok_or_else(invalid_scope)?;
            if !is_graph(resource) {
                return Err(not_found(resource));
            }
            return Ok(Requested::Graph { scopes: Vec::new() });
        }
        let mut scopes = Vec::new();
        for s in asked {
            let (resource, name) = match s.rsplit_once('/') {
                Some((r, n)) => (r, n),
                None => (AUDIENCES[0], s),
            };
            if !is_graph(resource) {
                return Err(not_found(resource));
            }
            if name != ".default" {
                scopes.push(name.to_string());
            }
        }
        Ok(Requested::Graph { scopes })
    }

    fn base_claims(&self, now: i64) -> serde_json::Map<String, Value> {
        let issuer = access_token_issuer(self.tenant);
        let claims = json!({
            "aud": AUDIENCES[0],
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "idp": issuer,
            "tid": self.tenant,
            "uti": URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()),
            "ver": "1.0",
        });
        match claims {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        }
    }

    async fn client_credentials(&self) -> Result<Value, OAuthError> {
        let app = self.app().await?;
        let acr = self.proof().authenticate(&app, true)?;
        let Requested::Graph { .. } = self.requested(true)?;
        let now = now_unix();
        let mut claims = self.base_claims(now);
        claims.insert("app_displayname".into(), json!(app.name));
        claims.insert("appid".into(), json!(app.client_id));
        claims.insert("appidacr".into(), json!(acr));
        claims.insert("idtyp".into(), json!("app"));
        claims.insert("oid".into(), json!(app.object_id));
        claims.insert("sub".into(), json!(app.object_id));
        if !app.roles.is_empty() {
            claims.insert("roles".into(), json!(app.roles));
        }
        let key = self.identity.signing_key().await.map_err(store_failure)?;
        let token = key.sign(&Value::Object(claims)).map_err(signing_failure)?;
        Ok(self.success(token, now, None, None))
    }

    async fn password(&self) -> Result<Value, OAuthError> {
        let app = self.app().await?;
        let acr = self.proof().authenticate(&app, false)?;
        let user = self.user().await?;
        let granted = self.granted(&app, &user)?;
        let now = now_unix();
        let subject = {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(format!("{}:{}", user.id, app.client_id));
            URL_SAFE_NO_PAD.encode(&digest[..32])
        };
        let mut claims = self.base_claims(now);
        claims.insert("acr".into(), json!("1"));
        claims.insert("amr".into(), json!(["pwd"]));
        claims.insert("app_displayname".into(), json!(app.name));
        claims.insert("appid".into(), json!(app.client_id));
        claims.insert("appidacr".into(), json!(acr));
        claims.insert("idtyp".into(), json!("user"));
        claims.insert("name".into(), json!(user.username));
        claims.insert("oid".into(), json!(user.id));
        claims.insert("scp".into(), json!(granted.join(" ")));
        claims.insert("sub".into(), json!(subject));
        claims.insert("unique_name".into(), json!(user.username));
        claims.insert("upn".into(), json!(user.username));
        let key = self.identity.signing_key().await.map_err(store_failure)?;
        let token = key.sign(&Value::Object(claims)).map_err(signing_failure)?;
        let wants_openid = self
            .param("scope")
            .is_some_and(|s| s.split_whitespace().any(|s| s == "openid"));
        let id_token = if wants_openid {
            let id_claims = self.id_claims(&app, &user, &subject, now);
            Some(key.sign(&id_claims).map_err(signing_failure)?)
        } else {
            None
        };
        let scope = granted
            .iter()
            .map(|s| format!("{}/{s}", AUDIENCES[0]))
            .chain(
                self.param("scope")
                    .unwrap_or("")
                    .split_whitespace()
                    .filter(|s| OIDC_SCOPES.contains(s))
                    .map(str::to_string),
            )
            .collect::<Vec<_>>()
            .join(" ");
        let client_info =
            URL_SAFE_NO_PAD.encode(json!({ "uid": user.id, "utid": self.tenant }).to_string());
        let mut body = self.success(token, now, Some(scope), id_token);
        if let Value::Object(map) = &mut body {
            map.insert("client_info".into(), json!(client_info));
        }
        Ok(body)
    }

    /// The user named by `username`, in this tenant, if `password` is theirs.
    async fn user(&self) -> Result<registry::User, OAuthError> {
        let username = self.param("username").ok_or_else(|| missing("username"))?;
        let password = self.param("password").ok_or_else(|| missing("password"))?;
        registry::user_by_name(&self.identity.store, self.tenant, username)
            .await
            .map_err(store_failure)?
            .filter(|u| registry::verify_secret(&u.password, password))
            .ok_or_else(|| {
                oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50126,
                    "Error validating credentials due to invalid username or password.".into(),
                )
            })
    }

    /// The Graph scopes a delegated token gets: those asked for, each consented for the user;
    /// every consented one when only `.default` is asked for.
    fn granted(
        &self,
        app: &registry::Application,
        user: &registry::User,
    ) -> Result<Vec<String>, OAuthError> {
        let Requested::Graph { scopes } = self.requested(false)?;
        if scopes.is_empty() {
            return Ok(user.scopes.clone());
        }
        if let Some(missing) = scopes.iter().find(|s| !user.scopes.contains(s)) {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                65001,
                format!(
                    "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource. (scope {missing})",
                    app.client_id, app.name
                ),
            ));
        }
        Ok(scopes)
    }

    /// The OpenID Connect ID token's claims (v2.0), for the app as audience.
    fn id_claims(
        &self,
        app: &registry::Application,
        user: &registry::User,
        subject: &str,
        now: i64,
    ) -> Value {
        json!({
            "aud": app.client_id,
            "iss": v2_issuer(self.tenant),
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "name": user.username,
            "oid": user.id,
            "preferred_username": user.username,
            "sub": subject,
            "tid": self.tenant,
            "ver": "2.0",
        })
    }

    fn success(
        &self,
        token: String,
        now: i64,
        scope: Option<String>,
        id_token: Option<String>,
    ) -> Value {
        let mut body = if self.v1 {
            json!({
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME.to_string(),
                "ext_expires_in": TOKEN_LIFETIME.to_string(),
                "expires_on": (now + TOKEN_LIFETIME).to_string(),
                "not_before": now.to_string(),
                "resource": self.param("resource").unwrap_or(AUDIENCES[0]),
                "access_token": token,
            })
        } else {
            json!({
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": token,
            })
        };
        if let Value::Object(map) = &mut body {
            if let Some(scope) = scope {
                map.insert("scope".into(), json!(scope));
            }
            if let Some(id_token) = id_token {
                map.insert("id_token".into(), json!(id_token));
            }
        }
        body
    }
}

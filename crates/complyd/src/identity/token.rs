//! The token endpoint: the grants (`client_credentials`, `password`; `authorization_code` and
//! `refresh_token` in `code_grant`), the resource and scopes asked for, and the tokens with
//! Graph's v1.0 claims.

use super::client_auth::Proof;
use super::delegated::{base_claims, Delegation, Signed};
use super::oauth_error::{missing, oauth, signing_failure, store_failure, OAuthError};
use super::scopes::{self, is_graph, unknown_resource, OIDC_SCOPES};
use super::{code_grant, registry, Answer, Asked, Identity, TOKEN_LIFETIME};
use crate::common::{now_unix, AUDIENCES};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Tenants a sign-in may name instead of its own: the user's tenant is found from the user
/// (the authorization-code flow) or the grant (a code, a refresh token).
pub(super) const TENANT_ALIASES: [&str; 2] = ["organizations", "common"];

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
        Ok(body) => Answer::json(body)
            .header("cache-control", "no-store, no-cache")
            .header("pragma", "no-cache"),
        Err(e) => e.answer(asked.ctx),
    }
}

/// `POST /{tenant}/oauth2/v2.0/revoke` (RFC 7009): `token` (a refresh token) revoked when it is
/// `client_id`'s; 200 either way, as the RFC asks, so that a caller learns nothing of others'.
pub(super) async fn revoke(identity: &Identity, asked: &Asked<'_>, tenant: &str) -> Answer {
    let call = TokenCall {
        identity,
        tenant,
        origin: asked.origin,
        params: form_urlencoded::parse(asked.form).into_owned().collect(),
        v1: false,
    };
    match code_grant::revoke(&call).await {
        Ok(()) => Answer::json(json!({})).header("cache-control", "no-store, no-cache"),
        Err(e) => e.answer(asked.ctx),
    }
}

pub(super) struct TokenCall<'a> {
    pub identity: &'a Identity,
    pub tenant: &'a str,
    origin: &'a str,
    params: HashMap<String, String>,
    pub v1: bool,
}

impl TokenCall<'_> {
    /// What the client sent to prove who it is, for this token endpoint.
    pub(super) fn proof(&self) -> Proof<'_> {
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

    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    async fn answer(&self) -> Result<Value, OAuthError> {
        let store = &self.identity.store;
        let grant = self.param("grant_type");
        let grant_names_tenant = matches!(grant, Some("authorization_code" | "refresh_token"));
        let alias = TENANT_ALIASES.contains(&self.tenant);
        let grant_finds_tenant = alias && grant_names_tenant;
        if !grant_finds_tenant
            && !registry::tenant_known(store, self.tenant)
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
        match grant.ok_or_else(|| missing("grant_type"))? {
            "client_credentials" => self.client_credentials().await,
            "password" => self.password().await,
            "authorization_code" => code_grant::redeem(self).await,
            "refresh_token" => code_grant::refresh(self).await,
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
        self.app_in(self.tenant).await
    }

    /// The app named by `client_id`, as `tenant` knows it.
    pub(super) async fn app_in(&self, tenant: &str) -> Result<registry::Application, OAuthError> {
        let client_id = self
            .param("client_id")
            .ok_or_else(|| missing("client_id"))?;
        self.identity
            .client(client_id, tenant)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| {
                oauth(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    700016,
                    format!(
                        "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                    ),
                )
            })
    }

    /// The Graph resource of the request; `.default` is required for client credentials.
    fn requested(&self, app_only: bool) -> Result<Vec<String>, OAuthError> {
        if self.v1 {
            let resource = self.param("resource").ok_or_else(|| missing("resource"))?;
            if !is_graph(resource) {
                return Err(unknown_resource(resource, self.tenant));
            }
            return Ok(Vec::new());
        }
        let scope = self.param("scope").ok_or_else(|| missing("scope"))?;
        if !app_only {
            return scopes::delegated(scope, self.tenant);
        }
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
        let asked: Vec<&str> = scope
            .split_whitespace()
            .filter(|s| !OIDC_SCOPES.contains(s))
            .collect();
        let [one] = asked.as_slice() else {
            return Err(invalid_scope());
        };
        let resource = one.strip_suffix("/.default").ok_or_else(invalid_scope)?;
        if !is_graph(resource) {
            return Err(unknown_resource(resource, self.tenant));
        }
        Ok(Vec::new())
    }

    async fn client_credentials(&self) -> Result<Value, OAuthError> {
        let app = self.app().await?;
        let acr = self.proof().authenticate(&app, true)?;
        self.requested(true)?;
        let now = now_unix();
        let mut claims = base_claims(self.tenant, now);
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
        let granted = scopes::consented(&app, &user, self.requested(false)?)?;
        let oidc = scopes::oidc_words(self.param("scope").unwrap_or(""));
        let delegation = Delegation {
            tenant: self.tenant,
            app: &app,
            user: &user,
            granted: &granted,
            oidc: &oidc,
            nonce: None,
            acr,
            now: now_unix(),
        };
        let signed = delegation.sign(self.identity).await?;
        Ok(self.delegated_success(signed, delegation.now, None))
    }

    /// The answer to a delegated grant: the tokens, `scope` and `client_info` (and a refresh
    /// token when one was issued).
    pub(super) fn delegated_success(
        &self,
        signed: Signed,
        now: i64,
        refresh_token: Option<String>,
    ) -> Value {
        let mut body = self.success(
            signed.access_token,
            now,
            Some(signed.scope),
            signed.id_token,
        );
        if let Value::Object(map) = &mut body {
            map.insert("client_info".into(), json!(signed.client_info));
            if let Some(token) = refresh_token {
                map.insert("refresh_token".into(), json!(token));
            }
        }
        body
    }

    /// The user named by `username`, in this tenant, if `password` is theirs.
    async fn user(&self) -> Result<registry::User, OAuthError> {
        let username = self.param("username").ok_or_else(|| missing("username"))?;
        let password = self.param("password").ok_or_else(|| missing("password"))?;
        let found =
            registry::sign_in_user(&self.identity.store, Some(self.tenant), username, password)
                .await
                .map_err(store_failure)?;
        match found {
            registry::SignIn::User(user) => Ok(user),
            _ => Err(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                50126,
                "Error validating credentials due to invalid username or password.".into(),
            )),
        }
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

//! The token service's HTTP endpoints, in the shapes Entra ID gives them.

use super::{access_token_issuer, cert, registry, Identity, TOKEN_LIFETIME};
use crate::auth::{now_unix, AUDIENCES};
use crate::http::{AppState, RequestContext};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Scopes of OpenID Connect itself, never Graph permissions.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];
/// Leeway on client assertions' lifetimes, seconds.
const ASSERTION_LEEWAY: u64 = 60;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery_v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery_v1),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys_v2))
        .route("/{tenant}/discovery/keys", get(keys_v1))
        .route("/{tenant}/oauth2/v2.0/token", post(token_v2))
        .route("/{tenant}/oauth2/token", post(token_v1))
        .route("/common/discovery/instance", get(instance_discovery))
        .route("/common/userrealm/{username}", get(user_realm))
}

fn origin(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("{}://{host}", state.scheme)
}

fn v2_issuer(tenant: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant}/v2.0")
}

/// Tenants named by alias (`common`, ...) advertise the `{tenantid}` placeholder, like Entra.
fn issuer_tenant(tenant: &str) -> &str {
    match tenant {
        "common" | "organizations" | "consumers" => "{tenantid}",
        other => other,
    }
}

async fn discovery_v2(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let o = origin(&state, &headers);
    Json(json!({
        "token_endpoint": format!("{o}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{o}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": v2_issuer(issuer_tenant(&tenant)),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{o}/oidc/userinfo"),
        "authorization_endpoint": format!("{o}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{o}/{tenant}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{o}/{tenant}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net"
    }))
    .into_response()
}

async fn discovery_v1(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let o = origin(&state, &headers);
    Json(json!({
        "token_endpoint": format!("{o}/{tenant}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{o}/common/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": access_token_issuer(issuer_tenant(&tenant)),
        "microsoft_multi_refresh_token": true,
        "authorization_endpoint": format!("{o}/{tenant}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{o}/{tenant}/oauth2/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{o}/{tenant}/oauth2/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "tid", "ver", "oid", "upn", "unique_name", "amr"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net"
    }))
    .into_response()
}

async fn jwks(identity: &Identity, issuer: String) -> Response {
    match identity.signing_key().await {
        Ok(key) => Json(json!({ "keys": [key.jwk(&issuer)] })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "signing key");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn keys_v2(State(state): State<Arc<AppState>>, Path(tenant): Path<String>) -> Response {
    jwks(&state.identity, v2_issuer(issuer_tenant(&tenant))).await
}

async fn keys_v1(State(state): State<Arc<AppState>>, Path(tenant): Path<String>) -> Response {
    jwks(&state.identity, access_token_issuer(issuer_tenant(&tenant))).await
}

/// What MSAL asks of an authority it does not know: where its tenant discovery document is.
async fn instance_discovery(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let o = origin(&state, &headers);
    let params = form(query.as_deref().unwrap_or("").as_bytes());
    let tenant = params
        .get("authorization_endpoint")
        .and_then(|url| url.split("://").nth(1))
        .and_then(|rest| rest.split('/').nth(1))
        .filter(|t| !t.is_empty())
        .unwrap_or("common")
        .to_string();
    let host = o.split("://").nth(1).unwrap_or("").to_string();
    Json(json!({
        "tenant_discovery_endpoint": format!("{o}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{ "preferred_network": host, "preferred_cache": host, "aliases": [host] }]
    }))
    .into_response()
}

/// MSAL's user-realm lookup before a password grant: every user here is a managed one.
async fn user_realm(Path(username): Path<String>) -> Response {
    let domain = username.rsplit('@').next().unwrap_or("").to_string();
    Json(json!({
        "ver": "1.0",
        "account_type": "Managed",
        "domain_name": domain,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline"
    }))
    .into_response()
}

/// A JSON body (axum's `json` feature is off).
#[allow(non_snake_case)]
fn Json(value: Value) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        value.to_string(),
    )
}

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// An OAuth error as Entra words it: `AADSTS{code}: …` with trace, correlation and time.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
}

fn oauth(status: StatusCode, error: &'static str, code: u32, description: String) -> OAuthError {
    OAuthError {
        status,
        error,
        code,
        description,
    }
}

fn missing(name: &str) -> OAuthError {
    oauth(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

fn store_failure(e: crate::store::StoreError) -> OAuthError {
    tracing::error!(error = %e, "token service store");
    oauth(
        StatusCode::INTERNAL_SERVER_ERROR,
        "temporarily_unavailable",
        50001,
        "The service is temporarily unavailable.".into(),
    )
}

fn signing_failure(e: jsonwebtoken::errors::Error) -> OAuthError {
    tracing::error!(error = %e, "signing a token");
    oauth(
        StatusCode::INTERNAL_SERVER_ERROR,
        "temporarily_unavailable",
        50001,
        "The service is temporarily unavailable.".into(),
    )
}

fn error_response(ctx: &RequestContext, e: OAuthError) -> Response {
    let timestamp = utc_timestamp(now_unix());
    let body = json!({
        "error": e.error,
        "error_description": format!(
            "AADSTS{}: {} Trace ID: {} Correlation ID: {} Timestamp: {timestamp}",
            e.code, e.description, ctx.request_id, ctx.client_request_id
        ),
        "error_codes": [e.code],
        "timestamp": timestamp,
        "trace_id": ctx.request_id,
        "correlation_id": ctx.client_request_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={}", e.code),
    });
    (
        e.status,
        [(header::CACHE_CONTROL, "no-store, no-cache")],
        Json(body),
    )
        .into_response()
}

/// `2024-05-01 12:00:00Z`, the way Entra stamps its errors.
fn utc_timestamp(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

async fn token_v2(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(&state, &ctx, &tenant, &headers, &body, false).await
}

async fn token_v1(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(&state, &ctx, &tenant, &headers, &body, true).await
}

async fn token(
    state: &AppState,
    ctx: &RequestContext,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
    v1: bool,
) -> Response {
    let request = TokenCall {
        state,
        tenant,
        origin: origin(state, headers),
        params: form(body),
        v1,
    };
    match request.answer().await {
        Ok(body) => (
            [
                (header::CACHE_CONTROL, "no-store, no-cache"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(body),
        )
            .into_response(),
        Err(e) => error_response(ctx, e),
    }
}

/// The resource a token is for, from `scope` (v2.0) or `resource` (v1).
enum Requested {
    Graph { scopes: Vec<String> },
}

struct TokenCall<'a> {
    state: &'a AppState,
    tenant: &'a str,
    origin: String,
    params: HashMap<String, String>,
    v1: bool,
}

impl TokenCall<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    async fn answer(&self) -> Result<Value, OAuthError> {
        let store = &self.state.identity.store;
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
        registry::app(&self.state.identity.store, client_id)
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

    /// Checks the client's credential; `appidacr`: 1 for a secret, 2 for a certificate.
    fn authenticate_client(
        &self,
        app: &registry::Application,
        required: bool,
    ) -> Result<&'static str, OAuthError> {
        let invalid = |code: u32, description: String| {
            oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                code,
                description,
            )
        };
        if let Some(assertion) = self.param("client_assertion") {
            if self.param("client_assertion_type") != Some(JWT_BEARER) {
                return Err(oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    900144,
                    format!("The request body must contain the following parameter: 'client_assertion_type' with the value '{JWT_BEARER}'."),
                ));
            }
            return self.verify_assertion(app, assertion).map(|()| "2");
        }
        if let Some(secret) = self.param("client_secret") {
            if app
                .secrets
                .iter()
                .any(|h| registry::verify_secret(h, secret))
            {
                return Ok("1");
            }
            return Err(invalid(
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    app.client_id
                ),
            ));
        }
        if required || !app.secrets.is_empty() || !app.certificates.is_empty() {
            return Err(invalid(
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
            ));
        }
        Ok("0")
    }

    /// An RS256/PS256 JWT signed by one of the app's certificates, for this token endpoint,
    /// issued by and about the app itself, not expired.
    fn verify_assertion(
        &self,
        app: &registry::Application,
        assertion: &str,
    ) -> Result<(), OAuthError> {
        let invalid = |code: u32, description: &str| {
            oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                code,
                description.to_string(),
            )
        };
        let header = jsonwebtoken::decode_header(assertion)
            .map_err(|_| invalid(50027, "JWT token is invalid or malformed."))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
            return Err(invalid(
                5002738,
                "Invalid JWT token. The client assertion must be signed with RS256 or PS256.",
            ));
        }
        let keys: Vec<_> = app
            .certificates
            .iter()
            .flat_map(|pem| cert::rsa_keys(pem))
            .collect();
        if keys.is_empty() {
            return Err(invalid(
                700027,
                "Client assertion failed signature validation. The app has no certificate registered.",
            ));
        }
        let endpoint = if self.v1 {
            "oauth2/token"
        } else {
            "oauth2/v2.0/token"
        };
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[
            format!("{}/{}/{endpoint}", self.origin, self.tenant),
            format!("{}/{}/oauth2/v2.0/token", self.origin, self.tenant),
            format!("{}/{}/oauth2/token", self.origin, self.tenant),
        ]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        validation.set_issuer(&[&app.client_id]);
        validation.sub = Some(app.client_id.clone());
        validation.validate_nbf = true;
        validation.leeway = ASSERTION_LEEWAY;
        let mut last = None;
        for key in &keys {
            match jsonwebtoken::decode::<Value>(assertion, key, &validation) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        use jsonwebtoken::errors::ErrorKind;
        Err(match last.as_ref().map(|e| e.kind()) {
            Some(ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature) => invalid(
                700024,
                "Client assertion is not within its valid time range.",
            ),
            Some(ErrorKind::InvalidAudience) => invalid(
                700212,
                "The audience claim of the client assertion does not match this token endpoint.",
            ),
            Some(ErrorKind::InvalidIssuer | ErrorKind::InvalidSubject) => invalid(
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
            ),
            Some(ErrorKind::MissingRequiredClaim(_)) => {
                invalid(50027, "JWT token is invalid or malformed.")
            }
            _ => invalid(700027, "Client assertion failed signature validation."),
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
        let acr = self.authenticate_client(&app, true)?;
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
        let key = self
            .state
            .identity
            .signing_key()
            .await
            .map_err(store_failure)?;
        let token = key.sign(&Value::Object(claims)).map_err(signing_failure)?;
        Ok(self.success(token, now, None, None))
    }

    async fn password(&self) -> Result<Value, OAuthError> {
        let app = self.app().await?;
        let acr = self.authenticate_client(&app, false)?;
        let username = self.param("username").ok_or_else(|| missing("username"))?;
        let password = self.param("password").ok_or_else(|| missing("password"))?;
        let store = &self.state.identity.store;
        let user = registry::user_by_name(store, self.tenant, username)
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
            })?;
        let Requested::Graph { scopes } = self.requested(false)?;
        let granted = if scopes.is_empty() {
            user.scopes.clone()
        } else {
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
            scopes
        };
        let now = now_unix();
        let mut claims = self.base_claims(now);
        let subject = {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(format!("{}:{}", user.id, app.client_id));
            URL_SAFE_NO_PAD.encode(&digest[..32])
        };
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
        let key = self
            .state
            .identity
            .signing_key()
            .await
            .map_err(store_failure)?;
        let token = key.sign(&Value::Object(claims)).map_err(signing_failure)?;
        let wants_openid = self
            .param("scope")
            .is_some_and(|s| s.split_whitespace().any(|s| s == "openid"));
        let id_token = if wants_openid {
            let id_claims = json!({
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
            });
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

#[cfg(test)]
mod tests {
    use super::utc_timestamp;

    #[test]
    fn timestamps_are_entra_shaped() {
        assert_eq!(utc_timestamp(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc_timestamp(1_714_564_800), "2024-05-01 12:00:00Z");
        assert_eq!(utc_timestamp(951_825_600), "2000-02-29 12:00:00Z");
    }
}

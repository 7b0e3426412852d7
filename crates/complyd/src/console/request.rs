//! What every console request goes through: the session from its cookie (refreshing the
//! access token when it is about to expire), the CSRF check of a form, the form itself within
//! its limits, and the answers (a page, a redirect, an error page).

use super::api::{path_with, Failure};
use super::session::{self, Session, Stage, Tokens, User};
use super::{view, Console};
use crate::common::{cookie, host};
use crate::identity::Endpoint;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest form the console takes (a policy with its settings is a few KiB).
pub const MAX_FORM: usize = 256 * 1024;
/// The most fields a form may have, and the longest value.
const MAX_FIELDS: usize = 200;
const MAX_FIELD: usize = 128 * 1024;

/// A signed-in request: the console, the session, its user and a fresh access token.
pub struct Ctx {
    pub console: Arc<Console>,
    pub session: Arc<Session>,
    pub user: User,
    pub token: String,
    pub scopes: Vec<String>,
    /// The `Host` the browser called, for the API's absolute links.
    pub host: String,
}

/// A handler that takes a `Ctx` runs signed in; any other request gets [`Ctx::of`]'s answer.
impl FromRequestParts<Arc<Console>> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Response> {
        Self::of(console, &parts.headers, &parts.uri, &parts.method).await
    }
}

/// A signed-in form: its context, and the form with its CSRF token checked.
pub struct Signed {
    pub ctx: Ctx,
    pub form: Form,
}

impl FromRequest<Arc<Console>> for Signed {
    type Rejection = Response;

    async fn from_request(request: Request, console: &Arc<Console>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let ctx = Ctx::from_request_parts(&mut parts, console).await?;
        let form = Form::read(&ctx, &parts.headers, body).await?;
        Ok(Self { ctx, form })
    }
}

impl Ctx {
    /// The signed-in context of a request, or the answer to give instead: a redirect to the
    /// sign-in for a page, 401 for anything else (a form, the event stream).
    pub async fn of(
        console: &Arc<Console>,
        headers: &HeaderMap,
        uri: &Uri,
        method: &Method,
    ) -> Result<Self, Response> {
        let here = uri
            .path_and_query()
            .map_or("/console".to_string(), |p| p.as_str().to_string());
        let not_signed_in = || {
            let page = method == Method::GET || method == Method::HEAD;
            if page && here != "/console/events" {
                let target = path_with("/console/signin", &[("return", here.clone())]);
                redirect(&target)
            } else {
                view::message_page(
                    StatusCode::UNAUTHORIZED,
                    "Signed out",
                    "Your session has ended. Sign in again.",
                )
            }
        };
        let id = cookie(
            headers.get(header::COOKIE).and_then(|v| v.to_str().ok()),
            session::COOKIE,
        );
        let Some(session) = id.and_then(|id| console.sessions.get(id)) else {
            return Err(not_signed_in());
        };
        let Stage::SignedIn { user, tokens } = &session.stage else {
            return Err(not_signed_in());
        };
        let host = host(headers).to_string();
        let mut tokens = tokens.lock().await;
        if Instant::now() >= tokens.refresh_at {
            match super::signin::refresh(console, &host, &tokens).await {
                Ok(fresh) => *tokens = fresh,
                Err(_) => {
                    console.sessions.end(&session.id);
                    return Err(not_signed_in());
                }
            }
        }
        let (token, scopes) = (tokens.access.clone(), tokens.scopes.clone());
        drop(tokens);
        Ok(Self {
            console: console.clone(),
            user: user.clone(),
            session: session.clone(),
            token,
            scopes,
            host,
        })
    }

    /// Whether the user's token carries one of `permissions`.
    pub fn may(&self, permissions: &[&str]) -> bool {
        self.scopes
            .iter()
            .any(|s| permissions.contains(&s.as_str()))
    }

    /// `GET` of an API path; the JSON answer.
    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.call(Method::GET, path, None).await
    }

    /// A call with a JSON body (or none); the JSON answer (`Null` for none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        self.console
            .api
            .send(method, path, &self.host, Some(&self.token), body)
            .await
            .map(|(_, value)| value)
    }
}

/// Tokens from a token endpoint's answer.
pub fn tokens_from(answer: &Value) -> Option<Tokens> {
    let access = answer["access_token"].as_str()?.to_string();
    let lifetime = answer["expires_in"].as_u64().unwrap_or(3599);
    let claims = claims_of(&access)?;
    Some(Tokens {
        scopes: claims["scp"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        access,
        refresh_at: Instant::now() + Duration::from_secs(lifetime.saturating_sub(60)),
        refresh: answer["refresh_token"].as_str().map(str::to_string),
    })
}

/// The claims of a token the console received from the token service itself (read, not
/// verified: it came straight from the issuer).
pub fn claims_of(token: &str) -> Option<Value> {
    use base64::Engine;
    let part = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A form's fields, within the limits; the CSRF token checked against the session's.
pub struct Form {
    fields: HashMap<String, String>,
}

impl Form {
    /// Reads the form of a signed-in request and checks its `_csrf` field (or the
    /// `X-CSRF-Token` header). A form without the session's token is refused (403).
    pub async fn read(ctx: &Ctx, headers: &HeaderMap, body: Body) -> Result<Self, Response> {
        let bytes = axum::body::to_bytes(body, MAX_FORM).await.map_err(|_| {
            view::message_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                &format!("A form is at most {MAX_FORM} bytes (the limit)."),
            )
        })?;
        let mut fields = HashMap::new();
        for (name, value) in form_urlencoded::parse(&bytes) {
            if fields.len() >= MAX_FIELDS || value.len() > MAX_FIELD {
                return Err(view::message_page(
                    StatusCode::BAD_REQUEST,
                    "Too large",
                    &format!("A form has at most {MAX_FIELDS} fields of at most {MAX_FIELD} bytes (the limits)."),
                ));
            }
            fields.insert(name.into_owned(), value.into_owned());
        }
        let form = Self { fields };
        let header = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let given = if header.is_empty() {
            form.get("_csrf")
        } else {
            header
        };
        if !ctx.session.csrf_matches(given) {
            return Err(csrf_refused());
        }
        Ok(form)
    }

    /// A field's value, `""` when absent.
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// The answer to a write without the session's CSRF token.
pub fn csrf_refused() -> Response {
    view::message_page(
        StatusCode::FORBIDDEN,
        "Refused",
        "This form did not carry this session's CSRF token, so it was not sent from the console's own page. Nothing was changed.",
    )
}

/// The query parameters of a request.
pub fn query(uri: &Uri) -> HashMap<String, String> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .take(MAX_FIELDS)
        .map(|(k, v)| (k.into_owned(), v.chars().take(1024).collect()))
        .collect()
}

/// 303 See Other to `location` (a path of the console).
pub fn redirect(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A path the console does not serve: the token service's paths go to it (the sign-in stays on
/// this origin); anything else is a page that says so.
pub async fn elsewhere(State(console): State<Arc<Console>>, request: Request) -> Response {
    if Endpoint::parse(request.uri().path()).is_some() {
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return view::message_page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too large",
                    &format!("A sign-in form is at most {MAX_FORM} bytes (the limit)."),
                )
            }
        };
        return console
            .api
            .forward(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    view::message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "The console has no page here.",
    )
}

//! The one handler every request reaches: its endpoint is parsed from the path first, a Graph
//! request's caller is then authenticated (and throttled), and the endpoint is dispatched.

use super::body;
use super::endpoint::{Endpoint, Graph};
use super::response::{self, Urls};
use super::{ops, AppState};
use crate::auth::Principal;
use crate::common::{host, RequestContext};
use crate::error::ApiError;
use crate::identity;
use crate::metrics::{Route, Template};
use crate::service::{Call, Caller, Operation};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{header, Method, Uri};
use axum::response::{IntoResponse, Response};
use odata::path::ResourcePath;
use odata::query::QueryOptions;
use odata::Version;
use std::borrow::Cow;
use std::fmt::Display;
use std::sync::Arc;

/// Answers one request, with the route `/metrics` counts it under.
pub(super) async fn dispatch(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    request: Request,
) -> (Response, Route) {
    let inner = request
        .extensions()
        .get::<super::batch::BatchItem>()
        .is_some();
    let (parts, body) = request.into_parts();
    let mut route = Route::Unmatched;
    let answer = handle(state, ctx, &parts, inner, body, &mut route).await;
    let res = answer.unwrap_or_else(|err| response::error(ctx, &err));
    (res, route)
}

/// Parse the endpoint, authenticate if it is Graph's, dispatch. `route` is what `/metrics` counts
/// the request under; `inner` marks a request of a batch.
///
/// The token service, `$batch`, complyd's own API and the service's call run boxed: every
/// request's future is copied to the heap at the size of its largest state, and unboxed these
/// made it 12 KB (2.7 KB boxed).
async fn handle(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    parts: &Parts,
    inner: bool,
    body: Body,
    route: &mut Route,
) -> Result<Response, ApiError> {
    let method = &parts.method;
    let endpoint = Endpoint::parse(parts.uri.path(), state.metrics.is_some())?;
    *route = endpoint.route();
    match endpoint {
        Endpoint::Health => ops::healthz(method),
        Endpoint::Ready => ops::readyz(state, method).await,
        Endpoint::Metrics => ops::scrape(state, method),
        Endpoint::OpenApi => described(method, "/openapi.json", || {
            let origin = origin(state, parts);
            ("application/json", state.model.openapi(&origin).to_string())
        }),
        Endpoint::Metadata(version) => {
            let path = format!("/{}/$metadata", version.as_str());
            described(method, &path, || {
                ("application/xml;charset=utf-8", state.model.csdl(version))
            })
        }
        Endpoint::TokenService(endpoint) => {
            Box::pin(token_service(state, ctx, parts, &endpoint, body)).await
        }
        Endpoint::Graph(graph) => {
            let principal = admit(state, parts).await?;
            let tenant = principal.tenant.clone();
            let answer = match graph {
                Graph::Batch(version) => {
                    *route = Route::Batch;
                    if inner {
                        // Graph refuses nested batches: one request never fans out past one batch.
                        return Err(ApiError::bad_request(
                            "A batch request cannot contain another batch request.",
                        ));
                    }
                    Box::pin(batch(state, parts, version, body)).await
                }
                Graph::Resource(version, rest) => {
                    resource(state, parts, principal, version, rest, body, route).await
                }
                Graph::Own(rest) => {
                    *route = Route::Other;
                    Box::pin(super::own::dispatch(state, parts, &principal, rest, body)).await
                }
            };
            let wrote = matches!(
                *method,
                Method::POST | Method::PUT | Method::PATCH | Method::DELETE
            );
            if wrote && answer.as_ref().is_ok_and(|r| r.status().is_success()) {
                state.changes.tenant_changed(&tenant);
            }
            answer
        }
    }
}

/// The caller of a Graph request: its token checked, then the request counted against the
/// throttling limits.
async fn admit(state: &AppState, parts: &Parts) -> Result<Arc<Principal>, ApiError> {
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let principal = state.auth.authenticate(authorization).await?;
    let write = matches!(
        parts.method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let admitted = state.throttle.admit(&principal, write);
    if let (Err(_), Some(metrics)) = (&admitted, &state.metrics) {
        metrics.throttled();
    }
    admitted?;
    Ok(principal)
}

/// A Graph resource: path, permission, query and body, then the service.
async fn resource(
    state: &AppState,
    parts: &Parts,
    principal: Arc<Principal>,
    version: Version,
    rest: &str,
    body: Body,
    route: &mut Route,
) -> Result<Response, ApiError> {
    let path = ResourcePath::parse(state.model, version, rest).inspect_err(|_| {
        *route = Route::Unmatched;
    })?;
    if state.metrics.is_some() {
        *route = Route::Resource(Template::of(&path));
    }
    let operation = match parts.method {
        Method::GET => Operation::Get,
        Method::POST => Operation::Post,
        Method::PATCH => Operation::Patch,
        Method::DELETE => Operation::Delete,
        _ => Operation::Other,
    };
    principal.authorize(path.permissions(), operation.is_write())?;
    let pairs: Vec<(Cow<str>, Cow<str>)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).collect();
    let query = QueryOptions::parse(
        pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
        version == Version::Beta,
    )?;
    let body = if matches!(operation, Operation::Post | Operation::Patch) {
        body::read_json(&parts.headers, body, state.body).await?
    } else {
        None
    };
    let caller = caller(state, &principal, operation.is_write()).await;
    let eventual = parts
        .headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"));
    let call = Call {
        tenant: principal.tenant.clone(),
        version,
        path,
        operation,
        body,
        query,
        caller,
        eventual,
    };
    let reply = Box::pin(state.service.execute(call))
        .await
        .map_err(|e| match e {
            ApiError::Unrouted(template) => no_route(template, &parts.method, parts.uri.path()),
            other => other,
        })?;
    let origin = origin(state, parts);
    let urls = Urls {
        service_root: format!("{origin}/{}", version.as_str()),
        request_without_skiptoken: format!("{origin}{}", without_skiptoken(&parts.uri)),
    };
    Ok(response::reply(&urls, reply))
}

/// The caller as the service records it. A write by an app whose token has no display name
/// looks the name up in the token service's registry (complyd's own apps).
async fn caller(state: &AppState, principal: &Principal, write: bool) -> Caller {
    let mut app_display_name = principal.app_display_name.clone();
    if let (true, None, Some(app_id)) = (write, &app_display_name, &principal.app_id) {
        if let Ok(Some(app)) =
            Box::pin(identity::registry::app(&state.identity.store, app_id)).await
        {
            app_display_name = Some(app.name);
        }
    }
    Caller {
        app_id: principal.app_id.clone(),
        app_display_name,
        object_id: principal.object_id.clone(),
        user_principal_name: principal.user_principal_name.clone(),
        app_only: principal.app_only,
    }
}

/// Graph's answer when a path exists but not with this method.
pub(super) fn no_route(template: impl Display, method: &Method, path: &str) -> ApiError {
    ApiError::Route(format!(
        "No OData route exists that match template ~{template} with http verb {method} for request {path}."
    ))
}

/// A GET-only description of the service, public like Graph's `$metadata`.
fn described(
    method: &Method,
    path: &str,
    render: impl FnOnce() -> (&'static str, String),
) -> Result<Response, ApiError> {
    if method != Method::GET {
        return Err(no_route(path, method, path));
    }
    let (content_type, text) = render();
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// `scheme://host` as the client called us, for absolute URLs: the scheme of the connection
/// (the proxy marks its tunnels), else the server's.
fn origin(state: &AppState, parts: &Parts) -> String {
    let scheme = parts
        .extensions
        .get::<super::Scheme>()
        .map_or(state.scheme, |s| s.0);
    format!("{scheme}://{}", host(&parts.headers))
}

async fn token_service(
    state: &AppState,
    ctx: &RequestContext,
    parts: &Parts,
    endpoint: &identity::Endpoint<'_>,
    body: Body,
) -> Result<Response, ApiError> {
    let form = if endpoint.reads_form(&parts.method) {
        body::read(&parts.headers, body, state.body).await?
    } else {
        Bytes::new()
    };
    let origin = origin(state, parts);
    let asked = identity::Asked {
        origin: &origin,
        ctx,
        query: parts.uri.query().unwrap_or(""),
        form: &form,
        cookie: parts
            .headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok()),
    };
    let answer = state.identity.answer(endpoint, &parts.method, asked).await;
    Ok(response::token_service(answer))
}

async fn batch(
    state: &Arc<AppState>,
    parts: &Parts,
    version: Version,
    body: Body,
) -> Result<Response, ApiError> {
    if parts.method != Method::POST {
        let path = format!("/{}/$batch", version.as_str());
        return Err(no_route("/$batch", &parts.method, &path));
    }
    let envelope = body::read_json(&parts.headers, body, state.body)
        .await?
        .ok_or_else(|| ApiError::bad_request("A batch request needs a body."))?;
    // The inner requests go through the whole service again, envelope included.
    let app = super::app(state.clone());
    let outer = super::batch::Outer {
        headers: &parts.headers,
        scheme: parts.extensions.get::<super::Scheme>().copied(),
    };
    let document = super::batch::run(app, version.as_str(), &outer, &envelope).await?;
    Ok(response::document(document))
}

/// The request path and query with any `$skiptoken` removed (raw, still encoded).
fn without_skiptoken(uri: &Uri) -> String {
    let kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            !form_urlencoded::parse(p.as_bytes())
                .next()
                .is_some_and(|(name, _)| name == "$skiptoken" || name == "skiptoken")
        })
        .collect();
    if kept.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    }
}

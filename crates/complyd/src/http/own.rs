//! complyd's own API under `/complyd/v1/` (not Graph's; a bearer token all the same): the outbox,
//! the webhook and the deliveries, a tenant's reset, device check-ins, the engine's re-evaluation
//! state.

use super::body;
use super::handler::no_route;
use super::response;
use super::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::{
    DeliveryKind, FleetSpec, DELIVERIES_PAGE_LIMIT, MAX_FLEET_HTTP, OUTBOX_PAGE_LIMIT,
    SCHEDULE_PAGE_LIMIT,
};
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use odata::edm::Permissions;

/// The prefix of every path of the API.
pub const PREFIX: &str = "/complyd/v1/";

fn permissions(name: &str, read: &[&str], write: &[&str]) -> Permissions {
    Permissions {
        name: name.into(),
        read: read.iter().map(|p| p.to_string()).collect(),
        write: write.iter().map(|p| p.to_string()).collect(),
    }
}

/// Routes `rest`, the path below [`PREFIX`].
pub async fn dispatch(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
    rest: &str,
    body: Body,
) -> Result<Response, ApiError> {
    let segments: Vec<&str> = rest.split('/').collect();
    let full = format!("{PREFIX}{rest}");
    match segments.as_slice() {
        ["outbox"] => outbox(state, parts, principal).await,
        ["webhook"] => webhook(state, parts, principal, body).await,
        ["webhook", "deliveries"] => {
            deliveries(state, parts, principal, DeliveryKind::Webhook).await
        }
        ["mail", "deliveries"] => deliveries(state, parts, principal, DeliveryKind::Mail).await,
        ["tenant"] => reset_tenant(state, parts, principal).await,
        ["devices", id, "checkIn"] if !id.is_empty() => {
            check_in(state, parts, principal, id, body).await
        }
        ["engine"] => engine(state, parts, principal).await,
        ["fleet"] => fleet(state, parts, principal, body).await,
        ["policies", "evaluate"] => what_if(state, parts, principal, body).await,
        ["engine", "settle"] => settle(state, parts, principal).await,
        ["clock"] => clock(state, parts, principal, body).await,
        ["clock", "schedule"] => schedule(state, parts, principal).await,
        ["verdicts"] => verdicts(state, parts, principal).await,
        _ => Err(ApiError::NotFound(format!(
            "complyd's API has no resource at {full} (see README, \"The compliance engine\")."
        ))),
    }
}

/// `GET /complyd/v1/outbox[?$top=N&$skip=M&kind=…&managedDeviceId=…]`: the tenant's outbox, oldest
/// first, for callers that may read the service configuration (or the compliance configuration).
/// The other parameters are [`crate::service::OUTBOX_FILTERS`], each an exact match.
async fn outbox(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
) -> Result<Response, ApiError> {
    if parts.method != Method::GET {
        return Err(no_route(
            "/complyd/v1/outbox",
            &parts.method,
            "/complyd/v1/outbox",
        ));
    }
    let readers = [
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementServiceConfig.ReadWrite.All",
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementConfiguration.ReadWrite.All",
    ];
    let permissions = permissions("outbox", &readers, &[]);
    principal.authorize(&permissions, false)?;
    let mut filters = Vec::new();
    let (skip, top) = page_with(parts, "The outbox", OUTBOX_PAGE_LIMIT, |name, value| {
        let known = crate::service::OUTBOX_FILTERS.contains(&name);
        if known {
            filters.push((name.to_string(), value.to_string()));
        }
        known
    })?;
    let messages = state
        .service
        .outbox(&principal.tenant, skip, top, &filters)
        .await?;
    Ok(response::document(serde_json::json!({ "value": messages })))
}

/// `$skip` and `$top` (100 unless given, at most `limit`) of a list that takes nothing else.
fn page(parts: &Parts, list: &str, limit: usize) -> Result<(usize, usize), ApiError> {
    page_with(parts, list, limit, |_, _| false)
}

/// `page`, with the other parameters `other` takes (it answers whether it took one).
fn page_with(
    parts: &Parts,
    list: &str,
    limit: usize,
    mut other: impl FnMut(&str, &str) -> bool,
) -> Result<(usize, usize), ApiError> {
    let (mut top, mut skip) = (100, 0);
    for (name, value) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        let number = || {
            value.parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!("{name} takes a whole number, not '{value}'."))
            })
        };
        match name.as_ref() {
            "$top" | "top" => top = number()?,
            "$skip" | "skip" => skip = number()?,
            name if other(name, &value) => {}
            name => {
                return Err(ApiError::bad_request(format!(
                    "{list} takes no parameter '{name}'."
                )))
            }
        }
    }
    if top > limit {
        return Err(ApiError::bad_request(format!(
            "$top is at most {limit} (the limit)."
        )));
    }
    Ok((skip, top))
}

/// Who may read the webhook and the deliveries, and who may change the webhook.
const SERVICE_CONFIG_READERS: [&str; 2] = [
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
];
const SERVICE_CONFIG_WRITERS: [&str; 1] = ["DeviceManagementServiceConfig.ReadWrite.All"];

/// `GET`, `PUT` (`{"url", "secret"}`) and `DELETE /complyd/v1/webhook`: the caller's tenant's
/// webhook, which every event the engine fires is POSTed to (service/deliveries).
async fn webhook(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
    body: Body,
) -> Result<Response, ApiError> {
    let path = format!("{PREFIX}webhook");
    let rights = permissions("webhook", &SERVICE_CONFIG_READERS, &SERVICE_CONFIG_WRITERS);
    let tenant = &principal.tenant;
    match parts.method {
        Method::GET => {
            principal.authorize(&rights, false)?;
            Ok(response::document(state.service.webhook(tenant).await?))
        }
        Method::PUT => {
            principal.authorize(&rights, true)?;
            let given = body::read_json(&parts.headers, body, state.body)
                .await?
                .ok_or_else(|| {
                    ApiError::bad_request("A webhook needs a JSON body: {\"url\", \"secret\"}.")
                })?;
            Ok(response::document(
                state.service.put_webhook(tenant, &given).await?,
            ))
        }
        Method::DELETE => {
            principal.authorize(&rights, true)?;
            state.service.delete_webhook(tenant).await?;
            Ok(axum::http::StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(no_route(&path, &parts.method, &path)),
    }
}

/// `GET /complyd/v1/webhook/deliveries` and `/complyd/v1/mail/deliveries[?$top=N&$skip=M]`: the
/// caller's tenant's deliveries of that kind, oldest first, with their state, attempts and last
/// error.
async fn deliveries(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
    kind: DeliveryKind,
) -> Result<Response, ApiError> {
    let path = match kind {
        DeliveryKind::Webhook => format!("{PREFIX}webhook/deliveries"),
        DeliveryKind::Mail => format!("{PREFIX}mail/deliveries"),
    };
    if parts.method != Method::GET {
        return Err(no_route(&path, &parts.method, &path));
    }
    principal.authorize(
        &permissions("deliveries", &SERVICE_CONFIG_READERS, &[]),
        false,
    )?;
    let (skip, top) = page(parts, "The deliveries", DELIVERIES_PAGE_LIMIT)?;
    let items = state
        .service
        .deliveries(&principal.tenant, kind, skip, top)
        .await?;
    Ok(response::document(serde_json::json!({ "value": items })))
}

/// `POST /complyd/v1/devices/{id}/checkIn`: what the device reports, evaluated; answers its
/// verdict and each applicable policy's state with its settings.
async fn check_in(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
    id: &str,
    body: Body,
) -> Result<Response, ApiError> {
    let path = format!("{PREFIX}devices/{id}/checkIn");
    if parts.method != Method::POST {
        return Err(no_route(&path, &parts.method, &path));
    }
    let writers = ["DeviceManagementManagedDevices.ReadWrite.All"];
    principal.authorize(&permissions("checkIn", &writers, &writers), true)?;
    let report = body::read_json(&parts.headers, body, state.body)
        .await?
        .ok_or_else(|| ApiError::bad_request("A check-in needs a JSON body (it may be {})."))?;
    let answer = state
        .service
        .check_in(&principal.tenant, id, &report)
        .await?;
    Ok(response::document(answer))
}

const ENGINE_READERS: [&str; 4] = [
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];

/// `GET /complyd/v1/engine`: whether a change of the caller's tenant waits to be evaluated.
async fn engine(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
) -> Result<Response, ApiError> {
    let path = format!("{PREFIX}engine");
    if parts.method != Method::GET {
        return Err(no_route(&path, &parts.method, &path));
    }
    principal.authorize(&permissions("engine", &ENGINE_READERS, &[]), false)?;
    let pending = state
        .service
        .reevaluation_pending(&principal.tenant)
        .await?;
    Ok(response::document(
        serde_json::json!({ "pending": pending }),
    ))
}

/// `GET /complyd/v1/verdicts`: the caller's tenant's devices by verdict, how many no policy
/// covers, and the verdicts' trend over the tenant's clock (service/verdicts.rs).
async fn verdicts(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
) -> Result<Response, ApiError> {
    let path = format!("{PREFIX}verdicts");
    if parts.method != Method::GET {
        return Err(no_route(&path, &parts.method, &path));
    }
    principal.authorize(&permissions("verdicts", &ENGINE_READERS, &[]), false)?;
    let answer = state.service.verdicts(&principal.tenant).await?;
    Ok(response::document(answer))
}

/// `POST /complyd/v1/engine/settle`: evaluates the caller's tenant now if a change waits, and
/// answers once every report is up to date (tests and scripts call it after a change).
async fn settle(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
) -> Result<Response, ApiError> {
    let path = format!("{PREFIX}engine/settle");
    if parts.method != Method::POST {
        return Err(no_route(&path, &parts.method, &path));
    }
    principal.authorize(
        &permissions("engine", &ENGINE_READERS, &ENGINE_READERS),
        true,
    )?;
    let evaluated = state.service.settle(&principal.tenant).await?;
    Ok(response::document(
        serde_json::json!({ "evaluated": evaluated, "pending": false }),
    ))
}

/// `GET /complyd/v1/clock`: the caller's tenant's time; `POST` with `{"advanceBy": "P3D"}`,
/// `{"setTo": "…"}` or `{"freeze": true}` moves it and answers what fired (service/time).
async fn clock(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
    body: Body,
) -> Result<Response, ApiError> {
    let path = format!("{PREFIX}clock");
    let writers = [
        "DeviceManagementConfiguration.ReadWrite.All",
        "DeviceManagementManagedDevices.ReadWrite.All",
    ];
    let answer = match parts.method {
        Method::GET => {
            principal.authorize(&permissions("clock", &ENGINE_READERS, &[]), false)?;
            state.service.clock(&principal.tenant).await?
        }
        Method::POST => {
            principal.authorize(&permissions("clock", &writers, &writers), true)?;
            let request = body::read_json(&parts.headers, body, state.body)
                .await?
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "A clock move needs a JSON body: advanceBy, setTo or freeze.",
                    )
                })?;
            let wanted = crate::service::time::ClockMove::parse(&request)?;
            state.service.move_clock(&principal.tenant, wanted).await?
        }
        _ => return Err(no_route(&path, &parts.method, &path)),
    };
    Ok(response::document(answer))
}

/// `GET /complyd/v1/clock/schedule[?advanceBy=P3D | setTo=…][&$top=N]`: what the caller's
/// tenant's clock would fire up to that instant (everything scheduled without one), earliest
/// first, without firing it.
async fn schedule(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
) -> Result<Response, ApiError> {
    let path = format!("{PREFIX}clock/schedule");
    if parts.method != Method::GET {
        return Err(no_route(&path, &parts.method, &path));
    }
    principal.authorize(&permissions("clock", &ENGINE_READERS, &[]), false)?;
    let mut until = None;
    let (_, top) = page_with(parts, "The schedule", SCHEDULE_PAGE_LIMIT, |name, value| {
        let known = name == "advanceBy" || name == "setTo";
        if known {
            until = Some(serde_json::json!({ name: value }));
        }
        known
    })?;
    let until = until
        .map(|body| crate::service::time::ClockMove::parse(&body))
        .transpose()?;
    let answer = state
        .service
        .schedule(&principal.tenant, until, top)
        .await?;
    Ok(response::document(answer))
}

/// `POST /complyd/v1/fleet` with `{"users": N, "devices": N, "seed": S}`: a generated fleet in the
/// caller's tenant (service/engine/fleet.rs), evaluated before the answer.
async fn fleet(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
    body: Body,
) -> Result<Response, ApiError> {
    let path = format!("{PREFIX}fleet");
    if parts.method != Method::POST {
        return Err(no_route(&path, &parts.method, &path));
    }
    // It writes the directory and managed devices: both permissions.
    let devices = ["DeviceManagementManagedDevices.ReadWrite.All"];
    let directory = ["Directory.ReadWrite.All"];
    principal.authorize(&permissions("fleet", &devices, &devices), true)?;
    principal.authorize(&permissions("fleet", &directory, &directory), true)?;
    let request = body::read_json(&parts.headers, body, state.body)
        .await?
        .unwrap_or_else(|| serde_json::json!({}));
    let object = request
        .as_object()
        .ok_or_else(|| ApiError::bad_request("A fleet request is a JSON object."))?;
    let count = |name: &str, default: u64| -> Result<usize, ApiError> {
        let value = match object.get(name) {
            None | Some(serde_json::Value::Null) => default,
            Some(v) => v.as_u64().ok_or_else(|| {
                ApiError::bad_request(format!("'{name}' takes a whole number, not {v}."))
            })?,
        };
        if value > MAX_FLEET_HTTP as u64 {
            return Err(ApiError::bad_request(format!(
                "'{name}' is at most {MAX_FLEET_HTTP} over HTTP (the limit; `complyd fleet generate` makes more)."
            )));
        }
        Ok(value as usize)
    };
    for name in object.keys() {
        if !["users", "devices", "seed"].contains(&name.as_str()) {
            return Err(ApiError::bad_request(format!(
                "A fleet request takes users, devices and seed, not '{name}'."
            )));
        }
    }
    let seed = match object.get("seed") {
        None | Some(serde_json::Value::Null) => 1,
        Some(v) => v.as_u64().ok_or_else(|| {
            ApiError::bad_request(format!("'seed' takes a whole number, not {v}."))
        })?,
    };
    let spec = FleetSpec {
        users: count("users", 50)?,
        devices: count("devices", 100)?,
        seed,
    };
    let made = state
        .service
        .generate_fleet(&principal.tenant, spec)
        .await?;
    let mut response = response::document(made.to_json());
    *response.status_mut() = axum::http::StatusCode::CREATED;
    Ok(response)
}

/// `POST /complyd/v1/policies/evaluate` with a compliance policy body (and, optionally, its
/// `assignments`): what it would do to the caller's devices, without storing it.
async fn what_if(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
    body: Body,
) -> Result<Response, ApiError> {
    let path = format!("{PREFIX}policies/evaluate");
    if parts.method != Method::POST {
        return Err(no_route(&path, &parts.method, &path));
    }
    // It reads policies' effect on devices: a reader of either may ask (it writes nothing).
    principal.authorize(
        &permissions("whatIf", &ENGINE_READERS, &ENGINE_READERS),
        true,
    )?;
    let policy = body::read_json(&parts.headers, body, state.body)
        .await?
        .ok_or_else(|| ApiError::bad_request("A what-if needs a compliance policy body."))?;
    let answer = state.service.what_if(&principal.tenant, &policy).await?;
    Ok(response::document(answer))
}

/// The permission `DELETE /complyd/v1/tenant` needs: complyd's own, which no Graph app holds,
/// so that only a token minted for it can empty a tenant.
pub const RESET_PERMISSION: &str = "Complyd.Tenant.Reset";

/// `DELETE /complyd/v1/tenant`: every row of the caller's tenant deleted in one write; answers
/// `{"deleted": N}`, the number of rows there were.
async fn reset_tenant(
    state: &AppState,
    parts: &Parts,
    principal: &Principal,
) -> Result<Response, ApiError> {
    let path = format!("{PREFIX}tenant");
    if parts.method != Method::DELETE {
        return Err(no_route(&path, &parts.method, &path));
    }
    principal.authorize(&permissions("tenant", &[], &[RESET_PERMISSION]), true)?;
    let deleted = state.service.reset_tenant(&principal.tenant).await?;
    Ok(response::document(
        serde_json::json!({ "deleted": deleted }),
    ))
}

//! The console (`complyd serve --console ADDR`): server-rendered pages on a listener of their
//! own at `/console`, where a person sees and drives their tenant's compliance.
//!
//! It is an OAuth client of complyd's own token service (the authorization-code flow with
//! PKCE, as the built-in public client [`crate::identity::CONSOLE_CLIENT_ID`]); the token
//! service's paths are answered on the console's listener too, so the sign-in stays on one
//! origin. Every page reads and writes through complyd's APIs with the signed-in user's token
//! (`api`), handed to the server's own API service in process: the API decides what the user may
//! do, and the console only hides what it would refuse.
//!
//! Parts: `session` (cookies, CSRF), `signin` (the OAuth client), `api`, `view` (the page
//! frame and HTML helpers), `assets` (CSS, script), `events` (server-sent events), and one
//! module per page in `pages/`.

mod api;
mod assets;
mod events;
mod pages;
mod request;
mod session;
mod signin;
mod view;

use crate::common::Changes;
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

/// The path of the callback the token service sends codes to.
pub const CALLBACK: &str = "/console/auth/callback";

/// The console's state, shared by its handlers.
pub struct Console {
    api: api::Api,
    sessions: session::Sessions,
    /// `scheme://host:port` the console answers on (the first is the one it names itself by).
    origins: Vec<String>,
    secure: bool,
    changes: Arc<Changes>,
    assets: assets::Assets,
    /// Becomes true when the server stops (event streams end then).
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl Console {
    /// A console that calls the server's API service `api`, reached at `origins`.
    pub fn new(
        api: crate::http::App,
        origins: Vec<String>,
        changes: Arc<Changes>,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let secure = origins.first().is_some_and(|o| o.starts_with("https://"));
        Self {
            api: api::Api::new(api.clone()),
            sessions: session::Sessions::default(),
            origins,
            secure,
            changes,
            assets: assets::Assets::new(),
            stopping,
        }
    }

    /// The callback URIs to register with the token service.
    pub fn redirect_uris(&self) -> Vec<String> {
        self.origins
            .iter()
            .map(|o| format!("{o}{CALLBACK}"))
            .collect()
    }
}

/// The origins a console bound to `address` is reached at: the address itself, and `localhost`
/// for a loopback or unspecified one.
pub fn origins(address: SocketAddr, https: bool) -> Vec<String> {
    let scheme = if https { "https" } else { "http" };
    let port = address.port();
    let ip = address.ip();
    let mut out = Vec::new();
    if ip.is_unspecified() {
        out.push(format!("{scheme}://localhost:{port}"));
        out.push(format!("{scheme}://127.0.0.1:{port}"));
    } else {
        out.push(format!("{scheme}://{address}"));
        if ip.is_loopback() {
            out.push(format!("{scheme}://localhost:{port}"));
        }
    }
    out
}

/// The console's routes; anything else goes to the token service (its paths only) or is a
/// page that says it is not there.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console", get(pages::overview::show))
        .route("/console/", get(pages::overview::show))
        .route("/console/signin", get(signin::start))
        .route(CALLBACK, get(signin::callback))
        .route("/console/signout", post(signin::sign_out))
        .route("/console/events", get(events::stream))
        .route("/console/assets/{name}", get(assets::serve))
        .route(
            "/console/policies",
            get(pages::policies::list).post(pages::policy_form::create),
        )
        .route("/console/policies/new", get(pages::policy_form::new))
        .route(
            "/console/policies/{id}",
            get(pages::policy::show).post(pages::policy_form::update),
        )
        .route("/console/policies/{id}/edit", get(pages::policy_form::edit))
        .route("/console/policies/{id}/assign", post(pages::policy::assign))
        .route("/console/devices", get(pages::devices::list))
        .route("/console/devices/{id}", get(pages::device::show))
        .route(
            "/console/devices/{id}/checkin",
            post(pages::device::check_in),
        )
        .route("/console/users", get(pages::users::list))
        .route("/console/users/{id}", get(pages::user::show))
        .route("/console/groups", get(pages::groups::list))
        .route("/console/outbox", get(pages::outbox::list))
        .route("/console/audit", get(pages::audit::list))
        .route("/console/simulation", get(pages::simulation::show))
        .route("/console/simulation/clock", post(pages::simulation::clock))
        .route("/console/simulation/fleet", post(pages::simulation::fleet))
        .fallback(request::elsewhere)
        .layer(axum::middleware::from_fn(server_timing))
        .with_state(console)
}

/// Says how long the server took over each answer (`Server-Timing: app;dur=…`, milliseconds), so
/// a browser's tools and the speed check (`bench/console.sh`) read the server's own time.
async fn server_timing(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = axum::http::HeaderValue::from_str(&format!("app;dur={ms:.1}")) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::origins;

    #[test]
    fn a_loopback_console_is_reached_by_its_address_and_localhost() {
        let loopback = "127.0.0.1:8081".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(
            origins(loopback, false),
            ["http://127.0.0.1:8081", "http://localhost:8081"]
        );
        let any = "0.0.0.0:9000".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(
            origins(any, true),
            ["https://localhost:9000", "https://127.0.0.1:9000"]
        );
    }
}

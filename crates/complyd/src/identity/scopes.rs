//! The scopes a client asks for (`scope=`, `resource=`) and those a delegated token gets: the
//! Graph permissions consented for the user.

use super::oauth_error::{oauth, OAuthError};
use super::registry;
use crate::common::AUDIENCES;
use axum::http::StatusCode;

/// Scopes of OpenID Connect itself, never Graph permissions.
pub(super) const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// `resource` names Graph (its URL or application id, with or without a trailing `/`).
pub(super) fn is_graph(resource: &str) -> bool {
    AUDIENCES.contains(&resource.trim_end_matches('/'))
}

/// Entra's answer for a resource that is not Graph.
pub(super) fn unknown_resource(resource: &str, tenant: &str) -> OAuthError {
    oauth(
        StatusCode::BAD_REQUEST,
        "invalid_resource",
        500011,
        format!(
            "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
        ),
    )
}

/// The words of `scope` that are OpenID Connect's.
pub(super) fn oidc_words(scope: &str) -> Vec<String> {
    scope
        .split_whitespace()
        .filter(|s| OIDC_SCOPES.contains(s))
        .map(str::to_string)
        .collect()
}

/// The Graph permissions a delegated `scope` asks for (`https://graph.microsoft.com/X` or bare
/// `X`); none for `.default` alone. Any other resource is refused.
pub(super) fn delegated(scope: &str, tenant: &str) -> Result<Vec<String>, OAuthError> {
    let mut scopes = Vec::new();
    for s in scope
        .split_whitespace()
        .filter(|s| !OIDC_SCOPES.contains(s))
    {
        let (resource, name) = match s.rsplit_once('/') {
            Some((r, n)) => (r, n),
            None => (AUDIENCES[0], s),
        };
        if !is_graph(resource) {
            return Err(unknown_resource(resource, tenant));
        }
        if name != ".default" {
            scopes.push(name.to_string());
        }
    }
    Ok(scopes)
}

/// The Graph scopes a delegated token gets: those asked for, each consented for the user;
/// every consented one when none is named (`.default`).
pub(super) fn consented(
    app: &registry::Application,
    user: &registry::User,
    asked: Vec<String>,
) -> Result<Vec<String>, OAuthError> {
    if asked.is_empty() {
        return Ok(user.scopes.clone());
    }
    if let Some(missing) = asked.iter().find(|s| !user.scopes.contains(s)) {
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
    Ok(asked)
}

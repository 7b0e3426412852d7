//! What a client reads before it asks for a token: the OpenID discovery documents, the JWKS,
//! MSAL's instance discovery and user realm.

use super::{Answer, Content, Identity};
use crate::common::{access_token_issuer, SIGN_IN_HOSTS};
use axum::http::StatusCode;
use serde_json::json;

pub(super) fn v2_issuer(tenant: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant}/v2.0")
}

/// Tenants named by alias (`common`, ...) advertise the `{tenantid}` placeholder, like Entra.
fn issuer_tenant(tenant: &str) -> &str {
    match tenant {
        "common" | "organizations" | "consumers" => "{tenantid}",
        other => other,
    }
}

/// The OpenID configuration of `tenant`, v2.0 or v1, pointing at this server (`o`).
pub(super) fn document(o: &str, tenant: &str, v1: bool) -> Answer {
    if v1 {
        return Answer::json(json!({
            "token_endpoint": format!("{o}/{tenant}/oauth2/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{o}/common/discovery/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid"],
            "issuer": access_token_issuer(issuer_tenant(tenant)),
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
        }));
    }
    Answer::json(json!({
        "token_endpoint": format!("{o}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{o}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": v2_issuer(issuer_tenant(tenant)),
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
}

/// The JWKS: the one signing key, with the issuer of the document that points here.
pub(super) async fn jwks(identity: &Identity, tenant: &str, v1: bool) -> Answer {
    let issuer = if v1 {
        access_token_issuer(issuer_tenant(tenant))
    } else {
        v2_issuer(issuer_tenant(tenant))
    };
    match identity.signing_key().await {
        Ok(key) => Answer::json(json!({ "keys": [key.jwk(&issuer)] })),
        Err(e) => {
            tracing::error!(error = %e, "signing key");
            Answer::with(StatusCode::INTERNAL_SERVER_ERROR, Content::Empty)
        }
    }
}

/// What MSAL asks of an authority it does not know: where its tenant discovery document is (the
/// tenant of the last `authorization_endpoint` given, else `common`).
pub(super) fn instance(o: &str, query: &str) -> Answer {
    let tenant = form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == "authorization_endpoint")
        .last()
        .and_then(|(_, url)| {
            let tenant = url.split("://").nth(1)?.split('/').nth(1)?.to_string();
            (!tenant.is_empty()).then_some(tenant)
        })
        .unwrap_or_else(|| "common".to_string());
    let host = o.split("://").nth(1).unwrap_or("");
    // Asked under one of Microsoft's sign-in names (through the proxy), every one of them is an
    // alias, as Entra answers; else the one name complyd was called by.
    let aliases: Vec<&str> = if SIGN_IN_HOSTS.contains(&host.to_ascii_lowercase().as_str()) {
        SIGN_IN_HOSTS.to_vec()
    } else {
        vec![host]
    };
    Answer::json(json!({
        "tenant_discovery_endpoint": format!("{o}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{ "preferred_network": host, "preferred_cache": host, "aliases": aliases }]
    }))
}

/// MSAL's user-realm lookup before a password grant: every user here is a managed one.
pub(super) fn user_realm(username: &str) -> Answer {
    let domain = username.rsplit('@').next().unwrap_or("");
    Answer::json(json!({
        "ver": "1.0",
        "account_type": "Managed",
        "domain_name": domain,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline"
    }))
}

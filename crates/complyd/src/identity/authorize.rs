//! The authorization endpoint of the authorization-code flow with PKCE:
//! `GET /{tenant}/oauth2/v2.0/authorize?response_type=code&client_id&redirect_uri&scope&state&
//! code_challenge&code_challenge_method=S256` shows the sign-in page; its form comes back as a
//! `POST` (with the request again, the user name, the password and the CSRF token) and is
//! answered with a redirect to `redirect_uri` carrying `code` and `state`.
//!
//! As OAuth asks, a request whose client or redirect URI is wrong is answered with an error
//! page (never sent to an unchecked address); every other error goes to the redirect URI as
//! `error` and `error_description`. `{tenant}` may be `organizations` or `common`: the tenant
//! is then the signed-in user's.

use super::grants::{self, CodeGrant};
use super::oauth_error::{missing, oauth, OAuthError};
use super::signin_page::SignInPage;
use super::token::TENANT_ALIASES;
use super::{registry, scopes, Answer, Asked, Content, Identity, CONSOLE_CLIENT_ID};
use crate::common::{html, now_unix};
use axum::http::{Method, StatusCode};
use std::collections::HashMap;

/// The longest value of any parameter, and the most parameters, a request may carry.
const MAX_PARAM: usize = 2048;
const MAX_PARAMS: usize = 32;
/// The cookie that holds the sign-in form's CSRF token (double submit).
const CSRF_COOKIE: &str = "complyd_signin";
/// The authorization request's parameters that the page carries back.
const CARRIED: [&str; 9] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "response_mode",
];

/// Why a request stops before the sign-in.
enum Stop {
    /// The client or the redirect URI cannot be trusted: a page, no redirect.
    Page(OAuthError),
    /// Sent back to the client's redirect URI.
    Redirect(OAuthError),
}

/// A checked authorization request.
struct Request {
    app: registry::Application,
    /// The app is the console's: valid in every tenant.
    any_tenant: bool,
    redirect_uri: String,
    state: Option<String>,
    challenge: String,
    asked: Vec<String>,
    oidc: Vec<String>,
    nonce: Option<String>,
    carried: Vec<(&'static str, String)>,
}

pub(super) async fn answer(
    identity: &Identity,
    method: &Method,
    asked: &Asked<'_>,
    tenant: &str,
) -> Answer {
    let source = if method == Method::POST {
        asked.form
    } else {
        asked.query.as_bytes()
    };
    let mut params = HashMap::new();
    for (name, value) in form_urlencoded::parse(source) {
        if params.len() >= MAX_PARAMS || value.len() > MAX_PARAM {
            let why = format!(
                "The request has more than {MAX_PARAMS} parameters or one longer than {MAX_PARAM} characters (the limits)."
            );
            return error_page(asked, invalid_request(why));
        }
        params.insert(name.into_owned(), value.into_owned());
    }
    let request = match check(identity, tenant, &params).await {
        Ok(request) => request,
        Err(Stop::Page(e)) => return error_page(asked, e),
        Err(Stop::Redirect(e)) => {
            let state = params.get("state").map(String::as_str);
            let uri = params.get("redirect_uri").map_or("", String::as_str);
            return redirect(&error_location(uri, &e, state, asked));
        }
    };
    if method == Method::GET {
        let hint = params.get("login_hint").map_or("", String::as_str);
        return sign_in_page(asked, tenant, &request, hint, None, StatusCode::OK);
    }
    signed_in(identity, asked, tenant, &request, &params).await
}

fn invalid_request(description: String) -> OAuthError {
    oauth(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        description,
    )
}

async fn check(
    identity: &Identity,
    tenant: &str,
    params: &HashMap<String, String>,
) -> Result<Request, Stop> {
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let alias = TENANT_ALIASES.contains(&tenant);
    let known = alias
        || registry::tenant_known(&identity.store, tenant)
            .await
            .map_err(|e| Stop::Page(super::oauth_error::store_failure(e)))?;
    if !known {
        return Err(Stop::Page(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        )));
    }
    let client_id = param("client_id").ok_or_else(|| Stop::Page(missing("client_id")))?;
    let any_tenant = client_id == CONSOLE_CLIENT_ID;
    let app = if alias && !any_tenant {
        registry::app(&identity.store, client_id).await
    } else {
        identity.client(client_id, tenant).await
    }
    .map_err(|e| Stop::Page(super::oauth_error::store_failure(e)))?
    .ok_or_else(|| {
        Stop::Page(oauth(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'."),
        ))
    })?;
    let redirect_uri = param("redirect_uri").ok_or_else(|| Stop::Page(missing("redirect_uri")))?;
    if !app.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(Stop::Page(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'.",
                app.client_id
            ),
        )));
    }
    let redirect_error = |code: u32, error: &'static str, text: &str| {
        Stop::Redirect(oauth(
            StatusCode::BAD_REQUEST,
            error,
            code,
            text.to_string(),
        ))
    };
    match param("response_type") {
        Some("code") => {}
        None => return Err(Stop::Redirect(missing("response_type"))),
        Some(other) => {
            return Err(redirect_error(
                700054,
                "unsupported_response_type",
                &format!("response_type '{other}' is not supported: complyd's authorization endpoint answers 'code'."),
            ))
        }
    }
    if let Some(mode) = param("response_mode").filter(|m| *m != "query") {
        return Err(redirect_error(
            900144,
            "invalid_request",
            &format!("response_mode '{mode}' is not supported: the code is sent in the query."),
        ));
    }
    let challenge = param("code_challenge").ok_or_else(|| {
        redirect_error(
            9002325,
            "invalid_request",
            "Proof Key for Code Exchange is required: send code_challenge and code_challenge_method=S256.",
        )
    })?;
    match param("code_challenge_method") {
        Some("S256") => {}
        other => {
            return Err(redirect_error(
                9002326,
                "invalid_request",
                &format!(
                    "code_challenge_method '{}' is not supported: use S256 (plain is refused).",
                    other.unwrap_or("plain")
                ),
            ))
        }
    }
    let well_formed = (43..=128).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return Err(redirect_error(
            9002327,
            "invalid_request",
            "code_challenge must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~' (base64url of SHA-256 of the verifier).",
        ));
    }
    let scope = param("scope").ok_or_else(|| Stop::Redirect(missing("scope")))?;
    let asked = scopes::delegated(scope, tenant).map_err(Stop::Redirect)?;
    let carried = CARRIED
        .iter()
        .filter_map(|name| Some((*name, params.get(*name)?.clone())))
        .collect();
    Ok(Request {
        app,
        any_tenant,
        redirect_uri: redirect_uri.to_string(),
        state: param("state").map(str::to_string),
        challenge: challenge.to_string(),
        asked,
        oidc: scopes::oidc_words(scope),
        nonce: param("nonce").map(str::to_string),
        carried,
    })
}

/// The form came back: the CSRF token, then the user, then the code.
async fn signed_in(
    identity: &Identity,
    asked: &Asked<'_>,
    tenant: &str,
    request: &Request,
    params: &HashMap<String, String>,
) -> Answer {
    let field = |name: &str| params.get(name).map_or("", String::as_str);
    let username = field("username").trim();
    let again = |error: &str| {
        sign_in_page(
            asked,
            tenant,
            request,
            username,
            Some(error),
            StatusCode::BAD_REQUEST,
        )
    };
    let cookie = crate::common::cookie(asked.cookie, CSRF_COOKIE);
    if !cookie.is_some_and(|c| grants::same(c, field("csrf"))) {
        return again("This sign-in form expired or did not come from this page. Sign in again.");
    }
    if username.is_empty() || field("password").is_empty() {
        return again("Enter your user name and password.");
    }
    let home = (!TENANT_ALIASES.contains(&tenant)).then_some(tenant);
    let found = registry::sign_in_user(&identity.store, home, username, field("password")).await;
    let user = match found {
        Ok(registry::SignIn::User(user)) => user,
        Ok(registry::SignIn::Refused) => return again("Your user name or password is incorrect."),
        Ok(registry::SignIn::Ambiguous) => {
            return again("This user name is in more than one tenant: sign in at your tenant's own address (/{tenant id}/oauth2/v2.0/authorize).")
        }
        Err(e) => return error_page(asked, super::oauth_error::store_failure(e)),
    };
    if !request.any_tenant && user.tenant != request.app.tenant {
        return again("This application is not registered in your tenant.");
    }
    let consented = scopes::consented(&request.app, &user, request.asked.clone());
    let granted = match consented {
        Ok(granted) => granted,
        Err(_) => {
            let e = oauth(
                StatusCode::BAD_REQUEST,
                "consent_required",
                65001,
                format!(
                    "The user or administrator has not consented to every scope asked for ({}).",
                    request.asked.join(" ")
                ),
            );
            let location =
                error_location(&request.redirect_uri, &e, request.state.as_deref(), asked);
            return redirect(&location);
        }
    };
    let now = now_unix();
    let grant = CodeGrant {
        client_id: request.app.client_id.clone(),
        tenant: user.tenant.clone(),
        user_id: user.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        challenge: request.challenge.clone(),
        scopes: granted,
        oidc: request.oidc.clone(),
        nonce: request.nonce.clone(),
        expires: now + grants::CODE_LIFETIME,
        redeemed: None,
    };
    let code = match grants::issue_code(&identity.store, grant, now).await {
        Ok(code) => code,
        Err(e) => return error_page(asked, super::oauth_error::store_failure(e)),
    };
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = &request.state {
        pairs.push(("state", state));
    }
    redirect(&with_query(&request.redirect_uri, &pairs))
        .header("set-cookie", csrf_cookie(asked, "", 0))
}

fn csrf_cookie(asked: &Asked<'_>, value: &str, max_age: u32) -> String {
    let secure = if asked.origin.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// `uri` with `pairs` added to its query.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{query}")
}

fn error_location(uri: &str, e: &OAuthError, state: Option<&str>, asked: &Asked<'_>) -> String {
    let description = e.description(asked.ctx);
    let mut pairs = vec![
        ("error", e.error()),
        ("error_description", description.as_str()),
    ];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    with_query(uri, &pairs)
}

fn redirect(location: &str) -> Answer {
    Answer::with(StatusCode::FOUND, Content::Empty)
        .header("location", location)
        .header("cache-control", "no-store")
}

/// The headers every page of the endpoint carries: no caching, no framing, no script.
fn page(status: StatusCode, body: String, form_target: Option<&str>) -> Answer {
    let form_action = match form_target {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_string(),
    };
    Answer::with(status, Content::Html(body))
        .header("cache-control", "no-store")
        .header("x-frame-options", "DENY")
        .header("referrer-policy", "no-referrer")
        .header(
            "content-security-policy",
            format!("default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"),
        )
}

/// The origin (`scheme://host[:port]`) of `uri`, when it is plainly one.
fn origin_of(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once("://")?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = uri.get(..scheme.len() + 3 + host_end)?;
    let plain = origin
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-:/[]".contains(&b));
    (plain && matches!(scheme, "http" | "https")).then_some(origin)
}

fn sign_in_page(
    asked: &Asked<'_>,
    tenant: &str,
    request: &Request,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Answer {
    let csrf = grants::random_secret();
    let body = SignInPage {
        app_name: &request.app.name,
        tenant,
        request: &request.carried,
        csrf: &csrf,
        username,
        error,
    }
    .render();
    page(status, body, origin_of(&request.redirect_uri))
        .header("set-cookie", csrf_cookie(asked, &csrf, 1800))
}

/// An error that cannot go back to the client: a page that says it, with Entra's description.
fn error_page(asked: &Asked<'_>, e: OAuthError) -> Answer {
    let status = e.status();
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in error</title></head>\
<body><main><h1>Sign-in error</h1><p role=\"alert\"><strong>{}</strong>: {}</p></main></body></html>",
        html::Escaped(e.error()),
        html::Escaped(&e.description(asked.ctx)),
    );
    page(status, body, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_appended_encoded() {
        assert_eq!(
            with_query("https://app/cb", &[("code", "a b"), ("state", "x&y")]),
            "https://app/cb?code=a+b&state=x%26y"
        );
        assert_eq!(
            with_query("https://app/cb?k=1", &[("code", "c")]),
            "https://app/cb?k=1&code=c"
        );
    }

    #[test]
    fn origins_are_taken_only_from_plain_http_uris() {
        assert_eq!(
            origin_of("http://127.0.0.1:9/console/cb?x=1"),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(
            origin_of("https://app.example"),
            Some("https://app.example")
        );
        assert_eq!(origin_of("myapp://cb"), None);
        assert_eq!(origin_of("https://a b/"), None);
        assert_eq!(origin_of("https://a;script-src *"), None);
    }
}

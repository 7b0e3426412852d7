//! The console as an OAuth client of complyd's token service: the authorization-code flow with
//! PKCE (`/console/signin` → the token service's sign-in page → `/console/auth/callback`),
//! refreshing the access token with the rotating refresh token, and signing out (the refresh
//! token revoked, the session ended).

use super::api::path_with;
use super::request::{claims_of, csrf_refused, query, redirect, tokens_from, Ctx};
use super::session::{self, Stage, Tokens, User};
use super::{view, Console, CALLBACK};
use crate::common::{cookie, host};
use crate::identity::grants::{random_secret, s256, same};
use crate::identity::CONSOLE_CLIENT_ID;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use std::sync::Arc;

/// What the console asks for: every Graph permission consented for the user, an ID token and
/// a refresh token.
const SCOPE: &str = "https://graph.microsoft.com/.default openid profile offline_access";

/// The console's own page a sign-in returns to: a path under `/console`, else the overview.
fn safe_return(asked: Option<&String>) -> String {
    match asked {
        Some(path)
            if path.starts_with("/console")
                && !path.contains("//")
                && !path.contains('\\')
                && path.len() <= 1024 =>
        {
            path.clone()
        }
        _ => "/console".to_string(),
    }
}

/// The console's origin the browser called (one of those registered), else its first.
fn origin_called<'a>(console: &'a Console, headers: &HeaderMap) -> &'a str {
    let scheme = if console.secure { "https" } else { "http" };
    let called = format!("{scheme}://{}", host(headers));
    console
        .origins
        .iter()
        .find(|o| **o == called)
        .or(console.origins.first())
        .map_or("", String::as_str)
}

fn with_cookie(mut res: Response, value: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
    res
}

/// `GET /console/signin[?return=/console/…][&tenant=ID]`: a sign-in under way, sent to the
/// authorization endpoint (`organizations`: the user's tenant is found from them; or the
/// tenant named).
pub async fn start(State(console): State<Arc<Console>>, headers: HeaderMap, uri: Uri) -> Response {
    let params = query(&uri);
    let redirect_uri = format!("{}{CALLBACK}", origin_called(&console, &headers));
    let verifier = random_secret();
    let state = random_secret();
    let tenant = params
        .get("tenant")
        .filter(|t| {
            !t.is_empty()
                && t.len() <= 64
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map_or("organizations", String::as_str);
    let authorize = path_with(
        &format!("/{tenant}/oauth2/v2.0/authorize"),
        &[
            ("response_type", "code".into()),
            ("client_id", CONSOLE_CLIENT_ID.into()),
            ("redirect_uri", redirect_uri.clone()),
            ("scope", SCOPE.into()),
            ("state", state.clone()),
            ("code_challenge", s256(&verifier)),
            ("code_challenge_method", "S256".into()),
        ],
    );
    let session = console.sessions.start(Stage::SigningIn {
        state,
        verifier,
        redirect_uri,
        return_to: safe_return(params.get("return")),
    });
    with_cookie(
        redirect(&authorize),
        &session::set_cookie(Some(&session.id), console.secure),
    )
}

/// `GET /console/auth/callback?code&state` (or `error`): the code redeemed with the verifier,
/// and a new session for the signed-in user.
pub async fn callback(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let params = query(&uri);
    let pending = cookie(
        headers.get(header::COOKIE).and_then(|v| v.to_str().ok()),
        session::COOKIE,
    )
    .and_then(|id| console.sessions.get(id));
    let Some(pending) = pending else {
        return sign_in_again("This sign-in has expired or was started in another browser.");
    };
    let Stage::SigningIn {
        state,
        verifier,
        redirect_uri,
        return_to,
    } = &pending.stage
    else {
        return redirect("/console");
    };
    console.sessions.end(&pending.id);
    if !params.get("state").is_some_and(|s| same(s, state)) {
        return sign_in_again(
            "The sign-in's answer did not match the sign-in this browser started.",
        );
    }
    if let Some(error) = params.get("error") {
        let why = params.get("error_description").map_or("", String::as_str);
        return sign_in_again(&format!("The sign-in was refused ({error}): {why}"));
    }
    let Some(code) = params.get("code") else {
        return sign_in_again("The sign-in's answer had no code.");
    };
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", CONSOLE_CLIENT_ID),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let answer = match token_request(
        &console,
        host(&headers),
        "organizations/oauth2/v2.0/token",
        &form,
    )
    .await
    {
        Ok(answer) => answer,
        Err(why) => return sign_in_again(&why),
    };
    let (Some(tokens), Some(user)) = (tokens_from(&answer), user_of(&answer)) else {
        return sign_in_again("The token service's answer had no usable token.");
    };
    let session = console.sessions.start(Stage::SignedIn {
        user,
        tokens: tokio::sync::Mutex::new(tokens),
    });
    with_cookie(
        redirect(return_to),
        &session::set_cookie(Some(&session.id), console.secure),
    )
}

/// Who the access token is for.
fn user_of(answer: &serde_json::Value) -> Option<User> {
    let claims = claims_of(answer["access_token"].as_str()?)?;
    Some(User {
        name: claims["upn"]
            .as_str()
            .or(claims["name"].as_str())
            .unwrap_or("")
            .to_string(),
        tenant: claims["tid"].as_str()?.to_string(),
    })
}

fn sign_in_again(why: &str) -> Response {
    view::message_page_with_link(
        StatusCode::BAD_REQUEST,
        "Sign-in failed",
        why,
        ("/console/signin", "Sign in again"),
    )
}

/// A form POSTed to the token service (`path` below `/`); its JSON answer, or why not.
async fn token_request(
    console: &Console,
    host: &str,
    path: &str,
    form: &[(&str, &str)],
) -> Result<serde_json::Value, String> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
        .into_bytes();
    console
        .api
        .send(
            Method::POST,
            &format!("/{path}"),
            host,
            None,
            Some(("application/x-www-form-urlencoded", body)),
        )
        .await
        .map(|(_, answer)| answer)
        .map_err(|f| f.message)
}

/// New tokens for a session whose access token is about to expire.
pub async fn refresh(console: &Console, host: &str, tokens: &Tokens) -> Result<Tokens, String> {
    let Some(refresh_token) = &tokens.refresh else {
        return Err("no refresh token".into());
    };
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", CONSOLE_CLIENT_ID),
        ("refresh_token", refresh_token.as_str()),
    ];
    let answer = token_request(console, host, "organizations/oauth2/v2.0/token", &form).await?;
    tokens_from(&answer).ok_or_else(|| "the refresh answered no token".to_string())
}

/// `POST /console/signout` (with the CSRF token): the refresh token revoked, the session ended,
/// the cookie cleared.
pub async fn sign_out(ctx: Ctx, headers: HeaderMap, body: Body) -> Response {
    if super::request::Form::read(&ctx, &headers, body)
        .await
        .is_err()
    {
        return csrf_refused();
    }
    if let Stage::SignedIn { tokens, .. } = &ctx.session.stage {
        let refresh = tokens.lock().await.refresh.clone();
        if let Some(token) = refresh {
            let form = [("token", token.as_str()), ("client_id", CONSOLE_CLIENT_ID)];
            let path = format!("{}/oauth2/v2.0/revoke", ctx.user.tenant);
            if let Err(why) = token_request(&ctx.console, &ctx.host, &path, &form).await {
                tracing::warn!(error = %why, "the console's refresh token was not revoked");
            }
        }
    }
    ctx.console.sessions.end(&ctx.session.id);
    let page = view::message_page_with_link(
        StatusCode::OK,
        "Signed out",
        "You are signed out of the console.",
        ("/console/signin", "Sign in again"),
    );
    with_cookie(page, &session::set_cookie(None, ctx.console.secure))
}

#[cfg(test)]
mod tests {
    use super::safe_return;

    #[test]
    fn a_sign_in_returns_only_to_the_consoles_own_pages() {
        let go = |p: &str| safe_return(Some(&p.to_string()));
        assert_eq!(go("/console/devices?x=1"), "/console/devices?x=1");
        assert_eq!(go("https://evil.example/console"), "/console");
        assert_eq!(go("//evil.example/console"), "/console");
        assert_eq!(go("/console//evil.example"), "/console");
        assert_eq!(go("/other"), "/console");
        assert_eq!(safe_return(None), "/console");
    }
}

//! The authorization-code flow with PKCE: the sign-in page and its form, codes redeemed once
//! with their verifier, rotating refresh tokens, revocation, and the errors of each step.

use crate::identity::{assert_oauth_error, open_store, payload};
use crate::support::{Server, OTHER_TENANT, POLICIES, READ, TENANT};
use complyd::identity::registry::{self, Application, User};
use serde_json::Value;

const APP: &str = "bbbbbbbb-0000-4000-8000-000000000001";
const SECRET_APP: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const APP_SECRET: &str = "code-flow-app-secret";
const CALLBACK: &str = "http://127.0.0.1:1/callback";
const USER: &str = "grace@example.test";
const PASSWORD: &str = "the right password";
/// A verifier and its S256 challenge (computed apart, with Python's hashlib).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWjOEjXk";
const CHALLENGE: &str = "VYFANLqdx_HDV6BqEhluZJ63rtrIPROSSFdB3P6G83I";
const SCOPE: &str = "https://graph.microsoft.com/.default openid offline_access";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A server with a public client and a confidential one (both with `CALLBACK`), and a reader in
/// `TENANT`; the same user name in `OTHER_TENANT` with another password.
async fn registered() -> Server {
    let server = Server::start().await;
    let store = open_store(&server).await;
    for (client_id, secret) in [(APP, None), (SECRET_APP, Some(APP_SECRET))] {
        registry::add_app(
            &store,
            Application {
                client_id: client_id.into(),
                tenant: TENANT.into(),
                name: "Code flow app".into(),
                object_id: uuid::Uuid::new_v4().to_string(),
                secrets: secret.map(registry::hash_secret).into_iter().collect(),
                certificates: Vec::new(),
                roles: Vec::new(),
                redirect_uris: vec![CALLBACK.into()],
                created: 0,
            },
        )
        .await
        .unwrap();
    }
    for (tenant, password) in [(TENANT, PASSWORD), (OTHER_TENANT, "another password")] {
        registry::add_user(
            &store,
            User {
                id: uuid::Uuid::new_v4().to_string(),
                tenant: tenant.into(),
                username: USER.into(),
                password: registry::hash_secret(password),
                scopes: vec![READ.into()],
                created: 0,
            },
        )
        .await
        .unwrap();
    }
    server
}

/// The authorization request's query, with `changes` applied (`None` leaves a parameter out).
fn authorize_query(changes: QueryChanges) -> Vec<(String, String)> {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", APP),
        ("redirect_uri", CALLBACK),
        ("scope", SCOPE),
        ("state", "state-123"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect::<Vec<_>>();
    for (name, value) in changes {
        params.retain(|(k, _)| k != name);
        if let Some(value) = value {
            params.push((name.to_string(), value.to_string()));
        }
    }
    params
}

/// Parameters changed from [`authorize_query`]'s (`None` leaves one out).
type QueryChanges<'a> = &'a [(&'a str, Option<&'a str>)];
/// Form fields changed from [`redeem`]'s.
type FormChanges<'a> = &'a [(&'a str, &'a str)];

struct Page {
    status: u16,
    location: Option<String>,
    cookie: Option<String>,
    body: String,
}

async fn page(res: reqwest::Response) -> Page {
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (location, cookie) = (header("location"), header("set-cookie"));
    Page {
        status: res.status().as_u16(),
        location,
        cookie,
        body: res.text().await.unwrap(),
    }
}

async fn authorize_get(server: &Server, tenant: &str, query: &[(String, String)]) -> Page {
    let url = format!("{}/{tenant}/oauth2/v2.0/authorize", server.base);
    page(no_redirects().get(url).query(query).send().await.unwrap()).await
}

/// The value of hidden field `name` on a page.
fn field(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).map(|i| i + marker.len()).unwrap();
    body[start..].split('"').next().unwrap().to_string()
}

/// The `name=value` of a `Set-Cookie` header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// Shows the page, then sends its form back with `username`/`password`; answers the result.
async fn sign_in(
    server: &Server,
    tenant: &str,
    query: &[(String, String)],
    username: &str,
    password: &str,
) -> Page {
    let shown = authorize_get(server, tenant, query).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let cookie = cookie_pair(shown.cookie.as_deref().unwrap());
    let mut form = query.to_vec();
    form.push(("csrf".into(), field(&shown.body, "csrf")));
    form.push(("username".into(), username.into()));
    form.push(("password".into(), password.into()));
    let url = format!("{}/{tenant}/oauth2/v2.0/authorize", server.base);
    let res = no_redirects()
        .post(url)
        .header("cookie", cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    page(res).await
}

/// The query parameters of a redirect's location.
fn location_params(location: &str) -> std::collections::HashMap<String, String> {
    let query = location.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// A code for the user in `TENANT`.
async fn new_code(server: &Server) -> String {
    let done = sign_in(server, TENANT, &authorize_query(&[]), USER, PASSWORD).await;
    assert_eq!(done.status, 302, "{}", done.body);
    let location = done.location.unwrap();
    assert!(location.starts_with(&format!("{CALLBACK}?")), "{location}");
    let params = location_params(&location);
    assert_eq!(params["state"], "state-123");
    params["code"].clone()
}

async fn token(server: &Server, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", server.base))
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn redeem(server: &Server, code: &str, changes: FormChanges<'_>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", APP),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
    ];
    for (name, value) in changes {
        form.retain(|(k, _)| k != name);
        form.push((name, value));
    }
    token(server, TENANT, &form).await
}

async fn refresh(server: &Server, refresh_token: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", APP),
        ("refresh_token", refresh_token),
    ];
    token(server, TENANT, &form).await
}

async fn policies_status(server: &Server, access_token: &str, write: bool) -> u16 {
    let url = format!("{}/v1.0/{POLICIES}", server.base);
    let client = reqwest::Client::new();
    let request = if write {
        client.post(url).json(&serde_json::json!({}))
    } else {
        client.get(url)
    };
    request
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_sign_in_page_is_a_labelled_form_that_carries_the_request_and_a_csrf_token() {
    let server = registered().await;
    let shown = authorize_get(
        &server,
        TENANT,
        &authorize_query(&[("login_hint", Some(USER))]),
    )
    .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(
        shown.body.contains("<label for=\"username\">"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("<label for=\"password\">"));
    assert!(shown.body.contains("Code flow app"));
    assert_eq!(field(&shown.body, "code_challenge"), CHALLENGE);
    assert_eq!(field(&shown.body, "state"), "state-123");
    assert!(
        shown.body.contains(&format!("value=\"{USER}\"")),
        "login_hint fills the name"
    );
    let cookie = shown.cookie.unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(
        cookie_pair(&cookie),
        format!("complyd_signin={}", field(&shown.body, "csrf"))
    );
}

#[tokio::test]
async fn a_signed_in_user_gets_a_code_that_redeems_once_for_tokens_with_its_scopes() {
    let server = registered().await;
    let code = new_code(&server).await;
    let (status, body) = redeem(&server, &code, &[]).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap();
    let claims = payload(access);
    assert_eq!(claims["scp"], READ);
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["upn"], USER);
    assert_eq!(claims["appid"], APP);
    assert_eq!(payload(body["id_token"].as_str().unwrap())["aud"], APP);
    assert!(
        body["refresh_token"].is_string(),
        "offline_access gives a refresh token: {body}"
    );
    assert_eq!(
        policies_status(&server, access, false).await,
        200,
        "reads with its scope"
    );
    assert_eq!(
        policies_status(&server, access, true).await,
        403,
        "a reader cannot write"
    );
    // A second redemption is refused, and revokes what the first one gave.
    let (status, again) = redeem(&server, &code, &[]).await;
    assert_oauth_error(
        status,
        &again,
        400,
        "invalid_grant",
        54005,
        "a code used twice",
    );
    let (status, refreshed) = refresh(&server, body["refresh_token"].as_str().unwrap()).await;
    assert_oauth_error(
        status,
        &refreshed,
        400,
        "invalid_grant",
        70008,
        "the replayed code's refresh token",
    );
}

#[tokio::test]
async fn a_code_is_bound_to_its_verifier_redirect_uri_client_and_tenant() {
    let server = registered().await;
    let other_verifier = "x".repeat(43);
    let cases: [(&str, FormChanges, &str, u64); 5] = [
        (
            "another verifier",
            &[("code_verifier", &other_verifier)],
            "invalid_grant",
            50148,
        ),
        (
            "a verifier too short",
            &[("code_verifier", "short")],
            "invalid_grant",
            50148,
        ),
        (
            "another redirect URI",
            &[("redirect_uri", "http://127.0.0.1:1/other")],
            "invalid_grant",
            50011,
        ),
        (
            "another client",
            &[("client_id", SECRET_APP)],
            "invalid_grant",
            70000,
        ),
        (
            "no verifier",
            &[("code_verifier", "")],
            "invalid_request",
            900144,
        ),
    ];
    for (why, changes, error, code_number) in cases {
        let code = new_code(&server).await;
        let (status, body) = redeem(&server, &code, changes).await;
        assert_oauth_error(status, &body, 400, error, code_number, why);
        if error == "invalid_grant" {
            // The code is used up by the failed attempt.
            let (status, body) = redeem(&server, &code, &[]).await;
            assert_oauth_error(status, &body, 400, "invalid_grant", 54005, why);
        }
    }
    let code = new_code(&server).await;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", APP),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
    ];
    let (status, body) = token(&server, OTHER_TENANT, &form).await;
    assert_oauth_error(
        status,
        &body,
        400,
        "invalid_grant",
        70000,
        "another tenant's endpoint",
    );
    let code = new_code(&server).await;
    form[2].1 = code.as_str();
    let (status, body) = token(&server, "organizations", &form).await;
    assert_eq!(
        status, 200,
        "the organizations endpoint takes the code's tenant: {body}"
    );
    assert_eq!(
        payload(body["access_token"].as_str().unwrap())["tid"],
        TENANT
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_revokes_its_sign_in() {
    let server = registered().await;
    let (_, first) = redeem(&server, &new_code(&server).await, &[]).await;
    let first_refresh = first["refresh_token"].as_str().unwrap().to_string();
    let (status, second) = refresh(&server, &first_refresh).await;
    assert_eq!(status, 200, "{second}");
    let second_refresh = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first_refresh, second_refresh);
    assert_eq!(
        payload(second["access_token"].as_str().unwrap())["scp"],
        READ
    );
    assert_eq!(
        policies_status(&server, second["access_token"].as_str().unwrap(), false).await,
        200
    );
    // The rotated-away token, presented again: refused, and the family with it.
    let (status, body) = refresh(&server, &first_refresh).await;
    assert_oauth_error(
        status,
        &body,
        400,
        "invalid_grant",
        50173,
        "a replayed refresh token",
    );
    let (status, body) = refresh(&server, &second_refresh).await;
    assert_oauth_error(
        status,
        &body,
        400,
        "invalid_grant",
        70008,
        "the family is revoked",
    );
    // Another client cannot use one, and the token stays usable by its own.
    let (_, fresh) = redeem(&server, &new_code(&server).await, &[]).await;
    let fresh_refresh = fresh["refresh_token"].as_str().unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", SECRET_APP),
        ("client_secret", APP_SECRET),
        ("refresh_token", fresh_refresh),
    ];
    let (status, body) = token(&server, TENANT, &form).await;
    assert_oauth_error(
        status,
        &body,
        400,
        "invalid_grant",
        70000,
        "another client's refresh token",
    );
    let (status, body) = refresh(&server, fresh_refresh).await;
    assert_eq!(status, 200, "{body}");
    // Asking for more than the sign-in granted is refused.
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", APP),
        ("refresh_token", body["refresh_token"].as_str().unwrap()),
        (
            "scope",
            "https://graph.microsoft.com/DeviceManagementConfiguration.ReadWrite.All",
        ),
    ];
    let (status, body) = token(&server, TENANT, &form).await;
    assert_oauth_error(
        status,
        &body,
        400,
        "invalid_scope",
        70011,
        "a scope not granted",
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_no_longer_refreshes() {
    let server = registered().await;
    let (_, tokens) = redeem(&server, &new_code(&server).await, &[]).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let revoke = |client_id: &'static str| {
        let url = format!("{}/{TENANT}/oauth2/v2.0/revoke", server.base);
        let form = vec![
            ("token", refresh_token.to_string()),
            ("client_id", client_id.to_string()),
        ];
        async move {
            reqwest::Client::new()
                .post(url)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        revoke(SECRET_APP).await.status().as_u16(),
        200,
        "another client: 200 all the same"
    );
    let (status, body) = refresh(&server, refresh_token).await;
    assert_eq!(
        status, 200,
        "another client's revocation revokes nothing: {body}"
    );
    let current = body["refresh_token"].as_str().unwrap().to_string();
    let url = format!("{}/{TENANT}/oauth2/v2.0/revoke", server.base);
    let res = reqwest::Client::new()
        .post(url)
        .form(&[("token", current.as_str()), ("client_id", APP)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let (status, body) = refresh(&server, &current).await;
    assert_oauth_error(
        status,
        &body,
        400,
        "invalid_grant",
        70008,
        "a revoked refresh token",
    );
}

#[tokio::test]
async fn authorization_requests_that_cannot_be_trusted_get_a_page_and_the_others_a_redirect() {
    let server = registered().await;
    // The client or redirect URI is wrong: an error page, never a redirect.
    let pages: [(&str, QueryChanges, &str); 4] = [
        (
            "an unknown client",
            &[("client_id", Some("bbbbbbbb-0000-4000-8000-0000000000ff"))],
            "AADSTS700016",
        ),
        ("no client", &[("client_id", None)], "AADSTS900144"),
        (
            "an unregistered redirect URI",
            &[("redirect_uri", Some("http://evil.example/cb"))],
            "AADSTS50011",
        ),
        ("no redirect URI", &[("redirect_uri", None)], "AADSTS900144"),
    ];
    for (why, changes, code) in pages {
        let shown = authorize_get(&server, TENANT, &authorize_query(changes)).await;
        assert_eq!(shown.status, 400, "{why}: {}", shown.body);
        assert!(shown.location.is_none(), "{why}");
        assert!(
            shown.body.contains(code) && shown.body.contains("role=\"alert\""),
            "{why}: {}",
            shown.body
        );
    }
    let unknown_tenant = authorize_get(&server, "not-a-tenant", &authorize_query(&[])).await;
    assert_eq!(unknown_tenant.status, 400);
    assert!(
        unknown_tenant.body.contains("AADSTS90002"),
        "{}",
        unknown_tenant.body
    );
    // Everything else goes back to the client, with the state.
    let redirects: [(&str, QueryChanges, &str, &str); 6] = [
        (
            "no PKCE challenge",
            &[("code_challenge", None)],
            "invalid_request",
            "AADSTS9002325",
        ),
        (
            "the plain method",
            &[("code_challenge_method", Some("plain"))],
            "invalid_request",
            "AADSTS9002326",
        ),
        (
            "no method (plain by default)",
            &[("code_challenge_method", None)],
            "invalid_request",
            "AADSTS9002326",
        ),
        (
            "a malformed challenge",
            &[("code_challenge", Some("short"))],
            "invalid_request",
            "AADSTS9002327",
        ),
        (
            "an implicit grant",
            &[("response_type", Some("token"))],
            "unsupported_response_type",
            "AADSTS700054",
        ),
        (
            "another resource",
            &[("scope", Some("https://vault.azure.net/.default"))],
            "invalid_resource",
            "AADSTS500011",
        ),
    ];
    for (why, changes, error, code) in redirects {
        let shown = authorize_get(&server, TENANT, &authorize_query(changes)).await;
        assert_eq!(shown.status, 302, "{why}: {}", shown.body);
        let location = shown.location.unwrap();
        assert!(location.starts_with(CALLBACK), "{why}: {location}");
        let params = location_params(&location);
        assert_eq!(params["error"], error, "{why}");
        assert!(
            params["error_description"].starts_with(code),
            "{why}: {params:?}"
        );
        assert_eq!(params["state"], "state-123", "{why}");
        assert!(!params.contains_key("code"), "{why}");
    }
}

#[tokio::test]
async fn the_form_needs_its_csrf_token_and_the_right_password() {
    let server = registered().await;
    let query = authorize_query(&[]);
    let wrong = sign_in(&server, TENANT, &query, USER, "wrong").await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.location.is_none());
    assert!(
        wrong.body.contains("role=\"alert\"") && wrong.body.contains("incorrect"),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains(&format!("value=\"{USER}\"")),
        "the name typed stays"
    );
    // The form without the cookie that goes with its token.
    let shown = authorize_get(&server, TENANT, &query).await;
    let mut form = query.clone();
    form.push(("csrf".into(), field(&shown.body, "csrf")));
    form.push(("username".into(), USER.into()));
    form.push(("password".into(), PASSWORD.into()));
    let url = format!("{}/{TENANT}/oauth2/v2.0/authorize", server.base);
    for cookie in [None, Some("complyd_signin=forged")] {
        let mut request = no_redirects().post(&url).form(&form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let refused = page(request.send().await.unwrap()).await;
        assert_eq!(refused.status, 400, "{cookie:?}");
        assert!(refused.location.is_none(), "{cookie:?}");
        assert!(
            refused
                .body
                .contains("expired or did not come from this page"),
            "{}",
            refused.body
        );
    }
}

#[tokio::test]
async fn at_organizations_the_users_tenant_is_found_from_the_user() {
    let server = registered().await;
    // The same name is in two tenants; the password tells them apart.
    let done = sign_in(
        &server,
        "organizations",
        &authorize_query(&[]),
        USER,
        PASSWORD,
    )
    .await;
    assert_eq!(done.status, 302, "{}", done.body);
    let code = location_params(&done.location.unwrap())["code"].clone();
    let (status, body) = token(
        &server,
        "organizations",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", APP),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        payload(body["access_token"].as_str().unwrap())["tid"],
        TENANT
    );
    // A user of the other tenant cannot sign in to an app registered in this one.
    let other = sign_in(
        &server,
        "organizations",
        &authorize_query(&[]),
        USER,
        "another password",
    )
    .await;
    assert_eq!(other.status, 400);
    assert!(
        other.body.contains("not registered in your tenant"),
        "{}",
        other.body
    );
}

#[tokio::test]
async fn a_confidential_client_redeems_only_with_its_secret() {
    let server = registered().await;
    let query = authorize_query(&[("client_id", Some(SECRET_APP))]);
    let done = sign_in(&server, TENANT, &query, USER, PASSWORD).await;
    let code = location_params(&done.location.unwrap())["code"].clone();
    let form = |secret: &'static str| {
        vec![
            ("grant_type", "authorization_code"),
            ("client_id", SECRET_APP),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
            ("client_secret", secret),
        ]
    };
    let (status, body) = token(&server, TENANT, &form("")).await;
    assert_oauth_error(status, &body, 401, "invalid_client", 7000218, "no secret");
    let done = sign_in(&server, TENANT, &query, USER, PASSWORD).await;
    let code = location_params(&done.location.unwrap())["code"].clone();
    let (status, body) = token(
        &server,
        TENANT,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", SECRET_APP),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
            ("client_secret", APP_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        payload(body["access_token"].as_str().unwrap())["appidacr"],
        "1"
    );
}

//! The console (`--console`): signing in through the token service's authorization-code flow,
//! the session cookie, pages that show what the API answers, CSRF on every write, a read-only
//! user without write controls (and refused by the API all the same), sign-out, live events.

use crate::engine::{all_devices, assigned_policy, check_in, settle, windows_device, DEVICES};
use crate::identity::open_store;
use crate::support::{Server, WRITE};
use crate::time::{admin, failing, ios_policy};
use complyd::identity::registry;
use complyd::store::Query;
use serde_json::json;
use std::collections::HashMap;

const EVERYTHING: [&str; 5] = [
    WRITE,
    "DeviceManagementManagedDevices.ReadWrite.All",
    "Directory.ReadWrite.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementApps.Read.All",
];
const READ_ONLY: [&str; 3] = [
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementManagedDevices.Read.All",
    "Directory.Read.All",
];

/// A browser without script: follows redirects itself and keeps cookies.
struct Browser {
    http: reqwest::Client,
    origin: String,
    cookies: HashMap<String, String>,
}

struct Page {
    status: u16,
    url: String,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Browser {
    fn new(server: &Server) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            origin: server.console.clone().unwrap(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, headers: &reqwest::header::HeaderMap) {
        for set in headers.get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
    }

    /// One request, no redirect followed.
    async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        form: Option<&[(String, String)]>,
    ) -> Page {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.origin)
        };
        let mut request = self
            .http
            .request(method, &url)
            .header("cookie", self.cookie_header());
        if let Some(form) = form {
            request = request.form(form);
        }
        let res = request.send().await.unwrap();
        let headers = res.headers().clone();
        self.keep_cookies(&headers);
        Page {
            status: res.status().as_u16(),
            url,
            headers,
            body: res.text().await.unwrap(),
        }
    }

    /// A request, with redirects followed.
    async fn go(
        &mut self,
        method: reqwest::Method,
        path: &str,
        form: Option<&[(String, String)]>,
    ) -> Page {
        let mut page = self.send(method, path, form).await;
        for _ in 0..10 {
            if !(300..400).contains(&page.status) {
                return page;
            }
            let location = page.headers["location"].to_str().unwrap().to_string();
            page = self.send(reqwest::Method::GET, &location, None).await;
        }
        panic!("too many redirects from {path}");
    }

    async fn get(&mut self, path: &str) -> Page {
        self.go(reqwest::Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let form: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.go(reqwest::Method::POST, path, Some(&form)).await
    }

    /// Signs in from the overview, through the token service's page.
    async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let shown = self.get("/console").await;
        assert!(
            shown.url.contains("/organizations/oauth2/v2.0/authorize"),
            "{}",
            shown.url
        );
        assert_eq!(shown.status, 200, "{}", shown.body);
        let mut form = hidden_fields(&shown.body);
        form.push(("username".into(), username.into()));
        form.push(("password".into(), password.into()));
        self.go(reqwest::Method::POST, &shown.url.clone(), Some(&form))
            .await
    }
}

/// Every hidden field of a page, unescaped.
fn hidden_fields(body: &str) -> Vec<(String, String)> {
    body.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once("\" value=\"").unwrap();
            let value = rest.split('"').next().unwrap();
            (name.to_string(), unescape(value))
        })
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The session's CSRF token, from a page's sign-out form.
fn csrf(body: &str) -> String {
    hidden_fields(body)
        .into_iter()
        .find(|(name, _)| name == "_csrf")
        .map(|(_, v)| v)
        .unwrap()
}

/// A directory user with a password and these consented scopes.
async fn person(server: &Server, name: &str, scopes: &[&str]) -> String {
    let upn = format!("{name}@contoso.test");
    admin(server)
        .post(
            "v1.0",
            "users",
            &json!({
                "accountEnabled": true, "displayName": name, "mailNickname": name,
                "userPrincipalName": upn,
                "passwordProfile": {"password": "Pa55word!", "forceChangePasswordNextSignIn": false}
            }),
        )
        .await
        .expect(201);
    let store = open_store(server).await;
    let scopes = scopes.iter().map(|s| s.to_string()).collect();
    assert!(registry::set_scopes(&store, &upn, scopes).await.unwrap());
    upn
}

/// The count a page shows for a verdict.
fn shown_count(body: &str, verdict: &str) -> u64 {
    let marker = format!("data-verdict=\"{verdict}\">");
    let at = body.find(&marker).unwrap() + marker.len();
    body[at..].split('<').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn signing_in_opens_a_session_whose_overview_counts_are_the_apis() {
    let server = Server::start_console().await;
    let c = admin(&server);
    let upn = person(&server, "ada", &EVERYTHING).await;
    crate::engine::assigned_policy(
        &c,
        &crate::engine::password_policy("Password", 0),
        &[all_devices()],
    )
    .await;
    for (i, report) in [
        json!({"passwordSet": false, "passwordLength": 0}),
        json!({"passwordSet": true, "passwordLength": 12}),
    ]
    .iter()
    .enumerate()
    {
        let id = c
            .post("beta", DEVICES, &windows_device(&format!("PC-{i}"), None))
            .await
            .expect(201)
            .id();
        check_in(&c, &id, report).await.expect(200);
    }
    settle(&c).await;
    let mut browser = Browser::new(&server);
    let overview = browser.sign_in(&upn, "Pa55word!").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(overview.url.ends_with("/console"), "{}", overview.url);
    assert!(overview.body.contains(&upn), "the signed-in user is shown");
    let session = browser.cookies.get("complyd_console").cloned().unwrap();
    assert_eq!(session.len(), 43);
    let summary = c
        .get(
            "v1.0",
            "deviceManagement/deviceCompliancePolicyDeviceStateSummary",
        )
        .await
        .expect(200)
        .json();
    for (verdict, counter) in [
        ("compliant", "compliantDeviceCount"),
        ("noncompliant", "nonCompliantDeviceCount"),
        ("inGracePeriod", "inGracePeriodCount"),
        ("error", "errorDeviceCount"),
    ] {
        assert_eq!(
            shown_count(&overview.body, verdict),
            summary[counter].as_u64().unwrap(),
            "{verdict}"
        );
    }
    assert_eq!(shown_count(&overview.body, "noncompliant"), 1);
    assert!(
        overview
            .body
            .contains("<title id=\"donut-title\">2 devices:"),
        "{}",
        overview.body
    );
    // Every page answers inside the session.
    for path in [
        "/console/policies",
        "/console/devices",
        "/console/groups",
        "/console/users",
        "/console/outbox",
        "/console/audit",
        "/console/simulation",
        "/console/policies/new",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(
            !page.body.contains("role=\"alert\""),
            "{path}: {}",
            page.body
        );
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
    }
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_a_post_without_the_csrf_token_is_refused() {
    let server = Server::start_console().await;
    let c = admin(&server);
    let upn = person(&server, "bea", &EVERYTHING).await;
    let id = c
        .post("beta", DEVICES, &windows_device("PC-1", None))
        .await
        .expect(201)
        .id();
    let mut browser = Browser::new(&server);
    let start = browser
        .send(reqwest::Method::GET, "/console/signin", None)
        .await;
    let set = start.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/console"),
        "{set}"
    );
    let page = browser.sign_in(&upn, "Pa55word!").await;
    let token = csrf(&page.body);
    let path = format!("/console/devices/{id}/checkin");
    let report = r#"{"osVersion": "10.0.99999.1"}"#;
    for (why, fields) in [
        ("no token", vec![("report", report)]),
        (
            "another token",
            vec![("report", report), ("_csrf", "forged")],
        ),
    ] {
        let refused = browser.post(&path, &fields).await;
        assert_eq!(refused.status, 403, "{why}: {}", refused.body);
        assert!(refused.body.contains("CSRF"), "{why}");
    }
    let device = c
        .get("beta", &format!("{DEVICES}/{id}"))
        .await
        .expect(200)
        .json();
    assert_ne!(
        device["osVersion"], "10.0.99999.1",
        "nothing was checked in"
    );
    let done = browser
        .post(&path, &[("report", report), ("_csrf", &token)])
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("The device checked in"), "{}", done.body);
    let device = c
        .get("beta", &format!("{DEVICES}/{id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(device["osVersion"], "10.0.99999.1");
}

#[tokio::test]
async fn a_read_only_user_finds_no_write_control_and_the_api_refuses_them_anyway() {
    let server = Server::start_console().await;
    let c = admin(&server);
    let upn = person(&server, "cleo", &READ_ONLY).await;
    let policy = assigned_policy(
        &c,
        &ios_policy(
            "Passcode",
            &[json!({"actionType": "block", "gracePeriodHours": 0})],
        ),
        &[all_devices()],
    )
    .await;
    let id = c
        .post("beta", DEVICES, &windows_device("PC-1", None))
        .await
        .expect(201)
        .id();
    let mut browser = Browser::new(&server);
    let page = browser.sign_in(&upn, "Pa55word!").await;
    assert_eq!(page.status, 200);
    let token = csrf(&page.body);
    let policies = browser.get("/console/policies").await;
    assert!(policies.body.contains("Passcode"), "{}", policies.body);
    let pages = [
        "/console/policies".to_string(),
        format!("/console/policies/{policy}"),
        format!("/console/devices/{id}"),
        "/console/simulation".to_string(),
    ];
    for path in &pages {
        let page = browser.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        // The only form that writes is the sign-out.
        let writes = page.body.matches("method=\"post\"").count();
        assert_eq!(writes, 1, "{path} has write forms: {}", page.body);
        assert!(!page.body.contains("Create a policy"), "{path}");
    }
    let form = browser.get("/console/policies/new").await;
    assert!(
        form.body.contains("You cannot create or edit policies"),
        "{}",
        form.body
    );
    // Sent anyway (with the session's token), the API refuses.
    let refused = browser
        .post(
            &format!("/console/devices/{id}/checkin"),
            &[("report", "{}"), ("_csrf", &token)],
        )
        .await;
    assert!(refused.body.contains("403 Forbidden"), "{}", refused.body);
    let moved = browser
        .post(
            "/console/simulation/clock",
            &[("advanceBy", "P1D"), ("_csrf", &token)],
        )
        .await;
    assert!(moved.body.contains("403 Forbidden"), "{}", moved.body);
}

#[tokio::test]
async fn signing_out_ends_the_session_and_revokes_its_refresh_token() {
    let server = Server::start_console().await;
    let upn = person(&server, "dora", &EVERYTHING).await;
    let mut browser = Browser::new(&server);
    let page = browser.sign_in(&upn, "Pa55word!").await;
    let store = open_store(&server).await;
    let families = || async {
        store
            .query(Query::all("_system", "refreshTokenFamilies", ""))
            .await
            .unwrap()
            .len()
    };
    assert_eq!(families().await, 1, "the sign-in holds a refresh token");
    let session = browser.cookies.get("complyd_console").cloned().unwrap();
    let out = browser
        .post("/console/signout", &[("_csrf", &csrf(&page.body))])
        .await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.body.contains("You are signed out"));
    assert!(
        !browser.cookies.contains_key("complyd_console"),
        "the cookie is cleared"
    );
    assert_eq!(families().await, 0, "the refresh token is revoked");
    // The old session id no longer opens anything.
    browser.cookies.insert("complyd_console".into(), session);
    let again = browser
        .send(reqwest::Method::GET, "/console/devices", None)
        .await;
    assert_eq!(again.status, 303);
    assert!(again.headers["location"]
        .to_str()
        .unwrap()
        .starts_with("/console/signin"));
}

#[tokio::test]
async fn a_policy_is_previewed_then_created_through_the_form_and_the_apis_errors_are_shown() {
    let server = Server::start_console().await;
    let c = admin(&server);
    let upn = person(&server, "eve", &EVERYTHING).await;
    let id = c
        .post("beta", DEVICES, &windows_device("PC-1", None))
        .await
        .expect(201)
        .id();
    check_in(&c, &id, &json!({"passwordSet": false}))
        .await
        .expect(200);
    let mut browser = Browser::new(&server);
    let page = browser.sign_in(&upn, "Pa55word!").await;
    let token = csrf(&page.body);
    let fields = |settings: &'static str, intent: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("type", "windows10CompliancePolicy".to_string()),
            ("displayName", "Needs a password".to_string()),
            ("settings", settings.to_string()),
            ("block", "0".to_string()),
            ("intent", intent.to_string()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Vec<_>>()
    };
    let preview = browser
        .go(
            reqwest::Method::POST,
            "/console/policies",
            Some(&send(fields(r#"{"passwordRequired": true}"#, "whatif"))),
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview
            .body
            .contains("This policy would reach <strong>1</strong> device(s)"),
        "{}",
        preview.body
    );
    assert!(
        preview.body.contains("PC-1"),
        "the failing device is listed"
    );
    let bad = browser
        .go(
            reqwest::Method::POST,
            "/console/policies",
            Some(&send(fields(r#"{"noSuchSetting": 1}"#, "save"))),
        )
        .await;
    assert!(
        bad.body.contains("<strong>400 ") && bad.body.contains("noSuchSetting"),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("{&quot;noSuchSetting&quot;: 1}"),
        "the form keeps what was typed"
    );
    let saved = browser
        .go(
            reqwest::Method::POST,
            "/console/policies",
            Some(&send(fields(r#"{"passwordRequired": true}"#, "save"))),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(
        saved.body.contains("The policy was created."),
        "{}",
        saved.body
    );
    let listed = c
        .get("beta", "deviceManagement/deviceCompliancePolicies")
        .await
        .expect(200)
        .values();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["displayName"], "Needs a password");
    assert_eq!(listed[0]["passwordRequired"], true);
}

#[tokio::test]
async fn the_event_stream_says_changed_after_a_write_to_the_tenant() {
    let server = Server::start_console().await;
    let c = admin(&server);
    let upn = person(&server, "fay", &EVERYTHING).await;
    let id = c
        .post("beta", DEVICES, &windows_device("PC-1", None))
        .await
        .expect(201)
        .id();
    let mut browser = Browser::new(&server);
    browser.sign_in(&upn, "Pa55word!").await;
    let mut events = browser
        .http
        .get(format!("{}/console/events", browser.origin))
        .header("cookie", browser.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(events.status().as_u16(), 200);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let first = events.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("retry:"));
    check_in(&c, &id, &failing()).await.expect(200);
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), events.chunk())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&next).starts_with("event: changed"),
        "{next:?}"
    );
    // Without a session there is no stream.
    let anonymous = reqwest::Client::new()
        .get(format!("{}/console/events", browser.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[tokio::test]
async fn the_overview_shows_the_trend_and_the_devices_no_policy_covers_and_users_list_their_devices(
) {
    let server = Server::start_console().await;
    let c = admin(&server);
    let upn = person(&server, "grace", &EVERYTHING).await;
    let owner = crate::time::user(&c, "Owen", "en-US").await;
    crate::time::freeze_at(&c, "2031-05-01T08:00:00Z").await;
    // An iPhone covered by a failing policy; a laptop no policy covers.
    assigned_policy(&c, &ios_policy("Passcode", &[]), &[all_devices()]).await;
    let phone = c
        .post("beta", DEVICES, &crate::time::iphone("OWEN-PHONE", &owner))
        .await
        .expect(201)
        .id();
    c.post("beta", DEVICES, &windows_device("LAPTOP-NP", None))
        .await
        .expect(201);
    check_in(&c, &phone, &failing()).await.expect(200);
    crate::time::advance(&c, "P1D").await;
    check_in(&c, &phone, &crate::time::passing())
        .await
        .expect(200);
    // The sampler's point after the check-in is taken within seconds; the next move takes one.
    crate::time::advance(&c, "PT2H").await;

    let mut browser = Browser::new(&server);
    let overview = browser.sign_in(&upn, "Pa55word!").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(
        overview
            .body
            .contains("data-count=\"devicesWithoutPolicy\">1<"),
        "{}",
        overview.body
    );
    assert!(
        overview.body.contains("id=\"trend-title\""),
        "{}",
        overview.body
    );
    assert_eq!(overview.body.matches("data-state=").count(), 3);
    // The figures' table: the point where the phone failed, and now.
    assert!(
        overview.body.contains("2031-05-01 08:00"),
        "{}",
        overview.body
    );
    assert!(
        overview.body.contains("2031-05-02 10:00"),
        "{}",
        overview.body
    );
    let timing = overview.headers["server-timing"].to_str().unwrap();
    assert!(timing.starts_with("app;dur="), "{timing}");

    let users = browser.get("/console/users?name=Ow").await;
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(
        users.body.contains(&format!("/console/users/{}", owner.0)),
        "{}",
        users.body
    );
    assert!(
        !users.body.contains(&format!("<td>{upn}</td>")),
        "filtered by name: {}",
        users.body
    );
    let user = browser.get(&format!("/console/users/{}", owner.0)).await;
    assert_eq!(user.status, 200, "{}", user.body);
    assert!(user.body.contains("OWEN-PHONE"), "{}", user.body);
    assert!(user.body.contains(&format!("/console/devices/{phone}")));
    assert!(!user.body.contains("LAPTOP-NP"), "only the user's devices");
    let device = browser.get(&format!("/console/devices/{phone}")).await;
    assert!(
        device.body.contains(&format!("/console/users/{}", owner.0)),
        "the device links its user: {}",
        device.body
    );
}

#[tokio::test]
async fn without_a_session_a_page_sends_to_the_sign_in_and_a_form_is_refused() {
    let server = Server::start_console().await;
    let origin = server.console.clone().expect("the console");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (method, path) in [
        (reqwest::Method::GET, "/console/devices?page=2"),
        (reqwest::Method::HEAD, "/console/users"),
        (reqwest::Method::GET, "/console/policies/some-id"),
    ] {
        let answer = http
            .request(method.clone(), format!("{origin}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 303, "{method} {path}");
        let to = answer.headers()["location"].to_str().unwrap().to_string();
        assert!(to.starts_with("/console/signin?return="), "{to}");
    }
    for path in [
        "/console/devices/some-id/checkin",
        "/console/policies/some-id/assign",
        "/console/signout",
    ] {
        let answer = http
            .post(format!("{origin}{path}"))
            .form(&[("report", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 401, "POST {path}");
        assert!(answer.text().await.unwrap().contains("Sign in again"));
    }
}

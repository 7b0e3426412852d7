//! Test support: a real complyd on port 0 in a temporary data folder, and a small typed client.

#![allow(dead_code)]

use complyd::auth::{self, TokenRequest};
use complyd::service::Fidelity;
use complyd::Config;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tokio::sync::oneshot;

pub const SECRET: &str = "integration-test-secret";
pub const TENANT: &str = "11111111-1111-4111-8111-111111111111";
pub const OTHER_TENANT: &str = "22222222-2222-4222-8222-222222222222";
pub const READ: &str = "DeviceManagementConfiguration.Read.All";
pub const WRITE: &str = "DeviceManagementConfiguration.ReadWrite.All";
pub const POLICIES: &str = "deviceManagement/deviceCompliancePolicies";
pub const SCOPE_TAGS: &str = "deviceManagement/roleScopeTags";
pub const VERSIONS: [&str; 2] = ["v1.0", "beta"];
/// The error code Graph uses when a path exists but the method is not served there.
pub const ROUTE_ERROR: &str = "No method match route template";

pub struct Server {
    pub base: String,
    /// The proxy's address (`host:port`), for a server started with one.
    pub proxy: Option<String>,
    /// The console's origin (`http://host:port`), for a server started with one.
    pub console: Option<String>,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn intune() -> Self {
        Self::start_with(|c| c.fidelity = Fidelity::Intune).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, configure).await
    }

    pub async fn start_in(dir: tempfile::TempDir, configure: impl FnOnce(&mut Config)) -> Self {
        Self::launch(dir, configure, false).await
    }

    /// A server with its console (`--console`) on a port of its own.
    pub async fn start_console() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(dir.path());
        config.jwt_secret = Some(SECRET.to_string());
        config.store = test_store(dir.path());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let console = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the console");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let origin = format!("http://{}", console.local_addr().expect("console addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let extra = complyd::Extra {
            proxy: None,
            console: Some(console),
        };
        let task = tokio::spawn(async move {
            complyd::prepare(config)
                .await?
                .run_with(listener, extra, stopped)
                .await
        });
        Self {
            base,
            proxy: None,
            console: Some(origin),
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A server with its HTTP proxy (`--proxy`) on a port of its own.
    pub async fn start_proxied(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::launch(dir, configure, true).await
    }

    async fn launch(
        dir: tempfile::TempDir,
        configure: impl FnOnce(&mut Config),
        proxied: bool,
    ) -> Self {
        let mut config = Config::new(dir.path());
        config.jwt_secret = Some(SECRET.to_string());
        config.store = test_store(dir.path());
        configure(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let (task, proxy) = if proxied {
            // The CA is made before the server starts, as `complyd serve` does, for the tests to read.
            complyd::tls::LocalCa::open(dir.path()).expect("the local CA");
            let proxy = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind the proxy");
            let address = proxy.local_addr().expect("proxy addr").to_string();
            let task = complyd::serve_with_proxy(config, listener, proxy, stopped);
            (tokio::spawn(task), Some(address))
        } else {
            (
                tokio::spawn(complyd::serve(config, listener, stopped)),
                None,
            )
        };
        Self {
            base,
            proxy,
            console: None,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server (graceful) and hands back its data folder.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A delegated user of the test tenant with read-write access.
    pub fn client(&self) -> Client {
        self.client_with(TokenRequest::delegated(TENANT, &[WRITE]))
    }

    pub fn client_with(&self, request: TokenRequest) -> Client {
        let token = auth::mint(SECRET.as_bytes(), &request).expect("mint");
        self.client_with_token(Some(token))
    }

    pub fn client_with_token(&self, token: Option<String>) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            token,
        }
    }
}

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    pub fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    pub fn context(&self) -> String {
        self.json()["@odata.context"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    /// The members of a collection response.
    pub fn values(&self) -> Vec<Value> {
        match self.json()["value"].as_array() {
            Some(items) => items.clone(),
            None => panic!("no value array in {}", self.text),
        }
    }
    /// Asserts that `@odata.context` is `<base>/<version>/$metadata#<fragment>`.
    #[track_caller]
    pub fn expect_context(self, version: &str, fragment: &str) -> Self {
        let context = self.context();
        let wanted = format!("/{version}/$metadata#{fragment}");
        assert!(
            context.starts_with("http") && context.ends_with(&wanted),
            "context {context:?} does not end with {wanted:?}"
        );
        self
    }
    pub fn id(&self) -> String {
        self.json()["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.text))
            .to_string()
    }
    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }
    /// Asserts a Graph error with this status and code, with a complete error body.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        let resp = self.expect(status);
        let body = resp.json();
        assert_eq!(body["error"]["code"], code, "body: {}", resp.text);
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "empty message: {}", resp.text);
        let inner = &body["error"]["innerError"];
        assert_eq!(
            inner["request-id"].as_str(),
            resp.header("request-id").as_deref()
        );
        assert!(
            inner["client-request-id"].is_string() && inner["date"].is_string(),
            "{}",
            resp.text
        );
        resp
    }
}

impl Client {
    pub fn url(&self, version: &str, path: &str) -> String {
        format!("{}/{version}/{}", self.base, path.trim_start_matches('/'))
    }

    pub async fn send(&self, method: reqwest::Method, url: &str, body: Option<String>) -> Resp {
        self.send_with(method, url, body, &[]).await
    }

    pub async fn send_with(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.http.request(method, url);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(token) = &self.token {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            req = req.header("Content-Type", "application/json").body(body);
        }
        let res = req.send().await.expect("request failed");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        Resp {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, version: &str, path: &str) -> Resp {
        self.send(reqwest::Method::GET, &self.url(version, path), None)
            .await
    }
    pub async fn get_url(&self, url: &str) -> Resp {
        self.send(reqwest::Method::GET, url, None).await
    }
    pub async fn post(&self, version: &str, path: &str, body: &Value) -> Resp {
        self.send(
            reqwest::Method::POST,
            &self.url(version, path),
            Some(body.to_string()),
        )
        .await
    }
    pub async fn post_raw(&self, version: &str, path: &str, body: &str) -> Resp {
        self.send(
            reqwest::Method::POST,
            &self.url(version, path),
            Some(body.to_string()),
        )
        .await
    }
    pub async fn patch(&self, version: &str, path: &str, body: &Value) -> Resp {
        self.send(
            reqwest::Method::PATCH,
            &self.url(version, path),
            Some(body.to_string()),
        )
        .await
    }
    pub async fn delete(&self, version: &str, path: &str) -> Resp {
        self.send(reqwest::Method::DELETE, &self.url(version, path), None)
            .await
    }

    /// GET of a collection that must answer 200: its members.
    pub async fn list(&self, version: &str, path: &str) -> Vec<Value> {
        self.get(version, path).await.expect(200).values()
    }
    /// The ids of a collection's members.
    pub async fn ids(&self, version: &str, path: &str) -> Vec<String> {
        let items = self.list(version, path).await;
        items
            .iter()
            .map(|v| v["id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Asserts that the entity at `path` does not exist: GET, PATCH and DELETE are 404.
    pub async fn expect_gone(&self, version: &str, path: &str) {
        let url = self.url(version, path);
        for (method, body) in [
            (reqwest::Method::GET, None),
            (reqwest::Method::PATCH, Some("{}".to_string())),
            (reqwest::Method::DELETE, None),
        ] {
            let resp = self.send(method.clone(), &url, body).await;
            assert_eq!(resp.status, 404, "{method} {path}: {}", resp.text);
            resp.expect_error(404, "ResourceNotFound");
        }
    }

    /// Asserts that the collection at `path` lies under a missing entity: GET and POST are 404.
    pub async fn expect_orphan(&self, version: &str, path: &str, body: &Value) {
        self.get(version, path)
            .await
            .expect_error(404, "ResourceNotFound");
        // The missing container comes before the count and before a query option the model refuses.
        self.get(version, &format!("{path}/$count"))
            .await
            .expect_error(404, "ResourceNotFound");
        self.get(version, &format!("{path}?$filter=noSuchProperty eq 1"))
            .await
            .expect_error(404, "ResourceNotFound");
        let resp = self.post(version, path, body).await;
        resp.expect_error(404, "ResourceNotFound");
    }

    /// Creates a Windows 10 policy with one block action (valid in both fidelity modes).
    pub async fn create_policy(&self, version: &str, name: &str) -> String {
        self.post(version, POLICIES, &windows10_policy(name))
            .await
            .expect(201)
            .id()
    }

    /// Creates a role scope tag (beta) and answers its id (201, or the live service's 200).
    pub async fn create_scope_tag(&self, name: &str) -> String {
        let created = self
            .post("beta", SCOPE_TAGS, &json!({ "displayName": name }))
            .await;
        assert!(
            [200, 201].contains(&created.status),
            "scope tag not created: {}",
            created.text
        );
        created.id()
    }
}

pub fn windows10_policy(name: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
        "displayName": name,
        "passwordRequired": true,
        "scheduledActionsForRule": [{
            "ruleName": "PasswordRequired",
            "scheduledActionConfigurations": [{ "actionType": "block", "gracePeriodHours": 0 }]
        }]
    })
}

/// The URL path of one policy.
pub fn policy_path(id: &str) -> String {
    format!("{POLICIES}/{id}")
}

/// A device status body with this compliance status.
pub fn device_status(status: &str) -> Value {
    json!({
        "deviceDisplayName": format!("device {status}"),
        "status": status,
        "complianceGracePeriodExpirationDateTime": "2024-01-01T00:00:00Z",
        "lastReportedDateTime": "2024-01-02T03:04:05.1234567+01:00"
    })
}

/// A user status body with this compliance status.
pub fn user_status(status: &str) -> Value {
    json!({ "userDisplayName": format!("user {status}"), "status": status, "devicesCount": 1 })
}

/// Valid delegated read-write claims of the test tenant; `changes` overrides or removes (null) claims.
pub fn claims(changes: Value) -> Value {
    let now = complyd::common::now_unix();
    let mut base = json!({
        "aud": "https://graph.microsoft.com",
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "tid": TENANT,
        "oid": "33333333-3333-4333-8333-333333333333",
        "idtyp": "user",
        "scp": WRITE,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "ver": "1.0"
    });
    if let (Some(base), Some(changes)) = (base.as_object_mut(), changes.as_object()) {
        for (key, value) in changes {
            if value.is_null() {
                base.remove(key);
            } else {
                base.insert(key.clone(), value.clone());
            }
        }
    }
    base
}

/// A token for `claims`, signed with the test secret.
pub fn token_for(claims: &Value) -> String {
    auth::mint_claims(SECRET.as_bytes(), claims).expect("mint")
}

pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/api/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts that every property of `expected` appears in `actual` with the same value, `id` aside.
#[track_caller]
pub fn assert_matches_example(actual: &Value, expected: &Value) {
    let (Some(actual), Some(expected)) = (actual.as_object(), expected.as_object()) else {
        panic!("not objects: {actual} / {expected}");
    };
    for (key, value) in expected {
        if key == "id" {
            assert!(actual["id"].is_string(), "no id in {actual:?}");
            continue;
        }
        assert_eq!(
            actual.get(key),
            Some(value),
            "property {key}: got {:?}",
            actual.get(key)
        );
    }
}

/// With `COMPLYD_TEST_POSTGRES=postgres://user@host:port` set, every server of the suite runs on
/// PostgreSQL: one database per data folder (so a restart on the same folder finds its data),
/// created on first use. Unset, servers use SQLite in the data folder.
pub fn test_store(data_dir: &Path) -> Option<String> {
    let base = std::env::var("COMPLYD_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())?;
    let base = base
        .trim_end_matches('/')
        .trim_end_matches("/postgres")
        .to_string();
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut hasher);
    let name = format!("t{:016x}", hasher.finish());
    let created = std::process::Command::new("psql")
        .arg(format!("{base}/postgres"))
        .args(["-qtAc", &format!("CREATE DATABASE {name}")])
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("psql");
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(
        created.status.success() || stderr.contains("already exists"),
        "CREATE DATABASE: {stderr}"
    );
    Some(format!("{base}/{name}"))
}

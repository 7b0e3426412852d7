//! The real binary as a child process: acknowledged writes survive SIGKILL, SIGTERM exits 0,
//! keeps the data and leaves an empty log, and the generated signing secret works with
//! `complyd token`.

use crate::support::*;
use serde_json::json;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_complyd");

/// `complyd` with none of the environment that could change its settings.
pub(crate) fn complyd(args: &[&str], data: &Path) -> Command {
    complyd_on(args, data, test_store(data))
}

/// `complyd` on a given store (`None`: SQLite in the data folder).
pub(crate) fn complyd_on(args: &[&str], data: &Path, store: Option<String>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).arg("--data").arg(data);
    for var in [
        "COMPLYD_LISTEN",
        "COMPLYD_DATA",
        "COMPLYD_JWT_SECRET",
        "COMPLYD_FIDELITY",
        "COMPLYD_MAX_BODY",
        "COMPLYD_PAGE_SIZE",
        "COMPLYD_STORE",
        "COMPLYD_METRICS",
        "COMPLYD_HEADER_TIMEOUT",
        "COMPLYD_IDLE_TIMEOUT",
        "COMPLYD_MAX_CONNECTIONS",
    ] {
        cmd.env_remove(var);
    }
    // The suite's store: SQLite in the data folder, or the folder's own PostgreSQL database.
    if let Some(store) = store {
        cmd.arg("--store").arg(store);
    }
    cmd
}

/// A `complyd serve` child process on a free port.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Daemon {
    pub(crate) async fn start(data: &Path, secret: Option<&str>) -> Self {
        Self::start_with(data, secret, &[]).await
    }

    /// With extra `serve` arguments (a later `--store` overrides the suite's).
    pub(crate) async fn start_with(data: &Path, secret: Option<&str>, extra: &[&str]) -> Self {
        Self::start_on(data, secret, extra, test_store(data)).await
    }

    /// On a given store (`None`: SQLite in the data folder).
    pub(crate) async fn start_on(
        data: &Path,
        secret: Option<&str>,
        extra: &[&str],
        store: Option<String>,
    ) -> Self {
        Self::start_on_with_env(data, secret, extra, store, &[]).await
    }

    /// With these environment variables set too.
    pub(crate) async fn start_on_with_env(
        data: &Path,
        secret: Option<&str>,
        extra: &[&str],
        store: Option<String>,
        env: &[(&str, &str)],
    ) -> Self {
        let mut cmd = complyd_on(&["serve", "--listen", "127.0.0.1:0"], data, store);
        cmd.args(extra).envs(env.iter().copied());
        if let Some(secret) = secret {
            cmd.args(["--jwt-secret", secret]);
        }
        let log = std::env::var_os("COMPLYD_TEST_DAEMON_LOG").map(std::path::PathBuf::from);
        Self::spawn(cmd, log.as_deref()).await
    }

    /// With its stderr appended to `log`.
    pub(crate) async fn start_logging_to(data: &Path, secret: &str, log: &Path) -> Self {
        let mut cmd = complyd(&["serve", "--listen", "127.0.0.1:0"], data);
        cmd.args(["--jwt-secret", secret]);
        Self::spawn(cmd, Some(log)).await
    }

    async fn spawn(mut cmd: Command, log: Option<&Path>) -> Self {
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("log"),
            ),
            None => Stdio::null(),
        };
        cmd.stdout(Stdio::piped()).stderr(stderr).kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn complyd");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("no listening line in time")
            .expect("stdout")
            .expect("complyd exited before listening");
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            base: base.to_string(),
            child,
        }
    }

    pub(crate) fn client(&self, token: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            token: Some(token.to_string()),
        }
    }

    /// The test tenant's read-write client, for a daemon started with `SECRET`.
    pub(crate) fn test_client(&self) -> Client {
        self.client(&token_for(&claims(json!({}))))
    }

    /// SIGTERM (a clean stop), then its exit.
    pub(crate) async fn terminate(self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("pid").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        self.wait().await
    }

    pub(crate) async fn wait(mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("complyd did not exit in time")
            .expect("wait")
    }
}

#[tokio::test]
async fn acknowledged_creates_survive_sigkill() {
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(data.path(), Some(SECRET)).await;
    let client = daemon.test_client();
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        acknowledged.push(
            client
                .create_policy("v1.0", &format!("sequential {i}"))
                .await,
        );
    }
    let mut concurrent = tokio::task::JoinSet::new();
    for i in 0..30 {
        let client = client.clone();
        concurrent.spawn(async move {
            client
                .create_policy("beta", &format!("concurrent {i}"))
                .await
        });
    }
    while let Some(id) = concurrent.join_next().await {
        acknowledged.push(id.expect("create task"));
    }
    let last = acknowledged.last().unwrap().clone();
    let status = client
        .post(
            "v1.0",
            &format!("{POLICIES}/{last}/deviceStatuses"),
            &device_status("compliant"),
        )
        .await;
    let status = status.expect(201).id();

    let mut daemon = daemon;
    daemon.child.kill().await.expect("SIGKILL");

    let daemon = Daemon::start(data.path(), Some(SECRET)).await;
    let client = daemon.test_client();
    let mut stored = client.ids("v1.0", &format!("{POLICIES}?$top=999")).await;
    stored.sort();
    let mut expected = acknowledged.clone();
    expected.sort();
    assert_eq!(
        stored, expected,
        "every acknowledged create is there after SIGKILL"
    );
    for id in &acknowledged {
        let policy = client
            .get("beta", &policy_path(id))
            .await
            .expect(200)
            .json();
        assert!(
            policy["displayName"]
                .as_str()
                .unwrap()
                .contains("sequential")
                || policy["displayName"]
                    .as_str()
                    .unwrap()
                    .contains("concurrent")
        );
        let rules = format!("{POLICIES}/{id}/scheduledActionsForRule");
        assert_eq!(
            client.list("beta", &rules).await.len(),
            1,
            "the deep-inserted rule survived too"
        );
    }
    client
        .get(
            "v1.0",
            &format!("{POLICIES}/{last}/deviceStatuses/{status}"),
        )
        .await
        .expect(200);
}

/// A data folder that cannot be made, or a store that cannot be opened in it, stops `serve`
/// before it listens, with an error that names the folder and says why.
#[tokio::test]
async fn a_data_folder_that_cannot_be_used_is_named_when_serve_refuses_to_start() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let under_file = file.join("data");
    // SQLite's database is where a folder stands: the store cannot open it.
    let blocked = root.path().join("blocked");
    std::fs::create_dir_all(blocked.join("complyd.db")).unwrap();
    for (data, says) in [
        (&under_file, "cannot create the data folder"),
        (&blocked, "cannot open the store in"),
    ] {
        let out = complyd_on(&["serve", "--listen", "127.0.0.1:0"], data, None)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output();
        let out = tokio::time::timeout(Duration::from_secs(30), out)
            .await
            .expect("serve refuses at once")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "serve on {data:?} exits non-zero");
        assert!(
            stderr.contains(says) && stderr.contains(&*data.display().to_string()),
            "serve on {data:?} says {says:?} and names the folder: {stderr}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("listening"),
            "serve on {data:?} never listens"
        );
    }
}

#[tokio::test]
async fn sigterm_exits_zero_keeps_the_data_and_empties_the_log() {
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(data.path(), Some(SECRET)).await;
    let id = daemon.test_client().create_policy("v1.0", "graceful").await;
    let exit = daemon.terminate().await;
    assert_eq!(exit.code(), Some(0), "SIGTERM exits 0: {exit:?}");
    if test_store(data.path()).is_none() {
        // SQLite: a clean stop copies the WAL into the database, so the next start reads no log.
        let wal = std::fs::metadata(data.path().join("complyd.db-wal")).map_or(0, |m| m.len());
        assert_eq!(wal, 0, "the WAL is empty after a clean stop");
    }

    let daemon = Daemon::start(data.path(), Some(SECRET)).await;
    let client = daemon.test_client();
    assert_eq!(client.ids("v1.0", POLICIES).await, vec![id.clone()]);
    assert_eq!(
        client
            .get("v1.0", &policy_path(&id))
            .await
            .expect(200)
            .json()["displayName"],
        "graceful"
    );
}

#[tokio::test]
async fn the_access_log_has_a_line_per_request_written_by_a_clean_stop_at_the_latest() {
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("stderr.log");
    let daemon = Daemon::start_logging_to(data.path(), SECRET, &log).await;
    let answered = daemon.test_client().get("v1.0", POLICIES).await.expect(200);
    let refused = daemon
        .client("not-a-token")
        .get("beta", &format!("{POLICIES}?$top=1"))
        .await
        .expect(401);
    assert_eq!(daemon.terminate().await.code(), Some(0));

    let text = std::fs::read_to_string(&log).expect("stderr");
    let line_of = |resp: &Resp| {
        let id = resp.header("request-id").expect("request-id");
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(&id)).collect();
        assert_eq!(lines.len(), 1, "one line for request {id} in:\n{text}");
        lines[0].to_string()
    };
    let ok = line_of(&answered);
    assert!(
        ok.contains("  INFO request method=GET path=/v1.0/deviceManagement/deviceCompliancePolicies status=200 latency_us="),
        "{ok}"
    );
    let (stamp, _) = ok.split_once("  INFO").unwrap();
    assert!(
        stamp.len() == 27 && stamp.starts_with("20") && stamp.ends_with('Z'),
        "RFC 3339 with microseconds: {stamp}"
    );
    let no = line_of(&refused);
    assert!(
        no.contains(" method=GET path=/beta/deviceManagement/deviceCompliancePolicies status=401"),
        "{no}"
    );
}

/// `complyd token --data DIR` plus `extra` arguments: the printed token.
async fn mint_with_cli(data: &Path, extra: &[&str]) -> String {
    let mut cmd = complyd(&["token"], data);
    cmd.args(extra);
    let out = cmd.output().await.expect("complyd token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");
    token
}

#[tokio::test]
async fn a_generated_secret_is_kept_and_shared_with_complyd_token() {
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(data.path(), None).await;
    // Once it answers, the server runs with its secret: the test secret is not it.
    let resp = daemon.test_client().get("v1.0", POLICIES).await;
    resp.expect_error(401, "InvalidAuthenticationToken");
    let secret = generated_secret(data.path());
    assert!(
        secret.trim().len() >= 32,
        "a long secret: {} chars",
        secret.trim().len()
    );
    assert_ne!(secret.trim(), SECRET);

    let token = mint_with_cli(data.path(), &[]).await;
    let client = daemon.client(&token);
    let id = client.create_policy("v1.0", "cli token").await;

    let reader = daemon.client(&mint_with_cli(data.path(), &["--scopes", READ]).await);
    reader.get("v1.0", &policy_path(&id)).await.expect(200);
    reader
        .post("v1.0", POLICIES, &windows10_policy("no"))
        .await
        .expect_error(403, "Forbidden");
    let app = daemon.client(&mint_with_cli(data.path(), &["--app-only", "--roles", WRITE]).await);
    app.get("v1.0", &policy_path(&id)).await.expect(200);
    let other = daemon.client(&mint_with_cli(data.path(), &["--tenant", OTHER_TENANT]).await);
    assert!(
        other.list("v1.0", POLICIES).await.is_empty(),
        "another tenant sees nothing"
    );

    let mut daemon = daemon;
    daemon.child.kill().await.expect("SIGKILL");
    let daemon = Daemon::start(data.path(), None).await;
    assert_eq!(generated_secret(data.path()), secret, "the secret is kept");
    assert_eq!(daemon.client(&token).ids("v1.0", POLICIES).await, vec![id]);
}

/// The secret a server generated: a file in the data folder on SQLite, a row of the shared
/// store on PostgreSQL (where every instance must find the same one).
fn generated_secret(data: &Path) -> String {
    match test_store(data) {
        None => std::fs::read_to_string(data.join("jwt-secret"))
            .expect("a secret file in the data folder"),
        Some(url) => {
            let out = std::process::Command::new("psql")
                .arg(&url)
                .args(["-qtAc", "SELECT body::json->>'value' FROM entity WHERE tenant = '_system' AND id = 'hs256'"])
                .output()
                .expect("psql");
            let secret = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert!(!secret.is_empty(), "a secret in the shared store");
            secret
        }
    }
}

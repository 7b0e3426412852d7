//! Operations: `/healthz` and `/readyz` for load balancers (no token, no throttling; 503 with a
//! Graph error body while the store is away), and `/metrics` (`--metrics`) in the Prometheus
//! text format, labelled by route template so that no client can make label values.

use crate::durability::Daemon;
use crate::stores::pg_script;
use crate::support::*;
use complyd::http::throttle::ThrottleLimits;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const ENTITY: &str = "/{version}/deviceManagement/deviceCompliancePolicies/{id}";
const COLLECTION: &str = "/{version}/deviceManagement/deviceCompliancePolicies";

fn anonymous(server: &Server) -> Client {
    server.client_with_token(None)
}

async fn get_path(client: &Client, path: &str) -> Resp {
    client.get_url(&format!("{}{path}", client.base)).await
}

#[track_caller]
fn expect_ok_body(resp: Resp) {
    let resp = resp.expect(200);
    assert_eq!(resp.json(), json!({"status": "ok"}));
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert!(resp.header("request-id").is_some());
}

#[tokio::test]
async fn healthz_and_readyz_answer_without_a_token_and_ignore_a_bad_one() {
    let server = Server::start().await;
    let bad_token = server.client_with_token(Some("not-a-token".into()));
    for client in [anonymous(&server), bad_token] {
        for path in ["/healthz", "/readyz"] {
            expect_ok_body(get_path(&client, path).await);
        }
    }
    // GET only; anything else is a Graph error, not an empty 405.
    let post = anonymous(&server)
        .send(
            reqwest::Method::POST,
            &format!("{}/readyz", server.base),
            None,
        )
        .await
        .expect_error(400, ROUTE_ERROR);
    assert!(post.error_message().contains("/readyz"), "{}", post.text);
}

#[tokio::test]
async fn probes_are_not_throttled() {
    let limits = ThrottleLimits::parse("requests=1,writes=1,window=60s").unwrap();
    let server = Server::start_with(|c| c.throttle = Some(limits)).await;
    let client = server.client();
    client.get("v1.0", POLICIES).await.expect(200);
    client
        .get("v1.0", POLICIES)
        .await
        .expect_error(429, "TooManyRequests");
    // The same caller's token on the probes changes nothing.
    for _ in 0..5 {
        expect_ok_body(get_path(&client, "/healthz").await);
        expect_ok_body(get_path(&client, "/readyz").await);
    }
}

/// SQLite always answers from its open files, so the honest way down is the one an operator can
/// cause: the database file leaves the data folder (a wiped or remounted volume). Writes would go
/// to a file no restart finds, so the server is not ready until the file is back.
#[tokio::test]
async fn readyz_on_sqlite_is_503_while_the_database_file_is_gone() {
    let server = Server::start_with(|c| c.store = None).await;
    let client = anonymous(&server);
    expect_ok_body(get_path(&client, "/readyz").await);
    let (db, moved) = (
        server.data_dir().join("complyd.db"),
        server.data_dir().join("complyd.db.moved"),
    );
    std::fs::rename(&db, &moved).unwrap();
    let down = wait_for_status(&client, "/readyz", 503).await;
    let down = down.expect_error(503, "ServiceUnavailable");
    assert!(down.header("retry-after").is_some());
    assert!(
        !down.text.contains("complyd.db"),
        "details stay in the log: {}",
        down.text
    );
    expect_ok_body(get_path(&client, "/healthz").await);
    std::fs::rename(&moved, &db).unwrap();
    expect_ok_body(wait_for_status(&client, "/readyz", 200).await);
}

/// A PostgreSQL of its own, stopped and started by the test, whichever store the suite runs on;
/// with metrics on, the pool's gauges are there too.
#[tokio::test]
async fn readyz_on_postgresql_is_503_while_it_is_down_and_200_when_it_is_back() {
    let cluster = tempfile::Builder::new()
        .prefix("complyd-pg-readyz")
        .tempdir()
        .unwrap();
    let cluster_dir = cluster.path().to_str().unwrap().to_string();
    let url = pg_script(&["start", &cluster_dir]);
    let port = url.rsplit(':').next().unwrap().split('/').next().unwrap();
    let port = port.to_string();
    let server = Server::start_with(|c| {
        c.store = Some(url.clone());
        c.metrics = true;
    })
    .await;
    let client = anonymous(&server);
    expect_ok_body(get_path(&client, "/readyz").await);
    let text = scrape(&server).await;
    let samples = parse(&text);
    assert_eq!(value(&samples, "complyd_store_pool_connections", &[]), 4.0);
    let in_use = value(&samples, "complyd_store_pool_connections_in_use", &[]);
    assert!((0.0..=4.0).contains(&in_use), "{in_use}");

    pg_script(&["stop", &cluster_dir]);
    let down = wait_for_status(&client, "/readyz", 503).await;
    let down = down.expect_error(503, "ServiceUnavailable");
    assert!(down.header("retry-after").is_some());
    // Each answer while down comes within the readiness timeout (2 s), not a connect's patience.
    for _ in 0..3 {
        let started = Instant::now();
        get_path(&client, "/readyz")
            .await
            .expect_error(503, "ServiceUnavailable");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    expect_ok_body(get_path(&client, "/healthz").await);

    pg_script(&["start", &cluster_dir, &port]);
    expect_ok_body(wait_for_status(&client, "/readyz", 200).await);
    drop(server.stop().await);
    pg_script(&["stop", &cluster_dir]);
}

/// Polls `path` until it answers `status` (the readiness answer is reused for a second).
async fn wait_for_status(client: &Client, path: &str, status: u16) -> Resp {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let resp = get_path(client, path).await;
        if resp.status == status {
            return resp;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never answered {status}: {} {}",
            resp.status,
            resp.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn metrics_are_off_by_default_and_then_like_any_unknown_path() {
    let server = Server::start().await;
    for client in [anonymous(&server), server.client()] {
        let unknown = get_path(&client, "/nosuchpath").await;
        let metrics = get_path(&client, "/metrics").await;
        assert_eq!(metrics.status, unknown.status, "{}", metrics.text);
        let metrics = metrics.expect_error(unknown.status, &unknown.error_code());
        assert!(!metrics.text.contains("complyd_"), "{}", metrics.text);
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_never_by_raw_path() {
    let server = Server::start_with(|c| c.metrics = true).await;
    let client = server.client();
    let first = client.create_policy("v1.0", "counted").await;
    let second = client.create_policy("beta", "counted too").await;
    client.get("v1.0", &policy_path(&first)).await.expect(200);
    client.get("beta", &policy_path(&second)).await.expect(200);
    let missing = "0badc0de-0000-4000-8000-00000000beef";
    client.get("v1.0", &policy_path(missing)).await.expect(404);
    client.list("v1.0", POLICIES).await;
    client
        .get("v1.0", &format!("{POLICIES}/$count"))
        .await
        .expect(200);
    client
        .post(
            "v1.0",
            &format!("{}/assign", policy_path(&first)),
            &json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]}),
        )
        .await
        .expect(200);
    let batch = json!({"requests": [
        {"id": "1", "method": "GET", "url": format!("/{}", policy_path(&first))},
    ]});
    client.post("v1.0", "$batch", &batch).await.expect(200);
    anonymous(&server).get("v1.0", POLICIES).await.expect(401);
    client
        .get("v1.0", "deviceManagement/secretSegmentXyzzy")
        .await
        .expect(400);
    client.get("v9.9", POLICIES).await.expect(404);
    anonymous(&server)
        .get("v1.0", "$metadata")
        .await
        .expect(200);
    get_path(&anonymous(&server), "/healthz").await.expect(200);
    get_path(&anonymous(&server), "/common/discovery/instance").await;

    // No token needed to scrape.
    let text = scrape(&server).await;
    let samples = parse(&text);
    let requests = |route: &str, method: &str, status: &str| {
        value(
            &samples,
            "complyd_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    // Both versions and the batch's inner GET under one template.
    assert_eq!(requests(ENTITY, "GET", "200"), 3.0, "{text}");
    assert_eq!(requests(ENTITY, "GET", "404"), 1.0);
    assert_eq!(requests(COLLECTION, "POST", "201"), 2.0);
    assert_eq!(requests(COLLECTION, "GET", "200"), 1.0);
    assert_eq!(requests(&format!("{COLLECTION}/$count"), "GET", "200"), 1.0);
    assert_eq!(requests(&format!("{ENTITY}/assign"), "POST", "200"), 1.0);
    assert_eq!(requests("batch", "POST", "200"), 1.0);
    assert_eq!(requests("unresolved", "GET", "401"), 1.0);
    assert_eq!(requests("unmatched", "GET", "400"), 1.0);
    assert_eq!(requests("unmatched", "GET", "404"), 1.0);
    assert_eq!(requests("metadata", "GET", "200"), 1.0);
    assert_eq!(requests("healthz", "GET", "200"), 1.0);
    assert!(
        sum(
            &samples,
            "complyd_http_requests_total",
            &[("route", "token_service")]
        ) >= 1.0
    );
    for raw in [&first, &second, missing, "secretSegmentXyzzy", "v9.9"] {
        assert!(!text.contains(raw), "{raw} is in the exposition:\n{text}");
    }

    // The latency histogram: cumulative buckets ending in +Inf = count, and a sum.
    let labels = [("route", ENTITY), ("method", "GET")];
    let count = value(
        &samples,
        "complyd_http_request_duration_seconds_count",
        &labels,
    );
    assert_eq!(count, 4.0);
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == "complyd_http_request_duration_seconds_bucket" && s.has(&labels))
        .map(|s| s.value)
        .collect();
    assert!(buckets.len() > 5, "{buckets:?}");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(
        value(
            &samples,
            "complyd_http_request_duration_seconds_bucket",
            &[labels[0], labels[1], ("le", "+Inf")]
        ),
        count
    );
    assert!(
        value(
            &samples,
            "complyd_http_request_duration_seconds_sum",
            &labels
        ) > 0.0
    );

    // The store's operations: two creates and an assign written; lookups, pages and a count read.
    let store = |op: &str| {
        value(
            &samples,
            "complyd_store_operation_duration_seconds_count",
            &[("operation", op)],
        )
    };
    assert!(store("write") >= 3.0, "{text}");
    assert!(store("get") >= 4.0);
    assert!(store("query") >= 1.0);
    assert!(store("count") >= 1.0);
    assert_eq!(
        value(&samples, "complyd_store_writer_queue_depth", &[]),
        0.0,
        "every write was answered, so none waits"
    );
    // The scrape's own connection is open.
    assert!(value(&samples, "complyd_http_connections_open", &[]) >= 1.0);
    assert_eq!(
        value(&samples, "complyd_http_throttled_requests_total", &[]),
        0.0
    );

    // The scrape itself is counted, by the next one.
    let again = parse(&scrape(&server).await);
    assert_eq!(
        value(
            &again,
            "complyd_http_requests_total",
            &[("route", "metrics"), ("status", "200")]
        ),
        1.0
    );
}

#[tokio::test]
async fn clients_cannot_make_label_values() {
    let server = Server::start_with(|c| c.metrics = true).await;
    let client = server.client();
    let before = route_values(&parse(&scrape(&server).await));
    for i in 0..40 {
        let id = format!("00000000-0000-4000-8000-{i:012}");
        client.get("v1.0", &policy_path(&id)).await.expect(404);
        get_path(&client, &format!("/v1.0/marker{i}")).await;
        get_path(&client, &format!("/marker{i}/deviceManagement")).await;
        get_path(&client, &format!("/tenant-marker{i}/oauth2/v2.0/token")).await;
        let method = reqwest::Method::from_bytes(format!("MARKER{i}").as_bytes()).unwrap();
        client
            .send(method, &client.url("v1.0", POLICIES), None)
            .await;
    }
    let text = scrape(&server).await;
    let samples = parse(&text);
    assert!(
        !text.contains("marker") && !text.contains("MARKER"),
        "{text}"
    );
    assert!(!text.contains("00000000-0000-4000-8000"), "{text}");
    let after = route_values(&samples);
    let new: Vec<_> = after.difference(&before).collect();
    assert!(new.len() <= 6, "200 distinct requests made {new:?}");
    let series = samples
        .iter()
        .filter(|s| s.name == "complyd_http_requests_total")
        .count();
    assert!(series <= 10, "{series} series:\n{text}");
}

fn route_values(samples: &[Sample]) -> BTreeSet<String> {
    samples
        .iter()
        .filter_map(|s| s.labels.get("route").cloned())
        .collect()
}

#[tokio::test]
async fn throttled_requests_are_counted() {
    let limits = ThrottleLimits::parse("requests=2,window=60s").unwrap();
    let server = Server::start_with(|c| {
        c.throttle = Some(limits);
        c.metrics = true;
    })
    .await;
    let client = server.client();
    for _ in 0..2 {
        client.get("v1.0", POLICIES).await.expect(200);
    }
    for _ in 0..3 {
        client
            .get("v1.0", POLICIES)
            .await
            .expect_error(429, "TooManyRequests");
    }
    let samples = parse(&scrape(&server).await);
    assert_eq!(
        value(&samples, "complyd_http_throttled_requests_total", &[]),
        3.0
    );
    assert_eq!(
        value(
            &samples,
            "complyd_http_requests_total",
            &[("route", "unresolved"), ("status", "429")]
        ),
        3.0
    );
}

#[tokio::test]
async fn the_binary_serves_metrics_with_the_flag_or_the_environment_variable() {
    let data = tempfile::tempdir().unwrap();
    let store = test_store(data.path());
    let metrics_status = |extra: &'static [&'static str],
                          env: &'static [(&'static str, &'static str)]| {
        let (data, store) = (data.path().to_path_buf(), store.clone());
        async move {
            let daemon = Daemon::start_on_with_env(&data, Some(SECRET), extra, store, env).await;
            let resp = reqwest::get(format!("{}/metrics", daemon.base))
                .await
                .unwrap();
            resp.status().as_u16()
        }
    };
    assert_eq!(metrics_status(&["--metrics"], &[]).await, 200);
    assert_eq!(
        metrics_status(&[], &[("COMPLYD_METRICS", "true")]).await,
        200
    );
    assert_eq!(metrics_status(&[], &[]).await, 404);
}

/// GET /metrics without a token: 200 in the Prometheus text format.
async fn scrape(server: &Server) -> String {
    let resp = get_path(&anonymous(server), "/metrics").await.expect(200);
    let content_type = resp.header("content-type").unwrap();
    assert!(
        content_type.starts_with("text/plain") && content_type.contains("version=0.0.4"),
        "{content_type}"
    );
    resp.text
}

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

impl Sample {
    fn has(&self, wanted: &[(&str, &str)]) -> bool {
        wanted
            .iter()
            .all(|(k, v)| self.labels.get(*k).map(String::as_str) == Some(*v))
    }
}

/// The exposition, strictly: every line is a comment or `name{labels} value`.
fn parse(text: &str) -> Vec<Sample> {
    assert!(text.ends_with('\n'), "no final newline");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| parse_sample(line).unwrap_or_else(|| panic!("not a sample: {line:?}")))
        .collect()
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = inner.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after.chars();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        _ => return None,
                    },
                    c => value.push(c),
                }
            }
            if !is_name(key) || labels.insert(key.to_string(), value).is_some() {
                return None;
            }
            inner = chars.as_str();
            inner = inner.strip_prefix(',').unwrap_or(inner);
        }
    }
    let value: f64 = rest.strip_prefix(' ')?.parse().ok()?;
    is_name(name).then(|| Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The one sample of `name` with these labels (among others).
#[track_caller]
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name && s.has(labels))
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].value
}

fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && s.has(labels))
        .map(|s| s.value)
        .sum()
}

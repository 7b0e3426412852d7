//! The HTTP layer: slow heads, resting connections, the connection cap, heads hyper refuses,
//! body content types, nested batches.

use crate::support::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// A response read off a raw connection.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a complete Graph error with this status and code; returns its message.
    #[track_caller]
    fn graph_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert!(self
            .header("content-type")
            .unwrap()
            .contains("application/json"));
        let body: Value = serde_json::from_str(&self.body).expect("a JSON body");
        let error = &body["error"];
        assert_eq!(error["code"], code, "{body}");
        let inner = &error["innerError"];
        assert_eq!(
            inner["request-id"].as_str(),
            self.header("request-id"),
            "{body}"
        );
        assert!(inner["client-request-id"].is_string(), "{body}");
        assert!(inner["date"].is_string(), "{body}");
        let message = error["message"].as_str().unwrap().to_string();
        assert!(!message.is_empty());
        message
    }
}

/// Reads one response: the head, then `content-length` bytes of body.
async fn read_response(stream: &mut TcpStream) -> Raw {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(
            n > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed inside a body");
        body.extend_from_slice(&chunk[..n]);
    }
    Raw {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Sends `request` on a new connection and reads the response.
async fn exchange(addr: &str, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), read_response(&mut stream))
        .await
        .expect("an answer within 10 s")
}

/// Whether the server closes `stream` (a connection or its read half) within `wait` (EOF or reset).
async fn closed_within(stream: &mut (impl AsyncRead + Unpin), wait: Duration) -> bool {
    let mut sink = [0u8; 4096];
    tokio::time::timeout(wait, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Opens a connection and sends `head` one byte every 300 ms until the server closes it;
/// returns how long that took (at most `give_up`).
async fn trickle(addr: String, head: Vec<u8>, give_up: Duration) -> Duration {
    let started = Instant::now();
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let read = async {
        let mut sink = [0u8; 1024];
        while let Ok(n) = reader.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let write = async {
        for byte in head.iter().cycle() {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let _ = tokio::time::timeout(give_up, async {
        tokio::select! {
            () = read => {},
            () = write => {},
        }
    })
    .await;
    started.elapsed()
}

/// A request line and a header that never ends.
fn endless_head() -> Vec<u8> {
    let mut head = format!("GET /v1.0/{POLICIES} HTTP/1.1\r\nHost: x\r\nX-Slow: ").into_bytes();
    head.extend(std::iter::repeat_n(b'a', 10_000));
    head
}

#[tokio::test]
async fn heads_sent_a_byte_at_a_time_are_cut_off_at_the_header_timeout() {
    let server = Server::start_with(|c| c.header_timeout = Duration::from_secs(1)).await;
    let give_up = Duration::from_secs(15);
    let slow: Vec<_> = (0..50)
        .map(|_| tokio::spawn(trickle(addr(&server), endless_head(), give_up)))
        .collect();
    // Meanwhile the server answers others.
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.client().get("v1.0", POLICIES).await.expect(200);
    for task in slow {
        let held = task.await.unwrap();
        assert!(
            held >= Duration::from_millis(700) && held < Duration::from_secs(4),
            "a slow head was held {held:?} with a 1 s header timeout"
        );
    }
    server.client().get("v1.0", POLICIES).await.expect(200);
}

#[tokio::test]
async fn a_silent_tls_client_is_cut_off_at_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let identity = complyd::tls::TlsIdentity::auto(dir.path(), &[]).unwrap();
    let server = Server::start_in(dir, move |c| {
        c.tls = Some(identity);
        c.header_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = server.base.trim_start_matches("http://").to_string();
    // Half a ClientHello, then nothing.
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
        .await
        .unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(4)).await);
    assert!(started.elapsed() >= Duration::from_millis(700));
}

#[tokio::test]
async fn a_kept_alive_connection_rests_for_the_idle_timeout_not_the_header_timeout() {
    let server = Server::start_with(|c| {
        c.header_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(3);
    })
    .await;
    let request = b"GET /v1.0/$metadata HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut stream = TcpStream::connect(addr(&server)).await.unwrap();
    stream.write_all(request).await.unwrap();
    assert_eq!(read_response(&mut stream).await.status, 200);
    // Resting longer than a head may take is fine...
    tokio::time::sleep(Duration::from_millis(1600)).await;
    stream.write_all(request).await.unwrap();
    assert_eq!(read_response(&mut stream).await.status, 200);
    // ...resting past the idle timeout is not.
    let rested = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(6)).await);
    let held = rested.elapsed();
    assert!(held >= Duration::from_millis(2500), "closed after {held:?}");
}

#[tokio::test]
async fn a_later_head_that_trickles_is_cut_off_at_the_header_timeout() {
    let server = Server::start_with(|c| {
        c.header_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(10);
    })
    .await;
    let mut stream = TcpStream::connect(addr(&server)).await.unwrap();
    for _ in 0..2 {
        stream
            .write_all(b"GET /v1.0/$metadata HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_response(&mut stream).await.status, 200);
    }
    // The connection's timer has served two heads; the third starts at once and trickles: it has
    // the header timeout from its first byte, not the idle timeout.
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let trickling = tokio::spawn(async move {
        for byte in endless_head() {
            if writer.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let closed = closed_within(&mut reader, Duration::from_secs(8)).await;
    trickling.abort();
    let held = started.elapsed();
    assert!(closed, "still open after {held:?}");
    assert!(
        held >= Duration::from_millis(700) && held < Duration::from_secs(4),
        "a trickling third head was held {held:?} with a 1 s header timeout"
    );
}

#[tokio::test]
async fn connections_past_the_cap_are_answered_503_and_closed() {
    let server = Server::start_with(|c| c.max_connections = 8).await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(addr(&server)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The ninth, over HTTP.
    let resp = server.client().get("v1.0", POLICIES).await;
    assert_eq!(resp.header("connection").as_deref(), Some("close"));
    assert_eq!(resp.header("retry-after").as_deref(), Some("1"));
    let message = resp.expect_error(503, "ServiceUnavailable").error_message();
    assert!(message.contains("8 concurrent connections"), "{message}");
    // A flood past the cap is answered and let go, not held.
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let addr = addr(&server);
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(&addr).await.unwrap();
                let request = format!("GET /v1.0/{POLICIES} HTTP/1.1\r\nHost: x\r\n\r\n");
                stream.write_all(request.as_bytes()).await.unwrap();
                let answer = read_response(&mut stream).await;
                assert_eq!(answer.status, 503);
                closed_within(&mut stream, Duration::from_secs(3)).await
            })
        })
        .collect();
    for task in flood {
        assert!(task.await.unwrap(), "a refused connection was held open");
    }
    // The held ones still count; once they go, requests are served again.
    assert_eq!(server.client().get("v1.0", POLICIES).await.status, 503);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = server.client().get("v1.0", POLICIES).await.status;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after the held connections closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408_and_nothing_is_stored() {
    let server = Server::start_with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let token = server.client().token.unwrap();
    let request = format!(
        "POST /v1.0/{POLICIES} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{{\"displayName\":"
    );
    let started = Instant::now();
    let message = exchange(&addr(&server), request.as_bytes())
        .await
        .graph_error(408, "RequestTimeout");
    assert!(message.contains("1 seconds"), "{message}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(server.client().list("v1.0", POLICIES).await.is_empty());
}

/// CPU time (user + system, clock ticks) the process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line; `state` (3) is the first here.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test]
async fn out_of_descriptors_the_server_waits_without_spinning_then_recovers() {
    use std::process::Stdio;
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    // The real binary with 64 descriptors and a cap far above them.
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_complyd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--jwt-secret", SECRET])
        .args([
            "--max-connections",
            "1000",
            "--header-timeout",
            "60",
            "--data",
        ])
        .arg(dir.path())
        .env_remove("COMPLYD_STORE")
        .env_remove("COMPLYD_MAX_CONNECTIONS")
        .env_remove("COMPLYD_HEADER_TIMEOUT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = line.strip_prefix("listening on ").unwrap().to_string();
    let addr = base.trim_start_matches("http://").to_string();
    let mut held = Vec::new();
    for _ in 0..100 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().unwrap();
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = cpu_ticks(pid) - before;
    assert!(
        used < 50,
        "{used} ticks in a second while out of descriptors: a busy loop"
    );
    drop(held);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = client
            .get(format!("{base}/v1.0/$metadata"))
            .send()
            .await
            .map(|r| r.status().as_u16());
        if status.as_ref().is_ok_and(|s| *s == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "not serving again: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(child.try_wait().unwrap().is_none(), "the server exited");
}

#[tokio::test]
async fn overlong_uris_are_414_with_a_graph_error() {
    let server = Server::start().await;
    let client = server.client();
    let url = format!(
        "{}?$filter={}",
        client.url("v1.0", POLICIES),
        "a".repeat(33 * 1024)
    );
    let message = client
        .get_url(&url)
        .await
        .expect_error(414, "RequestUriTooLong")
        .error_message();
    assert!(message.contains("32768 bytes"), "{message}");
    // Past hyper's own limit (64 KiB) and the head limit, and far past both: HTTP clients
    // refuse to send those, so over a raw connection.
    let token = client.token.clone().unwrap();
    for length in [70 * 1024, 1024 * 1024] {
        let request = format!(
            "GET /v1.0/{POLICIES}?$filter={} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n",
            "a".repeat(length)
        );
        let message = exchange(&addr(&server), request.as_bytes())
            .await
            .graph_error(414, "RequestUriTooLong");
        assert!(message.contains("32768 bytes"), "{message}");
    }
    // Just under the limit is served (and fails on the filter, not the length).
    let url = format!(
        "{}?$top={}",
        client.url("v1.0", POLICIES),
        "1".repeat(30 * 1024)
    );
    assert_eq!(client.get_url(&url).await.status, 400);
}

#[tokio::test]
async fn oversized_heads_are_431_with_a_graph_error() {
    let server = Server::start().await;
    let client = server.client();
    let url = client.url("v1.0", POLICIES);
    let big = "b".repeat(70 * 1024);
    let message = client
        .send_with(reqwest::Method::GET, &url, None, &[("X-Big", &big)])
        .await
        .expect_error(431, "RequestHeaderFieldsTooLarge")
        .error_message();
    assert!(message.contains("65536 bytes") && message.contains("100 header fields"));
    // Too many fields, each small.
    let mut request = format!("GET /v1.0/{POLICIES} HTTP/1.1\r\nHost: x\r\n");
    for i in 0..101 {
        request.push_str(&format!("X-Field-{i}: 1\r\n"));
    }
    request.push_str("\r\n");
    exchange(&addr(&server), request.as_bytes())
        .await
        .graph_error(431, "RequestHeaderFieldsTooLarge");
    // A large head under the limit is served.
    let fine = "c".repeat(40 * 1024);
    client
        .send_with(reqwest::Method::GET, &url, None, &[("X-Fine", &fine)])
        .await
        .expect(200);
}

#[tokio::test]
async fn malformed_request_lines_are_400_with_a_graph_error() {
    let server = Server::start().await;
    let token = server.client().token.unwrap();
    let malformed: [&[u8]; 6] = [
        b"GET /v1.0/device\x01Management HTTP/1.1\r\n",
        b"GET /v1.0/device Management HTTP/1.1\r\n",
        b"GET /v1.0/<deviceManagement> HTTP/1.1\r\n",
        b"GET /v1.0/device\xffManagement HTTP/1.1\r\nX-\xe9: 1\r\n",
        b"G\x7fT /v1.0/deviceManagement HTTP/1.1\r\n",
        b"GET /v1.0/deviceManagement HTTP/1.1\r\nBad Header: x\r\n",
    ];
    for line in malformed {
        let mut request = line.to_vec();
        request.extend_from_slice(
            format!("Host: x\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes(),
        );
        let answer = exchange(&addr(&server), &request).await;
        let message = answer.graph_error(400, "BadRequest");
        assert!(message.contains("malformed"), "{message}");
    }
}

/// Sends `body` with this Content-Type (none when `None`).
async fn send_typed(
    client: &Client,
    method: reqwest::Method,
    url: &str,
    content_type: Option<&str>,
    body: &str,
) -> Resp {
    let mut req = client
        .http
        .request(method, url)
        .bearer_auth(client.token.as_deref().unwrap())
        .body(body.to_string());
    if let Some(content_type) = content_type {
        req = req.header("Content-Type", content_type);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    Resp {
        status,
        headers,
        text: res.text().await.unwrap(),
    }
}

#[tokio::test]
async fn a_body_not_declared_json_is_415_and_nothing_is_stored() {
    let server = Server::start().await;
    let client = server.client();
    let url = client.url("v1.0", POLICIES);
    let body = windows10_policy("typed").to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let message = send_typed(&client, reqwest::Method::POST, &url, content_type, &body)
            .await
            .expect_error(415, "UnsupportedMediaType")
            .error_message();
        assert!(message.contains("application/json"), "{message}");
    }
    assert!(client.list("v1.0", POLICIES).await.is_empty());
    // PATCH likewise changes nothing.
    let id = client.create_policy("v1.0", "kept").await;
    let entity = client.url("v1.0", &policy_path(&id));
    send_typed(
        &client,
        reqwest::Method::PATCH,
        &entity,
        Some("text/plain"),
        r#"{"displayName":"changed"}"#,
    )
    .await
    .expect_error(415, "UnsupportedMediaType");
    let kept = client
        .get("v1.0", &policy_path(&id))
        .await
        .expect(200)
        .json();
    assert_eq!(kept["displayName"], "kept");
    // JSON however spelled is accepted.
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/json;odata.metadata=minimal",
    ] {
        send_typed(
            &client,
            reqwest::Method::POST,
            &url,
            Some(content_type),
            &body,
        )
        .await
        .expect(201);
    }
    // No body needs no type: a DELETE with a stray type still works.
    send_typed(
        &client,
        reqwest::Method::DELETE,
        &entity,
        Some("text/plain"),
        "",
    )
    .await
    .expect(204);
    // An empty body is judged on its own merits, not its type.
    let empty = send_typed(&client, reqwest::Method::POST, &url, None, "").await;
    assert_ne!(empty.status, 415, "{}", empty.text);
    // Inside a batch, an item's own Content-Type counts.
    let batch = json!({"requests": [{
        "id": "1", "method": "POST", "url": format!("/{POLICIES}"),
        "headers": {"Content-Type": "text/plain"}, "body": windows10_policy("in batch")
    }]});
    let item = client
        .post("v1.0", "$batch", &batch)
        .await
        .expect(200)
        .json()["responses"][0]
        .clone();
    assert_eq!(item["status"], 415, "{item}");
    assert_eq!(item["body"]["error"]["code"], "UnsupportedMediaType");
    assert_eq!(client.list("v1.0", POLICIES).await.len(), 3);
}

#[tokio::test]
async fn a_batch_inside_a_batch_is_refused_however_spelled_and_runs_nothing() {
    let server = Server::start().await;
    let client = server.client();
    let create = json!({"requests": [{
        "id": "1", "method": "POST", "url": format!("/{POLICIES}"),
        "headers": {"Content-Type": "application/json"}, "body": windows10_policy("nested")
    }]});
    let spellings = [
        "$batch",
        "/$batch",
        "/v1.0/$batch",
        "v1.0/$batch?x=1",
        "beta/$batch",
        "/beta/$batch/",
        "%24batch",
        "/v1.0/%24BATCH",
    ];
    let mut requests = vec![json!({"id": "plain", "method": "GET", "url": format!("/{POLICIES}")})];
    for (i, url) in spellings.iter().enumerate() {
        requests.push(json!({
            "id": format!("nested{i}"), "method": "POST", "url": url,
            "headers": {"Content-Type": "application/json"}, "body": create
        }));
    }
    let answer = client
        .post("v1.0", "$batch", &json!({ "requests": requests }))
        .await
        .expect(200)
        .json();
    let responses = answer["responses"].as_array().unwrap();
    assert_eq!(responses.len(), spellings.len() + 1);
    for item in responses {
        if item["id"] == "plain" {
            assert_eq!(item["status"], 200, "{item}");
            continue;
        }
        assert_eq!(item["status"], 400, "{item}");
        let error = &item["body"]["error"];
        assert_eq!(error["code"], "BadRequest", "{item}");
        assert!(
            error["message"].as_str().unwrap().contains("batch"),
            "{item}"
        );
        assert!(error["innerError"]["request-id"].is_string(), "{item}");
    }
    for version in VERSIONS {
        assert!(
            client.list(version, POLICIES).await.is_empty(),
            "a nested batch ran"
        );
    }
    // The outer batch itself may be spelled %24batch.
    let outer = client
        .post("v1.0", "%24batch", &create)
        .await
        .expect(200)
        .json();
    assert_eq!(outer["responses"][0]["status"], 201, "{outer}");
}

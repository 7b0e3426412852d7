//! Deliveries: a tenant's webhook (`/complyd/v1/webhook`) gets each event signed and retried with
//! backoff, and with `--smtp` every outbox message is mailed to the relay. `sendTestMessage` is the
//! event source here; the receivers are small servers of the test's own on port 0.

use crate::neighbours::{SERVICE_READ, SERVICE_WRITE, TEMPLATES};
use crate::support::*;
use complyd::auth::TokenRequest;
use complyd::service::SmtpRelay;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const SECRET: &str = "a-webhook-secret-of-some-length";

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    request_line: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A webhook receiver: answers its requests with `answers` in turn, then 200.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(answers: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(answers.to_vec()));
        let log = got.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, answers) = (log.clone(), answers.clone());
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    let mut request_line = String::new();
                    stream.read_line(&mut request_line).await.unwrap();
                    let mut headers = HashMap::new();
                    loop {
                        let mut line = String::new();
                        stream.read_line(&mut line).await.unwrap();
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        let (name, value) = line.split_once(':').unwrap();
                        headers.insert(name.to_lowercase(), value.trim().to_string());
                    }
                    let length: usize = headers["content-length"].parse().unwrap();
                    let mut body = vec![0; length];
                    stream.read_exact(&mut body).await.unwrap();
                    let status = {
                        let mut answers = answers.lock().unwrap();
                        if answers.is_empty() {
                            200
                        } else {
                            answers.remove(0)
                        }
                    };
                    log.lock().unwrap().push(Received {
                        request_line: request_line.trim_end().to_string(),
                        headers,
                        body,
                    });
                    let text = format!("answer {status}");
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    stream.get_mut().write_all(answer.as_bytes()).await.unwrap();
                });
            }
        });
        Self { url, got }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// Waits (at most 30 s) until `check` holds.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let started = std::time::Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server whose failed deliveries are retried after 20 ms, 40 ms, …
async fn quick_server(smtp: Option<SmtpRelay>) -> Server {
    Server::start_with(|c| {
        c.deliveries.backoff = Duration::from_millis(20);
        c.deliveries.smtp = smtp;
    })
    .await
}

fn own(server: &Server, rest: &str) -> String {
    format!("{}/complyd/v1/{rest}", server.base)
}

fn configurer(server: &Server) -> Client {
    server.client_with(TokenRequest::delegated(TENANT, &[SERVICE_WRITE]))
}

async fn put_webhook(client: &Client, server: &Server, body: &Value) -> Resp {
    client
        .send(
            reqwest::Method::PUT,
            &own(server, "webhook"),
            Some(body.to_string()),
        )
        .await
}

/// A template whose default message is `body`; answers the template's id.
async fn template(client: &Client, body: &str) -> String {
    let id = client
        .post(
            "v1.0",
            TEMPLATES,
            &json!({"displayName": "Deliveries", "brandingOptions": "none"}),
        )
        .await
        .expect(201)
        .id();
    client
        .post(
            "v1.0",
            &format!("{TEMPLATES}/{id}/localizedNotificationMessages"),
            &json!({"locale": "en-us", "subject": "Device needs attention",
                    "messageTemplate": body, "isDefault": true}),
        )
        .await
        .expect(201);
    id
}

async fn send_test_message(client: &Client, template: &str) {
    client
        .post(
            "v1.0",
            &format!("{TEMPLATES}/{template}/sendTestMessage"),
            &json!({}),
        )
        .await
        .expect(204);
}

async fn listed(client: &Client, server: &Server, kind: &str) -> Vec<Value> {
    client
        .get_url(&own(server, &format!("{kind}/deliveries")))
        .await
        .expect(200)
        .values()
}

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn a_test_message_reaches_the_webhook_signed_and_is_retried_until_accepted() {
    let server = quick_server(None).await;
    let receiver = Receiver::start(&[500, 503]).await;
    let client = configurer(&server);
    let template = template(&client, "Please update your device.").await;
    // No webhook yet: nothing is queued.
    send_test_message(&client, &template).await;
    assert!(listed(&client, &server, "webhook").await.is_empty());
    let shown = put_webhook(
        &client,
        &server,
        &json!({"url": receiver.url, "secret": SECRET}),
    )
    .await
    .expect(200);
    assert_eq!(shown.json()["url"], receiver.url.as_str());
    assert_eq!(shown.json()["secretSet"], true);
    send_test_message(&client, &template).await;
    until("the third attempt is accepted", || async {
        let items = listed(&client, &server, "webhook").await;
        items.len() == 1 && items[0]["state"] == "delivered"
    })
    .await;
    let delivery = listed(&client, &server, "webhook").await.remove(0);
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["lastError"], Value::Null);
    assert_eq!(delivery["event"]["kind"], "testMessage");
    let id = delivery["id"].as_str().unwrap();
    let got = receiver.received();
    assert_eq!(got.len(), 3, "{got:?}");
    let mut bodies = Vec::new();
    for (n, request) in got.iter().enumerate() {
        assert!(
            request.request_line.starts_with("POST /hook "),
            "{request:?}"
        );
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.headers["x-complyd-delivery"], id);
        assert_eq!(request.headers["x-complyd-attempt"], (n + 1).to_string());
        let timestamp = &request.headers["x-complyd-timestamp"];
        let now = complyd::common::now_unix();
        assert!((timestamp.parse::<i64>().unwrap() - now).abs() < 60);
        // The receiver's check: HMAC-SHA256 over "<timestamp>.<raw body>" with the secret.
        let mut signed = format!("{timestamp}.").into_bytes();
        signed.extend_from_slice(&request.body);
        assert_eq!(
            request.headers["x-complyd-signature"],
            format!("sha256={}", hmac_hex(SECRET, &signed))
        );
        assert_ne!(
            request.headers["x-complyd-signature"],
            format!("sha256={}", hmac_hex("another secret entirely", &signed))
        );
        bodies.push(request.body.clone());
    }
    // Every attempt carries the same body.
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    let body: Value = serde_json::from_slice(&bodies[0]).unwrap();
    assert_eq!(body["id"], id);
    assert_eq!(body["tenant"], TENANT);
    assert!(body["createdDateTime"].is_string());
    assert_eq!(body["event"]["kind"], "testMessage");
    assert_eq!(
        body["event"]["notificationMessageTemplateId"],
        template.as_str()
    );
    assert_eq!(body["event"]["subject"], "Device needs attention");
    let summary = client
        .get_url(&own(&server, "webhook"))
        .await
        .expect(200)
        .json();
    assert_eq!(
        summary["deliveries"],
        json!({"pending": 0, "delivered": 1, "failed": 0})
    );
}

#[tokio::test]
async fn a_client_error_fails_a_delivery_without_retrying_it() {
    let server = quick_server(None).await;
    let receiver = Receiver::start(&[400]).await;
    let client = configurer(&server);
    let template = template(&client, "Body").await;
    put_webhook(&client, &server, &json!({"url": receiver.url}))
        .await
        .expect(200);
    send_test_message(&client, &template).await;
    until("the delivery fails", || async {
        let items = listed(&client, &server, "webhook").await;
        items.len() == 1 && items[0]["state"] == "failed"
    })
    .await;
    let delivery = listed(&client, &server, "webhook").await.remove(0);
    assert_eq!(delivery["attempts"], 1);
    let error = delivery["lastError"].as_str().unwrap();
    assert!(
        error.contains("400") && error.contains("answer 400"),
        "{error}"
    );
    assert!(delivery["finishedDateTime"].is_string());
    // Without a secret, nothing is signed.
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(!got[0].headers.contains_key("x-complyd-signature"));
    // Several of the worker's passes later (retries wait 20 ms here), still one request.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), 1);
    let summary = client
        .get_url(&own(&server, "webhook"))
        .await
        .expect(200)
        .json();
    assert_eq!(summary["deliveries"]["failed"], 1);
}

#[tokio::test]
async fn the_webhook_settings_are_checked_guarded_and_never_show_the_secret() {
    let server = Server::start().await;
    let client = configurer(&server);
    let url = own(&server, "webhook");
    let empty = client.get_url(&url).await.expect(200).json();
    assert_eq!(empty["configured"], false);
    assert_eq!(empty["url"], Value::Null);
    assert_eq!(empty["secretSet"], false);
    let long = format!("https://hooks.example/{}", "a".repeat(2048));
    for (bad, words) in [
        (
            json!({"url": "not a url", "secret": SECRET}),
            "absolute URL",
        ),
        (
            json!({"url": "ftp://hooks.example/x", "secret": SECRET}),
            "http or https",
        ),
        (json!({"url": long, "secret": SECRET}), "2048"),
        (
            json!({"url": "https://hooks.example/x", "secret": "too short"}),
            "16 to 256",
        ),
        (
            json!({"url": "https://hooks.example/x", "secret": SECRET, "events": ["x"]}),
            "'events'",
        ),
        (json!({"secret": SECRET}), "needs a url"),
        (json!(["https://hooks.example/x"]), "JSON object"),
    ] {
        let resp = put_webhook(&client, &server, &bad)
            .await
            .expect_error(400, "BadRequest");
        assert!(resp.error_message().contains(words), "{bad}: {}", resp.text);
    }
    let resp = client
        .send(reqwest::Method::PUT, &url, Some("{\"url\": ".into()))
        .await
        .expect_error(400, "BadRequest");
    assert!(
        resp.error_message().contains("not valid JSON"),
        "{}",
        resp.text
    );
    client
        .send(reqwest::Method::PUT, &url, None)
        .await
        .expect_error(400, "BadRequest");
    // Nothing refused was stored.
    assert_eq!(
        client.get_url(&url).await.expect(200).json()["configured"],
        false
    );
    let good = json!({"url": "https://hooks.example/in", "secret": SECRET});
    put_webhook(&client, &server, &good).await.expect(200);
    // Readers read; only writers change it; others neither.
    let reader = server.client_with(TokenRequest::delegated(TENANT, &[SERVICE_READ]));
    let shown = reader.get_url(&url).await.expect(200);
    assert_eq!(shown.json()["url"], "https://hooks.example/in");
    assert_eq!(shown.json()["secretSet"], true);
    assert!(!shown.text.contains(SECRET), "{}", shown.text);
    put_webhook(&reader, &server, &good)
        .await
        .expect_error(403, "Forbidden");
    reader
        .send(reqwest::Method::DELETE, &url, None)
        .await
        .expect_error(403, "Forbidden");
    let outsider = server.client_with(TokenRequest::delegated(TENANT, &[WRITE]));
    outsider.get_url(&url).await.expect_error(403, "Forbidden");
    outsider
        .get_url(&own(&server, "webhook/deliveries"))
        .await
        .expect_error(403, "Forbidden");
    server
        .client_with_token(None)
        .get_url(&url)
        .await
        .expect_error(401, "InvalidAuthenticationToken");
    // Another tenant has its own (none).
    let other = server.client_with(TokenRequest::delegated(OTHER_TENANT, &[SERVICE_READ]));
    assert_eq!(
        other.get_url(&url).await.expect(200).json()["configured"],
        false
    );
    client
        .send(reqwest::Method::POST, &url, Some("{}".into()))
        .await
        .expect_error(400, ROUTE_ERROR);
    for bad in ["?$top=1001", "?$top=x", "?$filter=state"] {
        let resp = client
            .get_url(&format!("{}{bad}", own(&server, "webhook/deliveries")))
            .await
            .expect_error(400, "BadRequest");
        assert!(!resp.error_message().is_empty());
    }
    client
        .send(reqwest::Method::DELETE, &url, None)
        .await
        .expect(204);
    assert_eq!(
        client.get_url(&url).await.expect(200).json()["configured"],
        false
    );
    client
        .send(reqwest::Method::DELETE, &url, None)
        .await
        .expect(204);
}

#[tokio::test]
async fn a_tenant_reset_removes_its_webhook_and_deliveries() {
    let server = quick_server(None).await;
    let receiver = Receiver::start(&[]).await;
    let client = server.client_with(TokenRequest::delegated(
        TENANT,
        &[SERVICE_WRITE, "Complyd.Tenant.Reset"],
    ));
    let template = template(&client, "Body").await;
    put_webhook(
        &client,
        &server,
        &json!({"url": receiver.url, "secret": SECRET}),
    )
    .await
    .expect(200);
    send_test_message(&client, &template).await;
    until("the delivery is delivered", || async {
        listed(&client, &server, "webhook")
            .await
            .first()
            .map(|d| d["state"].clone())
            == Some(json!("delivered"))
    })
    .await;
    client
        .send(reqwest::Method::DELETE, &own(&server, "tenant"), None)
        .await
        .expect(200);
    let summary = client
        .get_url(&own(&server, "webhook"))
        .await
        .expect(200)
        .json();
    assert_eq!(summary["configured"], false);
    assert_eq!(
        summary["deliveries"],
        json!({"pending": 0, "delivered": 0, "failed": 0})
    );
    assert!(listed(&client, &server, "webhook").await.is_empty());
}

/// What a fake relay was told in one session.
#[derive(Debug, Clone, Default)]
struct Session {
    from: String,
    to: Vec<String>,
    /// The message as it came over the wire, dot-stuffing and all.
    wire: String,
}

fn say(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

/// A fake SMTP relay: the first `busy` sessions are turned away with 421, the others accepted.
struct Relay {
    port: u16,
    sessions: Arc<Mutex<Vec<Session>>>,
    turned_away: Arc<Mutex<usize>>,
}

impl Relay {
    async fn start(busy: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let turned_away = Arc::new(Mutex::new(0));
        let (log, away) = (sessions.clone(), turned_away.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, away) = (log.clone(), away.clone());
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    let turn_away = {
                        let mut away = away.lock().unwrap();
                        let now = *away < busy;
                        if now {
                            *away += 1;
                        }
                        now
                    };
                    if turn_away {
                        let _ = stream
                            .get_mut()
                            .write_all(b"421 busy, come back later\r\n")
                            .await;
                        return;
                    }
                    let mut session = Session::default();
                    stream
                        .get_mut()
                        .write_all(&say("220 fake ESMTP\r\n"))
                        .await
                        .unwrap();
                    loop {
                        let mut line = String::new();
                        if stream.read_line(&mut line).await.unwrap() == 0 {
                            return;
                        }
                        let command = line.trim_end().to_string();
                        let answer: Vec<u8> = if command.starts_with("EHLO") {
                            say("250-fake greets you\r\n250 8BITMIME\r\n")
                        } else if let Some(from) = command.strip_prefix("MAIL FROM:") {
                            session.from = from.trim_matches(['<', '>']).to_string();
                            say("250 OK\r\n")
                        } else if let Some(to) = command.strip_prefix("RCPT TO:") {
                            session.to.push(to.trim_matches(['<', '>']).to_string());
                            say("250 OK\r\n")
                        } else if command == "DATA" {
                            stream
                                .get_mut()
                                .write_all(&say("354 go on\r\n"))
                                .await
                                .unwrap();
                            loop {
                                let mut line = String::new();
                                stream.read_line(&mut line).await.unwrap();
                                if line == ".\r\n" {
                                    break;
                                }
                                session.wire.push_str(&line);
                            }
                            log.lock().unwrap().push(session.clone());
                            say("250 queued\r\n")
                        } else if command == "QUIT" {
                            let _ = stream.get_mut().write_all(&say("221 bye\r\n")).await;
                            return;
                        } else {
                            say("502 not here\r\n")
                        };
                        stream.get_mut().write_all(&answer).await.unwrap();
                    }
                });
            }
        });
        Self {
            port,
            sessions,
            turned_away,
        }
    }

    fn sessions(&self) -> Vec<Session> {
        self.sessions.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn with_smtp_every_outbox_message_is_mailed_to_the_relay() {
    let relay = Relay::start(1).await;
    let smtp = SmtpRelay {
        from: Some("complyd@tests.example".into()),
        ..SmtpRelay::parse(&format!("smtp://127.0.0.1:{}", relay.port)).unwrap()
    };
    let server = quick_server(Some(smtp)).await;
    let alice = claims(json!({"upn": "alice@contoso.example", "scp": SERVICE_WRITE}));
    let client = server.client_with_token(Some(token_for(&alice)));
    let template = template(&client, "Hello,\n.this line starts with a dot\nBye").await;
    send_test_message(&client, &template).await;
    until("the relay has the mail", || async {
        relay.sessions().len() == 1
    })
    .await;
    let session = relay.sessions().remove(0);
    assert_eq!(session.from, "complyd@tests.example");
    assert_eq!(session.to, ["alice@contoso.example"]);
    let wire = &session.wire;
    assert!(
        wire.contains("Subject: Device needs attention\r\n"),
        "{wire}"
    );
    assert!(wire.contains("To: <alice@contoso.example>\r\n"), "{wire}");
    assert!(wire.contains("From: <complyd@tests.example>\r\n"), "{wire}");
    // Dot-stuffed on the wire; the body reads as written once the relay removes the stuffing.
    assert!(
        wire.contains("\r\n..this line starts with a dot\r\n"),
        "{wire}"
    );
    assert!(
        wire.ends_with("\r\n\r\nHello,\r\n..this line starts with a dot\r\nBye\r\n"),
        "{wire}"
    );
    // The first session was turned away (421): the mail went on the second attempt.
    assert_eq!(*relay.turned_away.lock().unwrap(), 1);
    until("the mail delivery is recorded", || async {
        listed(&client, &server, "mail")
            .await
            .first()
            .map(|d| d["state"].clone())
            == Some(json!("delivered"))
    })
    .await;
    let delivery = listed(&client, &server, "mail").await.remove(0);
    assert_eq!(delivery["attempts"], 2);
    assert_eq!(delivery["mail"]["to"], json!(["alice@contoso.example"]));
    // No webhook was configured: the event went nowhere.
    assert!(listed(&client, &server, "webhook").await.is_empty());
    // A caller without a mail address (an app's id) gets a failed mail delivery, not a silent drop.
    let app = server.client_with(TokenRequest::delegated(TENANT, &[SERVICE_WRITE]));
    send_test_message(&app, &template).await;
    let mails = listed(&client, &server, "mail").await;
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1]["state"], "failed");
    assert!(mails[1]["lastError"]
        .as_str()
        .unwrap()
        .contains("no recipient"));
    assert_eq!(relay.sessions().len(), 1);
}

#[tokio::test]
async fn two_instances_on_one_store_send_each_delivery_once() {
    let a = quick_server(None).await;
    let (dir, store) = (a.data_dir().to_path_buf(), test_store(a.data_dir()));
    let b = Server::start_with(|c| {
        c.data_dir = dir;
        c.store = store;
        c.deliveries.backoff = Duration::from_millis(20);
    })
    .await;
    let receiver = Receiver::start(&[]).await;
    let (ca, cb) = (configurer(&a), configurer(&b));
    let template = template(&ca, "Body").await;
    put_webhook(&ca, &a, &json!({"url": receiver.url, "secret": SECRET}))
        .await
        .expect(200);
    for i in 0..20 {
        send_test_message(if i % 2 == 0 { &ca } else { &cb }, &template).await;
    }
    until("every delivery is delivered", || async {
        let items = listed(&cb, &b, "webhook").await;
        items.len() == 20 && items.iter().all(|d| d["state"] == "delivered")
    })
    .await;
    let sent: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.headers["x-complyd-delivery"].clone())
        .collect();
    let ids: std::collections::HashSet<&String> = sent.iter().collect();
    assert_eq!((sent.len(), ids.len()), (20, 20), "{sent:?}");
    let attempts: Vec<Value> = listed(&ca, &a, "webhook")
        .await
        .iter()
        .map(|d| d["attempts"].clone())
        .collect();
    assert!(attempts.iter().all(|n| *n == 1), "{attempts:?}");
}

#[tokio::test]
async fn a_fired_action_reaches_the_webhook_signed() {
    use crate::time::{action, admin, failing, freeze_at, ios_policy, iphone, user};
    let server = quick_server(None).await;
    let receiver = Receiver::start(&[]).await;
    let c = admin(&server);
    put_webhook(&c, &server, &json!({"url": receiver.url, "secret": SECRET}))
        .await
        .expect(200);
    freeze_at(&c, "2031-07-01T00:00:00Z").await;
    let owner = user(&c, "Lea", "en-US").await;
    let policy = ios_policy("Lock", &[action("block", 0), action("remoteLock", 24)]);
    crate::engine::assigned_policy(&c, &policy, &[crate::engine::all_devices()]).await;
    let id = c
        .post("beta", crate::engine::DEVICES, &iphone("IPHONE-W", &owner))
        .await
        .expect(201)
        .id();
    crate::engine::check_in(&c, &id, &failing())
        .await
        .expect(200);
    crate::time::advance(&c, "P1D").await;
    until("the lock's event at the webhook", || async {
        !receiver.received().is_empty()
    })
    .await;
    let got = receiver.received();
    assert_eq!(got.len(), 1, "one event: {got:?}");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["tenant"], TENANT);
    assert_eq!(body["event"]["kind"], "action");
    assert_eq!(body["event"]["actionType"], "remoteLock");
    assert_eq!(body["event"]["managedDeviceId"], id);
    assert_eq!(body["event"]["firedDateTime"], "2031-07-02T00:00:00Z");
    let stamp = &got[0].headers["x-complyd-timestamp"];
    let mut signed = stamp.as_bytes().to_vec();
    signed.push(b'.');
    signed.extend_from_slice(&got[0].body);
    assert_eq!(
        got[0].headers["x-complyd-signature"],
        format!("sha256={}", hmac_hex(SECRET, &signed))
    );
}

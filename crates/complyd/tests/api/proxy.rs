//! `--proxy`: Microsoft's names served by complyd through an HTTP proxy (TLS terminated with
//! certificates from its CA), other hosts refused at once or, with pass-through, relayed.

use crate::support::{Server, POLICIES, SECRET, TENANT, WRITE};
use complyd::auth::{mint, TokenRequest};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn token() -> String {
    mint(
        SECRET.as_bytes(),
        &TokenRequest::delegated(TENANT, &[WRITE]),
    )
    .unwrap()
}

fn ca_pem(server: &Server) -> Vec<u8> {
    std::fs::read(server.data_dir().join("tls/ca.pem")).unwrap()
}

/// A reqwest client that sends everything through the proxy, trusting complyd's CA or not.
fn through(server: &Server, trust_ca: bool) -> reqwest::Client {
    let proxy = format!("http://{}", server.proxy.as_ref().unwrap());
    let mut builder = reqwest::Client::builder().proxy(reqwest::Proxy::all(proxy).unwrap());
    if trust_ca {
        builder =
            builder.add_root_certificate(reqwest::Certificate::from_pem(&ca_pem(server)).unwrap());
    }
    builder.build().unwrap()
}

/// GET `url` with the client (a bearer token with it for Graph), answered with JSON.
async fn get_json(client: &reqwest::Client, url: &str, bearer: bool) -> Value {
    let mut request = client.get(url);
    if bearer {
        request = request.bearer_auth(token());
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// Sends `head` (and nothing more) to the proxy, reads the answer's head and, by its
/// `content-length`, its body. The stream is handed back for what follows a 200.
async fn ask<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, head: &str) -> (u16, String) {
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "closed mid-head: {bytes:?}"
        );
        bytes.push(byte[0]);
    }
    let head = String::from_utf8(bytes).unwrap();
    let status = head[9..12].parse().unwrap();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

async fn connect(server: &Server, target: &str) -> (TcpStream, u16, String) {
    let mut tcp = TcpStream::connect(server.proxy.as_ref().unwrap())
        .await
        .unwrap();
    let (status, body) = ask(
        &mut tcp,
        &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
    )
    .await;
    (tcp, status, body)
}

fn tls_client(roots: &[u8]) -> tokio_rustls::TlsConnector {
    let mut store = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(roots) {
        store.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(store)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn a_proxied_name_has_a_certificate_from_the_ca_that_names_it() {
    let server = Server::start_proxied(|_| {}).await;
    let ca = ca_pem(&server);
    // Verified against the CA for the name asked for, and Graph answers inside, in https.
    let (tcp, status, _) = connect(&server, "graph.microsoft.com:443").await;
    assert_eq!(status, 200);
    let name = ServerName::try_from("graph.microsoft.com").unwrap();
    let mut tls = tls_client(&ca)
        .connect(name, tcp)
        .await
        .expect("the CA verifies the certificate");
    let request = format!(
        "GET /v1.0/{POLICIES} HTTP/1.1\r\nHost: graph.microsoft.com\r\nAuthorization: Bearer {}\r\n\r\n",
        token()
    );
    let (status, body) = ask(&mut tls, &request).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .starts_with("https://graph.microsoft.com/v1.0/$metadata#"),
        "{body}"
    );
    // The certificate names that host only: checked as another name, it is refused.
    let (tcp, _, _) = connect(&server, "graph.microsoft.com:443").await;
    let other = ServerName::try_from("login.microsoftonline.com").unwrap();
    let err = tls_client(&ca).connect(other, tcp).await.unwrap_err();
    assert!(err.to_string().contains("not valid for name"), "{err}");
    // A client without the CA refuses it (no silent trust).
    let (tcp, _, _) = connect(&server, "graph.microsoft.com:443").await;
    let name = ServerName::try_from("graph.microsoft.com").unwrap();
    let system_roots = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    let err = tls_client(&system_roots)
        .connect(name, tcp)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    let refused = through(&server, false)
        .get(format!("https://graph.microsoft.com/v1.0/{POLICIES}"))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn graph_and_the_sign_in_names_are_served_through_the_proxy() {
    let server = Server::start_proxied(|c| c.page_size = 1).await;
    let client = through(&server, true);
    let url = format!("https://graph.microsoft.com/beta/{POLICIES}");
    for name in ["one", "two"] {
        let made = client
            .post(&url)
            .bearer_auth(token())
            .json(&crate::support::windows10_policy(name))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status().as_u16(), 201);
    }
    let page: Value = get_json(&client, &url, true).await;
    let next = page["@odata.nextLink"].as_str().unwrap();
    assert!(next.starts_with(&format!("{url}?")), "{next}");
    let second: Value = get_json(&client, next, true).await;
    assert_eq!(second["value"].as_array().unwrap().len(), 1, "{second}");
    // MSAL's instance discovery and the OpenID documents, under the names they were asked by.
    let found: Value = get_json(
        &client,
        "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1",
        false,
    )
    .await;
    assert_eq!(
        found["tenant_discovery_endpoint"],
        "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
    );
    assert!(found["metadata"][0]["aliases"]
        .as_array()
        .unwrap()
        .contains(&"sts.windows.net".into()));
    for host in [
        "login.microsoftonline.com",
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
    ] {
        let url = format!("https://{host}/{TENANT}/v2.0/.well-known/openid-configuration");
        let doc = get_json(&client, &url, false).await;
        assert_eq!(
            doc["token_endpoint"],
            format!("https://{host}/{TENANT}/oauth2/v2.0/token")
        );
    }
    // A batch's inner answers name the host too.
    let batch: Value = client
        .post("https://graph.microsoft.com/v1.0/$batch")
        .bearer_auth(token())
        .json(&serde_json::json!({"requests": [{"id": "1", "method": "GET", "url": format!("/{POLICIES}")}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let inner = &batch["responses"][0]["body"]["@odata.context"];
    assert!(
        inner
            .as_str()
            .unwrap()
            .starts_with("https://graph.microsoft.com/v1.0/$metadata#"),
        "{batch}"
    );
    // A plain-http proxy request is served the same way, in http.
    let plain: Value = get_json(
        &client,
        &format!("http://graph.microsoft.com/v1.0/{POLICIES}"),
        true,
    )
    .await;
    assert!(plain["@odata.context"]
        .as_str()
        .unwrap()
        .starts_with("http://graph.microsoft.com/v1.0/$metadata#"));
}

#[tokio::test]
async fn other_hosts_are_refused_at_once_with_the_host_named() {
    let server = Server::start_proxied(|_| {}).await;
    let (_, status, body) = connect(&server, "example.com:443").await;
    assert_eq!(status, 403);
    let body: Value = serde_json::from_str(&body).unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'example.com:443'") && message.contains("offline"),
        "{message}"
    );
    assert_eq!(body["error"]["code"], "HostNotServed");
    // Plain http to another host, and a Microsoft name on a port complyd does not serve.
    let res = through(&server, true)
        .get("http://example.com/x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert!(res.text().await.unwrap().contains("example.com"));
    let (_, status, body) = connect(&server, "graph.microsoft.com:8443").await;
    assert_eq!(status, 403);
    assert!(body.contains("port 443 only"), "{body}");
    // The Graph client's way: an https request through the proxy fails, not hangs.
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        through(&server, true).get("https://example.com/").send(),
    )
    .await
    .expect("an answer, not a hang");
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_proxy_head_over_the_limit_is_refused() {
    let server = Server::start_proxied(|_| {}).await;
    let mut tcp = TcpStream::connect(server.proxy.as_ref().unwrap())
        .await
        .unwrap();
    let big = "a".repeat(complyd::server::MAX_HEAD_BYTES);
    let (status, body) = ask(
        &mut tcp,
        &format!("CONNECT graph.microsoft.com:443 HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 431, "{body}");
    assert!(body.contains("RequestHeaderFieldsTooLarge"), "{body}");
}

/// A host that answers every request `hello` and keeps the connection open until the client
/// closes it, for pass-through.
async fn hello_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                loop {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                    if seen.ends_with(b"\r\n\r\n") {
                        seen.clear();
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
                        if tcp.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    address
}

#[tokio::test]
async fn pass_through_relays_other_hosts() {
    let upstream = hello_server().await;
    let server = Server::start_proxied(|c| {
        c.proxy_pass_through = true;
        c.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let (mut tunnel, status, _) = connect(&server, &upstream).await;
    assert_eq!(status, 200);
    let (status, body) = ask(
        &mut tunnel,
        &format!("GET / HTTP/1.1\r\nHost: {upstream}\r\n\r\n"),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "hello"));
    // The host keeps it open; the proxy closes it once idle for the idle timeout (1 s here).
    let idle_from = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), tunnel.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the idle tunnel was not closed");
    assert!(
        idle_from.elapsed() >= Duration::from_millis(900),
        "closed after {:?}, before it was idle",
        idle_from.elapsed()
    );
    let res = through(&server, false)
        .get(format!("http://{upstream}/any"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "hello");
    // Microsoft's names are still complyd's own.
    let res = through(&server, true)
        .get(format!("https://graph.microsoft.com/v1.0/{POLICIES}"))
        .bearer_auth(token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // A host that cannot be reached: 502.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = closed.local_addr().unwrap().to_string();
    drop(closed);
    let (_, status, body) = connect(&server, &gone).await;
    assert_eq!(status, 502, "{body}");
}

#[tokio::test]
async fn without_pass_through_a_reachable_host_is_still_refused() {
    let upstream = hello_server().await;
    let server = Server::start_proxied(|_| {}).await;
    let (_, status, body) = connect(&server, &upstream).await;
    assert_eq!(status, 403);
    assert!(body.contains(&upstream), "{body}");
}

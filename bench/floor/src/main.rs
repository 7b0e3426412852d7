//! The floor: a bare hyper server that reads each request and answers a canned Graph-shaped JSON
//! body of the same size as complyd's for the workload. No routing, parsing, auth or storage, so
//! complyd's throughput divided by the floor's is the cost of complyd itself on this machine.

use anyhow::Context;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// complyd's content type, so the response heads are the same size.
const JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
/// Stands in for complyd's per-request `request-id` and `client-request-id` (a UUID each).
const REQUEST_ID: &str = "00000000-0000-4000-8000-000000000000";

#[derive(Parser)]
#[command(
    name = "floor",
    about = "Bare hyper server answering a canned response."
)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Body answered (200) to every request other than POST.
    #[arg(long, conflicts_with = "response_size")]
    response_file: Option<PathBuf>,
    /// Without a file: a Graph-shaped JSON body padded to this many bytes.
    #[arg(long)]
    response_size: Option<usize>,
    /// Body answered (201) to POST; defaults to the other body.
    #[arg(long)]
    post_response_file: Option<PathBuf>,
}

struct Canned {
    get: Bytes,
    post: Bytes,
}

/// `{"@odata.context":"…","value":"xxxx…"}` of exactly `size` bytes (or the shortest such body).
fn synthetic(size: usize) -> Bytes {
    let head =
        "{\"@odata.context\":\"http://127.0.0.1/beta/$metadata#deviceManagement\",\"value\":\"";
    let tail = "\"}";
    let pad = size.saturating_sub(head.len() + tail.len());
    Bytes::from(format!("{head}{}{tail}", "x".repeat(pad)))
}

fn read(path: &PathBuf) -> anyhow::Result<Bytes> {
    Ok(Bytes::from(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    ))
}

async fn answer(
    canned: Arc<Canned>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let post = req.method() == Method::POST;
    // Read the whole request, as complyd must; the bytes are dropped unparsed.
    let _ = req.into_body().collect().await;
    let (status, body) = if post {
        (StatusCode::CREATED, canned.post.clone())
    } else {
        (StatusCode::OK, canned.get.clone())
    };
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    headers.insert("odata-version", HeaderValue::from_static("4.0"));
    headers.insert("request-id", HeaderValue::from_static(REQUEST_ID));
    headers.insert("client-request-id", HeaderValue::from_static(REQUEST_ID));
    Ok(res)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let get = match (&args.response_file, args.response_size) {
        (Some(path), _) => read(path)?,
        (None, Some(size)) => synthetic(size),
        (None, None) => anyhow::bail!("give --response-file or --response-size"),
    };
    let post = match &args.post_response_file {
        Some(path) => read(path)?,
        None => get.clone(),
    };
    let canned = Arc::new(Canned { get, post });
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on http://{}", listener.local_addr()?)?;
    stdout.flush()?;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        // Nagle left on, as complyd's accept loop leaves it: the same socket either side.
        let canned = canned.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| answer(canned.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

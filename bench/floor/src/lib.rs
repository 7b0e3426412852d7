//! A minimal blocking HTTP/1.1 keep-alive client for the seeder and the cold-start probe.
//!
//! It speaks only what complyd answers: a status line, headers and a `Content-Length` body.

use anyhow::{anyhow, bail, Context};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One answered request.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("response body is not JSON")
    }

    /// The `id` property of a JSON body.
    pub fn id(&self) -> anyhow::Result<String> {
        self.json()?
            .get("id")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                anyhow!(
                    "response has no id: {}",
                    String::from_utf8_lossy(&self.body)
                )
            })
    }
}

/// One keep-alive connection to `host:port`.
pub struct Conn {
    reader: BufReader<TcpStream>,
    host: String,
    token: String,
}

impl Conn {
    /// Connects to `addr` (`host:port`); every request carries `Authorization: Bearer token`.
    pub fn connect(addr: &str, token: &str) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, stream),
            host: addr.to_string(),
            token: token.to_string(),
        })
    }

    pub fn get(&mut self, path: &str) -> anyhow::Result<Response> {
        self.request("GET", path, None)
    }

    pub fn post(&mut self, path: &str, body: &[u8]) -> anyhow::Result<Response> {
        self.request("POST", path, Some(body))
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> anyhow::Result<Response> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n",
            self.host, self.token
        );
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if let Some(body) = body {
            out.extend_from_slice(body);
        }
        self.reader.get_mut().write_all(&out)?;
        self.read_response()
    }

    fn read_response(&mut self) -> anyhow::Result<Response> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            bail!("connection closed before a response");
        }
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| anyhow!("bad status line {line:?}"))?;
        let mut length: Option<usize> = None;
        // Headers end at an empty line; a response with more than 200 header lines is refused.
        for _ in 0..200 {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed inside the headers");
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                let mut body = vec![0; length.unwrap_or(0)];
                self.reader.read_exact(&mut body)?;
                return Ok(Response { status, body });
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.trim().parse().context("bad content-length")?);
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    bail!("chunked responses are not supported");
                }
            }
        }
        bail!("too many response headers")
    }
}

/// `http://host:port[/...]` → `host:port`.
pub fn authority(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("expected an http:// URL, got {url}"))?;
    Ok(rest.split('/').next().unwrap_or(rest).to_string())
}

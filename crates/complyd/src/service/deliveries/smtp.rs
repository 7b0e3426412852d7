//! A minimal SMTP client of our own, for a relay that tests mail flows (MailHog, Mailpit, a
//! test's fake): plain TCP, `EHLO` (`HELO` if refused), `MAIL FROM`, `RCPT TO`, `DATA` with
//! dot-stuffing, `QUIT`. No TLS, no AUTH, no pipelining. A text/plain UTF-8 message: 7bit when
//! it is ASCII with short lines, else base64; a non-ASCII subject as RFC 2047 words.

use super::Outcome;
use base64::Engine as _;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long one mail's whole conversation may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// The longest reply line read, and the most lines of one reply.
const MAX_LINE: u64 = 2048;
const MAX_REPLY_LINES: usize = 100;

/// `--smtp smtp://host[:port]` (port 25 unless given) and `--smtp-from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpRelay {
    pub host: String,
    pub port: u16,
    /// The sender of every mail; `None` is `complyd@<tenant>.invalid`.
    pub from: Option<String>,
}

impl SmtpRelay {
    /// `smtp://host[:port]`, nothing else (no user, path or query).
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL ({e}): '{text}'"))?;
        if url.scheme() != "smtp" {
            return Err(format!(
                "the relay is smtp://host:port, not {}://",
                url.scheme()
            ));
        }
        // An IPv6 host is shown in brackets, and connected to without.
        let host = url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("the relay needs a host: '{text}'"))?
            .to_string();
        let extra = !url.username().is_empty()
            || url.password().is_some()
            || !matches!(url.path(), "" | "/")
            || url.query().is_some()
            || url.fragment().is_some();
        if extra {
            return Err(format!(
                "the relay is smtp://host:port only (no user, path or query; no AUTH): '{text}'"
            ));
        }
        Ok(Self {
            host,
            port: url.port().unwrap_or(25),
            from: None,
        })
    }

    /// The sender of `tenant`'s mails.
    pub fn sender(&self, tenant: &str) -> String {
        if let Some(from) = &self.from {
            return from.clone();
        }
        let label = !tenant.is_empty()
            && tenant.len() <= 63
            && tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if label {
            format!("complyd@{tenant}.invalid")
        } else {
            "complyd@complyd.invalid".into()
        }
    }
}

/// A mail as its delivery record keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub body: String,
}

impl Letter {
    pub fn of(value: &Value) -> Self {
        let text = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let list = |name: &str| -> Vec<String> {
            value
                .get(name)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            from: text("from"),
            to: list("to"),
            cc: list("cc"),
            subject: text("subject"),
            body: text("body"),
        }
    }
}

/// One attempt at mailing `letter` through `relay`: a 4xx reply or a lost connection is retried,
/// a 5xx fails. Recipients the relay refuses (5xx) are left out and named in the note; all of
/// them refused fails.
pub async fn send(relay: &SmtpRelay, id: &str, tenant: &str, letter: &Letter) -> Outcome {
    let conversation = async {
        let stream = TcpStream::connect((relay.host.as_str(), relay.port))
            .await
            .map_err(|e| Step::Lost(format!("the relay was not reached: {e}")))?;
        let mut session = Session {
            stream: BufReader::new(stream),
        };
        session.talk(id, tenant, letter).await
    };
    match tokio::time::timeout(TIMEOUT, conversation).await {
        Err(_) => Outcome::Retry(format!(
            "The relay did not finish within {} s.",
            TIMEOUT.as_secs()
        )),
        Ok(Ok(refused)) if refused.is_empty() => Outcome::Delivered(None),
        Ok(Ok(refused)) => {
            Outcome::Delivered(Some(format!("The relay refused {}.", refused.join("; "))))
        }
        Ok(Err(Step::Lost(why) | Step::Transient(why))) => Outcome::Retry(why),
        Ok(Err(Step::Refused(why))) => Outcome::Fail(why),
    }
}

/// Why a conversation stopped.
enum Step {
    /// The connection failed or closed.
    Lost(String),
    /// A 4xx reply.
    Transient(String),
    /// A 5xx (or unexpected) reply.
    Refused(String),
}

struct Session {
    stream: BufReader<TcpStream>,
}

impl Session {
    /// The conversation; answers the recipients refused.
    async fn talk(&mut self, id: &str, tenant: &str, letter: &Letter) -> Result<Vec<String>, Step> {
        self.expect("the greeting", &[220]).await?;
        self.say("EHLO complyd").await?;
        if self.reply().await?.0 != 250 {
            self.say("HELO complyd").await?;
            self.expect("HELO", &[250]).await?;
        }
        self.say(&format!("MAIL FROM:<{}>", letter.from)).await?;
        self.expect("MAIL FROM", &[250]).await?;
        let mut refused = Vec::new();
        let everyone = letter.to.iter().chain(&letter.cc);
        let mut accepted = 0;
        for recipient in everyone {
            self.say(&format!("RCPT TO:<{recipient}>")).await?;
            match self.reply().await? {
                (250 | 251, _) => accepted += 1,
                (code @ 400..=499, text) => {
                    return Err(Step::Transient(format!(
                        "RCPT TO {recipient}: {code} {text}"
                    )))
                }
                (code, text) => refused.push(format!("{recipient} ({code} {text})")),
            }
        }
        if accepted == 0 {
            return Err(Step::Refused(format!(
                "The relay refused every recipient: {}.",
                refused.join("; ")
            )));
        }
        self.say("DATA").await?;
        self.expect("DATA", &[354]).await?;
        let message = stuffed(&format_message(id, tenant, letter));
        self.write(message.as_bytes()).await?;
        self.write(b".\r\n").await?;
        self.expect("the message", &[250]).await?;
        // The mail is accepted; how QUIT goes does not change that.
        let _ = self.say("QUIT").await;
        let _ = self.reply().await;
        Ok(refused)
    }

    async fn say(&mut self, line: &str) -> Result<(), Step> {
        self.write(format!("{line}\r\n").as_bytes()).await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Step> {
        self.stream
            .get_mut()
            .write_all(bytes)
            .await
            .map_err(|e| Step::Lost(format!("the relay's connection failed: {e}")))
    }

    /// One reply (its lines joined): its code and text.
    async fn reply(&mut self) -> Result<(u16, String), Step> {
        let mut text = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let mut line = Vec::new();
            let read = (&mut self.stream)
                .take(MAX_LINE)
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| Step::Lost(format!("the relay's connection failed: {e}")))?;
            if read == 0 {
                return Err(Step::Lost("the relay closed the connection".into()));
            }
            if line.last() != Some(&b'\n') {
                return Err(Step::Refused(format!(
                    "the relay sent a line longer than {MAX_LINE} bytes"
                )));
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end();
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| Step::Refused(format!("the relay's reply is not SMTP: '{line}'")))?;
            text.push(line.get(4..).unwrap_or_default().to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, text.join(" ")));
            }
        }
        Err(Step::Refused(format!(
            "the relay's reply is longer than {MAX_REPLY_LINES} lines"
        )))
    }

    async fn expect(&mut self, what: &str, codes: &[u16]) -> Result<(), Step> {
        match self.reply().await? {
            (code, _) if codes.contains(&code) => Ok(()),
            (code @ 400..=499, text) => Err(Step::Transient(format!("{what}: {code} {text}"))),
            (code, text) => Err(Step::Refused(format!("{what}: {code} {text}"))),
        }
    }
}

/// The message: headers and a text/plain body, lines ending in CRLF, the last one included.
pub fn format_message(id: &str, tenant: &str, letter: &Letter) -> String {
    let mut headers = vec![
        format!("From: <{}>", letter.from),
        format!("To: {}", addresses(&letter.to)),
    ];
    if !letter.cc.is_empty() {
        headers.push(format!("Cc: {}", addresses(&letter.cc)));
    }
    headers.extend([
        format!("Subject: {}", subject(&letter.subject)),
        format!(
            "Date: {}",
            httpdate::fmt_http_date(std::time::SystemTime::now())
        ),
        format!("Message-ID: <{id}@complyd.invalid>"),
        "MIME-Version: 1.0".into(),
        "Content-Type: text/plain; charset=utf-8".into(),
    ]);
    if tenant.chars().all(|c| c.is_ascii_graphic()) {
        headers.push(format!("X-Complyd-Tenant: {tenant}"));
    }
    let lines: Vec<&str> = letter
        .body
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .collect();
    let plain = letter.body.is_ascii() && lines.iter().all(|l| l.len() <= 998);
    let body = if plain {
        headers.push("Content-Transfer-Encoding: 7bit".into());
        lines.join("\r\n")
    } else {
        headers.push("Content-Transfer-Encoding: base64".into());
        let encoded = base64::engine::general_purpose::STANDARD.encode(letter.body.as_bytes());
        let chunks: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        chunks.join("\r\n")
    };
    format!("{}\r\n\r\n{body}\r\n", headers.join("\r\n"))
}

fn addresses(list: &[String]) -> String {
    let shown: Vec<String> = list.iter().map(|a| format!("<{a}>")).collect();
    shown.join(", ")
}

/// A subject on one logical line: controls become spaces; non-ASCII text becomes RFC 2047
/// base64 words of at most 45 bytes each, folded.
fn subject(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.is_ascii() && clean.len() <= 900 {
        return clean;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in clean.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    let encoded: Vec<String> = words
        .iter()
        .map(|w| {
            let b = base64::engine::general_purpose::STANDARD.encode(w.as_bytes());
            format!("=?utf-8?B?{b}?=")
        })
        .collect();
    encoded.join("\r\n ")
}

/// Dot-stuffing: a line that starts with `.` gets another, so that none reads as the end.
pub fn stuffed(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 16);
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relay_is_smtp_host_and_port_only() {
        let relay = SmtpRelay::parse("smtp://127.0.0.1:2525").ok();
        assert_eq!(
            relay.map(|r| (r.host, r.port)),
            Some(("127.0.0.1".into(), 2525))
        );
        let relay = SmtpRelay::parse("smtp://mail.example").ok();
        assert_eq!(relay.map(|r| r.port), Some(25));
        let relay = SmtpRelay::parse("smtp://[::1]:25").ok();
        assert_eq!(relay.map(|r| r.host), Some("::1".into()));
        for bad in [
            "http://h:25",
            "smtp://u:p@h:25",
            "smtp://h:25/x",
            "smtp://h:25?x=1",
            "h:25",
            "smtp://:25",
        ] {
            assert!(SmtpRelay::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_sender_is_the_option_or_the_tenants_invalid_domain() {
        let mut relay = SmtpRelay::parse("smtp://h").unwrap_or_else(|_| unreachable!());
        assert_eq!(relay.sender("abc-1"), "complyd@abc-1.invalid");
        assert_eq!(relay.sender("a b"), "complyd@complyd.invalid");
        relay.from = Some("ops@example.com".into());
        assert_eq!(relay.sender("abc-1"), "ops@example.com");
    }

    #[test]
    fn lines_starting_with_a_dot_are_stuffed() {
        assert_eq!(stuffed(".a\r\nb.\r\n..c\r\n"), "..a\r\nb.\r\n...c\r\n");
    }

    #[test]
    fn a_message_is_7bit_when_it_can_be_and_base64_else() {
        let letter = Letter {
            from: "f@x.invalid".into(),
            to: vec!["a@x".into(), "b@x".into()],
            cc: vec!["c@x".into()],
            subject: "Hello\r\nBcc: evil@x".into(),
            body: "line 1\n.line 2".into(),
        };
        let text = format_message("d1", "t1", &letter);
        assert!(text.contains("To: <a@x>, <b@x>\r\nCc: <c@x>\r\n"), "{text}");
        assert!(text.contains("Subject: Hello  Bcc: evil@x\r\n"), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: 7bit"), "{text}");
        assert!(text.ends_with("\r\n\r\nline 1\r\n.line 2\r\n"), "{text}");
        let letter = Letter {
            subject: "Grüße".into(),
            body: "Grüße".into(),
            ..letter
        };
        let text = format_message("d1", "t1", &letter);
        assert!(
            text.contains("Subject: =?utf-8?B?R3LDvMOfZQ==?=\r\n"),
            "{text}"
        );
        assert!(text.contains("base64\r\n\r\nR3LDvMOfZQ==\r\n"), "{text}");
    }
}

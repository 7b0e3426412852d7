//! The access log: one line per request, made on the request's thread without tracing's
//! formatting machinery and written to stderr in batches by a thread of its own, so a request
//! pays for a short copy instead of a formatted write under stderr's lock.
//!
//! Nothing is dropped: when stderr cannot keep up, requests wait for room (as a direct write
//! would). A line reaches stderr about a millisecond after its request; `flush` (a clean stop)
//! writes what is pending, and only a kill in that millisecond loses lines.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Lines held before requests wait for the writer.
const MAX_PENDING_BYTES: usize = 4 << 20;
/// How long the writer gathers lines after the first of a batch.
const GATHER: Duration = Duration::from_millis(1);
/// The longest path a line shows (longer ones end with `…`).
const MAX_PATH_CHARS: usize = 2_000;

static LOG: OnceLock<Arc<Shared>> = OnceLock::new();

#[derive(Default)]
struct Shared {
    pending: Mutex<Vec<u8>>,
    /// Lines arrived (the writer waits on it).
    arrived: Condvar,
    /// Lines written (requests waiting for room wait on it).
    drained: Condvar,
    /// Held while a batch is written, so that `flush` at a stop waits for a batch the writer
    /// thread has taken and lines reach stderr in order.
    writing: Mutex<()>,
}

/// One request, as its line shows it.
pub struct Entry<'a> {
    pub message: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub latency_us: Option<u64>,
    pub request_id: &'a str,
}

/// Starts the access log (`complyd serve` at level INFO or lower). Without it `write` does
/// nothing, as for a library user who set up no logging.
pub fn start() {
    let shared = Arc::clone(LOG.get_or_init(|| Arc::new(Shared::default())));
    let spawned = std::thread::Builder::new()
        .name("complyd-access-log".into())
        .spawn(move || shared.write_forever(&mut std::io::stderr()));
    if let Err(err) = spawned {
        tracing::warn!("access log: no writer thread ({err}); lines are written as they come");
    }
}

/// Appends a request's line (nothing when the log was not started).
pub fn write(entry: &Entry<'_>) {
    let Some(shared) = LOG.get() else { return };
    let line = line(entry, SystemTime::now());
    let Ok(mut pending) = shared.pending.lock() else {
        return;
    };
    while pending.len() > MAX_PENDING_BYTES {
        pending = match shared.drained.wait(pending) {
            Ok(p) => p,
            Err(_) => return,
        };
    }
    let was_empty = pending.is_empty();
    pending.extend_from_slice(line.as_bytes());
    if was_empty {
        shared.arrived.notify_one();
    }
}

/// Writes what is pending now (a clean stop).
pub fn flush() {
    if let Some(shared) = LOG.get() {
        shared.write_pending(&mut std::io::stderr());
    }
}

impl Shared {
    fn write_forever(&self, out: &mut dyn Write) {
        loop {
            let Ok(pending) = self.pending.lock() else {
                return;
            };
            let Ok(pending) = self.arrived.wait_while(pending, |p| p.is_empty()) else {
                return;
            };
            drop(pending);
            std::thread::sleep(GATHER);
            self.write_pending(out);
        }
    }

    /// Takes the pending lines and writes them in one go.
    fn write_pending(&self, out: &mut dyn Write) {
        let Ok(_writing) = self.writing.lock() else {
            return;
        };
        let batch = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return,
        };
        self.drained.notify_all();
        if !batch.is_empty() {
            // stderr gone: there is nowhere left to say so.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
        }
    }
}

/// `2026-12-01T06:03:12.123456Z  INFO request method=GET path=/v1.0/… status=200 latency_us=80
/// request_id=…` (the shape tracing's lines have).
fn line(entry: &Entry<'_>, at: SystemTime) -> String {
    let mut line = String::with_capacity(160 + entry.path.len().min(MAX_PATH_CHARS));
    push_timestamp(&mut line, at);
    line.push_str("  INFO ");
    line.push_str(entry.message);
    line.push_str(" method=");
    line.push_str(entry.method);
    line.push_str(" path=");
    // A path of at most MAX_PATH_CHARS bytes has at most that many characters.
    let cut = (entry.path.len() > MAX_PATH_CHARS)
        .then(|| entry.path.char_indices().nth(MAX_PATH_CHARS))
        .flatten();
    match cut {
        Some((end, _)) => {
            line.push_str(&entry.path[..end]);
            line.push('…');
        }
        None => line.push_str(entry.path),
    }
    line.push_str(" status=");
    push_number(&mut line, u64::from(entry.status), 1);
    if let Some(us) = entry.latency_us {
        line.push_str(" latency_us=");
        push_number(&mut line, us, 1);
    }
    line.push_str(" request_id=");
    line.push_str(entry.request_id);
    line.push('\n');
    line
}

/// RFC 3339 in UTC with microseconds.
fn push_timestamp(line: &mut String, at: SystemTime) {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_date(secs / 86_400);
    let of_day = secs % 86_400;
    push_number(line, year, 4);
    line.push('-');
    push_number(line, month, 2);
    line.push('-');
    push_number(line, day, 2);
    line.push('T');
    push_number(line, of_day / 3_600, 2);
    line.push(':');
    push_number(line, of_day / 60 % 60, 2);
    line.push(':');
    push_number(line, of_day % 60, 2);
    line.push('.');
    push_number(line, u64::from(since.subsec_micros()), 6);
    line.push('Z');
}

/// The proleptic Gregorian date of a day counted from 1970-01-01.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Days from 0000-03-01, in 400-year eras of 146,097 days.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `n` in decimal, zero-padded to `width` digits.
fn push_number(line: &mut String, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let start = at.min(digits.len().saturating_sub(width));
    for &d in &digits[start..] {
        line.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(path: &'a str) -> Entry<'a> {
        Entry {
            message: "request",
            method: "GET",
            path,
            status: 200,
            latency_us: Some(84),
            request_id: "7d0c…",
        }
    }

    #[test]
    fn a_line_has_tracings_shape() {
        let at = UNIX_EPOCH + Duration::from_micros(1_764_568_992_000_042);
        assert_eq!(
            line(&entry("/v1.0/users"), at),
            "2025-12-01T06:03:12.000042Z  INFO request method=GET path=/v1.0/users status=200 latency_us=84 request_id=7d0c…\n"
        );
    }

    #[test]
    fn dates_follow_the_calendar() {
        for (days, date) in [
            (0, (1970, 1, 1)),
            (59, (1970, 3, 1)),
            (11_016, (2000, 2, 29)),
            (11_017, (2000, 3, 1)),
            (20_423, (2025, 12, 1)),
            (2_932_896, (9999, 12, 31)),
        ] {
            assert_eq!(civil_date(days), date, "day {days}");
        }
    }

    #[test]
    fn long_paths_are_cut() {
        let long = "a".repeat(MAX_PATH_CHARS + 10);
        let text = line(&entry(&long), UNIX_EPOCH);
        assert!(text.contains(&format!("path={}… status", "a".repeat(MAX_PATH_CHARS))));
    }

    #[test]
    fn pending_lines_are_written_in_one_batch() {
        let shared = Shared::default();
        if let Ok(mut p) = shared.pending.lock() {
            p.extend_from_slice(b"one\ntwo\n");
        }
        let mut out = Vec::new();
        shared.write_pending(&mut out);
        assert_eq!(out, b"one\ntwo\n");
        shared.write_pending(&mut out);
        assert_eq!(out, b"one\ntwo\n", "nothing written twice");
    }
}

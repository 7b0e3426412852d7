//! Primitive values with rules of their own: DateTimeOffset (0–7 fractional digits, any offset,
//! the client's lexical form kept), Guid and Binary.

/// A parsed `Edm.DateTimeOffset`. Ticks are 100 ns units since 0001-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTimeOffset {
    pub utc_ticks: i64,
    pub offset_minutes: i32,
}

const TICKS_PER_SECOND: i64 = 10_000_000;
const TICKS_PER_DAY: i64 = 86_400 * TICKS_PER_SECOND;
/// Days from 0001-01-01 to 1970-01-01 in the proleptic Gregorian calendar.
const DAYS_TO_UNIX_EPOCH: i64 = 719_162;

impl DateTimeOffset {
    /// `YYYY-MM-DDTHH:MM:SS[.f{1,7}](Z|±HH:MM)`; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[5..7])?;
        let day = digits(&b[8..10])?;
        let (hour, minute, second) = (
            digits(&b[11..13])?,
            digits(&b[14..16])?,
            digits(&b[17..19])?,
        );
        if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut rest = &b[19..];
        let mut fraction = 0i64;
        if let Some(after_dot) = rest.strip_prefix(b".") {
            let n = after_dot.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 7 {
                return None;
            }
            fraction = digits(&after_dot[..n])? * 10i64.pow(7 - n as u32);
            rest = &after_dot[n..];
        }
        let offset_minutes = match rest {
            b"Z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
                if m > 59 || h * 60 + m > 14 * 60 {
                    return None;
                }
                let minutes = (h * 60 + m) as i32;
                if *sign == b'-' {
                    -minutes
                } else {
                    minutes
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day) + DAYS_TO_UNIX_EPOCH;
        let local = days * TICKS_PER_DAY
            + (hour * 3600 + minute * 60 + second) * TICKS_PER_SECOND
            + fraction;
        let utc_ticks = local - i64::from(offset_minutes) * 60 * TICKS_PER_SECOND;
        Some(Self {
            utc_ticks,
            offset_minutes,
        })
    }

    /// The instant in UTC with `Z` and at most 7 fractional digits, trailing zeros trimmed.
    pub fn to_utc_string(&self) -> String {
        let mut out = self.to_utc_seconds();
        let fraction = self.utc_ticks.rem_euclid(TICKS_PER_SECOND);
        if fraction > 0 {
            let digits = format!("{fraction:07}");
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }
}

impl DateTimeOffset {
    /// `YYYY-MM-DDTHH:MM:SS`: the instant in UTC to the second, without fraction or zone (Graph's
    /// error `date`; the one calendar formatter, which [`Self::to_utc_string`] extends).
    pub fn to_utc_seconds(&self) -> String {
        let days = self.utc_ticks.div_euclid(TICKS_PER_DAY);
        let secs = self.utc_ticks.rem_euclid(TICKS_PER_DAY) / TICKS_PER_SECOND;
        let (y, m, d) = civil_from_days(days - DAYS_TO_UNIX_EPOCH);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }

    /// The instant `seconds` after 1970-01-01T00:00:00Z, in UTC.
    pub fn from_unix_seconds(seconds: i64) -> Self {
        Self {
            utc_ticks: seconds
                .saturating_mul(TICKS_PER_SECOND)
                .saturating_add(DAYS_TO_UNIX_EPOCH * TICKS_PER_DAY),
            offset_minutes: 0,
        }
    }

    /// The instant `millis` milliseconds after 1970-01-01T00:00:00Z, in UTC.
    pub fn from_unix_millis(millis: i64) -> Self {
        Self {
            utc_ticks: millis
                .saturating_mul(TICKS_PER_SECOND / 1000)
                .saturating_add(DAYS_TO_UNIX_EPOCH * TICKS_PER_DAY),
            offset_minutes: 0,
        }
    }

    /// Whole milliseconds since 1970-01-01T00:00:00Z (negative before it).
    pub fn to_unix_millis(&self) -> i64 {
        (self.utc_ticks - DAYS_TO_UNIX_EPOCH * TICKS_PER_DAY).div_euclid(TICKS_PER_SECOND / 1000)
    }

    /// Whole seconds since 1970-01-01T00:00:00Z (negative before it).
    pub fn to_unix_seconds(&self) -> i64 {
        (self.utc_ticks - DAYS_TO_UNIX_EPOCH * TICKS_PER_DAY).div_euclid(TICKS_PER_SECOND)
    }

    /// The current instant, from the system clock.
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let ticks = (since_epoch.as_nanos() / 100) as i64;
        Self {
            utc_ticks: ticks + DAYS_TO_UNIX_EPOCH * TICKS_PER_DAY,
            offset_minutes: 0,
        }
    }
}

impl DateTimeOffset {
    /// Year, month, day, hour, minute, second in the value's own offset.
    pub fn local_parts(&self) -> [i64; 6] {
        let local = self.utc_ticks + i64::from(self.offset_minutes) * 60 * TICKS_PER_SECOND;
        let days = local.div_euclid(TICKS_PER_DAY);
        let secs = local.rem_euclid(TICKS_PER_DAY) / TICKS_PER_SECOND;
        let (y, m, d) = civil_from_days(days - DAYS_TO_UNIX_EPOCH);
        [y, m, d, secs / 3600, secs / 60 % 60, secs % 60]
    }
}

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0, |acc, c| acc * 10 + i64::from(c - b'0')),
    )
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits of either case.
pub fn is_guid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.f` (1 to 7 fraction digits), in range: an `Edm.TimeOfDay`.
pub fn is_time_of_day(text: &str) -> bool {
    let (clock, fraction) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let field = |i: usize, max: u32| {
        parts.get(i).is_some_and(|p| {
            p.len() == 2
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u32>().is_ok_and(|n| n <= max)
        })
    };
    let fraction_ok = fraction.is_none_or(|f| {
        parts.len() == 3 && (1..=7).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit())
    });
    matches!(parts.len(), 2 | 3)
        && field(0, 23)
        && field(1, 59)
        && (parts.len() == 2 || field(2, 59))
        && fraction_ok
}

/// Standard base64 with padding (what Graph emits for `Edm.Binary`); URL-safe letters accepted too.
pub fn is_base64(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    let padding = text.len() - body.len();
    text.len().is_multiple_of(4)
        && padding <= 2
        && body
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_are_checked() {
        for good in ["08:00", "08:00:00", "23:59:59.9999999", "00:00:00.5"] {
            assert!(is_time_of_day(good), "{good}");
        }
        for bad in [
            "8:00",
            "24:00",
            "08:60",
            "08:00:00.",
            "08:00.5",
            "08:00:00.12345678",
            "x",
        ] {
            assert!(!is_time_of_day(bad), "{bad}");
        }
    }

    #[test]
    fn seed_timestamps_convert_to_utc() {
        let t = DateTimeOffset::parse("2016-12-31T23:56:44.951111-08:00");
        assert_eq!(
            t.map(|t| t.to_utc_string()).as_deref(),
            Some("2017-01-01T07:56:44.951111Z")
        );
        let t = DateTimeOffset::parse("2017-01-01T00:00:17.7769392-08:00");
        assert_eq!(
            t.map(|t| t.to_utc_string()).as_deref(),
            Some("2017-01-01T08:00:17.7769392Z")
        );
        let t = DateTimeOffset::parse("2026-07-17T16:08:48Z");
        assert_eq!(
            t.map(|t| t.to_utc_string()).as_deref(),
            Some("2026-07-17T16:08:48Z")
        );
    }

    #[test]
    fn unix_seconds_round_trip() {
        for seconds in [0, 1, 1_796_056_913, -86_401] {
            assert_eq!(
                DateTimeOffset::from_unix_seconds(seconds).to_unix_seconds(),
                seconds
            );
        }
        let parsed = DateTimeOffset::parse("2026-11-30T01:00:00+01:00");
        assert_eq!(parsed.map(|p| p.to_unix_seconds()), Some(1_795_996_800));
    }

    #[test]
    fn unix_seconds_print_to_the_second_in_utc() {
        let at = |s: i64| DateTimeOffset::from_unix_seconds(s).to_utc_seconds();
        assert_eq!(at(0), "1970-01-01T00:00:00");
        assert_eq!(at(951_825_600), "2000-02-29T12:00:00");
        assert_eq!(at(-1), "1969-12-31T23:59:59");
        let t = DateTimeOffset::parse("2017-01-01T00:00:17.7769392-08:00");
        assert_eq!(
            t.map(|t| t.to_utc_seconds()).as_deref(),
            Some("2017-01-01T08:00:17")
        );
    }

    #[test]
    fn bad_timestamps_are_refused() {
        for bad in [
            "String (timestamp)",
            "2017-01-01",
            "2017-01-01T00:00:00",
            "2017-01-01T00:00:00.12345678Z",
            "2017-02-29T00:00:00Z",
            "2017-01-01T24:00:00Z",
            "2017-01-01T00:00:00+15:00",
            "2017-01-01T00:00:00.Z",
        ] {
            assert_eq!(DateTimeOffset::parse(bad), None, "{bad}");
        }
        assert!(DateTimeOffset::parse("2016-02-29T00:00:00+05:30").is_some());
        assert!(DateTimeOffset::parse("0001-01-01T00:00:00Z").is_some());
    }

    #[test]
    fn instants_order_across_offsets() {
        let a = DateTimeOffset::parse("2020-01-01T00:00:00+01:00").map(|t| t.utc_ticks);
        let b = DateTimeOffset::parse("2019-12-31T23:00:00Z").map(|t| t.utc_ticks);
        assert_eq!(a, b);
    }
}

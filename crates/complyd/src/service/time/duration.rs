//! ISO 8601 durations as a clock moves by them: `P3D`, `PT12H`, `P1DT2H30M`, `P2W`, `PT0.5S`.
//! Years and months have no fixed length, so they are refused.

/// The longest text a duration may be.
pub const MAX_TEXT: usize = 64;

/// The duration in milliseconds, or what is wrong with it.
pub fn parse_ms(text: &str) -> Result<i64, String> {
    if text.len() > MAX_TEXT {
        return Err(format!("is longer than {MAX_TEXT} characters (the limit)"));
    }
    let rest = text
        .strip_prefix('P')
        .ok_or("does not start with 'P' (an ISO 8601 duration such as P3D or PT12H)")?;
    if rest.is_empty() || rest == "T" {
        return Err("names no amount".into());
    }
    let mut total: i64 = 0;
    let mut in_time = false;
    let mut number = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' | '.' => number.push(c),
            'T' if !in_time && number.is_empty() => in_time = true,
            unit => {
                let scale: i64 = match (in_time, unit) {
                    (false, 'W') => 7 * 86_400_000,
                    (false, 'D') => 86_400_000,
                    (true, 'H') => 3_600_000,
                    (true, 'M') => 60_000,
                    (true, 'S') => 1_000,
                    (false, 'Y' | 'M') => {
                        return Err(
                            "uses years or months, which have no fixed length; use days (P30D)"
                                .into(),
                        )
                    }
                    _ => {
                        return Err(format!(
                            "has '{unit}' where a unit (W, D, T, H, M, S) belongs"
                        ))
                    }
                };
                let amount: f64 = number
                    .parse()
                    .map_err(|_| format!("has no number before '{unit}'"))?;
                number.clear();
                let ms = amount * scale as f64;
                if !ms.is_finite() || ms >= i64::MAX as f64 {
                    return Err("is too long".into());
                }
                total = total.saturating_add(ms as i64);
            }
        }
    }
    if !number.is_empty() {
        return Err(format!("ends in a number without its unit ('{number}')"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn durations_in_days_and_time() {
        assert_eq!(parse_ms("P3D"), Ok(3 * 86_400_000));
        assert_eq!(parse_ms("PT12H"), Ok(12 * 3_600_000));
        assert_eq!(parse_ms("P1DT2H30M"), Ok(86_400_000 + 9_000_000));
        assert_eq!(parse_ms("P2W"), Ok(14 * 86_400_000));
        assert_eq!(parse_ms("PT0.5S"), Ok(500));
        assert_eq!(parse_ms("PT0S"), Ok(0));
    }

    #[test]
    fn what_is_not_a_duration_is_refused() {
        for bad in [
            "3D", "P", "PT", "P1M", "P1Y", "PT1D", "P1H", "P1", "PxD", "-P1D",
        ] {
            assert!(parse_ms(bad).is_err(), "{bad}");
        }
        assert!(parse_ms(&format!("P{}D", "9".repeat(70))).is_err());
    }
}

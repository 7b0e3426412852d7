//! Dotted versions (`10.0.19045.3693`, `17.2`): compared component by component as numbers, a
//! missing component reading as 0, so `17.2 == 17.2.0`. A component that is not a number (a build
//! suffix such as `21C62` or `2023-05-01`) compares by its leading digits, then as text.

use std::cmp::Ordering;

/// Compares two versions; `None` when either has no leading number at all.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (components(a)?, components(b)?);
    let len = a.len().max(b.len());
    for i in 0..len {
        let zero = (0, "");
        let (x, y) = (
            a.get(i).copied().unwrap_or(zero),
            b.get(i).copied().unwrap_or(zero),
        );
        let order = x.0.cmp(&y.0).then_with(|| x.1.cmp(y.1));
        if order != Ordering::Equal {
            return Some(order);
        }
    }
    Some(Ordering::Equal)
}

/// Each component's leading number and the rest of it.
fn components(v: &str) -> Option<Vec<(u64, &str)>> {
    let v = v.trim();
    if !v.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(
        v.split(['.', '-'])
            .map(|part| {
                let digits =
                    part.len() - part.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let number = part[..digits].parse::<u64>().unwrap_or(u64::MAX);
                (number, &part[digits..])
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn components_compare_as_numbers() {
        assert_eq!(compare("10.0.19045", "10.0.9999"), Some(Greater));
        assert_eq!(compare("17.2", "17.2.0"), Some(Equal));
        assert_eq!(compare("17.2", "17.10"), Some(Less));
        assert_eq!(compare("2023-05-01", "2023-11-01"), Some(Less));
        assert_eq!(compare("21C62", "21B74"), Some(Greater));
        assert_eq!(compare("Windows", "10"), None);
    }
}

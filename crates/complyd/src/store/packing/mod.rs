//! Packed bodies (SQLite): the body of a member of a `packed` type (the model's header word) is
//! stored as a BLOB, LZ4-compressed against a fixed dictionary of typical bodies, instead of as
//! JSON text. An audit event of 2 KB packs to about 300 bytes, so several share a 2 KiB page
//! where each took a page and an overflow page of its own. Rows written as text before stay
//! text: every reader takes either form, so no migration rewrites them.
//!
//! A packed body is one byte naming its dictionary, the unpacked length (u32, little-endian),
//! then the LZ4 block. A dictionary never changes once shipped: a better one is a new number, and
//! the old ones stay to read what they packed.

use super::StoreError;

/// The SQL expression of a packed collection's body as JSON text (its queries and indexes read
/// their values from it; [`unpack`] as a SQL function on every connection).
pub const UNPACKED_BODY: &str = "complyd_unpack(body)";
/// The SQL function's name.
pub const UNPACK_FUNCTION: &str = "complyd_unpack";

/// The dictionary new bodies are packed with.
const CURRENT: u8 = 1;
/// Every dictionary, by number (1: audit events of the compliance slice).
const DICTIONARIES: [(u8, &str); 1] = [(1, include_str!("dictionary-1.txt"))];
/// No stored body is near this long; a packed body claiming more is damaged.
const MAX_UNPACKED: usize = 64 << 20;
/// The dictionary's number and the length come before the block.
const HEADER: usize = 5;

fn dictionary(number: u8) -> Option<&'static [u8]> {
    DICTIONARIES
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, text)| text.as_bytes())
}

/// `body` packed with the current dictionary.
pub fn pack(body: &str) -> Vec<u8> {
    let dict = dictionary(CURRENT).unwrap_or_default();
    let block = lz4_flex::block::compress_with_dict(body.as_bytes(), dict);
    let mut out = Vec::with_capacity(HEADER + block.len());
    out.push(CURRENT);
    // Bodies are far below 4 GiB (requests are limited long before).
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&block);
    out
}

/// The JSON text `packed` holds.
pub fn unpack(packed: &[u8]) -> Result<String, StoreError> {
    let damaged = |why: &str| StoreError::Backend(format!("a packed body is damaged: {why}"));
    let (&number, rest) = packed.split_first().ok_or_else(|| damaged("empty"))?;
    let dict = dictionary(number).ok_or_else(|| damaged("unknown dictionary"))?;
    let (length, block) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| damaged("no length"))?;
    let length = u32::from_le_bytes(*length) as usize;
    if length > MAX_UNPACKED {
        return Err(damaged("length out of range"));
    }
    let bytes = lz4_flex::block::decompress_with_dict(block, length, dict)
        .map_err(|e| damaged(&e.to_string()))?;
    if bytes.len() != length {
        return Err(damaged("shorter than its length"));
    }
    String::from_utf8(bytes).map_err(|_| damaged("not UTF-8"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn event(values: &str) -> String {
        format!(
            r##"{{"displayName":"Create DeviceComplianceDeviceStatus","componentName":"Compliance","activityDateTime":"2026-12-05T02:11:27.744Z","resources":[{{"modifiedProperties":[{{"@odata.type":"#microsoft.graph.auditProperty","displayName":"DeviceDisplayName","oldValue":null,"newValue":"{values}"}}]}}],"category":"Compliance"}}"##
        )
    }

    #[test]
    fn a_body_comes_back_as_it_was_packed() {
        for body in [
            String::new(),
            event("d"),
            event("ünï €"),
            "x".repeat(100_000),
        ] {
            assert_eq!(unpack(&pack(&body)).unwrap(), body);
        }
    }

    #[test]
    fn an_audit_event_packs_to_a_fraction_of_its_text() {
        let body = event("laptop-0042");
        let packed = pack(&body);
        assert!(
            packed.len() * 3 < body.len(),
            "{} of {}",
            packed.len(),
            body.len()
        );
    }

    #[test]
    fn damaged_bodies_are_errors_not_panics() {
        let good = pack(&event("d"));
        let mut unknown = good.clone();
        unknown[0] = 9;
        let mut huge = good.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut longer = good.clone();
        longer[1..5].copy_from_slice(&((event("d").len() + 10) as u32).to_le_bytes());
        let cut = good[..good.len() / 2].to_vec();
        for bad in [vec![], vec![1], unknown, huge, longer, cut] {
            assert!(unpack(&bad).is_err(), "{bad:?}");
        }
        // Every truncation and every flipped byte of a real body: an error or a string, never a panic.
        for n in 0..good.len() {
            let _ = unpack(&good[..n]);
            let mut flipped = good.clone();
            flipped[n] ^= 0xff;
            let _ = unpack(&flipped);
        }
    }

    #[test]
    fn shipped_dictionaries_do_not_change() {
        // A stored body can only be read with the exact dictionary it was packed with.
        let (_, text) = DICTIONARIES[0];
        assert_eq!(
            (text.len(), crate::common::fnv1a(text.as_bytes())),
            (15_907, DICTIONARY_1_FNV)
        );
    }

    const DICTIONARY_1_FNV: u64 = 0x01b7_0b53_d922_8de7;
}

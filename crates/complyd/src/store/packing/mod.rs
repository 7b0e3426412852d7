//! Packed bodies (SQLite): the body of a member of a `packed` type (the model's header word) is
//! stored as a BLOB, LZ4-compressed against a dictionary of the type's own (a typical body),
//! instead of as JSON text. An audit event of 2 KB packs to about 300 bytes, a managed device of
//! 3 KB or a policy state of 7 KB to about 400, so several share a 2 KiB page where each took a
//! page or more of its own. Rows written as text before stay text: every reader takes either
//! form, so no migration rewrites them.
//!
//! A packed body is one byte naming its dictionary (0: none), the unpacked length (u32,
//! little-endian), then the LZ4 block. A dictionary never changes once shipped: a better one is a
//! new number, and the old ones stay to read what they packed. A dictionary is small on purpose:
//! LZ4 hashes all of it for every body it packs.

use super::StoreError;

/// The SQL expression of a packed collection's body as JSON text (its queries and indexes read
/// their values from it; [`unpack`] as a SQL function on every connection).
pub const UNPACKED_BODY: &str = "complyd_unpack(body)";
/// The SQL function's name.
pub const UNPACK_FUNCTION: &str = "complyd_unpack";

/// Which dictionary a body is packed with; 0 is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dictionary(u8);

/// Every dictionary: its number, the type whose bodies it is made from, and its text.
const DICTIONARIES: [(u8, &str, &str); 3] = [
    (
        1,
        "microsoft.graph.auditEvent",
        include_str!("audit-event.txt"),
    ),
    (
        2,
        "microsoft.graph.managedDevice",
        include_str!("managed-device.txt"),
    ),
    (
        3,
        "microsoft.graph.deviceCompliancePolicyState",
        include_str!("policy-state.txt"),
    ),
];
/// No stored body is near this long; a packed body claiming more is damaged.
const MAX_UNPACKED: usize = 64 << 20;
/// The dictionary's number and the length come before the block.
const HEADER: usize = 5;

/// The dictionary new bodies of `type_name` are packed with (none when it has no dictionary).
pub fn dictionary_for(type_name: &str) -> Dictionary {
    let number = DICTIONARIES
        .iter()
        .find(|(_, ty, _)| *ty == type_name)
        .map_or(0, |(n, _, _)| *n);
    Dictionary(number)
}

/// Dictionary `number`'s text; number 0 is the empty dictionary.
fn text(number: u8) -> Option<&'static [u8]> {
    if number == 0 {
        return Some(&[]);
    }
    DICTIONARIES
        .iter()
        .find(|(n, _, _)| *n == number)
        .map(|(_, _, text)| text.as_bytes())
}

/// `body` packed with `dictionary`.
pub fn pack(body: &str, dictionary: Dictionary) -> Vec<u8> {
    let block = lz4_flex::block::compress_with_dict(
        body.as_bytes(),
        text(dictionary.0).unwrap_or_default(),
    );
    let mut out = Vec::with_capacity(HEADER + block.len());
    out.push(dictionary.0);
    // Bodies are far below 4 GiB (requests are limited long before).
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&block);
    out
}

/// The JSON text `packed` holds.
pub fn unpack(packed: &[u8]) -> Result<String, StoreError> {
    let damaged = |why: &str| StoreError::Backend(format!("a packed body is damaged: {why}"));
    let (&number, rest) = packed.split_first().ok_or_else(|| damaged("empty"))?;
    let dict = text(number).ok_or_else(|| damaged("unknown dictionary"))?;
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

    const AUDIT_EVENT: &str = "microsoft.graph.auditEvent";

    fn event(values: &str) -> String {
        format!(
            r##"{{"displayName":"Create DeviceComplianceDeviceStatus","componentName":"Compliance","activityDateTime":"2026-12-05T02:11:27.744Z","resources":[{{"modifiedProperties":[{{"@odata.type":"#microsoft.graph.auditProperty","displayName":"DeviceDisplayName","oldValue":null,"newValue":"{values}"}}]}}],"category":"Compliance"}}"##
        )
    }

    #[test]
    fn a_body_comes_back_as_it_was_packed_with_any_dictionary() {
        let types = [AUDIT_EVENT, "microsoft.graph.managedDevice", "x.none"];
        for body in [
            String::new(),
            event("d"),
            event("ünï €"),
            "x".repeat(100_000),
        ] {
            for ty in types {
                assert_eq!(unpack(&pack(&body, dictionary_for(ty))).unwrap(), body);
            }
        }
        assert_eq!(dictionary_for("x.none"), Dictionary(0));
    }

    #[test]
    fn an_audit_event_packs_to_a_fraction_of_its_text() {
        let body = event("laptop-0042");
        let packed = pack(&body, dictionary_for(AUDIT_EVENT));
        assert!(
            packed.len() * 3 < body.len(),
            "{} of {}",
            packed.len(),
            body.len()
        );
    }

    #[test]
    fn damaged_bodies_are_errors_not_panics() {
        let good = pack(&event("d"), dictionary_for(AUDIT_EVENT));
        let mut unknown = good.clone();
        unknown[0] = 200;
        let mut huge = good.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut longer = good.clone();
        longer[1..5].copy_from_slice(&((event("d").len() + 10) as u32).to_le_bytes());
        let mut other_dictionary = good.clone();
        other_dictionary[0] = 0;
        let cut = good[..good.len() / 2].to_vec();
        for bad in [vec![], vec![1], unknown, huge, longer, cut] {
            assert!(unpack(&bad).is_err(), "{bad:?}");
        }
        // Read with the wrong dictionary: an error or other text, never the body.
        assert_ne!(unpack(&other_dictionary).ok(), Some(event("d")));
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
        let shipped: Vec<(u8, usize, u64)> = DICTIONARIES
            .iter()
            .map(|(n, _, text)| (*n, text.len(), crate::common::fnv1a(text.as_bytes())))
            .collect();
        assert_eq!(
            shipped,
            [
                (1, 3_440, 0x7d81_91af_41d2_6643),
                (2, 3_429, 0x34bb_26a6_fb60_8bd1),
                (3, 8_075, 0x5377_288e_c568_900d),
            ]
        );
    }
}

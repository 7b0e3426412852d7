/// FNV-1a, 64 bits: a hash that stays the same across builds, platforms and Rust versions, for
/// what is stored (generated schema names, the engine's fingerprints of its results).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_parts(&[bytes])
}

/// `fnv1a` of `parts` one after the other, without joining them.
pub fn fnv1a_parts(parts: &[&[u8]]) -> u64 {
    parts.iter().flat_map(|p| p.iter()).fold(OFFSET, step)
}

/// `fnv1a` of the text written to it (`write!`), without the text being built.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u64);

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn step(hash: u64, byte: &u8) -> u64 {
    (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
}

impl Default for Fnv1a {
    fn default() -> Self {
        Self(OFFSET)
    }
}

impl Fnv1a {
    /// The hash of everything written so far.
    pub fn value(self) -> u64 {
        self.0
    }

    /// The hash as the engine's fingerprints print it: 16 hex digits.
    pub fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

impl std::fmt::Write for Fnv1a {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0 = text.as_bytes().iter().fold(self.0, step);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::fmt::Write;

    /// Text written in pieces hashes as the whole text does.
    #[test]
    fn written_text_hashes_as_the_whole_text() {
        let mut hash = Fnv1a::default();
        let name = "policy";
        write!(hash, "{name}\u{1f}{:?}", Some(7)).unwrap();
        hash.write_str("").unwrap();
        assert_eq!(hash.value(), fnv1a("policy\u{1f}Some(7)".as_bytes()));
        assert_eq!(Fnv1a::default().value(), fnv1a(b""));
        assert_eq!(hash.hex(), format!("{:016x}", hash.value()));
    }
}

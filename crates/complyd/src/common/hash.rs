/// FNV-1a, 64 bits: a hash that stays the same across builds, platforms and Rust versions, for
/// what is stored (generated schema names, the engine's fingerprints of its results).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

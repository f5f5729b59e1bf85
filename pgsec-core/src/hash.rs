//! Small, fast, non-cryptographic hashing for the tables the hba parser and linter build
//! per file (interned token lists, the shadow index). Keys come from the user's own file,
//! so flooding resistance buys nothing; every user of these hashes confirms a match (or
//! only gains candidates from a collision), so a collision never changes a result.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Multiplies and folds the 128-bit product: a fast mix with good high and low bits.
pub(crate) fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(b));
    // Both halves are kept: the casts split the product, they lose nothing.
    (p as u64) ^ ((p >> 64) as u64)
}

/// Mixes the word `v` into the hash `h`.
pub(crate) fn mix(h: u64, v: u64) -> u64 {
    fold_mul(h ^ v, 0x9e37_79b9_7f4a_7c15)
}

/// Mixes `bytes` (and their length) into `h`, eight bytes at a step.
pub(crate) fn mix_bytes(h: u64, bytes: &[u8]) -> u64 {
    let mut h = mix(h, bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h, u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
    }
    // The tail by shifts: a copy into a stack word would call memcpy and then stall
    // reading back what it wrote in pieces.
    let tail = chunks
        .remainder()
        .iter()
        .enumerate()
        .fold(0u64, |w, (k, &b)| w | u64::from(b) << (8 * k));
    mix(h, tail)
}

/// A hasher for keys that are hashes already: a `u64` key is used as it is.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix(self.0, u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = mix(self.0, n as u64);
    }
}

/// A map keyed by hashes.
pub(crate) type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// An empty [`KeyMap`] with room for `capacity` entries.
pub(crate) fn key_map<V>(capacity: usize) -> KeyMap<V> {
    HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_their_boundaries_change_the_hash() {
        let h = |parts: &[&[u8]]| parts.iter().fold(0, |h, p| mix_bytes(h, p));
        let base = h(&[b"app_1234", b"x"]);
        assert_eq!(base, h(&[b"app_1234", b"x"]));
        for other in [
            h(&[b"app_1235", b"x"]),
            h(&[b"app_123", b"4x"]),
            h(&[b"app_1234x"]),
            h(&[b"app_1234", b"x", b""]),
            h(&[b"x", b"app_1234"]),
        ] {
            assert_ne!(base, other);
        }
    }
}

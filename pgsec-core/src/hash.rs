//! Hashing for the tables the hba parser and linter build per file (interned token
//! lists, the shadow index), on rustc-hash's Fx hasher. Keys come from the user's own
//! file, so flooding resistance buys nothing; every user of these hashes confirms a match
//! (or only gains candidates from a collision), so a collision never changes a result.

use std::collections::HashMap;
use std::hash::Hasher;

pub(crate) use rustc_hash::FxBuildHasher;
use rustc_hash::FxHasher;

/// Mixes the word `v` into the hash `h`.
pub(crate) fn mix(h: u64, v: u64) -> u64 {
    let mut s = FxHasher::default();
    s.write_u64(h);
    s.write_u64(v);
    s.finish()
}

/// Mixes `bytes` and their length into `h`.
pub(crate) fn mix_bytes(h: u64, bytes: &[u8]) -> u64 {
    let mut s = FxHasher::default();
    s.write_u64(h);
    s.write(bytes);
    s.write_usize(bytes.len());
    s.finish()
}

/// A map keyed by hashes (or other small keys).
pub(crate) type KeyMap<V> = HashMap<u64, V, FxBuildHasher>;

/// An empty [`KeyMap`] with room for `capacity` entries.
pub(crate) fn key_map<V>(capacity: usize) -> KeyMap<V> {
    HashMap::with_capacity_and_hasher(capacity, FxBuildHasher)
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
        assert_ne!(mix(1, 2), mix(2, 1));
    }
}

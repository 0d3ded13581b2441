//! A fast hasher for the maps of one file's analysis, keyed by node ids and identifiers
//! read from the file: SipHash's protection against chosen collisions buys nothing
//! there, and these maps are hit once per node.

use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a over bytes; a node id (a `usize`) is mixed with one multiplication.
#[derive(Default, Clone, Copy)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn write_usize(&mut self, n: usize) {
        // Node ids are addresses: the low bits vary little, so spread them (Fibonacci
        // hashing) and fold the high half down, where hashbrown takes its bits from.
        let h = (self.0 ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

pub type FastHash = BuildHasherDefault<Fnv>;

/// A map keyed by node id (or any `usize`).
pub type IdMap<V> = std::collections::HashMap<usize, V, FastHash>;

/// A set of node ids.
pub type IdSet = std::collections::HashSet<usize, FastHash>;

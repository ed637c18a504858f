use crate::Params;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A trial's stable identity: 12 hex digits derived from its parameters and seed.
///
/// The same parameters and seed give the same id on every machine and in every
/// version of `sweep` that keeps the `v1` derivation, which is what lets a
/// resumed sweep recognise the trials it already ran.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrialId(String);

impl TrialId {
    /// Derives the id of the trial with these parameters and training seed.
    pub fn derive(params: &Params, seed: u64) -> TrialId {
        derive(params, seed, None)
    }

    /// The id of a trial whose derived id is taken by a different trial of
    /// the same sweep (a 48-bit collision): the derivation again with a
    /// salt, `salt` = 1, 2, ... until free. Deterministic for a given order
    /// of creation, which the journal keeps.
    pub fn derive_salted(params: &Params, seed: u64, salt: u32) -> TrialId {
        derive(params, seed, Some(salt))
    }

    /// Wraps an id read back from a results folder.
    pub fn from_string(id: impl Into<String>) -> TrialId {
        TrialId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Canonical form: the parameters as JSON (keys sorted by the BTreeMap,
/// floats printed in their shortest round-trip form), then the seed, then
/// the salt if any.
fn derive(params: &Params, seed: u64, salt: Option<u32>) -> TrialId {
    let canonical = serde_json::to_string(params).expect("params serialize to JSON");
    let mut h = Fnv64::new();
    h.write(b"sweep-trial-v1\0");
    h.write(canonical.as_bytes());
    h.write(b"\0");
    h.write(&seed.to_le_bytes());
    if let Some(salt) = salt {
        h.write(b"\0salt");
        h.write(&salt.to_le_bytes());
    }
    TrialId(format!("{:012x}", mix(h.0) >> 16))
}

/// FNV-1a, 64 bits: small, fast and fixed forever (unlike `DefaultHasher`).
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The splitmix64 finaliser: spreads FNV's weak high bits over the whole word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParamValue;

    #[test]
    fn ids_are_fixed_across_versions() {
        let mut p = Params::new();
        p.insert("lr".into(), ParamValue::Float(1e-3));
        p.insert("optimizer".into(), ParamValue::Str("adam".into()));
        // A changed id breaks resume of every existing results folder: this
        // value may only change together with the `v1` tag.
        assert_eq!(TrialId::derive(&p, 0).as_str(), "24efef8857bd");
    }

    #[test]
    fn ids_tell_ints_from_floats_and_seeds_apart() {
        let mut a = Params::new();
        a.insert("x".into(), ParamValue::Int(1));
        let mut b = Params::new();
        b.insert("x".into(), ParamValue::Float(1.0));
        assert_ne!(TrialId::derive(&a, 1), TrialId::derive(&b, 1));
        assert_ne!(TrialId::derive(&a, 1), TrialId::derive(&a, 2));
    }
}

//! Paillier safe primes for cggmp24 auxiliary info.
//!
//! Every cggmp24 signer needs four 1536-bit safe primes before its group can run aux-info
//! generation. Finding one takes from a fraction of a second to tens of seconds, so production
//! code keeps a background pool (crate `tessera-primes`), and tests use checked-in fixture primes
//! behind the `test-fixtures` feature, which release binaries refuse to enable.

use std::fmt;

use cggmp24::backend::Integer;
use cggmp24::security_level::SecurityLevel;
use cggmp24::PregeneratedPrimes;

use crate::{Error, Result};

type Level = cggmp24::security_level::SecurityLevel128;

/// Bits of each safe prime at our security level.
pub const PRIME_BITS: u32 = Level::RSA_PRIME_BITLEN;

/// Number of safe primes one party needs.
pub const PRIMES_PER_PARTY: usize = 4;

/// Name of the big-integer backend compiled in (`rug` or `num-bigint`).
pub const BACKEND: &str = if cfg!(feature = "backend-num-bigint") {
    "num-bigint"
} else {
    "rug (GMP)"
};

/// One party's four safe primes. Secret: `Debug` is redacted.
pub struct PaillierPrimes(pub(crate) PregeneratedPrimes<Level>);

impl fmt::Debug for PaillierPrimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PaillierPrimes([REDACTED])")
    }
}

/// Generates one safe prime of [`PRIME_BITS`] bits. Slow (seconds); call it off the hot path.
pub fn generate_safe_prime() -> SafePrime {
    SafePrime(Integer::generate_safe_prime(
        &mut rand_core::OsRng,
        PRIME_BITS,
    ))
}

/// One safe prime. Secret.
pub struct SafePrime(Integer);

impl fmt::Debug for SafePrime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SafePrime([REDACTED])")
    }
}

impl PaillierPrimes {
    /// Generates all four primes on the calling thread, reporting `done / 4` after each.
    pub fn generate(mut progress: impl FnMut(usize)) -> Self {
        let primes = [0, 1, 2, 3].map(|i| {
            let p = generate_safe_prime();
            progress(i + 1);
            p
        });
        Self::from_primes(primes).unwrap_or_else(|_| unreachable_prime_size())
    }

    /// Assembles four separately generated primes (e.g. from a pool).
    pub fn from_primes(primes: [SafePrime; 4]) -> Result<Self> {
        PregeneratedPrimes::try_from(primes.map(|p| p.0))
            .map(PaillierPrimes)
            .map_err(|_| Error::InvalidArgs("prime too small for the security level".into()))
    }

    /// Serializes (hex JSON). Secret material: store sealed.
    pub fn to_json(&self) -> String {
        let hexes: Vec<String> = self
            .0
            .primes_ref()
            .iter()
            .map(|p| p.to_str_radix(16))
            .collect();
        format!("[\"{}\"]", hexes.join("\",\""))
    }

    /// Parses [`to_json`](Self::to_json). Checks sizes; primality is checked by the protocol's ZK
    /// proofs (a non-prime makes aux-info generation fail).
    pub fn from_json(s: &str) -> Result<Self> {
        let bad = || Error::InvalidArgs("malformed prime list".into());
        let inner = s
            .trim()
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or_else(bad)?;
        let ints = inner
            .split(',')
            .map(|h| {
                let h = h.trim().trim_matches('"');
                Integer::from_str_radix(h, 16).ok_or_else(bad)
            })
            .collect::<Result<Vec<_>>>()?;
        let arr: [Integer; 4] = ints.try_into().map_err(|_| bad())?;
        PregeneratedPrimes::try_from(arr)
            .map(PaillierPrimes)
            .map_err(|_| Error::InvalidArgs("prime too small for the security level".into()))
    }
}

fn unreachable_prime_size() -> ! {
    // generate_safe_prime always returns PRIME_BITS-bit primes, which pass the size check.
    panic!("freshly generated safe prime failed the size check")
}

/// Test-only fixture primes, generated once by
/// `cargo run -p tessera-crypto --example gen-fixture-primes` and checked in.
///
/// **Never use these outside tests**: they are public, so any key whose aux info uses them has
/// public Paillier secrets. The `test-fixtures` feature is rejected by release builds of
/// `tessera`.
#[cfg(feature = "test-fixtures")]
pub mod fixtures {
    use super::PaillierPrimes;

    const DATA: &str = include_str!("../fixtures/paillier-primes.txt");

    /// Number of parties fixtures exist for.
    pub fn count() -> usize {
        DATA.lines().filter(|l| !l.trim().is_empty()).count()
    }

    /// Fixture primes of party `i` (`i < count()`).
    pub fn primes(i: usize) -> PaillierPrimes {
        let line = DATA
            .lines()
            .filter(|l| !l.trim().is_empty())
            .nth(i)
            .unwrap_or_else(|| panic!("no fixture primes for party {i}"));
        PaillierPrimes::from_json(line).unwrap_or_else(|e| panic!("bad fixture primes: {e}"))
    }
}

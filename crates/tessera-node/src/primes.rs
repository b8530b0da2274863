//! Where a signer's Paillier primes come from (cggmp24 aux info).

use std::time::Duration;

use tessera_crypto::primes::PaillierPrimes;
use tessera_primes::PrimePool;
use tessera_proto::link::{Failure, FailureKind};

/// A signer's source of Paillier primes.
pub enum PrimeSource {
    /// Fresh primes from a background pool (every release build).
    Pool(PrimePool),
    /// cggmp24 disabled on this signer.
    None,
    /// Public test fixtures, by party index. Only in test builds (`test-fixtures` feature).
    #[cfg(feature = "test-fixtures")]
    Fixtures,
}

impl std::fmt::Debug for PrimeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            PrimeSource::Pool(_) => "Pool",
            PrimeSource::None => "None",
            #[cfg(feature = "test-fixtures")]
            PrimeSource::Fixtures => "Fixtures",
        };
        f.write_str(name)
    }
}

impl PrimeSource {
    /// A pool with one worker thread that generates a set only when one is asked for (the
    /// first cggmp24 key of a signer group), so an idle signer spends no CPU on primes.
    pub fn background() -> Self {
        PrimeSource::Pool(PrimePool::start(1, 0))
    }

    /// Test fixtures if this is a test build and `TESSERA_TEST_FIXTURE_PRIMES=1`; otherwise a
    /// background pool.
    pub fn from_env() -> Self {
        #[cfg(feature = "test-fixtures")]
        if std::env::var("TESSERA_TEST_FIXTURE_PRIMES").as_deref() == Ok("1") {
            tracing::warn!("using PUBLIC test fixture Paillier primes (test build)");
            return PrimeSource::Fixtures;
        }
        Self::background()
    }

    /// (sets ready, progress of the next set in percent).
    pub fn progress(&self) -> (u32, u8) {
        match self {
            PrimeSource::Pool(p) => {
                let s = p.progress();
                (
                    s.sets_ready as u32,
                    (s.primes_in_partial_set * 25).min(100) as u8,
                )
            }
            PrimeSource::None => (0, 0),
            #[cfg(feature = "test-fixtures")]
            PrimeSource::Fixtures => (1, 100),
        }
    }

    /// Takes one set, waiting for the pool if needed.
    pub(crate) fn take(
        &self,
        #[allow(unused_variables)] party: u16,
    ) -> Result<PaillierPrimes, Failure> {
        match self {
            PrimeSource::Pool(p) => {
                let set = p.take(Duration::from_secs(5), |s| {
                    tracing::info!(
                        primes_in_set = s.primes_in_partial_set,
                        "waiting for Paillier primes"
                    );
                });
                // Aux info is generated once per signer group and kept in the vault; do not
                // keep generating primes in the background afterwards.
                p.set_target(0);
                Ok(set)
            }
            PrimeSource::None => Err(Failure {
                kind: FailureKind::NotReady,
                message: "this signer has no Paillier prime source".into(),
                culprits: Vec::new(),
            }),
            #[cfg(feature = "test-fixtures")]
            PrimeSource::Fixtures => {
                let i = usize::from(party) % tessera_crypto::primes::fixtures::count();
                Ok(tessera_crypto::primes::fixtures::primes(i))
            }
        }
    }
}

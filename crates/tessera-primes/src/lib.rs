//! A background pool of Paillier safe primes for cggmp24 aux info.
//!
//! Finding one 1536-bit safe prime takes from well under a second to tens of seconds, and each
//! signer needs four. [`PrimePool`] keeps worker threads generating primes ahead of demand up to
//! a target, reports progress ([`PoolProgress`]), and hands out complete
//! [`PaillierPrimes`] sets with [`PrimePool::take`]. Primes from the pool are fresh, never the
//! test fixtures.
//!
//! Architecture invariant: this crate is the only place that spawns threads for prime search;
//! the crypto layer stays pure.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tessera_crypto::primes::{generate_safe_prime, PaillierPrimes, SafePrime, PRIMES_PER_PARTY};

/// A snapshot of the pool's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolProgress {
    /// Complete sets (four primes) ready to take.
    pub sets_ready: usize,
    /// Primes found towards the next set.
    pub primes_in_partial_set: usize,
    /// Sets the pool keeps ready.
    pub target_sets: usize,
    /// Primes found since the pool started.
    pub primes_found: u64,
}

struct State {
    ready: Vec<PaillierPrimes>,
    partial: Vec<SafePrime>,
    target: usize,
    found: u64,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// Background safe-prime generator.
pub struct PrimePool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl PrimePool {
    /// Starts `workers` threads that keep `target_sets` complete sets ready.
    pub fn start(workers: usize, target_sets: usize) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                ready: Vec::new(),
                partial: Vec::new(),
                target: target_sets,
                found: 0,
                stop: false,
            }),
            changed: Condvar::new(),
        });
        let workers = (0..workers.max(1))
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || worker(&shared))
            })
            .collect();
        PrimePool { shared, workers }
    }

    /// Current progress.
    pub fn progress(&self) -> PoolProgress {
        let s = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        PoolProgress {
            sets_ready: s.ready.len(),
            primes_in_partial_set: s.partial.len(),
            target_sets: s.target,
            primes_found: s.found,
        }
    }

    /// Raises or lowers the number of sets kept ready.
    pub fn set_target(&self, target_sets: usize) {
        let mut s = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        s.target = target_sets;
        self.shared.changed.notify_all();
    }

    /// Takes one set, waiting for it; `on_progress` is called at least every `tick` while
    /// waiting. Raises the target if it was zero.
    pub fn take(
        &self,
        tick: Duration,
        mut on_progress: impl FnMut(PoolProgress),
    ) -> PaillierPrimes {
        let mut s = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if s.target == 0 {
            s.target = 1;
            self.shared.changed.notify_all();
        }
        loop {
            if let Some(set) = s.ready.pop() {
                self.shared.changed.notify_all();
                return set;
            }
            let snapshot = PoolProgress {
                sets_ready: s.ready.len(),
                primes_in_partial_set: s.partial.len(),
                target_sets: s.target,
                primes_found: s.found,
            };
            drop(s);
            on_progress(snapshot);
            s = self
                .shared
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            s = self
                .shared
                .changed
                .wait_timeout(s, tick)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for PrimePool {
    fn drop(&mut self) {
        {
            let mut s = self
                .shared
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            s.stop = true;
            self.shared.changed.notify_all();
        }
        // A worker in the middle of a prime search finishes it (seconds) before it sees `stop`;
        // detach instead of blocking the caller on it.
        for w in self.workers.drain(..) {
            drop(w);
        }
    }
}

fn worker(shared: &Shared) {
    loop {
        {
            let mut s = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            while !s.stop && s.ready.len() >= s.target {
                s = shared
                    .changed
                    .wait(s)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if s.stop {
                return;
            }
        }
        let prime = generate_safe_prime();
        let mut s = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.stop {
            return;
        }
        s.found += 1;
        s.partial.push(prime);
        if s.partial.len() == PRIMES_PER_PARTY {
            let mut four = std::mem::take(&mut s.partial).into_iter();
            let set = match (four.next(), four.next(), four.next(), four.next()) {
                (Some(a), Some(b), Some(c), Some(d)) => PaillierPrimes::from_primes([a, b, c, d]),
                _ => continue,
            };
            if let Ok(set) = set {
                s.ready.push(set);
            }
        }
        shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_produces_a_fresh_set_and_reports_progress() {
        let pool = PrimePool::start(2, 1);
        let set = pool.take(Duration::from_millis(200), |p| {
            assert!(p.primes_in_partial_set < PRIMES_PER_PARTY);
        });
        // Four distinct primes: the set round-trips and is not a fixture.
        let json = set.to_json();
        assert_eq!(json.matches(',').count(), 3);
        assert!(PaillierPrimes::from_json(&json).is_ok());
        assert!(pool.progress().primes_found >= 4);
    }
}

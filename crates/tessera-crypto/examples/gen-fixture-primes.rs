//! Generates the test-only fixture Paillier primes checked in at
//! `crates/tessera-crypto/fixtures/paillier-primes.txt` (one party per line).
//!
//! Usage: `cargo run --release -p tessera-crypto --example gen-fixture-primes -- [PARTIES]`
//!
//! The output is public. It must only ever be used by tests (feature `test-fixtures`).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tessera_crypto::primes::{PaillierPrimes, PRIME_BITS};

fn main() {
    let parties: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("PARTIES must be a number"))
        .unwrap_or(5);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    eprintln!("generating {parties} x 4 safe primes of {PRIME_BITS} bits on {workers} threads");
    let mut lines: Vec<(usize, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= parties {
                            break out;
                        }
                        let p = PaillierPrimes::generate(|k| {
                            eprintln!("party {i}: {k}/4 primes ({:.0?})", start.elapsed())
                        });
                        out.push((i, p.to_json()));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker panicked"))
            .collect()
    });
    lines.sort();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/paillier-primes.txt");
    let mut f = std::fs::File::create(path).expect("create fixture file");
    for (_, l) in lines {
        writeln!(f, "{l}").expect("write fixture file");
    }
    eprintln!("wrote {path} in {:.1?}", start.elapsed());
}

//! The fixed seed set `cargo test` runs, the replay guarantee, and the checker's own negative
//! test (a checker that cannot fail proves nothing).

use std::sync::OnceLock;

use tessera_sim::fixture::LIMIT;
use tessera_sim::{run_seed, shrink, Config, Faults, Fixture, Report};

/// Seeds every `cargo test` runs (`tessera-sim --seeds N` runs more).
const SEEDS: u64 = 120;

fn fixture() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(Fixture::build)
}

fn quiet() -> Faults {
    let mut f = Faults::standard();
    for name in Faults::NAMES {
        f = f.without(name);
    }
    f
}

/// Every invariant holds after every step of every seed of the fixed set, and the set does
/// exercise what it claims: kills, faults of each kind, signatures and refusals.
#[test]
fn fixed_seeds_hold_every_invariant() {
    let fx = fixture();
    let mut total = Report::default();
    for seed in 0..SEEDS {
        match run_seed(fx, seed, &Config::default()) {
            Ok(r) => {
                total.crashes += r.crashes;
                total.faults += r.faults;
                total.signed += r.signed;
                total.checks += r.checks;
                total.trace.extend(r.trace);
            }
            Err(v) => panic!(
                "seed {seed}, step {}: {}\n{}",
                v.step,
                v.what,
                v.trace.join("\n")
            ),
        }
    }
    assert!(total.crashes >= SEEDS / 2, "kills: {}", total.crashes);
    assert!(total.signed as u64 >= SEEDS, "signed: {}", total.signed);
    let seen = |what: &str| total.trace.iter().filter(|l| l.contains(what)).count();
    for what in [
        "drop ",
        "duplicate ",
        "misroute ",
        "partition:",
        "malicious: replay",
        "malicious: swapped",
        "VelocityExceeded",
        "Replayed",
        "PayloadRejected",
    ] {
        assert!(seen(what) > 0, "no `{what}` in {SEEDS} seeds");
    }
}

/// A seed's run is a function of the seed: the same seed gives the same trace, step for step,
/// although every session runs on its own thread.
#[test]
fn a_seed_replays_its_trace_exactly() {
    let fx = fixture();
    let cfg = Config::default();
    let first = run_seed(fx, 4242, &cfg).expect("seed passes");
    let again = run_seed(fx, 4242, &cfg).expect("seed passes");
    assert!(
        first.trace.len() > 50,
        "a trace of {} lines",
        first.trace.len()
    );
    assert_eq!(first.trace, again.trace);
    let other = run_seed(fx, 4243, &cfg).expect("seed passes");
    assert_ne!(first.trace, other.trace);
}

/// Holding the signers' signatures to a lower limit than the one they enforce makes the
/// checker report the first signature past it — with the smallest fault mix (none) after
/// shrinking, and the trace that led there.
#[test]
fn the_checker_reports_a_signature_past_its_limit() {
    let fx = fixture();
    let cfg = Config {
        checker_limit: 0,
        faults: quiet(),
        ..Config::default()
    };
    let v = run_seed(fx, 7, &cfg).expect_err("a signature exceeds a zero limit");
    assert!(
        v.what.contains("over the velocity limit of 0"),
        "{}",
        v.what
    );
    assert!(v
        .trace
        .iter()
        .any(|l| l.contains("answers") && l.contains("signature")));
    let noisy = Config {
        checker_limit: 0,
        ..Config::default()
    };
    let (smallest, _) = shrink(fx, 7, &noisy);
    assert_eq!(
        format!("{:?}", smallest.faults),
        format!("{:?}", quiet()),
        "every fault is switched off: none is needed to break this"
    );
    // The signers' own limit is what the fixture enforces.
    assert_eq!(Config::default().checker_limit, LIMIT);
}

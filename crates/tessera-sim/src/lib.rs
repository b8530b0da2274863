//! Deterministic cluster simulation.
//!
//! Three real [`tessera_node::Signer`]s — real vaults, real audit logs, real protocol sessions —
//! driven by a simulated coordinator on virtual time. A seed decides everything the network,
//! the disk and a malicious coordinator do: frames in flight are delivered in any order,
//! dropped, duplicated or misrouted; nodes are killed at any step and restarted over what the
//! kill left on disk; a node is cut off for a while; the coordinator replays a request to
//! another pair of signers or swaps in a larger payload under its authorization, and gives up
//! on sessions that run too long. After every step the invariants of [`check`] are checked:
//! no signature outside what was authorized, none past the velocity limit, no request signed
//! twice, no presignature or nonce used twice. Then the network heals and every request must
//! reach a final state, every participant that got a session must answer it, and every audit
//! log must verify and record every share its node released.
//!
//! Each session runs on its own thread, as in the daemon; the [`tasks::Tasks`] spawner counts
//! the work outstanding in them, and a step ends only when every session waits for input, so
//! the order of events depends on the seed alone and a failing seed replays its trace exactly.
//! The protocols' own randomness (nonces, ephemeral keys) still comes from the operating
//! system: message bytes differ between runs, what happens to them does not.

pub mod check;
pub mod fixture;
pub mod host;
pub mod net;
mod real;
pub mod requests;
pub mod sim;
pub mod tasks;
pub mod world;

pub use fixture::Fixture;
pub use sim::{run_seed, Config, Driver, Faults, Report, Violation};

/// The simulated wallet.
pub const WALLET: &str = "sim-wallet";
/// Lamports per SOL.
pub const SOL: u64 = 1_000_000_000;
/// The fee of a one-signature Solana transfer, which policy counts toward velocity.
pub const FEE: u64 = 5_000;

/// Runs `seed`; on a violation, runs it again with each fault kind switched off in turn and
/// keeps every switch-off under which it still fails: the smallest fault mix that breaks it.
pub fn shrink(fx: &Fixture, seed: u64, cfg: &Config) -> (Config, Violation) {
    let mut cfg = cfg.clone();
    let mut last = match run_seed(fx, seed, &cfg) {
        Ok(_) => panic!("seed {seed} passes: nothing to shrink"),
        Err(v) => v,
    };
    for name in Faults::NAMES {
        let fewer = Config {
            faults: cfg.faults.without(name),
            ..cfg.clone()
        };
        if let Err(v) = run_seed(fx, seed, &fewer) {
            cfg = fewer;
            last = v;
        }
    }
    (cfg, last)
}

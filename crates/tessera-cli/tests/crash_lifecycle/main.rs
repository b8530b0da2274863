//! Kill -9 campaign over the key lifecycle operations (issue 13's crash-safety claim). During
//! each operation one process — the coordinator or a signer the operation involves — is
//! killed with SIGKILL at a seeded random moment and started again; once the cluster settled,
//! every signer's vault is read from disk (each signer stopped first, as after a crash;
//! `common/crash.rs`) and the invariants are checked:
//!
//! - **reshares** ([`reshare`]: a refresh, a replaced signer, a grown set 2-of-3 → 3-of-4 and
//!   a shrunk one back to 2-of-3): no mixed epochs, the operation completed or rolled back, the
//!   key and chain code unchanged, and the holders sign;
//! - **imports** ([`import`]): the wallet is ready with the imported key and every holder
//!   stored it, or it is not usable at all and the same key imports again;
//! - **retirements** ([`retire`]): no share is lost, the coordinator never records a
//!   retirement a holder has not stored, and the request repeated finishes it: every holder
//!   retired and the wallet signs nothing.
//!
//! Signatures are checked by libsecp256k1 / ed25519-dalek under the derived key.
//!
//! `TESSERA_CRASH_TRIALS` (kills per operation and scheme, default 2), `TESSERA_CRASH_SEED`
//! (default 13), `TESSERA_CRASH_SCHEMES` (comma-separated scheme names, default
//! `schnorr-bip340`) and `TESSERA_CRASH_OPS` (comma-separated among refresh, replace, grow,
//! shrink, import, retire; default all) size the run; `docs/reliability.md` has the long run's
//! figures. A seed replays the same operations, targets and delays; the moment a delay lands on
//! depends on the machine, so each trial prints what it saw.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/crash.rs"]
mod crash;
mod import;
mod reshare;
mod retire;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use crash::*;
use tessera_cli::cluster::LocalCluster;
use tessera_client::Client;
use tessera_crypto::SchemeId;
use tessera_proto::api::{SessionStatus, WalletInfo};

const SIGNERS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Refresh,
    Replace,
    Grow,
    Shrink,
    Import,
    Retire,
}

impl Op {
    const ALL: [Op; 6] = [
        Op::Refresh,
        Op::Replace,
        Op::Grow,
        Op::Shrink,
        Op::Import,
        Op::Retire,
    ];
    const RESHARES: [Op; 4] = [Op::Refresh, Op::Replace, Op::Grow, Op::Shrink];
}

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Completed,
    RolledBack,
    /// Finished by sending the request again (a retirement some holder missed).
    CompletedOnRepeat,
}

/// Outcome counts of one operation kind.
#[derive(Default, Debug)]
struct Tally {
    trials: u32,
    /// Kills that landed while the operation was still running.
    while_running: u32,
    completed: u32,
    rolled_back: u32,
    completed_on_repeat: u32,
    coordinator_kills: u32,
}

impl Tally {
    fn add(&mut self, target: Target, running: bool, end: End) {
        self.trials += 1;
        self.while_running += u32::from(running);
        self.completed += u32::from(end == End::Completed);
        self.rolled_back += u32::from(end == End::RolledBack);
        self.completed_on_repeat += u32::from(end == End::CompletedOnRepeat);
        self.coordinator_kills += u32::from(matches!(target, Target::Coordinator));
    }
}

/// Waits until the coordinator answers again, the reshare session ended, no decided epoch is
/// still committing and every signer is linked; returns the wallet.
async fn settle(client: &Client, wallet_id: &str, session: Option<&str>) -> WalletInfo {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "{wallet_id}: the cluster did not settle"
        );
        let ended = match session {
            Some(s) => {
                matches!(client.session(s, Some(1000)).await, Ok(i) if i.status != SessionStatus::Running)
            }
            None => true,
        };
        let linked = linked(client).await;
        match client.wallet(wallet_id).await {
            Ok(w) if ended && linked == SIGNERS && w.committing_epoch.is_none() => return w,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

type Tallies = BTreeMap<(&'static str, Op), Tally>;

fn print_tally(tally: &Tallies, started: Instant, seed: u64) {
    eprintln!("| scheme | operation | kills | while running | completed | rolled back | completed on repeat | coordinator killed |");
    eprintln!("|---|---|---|---|---|---|---|---|");
    for ((scheme, op), t) in tally {
        eprintln!(
            "| {scheme} | {op:?} | {} | {} | {} | {} | {} | {} |",
            t.trials,
            t.while_running,
            t.completed,
            t.rolled_back,
            t.completed_on_repeat,
            t.coordinator_kills
        );
    }
    eprintln!(
        "{} kills in {:.0} s, seed {seed}",
        tally.values().map(|t| t.trials).sum::<u32>(),
        started.elapsed().as_secs_f64()
    );
}

/// What every campaign phase works with.
struct Campaign {
    cluster: LocalCluster,
    client: Client,
    op_key: tessera_wire::OperatorKey,
    rng: Rng,
    seed: u64,
    trials: u32,
    ops: Vec<Op>,
    tally: Tallies,
}

impl Campaign {
    fn wants(&self, scheme: SchemeId, op: Op) -> bool {
        self.ops.contains(&op)
            && self.tally.get(&(scheme.name(), op)).map_or(0, |t| t.trials) < self.trials
    }

    fn record(&mut self, scheme: SchemeId, op: Op, target: Target, running: bool, end: End) {
        self.tally
            .entry((scheme.name(), op))
            .or_default()
            .add(target, running, end);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_processes_never_leave_mixed_epochs_or_lose_a_key() {
    let seed = env_u64("TESSERA_CRASH_SEED", 13);
    let cluster = cluster_of("crash-lifecycle", "info", SIGNERS).await;
    let mut c = Campaign {
        client: cluster.client().unwrap(),
        op_key: cluster.file.operator().unwrap(),
        cluster,
        rng: Rng(seed),
        seed,
        trials: env_u64("TESSERA_CRASH_TRIALS", 2) as u32,
        ops: ops(&Op::ALL, |op| format!("{op:?}")),
        tally: Tallies::new(),
    };
    let started = Instant::now();
    for scheme in schemes("schnorr-bip340") {
        if Op::RESHARES.iter().any(|op| c.ops.contains(op)) {
            reshare::campaign(&mut c, scheme).await;
        }
        if c.ops.contains(&Op::Import) || c.ops.contains(&Op::Retire) {
            import::campaign(&mut c, scheme).await;
        }
    }
    print_tally(&c.tally, started, seed);
}

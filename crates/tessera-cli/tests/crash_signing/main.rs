//! Kill -9 campaign over key generation, presigning, signing (from the presignature pool and
//! through the full interactive protocol) and policy pushes (issue 14, part 3). During each
//! operation one process — the coordinator or a signer — is killed with SIGKILL at a seeded
//! random moment drawn from a measured undisturbed run, and started again; once the cluster
//! healed the invariants of the operation's module are checked:
//!
//! - [`keygen`]: the wallet is ready with every holder's share on disk, or failed and unusable
//!   (a new key generation succeeds); an accepted creation is never forgotten;
//! - [`presign`]: every pooled presignature signs, the pool refills;
//! - [`sign`] (pooled and interactive): every accepted request reaches a final state, is
//!   `signed` with a signature that verifies under the derived key or failed, reads the same
//!   when asked again, and its id can never be signed a second time; a fresh request signs;
//! - [`policy`]: every process runs the old or the new bundle, never one the coordinator does
//!   not have; pushing again converges all on the new one; signing still works under it.
//!
//! Campaign-wide, checked from the outside ([`checks`]):
//!
//! - **no nonce reused:** every signature the campaign ever obtained is verified under its
//!   derived key by an independent verifier (`tessera_cli::verify`) and its nonce commitment
//!   (Schnorr and Ed25519: R, the first 32 bytes; ECDSA: r) is distinct from every other one;
//! - **no share lost:** every ready wallet's holders still hold their share at its epoch, read
//!   from each signer's vault on disk (`common/crash.rs`), and no non-holder holds one;
//! - **audit chains intact:** the coordinator's log and every signer's own log (fetched through
//!   the coordinator with signed heads, `Client::signer_audit_export`) verify end to end and
//!   never shrink.
//!
//! `TESSERA_CRASH_TRIALS` (kills per operation and scheme, default 2), `TESSERA_CRASH_SEED`
//! (default 14), `TESSERA_CRASH_SCHEMES` (comma-separated scheme names, default
//! `ed25519,ecdsa-secp256k1/dkls23`), `TESSERA_CRASH_OPS` (comma-separated among keygen,
//! presign, sign-pooled, sign-interactive, policy; default all), `TESSERA_CRASH_DISK_EVERY`
//! and `TESSERA_CRASH_AUDIT_EVERY` (read the vaults / verify the audit logs after every k-th
//! trial, default 1; always at the end) size the run. Presign and pooled signing run on the
//! schemes with presignatures, interactive signing on those without (dkls23). A seed replays
//! the same operations, targets and delays; the moment a delay lands on depends on the machine,
//! so each trial prints what it saw.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
// The lifecycle campaign's per-wallet vault reads (`held`) are not used here.
#[allow(dead_code)]
#[path = "../common/crash.rs"]
mod crash;

mod checks;
mod keygen;
mod policy;
mod presign;
mod sign;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use crash::*;
use tessera_cli::cluster::LocalCluster;
use tessera_client::Client;
use tessera_crypto::SchemeId;

const SIGNERS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Keygen,
    Presign,
    SignPooled,
    SignInteractive,
    Policy,
}

impl Op {
    const ALL: [Op; 5] = [
        Op::Keygen,
        Op::Presign,
        Op::SignPooled,
        Op::SignInteractive,
        Op::Policy,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::Keygen => "keygen",
            Op::Presign => "presign",
            Op::SignPooled => "sign-pooled",
            Op::SignInteractive => "sign-interactive",
            Op::Policy => "policy",
        }
    }

    /// Whether the operation applies to `scheme`.
    fn applies(self, scheme: SchemeId) -> bool {
        match self {
            Op::Presign | Op::SignPooled => scheme.has_presignatures(),
            Op::SignInteractive => !scheme.has_presignatures(),
            Op::Keygen | Op::Policy => true,
        }
    }
}

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The operation finished (ready, signed, pool refilled, pushed everywhere).
    Completed,
    /// It failed cleanly (key generation failed, request failed or interrupted).
    Failed,
    /// The coordinator never stored it (killed before it answered); sent again it completed.
    NotAccepted,
    /// Finished by sending it again.
    CompletedOnRepeat,
}

/// Outcome counts of one operation kind.
#[derive(Default, Debug)]
struct Tally {
    trials: u32,
    /// Kills that landed while the operation was still running.
    while_running: u32,
    completed: u32,
    failed: u32,
    not_accepted: u32,
    completed_on_repeat: u32,
    coordinator_kills: u32,
}

impl Tally {
    fn add(&mut self, target: Target, running: bool, end: End) {
        self.trials += 1;
        self.while_running += u32::from(running);
        self.completed += u32::from(end == End::Completed);
        self.failed += u32::from(end == End::Failed);
        self.not_accepted += u32::from(end == End::NotAccepted);
        self.completed_on_repeat += u32::from(end == End::CompletedOnRepeat);
        self.coordinator_kills += u32::from(matches!(target, Target::Coordinator));
    }
}

/// Waits until the coordinator answers and links every signer.
async fn healed(client: &Client) {
    let start = Instant::now();
    while linked(client).await != SIGNERS {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "the cluster did not heal"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Tallies = BTreeMap<(&'static str, Op), Tally>;

fn print_tally(tally: &Tallies, started: Instant, seed: u64, c: &checks::Ledger) {
    eprintln!("| scheme | operation | kills | while running | completed | failed cleanly | not accepted, then completed | completed on repeat | coordinator killed |");
    eprintln!("|---|---|---|---|---|---|---|---|---|");
    for ((scheme, op), t) in tally {
        eprintln!(
            "| {scheme} | {} | {} | {} | {} | {} | {} | {} | {} |",
            op.name(),
            t.trials,
            t.while_running,
            t.completed,
            t.failed,
            t.not_accepted,
            t.completed_on_repeat,
            t.coordinator_kills
        );
    }
    eprintln!(
        "{} kills in {:.0} s, seed {seed}; {} signatures with distinct nonces, {} vault reads, \
         {} audit verifications",
        tally.values().map(|t| t.trials).sum::<u32>(),
        started.elapsed().as_secs_f64(),
        c.signatures(),
        c.disk_reads,
        c.audit_checks
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
    ledger: checks::Ledger,
    disk_every: u64,
    audit_every: u64,
    /// Trials run so far (all operations).
    done: u64,
}

impl Campaign {
    fn wants(&self, scheme: SchemeId, op: Op) -> bool {
        op.applies(scheme)
            && self.ops.contains(&op)
            && self.tally.get(&(scheme.name(), op)).map_or(0, |t| t.trials) < self.trials
    }

    /// Records a trial, then runs the campaign-wide checks when they are due.
    async fn record(&mut self, scheme: SchemeId, op: Op, target: Target, running: bool, end: End) {
        self.tally
            .entry((scheme.name(), op))
            .or_default()
            .add(target, running, end);
        self.done += 1;
        if self.done.is_multiple_of(self.disk_every) {
            checks::shares(self).await;
        }
        if self.done.is_multiple_of(self.audit_every) {
            checks::audits(self).await;
        }
    }

    /// A trial's name: seed, scheme, number, operation, target and delay.
    fn name(&self, scheme: SchemeId, op: Op, n: u32, target: Target, delay: Duration) -> String {
        format!(
            "seed {} {} trial {n}: {} kill {target:?} after {} ms",
            self.seed,
            scheme.name(),
            op.name(),
            delay.as_millis()
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_processes_never_lose_a_share_reuse_a_nonce_or_sign_a_request_twice() {
    let seed = env_u64("TESSERA_CRASH_SEED", 14);
    let cluster = cluster_of("crash-signing", "info", SIGNERS).await;
    let mut c = Campaign {
        client: cluster.client().unwrap(),
        op_key: cluster.file.operator().unwrap(),
        cluster,
        rng: Rng(seed),
        seed,
        trials: env_u64("TESSERA_CRASH_TRIALS", 2) as u32,
        ops: ops(&Op::ALL, |op| op.name().to_string()),
        tally: Tallies::new(),
        ledger: checks::Ledger::default(),
        disk_every: env_u64("TESSERA_CRASH_DISK_EVERY", 1).max(1),
        audit_every: env_u64("TESSERA_CRASH_AUDIT_EVERY", 1).max(1),
        done: 0,
    };
    let started = Instant::now();
    for scheme in schemes("ed25519,ecdsa-secp256k1/dkls23") {
        if c.wants(scheme, Op::Keygen) {
            keygen::campaign(&mut c, scheme).await;
        }
        let wants_signing = [Op::Presign, Op::SignPooled, Op::SignInteractive, Op::Policy]
            .iter()
            .any(|op| c.wants(scheme, *op));
        if wants_signing {
            let w = sign::main_wallet(&mut c, scheme).await;
            presign::campaign(&mut c, scheme, &w).await;
            sign::campaign(&mut c, scheme, &w).await;
            policy::campaign(&mut c, scheme, &w).await;
            presign::drain(&mut c, scheme, &w).await;
        }
    }
    checks::shares(&mut c).await;
    checks::audits(&mut c).await;
    print_tally(&c.tally, started, seed, &c.ledger);
}

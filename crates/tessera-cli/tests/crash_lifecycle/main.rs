//! Kill -9 campaign over the key lifecycle operations (issue 13's crash-safety claim): during
//! a refresh, a replaced signer, a grown set (2-of-3 → 3-of-4) and a shrunk one (back to
//! 2-of-3), one process — the coordinator, a holder, a joining or a leaving signer — is killed
//! with SIGKILL at a seeded random moment and started again. Once the cluster settled, every
//! signer's vault is read from disk (each signer stopped first, as after a crash) and the
//! campaign checks:
//!
//! - **no mixed epochs:** every holder the coordinator records has committed exactly the
//!   wallet's epoch; no other signer has committed it or any later one;
//! - **completed or rolled back:** the epoch went up by one (the new holders, threshold and
//!   attestations of every holder) or stayed (the old ones);
//! - **no lost key:** the key and chain code never change, and the holders sign a message that
//!   libsecp256k1 / ed25519-dalek accept under the derived key;
//! - **the pool follows the holders:** wallets with a presignature pool refill it.
//!
//! `TESSERA_CRASH_TRIALS` (kills per operation and scheme, default 2), `TESSERA_CRASH_SEED`
//! (default 13) and `TESSERA_CRASH_SCHEMES` (comma-separated scheme names, default
//! `schnorr-bip340`) size the run; `docs/reliability.md` has the long run's figures. A seed
//! replays the same operations, targets and delays; the moment a delay lands on depends on the
//! machine, so each trial prints what it saw.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use tessera_cli::cluster::LocalCluster;
use tessera_cli::reshare::{run, Change};
use tessera_client::Client;
use tessera_crypto::SchemeId;
use tessera_proto::api::{SessionStatus, WalletInfo};
use tessera_vault::{Unlock, Vault};

const SIGNERS: usize = 4;

/// SplitMix64: a seeded, reproducible choice of operations, targets and delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Refresh,
    Replace,
    Grow,
    Shrink,
}

/// The process a trial kills.
#[derive(Debug, Clone, Copy)]
enum Target {
    Coordinator,
    Signer(usize),
}

/// Outcome counts of one operation kind.
#[derive(Default, Debug)]
struct Tally {
    trials: u32,
    /// Kills that landed while the session was still running.
    while_running: u32,
    completed: u32,
    rolled_back: u32,
    coordinator_kills: u32,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn schemes() -> Vec<SchemeId> {
    let names = std::env::var("TESSERA_CRASH_SCHEMES").unwrap_or_else(|_| "schnorr-bip340".into());
    names
        .split(',')
        .map(|n| SchemeId::from_name(n.trim()).unwrap_or_else(|| panic!("no scheme {n}")))
        .collect()
}

/// Indices (in the cluster) of the wallet's holders, in party order.
fn holders(cluster: &LocalCluster, w: &WalletInfo) -> Vec<usize> {
    w.signers
        .iter()
        .map(|n| {
            cluster
                .file
                .signers
                .iter()
                .position(|s| s.node_id == *n)
                .unwrap()
        })
        .collect()
}

fn name(cluster: &LocalCluster, i: usize) -> String {
    cluster.file.signers[i].name.clone()
}

/// The operation a wallet with `held` holders gets next, among those still `wanted`: 2-of-3
/// wallets are refreshed, get a signer replaced or grow to 3-of-4; 3-of-4 wallets are
/// refreshed or shrink back. `None` when only the other set size's operations are wanted.
fn next_op(rng: &mut Rng, held: usize, wanted: &[Op]) -> Option<Op> {
    let feasible: &[Op] = if held == 3 {
        &[Op::Refresh, Op::Replace, Op::Grow]
    } else {
        &[Op::Refresh, Op::Shrink]
    };
    let open: Vec<Op> = feasible
        .iter()
        .copied()
        .filter(|op| wanted.contains(op))
        .collect();
    (!open.is_empty()).then(|| open[rng.below(open.len() as u64) as usize])
}

/// The change `op` makes, and every signer it involves (old and new holders).
fn change(rng: &mut Rng, cluster: &LocalCluster, op: Op, held: &[usize]) -> (Change, Vec<usize>) {
    let spare = (0..SIGNERS).find(|i| !held.contains(i));
    let mut involved = held.to_vec();
    let change = match op {
        Op::Refresh => Change::Refresh,
        Op::Replace => {
            let old = held[rng.below(held.len() as u64) as usize];
            let new = spare.unwrap();
            involved.push(new);
            Change::ReplaceSigner {
                old: name(cluster, old),
                new: name(cluster, new),
            }
        }
        Op::Grow => {
            involved.push(spare.unwrap());
            Change::Reshare {
                threshold: 3,
                signers: (0..SIGNERS).map(|i| name(cluster, i)).collect(),
            }
        }
        Op::Shrink => {
            let drop = rng.below(SIGNERS as u64) as usize;
            Change::Reshare {
                threshold: 2,
                signers: (0..SIGNERS)
                    .filter(|&i| i != drop)
                    .map(|i| name(cluster, i))
                    .collect(),
            }
        }
    };
    involved.sort_unstable();
    (change, involved)
}

/// Each signer's committed and prepared epoch of `wallet_id`, read from its vault on disk.
/// Every signer is killed first (the vault is locked while it runs) and started again after.
async fn disk_epochs(
    cluster: &mut LocalCluster,
    client: &Client,
    wallet_id: &str,
) -> Vec<(Option<u32>, Option<u32>)> {
    let mut out = Vec::new();
    for i in 0..SIGNERS {
        cluster.kill_signer(i).unwrap();
        let dir = &cluster.file.signers[i].dir;
        let vault = Vault::open(
            &dir.join("vault.db"),
            &Unlock::KeyFile(dir.join("vault.key")),
        )
        .unwrap_or_else(|e| panic!("signer {i}'s vault after a crash: {e}"));
        let record = vault
            .wallets()
            .unwrap()
            .into_iter()
            .find(|r| r.wallet_id == wallet_id);
        out.push((
            record.as_ref().map(|r| r.epoch),
            record.and_then(|r| r.prepared_epoch),
        ));
    }
    // The coordinator saw every link drop before any signer comes back.
    wait_linked_exactly(client, 0).await;
    for i in 0..SIGNERS {
        cluster.start_signer(i).unwrap();
    }
    wait_linked_exactly(client, SIGNERS).await;
    out
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
        let linked = client
            .signers()
            .await
            .map(|s| s.iter().filter(|s| s.connected).count())
            .unwrap_or(0);
        match client.wallet(wallet_id).await {
            Ok(w) if ended && linked == SIGNERS && w.committing_epoch.is_none() => return w,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The invariants after a trial; returns whether the operation completed.
fn check(
    trial: &str,
    original: &WalletInfo,
    before: &WalletInfo,
    after: &WalletInfo,
    held: &[usize],
    epochs: &[(Option<u32>, Option<u32>)],
) -> bool {
    assert_eq!(
        after.public_key, original.public_key,
        "{trial}: key changed"
    );
    assert_eq!(after.chain_code, original.chain_code, "{trial}: chain code");
    let completed = after.epoch == before.epoch + 1;
    assert!(
        completed || after.epoch == before.epoch,
        "{trial}: epoch {} -> {}",
        before.epoch,
        after.epoch
    );
    if !completed {
        assert_eq!(
            (&after.signers, after.threshold),
            (&before.signers, before.threshold),
            "{trial}: rolled back but the holders changed"
        );
    }
    for (i, (committed, prepared)) in epochs.iter().enumerate() {
        if held.contains(&i) {
            assert_eq!(
                *committed,
                Some(after.epoch),
                "{trial}: holder {i} is on another epoch (mixed epochs: {epochs:?})"
            );
        } else {
            assert!(
                committed.is_none_or(|e| e < after.epoch),
                "{trial}: non-holder {i} committed epoch {committed:?} (wallet at {})",
                after.epoch
            );
        }
        if let (Some(c), Some(p)) = (committed, prepared) {
            assert!(p > c, "{trial}: signer {i} prepared {p} at or below {c}");
        }
    }
    completed
}

/// How long an operation of `op` may take here: the kill moment is drawn from it.
fn window(refresh: Duration, op: Op) -> Duration {
    let factor = match op {
        Op::Refresh => 1.0,
        Op::Replace => 1.2,
        Op::Grow | Op::Shrink => 1.6,
    };
    refresh.mul_f64(factor)
}

async fn kill_and_restart(cluster: &mut LocalCluster, client: &Client, target: Target) {
    match target {
        Target::Coordinator => {
            cluster.kill_coordinator().unwrap();
            cluster.start_coordinator().unwrap();
            cluster.wait_healthy(client).await.unwrap();
        }
        Target::Signer(i) => {
            cluster.kill_signer(i).unwrap();
            cluster.start_signer(i).unwrap();
        }
    }
}

/// One kill: the operation submitted, the target killed after the delay and restarted, then
/// every check of the module docs.
struct Trial<'a> {
    name: &'a str,
    scheme: SchemeId,
    original: &'a WalletInfo,
    before: &'a WalletInfo,
    change: &'a Change,
    target: Target,
    delay: Duration,
}

impl Trial<'_> {
    /// Returns whether the kill came while the session ran, and whether the operation completed.
    async fn run(
        &self,
        cluster: &mut LocalCluster,
        client: &Client,
        op_key: &tessera_wire::OperatorKey,
    ) -> (bool, bool) {
        let (trial, id) = (self.name, &self.before.wallet_id);
        let (session, _) = run(&cluster.file, id, self.change, false)
            .await
            .unwrap_or_else(|e| panic!("{trial}: submit: {e:#}"));
        tokio::time::sleep(self.delay).await;
        let running = client
            .session(&session.session_id, None)
            .await
            .is_ok_and(|s| s.status == SessionStatus::Running);
        kill_and_restart(cluster, client, self.target).await;
        let after = settle(client, id, Some(&session.session_id)).await;
        let epochs = disk_epochs(cluster, client, id).await;
        let held_after = holders(cluster, &after);
        let completed = check(
            trial,
            self.original,
            self.before,
            &after,
            &held_after,
            &epochs,
        );
        let (_, vouched) = client.vouched_wallet(id).await.unwrap();
        assert_eq!(
            vouched.by.len(),
            after.signers.len(),
            "{trial}: attestations"
        );
        sign_and_verify(client, op_key, self.scheme, id, "m/7", trial).await;
        if self.scheme != SchemeId::EcdsaDkls23 {
            // The presignature pool refills with the wallet's holders now.
            wait_pool(client, id, 1).await;
        }
        eprintln!(
            "{trial}{}: {} (epoch {}, {}-of-{}, disk {epochs:?})",
            if running {
                " (running)"
            } else {
                " (after its end)"
            },
            if completed {
                "completed"
            } else {
                "rolled back"
            },
            after.epoch,
            after.threshold,
            after.signers.len()
        );
        (running, completed)
    }
}

fn print_tally(tally: &BTreeMap<(&str, Op), Tally>, started: Instant, seed: u64) {
    eprintln!("| scheme | operation | kills | while running | completed | rolled back | coordinator killed |");
    eprintln!("|---|---|---|---|---|---|---|");
    for ((scheme, op), t) in tally {
        eprintln!(
            "| {scheme} | {op:?} | {} | {} | {} | {} | {} |",
            t.trials, t.while_running, t.completed, t.rolled_back, t.coordinator_kills
        );
    }
    eprintln!(
        "{} kills in {:.0} s, seed {seed}",
        tally.values().map(|t| t.trials).sum::<u32>(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_processes_never_leave_mixed_epochs_or_lose_a_key() {
    let trials = env_u64("TESSERA_CRASH_TRIALS", 2) as u32;
    let seed = env_u64("TESSERA_CRASH_SEED", 13);
    let mut rng = Rng(seed);
    let mut cluster = cluster_of("crash-lifecycle", "info", SIGNERS).await;
    let client = cluster.client().unwrap();
    let op_key = cluster.file.operator().unwrap();
    let nodes: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    let mut tally: BTreeMap<(&str, Op), Tally> = BTreeMap::new();
    let started = Instant::now();
    for scheme in schemes() {
        let id = wallet_id(scheme);
        client
            .create_wallet(
                &op_key,
                &id,
                "crash",
                scheme,
                2,
                nodes[..3].to_vec(),
                NETWORKS,
            )
            .await
            .unwrap();
        let original = wait_ready(&client, &id).await;
        // One undisturbed refresh: the window kill moments are drawn from.
        let (_, refresh) = run(&cluster.file, &id, &Change::Refresh, true)
            .await
            .unwrap();
        let mut n = 0;
        loop {
            let wanted: Vec<Op> = [Op::Refresh, Op::Replace, Op::Grow, Op::Shrink]
                .into_iter()
                .filter(|op| tally.get(&(scheme.name(), *op)).map_or(0, |t| t.trials) < trials)
                .collect();
            if wanted.is_empty() {
                break;
            }
            n += 1;
            let before = settle(&client, &id, None).await;
            let held = holders(&cluster, &before);
            let Some(op) = next_op(&mut rng, held.len(), &wanted) else {
                // Only the other set size's operations still want kills: get there undisturbed.
                let setup = if held.len() == 3 {
                    Op::Grow
                } else {
                    Op::Shrink
                };
                let (c, _) = change(&mut rng, &cluster, setup, &held);
                run(&cluster.file, &id, &c, true).await.unwrap();
                continue;
            };
            let (change, involved) = change(&mut rng, &cluster, op, &held);
            let target = match rng.below(involved.len() as u64 + 1) as usize {
                0 => Target::Coordinator,
                k => Target::Signer(involved[k - 1]),
            };
            let delay = window(refresh, op).mul_f64(rng.below(1000) as f64 / 1000.0);
            let name = format!(
                "seed {seed} {} trial {n}: {op:?} kill {target:?} after {} ms",
                scheme.name(),
                delay.as_millis()
            );
            let t = Trial {
                name: &name,
                scheme,
                original: &original,
                before: &before,
                change: &change,
                target,
                delay,
            };
            let (running, completed) = t.run(&mut cluster, &client, &op_key).await;
            let t = tally.entry((scheme.name(), op)).or_default();
            t.trials += 1;
            t.while_running += u32::from(running);
            t.completed += u32::from(completed);
            t.rolled_back += u32::from(!completed);
            t.coordinator_kills += u32::from(matches!(target, Target::Coordinator));
        }
    }
    print_tally(&tally, started, seed);
}

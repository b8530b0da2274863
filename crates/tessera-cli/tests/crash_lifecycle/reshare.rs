//! The reshare trials: a refresh, a replaced signer, a grown set (2-of-3 → 3-of-4) and a
//! shrunk one (back to 2-of-3) of one wallet, each with one process — the coordinator, a
//! holder, a joining or a leaving signer — killed. After each, every holder the coordinator
//! records has committed exactly the wallet's epoch and no other signer has committed it or a
//! later one (**no mixed epochs**); the epoch went up by one with the new holders, threshold
//! and attestations, or stayed with the old ones (**completed or rolled back**); the key and
//! chain code never change and the holders sign (**no lost key**); and wallets with a
//! presignature pool refill it.

use std::time::Duration;

use tessera_cli::cluster::LocalCluster;
use tessera_cli::reshare::{run, Change};
use tessera_client::Client;
use tessera_crypto::SchemeId;
use tessera_proto::api::{SessionStatus, WalletInfo};

use super::*;

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
        Op::Import | Op::Retire => unreachable!("not a reshare"),
    };
    involved.sort_unstable();
    (change, involved)
}

/// The invariants after a trial; returns whether the operation completed.
fn check(
    trial: &str,
    original: &WalletInfo,
    before: &WalletInfo,
    after: &WalletInfo,
    held: &[usize],
    disk: &[Held],
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
    for (
        i,
        Held {
            committed,
            prepared,
            ..
        },
    ) in disk.iter().enumerate()
    {
        if held.contains(&i) {
            assert_eq!(
                *committed,
                Some(after.epoch),
                "{trial}: holder {i} is on another epoch (mixed epochs: {disk:?})"
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
        Op::Import | Op::Retire => unreachable!("not a reshare"),
    };
    refresh.mul_f64(factor)
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
        let disk = held(cluster, client, id).await;
        let held_after = holders(cluster, &after);
        let completed = check(
            trial,
            self.original,
            self.before,
            &after,
            &held_after,
            &disk,
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
            "{trial}{}: {} (epoch {}, {}-of-{}, disk {disk:?})",
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

/// The reshare trials of `scheme`, on one 2-of-3 wallet, until each wanted operation had its
/// kills.
pub async fn campaign(c: &mut Campaign, scheme: SchemeId) {
    let id = wallet_id(scheme);
    let original = wallet_on_first_three(&c.cluster, &c.client, &c.op_key, &id, scheme).await;
    // One undisturbed refresh: the window kill moments are drawn from.
    let (_, refresh) = run(&c.cluster.file, &id, &Change::Refresh, true)
        .await
        .unwrap();
    let mut n = 0;
    loop {
        let wanted: Vec<Op> = Op::RESHARES
            .into_iter()
            .filter(|op| c.wants(scheme, *op))
            .collect();
        if wanted.is_empty() {
            return;
        }
        n += 1;
        let before = settle(&c.client, &id, None).await;
        let held = holders(&c.cluster, &before);
        let Some(op) = next_op(&mut c.rng, held.len(), &wanted) else {
            // Only the other set size's operations still want kills: get there undisturbed.
            let setup = if held.len() == 3 {
                Op::Grow
            } else {
                Op::Shrink
            };
            let (change, _) = change(&mut c.rng, &c.cluster, setup, &held);
            run(&c.cluster.file, &id, &change, true).await.unwrap();
            continue;
        };
        let (change, involved) = change(&mut c.rng, &c.cluster, op, &held);
        let target = c.rng.target(&involved);
        let delay = c.rng.within(window(refresh, op));
        let name = format!(
            "seed {} {} trial {n}: {op:?} kill {target:?} after {} ms",
            c.seed,
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
        let (running, completed) = t.run(&mut c.cluster, &c.client, &c.op_key).await;
        let end = if completed {
            End::Completed
        } else {
            End::RolledBack
        };
        c.record(scheme, op, target, running, end);
    }
}

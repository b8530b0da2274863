//! The key generation trials: a 2-of-3 wallet on three of the four signers is created while
//! the coordinator or one of the three is killed. After each:
//!
//! - **an accepted creation is not forgotten:** when the coordinator answered the request, it
//!   knows the wallet after its restart;
//! - **ready:** every holder attested the key and the holders sign (checked independently);
//!   every holder's share is on disk at epoch 0 and no other signer has one ([`checks::shares`]);
//! - **or failed:** the wallet failed (or was never recorded) and the coordinator signs nothing
//!   with it; a new key generation on the same holders under another id succeeds and signs.
//!
//! Each wallet the trial leaves ready is retired afterwards (retiring keeps the shares), so
//! a hundred wallets do not each refill a presignature pool in the background.

use std::time::{Duration, Instant};

use tessera_client::{ClientError, Submitted, AUTHORIZATION_TTL_SECS};
use tessera_crypto::SchemeId;
use tessera_proto::api::{WalletInfo, WalletStatus};

use super::checks::sign_checked;
use super::*;

/// Three of the four signers, in index order.
fn three_holders(rng: &mut Rng) -> Vec<usize> {
    let left_out = rng.below(SIGNERS as u64) as usize;
    (0..SIGNERS).filter(|&i| i != left_out).collect()
}

/// Asks for a 2-of-3 wallet on `holders`. A holder a trial restarted may relink a moment
/// after the coordinator counted the cluster settled; the coordinator then answers 503
/// (unavailable, nothing recorded) and the request is made again, as a client would.
async fn create(c: &Campaign, scheme: SchemeId, id: &str, holders: &[usize]) -> bool {
    let nodes: Vec<_> = holders
        .iter()
        .map(|&i| c.cluster.file.signers[i].node_id)
        .collect();
    let start = Instant::now();
    loop {
        let r = c
            .client
            .create_wallet(&c.op_key, id, "crash", scheme, 2, nodes.clone(), NETWORKS)
            .await;
        match r {
            Err(ClientError::Api { status: 503, .. })
                if start.elapsed() < Duration::from_secs(30) =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other.is_ok(),
        }
    }
}

/// A wallet created undisturbed: ready, signing, then retired; how long its creation took.
async fn undisturbed(c: &mut Campaign, scheme: SchemeId, id: &str, holders: &[usize]) -> Duration {
    let started = Instant::now();
    assert!(create(c, scheme, id, holders).await, "{id}: undisturbed");
    let w = wait_ready(&c.client, id).await;
    let took = started.elapsed();
    ready(c, scheme, &w, id).await;
    took
}

/// The checks of a ready wallet, then its retirement.
async fn ready(c: &mut Campaign, scheme: SchemeId, w: &WalletInfo, trial: &str) {
    let (_, vouched) = c.client.vouched_wallet(&w.wallet_id).await.unwrap();
    assert_eq!(vouched.by.len(), w.signers.len(), "{trial}: attestations");
    sign_checked(c, scheme, &w.wallet_id, "m/2", trial).await;
    c.ledger.ready(&c.cluster, w);
    retire(c, &w.wallet_id).await;
}

async fn retire(c: &mut Campaign, id: &str) {
    // Retiring needs every holder linked; one restarted by the trial may relink a moment
    // after the coordinator counted it.
    let start = Instant::now();
    let done = loop {
        let op = c
            .client
            .prepare_retire(&c.op_key, id, AUTHORIZATION_TTL_SECS)
            .await
            .unwrap();
        match c.client.submit_key_operation(&op).await {
            Err(ClientError::Api { status: 503, .. })
                if start.elapsed() < Duration::from_secs(30) =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => break other,
        }
    };
    assert!(
        matches!(done, Ok(Submitted::Wallet(ref r)) if r.status == WalletStatus::Retired),
        "{id}: retirement: {done:?}"
    );
    c.ledger.retired(id);
}

/// The wallet once every signer is linked and key generation no longer runs; `None` when
/// the coordinator has no such wallet.
async fn settle(client: &Client, id: &str) -> Option<WalletInfo> {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "{id}: the cluster did not settle"
        );
        if linked(client).await == SIGNERS {
            match client.wallet(id).await {
                Ok(w) if w.status != WalletStatus::Creating => return Some(w),
                Err(ClientError::Api { status: 404, .. }) => return None,
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One key generation with a kill; returns whether the kill came while it ran and how it
/// ended.
async fn trial(
    c: &mut Campaign,
    scheme: SchemeId,
    n: u32,
    window: Duration,
) -> (Target, bool, End) {
    let holders = three_holders(&mut c.rng);
    let target = c.rng.target(&holders);
    let delay = c.rng.within(window);
    let trial = &c.name(scheme, Op::Keygen, n, target, delay);
    let id = format!("{}-kg-{}-{n}", wallet_id(scheme), c.seed);
    let (client, op_key, nodes) = (
        c.client.clone(),
        c.cluster.file.operator().unwrap(),
        holders
            .iter()
            .map(|&i| c.cluster.file.signers[i].node_id)
            .collect::<Vec<_>>(),
    );
    let wid = id.clone();
    let submit = tokio::spawn(async move {
        client
            .create_wallet(&op_key, &wid, "crash", scheme, 2, nodes, NETWORKS)
            .await
    });
    tokio::time::sleep(delay).await;
    let running = !submit.is_finished()
        || matches!(c.client.wallet(&id).await, Ok(w) if w.status == WalletStatus::Creating);
    kill_and_restart(&mut c.cluster, &c.client, target).await;
    let accepted = submit.await.unwrap().is_ok();
    let after = settle(&c.client, &id).await;
    assert!(
        !accepted || after.is_some(),
        "{trial}: the coordinator accepted the creation and forgot it"
    );
    let end = match after {
        Some(w) if w.status == WalletStatus::Ready => {
            ready(c, scheme, &w, trial).await;
            End::Completed
        }
        other => {
            if let Some(w) = &other {
                assert_eq!(w.status, WalletStatus::Failed, "{trial}: {w:?}");
            }
            let m = message(scheme, "after a failed key generation");
            let refused = c.client.sign(&c.op_key, &id, "m", &m).await;
            assert!(refused.is_err(), "{trial}: a failed wallet signed");
            undisturbed(c, scheme, &format!("{id}-again"), &holders).await;
            if other.is_some() {
                End::Failed
            } else {
                End::NotAccepted
            }
        }
    };
    report(trial, running, end, &format!("holders {holders:?}"));
    (target, running, end)
}

/// The key generation trials of `scheme`.
pub async fn campaign(c: &mut Campaign, scheme: SchemeId) {
    let holders = three_holders(&mut c.rng);
    let base = format!("{}-kg-{}-base", wallet_id(scheme), c.seed);
    let window = undisturbed(c, scheme, &base, &holders).await.mul_f64(1.2);
    let mut n = 0;
    while c.wants(scheme, Op::Keygen) {
        n += 1;
        let (target, running, end) = trial(c, scheme, n, window).await;
        c.record(scheme, Op::Keygen, target, running, end).await;
    }
}

//! The policy push trials: the next version of the local development bundle, signed by the
//! admin, is pushed (`PUT /v1/policy`) while the coordinator or any signer is killed. After
//! each, once the cluster healed:
//!
//! - **old or new, never ahead:** the coordinator runs the old or the new version (the new one
//!   whenever it answered the push), and every signer — as its own signed view says
//!   (`Client::signer_view`, verified against its identity key) — runs the old or the new one
//!   and never one the coordinator does not have;
//! - **pushing again converges:** the same bundle pushed again leaves the coordinator and all
//!   four signers on the new version;
//! - **signing still follows policy:** an operator request the bundle allows signs (checked
//!   independently).

use std::time::{Duration, Instant};

use tessera_client::ClientError;
use tessera_crypto::SchemeId;
use tessera_policy::{PublicKey, SignedBundle};
use tessera_proto::api::{PolicyInfo, WalletInfo};

use super::checks::sign_checked;
use super::*;

/// Version `version` of the development bundle, signed by the cluster's admin.
fn bundle(c: &Campaign, version: u64) -> SignedBundle {
    let admin = c.cluster.file.admin().unwrap();
    let approver = c.cluster.file.approver().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let b = tessera_cli::governance::local_dev_bundle(
        version,
        PublicKey(c.op_key.public().0),
        approver.public(),
        admin.public(),
        now,
    )
    .unwrap();
    tessera_cli::governance::sign_bundle(b, &[admin])
}

/// Every signer's policy version, from its own signed view.
async fn signer_versions(c: &Campaign) -> Vec<u64> {
    let mut out = Vec::new();
    for s in &c.cluster.file.signers {
        // A signer just restarted may relink a moment after the coordinator counted it.
        let start = Instant::now();
        let view = loop {
            match c.client.signer_view(&s.node_id).await {
                Ok(v) => break v,
                Err(e) if start.elapsed() < Duration::from_secs(30) => {
                    eprintln!("{}'s view, asking again: {e}", s.name);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("{}'s view: {e}", s.name),
            }
        };
        out.push(view.view.policy_version);
    }
    out
}

/// Pushes `b` again: every process ends on its version.
async fn converge(c: &Campaign, b: &SignedBundle, trial: &str) {
    let version = b.bundle.version;
    let info = c
        .client
        .put_policy(b)
        .await
        .unwrap_or_else(|e| panic!("{trial}: pushed again: {e}"));
    assert_eq!(info.version, version, "{trial}: pushed again");
    c.cluster
        .wait_policy(&c.client, version, SIGNERS)
        .await
        .unwrap_or_else(|e| panic!("{trial}: {e:#}"));
}

/// One push with a kill; returns whether the kill came while the push ran, and the result.
async fn trial(
    c: &mut Campaign,
    scheme: SchemeId,
    w: &WalletInfo,
    n: u32,
    window: Duration,
) -> (Target, bool, End) {
    let all: Vec<usize> = (0..SIGNERS).collect();
    let target = c.rng.target(&all);
    let delay = c.rng.within(window);
    let trial = &c.name(scheme, Op::Policy, n, target, delay);
    let old = c.client.policy().await.unwrap().version;
    let b = bundle(c, old + 1);
    let (client, sent) = (c.client.clone(), b.clone());
    let push = tokio::spawn(async move { client.put_policy(&sent).await });
    tokio::time::sleep(delay).await;
    let running = !push.is_finished();
    kill_and_restart(&mut c.cluster, &c.client, target).await;
    let answered: Result<PolicyInfo, ClientError> = push.await.unwrap();
    healed(&c.client).await;
    let coordinator = c.client.policy().await.unwrap().version;
    assert!(
        coordinator == old || coordinator == old + 1,
        "{trial}: the coordinator runs version {coordinator}, pushed {}",
        old + 1
    );
    if answered.is_ok() {
        assert_eq!(coordinator, old + 1, "{trial}: answered, not kept");
    }
    let signers = signer_versions(c).await;
    for (i, v) in signers.iter().enumerate() {
        assert!(
            (*v == old || *v == old + 1) && *v <= coordinator,
            "{trial}: signer {i} runs version {v} (coordinator {coordinator}, pushed {})",
            old + 1
        );
    }
    let end = if coordinator == old {
        End::NotAccepted
    } else if signers.iter().all(|v| *v == old + 1) {
        End::Completed
    } else {
        End::CompletedOnRepeat
    };
    converge(c, &b, trial).await;
    sign_checked(c, scheme, &w.wallet_id, "m/11", trial).await;
    let detail = format!("coordinator v{coordinator}, signers {signers:?} before pushing again");
    report(trial, running, end, &detail);
    (target, running, end)
}

/// The policy push trials of `scheme` (signing on `w` after each).
pub async fn campaign(c: &mut Campaign, scheme: SchemeId, w: &WalletInfo) {
    if !c.wants(scheme, Op::Policy) {
        return;
    }
    // The window: one undisturbed push until every signer runs it.
    let started = Instant::now();
    let next = bundle(c, c.client.policy().await.unwrap().version + 1);
    converge(c, &next, "undisturbed push").await;
    let window = started.elapsed().mul_f64(1.5);
    let mut n = 0;
    while c.wants(scheme, Op::Policy) {
        n += 1;
        let (target, running, end) = trial(c, scheme, w, n, window).await;
        c.record(scheme, Op::Policy, target, running, end).await;
    }
}

//! The presign trials, on the scheme's 2-of-3 wallet: 1–16 pooled presignatures are used at
//! once (concurrent requests, faster than the pool refills), so the coordinator's refill loop runs presign sessions to top the pool up again,
//! and the coordinator or a holder is killed while it does. After each, once the cluster
//! healed:
//!
//! - **the pool refills** to its target;
//! - **what the pool lists signs:** the next request takes a pooled presignature and signs in
//!   one attempt, with a signature that verifies and a nonce never used before.
//!
//! At the end of the campaign ([`drain`]) every presignature the pool then lists is used,
//! oldest first (the pool is first in, first out): each must sign in one pooled attempt.
//! Presignatures a kill left at signers but not in the coordinator's pool (it died before
//! pooling one, or a co-signer died before answering) are never used; [`super::checks::shares`]
//! prints how many each signer holds next to the pool size.

use std::time::{Duration, Instant};

use tessera_crypto::SchemeId;
use tessera_proto::api::{SignPath, WalletInfo};

use super::checks::{accept, sign_checked};
use super::*;

/// The coordinator's default pool target (`tessera_coordinator::Config`).
fn target(scheme: SchemeId) -> u32 {
    match scheme {
        SchemeId::EcdsaCggmp24 => 4,
        _ => 64,
    }
}

/// Waits until the pool of `id` is back at its target.
async fn refilled(c: &Campaign, scheme: SchemeId, id: &str) {
    let start = Instant::now();
    while c.client.wallet(id).await.unwrap().pool < target(scheme) {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "{id}: the pool did not refill"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signs from the pool: one pooled attempt, checked; `label` names the request.
async fn pooled(c: &mut Campaign, scheme: SchemeId, id: &str, label: &str) {
    let s = sign_checked(c, scheme, id, "m/9", label).await;
    assert_eq!(
        (s.sign_path, s.attempts),
        (Some(SignPath::Presigned), 1),
        "{label}: a pooled presignature did not sign at once: {:?}",
        s.error
    );
}

/// Uses `k` pooled presignatures at once (faster than the pool refills), each checked.
async fn take(c: &mut Campaign, scheme: SchemeId, id: &str, k: u64, label: &str) {
    let mut sent = Vec::new();
    for j in 0..k {
        let m = message(scheme, &format!("{label}, take {j}"));
        let req = Client::sign_request(&c.op_key, id, "m/9", &m).unwrap();
        let (client, wid) = (c.client.clone(), id.to_string());
        let answer = tokio::spawn(async move { client.submit(&wid, &req, true).await });
        sent.push((m, answer));
    }
    for (m, answer) in sent {
        let s = answer
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(
            (s.sign_path, s.attempts),
            (Some(SignPath::Presigned), 1),
            "{label}: a pooled presignature did not sign at once: {:?}",
            s.error
        );
        accept(c, scheme, &m, &s).await;
    }
}

/// One trial: `k` presignatures used, the refill killed after `delay`.
async fn trial(c: &mut Campaign, scheme: SchemeId, w: &WalletInfo, n: u32, window: Duration) {
    let id = &w.wallet_id;
    let k = 1 + c.rng.below(16);
    let target = c.rng.target(&holders(&c.cluster, w));
    let delay = c.rng.within(window);
    let name = c.name(scheme, Op::Presign, n, target, delay);
    take(c, scheme, id, k, &name).await;
    tokio::time::sleep(delay).await;
    let before = c.client.wallet(id).await.unwrap().pool;
    let running = before < self::target(scheme);
    kill_and_restart(&mut c.cluster, &c.client, target).await;
    healed(&c.client).await;
    refilled(c, scheme, id).await;
    pooled(c, scheme, id, &format!("{name}, after")).await;
    let detail = format!("{k} used, pool {before} at the kill");
    report(&name, running, End::Completed, &detail);
    c.record(scheme, Op::Presign, target, running, End::Completed)
        .await;
}

/// The presign trials of `scheme` on `w`.
pub async fn campaign(c: &mut Campaign, scheme: SchemeId, w: &WalletInfo) {
    if !c.wants(scheme, Op::Presign) {
        return;
    }
    let id = &w.wallet_id;
    refilled(c, scheme, id).await;
    // The window: how long refilling sixteen presignatures takes undisturbed.
    take(c, scheme, id, 16, "measure").await;
    let started = Instant::now();
    refilled(c, scheme, id).await;
    let window = started.elapsed().mul_f64(1.2);
    let mut n = 0;
    while c.wants(scheme, Op::Presign) {
        n += 1;
        trial(c, scheme, w, n, window).await;
    }
}

/// Uses every presignature the pool of `w` lists once it refilled: each signs at once.
pub async fn drain(c: &mut Campaign, scheme: SchemeId, w: &WalletInfo) {
    if !scheme.has_presignatures()
        || !(c.ops.contains(&Op::Presign) || c.ops.contains(&Op::SignPooled))
    {
        return;
    }
    let id = &w.wallet_id;
    refilled(c, scheme, id).await;
    let listed = c.client.wallet(id).await.unwrap().pool;
    let label = format!("seed {} {} drain", c.seed, scheme.name());
    for chunk in 0..u64::from(listed).div_ceil(8) {
        let k = (u64::from(listed) - chunk * 8).min(8);
        take(c, scheme, id, k, &format!("{label} {chunk}")).await;
    }
    eprintln!("{label}: all {listed} pooled presignatures signed");
}

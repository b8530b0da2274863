//! The retirement trials: an imported 2-of-3 wallet is retired while the coordinator or one of
//! its holders is killed. Retiring is final and asks every holder, so a kill can leave some
//! holders retired and the coordinator not (it records the retirement only once every holder
//! answered). After each:
//!
//! - **no share lost:** every holder still has its share at the wallet's epoch (retiring keeps
//!   shares; backups and exports are the way out) and no other signer has one;
//! - **the coordinator is never ahead of the holders:** when it records the wallet retired,
//!   every holder stored the retirement;
//! - **completed, or completed on repeat:** the request, sent again with a fresh authorization
//!   when the first did not finish, retires the wallet at every holder; then the wallet signs
//!   nothing and its presignature pool stays empty.

use std::time::{Duration, Instant};

use tessera_client::{Submitted, AUTHORIZATION_TTL_SECS};
use tessera_crypto::SchemeId;
use tessera_proto::api::{WalletInfo, WalletStatus};

use super::*;

/// Retires `w` at once; how long it took.
pub async fn undisturbed(c: &Campaign, w: &WalletInfo) -> Duration {
    let op = c
        .client
        .prepare_retire(&c.op_key, &w.wallet_id, AUTHORIZATION_TTL_SECS)
        .await
        .unwrap();
    let started = Instant::now();
    let done = c.client.submit_key_operation(&op).await;
    let took = started.elapsed();
    assert!(
        matches!(done, Ok(Submitted::Wallet(ref r)) if r.status == WalletStatus::Retired),
        "undisturbed retirement: {done:?}"
    );
    took
}

/// Whether the first request retired the wallet, judged from its answer.
fn retired(answer: &Result<Submitted, tessera_client::ClientError>) -> bool {
    matches!(answer, Ok(Submitted::Wallet(w)) if w.status == WalletStatus::Retired)
}

fn check_shares(trial: &str, w: &WalletInfo, holders: &[usize], disk: &[Held]) {
    for (i, held) in disk.iter().enumerate() {
        if holders.contains(&i) {
            assert_eq!(
                held.committed,
                Some(w.epoch),
                "{trial}: holder {i} lost its share ({disk:?})"
            );
        } else {
            assert_eq!(held.committed, None, "{trial}: signer {i} is no holder");
        }
    }
}

/// One retirement of `w` with a kill drawn from `window`, checked and recorded.
pub async fn trial(c: &mut Campaign, scheme: SchemeId, n: u32, w: &WalletInfo, window: Duration) {
    let holders = holders(&c.cluster, w);
    let target = c.rng.target(&holders);
    let delay = c.rng.within(window);
    let trial = &format!(
        "seed {} {} trial {n}: Retire kill {target:?} after {} ms",
        c.seed,
        scheme.name(),
        delay.as_millis()
    );
    let id = &w.wallet_id;
    let op = c
        .client
        .prepare_retire(&c.op_key, id, AUTHORIZATION_TTL_SECS)
        .await
        .unwrap();
    let client = c.client.clone();
    let submit = tokio::spawn(async move { client.submit_key_operation(&op).await });
    tokio::time::sleep(delay).await;
    let running = !submit.is_finished();
    kill_and_restart(&mut c.cluster, &c.client, target).await;
    let first = submit.await.unwrap();
    let after = settle(&c.client, id, None).await;
    let disk = held(&mut c.cluster, &c.client, id).await;
    check_shares(trial, w, &holders, &disk);
    let at_holders = holders.iter().filter(|&&i| disk[i].retired).count();
    if retired(&first) {
        assert_eq!(
            after.status,
            WalletStatus::Retired,
            "{trial}: answered, not recorded"
        );
    }
    if after.status == WalletStatus::Retired {
        assert_eq!(
            at_holders,
            holders.len(),
            "{trial}: the coordinator is ahead ({disk:?})"
        );
    }
    let end = if after.status == WalletStatus::Retired {
        End::Completed
    } else {
        let again = c
            .client
            .prepare_retire(&c.op_key, id, AUTHORIZATION_TTL_SECS)
            .await
            .unwrap();
        let answer = c.client.submit_key_operation(&again).await;
        assert!(retired(&answer), "{trial}: the repeat: {answer:?}");
        let disk = held(&mut c.cluster, &c.client, id).await;
        check_shares(trial, w, &holders, &disk);
        assert!(
            holders.iter().all(|&i| disk[i].retired),
            "{trial}: retired after the repeat, but not at every holder ({disk:?})"
        );
        End::CompletedOnRepeat
    };
    let m = message(scheme, "after retiring");
    let err = c.client.sign(&c.op_key, id, "m", &m).await.unwrap_err();
    assert!(err.to_string().contains("Retired"), "{trial}: {err}");
    assert_eq!(c.client.wallet(id).await.unwrap().pool, 0, "{trial}: pool");
    let detail = format!(
        "{at_holders} of {} holders retired before any repeat",
        holders.len()
    );
    report(trial, running, end, &detail);
    c.record(scheme, Op::Retire, target, running, end);
}

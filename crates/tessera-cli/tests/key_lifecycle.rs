//! Multi-process tests of key lifecycle operations through the API, the CLI library and real
//! signer processes: a refresh while signing and the replacement of a killed signer, for every
//! scheme. The key, chain code and addresses never change; signatures before and after are
//! checked with libsecp256k1 / ed25519-dalek; after the replacement the new holder signs with
//! the one remaining original holder.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tessera_cli::cluster::LocalCluster;
use tessera_cli::reshare::{run, Change};
use tessera_client::Client;
use tessera_crypto::SchemeId;
use tessera_proto::api::{SessionKind, SessionStatus, WalletInfo};
use tessera_wire::{NodeId, OperatorKey};

async fn signers(name: &str, n: usize) -> LocalCluster {
    cluster_of(name, "info", n).await
}

/// The cluster's signers: node ids and names, in order.
fn members(cluster: &LocalCluster) -> (Vec<NodeId>, Vec<String>) {
    let s = &cluster.file.signers;
    (
        s.iter().map(|x| x.node_id).collect(),
        s.iter().map(|x| x.name.clone()).collect(),
    )
}

/// One 2-of-`signers.len()` wallet per scheme (key generation runs in the background).
async fn create_wallets(
    client: &Client,
    op: &OperatorKey,
    schemes: &[SchemeId],
    signers: &[NodeId],
) {
    for &s in schemes {
        client
            .create_wallet(op, &wallet_id(s), "test", s, 2, signers.to_vec(), NETWORKS)
            .await
            .expect("create wallet");
    }
}

fn same_key(before: &WalletInfo, after: &WalletInfo) {
    assert_eq!(
        after.public_key, before.public_key,
        "{}: key",
        after.wallet_id
    );
    assert_eq!(
        after.chain_code, before.chain_code,
        "{}: chain code",
        after.wallet_id
    );
    assert_eq!(after.networks, before.networks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_and_replacing_a_killed_signer_keep_every_key_and_sign() {
    let mut cluster = signers("lifecycle", 4).await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let (nodes, names) = members(&cluster);
    create_wallets(&client, &op, &SchemeId::ALL, &nodes[..3]).await;
    let mut created = Vec::new();
    for s in SchemeId::ALL {
        created.push(wait_ready(&client, &wallet_id(s)).await);
        sign_and_verify(&client, &op, s, &wallet_id(s), "m/1", "before").await;
    }

    // Refresh every wallet; the DKLs23 wallet keeps signing meanwhile: every signature it
    // returns verifies, none is lost.
    let dkls = wallet_id(SchemeId::EcdsaDkls23);
    let (c2, op2, d2) = (
        cluster.client().unwrap(),
        cluster.file.operator().unwrap(),
        dkls.clone(),
    );
    let signing = tokio::spawn(async move {
        let mut signed = 0;
        for i in 0..6 {
            let m = message(SchemeId::EcdsaDkls23, &format!("during {i}"));
            let session = c2.sign(&op2, &d2, "m", &m).await.expect("sign request");
            if let Some(sig) = session.signature {
                let key = c2.derive(&d2, "m").await.unwrap().public_key;
                tessera_cli::verify::verify(SchemeId::EcdsaDkls23, &key, &m, &sig)
                    .expect("a signature made during a refresh verifies");
                signed += 1;
            }
        }
        signed
    });
    for (s, before) in SchemeId::ALL.iter().zip(&created) {
        let (session, elapsed) = run(&cluster.file, &wallet_id(*s), &Change::Refresh, true)
            .await
            .unwrap_or_else(|e| panic!("{} refresh: {e:#}", s.name()));
        assert_eq!(
            (session.kind, session.status),
            (SessionKind::Reshare, SessionStatus::Done)
        );
        eprintln!("{} refresh: {:.2} s", s.name(), elapsed.as_secs_f64());
        let (after, vouched) = client.vouched_wallet(&wallet_id(*s)).await.unwrap();
        same_key(before, &after);
        assert_eq!((after.epoch, after.threshold), (1, 2));
        assert_eq!(after.signers, nodes[..3].to_vec());
        assert_eq!(vouched.by.len(), 3, "every holder attested epoch 1");
        sign_and_verify(&client, &op, *s, &wallet_id(*s), "m/1", "after the refresh").await;
    }
    assert!(
        signing.await.unwrap() > 0,
        "signing went on during the refreshes"
    );

    // Signer 2 dies; signer 3 takes its place in every wallet.
    cluster.kill_signer(2).unwrap();
    wait_linked_exactly(&client, 3).await;
    let replace = Change::ReplaceSigner {
        old: names[2].clone(),
        new: names[3].clone(),
    };
    for (s, before) in SchemeId::ALL.iter().zip(&created) {
        let (_, elapsed) = run(&cluster.file, &wallet_id(*s), &replace, true)
            .await
            .unwrap_or_else(|e| panic!("{} replace: {e:#}", s.name()));
        eprintln!(
            "{} replace-signer: {:.2} s",
            s.name(),
            elapsed.as_secs_f64()
        );
        let (after, _) = client.vouched_wallet(&wallet_id(*s)).await.unwrap();
        same_key(before, &after);
        assert_eq!(after.epoch, 2);
        assert_eq!(after.signers, vec![nodes[0], nodes[1], nodes[3]]);
        if *s != SchemeId::EcdsaDkls23 {
            // The presignature pool refills among the new holders (it once kept presigning
            // with the roster it started with, which the signers refused).
            wait_pool(&client, &wallet_id(*s), 1).await;
        }
    }

    // With signer 1 gone too, only the replacement and signer 0 remain: they sign together.
    cluster.kill_signer(1).unwrap();
    wait_linked_exactly(&client, 2).await;
    for s in SchemeId::ALL {
        sign_and_verify(&client, &op, s, &wallet_id(s), "m/1", "replacement signs").await;
    }
}

/// 2-of-3 becomes 3-of-5 (after a replacement, so a former holder joins again): the key and
/// addresses are unchanged, two holders can no longer sign, and three of the five — two of
/// them new — sign together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_becomes_three_of_five() {
    let mut cluster = signers("reshare-3-of-5", 5).await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let (nodes, names) = members(&cluster);
    let schemes = [
        SchemeId::EcdsaDkls23,
        SchemeId::Ed25519,
        SchemeId::EcdsaCggmp24,
    ];
    create_wallets(&client, &op, &schemes, &nodes[..3]).await;
    let reshare = Change::Reshare {
        threshold: 3,
        signers: names.clone(),
    };
    // Signer 3 first hands its place to signer 4, so the 3-of-5 set takes back a signer that
    // still holds a share of an older epoch (it joins again; that share plays no part).
    let replace = Change::ReplaceSigner {
        old: names[2].clone(),
        new: names[3].clone(),
    };
    for s in schemes {
        let before = wait_ready(&client, &wallet_id(s)).await;
        run(&cluster.file, &wallet_id(s), &replace, true)
            .await
            .unwrap_or_else(|e| panic!("{} replace: {e:#}", s.name()));
        let (_, elapsed) = run(&cluster.file, &wallet_id(s), &reshare, true)
            .await
            .unwrap_or_else(|e| panic!("{} reshare: {e:#}", s.name()));
        eprintln!(
            "{} reshare 2-of-3 -> 3-of-5: {:.2} s",
            s.name(),
            elapsed.as_secs_f64()
        );
        let (after, vouched) = client.vouched_wallet(&wallet_id(s)).await.unwrap();
        same_key(&before, &after);
        assert_eq!((after.epoch, after.threshold), (2, 3));
        assert_eq!(after.signers, nodes);
        assert_eq!(vouched.by.len(), 5);
    }
    // Holders 0 and 1 die: signers 2, 3 and 4 (two of them new) are exactly the threshold.
    cluster.kill_signer(0).unwrap();
    cluster.kill_signer(1).unwrap();
    wait_linked_exactly(&client, 3).await;
    for s in schemes {
        sign_and_verify(&client, &op, s, &wallet_id(s), "m/2", "three of five").await;
    }
    // One more dies: two holders are below the new threshold and sign nothing.
    cluster.kill_signer(2).unwrap();
    wait_linked_exactly(&client, 2).await;
    let m = message(SchemeId::Ed25519, "two of five");
    let session = client
        .sign(&op, &wallet_id(SchemeId::Ed25519), "m", &m)
        .await;
    let signed = session
        .as_ref()
        .map(|s| s.signature.is_some())
        .unwrap_or(false);
    assert!(!signed, "two holders of a 3-of-5 key signed: {session:?}");
}

/// `tessera wallet refresh --all --every`: each round refreshes every ready wallet; a wallet
/// whose holder is down fails and is reported while the others are refreshed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_refresh_renews_every_wallet_and_reports_failures() {
    use tessera_cli::refresh_schedule::{run_schedule, Selection};
    let mut cluster = signers("refresh-schedule", 4).await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let (nodes, _) = members(&cluster);
    let (a, b) = (
        wallet_id(SchemeId::SchnorrBip340),
        wallet_id(SchemeId::Ed25519),
    );
    create_wallets(&client, &op, &[SchemeId::SchnorrBip340], &nodes[..3]).await;
    let holders_b = vec![nodes[0], nodes[1], nodes[3]];
    create_wallets(&client, &op, &[SchemeId::Ed25519], &holders_b).await;
    let (before_a, before_b) = (wait_ready(&client, &a).await, wait_ready(&client, &b).await);

    let mut seen = Vec::new();
    let every = std::time::Duration::from_secs(1);
    let failed = run_schedule(&cluster.file, &Selection::All, every, Some(2), |r| {
        seen.push(
            r.iter()
                .map(|x| (x.wallet_id.clone(), x.result.clone()))
                .collect::<Vec<_>>(),
        )
    })
    .await
    .unwrap();
    assert_eq!(failed, 0);
    assert_eq!(seen.len(), 2);
    for (round, results) in seen.iter().enumerate() {
        let epoch = round as u32 + 1;
        assert_eq!(results.len(), 2, "{results:?}");
        assert!(results.contains(&(a.clone(), Ok(epoch))), "{results:?}");
        assert!(results.contains(&(b.clone(), Ok(epoch))), "{results:?}");
    }
    same_key(&before_a, &client.wallet(&a).await.unwrap());
    same_key(&before_b, &client.wallet(&b).await.unwrap());

    // Signer 3 (a holder of b only) is down: b fails and is reported, a is refreshed.
    cluster.kill_signer(3).unwrap();
    wait_linked_exactly(&client, 3).await;
    let mut last = Vec::new();
    let failed = run_schedule(&cluster.file, &Selection::All, every, Some(1), |r| {
        last = r
            .iter()
            .map(|x| (x.wallet_id.clone(), x.result.clone()))
            .collect()
    })
    .await
    .unwrap();
    assert_eq!(failed, 1, "{last:?}");
    assert!(last.contains(&(a.clone(), Ok(3))), "{last:?}");
    assert!(last.iter().any(|(w, r)| *w == b && r.is_err()), "{last:?}");
    assert_eq!(client.wallet(&b).await.unwrap().epoch, 2);
    sign_and_verify(
        &client,
        &op,
        SchemeId::SchnorrBip340,
        &a,
        "m/3",
        "scheduled",
    )
    .await;
    sign_and_verify(&client, &op, SchemeId::Ed25519, &b, "m/3", "b still signs").await;
}

/// `tessera incident quarantine` then `rotate`: once the admins' bundle names signer 2, the
/// coordinator leaves it out of every signature and refuses it a new share; rotating hands its
/// place in every wallet to signer 3 (same key, epoch up), after which the wallets sign
/// without it. (That the signers themselves refuse a session it takes part in is
/// `a_quarantined_signer_takes_part_in_nothing` in tessera-node's malicious-coordinator suite.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_signer_is_left_out_then_rotated_away() {
    use tessera_cli::incident::{quarantine, rotate};
    let cluster = signers("incident", 4).await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let (nodes, names) = members(&cluster);
    let schemes = [
        SchemeId::EcdsaDkls23,
        SchemeId::SchnorrBip340,
        SchemeId::Ed25519,
    ];
    create_wallets(&client, &op, &schemes, &nodes[..3]).await;
    let mut before = Vec::new();
    for s in schemes {
        before.push(wait_ready(&client, &wallet_id(s)).await);
    }

    let admin = cluster.file.admin().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (signed, _) = quarantine(&cluster.file, &names[2], false, &[admin], now)
        .await
        .unwrap();
    cluster
        .wait_policy(&client, signed.bundle.version, 4)
        .await
        .unwrap();
    for s in schemes {
        for i in 0..3 {
            let text = format!("quarantined {i}");
            let session = sign_and_verify(&client, &op, s, &wallet_id(s), "m/1", &text).await;
            let info = client.session(&session, None).await.unwrap();
            assert!(
                !info.participants.contains(&nodes[2]),
                "{}: the quarantined signer took part: {info:?}",
                s.name()
            );
        }
    }
    let refused = client
        .create_wallet(
            &op,
            "w-q",
            "q",
            SchemeId::Ed25519,
            2,
            nodes[1..].to_vec(),
            NETWORKS,
        )
        .await;
    let why = refused
        .expect_err("a quarantined signer got a new share")
        .to_string();
    assert!(why.contains("quarantined"), "{why}");

    let mut seen = Vec::new();
    let (results, total) = rotate(&cluster.file, &names[2], Some(&names[3]), |r| {
        seen.push(r.wallet_id.clone())
    })
    .await
    .unwrap();
    eprintln!(
        "rotated {} wallets in {:.2} s",
        results.len(),
        total.as_secs_f64()
    );
    assert_eq!(results.len(), schemes.len());
    assert_eq!(seen.len(), schemes.len());
    for (s, b) in schemes.iter().zip(&before) {
        let r = results
            .iter()
            .find(|r| r.wallet_id == wallet_id(*s))
            .unwrap();
        assert_eq!(r.result, Ok(1), "{}", s.name());
        let (after, vouched) = client.vouched_wallet(&wallet_id(*s)).await.unwrap();
        same_key(b, &after);
        assert_eq!(after.signers, vec![nodes[0], nodes[1], nodes[3]]);
        assert_eq!(vouched.by.len(), 3);
        sign_and_verify(&client, &op, *s, &wallet_id(*s), "m/2", "rotated").await;
    }
    // Nothing is left to rotate away from it.
    let (again, _) = rotate(&cluster.file, &names[2], Some(&names[3]), |_| {})
        .await
        .unwrap();
    assert!(again.is_empty());
}

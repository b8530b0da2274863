//! Fault tolerance of a 2-of-3 cluster of real processes: signers killed with SIGKILL and
//! restarted.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tessera_crypto::SchemeId;
use tessera_proto::api::{SessionStatus, WalletStatus};

/// One signer down: signing continues. Two down: a typed `not_enough_signers` failure that loses
/// nothing. Both back: they rejoin with their shares (proved by killing the third one) and
/// signatures verify under the same public keys as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signers_killed_and_restarted_keep_the_wallets_signing() {
    let mut cluster = cluster("faults", "info").await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let signers: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    let schemes = [SchemeId::EcdsaDkls23, SchemeId::Ed25519];
    for s in schemes {
        client
            .create_wallet(
                &op,
                &wallet_id(s),
                "faults",
                s,
                2,
                signers.clone(),
                NETWORKS,
            )
            .await
            .expect("create wallet");
    }
    let mut keys = Vec::new();
    for s in schemes {
        let w = wait_ready(&client, &wallet_id(s)).await;
        keys.push(w.public_key.clone().expect("public key"));
    }
    let mut earlier = Vec::new();
    for s in schemes {
        earlier.push(sign_and_verify(&client, &op, s, &wallet_id(s), "m", "all up").await);
    }

    let m = client.mode_status().await.unwrap();
    assert_eq!(
        (m.mode.as_str(), m.recommended.as_str()),
        ("normal", "normal")
    );
    assert_eq!((m.signers_healthy.len(), m.wallets_total), (3, 2));

    // One signer killed: the other two sign, at the root and at a derived key. Both wallets
    // have no spare signer left: signer health recommends degraded mode, which only admins
    // can enter (the mode in force stays normal).
    cluster.kill_signer(0).unwrap();
    wait_linked_exactly(&client, 2).await;
    let m = wait_recommended(&client, "degraded").await;
    assert_eq!(m.mode, "normal");
    assert_eq!(m.wallets_below_margin_count, 2);
    assert!(m.wallets_below_margin.iter().all(|w| {
        (w.healthy, w.threshold, w.state) == (2, 2, tessera_proto::api::GroupHealth::BelowMargin)
    }));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["mode", "status"])
        .env("TESSERA_CLUSTER", &cluster.dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("recommended  degraded: enter degraded mode"),
        "{text}"
    );
    assert!(text.contains("2 of 3 healthy"), "{text}");
    for s in schemes {
        for path in ["m", "m/7"] {
            let sid = sign_and_verify(&client, &op, s, &wallet_id(s), path, "one down").await;
            let session = client.session(&sid, None).await.unwrap();
            assert!(
                !session.participants.contains(&signers[0]),
                "a killed signer took part"
            );
            earlier.push(sid);
        }
    }

    // Two killed: a clear, typed failure.
    cluster.kill_signer(1).unwrap();
    wait_linked_exactly(&client, 1).await;
    let mut failed = Vec::new();
    for s in schemes {
        let m = message(s, "two down");
        let session = client
            .sign(&op, &wallet_id(s), "m", &m)
            .await
            .expect("the request is accepted and recorded");
        assert_eq!(session.status, SessionStatus::Failed, "{}", s.name());
        assert!(session.signature.is_none());
        let err = session.error.expect("a failed session carries an error");
        assert_eq!(
            err.code.as_str(),
            "not_enough_signers",
            "{}: {}",
            s.name(),
            err.message
        );
        failed.push(session.session_id);
    }
    // Nothing lost: wallets, their keys and every earlier session are still there.
    let wallets = client.wallets().await.unwrap();
    for (s, key) in schemes.iter().zip(&keys) {
        let w = wallets
            .iter()
            .find(|w| w.wallet_id == wallet_id(*s))
            .expect("wallet still listed");
        assert_eq!(w.status, WalletStatus::Ready);
        assert_eq!(w.public_key.as_ref(), Some(key));
    }
    let sessions = client.sessions(1000).await.unwrap();
    for id in &earlier {
        let s = sessions
            .iter()
            .find(|s| &s.session_id == id)
            .unwrap_or_else(|| panic!("session {id} lost"));
        assert_eq!(s.status, SessionStatus::Done);
        assert!(s.signature.is_some());
    }
    for id in &failed {
        let s = sessions
            .iter()
            .find(|s| &s.session_id == id)
            .unwrap_or_else(|| panic!("failed session {id} not listed"));
        assert_eq!(
            s.error.as_ref().map(|e| e.code.as_str()),
            Some("not_enough_signers")
        );
    }

    // Both restarted: they reopen their vaults (key file) and link again.
    let m = client.mode_status().await.unwrap();
    assert!(m
        .wallets_below_margin
        .iter()
        .all(|w| w.state == tessera_proto::api::GroupHealth::Unavailable && w.healthy == 1));
    cluster.start_signer(0).unwrap();
    cluster.start_signer(1).unwrap();
    cluster.wait_connected(&client, 3).await.unwrap();
    let m = wait_recommended(&client, "normal").await;
    assert_eq!(m.wallets_below_margin_count, 0);
    // Take the survivor away, so the two restarted signers must sign together with the shares
    // they reloaded from their vaults.
    cluster.kill_signer(2).unwrap();
    wait_linked_exactly(&client, 2).await;
    for (s, key) in schemes.iter().zip(&keys) {
        for path in ["m", "m/7"] {
            let sid = sign_and_verify(&client, &op, *s, &wallet_id(*s), path, "restarted").await;
            let session = client.session(&sid, None).await.unwrap();
            assert_eq!(session.participants, vec![signers[0], signers[1]]);
        }
        let w = client.wallet(&wallet_id(*s)).await.unwrap();
        assert_eq!(w.public_key.as_ref(), Some(key), "the wallet key changed");
        // The root signature verifies under the key recorded before any fault.
        let m = message(*s, "same key");
        let session = client.sign(&op, &wallet_id(*s), "m", &m).await.unwrap();
        tessera_cli::verify::verify(*s, key, &m, &session.signature.expect("signature"))
            .expect("verifies under the original public key");
    }

    // Signer 2 stays down: health recommends degraded mode. The admin turns the recommendation
    // into a signed change (propose, sign, push); every linked signer enters degraded mode and
    // applies the policy's degraded rules (local-dev: messages no longer sign).
    let m = wait_recommended(&client, "degraded").await;
    assert_eq!(m.mode, "normal");
    let dir = &cluster.dir;
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .env("TESSERA_CLUSTER", dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tessera {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let proposal = dir.join("degraded.json");
    cli(&[
        "mode",
        "propose",
        "recommended",
        "--minutes",
        "30",
        "--out",
        proposal.to_str().unwrap(),
    ]);
    let unsigned: tessera_policy::ModeChange =
        serde_json::from_slice(&std::fs::read(&proposal).unwrap()).unwrap();
    assert_eq!(unsigned.mode, tessera_policy::Mode::Degraded);
    assert!(
        unsigned.reason.starts_with("enter degraded mode"),
        "{}",
        unsigned.reason
    );
    assert!(unsigned.admin_signatures.is_empty());
    // Unsigned, the coordinator refuses it.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["mode", "push", proposal.to_str().unwrap()])
        .env("TESSERA_CLUSTER", dir)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("mode_invalid"));
    let signed = cli(&[
        "mode",
        "sign",
        proposal.to_str().unwrap(),
        "--key",
        cluster.file.admin_key_file.to_str().unwrap(),
    ]);
    let signed_file = dir.join("degraded.signed.json");
    std::fs::write(&signed_file, signed).unwrap();
    cli(&["mode", "push", signed_file.to_str().unwrap()]);
    let start = std::time::Instant::now();
    loop {
        let linked: Vec<_> = client
            .signers()
            .await
            .unwrap()
            .into_iter()
            .filter_map(|s| s.status)
            .collect();
        if linked.len() == 2 && linked.iter().all(|st| st.mode == "degraded") {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "signers did not enter degraded mode"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let m = client.mode_status().await.unwrap();
    assert_eq!(
        (m.mode.as_str(), m.recommended.as_str()),
        ("degraded", "degraded")
    );
    let s = schemes[1];
    let session = client
        .sign(&op, &wallet_id(s), "m", &message(s, "degraded"))
        .await
        .unwrap();
    assert_eq!(session.status, SessionStatus::Failed);
    assert_eq!(
        session.error.map(|e| e.code.as_str()),
        Some("policy_denied")
    );
}

fn tessera(cluster: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("TESSERA_CLUSTER", cluster)
        .output()
        .unwrap()
}

/// Gap 5: deposit addresses are vouched for by the signers, not by the coordinator. A
/// coordinator whose store reports another key for a wallet (here another wallet's, as a
/// compromised coordinator would report a key it controls) is caught by the client before it
/// shows an address or authorizes anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_reporting_another_key_is_caught_before_any_address_is_shown() {
    let mut cluster = cluster("vouch", "info").await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let signers: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    for id in ["w-vouched", "w-other"] {
        client
            .create_wallet(&op, id, id, SchemeId::Ed25519, 2, signers.clone(), NETWORKS)
            .await
            .expect("create wallet");
    }
    wait_ready(&client, "w-vouched").await;
    let other = wait_ready(&client, "w-other").await;

    let args = [
        "wallet",
        "address",
        "w-vouched",
        "--chain",
        "solana",
        "--network",
        "devnet",
    ];
    let out = tessera(&cluster.dir, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("vouched for by 3 of 3 signers"), "{stderr}");
    let honest_address = String::from_utf8_lossy(&out.stdout).trim().to_string();

    // Every signer's own signed view of its policy, verified by the CLI.
    let out = tessera(&cluster.dir, &["signer", "status"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("policy v1 (").count(), 3, "{stdout}");
    assert_eq!(
        stdout.matches("(signed by the signer)").count(),
        3,
        "{stdout}"
    );
    // An admin-signed refresh reaches every signer.
    let out = tessera(&cluster.dir, &["policy", "refresh"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The coordinator now reports w-other's key as w-vouched's.
    cluster.kill_coordinator().unwrap();
    let db = cluster.dir.join("coordinator/coordinator.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let body: String = conn
            .query_row(
                "SELECT body FROM wallets WHERE wallet_id = 'w-vouched'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let mut w: serde_json::Value = serde_json::from_str(&body).unwrap();
        w["public_key"] = serde_json::to_value(other.public_key.clone().unwrap()).unwrap();
        w["chain_code"] = other.chain_code.clone().unwrap().into();
        conn.execute(
            "UPDATE wallets SET body = ?1 WHERE wallet_id = 'w-vouched'",
            [w.to_string()],
        )
        .unwrap();
    }
    cluster.start_coordinator().unwrap();
    cluster.wait_healthy(&client).await.unwrap();
    assert_eq!(
        client.wallet("w-vouched").await.unwrap().public_key,
        other.public_key,
        "the coordinator reports the swapped key"
    );

    for args in [&args[..], &["wallet", "show", "w-vouched"][..]] {
        let out = tessera(&cluster.dir, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(
            stderr.contains("attestation does not match the wallet as reported"),
            "{stderr}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains(&honest_address));
    }
    // Nothing gets authorized against the swapped key either.
    let input = tessera_proto::api::PayloadInput::Builder {
        spec: serde_json::json!({
            "recent_blockhash": "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N",
            "transfers": [{"to": honest_address, "lamports": 1}]
        }),
    };
    let err = client
        .parse_local("w-vouched", "solana", "devnet", "m", &input)
        .await
        .unwrap_err();
    assert!(
        matches!(err, tessera_client::ClientError::Vouch { .. }),
        "{err}"
    );
    cluster.stop();
}

/// Gap 4: signers link to several coordinators and take policy and mode from any of them, so a
/// coordinator that keeps a lockdown back does not keep them signing. The admins deliver the
/// lockdown through a second coordinator; the first still reports `normal`, yet every request
/// it sends is refused (`mode_restricted`), and each signer's own signed view — fetched through
/// the first coordinator — says `lockdown`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockdown_withheld_by_one_coordinator_arrives_through_another() {
    let mut cluster = cluster("standby", "info").await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let signers: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    let s = SchemeId::Ed25519;
    client
        .create_wallet(&op, &wallet_id(s), "standby", s, 2, signers, NETWORKS)
        .await
        .expect("create wallet");
    wait_ready(&client, &wallet_id(s)).await;

    // A second coordinator; every signer is enrolled there and restarted linked to both.
    let url = cluster.start_standby_coordinator().unwrap();
    let mut file_b = cluster.file.clone();
    file_b.url = url;
    let b = file_b.client().unwrap();
    let start = std::time::Instant::now();
    while !b.healthy().await {
        assert!(
            start.elapsed().as_secs() < 30,
            "the second coordinator starts"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for i in 0..3 {
        cluster.kill_signer(i).unwrap();
        let sig = &cluster.file.signers[i];
        let unlock = tessera_cli::daemon::UnlockSpec::KeyFile(sig.dir.join("vault.key"));
        let id = tessera_cli::daemon::signer_identity(&sig.dir, &unlock).unwrap();
        b.enroll(&sig.name, id)
            .await
            .expect("enrol at the second coordinator");
        cluster.start_signer(i).unwrap();
    }
    wait_linked_exactly(&client, 3).await;
    wait_linked_exactly(&b, 3).await;
    sign_and_verify(&client, &op, s, &wallet_id(s), "m", "before the lockdown").await;

    // The admins give the second coordinator the bundle in force and a lockdown.
    let admin = cluster.file.admin().unwrap();
    b.put_policy(&client.policy_bundle().await.unwrap())
        .await
        .expect("bundle at B");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lockdown = tessera_cli::governance::mode_change(
        tessera_cli::governance::LOCAL_TENANT,
        now,
        tessera_policy::Mode::Lockdown,
        "incident",
        now,
        600,
        &[admin],
    );
    b.put_mode(&lockdown).await.expect("lockdown at B");

    // The first coordinator never got it...
    assert_eq!(client.mode_status().await.unwrap().mode, "normal");
    // ...yet each signer says, signed, through it, that it is in lockdown...
    for sig in &cluster.file.signers {
        let start = std::time::Instant::now();
        loop {
            let view = client.signer_view(&sig.node_id).await.expect("signed view");
            if view.view.mode == "lockdown" {
                break;
            }
            assert!(
                start.elapsed().as_secs() < 30,
                "{} stays {}",
                sig.name,
                view.view.mode
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    // ...and refuses what it sends.
    let m = message(s, "during the lockdown");
    let session = client
        .sign(&op, &wallet_id(s), "m", &m)
        .await
        .expect("request");
    assert_eq!(session.status, SessionStatus::Failed, "{session:?}");
    let code = session
        .error
        .as_ref()
        .map(|e| e.code.as_str())
        .unwrap_or_default();
    assert_eq!(code, "mode_restricted", "{session:?}");
    cluster.stop();
}

/// Velocity rules through real processes: each signing session (presigned while the wallet's
/// nonce pool lasts, full after) runs the co-signers' velocity exchange through the real
/// coordinator and signs what is within the limit; past the limit nothing signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_under_a_velocity_limit_sign_through_the_exchange() {
    let cluster = cluster("velocity", "info").await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let signers: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    let s = SchemeId::Ed25519;
    let id = wallet_id(s);
    client
        .create_wallet(&op, &id, "velocity", s, 2, signers, NETWORKS)
        .await
        .expect("create wallet");
    wait_ready(&client, &id).await;
    wait_pool(&client, &id, 1).await;

    // Bundle 2: local-dev plus 1 SOL a day on Solana devnet.
    let admin = cluster.file.admin().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut bundle = tessera_cli::governance::local_dev_bundle(
        2,
        tessera_policy::PublicKey(op.public().0),
        cluster.file.approver().unwrap().public(),
        admin.public(),
        now,
    )
    .unwrap();
    bundle.velocity.insert(
        "sol-per-day".into(),
        tessera_policy::VelocityRule {
            wallet: None,
            asset: "solana:devnet:native".parse().unwrap(),
            window_s: 86_400,
            // 1 SOL plus two transfers' fees (5,000 lamports each), which count too.
            limit: tessera_policy::VelocityLimit::Amount(tessera_policy::BaseUnits::from_u128(
                1_000_010_000,
            )),
        },
    );
    let signed = tessera_cli::governance::sign_bundle(bundle, &[admin]);
    client.put_policy(&signed).await.expect("bundle 2");
    cluster.wait_policy(&client, 2, 3).await.unwrap();

    let (w, key, _) = client.vouched_key(&id, "m/1").await.unwrap();
    let dest = tessera_cli::vouch::address(&w, &key, "solana", "devnet").unwrap();
    let target = tessera_cli::tx::Target {
        wallet: id.clone(),
        chain: "solana".into(),
        network: "devnet".into(),
        path: "m".into(),
    };
    let transfer = tessera_proto::api::PayloadInput::Builder {
        spec: serde_json::json!({
            "recent_blockhash": "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N",
            "transfers": [{"to": dest, "lamports": 500_000_000u64}]
        }),
    };
    for i in 0..2 {
        let t = tessera_cli::tx::sign(&client, &op, &target, &transfer)
            .await
            .unwrap();
        assert!(
            t.signed.is_some(),
            "transfer {i}: {:?} {:?}",
            t.state,
            t.error
        );
    }
    let err = tessera_cli::tx::sign(&client, &op, &target, &transfer)
        .await
        .expect_err("a third 0.5 SOL signed past 1 SOL a day");
    assert!(format!("{err:#}").contains("velocity_exceeded"), "{err:#}");
}

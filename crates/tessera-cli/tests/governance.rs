//! Policy, approvals, operating modes and the audit log through real processes and the
//! `tessera` command line: a request above the tier waits for an approver, `tessera approve`
//! gets it signed, `tessera reject` ends another, lockdown stops signing until lifted, a policy
//! update reaches every signer, and `tessera audit verify` catches an edited, deleted or
//! reordered entry.

#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use serde_json::json;
use tessera_cli::tx::Target;
use tessera_crypto::SchemeId;
use tessera_proto::api::{PayloadInput, RequestState};

fn tessera(cluster: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("TESSERA_CLUSTER", cluster)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "tessera failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn usdc_transfer(nonce: u64, units: &str) -> PayloadInput {
    PayloadInput::Builder {
        spec: json!({
            "type": "eip1559",
            "nonce": nonce,
            "gas_limit": 65000,
            "max_fee_per_gas_wei": "30000000000",
            "max_priority_fee_per_gas_wei": "1000000000",
            "erc20_transfer": {
                "token": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
                "to": "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
                "amount": units
            }
        }),
    }
}

fn eth_transfer(nonce: u64) -> PayloadInput {
    PayloadInput::Builder {
        spec: json!({
            "type": "eip1559",
            "nonce": nonce,
            "to": "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
            "value_wei": "1000000000000000",
            "gas_limit": 21000,
            "max_fee_per_gas_wei": "30000000000",
            "max_priority_fee_per_gas_wei": "1000000000"
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_modes_policy_updates_and_audit_through_the_cli() {
    let cluster = cluster("governance", "info").await;
    let dir = cluster.dir.clone();
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let signers: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    let id = wallet_id(SchemeId::EcdsaDkls23);
    client
        .create_wallet(&op, &id, "gov", SchemeId::EcdsaDkls23, 2, signers)
        .await
        .unwrap();
    wait_ready(&client, &id).await;
    let target = Target {
        wallet: id.clone(),
        chain: "ethereum".into(),
        network: "mainnet".into(),
        path: "m".into(),
    };
    let sign = |input: PayloadInput| {
        let (client, op, target) = (&client, &op, &target);
        async move { tessera_cli::tx::sign(client, op, target, &input).await }
    };

    // 1. Above the tier: awaiting one approver; listed; `tessera approve` gets it signed.
    let t = sign(usdc_transfer(0, "5000000000")).await.unwrap();
    assert_eq!(t.state, RequestState::AwaitingApprovals);
    assert!(t.signed.is_none() && t.signatures.is_empty());
    let policy = t.policy.clone().unwrap();
    assert_eq!(policy.decision, "allow_with_approvals");
    assert_eq!(
        policy.policy_ids,
        vec!["dev-large-token-transfer".to_string()]
    );
    assert_eq!(policy.quorum.len(), 1);
    assert_eq!(
        (policy.quorum[0].role.as_str(), policy.quorum[0].count),
        ("approver", 1)
    );
    let listed = ok(&tessera(
        &dir,
        &["requests", "--state", "awaiting_approvals"],
    ));
    assert!(listed.contains(&t.request_id), "{listed}");
    assert!(
        listed.contains("5000 USDC") || listed.contains("5,000 USDC"),
        "{listed}"
    );
    ok(&tessera(&dir, &["approve", &t.request_id]));
    let done = client
        .transaction(&id, &t.request_id, Some(60_000))
        .await
        .unwrap();
    assert_eq!(done.state, RequestState::Signed, "{:?}", done.error);
    assert_eq!(done.approvals.len(), 1);
    // Verified with this binary's own adapter against the wallet key (alloy recovery).
    tessera_cli::tx::finish(&client, &target, done)
        .await
        .unwrap();

    // 2. `tessera reject`: the request ends rejected, nothing is signed.
    let r = sign(usdc_transfer(1, "7000000000")).await.unwrap();
    assert_eq!(r.state, RequestState::AwaitingApprovals);
    ok(&tessera(&dir, &["reject", &r.request_id]));
    let r = client.transaction(&id, &r.request_id, None).await.unwrap();
    assert_eq!(r.state, RequestState::Rejected);
    assert!(r.signatures.is_empty() && r.signed.is_none());
    // A second decision on a finished request is refused.
    let again = tessera(&dir, &["approve", &r.request_id]);
    assert!(!again.status.success());

    // 3. Below the tier: signed at once.
    let small = sign(usdc_transfer(2, "10000000")).await.unwrap();
    assert_eq!(small.state, RequestState::Signed);

    // 4. Lockdown: nothing signs, whatever the policy permits; lifting it restores signing.
    ok(&tessera(
        &dir,
        &[
            "mode",
            "set",
            "lockdown",
            "--reason",
            "test: suspected compromise",
            "--minutes",
            "5",
        ],
    ));
    let status = cluster_policy_mode(&client).await;
    assert_eq!(status, "lockdown");
    wait_signers_mode(&client, "lockdown").await;
    let err = sign(eth_transfer(3)).await.unwrap_err().to_string();
    assert!(err.contains("rejected"), "{err}");
    assert!(err.to_lowercase().contains("lockdown"), "{err}");
    ok(&tessera(
        &dir,
        &[
            "mode",
            "set",
            "normal",
            "--reason",
            "test: all clear",
            "--minutes",
            "5",
        ],
    ));
    wait_signers_mode(&client, "normal").await;
    let t = sign(eth_transfer(4)).await.unwrap();
    assert_eq!(t.state, RequestState::Signed);

    // 5. A policy update: version 2 signed by the admin reaches every signer; replaying
    // version 1 is refused.
    let info = client.policy().await.unwrap();
    assert_eq!(info.version, 1);
    let admin = cluster.file.admin().unwrap();
    let approver = cluster.file.approver().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let v2 = tessera_cli::governance::local_dev_bundle(
        2,
        tessera_policy::PublicKey(op.public().0),
        approver.public(),
        admin.public(),
        now,
    )
    .unwrap();
    let unsigned = dir.join("bundle-v2.json");
    std::fs::write(&unsigned, serde_json::to_string(&v2).unwrap()).unwrap();
    let signed_text = ok(&tessera(
        &dir,
        &[
            "policy",
            "sign",
            unsigned.to_str().unwrap(),
            "--key",
            cluster.file.admin_key_file.to_str().unwrap(),
        ],
    ));
    let signed_file = dir.join("bundle-v2.signed.json");
    std::fs::write(&signed_file, &signed_text).unwrap();
    ok(&tessera(
        &dir,
        &["policy", "push", signed_file.to_str().unwrap()],
    ));
    cluster.wait_policy(&client, 2, 3).await.unwrap();
    let v1 = tessera_cli::governance::sign_bundle(
        tessera_cli::governance::local_dev_bundle(
            1,
            tessera_policy::PublicKey(op.public().0),
            approver.public(),
            admin.public(),
            now,
        )
        .unwrap(),
        &[admin],
    );
    assert!(
        client.put_policy(&v1).await.is_err(),
        "an older version is refused"
    );
    assert_eq!(client.policy().await.unwrap().version, 2);

    // 6. The audit log: exported, verified offline; any edit, deletion or reordering is caught.
    let export = dir.join("audit.jsonl");
    let out = ok(&tessera(
        &dir,
        &["audit", "export", "--out", export.to_str().unwrap()],
    ));
    assert!(out.starts_with("ok:"), "{out}");
    let text = std::fs::read_to_string(&export).unwrap();
    for kind in [
        "policy_decision",
        "approval",
        "rejection",
        "signature",
        "policy_change",
        "mode_change",
    ] {
        assert!(
            text.contains(&format!("\"{kind}\"")),
            "no {kind} entry in the audit log"
        );
    }
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 6);
    let tampered = |name: &str, lines: Vec<String>| {
        let p = dir.join(name);
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        tessera(&dir, &["audit", "verify", p.to_str().unwrap()])
    };
    let owned = || lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    let mut edited = owned();
    edited[3] = edited[3].replacen("\"actor\":\"", "\"actor\":\"x", 1);
    assert_ne!(edited[3], lines[3]);
    let mut deleted = owned();
    deleted.remove(3);
    let mut reordered = owned();
    reordered.swap(3, 4);
    for (name, lines) in [
        ("edited", edited),
        ("deleted", deleted),
        ("reordered", reordered),
    ] {
        let out = tampered(name, lines);
        assert!(!out.status.success(), "{name} export verified");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("entry") || err.contains("line"),
            "{name}: {err}"
        );
    }
    assert!(ok(&tessera(
        &dir,
        &["audit", "verify", export.to_str().unwrap()]
    ))
    .starts_with("ok:"));
}

async fn cluster_policy_mode(client: &tessera_client::Client) -> String {
    client.policy().await.unwrap().mode
}

async fn wait_signers_mode(client: &tessera_client::Client, mode: &str) {
    let start = std::time::Instant::now();
    loop {
        let signers = client.signers().await.unwrap();
        if signers
            .iter()
            .all(|s| s.status.as_ref().is_some_and(|st| st.mode == mode))
        {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "signers did not report mode {mode}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

//! Policy, approvals, operating modes and the audit log through real processes and the
//! `tessera` command line: a request above the tier waits for an approver, `tessera approve`
//! gets it signed, `tessera reject` ends another, lockdown stops signing until lifted, a policy
//! update reaches every signer, `tessera audit verify` catches an edited, deleted or
//! reordered entry, and `tessera audit cross-check` matches every signer's own log (fetched
//! through the coordinator, verified against the head each signer signed) with the
//! coordinator's, naming a signature the coordinator's log lacks.

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
        .create_wallet(&op, &id, "gov", SchemeId::EcdsaDkls23, 2, signers, NETWORKS)
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
    // The token leg needs the approver; the ETH leg (the transfer's max fee) is within what an
    // operator signs alone.
    assert_eq!(
        policy.policy_ids,
        vec![
            "dev-large-token-transfer".to_string(),
            "dev-operator-signs".to_string()
        ]
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

    // 7. Signers' own logs. A request the coordinator lets through but the signers refuse (an
    // authorization valid for two hours, longer than a signer accepts): a refusal in their
    // logs and in the coordinator's.
    let refused_id = tessera_client::random_id();
    let m = message(SchemeId::EcdsaDkls23, "long-lived");
    let authorization = tessera_wire::Authorization::sign(
        &op,
        refused_id.clone(),
        tessera_wire::Action::Sign {
            wallet_id: id.clone(),
            path: "m".into(),
            messages: vec![tessera_wire::authorized_message(&m).unwrap()],
        },
        now + 7200,
    );
    let req = tessera_proto::api::SignRequest {
        request_id: refused_id.clone(),
        message: tessera_proto::api::MessageInput::from_sign_message(&m),
        path: "m".into(),
        authorization,
    };
    // Refused by the signers (checked in their logs below), so nothing is signed.
    let answer = client.submit(&id, &req, true).await;
    assert!(
        answer.as_ref().map_or(true, |s| s.signature.is_none()),
        "{answer:?}"
    );

    // Cross-check through the cluster: every export verifies, nothing unmatched.
    let out = ok(&tessera(&dir, &["audit", "cross-check"]));
    assert_eq!(out.matches("ok (signed head)").count(), 3, "{out}");
    assert!(
        !out.contains("UNMATCHED") && !out.contains("FAILED"),
        "{out}"
    );
    for s in &cluster.file.signers {
        let row = out
            .lines()
            .find(|l| l.starts_with(&s.name))
            .unwrap_or_else(|| panic!("no row for {}: {out}", s.name));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[4], "0", "{row}");
        assert_eq!(cols[2], cols[3], "entries = head seq: {row}");
    }

    // Each signer's export: verified against its signed head, written with the head next to
    // it; one that signed and refused is kept for the offline checks.
    let mut kept = None;
    for s in &cluster.file.signers {
        let file = dir.join(format!("{}-audit.jsonl", s.name));
        let node = s.node_id.to_string();
        let out = ok(&tessera(
            &dir,
            &[
                "audit",
                "export",
                "--signer",
                &node,
                "--out",
                file.to_str().unwrap(),
            ],
        ));
        assert!(out.starts_with("ok:"), "{out}");
        let head = tessera_cli::governance::head_file(&file);
        assert!(head.exists());
        assert!(
            ok(&tessera(&dir, &["audit", "verify", file.to_str().unwrap()])).starts_with("ok:")
        );
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with(&format!(
            "{{\"chain_id\":\"signer:{node}\",\"format\":\"tessera-audit/v1\"}}\n"
        )));
        if kept.is_none()
            && text.contains("\"kind\":\"signature\"")
            && text.contains(&format!("\"subject\":\"{refused_id}\""))
        {
            kept = Some((file, head, node, text));
        }
    }
    let (signer_file, head_file, node, signer_text) =
        kept.unwrap_or_else(|| panic!("a signer that signed and refused {refused_id}: {answer:?}"));
    assert!(signer_text.contains("{\"refusal\":{\"other\":\"unauthorized\"}}"));

    // Offline, from files: the coordinator's export now, and the signer's with its head.
    let coord = dir.join("coordinator-now.jsonl");
    ok(&tessera(
        &dir,
        &["audit", "export", "--out", coord.to_str().unwrap()],
    ));
    let offline = |coordinator: &Path, signer: &Path| {
        tessera(
            &dir,
            &[
                "audit",
                "cross-check",
                "--coordinator",
                coordinator.to_str().unwrap(),
                "--signer",
                signer.to_str().unwrap(),
                "--signer-head",
                head_file.to_str().unwrap(),
                "--signer-id",
                &node,
            ],
        )
    };
    let out = ok(&offline(&coord, &signer_file));
    assert!(out.contains("ok (signed head)"), "{out}");

    // A coordinator that removed one signature from its log and recomputed every hash after
    // it (so its export still verifies): the cross-check fails and names the request.
    let coord_text = std::fs::read_to_string(&coord).unwrap();
    let signed: Vec<String> = signer_text
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str::<tessera_audit::Entry>(l).unwrap())
        .filter(|e| e.kind == tessera_audit::EntryKind::Signature)
        .map(|e| e.subject)
        .collect();
    let victim = signed.last().unwrap().clone();
    let mut lines: Vec<String> = coord_text.lines().map(str::to_string).collect();
    let header = lines.remove(0);
    let before = lines.len();
    lines.retain(|l| {
        let e: tessera_audit::Entry = serde_json::from_str(l).unwrap();
        !(e.kind == tessera_audit::EntryKind::Signature && e.subject == victim)
    });
    assert_eq!(
        lines.len(),
        before - 1,
        "one coordinator signature entry for {victim}"
    );
    let chain_id = tessera_audit::verify_export(coord_text.as_bytes())
        .unwrap()
        .chain_id;
    let rewritten = dir.join("coordinator-rewritten.jsonl");
    std::fs::write(
        &rewritten,
        std::iter::once(header)
            .chain(rechain(&chain_id, &lines))
            .map(|l| l + "\n")
            .collect::<String>(),
    )
    .unwrap();
    assert!(ok(&tessera(
        &dir,
        &["audit", "verify", rewritten.to_str().unwrap()]
    ))
    .starts_with("ok:"));
    let out = offline(&rewritten, &signer_file);
    assert!(!out.status.success(), "a missing signature went unnoticed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("UNMATCHED"), "{stdout}");
    assert!(
        stdout.contains(&format!("\"signature\" request {victim}")),
        "{stdout}"
    );

    // A signer export cut short (its last entry dropped): caught against the signed head.
    let mut cut: Vec<&str> = signer_text.lines().collect();
    cut.pop();
    let cut_file = dir.join("signer-cut.jsonl");
    std::fs::write(&cut_file, cut.join("\n") + "\n").unwrap();
    let out = offline(&coord, &cut_file);
    assert!(
        !out.status.success(),
        "a truncated signer export went unnoticed"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAILED") && stdout.contains("truncated"),
        "{stdout}"
    );
}

/// Renumbers `lines` (export entries) from 1 and recomputes every link and hash: a consistent
/// rewrite, as whoever controls a log's file could make.
fn rechain(chain_id: &str, lines: &[String]) -> Vec<String> {
    let mut prev = tessera_audit::genesis_hash(chain_id);
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut e: tessera_audit::Entry = serde_json::from_str(l).unwrap();
            e.seq = i as u64 + 1;
            e.prev_hash = prev;
            e.hash = e.compute_hash().unwrap();
            prev = e.hash;
            e.to_json_line().unwrap()
        })
        .collect()
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

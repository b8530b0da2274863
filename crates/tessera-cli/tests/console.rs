//! The approvals console (`GET /console`) in headless Chromium, driven by
//! `tests/console/approve.mjs` (playwright-core, the system `/usr/bin/chromium`).
//!
//! Both tests are ignored in the workspace run because they need node, chromium and
//! `npm ci` in `tests/console`; `scripts/test` runs them with `--ignored`, and they fail (never
//! pass silently) when any of those is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use tessera_cli::tx::Target;
use tessera_client::Client;
use tessera_crypto::SchemeId;
use tessera_policy::{Approval, ApprovalDecision, SecretKey};
use tessera_proto::api::{PayloadInput, QuorumNeed, RequestInfo, RequestState};

fn console_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/console")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Fails the test, saying what to install, unless node, chromium and playwright-core are there.
fn require_browser_tools() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        matches!(&node, Ok(o) if o.status.success()),
        "node is not installed (.ci/run installs what this test needs): {node:?}"
    );
    assert!(
        chromium().exists(),
        "{} is missing: apt-get install chromium (or set CHROMIUM_PATH)",
        chromium().display()
    );
    let pw = console_dir().join("node_modules/playwright-core/package.json");
    assert!(
        pw.exists(),
        "playwright-core is not installed: run `npm ci` in {}",
        console_dir().display()
    );
}

/// Runs `node approve.mjs <args>` and returns its JSON result; panics with its output unless it
/// succeeded.
fn run_script(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Value {
    require_browser_tools();
    let mut cmd = Command::new("node");
    cmd.current_dir(console_dir())
        .arg("approve.mjs")
        .args(args)
        .env("CHROMIUM_PATH", chromium())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("starting node");
    {
        let mut input = child.stdin.take().unwrap();
        input
            .write_all(stdin.unwrap_or("").as_bytes())
            .expect("writing the script's input");
    }
    let out = child.wait_with_output().expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let result: Option<Value> = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok());
    match result {
        Some(v) if out.status.success() && v["ok"] == true => v,
        _ => panic!(
            "approve.mjs failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        ),
    }
}

/// The page's approval bytes and WebCrypto signatures are exactly those of
/// `tessera_policy::Approval` (Ed25519 is deterministic, so the whole signed approval must
/// match), and its JSON form deserializes as an `Approval`.
#[test]
#[ignore = "needs chromium and playwright-core; scripts/test runs it"]
fn console_signs_exactly_what_rust_signs() {
    let page = format!(
        "file://{}",
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tessera-coordinator/src/console.html")
            .canonicalize()
            .unwrap()
            .display()
    );
    // (request id, intent hash, policy version, decision, expiry, seed)
    type Case = (&'static str, [u8; 32], u64, ApprovalDecision, u64, [u8; 32]);
    let cases: Vec<Case> = vec![
        (
            "0123456789abcdef0123456789abcdef",
            [0xab; 32],
            1,
            ApprovalDecision::Approve,
            1_700_000_600,
            [7; 32],
        ),
        (
            // Multi-byte UTF-8: the length prefix counts bytes, not characters.
            "réq-ü-✓",
            core::array::from_fn(|i| i as u8),
            0x000f_0e0d_0c0b_0a09,
            ApprovalDecision::Reject,
            (1u64 << 53) - 1,
            core::array::from_fn(|i| 255 - i as u8),
        ),
        ("", [0; 32], 0, ApprovalDecision::Approve, 0, [1; 32]),
    ];
    let decision_str = |d: ApprovalDecision| match d {
        ApprovalDecision::Approve => "approve",
        ApprovalDecision::Reject => "reject",
    };
    let input = json!({
        "cases": cases.iter().map(|(id, h, v, d, e, seed)| json!({
            "request_id": id,
            "intent_hash": hex::encode(h),
            "policy_version": v.to_string(),
            "decision": decision_str(*d),
            "expires_at": e.to_string(),
            "seed": hex::encode(seed),
        })).collect::<Vec<_>>()
    });
    let out = run_script(&["--selftest", &page], &[], Some(&input.to_string()));
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    for ((id, h, v, d, e, seed), r) in cases.iter().zip(results) {
        let key = SecretKey::from_seed(seed);
        let want_bytes = Approval::signing_bytes(id, h, *v, *d, *e, &key.public());
        assert_eq!(
            r["bytes_hex"].as_str().unwrap(),
            hex::encode(&want_bytes),
            "bytes for {id:?}"
        );
        let js: Approval = serde_json::from_value(r["approval"].clone())
            .unwrap_or_else(|e| panic!("the page's approval JSON is not an Approval: {e}"));
        assert!(js.signature_valid(), "{id:?}: signature does not verify");
        assert_eq!(js, Approval::sign(&key, id, *h, *v, *d, *e), "{id:?}");
        // The check is not a rubber stamp: a changed field no longer verifies.
        let mut other = js.clone();
        other.expires_at += 1;
        assert!(!other.signature_valid());
    }
}

async fn request_info(client: &Client, id: &str) -> RequestInfo {
    let text = client
        .get_text(&format!("/v1/requests/{id}"))
        .await
        .expect("GET /v1/requests/{id}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad RequestInfo ({e}): {text}"))
}

/// An ERC-20 transfer of 1,500 USDC (above the local-dev policy's 1,000-unit limit) waits for
/// one approver; the approver approves it in the console in headless Chromium (signing with
/// WebCrypto Ed25519); the signers then sign, and the signed transaction recovers to the
/// wallet's address with the Ethereum adapter's independent verifier (libsecp256k1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and playwright-core; scripts/test runs it"]
async fn console_approves_an_erc20_transfer_end_to_end() {
    require_browser_tools();
    let cluster = cluster("console", "info").await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let approver_hex = cluster.file.approver_key_hex().expect("the approver key");
    let approver = cluster.file.approver().unwrap().public();
    let signers: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    let wallet = "t-console";
    client
        .create_wallet(&op, wallet, "console", SchemeId::EcdsaDkls23, 2, signers)
        .await
        .expect("create wallet");
    wait_ready(&client, wallet).await;

    let target = Target {
        wallet: wallet.into(),
        chain: "ethereum".into(),
        network: "mainnet".into(),
        path: "m".into(),
    };
    let registry = tessera_chains::registry();
    let adapter = registry.get("ethereum").unwrap();
    let dest_key = client.derive(wallet, "m/1").await.unwrap().public_key;
    let dest = adapter
        .address(
            "mainnet",
            tessera_chains::WalletKey {
                scheme: SchemeId::EcdsaDkls23,
                public_key: &dest_key,
            },
        )
        .unwrap()
        .address;
    let input = PayloadInput::Builder {
        spec: json!({
            "type": "eip1559",
            "nonce": 3,
            "gas_limit": 65000,
            "max_fee_per_gas_wei": "30000000000",
            "max_priority_fee_per_gas_wei": "1000000000",
            "erc20_transfer": {
                "token": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
                "to": dest,
                "amount": "1500000000"
            }
        }),
    };
    let (payload, parsed) = client
        .parse_local(wallet, "ethereum", "mainnet", "m", &input)
        .await
        .unwrap();
    let req =
        Client::transaction_request(&op, wallet, "ethereum", "mainnet", "m", &payload, &parsed)
            .unwrap();
    let id = req.request_id.clone();
    client
        .submit_transaction(wallet, &req, false)
        .await
        .expect("submit the transfer");

    // The policy holds it for one approver.
    let start = Instant::now();
    let info = loop {
        let info = request_info(&client, &id).await;
        if !matches!(info.state, RequestState::Received | RequestState::Policy) {
            break info;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "policy not evaluated"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(info.state, RequestState::AwaitingApprovals, "{info:?}");
    let policy = info.policy.as_ref().expect("a policy outcome");
    assert_eq!(policy.decision, "allow_with_approvals");
    assert_eq!(
        policy.quorum,
        vec![QuorumNeed {
            role: "approver".into(),
            count: 1
        }]
    );
    assert!(info.approvals.is_empty());
    assert_eq!(info.intent_hash, hex::encode(parsed.intent_hash().unwrap()));
    let pending: Vec<RequestInfo> = serde_json::from_str(
        &client
            .get_text("/v1/requests?state=awaiting_approvals")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(pending.iter().any(|r| r.request_id == id));

    // The approver approves it in the browser (with the approver role's token only); the page
    // waits until it shows "signed".
    let token = cluster
        .file
        .token(tessera_proto::roles::Role::Approver)
        .unwrap();
    let url = format!("{}/console", cluster.file.url);
    let args = [url.clone(), "-".into(), "-".into(), id.clone()];
    let env = [
        ("TESSERA_API_TOKEN".to_string(), token.clone()),
        ("TESSERA_APPROVER_KEY".to_string(), approver_hex.clone()),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_script(&args, &env, None)
    })
    .await
    .unwrap();
    assert_eq!(out["state"], "signed");
    // No script error, CSP violation or failed load in the page.
    assert_eq!(out["console_errors"], json!([]), "{out}");
    assert_eq!(out["approver"], approver.to_hex());
    assert_eq!(out["shown"]["summary"], info.summary.as_str());
    // All three signers are up: normal mode, nothing recommended, no mode banner.
    assert_eq!(out["shown"]["mode"], "normal", "{out}");
    assert_eq!(out["shown"]["mode_recommended"], "normal", "{out}");
    assert_eq!(out["shown"]["mode_banner_hidden"], true, "{out}");
    assert!(out["shown"]["policy"]
        .as_str()
        .unwrap()
        .contains("allow_with_approvals"));

    // Independently: the request is signed with the approver's valid approval, and the signed
    // transaction recovers to the wallet's key.
    let t = client
        .transaction(wallet, &id, Some(30_000))
        .await
        .expect("the transaction");
    assert_eq!(t.state, RequestState::Signed, "{:?}", t.error);
    assert_eq!(t.approvals.len(), 1);
    let a = &t.approvals[0];
    assert_eq!(
        (a.approver, a.decision, a.request_id.as_str()),
        (approver, ApprovalDecision::Approve, id.as_str())
    );
    assert!(a.signature_valid());
    let signed = t.signed.as_ref().expect("a signed transaction");
    tessera_cli::tx::verify_locally(&client, &target, &t, signed)
        .await
        .expect("the signature recovers to the wallet's address");
    let elsewhere = Target {
        path: "m/1".into(),
        ..target.clone()
    };
    assert!(
        tessera_cli::tx::verify_locally(&client, &elsewhere, &t, signed)
            .await
            .is_err(),
        "the verifier must reject another key"
    );
}

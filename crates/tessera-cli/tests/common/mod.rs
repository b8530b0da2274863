//! Shared helpers of the multi-process tests: a local cluster of real `tessera` processes
//! using the test-only fixture primes.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tessera_cli::cluster::{ClusterOptions, LocalCluster};
use tessera_client::Client;
use tessera_crypto::{SchemeId, SignMessage};
use tessera_proto::api::{WalletInfo, WalletStatus};

/// The networks test wallets are bound to: every network the tests sign on (one per chain, so
/// payloads that do not name their network, like EIP-712 typed data, are unambiguous).
pub const NETWORKS: &[&str] = tessera_cli::tx::DEMO_NETWORKS;

pub fn test_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

pub async fn cluster(name: &str, log: &str) -> LocalCluster {
    cluster_of(name, log, 3).await
}

/// As [`cluster`], with `signers` signer processes.
pub async fn cluster_of(name: &str, log: &str, signers: usize) -> LocalCluster {
    let opts = ClusterOptions {
        signers,
        exe: PathBuf::from(env!("CARGO_BIN_EXE_tessera")),
        signer_env: vec![("TESSERA_TEST_FIXTURE_PRIMES".into(), "1".into())],
        log: log.into(),
        // Signer health changes reach `GET /v1/mode` after a second.
        health_grace_secs: 1,
    };
    LocalCluster::start(&test_dir(name), opts)
        .await
        .expect("cluster starts")
}

pub async fn wait_ready(client: &Client, id: &str) -> WalletInfo {
    let start = Instant::now();
    loop {
        let w = client.wallet(id).await.expect("wallet");
        match w.status {
            WalletStatus::Ready => return w,
            WalletStatus::Failed | WalletStatus::Retired => {
                panic!("key generation failed: {:?}", w.error)
            }
            WalletStatus::Creating => {
                assert!(
                    start.elapsed() < Duration::from_secs(300),
                    "keygen timed out"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

pub async fn wait_pool(client: &Client, id: &str, n: u32) {
    let start = Instant::now();
    while client.wallet(id).await.expect("wallet").pool < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "pool did not fill"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A plain message in the scheme's default off-chain message format.
pub fn message(s: SchemeId, text: &str) -> SignMessage {
    tessera_chains::offchain_message(s, None, text.as_bytes()).unwrap()
}

pub fn wallet_id(s: SchemeId) -> String {
    format!("t-{}", s.name().replace(['/', '-'], "_"))
}

/// Waits until exactly `n` of the enrolled signers are linked (after a kill, until the
/// coordinator noticed).
pub async fn wait_linked_exactly(client: &Client, n: usize) {
    let start = Instant::now();
    loop {
        let linked = client
            .signers()
            .await
            .expect("signers")
            .iter()
            .filter(|s| s.connected)
            .count();
        if linked == n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{linked} signers linked, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Signs `text` at `path` and checks the signature with an independent verifier under the
/// wallet's derived key; returns the session id.
pub async fn sign_and_verify(
    client: &Client,
    op: &tessera_wire::OperatorKey,
    s: SchemeId,
    id: &str,
    path: &str,
    text: &str,
) -> String {
    let m = message(s, text);
    let session = client.sign(op, id, path, &m).await.expect("sign request");
    let sig = session
        .signature
        .unwrap_or_else(|| panic!("{}: no signature: {:?}", s.name(), session.error));
    let derived = client.derive(id, path).await.expect("derive");
    tessera_cli::verify::verify(s, &derived.public_key, &m, &sig)
        .unwrap_or_else(|e| panic!("{} at {path}: {e:#}", s.name()));
    assert!(
        tessera_cli::verify::verify(s, &derived.public_key, &message(s, "other"), &sig).is_err()
    );
    session.session_id
}

/// Polls `GET /v1/mode` until signer health recommends `mode` (30 s at most).
pub async fn wait_recommended(client: &Client, mode: &str) -> tessera_proto::api::ModeStatus {
    let start = Instant::now();
    loop {
        let m = client.mode_status().await.expect("mode status");
        if m.recommended == mode {
            return m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the recommendation stayed {:?}: {}",
            m.recommended,
            m.recommendation
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

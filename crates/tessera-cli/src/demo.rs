//! `tessera demo`: a fresh local cluster (3 signers, 2-of-3), one wallet per scheme, signatures
//! at the root key and at a derived key, each checked by an independent verifier, a summary, and
//! a clean shutdown.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use tessera_client::Client;
use tessera_crypto::{SchemeId, SignMessage, Signature};
use tessera_proto::api::{SignPath, WalletStatus};

use crate::cluster::{ClusterOptions, LocalCluster};
use crate::progress::{human, Eta, Progress, Stage};

/// One signature in the demo summary.
#[derive(Debug, Serialize)]
pub struct DemoSignature {
    /// Derivation path.
    pub path: String,
    /// Presigned (one online round) or full protocol.
    pub sign_path: Option<SignPath>,
    /// Request latency through the API.
    pub latency_ms: f64,
    /// Who verified it.
    pub verified_by: &'static str,
    /// The signature (hex, 64 bytes).
    pub signature: String,
}

/// One wallet in the demo summary.
#[derive(Debug, Serialize)]
pub struct DemoWallet {
    /// Scheme.
    pub scheme: SchemeId,
    /// Wallet id.
    pub wallet_id: String,
    /// Group public key (hex).
    pub public_key: String,
    /// Key generation time, seconds (cggmp24 includes fresh Paillier primes and aux info).
    pub keygen_seconds: f64,
    /// Signatures.
    pub signatures: Vec<DemoSignature>,
}

/// The demo summary (`--json`).
#[derive(Debug, Serialize)]
pub struct DemoReport {
    /// Threshold and group size.
    pub group: String,
    /// Wallets.
    pub wallets: Vec<DemoWallet>,
    /// Signed chain transactions, each verified by the chain's own verifier.
    pub transactions: Vec<crate::tx::DemoTransaction>,
    /// Whole run, seconds.
    pub total_seconds: f64,
}

fn verifier(s: SchemeId) -> &'static str {
    match s {
        SchemeId::Ed25519 => "ed25519-dalek verify_strict (Solana off-chain message)",
        SchemeId::SchnorrBip340 => {
            "libsecp256k1 BIP-340, Taproot output key (BIP-322 tagged message hash)"
        }
        _ => "libsecp256k1 ECDSA (EIP-191 personal message)",
    }
}

/// The demo's plain messages: each scheme's default off-chain message format (a Solana
/// off-chain message, BIP-322's tagged hash, an EIP-191 personal message), the only plain
/// messages signers sign.
fn demo_message(s: SchemeId, text: &str) -> Result<SignMessage> {
    Ok(tessera_chains::offchain_message(s, None, text.as_bytes())?)
}

/// Runs the demo; `json` switches the output to JSON (progress still goes to stderr).
pub async fn run(json: bool, keep: Option<PathBuf>) -> Result<DemoReport> {
    let started = Instant::now();
    let dir = match &keep {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("tessera-demo-{}", std::process::id())),
    };
    if keep.is_none() && dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let progress = Progress::stderr();
    let stage = progress.stage("local cluster", None);
    let mut cluster = match LocalCluster::start(&dir, ClusterOptions::default()).await {
        Ok(c) => {
            stage.finish(format!(
                "coordinator + 3 signers (TLS) up in {}",
                dir.display()
            ));
            c
        }
        Err(e) => {
            stage.fail(format!("{e:#}"));
            return Err(e);
        }
    };
    let result = run_in(&cluster, &progress, started).await;
    cluster.stop();
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(report)
}

async fn run_in(
    cluster: &LocalCluster,
    progress: &Progress,
    started: Instant,
) -> Result<DemoReport> {
    let client = cluster.client()?;
    let operator = cluster.file.operator()?;
    let approver = cluster.file.approver()?;
    let signers: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();

    // Start every DKG at once; cggmp24 waits for the signers' fresh Paillier primes.
    let mut pending = Vec::new();
    for s in SchemeId::ALL {
        let id = format!("demo-{}", s.name().replace(['/', '-'], "_"));
        client
            .create_wallet(
                &operator,
                &id,
                &format!("demo {}", s.name()),
                s,
                2,
                signers.clone(),
                crate::tx::DEMO_NETWORKS,
            )
            .await
            .with_context(|| format!("creating the {} wallet", s.name()))?;
        let stage = progress.stage(&format!("key {}", s.name()), None);
        pending.push((s, id, stage));
    }
    let primes_eta = Eta::start();
    let mut ready = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(900);
    while !pending.is_empty() {
        let mut still = Vec::new();
        for (s, id, mut stage) in pending {
            let w = client.wallet(&id).await?;
            match w.status {
                WalletStatus::Ready => {
                    let secs = stage.elapsed();
                    stage.finish("distributed key generation done");
                    ready.push((s, w, secs));
                }
                WalletStatus::Failed | WalletStatus::Retired => {
                    stage.fail("key generation failed");
                    bail!(
                        "{} key generation failed: {}",
                        s.name(),
                        w.error.unwrap_or_default()
                    );
                }
                WalletStatus::Creating => {
                    if s == SchemeId::EcdsaCggmp24 {
                        stage.set_message(primes_message(&client, &primes_eta).await);
                    } else {
                        stage.set_message("distributed key generation…");
                    }
                    still.push((s, id, stage));
                }
            }
        }
        pending = still;
        if Instant::now() > deadline {
            bail!("key generation did not finish in 15 minutes");
        }
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    ready.sort_by_key(|(s, _, _)| SchemeId::ALL.iter().position(|x| x == s));

    let mut wallets = Vec::new();
    let mut stage = progress.stage("signatures", Some(2 * ready.len() as u64));
    for (s, w, keygen_seconds) in ready {
        let mut signatures = Vec::new();
        for path in ["m", "m/0/7"] {
            let message = demo_message(s, &format!("Tessera demo: {} at {path}", s.name()))?;
            let t0 = Instant::now();
            let session = client.sign(&operator, &w.wallet_id, path, &message).await?;
            let latency_ms = t0.elapsed().as_secs_f64() * 1000.0;
            let sig: Signature = match (session.signature, session.error) {
                (Some(sig), _) => sig,
                (None, Some(e)) => bail!("{} signing failed: {}: {}", s.name(), e.code, e.message),
                (None, None) => bail!("{} signing returned no signature", s.name()),
            };
            let derived = client.derive(&w.wallet_id, path).await?;
            crate::verify::verify(s, &derived.public_key, &message, &sig).with_context(|| {
                format!("independent verification of the {} signature", s.name())
            })?;
            stage.step(format!("{} at {path} verified", s.name()));
            signatures.push(DemoSignature {
                path: path.to_string(),
                sign_path: session.sign_path,
                latency_ms,
                verified_by: verifier(s),
                signature: hex::encode(sig.to_bytes()),
            });
        }
        wallets.push(DemoWallet {
            scheme: s,
            wallet_id: w.wallet_id.clone(),
            public_key: w.public_key.map(|k| k.to_hex()).unwrap_or_default(),
            keygen_seconds,
            signatures,
        });
    }
    stage.finish("every signature verified independently");
    let cases = crate::tx::demo_cases();
    let mut stage = progress.stage("transactions", Some(cases.len() as u64));
    let mut transactions = Vec::new();
    for case in cases {
        let Some(w) = wallets.iter().find(|w| w.scheme == case.scheme) else {
            bail!(
                "no {} wallet for the {} transaction",
                case.scheme,
                case.chain
            );
        };
        let tx = crate::tx::run_demo_case(&client, &operator, &approver, &w.wallet_id, &case).await;
        let tx = checked(&mut stage, tx, &format!("{} {}", case.chain, case.scheme))?;
        transactions.push(tx);
    }
    stage.finish("every transaction verified by its chain's verifier");
    Ok(DemoReport {
        group: "2-of-3".into(),
        wallets,
        transactions,
        total_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Marks a transaction step done, or fails the stage with the error before passing it on.
fn checked<T>(stage: &mut Stage, r: Result<T>, what: &str) -> Result<T> {
    match r {
        Ok(v) => {
            stage.step(format!("{what} signed and verified"));
            Ok(v)
        }
        Err(e) => {
            stage.set_message(format!("{what} failed: {e:#}"));
            Err(e)
        }
    }
}

/// Each signer's Paillier prime progress and, once some is made, the time the slowest signer
/// still needs at the rate seen so far (safe-prime search time varies widely, so it is rough).
async fn primes_message(client: &Client, eta: &Eta) -> String {
    let Ok(list) = client.signers().await else {
        return "waiting for Paillier primes…".into();
    };
    let mut slowest: Option<f64> = None;
    let parts: Vec<String> = list
        .iter()
        .map(|s| match &s.status {
            Some(st) if st.primes_ready > 0 => {
                slowest = Some(slowest.unwrap_or(1.0).min(1.0));
                format!("{} ready", s.name)
            }
            Some(st) => {
                let f = f64::from(st.primes_progress) / 100.0;
                slowest = Some(slowest.map_or(f, |x| x.min(f)));
                format!("{} {}%", s.name, st.primes_progress)
            }
            None => format!("{} offline", s.name),
        })
        .collect();
    let remaining = match slowest.and_then(|f| if f >= 1.0 { None } else { eta.remaining(f) }) {
        Some(d) => format!(", primes done in {}", human(d)),
        None if slowest == Some(1.0) => ", primes ready: aux info + DKG".into(),
        None => String::new(),
    };
    format!("fresh Paillier primes: {}{remaining}", parts.join(", "))
}

/// Human-readable summary.
pub fn render(r: &DemoReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\nTessera demo: {} wallets, group {}, {:.1} s in all\n\n",
        r.wallets.len(),
        r.group,
        r.total_seconds
    ));
    for w in &r.wallets {
        out.push_str(&format!(
            "{:<26} key {}…  (DKG {:.1} s)\n",
            w.scheme.name(),
            &w.public_key[..w.public_key.len().min(20)],
            w.keygen_seconds
        ));
        for s in &w.signatures {
            let path = match s.sign_path {
                Some(SignPath::Presigned) => "presigned",
                Some(SignPath::Full) => "full protocol",
                None => "?",
            };
            out.push_str(&format!(
                "    {:<7} {:>8.1} ms  {:<13} verified by {}\n",
                s.path, s.latency_ms, path, s.verified_by
            ));
        }
    }
    if !r.transactions.is_empty() {
        out.push_str("\nTransactions (built, signed through the cluster, verified by each chain's own verifier):\n");
        for t in &r.transactions {
            let approved = match t.approvals {
                0 => String::new(),
                n => format!(", {n} approval(s)"),
            };
            out.push_str(&format!(
                "  {:<26} {:>8.1} ms  {}\n      policy {}{approved}; verified by {}\n",
                t.scheme.name(),
                t.latency_ms,
                t.summary,
                t.policy,
                t.verified_by
            ));
        }
    }
    out.push_str("\nAll signatures verified independently. Cluster stopped.\n");
    out
}

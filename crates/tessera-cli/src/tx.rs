//! Chain transactions from the command line (`tessera tx build|sign|show`) and the demo's
//! transactions: payloads are parsed and authorized **locally** with this binary's own chain
//! adapters, signed by the cluster, then checked again here with each chain's independent
//! verifier (Bitcoin Core's script interpreter, libsecp256k1 sender recovery, the Solana
//! crates with ed25519-dalek).

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use serde_json::{json, Value};
use tessera_chains::{SchemeId, SignedTransaction, WalletKey};
use tessera_client::Client;
use tessera_proto::api::{PayloadInput, RequestState, TransactionInfo};
use tessera_wire::OperatorKey;

/// Where a transaction goes: wallet, chain, network and derivation path.
#[derive(Debug, Clone)]
pub struct Target {
    /// Wallet id.
    pub wallet: String,
    /// Chain adapter id.
    pub chain: String,
    /// Network.
    pub network: String,
    /// Derivation path.
    pub path: String,
}

/// The payload from CLI flags: a builder spec (inline JSON or a file), or raw hex / base64.
pub fn payload_input(
    spec: Option<String>,
    spec_file: Option<std::path::PathBuf>,
    format: Option<String>,
    hex: Option<String>,
    base64: Option<String>,
) -> Result<PayloadInput> {
    let spec_text = match (spec, spec_file) {
        (Some(s), None) => Some(s),
        (None, Some(f)) => {
            Some(std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?)
        }
        (None, None) => None,
        (Some(_), Some(_)) => bail!("give --spec or --spec-file, not both"),
    };
    match (spec_text, hex, base64) {
        (Some(s), None, None) => Ok(PayloadInput::Builder {
            spec: serde_json::from_str(&s).context("the builder spec is not JSON")?,
        }),
        (None, Some(h), None) => Ok(PayloadInput::Hex {
            format: format.ok_or_else(|| anyhow!("--format is needed with --payload-hex"))?,
            data: h,
        }),
        (None, None, Some(b)) => Ok(PayloadInput::Base64 {
            format: format.ok_or_else(|| anyhow!("--format is needed with --payload-base64"))?,
            data: b,
        }),
        _ => bail!("give exactly one of --spec, --spec-file, --payload-hex, --payload-base64"),
    }
}

/// `tessera tx build`: the payload and its intent, parsed locally. Signs nothing.
pub async fn build(client: &Client, target: &Target, input: &PayloadInput) -> Result<Value> {
    let (payload, parsed) = client
        .parse_local(
            &target.wallet,
            &target.chain,
            &target.network,
            &target.path,
            input,
        )
        .await?;
    Ok(json!({
        "summary": parsed.intent.render(),
        "intent_hash": hex::encode(parsed.intent_hash()?),
        "intent": parsed.intent,
        "messages": parsed.messages.len(),
        "payload": payload,
    }))
}

/// `tessera tx sign`: parse locally, authorize the intent hash with `operator`, sign through
/// the cluster, and verify the signed transaction here with the chain's own verifier.
pub async fn sign(
    client: &Client,
    operator: &OperatorKey,
    target: &Target,
    input: &PayloadInput,
) -> Result<TransactionInfo> {
    let t = client
        .sign_transaction(
            operator,
            &target.wallet,
            &target.chain,
            &target.network,
            &target.path,
            input,
        )
        .await?;
    if t.state == RequestState::AwaitingApprovals {
        return Ok(t);
    }
    finish(client, target, t).await
}

/// A finished request: the signed transaction, checked locally; any other end is an error
/// naming the state and the reason (a policy denial names the deciding policies).
pub async fn finish(
    client: &Client,
    target: &Target,
    t: TransactionInfo,
) -> Result<TransactionInfo> {
    let Some(signed) = &t.signed else {
        let reason = t
            .error
            .as_ref()
            .map(|e| format!("{}: {}", e.code, e.message))
            .or_else(|| {
                t.policy.as_ref().map(|p| {
                    format!(
                        "policy v{} {} ({}) {}",
                        p.version,
                        p.decision,
                        p.policy_ids.join(", "),
                        p.reasons.join("; ")
                    )
                })
            })
            .unwrap_or_default();
        bail!(
            "request {} is {}: {reason}",
            t.request_id,
            crate::governance::state_name(t.state)
        );
    };
    verify_locally(client, target, &t, signed).await?;
    Ok(t)
}

/// Approves an awaiting request with `approver`, waits for it to finish (up to 5 minutes) and
/// checks the signed transaction locally.
pub async fn approve_and_finish(
    client: &Client,
    approver: &tessera_policy::SecretKey,
    target: &Target,
    t: TransactionInfo,
) -> Result<TransactionInfo> {
    crate::governance::decide(
        client,
        approver,
        &t.request_id,
        tessera_policy::ApprovalDecision::Approve,
    )
    .await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let t = client
            .transaction(&target.wallet, &t.request_id, Some(10_000))
            .await?;
        if t.state.is_final() {
            return finish(client, target, t).await;
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "request {} still {:?} after 5 minutes",
                t.request_id,
                t.state
            );
        }
    }
}

/// Checks a signed transaction with this binary's own adapter and the wallet key at the path.
pub async fn verify_locally(
    client: &Client,
    target: &Target,
    t: &TransactionInfo,
    signed: &SignedTransaction,
) -> Result<()> {
    let wallet = client.wallet(&target.wallet).await?;
    let key = client
        .derive(&target.wallet, &target.path)
        .await?
        .public_key;
    let registry = tessera_chains::registry();
    let adapter = registry.get(&target.chain)?;
    adapter
        .verify(
            &target.network,
            WalletKey {
                scheme: wallet.scheme,
                public_key: &key,
            },
            &t.payload,
            signed,
        )
        .with_context(|| format!("independent verification of the {} transaction", t.chain))?;
    Ok(())
}

/// Who checks a signed transaction independently.
pub fn verifier(signed: &SignedTransaction) -> &'static str {
    match signed.chain.as_str() {
        // libbitcoinconsensus 25.1 has no Taproot rules: P2TR key-path signatures are checked
        // with libsecp256k1 against the output key over rust-bitcoin's BIP-341 sighash.
        "bitcoin" if signed.details.get("kind").and_then(|k| k.as_str()) == Some("p2tr") => {
            "libsecp256k1 BIP-340 over the BIP-341 sighash (+ Bitcoin Core interpreter)"
        }
        "bitcoin" => "Bitcoin Core script interpreter (libbitcoinconsensus)",
        "ethereum" => "sender recovery with libsecp256k1",
        "solana" => "Solana crates (deserialize) + ed25519-dalek",
        _ => "chain adapter",
    }
}

/// The signed result in the shape `tessera demo --json` promises per chain:
/// Bitcoin `kind`, `signed_tx_hex`, `prevouts`; Ethereum `signed_tx_hex` (`0x`, EIP-2718) and
/// `chain_id`; Solana `signed_tx_base64`.
pub fn signed_fields(signed: &SignedTransaction) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    let d = &signed.details;
    match signed.chain.as_str() {
        "bitcoin" => {
            m.insert("kind".into(), d.get("kind").cloned().unwrap_or(Value::Null));
            m.insert("signed_tx_hex".into(), json!(hex::encode(&signed.bytes)));
            m.insert(
                "prevouts".into(),
                d.get("prevouts").cloned().unwrap_or(json!([])),
            );
        }
        "ethereum" => {
            m.insert(
                "signed_tx_hex".into(),
                json!(format!("0x{}", hex::encode(&signed.bytes))),
            );
            m.insert(
                "chain_id".into(),
                d.get("chain_id").cloned().unwrap_or(Value::Null),
            );
        }
        "solana" => {
            use base64::Engine;
            m.insert(
                "signed_tx_base64".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(&signed.bytes)),
            );
        }
        _ => {
            m.insert("signed_hex".into(), json!(hex::encode(&signed.bytes)));
        }
    }
    m
}

/// One signed transaction of the demo.
#[derive(Debug, Serialize)]
pub struct DemoTransaction {
    /// Chain.
    pub chain: String,
    /// Network.
    pub network: String,
    /// Scheme of the wallet that signed.
    pub scheme: SchemeId,
    /// Wallet id.
    pub wallet_id: String,
    /// The wallet's address that signed.
    pub address: String,
    /// The intent in plain language.
    pub summary: String,
    /// Risk flags of the intent.
    pub risk_flags: Vec<String>,
    /// Transaction id / hash.
    pub txid: Option<String>,
    /// Request latency through the API (every signature of the transaction; with an approval,
    /// the approval round trip included).
    pub latency_ms: f64,
    /// The coordinator's policy decision and the deciding policies.
    pub policy: String,
    /// Approvals given (by the demo's approver key).
    pub approvals: usize,
    /// Who verified it.
    pub verified_by: &'static str,
    /// Chain-specific signed result.
    #[serde(flatten)]
    pub signed: serde_json::Map<String, Value>,
}

/// The networks the demo's (and the signing benchmark's) wallets are bound to: those of
/// [`demo_cases`] (test: `demo_networks_cover_every_demo_case`).
pub const DEMO_NETWORKS: &[&str] = &["bitcoin:regtest", "ethereum:mainnet", "solana:devnet"];

/// One transaction the demo signs: which wallet, which chain, and the builder spec (given the
/// wallet's own address and a destination address).
pub struct DemoCase {
    /// Scheme of the wallet to use.
    pub scheme: SchemeId,
    /// Chain.
    pub chain: &'static str,
    /// Network.
    pub network: &'static str,
    /// Builder spec from (own address, destination address).
    pub spec: fn(&str, &str) -> Value,
}

/// Two coins of the wallet's (synthetic: the demo never broadcasts; P2WPKH inputs carry the
/// transaction that created them) to `dest`, with change.
fn btc_spec(own: &str, dest: &str) -> Value {
    let coin = |sat: u64, tag: u8| {
        // An address the adapter gave for this network always parses; a failure would show
        // as the builder's "inputs[i]: expected a JSON object".
        tessera_chain_bitcoin::synthetic_coin("regtest", own, sat, tag).unwrap_or(Value::Null)
    };
    json!({
        "inputs": [coin(150_000, 1), coin(60_000, 2)],
        "outputs": [
            {"address": dest, "amount_sat": 120_000},
            {"address": own, "amount_sat": 88_590}
        ]
    })
}

fn eth_native_spec(_own: &str, dest: &str) -> Value {
    json!({
        "type": "eip1559",
        "nonce": 0,
        "to": dest,
        "value_wei": "10000000000000000",
        "gas_limit": 21000,
        "max_fee_per_gas_wei": "30000000000",
        "max_priority_fee_per_gas_wei": "1000000000"
    })
}

fn eth_erc20_spec(_own: &str, dest: &str) -> Value {
    json!({
        "type": "eip1559",
        "nonce": 1,
        "gas_limit": 65000,
        "max_fee_per_gas_wei": "30000000000",
        "max_priority_fee_per_gas_wei": "1000000000",
        "erc20_transfer": {
            "token": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
            "to": dest,
            "amount": "2500000000"
        }
    })
}

fn sol_spec(_own: &str, dest: &str) -> Value {
    json!({
        "recent_blockhash": "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N",
        "transfers": [{"to": dest, "lamports": 500_000_000u64}]
    })
}

/// The demo's transactions: BTC P2WPKH with each ECDSA profile, BTC P2TR, an ETH EIP-1559
/// native transfer and an ERC-20 transfer with each ECDSA profile, a SOL transfer. The ERC-20
/// transfers (2,500 USDC) are above the local-dev policy's tier and need one approver.
pub fn demo_cases() -> Vec<DemoCase> {
    let mut v = Vec::new();
    for s in [SchemeId::EcdsaDkls23, SchemeId::EcdsaCggmp24] {
        v.push(DemoCase {
            scheme: s,
            chain: "bitcoin",
            network: "regtest",
            spec: btc_spec,
        });
    }
    v.push(DemoCase {
        scheme: SchemeId::SchnorrBip340,
        chain: "bitcoin",
        network: "regtest",
        spec: btc_spec,
    });
    for s in [SchemeId::EcdsaDkls23, SchemeId::EcdsaCggmp24] {
        v.push(DemoCase {
            scheme: s,
            chain: "ethereum",
            network: "mainnet",
            spec: eth_native_spec,
        });
        v.push(DemoCase {
            scheme: s,
            chain: "ethereum",
            network: "mainnet",
            spec: eth_erc20_spec,
        });
    }
    v.push(DemoCase {
        scheme: SchemeId::Ed25519,
        chain: "solana",
        network: "devnet",
        spec: sol_spec,
    });
    v
}

/// Signs one demo case with `wallet_id` (a wallet of `case.scheme`) and checks it locally.
pub async fn run_demo_case(
    client: &Client,
    operator: &OperatorKey,
    approver: &tessera_policy::SecretKey,
    wallet_id: &str,
    case: &DemoCase,
) -> Result<DemoTransaction> {
    // Both addresses come from the key the signers vouched for, derived here.
    let address_at = |path: &'static str| async move {
        let (wallet, key, _) = client.vouched_key(wallet_id, path).await?;
        crate::vouch::address(&wallet, &key, case.chain, case.network)
    };
    let own = address_at("m").await?;
    let dest = address_at("m/1").await?;
    let target = Target {
        wallet: wallet_id.to_string(),
        chain: case.chain.to_string(),
        network: case.network.to_string(),
        path: "m".to_string(),
    };
    let input = PayloadInput::Builder {
        spec: (case.spec)(&own, &dest),
    };
    let t0 = std::time::Instant::now();
    let context = || format!("{} transaction with the {} wallet", case.chain, case.scheme);
    let mut t = sign(client, operator, &target, &input)
        .await
        .with_context(context)?;
    let policy = t
        .policy
        .as_ref()
        .map(|p| format!("{} ({})", p.decision, p.policy_ids.join(", ")))
        .unwrap_or_default();
    if t.state == RequestState::AwaitingApprovals {
        t = approve_and_finish(client, approver, &target, t)
            .await
            .with_context(context)?;
    }
    let approvals = t.approvals.len();
    let latency_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let signed = t
        .signed
        .as_ref()
        .ok_or_else(|| anyhow!("no signed transaction"))?;
    Ok(DemoTransaction {
        chain: t.chain.clone(),
        network: t.network.clone(),
        scheme: case.scheme,
        wallet_id: wallet_id.to_string(),
        address: t.address.clone(),
        summary: t.summary.clone(),
        risk_flags: t.intent.risk_flags.iter().map(|f| f.name()).collect(),
        txid: signed.txid.clone(),
        latency_ms,
        policy,
        approvals,
        verified_by: verifier(signed),
        signed: signed_fields(signed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_networks_cover_every_demo_case() {
        for case in demo_cases() {
            let key = tessera_wire::network_key(case.chain, case.network);
            assert!(DEMO_NETWORKS.contains(&key.as_str()), "{key}");
        }
        let mut sorted = DEMO_NETWORKS.to_vec();
        sorted.sort();
        assert_eq!(
            sorted, DEMO_NETWORKS,
            "sorted, as the authorization binds them"
        );
    }
}

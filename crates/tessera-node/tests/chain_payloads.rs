//! Signers re-parse chain payloads themselves: a job signs only a message the signer computed
//! from the raw payload with its own adapter, under an authorization whose intent hash it
//! recomputed. A coordinator that swaps the payload, the message, the index, the chain or the
//! network gets a typed refusal, and a refusal consumes no presignature.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;
use tessera_chains::{registry, ChainAdapter, Parsed, Payload, PublicKey, WalletKey};
use tessera_crypto::{SchemeId, SignMessage, Signature};
use tessera_proto::link::{FailureKind, Job, Outcome, TxContext};
use tessera_wire::{Action, Authorization, OperatorKey};

fn tx_auth(
    key: &OperatorKey,
    request_id: &str,
    wallet_id: &str,
    chain: &str,
    network: &str,
    parsed: &Parsed,
) -> Authorization {
    Authorization::sign(
        key,
        request_id.to_string(),
        Action::SignTransaction {
            wallet_id: wallet_id.to_string(),
            path: "m".into(),
            chain: chain.into(),
            network: network.into(),
            intent_hash: parsed.intent_hash().unwrap(),
        },
        now_unix() + 300,
    )
}

fn ctx(chain: &str, network: &str, payload: &Payload, index: u32) -> TxContext {
    TxContext {
        chain: chain.into(),
        network: network.into(),
        payload: payload.clone(),
        index,
    }
}

fn sign_job(message: &SignMessage, a: &Authorization, tx: Option<TxContext>) -> Job {
    Job::Sign {
        signers: vec![0, 1],
        message: message.clone(),
        path: "m".into(),
        authorization: a.clone(),
        transaction: tx,
        policy_version: 1,
        approvals: Vec::new(),
    }
}

fn refused(answers: Vec<Answer>, kind: FailureKind, what: &str) {
    assert_eq!(answers.len(), 2);
    for a in answers {
        match a {
            Err(f) => assert_eq!(f.kind, kind, "{what}: {}", f.message),
            Ok(o) => panic!("{what}: the signer took part: {o:?}"),
        }
    }
}

fn signature(answers: Vec<Answer>) -> Signature {
    let mut sig = None;
    for a in answers {
        match a.expect("signs") {
            Outcome::Signature(s) => sig = Some(s),
            o => panic!("unexpected {o:?}"),
        }
    }
    sig.unwrap()
}

fn address(adapter: &dyn ChainAdapter, network: &str, scheme: SchemeId, pk: &PublicKey) -> String {
    adapter
        .address(
            network,
            WalletKey {
                scheme,
                public_key: pk,
            },
        )
        .unwrap()
        .address
}

/// Taproot, two inputs (two messages): the genuine job signs each input once and the result
/// passes Bitcoin's own verifier; every substitution by the coordinator is refused.
#[test]
fn signers_recompute_bitcoin_sighashes_from_the_psbt() {
    let mut g = Group::new("chain-btc", 3);
    let (pk, _) = g.keygen("w", SchemeId::SchnorrBip340, 2);
    let op = g.operator.clone_key();
    let chains = registry();
    let btc = chains.get("bitcoin").unwrap();
    let wk = WalletKey {
        scheme: SchemeId::SchnorrBip340,
        public_key: &pk,
    };
    let own = address(btc, "regtest", SchemeId::SchnorrBip340, &pk);
    // Somebody else's key: the generator point.
    let g_point: [u8; 33] =
        hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
            .unwrap()
            .try_into()
            .unwrap();
    let other = address(
        btc,
        "regtest",
        SchemeId::SchnorrBip340,
        &PublicKey::Secp256k1(g_point),
    );
    let spec = |amount: u64| {
        json!({
            "inputs": [
                {"txid": "11".repeat(32), "vout": 0, "amount_sat": 100_000},
                {"txid": "22".repeat(32), "vout": 1, "amount_sat": 50_000}
            ],
            "outputs": [
                {"address": other, "amount_sat": amount},
                {"address": own, "amount_sat": 140_000 - amount}
            ]
        })
    };
    let payload = btc.build("regtest", wk, &spec(30_000)).unwrap();
    let parsed = btc.parse("regtest", wk, &payload).unwrap();
    assert_eq!(parsed.messages.len(), 2);
    let evil_payload = btc.build("regtest", wk, &spec(130_000)).unwrap();
    let evil = btc.parse("regtest", wk, &evil_payload).unwrap();
    let good = tx_auth(&op, &random_id(), "w", "bitcoin", "regtest", &parsed);

    // (a) The coordinator sends another payload (and its matching sighash) under the approval.
    refused(
        g.run(
            "w",
            &[0, 1],
            sign_job(
                &evil.messages[0],
                &good,
                Some(ctx("bitcoin", "regtest", &evil_payload, 0)),
            ),
        ),
        FailureKind::PayloadRejected,
        "another payload",
    );
    // The approved payload, but the sighash of another transaction.
    refused(
        g.run(
            "w",
            &[0, 1],
            sign_job(
                &evil.messages[0],
                &good,
                Some(ctx("bitcoin", "regtest", &payload, 0)),
            ),
        ),
        FailureKind::PayloadRejected,
        "another message",
    );
    // Input 1's sighash presented as input 0.
    refused(
        g.run(
            "w",
            &[0, 1],
            sign_job(
                &parsed.messages[1],
                &good,
                Some(ctx("bitcoin", "regtest", &payload, 0)),
            ),
        ),
        FailureKind::PayloadRejected,
        "message of another index",
    );
    // An index past the end.
    refused(
        g.run(
            "w",
            &[0, 1],
            sign_job(
                &parsed.messages[1],
                &good,
                Some(ctx("bitcoin", "regtest", &payload, 2)),
            ),
        ),
        FailureKind::PayloadRejected,
        "index past the end",
    );
    // The digest as a raw digest: the signer computed a preimage form, so it differs.
    let raw = SignMessage::danger_raw_digest(parsed.messages[0].digest32().unwrap());
    refused(
        g.run(
            "w",
            &[0, 1],
            sign_job(&raw, &good, Some(ctx("bitcoin", "regtest", &payload, 0))),
        ),
        FailureKind::PayloadRejected,
        "raw digest",
    );
    // Another network or chain than authorized.
    refused(
        g.run(
            "w",
            &[0, 1],
            sign_job(
                &parsed.messages[0],
                &good,
                Some(ctx("bitcoin", "testnet", &payload, 0)),
            ),
        ),
        FailureKind::Unauthorized,
        "another network",
    );
    // The transaction authorization without the payload, and a payload under a plain
    // message authorization.
    refused(
        g.run("w", &[0, 1], sign_job(&parsed.messages[0], &good, None)),
        FailureKind::Unauthorized,
        "no payload",
    );
    let plain = sign_auth(
        &op,
        &random_id(),
        "w",
        "m",
        &parsed.messages[0],
        now_unix() + 300,
    );
    refused(
        g.run(
            "w",
            &[0, 1],
            sign_job(
                &parsed.messages[0],
                &plain,
                Some(ctx("bitcoin", "regtest", &payload, 0)),
            ),
        ),
        FailureKind::Unauthorized,
        "payload under a message authorization",
    );
    // Garbage in place of the PSBT.
    let garbage = Payload {
        format: "psbt".into(),
        bytes: b"psbt\xff not really".to_vec(),
    };
    refused(
        g.run(
            "w",
            &[0, 1],
            sign_job(
                &parsed.messages[0],
                &good,
                Some(ctx("bitcoin", "regtest", &garbage, 0)),
            ),
        ),
        FailureKind::PayloadRejected,
        "malformed payload",
    );

    // The genuine job: each input signs once; a replay of input 0 is refused, input 1 still
    // signs (each message has its own ledger entry).
    let s0 = signature(g.run(
        "w",
        &[0, 1],
        sign_job(
            &parsed.messages[0],
            &good,
            Some(ctx("bitcoin", "regtest", &payload, 0)),
        ),
    ));
    refused(
        g.run(
            "w",
            &[0, 1],
            sign_job(
                &parsed.messages[0],
                &good,
                Some(ctx("bitcoin", "regtest", &payload, 0)),
            ),
        ),
        FailureKind::Replayed,
        "replayed input",
    );
    let s1 = signature(g.run(
        "w",
        &[1, 2],
        Job::Sign {
            signers: vec![1, 2],
            message: parsed.messages[1].clone(),
            path: "m".into(),
            authorization: good.clone(),
            transaction: Some(ctx("bitcoin", "regtest", &payload, 1)),
            policy_version: 1,
            approvals: Vec::new(),
        },
    ));
    // Bitcoin Core's interpreter accepts the assembled transaction.
    let signed = btc.finalize("regtest", wk, &payload, &[s0, s1]).unwrap();
    btc.verify("regtest", wk, &payload, &signed).unwrap();
}

/// Solana over the one-round path: a presigned job with a swapped payload is refused and
/// consumes nothing; the genuine job then uses that very nonce set.
#[test]
fn a_refused_presigned_transaction_consumes_nothing() {
    let mut g = Group::new("chain-sol", 3);
    let (pk, chain_code) = g.keygen("w", SchemeId::Ed25519, 2);
    let op = g.operator.clone_key();
    let chains = registry();
    let sol = chains.get("solana").unwrap();
    let wk = WalletKey {
        scheme: SchemeId::Ed25519,
        public_key: &pk,
    };
    let dest = bs58_of(&[9u8; 32]);
    let spec = |lamports: u64| {
        json!({
            "recent_blockhash": bs58_of(&[4u8; 32]),
            "transfers": [{"to": dest, "lamports": lamports}]
        })
    };
    let payload = sol.build("devnet", wk, &spec(1_000)).unwrap();
    let parsed = sol.parse("devnet", wk, &payload).unwrap();
    let evil_payload = sol.build("devnet", wk, &spec(1_000_000_000)).unwrap();
    let evil = sol.parse("devnet", wk, &evil_payload).unwrap();
    let good = tx_auth(&op, &random_id(), "w", "solana", "devnet", &parsed);

    let mut public = None;
    for a in g.run(
        "w",
        &[0, 1],
        Job::Presign {
            signers: vec![0, 1],
        },
    ) {
        if let Outcome::Presign(p) = a.expect("presign") {
            public = Some(p);
        }
    }
    let public = public.unwrap();
    let presigned = |m: &SignMessage, tx: TxContext| Job::SignPresigned {
        presignature: public.id(),
        signers: public.signers().to_vec(),
        message: m.clone(),
        path: "m".into(),
        authorization: good.clone(),
        transaction: Some(tx),
        policy_version: 1,
        approvals: Vec::new(),
    };
    refused(
        g.run(
            "w",
            &[0, 1],
            presigned(&evil.messages[0], ctx("solana", "devnet", &evil_payload, 0)),
        ),
        FailureKind::PayloadRejected,
        "presigned with another payload",
    );
    let mut partials = Vec::new();
    for a in g.run(
        "w",
        &[0, 1],
        presigned(&parsed.messages[0], ctx("solana", "devnet", &payload, 0)),
    ) {
        match a.expect("the nonce set is still there") {
            Outcome::Partial(p) => partials.push(p),
            o => panic!("unexpected {o:?}"),
        }
    }
    let sig = tessera_crypto::scheme(SchemeId::Ed25519)
        .combine(
            &pk,
            &chain_code,
            &public,
            &partials,
            &parsed.messages[0],
            &tessera_crypto::DerivationPath::root(),
        )
        .unwrap();
    let signed = sol.finalize("devnet", wk, &payload, &[sig]).unwrap();
    sol.verify("devnet", wk, &payload, &signed).unwrap();
}

fn bs58_of(b: &[u8; 32]) -> String {
    // A Solana address is the base58 of the 32 key bytes; the adapter renders any key this way.
    let chains = registry();
    let sol = chains.get("solana").unwrap();
    let pk = PublicKey::Ed25519(*b);
    address(sol, "devnet", SchemeId::Ed25519, &pk)
}

/// A transaction's signing message sent as a plain message (no payload, so no transaction
/// policy): refused by every signer (`PayloadRejected`) for each chain — an ERC-20 transfer of
/// 5,000 USDC, a P2WPKH spend (its BIP-143 preimage, and the single-SHA-256 trick that yields
/// the same digest), EIP-712 typed data, a Taproot spend (its `TapSighash` message) and a
/// Solana transfer (its message bytes) — under the local-dev policy, which lets plain messages
/// through without approval; each scheme's off-chain message format signs.
#[test]
fn transaction_messages_are_refused_as_plain_messages() {
    let mut g = Group::new("chain-plain", 3);
    let chains = registry();
    let op = g.operator.clone_key();
    for scheme in [
        SchemeId::EcdsaDkls23,
        SchemeId::SchnorrBip340,
        SchemeId::Ed25519,
    ] {
        let wallet = format!("w-{}", scheme.name().replace('/', "-"));
        let (pk, _) = g.keygen(&wallet, scheme, 2);
        let wk = WalletKey {
            scheme,
            public_key: &pk,
        };
        let first_message = |chain: &str, network: &str, spec: serde_json::Value| {
            let a = chains.get(chain).unwrap();
            let payload = a.build(network, wk, &spec).unwrap();
            a.parse(network, wk, &payload).unwrap().messages.remove(0)
        };
        let btc_own = || address(chains.get("bitcoin").unwrap(), "regtest", scheme, &pk);
        let mut transaction_messages: Vec<(&str, SignMessage)> = Vec::new();
        match scheme {
            SchemeId::EcdsaDkls23 => {
                let erc20 = json!({"type": "eip1559", "nonce": 0, "gas_limit": 65000,
                    "max_fee_per_gas_wei": "30000000000",
                    "max_priority_fee_per_gas_wei": "1000000000",
                    "erc20_transfer": {"token": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
                                       "to": "0x000000000000000000000000000000000000dEaD",
                                       "amount": "5000000000"}});
                transaction_messages.push((
                    "an ERC-20 transfer's RLP",
                    first_message("ethereum", "mainnet", erc20),
                ));
                let typed = json!({"type": "eip712", "typed_data": mail_typed_data()});
                transaction_messages.push((
                    "EIP-712 typed data",
                    first_message("ethereum", "mainnet", typed),
                ));
                let bip143 = first_message("bitcoin", "regtest", p2wpkh_spec(&btc_own()));
                if let SignMessage::Preimage { bytes, .. } = &bip143 {
                    use sha2::{Digest, Sha256};
                    let inner: [u8; 32] = Sha256::digest(bytes).into();
                    transaction_messages.push((
                        "SHA-256 over the sighash's inner hash",
                        SignMessage::sha256(inner.to_vec()),
                    ));
                }
                transaction_messages.push(("a BIP-143 preimage", bip143));
            }
            SchemeId::SchnorrBip340 => transaction_messages.push((
                "a TapSighash message",
                first_message("bitcoin", "regtest", p2wpkh_spec(&btc_own())),
            )),
            _ => {
                let transfer = json!({"recent_blockhash": bs58_of(&[4; 32]),
                    "transfers": [{"to": bs58_of(&[9; 32]), "lamports": 5_000_000_000u64}]});
                transaction_messages.push((
                    "a Solana transfer message",
                    first_message("solana", "devnet", transfer),
                ));
            }
        }
        for (what, m) in transaction_messages {
            let a = sign_auth(&op, &random_id(), &wallet, "m", &m, now_unix() + 300);
            refused(
                g.run(&wallet, &[0, 1], sign_job(&m, &a, None)),
                FailureKind::PayloadRejected,
                what,
            );
        }
        let m = tessera_chains::offchain_message(scheme, None, b"I own this wallet").unwrap();
        let a = sign_auth(&op, &random_id(), &wallet, "m", &m, now_unix() + 300);
        let sig = signature(g.run(&wallet, &[0, 1], sign_job(&m, &a, None)));
        tessera_crypto::scheme(scheme)
            .verify(&pk, &m, &sig)
            .unwrap();
    }
}

/// One input, one output to the wallet itself (P2WPKH or P2TR by the wallet's scheme).
fn p2wpkh_spec(own: &str) -> serde_json::Value {
    json!({
        "inputs": [tessera_chain_bitcoin::synthetic_coin("regtest", own, 100_000, 0x11).unwrap()],
        "outputs": [{"address": own, "amount_sat": 90_000}]
    })
}

fn mail_typed_data() -> serde_json::Value {
    json!({
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
            "Mail": [{"name": "contents", "type": "string"}]
        },
        "primaryType": "Mail",
        "domain": {"name": "Tessera", "chainId": 1},
        "message": {"contents": "hello"}
    })
}

/// Issue 16, gap 3: the requester does not choose the network. A Solana message signs the same
/// bytes on every cluster, so a mainnet transfer labelled `testnet` (to fall under a lenient
/// testnet policy and testnet velocity keys) is refused by every signer of a wallet bound to
/// `solana:devnet` — even with a valid authorization for that label — and so is any payload
/// that cannot name its own network for a wallet bound to two networks of its chain. The same
/// payload labelled with the bound network signs.
#[test]
fn a_payload_for_a_network_the_wallet_is_not_bound_to_is_refused() {
    let mut g = Group::new("chain-bound", 3);
    g.abort_on_failure = true;
    let (pk, _) = g.keygen("w", SchemeId::Ed25519, 2);
    g.networks = vec!["solana:devnet".into(), "solana:testnet".into()];
    let (pk2, _) = g.keygen("w2", SchemeId::Ed25519, 2);
    let op = g.operator.clone_key();
    let chains = registry();
    let sol = chains.get("solana").unwrap();
    let dest = bs58_of(&[9u8; 32]);
    let spec = json!({
        "recent_blockhash": bs58_of(&[4u8; 32]),
        "transfers": [{"to": dest, "lamports": 1_000}]
    });
    let job = |wallet: &str, pk: &PublicKey, network: &str| {
        let wk = WalletKey {
            scheme: SchemeId::Ed25519,
            public_key: pk,
        };
        let payload = sol.build(network, wk, &spec).unwrap();
        let parsed = sol.parse(network, wk, &payload).unwrap();
        let authz = tx_auth(&op, &random_id(), wallet, "solana", network, &parsed);
        Job::Sign {
            signers: vec![0, 1],
            message: parsed.messages[0].clone(),
            path: "m".into(),
            authorization: authz,
            transaction: Some(ctx("solana", network, &payload, 0)),
            policy_version: 1,
            approvals: Vec::new(),
        }
    };
    refused(
        g.run("w", &[0, 1], job("w", &pk, "testnet")),
        FailureKind::PayloadRejected,
        "a network the wallet is not bound to",
    );
    refused(
        g.run("w2", &[0, 1], job("w2", &pk2, "devnet")),
        FailureKind::PayloadRejected,
        "two bound networks and a payload that names neither",
    );
    for a in g.run("w", &[0, 1], job("w", &pk, "devnet")) {
        assert!(
            matches!(a, Ok(Outcome::Signature(_))),
            "bound network: {a:?}"
        );
    }
}

//! Property tests: the parser (and the adapter around it) never panics, whatever the bytes.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::json;
use tessera_chain::{ChainAdapter, Payload, SignedTransaction};
use tessera_chain_solana::message::LegacyMessage;
use tessera_chain_solana::Solana;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Valid messages to mutate: SOL, USDC with creation, compute budget.
fn seeds() -> Vec<Vec<u8>> {
    let k = key(1);
    let owner = pk(&key(3));
    vec![
        build("mainnet-beta", &k, &sol_spec(&[0x22; 32], 500_000_000)).bytes,
        build("mainnet-beta", &k, &usdc_spec(&owner)).bytes,
        build(
            "mainnet-beta",
            &k,
            &json!({
                "recent_blockhash": b58(&BLOCKHASH),
                "transfers": [{"to": b58(&owner), "lamports": 1}],
                "token_transfers": [{"mint": USDT, "to_owner": b58(&owner), "amount": "5",
                                     "decimals": 6}],
                "compute_unit_limit": 100_000,
                "compute_unit_price_micro_lamports": 7
            }),
        )
        .bytes,
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len();
    match *m {
        Mutation::Flip(i, b) if n > 0 => bytes[i % n] ^= b,
        Mutation::Set(i, b) if n > 0 => bytes[i % n] = b,
        Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
        Mutation::Remove(i) if n > 0 => {
            bytes.remove(i % n);
        }
        Mutation::Truncate(i) => bytes.truncate(i % (n + 1)),
        _ => {}
    }
}

/// Parses with the raw parser and through the adapter on every network; whatever parses
/// re-serializes to exactly the input (the accepted encoding is canonical).
fn check(bytes: &[u8]) {
    if let Ok(m) = LegacyMessage::parse(bytes) {
        assert_eq!(m.serialize(), bytes);
    }
    let k = key(1);
    for n in ["mainnet-beta", "devnet"] {
        let p = Payload {
            format: "solana_message".into(),
            bytes: bytes.to_vec(),
        };
        if let Ok(parsed) = Solana.parse(n, k.wallet_key(), &p) {
            // Anything accepted can be finalized and verified end to end.
            let sigs: Vec<_> = parsed.messages.iter().map(|m| k.sign(m)).collect();
            let signed = Solana.finalize(n, k.wallet_key(), &p, &sigs).unwrap();
            Solana.verify(n, k.wallet_key(), &p, &signed).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parser_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..1300)
    ) {
        check(&bytes);
    }

    #[test]
    fn parser_never_panics_on_mutated_messages(
        seed in 0usize..3,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = seeds()[seed].clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check(&bytes);
    }

    #[test]
    fn verify_never_panics_on_arbitrary_signed_bytes(
        seed in 0usize..3,
        prefix in prop::collection::vec(any::<u8>(), 0..80),
        mutations in prop::collection::vec(mutation(), 0..4),
    ) {
        let k = key(1);
        let p = Payload { format: "solana_message".into(), bytes: seeds()[seed].clone() };
        let mut bytes = [prefix.as_slice(), p.bytes.as_slice()].concat();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let signed = SignedTransaction {
            chain: "solana".into(),
            network: "mainnet-beta".into(),
            format: "solana_tx".into(),
            bytes,
            txid: None,
            details: json!({}),
        };
        // Nothing here carries a valid wallet signature.
        prop_assert!(Solana.verify("mainnet-beta", k.wallet_key(), &p, &signed).is_err());
    }
}

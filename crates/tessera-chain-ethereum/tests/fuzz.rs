//! Property tests: `parse` never panics on arbitrary or mutated payloads, and whatever parses
//! can be signed, finalized and verified.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::json;
use tessera_chain::conformance::TestKey;
use tessera_chain::{ChainAdapter, Payload, SchemeId};
use tessera_chain_ethereum::Ethereum;

const FORMATS: [&str; 4] = ["eip1559", "eip155", "eip712", "personal_sign"];

fn key() -> TestKey {
    TestKey::from_seed(SchemeId::EcdsaCggmp24, [0x33; 32])
}

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Valid payloads of every format (mainnet).
fn seeds() -> Vec<Payload> {
    let k = key();
    let approve = format!(
        "0x095ea7b3{:0>64}{}",
        "2222222222222222222222222222222222222222",
        "f".repeat(64)
    );
    [
        common::native_1559(),
        common::erc20_1559(common::USDC),
        common::legacy_155(),
        json!({"type": "eip1559", "nonce": 0, "to": common::USDC, "gas_limit": 90000,
               "max_fee_per_gas_wei": "1", "max_priority_fee_per_gas_wei": "1", "data": approve}),
        json!({"type": "eip712", "typed_data": common::mail_typed_data(1)}),
        json!({"type": "personal_sign", "message": "hello tessera"}),
    ]
    .iter()
    .map(|spec| Ethereum.build("mainnet", k.wallet_key(), spec).unwrap())
    .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match *m {
        Mutation::Flip(i, x) if len > 0 => bytes[i % len] ^= x,
        Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
        Mutation::Remove(i) if len > 0 => {
            bytes.remove(i % len);
        }
        Mutation::Truncate(i) => bytes.truncate(i % (len + 1)),
        _ => {}
    }
}

/// Parse; when it succeeds, the payload must also sign, finalize and verify.
fn round_trip(network: &str, p: &Payload) {
    let k = key();
    let wk = k.wallet_key();
    if let Ok(parsed) = Ethereum.parse(network, wk, p) {
        let sigs: Vec<_> = parsed.messages.iter().map(|m| k.sign(m)).collect();
        let signed = Ethereum
            .finalize(network, wk, p, &sigs)
            .expect("a payload that parses finalizes");
        Ethereum
            .verify(network, wk, p, &signed)
            .expect("a finalized payload verifies");
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(
        format in prop::sample::select(FORMATS.to_vec()),
        bytes in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        round_trip("mainnet", &Payload { format: format.to_string(), bytes });
    }

    #[test]
    fn typed_prefix_never_panics(
        ty in prop::sample::select(vec![0x01u8, 0x02, 0x03, 0x04, 0xc0, 0xf8, 0xf9]),
        rest in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let bytes = [vec![ty], rest].concat();
        for format in ["eip1559", "eip155"] {
            round_trip("mainnet", &Payload { format: format.into(), bytes: bytes.clone() });
        }
    }

    #[test]
    fn mutated_payloads_never_panic(
        seed in 0usize..6,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut p = seeds().swap_remove(seed);
        for m in &mutations {
            apply(&mut p.bytes, m);
        }
        round_trip("mainnet", &p);
    }

    #[test]
    fn random_transactions_round_trip(
        nonce in any::<u64>(),
        gas in 21_000u64..30_000_000,
        fee in any::<u64>(),
        value in "0|[1-9][0-9]{0,30}",
        data in prop::collection::vec(any::<u8>(), 0..200),
        legacy in any::<bool>(),
    ) {
        let k = key();
        let data = format!("0x{}", hex::encode(&data));
        let spec = if legacy {
            json!({"type": "eip155", "nonce": nonce, "to": common::RECIPIENT, "value_wei": value,
                   "gas_limit": gas, "gas_price_wei": fee.to_string(), "data": data})
        } else {
            json!({"type": "eip1559", "nonce": nonce, "to": common::RECIPIENT,
                   "value_wei": value, "gas_limit": gas, "max_fee_per_gas_wei": fee.to_string(),
                   "max_priority_fee_per_gas_wei": "0", "data": data})
        };
        let p = Ethereum.build("mainnet", k.wallet_key(), &spec).unwrap();
        let intent = Ethereum.parse("mainnet", k.wallet_key(), &p).unwrap().intent;
        prop_assert_eq!(intent.nonce, Some(nonce.to_string()));
        let max = u128::from(gas) * u128::from(fee);
        prop_assert_eq!(intent.fee.unwrap().max.to_u128(), Some(max));
        round_trip("mainnet", &p);
    }
}

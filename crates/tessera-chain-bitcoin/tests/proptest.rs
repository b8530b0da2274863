//! Property tests: `parse` (and `verify`) never panic on hostile bytes, and whatever `parse`
//! accepts can be signed, finalized and verified.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::*;
use proptest::prelude::*;
use tessera_chain::conformance::TestKey;
use tessera_chain::{ChainAdapter, Payload, SchemeId, Signature, SignedTransaction};
use tessera_chain_bitcoin::Bitcoin;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn keys() -> [TestKey; 2] {
    [
        test_key(SchemeId::EcdsaDkls23, 41),
        test_key(SchemeId::SchnorrBip340, 41),
    ]
}

fn psbt_payload(bytes: Vec<u8>) -> Payload {
    Payload {
        format: "psbt".into(),
        bytes,
    }
}

/// If `parse` accepts the payload, signing, finalizing and verifying must work.
fn parse_then_sign(k: &TestKey, payload: &Payload) {
    if let Ok(parsed) = Bitcoin.parse("mainnet", k.wallet_key(), payload) {
        let sigs: Vec<Signature> = parsed.messages.iter().map(|m| k.sign(m)).collect();
        let signed = Bitcoin
            .finalize("mainnet", k.wallet_key(), payload, &sigs)
            .expect("finalize of a parsed payload");
        Bitcoin
            .verify("mainnet", k.wallet_key(), payload, &signed)
            .expect("verify of a freshly signed payload");
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        for k in keys() {
            let _ = Bitcoin.parse("mainnet", k.wallet_key(), &psbt_payload(bytes.clone()));
        }
    }

    #[test]
    fn parse_never_panics_after_the_psbt_magic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut b = b"psbt\xff".to_vec();
        b.extend(bytes);
        for k in keys() {
            let _ = Bitcoin.parse("mainnet", k.wallet_key(), &psbt_payload(b.clone()));
        }
    }

    #[test]
    fn mutated_psbts_never_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        insert in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
    ) {
        for k in keys() {
            let wk = k.wallet_key();
            let spec = match which {
                0 => spec_one_in_payment_and_change("mainnet", wk),
                1 => spec_two_in_two_out("mainnet", wk),
                _ => spec_op_return("mainnet", wk),
            };
            let mut bytes = build("mainnet", wk, &spec).bytes;
            for (i, x) in &flips {
                let i = i.index(bytes.len());
                bytes[i] ^= x;
            }
            if let Some((i, b)) = insert {
                let i = i.index(bytes.len());
                bytes.insert(i, b);
            }
            if let Some(c) = cut {
                let c = c.index(bytes.len());
                bytes.truncate(c);
            }
            parse_then_sign(&k, &psbt_payload(bytes));
        }
    }

    #[test]
    fn verify_never_panics_on_arbitrary_signed_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        flip in any::<prop::sample::Index>(),
    ) {
        for k in keys() {
            let wk = k.wallet_key();
            let payload = build("mainnet", wk, &spec_two_in_two_out("mainnet", wk));
            let parsed = Bitcoin.parse("mainnet", wk, &payload).unwrap();
            let sigs: Vec<Signature> = parsed.messages.iter().map(|m| k.sign(m)).collect();
            let good = Bitcoin.finalize("mainnet", wk, &payload, &sigs).unwrap();
            let random = SignedTransaction { bytes: bytes.clone(), ..good.clone() };
            prop_assert!(Bitcoin.verify("mainnet", wk, &payload, &random).is_err());
            let mut flipped = good.clone();
            let i = flip.index(flipped.bytes.len());
            flipped.bytes[i] ^= 0x01;
            prop_assert!(Bitcoin.verify("mainnet", wk, &payload, &flipped).is_err());
        }
    }
}

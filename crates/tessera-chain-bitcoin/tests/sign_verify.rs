//! `finalize` and `verify`: signed P2WPKH and P2TR transactions checked by Bitcoin Core's
//! interpreter (and, for P2TR, libsecp256k1's BIP-340 verification), wrong signatures refused.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use std::str::FromStr;

use bitcoin::psbt::{Psbt, PsbtSighashType};
use bitcoin::{consensus, Amount as BtcAmount, ScriptBuf, Transaction};
use common::*;
use tessera_chain::conformance::TestKey;
use tessera_chain::{ChainAdapter, ChainError, Payload, SchemeId, Signature, SignedTransaction};
use tessera_chain_bitcoin::Bitcoin;

fn sign_all(k: &TestKey, network: &str, payload: &Payload) -> SignedTransaction {
    let parsed = Bitcoin.parse(network, k.wallet_key(), payload).unwrap();
    let sigs: Vec<Signature> = parsed.messages.iter().map(|m| k.sign(m)).collect();
    Bitcoin
        .finalize(network, k.wallet_key(), payload, &sigs)
        .unwrap()
}

fn is_verification(r: Result<(), ChainError>) -> bool {
    matches!(r, Err(ChainError::Verification(_)))
}

/// Runs Core's interpreter directly on every input of a signed transaction.
fn core_verifies(signed: &SignedTransaction) -> bool {
    let prevouts = signed.details["prevouts"].as_array().unwrap();
    prevouts.iter().enumerate().all(|(i, p)| {
        let script =
            ScriptBuf::from_bytes(hex::decode(p["script_pubkey_hex"].as_str().unwrap()).unwrap());
        let amount = BtcAmount::from_sat(p["amount_sat"].as_u64().unwrap());
        script.verify(i, amount, &signed.bytes).is_ok()
    })
}

#[test]
fn p2wpkh_signed_and_verified_by_core() {
    for scheme in [SchemeId::EcdsaDkls23, SchemeId::EcdsaCggmp24] {
        let k = test_key(scheme, 31);
        let payload = build(
            "regtest",
            k.wallet_key(),
            &spec_two_in_two_out("regtest", k.wallet_key()),
        );
        let signed = sign_all(&k, "regtest", &payload);
        Bitcoin
            .verify("regtest", k.wallet_key(), &payload, &signed)
            .unwrap();
        assert!(core_verifies(&signed), "Core rejected a good P2WPKH spend");

        assert_eq!(signed.chain, "bitcoin");
        assert_eq!(signed.network, "regtest");
        assert_eq!(signed.format, "bitcoin_tx");
        let tx: Transaction = consensus::deserialize(&signed.bytes).unwrap();
        assert_eq!(signed.txid, Some(tx.compute_txid().to_string()));
        for input in &tx.input {
            assert_eq!(input.witness.len(), 2);
            assert_eq!(input.witness.nth(0).unwrap().last(), Some(&0x01)); // SIGHASH_ALL
            assert_eq!(input.witness.nth(1).unwrap(), k.public_key().as_bytes());
        }
        check_details(&signed, "p2wpkh", &[(50_000, "0014"), (70_000, "0014")]);
    }
}

#[test]
fn p2tr_signed_and_verified() {
    let k = test_key(SchemeId::SchnorrBip340, 32);
    let payload = build(
        "testnet",
        k.wallet_key(),
        &spec_two_in_two_out("testnet", k.wallet_key()),
    );
    let signed = sign_all(&k, "testnet", &payload);
    Bitcoin
        .verify("testnet", k.wallet_key(), &payload, &signed)
        .unwrap();
    let tx: Transaction = consensus::deserialize(&signed.bytes).unwrap();
    for input in &tx.input {
        assert_eq!(input.witness.len(), 1);
        assert_eq!(input.witness.nth(0).unwrap().len(), 64); // SIGHASH_DEFAULT
    }
    check_details(&signed, "p2tr", &[(50_000, "5120"), (70_000, "5120")]);
    // Core 25.1 runs too (it cannot check Taproot signatures, see the vector tests).
    assert!(core_verifies(&signed));
}

#[test]
fn p2tr_with_sighash_all_requested_by_the_psbt() {
    let k = test_key(SchemeId::SchnorrBip340, 33);
    let payload = build(
        "mainnet",
        k.wallet_key(),
        &spec_two_in_two_out("mainnet", k.wallet_key()),
    );
    let mut psbt = Psbt::deserialize(&payload.bytes).unwrap();
    psbt.inputs[1].sighash_type = Some(PsbtSighashType::from_u32(1));
    let payload = Payload {
        format: "psbt".into(),
        bytes: psbt.serialize(),
    };
    let signed = sign_all(&k, "mainnet", &payload);
    Bitcoin
        .verify("mainnet", k.wallet_key(), &payload, &signed)
        .unwrap();
    let tx: Transaction = consensus::deserialize(&signed.bytes).unwrap();
    assert_eq!(tx.input[0].witness.nth(0).unwrap().len(), 64);
    assert_eq!(tx.input[1].witness.nth(0).unwrap().len(), 65);
    assert_eq!(tx.input[1].witness.nth(0).unwrap()[64], 0x01);
}

fn check_details(signed: &SignedTransaction, kind: &str, prevouts: &[(u64, &str)]) {
    let d = &signed.details;
    assert_eq!(d["kind"], kind);
    let p = d["prevouts"].as_array().unwrap();
    assert_eq!(p.len(), prevouts.len());
    for (got, (amount, prefix)) in p.iter().zip(prevouts) {
        assert_eq!(got["amount_sat"].as_u64(), Some(*amount));
        assert!(got["script_pubkey_hex"]
            .as_str()
            .unwrap()
            .starts_with(prefix));
    }
    // The finalized PSBT extracts to exactly the signed transaction.
    let psbt = Psbt::from_str(d["psbt_base64"].as_str().unwrap()).unwrap();
    assert!(psbt.inputs.iter().all(|i| i.final_script_witness.is_some()
        && i.witness_utxo.is_some()
        && i.partial_sigs.is_empty()
        && i.tap_internal_key.is_none()));
    let tx = psbt.extract_tx_unchecked_fee_rate();
    assert_eq!(consensus::serialize(&tx), signed.bytes);
}

#[test]
fn wrong_signatures_are_rejected() {
    for scheme in [SchemeId::EcdsaDkls23, SchemeId::SchnorrBip340] {
        let k = test_key(scheme, 34);
        let other = test_key(scheme, 35);
        let wk = k.wallet_key();
        let payload = build("mainnet", wk, &spec_two_in_two_out("mainnet", wk));
        let parsed = Bitcoin.parse("mainnet", wk, &payload).unwrap();
        let good: Vec<Signature> = parsed.messages.iter().map(|m| k.sign(m)).collect();

        // Signed by another key.
        let foreign: Vec<Signature> = parsed.messages.iter().map(|m| other.sign(m)).collect();
        let signed = Bitcoin.finalize("mainnet", wk, &payload, &foreign).unwrap();
        assert!(is_verification(
            Bitcoin.verify("mainnet", wk, &payload, &signed)
        ));
        if scheme == SchemeId::EcdsaDkls23 {
            assert!(!core_verifies(&signed), "Core accepted a foreign signature");
        }

        // Good signatures, swapped between inputs (each signs the other input's message).
        let swapped = vec![good[1].clone(), good[0].clone()];
        let signed = Bitcoin.finalize("mainnet", wk, &payload, &swapped).unwrap();
        assert!(is_verification(
            Bitcoin.verify("mainnet", wk, &payload, &signed)
        ));
        if scheme == SchemeId::EcdsaDkls23 {
            assert!(!core_verifies(&signed), "Core accepted swapped signatures");
        }

        // A good transaction checked against another payload (other outputs).
        let signed = Bitcoin.finalize("mainnet", wk, &payload, &good).unwrap();
        Bitcoin.verify("mainnet", wk, &payload, &signed).unwrap();
        let other_payload = build(
            "mainnet",
            wk,
            &spec_one_in_payment_and_change("mainnet", wk),
        );
        assert!(is_verification(Bitcoin.verify(
            "mainnet",
            wk,
            &other_payload,
            &signed
        )));

        // Claimed txid, chain, network or format that do not match.
        let mut s = signed.clone();
        s.txid = Some("00".repeat(32));
        assert!(is_verification(Bitcoin.verify("mainnet", wk, &payload, &s)));
        let mut s = signed.clone();
        s.network = "testnet".into();
        assert!(is_verification(Bitcoin.verify("mainnet", wk, &payload, &s)));
        let mut s = signed.clone();
        s.format = "psbt".into();
        assert!(is_verification(Bitcoin.verify("mainnet", wk, &payload, &s)));

        // The unsigned transaction itself (no witnesses) never verifies.
        let mut s = signed.clone();
        s.bytes = consensus::serialize(&Psbt::deserialize(&payload.bytes).unwrap().unsigned_tx);
        s.txid = None;
        assert!(is_verification(Bitcoin.verify("mainnet", wk, &payload, &s)));
    }
}

#[test]
fn finalize_refuses_wrong_count_and_kind() {
    let ecdsa = test_key(SchemeId::EcdsaDkls23, 36);
    let schnorr = test_key(SchemeId::SchnorrBip340, 36);
    for (k, wrong) in [(&ecdsa, &schnorr), (&schnorr, &ecdsa)] {
        let wk = k.wallet_key();
        let payload = build("mainnet", wk, &spec_two_in_two_out("mainnet", wk));
        let parsed = Bitcoin.parse("mainnet", wk, &payload).unwrap();
        let good: Vec<Signature> = parsed.messages.iter().map(|m| k.sign(m)).collect();
        let wrong_kind: Vec<Signature> = parsed.messages.iter().map(|m| wrong.sign(m)).collect();
        for sigs in [
            &good[..1],
            &[good.clone(), good.clone()].concat()[..],
            &wrong_kind[..],
        ] {
            let r = Bitcoin.finalize("mainnet", wk, &payload, sigs);
            assert!(matches!(r, Err(ChainError::Signatures(_))), "{r:?}");
        }
        let ed = test_key(SchemeId::Ed25519, 36);
        let ed_sigs: Vec<Signature> = parsed.messages.iter().map(|m| ed.sign(m)).collect();
        let r = Bitcoin.finalize("mainnet", wk, &payload, &ed_sigs);
        assert!(matches!(r, Err(ChainError::Signatures(_))), "{r:?}");
    }
    // An ECDSA r beyond the group order does not encode.
    let wk = ecdsa.wallet_key();
    let payload = build("mainnet", wk, &spec_op_return("mainnet", wk));
    let overflow = Signature::Ecdsa {
        r: [0xff; 32],
        s: [1; 32],
        recovery_id: 0,
    };
    let r = Bitcoin.finalize("mainnet", wk, &payload, &[overflow]);
    assert!(matches!(r, Err(ChainError::Signatures(_))), "{r:?}");
    // r = 0 encodes (finalize checks structure only) but never verifies.
    let zero = Signature::Ecdsa {
        r: [0; 32],
        s: [1; 32],
        recovery_id: 0,
    };
    let signed = Bitcoin.finalize("mainnet", wk, &payload, &[zero]).unwrap();
    assert!(is_verification(
        Bitcoin.verify("mainnet", wk, &payload, &signed)
    ));
}

//! `finalize` and the independent `verify`.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use base64::Engine;
use common::*;
use ed25519_dalek::Signer;
use tessera_chain::{ChainAdapter, ChainError, Signature, SignedTransaction};
use tessera_chain_solana::Solana;

const NET: &str = "devnet";

fn signed_for(
    k: &tessera_chain::conformance::TestKey,
    p: &tessera_chain::Payload,
) -> SignedTransaction {
    let parsed = Solana.parse(NET, k.wallet_key(), p).unwrap();
    let sigs: Vec<Signature> = parsed.messages.iter().map(|m| k.sign(m)).collect();
    Solana.finalize(NET, k.wallet_key(), p, &sigs).unwrap()
}

fn rejected(
    k: &tessera_chain::conformance::TestKey,
    p: &tessera_chain::Payload,
    s: &SignedTransaction,
) -> String {
    match Solana.verify(NET, k.wallet_key(), p, s) {
        Err(ChainError::Verification(reason)) => reason,
        other => panic!("expected a verification failure, got {other:?}"),
    }
}

#[test]
fn finalize_gives_the_wire_transaction() {
    let k = key(1);
    let p = build(NET, &k, &sol_spec(&[0x22; 32], 1_000));
    let s = signed_for(&k, &p);
    assert_eq!(
        (s.chain.as_str(), s.network.as_str(), s.format.as_str()),
        ("solana", NET, "solana_tx")
    );
    assert_eq!(s.bytes[0], 1);
    assert_eq!(&s.bytes[65..], p.bytes.as_slice());
    assert_eq!(
        s.txid.as_deref(),
        Some(bs58::encode(&s.bytes[1..65]).into_string().as_str())
    );
    assert_eq!(
        s.details,
        serde_json::json!({
            "signed_tx_base64": base64::engine::general_purpose::STANDARD.encode(&s.bytes)
        })
    );
    // The Solana crates read it back as a transaction signed by the wallet.
    let tx: solana_transaction::Transaction = bincode::deserialize(&s.bytes).unwrap();
    assert_eq!(tx.message.account_keys[0].to_bytes(), pk(&k));
    assert!(tx.verify().is_ok());
    Solana.verify(NET, k.wallet_key(), &p, &s).unwrap();

    // Signature count and kind.
    let sig = k.sign(&Solana.parse(NET, k.wallet_key(), &p).unwrap().messages[0]);
    for bad in [vec![], vec![sig.clone(), sig]] {
        let e = Solana.finalize(NET, k.wallet_key(), &p, &bad).unwrap_err();
        assert!(matches!(e, ChainError::Signatures(_)), "{e:?}");
    }
    let e = Solana
        .finalize(NET, k.wallet_key(), &p, &[Signature::Bip340([1; 64])])
        .unwrap_err();
    assert!(matches!(e, ChainError::Signatures(_)), "{e:?}");
}

#[test]
fn verify_rejects_a_signature_by_another_key() {
    let k = key(1);
    let other = key(2);
    let p = build(NET, &k, &sol_spec(&[0x22; 32], 1_000));
    let m = &Solana.parse(NET, k.wallet_key(), &p).unwrap().messages[0];
    let s = Solana
        .finalize(NET, k.wallet_key(), &p, &[other.sign(m)])
        .unwrap();
    let reason = rejected(&k, &p, &s);
    assert!(reason.contains("ed25519-dalek"), "{reason}");
}

#[test]
fn verify_rejects_a_transaction_for_another_message() {
    let k = key(1);
    let p = build(NET, &k, &sol_spec(&[0x22; 32], 1_000));
    let evil = build(NET, &k, &sol_spec(&[0x22; 32], 1_000_000_000));
    // A correctly signed transaction of another message, presented for `p`.
    let s = signed_for(&k, &evil);
    Solana.verify(NET, k.wallet_key(), &evil, &s).unwrap();
    let reason = rejected(&k, &p, &s);
    assert!(reason.contains("differs from the payload"), "{reason}");
}

#[test]
fn verify_rejects_a_corrupted_signature() {
    let k = key(1);
    let p = build(NET, &k, &usdc_spec(&pk(&key(3))));
    let good = signed_for(&k, &p);
    let mut s = good.clone();
    s.bytes[1 + 17] ^= 0x04;
    rejected(&k, &p, &s);
    // The same corruption through finalize (the text fields then agree with the bytes).
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&good.bytes[1..65]);
    sig[40] ^= 0x01;
    let s = Solana
        .finalize(NET, k.wallet_key(), &p, &[Signature::Ed25519(sig)])
        .unwrap();
    rejected(&k, &p, &s);
    // A non-canonical S (S + L) is refused by verify_strict even if a lax verifier took it.
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&good.bytes[1..65]);
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(sig[32 + i]) + u16::from(l[i]) + carry;
        sig[32 + i] = v as u8;
        carry = v >> 8;
    }
    let s = Solana
        .finalize(NET, k.wallet_key(), &p, &[Signature::Ed25519(sig)])
        .unwrap();
    rejected(&k, &p, &s);
}

#[test]
fn verify_rejects_inconsistent_envelopes() {
    let k = key(1);
    let p = build(NET, &k, &sol_spec(&[0x22; 32], 1_000));
    let good = signed_for(&k, &p);
    // A trailing byte.
    let mut s = good.clone();
    s.bytes.push(0);
    rejected(&k, &p, &s);
    // A wrong txid, wrong details, another network or format.
    let mut s = good.clone();
    s.txid = Some("1111".into());
    rejected(&k, &p, &s);
    let mut s = good.clone();
    s.details = serde_json::json!({});
    rejected(&k, &p, &s);
    let mut s = good.clone();
    s.network = "testnet".into();
    rejected(&k, &p, &s);
    let mut s = good.clone();
    s.format = "solana_message".into();
    rejected(&k, &p, &s);
    // Zero signatures.
    let mut s = good.clone();
    s.bytes = [&[0u8][..], &p.bytes].concat();
    rejected(&k, &p, &s);
    // The payload must still be the wallet's: another wallet cannot verify it.
    let e = Solana
        .verify(NET, key(2).wallet_key(), &p, &good)
        .unwrap_err();
    assert!(matches!(e, ChainError::NotOwned { .. }), "{e:?}");
}

#[test]
fn verify_accepts_a_signature_made_outside_the_test_signer() {
    // Signing the raw message bytes with ed25519-dalek directly gives the same transaction.
    let sk = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let public = tessera_chain::PublicKey::Ed25519(sk.verifying_key().to_bytes());
    let wk = tessera_chain::WalletKey {
        scheme: tessera_chain::SchemeId::Ed25519,
        public_key: &public,
    };
    let p = Solana.build(NET, wk, &sol_spec(&[0x22; 32], 5)).unwrap();
    let sig = sk.sign(&p.bytes).to_bytes();
    let s = Solana
        .finalize(NET, wk, &p, &[Signature::Ed25519(sig)])
        .unwrap();
    Solana.verify(NET, wk, &p, &s).unwrap();
}

/// The plain-message path's Solana format is the off-chain message, byte for byte what the
/// Solana SDK's `solana-offchain-message` serializes (each of the three version-0 formats);
/// the SDK's deserializer reads ours back, and a transaction message is not a message.
#[test]
fn offchain_messages_match_the_solana_sdk() {
    use solana_offchain_message::OffchainMessage;
    use tessera_chain::{SchemeId, SignMessage};
    let long = "x".repeat(2000);
    for text in ["Tessera: I own this wallet", "Grüße", long.as_str()] {
        let ours = Solana
            .offchain_message(SchemeId::Ed25519, text.as_bytes())
            .unwrap();
        let sdk = OffchainMessage::new(0, text.as_bytes()).unwrap();
        let SignMessage::Preimage { hash: None, bytes } = &ours else {
            panic!("raw bytes")
        };
        assert_eq!(bytes, &sdk.serialize().unwrap(), "{text}");
        let back = OffchainMessage::deserialize(bytes).unwrap();
        assert_eq!(back.get_message().as_slice(), text.as_bytes());
        assert_eq!(
            Solana
                .read_offchain_message(SchemeId::Ed25519, &ours)
                .as_deref(),
            Some(text.as_bytes())
        );
    }
    let k = key(7);
    let p = payload(official(
        &[sol_transfer(&pk(&k), &[9; 32], 1_000)],
        &pk(&k),
        &[4; 32],
    ));
    let parsed = Solana.parse(NET, k.wallet_key(), &p).unwrap();
    assert_eq!(
        Solana.read_offchain_message(SchemeId::Ed25519, &parsed.messages[0]),
        None
    );
    assert!(Solana
        .offchain_message(SchemeId::Ed25519, &[0xff, 0xfe])
        .is_err());
    assert!(Solana
        .offchain_message(SchemeId::SchnorrBip340, b"x")
        .is_err());
}

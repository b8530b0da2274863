//! Official test vectors through the public API.
//!
//! * BIP-143, "Native P2WPKH" example (its preimage and signature through the adapter's signing
//!   and verification functions: `src/vector_tests.rs`):
//!   <https://github.com/bitcoin/bips/blob/master/bip-0143.mediawiki#native-p2wpkh>
//! * BIP-341 `wallet-test-vectors.json`, `scriptPubKey[0]` (key path only, no script tree):
//!   <https://github.com/bitcoin/bips/blob/master/bip-0341/wallet-test-vectors.json>
//!
//! The BIP-341 `keyPathSpending` sighash vectors spend nine inputs of different keys, some with
//! script trees and other sighash types, so no single wallet could parse that transaction; they
//! are checked against the adapter's internal message and verification functions in the unit
//! tests of `src/vector_tests.rs`.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use std::str::FromStr;

use bitcoin::hashes::Hash;
use bitcoin::psbt::Psbt;
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{consensus, Amount, Script, ScriptBuf, Transaction, TxOut};
use tessera_chain::{
    ChainAdapter, ChainError, MessageHash, Payload, PublicKey, SchemeId, SignMessage, WalletKey,
};
use tessera_chain_bitcoin::Bitcoin;

// --- BIP-143 Native P2WPKH (values copied from the BIP text) ---
const BIP143_UNSIGNED_TX: &str = "0100000002fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f0000000000eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac11000000";
/// Input 0: an ordinary P2PK, 6.25 BTC.
const BIP143_INPUT0_SCRIPT: &str =
    "2103c9f4836b9a4f77fc0d81f7bcb01b7f1b35916864b9476c241ce9fc198bd25432ac";
const BIP143_INPUT0_SAT: u64 = 625_000_000;
/// Input 1: P2WPKH, 6 BTC.
const BIP143_INPUT1_SCRIPT: &str = "00141d0f172a0ecb48aee1be1f2687d2963ae33f71a1";
const BIP143_INPUT1_SAT: u64 = 600_000_000;
const BIP143_INPUT1_PUBKEY: &str =
    "025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee6357";
const BIP143_SIGHASH: &str = "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670";
const BIP143_SIGNED_TX: &str = "01000000000102fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f00000000494830450221008b9d1dc26ba6a9cb62127b02742fa9d754cd3bebf337f7a55d114c8e5cdd30be022040529b194ba3f9281a99f2b1c0a19c0489bc22ede944ccf4ecbab4cc618ef3ed01eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac000247304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee0121025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee635711000000";

// --- BIP-341 wallet-test-vectors.json, scriptPubKey[0] ---
const BIP341_INTERNAL_KEY: &str =
    "d6889cb081036e0faefa3a35157ad71086b123b2b144b649798b494c300a961d";
const BIP341_SCRIPT_PUBKEY: &str =
    "512053a1f6e454df1aa2776a2814a721372d6258050de330b3c6d10ee8f4e0dda343";
const BIP341_ADDRESS: &str = "bc1p2wsldez5mud2yam29q22wgfh9439spgduvct83k3pm50fcxa5dps59h4z5";

fn script(hex_script: &str) -> ScriptBuf {
    ScriptBuf::from_bytes(hex::decode(hex_script).unwrap())
}

fn bip143_tx() -> Transaction {
    consensus::deserialize(&hex::decode(BIP143_UNSIGNED_TX).unwrap()).unwrap()
}

fn bip143_psbt(input0: TxOut) -> Payload {
    let mut psbt = Psbt::from_unsigned_tx(bip143_tx()).unwrap();
    psbt.inputs[0].witness_utxo = Some(input0);
    psbt.inputs[1].witness_utxo = Some(TxOut {
        value: Amount::from_sat(BIP143_INPUT1_SAT),
        script_pubkey: script(BIP143_INPUT1_SCRIPT),
    });
    Payload {
        format: "psbt".into(),
        bytes: psbt.serialize(),
    }
}

fn secp_key(hex_key: &str) -> PublicKey {
    let mut pk = [0u8; 33];
    hex::decode_to_slice(hex_key, &mut pk).unwrap();
    PublicKey::Secp256k1(pk)
}

/// The BIP-143 example as a PSBT spending two coins of the input-1 key (input 0's P2PK prevout
/// replaced by a P2WPKH coin of that key) carries `witness_utxo` only: the BIP does not publish
/// the previous transactions, so nothing proves the amounts, and a P2WPKH wallet refuses it
/// (issue 16: a BIP-143 signature commits to its own input's amount only). The BIP's preimage,
/// sighash and signature are checked against the adapter's signing and verification functions
/// in the unit tests (`src/vector_tests.rs`), and the `bitcoin` crate's sighash agrees here.
#[test]
fn bip143_psbt_without_previous_transactions_is_refused() {
    let pk = secp_key(BIP143_INPUT1_PUBKEY);
    let key = WalletKey {
        scheme: SchemeId::EcdsaDkls23,
        public_key: &pk,
    };
    let payload = bip143_psbt(TxOut {
        value: Amount::from_sat(BIP143_INPUT0_SAT),
        script_pubkey: script(BIP143_INPUT1_SCRIPT),
    });
    let err = Bitcoin.parse("mainnet", key, &payload).unwrap_err();
    assert!(matches!(err, ChainError::Malformed { .. }), "{err:?}");
    assert_eq!(err.field(), Some("psbt.inputs[0].non_witness_utxo"));

    let tx = bip143_tx();
    let mut cache = SighashCache::new(&tx);
    let h = cache
        .p2wpkh_signature_hash(
            1,
            &script(BIP143_INPUT1_SCRIPT),
            Amount::from_sat(BIP143_INPUT1_SAT),
            EcdsaSighashType::All,
        )
        .unwrap();
    assert_eq!(hex::encode(h.to_byte_array()), BIP143_SIGHASH);
}

/// The faithful BIP-143 PSBT (input 0 is P2PK) is refused by type, naming the input.
#[test]
fn bip143_p2pk_input_is_unsupported() {
    let pk = secp_key(BIP143_INPUT1_PUBKEY);
    let key = WalletKey {
        scheme: SchemeId::EcdsaDkls23,
        public_key: &pk,
    };
    let payload = bip143_psbt(TxOut {
        value: Amount::from_sat(BIP143_INPUT0_SAT),
        script_pubkey: script(BIP143_INPUT0_SCRIPT),
    });
    let err = Bitcoin.parse("mainnet", key, &payload).unwrap_err();
    assert!(matches!(err, ChainError::Unsupported { .. }), "{err:?}");
    assert_eq!(
        err.field(),
        Some("psbt.inputs[0].witness_utxo.script_pubkey")
    );
}

/// Bitcoin Core's interpreter accepts the BIP's signed transaction (both inputs) and rejects
/// it with a wrong amount or a damaged signature.
#[test]
fn bip143_signed_tx_verifies_with_core() {
    let raw = hex::decode(BIP143_SIGNED_TX).unwrap();
    let p2pk = script(BIP143_INPUT0_SCRIPT);
    let p2wpkh = script(BIP143_INPUT1_SCRIPT);
    p2pk.verify(0, Amount::from_sat(BIP143_INPUT0_SAT), &raw)
        .unwrap();
    p2wpkh
        .verify(1, Amount::from_sat(BIP143_INPUT1_SAT), &raw)
        .unwrap();
    // BIP-143 commits to the amount.
    assert!(p2wpkh
        .verify(1, Amount::from_sat(BIP143_INPUT1_SAT + 1), &raw)
        .is_err());
    // Damage s in the witness signature.
    let sig_pos = raw
        .windows(8)
        .position(|w| w == hex::decode("573a954c45183315").unwrap().as_slice())
        .unwrap();
    let mut bad = raw.clone();
    bad[sig_pos] ^= 0x01;
    assert!(Script::from_bytes(p2wpkh.as_bytes())
        .verify(1, Amount::from_sat(BIP143_INPUT1_SAT), &bad)
        .is_err());
}

/// BIP-341 scriptPubKey vector 0: a key-path-only Taproot output of the internal key.
#[test]
fn bip341_key_path_address() {
    // An x-only key is the even-y point: compressed prefix 0x02.
    let pk = secp_key(&format!("02{BIP341_INTERNAL_KEY}"));
    let key = WalletKey {
        scheme: SchemeId::SchnorrBip340,
        public_key: &pk,
    };
    let a = Bitcoin.address("mainnet", key).unwrap();
    assert_eq!(a.kind, "p2tr");
    assert_eq!(a.address, BIP341_ADDRESS);
    let parsed = bitcoin::Address::from_str(&a.address)
        .unwrap()
        .assume_checked();
    assert_eq!(
        hex::encode(parsed.script_pubkey().as_bytes()),
        BIP341_SCRIPT_PUBKEY
    );
    // Same script, testnet encoding.
    let t = Bitcoin.address("testnet", key).unwrap();
    assert!(t.address.starts_with("tb1p"), "{}", t.address);
}

/// The plain-message path's Bitcoin format is BIP-322's tagged message hash: the digest every
/// signer computes matches the BIP's published `message_hash("Hello World")`, for the ECDSA
/// profiles and BIP-340 alike; a BIP-143 preimage or a TapSighash message is not a message.
#[test]
fn offchain_messages_are_bip322_message_hashes() {
    // BIP-322, "Test vectors", message hashing.
    const HELLO_WORLD: &str = "f0eb03b1a75ac6d9847f55c624a99169b5dccba2a31f5b23bea77ba270de0a7a";
    for scheme in [
        SchemeId::EcdsaDkls23,
        SchemeId::EcdsaCggmp24,
        SchemeId::SchnorrBip340,
    ] {
        let m = Bitcoin.offchain_message(scheme, b"Hello World").unwrap();
        assert_eq!(hex::encode(m.digest32().unwrap()), HELLO_WORLD, "{scheme}");
        assert_eq!(
            Bitcoin.read_offchain_message(scheme, &m).as_deref(),
            Some(&b"Hello World"[..])
        );
    }
    let sighash_preimage = SignMessage::Preimage {
        hash: Some(MessageHash::DoubleSha256),
        bytes: hex::decode(BIP143_UNSIGNED_TX).unwrap(),
    };
    let tap = SignMessage::Preimage {
        hash: Some(MessageHash::TapSighash),
        bytes: vec![0; 70],
    };
    for m in [sighash_preimage, tap, SignMessage::sha256(vec![1u8; 32])] {
        assert_eq!(
            Bitcoin.read_offchain_message(SchemeId::EcdsaDkls23, &m),
            None
        );
    }
    assert!(Bitcoin.offchain_message(SchemeId::Ed25519, b"x").is_err());
}

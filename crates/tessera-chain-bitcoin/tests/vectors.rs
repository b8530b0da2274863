//! Official test vectors through the public API.
//!
//! * BIP-143, "Native P2WPKH" example:
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
use tessera_chain::conformance::TestKey;
use tessera_chain::{
    ChainAdapter, ChainError, MessageHash, Payload, PublicKey, SchemeId, SignMessage, Signature,
    WalletKey,
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
const BIP143_INPUT1_PRIVKEY: &str =
    "619c335025c7f4012e556c2a58b2506e30b8511b53ade95ea316fd8c3286feb9";
const BIP143_INPUT1_PUBKEY: &str =
    "025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee6357";
const BIP143_PREIMAGE: &str = "0100000096b827c8483d4e9b96712b6713a7b68d6e8003a781feba36c31143470b4efd3752b0a642eea2fb7ae638c36f6252b6750293dbe574a806984b8e4d8548339a3bef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a010000001976a9141d0f172a0ecb48aee1be1f2687d2963ae33f71a188ac0046c32300000000ffffffff863ef3e1a92afbfdb97f31ad0fc7683ee943e9abcf2501590ff8f6551f47e5e51100000001000000";
const BIP143_SIGHASH: &str = "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670";
const BIP143_SIGNATURE: &str = "304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee";
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

/// The BIP-143 example as a PSBT spending two coins of the input-1 key. Input 0's prevout is
/// replaced by a P2WPKH coin of that key (the real one is a P2PK the wallet cannot spend): a
/// BIP-143 preimage commits to the *other* inputs only through their outpoints and sequences,
/// which are unchanged, so input 1's preimage and sighash are exactly the BIP's.
#[test]
fn bip143_native_p2wpkh_sighash_through_parse() {
    let pk = secp_key(BIP143_INPUT1_PUBKEY);
    let key = WalletKey {
        scheme: SchemeId::EcdsaDkls23,
        public_key: &pk,
    };
    let payload = bip143_psbt(TxOut {
        value: Amount::from_sat(BIP143_INPUT0_SAT),
        script_pubkey: script(BIP143_INPUT1_SCRIPT),
    });
    let parsed = Bitcoin.parse("mainnet", key, &payload).unwrap();
    assert_eq!(parsed.messages.len(), 2);
    let SignMessage::Preimage { hash, bytes } = &parsed.messages[1] else {
        panic!("expected a preimage")
    };
    assert_eq!(*hash, Some(MessageHash::DoubleSha256));
    assert_eq!(hex::encode(bytes), BIP143_PREIMAGE, "BIP-143 preimage");
    let digest = parsed.messages[1].digest32().unwrap();
    assert_eq!(hex::encode(digest), BIP143_SIGHASH, "BIP-143 sigHash");

    // And the `bitcoin` crate's own sighash agrees, for both inputs.
    let tx = bip143_tx();
    let mut cache = SighashCache::new(&tx);
    for i in 0..2 {
        let amount = [BIP143_INPUT0_SAT, BIP143_INPUT1_SAT][i];
        let h = cache
            .p2wpkh_signature_hash(
                i,
                &script(BIP143_INPUT1_SCRIPT),
                Amount::from_sat(amount),
                EcdsaSighashType::All,
            )
            .unwrap();
        assert_eq!(parsed.messages[i].digest32().unwrap(), h.to_byte_array());
    }
}

/// Signing the BIP-143 example with its own private key reproduces the BIP's signature (both
/// are RFC 6979 deterministic ECDSA, low-s), and the finalized transaction verifies.
#[test]
fn bip143_signature_and_finalize() {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(BIP143_INPUT1_PRIVKEY, &mut seed).unwrap();
    let signer = TestKey::from_seed(SchemeId::EcdsaCggmp24, seed);
    assert_eq!(signer.public_key(), &secp_key(BIP143_INPUT1_PUBKEY));
    let key = signer.wallet_key();
    let payload = bip143_psbt(TxOut {
        value: Amount::from_sat(BIP143_INPUT0_SAT),
        script_pubkey: script(BIP143_INPUT1_SCRIPT),
    });
    let parsed = Bitcoin.parse("mainnet", key, &payload).unwrap();
    let sigs: Vec<Signature> = parsed.messages.iter().map(|m| signer.sign(m)).collect();
    let signed = Bitcoin.finalize("mainnet", key, &payload, &sigs).unwrap();
    Bitcoin.verify("mainnet", key, &payload, &signed).unwrap();

    let tx: Transaction = consensus::deserialize(&signed.bytes).unwrap();
    let mut expected_sig = hex::decode(BIP143_SIGNATURE).unwrap();
    expected_sig.push(0x01); // SIGHASH_ALL
    assert_eq!(tx.input[1].witness.nth(0).unwrap(), expected_sig.as_slice());
    assert_eq!(
        hex::encode(tx.input[1].witness.nth(1).unwrap()),
        BIP143_INPUT1_PUBKEY
    );
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

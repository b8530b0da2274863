//! Helpers shared by the integration tests.
#![allow(dead_code)]

use bitcoin::secp256k1::{PublicKey as SecpPublicKey, Secp256k1};
use bitcoin::{Address, CompressedPublicKey, Network};
use serde_json::{json, Value};
use tessera_chain::{ChainAdapter, Payload, WalletKey};
use tessera_chain_bitcoin::Bitcoin;

/// The secp256k1 generator G and 2G, compressed: stand-ins for other people's keys.
pub const G: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
pub const G2: &str = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";

pub fn bitcoin_network(name: &str) -> Network {
    match name {
        "mainnet" => Network::Bitcoin,
        "testnet" => Network::Testnet,
        "regtest" => Network::Regtest,
        other => panic!("unknown network {other}"),
    }
}

fn secp_key(hex_key: &str) -> SecpPublicKey {
    SecpPublicKey::from_slice(&hex::decode(hex_key).unwrap()).unwrap()
}

/// Someone else's P2WPKH address on `network`.
pub fn foreign_p2wpkh(network: &str) -> String {
    Address::p2wpkh(&CompressedPublicKey(secp_key(G)), bitcoin_network(network)).to_string()
}

/// Someone else's P2TR address on `network`.
pub fn foreign_p2tr(network: &str) -> String {
    let secp = Secp256k1::verification_only();
    let (x, _) = secp_key(G2).x_only_public_key();
    Address::p2tr(&secp, x, None, bitcoin_network(network)).to_string()
}

/// Someone else's legacy P2PKH address on `network` (base58).
pub fn foreign_p2pkh(network: &str) -> String {
    let key = bitcoin::PublicKey::new(secp_key(G));
    Address::p2pkh(key.pubkey_hash(), bitcoin_network(network)).to_string()
}

/// A txid made of one repeated byte.
pub fn txid(byte: u8) -> String {
    hex::encode([byte; 32])
}

/// 1 input → 1 payment + change (fee 1410 sat).
pub fn spec_one_in_payment_and_change(network: &str, key: WalletKey<'_>) -> Value {
    let me = Bitcoin.address(network, key).unwrap().address;
    json!({
        "inputs": [{"txid": txid(0x11), "vout": 0, "amount_sat": 100_000}],
        "outputs": [
            {"address": foreign_p2wpkh(network), "amount_sat": 90_000},
            {"address": me, "amount_sat": 8_590}
        ]
    })
}

/// 2 inputs → 2 payments (P2TR and P2PKH), no change (fee 5000 sat).
pub fn spec_two_in_two_out(network: &str) -> Value {
    json!({
        "inputs": [
            {"txid": txid(0x22), "vout": 1, "amount_sat": 50_000},
            {"txid": txid(0x33), "vout": 7, "amount_sat": "70000"}
        ],
        "outputs": [
            {"address": foreign_p2tr(network), "amount_sat": 60_000},
            {"address": foreign_p2pkh(network), "amount_sat": 55_000}
        ]
    })
}

/// An OP_RETURN and change, lock time set, RBF off (fee 1000 sat).
pub fn spec_op_return(network: &str, key: WalletKey<'_>) -> Value {
    let me = Bitcoin.address(network, key).unwrap().address;
    json!({
        "inputs": [{"txid": txid(0x44), "vout": 2, "amount_sat": 30_000}],
        "outputs": [
            {"script_hex": "6a0b68656c6c6f20776f726c64", "amount_sat": 0},
            {"address": me, "amount_sat": 29_000}
        ],
        "locktime": 800_000,
        "rbf": false
    })
}

pub fn build(network: &str, key: WalletKey<'_>, spec: &Value) -> Payload {
    Bitcoin
        .build(network, key, spec)
        .unwrap_or_else(|e| panic!("build {spec}: {e}"))
}

/// A PSBT spending `prevouts` (as `witness_utxo`, distinct made-up outpoints) to `outputs`.
pub fn manual_psbt(prevouts: &[bitcoin::TxOut], outputs: &[bitcoin::TxOut]) -> bitcoin::psbt::Psbt {
    use bitcoin::{OutPoint, ScriptBuf, Sequence, Transaction, TxIn, Txid, Witness};
    use std::str::FromStr;
    let tx = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: (0..prevouts.len())
            .map(|i| TxIn {
                previous_output: OutPoint {
                    txid: Txid::from_str(&txid(0xa0 + i as u8)).unwrap(),
                    vout: i as u32,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs.to_vec(),
    };
    let mut psbt = bitcoin::psbt::Psbt::from_unsigned_tx(tx).unwrap();
    for (input, prevout) in psbt.inputs.iter_mut().zip(prevouts) {
        input.witness_utxo = Some(prevout.clone());
    }
    psbt
}

pub fn payload(psbt: &bitcoin::psbt::Psbt) -> Payload {
    Payload {
        format: "psbt".into(),
        bytes: psbt.serialize(),
    }
}

/// The output script of `address` (any network).
pub fn script_of(address: &str) -> bitcoin::ScriptBuf {
    use std::str::FromStr;
    bitcoin::Address::from_str(address)
        .unwrap()
        .assume_checked()
        .script_pubkey()
}

pub fn txout(address: &str, sat: u64) -> bitcoin::TxOut {
    bitcoin::TxOut {
        value: bitcoin::Amount::from_sat(sat),
        script_pubkey: script_of(address),
    }
}

/// A deterministic test key.
pub fn test_key(scheme: tessera_chain::SchemeId, byte: u8) -> tessera_chain::conformance::TestKey {
    tessera_chain::conformance::TestKey::from_seed(scheme, [byte; 32])
}

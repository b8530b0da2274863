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

/// A previous transaction whose output `vout` pays `sat` to `script` (outputs before it pay
/// 1000 sat to someone else); `tag` makes it unique. Its txid is what an input spending that
/// coin names.
pub fn prev_tx(tag: u8, vout: u32, script: &bitcoin::ScriptBuf, sat: u64) -> bitcoin::Transaction {
    use bitcoin::{OutPoint, ScriptBuf, Sequence, TxIn, Txid, Witness};
    use std::str::FromStr;
    let other = script_of(&foreign_p2wpkh("mainnet"));
    let mut output: Vec<bitcoin::TxOut> = (0..vout)
        .map(|_| bitcoin::TxOut {
            value: bitcoin::Amount::from_sat(1_000),
            script_pubkey: other.clone(),
        })
        .collect();
    output.push(bitcoin::TxOut {
        value: bitcoin::Amount::from_sat(sat),
        script_pubkey: script.clone(),
    });
    bitcoin::Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::from_str(&txid(tag)).unwrap(),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output,
    }
}

/// A builder input spending a coin of `sat` paid to the wallet at `vout` of a previous
/// transaction made with [`prev_tx`] (`tag`), with that transaction as `prev_tx_hex`.
pub fn coin(network: &str, key: WalletKey<'_>, tag: u8, vout: u32, sat: u64) -> Value {
    let me = Bitcoin.address(network, key).unwrap().address;
    let prev = prev_tx(tag, vout, &script_of(&me), sat);
    json!({
        "txid": prev.compute_txid().to_string(),
        "vout": vout,
        "amount_sat": sat,
        "prev_tx_hex": bitcoin::consensus::encode::serialize_hex(&prev),
    })
}

/// The outpoint (`txid:vout`) of a [`coin`].
pub fn coin_outpoint(network: &str, key: WalletKey<'_>, tag: u8, vout: u32, sat: u64) -> String {
    let c = coin(network, key, tag, vout, sat);
    format!("{}:{vout}", c["txid"].as_str().unwrap())
}

/// 1 input → 1 payment + change (fee 1410 sat).
pub fn spec_one_in_payment_and_change(network: &str, key: WalletKey<'_>) -> Value {
    let me = Bitcoin.address(network, key).unwrap().address;
    json!({
        "inputs": [coin(network, key, 0x11, 0, 100_000)],
        "outputs": [
            {"address": foreign_p2wpkh(network), "amount_sat": 90_000},
            {"address": me, "amount_sat": 8_590}
        ]
    })
}

/// 2 inputs → 2 payments (P2TR and P2PKH), no change (fee 5000 sat).
pub fn spec_two_in_two_out(network: &str, key: WalletKey<'_>) -> Value {
    let mut second = coin(network, key, 0x33, 7, 70_000);
    second["amount_sat"] = json!("70000");
    json!({
        "inputs": [coin(network, key, 0x22, 1, 50_000), second],
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
        "inputs": [coin(network, key, 0x44, 2, 30_000)],
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

/// A PSBT spending `prevouts` to `outputs`: input `i` spends output `i` of its own previous
/// transaction ([`prev_tx`], tag `0xa0 + i`), carried both as `non_witness_utxo` and as
/// `witness_utxo`.
pub fn manual_psbt(prevouts: &[bitcoin::TxOut], outputs: &[bitcoin::TxOut]) -> bitcoin::psbt::Psbt {
    use bitcoin::{OutPoint, ScriptBuf, Sequence, Transaction, TxIn, Witness};
    let prev: Vec<Transaction> = prevouts
        .iter()
        .enumerate()
        .map(|(i, p)| prev_tx(0xa0 + i as u8, i as u32, &p.script_pubkey, p.value.to_sat()))
        .collect();
    let tx = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: prev
            .iter()
            .enumerate()
            .map(|(i, p)| TxIn {
                previous_output: OutPoint {
                    txid: p.compute_txid(),
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
    for ((input, prevout), p) in psbt.inputs.iter_mut().zip(prevouts).zip(prev) {
        input.witness_utxo = Some(prevout.clone());
        input.non_witness_utxo = Some(p);
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

//! Synthetic coins for demos and tests: a made-up previous transaction that pays an address, to
//! fill a builder spec's `inputs[i]` (`txid`, `vout`, `amount_sat`, `prev_tx_hex`) where no
//! real coin exists. A P2WPKH spend needs the transaction that created its coin
//! (`non_witness_utxo`); the demo signs transactions it never broadcasts, so it spends coins of
//! this kind. A transaction spending one is valid only against that made-up history: never use
//! them for anything that reaches a chain.

use bitcoin::absolute::LockTime;
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use serde_json::{json, Value};
use tessera_chain::Result;

use crate::builder::output_address;
use crate::network;

/// A coin paying `address` on `network` (`mainnet`, `testnet`, `regtest`) `amount_sat`, created
/// by a one-output transaction that spends a made-up outpoint derived from `tag` (different
/// tags give different coins). Returns the builder spec input for it.
pub fn synthetic_coin(
    network_name: &str,
    address: &str,
    amount_sat: u64,
    tag: u8,
) -> Result<Value> {
    let net = network(network_name)?;
    let script: ScriptBuf = output_address(&json!(address), "address", network_name, net)?;
    let prev = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::from_raw_hash(bitcoin::hashes::Hash::from_byte_array([tag; 32])),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(amount_sat),
            script_pubkey: script,
        }],
    };
    Ok(json!({
        "txid": prev.compute_txid().to_string(),
        "vout": 0,
        "amount_sat": amount_sat,
        "prev_tx_hex": hex::encode(bitcoin::consensus::serialize(&prev)),
    }))
}

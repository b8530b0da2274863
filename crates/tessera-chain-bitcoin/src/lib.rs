//! Bitcoin chain adapter for Tessera: P2WPKH (ECDSA wallets) and P2TR key-path (BIP-340
//! wallets) addresses, unsigned PSBT v0 in, signed transactions out.
//!
//! Every cryptographic and encoding step comes from the `bitcoin` crate (addresses, PSBT,
//! BIP-143 / BIP-341 signature messages, witnesses) and from Bitcoin Core's script interpreter
//! (`libbitcoinconsensus`, through `bitcoin`'s `bitcoinconsensus` feature); this crate only
//! decides what a wallet may sign and checks that the result is exactly what was asked for.
//!
//! # Wallets and addresses
//!
//! | scheme | address (`kind`) | spends |
//! |---|---|---|
//! | `ecdsa-secp256k1/dkls23`, `ecdsa-secp256k1/cggmp24` | P2WPKH of the compressed key (`p2wpkh`) | P2WPKH outputs of that key, SIGHASH_ALL |
//! | `schnorr-bip340` | P2TR, key path only, no script tree (`p2tr`) | P2TR outputs of that key, SIGHASH_DEFAULT (or ALL if the PSBT asks) |
//!
//! For `schnorr-bip340` the wallet key is the BIP-341 *internal* key; the output key is its
//! taproot tweak with no merkle root. Ed25519 wallets are refused with
//! [`ChainError::Unsupported`]. Networks: `mainnet`, `testnet`, `regtest`.
//!
//! # Payloads
//!
//! The only payload format is `psbt`: the binary bytes of a PSBT version 0 (the API decodes the
//! base64 text form before the adapter sees it). Every input must carry its prevout and pay the
//! wallet's own script:
//!
//! * a **P2WPKH** input must carry `non_witness_utxo`, the whole previous transaction: its txid
//!   must be the outpoint's and its output `vout` is the coin (equal to `witness_utxo` when that
//!   is present too). A BIP-143 signature commits to its own input's amount only, so with
//!   `witness_utxo` alone two requests could each understate a different input and their
//!   signatures combine into a transaction whose real fee neither request showed (the 2020
//!   hardware-wallet fee attack);
//! * a **P2TR** input may carry `witness_utxo` only (or `non_witness_utxo`, checked the same
//!   way): a BIP-341 signature commits to the amount and script of every input, so a wrong
//!   amount only makes the signature invalid.
//!
//! [`ChainAdapter::parse`] returns one message per input, in input order:
//!
//! * P2WPKH: `SignMessage::Preimage { hash: Some(DoubleSha256), bytes }`, `bytes` the BIP-143
//!   signature preimage;
//! * P2TR: `SignMessage::Preimage { hash: Some(TapSighash), bytes }`, `bytes` the BIP-341
//!   signature message including its leading epoch byte `0x00`.
//!
//! Signers therefore hash what they sign themselves; nobody hands them a raw digest.
//!
//! # Builder spec
//!
//! [`ChainAdapter::build`] turns a JSON spec into a deterministic unsigned PSBT v0 (transaction
//! version 2) spending coins of the wallet: each input gets `witness_utxo` = the wallet's script
//! and the given amount, `non_witness_utxo` = the previous transaction when given (always, for
//! P2WPKH), and, for P2TR, `tap_internal_key`.
//!
//! ```json
//! {
//!   "inputs": [
//!     { "txid": "<64 hex, display order>", "vout": 0, "amount_sat": 100000,
//!       "prev_tx_hex": "<the transaction that created the coin, consensus hex>" }
//!   ],
//!   "outputs": [
//!     { "address": "tb1q…", "amount_sat": 90000 },
//!     { "script_hex": "6a0b68656c6c6f20776f726c64", "amount_sat": 0 }
//!   ],
//!   "locktime": 0,
//!   "rbf": true
//! }
//! ```
//!
//! * `inputs` (required, non-empty): coins of *this* wallet. `txid` in the usual display (RPC)
//!   byte order, `vout` a `u32`, `amount_sat` the coin's value in satoshi (a JSON integer or a
//!   decimal string). `prev_tx_hex` is required for a P2WPKH wallet and optional for P2TR: its
//!   txid must be `txid`, and its output `vout` must pay `amount_sat` to the wallet (otherwise
//!   `Malformed` naming `prev_tx_hex`, `vout` or `amount_sat`, or `NotOwned`). The same outpoint
//!   twice is refused.
//! * `outputs` (required, non-empty): each has `amount_sat` and exactly one of `address` (must be
//!   an address of the requested network, otherwise [`ChainError::WrongNetwork`]) or
//!   `script_hex` (a raw output script, e.g. an `OP_RETURN`). Change is simply an output to the
//!   wallet's own address.
//! * `locktime` (optional, default 0): the transaction's `nLockTime`.
//! * `rbf` (optional, default `true`): every input's `nSequence` is `0xfffffffd` (BIP-125
//!   replaceable) when true, `0xfffffffe` (final for RBF, lock time enabled) when false.
//!
//! Unknown fields are refused. Every other refusal is [`ChainError::Malformed`] naming the field
//! (`inputs[1].txid`, `outputs[0].amount_sat`, …), including outputs worth more than the inputs,
//! except an address of another network ([`ChainError::WrongNetwork`]) and a previous
//! transaction whose output does not pay the wallet ([`ChainError::NotOwned`]).
//!
//! Example, regtest, an ECDSA wallet spending one coin to another address with change:
//!
//! ```
//! use tessera_chain::{ChainAdapter, PublicKey, SchemeId, WalletKey};
//! use tessera_chain_bitcoin::Bitcoin;
//!
//! fn key(hex_key: &str) -> PublicKey {
//!     let mut pk = [0u8; 33];
//!     hex::decode_to_slice(hex_key, &mut pk).unwrap();
//!     PublicKey::Secp256k1(pk)
//! }
//! // Stand-in public keys: the secp256k1 generator G and 2G.
//! let pk = key("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
//! let other = key("02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5");
//! let key = WalletKey { scheme: SchemeId::EcdsaDkls23, public_key: &pk };
//! let other = WalletKey { scheme: SchemeId::SchnorrBip340, public_key: &other };
//! let me = Bitcoin.address("regtest", key).unwrap().address;
//! let them = Bitcoin.address("regtest", other).unwrap().address; // a bcrt1p… address
//! // The transaction that paid the wallet the coin (100000 sat, its output 1): a P2WPKH input
//! // needs it.
//! let mine: bitcoin::Address<_> = me.parse().unwrap();
//! let pays = |sat| bitcoin::TxOut {
//!     value: bitcoin::Amount::from_sat(sat),
//!     script_pubkey: mine.clone().assume_checked().script_pubkey(),
//! };
//! let prev = bitcoin::Transaction {
//!     version: bitcoin::transaction::Version::TWO,
//!     lock_time: bitcoin::absolute::LockTime::ZERO,
//!     input: vec![bitcoin::TxIn::default()],
//!     output: vec![pays(5000), pays(100000)],
//! };
//! let spec = serde_json::json!({
//!     "inputs": [{ "txid": prev.compute_txid().to_string(), "vout": 1, "amount_sat": 100000,
//!                  "prev_tx_hex": bitcoin::consensus::encode::serialize_hex(&prev) }],
//!     "outputs": [
//!         { "address": them, "amount_sat": 90000 },
//!         { "address": me, "amount_sat": 8590 }
//!     ]
//! });
//! let payload = Bitcoin.build("regtest", key, &spec).unwrap();
//! let parsed = Bitcoin.parse("regtest", key, &payload).unwrap();
//! assert_eq!(parsed.messages.len(), 1);
//! assert!(parsed.intent.fee.unwrap().detail.starts_with("1410 sat, "));
//! ```
//!
//! # Intent
//!
//! `source` is the wallet address; `inputs` lists every coin spent (`txid:vout`, amount,
//! address); outputs paying the wallet's own script are `change`, every other output a
//! `transfer` of `BTC` (8 decimals) to its address in the requested network's encoding, or to
//! `script:<hex>` when the script has no address form (`OP_RETURN`, bare scripts). `fee` is
//! exact (inputs − outputs) and its detail reads `"<fee> sat, <rate> sat/vB"`, the rate over the
//! estimated virtual size of the signed transaction (P2WPKH signatures counted at their largest
//! low-s size, 72 bytes with the sighash byte, so the rate is a lower bound by at most a byte per
//! input). [`RiskFlag::HighFee`] is raised when the fee is over 10 % of the value sent to others
//! (so for any fee of a transaction that sends nothing to others) or over 1000 sat/vB.
//!
//! # Refusals
//!
//! Every error names its field:
//!
//! | case | error | field |
//! |---|---|---|
//! | bytes are not a PSBT v0 (or have trailing bytes) | `Malformed` | `psbt` |
//! | input without its prevout | `Malformed` | `psbt.inputs[i].witness_utxo` |
//! | P2WPKH input without its previous transaction | `Malformed` | `psbt.inputs[i].non_witness_utxo` |
//! | `non_witness_utxo` of another transaction / output | `Malformed` | `psbt.inputs[i].non_witness_utxo` |
//! | the wallet's output type, another key | `NotOwned` | `psbt.inputs[i]` |
//! | another output type (P2PKH, P2SH, P2WSH, P2TR for ECDSA, …) | `Unsupported` | `psbt.inputs[i].witness_utxo.script_pubkey` |
//! | sighash type other than ALL (P2WPKH) / DEFAULT, ALL (P2TR) | `Unsupported` | `psbt.inputs[i].sighash_type` |
//! | P2TR input with a script tree / another internal key | `Unsupported` / `Malformed` | `psbt.inputs[i].tap_merkle_root` / `.tap_internal_key` |
//! | the same outpoint twice | `Malformed` | `psbt.unsigned_tx.inputs[i]` |
//! | outputs worth more than the inputs | `Malformed` | `psbt.unsigned_tx.outputs` |
//! | transaction version other than 1, 2, 3 | `Unsupported` | `psbt.unsigned_tx.version` |
//! | unknown payload format / network / scheme | `Unsupported` | `format` / `network` / `scheme` |
//!
//! # Signed transactions
//!
//! [`ChainAdapter::finalize`] takes one signature per message (ECDSA `r,s` for P2WPKH, made
//! low-s and DER-encoded with SIGHASH_ALL; a 64-byte BIP-340 signature for P2TR) and returns a
//! [`SignedTransaction`] with `format` `bitcoin_tx`, the consensus-serialized transaction,
//! `txid`, and `details`:
//!
//! ```json
//! {
//!   "kind": "p2wpkh",
//!   "prevouts": [ { "script_pubkey_hex": "0014…", "amount_sat": 100000 } ],
//!   "psbt_base64": "cHNidP8B…"
//! }
//! ```
//!
//! `prevouts` has one entry per input, in input order; `psbt_base64` is the finalized PSBT
//! (`final_script_witness` set, the signing fields cleared as BIP-174's finalizer does).
//!
//! [`ChainAdapter::verify`] decodes the signed bytes, checks they are exactly the payload's
//! unsigned transaction plus witnesses, and runs Bitcoin Core's interpreter on every input.
//! `libbitcoinconsensus` 0.105 (Core 25.1) has no Taproot flag and no way to pass the spent
//! outputs, so for a witness v1 program it returns success without looking at the witness; P2TR
//! signatures are therefore checked with libsecp256k1's BIP-340 verification against the output
//! key in the prevout script and the BIP-341 sighash computed by `bitcoin`'s `SighashCache`.
//!
//! [`RiskFlag::HighFee`]: tessera_chain::RiskFlag::HighFee
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod analyse;
mod builder;
mod offchain;
mod sign;
mod synthetic;
mod wallet;

#[cfg(test)]
mod vector_tests;

use bitcoin::Network;
use tessera_chain::{
    check_request, Address, ChainAdapter, ChainError, Parsed, Payload, Result, SchemeId,
    SignMessage, Signature, SignedTransaction, WalletKey,
};

pub use crate::synthetic::synthetic_coin;
use crate::wallet::Wallet;

/// Chain id.
pub const CHAIN: &str = "bitcoin";
/// The payload format [`Bitcoin`] parses: PSBT v0, binary.
pub const FORMAT_PSBT: &str = "psbt";
/// Format of [`SignedTransaction::bytes`]: a consensus-serialized (segwit) transaction.
pub const FORMAT_SIGNED_TX: &str = "bitcoin_tx";

const NETWORKS: &[&str] = &["mainnet", "testnet", "regtest"];
const SCHEMES: &[SchemeId] = &[
    SchemeId::EcdsaDkls23,
    SchemeId::EcdsaCggmp24,
    SchemeId::SchnorrBip340,
];
const FORMATS: &[&str] = &[FORMAT_PSBT];

/// The Bitcoin adapter (stateless). See the crate documentation for what it accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bitcoin;

/// The `bitcoin` crate's network for one of our network names.
fn network(name: &str) -> Result<Network> {
    match name {
        "mainnet" => Ok(Network::Bitcoin),
        "testnet" => Ok(Network::Testnet),
        "regtest" => Ok(Network::Regtest),
        other => Err(ChainError::unsupported(
            "network",
            format!("bitcoin has no network {other:?}"),
        )),
    }
}

fn check_format(payload: &Payload) -> Result<()> {
    if payload.format == FORMAT_PSBT {
        Ok(())
    } else {
        Err(ChainError::unsupported(
            "format",
            format!(
                "bitcoin payloads are {FORMAT_PSBT:?} (PSBT v0 bytes), not {:?}",
                payload.format
            ),
        ))
    }
}

/// The checks every public method starts with; returns the network and the wallet.
fn request(adapter: &Bitcoin, network_name: &str, key: WalletKey<'_>) -> Result<(Network, Wallet)> {
    check_request(adapter, network_name, key)?;
    let net = network(network_name)?;
    let wallet = Wallet::new(net, key)?;
    Ok((net, wallet))
}

impl ChainAdapter for Bitcoin {
    fn chain(&self) -> &'static str {
        CHAIN
    }

    fn networks(&self) -> &'static [&'static str] {
        NETWORKS
    }

    fn schemes(&self) -> &'static [SchemeId] {
        SCHEMES
    }

    fn formats(&self) -> &'static [&'static str] {
        FORMATS
    }

    fn payload_binds_network(&self, _format: &str) -> bool {
        // Output scripts do not encode the network; the intent shows addresses in the encoding
        // of the network the caller asked for.
        false
    }

    fn address(&self, network: &str, key: WalletKey<'_>) -> Result<Address> {
        let (_, wallet) = request(self, network, key)?;
        Ok(Address {
            address: wallet.address.to_string(),
            kind: wallet.kind.name().to_string(),
        })
    }

    fn build(
        &self,
        network: &str,
        key: WalletKey<'_>,
        spec: &serde_json::Value,
    ) -> Result<Payload> {
        let (net, wallet) = request(self, network, key)?;
        builder::build(network, net, &wallet, spec)
    }

    fn parse(&self, network: &str, key: WalletKey<'_>, payload: &Payload) -> Result<Parsed> {
        let (net, wallet) = request(self, network, key)?;
        check_format(payload)?;
        Ok(analyse::analyse(network, net, &wallet, &payload.bytes)?.parsed)
    }

    fn finalize(
        &self,
        network: &str,
        key: WalletKey<'_>,
        payload: &Payload,
        signatures: &[Signature],
    ) -> Result<SignedTransaction> {
        let (net, wallet) = request(self, network, key)?;
        check_format(payload)?;
        let analysis = analyse::analyse(network, net, &wallet, &payload.bytes)?;
        sign::finalize(network, &wallet, analysis, signatures)
    }

    fn offchain_message(&self, scheme: SchemeId, text: &[u8]) -> Result<SignMessage> {
        offchain::wrap(scheme, text)
    }

    fn read_offchain_message(&self, scheme: SchemeId, message: &SignMessage) -> Option<Vec<u8>> {
        offchain::read(scheme, message)
    }

    fn verify(
        &self,
        network: &str,
        key: WalletKey<'_>,
        payload: &Payload,
        signed: &SignedTransaction,
    ) -> Result<()> {
        let (net, wallet) = request(self, network, key)?;
        check_format(payload)?;
        let analysis = analyse::analyse(network, net, &wallet, &payload.bytes)?;
        sign::verify(network, &wallet, &analysis, signed)
    }
}

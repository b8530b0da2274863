//! The JSON builder: spec → unsigned PSBT v0 (format documented in the crate docs).

use std::collections::BTreeSet;
use std::str::FromStr;

use bitcoin::absolute::LockTime;
use bitcoin::address::NetworkUnchecked;
use bitcoin::psbt::Psbt;
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount as BtcAmount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Txid, Witness,
};
use serde_json::{Map, Value};
use tessera_chain::{ChainError, Payload, Result};

use crate::analyse::analyse;
use crate::wallet::{Kind, Wallet};
use crate::FORMAT_PSBT;

/// Networks an address may be valid for, to name the one a wrong address belongs to.
const KNOWN_NETWORKS: &[(&str, Network)] = &[
    ("mainnet", Network::Bitcoin),
    ("testnet", Network::Testnet),
    ("regtest", Network::Regtest),
    ("signet", Network::Signet),
];

pub(crate) fn build(
    network_name: &str,
    network: Network,
    wallet: &Wallet,
    spec: &Value,
) -> Result<Payload> {
    let spec = object(spec, "spec")?;
    only_fields(spec, "", &["inputs", "outputs", "locktime", "rbf"])?;

    let locktime = match spec.get("locktime") {
        None => 0,
        Some(v) => u32::try_from(integer(v, "locktime")?)
            .map_err(|_| ChainError::malformed("locktime", "must fit in 32 bits"))?,
    };
    let rbf = match spec.get("rbf") {
        None => true,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| ChainError::malformed("rbf", "expected true or false"))?,
    };
    let sequence = if rbf {
        Sequence::ENABLE_RBF_NO_LOCKTIME
    } else {
        Sequence::ENABLE_LOCKTIME_NO_RBF
    };

    let inputs = non_empty_array(spec.get("inputs"), "inputs")?;
    let mut txins = Vec::with_capacity(inputs.len());
    let mut coins = Vec::with_capacity(inputs.len());
    let mut seen = BTreeSet::new();
    let mut total_in: u64 = 0;
    for (i, v) in inputs.iter().enumerate() {
        let coin = spec_input(i, v, wallet)?;
        if !seen.insert(coin.outpoint) {
            return Err(ChainError::malformed(
                format!("inputs[{i}]"),
                format!("{} is spent twice", coin.outpoint),
            ));
        }
        total_in = total_in
            .checked_add(coin.amount)
            .filter(|t| *t <= BtcAmount::MAX_MONEY.to_sat())
            .ok_or_else(|| ChainError::malformed("inputs", "more than 21 million BTC in total"))?;
        txins.push(TxIn {
            previous_output: coin.outpoint,
            script_sig: ScriptBuf::new(),
            sequence,
            witness: Witness::new(),
        });
        coins.push(coin);
    }

    let outputs = non_empty_array(spec.get("outputs"), "outputs")?;
    let mut txouts = Vec::with_capacity(outputs.len());
    let mut total_out: u64 = 0;
    for (j, v) in outputs.iter().enumerate() {
        let field = format!("outputs[{j}]");
        let output = object(v, &field)?;
        only_fields(output, &field, &["address", "script_hex", "amount_sat"])?;
        let script_pubkey = match (output.get("address"), output.get("script_hex")) {
            (Some(a), None) => {
                output_address(a, &format!("{field}.address"), network_name, network)?
            }
            (None, Some(s)) => {
                let f = format!("{field}.script_hex");
                let s = s
                    .as_str()
                    .ok_or_else(|| ChainError::malformed(&f, "expected a hex string"))?;
                ScriptBuf::from_bytes(hex::decode(s).map_err(|e| ChainError::malformed(&f, e))?)
            }
            _ => {
                return Err(ChainError::malformed(
                    field,
                    "needs exactly one of address or script_hex",
                ))
            }
        };
        let value = amount(
            required(output, "amount_sat", &field)?,
            &format!("{field}.amount_sat"),
        )?;
        total_out = total_out
            .checked_add(value)
            .filter(|t| *t <= BtcAmount::MAX_MONEY.to_sat())
            .ok_or_else(|| ChainError::malformed("outputs", "more than 21 million BTC in total"))?;
        txouts.push(TxOut {
            value: BtcAmount::from_sat(value),
            script_pubkey,
        });
    }
    if total_out > total_in {
        return Err(ChainError::malformed(
            "outputs",
            format!("the outputs ({total_out} sat) exceed the inputs ({total_in} sat)"),
        ));
    }

    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(locktime),
        input: txins,
        output: txouts,
    };
    let mut psbt = Psbt::from_unsigned_tx(tx).map_err(|e| ChainError::malformed("spec", e))?;
    for (input, coin) in psbt.inputs.iter_mut().zip(coins) {
        input.witness_utxo = Some(TxOut {
            value: BtcAmount::from_sat(coin.amount),
            script_pubkey: wallet.script.clone(),
        });
        input.non_witness_utxo = coin.prev_tx;
        if wallet.kind == Kind::P2tr {
            input.tap_internal_key = Some(wallet.internal);
        }
    }
    let bytes = psbt.serialize();
    // What we build must be what we parse.
    analyse(network_name, network, wallet, &bytes)?;
    Ok(Payload {
        format: FORMAT_PSBT.to_string(),
        bytes,
    })
}

/// A coin the spec spends.
struct Coin {
    outpoint: OutPoint,
    amount: u64,
    /// The transaction that created it, when given (required for P2WPKH wallets).
    prev_tx: Option<Transaction>,
}

/// `inputs[i]`: `txid`, `vout`, `amount_sat`, and `prev_tx_hex` (required for a P2WPKH wallet,
/// whose PSBT inputs must carry `non_witness_utxo`; see `analyse::check_amount_proven`).
fn spec_input(i: usize, v: &Value, wallet: &Wallet) -> Result<Coin> {
    let field = format!("inputs[{i}]");
    let input = object(v, &field)?;
    only_fields(
        input,
        &field,
        &["txid", "vout", "amount_sat", "prev_tx_hex"],
    )?;
    let txid_field = format!("{field}.txid");
    let txid = input
        .get("txid")
        .and_then(Value::as_str)
        .ok_or_else(|| ChainError::malformed(&txid_field, "expected a hex string"))
        .and_then(|s| {
            Txid::from_str(s).map_err(|e| {
                ChainError::malformed(&txid_field, format!("not a 64-digit hex txid: {e}"))
            })
        })?;
    let vout_field = format!("{field}.vout");
    let vout = required(input, "vout", &field)
        .and_then(|v| integer(v, &vout_field))
        .and_then(|v| {
            u32::try_from(v).map_err(|_| ChainError::malformed(&vout_field, "must fit in 32 bits"))
        })?;
    let amount = amount(
        required(input, "amount_sat", &field)?,
        &format!("{field}.amount_sat"),
    )?;
    let outpoint = OutPoint { txid, vout };
    let prev_tx = match input.get("prev_tx_hex") {
        Some(v) => Some(previous_transaction(v, &field, outpoint, amount, wallet)?),
        None if wallet.kind == Kind::P2wpkh => return Err(missing_prev_tx(&field)),
        None => None,
    };
    Ok(Coin {
        outpoint,
        amount,
        prev_tx,
    })
}

fn missing_prev_tx(prefix: &str) -> ChainError {
    ChainError::malformed(
        format!("{prefix}.prev_tx_hex"),
        "missing: a P2WPKH wallet spends a coin only with the transaction that created it (hex), \
         carried in the PSBT as non_witness_utxo",
    )
}

/// `inputs[i].prev_tx_hex`: a transaction whose txid is the input's and whose output `vout`
/// pays `amount` to the wallet.
fn previous_transaction(
    v: &Value,
    prefix: &str,
    outpoint: OutPoint,
    amount: u64,
    wallet: &Wallet,
) -> Result<Transaction> {
    let field = format!("{prefix}.prev_tx_hex");
    let text = v
        .as_str()
        .ok_or_else(|| ChainError::malformed(&field, "expected a hex string"))?;
    let bytes = hex::decode(text).map_err(|e| ChainError::malformed(&field, e))?;
    let tx: Transaction = bitcoin::consensus::deserialize(&bytes)
        .map_err(|e| ChainError::malformed(&field, format!("not a transaction: {e}")))?;
    let txid = tx.compute_txid();
    if txid != outpoint.txid {
        return Err(ChainError::malformed(
            &field,
            format!("is transaction {txid}, not {}", outpoint.txid),
        ));
    }
    let out = usize::try_from(outpoint.vout)
        .ok()
        .and_then(|i| tx.output.get(i))
        .ok_or_else(|| {
            ChainError::malformed(
                format!("{prefix}.vout"),
                format!("transaction {txid} has no output {}", outpoint.vout),
            )
        })?;
    if out.value.to_sat() != amount {
        return Err(ChainError::malformed(
            format!("{prefix}.amount_sat"),
            format!("output {outpoint} is {} sat", out.value.to_sat()),
        ));
    }
    if out.script_pubkey != wallet.script {
        return Err(ChainError::not_owned(
            field,
            format!("output {outpoint} does not pay this wallet's address"),
        ));
    }
    Ok(tx)
}

/// The script of an address that must belong to `network`.
pub(crate) fn output_address(
    v: &Value,
    field: &str,
    network_name: &str,
    network: Network,
) -> Result<ScriptBuf> {
    let text = v
        .as_str()
        .ok_or_else(|| ChainError::malformed(field, "expected an address string"))?;
    let address = Address::<NetworkUnchecked>::from_str(text)
        .map_err(|e| ChainError::malformed(field, format!("not a Bitcoin address: {e}")))?;
    if !address.is_valid_for_network(network) {
        let found = KNOWN_NETWORKS
            .iter()
            .find(|(_, n)| address.is_valid_for_network(*n))
            .map_or("another network", |(name, _)| *name);
        return Err(ChainError::wrong_network(field, network_name, found));
    }
    Ok(address.assume_checked().script_pubkey())
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| ChainError::malformed(field, "expected a JSON object"))
}

fn only_fields(obj: &Map<String, Value>, prefix: &str, allowed: &[&str]) -> Result<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => {
            let field = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            Err(ChainError::malformed(
                field,
                format!("unknown field (expected: {})", allowed.join(", ")),
            ))
        }
    }
}

fn required<'a>(obj: &'a Map<String, Value>, key: &str, prefix: &str) -> Result<&'a Value> {
    obj.get(key)
        .ok_or_else(|| ChainError::malformed(format!("{prefix}.{key}"), "missing"))
}

fn non_empty_array<'a>(v: Option<&'a Value>, field: &str) -> Result<&'a Vec<Value>> {
    let a = v
        .ok_or_else(|| ChainError::malformed(field, "missing"))?
        .as_array()
        .ok_or_else(|| ChainError::malformed(field, "expected an array"))?;
    if a.is_empty() {
        return Err(ChainError::malformed(field, "must not be empty"));
    }
    Ok(a)
}

/// A non-negative JSON integer.
fn integer(v: &Value, field: &str) -> Result<u64> {
    v.as_u64()
        .ok_or_else(|| ChainError::malformed(field, "expected a non-negative integer"))
}

/// Satoshi: a JSON integer or a decimal string, at most 21 million BTC.
fn amount(v: &Value, field: &str) -> Result<u64> {
    let sat = match v {
        Value::String(s) => tessera_chain::Amount::parse(s)
            .ok()
            .and_then(|a| a.to_u128())
            .and_then(|a| u64::try_from(a).ok())
            .ok_or_else(|| ChainError::malformed(field, "expected a decimal amount in satoshi"))?,
        other => integer(other, field)?,
    };
    if sat > BtcAmount::MAX_MONEY.to_sat() {
        return Err(ChainError::malformed(
            field,
            format!("{sat} sat is more than 21 million BTC"),
        ));
    }
    Ok(sat)
}

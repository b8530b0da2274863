//! PSBT → intent and signing messages. Shared by `parse`, `finalize` and `verify`, so all three
//! refuse exactly the same payloads.

use std::collections::BTreeMap;

use bitcoin::psbt::{Input, Psbt};
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::{Address, Amount as BtcAmount, Network, Script, Transaction, TxIn, TxOut, Witness};
use tessera_chain::{
    Amount, Asset, ChainError, Fee, InputRef, Intent, IntentKind, MessageHash, Parsed, Result,
    RiskFlag, SignMessage, Transfer,
};

use crate::wallet::{describe_script, Kind, Wallet};
use crate::CHAIN;

/// Fee rate above which [`RiskFlag::HighFee`] is raised, sat/vB.
const HIGH_FEE_RATE: u128 = 1000;

/// The sighash an input is signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputSighash {
    /// BIP-143, SIGHASH_ALL (P2WPKH).
    EcdsaAll,
    /// BIP-341 key path with this type (P2TR): `Default` or `All`.
    Taproot(TapSighashType),
}

/// A payload checked against the wallet.
#[derive(Debug, Clone)]
pub(crate) struct Analysis {
    /// The decoded PSBT.
    pub(crate) psbt: Psbt,
    /// The output each input spends, in input order.
    pub(crate) prevouts: Vec<TxOut>,
    /// The sighash of each input, in input order.
    pub(crate) sighashes: Vec<InputSighash>,
    /// Intent and messages.
    pub(crate) parsed: Parsed,
}

/// Decodes PSBT v0 bytes; trailing bytes are refused.
pub(crate) fn decode_psbt(bytes: &[u8]) -> Result<Psbt> {
    let mut rest: &[u8] = bytes;
    let psbt = Psbt::deserialize_from_reader(&mut rest)
        .map_err(|e| ChainError::malformed("psbt", format!("not a valid PSBT v0: {e}")))?;
    if !rest.is_empty() {
        return Err(ChainError::malformed(
            "psbt",
            format!("{} trailing bytes after the PSBT", rest.len()),
        ));
    }
    if psbt.version != 0 {
        return Err(ChainError::unsupported(
            "psbt.version",
            format!(
                "PSBT version {} (only version 0 is supported)",
                psbt.version
            ),
        ));
    }
    Ok(psbt)
}

/// Checks `bytes` against `wallet` and computes the intent and the signing messages.
pub(crate) fn analyse(
    network_name: &str,
    network: Network,
    wallet: &Wallet,
    bytes: &[u8],
) -> Result<Analysis> {
    let psbt = decode_psbt(bytes)?;
    let tx = &psbt.unsigned_tx;
    check_transaction_shape(&psbt)?;

    let mut prevouts = Vec::with_capacity(tx.input.len());
    let mut sighashes = Vec::with_capacity(tx.input.len());
    let mut total_in: u64 = 0;
    for (i, (txin, input)) in tx.input.iter().zip(&psbt.inputs).enumerate() {
        let prevout = input_prevout(i, txin, input)?;
        check_owned(i, wallet, &prevout.script_pubkey, network)?;
        check_amount_proven(i, wallet, input)?;
        let sighash = input_sighash(i, wallet, input)?;
        total_in = add_amount(total_in, prevout.value).ok_or_else(|| {
            ChainError::malformed(
                "psbt.inputs",
                "the input amounts add up to more than 21 million BTC",
            )
        })?;
        prevouts.push(prevout);
        sighashes.push(sighash);
    }

    let asset = Asset::native("BTC", 8);
    let mut transfers = Vec::new();
    let mut change = Vec::new();
    let mut total_out: u64 = 0;
    let mut sent: u64 = 0;
    for (j, out) in tx.output.iter().enumerate() {
        let field = format!("psbt.unsigned_tx.outputs[{j}].amount");
        total_out = add_amount(total_out, out.value).ok_or_else(|| {
            ChainError::malformed(
                field,
                "outputs add up to more than 21 million BTC (consensus-invalid)",
            )
        })?;
        let entry = Transfer {
            from: None,
            to: output_destination(&out.script_pubkey, network),
            asset: asset.clone(),
            amount: Amount::from_u128(u128::from(out.value.to_sat())),
        };
        if out.script_pubkey == wallet.script {
            change.push(entry);
        } else {
            // Bounded by `total_out`, itself at most 21 million BTC.
            sent = sent.saturating_add(out.value.to_sat());
            transfers.push(entry);
        }
    }
    let fee = total_in.checked_sub(total_out).ok_or_else(|| {
        ChainError::malformed(
            "psbt.unsigned_tx.outputs",
            format!("the outputs ({total_out} sat) exceed the inputs ({total_in} sat)"),
        )
    })?;

    // One message per input, in input order, from the `bitcoin` crate's sighash encoders.
    let mut cache = SighashCache::new(tx);
    let mut messages = Vec::with_capacity(tx.input.len());
    for (i, sighash) in sighashes.iter().enumerate() {
        messages.push(signing_message(&mut cache, i, &prevouts, *sighash)?);
    }

    let mut intent = Intent::new(
        CHAIN,
        network_name,
        IntentKind::Transfer,
        wallet.address.to_string(),
    );
    for (txin, prevout) in tx.input.iter().zip(&prevouts) {
        intent.inputs.push(InputRef {
            outpoint: txin.previous_output.to_string(),
            amount: Amount::from_u128(u128::from(prevout.value.to_sat())),
            address: output_destination(&prevout.script_pubkey, network),
        });
    }
    intent.transfers = transfers;
    intent.change = change;
    let vsize = estimated_vsize(tx, &sighashes);
    intent.fee = Some(Fee {
        asset,
        max: Amount::from_u128(u128::from(fee)),
        detail: format!("{fee} sat, {} sat/vB", fee_rate_text(fee, vsize)),
    });
    let (fee, sent, vsize) = (u128::from(fee), u128::from(sent), u128::from(vsize));
    if fee * 10 > sent || fee > HIGH_FEE_RATE * vsize {
        intent.flag(RiskFlag::HighFee);
    }

    Ok(Analysis {
        psbt,
        prevouts,
        sighashes,
        parsed: Parsed { intent, messages },
    })
}

/// Structure of the unsigned transaction that does not depend on the wallet.
fn check_transaction_shape(psbt: &Psbt) -> Result<()> {
    let tx = &psbt.unsigned_tx;
    if tx.input.is_empty() {
        return Err(ChainError::malformed(
            "psbt.unsigned_tx.inputs",
            "the transaction spends nothing",
        ));
    }
    if tx.output.is_empty() {
        return Err(ChainError::malformed(
            "psbt.unsigned_tx.outputs",
            "the transaction has no outputs (consensus-invalid)",
        ));
    }
    if psbt.inputs.len() != tx.input.len() || psbt.outputs.len() != tx.output.len() {
        return Err(ChainError::malformed(
            "psbt",
            "the PSBT's input/output maps do not match the unsigned transaction",
        ));
    }
    let version = tx.version.0;
    if !(1..=3).contains(&version) {
        return Err(ChainError::unsupported(
            "psbt.unsigned_tx.version",
            format!("transaction version {version} (1, 2 or 3 are standard)"),
        ));
    }
    let mut seen = BTreeMap::new();
    for (i, txin) in tx.input.iter().enumerate() {
        if let Some(j) = seen.insert(txin.previous_output, i) {
            return Err(ChainError::malformed(
                format!("psbt.unsigned_tx.inputs[{i}]"),
                format!(
                    "spends {} like input {j} (consensus-invalid)",
                    txin.previous_output
                ),
            ));
        }
    }
    Ok(())
}

/// The output input `i` spends, from `witness_utxo` or a matching `non_witness_utxo`.
fn input_prevout(i: usize, txin: &TxIn, input: &Input) -> Result<TxOut> {
    let outpoint = txin.previous_output;
    let from_full_tx = match &input.non_witness_utxo {
        Some(prev_tx) => {
            let field = format!("psbt.inputs[{i}].non_witness_utxo");
            let txid = prev_tx.compute_txid();
            if txid != outpoint.txid {
                return Err(ChainError::malformed(
                    field,
                    format!("is transaction {txid}, but the input spends {outpoint}"),
                ));
            }
            let out = usize::try_from(outpoint.vout)
                .ok()
                .and_then(|v| prev_tx.output.get(v))
                .ok_or_else(|| {
                    ChainError::malformed(
                        field,
                        format!("transaction {txid} has no output {}", outpoint.vout),
                    )
                })?;
            Some(out.clone())
        }
        None => None,
    };
    let prevout = match (&input.witness_utxo, from_full_tx) {
        (Some(w), Some(full)) if *w != full => {
            return Err(ChainError::malformed(
                format!("psbt.inputs[{i}].witness_utxo"),
                "differs from the output in non_witness_utxo",
            ))
        }
        (Some(w), _) => w.clone(),
        (None, Some(full)) => full,
        (None, None) => {
            return Err(ChainError::malformed(
                format!("psbt.inputs[{i}].witness_utxo"),
                "missing: every input must carry the output it spends (witness_utxo or \
                 non_witness_utxo)",
            ))
        }
    };
    if prevout.value > BtcAmount::MAX_MONEY {
        return Err(ChainError::malformed(
            format!("psbt.inputs[{i}].witness_utxo.amount"),
            format!("{} sat is more than 21 million BTC", prevout.value.to_sat()),
        ));
    }
    Ok(prevout)
}

/// A P2WPKH (segwit v0) input's amount must be proven by `non_witness_utxo`, the previous
/// transaction, which [`input_prevout`] has checked against the outpoint's txid (and against
/// `witness_utxo` when both are present).
///
/// A BIP-143 signature commits to the amount of its own input only. With `witness_utxo` alone,
/// two requests could each understate a different input: the signature each makes for the
/// input it tells the truth about is valid on chain, and together they spend every input with a
/// fee neither request showed (the 2020 hardware-wallet fee attack). A P2TR input may carry
/// `witness_utxo` only: a BIP-341 signature commits to the amounts and scripts of **every**
/// input, so a wrong amount only makes the signature invalid.
fn check_amount_proven(i: usize, wallet: &Wallet, input: &Input) -> Result<()> {
    if wallet.kind == Kind::P2wpkh && input.non_witness_utxo.is_none() {
        return Err(ChainError::malformed(
            format!("psbt.inputs[{i}].non_witness_utxo"),
            "missing: a P2WPKH input must carry the previous transaction (non_witness_utxo), \
             since its signature does not commit to the other inputs' amounts",
        ));
    }
    Ok(())
}

/// Input `i` must pay the wallet's own script.
fn check_owned(i: usize, wallet: &Wallet, script: &Script, network: Network) -> Result<()> {
    if script == wallet.script.as_script() {
        return Ok(());
    }
    if wallet.kind.is_type_of(script) {
        return Err(ChainError::not_owned(
            format!("psbt.inputs[{i}]"),
            format!(
                "spends {}, which is not this wallet's address {}",
                output_destination(script, network),
                wallet.address
            ),
        ));
    }
    Err(ChainError::unsupported(
        format!("psbt.inputs[{i}].witness_utxo.script_pubkey"),
        format!(
            "spends {}; a {} wallet spends only its own {} output",
            describe_script(script),
            wallet.kind.name(),
            wallet.kind.name()
        ),
    ))
}

/// The sighash input `i` asks for, if the wallet signs it; Taproot fields checked too.
fn input_sighash(i: usize, wallet: &Wallet, input: &Input) -> Result<InputSighash> {
    let requested = input.sighash_type.map(|t| t.to_u32());
    let refuse = |n: u32, allowed: &str| {
        ChainError::unsupported(
            format!("psbt.inputs[{i}].sighash_type"),
            format!(
                "sighash type {n:#x} (a {} input signs {allowed})",
                wallet.kind.name()
            ),
        )
    };
    match wallet.kind {
        Kind::P2wpkh => match requested {
            None | Some(1) => Ok(InputSighash::EcdsaAll),
            Some(n) => Err(refuse(n, "SIGHASH_ALL only")),
        },
        Kind::P2tr => {
            if input.tap_merkle_root.is_some() || !input.tap_scripts.is_empty() {
                return Err(ChainError::unsupported(
                    format!("psbt.inputs[{i}].tap_merkle_root"),
                    "script trees are not supported: the wallet spends by key path only",
                ));
            }
            if let Some(k) = input.tap_internal_key {
                if k != wallet.internal {
                    return Err(ChainError::malformed(
                        format!("psbt.inputs[{i}].tap_internal_key"),
                        format!("{k} is not the wallet's internal key {}", wallet.internal),
                    ));
                }
            }
            match requested {
                None | Some(0) => Ok(InputSighash::Taproot(TapSighashType::Default)),
                Some(1) => Ok(InputSighash::Taproot(TapSighashType::All)),
                Some(n) => Err(refuse(n, "SIGHASH_DEFAULT or SIGHASH_ALL only")),
            }
        }
    }
}

/// The message input `index` signs: the BIP-143 preimage (hashed twice with SHA-256 by the
/// signers) or the BIP-341 signature message with its epoch byte (hashed with the `TapSighash`
/// tagged hash), as encoded by `bitcoin`'s [`SighashCache`].
pub(crate) fn signing_message(
    cache: &mut SighashCache<&Transaction>,
    index: usize,
    prevouts: &[TxOut],
    sighash: InputSighash,
) -> Result<SignMessage> {
    let field = || format!("psbt.inputs[{index}]");
    let mut bytes = Vec::new();
    let hash = match sighash {
        InputSighash::EcdsaAll => {
            let prevout = prevouts
                .get(index)
                .ok_or_else(|| ChainError::malformed(field(), "no prevout"))?;
            let script_code = prevout
                .script_pubkey
                .p2wpkh_script_code()
                .ok_or_else(|| ChainError::malformed(field(), "not a P2WPKH prevout"))?;
            cache
                .segwit_v0_encode_signing_data_to(
                    &mut bytes,
                    index,
                    &script_code,
                    prevout.value,
                    EcdsaSighashType::All,
                )
                .map_err(|e| ChainError::malformed(field(), e))?;
            MessageHash::DoubleSha256
        }
        InputSighash::Taproot(ty) => {
            cache
                .taproot_encode_signing_data_to(
                    &mut bytes,
                    index,
                    &Prevouts::All(prevouts),
                    None,
                    None,
                    ty,
                )
                .map_err(|e| ChainError::malformed(field(), e))?;
            MessageHash::TapSighash
        }
    };
    Ok(SignMessage::Preimage {
        hash: Some(hash),
        bytes,
    })
}

/// An output's address on `network`, or `script:<hex>` when it has none.
pub(crate) fn output_destination(script: &Script, network: Network) -> String {
    match Address::from_script(script, network) {
        Ok(a) => a.to_string(),
        Err(_) => format!("script:{}", hex::encode(script.as_bytes())),
    }
}

/// `a + b`, `None` past 21 million BTC.
fn add_amount(a: u64, b: BtcAmount) -> Option<u64> {
    a.checked_add(b.to_sat())
        .filter(|t| *t <= BtcAmount::MAX_MONEY.to_sat())
}

/// Virtual size of the transaction once signed: the unsigned transaction with witnesses of the
/// largest size each input's signature can take.
fn estimated_vsize(tx: &Transaction, sighashes: &[InputSighash]) -> u64 {
    let mut signed = tx.clone();
    for (txin, sighash) in signed.input.iter_mut().zip(sighashes) {
        let mut w = Witness::new();
        match sighash {
            // Low-s DER signature (at most 71 bytes) + sighash byte; 33-byte compressed key.
            InputSighash::EcdsaAll => {
                w.push([0u8; 72]);
                w.push([0u8; 33]);
            }
            InputSighash::Taproot(TapSighashType::Default) => w.push([0u8; 64]),
            InputSighash::Taproot(_) => w.push([0u8; 65]),
        }
        txin.witness = w;
    }
    signed.weight().to_vbytes_ceil().max(1)
}

/// `fee / vsize` with one decimal, rounded half up: `9.9`.
fn fee_rate_text(fee: u64, vsize: u64) -> String {
    let vsize = u128::from(vsize.max(1));
    let tenths = (u128::from(fee) * 20 + vsize) / (2 * vsize);
    format!("{}.{}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_rate_rounds_to_one_decimal() {
        assert_eq!(fee_rate_text(1410, 141), "10.0");
        assert_eq!(fee_rate_text(1410, 142), "9.9");
        assert_eq!(fee_rate_text(1, 3), "0.3");
        assert_eq!(fee_rate_text(0, 100), "0.0");
        assert_eq!(fee_rate_text(5, 100), "0.1"); // 0.05 rounds half up
    }
}

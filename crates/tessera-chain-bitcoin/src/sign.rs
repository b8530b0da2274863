//! Attaching signatures (`finalize`) and checking signed transactions (`verify`).

use bitcoin::hashes::Hash;
use bitcoin::psbt::Input;
use bitcoin::secp256k1::{self, Message, Secp256k1, Verification, XOnlyPublicKey};
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::{consensus, ecdsa, taproot, Transaction, TxOut, Witness};
use serde_json::json;
use tessera_chain::{ChainError, Result, Signature, SignedTransaction};

use crate::analyse::{Analysis, InputSighash};
use crate::wallet::Wallet;
use crate::{CHAIN, FORMAT_SIGNED_TX};

/// Builds the signed transaction from one signature per input. Checks structure only (count,
/// kind, encodability); whether the signatures are valid is [`verify`]'s job.
pub(crate) fn finalize(
    network_name: &str,
    wallet: &Wallet,
    analysis: Analysis,
    signatures: &[Signature],
) -> Result<SignedTransaction> {
    let Analysis {
        mut psbt,
        prevouts,
        sighashes,
        parsed,
    } = analysis;
    if signatures.len() != parsed.messages.len() {
        return Err(ChainError::Signatures(format!(
            "{} signatures for {} inputs: exactly one per input, in input order",
            signatures.len(),
            parsed.messages.len()
        )));
    }
    let mut tx = psbt.unsigned_tx.clone();
    for (i, (((txin, input), sig), sighash)) in tx
        .input
        .iter_mut()
        .zip(psbt.inputs.iter_mut())
        .zip(signatures)
        .zip(&sighashes)
        .enumerate()
    {
        let witness = input_witness(i, wallet, sig, *sighash)?;
        txin.witness = witness.clone();
        // BIP-174 finalizer: keep the UTXOs and unknown/proprietary data, set the final
        // witness, clear everything else.
        *input = Input {
            non_witness_utxo: input.non_witness_utxo.take(),
            witness_utxo: input.witness_utxo.take(),
            final_script_witness: Some(witness),
            proprietary: std::mem::take(&mut input.proprietary),
            unknown: std::mem::take(&mut input.unknown),
            ..Input::default()
        };
    }
    let prevouts_json: Vec<serde_json::Value> = prevouts
        .iter()
        .map(|p| {
            json!({
                "script_pubkey_hex": hex::encode(p.script_pubkey.as_bytes()),
                "amount_sat": p.value.to_sat(),
            })
        })
        .collect();
    Ok(SignedTransaction {
        chain: CHAIN.to_string(),
        network: network_name.to_string(),
        format: FORMAT_SIGNED_TX.to_string(),
        bytes: consensus::serialize(&tx),
        txid: Some(tx.compute_txid().to_string()),
        details: json!({
            "kind": wallet.kind.name(),
            "prevouts": prevouts_json,
            "psbt_base64": psbt.to_string(),
        }),
    })
}

/// The witness of input `i` from its signature.
fn input_witness(
    i: usize,
    wallet: &Wallet,
    sig: &Signature,
    sighash: InputSighash,
) -> Result<Witness> {
    match (sighash, sig) {
        (InputSighash::EcdsaAll, Signature::Ecdsa { r, s, .. }) => {
            let mut compact = [0u8; 64];
            let (left, right) = compact.split_at_mut(32);
            left.copy_from_slice(r);
            right.copy_from_slice(s);
            let mut signature = secp256k1::ecdsa::Signature::from_compact(&compact)
                .map_err(|e| ChainError::Signatures(format!("signature {i}: {e}")))?;
            // Low-s is standardness (BIP-62/146 policy); the threshold schemes already produce
            // it, this only makes sure.
            signature.normalize_s();
            let sig = ecdsa::Signature {
                signature,
                sighash_type: EcdsaSighashType::All,
            };
            Ok(Witness::p2wpkh(&sig, &wallet.pubkey))
        }
        (InputSighash::Taproot(sighash_type), Signature::Bip340(bytes)) => {
            let signature = secp256k1::schnorr::Signature::from_slice(bytes)
                .map_err(|e| ChainError::Signatures(format!("signature {i}: {e}")))?;
            Ok(Witness::p2tr_key_spend(&taproot::Signature {
                signature,
                sighash_type,
            }))
        }
        (InputSighash::EcdsaAll, _) => Err(ChainError::Signatures(format!(
            "signature {i}: input {i} is P2WPKH and needs an ECDSA signature"
        ))),
        (InputSighash::Taproot(_), _) => Err(ChainError::Signatures(format!(
            "signature {i}: input {i} is P2TR and needs a BIP-340 signature"
        ))),
    }
}

fn fail(msg: impl std::fmt::Display) -> ChainError {
    ChainError::Verification(msg.to_string())
}

/// Checks that `signed` is the payload's transaction, validly signed.
pub(crate) fn verify(
    network_name: &str,
    wallet: &Wallet,
    analysis: &Analysis,
    signed: &SignedTransaction,
) -> Result<()> {
    if signed.chain != CHAIN || signed.network != network_name {
        return Err(fail(format!(
            "the signed transaction is for {} {}, not {CHAIN} {network_name}",
            signed.chain, signed.network
        )));
    }
    if signed.format != FORMAT_SIGNED_TX {
        return Err(fail(format!(
            "format {:?} is not {FORMAT_SIGNED_TX:?}",
            signed.format
        )));
    }
    let tx: Transaction = consensus::deserialize(&signed.bytes)
        .map_err(|e| fail(format!("the signed transaction does not decode: {e}")))?;
    let raw = consensus::serialize(&tx);
    if raw != signed.bytes {
        return Err(fail(
            "the signed transaction is not in canonical serialization",
        ));
    }
    same_transaction(&analysis.psbt.unsigned_tx, &tx)?;
    if let Some(txid) = &signed.txid {
        let actual = tx.compute_txid().to_string();
        if *txid != actual {
            return Err(fail(format!(
                "txid {txid} does not match the transaction ({actual})"
            )));
        }
    }

    let secp = Secp256k1::verification_only();
    let mut cache = SighashCache::new(&tx);
    for (i, ((txin, prevout), sighash)) in tx
        .input
        .iter()
        .zip(&analysis.prevouts)
        .zip(&analysis.sighashes)
        .enumerate()
    {
        // Bitcoin Core's interpreter (libbitcoinconsensus 0.105 = Core 25.1) with its full
        // consensus flag set (P2SH, DERSIG, NULLDUMMY, CLTV, CSV, WITNESS). For P2WPKH this is
        // the signature check. For P2TR it is not: that library has no TAPROOT flag (nor a way
        // to pass all spent outputs), so a witness v1 program is accepted there without looking
        // at the witness; the BIP-340 check below is what verifies those.
        prevout
            .script_pubkey
            .verify(i, prevout.value, &raw)
            .map_err(|e| {
                fail(format!(
                    "input {i}: Bitcoin Core's script interpreter rejected the spend: {e}"
                ))
            })?;
        match sighash {
            InputSighash::EcdsaAll => check_p2wpkh_witness(i, &txin.witness, wallet)?,
            InputSighash::Taproot(ty) => {
                verify_p2tr_key_spend(&secp, &tx, &mut cache, i, &analysis.prevouts, *ty)?
            }
        }
    }
    Ok(())
}

/// `signed` must be `unsigned` plus witnesses: same version, lock time, inputs (outpoints,
/// sequences, empty scriptSigs) and outputs.
fn same_transaction(unsigned: &Transaction, signed: &Transaction) -> Result<()> {
    if signed.version != unsigned.version {
        return Err(fail("the transaction version differs from the payload"));
    }
    if signed.lock_time != unsigned.lock_time {
        return Err(fail("the lock time differs from the payload"));
    }
    if signed.output != unsigned.output {
        return Err(fail("the outputs differ from the payload"));
    }
    if signed.input.len() != unsigned.input.len() {
        return Err(fail(format!(
            "{} inputs, the payload has {}",
            signed.input.len(),
            unsigned.input.len()
        )));
    }
    for (i, (s, u)) in signed.input.iter().zip(&unsigned.input).enumerate() {
        if s.previous_output != u.previous_output || s.sequence != u.sequence {
            return Err(fail(format!("input {i} differs from the payload")));
        }
        if !s.script_sig.is_empty() {
            return Err(fail(format!(
                "input {i} has a scriptSig; native SegWit spends have none"
            )));
        }
    }
    Ok(())
}

/// Shape and policy of a P2WPKH witness (Core checked the signature itself): `[sig, key]`, the
/// wallet's key, SIGHASH_ALL, low-s.
fn check_p2wpkh_witness(i: usize, witness: &Witness, wallet: &Wallet) -> Result<()> {
    let (Some(sig), Some(key), 2) = (witness.nth(0), witness.nth(1), witness.len()) else {
        return Err(fail(format!(
            "input {i}: a P2WPKH witness is [signature, public key]"
        )));
    };
    if key != wallet.pubkey.serialize().as_slice() {
        return Err(fail(format!(
            "input {i}: the witness key is not the wallet's"
        )));
    }
    let sig = ecdsa::Signature::from_slice(sig)
        .map_err(|e| fail(format!("input {i}: signature: {e}")))?;
    if sig.sighash_type != EcdsaSighashType::All {
        return Err(fail(format!(
            "input {i}: signed with {} instead of SIGHASH_ALL",
            sig.sighash_type
        )));
    }
    let mut low = sig.signature;
    low.normalize_s();
    if low != sig.signature {
        return Err(fail(format!(
            "input {i}: high-s signature (non-standard, malleable)"
        )));
    }
    Ok(())
}

/// BIP-341 key-path check of input `index` of `tx`. `cache` must be over the same transaction
/// and only ever used with these same `prevouts` (it keeps their hashes from its first use). One
/// witness element, a BIP-340 signature of the
/// expected sighash type, valid under the output key of the prevout script for the sighash
/// `bitcoin`'s [`SighashCache`] computes (libsecp256k1's `verify_schnorr`).
pub(crate) fn verify_p2tr_key_spend<C: Verification>(
    secp: &Secp256k1<C>,
    tx: &Transaction,
    cache: &mut SighashCache<&Transaction>,
    index: usize,
    prevouts: &[TxOut],
    expected: TapSighashType,
) -> Result<()> {
    let witness = tx
        .input
        .get(index)
        .map(|txin| &txin.witness)
        .ok_or_else(|| fail(format!("no input {index}")))?;
    let (Some(sig_bytes), 1) = (witness.nth(0), witness.len()) else {
        return Err(fail(format!(
            "input {index}: a key-path spend has exactly one witness element (no annex)"
        )));
    };
    let expected_len = if expected == TapSighashType::Default {
        64
    } else {
        65
    };
    if sig_bytes.len() != expected_len {
        return Err(fail(format!(
            "input {index}: a {expected} signature is {expected_len} bytes, got {}",
            sig_bytes.len()
        )));
    }
    let sig = taproot::Signature::from_slice(sig_bytes)
        .map_err(|e| fail(format!("input {index}: signature: {e}")))?;
    if sig.sighash_type != expected {
        return Err(fail(format!(
            "input {index}: signed with {} instead of {expected}",
            sig.sighash_type
        )));
    }
    let prevout = prevouts
        .get(index)
        .ok_or_else(|| fail(format!("input {index}: no prevout")))?;
    let script = &prevout.script_pubkey;
    let output_key = script
        .as_bytes()
        .get(2..34)
        .filter(|_| script.is_p2tr())
        .and_then(|b| XOnlyPublicKey::from_slice(b).ok())
        .ok_or_else(|| fail(format!("input {index}: the prevout is not a P2TR output")))?;
    let sighash = cache
        .taproot_key_spend_signature_hash(index, &Prevouts::All(prevouts), expected)
        .map_err(|e| fail(format!("input {index}: sighash: {e}")))?;
    let msg = Message::from_digest(sighash.to_byte_array());
    secp.verify_schnorr(&sig.signature, &msg, &output_key)
        .map_err(|e| {
            fail(format!(
                "input {index}: BIP-340 signature invalid for output key {output_key}: {e}"
            ))
        })
}

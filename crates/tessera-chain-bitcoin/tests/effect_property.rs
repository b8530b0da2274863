//! The conformance property of issue 16 for Bitcoin: for every PSBT the adapter accepts, every
//! coin spent, every output and the fee appear in the intent as they are on chain, or the
//! signatures the payload asks for are worthless on chain.
//!
//! PSBTs are random: coins created by random previous transactions (sometimes paying someone
//! else), carried as `non_witness_utxo`, `witness_utxo` or both, truthfully or not, spent to
//! random outputs. The truth is computed with rust-bitcoin's own types from the previous
//! transactions: the real amount of each input and the real fee. An accepted P2WPKH payload must
//! show exactly that. An accepted P2TR payload may carry a wrong `witness_utxo` (nothing proves
//! it), but then every BIP-341 signature it asks for, checked with libsecp256k1 against the
//! sighash of the real prevouts (`SighashCache`), is invalid: the lie cannot reach the chain.
//! A seeded loop, so a failure replays.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use bitcoin::hashes::Hash;
use bitcoin::psbt::Psbt;
use bitcoin::secp256k1::{schnorr, Message, Secp256k1, XOnlyPublicKey};
use bitcoin::sighash::{Prevouts, SighashCache, TapSighashType};
use bitcoin::{consensus, Address, Network, OutPoint, ScriptBuf, Transaction, TxIn, TxOut};
use common::*;
use tessera_chain::conformance::TestKey;
use tessera_chain::{ChainAdapter, Intent, SchemeId, Signature};
use tessera_chain_bitcoin::Bitcoin;

const CASES: u64 = 1_500;

/// xorshift64*: a small deterministic generator, so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random PSBT for `me` and the real output each input spends.
fn random_psbt(rng: &mut Rng, me: &ScriptBuf) -> (Psbt, Vec<TxOut>) {
    let other = script_of(&foreign_p2wpkh("mainnet"));
    let n = 1 + rng.below(3) as usize;
    let mut real = Vec::new();
    let mut prevs = Vec::new();
    let mut inputs = Vec::new();
    for _ in 0..n {
        let vout = rng.below(3) as u32;
        let pays = if rng.below(12) == 0 { &other } else { me };
        let prev = prev_tx(rng.next() as u8, vout, pays, 1_000 + rng.below(10_000_000));
        real.push(prev.output[vout as usize].clone());
        inputs.push(TxIn {
            previous_output: OutPoint {
                txid: prev.compute_txid(),
                vout,
            },
            ..TxIn::default()
        });
        prevs.push(prev);
    }
    let total: u64 = real.iter().map(|o| o.value.to_sat()).sum();
    let outputs = (0..1 + rng.below(3))
        .map(|_| {
            let script = match rng.below(4) {
                0 => script_of(&foreign_p2wpkh("mainnet")),
                1 => script_of(&foreign_p2tr("mainnet")),
                2 => me.clone(),
                _ => ScriptBuf::from_bytes(vec![0x6a, 0x01, 0x2a]),
            };
            TxOut {
                value: bitcoin::Amount::from_sat(rng.below(total / 2 + 1)),
                script_pubkey: script,
            }
        })
        .collect();
    let tx = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: inputs,
        output: outputs,
    };
    let mut psbt = Psbt::from_unsigned_tx(tx).unwrap();
    for ((input, prev), out) in psbt.inputs.iter_mut().zip(&prevs).zip(&real) {
        let lie = TxOut {
            value: bitcoin::Amount::from_sat(1 + rng.below(2 * out.value.to_sat())),
            script_pubkey: out.script_pubkey.clone(),
        };
        match rng.below(6) {
            0 => {
                input.non_witness_utxo = Some(prev.clone());
                input.witness_utxo = Some(out.clone());
            }
            1 => input.non_witness_utxo = Some(prev.clone()),
            2 => input.witness_utxo = Some(out.clone()),
            3 => input.witness_utxo = Some(lie),
            4 => {
                input.non_witness_utxo = Some(prev.clone());
                input.witness_utxo = Some(lie);
            }
            _ => {
                // The previous transaction of another coin.
                input.non_witness_utxo = Some(prev_tx(rng.next() as u8, 0, me, 5_000));
                input.witness_utxo = Some(out.clone());
            }
        }
    }
    (psbt, real)
}

/// Where an output goes, as the intent names it.
fn destination(script: &ScriptBuf) -> String {
    Address::from_script(script, Network::Bitcoin)
        .map(|a| a.to_string())
        .unwrap_or_else(|_| format!("script:{}", hex::encode(script.as_bytes())))
}

/// Outputs, inputs and (when the amounts are the real ones) the fee, against the truth.
fn check_intent(i: &Intent, psbt: &Psbt, real: &[TxOut], me: &ScriptBuf, ctx: &str) -> bool {
    let tx = &psbt.unsigned_tx;
    let mut want_sent = Vec::new();
    let mut want_change = Vec::new();
    for o in &tx.output {
        let entry = (destination(&o.script_pubkey), u128::from(o.value.to_sat()));
        if &o.script_pubkey == me {
            want_change.push(entry);
        } else {
            want_sent.push(entry);
        }
    }
    let got = |v: &[tessera_chain::Transfer]| -> Vec<(String, u128)> {
        v.iter()
            .map(|t| (t.to.clone(), t.amount.to_u128().unwrap()))
            .collect()
    };
    assert_eq!(got(&i.transfers), want_sent, "{ctx}: outputs to others");
    assert_eq!(got(&i.change), want_change, "{ctx}: change");
    let outpoints: Vec<String> = tx
        .input
        .iter()
        .map(|t| t.previous_output.to_string())
        .collect();
    let listed: Vec<String> = i.inputs.iter().map(|r| r.outpoint.clone()).collect();
    assert_eq!(listed, outpoints, "{ctx}: inputs");

    let shown: Vec<u128> = i
        .inputs
        .iter()
        .map(|r| r.amount.to_u128().unwrap())
        .collect();
    let truth: Vec<u128> = real.iter().map(|o| u128::from(o.value.to_sat())).collect();
    if shown != truth {
        return false;
    }
    let out: u128 = tx.output.iter().map(|o| u128::from(o.value.to_sat())).sum();
    let fee = truth.iter().sum::<u128>() - out;
    assert_eq!(
        i.fee.as_ref().unwrap().max.to_u128(),
        Some(fee),
        "{ctx}: fee"
    );
    true
}

/// Signs what the adapter asks for and checks each BIP-340 signature against the sighash of
/// the **real** prevouts: how many verify.
fn valid_taproot_signatures(k: &TestKey, psbt: &Psbt, real: &[TxOut]) -> usize {
    let payload = payload(psbt);
    let parsed = Bitcoin.parse("mainnet", k.wallet_key(), &payload).unwrap();
    let sigs: Vec<Signature> = parsed.messages.iter().map(|m| k.sign(m)).collect();
    let signed = Bitcoin
        .finalize("mainnet", k.wallet_key(), &payload, &sigs)
        .unwrap();
    let tx: Transaction = consensus::deserialize(&signed.bytes).unwrap();
    let secp = Secp256k1::verification_only();
    let mut cache = SighashCache::new(&tx);
    (0..tx.input.len())
        .filter(|&i| {
            let h = cache
                .taproot_key_spend_signature_hash(i, &Prevouts::All(real), TapSighashType::Default)
                .unwrap();
            let key = XOnlyPublicKey::from_slice(&real[i].script_pubkey.as_bytes()[2..34]).unwrap();
            let sig = schnorr::Signature::from_slice(tx.input[i].witness.nth(0).unwrap()).unwrap();
            secp.verify_schnorr(&sig, &Message::from_digest(h.to_byte_array()), &key)
                .is_ok()
        })
        .count()
}

#[test]
fn every_accepted_psbt_shows_the_real_amounts_or_cannot_be_spent() {
    let mut rng = Rng(0x1606_5eed_0000_0001);
    for scheme in [SchemeId::EcdsaDkls23, SchemeId::SchnorrBip340] {
        let k = test_key(scheme, 71);
        let me = script_of(&Bitcoin.address("mainnet", k.wallet_key()).unwrap().address);
        let (mut honest, mut lying, mut refused) = (0, 0, 0);
        for case in 0..CASES {
            let (psbt, real) = random_psbt(&mut rng, &me);
            let ctx = format!("{scheme} case {case}: {psbt:?}");
            let Ok(parsed) = Bitcoin.parse("mainnet", k.wallet_key(), &payload(&psbt)) else {
                refused += 1;
                continue;
            };
            if check_intent(&parsed.intent, &psbt, &real, &me, &ctx) {
                honest += 1;
                continue;
            }
            // The shown amounts are not the real ones: only a Taproot wallet may accept that,
            // and then no signature it makes is valid for the real coins.
            assert_eq!(
                scheme,
                SchemeId::SchnorrBip340,
                "{ctx}: a P2WPKH amount was not proven"
            );
            assert_eq!(valid_taproot_signatures(&k, &psbt, &real), 0, "{ctx}");
            lying += 1;
        }
        eprintln!("{scheme}: honest {honest}, lying {lying}, refused {refused}");
        assert!(honest > CASES / 10, "{scheme}: honest {honest}");
        if scheme == SchemeId::SchnorrBip340 {
            assert!(lying > 0, "no lying P2TR payload was accepted");
        }
    }
}

/// The check above can tell a valid signature from an invalid one: an honest P2TR payload's
/// signatures all verify against the real prevouts.
#[test]
fn honest_taproot_signatures_verify_against_the_real_prevouts() {
    let k = test_key(SchemeId::SchnorrBip340, 72);
    let me = script_of(&Bitcoin.address("mainnet", k.wallet_key()).unwrap().address);
    let real = [
        TxOut {
            value: bitcoin::Amount::from_sat(50_000),
            script_pubkey: me.clone(),
        },
        TxOut {
            value: bitcoin::Amount::from_sat(70_000),
            script_pubkey: me.clone(),
        },
    ];
    let psbt = manual_psbt(&real, &[txout(&foreign_p2tr("mainnet"), 100_000)]);
    assert_eq!(valid_taproot_signatures(&k, &psbt, &real), 2);
}

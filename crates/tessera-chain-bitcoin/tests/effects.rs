//! Issue 16, gap 6: input amounts are proven, not taken on trust.
//!
//! A BIP-143 (segwit v0) signature commits to the amount of its own input only. With
//! `witness_utxo` alone, two requests can each understate a different input; the signature each
//! makes for the input it does not lie about is valid on chain, and together they spend both
//! coins with a fee neither request showed (the 2020 hardware-wallet attack). So a P2WPKH input
//! must carry `non_witness_utxo`, the whole previous transaction, whose txid is checked.
//! Taproot signatures commit to every input's amount (BIP-341), so a lie there only makes the
//! signature invalid: P2TR inputs may carry `witness_utxo` alone.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use bitcoin::psbt::Psbt;
use bitcoin::TxOut;
use common::*;
use serde_json::json;
use tessera_chain::{Amount, ChainAdapter, ChainError, SchemeId};
use tessera_chain_bitcoin::Bitcoin;

const ECDSA: SchemeId = SchemeId::EcdsaDkls23;
const SCHNORR: SchemeId = SchemeId::SchnorrBip340;

fn malformed_field(r: Result<impl std::fmt::Debug, ChainError>) -> String {
    let e = r.expect_err("expected a refusal");
    assert!(matches!(e, ChainError::Malformed { .. }), "{e:?}");
    e.field().unwrap_or_default().to_string()
}

/// Two coins of the wallet, 1 BTC each; one output of 1 BTC to someone else. The real fee is
/// 1 BTC.
fn two_coin_psbt(me: &str) -> Psbt {
    manual_psbt(
        &[txout(me, 100_000_000), txout(me, 100_000_000)],
        &[txout(&foreign_p2wpkh("mainnet"), 100_000_000)],
    )
}

#[test]
fn p2wpkh_input_with_witness_utxo_only_is_refused() {
    let k = test_key(ECDSA, 61);
    let key = k.wallet_key();
    let me = Bitcoin.address("mainnet", key).unwrap().address;
    let mut psbt = two_coin_psbt(&me);
    Bitcoin.parse("mainnet", key, &payload(&psbt)).unwrap();
    psbt.inputs[1].non_witness_utxo = None;
    assert_eq!(
        malformed_field(Bitcoin.parse("mainnet", key, &payload(&psbt))),
        "psbt.inputs[1].non_witness_utxo"
    );
    psbt.inputs[0].non_witness_utxo = None;
    assert_eq!(
        malformed_field(Bitcoin.parse("mainnet", key, &payload(&psbt))),
        "psbt.inputs[0].non_witness_utxo"
    );
}

#[test]
fn two_requests_lying_about_different_inputs_are_refused() {
    let k = test_key(ECDSA, 62);
    let key = k.wallet_key();
    let me = Bitcoin.address("mainnet", key).unwrap().address;
    let honest = two_coin_psbt(&me);
    let p = Bitcoin.parse("mainnet", key, &payload(&honest)).unwrap();
    assert_eq!(
        p.intent.fee.as_ref().unwrap().max,
        Amount::from_u128(100_000_000)
    );

    // Request A shows input 0 as 10000 sat, request B input 1: each shows a fee of 10000 sat,
    // and the signature each makes for its truthful input is valid in the real transaction.
    for lie in [0usize, 1] {
        let mut psbt = honest.clone();
        let real = psbt.inputs[lie].witness_utxo.clone().unwrap();
        let understated = TxOut {
            value: bitcoin::Amount::from_sat(10_000),
            script_pubkey: real.script_pubkey,
        };
        // With only `witness_utxo`: refused, the amount is unproven.
        psbt.inputs[lie].witness_utxo = Some(understated.clone());
        for input in &mut psbt.inputs {
            input.non_witness_utxo = None;
        }
        assert_eq!(
            malformed_field(Bitcoin.parse("mainnet", key, &payload(&psbt))),
            "psbt.inputs[0].non_witness_utxo"
        );
        // With the previous transactions: the lie contradicts them.
        let mut psbt = honest.clone();
        psbt.inputs[lie].witness_utxo = Some(understated);
        assert_eq!(
            malformed_field(Bitcoin.parse("mainnet", key, &payload(&psbt))),
            format!("psbt.inputs[{lie}].witness_utxo")
        );
    }
}

#[test]
fn taproot_inputs_may_carry_witness_utxo_only() {
    let k = test_key(SCHNORR, 63);
    let key = k.wallet_key();
    let me = Bitcoin.address("mainnet", key).unwrap().address;
    let mut psbt = two_coin_psbt(&me);
    for input in &mut psbt.inputs {
        input.non_witness_utxo = None;
    }
    let p = Bitcoin.parse("mainnet", key, &payload(&psbt)).unwrap();
    assert_eq!(
        p.intent.fee.as_ref().unwrap().max,
        Amount::from_u128(100_000_000)
    );
    // The builder too: no previous transaction needed.
    let spec = json!({
        "inputs": [{"txid": txid(1), "vout": 0, "amount_sat": 10_000}],
        "outputs": [{"address": foreign_p2wpkh("mainnet"), "amount_sat": 9_000}]
    });
    let built = Psbt::deserialize(&build("mainnet", key, &spec).bytes).unwrap();
    assert!(built.inputs[0].non_witness_utxo.is_none());
}

#[test]
fn builder_carries_the_previous_transaction() {
    for scheme in [ECDSA, SCHNORR] {
        let k = test_key(scheme, 64);
        let key = k.wallet_key();
        let me = Bitcoin.address("mainnet", key).unwrap().address;
        let spec = spec_one_in_payment_and_change("mainnet", key);
        let psbt = Psbt::deserialize(&build("mainnet", key, &spec).bytes).unwrap();
        let prev = prev_tx(0x11, 0, &script_of(&me), 100_000);
        assert_eq!(psbt.inputs[0].non_witness_utxo, Some(prev.clone()));
        assert_eq!(
            psbt.unsigned_tx.input[0].previous_output.txid,
            prev.compute_txid()
        );
        assert_eq!(psbt.inputs[0].witness_utxo, Some(txout(&me, 100_000)));
    }
}

#[test]
fn builder_refuses_a_missing_or_inconsistent_previous_transaction() {
    let k = test_key(ECDSA, 65);
    let key = k.wallet_key();
    let out = json!([{"address": foreign_p2wpkh("mainnet"), "amount_sat": 9_000}]);
    let refusal = |input: serde_json::Value| {
        malformed_field(Bitcoin.build("mainnet", key, &json!({"inputs": [input], "outputs": out})))
    };
    // A P2WPKH wallet needs it.
    assert_eq!(
        refusal(json!({"txid": txid(1), "vout": 0, "amount_sat": 10_000})),
        "inputs[0].prev_tx_hex"
    );
    let good = coin("mainnet", key, 1, 2, 10_000);
    // Not a transaction.
    let mut bad = good.clone();
    bad["prev_tx_hex"] = json!("00");
    assert_eq!(refusal(bad), "inputs[0].prev_tx_hex");
    // Another transaction than the txid.
    let mut bad = good.clone();
    bad["txid"] = json!(txid(1));
    assert_eq!(refusal(bad), "inputs[0].prev_tx_hex");
    // An output it does not have.
    let mut bad = good.clone();
    bad["vout"] = json!(3);
    assert_eq!(refusal(bad), "inputs[0].vout");
    // Another amount.
    let mut bad = good.clone();
    bad["amount_sat"] = json!(10_001);
    assert_eq!(refusal(bad), "inputs[0].amount_sat");
    // An output that is not the wallet's.
    let theirs = test_key(ECDSA, 66);
    let bad = coin("mainnet", theirs.wallet_key(), 1, 2, 10_000);
    let e = Bitcoin
        .build("mainnet", key, &json!({"inputs": [bad], "outputs": out}))
        .unwrap_err();
    assert!(matches!(e, ChainError::NotOwned { .. }), "{e:?}");
}

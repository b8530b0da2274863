//! `parse` and `build`: the intent, and typed refusals naming their field.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use bitcoin::psbt::PsbtSighashType;
use bitcoin::{Amount as BtcAmount, ScriptBuf, TxOut};
use common::*;
use serde_json::json;
use tessera_chain::{
    Amount, Asset, ChainAdapter, ChainError, InputRef, Payload, RiskFlag, SchemeId, Transfer,
};
use tessera_chain_bitcoin::Bitcoin;

const ECDSA: SchemeId = SchemeId::EcdsaDkls23;
const SCHNORR: SchemeId = SchemeId::SchnorrBip340;

fn field(r: Result<impl std::fmt::Debug, ChainError>) -> (ChainError, String) {
    let e = r.expect_err("expected a refusal");
    let f = e.field().unwrap_or_default().to_string();
    (e, f)
}

fn assert_unsupported(r: Result<impl std::fmt::Debug, ChainError>, want: &str) {
    let (e, f) = field(r);
    assert!(matches!(e, ChainError::Unsupported { .. }), "{e:?}");
    assert_eq!(f, want, "{e}");
}

fn assert_malformed(r: Result<impl std::fmt::Debug, ChainError>, want: &str) {
    let (e, f) = field(r);
    assert!(matches!(e, ChainError::Malformed { .. }), "{e:?}");
    assert_eq!(f, want, "{e}");
}

// ---------------------------------------------------------------- intent

#[test]
fn intent_of_payment_with_change() {
    let k = test_key(ECDSA, 1);
    let key = k.wallet_key();
    let me = Bitcoin.address("testnet", key).unwrap();
    assert_eq!(me.kind, "p2wpkh");
    assert!(me.address.starts_with("tb1q"), "{}", me.address);
    let payload = build(
        "testnet",
        key,
        &spec_one_in_payment_and_change("testnet", key),
    );
    let p = Bitcoin.parse("testnet", key, &payload).unwrap();
    let i = &p.intent;
    let btc = Asset::native("BTC", 8);
    assert_eq!(i.chain, "bitcoin");
    assert_eq!(i.network, "testnet");
    assert_eq!(i.source, me.address);
    assert_eq!(
        i.inputs,
        vec![InputRef {
            outpoint: coin_outpoint("testnet", key, 0x11, 0, 100_000),
            amount: Amount::from_u128(100_000),
            address: me.address.clone(),
        }]
    );
    assert_eq!(
        i.transfers,
        vec![Transfer {
            from: None,
            to: foreign_p2wpkh("testnet"),
            asset: btc.clone(),
            amount: Amount::from_u128(90_000),
        }]
    );
    assert_eq!(
        i.change,
        vec![Transfer {
            from: None,
            to: me.address.clone(),
            asset: btc.clone(),
            amount: Amount::from_u128(8_590),
        }]
    );
    let fee = i.fee.as_ref().unwrap();
    assert_eq!(fee.max, Amount::from_u128(1_410));
    // 1 P2WPKH input, 2 P2WPKH outputs: 141 vB signed.
    assert_eq!(fee.detail, "1410 sat, 10.0 sat/vB");
    assert!(i.risk_flags.is_empty(), "{:?}", i.risk_flags);
    assert_eq!(
        i.render(),
        format!(
            "Send 0.0009 BTC to {} on Bitcoin testnet, change 0.0000859 BTC to {}, max fee \
             0.0000141 BTC",
            foreign_p2wpkh("testnet"),
            me.address
        )
    );
    assert_eq!(p.messages.len(), 1);
}

#[test]
fn intent_of_two_inputs_p2tr_wallet() {
    let k = test_key(SCHNORR, 2);
    let key = k.wallet_key();
    let me = Bitcoin.address("mainnet", key).unwrap();
    assert_eq!(me.kind, "p2tr");
    assert!(me.address.starts_with("bc1p"), "{}", me.address);
    let payload = build("mainnet", key, &spec_two_in_two_out("mainnet", key));
    let p = Bitcoin.parse("mainnet", key, &payload).unwrap();
    assert_eq!(p.messages.len(), 2);
    let to: Vec<&str> = p.intent.transfers.iter().map(|t| t.to.as_str()).collect();
    assert_eq!(to, vec![foreign_p2tr("mainnet"), foreign_p2pkh("mainnet")]);
    assert!(p.intent.change.is_empty());
    assert_eq!(p.intent.fee.as_ref().unwrap().max, Amount::from_u128(5_000));
    assert!(p
        .intent
        .fee
        .as_ref()
        .unwrap()
        .detail
        .starts_with("5000 sat, "));
    assert_eq!(
        p.intent.inputs[1].outpoint,
        coin_outpoint("mainnet", key, 0x33, 7, 70_000)
    );
}

#[test]
fn op_return_is_a_script_destination() {
    let k = test_key(ECDSA, 3);
    let key = k.wallet_key();
    let payload = build("regtest", key, &spec_op_return("regtest", key));
    let p = Bitcoin.parse("regtest", key, &payload).unwrap();
    assert_eq!(p.intent.transfers.len(), 1);
    assert_eq!(
        p.intent.transfers[0].to,
        "script:6a0b68656c6c6f20776f726c64"
    );
    assert!(p.intent.transfers[0].amount.is_zero());
    // Nothing goes to others, so any fee is over 10 % of it.
    assert_eq!(p.intent.risk_flags, vec![RiskFlag::HighFee]);
}

#[test]
fn addresses_follow_the_requested_network() {
    let k = test_key(ECDSA, 4);
    let key = k.wallet_key();
    let payload = build(
        "testnet",
        key,
        &spec_one_in_payment_and_change("testnet", key),
    );
    let p = Bitcoin.parse("mainnet", key, &payload).unwrap();
    assert_eq!(p.intent.network, "mainnet");
    assert_eq!(p.intent.transfers[0].to, foreign_p2wpkh("mainnet"));
    assert_eq!(
        p.intent.source,
        Bitcoin.address("mainnet", key).unwrap().address
    );
}

#[test]
fn high_fee_flags() {
    let k = test_key(ECDSA, 5);
    let key = k.wallet_key();
    let spend = |input: u64, out: u64| {
        let spec = json!({
            "inputs": [coin("mainnet", key, 0x55, 0, input)],
            "outputs": [{"address": foreign_p2wpkh("mainnet"), "amount_sat": out}]
        });
        let p = Bitcoin
            .parse("mainnet", key, &build("mainnet", key, &spec))
            .unwrap();
        p.intent.risk_flags.contains(&RiskFlag::HighFee)
    };
    assert!(!spend(100_000, 98_000)); // 2000 sat: 2 %, ~18 sat/vB
    assert!(spend(100_000, 50_000)); // 50 % of the amount sent
    assert!(spend(10_000_000, 9_800_000)); // 2 % but 200000 sat over ~110 vB
    assert!(!spend(100_000, 90_910)); // 9090 sat: just under 10 %, ~83 sat/vB
}

#[test]
fn non_witness_utxo_alone_is_accepted_and_checked() {
    let k = test_key(ECDSA, 6);
    let key = k.wallet_key();
    let me = Bitcoin.address("mainnet", key).unwrap().address;
    // A previous transaction paying the wallet in its output 1.
    let prev = bitcoin::Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![],
        output: vec![txout(&foreign_p2wpkh("mainnet"), 1), txout(&me, 40_000)],
    };
    let mut psbt = manual_psbt(
        &[txout(&me, 40_000)],
        &[txout(&foreign_p2tr("mainnet"), 39_000)],
    );
    let with_witness_utxo = Bitcoin.parse("mainnet", key, &payload(&psbt)).unwrap();
    psbt.unsigned_tx.input[0].previous_output = bitcoin::OutPoint {
        txid: prev.compute_txid(),
        vout: 1,
    };
    psbt.inputs[0].witness_utxo = None;
    psbt.inputs[0].non_witness_utxo = Some(prev.clone());
    let p = Bitcoin.parse("mainnet", key, &payload(&psbt)).unwrap();
    assert_eq!(p.intent.inputs[0].amount, Amount::from_u128(40_000));
    assert_eq!(p.intent.fee, with_witness_utxo.intent.fee);

    // Both present and consistent: fine; inconsistent: refused.
    psbt.inputs[0].witness_utxo = Some(txout(&me, 40_000));
    Bitcoin.parse("mainnet", key, &payload(&psbt)).unwrap();
    psbt.inputs[0].witness_utxo = Some(txout(&me, 4_000_000));
    assert_malformed(
        Bitcoin.parse("mainnet", key, &payload(&psbt)),
        "psbt.inputs[0].witness_utxo",
    );
    // Another transaction than the outpoint's.
    psbt.inputs[0].witness_utxo = None;
    psbt.unsigned_tx.input[0].previous_output.txid = std::str::FromStr::from_str(&txid(9)).unwrap();
    assert_malformed(
        Bitcoin.parse("mainnet", key, &payload(&psbt)),
        "psbt.inputs[0].non_witness_utxo",
    );
    // An output index the transaction does not have.
    psbt.unsigned_tx.input[0].previous_output = bitcoin::OutPoint {
        txid: prev.compute_txid(),
        vout: 2,
    };
    assert_malformed(
        Bitcoin.parse("mainnet", key, &payload(&psbt)),
        "psbt.inputs[0].non_witness_utxo",
    );
}

// ---------------------------------------------------------------- refusals

#[test]
fn input_of_another_key_is_not_owned() {
    for scheme in [ECDSA, SchemeId::EcdsaCggmp24, SCHNORR] {
        let mine = test_key(scheme, 7);
        let theirs = test_key(scheme, 8);
        let spec = spec_two_in_two_out("testnet", theirs.wallet_key());
        let theirs_payload = build("testnet", theirs.wallet_key(), &spec);
        let (e, f) = field(Bitcoin.parse("testnet", mine.wallet_key(), &theirs_payload));
        assert!(matches!(e, ChainError::NotOwned { .. }), "{scheme}: {e:?}");
        assert_eq!(f, "psbt.inputs[0]");

        // Only the second input foreign: the error names it.
        let me = Bitcoin
            .address("testnet", mine.wallet_key())
            .unwrap()
            .address;
        let them = Bitcoin
            .address("testnet", theirs.wallet_key())
            .unwrap()
            .address;
        let psbt = manual_psbt(
            &[txout(&me, 10_000), txout(&them, 10_000)],
            &[txout(&foreign_p2wpkh("testnet"), 15_000)],
        );
        let (e, f) = field(Bitcoin.parse("testnet", mine.wallet_key(), &payload(&psbt)));
        assert!(matches!(e, ChainError::NotOwned { .. }), "{scheme}: {e:?}");
        assert_eq!(f, "psbt.inputs[1]");
    }
}

#[test]
fn script_types_the_wallet_cannot_spend_are_unsupported() {
    let ecdsa = test_key(ECDSA, 9);
    let schnorr = test_key(SCHNORR, 9);
    let p2wsh = ScriptBuf::new_p2wsh(&ScriptBuf::from_bytes(vec![0x51]).wscript_hash());
    let p2sh = ScriptBuf::new_p2sh(&ScriptBuf::from_bytes(vec![0x51]).script_hash());
    let cases = [
        (
            ecdsa.wallet_key(),
            script_of(&foreign_p2pkh("mainnet")),
            "P2PKH",
        ),
        (ecdsa.wallet_key(), p2sh.clone(), "P2SH"),
        (ecdsa.wallet_key(), p2wsh.clone(), "P2WSH"),
        (
            ecdsa.wallet_key(),
            script_of(&foreign_p2tr("mainnet")),
            "P2TR",
        ),
        (
            schnorr.wallet_key(),
            script_of(&foreign_p2wpkh("mainnet")),
            "P2WPKH",
        ),
        (
            schnorr.wallet_key(),
            script_of(&foreign_p2pkh("mainnet")),
            "P2PKH",
        ),
        (schnorr.wallet_key(), p2wsh, "P2WSH"),
    ];
    for (key, script, name) in cases {
        let me = Bitcoin.address("mainnet", key).unwrap().address;
        let prevouts = [
            txout(&me, 10_000),
            TxOut {
                value: BtcAmount::from_sat(10_000),
                script_pubkey: script,
            },
        ];
        let psbt = manual_psbt(&prevouts, &[txout(&foreign_p2wpkh("mainnet"), 15_000)]);
        let r = Bitcoin.parse("mainnet", key, &payload(&psbt));
        let (e, f) = field(r);
        assert!(matches!(e, ChainError::Unsupported { .. }), "{name}: {e:?}");
        assert_eq!(f, "psbt.inputs[1].witness_utxo.script_pubkey", "{name}");
        assert!(e.to_string().contains(name), "{e}");
    }
}

#[test]
fn outputs_exceeding_inputs_are_malformed() {
    let k = test_key(ECDSA, 10);
    let key = k.wallet_key();
    let me = Bitcoin.address("mainnet", key).unwrap().address;
    let psbt = manual_psbt(
        &[txout(&me, 10_000)],
        &[txout(&foreign_p2wpkh("mainnet"), 10_001)],
    );
    assert_malformed(
        Bitcoin.parse("mainnet", key, &payload(&psbt)),
        "psbt.unsigned_tx.outputs",
    );
    let spec = json!({
        "inputs": [coin("mainnet", key, 1, 0, 10_000)],
        "outputs": [{"address": foreign_p2wpkh("mainnet"), "amount_sat": 10_001}]
    });
    assert_malformed(Bitcoin.build("mainnet", key, &spec), "outputs");
}

#[test]
fn builder_address_of_another_network_is_wrong_network() {
    let k = test_key(ECDSA, 11);
    let key = k.wallet_key();
    let spec = |addr: String| {
        json!({
            "inputs": [coin("mainnet", key, 1, 0, 10_000)],
            "outputs": [{"address": addr, "amount_sat": 9_000}]
        })
    };
    let cases = [
        ("testnet", foreign_p2wpkh("mainnet"), "mainnet"),
        ("testnet", foreign_p2pkh("mainnet"), "mainnet"),
        ("mainnet", foreign_p2tr("testnet"), "testnet"),
        ("testnet", foreign_p2wpkh("regtest"), "regtest"),
    ];
    for (network, addr, found_net) in cases {
        let e = Bitcoin
            .build(network, key, &spec(addr.clone()))
            .unwrap_err();
        assert_eq!(
            e,
            ChainError::WrongNetwork {
                field: "outputs[0].address".into(),
                expected: network.into(),
                found: found_net.into(),
            },
            "{addr}"
        );
    }
    // Base58 test addresses are shared by testnet and regtest.
    Bitcoin
        .build("regtest", key, &spec(foreign_p2pkh("testnet")))
        .unwrap();
}

#[test]
fn ed25519_is_unsupported_everywhere() {
    let ed = test_key(SchemeId::Ed25519, 12);
    let key = ed.wallet_key();
    let ecdsa = test_key(ECDSA, 12);
    let spec = spec_two_in_two_out("mainnet", ecdsa.wallet_key());
    let payload = build("mainnet", ecdsa.wallet_key(), &spec);
    assert_unsupported(Bitcoin.address("mainnet", key), "scheme");
    assert_unsupported(Bitcoin.parse("mainnet", key, &payload), "scheme");
    assert_unsupported(Bitcoin.build("mainnet", key, &spec), "scheme");
    assert_unsupported(Bitcoin.finalize("mainnet", key, &payload, &[]), "scheme");
}

#[test]
fn unknown_network_and_format_are_unsupported() {
    let k = test_key(ECDSA, 13);
    let key = k.wallet_key();
    let payload = build("mainnet", key, &spec_two_in_two_out("mainnet", key));
    assert_unsupported(Bitcoin.address("signet", key), "network");
    assert_unsupported(Bitcoin.parse("testnet4", key, &payload), "network");
    let other = Payload {
        format: "psbt_base64".into(),
        bytes: payload.bytes.clone(),
    };
    assert_unsupported(Bitcoin.parse("mainnet", key, &other), "format");
    assert_unsupported(Bitcoin.finalize("mainnet", key, &other, &[]), "format");
}

#[test]
fn sighash_types() {
    let ecdsa = test_key(ECDSA, 14);
    let schnorr = test_key(SCHNORR, 14);
    for (k, ok, refused) in [
        (&ecdsa, vec![1u32], vec![0u32, 2, 3, 0x81, 0x83]),
        (&schnorr, vec![0, 1], vec![2, 3, 0x81, 0x82, 0x83]),
    ] {
        let key = k.wallet_key();
        let me = Bitcoin.address("mainnet", key).unwrap().address;
        let mut psbt = manual_psbt(
            &[txout(&me, 10_000)],
            &[txout(&foreign_p2tr("mainnet"), 9_000)],
        );
        for t in ok {
            psbt.inputs[0].sighash_type = Some(PsbtSighashType::from_u32(t));
            Bitcoin.parse("mainnet", key, &payload(&psbt)).unwrap();
        }
        for t in refused {
            psbt.inputs[0].sighash_type = Some(PsbtSighashType::from_u32(t));
            assert_unsupported(
                Bitcoin.parse("mainnet", key, &payload(&psbt)),
                "psbt.inputs[0].sighash_type",
            );
        }
    }
}

#[test]
fn taproot_input_fields_are_checked() {
    let k = test_key(SCHNORR, 15);
    let key = k.wallet_key();
    let other = test_key(SCHNORR, 16);
    let me = Bitcoin.address("mainnet", key).unwrap().address;
    let mut psbt = manual_psbt(
        &[txout(&me, 10_000)],
        &[txout(&foreign_p2tr("mainnet"), 9_000)],
    );
    let other_x = bitcoin::secp256k1::PublicKey::from_slice(other.public_key().as_bytes())
        .unwrap()
        .x_only_public_key()
        .0;
    psbt.inputs[0].tap_internal_key = Some(other_x);
    assert_malformed(
        Bitcoin.parse("mainnet", key, &payload(&psbt)),
        "psbt.inputs[0].tap_internal_key",
    );
    psbt.inputs[0].tap_internal_key = None;
    psbt.inputs[0].tap_merkle_root = Some(bitcoin::TapNodeHash::from_script(
        &ScriptBuf::from_bytes(vec![0x51]),
        bitcoin::taproot::LeafVersion::TapScript,
    ));
    assert_unsupported(
        Bitcoin.parse("mainnet", key, &payload(&psbt)),
        "psbt.inputs[0].tap_merkle_root",
    );
}

#[test]
fn structural_refusals() {
    let k = test_key(ECDSA, 17);
    let key = k.wallet_key();
    let me = Bitcoin.address("mainnet", key).unwrap().address;
    let good = build("mainnet", key, &spec_two_in_two_out("mainnet", key));

    // Not a PSBT, trailing bytes, truncated.
    assert_malformed(
        Bitcoin.parse(
            "mainnet",
            key,
            &Payload {
                format: "psbt".into(),
                bytes: b"hello".to_vec(),
            },
        ),
        "psbt",
    );
    let mut trailing = good.clone();
    trailing.bytes.push(0);
    assert_malformed(Bitcoin.parse("mainnet", key, &trailing), "psbt");
    let mut cut = good.clone();
    cut.bytes.pop();
    assert_malformed(Bitcoin.parse("mainnet", key, &cut), "psbt");

    // Missing prevout.
    let mut psbt = manual_psbt(
        &[txout(&me, 10_000)],
        &[txout(&foreign_p2tr("mainnet"), 9_000)],
    );
    psbt.inputs[0].witness_utxo = None;
    psbt.inputs[0].non_witness_utxo = None;
    assert_malformed(
        Bitcoin.parse("mainnet", key, &payload(&psbt)),
        "psbt.inputs[0].witness_utxo",
    );

    // The same outpoint twice.
    let mut psbt = manual_psbt(
        &[txout(&me, 10_000), txout(&me, 10_000)],
        &[txout(&foreign_p2tr("mainnet"), 9_000)],
    );
    psbt.unsigned_tx.input[1].previous_output = psbt.unsigned_tx.input[0].previous_output;
    assert_malformed(
        Bitcoin.parse("mainnet", key, &payload(&psbt)),
        "psbt.unsigned_tx.inputs[1]",
    );

    // An amount beyond 21 million BTC.
    let psbt = manual_psbt(
        &[txout(&me, 21_000_000 * 100_000_000 + 1)],
        &[txout(&foreign_p2tr("mainnet"), 9_000)],
    );
    assert_malformed(
        Bitcoin.parse("mainnet", key, &payload(&psbt)),
        "psbt.inputs[0].witness_utxo.amount",
    );

    // Non-standard transaction version.
    let mut psbt = manual_psbt(
        &[txout(&me, 10_000)],
        &[txout(&foreign_p2tr("mainnet"), 9_000)],
    );
    psbt.unsigned_tx.version = bitcoin::transaction::Version(7);
    assert_unsupported(
        Bitcoin.parse("mainnet", key, &payload(&psbt)),
        "psbt.unsigned_tx.version",
    );
}

#[test]
fn builder_refusals_name_the_field() {
    let k = test_key(ECDSA, 18);
    let key = k.wallet_key();
    let out = foreign_p2wpkh("mainnet");
    let input = coin("mainnet", key, 1, 0, 10_000);
    let cases = [
        (json!([]), "spec"),
        (
            json!({"outputs": [{"address": out, "amount_sat": 1}]}),
            "inputs",
        ),
        (
            json!({"inputs": [], "outputs": [{"address": out, "amount_sat": 1}]}),
            "inputs",
        ),
        (json!({"inputs": [input], "outputs": []}), "outputs"),
        (
            json!({"inputs": [input], "outputs": [{"address": out, "amount_sat": 1}], "fee": 1}),
            "fee",
        ),
        (
            json!({"inputs": [{"txid": "zz", "vout": 0, "amount_sat": 1}], "outputs": [{"address": out, "amount_sat": 1}]}),
            "inputs[0].txid",
        ),
        (
            json!({"inputs": [{"txid": txid(1), "vout": -1, "amount_sat": 1}], "outputs": [{"address": out, "amount_sat": 1}]}),
            "inputs[0].vout",
        ),
        (
            json!({"inputs": [{"txid": txid(1), "vout": 4294967296u64, "amount_sat": 1}], "outputs": [{"address": out, "amount_sat": 1}]}),
            "inputs[0].vout",
        ),
        (
            json!({"inputs": [{"txid": txid(1), "vout": 0}], "outputs": [{"address": out, "amount_sat": 1}]}),
            "inputs[0].amount_sat",
        ),
        (
            json!({"inputs": [{"txid": txid(1), "vout": 0, "amount_sat": 1.5}], "outputs": [{"address": out, "amount_sat": 1}]}),
            "inputs[0].amount_sat",
        ),
        (
            json!({"inputs": [input, input], "outputs": [{"address": out, "amount_sat": 1}]}),
            "inputs[1]",
        ),
        (
            json!({"inputs": [input], "outputs": [{"address": out, "amount": 1}]}),
            "outputs[0].amount",
        ),
        (
            json!({"inputs": [input], "outputs": [{"address": "bc1qnotanaddress", "amount_sat": 1}]}),
            "outputs[0].address",
        ),
        (
            json!({"inputs": [input], "outputs": [{"amount_sat": 1}]}),
            "outputs[0]",
        ),
        (
            json!({"inputs": [input], "outputs": [{"address": out, "script_hex": "6a", "amount_sat": 1}]}),
            "outputs[0]",
        ),
        (
            json!({"inputs": [input], "outputs": [{"script_hex": "6g", "amount_sat": 1}]}),
            "outputs[0].script_hex",
        ),
        (
            json!({"inputs": [input], "outputs": [{"address": out, "amount_sat": "01"}]}),
            "outputs[0].amount_sat",
        ),
        (
            json!({"inputs": [input], "outputs": [{"address": out, "amount_sat": 1}], "locktime": 4294967296u64}),
            "locktime",
        ),
        (
            json!({"inputs": [input], "outputs": [{"address": out, "amount_sat": 1}], "rbf": "yes"}),
            "rbf",
        ),
    ];
    for (spec, want) in cases {
        let r = Bitcoin.build("mainnet", key, &spec);
        let (e, f) = field(r);
        assert!(matches!(e, ChainError::Malformed { .. }), "{spec}: {e:?}");
        assert_eq!(f, want, "{spec}: {e}");
    }
}

#[test]
fn builder_is_deterministic_and_sets_prevouts() {
    for scheme in [ECDSA, SCHNORR] {
        let k = test_key(scheme, 19);
        let key = k.wallet_key();
        let spec = spec_op_return("testnet", key);
        let a = build("testnet", key, &spec);
        let b = build("testnet", key, &spec);
        assert_eq!(a, b);
        let psbt = bitcoin::psbt::Psbt::deserialize(&a.bytes).unwrap();
        assert_eq!(psbt.unsigned_tx.version, bitcoin::transaction::Version::TWO);
        assert_eq!(psbt.unsigned_tx.lock_time.to_consensus_u32(), 800_000);
        assert_eq!(psbt.unsigned_tx.input[0].sequence.0, 0xffff_fffe);
        let me = Bitcoin.address("testnet", key).unwrap().address;
        assert_eq!(psbt.inputs[0].witness_utxo, Some(txout(&me, 30_000)));
        assert_eq!(psbt.inputs[0].tap_internal_key.is_some(), scheme == SCHNORR);
        // RBF by default.
        let p = build("testnet", key, &spec_two_in_two_out("testnet", key));
        let psbt = bitcoin::psbt::Psbt::deserialize(&p.bytes).unwrap();
        assert!(psbt
            .unsigned_tx
            .input
            .iter()
            .all(|i| i.sequence.0 == 0xffff_fffd));
    }
}

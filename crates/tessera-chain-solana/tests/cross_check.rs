//! Our parser and builder against the official Solana serializer (`solana_message::Message`).
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::json;
use solana_transaction::{AccountMeta, Instruction, Message};
use tessera_chain_solana::message::LegacyMessage;

/// Our parse of the official bytes has the official keys, header, blockhash and instructions,
/// and serializes back to the same bytes.
fn assert_same(official: &Message) {
    let bytes = official.serialize();
    let ours = LegacyMessage::parse(&bytes).unwrap();
    assert_eq!(
        ours.header.num_required_signatures,
        official.header.num_required_signatures
    );
    assert_eq!(
        ours.header.num_readonly_signed_accounts,
        official.header.num_readonly_signed_accounts
    );
    assert_eq!(
        ours.header.num_readonly_unsigned_accounts,
        official.header.num_readonly_unsigned_accounts
    );
    let keys: Vec<[u8; 32]> = official.account_keys.iter().map(|k| k.to_bytes()).collect();
    assert_eq!(ours.account_keys, keys);
    assert_eq!(ours.recent_blockhash, official.recent_blockhash.to_bytes());
    assert_eq!(ours.instructions.len(), official.instructions.len());
    for (a, b) in ours.instructions.iter().zip(&official.instructions) {
        assert_eq!(a.program_id_index, b.program_id_index);
        assert_eq!(a.accounts, b.accounts);
        assert_eq!(a.data, b.data);
    }
    for i in 0..keys.len() {
        assert_eq!(ours.is_signer(i), official.is_signer(i), "signer {i}");
        // The runtime demotes invoked programs to read-only; the header alone does not.
        if !official.demote_program_id(i) {
            assert_eq!(
                ours.is_writable(i),
                official.is_maybe_writable(i, None),
                "writable {i}"
            );
        }
    }
    assert_eq!(ours.serialize(), bytes);
}

#[test]
fn parser_decodes_official_system_transfers() {
    let w = pk(&key(1));
    for ixs in [
        vec![sol_transfer(&w, &[0x22; 32], 1)],
        vec![
            sol_transfer(&w, &[0x22; 32], 500_000_000),
            sol_transfer(&w, &[0x01; 32], u64::MAX),
            sol_transfer(&w, &[0xf0; 32], 0),
        ],
        vec![
            compute_limit(1),
            compute_price(2),
            sol_transfer(&w, &[0x22; 32], 3),
        ],
        vec![],
    ] {
        let m = Message::new_with_blockhash(
            &ixs,
            Some(&sol(&w)),
            &solana_transaction::Hash::new_from_array(BLOCKHASH),
        );
        assert_same(&m);
    }
}

#[test]
fn builder_matches_the_official_serializer() {
    let k = key(1);
    let w = pk(&k);
    let to = [0x22; 32];
    let owner = pk(&key(3));
    let usdc = from_b58(USDC);
    let usdt = from_b58(USDT);

    // SOL only.
    let built = build("mainnet-beta", &k, &sol_spec(&to, 1_000_000));
    assert_eq!(
        built.bytes,
        official(&[sol_transfer(&w, &to, 1_000_000)], &w, &BLOCKHASH)
    );

    // Everything: compute budget, two SOL transfers, a token transfer with creation and one
    // without.
    let spec = json!({
        "recent_blockhash": b58(&BLOCKHASH),
        "transfers": [{"to": b58(&to), "lamports": 7}, {"to": b58(&owner), "lamports": 8}],
        "token_transfers": [
            {"mint": USDC, "to_owner": b58(&owner), "amount": "1500000", "decimals": 6,
             "create_ata": true},
            {"mint": USDT, "to_owner": b58(&to), "amount": 42, "decimals": 6}
        ],
        "compute_unit_limit": 250_000,
        "compute_unit_price_micro_lamports": 10_000
    });
    let built = build("mainnet-beta", &k, &spec);
    let ixs = [
        compute_limit(250_000),
        compute_price(10_000),
        sol_transfer(&w, &to, 7),
        sol_transfer(&w, &owner, 8),
        create_ata_idempotent(&w, &owner, &usdc),
        transfer_checked(
            &ata(&w, &usdc),
            &usdc,
            &ata(&owner, &usdc),
            &w,
            1_500_000,
            6,
        ),
        transfer_checked(&ata(&w, &usdt), &usdt, &ata(&to, &usdt), &w, 42, 6),
    ];
    let expected = official(&ixs, &w, &BLOCKHASH);
    assert_eq!(built.bytes, expected);
    assert_same(&official_message(&ixs, &w));
}

fn official_message(ixs: &[Instruction], payer: &[u8; 32]) -> Message {
    Message::new_with_blockhash(
        ixs,
        Some(&sol(payer)),
        &solana_transaction::Hash::new_from_array(BLOCKHASH),
    )
}

fn arb_instruction() -> impl Strategy<Value = Instruction> {
    (
        1u8..6,
        prop::collection::vec((0u8..12, any::<bool>(), any::<bool>()), 0..6),
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(program, metas, data)| {
            Instruction::new_with_bytes(
                sol(&[program.wrapping_mul(37); 32]),
                &data,
                metas
                    .into_iter()
                    .map(|(k, signer, writable)| {
                        let key = sol(&[k.wrapping_add(100); 32]);
                        if writable {
                            AccountMeta::new(key, signer)
                        } else {
                            AccountMeta::new_readonly(key, signer)
                        }
                    })
                    .collect(),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arbitrary instruction lists compiled by the official `Message::new_with_blockhash`: our
    /// parser reads back exactly what it wrote.
    #[test]
    fn parser_agrees_with_the_official_serializer(
        ixs in prop::collection::vec(arb_instruction(), 0..6),
        payer in any::<[u8; 32]>(),
        blockhash in any::<[u8; 32]>(),
    ) {
        let m = Message::new_with_blockhash(
            &ixs,
            Some(&sol(&payer)),
            &solana_transaction::Hash::new_from_array(blockhash),
        );
        // The official compiler can emit a program at index 0 only if the payer is a program,
        // which these keys never are.
        assert_same(&m);
    }
}

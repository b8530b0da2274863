//! Decoding with exact expectations: renderings, owners, fee bounds, flags and refusals.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::*;
use solana_transaction::{AccountMeta, Instruction};
use tessera_chain::conformance::TestKey;
use tessera_chain::{Asset, ChainAdapter, ChainError, IntentKind, RiskFlag, SchemeId};
use tessera_chain_solana::message::LegacyMessage;
use tessera_chain_solana::pda::{associated_token_address, find_program_address};
use tessera_chain_solana::programs::{
    ASSOCIATED_TOKEN_PROGRAM, COMPUTE_BUDGET_PROGRAM, SYSTEM_PROGRAM, TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM,
};
use tessera_chain_solana::Solana;

const MAINNET: &str = "mainnet-beta";

fn parse(
    network: &str,
    k: &TestKey,
    bytes: Vec<u8>,
) -> tessera_chain::Result<tessera_chain::Parsed> {
    Solana.parse(network, k.wallet_key(), &payload(bytes))
}

fn field(e: &ChainError) -> &str {
    e.field().unwrap_or("")
}

#[test]
fn program_ids_decode_to_their_base58_text() {
    for (id, text) in [
        (SYSTEM_PROGRAM, "11111111111111111111111111111111"),
        (TOKEN_PROGRAM, TOKENKEG),
        (
            TOKEN_2022_PROGRAM,
            "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb",
        ),
        (
            ASSOCIATED_TOKEN_PROGRAM,
            "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
        ),
        (
            COMPUTE_BUDGET_PROGRAM,
            "ComputeBudget111111111111111111111111111111",
        ),
    ] {
        assert_eq!(b58(&id), text);
        assert_eq!(id, from_b58(text));
    }
}

#[test]
fn sol_transfer_renders_exactly() {
    let k = key(1);
    let to = pk(&key(2));
    let bytes = official(
        &[sol_transfer(&pk(&k), &to, 500_000_000)],
        &pk(&k),
        &BLOCKHASH,
    );
    let parsed = parse(MAINNET, &k, bytes.clone()).unwrap();
    let i = &parsed.intent;
    assert_eq!(
        i.render(),
        format!(
            "Send 0.5 SOL to {} on Solana mainnet-beta, max fee 0.000005 SOL",
            b58(&to)
        )
    );
    assert_eq!(i.kind, IntentKind::Transfer);
    assert_eq!(i.source, b58(&pk(&k)));
    assert_eq!(i.fee_payer.as_deref(), Some(b58(&pk(&k)).as_str()));
    assert_eq!(
        i.recent_blockhash.as_deref(),
        Some(b58(&BLOCKHASH).as_str())
    );
    assert_eq!(i.transfers[0].asset, Asset::native("SOL", 9));
    assert_eq!(i.fee.as_ref().unwrap().max.as_str(), "5000");
    assert!(i.risk_flags.is_empty());
    assert!(i.calls.first().cloned().is_none());
    // The message to sign is the message bytes, raw.
    assert_eq!(
        parsed.messages,
        vec![tessera_chain::SignMessage::raw_bytes(bytes)]
    );
    // The address is the base58 key.
    let a = Solana.address(MAINNET, k.wallet_key()).unwrap();
    assert_eq!(
        (a.address.as_str(), a.kind.as_str()),
        (b58(&pk(&k)).as_str(), "ed25519")
    );
}

#[test]
fn usdc_transfer_checked_with_ata_creation_reports_the_owner() {
    let k = key(1);
    let w = pk(&k);
    let owner = pk(&key(3));
    let mint = from_b58(USDC);
    let ixs = [
        create_ata_idempotent(&w, &owner, &mint),
        transfer_checked(
            &ata(&w, &mint),
            &mint,
            &ata(&owner, &mint),
            &w,
            1_500_000,
            6,
        ),
    ];
    let bytes = official(&ixs, &w, &BLOCKHASH);
    let i = parse(MAINNET, &k, bytes.clone()).unwrap().intent;
    // The creation's rent (a 165-byte token account) is SOL the wallet sends to the owner.
    assert_eq!(
        i.render(),
        format!(
            "Send 0.00203928 SOL to {owner} and 1.5 USDC to {owner} on Solana mainnet-beta via \
             createIdempotent on ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL, then \
             transferChecked on {TOKENKEG}, max fee 0.000005 SOL [risk: multiple_operations]",
            owner = b58(&owner)
        )
    );
    assert_eq!(i.transfers.len(), 2);
    assert_eq!(i.transfers[0].asset, Asset::native("SOL", 9));
    assert_eq!(i.transfers[1].to, b58(&owner));
    assert_eq!(
        i.transfers[1].asset,
        Asset {
            symbol: "USDC".into(),
            decimals: Some(6),
            contract: Some(USDC.into())
        }
    );
    assert_eq!(i.risk_flags, vec![RiskFlag::MultipleOperations]);
    let call = i.calls[1].clone();
    assert_eq!(
        (call.method.as_str(), call.selector.as_str()),
        ("transferChecked", "0c")
    );
    let to_arg = call.args.iter().find(|a| a.name == "to").unwrap();
    assert!(
        to_arg.value.contains("derivation verified"),
        "{}",
        to_arg.value
    );

    // Our builder gives the same bytes for the same transfer.
    let built = build(MAINNET, &k, &usdc_spec(&owner));
    assert_eq!(built.bytes, bytes);

    // On devnet the mint is unknown: "?" with the instruction's decimals, flagged.
    let i = parse("devnet", &k, bytes).unwrap().intent;
    assert_eq!(i.transfers[1].asset.symbol, "?");
    assert_eq!(i.transfers[1].asset.decimals, Some(6));
    assert_eq!(
        i.risk_flags,
        vec![RiskFlag::UnknownToken, RiskFlag::MultipleOperations]
    );
}

#[test]
fn transfer_to_a_token_account_without_creation_says_so() {
    let k = key(1);
    let w = pk(&k);
    let mint = from_b58(USDT);
    let dest_account = [0x33; 32];
    let ixs = [transfer_checked(
        &ata(&w, &mint),
        &mint,
        &dest_account,
        &w,
        2_000_000,
        6,
    )];
    let i = parse(MAINNET, &k, official(&ixs, &w, &BLOCKHASH))
        .unwrap()
        .intent;
    assert_eq!(i.transfers[0].to, b58(&dest_account));
    assert_eq!(i.transfers[0].asset.symbol, "USDT");
    let call = i.calls.first().cloned().unwrap();
    let to_arg = call.args.iter().find(|a| a.name == "to").unwrap();
    assert!(
        to_arg.value.starts_with("token account"),
        "{}",
        to_arg.value
    );
    assert!(
        to_arg.value.contains("not resolved offline"),
        "{}",
        to_arg.value
    );
}

#[test]
fn plain_token_transfer_of_an_unknown_mint_is_refused() {
    // It used to be a "?" asset with no contract, which policy counted as native SOL (issue
    // 16): the mint cannot be resolved, so the transfer is refused (see `effects.rs`).
    let k = key(1);
    let w = pk(&k);
    let ixs = [token_transfer(&[0x44; 32], &[0x55; 32], &w, 1234)];
    let e = parse(MAINNET, &k, official(&ixs, &w, &BLOCKHASH)).unwrap_err();
    assert!(matches!(e, ChainError::Unsupported { .. }), "{e:?}");
    assert_eq!(field(&e), "message.instructions[0]");

    // A plain transfer from the wallet's USDC account is recognised as USDC.
    let mint = from_b58(USDC);
    let ixs = [token_transfer(&ata(&w, &mint), &[0x55; 32], &w, 2_500_000)];
    let i = parse(MAINNET, &k, official(&ixs, &w, &BLOCKHASH))
        .unwrap()
        .intent;
    assert!(
        i.render().starts_with("Send 2.5 USDC to "),
        "{}",
        i.render()
    );
    assert!(i.risk_flags.is_empty());
    assert_eq!(i.calls.first().cloned().unwrap().method, "transfer");
}

#[test]
fn decimals_contradicting_the_known_mint_are_malformed() {
    let k = key(1);
    let w = pk(&k);
    let mint = from_b58(USDC);
    let ixs = [transfer_checked(
        &ata(&w, &mint),
        &mint,
        &[0x33; 32],
        &w,
        1,
        9,
    )];
    let e = parse(MAINNET, &k, official(&ixs, &w, &BLOCKHASH)).unwrap_err();
    assert!(matches!(e, ChainError::Malformed { .. }), "{e:?}");
    assert_eq!(field(&e), "message.instructions[0].data");
    // The builder refuses the same mistake, naming the spec field.
    let mut spec = usdc_spec(&[0x33; 32]);
    spec["token_transfers"][0]["decimals"] = 9.into();
    let e = Solana.build(MAINNET, k.wallet_key(), &spec).unwrap_err();
    assert_eq!(field(&e), "token_transfers[0].decimals");
}

#[test]
fn ata_known_vector() {
    // Published output of @solana/spl-token `getAssociatedTokenAddress(mint, owner)` (SPL Token
    // program) for the devnet USDC mint: 256hax/solana-anchor-react-minimal-example,
    // scripts/solana/spl-token-v0.3.x/getAssociatedTokenAddress.ts.
    let owner = from_b58("5waJka9MrCgPFoLo3SQSjLDTGnkoDcwYYPnpk4YNJS6i");
    let mint = from_b58("4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU");
    let got = associated_token_address(&owner, &TOKEN_PROGRAM, &mint).unwrap();
    assert_eq!(b58(&got), "HmBpVD6N1vuGvQpS8KrwWH6Tr8rSwXQBEDKn5VXW6yyw");
    // The canonical bump is the first off-curve one; the result is off the curve.
    let (addr, bump) =
        find_program_address(&[&owner, &TOKEN_PROGRAM, &mint], &ASSOCIATED_TOKEN_PROGRAM).unwrap();
    assert_eq!(addr, got);
    assert!(!tessera_chain_solana::pda::is_on_curve(&addr));
    assert!(bump >= 1);
    // Token-2022 derives another address.
    assert_ne!(
        associated_token_address(&owner, &TOKEN_2022_PROGRAM, &mint).unwrap(),
        got
    );
}

#[test]
fn ata_creation_with_a_wrong_address_is_malformed() {
    let k = key(1);
    let w = pk(&k);
    let owner = pk(&key(3));
    let mint = from_b58(USDC);
    let mut create = create_ata_idempotent(&w, &owner, &mint);
    create.accounts[1].pubkey = sol(&[0x66; 32]);
    let ixs = [
        create,
        transfer_checked(&ata(&w, &mint), &mint, &[0x66; 32], &w, 1, 6),
    ];
    let e = parse(MAINNET, &k, official(&ixs, &w, &BLOCKHASH)).unwrap_err();
    assert!(matches!(e, ChainError::Malformed { .. }), "{e:?}");
    assert_eq!(field(&e), "message.instructions[0].accounts[1]");
}

#[test]
fn compute_budget_sets_the_fee_bound() {
    let k = key(1);
    let w = pk(&k);
    let to = [0x22; 32];
    // Limit 300 000 × 12 345 µlamports = 3703.5 → 3704 lamports priority + 5000 base.
    let ixs = [
        compute_limit(300_000),
        compute_price(12_345),
        sol_transfer(&w, &to, 1),
    ];
    let i = parse(MAINNET, &k, official(&ixs, &w, &BLOCKHASH))
        .unwrap()
        .intent;
    let fee = i.fee.unwrap();
    assert_eq!(fee.max.as_str(), "8704");
    assert!(fee.detail.contains("300000 CU"), "{}", fee.detail);
    assert!(
        fee.detail.contains("12345 micro-lamports/CU"),
        "{}",
        fee.detail
    );
    assert!(i.risk_flags.is_empty());
    assert!(i.calls.first().cloned().is_none());

    // No limit: 200 000 per non-compute-budget instruction (two transfers → 400 000).
    let ixs = [
        compute_price(1_000),
        sol_transfer(&w, &to, 1),
        sol_transfer(&w, &to, 2),
    ];
    let i = parse(MAINNET, &k, official(&ixs, &w, &BLOCKHASH))
        .unwrap()
        .intent;
    assert_eq!(i.fee.as_ref().unwrap().max.as_str(), "5400");
    assert_eq!(i.risk_flags, vec![RiskFlag::MultipleOperations]);
    assert!(i
        .fee
        .unwrap()
        .detail
        .contains("default 200000 × 2 instructions"));

    // The limit is capped at 1 400 000.
    let ixs = [
        compute_limit(u32::MAX),
        compute_price(1_000_000),
        sol_transfer(&w, &to, 1),
    ];
    let i = parse(MAINNET, &k, official(&ixs, &w, &BLOCKHASH))
        .unwrap()
        .intent;
    assert_eq!(i.fee.as_ref().unwrap().max.as_str(), "1405000");
    assert!(i.risk_flags.is_empty());

    // Above 0.01 SOL: high fee.
    let ixs = [
        compute_limit(1_000_000),
        compute_price(10_000_000),
        sol_transfer(&w, &to, 1),
    ];
    let i = parse(MAINNET, &k, official(&ixs, &w, &BLOCKHASH))
        .unwrap()
        .intent;
    assert_eq!(i.fee.as_ref().unwrap().max.as_str(), "10005000");
    assert_eq!(i.risk_flags, vec![RiskFlag::HighFee]);
    assert!(
        i.render().contains("max fee 0.010005 SOL"),
        "{}",
        i.render()
    );

    // A second SetComputeUnitPrice makes the runtime reject the transaction.
    let ixs = [compute_price(1), compute_price(2), sol_transfer(&w, &to, 1)];
    let e = parse(MAINNET, &k, official(&ixs, &w, &BLOCKHASH)).unwrap_err();
    assert_eq!(field(&e), "message.instructions[1]");
}

#[test]
fn unknown_program_is_flagged() {
    let k = key(1);
    let w = pk(&k);
    let program = [0x77; 32];
    let ix = Instruction::new_with_bytes(
        sol(&program),
        &[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5],
        vec![AccountMeta::new(sol(&w), true)],
    );
    let i = parse(MAINNET, &k, official(&[ix], &w, &BLOCKHASH))
        .unwrap()
        .intent;
    assert_eq!(i.kind, IntentKind::ContractCall);
    assert_eq!(i.risk_flags, vec![RiskFlag::UnknownSelector]);
    let call = i.calls.first().unwrap();
    assert_eq!(call.contract, b58(&program));
    assert_eq!(call.method, "unknown");
    assert_eq!(call.selector, "deadbeef01020304");
    assert!(i
        .render()
        .starts_with(&format!("Call unknown on {}", b58(&program))));

    // Next to a transfer, the unknown call is the one shown.
    let ix = Instruction::new_with_bytes(sol(&program), &[1], vec![]);
    let ixs = [sol_transfer(&w, &[0x22; 32], 5), ix];
    let i = parse(MAINNET, &k, official(&ixs, &w, &BLOCKHASH))
        .unwrap()
        .intent;
    assert_eq!(i.kind, IntentKind::ContractCall);
    assert_eq!(i.calls.first().cloned().unwrap().method, "unknown");
    assert_eq!(i.transfers.len(), 1);
}

#[test]
fn authority_changes_are_flagged() {
    let k = key(1);
    let w = pk(&k);
    // System Assign of the wallet's own account to another program.
    let assign = solana_system_interface::instruction::assign(&sol(&w), &sol(&[0x88; 32]));
    let i = parse(MAINNET, &k, official(&[assign], &w, &BLOCKHASH))
        .unwrap()
        .intent;
    assert_eq!(i.risk_flags, vec![RiskFlag::GrantsAuthority]);
    assert_eq!(i.calls.first().cloned().unwrap().method, "assign");
    assert_eq!(i.authorities.len(), 1);

    // SPL Token Approve of everything in the wallet's USDC account.
    let mut data = vec![4];
    data.extend_from_slice(&u64::MAX.to_le_bytes());
    let approve = Instruction::new_with_bytes(
        sol(&TOKEN_PROGRAM),
        &data,
        vec![
            AccountMeta::new(sol(&ata(&w, &from_b58(USDC))), false),
            AccountMeta::new_readonly(sol(&[0x45; 32]), false),
            AccountMeta::new_readonly(sol(&w), true),
        ],
    );
    let i = parse(MAINNET, &k, official(&[approve], &w, &BLOCKHASH))
        .unwrap()
        .intent;
    assert_eq!(
        i.risk_flags,
        vec![RiskFlag::UnlimitedApproval, RiskFlag::GrantsAuthority]
    );
    assert_eq!(i.allowances.len(), 1);
    assert_eq!(i.allowances[0].amount, None);
    assert_eq!(i.kind, IntentKind::ContractCall);
    assert_eq!(i.calls.first().cloned().unwrap().method, "approve");

    // SPL Token SetAuthority (account owner → someone else).
    let mut data = vec![6, 2, 1];
    data.extend_from_slice(&[0x99; 32]);
    let set = Instruction::new_with_bytes(
        sol(&TOKEN_PROGRAM),
        &data,
        vec![
            AccountMeta::new(sol(&[0x44; 32]), false),
            AccountMeta::new_readonly(sol(&w), true),
        ],
    );
    let i = parse(MAINNET, &k, official(&[set], &w, &BLOCKHASH))
        .unwrap()
        .intent;
    assert_eq!(i.risk_flags, vec![RiskFlag::GrantsAuthority]);
    let call = i.calls.first().cloned().unwrap();
    assert_eq!(call.method, "setAuthority");
    assert!(call.args.iter().any(|a| a.value == b58(&[0x99; 32])));
}

#[test]
fn fee_payer_must_be_the_wallet() {
    let k = key(1);
    let other = pk(&key(5));
    let bytes = official(&[sol_transfer(&other, &[0x22; 32], 1)], &other, &BLOCKHASH);
    let e = parse(MAINNET, &k, bytes).unwrap_err();
    assert!(matches!(e, ChainError::NotOwned { .. }), "{e:?}");
    assert_eq!(field(&e), "message.account_keys[0]");
}

#[test]
fn two_required_signers_are_unsupported() {
    let k = key(1);
    let w = pk(&k);
    let other = pk(&key(5));
    // A transfer from another account makes it a second signer.
    let bytes = official(&[sol_transfer(&other, &[0x22; 32], 1)], &w, &BLOCKHASH);
    assert_eq!(bytes[0], 2);
    let e = parse(MAINNET, &k, bytes).unwrap_err();
    assert!(matches!(e, ChainError::Unsupported { .. }), "{e:?}");
    assert_eq!(field(&e), "message.header");
}

#[test]
fn transfer_from_another_account_is_not_owned() {
    // Hand-made: one signer (the wallet) but a System transfer from an unsigned account.
    let k = key(1);
    let w = pk(&k);
    let mut m = LegacyMessage::parse(&official(
        &[sol_transfer(&w, &[0x22; 32], 1)],
        &w,
        &BLOCKHASH,
    ))
    .unwrap();
    m.instructions[0].accounts.swap(0, 1);
    let e = parse(MAINNET, &k, m.serialize()).unwrap_err();
    assert!(matches!(e, ChainError::NotOwned { .. }), "{e:?}");
    assert_eq!(field(&e), "message.instructions[0]");

    // Same for a token transfer authorized by someone else.
    let mut m = LegacyMessage::parse(&official(
        &[token_transfer(&[0x44; 32], &[0x55; 32], &w, 1)],
        &w,
        &BLOCKHASH,
    ))
    .unwrap();
    m.instructions[0].accounts[2] = m.instructions[0].accounts[0];
    let e = parse(MAINNET, &k, m.serialize()).unwrap_err();
    assert!(matches!(e, ChainError::NotOwned { .. }), "{e:?}");
    assert_eq!(field(&e), "message.instructions[0]");
}

#[test]
fn versioned_message_is_unsupported() {
    let k = key(1);
    let w = pk(&k);
    let v0 = solana_message::v0::Message::try_compile(
        &sol(&w),
        &[sol_transfer(&w, &[0x22; 32], 1)],
        &[],
        solana_transaction::Hash::new_from_array(BLOCKHASH),
    )
    .unwrap();
    let bytes = solana_message::VersionedMessage::V0(v0).serialize();
    assert_eq!(bytes[0], 0x80);
    let e = parse(MAINNET, &k, bytes).unwrap_err();
    assert!(matches!(e, ChainError::Unsupported { .. }), "{e:?}");
    assert_eq!(field(&e), "message.version");
}

#[test]
fn structural_errors_are_malformed_and_named() {
    let k = key(1);
    let w = pk(&k);
    let good = official(&[sol_transfer(&w, &[0x22; 32], 1)], &w, &BLOCKHASH);
    assert!(parse(MAINNET, &k, good.clone()).is_ok());
    let malformed = |bytes: Vec<u8>, want: &str| {
        let e = parse(MAINNET, &k, bytes).unwrap_err();
        assert!(matches!(e, ChainError::Malformed { .. }), "{want}: {e:?}");
        assert_eq!(field(&e), want);
    };

    // Trailing bytes.
    let mut b = good.clone();
    b.push(0);
    malformed(b, "message");
    // Truncated.
    malformed(
        good[..good.len() - 1].to_vec(),
        "message.instructions[0].data",
    );
    malformed(vec![], "message.header");

    let m = LegacyMessage::parse(&good).unwrap();
    // Account index out of range.
    let mut bad = m.clone();
    bad.instructions[0].accounts[1] = 3;
    malformed(bad.serialize(), "message.instructions[0].accounts[1]");
    // Program index out of range, and the fee payer as program.
    let mut bad = m.clone();
    bad.instructions[0].program_id_index = 9;
    malformed(bad.serialize(), "message.instructions[0].program_id_index");
    let mut bad = m.clone();
    bad.instructions[0].program_id_index = 0;
    malformed(bad.serialize(), "message.instructions[0].program_id_index");
    // Header counts that do not fit the keys / leave no writable fee payer.
    let mut bad = m.clone();
    bad.header.num_readonly_unsigned_accounts = 3;
    malformed(bad.serialize(), "message.header");
    let mut bad = m.clone();
    bad.header.num_readonly_signed_accounts = 1;
    malformed(bad.serialize(), "message.header");
    // Duplicate account key.
    let mut bad = m.clone();
    bad.account_keys[2] = bad.account_keys[1];
    malformed(bad.serialize(), "message.account_keys[2]");
    // Non-minimal length encoding of the key count.
    let mut b = good.clone();
    b.splice(3..4, [0x83, 0x00]);
    malformed(b, "message.account_keys");
    // System transfer data of the wrong length.
    let mut bad = m.clone();
    bad.instructions[0].data.push(0);
    malformed(bad.serialize(), "message.instructions[0].data");
    // Too large for a packet.
    malformed(vec![1; 1300], "message");
}

#[test]
fn requests_outside_the_adapter_are_refused() {
    let k = key(1);
    let bytes = official(
        &[sol_transfer(&pk(&k), &[0x22; 32], 1)],
        &pk(&k),
        &BLOCKHASH,
    );
    // A secp256k1 wallet.
    let secp = TestKey::from_seed(SchemeId::EcdsaDkls23, [7; 32]);
    let e = Solana
        .parse(MAINNET, secp.wallet_key(), &payload(bytes.clone()))
        .unwrap_err();
    assert!(matches!(e, ChainError::Unsupported { .. }), "{e:?}");
    assert_eq!(field(&e), "scheme");
    // Unknown format and network.
    let mut p = payload(bytes.clone());
    p.format = "psbt".into();
    let e = Solana.parse(MAINNET, k.wallet_key(), &p).unwrap_err();
    assert_eq!((e.code(), field(&e)), ("unsupported", "format"));
    let e = Solana
        .parse("mainnet", k.wallet_key(), &payload(bytes.clone()))
        .unwrap_err();
    assert_eq!((e.code(), field(&e)), ("unsupported", "network"));
    // The intent reports the requested cluster.
    for n in ["mainnet-beta", "devnet", "testnet"] {
        let i = parse(n, &k, bytes.clone()).unwrap().intent;
        assert_eq!(i.network, n);
        assert!(i.render().contains(&format!("on Solana {n}")));
    }
    assert!(!Solana.payload_binds_network("solana_message"));
}

#[test]
fn builder_refuses_bad_fields_by_name() {
    let k = key(1);
    let to = b58(&[0x22; 32]);
    let bh = b58(&BLOCKHASH);
    let cases = [
        (serde_json::json!([]), "spec"),
        (
            serde_json::json!({"transfers": [{"to": to, "lamports": 1}]}),
            "recent_blockhash",
        ),
        (
            serde_json::json!({"recent_blockhash": "0OIl", "transfers": []}),
            "recent_blockhash",
        ),
        (serde_json::json!({"recent_blockhash": bh}), "transfers"),
        (
            serde_json::json!({"recent_blockhash": bh, "extra": 1}),
            "extra",
        ),
        (
            serde_json::json!({"recent_blockhash": bh, "transfers": [{"to": to, "lamports": -1}]}),
            "transfers[0].lamports",
        ),
        (
            serde_json::json!({"recent_blockhash": bh, "transfers": [{"to": to, "lamports": 0}]}),
            "transfers[0].lamports",
        ),
        (
            serde_json::json!({"recent_blockhash": bh, "transfers": [{"to": "abc", "lamports": 1}]}),
            "transfers[0].to",
        ),
        (
            serde_json::json!({"recent_blockhash": bh, "transfers": [{"to": to, "lamports": 1, "memo": "x"}]}),
            "transfers[0].memo",
        ),
        (
            serde_json::json!({"recent_blockhash": bh, "transfers": [{"to": to, "lamports": 1}],
                               "compute_unit_limit": 1_400_001}),
            "compute_unit_limit",
        ),
        (
            serde_json::json!({"recent_blockhash": bh, "token_transfers": [{"mint": USDC,
                "to_owner": to, "amount": "01", "decimals": 6}]}),
            "token_transfers[0].amount",
        ),
        (
            serde_json::json!({"recent_blockhash": bh, "token_transfers": [{"mint": USDC,
                "to_owner": to, "amount": "1", "decimals": 6, "token_program": to}]}),
            "token_transfers[0].token_program",
        ),
        (
            serde_json::json!({"recent_blockhash": bh, "token_transfers": [{"mint": USDC,
                "to_owner": to, "amount": "1", "decimals": 6, "create_ata": "yes"}]}),
            "token_transfers[0].create_ata",
        ),
    ];
    for (spec, want) in cases {
        let e = Solana.build(MAINNET, k.wallet_key(), &spec).unwrap_err();
        assert!(matches!(e, ChainError::Malformed { .. }), "{spec}: {e:?}");
        assert_eq!(field(&e), want, "{spec}");
    }
    // Too many transfers for one packet.
    let many: Vec<_> = (0..40u8)
        .map(|i| serde_json::json!({"to": b58(&[i; 32]), "lamports": 1}))
        .collect();
    let e = Solana
        .build(
            MAINNET,
            k.wallet_key(),
            &serde_json::json!({"recent_blockhash": bh, "transfers": many}),
        )
        .unwrap_err();
    assert_eq!(field(&e), "spec");
}

#[test]
fn builder_is_deterministic_and_supports_token_2022() {
    let k = key(1);
    let owner = pk(&key(3));
    let spec = serde_json::json!({
        "recent_blockhash": b58(&BLOCKHASH),
        "transfers": [{"to": b58(&[0x22; 32]), "lamports": "2500000000"}],
        "token_transfers": [{
            "mint": b58(&[0x31; 32]), "to_owner": b58(&owner), "amount": 7,
            "decimals": 2, "create_ata": true,
            "token_program": "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
        }],
        "compute_unit_limit": 50_000,
        "compute_unit_price_micro_lamports": 0
    });
    let a = build("devnet", &k, &spec);
    assert_eq!(a, build("devnet", &k, &spec));
    let i = parse("devnet", &k, a.bytes).unwrap().intent;
    // The SOL transfer, the new account's rent (Token-2022: a bound), the token transfer.
    assert_eq!(i.transfers.len(), 3);
    assert_eq!(i.transfers[1].amount.as_str(), "2978880");
    assert_eq!(i.transfers[2].to, b58(&owner));
    assert_eq!(i.transfers[2].asset.decimals, Some(2));
    assert_eq!(
        i.risk_flags,
        vec![RiskFlag::UnknownToken, RiskFlag::MultipleOperations]
    );
    assert_eq!(i.fee.as_ref().unwrap().max.as_str(), "5000");
    assert!(i.render().starts_with("Send 2.5 SOL to "), "{}", i.render());
}

#[test]
fn a_known_mint_under_the_other_token_program_is_not_that_token() {
    let k = key(1);
    let w = pk(&k);
    let mint = from_b58(USDC);
    let mut ix = transfer_checked(&[0x44; 32], &mint, &[0x33; 32], &w, 1_500_000, 6);
    ix.program_id = sol(&TOKEN_2022_PROGRAM);
    let i = parse(MAINNET, &k, official(&[ix], &w, &BLOCKHASH))
        .unwrap()
        .intent;
    assert_eq!(i.transfers[0].asset.symbol, "?");
    assert_eq!(i.risk_flags, vec![RiskFlag::UnknownToken]);
    let mut spec = usdc_spec(&[0x33; 32]);
    spec["token_transfers"][0]["token_program"] = TOKEN_2022.into();
    let e = Solana.build(MAINNET, k.wallet_key(), &spec).unwrap_err();
    assert_eq!(field(&e), "token_transfers[0].token_program");
}

//! Issue 16: the intent describes every effect of a message, or the message is refused.
//!
//! * every instruction is in `Intent.calls` (System transfers in `transfers`, compute budget in
//!   the fee), and more than one effective instruction is `multiple_operations`;
//! * token approvals are `allowances`, `SetAuthority` / `Assign` are `authorities`;
//! * a token transfer whose mint cannot be resolved is refused, never counted as SOL;
//! * the lamports an account creation takes from the wallet (rent) are SOL transfers.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::*;
use solana_transaction::{AccountMeta, Instruction};
use tessera_chain::conformance::TestKey;
use tessera_chain::{
    Allowance, Amount, Asset, AuthorityChange, ChainAdapter, ChainError, Intent, IntentKind,
    RiskFlag,
};
use tessera_chain_solana::programs::{TOKEN_2022_PROGRAM, TOKEN_PROGRAM};
use tessera_chain_solana::Solana;

const MAINNET: &str = "mainnet-beta";

/// Rent-exempt deposit of a 165-byte SPL Token account at 3480 lamports per byte-year, two years:
/// `(165 + 128) × 3480 × 2`.
const TOKEN_ACCOUNT_RENT: u128 = 2_039_280;

fn intent(network: &str, k: &TestKey, ixs: &[Instruction]) -> Intent {
    let bytes = official(ixs, &pk(k), &BLOCKHASH);
    Solana
        .parse(network, k.wallet_key(), &payload(bytes))
        .unwrap()
        .intent
}

fn refused(network: &str, k: &TestKey, ixs: &[Instruction]) -> ChainError {
    let bytes = official(ixs, &pk(k), &BLOCKHASH);
    Solana
        .parse(network, k.wallet_key(), &payload(bytes))
        .unwrap_err()
}

fn methods(i: &Intent) -> Vec<&str> {
    i.calls.iter().map(|c| c.method.as_str()).collect()
}

fn usdc() -> Asset {
    Asset {
        symbol: "USDC".into(),
        decimals: Some(6),
        contract: Some(USDC.into()),
    }
}

fn sol_amount(i: &Intent) -> u128 {
    i.transfers
        .iter()
        .filter(|t| t.asset.contract.is_none())
        .map(|t| t.amount.to_u128().unwrap())
        .sum()
}

// ------------------------------------------------------------------ gap 2: hidden instructions

#[test]
fn approve_zero_then_set_authority_shows_the_owner_change() {
    let k = key(1);
    let w = pk(&k);
    let mint = from_b58(USDC);
    let account = ata(&w, &mint);
    let delegate = [0x45; 32];
    let attacker = [0x99; 32];
    let i = intent(
        MAINNET,
        &k,
        &[
            approve_checked(&account, &mint, &delegate, &w, 0, 6),
            set_authority(&account, 2, Some(&attacker), &w),
        ],
    );
    assert_eq!(methods(&i), ["approveChecked", "setAuthority"]);
    assert_eq!(
        i.authorities,
        vec![AuthorityChange {
            account: b58(&account),
            authority: "account_owner".into(),
            new_authority: Some(b58(&attacker)),
        }]
    );
    assert_eq!(
        i.allowances,
        vec![Allowance {
            spender: b58(&delegate),
            asset: usdc(),
            amount: Some(Amount::from_u128(0)),
            expires_at: None,
            via: "approve".into(),
        }]
    );
    assert_eq!(i.kind, IntentKind::ContractCall);
    assert_eq!(
        i.risk_flags,
        vec![RiskFlag::GrantsAuthority, RiskFlag::MultipleOperations]
    );
    let text = i.render();
    assert!(
        text.contains(&format!(
            "hands account_owner authority over {} to {}",
            b58(&account),
            b58(&attacker)
        )),
        "{text}"
    );
}

#[test]
fn approve_zero_then_assign_shows_the_program_owner_change() {
    let k = key(1);
    let w = pk(&k);
    let mint = from_b58(USDC);
    let program = [0x88; 32];
    let i = intent(
        MAINNET,
        &k,
        &[
            approve(&ata(&w, &mint), &[0x45; 32], &w, 0),
            solana_system_interface::instruction::assign(&sol(&w), &sol(&program)),
        ],
    );
    assert_eq!(methods(&i), ["approve", "assign"]);
    assert_eq!(
        i.authorities,
        vec![AuthorityChange {
            account: b58(&w),
            authority: "program_owner".into(),
            new_authority: Some(b58(&program)),
        }]
    );
    assert_eq!(i.allowances.len(), 1);
    assert_eq!(i.allowances[0].asset, usdc());
    assert!(i.risk_flags.contains(&RiskFlag::MultipleOperations));
    assert!(i.risk_flags.contains(&RiskFlag::GrantsAuthority));
}

#[test]
fn every_instruction_is_listed_in_order() {
    let k = key(1);
    let w = pk(&k);
    let mint = from_b58(USDC);
    let account = ata(&w, &mint);
    let unknown_program = [0x77; 32];
    let unknown = Instruction::new_with_bytes(
        sol(&unknown_program),
        &[9, 9],
        vec![AccountMeta::new(sol(&w), true)],
    );
    let i = intent(
        MAINNET,
        &k,
        &[
            compute_limit(300_000),
            unknown,
            sol_transfer(&w, &[0x22; 32], 5),
            approve_checked(&account, &mint, &[0x45; 32], &w, 7, 6),
            set_authority(&mint, 0, None, &w),
            revoke(&account, &w),
            solana_system_interface::instruction::authorize_nonce_account(
                &sol(&[0x66; 32]),
                &sol(&w),
                &sol(&[0x67; 32]),
            ),
        ],
    );
    // The System transfer is in `transfers`, the compute budget in the fee; every other
    // instruction is a call, in message order.
    assert_eq!(
        methods(&i),
        [
            "unknown",
            "approveChecked",
            "setAuthority",
            "revoke",
            "authorizeNonceAccount"
        ]
    );
    assert_eq!(i.transfers.len(), 1);
    assert_eq!(
        i.authorities,
        vec![
            AuthorityChange {
                account: USDC.into(),
                authority: "mint_tokens".into(),
                new_authority: None,
            },
            AuthorityChange {
                account: b58(&[0x66; 32]),
                authority: "nonce_authority".into(),
                new_authority: Some(b58(&[0x67; 32])),
            },
        ]
    );
    let allowances: Vec<(Option<u128>, &str)> = i
        .allowances
        .iter()
        .map(|a| {
            (
                a.amount.as_ref().map(|x| x.to_u128().unwrap()),
                a.via.as_str(),
            )
        })
        .collect();
    assert_eq!(allowances, [(Some(7), "approve"), (Some(0), "revoke")]);
    assert_eq!(
        i.risk_flags,
        vec![
            RiskFlag::UnknownSelector,
            RiskFlag::GrantsAuthority,
            RiskFlag::MultipleOperations
        ]
    );
    assert!(
        i.fee.as_ref().unwrap().detail.contains("300000 CU"),
        "{}",
        i.fee.as_ref().unwrap().detail
    );
}

#[test]
fn two_calls_without_transfers_are_multiple_operations() {
    let k = key(1);
    let w = pk(&k);
    let mint = from_b58(USDC);
    let account = ata(&w, &mint);
    let i = intent(MAINNET, &k, &[revoke(&account, &w), revoke(&account, &w)]);
    assert_eq!(methods(&i), ["revoke", "revoke"]);
    assert_eq!(i.risk_flags, vec![RiskFlag::MultipleOperations]);
    // One instruction alone is not.
    let i = intent(MAINNET, &k, &[revoke(&account, &w)]);
    assert!(i.risk_flags.is_empty(), "{:?}", i.risk_flags);
}

#[test]
fn unlimited_approvals_have_no_amount() {
    let k = key(1);
    let w = pk(&k);
    let usdc_mint = from_b58(USDC);
    let account = ata(&w, &usdc_mint);
    let d = [0x45; 32];
    let amount_of = |network: &str, ix: Instruction| {
        let i = intent(network, &k, &[ix]);
        let unlimited = i.risk_flags.contains(&RiskFlag::UnlimitedApproval);
        let amount = i.allowances[0]
            .amount
            .as_ref()
            .map(|a| a.to_u128().unwrap());
        assert_eq!(unlimited, amount.is_none(), "{:?}", i.risk_flags);
        amount
    };
    // u64::MAX, whatever the mint.
    assert_eq!(
        amount_of(MAINNET, approve(&account, &d, &w, u64::MAX)),
        None
    );
    // A known mint with 6 decimals: a trillion whole tokens or more is unlimited.
    let trillion = 1_000_000_000_000_000_000u64;
    assert_eq!(
        amount_of(
            MAINNET,
            approve_checked(&account, &usdc_mint, &d, &w, trillion, 6)
        ),
        None
    );
    assert_eq!(
        amount_of(
            MAINNET,
            approve_checked(&account, &usdc_mint, &d, &w, trillion - 1, 6)
        ),
        Some(u128::from(trillion - 1))
    );
    // Unknown mint, 9 decimals: 10^21 exceeds u64, so the bound is 2^63.
    let other = [0x31; 32];
    let acct = [0x32; 32];
    assert_eq!(
        amount_of("devnet", approve_checked(&acct, &other, &d, &w, 1 << 63, 9)),
        None
    );
    assert_eq!(
        amount_of(
            "devnet",
            approve_checked(&acct, &other, &d, &w, (1 << 63) - 1, 9)
        ),
        Some((1 << 63) - 1)
    );
    // Unknown mint, 0 decimals: 10^12 tokens.
    assert_eq!(
        amount_of(
            "devnet",
            approve_checked(&acct, &other, &d, &w, 1_000_000_000_000, 0)
        ),
        None
    );
}

// ------------------------------------------------------------------ gap 5: unknown mint != SOL

#[test]
fn plain_transfer_of_an_unresolved_mint_is_refused_not_sol() {
    let k = key(1);
    let w = pk(&k);
    let e = refused(
        MAINNET,
        &k,
        &[token_transfer(&[0x44; 32], &[0x55; 32], &w, 1)],
    );
    assert!(matches!(e, ChainError::Unsupported { .. }), "{e:?}");
    assert_eq!(e.field(), Some("message.instructions[0]"));
    assert!(e.to_string().contains("transferChecked"), "{e}");
    // The same for a plain Approve.
    let e = refused(MAINNET, &k, &[approve(&[0x44; 32], &[0x45; 32], &w, 1)]);
    assert!(matches!(e, ChainError::Unsupported { .. }), "{e:?}");
    assert_eq!(e.field(), Some("message.instructions[0]"));
}

#[test]
fn plain_transfer_with_a_resolved_mint_is_that_token() {
    let k = key(1);
    let w = pk(&k);
    let owner = pk(&key(3));
    let mint = [0x31; 32];
    // The destination is created in the same message for `mint`: the runtime requires the
    // source to be of the same mint, so the transfer is of `mint`.
    let i = intent(
        "devnet",
        &k,
        &[
            create_ata_idempotent(&w, &owner, &mint),
            token_transfer(&[0x44; 32], &ata(&owner, &mint), &w, 9),
        ],
    );
    let t = i
        .transfers
        .iter()
        .find(|t| t.asset.contract.is_some())
        .unwrap();
    assert_eq!(t.asset.contract.as_deref(), Some(b58(&mint).as_str()));
    assert_eq!(t.asset.decimals, None);
    assert!(i.risk_flags.contains(&RiskFlag::UnknownToken));
}

#[test]
fn revoke_of_an_unresolved_mint_is_a_labelled_token_never_native() {
    let k = key(1);
    let w = pk(&k);
    let i = intent(MAINNET, &k, &[revoke(&[0x44; 32], &w)]);
    let a = &i.allowances[0];
    assert_eq!(a.amount, Some(Amount::from_u128(0)));
    assert_eq!(a.asset.symbol, "?");
    assert_eq!(a.asset.decimals, None);
    assert_eq!(
        a.asset.contract.as_deref(),
        Some(format!("mint of token account {}", b58(&[0x44; 32])).as_str())
    );
}

// ------------------------------------------------------------------ gap 7: rent is value

#[test]
fn associated_account_creation_counts_its_rent() {
    let k = key(1);
    let w = pk(&k);
    let owner = pk(&key(3));
    let mint = from_b58(USDC);
    let i = intent(
        MAINNET,
        &k,
        &[
            create_ata_idempotent(&w, &owner, &mint),
            transfer_checked(
                &ata(&w, &mint),
                &mint,
                &ata(&owner, &mint),
                &w,
                1_500_000,
                6,
            ),
        ],
    );
    assert_eq!(i.transfers.len(), 2, "{:?}", i.transfers);
    assert_eq!(i.transfers[0].asset, Asset::native("SOL", 9));
    assert_eq!(i.transfers[0].to, b58(&owner));
    assert_eq!(sol_amount(&i), TOKEN_ACCOUNT_RENT);
    assert_eq!(i.transfers[1].asset, usdc());
    assert_eq!(methods(&i), ["createIdempotent", "transferChecked"]);
    assert!(i.risk_flags.contains(&RiskFlag::MultipleOperations));
    assert_eq!(i.kind, IntentKind::Transfer);

    // Two creations (Create and CreateIdempotent): twice the rent.
    let other = pk(&key(4));
    let i = intent(
        MAINNET,
        &k,
        &[
            create_ata_with(&w, &owner, &mint, &TOKEN_PROGRAM, false),
            create_ata_idempotent(&w, &other, &mint),
        ],
    );
    assert_eq!(sol_amount(&i), 2 * TOKEN_ACCOUNT_RENT);
    assert_eq!(methods(&i), ["create", "createIdempotent"]);

    // Token-2022: the account's size depends on the mint's extensions; the bound is a 300-byte
    // account, (300 + 128) × 6960 lamports.
    let i = intent(
        "devnet",
        &k,
        &[create_ata_with(
            &w,
            &owner,
            &[0x31; 32],
            &TOKEN_2022_PROGRAM,
            true,
        )],
    );
    assert_eq!(sol_amount(&i), 2_978_880);
}

#[test]
fn system_account_creation_counts_its_lamports() {
    let k = key(1);
    let w = pk(&k);
    let program = [0x88; 32];
    // `create_with_seed`: SHA-256(base || seed || owner).
    let derived: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::new()
            .chain_update(w)
            .chain_update(b"vault")
            .chain_update(program)
            .finalize()
            .into()
    };
    let derived = sol(&derived);
    let ix = solana_system_interface::instruction::create_account_with_seed(
        &sol(&w),
        &derived,
        &sol(&w),
        "vault",
        5_000_000,
        64,
        &sol(&program),
    );
    let i = intent(MAINNET, &k, &[ix]);
    assert_eq!(sol_amount(&i), 5_000_000);
    assert_eq!(i.transfers[0].to, derived.to_string());
    assert_eq!(methods(&i), ["createAccountWithSeed"]);
    assert!(!i.risk_flags.contains(&RiskFlag::UnknownSelector));
}

//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)] // shared test helpers; a panic is a test failure

use serde_json::{json, Value};
use solana_pubkey::Pubkey as SolPubkey;
use solana_transaction::{AccountMeta, Hash, Instruction, Message};
use tessera_chain::conformance::TestKey;
use tessera_chain::{ChainAdapter, Payload, SchemeId};
use tessera_chain_solana::pda::associated_token_address;
use tessera_chain_solana::programs::{
    ASSOCIATED_TOKEN_PROGRAM, COMPUTE_BUDGET_PROGRAM, SYSTEM_PROGRAM, TOKEN_PROGRAM,
};
use tessera_chain_solana::Solana;

pub const USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
pub const USDT: &str = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB";
pub const TOKENKEG: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
pub const TOKEN_2022: &str = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";

pub fn key(seed: u8) -> TestKey {
    TestKey::from_seed(SchemeId::Ed25519, [seed; 32])
}

pub fn pk(k: &TestKey) -> [u8; 32] {
    k.public_key().as_bytes().try_into().unwrap()
}

pub fn b58(b: &[u8; 32]) -> String {
    bs58::encode(b).into_string()
}

pub fn from_b58(s: &str) -> [u8; 32] {
    bs58::decode(s).into_vec().unwrap().try_into().unwrap()
}

pub fn sol(b: &[u8; 32]) -> SolPubkey {
    SolPubkey::from(*b)
}

pub fn payload(bytes: Vec<u8>) -> Payload {
    Payload {
        format: "solana_message".into(),
        bytes,
    }
}

pub const BLOCKHASH: [u8; 32] = [4u8; 32];

/// The official serializer: `Message::new_with_blockhash(ixs, payer, blockhash).serialize()`.
pub fn official(ixs: &[Instruction], payer: &[u8; 32], blockhash: &[u8; 32]) -> Vec<u8> {
    Message::new_with_blockhash(ixs, Some(&sol(payer)), &Hash::new_from_array(*blockhash))
        .serialize()
}

pub fn sol_transfer(from: &[u8; 32], to: &[u8; 32], lamports: u64) -> Instruction {
    solana_system_interface::instruction::transfer(&sol(from), &sol(to), lamports)
}

pub fn compute_limit(limit: u32) -> Instruction {
    let mut data = vec![2];
    data.extend_from_slice(&limit.to_le_bytes());
    Instruction::new_with_bytes(sol(&COMPUTE_BUDGET_PROGRAM), &data, vec![])
}

pub fn compute_price(micro_lamports: u64) -> Instruction {
    let mut data = vec![3];
    data.extend_from_slice(&micro_lamports.to_le_bytes());
    Instruction::new_with_bytes(sol(&COMPUTE_BUDGET_PROGRAM), &data, vec![])
}

pub fn ata(owner: &[u8; 32], mint: &[u8; 32]) -> [u8; 32] {
    associated_token_address(owner, &TOKEN_PROGRAM, mint).unwrap()
}

/// The ATA program's `CreateIdempotent`, accounts as spl-associated-token-account lays them out.
pub fn create_ata_idempotent(funder: &[u8; 32], owner: &[u8; 32], mint: &[u8; 32]) -> Instruction {
    Instruction::new_with_bytes(
        sol(&ASSOCIATED_TOKEN_PROGRAM),
        &[1],
        vec![
            AccountMeta::new(sol(funder), true),
            AccountMeta::new(sol(&ata(owner, mint)), false),
            AccountMeta::new_readonly(sol(owner), false),
            AccountMeta::new_readonly(sol(mint), false),
            AccountMeta::new_readonly(sol(&SYSTEM_PROGRAM), false),
            AccountMeta::new_readonly(sol(&TOKEN_PROGRAM), false),
        ],
    )
}

/// SPL Token `TransferChecked` (tag 12), accounts as spl-token lays them out.
pub fn transfer_checked(
    source: &[u8; 32],
    mint: &[u8; 32],
    destination: &[u8; 32],
    authority: &[u8; 32],
    amount: u64,
    decimals: u8,
) -> Instruction {
    let mut data = vec![12];
    data.extend_from_slice(&amount.to_le_bytes());
    data.push(decimals);
    Instruction::new_with_bytes(
        sol(&TOKEN_PROGRAM),
        &data,
        vec![
            AccountMeta::new(sol(source), false),
            AccountMeta::new_readonly(sol(mint), false),
            AccountMeta::new(sol(destination), false),
            AccountMeta::new_readonly(sol(authority), true),
        ],
    )
}

/// SPL Token `Transfer` (tag 3).
pub fn token_transfer(
    source: &[u8; 32],
    destination: &[u8; 32],
    authority: &[u8; 32],
    amount: u64,
) -> Instruction {
    let mut data = vec![3];
    data.extend_from_slice(&amount.to_le_bytes());
    Instruction::new_with_bytes(
        sol(&TOKEN_PROGRAM),
        &data,
        vec![
            AccountMeta::new(sol(source), false),
            AccountMeta::new(sol(destination), false),
            AccountMeta::new_readonly(sol(authority), true),
        ],
    )
}

pub fn sol_spec(to: &[u8; 32], lamports: u64) -> Value {
    json!({
        "recent_blockhash": b58(&BLOCKHASH),
        "transfers": [{"to": b58(to), "lamports": lamports}]
    })
}

pub fn usdc_spec(to_owner: &[u8; 32]) -> Value {
    json!({
        "recent_blockhash": b58(&BLOCKHASH),
        "token_transfers": [{
            "mint": USDC,
            "to_owner": b58(to_owner),
            "amount": "1500000",
            "decimals": 6,
            "create_ata": true
        }]
    })
}

pub fn build(network: &str, k: &TestKey, spec: &Value) -> Payload {
    Solana.build(network, k.wallet_key(), spec).unwrap()
}

/// An SPL Token instruction of `program` with `data` over `(key, signer, writable)` accounts.
pub fn token_ix(
    program: &[u8; 32],
    data: Vec<u8>,
    accounts: &[([u8; 32], bool, bool)],
) -> Instruction {
    Instruction::new_with_bytes(
        sol(program),
        &data,
        accounts
            .iter()
            .map(|(k, signer, writable)| {
                if *writable {
                    AccountMeta::new(sol(k), *signer)
                } else {
                    AccountMeta::new_readonly(sol(k), *signer)
                }
            })
            .collect(),
    )
}

/// SPL Token `Approve` (tag 4): accounts source, delegate, owner.
pub fn approve(
    source: &[u8; 32],
    delegate: &[u8; 32],
    owner: &[u8; 32],
    amount: u64,
) -> Instruction {
    let mut data = vec![4];
    data.extend_from_slice(&amount.to_le_bytes());
    token_ix(
        &TOKEN_PROGRAM,
        data,
        &[
            (*source, false, true),
            (*delegate, false, false),
            (*owner, true, false),
        ],
    )
}

/// SPL Token `ApproveChecked` (tag 13): accounts source, mint, delegate, owner.
pub fn approve_checked(
    source: &[u8; 32],
    mint: &[u8; 32],
    delegate: &[u8; 32],
    owner: &[u8; 32],
    amount: u64,
    decimals: u8,
) -> Instruction {
    let mut data = vec![13];
    data.extend_from_slice(&amount.to_le_bytes());
    data.push(decimals);
    token_ix(
        &TOKEN_PROGRAM,
        data,
        &[
            (*source, false, true),
            (*mint, false, false),
            (*delegate, false, false),
            (*owner, true, false),
        ],
    )
}

/// SPL Token `Revoke` (tag 5): accounts source, owner.
pub fn revoke(source: &[u8; 32], owner: &[u8; 32]) -> Instruction {
    token_ix(
        &TOKEN_PROGRAM,
        vec![5],
        &[(*source, false, true), (*owner, true, false)],
    )
}

/// SPL Token `SetAuthority` (tag 6): accounts account-or-mint, current authority.
pub fn set_authority(
    account: &[u8; 32],
    authority_type: u8,
    new_authority: Option<&[u8; 32]>,
    current: &[u8; 32],
) -> Instruction {
    let mut data = vec![6, authority_type];
    match new_authority {
        Some(k) => {
            data.push(1);
            data.extend_from_slice(k);
        }
        None => data.push(0),
    }
    token_ix(
        &TOKEN_PROGRAM,
        data,
        &[(*account, false, true), (*current, true, false)],
    )
}

/// The ATA program's `Create` (`idempotent` false) or `CreateIdempotent` under `token_program`.
pub fn create_ata_with(
    funder: &[u8; 32],
    owner: &[u8; 32],
    mint: &[u8; 32],
    token_program: &[u8; 32],
    idempotent: bool,
) -> Instruction {
    Instruction::new_with_bytes(
        sol(&ASSOCIATED_TOKEN_PROGRAM),
        &[u8::from(idempotent)],
        vec![
            AccountMeta::new(sol(funder), true),
            AccountMeta::new(
                sol(&associated_token_address(owner, token_program, mint).unwrap()),
                false,
            ),
            AccountMeta::new_readonly(sol(owner), false),
            AccountMeta::new_readonly(sol(mint), false),
            AccountMeta::new_readonly(sol(&SYSTEM_PROGRAM), false),
            AccountMeta::new_readonly(sol(token_program), false),
        ],
    )
}

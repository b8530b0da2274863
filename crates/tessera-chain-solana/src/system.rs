//! System program instructions (bincode: a little-endian `u32` tag, then the fields; a `String`
//! is a little-endian `u64` length and its bytes).
//!
//! | tag | instruction | in the intent |
//! |---|---|---|
//! | 0 | `CreateAccount` | SOL transfer of its lamports to the new account, and a call |
//! | 1 | `Assign` | authority change `program_owner` of the account, and a call |
//! | 2 | `Transfer` | SOL transfer (no call) |
//! | 3 | `CreateAccountWithSeed` | SOL transfer to the new account, and a call |
//! | 4 | `AdvanceNonceAccount` | a call (no value moves) |
//! | 7 | `AuthorizeNonceAccount` | authority change `nonce_authority`, and a call |
//! | 10 | `AssignWithSeed` | authority change `program_owner`, and a call |
//! | other | | an `unknown` call, flagged |
//!
//! Lamports move only from the wallet: a transfer or creation funded by another account is
//! refused as not owned.

use tessera_chain::{AuthorityChange, ChainError, ContractCall, Result};

use crate::decode::{arg, key_at, le_u32, le_u64, unknown, Acc, Ctx, Ix};
use crate::message::Pubkey;
use crate::programs::{b58, SYSTEM_PROGRAM};

pub(crate) fn decode(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    let tag = le_u32(ix.data(), 0).ok_or_else(|| {
        ChainError::malformed(
            ix.data_field(),
            "shorter than the 4-byte System instruction tag",
        )
    })?;
    match tag {
        0 => create_account(ctx, acc, ix),
        1 => assign(ctx, acc, ix),
        2 => transfer(ctx, acc, ix),
        3 => create_account_with_seed(ctx, acc, ix),
        4 => {
            ix.exact_len(4, "System advanceNonceAccount")?;
            let nonce = ix.account(ctx.msg, 0, "nonce account")?;
            acc.calls.push(call(
                ix,
                "advanceNonceAccount",
                vec![arg("nonce_account", b58(&nonce))],
            ));
            Ok(())
        }
        7 => authorize_nonce(ctx, acc, ix),
        10 => assign_with_seed(ctx, acc, ix),
        _ => {
            unknown(ctx, acc, ix, 4);
            Ok(())
        }
    }
}

fn call(ix: &Ix<'_>, method: &str, args: Vec<tessera_chain::Argument>) -> ContractCall {
    ContractCall {
        contract: b58(&SYSTEM_PROGRAM),
        method: method.into(),
        selector: hex::encode(ix.data().get(..4).unwrap_or_default()),
        args,
    }
}

fn truncated(ix: &Ix<'_>, what: &str) -> ChainError {
    ChainError::malformed(ix.data_field(), format!("truncated {what}"))
}

/// The funding account must be the wallet.
fn funded_by_wallet(ctx: &Ctx<'_>, ix: &Ix<'_>, from: &Pubkey, what: &str) -> Result<()> {
    if from != ctx.wallet {
        return Err(ChainError::not_owned(
            ix.field(),
            format!("{what} from {}, not this wallet", b58(from)),
        ));
    }
    Ok(())
}

fn transfer(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    ix.exact_len(12, "System transfer")?;
    let lamports = le_u64(ix.data(), 4).ok_or_else(|| truncated(ix, "lamports"))?;
    let from = ix.account(ctx.msg, 0, "from")?;
    let to = ix.account(ctx.msg, 1, "to")?;
    funded_by_wallet(ctx, ix, &from, "transfer")?;
    acc.send_sol(&to, lamports);
    Ok(())
}

/// `CreateAccount { lamports: u64, space: u64, owner: Pubkey }`.
fn create_account(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    ix.exact_len(52, "System createAccount")?;
    let data = ix.data();
    let lamports = le_u64(data, 4).ok_or_else(|| truncated(ix, "lamports"))?;
    let space = le_u64(data, 12).ok_or_else(|| truncated(ix, "space"))?;
    let owner = key_at(data, 20).ok_or_else(|| truncated(ix, "owner"))?;
    let from = ix.account(ctx.msg, 0, "funding account")?;
    let new = ix.account(ctx.msg, 1, "new account")?;
    funded_by_wallet(ctx, ix, &from, "account creation funded")?;
    acc.send_sol(&new, lamports);
    acc.calls.push(call(
        ix,
        "createAccount",
        vec![
            arg("new_account", b58(&new)),
            arg("lamports", lamports.to_string()),
            arg("space", space.to_string()),
            arg("owner_program", b58(&owner)),
        ],
    ));
    Ok(())
}

/// A bincode `String` at `at`: `(text, end)`.
fn seed_at(data: &[u8], at: usize) -> Option<(String, usize)> {
    let len = usize::try_from(le_u64(data, at)?).ok()?;
    let start = at.checked_add(8)?;
    let end = start.checked_add(len)?;
    let text = std::str::from_utf8(data.get(start..end)?).ok()?;
    Some((text.to_string(), end))
}

/// `CreateAccountWithSeed { base, seed: String, lamports: u64, space: u64, owner }`.
fn create_account_with_seed(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    let data = ix.data();
    let base = key_at(data, 4).ok_or_else(|| truncated(ix, "base"))?;
    let (seed, end) = seed_at(data, 36).ok_or_else(|| truncated(ix, "seed"))?;
    ix.exact_len(end + 48, "System createAccountWithSeed")?;
    let lamports = le_u64(data, end).ok_or_else(|| truncated(ix, "lamports"))?;
    let space = le_u64(data, end + 8).ok_or_else(|| truncated(ix, "space"))?;
    let owner = key_at(data, end + 16).ok_or_else(|| truncated(ix, "owner"))?;
    let from = ix.account(ctx.msg, 0, "funding account")?;
    let new = ix.account(ctx.msg, 1, "new account")?;
    funded_by_wallet(ctx, ix, &from, "account creation funded")?;
    acc.send_sol(&new, lamports);
    acc.calls.push(call(
        ix,
        "createAccountWithSeed",
        vec![
            arg("new_account", b58(&new)),
            arg("base", b58(&base)),
            arg("seed", seed),
            arg("lamports", lamports.to_string()),
            arg("space", space.to_string()),
            arg("owner_program", b58(&owner)),
        ],
    ));
    Ok(())
}

/// `Assign { owner }`: hands the account (and its lamports) to another program.
fn assign(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    ix.exact_len(36, "System assign")?;
    let target = ix.account(ctx.msg, 0, "account")?;
    let owner = key_at(ix.data(), 4).ok_or_else(|| truncated(ix, "owner"))?;
    acc.hand_over(
        AuthorityChange {
            account: b58(&target),
            authority: "program_owner".into(),
            new_authority: Some(b58(&owner)),
        },
        call(
            ix,
            "assign",
            vec![
                arg("account", b58(&target)),
                arg("new_owner_program", b58(&owner)),
            ],
        ),
    );
    Ok(())
}

/// `AssignWithSeed { base, seed: String, owner }`: an owner change of a derived account.
fn assign_with_seed(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    let data = ix.data();
    let base = key_at(data, 4).ok_or_else(|| truncated(ix, "base"))?;
    let (seed, end) = seed_at(data, 36).ok_or_else(|| truncated(ix, "seed"))?;
    ix.exact_len(end + 32, "System assignWithSeed")?;
    let owner = key_at(data, end).ok_or_else(|| truncated(ix, "owner"))?;
    let target = ix.account(ctx.msg, 0, "account")?;
    acc.hand_over(
        AuthorityChange {
            account: b58(&target),
            authority: "program_owner".into(),
            new_authority: Some(b58(&owner)),
        },
        call(
            ix,
            "assignWithSeed",
            vec![
                arg("account", b58(&target)),
                arg("base", b58(&base)),
                arg("seed", seed),
                arg("new_owner_program", b58(&owner)),
            ],
        ),
    );
    Ok(())
}

/// `AuthorizeNonceAccount(new_authority)`.
fn authorize_nonce(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    ix.exact_len(36, "System authorizeNonceAccount")?;
    let nonce = ix.account(ctx.msg, 0, "nonce account")?;
    let authority = key_at(ix.data(), 4).ok_or_else(|| truncated(ix, "authority"))?;
    acc.hand_over(
        AuthorityChange {
            account: b58(&nonce),
            authority: "nonce_authority".into(),
            new_authority: Some(b58(&authority)),
        },
        call(
            ix,
            "authorizeNonceAccount",
            vec![
                arg("nonce_account", b58(&nonce)),
                arg("new_authority", b58(&authority)),
            ],
        ),
    );
    Ok(())
}

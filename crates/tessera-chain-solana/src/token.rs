//! SPL Token and Token-2022 instructions.
//!
//! | tag | instruction | in the intent |
//! |---|---|---|
//! | 3, 12 | `Transfer`, `TransferChecked` | a token transfer, and a call |
//! | 4, 13 | `Approve`, `ApproveChecked` | an allowance to the delegate (`via` `approve`), and a call |
//! | 5 | `Revoke` | an allowance of zero (`via` `revoke`), and a call |
//! | 6 | `SetAuthority` | an authority change, and a call |
//! | other | | an `unknown` call, flagged |
//!
//! # The mint
//!
//! The asset of a transfer or allowance is its **mint**, the key policy and velocity count a
//! token by. `TransferChecked` and `ApproveChecked` name it. A plain `Transfer` or `Approve`
//! names none; its mint is resolved when the source is the wallet's associated account of a
//! known mint, when the source or (for a transfer) the destination is an associated account
//! created in the same message (the runtime requires source and destination of one mint), and
//! otherwise the instruction is **refused**: the account's mint cannot be read offline, and an
//! asset keyed by anything but the mint (the source account, say) would let the same token
//! escape the rules written for its mint, while no asset at all would count as native SOL.
//! The checked forms, which name the mint, are what wallets and SDKs commonly emit (and what this
//! crate's builder emits). A `Revoke` moves nothing,
//! so its unresolved mint is shown as the token `?` of contract `mint of token account <source>`.
//!
//! # Unlimited approvals
//!
//! An approval's amount is `None` (unlimited, [`RiskFlag::UnlimitedApproval`]) when it is at
//! least `min(10^(12 + decimals), 2^63)` base units, with the decimals of the known mint or of
//! `ApproveChecked` (`2^63` when unknown): a trillion whole tokens is beyond the supply of any
//! token the wallet would bound an approval for, and `u64::MAX`, what "approve all" sends, is
//! always above it.

use tessera_chain::{
    Allowance, Amount, Asset, AuthorityChange, ChainError, ContractCall, Result, RiskFlag, Transfer,
};

use crate::ata::AtaCreate;
use crate::decode::{arg, key_at, le_u64, unknown, Acc, Ctx, Ix};
use crate::message::Pubkey;
use crate::pda::associated_token_address;
use crate::programs::{b58, known_mint_of, known_mints};

pub(crate) fn decode(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    let tag = *ix
        .data()
        .first()
        .ok_or_else(|| ChainError::malformed(ix.data_field(), "empty token instruction"))?;
    match tag {
        3 | 12 => transfer(ctx, acc, ix, tag == 12),
        4 | 13 => approve(ctx, acc, ix, tag == 13),
        5 => revoke(ctx, acc, ix),
        6 => set_authority(ctx, acc, ix),
        _ => {
            unknown(ctx, acc, ix, 1);
            Ok(())
        }
    }
}

fn amount(ix: &Ix<'_>) -> Result<u64> {
    le_u64(ix.data(), 1).ok_or_else(|| ChainError::malformed(ix.data_field(), "truncated amount"))
}

/// The mint of a token instruction: named, or resolved as the module docs say.
fn resolve_mint(
    ctx: &Ctx<'_>,
    ix: &Ix<'_>,
    named: Option<Pubkey>,
    source: &Pubkey,
    destination: Option<&Pubkey>,
) -> Option<Pubkey> {
    let created = |account: &Pubkey| {
        ctx.creates
            .iter()
            .find(|c| &c.ata == account && c.token_program == ix.program)
            .map(|c| c.mint)
    };
    named
        .or_else(|| destination.and_then(created))
        .or_else(|| created(source))
        .or_else(|| {
            known_mints(ctx.network)
                .iter()
                .filter(|k| k.program == ix.program)
                .find(|k| {
                    associated_token_address(ctx.wallet, &ix.program, &k.mint) == Some(*source)
                })
                .map(|k| k.mint)
        })
}

/// Refusal of a plain instruction whose mint cannot be resolved.
fn unresolved(ix: &Ix<'_>, what: &str, checked: &str, source: &Pubkey) -> ChainError {
    ChainError::unsupported(
        ix.field(),
        format!(
            "a plain {what} names no mint, and the mint of the source token account {} cannot \
             be resolved offline (it is not the wallet's associated account of a known mint, nor \
             created in this message): use {checked}, which names the mint",
            b58(source)
        ),
    )
}

/// The asset of `mint` under the instruction's program; `decimals` from a checked instruction
/// must agree with the known-mint table. Unknown mints are `?`, flagged.
fn asset(
    ctx: &Ctx<'_>,
    acc: &mut Acc,
    ix: &Ix<'_>,
    mint: &Pubkey,
    decimals: Option<u8>,
) -> Result<Asset> {
    match known_mint_of(ctx.network, &ix.program, mint) {
        Some(k) => {
            if let Some(d) = decimals.filter(|d| *d != k.decimals) {
                return Err(ChainError::malformed(
                    ix.data_field(),
                    format!(
                        "decimals {d}, but {} ({}) has {} decimals",
                        k.symbol,
                        b58(mint),
                        k.decimals
                    ),
                ));
            }
            Ok(Asset {
                symbol: k.symbol.into(),
                decimals: Some(k.decimals),
                contract: Some(b58(mint)),
            })
        }
        None => {
            acc.flag(RiskFlag::UnknownToken);
            Ok(Asset {
                symbol: "?".into(),
                decimals,
                contract: Some(b58(mint)),
            })
        }
    }
}

/// The `mint` argument: named, inferred, or (revoke only) unknown.
fn mint_arg(named: Option<Pubkey>, mint: Option<Pubkey>) -> tessera_chain::Argument {
    match (named, mint) {
        (Some(m), _) => arg("mint", b58(&m)),
        (None, Some(m)) => arg("mint", format!("{} (inferred)", b58(&m))),
        (None, None) => arg("mint", "unknown"),
    }
}

fn call(ix: &Ix<'_>, method: &str, args: Vec<tessera_chain::Argument>) -> ContractCall {
    ContractCall {
        contract: b58(&ix.program),
        method: method.into(),
        selector: hex::encode(ix.data().get(..1).unwrap_or_default()),
        args,
    }
}

/// `Transfer` (accounts source, destination, authority) or `TransferChecked` (source, mint,
/// destination, authority; data amount, decimals).
fn transfer(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>, checked: bool) -> Result<()> {
    ix.exact_len(if checked { 10 } else { 9 }, "token transfer")?;
    let off = usize::from(checked);
    let source = ix.account(ctx.msg, 0, "source")?;
    let named = if checked {
        Some(ix.account(ctx.msg, 1, "mint")?)
    } else {
        None
    };
    let destination = ix.account(ctx.msg, 1 + off, "destination")?;
    let authority = ix.account(ctx.msg, 2 + off, "authority")?;
    let amount = amount(ix)?;
    let decimals = if checked {
        ix.data().get(9).copied()
    } else {
        None
    };
    if authority != *ctx.wallet {
        return Err(ChainError::not_owned(
            ix.field(),
            format!(
                "token transfer authorized by {}, not this wallet",
                b58(&authority)
            ),
        ));
    }
    let created = created_destination(ctx, ix, &destination, named, 1 + off)?;
    let mint = resolve_mint(ctx, ix, named, &source, Some(&destination))
        .ok_or_else(|| unresolved(ix, "Transfer", "transferChecked", &source))?;
    let asset = asset(ctx, acc, ix, &mint, decimals)?;
    let (to, to_arg) = recipient(created, &destination);
    let mut args = vec![arg("source", b58(&source)), mint_arg(named, Some(mint))];
    args.push(arg("destination", b58(&destination)));
    args.push(arg("to", to_arg));
    if let Some(c) = created {
        args.push(arg(
            "account_creation",
            format!(
                "instruction {} creates the destination account; the wallet pays its rent-exempt \
                 deposit",
                c.index
            ),
        ));
    }
    args.push(arg("authority", b58(&authority)));
    args.push(arg("amount", amount.to_string()));
    if let Some(d) = decimals {
        args.push(arg("decimals", d.to_string()));
    }
    acc.transfers.push(Transfer {
        from: None,
        to: b58(&to),
        asset,
        amount: Amount::from_u128(u128::from(amount)),
    });
    let method = if checked {
        "transferChecked"
    } else {
        "transfer"
    };
    acc.calls.push(call(ix, method, args));
    Ok(())
}

/// The creation of `destination` in this message, if any; a checked transfer must name the
/// mint the destination is created for.
fn created_destination<'c>(
    ctx: &Ctx<'c>,
    ix: &Ix<'_>,
    destination: &Pubkey,
    named: Option<Pubkey>,
    position: usize,
) -> Result<Option<&'c AtaCreate>> {
    let created = ctx
        .creates
        .iter()
        .find(|c| &c.ata == destination && c.token_program == ix.program);
    if let (Some(c), Some(m)) = (created, named) {
        if c.mint != m {
            return Err(ChainError::malformed(
                format!("message.instructions[{}].accounts[{position}]", ix.index),
                format!(
                    "the destination is the associated token account for mint {}, not {}",
                    b58(&c.mint),
                    b58(&m)
                ),
            ));
        }
    }
    Ok(created)
}

/// Who receives a token transfer: the owner of a destination created (and derived) in this
/// message, else the token account itself; and how the `to` argument says so.
fn recipient(created: Option<&AtaCreate>, destination: &Pubkey) -> (Pubkey, String) {
    match created {
        Some(c) => (
            c.owner,
            format!(
                "owner {} of associated token account {} (derivation verified, created by \
                 instruction {})",
                b58(&c.owner),
                b58(destination),
                c.index
            ),
        ),
        None => (
            *destination,
            format!(
                "token account {} (its owner is not resolved offline)",
                b58(destination)
            ),
        ),
    }
}

/// Whether an approval of `amount` is unlimited (see the module docs).
pub(crate) fn is_unlimited(amount: u64, decimals: Option<u8>) -> bool {
    const CAP: u64 = 1 << 63;
    let threshold = decimals
        .and_then(|d| 10u64.checked_pow(12 + u32::from(d)))
        .map_or(CAP, |t| t.min(CAP));
    amount >= threshold
}

/// `Approve` (accounts source, delegate, owner) or `ApproveChecked` (source, mint, delegate,
/// owner; data amount, decimals).
fn approve(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>, checked: bool) -> Result<()> {
    ix.exact_len(if checked { 10 } else { 9 }, "token approve")?;
    let off = usize::from(checked);
    let source = ix.account(ctx.msg, 0, "source")?;
    let named = if checked {
        Some(ix.account(ctx.msg, 1, "mint")?)
    } else {
        None
    };
    let delegate = ix.account(ctx.msg, 1 + off, "delegate")?;
    let owner = ix.account(ctx.msg, 2 + off, "owner")?;
    let amount = amount(ix)?;
    let decimals = if checked {
        ix.data().get(9).copied()
    } else {
        None
    };
    let mint = resolve_mint(ctx, ix, named, &source, None)
        .ok_or_else(|| unresolved(ix, "Approve", "approveChecked", &source))?;
    let asset = asset(ctx, acc, ix, &mint, decimals)?;
    let unlimited = is_unlimited(amount, asset.decimals);
    let mut args = vec![arg("source", b58(&source)), mint_arg(named, Some(mint))];
    args.push(arg("delegate", b58(&delegate)));
    args.push(arg("owner", b58(&owner)));
    args.push(arg("amount", amount.to_string()));
    if let Some(d) = decimals {
        args.push(arg("decimals", d.to_string()));
    }
    let method = if checked { "approveChecked" } else { "approve" };
    acc.allow(
        Allowance {
            spender: b58(&delegate),
            asset,
            amount: (!unlimited).then(|| Amount::from_u128(u128::from(amount))),
            expires_at: None,
            via: "approve".into(),
        },
        call(ix, method, args),
    );
    Ok(())
}

/// `Revoke` (accounts source, owner): the delegate may spend nothing more.
fn revoke(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    ix.exact_len(1, "token revoke")?;
    let source = ix.account(ctx.msg, 0, "source")?;
    let owner = ix.account(ctx.msg, 1, "owner")?;
    let mint = resolve_mint(ctx, ix, None, &source, None);
    let asset = match mint {
        Some(m) => asset(ctx, acc, ix, &m, None)?,
        None => Asset {
            symbol: "?".into(),
            decimals: None,
            contract: Some(format!("mint of token account {}", b58(&source))),
        },
    };
    acc.allow(
        Allowance {
            spender: format!("any delegate of {}", b58(&source)),
            asset,
            amount: Some(Amount::from_u128(0)),
            expires_at: None,
            via: "revoke".into(),
        },
        call(
            ix,
            "revoke",
            vec![
                arg("source", b58(&source)),
                mint_arg(None, mint),
                arg("owner", b58(&owner)),
            ],
        ),
    );
    Ok(())
}

/// The name of a `SetAuthority` authority type (spl-token's `AuthorityType`, extended by
/// Token-2022).
fn authority_name(kind: u8) -> String {
    match kind {
        0 => "mint_tokens".into(),
        1 => "freeze_account".into(),
        2 => "account_owner".into(),
        3 => "close_account".into(),
        4 => "transfer_fee_config".into(),
        5 => "withheld_withdraw".into(),
        6 => "close_mint".into(),
        other => format!("authority_type_{other}"),
    }
}

/// `SetAuthority { authority_type: u8, new_authority: COption<Pubkey> }` (accounts
/// account-or-mint, current authority).
fn set_authority(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    let data = ix.data();
    let target = ix.account(ctx.msg, 0, "account")?;
    let kind = data
        .get(1)
        .copied()
        .ok_or_else(|| ChainError::malformed(ix.data_field(), "missing authority type"))?;
    let new_authority = match data.get(2) {
        Some(0) if data.len() == 3 => None,
        Some(1) if data.len() == 35 => key_at(data, 3),
        _ => {
            return Err(ChainError::malformed(
                ix.data_field(),
                "setAuthority data is not a valid optional authority",
            ))
        }
    };
    let name = authority_name(kind);
    acc.hand_over(
        AuthorityChange {
            account: b58(&target),
            authority: name.clone(),
            new_authority: new_authority.map(|k| b58(&k)),
        },
        call(
            ix,
            "setAuthority",
            vec![
                arg("account", b58(&target)),
                arg("authority_type", format!("{kind} ({name})")),
                arg(
                    "new_authority",
                    new_authority.map_or("none".to_string(), |k| b58(&k)),
                ),
            ],
        ),
    );
    Ok(())
}

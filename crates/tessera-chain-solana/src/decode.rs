//! From a parsed legacy message to an [`Intent`]: ownership checks, instruction decoding, the
//! fee bound and the risk flags.
//!
//! *Every instruction is accounted for*: a System `Transfer` is a [`Transfer`]; a compute-budget
//! instruction is part of the [`Fee`] (its detail names them); every other instruction is one
//! [`ContractCall`] in `Intent.calls`, in message order, with its effects in `transfers`,
//! `allowances` and `authorities`. An instruction the adapter cannot describe is a call with
//! method `unknown`, flagged [`RiskFlag::UnknownSelector`] so that policy can refuse it; one it
//! can decode but not describe fully (a token transfer of an unknown mint) is refused.
//! [`RiskFlag::MultipleOperations`] is raised when more than one instruction is not compute
//! budget.

use tessera_chain::{
    Allowance, Amount, Argument, Asset, AuthorityChange, ChainError, ContractCall, Fee, Intent,
    IntentKind, Result, RiskFlag, Transfer,
};

use crate::ata::{ata_call, ata_creates, AtaCreate};
use crate::message::{CompiledInstruction, LegacyMessage, Pubkey};
use crate::programs::{
    b58, is_token_program, ASSOCIATED_TOKEN_PROGRAM, COMPUTE_BUDGET_PROGRAM,
    DEFAULT_INSTRUCTION_COMPUTE_UNIT_LIMIT, HIGH_FEE_LAMPORTS, LAMPORTS_PER_SIGNATURE,
    MAX_COMPUTE_UNIT_LIMIT, SYSTEM_PROGRAM,
};
use crate::CHAIN;

/// What the message being decoded is about.
pub(crate) struct Ctx<'a> {
    pub(crate) network: &'a str,
    pub(crate) msg: &'a LegacyMessage,
    pub(crate) wallet: &'a Pubkey,
    /// The associated-token-account creations of the message (derivation verified).
    pub(crate) creates: &'a [AtaCreate],
}

/// One instruction being decoded: its position, its compiled form and its program.
pub(crate) struct Ix<'a> {
    pub(crate) index: usize,
    pub(crate) ix: &'a CompiledInstruction,
    pub(crate) program: Pubkey,
}

impl Ix<'_> {
    /// `message.instructions[i]`.
    pub(crate) fn field(&self) -> String {
        format!("message.instructions[{}]", self.index)
    }

    /// `message.instructions[i].data`.
    pub(crate) fn data_field(&self) -> String {
        format!("message.instructions[{}].data", self.index)
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.ix.data
    }

    /// The key of the `pos`-th account, or a malformed error naming it.
    pub(crate) fn account(&self, msg: &LegacyMessage, pos: usize, name: &str) -> Result<Pubkey> {
        msg.instruction_account(self.ix, pos)
            .copied()
            .ok_or_else(|| {
                ChainError::malformed(
                    format!("message.instructions[{}].accounts", self.index),
                    format!(
                        "{} accounts: account {pos} ({name}) is missing",
                        self.ix.accounts.len()
                    ),
                )
            })
    }

    /// Refuses data that is not exactly `len` bytes.
    pub(crate) fn exact_len(&self, len: usize, what: &str) -> Result<()> {
        if self.ix.data.len() != len {
            return Err(ChainError::malformed(
                self.data_field(),
                format!(
                    "{what} data must be {len} bytes, got {}",
                    self.ix.data.len()
                ),
            ));
        }
        Ok(())
    }
}

/// The intent under construction.
#[derive(Default)]
pub(crate) struct Acc {
    pub(crate) transfers: Vec<Transfer>,
    pub(crate) calls: Vec<ContractCall>,
    pub(crate) allowances: Vec<Allowance>,
    pub(crate) authorities: Vec<AuthorityChange>,
    flags: Vec<RiskFlag>,
    /// Something other than value moving: an allowance, an authority change, an unknown call.
    risky: bool,
    cu_limit: Option<u32>,
    cu_price: Option<u64>,
    /// Positions of the compute-budget instructions.
    compute_budget: Vec<usize>,
    non_compute_budget: u64,
}

impl Acc {
    pub(crate) fn flag(&mut self, f: RiskFlag) {
        if !self.flags.contains(&f) {
            self.flags.push(f);
        }
    }

    /// Records an allowance (and its call); any allowance but a revoke grants authority, an
    /// unlimited one is flagged too.
    pub(crate) fn allow(&mut self, allowance: Allowance, call: ContractCall) {
        self.risky = true;
        if allowance.via != "revoke" {
            self.flag(RiskFlag::GrantsAuthority);
        }
        if allowance.amount.is_none() {
            self.flag(RiskFlag::UnlimitedApproval);
        }
        self.allowances.push(allowance);
        self.calls.push(call);
    }

    /// Records an authority change (and its call).
    pub(crate) fn hand_over(&mut self, change: AuthorityChange, call: ContractCall) {
        self.risky = true;
        self.flag(RiskFlag::GrantsAuthority);
        self.authorities.push(change);
        self.calls.push(call);
    }

    /// Records lamports leaving the wallet for `to`.
    pub(crate) fn send_sol(&mut self, to: &Pubkey, lamports: u64) {
        self.transfers.push(Transfer {
            from: None,
            to: b58(to),
            asset: Asset::native("SOL", 9),
            amount: Amount::from_u128(u128::from(lamports)),
        });
    }
}

pub(crate) fn arg(name: &str, value: impl Into<String>) -> Argument {
    Argument {
        name: name.to_string(),
        value: value.into(),
    }
}

pub(crate) fn le_u32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

pub(crate) fn le_u64(data: &[u8], at: usize) -> Option<u64> {
    let b = data.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

pub(crate) fn key_at(data: &[u8], at: usize) -> Option<Pubkey> {
    let b = data.get(at..at.checked_add(32)?)?;
    b.try_into().ok()
}

/// Decodes `msg` for the wallet `wallet` on `network`.
pub(crate) fn decode(network: &str, wallet: &Pubkey, msg: &LegacyMessage) -> Result<Intent> {
    let fee_payer = check_signers(wallet, msg)?;
    let creates = ata_creates(msg, wallet)?;
    let ctx = Ctx {
        network,
        msg,
        wallet,
        creates: &creates,
    };
    let mut acc = Acc::default();
    for (index, ix) in msg.instructions.iter().enumerate() {
        let program = msg.program_id(ix).copied().ok_or_else(|| {
            ChainError::malformed(
                format!("message.instructions[{index}].program_id_index"),
                "out of range",
            )
        })?;
        instruction(&ctx, &mut acc, &Ix { index, ix, program })?;
    }

    let fee = fee(msg, &acc);
    let kind = if acc.risky || acc.transfers.is_empty() {
        IntentKind::ContractCall
    } else {
        IntentKind::Transfer
    };
    let mut intent = Intent::new(CHAIN, network, kind, b58(wallet));
    intent.recent_blockhash = Some(b58(&msg.recent_blockhash));
    intent.fee_payer = Some(b58(&fee_payer));
    if acc.non_compute_budget > 1 {
        acc.flag(RiskFlag::MultipleOperations);
    }
    if fee.max.to_u128().is_some_and(|m| m > HIGH_FEE_LAMPORTS) {
        acc.flag(RiskFlag::HighFee);
    }
    for f in &acc.flags {
        intent.flag(*f);
    }
    intent.fee = Some(fee);
    intent.transfers = acc.transfers;
    intent.calls = acc.calls;
    intent.allowances = acc.allowances;
    intent.authorities = acc.authorities;
    Ok(intent)
}

/// The wallet must be the fee payer and the only signer; returns the fee payer.
fn check_signers(wallet: &Pubkey, msg: &LegacyMessage) -> Result<Pubkey> {
    let fee_payer = msg
        .account_keys
        .first()
        .copied()
        .ok_or_else(|| ChainError::malformed("message.account_keys", "no account keys"))?;
    if fee_payer != *wallet {
        return Err(ChainError::not_owned(
            "message.account_keys[0]",
            format!(
                "the fee payer {} is not this wallet ({})",
                b58(&fee_payer),
                b58(wallet)
            ),
        ));
    }
    if msg.header.num_required_signatures != 1 {
        return Err(ChainError::unsupported(
            "message.header",
            format!(
                "{} required signatures: only messages signed by the wallet alone are supported",
                msg.header.num_required_signatures
            ),
        ));
    }
    Ok(fee_payer)
}

/// Dispatches one instruction to its program's decoder.
fn instruction(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    if ix.program == COMPUTE_BUDGET_PROGRAM {
        return compute_budget(ctx, acc, ix);
    }
    acc.non_compute_budget = acc.non_compute_budget.saturating_add(1);
    if ix.program == SYSTEM_PROGRAM {
        crate::system::decode(ctx, acc, ix)
    } else if is_token_program(&ix.program) {
        crate::token::decode(ctx, acc, ix)
    } else if ix.program == ASSOCIATED_TOKEN_PROGRAM {
        match ctx.creates.iter().find(|c| c.index == ix.index) {
            Some(c) => {
                acc.send_sol(&c.owner, c.rent_bound());
                acc.calls.push(ata_call(c));
            }
            None => unknown(ctx, acc, ix, 1),
        }
        Ok(())
    } else {
        unknown(ctx, acc, ix, 8);
        Ok(())
    }
}

/// An instruction the adapter does not describe: a call with method `unknown`, its accounts
/// and data in full, flagged [`RiskFlag::UnknownSelector`].
pub(crate) fn unknown(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>, selector_len: usize) {
    acc.flag(RiskFlag::UnknownSelector);
    acc.risky = true;
    let data = ix.data();
    let selector = hex::encode(data.get(..selector_len).unwrap_or(data));
    let accounts: Vec<String> = ix
        .ix
        .accounts
        .iter()
        .filter_map(|a| ctx.msg.key(*a))
        .map(b58)
        .collect();
    acc.calls.push(ContractCall {
        contract: b58(&ix.program),
        method: "unknown".into(),
        selector,
        args: vec![
            arg("instruction", ix.index.to_string()),
            arg("accounts", accounts.join(" ")),
            arg("data", hex::encode(data)),
        ],
    });
}

fn compute_budget(ctx: &Ctx<'_>, acc: &mut Acc, ix: &Ix<'_>) -> Result<()> {
    let tag = *ix.data().first().ok_or_else(|| {
        ChainError::malformed(ix.data_field(), "empty compute-budget instruction")
    })?;
    let duplicate = || {
        ChainError::malformed(
            ix.field(),
            "duplicate compute-budget instruction (the runtime rejects the transaction)",
        )
    };
    match tag {
        2 => {
            ix.exact_len(5, "SetComputeUnitLimit")?;
            if acc.cu_limit.is_some() {
                return Err(duplicate());
            }
            acc.cu_limit = le_u32(ix.data(), 1);
        }
        3 => {
            ix.exact_len(9, "SetComputeUnitPrice")?;
            if acc.cu_price.is_some() {
                return Err(duplicate());
            }
            acc.cu_price = le_u64(ix.data(), 1);
        }
        // RequestHeapFrame / SetLoadedAccountsDataSizeLimit: no value, no fee beyond the limit.
        1 | 4 => ix.exact_len(5, "compute-budget")?,
        _ => {
            // Not a compute-budget instruction the fee accounts for: an unknown call.
            acc.non_compute_budget = acc.non_compute_budget.saturating_add(1);
            unknown(ctx, acc, ix, 1);
            return Ok(());
        }
    }
    acc.compute_budget.push(ix.index);
    Ok(())
}

/// `5000 × signatures + ceil(price × limit / 10^6)` lamports.
fn fee(msg: &LegacyMessage, acc: &Acc) -> Fee {
    let signatures = u64::from(msg.header.num_required_signatures);
    let base = u128::from(LAMPORTS_PER_SIGNATURE) * u128::from(signatures);
    let (limit, limit_detail) = match acc.cu_limit {
        Some(l) => {
            let l = u64::from(l).min(MAX_COMPUTE_UNIT_LIMIT);
            (l, "set by SetComputeUnitLimit".to_string())
        }
        None => {
            let l = DEFAULT_INSTRUCTION_COMPUTE_UNIT_LIMIT
                .saturating_mul(acc.non_compute_budget)
                .min(MAX_COMPUTE_UNIT_LIMIT);
            (
                l,
                format!(
                    "default {DEFAULT_INSTRUCTION_COMPUTE_UNIT_LIMIT} × {} instructions, at most \
                     {MAX_COMPUTE_UNIT_LIMIT}",
                    acc.non_compute_budget
                ),
            )
        }
    };
    let price = acc.cu_price.unwrap_or(0);
    let priority = (u128::from(price) * u128::from(limit)).div_ceil(1_000_000);
    let max = base + priority;
    let mut detail = format!(
        "{LAMPORTS_PER_SIGNATURE} lamports × {signatures} signature(s) + priority fee \
         ceil({limit} CU ({limit_detail}) × {price} micro-lamports/CU / 1000000) = {priority} \
         lamports; total {max} lamports"
    );
    if !acc.compute_budget.is_empty() {
        let positions: Vec<String> = acc.compute_budget.iter().map(usize::to_string).collect();
        detail.push_str(&format!(
            "; compute-budget instructions: {}",
            positions.join(", ")
        ));
    }
    Fee {
        asset: Asset::native("SOL", 9),
        max: Amount::from_u128(max),
        detail,
    }
}

//! From a parsed legacy message to an [`Intent`]: ownership checks, instruction decoding, the
//! fee bound and the risk flags.

use tessera_chain::{
    Amount, Argument, Asset, ChainError, ContractCall, Fee, Intent, IntentKind, Result, RiskFlag,
    Transfer,
};

use crate::message::{CompiledInstruction, LegacyMessage, Pubkey};
use crate::pda::associated_token_address;
use crate::programs::{
    b58, is_token_program, known_mint_of, known_mints, ASSOCIATED_TOKEN_PROGRAM,
    COMPUTE_BUDGET_PROGRAM, DEFAULT_INSTRUCTION_COMPUTE_UNIT_LIMIT, HIGH_FEE_LAMPORTS,
    LAMPORTS_PER_SIGNATURE, MAX_COMPUTE_UNIT_LIMIT, SYSTEM_PROGRAM,
};
use crate::CHAIN;

/// An associated-token-account creation found in the message (derivation verified).
#[derive(Debug, Clone, Copy)]
struct AtaCreate {
    index: usize,
    ata: Pubkey,
    owner: Pubkey,
    mint: Pubkey,
    token_program: Pubkey,
    idempotent: bool,
}

/// Priority of an instruction for [`Intent::calls`]: the riskiest shown first.
const CALL_AUX: u8 = 0;
const CALL_TOKEN: u8 = 1;
const CALL_RISKY: u8 = 2;

#[derive(Default)]
struct Acc {
    transfers: Vec<Transfer>,
    value_moving: usize,
    call: Option<(u8, ContractCall)>,
    flags: Vec<RiskFlag>,
    risky: bool,
    cu_limit: Option<u32>,
    cu_price: Option<u64>,
    non_compute_budget: u64,
}

impl Acc {
    fn flag(&mut self, f: RiskFlag) {
        if !self.flags.contains(&f) {
            self.flags.push(f);
        }
    }

    fn offer_call(&mut self, priority: u8, call: ContractCall) {
        if self.call.as_ref().is_none_or(|(p, _)| *p < priority) {
            self.call = Some((priority, call));
        }
    }
}

fn ix_field(i: usize) -> String {
    format!("message.instructions[{i}]")
}

fn data_field(i: usize) -> String {
    format!("message.instructions[{i}].data")
}

fn arg(name: &str, value: impl Into<String>) -> Argument {
    Argument {
        name: name.to_string(),
        value: value.into(),
    }
}

fn le_u32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn le_u64(data: &[u8], at: usize) -> Option<u64> {
    let b = data.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

fn key_at(data: &[u8], at: usize) -> Option<Pubkey> {
    let b = data.get(at..at.checked_add(32)?)?;
    b.try_into().ok()
}

/// The key of the `pos`-th account of instruction `i`, or a malformed error naming it.
fn account(
    msg: &LegacyMessage,
    i: usize,
    ix: &CompiledInstruction,
    pos: usize,
    name: &str,
) -> Result<Pubkey> {
    msg.instruction_account(ix, pos).copied().ok_or_else(|| {
        ChainError::malformed(
            format!("message.instructions[{i}].accounts"),
            format!(
                "{} accounts: account {pos} ({name}) is missing",
                ix.accounts.len()
            ),
        )
    })
}

fn exact_len(data: &[u8], len: usize, i: usize, what: &str) -> Result<()> {
    if data.len() != len {
        return Err(ChainError::malformed(
            data_field(i),
            format!("{what} data must be {len} bytes, got {}", data.len()),
        ));
    }
    Ok(())
}

/// Decodes `msg` for the wallet `wallet` on `network`.
pub(crate) fn decode(network: &str, wallet: &Pubkey, msg: &LegacyMessage) -> Result<Intent> {
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

    let creates = ata_creates(msg, wallet)?;
    let mut acc = Acc::default();
    for (i, ix) in msg.instructions.iter().enumerate() {
        let program = msg.program_id(ix).copied().ok_or_else(|| {
            ChainError::malformed(
                format!("message.instructions[{i}].program_id_index"),
                "out of range",
            )
        })?;
        if program != COMPUTE_BUDGET_PROGRAM {
            acc.non_compute_budget = acc.non_compute_budget.saturating_add(1);
        }
        if program == SYSTEM_PROGRAM {
            system(&mut acc, msg, wallet, i, ix)?;
        } else if is_token_program(&program) {
            token(&mut acc, network, msg, wallet, &creates, i, ix, &program)?;
        } else if program == ASSOCIATED_TOKEN_PROGRAM {
            match creates.iter().find(|c| c.index == i) {
                Some(c) => acc.offer_call(CALL_AUX, ata_call(c)),
                None => unknown(&mut acc, msg, i, ix, &program, 1),
            }
        } else if program == COMPUTE_BUDGET_PROGRAM {
            compute_budget(&mut acc, msg, i, ix)?;
        } else {
            unknown(&mut acc, msg, i, ix, &program, 8);
        }
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
    if acc.value_moving > 1 {
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
    intent.calls = acc.call.map(|(_, c)| c).into_iter().collect();
    Ok(intent)
}

/// Finds the associated-token-account creations, checking who pays and the derivation.
fn ata_creates(msg: &LegacyMessage, wallet: &Pubkey) -> Result<Vec<AtaCreate>> {
    let mut out = Vec::new();
    for (i, ix) in msg.instructions.iter().enumerate() {
        if msg.program_id(ix) != Some(&ASSOCIATED_TOKEN_PROGRAM) {
            continue;
        }
        let idempotent = match ix.data.as_slice() {
            [] | [0] => false,
            [1] => true,
            _ => continue,
        };
        let funder = account(msg, i, ix, 0, "funding account")?;
        let ata = account(msg, i, ix, 1, "associated token account")?;
        let owner = account(msg, i, ix, 2, "wallet")?;
        let mint = account(msg, i, ix, 3, "mint")?;
        let system = account(msg, i, ix, 4, "System program")?;
        let token_program = account(msg, i, ix, 5, "token program")?;
        if funder != *wallet {
            return Err(ChainError::not_owned(
                ix_field(i),
                format!(
                    "the account creation is funded by {}, not this wallet",
                    b58(&funder)
                ),
            ));
        }
        if system != SYSTEM_PROGRAM {
            return Err(ChainError::malformed(
                format!("message.instructions[{i}].accounts[4]"),
                format!("{} is not the System program", b58(&system)),
            ));
        }
        let derived = associated_token_address(&owner, &token_program, &mint).ok_or_else(|| {
            ChainError::malformed(
                format!("message.instructions[{i}].accounts[1]"),
                "no associated token address exists for this owner and mint",
            )
        })?;
        if derived != ata {
            return Err(ChainError::malformed(
                format!("message.instructions[{i}].accounts[1]"),
                format!(
                    "{} is not the associated token account of {} for mint {} (that is {})",
                    b58(&ata),
                    b58(&owner),
                    b58(&mint),
                    b58(&derived)
                ),
            ));
        }
        out.push(AtaCreate {
            index: i,
            ata,
            owner,
            mint,
            token_program,
            idempotent,
        });
    }
    Ok(out)
}

fn ata_call(c: &AtaCreate) -> ContractCall {
    ContractCall {
        contract: b58(&ASSOCIATED_TOKEN_PROGRAM),
        method: if c.idempotent {
            "createIdempotent"
        } else {
            "create"
        }
        .into(),
        selector: if c.idempotent { "01" } else { "00" }.into(),
        args: vec![
            arg("owner", b58(&c.owner)),
            arg("mint", b58(&c.mint)),
            arg("account", b58(&c.ata)),
            arg("token_program", b58(&c.token_program)),
            arg("rent_payer", "the wallet"),
        ],
    }
}

fn system(
    acc: &mut Acc,
    msg: &LegacyMessage,
    wallet: &Pubkey,
    i: usize,
    ix: &CompiledInstruction,
) -> Result<()> {
    let data = ix.data.as_slice();
    let tag = le_u32(data, 0).ok_or_else(|| {
        ChainError::malformed(
            data_field(i),
            "shorter than the 4-byte System instruction tag",
        )
    })?;
    let selector = hex::encode(tag.to_le_bytes());
    let contract = b58(&SYSTEM_PROGRAM);
    match tag {
        2 => {
            exact_len(data, 12, i, "System transfer")?;
            let lamports = le_u64(data, 4)
                .ok_or_else(|| ChainError::malformed(data_field(i), "truncated lamports"))?;
            let from = account(msg, i, ix, 0, "from")?;
            let to = account(msg, i, ix, 1, "to")?;
            if from != *wallet {
                return Err(ChainError::not_owned(
                    ix_field(i),
                    format!("transfer from {}, not this wallet", b58(&from)),
                ));
            }
            acc.transfers.push(Transfer {
                from: None,
                to: b58(&to),
                asset: Asset::native("SOL", 9),
                amount: Amount::from_u128(u128::from(lamports)),
            });
            acc.value_moving += 1;
        }
        1 => {
            // Assign { owner }: hands the account to another program.
            exact_len(data, 36, i, "System assign")?;
            let target = account(msg, i, ix, 0, "account")?;
            let owner = key_at(data, 4)
                .ok_or_else(|| ChainError::malformed(data_field(i), "truncated owner"))?;
            grant(
                acc,
                ContractCall {
                    contract,
                    method: "assign".into(),
                    selector,
                    args: vec![
                        arg("account", b58(&target)),
                        arg("new_owner_program", b58(&owner)),
                    ],
                },
            );
        }
        7 => {
            // AuthorizeNonceAccount { new_authority }.
            exact_len(data, 36, i, "System authorizeNonceAccount")?;
            let nonce = account(msg, i, ix, 0, "nonce account")?;
            let authority = key_at(data, 4)
                .ok_or_else(|| ChainError::malformed(data_field(i), "truncated authority"))?;
            grant(
                acc,
                ContractCall {
                    contract,
                    method: "authorizeNonceAccount".into(),
                    selector,
                    args: vec![
                        arg("nonce_account", b58(&nonce)),
                        arg("new_authority", b58(&authority)),
                    ],
                },
            );
        }
        10 => {
            // AssignWithSeed { base, seed, owner }: an owner change too.
            let target = account(msg, i, ix, 0, "account")?;
            grant(
                acc,
                ContractCall {
                    contract,
                    method: "assignWithSeed".into(),
                    selector,
                    args: vec![arg("account", b58(&target)), arg("data", hex::encode(data))],
                },
            );
        }
        _ => unknown(acc, msg, i, ix, &SYSTEM_PROGRAM, 4),
    }
    Ok(())
}

fn grant(acc: &mut Acc, call: ContractCall) {
    acc.flag(RiskFlag::GrantsAuthority);
    acc.risky = true;
    acc.offer_call(CALL_RISKY, call);
}

fn unknown(
    acc: &mut Acc,
    msg: &LegacyMessage,
    i: usize,
    ix: &CompiledInstruction,
    program: &Pubkey,
    selector_len: usize,
) {
    acc.flag(RiskFlag::UnknownSelector);
    acc.risky = true;
    let selector = hex::encode(ix.data.get(..selector_len).unwrap_or(&ix.data));
    let accounts: Vec<String> = ix
        .accounts
        .iter()
        .filter_map(|a| msg.key(*a))
        .map(b58)
        .collect();
    acc.offer_call(
        CALL_RISKY,
        ContractCall {
            contract: b58(program),
            method: "unknown".into(),
            selector,
            args: vec![
                arg("instruction", i.to_string()),
                arg("accounts", accounts.join(" ")),
                arg("data", hex::encode(&ix.data)),
            ],
        },
    );
}

/// A decoded SPL token transfer, before the destination and asset are resolved.
struct TokenTransfer {
    program: Pubkey,
    source: Pubkey,
    mint: Option<Pubkey>,
    destination: Pubkey,
    destination_pos: usize,
    authority: Pubkey,
    amount: u64,
    decimals: Option<u8>,
}

#[allow(clippy::too_many_arguments)]
fn token(
    acc: &mut Acc,
    network: &str,
    msg: &LegacyMessage,
    wallet: &Pubkey,
    creates: &[AtaCreate],
    i: usize,
    ix: &CompiledInstruction,
    program: &Pubkey,
) -> Result<()> {
    let data = ix.data.as_slice();
    let tag = *data
        .first()
        .ok_or_else(|| ChainError::malformed(data_field(i), "empty token instruction"))?;
    let contract = b58(program);
    let selector = hex::encode([tag]);
    match tag {
        3 => {
            exact_len(data, 9, i, "token transfer")?;
            let t = TokenTransfer {
                program: *program,
                source: account(msg, i, ix, 0, "source")?,
                mint: None,
                destination: account(msg, i, ix, 1, "destination")?,
                destination_pos: 1,
                authority: account(msg, i, ix, 2, "authority")?,
                amount: le_u64(data, 1)
                    .ok_or_else(|| ChainError::malformed(data_field(i), "truncated amount"))?,
                decimals: None,
            };
            token_transfer(acc, network, wallet, creates, i, t)
        }
        12 => {
            exact_len(data, 10, i, "token transferChecked")?;
            let t = TokenTransfer {
                program: *program,
                source: account(msg, i, ix, 0, "source")?,
                mint: Some(account(msg, i, ix, 1, "mint")?),
                destination: account(msg, i, ix, 2, "destination")?,
                destination_pos: 2,
                authority: account(msg, i, ix, 3, "authority")?,
                amount: le_u64(data, 1)
                    .ok_or_else(|| ChainError::malformed(data_field(i), "truncated amount"))?,
                decimals: data.get(9).copied(),
            };
            token_transfer(acc, network, wallet, creates, i, t)
        }
        4 | 13 => {
            // Approve / ApproveChecked: a delegate may spend the account's tokens.
            let checked = tag == 13;
            exact_len(data, if checked { 10 } else { 9 }, i, "token approve")?;
            let source = account(msg, i, ix, 0, "source")?;
            let delegate = account(msg, i, ix, if checked { 2 } else { 1 }, "delegate")?;
            let amount = le_u64(data, 1)
                .ok_or_else(|| ChainError::malformed(data_field(i), "truncated amount"))?;
            grant(
                acc,
                ContractCall {
                    contract,
                    method: if checked { "approveChecked" } else { "approve" }.into(),
                    selector,
                    args: vec![
                        arg("source", b58(&source)),
                        arg("delegate", b58(&delegate)),
                        arg("amount", amount.to_string()),
                    ],
                },
            );
            Ok(())
        }
        6 => {
            // SetAuthority { authority_type, new_authority: COption<Pubkey> }.
            let target = account(msg, i, ix, 0, "account")?;
            let kind = data
                .get(1)
                .copied()
                .ok_or_else(|| ChainError::malformed(data_field(i), "missing authority type"))?;
            let new_authority = match data.get(2) {
                Some(0) if data.len() == 3 => "none".to_string(),
                Some(1) if data.len() == 35 => key_at(data, 3).map(|k| b58(&k)).unwrap_or_default(),
                _ => {
                    return Err(ChainError::malformed(
                        data_field(i),
                        "setAuthority data is not a valid optional authority",
                    ))
                }
            };
            grant(
                acc,
                ContractCall {
                    contract,
                    method: "setAuthority".into(),
                    selector,
                    args: vec![
                        arg("account", b58(&target)),
                        arg("authority_type", kind.to_string()),
                        arg("new_authority", new_authority),
                    ],
                },
            );
            Ok(())
        }
        _ => {
            unknown(acc, msg, i, ix, program, 1);
            Ok(())
        }
    }
}

fn token_transfer(
    acc: &mut Acc,
    network: &str,
    wallet: &Pubkey,
    creates: &[AtaCreate],
    i: usize,
    t: TokenTransfer,
) -> Result<()> {
    if t.authority != *wallet {
        return Err(ChainError::not_owned(
            ix_field(i),
            format!(
                "token transfer authorized by {}, not this wallet",
                b58(&t.authority)
            ),
        ));
    }
    let created = creates
        .iter()
        .find(|c| c.ata == t.destination && c.token_program == t.program);
    if let (Some(c), Some(m)) = (created, t.mint) {
        if c.mint != m {
            return Err(ChainError::malformed(
                format!("message.instructions[{i}].accounts[{}]", t.destination_pos),
                format!(
                    "the destination is the associated token account for mint {}, not {}",
                    b58(&c.mint),
                    b58(&m)
                ),
            ));
        }
    }
    // The mint: named by transferChecked, else known from the destination's creation, else
    // recognised when the source is the wallet's associated account of a known mint.
    let mint = t.mint.or(created.map(|c| c.mint)).or_else(|| {
        known_mints(network)
            .iter()
            .filter(|k| k.program == t.program)
            .find(|k| associated_token_address(wallet, &t.program, &k.mint) == Some(t.source))
            .map(|k| k.mint)
    });
    let asset = match (
        mint,
        mint.and_then(|m| known_mint_of(network, &t.program, &m)),
    ) {
        (Some(m), Some(k)) => {
            if let Some(d) = t.decimals {
                if d != k.decimals {
                    return Err(ChainError::malformed(
                        data_field(i),
                        format!(
                            "decimals {d}, but {} ({}) has {} decimals",
                            k.symbol,
                            b58(&m),
                            k.decimals
                        ),
                    ));
                }
            }
            Asset {
                symbol: k.symbol.into(),
                decimals: Some(k.decimals),
                contract: Some(b58(&m)),
            }
        }
        (Some(m), None) => {
            acc.flag(RiskFlag::UnknownToken);
            Asset {
                symbol: "?".into(),
                decimals: t.decimals,
                contract: Some(b58(&m)),
            }
        }
        (None, _) => {
            acc.flag(RiskFlag::UnknownToken);
            Asset {
                symbol: "?".into(),
                decimals: None,
                contract: None,
            }
        }
    };
    let (to, to_arg) = match created {
        Some(c) => (
            c.owner,
            format!(
                "owner {} of associated token account {} (derivation verified, created by \
                 instruction {})",
                b58(&c.owner),
                b58(&t.destination),
                c.index
            ),
        ),
        None => (
            t.destination,
            format!(
                "token account {} (its owner is not resolved offline)",
                b58(&t.destination)
            ),
        ),
    };
    let checked = t.mint.is_some();
    let mut args = vec![arg("source", b58(&t.source))];
    match (t.mint, mint) {
        (Some(m), _) => args.push(arg("mint", b58(&m))),
        (None, Some(m)) => args.push(arg("mint", format!("{} (inferred)", b58(&m)))),
        (None, None) => args.push(arg("mint", "unknown")),
    }
    args.push(arg("destination", b58(&t.destination)));
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
    args.push(arg("authority", b58(&t.authority)));
    args.push(arg("amount", t.amount.to_string()));
    if let Some(d) = t.decimals {
        args.push(arg("decimals", d.to_string()));
    }
    acc.transfers.push(Transfer {
        from: None,
        to: b58(&to),
        asset,
        amount: Amount::from_u128(u128::from(t.amount)),
    });
    acc.value_moving += 1;
    acc.offer_call(
        CALL_TOKEN,
        ContractCall {
            contract: b58(&t.program),
            method: if checked {
                "transferChecked"
            } else {
                "transfer"
            }
            .into(),
            selector: if checked { "0c" } else { "03" }.into(),
            args,
        },
    );
    Ok(())
}

fn compute_budget(
    acc: &mut Acc,
    msg: &LegacyMessage,
    i: usize,
    ix: &CompiledInstruction,
) -> Result<()> {
    let data = ix.data.as_slice();
    let tag = *data
        .first()
        .ok_or_else(|| ChainError::malformed(data_field(i), "empty compute-budget instruction"))?;
    let duplicate = || {
        ChainError::malformed(
            ix_field(i),
            "duplicate compute-budget instruction (the runtime rejects the transaction)",
        )
    };
    match tag {
        2 => {
            exact_len(data, 5, i, "SetComputeUnitLimit")?;
            if acc.cu_limit.is_some() {
                return Err(duplicate());
            }
            acc.cu_limit = le_u32(data, 1);
        }
        3 => {
            exact_len(data, 9, i, "SetComputeUnitPrice")?;
            if acc.cu_price.is_some() {
                return Err(duplicate());
            }
            acc.cu_price = le_u64(data, 1);
        }
        // RequestHeapFrame / SetLoadedAccountsDataSizeLimit: no value, no fee beyond the limit.
        1 | 4 => exact_len(data, 5, i, "compute-budget")?,
        _ => unknown(acc, msg, i, ix, &COMPUTE_BUDGET_PROGRAM, 1),
    }
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
    let detail = format!(
        "{LAMPORTS_PER_SIGNATURE} lamports × {signatures} signature(s) + priority fee \
         ceil({limit} CU ({limit_detail}) × {price} micro-lamports/CU / 1000000) = {priority} \
         lamports; total {max} lamports"
    );
    Fee {
        asset: Asset::native("SOL", 9),
        max: Amount::from_u128(max),
        detail,
    }
}

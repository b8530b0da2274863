//! The JSON builder: a spec in, a deterministic unsigned legacy message out. The spec format is
//! documented on [`crate::Solana`].

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tessera_chain::{ChainError, Result};

use crate::message::{CompiledInstruction, LegacyMessage, MessageHeader, Pubkey, MAX_MESSAGE_LEN};
use crate::pda::associated_token_address;
use crate::programs::{
    b58, is_token_program, known_mint, parse_b58, ASSOCIATED_TOKEN_PROGRAM, COMPUTE_BUDGET_PROGRAM,
    MAX_COMPUTE_UNIT_LIMIT, SYSTEM_PROGRAM, TOKEN_PROGRAM,
};

/// An account of an instruction before compilation.
#[derive(Debug, Clone, Copy)]
struct Meta {
    key: Pubkey,
    signer: bool,
    writable: bool,
}

/// An instruction before compilation (program, accounts by key, data).
#[derive(Debug, Clone)]
struct Ix {
    program: Pubkey,
    accounts: Vec<Meta>,
    data: Vec<u8>,
}

const TOP_FIELDS: &[&str] = &[
    "recent_blockhash",
    "transfers",
    "token_transfers",
    "compute_unit_limit",
    "compute_unit_price_micro_lamports",
];
const TRANSFER_FIELDS: &[&str] = &["to", "lamports"];
const TOKEN_FIELDS: &[&str] = &[
    "mint",
    "to_owner",
    "amount",
    "decimals",
    "create_ata",
    "token_program",
];

fn object<'a>(v: &'a Value, field: &str, allowed: &[&str]) -> Result<&'a Map<String, Value>> {
    let obj = v
        .as_object()
        .ok_or_else(|| ChainError::malformed(field, "must be a JSON object"))?;
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            let name = if field == "spec" {
                k.clone()
            } else {
                format!("{field}.{k}")
            };
            return Err(ChainError::malformed(
                name,
                format!("unknown field (known: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(obj)
}

fn pubkey(v: Option<&Value>, field: &str) -> Result<Pubkey> {
    let s = v
        .ok_or_else(|| ChainError::malformed(field, "missing"))?
        .as_str()
        .ok_or_else(|| ChainError::malformed(field, "must be a base58 string"))?;
    parse_b58(s).ok_or_else(|| {
        ChainError::malformed(field, format!("{s:?} is not the base58 form of 32 bytes"))
    })
}

/// A JSON integer, or a canonical decimal string, that fits a `u64`.
fn u64_field(v: Option<&Value>, field: &str) -> Result<u64> {
    let v = v.ok_or_else(|| ChainError::malformed(field, "missing"))?;
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if s == "0" || (!s.starts_with('0') && s.len() <= 20) => {
            if s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<u64>().ok()
            } else {
                None
            }
        }
        _ => None,
    };
    n.ok_or_else(|| {
        ChainError::malformed(
            field,
            "must be an unsigned 64-bit integer (JSON number or decimal string)",
        )
    })
}

fn positive_u64(v: Option<&Value>, field: &str) -> Result<u64> {
    let n = u64_field(v, field)?;
    if n == 0 {
        return Err(ChainError::malformed(field, "must be positive"));
    }
    Ok(n)
}

fn array<'a>(v: Option<&'a Value>, field: &str) -> Result<&'a [Value]> {
    match v {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(ChainError::malformed(field, "must be an array")),
    }
}

/// Builds the unsigned message bytes for `wallet` on `network`.
pub(crate) fn build(network: &str, wallet: &Pubkey, spec: &Value) -> Result<Vec<u8>> {
    let obj = object(spec, "spec", TOP_FIELDS)?;
    let blockhash = pubkey(obj.get("recent_blockhash"), "recent_blockhash")?;
    let mut ixs = Vec::new();

    // Compute budget first: limit, then price.
    if let Some(v) = obj.get("compute_unit_limit") {
        let limit = u64_field(Some(v), "compute_unit_limit")?;
        if limit == 0 || limit > MAX_COMPUTE_UNIT_LIMIT {
            return Err(ChainError::malformed(
                "compute_unit_limit",
                format!("must be between 1 and {MAX_COMPUTE_UNIT_LIMIT}"),
            ));
        }
        let limit = u32::try_from(limit)
            .map_err(|_| ChainError::malformed("compute_unit_limit", "too large"))?;
        let mut data = vec![2];
        data.extend_from_slice(&limit.to_le_bytes());
        ixs.push(Ix {
            program: COMPUTE_BUDGET_PROGRAM,
            accounts: vec![],
            data,
        });
    }
    if let Some(v) = obj.get("compute_unit_price_micro_lamports") {
        let price = u64_field(Some(v), "compute_unit_price_micro_lamports")?;
        let mut data = vec![3];
        data.extend_from_slice(&price.to_le_bytes());
        ixs.push(Ix {
            program: COMPUTE_BUDGET_PROGRAM,
            accounts: vec![],
            data,
        });
    }

    let transfers = array(obj.get("transfers"), "transfers")?;
    for (i, t) in transfers.iter().enumerate() {
        let field = format!("transfers[{i}]");
        let t = object(t, &field, TRANSFER_FIELDS)?;
        let to = pubkey(t.get("to"), &format!("{field}.to"))?;
        let lamports = positive_u64(t.get("lamports"), &format!("{field}.lamports"))?;
        let mut data = 2u32.to_le_bytes().to_vec();
        data.extend_from_slice(&lamports.to_le_bytes());
        ixs.push(Ix {
            program: SYSTEM_PROGRAM,
            accounts: vec![
                Meta {
                    key: *wallet,
                    signer: true,
                    writable: true,
                },
                Meta {
                    key: to,
                    signer: false,
                    writable: true,
                },
            ],
            data,
        });
    }

    let token_transfers = array(obj.get("token_transfers"), "token_transfers")?;
    for (i, t) in token_transfers.iter().enumerate() {
        let field = format!("token_transfers[{i}]");
        let t = object(t, &field, TOKEN_FIELDS)?;
        let mint = pubkey(t.get("mint"), &format!("{field}.mint"))?;
        let owner = pubkey(t.get("to_owner"), &format!("{field}.to_owner"))?;
        let amount = positive_u64(t.get("amount"), &format!("{field}.amount"))?;
        let decimals_field = format!("{field}.decimals");
        let decimals = u8::try_from(u64_field(t.get("decimals"), &decimals_field)?)
            .map_err(|_| ChainError::malformed(&decimals_field, "must be at most 255"))?;
        let create_ata = match t.get("create_ata") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ChainError::malformed(
                    format!("{field}.create_ata"),
                    "must be a boolean",
                ))
            }
        };
        let token_program = match t.get("token_program") {
            None => TOKEN_PROGRAM,
            Some(v) => {
                let f = format!("{field}.token_program");
                let p = pubkey(Some(v), &f)?;
                if !is_token_program(&p) {
                    return Err(ChainError::malformed(
                        f,
                        format!("{} is neither SPL Token nor Token-2022", b58(&p)),
                    ));
                }
                p
            }
        };
        if let Some(k) = known_mint(network, &mint) {
            if k.program != token_program {
                return Err(ChainError::malformed(
                    format!("{field}.token_program"),
                    format!("{} is a mint of {}", k.symbol, b58(&k.program)),
                ));
            }
            if k.decimals != decimals {
                return Err(ChainError::malformed(
                    decimals_field,
                    format!("{} has {} decimals", k.symbol, k.decimals),
                ));
            }
        }
        let no_ata = || {
            ChainError::malformed(
                format!("{field}.mint"),
                "no associated token address exists for this mint",
            )
        };
        let source = associated_token_address(wallet, &token_program, &mint).ok_or_else(no_ata)?;
        let destination =
            associated_token_address(&owner, &token_program, &mint).ok_or_else(no_ata)?;
        if create_ata {
            ixs.push(Ix {
                program: ASSOCIATED_TOKEN_PROGRAM,
                accounts: vec![
                    Meta {
                        key: *wallet,
                        signer: true,
                        writable: true,
                    },
                    Meta {
                        key: destination,
                        signer: false,
                        writable: true,
                    },
                    Meta {
                        key: owner,
                        signer: false,
                        writable: false,
                    },
                    Meta {
                        key: mint,
                        signer: false,
                        writable: false,
                    },
                    Meta {
                        key: SYSTEM_PROGRAM,
                        signer: false,
                        writable: false,
                    },
                    Meta {
                        key: token_program,
                        signer: false,
                        writable: false,
                    },
                ],
                data: vec![1],
            });
        }
        let mut data = vec![12];
        data.extend_from_slice(&amount.to_le_bytes());
        data.push(decimals);
        ixs.push(Ix {
            program: token_program,
            accounts: vec![
                Meta {
                    key: source,
                    signer: false,
                    writable: true,
                },
                Meta {
                    key: mint,
                    signer: false,
                    writable: false,
                },
                Meta {
                    key: destination,
                    signer: false,
                    writable: true,
                },
                Meta {
                    key: *wallet,
                    signer: true,
                    writable: false,
                },
            ],
            data,
        });
    }

    if transfers.is_empty() && token_transfers.is_empty() {
        return Err(ChainError::malformed(
            "transfers",
            "nothing to send: give transfers or token_transfers",
        ));
    }
    let message = compile(wallet, &ixs, blockhash)?;
    let bytes = message.serialize();
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(ChainError::malformed(
            "spec",
            format!(
                "the message would be {} bytes, more than a transaction allows \
                 ({MAX_MESSAGE_LEN}); split the transfers",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

/// Compiles instructions the way `solana_message::Message::new_with_blockhash` does: the payer
/// first, then writable signers, read-only signers, writable and read-only non-signers, each
/// group in ascending key order.
fn compile(payer: &Pubkey, ixs: &[Ix], blockhash: Pubkey) -> Result<LegacyMessage> {
    #[derive(Default, Clone, Copy)]
    struct KeyMeta {
        signer: bool,
        writable: bool,
    }
    let mut metas: BTreeMap<Pubkey, KeyMeta> = BTreeMap::new();
    for ix in ixs {
        metas.entry(ix.program).or_default();
        for a in &ix.accounts {
            let m = metas.entry(a.key).or_default();
            m.signer |= a.signer;
            m.writable |= a.writable;
        }
    }
    metas.remove(payer);
    let group = |signer: bool, writable: bool| -> Vec<Pubkey> {
        metas
            .iter()
            .filter(|(_, m)| m.signer == signer && m.writable == writable)
            .map(|(k, _)| *k)
            .collect()
    };
    let writable_signers = group(true, true);
    let readonly_signers = group(true, false);
    let writable_unsigned = group(false, true);
    let readonly_unsigned = group(false, false);
    let too_many = || ChainError::malformed("spec", "too many distinct accounts for one message");
    let header = MessageHeader {
        num_required_signatures: u8::try_from(1 + writable_signers.len() + readonly_signers.len())
            .map_err(|_| too_many())?,
        num_readonly_signed_accounts: u8::try_from(readonly_signers.len())
            .map_err(|_| too_many())?,
        num_readonly_unsigned_accounts: u8::try_from(readonly_unsigned.len())
            .map_err(|_| too_many())?,
    };
    let account_keys: Vec<Pubkey> = std::iter::once(*payer)
        .chain(writable_signers)
        .chain(readonly_signers)
        .chain(writable_unsigned)
        .chain(readonly_unsigned)
        .collect();
    if account_keys.len() > 256 {
        return Err(too_many());
    }
    let index = |k: &Pubkey| -> Result<u8> {
        let pos = account_keys
            .iter()
            .position(|x| x == k)
            .ok_or_else(|| ChainError::malformed("spec", "internal: account not compiled"))?;
        u8::try_from(pos).map_err(|_| too_many())
    };
    let mut instructions = Vec::with_capacity(ixs.len());
    for ix in ixs {
        instructions.push(CompiledInstruction {
            program_id_index: index(&ix.program)?,
            accounts: ix
                .accounts
                .iter()
                .map(|a| index(&a.key))
                .collect::<Result<_>>()?,
            data: ix.data.clone(),
        });
    }
    Ok(LegacyMessage {
        header,
        account_keys,
        recent_blockhash: blockhash,
        instructions,
    })
}

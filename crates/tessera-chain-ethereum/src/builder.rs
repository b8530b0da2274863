//! The JSON builder (see the crate docs for the spec).

use std::str::FromStr;

use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use serde_json::{Map, Value};
use tessera_chain::{Amount, ChainError, Payload, Result};

use crate::calldata::encode_erc20_transfer;
use crate::network::Network;

const TX_COMMON: &[&str] = &[
    "type",
    "nonce",
    "to",
    "value_wei",
    "gas_limit",
    "data",
    "erc20_transfer",
];

fn malformed(field: &str, why: impl std::fmt::Display) -> ChainError {
    ChainError::malformed(field, why)
}

/// Refuses keys outside `allowed` (a misspelt field must not be silently ignored).
fn only_keys(obj: &Map<String, Value>, allowed: &[&str], prefix: &str) -> Result<()> {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(malformed(
                &format!("{prefix}{key}"),
                format!("unknown field (expected one of: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn get_u64(obj: &Map<String, Value>, key: &str) -> Result<u64> {
    obj.get(key)
        .ok_or_else(|| malformed(key, "missing"))?
        .as_u64()
        .ok_or_else(|| malformed(key, "expected a non-negative JSON integer"))
}

/// A decimal amount string (canonical [`Amount`] form) as a 256-bit integer.
fn parse_u256(field: &str, v: &Value) -> Result<U256> {
    let s = v
        .as_str()
        .ok_or_else(|| malformed(field, "expected a decimal string"))?;
    let a = Amount::parse(s).map_err(|e| malformed(field, e))?;
    U256::from_str_radix(a.as_str(), 10).map_err(|_| malformed(field, "exceeds 2^256 - 1"))
}

fn get_u256(obj: &Map<String, Value>, key: &str, default: Option<U256>) -> Result<U256> {
    match (obj.get(key), default) {
        (Some(v), _) => parse_u256(key, v),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(malformed(key, "missing")),
    }
}

fn get_u128(obj: &Map<String, Value>, key: &str) -> Result<u128> {
    let v = get_u256(obj, key, None)?;
    u128::try_from(v).map_err(|_| malformed(key, "exceeds 2^128 - 1"))
}

/// `0x` + 40 hex digits; mixed case must be a valid EIP-55 checksum.
pub(crate) fn parse_address(field: &str, v: &Value) -> Result<Address> {
    let s = v
        .as_str()
        .ok_or_else(|| malformed(field, "expected a 0x-prefixed address string"))?;
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| malformed(field, "expected a 0x-prefixed address"))?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed(field, "expected 40 hex digits"));
    }
    let mixed = digits.bytes().any(|b| b.is_ascii_lowercase())
        && digits.bytes().any(|b| b.is_ascii_uppercase());
    if mixed {
        Address::parse_checksummed(s, None).map_err(|_| malformed(field, "bad EIP-55 checksum"))
    } else {
        Address::from_str(s).map_err(|e| malformed(field, e))
    }
}

fn parse_hex(field: &str, v: &Value) -> Result<Vec<u8>> {
    let s = v
        .as_str()
        .ok_or_else(|| malformed(field, "expected a 0x-prefixed hex string"))?;
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| malformed(field, "expected a 0x-prefixed hex string"))?;
    hex::decode(digits).map_err(|e| malformed(field, e))
}

/// `to`, `value` and `data` of a transaction spec (with `erc20_transfer` expanded).
fn call_fields(obj: &Map<String, Value>) -> Result<(TxKind, U256, Vec<u8>)> {
    if let Some(t) = obj.get("erc20_transfer") {
        let t = t
            .as_object()
            .ok_or_else(|| malformed("erc20_transfer", "expected an object"))?;
        only_keys(t, &["token", "to", "amount"], "erc20_transfer.")?;
        for clash in ["to", "data"] {
            if obj.contains_key(clash) {
                return Err(malformed(clash, "not allowed together with erc20_transfer"));
            }
        }
        if !get_u256(obj, "value_wei", Some(U256::ZERO))?.is_zero() {
            return Err(malformed(
                "value_wei",
                "must be 0 with erc20_transfer (no ether goes to the token contract)",
            ));
        }
        let field = |k: &str| {
            t.get(k)
                .ok_or_else(|| malformed(&format!("erc20_transfer.{k}"), "missing"))
        };
        let token = parse_address("erc20_transfer.token", field("token")?)?;
        let to = parse_address("erc20_transfer.to", field("to")?)?;
        let amount = parse_u256("erc20_transfer.amount", field("amount")?)?;
        return Ok((
            TxKind::Call(token),
            U256::ZERO,
            encode_erc20_transfer(to, amount),
        ));
    }
    let to = match obj.get("to") {
        None => return Err(malformed("to", "missing (null deploys a contract)")),
        Some(Value::Null) => TxKind::Create,
        Some(v) => TxKind::Call(parse_address("to", v)?),
    };
    let value = get_u256(obj, "value_wei", Some(U256::ZERO))?;
    let data = match obj.get("data") {
        None => Vec::new(),
        Some(v) => parse_hex("data", v)?,
    };
    Ok((to, value, data))
}

/// Builds the unsigned payload bytes; the caller parses them before returning them.
pub(crate) fn build(net: &Network, spec: &Value) -> Result<Payload> {
    let obj = spec
        .as_object()
        .ok_or_else(|| malformed("spec", "expected a JSON object"))?;
    let ty = obj
        .get("type")
        .ok_or_else(|| malformed("type", "missing"))?
        .as_str()
        .ok_or_else(|| malformed("type", "expected a string"))?;
    let bytes = match ty {
        "eip1559" => {
            let fees: &[&str] = &["max_fee_per_gas_wei", "max_priority_fee_per_gas_wei"];
            let allowed = [TX_COMMON, fees].concat();
            only_keys(obj, &allowed, "")?;
            let (to, value, data) = call_fields(obj)?;
            TxEip1559 {
                chain_id: net.chain_id,
                nonce: get_u64(obj, "nonce")?,
                gas_limit: get_u64(obj, "gas_limit")?,
                max_fee_per_gas: get_u128(obj, "max_fee_per_gas_wei")?,
                max_priority_fee_per_gas: get_u128(obj, "max_priority_fee_per_gas_wei")?,
                to,
                value,
                access_list: AccessList::default(),
                input: Bytes::from(data),
            }
            .encoded_for_signing()
        }
        "eip155" => {
            let fees: &[&str] = &["gas_price_wei"];
            let allowed = [TX_COMMON, fees].concat();
            only_keys(obj, &allowed, "")?;
            let (to, value, data) = call_fields(obj)?;
            TxLegacy {
                chain_id: Some(net.chain_id),
                nonce: get_u64(obj, "nonce")?,
                gas_price: get_u128(obj, "gas_price_wei")?,
                gas_limit: get_u64(obj, "gas_limit")?,
                to,
                value,
                input: Bytes::from(data),
            }
            .encoded_for_signing()
        }
        "eip712" => {
            only_keys(obj, &["type", "typed_data"], "")?;
            let td = obj
                .get("typed_data")
                .ok_or_else(|| malformed("typed_data", "missing"))?;
            if !td.is_object() {
                return Err(malformed("typed_data", "expected a JSON object"));
            }
            serde_json::to_vec(td).map_err(|e| malformed("typed_data", e))?
        }
        "personal_sign" => {
            only_keys(obj, &["type", "message", "message_hex"], "")?;
            match (obj.get("message"), obj.get("message_hex")) {
                (Some(m), None) => m
                    .as_str()
                    .ok_or_else(|| malformed("message", "expected a string"))?
                    .as_bytes()
                    .to_vec(),
                (None, Some(h)) => parse_hex("message_hex", h)?,
                _ => {
                    return Err(malformed(
                        "message",
                        "give exactly one of message (text) and message_hex",
                    ))
                }
            }
        }
        other => {
            return Err(ChainError::unsupported(
                "type",
                format!("unknown payload type {other:?} (eip1559, eip155, eip712, personal_sign)"),
            ))
        }
    };
    Ok(Payload {
        format: ty.to_string(),
        bytes,
    })
}

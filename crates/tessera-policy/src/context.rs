//! The Cedar context attributes that come from the intent ([`IntentFacts`]), as schema-typed
//! JSON (the attributes are documented on [`crate::schema::SCHEMA`]). A request without an
//! intent gets the same attributes, empty.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::amount::BaseUnits;
use crate::facts::{AllowanceFacts, AssetLeg, AuthorityFacts, CallFacts, IntentFacts};
use crate::request::AssetKey;
use crate::schema::WindowFigures;

/// A count as a Cedar `Long` (saturated).
pub(crate) fn long(v: u64) -> Value {
    Value::from(i64::try_from(v).unwrap_or(i64::MAX))
}

fn count(n: usize) -> Value {
    long(u64::try_from(n).unwrap_or(u64::MAX))
}

/// An `AssetInfo` record.
fn asset_json(key: &AssetKey, symbol: &str, decimals: Option<u8>) -> Value {
    json!({
        "id": key.to_string(),
        "symbol": symbol,
        "native": key.contract().is_none(),
        "contract": key.contract().unwrap_or(""),
        "decimals": decimals.map_or(-1, i64::from),
        "decimals_known": decimals.is_some(),
    })
}

/// The leg's `asset` record (empty for `change_policy`).
pub(crate) fn asset_info(leg: Option<&AssetLeg>) -> Value {
    match leg {
        Some(l) => asset_json(&l.asset, &l.symbol, l.decimals),
        None => json!({
            "id": "", "symbol": "", "native": false, "contract": "",
            "decimals": -1, "decimals_known": false,
        }),
    }
}

/// A velocity window record.
pub(crate) fn window(w: &WindowFigures, decimals: Option<u8>) -> Value {
    json!({ "count": long(w.count), "amount": w.amount.cedar_json(decimals) })
}

/// Every intent-level attribute; empty ones when `facts` is `None`.
pub(crate) fn intent_attributes(facts: Option<&IntentFacts>) -> Map<String, Value> {
    let Some(f) = facts else {
        return no_intent();
    };
    let call = match f.call() {
        Some(c) => json!({
            "present": true, "contract": c.contract, "method": c.method, "selector": c.selector,
        }),
        None => no_call(),
    };
    let calls: Vec<Value> = f
        .calls()
        .iter()
        .map(|c| json!({ "contract": c.contract, "method": c.method, "selector": c.selector }))
        .collect();
    let (fee, fee_share_known, fee_share_bps) = fee_attributes(f);
    let mut m = Map::new();
    m.extend([
        ("kind".into(), f.kind().into()),
        ("has_intent".into(), true.into()),
        ("amount_exceeds_i64".into(), f.amount_exceeds_i64().into()),
        ("asset_count".into(), count(f.legs().len())),
        ("destinations".into(), json!(f.destinations())),
        ("destination_count".into(), count(f.destinations().len())),
        ("moves_others_funds".into(), f.moves_others_funds().into()),
        ("call".into(), call),
        ("calls".into(), Value::Array(calls)),
        ("call_contracts".into(), call_set(f, |c| &c.contract)),
        ("call_methods".into(), call_set(f, |c| &c.method)),
        ("call_selectors".into(), call_set(f, |c| &c.selector)),
        ("operations".into(), long(f.operations())),
        ("risk_flags".into(), json!(f.risk_flags())),
        ("fee".into(), fee),
        ("fee_share_known".into(), fee_share_known.into()),
        ("fee_share_bps".into(), fee_share_bps.into()),
    ]);
    m.extend(allowance_attributes(f.allowances()));
    m.extend(authority_attributes(f.authorities()));
    m
}

/// One attribute of every call, as a set.
fn call_set(f: &IntentFacts, pick: fn(&CallFacts) -> &str) -> Value {
    let set: BTreeSet<&str> = f.calls().iter().map(pick).collect();
    json!(set)
}

/// `fee`, `fee_share_known`, `fee_share_bps` (see the schema docs).
fn fee_attributes(f: &IntentFacts) -> (Value, bool, i64) {
    let Some(fee) = f.fee() else {
        return (BaseUnits::zero().cedar_json(None), false, 0);
    };
    let (known, bps) = match f.fee_share_bps() {
        Some(bps) => (true, bps),
        None if fee.total.is_zero() => (false, 0),
        None => (false, i64::MAX),
    };
    (fee.total.cedar_json(fee.decimals), known, bps)
}

fn allowance_attributes(list: &[AllowanceFacts]) -> [(String, Value); 4] {
    let records: Vec<Value> = list
        .iter()
        .map(|a| {
            let amount = a.amount.clone().unwrap_or_else(BaseUnits::u256_max);
            json!({
                "spender": a.spender,
                "asset": asset_json(&a.asset, &a.symbol, a.decimals),
                "unlimited": a.amount.is_none(),
                "amount": amount.cedar_json(a.decimals),
                "expires_at": a.expires_at.map_or(Value::from(-1), long),
                "via": a.via,
            })
        })
        .collect();
    let spenders: BTreeSet<&String> = list.iter().map(|a| &a.spender).collect();
    [
        ("allowances".into(), Value::Array(records)),
        ("allowance_count".into(), count(list.len())),
        ("allowance_spenders".into(), json!(spenders)),
        (
            "grants_unlimited_allowance".into(),
            list.iter().any(|a| a.amount.is_none()).into(),
        ),
    ]
}

fn authority_attributes(list: &[AuthorityFacts]) -> [(String, Value); 2] {
    let records: Vec<Value> = list
        .iter()
        .map(|a| {
            json!({
                "account": a.account,
                "authority": a.authority,
                "new_authority": a.new_authority.as_deref().unwrap_or(""),
                "removed": a.new_authority.is_none(),
            })
        })
        .collect();
    [
        ("authorities".into(), Value::Array(records)),
        ("authority_changes".into(), count(list.len())),
    ]
}

fn no_call() -> Value {
    json!({ "present": false, "contract": "", "method": "", "selector": "" })
}

fn no_intent() -> Map<String, Value> {
    let mut m = Map::new();
    m.extend([
        ("kind".into(), "none".into()),
        ("has_intent".into(), false.into()),
        ("amount_exceeds_i64".into(), false.into()),
        ("asset_count".into(), count(0)),
        ("destinations".into(), json!([])),
        ("destination_count".into(), count(0)),
        ("moves_others_funds".into(), false.into()),
        ("call".into(), no_call()),
        ("calls".into(), json!([])),
        ("call_contracts".into(), json!([])),
        ("call_methods".into(), json!([])),
        ("call_selectors".into(), json!([])),
        ("operations".into(), count(0)),
        ("risk_flags".into(), json!([])),
        ("fee".into(), BaseUnits::zero().cedar_json(None)),
        ("fee_share_known".into(), false.into()),
        ("fee_share_bps".into(), 0.into()),
    ]);
    m.extend(allowance_attributes(&[]));
    m.extend(authority_attributes(&[]));
    m
}

//! Velocity limits: at most an amount (in base units) or a number of requests per wallet and
//! asset over a rolling window.
//!
//! Rules live in the [`crate::PolicyBundle`], not in Cedar, because they need state: the
//! [`VelocityLedger`] of what was signed. **Each signer keeps its own ledger** (a later step
//! persists it in the signer vault) and **records a request only after it actually signed it**
//! ([`record_signed`]), so a coordinator can neither reset nor inflate it. A rolling window of
//! `S` seconds at time `now` covers the entries recorded at `now - S + 1 ..= now`; entries stamped
//! later than `now` (a clock that went backwards) still count.
//!
//! The engine checks every rule that matches the request's wallet and asset: the window's total
//! plus this request ("would be") must not exceed the limit, so a large amount split over several
//! requests is caught by the same window. A request counts on each asset what it can move of it
//! ([`crate::AssetLeg::total`]): its transfers plus, on the fee's asset, the max fee. The ledger's window figures for one hour and one day
//! are also shown to Cedar as `context.velocity`, so policies can require approvals on volume.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::amount::BaseUnits;
use crate::codec::{put_opt_str, put_str, put_u64};
use crate::engine::DenyReason;
use crate::error::LedgerError;
use crate::facts::AssetLeg;
use crate::request::{check_id, AssetKey, PolicyRequest, Resource};

/// Longest window a rule may have: 366 days.
pub const MAX_WINDOW_S: u64 = 366 * 86_400;

/// A limit over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VelocityLimit {
    /// At most this total in base units of the rule's asset.
    Amount(BaseUnits),
    /// At most this many requests.
    Count(u64),
}

/// What a velocity limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VelocityMetric {
    /// Total in base units.
    Amount,
    /// Number of requests.
    Count,
}

/// One rule: per wallet (every wallet separately, or one wallet) and one asset, at most `limit`
/// over any rolling window of `window_s` seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VelocityRule {
    /// Only this wallet; `None`: each wallet on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
    /// The asset (amounts are in its base units).
    pub asset: AssetKey,
    /// Window length, seconds (1 ..= [`MAX_WINDOW_S`]).
    pub window_s: u64,
    /// Limit.
    pub limit: VelocityLimit,
}

impl VelocityRule {
    pub(crate) fn check(&self, id: &str) -> Result<(), String> {
        check_id("velocity rule id", id).map_err(|e| e.to_string())?;
        if let Some(w) = &self.wallet {
            check_id("wallet", w).map_err(|e| e.to_string())?;
        }
        if self.window_s == 0 || self.window_s > MAX_WINDOW_S {
            return Err(format!(
                "velocity rule {id:?}: window_s must be 1..={MAX_WINDOW_S}"
            ));
        }
        Ok(())
    }

    /// Canonical bytes: `opt_str(wallet) || str(asset) || u64(window_s) || limit` with
    /// `limit = 0x01 || str(amount) | 0x02 || u64(count)`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_opt_str(out, self.wallet.as_deref());
        put_str(out, &self.asset.to_string());
        put_u64(out, self.window_s);
        match &self.limit {
            VelocityLimit::Amount(a) => {
                out.push(1);
                put_str(out, a.as_str());
            }
            VelocityLimit::Count(n) => {
                out.push(2);
                put_u64(out, *n);
            }
        }
    }

    /// Whether this rule counts `asset` moved out of `wallet`.
    pub fn applies(&self, wallet: &str, asset: &AssetKey) -> bool {
        self.asset == *asset && self.wallet.as_deref().is_none_or(|w| w == wallet)
    }
}

/// Count and total of a ledger window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowTotals {
    /// Requests recorded.
    pub count: u64,
    /// Their total, base units.
    pub sum: BaseUnits,
}

impl WindowTotals {
    /// An empty window.
    pub fn none() -> WindowTotals {
        WindowTotals {
            count: 0,
            sum: BaseUnits::zero(),
        }
    }
}

/// What a signer has signed, per wallet and asset. Implementations must be deterministic.
pub trait VelocityLedger {
    /// Records that `amount` of `asset` left `wallet` in a request signed at `at_unix`.
    fn record(
        &mut self,
        wallet: &str,
        asset: &AssetKey,
        amount: &BaseUnits,
        at_unix: u64,
    ) -> Result<(), LedgerError>;

    /// Count and sum of the entries of `wallet`/`asset` recorded at or after `since_unix`.
    fn totals_since(
        &self,
        wallet: &str,
        asset: &AssetKey,
        since_unix: u64,
    ) -> Result<WindowTotals, LedgerError>;
}

/// An in-memory [`VelocityLedger`] (the coordinator's early check, a signer's book of what it
/// has in flight, tests).
///
/// Entries of each wallet and asset are kept in time order, one per second (amounts recorded
/// in the same second are added up: a window is whole seconds), each with the count and sum of
/// every entry before it (a running prefix). A window's totals are then one binary search and
/// one subtraction, however long the history: summing the window entry by entry on every
/// evaluation made a coordinator's evaluation cost grow with every request it signed (the soak
/// run showed its throughput falling by half in six minutes), and one entry per request made
/// its memory grow with every request.
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    entries: BTreeMap<(String, AssetKey), VecDeque<Entry>>,
}

/// What was recorded in one second, with the running totals of the seconds before it.
#[derive(Debug, Clone)]
struct Entry {
    at: u64,
    count: u64,
    amount: BaseUnits,
    count_before: u64,
    sum_before: BaseUnits,
}

impl Entry {
    fn count_through(&self) -> u64 {
        self.count_before.saturating_add(self.count)
    }

    fn sum_through(&self) -> BaseUnits {
        self.sum_before.add(&self.amount)
    }
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops entries older than `before_unix` (no rule window reaches further back than
    /// [`MAX_WINDOW_S`], so `now - MAX_WINDOW_S` is always safe).
    pub fn prune_before(&mut self, before_unix: u64) {
        for v in self.entries.values_mut() {
            let old = v.partition_point(|e| e.at < before_unix);
            v.drain(..old);
        }
        self.entries.retain(|_, v| !v.is_empty());
    }

    /// Number of entries held (requests recorded in one second count once).
    pub fn len(&self) -> usize {
        self.entries.values().map(VecDeque::len).sum()
    }

    /// Whether the ledger is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl VelocityLedger for MemoryLedger {
    fn record(
        &mut self,
        wallet: &str,
        asset: &AssetKey,
        amount: &BaseUnits,
        at_unix: u64,
    ) -> Result<(), LedgerError> {
        let v = self
            .entries
            .entry((wallet.to_string(), asset.clone()))
            .or_default();
        let at = v.partition_point(|e| e.at < at_unix);
        match v.get_mut(at) {
            Some(same) if same.at == at_unix => {
                same.count = same.count.saturating_add(1);
                same.amount = same.amount.add(amount);
            }
            _ => {
                let (count_before, sum_before) = match at.checked_sub(1).and_then(|p| v.get(p)) {
                    Some(prev) => (prev.count_through(), prev.sum_through()),
                    None => v
                        .front()
                        .map(|e| (e.count_before, e.sum_before.clone()))
                        .unwrap_or((0, BaseUnits::zero())),
                };
                v.insert(
                    at,
                    Entry {
                        at: at_unix,
                        count: 1,
                        amount: amount.clone(),
                        count_before,
                        sum_before,
                    },
                );
            }
        }
        // A second older than the newest (a clock that went back) moves every later prefix.
        for e in v.iter_mut().skip(at + 1) {
            e.count_before = e.count_before.saturating_add(1);
            e.sum_before = e.sum_before.add(amount);
        }
        Ok(())
    }

    fn totals_since(
        &self,
        wallet: &str,
        asset: &AssetKey,
        since_unix: u64,
    ) -> Result<WindowTotals, LedgerError> {
        let v = match self.entries.get(&(wallet.to_string(), asset.clone())) {
            Some(v) => v,
            None => return Ok(WindowTotals::none()),
        };
        let first = v.partition_point(|e| e.at < since_unix);
        let (Some(from), Some(last)) = (v.get(first), v.back()) else {
            return Ok(WindowTotals::none());
        };
        let sum = last
            .sum_through()
            .checked_sub(&from.sum_before)
            .ok_or_else(|| LedgerError("velocity ledger prefix sums out of order".into()))?;
        Ok(WindowTotals {
            count: last.count_through() - from.count_before,
            sum,
        })
    }
}

/// Records every leg of `req` in `ledger` at `req.now_unix()`: what the request can move of
/// each asset, its transfers plus the max fee on the fee's asset (so a token transfer records
/// its gas on the native coin too). Call it only **after** the signature was actually produced
/// (and before releasing it), with the same request that was evaluated. `change_policy`
/// requests record nothing.
pub fn record_signed(
    req: &PolicyRequest,
    ledger: &mut dyn VelocityLedger,
) -> Result<(), LedgerError> {
    let Resource::Wallet(w) = req.resource() else {
        return Ok(());
    };
    for leg in req.legs() {
        ledger.record(w.id(), &leg.asset, &leg.total, req.now_unix())?;
    }
    Ok(())
}

/// Start of a rolling window of `window_s` seconds ending at `now` (inclusive).
pub(crate) fn window_start(now: u64, window_s: u64) -> u64 {
    now.saturating_add(1).saturating_sub(window_s)
}

/// The figures a window would have with this leg added.
pub(crate) fn would_be(
    ledger: &dyn VelocityLedger,
    wallet: &str,
    leg: &AssetLeg,
    now: u64,
    window_s: u64,
) -> Result<WindowTotals, LedgerError> {
    let t = ledger.totals_since(wallet, &leg.asset, window_start(now, window_s))?;
    Ok(WindowTotals {
        count: t.count.saturating_add(1),
        sum: t.sum.add(&leg.total),
    })
}

/// Every rule of `rules` the leg would break, as deny reasons (in rule id order).
pub(crate) fn check_rules(
    rules: &BTreeMap<String, VelocityRule>,
    ledger: &dyn VelocityLedger,
    wallet: &str,
    leg: &AssetLeg,
    now: u64,
) -> Result<Vec<DenyReason>, LedgerError> {
    let mut out = Vec::new();
    for (id, rule) in rules {
        if !rule.applies(wallet, &leg.asset) {
            continue;
        }
        let w = would_be(ledger, wallet, leg, now, rule.window_s)?;
        let exceeded = match &rule.limit {
            VelocityLimit::Amount(max) => {
                (w.sum > *max).then(|| (VelocityMetric::Amount, max.to_string(), w.sum.to_string()))
            }
            VelocityLimit::Count(max) => (w.count > *max)
                .then(|| (VelocityMetric::Count, max.to_string(), w.count.to_string())),
        };
        if let Some((metric, limit, would_be)) = exceeded {
            out.push(DenyReason::VelocityExceeded {
                rule: id.clone(),
                asset: leg.asset.to_string(),
                window_s: rule.window_s,
                metric,
                limit,
                would_be,
            });
        }
    }
    Ok(out)
}

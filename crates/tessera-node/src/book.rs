//! The velocity book: each wallet's velocity ledger decrypted once and summed by hour and by
//! second, so a policy evaluation costs what its windows span in buckets — at most 3,600
//! seconds plus the window's hours — not what the wallet signed in them.
//!
//! The soak found the cost this replaces: every signing evaluation read back and decrypted
//! every velocity entry of the wallet's longest window from the vault, so each signature cost
//! more than the one before (27 sig/s calibrated, 16 falling to 4 over ten minutes).
//!
//! The vault stays the record. The book of a wallet is loaded from it on first use, and again
//! whenever an evaluation reaches further back than the book holds (a longer window after a
//! policy update, a clock set back); the signer adds to it only what a committed vault
//! transaction wrote, under the reservation lock that every evaluation holds
//! (`Signer::write_velocity`). A restarted signer starts with an empty book and loads it from
//! the vault, so nothing recorded before a crash is missed. Entries older than the window the
//! signing path asks for are evicted a whole hour at a time.

use std::collections::{BTreeMap, HashMap};

use tessera_policy::{
    AssetKey, BaseUnits, LedgerError, MemoryLedger, VelocityLedger, WindowTotals,
};
use tessera_proto::link::{Failure, FailureKind};
use tessera_vault::{Vault, VelocityEntry};

use crate::signer::{failure, vault_failure};

const HOUR: u64 = 3_600;

/// The books of the wallets this signer evaluated since it started.
#[derive(Default)]
pub(crate) struct VelocityBook {
    wallets: HashMap<String, WalletBook>,
}

impl VelocityBook {
    /// Makes the book of `wallet_id` hold every vault entry recorded at or after `since`
    /// (loading it from `vault` when it does not reach back that far) and returns it.
    pub fn ensure(
        &mut self,
        vault: &Vault,
        wallet_id: &str,
        since: u64,
    ) -> Result<&WalletBook, Failure> {
        let loaded = self
            .wallets
            .get(wallet_id)
            .is_some_and(|b| b.covers_since <= since);
        if !loaded {
            let stored = vault
                .velocity_entries(wallet_id, since)
                .map_err(vault_failure)?;
            let mut book = WalletBook {
                covers_since: since,
                assets: BTreeMap::new(),
            };
            for e in &stored {
                book.add(e)?;
            }
            self.wallets.insert(wallet_id.to_string(), book);
        }
        Ok(&self.wallets[wallet_id])
    }

    /// Drops the whole hours of `wallet_id`'s book that end at or before `since` (what the
    /// signing path's window no longer reaches).
    pub fn evict_before(&mut self, wallet_id: &str, since: u64) {
        if let Some(book) = self.wallets.get_mut(wallet_id) {
            book.evict_before(since);
        }
    }

    /// Adds the entries a committed vault transaction newly wrote (entries of a request the
    /// vault already held are not new: pass only a first write). A wallet with no book yet
    /// is skipped: it is loaded from the vault, these entries included, on first use. A
    /// wallet whose entry does not parse loses its book, so the next evaluation reads the
    /// vault again (and fails there, closed) rather than count without it.
    pub fn recorded(&mut self, entries: &[VelocityEntry]) {
        for e in entries {
            let Some(book) = self.wallets.get_mut(&e.wallet_id) else {
                continue;
            };
            if e.at_unix >= book.covers_since && book.add(e).is_err() {
                self.wallets.remove(&e.wallet_id);
            }
        }
    }
}

/// One wallet's entries at or after `covers_since`, per asset.
pub(crate) struct WalletBook {
    covers_since: u64,
    assets: BTreeMap<AssetKey, Series>,
}

impl WalletBook {
    fn add(&mut self, e: &VelocityEntry) -> Result<(), Failure> {
        let (asset, amount) = parse(e)?;
        self.assets
            .entry(asset)
            .or_default()
            .add(e.at_unix, &amount);
        Ok(())
    }

    fn evict_before(&mut self, since: u64) {
        let first_kept = since / HOUR;
        if first_kept * HOUR <= self.covers_since {
            return;
        }
        for series in self.assets.values_mut() {
            series.hours = series.hours.split_off(&first_kept);
            series.seconds = series.seconds.split_off(&(first_kept * HOUR));
        }
        self.assets
            .retain(|_, s| !(s.hours.is_empty() && s.seconds.is_empty()));
        self.covers_since = first_kept * HOUR;
    }

    /// Count and sum of `asset`'s entries at or after `since`; refused when the book does
    /// not reach back that far ([`VelocityBook::ensure`] first), so a window it cannot see is
    /// never counted as empty.
    pub fn totals_since(&self, asset: &AssetKey, since: u64) -> Result<WindowTotals, LedgerError> {
        if since < self.covers_since {
            return Err(LedgerError(format!(
                "the velocity book holds entries from {} on, not from {since}",
                self.covers_since
            )));
        }
        Ok(self
            .assets
            .get(asset)
            .map_or_else(Bucket::default, |s| s.totals_since(since))
            .into_totals())
    }
}

/// One asset's entries: the count and sum of each second that has any, and of each hour.
#[derive(Default)]
struct Series {
    hours: BTreeMap<u64, Bucket>,
    seconds: BTreeMap<u64, Bucket>,
}

impl Series {
    fn add(&mut self, at: u64, amount: &BaseUnits) {
        self.hours.entry(at / HOUR).or_default().add(1, amount);
        self.seconds.entry(at).or_default().add(1, amount);
    }

    /// The whole hours from the first that starts at or after `since`, then the seconds of
    /// the hour `since` falls in, from `since` on.
    fn totals_since(&self, since: u64) -> Bucket {
        let first_whole = since.div_ceil(HOUR);
        let mut total = Bucket::default();
        for b in self.hours.range(first_whole..).map(|(_, b)| b) {
            total.add(b.count, &b.sum);
        }
        let end = first_whole.saturating_mul(HOUR);
        for b in self.seconds.range(since..end).map(|(_, b)| b) {
            total.add(b.count, &b.sum);
        }
        total
    }
}

#[derive(Clone)]
struct Bucket {
    count: u64,
    sum: BaseUnits,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            count: 0,
            sum: BaseUnits::zero(),
        }
    }
}

impl Bucket {
    fn add(&mut self, count: u64, amount: &BaseUnits) {
        self.count = self.count.saturating_add(count);
        self.sum = self.sum.add(amount);
    }

    fn into_totals(self) -> WindowTotals {
        WindowTotals {
            count: self.count,
            sum: self.sum,
        }
    }
}

/// What an evaluation of one wallet counts: the wallet's book, plus the entries of requests in
/// flight here that the vault does not hold yet, minus the entries of the evaluated request
/// itself that the vault holds (an earlier message of it wrote them; a request never counts
/// against itself).
pub(crate) struct LedgerView<'a> {
    pub wallet_id: &'a str,
    pub book: &'a WalletBook,
    pub in_flight: MemoryLedger,
    pub own: MemoryLedger,
}

impl VelocityLedger for LedgerView<'_> {
    fn record(
        &mut self,
        _wallet: &str,
        _asset: &AssetKey,
        _amount: &BaseUnits,
        _at_unix: u64,
    ) -> Result<(), LedgerError> {
        Err(LedgerError(
            "an evaluation's ledger view is read only".into(),
        ))
    }

    fn totals_since(
        &self,
        wallet: &str,
        asset: &AssetKey,
        since_unix: u64,
    ) -> Result<WindowTotals, LedgerError> {
        let mut totals = self.in_flight.totals_since(wallet, asset, since_unix)?;
        if wallet != self.wallet_id {
            return Ok(totals);
        }
        let kept = self.book.totals_since(asset, since_unix)?;
        let own = self.own.totals_since(wallet, asset, since_unix)?;
        let inconsistent = || {
            LedgerError(format!(
                "the velocity book of `{wallet}` holds less than the request's own entries"
            ))
        };
        totals.count = totals
            .count
            .saturating_add(kept.count.checked_sub(own.count).ok_or_else(inconsistent)?);
        totals.sum = totals
            .sum
            .add(&kept.sum.checked_sub(&own.sum).ok_or_else(inconsistent)?);
        Ok(totals)
    }
}

/// Adds a vault entry to an in-memory ledger (a `Storage` failure if it does not parse).
pub(crate) fn add_entry(ledger: &mut MemoryLedger, e: &VelocityEntry) -> Result<(), Failure> {
    let (asset, amount) = parse(e)?;
    ledger
        .record(&e.wallet_id, &asset, &amount, e.at_unix)
        .map_err(|_| corrupt(e))
}

fn parse(e: &VelocityEntry) -> Result<(AssetKey, BaseUnits), Failure> {
    let asset: AssetKey = e.asset.parse().map_err(|_| corrupt(e))?;
    let amount = BaseUnits::parse(&e.amount).ok_or_else(|| corrupt(e))?;
    Ok((asset, amount))
}

fn corrupt(e: &VelocityEntry) -> Failure {
    failure(
        FailureKind::Storage,
        &format!(
            "velocity ledger entry of request `{}` does not parse",
            e.request_id
        ),
    )
}

#[cfg(test)]
mod tests;

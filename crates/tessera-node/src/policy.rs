//! The signer's copy of the policy: the accepted bundle (compiled once), the accepted mode
//! change, the velocity ledger view over the vault, and how a policy answer becomes a typed
//! refusal.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tessera_audit::RefusalReason;
use tessera_policy::{
    fresh_since, ApprovalError, AssetKey, BaseUnits, Decision, DenyReason, Engine, Freshness,
    LedgerError, MemoryLedger, ModeChange, SignedBundle, VelocityLedger, WindowTotals,
};
use tessera_proto::link::{Failure, FailureKind};
use tessera_vault::{Vault, VelocityEntry};

use crate::book::{add_entry, VelocityBook};

use crate::signer::{failure, lock, vault_failure};

// The vault keeps velocity entries at least as long as the longest window a rule may have.
const _: () = assert!(tessera_vault::VELOCITY_RETENTION_SECS >= tessera_policy::MAX_WINDOW_S);

/// An accepted bundle and its compiled engine.
pub(crate) struct Installed {
    /// The bundle with the admin signatures it was accepted with (the authority for the next
    /// update).
    pub signed: SignedBundle,
    /// Compiled once per bundle.
    pub engine: Engine,
}

impl Installed {
    pub fn version(&self) -> u64 {
        self.signed.bundle.version
    }
}

/// What a signer evaluates with; replaced as a whole when a bundle or mode change is accepted.
#[derive(Default, Clone)]
pub(crate) struct PolicyState {
    /// `None` until the first bundle is accepted: such a signer signs nothing.
    pub bundle: Option<Arc<Installed>>,
    /// The last accepted mode change (in force until it expires).
    pub mode: Option<ModeChange>,
    /// The last accepted admin-signed freshness statement.
    pub freshness: Option<Freshness>,
}

impl PolicyState {
    /// Since when the admins are known to stand by the bundle and mode change in force
    /// (`tessera_policy::fresh_since`); 0 without a bundle.
    pub fn fresh_since(&self) -> u64 {
        self.bundle.as_ref().map_or(0, |b| {
            fresh_since(
                &b.signed.bundle,
                self.mode.as_ref(),
                self.freshness.as_ref(),
            )
        })
    }

    /// Fail-closed freshness (module docs of `tessera_policy::freshness`): with a maximum age,
    /// a policy the admins have not confirmed for longer refuses everything (`StalePolicy`).
    pub fn check_fresh(&self, max_age_secs: Option<u64>, now_unix: u64) -> Result<(), Failure> {
        let Some(max) = max_age_secs else {
            return Ok(());
        };
        let since = self.fresh_since();
        let age = now_unix.saturating_sub(since);
        if age <= max {
            return Ok(());
        }
        let version = self.bundle.as_ref().map_or(0, |b| b.version());
        Err(failure(
            FailureKind::StalePolicy,
            &format!(
                "policy version {version} was last confirmed by the admins {age} s ago (at {since}); \
                 this signer signs nothing on a policy older than {max} s until an admin-signed \
                 refresh (`tessera policy refresh`) or a newer bundle arrives"
            ),
        ))
    }
}

/// A request as the velocity ledger knows it: its id and the intent hash it was authorized for.
/// The messages of one request share it and count once.
pub(crate) type RequestKey = (String, [u8; 32]);

/// Velocity of requests authorized here whose signature is not recorded in the vault yet
/// (sessions in flight). Counted by every evaluation, so two requests started concurrently
/// cannot each pass a limit they break together.
#[derive(Default)]
pub(crate) struct Reservations {
    by_request: HashMap<RequestKey, (usize, Vec<VelocityEntry>)>,
    /// What the vault holds, summed (see [`crate::book`]); behind the same lock, so an
    /// evaluation and the write that adds to it never interleave.
    pub book: VelocityBook,
}

impl Reservations {
    /// The entries for `wallet_id` of requests in flight here (other than `own`) that the
    /// vault does not hold yet: what an evaluation adds to the book.
    pub fn in_flight(
        &self,
        vault: &Vault,
        wallet_id: &str,
        own: Option<&RequestKey>,
    ) -> Result<MemoryLedger, Failure> {
        let mut ledger = MemoryLedger::new();
        for (key, (_, entries)) in &self.by_request {
            let mine: Vec<&VelocityEntry> = entries
                .iter()
                .filter(|e| e.wallet_id == wallet_id)
                .collect();
            if Some(key) == own || mine.is_empty() {
                continue;
            }
            let stored = vault
                .request_velocity(&key.0, &key.1)
                .map_err(vault_failure)?;
            if stored.is_empty() {
                for e in mine {
                    add_entry(&mut ledger, e)?;
                }
            }
        }
        Ok(ledger)
    }

    /// Whether a request other than `key` is in flight here moving one of `assets` (those a
    /// velocity rule counts) out of `wallet_id`. Under velocity rules a signer admits one
    /// such request per wallet and asset at a time: with requests in flight at once
    /// on rotating signer sets, each set's exchange can miss another's request (A seen by C,
    /// C by B, B by A: each within the limit, the three beyond it — found by the cluster
    /// simulation, seed 10417). One at a time, every pair of requests that share a signer is
    /// ordered there and the later one counts the earlier, recorded before its release.
    pub fn busy_with_another(&self, wallet_id: &str, key: &RequestKey, assets: &[String]) -> bool {
        self.by_request.iter().any(|(k, (_, entries))| {
            k != key
                && entries
                    .iter()
                    .any(|e| e.wallet_id == wallet_id && assets.contains(&e.asset))
        })
    }

    /// Adds a hold for `key` (several sessions of one request share one).
    pub fn reserve(
        table: &Arc<Mutex<Reservations>>,
        this: &mut Reservations,
        key: RequestKey,
        entries: Vec<VelocityEntry>,
    ) -> Reservation {
        let e = this
            .by_request
            .entry(key.clone())
            .or_insert_with(|| (0, entries));
        e.0 += 1;
        Reservation {
            table: table.clone(),
            key,
        }
    }
}

/// A hold on a request's velocity; released when the session ends (by then the vault has the
/// entries if the signature was released).
pub(crate) struct Reservation {
    table: Arc<Mutex<Reservations>>,
    key: RequestKey,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut t = lock(&self.table);
        if let Some(e) = t.by_request.get_mut(&self.key) {
            e.0 = e.0.saturating_sub(1);
            if e.0 == 0 {
                t.by_request.remove(&self.key);
            }
        }
    }
}

/// The ledger an evaluation sees: the vault's entries of `wallet_id` (read by the caller)
/// plus the reservations of requests in flight, without the entries of `own` (the request being
/// evaluated: its other messages must not count it twice) and without counting a request both
/// as stored and as reserved.
pub(crate) fn ledger_view(
    stored: Vec<VelocityEntry>,
    reservations: &Reservations,
    wallet_id: &str,
    own: Option<&RequestKey>,
) -> Result<MemoryLedger, Failure> {
    let mut ledger = MemoryLedger::new();
    let mut recorded: HashSet<RequestKey> = HashSet::new();
    for e in stored {
        let key = (e.request_id.clone(), e.intent_hash);
        if Some(&key) == own {
            continue;
        }
        add_entry(&mut ledger, &e)?;
        recorded.insert(key);
    }
    for (key, (_, entries)) in &reservations.by_request {
        if Some(key) == own || recorded.contains(key) {
            continue;
        }
        for e in entries.iter().filter(|e| e.wallet_id == wallet_id) {
            add_entry(&mut ledger, e)?;
        }
    }
    Ok(ledger)
}

/// Every entry an evaluation of `wallet_id` counts: the vault's (`stored`) and those of
/// requests in flight here, a request stored and in flight counted once. What this signer tells
/// its co-signers in the velocity exchange (`crate::exchange`).
pub(crate) fn counted_entries(
    stored: Vec<VelocityEntry>,
    reservations: &Reservations,
    wallet_id: &str,
) -> Vec<VelocityEntry> {
    let recorded: HashSet<RequestKey> = stored
        .iter()
        .map(|e| (e.request_id.clone(), e.intent_hash))
        .collect();
    let mut out = stored;
    for (key, (_, entries)) in &reservations.by_request {
        if !recorded.contains(key) {
            out.extend(entries.iter().filter(|e| e.wallet_id == wallet_id).cloned());
        }
    }
    out
}

/// The union of several signers' entries with each (request, intent hash, asset) once: the
/// same request reported by every co-signer that signed it counts once.
pub(crate) fn dedup_entries(entries: Vec<VelocityEntry>) -> Vec<VelocityEntry> {
    let mut seen: HashSet<(String, [u8; 32], String)> = HashSet::new();
    entries
        .into_iter()
        .filter(|e| seen.insert((e.request_id.clone(), e.intent_hash, e.asset.clone())))
        .collect()
}

/// Collects what `tessera_policy::record_signed` records for a request, as vault entries.
pub(crate) struct Collect {
    pub key: RequestKey,
    pub entries: Vec<VelocityEntry>,
}

impl VelocityLedger for Collect {
    fn record(
        &mut self,
        wallet: &str,
        asset: &AssetKey,
        amount: &BaseUnits,
        at_unix: u64,
    ) -> Result<(), LedgerError> {
        self.entries.push(VelocityEntry {
            request_id: self.key.0.clone(),
            intent_hash: self.key.1,
            wallet_id: wallet.to_string(),
            asset: asset.to_string(),
            amount: amount.as_str().to_string(),
            at_unix,
        });
        Ok(())
    }

    fn totals_since(
        &self,
        _wallet: &str,
        _asset: &AssetKey,
        _since_unix: u64,
    ) -> Result<WindowTotals, LedgerError> {
        Err(LedgerError("a collector is written, never read".into()))
    }
}

/// A refusal: the failure the coordinator gets and the reason the audit log records.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub failure: Failure,
    pub reason: RefusalReason,
}

impl Refusal {
    pub fn new(kind: FailureKind, reason: RefusalReason, message: &str) -> Refusal {
        Refusal {
            failure: failure(kind, message),
            reason,
        }
    }
}

impl From<Failure> for Refusal {
    fn from(failure: Failure) -> Refusal {
        let reason = default_reason(failure.kind);
        Refusal { failure, reason }
    }
}

/// The audit reason of a refusal of `kind` (where no more precise one is known).
pub(crate) fn default_reason(kind: FailureKind) -> RefusalReason {
    kind.refusal_reason()
}

/// A deny decision as a refusal: any velocity breach → `VelocityExceeded`; lockdown →
/// `ModeRestricted`; anything else → `PolicyDenied` (a raw digest audited as such). The message
/// lists every reason and the deciding policy ids.
pub(crate) fn deny_refusal(decision: &Decision) -> Refusal {
    let reasons = decision.reasons();
    let ids = decision.policy_ids();
    let message = format!(
        "policy denies: {} (policies: {})",
        reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        if ids.is_empty() {
            "none".to_string()
        } else {
            ids.join(", ")
        }
    );
    let any = |f: fn(&DenyReason) -> bool| reasons.iter().any(f);
    let (kind, reason) = if any(|r| matches!(r, DenyReason::VelocityExceeded { .. })) {
        (FailureKind::VelocityExceeded, RefusalReason::VelocityLimit)
    } else if any(|r| matches!(r, DenyReason::Lockdown)) {
        (FailureKind::ModeRestricted, RefusalReason::ModeRestricted)
    } else if any(|r| matches!(r, DenyReason::RawDigestNotPermitted)) {
        (FailureKind::PolicyDenied, RefusalReason::RawDigestDenied)
    } else {
        (FailureKind::PolicyDenied, RefusalReason::PolicyDenied)
    };
    Refusal::new(kind, reason, &message)
}

/// A failed quorum check as a refusal: an expired approval → `Expired`; one for another policy
/// version → `StalePolicy`; anything else → `ApprovalsInvalid`.
pub(crate) fn approval_refusal(e: &ApprovalError) -> Refusal {
    let (kind, reason) = match e {
        ApprovalError::Expired { .. } => (FailureKind::Expired, RefusalReason::Expired),
        ApprovalError::WrongPolicyVersion { .. } => {
            (FailureKind::StalePolicy, RefusalReason::StalePolicy)
        }
        ApprovalError::QuorumNotMet { .. } => (
            FailureKind::ApprovalsInvalid,
            RefusalReason::InsufficientApprovals,
        ),
        ApprovalError::Rejected { .. } => (
            FailureKind::ApprovalsInvalid,
            RefusalReason::Other("approval_rejected".into()),
        ),
        _ => (
            FailureKind::ApprovalsInvalid,
            RefusalReason::InvalidApproval,
        ),
    };
    Refusal::new(kind, reason, &format!("approvals: {e}"))
}

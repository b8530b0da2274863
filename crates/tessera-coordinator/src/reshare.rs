//! Reshares of a wallet's key — a proactive refresh, a replaced signer, a new threshold and
//! signer set — orchestrated in two phases (the signer side is `tessera-node`'s
//! `signer/epochs.rs`):
//!
//! 1. **Prepare.** One `Job::Reshare` session among the new holders. Each stores its new share
//!    as a prepared epoch and answers with its attestation of the wallet at that epoch.
//! 2. **Commit.** Only once *every* new holder attested: the decision and the attestations are
//!    stored first (`pending-epoch:<wallet>`), then a `Job::Epoch` commit goes to every new
//!    holder, which commits only with all the attestations and only the share the named
//!    reshare session prepared. When all answered, the wallet record takes the new signers,
//!    threshold, epoch and attestations, and its presignature pool is emptied (the signers
//!    destroyed theirs). A holder that is offline is retried until it commits, also after a
//!    coordinator restart, so the holders never stay split between epochs.
//!
//! A failed prepare sends a discard; holders that miss it keep a prepared share that nothing
//! signs with, and the next authorized reshare supersedes it. Signing goes on during a
//! reshare with the current epoch.

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_policy::PolicyAction;
use tessera_proto::api::{ReshareWallet, SessionInfo, SessionKind, SessionStatus, WalletInfo};
use tessera_proto::attestation::{WalletAttestation, WalletStatement};
use tessera_proto::link::{EpochDecision, Job, Member, Outcome, ReshareJob};
use tessera_proto::states::ErrorCode;
use tessera_wire::{Action, Authorization, NodeId};

use crate::coordinator::{lock, AttemptError, CoordError, Coordinator};

/// How often an unfinished commit is tried again.
const COMMIT_RETRY: Duration = Duration::from_secs(2);

/// A decided commit, stored before it is sent.
#[derive(Serialize, Deserialize)]
struct PendingEpoch {
    /// The wallet as it is once committed.
    wallet: WalletInfo,
    /// The reshare session whose prepared shares are committed (hex).
    session: String,
    /// The reshare's authorization, for the holders it leaves out (`leave.rs`).
    #[serde(default)]
    authorization: Option<Authorization>,
    /// The holders before the reshare.
    #[serde(default)]
    former: Vec<NodeId>,
}

fn pending_key(wallet_id: &str) -> String {
    format!("pending-epoch:{wallet_id}")
}

impl Coordinator {
    /// Checks a reshare request and starts it; returns its session record at once.
    pub fn reshare_wallet(
        &self,
        wallet_id: &str,
        req: ReshareWallet,
    ) -> Result<SessionInfo, CoordError> {
        let wallet = self.ready_wallet(wallet_id)?;
        let next = self.check_reshare(&wallet, &req)?;
        self.refuse_quarantined_holders(&req.signers)?;
        let roster = self.members(&req.signers)?;
        self.admit_key_operation(
            &req.authorization,
            wallet_id,
            PolicyAction::ReshareWallet,
            &req.approvals,
        )?;
        if let Some(missing) = req.signers.iter().find(|s| !self.inner.hub.is_connected(s)) {
            return Err(CoordError::Unavailable(format!(
                "a reshare needs every new holder online; {missing} is not connected"
            )));
        }
        let job = Job::Reshare(ReshareJob {
            scheme: wallet.scheme,
            threshold: req.threshold,
            epoch: next.epoch,
            old_threshold: wallet.threshold,
            dealers: req.dealers,
            public_key: wallet.public_key.clone().ok_or_else(|| {
                CoordError::NotReady(format!("wallet {wallet_id} has no key yet"))
            })?,
            chain_code: self.wallet_chain_code(&wallet)?,
            networks: wallet.networks.clone(),
            authorization: req.authorization,
            approvals: req.approvals,
        });
        if self.pending(wallet_id)?.is_some()
            || !lock(&self.inner.resharing).insert(wallet_id.to_string())
        {
            return Err(CoordError::Conflict(format!(
                "a reshare of wallet {wallet_id} is still running"
            )));
        }
        let session = self.random_id();
        let record = self.reshare_record(&next, &job, session);
        if let Err(e) = self.inner.store.put_session(&record) {
            lock(&self.inner.resharing).remove(wallet_id);
            return Err(e.into());
        }
        self.waiter(&record.session_id);
        let me = self.clone();
        let out = record.clone();
        tokio::spawn(async move { me.run_reshare(next, roster, session, job, record).await });
        Ok(out)
    }

    /// The session record of a reshare that starts now.
    fn reshare_record(&self, next: &WalletInfo, job: &Job, session: [u8; 32]) -> SessionInfo {
        let request_id = match job {
            Job::Reshare(j) => Some(j.authorization.request_id.clone()),
            _ => None,
        };
        SessionInfo {
            session_id: hex::encode(session),
            kind: SessionKind::Reshare,
            wallet_id: next.wallet_id.clone(),
            request_id,
            status: SessionStatus::Running,
            participants: next.signers.clone(),
            attempts: 1,
            path: None,
            sign_path: None,
            signature: None,
            public_key: next.public_key.clone(),
            error: None,
            created_at_ms: self.inner.clock.now_ms(),
            finished_at_ms: None,
        }
    }

    /// The wallet as the request makes it: the request's signers, threshold and dealers
    /// checked against the current record and bound by the authorization.
    fn check_reshare(
        &self,
        wallet: &WalletInfo,
        req: &ReshareWallet,
    ) -> Result<WalletInfo, CoordError> {
        let invalid = |m: String| Err(CoordError::Invalid(m));
        let n = u16::try_from(req.signers.len())
            .map_err(|_| CoordError::Invalid("too many signers".into()))?;
        tessera_crypto::ThresholdParams::new(req.threshold, n)
            .map_err(|e| CoordError::Invalid(format!("threshold: {e}")))?;
        let mut seen = HashSet::new();
        if !req.signers.iter().all(|s| seen.insert(*s)) {
            return invalid("a signer is listed twice".into());
        }
        if req.dealers.len() < usize::from(wallet.threshold) {
            return invalid(format!(
                "a reshare needs at least {} dealers (the current threshold)",
                wallet.threshold
            ));
        }
        let (mut new_seen, mut old_seen) = (HashSet::new(), HashSet::new());
        for &(new, old) in &req.dealers {
            let same_node = match (
                req.signers.get(usize::from(new)),
                wallet.signers.get(usize::from(old)),
            ) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            };
            if !same_node || !new_seen.insert(new) || !old_seen.insert(old) {
                return invalid(format!(
                    "dealer ({new}, {old}) is not one current holder kept in the new set"
                ));
            }
        }
        let epoch = wallet
            .epoch
            .checked_add(1)
            .ok_or_else(|| CoordError::Invalid("the wallet's epoch is exhausted".into()))?;
        let expected = Action::Reshare {
            wallet_id: wallet.wallet_id.clone(),
            epoch,
            threshold: req.threshold,
            signers: req.signers.clone(),
            dealers: req.dealers.clone(),
        };
        if req.authorization.action != expected {
            return invalid("the authorization does not match this reshare (or its epoch)".into());
        }
        Ok(WalletInfo {
            signers: req.signers.clone(),
            threshold: req.threshold,
            epoch,
            attestations: Vec::new(),
            ..wallet.clone()
        })
    }

    fn wallet_chain_code(&self, wallet: &WalletInfo) -> Result<[u8; 32], CoordError> {
        wallet
            .chain_code
            .as_deref()
            .and_then(|c| hex::decode(c).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| CoordError::NotReady("the wallet has no chain code".into()))
    }

    async fn run_reshare(
        &self,
        next: WalletInfo,
        roster: Vec<Member>,
        session: [u8; 32],
        job: Job,
        mut record: SessionInfo,
    ) {
        let all: Vec<u16> = roster.iter().map(|m| m.index).collect();
        let timeout = self.inner.config.keygen_timeout;
        // The holders before the reshare, and its authorization: for those it leaves out.
        let former = match self.inner.store.wallet(&next.wallet_id) {
            Ok(Some(current)) => current.signers,
            _ => Vec::new(),
        };
        let authorization = match &job {
            Job::Reshare(j) => Some(j.authorization.clone()),
            _ => None,
        };
        let prepared = self
            .run_session(session, &next, &roster, &all, job, timeout)
            .await
            .and_then(|outcomes| attestations(&next, &outcomes));
        let result = match prepared {
            Ok(attestations) => {
                let pending = PendingEpoch {
                    wallet: WalletInfo {
                        attestations,
                        ..next.clone()
                    },
                    session: hex::encode(session),
                    authorization,
                    former,
                };
                self.commit(pending, &roster).await
            }
            Err(e) => {
                self.discard(&next, &roster, session).await;
                Err(e)
            }
        };
        match result {
            Ok(()) => record.status = SessionStatus::Done,
            Err(e) => {
                tracing::warn!(wallet = %next.wallet_id, code = %e.code, "reshare failed: {}", e.message);
                record.status = SessionStatus::Failed;
                record.error = Some(crate::coordinator::session_error(&e));
            }
        }
        record.finished_at_ms = Some(self.inner.clock.now_ms());
        lock(&self.inner.resharing).remove(&next.wallet_id);
        self.finish(&record);
    }

    /// Stores the decision, then commits at every new holder, retrying until all did.
    async fn commit(&self, pending: PendingEpoch, roster: &[Member]) -> Result<(), AttemptError> {
        let key = pending_key(&pending.wallet.wallet_id);
        let json = serde_json::to_string(&pending)
            .map_err(|e| crate::coordinator::internal_attempt(e.to_string()))?;
        self.inner
            .store
            .put_setting(&key, &json)
            .map_err(|e| crate::coordinator::internal_attempt(e.to_string()))?;
        loop {
            match self.send_commit(&pending, roster).await {
                Ok(()) => {
                    self.committed(&pending.wallet)?;
                    if let Some(authorization) = &pending.authorization {
                        self.notify_leavers(&pending.wallet, authorization, &pending.former);
                    }
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(wallet = %pending.wallet.wallet_id, "epoch commit incomplete, retrying: {}", e.message);
                    tokio::time::sleep(COMMIT_RETRY).await;
                }
            }
        }
    }

    async fn send_commit(
        &self,
        pending: &PendingEpoch,
        roster: &[Member],
    ) -> Result<(), AttemptError> {
        let session = parse_session(&pending.session)?;
        let job = Job::Epoch {
            epoch: pending.wallet.epoch,
            session,
            decision: EpochDecision::Commit {
                attestations: pending.wallet.attestations.clone(),
            },
        };
        let all: Vec<u16> = roster.iter().map(|m| m.index).collect();
        let timeout = self.inner.config.sign_timeout;
        let outcomes = self
            .run_session(
                self.random_id(),
                &pending.wallet,
                roster,
                &all,
                job,
                timeout,
            )
            .await?;
        if outcomes.len() == all.len()
            && outcomes.iter().all(|(_, o)| {
                matches!(
                    o,
                    Outcome::Epoch {
                        committed: true,
                        ..
                    }
                )
            })
        {
            Ok(())
        } else {
            Err(crate::coordinator::internal_attempt(
                "a holder did not commit the epoch".into(),
            ))
        }
    }

    /// Every holder committed: the wallet record moves to the new epoch.
    fn committed(&self, wallet: &WalletInfo) -> Result<(), AttemptError> {
        let store = &self.inner.store;
        let fail =
            |e: crate::store::StoreError| crate::coordinator::internal_attempt(e.to_string());
        let cleared = {
            let _epoch = lock(&self.inner.epoch_change);
            store.update_wallet(wallet).map_err(fail)?;
            store.pool_clear(&wallet.wallet_id).map_err(fail)?
        };
        store
            .put_setting(&pending_key(&wallet.wallet_id), "")
            .map_err(fail)?;
        tracing::info!(wallet = %wallet.wallet_id, epoch = wallet.epoch, threshold = wallet.threshold, signers = wallet.signers.len(), cleared_presignatures = cleared, "wallet reshared");
        self.audit_reshare(wallet);
        self.ensure_refill(wallet);
        Ok(())
    }

    /// Best effort: holders that miss it keep a prepared share nothing signs with.
    async fn discard(&self, next: &WalletInfo, roster: &[Member], session: [u8; 32]) {
        let online: Vec<u16> = roster
            .iter()
            .filter(|m| self.inner.hub.is_connected(&m.identity.node_id()))
            .map(|m| m.index)
            .collect();
        let job = Job::Epoch {
            epoch: next.epoch,
            session,
            decision: EpochDecision::Discard,
        };
        let timeout = self.inner.config.sign_timeout;
        if let Err(e) = self
            .run_session(self.random_id(), next, roster, &online, job, timeout)
            .await
        {
            tracing::warn!(wallet = %next.wallet_id, "discarding a failed reshare's prepared shares: {}", e.message);
        }
    }

    /// The epoch a decided reshare of the wallet is still committing, if any.
    pub(crate) fn committing_epoch(&self, wallet_id: &str) -> Result<Option<u32>, CoordError> {
        Ok(self.pending(wallet_id)?.map(|p| p.wallet.epoch))
    }

    fn pending(&self, wallet_id: &str) -> Result<Option<PendingEpoch>, CoordError> {
        match self.inner.store.setting(&pending_key(wallet_id))? {
            Some(json) if !json.is_empty() => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| CoordError::NotReady(format!("pending epoch record unreadable: {e}"))),
            _ => Ok(None),
        }
    }

    /// After a restart: finishes every decided commit (in the background, until it is done).
    pub(crate) fn resume_commits(&self) -> Result<(), CoordError> {
        for wallet in self.inner.store.wallets()? {
            let Some(pending) = self.pending(&wallet.wallet_id)? else {
                continue;
            };
            let roster = self.members(&pending.wallet.signers)?;
            lock(&self.inner.resharing).insert(wallet.wallet_id.clone());
            let me = self.clone();
            tokio::spawn(async move {
                let id = pending.wallet.wallet_id.clone();
                if let Err(e) = me.commit(pending, &roster).await {
                    tracing::error!(wallet = %id, "could not finish an epoch commit: {}", e.message);
                }
                lock(&me.inner.resharing).remove(&id);
            });
        }
        Ok(())
    }

    fn audit_reshare(&self, wallet: &WalletInfo) {
        let body = serde_json::json!({
            "epoch": wallet.epoch,
            "threshold": wallet.threshold,
            "signers": wallet.signers.iter().map(|n| hex::encode(n.0)).collect::<Vec<_>>(),
            "public_key": wallet.public_key.as_ref().map(|k| k.to_hex()),
        });
        // The epoch is committed at every holder: a failed append is logged, not fatal.
        if let Err(e) = self.record_audit(
            self.actor(),
            tessera_audit::EntryKind::EpochCommitted,
            &wallet.wallet_id,
            body,
        ) {
            tracing::error!(wallet = %wallet.wallet_id, error = %e, "could not audit a reshare");
        }
    }
}

/// Every new holder's attestation of the wallet at the new epoch; all are required.
fn attestations(
    next: &WalletInfo,
    outcomes: &[(u16, Outcome)],
) -> Result<Vec<WalletAttestation>, AttemptError> {
    let statement = WalletStatement::of_wallet(next)
        .ok()
        .flatten()
        .ok_or_else(|| {
            crate::coordinator::internal_attempt("no statement for the wallet".into())
        })?;
    let mut out = Vec::new();
    for (index, o) in outcomes {
        let sender = next.signers.get(usize::from(*index));
        match o {
            Outcome::Reshare { attestation }
                if sender == Some(&attestation.node_id)
                    && attestation.verify(&statement).is_ok() =>
            {
                out.push(attestation.clone());
            }
            _ => {
                return Err(AttemptError {
                    code: ErrorCode::ProtocolAbort,
                    message: format!("holder {index} did not attest the reshared wallet"),
                    culprits: sender.copied().into_iter().collect(),
                    failed: Vec::new(),
                    fatal: true,
                    refusal: None,
                    released: Box::default(),
                })
            }
        }
    }
    if out.len() != next.signers.len() {
        return Err(crate::coordinator::internal_attempt(
            "not every new holder answered the reshare".into(),
        ));
    }
    Ok(out)
}

fn parse_session(hex_id: &str) -> Result<[u8; 32], AttemptError> {
    hex::decode(hex_id)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| crate::coordinator::internal_attempt("pending session id".into()))
}

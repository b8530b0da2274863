//! The signing-request lifecycle: `received → policy → awaiting_approvals → approved →
//! signing → signed | rejected | expired | failed`.
//!
//! - **Policy.** The coordinator evaluates every request with its own copy of the policy
//!   bundle ([`tessera_policy::signing_request`], the same construction every signer uses) and
//!   a velocity ledger of what it saw signed (rebuilt from the store at start). This gives early,
//!   clear answers; every signer evaluates again on its own and is the authority.
//! - **Approvals.** A request that needs approvals waits for them; each one is checked (its
//!   signature, request, intent hash, policy version, expiry, and that the approver holds a role
//!   the quorum needs) before it is stored. A valid rejection rejects the request; a met quorum
//!   starts signing. Expired requests are swept every second.
//! - **Audit.** Every decision, approval, rejection, refusal, signature, policy and mode change
//!   and expiry is appended to the coordinator's hash-chained [`AuditLog`] (subject: the request
//!   id, the signers' convention too). An append that fails refuses the action (fail closed)
//!   before any signing starts.
//! - **Distribution.** Policy bundles and mode changes are checked, stored, audited and pushed
//!   to every linked signer, and again to each signer when it (re)connects. Signers decide for
//!   themselves whether to accept them.
//! - **Events.** Every state change is broadcast as a [`RequestEvent`] (`GET /v1/events`).

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};
use tessera_audit::{AuditError, AuditLog, EntryKind, RefusalReason};
use tessera_chains::{Intent, WalletKey};
use tessera_crypto::{PublicKey as WalletPublicKey, SignMessage};
use tessera_policy::{
    accept_freshness, accept_mode, accept_update, check_quorum, mode_in_force, signing_request,
    Approval, ApprovalDecision, AssetKey, BaseUnits, Decision, DenyReason, Engine, Freshness, Mode,
    ModeChange, PublicKey, Quorum, SignedBundle, VelocityLedger, MAX_WINDOW_S,
};
use tessera_proto::api::{
    PolicyInfo, PolicyOutcome, QuorumNeed, RequestEvent, RequestInfo, RequestMessage, RequestState,
    SessionError, SessionStatus, WalletInfo,
};
use tessera_proto::link::{FromSigner, ToSigner};
use tessera_proto::states::ErrorCode;
use tessera_wire::{Authorization, NodeId, WireError};
use tokio::sync::broadcast;

use crate::coordinator::{
    derived_key, failed, lock, request_session_id, tx_waiter, CoordError, Coordinator,
};
use crate::hub::Relay;
use crate::store::{LedgerLeg, RequestBody, RequestRecord, StoreError};

/// Store setting holding the policy bundle in force (`SignedBundle` JSON).
const SETTING_BUNDLE: &str = "policy_bundle";
/// Store setting holding the mode change in force (`ModeChange` JSON).
const SETTING_MODE: &str = "mode_change";
/// Store setting holding the last accepted freshness statement (`Freshness` JSON).
const SETTING_FRESHNESS: &str = "policy_freshness";
/// Longest request id.
pub const MAX_REQUEST_ID: usize = 128;
/// Longest text from a signer copied into an audit entry.
const MAX_AUDIT_TEXT: usize = 512;

/// The policy bundle and mode change in force at the coordinator.
#[derive(Default)]
pub(crate) struct PolicyState {
    /// The compiled bundle, if one was installed.
    pub(crate) engine: Option<Arc<Engine>>,
    /// The last accepted mode change (in force until it expires).
    pub(crate) mode: Option<ModeChange>,
    /// The last accepted admin-signed freshness statement.
    pub(crate) freshness: Option<Freshness>,
}

/// What signers receive with a signing job: the policy version the coordinator evaluated and
/// the approvals that meet the quorum (empty when none were needed).
#[derive(Debug, Clone, Default)]
pub(crate) struct Grant {
    pub(crate) policy_version: u64,
    pub(crate) approvals: Vec<Approval>,
}

/// A request about to be evaluated.
pub(crate) struct Admission<'a> {
    pub(crate) wallet_id: &'a str,
    pub(crate) requester: PublicKey,
    pub(crate) intent: Option<&'a Intent>,
    pub(crate) messages: &'a [SignMessage],
    pub(crate) intent_hash: [u8; 32],
    pub(crate) summary: String,
    pub(crate) risk_flags: Vec<String>,
    pub(crate) body: RequestBody,
}

/// What a stored request needs to be evaluated again or signed.
struct Inputs {
    wallet: WalletInfo,
    pk: WalletPublicKey,
    intent: Option<Intent>,
    messages: Vec<SignMessage>,
}

/// Chain id of a coordinator's audit log: `coordinator:<name>`.
pub fn audit_chain_id(name: &str) -> String {
    format!("coordinator:{name}")
}

/// Opens (creating if needed) the coordinator's audit log `<dir>/audit.db` with chain id
/// [`audit_chain_id`]`(name)`. One writer per file: a second opener gets
/// [`AuditError::Locked`].
pub fn open_audit_log(dir: &Path, name: &str) -> Result<AuditLog, AuditError> {
    AuditLog::open_or_create(&dir.join("audit.db"), &audit_chain_id(name))
}

/// Plain-language summary of a request without chain payload. A raw digest says plainly that
/// nobody can see what it signs.
pub(crate) fn message_summary(wallet_id: &str, path: &str, m: &SignMessage) -> String {
    match m {
        SignMessage::RawDigest(d) => format!(
            "RAW DIGEST: sign the 32-byte digest {} with wallet {wallet_id} at {path}. The \
             signers cannot see what this digest signs, and neither can an approver: approve \
             only if you know where it comes from.",
            hex::encode(d)
        ),
        SignMessage::Preimage {
            hash: Some(h),
            bytes,
        } => format!(
            "Sign {} bytes of data hashed with {} by each signer, with wallet {wallet_id} at \
             {path} (not a chain payload: no intent decoded)",
            bytes.len(),
            serde_json::to_value(h)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{h:?}"))
        ),
        SignMessage::Preimage { hash: None, bytes } => format!(
            "Sign a {}-byte message with wallet {wallet_id} at {path} (not a chain payload: no \
             intent decoded)",
            bytes.len()
        ),
    }
}

/// Risk flags of a request without chain payload.
pub(crate) fn message_risk_flags(m: &SignMessage) -> Vec<String> {
    match m {
        SignMessage::RawDigest(_) => vec!["raw_digest".to_string()],
        SignMessage::Preimage { .. } => Vec::new(),
    }
}

fn outcome_of(version: u64, d: &Decision) -> PolicyOutcome {
    PolicyOutcome {
        version,
        decision: match d {
            Decision::Deny { .. } => "deny",
            Decision::Allow { .. } => "allow",
            Decision::AllowWithApprovals { .. } => "allow_with_approvals",
        }
        .to_string(),
        policy_ids: d.policy_ids().to_vec(),
        reasons: d.reasons().iter().map(ToString::to_string).collect(),
        quorum: d
            .quorum()
            .map(|q| {
                q.requirements()
                    .map(|(role, count)| QuorumNeed {
                        role: role.to_string(),
                        count,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn quorum_of(outcome: Option<&PolicyOutcome>) -> Quorum {
    outcome
        .map(|o| {
            o.quorum
                .iter()
                .fold(Quorum::none(), |q, n| q.require(&n.role, n.count))
        })
        .unwrap_or_default()
}

/// Whether `key` is a member of a role `quorum` needs, per `engine`'s bundle.
fn in_quorum(engine: &Engine, quorum: &Quorum, key: &PublicKey) -> bool {
    quorum.requirements().any(|(role, _)| {
        engine
            .bundle()
            .roles
            .get(role)
            .is_some_and(|keys| keys.contains(key))
    })
}

fn deny_reasons(d: &Decision) -> String {
    d.reasons()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn info(rec: &RequestRecord) -> RequestInfo {
    RequestInfo {
        request_id: rec.request_id.clone(),
        kind: rec.kind().to_string(),
        wallet_id: rec.wallet_id.clone(),
        state: rec.state,
        summary: rec.summary.clone(),
        intent: rec.intent.clone(),
        intent_hash: rec.intent_hash.clone(),
        message: match &rec.body {
            RequestBody::Sign(s) => Some(RequestMessage {
                path: s.path.clone(),
                message: s.message.clone(),
            }),
            RequestBody::Transaction(_) => None,
        },
        risk_flags: rec.risk_flags.clone(),
        policy: rec.policy.clone(),
        approvals: rec.approvals.clone(),
        expires_at: rec.expires_at,
        error: rec.error.clone(),
        created_at_ms: rec.created_at_ms,
        updated_at_ms: rec.updated_at_ms,
    }
}

fn request_id_of(body: &RequestBody) -> &str {
    match body {
        RequestBody::Transaction(t) => &t.request_id,
        RequestBody::Sign(s) => &s.request_id,
    }
}

fn authorization_of(body: &RequestBody) -> &Authorization {
    match body {
        RequestBody::Transaction(t) => &t.authorization,
        RequestBody::Sign(s) => &s.authorization,
    }
}

fn truncated(s: &str) -> String {
    match s.char_indices().nth(MAX_AUDIT_TEXT) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Evaluates one request the way every signer does.
fn evaluate(
    (engine, mode): (&Engine, Mode),
    requester: &PublicKey,
    wallet_id: &str,
    intent: Option<&Intent>,
    messages: &[SignMessage],
    now_unix: u64,
    ledger: &dyn VelocityLedger,
) -> (Decision, Vec<LedgerLeg>) {
    match signing_request(
        engine.bundle(),
        requester,
        wallet_id,
        intent,
        messages,
        now_unix,
        mode,
    ) {
        Ok(req) => {
            let legs = req
                .legs()
                .iter()
                .map(|l| LedgerLeg {
                    asset: l.asset.to_string(),
                    amount: l.total.as_str().to_string(),
                })
                .collect();
            (engine.evaluate(&req, ledger), legs)
        }
        Err(e) => (
            Decision::Deny {
                policy_ids: Vec::new(),
                reasons: vec![DenyReason::InvalidRequest {
                    detail: e.to_string(),
                }],
            },
            Vec::new(),
        ),
    }
}

impl Coordinator {
    // ------------------------------------------------------------------ state

    /// Loads the policy bundle and mode change in force and rebuilds the velocity ledger from
    /// the signed requests of the longest window. A stored bundle that no longer loads leaves
    /// the coordinator without policy (nothing signs), with an error in the log.
    pub(crate) fn load_state(&self) {
        let store = &self.inner.store;
        match store.setting(SETTING_BUNDLE) {
            Ok(Some(json)) => {
                let loaded = serde_json::from_str::<SignedBundle>(&json)
                    .map_err(|e| e.to_string())
                    .and_then(|sb| {
                        accept_update(None, &sb, &sb.bundle.admins).map_err(|e| e.to_string())
                    });
                match loaded {
                    Ok(engine) => self.policy_write().engine = Some(Arc::new(engine)),
                    Err(e) => tracing::error!(
                        error = %e,
                        "the stored policy bundle does not load; no policy is in force"
                    ),
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot read the stored policy bundle"),
        }
        match store.setting(SETTING_MODE) {
            Ok(Some(json)) => match serde_json::from_str::<ModeChange>(&json) {
                Ok(m) => self.policy_write().mode = Some(m),
                Err(e) => tracing::error!(error = %e, "the stored mode change does not parse"),
            },
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot read the stored mode change"),
        }
        match store.setting(SETTING_FRESHNESS) {
            Ok(Some(json)) => match serde_json::from_str::<Freshness>(&json) {
                Ok(f) => self.policy_write().freshness = Some(f),
                Err(e) => tracing::error!(error = %e, "the stored policy freshness does not parse"),
            },
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot read the stored policy freshness"),
        }
        let since_ms = self
            .inner
            .clock
            .now_ms()
            .saturating_sub(MAX_WINDOW_S.saturating_mul(1000));
        match store.requests_changed_since(RequestState::Signed, since_ms) {
            Ok(signed) => {
                let mut ledger = lock(&self.inner.ledger);
                for rec in signed {
                    if let Err(e) = record_legs(&mut *ledger, &rec) {
                        tracing::error!(request = %rec.request_id, error = %e, "velocity ledger entry skipped");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot rebuild the velocity ledger"),
        }
    }

    /// Waits for this wallet's turn when a velocity rule in force can count its transfers, and
    /// holds it while the request signs. Signers take one such request per wallet at a time
    /// (another one running beside it is refused `Busy`: requests running at once on different
    /// signer sets could each miss the others in the velocity exchange), so the coordinator
    /// queues them, in arrival order, instead of sending them to be refused. Broader than the
    /// signers' rule (which counts only the assets a rule names): a request for another asset
    /// of the wallet waits too.
    pub(crate) async fn velocity_turn(
        &self,
        wallet_id: &str,
    ) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let governed = self.policy_read().engine.as_ref().is_some_and(|e| {
            e.signed_bundle()
                .bundle
                .velocity
                .values()
                .any(|r| r.wallet.as_deref().is_none_or(|w| w == wallet_id))
        });
        if !governed {
            return None;
        }
        let queue = lock(&self.inner.turns)
            .entry(wallet_id.to_string())
            .or_default()
            .clone();
        Some(queue.lock_owned().await)
    }

    fn policy_read(&self) -> std::sync::RwLockReadGuard<'_, PolicyState> {
        self.inner
            .policy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn policy_write(&self) -> std::sync::RwLockWriteGuard<'_, PolicyState> {
        self.inner
            .policy
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Version of the bundle in force (0: none).
    pub(crate) fn policy_version(&self) -> u64 {
        self.policy_read()
            .engine
            .as_ref()
            .map(|e| e.version())
            .unwrap_or(0)
    }

    /// Signers under incident quarantine in the bundle in force (none without a bundle).
    pub(crate) fn quarantined(&self) -> std::collections::BTreeSet<tessera_policy::PublicKey> {
        self.policy_read()
            .engine
            .as_ref()
            .map(|e| e.bundle().quarantined.clone())
            .unwrap_or_default()
    }

    /// The quarantined signers as node ids: every session's `excluded` set starts with them.
    pub(crate) fn quarantined_nodes(&self) -> std::collections::HashSet<NodeId> {
        self.quarantined().iter().map(|k| NodeId(k.0)).collect()
    }

    /// [`CoordError::Invalid`] if one of `signers` is under quarantine: it gets no new share.
    pub(crate) fn refuse_quarantined_holders(&self, signers: &[NodeId]) -> Result<(), CoordError> {
        let quarantined = self.quarantined();
        match signers
            .iter()
            .find(|n| quarantined.contains(&tessera_policy::PublicKey(n.0)))
        {
            Some(n) => Err(CoordError::Invalid(format!(
                "signer {n} is quarantined (policy in force): it cannot hold a share"
            ))),
            None => Ok(()),
        }
    }

    /// The last accepted mode change, expired or not.
    pub(crate) fn mode_change(&self) -> Option<ModeChange> {
        self.policy_read().mode.clone()
    }

    /// The operating mode in force now.
    pub(crate) fn mode_now(&self) -> Mode {
        mode_in_force(
            self.policy_read().mode.as_ref(),
            self.inner.clock.now_unix(),
        )
    }

    /// The engine and the mode in force now; [`CoordError::NoPolicy`] without a bundle.
    fn policy_snapshot(&self) -> Result<(Arc<Engine>, Mode), CoordError> {
        let st = self.policy_read();
        let engine = st.engine.clone().ok_or_else(|| {
            CoordError::NoPolicy(
                "no policy bundle is installed (PUT /v1/policy): nothing can be signed".into(),
            )
        })?;
        Ok((
            engine,
            mode_in_force(st.mode.as_ref(), self.inner.clock.now_unix()),
        ))
    }

    /// The policy bundle in force, with its admin signatures.
    pub fn policy_bundle(&self) -> Option<SignedBundle> {
        self.policy_read()
            .engine
            .as_ref()
            .map(|e| e.signed_bundle().clone())
    }

    /// The coordinator's audit log.
    pub fn audit_log(&self) -> &Arc<AuditLog> {
        &self.inner.audit
    }

    /// Request state changes as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<RequestEvent> {
        self.inner.events.subscribe()
    }

    // ------------------------------------------------------------------ audit

    /// Appends an audit entry. A failure is logged (once until the log recovers) and returned
    /// as [`CoordError::Audit`]: callers refuse the action they were about to take.
    pub(crate) fn record_audit(
        &self,
        actor: &str,
        kind: EntryKind,
        subject: &str,
        body: Value,
    ) -> Result<(), CoordError> {
        match self
            .inner
            .audit
            .append(actor, kind, subject, body, self.inner.clock.now_ms())
        {
            Ok(_) => {
                if self.inner.audit_failed.swap(false, Ordering::Relaxed) {
                    tracing::info!("audit log appends work again");
                }
                Ok(())
            }
            Err(e) => {
                if !self.inner.audit_failed.swap(true, Ordering::Relaxed) {
                    tracing::error!(error = %e, "audit log append failed; requests are refused until it works again");
                }
                Err(CoordError::Audit(e.to_string()))
            }
        }
    }

    pub(crate) fn actor(&self) -> &str {
        self.inner.audit.chain_id()
    }

    /// Audits a signer's refusal of a request (after the fact: nothing to refuse any more).
    pub(crate) fn audit_refusal(
        &self,
        request_id: &str,
        reason: RefusalReason,
        signer: Option<&NodeId>,
        code: &str,
        message: &str,
    ) {
        let _ = self.record_audit(
            self.actor(),
            EntryKind::Refusal(reason),
            request_id,
            json!({
                "by": "signer",
                "signer": signer.map(ToString::to_string),
                "code": code,
                "message": truncated(message),
            }),
        );
    }

    /// Appends a policy decision about `subject` (a request id) with its details.
    fn audit_policy(
        &self,
        subject: &str,
        version: u64,
        d: &Decision,
        body: Value,
    ) -> Result<(), CoordError> {
        let outcome = match d {
            Decision::Deny { .. } => tessera_audit::PolicyOutcome::Deny,
            Decision::Allow { .. } => tessera_audit::PolicyOutcome::Allow,
            Decision::AllowWithApprovals { .. } => tessera_audit::PolicyOutcome::NeedsApprovals,
        };
        self.record_audit(
            self.actor(),
            EntryKind::PolicyDecision {
                policy_version: version,
                policy_ids: d.policy_ids().to_vec(),
                outcome,
            },
            subject,
            body,
        )
    }

    fn audit_decision(
        &self,
        rec: &RequestRecord,
        version: u64,
        mode: Mode,
        d: &Decision,
    ) -> Result<(), CoordError> {
        self.audit_policy(
            &rec.request_id,
            version,
            d,
            json!({
                "wallet": rec.wallet_id,
                "kind": rec.kind(),
                "intent_hash": rec.intent_hash,
                "requester": rec.requester,
                "mode": mode.name(),
                "reasons": d.reasons().iter().map(ToString::to_string).collect::<Vec<_>>(),
                "quorum": d.quorum().map(|q| q.to_string()),
            }),
        )
    }

    /// JSON Lines export of the audit log (header line, then one entry per line).
    pub fn audit_export(&self) -> Result<Vec<u8>, CoordError> {
        let mut out = Vec::new();
        self.inner.audit.export(&mut out).map_err(|e| {
            tracing::error!(error = %e, "audit export failed");
            CoordError::Audit(e.to_string())
        })?;
        Ok(out)
    }

    // ------------------------------------------------------------------ admission

    /// Verifies the requester's authorization (signature, canonical path, expiry) and returns
    /// its key, the policy principal. Signers verify it again against their trusted list.
    pub(crate) fn check_authorization(&self, a: &Authorization) -> Result<PublicKey, CoordError> {
        match a.verify(&[a.operator], self.inner.clock.now_unix(), u64::MAX) {
            Ok(()) => Ok(PublicKey(a.operator.0)),
            Err(WireError::Expired) => Err(CoordError::AuthorizationExpired(format!(
                "the authorization of request {} expired at {}",
                a.request_id, a.expires_at
            ))),
            Err(e) => Err(CoordError::AuthorizationInvalid(format!(
                "the authorization does not verify: {e}"
            ))),
        }
    }

    /// Checks a key operation's authorization and, once a bundle is installed, evaluates its
    /// action (`create_wallet`, `import_wallet`, `reshare_wallet`) under it and the mode in
    /// force (audited, fail closed). A decision that needs approvals is met only by `approvals`
    /// over the authorization's request id and `tessera_wire::key_operation_hash` of its
    /// action, under this policy version. Signers evaluate it again with their own bundle;
    /// without one they (and this check) accept it on the requester's authorization alone, so
    /// a cluster can be set up.
    pub(crate) fn admit_key_operation(
        &self,
        authz: &Authorization,
        wallet_id: &str,
        action: tessera_policy::PolicyAction,
        approvals: &[Approval],
    ) -> Result<(), CoordError> {
        let requester = self.check_authorization(authz)?;
        let Ok((engine, mode)) = self.policy_snapshot() else {
            return Ok(());
        };
        let now = self.inner.clock.now_unix();
        let req = tessera_policy::wallet_key_request(
            engine.bundle(),
            &requester,
            wallet_id,
            action,
            now,
            mode,
        )
        .map_err(|e| CoordError::Invalid(format!("policy request: {e}")))?;
        // A new wallet has no velocity history.
        let decision = engine.evaluate(&req, &tessera_policy::MemoryLedger::new());
        self.audit_policy(
            &authz.request_id,
            engine.version(),
            &decision,
            json!({
                "wallet": wallet_id,
                "kind": action.name(),
                "requester": requester.to_hex(),
                "mode": mode.name(),
                "reasons": decision.reasons().iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
        )?;
        match &decision {
            Decision::Allow { .. } => Ok(()),
            Decision::Deny { .. } => Err(CoordError::PolicyDenied(format!(
                "the policy denies {} on wallet {wallet_id}: {}",
                action.name(),
                deny_reasons(&decision)
            ))),
            Decision::AllowWithApprovals { quorum, .. } => {
                let hash = tessera_wire::key_operation_hash(&authz.action);
                let version = engine.version();
                let rid = &authz.request_id;
                check_quorum(quorum, approvals, engine.bundle(), rid, &hash, version, now).map_err(
                    |e| {
                        CoordError::PolicyDenied(format!(
                            "{} on wallet {wallet_id} needs approvals ({quorum}): {e}",
                            action.name()
                        ))
                    },
                )
            }
        }
    }

    /// A request id is well-formed and not yet used (in any wallet).
    pub(crate) fn check_new_request(&self, request_id: &str) -> Result<(), CoordError> {
        if request_id.is_empty()
            || request_id.len() > MAX_REQUEST_ID
            || request_id.chars().any(char::is_control)
        {
            return Err(CoordError::Invalid(format!(
                "request_id must be 1–{MAX_REQUEST_ID} bytes without control characters"
            )));
        }
        if let Some(r) = self.inner.store.request(request_id)? {
            return Err(CoordError::Conflict(format!(
                "request {request_id} was already submitted (wallet {}, {:?})",
                r.wallet_id, r.state
            )));
        }
        Ok(())
    }

    /// Evaluates a new request and audits the decision (fail closed: no audit entry, no
    /// request). Returns the record in its first state (`rejected`, `signing` or
    /// `awaiting_approvals`), not yet stored, and what signers get if it signs now.
    pub(crate) fn decide(&self, a: Admission<'_>) -> Result<(RequestRecord, Grant), CoordError> {
        let (engine, mode) = self.policy_snapshot()?;
        let now_unix = self.inner.clock.now_unix();
        let (decision, legs) = {
            let ledger = lock(&self.inner.ledger);
            evaluate(
                (&engine, mode),
                &a.requester,
                a.wallet_id,
                a.intent,
                a.messages,
                now_unix,
                &*ledger,
            )
        };
        let (state, error) = match &decision {
            Decision::Deny { .. } => (
                RequestState::Rejected,
                Some(failed(
                    ErrorCode::PolicyDenied,
                    deny_reasons(&decision),
                    Vec::new(),
                )),
            ),
            Decision::Allow { .. } => (RequestState::Signing, None),
            Decision::AllowWithApprovals { .. } => (RequestState::AwaitingApprovals, None),
        };
        let now = self.inner.clock.now_ms();
        let rec = RequestRecord {
            request_id: request_id_of(&a.body).to_string(),
            wallet_id: a.wallet_id.to_string(),
            state,
            summary: a.summary,
            intent: a.intent.cloned(),
            intent_hash: hex::encode(a.intent_hash),
            risk_flags: a.risk_flags,
            requester: a.requester.to_hex(),
            policy: Some(outcome_of(engine.version(), &decision)),
            approvals: Vec::new(),
            expires_at: authorization_of(&a.body).expires_at,
            error,
            legs,
            signed_at: None,
            created_at_ms: now,
            updated_at_ms: now,
            body: a.body,
        };
        self.audit_decision(&rec, engine.version(), mode, &decision)?;
        tracing::info!(
            request = %rec.request_id,
            wallet = %rec.wallet_id,
            policy_version = engine.version(),
            decision = rec.policy.as_ref().map(|p| p.decision.as_str()).unwrap_or(""),
            "policy decision"
        );
        Ok((
            rec,
            Grant {
                policy_version: engine.version(),
                approvals: Vec::new(),
            },
        ))
    }

    /// Stores a new request record.
    pub(crate) fn insert_request(&self, rec: &RequestRecord) -> Result<(), CoordError> {
        self.inner.store.insert_request(rec).map_err(|e| match e {
            StoreError::Conflict => {
                CoordError::Conflict(format!("request {} was already submitted", rec.request_id))
            }
            e => e.into(),
        })
    }

    /// Announces a request's current state.
    pub(crate) fn emit(&self, rec: &RequestRecord) {
        let _ = self.inner.events.send(RequestEvent {
            request_id: rec.request_id.clone(),
            state: rec.state,
            at_ms: rec.updated_at_ms,
        });
    }

    /// Stores `rec`, mirrors it into its transaction or session record (a final state without
    /// a signature fails a record still running), announces it and, if final, wakes waiters.
    fn save(&self, rec: &RequestRecord) {
        if let Err(e) = self.inner.store.put_request(rec) {
            tracing::error!(error = %e, request = %rec.request_id, "could not store the request");
        }
        let final_state = rec.state.is_final();
        let now = self.inner.clock.now_ms();
        let id = request_session_id(&rec.wallet_id, &rec.request_id);
        match &rec.body {
            RequestBody::Transaction(_) => match self.inner.store.transaction(&id) {
                Ok(Some(mut tx)) => {
                    tx.state = rec.state;
                    tx.policy = rec.policy.clone();
                    tx.approvals = rec.approvals.clone();
                    tx.expires_at = rec.expires_at;
                    if final_state && tx.status == SessionStatus::Running {
                        tx.status = SessionStatus::Failed;
                        tx.error = rec.error.clone();
                        tx.finished_at_ms = Some(now);
                    }
                    self.store_transaction(&id, &tx);
                    if final_state {
                        self.wake(&tx_waiter(&id));
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "could not read the transaction record"),
            },
            RequestBody::Sign(_) if final_state => {
                match self.inner.store.session(&id) {
                    Ok(Some(mut s)) if s.status == SessionStatus::Running => {
                        s.status = SessionStatus::Failed;
                        s.error = rec.error.clone();
                        s.finished_at_ms = Some(now);
                        if let Err(e) = self.inner.store.put_session(&s) {
                            tracing::error!(error = %e, "could not store the session");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "could not read the session record"),
                }
                self.wake(&id);
            }
            RequestBody::Sign(_) => {}
        }
        self.emit(rec);
    }

    /// Whether `rec` may move to `state` now: the lifecycle allows it
    /// ([`RequestState::may_become`]) from the state stored for it (the store is the truth;
    /// `rec` may be a copy taken before a concurrent change). A refused move is logged once
    /// and `rec` takes the stored state: a request signed, rejected, expired or failed stays
    /// so, whatever a late, duplicated or reordered event says.
    fn may_move(&self, rec: &mut RequestRecord, state: RequestState) -> bool {
        let current = match self.inner.store.request(&rec.request_id) {
            Ok(Some(stored)) => stored.state,
            Ok(None) => rec.state,
            Err(e) => {
                tracing::error!(request = %rec.request_id, error = %e, "could not read the request; its state is kept");
                return false;
            }
        };
        if current.may_become(state) {
            return true;
        }
        tracing::error!(request = %rec.request_id, from = ?current, to = ?state, "refused a request state change the lifecycle does not allow");
        rec.state = current;
        false
    }

    /// Moves `rec` to `state` with `error`, stores and announces it: the one place a request's
    /// state changes. Returns whether it moved ([`Self::may_move`]).
    fn set_state(
        &self,
        rec: &mut RequestRecord,
        state: RequestState,
        error: Option<SessionError>,
    ) -> bool {
        if !self.may_move(rec, state) {
            return false;
        }
        tracing::info!(request = %rec.request_id, from = ?rec.state, to = ?state, "request state");
        rec.state = state;
        rec.error = error;
        rec.updated_at_ms = self.inner.clock.now_ms();
        self.save(rec);
        true
    }

    /// Re-derives what signing (or a new evaluation) needs from a stored request: the wallet
    /// and key, and for a chain payload the intent and messages, parsed again.
    fn request_inputs(&self, rec: &RequestRecord) -> Result<Inputs, CoordError> {
        let wallet = self.wallet(&rec.wallet_id)?;
        match &rec.body {
            RequestBody::Sign(req) => {
                let (pk, _) = derived_key(&wallet, &req.path)?;
                let message = req.message.to_sign_message().map_err(CoordError::Invalid)?;
                Ok(Inputs {
                    wallet,
                    pk,
                    intent: None,
                    messages: vec![message],
                })
            }
            RequestBody::Transaction(req) => {
                let (pk, _) = derived_key(&wallet, &req.path)?;
                let id = request_session_id(&rec.wallet_id, &rec.request_id);
                let tx = self.inner.store.transaction(&id)?.ok_or_else(|| {
                    CoordError::NotFound(format!("no transaction record for {}", rec.request_id))
                })?;
                let adapter = self.inner.chains.get(&req.chain)?;
                let parsed = adapter.parse(
                    &req.network,
                    WalletKey {
                        scheme: wallet.scheme,
                        public_key: &pk,
                    },
                    &tx.payload,
                )?;
                if hex::encode(parsed.intent_hash()?) != rec.intent_hash {
                    return Err(CoordError::Invalid(
                        "the stored payload no longer yields the request's intent hash".into(),
                    ));
                }
                Ok(Inputs {
                    wallet,
                    pk,
                    intent: Some(parsed.intent),
                    messages: parsed.messages,
                })
            }
        }
    }

    // ------------------------------------------------------------------ signing

    /// Signs a request in state `signing` and concludes it (signed, rejected, expired or
    /// failed). Returns the concluded record.
    pub(crate) async fn execute(&self, rec: RequestRecord, grant: Grant) -> RequestRecord {
        let _turn = self.velocity_turn(&rec.wallet_id).await;
        let inputs = match self.request_inputs(&rec) {
            Ok(i) => i,
            Err(e) => {
                let err = failed(e.error_code(), e.to_string(), Vec::new());
                return self.conclude(rec, RequestState::Failed, Some(err), Value::Null);
            }
        };
        let id = request_session_id(&rec.wallet_id, &rec.request_id);
        match &rec.body {
            RequestBody::Sign(req) => {
                let (session, message) = match (
                    self.inner.store.session(&id),
                    inputs.messages.into_iter().next(),
                ) {
                    (Ok(Some(s)), Some(m)) => (s, m),
                    _ => {
                        let err = failed(
                            ErrorCode::Internal,
                            "the session record is missing".into(),
                            vec![],
                        );
                        return self.conclude(rec, RequestState::Failed, Some(err), Value::Null);
                    }
                };
                let req = req.clone();
                let done = self
                    .run_sign(inputs.wallet, req, message, session, None, &grant)
                    .await;
                if let Err(e) = self.inner.store.put_session(&done) {
                    tracing::error!(error = %e, "could not store the session");
                }
                let (state, error) = match (done.status, &done.error) {
                    (SessionStatus::Done, _) => (RequestState::Signed, None),
                    (_, Some(e)) => (e.code.request_state(), Some(e.clone())),
                    (_, None) => (
                        RequestState::Failed,
                        Some(failed(ErrorCode::Internal, "no signature".into(), vec![])),
                    ),
                };
                let detail = json!({
                    "session": done.session_id,
                    "signers": done.participants.iter().map(ToString::to_string).collect::<Vec<_>>(),
                });
                self.conclude(rec, state, error, detail)
            }
            RequestBody::Transaction(req) => {
                let tx = match self.inner.store.transaction(&id) {
                    Ok(Some(t)) => t,
                    _ => {
                        let err = failed(
                            ErrorCode::Internal,
                            "the transaction record is missing".into(),
                            vec![],
                        );
                        return self.conclude(rec, RequestState::Failed, Some(err), Value::Null);
                    }
                };
                let req = req.clone();
                let done = self
                    .run_transaction(inputs.wallet, req, inputs.messages, tx, inputs.pk, &grant)
                    .await;
                let (state, error) = match (done.status, &done.error) {
                    (SessionStatus::Done, _) => (RequestState::Signed, None),
                    (_, Some(e)) => (e.code.request_state(), Some(e.clone())),
                    (_, None) => (
                        RequestState::Failed,
                        Some(failed(
                            ErrorCode::Internal,
                            "no signed transaction".into(),
                            vec![],
                        )),
                    ),
                };
                let detail = json!({
                    "sessions": done.sessions,
                    "signatures": done.signatures.len(),
                    "txid": done.signed.as_ref().and_then(|s| s.txid.clone()),
                });
                self.conclude(rec, state, error, detail)
            }
        }
    }

    /// Records the end of signing: a signature counts in the velocity ledger and is audited;
    /// a failure is audited (signer refusals were audited as they arrived).
    fn conclude(
        &self,
        mut rec: RequestRecord,
        state: RequestState,
        error: Option<SessionError>,
        detail: Value,
    ) -> RequestRecord {
        let _g = lock(&self.inner.transitions);
        if !self.may_move(&mut rec, state) {
            return rec;
        }
        match state {
            RequestState::Signed => {
                let now = self.inner.clock.now_unix();
                rec.signed_at = Some(now);
                {
                    let mut ledger = lock(&self.inner.ledger);
                    ledger.prune_before(now.saturating_sub(MAX_WINDOW_S));
                    if let Err(e) = record_legs(&mut *ledger, &rec) {
                        tracing::error!(request = %rec.request_id, error = %e, "velocity ledger entry skipped");
                    }
                }
                let _ = self.record_audit(
                    self.actor(),
                    EntryKind::Signature,
                    &rec.request_id,
                    json!({
                        "wallet": rec.wallet_id,
                        "kind": rec.kind(),
                        "intent_hash": rec.intent_hash,
                        "policy_version": rec.policy.as_ref().map(|p| p.version),
                        "detail": detail,
                    }),
                );
            }
            RequestState::Failed => {
                let (code, message) = error
                    .as_ref()
                    .map(|e| (e.code.as_str(), truncated(&e.message)))
                    .unwrap_or(("internal", String::new()));
                let _ = self.record_audit(
                    self.actor(),
                    EntryKind::Other("signing_failed".into()),
                    &rec.request_id,
                    json!({"code": code, "message": message}),
                );
            }
            _ => {}
        }
        self.set_state(&mut rec, state, error);
        rec
    }

    /// `approved` → `signing`, and signing starts in the background.
    fn approve_and_start(&self, mut rec: RequestRecord, grant: Grant) {
        if !self.set_state(&mut rec, RequestState::Approved, None) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                if !self.set_state(&mut rec, RequestState::Signing, None) {
                    return;
                }
                let me = self.clone();
                rt.spawn(async move {
                    me.execute(rec, grant).await;
                });
            }
            Err(_) => {
                tracing::error!(request = %rec.request_id, "no runtime to sign on");
                let err = failed(
                    ErrorCode::Internal,
                    "no runtime to sign on".into(),
                    Vec::new(),
                );
                self.set_state(&mut rec, RequestState::Failed, Some(err));
            }
        }
    }

    /// Marks requests a previous run left `approved` or `signing` as failed (`interrupted`):
    /// their sessions died with it. Signers never sign a request id twice. A request whose
    /// signature was stored before the restart (the run died between storing its session or
    /// transaction and concluding it) is concluded as signed instead: its signature exists and
    /// is served, so it counts, is audited and reads `signed`.
    pub(crate) fn fail_interrupted(&self) -> Result<(), CoordError> {
        for state in [RequestState::Approved, RequestState::Signing] {
            for rec in self.inner.store.requests(Some(state), u32::MAX)? {
                if let Some(detail) = self.stored_outcome(&rec) {
                    tracing::warn!(request = %rec.request_id, "signed before a restart; concluded now");
                    self.conclude(rec, RequestState::Signed, None, detail);
                    continue;
                }
                let err = failed(
                    ErrorCode::Interrupted,
                    "the coordinator restarted while this request was signing".into(),
                    Vec::new(),
                );
                self.conclude(rec, RequestState::Failed, Some(err), Value::Null);
            }
        }
        Ok(())
    }

    /// The audit detail of a request's stored signature — its session record done with a
    /// signature (sign requests) or its transaction record done and signed — if there is one.
    fn stored_outcome(&self, rec: &RequestRecord) -> Option<Value> {
        let id = request_session_id(&rec.wallet_id, &rec.request_id);
        match &rec.body {
            RequestBody::Sign(_) => {
                let s = self.inner.store.session(&id).ok().flatten()?;
                (s.status == SessionStatus::Done && s.signature.is_some()).then(|| {
                    json!({
                        "session": s.session_id,
                        "signers": s.participants.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "recovered": true,
                    })
                })
            }
            RequestBody::Transaction(_) => {
                let t = self.inner.store.transaction(&id).ok().flatten()?;
                (t.status == SessionStatus::Done && t.signed.is_some()).then(|| {
                    json!({
                        "sessions": t.sessions,
                        "signatures": t.signatures.len(),
                        "txid": t.signed.as_ref().and_then(|s| s.txid.clone()),
                        "recovered": true,
                    })
                })
            }
        }
    }

    // ------------------------------------------------------------------ approvals

    /// Approvals of `rec` that count now: approvals (not rejections) under `version`, not
    /// expired, by members of a role of `quorum`, for this request and intent.
    fn usable_approvals(
        &self,
        rec: &RequestRecord,
        engine: &Engine,
        quorum: &Quorum,
        now_unix: u64,
    ) -> Vec<Approval> {
        rec.approvals
            .iter()
            .filter(|a| {
                a.decision == ApprovalDecision::Approve
                    && a.policy_version == engine.version()
                    && now_unix < a.expires_at
                    && a.request_id == rec.request_id
                    && hex::encode(a.intent_hash) == rec.intent_hash
                    && in_quorum(engine, quorum, &a.approver)
                    && a.signature_valid()
            })
            .cloned()
            .collect()
    }

    /// Takes an approval or rejection of a request awaiting approvals. Checked in this order,
    /// each with its typed error: the request exists (`not_found`), is awaiting approvals and
    /// not expired (`not_awaiting_approvals`); the approval is for this request, its signature
    /// verifies, it covers the request's intent hash and the policy version it was evaluated
    /// under (`approval_invalid`); the approver holds a role the quorum needs
    /// (`not_an_approver`); it has not expired (`approval_expired`). Then it is audited (fail
    /// closed) and stored: a rejection rejects the request, a met quorum starts signing.
    pub fn submit_approval(
        &self,
        request_id: &str,
        approval: Approval,
    ) -> Result<RequestInfo, CoordError> {
        let _g = lock(&self.inner.transitions);
        let mut rec = self
            .inner
            .store
            .request(request_id)?
            .ok_or_else(|| CoordError::NotFound(format!("no request {request_id}")))?;
        let now = self.inner.clock.now_unix();
        if rec.state == RequestState::AwaitingApprovals && now >= rec.expires_at {
            self.expire(&mut rec);
        }
        if rec.state != RequestState::AwaitingApprovals {
            return Err(CoordError::NotAwaiting(format!(
                "request {request_id} is {}, not awaiting approvals",
                serde_json::to_value(rec.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            )));
        }
        let who = approval.approver;
        if approval.request_id != rec.request_id {
            return Err(CoordError::ApprovalInvalid(format!(
                "the approval by {who} is for request {:?}, not {request_id:?}",
                approval.request_id
            )));
        }
        if !approval.signature_valid() {
            return Err(CoordError::ApprovalInvalid(format!(
                "the approval's signature does not verify for approver {who}"
            )));
        }
        if hex::encode(approval.intent_hash) != rec.intent_hash {
            return Err(CoordError::ApprovalInvalid(format!(
                "the approval by {who} is for intent hash {}, the request's is {}",
                hex::encode(approval.intent_hash),
                rec.intent_hash
            )));
        }
        let (engine, _) = self.policy_snapshot()?;
        let version = rec.policy.as_ref().map(|p| p.version).unwrap_or(0);
        if approval.policy_version != version || version != engine.version() {
            return Err(CoordError::ApprovalInvalid(format!(
                "the approval by {who} is for policy version {}, the request was evaluated \
                 under version {version} (version {} in force)",
                approval.policy_version,
                engine.version()
            )));
        }
        let quorum = quorum_of(rec.policy.as_ref());
        if !in_quorum(&engine, &quorum, &who) {
            return Err(CoordError::NotAnApprover(format!(
                "{who} holds none of the roles this request needs ({quorum})"
            )));
        }
        if now >= approval.expires_at {
            return Err(CoordError::ApprovalExpired(format!(
                "the approval by {who} expired at {} (now {now})",
                approval.expires_at
            )));
        }
        let kind = match approval.decision {
            ApprovalDecision::Approve => EntryKind::Approval,
            ApprovalDecision::Reject => EntryKind::Rejection,
        };
        self.record_audit(
            &who.to_hex(),
            kind,
            &rec.request_id,
            json!({
                "intent_hash": rec.intent_hash,
                "policy_version": approval.policy_version,
                "expires_at": approval.expires_at,
                "signature": hex::encode(approval.signature),
            }),
        )?;
        let decision = approval.decision;
        rec.approvals.retain(|a| a.approver != who);
        rec.approvals.push(approval);
        tracing::info!(request = %rec.request_id, approver = %who, ?decision, "approval received");
        match decision {
            ApprovalDecision::Reject => {
                let err = failed(
                    ErrorCode::Rejected,
                    format!("rejected by approver {who}"),
                    Vec::new(),
                );
                self.set_state(&mut rec, RequestState::Rejected, Some(err));
            }
            ApprovalDecision::Approve => {
                let usable = self.usable_approvals(&rec, &engine, &quorum, now);
                let rid = rec.request_id.clone();
                let hash: [u8; 32] = hex::decode(&rec.intent_hash)
                    .ok()
                    .and_then(|v| v.try_into().ok())
                    .unwrap_or([0; 32]);
                match check_quorum(&quorum, &usable, engine.bundle(), &rid, &hash, version, now) {
                    Ok(()) => self.approve_and_start(
                        rec.clone(),
                        Grant {
                            policy_version: version,
                            approvals: usable,
                        },
                    ),
                    Err(_) => {
                        rec.updated_at_ms = self.inner.clock.now_ms();
                        self.save(&rec);
                    }
                }
            }
        }
        self.request(request_id)
    }

    // ------------------------------------------------------------------ expiry

    fn expire(&self, rec: &mut RequestRecord) {
        if !self.may_move(rec, RequestState::Expired) {
            return;
        }
        let _ = self.record_audit(
            self.actor(),
            EntryKind::Refusal(RefusalReason::Expired),
            &rec.request_id,
            json!({
                "by": "coordinator",
                "expires_at": rec.expires_at,
                "reason": "the quorum of approvals was not met before the request expired",
            }),
        );
        let err = failed(
            ErrorCode::Expired,
            format!(
                "the request expired at {} before its approvals were in",
                rec.expires_at
            ),
            Vec::new(),
        );
        self.set_state(rec, RequestState::Expired, Some(err));
    }

    /// Expires every request awaiting approvals past its expiry; returns how many.
    pub fn expire_due(&self) -> Result<usize, CoordError> {
        let _g = lock(&self.inner.transitions);
        let now = self.inner.clock.now_unix();
        let mut n = 0;
        for mut rec in self
            .inner
            .store
            .requests(Some(RequestState::AwaitingApprovals), u32::MAX)?
        {
            if now >= rec.expires_at {
                self.expire(&mut rec);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Every second: expires requests past their authorization's expiry and assesses signer
    /// health ([`Coordinator::check_health`]). Once per coordinator; stops when it is dropped.
    pub(crate) fn start_sweeps(&self) {
        if self.inner.expiring.swap(true, Ordering::Relaxed) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(inner) = weak.upgrade() else { break };
                let c = Coordinator { inner };
                if let Err(e) = c.expire_due() {
                    tracing::warn!(error = %e, "expiring requests failed");
                }
                if let Err(e) = c.check_health() {
                    tracing::warn!(error = %e, "assessing signer health failed");
                }
            }
        });
    }

    // ------------------------------------------------------------------ policy and mode

    /// Installs a policy bundle: the first one if it verifies against its own admins and
    /// quorum (signers check their configured admins themselves), later ones only through
    /// [`accept_update`] from the bundle in force. Re-sending the bundle in force changes
    /// nothing and pushes it again. The bundle is audited (fail closed), stored, pushed to
    /// every linked signer, and requests awaiting approvals are evaluated again under it.
    pub fn put_policy(&self, candidate: SignedBundle) -> Result<PolicyInfo, CoordError> {
        let _g = lock(&self.inner.transitions);
        let current = self.policy_read().engine.clone();
        if let Some(cur) = &current {
            if cur.signed_bundle() == &candidate {
                self.push_to_all(&self.policy_frame(cur));
                return self.policy_info();
            }
        }
        let engine = match &current {
            None => accept_update(None, &candidate, &candidate.bundle.admins)?,
            Some(cur) => {
                accept_update(Some(cur.signed_bundle()), &candidate, &cur.bundle().admins)?
            }
        };
        let json = serde_json::to_string(&candidate)
            .map_err(|e| CoordError::Invalid(format!("bundle: {e}")))?;
        self.record_audit(
            self.actor(),
            EntryKind::PolicyChange {
                policy_version: engine.version(),
            },
            &format!("policy-v{}", engine.version()),
            json!({
                "tenant": engine.bundle().tenant,
                "bundle_hash": hex::encode(engine.bundle_hash()),
                "policy_ids": engine.policy_ids(),
                "previous_version": current.as_ref().map(|c| c.version()),
                "signed_by": candidate.admin_signatures.iter().map(|s| s.admin.to_hex()).collect::<Vec<_>>(),
            }),
        )?;
        self.inner.store.put_setting(SETTING_BUNDLE, &json)?;
        tracing::info!(
            version = engine.version(),
            tenant = %engine.bundle().tenant,
            "policy bundle installed"
        );
        let engine = Arc::new(engine);
        self.policy_write().engine = Some(engine.clone());
        self.push_to_all(&self.policy_frame(&engine));
        self.reevaluate_pending();
        self.policy_info()
    }

    /// Applies an operating-mode change signed by the admin quorum of the bundle in force
    /// ([`accept_mode`]): audited (fail closed), stored, pushed to every linked signer;
    /// requests awaiting approvals are evaluated again under the new mode.
    pub fn put_mode(&self, change: ModeChange) -> Result<PolicyInfo, CoordError> {
        let _g = lock(&self.inner.transitions);
        let (engine, _) = self.policy_snapshot()?;
        let now = self.inner.clock.now_unix();
        let current = self.policy_read().mode.clone();
        accept_mode(current.as_ref(), &change, engine.bundle(), now)?;
        let from = mode_in_force(current.as_ref(), now);
        let json = serde_json::to_string(&change)
            .map_err(|e| CoordError::Invalid(format!("mode change: {e}")))?;
        self.record_audit(
            self.actor(),
            EntryKind::ModeChange {
                from: from.name().to_string(),
                to: change.mode.name().to_string(),
            },
            "mode",
            json!({
                "seq": change.seq,
                "reason": truncated(&change.reason),
                "issued_at": change.issued_at,
                "expires_at": change.expires_at,
                "policy_version": engine.version(),
                "signed_by": change.admin_signatures.iter().map(|s| s.admin.to_hex()).collect::<Vec<_>>(),
            }),
        )?;
        self.inner.store.put_setting(SETTING_MODE, &json)?;
        tracing::info!(from = %from, to = %change.mode, seq = change.seq, expires_at = change.expires_at, "operating mode changed");
        self.policy_write().mode = Some(change);
        self.push_to_all(&ToSigner::Mode {
            change: json.into_bytes(),
        });
        self.reevaluate_pending();
        self.policy_info()
    }

    /// Takes an admin-signed freshness statement about the bundle and mode change in force
    /// ([`accept_freshness`]): audited (fail closed), stored, pushed to every linked signer
    /// (and again on reconnect). Signers check it themselves against their own policy.
    pub fn put_freshness(&self, statement: Freshness) -> Result<PolicyInfo, CoordError> {
        let _g = lock(&self.inner.transitions);
        let (engine, _) = self.policy_snapshot()?;
        let now = self.inner.clock.now_unix();
        let (mode, current) = {
            let st = self.policy_read();
            (st.mode.clone(), st.freshness.clone())
        };
        accept_freshness(
            current.as_ref(),
            &statement,
            engine.bundle(),
            mode.as_ref(),
            now,
        )?;
        let json = serde_json::to_string(&statement)
            .map_err(|e| CoordError::Invalid(format!("freshness: {e}")))?;
        self.record_audit(
            self.actor(),
            EntryKind::Other("policy_refreshed".into()),
            "policy",
            json!({
                "policy_version": statement.policy_version,
                "mode_seq": statement.mode_seq,
                "issued_at": statement.issued_at,
                "signed_by": statement.admin_signatures.iter().map(|s| s.admin.to_hex()).collect::<Vec<_>>(),
            }),
        )?;
        self.inner.store.put_setting(SETTING_FRESHNESS, &json)?;
        tracing::info!(
            policy_version = statement.policy_version,
            issued_at = statement.issued_at,
            "policy freshness renewed"
        );
        self.policy_write().freshness = Some(statement);
        self.push_to_all(&ToSigner::Freshness {
            statement: json.into_bytes(),
        });
        self.policy_info()
    }

    fn policy_frame(&self, engine: &Engine) -> ToSigner {
        ToSigner::Policy {
            bundle: serde_json::to_vec(engine.signed_bundle()).unwrap_or_default(),
        }
    }

    fn push_to_all(&self, frame: &ToSigner) {
        for node in self.inner.hub.connected() {
            self.inner.hub.deliver(&node, frame.clone());
        }
    }

    /// Sends the bundle and mode change in force to a signer that just linked.
    pub fn on_signer_linked(&self, node: &NodeId) {
        let (engine, mode, freshness) = {
            let st = self.policy_read();
            (st.engine.clone(), st.mode.clone(), st.freshness.clone())
        };
        if let Some(e) = engine {
            self.inner.hub.deliver(node, self.policy_frame(&e));
        }
        if let Some(m) = mode {
            if let Ok(json) = serde_json::to_vec(&m) {
                self.inner
                    .hub
                    .deliver(node, ToSigner::Mode { change: json });
            }
        }
        if let Some(f) = freshness {
            if let Ok(json) = serde_json::to_vec(&f) {
                self.inner
                    .hub
                    .deliver(node, ToSigner::Freshness { statement: json });
            }
        }
    }

    /// Handles a frame from a linked signer: policy refusals are logged and audited, the rest
    /// goes to the hub.
    pub fn on_signer_frame(&self, node: NodeId, frame: FromSigner) {
        if let FromSigner::PolicyRefused {
            what,
            version,
            reason,
        } = &frame
        {
            tracing::warn!(node = %node, what = %truncated(what), version, reason = %truncated(reason), "signer refused a policy update");
            let subject = if what == "mode" { "mode" } else { "policy" };
            let _ = self.record_audit(
                self.actor(),
                EntryKind::Other("policy_refused".into()),
                subject,
                json!({
                    "signer": node.to_string(),
                    "what": truncated(what),
                    "version": version,
                    "reason": truncated(reason),
                }),
            );
            return;
        }
        if let FromSigner::Status(status) = &frame {
            self.note_vault(node, &status.vault_id);
        }
        self.inner.hub.on_frame(node, frame);
    }

    /// Remembers the vault id a signer reports (`vault-of:<node>` setting). When it changes —
    /// the signer was restored from its backups into a new vault, which holds none of its
    /// presignatures — every pooled presignature it is part of is dropped, so no signature
    /// starts on one it no longer has.
    fn note_vault(&self, node: NodeId, vault_id: &str) {
        if vault_id.is_empty()
            || lock(&self.inner.vaults).get(&node).map(String::as_str) == Some(vault_id)
        {
            return;
        }
        let key = format!("vault-of:{node}");
        let known = self
            .inner
            .store
            .setting(&key)
            .ok()
            .flatten()
            .unwrap_or_default();
        if !known.is_empty() && known != vault_id {
            let dropped = self.drop_pooled_with(node);
            tracing::warn!(node = %node, dropped, "signer reports a new vault (restored?): its pooled presignatures are dropped");
        }
        if known != vault_id {
            if let Err(e) = self.inner.store.put_setting(&key, vault_id) {
                tracing::error!(node = %node, error = %e, "could not record a signer's vault id");
                return;
            }
        }
        lock(&self.inner.vaults).insert(node, vault_id.to_string());
    }

    /// Drops every pooled presignature `node` is part of; returns how many.
    fn drop_pooled_with(&self, node: NodeId) -> u32 {
        let wallets = self.inner.store.wallets().unwrap_or_default();
        let mut dropped = 0;
        for w in wallets {
            let Some(index) = w.signers.iter().position(|n| *n == node) else {
                continue;
            };
            let index = u16::try_from(index).unwrap_or(u16::MAX);
            match self.inner.store.pool_drop_member(&w.wallet_id, index) {
                Ok(n) => dropped += n,
                Err(e) => {
                    tracing::error!(wallet = %w.wallet_id, error = %e, "could not drop pooled presignatures")
                }
            }
        }
        self.inner.pool_changed.notify_waiters();
        dropped
    }

    /// Evaluates every request awaiting approvals again under the policy and mode in force
    /// (callers hold the transitions lock): denied ones are rejected, those now allowed or
    /// whose quorum the approvals already meet start signing, the rest keep waiting with the
    /// new outcome.
    fn reevaluate_pending(&self) {
        let pending = match self
            .inner
            .store
            .requests(Some(RequestState::AwaitingApprovals), u32::MAX)
        {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot list requests awaiting approvals");
                return;
            }
        };
        let Ok((engine, mode)) = self.policy_snapshot() else {
            return;
        };
        let now = self.inner.clock.now_unix();
        for mut rec in pending {
            if now >= rec.expires_at {
                self.expire(&mut rec);
                continue;
            }
            let inputs = match self.request_inputs(&rec) {
                Ok(i) => i,
                Err(e) => {
                    tracing::warn!(request = %rec.request_id, error = %e, "request not evaluated again");
                    continue;
                }
            };
            let Ok(requester) = PublicKey::from_str(&rec.requester) else {
                continue;
            };
            let (decision, legs) = {
                let ledger = lock(&self.inner.ledger);
                evaluate(
                    (&engine, mode),
                    &requester,
                    &rec.wallet_id,
                    inputs.intent.as_ref(),
                    &inputs.messages,
                    now,
                    &*ledger,
                )
            };
            if self
                .audit_decision(&rec, engine.version(), mode, &decision)
                .is_err()
            {
                continue;
            }
            rec.policy = Some(outcome_of(engine.version(), &decision));
            rec.legs = legs;
            match &decision {
                Decision::Deny { .. } => {
                    let err = failed(ErrorCode::PolicyDenied, deny_reasons(&decision), Vec::new());
                    self.set_state(&mut rec, RequestState::Rejected, Some(err));
                }
                Decision::Allow { .. } => self.approve_and_start(
                    rec,
                    Grant {
                        policy_version: engine.version(),
                        approvals: Vec::new(),
                    },
                ),
                Decision::AllowWithApprovals { quorum, .. } => {
                    let usable = self.usable_approvals(&rec, &engine, quorum, now);
                    let hash: [u8; 32] = hex::decode(&rec.intent_hash)
                        .ok()
                        .and_then(|v| v.try_into().ok())
                        .unwrap_or([0; 32]);
                    let met = check_quorum(
                        quorum,
                        &usable,
                        engine.bundle(),
                        &rec.request_id,
                        &hash,
                        engine.version(),
                        now,
                    )
                    .is_ok();
                    if met {
                        self.approve_and_start(
                            rec,
                            Grant {
                                policy_version: engine.version(),
                                approvals: usable,
                            },
                        );
                    } else {
                        rec.updated_at_ms = self.inner.clock.now_ms();
                        self.save(&rec);
                    }
                }
            }
        }
    }

    /// The policy in force at the coordinator, the mode, and which linked signers report the
    /// same bundle version.
    pub fn policy_info(&self) -> Result<PolicyInfo, CoordError> {
        let (engine, mode_change) = {
            let st = self.policy_read();
            (st.engine.clone(), st.mode.clone())
        };
        let now = self.inner.clock.now_unix();
        let version = engine.as_ref().map(|e| e.version()).unwrap_or(0);
        let signers_current = if version == 0 {
            Vec::new()
        } else {
            self.signers_on_version(version)?.1
        };
        Ok(PolicyInfo {
            version,
            tenant: engine
                .as_ref()
                .map(|e| e.bundle().tenant.clone())
                .unwrap_or_default(),
            bundle_hash: engine
                .as_ref()
                .map(|e| hex::encode(e.bundle_hash()))
                .unwrap_or_default(),
            policy_ids: engine.as_ref().map(|e| e.policy_ids()).unwrap_or_default(),
            mode: mode_in_force(mode_change.as_ref(), now).name().to_string(),
            mode_expires_at: mode_change
                .as_ref()
                .filter(|m| now >= m.issued_at && now < m.expires_at)
                .map(|m| m.expires_at),
            signers_current,
        })
    }

    // ------------------------------------------------------------------ queries

    /// Signing requests (transactions and digests), newest first, optionally in one state.
    pub fn requests(
        &self,
        state: Option<RequestState>,
        limit: u32,
    ) -> Result<Vec<RequestInfo>, CoordError> {
        Ok(self
            .inner
            .store
            .requests(state, limit.min(1000))?
            .iter()
            .map(info)
            .collect())
    }

    /// One signing request by its request id.
    pub fn request(&self, request_id: &str) -> Result<RequestInfo, CoordError> {
        self.inner
            .store
            .request(request_id)?
            .map(|r| info(&r))
            .ok_or_else(|| CoordError::NotFound(format!("no request {request_id}")))
    }
}

/// Counts a signed request's legs in `ledger` at its signing time.
fn record_legs(ledger: &mut dyn VelocityLedger, rec: &RequestRecord) -> Result<(), String> {
    let Some(at) = rec.signed_at else {
        return Ok(());
    };
    for leg in &rec.legs {
        let asset = AssetKey::from_str(&leg.asset).map_err(|e| e.to_string())?;
        let amount =
            BaseUnits::parse(&leg.amount).ok_or_else(|| format!("bad amount {}", leg.amount))?;
        ledger
            .record(&rec.wallet_id, &asset, &amount, at)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiTokens, Config, OsEntropy, SqliteStore};
    use tessera_crypto::MessageHash;
    use tessera_proto::api::{MessageInput, SessionInfo, SignRequest};
    use tessera_proto::SystemClock;
    use tessera_wire::{Action, OperatorKey};

    fn coordinator() -> Coordinator {
        Coordinator::new(
            Config::new("https://127.0.0.1:1".into(), ApiTokens::new()),
            Arc::new(SqliteStore::in_memory().expect("store")),
            Arc::new(AuditLog::in_memory("coordinator:test").expect("audit")),
            Arc::new(SystemClock),
            Arc::new(OsEntropy),
        )
    }

    fn record(request_id: &str, state: RequestState) -> RequestRecord {
        let message = MessageInput::Preimage {
            hash: MessageHash::Sha256,
            hex: "00".into(),
        };
        let op = OperatorKey::generate(&mut rand_core::OsRng);
        let action = Action::Sign {
            wallet_id: "w".into(),
            path: "m".into(),
            messages: vec![],
        };
        RequestRecord {
            request_id: request_id.into(),
            wallet_id: "w".into(),
            state,
            summary: String::new(),
            intent: None,
            intent_hash: hex::encode([0u8; 32]),
            risk_flags: Vec::new(),
            requester: String::new(),
            policy: None,
            approvals: Vec::new(),
            expires_at: 1,
            error: None,
            legs: Vec::new(),
            signed_at: None,
            created_at_ms: 0,
            updated_at_ms: 0,
            body: RequestBody::Sign(SignRequest {
                request_id: request_id.into(),
                message,
                path: "m".into(),
                authorization: Authorization::sign(&op, request_id.into(), action, 1),
            }),
        }
    }

    fn stored(c: &Coordinator, id: &str) -> RequestState {
        c.inner
            .store
            .request(id)
            .expect("read")
            .expect("stored")
            .state
    }

    /// A request that ended stays as it ended, whatever a late, duplicated or reordered event
    /// (an expiry sweep, a signing outcome, an approval) holding an older copy of it says; the
    /// refused moves leave no audit entry. A move the lifecycle allows still happens.
    #[tokio::test]
    async fn a_request_that_ended_never_changes_state() {
        let c = coordinator();
        let audited = || c.audit_log().entries(0, 10_000).expect("entries").len();
        for end in [
            RequestState::Signed,
            RequestState::Rejected,
            RequestState::Expired,
            RequestState::Failed,
        ] {
            let id = format!("r-{end:?}");
            let mut rec = record(&id, end);
            c.insert_request(&rec).expect("insert");
            let before = audited();

            let mut stale = rec.clone();
            stale.state = RequestState::AwaitingApprovals;
            c.expire(&mut stale);
            assert_eq!(stale.state, end, "expiry of a stale copy");

            let mut stale = rec.clone();
            stale.state = RequestState::Signing;
            let err = failed(ErrorCode::Timeout, "late".into(), Vec::new());
            let after = c.conclude(stale, RequestState::Failed, Some(err), Value::Null);
            assert_eq!(after.state, end, "a late signing outcome");

            assert!(!c.set_state(&mut rec, RequestState::Approved, None));
            assert_eq!(stored(&c, &id), end);
            assert_eq!(audited(), before, "{end:?}: a refused move is not audited");
        }
        let mut rec = record("r-awaiting", RequestState::AwaitingApprovals);
        c.insert_request(&rec).expect("insert");
        c.expire(&mut rec);
        assert_eq!(stored(&c, "r-awaiting"), RequestState::Expired);
        // …and a second expiry of the same copy changes nothing more.
        let before = audited();
        let mut again = rec.clone();
        again.state = RequestState::AwaitingApprovals;
        c.expire(&mut again);
        assert_eq!(audited(), before);
    }

    /// A restart between storing a request's signed session and concluding the request (the
    /// kill -9 campaign's window): the request is concluded as signed, with its signature
    /// audited, not failed as interrupted while its session serves a signature. A request
    /// without a stored signature still fails as interrupted.
    #[tokio::test]
    async fn a_request_signed_before_a_restart_is_concluded_signed() {
        let c = coordinator();
        let signed = record("r-signed", RequestState::Signing);
        c.insert_request(&signed).expect("insert");
        let session = SessionInfo {
            session_id: request_session_id("w", "r-signed"),
            kind: tessera_proto::api::SessionKind::Sign,
            wallet_id: "w".into(),
            request_id: Some("r-signed".into()),
            status: SessionStatus::Done,
            participants: Vec::new(),
            attempts: 1,
            path: Some("m".into()),
            sign_path: None,
            signature: Some(tessera_crypto::Signature::Ed25519([7u8; 64])),
            public_key: None,
            error: None,
            created_at_ms: 0,
            finished_at_ms: Some(1),
        };
        c.inner.store.put_session(&session).expect("session");
        c.insert_request(&record("r-cut", RequestState::Signing))
            .expect("insert");

        c.fail_interrupted().expect("resume");

        assert_eq!(stored(&c, "r-signed"), RequestState::Signed);
        assert_eq!(stored(&c, "r-cut"), RequestState::Failed);
        let entries = c.audit_log().entries(0, 10_000).expect("entries");
        assert!(entries
            .iter()
            .any(|e| e.subject == "r-signed" && e.kind == EntryKind::Signature));
    }
}

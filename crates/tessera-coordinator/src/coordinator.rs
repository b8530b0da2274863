//! Session orchestration: key generation, signing (from the presignature pool or the full
//! protocol, with retries on another signer subset), and pool refills. The request lifecycle
//! (policy, approvals, expiry, audit) is in [`crate::lifecycle`].
//!
//! The coordinator is trusted for liveness only. It checks requests early to give clear errors,
//! but every signer re-checks everything itself.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tessera_audit::{AuditLog, RefusalReason};
use tessera_chains::{ChainError, Payload, Registry, WalletKey};
use tessera_crypto::{
    hd, scheme, DerivationPath, PartialSignature, PresignPublic, PublicKey, SchemeId, SignMessage,
    Signature, ThresholdParams,
};
use tessera_policy::{BundleError, FreshnessError, MemoryLedger, ModeError};
use tessera_proto::api::{
    BuildTransaction, CreateTransaction, CreateWallet, DerivedKey, MessageInput, PayloadInput,
    RequestEvent, RequestState, SessionError, SessionInfo, SessionKind, SessionStatus, SignPath,
    SignRequest, TransactionInfo, TransactionPreview, WalletInfo, WalletStatus,
};
use tessera_proto::attestation::{WalletAttestation, WalletStatement};
use tessera_proto::link::{Failure, Job, Member, Outcome, ToSigner, TxContext};
use tessera_proto::states::ErrorCode;
use tessera_proto::Clock;
use tessera_wire::{authorized_message, check_networks, Action, NodeId};
use tokio::sync::{broadcast, mpsc, watch, Notify};

use crate::auth::ApiTokens;
use crate::hub::{Event, Hub, Live, Relay};
use crate::lifecycle::{message_risk_flags, message_summary, Admission, Grant, PolicyState};
use crate::metrics::{Metrics, OutcomeLabels, SessionLabels};
use crate::store::{PoolEntry, RequestBody, SignerRecord, Store, StoreError};

/// Source of random bytes (session ids, link challenges); injectable for simulation.
pub trait Entropy: Send + Sync + 'static {
    /// Fills `buf`.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's RNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, buf);
    }
}

/// Coordinator settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The URL signers dial (`https://host:port`); bound into their hello signature.
    pub public_url: String,
    /// The REST API's bearer tokens, one per role (hashed).
    pub tokens: ApiTokens,
    /// Pooled nonce sets kept per FROST wallet.
    pub frost_pool: u32,
    /// Pooled presignatures kept per cggmp24 wallet.
    pub cggmp24_pool: u32,
    /// Signing attempts per request (each on another signer subset where possible).
    pub max_attempts: u32,
    /// Key-generation timeout.
    pub keygen_timeout: Duration,
    /// Signing / presigning timeout per attempt.
    pub sign_timeout: Duration,
    /// Spare signers a wallet should have: it is below the margin (and degraded mode is
    /// recommended) while fewer than `threshold + degraded_margin` of its signers are healthy.
    pub degraded_margin: u16,
    /// How long a change of signer health must hold before the recommendation follows it.
    pub health_grace: Duration,
    /// How long a request to one signer about its own records (an audit page) waits.
    pub signer_request_timeout: Duration,
    /// How long a client may take to complete the TLS handshake before it is disconnected.
    pub tls_handshake_timeout: Duration,
    /// How long a client may take to send a request's headers before it is disconnected.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
}

impl Config {
    /// Defaults for everything but `public_url` and `tokens`.
    pub fn new(public_url: String, tokens: ApiTokens) -> Self {
        Config {
            public_url,
            tokens,
            frost_pool: 64,
            cggmp24_pool: 4,
            max_attempts: 3,
            keygen_timeout: Duration::from_secs(900),
            sign_timeout: Duration::from_secs(30),
            degraded_margin: 1,
            health_grace: Duration::from_secs(30),
            signer_request_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_body_bytes: 1 << 20,
        }
    }
}

/// Errors the API maps to HTTP statuses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoordError {
    /// Bad request (400).
    #[error("{0}")]
    Invalid(String),
    /// Unknown wallet, session or signer (404).
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with existing state (409).
    #[error("{0}")]
    Conflict(String),
    /// The wallet is not ready (409).
    #[error("{0}")]
    NotReady(String),
    /// Not enough signers online (503).
    #[error("{0}")]
    Unavailable(String),
    /// Store failure (500).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The chain adapter refused the payload (400 / 422, naming the field).
    #[error("{0}")]
    Chain(#[from] ChainError),
    /// The requester's authorization does not verify (400).
    #[error("{0}")]
    AuthorizationInvalid(String),
    /// The requester's authorization has expired (400).
    #[error("{0}")]
    AuthorizationExpired(String),
    /// No policy bundle is installed: nothing can be evaluated, so nothing signs (409).
    #[error("{0}")]
    NoPolicy(String),
    /// A policy bundle was refused (409 for a stale version or another tenant, else 422).
    #[error("policy bundle refused: {0}")]
    Bundle(#[from] BundleError),
    /// A mode change was refused (409 for a stale sequence number, else 422).
    #[error("mode change refused: {0}")]
    Mode(#[from] ModeError),
    /// A policy freshness statement was refused (409 when it is not newer or names another
    /// bundle or mode change than the coordinator's, else 422).
    #[error("policy refresh refused: {0}")]
    Freshness(#[from] FreshnessError),
    /// An approval is forged, for another request, intent or policy version (422).
    #[error("{0}")]
    ApprovalInvalid(String),
    /// An approval has expired (422).
    #[error("{0}")]
    ApprovalExpired(String),
    /// The approver is in none of the roles the request's quorum needs (403).
    #[error("{0}")]
    NotAnApprover(String),
    /// The request is not awaiting approvals (409).
    #[error("{0}")]
    NotAwaiting(String),
    /// The policy in force denies the action (403).
    #[error("{0}")]
    PolicyDenied(String),
    /// The audit log refused an entry; the action was not taken (500, fail closed).
    #[error("audit log unavailable: {0}")]
    Audit(String),
    /// The signer is enrolled but not linked now, or its link dropped before it answered (503).
    #[error("{0}")]
    SignerNotLinked(String),
    /// The signer did not answer in time (504).
    #[error("{0}")]
    SignerTimeout(String),
    /// The signer answered a request about its own records with an error (502; 503 when it is
    /// busy).
    #[error("signer answered: {0}")]
    SignerAudit(tessera_proto::audit::AuditPageError),
}

impl CoordError {
    /// The code a signing request that stopped on this error records ([`ErrorCode`]):
    /// a chain adapter's own code, `not_enough_signers`, `conflict`, or `internal`.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            CoordError::Chain(e) => ErrorCode::from(e),
            CoordError::Unavailable(_) => ErrorCode::NotEnoughSigners,
            CoordError::Conflict(_) => ErrorCode::Conflict,
            _ => ErrorCode::Internal,
        }
    }

    /// Stable error code of the HTTP error body.
    pub fn code(&self) -> &'static str {
        match self {
            CoordError::Invalid(_) => "invalid_request",
            CoordError::NotFound(_) => "not_found",
            CoordError::Conflict(_) => "conflict",
            CoordError::NotReady(_) => "not_ready",
            CoordError::Unavailable(_) => "not_enough_signers",
            CoordError::Store(_) => "internal",
            CoordError::Chain(e) => e.code(),
            CoordError::AuthorizationInvalid(_) => "authorization_invalid",
            CoordError::AuthorizationExpired(_) => "authorization_expired",
            CoordError::NoPolicy(_) => "no_policy",
            CoordError::Bundle(e) => match e {
                BundleError::StaleVersion { .. } => "stale_version",
                BundleError::TenantMismatch { .. } => "tenant_mismatch",
                BundleError::QuorumNotMet { .. }
                | BundleError::BadSignature { .. }
                | BundleError::UnknownAdmin { .. } => "bundle_signatures_invalid",
                _ => "bundle_invalid",
            },
            CoordError::Mode(e) => match e {
                ModeError::StaleSequence { .. } => "stale_sequence",
                _ => "mode_invalid",
            },
            CoordError::Freshness(e) => match e {
                FreshnessError::NotNewer { .. }
                | FreshnessError::OtherBundle { .. }
                | FreshnessError::OtherMode { .. } => "freshness_conflict",
                _ => "freshness_invalid",
            },
            CoordError::ApprovalInvalid(_) => "approval_invalid",
            CoordError::ApprovalExpired(_) => "approval_expired",
            CoordError::NotAnApprover(_) => "not_an_approver",
            CoordError::NotAwaiting(_) => "not_awaiting_approvals",
            CoordError::PolicyDenied(_) => "policy_denied",
            CoordError::Audit(_) => "audit_unavailable",
            CoordError::SignerNotLinked(_) => "signer_not_linked",
            CoordError::SignerTimeout(_) => "signer_timeout",
            CoordError::SignerAudit(tessera_proto::audit::AuditPageError::Busy) => "signer_busy",
            CoordError::SignerAudit(_) => "signer_audit_unavailable",
        }
    }
}

/// Why one attempt failed.
#[derive(Debug, Clone)]
pub(crate) struct AttemptError {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    /// Nodes the protocol blamed.
    pub(crate) culprits: Vec<NodeId>,
    /// Nodes that failed, refused or dropped: the retry runs without them where enough others
    /// are linked, with them otherwise (a timeout or a busy signer proves no misbehaviour).
    pub(crate) failed: Vec<NodeId>,
    /// Retrying cannot help (unauthorized, replayed, a policy refusal).
    pub(crate) fatal: bool,
    /// A signer refused the request (for the audit log).
    pub(crate) refusal: Option<RefusalReason>,
    /// Signers that released their share of this request in the failed attempt: they
    /// refuse it from now on (one release per request), so a retry runs without them.
    pub(crate) released: Box<[NodeId]>,
}

/// What one signing attempt needs.
struct AttemptCtx<'a> {
    wallet: &'a WalletInfo,
    roster: &'a [Member],
    req: &'a SignRequest,
    message: &'a SignMessage,
    path: &'a DerivationPath,
    transaction: Option<TxContext>,
    grant: &'a Grant,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) hub: Hub,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) entropy: Arc<dyn Entropy>,
    /// Finished-session notifications for waiting API calls.
    waiters: Mutex<HashMap<String, watch::Sender<bool>>>,
    /// One queue per wallet for requests a velocity rule counts (`Coordinator::velocity_turn`).
    pub(crate) turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Wakes pool refills.
    pub(crate) pool_changed: Notify,
    refilling: Mutex<HashSet<String>>,
    /// Wallets with a reshare running or a commit not finished (`crate::reshare`).
    pub(crate) resharing: Mutex<HashSet<String>>,
    /// Held while a wallet record moves to a new epoch and while a presignature is pooled, so
    /// no presignature of an older epoch is pooled after the pool was emptied.
    pub(crate) epoch_change: Mutex<()>,
    /// The vault id each signer last reported (`Coordinator::note_vault`).
    pub(crate) vaults: Mutex<HashMap<NodeId, String>>,
    rotate: AtomicUsize,
    /// Chain adapters, to parse payloads early (signers parse them again themselves).
    pub(crate) chains: Registry,
    /// The coordinator's audit log.
    pub(crate) audit: Arc<AuditLog>,
    /// Set once an audit append failed (logged once, then every failure stays quiet).
    pub(crate) audit_failed: AtomicBool,
    /// The policy bundle and mode change in force.
    pub(crate) policy: RwLock<PolicyState>,
    /// What this coordinator saw signed, for its own (early) velocity checks.
    pub(crate) ledger: Mutex<MemoryLedger>,
    /// Request state changes, for `GET /v1/events`.
    pub(crate) events: broadcast::Sender<RequestEvent>,
    /// Serializes request state changes (approvals, expiry, re-evaluation, policy changes).
    pub(crate) transitions: Mutex<()>,
    /// The sweep task (expiry, health) is running.
    pub(crate) expiring: AtomicBool,
    /// Signer health and the degraded-mode recommendation.
    pub(crate) health: Mutex<crate::health::HealthState>,
}

/// The coordinator. Cheap to clone.
#[derive(Clone)]
pub struct Coordinator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Coordinator {
    /// A coordinator over `store`, appending to `audit` (see [`crate::open_audit_log`]). Loads
    /// the policy bundle and mode change in force and rebuilds the velocity ledger from the
    /// store.
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Self {
        let metrics = Arc::new(Metrics::new());
        let c = Coordinator {
            inner: Arc::new(Inner {
                hub: Hub::new(metrics.clone(), clock.clone()),
                config,
                store,
                clock,
                metrics,
                entropy,
                waiters: Mutex::new(HashMap::new()),
                turns: Mutex::new(HashMap::new()),
                pool_changed: Notify::new(),
                refilling: Mutex::new(HashSet::new()),
                resharing: Mutex::new(HashSet::new()),
                epoch_change: Mutex::new(()),
                vaults: Mutex::new(HashMap::new()),
                rotate: AtomicUsize::new(0),
                chains: tessera_chains::registry(),
                audit,
                audit_failed: AtomicBool::new(false),
                policy: RwLock::new(PolicyState::default()),
                ledger: Mutex::new(MemoryLedger::new()),
                events: broadcast::channel(1024).0,
                transitions: Mutex::new(()),
                expiring: AtomicBool::new(false),
                health: Mutex::new(crate::health::HealthState::default()),
            }),
        };
        c.load_state();
        c
    }

    /// Settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The relay / signer registry.
    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    /// Metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Starts pool refills for every ready wallet and the expiry of requests awaiting
    /// approvals; marks requests a previous run left signing as failed (`interrupted`). Call
    /// once at startup, inside a runtime.
    pub fn resume(&self) -> Result<(), CoordError> {
        for w in self.inner.store.wallets()? {
            if w.status == WalletStatus::Ready {
                self.ensure_refill(&w);
            }
        }
        self.fail_interrupted_sessions()?;
        self.resume_commits()?;
        self.resume_leave_notices();
        self.fail_interrupted()?;
        self.start_sweeps();
        Ok(())
    }

    // ------------------------------------------------------------------ signers

    /// A page of enrolled signer `node`'s own audit log (`from_seq` default 1, `limit` capped
    /// at [`tessera_proto::audit::MAX_AUDIT_PAGE`]), over `challenge` (default: a fresh random
    /// one — then freshness rests on this coordinator, so clients send their own). Relayed as
    /// the signer sent it; the client verifies the signed head.
    pub async fn signer_audit_page(
        &self,
        node: NodeId,
        from_seq: Option<u64>,
        limit: Option<u32>,
        challenge: Option<[u8; 32]>,
    ) -> Result<tessera_proto::audit::AuditPage, CoordError> {
        use crate::hub::AuditRequestError as E;
        use tessera_proto::audit::MAX_AUDIT_PAGE;
        if !self
            .inner
            .store
            .signers()?
            .iter()
            .any(|s| s.identity.node_id() == node)
        {
            return Err(CoordError::NotFound(format!(
                "no signer {node} is enrolled"
            )));
        }
        let challenge = challenge.unwrap_or_else(|| {
            let mut out = [0u8; 32];
            self.inner.entropy.fill(&mut out);
            out
        });
        let limit = limit.unwrap_or(MAX_AUDIT_PAGE).min(MAX_AUDIT_PAGE);
        self.inner
            .hub
            .audit_page(
                node,
                from_seq.unwrap_or(1),
                limit,
                challenge,
                self.inner.config.signer_request_timeout,
            )
            .await
            .map_err(|e| match e {
                E::NotLinked(_) | E::Disconnected(_) => CoordError::SignerNotLinked(e.to_string()),
                E::Timeout { .. } => CoordError::SignerTimeout(e.to_string()),
                E::Refused(r) => CoordError::SignerAudit(r),
            })
    }

    /// Enrolls a signer.
    pub fn enroll(&self, record: SignerRecord) -> Result<(), CoordError> {
        let signed = tessera_wire::SignedIdentity {
            identity: record.identity,
            proof: record.proof,
        };
        if signed.verify().is_err() {
            return Err(CoordError::Invalid(
                "the identity's key-binding proof does not verify".into(),
            ));
        }
        if record.name.is_empty() || record.name.len() > 64 {
            return Err(CoordError::Invalid(
                "signer name must be 1–64 characters".into(),
            ));
        }
        self.inner.store.add_signer(&record).map_err(|e| match e {
            StoreError::Conflict => CoordError::Conflict("this signer is already enrolled".into()),
            e => e.into(),
        })
    }

    pub(crate) fn members(&self, signers: &[NodeId]) -> Result<Vec<Member>, CoordError> {
        let enrolled = self.inner.store.signers()?;
        signers
            .iter()
            .enumerate()
            .map(|(i, id)| {
                enrolled
                    .iter()
                    .find(|s| s.identity.node_id() == *id)
                    .map(|s| Member {
                        index: i as u16,
                        identity: s.identity,
                        proof: s.proof.to_vec(),
                    })
                    .ok_or_else(|| CoordError::Invalid(format!("signer {id} is not enrolled")))
            })
            .collect()
    }

    // ------------------------------------------------------------------ wallets

    /// Starts key generation for a new wallet.
    pub fn create_wallet(&self, req: CreateWallet) -> Result<WalletInfo, CoordError> {
        if !valid_id(&req.wallet_id) {
            return Err(CoordError::Invalid(
                "wallet_id must be 1–64 characters of [a-z0-9_-]".into(),
            ));
        }
        let n = req.signers.len() as u16;
        ThresholdParams::new(req.threshold, n)
            .map_err(|e| CoordError::Invalid(format!("threshold: {e}")))?;
        let mut seen = HashSet::new();
        if !req.signers.iter().all(|s| seen.insert(*s)) {
            return Err(CoordError::Invalid("a signer is listed twice".into()));
        }
        check_networks(&req.networks).map_err(|e| CoordError::Invalid(format!("networks: {e}")))?;
        self.refuse_quarantined_holders(&req.signers)?;
        let roster = self.members(&req.signers)?;
        let action = expected_creation(&req)?;
        self.admit_key_operation(&req.authorization, &req.wallet_id, action, &req.approvals)?;
        if let Some(missing) = req.signers.iter().find(|s| !self.inner.hub.is_connected(s)) {
            return Err(CoordError::Unavailable(format!(
                "key generation needs all {n} signers online; {missing} is not connected"
            )));
        }
        let session = self.random_id();
        let wallet = WalletInfo {
            wallet_id: req.wallet_id.clone(),
            name: req.name.clone(),
            scheme: req.scheme,
            threshold: req.threshold,
            signers: req.signers.clone(),
            status: WalletStatus::Creating,
            public_key: None,
            chain_code: None,
            keygen_session: hex::encode(session),
            pool: 0,
            created_at_ms: self.inner.clock.now_ms(),
            error: None,
            attestations: Vec::new(),
            networks: req.networks.clone(),
            epoch: 0,
            committing_epoch: None,
        };
        self.inner
            .store
            .insert_wallet(&wallet)
            .map_err(|e| match e {
                StoreError::Conflict => CoordError::Conflict("a wallet with this id exists".into()),
                e => e.into(),
            })?;
        let record = SessionInfo {
            session_id: hex::encode(session),
            kind: SessionKind::Keygen,
            wallet_id: wallet.wallet_id.clone(),
            request_id: Some(req.authorization.request_id.clone()),
            status: SessionStatus::Running,
            participants: req.signers.clone(),
            attempts: 1,
            path: None,
            sign_path: None,
            signature: None,
            public_key: None,
            error: None,
            created_at_ms: wallet.created_at_ms,
            finished_at_ms: None,
        };
        self.inner.store.put_session(&record)?;
        self.waiter(&record.session_id);
        let me = self.clone();
        let job = Job::Keygen {
            scheme: req.scheme,
            threshold: req.threshold,
            authorization: req.authorization,
            import: req.import,
            approvals: req.approvals,
        };
        let w = wallet.clone();
        tokio::spawn(async move { me.run_keygen(w, roster, session, job, record).await });
        Ok(wallet)
    }

    /// The key the holders must end up with: an import's (its authorization names it), or
    /// none for a key generation.
    fn imported_key(job: &Job) -> Option<PublicKey> {
        match job {
            Job::Keygen { authorization, .. } => match &authorization.action {
                Action::Import { public_key, .. } => Some(public_key.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    async fn run_keygen(
        &self,
        mut wallet: WalletInfo,
        roster: Vec<Member>,
        session: [u8; 32],
        job: Job,
        mut record: SessionInfo,
    ) {
        let all: Vec<u16> = roster.iter().map(|m| m.index).collect();
        let imported = Self::imported_key(&job);
        let result = self
            .run_session(
                session,
                &wallet,
                &roster,
                &all,
                job,
                self.inner.config.keygen_timeout,
            )
            .await;
        let agreed = result
            .and_then(|outcomes| agree_on_key(&wallet, roster_ids(&roster), &outcomes))
            .and_then(|agreed| match imported {
                Some(pk) if pk != agreed.0 => {
                    Err(disagreement("the holders' key is not the imported one"))
                }
                _ => Ok(agreed),
            });
        let now = self.inner.clock.now_ms();
        match agreed {
            Ok((pk, cc, attestations)) => {
                tracing::info!(wallet = %wallet.wallet_id, scheme = wallet.scheme.name(), public_key = %pk.to_hex(), vouched = attestations.len(), "wallet ready");
                wallet.status = WalletStatus::Ready;
                wallet.public_key = Some(pk.clone());
                wallet.chain_code = Some(hex::encode(cc));
                wallet.attestations = attestations;
                record.status = SessionStatus::Done;
                record.public_key = Some(pk);
            }
            Err(e) => {
                tracing::warn!(wallet = %wallet.wallet_id, code = %e.code, "key generation failed: {}", e.message);
                wallet.status = WalletStatus::Failed;
                wallet.error = Some(e.message.clone());
                record.status = SessionStatus::Failed;
                record.error = Some(session_error(&e));
            }
        }
        record.finished_at_ms = Some(now);
        if let Err(e) = self.inner.store.update_wallet(&wallet) {
            tracing::error!(error = %e, "could not store the wallet");
        }
        self.finish(&record);
        if wallet.status == WalletStatus::Ready {
            self.ensure_refill(&wallet);
        }
    }

    /// One wallet, with its current pool size.
    pub fn wallet(&self, id: &str) -> Result<WalletInfo, CoordError> {
        let mut w = self
            .inner
            .store
            .wallet(id)?
            .ok_or_else(|| CoordError::NotFound(format!("no wallet {id}")))?;
        self.live_fields(&mut w)?;
        Ok(w)
    }

    /// All wallets.
    pub fn wallets(&self) -> Result<Vec<WalletInfo>, CoordError> {
        let mut ws = self.inner.store.wallets()?;
        for w in &mut ws {
            self.live_fields(w)?;
        }
        Ok(ws)
    }

    /// The fields of a wallet record that are read when it is shown: its pool size and the
    /// epoch a decided reshare is still committing.
    fn live_fields(&self, w: &mut WalletInfo) -> Result<(), CoordError> {
        w.pool = self.inner.store.pool_count(&w.wallet_id)?;
        w.committing_epoch = self.committing_epoch(&w.wallet_id)?;
        Ok(())
    }

    /// A derived public key.
    pub fn derive(&self, id: &str, path: &str) -> Result<DerivedKey, CoordError> {
        let w = self.ready_wallet(id)?;
        let (pk, _) = derived_key(&w, path)?;
        let taproot_output_key = if w.scheme == SchemeId::SchnorrBip340 {
            Some(hex::encode(hd::taproot_output_key(&pk).map_err(|e| {
                CoordError::Invalid(format!("taproot output key: {e}"))
            })?))
        } else {
            None
        };
        Ok(DerivedKey {
            wallet_id: id.to_string(),
            path: path.to_string(),
            public_key: pk,
            taproot_output_key,
        })
    }

    pub(crate) fn ready_wallet(&self, id: &str) -> Result<WalletInfo, CoordError> {
        let w = self.wallet(id)?;
        if w.status != WalletStatus::Ready {
            return Err(CoordError::NotReady(format!(
                "wallet {id} is {:?}",
                w.status
            )));
        }
        Ok(w)
    }

    // ------------------------------------------------------------------ signing

    /// Accepts a signature request for a digest or message without chain payload: checks it
    /// and its authorization, evaluates the policy (the requester is the authorization's key)
    /// and audits the decision. Allowed: signing starts (with `wait`, this returns once it
    /// finished). Needs approvals: the request waits for them (`GET /v1/requests/{id}`), and the
    /// session record stays `running`. Denied: the request is stored as rejected and the session
    /// record as failed (`policy_denied`).
    pub async fn sign(
        &self,
        wallet_id: &str,
        req: SignRequest,
        wait: bool,
    ) -> Result<SessionInfo, CoordError> {
        let wallet = self.ready_wallet(wallet_id)?;
        let message = req.message.to_sign_message().map_err(CoordError::Invalid)?;
        check_message(wallet.scheme, &message)?;
        self.check_plain_message(wallet.scheme, &message)?;
        let (pk, _) = derived_key(&wallet, &req.path)?;
        let expected = Action::Sign {
            wallet_id: wallet_id.to_string(),
            path: req.path.clone(),
            messages: vec![authorized_message(&message)
                .map_err(|e| CoordError::Invalid(format!("message: {e}")))?],
        };
        if req.authorization.action != expected {
            return Err(CoordError::Invalid(
                "the authorization does not cover this wallet, path and message".into(),
            ));
        }
        if req.authorization.request_id != req.request_id {
            return Err(CoordError::Invalid(
                "request_id differs from the authorization's".into(),
            ));
        }
        let requester = self.check_authorization(&req.authorization)?;
        let id = request_session_id(wallet_id, &req.request_id);
        if let Some(existing) = self.inner.store.session(&id)? {
            return Err(CoordError::Conflict(format!(
                "request {} was already submitted (session {}, {:?})",
                req.request_id, existing.session_id, existing.status
            )));
        }
        let intent_hash = expected
            .intent_hash()
            .ok_or_else(|| CoordError::Invalid("not a signing authorization".into()))?;
        // Admission is one step under the transitions lock, so a policy change cannot slip
        // between the decision and the stored record.
        let (rec, grant, record) = {
            let _g = lock(&self.inner.transitions);
            self.check_new_request(&req.request_id)?;
            let (rec, grant) = self.decide(Admission {
                wallet_id,
                requester,
                intent: None,
                messages: std::slice::from_ref(&message),
                intent_hash,
                summary: message_summary(wallet_id, &req.path, &message),
                risk_flags: message_risk_flags(&message),
                body: RequestBody::Sign(req.clone()),
            })?;
            self.insert_request(&rec)?;
            let mut record = self.new_sign_record(wallet_id, &req.request_id, &req.path, pk)?;
            if rec.state.is_final() {
                record.status = SessionStatus::Failed;
                record.error = rec.error.clone();
                record.finished_at_ms = Some(self.inner.clock.now_ms());
                self.inner.store.put_session(&record)?;
            } else {
                self.waiter(&record.session_id);
            }
            self.emit(&rec);
            (rec, grant, record)
        };
        if rec.state != RequestState::Signing {
            return Ok(record);
        }
        if wait {
            self.execute(rec, grant).await;
            return Ok(self.inner.store.session(&id)?.unwrap_or(record));
        }
        let me = self.clone();
        tokio::spawn(async move {
            me.execute(rec, grant).await;
        });
        Ok(record)
    }

    /// Early answer for what every signer refuses: a plain message must be in a chain's
    /// off-chain message format for the scheme (never a transaction's signing message), or a
    /// raw digest, which the policy decides on.
    fn check_plain_message(&self, scheme: SchemeId, m: &SignMessage) -> Result<(), CoordError> {
        if matches!(m, SignMessage::RawDigest(_))
            || self.inner.chains.offchain_chain(scheme, m).is_some()
        {
            return Ok(());
        }
        Err(CoordError::Invalid(format!(
            "message: a plain message must be in a chain's off-chain message format for {scheme} \
             wallets ({}): other bytes could be a transaction's signing message, which only the \
             transactions endpoint signs, under the transaction policy",
            offchain_formats(scheme)
        )))
    }

    /// Stores a new, running sign-request record; one per (wallet, request id).
    fn new_sign_record(
        &self,
        wallet_id: &str,
        request_id: &str,
        path: &str,
        pk: PublicKey,
    ) -> Result<SessionInfo, CoordError> {
        let id = request_session_id(wallet_id, request_id);
        if let Some(existing) = self.inner.store.session(&id)? {
            return Err(CoordError::Conflict(format!(
                "request {request_id} was already submitted (session {}, {:?})",
                existing.session_id, existing.status
            )));
        }
        let record = SessionInfo {
            session_id: id,
            kind: SessionKind::Sign,
            wallet_id: wallet_id.to_string(),
            request_id: Some(request_id.to_string()),
            status: SessionStatus::Running,
            participants: Vec::new(),
            attempts: 0,
            path: Some(path.to_string()),
            sign_path: None,
            signature: None,
            public_key: Some(pk),
            error: None,
            created_at_ms: self.inner.clock.now_ms(),
            finished_at_ms: None,
        };
        self.inner.store.put_session(&record).map_err(|e| match e {
            StoreError::Conflict => CoordError::Conflict("request already submitted".into()),
            e => e.into(),
        })?;
        Ok(record)
    }

    /// Signs one message, retrying on other signer subsets, and returns the finished record
    /// (not yet stored: the caller stores it with [`Coordinator::finish`] or through the
    /// request lifecycle). Signer refusals are audited as they arrive.
    pub(crate) async fn run_sign(
        &self,
        wallet: WalletInfo,
        req: SignRequest,
        message: SignMessage,
        mut record: SessionInfo,
        tx: Option<TxContext>,
        grant: &Grant,
    ) -> SessionInfo {
        let started = self.inner.clock.now_ms();
        let roster = match self.members(&wallet.signers) {
            Ok(r) => r,
            Err(e) => {
                return self.failed_record(record, ErrorCode::Internal, e.to_string(), Vec::new());
            }
        };
        let path = match DerivationPath::parse(&req.path) {
            Ok(p) => p,
            Err(e) => {
                // Checked when the request was admitted: a stored path that no longer parses
                // is the coordinator's own fault.
                return self.failed_record(record, ErrorCode::Internal, e.to_string(), Vec::new());
            }
        };
        // Quarantined signers (policy in force) take part in no attempt, pooled or not.
        // Quarantined signers and the protocol's culprits take no further part; signers that
        // failed an attempt otherwise are avoided while enough others are linked.
        let mut excluded = self.quarantined_nodes();
        let mut avoid: HashSet<NodeId> = HashSet::new();
        let mut last: Option<AttemptError> = None;
        let presign_ok = presign_allowed(wallet.scheme, &message, &path);
        for attempt in 1..=self.inner.config.max_attempts.max(1) {
            record.attempts = attempt;
            // Fast path: a pooled presignature whose signers are all linked and not excluded.
            let entry = if presign_ok {
                let usable = |p: &PresignPublic| {
                    p.signers().iter().all(|i| {
                        wallet.signers.get(usize::from(*i)).is_some_and(|n| {
                            !excluded.contains(n)
                                && !avoid.contains(n)
                                && self.inner.hub.is_connected(n)
                        })
                    })
                };
                match self.inner.store.pool_take(&wallet.wallet_id, &usable) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::error!(error = %e, "pool read failed");
                        None
                    }
                }
            } else {
                None
            };
            self.inner.pool_changed.notify_waiters();
            let attempt_ctx = AttemptCtx {
                wallet: &wallet,
                roster: &roster,
                req: &req,
                message: &message,
                path: &path,
                transaction: tx.clone(),
                grant,
            };
            let result = match entry {
                Some(entry) => {
                    record.sign_path = Some(SignPath::Presigned);
                    self.sign_presigned(&attempt_ctx, entry, &mut record).await
                }
                None => {
                    record.sign_path = Some(SignPath::Full);
                    self.sign_full(&attempt_ctx, &excluded, &avoid, &mut record)
                        .await
                }
            };
            match result {
                Ok(sig) => {
                    record.status = SessionStatus::Done;
                    record.signature = Some(sig);
                    record.finished_at_ms = Some(self.inner.clock.now_ms());
                    record.error = None;
                    self.inner
                        .metrics
                        .session_seconds
                        .get_or_create(&SessionLabels {
                            scheme: wallet.scheme.name().into(),
                            kind: "request".into(),
                        })
                        .observe((self.inner.clock.now_ms() - started) as f64 / 1000.0);
                    return record;
                }
                Err(e) => {
                    tracing::warn!(
                        wallet = %wallet.wallet_id,
                        attempt,
                        code = %e.code,
                        culprits = ?e.culprits,
                        "signing attempt failed: {}",
                        e.message
                    );
                    if let Some(reason) = &e.refusal {
                        self.audit_refusal(
                            &req.authorization.request_id,
                            reason.clone(),
                            e.failed.first(),
                            e.code.as_str(),
                            &e.message,
                        );
                    }
                    avoid.extend(e.failed.iter().copied());
                    excluded.extend(e.culprits.iter().copied());
                    excluded.extend(e.released.iter().copied());
                    let fatal = e.fatal;
                    last = Some(e);
                    if fatal {
                        break;
                    }
                }
            }
        }
        let e = last.unwrap_or(AttemptError {
            code: ErrorCode::Internal,
            message: "no attempt was made".into(),
            culprits: Vec::new(),
            failed: Vec::new(),
            fatal: true,
            refusal: None,
            released: Box::default(),
        });
        self.failed_record(record, e.code, e.message, e.culprits)
    }

    /// Marks the sessions a previous run left running as failed (`interrupted`), and a wallet
    /// whose key generation was among them as failed: nothing will finish them. Signers keep
    /// no half-done state either (a session lives only in a signer's memory).
    fn fail_interrupted_sessions(&self) -> Result<(), CoordError> {
        for record in self.inner.store.running_sessions()? {
            let message = "the coordinator restarted while this session was running".to_string();
            let record =
                self.failed_record(record, ErrorCode::Interrupted, message.clone(), Vec::new());
            self.inner.store.put_session(&record)?;
            tracing::warn!(session = %record.session_id, wallet = %record.wallet_id, kind = ?record.kind, "session interrupted by a restart");
            if record.kind != SessionKind::Keygen {
                continue;
            }
            if let Some(mut w) = self.inner.store.wallet(&record.wallet_id)? {
                if w.status == WalletStatus::Creating {
                    w.status = WalletStatus::Failed;
                    w.error = Some(message);
                    self.inner.store.update_wallet(&w)?;
                }
            }
        }
        Ok(())
    }

    fn failed_record(
        &self,
        mut record: SessionInfo,
        code: ErrorCode,
        message: String,
        culprits: Vec<NodeId>,
    ) -> SessionInfo {
        record.status = SessionStatus::Failed;
        record.error = Some(failed(code, message, culprits));
        record.finished_at_ms = Some(self.inner.clock.now_ms());
        record
    }

    async fn sign_presigned(
        &self,
        a: &AttemptCtx<'_>,
        entry: PoolEntry,
        record: &mut SessionInfo,
    ) -> Result<Signature, AttemptError> {
        let wallet = a.wallet;
        let parts = entry.public.signers().to_vec();
        record.participants = nodes(wallet, &parts);
        let job = Job::SignPresigned {
            presignature: entry.public.id(),
            signers: parts.clone(),
            message: a.message.clone(),
            path: a.req.path.clone(),
            authorization: a.req.authorization.clone(),
            transaction: a.transaction.clone(),
            policy_version: a.grant.policy_version,
            approvals: a.grant.approvals.clone(),
        };
        let session = self.random_id();
        let outcomes = self
            .run_session(
                session,
                wallet,
                a.roster,
                &parts,
                job,
                self.inner.config.sign_timeout,
            )
            .await?;
        let partials: Vec<PartialSignature> = outcomes
            .into_iter()
            .filter_map(|(_, o)| match o {
                Outcome::Partial(p) => Some(p),
                _ => None,
            })
            .collect();
        let pk = wallet_key(wallet).map_err(internal_attempt)?;
        let (cc, _) = chain_code(wallet).map_err(internal_attempt)?;
        scheme(wallet.scheme)
            .combine(&pk, &cc, &entry.public, &partials, a.message, a.path)
            .map_err(|e| AttemptError {
                code: ErrorCode::ProtocolAbort,
                message: format!("combining partial signatures failed: {e}"),
                culprits: nodes(wallet, &e.culprits()),
                failed: nodes(wallet, &e.culprits()),
                fatal: false,
                refusal: None,
                released: Box::default(),
            })
    }

    async fn sign_full(
        &self,
        a: &AttemptCtx<'_>,
        excluded: &HashSet<NodeId>,
        avoid: &HashSet<NodeId>,
        record: &mut SessionInfo,
    ) -> Result<Signature, AttemptError> {
        let wallet = a.wallet;
        let parts = self
            .pick(wallet, excluded, avoid)
            .ok_or_else(|| AttemptError {
                code: ErrorCode::NotEnoughSigners,
                message: format!(
                    "fewer than {} of the wallet's signers are online and healthy",
                    wallet.threshold
                ),
                culprits: Vec::new(),
                failed: Vec::new(),
                fatal: true,
                refusal: None,
                released: Box::default(),
            })?;
        record.participants = nodes(wallet, &parts);
        let job = Job::Sign {
            signers: parts.clone(),
            message: a.message.clone(),
            path: a.req.path.clone(),
            authorization: a.req.authorization.clone(),
            transaction: a.transaction.clone(),
            policy_version: a.grant.policy_version,
            approvals: a.grant.approvals.clone(),
        };
        let session = self.random_id();
        let outcomes = self
            .run_session(
                session,
                wallet,
                a.roster,
                &parts,
                job,
                self.inner.config.sign_timeout,
            )
            .await?;
        let (derived, _) =
            derived_key(wallet, &a.req.path).map_err(|e| internal_attempt(e.to_string()))?;
        let sig = outcomes
            .into_iter()
            .find_map(|(_, o)| match o {
                Outcome::Signature(s) => Some(s),
                _ => None,
            })
            .ok_or_else(|| internal_attempt("no signature in the outcomes".into()))?;
        scheme(wallet.scheme)
            .verify(&derived, a.message, &sig)
            .map_err(|e| AttemptError {
                code: ErrorCode::ProtocolAbort,
                message: format!("the signers' signature does not verify: {e}"),
                culprits: Vec::new(),
                failed: Vec::new(),
                fatal: false,
                refusal: None,
                released: Box::default(),
            })?;
        Ok(sig)
    }

    /// Picks `t` linked signers not in `excluded`, rotating to spread load, and taking those in
    /// `avoid` (signers an earlier attempt failed with) only where too few others are linked.
    fn pick(
        &self,
        wallet: &WalletInfo,
        excluded: &HashSet<NodeId>,
        avoid: &HashSet<NodeId>,
    ) -> Option<Vec<u16>> {
        let n = wallet.signers.len();
        let t = usize::from(wallet.threshold);
        let start = self.inner.rotate.fetch_add(1, Ordering::Relaxed) % n.max(1);
        let linked: Vec<usize> = (0..n)
            .map(|k| (start + k) % n)
            .filter(|&i| {
                let node = &wallet.signers[i];
                !excluded.contains(node) && self.inner.hub.is_connected(node)
            })
            .collect();
        let avoided = |i: &usize| avoid.contains(&wallet.signers[*i]);
        let mut picked: Vec<u16> = linked
            .iter()
            .filter(|i| !avoided(i))
            .chain(linked.iter().filter(|i| avoided(i)))
            .take(t)
            .map(|&i| i as u16)
            .collect();
        if picked.len() < t {
            return None;
        }
        picked.sort_unstable();
        Some(picked)
    }

    // ------------------------------------------------------------------ transactions

    /// Resolves a payload (raw or builder form) and parses it with the chain adapter against
    /// the wallet key at `path`, for a network the wallet is bound to (`wrong_network`
    /// otherwise).
    fn parse_payload(
        &self,
        wallet: &WalletInfo,
        chain: &str,
        network: &str,
        path: &str,
        input: &PayloadInput,
    ) -> Result<TransactionPreview, CoordError> {
        let (pk, _) = derived_key(wallet, path)?;
        let adapter = self.inner.chains.get(chain)?;
        let key = WalletKey {
            scheme: wallet.scheme,
            public_key: &pk,
        };
        let payload: Payload = match (input.raw(), input) {
            (Some(raw), _) => raw.map_err(CoordError::Invalid)?,
            (None, PayloadInput::Builder { spec }) => adapter.build(network, key, spec)?,
            (None, _) => return Err(CoordError::Invalid("payload: unknown form".into())),
        };
        self.inner
            .chains
            .check_binding(&wallet.networks, chain, network, &payload)?;
        let parsed = adapter.parse(network, key, &payload)?;
        let address = adapter.address(network, key)?.address;
        let hash = parsed.intent_hash()?;
        Ok(TransactionPreview {
            wallet_id: wallet.wallet_id.clone(),
            chain: chain.to_string(),
            network: network.to_string(),
            path: path.to_string(),
            address,
            payload,
            summary: parsed.intent.render(),
            intent: parsed.intent,
            intent_hash: hex::encode(hash),
            messages: parsed.messages.len() as u32,
        })
    }

    /// Parses (or builds) a chain payload and shows its intent; signs nothing.
    pub fn build_transaction(
        &self,
        wallet_id: &str,
        req: &BuildTransaction,
    ) -> Result<TransactionPreview, CoordError> {
        let wallet = self.ready_wallet(wallet_id)?;
        self.parse_payload(&wallet, &req.chain, &req.network, &req.path, &req.payload)
    }

    /// Accepts a chain payload for signing: parses it, checks the requester's authorization
    /// covers its intent hash, evaluates the policy on the intent (the requester is the
    /// authorization's key) and audits the decision. Allowed: signs each of its messages (one
    /// signing request each, retried like any other) and assembles and independently verifies
    /// the signed transaction; with `wait`, returns once done. Needs approvals: returns at once
    /// in `awaiting_approvals`; signing starts when the quorum is met. Denied: stored and
    /// returned as `rejected`.
    pub async fn create_transaction(
        &self,
        wallet_id: &str,
        req: CreateTransaction,
        wait: bool,
    ) -> Result<TransactionInfo, CoordError> {
        let wallet = self.ready_wallet(wallet_id)?;
        let preview =
            self.parse_payload(&wallet, &req.chain, &req.network, &req.path, &req.payload)?;
        let adapter = self.inner.chains.get(&req.chain)?;
        let (pk, _) = derived_key(&wallet, &req.path)?;
        let parsed = adapter.parse(
            &req.network,
            WalletKey {
                scheme: wallet.scheme,
                public_key: &pk,
            },
            &preview.payload,
        )?;
        let hash = parsed.intent_hash()?;
        let expected = Action::SignTransaction {
            wallet_id: wallet_id.to_string(),
            path: req.path.clone(),
            chain: req.chain.clone(),
            network: req.network.clone(),
            intent_hash: hash,
        };
        if req.authorization.action != expected {
            return Err(CoordError::Invalid(
                "the authorization does not cover this wallet, path, chain, network and intent \
                 hash"
                    .into(),
            ));
        }
        if req.authorization.request_id != req.request_id {
            return Err(CoordError::Invalid(
                "request_id differs from the authorization's".into(),
            ));
        }
        for m in &parsed.messages {
            check_message(wallet.scheme, m)?;
        }
        let requester = self.check_authorization(&req.authorization)?;
        let id = request_session_id(wallet_id, &req.request_id);
        if self.inner.store.transaction(&id)?.is_some() {
            return Err(CoordError::Conflict(format!(
                "transaction request {} was already submitted",
                req.request_id
            )));
        }
        let risk_flags = parsed.intent.risk_flags.iter().map(|f| f.name()).collect();
        // Admission is one step under the transitions lock (see `sign`).
        let (rec, grant, record) = {
            let _g = lock(&self.inner.transitions);
            self.check_new_request(&req.request_id)?;
            let (rec, grant) = self.decide(Admission {
                wallet_id,
                requester,
                intent: Some(&parsed.intent),
                messages: &parsed.messages,
                intent_hash: hash,
                summary: preview.summary.clone(),
                risk_flags,
                body: RequestBody::Transaction(req.clone()),
            })?;
            let now = self.inner.clock.now_ms();
            let record = TransactionInfo {
                request_id: req.request_id.clone(),
                wallet_id: wallet_id.to_string(),
                chain: req.chain.clone(),
                network: req.network.clone(),
                path: req.path.clone(),
                address: preview.address,
                status: if rec.state.is_final() {
                    SessionStatus::Failed
                } else {
                    SessionStatus::Running
                },
                intent: preview.intent,
                summary: preview.summary,
                intent_hash: preview.intent_hash,
                payload: preview.payload,
                sessions: Vec::new(),
                signatures: Vec::new(),
                signed: None,
                error: rec.error.clone(),
                created_at_ms: now,
                finished_at_ms: rec.state.is_final().then_some(now),
                state: rec.state,
                policy: rec.policy.clone(),
                approvals: Vec::new(),
                expires_at: rec.expires_at,
            };
            self.insert_request(&rec)?;
            self.inner
                .store
                .insert_transaction(&id, &record)
                .map_err(|e| match e {
                    StoreError::Conflict => {
                        CoordError::Conflict("transaction request already submitted".into())
                    }
                    e => e.into(),
                })?;
            tracing::info!(
                wallet = wallet_id,
                request = %req.request_id,
                chain = %req.chain,
                state = ?rec.state,
                "transaction request accepted: {}",
                record.summary
            );
            if !rec.state.is_final() {
                self.waiter(&tx_waiter(&id));
            }
            self.emit(&rec);
            (rec, grant, record)
        };
        if rec.state != RequestState::Signing {
            return Ok(record);
        }
        if wait {
            self.execute(rec, grant).await;
            return Ok(self.inner.store.transaction(&id)?.unwrap_or(record));
        }
        let me = self.clone();
        tokio::spawn(async move {
            me.execute(rec, grant).await;
        });
        Ok(record)
    }

    /// Signs every message of a transaction request whose record (`record`, stored, state
    /// `signing`) is in the store, then assembles and independently verifies the signed
    /// transaction. Stores the finished record (state `signed`, or the state its failure
    /// maps to) and returns it; the request lifecycle wakes waiters.
    pub(crate) async fn run_transaction(
        &self,
        wallet: WalletInfo,
        req: CreateTransaction,
        messages: Vec<SignMessage>,
        mut record: TransactionInfo,
        pk: PublicKey,
        grant: &Grant,
    ) -> TransactionInfo {
        let id = request_session_id(&wallet.wallet_id, &req.request_id);
        // One signing request per message, all recorded first, then run concurrently (each
        // picks its own pooled presignature or signer subset and retries on its own).
        let mut jobs = Vec::with_capacity(messages.len());
        for (i, message) in messages.into_iter().enumerate() {
            let sub = SignRequest {
                request_id: format!("{}#{i}", req.request_id),
                message: MessageInput::from_sign_message(&message),
                path: req.path.clone(),
                authorization: req.authorization.clone(),
            };
            let session = match self.new_sign_record(
                &wallet.wallet_id,
                &sub.request_id,
                &req.path,
                pk.clone(),
            ) {
                Ok(s) => s,
                Err(e) => {
                    return self.fail_transaction(
                        &id,
                        record,
                        e.error_code(),
                        e.to_string(),
                        vec![],
                    );
                }
            };
            record.sessions.push(session.session_id.clone());
            let ctx = TxContext {
                chain: req.chain.clone(),
                network: req.network.clone(),
                payload: record.payload.clone(),
                index: i as u32,
            };
            let wallet = wallet.clone();
            jobs.push(async move {
                let done = self
                    .run_sign(wallet, sub, message, session, Some(ctx), grant)
                    .await;
                self.finish(&done);
                done
            });
        }
        self.store_transaction(&id, &record);
        let results = futures_util::future::join_all(jobs).await;
        for (i, done) in results.into_iter().enumerate() {
            match (done.status, done.signature) {
                (SessionStatus::Done, Some(sig)) => record.signatures.push(sig),
                _ => {
                    let e = done.error.unwrap_or(SessionError {
                        code: ErrorCode::Internal,
                        message: "signing ended without a signature".into(),
                        culprits: Vec::new(),
                    });
                    let message = format!("message {i}: {}", e.message);
                    return self.fail_transaction(&id, record, e.code, message, e.culprits);
                }
            }
        }
        let finished = self.inner.chains.get(&req.chain).and_then(|adapter| {
            let key = WalletKey {
                scheme: wallet.scheme,
                public_key: &pk,
            };
            let signed =
                adapter.finalize(&req.network, key, &record.payload, &record.signatures)?;
            adapter.verify(&req.network, key, &record.payload, &signed)?;
            Ok(signed)
        });
        match finished {
            Ok(signed) => {
                record.status = SessionStatus::Done;
                record.state = RequestState::Signed;
                record.signed = Some(signed);
                record.finished_at_ms = Some(self.inner.clock.now_ms());
                self.store_transaction(&id, &record);
                record
            }
            Err(e) => {
                tracing::error!(error = %e, request = %req.request_id, "assembling the signed transaction failed");
                self.fail_transaction(&id, record, ErrorCode::from(&e), e.to_string(), Vec::new())
            }
        }
    }

    fn fail_transaction(
        &self,
        id: &str,
        mut record: TransactionInfo,
        code: ErrorCode,
        message: String,
        culprits: Vec<NodeId>,
    ) -> TransactionInfo {
        record.status = SessionStatus::Failed;
        record.state = code.request_state();
        record.error = Some(failed(code, message, culprits));
        record.finished_at_ms = Some(self.inner.clock.now_ms());
        self.store_transaction(id, &record);
        record
    }

    pub(crate) fn store_transaction(&self, id: &str, record: &TransactionInfo) {
        if let Err(e) = self.inner.store.put_transaction(id, record) {
            tracing::error!(error = %e, request = %record.request_id, "could not store the transaction");
        }
    }

    /// Waits up to `wait` for the record behind waiter `key` to finish (returns at once when
    /// nothing runs under that key).
    async fn wait_for(&self, key: &str, wait: Option<Duration>) {
        let Some(wait) = wait else { return };
        let rx = lock(&self.inner.waiters).get(key).map(|tx| tx.subscribe());
        if let Some(mut rx) = rx {
            let _ = tokio::time::timeout(wait, rx.changed()).await;
        }
    }

    pub(crate) fn wake(&self, id: &str) {
        if let Some(tx) = lock(&self.inner.waiters).remove(id) {
            let _ = tx.send(true);
        }
    }

    /// A transaction request by wallet and request id; with `wait`, waits up to that long for it
    /// to finish.
    pub async fn transaction(
        &self,
        wallet_id: &str,
        request_id: &str,
        wait: Option<Duration>,
    ) -> Result<TransactionInfo, CoordError> {
        let id = request_session_id(wallet_id, request_id);
        self.wait_for(&tx_waiter(&id), wait).await;
        self.inner.store.transaction(&id)?.ok_or_else(|| {
            CoordError::NotFound(format!("no transaction {request_id} in wallet {wallet_id}"))
        })
    }

    /// A wallet's transaction requests, newest first.
    pub fn transactions(
        &self,
        wallet_id: &str,
        limit: u32,
    ) -> Result<Vec<TransactionInfo>, CoordError> {
        Ok(self.inner.store.transactions(wallet_id, limit.min(1000))?)
    }

    // ------------------------------------------------------------------ sessions

    /// Runs one protocol session among `parts` (party indices) of `roster`.
    pub(crate) async fn run_session(
        &self,
        session: [u8; 32],
        wallet: &WalletInfo,
        roster: &[Member],
        parts: &[u16],
        job: Job,
        timeout: Duration,
    ) -> Result<Vec<(u16, Outcome)>, AttemptError> {
        let kind = job.kind();
        let labels = SessionLabels {
            scheme: wallet.scheme.name().into(),
            kind: kind.into(),
        };
        let participants: Vec<(u16, NodeId)> = parts
            .iter()
            .map(|&i| (i, wallet.signers[usize::from(i)]))
            .collect();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let started = self.inner.clock.now_ms();
        let live = Arc::new(Live::new(&participants, tx, labels.clone(), started));
        let hub = &self.inner.hub;
        hub.register(session, live);
        let start = tessera_proto::link::StartSession {
            session,
            wallet_id: wallet.wallet_id.clone(),
            roster: roster.to_vec(),
            job,
        };
        let mut result = Ok(Vec::new());
        for (_, node) in &participants {
            if !hub.deliver(node, ToSigner::Start(Box::new(start.clone()))) {
                result = Err(AttemptError {
                    code: ErrorCode::NotEnoughSigners,
                    message: format!("signer {node} is not connected"),
                    culprits: Vec::new(),
                    failed: vec![*node],
                    fatal: false,
                    refusal: None,
                    released: Box::default(),
                });
                break;
            }
        }
        if result.is_ok() {
            result = self.collect(&participants, &mut rx, timeout, wallet).await;
        }
        hub.unregister(&session);
        if result.is_err() {
            for (_, node) in &participants {
                hub.deliver(
                    node,
                    ToSigner::Abort {
                        session,
                        reason: "session failed elsewhere".into(),
                    },
                );
            }
        }
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code.as_str(),
        };
        self.inner
            .metrics
            .session_seconds
            .get_or_create(&labels)
            .observe((self.inner.clock.now_ms() - started) as f64 / 1000.0);
        self.inner
            .metrics
            .sessions_total
            .get_or_create(&OutcomeLabels {
                scheme: labels.scheme,
                kind: labels.kind,
                outcome: outcome.into(),
            })
            .inc();
        result
    }

    async fn collect(
        &self,
        participants: &[(u16, NodeId)],
        rx: &mut mpsc::UnboundedReceiver<Event>,
        timeout: Duration,
        wallet: &WalletInfo,
    ) -> Result<Vec<(u16, Outcome)>, AttemptError> {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let index_of: HashMap<NodeId, u16> = participants.iter().map(|(i, n)| (*n, *i)).collect();
        let mut outcomes: Vec<(u16, Outcome)> = Vec::new();
        let ended: Result<(), AttemptError> = loop {
            if outcomes.len() >= participants.len() {
                break Ok(());
            }
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(Event::Done(node, o)) => {
                        if let Some(i) = index_of.get(&node) {
                            if !outcomes.iter().any(|(j, _)| j == i) {
                                outcomes.push((*i, o));
                            }
                        }
                    }
                    Some(Event::Failed(node, f)) => break Err(from_failure(node, f, wallet)),
                    Some(Event::Disconnected(node)) => break Err(AttemptError {
                        code: ErrorCode::NotEnoughSigners,
                        message: format!("signer {node} disconnected during the session"),
                        culprits: Vec::new(),
                        failed: vec![node],
                        fatal: false,
                        refusal: None,
                        released: Box::default(),
                    }),
                    None => break Err(internal_attempt("session channel closed".into())),
                },
                _ = &mut deadline => {
                    let missing: Vec<NodeId> = participants
                        .iter()
                        .filter(|(i, _)| !outcomes.iter().any(|(j, _)| j == i))
                        .map(|(_, n)| *n)
                        .collect();
                    break Err(AttemptError {
                        code: ErrorCode::Timeout,
                        message: format!("session timed out after {} ms", timeout.as_millis()),
                        culprits: Vec::new(),
                        failed: missing,
                        fatal: false,
                        refusal: None,
                        released: Box::default(),
                    });
                }
            }
        };
        // Who answered before the attempt failed has released its share of the request.
        ended.map(|()| outcomes.clone()).map_err(|mut e| {
            e.released = outcomes
                .iter()
                .filter_map(|(i, _)| participants.iter().find(|(j, _)| j == i))
                .map(|(_, n)| *n)
                .collect();
            e
        })
    }

    pub(crate) fn random_id(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        self.inner.entropy.fill(&mut b);
        b
    }

    /// Random bytes for link challenges.
    pub fn challenge(&self) -> [u8; 32] {
        self.random_id()
    }

    pub(crate) fn waiter(&self, id: &str) {
        let (tx, _) = watch::channel(false);
        lock(&self.inner.waiters).insert(id.to_string(), tx);
    }

    pub(crate) fn finish(&self, record: &SessionInfo) {
        if let Err(e) = self.inner.store.put_session(record) {
            tracing::error!(error = %e, session = %record.session_id, "could not store the session");
        }
        if let Some(tx) = lock(&self.inner.waiters).remove(&record.session_id) {
            let _ = tx.send(true);
        }
    }

    /// A session record; with `wait`, waits up to that long for it to finish.
    pub async fn session(
        &self,
        id: &str,
        wait: Option<Duration>,
    ) -> Result<SessionInfo, CoordError> {
        self.wait_for(id, wait).await;
        self.inner
            .store
            .session(id)?
            .ok_or_else(|| CoordError::NotFound(format!("no session {id}")))
    }

    /// Recent sessions.
    pub fn sessions(
        &self,
        wallet: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SessionInfo>, CoordError> {
        Ok(self.inner.store.sessions(wallet, limit.min(1000))?)
    }

    // ------------------------------------------------------------------ pool

    fn pool_target(&self, id: SchemeId) -> u32 {
        match id {
            SchemeId::EcdsaCggmp24 => self.inner.config.cggmp24_pool,
            SchemeId::SchnorrBip340 | SchemeId::Ed25519 => self.inner.config.frost_pool,
            _ => 0,
        }
    }

    pub(crate) fn ensure_refill(&self, wallet: &WalletInfo) {
        if self.pool_target(wallet.scheme) == 0 {
            return;
        }
        if !lock(&self.inner.refilling).insert(wallet.wallet_id.clone()) {
            return;
        }
        let me = self.clone();
        let w = wallet.clone();
        tokio::spawn(async move { me.refill_loop(w).await });
    }

    /// Keeps the wallet's presignature pool at its target. The wallet record is read again
    /// before each presign, so a reshare's new signers and epoch are followed.
    async fn refill_loop(&self, wallet: WalletInfo) {
        let target = self.pool_target(wallet.scheme);
        let mut backoff = Duration::from_millis(200);
        loop {
            if self.is_retired(&wallet.wallet_id) {
                lock(&self.inner.refilling).remove(&wallet.wallet_id);
                return;
            }
            let have = self
                .inner
                .store
                .pool_count(&wallet.wallet_id)
                .unwrap_or(target);
            self.update_pool_gauge();
            // In lockdown signers prepare nothing (they refuse presign jobs): wait it out.
            if have >= target || self.mode_now() == tessera_policy::Mode::Lockdown {
                let notified = self.inner.pool_changed.notified();
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            match self.presign_once(&wallet.wallet_id).await {
                Some(Ok(())) => backoff = Duration::from_millis(200),
                Some(Err(e)) => {
                    tracing::debug!(wallet = %wallet.wallet_id, code = %e.code, "presign failed: {}", e.message);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                None => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }

    /// Whether the wallet is recorded as retired (its refill then stops).
    fn is_retired(&self, wallet_id: &str) -> bool {
        matches!(
            self.inner.store.wallet(wallet_id),
            Ok(Some(w)) if w.status == WalletStatus::Retired
        )
    }

    /// One presign session among signers of the wallet as it is recorded now, its result
    /// pooled; `None` when it cannot start (no quorum connected, or no record).
    async fn presign_once(&self, wallet_id: &str) -> Option<Result<(), AttemptError>> {
        let wallet = self.inner.store.wallet(wallet_id).ok().flatten()?;
        let roster = match self.members(&wallet.signers) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(wallet = %wallet_id, error = %e, "pool refill cannot start");
                return None;
            }
        };
        let parts = self.pick(&wallet, &self.quarantined_nodes(), &HashSet::new())?;
        let job = Job::Presign {
            signers: parts.clone(),
        };
        let timeout = self.inner.config.sign_timeout;
        let outcomes = match self
            .run_session(self.random_id(), &wallet, &roster, &parts, job, timeout)
            .await
        {
            Ok(o) => o,
            Err(e) => return Some(Err(e)),
        };
        let publics: Vec<PresignPublic> = outcomes
            .into_iter()
            .filter_map(|(_, o)| match o {
                Outcome::Presign(p) => Some(p),
                _ => None,
            })
            .collect();
        let consistent = publics.len() == parts.len() && publics.windows(2).all(|w| w[0] == w[1]);
        match (consistent, publics.into_iter().next()) {
            (true, Some(public)) => self.pool_presignature(&wallet, public),
            _ => {
                tracing::warn!(wallet = %wallet_id, "signers returned different presignature data; discarded")
            }
        }
        Some(Ok(()))
    }

    /// Pools a presignature made under `wallet`'s record, unless the wallet moved to another
    /// epoch meanwhile (its signers destroyed the presignatures of older epochs).
    fn pool_presignature(&self, wallet: &WalletInfo, public: PresignPublic) {
        let _epoch = lock(&self.inner.epoch_change);
        let now = self.inner.store.wallet(&wallet.wallet_id).ok().flatten();
        if now.as_ref().map(|w| (w.epoch, w.status)) != Some((wallet.epoch, WalletStatus::Ready)) {
            tracing::info!(wallet = %wallet.wallet_id, epoch = wallet.epoch, "a presignature of an older epoch or a retired wallet is not pooled");
            return;
        }
        let entry = PoolEntry {
            wallet_id: wallet.wallet_id.clone(),
            public,
        };
        if let Err(e) = self.inner.store.pool_add(&entry) {
            tracing::error!(error = %e, "could not pool a presignature");
        }
    }

    fn update_pool_gauge(&self) {
        let total: u32 = self
            .inner
            .store
            .wallets()
            .unwrap_or_default()
            .iter()
            .map(|w| self.inner.store.pool_count(&w.wallet_id).unwrap_or(0))
            .sum();
        self.inner.metrics.pool_size.set(i64::from(total));
    }
}

/// Id of the session record of a sign request.
pub fn request_session_id(wallet: &str, request_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tessera/sign-request/v1");
    h.update((wallet.len() as u32).to_be_bytes());
    h.update(wallet.as_bytes());
    h.update(request_id.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Waiter key of a transaction request (sessions use the bare id).
pub(crate) fn tx_waiter(id: &str) -> String {
    format!("tx:{id}")
}

fn presign_allowed(id: SchemeId, message: &SignMessage, path: &DerivationPath) -> bool {
    match id {
        // cggmp24: presignatures only for the root key and for digests the signers compute.
        SchemeId::EcdsaCggmp24 => {
            path.is_root() && matches!(message, SignMessage::Preimage { hash: Some(_), .. })
        }
        SchemeId::SchnorrBip340 | SchemeId::Ed25519 => true,
        _ => false,
    }
}

/// The off-chain message formats a `scheme` wallet signs, for error messages.
fn offchain_formats(scheme: SchemeId) -> &'static str {
    match scheme {
        SchemeId::Ed25519 => "a Solana off-chain message",
        SchemeId::SchnorrBip340 => "BIP-322's tagged message hash",
        _ => "an EIP-191 personal message or BIP-322's tagged message hash",
    }
}

pub(crate) fn check_message(id: SchemeId, m: &SignMessage) -> Result<(), CoordError> {
    let ok = match (id, m) {
        (SchemeId::Ed25519, SignMessage::Preimage { hash: None, .. }) => true,
        (SchemeId::Ed25519, _) => false,
        (_, SignMessage::Preimage { hash: None, .. }) => false,
        _ => true,
    };
    if ok {
        Ok(())
    } else if id == SchemeId::Ed25519 {
        Err(CoordError::Invalid(
            "ed25519 signs message bytes: use kind \"message\"".into(),
        ))
    } else {
        Err(CoordError::Invalid(
            "this scheme signs a 32-byte digest: use kind \"preimage\" (or, dangerously, \"danger_raw_digest\")"
                .into(),
        ))
    }
}

fn wallet_key(w: &WalletInfo) -> Result<PublicKey, String> {
    w.public_key
        .clone()
        .ok_or_else(|| "wallet has no public key".to_string())
}

fn chain_code(w: &WalletInfo) -> Result<([u8; 32], ()), String> {
    let cc = w.chain_code.as_deref().ok_or("wallet has no chain code")?;
    let cc: [u8; 32] = hex::decode(cc)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or("bad chain code")?;
    Ok((cc, ()))
}

fn roster_ids(roster: &[Member]) -> Vec<(u16, NodeId)> {
    roster
        .iter()
        .map(|m| (m.index, m.identity.node_id()))
        .collect()
}

fn disagreement(message: &str) -> AttemptError {
    AttemptError {
        code: ErrorCode::ProtocolAbort,
        message: message.into(),
        culprits: Vec::new(),
        failed: Vec::new(),
        fatal: true,
        refusal: None,
        released: Box::default(),
    }
}

/// The key every signer of a finished key generation reports, with the attestations that verify
/// over it. Signers that disagree fail the wallet. An attestation that does not verify, or is
/// not its sender's, is logged and left out (clients count only the ones they can verify; this
/// check only makes a bad signer visible early).
/// The action a wallet creation's authorization must carry (a key generation, or an import
/// of exactly this package), and the policy action it is evaluated as.
fn expected_creation(req: &CreateWallet) -> Result<tessera_policy::PolicyAction, CoordError> {
    let mismatch =
        || CoordError::Invalid("the authorization does not match this wallet request".into());
    let Some(package) = &req.import else {
        let expected = Action::Keygen {
            wallet_id: req.wallet_id.clone(),
            scheme: req.scheme,
            threshold: req.threshold,
            signers: req.signers.clone(),
            networks: req.networks.clone(),
        };
        if req.authorization.action != expected {
            return Err(mismatch());
        }
        return Ok(tessera_policy::PolicyAction::CreateWallet);
    };
    let Action::Import {
        public_key,
        chain_code,
        ..
    } = &req.authorization.action
    else {
        return Err(mismatch());
    };
    if package.shares.len() != req.signers.len()
        || package.commitments.len() != usize::from(req.threshold)
    {
        return Err(CoordError::Invalid(
            "an import package has one sealed share per signer and one commitment per \
             threshold step"
                .into(),
        ));
    }
    let expected = Action::Import {
        wallet_id: req.wallet_id.clone(),
        scheme: req.scheme,
        threshold: req.threshold,
        signers: req.signers.clone(),
        networks: req.networks.clone(),
        public_key: public_key.clone(),
        chain_code: *chain_code,
        package: package.digest(),
    };
    let curve_fits = matches!(
        (req.scheme, public_key),
        (SchemeId::Ed25519, PublicKey::Ed25519(_))
            | (
                SchemeId::EcdsaDkls23 | SchemeId::EcdsaCggmp24 | SchemeId::SchnorrBip340,
                PublicKey::Secp256k1(_)
            )
    );
    if req.authorization.action != expected || !curve_fits {
        return Err(mismatch());
    }
    Ok(tessera_policy::PolicyAction::ImportWallet)
}

fn agree_on_key(
    wallet: &WalletInfo,
    roster: Vec<(u16, NodeId)>,
    outcomes: &[(u16, Outcome)],
) -> Result<(PublicKey, [u8; 32], Vec<WalletAttestation>), AttemptError> {
    let mut key: Option<(&PublicKey, [u8; 32])> = None;
    for (_, o) in outcomes {
        let Outcome::Keygen {
            public_key,
            chain_code,
            ..
        } = o
        else {
            return Err(disagreement(
                "a signer answered key generation with something else",
            ));
        };
        match key {
            Some(k) if k != (public_key, *chain_code) => {
                return Err(disagreement("signers disagree on the generated public key"))
            }
            _ => key = Some((public_key, *chain_code)),
        }
    }
    let (pk, cc) = key.ok_or_else(|| disagreement("no signer reported a key"))?;
    let statement = WalletStatement {
        wallet_id: wallet.wallet_id.clone(),
        scheme: wallet.scheme,
        threshold: wallet.threshold,
        signers: wallet.signers.clone(),
        public_key: pk.clone(),
        chain_code: cc,
        networks: wallet.networks.clone(),
        epoch: wallet.epoch,
    };
    let mut attestations = Vec::new();
    for (index, o) in outcomes {
        let Outcome::Keygen { attestation, .. } = o else {
            continue;
        };
        let sender = roster.iter().find(|(i, _)| i == index).map(|(_, n)| *n);
        if sender != Some(attestation.node_id) || attestation.verify(&statement).is_err() {
            tracing::warn!(wallet = %wallet.wallet_id, party = index, "a signer's wallet attestation does not verify; left out");
            continue;
        }
        attestations.push(attestation.clone());
    }
    Ok((pk.clone(), cc, attestations))
}

pub(crate) fn derived_key(
    w: &WalletInfo,
    path: &str,
) -> Result<(PublicKey, DerivationPath), CoordError> {
    let p = DerivationPath::parse(path).map_err(|e| CoordError::Invalid(format!("path: {e}")))?;
    let pk = wallet_key(w).map_err(CoordError::NotReady)?;
    let (cc, _) = chain_code(w).map_err(CoordError::NotReady)?;
    let child = hd::derive_public_key(&pk, &cc, &p)
        .map_err(|e| CoordError::Invalid(format!("derivation: {e}")))?;
    Ok((child, p))
}

fn nodes(w: &WalletInfo, idx: &[u16]) -> Vec<NodeId> {
    idx.iter()
        .filter_map(|i| w.signers.get(usize::from(*i)).copied())
        .collect()
}

pub(crate) fn internal_attempt(message: String) -> AttemptError {
    AttemptError {
        code: ErrorCode::Internal,
        message,
        culprits: Vec::new(),
        failed: Vec::new(),
        fatal: false,
        refusal: None,
        released: Box::default(),
    }
}

/// Maps a signer's failure to an attempt error (`FailureKind::code`). Refusals
/// (`FailureKind::is_refusal`: authorization, payload, replay and every policy kind) are
/// final — another signer subset runs the same checks on the same inputs — and audited with
/// `FailureKind::refusal_reason` (all in `tessera_proto::states`).
fn from_failure(node: NodeId, f: Failure, w: &WalletInfo) -> AttemptError {
    let refusal = f.kind.is_refusal();
    AttemptError {
        code: f.kind.code(),
        message: format!("signer {node}: {}", f.message),
        culprits: nodes(w, &f.culprits),
        failed: vec![node],
        fatal: refusal,
        refusal: refusal.then(|| f.kind.refusal_reason()),
        released: Box::default(),
    }
}

pub(crate) fn failed(code: ErrorCode, message: String, culprits: Vec<NodeId>) -> SessionError {
    SessionError {
        code,
        message,
        culprits,
    }
}

pub(crate) fn session_error(e: &AttemptError) -> SessionError {
    SessionError {
        code: e.code,
        message: e.message.clone(),
        culprits: e.culprits.clone(),
    }
}

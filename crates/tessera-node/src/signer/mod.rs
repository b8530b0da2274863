//! The signer's decision logic: which sessions it joins, and what it keeps in its vault.
//!
//! [`Signer::handle`] takes one frame from a coordinator. A `Start` is checked (roster,
//! requester authorization, payload, policy, approvals, replay ledgers) before any protocol
//! message leaves this node; the protocol then runs on its own task, started through the
//! injected [`Spawn`], because protocol sessions are not `Send` once built and some (cggmp24)
//! take seconds of CPU. `Policy` and `Mode` frames install a new policy bundle or operating
//! mode, each only with a valid admin quorum.
//!
//! # Order of checks of a signing job (`Sign`, `SignPresigned`)
//!
//! Each step is one function of [`checks`], named after it and called in this order by one
//! short pipeline (`Signer::authorize_sign`); a refusal is a [`FailureKind`], an enum on the
//! link, which `tessera_proto::states` maps to the request's error code and state.
//!
//! Nothing in the vault changes — no session id recorded, no request marked, no presignature
//! consumed — until every check below has passed; the first that fails is the refusal.
//!
//! 1. **Roster**: this signer is in it; party order, distinct members, valid key-binding
//!    proofs; equal to the group stored with the wallet's share (`Unauthorized`, `NotReady`
//!    without a share).
//! 2. **Requester authorization** (`tessera_wire::Authorization`): signed by a key in this
//!    signer's trusted list, not expired (`Expired`), not longer-lived than
//!    [`SignerOptions::max_authorization_secs`], for exactly this wallet and path
//!    (`Unauthorized`).
//! 3. **Payload**: for a chain payload, the signer re-parses the raw payload with its own
//!    adapter against its own derived key, recomputes the intent hash (it must equal the
//!    authorized one) and requires the message to sign to be message `index` of its own list
//!    (`PayloadRejected`). A plain `Sign` covers exactly the authorized message, which must be
//!    in a chain's off-chain message format for the wallet's scheme (EIP-191, BIP-322's tagged
//!    hash, Solana's off-chain message: never a transaction's signing message) or a raw digest
//!    (left to the policy, step 4) — anything else is `PayloadRejected`; its intent hash
//!    (what approvals sign) is [`tessera_wire::message_intent_hash`] of (wallet, path, the
//!    message in `tessera_wire::authorized_message` form).
//! 4. **Policy**: a bundle is installed (`PolicyDenied` otherwise); the job's policy version is
//!    this signer's (`StalePolicy`); with [`SignerOptions::max_policy_age_secs`], the admins
//!    confirmed the bundle and mode change in force (bundle creation, mode change or an
//!    admin-signed `tessera_policy::Freshness`) no longer ago than that (`StalePolicy`, saying
//!    since when: a coordinator withholding a newer bundle or a lockdown makes signers stop,
//!    not sign under the old policy); the request is built with
//!    `tessera_policy::signing_request` from the signer's own parse (or the message alone) under
//!    the mode in force and evaluated by its own compiled engine against its own velocity
//!    ledger — the vault's entries plus requests in flight here, without this request's own
//!    entries, so the messages of one request count once. A deny is `VelocityExceeded` (any
//!    velocity breach), `ModeRestricted` (lockdown) or `PolicyDenied`. If the bundle has
//!    velocity rules, the request is evaluated once more after the checks below, over the union
//!    of the co-signers' ledgers ([`crate::exchange`], before anything is consumed or released):
//!    a deny there is a refusal, and a decision that now needs approvals (a rule on the day's
//!    total, say) has the job's approvals checked against it as in step 5.
//! 5. **Approvals**: if the decision needs a quorum, `tessera_policy::check_quorum` over the
//!    job's approvals for this request id, the recomputed intent hash and this signer's policy
//!    version: `Expired`, `StalePolicy` (approval for another version) or `ApprovalsInvalid`.
//! 6. **Replay**: the request (for a payload: this message of it) was not signed here before,
//!    and the session id was never used (`Replayed`).
//! 7. **Consume and record**, durably, in one vault transaction each. Presigned: the session id,
//!    the request marked done, its velocity entries and the presignature consumed, then the
//!    partial is computed. Full: the session id is recorded and the protocol runs up to the
//!    round that can complete a signature (`Scheme::sign_release_round`: FROST's signature
//!    shares, DKLs23's phase-3 broadcast, cggmp24's partial signatures); before sending any
//!    message of that round the request is marked done together with its velocity entries.
//!    From then on the request counts as signed here, whatever happens to the session: a
//!    coordinator that keeps the shares and aborts still finds it in the ledgers and the log.
//! 8. **Audit**: the signature entry is appended to the signer's own log
//!    ([`crate::audit`]); only then is the partial (presigned) or the release round (full)
//!    sent. If the append fails they are withheld (`Storage`). A session that fails after it
//!    was accepted is audited too (`session_failed`, with the failure kind).
//!
//! A `Presign` job is refused (`ModeRestricted`) while a lockdown is in force.
//!
//! Every refusal is appended to the audit log with its reason (subject: the request id) before
//! the failure is answered. Key generation checks the roster, the requester authorization (for
//! exactly this wallet, scheme, threshold and group), and — once a bundle is installed — that
//! the policy allows `create_wallet` without approvals (a key generation carries none).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tessera_audit::{EntryKind, RefusalReason};
use tessera_chains::Registry;
use tessera_crypto::{
    scheme, DerivationPath, Error as CryptoError, KeyShare, KeygenInput, MemoryLedger, PartyIndex,
    Presignature, SchemeId, SessionId, SignMessage, ThresholdParams,
};
use tessera_policy::{
    accept_freshness, accept_mode, accept_update, mode_in_force, wallet_key_request, AdminSet,
    Approval, Decision, Engine, Freshness, Mode, ModeChange, PolicyAction, PolicyRequest,
    SignedBundle,
};
use tessera_proto::attestation::{WalletAttestation, WalletStatement};
use tessera_proto::audit::{
    AuditPage, AuditPageError, SignedHead, MAX_AUDIT_PAGE, MAX_AUDIT_PAGE_BYTES,
};
use tessera_proto::link::{
    Failure, FailureKind, FromSigner, Job, Member, Outcome, SignerStatus, StartSession, ToSigner,
    TxContext,
};
use tessera_proto::view::{SignedView, View};
use tessera_proto::Clock;
use tessera_vault::{PolicyRecord, Vault, VaultError};
use tessera_wire::{
    check_networks, Action, Authorization, IdentityKey, NodeId, OperatorPublic, PublicIdentity,
    WireError,
};

mod aux;
mod checks;
mod epochs;
mod import;
mod leave;
mod retire;

use checks::{Authorized, SignJob};

use crate::audit::{audit_chain_id, AuditSink};
use crate::policy::{deny_refusal, Installed, PolicyState, Refusal, Reservations};
use crate::primes::PrimeSource;
use crate::runner::{self, Input, RunCtx};

/// Where a session's answers go (the link to the coordinator that started it).
pub type Outbound = Arc<dyn Fn(FromSigner) + Send + Sync>;

/// A running session as the signer tracks it.
struct Running {
    /// Its input queue.
    input: mpsc::SyncSender<Input>,
    /// Where its answers go: the link its start came over (one `Outbound` per link).
    link: Outbound,
}

/// Starts background work. The daemon uses OS threads; a simulation can run tasks its own way.
pub trait Spawn: Send + Sync + 'static {
    /// Runs `task` to completion somewhere.
    fn spawn(&self, name: String, task: Box<dyn FnOnce() + Send>);

    /// An input (an envelope, an abort) was queued for a running session. With
    /// [`Spawn::task_waits`] and [`Spawn::task_woke_idle`] this lets a simulation count the work
    /// outstanding in its tasks and step a cluster only once every task waits: a task is busy
    /// from its start until it waits, and again from each queued input until it waits again.
    /// The defaults do nothing.
    fn input_queued(&self) {}

    /// A session is about to block until its next input or its deadline.
    fn task_waits(&self) {}

    /// A session woke without an input (its deadline passed, or its signer shut down).
    fn task_woke_idle(&self) {}
}

/// [`Spawn`] on OS threads.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadSpawner;

impl Spawn for ThreadSpawner {
    fn spawn(&self, name: String, task: Box<dyn FnOnce() + Send>) {
        if let Err(e) = std::thread::Builder::new().name(name).spawn(task) {
            tracing::error!(error = %e, "could not start a session thread");
        }
    }
}

/// Vault setting keys.
pub mod settings {
    /// JSON list of trusted operator (requester) public keys (hex).
    pub const OPERATORS: &str = "operators";
    /// Display name of this signer.
    pub const NAME: &str = "name";
    /// JSON `tessera_policy::AdminSet`: the admins whose quorum must sign this signer's first
    /// policy bundle (later bundles are authorized by the admins of the bundle in force).
    pub const POLICY_ADMINS: &str = "policy_admins";
}

/// Tunables.
#[derive(Debug, Clone)]
pub struct SignerOptions {
    /// Longest authorization lifetime accepted (expiry − now).
    pub max_authorization_secs: u64,
    /// Timeout of key generation (includes waiting for Paillier primes).
    pub keygen_timeout: Duration,
    /// Timeout of signing and presigning sessions.
    pub sign_timeout: Duration,
    /// Most sessions running at once; a start beyond it is refused (`Busy`).
    pub max_sessions: usize,
    /// Most envelopes queued for one running session; more are dropped (the session then
    /// completes with the genuine ones or times out).
    pub max_queued_envelopes: usize,
    /// Most unused presignatures kept per wallet; a presign job beyond it is refused (`Busy`),
    /// so a coordinator cannot make a signer burn CPU and fill its vault with them.
    pub max_presignatures_per_wallet: usize,
    /// With `Some(age)`, the signer refuses every signature and key generation (`StalePolicy`)
    /// while its policy was last confirmed by the admins — bundle creation, mode change or an
    /// admin-signed refresh (`tessera_policy::Freshness`) — more than `age` seconds ago.
    pub max_policy_age_secs: Option<u64>,
    /// How long the shares of older epochs are kept after a newer one is committed
    /// ([`Signer::sweep_old_shares`] destroys them afterwards).
    pub old_share_grace: Duration,
}

impl Default for SignerOptions {
    fn default() -> Self {
        SignerOptions {
            max_authorization_secs: 3600,
            keygen_timeout: Duration::from_secs(900),
            sign_timeout: Duration::from_secs(60),
            max_sessions: 64,
            max_queued_envelopes: 1024,
            max_presignatures_per_wallet: 256,
            max_policy_age_secs: None,
            old_share_grace: Duration::from_secs(24 * 3600),
        }
    }
}

/// Errors opening or configuring a signer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The vault failed.
    #[error("vault: {0}")]
    Vault(#[from] VaultError),
    /// The vault has no identity (not initialized with `tessera signer init`).
    #[error("the vault holds no node identity; run `tessera signer init` first")]
    NoIdentity,
    /// A stored value could not be parsed.
    #[error("bad stored value: {0}")]
    Corrupt(String),
    /// Bad configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// A policy evaluation could not run (no bundle installed, a request that cannot be built,
    /// the velocity ledger unreadable).
    #[error("policy: {0}")]
    Policy(String),
}

/// Public facts a signer keeps next to each share.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WalletPublic {
    /// Scheme.
    pub scheme: SchemeId,
    /// Threshold.
    pub threshold: u16,
    /// This signer's party index.
    pub index: PartyIndex,
    /// The group, in party-index order.
    pub roster: Vec<NodeId>,
    /// Group public key (hex).
    pub public_key: String,
    /// The share's epoch: 0 from key generation; a refresh or reshare makes a higher one. Set
    /// from the vault record (the authenticated epoch column) when the share is loaded.
    #[serde(default)]
    pub epoch: u32,
    /// The networks the wallet may sign chain payloads on (`chain:network`, sorted), from its
    /// key generation's authorization; empty for a wallet created before wallets were bound
    /// to networks, which then signs no chain payload.
    #[serde(default)]
    pub networks: Vec<String>,
    /// For a share made by a reshare: that session's id (hex), which the commit must name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reshare_session: Option<String>,
}

pub(crate) struct Inner {
    pub(crate) identity: IdentityKey,
    pub(crate) public: PublicIdentity,
    pub(crate) vault: Mutex<Vault>,
    pub(crate) operators: Vec<OperatorPublic>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) primes: PrimeSource,
    pub(crate) options: SignerOptions,
    pub(crate) spawner: Arc<dyn Spawn>,
    /// This signer's own chain adapters: it re-parses every chain payload itself.
    chains: Registry,
    /// Running sessions: their input channel and the link their start came over.
    sessions: Mutex<HashMap<[u8; 32], Running>>,
    /// Parsed shares (parsing re-validates with the protocol crate, which is not free).
    shares: Mutex<HashMap<String, Arc<(KeyShare, WalletPublic)>>>,
    /// The admins whose quorum signs the first bundle (configured at `signer init`).
    initial_admins: AdminSet,
    /// The accepted bundle (compiled once) and mode change; replaced as a whole.
    policy: Mutex<Arc<PolicyState>>,
    /// Serializes bundle and mode updates (check, audit, store, swap).
    policy_update: Mutex<()>,
    /// Velocity of requests authorized here and not yet recorded; also the lock that makes
    /// "read ledger, evaluate, reserve" one step.
    velocity: Arc<Mutex<Reservations>>,
    /// This signer's own audit log.
    audit: Arc<dyn AuditSink>,
    /// The actor name in audit entries: this node's id (hex).
    actor: String,
    /// Audit page reads running now (at most [`MAX_AUDIT_READS`]).
    audit_reads: AtomicUsize,
}

/// Most audit page reads a signer runs at once.
pub const MAX_AUDIT_READS: usize = 2;

fn audit_page_error(e: tessera_audit::AuditError) -> AuditPageError {
    match e {
        tessera_audit::AuditError::Chain(_) | tessera_audit::AuditError::Corrupt(_) => {
            AuditPageError::Corrupt(e.to_string())
        }
        other => AuditPageError::Unavailable(other.to_string()),
    }
}

/// A signer node's logic, shared by its links. Cheap to clone.
#[derive(Clone)]
pub struct Signer {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("node_id", &self.inner.public.node_id())
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a session ended without an outcome here.
enum Stop {
    /// This signer refused to take part (a decision: audited as a refusal).
    Refused(Refusal),
    /// An accepted session failed afterwards (protocol, transport, storage).
    Failed(Failure),
}

impl From<Refusal> for Stop {
    fn from(r: Refusal) -> Stop {
        Stop::Refused(r)
    }
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Stop {
        Stop::Failed(f)
    }
}

/// The fields of a `Job::Sign` or `Job::SignPresigned`.
struct SignArgs {
    signers: Vec<PartyIndex>,
    message: SignMessage,
    path: String,
    authorization: Authorization,
    transaction: Option<TxContext>,
    policy_version: u64,
    approvals: Vec<Approval>,
}

impl SignArgs {
    /// The fields of a `Sign` or `SignPresigned` job, and the presignature the latter names;
    /// `None` for other jobs.
    fn from_job(job: Job) -> Option<(SignArgs, Option<[u8; 32]>)> {
        let args =
            |signers, message, path, authorization, transaction, policy_version, approvals| {
                SignArgs {
                    signers,
                    message,
                    path,
                    authorization,
                    transaction,
                    policy_version,
                    approvals,
                }
            };
        match job {
            Job::Sign {
                signers,
                message,
                path,
                authorization,
                transaction,
                policy_version,
                approvals,
            } => Some((
                args(
                    signers,
                    message,
                    path,
                    authorization,
                    transaction,
                    policy_version,
                    approvals,
                ),
                None,
            )),
            Job::SignPresigned {
                presignature,
                signers,
                message,
                path,
                authorization,
                transaction,
                policy_version,
                approvals,
            } => Some((
                args(
                    signers,
                    message,
                    path,
                    authorization,
                    transaction,
                    policy_version,
                    approvals,
                ),
                Some(presignature),
            )),
            Job::Keygen { .. }
            | Job::Presign { .. }
            | Job::Reshare(_)
            | Job::Epoch { .. }
            | Job::Retire { .. }
            | Job::Leave { .. } => None,
        }
    }
}

/// A key generation's wallet, as its authorization names it.
struct NewWallet<'a> {
    wallet_id: &'a str,
    scheme: SchemeId,
    threshold: u16,
    networks: Vec<String>,
    /// Set for an import: the key is dealt by the importer, not generated.
    import: Option<import::Imported>,
}

/// An accepted policy update, as [`Signer::commit_update`] records it.
struct Update {
    /// `policy`, `mode` or `freshness` (refusals and logs).
    what: &'static str,
    /// Bundle version, mode-change sequence or freshness `issued_at`.
    version: u64,
    kind: EntryKind,
    subject: String,
    record: PolicyRecord,
    /// The JSON kept in the vault.
    stored: String,
}

impl Signer {
    /// Opens a signer over an unlocked vault, appending to `audit` (whose chain id must be
    /// [`audit_chain_id`] of this node). The signer carries every chain adapter Tessera ships
    /// (`tessera_chains::registry`), to re-parse chain payloads itself. A vault without trusted
    /// operator keys or without the policy admin set ([`settings::POLICY_ADMINS`]) is a
    /// [`NodeError::Config`].
    pub fn new(
        vault: Vault,
        audit: Arc<dyn AuditSink>,
        clock: Arc<dyn Clock>,
        primes: PrimeSource,
        spawner: Arc<dyn Spawn>,
        options: SignerOptions,
    ) -> Result<Signer, NodeError> {
        let identity = vault.identity()?.ok_or(NodeError::NoIdentity)?;
        let identity = IdentityKey::from_bytes(&identity)
            .map_err(|e| NodeError::Corrupt(format!("identity key: {e}")))?;
        let operators = match vault.setting(settings::OPERATORS)? {
            Some(json) => parse_operators(&json)?,
            None => Vec::new(),
        };
        if operators.is_empty() {
            return Err(NodeError::Config(
                "no trusted operator key configured; this signer would refuse every request".into(),
            ));
        }
        let initial_admins =
            match vault.setting(settings::POLICY_ADMINS)? {
                Some(json) => parse_admins(&json)?,
                None => return Err(NodeError::Config(
                    "no policy admin set configured (`tessera signer init --policy-admin HEX`); \
                     without it this signer can never accept a policy bundle"
                        .into(),
                )),
            };
        let public = identity.public();
        let expected_chain = audit_chain_id(&public.node_id());
        if audit.chain_id() != expected_chain {
            return Err(NodeError::Config(format!(
                "the audit log belongs to chain {:?}, this signer's is {expected_chain:?}",
                audit.chain_id()
            )));
        }
        let policy = load_policy(&vault)?;
        Ok(Signer {
            inner: Arc::new(Inner {
                actor: hex::encode(public.node_id().0),
                identity,
                public,
                vault: Mutex::new(vault),
                operators,
                clock,
                primes,
                options,
                spawner,
                chains: tessera_chains::registry(),
                sessions: Mutex::new(HashMap::new()),
                shares: Mutex::new(HashMap::new()),
                initial_admins,
                policy: Mutex::new(Arc::new(policy)),
                policy_update: Mutex::new(()),
                velocity: Arc::new(Mutex::new(Reservations::default())),
                audit,
                audit_reads: AtomicUsize::new(0),
            }),
        })
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.inner.public.node_id()
    }

    /// This node's public identity.
    pub fn public_identity(&self) -> PublicIdentity {
        self.inner.public
    }

    /// Signs the link hello.
    pub fn sign_hello(&self, msg: &[u8]) -> [u8; 64] {
        self.inner
            .identity
            .sign(tessera_proto::link::HELLO_DOMAIN, msg)
    }

    /// What this signer reports about itself.
    pub fn status(&self) -> SignerStatus {
        let (records, vault_id) = {
            let vault = lock(&self.inner.vault);
            (vault.wallets().unwrap_or_default(), vault.vault_id())
        };
        let wallets = records.len() as u32;
        let prepared_epochs = records
            .iter()
            .filter(|w| w.prepared_epoch.is_some())
            .count() as u32;
        let (primes_ready, primes_progress) = self.inner.primes.progress();
        let policy = self.policy_state();
        SignerStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            wallets,
            primes_ready,
            primes_progress,
            sessions: lock(&self.inner.sessions).len() as u32,
            policy_version: policy.bundle.as_ref().map_or(0, |b| b.version()),
            mode: mode_in_force(policy.mode.as_ref(), self.inner.clock.now_unix())
                .name()
                .to_string(),
            policy_fresh_since: policy.fresh_since(),
            prepared_epochs,
            vault_id,
        }
    }

    /// This signer's own view of its policy at audit head (`audit_seq`, `audit_hash`).
    fn view(&self, audit_seq: u64, audit_hash: [u8; 32]) -> View {
        let policy = self.policy_state();
        View {
            policy_version: policy.bundle.as_ref().map_or(0, |b| b.version()),
            bundle_hash: policy
                .bundle
                .as_ref()
                .map_or([0; 32], |b| b.engine.bundle_hash()),
            mode: mode_in_force(policy.mode.as_ref(), self.inner.clock.now_unix())
                .name()
                .to_string(),
            mode_seq: policy.mode.as_ref().map_or(0, |m| m.seq),
            policy_fresh_since: policy.fresh_since(),
            audit_seq,
            audit_hash,
        }
    }

    /// The policy bundle in force here, if any.
    pub fn policy_bundle(&self) -> Option<SignedBundle> {
        self.policy_state()
            .bundle
            .as_ref()
            .map(|b| b.signed.clone())
    }

    /// The last mode change accepted here, if any (see `tessera_policy::mode_in_force`).
    pub fn mode_change(&self) -> Option<ModeChange> {
        self.policy_state().mode.clone()
    }

    /// Evaluates `req` with this signer's own engine against its own velocity ledger (what
    /// it signed, and requests in flight here), as a signing job would — for previews and
    /// cross-node determinism checks. Changes nothing.
    pub fn evaluate(&self, req: &PolicyRequest) -> Result<Decision, NodeError> {
        let state = self.policy_state();
        let installed = state
            .bundle
            .as_ref()
            .ok_or_else(|| NodeError::Policy("no policy bundle installed".into()))?;
        let wallet = match req.resource() {
            tessera_policy::Resource::Wallet(w) => Some(w.id().to_string()),
            tessera_policy::Resource::Tenant => None,
        };
        let decision = match wallet {
            Some(w) => {
                let mut gate = lock(&self.inner.velocity);
                let ledger = self
                    .ledger_for(&mut gate, &installed.engine, &w, None, req.now_unix())
                    .map_err(|f| NodeError::Policy(f.message))?;
                installed.engine.evaluate(req, &ledger)
            }
            None => installed
                .engine
                .evaluate(req, &tessera_policy::MemoryLedger::new()),
        };
        Ok(decision)
    }

    /// The public facts this signer keeps with its committed share of `wallet_id` (epoch
    /// included), or `None` if it holds none.
    pub fn wallet_info(&self, wallet_id: &str) -> Result<Option<WalletPublic>, NodeError> {
        let Some(record) = lock(&self.inner.vault)
            .wallets()?
            .into_iter()
            .find(|w| w.wallet_id == wallet_id)
        else {
            return Ok(None);
        };
        let mut public: WalletPublic = serde_json::from_str(&record.public_info)
            .map_err(|e| NodeError::Corrupt(format!("stored wallet info: {e}")))?;
        public.epoch = record.epoch;
        Ok(Some(public))
    }

    /// How many unused presignatures this signer holds for `wallet_id`.
    pub fn presignature_count(&self, wallet_id: &str) -> Result<usize, NodeError> {
        Ok(lock(&self.inner.vault).presignature_ids(wallet_id)?.len())
    }

    fn policy_state(&self) -> Arc<PolicyState> {
        lock(&self.inner.policy).clone()
    }

    /// Ends a running session (a full queue still ends it: it times out).
    fn abort(&self, r: &Running, reason: String) {
        if r.input.try_send(Input::Abort(reason)).is_ok() {
            self.inner.spawner.input_queued();
        }
    }

    /// The link `out` belongs to dropped: every session whose start came over it is aborted.
    /// Nothing can reach them any more (the coordinator relays every envelope over the link and
    /// fails its sessions with a signer whose link drops), and ended now they hold no velocity
    /// reservation, presignature or session slot until their timeout.
    pub fn link_lost(&self, out: &Outbound) {
        let sessions = lock(&self.inner.sessions);
        let mut n = 0;
        for r in sessions.values().filter(|r| Arc::ptr_eq(&r.link, out)) {
            self.abort(r, "the link to the coordinator dropped".into());
            n += 1;
        }
        if n > 0 {
            tracing::info!(sessions = n, "link dropped: its sessions are aborted");
        }
    }

    /// Handles one frame from a coordinator; answers go to `out`.
    pub fn handle(&self, frame: ToSigner, out: &Outbound) {
        match frame {
            ToSigner::Start(start) => self.start(*start, out.clone()),
            ToSigner::Envelope { session, bytes } => {
                let tx = lock(&self.inner.sessions)
                    .get(&session)
                    .map(|r| r.input.clone());
                match tx {
                    Some(tx) => match tx.try_send(Input::Envelope(bytes)) {
                        Ok(()) => self.inner.spawner.input_queued(),
                        Err(mpsc::TrySendError::Full(_)) => tracing::warn!(
                            session = %hex::encode(&session[..8]),
                            "envelope queue of a session is full; envelope dropped"
                        ),
                        Err(mpsc::TrySendError::Disconnected(_)) => {}
                    },
                    None => tracing::debug!(
                        session = %hex::encode(&session[..8]),
                        "envelope for a session that is not running here; dropped"
                    ),
                }
            }
            ToSigner::Abort { session, reason } => {
                if let Some(r) = lock(&self.inner.sessions).get(&session) {
                    self.abort(r, reason);
                }
            }
            ToSigner::AuditPage {
                request,
                from_seq,
                limit,
                challenge,
            } => self.answer_audit_page(request, from_seq, limit, challenge, out),
            ToSigner::Policy { bundle } => out(self.install_policy(&bundle)),
            ToSigner::Mode { change } => out(self.change_mode(&change)),
            ToSigner::Freshness { statement } => out(self.refresh_policy(&statement)),
            ToSigner::Challenge { .. } | ToSigner::Welcome => {}
        }
    }

    /// A `ToSigner::AuditPage` frame: reads the page on its own task (not on the link's reader,
    /// so envelopes keep flowing), at most [`MAX_AUDIT_READS`] at a time; beyond that it answers
    /// [`AuditPageError::Busy`].
    fn answer_audit_page(
        &self,
        request: u64,
        from_seq: u64,
        limit: u32,
        challenge: [u8; 32],
        out: &Outbound,
    ) {
        let reads = &self.inner.audit_reads;
        if reads.fetch_add(1, Ordering::SeqCst) >= MAX_AUDIT_READS {
            reads.fetch_sub(1, Ordering::SeqCst);
            out(FromSigner::AuditPage {
                request,
                result: Err(AuditPageError::Busy),
            });
            return;
        }
        /// Gives the read slot back when the task ends, or is dropped without running.
        struct Slot(Signer);
        impl Drop for Slot {
            fn drop(&mut self) {
                self.0.inner.audit_reads.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let slot = Slot(self.clone());
        let out = out.clone();
        self.inner.spawner.spawn(
            format!("audit-page-{request}"),
            Box::new(move || {
                let result = slot.0.audit_page(from_seq, limit, challenge);
                drop(slot);
                if let Err(e) = &result {
                    tracing::error!(error = %e, "audit page request failed");
                }
                out(FromSigner::AuditPage {
                    request,
                    result: result.map(Box::new),
                });
            }),
        );
    }

    /// One page of this signer's own audit log: the head is read first, then up to `limit`
    /// (capped at [`MAX_AUDIT_PAGE`], and at [`MAX_AUDIT_PAGE_BYTES`] of lines) entries from
    /// `from_seq` that are not past it, and the head is signed with this node's identity key
    /// over `challenge` ([`SignedHead`]). Holds the log only for one page; appends go on
    /// between pages.
    pub fn audit_page(
        &self,
        from_seq: u64,
        limit: u32,
        challenge: [u8; 32],
    ) -> Result<AuditPage, AuditPageError> {
        let audit = &self.inner.audit;
        let head = audit.head().map_err(audit_page_error)?;
        let from = from_seq.max(1);
        let limit = limit.min(MAX_AUDIT_PAGE) as usize;
        let mut entries = Vec::new();
        if limit > 0 && from <= head.seq {
            let mut bytes = 0usize;
            for e in audit.entries(from, limit).map_err(audit_page_error)? {
                if e.seq > head.seq {
                    break;
                }
                let line = e.to_json_line().map_err(audit_page_error)?;
                bytes = bytes.saturating_add(line.len() + 1);
                if !entries.is_empty() && bytes > MAX_AUDIT_PAGE_BYTES {
                    break;
                }
                entries.push(line);
            }
        }
        let view = self.view(head.seq, head.hash);
        Ok(AuditPage {
            chain_id: audit.chain_id().to_string(),
            from_seq: from,
            entries,
            head: SignedHead::sign(&self.inner.identity, head.seq, head.hash, challenge),
            view: SignedView::sign(&self.inner.identity, view, challenge),
        })
    }

    /// Appends one entry to this signer's audit log.
    fn audit(
        &self,
        kind: EntryKind,
        subject: &str,
        body: serde_json::Value,
    ) -> Result<(), tessera_audit::AuditError> {
        self.inner.audit.append(
            &self.inner.actor,
            kind,
            subject,
            body,
            self.inner.clock.now_ms(),
        )
    }

    /// A `ToSigner::Policy` frame: accepts the bundle only if it is strictly newer and signed
    /// by a quorum of the admins in force (for the first bundle: the configured admin set),
    /// then audits, stores and installs it. Answers with the new status or a refusal; a
    /// refusal changes nothing.
    pub fn install_policy(&self, json: &[u8]) -> FromSigner {
        let _serial = lock(&self.inner.policy_update);
        let candidate: SignedBundle = match serde_json::from_slice(json) {
            Ok(c) => c,
            Err(e) => return self.refuse_update("policy", 0, format!("not a signed bundle: {e}")),
        };
        let version = candidate.bundle.version;
        let state = self.policy_state();
        let current = state.bundle.as_ref().map(|b| &b.signed);
        let engine = match accept_update(current, &candidate, &self.inner.initial_admins) {
            Ok(e) => e,
            Err(e) => return self.refuse_update("policy", version, e.to_string()),
        };
        let stored = match serde_json::to_string(engine.signed_bundle()) {
            Ok(s) => s,
            Err(e) => return self.refuse_update("policy", version, format!("encoding: {e}")),
        };
        // Audit first: a change the log cannot record is not made.
        let admins: Vec<String> = engine
            .signed_bundle()
            .admin_signatures
            .iter()
            .map(|s| s.admin.to_hex())
            .collect();
        let body = json!({
            "tenant": engine.bundle().tenant,
            "bundle_hash": hex::encode(engine.bundle_hash()),
            "previous_version": current.map_or(0, |c| c.bundle.version),
            "signed_by": admins,
            "policy_ids": engine.policy_ids(),
        });
        let installed = Arc::new(Installed {
            signed: engine.signed_bundle().clone(),
            engine,
        });
        let update = Update {
            what: "policy",
            version,
            kind: EntryKind::PolicyChange {
                policy_version: version,
            },
            subject: format!("policy:{version}"),
            record: PolicyRecord::Bundle,
            stored,
        };
        self.commit_update(update, body, |slot| PolicyState {
            bundle: Some(installed),
            ..slot.clone()
        })
    }

    /// The last steps of an accepted bundle, mode change or freshness statement: audited first
    /// (a change the log cannot record is not made), stored in the vault, then put in force by
    /// `apply` over the state in force. Answers with the new status, or the refusal if a step
    /// failed (nothing is then in force).
    fn commit_update(
        &self,
        u: Update,
        body: serde_json::Value,
        apply: impl FnOnce(&PolicyState) -> PolicyState,
    ) -> FromSigner {
        if let Err(e) = self.audit(u.kind, &u.subject, body) {
            return self.refuse_update(u.what, u.version, format!("audit log: {e}"));
        }
        if let Err(e) = lock(&self.inner.vault).put_policy(u.record, u.version, &u.stored) {
            return self.refuse_update(u.what, u.version, format!("vault: {e}"));
        }
        {
            let mut slot = lock(&self.inner.policy);
            *slot = Arc::new(apply(&slot));
        }
        tracing::info!(
            what = u.what,
            version = u.version,
            "{} update in force",
            u.what
        );
        FromSigner::Status(self.status())
    }

    /// A `ToSigner::Mode` frame: accepts the change only if its sequence number is greater than
    /// the one in force and a quorum of the bundle's admins signed it, valid now; then audits,
    /// stores and applies it. Answers like [`Signer::install_policy`].
    pub fn change_mode(&self, json: &[u8]) -> FromSigner {
        let _serial = lock(&self.inner.policy_update);
        let candidate: ModeChange = match serde_json::from_slice(json) {
            Ok(c) => c,
            Err(e) => return self.refuse_update("mode", 0, format!("not a mode change: {e}")),
        };
        let seq = candidate.seq;
        let state = self.policy_state();
        let Some(installed) = state.bundle.clone() else {
            return self.refuse_update("mode", seq, "no policy bundle installed".into());
        };
        let now = self.inner.clock.now_unix();
        if let Err(e) = accept_mode(
            state.mode.as_ref(),
            &candidate,
            &installed.signed.bundle,
            now,
        ) {
            return self.refuse_update("mode", seq, e.to_string());
        }
        let stored = match serde_json::to_string(&candidate) {
            Ok(s) => s,
            Err(e) => return self.refuse_update("mode", seq, format!("encoding: {e}")),
        };
        let from = mode_in_force(state.mode.as_ref(), now);
        let body = json!({
            "seq": seq,
            "tenant": candidate.tenant,
            "reason": candidate.reason,
            "issued_at": candidate.issued_at,
            "expires_at": candidate.expires_at,
            "policy_version": installed.version(),
            "signed_by": candidate
                .admin_signatures
                .iter()
                .map(|s| s.admin.to_hex())
                .collect::<Vec<_>>(),
        });
        let update = Update {
            what: "mode",
            version: seq,
            kind: EntryKind::ModeChange {
                from: from.name().into(),
                to: candidate.mode.name().into(),
            },
            subject: format!("mode:{seq}"),
            record: PolicyRecord::ModeChange,
            stored,
        };
        self.commit_update(update, body, |slot| PolicyState {
            mode: Some(candidate),
            ..slot.clone()
        })
    }

    /// A `ToSigner::Freshness` frame: accepts an admin-signed statement that the bundle and
    /// mode change in force here are still the admins' (`tessera_policy::accept_freshness`),
    /// then audits and stores it; the policy counts as fresh from its `issued_at`. A statement
    /// naming another bundle or mode change — one this signer was not given — is refused, so
    /// the policy here keeps ageing. Answers like [`Signer::install_policy`].
    pub fn refresh_policy(&self, json: &[u8]) -> FromSigner {
        let _serial = lock(&self.inner.policy_update);
        let candidate: Freshness = match serde_json::from_slice(json) {
            Ok(c) => c,
            Err(e) => {
                return self.refuse_update(
                    "freshness",
                    0,
                    format!("not a freshness statement: {e}"),
                )
            }
        };
        let at = candidate.issued_at;
        let state = self.policy_state();
        let Some(installed) = state.bundle.clone() else {
            return self.refuse_update("freshness", at, "no policy bundle installed".into());
        };
        let now = self.inner.clock.now_unix();
        if let Err(e) = accept_freshness(
            state.freshness.as_ref(),
            &candidate,
            &installed.signed.bundle,
            state.mode.as_ref(),
            now,
        ) {
            return self.refuse_update("freshness", at, e.to_string());
        }
        let stored = match serde_json::to_string(&candidate) {
            Ok(s) => s,
            Err(e) => return self.refuse_update("freshness", at, format!("encoding: {e}")),
        };
        let body = json!({
            "policy_version": candidate.policy_version,
            "mode_seq": candidate.mode_seq,
            "issued_at": at,
            "signed_by": candidate.admin_signatures.iter().map(|s| s.admin.to_hex()).collect::<Vec<_>>(),
        });
        let update = Update {
            what: "freshness",
            version: at,
            kind: EntryKind::Other("policy_refreshed".into()),
            subject: format!("freshness:{at}"),
            record: PolicyRecord::Freshness,
            stored,
        };
        self.commit_update(update, body, |slot| PolicyState {
            freshness: Some(candidate),
            ..slot.clone()
        })
    }

    /// Logs and audits a refused bundle or mode change; the answer to send.
    fn refuse_update(&self, what: &str, version: u64, reason: String) -> FromSigner {
        tracing::warn!(what, version, "{what} update refused: {reason}");
        if let Err(e) = self.audit(
            EntryKind::Other(format!("{what}_refused")),
            &format!("{what}:{version}"),
            json!({ "reason": reason }),
        ) {
            tracing::error!(what, version, error = %e, "could not audit a refused update");
        }
        FromSigner::PolicyRefused {
            what: what.to_string(),
            version,
            reason,
        }
    }

    fn start(&self, start: StartSession, out: Outbound) {
        let session = start.session;
        let kind = start.job.kind();
        // Register the input channel before returning, so envelopes that follow the start frame
        // on the same link are queued, not dropped.
        let (tx, rx) = mpsc::sync_channel(self.inner.options.max_queued_envelopes);
        {
            let mut sessions = lock(&self.inner.sessions);
            if sessions.len() >= self.inner.options.max_sessions {
                drop(sessions);
                let failure = failure(
                    FailureKind::Busy,
                    &format!(
                        "{} sessions are running here, the most this signer takes",
                        self.inner.options.max_sessions
                    ),
                );
                tracing::warn!(session = %short(&session), kind, "refused: {}", failure.message);
                out(FromSigner::Failed { session, failure });
                return;
            }
            if sessions.contains_key(&session) {
                drop(sessions);
                // Audited, not answered: the running session answers under this id, and a
                // failure sent under it would fail that session at the coordinator.
                let failure = failure(FailureKind::Replayed, "session id already running");
                tracing::warn!(session = %short(&session), kind, "refused: {}", failure.message);
                let body = json!({
                    "session": hex::encode(session),
                    "job": kind,
                    "wallet": start.wallet_id,
                    "failure": failure.kind,
                    "message": failure.message,
                });
                let reason = RefusalReason::Replayed;
                if let Err(e) = self.audit(EntryKind::Refusal(reason), &subject_of(&start), body) {
                    tracing::error!(session = %short(&session), error = %e, "could not audit a refusal");
                }
                return;
            }
            sessions.insert(
                session,
                Running {
                    input: tx,
                    link: out.clone(),
                },
            );
        }
        let me = self.clone();
        let name = format!("session-{}-{}", kind, &hex::encode(session)[..8]);
        self.inner.spawner.spawn(
            name,
            Box::new(move || {
                let subject = subject_of(&start);
                let wallet_id = start.wallet_id.clone();
                let result = me.run(start, rx, &out);
                lock(&me.inner.sessions).remove(&session);
                match result {
                    Ok(outcome) => {
                        tracing::debug!(session = %short(&session), kind, "session done");
                        out(FromSigner::Done { session, outcome });
                    }
                    Err(Stop::Refused(refusal)) => {
                        let failure = refusal.failure;
                        tracing::warn!(
                            session = %short(&session),
                            kind,
                            failure = ?failure.kind,
                            "refused: {}",
                            failure.message
                        );
                        let what = EntryKind::Refusal(refusal.reason);
                        me.audit_stop(what, &subject, &session, kind, &wallet_id, &failure);
                        out(FromSigner::Failed { session, failure });
                    }
                    Err(Stop::Failed(failure)) => {
                        tracing::warn!(
                            session = %short(&session),
                            kind,
                            failure = ?failure.kind,
                            culprits = ?failure.culprits,
                            "session failed: {}",
                            failure.message
                        );
                        let what = EntryKind::SessionFailed;
                        me.audit_stop(what, &subject, &session, kind, &wallet_id, &failure);
                        out(FromSigner::Failed { session, failure });
                    }
                }
            }),
        );
    }

    /// Audits how an accepted session stopped (a refusal or a failure) with its failure; an
    /// append that fails is logged, the answer still goes out.
    fn audit_stop(
        &self,
        what: EntryKind,
        subject: &str,
        session: &[u8; 32],
        job: &str,
        wallet_id: &str,
        failure: &Failure,
    ) {
        let body = json!({
            "session": hex::encode(session),
            "job": job,
            "wallet": wallet_id,
            "failure": failure.kind,
            "message": failure.message,
            "culprits": failure.culprits,
        });
        if let Err(e) = self.audit(what, subject, body) {
            tracing::error!(session = %short(session), error = %e, "could not audit a stopped session");
        }
    }

    fn run(
        &self,
        start: StartSession,
        rx: mpsc::Receiver<Input>,
        out: &Outbound,
    ) -> Result<Outcome, Stop> {
        let timeout = match start.job {
            Job::Keygen { .. } | Job::Reshare(_) => self.inner.options.keygen_timeout,
            _ => self.inner.options.sign_timeout,
        };
        let mut ctx = self.session_ctx(start.session, &start.roster, timeout, rx, out)?;
        self.refuse_quarantined(&start)?;
        self.refuse_retired(&start)?;
        let sid = SessionId(start.session);
        match start.job {
            Job::Keygen {
                scheme: id,
                threshold,
                authorization,
                import: package,
                approvals,
            } => {
                let target = import::ImportTarget {
                    wallet_id: &start.wallet_id,
                    scheme: id,
                    threshold,
                    roster: &start.roster,
                };
                let (networks, import) =
                    self.authorize_keygen(&target, &authorization, package, &approvals)?;
                self.record_session(&start.session)?;
                let wallet = NewWallet {
                    wallet_id: &start.wallet_id,
                    scheme: id,
                    threshold,
                    networks,
                    import,
                };
                Ok(self.keygen(&mut ctx, sid, wallet)?)
            }
            Job::Presign { signers } => {
                self.presign(&mut ctx, &start.wallet_id, &start.session, &signers)
            }
            Job::Reshare(job) => {
                let old = self.authorize_reshare(&start.wallet_id, &start.roster, ctx.me, &job)?;
                self.record_session(&start.session)?;
                Ok(self.reshare(&mut ctx, sid, &start.wallet_id, job, old)?)
            }
            Job::Epoch {
                epoch,
                session,
                decision,
            } => self.settle_epoch(&start.wallet_id, &start.roster, epoch, &session, decision),
            Job::Retire {
                authorization,
                approvals,
            } => Ok(self.retire(&start.wallet_id, &authorization, &approvals)?),
            Job::Leave {
                authorization,
                attestations,
            } => self.leave(&start.wallet_id, &authorization, &attestations),
            sign => match SignArgs::from_job(sign) {
                Some((job, None)) => {
                    self.sign_full(&mut ctx, &start.wallet_id, &start.session, job)
                }
                Some((job, Some(presignature))) => self.sign_presigned(
                    &mut ctx,
                    &start.wallet_id,
                    &start.session,
                    presignature,
                    job,
                ),
                None => Err(failure(FailureKind::Internal, "not a signing job").into()),
            },
        }
    }

    /// This signer's context for session `session` among `roster`: its own party index (it
    /// must be a member), the roster checked, the deadline `timeout` from now.
    fn session_ctx<'a>(
        &'a self,
        session: [u8; 32],
        roster: &'a [Member],
        timeout: Duration,
        rx: mpsc::Receiver<Input>,
        out: &'a Outbound,
    ) -> Result<RunCtx<'a>, Stop> {
        let inner = &self.inner;
        let me = roster
            .iter()
            .find(|m| m.identity == inner.public)
            .map(|m| m.index)
            .ok_or_else(|| {
                Refusal::from(failure(
                    FailureKind::Unauthorized,
                    "this signer is not in the roster",
                ))
            })?;
        check_roster(roster).map_err(Refusal::from)?;
        Ok(RunCtx {
            identity: &inner.identity,
            outer: session,
            me,
            roster,
            rx,
            out,
            deadline_ms: inner.clock.now_ms() + timeout.as_millis() as u64,
            clock: inner.clock.as_ref(),
            tasks: inner.spawner.as_ref(),
            stash: Vec::new(),
        })
    }

    /// Refuses a session a signer under incident quarantine (the bundle in force names it)
    /// takes part in — this signer included: signing jobs count their listed signers, other
    /// jobs the whole roster.
    fn refuse_quarantined(&self, start: &StartSession) -> Result<(), Stop> {
        let policy = self.policy_state();
        let Some(installed) = policy.bundle.as_ref() else {
            return Ok(());
        };
        let bundle = &installed.signed.bundle;
        if bundle.quarantined.is_empty() {
            return Ok(());
        }
        let taking_part: Vec<&Member> = match &start.job {
            Job::Sign { signers, .. }
            | Job::Presign { signers }
            | Job::SignPresigned { signers, .. } => signers
                .iter()
                .filter_map(|i| start.roster.get(usize::from(*i)))
                .collect(),
            _ => start.roster.iter().collect(),
        };
        match taking_part
            .iter()
            .map(|m| m.identity.node_id())
            .find(|n| bundle.is_quarantined(&n.0))
        {
            Some(node) => Err(Refusal::from(failure(
                FailureKind::Unauthorized,
                &format!("signer {node} is quarantined by the policy in force"),
            ))
            .into()),
            None => Ok(()),
        }
    }

    /// A presign job: refused in lockdown or with a full pool; the presignature is kept in the
    /// vault, its public part answered.
    fn presign(
        &self,
        ctx: &mut RunCtx<'_>,
        wallet_id: &str,
        session: &[u8; 32],
        signers: &[PartyIndex],
    ) -> Result<Outcome, Stop> {
        let wallet = self.wallet(wallet_id, ctx.roster, ctx.me)?;
        self.refuse_in_lockdown()?;
        self.refuse_full_pool(wallet_id)?;
        self.record_session(session)?;
        let sid = SessionId(*session);
        let s = scheme(wallet.0.scheme())
            .presign(&wallet.0, sid, signers)
            .map_err(crypto_failure)?;
        let (presig, public) = runner::drive(ctx, sid, s)?;
        let mut vault = lock(&self.inner.vault);
        // Made with the share of `wallet.1.epoch`: if an epoch was committed meanwhile (its
        // commit destroyed the older presignatures), this one is dropped, never kept.
        if vault.committed_epoch(wallet_id).map_err(vault_failure)? != Some(wallet.1.epoch) {
            return Err(failure(
                FailureKind::NotReady,
                "the wallet's shares changed during the presign; its presignature is dropped",
            )
            .into());
        }
        vault
            .put_presignature(wallet_id, &presig.id(), &presig.to_bytes())
            .map_err(vault_failure)?;
        Ok(Outcome::Presign(public))
    }

    /// The steps every signing job takes before its protocol: its wallet, the checks of the
    /// module docs (1–6) and, with `record`, the session id recorded; then the velocity
    /// exchange with its co-signers.
    fn admit_sign(
        &self,
        ctx: &mut RunCtx<'_>,
        wallet_id: &str,
        session: &[u8; 32],
        job: &SignArgs,
        record: bool,
    ) -> Result<(Arc<(KeyShare, WalletPublic)>, Authorized), Stop> {
        let wallet = self.wallet(wallet_id, ctx.roster, ctx.me)?;
        let authorized = self.authorize_sign(&SignJob {
            wallet_id,
            share: &wallet.0,
            networks: &wallet.1.networks,
            path: &job.path,
            message: &job.message,
            authz: &job.authorization,
            tx: job.transaction.as_ref(),
            policy_version: job.policy_version,
            approvals: &job.approvals,
        })?;
        if record {
            self.record_session(session)?;
        }
        let sid = SessionId(*session);
        let t = wallet.1.threshold;
        self.check_union(ctx, sid, &job.signers, wallet_id, t, &authorized)?;
        Ok((wallet, authorized))
    }

    /// A full (interactive) signing job, recorded before its release round.
    fn sign_full(
        &self,
        ctx: &mut RunCtx<'_>,
        wallet_id: &str,
        session: &[u8; 32],
        job: SignArgs,
    ) -> Result<Outcome, Stop> {
        let (wallet, authorized) = self.admit_sign(ctx, wallet_id, session, &job, true)?;
        let sid = SessionId(*session);
        let path = parse_path(&job.path).map_err(Refusal::from)?;
        let protocol = scheme(wallet.0.scheme());
        let s = protocol
            .sign(&wallet.0, sid, &job.signers, &job.message, &path)
            .map_err(crypto_failure)?;
        // Record before release: the request is marked done with its velocity entries (one
        // vault transaction), then audited, before this signer sends any message of the round
        // that can complete the signature — not after the protocol, when a coordinator that
        // kept those messages could already have the signature.
        let expires_at = job.authorization.expires_at;
        let release = runner::Release {
            round: protocol.sign_release_round(),
            commit: Box::new(|| self.record_release(&authorized, wallet_id, session, expires_at)),
        };
        let sig = runner::drive_releasing(ctx, sid, s, Some(release))?;
        Ok(Outcome::Signature(sig))
    }

    /// A presigned (one-round) signing job: the presignature is consumed in the transaction that
    /// records the request, then the partial is computed, audited and released.
    fn sign_presigned(
        &self,
        ctx: &mut RunCtx<'_>,
        wallet_id: &str,
        session: &[u8; 32],
        presignature: [u8; 32],
        job: SignArgs,
    ) -> Result<Outcome, Stop> {
        let inner = &self.inner;
        let (wallet, authorized) = self.admit_sign(ctx, wallet_id, session, &job, false)?;
        let path = parse_path(&job.path).map_err(Refusal::from)?;
        // One transaction: the session id is recorded, the request marked done, its velocity
        // recorded and the presignature destroyed (consumed) durably. Only then is a partial
        // signature computed, audited and released. A crash after the commit leaves the
        // presignature destroyed, never reusable.
        let now = inner.clock.now_unix();
        let secret = self
            .write_velocity(&authorized, |vault| {
                vault.take_presignature_for(
                    wallet_id,
                    &presignature,
                    session,
                    &authorized.done,
                    job.authorization.expires_at,
                    now,
                    &authorized.velocity,
                )
            })
            .map_err(Refusal::from)?;
        let presig = Presignature::from_bytes(&secret).map_err(crypto_failure)?;
        let partial = scheme(wallet.0.scheme())
            .issue_partial(
                &wallet.0,
                presig,
                &job.message,
                &path,
                &mut MemoryLedger::default(),
            )
            .map_err(crypto_failure)?;
        self.audit_release(&authorized, wallet_id, session, "sign-presigned")?;
        Ok(Outcome::Partial(partial))
    }

    /// Commits a full signing job's request as signed here — done marker and velocity entries
    /// in one vault transaction, then the signature audit entry — before its release round.
    fn record_release(
        &self,
        a: &Authorized,
        wallet_id: &str,
        session: &[u8; 32],
        expires_at: u64,
    ) -> Result<(), Failure> {
        let now = self.inner.clock.now_unix();
        self.write_velocity(a, |vault| {
            vault.complete_request(&a.done, expires_at, now, &a.velocity)
        })?;
        self.audit_release(a, wallet_id, session, "sign")
    }

    /// Runs `write`, a vault transaction that records `a`'s velocity entries, and adds them to
    /// the velocity book once it committed — unless an earlier message of the request wrote
    /// them already (the vault keeps those, so the book has them). The reservation lock is
    /// taken before the vault's, as every evaluation takes them, so no evaluation sees the
    /// vault's entries without the book's.
    fn write_velocity<T>(
        &self,
        a: &Authorized,
        write: impl FnOnce(&mut Vault) -> Result<T, VaultError>,
    ) -> Result<T, Failure> {
        let mut gate = lock(&self.inner.velocity);
        let mut vault = lock(&self.inner.vault);
        let first = match a.velocity.first() {
            Some(e) => vault
                .request_velocity(&e.request_id, &e.intent_hash)
                .map_err(vault_failure)?
                .is_empty(),
            None => false,
        };
        let out = write(&mut vault).map_err(vault_failure)?;
        if first {
            gate.book.recorded(&a.velocity);
        }
        Ok(out)
    }

    /// Appends the signature entry of an authorized job; a failure withholds the signature.
    fn audit_release(
        &self,
        a: &Authorized,
        wallet_id: &str,
        session: &[u8; 32],
        job: &str,
    ) -> Result<(), Failure> {
        let body = json!({
            "wallet": wallet_id,
            "intent_hash": hex::encode(a.intent_hash),
            "index": a.index,
            "policy_version": a.policy_version,
            "policy_ids": a.policy_ids,
            "approvers": a.approvers,
            "session": hex::encode(session),
            "job": job,
        });
        self.audit(EntryKind::Signature, &a.request_id, body)
            .map_err(|e| {
                tracing::error!(
                    request = %a.request_id,
                    error = %e,
                    "audit log append failed; the signature is withheld"
                );
                failure(
                    FailureKind::Storage,
                    &format!("audit log: {e}; the signature is withheld"),
                )
            })
    }

    fn keygen(
        &self,
        ctx: &mut RunCtx<'_>,
        sid: SessionId,
        wallet: NewWallet<'_>,
    ) -> Result<Outcome, Failure> {
        let NewWallet {
            wallet_id,
            scheme: id,
            threshold,
            networks,
            import,
        } = wallet;
        let n = ctx.roster.len() as u16;
        let params = ThresholdParams::new(threshold, n).map_err(crypto_failure)?;
        let aux = if id == SchemeId::EcdsaCggmp24 {
            Some(self.aux_info(ctx, sid, n)?)
        } else {
            None
        };
        let (ksid, s) = match &import {
            None => {
                let ksid = sid.derive("keygen");
                let input = KeygenInput {
                    sid: ksid,
                    me: ctx.me,
                    params,
                    aux,
                };
                (ksid, scheme(id).keygen(input).map_err(crypto_failure)?)
            }
            Some(imported) => {
                let isid = sid.derive("import");
                let wallet = (wallet_id, id);
                let s = self.import_session(isid, ctx.me, params, wallet, aux, imported)?;
                (isid, s)
            }
        };
        let share = runner::drive(ctx, ksid, s)?;
        let public = WalletPublic {
            scheme: id,
            threshold,
            index: ctx.me,
            roster: ctx.roster.iter().map(|m| m.identity.node_id()).collect(),
            public_key: share.public_key().to_hex(),
            epoch: 0,
            networks,
            reshare_session: None,
        };
        let info = serde_json::to_string(&public).map_err(|e| internal(e.to_string()))?;
        lock(&self.inner.vault)
            .put_share(wallet_id, 0, &share.to_bytes(), &info)
            .map_err(vault_failure)?;
        let statement = WalletStatement {
            wallet_id: wallet_id.to_string(),
            scheme: id,
            threshold,
            signers: public.roster.clone(),
            public_key: share.public_key().clone(),
            chain_code: share.chain_code(),
            networks: public.networks.clone(),
            epoch: 0,
        };
        let outcome = Outcome::Keygen {
            public_key: statement.public_key.clone(),
            chain_code: statement.chain_code,
            attestation: WalletAttestation::sign(&self.inner.identity, &statement),
        };
        self.audit_new_wallet(wallet_id, &public, import.is_some());
        lock(&self.inner.shares).insert(wallet_id.to_string(), Arc::new((share, public)));
        Ok(outcome)
    }

    /// `wallet_created` for a stored share. The share is stored and the outcome public: a
    /// failed append is logged, not fatal.
    fn audit_new_wallet(&self, wallet_id: &str, public: &WalletPublic, imported: bool) {
        let body = json!({
            "scheme": public.scheme.name(),
            "threshold": public.threshold,
            "index": public.index,
            "public_key": public.public_key,
            "signers": public.roster.iter().map(|n| hex::encode(n.0)).collect::<Vec<_>>(),
            "networks": public.networks,
            "imported": imported,
        });
        if let Err(e) = self.audit(EntryKind::WalletCreated, wallet_id, body) {
            tracing::error!(wallet = wallet_id, error = %e, "could not audit a new wallet");
        }
    }

    /// The share of `wallet_id`, checked against the roster the coordinator sent.
    fn wallet(
        &self,
        wallet_id: &str,
        roster: &[Member],
        me: PartyIndex,
    ) -> Result<Arc<(KeyShare, WalletPublic)>, Refusal> {
        let cached = lock(&self.inner.shares).get(wallet_id).cloned();
        let wallet = match cached {
            Some(w) => w,
            None => {
                let stored = lock(&self.inner.vault)
                    .share(wallet_id)
                    .map_err(vault_failure)?
                    .ok_or_else(|| failure(FailureKind::NotReady, "no share for this wallet"))?;
                let mut public: WalletPublic = serde_json::from_str(&stored.public_info)
                    .map_err(|e| internal(format!("stored wallet info: {e}")))?;
                public.epoch = stored.epoch;
                let share = KeyShare::from_bytes(&stored.share).map_err(crypto_failure)?;
                let w = Arc::new((share, public));
                lock(&self.inner.shares).insert(wallet_id.to_string(), w.clone());
                w
            }
        };
        let ids: Vec<NodeId> = roster.iter().map(|m| m.identity.node_id()).collect();
        if ids != wallet.1.roster || me != wallet.1.index {
            return Err(failure(
                FailureKind::Unauthorized,
                "the roster differs from the wallet's signer group",
            )
            .into());
        }
        Ok(wallet)
    }

    /// Step 2: the requester authorization is signed by a trusted operator key, not expired,
    /// not longer-lived than this signer accepts (what it covers is checked by the caller).
    pub(super) fn check_authorization(&self, authz: &Authorization) -> Result<(), Failure> {
        authz
            .verify(
                &self.inner.operators,
                self.inner.clock.now_unix(),
                self.inner.options.max_authorization_secs,
            )
            .map_err(|e| {
                let kind = match e {
                    WireError::Expired => FailureKind::Expired,
                    _ => FailureKind::Unauthorized,
                };
                failure(kind, &format!("authorization: {e}"))
            })
    }

    /// In lockdown (suspected compromise) the signer prepares no presignatures or nonces
    /// either: no key material is used until the admin quorum lifts it.
    fn refuse_in_lockdown(&self) -> Result<(), Refusal> {
        let state = self.policy_state();
        if mode_in_force(state.mode.as_ref(), self.inner.clock.now_unix()) == Mode::Lockdown {
            return Err(Refusal::new(
                FailureKind::ModeRestricted,
                RefusalReason::ModeRestricted,
                "lockdown is in force: no presignatures or nonces are prepared",
            ));
        }
        Ok(())
    }

    /// A presign job for a wallet that already holds the most presignatures kept is refused.
    fn refuse_full_pool(&self, wallet_id: &str) -> Result<(), Refusal> {
        let held = lock(&self.inner.vault)
            .presignature_ids(wallet_id)
            .map_err(vault_failure)?
            .len();
        let cap = self.inner.options.max_presignatures_per_wallet;
        if held >= cap {
            return Err(failure(
                FailureKind::Busy,
                &format!(
                    "this signer already holds {held} presignatures for the wallet (at most {cap})"
                ),
            )
            .into());
        }
        Ok(())
    }

    /// A key operation (`create_wallet`, `import_wallet`, `reshare_wallet`) under this
    /// signer's own policy, once a bundle is installed: the policy must be fresh and allow it;
    /// a decision that needs approvals is met only by `approvals` over the authorization's
    /// request id and `tessera_wire::key_operation_hash` of its action, checked against this
    /// signer's own quorum.
    fn check_key_policy(
        &self,
        wallet_id: &str,
        authz: &Authorization,
        action: PolicyAction,
        approvals: &[Approval],
    ) -> Result<(), Refusal> {
        let state = self.policy_state();
        let Some(installed) = &state.bundle else {
            return Ok(());
        };
        let now = self.inner.clock.now_unix();
        state.check_fresh(self.inner.options.max_policy_age_secs, now)?;
        let requester = tessera_policy::PublicKey(authz.operator.0);
        let mode = mode_in_force(state.mode.as_ref(), now);
        let bundle = &installed.signed.bundle;
        let req = wallet_key_request(bundle, &requester, wallet_id, action, now, mode)
            .map_err(|e| failure(FailureKind::PolicyDenied, &format!("policy request: {e}")))?;
        // A new wallet has no velocity history.
        let decision = installed
            .engine
            .evaluate(&req, &tessera_policy::MemoryLedger::new());
        if let d @ Decision::Deny { .. } = &decision {
            return Err(deny_refusal(d));
        }
        let hash = tessera_wire::key_operation_hash(&authz.action);
        let version = installed.engine.version();
        checks::check_approvals(
            &decision,
            approvals,
            bundle,
            &authz.request_id,
            &hash,
            version,
            now,
        )
        .map(|_| ())
    }

    /// A key generation's or an import's authorization: a trusted operator's, for exactly
    /// `target` (and, for an import, `package`), allowed by the policy; the wallet new here and
    /// the request id unused. Returns the networks it binds and, for an import, what the
    /// import must produce.
    fn authorize_keygen(
        &self,
        target: &import::ImportTarget<'_>,
        authz: &Authorization,
        package: Option<tessera_wire::ImportPackage>,
        approvals: &[Approval],
    ) -> Result<(Vec<String>, Option<import::Imported>), Refusal> {
        self.check_authorization(authz)?;
        let wallet_id = target.wallet_id;
        let (networks, imported) = match package {
            Some(package) => {
                let (networks, imported) = import::check_import(target, authz, package)?;
                (networks, Some(imported))
            }
            None => (keygen_networks(target, authz)?, None),
        };
        let action = match imported {
            Some(_) => PolicyAction::ImportWallet,
            None => PolicyAction::CreateWallet,
        };
        self.check_key_policy(wallet_id, authz, action, approvals)?;
        let mut vault = lock(&self.inner.vault);
        if vault.share(wallet_id).map_err(vault_failure)?.is_some() {
            return Err(failure(
                FailureKind::Replayed,
                "a wallet with this id already exists here",
            )
            .into());
        }
        vault
            .record_request(
                &authz.request_id,
                authz.expires_at,
                self.inner.clock.now_unix(),
            )
            .map_err(vault_failure)?;
        Ok((networks, imported))
    }

    /// Step 7 (full path): the session id recorded, before the protocol starts.
    fn record_session(&self, session: &[u8; 32]) -> Result<(), Refusal> {
        lock(&self.inner.vault)
            .record_session(session)
            .map_err(|e| vault_failure(e).into())
    }
}

/// Checks `authz` is an `Action::Keygen` for exactly `target`; returns its networks.
fn keygen_networks(
    target: &import::ImportTarget<'_>,
    authz: &Authorization,
) -> Result<Vec<String>, Refusal> {
    let unauthorized = |m: &str| Refusal::from(failure(FailureKind::Unauthorized, m));
    let Action::Keygen { networks, .. } = &authz.action else {
        return Err(unauthorized("not a key-generation authorization"));
    };
    check_networks(networks).map_err(|e| unauthorized(&format!("networks: {e}")))?;
    let expected = Action::Keygen {
        wallet_id: target.wallet_id.to_string(),
        scheme: target.scheme,
        threshold: target.threshold,
        signers: target.roster.iter().map(|m| m.identity.node_id()).collect(),
        networks: networks.clone(),
    };
    if authz.action != expected {
        return Err(unauthorized(
            "authorization is for a different key generation",
        ));
    }
    Ok(networks.clone())
}

/// The audit subject of a session: the request id of its authorization, or the session id.
fn subject_of(start: &StartSession) -> String {
    match &start.job {
        Job::Keygen { authorization, .. }
        | Job::Retire { authorization, .. }
        | Job::Leave { authorization, .. }
        | Job::Sign { authorization, .. }
        | Job::SignPresigned { authorization, .. } => authorization.request_id.clone(),
        Job::Reshare(job) => job.authorization.request_id.clone(),
        Job::Presign { .. } | Job::Epoch { .. } => {
            format!("session:{}", hex::encode(start.session))
        }
    }
}

/// Reads the accepted bundle and mode change from the vault. The bundle is compiled without
/// re-checking its signatures: it was accepted (`tessera_policy::accept_update`) before it was
/// stored, and the vault's seal protects it since.
fn load_policy(vault: &Vault) -> Result<PolicyState, NodeError> {
    let bundle = match vault.policy(PolicyRecord::Bundle)? {
        None => None,
        Some(stored) => {
            let signed: SignedBundle = serde_json::from_str(&stored.json)
                .map_err(|e| NodeError::Corrupt(format!("stored policy bundle: {e}")))?;
            if signed.bundle.version != stored.version {
                return Err(NodeError::Corrupt(
                    "stored policy bundle has another version than its record".into(),
                ));
            }
            let engine = Engine::compile(&signed.bundle)
                .map_err(|e| NodeError::Corrupt(format!("stored policy bundle: {e}")))?;
            Some(Arc::new(Installed { signed, engine }))
        }
    };
    let mode = match vault.policy(PolicyRecord::ModeChange)? {
        None => None,
        Some(stored) => {
            let change: ModeChange = serde_json::from_str(&stored.json)
                .map_err(|e| NodeError::Corrupt(format!("stored mode change: {e}")))?;
            if change.seq != stored.version {
                return Err(NodeError::Corrupt(
                    "stored mode change has another sequence than its record".into(),
                ));
            }
            Some(change)
        }
    };
    let freshness = match vault.policy(PolicyRecord::Freshness)? {
        None => None,
        Some(stored) => Some(
            serde_json::from_str::<Freshness>(&stored.json)
                .map_err(|e| NodeError::Corrupt(format!("stored policy freshness: {e}")))?,
        ),
    };
    Ok(PolicyState {
        bundle,
        mode,
        freshness,
    })
}

fn parse_admins(json: &str) -> Result<AdminSet, NodeError> {
    let set: AdminSet = serde_json::from_str(json)
        .map_err(|e| NodeError::Corrupt(format!("policy admins: {e}")))?;
    AdminSet::new(set.keys, set.quorum)
        .map_err(|e| NodeError::Config(format!("policy admins: {e}")))
}

/// Serializes the admin set for [`settings::POLICY_ADMINS`].
pub fn policy_admins_setting(admins: &AdminSet) -> String {
    // A set of keys and a number: serialization cannot fail.
    serde_json::to_string(admins).unwrap_or_default()
}

fn done_key(request_id: &str) -> String {
    format!("done:{request_id}")
}

/// The co-signers named for a velocity exchange: distinct party indices of the group, at least
/// `threshold` of them, this signer among them (else a coordinator could leave out the ones that
/// know of earlier requests).
fn check_co_signers(signers: &[u16], me: u16, threshold: u16, n: usize) -> Result<(), Failure> {
    let distinct: std::collections::BTreeSet<u16> = signers.iter().copied().collect();
    let ok = distinct.len() == signers.len()
        && distinct.len() >= usize::from(threshold)
        && distinct.contains(&me)
        && distinct.iter().all(|&p| usize::from(p) < n);
    if ok {
        Ok(())
    } else {
        Err(failure(
            FailureKind::Unauthorized,
            &format!("signers {signers:?} are not a signing set of this {threshold}-of-{n} group with party {me}"),
        ))
    }
}

fn check_roster(roster: &[Member]) -> Result<(), Failure> {
    for (i, m) in roster.iter().enumerate() {
        if usize::from(m.index) != i {
            return Err(failure(
                FailureKind::Unauthorized,
                "roster is not in party-index order",
            ));
        }
        if !m.verify() {
            return Err(failure(
                FailureKind::Unauthorized,
                "a roster member's key-binding proof does not verify",
            ));
        }
        if roster[..i]
            .iter()
            .any(|o| o.identity.sign == m.identity.sign)
        {
            return Err(failure(
                FailureKind::Unauthorized,
                "roster repeats a signer",
            ));
        }
    }
    Ok(())
}

/// Identifies a signer group (ordered roster) for aux-info reuse.
pub fn group_id(roster: &[Member]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tessera/signer-group/v1");
    for m in roster {
        h.update(m.identity.sign);
        h.update(m.identity.kx);
    }
    h.finalize().into()
}

fn parse_operators(json: &str) -> Result<Vec<OperatorPublic>, NodeError> {
    let list: Vec<String> =
        serde_json::from_str(json).map_err(|e| NodeError::Corrupt(format!("operators: {e}")))?;
    list.iter()
        .map(|h| {
            OperatorPublic::from_hex(h)
                .map_err(|e| NodeError::Corrupt(format!("operator key: {e}")))
        })
        .collect()
}

/// Serializes operator keys for [`settings::OPERATORS`].
pub fn operators_setting(ops: &[OperatorPublic]) -> String {
    let list: Vec<String> = ops.iter().map(|o| o.to_string()).collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

fn parse_path(path: &str) -> Result<DerivationPath, Failure> {
    DerivationPath::parse(path).map_err(crypto_failure)
}

pub(crate) fn short(session: &[u8; 32]) -> String {
    hex::encode(&session[..6])
}

pub(crate) fn failure(kind: FailureKind, message: &str) -> Failure {
    Failure {
        kind,
        message: message.to_string(),
        culprits: Vec::new(),
    }
}

fn internal(message: String) -> Failure {
    Failure {
        kind: FailureKind::Internal,
        message,
        culprits: Vec::new(),
    }
}

pub(crate) fn crypto_failure(e: CryptoError) -> Failure {
    let kind = match &e {
        CryptoError::PresignatureReused { .. } => FailureKind::Replayed,
        CryptoError::InvalidArgs(_)
        | CryptoError::Unsupported { .. }
        | CryptoError::PresignatureNotAllowed(_) => FailureKind::Unauthorized,
        CryptoError::InvalidKeyShare(_) | CryptoError::Bug(_) | CryptoError::Misuse(_) => {
            FailureKind::Internal
        }
        _ => FailureKind::Protocol,
    };
    Failure {
        kind,
        message: e.to_string(),
        culprits: e.culprits(),
    }
}

pub(crate) fn vault_failure(e: VaultError) -> Failure {
    let kind = match e {
        VaultError::PresignatureConsumed
        | VaultError::SessionReused
        | VaultError::RequestReplayed => FailureKind::Replayed,
        VaultError::NotFound => FailureKind::NotReady,
        _ => FailureKind::Storage,
    };
    Failure {
        kind,
        message: format!("vault: {e}"),
        culprits: Vec::new(),
    }
}

//! The signer's decision logic: which sessions it joins, and what it keeps in its vault.
//!
//! [`Signer::handle`] takes one frame from a coordinator. A `Start` is checked (roster, operator
//! authorization, replay ledgers) before any protocol message leaves this node; the protocol then
//! runs on its own task, started through the injected [`Spawn`], because protocol sessions are
//! not `Send` once built and some (cggmp24) take seconds of CPU.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_chains::{Registry, WalletKey};
use tessera_crypto::{
    scheme, AuxInfo, Cggmp24, DerivationPath, Error as CryptoError, KeyShare, KeygenInput,
    MemoryLedger, PartyIndex, Presignature, SchemeId, SessionId, SignMessage, ThresholdParams,
};
use tessera_proto::link::{
    Failure, FailureKind, FromSigner, Job, Member, Outcome, SignerStatus, StartSession, ToSigner,
    TxContext,
};
use tessera_proto::Clock;
use tessera_vault::{Vault, VaultError};
use tessera_wire::{
    authorized_message, Action, Authorization, IdentityKey, NodeId, OperatorPublic, PublicIdentity,
};

use crate::primes::PrimeSource;
use crate::runner::{self, Input, RunCtx};

/// Where a session's answers go (the link to the coordinator that started it).
pub type Outbound = Arc<dyn Fn(FromSigner) + Send + Sync>;

/// Starts background work. The daemon uses OS threads; a simulation can run tasks its own way.
pub trait Spawn: Send + Sync + 'static {
    /// Runs `task` to completion somewhere.
    fn spawn(&self, name: String, task: Box<dyn FnOnce() + Send>);
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
    /// JSON list of trusted operator public keys (hex).
    pub const OPERATORS: &str = "operators";
    /// Display name of this signer.
    pub const NAME: &str = "name";
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
}

impl Default for SignerOptions {
    fn default() -> Self {
        SignerOptions {
            max_authorization_secs: 3600,
            keygen_timeout: Duration::from_secs(900),
            sign_timeout: Duration::from_secs(60),
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
    /// Running sessions: their input channel.
    sessions: Mutex<HashMap<[u8; 32], mpsc::Sender<Input>>>,
    /// Parsed shares (parsing re-validates with the protocol crate, which is not free).
    shares: Mutex<HashMap<String, Arc<(KeyShare, WalletPublic)>>>,
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Signer {
    /// Opens a signer over an unlocked vault. The signer carries every chain adapter Tessera
    /// ships (`tessera_chains::registry`), to re-parse chain payloads itself.
    pub fn new(
        vault: Vault,
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
        let public = identity.public();
        Ok(Signer {
            inner: Arc::new(Inner {
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
        let wallets = lock(&self.inner.vault)
            .wallets()
            .map(|w| w.len() as u32)
            .unwrap_or(0);
        let (primes_ready, primes_progress) = self.inner.primes.progress();
        SignerStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            wallets,
            primes_ready,
            primes_progress,
            sessions: lock(&self.inner.sessions).len() as u32,
        }
    }

    /// Handles one frame from a coordinator; answers go to `out`.
    pub fn handle(&self, frame: ToSigner, out: &Outbound) {
        match frame {
            ToSigner::Start(start) => self.start(*start, out.clone()),
            ToSigner::Envelope { session, bytes } => {
                let tx = lock(&self.inner.sessions).get(&session).cloned();
                match tx {
                    Some(tx) => {
                        let _ = tx.send(Input::Envelope(bytes));
                    }
                    None => tracing::debug!(
                        session = %hex::encode(&session[..8]),
                        "envelope for a session that is not running here; dropped"
                    ),
                }
            }
            ToSigner::Abort { session, reason } => {
                if let Some(tx) = lock(&self.inner.sessions).get(&session) {
                    let _ = tx.send(Input::Abort(reason));
                }
            }
            ToSigner::Challenge { .. } | ToSigner::Welcome => {}
        }
    }

    fn start(&self, start: StartSession, out: Outbound) {
        let session = start.session;
        let kind = start.job.kind();
        // Register the input channel before returning, so envelopes that follow the start frame
        // on the same link are queued, not dropped.
        let (tx, rx) = mpsc::channel();
        {
            let mut sessions = lock(&self.inner.sessions);
            if sessions.contains_key(&session) {
                drop(sessions);
                let failure = failure(FailureKind::Replayed, "session id already running");
                tracing::warn!(session = %short(&session), kind, "refused: {}", failure.message);
                out(FromSigner::Failed { session, failure });
                return;
            }
            sessions.insert(session, tx);
        }
        let me = self.clone();
        let name = format!("session-{}-{}", kind, &hex::encode(session)[..8]);
        self.inner.spawner.spawn(
            name,
            Box::new(move || {
                let result = me.run(start, rx, &out);
                lock(&me.inner.sessions).remove(&session);
                match result {
                    Ok(outcome) => {
                        tracing::debug!(session = %short(&session), kind, "session done");
                        out(FromSigner::Done { session, outcome });
                    }
                    Err(failure) => {
                        tracing::warn!(
                            session = %short(&session),
                            kind,
                            failure = ?failure.kind,
                            culprits = ?failure.culprits,
                            "session failed: {}",
                            failure.message
                        );
                        out(FromSigner::Failed { session, failure });
                    }
                }
            }),
        );
    }

    fn run(
        &self,
        start: StartSession,
        rx: mpsc::Receiver<Input>,
        out: &Outbound,
    ) -> Result<Outcome, Failure> {
        let inner = &self.inner;
        let me = start
            .roster
            .iter()
            .find(|m| m.identity == inner.public)
            .map(|m| m.index)
            .ok_or_else(|| {
                failure(
                    FailureKind::Unauthorized,
                    "this signer is not in the roster",
                )
            })?;
        check_roster(&start.roster)?;
        let now_ms = inner.clock.now_ms();
        let timeout = match start.job {
            Job::Keygen { .. } => inner.options.keygen_timeout,
            _ => inner.options.sign_timeout,
        };
        let mut ctx = RunCtx {
            identity: &inner.identity,
            outer: start.session,
            me,
            roster: &start.roster,
            rx,
            out,
            deadline_ms: now_ms + timeout.as_millis() as u64,
            clock: inner.clock.as_ref(),
            stash: Vec::new(),
        };
        let sid = SessionId(start.session);
        match start.job {
            Job::Keygen {
                scheme: id,
                threshold,
                authorization,
            } => {
                self.authorize_keygen(
                    &start.wallet_id,
                    id,
                    threshold,
                    &start.roster,
                    &authorization,
                )?;
                self.record_session(&start.session)?;
                self.keygen(&mut ctx, sid, &start.wallet_id, id, threshold)
            }
            Job::Sign {
                signers,
                message,
                path,
                authorization,
                transaction,
            } => {
                let wallet = self.wallet(&start.wallet_id, &start.roster, me)?;
                let done = self.authorize_sign(
                    &start.wallet_id,
                    &wallet.0,
                    &path,
                    &message,
                    &authorization,
                    transaction.as_ref(),
                )?;
                self.record_session(&start.session)?;
                let path = parse_path(&path)?;
                let s = scheme(wallet.0.scheme())
                    .sign(&wallet.0, sid, &signers, &message, &path)
                    .map_err(crypto_failure)?;
                let sig = runner::drive(&mut ctx, sid, s)?;
                self.mark_done(&done, authorization.expires_at)?;
                Ok(Outcome::Signature(sig))
            }
            Job::Presign { signers } => {
                let wallet = self.wallet(&start.wallet_id, &start.roster, me)?;
                self.record_session(&start.session)?;
                let s = scheme(wallet.0.scheme())
                    .presign(&wallet.0, sid, &signers)
                    .map_err(crypto_failure)?;
                let (presig, public) = runner::drive(&mut ctx, sid, s)?;
                lock(&inner.vault)
                    .put_presignature(&start.wallet_id, &presig.id(), &presig.to_bytes())
                    .map_err(vault_failure)?;
                Ok(Outcome::Presign(public))
            }
            Job::SignPresigned {
                presignature,
                message,
                path,
                authorization,
                transaction,
            } => {
                let wallet = self.wallet(&start.wallet_id, &start.roster, me)?;
                let done = self.authorize_sign(
                    &start.wallet_id,
                    &wallet.0,
                    &path,
                    &message,
                    &authorization,
                    transaction.as_ref(),
                )?;
                let path = parse_path(&path)?;
                // One transaction: the session id is recorded, the request marked done and the
                // presignature destroyed (consumed) durably. Only then is a partial signature
                // computed and released. A crash after the commit leaves the presignature
                // destroyed, never reusable.
                let secret = lock(&inner.vault)
                    .take_presignature_for(
                        &start.wallet_id,
                        &presignature,
                        &start.session,
                        &done,
                        authorization.expires_at,
                    )
                    .map_err(vault_failure)?;
                let presig = Presignature::from_bytes(&secret).map_err(crypto_failure)?;
                let partial = scheme(wallet.0.scheme())
                    .issue_partial(
                        &wallet.0,
                        presig,
                        &message,
                        &path,
                        &mut MemoryLedger::default(),
                    )
                    .map_err(crypto_failure)?;
                Ok(Outcome::Partial(partial))
            }
        }
    }

    fn keygen(
        &self,
        ctx: &mut RunCtx<'_>,
        sid: SessionId,
        wallet_id: &str,
        id: SchemeId,
        threshold: u16,
    ) -> Result<Outcome, Failure> {
        let n = ctx.roster.len() as u16;
        let params = ThresholdParams::new(threshold, n).map_err(crypto_failure)?;
        let aux = if id == SchemeId::EcdsaCggmp24 {
            Some(self.aux_info(ctx, sid, n)?)
        } else {
            None
        };
        let ksid = sid.derive("keygen");
        let s = scheme(id)
            .keygen(KeygenInput {
                sid: ksid,
                me: ctx.me,
                params,
                aux,
            })
            .map_err(crypto_failure)?;
        let share = runner::drive(ctx, ksid, s)?;
        let public = WalletPublic {
            scheme: id,
            threshold,
            index: ctx.me,
            roster: ctx.roster.iter().map(|m| m.identity.node_id()).collect(),
            public_key: share.public_key().to_hex(),
        };
        let info = serde_json::to_string(&public).map_err(|e| internal(e.to_string()))?;
        lock(&self.inner.vault)
            .put_share(wallet_id, 0, &share.to_bytes(), &info)
            .map_err(vault_failure)?;
        let outcome = Outcome::Keygen {
            public_key: share.public_key().clone(),
            chain_code: share.chain_code(),
        };
        lock(&self.inner.shares).insert(wallet_id.to_string(), Arc::new((share, public)));
        Ok(outcome)
    }

    /// cggmp24 aux info for this signer group: from the vault, or generated now (once per group)
    /// with this signer's own fresh Paillier primes.
    fn aux_info(&self, ctx: &mut RunCtx<'_>, sid: SessionId, n: u16) -> Result<AuxInfo, Failure> {
        let group = group_id(ctx.roster);
        if let Some(bytes) = lock(&self.inner.vault).aux(&group).map_err(vault_failure)? {
            return AuxInfo::from_bytes(&bytes).map_err(crypto_failure);
        }
        let primes = self.inner.primes.take(ctx.me)?;
        let asid = sid.derive("aux-info");
        let s = Cggmp24
            .aux_info_session(asid, ctx.me, n, primes)
            .map_err(crypto_failure)?;
        let aux = runner::drive(ctx, asid, s)?;
        lock(&self.inner.vault)
            .put_aux(&group, &aux.to_bytes())
            .map_err(vault_failure)?;
        Ok(aux)
    }

    /// The share of `wallet_id`, checked against the roster the coordinator sent.
    fn wallet(
        &self,
        wallet_id: &str,
        roster: &[Member],
        me: PartyIndex,
    ) -> Result<Arc<(KeyShare, WalletPublic)>, Failure> {
        let cached = lock(&self.inner.shares).get(wallet_id).cloned();
        let wallet = match cached {
            Some(w) => w,
            None => {
                let stored = lock(&self.inner.vault)
                    .share(wallet_id)
                    .map_err(vault_failure)?
                    .ok_or_else(|| failure(FailureKind::NotReady, "no share for this wallet"))?;
                let public: WalletPublic = serde_json::from_str(&stored.public_info)
                    .map_err(|e| internal(format!("stored wallet info: {e}")))?;
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
            ));
        }
        Ok(wallet)
    }

    fn verify_authorization(&self, authz: &Authorization) -> Result<(), Failure> {
        authz
            .verify(
                &self.inner.operators,
                self.inner.clock.now_unix(),
                self.inner.options.max_authorization_secs,
            )
            .map_err(|e| failure(FailureKind::Unauthorized, &format!("authorization: {e}")))
    }

    fn authorize_keygen(
        &self,
        wallet_id: &str,
        id: SchemeId,
        threshold: u16,
        roster: &[Member],
        authz: &Authorization,
    ) -> Result<(), Failure> {
        self.verify_authorization(authz)?;
        let expected = Action::Keygen {
            wallet_id: wallet_id.to_string(),
            scheme: id,
            threshold,
            signers: roster.iter().map(|m| m.identity.node_id()).collect(),
        };
        if authz.action != expected {
            return Err(failure(
                FailureKind::Unauthorized,
                "authorization is for a different key generation",
            ));
        }
        let mut vault = lock(&self.inner.vault);
        if vault.share(wallet_id).map_err(vault_failure)?.is_some() {
            return Err(failure(
                FailureKind::Replayed,
                "a wallet with this id already exists here",
            ));
        }
        vault
            .record_request(
                &authz.request_id,
                authz.expires_at,
                self.inner.clock.now_unix(),
            )
            .map_err(vault_failure)
    }

    /// Checks a signing job; returns the replay-ledger key to mark once a signature (or
    /// partial) is released. A plain `Sign` action covers exactly one message; a
    /// `SignTransaction` action covers the intent hash this signer recomputes from the raw
    /// payload with its own chain adapter, and `message` must be the payload's message number
    /// `index` as this signer computes it.
    fn authorize_sign(
        &self,
        wallet_id: &str,
        share: &KeyShare,
        path: &str,
        message: &SignMessage,
        authz: &Authorization,
        tx: Option<&TxContext>,
    ) -> Result<String, Failure> {
        self.verify_authorization(authz)?;
        let done = match (&authz.action, tx) {
            (Action::Sign { .. }, None) => {
                let m = authorized_message(message)
                    .map_err(|e| failure(FailureKind::Unauthorized, &format!("message: {e}")))?;
                let expected = Action::Sign {
                    wallet_id: wallet_id.to_string(),
                    path: path.to_string(),
                    messages: vec![m],
                };
                if authz.action != expected {
                    return Err(failure(
                        FailureKind::Unauthorized,
                        "authorization does not cover this wallet, path and message",
                    ));
                }
                done_key(&authz.request_id)
            }
            (
                Action::SignTransaction {
                    wallet_id: a_wallet,
                    path: a_path,
                    chain,
                    network,
                    intent_hash,
                },
                Some(tx),
            ) => {
                if a_wallet != wallet_id
                    || a_path != path
                    || *chain != tx.chain
                    || *network != tx.network
                {
                    return Err(failure(
                        FailureKind::Unauthorized,
                        "authorization does not cover this wallet, path, chain and network",
                    ));
                }
                let (messages, hash) = self.reparse(share, path, tx)?;
                if hash != *intent_hash {
                    return Err(failure(
                        FailureKind::PayloadRejected,
                        "the payload's intent hash, recomputed here, differs from the authorized one",
                    ));
                }
                let own = messages.get(tx.index as usize).ok_or_else(|| {
                    failure(
                        FailureKind::PayloadRejected,
                        "message index is beyond the payload's messages",
                    )
                })?;
                if own != message {
                    return Err(failure(
                        FailureKind::PayloadRejected,
                        "the message to sign differs from the one this signer computed from the payload",
                    ));
                }
                format!("{}#{}", done_key(&authz.request_id), tx.index)
            }
            (Action::SignTransaction { .. }, None) => {
                return Err(failure(
                    FailureKind::Unauthorized,
                    "a transaction authorization needs the raw payload",
                ))
            }
            (_, Some(_)) => {
                return Err(failure(
                    FailureKind::Unauthorized,
                    "a chain payload needs a transaction authorization",
                ))
            }
            (Action::Keygen { .. }, None) => {
                return Err(failure(
                    FailureKind::Unauthorized,
                    "a key-generation authorization cannot sign",
                ))
            }
        };
        let used = lock(&self.inner.vault)
            .has_request(&done)
            .map_err(vault_failure)?;
        if used {
            return Err(failure(
                FailureKind::Replayed,
                "this request was already signed by this signer",
            ));
        }
        Ok(done)
    }

    /// Parses a chain payload with this signer's own adapter against its own copy of the wallet
    /// key at `path`: the messages to sign and the intent hash.
    fn reparse(
        &self,
        share: &KeyShare,
        path: &str,
        tx: &TxContext,
    ) -> Result<(Vec<SignMessage>, [u8; 32]), Failure> {
        let rejected = |e: tessera_chains::ChainError| {
            failure(FailureKind::PayloadRejected, &format!("payload: {e}"))
        };
        let adapter = self.inner.chains.get(&tx.chain).map_err(rejected)?;
        let derivation = parse_path(path)?;
        let key = tessera_crypto::hd::derive_public_key(
            share.public_key(),
            &share.chain_code(),
            &derivation,
        )
        .map_err(crypto_failure)?;
        let parsed = adapter
            .parse(
                &tx.network,
                WalletKey {
                    scheme: share.scheme(),
                    public_key: &key,
                },
                &tx.payload,
            )
            .map_err(rejected)?;
        let hash = parsed.intent_hash().map_err(rejected)?;
        Ok((parsed.messages, hash))
    }

    fn record_session(&self, session: &[u8; 32]) -> Result<(), Failure> {
        lock(&self.inner.vault)
            .record_session(session)
            .map_err(vault_failure)
    }

    fn mark_done(&self, done: &str, expires_at: u64) -> Result<(), Failure> {
        lock(&self.inner.vault)
            .record_request(done, expires_at, self.inner.clock.now_unix())
            .map_err(vault_failure)
    }
}

/// Replay-ledger key of a request id. A request (for a chain payload: each of its messages,
/// `done:<id>#<index>`) is done at this signer once it released a signature or partial for it;
/// the same authorization cannot make it sign again. Failed attempts do not count, so the
/// coordinator may retry a request with another signer subset.
fn done_key(request_id: &str) -> String {
    format!("done:{request_id}")
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

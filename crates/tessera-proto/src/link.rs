//! Frames between the coordinator and a signer node.
//!
//! A signer connects *out* to the coordinator (so it can sit behind a firewall), receives a
//! [`ToSigner::Challenge`], and answers with [`FromSigner::Hello`] signed by its identity key over
//! the challenge and the coordinator's name. The coordinator accepts only enrolled identities.

use serde::{Deserialize, Serialize};
use tessera_chain::Payload;
use tessera_crypto::{
    PartialSignature, PartyIndex, PresignPublic, PublicKey, SchemeId, SignMessage, Signature,
};
use tessera_policy::Approval;
use tessera_wire::{Authorization, NodeId, PublicIdentity};

use crate::audit::{AuditPage, AuditPageError};

/// Version of the link protocol; a mismatch closes the connection with a clear reason.
pub const LINK_VERSION: u16 = 5;

/// Domain of the signer's hello signature.
pub const HELLO_DOMAIN: &str = "tessera/link-hello/v1";

/// A session id (32 random bytes chosen by the coordinator; signers refuse reuse).
pub type SessionBytes = [u8; 32];

/// Coordinator → signer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToSigner {
    /// First frame on a new connection.
    Challenge {
        /// Fresh random bytes.
        nonce: [u8; 32],
        /// The coordinator's name as the signer knows it (bound into the hello signature).
        coordinator: String,
    },
    /// The hello was accepted.
    Welcome,
    /// Take part in a session.
    Start(Box<StartSession>),
    /// A protocol envelope from another signer (opaque to the coordinator).
    Envelope {
        /// Session it belongs to.
        session: SessionBytes,
        /// `tessera_wire::Envelope` bytes.
        bytes: Vec<u8>,
    },
    /// Install a policy bundle: the JSON of a `tessera_policy::SignedBundle`. The signer
    /// accepts only a strictly newer version signed by a quorum of the admins it already trusts
    /// (for its first bundle: the admin set configured at `tessera signer init`); it answers
    /// with a [`FromSigner::Status`] carrying its policy version, or a
    /// [`FromSigner::PolicyRefused`].
    Policy {
        /// `tessera_policy::SignedBundle` JSON.
        bundle: Vec<u8>,
    },
    /// Apply an operating-mode change: the JSON of a `tessera_policy::ModeChange`, signed by a
    /// quorum of the current bundle's admins. Answered like [`ToSigner::Policy`].
    Mode {
        /// `tessera_policy::ModeChange` JSON.
        change: Vec<u8>,
    },
    /// An admin-signed statement that the bundle and mode change in force are still the
    /// admins': the JSON of a `tessera_policy::Freshness`. Answered like [`ToSigner::Policy`].
    Freshness {
        /// `tessera_policy::Freshness` JSON.
        statement: Vec<u8>,
    },
    /// Stop a session (timeout, another participant failed).
    Abort {
        /// Session.
        session: SessionBytes,
        /// Why, for the signer's log.
        reason: String,
    },
    /// Send a page of this signer's own audit log: entries from `from_seq` (0 counts as 1), at
    /// most `limit` (capped at [`crate::audit::MAX_AUDIT_PAGE`]), and the head signed over
    /// `challenge` (see [`crate::audit`]). Answered with [`FromSigner::AuditPage`].
    AuditPage {
        /// Correlation id, echoed in the answer.
        request: u64,
        /// First entry wanted.
        from_seq: u64,
        /// Most entries wanted.
        limit: u32,
        /// The verifier's random challenge, signed with the head.
        challenge: [u8; 32],
    },
}

/// Everything a signer needs to decide whether to join a session, and to run it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartSession {
    /// Execution id.
    pub session: SessionBytes,
    /// Wallet the session is about.
    pub wallet_id: String,
    /// Every member of the wallet's signer group, by party index (its position at keygen).
    pub roster: Vec<Member>,
    /// What to do.
    pub job: Job,
}

/// One member of a signer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Party index (position in the group at keygen).
    pub index: PartyIndex,
    /// The member's public identity.
    pub identity: PublicIdentity,
    /// The identity key's signature binding its X25519 key (`tessera_wire::SignedIdentity`), so
    /// the coordinator cannot substitute an encryption key it controls.
    pub proof: Vec<u8>,
}

impl Member {
    /// Checks the key-binding proof.
    pub fn verify(&self) -> bool {
        let Ok(proof) = <[u8; 64]>::try_from(self.proof.as_slice()) else {
            return false;
        };
        tessera_wire::SignedIdentity {
            identity: self.identity,
            proof,
        }
        .verify()
        .is_ok()
    }
}

/// The work of a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Job {
    /// Distributed key generation among the whole roster (for cggmp24 preceded by aux-info
    /// generation, unless this group already has aux info).
    Keygen {
        /// Scheme.
        scheme: SchemeId,
        /// Threshold `t`.
        threshold: u16,
        /// Operator authorization for exactly this wallet, scheme, threshold and signer list
        /// (`Action::Import` for an import, `Action::Keygen` otherwise).
        authorization: Authorization,
        /// Set for an import: the importer's dealing, whose digest the authorization binds.
        /// Each holder completes its share from it instead of generating a key.
        #[serde(default)]
        import: Option<tessera_wire::ImportPackage>,
        /// Approvals of the operation (over `tessera_wire::key_operation_hash`), checked
        /// against the signer's own quorum when its policy asks for them.
        #[serde(default)]
        approvals: Vec<Approval>,
    },
    /// New shares of an existing key for the roster of the session (the new holders, by new
    /// party index): `tessera_crypto::reshare`. Each participant stores its new share as a
    /// *prepared* epoch and answers [`Outcome::Reshare`]; nothing signs with it before
    /// [`Job::Epoch`] commits it.
    Reshare(ReshareJob),
    /// The second phase of a reshare: commit the prepared epoch, once every new holder has
    /// attested to it (a holder commits only with all their attestations), or discard it.
    Epoch {
        /// The prepared epoch.
        epoch: u32,
        /// The reshare session that prepared it: a holder commits only the share that session
        /// made, so shares of two attempts at one epoch are never committed together.
        session: [u8; 32],
        /// Commit or discard.
        decision: EpochDecision,
    },
    /// Tells a former holder that the wallet's holders committed an epoch without it: the
    /// operator's `Action::Reshare` for that epoch (its roster leaves this signer out) and
    /// every new holder's attestation of the wallet at it. The signer destroys its
    /// presignatures of the wallet at once and its shares once the old-share grace period is
    /// over. Answered with [`Outcome::Left`]; a repeat is answered the same.
    Leave {
        /// The operator's authorization of the reshare that made the epoch (checked as a
        /// record: its signature and operator, not its expiry).
        authorization: Authorization,
        /// Every new holder's attestation of the wallet at the new epoch.
        attestations: Vec<crate::attestation::WalletAttestation>,
    },
    /// Interactive signing by the listed `t` signers.
    Sign {
        /// Party indices of the signers.
        signers: Vec<PartyIndex>,
        /// What to sign.
        message: SignMessage,
        /// Derivation path (`m` or `m/1/2`).
        path: String,
        /// The requester's signed request (its key is the policy principal).
        authorization: Authorization,
        /// For chain payloads: the raw payload the signer re-parses to recompute `message`.
        transaction: Option<TxContext>,
        /// Policy version the coordinator evaluated; a signer whose own version differs
        /// refuses with [`FailureKind::StalePolicy`].
        policy_version: u64,
        /// Approvals gathered for this request (checked against the signer's own quorum).
        approvals: Vec<Approval>,
    },
    /// Retire the wallet: this holder takes part in nothing for it afterwards, and destroys its
    /// presignatures. Answered with [`Outcome::Retired`]; repeating it is answered the same.
    Retire {
        /// Operator authorization (`Action::Retire` for this wallet and its epoch in force).
        authorization: Authorization,
        /// Approvals of the operation, checked against the holder's own quorum.
        #[serde(default)]
        approvals: Vec<Approval>,
    },
    /// Precompute one presignature (cggmp24) or nonce set (FROST) for the listed signers.
    Presign {
        /// Party indices of the signers.
        signers: Vec<PartyIndex>,
    },
    /// One-round signing from a stored presignature: the signer answers with a partial signature.
    SignPresigned {
        /// Presignature to consume.
        presignature: [u8; 32],
        /// Party indices of the presignature's signers (its co-signers for the velocity
        /// exchange).
        signers: Vec<PartyIndex>,
        /// What to sign.
        message: SignMessage,
        /// Derivation path (`m` or `m/1/2`; cggmp24 accepts only `m`).
        path: String,
        /// The requester's signed request (its key is the policy principal).
        authorization: Authorization,
        /// For chain payloads: the raw payload the signer re-parses to recompute `message`.
        transaction: Option<TxContext>,
        /// Policy version the coordinator evaluated; a signer whose own version differs
        /// refuses with [`FailureKind::StalePolicy`].
        policy_version: u64,
        /// Approvals gathered for this request (checked against the signer's own quorum).
        approvals: Vec<Approval>,
    },
}

/// The work of a [`Job::Reshare`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReshareJob {
    /// Scheme of the wallet.
    pub scheme: SchemeId,
    /// The new threshold.
    pub threshold: u16,
    /// The epoch the new shares get.
    pub epoch: u32,
    /// The current threshold.
    pub old_threshold: u16,
    /// Dealers as (new party index, current party index).
    pub dealers: Vec<(u16, u16)>,
    /// The wallet's group key (a new holder has no other source; the dealings must share
    /// exactly this key, and every holder attests to it).
    pub public_key: PublicKey,
    /// The wallet's chain code (attested by every holder, like the key).
    pub chain_code: [u8; 32],
    /// The wallet's network binding (attested by every holder).
    pub networks: Vec<String>,
    /// Operator authorization for exactly this wallet, epoch, threshold, roster and dealers.
    pub authorization: Authorization,
    /// Approvals of the operation (over `tessera_wire::key_operation_hash`), checked against
    /// the holder's own quorum when its policy asks for them.
    #[serde(default)]
    pub approvals: Vec<Approval>,
}

/// What [`Job::Epoch`] does with a prepared epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum EpochDecision {
    /// Make it the epoch in force: every new holder's attestation of the wallet at that epoch.
    Commit {
        /// One attestation per new holder.
        attestations: Vec<crate::attestation::WalletAttestation>,
    },
    /// Destroy it; the current epoch stays in force.
    Discard,
}

/// A chain payload behind a signing job. The signer parses `payload` with its own adapter for
/// `chain`, recomputes the intent and the messages, checks the intent hash against the
/// authorization (`tessera_wire::Action::SignTransaction`) and signs only if `message` is
/// message number `index` of its own list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxContext {
    /// Chain adapter id.
    pub chain: String,
    /// Network.
    pub network: String,
    /// The raw, unsigned payload.
    pub payload: Payload,
    /// Which of the payload's messages this session signs.
    pub index: u32,
}

impl Job {
    /// Short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Keygen { .. } => "keygen",
            Job::Reshare(_) => "reshare",
            Job::Epoch { .. } => "epoch",
            Job::Retire { .. } => "retire",
            Job::Leave { .. } => "leave",
            Job::Sign { .. } => "sign",
            Job::Presign { .. } => "presign",
            Job::SignPresigned { .. } => "sign-presigned",
        }
    }
}

/// Signer → coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromSigner {
    /// Answer to the challenge.
    Hello {
        /// Link protocol version.
        version: u16,
        /// The signer's identity.
        identity: PublicIdentity,
        /// Ed25519 signature under [`HELLO_DOMAIN`] over [`hello_bytes`].
        signature: Vec<u8>,
        /// Current status.
        status: SignerStatus,
    },
    /// Periodic status.
    Status(SignerStatus),
    /// A protocol envelope for other participants of a session.
    Envelope {
        /// Session.
        session: SessionBytes,
        /// `tessera_wire::Envelope` bytes (the coordinator reads only its routing header).
        bytes: Vec<u8>,
    },
    /// A policy bundle or mode change was not accepted.
    PolicyRefused {
        /// `policy` or `mode`.
        what: String,
        /// Version (bundle) or sequence number (mode change) that was offered.
        version: u64,
        /// Why (typed error text from `tessera_policy`).
        reason: String,
    },
    /// The session finished at this signer.
    Done {
        /// Session.
        session: SessionBytes,
        /// Result.
        outcome: Outcome,
    },
    /// The session failed or was refused at this signer.
    Failed {
        /// Session.
        session: SessionBytes,
        /// Why.
        failure: Failure,
    },
    /// Answer to [`ToSigner::AuditPage`]: the page with the signed head, or why the log could
    /// not be read.
    AuditPage {
        /// The request's correlation id.
        request: u64,
        /// The page (boxed: it is far larger than the other frames), or a typed error.
        result: Result<Box<AuditPage>, AuditPageError>,
    },
}

/// The result of a session at one signer. Public data only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Outcome {
    /// Key generation finished; the share is sealed in the signer's vault.
    Keygen {
        /// Group public key.
        public_key: PublicKey,
        /// Chain code for non-hardened derivation.
        chain_code: [u8; 32],
        /// This signer's signature over the wallet (id, scheme, threshold, roster, key, chain
        /// code).
        attestation: crate::attestation::WalletAttestation,
    },
    /// A reshare finished: the new share is stored as a prepared epoch.
    Reshare {
        /// This holder's signature over the wallet at the new epoch (new threshold and roster,
        /// the same key and chain code).
        attestation: crate::attestation::WalletAttestation,
    },
    /// A prepared epoch was committed (`true`) or discarded (`false`).
    Epoch {
        /// The epoch.
        epoch: u32,
        /// Whether it is now the epoch in force.
        committed: bool,
    },
    /// This former holder recorded that it left the wallet.
    Left {
        /// The epoch the holders committed without it.
        epoch: u32,
    },
    /// The wallet is retired at this holder.
    Retired {
        /// The epoch it was retired at.
        epoch: u32,
    },
    /// Interactive signing finished.
    Signature(Signature),
    /// A presignature is stored; this is its public part.
    Presign(PresignPublic),
    /// One-round signing: this signer's partial signature.
    Partial(PartialSignature),
}

/// Why a signer did not finish a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Class of failure.
    pub kind: FailureKind,
    /// Human-readable reason (never contains secrets).
    pub message: String,
    /// Party indices the protocol blamed, if any.
    pub culprits: Vec<PartyIndex>,
}

/// Classes of [`Failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureKind {
    /// The authorization is missing, invalid, expired or for something else.
    Unauthorized,
    /// The chain payload failed the signer's own parse, or its recomputed intent hash or
    /// signing message differs from what was authorized or asked for.
    PayloadRejected,
    /// The request id or session id was used before.
    Replayed,
    /// The signer lacks what the session needs (no share, no primes yet, unknown presignature).
    NotReady,
    /// The protocol aborted (culprits may be named).
    Protocol,
    /// A peer's envelope could not be verified or decrypted.
    Transport,
    /// The session was aborted by the coordinator or timed out.
    Aborted,
    /// The signer's own policy evaluation denied the request (a forbid, no permit, a raw
    /// digest without an explicit permit, no policy installed).
    PolicyDenied,
    /// The approvals do not meet the quorum the signer's policy requires: too few, forged,
    /// from a non-approver, for another request or intent, or a rejection.
    ApprovalsInvalid,
    /// An approval or the request's authorization has expired.
    Expired,
    /// The request was evaluated under another policy version than the signer's.
    StalePolicy,
    /// The signer's own velocity ledger puts the request over a limit.
    VelocityExceeded,
    /// The signer's operating mode (degraded, lockdown) forbids the request.
    ModeRestricted,
    /// The signer's vault failed (disk full, IO error).
    Storage,
    /// The signer is at one of its limits (concurrent sessions, stored presignatures per
    /// wallet): nothing was done; try later or on another signer.
    Busy,
    /// Anything else.
    Internal,
}

/// What a signer reports about itself (public information only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerStatus {
    /// Software version.
    pub version: String,
    /// Wallets with a share in the vault.
    pub wallets: u32,
    /// Paillier prime sets ready for cggmp24 aux-info generation.
    pub primes_ready: u32,
    /// Progress of the prime set being generated, 0–100.
    pub primes_progress: u8,
    /// Sessions currently running.
    pub sessions: u32,
    /// Version of the installed policy bundle (0: none; such a signer signs nothing).
    pub policy_version: u64,
    /// Operating mode in force: `normal`, `degraded` or `lockdown`.
    pub mode: String,
    /// Since when the admins are known to stand by the policy in force (unix seconds; bundle
    /// creation, mode change or admin-signed refresh; 0 without a bundle).
    pub policy_fresh_since: u64,
    /// Wallets holding a prepared next share epoch not committed yet (an interrupted refresh
    /// or reshare; 0 normally). Absent in reports of older signers.
    #[serde(default)]
    pub prepared_epochs: u32,
    /// Id of the signer's vault (random, made when the vault is created; not secret). A new one
    /// means a new vault — a signer restored from its backups — whose presignatures are gone.
    /// Empty in reports of older signers.
    #[serde(default)]
    pub vault_id: String,
}

/// Bytes the signer signs in its hello.
pub fn hello_bytes(nonce: &[u8; 32], coordinator: &str, node: &NodeId) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + 32 + coordinator.len() + 4);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&node.0);
    out.extend_from_slice(&(coordinator.len() as u32).to_be_bytes());
    out.extend_from_slice(coordinator.as_bytes());
    out
}

/// A frame that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed link frame: {0}")]
pub struct FrameError(String);

/// Encodes a frame.
pub fn encode<T: Serialize>(frame: &T) -> Vec<u8> {
    // postcard cannot fail on these types (no maps with non-string keys, no unsized data).
    postcard::to_stdvec(frame).unwrap_or_default()
}

/// Decodes a frame.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, FrameError> {
    postcard::from_bytes(bytes).map_err(|e| FrameError(e.to_string()))
}

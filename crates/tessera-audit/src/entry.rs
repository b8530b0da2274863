//! Entries, their kinds and the hash that chains them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical::{canonical_json, CanonicalError};
use crate::AuditError;

/// Domain tag at the start of every entry hash.
pub const HASH_DOMAIN: &str = "tessera/audit/v1";
/// Domain tag of the genesis hash (the `prev_hash` of entry 1).
pub const GENESIS_DOMAIN: &str = "tessera/audit/genesis/v1";
/// Largest canonical JSON body, in bytes ([`AuditError::BodyTooLarge`]).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest actor, subject, chain id or other free-text field of a kind, in bytes.
pub const MAX_TEXT_BYTES: usize = 1024;
/// Most policy ids in one [`EntryKind::PolicyDecision`].
pub const MAX_POLICY_IDS: usize = 256;
/// Largest canonical JSON of a kind, in bytes. With the other limits, an export line stays
/// well below [`crate::MAX_LINE_BYTES`].
pub const MAX_KIND_BYTES: usize = 16 * 1024;

/// One audit record.
///
/// Entries hold **public data only**: the log cannot tell a secret from any other string, so
/// callers must never put key shares, nonces, passphrases, API keys or plaintext protocol
/// messages in `actor`, `subject`, `kind` or `body`. What can be checked is: bodies are limited to
/// [`MAX_BODY_BYTES`] of canonical JSON without floats, text fields to [`MAX_TEXT_BYTES`]
/// without control characters.
///
/// Serialized (export lines, `serde`) with `hash` and `prev_hash` as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Position in the chain: 1 for the first entry, then +1 each.
    pub seq: u64,
    /// When the decision was taken, milliseconds since the Unix epoch, as given by the caller
    /// (the log reads no clock and does not require it to be monotonic).
    pub time_ms: u64,
    /// Who decided: the coordinator's id, a signer node id, an approver's public key.
    pub actor: String,
    /// What was decided.
    pub kind: EntryKind,
    /// What it was about: a request id, a wallet id, a policy version...
    pub subject: String,
    /// Details (public data only; canonical JSON, no floats).
    pub body: Value,
    /// `hash` of the previous entry; for entry 1, [`genesis_hash`] of the log's chain id.
    #[serde(with = "crate::hexser")]
    pub prev_hash: [u8; 32],
    /// [`entry_hash`] of this entry's other fields.
    #[serde(with = "crate::hexser")]
    pub hash: [u8; 32],
}

impl Entry {
    /// Recomputes this entry's hash from its fields (the stored `hash` is not used). Fails
    /// like [`crate::AuditLog::append`] would on the same fields.
    pub fn compute_hash(&self) -> Result<[u8; 32], AuditError> {
        let p = prepare(
            &self.actor,
            &self.kind,
            &self.subject,
            &self.body,
            self.time_ms,
        )?;
        Ok(hash_parts(
            self.seq,
            self.time_ms,
            &self.actor,
            &p.kind_json,
            &self.subject,
            &p.body_json,
            &self.prev_hash,
        ))
    }

    /// The entry's line in an export: its canonical JSON, without the trailing newline.
    pub fn to_json_line(&self) -> Result<String, AuditError> {
        let value = serde_json::to_value(self)
            .map_err(|e| AuditError::InvalidInput(format!("entry does not serialize: {e}")))?;
        crate::canonical::canonical_json_depth(&value, crate::canonical::MAX_JSON_DEPTH + 1)
            .map_err(body_error)
    }
}

/// The outcome of a policy evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PolicyOutcome {
    /// Allowed as is.
    Allow,
    /// Denied.
    Deny,
    /// Allowed once a quorum of approvers has approved.
    NeedsApprovals,
}

/// Why a signer (or the coordinator) refused to go on with a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefusalReason {
    /// The policy denies it.
    PolicyDenied,
    /// The payload does not yield the approved intent (re-parsed intent hash differs).
    IntentMismatch,
    /// Fewer valid approvals than the quorum requires.
    InsufficientApprovals,
    /// An approval's signature or signer is not valid.
    InvalidApproval,
    /// The request or an approval was seen before.
    Replayed,
    /// The request or an approval has expired.
    Expired,
    /// The request was decided under a policy version this node does not hold as current.
    StalePolicy,
    /// A velocity limit would be exceeded.
    VelocityLimit,
    /// Raw-digest signing without a policy that explicitly allows it.
    RawDigestDenied,
    /// The current degraded / lockdown mode forbids it.
    ModeRestricted,
    /// Anything else (a short, stable, machine-readable name).
    Other(String),
}

/// What an entry records. Serialized in `snake_case`, externally tagged: a variant without
/// data is a string (`"approval"`), one with data a one-key object
/// (`{"refusal":"expired"}`, `{"policy_change":{"policy_version":4}}`, `{"other":"x"}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryKind {
    /// A policy evaluation of a request.
    PolicyDecision {
        /// Version of the policy bundle that decided.
        policy_version: u64,
        /// Ids of the policies that decided it.
        policy_ids: Vec<String>,
        /// The decision.
        outcome: PolicyOutcome,
    },
    /// An approver approved a request (actor: the approver's key).
    Approval,
    /// An approver rejected a request.
    Rejection,
    /// A request was refused.
    Refusal(RefusalReason),
    /// A signature was produced (coordinator: combined; signer: partial signature released).
    Signature,
    /// A new policy bundle version took effect (subject: the version or bundle id).
    PolicyChange {
        /// The new version.
        policy_version: u64,
    },
    /// The operating mode changed (normal, degraded, lockdown...).
    ModeChange {
        /// Mode before.
        from: String,
        /// Mode after.
        to: String,
    },
    /// A wallet was created (subject: the wallet id).
    WalletCreated,
    /// New shares of a wallet's key were stored as a prepared epoch (subject: the wallet id).
    EpochPrepared,
    /// A wallet's prepared epoch became the one in force (subject: the wallet id).
    EpochCommitted,
    /// A wallet's prepared epoch was destroyed; the current one stays (subject: the wallet id).
    EpochDiscarded,
    /// A session this node took part in ended without a result (aborted, timed out, a
    /// protocol or storage failure). For a signing session it follows the `signature` entry
    /// when this node had already released its share.
    SessionFailed,
    /// Any other event (a short, stable, machine-readable name).
    Other(String),
}

impl EntryKind {
    /// The variant's name as serialized (`"policy_decision"`, `"refusal"`, `"other"`...); what
    /// [`crate::AuditLog::find`] matches on.
    pub fn name(&self) -> &'static str {
        match self {
            EntryKind::PolicyDecision { .. } => "policy_decision",
            EntryKind::Approval => "approval",
            EntryKind::Rejection => "rejection",
            EntryKind::Refusal(_) => "refusal",
            EntryKind::Signature => "signature",
            EntryKind::PolicyChange { .. } => "policy_change",
            EntryKind::ModeChange { .. } => "mode_change",
            EntryKind::WalletCreated => "wallet_created",
            EntryKind::EpochPrepared => "epoch_prepared",
            EntryKind::EpochCommitted => "epoch_committed",
            EntryKind::EpochDiscarded => "epoch_discarded",
            EntryKind::SessionFailed => "session_failed",
            EntryKind::Other(_) => "other",
        }
    }

    fn validate(&self) -> Result<(), AuditError> {
        match self {
            EntryKind::PolicyDecision { policy_ids, .. } => {
                if policy_ids.len() > MAX_POLICY_IDS {
                    return Err(AuditError::InvalidInput(format!(
                        "more than {MAX_POLICY_IDS} policy ids"
                    )));
                }
                for id in policy_ids {
                    check_text("policy id", id)?;
                }
            }
            EntryKind::Refusal(RefusalReason::Other(name)) => check_text("refusal reason", name)?,
            EntryKind::ModeChange { from, to } => {
                check_text("mode", from)?;
                check_text("mode", to)?;
            }
            EntryKind::Other(name) => check_text("kind name", name)?,
            EntryKind::Approval
            | EntryKind::Rejection
            | EntryKind::Refusal(_)
            | EntryKind::Signature
            | EntryKind::PolicyChange { .. }
            | EntryKind::WalletCreated
            | EntryKind::EpochPrepared
            | EntryKind::EpochCommitted
            | EntryKind::EpochDiscarded
            | EntryKind::SessionFailed => {}
        }
        Ok(())
    }
}

/// The genesis hash of a chain: the `prev_hash` of its entry 1, and the head hash of an empty
/// log. `SHA-256(str("tessera/audit/genesis/v1") || str(chain_id))` (see the crate docs for
/// `str`). Binding the chain id makes two logs' chains disjoint: entries cannot be spliced from
/// one log into another, nor one log passed off as another.
pub fn genesis_hash(chain_id: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    put_str(&mut h, GENESIS_DOMAIN);
    put_str(&mut h, chain_id);
    h.finalize().into()
}

/// The hash of an entry with these fields (see the crate docs for the construction). Fails on
/// fields [`crate::AuditLog::append`] refuses.
pub fn entry_hash(
    seq: u64,
    time_ms: u64,
    actor: &str,
    kind: &EntryKind,
    subject: &str,
    body: &Value,
    prev_hash: &[u8; 32],
) -> Result<[u8; 32], AuditError> {
    let p = prepare(actor, kind, subject, body, time_ms)?;
    Ok(hash_parts(
        seq,
        time_ms,
        actor,
        &p.kind_json,
        subject,
        &p.body_json,
        prev_hash,
    ))
}

pub(crate) fn hash_parts(
    seq: u64,
    time_ms: u64,
    actor: &str,
    kind_json: &str,
    subject: &str,
    body_json: &str,
    prev_hash: &[u8; 32],
) -> [u8; 32] {
    let mut h = Sha256::new();
    put_str(&mut h, HASH_DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(time_ms.to_be_bytes());
    put_str(&mut h, actor);
    put_str(&mut h, kind_json);
    put_str(&mut h, subject);
    put_str(&mut h, body_json);
    h.update(prev_hash);
    h.finalize().into()
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// Validated fields in the form they are hashed and stored.
pub(crate) struct Prepared {
    pub kind_json: String,
    pub body_json: String,
}

/// Every check `append` makes on its input; the verifier makes the same ones on each line.
pub(crate) fn prepare(
    actor: &str,
    kind: &EntryKind,
    subject: &str,
    body: &Value,
    time_ms: u64,
) -> Result<Prepared, AuditError> {
    check_text("actor", actor)?;
    check_text("subject", subject)?;
    if i64::try_from(time_ms).is_err() {
        return Err(AuditError::InvalidInput(format!(
            "time_ms {time_ms} is out of range"
        )));
    }
    kind.validate()?;
    let kind_value = serde_json::to_value(kind)
        .map_err(|e| AuditError::InvalidInput(format!("kind does not serialize: {e}")))?;
    let kind_json =
        canonical_json(&kind_value).map_err(|e| AuditError::InvalidInput(format!("kind: {e}")))?;
    if kind_json.len() > MAX_KIND_BYTES {
        return Err(AuditError::InvalidInput(format!(
            "kind is {} bytes of canonical JSON, more than {MAX_KIND_BYTES}",
            kind_json.len()
        )));
    }
    let body_json = canonical_json(body).map_err(body_error)?;
    if body_json.len() > MAX_BODY_BYTES {
        return Err(AuditError::BodyTooLarge {
            size: body_json.len(),
            max: MAX_BODY_BYTES,
        });
    }
    Ok(Prepared {
        kind_json,
        body_json,
    })
}

fn body_error(e: CanonicalError) -> AuditError {
    match e {
        CanonicalError::Float { path } => AuditError::FloatInBody { path },
        CanonicalError::TooDeep { path } => AuditError::BodyTooDeep { path },
    }
}

/// Non-empty, at most [`MAX_TEXT_BYTES`], no control characters.
pub(crate) fn check_text(what: &str, s: &str) -> Result<(), AuditError> {
    if s.is_empty() {
        return Err(AuditError::InvalidInput(format!("{what} is empty")));
    }
    if s.len() > MAX_TEXT_BYTES {
        return Err(AuditError::InvalidInput(format!(
            "{what} is longer than {MAX_TEXT_BYTES} bytes"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(AuditError::InvalidInput(format!(
            "{what} contains control characters"
        )));
    }
    Ok(())
}

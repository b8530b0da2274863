//! Approvals: an approver's Ed25519 signature over (request id, intent hash, policy version,
//! decision, expiry), and the quorum check every signer runs itself.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::bundle::PolicyBundle;
use crate::codec::{hexarr, put_str, put_u64};
use crate::engine::Quorum;
use crate::error::ApprovalError;
use crate::keys::{PublicKey, SecretKey};

/// Domain tag at the start of [`Approval::signing_bytes`].
pub const APPROVAL_DOMAIN: &str = "tessera/approval/v1";

/// What the approver decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalDecision {
    /// Approve.
    Approve,
    /// Reject.
    Reject,
}

impl ApprovalDecision {
    fn tag(self) -> u8 {
        match self {
            ApprovalDecision::Approve => 1,
            ApprovalDecision::Reject => 2,
        }
    }
}

/// A signed approval or rejection of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The request.
    pub request_id: String,
    /// `tessera_chain::intent_hash` of the intent and signing messages.
    #[serde(with = "hexarr")]
    pub intent_hash: [u8; 32],
    /// Policy version the decision was taken under.
    pub policy_version: u64,
    /// Approve or reject.
    pub decision: ApprovalDecision,
    /// Expiry, unix seconds (exclusive).
    pub expires_at: u64,
    /// The approver.
    pub approver: PublicKey,
    /// Ed25519 over [`Approval::signing_bytes`].
    #[serde(with = "hexarr")]
    pub signature: [u8; 64],
}

impl Approval {
    /// Signs a decision.
    pub fn sign(
        key: &SecretKey,
        request_id: &str,
        intent_hash: [u8; 32],
        policy_version: u64,
        decision: ApprovalDecision,
        expires_at: u64,
    ) -> Approval {
        let approver = key.public();
        let bytes = Self::signing_bytes(
            request_id,
            &intent_hash,
            policy_version,
            decision,
            expires_at,
            &approver,
        );
        Approval {
            request_id: request_id.to_string(),
            intent_hash,
            policy_version,
            decision,
            expires_at,
            approver,
            signature: key.sign(&bytes),
        }
    }

    /// The canonical bytes an approver signs:
    ///
    /// ```text
    /// str("tessera/approval/v1") || str(request_id) || intent_hash(32) || u64(policy_version)
    /// || decision (0x01 approve, 0x02 reject) || u64(expires_at) || approver(32)
    /// ```
    /// `str` is a `u64` big-endian length and the UTF-8 bytes; integers are big-endian.
    pub fn signing_bytes(
        request_id: &str,
        intent_hash: &[u8; 32],
        policy_version: u64,
        decision: ApprovalDecision,
        expires_at: u64,
        approver: &PublicKey,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + request_id.len());
        put_str(&mut out, APPROVAL_DOMAIN);
        put_str(&mut out, request_id);
        out.extend_from_slice(intent_hash);
        put_u64(&mut out, policy_version);
        out.push(decision.tag());
        put_u64(&mut out, expires_at);
        out.extend_from_slice(&approver.0);
        out
    }

    /// Whether the signature verifies for `approver` (`verify_strict`).
    pub fn signature_valid(&self) -> bool {
        let bytes = Self::signing_bytes(
            &self.request_id,
            &self.intent_hash,
            self.policy_version,
            self.decision,
            self.expires_at,
            &self.approver,
        );
        self.approver.verify(&bytes, &self.signature)
    }
}

/// Checks that `approvals` meet `quorum` for this request under `bundle`.
///
/// Every approval must be valid, checked in this order (approvals in sorted order, so every
/// node reports the same error): signature ([`ApprovalError::Forged`]); the approver is a member
/// of at least one role the quorum needs, per `bundle.roles` ([`ApprovalError::NotAnApprover`]);
/// same request ([`ApprovalError::WrongRequest`]), intent ([`ApprovalError::WrongIntent`]) and
/// policy version, which must also be the bundle's ([`ApprovalError::WrongPolicyVersion`]);
/// `now_unix < expires_at` ([`ApprovalError::Expired`]). A valid rejection from a quorum member
/// wins over everything ([`ApprovalError::Rejected`], naming the smallest rejecting key);
/// otherwise the first invalid approval is reported. Then, per role in sorted order, the
/// distinct approvers who are members of that role are counted: an approver in two roles counts
/// once for each, never twice for the same one ([`ApprovalError::QuorumNotMet`]).
///
/// An empty quorum is met by no approvals; approvals given for it are not examined.
pub fn check_quorum(
    quorum: &Quorum,
    approvals: &[Approval],
    bundle: &PolicyBundle,
    request_id: &str,
    intent_hash: &[u8; 32],
    policy_version: u64,
    now_unix: u64,
) -> Result<(), ApprovalError> {
    if quorum.is_empty() {
        return Ok(());
    }
    let empty = BTreeSet::new();
    let members = |role: &str| bundle.roles.get(role).unwrap_or(&empty);
    let in_quorum = |k: &PublicKey| quorum.requirements().any(|(r, _)| members(r).contains(k));

    let mut sorted: Vec<&Approval> = approvals.iter().collect();
    sorted.sort_by(|a, b| {
        (a.approver, a.decision, &a.signature).cmp(&(b.approver, b.decision, &b.signature))
    });
    let mut first_error = None;
    let mut rejected_by: Option<PublicKey> = None;
    let mut approved: BTreeSet<PublicKey> = BTreeSet::new();
    for a in sorted {
        let who = a.approver;
        let check = || -> Result<(), ApprovalError> {
            if !a.signature_valid() {
                return Err(ApprovalError::Forged { approver: who });
            }
            if !in_quorum(&who) {
                return Err(ApprovalError::NotAnApprover { approver: who });
            }
            if a.request_id != request_id {
                return Err(ApprovalError::WrongRequest { approver: who });
            }
            if a.intent_hash != *intent_hash {
                return Err(ApprovalError::WrongIntent { approver: who });
            }
            if a.policy_version != policy_version || policy_version != bundle.version {
                return Err(ApprovalError::WrongPolicyVersion {
                    approver: who,
                    expected: bundle.version,
                    got: a.policy_version,
                });
            }
            if now_unix >= a.expires_at {
                return Err(ApprovalError::Expired {
                    approver: who,
                    expires_at: a.expires_at,
                    now: now_unix,
                });
            }
            Ok(())
        };
        match check() {
            Err(e) => {
                first_error.get_or_insert(e);
            }
            Ok(()) => match a.decision {
                ApprovalDecision::Reject => {
                    rejected_by = Some(rejected_by.map_or(who, |r| r.min(who)));
                }
                ApprovalDecision::Approve => {
                    approved.insert(who);
                }
            },
        }
    }
    if let Some(by) = rejected_by {
        return Err(ApprovalError::Rejected { by });
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    for (role, need) in quorum.requirements() {
        let n = approved
            .iter()
            .filter(|k| members(role).contains(k))
            .count();
        if n < need as usize {
            return Err(ApprovalError::QuorumNotMet {
                role: role.to_string(),
                have: n,
                need: need as usize,
            });
        }
    }
    Ok(())
}

//! Typed errors. Every refusal says who and why; none carries secret material.

use crate::keys::PublicKey;

/// A public key in text form could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not hexadecimal.
    #[error("public key is not hex")]
    NotHex,
    /// Not 32 bytes.
    #[error("public key must be 32 bytes")]
    WrongLength,
}

/// Why a policy bundle (or an update to it) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The candidate is not strictly newer than the bundle in force.
    #[error("policy bundle version {candidate} is not newer than the current version {current}")]
    StaleVersion {
        /// Version in force.
        current: u64,
        /// Version offered.
        candidate: u64,
    },
    /// Too few distinct trusted admins signed.
    #[error("policy bundle has {have} valid admin signature(s), {need} needed")]
    QuorumNotMet {
        /// Distinct trusted admins with a valid signature.
        have: usize,
        /// Required.
        need: usize,
    },
    /// A signature by a trusted admin does not verify over this bundle.
    #[error("admin {admin} signature does not verify over this bundle")]
    BadSignature {
        /// The admin named in the signature.
        admin: PublicKey,
    },
    /// A signature names a key that is not a trusted admin.
    #[error("bundle signed by {admin}, which is not a trusted admin")]
    UnknownAdmin {
        /// The key named in the signature.
        admin: PublicKey,
    },
    /// The Cedar text does not parse or validate against the Tessera schema, or its annotations
    /// are malformed.
    #[error("policy text refused: {reason}")]
    PolicyParse {
        /// What is wrong (deterministic text).
        reason: String,
    },
    /// The candidate is for another tenant than the bundle in force.
    #[error("policy bundle is for tenant {candidate:?}, the current one for {current:?}")]
    TenantMismatch {
        /// Tenant in force.
        current: String,
        /// Tenant of the candidate.
        candidate: String,
    },
    /// A structural problem outside the Cedar text: roles, admin set, velocity rules.
    #[error("policy bundle refused: {reason}")]
    InvalidBundle {
        /// What is wrong.
        reason: String,
    },
}

/// Why a set of approvals does not satisfy a quorum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    /// The signature does not verify for the approver key it names (any field was altered, or
    /// the key is not a valid Ed25519 point).
    #[error("approval by {approver} has an invalid signature")]
    Forged {
        /// The key the approval names.
        approver: PublicKey,
    },
    /// Signed for another request id.
    #[error("approval by {approver} is for another request")]
    WrongRequest {
        /// Approver.
        approver: PublicKey,
    },
    /// Signed for another intent hash.
    #[error("approval by {approver} is for another intent")]
    WrongIntent {
        /// Approver.
        approver: PublicKey,
    },
    /// Signed under another policy version.
    #[error("approval by {approver} is for policy version {got}, {expected} in force")]
    WrongPolicyVersion {
        /// Approver.
        approver: PublicKey,
        /// Version in force.
        expected: u64,
        /// Version in the approval.
        got: u64,
    },
    /// `now >= expires_at`.
    #[error("approval by {approver} expired at {expires_at} (now {now})")]
    Expired {
        /// Approver.
        approver: PublicKey,
        /// Expiry, unix seconds (exclusive).
        expires_at: u64,
        /// The time the check ran with.
        now: u64,
    },
    /// The key is in none of the roles the quorum needs.
    #[error("{approver} is not an approver for any role of this quorum")]
    NotAnApprover {
        /// The key.
        approver: PublicKey,
    },
    /// Too few distinct approvers of a role.
    #[error("role {role:?} has {have} distinct approval(s), {need} needed")]
    QuorumNotMet {
        /// Role.
        role: String,
        /// Distinct valid approvers of that role.
        have: usize,
        /// Required.
        need: usize,
    },
    /// A quorum member rejected the request.
    #[error("rejected by {by}")]
    Rejected {
        /// The rejecting approver (the smallest key, when several rejected).
        by: PublicKey,
    },
}

/// A [`crate::PolicyRequest`] cannot be built from the given intent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The intent is for another chain or network than the wallet.
    #[error("intent is for {intent}, the wallet is on {wallet}")]
    ChainMismatch {
        /// `chain/network` of the wallet.
        wallet: String,
        /// `chain/network` of the intent.
        intent: String,
    },
    /// Two transfers of the same asset disagree on its metadata (decimals).
    #[error("inconsistent metadata for asset {asset}")]
    InconsistentAsset {
        /// The asset id.
        asset: String,
    },
    /// An asset without a contract (so taken for the native coin) whose symbol or decimals are
    /// not those of the chain's native coin, or on a chain whose native coin the policy does
    /// not know: an adapter that could not resolve a token. Refused rather than counted as an
    /// amount of the native coin.
    #[error(
        "{field}: {symbol:?} with {decimals:?} decimals and no contract is not the native coin \
         of {chain}"
    )]
    NotNativeAsset {
        /// Where in the intent (`transfers[0].asset`, `fee.asset`, `allowances[1].asset`).
        field: String,
        /// `chain/network` of the intent.
        chain: String,
        /// The asset's symbol (cut at 32 characters).
        symbol: String,
        /// The asset's decimals.
        decimals: Option<u8>,
    },
    /// An identifier is empty or contains characters that are not allowed.
    #[error("invalid {field}: {value:?}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

/// A velocity ledger could not be read or written. The engine treats a read failure as a deny.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("velocity ledger: {0}")]
pub struct LedgerError(pub String);

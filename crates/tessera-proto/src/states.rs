//! How a signing request ends, in one place: the [`ErrorCode`] of every way signing can fail,
//! the [`RequestState`] each code leaves a request in, the code of each signer
//! [`FailureKind`], and the transitions a request may take ([`RequestState::may_become`]).
//!
//! Every mapping is an exhaustive `match`: adding a failure kind, a code or a state does not
//! compile until it is placed. The coordinator stores and serves these types; signers send
//! [`FailureKind`]s over the link (an enum, never a string); clients read [`ErrorCode`]s.

use serde::{Deserialize, Serialize};

use tessera_audit::RefusalReason;

use crate::api::RequestState;
use crate::link::FailureKind;

/// Why a signing session or request failed (`SessionError.code`, `snake_case` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // --- A signer's refusal (final: every signer runs the same checks on the same inputs).
    /// A signer found the authorization invalid, expired or for something else.
    Unauthorized,
    /// A signer's own parse of the payload refused it or differs from what was authorized.
    PayloadRejected,
    /// The request or session id was used before.
    Replayed,
    /// The coordinator's or a signer's policy denies the request.
    PolicyDenied,
    /// A signer finds the approvals do not meet its quorum.
    ApprovalsInvalid,
    /// The request expired awaiting approvals, or a signer found an approval or the
    /// authorization expired.
    Expired,
    /// A signer holds another policy version, or its policy is older than it accepts.
    StalePolicy,
    /// A signer's velocity ledger (or the union of its co-signers') puts it over a limit.
    VelocityExceeded,
    /// A signer's operating mode forbids the request.
    ModeRestricted,
    /// An approver rejected the request.
    Rejected,
    // --- Failures (another signer subset or a later request may succeed).
    /// Fewer signers than the threshold are connected or willing.
    NotEnoughSigners,
    /// The protocol aborted (culprits may be named) or signers disagreed on its outcome.
    ProtocolAbort,
    /// A signer's session was aborted.
    Aborted,
    /// A signer lacks what the session needs (share, primes, presignature).
    SignerNotReady,
    /// A peer's envelope could not be verified or decrypted.
    Transport,
    /// A signer's vault or audit log failed.
    SignerStorage,
    /// A signer is at one of its limits.
    SignerBusy,
    /// The session did not finish in time.
    Timeout,
    /// A signing session id is already taken by another request.
    Conflict,
    /// The coordinator restarted while the request was signing.
    Interrupted,
    /// The chain adapter could not attach the signatures.
    BadSignatures,
    /// The chain's independent verifier refused the signed transaction.
    VerificationFailed,
    /// The stored payload no longer parses.
    MalformedPayload,
    /// The stored payload is for another network.
    WrongNetwork,
    /// The stored payload spends what the wallet does not own.
    NotOwned,
    /// The stored payload is not supported.
    Unsupported,
    /// Anything else.
    Internal,
}

/// How a code ends a request: the one table [`ErrorCode::request_state`] and
/// [`ErrorCode::is_final`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// A policy refusal or an approver's rejection: `rejected`, never retried.
    Rejected,
    /// `expired`, never retried.
    Expired,
    /// The signers' final refusal of the request itself: `failed`, never retried.
    Refused,
    /// Anything else: `failed`; another signer subset or a later request may succeed.
    Failed,
}

impl ErrorCode {
    fn ending(self) -> Ending {
        use ErrorCode as E;
        match self {
            E::PolicyDenied
            | E::ApprovalsInvalid
            | E::StalePolicy
            | E::VelocityExceeded
            | E::ModeRestricted
            | E::Rejected => Ending::Rejected,
            E::Expired => Ending::Expired,
            E::Unauthorized | E::PayloadRejected | E::Replayed => Ending::Refused,
            E::NotEnoughSigners
            | E::ProtocolAbort
            | E::Aborted
            | E::SignerNotReady
            | E::Transport
            | E::SignerStorage
            | E::SignerBusy
            | E::Timeout
            | E::Conflict
            | E::Interrupted
            | E::BadSignatures
            | E::VerificationFailed
            | E::MalformedPayload
            | E::WrongNetwork
            | E::NotOwned
            | E::Unsupported
            | E::Internal => Ending::Failed,
        }
    }

    /// The state a request ends in after signing stopped with this code: policy refusals and
    /// an approver's rejection reject it, `expired` expires it; everything else fails it
    /// (including the signers' final refusals of the request itself: `unauthorized`,
    /// `payload_rejected`, `replayed`).
    pub fn request_state(self) -> RequestState {
        match self.ending() {
            Ending::Rejected => RequestState::Rejected,
            Ending::Expired => RequestState::Expired,
            Ending::Refused | Ending::Failed => RequestState::Failed,
        }
    }

    /// Whether retrying with another signer subset cannot help: the code is a decision every
    /// signer reaches alike on the same inputs.
    pub fn is_final(self) -> bool {
        self.ending() != Ending::Failed
    }

    /// The `snake_case` name, as in JSON.
    pub fn as_str(self) -> &'static str {
        use ErrorCode as E;
        match self {
            E::Unauthorized => "unauthorized",
            E::PayloadRejected => "payload_rejected",
            E::Replayed => "replayed",
            E::PolicyDenied => "policy_denied",
            E::ApprovalsInvalid => "approvals_invalid",
            E::Expired => "expired",
            E::StalePolicy => "stale_policy",
            E::VelocityExceeded => "velocity_exceeded",
            E::ModeRestricted => "mode_restricted",
            E::Rejected => "rejected",
            E::NotEnoughSigners => "not_enough_signers",
            E::ProtocolAbort => "protocol_abort",
            E::Aborted => "aborted",
            E::SignerNotReady => "signer_not_ready",
            E::Transport => "transport",
            E::SignerStorage => "signer_storage",
            E::SignerBusy => "signer_busy",
            E::Timeout => "timeout",
            E::Conflict => "conflict",
            E::Interrupted => "interrupted",
            E::BadSignatures => "bad_signatures",
            E::VerificationFailed => "verification_failed",
            E::MalformedPayload => "malformed_payload",
            E::WrongNetwork => "wrong_network",
            E::NotOwned => "not_owned",
            E::Unsupported => "unsupported",
            E::Internal => "internal",
        }
    }

    /// Every code (for schema and exhaustiveness tests).
    pub const ALL: [ErrorCode; 27] = {
        use ErrorCode as E;
        [
            E::Unauthorized,
            E::PayloadRejected,
            E::Replayed,
            E::PolicyDenied,
            E::ApprovalsInvalid,
            E::Expired,
            E::StalePolicy,
            E::VelocityExceeded,
            E::ModeRestricted,
            E::Rejected,
            E::NotEnoughSigners,
            E::ProtocolAbort,
            E::Aborted,
            E::SignerNotReady,
            E::Transport,
            E::SignerStorage,
            E::SignerBusy,
            E::Timeout,
            E::Conflict,
            E::Interrupted,
            E::BadSignatures,
            E::VerificationFailed,
            E::MalformedPayload,
            E::WrongNetwork,
            E::NotOwned,
            E::Unsupported,
            E::Internal,
        ]
    };
}

impl From<&tessera_chain::ChainError> for ErrorCode {
    /// The code of a chain adapter's refusal while assembling or verifying a signed
    /// transaction (or re-parsing a stored payload).
    fn from(e: &tessera_chain::ChainError) -> ErrorCode {
        use tessera_chain::ChainError as C;
        match e {
            C::Malformed { .. } => ErrorCode::MalformedPayload,
            C::WrongNetwork { .. } => ErrorCode::WrongNetwork,
            C::NotOwned { .. } => ErrorCode::NotOwned,
            C::Unsupported { .. } => ErrorCode::Unsupported,
            C::Signatures(_) => ErrorCode::BadSignatures,
            C::Verification(_) => ErrorCode::VerificationFailed,
            // `ChainError` is non-exhaustive: a kind added later is an internal failure
            // until it is placed here.
            _ => ErrorCode::Internal,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FailureKind {
    /// The request's error code when a signer answers with this failure.
    pub fn code(self) -> ErrorCode {
        use FailureKind as K;
        match self {
            K::Unauthorized => ErrorCode::Unauthorized,
            K::PayloadRejected => ErrorCode::PayloadRejected,
            K::Replayed => ErrorCode::Replayed,
            K::PolicyDenied => ErrorCode::PolicyDenied,
            K::ApprovalsInvalid => ErrorCode::ApprovalsInvalid,
            K::Expired => ErrorCode::Expired,
            K::StalePolicy => ErrorCode::StalePolicy,
            K::VelocityExceeded => ErrorCode::VelocityExceeded,
            K::ModeRestricted => ErrorCode::ModeRestricted,
            K::Protocol => ErrorCode::ProtocolAbort,
            K::Aborted => ErrorCode::Aborted,
            K::NotReady => ErrorCode::SignerNotReady,
            K::Transport => ErrorCode::Transport,
            K::Storage => ErrorCode::SignerStorage,
            K::Busy => ErrorCode::SignerBusy,
            K::Internal => ErrorCode::Internal,
        }
    }

    /// The reason an audit log records when a signer refuses with this kind (signer and
    /// coordinator alike; the signer may know a more precise one, e.g. a raw digest denied).
    pub fn refusal_reason(self) -> RefusalReason {
        use FailureKind as K;
        match self {
            K::PolicyDenied => RefusalReason::PolicyDenied,
            K::ApprovalsInvalid => RefusalReason::InvalidApproval,
            K::Expired => RefusalReason::Expired,
            K::StalePolicy => RefusalReason::StalePolicy,
            K::VelocityExceeded => RefusalReason::VelocityLimit,
            K::ModeRestricted => RefusalReason::ModeRestricted,
            K::PayloadRejected => RefusalReason::IntentMismatch,
            K::Replayed => RefusalReason::Replayed,
            K::Unauthorized => RefusalReason::Other("unauthorized".into()),
            K::NotReady => RefusalReason::Other("not_ready".into()),
            K::Storage => RefusalReason::Other("storage".into()),
            K::Busy => RefusalReason::Other("busy".into()),
            K::Protocol | K::Transport | K::Aborted | K::Internal => {
                RefusalReason::Other("internal".into())
            }
        }
    }

    /// Whether a signer answering with this kind refused the request (a decision, audited as a
    /// refusal, never retried) rather than failed to complete it.
    pub fn is_refusal(self) -> bool {
        self.code().is_final()
    }
}

impl RequestState {
    /// Whether a request in this state may move to `next`. The lifecycle is
    /// `received → policy → (awaiting_approvals → approved →) signing → signed`, with
    /// `rejected`, `expired` and `failed` as the other ends; a final state never changes.
    pub fn may_become(self, next: RequestState) -> bool {
        use RequestState as S;
        match self {
            S::Received => matches!(next, S::Policy | S::Rejected | S::Failed),
            S::Policy => matches!(
                next,
                S::AwaitingApprovals | S::Signing | S::Rejected | S::Failed
            ),
            S::AwaitingApprovals => {
                matches!(next, S::Approved | S::Rejected | S::Expired | S::Failed)
            }
            S::Approved => matches!(next, S::Signing | S::Failed),
            S::Signing => matches!(next, S::Signed | S::Rejected | S::Expired | S::Failed),
            S::Signed | S::Rejected | S::Expired | S::Failed => false,
        }
    }

    /// Every state, in lifecycle order.
    pub const ALL: [RequestState; 9] = [
        RequestState::Received,
        RequestState::Policy,
        RequestState::AwaitingApprovals,
        RequestState::Approved,
        RequestState::Signing,
        RequestState::Signed,
        RequestState::Rejected,
        RequestState::Expired,
        RequestState::Failed,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names_and_round_trip() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).expect("serializes");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, code);
        }
        assert!(serde_json::from_str::<ErrorCode>("\"no_such_code\"").is_err());
    }

    #[test]
    fn signer_refusals_reject_and_failures_fail() {
        use FailureKind as K;
        for k in [K::Unauthorized, K::PayloadRejected, K::Replayed] {
            assert!(k.is_refusal(), "{k:?}");
            assert_eq!(k.code().request_state(), RequestState::Failed, "{k:?}");
        }
        let refusals = [
            K::PolicyDenied,
            K::ApprovalsInvalid,
            K::StalePolicy,
            K::VelocityExceeded,
            K::ModeRestricted,
        ];
        for k in refusals {
            assert!(k.is_refusal(), "{k:?}");
            assert_eq!(k.code().request_state(), RequestState::Rejected, "{k:?}");
        }
        assert!(K::Expired.is_refusal());
        assert_eq!(K::Expired.code().request_state(), RequestState::Expired);
        for k in [
            K::Protocol,
            K::Transport,
            K::Aborted,
            K::NotReady,
            K::Storage,
            K::Busy,
            K::Internal,
        ] {
            assert!(!k.is_refusal(), "{k:?}");
            assert_eq!(k.code().request_state(), RequestState::Failed, "{k:?}");
        }
    }

    #[test]
    fn final_states_never_change_and_every_other_state_can_end() {
        for from in RequestState::ALL {
            let successors: Vec<RequestState> = RequestState::ALL
                .into_iter()
                .filter(|to| from.may_become(*to))
                .collect();
            if from.is_final() {
                assert!(successors.is_empty(), "{from:?} → {successors:?}");
            } else {
                assert!(
                    successors.iter().any(|s| s.is_final()),
                    "{from:?} cannot end"
                );
                assert!(!successors.contains(&from), "{from:?} → itself");
            }
        }
        use RequestState as S;
        assert!(S::AwaitingApprovals.may_become(S::Approved));
        assert!(!S::AwaitingApprovals.may_become(S::Signing));
        assert!(!S::Approved.may_become(S::Expired));
        assert!(!S::Signed.may_become(S::Failed));
    }
}

//! One error type for every scheme, sorted the way an operator needs it: bad arguments, a peer
//! that misbehaved (with the culprit where the protocol can name one), misuse of single-use
//! material, and bugs. Nothing in here ever carries secret bytes.

use crate::PartyIndex;

/// Errors returned by sessions, key shares and signing helpers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller passed parameters that can never work (bad threshold, wrong signer set, …).
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),

    /// The operation is not offered by this scheme (e.g. presignatures for DKLs23).
    #[error("not supported by {scheme}: {what}")]
    Unsupported {
        /// Scheme name.
        scheme: &'static str,
        /// What was asked for.
        what: &'static str,
    },

    /// A message belongs to another session (execution id mismatch).
    #[error("message from party {from} belongs to another session")]
    WrongSession {
        /// Claimed sender.
        from: PartyIndex,
    },

    /// A message came from a party that is not part of this session, or claims to be us.
    #[error("message from party {from}, which is not a participant of this session")]
    UnknownSender {
        /// Claimed sender.
        from: PartyIndex,
    },

    /// A p2p message addressed to someone else reached us.
    #[error("message from party {from} is addressed to party {to}")]
    Misrouted {
        /// Claimed sender.
        from: PartyIndex,
        /// Intended recipient.
        to: PartyIndex,
    },

    /// A message for a round this protocol does not have, or of the wrong kind for its round.
    #[error("message from party {from} has round {round}, which is not expected ({reason})")]
    WrongRound {
        /// Claimed sender.
        from: PartyIndex,
        /// Round named in the message.
        round: u16,
        /// Why it does not fit.
        reason: &'static str,
    },

    /// The same sender sent a second message for the same round and kind.
    #[error("duplicate message from party {from} for round {round}")]
    Duplicate {
        /// Sender.
        from: PartyIndex,
        /// Round.
        round: u16,
    },

    /// A message that does not decode or fails a structural check.
    #[error("malformed message from party {from} in round {round}: {reason}")]
    Malformed {
        /// Sender.
        from: PartyIndex,
        /// Round.
        round: u16,
        /// What was wrong (never includes payload bytes).
        reason: String,
    },

    /// Parties saw different broadcast messages (detected by the transcript confirmation round).
    #[error("broadcast inconsistency reported against parties {culprits:?}")]
    InconsistentBroadcast {
        /// Parties whose transcript hash differs from ours.
        culprits: Vec<PartyIndex>,
    },

    /// The protocol aborted because of a misbehaving party.
    #[error("protocol aborted: {reason} (culprits: {culprits:?}{})", if *.ban { ", must be banned" } else { "" })]
    Aborted {
        /// Parties the protocol blames; empty when it cannot tell.
        culprits: Vec<PartyIndex>,
        /// Short description from the protocol.
        reason: String,
        /// The protocol requires the culprit to be permanently excluded (DKLs23 OT leak).
        ban: bool,
    },

    /// A presignature or nonce that was already used (single use is enforced by the ledger).
    #[error("presignature {id} was already used")]
    PresignatureReused {
        /// Hex id of the presignature.
        id: String,
    },

    /// Presigned (one-round) signing is forbidden for this request; use full signing.
    #[error("presignature cannot be used here: {0}")]
    PresignatureNotAllowed(&'static str),

    /// A stored key share or presignature failed validation.
    #[error("invalid key share: {0}")]
    InvalidKeyShare(String),

    /// The produced signature does not verify under the public key.
    #[error("resulting signature does not verify")]
    InvalidSignature,

    /// The session was driven after it finished or before it started.
    #[error("session misuse: {0}")]
    Misuse(&'static str),

    /// An internal invariant broke; report it.
    #[error("bug: {0}")]
    Bug(String),
}

impl Error {
    /// Parties the error blames, if any.
    pub fn culprits(&self) -> Vec<PartyIndex> {
        match self {
            Error::WrongSession { from }
            | Error::UnknownSender { from }
            | Error::Misrouted { from, .. }
            | Error::WrongRound { from, .. }
            | Error::Duplicate { from, .. }
            | Error::Malformed { from, .. } => vec![*from],
            Error::InconsistentBroadcast { culprits } | Error::Aborted { culprits, .. } => {
                culprits.clone()
            }
            _ => Vec::new(),
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The one error type of this crate.

/// Everything that can go wrong while sealing, opening or checking wire data.
///
/// Messages never contain secret bytes or plaintext: only lengths, indices and public values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Bytes that do not parse (truncated, trailing data, bad tags, inconsistent fields).
    #[error("malformed: {0}")]
    Malformed(String),
    /// A format version this build does not understand.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// The envelope belongs to another session.
    #[error("envelope belongs to another session")]
    WrongSession,
    /// The claimed sender index is not in this session's roster (or is our own index).
    #[error("unknown sender party {from}")]
    UnknownSender {
        /// Claimed sender index.
        from: u16,
    },
    /// The sender identity does not match the roster entry of the claimed index.
    #[error("sender identity does not match the roster entry of party {from}")]
    SenderMismatch {
        /// Claimed sender index.
        from: u16,
    },
    /// A signature that does not verify.
    #[error("bad signature")]
    BadSignature,
    /// A p2p envelope addressed to another party.
    #[error("envelope is addressed to party {to}")]
    NotForMe {
        /// The addressed party.
        to: u16,
    },
    /// Sealing a p2p message needs the recipient's public identity.
    #[error("p2p message needs the recipient's public identity")]
    MissingRecipientKey,
    /// Authenticated decryption failed (wrong key or altered ciphertext).
    #[error("decryption failed")]
    DecryptFailed,
    /// This (round, sender, kind) was already accepted in this session.
    #[error("replayed envelope: round {round} from party {from} already accepted")]
    Replayed {
        /// Round.
        round: u16,
        /// Sender index.
        from: u16,
    },
    /// The authorization's operator key is not trusted.
    #[error("operator is not trusted")]
    UntrustedOperator,
    /// The authorization has expired.
    #[error("authorization expired")]
    Expired,
    /// The authorization's expiry lies further ahead than the allowed lifetime.
    #[error("authorization lives longer than allowed")]
    TooLongLived,
    /// Key material that does not parse or is unusable (the reason never includes key bytes).
    #[error("invalid key: {0}")]
    InvalidKey(String),
}

/// Crate result alias.
pub type Result<T, E = WireError> = std::result::Result<T, E>;

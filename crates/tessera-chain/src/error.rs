//! Typed adapter errors. Every error names the payload field it is about, so the API can answer
//! with a 4xx that says what to fix.

/// Why an adapter refused a payload, an address request or a set of signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The payload (or a field of it) does not decode.
    #[error("{field}: malformed: {reason}")]
    Malformed {
        /// Field or position, e.g. `psbt.inputs[1].witness_utxo`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The payload is for another network than the one requested.
    #[error("{field}: wrong network: expected {expected}, the payload is for {found}")]
    WrongNetwork {
        /// Field that names the network.
        field: String,
        /// Network requested.
        expected: String,
        /// Network the payload names.
        found: String,
    },
    /// The payload spends from, or must be signed by, an address this wallet key does not own.
    #[error("{field}: not owned by this wallet: {reason}")]
    NotOwned {
        /// Field.
        field: String,
        /// What is not owned.
        reason: String,
    },
    /// A valid payload the adapter does not support (script type, transaction type, scheme,
    /// network name, format).
    #[error("{field}: unsupported: {reason}")]
    Unsupported {
        /// Field.
        field: String,
        /// What is unsupported.
        reason: String,
    },
    /// Signatures handed to `finalize` do not fit the parsed payload (count, kind).
    #[error("signatures: {0}")]
    Signatures(String),
    /// The chain's independent verifier rejected the signed transaction.
    #[error("verification failed: {0}")]
    Verification(String),
}

impl ChainError {
    /// Stable error code for APIs: `malformed_payload`, `wrong_network`, `not_owned`,
    /// `unsupported`, `bad_signatures`, `verification_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::Malformed { .. } => "malformed_payload",
            ChainError::WrongNetwork { .. } => "wrong_network",
            ChainError::NotOwned { .. } => "not_owned",
            ChainError::Unsupported { .. } => "unsupported",
            ChainError::Signatures(_) => "bad_signatures",
            ChainError::Verification(_) => "verification_failed",
        }
    }

    /// The field the error is about, when it names one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ChainError::Malformed { field, .. }
            | ChainError::WrongNetwork { field, .. }
            | ChainError::NotOwned { field, .. }
            | ChainError::Unsupported { field, .. } => Some(field),
            ChainError::Signatures(_) | ChainError::Verification(_) => None,
        }
    }

    /// Shorthand for [`ChainError::Malformed`].
    pub fn malformed(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        ChainError::Malformed {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// Shorthand for [`ChainError::Unsupported`].
    pub fn unsupported(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        ChainError::Unsupported {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// Shorthand for [`ChainError::NotOwned`].
    pub fn not_owned(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        ChainError::NotOwned {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// Shorthand for [`ChainError::WrongNetwork`].
    pub fn wrong_network(
        field: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        ChainError::WrongNetwork {
            field: field.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }
}

/// Result with [`ChainError`].
pub type Result<T, E = ChainError> = std::result::Result<T, E>;

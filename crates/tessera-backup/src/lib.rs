//! Encrypted, epoch-tagged backups of a signer's key shares and of its identity.
//!
//! # Format (`tessera-backup/v1`)
//!
//! A backup file is JSON: `{"format": "tessera-backup/v1", "header": {…}, "stanzas": […]}`.
//!
//! - The **header** is public and says what the backup holds ([`Header`]): its kind (`share`
//!   or `signer`), the node id of the signer that wrote it, when, and for a share the wallet id,
//!   scheme, threshold, n, party index, epoch, group public key and chain code ([`ShareTag`]).
//! - Each **stanza** encrypts the same payload to one recipient: `recipient` (the X25519 public
//!   key, hex), `enc` (the HPKE encapsulated key, hex) and `ciphertext` (hex). Encryption is
//!   RFC 9180 HPKE in base mode with the suite DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//!   ChaCha20-Poly1305 (the `hpke` crate), `info` = `tessera-backup/v1`, and
//!   `aad` = [`Header::aad`], the header's canonical length-prefixed bytes. Changing any header
//!   field makes every stanza fail to open ([`BackupError::Decrypt`]): a backup cannot be
//!   relabelled as another wallet, epoch or party.
//! - The **payload** (secret) is JSON: for a share, [`SharePayload`] (the serialized
//!   `tessera_crypto::KeyShare`, the signer's public wallet facts, and for cggmp24 the signer
//!   group's auxiliary info); for a signer, [`SignerPayload`] (the node identity secret and the
//!   vault settings a signer needs to run: name, trusted operator keys, policy admins).
//!
//! Opening checks the payload against the header through the protocol crate's validating
//! constructor (`KeyShare::from_bytes` re-parses the share with its crate) and compares every
//! tagged field ([`open_share`]); nothing is reconstructed.
//!
//! HPKE base mode does not authenticate the sender: anyone who knows a recipient's public key
//! can write a backup *to* it. What a backup proves is only that its share is valid for the
//! group key in its header; compare that key with the wallet's vouched key before relying on
//! it (`tessera backup verify` prints it).
//!
//! The identity key travels in its own `signer` backup, not in share backups: share backups
//! are what a recovery quorum combines in a disaster, and their holders must not also be able
//! to impersonate the signer on the network (its identity key signs its link hello, its wallet
//! attestations and its audit heads, and decrypts peer-to-peer messages sent to it).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod file;
mod header;
mod keys;
mod payload;

pub use file::{seal, Backup, Stanza, FORMAT};
pub use header::{Header, Kind, ShareTag};
pub use keys::{BackupIdentity, RecipientKey};
pub use payload::{open_share, open_signer, AuxRecord, OpenedShare, SharePayload, SignerPayload};

/// Everything that can go wrong. Messages never contain secret bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Not a backup file of this format, or a malformed field.
    #[error("malformed backup: {0}")]
    Format(String),
    /// None of the given identities is a recipient of this backup.
    #[error("this backup is not encrypted to any of the given identities")]
    NotARecipient,
    /// A stanza addressed to the identity did not decrypt: the header or ciphertext was
    /// altered, or the stanza was made for another key.
    #[error("the backup does not decrypt: its header or ciphertext was altered")]
    Decrypt,
    /// The backup is of another kind than expected.
    #[error("expected a {expected} backup, found a {found} backup")]
    WrongKind {
        /// Expected kind.
        expected: Kind,
        /// Found kind.
        found: Kind,
    },
    /// The decrypted share is not valid (the protocol crate refused it).
    #[error("the share is invalid: {0}")]
    InvalidShare(String),
    /// The decrypted payload disagrees with the header.
    #[error("the share does not match its header: {0} differs")]
    Mismatch(&'static str),
    /// Encryption failed or no recipient was given.
    #[error("cannot write the backup: {0}")]
    Seal(String),
}

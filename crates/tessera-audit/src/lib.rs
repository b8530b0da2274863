//! Tessera's audit log: append-only, hash-chained records of every decision (policy results,
//! approvals, refusals, signatures, policy and mode changes), stored in SQLite, exported as JSON
//! Lines and verifiable offline, with signed checkpoints to pin a log's head.
//!
//! The coordinator keeps one log; every signer keeps its own log of what it signed and refused,
//! so the two can be cross-checked ([`cross_check`]).
//!
//! ```
//! use tessera_audit::{AuditLog, EntryKind, verify_export};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let log = AuditLog::in_memory("coordinator-eu1")?;
//! log.append("coordinator-eu1", EntryKind::WalletCreated, "w-1",
//!            serde_json::json!({"scheme": "cggmp24", "threshold": 2}), 1_700_000_000_000)?;
//! let mut export = Vec::new();
//! log.export(&mut export)?;
//! let report = verify_export(&export[..])?;
//! assert_eq!((report.entries, report.head_hash), (1, log.head()?.hash));
//! # Ok(()) }
//! ```
//!
//! # Entry hash (`tessera/audit/v1`)
//!
//! With `u64(n)` = 8 bytes big-endian and `str(s)` = `u64(byte length of s) || UTF-8 bytes of s`:
//!
//! ```text
//! hash      = SHA-256( str("tessera/audit/v1")
//!                   || u64(seq) || u64(time_ms)
//!                   || str(actor)
//!                   || str(canonical_json(kind))
//!                   || str(subject)
//!                   || str(canonical_json(body))
//!                   || prev_hash )                          (32 raw bytes)
//! prev_hash = hash of entry seq - 1; for seq = 1: genesis
//! genesis   = SHA-256( str("tessera/audit/genesis/v1") || str(chain_id) )
//! ```
//!
//! `canonical_json` is defined in [`canonical`]: sorted keys, no whitespace, integers only.
//! `kind` is hashed in its serialized JSON form (see [`EntryKind`]), e.g. `"signature"` or
//! `{"refusal":"expired"}`. Every field is fixed-width or length-prefixed, so no two different
//! entries hash the same bytes.
//!
//! **Chain id, not zeros.** Every log has a chain id fixed at creation (e.g. the coordinator's
//! or signer's node id plus a deployment name) and its genesis hash is derived from it. Entries
//! of another log cannot be spliced in (their links point into another chain), and one log
//! cannot be passed off as another: a [`Checkpoint`] names its chain id, and the export header
//! carries it.
//!
//! # Export format (JSON Lines)
//!
//! UTF-8, one JSON value per line, every line (including the last) ending in `\n` (no `\r`).
//! Line 1 is a header, then one line per entry in `seq` order starting at 1 (so entry `seq`
//! is on line `seq + 1`). Every line is exactly the canonical JSON of its value — anything else
//! (whitespace, other key order, unknown fields, uppercase hex) is refused as malformed:
//!
//! ```text
//! {"chain_id":"coordinator-eu1","format":"tessera-audit/v1"}
//! {"actor":"coordinator-eu1","body":{"scheme":"cggmp24","threshold":2},"hash":"<64 hex>","kind":"wallet_created","prev_hash":"<64 hex>","seq":1,"subject":"w-1","time_ms":1700000000000}
//! ```
//!
//! [`verify_export`] recomputes every hash and link from the lines alone. It detects any edit,
//! deletion, insertion, reordering or duplication, and splices from another chain; it cannot
//! detect a cut-off tail or a wholesale rewrite with recomputed hashes — compare against a
//! [`Checkpoint`] for that ([`verify_against_checkpoint`]).
//!
//! # Checkpoints
//!
//! A checkpoint is an Ed25519 signature (RFC 8032, verified strictly) by the log owner's key
//! over
//!
//! ```text
//! str("tessera/audit/checkpoint/v1") || str(chain_id) || u64(seq) || hash(32)
//! ```
//!
//! where `(seq, hash)` is the log's head (`(0, genesis)` for an empty log).
//!
//! # On-disk format
//!
//! One SQLite file, `PRAGMA application_id = 0x54534155` ("TSAU"), `user_version = 1`, WAL,
//! `synchronous = FULL`. Table `meta` holds the chain id; table `entries` one row per entry
//! (canonical JSON of kind and body, raw hashes) with triggers refusing `UPDATE` and `DELETE`.
//! An append is one `IMMEDIATE` transaction that reads the head and inserts `seq + 1`; once it
//! returns `Ok` the entry is on disk. [`AuditLog::open`] takes an exclusive `flock` on
//! `<path>.lock` and runs SQLite with `locking_mode = EXCLUSIVE`: a second opener, in this or
//! another process, gets [`AuditError::Locked`], so two writers can never fork the chain.
//! Inside one process an [`AuditLog`] is `Sync` and serializes appends itself.
//!
//! # Threat model
//!
//! The hash chain makes tampering *evident*, not impossible: whoever can write the file or the
//! export can rewrite all of it and recompute every hash. What pins history is a checkpoint
//! signed by a key the writer does not hold, or one kept elsewhere (a signer checkpointing its
//! own log, an auditor keeping copies). Triggers are a guard against mistakes, not attackers.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod canonical;
mod checkpoint;
mod entry;
mod log;
mod verify;

pub use canonical::{canonical_json, CanonicalError, MAX_JSON_DEPTH};
pub use checkpoint::{
    verify_against_checkpoint, verify_against_head, Checkpoint, CheckpointError, CHECKPOINT_DOMAIN,
};
pub use entry::{
    entry_hash, genesis_hash, Entry, EntryKind, PolicyOutcome, RefusalReason, GENESIS_DOMAIN,
    HASH_DOMAIN, MAX_BODY_BYTES, MAX_KIND_BYTES, MAX_POLICY_IDS, MAX_TEXT_BYTES,
};
pub use log::{AuditLog, Head, APPLICATION_ID, MAX_PAGE, SCHEMA_VERSION};
pub use verify::{
    cross_check, export_header, verify_export, verify_export_with, CrossCheckError,
    CrossCheckReport, Unmatched, VerifyError, VerifyReport, EXPORT_FORMAT, MAX_LINE_BYTES,
};

pub use ed25519_dalek;
pub use serde_json;

/// Errors of the log and of entry validation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// An argument was refused before anything was touched (empty actor, control characters,
    /// bad chain id, time out of range...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The body contains a floating-point number (only integers are allowed); nothing was
    /// appended.
    #[error("body has a floating-point number at {path:?}; use integers or strings")]
    FloatInBody {
        /// JSON pointer to it.
        path: String,
    },
    /// The body nests deeper than [`MAX_JSON_DEPTH`]; nothing was appended.
    #[error("body nests deeper than {MAX_JSON_DEPTH} levels at {path:?}")]
    BodyTooDeep {
        /// JSON pointer to the container.
        path: String,
    },
    /// The body's canonical JSON exceeds [`MAX_BODY_BYTES`]; nothing was appended.
    #[error("body is {size} bytes of canonical JSON, more than {max}")]
    BodyTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// [`AuditLog::open`] of a path that does not exist.
    #[error("audit log not found")]
    NotFound,
    /// [`AuditLog::create`] of a path that exists.
    #[error("audit log already exists")]
    AlreadyExists,
    /// Another [`AuditLog`] (in this or another process) has the file open.
    #[error("audit log is in use by another writer")]
    Locked,
    /// The file is not a Tessera audit log.
    #[error("not a Tessera audit log")]
    NotAnAuditLog,
    /// The file's schema is newer than this build.
    #[error("audit log schema version {0} is newer than this build supports ({SCHEMA_VERSION})")]
    UnsupportedVersion(u32),
    /// The log has another chain id than the one asked for.
    #[error("audit log belongs to chain {found:?}, expected {expected:?}")]
    WrongChain {
        /// Asked for.
        expected: String,
        /// In the file.
        found: String,
    },
    /// A stored entry fails verification (edited, deleted or reordered rows).
    #[error("stored chain fails verification: {0}")]
    Chain(#[from] VerifyError),
    /// A stored row or setting does not parse.
    #[error("corrupt audit log: {0}")]
    Corrupt(String),
    /// SQLite or file-system failure.
    #[error("storage error: {0}")]
    Storage(String),
    /// Writing an export failed.
    #[error("export write failed: {0}")]
    Io(String),
}

impl From<rusqlite::Error> for AuditError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                AuditError::Locked
            }
            Some(rusqlite::ErrorCode::NotADatabase) => AuditError::NotAnAuditLog,
            _ => AuditError::Storage(e.to_string()),
        }
    }
}

impl From<tessera_sqlite::FileError> for AuditError {
    fn from(e: tessera_sqlite::FileError) -> Self {
        match e {
            tessera_sqlite::FileError::Locked(_) => AuditError::Locked,
            tessera_sqlite::FileError::Sqlite(e) => e.into(),
            other => AuditError::Storage(other.to_string()),
        }
    }
}

/// Fixed-size byte arrays as lowercase hex strings in serde (`#[serde(with = "...hexser")]`);
/// also used for the signed heads of signers' logs in `tessera-proto`.
pub mod hexser {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    /// Lowercase hex.
    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    /// Exactly `2 * N` hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; N];
        hex::decode_to_slice(s.as_bytes(), &mut out)
            .map_err(|_| D::Error::custom(format!("expected {} hex digits", 2 * N)))?;
        Ok(out)
    }
}

//! The signer node's encrypted vault: key shares, presignatures / nonces, auxiliary info, the
//! node identity key, settings, replay ledgers, the accepted policy bundle and mode change, and
//! the velocity ledger in one embedded SQLite file.
//!
//! The vault stores opaque bytes; the node layer gives them meaning (it re-validates a share with
//! `tessera_crypto::KeyShare::from_bytes`, for instance).
//!
//! # On-disk format (schema version 3)
//!
//! One SQLite database file, `PRAGMA application_id = 0x54535356` ("TSSV") and
//! `PRAGMA user_version = 3`, journal mode WAL, `synchronous = FULL`, `secure_delete = ON`.
//! A file whose application id differs is refused with [`VaultError::NotAVault`]; a file with a
//! higher `user_version` with [`VaultError::UnsupportedVersion`]. An older file is upgraded in
//! one transaction when it is opened, after its key unwrapped: version 1 gains the `policy` and
//! `velocity` tables, version 2 the `epochs` table. Tables:
//!
//! | table | plain columns | sealed column holds |
//! |---|---|---|
//! | `meta` | vault id (16 random bytes), KDF kind and parameters, salt | `wrapped_dek`: the DEK sealed under the KEK |
//! | `identity` | — (one row) | the node identity secret |
//! | `settings` | setting name | the setting's value |
//! | `shares` | wallet id, epoch, `public_info` | the key share |
//! | `epochs` | wallet id | the wallet's committed epoch (4 bytes, big endian) |
//! | `aux` | group id (32 bytes) | cggmp24 auxiliary info |
//! | `presignatures` | id (32 bytes), wallet id | the presignature / nonce |
//! | `consumed_presignatures` | id, wallet id | — |
//! | `sessions` | session id | — |
//! | `requests` | request id, expiry | — |
//! | `policy` | kind (`bundle`, `mode`), version / sequence | the accepted `SignedBundle` / `ModeChange` JSON |
//! | `velocity` | request id, intent hash, asset, wallet id, time | the amount (base units, decimal) |
//!
//! **Sealing.** Every sealed value is `0x01 || nonce (24) || XChaCha20-Poly1305 ciphertext ||
//! tag (16)` under the data-encryption key (DEK), with a fresh random nonce on every write.
//! The AAD is `"tessera-vault/v1\0" || vault id || table || key columns`, each component
//! length-prefixed. A sealed blob moved to another row, another table or another vault fails to
//! open ([`VaultError::Corrupt`]). The share's AAD also covers its epoch and `public_info`, so
//! the plain `public_info` is authenticated too (`share` and `wallets` check it).
//!
//! **Epochs.** Every share has an epoch (a key generation stores epoch 0). A wallet has one
//! *committed* epoch — the share it signs with ([`Vault::share`]) — and may hold a *prepared*
//! next one ([`Vault::prepare_share`]), which an operation that makes new shares of the same key
//! (refresh, reshare) stores before every participant confirmed it, and then commits
//! ([`Vault::commit_epoch`]) or discards ([`Vault::discard_prepared`]). The committed epoch is
//! the sealed `epochs` row; a wallet without a row (written by schema version 2, which had no
//! prepared shares) has its highest epoch committed. Epochs only grow: a share is never stored
//! at or below the committed epoch.
//!
//! **Keys.** The DEK is 32 random bytes made at [`Vault::create`]. It is stored only wrapped
//! (sealed) under a key-encryption key (KEK), with an AAD binding the vault id and the KDF
//! description, so lowering the stored KDF parameters makes the unwrap fail. The KEK is either
//! Argon2id (v0x13, 16-byte random salt, parameters stored in `meta`, default m = 64 MiB, t = 3,
//! p = 1) over the operator passphrase, or the 32 bytes of a key file used directly. A failed
//! unwrap is reported as [`VaultError::WrongPassphrase`] and nothing is opened. The KEK, the DEK
//! and every opened secret live in `Zeroizing` buffers.
//!
//! **Locking.** [`Vault::open`] and [`Vault::create`] take an exclusive `flock` on the sidecar
//! file `<path>.lock` (never deleted) and run SQLite with `locking_mode = EXCLUSIVE`; a second
//! user gets [`VaultError::Locked`]. Both are released when the [`Vault`] is dropped.
//!
//! **Transactions.** Every mutating method is one `IMMEDIATE` transaction: it either happens
//! entirely or not at all (an error changes nothing), and once it returns `Ok` it is on disk.
//!
//! # Single use of presignatures
//!
//! [`Vault::take_presignature`] opens the sealed presignature, then in one transaction deletes
//! it and records its id in `consumed_presignatures`, commits, and only then hands the secret
//! out. A crash before the commit leaves the presignature unused and unreleased; a crash after
//! it leaves it consumed and gone: it is never released twice. A consumed id can never be stored
//! again ([`VaultError::PresignatureConsumed`]). A presignature whose seal does not open is
//! destroyed the same way ("on doubt, destroy") and reported as [`VaultError::Corrupt`].
//!
//! # Policy and velocity records
//!
//! Policy data is public, but its integrity decides what the signer signs, so it is sealed like
//! every other record. [`Vault::put_policy`] keeps one record per [`PolicyRecord`] kind and
//! refuses a version that is not strictly greater than the stored one
//! ([`VaultError::NotNewer`]), so the storage itself never moves a signer back to an older
//! bundle or mode change.
//!
//! The velocity ledger holds one [`VelocityEntry`] per (request id, intent hash, asset). It is
//! written only inside the transaction that marks a request done ([`Vault::complete_request`],
//! full signing) or consumes its presignature ([`Vault::take_presignature_for`], presigned
//! signing): a crash can neither leave a signature unrecorded nor record a request whose
//! presignature is still usable. Writing an entry that exists is a no-op, so the messages of one
//! request (which share its id and intent hash) count once. Entries older than
//! [`VELOCITY_RETENTION_SECS`] are pruned by the same transactions.
//!
//! # Threat model
//!
//! - An attacker with a copy of the file but not the passphrase or key file learns only what is
//!   plain: the vault id, KDF parameters, counts, wallet ids, epochs, the non-secret
//!   `public_info`, setting names, aux group ids, presignature / consumed / session / request
//!   ids and request expiries, the policy version and mode sequence, and of each velocity entry
//!   its request id, intent hash, asset, wallet and time. Secrets, setting values, the policy
//!   records and velocity amounts are sealed; guessing the passphrase costs one Argon2id
//!   evaluation per guess.
//! - An attacker who can write the file can destroy it or roll it back to an older copy; the
//!   vault does not detect a whole-file rollback (which could resurrect a consumed
//!   presignature at this signer; signing with it also needs the co-signers' copies, consumed
//!   in their own vaults, and [`Vault::destroy_presignatures`], which every epoch change
//!   runs, clears it). Deleting velocity rows (or rolling the
//!   file back) resets the velocity ledger, which only weakens a limit at this one signer.
//!   Swapping or altering sealed values is detected ([`VaultError::Corrupt`]); triggers or
//!   views planted in the schema are refused at open.
//! - Deleted records are overwritten by SQLite's `secure_delete`, but copies may survive in
//!   the file system or on the device; they remain sealed under the DEK.
//! - Errors and `Debug` output never contain secret bytes, the passphrase or key-file bytes.

#![forbid(unsafe_code)]

mod seal;
mod shares;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use zeroize::Zeroizing;

use seal::{SealKey, KEY_LEN, SALT_LEN, VAULT_ID_LEN};

pub use zeroize;

/// `PRAGMA application_id` of a Tessera vault ("TSSV").
pub const APPLICATION_ID: i32 = 0x5453_5356;
/// The schema version this build writes and the highest it opens.
pub const SCHEMA_VERSION: u32 = 3;
/// How long velocity entries are kept (seconds before `now`): 366 days, the longest window a
/// velocity rule may have (`tessera_policy::MAX_WINDOW_S`; the node checks they agree).
pub const VELOCITY_RETENTION_SECS: u64 = 366 * 86_400;

const KDF_ARGON2ID: &str = "argon2id";
const KDF_KEYFILE: &str = "keyfile";
const T_META: &str = "meta";
const T_IDENTITY: &str = "identity";
const T_SETTINGS: &str = "settings";
const T_SHARES: &str = "shares";
const T_AUX: &str = "aux";
const T_PRESIG: &str = "presignatures";
const T_POLICY: &str = "policy";
const T_VELOCITY: &str = "velocity";
const T_EPOCHS: &str = "epochs";
/// Seconds after expiry that a request id stays in the replay ledger.
const REQUEST_RETENTION_SECS: u64 = 86_400;

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value NOT NULL);
CREATE TABLE identity (slot INTEGER PRIMARY KEY CHECK (slot = 0), sealed BLOB NOT NULL);
CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, sealed BLOB NOT NULL);
CREATE TABLE shares (
    wallet_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    public_info TEXT NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (wallet_id, epoch)
);
CREATE TABLE aux (group_id BLOB PRIMARY KEY NOT NULL, sealed BLOB NOT NULL);
CREATE TABLE presignatures (id BLOB PRIMARY KEY NOT NULL, wallet_id TEXT NOT NULL, sealed BLOB NOT NULL);
CREATE INDEX presignatures_wallet ON presignatures (wallet_id);
CREATE TABLE consumed_presignatures (id BLOB PRIMARY KEY NOT NULL, wallet_id TEXT NOT NULL);
CREATE TABLE sessions (id BLOB PRIMARY KEY NOT NULL);
CREATE TABLE requests (request_id TEXT PRIMARY KEY NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX requests_expiry ON requests (expires_at);
";

/// Tables added by schema version 2 (created with a new vault, or by the upgrade of a version 1
/// vault at open).
const SCHEMA_V2: &str = "
CREATE TABLE policy (kind TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, sealed BLOB NOT NULL);
CREATE TABLE velocity (
    request_id TEXT NOT NULL,
    intent_hash BLOB NOT NULL,
    asset TEXT NOT NULL,
    wallet_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (request_id, intent_hash, asset)
);
CREATE INDEX velocity_wallet ON velocity (wallet_id, at);
CREATE INDEX velocity_at ON velocity (at);
";

/// Added by schema version 3: the committed epoch of each wallet (sealed). `IF NOT EXISTS`
/// because an upgrade from version 1 runs it after a fresh table set.
const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS epochs (wallet_id TEXT PRIMARY KEY NOT NULL, sealed BLOB NOT NULL);
";

/// How the vault's key-encryption key is obtained.
#[derive(Clone)]
pub enum Unlock {
    /// An operator passphrase, stretched with Argon2id.
    Passphrase(Zeroizing<String>),
    /// A file holding exactly 32 random bytes (see [`generate_key_file`]).
    KeyFile(PathBuf),
}

impl Unlock {
    /// Convenience constructor for [`Unlock::Passphrase`].
    pub fn passphrase(passphrase: impl Into<String>) -> Self {
        Unlock::Passphrase(Zeroizing::new(passphrase.into()))
    }
}

impl fmt::Debug for Unlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unlock::Passphrase(_) => f.write_str("Passphrase([REDACTED])"),
            Unlock::KeyFile(path) => f.debug_tuple("KeyFile").field(path).finish(),
        }
    }
}

/// Argon2id cost parameters, stored in the vault at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    /// m = 64 MiB, t = 3, p = 1.
    fn default() -> Self {
        Self {
            m_kib: 64 * 1024,
            t: 3,
            p: 1,
        }
    }
}

impl KdfParams {
    /// Tiny parameters (256 KiB, 1 pass) that make tests fast. Offer no protection against
    /// passphrase guessing: never use them for a real vault.
    pub fn insecure_for_tests() -> Self {
        Self {
            m_kib: 256,
            t: 1,
            p: 1,
        }
    }
}

/// A key share as stored: the committed epoch unless asked otherwise.
pub struct StoredShare {
    pub wallet_id: String,
    pub epoch: u32,
    pub share: Zeroizing<Vec<u8>>,
    pub public_info: String,
}

impl fmt::Debug for StoredShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredShare")
            .field("wallet_id", &self.wallet_id)
            .field("epoch", &self.epoch)
            .field("share", &"[REDACTED]")
            .field("public_info", &self.public_info)
            .finish()
    }
}

/// A wallet held by this vault (its committed epoch), without secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletRecord {
    pub wallet_id: String,
    /// The committed epoch: the share this signer signs with.
    pub epoch: u32,
    /// The public info stored with the committed share.
    pub public_info: String,
    /// A prepared next epoch not committed yet ([`Vault::prepare_share`]), if any.
    pub prepared_epoch: Option<u32>,
}

/// Which policy record ([`Vault::put_policy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRecord {
    /// The accepted policy bundle (`tessera_policy::SignedBundle` JSON); version: the bundle's.
    Bundle,
    /// The accepted mode change (`tessera_policy::ModeChange` JSON); version: its sequence.
    ModeChange,
    /// The accepted admin-signed freshness statement (`tessera_policy::Freshness` JSON);
    /// version: its `issued_at`.
    Freshness,
}

impl PolicyRecord {
    fn key(self) -> &'static str {
        match self {
            PolicyRecord::Bundle => "bundle",
            PolicyRecord::ModeChange => "mode",
            PolicyRecord::Freshness => "freshness",
        }
    }
}

/// A stored policy record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    /// Bundle version or mode-change sequence.
    pub version: u64,
    /// The JSON as accepted.
    pub json: String,
}

/// One velocity-ledger entry: what a request this signer signed moved of one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VelocityEntry {
    /// The request id (of the requester's authorization).
    pub request_id: String,
    /// The intent hash the request was authorized and approved for.
    pub intent_hash: [u8; 32],
    /// Wallet.
    pub wallet_id: String,
    /// Asset id (`chain:network:native|<contract>`).
    pub asset: String,
    /// Amount in base units, canonical decimal (digits only).
    pub amount: String,
    /// When it was evaluated and signed, unix seconds.
    pub at_unix: u64,
}

/// Everything that can go wrong. Messages never contain secret bytes or the passphrase.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("wrong passphrase or key file")]
    WrongPassphrase,
    #[error("not a Tessera vault")]
    NotAVault,
    #[error("vault schema version {0} is newer than this build supports ({SCHEMA_VERSION})")]
    UnsupportedVersion(u32),
    #[error("vault is in use by another process")]
    Locked,
    #[error("vault record failed its integrity check: {0}")]
    Corrupt(String),
    #[error("presignature was already consumed")]
    PresignatureConsumed,
    #[error("session id was used before")]
    SessionReused,
    #[error("request id was seen before")]
    RequestReplayed,
    /// A policy record not newer than the stored one ([`Vault::put_policy`]).
    #[error("version {offered} is not newer than the stored version {current}")]
    NotNewer {
        /// Stored version.
        current: u64,
        /// Offered version.
        offered: u64,
    },
    #[error("storage error: {0}")]
    Storage(String),
    #[error("key file: {0}")]
    KeyFile(String),
    /// An argument was refused before anything was touched (empty passphrase, out-of-range KDF
    /// parameters, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl From<rusqlite::Error> for VaultError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => VaultError::Locked,
            Some(ErrorCode::NotADatabase) => VaultError::NotAVault,
            _ => VaultError::Storage(e.to_string()),
        }
    }
}

impl From<tessera_sqlite::FileError> for VaultError {
    fn from(e: tessera_sqlite::FileError) -> Self {
        match e {
            tessera_sqlite::FileError::Locked(_) => VaultError::Locked,
            tessera_sqlite::FileError::Sqlite(e) => e.into(),
            other => VaultError::Storage(other.to_string()),
        }
    }
}

/// How long opening waits for a vault lock that another handle is just releasing.
const LOCK_PATIENCE: Duration = Duration::from_secs(1);

fn io_storage(what: &str, path: &Path, e: std::io::Error) -> VaultError {
    VaultError::Storage(format!("{what} {}: {e}", path.display()))
}

/// Writes a new key file of 32 random bytes with mode 0600. Refuses to overwrite an existing
/// file ([`VaultError::AlreadyExists`]).
pub fn generate_key_file(path: &Path) -> Result<(), VaultError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    seal::random_bytes(&mut *key)?;
    let mut file = create_new_private(path).map_err(|e| match e.kind() {
        ErrorKind::AlreadyExists => VaultError::AlreadyExists,
        _ => VaultError::KeyFile(format!("cannot create {}: {e}", path.display())),
    })?;
    let written = file.write_all(&*key).and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(VaultError::KeyFile(format!(
            "cannot write {}: {e}",
            path.display()
        )));
    }
    tessera_sqlite::sync_parent(path);
    Ok(())
}

fn create_new_private(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Best effort: makes a newly created directory entry durable.
fn read_key_file(path: &Path) -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
    let mut file = File::open(path)
        .map_err(|e| VaultError::KeyFile(format!("cannot open {}: {e}", path.display())))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    file.read_exact(&mut *key).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => VaultError::KeyFile(format!(
            "{} is shorter than {KEY_LEN} bytes",
            path.display()
        )),
        _ => VaultError::KeyFile(format!("cannot read {}: {e}", path.display())),
    })?;
    let mut extra = [0u8; 1];
    match file.read(&mut extra) {
        Ok(0) => Ok(key),
        Ok(_) => Err(VaultError::KeyFile(format!(
            "{} is longer than {KEY_LEN} bytes",
            path.display()
        ))),
        Err(e) => Err(VaultError::KeyFile(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// What is stored about the KEK derivation; also bound into the wrapped DEK's AAD.
enum Kdf {
    Argon2id {
        params: KdfParams,
        salt: [u8; SALT_LEN],
    },
    KeyFile,
}

impl Kdf {
    fn describe(&self) -> Vec<u8> {
        match self {
            Kdf::Argon2id { params, salt } => {
                let mut d = format!(
                    "{KDF_ARGON2ID}:v19:m={},t={},p={}:",
                    params.m_kib, params.t, params.p
                )
                .into_bytes();
                d.extend_from_slice(salt);
                d
            }
            Kdf::KeyFile => KDF_KEYFILE.as_bytes().to_vec(),
        }
    }

    /// Derives the KEK. A mismatch between the stored kind and `unlock` is a wrong secret.
    fn kek(&self, unlock: &Unlock) -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
        match (self, unlock) {
            (Kdf::Argon2id { params, salt }, Unlock::Passphrase(pass)) => {
                let p = seal::argon2_params(params).map_err(VaultError::Corrupt)?;
                seal::derive_kek(pass.as_bytes(), salt, p)
            }
            (Kdf::KeyFile, Unlock::KeyFile(path)) => read_key_file(path),
            (Kdf::Argon2id { .. }, Unlock::KeyFile(path)) => {
                // Still read it, so an unreadable key file is reported as such.
                read_key_file(path)?;
                Err(VaultError::WrongPassphrase)
            }
            (Kdf::KeyFile, Unlock::Passphrase(_)) => Err(VaultError::WrongPassphrase),
        }
    }
}

fn dek_aad(vault_id: &[u8; VAULT_ID_LEN], kdf: &Kdf) -> Vec<u8> {
    seal::aad(vault_id, T_META, &[b"wrapped_dek", &kdf.describe()])
}

/// The encrypted vault. Holds the exclusive lock until dropped. `Send`, not `Sync`.
pub struct Vault {
    // Field order is drop order: the connection closes before the lock is released.
    conn: Connection,
    dek: SealKey,
    vault_id: [u8; VAULT_ID_LEN],
    path: PathBuf,
    _lock: File,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("vault_id", &hex::encode(self.vault_id))
            .field("dek", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

fn meta_blob(conn: &Connection, key: &str) -> Result<Vec<u8>, VaultError> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
        r.get::<_, Vec<u8>>(0)
    })
    .optional()?
    .ok_or_else(|| VaultError::Corrupt(format!("vault metadata `{key}` missing")))
}

fn meta_u32(conn: &Connection, key: &str) -> Result<u32, VaultError> {
    let v: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?;
    v.and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| VaultError::Corrupt(format!("vault metadata `{key}` missing or invalid")))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Upgrades an older schema in one transaction (on error nothing changes).
fn upgrade(conn: &mut Connection, from: u32) -> Result<(), VaultError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if from < 2 {
        tx.execute_batch(SCHEMA_V2)?;
    }
    if from < 3 {
        tx.execute_batch(SCHEMA_V3)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

impl Vault {
    /// Creates a new vault at `path` (which must not exist) and returns it open and locked.
    /// On failure nothing is left behind at `path` (the `.lock` sidecar may remain).
    pub fn create(path: &Path, unlock: &Unlock, kdf: KdfParams) -> Result<Vault, VaultError> {
        // Validate and derive everything before touching the file system.
        let mut vault_id = [0u8; VAULT_ID_LEN];
        seal::random_bytes(&mut vault_id)?;
        let (kind, kek) = match unlock {
            Unlock::Passphrase(pass) => {
                if pass.is_empty() {
                    return Err(VaultError::InvalidInput("empty passphrase".into()));
                }
                let params = seal::argon2_params(&kdf).map_err(VaultError::InvalidInput)?;
                let mut salt = [0u8; SALT_LEN];
                seal::random_bytes(&mut salt)?;
                let kek = seal::derive_kek(pass.as_bytes(), &salt, params)?;
                (Kdf::Argon2id { params: kdf, salt }, kek)
            }
            Unlock::KeyFile(kp) => (Kdf::KeyFile, read_key_file(kp)?),
        };
        let mut dek_bytes = Zeroizing::new([0u8; KEY_LEN]);
        seal::random_bytes(&mut *dek_bytes)?;
        let wrapped = SealKey::new(&kek).seal(&dek_aad(&vault_id, &kind), &*dek_bytes)?;
        drop(kek);

        if fs::symlink_metadata(path).is_ok() {
            return Err(VaultError::AlreadyExists);
        }
        let lock = tessera_sqlite::acquire_lock(path, LOCK_PATIENCE)?;
        // Claim the path atomically; SQLite then opens the empty file as a new database.
        let file = create_new_private(path).map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => VaultError::AlreadyExists,
            _ => io_storage("cannot create", path, e),
        })?;
        drop(file);

        let result = (|| {
            let mut conn = tessera_sqlite::connect(path)?;
            tessera_sqlite::configure_durability(&conn, true)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(SCHEMA_V2)?;
            tx.execute_batch(SCHEMA_V3)?;
            {
                let mut ins = tx.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)")?;
                ins.execute(params!["vault_id", &vault_id[..]])?;
                ins.execute(params!["wrapped_dek", &wrapped])?;
                match &kind {
                    Kdf::Argon2id { params, salt } => {
                        ins.execute(params!["kdf", KDF_ARGON2ID])?;
                        ins.execute(params!["kdf_m_kib", params.m_kib])?;
                        ins.execute(params!["kdf_t", params.t])?;
                        ins.execute(params!["kdf_p", params.p])?;
                        ins.execute(params!["kdf_salt", &salt[..]])?;
                    }
                    Kdf::KeyFile => {
                        ins.execute(params!["kdf", KDF_KEYFILE])?;
                    }
                }
            }
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
            Ok(conn)
        })();
        match result {
            Ok(conn) => {
                tessera_sqlite::sync_parent(path);
                Ok(Vault {
                    conn,
                    dek: SealKey::new(&dek_bytes),
                    vault_id,
                    path: path.to_path_buf(),
                    _lock: lock,
                })
            }
            Err(e) => {
                // We created the file and still hold the lock: remove the half-made vault.
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = fs::remove_file(PathBuf::from(p));
                }
                Err(e)
            }
        }
    }

    /// Opens an existing vault. Either the whole vault is opened (lock held, DEK unwrapped) or
    /// an error is returned and nothing stays open.
    pub fn open(path: &Path, unlock: &Unlock) -> Result<Vault, VaultError> {
        match fs::metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(VaultError::NotFound),
            Err(e) => return Err(io_storage("cannot stat", path, e)),
        }
        let lock = tessera_sqlite::acquire_lock(path, LOCK_PATIENCE)?;

        // Refuse anything that is not a SQLite file before SQLite touches it.
        let mut header = [0u8; 16];
        File::open(path)
            .and_then(|mut f| f.read_exact(&mut header))
            .map_err(|e| match e.kind() {
                ErrorKind::UnexpectedEof => VaultError::NotAVault,
                _ => io_storage("cannot read", path, e),
            })?;
        if &header != b"SQLite format 3\0" {
            return Err(VaultError::NotAVault);
        }

        let mut conn = tessera_sqlite::connect(path)?;
        let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        if app_id != APPLICATION_ID {
            return Err(VaultError::NotAVault);
        }
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let version = u32::try_from(version).map_err(|_| VaultError::NotAVault)?;
        if version == 0 {
            return Err(VaultError::NotAVault);
        }
        if version > SCHEMA_VERSION {
            return Err(VaultError::UnsupportedVersion(version));
        }
        let planted: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type IN ('trigger', 'view')",
            [],
            |r| r.get(0),
        )?;
        if planted != 0 {
            return Err(VaultError::Corrupt(
                "unexpected triggers or views in the vault schema".into(),
            ));
        }

        let vault_id: [u8; VAULT_ID_LEN] = meta_blob(&conn, "vault_id")?
            .try_into()
            .map_err(|_| VaultError::Corrupt("vault id has the wrong length".into()))?;
        let kind: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'kdf'", [], |r| r.get(0))
            .optional()?
            .ok_or_else(|| VaultError::Corrupt("vault metadata `kdf` missing".into()))?;
        let kdf = match kind.as_str() {
            KDF_ARGON2ID => Kdf::Argon2id {
                params: KdfParams {
                    m_kib: meta_u32(&conn, "kdf_m_kib")?,
                    t: meta_u32(&conn, "kdf_t")?,
                    p: meta_u32(&conn, "kdf_p")?,
                },
                salt: meta_blob(&conn, "kdf_salt")?
                    .try_into()
                    .map_err(|_| VaultError::Corrupt("KDF salt has the wrong length".into()))?,
            },
            KDF_KEYFILE => Kdf::KeyFile,
            _ => return Err(VaultError::Corrupt("unknown KDF kind".into())),
        };
        let wrapped = meta_blob(&conn, "wrapped_dek")?;

        let kek = kdf.kek(unlock)?;
        let dek_plain = SealKey::new(&kek)
            .open(&dek_aad(&vault_id, &kdf), &wrapped)
            .ok_or(VaultError::WrongPassphrase)?;
        let dek_bytes: Zeroizing<[u8; KEY_LEN]> = Zeroizing::new(
            dek_plain
                .as_slice()
                .try_into()
                .map_err(|_| VaultError::Corrupt("wrapped DEK has the wrong length".into()))?,
        );
        drop(dek_plain);

        tessera_sqlite::configure_durability(&conn, true)?;
        if version < SCHEMA_VERSION {
            upgrade(&mut conn, version)?;
        }
        Ok(Vault {
            conn,
            dek: SealKey::new(&dek_bytes),
            vault_id,
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The vault file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The vault's random id (hex), bound into every sealed record.
    pub fn vault_id(&self) -> String {
        hex::encode(self.vault_id)
    }

    fn aad(&self, table: &str, parts: &[&[u8]]) -> Vec<u8> {
        seal::aad(&self.vault_id, table, parts)
    }

    fn open_sealed(
        &self,
        aad: &[u8],
        sealed: &[u8],
        what: impl FnOnce() -> String,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.dek
            .open(aad, sealed)
            .ok_or_else(|| VaultError::Corrupt(what()))
    }

    fn immediate(&mut self) -> Result<rusqlite::Transaction<'_>, VaultError> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    // ---- node identity -------------------------------------------------------------------

    /// Stores (or replaces) the node identity secret.
    pub fn put_identity(&mut self, secret: &[u8]) -> Result<(), VaultError> {
        let sealed = self.dek.seal(&self.aad(T_IDENTITY, &[]), secret)?;
        let tx = self.immediate()?;
        tx.execute(
            "INSERT INTO identity (slot, sealed) VALUES (0, ?1)
             ON CONFLICT (slot) DO UPDATE SET sealed = excluded.sealed",
            [&sealed],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The node identity secret, if one was stored.
    pub fn identity(&self) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT sealed FROM identity WHERE slot = 0", [], |r| {
                r.get(0)
            })
            .optional()?;
        sealed
            .map(|s| {
                self.open_sealed(&self.aad(T_IDENTITY, &[]), &s, || {
                    "node identity".to_string()
                })
            })
            .transpose()
    }

    // ---- settings --------------------------------------------------------------------------

    /// Stores (or replaces) a setting. Values are sealed too, so they are tamper-evident
    /// (trusted operator keys live here).
    pub fn put_setting(&mut self, key: &str, value: &str) -> Result<(), VaultError> {
        let sealed = self
            .dek
            .seal(&self.aad(T_SETTINGS, &[key.as_bytes()]), value.as_bytes())?;
        let tx = self.immediate()?;
        tx.execute(
            "INSERT INTO settings (key, sealed) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed",
            params![key, sealed],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A setting's value, if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>, VaultError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT sealed FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let what = || format!("setting `{key}`");
        let plain = self.open_sealed(&self.aad(T_SETTINGS, &[key.as_bytes()]), &sealed, what)?;
        String::from_utf8(plain.to_vec())
            .map(Some)
            .map_err(|_| VaultError::Corrupt(what()))
    }

    // ---- aux info --------------------------------------------------------------------------

    /// Stores (or replaces) the auxiliary info of a signer group.
    pub fn put_aux(&mut self, group: &[u8; 32], aux: &[u8]) -> Result<(), VaultError> {
        let sealed = self.dek.seal(&self.aad(T_AUX, &[group]), aux)?;
        let tx = self.immediate()?;
        tx.execute(
            "INSERT INTO aux (group_id, sealed) VALUES (?1, ?2)
             ON CONFLICT (group_id) DO UPDATE SET sealed = excluded.sealed",
            params![&group[..], sealed],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The ids of every signer group with stored auxiliary info, sorted.
    pub fn aux_groups(&self) -> Result<Vec<[u8; 32]>, VaultError> {
        let mut stmt = self
            .conn
            .prepare("SELECT group_id FROM aux ORDER BY group_id")?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(
                row?.try_into()
                    .map_err(|_| VaultError::Corrupt("aux group id length".into()))?,
            );
        }
        Ok(out)
    }

    /// The auxiliary info of a signer group.
    pub fn aux(&self, group: &[u8; 32]) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT sealed FROM aux WHERE group_id = ?1",
                [&group[..]],
                |r| r.get(0),
            )
            .optional()?;
        sealed
            .map(|s| {
                self.open_sealed(&self.aad(T_AUX, &[group]), &s, || {
                    format!("aux info of group {}", hex::encode(group))
                })
            })
            .transpose()
    }

    // ---- presignatures ---------------------------------------------------------------------

    fn presig_aad(&self, wallet_id: &str, id: &[u8; 32]) -> Vec<u8> {
        self.aad(T_PRESIG, &[wallet_id.as_bytes(), id])
    }

    /// Stores a presignature / nonce. [`VaultError::PresignatureConsumed`] if the id was ever
    /// consumed, [`VaultError::AlreadyExists`] if it is stored (for any wallet).
    pub fn put_presignature(
        &mut self,
        wallet_id: &str,
        id: &[u8; 32],
        secret: &[u8],
    ) -> Result<(), VaultError> {
        let sealed = self.dek.seal(&self.presig_aad(wallet_id, id), secret)?;
        let tx = self.immediate()?;
        if is_consumed_in(&tx, id)? {
            return Err(VaultError::PresignatureConsumed);
        }
        let inserted = tx.execute(
            "INSERT INTO presignatures (id, wallet_id, sealed) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO NOTHING",
            params![&id[..], wallet_id, sealed],
        )?;
        if inserted == 0 {
            return Err(VaultError::AlreadyExists);
        }
        tx.commit()?;
        Ok(())
    }

    /// In ONE transaction: deletes the sealed record AND inserts `id` into the consumed table;
    /// only after commit returns the secret. A crash after commit means the presignature is
    /// gone (destroyed, never reused). Errors: PresignatureConsumed (id was consumed before),
    /// NotFound (no such id for this wallet). A presignature whose seal fails to open is
    /// destroyed and consumed all the same and reported as [`VaultError::Corrupt`].
    pub fn take_presignature(
        &mut self,
        wallet_id: &str,
        id: &[u8; 32],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let aad = self.presig_aad(wallet_id, id);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let sealed = consume_in(&tx, wallet_id, id)?;
        tx.commit()?;
        self.dek.open(&aad, &sealed).ok_or_else(|| {
            VaultError::Corrupt(format!(
                "presignature {} of wallet `{wallet_id}` (destroyed)",
                hex::encode(id)
            ))
        })
    }

    /// The presigned-signing step of a signer in ONE transaction (one fsync): records
    /// `session_id` (refused with [`VaultError::SessionReused`] if seen), records `request_key`
    /// (refused with [`VaultError::RequestReplayed`] if seen), writes the request's `velocity`
    /// entries (an entry already there is kept as is) and prunes those older than
    /// [`VELOCITY_RETENTION_SECS`] before `now_unix`, and consumes the presignature as
    /// [`take_presignature`](Self::take_presignature) does. On any error nothing changes.
    #[allow(clippy::too_many_arguments)]
    pub fn take_presignature_for(
        &mut self,
        wallet_id: &str,
        id: &[u8; 32],
        session_id: &[u8; 32],
        request_key: &str,
        expires_at: u64,
        now_unix: u64,
        velocity: &[VelocityEntry],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let aad = self.presig_aad(wallet_id, id);
        let sealed_velocity = self.seal_velocity(velocity)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if tx.execute(
            "INSERT INTO sessions (id) VALUES (?1) ON CONFLICT (id) DO NOTHING",
            [&session_id[..]],
        )? == 0
        {
            return Err(VaultError::SessionReused);
        }
        if tx.execute(
            "INSERT INTO requests (request_id, expires_at) VALUES (?1, ?2)
             ON CONFLICT (request_id) DO NOTHING",
            params![request_key, to_i64(expires_at)],
        )? == 0
        {
            return Err(VaultError::RequestReplayed);
        }
        write_velocity_in(&tx, velocity, &sealed_velocity, now_unix)?;
        let sealed = consume_in(&tx, wallet_id, id)?;
        tx.commit()?;
        self.dek.open(&aad, &sealed).ok_or_else(|| {
            VaultError::Corrupt(format!(
                "presignature {} of wallet `{wallet_id}` (destroyed)",
                hex::encode(id)
            ))
        })
    }

    /// Whether `id` was ever consumed (taken or destroyed).
    pub fn is_consumed(&self, id: &[u8; 32]) -> Result<bool, VaultError> {
        is_consumed_in(&self.conn, id)
    }

    /// Ids of the stored (unconsumed) presignatures of a wallet, oldest first.
    pub fn presignature_ids(&self, wallet_id: &str) -> Result<Vec<[u8; 32]>, VaultError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM presignatures WHERE wallet_id = ?1 ORDER BY rowid")?;
        let rows = stmt.query_map([wallet_id], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for row in rows {
            let id: [u8; 32] = row?
                .try_into()
                .map_err(|_| VaultError::Corrupt("presignature id has the wrong length".into()))?;
            out.push(id);
        }
        Ok(out)
    }

    /// Destroys (and marks consumed) every stored presignature of a wallet, e.g. when the
    /// coordinator's pool and ours disagree. Returns how many.
    pub fn destroy_presignatures(&mut self, wallet_id: &str) -> Result<usize, VaultError> {
        let tx = self.immediate()?;
        tx.execute(
            "INSERT OR IGNORE INTO consumed_presignatures (id, wallet_id)
             SELECT id, wallet_id FROM presignatures WHERE wallet_id = ?1",
            [wallet_id],
        )?;
        let n = tx.execute(
            "DELETE FROM presignatures WHERE wallet_id = ?1",
            [wallet_id],
        )?;
        tx.commit()?;
        Ok(n)
    }

    // ---- replay ledgers --------------------------------------------------------------------

    /// Records a session id; [`VaultError::SessionReused`] if it was recorded before.
    pub fn record_session(&mut self, session_id: &[u8; 32]) -> Result<(), VaultError> {
        let tx = self.immediate()?;
        let inserted = tx.execute(
            "INSERT INTO sessions (id) VALUES (?1) ON CONFLICT (id) DO NOTHING",
            [&session_id[..]],
        )?;
        if inserted == 0 {
            return Err(VaultError::SessionReused);
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a request id; [`VaultError::RequestReplayed`] if it was recorded before. Also
    /// prunes entries that expired more than a day before `now_unix` (an expired request is
    /// refused elsewhere anyway). On error nothing changes, the pruning included.
    pub fn record_request(
        &mut self,
        request_id: &str,
        expires_at: u64,
        now_unix: u64,
    ) -> Result<(), VaultError> {
        let cutoff = to_i64(now_unix.saturating_sub(REQUEST_RETENTION_SECS));
        let tx = self.immediate()?;
        tx.execute("DELETE FROM requests WHERE expires_at < ?1", [cutoff])?;
        let inserted = tx.execute(
            "INSERT INTO requests (request_id, expires_at) VALUES (?1, ?2)
             ON CONFLICT (request_id) DO NOTHING",
            params![request_id, to_i64(expires_at)],
        )?;
        if inserted == 0 {
            return Err(VaultError::RequestReplayed);
        }
        tx.commit()?;
        Ok(())
    }
}

impl Vault {
    /// The full-signing step of a signer once its signature exists and before it is released,
    /// in ONE transaction: records `request_key` as [`record_request`](Self::record_request)
    /// does (refused with [`VaultError::RequestReplayed`] if seen, pruning expired ids), writes
    /// the request's `velocity` entries (an entry already there is kept as is) and prunes
    /// those older than [`VELOCITY_RETENTION_SECS`] before `now_unix`. On error nothing
    /// changes.
    pub fn complete_request(
        &mut self,
        request_key: &str,
        expires_at: u64,
        now_unix: u64,
        velocity: &[VelocityEntry],
    ) -> Result<(), VaultError> {
        let sealed_velocity = self.seal_velocity(velocity)?;
        let cutoff = to_i64(now_unix.saturating_sub(REQUEST_RETENTION_SECS));
        let tx = self.immediate()?;
        tx.execute("DELETE FROM requests WHERE expires_at < ?1", [cutoff])?;
        let inserted = tx.execute(
            "INSERT INTO requests (request_id, expires_at) VALUES (?1, ?2)
             ON CONFLICT (request_id) DO NOTHING",
            params![request_key, to_i64(expires_at)],
        )?;
        if inserted == 0 {
            return Err(VaultError::RequestReplayed);
        }
        write_velocity_in(&tx, velocity, &sealed_velocity, now_unix)?;
        tx.commit()?;
        Ok(())
    }

    // ---- velocity ledger -------------------------------------------------------------------

    fn velocity_aad(&self, e: &VelocityEntry) -> Vec<u8> {
        self.aad(
            T_VELOCITY,
            &[
                e.request_id.as_bytes(),
                &e.intent_hash,
                e.asset.as_bytes(),
                e.wallet_id.as_bytes(),
                &e.at_unix.to_be_bytes(),
            ],
        )
    }

    /// Checks and seals the amounts of `entries` (before any transaction starts).
    fn seal_velocity(&self, entries: &[VelocityEntry]) -> Result<Vec<Vec<u8>>, VaultError> {
        entries
            .iter()
            .map(|e| {
                let digits = !e.amount.is_empty() && e.amount.bytes().all(|b| b.is_ascii_digit());
                if !digits || e.request_id.is_empty() || e.asset.is_empty() {
                    return Err(VaultError::InvalidInput(format!(
                        "velocity entry for request `{}` and asset `{}`: amount must be decimal \
                         digits, request id and asset non-empty",
                        e.request_id, e.asset
                    )));
                }
                if i64::try_from(e.at_unix).is_err() {
                    return Err(VaultError::InvalidInput("velocity entry time".into()));
                }
                self.dek.seal(&self.velocity_aad(e), e.amount.as_bytes())
            })
            .collect()
    }

    /// The velocity entries of `wallet_id` recorded at or after `since_unix` (every asset),
    /// oldest first. Each amount's seal is checked ([`VaultError::Corrupt`]).
    pub fn velocity_entries(
        &self,
        wallet_id: &str,
        since_unix: u64,
    ) -> Result<Vec<VelocityEntry>, VaultError> {
        self.read_velocity(
            "SELECT request_id, intent_hash, asset, wallet_id, at, sealed FROM velocity
             WHERE wallet_id = ?1 AND at >= ?2 ORDER BY at, request_id, intent_hash, asset",
            params![wallet_id, to_i64(since_unix)],
        )
    }

    /// The velocity entries of request `request_id` authorized for `intent_hash` (written by
    /// an earlier message of the request, and not yet pruned), by asset. Seals checked.
    pub fn request_velocity(
        &self,
        request_id: &str,
        intent_hash: &[u8; 32],
    ) -> Result<Vec<VelocityEntry>, VaultError> {
        self.read_velocity(
            "SELECT request_id, intent_hash, asset, wallet_id, at, sealed FROM velocity
             WHERE request_id = ?1 AND intent_hash = ?2 ORDER BY asset",
            params![request_id, &intent_hash[..]],
        )
    }

    fn read_velocity(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<VelocityEntry>, VaultError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(args, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Vec<u8>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (request_id, hash, asset, wallet_id, at, sealed) = row?;
            let what = || format!("velocity entry of request `{request_id}`");
            let intent_hash: [u8; 32] = hash.try_into().map_err(|_| VaultError::Corrupt(what()))?;
            let at_unix = u64::try_from(at).map_err(|_| VaultError::Corrupt(what()))?;
            let mut entry = VelocityEntry {
                request_id: request_id.clone(),
                intent_hash,
                wallet_id,
                asset,
                amount: String::new(),
                at_unix,
            };
            let plain = self.open_sealed(&self.velocity_aad(&entry), &sealed, what)?;
            entry.amount = String::from_utf8(plain.to_vec())
                .map_err(|_| VaultError::Corrupt(format!("velocity entry of `{request_id}`")))?;
            out.push(entry);
        }
        Ok(out)
    }

    // ---- policy ----------------------------------------------------------------------------

    fn policy_aad(&self, which: PolicyRecord, version: u64) -> Vec<u8> {
        self.aad(T_POLICY, &[which.key().as_bytes(), &version.to_be_bytes()])
    }

    /// Stores the accepted policy record `which` at `version` (bundle version, mode-change
    /// sequence), replacing the previous one. Refused with [`VaultError::NotNewer`] unless
    /// `version` is strictly greater than the stored one; versions above `i64::MAX` are
    /// [`VaultError::InvalidInput`].
    pub fn put_policy(
        &mut self,
        which: PolicyRecord,
        version: u64,
        json: &str,
    ) -> Result<(), VaultError> {
        let v = i64::try_from(version)
            .map_err(|_| VaultError::InvalidInput(format!("policy version {version}")))?;
        let sealed = self
            .dek
            .seal(&self.policy_aad(which, version), json.as_bytes())?;
        let tx = self.immediate()?;
        let current: Option<i64> = tx
            .query_row(
                "SELECT version FROM policy WHERE kind = ?1",
                [which.key()],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(c) = current {
            if c >= v {
                return Err(VaultError::NotNewer {
                    current: u64::try_from(c).unwrap_or(0),
                    offered: version,
                });
            }
        }
        tx.execute(
            "INSERT INTO policy (kind, version, sealed) VALUES (?1, ?2, ?3)
             ON CONFLICT (kind) DO UPDATE SET version = excluded.version, sealed = excluded.sealed",
            params![which.key(), v, sealed],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The stored policy record `which`, if any (its seal checked, [`VaultError::Corrupt`]).
    pub fn policy(&self, which: PolicyRecord) -> Result<Option<StoredPolicy>, VaultError> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT version, sealed FROM policy WHERE kind = ?1",
                [which.key()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((version, sealed)) = row else {
            return Ok(None);
        };
        let what = || format!("policy record `{}`", which.key());
        let version = u64::try_from(version).map_err(|_| VaultError::Corrupt(what()))?;
        let plain = self.open_sealed(&self.policy_aad(which, version), &sealed, what)?;
        let json = String::from_utf8(plain.to_vec()).map_err(|_| VaultError::Corrupt(what()))?;
        Ok(Some(StoredPolicy { version, json }))
    }

    /// Was `request_id` recorded (and not yet pruned)?
    pub fn has_request(&self, request_id: &str) -> Result<bool, VaultError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM requests WHERE request_id = ?1",
                [request_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

/// Writes velocity entries (keeping any already there) and prunes old ones, inside the
/// caller's transaction.
fn write_velocity_in(
    tx: &Connection,
    entries: &[VelocityEntry],
    sealed: &[Vec<u8>],
    now_unix: u64,
) -> Result<(), VaultError> {
    let cutoff = to_i64(now_unix.saturating_sub(VELOCITY_RETENTION_SECS));
    tx.execute("DELETE FROM velocity WHERE at < ?1", [cutoff])?;
    for (e, s) in entries.iter().zip(sealed) {
        tx.execute(
            "INSERT INTO velocity (request_id, intent_hash, asset, wallet_id, at, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (request_id, intent_hash, asset) DO NOTHING",
            params![
                e.request_id,
                &e.intent_hash[..],
                e.asset,
                e.wallet_id,
                to_i64(e.at_unix),
                s
            ],
        )?;
    }
    Ok(())
}

/// Deletes a stored presignature and marks it consumed (inside the caller's transaction);
/// returns its sealed bytes.
fn consume_in(tx: &Connection, wallet_id: &str, id: &[u8; 32]) -> Result<Vec<u8>, VaultError> {
    if is_consumed_in(tx, id)? {
        return Err(VaultError::PresignatureConsumed);
    }
    let sealed: Vec<u8> = tx
        .query_row(
            "SELECT sealed FROM presignatures WHERE id = ?1 AND wallet_id = ?2",
            params![&id[..], wallet_id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(VaultError::NotFound)?;
    tx.execute("DELETE FROM presignatures WHERE id = ?1", [&id[..]])?;
    tx.execute(
        "INSERT INTO consumed_presignatures (id, wallet_id) VALUES (?1, ?2)",
        params![&id[..], wallet_id],
    )?;
    Ok(sealed)
}

fn is_consumed_in(conn: &Connection, id: &[u8; 32]) -> Result<bool, VaultError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM consumed_presignatures WHERE id = ?1",
            [&id[..]],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn vault_is_send() {
        assert_send::<Vault>();
    }
}

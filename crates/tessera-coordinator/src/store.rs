//! The coordinator's durable state: enrolled signers, wallets, sessions, signing requests with
//! their lifecycle, the policy bundle and mode change in force, and the public halves of pooled
//! presignatures. Public data only — the coordinator never holds a secret share.
//!
//! [`Store`] is the interface; [`SqliteStore`] the embedded default. A PostgreSQL backend
//! implements the same trait.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use tessera_chains::Intent;
use tessera_crypto::PresignPublic;
use tessera_policy::Approval;
use tessera_proto::api::{
    CreateTransaction, PolicyOutcome, RequestState, SessionError, SessionInfo, SignRequest,
    TransactionInfo, WalletInfo,
};
use tessera_wire::{NodeId, PublicIdentity, SignedIdentity};

/// Store failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record exists already.
    #[error("already exists")]
    Conflict,
    /// Backend failure (IO, disk full, SQL).
    #[error("storage: {0}")]
    Backend(String),
    /// A stored row did not parse.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if f.code == rusqlite::ErrorCode::ConstraintViolation {
                return StoreError::Conflict;
            }
        }
        StoreError::Backend(e.to_string())
    }
}

/// An enrolled signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerRecord {
    /// Display name.
    pub name: String,
    /// Identity.
    pub identity: PublicIdentity,
    /// Self-signature binding the X25519 key (see `tessera_wire::SignedIdentity`).
    pub proof: [u8; 64],
}

/// A pooled presignature: its public half and the signers holding the secret halves.
#[derive(Debug, Clone)]
pub struct PoolEntry {
    /// Wallet.
    pub wallet_id: String,
    /// The public half (its id and signer set inside).
    pub public: PresignPublic,
}

/// What a signing request asks for: the client's request as submitted (with the requester's
/// signed authorization), kept so signing can start once the approvals are in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestBody {
    /// A chain payload (`POST /v1/wallets/{id}/transactions`).
    Transaction(CreateTransaction),
    /// A digest or message without chain payload (`POST /v1/wallets/{id}/signatures`).
    Sign(SignRequest),
}

/// One asset leg a signed request counts against the coordinator's velocity ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerLeg {
    /// `tessera_policy::AssetKey` in text form.
    pub asset: String,
    /// Base units, decimal.
    pub amount: String,
}

/// A signing request and where it is in its lifecycle (the coordinator's record; the API shows
/// it as a `RequestInfo`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Client request id (the authorization's); unique across wallets.
    pub request_id: String,
    /// Wallet.
    pub wallet_id: String,
    /// Lifecycle state.
    pub state: RequestState,
    /// The intent in plain language (a raw digest says so).
    pub summary: String,
    /// The intent, for chain payloads.
    pub intent: Option<Intent>,
    /// Intent hash (hex) approvals sign.
    pub intent_hash: String,
    /// Risk flags (snake_case).
    pub risk_flags: Vec<String>,
    /// The requester: the authorization's key (hex), the policy principal.
    pub requester: String,
    /// The coordinator's latest policy evaluation.
    pub policy: Option<PolicyOutcome>,
    /// Approvals and rejections received, in arrival order.
    pub approvals: Vec<Approval>,
    /// Expiry (unix seconds, the authorization's).
    pub expires_at: u64,
    /// Failure or refusal.
    pub error: Option<SessionError>,
    /// Velocity legs, counted once the request is signed.
    pub legs: Vec<LedgerLeg>,
    /// When it was signed (unix seconds).
    pub signed_at: Option<u64>,
    /// Received (ms since epoch).
    pub created_at_ms: u64,
    /// Last state change (ms since epoch).
    pub updated_at_ms: u64,
    /// The request as submitted.
    pub body: RequestBody,
}

impl RequestRecord {
    /// `transaction` or `sign`.
    pub fn kind(&self) -> &'static str {
        match self.body {
            RequestBody::Transaction(_) => "transaction",
            RequestBody::Sign(_) => "sign",
        }
    }
}

/// Durable coordinator state.
pub trait Store: Send + Sync + 'static {
    /// Enrolls a signer; `Conflict` if its node id is enrolled.
    fn add_signer(&self, s: &SignerRecord) -> Result<(), StoreError>;
    /// All enrolled signers.
    fn signers(&self) -> Result<Vec<SignerRecord>, StoreError>;
    /// Inserts a wallet; `Conflict` if the id exists.
    fn insert_wallet(&self, w: &WalletInfo) -> Result<(), StoreError>;
    /// Replaces a wallet record.
    fn update_wallet(&self, w: &WalletInfo) -> Result<(), StoreError>;
    /// One wallet.
    fn wallet(&self, id: &str) -> Result<Option<WalletInfo>, StoreError>;
    /// All wallets, oldest first.
    fn wallets(&self) -> Result<Vec<WalletInfo>, StoreError>;
    /// Inserts or replaces a session record.
    fn put_session(&self, s: &SessionInfo) -> Result<(), StoreError>;
    /// One session.
    fn session(&self, id: &str) -> Result<Option<SessionInfo>, StoreError>;
    /// Newest sessions first, at most `limit`, optionally of one wallet.
    fn sessions(&self, wallet: Option<&str>, limit: u32) -> Result<Vec<SessionInfo>, StoreError>;
    /// Every session still marked running (after a restart: the ones a previous run left).
    fn running_sessions(&self) -> Result<Vec<SessionInfo>, StoreError>;
    /// Adds a presignature's public half to a wallet's pool.
    fn pool_add(&self, e: &PoolEntry) -> Result<(), StoreError>;
    /// Removes and returns one pooled entry of `wallet` whose signers satisfy `usable`.
    /// Removal is the coordinator's single-use rule; signers enforce their own.
    fn pool_take(
        &self,
        wallet: &str,
        usable: &dyn Fn(&PresignPublic) -> bool,
    ) -> Result<Option<PoolEntry>, StoreError>;
    /// Entries pooled for `wallet`.
    fn pool_count(&self, wallet: &str) -> Result<u32, StoreError>;
    /// Drops every pooled entry of `wallet` (its shares changed); returns how many.
    fn pool_clear(&self, wallet: &str) -> Result<u32, StoreError>;
    /// Drops every pooled entry of `wallet` whose signers include party `index` (that signer
    /// lost its presignatures); returns how many.
    fn pool_drop_member(&self, wallet: &str, index: u16) -> Result<u32, StoreError>;
    /// Inserts a transaction request under `id`; `Conflict` if it exists.
    fn insert_transaction(&self, id: &str, t: &TransactionInfo) -> Result<(), StoreError>;
    /// Replaces a transaction request.
    fn put_transaction(&self, id: &str, t: &TransactionInfo) -> Result<(), StoreError>;
    /// One transaction request.
    fn transaction(&self, id: &str) -> Result<Option<TransactionInfo>, StoreError>;
    /// A wallet's transaction requests, newest first, at most `limit`.
    fn transactions(&self, wallet: &str, limit: u32) -> Result<Vec<TransactionInfo>, StoreError>;
    /// Inserts a signing request; `Conflict` if its request id exists (in any wallet).
    fn insert_request(&self, r: &RequestRecord) -> Result<(), StoreError>;
    /// Replaces a signing request.
    fn put_request(&self, r: &RequestRecord) -> Result<(), StoreError>;
    /// One signing request by request id.
    fn request(&self, request_id: &str) -> Result<Option<RequestRecord>, StoreError>;
    /// Signing requests, newest first, at most `limit`, optionally only those in `state`.
    fn requests(
        &self,
        state: Option<RequestState>,
        limit: u32,
    ) -> Result<Vec<RequestRecord>, StoreError>;
    /// Every signing request in `state` whose last change is at or after `since_ms`, oldest
    /// first.
    fn requests_changed_since(
        &self,
        state: RequestState,
        since_ms: u64,
    ) -> Result<Vec<RequestRecord>, StoreError>;
    /// A coordinator setting (`policy_bundle`, `mode_change`).
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores a setting.
    fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;
}

/// SQLite store (embedded default).
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS signers (node_id TEXT PRIMARY KEY, name TEXT NOT NULL, identity TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS wallets (wallet_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, wallet_id TEXT NOT NULL, created_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_by_time ON sessions (created_at DESC);
CREATE TABLE IF NOT EXISTS pool (id TEXT PRIMARY KEY, wallet_id TEXT NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS pool_by_wallet ON pool (wallet_id);
CREATE TABLE IF NOT EXISTS transactions (id TEXT PRIMARY KEY, wallet_id TEXT NOT NULL, created_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS transactions_by_wallet ON transactions (wallet_id, created_at DESC);
CREATE TABLE IF NOT EXISTS requests (request_id TEXT PRIMARY KEY, wallet_id TEXT NOT NULL, state TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS requests_by_state ON requests (state, created_at DESC);
CREATE INDEX IF NOT EXISTS requests_by_time ON requests (created_at DESC);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

const SCHEMA_VERSION: &str = "1";

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// An in-memory store (tests, simulation).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let version: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match version.as_deref() {
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?1)",
                    [SCHEMA_VERSION],
                )?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(StoreError::Corrupt(format!(
                    "store schema version {other} is not supported by this build"
                )))
            }
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store for SqliteStore {
    fn add_signer(&self, s: &SignerRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO signers (node_id, name, identity) VALUES (?1, ?2, ?3)",
            params![
                s.identity.node_id().to_string(),
                s.name,
                to_json(&SignedIdentity {
                    identity: s.identity,
                    proof: s.proof
                })?
            ],
        )?;
        Ok(())
    }

    fn signers(&self) -> Result<Vec<SignerRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, identity FROM signers ORDER BY rowid")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        rows.map(|r| {
            let (name, identity) = r?;
            let signed: SignedIdentity = from_json(&identity)?;
            Ok(SignerRecord {
                name,
                identity: signed.identity,
                proof: signed.proof,
            })
        })
        .collect()
    }

    fn insert_wallet(&self, w: &WalletInfo) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO wallets (wallet_id, created_at, body) VALUES (?1, ?2, ?3)",
            params![w.wallet_id, w.created_at_ms as i64, to_json(w)?],
        )?;
        Ok(())
    }

    fn update_wallet(&self, w: &WalletInfo) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE wallets SET body = ?2 WHERE wallet_id = ?1",
            params![w.wallet_id, to_json(w)?],
        )?;
        Ok(())
    }

    fn wallet(&self, id: &str) -> Result<Option<WalletInfo>, StoreError> {
        let body: Option<String> = self
            .conn()
            .query_row("SELECT body FROM wallets WHERE wallet_id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        body.map(|b| from_json(&b)).transpose()
    }

    fn wallets(&self) -> Result<Vec<WalletInfo>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT body FROM wallets ORDER BY created_at, wallet_id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| from_json(&r?)).collect()
    }

    fn put_session(&self, s: &SessionInfo) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO sessions (session_id, wallet_id, created_at, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (session_id) DO UPDATE SET body = excluded.body",
            params![
                s.session_id,
                s.wallet_id,
                s.created_at_ms as i64,
                to_json(s)?
            ],
        )?;
        Ok(())
    }

    fn session(&self, id: &str) -> Result<Option<SessionInfo>, StoreError> {
        let body: Option<String> = self
            .conn()
            .query_row(
                "SELECT body FROM sessions WHERE session_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| from_json(&b)).transpose()
    }

    fn sessions(&self, wallet: Option<&str>, limit: u32) -> Result<Vec<SessionInfo>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT body FROM sessions WHERE (?1 IS NULL OR wallet_id = ?1)
             ORDER BY created_at DESC, rowid DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![wallet, limit], |r| r.get::<_, String>(0))?;
        rows.map(|r| from_json(&r?)).collect()
    }

    fn running_sessions(&self) -> Result<Vec<SessionInfo>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT body FROM sessions WHERE json_extract(body, '$.status') = 'running'
             ORDER BY created_at, rowid",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| from_json(&r?)).collect()
    }

    fn pool_add(&self, e: &PoolEntry) -> Result<(), StoreError> {
        let body = serde_json::to_vec(&e.public).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO pool (id, wallet_id, body) VALUES (?1, ?2, ?3)",
            params![hex::encode(e.public.id()), e.wallet_id, body],
        )?;
        Ok(())
    }

    fn pool_take(
        &self,
        wallet: &str,
        usable: &dyn Fn(&PresignPublic) -> bool,
    ) -> Result<Option<PoolEntry>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let found = {
            let mut stmt =
                tx.prepare("SELECT id, body FROM pool WHERE wallet_id = ?1 ORDER BY rowid")?;
            let mut rows = stmt.query([wallet])?;
            let mut found = None;
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let body: Vec<u8> = row.get(1)?;
                let public: PresignPublic = serde_json::from_slice(&body)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                if usable(&public) {
                    found = Some((id, public));
                    break;
                }
            }
            found
        };
        let Some((id, public)) = found else {
            return Ok(None);
        };
        tx.execute("DELETE FROM pool WHERE id = ?1", [&id])?;
        tx.commit()?;
        Ok(Some(PoolEntry {
            wallet_id: wallet.to_string(),
            public,
        }))
    }

    fn pool_count(&self, wallet: &str) -> Result<u32, StoreError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM pool WHERE wallet_id = ?1",
            [wallet],
            |r| r.get(0),
        )?)
    }

    fn pool_clear(&self, wallet: &str) -> Result<u32, StoreError> {
        let n = self
            .conn()
            .execute("DELETE FROM pool WHERE wallet_id = ?1", [wallet])?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn pool_drop_member(&self, wallet: &str, index: u16) -> Result<u32, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let doomed: Vec<String> = {
            let mut stmt = tx.prepare("SELECT id, body FROM pool WHERE wallet_id = ?1")?;
            let mut rows = stmt.query([wallet])?;
            let mut doomed = Vec::new();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let body: Vec<u8> = row.get(1)?;
                let public: PresignPublic = serde_json::from_slice(&body)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                if public.signers().contains(&index) {
                    doomed.push(id);
                }
            }
            doomed
        };
        for id in &doomed {
            tx.execute("DELETE FROM pool WHERE id = ?1", [id])?;
        }
        tx.commit()?;
        Ok(u32::try_from(doomed.len()).unwrap_or(u32::MAX))
    }

    fn insert_transaction(&self, id: &str, t: &TransactionInfo) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO transactions (id, wallet_id, created_at, body) VALUES (?1, ?2, ?3, ?4)",
            params![id, t.wallet_id, t.created_at_ms as i64, to_json(t)?],
        )?;
        Ok(())
    }

    fn put_transaction(&self, id: &str, t: &TransactionInfo) -> Result<(), StoreError> {
        let changed = self.conn().execute(
            "UPDATE transactions SET body = ?2 WHERE id = ?1",
            params![id, to_json(t)?],
        )?;
        if changed == 0 {
            return Err(StoreError::Backend(format!(
                "no transaction {id} to update"
            )));
        }
        Ok(())
    }

    fn transaction(&self, id: &str) -> Result<Option<TransactionInfo>, StoreError> {
        let body: Option<String> = self
            .conn()
            .query_row("SELECT body FROM transactions WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        body.map(|b| from_json(&b)).transpose()
    }

    fn transactions(&self, wallet: &str, limit: u32) -> Result<Vec<TransactionInfo>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT body FROM transactions WHERE wallet_id = ?1
             ORDER BY created_at DESC, rowid DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![wallet, limit], |r| r.get::<_, String>(0))?;
        rows.map(|r| from_json(&r?)).collect()
    }

    fn insert_request(&self, r: &RequestRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO requests (request_id, wallet_id, state, created_at, updated_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                r.request_id,
                r.wallet_id,
                state_name(r.state)?,
                r.created_at_ms as i64,
                r.updated_at_ms as i64,
                to_json(r)?
            ],
        )?;
        Ok(())
    }

    fn put_request(&self, r: &RequestRecord) -> Result<(), StoreError> {
        let changed = self.conn().execute(
            "UPDATE requests SET state = ?2, updated_at = ?3, body = ?4 WHERE request_id = ?1",
            params![
                r.request_id,
                state_name(r.state)?,
                r.updated_at_ms as i64,
                to_json(r)?
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::Backend(format!(
                "no request {} to update",
                r.request_id
            )));
        }
        Ok(())
    }

    fn request(&self, request_id: &str) -> Result<Option<RequestRecord>, StoreError> {
        let body: Option<String> = self
            .conn()
            .query_row(
                "SELECT body FROM requests WHERE request_id = ?1",
                [request_id],
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| from_json(&b)).transpose()
    }

    fn requests(
        &self,
        state: Option<RequestState>,
        limit: u32,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        let state = state.map(state_name).transpose()?;
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT body FROM requests WHERE (?1 IS NULL OR state = ?1)
             ORDER BY created_at DESC, rowid DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![state, limit], |r| r.get::<_, String>(0))?;
        rows.map(|r| from_json(&r?)).collect()
    }

    fn requests_changed_since(
        &self,
        state: RequestState,
        since_ms: u64,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT body FROM requests WHERE state = ?1 AND updated_at >= ?2
             ORDER BY updated_at, rowid",
        )?;
        let rows = stmt.query_map(
            params![state_name(state)?, since_ms.min(i64::MAX as u64) as i64],
            |r| r.get::<_, String>(0),
        )?;
        rows.map(|r| from_json(&r?)).collect()
    }

    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}

fn state_name(s: RequestState) -> Result<String, StoreError> {
    match serde_json::to_value(s) {
        Ok(serde_json::Value::String(n)) => Ok(n),
        _ => Err(StoreError::Corrupt("request state has no name".into())),
    }
}

/// Node id of a signer record.
pub fn node_id(s: &SignerRecord) -> NodeId {
    s.identity.node_id()
}

//! The SQLite-backed log.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use crate::checkpoint::Checkpoint;
use crate::entry::{check_text, genesis_hash, hash_parts, prepare, Entry, EntryKind};
use crate::verify::{header_line, ChainState, PushError, VerifyError, VerifyReport};
use crate::AuditError;

/// `PRAGMA application_id` of a Tessera audit log ("TSAU").
pub const APPLICATION_ID: i32 = 0x5453_4155;
/// The schema version this build writes and the highest it opens.
pub const SCHEMA_VERSION: u32 = 1;
/// Most entries returned by one [`AuditLog::entries`] or [`AuditLog::find`] call.
pub const MAX_PAGE: usize = 10_000;
/// Rows read per step of an export (the lock is released between steps).
const EXPORT_PAGE: usize = 1_000;

const TABLES: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value NOT NULL);
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
    time_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    kind_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX entries_by_subject ON entries (subject, kind_name, seq);
";
/// Append-only guards. Their exact text is checked at open: no other triggers or views may exist.
const TRIGGERS: [(&str, &str); 2] = [
    (
        "entries_no_delete",
        "CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries \
         BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
    ),
    (
        "entries_no_update",
        "CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries \
         BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
    ),
];

const SELECT_ENTRY: &str =
    "SELECT seq, time_ms, actor, kind, subject, body, prev_hash, hash FROM entries";

/// The newest entry's position and hash; `(0, genesis)` for an empty log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Sequence number of the newest entry (0 if none).
    pub seq: u64,
    /// Its hash (the genesis hash if none).
    pub hash: [u8; 32],
}

/// An append-only, hash-chained audit log in one SQLite file (or in memory).
///
/// `Send + Sync`: share it (e.g. in an `Arc`); appends are serialized internally. Holds the
/// file's exclusive lock until dropped.
pub struct AuditLog {
    // Field order is drop order: the connection closes before the lock is released.
    conn: Mutex<Connection>,
    chain_id: String,
    genesis: [u8; 32],
    path: Option<PathBuf>,
    _lock: Option<File>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("chain_id", &self.chain_id)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Creates a new, empty log at `path` (which must not exist) for chain `chain_id`
    /// (non-empty, at most [`crate::MAX_TEXT_BYTES`], no control characters; choose one that is
    /// unique per log, e.g. `"<deployment>/<node id>"`). On failure nothing is left at `path`
    /// (the `.lock` sidecar may remain).
    pub fn create(path: &Path, chain_id: &str) -> Result<AuditLog, AuditError> {
        check_text("chain id", chain_id)?;
        if fs::symlink_metadata(path).is_ok() {
            return Err(AuditError::AlreadyExists);
        }
        let lock = tessera_sqlite::acquire_lock(path, LOCK_PATIENCE)?;
        // Claim the path atomically; SQLite then opens the empty file as a new database.
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => AuditError::AlreadyExists,
                _ => io_storage("cannot create", path, e),
            })?;
        let result = (|| {
            let mut conn = tessera_sqlite::connect(path)?;
            tessera_sqlite::configure_durability(&conn, false)?;
            init_schema(&mut conn, chain_id)?;
            Ok(conn)
        })();
        match result {
            Ok(conn) => {
                tessera_sqlite::sync_parent(path);
                Ok(Self::assemble(
                    conn,
                    chain_id.to_string(),
                    Some(path.to_path_buf()),
                    Some(lock),
                ))
            }
            Err(e) => {
                // We created the file and still hold the lock: remove the half-made log.
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = fs::remove_file(PathBuf::from(p));
                }
                Err(e)
            }
        }
    }

    /// Opens an existing log. Checks that it is an audit log of a supported version with the
    /// expected schema, and re-verifies the newest entry (its hash and its link). A full check
    /// of the stored chain is [`AuditLog::verify`].
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        match fs::metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(AuditError::NotFound),
            Err(e) => return Err(io_storage("cannot stat", path, e)),
        }
        let lock = tessera_sqlite::acquire_lock(path, LOCK_PATIENCE)?;
        let mut header = [0u8; 16];
        File::open(path)
            .and_then(|mut f| f.read_exact(&mut header))
            .map_err(|e| match e.kind() {
                ErrorKind::UnexpectedEof => AuditError::NotAnAuditLog,
                _ => io_storage("cannot read", path, e),
            })?;
        if &header != b"SQLite format 3\0" {
            return Err(AuditError::NotAnAuditLog);
        }
        let conn = tessera_sqlite::connect(path)?;
        let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        if app_id != APPLICATION_ID {
            return Err(AuditError::NotAnAuditLog);
        }
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let version = u32::try_from(version).map_err(|_| AuditError::NotAnAuditLog)?;
        if version == 0 {
            return Err(AuditError::NotAnAuditLog);
        }
        if version > SCHEMA_VERSION {
            return Err(AuditError::UnsupportedVersion(version));
        }
        check_triggers(&conn)?;
        tessera_sqlite::configure_durability(&conn, false)?;
        let chain_id: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'chain_id'", [], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| AuditError::Corrupt("chain id missing".into()))?;
        check_text("chain id", &chain_id)
            .map_err(|e| AuditError::Corrupt(format!("stored chain id: {e}")))?;
        let log = Self::assemble(conn, chain_id, Some(path.to_path_buf()), Some(lock));
        {
            let conn = log.conn();
            let head = head_of(&conn, &log.genesis)?;
            if head.seq > 0 {
                verified_entry(&conn, head.seq, &log.genesis)?;
            }
        }
        Ok(log)
    }

    /// Opens the log at `path` if it exists (and then requires its chain id to be `chain_id`,
    /// [`AuditError::WrongChain`]), otherwise creates it.
    pub fn open_or_create(path: &Path, chain_id: &str) -> Result<AuditLog, AuditError> {
        check_text("chain id", chain_id)?;
        let log = match Self::open(path) {
            Err(AuditError::NotFound) => return Self::create(path, chain_id),
            other => other?,
        };
        if log.chain_id != chain_id {
            return Err(AuditError::WrongChain {
                expected: chain_id.to_string(),
                found: log.chain_id.clone(),
            });
        }
        Ok(log)
    }

    /// A log that lives in memory only (tests, simulation).
    pub fn in_memory(chain_id: &str) -> Result<AuditLog, AuditError> {
        check_text("chain id", chain_id)?;
        let mut conn = Connection::open_in_memory()?;
        init_schema(&mut conn, chain_id)?;
        Ok(Self::assemble(conn, chain_id.to_string(), None, None))
    }

    fn assemble(
        conn: Connection,
        chain_id: String,
        path: Option<PathBuf>,
        lock: Option<File>,
    ) -> AuditLog {
        AuditLog {
            conn: Mutex::new(conn),
            genesis: genesis_hash(&chain_id),
            chain_id,
            path,
            _lock: lock,
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held cannot leave a half-done append: the transaction
        // rolls back when dropped.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This log's chain id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// This log's genesis hash ([`genesis_hash`] of the chain id).
    pub fn genesis(&self) -> [u8; 32] {
        self.genesis
    }

    /// Appends one entry and returns it; once this returns `Ok` the entry is durably on disk.
    ///
    /// `body` must be **public data only** (see [`Entry`]). Refused with a typed error, with
    /// nothing appended: an invalid actor or subject ([`AuditError::InvalidInput`]), a body with
    /// a float ([`AuditError::FloatInBody`]), nested too deep ([`AuditError::BodyTooDeep`]) or
    /// larger than [`crate::MAX_BODY_BYTES`] ([`AuditError::BodyTooLarge`]).
    ///
    /// `time_ms` is the caller's clock (milliseconds since the Unix epoch); it is recorded as
    /// given and need not increase.
    pub fn append(
        &self,
        actor: &str,
        kind: EntryKind,
        subject: &str,
        body: Value,
        time_ms: u64,
    ) -> Result<Entry, AuditError> {
        let p = prepare(actor, &kind, subject, &body, time_ms)?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let head = head_of(&tx, &self.genesis)?;
        let seq = head
            .seq
            .checked_add(1)
            .filter(|s| i64::try_from(*s).is_ok())
            .ok_or_else(|| AuditError::Storage("sequence number space exhausted".into()))?;
        let hash = hash_parts(
            seq,
            time_ms,
            actor,
            &p.kind_json,
            subject,
            &p.body_json,
            &head.hash,
        );
        tx.execute(
            "INSERT INTO entries (seq, time_ms, actor, kind_name, kind, subject, body, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                to_i64(seq)?,
                to_i64(time_ms)?,
                actor,
                kind.name(),
                p.kind_json,
                subject,
                p.body_json,
                &head.hash[..],
                &hash[..],
            ],
        )?;
        tx.commit()?;
        Ok(Entry {
            seq,
            time_ms,
            actor: actor.to_string(),
            kind,
            subject: subject.to_string(),
            body,
            prev_hash: head.hash,
            hash,
        })
    }

    /// The newest entry's seq and hash, `(0, genesis)` if the log is empty.
    pub fn head(&self) -> Result<Head, AuditError> {
        head_of(&self.conn(), &self.genesis)
    }

    /// Up to `limit` (at most [`MAX_PAGE`]) entries with `seq >= from_seq` (0 counts as 1),
    /// oldest first. Each is re-hashed and linked to its predecessor ([`AuditError::Chain`]
    /// otherwise).
    pub fn entries(&self, from_seq: u64, limit: usize) -> Result<Vec<Entry>, AuditError> {
        let from = from_seq.max(1);
        let conn = self.conn();
        let rows = read_rows(&conn, from, u64::MAX, limit.min(MAX_PAGE))?;
        let Some(first) = rows.first() else {
            return Ok(rows);
        };
        let mut state = if from == 1 {
            ChainState::new(self.genesis, false)
        } else {
            match hash_at(&conn, from - 1)? {
                Some(prev) => ChainState::resume(from, prev),
                None => {
                    return Err(VerifyError::Gap {
                        expected: from - 1,
                        found: first.seq,
                    }
                    .into())
                }
            }
        };
        for e in &rows {
            push_stored(&mut state, e)?;
        }
        Ok(rows)
    }

    /// Entries about `subject`, optionally only of one kind ([`EntryKind::name`], e.g.
    /// `"signature"`), oldest first, at most [`MAX_PAGE`]. Each is re-hashed and linked to its
    /// predecessor. For cross-checking a signer's log against the coordinator's.
    pub fn find(&self, subject: &str, kind_name: Option<&str>) -> Result<Vec<Entry>, AuditError> {
        let conn = self.conn();
        let seqs: Vec<i64> = {
            let mut stmt = conn.prepare(
                "SELECT seq FROM entries WHERE subject = ?1 AND (?2 IS NULL OR kind_name = ?2)
                 ORDER BY seq LIMIT ?3",
            )?;
            let rows =
                stmt.query_map(params![subject, kind_name, MAX_PAGE as i64], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        seqs.into_iter()
            .map(|s| verified_entry(&conn, from_i64("seq", s)?, &self.genesis))
            .collect()
    }

    /// Writes the whole log (up to the head at the time of the call) as JSON Lines (see the
    /// crate docs), re-verifying every entry on the way: a tampered store fails with
    /// [`AuditError::Chain`] instead of exporting. Returns the exported head. Appends may
    /// continue meanwhile (the lock is taken per page). Wrap files in a `BufWriter`.
    pub fn export<W: Write>(&self, mut writer: W) -> Result<Head, AuditError> {
        let mut line = header_line(&self.chain_id);
        line.push('\n');
        writer
            .write_all(line.as_bytes())
            .map_err(|e| AuditError::Io(e.to_string()))?;
        let (head, _) = self.walk(false, |e| {
            let mut line = e.to_json_line()?;
            line.push('\n');
            writer
                .write_all(line.as_bytes())
                .map_err(|e| AuditError::Io(e.to_string()))
        })?;
        writer.flush().map_err(|e| AuditError::Io(e.to_string()))?;
        Ok(head)
    }

    /// Verifies the whole stored chain, like [`crate::verify_export`] does for an export.
    pub fn verify(&self) -> Result<VerifyReport, AuditError> {
        let (_, state) = self.walk(true, |_| Ok(()))?;
        Ok(state.into_report(self.chain_id.clone()))
    }

    /// Visits every entry up to the current head, in order, verified.
    fn walk(
        &self,
        keep_hashes: bool,
        mut visit: impl FnMut(&Entry) -> Result<(), AuditError>,
    ) -> Result<(Head, ChainState), AuditError> {
        let head = self.head()?;
        let mut state = ChainState::new(self.genesis, keep_hashes);
        let mut next = 1u64;
        while next <= head.seq {
            let rows = read_rows(&self.conn(), next, head.seq, EXPORT_PAGE)?;
            let Some(last) = rows.last().map(|e| e.seq) else {
                return Err(VerifyError::Gap {
                    expected: next,
                    found: head.seq,
                }
                .into());
            };
            for e in &rows {
                push_stored(&mut state, e)?;
                visit(e)?;
            }
            next = last.saturating_add(1);
        }
        Ok((head, state))
    }

    /// Signs the current head with `key` (the log owner's Ed25519 key), after re-verifying the
    /// head entry. Publish or hand the checkpoint to someone who does not trust this node's
    /// disk; [`crate::verify_against_checkpoint`] then detects a cut-off tail or a rewritten
    /// history.
    pub fn checkpoint(&self, key: &SigningKey) -> Result<Checkpoint, AuditError> {
        let conn = self.conn();
        let head = head_of(&conn, &self.genesis)?;
        if head.seq > 0 {
            verified_entry(&conn, head.seq, &self.genesis)?;
        }
        Ok(Checkpoint::sign(&self.chain_id, head.seq, head.hash, key))
    }
}

/// Checks a stored entry's hash and link, and maps verifier errors to [`AuditError::Chain`].
fn push_stored(state: &mut ChainState, e: &Entry) -> Result<(), AuditError> {
    let computed = e
        .compute_hash()
        .map_err(|err| AuditError::Corrupt(format!("entry {}: {err}", e.seq)))?;
    state.push(e, computed).map_err(|err| match err {
        PushError::Verify(v) => AuditError::Chain(v),
        PushError::Seq { expected, found } if found > expected => {
            AuditError::Chain(VerifyError::Gap { expected, found })
        }
        PushError::Seq { found, .. } => AuditError::Chain(VerifyError::Duplicate { seq: found }),
    })
}

/// The entry at `seq`, re-hashed and linked to its predecessor.
fn verified_entry(conn: &Connection, seq: u64, genesis: &[u8; 32]) -> Result<Entry, AuditError> {
    let e = read_rows(conn, seq, seq, 1)?
        .pop()
        .ok_or_else(|| AuditError::Corrupt(format!("entry {seq} vanished")))?;
    let prev = if seq == 1 {
        *genesis
    } else {
        hash_at(conn, seq - 1)?.ok_or(AuditError::Chain(VerifyError::Gap {
            expected: seq - 1,
            found: seq,
        }))?
    };
    let mut state = ChainState::resume(seq, prev);
    push_stored(&mut state, &e)?;
    Ok(e)
}

fn head_of(conn: &Connection, genesis: &[u8; 32]) -> Result<Head, AuditError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Ok(Head {
            seq: 0,
            hash: *genesis,
        }),
        Some((seq, hash)) => Ok(Head {
            seq: from_i64("seq", seq)?,
            hash: to_hash("hash", &hash)?,
        }),
    }
}

fn hash_at(conn: &Connection, seq: u64) -> Result<Option<[u8; 32]>, AuditError> {
    let h: Option<Vec<u8>> = conn
        .query_row(
            "SELECT hash FROM entries WHERE seq = ?1",
            [to_i64(seq)?],
            |r| r.get(0),
        )
        .optional()?;
    h.map(|h| to_hash("hash", &h)).transpose()
}

/// Rows with `from <= seq <= to`, oldest first, at most `limit`, parsed (not yet verified).
fn read_rows(
    conn: &Connection,
    from: u64,
    to: u64,
    limit: usize,
) -> Result<Vec<Entry>, AuditError> {
    let to = i64::try_from(to).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT_ENTRY} WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![to_i64(from)?, to, limit], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, Vec<u8>>(6)?,
            r.get::<_, Vec<u8>>(7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, time_ms, actor, kind, subject, body, prev_hash, hash) = row?;
        let seq = from_i64("seq", seq)?;
        let corrupt = |what: &str, e: serde_json::Error| {
            AuditError::Corrupt(format!("entry {seq}: {what} does not parse: {e}"))
        };
        out.push(Entry {
            seq,
            time_ms: from_i64("time_ms", time_ms)?,
            actor,
            kind: serde_json::from_str(&kind).map_err(|e| corrupt("kind", e))?,
            subject,
            body: serde_json::from_str(&body).map_err(|e| corrupt("body", e))?,
            prev_hash: to_hash("prev_hash", &prev_hash)?,
            hash: to_hash("hash", &hash)?,
        });
    }
    Ok(out)
}

fn init_schema(conn: &mut Connection, chain_id: &str) -> Result<(), AuditError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(TABLES)?;
    for (_, sql) in TRIGGERS {
        tx.execute_batch(sql)?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('chain_id', ?1)",
        [chain_id],
    )?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Refuses views and any trigger other than ours (with exactly our text).
fn check_triggers(conn: &Connection) -> Result<(), AuditError> {
    let mut stmt = conn.prepare(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('trigger', 'view') ORDER BY name",
    )?;
    let found: Vec<(String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let expected: Vec<(String, String, Option<String>)> = TRIGGERS
        .iter()
        .map(|(name, sql)| {
            (
                "trigger".to_string(),
                name.to_string(),
                Some(sql.to_string()),
            )
        })
        .collect();
    if found != expected {
        return Err(AuditError::Corrupt(
            "unexpected triggers or views in the schema".into(),
        ));
    }
    Ok(())
}

/// How long opening waits for a log lock that another handle is just releasing.
const LOCK_PATIENCE: Duration = Duration::from_millis(200);

fn io_storage(what: &str, path: &Path, e: std::io::Error) -> AuditError {
    AuditError::Storage(format!("{what} {}: {e}", path.display()))
}

fn to_i64(v: u64) -> Result<i64, AuditError> {
    i64::try_from(v).map_err(|_| AuditError::InvalidInput(format!("{v} is out of range")))
}

fn from_i64(what: &str, v: i64) -> Result<u64, AuditError> {
    u64::try_from(v).map_err(|_| AuditError::Corrupt(format!("negative {what} {v}")))
}

fn to_hash(what: &str, v: &[u8]) -> Result<[u8; 32], AuditError> {
    <[u8; 32]>::try_from(v)
        .map_err(|_| AuditError::Corrupt(format!("{what} is {} bytes, not 32", v.len())))
}

//! The SQLite file discipline shared by the signer's vault (`tessera-vault`) and the audit logs
//! (`tessera-audit`): files that must never have two writers and must not lose a committed
//! transaction.
//!
//! - **One writer per file.** [`acquire_lock`] takes an exclusive advisory lock on the sidecar
//!   `<path>.lock` (created mode 0600, never deleted), which the caller holds for as long as
//!   the connection is open; [`connect`] then puts SQLite in `locking_mode = EXCLUSIVE` with no
//!   busy wait, so a second process fails at once instead of queueing behind the first.
//! - **Refuse what cannot be written.** SQLite silently falls back to read-only when a file is
//!   write-protected; [`connect`] refuses such a file, because a vault that cannot record a
//!   consumed presignature, or a log that cannot append, must not open.
//! - **Durable commits.** [`configure_durability`]: WAL journal and `synchronous = FULL` (and
//!   optionally `secure_delete`, so deleted secrets are overwritten); [`sync_parent`] makes a new
//!   directory entry durable.
//!
//! Callers map [`FileError`] into their own typed errors.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fs4::fs_std::FileExt;
use rusqlite::{Connection, OpenFlags};

#[cfg(feature = "torn")]
pub mod torn;

/// How often [`acquire_lock`] tries again while another holder has the lock.
const LOCK_RETRY: Duration = Duration::from_millis(20);

/// Why a file could not be opened under the discipline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Another process (or another handle in this one) holds the file.
    #[error("{} is in use by another process", .0.display())]
    Locked(PathBuf),
    /// A filesystem operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was attempted.
        what: &'static str,
        /// On which file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database file can only be read.
    #[error("database file {} is read-only", .0.display())]
    ReadOnly(PathBuf),
    /// SQLite did not take a required setting.
    #[error("{0}")]
    Setting(String),
    /// SQLite failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// The lock sidecar of `path`: `<path>.lock`.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Takes the exclusive advisory lock on `<path>.lock`, trying again for up to `patience`: a
/// lock can outlive its holder for a moment (a child process forked elsewhere in this process
/// shares the lock's file description until it execs). Hold the returned file for as long as
/// the database is open; dropping it releases the lock.
pub fn acquire_lock(path: &Path, patience: Duration) -> Result<File, FileError> {
    let lp = lock_path(path);
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(&lp).map_err(|source| FileError::Io {
        what: "cannot open lock file",
        path: lp.clone(),
        source,
    })?;
    let start = Instant::now();
    loop {
        match FileExt::try_lock_exclusive(&file) {
            Ok(true) => return Ok(file),
            Ok(false) if start.elapsed() < patience => std::thread::sleep(LOCK_RETRY),
            Ok(false) => return Err(FileError::Locked(path.to_path_buf())),
            Err(source) => {
                return Err(FileError::Io {
                    what: "cannot lock",
                    path: lp,
                    source,
                })
            }
        }
    }
}

/// Opens an existing (or empty, just created) database file read-write in exclusive locking
/// mode, with no busy wait and `trusted_schema = OFF`; refuses a read-only file.
pub fn connect(path: &Path) -> Result<Connection, FileError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::ZERO)?;
    if conn.is_readonly(rusqlite::DatabaseName::Main)? {
        return Err(FileError::ReadOnly(path.to_path_buf()));
    }
    let mode: String =
        conn.pragma_update_and_check(None, "locking_mode", "EXCLUSIVE", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("exclusive") {
        return Err(FileError::Setting(format!(
            "cannot set exclusive locking mode (got {mode})"
        )));
    }
    conn.pragma_update(None, "trusted_schema", "OFF")?;
    Ok(conn)
}

/// WAL journal and `synchronous = FULL`; with `secure_delete`, deleted content is overwritten.
/// These settings write to the file: call it only on a file known to be the caller's kind of
/// database, or one being created as such.
pub fn configure_durability(conn: &Connection, secure_delete: bool) -> Result<(), FileError> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(FileError::Setting(format!(
            "cannot enable WAL journal mode (got {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    if secure_delete {
        conn.pragma_update(None, "secure_delete", "ON")?;
    }
    Ok(())
}

/// Best effort: makes a newly created directory entry under `path`'s parent durable.
pub fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_drops_its_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let first = acquire_lock(&db, Duration::ZERO).unwrap();
        let started = Instant::now();
        let second = acquire_lock(&db, Duration::from_millis(100));
        assert!(
            matches!(second, Err(FileError::Locked(ref p)) if p == &db),
            "{second:?}"
        );
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "it waited out its patience"
        );
        drop(first);
        acquire_lock(&db, Duration::ZERO).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(lock_path(&db))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn connections_are_exclusive_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::File::create(&db).unwrap();
        let conn = connect(&db).unwrap();
        configure_durability(&conn, true).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        let get = |p: &str| -> String {
            conn.query_row(&format!("PRAGMA {p}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| format!("{v:?}"))
            .unwrap()
        };
        assert!(
            get("journal_mode").contains("wal"),
            "{}",
            get("journal_mode")
        );
        assert_eq!(get("synchronous"), "Integer(2)"); // FULL
        assert_eq!(get("secure_delete"), "Integer(1)");
        assert!(get("locking_mode").contains("exclusive"));
        // Exclusive mode: a second connection cannot read while the first holds the file.
        let other = Connection::open(&db).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        assert!(other
            .query_row("SELECT v FROM t", [], |r| r.get::<_, i64>(0))
            .is_err());
        drop(other);
        drop(conn);
        // Read-only files: covered through the vault (tessera-vault tests/storage.rs), which
        // can make a file immutable even for root.
    }
}

//! The SQLite log: appends, reads, durability across crashes, locking, refusals, tampering.

#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::*;
use serde_json::{json, Value};
use tessera_audit::{
    genesis_hash, verify_export, AuditError, AuditLog, EntryKind, Head, RefusalReason, VerifyError,
    APPLICATION_ID, MAX_BODY_BYTES, MAX_KIND_BYTES, MAX_LINE_BYTES, MAX_PAGE, MAX_TEXT_BYTES,
};

#[test]
fn appends_chain_from_the_genesis_hash() {
    let log = AuditLog::in_memory("coordinator-eu1").unwrap();
    assert_eq!(log.chain_id(), "coordinator-eu1");
    assert_eq!(log.genesis(), genesis_hash("coordinator-eu1"));
    assert_ne!(log.genesis(), genesis_hash("coordinator-eu2"));
    assert_ne!(log.genesis(), [0; 32]);
    assert_eq!(
        log.head().unwrap(),
        Head {
            seq: 0,
            hash: log.genesis()
        }
    );
    let body = json!({"request": "r-1", "amount": "5"});
    let e1 = log
        .append(
            "coordinator-eu1",
            EntryKind::WalletCreated,
            "w-1",
            body.clone(),
            T0,
        )
        .unwrap();
    assert_eq!((e1.seq, e1.time_ms, e1.prev_hash), (1, T0, log.genesis()));
    assert_eq!(e1.body, body);
    assert_eq!(e1.compute_hash().unwrap(), e1.hash);
    // Time is the caller's and need not increase.
    let e2 = log
        .append(
            "approver:ab12",
            EntryKind::Approval,
            "r-1",
            json!(null),
            T0 - 5,
        )
        .unwrap();
    assert_eq!((e2.seq, e2.prev_hash), (2, e1.hash));
    assert_eq!(
        log.head().unwrap(),
        Head {
            seq: 2,
            hash: e2.hash
        }
    );
    assert_eq!(log.entries(1, 10).unwrap(), vec![e1, e2]);
}

#[test]
fn entries_pages_through_the_log() {
    let log = build("c", 50);
    let all = log.entries(0, 100).unwrap();
    assert_eq!(all.len(), 50);
    assert!(all.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1));
    assert_eq!(log.entries(1, 100).unwrap(), all);
    let page = log.entries(11, 10).unwrap();
    assert_eq!(page, all[10..20]);
    assert_eq!(log.entries(45, 10).unwrap(), all[44..]);
    assert!(log.entries(51, 10).unwrap().is_empty());
    assert!(log.entries(1, 0).unwrap().is_empty());
    // Bodies and kinds come back as appended.
    assert_eq!(all[8].kind, kind_for(9));
    assert_eq!(all[8].body, body_for(9));
}

#[test]
fn entries_are_capped_at_max_page() {
    let log = build("c", MAX_PAGE as u64 + 5);
    assert_eq!(log.entries(1, usize::MAX).unwrap().len(), MAX_PAGE);
    assert_eq!(
        log.entries(MAX_PAGE as u64 + 1, usize::MAX).unwrap().len(),
        5
    );
}

#[test]
fn find_by_subject_and_kind() {
    let log = AuditLog::in_memory("c").unwrap();
    let decide = EntryKind::PolicyDecision {
        policy_version: 3,
        policy_ids: vec!["tier-2".into()],
        outcome: tessera_audit::PolicyOutcome::NeedsApprovals,
    };
    log.append("coord", decide.clone(), "r-1", json!({}), T0)
        .unwrap();
    log.append("coord", decide, "r-2", json!({}), T0).unwrap();
    log.append("approver:1", EntryKind::Approval, "r-1", json!({}), T0)
        .unwrap();
    log.append("approver:2", EntryKind::Approval, "r-1", json!({}), T0)
        .unwrap();
    log.append("coord", EntryKind::Signature, "r-1", json!({}), T0)
        .unwrap();
    let seqs = |v: Vec<tessera_audit::Entry>| v.into_iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(log.find("r-1", None).unwrap()), [1, 3, 4, 5]);
    assert_eq!(seqs(log.find("r-1", Some("approval")).unwrap()), [3, 4]);
    assert_eq!(seqs(log.find("r-1", Some("signature")).unwrap()), [5]);
    assert_eq!(
        seqs(log.find("r-2", Some("signature")).unwrap()),
        [] as [u64; 0]
    );
    assert_eq!(seqs(log.find("r-9", None).unwrap()), [] as [u64; 0]);
    assert_eq!(
        log.find("r-1", Some("signature")).unwrap()[0],
        log.entries(5, 1).unwrap()[0]
    );
}

#[test]
fn reopening_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let head = {
        let log = AuditLog::create(&path, "signer-1").unwrap();
        append_n(&log, 1, 5);
        log.head().unwrap()
    };
    for round in 0..3u64 {
        let log = AuditLog::open(&path).unwrap();
        assert_eq!(log.chain_id(), "signer-1");
        let before = log.head().unwrap();
        assert_eq!(before.seq, 5 + round * 5);
        if round == 0 {
            assert_eq!(before, head);
        }
        let e = log
            .append("signer-1", EntryKind::Signature, "r", json!({}), T0)
            .unwrap();
        assert_eq!((e.seq, e.prev_hash), (before.seq + 1, before.hash));
        append_n(&log, 100, 4);
        log.verify().unwrap();
    }
    let log = AuditLog::open_or_create(&path, "signer-1").unwrap();
    let mut out = Vec::new();
    log.export(&mut out).unwrap();
    assert_eq!(verify_export(&out[..]).unwrap().entries, 20);
    // Durable settings: WAL, and the file identifies itself.
    drop(log);
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let app: i32 = raw
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    assert_eq!(app, APPLICATION_ID);
}

const CRASH_ENV: &str = "TESSERA_AUDIT_CRASH_CHILD";

/// Not a test on its own: the body of the child process of `a_crash_mid_append_*`. Appends
/// until killed, printing each committed seq.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CRASH_ENV) else {
        return;
    };
    let log = AuditLog::open_or_create(Path::new(&path), "crash").unwrap();
    let mut out = std::io::stdout();
    for i in 0u64.. {
        let e = log
            .append("child", kind_for(i), &format!("r-{i}"), body_for(i), T0 + i)
            .unwrap();
        writeln!(out, "appended {}", e.seq).unwrap();
        out.flush().unwrap();
    }
}

/// Runs the child until it reports `at_least` committed appends, then kills it (SIGKILL, no
/// destructors, no WAL checkpoint) while it keeps appending. Returns the last reported seq.
fn run_and_kill(path: &Path, at_least: u64) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last = 0;
    for line in &mut lines {
        if let Some(n) = line.unwrap().strip_prefix("appended ") {
            last = n.parse().unwrap();
            if last >= at_least {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(lines);
    assert!(last >= at_least, "child stopped early");
    last
}

#[test]
fn a_crash_mid_append_keeps_the_chain_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let reported = run_and_kill(&path, 30);
    let log = AuditLog::open(&path).unwrap();
    let head = log.head().unwrap();
    // Every append that returned Ok survived; at most the one in flight is extra.
    assert!(head.seq >= reported, "{} < {reported}", head.seq);
    assert_eq!(log.verify().unwrap().head(), head);
    let e = log
        .append(
            "parent",
            EntryKind::Other("restart".into()),
            "x",
            json!({}),
            T0,
        )
        .unwrap();
    assert_eq!((e.seq, e.prev_hash), (head.seq + 1, head.hash));
    drop(log);
    // And once more, continuing the same file.
    let reported = run_and_kill(&path, head.seq + 20);
    let log = AuditLog::open(&path).unwrap();
    assert!(log.head().unwrap().seq >= reported);
    let report = log.verify().unwrap();
    let mut out = Vec::new();
    log.export(&mut out).unwrap();
    assert_eq!(verify_export(&out[..]).unwrap(), report);
}

#[test]
fn a_second_writer_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let first = AuditLog::create(&path, "c").unwrap();
    append_n(&first, 1, 3);
    assert!(matches!(AuditLog::open(&path), Err(AuditError::Locked)));
    assert!(matches!(
        AuditLog::open_or_create(&path, "c"),
        Err(AuditError::Locked)
    ));
    assert!(matches!(
        AuditLog::create(&path, "c"),
        Err(AuditError::AlreadyExists)
    ));
    // The first writer is unaffected.
    append_n(&first, 4, 2);
    assert_eq!(first.head().unwrap().seq, 5);
    drop(first);
    let second = AuditLog::open(&path).unwrap();
    append_n(&second, 6, 1);
    assert_eq!(second.verify().unwrap().entries, 6);
}

#[test]
fn concurrent_appends_through_one_log_serialize() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::create(&dir.path().join("audit.db"), "c").unwrap());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                (0..25u64)
                    .map(|i| {
                        log.append(
                            &format!("thread-{t}"),
                            EntryKind::Signature,
                            &format!("r-{t}-{i}"),
                            json!({"i": i}),
                            T0 + i,
                        )
                        .unwrap()
                        .seq
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = Vec::new();
    for t in threads {
        let mine = t.join().unwrap();
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
        seqs.extend(mine);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    assert_eq!(log.verify().unwrap().entries, 100);
}

#[test]
fn refused_input_appends_nothing() {
    let log = build("c", 3);
    let before = log.head().unwrap();
    let mut export_before = Vec::new();
    log.export(&mut export_before).unwrap();
    let append = |actor: &str, kind: EntryKind, subject: &str, body: Value, t: u64| {
        log.append(actor, kind, subject, body, t).unwrap_err()
    };

    let e = append(
        "a",
        EntryKind::Approval,
        "s",
        json!({"fee": {"btc": 0.0001}}),
        T0,
    );
    assert!(
        matches!(&e, AuditError::FloatInBody { path } if path == "/fee/btc"),
        "{e:?}"
    );
    let e = append("a", EntryKind::Approval, "s", json!([1, 2.5]), T0);
    assert!(
        matches!(&e, AuditError::FloatInBody { path } if path == "/1"),
        "{e:?}"
    );

    // Size: the limit is on the canonical JSON; exactly at the limit is fine.
    let at_limit = |extra: usize| json!({ "s": "x".repeat(MAX_BODY_BYTES - 8 + extra) });
    assert_eq!(
        tessera_audit::canonical_json(&at_limit(0)).unwrap().len(),
        MAX_BODY_BYTES
    );
    let e = append("a", EntryKind::Approval, "s", at_limit(1), T0);
    assert!(
        matches!(e, AuditError::BodyTooLarge { size, max } if size == MAX_BODY_BYTES + 1 && max == MAX_BODY_BYTES),
        "{e:?}"
    );
    let mut deep = json!(0);
    for _ in 0..100 {
        deep = json!([deep]);
    }
    assert!(matches!(
        append("a", EntryKind::Approval, "s", deep, T0),
        AuditError::BodyTooDeep { .. }
    ));

    // Text fields and kinds.
    let long = "x".repeat(MAX_TEXT_BYTES + 1);
    for (actor, kind, subject) in [
        ("", EntryKind::Approval, "s"),
        ("a", EntryKind::Approval, ""),
        (long.as_str(), EntryKind::Approval, "s"),
        ("a", EntryKind::Approval, long.as_str()),
        ("a\nforged line", EntryKind::Approval, "s"),
        ("a", EntryKind::Approval, "s\u{1b}[31m"),
        ("a", EntryKind::Other(String::new()), "s"),
        (
            "a",
            EntryKind::Refusal(RefusalReason::Other("x\ty".into())),
            "s",
        ),
        (
            "a",
            EntryKind::ModeChange {
                from: "normal".into(),
                to: String::new(),
            },
            "s",
        ),
        (
            "a",
            EntryKind::PolicyDecision {
                policy_version: 1,
                policy_ids: vec![String::new()],
                outcome: tessera_audit::PolicyOutcome::Deny,
            },
            "s",
        ),
        (
            "a",
            EntryKind::PolicyDecision {
                policy_version: 1,
                policy_ids: vec!["p".into(); tessera_audit::MAX_POLICY_IDS + 1],
                outcome: tessera_audit::PolicyOutcome::Deny,
            },
            "s",
        ),
    ] {
        let e = append(actor, kind.clone(), subject, json!({}), T0);
        assert!(matches!(e, AuditError::InvalidInput(_)), "{kind:?}: {e:?}");
    }
    let e = append(
        "a",
        EntryKind::Approval,
        "s",
        json!({}),
        i64::MAX as u64 + 1,
    );
    assert!(matches!(e, AuditError::InvalidInput(_)), "{e:?}");

    assert_eq!(log.head().unwrap(), before);
    let mut export_after = Vec::new();
    log.export(&mut export_after).unwrap();
    assert_eq!(export_after, export_before);

    // The limits themselves are accepted.
    log.append("a", EntryKind::Approval, "s", at_limit(0), i64::MAX as u64)
        .unwrap();
    let max_text = "y".repeat(MAX_TEXT_BYTES);
    log.append(&max_text, EntryKind::Approval, &max_text, json!(null), 0)
        .unwrap();
    let mut out = Vec::new();
    log.export(&mut out).unwrap();
    assert_eq!(verify_export(&out[..]).unwrap().entries, 5);
}

/// Edits the SQLite file directly, as an attacker or a bug could.
fn tamper(path: &Path, sql: &str) {
    let raw = rusqlite::Connection::open(path).unwrap();
    let triggers: Vec<(String, String)> = raw
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(triggers.len(), 2);
    for (name, _) in &triggers {
        raw.execute_batch(&format!("DROP TRIGGER {name}")).unwrap();
    }
    raw.execute_batch(sql).unwrap();
    for (_, sql) in &triggers {
        raw.execute_batch(sql).unwrap();
    }
}

fn stored_log(dir: &Path, n: u64) -> std::path::PathBuf {
    let path = dir.join("audit.db");
    let log = AuditLog::create(&path, "c").unwrap();
    append_n(&log, 1, n);
    path
}

#[test]
fn the_table_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = stored_log(dir.path(), 3);
    let raw = rusqlite::Connection::open(&path).unwrap();
    for sql in [
        "UPDATE entries SET actor = 'x' WHERE seq = 2",
        "DELETE FROM entries WHERE seq = 3",
    ] {
        let err = raw.execute_batch(sql).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    // A planted trigger (or a missing guard) makes the file refuse to open.
    raw.execute_batch(
        "CREATE TRIGGER t AFTER INSERT ON entries BEGIN SELECT 1; END; DROP TRIGGER entries_no_update;",
    )
    .unwrap();
    drop(raw);
    assert!(matches!(AuditLog::open(&path), Err(AuditError::Corrupt(_))));
}

#[test]
fn tampering_with_the_store_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = stored_log(dir.path(), 10);
    tamper(
        &path,
        "UPDATE entries SET body = '{\"n\":4000}' WHERE seq = 4",
    );
    let log = AuditLog::open(&path).unwrap();
    let bad = |r: Result<(), AuditError>| match r {
        Err(AuditError::Chain(e)) => e,
        other => panic!("expected a chain error, got {other:?}"),
    };
    let bad_hash = VerifyError::BadHash { seq: 4 };
    assert_eq!(bad(log.verify().map(drop)), bad_hash);
    assert_eq!(bad(log.export(std::io::sink()).map(drop)), bad_hash);
    assert_eq!(bad(log.entries(1, 100).map(drop)), bad_hash);
    assert_eq!(bad(log.find("r-4", None).map(drop)), bad_hash);
    log.entries(5, 100).unwrap();
    drop(log);

    // A deleted row.
    let dir = tempfile::tempdir().unwrap();
    let path = stored_log(dir.path(), 10);
    tamper(&path, "DELETE FROM entries WHERE seq = 6");
    let log = AuditLog::open(&path).unwrap();
    assert_eq!(
        bad(log.verify().map(drop)),
        VerifyError::Gap {
            expected: 6,
            found: 7
        }
    );
    drop(log);

    // A row rewritten with a recomputed hash breaks the next link.
    let dir = tempfile::tempdir().unwrap();
    let path = stored_log(dir.path(), 10);
    let log = AuditLog::open(&path).unwrap();
    let mut e = log.entries(3, 1).unwrap().remove(0);
    drop(log);
    e.actor = "mallory".into();
    e.hash = e.compute_hash().unwrap();
    tamper(
        &path,
        &format!(
            "UPDATE entries SET actor = 'mallory', hash = x'{}' WHERE seq = 3",
            hex::encode(e.hash)
        ),
    );
    let log = AuditLog::open(&path).unwrap();
    assert_eq!(
        bad(log.verify().map(drop)),
        VerifyError::BrokenLink { seq: 4 }
    );
    drop(log);

    // The head itself: the log refuses to open (and so to append onto it).
    let dir = tempfile::tempdir().unwrap();
    let path = stored_log(dir.path(), 10);
    tamper(&path, "UPDATE entries SET time_ms = 1 WHERE seq = 10");
    assert!(matches!(
        AuditLog::open(&path),
        Err(AuditError::Chain(VerifyError::BadHash { seq: 10 }))
    ));
}

#[test]
fn open_and_create_refuse_what_they_should() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    assert!(matches!(AuditLog::open(&path), Err(AuditError::NotFound)));
    assert!(matches!(
        AuditLog::create(&path, ""),
        Err(AuditError::InvalidInput(_))
    ));
    assert!(matches!(
        AuditLog::create(&path, "bad\nid"),
        Err(AuditError::InvalidInput(_))
    ));
    assert!(!path.exists());
    drop(AuditLog::open_or_create(&path, "c").unwrap());
    assert!(matches!(
        AuditLog::open_or_create(&path, "other"),
        Err(AuditError::WrongChain { expected, found }) if expected == "other" && found == "c"
    ));

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, this is not a database").unwrap();
    assert!(matches!(
        AuditLog::open(&text),
        Err(AuditError::NotAnAuditLog)
    ));
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    assert!(matches!(
        AuditLog::open(&other),
        Err(AuditError::NotAnAuditLog)
    ));
    let newer = dir.path().join("newer.db");
    drop(AuditLog::create(&newer, "c").unwrap());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 2)
        .unwrap();
    assert!(matches!(
        AuditLog::open(&newer),
        Err(AuditError::UnsupportedVersion(2))
    ));
}

#[test]
fn the_largest_entries_export_and_verify() {
    let log = AuditLog::in_memory("c").unwrap();
    // Text that doubles when escaped, at every limit at once.
    let quotes = "\"".repeat(MAX_TEXT_BYTES);
    let kind = |n: usize| EntryKind::PolicyDecision {
        policy_version: u64::MAX,
        policy_ids: vec![quotes.clone(); n],
        outcome: tessera_audit::PolicyOutcome::NeedsApprovals,
    };
    let kind_len = |n: usize| {
        tessera_audit::canonical_json(&serde_json::to_value(kind(n)).unwrap())
            .unwrap()
            .len()
    };
    assert!(kind_len(7) <= MAX_KIND_BYTES && kind_len(8) > MAX_KIND_BYTES);
    assert!(matches!(
        log.append("a", kind(8), "s", json!({}), 0),
        Err(AuditError::InvalidInput(_))
    ));
    // Control characters escape to six bytes each.
    let body = json!({ "s": format!("{}xx", "\u{1}".repeat((MAX_BODY_BYTES - 10) / 6)) });
    assert_eq!(
        tessera_audit::canonical_json(&body).unwrap().len(),
        MAX_BODY_BYTES
    );
    log.append(&quotes, kind(7), &quotes, body, i64::MAX as u64)
        .unwrap();
    // The deepest body allowed.
    let mut deep = json!("leaf");
    for _ in 0..tessera_audit::MAX_JSON_DEPTH {
        deep = json!([deep]);
    }
    log.append("a", EntryKind::Approval, "s", deep, 0).unwrap();
    let mut out = Vec::new();
    log.export(&mut out).unwrap();
    let longest = out.split(|b| *b == b'\n').map(<[u8]>::len).max().unwrap();
    assert!(
        longest > MAX_BODY_BYTES && longest < MAX_LINE_BYTES,
        "{longest}"
    );
    assert_eq!(verify_export(&out[..]).unwrap().entries, 2);
}

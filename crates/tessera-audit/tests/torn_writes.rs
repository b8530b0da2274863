//! Torn writes (issue 14): the audit log's files as a power cut could leave them.
//!
//! Seeded scenarios append entries (of every kind, bodies from a few bytes to several pages)
//! and after every append copy the files of the open log: the main file and its `-wal` (under
//! `locking_mode = EXCLUSIVE` SQLite keeps the WAL index in memory, so there is no `-shm`; half
//! the trials plant a stale one of garbage). Each trial tears a copy — cuts the WAL inside the
//! last append's frames or anywhere, zeroes or garbles one 512-byte sector, drops the WAL, or
//! mixes old and new pages of the main file as a checkpoint cut short would — and reopens it
//! with [`AuditLog::open`]. The invariant: the log either opens to exactly the first `j`
//! entries for some committed `j` (its export byte for byte the export taken after append `j`,
//! and `verify_export` and [`AuditLog::verify`] accept it) or fails with a typed
//! [`AuditError`]; never a panic, never a chain that is no committed prefix.
//!
//! A tear that drops an append's frames loses that entry: a cut-off tail, which only a
//! checkpoint held elsewhere can reveal (`verify_against_checkpoint`). That is what the disk
//! holds — the append had not returned, or its frames were not synced.
//!
//! The second test garbles one byte of the main file after a checkpoint, inside an entry's body
//! or anywhere in the page holding it: the log then fails with a typed error (on open, on
//! export, on verify) or, if the byte was not part of any entry, exports exactly as before.

#![allow(clippy::unwrap_used)] // the shared helpers in `common` unwrap: a panic is a test failure

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;

use common::*;
use serde_json::json;
use tessera_audit::{verify_export, AuditError, AuditLog};
use tessera_sqlite::torn::{path_with, tear, write_files, Rng, Snap, Tear, TEARS};

const SEEDS: [u64; 4] = [0xa0d1_7001, 0xa0d1_7002, 0x5eed_5eed_5eed, 0x0123_4567_89ab];
const CHAIN: &str = "torn-writes/signer-1";
const APPENDS: usize = 40;
const WAL_TRIALS: usize = 300;
const GARBLE_TRIALS: usize = 200;

fn export(log: &AuditLog) -> Result<Vec<u8>, AuditError> {
    let mut out = Vec::new();
    log.export(&mut out)?;
    Ok(out)
}

struct Scenario {
    /// The export after each append.
    exports: Vec<Vec<u8>>,
    snaps: Vec<Snap>,
    closes: Vec<(usize, Vec<u8>)>,
    shm_seen: usize,
    final_main: Vec<u8>,
}

fn build_scenario(seed: u64, dir: &Path) -> Scenario {
    let mut rng = Rng(seed);
    let path = dir.join("audit.db");
    let mut log = AuditLog::create(&path, CHAIN).expect("create");
    let mut exports = vec![export(&log).expect("export")];
    let mut snaps = Vec::new();
    let mut closes = Vec::new();
    let mut shm_seen = 0;
    let mut checkpointed = None;
    let mut wal_len = 0;
    let mut snapshot = |k: usize, checkpointed: Option<usize>, wal_len: &mut usize| {
        shm_seen += usize::from(path_with(&path, "-shm").exists());
        Snap::take(&path, k, checkpointed, wal_len)
    };
    snaps.push(snapshot(0, checkpointed, &mut wal_len));
    for k in 1..=APPENDS {
        let i = k as u64;
        let mut body = body_for(i);
        // From a few bytes to several pages.
        let pad = match rng.below(4) {
            0 => 0,
            1 | 2 => rng.range(1, 400),
            _ => rng.range(2_000, 12_000),
        };
        body["pad"] = json!(hex::encode(rng.bytes(pad / 2)));
        log.append(
            &format!("actor-{}", i % 3),
            kind_for(i),
            &format!("r-{i}"),
            body,
            T0 + i,
        )
        .expect("append");
        exports.push(export(&log).expect("export"));
        snaps.push(snapshot(k, checkpointed, &mut wal_len));
        if k < APPENDS && rng.below(8) == 0 {
            drop(log);
            assert!(
                !path_with(&path, "-wal").exists(),
                "a clean close removes the WAL"
            );
            closes.push((snaps.len() - 1, fs::read(&path).expect("read main")));
            checkpointed = Some(k);
            wal_len = 0;
            log = AuditLog::open(&path).expect("reopen");
        }
    }
    drop(log);
    Scenario {
        exports,
        snaps,
        closes,
        shm_seen,
        final_main: fs::read(&path).expect("read main"),
    }
}

fn error_kind(e: &AuditError) -> String {
    let s = format!("{e:?}");
    let mut kind = s.split(['(', ' ', '{']).next().unwrap_or("").to_string();
    if let AuditError::Chain(v) = e {
        let v = format!("{v:?}");
        kind = format!("{kind}({})", v.split(['(', ' ', '{']).next().unwrap_or(""));
    }
    kind
}

/// Opens the copy and reads it all: its export (checked by `verify_export` against the log's
/// head) and the log's own full verification.
fn open_and_read(path: &Path) -> Result<Vec<u8>, AuditError> {
    let log = AuditLog::open(path)?;
    let bytes = export(&log)?;
    let report = verify_export(&bytes[..])?;
    assert_eq!(
        report.head(),
        log.head()?,
        "the export ends at the log's head"
    );
    assert_eq!(report.chain_id, CHAIN);
    let own = log.verify()?;
    assert_eq!(own.head(), report.head());
    Ok(bytes)
}

fn scenarios(root: &Path) -> Vec<Scenario> {
    SEEDS
        .iter()
        .enumerate()
        .map(|(i, seed)| {
            let d = root.join(format!("scenario-{i}"));
            fs::create_dir_all(&d).expect("mkdir");
            build_scenario(*seed, &d)
        })
        .collect()
}

fn guarded<T>(label: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(t) => t,
        Err(p) => {
            eprintln!("PANIC in {label}");
            resume_unwind(p)
        }
    }
}

#[test]
fn torn_wal_writes_open_to_a_committed_prefix_that_verifies_or_fail_typed() {
    let root = tempfile::tempdir().expect("tempdir");
    let scs = scenarios(root.path());
    eprintln!(
        "{} scenarios of {APPENDS} appends, {} snapshots, {} clean closes, -shm present in {} \
         snapshots",
        scs.len(),
        scs.iter().map(|s| s.snaps.len()).sum::<usize>(),
        scs.iter().map(|s| s.closes.len()).sum::<usize>(),
        scs.iter().map(|s| s.shm_seen).sum::<usize>()
    );
    let mut rng = Rng(0x70_12_4e_58);
    let mut opened: BTreeMap<(Tear, usize), usize> = BTreeMap::new();
    let mut errors: BTreeMap<(Tear, String), usize> = BTreeMap::new();
    let mut shm_planted = 0;
    let mut t = 0;
    while t < WAL_TRIALS {
        let sc = &scs[t % scs.len()];
        let kind = TEARS[rng.below(TEARS.len())];
        let Some(torn) = tear(&mut rng, &sc.snaps, &sc.closes, kind) else {
            continue;
        };
        t += 1;
        let shm = (rng.below(2) == 0).then(|| rng.bytes(32 * 1024));
        shm_planted += usize::from(shm.is_some());
        let path = write_files(
            &root.path().join("trial"),
            "audit.db",
            &torn.main,
            torn.wal.as_ref(),
            shm.as_ref(),
        );
        let label = format!("trial {t} ({kind:?}, {})", torn.what);
        match guarded(&label, || open_and_read(&path)) {
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        AuditError::NotAnAuditLog
                            | AuditError::Corrupt(_)
                            | AuditError::Storage(_)
                            | AuditError::Chain(_)
                    ),
                    "{label}: unexpected error {e:?}"
                );
                assert!(
                    torn.allowed.contains(&None),
                    "{label}: failed although a committed state is on disk: {e:?}"
                );
                *errors.entry((kind, error_kind(&e))).or_default() += 1;
            }
            Ok(bytes) => {
                let Some(j) = sc.exports.iter().position(|x| *x == bytes) else {
                    panic!("{label}: opened to a chain that is no committed prefix");
                };
                assert!(
                    torn.allowed.contains(&Some(j)),
                    "{label}: opened to state {j}, allowed {:?}",
                    torn.allowed
                );
                *opened.entry((kind, torn.snap_k - j)).or_default() += 1;
            }
        }
    }
    eprintln!("torn WAL trials: {WAL_TRIALS} (a garbage -shm planted in {shm_planted})");
    let count = |kind: Tear, pred: &dyn Fn(usize) -> bool| -> usize {
        opened
            .iter()
            .filter(|((k, b), _)| *k == kind && pred(*b))
            .map(|(_, n)| n)
            .sum()
    };
    for kind in TEARS {
        let deepest = opened
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, b)| *b)
            .max()
            .unwrap_or(0);
        eprintln!(
            "  {kind:?}: opened with every entry of the snapshot {}, without its last entry {}, \
             further back {} (up to {deepest} entries lost)",
            count(kind, &|b| b == 0),
            count(kind, &|b| b == 1),
            count(kind, &|b| b >= 2)
        );
    }
    for ((kind, e), n) in &errors {
        eprintln!("  {kind:?}: typed error {e}: {n}");
    }
    assert!(count(Tear::CutLast, &|b| b == 1) > 0);
    assert!(count(Tear::CutAnywhere, &|b| b >= 2) > 0);
    assert!(count(Tear::SectorLast, &|b| b == 1) > 0);
    assert!(count(Tear::SectorAnywhere, &|b| b >= 1) > 0);
    assert!(count(Tear::DropWal, &|b| b >= 1) > 0);
    assert!(count(Tear::TornCheckpoint, &|b| b == 0) > 0);
    assert!(!errors.is_empty(), "no trial failed to open");
}

/// Where each entry's body sits in the checkpointed main file, (seq, offset, length), read with
/// SQLite directly from a copy in `dir`.
fn unique_bodies(dir: &Path, sc: &Scenario) -> Vec<(u64, usize, usize)> {
    let copy = dir.join("inspect.db");
    fs::write(&copy, &sc.final_main).expect("copy");
    let conn = rusqlite::Connection::open(&copy).expect("inspect");
    let mut stmt = conn
        .prepare("SELECT seq, body FROM entries")
        .expect("prepare");
    let rows: Vec<(u64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    drop(stmt);
    drop(conn);
    let _ = fs::remove_file(&copy);
    rows.into_iter()
        .filter_map(|(seq, body)| {
            // Bodies long enough to spill to overflow pages are not contiguous, and a
            // cell moved by a page split leaves a stale copy in the old page's free
            // space (the log does not use `secure_delete`): take only bodies found
            // exactly once, which is then the live copy.
            let b = body.as_bytes();
            let mut hits = sc
                .final_main
                .windows(b.len())
                .enumerate()
                .filter(|(_, w)| *w == b)
                .map(|(i, _)| i);
            let at = hits.next()?;
            hits.next().is_none().then_some((seq, at, b.len()))
        })
        .collect()
}

#[test]
fn a_garbled_byte_in_the_main_file_fails_typed_or_changes_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let scs = scenarios(root.path());
    let bodies: Vec<Vec<(u64, usize, usize)>> = scs
        .iter()
        .map(|sc| unique_bodies(root.path(), sc))
        .collect();
    let page_size = 4096;
    let mut rng = Rng(0x6a_4b_1e_d1);
    let mut outcomes: BTreeMap<(bool, String), usize> = BTreeMap::new();
    let mut samples: BTreeMap<String, String> = BTreeMap::new();
    for t in 0..GARBLE_TRIALS {
        let sc = &scs[t % scs.len()];
        let bs = &bodies[t % scs.len()];
        let (seq, off, len) = bs[rng.below(bs.len())];
        let in_page = t % 2 == 1;
        let at = if in_page {
            (off / page_size) * page_size + rng.below(page_size)
        } else {
            off + rng.below(len)
        };
        let mut main = sc.final_main.clone();
        main[at] ^= 1 + rng.below(255) as u8;
        let path = write_files(&root.path().join("trial"), "audit.db", &main, None, None);
        let label = format!(
            "garble trial {t}: byte {at} ({} of entry {seq})",
            if in_page {
                "in the page"
            } else {
                "inside the body"
            }
        );
        let outcome = match guarded(&label, || open_and_read(&path)) {
            Ok(bytes) => {
                assert!(
                    in_page,
                    "{label}: a garbled body went unnoticed ({:?} -> {:?}, export {})",
                    char::from(sc.final_main[at]),
                    char::from(main[at]),
                    if bytes == *sc.exports.last().expect("export") {
                        "as before"
                    } else {
                        "DIFFERENT"
                    }
                );
                assert!(
                    bytes == *sc.exports.last().expect("export"),
                    "{label}: opened and verified to other data"
                );
                "exports as before".to_string()
            }
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        AuditError::NotAnAuditLog
                            | AuditError::Corrupt(_)
                            | AuditError::Storage(_)
                            | AuditError::Chain(_)
                    ),
                    "{label}: unexpected error {e:?}"
                );
                let kind = format!("typed error {}", error_kind(&e));
                samples.entry(kind.clone()).or_insert_with(|| e.to_string());
                kind
            }
        };
        *outcomes.entry((in_page, outcome)).or_default() += 1;
    }
    eprintln!("garbled main file, {GARBLE_TRIALS} trials (half inside a body, half in its page)");
    for ((in_page, o), n) in &outcomes {
        let w = if *in_page {
            "in the page"
        } else {
            "inside a body"
        };
        eprintln!("  {w}: {o}: {n}");
    }
    for (kind, msg) in &samples {
        eprintln!("  e.g. {kind}: {msg}");
    }
    assert!(outcomes.keys().any(|(p, o)| !p && o.starts_with("typed")));
}

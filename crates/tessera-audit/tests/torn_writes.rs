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
use std::path::{Path, PathBuf};

use common::*;
use serde_json::json;
use tessera_audit::{verify_export, AuditError, AuditLog};

const SEEDS: [u64; 4] = [0xa0d1_7001, 0xa0d1_7002, 0x5eed_5eed_5eed, 0x0123_4567_89ab];
const CHAIN: &str = "torn-writes/signer-1";
const APPENDS: usize = 40;
const WAL_TRIALS: usize = 300;
const GARBLE_TRIALS: usize = 200;
const SECTOR: usize = 512;
const WAL_HEADER: usize = 32;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn path_with(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn export(log: &AuditLog) -> Result<Vec<u8>, AuditError> {
    let mut out = Vec::new();
    log.export(&mut out)?;
    Ok(out)
}

/// The log's files right after append `k` (state `k`: `k` entries; state 0 is the new log).
struct Snap {
    k: usize,
    main: Vec<u8>,
    wal: Vec<u8>,
    /// Where append `k`'s frames start in `wal`.
    last_start: usize,
    /// The state the main file holds (the last checkpoint); `None` before the first one.
    checkpointed: Option<usize>,
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
        let wal = fs::read(path_with(&path, "-wal")).unwrap_or_default();
        shm_seen += usize::from(path_with(&path, "-shm").exists());
        let last_start = if wal.len() > *wal_len { *wal_len } else { 0 };
        *wal_len = wal.len();
        Snap {
            k,
            main: fs::read(&path).expect("read main"),
            wal,
            last_start,
            checkpointed,
        }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tear {
    /// The WAL cut at a byte inside the last append's frames.
    CutLast,
    /// The WAL cut anywhere.
    CutAnywhere,
    /// One 512-byte sector overlapping the last append's frames zeroed or filled with garbage.
    SectorLast,
    /// One 512-byte sector anywhere in the WAL zeroed or filled with garbage.
    SectorAnywhere,
    /// The WAL lost entirely.
    DropWal,
    /// A checkpoint cut short: some pages of the main file new, some old, the WAL intact.
    TornCheckpoint,
}

const TEARS: [Tear; 6] = [
    Tear::CutLast,
    Tear::CutAnywhere,
    Tear::SectorLast,
    Tear::SectorAnywhere,
    Tear::DropWal,
    Tear::TornCheckpoint,
];

/// The torn files and the states they may open to (`None`: "no log yet", a typed error).
struct Torn {
    main: Vec<u8>,
    wal: Option<Vec<u8>>,
    allowed: Vec<Option<usize>>,
    snap_k: usize,
    what: String,
}

fn sector(rng: &mut Rng, wal: &mut [u8], lo: usize) -> (usize, usize, bool) {
    // A sector-aligned range overlapping [lo, len), zeroed (if that changes it) or garbled.
    let first = lo / SECTOR;
    let last = (wal.len() - 1) / SECTOR;
    let s = rng.range(first, last + 1) * SECTOR;
    let e = (s + SECTOR).min(wal.len());
    let before = wal[s..e].to_vec();
    let zero = rng.below(2) == 0 && before.iter().any(|b| *b != 0);
    for b in &mut wal[s..e] {
        *b = if zero { 0 } else { rng.next() as u8 };
    }
    let first_changed = (s..e).find(|&i| wal[i] != before[i - s]);
    (first_changed.unwrap_or(usize::MAX), e, zero)
}

fn from_checkpoint(snap: &Snap, hi: usize) -> Vec<Option<usize>> {
    let mut v = Vec::new();
    match snap.checkpointed {
        Some(c) => v.extend((c..=hi).map(Some)),
        None => {
            v.push(None);
            v.extend((0..=hi).map(Some));
        }
    }
    v
}

fn tear(rng: &mut Rng, sc: &Scenario, kind: Tear) -> Option<Torn> {
    let pick = |rng: &mut Rng| &sc.snaps[rng.below(sc.snaps.len())];
    let prev = |k: usize| k.checked_sub(1);
    let torn = |snap: &Snap, main: Vec<u8>, wal, allowed, what| Torn {
        main,
        wal,
        allowed,
        snap_k: snap.k,
        what,
    };
    Some(match kind {
        Tear::CutLast => {
            let snap = pick(rng);
            let at = rng.range(snap.last_start, snap.wal.len());
            // Every earlier frame is intact: exactly the state before the last append.
            let what = format!("state {} WAL cut at {at} of {}", snap.k, snap.wal.len());
            let wal = Some(snap.wal[..at].to_vec());
            torn(snap, snap.main.clone(), wal, vec![prev(snap.k)], what)
        }
        Tear::CutAnywhere => {
            let snap = pick(rng);
            let at = rng.below(snap.wal.len() + 1);
            let allowed = if at == snap.wal.len() {
                vec![Some(snap.k)]
            } else if snap.k == 0 {
                vec![None]
            } else {
                from_checkpoint(snap, snap.k - 1)
            };
            let what = format!("state {} WAL cut at {at} of {}", snap.k, snap.wal.len());
            let wal = Some(snap.wal[..at].to_vec());
            torn(snap, snap.main.clone(), wal, allowed, what)
        }
        Tear::SectorLast | Tear::SectorAnywhere => {
            let snap = pick(rng);
            let mut wal = snap.wal.clone();
            let lo = if kind == Tear::SectorLast {
                snap.last_start
            } else {
                0
            };
            let (changed, end, zero) = sector(rng, &mut wal, lo);
            let allowed = if changed == usize::MAX {
                vec![Some(snap.k)]
            } else if changed >= snap.last_start && snap.last_start > WAL_HEADER {
                vec![prev(snap.k)]
            } else if snap.k == 0 {
                vec![None]
            } else {
                from_checkpoint(snap, snap.k - 1)
            };
            let what = format!(
                "state {} WAL sector ..{end} {} (first change at {changed}, last append from {})",
                snap.k,
                if zero { "zeroed" } else { "garbled" },
                snap.last_start
            );
            torn(snap, snap.main.clone(), Some(wal), allowed, what)
        }
        Tear::DropWal => {
            let snap = pick(rng);
            let what = format!("state {} WAL dropped", snap.k);
            torn(snap, snap.main.clone(), None, vec![snap.checkpointed], what)
        }
        Tear::TornCheckpoint => {
            if sc.closes.is_empty() {
                return None;
            }
            let (i, after) = &sc.closes[rng.below(sc.closes.len())];
            let snap = &sc.snaps[*i];
            let page = 4096;
            let mut main = snap.main.clone();
            let pages = after.len().div_ceil(page);
            let mut replaced = 0;
            for p in 0..pages {
                if rng.below(2) == 0 {
                    let (s, e) = (p * page, ((p + 1) * page).min(after.len()));
                    if main.len() < e {
                        main.resize(e, 0);
                    }
                    main[s..e].copy_from_slice(&after[s..e]);
                    replaced += 1;
                }
            }
            let what = format!(
                "state {} checkpoint torn ({replaced} of {pages} pages new)",
                snap.k
            );
            torn(snap, main, Some(snap.wal.clone()), vec![Some(snap.k)], what)
        }
    })
}

fn write_files(dir: &Path, main: &[u8], wal: Option<&Vec<u8>>, shm: Option<&Vec<u8>>) -> PathBuf {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).expect("trial dir");
    let path = dir.join("audit.db");
    fs::write(&path, main).expect("write main");
    if let Some(wal) = wal {
        fs::write(path_with(&path, "-wal"), wal).expect("write wal");
    }
    if let Some(shm) = shm {
        fs::write(path_with(&path, "-shm"), shm).expect("write shm");
    }
    path
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
        let Some(torn) = tear(&mut rng, sc, kind) else {
            continue;
        };
        t += 1;
        let shm = (rng.below(2) == 0).then(|| rng.bytes(32 * 1024));
        shm_planted += usize::from(shm.is_some());
        let path = write_files(
            &root.path().join("trial"),
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

#[test]
fn a_garbled_byte_in_the_main_file_fails_typed_or_changes_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let scs = scenarios(root.path());
    // Where each entry's body sits in the checkpointed main file (read with SQLite directly,
    // from a copy).
    let bodies: Vec<Vec<(u64, usize, usize)>> = scs
        .iter()
        .map(|sc| {
            let copy = root.path().join("inspect.db");
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
        })
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
        let path = write_files(&root.path().join("trial"), &main, None, None);
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

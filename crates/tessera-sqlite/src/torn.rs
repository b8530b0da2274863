//! Test support (feature `torn`): a store's files as a power cut could leave them.
//!
//! A test copies the main file and the `-wal` of an open store after every commit
//! ([`Snap::take`]), and after each clean close the main file the close's checkpoint wrote.
//! [`tear`] then damages one copy the way a disk could — the WAL cut inside the last commit's
//! frames or anywhere, one 512-byte sector zeroed or garbled, the WAL lost, or a checkpoint cut
//! short (old and new pages of the main file mixed) — and names the committed states the torn
//! copy may legitimately open to. The test reopens it with the store's own open path
//! ([`write_files`] first) and checks it holds exactly one of those states, or fails typed.
//!
//! What decides which frames survive is SQLite's own WAL checksums; these helpers only cut and
//! garble bytes. A disk that lies about `fsync` is outside what they model.

use std::fs;
use std::path::{Path, PathBuf};

/// A sector: the unit a disk writes atomically, or tears.
pub const SECTOR: usize = 512;
/// The WAL file header's length; frames follow it.
pub const WAL_HEADER: usize = 32;
/// SQLite's default page size (the unit of a checkpoint's writes).
pub const PAGE: usize = 4096;

/// A seeded generator (splitmix64): a failing trial replays from its seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "an empty range");
        (self.next_u64() % n as u64) as usize
    }

    /// In `lo..hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo)
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// `path` with `suffix` appended (`-wal`, `-shm`).
pub fn path_with(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// A store's files right after commit `k` (state `k`; state 0 is the store just created).
pub struct Snap {
    /// The commit it was taken after.
    pub k: usize,
    /// The main file.
    pub main: Vec<u8>,
    /// The `-wal` file (empty when there was none).
    pub wal: Vec<u8>,
    /// Where commit `k`'s frames start in `wal` (the WAL's length before it).
    pub last_start: usize,
    /// The state the main file holds (the last checkpoint); `None` before the first one.
    pub checkpointed: Option<usize>,
}

impl Snap {
    /// Copies the files of the open store at `path` after commit `k`; `wal_len` is the WAL's
    /// length at the previous snapshot (0 after a checkpoint), updated.
    pub fn take(path: &Path, k: usize, checkpointed: Option<usize>, wal_len: &mut usize) -> Snap {
        let wal = fs::read(path_with(path, "-wal")).unwrap_or_default();
        let last_start = if wal.len() > *wal_len { *wal_len } else { 0 };
        *wal_len = wal.len();
        Snap {
            k,
            main: fs::read(path).expect("read the main file"),
            wal,
            last_start,
            checkpointed,
        }
    }

    /// States from the checkpointed one (or "no store yet" before any checkpoint) up to `hi`.
    fn states_from_checkpoint(&self, hi: usize) -> Vec<Option<usize>> {
        match self.checkpointed {
            Some(c) => (c..=hi).map(Some).collect(),
            None => std::iter::once(None).chain((0..=hi).map(Some)).collect(),
        }
    }

    /// What a WAL damaged from byte `changed` on (`usize::MAX`: unchanged) may open to.
    fn after_wal_damage(&self, changed: usize, len: usize) -> Vec<Option<usize>> {
        if changed >= len {
            vec![Some(self.k)]
        } else if changed >= self.last_start && self.last_start > WAL_HEADER {
            // Every earlier frame is intact: exactly the state before the last commit.
            vec![self.k.checked_sub(1)]
        } else if self.k == 0 {
            vec![None]
        } else {
            self.states_from_checkpoint(self.k - 1)
        }
    }
}

/// The kinds of damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tear {
    /// The WAL cut at a byte inside the last commit's frames.
    CutLast,
    /// The WAL cut anywhere.
    CutAnywhere,
    /// One 512-byte sector overlapping the last commit's frames zeroed or filled with garbage.
    SectorLast,
    /// One 512-byte sector anywhere in the WAL zeroed or filled with garbage.
    SectorAnywhere,
    /// The WAL lost entirely.
    DropWal,
    /// A checkpoint cut short: some pages of the main file new, some old, the WAL intact.
    TornCheckpoint,
}

/// Every kind, in order.
pub const TEARS: [Tear; 6] = [
    Tear::CutLast,
    Tear::CutAnywhere,
    Tear::SectorLast,
    Tear::SectorAnywhere,
    Tear::DropWal,
    Tear::TornCheckpoint,
];

/// Torn files and the committed states they may legitimately open to (`None` in the list:
/// "no store yet", which must be a typed error).
pub struct Torn {
    /// The main file.
    pub main: Vec<u8>,
    /// The `-wal` file, `None` when lost.
    pub wal: Option<Vec<u8>>,
    /// The states it may open to.
    pub allowed: Vec<Option<usize>>,
    /// The state of the snapshot that was torn.
    pub snap_k: usize,
    /// What was done, for the failure message.
    pub what: String,
}

/// Tears one of `snaps` (or, for [`Tear::TornCheckpoint`], one of `closes`: the index into
/// `snaps` of the last commit before a clean close and the main file after it); `None` when
/// the kind has nothing to tear (no close yet).
pub fn tear(
    rng: &mut Rng,
    snaps: &[Snap],
    closes: &[(usize, Vec<u8>)],
    kind: Tear,
) -> Option<Torn> {
    let pick = |rng: &mut Rng| &snaps[rng.below(snaps.len())];
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
            let what = format!("state {} WAL cut at {at} of {}", snap.k, snap.wal.len());
            let wal = Some(snap.wal[..at].to_vec());
            torn(
                snap,
                snap.main.clone(),
                wal,
                vec![snap.k.checked_sub(1)],
                what,
            )
        }
        Tear::CutAnywhere => {
            let snap = pick(rng);
            let len = snap.wal.len();
            let at = rng.below(len + 1);
            let allowed = snap.after_wal_damage(if at == len { usize::MAX } else { 0 }, len);
            let what = format!("state {} WAL cut at {at} of {len}", snap.k);
            torn(
                snap,
                snap.main.clone(),
                Some(snap.wal[..at].to_vec()),
                allowed,
                what,
            )
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
            let allowed = snap.after_wal_damage(changed, wal.len());
            let what = format!(
                "state {} WAL sector ..{end} {} (first change at {changed}, last commit from {})",
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
        Tear::TornCheckpoint => return tear_checkpoint(rng, snaps, closes),
    })
}

/// A checkpoint cut short: after a clean close, some pages of the main file new, some old, the
/// WAL still there; it must open to the state the close checkpointed.
fn tear_checkpoint(rng: &mut Rng, snaps: &[Snap], closes: &[(usize, Vec<u8>)]) -> Option<Torn> {
    if closes.is_empty() {
        return None;
    }
    let (i, after) = &closes[rng.below(closes.len())];
    let snap = &snaps[*i];
    let (main, replaced, pages) = mix_pages(rng, &snap.main, after);
    Some(Torn {
        main,
        wal: Some(snap.wal.clone()),
        allowed: vec![Some(snap.k)],
        snap_k: snap.k,
        what: format!(
            "state {} checkpoint torn ({replaced} of {pages} pages new)",
            snap.k
        ),
    })
}

/// A sector-aligned range overlapping `[lo, len)` zeroed (only if that changes it: free space
/// in a page is often zero already) or filled with garbage. Returns the first changed byte
/// (`usize::MAX` if none; the WAL is read front to back, so the damage starts there), the
/// range's end and whether it was zeroed.
fn sector(rng: &mut Rng, wal: &mut [u8], lo: usize) -> (usize, usize, bool) {
    let first = lo / SECTOR;
    let last = (wal.len() - 1) / SECTOR;
    let s = rng.range(first, last + 1) * SECTOR;
    let e = (s + SECTOR).min(wal.len());
    let before = wal[s..e].to_vec();
    let zero = rng.below(2) == 0 && before.iter().any(|b| *b != 0);
    for b in &mut wal[s..e] {
        *b = if zero { 0 } else { rng.next_u64() as u8 };
    }
    let first_changed = (s..e).find(|&i| wal[i] != before[i - s]);
    (first_changed.unwrap_or(usize::MAX), e, zero)
}

/// `before` with each page of `after` copied over it at random (a checkpoint cut short);
/// returns the mix, how many pages were copied and how many `after` has.
fn mix_pages(rng: &mut Rng, before: &[u8], after: &[u8]) -> (Vec<u8>, usize, usize) {
    let mut main = before.to_vec();
    let pages = after.len().div_ceil(PAGE);
    let mut replaced = 0;
    for p in 0..pages {
        if rng.below(2) == 0 {
            let (s, e) = (p * PAGE, ((p + 1) * PAGE).min(after.len()));
            if main.len() < e {
                main.resize(e, 0);
            }
            main[s..e].copy_from_slice(&after[s..e]);
            replaced += 1;
        }
    }
    (main, replaced, pages)
}

/// Writes a store's files as `dir/name` (the directory emptied first) and returns its path.
pub fn write_files(
    dir: &Path,
    name: &str,
    main: &[u8],
    wal: Option<&Vec<u8>>,
    shm: Option<&Vec<u8>>,
) -> PathBuf {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).expect("trial dir");
    let path = dir.join(name);
    fs::write(&path, main).expect("write main");
    if let Some(wal) = wal {
        fs::write(path_with(&path, "-wal"), wal).expect("write wal");
    }
    if let Some(shm) = shm {
        fs::write(path_with(&path, "-shm"), shm).expect("write shm");
    }
    path
}

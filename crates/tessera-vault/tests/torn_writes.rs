//! Torn writes (issue 14): the vault files as a power cut could leave them.
//!
//! A seeded scenario makes a sequence of committed writes (shares, epochs, presignatures and
//! their consumption, requests with velocity entries, settings, policy records) and after every
//! commit copies the files of the open vault: the main file and its `-wal` (with
//! `locking_mode = EXCLUSIVE` SQLite keeps the WAL index in memory, so there is normally no
//! `-shm`; half the trials plant a stale one of garbage). Each trial then tears a copy — cuts
//! the WAL inside the last commit's frames or anywhere, zeroes or garbles one 512-byte sector,
//! drops the WAL, or mixes old and new pages of the main file as a checkpoint cut short
//! would — reopens it with [`Vault::open`] and reads everything back. The invariant: the vault
//! either opens to exactly one of the committed states (every record of that prefix there and
//! readable, nothing of a later write) or fails with a typed [`VaultError`]; never a panic,
//! never a state that matches no committed prefix.
//!
//! A tear that drops the frames of a commit rolls the vault back to before that commit, a
//! presignature consumption included: write-ahead logging makes a commit durable only once its
//! commit frame is on disk. The copies are taken after the commit returned, so tearing them
//! stands in for a power cut during that commit, before it returned — when the presignature's
//! secret had not been handed out yet ([`Vault::take_presignature`] releases it only after the
//! commit). Tearing older frames stands in for a disk that loses synced data; the vault then
//! rolls further back, still to a committed state.
//!
//! The second test garbles bytes of the main file (after a checkpoint) inside a sealed record,
//! or anywhere in the page holding it: reading it must give [`VaultError::Corrupt`] (or another
//! typed error), never different data.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use common::*;
use tessera_sqlite::torn::{path_with, tear, write_files, Rng, Snap, Tear, Torn, TEARS};
use tessera_vault::{PolicyRecord, Vault, VaultError, VelocityEntry, WalletRecord};

const NOW: u64 = 1_750_000_000;
const SEEDS: [u64; 4] = [
    0x7e55_e7a1,
    0xdead_beef_0001,
    0x1234_5678_9abc,
    0x0bad_cafe_f00d,
];
const WAL_TRIALS: usize = 300;
const GARBLE_TRIALS: usize = 200;

// ---- deterministic generator ------------------------------------------------------------------

/// `lo..hi` random bytes.
fn bytes_in(rng: &mut Rng, lo: usize, hi: usize) -> Vec<u8> {
    let n = rng.range(lo, hi);
    rng.bytes(n)
}

fn id32(rng: &mut Rng) -> [u8; 32] {
    rng.bytes(32).try_into().expect("32")
}

// ---- the model: what each committed prefix holds ------------------------------------------------

type Share = (u32, Vec<u8>, String);

#[derive(Clone, Default)]
struct Model {
    identity: Option<Vec<u8>>,
    settings: BTreeMap<String, String>,
    committed: BTreeMap<String, Share>,
    prepared: BTreeMap<String, Share>,
    presigs: BTreeMap<[u8; 32], (String, Vec<u8>)>,
    consumed: BTreeSet<[u8; 32]>,
    requests: BTreeSet<String>,
    velocity: BTreeMap<String, Vec<VelocityEntry>>,
    policy: BTreeMap<&'static str, (u64, String)>,
}

/// Every key a vault of the scenario may hold (the observation asks for each).
#[derive(Default)]
struct Universe {
    wallets: BTreeSet<String>,
    settings: BTreeSet<String>,
    presig_ids: BTreeSet<[u8; 32]>,
    requests: BTreeSet<String>,
}

const WALLETS: [&str; 3] = ["w-a", "w-b", "w-c"];
const SETTING_KEYS: [&str; 3] = ["operator-keys", "node-name", "coordinator-url"];
const POLICY: [(PolicyRecord, &str); 3] = [
    (PolicyRecord::Bundle, "bundle"),
    (PolicyRecord::ModeChange, "mode"),
    (PolicyRecord::Freshness, "freshness"),
];
const ASSETS: [&str; 2] = ["ethereum:mainnet:native", "bitcoin:mainnet:native"];

type Obs = BTreeMap<String, Result<String, String>>;

fn share_str(epoch: u32, share: &[u8], public_info: &str) -> String {
    format!("{epoch}:{}:{public_info}", hex::encode(share))
}

fn sort_velocity(v: &mut [VelocityEntry]) {
    v.sort_by(|a, b| {
        (a.at_unix, &a.request_id, a.intent_hash, &a.asset).cmp(&(
            b.at_unix,
            &b.request_id,
            b.intent_hash,
            &b.asset,
        ))
    });
}

impl Model {
    /// The observation a vault holding exactly this state gives.
    fn render(&self) -> Obs {
        let mut o = Obs::new();
        if let Some(id) = &self.identity {
            o.insert("identity".into(), Ok(hex::encode(id)));
        }
        for (k, v) in &self.settings {
            o.insert(format!("setting/{k}"), Ok(v.clone()));
        }
        let mut wallets = Vec::new();
        for (w, (e, s, p)) in &self.committed {
            o.insert(format!("share/{w}"), Ok(share_str(*e, s, p)));
            wallets.push(WalletRecord {
                wallet_id: w.clone(),
                epoch: *e,
                public_info: p.clone(),
                prepared_epoch: self.prepared.get(w).map(|x| x.0),
            });
        }
        o.insert("wallets".into(), Ok(format!("{wallets:?}")));
        for (w, (e, s, p)) in &self.prepared {
            o.insert(format!("prepared/{w}"), Ok(share_str(*e, s, p)));
        }
        for (id, (w, s)) in &self.presigs {
            o.insert(
                format!("presig/{}", hex::encode(id)),
                Ok(format!("{w}:{}", hex::encode(s))),
            );
        }
        for id in &self.consumed {
            o.insert(format!("consumed/{}", hex::encode(id)), Ok("1".into()));
        }
        for r in &self.requests {
            o.insert(format!("request/{r}"), Ok("1".into()));
        }
        for (w, v) in &self.velocity {
            let mut v = v.clone();
            sort_velocity(&mut v);
            o.insert(format!("velocity/{w}"), Ok(format!("{v:?}")));
        }
        for (k, (ver, json)) in &self.policy {
            o.insert(format!("policy/{k}"), Ok(format!("{ver}:{json}")));
        }
        o
    }
}

fn err(e: VaultError) -> String {
    format!("{e:?}")
}

/// Reads everything a vault holds, key by key (an error is recorded under its key). Takes the
/// listed presignatures last to read their secrets: call it only on a throwaway copy.
fn observe(v: &mut Vault, u: &Universe) -> Obs {
    let mut o = Obs::new();
    match v.identity() {
        Ok(None) => {}
        Ok(Some(s)) => {
            o.insert("identity".into(), Ok(hex::encode(&s[..])));
        }
        Err(e) => {
            o.insert("identity".into(), Err(err(e)));
        }
    }
    for k in &u.settings {
        match v.setting(k) {
            Ok(None) => {}
            r => {
                o.insert(format!("setting/{k}"), r.map(Option::unwrap).map_err(err));
            }
        }
    }
    for w in &u.wallets {
        match v.share(w) {
            Ok(None) => {}
            r => {
                let r = r.map(|s| {
                    let s = s.expect("some");
                    assert_eq!(&s.wallet_id, w);
                    share_str(s.epoch, &s.share, &s.public_info)
                });
                o.insert(format!("share/{w}"), r.map_err(err));
            }
        }
        match v.prepared_share(w) {
            Ok(None) => {}
            r => {
                let r = r.map(|s| {
                    let s = s.expect("some");
                    share_str(s.epoch, &s.share, &s.public_info)
                });
                o.insert(format!("prepared/{w}"), r.map_err(err));
            }
        }
        match v.velocity_entries(w, 0) {
            Ok(e) if e.is_empty() => {}
            r => {
                o.insert(
                    format!("velocity/{w}"),
                    r.map(|e| format!("{e:?}")).map_err(err),
                );
            }
        }
    }
    o.insert(
        "wallets".into(),
        v.wallets().map(|w| format!("{w:?}")).map_err(err),
    );
    for id in &u.presig_ids {
        match v.is_consumed(id) {
            Ok(false) => {}
            r => {
                o.insert(
                    format!("consumed/{}", hex::encode(id)),
                    r.map(|_| "1".to_string()).map_err(err),
                );
            }
        }
    }
    for r in &u.requests {
        match v.has_request(r) {
            Ok(false) => {}
            res => {
                o.insert(
                    format!("request/{r}"),
                    res.map(|_| "1".to_string()).map_err(err),
                );
            }
        }
    }
    for (which, k) in POLICY {
        match v.policy(which) {
            Ok(None) => {}
            r => {
                o.insert(
                    format!("policy/{k}"),
                    r.map(|p| {
                        let p = p.expect("some");
                        format!("{}:{}", p.version, p.json)
                    })
                    .map_err(err),
                );
            }
        }
    }
    // Presignatures last: taking one is what proves it usable (and consumes it in this copy).
    let mut listed = Vec::new();
    for w in &u.wallets {
        match v.presignature_ids(w) {
            Ok(ids) => listed.extend(ids.into_iter().map(|id| (w.clone(), id))),
            Err(e) => {
                o.insert(format!("presig-list/{w}"), Err(err(e)));
            }
        }
    }
    for (w, id) in listed {
        let r = v
            .take_presignature(&w, &id)
            .map(|s| format!("{w}:{}", hex::encode(&s[..])))
            .map_err(err);
        o.insert(format!("presig/{}", hex::encode(id)), r);
    }
    o
}

// ---- a scenario: committed writes and the files after each ---------------------------------------

struct Scenario {
    universe: Universe,
    states: Vec<Obs>,
    snaps: Vec<Snap>,
    /// (index into `snaps` of the last commit before a close, the main file after the close's
    /// checkpoint).
    closes: Vec<(usize, Vec<u8>)>,
    shm_seen: usize,
    /// The `-shm` after the first commit, if SQLite left one (it does not, under exclusive
    /// locking; kept so a change there shows).
    first_shm: Option<Vec<u8>>,
    /// The model after the last commit and the main file after the final close.
    last: Model,
    final_main: Vec<u8>,
}

fn read_opt(p: &Path) -> Option<Vec<u8>> {
    fs::read(p).ok()
}

fn velocity_for(rng: &mut Rng, request: &str, wallet: &str) -> Vec<VelocityEntry> {
    let n = 1 + rng.below(2);
    (0..n)
        .map(|i| VelocityEntry {
            request_id: request.to_string(),
            intent_hash: id32(rng),
            wallet_id: wallet.to_string(),
            asset: ASSETS[i].to_string(),
            amount: (1 + rng.next_u64() % 1_000_000_000_000).to_string(),
            at_unix: NOW - rng.below(86_400) as u64,
        })
        .collect()
}

/// One random write that succeeds, applied to the vault and the model. Returns false if the
/// chosen kind does not apply now (nothing was written).
fn step(v: &mut Vault, m: &mut Model, u: &mut Universe, rng: &mut Rng, n: usize) -> bool {
    let w = WALLETS[rng.below(WALLETS.len())].to_string();
    match rng.below(12) {
        0 => {
            let s = bytes_in(rng, 32, 64);
            v.put_identity(&s).expect("identity");
            m.identity = Some(s);
        }
        1 => {
            let k = SETTING_KEYS[rng.below(3)].to_string();
            let val = hex::encode(bytes_in(rng, 4, 200));
            v.put_setting(&k, &val).expect("setting");
            u.settings.insert(k.clone());
            m.settings.insert(k, val);
        }
        2 | 3 => epoch_step(v, m, u, rng, w),
        4 | 5 => {
            let id = id32(rng);
            let s = bytes_in(rng, 200, 700);
            v.put_presignature(&w, &id, &s).expect("put presig");
            u.wallets.insert(w.clone());
            u.presig_ids.insert(id);
            m.presigs.insert(id, (w, s));
        }
        6 => {
            let Some(id) = m.presigs.keys().next().copied() else {
                return false;
            };
            take_step(v, m, u, rng, id, None);
        }
        7 => {
            let Some(id) = m.presigs.keys().last().copied() else {
                return false;
            };
            take_step(v, m, u, rng, id, Some(format!("req-{n}")));
        }
        8 | 9 => {
            let r = format!("req-{n}");
            let vel = velocity_for(rng, &r, &w);
            v.complete_request(&r, NOW + 3_600, NOW, &vel)
                .expect("complete");
            u.wallets.insert(w.clone());
            u.requests.insert(r.clone());
            m.requests.insert(r);
            m.velocity.entry(w).or_default().extend(vel);
        }
        10 => {
            let (which, k) = POLICY[rng.below(3)];
            let ver = m.policy.get(k).map_or(1, |p| p.0 + 1 + rng.below(3) as u64);
            let json = format!(
                "{{\"v\":{ver},\"pad\":\"{}\"}}",
                hex::encode(bytes_in(rng, 10, 600))
            );
            v.put_policy(which, ver, &json).expect("policy");
            m.policy.insert(k, (ver, json));
        }
        _ => return destroy_step(v, m, &w),
    }
    true
}

/// A new wallet (key generation) or, for one held, a refresh: prepare, then commit.
fn epoch_step(v: &mut Vault, m: &mut Model, u: &mut Universe, rng: &mut Rng, w: String) {
    if let Some((e, _, _)) = m.committed.get(&w).cloned() {
        if let Some((pe, ps, pp)) = m.prepared.get(&w).cloned() {
            v.commit_epoch(&w, pe).expect("commit epoch");
            m.prepared.remove(&w);
            m.committed.insert(w.clone(), (pe, ps, pp));
        } else {
            let s = bytes_in(rng, 100, 900);
            let p = format!(
                "{{\"pk\":\"{}\",\"epoch\":{}}}",
                hex::encode(rng.bytes(33)),
                e + 1
            );
            v.prepare_share(&w, e + 1, &s, &p).expect("prepare");
            m.prepared.insert(w.clone(), (e + 1, s, p));
        }
    } else {
        let s = bytes_in(rng, 100, 900);
        let p = format!("{{\"pk\":\"{}\",\"epoch\":0}}", hex::encode(rng.bytes(33)));
        v.put_share(&w, 0, &s, &p).expect("put share");
        u.wallets.insert(w.clone());
        m.committed.insert(w.clone(), (0, s, p));
    }
}

/// Takes presignature `id`; with a request, together with it and its velocity entries.
fn take_step(
    v: &mut Vault,
    m: &mut Model,
    u: &mut Universe,
    rng: &mut Rng,
    id: [u8; 32],
    request: Option<String>,
) {
    let (w, s) = m.presigs.remove(&id).expect("held");
    let got = match &request {
        None => v.take_presignature(&w, &id).expect("take"),
        Some(r) => {
            let vel = velocity_for(rng, r, &w);
            let got = v
                .take_presignature_for(&w, &id, &id32(rng), r, NOW + 3_600, NOW, &vel)
                .expect("take for");
            u.requests.insert(r.clone());
            m.requests.insert(r.clone());
            m.velocity.entry(w.clone()).or_default().extend(vel);
            got
        }
    };
    assert_eq!(&got[..], &s[..]);
    m.consumed.insert(id);
}

/// Destroys every presignature of `w` (false when it holds none: no commit).
fn destroy_step(v: &mut Vault, m: &mut Model, w: &str) -> bool {
    let ids: Vec<[u8; 32]> = m
        .presigs
        .iter()
        .filter(|(_, (pw, _))| pw == w)
        .map(|(id, _)| *id)
        .collect();
    if ids.is_empty() {
        return false;
    }
    assert_eq!(v.destroy_presignatures(w).expect("destroy"), ids.len());
    for id in ids {
        m.presigs.remove(&id);
        m.consumed.insert(id);
    }
    true
}

fn build_scenario(seed: u64, commits: usize, dir: &Path) -> Scenario {
    let mut rng = Rng(seed);
    let path = vault_path(dir);
    let mut v = new_vault(dir);
    let mut m = Model::default();
    let mut u = Universe::default();
    let mut states = Vec::new();
    let mut snaps = Vec::new();
    let mut closes = Vec::new();
    let mut checkpointed = None;
    let mut wal_len = 0;
    let mut shms = Vec::new();
    let mut snapshot = |k: usize, checkpointed: Option<usize>, wal_len: &mut usize| {
        shms.push(read_opt(&path_with(&path, "-shm")));
        Snap::take(&path, k, checkpointed, wal_len)
    };
    let mut models = vec![m.clone()];
    snaps.push(snapshot(0, checkpointed, &mut wal_len));
    let mut n = 0;
    while models.len() <= commits {
        n += 1;
        if !step(&mut v, &mut m, &mut u, &mut rng, n) {
            continue;
        }
        let k = models.len();
        models.push(m.clone());
        snaps.push(snapshot(k, checkpointed, &mut wal_len));
        // Now and then close (a checkpoint, the WAL removed) and reopen.
        if k < commits && rng.below(9) == 0 {
            drop(v);
            assert!(
                !path_with(&path, "-wal").exists(),
                "a clean close removes the WAL"
            );
            closes.push((snaps.len() - 1, fs::read(&path).expect("read main")));
            checkpointed = Some(k);
            wal_len = 0;
            v = reopen(dir);
        }
    }
    // The live vault agrees with the model (non-destructive part of the observation).
    let final_obs = models[commits].render();
    assert_eq!(
        v.wallets().map(|w| format!("{w:?}")).ok(),
        final_obs.get("wallets").cloned().and_then(Result::ok)
    );
    drop(v);
    states.extend(models.iter().map(Model::render));
    let shm_seen = shms.iter().flatten().count();
    let first_shm = shms.swap_remove(0);
    Scenario {
        universe: u,
        states,
        snaps,
        closes,
        shm_seen,
        first_shm,
        last: m,
        final_main: fs::read(&path).expect("read main"),
    }
}

// ---- tearing ----------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    /// (tear, how many commits back from the snapshot it opened to) -> trials.
    opened: BTreeMap<(Tear, usize), usize>,
    /// (tear, error) -> trials.
    errors: BTreeMap<(Tear, String), usize>,
    shm_kept: usize,
    consumption_undone: usize,
}

fn error_kind(e: &VaultError) -> String {
    let s = format!("{e:?}");
    s.split(['(', ' ', '{']).next().unwrap_or("").to_string()
}

fn write_torn(dir: &Path, torn: &Torn, shm: Option<&Vec<u8>>) -> PathBuf {
    let name = vault_path(Path::new("")).display().to_string();
    write_files(dir, &name, &torn.main, torn.wal.as_ref(), shm)
}

/// A torn copy that failed to open or read: a typed error, and only where no committed state
/// is on disk.
fn check_failed(label: &str, torn: &Torn, kind: Tear, e: &VaultError, tally: &mut Tally) {
    assert!(
        matches!(
            e,
            VaultError::NotAVault | VaultError::Corrupt(_) | VaultError::Storage(_)
        ),
        "{label}: unexpected error {e:?}"
    );
    assert!(
        torn.allowed.contains(&None),
        "{label}: failed although a committed state is on disk: {e:?}"
    );
    *tally.errors.entry((kind, error_kind(e))).or_default() += 1;
}

/// A torn copy that opened: every record readable and exactly one allowed committed state.
fn check_opened(label: &str, sc: &Scenario, torn: &Torn, kind: Tear, obs: &Obs, tally: &mut Tally) {
    if let Some((key, e)) = obs
        .iter()
        .find_map(|(k, r)| r.as_ref().err().map(|e| (k, e)))
    {
        panic!("{label}: opened, but reading `{key}` failed: {e}");
    }
    let matched = (0..sc.states.len()).rev().find(|&j| sc.states[j] == *obs);
    let Some(j) = matched else {
        let snap_k = torn.snap_k;
        let exp = &sc.states[snap_k];
        let diff: Vec<_> = exp
            .keys()
            .chain(obs.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|k| exp.get(*k) != obs.get(*k))
            .collect();
        panic!("{label}: opened to a state matching no committed prefix; differs from state {snap_k} in {diff:?}");
    };
    assert!(
        torn.allowed.contains(&Some(j)),
        "{label}: opened to state {j}, allowed {:?}",
        torn.allowed
    );
    *tally.opened.entry((kind, torn.snap_k - j)).or_default() += 1;
    // A consumption the tear undid: the presignature is back, as the disk holds it.
    let undone = sc.states[torn.snap_k].keys().any(|k| {
        k.strip_prefix("consumed/")
            .is_some_and(|id| obs.contains_key(&format!("presig/{id}")))
    });
    tally.consumption_undone += usize::from(undone);
}

#[test]
fn torn_wal_writes_open_to_a_committed_prefix_or_fail_typed() {
    let root = tmp();
    let scenarios: Vec<Scenario> = SEEDS
        .iter()
        .enumerate()
        .map(|(i, seed)| {
            let d = root.path().join(format!("scenario-{i}"));
            fs::create_dir_all(&d).expect("mkdir");
            build_scenario(*seed, 40, &d)
        })
        .collect();
    let shm_seen: usize = scenarios.iter().map(|s| s.shm_seen).sum();
    let closes: usize = scenarios.iter().map(|s| s.closes.len()).sum();
    eprintln!(
        "{} scenarios, {} snapshots, {closes} clean closes, -shm present in {shm_seen} snapshots",
        scenarios.len(),
        scenarios.iter().map(|s| s.snaps.len()).sum::<usize>()
    );
    let mut rng = Rng(0x70_12_4e_57);
    let mut tally = Tally::default();
    let mut t = 0;
    while t < WAL_TRIALS {
        let sc = &scenarios[t % scenarios.len()];
        let kind = TEARS[rng.below(TEARS.len())];
        let Some(torn) = tear(&mut rng, &sc.snaps, &sc.closes, kind) else {
            continue;
        };
        t += 1;
        // The snapshots hold no `-shm` (the WAL index lives in memory under exclusive locking):
        // in half the trials, plant a stale one of garbage, as a crash could leave it.
        let planted = (rng.below(2) == 0).then(|| rng.bytes(32 * 1024));
        let shm = sc.first_shm.as_ref().or(planted.as_ref());
        tally.shm_kept += usize::from(shm.is_some());
        let dir = root.path().join("trial");
        let path = write_torn(&dir, &torn, shm);
        let label = format!("trial {t} ({kind:?}, {})", torn.what);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            Vault::open(&path, &pass()).map(|mut v| observe(&mut v, &sc.universe))
        }));
        let outcome = match outcome {
            Ok(o) => o,
            Err(p) => {
                eprintln!("PANIC in {label}");
                resume_unwind(p)
            }
        };
        match outcome {
            Err(e) => check_failed(&label, &torn, kind, &e, &mut tally),
            Ok(obs) => check_opened(&label, sc, &torn, kind, &obs, &mut tally),
        }
    }
    eprintln!(
        "torn WAL trials: {WAL_TRIALS} (a garbage -shm planted in {})",
        tally.shm_kept
    );
    for kind in TEARS {
        let n = |pred: &dyn Fn(usize) -> bool| -> usize {
            tally
                .opened
                .iter()
                .filter(|((k, b), _)| *k == kind && pred(*b))
                .map(|(_, n)| n)
                .sum()
        };
        let deepest = tally
            .opened
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, b)| *b)
            .max()
            .unwrap_or(0);
        eprintln!(
            "  {kind:?}: opened to the snapshot's own state {}, to the one before it {}, \
             further back {} (up to {deepest} commits)",
            n(&|b| b == 0),
            n(&|b| b == 1),
            n(&|b| b >= 2)
        );
    }
    for ((kind, e), n) in &tally.errors {
        eprintln!("  {kind:?}: typed error {e}: {n}");
    }
    eprintln!(
        "  opened with a presignature consumed in the snapshot usable again (its commit lost): {}",
        tally.consumption_undone
    );
    // Each tear must bite: the last commit is lost, older states come back, and some copies
    // cannot open at all.
    let opened_back = |k: Tear, pred: &dyn Fn(usize) -> bool| -> usize {
        tally
            .opened
            .iter()
            .filter(|((kk, b), _)| *kk == k && pred(*b))
            .map(|(_, n)| n)
            .sum()
    };
    assert!(
        opened_back(Tear::CutLast, &|b| b == 1) > 0,
        "a cut never lost the last commit"
    );
    assert!(
        opened_back(Tear::CutAnywhere, &|b| b >= 2) > 0,
        "a cut never went further back"
    );
    assert!(
        opened_back(Tear::SectorLast, &|b| b == 1) > 0,
        "a sector never lost the last commit"
    );
    assert!(opened_back(Tear::SectorAnywhere, &|b| b >= 1) > 0);
    assert!(
        opened_back(Tear::DropWal, &|b| b >= 1) > 0,
        "dropping the WAL never rolled back"
    );
    assert!(opened_back(Tear::TornCheckpoint, &|b| b == 0) > 0);
    assert!(!tally.errors.is_empty(), "no trial failed to open");
}

// ---- garbled bytes in the main file --------------------------------------------------------------

/// A sealed value in the checkpointed main file: where it is and which observation keys read it.
struct SealedAt {
    offset: usize,
    len: usize,
    keys: Vec<String>,
    table: &'static str,
}

fn find_unique(hay: &[u8], needle: &[u8]) -> usize {
    let mut hits = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i);
    let first = hits.next().expect("sealed value in the file");
    assert!(hits.next().is_none(), "sealed value found twice");
    first
}

/// Locates every sealed value of the final main file (read with SQLite directly, from a copy).
fn sealed_values(main: &[u8], m: &Model, dir: &Path) -> Vec<SealedAt> {
    let copy = dir.join("inspect.db");
    fs::write(&copy, main).expect("copy");
    let conn = rusqlite::Connection::open(&copy).expect("inspect");
    let mut out = Vec::new();
    let mut add =
        |table: &'static str, sql: &str, keys: &dyn Fn(&rusqlite::Row<'_>) -> Vec<String>| {
            let mut stmt = conn.prepare(sql).expect("prepare");
            let mut rows = stmt.query([]).expect("query");
            while let Some(r) = rows.next().expect("row") {
                let sealed: Vec<u8> = r.get("sealed").expect("sealed");
                out.push(SealedAt {
                    offset: find_unique(main, &sealed),
                    len: sealed.len(),
                    keys: keys(r),
                    table,
                });
            }
        };
    add("identity", "SELECT sealed FROM identity", &|_| {
        vec!["identity".into()]
    });
    add("settings", "SELECT key, sealed FROM settings", &|r| {
        vec![format!("setting/{}", r.get::<_, String>(0).expect("key"))]
    });
    add(
        "shares",
        "SELECT wallet_id, epoch, sealed FROM shares",
        &|r| {
            let w: String = r.get(0).expect("w");
            let e: u32 = r.get(1).expect("e");
            if m.committed.get(&w).is_some_and(|c| c.0 == e) {
                vec![format!("share/{w}"), "wallets".into()]
            } else if m.prepared.get(&w).is_some_and(|c| c.0 == e) {
                vec![format!("prepared/{w}"), "wallets".into()]
            } else {
                vec![] // an older epoch: not read by anything observed
            }
        },
    );
    add("epochs", "SELECT wallet_id, sealed FROM epochs", &|r| {
        // The committed epoch: read by the share, the prepared share and the wallet list.
        let w: String = r.get(0).expect("w");
        vec![
            format!("share/{w}"),
            format!("prepared/{w}"),
            "wallets".into(),
        ]
    });
    add(
        "presignatures",
        "SELECT id, sealed FROM presignatures",
        &|r| {
            vec![format!(
                "presig/{}",
                hex::encode(r.get::<_, Vec<u8>>(0).expect("id"))
            )]
        },
    );
    add("velocity", "SELECT wallet_id, sealed FROM velocity", &|r| {
        vec![format!("velocity/{}", r.get::<_, String>(0).expect("w"))]
    });
    add("policy", "SELECT kind, sealed FROM policy", &|r| {
        vec![format!("policy/{}", r.get::<_, String>(0).expect("kind"))]
    });
    drop(conn);
    let _ = fs::remove_file(&copy);
    out.retain(|s| !s.keys.is_empty());
    out
}

#[test]
fn a_garbled_sealed_record_in_the_main_file_reads_as_corrupt_never_as_other_data() {
    let root = tmp();
    let mut scenarios = Vec::new();
    for (i, seed) in SEEDS.iter().enumerate() {
        let d = root.path().join(format!("scenario-{i}"));
        fs::create_dir_all(&d).expect("mkdir");
        let sc = build_scenario(*seed, 40, &d);
        let sealed = sealed_values(&sc.final_main, &sc.last, root.path());
        scenarios.push((sc, sealed));
    }
    let page_size = usize::from(u16::from_be_bytes([
        scenarios[0].0.final_main[16],
        scenarios[0].0.final_main[17],
    ]));
    let mut rng = Rng(0x6a_4b_1e_d0);
    // Targeted: a byte inside the sealed value. Reading the record must be `Corrupt`; every
    // other record reads as before.
    let mut by_table: BTreeMap<&str, usize> = BTreeMap::new();
    // Anywhere in the page that holds the sealed value: per record read, as before / a typed
    // error / gone (its plain key column was hit); never other data.
    let (mut same, mut typed, mut gone, mut open_failed) =
        (0, 0, 0, BTreeMap::<String, usize>::new());
    for t in 0..GARBLE_TRIALS {
        let (sc, sealed) = &scenarios[t % scenarios.len()];
        // A table first, then one of its sealed values (the velocity ledger has the most rows).
        let tables: BTreeSet<&str> = sealed.iter().map(|x| x.table).collect();
        let table = *tables.iter().nth(rng.below(tables.len())).expect("a table");
        let rows: Vec<&SealedAt> = sealed.iter().filter(|x| x.table == table).collect();
        let target = rows[rng.below(rows.len())];
        let in_page = t % 2 == 1;
        let mut main = sc.final_main.clone();
        let at = if in_page {
            let page = target.offset / page_size;
            page * page_size + rng.below(page_size)
        } else {
            target.offset + rng.below(target.len)
        };
        main[at] ^= 1 + rng.below(255) as u8;
        let torn = Torn {
            main,
            wal: None,
            allowed: vec![],
            snap_k: 0,
            what: String::new(),
        };
        let dir = root.path().join("trial");
        let path = write_torn(&dir, &torn, None);
        let label = format!(
            "garble trial {t}: byte {at} ({} of {} `{:?}`)",
            if in_page {
                "in the page"
            } else {
                "inside the sealed value"
            },
            target.table,
            target.keys
        );
        let res = catch_unwind(AssertUnwindSafe(|| {
            Vault::open(&path, &pass()).map(|mut v| observe(&mut v, &sc.universe))
        }));
        let res = match res {
            Ok(r) => r,
            Err(p) => {
                eprintln!("PANIC in {label}");
                resume_unwind(p)
            }
        };
        let exp = sc.last.render();
        let obs = match res {
            Ok(obs) => obs,
            Err(e) => {
                assert!(in_page, "{label}: the vault did not open: {e:?}");
                assert!(
                    matches!(e, VaultError::Corrupt(_) | VaultError::Storage(_)),
                    "{label}: {e:?}"
                );
                *open_failed.entry(error_kind(&e)).or_default() += 1;
                continue;
            }
        };
        let keys: BTreeSet<&String> = exp.keys().chain(obs.keys()).collect();
        let (mut failed, mut vanished) = (0, 0);
        for k in keys {
            match (exp.get(k), obs.get(k)) {
                (a, b) if a == b => assert!(
                    in_page || !target.keys.contains(k),
                    "{label}: `{k}` still reads as before"
                ),
                (_, Some(Err(e))) => {
                    assert!(
                        e.starts_with("Corrupt") || (in_page && e.starts_with("Storage")),
                        "{label}: `{k}`: {e}"
                    );
                    assert!(
                        in_page || target.keys.contains(k),
                        "{label}: `{k}` was not hit but fails: {e}"
                    );
                    failed += 1;
                }
                // Only a plain key column can make a record disappear (its seal no longer
                // opens under the changed key, which is where it then shows up).
                (Some(Ok(_)), None) if in_page => vanished += 1,
                (a, b) => panic!("{label}: `{k}` should be {a:?}, reads {b:?}"),
            }
        }
        if in_page {
            match (failed, vanished) {
                (0, 0) => same += 1,
                (_, 0) => typed += 1,
                _ => gone += 1,
            }
        } else {
            for k in &target.keys {
                assert!(
                    matches!(obs.get(k), Some(Err(_))),
                    "{label}: `{k}` did not fail"
                );
            }
            *by_table.entry(target.table).or_default() += 1;
        }
    }
    eprintln!(
        "garbled main file, {GARBLE_TRIALS} trials (half inside a sealed value, half anywhere \
         in its page)"
    );
    eprintln!(
        "  inside a sealed value: Corrupt on read in every trial; trials by table: {by_table:?}"
    );
    eprintln!(
        "  anywhere in the page: everything reads as before {same} (unused bytes), typed error \
         on read {typed}, a record gone {gone}, vault did not open {open_failed:?}"
    );
    assert!(by_table.len() >= 7, "too few tables hit: {by_table:?}");
    assert!(typed > 0, "a garbled page never gave a typed error");
}

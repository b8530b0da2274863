//! The simulated machines: real [`Signer`]s over real vaults and audit logs on disk, a virtual
//! clock, and an outbox that collects what each signer sends.
//!
//! A crash is a process kill at a step boundary: the node's files are copied as they are at
//! that moment (every session is waiting, so no write is in progress and the copy is exactly
//! what a killed process leaves on disk), and a new incarnation starts over the copy. The old
//! incarnation is cut off: what it sends afterwards is discarded, and its files are no longer
//! the node's.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tessera_audit::AuditLog;
use tessera_node::signer::{operators_setting, policy_admins_setting, settings};
use tessera_node::{audit_chain_id, Outbound, PrimeSource, Signer, SignerOptions};
use tessera_policy::AdminSet;
use tessera_proto::link::{FromSigner, Member, ToSigner};
use tessera_proto::Clock;
use tessera_vault::{KdfParams, Unlock, Vault};
use tessera_wire::{IdentityKey, OperatorPublic, SignedIdentity};

use crate::tasks::Tasks;

const PASSPHRASE: &str = "simulated signer";
const VAULT: &str = "vault.db";
const AUDIT: &str = "audit.db";
/// Longest a signer's sessions may take to come to wait after one delivery.
const STEP_LIMIT: Duration = Duration::from_secs(60);

/// Virtual time: moves only when the simulation moves it.
pub struct SimClock {
    ms: AtomicU64,
}

impl SimClock {
    /// A clock reading `start_ms`.
    pub fn at(start_ms: u64) -> SimClock {
        SimClock {
            ms: AtomicU64::new(start_ms),
        }
    }

    /// Moves time forward.
    pub fn advance(&self, ms: u64) {
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        self.ms.load(Ordering::SeqCst)
    }
}

/// What a signer sent, tagged with the node and the incarnation that sent it.
type Sent = (usize, u32, FromSigner);

/// One machine.
pub struct Node {
    /// Its identity (roster entry).
    pub signed: SignedIdentity,
    dir: PathBuf,
    incarnation: u32,
    signer: Option<Signer>,
    tasks: Arc<Tasks>,
    audit: Arc<AuditLog>,
    /// Its current link to the coordinator: where its answers go.
    link: Outbound,
    /// Crashed incarnations, kept so their threads can be told to end.
    dead: Vec<Signer>,
}

/// The cluster's machines.
pub struct World {
    root: PathBuf,
    pub nodes: Vec<Node>,
    pub clock: Arc<SimClock>,
    outbox: Arc<Mutex<Vec<Sent>>>,
}

/// A signer's sessions did not come to wait: the step cannot complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckNode(pub usize);

fn unlock() -> Unlock {
    Unlock::passphrase(PASSPHRASE)
}

fn node_dir(root: &Path, i: usize, incarnation: u32) -> PathBuf {
    root.join(format!("node-{i}-{incarnation}"))
}

impl World {
    /// `identities.len()` new signers in `root`, trusting `operator`, configured with `admins`.
    pub fn create(
        root: &Path,
        identities: &[IdentityKey],
        operator: OperatorPublic,
        admins: &AdminSet,
        clock: Arc<SimClock>,
    ) -> World {
        let mut w = World::empty(root, clock);
        for (i, key) in identities.iter().enumerate() {
            let dir = node_dir(root, i, 0);
            std::fs::create_dir_all(&dir).expect("node directory");
            let mut vault =
                Vault::create(&dir.join(VAULT), &unlock(), KdfParams::insecure_for_tests())
                    .expect("vault");
            vault.put_identity(&key.to_bytes()).expect("identity");
            vault
                .put_setting(settings::OPERATORS, &operators_setting(&[operator]))
                .expect("operators");
            vault
                .put_setting(settings::POLICY_ADMINS, &policy_admins_setting(admins))
                .expect("admins");
            let signed = key.signed_identity();
            let chain = audit_chain_id(&signed.identity.node_id());
            let audit = Arc::new(AuditLog::create(&dir.join(AUDIT), &chain).expect("audit log"));
            w.push_node(signed, dir, vault, audit);
        }
        w
    }

    /// Signers over copies of the closed `template`'s files.
    pub fn copy_of(template: &World, root: &Path, clock: Arc<SimClock>) -> World {
        let mut w = World::empty(root, clock);
        for (i, n) in template.nodes.iter().enumerate() {
            let dir = node_dir(root, i, 0);
            copy_files(&n.dir, &dir);
            let vault = Vault::open(&dir.join(VAULT), &unlock()).expect("vault copy");
            let audit = Arc::new(AuditLog::open(&dir.join(AUDIT)).expect("audit copy"));
            w.push_node(n.signed, dir, vault, audit);
        }
        w
    }

    fn empty(root: &Path, clock: Arc<SimClock>) -> World {
        let _ = std::fs::remove_dir_all(root);
        std::fs::create_dir_all(root).expect("simulation directory");
        World {
            root: root.to_path_buf(),
            nodes: Vec::new(),
            clock,
            outbox: Arc::default(),
        }
    }

    fn push_node(
        &mut self,
        signed: SignedIdentity,
        dir: PathBuf,
        vault: Vault,
        audit: Arc<AuditLog>,
    ) {
        self.nodes.push(Node {
            signed,
            dir,
            incarnation: 0,
            signer: None,
            link: Arc::new(|_| {}),
            tasks: Arc::default(),
            audit,
            dead: Vec::new(),
        });
        let i = self.nodes.len() - 1;
        self.start(i, vault);
    }

    /// A new link for node `i`'s current incarnation: what it sends is tagged with both.
    fn new_link(&self, i: usize) -> Outbound {
        let outbox = self.outbox.clone();
        let incarnation = self.nodes[i].incarnation;
        Arc::new(move |f| {
            outbox
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((i, incarnation, f))
        })
    }

    /// Node `i`'s link to the coordinator drops (its sessions of that link are aborted) and a
    /// new one comes up.
    pub fn drop_link(&mut self, i: usize) -> Result<(), StuckNode> {
        let link = self.new_link(i);
        let n = &mut self.nodes[i];
        let old = std::mem::replace(&mut n.link, link);
        if let Some(signer) = &n.signer {
            signer.link_lost(&old);
        }
        n.tasks.wait_idle(STEP_LIMIT).map_err(|_| StuckNode(i))
    }

    fn start(&mut self, i: usize, vault: Vault) {
        let link = self.new_link(i);
        let n = &mut self.nodes[i];
        n.link = link;
        n.tasks = Arc::default();
        let signer = Signer::new(
            vault,
            n.audit.clone(),
            self.clock.clone(),
            PrimeSource::None,
            n.tasks.clone(),
            SignerOptions::default(),
        )
        .expect("signer starts");
        n.signer = Some(signer);
    }

    /// The directory of this world's files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The roster of the group (party index = node index).
    pub fn roster(&self) -> Vec<Member> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Member {
                index: i as u16,
                identity: n.signed.identity,
                proof: n.signed.proof.to_vec(),
            })
            .collect()
    }

    /// Node `i`'s current audit log.
    pub fn audit(&self, i: usize) -> &AuditLog {
        &self.nodes[i].audit
    }

    /// Node `i`'s current signer.
    pub fn signer(&self, i: usize) -> Option<&Signer> {
        self.nodes[i].signer.as_ref()
    }

    /// Hands `frame` to node `i` and waits until its sessions all wait again.
    pub fn deliver(&self, i: usize, frame: ToSigner) -> Result<(), StuckNode> {
        let n = &self.nodes[i];
        let Some(signer) = &n.signer else {
            return Ok(());
        };
        signer.handle(frame, &n.link);
        n.tasks.wait_idle(STEP_LIMIT).map_err(|_| StuckNode(i))
    }

    /// What the current incarnations sent since the last call: each session's frames in the
    /// order it sent them, sessions by node and id. (One input can wake several sessions at
    /// once — a dropped link aborts all of its sessions — and their threads answer in any
    /// order; sorted, the order is the seed's alone.)
    pub fn take_sent(&self) -> Vec<(usize, FromSigner)> {
        let mut sent = std::mem::take(&mut *self.outbox.lock().unwrap_or_else(|e| e.into_inner()));
        sent.sort_by_key(|(i, _, f)| (*i, session_of(f)));
        sent.into_iter()
            .filter(|(i, inc, _)| self.nodes[*i].incarnation == *inc)
            .map(|(i, _, f)| (i, f))
            .collect()
    }

    /// Kills node `i` and starts it again over what the kill left on disk. `sessions` (those
    /// it may be running) are then aborted at the dead incarnation, only so its threads end.
    pub fn crash(&mut self, i: usize, sessions: &[[u8; 32]]) {
        let inc = self.nodes[i].incarnation + 1;
        let dir = node_dir(&self.root, i, inc);
        copy_files(&self.nodes[i].dir, &dir);
        let n = &mut self.nodes[i];
        n.incarnation = inc;
        n.dir = dir.clone();
        if let Some(old) = n.signer.take() {
            let nowhere: Outbound = Arc::new(|_| {});
            for s in sessions {
                old.handle(
                    ToSigner::Abort {
                        session: *s,
                        reason: "crashed".into(),
                    },
                    &nowhere,
                );
            }
            n.dead.push(old);
        }
        n.audit = Arc::new(AuditLog::open(&dir.join(AUDIT)).expect("audit log after a crash"));
        let vault = Vault::open(&dir.join(VAULT), &unlock()).expect("vault after a crash");
        self.start(i, vault);
    }

    /// The epoch of the wallet's share node `i` has committed, read from a copy of its vault
    /// (the running signer holds the file).
    pub fn committed_epoch(&self, i: usize) -> Option<u32> {
        let dir = self.root.join(format!("epoch-check-{i}"));
        copy_files(&self.nodes[i].dir, &dir);
        let epoch = Vault::open(&dir.join(VAULT), &unlock())
            .ok()
            .and_then(|v| v.committed_epoch(crate::WALLET).ok().flatten());
        let _ = std::fs::remove_dir_all(&dir);
        epoch
    }

    /// Stops every signer; returns once their sessions have ended (files closed).
    pub fn close(&mut self) {
        for n in &mut self.nodes {
            n.signer = None;
            n.dead.clear();
            let _ = n.tasks.wait_idle(STEP_LIMIT);
        }
    }

    /// Removes the world's files.
    pub fn remove(mut self) {
        self.close();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Copies a node's files (the databases and their write-ahead logs; not the lock files).
fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("node directory");
    for name in [VAULT, AUDIT] {
        for suffix in ["", "-wal"] {
            let src = from.join(format!("{name}{suffix}"));
            if src.exists() {
                std::fs::copy(&src, to.join(format!("{name}{suffix}"))).expect("copy a node file");
            }
        }
    }
}

/// The session a frame belongs to, if any.
fn session_of(f: &FromSigner) -> Option<[u8; 32]> {
    match f {
        FromSigner::Envelope { session, .. }
        | FromSigner::Done { session, .. }
        | FromSigner::Failed { session, .. } => Some(*session),
        _ => None,
    }
}

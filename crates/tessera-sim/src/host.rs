//! The real coordinator (`tessera-coordinator`) as the simulation hosts it: its request
//! lifecycle, policy, velocity ledger, presignature pool, retries and timeouts, over a SQLite
//! store and an audit log on the simulated disk, through the injected clock and entropy.
//!
//! It runs on a single-threaded tokio runtime whose timer is paused: tokio time moves only when
//! the simulation moves the virtual clock ([`Host::tick`]), so the coordinator's session
//! timeouts, pool refill backoffs and sweeps fire at virtual times chosen by the seed. After each
//! input the runtime is run until its tasks have all had their turn ([`Host::settle`]); what the
//! coordinator sends each signer then waits in that signer's link channel until the simulation
//! takes it ([`Host::take`]) and puts it in flight, where the seeded network does what it likes
//! with it. Signers' answers reach the coordinator through `on_signer_frame`, as a link delivers
//! them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tessera_coordinator::store::SignerRecord;
use tessera_coordinator::{open_audit_log, ApiTokens, Config, Coordinator, Entropy, SqliteStore};
use tessera_proto::api::{CreateTransaction, PayloadInput, RequestState, TransactionInfo};
use tessera_proto::api::{ReshareWallet, SessionKind, WalletInfo, WalletStatus};
use tessera_proto::link::{FromSigner, SignerStatus, ToSigner};
use tessera_sqlite::torn::Rng;
use tessera_wire::{Action, Authorization, NodeId, OperatorKey};
use tokio::runtime::Runtime;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::fixture::Fixture;
use crate::requests::Transfer;
use crate::world::{SimClock, World};
use crate::WALLET;

/// How long the coordinator gives one signing or presigning attempt (40 steps).
pub const SIGN_TIMEOUT: Duration = Duration::from_secs(2);
/// How long it gives a reshare's prepare session (80 steps).
pub const RESHARE_TIMEOUT: Duration = Duration::from_secs(4);
/// Presignatures the coordinator keeps pooled, so both signing paths run.
const POOL: u32 = 2;
/// Times the runtime lets every ready task run after an input. Each pass runs every task that
/// was woken before it; chains of wake-ups inside the coordinator are a few tasks long.
const SETTLE_PASSES: usize = 16;
const STORE: &str = "coordinator.db";

/// Session ids and link challenges from the seed.
struct SeededEntropy(Mutex<Rng>);

impl Entropy for SeededEntropy {
    fn fill(&self, buf: &mut [u8]) {
        let mut rng = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for chunk in buf.chunks_mut(8) {
            let bytes = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// One signer's link to the coordinator.
struct Link {
    node: NodeId,
    conn: u64,
    rx: UnboundedReceiver<ToSigner>,
    up: bool,
}

/// The coordinator process.
pub struct Host {
    rt: Runtime,
    c: Coordinator,
    links: Vec<Link>,
    root: PathBuf,
    dir: PathBuf,
    incarnation: u32,
    clock: Arc<SimClock>,
    seed: u64,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime")
}

fn config() -> Config {
    let tokens = ApiTokens::all_roles(&"s".repeat(32)).expect("token");
    let mut config = Config::new("https://coordinator.sim:1".into(), tokens);
    config.frost_pool = POOL;
    config.cggmp24_pool = 0;
    config.sign_timeout = SIGN_TIMEOUT;
    config.keygen_timeout = RESHARE_TIMEOUT;
    config
}

fn dir_of(root: &Path, incarnation: u32) -> PathBuf {
    root.join(format!("coordinator-{incarnation}"))
}

impl Host {
    /// A fresh coordinator in `root` that knows the fixture's signers, wallet and policy, with
    /// every signer linked.
    pub fn create(
        root: &Path,
        fx: &Fixture,
        world: &World,
        clock: Arc<SimClock>,
        seed: u64,
    ) -> Host {
        let dir = dir_of(root, 0);
        std::fs::create_dir_all(&dir).expect("coordinator directory");
        let mut host = Host::start(root, dir, 0, clock, seed, world);
        host.setup(fx, world);
        host.link_all();
        host
    }

    fn start(
        root: &Path,
        dir: PathBuf,
        incarnation: u32,
        clock: Arc<SimClock>,
        seed: u64,
        world: &World,
    ) -> Host {
        let rt = runtime();
        let store = SqliteStore::open(&dir.join(STORE)).expect("coordinator store");
        let audit = open_audit_log(&dir, "sim").expect("coordinator audit log");
        let entropy = SeededEntropy(Mutex::new(Rng(seed ^ u64::from(incarnation) << 56 ^ 0xC0)));
        let c = {
            let _in = rt.enter();
            Coordinator::new(
                config(),
                Arc::new(store),
                Arc::new(audit),
                clock.clone(),
                Arc::new(entropy),
            )
        };
        let links = world
            .nodes
            .iter()
            .map(|n| {
                let (_, rx) = unbounded_channel();
                Link {
                    node: n.signed.identity.node_id(),
                    conn: 0,
                    rx,
                    up: false,
                }
            })
            .collect();
        Host {
            rt,
            c,
            links,
            root: root.to_path_buf(),
            dir,
            incarnation,
            clock,
            seed,
        }
    }

    fn setup(&mut self, fx: &Fixture, world: &World) {
        for (i, n) in world.nodes.iter().enumerate() {
            self.c
                .enroll(SignerRecord {
                    name: format!("signer-{i}"),
                    identity: n.signed.identity,
                    proof: n.signed.proof,
                })
                .expect("enroll");
        }
        let now = self.clock_ms();
        self.c
            .store()
            .insert_wallet(&WalletInfo {
                wallet_id: WALLET.into(),
                name: WALLET.into(),
                scheme: tessera_crypto::SchemeId::Ed25519,
                threshold: 2,
                signers: self.links.iter().map(|l| l.node).collect(),
                status: WalletStatus::Ready,
                public_key: Some(fx.public_key.clone()),
                chain_code: Some(hex::encode(fx.chain_code)),
                keygen_session: hex::encode(crate::fixture::KEYGEN_SESSION),
                pool: 0,
                created_at_ms: now,
                error: None,
                attestations: Vec::new(),
                networks: vec!["solana:devnet".into()],
                epoch: 0,
                committing_epoch: None,
            })
            .expect("wallet record");
        self.c
            .put_policy(fx.bundle.clone())
            .expect("policy installs");
    }

    fn clock_ms(&self) -> u64 {
        tessera_proto::Clock::now_ms(self.clock.as_ref())
    }

    fn link_all(&mut self) {
        for i in 0..self.links.len() {
            self.link(i);
        }
        self.rt
            .block_on(async { self.c.resume() })
            .expect("coordinator resumes");
        self.settle();
    }

    /// Node `i`'s link comes up (again): a new connection, the policy in force sent over it.
    pub fn link(&mut self, i: usize) {
        let (tx, rx) = unbounded_channel();
        let l = &mut self.links[i];
        l.conn = self.c.hub().connect(l.node, tx, SignerStatus::default());
        l.rx = rx;
        l.up = true;
        self.c.on_signer_linked(&l.node);
        self.settle();
    }

    /// Node `i`'s link drops: the coordinator fails its sessions with it; what was queued on the
    /// link is lost.
    pub fn unlink(&mut self, i: usize) {
        let l = &mut self.links[i];
        if !l.up {
            return;
        }
        l.up = false;
        self.c.hub().disconnect(l.node, l.conn);
        while l.rx.try_recv().is_ok() {}
        self.settle();
    }

    /// Whether node `i` is linked.
    pub fn linked(&self, i: usize) -> bool {
        self.links[i].up
    }

    /// Lets every task that is ready run, until all wait.
    pub fn settle(&self) {
        self.rt.block_on(async {
            for _ in 0..SETTLE_PASSES {
                tokio::task::yield_now().await;
            }
        });
    }

    /// Moves the coordinator's timers by `ms` (the virtual clock has moved as much), then
    /// settles.
    pub fn tick(&self, ms: u64) {
        self.rt
            .block_on(tokio::time::advance(Duration::from_millis(ms)));
        self.settle();
    }

    /// What the coordinator sent each linked signer since the last call, node by node.
    pub fn take(&mut self) -> Vec<(usize, ToSigner)> {
        let mut out = Vec::new();
        for (i, l) in self.links.iter_mut().enumerate() {
            while let Ok(f) = l.rx.try_recv() {
                if l.up {
                    out.push((i, f));
                }
            }
        }
        out
    }

    /// Hands what node `i` sent to the coordinator, as its link would (nothing if it is down).
    pub fn give(&self, i: usize, frames: Vec<FromSigner>) {
        let l = &self.links[i];
        if !l.up {
            return;
        }
        for f in frames {
            self.c.on_signer_frame(l.node, f);
        }
        self.settle();
    }

    /// The requester submits `t` as request `id` through the transactions API (the request
    /// then runs in the coordinator's own task). `Err` is the API's refusal.
    pub fn submit(
        &self,
        id: &str,
        t: &Transfer,
        authorization: &Authorization,
    ) -> Result<(), String> {
        let req = CreateTransaction {
            request_id: id.to_string(),
            chain: "solana".into(),
            network: "devnet".into(),
            path: "m".into(),
            payload: PayloadInput::Hex {
                format: t.payload.format.clone(),
                data: hex::encode(&t.payload.bytes),
            },
            authorization: authorization.clone(),
        };
        let r = self
            .rt
            .block_on(self.c.create_transaction(WALLET, req, false));
        self.settle();
        r.map(|_| ()).map_err(|e| e.to_string())
    }

    /// The operator asks for a proactive refresh of the wallet's shares (same key, holders and
    /// threshold; the next epoch), dealt by `dealers` (current party indexes). `Err` is the
    /// API's refusal (a reshare still running, a holder not linked).
    pub fn refresh(&self, operator: &OperatorKey, dealers: &[u16]) -> Result<u32, String> {
        let wallet = self.c.wallet(WALLET).map_err(|e| e.to_string())?;
        let epoch = wallet.epoch + 1;
        let dealers: Vec<(u16, u16)> = dealers.iter().map(|&d| (d, d)).collect();
        let authorization = Authorization::sign(
            operator,
            format!("refresh-{epoch}-{}", self.clock_ms()),
            Action::Reshare {
                wallet_id: WALLET.into(),
                epoch,
                threshold: wallet.threshold,
                signers: wallet.signers.clone(),
                dealers: dealers.clone(),
            },
            self.clock_ms() / 1000 + 600,
        );
        let req = ReshareWallet {
            threshold: wallet.threshold,
            signers: wallet.signers,
            dealers,
            authorization,
            approvals: Vec::new(),
        };
        let r = {
            let _in = self.rt.enter();
            self.c.reshare_wallet(WALLET, req)
        };
        self.settle();
        r.map(|_| epoch).map_err(|e| e.to_string())
    }

    /// The wallet's epoch at the coordinator, and whether a reshare of it is still running or
    /// committing.
    pub fn epoch(&self) -> (u32, bool) {
        let busy = self
            .c
            .store()
            .running_sessions()
            .map(|s| s.iter().any(|r| r.kind == SessionKind::Reshare))
            .unwrap_or(true);
        match self.c.wallet(WALLET) {
            Ok(w) => (w.epoch, busy || w.committing_epoch.is_some()),
            Err(_) => (0, true),
        }
    }

    /// Where request `id` is in the coordinator's lifecycle (`None`: it holds no record).
    pub fn state(&self, id: &str) -> Option<RequestState> {
        self.c.request(id).ok().map(|r| r.state)
    }

    /// The coordinator's record of transaction request `id`.
    pub fn transaction(&self, id: &str) -> Option<TransactionInfo> {
        let key = tessera_coordinator::coordinator::request_session_id(WALLET, id);
        self.c.store().transaction(&key).ok().flatten()
    }

    /// The coordinator's audit log verifies.
    pub fn audit_verifies(&self) -> Result<(), String> {
        self.c
            .audit_log()
            .verify()
            .map(|_| ())
            .map_err(|e| format!("the coordinator's audit log does not verify: {e}"))
    }

    /// Kills the coordinator and starts it again over what the kill left on disk: every link
    /// drops with it (what was queued on them is lost), every task it ran ends, and the new
    /// process resumes from its store and links every signer again.
    pub fn crash(self, world: &World) -> Host {
        let Host {
            rt,
            c,
            links,
            root,
            dir,
            incarnation,
            clock,
            seed,
        } = self;
        let next = dir_of(&root, incarnation + 1);
        copy_coordinator_files(&dir, &next);
        drop(links);
        rt.shutdown_background();
        drop(c);
        let mut host = Host::start(&root, next, incarnation + 1, clock, seed, world);
        host.link_all();
        host
    }
}

/// Copies the coordinator's databases and their write-ahead logs.
fn copy_coordinator_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("coordinator directory");
    for name in [STORE, "audit.db"] {
        for suffix in ["", "-wal"] {
            let src = from.join(format!("{name}{suffix}"));
            if src.exists() {
                std::fs::copy(&src, to.join(format!("{name}{suffix}")))
                    .expect("copy a coordinator file");
            }
        }
    }
}

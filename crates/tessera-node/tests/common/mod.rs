//! An in-process signer group: real [`Signer`]s over real vaults and audit logs, wired through a
//! test relay that plays the coordinator. The relay records every envelope it forwards and,
//! knowing the test-generated identity keys, can open p2p envelopes the way their recipient
//! does. The group holds the policy admin and approver keys; [`Group::new`] installs the
//! local-dev policy bundle (version 1) on every signer.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tessera_audit::{AuditError, AuditLog, Entry, EntryKind, Head};
use tessera_crypto::{Message, SchemeId, SignMessage};
use tessera_node::signer::{operators_setting, policy_admins_setting, settings};
use tessera_node::{
    audit_chain_id, AuditSink, Outbound, PrimeSource, Signer, SignerOptions, ThreadSpawner,
};
use tessera_policy::{
    AdminSet, Approval, ApprovalDecision, ModeChange, PolicyBundle, SecretKey, SignedBundle,
};
use tessera_proto::audit::{AuditPage, AuditPageError};
use tessera_proto::link::{
    Failure, FromSigner, Job, Member, Outcome, SignerStatus, StartSession, ToSigner,
};
use tessera_proto::SystemClock;
use tessera_vault::{KdfParams, Unlock, Vault, VaultError};
use tessera_wire::{
    authorized_message, Action, Authorization, Envelope, IdentityKey, Opener, OperatorKey,
    SignedIdentity,
};

/// The networks test wallets are bound to: every network the tests sign on.
pub const NETWORKS: &[&str] = &["bitcoin:regtest", "ethereum:mainnet", "solana:devnet"];

pub const PASSPHRASE: &str = "correct horse battery staple";

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b
}

pub fn random_id() -> String {
    hex::encode(&random32()[..16])
}

pub fn test_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-node-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn unlock() -> Unlock {
    Unlock::passphrase(PASSPHRASE)
}

/// Opens a vault, waiting out the lock of a signer that is still shutting down.
pub fn open_vault(path: &std::path::Path) -> Vault {
    let start = Instant::now();
    loop {
        match Vault::open(path, &unlock()) {
            Ok(v) => return v,
            Err(VaultError::Locked) if start.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("reopening the vault: {e}"),
        }
    }
}

/// An audit log whose appends (`fail`) or reads (`fail_reads`) can be made to fail (to test
/// that signers fail closed, and answer audit page requests with a typed error).
pub struct TestAudit {
    pub log: AuditLog,
    pub fail: AtomicBool,
    pub fail_reads: AtomicBool,
}

impl AuditSink for TestAudit {
    fn chain_id(&self) -> &str {
        self.log.chain_id()
    }

    fn append(
        &self,
        actor: &str,
        kind: EntryKind,
        subject: &str,
        body: serde_json::Value,
        time_ms: u64,
    ) -> Result<(), AuditError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(AuditError::Storage("injected failure".into()));
        }
        self.log
            .append(actor, kind, subject, body, time_ms)
            .map(|_| ())
    }

    fn head(&self) -> Result<Head, AuditError> {
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(AuditError::Storage("injected read failure".into()));
        }
        self.log.head()
    }

    fn entries(&self, from_seq: u64, limit: usize) -> Result<Vec<Entry>, AuditError> {
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(AuditError::Storage("injected read failure".into()));
        }
        self.log.entries(from_seq, limit)
    }
}

pub struct Node {
    pub key: IdentityKey,
    pub signed: SignedIdentity,
    pub vault_path: PathBuf,
    pub signer: Option<Signer>,
    /// The signer's audit log (kept across restarts).
    pub audit: Arc<TestAudit>,
}

/// Tenant of the test bundles.
pub const TENANT: &str = "test";
/// Quorum of the group's three policy admins.
pub const ADMIN_QUORUM: u32 = 2;

/// Result of one session at one participant.
pub type Answer = Result<Outcome, Failure>;

pub struct Group {
    pub nodes: Vec<Node>,
    pub operator: OperatorKey,
    /// Policy admins (quorum [`ADMIN_QUORUM`]), configured at every signer's init.
    pub admins: Vec<SecretKey>,
    /// Keys of the bundle role `approver`.
    pub approvers: Vec<SecretKey>,
    tx: Arc<Mutex<mpsc::Sender<(usize, FromSigner)>>>,
    rx: mpsc::Receiver<(usize, FromSigner)>,
    /// Every envelope the relay forwarded, as bytes.
    pub relayed: Vec<Vec<u8>>,
    /// Plaintext of every p2p message, opened as its recipient would.
    pub p2p_plaintext: Vec<Message>,
    /// Plaintext of every broadcast message.
    pub broadcast_plaintext: Vec<Message>,
    /// Relay misbehaviour for tests: before the first p2p envelope of a session, deliver a
    /// tampered copy of it.
    pub inject_tampered: bool,
    /// How many tampered envelopes were injected.
    pub injected: usize,
    /// Relay misbehaviour for tests: keep envelopes of one round from some participants, then
    /// abort them (a coordinator that collects the signature shares and aborts).
    pub withhold: Option<Withhold>,
    /// Options signers start with (limits for the denial-of-service tests).
    pub options: SignerOptions,
    /// The signers' clock: the system clock plus an offset tests can move forward.
    pub clock: Arc<TestClock>,
    /// As a coordinator does: once a participant fails, abort the session at the others (they
    /// would otherwise wait for it until their deadline).
    pub abort_on_failure: bool,
    /// The networks the next [`Group::keygen`] binds its wallet to (default [`NETWORKS`]).
    pub networks: Vec<String>,
    /// Signers (re)started from now on use the public fixture Paillier primes, so they can run
    /// cggmp24 (default: no primes, cggmp24 disabled).
    pub fixture_primes: bool,
}

/// The system clock, shifted by an offset a test moves forward ([`TestClock::advance`]).
#[derive(Default)]
pub struct TestClock {
    offset_ms: std::sync::atomic::AtomicU64,
}

impl TestClock {
    /// The signers' time, unix seconds.
    pub fn now_unix(&self) -> u64 {
        tessera_proto::Clock::now_unix(self)
    }

    /// Moves time forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.offset_ms
            .fetch_add(secs * 1000, std::sync::atomic::Ordering::SeqCst);
    }
}

impl tessera_proto::Clock for TestClock {
    fn now_ms(&self) -> u64 {
        SystemClock.now_ms() + self.offset_ms.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Envelopes of `round` are not delivered to `victims`; once every participant of the session
/// has sent its messages of that round, each victim gets `ToSigner::Abort`.
#[derive(Debug, Clone)]
pub struct Withhold {
    pub round: u16,
    pub victims: Vec<usize>,
}

impl Group {
    /// `n` signers with fresh vaults in `dir`, trusting one operator key, with the local-dev
    /// policy bundle (version 1) installed.
    pub fn new(name: &str, n: usize) -> Group {
        let mut g = Group::bare(name, n);
        let b = g.sign_bundle(g.bundle(1, tessera_policy::templates::LOCAL_DEV), &[0, 1]);
        g.install_ok(&b);
        g
    }

    /// `n` signers with fresh vaults in `dir`, trusting one operator key, configured with the
    /// group's admins but without any policy bundle.
    pub fn bare(name: &str, n: usize) -> Group {
        let dir = test_dir(name);
        let operator = OperatorKey::generate(&mut rand_core::OsRng);
        let (tx, rx) = mpsc::channel();
        let keys = |k: usize| -> Vec<SecretKey> {
            (0..k)
                .map(|_| SecretKey::generate(&mut rand_core::OsRng))
                .collect()
        };
        let mut g = Group {
            nodes: Vec::new(),
            operator,
            admins: keys(3),
            approvers: keys(3),
            tx: Arc::new(Mutex::new(tx)),
            rx,
            relayed: Vec::new(),
            p2p_plaintext: Vec::new(),
            broadcast_plaintext: Vec::new(),
            inject_tampered: false,
            injected: 0,
            withhold: None,
            options: SignerOptions::default(),
            clock: Arc::new(TestClock::default()),
            abort_on_failure: false,
            networks: NETWORKS.iter().map(|n| n.to_string()).collect(),
            fixture_primes: false,
        };
        for i in 0..n {
            let vault_path = dir.join(format!("signer-{i}.db"));
            let mut vault =
                Vault::create(&vault_path, &unlock(), KdfParams::insecure_for_tests()).unwrap();
            let key = IdentityKey::generate(&mut rand_core::OsRng);
            vault.put_identity(&key.to_bytes()).unwrap();
            vault
                .put_setting(
                    settings::OPERATORS,
                    &operators_setting(&[g.operator.public()]),
                )
                .unwrap();
            vault
                .put_setting(
                    settings::POLICY_ADMINS,
                    &policy_admins_setting(&g.admin_set()),
                )
                .unwrap();
            let signed = key.signed_identity();
            let log = AuditLog::create(
                &dir.join(format!("signer-{i}-audit.db")),
                &audit_chain_id(&signed.identity.node_id()),
            )
            .unwrap();
            g.nodes.push(Node {
                key,
                signed,
                vault_path,
                signer: None,
                audit: Arc::new(TestAudit {
                    log,
                    fail: AtomicBool::new(false),
                    fail_reads: AtomicBool::new(false),
                }),
            });
            g.start(i, vault);
        }
        g
    }

    pub fn admin_set(&self) -> AdminSet {
        AdminSet::new(self.admins.iter().map(|k| k.public()), ADMIN_QUORUM).unwrap()
    }

    /// A bundle of [`TENANT`] with `policies`: role `operator` = the group's operator key, role
    /// `approver` = the group's approvers, the group's admins, no velocity rule.
    pub fn bundle(&self, version: u64, policies: &str) -> PolicyBundle {
        PolicyBundle {
            version,
            tenant: TENANT.into(),
            policies: policies.into(),
            roles: [
                (
                    "operator".to_string(),
                    [tessera_policy::PublicKey(self.operator.public().0)].into(),
                ),
                (
                    "approver".to_string(),
                    self.approvers.iter().map(|k| k.public()).collect(),
                ),
            ]
            .into(),
            admins: self.admin_set(),
            velocity: Default::default(),
            created_at: now_unix(),
            quarantined: Default::default(),
        }
    }

    /// `b` signed by the admins at `by`.
    pub fn sign_bundle(&self, b: PolicyBundle, by: &[usize]) -> SignedBundle {
        let mut s = SignedBundle::new(b);
        for &i in by {
            s.sign(&self.admins[i]);
        }
        s
    }

    /// A mode change of [`TENANT`], in force from a minute ago for an hour, signed by `by`.
    pub fn mode_change(&self, seq: u64, mode: tessera_policy::Mode, by: &[usize]) -> ModeChange {
        let now = now_unix();
        let mut c = ModeChange::new(TENANT, seq, mode, "test", now - 60, now + 3600);
        for &i in by {
            c.sign(&self.admins[i]);
        }
        c
    }

    /// Approver `i`'s approval of (`request_id`, `intent_hash`) under `version`.
    pub fn approve(
        &self,
        i: usize,
        request_id: &str,
        intent_hash: [u8; 32],
        version: u64,
        expires_at: u64,
    ) -> Approval {
        Approval::sign(
            &self.approvers[i],
            request_id,
            intent_hash,
            version,
            ApprovalDecision::Approve,
            expires_at,
        )
    }

    /// Sends a policy frame to every running signer; each one's answer, by node.
    pub fn send_policy(&mut self, frame: ToSigner) -> Vec<FromSigner> {
        let running: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].signer.is_some())
            .collect();
        for &i in &running {
            self.deliver(i, frame.clone());
        }
        let mut answers: HashMap<usize, FromSigner> = HashMap::new();
        while answers.len() < running.len() {
            let (from, f) = self
                .rx
                .recv_timeout(Duration::from_secs(60))
                .expect("every signer answers a policy frame");
            if matches!(f, FromSigner::Status(_) | FromSigner::PolicyRefused { .. }) {
                assert!(answers.insert(from, f).is_none(), "one answer per frame");
            }
        }
        running.iter().map(|i| answers.remove(i).unwrap()).collect()
    }

    /// Offers `b` to every running signer.
    pub fn install(&mut self, b: &SignedBundle) -> Vec<FromSigner> {
        let bundle = serde_json::to_vec(b).unwrap();
        self.send_policy(ToSigner::Policy { bundle })
    }

    /// Installs `b` and checks that every signer accepted it.
    pub fn install_ok(&mut self, b: &SignedBundle) {
        for a in self.install(b) {
            match a {
                FromSigner::Status(s) => assert_eq!(s.policy_version, b.bundle.version),
                other => panic!("bundle refused: {other:?}"),
            }
        }
    }

    /// Offers a mode change to every running signer.
    pub fn set_mode(&mut self, c: &ModeChange) -> Vec<FromSigner> {
        let change = serde_json::to_vec(c).unwrap();
        self.send_policy(ToSigner::Mode { change })
    }

    /// Sends signer `i` a `ToSigner::AuditPage` frame and returns its answer (through the
    /// link path: `Signer::handle`, the read on its own task, the correlated answer frame).
    pub fn audit_request(
        &mut self,
        i: usize,
        request: u64,
        from_seq: u64,
        limit: u32,
        challenge: [u8; 32],
    ) -> Result<AuditPage, AuditPageError> {
        self.deliver(
            i,
            ToSigner::AuditPage {
                request,
                from_seq,
                limit,
                challenge,
            },
        );
        loop {
            let (from, f) = self
                .rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the signer answers an audit page request");
            if let FromSigner::AuditPage { request: r, result } = f {
                assert_eq!((from, r), (i, request), "answer correlated to the request");
                return result.map(|page| *page);
            }
        }
    }

    /// Signer `i`'s status.
    pub fn status(&self, i: usize) -> SignerStatus {
        self.signer(i).status()
    }

    pub fn signer(&self, i: usize) -> &Signer {
        self.nodes[i].signer.as_ref().expect("signer running")
    }

    /// Unused presignatures of `wallet` at each signer.
    pub fn presignatures(&self, wallet: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .map(|i| self.signer(i).presignature_count(wallet).unwrap())
            .collect()
    }

    /// Starts signer `i` over an open vault.
    pub fn start(&mut self, i: usize, vault: Vault) {
        let signer = Signer::new(
            vault,
            self.nodes[i].audit.clone(),
            self.clock.clone(),
            if self.fixture_primes {
                PrimeSource::Fixtures
            } else {
                PrimeSource::None
            },
            Arc::new(ThreadSpawner),
            self.options.clone(),
        )
        .expect("signer starts");
        self.nodes[i].signer = Some(signer);
    }

    /// Stops signer `i` (drops it; its vault closes once its session threads are gone).
    pub fn stop(&mut self, i: usize) {
        self.nodes[i].signer = None;
    }

    /// Stops and restarts signer `i` over its reopened vault.
    pub fn restart(&mut self, i: usize) {
        self.stop(i);
        let v = open_vault(&self.nodes[i].vault_path);
        self.start(i, v);
    }

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

    fn outbound(&self, i: usize) -> Outbound {
        let tx = self.tx.clone();
        Arc::new(move |f| {
            let _ = tx.lock().unwrap().send((i, f));
        })
    }

    fn deliver(&self, i: usize, frame: ToSigner) {
        let signer = self.nodes[i].signer.as_ref().expect("signer running");
        signer.handle(frame, &self.outbound(i));
    }

    /// Runs one session among `parts` (node indices = party indices) and relays until every
    /// participant answered.
    pub fn run(&mut self, wallet_id: &str, parts: &[usize], job: Job) -> Vec<Answer> {
        self.run_session(random32(), wallet_id, parts, job)
    }

    pub fn run_session(
        &mut self,
        session: [u8; 32],
        wallet_id: &str,
        parts: &[usize],
        job: Job,
    ) -> Vec<Answer> {
        let start = StartSession {
            session,
            wallet_id: wallet_id.to_string(),
            roster: self.roster(),
            job,
        };
        for &i in parts {
            self.deliver(i, ToSigner::Start(Box::new(start.clone())));
        }
        let mut answers: HashMap<usize, Answer> = HashMap::new();
        let mut openers: HashMap<(usize, [u8; 32]), Opener> = HashMap::new();
        let mut tampered_sessions: Vec<[u8; 32]> = Vec::new();
        let mut released_by: Vec<usize> = Vec::new();
        let mut aborted = false;
        let deadline = Instant::now() + Duration::from_secs(120);
        while answers.len() < parts.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let (from, frame) = self
                .rx
                .recv_timeout(left)
                .expect("every participant answers in time");
            match frame {
                FromSigner::Envelope { session: s, bytes } if s == session => {
                    let env = Envelope::from_bytes(&bytes).expect("well-formed envelope");
                    assert_eq!(usize::from(env.from), from, "sender index");
                    let targets: Vec<usize> = match env.to {
                        Some(to) => vec![usize::from(to)],
                        None => parts.iter().copied().filter(|&p| p != from).collect(),
                    };
                    for &to in &targets {
                        let roster: Vec<_> = self
                            .roster()
                            .iter()
                            .map(|m| (m.index, m.identity))
                            .collect();
                        let key = &self.nodes[to].key;
                        let opener = openers
                            .entry((to, env.session))
                            .or_insert_with(|| Opener::new(key, to as u16, env.session, roster));
                        let msg = opener.open(&env).expect("the recipient can open it");
                        if env.to.is_some() {
                            self.p2p_plaintext.push(msg);
                        } else if to == targets[0] {
                            self.broadcast_plaintext.push(msg);
                        }
                    }
                    if self.inject_tampered
                        && env.to.is_some()
                        && !tampered_sessions.contains(&env.session)
                    {
                        tampered_sessions.push(env.session);
                        let mut bad = bytes.clone();
                        // Flip a bit in the ciphertext (before the 64-byte signature).
                        let at = bad.len() - 64 - 5;
                        bad[at] ^= 1;
                        self.injected += 1;
                        self.deliver(
                            targets[0],
                            ToSigner::Envelope {
                                session,
                                bytes: bad,
                            },
                        );
                    }
                    let kept = match &self.withhold {
                        Some(w) if w.round == env.round => {
                            if !released_by.contains(&from) {
                                released_by.push(from);
                            }
                            w.victims.clone()
                        }
                        _ => Vec::new(),
                    };
                    for &to in targets.iter().filter(|t| !kept.contains(t)) {
                        self.deliver(
                            to,
                            ToSigner::Envelope {
                                session,
                                bytes: bytes.clone(),
                            },
                        );
                    }
                    self.relayed.push(bytes);
                    let all_released = parts.iter().all(|p| released_by.contains(p));
                    if let (Some(w), false, true) = (self.withhold.clone(), aborted, all_released) {
                        aborted = true;
                        for &v in w.victims.iter().filter(|v| parts.contains(v)) {
                            self.deliver(
                                v,
                                ToSigner::Abort {
                                    session,
                                    reason: "test coordinator keeps the shares".into(),
                                },
                            );
                        }
                    }
                }
                FromSigner::Done {
                    session: s,
                    outcome,
                } if s == session => {
                    assert!(answers.insert(from, Ok(outcome)).is_none());
                }
                FromSigner::Failed {
                    session: s,
                    failure,
                } if s == session => {
                    assert!(answers.insert(from, Err(failure)).is_none());
                    if self.abort_on_failure {
                        self.abort_others(session, parts, |p| answers.contains_key(&p));
                    }
                }
                _ => {}
            }
        }
        parts.iter().map(|p| answers.remove(p).unwrap()).collect()
    }

    /// Sends `Abort` for `session` to every participant that has not answered.
    fn abort_others(&self, session: [u8; 32], parts: &[usize], answered: impl Fn(usize) -> bool) {
        for &p in parts.iter().filter(|&&p| !answered(p)) {
            self.deliver(
                p,
                ToSigner::Abort {
                    session,
                    reason: "another participant failed".into(),
                },
            );
        }
    }

    /// Starts every job at once among `parts`, then collects every answer, relaying broadcast
    /// envelopes (the velocity exchange) and aborting a session at the others once one
    /// participant fails, as a coordinator does. Answers per job, in `parts` order.
    pub fn run_concurrently(
        &mut self,
        wallet_id: &str,
        parts: &[usize],
        jobs: Vec<Job>,
    ) -> Vec<Vec<Answer>> {
        let sessions: Vec<[u8; 32]> = jobs.iter().map(|_| random32()).collect();
        for (job, session) in jobs.into_iter().zip(&sessions) {
            let start = StartSession {
                session: *session,
                wallet_id: wallet_id.to_string(),
                roster: self.roster(),
                job,
            };
            for &i in parts {
                self.deliver(i, ToSigner::Start(Box::new(start.clone())));
            }
        }
        let mut answers: HashMap<([u8; 32], usize), Answer> = HashMap::new();
        while answers.len() < sessions.len() * parts.len() {
            let (from, frame) = self
                .rx
                .recv_timeout(Duration::from_secs(60))
                .expect("every participant answers in time");
            let (session, answer) = match frame {
                FromSigner::Done { session, outcome } => (session, Ok(outcome)),
                FromSigner::Failed { session, failure } => (session, Err(failure)),
                FromSigner::Envelope { session, bytes } => {
                    let env = Envelope::from_bytes(&bytes).expect("well-formed envelope");
                    assert!(env.to.is_none(), "only broadcasts are relayed here");
                    for &to in parts.iter().filter(|&&p| p != from) {
                        self.deliver(
                            to,
                            ToSigner::Envelope {
                                session,
                                bytes: bytes.clone(),
                            },
                        );
                    }
                    continue;
                }
                _ => continue,
            };
            let failed = answer.is_err();
            assert!(answers.insert((session, from), answer).is_none());
            if failed {
                self.abort_others(session, parts, |p| answers.contains_key(&(session, p)));
            }
        }
        sessions
            .iter()
            .map(|s| {
                parts
                    .iter()
                    .map(|p| answers.remove(&(*s, *p)).unwrap())
                    .collect()
            })
            .collect()
    }

    /// A key-generation authorization for the whole group, bound to [`Group::networks`].
    pub fn keygen_auth(
        &self,
        key: &OperatorKey,
        wallet_id: &str,
        s: SchemeId,
        t: u16,
    ) -> Authorization {
        Authorization::sign(
            key,
            random_id(),
            Action::Keygen {
                wallet_id: wallet_id.to_string(),
                scheme: s,
                threshold: t,
                signers: self
                    .nodes
                    .iter()
                    .map(|n| n.signed.identity.node_id())
                    .collect(),
                networks: self.networks.clone(),
            },
            self.clock.now_unix() + 300,
        )
    }

    /// Generates a `t`-of-n wallet; returns (public key, chain code).
    pub fn keygen(
        &mut self,
        wallet_id: &str,
        s: SchemeId,
        t: u16,
    ) -> (tessera_crypto::PublicKey, [u8; 32]) {
        let authorization = self.keygen_auth(&self.operator.clone_key(), wallet_id, s, t);
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        let answers = self.run(
            wallet_id,
            &all,
            Job::Keygen {
                scheme: s,
                threshold: t,
                authorization,
                import: None,
                approvals: Vec::new(),
            },
        );
        let mut result = None;
        for a in answers {
            match a.expect("keygen succeeds") {
                Outcome::Keygen {
                    public_key,
                    chain_code,
                    ..
                } => {
                    if let Some((pk, _)) = &result {
                        assert_eq!(pk, &public_key, "all parties agree on the key");
                    }
                    result = Some((public_key, chain_code));
                }
                o => panic!("unexpected outcome {o:?}"),
            }
        }
        result.unwrap()
    }
}

/// A helper so tests can sign with the group's operator key without borrowing the group.
pub trait CloneKey {
    fn clone_key(&self) -> OperatorKey;
}

impl CloneKey for OperatorKey {
    fn clone_key(&self) -> OperatorKey {
        OperatorKey::from_bytes(&self.to_bytes()).unwrap()
    }
}

/// Full signing of a plain message by parties 0 and 1 under policy version 1.
pub fn plain_sign_job(m: &SignMessage, path: &str, authorization: Authorization) -> Job {
    Job::Sign {
        signers: vec![0, 1],
        message: m.clone(),
        path: path.into(),
        authorization,
        transaction: None,
        policy_version: 1,
        approvals: Vec::new(),
    }
}

/// A sign authorization for exactly (`wallet_id`, `path`, `message`).
pub fn sign_auth(
    key: &OperatorKey,
    request_id: &str,
    wallet_id: &str,
    path: &str,
    message: &SignMessage,
    expires_at: u64,
) -> Authorization {
    Authorization::sign(
        key,
        request_id.to_string(),
        Action::Sign {
            wallet_id: wallet_id.to_string(),
            path: path.to_string(),
            messages: vec![authorized_message(message).unwrap()],
        },
        expires_at,
    )
}

/// `text` as a Solana off-chain message, for the Ed25519 wallets of the tests.
pub fn msg(text: &str) -> SignMessage {
    message_for(SchemeId::Ed25519, text)
}

/// `text` in the scheme's default off-chain message format (the plain messages signers sign).
pub fn message_for(scheme: SchemeId, text: &str) -> SignMessage {
    tessera_chains::offchain_message(scheme, None, text.as_bytes()).unwrap()
}

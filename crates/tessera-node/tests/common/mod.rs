//! An in-process signer group: real [`Signer`]s over real vaults, wired through a test relay
//! that plays the coordinator. The relay records every envelope it forwards and, knowing the
//! test-generated identity keys, can open p2p envelopes the way their recipient does.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tessera_crypto::{Message, SchemeId, SignMessage};
use tessera_node::signer::{operators_setting, settings};
use tessera_node::{Outbound, PrimeSource, Signer, SignerOptions, ThreadSpawner};
use tessera_proto::link::{Failure, FromSigner, Job, Member, Outcome, StartSession, ToSigner};
use tessera_proto::SystemClock;
use tessera_vault::{KdfParams, Unlock, Vault, VaultError};
use tessera_wire::{
    authorized_message, Action, Authorization, Envelope, IdentityKey, Opener, OperatorKey,
    SignedIdentity,
};

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

pub struct Node {
    pub key: IdentityKey,
    pub signed: SignedIdentity,
    pub vault_path: PathBuf,
    pub signer: Option<Signer>,
}

/// Result of one session at one participant.
pub type Answer = Result<Outcome, Failure>;

pub struct Group {
    pub nodes: Vec<Node>,
    pub operator: OperatorKey,
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
}

impl Group {
    /// `n` signers with fresh vaults in `dir`, trusting one operator key.
    pub fn new(name: &str, n: usize) -> Group {
        let dir = test_dir(name);
        let operator = OperatorKey::generate(&mut rand_core::OsRng);
        let (tx, rx) = mpsc::channel();
        let mut g = Group {
            nodes: Vec::new(),
            operator,
            tx: Arc::new(Mutex::new(tx)),
            rx,
            relayed: Vec::new(),
            p2p_plaintext: Vec::new(),
            broadcast_plaintext: Vec::new(),
            inject_tampered: false,
            injected: 0,
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
            let signed = key.signed_identity();
            g.nodes.push(Node {
                key,
                signed,
                vault_path,
                signer: None,
            });
            g.start(i, vault);
        }
        g
    }

    /// Starts signer `i` over an open vault.
    pub fn start(&mut self, i: usize, vault: Vault) {
        let signer = Signer::new(
            vault,
            Arc::new(SystemClock),
            PrimeSource::None,
            Arc::new(ThreadSpawner),
            SignerOptions::default(),
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
                    for &to in &targets {
                        self.deliver(
                            to,
                            ToSigner::Envelope {
                                session,
                                bytes: bytes.clone(),
                            },
                        );
                    }
                    self.relayed.push(bytes);
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
                }
                _ => {}
            }
        }
        parts.iter().map(|p| answers.remove(p).unwrap()).collect()
    }

    /// A key-generation authorization for the whole group.
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
            },
            now_unix() + 300,
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
            },
        );
        let mut result = None;
        for a in answers {
            match a.expect("keygen succeeds") {
                Outcome::Keygen {
                    public_key,
                    chain_code,
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

pub fn msg(text: &str) -> SignMessage {
    SignMessage::raw_bytes(text.as_bytes().to_vec())
}

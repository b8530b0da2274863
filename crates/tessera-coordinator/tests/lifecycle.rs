//! The request lifecycle through the REST API, in process: policy distribution, evaluation,
//! approvals, expiry, signer refusals, mode changes, events and the audit log.
//!
//! Signers are stand-ins linked to the hub directly: they record every frame they get and
//! answer signing jobs with a real Ed25519 signature of a plain key (the wallet key), which the
//! coordinator checks (and, for transactions, the chain adapter's independent verifier), or
//! refuse with a chosen failure kind. The real signers' own checks are covered by the node's and
//! the multi-process tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tessera_audit::{verify_export, AuditLog};
use tessera_chains::WalletKey;
use tessera_coordinator::api::router;
use tessera_coordinator::coordinator::request_session_id;
use tessera_coordinator::store::SignerRecord;
use tessera_coordinator::{Config, Coordinator, OsEntropy, SqliteStore, Store};
use tessera_crypto::{PublicKey, SchemeId, SignMessage, Signature};
use tessera_policy::{
    AdminSet, Approval, ApprovalDecision, Mode, ModeChange, PolicyBundle, SecretKey, SignedBundle,
    VelocityRule,
};
use tessera_proto::api::{
    CreateTransaction, GroupHealth, MessageInput, ModeStatus, PayloadInput, PolicyInfo,
    RequestEvent, RequestInfo, RequestState, SessionInfo, SessionKind, SessionStatus, SignRequest,
    TransactionInfo, WalletInfo, WalletStatus,
};
use tessera_proto::link::{Failure, FailureKind, FromSigner, Job, Outcome, SignerStatus, ToSigner};
use tessera_proto::Clock;
use tessera_wire::{authorized_message, Action, Authorization, IdentityKey, NodeId, OperatorKey};
use tower::ServiceExt;

const TOKEN: &str = "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
const TENANT: &str = "acme";
const NETWORK: &str = "mainnet-beta";
/// 1 SOL: transfers above it need one approver under [`POLICIES`].
const ONE_SOL: u64 = 1_000_000_000;

/// Operators sign transfers up to 1 SOL alone; larger ones and plain messages need one
/// approver; raw digests are not permitted.
const POLICIES: &str = r#"
@id("ops-small-transfers")
permit (principal in Tessera::Role::"operator", action == Tessera::Action::"sign_transaction", resource)
when { context.amount.base <= 1000000000 };

@id("ops-large-transfers")
@approvals("approver:1")
permit (principal in Tessera::Role::"operator", action == Tessera::Action::"sign_transaction", resource)
when { context.amount.base > 1000000000 };

@id("ops-messages")
@approvals("approver:1")
permit (principal in Tessera::Role::"operator", action == Tessera::Action::"sign_message", resource);
"#;

/// Version 2: messages sign without approval.
const POLICIES_V2: &str = r#"
@id("ops-transfers")
permit (principal in Tessera::Role::"operator", action == Tessera::Action::"sign_transaction", resource);

@id("ops-messages-free")
permit (principal in Tessera::Role::"operator", action == Tessera::Action::"sign_message", resource);
"#;

struct TestClock(AtomicU64);

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl TestClock {
    fn advance(&self, secs: u64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

/// How the stand-in signers answer signing jobs.
#[derive(Debug, Clone, Copy)]
enum Behavior {
    Sign,
    Refuse(FailureKind),
    /// Keep signing jobs unanswered (in `World::held`) until `World::release` signs them.
    Hold,
    /// Refuse the next signing job with this (retryable) kind, then sign.
    FailOnce(FailureKind),
}

struct Keys {
    wallet: SigningKey,
    operator: OperatorKey,
    stranger: OperatorKey,
    admin: SecretKey,
    approver: SecretKey,
    approver2: SecretKey,
    outsider: SecretKey,
    identities: Vec<IdentityKey>,
}

impl Keys {
    fn new() -> Self {
        let rng = &mut rand_core::OsRng;
        Keys {
            wallet: SigningKey::generate(rng),
            operator: OperatorKey::generate(rng),
            stranger: OperatorKey::generate(rng),
            admin: SecretKey::generate(rng),
            approver: SecretKey::generate(rng),
            approver2: SecretKey::generate(rng),
            outsider: SecretKey::generate(rng),
            identities: (0..3).map(|_| IdentityKey::generate(rng)).collect(),
        }
    }
}

/// A signing job a stand-in holds: (stand-in, session, message).
type Held = (NodeId, [u8; 32], SignMessage);

struct World {
    c: Coordinator,
    app: Router,
    clock: Arc<TestClock>,
    keys: Arc<Keys>,
    behavior: Arc<Mutex<Behavior>>,
    /// Frames each stand-in signer received (not envelopes), in order.
    frames: Vec<Arc<Mutex<Vec<ToSigner>>>>,
    /// Each stand-in's node id and hub connection id.
    links: Vec<(NodeId, u64)>,
    /// Signing jobs held unanswered under [`Behavior::Hold`].
    held: Arc<Mutex<Vec<Held>>>,
}

fn wallet_pk(keys: &Keys) -> PublicKey {
    PublicKey::Ed25519(keys.wallet.verifying_key().to_bytes())
}

impl World {
    /// A coordinator over `store` with three linked stand-in signers; `fresh` enrolls them and
    /// creates the wallets (`hot`: Ed25519 2-of-3 over the stand-ins' plain key; `btc`: an
    /// ECDSA wallet that never signs here).
    async fn new(store: Arc<dyn Store>, keys: Arc<Keys>, fresh: bool, start_ms: u64) -> World {
        let clock = Arc::new(TestClock(AtomicU64::new(start_ms)));
        let mut config = Config::new("https://127.0.0.1:1".into(), all_roles());
        config.frost_pool = 0;
        config.cggmp24_pool = 0;
        config.health_grace = Duration::from_secs(5);
        let c = Coordinator::new(
            config,
            store,
            Arc::new(AuditLog::in_memory("coordinator:test").expect("audit")),
            clock.clone(),
            Arc::new(OsEntropy),
        );
        let nodes: Vec<NodeId> = keys.identities.iter().map(IdentityKey::node_id).collect();
        if fresh {
            for (i, k) in keys.identities.iter().enumerate() {
                let s = k.signed_identity();
                c.enroll(SignerRecord {
                    name: format!("s{i}"),
                    identity: s.identity,
                    proof: s.proof,
                })
                .expect("enroll");
            }
            for (id, scheme, pk) in [
                ("hot", SchemeId::Ed25519, wallet_pk(&keys)),
                (
                    "btc",
                    SchemeId::EcdsaDkls23,
                    secp("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"),
                ),
            ] {
                c.store()
                    .insert_wallet(&WalletInfo {
                        wallet_id: id.into(),
                        name: id.into(),
                        scheme,
                        threshold: 2,
                        signers: nodes.clone(),
                        status: WalletStatus::Ready,
                        public_key: Some(pk),
                        chain_code: Some(hex::encode([7u8; 32])),
                        keygen_session: "00".repeat(32),
                        pool: 0,
                        created_at_ms: start_ms,
                        error: None,
                        attestations: Vec::new(),
                        networks: vec!["bitcoin:mainnet".into(), format!("solana:{NETWORK}")],
                        epoch: 0,
                        committing_epoch: None,
                    })
                    .expect("wallet");
            }
        }
        let behavior = Arc::new(Mutex::new(Behavior::Sign));
        let held = Arc::new(Mutex::new(Vec::new()));
        let mut frames = Vec::new();
        let mut links = Vec::new();
        for node in nodes {
            let log = Arc::new(Mutex::new(Vec::new()));
            frames.push(log.clone());
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            links.push((node, c.hub().connect(node, tx, signer_status(0))));
            let (c2, keys2, behavior2) = (c.clone(), keys.clone(), behavior.clone());
            let held2 = held.clone();
            tokio::spawn(async move {
                while let Some(frame) = rx.recv().await {
                    if !matches!(frame, ToSigner::Envelope { .. }) {
                        log.lock().expect("log").push(frame.clone());
                    }
                    let ToSigner::Start(start) = &frame else {
                        continue;
                    };
                    let Job::Sign { message, .. } = &start.job else {
                        continue;
                    };
                    let b = {
                        let mut b = behavior2.lock().expect("behavior");
                        let now = *b;
                        if let Behavior::FailOnce(_) = now {
                            *b = Behavior::Sign;
                        }
                        now
                    };
                    let answer = match b {
                        Behavior::Hold => {
                            held2.lock().expect("held").push((
                                node,
                                start.session,
                                message.clone(),
                            ));
                            continue;
                        }
                        Behavior::Sign => FromSigner::Done {
                            session: start.session,
                            outcome: Outcome::Signature(Signature::Ed25519(
                                keys2.wallet.sign(&message.ed25519_bytes()).to_bytes(),
                            )),
                        },
                        Behavior::Refuse(kind) | Behavior::FailOnce(kind) => FromSigner::Failed {
                            session: start.session,
                            failure: Failure {
                                kind,
                                message: "refused by the stand-in".into(),
                                culprits: Vec::new(),
                            },
                        },
                    };
                    c2.hub().on_frame(node, answer);
                }
            });
        }
        let app = router(c.clone());
        World {
            c,
            app,
            clock,
            keys,
            behavior,
            frames,
            links,
            held,
        }
    }

    async fn fresh() -> World {
        let store = Arc::new(SqliteStore::in_memory().expect("store"));
        World::new(store, Arc::new(Keys::new()), true, now_ms()).await
    }

    fn now(&self) -> u64 {
        self.clock.now_unix()
    }

    fn set_behavior(&self, b: Behavior) {
        *self.behavior.lock().expect("behavior") = b;
    }

    /// Signs every held job, as the stand-ins would have.
    fn release(&self) {
        let held = std::mem::take(&mut *self.held.lock().expect("held"));
        for (node, session, message) in held {
            let sig = self.keys.wallet.sign(&message.ed25519_bytes()).to_bytes();
            self.c.hub().on_frame(
                node,
                FromSigner::Done {
                    session,
                    outcome: Outcome::Signature(Signature::Ed25519(sig)),
                },
            );
        }
    }

    /// Distinct signing sessions started so far.
    fn sign_sessions(&self) -> BTreeSet<[u8; 32]> {
        self.frames
            .iter()
            .flat_map(|f| f.lock().expect("frames").clone())
            .filter_map(|f| match f {
                ToSigner::Start(s) if matches!(s.job, Job::Sign { .. }) => Some(s.session),
                _ => None,
            })
            .collect()
    }

    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, bytes) = self.call_raw(method, uri, true, body).await;
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, v)
    }

    async fn call_raw(
        &self,
        method: Method,
        uri: &str,
        token: bool,
        body: Option<Value>,
    ) -> (StatusCode, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(uri);
        if token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .expect("body");
        (status, bytes.to_vec())
    }

    fn bundle(&self, version: u64, policies: &str) -> SignedBundle {
        let k = &self.keys;
        let mut roles = BTreeMap::new();
        roles.insert(
            "operator".to_string(),
            BTreeSet::from([tessera_policy::PublicKey(k.operator.public().0)]),
        );
        roles.insert(
            "approver".to_string(),
            BTreeSet::from([k.approver.public(), k.approver2.public()]),
        );
        let mut b = SignedBundle::new(PolicyBundle {
            version,
            tenant: TENANT.into(),
            policies: policies.into(),
            roles,
            admins: AdminSet::new([k.admin.public()], 1).expect("admins"),
            velocity: BTreeMap::new(),
            created_at: 0,
            quarantined: Default::default(),
        });
        b.sign(&k.admin);
        b
    }

    async fn put_policy(&self, b: &SignedBundle) -> (StatusCode, Value) {
        self.call(
            Method::PUT,
            "/v1/policy",
            Some(serde_json::to_value(b).expect("json")),
        )
        .await
    }

    async fn install(&self, version: u64, policies: &str) {
        let (status, v) = self.put_policy(&self.bundle(version, policies)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }

    /// A signed request for a plain message (Ed25519 signs the bytes): needs one approver.
    fn message_request(&self, operator: &OperatorKey, text: &[u8], ttl: u64) -> SignRequest {
        sign_request(
            operator,
            "hot",
            tessera_chains::offchain_message(SchemeId::Ed25519, None, text).expect("a message"),
            self.now() + ttl,
        )
    }

    async fn submit_sign(&self, req: &SignRequest, wait: bool) -> (StatusCode, Value) {
        let uri = format!("/v1/wallets/{}/signatures?wait={wait}", wallet_of(req));
        self.call(Method::POST, &uri, Some(json!(req))).await
    }

    /// A signed Solana transfer of `lamports` from the `hot` wallet.
    fn transfer(
        &self,
        operator: &OperatorKey,
        lamports: u64,
    ) -> (CreateTransaction, Vec<SignMessage>) {
        let registry = tessera_chains::registry();
        let adapter = registry.get("solana").expect("solana");
        let pk = wallet_pk(&self.keys);
        let key = WalletKey {
            scheme: SchemeId::Ed25519,
            public_key: &pk,
        };
        let spec = json!({
            "recent_blockhash": "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N",
            "transfers": [{"to": "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin", "lamports": lamports}]
        });
        let payload = adapter.build(NETWORK, key, &spec).expect("build");
        let parsed = adapter.parse(NETWORK, key, &payload).expect("parse");
        let request_id = tessera_client_like_id();
        let authorization = Authorization::sign(
            operator,
            request_id.clone(),
            Action::SignTransaction {
                wallet_id: "hot".into(),
                path: "m".into(),
                chain: "solana".into(),
                network: NETWORK.into(),
                intent_hash: parsed.intent_hash().expect("hash"),
            },
            self.now() + 300,
        );
        (
            CreateTransaction {
                request_id,
                chain: "solana".into(),
                network: NETWORK.into(),
                path: "m".into(),
                payload: PayloadInput::Hex {
                    format: payload.format.clone(),
                    data: hex::encode(&payload.bytes),
                },
                authorization,
            },
            parsed.messages,
        )
    }

    async fn submit_tx(
        &self,
        req: &CreateTransaction,
        wait: bool,
    ) -> (StatusCode, TransactionInfo) {
        let (status, v) = self
            .call(
                Method::POST,
                &format!("/v1/wallets/hot/transactions?wait={wait}"),
                Some(json!(req)),
            )
            .await;
        assert!(status.is_success(), "{status}: {v}");
        (status, serde_json::from_value(v).expect("TransactionInfo"))
    }

    async fn request(&self, id: &str) -> RequestInfo {
        let (status, v) = self
            .call(Method::GET, &format!("/v1/requests/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        serde_json::from_value(v).expect("RequestInfo")
    }

    async fn approve(&self, approval: &Approval) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/v1/requests/{}/approvals", approval.request_id),
            Some(json!(approval)),
        )
        .await
    }

    fn approval_for(
        &self,
        key: &SecretKey,
        info: &RequestInfo,
        decision: ApprovalDecision,
    ) -> Approval {
        Approval::sign(
            key,
            &info.request_id,
            hash32(&info.intent_hash),
            info.policy.as_ref().expect("policy").version,
            decision,
            self.now() + 300,
        )
    }

    /// Waits (on the runtime, not on a timer assertion) until the request is final.
    async fn final_state(&self, id: &str) -> RequestInfo {
        let wait = async {
            loop {
                let r = self.c.request(id).expect("request");
                if r.state.is_final() {
                    return r;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .expect("the request never finished")
    }

    /// Signing jobs the stand-ins received for `request_id` (one per participant and attempt).
    async fn jobs_for(&self, request_id: &str) -> Vec<Job> {
        self.settle().await;
        self.frames
            .iter()
            .flat_map(|f| f.lock().expect("log").clone())
            .filter_map(|f| match f {
                ToSigner::Start(s) => Some(s.job),
                _ => None,
            })
            .filter(|j| match j {
                Job::Sign { authorization, .. } | Job::SignPresigned { authorization, .. } => {
                    authorization.request_id == request_id
                }
                _ => false,
            })
            .collect()
    }

    /// Waits until every stand-in has handled every frame sent to it so far (a `Welcome`
    /// marker goes through each one's queue behind them).
    async fn settle(&self) {
        use tessera_coordinator::hub::Relay;
        let welcomes = |i: usize| {
            self.frames[i]
                .lock()
                .expect("log")
                .iter()
                .filter(|f| matches!(f, ToSigner::Welcome))
                .count()
        };
        for (i, k) in self.keys.identities.iter().enumerate() {
            let before = welcomes(i);
            assert!(self.c.hub().deliver(&k.node_id(), ToSigner::Welcome));
            let wait = async {
                while welcomes(i) == before {
                    tokio::task::yield_now().await;
                }
            };
            tokio::time::timeout(Duration::from_secs(60), wait)
                .await
                .expect("the stand-in never handled its frames");
        }
    }

    async fn policy_frames(&self, signer: usize) -> Vec<ToSigner> {
        self.settle().await;
        self.frames[signer]
            .lock()
            .expect("log")
            .iter()
            .filter(|f| matches!(f, ToSigner::Policy { .. } | ToSigner::Mode { .. }))
            .cloned()
            .collect()
    }

    async fn audit_kinds(&self) -> (Vec<Value>, BTreeSet<String>) {
        let (status, bytes) = self
            .call_raw(Method::GET, "/v1/audit/export", true, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let report = verify_export(&bytes[..]).expect("the export verifies");
        let lines: Vec<Value> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("JSON line"))
            .collect();
        assert_eq!(lines[0]["chain_id"], "coordinator:test");
        assert_eq!(report.entries as usize, lines.len() - 1);
        let kinds = lines[1..]
            .iter()
            .map(|e| match &e["kind"] {
                Value::String(s) => s.clone(),
                Value::Object(o) => o.keys().next().expect("kind").clone(),
                other => panic!("kind {other}"),
            })
            .collect();
        (lines, kinds)
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

fn secp(hex_key: &str) -> PublicKey {
    let mut pk = [0u8; 33];
    hex::decode_to_slice(hex_key, &mut pk).expect("hex");
    PublicKey::Secp256k1(pk)
}

fn hash32(h: &str) -> [u8; 32] {
    hex::decode(h).expect("hex").try_into().expect("32 bytes")
}

fn tessera_client_like_id() -> String {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    hex::encode(b)
}

fn wallet_of(req: &SignRequest) -> String {
    match &req.authorization.action {
        Action::Sign { wallet_id, .. } => wallet_id.clone(),
        _ => panic!("not a sign authorization"),
    }
}

fn sign_request(op: &OperatorKey, wallet: &str, m: SignMessage, expires_at: u64) -> SignRequest {
    let request_id = tessera_client_like_id();
    let authorization = Authorization::sign(
        op,
        request_id.clone(),
        Action::Sign {
            wallet_id: wallet.into(),
            path: "m".into(),
            messages: vec![authorized_message(&m).expect("message")],
        },
        expires_at,
    );
    SignRequest {
        request_id,
        message: MessageInput::from_sign_message(&m),
        path: "m".into(),
        authorization,
    }
}

fn signer_status(policy_version: u64) -> SignerStatus {
    SignerStatus {
        version: "test".into(),
        wallets: 1,
        primes_ready: 0,
        primes_progress: 0,
        sessions: 0,
        policy_version,
        mode: "normal".into(),
        policy_fresh_since: 0,
        prepared_epochs: 0,
        vault_id: String::new(),
    }
}

fn code(v: &Value) -> &str {
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {v}"))
}

// ---------------------------------------------------------------------- tests

/// Sessions a crashed coordinator left running are failed as `interrupted` at the next start,
/// and a wallet whose key generation was interrupted is failed, not left `creating` forever.
#[tokio::test]
async fn sessions_left_running_by_a_crash_are_failed_at_restart() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().expect("store"));
    let keys = Arc::new(Keys::new());
    let w = World::new(store.clone(), keys.clone(), true, now_ms()).await;
    let nodes: Vec<NodeId> = keys.identities.iter().map(IdentityKey::node_id).collect();
    let mut wallet = store.wallet("hot").expect("store").expect("hot");
    wallet.wallet_id = "half-made".into();
    wallet.status = WalletStatus::Creating;
    wallet.public_key = None;
    store.insert_wallet(&wallet).expect("wallet");
    let running = |id: &str, kind: SessionKind, wallet: &str| SessionInfo {
        session_id: id.into(),
        kind,
        wallet_id: wallet.into(),
        request_id: None,
        status: SessionStatus::Running,
        participants: nodes.clone(),
        attempts: 1,
        path: None,
        sign_path: None,
        signature: None,
        public_key: None,
        error: None,
        created_at_ms: 1,
        finished_at_ms: None,
    };
    store
        .put_session(&running("aa", SessionKind::Keygen, "half-made"))
        .expect("session");
    store
        .put_session(&running("bb", SessionKind::Sign, "hot"))
        .expect("session");
    let mut done = running("cc", SessionKind::Sign, "hot");
    done.status = SessionStatus::Done;
    store.put_session(&done).expect("session");
    drop(w);
    let w = World::new(store.clone(), keys, false, now_ms()).await;
    w.c.resume().expect("resume");
    for id in ["aa", "bb"] {
        let s = store.session(id).expect("store").expect("session");
        assert_eq!(s.status, SessionStatus::Failed, "{id}");
        assert_eq!(s.error.map(|e| e.code.as_str()), Some("interrupted"));
        assert!(s.finished_at_ms.is_some());
    }
    assert_eq!(
        store.session("cc").expect("store").expect("cc").status,
        SessionStatus::Done
    );
    let half = store.wallet("half-made").expect("store").expect("wallet");
    assert_eq!(half.status, WalletStatus::Failed);
    assert_eq!(
        store.wallet("hot").expect("store").expect("hot").status,
        WalletStatus::Ready
    );
    assert!(store.running_sessions().expect("store").is_empty());
}

/// Wallet creation goes through the coordinator's policy once a bundle is installed: a forged
/// or expired authorization, a deny and a decision that needs approvals are refused with typed
/// errors, audited, and no wallet is stored; a permitted one starts key generation.
#[tokio::test]
async fn wallet_creation_is_evaluated_under_the_policy() {
    let w = World::fresh().await;
    let nodes: Vec<NodeId> = w.keys.identities.iter().map(IdentityKey::node_id).collect();
    let create = |w: &World, id: &str, op: &OperatorKey, expires_at: u64| {
        let action = Action::Keygen {
            wallet_id: id.into(),
            scheme: SchemeId::Ed25519,
            threshold: 2,
            signers: nodes.clone(),
            networks: vec![format!("solana:{NETWORK}")],
        };
        let _ = w;
        json!({
            "wallet_id": id,
            "name": id,
            "scheme": SchemeId::Ed25519,
            "threshold": 2,
            "signers": nodes,
            "networks": [format!("solana:{NETWORK}")],
            "authorization": Authorization::sign(op, format!("create-{id}"), action, expires_at),
        })
    };
    let later = w.now() + 300;
    // Without a bundle, key generation runs on the authorization alone (cluster setup).
    let (status, v) = w
        .call(
            Method::POST,
            "/v1/wallets",
            Some(create(&w, "boot", &w.keys.operator, later)),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    // A forged signature (the body says operator, another key signed) and an expired one.
    let mut forged = create(&w, "forged", &w.keys.stranger, later);
    forged["authorization"]["operator"] = json!(w.keys.operator.public());
    let (status, v) = w.call(Method::POST, "/v1/wallets", Some(forged)).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::BAD_REQUEST, "authorization_invalid")
    );
    let (status, v) = w
        .call(
            Method::POST,
            "/v1/wallets",
            Some(create(&w, "old", &w.keys.operator, w.now() - 1)),
        )
        .await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::BAD_REQUEST, "authorization_expired")
    );

    // POLICIES permits no create_wallet: denied.
    w.install(1, POLICIES).await;
    let (status, v) = w
        .call(
            Method::POST,
            "/v1/wallets",
            Some(create(&w, "cold", &w.keys.operator, later)),
        )
        .await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::FORBIDDEN, "policy_denied"),
        "{v}"
    );
    // A permit with approvals cannot be met by a key generation.
    let with_approvals = format!(
        "{POLICIES}\n@id(\"wallets-approved\")\n@approvals(\"approver:1\")\npermit (principal in \
         Tessera::Role::\"operator\", action == Tessera::Action::\"create_wallet\", resource);\n"
    );
    w.install(2, &with_approvals).await;
    let (status, v) = w
        .call(
            Method::POST,
            "/v1/wallets",
            Some(create(&w, "cold2", &w.keys.operator, later)),
        )
        .await;
    assert_eq!((status, code(&v)), (StatusCode::FORBIDDEN, "policy_denied"));
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("needs approvals"),
        "{v}"
    );
    // Permitted for operators, not for a stranger.
    let permitted = format!(
        "{POLICIES}\n@id(\"wallets\")\npermit (principal in Tessera::Role::\"operator\", \
         action == Tessera::Action::\"create_wallet\", resource);\n"
    );
    w.install(3, &permitted).await;
    let (status, v) = w
        .call(
            Method::POST,
            "/v1/wallets",
            Some(create(&w, "cold3", &w.keys.stranger, later)),
        )
        .await;
    assert_eq!((status, code(&v)), (StatusCode::FORBIDDEN, "policy_denied"));
    let (status, v) = w
        .call(
            Method::POST,
            "/v1/wallets",
            Some(create(&w, "cold4", &w.keys.operator, later)),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    for id in ["forged", "old", "cold", "cold2", "cold3"] {
        let (status, _) = w
            .call(Method::GET, &format!("/v1/wallets/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id} was stored");
    }
    // Every evaluation is audited with its outcome, under the request id.
    let (lines, _) = w.audit_kinds().await;
    let decisions: Vec<(String, String)> = lines[1..]
        .iter()
        .filter(|e| e["body"]["kind"] == "create_wallet")
        .map(|e| {
            (
                e["subject"].as_str().unwrap_or("").to_string(),
                e["kind"]["policy_decision"]["outcome"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("create-cold", "deny"),
        ("create-cold2", "needs_approvals"),
        ("create-cold3", "deny"),
        ("create-cold4", "allow"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(decisions, want);
}

#[tokio::test]
async fn signer_health_drives_the_recommendation_never_the_mode() {
    let mut w = World::fresh().await;
    w.install(1, POLICIES).await;
    let report = |w: &World, i: usize, version: u64| {
        w.c.hub()
            .on_frame(w.links[i].0, FromSigner::Status(signer_status(version)));
    };
    let mode = |w: &World| {
        let w = w.app.clone();
        async move {
            let req = Request::builder()
                .uri("/v1/mode")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .expect("request");
            let resp = w.oneshot(req).await.expect("infallible");
            assert_eq!(resp.status(), StatusCode::OK);
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .expect("body");
            serde_json::from_slice::<ModeStatus>(&bytes).expect("ModeStatus")
        }
    };
    // The stand-ins still report policy version 0: a signer on another version is unhealthy.
    w.c.check_health().expect("health");
    let m = mode(&w).await;
    assert_eq!((m.signers_enrolled, m.signers_healthy.len()), (3, 0));
    assert_eq!(m.wallets_total, 2);
    assert_eq!(m.wallets_below_margin_count, 2);
    assert!(m
        .wallets_below_margin
        .iter()
        .all(|h| h.state == GroupHealth::Unavailable && h.healthy == 0));
    for i in 0..3 {
        report(&w, i, 1);
    }
    w.c.check_health().expect("health");
    let m = mode(&w).await;
    assert_eq!(m.signers_healthy.len(), 3);
    assert_eq!(
        (m.mode.as_str(), m.recommended.as_str()),
        ("normal", "normal")
    );
    assert!(m.wallets_below_margin.is_empty());

    // Signer 2 drops: both 2-of-3 wallets are below the margin of one spare signer. The
    // recommendation follows only after the grace period.
    let (node2, conn2) = w.links[2];
    w.c.hub().disconnect(node2, conn2);
    w.c.check_health().expect("health");
    let m = mode(&w).await;
    assert_eq!(m.wallets_below_margin_count, 2);
    assert!(m
        .wallets_below_margin
        .iter()
        .all(|h| h.state == GroupHealth::BelowMargin && (h.healthy, h.threshold) == (2, 2)));
    assert_eq!(m.recommended, "normal", "within the grace period");
    w.clock.advance(6);
    w.c.check_health().expect("health");
    let m = mode(&w).await;
    assert_eq!(m.recommended, "degraded");
    assert!(
        m.recommendation.starts_with("enter degraded mode"),
        "{}",
        m.recommendation
    );
    assert_eq!(m.recommended_since_ms, w.clock.now_ms());
    // The coordinator does not change the mode on its own.
    assert_eq!(m.mode, "normal");
    let metrics =
        String::from_utf8(w.call_raw(Method::GET, "/metrics", true, None).await.1).expect("utf-8");
    for line in [
        "tessera_signers_healthy 2",
        "tessera_wallets_below_margin 2",
        "tessera_mode_recommended 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }

    // Admins enter degraded mode. Signer 1 falls behind on the policy: the wallets cannot sign.
    let mut degraded = ModeChange::new(
        TENANT,
        1,
        Mode::Degraded,
        "signer 2 down",
        w.now(),
        w.now() + 3600,
    );
    degraded.sign(&w.keys.admin);
    let (status, v) = w.call(Method::PUT, "/v1/mode", Some(json!(degraded))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    report(&w, 1, 0);
    w.c.check_health().expect("health");
    let m = mode(&w).await;
    assert_eq!((m.mode.as_str(), m.seq), ("degraded", 1));
    assert_eq!(m.reason, "signer 2 down");
    assert_eq!(m.expires_at, Some(degraded.expires_at));
    assert!(m.recommendation.starts_with("stay in degraded mode"));
    assert!(m
        .wallets_below_margin
        .iter()
        .all(|h| h.state == GroupHealth::Unavailable && h.healthy == 1));

    // Everything back: after the grace period the recommendation is to leave degraded mode.
    report(&w, 1, 1);
    let (tx, _) = tokio::sync::mpsc::unbounded_channel();
    w.links[2].1 = w.c.hub().connect(node2, tx, signer_status(1));
    w.c.check_health().expect("health");
    assert_eq!(mode(&w).await.recommended, "degraded");
    w.clock.advance(6);
    w.c.check_health().expect("health");
    let m = mode(&w).await;
    assert_eq!(
        (m.mode.as_str(), m.recommended.as_str()),
        ("degraded", "normal")
    );
    assert!(m.recommendation.starts_with("leave degraded mode"));

    // A lockdown in force is what is recommended until the admins lift it.
    let mut lockdown =
        ModeChange::new(TENANT, 2, Mode::Lockdown, "incident", w.now(), w.now() + 60);
    lockdown.sign(&w.keys.admin);
    let (status, v) = w.call(Method::PUT, "/v1/mode", Some(json!(lockdown))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let m = mode(&w).await;
    assert_eq!(
        (m.mode.as_str(), m.recommended.as_str()),
        ("lockdown", "lockdown")
    );

    // Each committed change of the recommendation is audited once, in order.
    let (lines, _) = w.audit_kinds().await;
    let changes: Vec<(String, String, u64)> = lines[1..]
        .iter()
        .filter(|e| e["kind"]["other"] == "health_change")
        .map(|e| {
            (
                e["body"]["from"].as_str().unwrap_or("").to_string(),
                e["body"]["to"].as_str().unwrap_or("").to_string(),
                e["body"]["wallets_below_margin"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("normal".to_string(), "degraded".to_string(), 2),
            ("degraded".to_string(), "normal".to_string(), 0),
        ]
    );
}

#[tokio::test]
async fn without_a_policy_nothing_is_accepted_and_nothing_is_stored() {
    let w = World::fresh().await;
    let (status, v) = w.call(Method::GET, "/v1/policy", None).await;
    assert_eq!(status, StatusCode::OK);
    let info: PolicyInfo = serde_json::from_value(v).expect("PolicyInfo");
    assert_eq!((info.version, info.mode.as_str()), (0, "normal"));
    let (status, v) = w.call(Method::GET, "/v1/policy/bundle", None).await;
    assert_eq!((status, code(&v)), (StatusCode::CONFLICT, "no_policy"));

    let req = w.message_request(&w.keys.operator, b"hello", 300);
    let (status, v) = w.submit_sign(&req, false).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::CONFLICT, "no_policy"),
        "{v}"
    );
    let (tx, _) = w.transfer(&w.keys.operator, 10);
    let (status, v) = w
        .call(
            Method::POST,
            "/v1/wallets/hot/transactions",
            Some(json!(tx)),
        )
        .await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::CONFLICT, "no_policy"),
        "{v}"
    );
    let mode = ModeChange::new(TENANT, 1, Mode::Lockdown, "x", w.now(), w.now() + 60);
    let (status, v) = w.call(Method::PUT, "/v1/mode", Some(json!(mode))).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::CONFLICT, "no_policy"),
        "{v}"
    );

    let (_, v) = w.call(Method::GET, "/v1/requests", None).await;
    assert_eq!(v, json!([]));
    let session = request_session_id("hot", &req.request_id);
    let (status, _) = w
        .call(Method::GET, &format!("/v1/sessions/{session}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (lines, _) = w.audit_kinds().await;
    assert_eq!(lines.len(), 1, "only the header: {lines:?}");
    assert!(w.jobs_for(&req.request_id).await.is_empty());
}

#[tokio::test]
async fn policy_bundles_are_checked_stored_audited_and_pushed() {
    let w = World::fresh().await;
    let v1 = w.bundle(1, POLICIES);
    let (status, v) = w.put_policy(&v1).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let info: PolicyInfo = serde_json::from_value(v).expect("PolicyInfo");
    assert_eq!((info.version, info.tenant.as_str()), (1, TENANT));
    assert_eq!(info.bundle_hash, hex::encode(v1.bundle.bundle_hash()));
    assert_eq!(
        info.policy_ids,
        ["ops-large-transfers", "ops-messages", "ops-small-transfers"]
    );
    // Every linked signer got exactly that bundle.
    for i in 0..3 {
        let pushed: Vec<SignedBundle> = w
            .policy_frames(i)
            .await
            .into_iter()
            .filter_map(|f| match f {
                ToSigner::Policy { bundle } => {
                    Some(serde_json::from_slice(&bundle).expect("bundle"))
                }
                _ => None,
            })
            .collect();
        assert_eq!(pushed, vec![v1.clone()], "signer {i}");
    }
    let (status, v) = w.call(Method::GET, "/v1/policy/bundle", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_value::<SignedBundle>(v).expect("bundle"),
        v1
    );

    // The bundle in force again: no change, pushed again.
    let (status, _) = w.put_policy(&v1).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(w.policy_frames(0).await.len(), 2);

    // Same version with other text, an older one: stale.
    let other = w.bundle(1, POLICIES_V2);
    let (status, v) = w.put_policy(&other).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::CONFLICT, "stale_version"),
        "{v}"
    );
    // Signed by someone who is not an admin of the bundle in force.
    let mut forged = SignedBundle::new(w.bundle(2, POLICIES_V2).bundle);
    forged.sign(&w.keys.outsider);
    let (status, v) = w.put_policy(&forged).await;
    assert_eq!(
        (status, code(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "bundle_signatures_invalid"
        ),
        "{v}"
    );
    // Unsigned, and Cedar that does not validate.
    let unsigned = SignedBundle::new(w.bundle(2, POLICIES_V2).bundle);
    let (status, v) = w.put_policy(&unsigned).await;
    assert_eq!(code(&v), "bundle_signatures_invalid", "{status}");
    let bad = w.bundle(
        2,
        "@id(\"x\") permit (principal, action, resource) when { context.nope };",
    );
    let (status, v) = w.put_policy(&bad).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "bundle_invalid"),
        "{v}"
    );
    let (status, v) = w
        .call(Method::PUT, "/v1/policy", Some(json!({"bundle": 1})))
        .await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
    );
    // None of that changed anything.
    let (_, v) = w.call(Method::GET, "/v1/policy", None).await;
    assert_eq!(v["version"], 1);
    assert_eq!(w.policy_frames(1).await.len(), 2);

    // Version 2 signed by the admins in force.
    let v2 = w.bundle(2, POLICIES_V2);
    let (status, v) = w.put_policy(&v2).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 2);
    // Then version 1 again is refused.
    let (status, v) = w.put_policy(&v1).await;
    assert_eq!((status, code(&v)), (StatusCode::CONFLICT, "stale_version"));

    // Signers reporting version 2 are current.
    let node = w.keys.identities[1].node_id();
    w.c.hub()
        .on_frame(node, FromSigner::Status(signer_status(2)));
    let (_, v) = w.call(Method::GET, "/v1/policy", None).await;
    let info: PolicyInfo = serde_json::from_value(v).expect("PolicyInfo");
    assert_eq!(info.signers_current, vec![node]);

    // A signer that (re)links gets the bundle and the mode change in force.
    let mode = {
        let mut m = ModeChange::new(
            TENANT,
            1,
            Mode::Degraded,
            "signer 3 down",
            w.now(),
            w.now() + 600,
        );
        m.sign(&w.keys.admin);
        m
    };
    let (status, v) = w.call(Method::PUT, "/v1/mode", Some(json!(mode))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    w.c.hub().connect(node, tx, signer_status(2));
    w.c.on_signer_linked(&node);
    let mut got = Vec::new();
    while let Ok(f) = rx.try_recv() {
        got.push(f);
    }
    assert_eq!(got.len(), 2, "{got:?}");
    match &got[0] {
        ToSigner::Policy { bundle } => {
            assert_eq!(
                serde_json::from_slice::<SignedBundle>(bundle).expect("bundle"),
                v2
            )
        }
        f => panic!("{f:?}"),
    }
    match &got[1] {
        ToSigner::Mode { change } => {
            assert_eq!(
                serde_json::from_slice::<ModeChange>(change).expect("mode"),
                mode
            )
        }
        f => panic!("{f:?}"),
    }

    // A signer's refusal of an update is audited.
    w.c.on_signer_frame(
        node,
        FromSigner::PolicyRefused {
            what: "policy".into(),
            version: 2,
            reason: "bundle signed by an unknown admin".into(),
        },
    );
    let (lines, kinds) = w.audit_kinds().await;
    assert!(
        kinds.contains("policy_change") && kinds.contains("mode_change"),
        "{kinds:?}"
    );
    let changes: Vec<&Value> = lines[1..]
        .iter()
        .filter(|e| e["kind"].get("policy_change").is_some())
        .collect();
    assert_eq!(changes.len(), 2, "one per installed version");
    assert_eq!(changes[1]["kind"]["policy_change"]["policy_version"], 2);
    assert!(
        lines
            .iter()
            .any(|e| e["kind"]["other"] == "policy_refused"
                && e["body"]["signer"] == node.to_string())
    );
}

#[tokio::test]
async fn allowed_denied_and_awaiting_requests() {
    let w = World::fresh().await;
    w.install(1, POLICIES).await;

    // Allowed: a small transfer signs at once; the jobs carry the policy version and no
    // approvals; the signed transaction passed the chain's verifier, and the signature
    // verifies here with ed25519-dalek too.
    let (tx, messages) = w.transfer(&w.keys.operator, ONE_SOL / 2);
    let (status, done) = w.submit_tx(&tx, true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done.state, RequestState::Signed, "{:?}", done.error);
    assert_eq!(done.status, SessionStatus::Done);
    assert!(done.signed.is_some());
    assert_eq!(
        done.policy.as_ref().map(|p| p.decision.as_str()),
        Some("allow")
    );
    let Signature::Ed25519(sig) = &done.signatures[0] else {
        panic!("not ed25519")
    };
    w.keys
        .wallet
        .verifying_key()
        .verify(
            &messages[0].ed25519_bytes(),
            &ed25519_dalek::Signature::from_bytes(sig),
        )
        .expect("the signature verifies");
    let jobs = w.jobs_for(&tx.request_id).await;
    assert_eq!(jobs.len(), 2, "one attempt, two signers");
    for j in &jobs {
        let Job::Sign {
            policy_version,
            approvals,
            ..
        } = j
        else {
            panic!("{j:?}")
        };
        assert_eq!((*policy_version, approvals.len()), (1, 0));
    }
    let info = w.request(&tx.request_id).await;
    assert_eq!(
        (info.kind.as_str(), info.state),
        ("transaction", RequestState::Signed)
    );
    assert_eq!(info.intent.as_ref(), Some(&done.intent));

    // Denied by policy: a requester without the operator role. Stored as rejected (200, not
    // an HTTP error), nothing sent to signers.
    let (tx, _) = w.transfer(&w.keys.stranger, 10);
    let (status, rejected) = w.submit_tx(&tx, false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rejected.state, RequestState::Rejected);
    assert_eq!(rejected.status, SessionStatus::Failed);
    assert_eq!(
        rejected.error.as_ref().map(|e| e.code.as_str()),
        Some("policy_denied")
    );
    let info = w.request(&tx.request_id).await;
    let policy = info.policy.expect("policy");
    assert_eq!(policy.decision, "deny");
    assert_eq!(policy.reasons, ["no policy permits this request"]);
    assert!(w.jobs_for(&tx.request_id).await.is_empty());

    // Denied: a raw digest, which no policy permits explicitly. The summary says plainly that
    // nobody can see what it signs.
    let raw = sign_request(
        &w.keys.operator,
        "btc",
        SignMessage::danger_raw_digest([0xab; 32]),
        w.now() + 300,
    );
    let (status, v) = w.submit_sign(&raw, false).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let session: SessionInfo = serde_json::from_value(v).expect("SessionInfo");
    assert_eq!(session.status, SessionStatus::Failed);
    assert_eq!(
        session.error.map(|e| e.code.as_str()),
        Some("policy_denied")
    );
    let info = w.request(&raw.request_id).await;
    assert_eq!(
        (info.kind.as_str(), info.state),
        ("sign", RequestState::Rejected)
    );
    assert!(info.summary.starts_with("RAW DIGEST"), "{}", info.summary);
    assert!(info.summary.contains("cannot see what this digest signs"));
    assert_eq!(info.risk_flags, ["raw_digest"]);
    assert_eq!(
        info.policy.expect("policy").reasons,
        ["raw digest signing is not explicitly permitted"]
    );

    // Awaiting approvals: a message. Returned at once (202, even with wait), the session
    // running, nothing sent to the signers yet.
    let msg = w.message_request(&w.keys.operator, b"hello approvers", 300);
    let (status, v) = w.submit_sign(&msg, true).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["status"], "running");
    let info = w.request(&msg.request_id).await;
    assert_eq!(info.state, RequestState::AwaitingApprovals);
    let policy = info.policy.clone().expect("policy");
    assert_eq!(policy.decision, "allow_with_approvals");
    assert_eq!(policy.policy_ids, ["ops-messages"]);
    assert_eq!(
        (policy.quorum[0].role.as_str(), policy.quorum[0].count),
        ("approver", 1)
    );
    // The intent hash is the shared message intent hash of the authorized message.
    assert_eq!(
        hash32(&info.intent_hash),
        msg.authorization.action.intent_hash().expect("hash")
    );
    assert_eq!(info.expires_at, msg.authorization.expires_at);
    assert!(w.jobs_for(&msg.request_id).await.is_empty());
    let (_, pending) = w
        .call(Method::GET, "/v1/requests?state=awaiting_approvals", None)
        .await;
    let pending: Vec<RequestInfo> = serde_json::from_value(pending).expect("list");
    assert_eq!(
        pending
            .iter()
            .map(|r| r.request_id.as_str())
            .collect::<Vec<_>>(),
        [msg.request_id.as_str()]
    );
    let (status, v) = w.call(Method::GET, "/v1/requests?state=nope", None).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    // One approval meets the quorum: approved, then signing with the approval in the jobs.
    let approval = w.approval_for(&w.keys.approver, &info, ApprovalDecision::Approve);
    let (status, v) = w.approve(&approval).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let after: RequestInfo = serde_json::from_value(v).expect("RequestInfo");
    assert!(
        matches!(after.state, RequestState::Signing | RequestState::Signed),
        "{:?}",
        after.state
    );
    assert_eq!(after.approvals, vec![approval.clone()]);
    let done = w.final_state(&msg.request_id).await;
    assert_eq!(done.state, RequestState::Signed, "{:?}", done.error);
    let jobs = w.jobs_for(&msg.request_id).await;
    assert!(!jobs.is_empty());
    for j in &jobs {
        let Job::Sign {
            policy_version,
            approvals,
            ..
        } = j
        else {
            panic!("{j:?}")
        };
        assert_eq!(*policy_version, 1);
        assert_eq!(approvals, &vec![approval.clone()]);
    }
    let id = request_session_id("hot", &msg.request_id);
    let s = w.c.session(&id, None).await.expect("session");
    assert_eq!(s.status, SessionStatus::Done);
    let Some(Signature::Ed25519(sig)) = s.signature else {
        panic!("no signature")
    };
    // What the wallet signed: the text as a Solana off-chain message.
    let Ok(SignMessage::Preimage { bytes: signed, .. }) =
        tessera_chains::offchain_message(SchemeId::Ed25519, None, b"hello approvers")
    else {
        panic!("an off-chain message")
    };
    w.keys
        .wallet
        .verifying_key()
        .verify(&signed, &ed25519_dalek::Signature::from_bytes(&sig))
        .expect("verifies");
    // A second approval after the fact is refused.
    let late = w.approval_for(&w.keys.approver2, &info, ApprovalDecision::Approve);
    let (status, v) = w.approve(&late).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::CONFLICT, "not_awaiting_approvals")
    );

    // A large transfer waits for its approver too; the transaction record mirrors the state.
    let (tx, _) = w.transfer(&w.keys.operator, 2 * ONE_SOL);
    let (status, t) = w.submit_tx(&tx, true).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        (t.state, t.status),
        (RequestState::AwaitingApprovals, SessionStatus::Running)
    );
    let info = w.request(&tx.request_id).await;
    assert!(
        info.summary
            .contains("9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"),
        "{}",
        info.summary
    );
    let approval = w.approval_for(&w.keys.approver2, &info, ApprovalDecision::Approve);
    let (status, _) = w.approve(&approval).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        w.final_state(&tx.request_id).await.state,
        RequestState::Signed
    );
    let (_, v) = w
        .call(
            Method::GET,
            &format!(
                "/v1/wallets/hot/transactions/{}?wait_ms=10000",
                tx.request_id
            ),
            None,
        )
        .await;
    let t: TransactionInfo = serde_json::from_value(v).expect("TransactionInfo");
    assert_eq!(
        (t.state, t.status),
        (RequestState::Signed, SessionStatus::Done)
    );
    assert_eq!(t.approvals, vec![approval]);
    assert!(t.signed.is_some());

    // Request ids are unique across wallets.
    let (status, v) = w.submit_sign(&msg, false).await;
    assert_eq!((status, code(&v)), (StatusCode::CONFLICT, "conflict"));
}

#[tokio::test]
async fn an_approver_rejection_rejects_the_request() {
    let w = World::fresh().await;
    w.install(1, POLICIES).await;
    let msg = w.message_request(&w.keys.operator, b"no thanks", 300);
    let (status, _) = w.submit_sign(&msg, false).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let info = w.request(&msg.request_id).await;
    let reject = w.approval_for(&w.keys.approver, &info, ApprovalDecision::Reject);
    let (status, v) = w.approve(&reject).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let after: RequestInfo = serde_json::from_value(v).expect("RequestInfo");
    assert_eq!(after.state, RequestState::Rejected);
    assert_eq!(
        after.error.as_ref().map(|e| e.code.as_str()),
        Some("rejected")
    );
    // The session says so too, and nothing reached a signer.
    let id = request_session_id("hot", &msg.request_id);
    let s = w.c.session(&id, None).await.expect("session");
    assert_eq!(s.status, SessionStatus::Failed);
    assert_eq!(s.error.map(|e| e.code.as_str()), Some("rejected"));
    assert!(w.jobs_for(&msg.request_id).await.is_empty());
    let approve = w.approval_for(&w.keys.approver2, &info, ApprovalDecision::Approve);
    let (status, v) = w.approve(&approve).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::CONFLICT, "not_awaiting_approvals")
    );
}

#[tokio::test]
async fn bad_approvals_get_typed_errors_and_change_nothing() {
    let w = World::fresh().await;
    w.install(1, POLICIES).await;
    let msg = w.message_request(&w.keys.operator, b"check me", 300);
    w.submit_sign(&msg, false).await;
    let info = w.request(&msg.request_id).await;
    let good = w.approval_for(&w.keys.approver, &info, ApprovalDecision::Approve);
    let hash = hash32(&info.intent_hash);
    let now = w.now();
    let sign = |key: &SecretKey, id: &str, hash: [u8; 32], version: u64, expires_at: u64| {
        Approval::sign(
            key,
            id,
            hash,
            version,
            ApprovalDecision::Approve,
            expires_at,
        )
    };
    let mut forged = good.clone();
    forged.signature[0] ^= 1;
    let mut altered = good.clone();
    altered.expires_at += 1;
    let operator_as_approver = {
        // The requester's own key is in role "operator", not in the quorum's role.
        let k = SecretKey::from_seed(&[9; 32]);
        sign(&k, &info.request_id, hash, 1, now + 300)
    };
    let cases: Vec<(&str, Approval, StatusCode, &str)> = vec![
        (
            "forged",
            forged,
            StatusCode::UNPROCESSABLE_ENTITY,
            "approval_invalid",
        ),
        (
            "altered after signing",
            altered,
            StatusCode::UNPROCESSABLE_ENTITY,
            "approval_invalid",
        ),
        (
            "wrong intent",
            sign(&w.keys.approver, &info.request_id, [9; 32], 1, now + 300),
            StatusCode::UNPROCESSABLE_ENTITY,
            "approval_invalid",
        ),
        (
            "wrong policy version",
            sign(&w.keys.approver, &info.request_id, hash, 2, now + 300),
            StatusCode::UNPROCESSABLE_ENTITY,
            "approval_invalid",
        ),
        (
            "another request",
            sign(&w.keys.approver, "another", hash, 1, now + 300),
            StatusCode::UNPROCESSABLE_ENTITY,
            "approval_invalid",
        ),
        (
            "expired",
            sign(&w.keys.approver, &info.request_id, hash, 1, now),
            StatusCode::UNPROCESSABLE_ENTITY,
            "approval_expired",
        ),
        (
            "not an approver",
            sign(&w.keys.outsider, &info.request_id, hash, 1, now + 300),
            StatusCode::FORBIDDEN,
            "not_an_approver",
        ),
        (
            "a key in no role",
            operator_as_approver,
            StatusCode::FORBIDDEN,
            "not_an_approver",
        ),
    ];
    for (what, approval, want_status, want_code) in cases {
        let (status, v) = w
            .call(
                Method::POST,
                &format!("/v1/requests/{}/approvals", info.request_id),
                Some(json!(approval)),
            )
            .await;
        assert_eq!((status, code(&v)), (want_status, want_code), "{what}: {v}");
    }
    let (status, v) = w
        .call(
            Method::POST,
            "/v1/requests/nope/approvals",
            Some(json!(good)),
        )
        .await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, v) = w
        .call(
            Method::POST,
            &format!("/v1/requests/{}/approvals", info.request_id),
            Some(json!({"request_id": 1})),
        )
        .await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
    );

    // Nothing changed: still awaiting, no approval stored, nothing audited as an approval.
    let still = w.request(&info.request_id).await;
    assert_eq!(still.state, RequestState::AwaitingApprovals);
    assert!(still.approvals.is_empty());
    let (_, kinds) = w.audit_kinds().await;
    assert!(!kinds.contains("approval"), "{kinds:?}");
    assert!(w.jobs_for(&info.request_id).await.is_empty());
    // The good one still works.
    let (status, v) = w.approve(&good).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        w.final_state(&info.request_id).await.state,
        RequestState::Signed
    );
}

#[tokio::test]
async fn requests_awaiting_approvals_expire() {
    let w = World::fresh().await;
    w.install(1, POLICIES).await;
    let msg = w.message_request(&w.keys.operator, b"too slow", 60);
    w.submit_sign(&msg, false).await;
    let (tx, _) = w.transfer(&w.keys.operator, 3 * ONE_SOL);
    w.submit_tx(&tx, false).await;
    let info = w.request(&msg.request_id).await;
    assert_eq!(w.c.expire_due().expect("expire"), 0);
    w.clock.advance(61);
    // The transaction's authorization (300 s) has not expired yet.
    assert_eq!(w.c.expire_due().expect("expire"), 1);
    let expired = w.request(&msg.request_id).await;
    assert_eq!(expired.state, RequestState::Expired);
    assert_eq!(
        expired.error.as_ref().map(|e| e.code.as_str()),
        Some("expired")
    );
    let id = request_session_id("hot", &msg.request_id);
    let s = w.c.session(&id, None).await.expect("session");
    assert_eq!(
        (s.status, s.error.map(|e| e.code.as_str())),
        (SessionStatus::Failed, Some("expired"))
    );
    assert_eq!(
        w.request(&tx.request_id).await.state,
        RequestState::AwaitingApprovals
    );
    // An approval arriving late is refused.
    let approval = w.approval_for(&w.keys.approver, &info, ApprovalDecision::Approve);
    let (status, v) = w.approve(&approval).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::CONFLICT, "not_awaiting_approvals")
    );
    // A request whose expiry passed is expired when an approval arrives, before the sweep.
    w.clock.advance(300);
    let info = w.request(&tx.request_id).await;
    let approval = w.approval_for(&w.keys.approver, &info, ApprovalDecision::Approve);
    let (status, v) = w.approve(&approval).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::CONFLICT, "not_awaiting_approvals")
    );
    let t = w.request(&tx.request_id).await;
    assert_eq!(t.state, RequestState::Expired);
    let (_, v) = w
        .call(
            Method::GET,
            &format!("/v1/wallets/hot/transactions/{}", tx.request_id),
            None,
        )
        .await;
    assert_eq!(
        (v["state"].as_str(), v["status"].as_str()),
        (Some("expired"), Some("failed"))
    );
    let (lines, _) = w.audit_kinds().await;
    let expiries = lines[1..]
        .iter()
        .filter(|e| e["kind"]["refusal"] == "expired" && e["body"]["by"] == "coordinator")
        .count();
    assert_eq!(expiries, 2);
    assert!(w.jobs_for(&tx.request_id).await.is_empty());
}

#[tokio::test]
async fn signer_policy_refusals_are_final_other_failures_are_retried() {
    let w = World::fresh().await;
    w.install(1, POLICIES).await;
    for (kind, want_state, want_code) in [
        (
            FailureKind::PolicyDenied,
            RequestState::Rejected,
            "policy_denied",
        ),
        (
            FailureKind::ApprovalsInvalid,
            RequestState::Rejected,
            "approvals_invalid",
        ),
        (
            FailureKind::StalePolicy,
            RequestState::Rejected,
            "stale_policy",
        ),
        (
            FailureKind::VelocityExceeded,
            RequestState::Rejected,
            "velocity_exceeded",
        ),
        (
            FailureKind::ModeRestricted,
            RequestState::Rejected,
            "mode_restricted",
        ),
        (FailureKind::Expired, RequestState::Expired, "expired"),
    ] {
        w.set_behavior(Behavior::Refuse(kind));
        let (tx, _) = w.transfer(&w.keys.operator, 100);
        let (_, t) = w.submit_tx(&tx, true).await;
        assert_eq!(t.state, want_state, "{kind:?}");
        assert_eq!(
            t.error.as_ref().map(|e| e.code.as_str()),
            Some(want_code),
            "{kind:?}"
        );
        // Not retried on another subset: one attempt, sent to two signers.
        let sub = w.c.session(&t.sessions[0], None).await.expect("session");
        assert_eq!(sub.attempts, 1, "{kind:?}");
        assert_eq!(w.jobs_for(&tx.request_id).await.len(), 2, "{kind:?}");
        let info = w.request(&tx.request_id).await;
        assert_eq!(info.state, want_state);
    }
    // A protocol failure is retried on another subset, then fails.
    w.set_behavior(Behavior::Refuse(FailureKind::Protocol));
    let (tx, _) = w.transfer(&w.keys.operator, 100);
    let (_, t) = w.submit_tx(&tx, true).await;
    assert_eq!(t.state, RequestState::Failed);
    let sub = w.c.session(&t.sessions[0], None).await.expect("session");
    assert!(sub.attempts >= 2, "{}", sub.attempts);
    // Each refusal is audited with its reason.
    let (lines, kinds) = w.audit_kinds().await;
    assert!(kinds.contains("refusal"));
    let reasons: BTreeSet<String> = lines[1..]
        .iter()
        .filter(|e| e["body"]["by"] == "signer")
        .filter_map(|e| e["kind"]["refusal"].as_str().map(str::to_string))
        .collect();
    for r in [
        "policy_denied",
        "invalid_approval",
        "stale_policy",
        "velocity_limit",
        "mode_restricted",
        "expired",
    ] {
        assert!(reasons.contains(r), "{r} not in {reasons:?}");
    }
    assert!(lines
        .iter()
        .any(|e| e["kind"]["other"] == "signing_failed" && e["subject"] == tx.request_id.as_str()));
}

#[tokio::test]
async fn mode_changes_and_policy_changes_re_evaluate_pending_requests() {
    let w = World::fresh().await;
    w.install(1, POLICIES).await;
    // A new policy version that lets messages sign without approval starts a pending one.
    let first = w.message_request(&w.keys.operator, b"first", 600);
    w.submit_sign(&first, false).await;
    assert_eq!(
        w.request(&first.request_id).await.state,
        RequestState::AwaitingApprovals
    );
    w.install(2, POLICIES_V2).await;
    let done = w.final_state(&first.request_id).await;
    assert_eq!(done.state, RequestState::Signed, "{:?}", done.error);
    assert_eq!(done.policy.map(|p| p.version), Some(2));
    for j in w.jobs_for(&first.request_id).await {
        let Job::Sign { policy_version, .. } = j else {
            panic!()
        };
        assert_eq!(policy_version, 2);
    }

    // Back to approvals (version 3), then lockdown rejects what is pending and what comes.
    w.install(3, POLICIES).await;
    let pending = w.message_request(&w.keys.operator, b"pending", 600);
    w.submit_sign(&pending, false).await;
    let unsigned = ModeChange::new(
        TENANT,
        1,
        Mode::Lockdown,
        "incident",
        w.now(),
        w.now() + 600,
    );
    let (status, v) = w.call(Method::PUT, "/v1/mode", Some(json!(unsigned))).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "mode_invalid")
    );
    let mut lockdown = unsigned.clone();
    lockdown.sign(&w.keys.admin);
    let (status, v) = w.call(Method::PUT, "/v1/mode", Some(json!(lockdown))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let info: PolicyInfo = serde_json::from_value(v).expect("PolicyInfo");
    assert_eq!(info.mode, "lockdown");
    assert_eq!(info.mode_expires_at, Some(lockdown.expires_at));
    for i in 0..3 {
        assert!(
            w.policy_frames(i)
                .await
                .iter()
                .any(|f| matches!(f, ToSigner::Mode { change }
                if serde_json::from_slice::<ModeChange>(change).ok().as_ref() == Some(&lockdown))),
            "signer {i}"
        );
    }
    let r = w.request(&pending.request_id).await;
    assert_eq!(r.state, RequestState::Rejected);
    assert!(r.policy.expect("policy").reasons[0].starts_with("lockdown"));
    let (tx, _) = w.transfer(&w.keys.operator, 10);
    let (_, t) = w.submit_tx(&tx, false).await;
    assert_eq!(t.state, RequestState::Rejected);
    // Stale sequence.
    let (status, v) = w.call(Method::PUT, "/v1/mode", Some(json!(lockdown))).await;
    assert_eq!((status, code(&v)), (StatusCode::CONFLICT, "stale_sequence"));
    // Leaving lockdown early (seq 2, normal): transfers sign again.
    let mut normal = ModeChange::new(TENANT, 2, Mode::Normal, "resolved", w.now(), w.now() + 60);
    normal.sign(&w.keys.admin);
    let (status, v) = w.call(Method::PUT, "/v1/mode", Some(json!(normal))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (tx, _) = w.transfer(&w.keys.operator, 10);
    let (_, t) = w.submit_tx(&tx, true).await;
    assert_eq!(t.state, RequestState::Signed);
    let (lines, _) = w.audit_kinds().await;
    let modes: Vec<(&str, &str)> = lines[1..]
        .iter()
        .filter_map(|e| e["kind"].get("mode_change"))
        .map(|m| {
            (
                m["from"].as_str().unwrap_or(""),
                m["to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(modes, [("normal", "lockdown"), ("lockdown", "normal")]);
}

#[tokio::test]
async fn the_velocity_ledger_counts_signed_requests_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("coordinator.db");
    let keys = Arc::new(Keys::new());
    let start = now_ms();
    let w = World::new(
        Arc::new(SqliteStore::open(&path).expect("store")),
        keys.clone(),
        true,
        start,
    )
    .await;
    let mut bundle = w.bundle(1, POLICIES).bundle;
    let rule: VelocityRule = serde_json::from_value(json!({
        "asset": format!("solana:{NETWORK}:native"), "window_s": 3600, "limit": {"count": 1}
    }))
    .expect("rule");
    bundle.velocity.insert("one-per-hour".into(), rule);
    let mut signed = SignedBundle::new(bundle);
    signed.sign(&keys.admin);
    let (status, v) = w.put_policy(&signed).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (tx, _) = w.transfer(&keys.operator, 10);
    let (_, t) = w.submit_tx(&tx, true).await;
    assert_eq!(t.state, RequestState::Signed);
    // A denied or failed request does not count; a signed one does.
    let (tx, _) = w.transfer(&keys.operator, 10);
    let (_, t) = w.submit_tx(&tx, false).await;
    assert_eq!(t.state, RequestState::Rejected);
    let reasons = t.policy.expect("policy").reasons;
    assert!(reasons[0].starts_with("velocity_exceeded"), "{reasons:?}");
    drop(w);

    // A new coordinator on the same store: the policy and the ledger are back.
    let w = World::new(
        Arc::new(SqliteStore::open(&path).expect("store")),
        keys.clone(),
        false,
        start + 1000,
    )
    .await;
    let (_, v) = w.call(Method::GET, "/v1/policy", None).await;
    assert_eq!(v["version"], 1);
    let (tx, _) = w.transfer(&keys.operator, 10);
    let (_, t) = w.submit_tx(&tx, false).await;
    assert_eq!(t.state, RequestState::Rejected);
    // An hour later the window has passed.
    w.clock.advance(3600);
    let (tx, _) = w.transfer(&keys.operator, 10);
    let (_, t) = w.submit_tx(&tx, true).await;
    assert_eq!(t.state, RequestState::Signed, "{:?}", t.error);
}

/// Signers take one request per wallet at a time under a velocity rule (a second one running
/// beside it is refused as busy), so the coordinator queues them per wallet: with a velocity
/// rule two transfers submitted together start one after the other, without one they start
/// together.
#[tokio::test]
async fn requests_a_velocity_rule_counts_sign_one_at_a_time_per_wallet() {
    for with_rule in [true, false] {
        let w = World::fresh().await;
        let mut bundle = w.bundle(1, POLICIES).bundle;
        if with_rule {
            let rule: VelocityRule = serde_json::from_value(json!({
                "asset": format!("solana:{NETWORK}:native"), "window_s": 3600,
                "limit": {"amount": "1000000000000"}
            }))
            .expect("rule");
            bundle.velocity.insert("generous".into(), rule);
        }
        let mut signed = SignedBundle::new(bundle);
        signed.sign(&w.keys.admin);
        let (status, v) = w.put_policy(&signed).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        w.set_behavior(Behavior::Hold);
        let (a, _) = w.transfer(&w.keys.operator, 10);
        let (b, _) = w.transfer(&w.keys.operator, 20);
        w.submit_tx(&a, false).await;
        w.submit_tx(&b, false).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let expected = if with_rule { 1 } else { 2 };
        assert_eq!(w.sign_sessions().len(), expected, "rule: {with_rule}");
        w.set_behavior(Behavior::Sign);
        w.release();
        for id in [&a.request_id, &b.request_id] {
            let mut state = RequestState::Signing;
            for _ in 0..100 {
                state = w.request(id).await.state;
                if state.is_final() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(state, RequestState::Signed, "rule: {with_rule}");
        }
        assert_eq!(w.sign_sessions().len(), 2);
    }
}

/// A signer that failed an attempt without proof of misbehaviour (busy, timed out, dropped) is
/// only avoided while enough others are linked: with one of three signers unlinked, the retry
/// after a busy answer runs on the same two, and the request signs.
#[tokio::test]
async fn a_retry_takes_back_a_failed_signer_when_no_other_is_linked() {
    let w = World::fresh().await;
    w.install(1, POLICIES).await;
    let (node, conn) = w.links[2];
    w.c.hub().disconnect(node, conn);
    w.set_behavior(Behavior::FailOnce(FailureKind::Busy));
    let (tx, _) = w.transfer(&w.keys.operator, 100);
    let (_, t) = w.submit_tx(&tx, true).await;
    assert_eq!(t.state, RequestState::Signed, "{:?}", t.error);
    let sub = w.c.session(&t.sessions[0], None).await.expect("session");
    assert_eq!(sub.attempts, 2);
    // Both attempts went to the two linked signers (each logs a start before answering it).
    let starts = |i: usize| {
        w.frames[i]
            .lock()
            .expect("log")
            .iter()
            .filter(|f| matches!(f, ToSigner::Start(s) if matches!(s.job, Job::Sign { .. })))
            .count()
    };
    assert_eq!([starts(0), starts(1), starts(2)], [2, 2, 0]);
}

#[tokio::test]
async fn the_audit_export_verifies_and_records_every_decision() {
    let w = World::fresh().await;
    w.install(1, POLICIES).await;
    let (tx, _) = w.transfer(&w.keys.operator, 10);
    w.submit_tx(&tx, true).await;
    let (tx, _) = w.transfer(&w.keys.stranger, 10);
    w.submit_tx(&tx, false).await;
    let msg = w.message_request(&w.keys.operator, b"approve me", 300);
    w.submit_sign(&msg, false).await;
    let info = w.request(&msg.request_id).await;
    w.approve(&w.approval_for(&w.keys.approver, &info, ApprovalDecision::Approve))
        .await;
    w.final_state(&msg.request_id).await;
    let msg2 = w.message_request(&w.keys.operator, b"reject me", 300);
    w.submit_sign(&msg2, false).await;
    let info2 = w.request(&msg2.request_id).await;
    w.approve(&w.approval_for(&w.keys.approver2, &info2, ApprovalDecision::Reject))
        .await;
    let mut m = ModeChange::new(TENANT, 1, Mode::Degraded, "drill", w.now(), w.now() + 60);
    m.sign(&w.keys.admin);
    w.call(Method::PUT, "/v1/mode", Some(json!(m))).await;

    let (lines, kinds) = w.audit_kinds().await;
    for k in [
        "policy_change",
        "policy_decision",
        "approval",
        "rejection",
        "signature",
        "mode_change",
    ] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
    // Decisions name the version, the deciding policies and the outcome.
    let decision = lines[1..]
        .iter()
        .find(|e| {
            e["subject"] == msg.request_id.as_str() && e["kind"].get("policy_decision").is_some()
        })
        .expect("decision");
    assert_eq!(
        decision["kind"]["policy_decision"],
        json!({"policy_version": 1, "policy_ids": ["ops-messages"], "outcome": "needs_approvals"})
    );
    // The approval is attributed to the approver; the signature to the request.
    assert!(lines.iter().any(|e| e["kind"] == "approval"
        && e["actor"] == w.keys.approver.public().to_hex()
        && e["subject"] == msg.request_id.as_str()));
    assert!(lines
        .iter()
        .any(|e| e["kind"] == "signature" && e["subject"] == msg.request_id.as_str()));
    assert!(lines
        .iter()
        .any(|e| e["kind"] == "rejection" && e["subject"] == msg2.request_id.as_str()));
    // Tampering with a line is detected.
    let (_, bytes) = w
        .call_raw(Method::GET, "/v1/audit/export", true, None)
        .await;
    let text = String::from_utf8(bytes).expect("utf-8");
    let tampered = text.replacen("\"needs_approvals\"", "\"allow\"", 1);
    assert_ne!(tampered, text);
    assert!(verify_export(tampered.as_bytes()).is_err());
    let (status, _) = w
        .call_raw(Method::GET, "/v1/audit/export", false, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn server_sent_events_announce_state_changes() {
    let w = World::fresh().await;
    w.install(1, POLICIES).await;
    let (status, _) = w.call_raw(Method::GET, "/v1/events", false, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let req = Request::get("/v1/events")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .expect("request");
    let resp = w.app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body().into_data_stream();

    let msg = w.message_request(&w.keys.operator, b"watch me", 300);
    w.submit_sign(&msg, false).await;
    let info = w.request(&msg.request_id).await;
    w.approve(&w.approval_for(&w.keys.approver, &info, ApprovalDecision::Approve))
        .await;
    w.final_state(&msg.request_id).await;

    // Read events until the request is signed.
    let mut seen: Vec<RequestState> = Vec::new();
    let mut buf = String::new();
    let read = async {
        while !seen.contains(&RequestState::Signed) {
            let chunk = body.next().await.expect("stream open").expect("chunk");
            buf.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                if !event.contains("event: request") {
                    continue;
                }
                let data = event
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("data line");
                let ev: RequestEvent = serde_json::from_str(data).expect("RequestEvent");
                assert_eq!(ev.request_id, msg.request_id);
                seen.push(ev.state);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("events arrived");
    assert_eq!(
        seen,
        [
            RequestState::AwaitingApprovals,
            RequestState::Approved,
            RequestState::Signing,
            RequestState::Signed
        ]
    );
}

/// The coordinator no longer serves the approvals console (a page it serves could steal
/// approver keys or misreport what is signed): `/console` only points to `tessera console`.
#[tokio::test]
async fn the_coordinator_serves_no_console_page_only_a_pointer_to_tessera_console() {
    let w = World::fresh().await;
    let req = Request::get("/console")
        .body(Body::empty())
        .expect("request");
    let resp = w.app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::GONE);
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    let body = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .expect("body");
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    assert!(text.contains("tessera console"), "{text}");
    assert!(!text.contains('<'), "no markup, no script: {text}");
}

/// The test token, for every role.
fn all_roles() -> tessera_coordinator::ApiTokens {
    tessera_coordinator::ApiTokens::all_roles(TOKEN).expect("token")
}

//! Test fixtures: an ERC-20 transfer parsed with the real Ethereum adapter, the
//! `RequestInfo` an honest coordinator reports for it, and a mock coordinator (plain HTTP on
//! loopback) that reports whatever `RequestInfo` it is given but hands over the real payload,
//! and records the approvals submitted to it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tessera_chains::{PublicKey, SchemeId, WalletKey};
use tessera_client::LocalIntent;
use tessera_policy::Approval;
use tessera_proto::api::{
    DerivedKey, PolicyOutcome, QuorumNeed, RequestInfo, RequestState, SessionStatus,
    TransactionInfo, WalletInfo, WalletStatus,
};

/// The approver's seed in these tests.
pub const APPROVER_SEED: [u8; 32] = [7; 32];
/// The mock wallet.
pub const WALLET: &str = "w-mock";
/// The request id.
pub const REQUEST: &str = "req-erc20";
/// A far expiry.
const EXPIRES: u64 = 4_000_000_000;

fn wallet_key() -> PublicKey {
    let sk = secp256k1::SecretKey::from_slice(&[0x11; 32]).unwrap();
    PublicKey::Secp256k1(secp256k1::PublicKey::from_secret_key_global(&sk).serialize())
}

/// An ERC-20 transfer of `amount` USDC base units from the mock wallet, parsed with the real
/// Ethereum adapter.
pub fn local_intent(amount: u64) -> LocalIntent {
    let key = wallet_key();
    let wk = WalletKey {
        scheme: SchemeId::EcdsaDkls23,
        public_key: &key,
    };
    let registry = tessera_chains::registry();
    let eth = registry.get("ethereum").unwrap();
    let to = eth.address("mainnet", wk).unwrap().address;
    let spec = json!({
        "type": "eip1559",
        "nonce": 3,
        "gas_limit": 65000,
        "max_fee_per_gas_wei": "30000000000",
        "max_priority_fee_per_gas_wei": "1000000000",
        "erc20_transfer": {
            "token": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
            "to": to,
            "amount": amount.to_string(),
        }
    });
    let payload = eth.build("mainnet", wk, &spec).unwrap();
    let parsed = eth.parse("mainnet", wk, &payload).unwrap();
    LocalIntent {
        chain: "ethereum".into(),
        network: "mainnet".into(),
        path: "m".into(),
        intent_hash: parsed.intent_hash().unwrap(),
        payload,
        parsed,
    }
}

/// What an honest coordinator reports for `local`, awaiting one approver.
pub fn erc20_request(local: &LocalIntent) -> RequestInfo {
    RequestInfo {
        request_id: REQUEST.into(),
        kind: "transaction".into(),
        wallet_id: WALLET.into(),
        state: RequestState::AwaitingApprovals,
        summary: local.summary(),
        intent: Some(local.parsed.intent.clone()),
        intent_hash: hex::encode(local.intent_hash),
        message: None,
        risk_flags: local.risk_flags(),
        policy: Some(PolicyOutcome {
            version: 1,
            decision: "allow_with_approvals".into(),
            policy_ids: vec!["large-transfer".into()],
            reasons: vec![],
            quorum: vec![QuorumNeed {
                role: "approver".into(),
                count: 1,
            }],
        }),
        approvals: vec![],
        expires_at: EXPIRES,
        error: None,
        created_at_ms: 1,
        updated_at_ms: 1,
    }
}

fn transaction_info(reported: &RequestInfo, real: &LocalIntent) -> TransactionInfo {
    TransactionInfo {
        request_id: reported.request_id.clone(),
        wallet_id: reported.wallet_id.clone(),
        chain: real.chain.clone(),
        network: real.network.clone(),
        path: real.path.clone(),
        address: real.parsed.intent.source.clone(),
        status: SessionStatus::Running,
        intent: reported
            .intent
            .clone()
            .unwrap_or(real.parsed.intent.clone()),
        summary: reported.summary.clone(),
        intent_hash: reported.intent_hash.clone(),
        payload: real.payload.clone(),
        sessions: vec![],
        signatures: vec![],
        signed: None,
        error: None,
        created_at_ms: 1,
        finished_at_ms: None,
        state: reported.state,
        policy: reported.policy.clone(),
        approvals: reported.approvals.clone(),
        expires_at: reported.expires_at,
    }
}

/// The mock coordinator's state: what it reports, the payload it hands over, and what
/// approvals reached it.
pub struct Mock {
    reported: RequestInfo,
    real: LocalIntent,
    /// Approvals submitted to it.
    pub approvals: Mutex<Vec<Approval>>,
}

/// Starts a mock coordinator reporting `reported` for request [`REQUEST`] while serving
/// `real`'s payload; returns its URL and state.
pub async fn mock_coordinator(reported: RequestInfo, real: LocalIntent) -> (String, Arc<Mock>) {
    let mock = Arc::new(Mock {
        reported,
        real,
        approvals: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/v1/requests", get(list))
        .route("/v1/requests/{id}", get(one))
        .route("/v1/requests/{id}/approvals", post(approve))
        .route("/v1/wallets", get(wallets))
        .route("/v1/wallets/{w}", get(wallet))
        .route("/v1/wallets/{w}/keys", get(keys))
        .route("/v1/wallets/{w}/transactions/{id}", get(transaction))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, mock)
}

async fn list(State(m): State<Arc<Mock>>) -> Json<Vec<RequestInfo>> {
    Json(vec![m.reported.clone()])
}

async fn one(State(m): State<Arc<Mock>>) -> Json<RequestInfo> {
    Json(m.reported.clone())
}

async fn approve(State(m): State<Arc<Mock>>, Json(a): Json<Approval>) -> Json<RequestInfo> {
    m.approvals.lock().unwrap().push(a.clone());
    let mut info = m.reported.clone();
    info.approvals.push(a);
    info.state = RequestState::Approved;
    Json(info)
}

/// Two wallets: `w-a` at epoch 2 still committing epoch 3, `w-b` at epoch 0.
async fn wallets() -> Json<Vec<WalletInfo>> {
    let mut a = wallet_info("w-a".into());
    a.epoch = 2;
    a.committing_epoch = Some(3);
    Json(vec![wallet_info("w-b".into()), a])
}

async fn wallet(State(_): State<Arc<Mock>>, Path(w): Path<String>) -> Json<WalletInfo> {
    Json(wallet_info(w))
}

fn wallet_info(w: String) -> WalletInfo {
    WalletInfo {
        wallet_id: w.clone(),
        name: w,
        scheme: SchemeId::EcdsaDkls23,
        threshold: 2,
        signers: vec![],
        status: WalletStatus::Ready,
        public_key: Some(wallet_key()),
        chain_code: None,
        keygen_session: "k".into(),
        pool: 0,
        created_at_ms: 1,
        error: None,
        attestations: Vec::new(),
        networks: vec!["ethereum:mainnet".into()],
        epoch: 0,
        committing_epoch: None,
    }
}

async fn keys(Path(w): Path<String>) -> Json<DerivedKey> {
    Json(DerivedKey {
        wallet_id: w,
        path: "m".into(),
        public_key: wallet_key(),
        taproot_output_key: None,
    })
}

async fn transaction(State(m): State<Arc<Mock>>) -> Json<TransactionInfo> {
    Json(transaction_info(&m.reported, &m.real))
}

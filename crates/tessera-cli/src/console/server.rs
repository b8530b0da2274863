//! The console's HTTP routes: the page and its two static files, `GET /api/state` (the pending
//! requests as parsed here) and `POST /api/requests/{id}/decision` (sign and submit an
//! approval or rejection with the approver key held by this process).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tessera_client::{Client, ClientError, LocalIntent, APPROVAL_TTL_SECS};
use tessera_policy::{Approval, ApprovalDecision, PublicKey, SecretKey};
use tessera_proto::api::{RequestInfo, RequestState};

use super::guard::{self, Guard};
use super::view::{self, FinishedView, Local, ModeView, RequestView};
use crate::governance::state_name;

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

/// Placeholder in `page.html` replaced by the session token.
const SESSION_PLACEHOLDER: &str = "{{SESSION}}";

/// How many finished requests the page lists.
const FINISHED_MAX: usize = 20;

/// What the routes share. The approver key lives here and nowhere else: no response
/// serializes it.
pub(crate) struct AppState {
    pub(crate) client: Client,
    pub(crate) approver: SecretKey,
    pub(crate) approver_public: PublicKey,
    pub(crate) coordinator: String,
    /// Local parses of pending transaction requests (a request's payload never changes;
    /// the coordinator's claims are compared with them again on every poll).
    cache: Mutex<HashMap<String, LocalIntent>>,
}

impl AppState {
    pub(crate) fn new(client: Client, approver: SecretKey, coordinator: String) -> AppState {
        AppState {
            client,
            approver_public: approver.public(),
            approver,
            coordinator,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

/// Errors of the console's routes; their text names no secret.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The request is not awaiting approvals.
    #[error("request {id} is {state} and takes no approvals")]
    NotPending {
        /// Request.
        id: String,
        /// Its state.
        state: String,
    },
    /// The coordinator's report differs from the payload parsed here.
    #[error(
        "refusing to approve: the coordinator reports another {0} than the payload parsed here"
    )]
    Mismatch(String),
    /// No chain payload: nothing to verify, so no approval from this console.
    #[error("request {0} has no chain payload this console can check: not approving")]
    Unverifiable(String),
    /// The payload parsed now is not the one the page showed.
    #[error("the request's intent hash is not the one this page showed: reload and check again")]
    Changed,
    /// The request has no policy outcome.
    #[error("request {0} has no policy outcome")]
    NoPolicy(String),
    /// The coordinator failed or refused.
    #[error("coordinator: {0}")]
    Coordinator(#[from] ClientError),
}

impl ConsoleError {
    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            ConsoleError::NotPending { .. } => (StatusCode::CONFLICT, "not_pending"),
            ConsoleError::Mismatch(_) => (StatusCode::CONFLICT, "intent_mismatch"),
            ConsoleError::Unverifiable(_) => (StatusCode::CONFLICT, "unverifiable"),
            ConsoleError::Changed => (StatusCode::CONFLICT, "changed"),
            ConsoleError::NoPolicy(_) => (StatusCode::CONFLICT, "no_policy"),
            ConsoleError::Coordinator(_) => (StatusCode::BAD_GATEWAY, "coordinator"),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        (
            status,
            Json(serde_json::json!({"error": code, "message": self.to_string()})),
        )
            .into_response()
    }
}

/// The router, behind the [`Guard`].
pub(crate) fn router(state: Arc<AppState>, g: Guard) -> Router {
    let page = PAGE.replace(SESSION_PLACEHOLDER, g.session().expose());
    Router::new()
        .route(
            "/",
            get(move || {
                let page = page.clone();
                async move { html(page) }
            }),
        )
        .route(
            "/console.js",
            get(|| async { asset("text/javascript", SCRIPT) }),
        )
        .route("/console.css", get(|| async { asset("text/css", STYLE) }))
        .route("/api/state", get(state_route))
        .route("/api/requests/{id}/decision", post(decision_route))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(g, guard::guard))
}

fn html(page: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// `GET /api/state`.
#[derive(Debug, Serialize)]
pub struct StateView {
    /// This console's approver key (public, hex).
    pub approver: String,
    /// The coordinator it talks to.
    pub coordinator: String,
    /// Operating mode, if the coordinator told.
    pub mode: Option<ModeView>,
    /// Requests awaiting approval, parsed here.
    pub pending: Vec<RequestView>,
    /// Recently finished requests (coordinator's summaries).
    pub finished: Vec<FinishedView>,
    /// Every wallet with its share epoch, checked against the trusted signers here.
    pub wallets: Vec<view::WalletView>,
    /// Why the wallets could not be listed (the approvals above do not depend on them).
    pub wallets_error: Option<String>,
}

async fn state_route(State(s): State<Arc<AppState>>) -> Result<Json<StateView>, ConsoleError> {
    let pending = s
        .client
        .requests(Some(RequestState::AwaitingApprovals))
        .await?;
    let mut views = Vec::with_capacity(pending.len());
    for info in &pending {
        views.push(pending_view(&s, info).await);
    }
    prune_cache(&s, &pending);
    let mut finished: Vec<FinishedView> = s
        .client
        .requests(None)
        .await?
        .iter()
        .filter(|r| r.state.is_final())
        .map(view::finished_view)
        .collect();
    finished.sort_by_key(|f| std::cmp::Reverse(f.updated_at_ms));
    finished.truncate(FINISHED_MAX);
    let mode = s.client.mode_status().await.ok().map(ModeView::from);
    let (wallets, wallets_error) = match wallet_views(&s.client).await {
        Ok(w) => (w, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Ok(Json(StateView {
        approver: s.approver_public.to_hex(),
        coordinator: s.coordinator.clone(),
        mode,
        pending: views,
        finished,
        wallets,
        wallets_error,
    }))
}

/// Every wallet, its attestations checked here when trusted signers are configured.
async fn wallet_views(client: &Client) -> Result<Vec<view::WalletView>, ClientError> {
    let checked = client.has_trusted().is_ok();
    let mut out: Vec<view::WalletView> = client
        .wallets()
        .await?
        .iter()
        .map(|w| {
            let vouch = checked.then(|| {
                client
                    .vouch(w)
                    .map(|v| v.by.len())
                    .map_err(|e| e.to_string())
            });
            view::wallet_view(w, vouch)
        })
        .collect();
    out.sort_by(|a, b| a.wallet_id.cmp(&b.wallet_id));
    Ok(out)
}

async fn pending_view(s: &AppState, info: &RequestInfo) -> RequestView {
    let now = now_unix();
    if info.kind != "transaction" {
        return view::request_view(info, Local::NoPayload, &s.approver_public, now);
    }
    let cached = lock(&s.cache).get(&info.request_id).cloned();
    let local = match cached {
        Some(l) => Ok(l),
        None => s.client.local_intent(info).await,
    };
    match local {
        Ok(l) => {
            let v = view::request_view(info, Local::Parsed(&l), &s.approver_public, now);
            lock(&s.cache).insert(info.request_id.clone(), l);
            v
        }
        Err(e) => view::request_view(info, Local::Failed(&e.to_string()), &s.approver_public, now),
    }
}

fn prune_cache(s: &AppState, pending: &[RequestInfo]) {
    lock(&s.cache).retain(|id, _| pending.iter().any(|r| &r.request_id == id));
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `POST /api/requests/{id}/decision`: what the page sends. No key material: the page names
/// the request, the decision, and the intent hash it showed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Approve or reject.
    pub decision: ApprovalDecision,
    /// The intent hash the page showed (hex), which the decision must be about.
    pub intent_hash: String,
}

/// The answer to a decision.
#[derive(Debug, Serialize)]
pub struct DecisionOutcome {
    /// Request.
    pub request_id: String,
    /// Its state after the decision.
    pub state: String,
    /// The intent hash signed.
    pub intent_hash: String,
}

async fn decision_route(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<DecisionOutcome>, ConsoleError> {
    let approval = sign_decision(&s, &id, body).await?;
    let after = s.client.submit_approval(&id, &approval).await?;
    Ok(Json(DecisionOutcome {
        request_id: id,
        state: state_name(after.state),
        intent_hash: hex::encode(approval.intent_hash),
    }))
}

/// Fetches the request afresh, re-parses its payload here and signs `body.decision` over this
/// process's own intent hash, refusing an approval the page cannot stand behind.
pub(crate) async fn sign_decision(
    s: &AppState,
    id: &str,
    body: DecisionBody,
) -> Result<Approval, ConsoleError> {
    let info = s.client.request(id).await?;
    if info.state != RequestState::AwaitingApprovals {
        return Err(ConsoleError::NotPending {
            id: id.to_string(),
            state: state_name(info.state),
        });
    }
    let version = info
        .policy
        .as_ref()
        .map(|p| p.version)
        .ok_or_else(|| ConsoleError::NoPolicy(id.to_string()))?;
    let hash = decision_hash(s, &info, body.decision).await?;
    if !hex::encode(hash).eq_ignore_ascii_case(body.intent_hash.trim()) {
        return Err(ConsoleError::Changed);
    }
    Ok(Approval::sign(
        &s.approver,
        id,
        hash,
        version,
        body.decision,
        now_unix() + APPROVAL_TTL_SECS,
    ))
}

/// The intent hash a decision on `info` signs: the local parse's, for a transaction (an
/// approval only when the coordinator's report matches it); the reported one for a rejection
/// of a request without chain payload; never an approval of one.
async fn decision_hash(
    s: &AppState,
    info: &RequestInfo,
    decision: ApprovalDecision,
) -> Result<[u8; 32], ConsoleError> {
    if info.kind != "transaction" {
        return match decision {
            ApprovalDecision::Approve => Err(ConsoleError::Unverifiable(info.request_id.clone())),
            ApprovalDecision::Reject => Ok(tessera_client::reported_intent_hash(info)?),
        };
    }
    let local = s.client.local_intent(info).await?;
    let mismatches = local.mismatches(info);
    if decision == ApprovalDecision::Approve && !mismatches.is_empty() {
        return Err(ConsoleError::Mismatch(mismatches.join(", ")));
    }
    Ok(local.intent_hash)
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

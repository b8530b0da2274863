//! The REST API (`/v1`), server-sent request events, health endpoints, metrics and the signer
//! link endpoint. The approvals console is not served here: approvers run `tessera console` on
//! their own machine (`/console` only says so).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::{SinkExt, Stream, StreamExt};
use serde::Deserialize;
use tessera_policy::{Approval, Freshness, ModeChange, SignedBundle};
use tessera_proto::api::{
    ApiError, BuildTransaction, ClusterStatus, CreateTransaction, CreateWallet, EnrollSigner,
    ModeStatus, PolicyInfo, RequestInfo, RequestState, SessionStatus, SignRequest, SignerInfo,
    TransactionInfo, TransactionPreview,
};
use tessera_proto::link::{self, FromSigner, ToSigner, LINK_VERSION};
use tessera_proto::roles::{self, Access, Role};
use tokio::sync::{broadcast, mpsc};

use crate::coordinator::{CoordError, Coordinator};
use crate::store::SignerRecord;
use tessera_chains::ChainError;

/// The OpenAPI document served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// What `GET /console` answers (410 Gone): the console runs on the approver's machine, where
/// it re-parses payloads itself and keeps the approver key; a coordinator must not serve it.
pub const CONSOLE_MOVED: &str = "The approvals console is not served by the coordinator. \
Run it on your own machine: `tessera console --url COORDINATOR_URL --ca CA_PEM \
--token-file API_TOKEN_FILE --key-file APPROVER_KEY_FILE` and open the URL it prints.\n";

/// Largest link frame accepted (a cggmp24 aux-info round is a few hundred KB).
const MAX_FRAME: usize = 16 << 20;

/// Builds the router. Every route is authorized by [`authorize`] against the table in
/// [`tessera_proto::roles`]; request bodies are capped at `Config::max_body_bytes`.
pub fn router(c: Coordinator) -> Router {
    let max_body = c.config().max_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/console", get(console))
        .route("/v1/link", get(link_upgrade))
        .route("/v1/signers", get(list_signers).post(enroll))
        .route("/v1/wallets", get(list_wallets).post(create_wallet))
        .route("/v1/wallets/{id}", get(get_wallet))
        .route("/v1/wallets/{id}/keys", get(derive_key))
        .route("/v1/wallets/{id}/signatures", post(sign))
        .route("/v1/wallets/{id}/reshare", post(reshare_wallet))
        .route("/v1/wallets/{id}/retire", post(retire_wallet))
        .route(
            "/v1/wallets/{id}/transactions",
            get(list_transactions).post(create_transaction),
        )
        .route(
            "/v1/wallets/{id}/transactions/build",
            post(build_transaction),
        )
        .route(
            "/v1/wallets/{id}/transactions/{request}",
            get(get_transaction),
        )
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/{id}", get(get_session))
        .route("/v1/status", get(status))
        .route("/v1/policy", get(get_policy).put(put_policy))
        .route("/v1/policy/bundle", get(get_policy_bundle))
        .route("/v1/mode", get(get_mode).put(put_mode))
        .route("/v1/policy/freshness", put(put_freshness))
        .route("/v1/requests", get(list_requests))
        .route("/v1/requests/{id}", get(get_request))
        .route("/v1/requests/{id}/approvals", post(submit_approval))
        .route("/v1/events", get(events))
        .route("/v1/audit/export", get(audit_export))
        .route("/v1/signers/{node_id}/audit", get(signer_audit))
        .route_layer(middleware::from_fn_with_state(c.clone(), authorize))
        .layer(DefaultBodyLimit::max(max_body))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint".into(),
            )
        })
        .with_state(c)
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    error_with_field(status, code, message, None)
}

fn error_with_field(
    status: StatusCode,
    code: &str,
    message: String,
    field: Option<String>,
) -> Response {
    (
        status,
        Json(ApiError {
            error: code.to_string(),
            message,
            field,
        }),
    )
        .into_response()
}

impl IntoResponse for CoordError {
    fn into_response(self) -> Response {
        let status = match &self {
            CoordError::Invalid(_) => StatusCode::BAD_REQUEST,
            CoordError::NotFound(_) => StatusCode::NOT_FOUND,
            CoordError::Conflict(_) | CoordError::NotReady(_) => StatusCode::CONFLICT,
            CoordError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            CoordError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            CoordError::Chain(ChainError::Malformed { .. }) => StatusCode::BAD_REQUEST,
            CoordError::Chain(_) => StatusCode::UNPROCESSABLE_ENTITY,
            CoordError::AuthorizationInvalid(_) | CoordError::AuthorizationExpired(_) => {
                StatusCode::BAD_REQUEST
            }
            CoordError::NoPolicy(_) | CoordError::NotAwaiting(_) => StatusCode::CONFLICT,
            CoordError::Bundle(tessera_policy::BundleError::StaleVersion { .. })
            | CoordError::Bundle(tessera_policy::BundleError::TenantMismatch { .. })
            | CoordError::Mode(tessera_policy::ModeError::StaleSequence { .. })
            | CoordError::Freshness(
                tessera_policy::FreshnessError::NotNewer { .. }
                | tessera_policy::FreshnessError::OtherBundle { .. }
                | tessera_policy::FreshnessError::OtherMode { .. },
            ) => StatusCode::CONFLICT,
            CoordError::Bundle(_)
            | CoordError::Mode(_)
            | CoordError::Freshness(_)
            | CoordError::ApprovalInvalid(_)
            | CoordError::ApprovalExpired(_) => StatusCode::UNPROCESSABLE_ENTITY,
            CoordError::NotAnApprover(_) | CoordError::PolicyDenied(_) => StatusCode::FORBIDDEN,
            // Logged once where the append failed.
            CoordError::Audit(_) => StatusCode::INTERNAL_SERVER_ERROR,
            CoordError::SignerNotLinked(_)
            | CoordError::SignerAudit(tessera_proto::audit::AuditPageError::Busy) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            CoordError::SignerTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            CoordError::SignerAudit(_) => StatusCode::BAD_GATEWAY,
        };
        let field = match &self {
            CoordError::Chain(e) => e.field().map(str::to_string),
            _ => None,
        };
        error_with_field(status, self.code(), self.to_string(), field)
    }
}

/// A body or query string the extractor refused, as an [`ApiError`] (`invalid_request`) with the
/// extractor's status (400, 415 or 422; 413 `payload_too_large` past `Config::max_body_bytes`)
/// instead of axum's plain-text rejection.
fn rejected<R: IntoResponse + std::fmt::Display>(rejection: R) -> Response {
    let message = rejection.to_string();
    let status = rejection.into_response().status();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "payload_too_large"
    } else {
        "invalid_request"
    };
    error(status, code, message)
}

/// The bearer token of a request (empty if none).
fn bearer(req: &Request) -> &[u8] {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .unwrap_or(b"")
}

/// Authorizes a request against the route table: public routes pass; otherwise 401
/// `unauthenticated` without a known token, 403 `forbidden_role` when the token's roles are not
/// allowed on the route. A route without an entry is denied to everyone (fail closed).
pub async fn authorize(State(c): State<Coordinator>, req: Request, next: Next) -> Response {
    let method = req.method().as_str();
    let pattern = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let allowed = match pattern.and_then(|p| roles::access(method, p)) {
        Some(Access::Public) => return next.run(req).await,
        Some(Access::Roles(allowed)) => allowed,
        // Another method of a listed path: what the router would answer without a handler.
        None if pattern.is_some_and(roles::is_listed) => {
            return StatusCode::METHOD_NOT_ALLOWED.into_response()
        }
        None => {
            tracing::error!(%method, path = ?pattern, "route without an access rule; denied");
            return forbidden(&[]);
        }
    };
    let held = c.config().tokens.roles_of(bearer(&req));
    if held.is_empty() {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "missing or unknown API token (Authorization: Bearer …)".into(),
        );
    }
    if !Access::Roles(allowed).allows(&held) {
        return forbidden(allowed);
    }
    next.run(req).await
}

fn forbidden(allowed: &[Role]) -> Response {
    let names: Vec<&str> = allowed.iter().map(|r| r.name()).collect();
    error(
        StatusCode::FORBIDDEN,
        "forbidden_role",
        format!(
            "this token's role may not call this endpoint (allowed: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ),
    )
}

async fn ready(State(c): State<Coordinator>) -> Response {
    match c.store().signers() {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        ),
    }
}

async fn metrics(State(c): State<Coordinator>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        c.metrics().render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

fn signer_info(c: &Coordinator, s: SignerRecord) -> SignerInfo {
    let node_id = s.identity.node_id();
    SignerInfo {
        node_id,
        name: s.name,
        identity: s.identity,
        identity_proof: s.proof,
        connected: c.hub().is_connected(&node_id),
        status: c.hub().status(&node_id),
    }
}

async fn list_signers(State(c): State<Coordinator>) -> Result<Json<Vec<SignerInfo>>, CoordError> {
    let list = c.store().signers()?;
    Ok(Json(list.into_iter().map(|s| signer_info(&c, s)).collect()))
}

async fn enroll(
    State(c): State<Coordinator>,
    req: Result<Json<EnrollSigner>, JsonRejection>,
) -> Result<(StatusCode, Json<SignerInfo>), Response> {
    let Json(req) = req.map_err(rejected)?;
    let record = SignerRecord {
        name: req.name,
        identity: req.identity.identity,
        proof: req.identity.proof,
    };
    c.enroll(record.clone())
        .map_err(IntoResponse::into_response)?;
    tracing::info!(node = %record.identity.node_id(), name = %record.name, "signer enrolled");
    Ok((StatusCode::CREATED, Json(signer_info(&c, record))))
}

async fn list_wallets(
    State(c): State<Coordinator>,
) -> Result<Json<Vec<tessera_proto::api::WalletInfo>>, CoordError> {
    Ok(Json(c.wallets()?))
}

async fn create_wallet(
    State(c): State<Coordinator>,
    req: Result<Json<CreateWallet>, JsonRejection>,
) -> Result<(StatusCode, Json<tessera_proto::api::WalletInfo>), Response> {
    let Json(req) = req.map_err(rejected)?;
    let w = c.create_wallet(req).map_err(IntoResponse::into_response)?;
    Ok((StatusCode::ACCEPTED, Json(w)))
}

async fn reshare_wallet(
    State(c): State<Coordinator>,
    Path(id): Path<String>,
    req: Result<Json<tessera_proto::api::ReshareWallet>, JsonRejection>,
) -> Result<(StatusCode, Json<tessera_proto::api::SessionInfo>), Response> {
    let Json(req) = req.map_err(rejected)?;
    let s = c
        .reshare_wallet(&id, req)
        .map_err(IntoResponse::into_response)?;
    Ok((StatusCode::ACCEPTED, Json(s)))
}

async fn retire_wallet(
    State(c): State<Coordinator>,
    Path(id): Path<String>,
    req: Result<Json<tessera_proto::api::RetireWallet>, JsonRejection>,
) -> Result<Json<tessera_proto::api::WalletInfo>, Response> {
    let Json(req) = req.map_err(rejected)?;
    let w = c
        .retire_wallet(&id, req)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Json(w))
}

async fn get_wallet(
    State(c): State<Coordinator>,
    Path(id): Path<String>,
) -> Result<Json<tessera_proto::api::WalletInfo>, CoordError> {
    Ok(Json(c.wallet(&id)?))
}

#[derive(Deserialize)]
struct PathQuery {
    path: Option<String>,
}

async fn derive_key(
    State(c): State<Coordinator>,
    Path(id): Path<String>,
    q: Result<Query<PathQuery>, QueryRejection>,
) -> Result<Json<tessera_proto::api::DerivedKey>, Response> {
    let Query(q) = q.map_err(rejected)?;
    c.derive(&id, q.path.as_deref().unwrap_or("m"))
        .map(Json)
        .map_err(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct WaitQuery {
    wait: Option<bool>,
    wait_ms: Option<u64>,
}

async fn sign(
    State(c): State<Coordinator>,
    Path(id): Path<String>,
    q: Result<Query<WaitQuery>, QueryRejection>,
    req: Result<Json<SignRequest>, JsonRejection>,
) -> Result<Response, Response> {
    let Query(q) = q.map_err(rejected)?;
    let Json(req) = req.map_err(rejected)?;
    let wait = q.wait.unwrap_or(false);
    let s = c
        .sign(&id, req, wait)
        .await
        .map_err(IntoResponse::into_response)?;
    let status = if s.status == SessionStatus::Running {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(s)).into_response())
}

async fn build_transaction(
    State(c): State<Coordinator>,
    Path(id): Path<String>,
    req: Result<Json<BuildTransaction>, JsonRejection>,
) -> Result<Json<TransactionPreview>, Response> {
    let Json(req) = req.map_err(rejected)?;
    c.build_transaction(&id, &req)
        .map(Json)
        .map_err(IntoResponse::into_response)
}

async fn create_transaction(
    State(c): State<Coordinator>,
    Path(id): Path<String>,
    q: Result<Query<WaitQuery>, QueryRejection>,
    req: Result<Json<CreateTransaction>, JsonRejection>,
) -> Result<Response, Response> {
    let Query(q) = q.map_err(rejected)?;
    let Json(req) = req.map_err(rejected)?;
    let wait = q.wait.unwrap_or(false);
    let t = c
        .create_transaction(&id, req, wait)
        .await
        .map_err(IntoResponse::into_response)?;
    let status = if t.state.is_final() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(t)).into_response())
}

async fn get_transaction(
    State(c): State<Coordinator>,
    Path((id, request)): Path<(String, String)>,
    q: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Json<TransactionInfo>, Response> {
    let Query(q) = q.map_err(rejected)?;
    let wait = q.wait_ms.map(|ms| Duration::from_millis(ms.min(60_000)));
    c.transaction(&id, &request, wait)
        .await
        .map(Json)
        .map_err(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct TxListQuery {
    limit: Option<u32>,
}

async fn list_transactions(
    State(c): State<Coordinator>,
    Path(id): Path<String>,
    q: Result<Query<TxListQuery>, QueryRejection>,
) -> Result<Json<Vec<TransactionInfo>>, Response> {
    let Query(q) = q.map_err(rejected)?;
    c.transactions(&id, q.limit.unwrap_or(100))
        .map(Json)
        .map_err(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct ListQuery {
    wallet: Option<String>,
    limit: Option<u32>,
}

async fn list_sessions(
    State(c): State<Coordinator>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<tessera_proto::api::SessionInfo>>, Response> {
    let Query(q) = q.map_err(rejected)?;
    c.sessions(q.wallet.as_deref(), q.limit.unwrap_or(100))
        .map(Json)
        .map_err(IntoResponse::into_response)
}

async fn get_session(
    State(c): State<Coordinator>,
    Path(id): Path<String>,
    q: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Json<tessera_proto::api::SessionInfo>, Response> {
    let Query(q) = q.map_err(rejected)?;
    let wait = q.wait_ms.map(|ms| Duration::from_millis(ms.min(60_000)));
    c.session(&id, wait)
        .await
        .map(Json)
        .map_err(IntoResponse::into_response)
}

async fn status(State(c): State<Coordinator>) -> Result<Json<ClusterStatus>, CoordError> {
    let signers = c
        .store()
        .signers()?
        .into_iter()
        .map(|s| signer_info(&c, s))
        .collect();
    Ok(Json(ClusterStatus {
        version: env!("CARGO_PKG_VERSION").to_string(),
        signers,
        wallets: c.store().wallets()?.len() as u32,
        running_sessions: c.hub().live_count() as u32,
    }))
}

// ---------------------------------------------------------------------- policy and requests

async fn get_policy(State(c): State<Coordinator>) -> Result<Json<PolicyInfo>, CoordError> {
    Ok(Json(c.policy_info()?))
}

async fn get_policy_bundle(State(c): State<Coordinator>) -> Result<Json<SignedBundle>, CoordError> {
    c.policy_bundle().map(Json).ok_or_else(|| {
        CoordError::NoPolicy("no policy bundle is installed (PUT /v1/policy)".into())
    })
}

async fn put_policy(
    State(c): State<Coordinator>,
    req: Result<Json<SignedBundle>, JsonRejection>,
) -> Result<Json<PolicyInfo>, Response> {
    let Json(bundle) = req.map_err(rejected)?;
    c.put_policy(bundle)
        .map(Json)
        .map_err(IntoResponse::into_response)
}

async fn get_mode(State(c): State<Coordinator>) -> Result<Json<ModeStatus>, CoordError> {
    Ok(Json(c.mode_status()?))
}

async fn put_mode(
    State(c): State<Coordinator>,
    req: Result<Json<ModeChange>, JsonRejection>,
) -> Result<Json<PolicyInfo>, Response> {
    let Json(change) = req.map_err(rejected)?;
    c.put_mode(change)
        .map(Json)
        .map_err(IntoResponse::into_response)
}

async fn put_freshness(
    State(c): State<Coordinator>,
    req: Result<Json<Freshness>, JsonRejection>,
) -> Result<Json<PolicyInfo>, Response> {
    let Json(statement) = req.map_err(rejected)?;
    c.put_freshness(statement)
        .map(Json)
        .map_err(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct RequestsQuery {
    state: Option<RequestState>,
    limit: Option<u32>,
}

async fn list_requests(
    State(c): State<Coordinator>,
    q: Result<Query<RequestsQuery>, QueryRejection>,
) -> Result<Json<Vec<RequestInfo>>, Response> {
    let Query(q) = q.map_err(rejected)?;
    c.requests(q.state, q.limit.unwrap_or(100))
        .map(Json)
        .map_err(IntoResponse::into_response)
}

async fn get_request(
    State(c): State<Coordinator>,
    Path(id): Path<String>,
) -> Result<Json<RequestInfo>, CoordError> {
    Ok(Json(c.request(&id)?))
}

async fn submit_approval(
    State(c): State<Coordinator>,
    Path(id): Path<String>,
    req: Result<Json<Approval>, JsonRejection>,
) -> Result<Json<RequestInfo>, Response> {
    let Json(approval) = req.map_err(rejected)?;
    c.submit_approval(&id, approval)
        .map(Json)
        .map_err(IntoResponse::into_response)
}

/// `GET /v1/events`: every request state change as an SSE event named `request` with a
/// `RequestEvent` JSON body. A client that falls behind gets a `lagged` event (with the number
/// of changes it missed) and should re-read `GET /v1/requests`.
async fn events(
    State(c): State<Coordinator>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = c.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(ev) => SseEvent::default()
                .event("request")
                .json_data(&ev)
                .unwrap_or_else(|_| SseEvent::default().comment("unencodable event")),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                SseEvent::default().event("lagged").data(n.to_string())
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn audit_export(State(c): State<Coordinator>) -> Result<Response, CoordError> {
    let body = c.audit_export()?;
    Ok(([(header::CONTENT_TYPE, "application/jsonl")], body).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignerAuditQuery {
    from_seq: Option<u64>,
    limit: Option<u32>,
    challenge: Option<String>,
}

/// A page of an enrolled, linked signer's own audit log, relayed as the signer sent it (its
/// head is signed by the signer: the client verifies it, this coordinator cannot forge it).
async fn signer_audit(
    State(c): State<Coordinator>,
    Path(node_id): Path<String>,
    q: Result<Query<SignerAuditQuery>, QueryRejection>,
) -> Result<Json<tessera_proto::audit::AuditPage>, Response> {
    let Query(q) = q.map_err(rejected)?;
    let node: tessera_wire::NodeId = node_id.parse().map_err(|_| {
        CoordError::Invalid(format!("{node_id:?} is not a node id (64 hex digits)")).into_response()
    })?;
    let challenge = match q.challenge.as_deref() {
        Some(h) => {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h, &mut out).map_err(|_| {
                CoordError::Invalid("challenge must be 64 hex digits".into()).into_response()
            })?;
            Some(out)
        }
        None => None,
    };
    c.signer_audit_page(node, q.from_seq, q.limit, challenge)
        .await
        .map(Json)
        .map_err(IntoResponse::into_response)
}

async fn console() -> Response {
    (
        StatusCode::GONE,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        CONSOLE_MOVED,
    )
        .into_response()
}

// ---------------------------------------------------------------------- signer link

async fn link_upgrade(State(c): State<Coordinator>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| serve_link(c, socket))
}

async fn recv_frame(socket: &mut WebSocket) -> Option<Result<FromSigner, String>> {
    loop {
        match socket.recv().await? {
            Ok(WsMessage::Binary(b)) => return Some(link::decode(&b).map_err(|e| e.to_string())),
            Ok(WsMessage::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn send_frame(socket: &mut WebSocket, frame: &ToSigner) -> bool {
    socket
        .send(WsMessage::Binary(link::encode(frame).into()))
        .await
        .is_ok()
}

async fn serve_link(c: Coordinator, mut socket: WebSocket) {
    let nonce = c.challenge();
    let coordinator = c.config().public_url.clone();
    if !send_frame(
        &mut socket,
        &ToSigner::Challenge {
            nonce,
            coordinator: coordinator.clone(),
        },
    )
    .await
    {
        return;
    }
    let hello = tokio::time::timeout(Duration::from_secs(10), recv_frame(&mut socket)).await;
    let (identity, status) = match hello {
        Ok(Some(Ok(FromSigner::Hello {
            version,
            identity,
            signature,
            status,
        }))) => {
            if version != LINK_VERSION {
                tracing::warn!(version, "signer speaks another link version; refused");
                return;
            }
            let node = identity.node_id();
            let enrolled = c
                .store()
                .signers()
                .map(|l| l.iter().any(|s| s.identity == identity))
                .unwrap_or(false);
            if !enrolled {
                tracing::warn!(node = %node, "link from a signer that is not enrolled; refused");
                let _ = socket.send(WsMessage::Close(None)).await;
                return;
            }
            let sig: Option<[u8; 64]> = signature.try_into().ok();
            let bytes = link::hello_bytes(&nonce, &coordinator, &node);
            let valid = sig
                .map(|s| identity.verify(link::HELLO_DOMAIN, &bytes, &s).is_ok())
                .unwrap_or(false);
            if !valid {
                tracing::warn!(node = %node, "bad hello signature; link refused");
                return;
            }
            (identity, status)
        }
        _ => {
            tracing::warn!("link closed before a valid hello");
            return;
        }
    };
    if !send_frame(&mut socket, &ToSigner::Welcome).await {
        return;
    }
    let node = identity.node_id();
    let (tx, mut rx) = mpsc::unbounded_channel::<ToSigner>();
    let conn = c.hub().connect(node, tx, status);
    tracing::info!(node = %node, "signer linked");
    c.on_signer_linked(&node);
    let (mut sink, mut stream) = socket.split();
    let writer = async move {
        while let Some(frame) = rx.recv().await {
            if sink
                .send(WsMessage::Binary(link::encode(&frame).into()))
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let hub_c = c.clone();
    let reader = async move {
        while let Some(msg) = stream.next().await {
            match msg {
                Ok(WsMessage::Binary(b)) => match link::decode::<FromSigner>(&b) {
                    Ok(frame) => hub_c.on_signer_frame(node, frame),
                    Err(e) => {
                        tracing::warn!(node = %node, error = %e, "malformed frame from signer; link closed");
                        break;
                    }
                },
                Ok(WsMessage::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
    c.hub().disconnect(node, conn);
    tracing::info!(node = %node, "signer link closed");
}

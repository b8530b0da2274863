//! The REST API through the router, in process, and the OpenAPI document that describes it.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tessera_audit::AuditLog;
use tessera_chains::{
    Allowance, Amount, Argument, Asset, AuthorityChange, ChainError, ContractCall, Fee, InputRef,
    Intent, IntentKind, MessagePreview, Payload, RiskFlag, SignedTransaction, Transfer, WalletKey,
};
use tessera_coordinator::api::{router, OPENAPI};
use tessera_coordinator::{Config, Coordinator, OsEntropy, SqliteStore};
use tessera_crypto::{MessageHash, PublicKey, SchemeId, SignMessage, Signature};
use tessera_proto::api::RequestState;
use tessera_proto::api::{
    ApiError, BuildTransaction, CreateTransaction, CreateWallet, EnrollSigner, MessageInput,
    PayloadInput, SessionError, SessionStatus, SignRequest, TransactionInfo, TransactionPreview,
};
use tessera_proto::roles::{self, Access, Role, ROUTES};
use tessera_proto::states::ErrorCode;
use tessera_proto::SystemClock;
use tessera_wire::{Action, Authorization, AuthorizedMessage, IdentityKey, OperatorKey};
use tower::ServiceExt;

const TOKEN: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

fn app() -> Router {
    let store = SqliteStore::in_memory().expect("in-memory store");
    let c = Coordinator::new(
        Config::new("https://127.0.0.1:1".into(), all_roles()),
        Arc::new(store),
        Arc::new(AuditLog::in_memory("coordinator:test").expect("audit log")),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    );
    router(c)
}

fn doc() -> Value {
    serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: bool,
    body: Option<String>,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b)),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("body");
    (status, bytes.to_vec())
}

/// The `ApiError` code of a JSON error body.
fn code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["error"].as_str().expect("error code").to_string()
}

fn enroll_body(name: &str, key: &IdentityKey) -> String {
    serde_json::to_string(&EnrollSigner {
        name: name.into(),
        identity: key.signed_identity(),
    })
    .expect("json")
}

#[test]
fn document_is_openapi_3_with_info_paths_components() {
    let d = doc();
    let version = d["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3."), "{version}");
    assert!(d["info"]["title"].is_string() && d["info"]["version"].is_string());
    assert!(d["paths"].as_object().is_some_and(|p| !p.is_empty()));
    let schemas = d["components"]["schemas"].as_object().expect("schemas");
    for s in [
        "ApiError",
        "Authorization",
        "Action",
        "MessageHash",
        "MessageInput",
        "SignRequest",
        "SessionInfo",
        "SessionError",
        "WalletInfo",
        "PayloadInput",
        "PayloadFormat",
        "BuildTransaction",
        "TransactionPreview",
        "CreateTransaction",
        "TransactionInfo",
        "Payload",
        "Intent",
        "Asset",
        "Transfer",
        "Fee",
        "InputRef",
        "ContractCall",
        "Allowance",
        "AuthorityChange",
        "Argument",
        "MessagePreview",
        "IntentKind",
        "RiskFlag",
        "Amount",
        "SignedTransaction",
    ] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    assert_eq!(
        d["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    // The dangerous request is named as such where clients look.
    let sign = d["paths"]["/v1/wallets/{id}/signatures"]["post"]["description"]
        .as_str()
        .expect("sign description");
    assert!(sign.contains("most dangerous request a wallet can take"));
    let raw = schemas["DangerRawDigestInput"]["description"]
        .as_str()
        .expect("raw digest description");
    assert!(raw.contains("most dangerous request a wallet can take"));
    assert!(raw.contains("never served from presignatures"));
}

#[test]
fn every_route_is_documented_with_its_roles() {
    let d = doc();
    let paths = d["paths"].as_object().expect("paths");
    for r in ROUTES {
        let m = r.method.to_lowercase();
        let op = &d["paths"][r.path][&m];
        assert!(op.is_object(), "{m} {} is not documented", r.path);
        let secured = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearerAuth").is_some()));
        let documented: Vec<String> = op["x-roles"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().expect("role").to_string())
                    .collect()
            })
            .unwrap_or_default();
        let (want_secured, want_roles) = match r.access {
            Access::Public => (false, Vec::new()),
            Access::Roles(roles) => (true, roles.iter().map(|r| r.to_string()).collect()),
        };
        assert_eq!(secured, want_secured, "{m} {}: bearer security", r.path);
        assert_eq!(documented, want_roles, "{m} {}: x-roles", r.path);
    }
    // Every documented operation has an entry in the route table.
    for (path, item) in paths {
        for m in item.as_object().expect("path item").keys() {
            assert!(
                roles::access(m, path).is_some(),
                "{m} {path} is documented but has no entry in the route table"
            );
        }
    }
}

#[tokio::test]
async fn every_documented_path_is_routed() {
    let app = app();
    let d = doc();
    for (path, item) in d["paths"].as_object().expect("paths") {
        let uri = path.replace("{id}", "x").replace("{request}", "r");
        for m in item.as_object().expect("path item").keys() {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).expect("method");
            if path == "/v1/events" {
                // A stream that does not end: check the head only.
                let req = Request::get(&uri)
                    .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                    .body(Body::empty())
                    .expect("request");
                let resp = app.clone().oneshot(req).await.expect("infallible");
                assert_eq!(resp.status(), StatusCode::OK);
                assert_eq!(
                    resp.headers()[header::CONTENT_TYPE],
                    "text/event-stream",
                    "{path}"
                );
                continue;
            }
            let (status, body) = call(&app, method, &uri, true, None).await;
            let fallback = status == StatusCode::NOT_FOUND
                && serde_json::from_slice::<Value>(&body)
                    .is_ok_and(|v| v["message"] == "no such endpoint");
            assert!(!fallback, "{m} {path} hits the router's fallback");
        }
    }
    let (status, body) = call(&app, Method::GET, "/v1/nope", true, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "not_found");
}

#[tokio::test]
async fn authenticated_routes_need_the_token() {
    let app = app();
    for uri in [
        "/v1/signers",
        "/v1/wallets",
        "/v1/status",
        "/v1/sessions",
        "/v1/requests",
        "/v1/policy",
    ] {
        let (status, body) = call(&app, Method::GET, uri, false, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(code(&body), "unauthenticated", "{uri}");
        let req = Request::get(uri)
            .header(header::AUTHORIZATION, "Bearer wrong-token")
            .body(Body::empty())
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("infallible");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{uri}");
        let (status, body) = call(&app, Method::GET, uri, true, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let _: Value = serde_json::from_slice(&body).expect("JSON");
    }
}

/// A distinct token for each role.
fn role_token(role: Role) -> String {
    format!("{role}-token-0123456789abcdef")
}

/// A router whose roles each have their own token, with `max_body_bytes` as given.
fn role_app(max_body_bytes: Option<usize>) -> Router {
    let tokens = Role::ALL
        .into_iter()
        .try_fold(tessera_coordinator::ApiTokens::new(), |t, r| {
            t.with(r, &role_token(r))
        })
        .expect("tokens");
    let mut config = Config::new("https://127.0.0.1:1".into(), tokens);
    if let Some(n) = max_body_bytes {
        config.max_body_bytes = n;
    }
    router(Coordinator::new(
        config,
        Arc::new(SqliteStore::in_memory().expect("in-memory store")),
        Arc::new(AuditLog::in_memory("coordinator:test").expect("audit log")),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    ))
}

/// Status and `ApiError` code (if the body is one) of `method uri` sent with `bearer`. The
/// event stream's body is not read (it does not end).
async fn call_as(
    app: &Router,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(uri);
    if let Some(t) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    if uri == "/v1/events" && status == StatusCode::OK {
        return (status, None, String::new());
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let code = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string));
    (status, code, text)
}

/// A concrete URI for a route pattern.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{id}", "x")
        .replace("{request}", "r")
        .replace("{node_id}", &"ab".repeat(32))
}

#[tokio::test]
async fn each_role_calls_exactly_its_routes() {
    let app = role_app(None);
    for route in ROUTES {
        let Access::Roles(allowed) = route.access else {
            continue;
        };
        let uri = concrete(route.path);
        let what = format!("{} {}", route.method, route.path);
        for role in Role::ALL {
            let (status, code, body) =
                call_as(&app, route.method, &uri, Some(&role_token(role))).await;
            if allowed.contains(&role) {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{role} on {what}: {body}");
                assert_ne!(code.as_deref(), Some("forbidden_role"), "{role} on {what}");
                assert_ne!(code.as_deref(), Some("unauthenticated"), "{role} on {what}");
            } else {
                assert_eq!(
                    (status, code.as_deref()),
                    (StatusCode::FORBIDDEN, Some("forbidden_role")),
                    "{role} on {what}: {body}"
                );
                assert!(!body.contains(&role_token(role)), "the token is echoed");
            }
        }
        // No token, or one nobody was given: 401, and the token is not echoed.
        let (status, code, _) = call_as(&app, route.method, &uri, None).await;
        assert_eq!(
            (status, code.as_deref()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
            "no token on {what}"
        );
        let wrong = "not-a-token-of-anyone-0123456789";
        let (status, code, body) = call_as(&app, route.method, &uri, Some(wrong)).await;
        assert_eq!(
            (status, code.as_deref()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
            "wrong token on {what}"
        );
        assert!(!body.contains(wrong), "the token is echoed");
    }
}

#[tokio::test]
async fn representative_routes_per_role() {
    use Role::*;
    let app = role_app(None);
    // (role, method, uri, expected status): 2xx where the role may act, 403 where it may not.
    let cases: &[(Role, &str, &str, StatusCode)] = &[
        (Viewer, "GET", "/v1/wallets", StatusCode::OK),
        (Viewer, "GET", "/v1/requests", StatusCode::OK),
        (Viewer, "GET", "/v1/mode", StatusCode::OK),
        (Viewer, "GET", "/v1/audit/export", StatusCode::OK),
        (Viewer, "GET", "/metrics", StatusCode::FORBIDDEN),
        (Viewer, "POST", "/v1/wallets", StatusCode::FORBIDDEN),
        (Viewer, "PUT", "/v1/policy", StatusCode::FORBIDDEN),
        (Requester, "GET", "/v1/wallets", StatusCode::OK),
        (Requester, "GET", "/v1/sessions", StatusCode::OK),
        (Requester, "GET", "/v1/audit/export", StatusCode::FORBIDDEN),
        (
            Requester,
            "POST",
            "/v1/requests/x/approvals",
            StatusCode::FORBIDDEN,
        ),
        (Requester, "PUT", "/v1/mode", StatusCode::FORBIDDEN),
        (Approver, "GET", "/v1/requests", StatusCode::OK),
        (Approver, "GET", "/v1/mode", StatusCode::OK),
        (Approver, "POST", "/v1/wallets", StatusCode::FORBIDDEN),
        (Approver, "GET", "/v1/audit/export", StatusCode::FORBIDDEN),
        (Admin, "GET", "/v1/policy", StatusCode::OK),
        (Admin, "GET", "/v1/wallets", StatusCode::FORBIDDEN),
        (Admin, "POST", "/v1/signers", StatusCode::FORBIDDEN),
        (Enrol, "GET", "/v1/signers", StatusCode::OK),
        (Enrol, "GET", "/v1/wallets", StatusCode::FORBIDDEN),
        (Metrics, "GET", "/metrics", StatusCode::OK),
        (Metrics, "GET", "/v1/status", StatusCode::FORBIDDEN),
    ];
    for (role, method, uri, want) in cases {
        let (status, _, body) = call_as(&app, method, uri, Some(&role_token(*role))).await;
        assert_eq!(status, *want, "{role} {method} {uri}: {body}");
    }
    // Writes reach their handler with the right role (here refused for the empty body).
    for (role, method, uri) in [
        (Requester, "POST", "/v1/wallets"),
        (Approver, "POST", "/v1/requests/x/approvals"),
        (Admin, "PUT", "/v1/policy"),
        (Admin, "PUT", "/v1/mode"),
        (Enrol, "POST", "/v1/signers"),
    ] {
        let (status, code, _) = call_as(&app, method, uri, Some(&role_token(role))).await;
        assert!(status.is_client_error(), "{role} {method} {uri}: {status}");
        assert_eq!(
            code.as_deref(),
            Some("invalid_request"),
            "{role} {method} {uri}"
        );
    }
    // Public routes take no token.
    for uri in ["/healthz", "/readyz", "/v1/openapi.json"] {
        let (status, _, _) = call_as(&app, "GET", uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }
    // The console moved to the approver's machine (`tessera console`).
    let (status, _, _) = call_as(&app, "GET", "/console", None).await;
    assert_eq!(status, StatusCode::GONE);
}

#[tokio::test]
async fn metrics_need_the_metrics_role() {
    let app = role_app(None);
    let (status, code, _) = call_as(&app, "GET", "/metrics", None).await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let (status, code, _) = call_as(&app, "GET", "/metrics", Some(&role_token(Role::Viewer))).await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::FORBIDDEN, Some("forbidden_role"))
    );
    let (status, _, body) =
        call_as(&app, "GET", "/metrics", Some(&role_token(Role::Metrics))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("tessera_"), "{body}");
}

#[tokio::test]
async fn a_route_without_an_entry_is_denied_to_every_role() {
    let c = coordinator();
    let app: Router = Router::new()
        .route(
            "/v1/unlisted",
            axum::routing::get(|| async { "should not be reachable" }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            c.clone(),
            tessera_coordinator::api::authorize,
        ))
        .with_state(c);
    let (status, code) = {
        let (s, c, _) = call_as(&app, "GET", "/v1/unlisted", Some(TOKEN)).await;
        (s, c)
    };
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::FORBIDDEN, Some("forbidden_role"))
    );
    // A method the table does not list on a listed path is a 405, even if a handler exists.
    let c = coordinator();
    let app: Router = Router::new()
        .route(
            "/v1/status",
            axum::routing::delete(|| async { "should not be reachable" }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            c.clone(),
            tessera_coordinator::api::authorize,
        ))
        .with_state(c);
    let (status, _, body) = call_as(&app, "DELETE", "/v1/status", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
}

#[tokio::test]
async fn oversize_bodies_get_413() {
    // The default limit is 1 MiB.
    let app = role_app(None);
    let token = role_token(Role::Requester);
    let post = |size: usize| {
        let app = app.clone();
        let token = token.clone();
        async move {
            let body = format!("\"{}\"", "a".repeat(size - 2));
            let req = Request::post("/v1/wallets")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .expect("request");
            let resp = app.oneshot(req).await.expect("infallible");
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
                .await
                .expect("body");
            (status, code(&bytes))
        }
    };
    assert_eq!(
        post((1 << 20) + 1).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large".to_string()
        )
    );
    // At the limit, the body is read (and refused for its shape, not its size).
    assert_eq!(
        post(1 << 20).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request".to_string()
        )
    );
    // The limit is the configuration's.
    let small = role_app(Some(64));
    let req = Request::post("/v1/wallets")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(vec![b' '; 65]))
        .expect("request");
    let resp = small.oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn health_metrics_and_document() {
    let app = app();
    let (status, body) = call(&app, Method::GET, "/healthz", false, None).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"ok"[..]));
    let (status, _) = call(&app, Method::GET, "/readyz", false, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&app, Method::GET, "/metrics", true, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("tessera_"));
    let (status, body) = call(&app, Method::GET, "/v1/openapi.json", false, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&body).expect("JSON"), doc());
}

#[tokio::test]
async fn error_cases() {
    let app = app();
    let rng = &mut rand_core::OsRng;

    // Malformed JSON: a 4xx with an ApiError body.
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/wallets",
        true,
        Some("{not json".into()),
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(code(&body), "invalid_request");
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/wallets",
        true,
        Some("{\"wallet_id\": 1}".into()),
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(code(&body), "invalid_request");

    // Unknown wallet and session.
    for uri in [
        "/v1/wallets/nope",
        "/v1/wallets/nope/keys?path=m/1",
        "/v1/sessions/nope?wait_ms=1",
    ] {
        let (status, body) = call(&app, Method::GET, uri, true, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(code(&body), "not_found", "{uri}");
    }

    // A signed identity whose proof is wrong.
    let a = IdentityKey::generate(rng);
    let mut forged = a.signed_identity();
    forged.proof[0] ^= 1;
    let body = serde_json::to_string(&EnrollSigner {
        name: "a".into(),
        identity: forged,
    })
    .expect("json");
    let (status, resp) = call(&app, Method::POST, "/v1/signers", true, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&resp), "invalid_request");

    // Enrolling twice.
    let (status, resp) = call(
        &app,
        Method::POST,
        "/v1/signers",
        true,
        Some(enroll_body("a", &a)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let info: Value = serde_json::from_slice(&resp).expect("JSON");
    assert_eq!(info["node_id"], hex::encode(a.node_id().0));
    assert_eq!(info["connected"], false);
    let (status, resp) = call(
        &app,
        Method::POST,
        "/v1/signers",
        true,
        Some(enroll_body("a again", &a)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&resp), "conflict");

    // A wallet whose authorization is for something else.
    let b = IdentityKey::generate(rng);
    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/signers",
        true,
        Some(enroll_body("b", &b)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let op = OperatorKey::generate(rng);
    let signers = vec![a.node_id(), b.node_id()];
    let authorization = Authorization::sign(
        &op,
        "req-1".into(),
        Action::Keygen {
            wallet_id: "other".into(),
            scheme: SchemeId::Ed25519,
            threshold: 2,
            signers: signers.clone(),
            networks: vec!["solana:devnet".into()],
        },
        u64::MAX,
    );
    let create = CreateWallet {
        wallet_id: "treasury".into(),
        name: "Treasury".into(),
        scheme: SchemeId::Ed25519,
        threshold: 2,
        signers,
        networks: vec!["solana:devnet".into()],
        authorization,
        import: None,
        approvals: Vec::new(),
    };
    let (status, resp) = call(
        &app,
        Method::POST,
        "/v1/wallets",
        true,
        Some(serde_json::to_string(&create).expect("json")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&resp), "invalid_request");
    let (_, resp) = call(&app, Method::GET, "/v1/wallets", true, None).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&resp).expect("JSON"),
        json!([])
    );

    // Signing with a wallet that does not exist.
    let digest = [7u8; 32];
    let sign = SignRequest {
        request_id: "req-2".into(),
        message: MessageInput::Preimage {
            hash: MessageHash::Sha256,
            hex: hex::encode(b"hello"),
        },
        path: "m".into(),
        authorization: Authorization::sign(
            &op,
            "req-2".into(),
            Action::Sign {
                wallet_id: "nope".into(),
                path: "m".into(),
                messages: vec![AuthorizedMessage::Preimage {
                    hash: MessageHash::Sha256,
                    digest,
                }],
            },
            u64::MAX,
        ),
    };
    for wait in ["", "?wait=true"] {
        let (status, resp) = call(
            &app,
            Method::POST,
            &format!("/v1/wallets/nope/signatures{wait}"),
            true,
            Some(serde_json::to_string(&sign).expect("json")),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(code(&resp), "not_found");
    }

    // A malformed query string is an ApiError too.
    let (status, resp) = call(&app, Method::GET, "/v1/sessions?limit=many", true, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&resp), "invalid_request");
}

// ---------------------------------------------------------------------- transactions

/// A small JSON Schema check covering the keywords this document uses for shapes: `$ref`,
/// `allOf`, `oneOf` (exactly one), `anyOf`, `type`, `enum`, `const`, `required`, `properties`,
/// `additionalProperties: false` and `items` (not `pattern` nor bounds).
fn conforms(d: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/components/schemas/")
            .ok_or_else(|| format!("{at}: unexpected $ref {r}"))?;
        let target = &d["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: {r} does not resolve"));
        }
        conforms(d, target, v, at)?;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            conforms(d, s, v, at)?;
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let errors: Vec<String> = one
            .iter()
            .filter_map(|s| conforms(d, s, v, at).err())
            .collect();
        let matched = one.len() - errors.len();
        if matched != 1 {
            return Err(format!(
                "{at}: matches {matched} oneOf branches: {errors:?}"
            ));
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let errors: Vec<String> = any
            .iter()
            .filter_map(|s| conforms(d, s, v, at).err())
            .collect();
        if errors.len() == any.len() {
            return Err(format!("{at}: matches no anyOf branch: {errors:?}"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad type {t}")),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {v} is not of type {t}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            return Err(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            return Err(format!("{at}: {v} is not {c}"));
        }
    }
    if let Some(obj) = v.as_object() {
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    return Err(format!("{at}: required field {r} missing"));
                }
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(props) = props {
            for (k, s) in props {
                if let Some(x) = obj.get(k) {
                    conforms(d, s, x, &format!("{at}.{k}"))?;
                }
            }
        }
        if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
            for k in obj.keys() {
                if !props.is_some_and(|p| p.contains_key(k)) {
                    return Err(format!("{at}: field {k} is not documented"));
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            conforms(d, items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// Serializes `v` and checks it against the named schema; returns the JSON.
fn assert_conforms(d: &Value, schema: &str, v: &impl serde::Serialize) -> Value {
    let json = serde_json::to_value(v).expect("serialize");
    let s = &d["components"]["schemas"][schema];
    assert!(s.is_object(), "schema {schema} missing");
    if let Err(e) = conforms(d, s, &json, schema) {
        panic!("{schema} does not describe {json}: {e}");
    }
    json
}

/// A request body has exactly the properties its schema names (request schemas do not set
/// `additionalProperties: false`, so `conforms` alone would not notice a misnamed field).
fn assert_same_keys(d: &Value, schema: &str, v: &Value) {
    let props: BTreeSet<&String> = d["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{schema} has no properties"))
        .keys()
        .collect();
    let keys: BTreeSet<&String> = v.as_object().expect("an object").keys().collect();
    assert_eq!(props, keys, "{schema}: documented vs serialized fields");
}

/// The string values of a schema's `enum`.
fn enum_values(d: &Value, path: &[&str]) -> Vec<String> {
    let mut v = &d["components"]["schemas"];
    for p in path {
        v = &v[*p];
    }
    v["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{path:?} has no enum"))
        .iter()
        .map(|x| x.as_str().expect("string enum").to_string())
        .collect()
}

/// The serde name of a unit variant.
fn name(v: impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .expect("serialize")
        .as_str()
        .expect("a string")
        .to_string()
}

/// The intent hash exactly as the document spells it out (`TransactionPreview.intent_hash`).
fn documented_intent_hash(intent: &Intent, messages: &[SignMessage]) -> [u8; 32] {
    let put = |h: &mut Sha256, b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    let mut h = Sha256::new();
    put(&mut h, b"tessera/intent-hash/v1");
    put(&mut h, &serde_json::to_vec(intent).expect("json"));
    h.update((messages.len() as u64).to_be_bytes());
    for m in messages {
        match m {
            SignMessage::Preimage {
                hash: Some(hash), ..
            } => {
                let tag = match hash {
                    MessageHash::Sha256 => 1u8,
                    MessageHash::DoubleSha256 => 2,
                    MessageHash::Keccak256 => 3,
                    MessageHash::TapSighash => 4,
                };
                h.update([1, tag]);
                h.update(m.digest32().expect("digest"));
            }
            SignMessage::RawDigest(digest) => {
                h.update([2]);
                h.update(digest);
            }
            SignMessage::Preimage { hash: None, bytes } => {
                h.update([3]);
                put(&mut h, bytes);
            }
        }
    }
    h.finalize().into()
}

/// The canonical intent lists its fields in the order of the schema's `required` list, which
/// the document calls the declaration order.
fn assert_declaration_order(d: &Value, intent: &Intent) {
    let text = String::from_utf8(intent.canonical_bytes()).expect("utf-8");
    assert_eq!(
        intent.canonical_bytes(),
        serde_json::to_vec(intent).expect("json"),
        "the canonical intent is its compact JSON"
    );
    let order: Vec<&str> = d["components"]["schemas"]["Intent"]["required"]
        .as_array()
        .expect("Intent.required")
        .iter()
        .map(|k| k.as_str().expect("field name"))
        .collect();
    let at: Vec<usize> = order
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} not in {text}"))
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "Intent.required is not the declaration order: {text}"
    );
}

fn secp(hex_key: &str) -> PublicKey {
    let mut pk = [0u8; 33];
    hex::decode_to_slice(hex_key, &mut pk).expect("hex");
    PublicKey::Secp256k1(pk)
}

/// The secp256k1 generator G and 2G, and the Ed25519 base point: stand-in wallet keys.
const G: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
const G2: &str = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";

/// A builder spec, given the wallet's own address.
type Spec<'a> = &'a dyn Fn(&str) -> Value;

/// What `buildTransaction` answers for `spec`, computed with this build's own adapters the way
/// the coordinator does, with the messages behind it.
fn preview(
    chain: &str,
    network: &str,
    scheme: SchemeId,
    pk: &PublicKey,
    spec: Spec,
) -> (TransactionPreview, Vec<SignMessage>) {
    let registry = tessera_chains::registry();
    let adapter = registry.get(chain).expect("adapter");
    let key = WalletKey {
        scheme,
        public_key: pk,
    };
    let address = adapter.address(network, key).expect("address").address;
    let payload = adapter
        .build(network, key, &spec(&address))
        .unwrap_or_else(|e| panic!("{chain}: build: {e}"));
    let parsed = adapter
        .parse(network, key, &payload)
        .unwrap_or_else(|e| panic!("{chain}: parse: {e}"));
    let hash = parsed.intent_hash().expect("intent hash");
    let p = TransactionPreview {
        wallet_id: "treasury".into(),
        chain: chain.into(),
        network: network.into(),
        path: "m".into(),
        address,
        payload,
        summary: parsed.intent.render(),
        intent: parsed.intent,
        intent_hash: hex::encode(hash),
        messages: parsed.messages.len() as u32,
    };
    (p, parsed.messages)
}

#[test]
fn every_operation_is_complete() {
    let d = doc();
    let mut ids = BTreeSet::new();
    for (path, item) in d["paths"].as_object().expect("paths") {
        for (m, op) in item.as_object().expect("path item") {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{m} {path}: operationId"));
            assert!(ids.insert(id.to_string()), "operationId {id} twice");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{id}");
            assert!(op["summary"].is_string(), "{id}: summary");
            let responses = op["responses"].as_object().expect("responses");
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(responses.contains_key("401"), "{id}: 401");
                assert!(responses.contains_key("403"), "{id}: 403");
                // Everything under /v1 may meet a store failure (metrics are in memory).
                if path.starts_with("/v1/") {
                    assert!(responses.contains_key("500"), "{id}: 500");
                }
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{id}: {status}");
                }
            }
            // Every path parameter is declared.
            for name in path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            {
                let declared = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)
                });
                assert!(declared, "{id}: path parameter {name}");
            }
        }
    }
}

/// One error of every kind the coordinator answers with (`CoordError`, chain adapter refusals
/// included), for checking their codes against the document.
fn every_coord_error() -> Vec<tessera_coordinator::CoordError> {
    use tessera_coordinator::store::StoreError;
    use tessera_coordinator::CoordError as E;
    use tessera_policy::{BundleError, FreshnessError, ModeError, PublicKey as AdminKey};
    use tessera_proto::audit::AuditPageError;
    let admin = AdminKey([1; 32]);
    let s = || "x".to_string();
    vec![
        E::Invalid(s()),
        E::NotFound(s()),
        E::Conflict(s()),
        E::NotReady(s()),
        E::Unavailable(s()),
        E::Store(StoreError::Backend(s())),
        E::Chain(ChainError::malformed("psbt", "x")),
        E::Chain(ChainError::wrong_network("chain_id", "mainnet", "sepolia")),
        E::Chain(ChainError::not_owned("psbt.inputs[0]", "x")),
        E::Chain(ChainError::unsupported("format", "x")),
        E::Chain(ChainError::Signatures(s())),
        E::Chain(ChainError::Verification(s())),
        E::AuthorizationInvalid(s()),
        E::AuthorizationExpired(s()),
        E::NoPolicy(s()),
        E::Bundle(BundleError::StaleVersion {
            current: 2,
            candidate: 1,
        }),
        E::Bundle(BundleError::TenantMismatch {
            current: s(),
            candidate: s(),
        }),
        E::Bundle(BundleError::BadSignature { admin }),
        E::Bundle(BundleError::InvalidBundle { reason: s() }),
        E::Mode(ModeError::StaleSequence {
            current: 2,
            candidate: 1,
        }),
        E::Mode(ModeError::NotValidNow { reason: s() }),
        E::Freshness(FreshnessError::OtherBundle {
            installed: 1,
            attested: 0,
        }),
        E::Freshness(FreshnessError::NotNewer {
            current: 2,
            candidate: 1,
        }),
        E::Freshness(FreshnessError::BadSignature { admin }),
        E::ApprovalInvalid(s()),
        E::ApprovalExpired(s()),
        E::NotAnApprover(s()),
        E::NotAwaiting(s()),
        E::PolicyDenied(s()),
        E::Audit(s()),
        E::SignerNotLinked(s()),
        E::SignerTimeout(s()),
        E::SignerAudit(AuditPageError::Busy),
        E::SignerAudit(AuditPageError::Corrupt(s())),
    ]
}

/// Found by the contract test (`scripts/contract-test`): `PUT /v1/policy/freshness` answered
/// 409 `freshness_conflict`, a code the document's `ApiError` did not list. Every error the
/// coordinator answers with is an `ApiError` the document describes: its code is listed, its
/// status an error status.
#[tokio::test]
async fn every_error_code_the_coordinator_answers_is_documented() {
    use axum::response::IntoResponse;
    let d = doc();
    let documented = enum_values(&d, &["ApiError", "properties", "error"]);
    for e in every_coord_error() {
        let what = format!("{e:?}");
        let code = e.code();
        assert!(
            documented.contains(&code.to_string()),
            "{what}: {code} undocumented"
        );
        let resp = e.into_response();
        let status = resp.status();
        assert!(
            status.is_client_error() || status.is_server_error(),
            "{what}: {status}"
        );
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("a JSON body");
        assert_eq!(body["error"], code, "{what}");
        let schema = &d["components"]["schemas"]["ApiError"];
        if let Err(err) = conforms(&d, schema, &body, "ApiError") {
            panic!("{what}: {err}");
        }
    }
}

/// Found by the contract test: `limit` was documented as `int32` with a maximum of 2^32 − 1,
/// and the coordinator (a `u32`) answered 200 to `limit=2147483648`, which the document called
/// invalid; `wait_ms` (a `u64`) was `int64`, and the signer audit page's `limit` had a maximum
/// of 1000 the coordinator caps at instead of refusing. Every integer query parameter documents
/// the maximum the coordinator parses, within its `format`: the maximum is answered without
/// 400, one more is a 400 `invalid_request`.
#[tokio::test]
async fn integer_query_bounds_are_what_the_coordinator_parses() {
    let app = app();
    let d = doc();
    let mut checked = 0;
    for (path, item) in d["paths"].as_object().expect("paths") {
        let Some(params) = item["get"]["parameters"].as_array() else {
            continue;
        };
        for p in params {
            let schema = &p["schema"];
            if p["in"] != "query" || schema["type"] != "integer" {
                continue;
            }
            let name = p["name"].as_str().expect("name");
            let what = format!("GET {path} {name}");
            let max = schema["maximum"]
                .as_u64()
                .unwrap_or_else(|| panic!("{what}: no maximum"));
            let format_max = match schema["format"].as_str() {
                Some("int32") => i32::MAX as u64,
                Some("int64") => i64::MAX as u64,
                None => u64::MAX,
                Some(f) => panic!("{what}: format {f}"),
            };
            assert!(
                max <= format_max,
                "{what}: maximum {max} exceeds its format"
            );
            let uri = |v: u128| format!("{}?{name}={v}", concrete(path));
            let (status, body) = call(&app, Method::GET, &uri(max.into()), true, None).await;
            assert_ne!(
                status,
                StatusCode::BAD_REQUEST,
                "{what}={max}: {}",
                String::from_utf8_lossy(&body)
            );
            let (status, body) =
                call(&app, Method::GET, &uri(u128::from(max) + 1), true, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{what}={max}+1");
            assert_eq!(code(&body), "invalid_request", "{what}");
            checked += 1;
        }
    }
    // limit ×4, wait_ms ×2, from_seq.
    assert_eq!(checked, 7);
}

#[test]
fn document_describes_transactions() {
    let d = doc();
    let paths = &d["paths"];
    let ops = [
        ("/v1/wallets/{id}/transactions", "get", "listTransactions"),
        ("/v1/wallets/{id}/transactions", "post", "createTransaction"),
        (
            "/v1/wallets/{id}/transactions/build",
            "post",
            "buildTransaction",
        ),
        (
            "/v1/wallets/{id}/transactions/{request}",
            "get",
            "getTransaction",
        ),
    ];
    for (path, m, id) in ops {
        let op = &paths[path][m];
        assert_eq!(op["operationId"], id, "{m} {path}");
        assert_eq!(op["tags"], json!(["transactions"]), "{id}");
    }
    // Error codes where clients look for them.
    let described = |path: &str, m: &str, status: &str| -> String {
        let r = &paths[path][m]["responses"][status];
        let r = match r["$ref"].as_str() {
            Some(name) => {
                &d["components"]["responses"][name.trim_start_matches("#/components/responses/")]
            }
            None => r,
        };
        r["description"]
            .as_str()
            .unwrap_or_else(|| panic!("{m} {path} {status}"))
            .to_string()
    };
    for (path, codes) in [
        (
            "/v1/wallets/{id}/transactions",
            &[
                ("400", "`invalid_request`"),
                ("400", "`malformed_payload`"),
                ("404", "`not_found`"),
                ("409", "`not_ready`"),
                ("409", "`conflict`"),
                ("422", "`wrong_network`"),
                ("422", "`not_owned`"),
                ("422", "`unsupported`"),
            ][..],
        ),
        (
            "/v1/wallets/{id}/transactions/build",
            &[
                ("400", "`invalid_request`"),
                ("400", "`malformed_payload`"),
                ("404", "`not_found`"),
                ("409", "`not_ready`"),
                ("422", "`wrong_network`"),
                ("422", "`not_owned`"),
                ("422", "`unsupported`"),
            ][..],
        ),
    ] {
        for (status, code) in codes {
            assert!(
                described(path, "post", status).contains(code),
                "POST {path} {status}: {code}"
            );
        }
    }
    assert!(
        described("/v1/wallets/{id}/transactions/{request}", "get", "404").contains("`not_found`")
    );
    let create = &paths["/v1/wallets/{id}/transactions"]["post"];
    for status in ["200", "202"] {
        assert_eq!(
            create["responses"][status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/TransactionInfo"
        );
    }
    let text = create["description"].as_str().expect("description");
    for needle in [
        "re-parses the raw payload with its own chain adapter",
        "`payload_rejected`",
        "`<request_id>#<index>`",
        "independent verifier",
        "`SignTransaction`",
    ] {
        assert!(text.contains(needle), "createTransaction: {needle}");
    }

    let schemas = &d["components"]["schemas"];
    // The authorization's canonical bytes for a transaction, and the intent hash construction.
    let authz = schemas["Authorization"]["description"]
        .as_str()
        .expect("authz");
    assert!(authz.contains(
        "0x03 || str(wallet_id) || str(path) || str(chain) || str(network) || intent_hash(32)"
    ));
    let hash = schemas["TransactionPreview"]["properties"]["intent_hash"]["description"]
        .as_str()
        .expect("intent_hash");
    assert!(hash.contains(tessera_chains::intent::INTENT_HASH_DOMAIN));
    assert!(schemas["Intent"]["description"]
        .as_str()
        .is_some_and(|s| s.contains("compact JSON") && s.contains("declaration order")));
    // `ApiError.field` is optional (omitted when empty).
    assert!(schemas["ApiError"]["properties"]["field"].is_object());
    assert!(!schemas["ApiError"]["required"]
        .as_array()
        .expect("required")
        .contains(&json!("field")));
}

#[test]
fn documented_enums_are_the_serde_forms() {
    let d = doc();
    // MessageHash (a new variant breaks `documented_intent_hash`'s match: add it there too).
    let hashes = [
        MessageHash::Sha256,
        MessageHash::DoubleSha256,
        MessageHash::Keccak256,
        MessageHash::TapSighash,
    ];
    assert_eq!(enum_values(&d, &["MessageHash"]), hashes.map(name).to_vec());
    // IntentKind, all of it.
    let kinds = [
        IntentKind::Transfer,
        IntentKind::ContractCall,
        IntentKind::ContractCreation,
        IntentKind::SignMessage,
    ];
    // A new variant breaks this match: document it.
    let spelled: Vec<&str> = kinds
        .iter()
        .map(|k| match k {
            IntentKind::Transfer => "transfer",
            IntentKind::ContractCall => "contract_call",
            IntentKind::ContractCreation => "contract_creation",
            IntentKind::SignMessage => "sign_message",
        })
        .collect();
    assert_eq!(enum_values(&d, &["IntentKind"]), spelled);
    assert_eq!(spelled, kinds.map(name).to_vec());
    // RiskFlag (non-exhaustive): every documented value parses, every known flag is documented,
    // in the order flags sort in.
    let flags = [
        RiskFlag::UnlimitedApproval,
        RiskFlag::UnknownSelector,
        RiskFlag::ContractCreation,
        RiskFlag::ValueToContract,
        RiskFlag::PrivilegedCall,
        RiskFlag::UnknownToken,
        RiskFlag::HighFee,
        RiskFlag::OffchainSignature,
        RiskFlag::GrantsAuthority,
        RiskFlag::MultipleOperations,
    ];
    let documented = enum_values(&d, &["RiskFlag"]);
    for f in &documented {
        serde_json::from_value::<RiskFlag>(json!(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    assert_eq!(documented, flags.map(name).to_vec());
    let mut sorted = flags;
    sorted.sort();
    assert_eq!(
        sorted, flags,
        "RiskFlag's documented order is its sort order"
    );

    // Chain adapter error codes: the HTTP ones (with a field) in ApiError, all in SessionError.
    let api_codes = enum_values(&d, &["ApiError", "properties", "error"]);
    let session_codes = enum_values(&d, &["SessionError", "properties", "code"]);
    let chain_errors = [
        ChainError::malformed("psbt", "x"),
        ChainError::wrong_network("chain_id", "mainnet", "sepolia"),
        ChainError::not_owned("psbt.inputs[0]", "x"),
        ChainError::unsupported("format", "x"),
        ChainError::Signatures("x".into()),
        ChainError::Verification("x".into()),
    ];
    for e in &chain_errors {
        if e.field().is_some() {
            assert!(
                api_codes.contains(&e.code().to_string()),
                "ApiError: {}",
                e.code()
            );
        }
        assert!(
            session_codes.contains(&e.code().to_string()),
            "SessionError: {}",
            e.code()
        );
        assert_eq!(ErrorCode::from(e).as_str(), e.code());
    }
    assert!(session_codes.contains(&"payload_rejected".to_string()));

    // PayloadInput's `encoding` tags are the discriminator's.
    let mapping = d["components"]["schemas"]["PayloadInput"]["discriminator"]["mapping"]
        .as_object()
        .expect("mapping");
    let inputs = [
        PayloadInput::Hex {
            format: "psbt".into(),
            data: "00".into(),
        },
        PayloadInput::Base64 {
            format: "psbt".into(),
            data: "AA==".into(),
        },
        PayloadInput::Builder { spec: json!({}) },
    ];
    assert_eq!(mapping.len(), inputs.len());
    for input in &inputs {
        let v = assert_conforms(&d, "PayloadInput", input);
        let tag = v["encoding"].as_str().expect("encoding");
        let target = mapping[tag].as_str().expect("mapped");
        assert_same_keys(&d, target.trim_start_matches("#/components/schemas/"), &v);
    }
}

#[test]
fn serde_forms_match_the_schemas() {
    let d = doc();
    let dead = "0x000000000000000000000000000000000000dEaD";

    // Real previews from this build's adapters: Bitcoin P2WPKH and P2TR, Ethereum native and
    // ERC-20 transfers, a Solana transfer.
    let g = secp(G);
    let g2 = secp(G2);
    let other_btc = tessera_chains::registry()
        .get("bitcoin")
        .expect("bitcoin")
        .address(
            "regtest",
            WalletKey {
                scheme: SchemeId::SchnorrBip340,
                public_key: &g2,
            },
        )
        .expect("address")
        .address;
    let btc_spec = |own: &str| {
        json!({
            "inputs": [
                tessera_chain_bitcoin::synthetic_coin("regtest", own, 150_000, 1).unwrap(),
                tessera_chain_bitcoin::synthetic_coin("regtest", own, 60_000, 2).unwrap()
            ],
            "outputs": [
                {"address": other_btc, "amount_sat": 120_000},
                {"address": own, "amount_sat": 88_590}
            ]
        })
    };
    let eth_native = |_: &str| {
        json!({
            "type": "eip1559", "nonce": 0, "to": dead, "value_wei": "10000000000000000",
            "gas_limit": 21000, "max_fee_per_gas_wei": "30000000000",
            "max_priority_fee_per_gas_wei": "1000000000"
        })
    };
    let eth_erc20 = |_: &str| {
        json!({
            "type": "eip1559", "nonce": 1, "gas_limit": 65000,
            "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1000000000",
            "erc20_transfer": {"token": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "to": dead, "amount": "1500000"}
        })
    };
    let sol_spec = |_: &str| {
        json!({
            "recent_blockhash": "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N",
            "transfers": [{"to": "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin", "lamports": 500_000_000u64}]
        })
    };
    let mut ed = [0x66u8; 32];
    ed[0] = 0x58;
    let ed = PublicKey::Ed25519(ed);
    let cases: [(&str, &str, SchemeId, &PublicKey, Spec); 5] = [
        ("bitcoin", "regtest", SchemeId::EcdsaDkls23, &g, &btc_spec),
        ("bitcoin", "regtest", SchemeId::SchnorrBip340, &g, &btc_spec),
        (
            "ethereum",
            "mainnet",
            SchemeId::EcdsaCggmp24,
            &g,
            &eth_native,
        ),
        ("ethereum", "mainnet", SchemeId::EcdsaDkls23, &g, &eth_erc20),
        ("solana", "mainnet-beta", SchemeId::Ed25519, &ed, &sol_spec),
    ];
    let mut previews = Vec::new();
    for (chain, network, scheme, pk, spec) in cases {
        let (p, messages) = preview(chain, network, scheme, pk, spec);
        assert_conforms(&d, "TransactionPreview", &p);
        assert_declaration_order(&d, &p.intent);
        assert_eq!(
            hex::encode(documented_intent_hash(&p.intent, &messages)),
            p.intent_hash,
            "{chain} with {scheme}: the documented intent hash"
        );
        assert_eq!(p.messages as usize, messages.len());
        previews.push(p);
    }

    // An intent with every optional part set.
    let mut full = Intent::new(
        "ethereum",
        "mainnet",
        IntentKind::ContractCall,
        dead.to_string(),
    );
    full.chain_id = Some(1);
    full.transfers.push(Transfer {
        from: None,
        to: dead.into(),
        asset: Asset {
            symbol: "USDC".into(),
            decimals: Some(6),
            contract: Some("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".into()),
        },
        amount: Amount::from_u128(1_500_000),
    });
    full.change.push(Transfer {
        from: None,
        to: dead.into(),
        asset: Asset {
            symbol: "?".into(),
            decimals: None,
            contract: Some(dead.into()),
        },
        amount: Amount::from_be_bytes(&[0xff; 32]),
    });
    full.fee = Some(Fee {
        asset: Asset::native("ETH", 18),
        max: Amount::from_u128(2_000_000_000_000_000),
        detail: "100000 gas x 20 gwei".into(),
    });
    full.nonce = Some("7".into());
    full.inputs.push(InputRef {
        outpoint: format!("{}:0", "ab".repeat(32)),
        amount: Amount::zero(),
        address: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080".into(),
    });
    full.recent_blockhash = Some("EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N".into());
    full.fee_payer = Some("9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin".into());
    full.calls.push(ContractCall {
        contract: dead.into(),
        method: "approve(address,uint256)".into(),
        selector: "095ea7b3".into(),
        args: vec![Argument {
            name: "amount".into(),
            value: "1".into(),
        }],
    });
    full.allowances.push(Allowance {
        spender: dead.into(),
        asset: Asset::native("ETH", 18),
        amount: Some(Amount::from_u128(1)),
        expires_at: Some(1_900_000_000),
        via: "approve".into(),
    });
    full.allowances.push(Allowance {
        spender: dead.into(),
        asset: Asset::native("ETH", 18),
        amount: None,
        expires_at: None,
        via: "permit2".into(),
    });
    full.authorities.push(AuthorityChange {
        account: dead.into(),
        authority: "contract_owner".into(),
        new_authority: Some(dead.into()),
    });
    full.authorities.push(AuthorityChange {
        account: dead.into(),
        authority: "close_account".into(),
        new_authority: None,
    });
    full.message = Some(MessagePreview {
        standard: "eip712".into(),
        summary: "Permit".into(),
        content: "{\"message\":{}}".into(),
    });
    full.flag(RiskFlag::UnknownToken);
    full.flag(RiskFlag::UnlimitedApproval);
    assert_conforms(&d, "Intent", &full);
    assert_declaration_order(&d, &full);

    // Signed results, one per documented `details` form.
    let signed = [
        SignedTransaction {
            chain: "bitcoin".into(),
            network: "regtest".into(),
            format: "bitcoin_tx".into(),
            bytes: vec![2, 0, 0, 0],
            txid: Some("ab".repeat(32)),
            details: json!({
                "kind": "p2wpkh",
                "prevouts": [{"script_pubkey_hex": format!("0014{}", "ab".repeat(20)), "amount_sat": 150_000}],
                "psbt_base64": "cHNidP8BAA=="
            }),
        },
        SignedTransaction {
            chain: "ethereum".into(),
            network: "mainnet".into(),
            format: "eip2718".into(),
            bytes: vec![2, 0xf8],
            txid: Some(format!("0x{}", "ab".repeat(32))),
            details: json!({"chain_id": 1, "signed_tx_hex": "0x02f8"}),
        },
        SignedTransaction {
            chain: "ethereum".into(),
            network: "mainnet".into(),
            format: "personal_sign_signature".into(),
            bytes: vec![0xab; 65],
            txid: None,
            details: json!({"signature_hex": format!("0x{}", "ab".repeat(65))}),
        },
        SignedTransaction {
            chain: "solana".into(),
            network: "devnet".into(),
            format: "solana_tx".into(),
            bytes: vec![1],
            txid: Some("5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnb".into()),
            details: json!({"signed_tx_base64": "AQ=="}),
        },
    ];
    for s in &signed {
        assert_conforms(&d, "SignedTransaction", s);
    }
    assert_conforms(
        &d,
        "Payload",
        &Payload {
            format: "psbt".into(),
            bytes: vec![0x70, 0x73],
        },
    );

    // Transaction records, running / failed and done.
    let p = &previews[0];
    let record = |done: bool| TransactionInfo {
        request_id: "tx-1".into(),
        wallet_id: p.wallet_id.clone(),
        chain: p.chain.clone(),
        network: p.network.clone(),
        path: p.path.clone(),
        address: p.address.clone(),
        status: if done {
            SessionStatus::Done
        } else {
            SessionStatus::Failed
        },
        intent: if done { p.intent.clone() } else { full.clone() },
        summary: p.summary.clone(),
        intent_hash: p.intent_hash.clone(),
        payload: p.payload.clone(),
        sessions: vec!["ab".repeat(16)],
        signatures: if done {
            vec![
                Signature::Ecdsa {
                    r: [1; 32],
                    s: [2; 32],
                    recovery_id: 1,
                },
                Signature::Bip340([3; 64]),
                Signature::Ed25519([4; 64]),
            ]
        } else {
            Vec::new()
        },
        signed: done.then(|| signed[0].clone()),
        error: (!done).then(|| SessionError {
            code: ErrorCode::PayloadRejected,
            message: "message 0: signer ...: the payload's intent hash differs".into(),
            culprits: vec![IdentityKey::generate(&mut rand_core::OsRng).node_id()],
        }),
        created_at_ms: 1,
        finished_at_ms: done.then_some(2),
        state: if done {
            RequestState::Signed
        } else {
            RequestState::Rejected
        },
        policy: None,
        approvals: Vec::new(),
        expires_at: 1_700_000_300,
    };
    assert_conforms(&d, "TransactionInfo", &record(true));
    assert_conforms(&d, "TransactionInfo", &record(false));

    // Request bodies.
    let op = OperatorKey::generate(&mut rand_core::OsRng);
    let build = BuildTransaction {
        chain: "bitcoin".into(),
        network: "regtest".into(),
        path: "m/0/1".into(),
        payload: PayloadInput::Builder { spec: json!({}) },
    };
    let v = assert_conforms(&d, "BuildTransaction", &build);
    assert_same_keys(&d, "BuildTransaction", &v);
    let authorization = Authorization::sign(
        &op,
        "tx-1".into(),
        Action::SignTransaction {
            wallet_id: "treasury".into(),
            path: "m/0/1".into(),
            chain: "bitcoin".into(),
            network: "regtest".into(),
            intent_hash: [7; 32],
        },
        u64::MAX,
    );
    let v = assert_conforms(&d, "Authorization", &authorization);
    assert_eq!(
        v["action"]["SignTransaction"]["intent_hash"],
        "07".repeat(32)
    );
    let create = CreateTransaction {
        request_id: "tx-1".into(),
        chain: "bitcoin".into(),
        network: "regtest".into(),
        path: "m/0/1".into(),
        payload: PayloadInput::Base64 {
            format: "psbt".into(),
            data: "cHNidP8B".into(),
        },
        authorization,
    };
    let v = assert_conforms(&d, "CreateTransaction", &create);
    assert_same_keys(&d, "CreateTransaction", &v);

    // Errors, with and without a field.
    for field in [None, Some("psbt.inputs[1].witness_utxo".to_string())] {
        let v = assert_conforms(
            &d,
            "ApiError",
            &ApiError {
                error: if field.is_some() {
                    "malformed_payload".into()
                } else {
                    "not_found".into()
                },
                message: "x".into(),
                field: field.clone(),
            },
        );
        assert_eq!(v.get("field").is_some(), field.is_some());
    }
}

/// An `ApiError` body with `code` (and no `field`), checked against the document.
fn api_error(d: &Value, body: &[u8], want: &str) {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    if let Err(e) = conforms(d, &d["components"]["schemas"]["ApiError"], &v, "ApiError") {
        panic!("{v}: {e}");
    }
    assert_eq!(v["error"], want, "{v}");
    assert!(v.get("field").is_none(), "{v}");
}

#[tokio::test]
async fn transaction_routes_need_the_token_and_a_wallet() {
    let app = app();
    let d = doc();
    let op = OperatorKey::generate(&mut rand_core::OsRng);
    let payload = PayloadInput::Hex {
        format: "psbt".into(),
        data: "70736274ff".into(),
    };
    let build = serde_json::to_string(&BuildTransaction {
        chain: "bitcoin".into(),
        network: "regtest".into(),
        path: "m".into(),
        payload: payload.clone(),
    })
    .expect("json");
    let create = serde_json::to_string(&CreateTransaction {
        request_id: "tx-1".into(),
        chain: "bitcoin".into(),
        network: "regtest".into(),
        path: "m".into(),
        payload,
        authorization: Authorization::sign(
            &op,
            "tx-1".into(),
            Action::SignTransaction {
                wallet_id: "nope".into(),
                path: "m".into(),
                chain: "bitcoin".into(),
                network: "regtest".into(),
                intent_hash: [7; 32],
            },
            u64::MAX,
        ),
    })
    .expect("json");
    let calls = [
        (Method::GET, "/v1/wallets/nope/transactions", None),
        (Method::POST, "/v1/wallets/nope/transactions", Some(&create)),
        (
            Method::POST,
            "/v1/wallets/nope/transactions?wait=true",
            Some(&create),
        ),
        (
            Method::POST,
            "/v1/wallets/nope/transactions/build",
            Some(&build),
        ),
        (
            Method::GET,
            "/v1/wallets/nope/transactions/tx-1?wait_ms=1",
            None,
        ),
    ];
    for (method, uri, body) in &calls {
        let (status, resp) = call(&app, method.clone(), uri, false, body.cloned()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        api_error(&d, &resp, "unauthenticated");
    }
    // With the token: an unknown wallet is 404 `not_found` (and has no transactions to list).
    for (method, uri, body) in &calls {
        let (status, resp) = call(&app, method.clone(), uri, true, body.cloned()).await;
        if *method == Method::GET && uri.ends_with("/transactions") {
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(
                serde_json::from_slice::<Value>(&resp).expect("JSON"),
                json!([])
            );
            continue;
        }
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}");
        api_error(&d, &resp, "not_found");
    }

    // Bodies the extractor refuses are ApiErrors, not axum's plain text.
    for uri in [
        "/v1/wallets/nope/transactions",
        "/v1/wallets/nope/transactions/build",
    ] {
        let (status, resp) = call(&app, Method::POST, uri, true, Some("{not json".into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        api_error(&d, &resp, "invalid_request");
        for bad in [
            r#"{"chain": 1}"#,
            r#"{"request_id": "tx-2", "chain": "bitcoin", "network": "regtest", "payload": {"encoding": "rot13", "data": ""}}"#,
        ] {
            let (status, resp) = call(&app, Method::POST, uri, true, Some(bad.into())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{uri} {bad}");
            api_error(&d, &resp, "invalid_request");
        }
        let req = Request::post(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::from(build.clone()))
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("infallible");
        assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{uri}");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        api_error(&d, &body, "invalid_request");
    }
    // So are malformed query strings.
    for (method, uri, body) in [
        (
            Method::POST,
            "/v1/wallets/nope/transactions?wait=maybe",
            Some(create.clone()),
        ),
        (
            Method::GET,
            "/v1/wallets/nope/transactions?limit=many",
            None,
        ),
        (
            Method::GET,
            "/v1/wallets/nope/transactions/tx-1?wait_ms=soon",
            None,
        ),
    ] {
        let (status, resp) = call(&app, method.clone(), uri, true, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}");
        api_error(&d, &resp, "invalid_request");
    }
    // `build` is the preview's path: reading a request called `build` is a 405, as documented.
    let (status, _) = call(
        &app,
        Method::GET,
        "/v1/wallets/nope/transactions/build",
        true,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

/// The lifecycle types (requests, approvals, policy, mode, events) serialize as documented.
#[test]
fn lifecycle_types_match_the_schemas() {
    use tessera_policy::{
        AdminSet, Approval, ApprovalDecision, Mode, ModeChange, PolicyBundle, SecretKey,
        SignedBundle,
    };
    use tessera_proto::api::{
        GroupHealth, ModeStatus, PolicyInfo, PolicyOutcome, QuorumNeed, RequestEvent, RequestInfo,
        SessionError, WalletHealth,
    };
    use tessera_proto::link::SignerStatus;

    let d = doc();
    let states = [
        RequestState::Received,
        RequestState::Policy,
        RequestState::AwaitingApprovals,
        RequestState::Approved,
        RequestState::Signing,
        RequestState::Signed,
        RequestState::Rejected,
        RequestState::Expired,
        RequestState::Failed,
    ];
    assert_eq!(
        enum_values(&d, &["RequestState"]),
        states.map(name).to_vec()
    );
    assert_eq!(
        enum_values(&d, &["ApprovalDecision"]),
        [ApprovalDecision::Approve, ApprovalDecision::Reject]
            .map(name)
            .to_vec()
    );
    assert_eq!(
        enum_values(&d, &["Mode"]),
        [Mode::Normal, Mode::Degraded, Mode::Lockdown]
            .map(name)
            .to_vec()
    );
    let admin = SecretKey::from_seed(&[1; 32]);
    let approver = SecretKey::from_seed(&[2; 32]);
    let mut roles = std::collections::BTreeMap::new();
    roles.insert("approver".to_string(), [approver.public()].into());
    let mut velocity = std::collections::BTreeMap::new();
    velocity.insert(
        "per-day".to_string(),
        serde_json::from_value(json!({
            "asset": "ethereum:mainnet:native", "window_s": 86400, "limit": {"amount": "20"}
        }))
        .expect("velocity rule"),
    );
    velocity.insert(
        "per-hour".to_string(),
        serde_json::from_value(json!({
            "wallet": "hot", "asset": "ethereum:mainnet:native", "window_s": 3600,
            "limit": {"count": 3}
        }))
        .expect("velocity rule"),
    );
    let mut bundle = SignedBundle::new(PolicyBundle {
        version: 3,
        tenant: "acme".into(),
        policies: "@id(\"x\") permit(principal, action, resource);".into(),
        roles,
        admins: AdminSet::new([admin.public()], 1).expect("admins"),
        velocity,
        created_at: 1,
        // One quarantined signer, so every documented field is serialized.
        quarantined: [tessera_policy::PublicKey([9; 32])].into(),
    });
    bundle.sign(&admin);
    let v = assert_conforms(&d, "SignedBundle", &bundle);
    assert_same_keys(&d, "PolicyBundle", &v["bundle"]);
    let mut mode = ModeChange::new("acme", 2, Mode::Degraded, "signer 3 down", 10, 20);
    mode.sign(&admin);
    let v = assert_conforms(&d, "ModeChange", &mode);
    assert_same_keys(&d, "ModeChange", &v);
    let approval = Approval::sign(
        &approver,
        "tx-1",
        [5; 32],
        3,
        ApprovalDecision::Approve,
        1_700_000_000,
    );
    let v = assert_conforms(&d, "Approval", &approval);
    assert_same_keys(&d, "Approval", &v);
    let outcome = PolicyOutcome {
        version: 3,
        decision: "allow_with_approvals".into(),
        policy_ids: vec!["large".into()],
        reasons: Vec::new(),
        quorum: vec![QuorumNeed {
            role: "approver".into(),
            count: 1,
        }],
    };
    for (state, error) in [
        (RequestState::AwaitingApprovals, None),
        (
            RequestState::Rejected,
            Some(SessionError {
                code: ErrorCode::PolicyDenied,
                message: "no policy permits this request".into(),
                culprits: Vec::new(),
            }),
        ),
    ] {
        let info = RequestInfo {
            request_id: "tx-1".into(),
            kind: "sign".into(),
            wallet_id: "hot".into(),
            state,
            summary: "RAW DIGEST".into(),
            intent: None,
            intent_hash: "05".repeat(32),
            message: Some(tessera_proto::api::RequestMessage {
                path: "m".into(),
                message: MessageInput::DangerRawDigest {
                    hex: "05".repeat(32),
                },
            }),
            risk_flags: vec!["raw_digest".into()],
            policy: Some(outcome.clone()),
            approvals: vec![approval.clone()],
            expires_at: 1_700_000_300,
            error,
            created_at_ms: 1,
            updated_at_ms: 2,
        };
        assert_conforms(&d, "RequestInfo", &info);
    }
    assert_conforms(
        &d,
        "RequestEvent",
        &RequestEvent {
            request_id: "tx-1".into(),
            state: RequestState::Signing,
            at_ms: 3,
        },
    );
    for mode_expires_at in [None, Some(20)] {
        assert_conforms(
            &d,
            "PolicyInfo",
            &PolicyInfo {
                version: 3,
                tenant: "acme".into(),
                bundle_hash: hex::encode(bundle.bundle.bundle_hash()),
                policy_ids: vec!["x".into()],
                mode: "degraded".into(),
                mode_expires_at,
                signers_current: vec![IdentityKey::generate(&mut rand_core::OsRng).node_id()],
            },
        );
    }
    for expires_at in [None, Some(20)] {
        let v = assert_conforms(
            &d,
            "ModeStatus",
            &ModeStatus {
                mode: "degraded".into(),
                seq: 2,
                reason: "signer 3 down".into(),
                expires_at,
                recommended: "degraded".into(),
                recommendation: "stay in degraded mode".into(),
                recommended_since_ms: 5,
                margin: 1,
                signers_enrolled: 3,
                signers_healthy: vec![IdentityKey::generate(&mut rand_core::OsRng).node_id()],
                wallets_total: 2,
                wallets_below_margin: vec![WalletHealth {
                    wallet_id: "hot".into(),
                    threshold: 2,
                    signers: 3,
                    healthy: 1,
                    state: GroupHealth::Unavailable,
                }],
                wallets_below_margin_count: 1,
            },
        );
        assert_same_keys(&d, "ModeStatus", &v);
        assert_same_keys(&d, "WalletHealth", &v["wallets_below_margin"][0]);
    }
    assert_conforms(
        &d,
        "SignerStatus",
        &SignerStatus {
            version: "0.1.0".into(),
            wallets: 1,
            primes_ready: 0,
            primes_progress: 0,
            sessions: 0,
            policy_version: 3,
            mode: "normal".into(),
            policy_fresh_since: 0,
            prepared_epochs: 0,
            vault_id: String::new(),
        },
    );
    // Every error code a request can end with is documented where clients see them, and
    // nothing else is.
    let session_codes = enum_values(&d, &["SessionError", "properties", "code"]);
    let typed: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    assert_eq!(session_codes, typed);
    let api_codes = enum_values(&d, &["ApiError", "properties", "error"]);
    for code in [
        "no_policy",
        "approval_invalid",
        "approval_expired",
        "not_an_approver",
        "not_awaiting_approvals",
        "audit_unavailable",
        "stale_version",
        "stale_sequence",
    ] {
        assert!(api_codes.contains(&code.to_string()), "{code}");
    }
}

fn coordinator() -> Coordinator {
    Coordinator::new(
        Config::new("https://127.0.0.1:1".into(), all_roles()),
        Arc::new(SqliteStore::in_memory().expect("in-memory store")),
        Arc::new(AuditLog::in_memory("coordinator:test").expect("audit log")),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    )
}

/// How a fake linked signer answers audit page requests.
#[derive(Clone, Copy)]
enum Fake {
    /// From a real log, with a head signed by its identity key.
    Honest,
    /// Never answers.
    Silent,
    /// `AuditPageError::Busy`.
    Busy,
    /// `AuditPageError::Unavailable`.
    Broken,
}

/// Enrolls `key` and links it as a fake signer behaving as `how`; returns the connection id.
async fn link_fake(app: &Router, c: &Coordinator, key: IdentityKey, how: Fake) -> u64 {
    use tessera_proto::audit::{AuditPage, AuditPageError, SignedHead};
    use tessera_proto::link::{FromSigner, SignerStatus, ToSigner};
    use tessera_proto::view::{SignedView, View};
    let (status, _) = call(
        app,
        Method::POST,
        "/v1/signers",
        true,
        Some(enroll_body("fake", &key)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let node = key.node_id();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ToSigner>();
    let conn = c.hub().connect(node, tx, SignerStatus::default());
    let log = AuditLog::in_memory(&tessera_proto::audit::signer_chain_id(&node)).expect("log");
    for n in 0..3 {
        log.append(
            &node.to_string(),
            tessera_audit::EntryKind::Signature,
            &format!("req-{n}"),
            json!({}),
            1,
        )
        .expect("append");
    }
    let c = c.clone();
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            let ToSigner::AuditPage {
                request,
                from_seq,
                limit,
                challenge,
            } = frame
            else {
                continue;
            };
            let result = match how {
                Fake::Silent => continue,
                Fake::Busy => Err(AuditPageError::Busy),
                Fake::Broken => Err(AuditPageError::Unavailable("disk on fire".into())),
                Fake::Honest => {
                    let head = log.head().expect("head");
                    let entries = log
                        .entries(from_seq, limit as usize)
                        .expect("entries")
                        .iter()
                        .map(|e| e.to_json_line().expect("line"))
                        .collect();
                    Ok(AuditPage {
                        chain_id: log.chain_id().to_string(),
                        from_seq: from_seq.max(1),
                        entries,
                        head: SignedHead::sign(&key, head.seq, head.hash, challenge),
                        view: SignedView::sign(
                            &key,
                            View {
                                policy_version: 0,
                                bundle_hash: [0; 32],
                                mode: "normal".into(),
                                mode_seq: 0,
                                policy_fresh_since: 0,
                                audit_seq: head.seq,
                                audit_hash: head.hash,
                            },
                            challenge,
                        ),
                    })
                }
            };
            c.hub().on_frame(
                node,
                FromSigner::AuditPage {
                    request,
                    result: result.map(Box::new),
                },
            );
        }
    });
    conn
}

#[tokio::test]
async fn signer_audit_pages_are_forwarded_correlated_and_errors_typed() {
    use tessera_coordinator::hub::AuditRequestError;
    let rng = &mut rand_core::OsRng;
    let mut config = Config::new("https://127.0.0.1:1".into(), all_roles());
    config.signer_request_timeout = std::time::Duration::from_millis(500);
    let c = Coordinator::new(
        config,
        Arc::new(SqliteStore::in_memory().expect("in-memory store")),
        Arc::new(AuditLog::in_memory("coordinator:test").expect("audit log")),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    );
    let app = router(c.clone());
    let d = doc();
    let uri = |node: &tessera_wire::NodeId, q: &str| format!("/v1/signers/{node}/audit{q}");

    // Not a node id: 400. Not enrolled: 404. Needs the token.
    let (status, body) = call(&app, Method::GET, "/v1/signers/zz/audit", true, None).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let stranger = IdentityKey::generate(rng).node_id();
    let (status, body) = call(&app, Method::GET, &uri(&stranger, ""), true, None).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, _) = call(&app, Method::GET, &uri(&stranger, ""), false, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = call(
        &app,
        Method::GET,
        &uri(&stranger, "?challenge=12"),
        true,
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    // Enrolled, not linked: 503.
    let offline = IdentityKey::generate(rng);
    let offline_id = offline.node_id();
    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/signers",
        true,
        Some(enroll_body("off", &offline)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(&app, Method::GET, &uri(&offline_id, ""), true, None).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "signer_not_linked")
    );

    // Linked and honest: the page as the signer sent it, with our challenge signed in.
    let honest = IdentityKey::generate(rng);
    let honest_id = honest.node_id();
    link_fake(&app, &c, honest, Fake::Honest).await;
    let challenge = hex::encode([7u8; 32]);
    let (status, body) = call(
        &app,
        Method::GET,
        &uri(
            &honest_id,
            &format!("?from_seq=2&limit=5000&challenge={challenge}"),
        ),
        true,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let page: tessera_proto::audit::AuditPage = serde_json::from_slice(&body).expect("page");
    assert_conforms(&d, "AuditPage", &page);
    assert_conforms(&d, "SignedHead", &page.head);
    assert_eq!(
        (page.from_seq, page.entries.len(), page.head.seq),
        (2, 2, 3)
    );
    assert_eq!(page.head.challenge, [7u8; 32]);
    page.head.verify(&honest_id).expect("signed by the signer");
    assert_eq!(c.hub().pending_audit_requests(), 0);

    // Busy: 503; cannot read its log: 502.
    let busy = IdentityKey::generate(rng);
    let busy_id = busy.node_id();
    link_fake(&app, &c, busy, Fake::Busy).await;
    let (status, body) = call(&app, Method::GET, &uri(&busy_id, ""), true, None).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "signer_busy")
    );
    let broken = IdentityKey::generate(rng);
    let broken_id = broken.node_id();
    link_fake(&app, &c, broken, Fake::Broken).await;
    let (status, body) = call(&app, Method::GET, &uri(&broken_id, ""), true, None).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::BAD_GATEWAY, "signer_audit_unavailable")
    );

    // Silent: the hub times out and forgets the request; an answer from another signer for it
    // is not taken; a dropped link fails the waiting request at once.
    let silent = IdentityKey::generate(rng);
    let silent_id = silent.node_id();
    let conn = link_fake(&app, &c, silent, Fake::Silent).await;
    let short = std::time::Duration::from_millis(200);
    let err = c
        .hub()
        .audit_page(silent_id, 1, 10, [0; 32], short)
        .await
        .unwrap_err();
    assert!(matches!(err, AuditRequestError::Timeout { .. }), "{err}");
    assert_eq!(c.hub().pending_audit_requests(), 0);
    let waiting = {
        let c = c.clone();
        tokio::spawn(async move {
            c.hub()
                .audit_page(
                    silent_id,
                    1,
                    10,
                    [0; 32],
                    std::time::Duration::from_secs(30),
                )
                .await
        })
    };
    while c.hub().pending_audit_requests() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    c.hub().disconnect(silent_id, conn);
    let err = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
        .await
        .expect("fails at once")
        .expect("task")
        .unwrap_err();
    assert_eq!(err, AuditRequestError::Disconnected(silent_id));
    assert_eq!(c.hub().pending_audit_requests(), 0);

    // Through the API, a silent signer is a 504 after the timeout.
    let silent2 = IdentityKey::generate(rng);
    let silent2_id = silent2.node_id();
    link_fake(&app, &c, silent2, Fake::Silent).await;
    let started = std::time::Instant::now();
    let (status, body) = call(&app, Method::GET, &uri(&silent2_id, ""), true, None).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::GATEWAY_TIMEOUT, "signer_timeout")
    );
    assert!(started.elapsed() >= c.config().signer_request_timeout);
    assert_eq!(c.hub().pending_audit_requests(), 0);
}

#[tokio::test]
async fn an_answer_from_another_signer_is_not_taken() {
    use tessera_proto::audit::AuditPageError;
    use tessera_proto::link::{FromSigner, SignerStatus};
    let rng = &mut rand_core::OsRng;
    let c = coordinator();
    let asked = IdentityKey::generate(rng).node_id();
    let other = IdentityKey::generate(rng).node_id();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    c.hub().connect(asked, tx, SignerStatus::default());
    let waiting = {
        let c = c.clone();
        tokio::spawn(async move {
            c.hub()
                .audit_page(asked, 1, 10, [0; 32], std::time::Duration::from_millis(500))
                .await
        })
    };
    let Some(tessera_proto::link::ToSigner::AuditPage { request, .. }) = rx.recv().await else {
        panic!("the request is forwarded to the signer asked");
    };
    c.hub().on_frame(
        other,
        FromSigner::AuditPage {
            request,
            result: Err(AuditPageError::Busy),
        },
    );
    let err = waiting.await.expect("task").unwrap_err();
    assert!(
        matches!(
            err,
            tessera_coordinator::hub::AuditRequestError::Timeout { .. }
        ),
        "{err}"
    );
}

/// The test token, for every role.
fn all_roles() -> tessera_coordinator::ApiTokens {
    tessera_coordinator::ApiTokens::all_roles(TOKEN).expect("token")
}

//! The REST API through the router, in process, and the OpenAPI document that describes it.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tessera_coordinator::api::{router, OPENAPI};
use tessera_coordinator::{Config, Coordinator, OsEntropy, SqliteStore};
use tessera_crypto::{MessageHash, SchemeId};
use tessera_proto::api::{CreateWallet, EnrollSigner, MessageInput, SignRequest};
use tessera_proto::SystemClock;
use tessera_wire::{Action, Authorization, AuthorizedMessage, IdentityKey, OperatorKey};
use tower::ServiceExt;

const TOKEN: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// Every route registered in `tessera_coordinator::api::router`, with its methods. Keep in sync.
const ROUTES: &[(&str, &[&str])] = &[
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/metrics", &["get"]),
    ("/v1/openapi.json", &["get"]),
    ("/v1/link", &["get"]),
    ("/v1/signers", &["get", "post"]),
    ("/v1/wallets", &["get", "post"]),
    ("/v1/wallets/{id}", &["get"]),
    ("/v1/wallets/{id}/keys", &["get"]),
    ("/v1/wallets/{id}/signatures", &["post"]),
    ("/v1/sessions", &["get"]),
    ("/v1/sessions/{id}", &["get"]),
    ("/v1/status", &["get"]),
];

/// Routes that do not take the bearer token.
const PUBLIC: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/openapi.json",
    "/v1/link",
];

fn app() -> Router {
    let store = SqliteStore::in_memory().expect("in-memory store");
    let c = Coordinator::new(
        Config::new("https://127.0.0.1:1".into(), TOKEN.into()),
        Arc::new(store),
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
        "MessageInput",
        "SignRequest",
        "SessionInfo",
        "WalletInfo",
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
fn every_route_is_documented_with_the_right_security() {
    let d = doc();
    let paths = d["paths"].as_object().expect("paths");
    for (path, methods) in ROUTES {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        for m in *methods {
            let op = &item[*m];
            assert!(op.is_object(), "{m} {path} is not documented");
            let secured = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearerAuth").is_some()));
            assert_eq!(
                secured,
                !PUBLIC.contains(path),
                "{m} {path}: bearer security"
            );
        }
    }
    for path in paths.keys() {
        assert!(
            ROUTES.iter().any(|(p, _)| p == path),
            "{path} is documented but not in the route list"
        );
    }
}

#[tokio::test]
async fn every_documented_path_is_routed() {
    let app = app();
    let d = doc();
    for (path, item) in d["paths"].as_object().expect("paths") {
        let uri = path.replace("{id}", "x");
        for m in item.as_object().expect("path item").keys() {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).expect("method");
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
    for uri in ["/v1/signers", "/v1/wallets", "/v1/status", "/v1/sessions"] {
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

#[tokio::test]
async fn health_metrics_and_document() {
    let app = app();
    let (status, body) = call(&app, Method::GET, "/healthz", false, None).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"ok"[..]));
    let (status, _) = call(&app, Method::GET, "/readyz", false, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&app, Method::GET, "/metrics", false, None).await;
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
        },
        u64::MAX,
    );
    let create = CreateWallet {
        wallet_id: "treasury".into(),
        name: "Treasury".into(),
        scheme: SchemeId::Ed25519,
        threshold: 2,
        signers,
        authorization,
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

//! The console over real loopback HTTP, in front of a mock coordinator that tells the truth or
//! lies about a request ([`super::testkit`]).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{json, Value};
use tessera_client::Client;
use tessera_policy::{ApprovalDecision, SecretKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::testkit::{erc20_request, local_intent, mock_coordinator, Mock, APPROVER_SEED, REQUEST};
use super::{Console, ConsoleConfig};

/// A console in front of a mock coordinator reporting `reported`.
struct Setup {
    addr: SocketAddr,
    session: String,
    mock: Arc<Mock>,
}

async fn setup(reported: tessera_proto::api::RequestInfo) -> Setup {
    setup_trusting(reported, Vec::new()).await
}

/// As [`setup`], with a client that trusts `trusted` signers to vouch for wallets.
async fn setup_trusting(
    reported: tessera_proto::api::RequestInfo,
    trusted: Vec<tessera_wire::NodeId>,
) -> Setup {
    let real = local_intent(1_500_000_000);
    let (url, mock) = mock_coordinator(reported, real).await;
    let pki = tessera_tls::generate_local_pki(&["localhost"]).unwrap();
    let client = Client::new(&url, &pki.ca_cert_pem, "api-token")
        .unwrap()
        .with_trusted_signers(trusted);
    let config = ConsoleConfig {
        client,
        approver: SecretKey::from_seed(&APPROVER_SEED),
        coordinator: url,
    };
    let console = Console::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let addr = console.addr();
    let session = console.url().split_once("session=").unwrap().1.to_string();
    tokio::spawn(console.serve(std::future::pending()));
    Setup {
        addr,
        session,
        mock,
    }
}

/// A raw HTTP/1.1 exchange (no client library between the test and the wire).
async fn http(addr: SocketAddr, head: &str, body: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap();
    let status = headers[9..12].parse().unwrap();
    (status, headers.to_ascii_lowercase(), body.to_string())
}

impl Setup {
    fn host(&self) -> String {
        format!("Host: {}", self.addr)
    }

    fn origin(&self) -> String {
        format!("Origin: http://{}", self.addr)
    }

    async fn state(&self) -> Value {
        let head = format!(
            "GET /api/state HTTP/1.1\r\n{}\r\nX-Tessera-Session: {}",
            self.host(),
            self.session
        );
        let (status, _, body) = http(self.addr, &head, "").await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn decide(&self, extra: &[String], decision: &str, hash: &str) -> (u16, Value) {
        let mut head = format!("POST /api/requests/{REQUEST}/decision HTTP/1.1");
        for h in extra {
            head.push_str("\r\n");
            head.push_str(h);
        }
        head.push_str("\r\nContent-Type: application/json");
        let body = json!({"decision": decision, "intent_hash": hash}).to_string();
        let (status, _, body) = http(self.addr, &head, &body).await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    fn good_headers(&self) -> Vec<String> {
        vec![
            self.host(),
            self.origin(),
            format!("X-Tessera-Session: {}", self.session),
        ]
    }

    fn approvals(&self) -> Vec<tessera_policy::Approval> {
        self.mock.approvals.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn an_honest_request_is_shown_as_parsed_here_and_approved_with_the_local_key() {
    let real = local_intent(1_500_000_000);
    let s = setup(erc20_request(&real)).await;
    let state = s.state().await;
    let v = &state["pending"][0];
    assert_eq!(v["verification"], "verified", "{v}");
    assert_eq!(v["summary"], real.summary());
    assert_eq!(v["can_approve"], true);
    let hash = hex::encode(real.intent_hash);
    assert_eq!(v["intent_hash"], hash.as_str());

    let (status, out) = s.decide(&s.good_headers(), "approve", &hash).await;
    assert_eq!(status, 200, "{out}");
    let got = s.approvals();
    assert_eq!(got.len(), 1);
    let a = &got[0];
    assert!(a.signature_valid());
    assert_eq!(a.intent_hash, real.intent_hash);
    assert_eq!(a.decision, ApprovalDecision::Approve);
    assert_eq!(a.approver, SecretKey::from_seed(&APPROVER_SEED).public());
}

#[tokio::test]
async fn a_coordinator_lying_about_the_intent_is_flagged_and_never_approved() {
    // It reports a harmless 1 USDC transfer (intent, hash, summary all consistent) but hands
    // over the 1,500 USDC payload.
    let real = local_intent(1_500_000_000);
    let fake = local_intent(1_000_000);
    let s = setup(erc20_request(&fake)).await;
    let state = s.state().await;
    let v = &state["pending"][0];
    assert_eq!(v["verification"], "mismatch", "{v}");
    assert_eq!(v["summary"], real.summary(), "the page shows its own parse");
    assert_eq!(v["reported"]["summary"], fake.summary());
    assert_eq!(v["can_approve"], false);
    assert_eq!(v["mismatches"], json!(["intent hash", "intent", "summary"]));

    // Neither the hash shown nor the coordinator's hash gets an approval.
    for hash in [hex::encode(real.intent_hash), hex::encode(fake.intent_hash)] {
        let (status, out) = s.decide(&s.good_headers(), "approve", &hash).await;
        assert_eq!(status, 409, "{out}");
        assert!(
            out["error"] == "intent_mismatch" || out["error"] == "changed",
            "{out}"
        );
    }
    assert!(
        s.approvals().is_empty(),
        "no approval reached the coordinator"
    );

    // A rejection is signed over the hash of the payload parsed here.
    let (status, out) = s
        .decide(&s.good_headers(), "reject", &hex::encode(real.intent_hash))
        .await;
    assert_eq!(status, 200, "{out}");
    let got = s.approvals();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].decision, ApprovalDecision::Reject);
    assert_eq!(got[0].intent_hash, real.intent_hash);
}

#[tokio::test]
async fn a_lying_summary_alone_is_refused() {
    let real = local_intent(1_500_000_000);
    let mut info = erc20_request(&real);
    info.summary = "Send 1 USDC to a friend".into();
    let s = setup(info).await;
    let (status, out) = s
        .decide(&s.good_headers(), "approve", &hex::encode(real.intent_hash))
        .await;
    assert_eq!(
        (status, out["error"].as_str()),
        (409, Some("intent_mismatch"))
    );
    assert!(s.approvals().is_empty());
}

#[tokio::test]
async fn the_local_endpoints_refuse_other_pages_and_missing_tokens() {
    let real = local_intent(1_500_000_000);
    let s = setup(erc20_request(&real)).await;
    let hash = hex::encode(real.intent_hash);
    let session = format!("X-Tessera-Session: {}", s.session);
    let wrong = format!("X-Tessera-Session: {}", "0".repeat(64));
    let cases: Vec<Vec<String>> = vec![
        // no session token
        vec![s.host(), s.origin()],
        // wrong session token
        vec![s.host(), s.origin(), wrong],
        // another page's origin
        vec![
            s.host(),
            "Origin: http://evil.example".into(),
            session.clone(),
        ],
        vec![s.host(), "Origin: null".into(), session.clone()],
        // no origin at all on a POST
        vec![s.host(), session.clone()],
        // DNS rebinding: another host name
        vec![
            format!("Host: evil.example:{}", s.addr.port()),
            format!("Origin: http://evil.example:{}", s.addr.port()),
            session.clone(),
        ],
        // a cross-site fetch
        vec![
            s.host(),
            s.origin(),
            session.clone(),
            "Sec-Fetch-Site: cross-site".into(),
        ],
    ];
    for h in &cases {
        let (status, out) = s.decide(h, "approve", &hash).await;
        assert_eq!(status, 403, "{h:?}: {out}");
    }
    // The state and the page need the token too.
    let (status, _, _) = http(
        s.addr,
        &format!("GET /api/state HTTP/1.1\r\n{}", s.host()),
        "",
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = http(s.addr, &format!("GET / HTTP/1.1\r\n{}", s.host()), "").await;
    assert_eq!(status, 403);
    // A CORS preflight gets no CORS grant.
    let head = format!(
        "OPTIONS /api/requests/{REQUEST}/decision HTTP/1.1\r\n{}\r\nOrigin: http://evil.example\r\n\
         Access-Control-Request-Method: POST",
        s.host()
    );
    let (status, headers, _) = http(s.addr, &head, "").await;
    assert_ne!(status / 100, 2);
    assert!(!headers.contains("access-control-allow"), "{headers}");
    assert!(s.approvals().is_empty(), "nothing reached the coordinator");
}

#[tokio::test]
async fn no_response_ever_contains_the_approver_key() {
    let real = local_intent(1_500_000_000);
    let s = setup(erc20_request(&real)).await;
    let key = SecretKey::from_seed(&APPROVER_SEED);
    let secret = key.to_text().trim().to_string();
    let page = format!("GET /?session={} HTTP/1.1\r\n{}", s.session, s.host());
    let mut bodies = Vec::new();
    for head in [
        page,
        format!("GET /console.js HTTP/1.1\r\n{}", s.host()),
        format!("GET /console.css HTTP/1.1\r\n{}", s.host()),
        format!(
            "GET /api/state HTTP/1.1\r\n{}\r\nX-Tessera-Session: {}",
            s.host(),
            s.session
        ),
    ] {
        let (status, headers, body) = http(s.addr, &head, "").await;
        assert_eq!(status, 200, "{head}");
        assert!(headers.contains("content-security-policy: default-src 'none'"));
        assert!(headers.contains("script-src 'self'"));
        assert!(!headers.contains("unsafe-inline"));
        assert!(!headers.contains("access-control-allow"));
        bodies.push(headers + &body);
    }
    let (_, out) = s
        .decide(&s.good_headers(), "approve", &hex::encode(real.intent_hash))
        .await;
    bodies.push(out.to_string());
    let page = &bodies[0];
    assert!(
        page.contains(&s.session),
        "the page carries its session token"
    );
    assert!(!page.contains("<script>"), "no inline script");
    assert!(bodies[3].contains(&key.public().to_hex()));
    for b in &bodies {
        assert!(
            !b.to_ascii_lowercase().contains(&secret),
            "the key leaked: {b}"
        );
    }
}

#[tokio::test]
async fn the_console_listens_on_loopback_only() {
    let pki = tessera_tls::generate_local_pki(&["localhost"]).unwrap();
    let config = ConsoleConfig {
        client: Client::new("https://127.0.0.1:1", &pki.ca_cert_pem, "t").unwrap(),
        approver: SecretKey::from_seed(&APPROVER_SEED),
        coordinator: "https://127.0.0.1:1".into(),
    };
    let err = Console::bind("0.0.0.0:0".parse().unwrap(), config)
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, super::StartError::NotLoopback(_)));
}

/// The wallets table: every wallet with its epoch and a commit still in progress, sorted; keys
/// are "not checked" without trusted signers, and "NOT vouched" when trusted signers are
/// configured but the coordinator's record carries none of their attestations.
#[tokio::test]
async fn wallets_show_their_epochs_and_whether_the_signers_vouch_for_them() {
    let real = local_intent(1_500_000_000);
    let state = setup(erc20_request(&real)).await.state().await;
    let w = state["wallets"].as_array().unwrap();
    assert_eq!(w.len(), 2, "{state}");
    assert_eq!(w[0]["wallet_id"], "w-a");
    assert_eq!(
        (w[0]["epoch"].clone(), w[0]["committing_epoch"].clone()),
        (json!(2), json!(3))
    );
    assert_eq!(
        (w[1]["epoch"].clone(), w[1]["committing_epoch"].clone()),
        (json!(0), Value::Null)
    );
    assert_eq!(w[0]["group"], "2-of-0");
    assert_eq!(w[0]["vouched"], Value::Null);
    assert!(w[0]["vouch"].as_str().unwrap().starts_with("not checked"));

    let trusting = setup_trusting(erc20_request(&real), vec![tessera_wire::NodeId([7; 32])]).await;
    let state = trusting.state().await;
    for w in state["wallets"].as_array().unwrap() {
        assert_eq!(w["vouched"], false, "{w}");
        assert!(
            w["vouch"].as_str().unwrap().starts_with("NOT vouched"),
            "{w}"
        );
    }
}

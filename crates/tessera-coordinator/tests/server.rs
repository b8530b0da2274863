//! The HTTPS server's bounds on slow and flooding clients, over real TLS on loopback: stalled
//! TLS handshakes and stalled request headers are disconnected after their timeouts, and
//! connections beyond the cap are closed at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tessera_audit::AuditLog;
use tessera_coordinator::api::router;
use tessera_coordinator::server::{serve_tls, Limits};
use tessera_coordinator::{ApiTokens, Config, Coordinator, OsEntropy, SqliteStore};
use tessera_proto::SystemClock;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

const TOKEN: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// Longest a test waits for the server to close a connection it should close.
const PATIENCE: Duration = Duration::from_secs(5);

struct Server {
    addr: SocketAddr,
    connector: TlsConnector,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A coordinator serving TLS on a loopback port with `limits`.
async fn serve(limits: Limits) -> Server {
    let pki = tessera_tls::generate_local_pki(&["localhost", "127.0.0.1"]).expect("pki");
    let tls = tessera_tls::server_config(&pki.server_cert_pem, &pki.server_key_pem).expect("tls");
    let c = Coordinator::new(
        Config::new(
            "https://127.0.0.1:1".into(),
            ApiTokens::all_roles(TOKEN).expect("token"),
        ),
        Arc::new(SqliteStore::in_memory().expect("in-memory store")),
        Arc::new(AuditLog::in_memory("coordinator:test").expect("audit log")),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_tls(listener, tls, router(c), limits, async move {
        let _ = stopped.await;
    }));
    let client = tessera_tls::client_config(&pki.ca_cert_pem).expect("client tls");
    Server {
        addr,
        connector: TlsConnector::from(client),
        _stop: stop,
    }
}

fn limits() -> Limits {
    Limits {
        tls_handshake_timeout: Duration::from_secs(10),
        header_read_timeout: Duration::from_secs(10),
        max_connections: 64,
    }
}

impl Server {
    async fn tls(&self) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.addr).await?;
        let name = ServerName::try_from("127.0.0.1").expect("server name");
        self.connector.connect(name, tcp).await
    }

    /// `GET /healthz` on a fresh connection: the response's status line.
    async fn health(&self) -> std::io::Result<String> {
        let mut s = self.tls().await?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        let text = String::from_utf8_lossy(&out);
        Ok(text.lines().next().unwrap_or("").to_string())
    }
}

/// Waits for the peer to close `stream` (EOF or a reset); how long it took.
async fn closed_after(mut stream: impl AsyncRead + Unpin, started: Instant) -> Duration {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open for {PATIENCE:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_disconnected_after_the_timeout() {
    let timeout = Duration::from_millis(400);
    let server = serve(Limits {
        tls_handshake_timeout: timeout,
        ..limits()
    })
    .await;
    // Connects and never says a word.
    let started = Instant::now();
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let took = closed_after(tcp, started).await;
    assert!(took >= timeout - Duration::from_millis(50), "{took:?}");
    // A client that does complete its handshake is served.
    assert_eq!(server.health().await.expect("health"), "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn stalled_request_headers_are_disconnected_after_the_timeout() {
    let timeout = Duration::from_millis(400);
    let server = serve(Limits {
        header_read_timeout: timeout,
        ..limits()
    })
    .await;
    // Completes TLS, then sends half a request head and stalls (slowloris).
    let mut s = server.tls().await.expect("handshake");
    let started = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("write");
    let took = closed_after(s, started).await;
    assert!(took >= timeout - Duration::from_millis(50), "{took:?}");
    // Nothing sent at all after the handshake: closed too.
    let s = server.tls().await.expect("handshake");
    closed_after(s, Instant::now()).await;
    assert_eq!(server.health().await.expect("health"), "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_and_slots_come_back() {
    let server = serve(Limits {
        max_connections: 2,
        ..limits()
    })
    .await;
    let first = server.tls().await.expect("first connection");
    let _second = server.tls().await.expect("second connection");
    // The third is accepted by the kernel and closed by the server before any handshake.
    let third = tokio::time::timeout(PATIENCE, server.tls())
        .await
        .expect("refused at once, not left hanging");
    assert!(third.is_err(), "a third connection was served");
    // A slot comes back when a connection ends.
    drop(first);
    let deadline = Instant::now() + PATIENCE;
    loop {
        match server.health().await {
            Ok(line) if line == "HTTP/1.1 200 OK" => break,
            other => assert!(
                Instant::now() < deadline,
                "no slot freed after a connection closed: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

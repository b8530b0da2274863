//! HTTPS serving: a TLS accept loop feeding hyper (HTTP/1.1) with the axum router (WebSocket
//! upgrades included), with bounds on what a slow or flooding client can hold: a TLS handshake
//! timeout, a header read timeout and a cap on concurrent connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::Config;

/// Connection limits of [`serve_tls`] (from [`Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A client that has not completed the TLS handshake by then is disconnected.
    pub tls_handshake_timeout: Duration,
    /// A client that has not sent a request's headers by then is disconnected.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones are closed as soon as they are accepted.
    pub max_connections: usize,
}

impl From<&Config> for Limits {
    fn from(c: &Config) -> Limits {
        Limits {
            tls_handshake_timeout: c.tls_handshake_timeout,
            header_read_timeout: c.header_read_timeout,
            max_connections: c.max_connections,
        }
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: axum::Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer): (TcpStream, SocketAddr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = limits.max_connections, "connection limit reached; closed");
            drop(tcp);
            continue;
        };
        tcp.set_nodelay(true).ok();
        tokio::spawn(serve_connection(
            tcp,
            peer,
            acceptor.clone(),
            app.clone(),
            limits,
            permit,
        ));
    }
}

/// One connection: the TLS handshake (bounded in time), then HTTP/1.1 until the client leaves.
/// Holds its connection slot until it ends.
async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: axum::Router,
    limits: Limits,
    _permit: OwnedSemaphorePermit,
) {
    let tls = match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out; disconnected");
            return;
        }
    };
    // hyper's own HTTP/1 builder: its header read timeout runs from the first read, so a client
    // that sends nothing after the handshake is closed too (the auto builder's version sniffing
    // would wait for its first bytes unbounded).
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let svc = TowerToHyperService::new(app);
    if let Err(e) = http
        .serve_connection(TokioIo::new(tls), svc)
        .with_upgrades()
        .await
    {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

//! The signer's outbound link to one coordinator: TLS + WebSocket, reconnecting with backoff.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message as WsMessage};

use tessera_proto::link::{self, FromSigner, ToSigner, LINK_VERSION};

use crate::signer::{Outbound, Signer};

/// A coordinator this signer connects to.
#[derive(Clone)]
pub struct CoordinatorTarget {
    /// `https://host:port` of the coordinator (the link is `wss://host:port/v1/link`).
    pub url: String,
    /// PEM of the CA that signed the coordinator's certificate.
    pub ca_pem: String,
}

impl std::fmt::Debug for CoordinatorTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoordinatorTarget")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Why a link attempt ended.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Bad URL or TLS setup.
    #[error("configuration: {0}")]
    Config(String),
    /// Network or TLS failure.
    #[error("connection: {0}")]
    Io(String),
    /// The coordinator spoke out of turn or refused us.
    #[error("protocol: {0}")]
    Protocol(String),
}

/// Keeps a link to `target` up until `shutdown` fires.
pub async fn run(
    signer: Signer,
    target: CoordinatorTarget,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempt = connect_once(&signer, &target, shutdown.clone());
        tokio::select! {
            r = attempt => match r {
                Ok(()) => {
                    tracing::info!(url = %target.url, "link closed by the coordinator");
                    backoff = Duration::from_millis(100);
                }
                Err(e) => {
                    tracing::warn!(url = %target.url, error = %e, retry_in_ms = backoff.as_millis() as u64, "link down");
                }
            },
            _ = shutdown.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(3));
    }
}

fn host_port(url: &str) -> Result<(String, u16), LinkError> {
    let rest = url.strip_prefix("https://").ok_or_else(|| {
        LinkError::Config(format!("coordinator URL must start with https://: {url}"))
    })?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse()
                .map_err(|_| LinkError::Config(format!("bad port in {url}")))?,
        ),
        None => (authority.to_string(), 443),
    };
    Ok((host, port))
}

async fn connect_once(
    signer: &Signer,
    target: &CoordinatorTarget,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), LinkError> {
    let (host, port) = host_port(&target.url)?;
    let tls =
        tessera_tls::client_config(&target.ca_pem).map_err(|e| LinkError::Config(e.to_string()))?;
    let server_name = rustls_name(&host)?;
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| LinkError::Io(e.to_string()))?;
    tcp.set_nodelay(true).ok();
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(server_name, tcp)
        .await
        .map_err(|e| LinkError::Io(format!("TLS: {e}")))?;
    let ws_url = format!("wss://{host}:{port}/v1/link");
    let request = ws_url
        .into_client_request()
        .map_err(|e| LinkError::Config(e.to_string()))?;
    let (ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| LinkError::Io(format!("WebSocket: {e}")))?;
    let (mut sink, mut stream) = ws.split();

    // Challenge → hello → welcome.
    let challenge = next_frame(&mut stream).await?;
    let (nonce, coordinator) = match challenge {
        ToSigner::Challenge { nonce, coordinator } => (nonce, coordinator),
        other => {
            return Err(LinkError::Protocol(format!(
                "expected a challenge, got {other:?}"
            )))
        }
    };
    if coordinator != target.url {
        return Err(LinkError::Protocol(format!(
            "coordinator calls itself {coordinator:?}, we dialled {:?}",
            target.url
        )));
    }
    let hello = link::hello_bytes(&nonce, &coordinator, &signer.node_id());
    let frame = FromSigner::Hello {
        version: LINK_VERSION,
        identity: signer.public_identity(),
        signature: signer.sign_hello(&hello).to_vec(),
        status: signer.status(),
    };
    sink.send(WsMessage::Binary(link::encode(&frame).into()))
        .await
        .map_err(|e| LinkError::Io(e.to_string()))?;
    match next_frame(&mut stream).await? {
        ToSigner::Welcome => {}
        other => {
            return Err(LinkError::Protocol(format!(
                "expected welcome, got {other:?}"
            )))
        }
    }
    tracing::info!(url = %target.url, "linked to coordinator");

    let (tx, mut rx) = mpsc::unbounded_channel::<FromSigner>();
    let out: Outbound = Arc::new(move |f| {
        let _ = tx.send(f);
    });
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
    let status_out = out.clone();
    let status_signer = signer.clone();
    let status = async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            status_out(FromSigner::Status(status_signer.status()));
        }
    };
    let reader = async {
        loop {
            match next_frame(&mut stream).await {
                Ok(frame) => signer.handle(frame, &out),
                Err(e) => return Err(e),
            }
        }
    };
    let ended = tokio::select! {
        r = reader => r,
        _ = writer => Err(LinkError::Io("write side closed".into())),
        _ = status => Ok(()),
        _ = shutdown.changed() => Ok(()),
    };
    signer.link_lost(&out);
    ended
}

fn rustls_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, LinkError> {
    rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| LinkError::Config(format!("bad host name {host}: {e}")))
}

async fn next_frame<S>(stream: &mut S) -> Result<ToSigner, LinkError>
where
    S: futures_util::Stream<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    loop {
        match stream.next().await {
            Some(Ok(WsMessage::Binary(b))) => {
                return link::decode(&b).map_err(|e| LinkError::Protocol(e.to_string()))
            }
            Some(Ok(WsMessage::Close(c))) => {
                return Err(LinkError::Protocol(format!(
                    "closed by coordinator: {}",
                    c.map(|c| c.reason.to_string()).unwrap_or_default()
                )))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(LinkError::Io(e.to_string())),
            None => return Err(LinkError::Io("connection closed".into())),
        }
    }
}

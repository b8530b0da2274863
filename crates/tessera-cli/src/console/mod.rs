//! `tessera console`: the approvals console, served on the approver's own machine by their own
//! `tessera` binary.
//!
//! The coordinator is not trusted with anything here. This process:
//! - serves the page itself (three fixed files compiled into the binary, strict CSP, no
//!   external resource), on a loopback address only;
//! - fetches pending requests and each one's **raw payload** from the coordinator, parses it
//!   with its own chain adapters ([`tessera_client::Client::local_intent`]) and shows its own
//!   rendering and intent hash, flagging every field the coordinator reported differently
//!   ([`view`]);
//! - holds the approver key, read from a local file, and signs approvals itself: the browser
//!   only says "approve request X (intent hash H)" to this server, which re-fetches and
//!   re-parses the request, refuses when the coordinator's report does not match or H is not
//!   its own hash, and submits the signed approval ([`server`]). The key is never sent to the
//!   browser nor to the coordinator;
//! - answers only the page it served: a random per-run session token, and `Host`/`Origin`
//!   checks against other local web pages and DNS rebinding ([`guard`]).

mod guard;
mod server;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;

use tessera_client::Client;
use tessera_policy::SecretKey;

pub use guard::{CSP, SESSION_HEADER, SESSION_QUERY};
pub use server::{ConsoleError, DecisionBody, DecisionOutcome, StateView};

/// Errors starting the console.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// `--listen` is not a loopback address.
    #[error("the console listens on loopback addresses only, not {0}")]
    NotLoopback(SocketAddr),
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// What the console needs: a coordinator client and the approver key.
pub struct ConsoleConfig {
    /// Client of the coordinator (its URL, CA and API token).
    pub client: Client,
    /// The approver's key; stays in this process.
    pub approver: SecretKey,
    /// The coordinator's URL, shown on the page.
    pub coordinator: String,
}

/// A console bound to a loopback port, not yet serving.
pub struct Console {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    guard: guard::Guard,
    state: Arc<server::AppState>,
}

impl Console {
    /// Binds `listen` (loopback only; port 0 picks one) with a fresh session token.
    pub async fn bind(listen: SocketAddr, config: ConsoleConfig) -> Result<Console, StartError> {
        if !listen.ip().is_loopback() {
            return Err(StartError::NotLoopback(listen));
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })?;
        let state = server::AppState::new(config.client, config.approver, config.coordinator);
        Ok(Console {
            listener,
            addr,
            guard: guard::Guard::new(guard::SessionToken::generate(), addr),
            state: Arc::new(state),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to open: this server with the session token.
    pub fn url(&self) -> String {
        format!(
            "http://{}/?{SESSION_QUERY}={}",
            self.addr,
            self.guard.session().expose()
        )
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = server::router(self.state, self.guard);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

//! Linked signers and the relay between them.
//!
//! The relay routes sealed envelopes by their routing header (session, sender, recipient): it
//! forwards the bytes unchanged, cannot read p2p payloads (encrypted to the recipient) and cannot
//! alter anything (signed by the sender). [`Relay`] is the seam for other transports (NATS).
//!
//! The hub also correlates requests to one signer with their answers ([`Hub::audit_page`]): a
//! map of pending request ids to oneshot senders, each entry removed when its answer arrives,
//! when the caller times out or goes away, and when the signer's link drops or is replaced.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tessera_proto::audit::{AuditPage, AuditPageError};
use tessera_proto::link::{Failure, FromSigner, Outcome, SignerStatus, ToSigner};
use tessera_proto::Clock;
use tessera_wire::{Envelope, NodeId};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::{Metrics, SessionLabels};

/// Delivers frames to signers.
pub trait Relay: Send + Sync + 'static {
    /// Queues `frame` for `to`; false if `to` is not reachable now.
    fn deliver(&self, to: &NodeId, frame: ToSigner) -> bool;
}

/// What a running session hears from its participants.
#[derive(Debug)]
pub enum Event {
    /// A participant finished.
    Done(NodeId, Outcome),
    /// A participant failed or refused.
    Failed(NodeId, Failure),
    /// A participant's link dropped.
    Disconnected(NodeId),
}

/// A session in flight, as the relay needs it.
pub struct Live {
    /// Party index of each participant.
    pub index_of: HashMap<NodeId, u16>,
    /// Participant at each party index.
    pub node_at: HashMap<u16, NodeId>,
    /// Where participant events go.
    pub events: mpsc::UnboundedSender<Event>,
    /// Metric labels.
    pub labels: SessionLabels,
    /// (current round, when its first message passed) for round latency.
    round: Mutex<(u16, u64)>,
}

impl Live {
    /// A live session over `participants` (party index, node).
    pub fn new(
        participants: &[(u16, NodeId)],
        events: mpsc::UnboundedSender<Event>,
        labels: SessionLabels,
        now_ms: u64,
    ) -> Self {
        Live {
            index_of: participants.iter().map(|(i, n)| (*n, *i)).collect(),
            node_at: participants.iter().copied().collect(),
            events,
            labels,
            round: Mutex::new((0, now_ms)),
        }
    }
}

struct Conn {
    id: u64,
    tx: mpsc::UnboundedSender<ToSigner>,
    status: SignerStatus,
}

/// An audit page request waiting for its answer.
struct PendingAudit {
    /// The signer asked (only its answer counts).
    node: NodeId,
    tx: oneshot::Sender<Result<AuditPage, AuditPageError>>,
}

/// Why [`Hub::audit_page`] returned no page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditRequestError {
    /// The signer is not linked now.
    #[error("signer {0} is not linked")]
    NotLinked(NodeId),
    /// The signer's link dropped (or was replaced) before it answered.
    #[error("signer {0}'s link dropped before it answered")]
    Disconnected(NodeId),
    /// No answer within the timeout.
    #[error("signer {node} did not answer within {timeout_ms} ms")]
    Timeout {
        /// The signer.
        node: NodeId,
        /// The timeout.
        timeout_ms: u64,
    },
    /// The signer answered with an error.
    #[error("{0}")]
    Refused(AuditPageError),
}

/// Linked signers and live sessions. Ordered maps: what the hub does for every link or
/// session (a dropped link's sessions failed, a policy pushed to every signer) happens in the
/// same order every run, so a simulated run replays exactly.
pub struct Hub {
    conns: Mutex<BTreeMap<NodeId, Conn>>,
    live: Mutex<BTreeMap<[u8; 32], Arc<Live>>>,
    next_conn: std::sync::atomic::AtomicU64,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    /// Audit page requests waiting for their answer, by correlation id.
    audit_pending: Mutex<HashMap<u64, PendingAudit>>,
    /// Next audit request correlation id.
    next_audit: AtomicU64,
}

/// Removes a pending request when its caller is done with it (answered, timed out, dropped).
struct PendingGuard<'a> {
    hub: &'a Hub,
    request: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.hub.audit_pending).remove(&self.request);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hub {
    /// An empty hub.
    pub fn new(metrics: Arc<Metrics>, clock: Arc<dyn Clock>) -> Self {
        Hub {
            conns: Mutex::new(BTreeMap::new()),
            live: Mutex::new(BTreeMap::new()),
            next_conn: std::sync::atomic::AtomicU64::new(1),
            metrics,
            clock,
            audit_pending: Mutex::new(HashMap::new()),
            next_audit: AtomicU64::new(1),
        }
    }

    /// Asks linked signer `node` for a page of its audit log (see `tessera_proto::audit`) and
    /// waits up to `timeout` for the answer with the same correlation id from that signer. The
    /// page is returned as the signer sent it: the caller's client verifies the signed head.
    pub async fn audit_page(
        &self,
        node: NodeId,
        from_seq: u64,
        limit: u32,
        challenge: [u8; 32],
        timeout: Duration,
    ) -> Result<AuditPage, AuditRequestError> {
        let request = self.next_audit.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.audit_pending).insert(request, PendingAudit { node, tx });
        let _guard = PendingGuard { hub: self, request };
        let frame = ToSigner::AuditPage {
            request,
            from_seq,
            limit,
            challenge,
        };
        if !self.deliver(&node, frame) {
            return Err(AuditRequestError::NotLinked(node));
        }
        match tokio::time::timeout(timeout, rx).await {
            Err(_) => Err(AuditRequestError::Timeout {
                node,
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }),
            Ok(Err(_)) => Err(AuditRequestError::Disconnected(node)),
            Ok(Ok(result)) => result.map_err(AuditRequestError::Refused),
        }
    }

    /// Audit page requests waiting for an answer.
    pub fn pending_audit_requests(&self) -> usize {
        lock(&self.audit_pending).len()
    }

    /// Fails the pending audit requests to `node` (its link dropped or was replaced).
    fn drop_audit_requests(&self, node: NodeId) {
        lock(&self.audit_pending).retain(|_, p| p.node != node);
    }

    /// Registers a signer's link (replacing an older one); returns the connection id.
    pub fn connect(
        &self,
        node: NodeId,
        tx: mpsc::UnboundedSender<ToSigner>,
        status: SignerStatus,
    ) -> u64 {
        let id = self
            .next_conn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut conns = lock(&self.conns);
        let replaced = conns.insert(node, Conn { id, tx, status }).is_some();
        self.metrics.signers_connected.set(conns.len() as i64);
        drop(conns);
        if replaced {
            self.fail_sessions_of(node);
            self.drop_audit_requests(node);
        }
        id
    }

    /// Drops a signer's link if `conn` is still its current one.
    pub fn disconnect(&self, node: NodeId, conn: u64) {
        let mut conns = lock(&self.conns);
        let current = conns.get(&node).map(|c| c.id) == Some(conn);
        if current {
            conns.remove(&node);
        }
        self.metrics.signers_connected.set(conns.len() as i64);
        drop(conns);
        self.fail_sessions_of(node);
        if current {
            self.drop_audit_requests(node);
        }
    }

    fn fail_sessions_of(&self, node: NodeId) {
        let live: Vec<Arc<Live>> = lock(&self.live).values().cloned().collect();
        for l in live {
            if l.index_of.contains_key(&node) {
                let _ = l.events.send(Event::Disconnected(node));
            }
        }
    }

    /// Is `node` linked now?
    pub fn is_connected(&self, node: &NodeId) -> bool {
        lock(&self.conns).contains_key(node)
    }

    /// Signers linked now.
    pub fn connected(&self) -> Vec<NodeId> {
        lock(&self.conns).keys().copied().collect()
    }

    /// Last status of a linked signer.
    pub fn status(&self, node: &NodeId) -> Option<SignerStatus> {
        lock(&self.conns).get(node).map(|c| c.status.clone())
    }

    /// Sessions in flight.
    pub fn live_count(&self) -> usize {
        lock(&self.live).len()
    }

    /// Starts routing for a session.
    pub fn register(&self, session: [u8; 32], live: Arc<Live>) {
        lock(&self.live).insert(session, live);
    }

    /// Stops routing for a session.
    pub fn unregister(&self, session: &[u8; 32]) {
        lock(&self.live).remove(session);
    }

    /// Handles a frame from a linked signer.
    pub fn on_frame(&self, from: NodeId, frame: FromSigner) {
        match frame {
            FromSigner::Envelope { session, bytes } => self.route(from, session, bytes),
            FromSigner::Done { session, outcome } => {
                if let Some(l) = lock(&self.live).get(&session) {
                    let _ = l.events.send(Event::Done(from, outcome));
                }
            }
            FromSigner::Failed { session, failure } => {
                if let Some(l) = lock(&self.live).get(&session) {
                    let _ = l.events.send(Event::Failed(from, failure));
                }
            }
            FromSigner::Status(status) => {
                if let Some(c) = lock(&self.conns).get_mut(&from) {
                    c.status = status;
                }
            }
            FromSigner::AuditPage { request, result } => {
                let mut pending = lock(&self.audit_pending);
                match pending.get(&request) {
                    Some(p) if p.node == from => {
                        if let Some(p) = pending.remove(&request) {
                            // The caller may have given up meanwhile; nothing to do then.
                            let _ = p.tx.send(result.map(|page| *page));
                        }
                    }
                    Some(_) => {
                        tracing::warn!(node = %from, request, "audit page answer for another signer's request dropped");
                    }
                    None => {
                        tracing::debug!(node = %from, request, "late or unknown audit page answer dropped");
                    }
                }
            }
            FromSigner::PolicyRefused { .. } => {
                // The coordinator logs and audits refusals before frames reach the hub.
            }
            FromSigner::Hello { .. } => {
                tracing::warn!(node = %from, "unexpected hello on an established link");
            }
        }
    }

    fn route(&self, from: NodeId, session: [u8; 32], bytes: Vec<u8>) {
        let Some(live) = lock(&self.live).get(&session).cloned() else {
            tracing::debug!(node = %from, "envelope for an unknown session dropped");
            return;
        };
        // Read the routing header. The payload stays sealed; signers verify everything.
        let env = match Envelope::from_bytes(&bytes) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(node = %from, error = %e, "malformed envelope dropped");
                return;
            }
        };
        if live.index_of.get(&from) != Some(&env.from) || env.sender != from {
            tracing::warn!(node = %from, claimed = env.from, "envelope with a forged sender dropped");
            return;
        }
        {
            let mut round = lock(&live.round);
            if env.round != round.0 {
                let now = self.clock.now_ms();
                if round.0 != 0 {
                    self.metrics
                        .round_seconds
                        .get_or_create(&live.labels)
                        .observe(now.saturating_sub(round.1) as f64 / 1000.0);
                }
                *round = (env.round, now);
            }
        }
        let targets: Vec<NodeId> = match env.to {
            Some(i) => live.node_at.get(&i).copied().into_iter().collect(),
            None => live
                .node_at
                .values()
                .copied()
                .filter(|n| *n != from)
                .collect(),
        };
        for to in targets {
            self.metrics.envelopes_relayed.inc();
            self.deliver(
                &to,
                ToSigner::Envelope {
                    session,
                    bytes: bytes.clone(),
                },
            );
        }
    }
}

impl Relay for Hub {
    fn deliver(&self, to: &NodeId, frame: ToSigner) -> bool {
        match lock(&self.conns).get(to) {
            Some(c) => c.tx.send(frame).is_ok(),
            None => false,
        }
    }
}

//! Prometheus metrics (`GET /metrics`). Labels carry scheme, session kind and outcome — never
//! ids of requests, keys or anything secret.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of session metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SessionLabels {
    /// Scheme name.
    pub scheme: String,
    /// `keygen`, `sign`, `sign-presigned`, `presign`.
    pub kind: String,
}

/// Labels of outcome counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// Scheme name.
    pub scheme: String,
    /// Session kind.
    pub kind: String,
    /// `ok` or a failure code.
    pub outcome: String,
}

type HistFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~4.4 min
    Histogram::new(exponential_buckets(0.00025, 2.0, 21))
}

/// The coordinator's metrics.
pub struct Metrics {
    registry: Registry,
    /// End-to-end latency of sessions, seconds.
    pub session_seconds: HistFamily<SessionLabels>,
    /// Time between the first messages of consecutive protocol rounds, seconds.
    pub round_seconds: HistFamily<SessionLabels>,
    /// Finished sessions by outcome.
    pub sessions_total: Family<OutcomeLabels, Counter>,
    /// Envelopes relayed.
    pub envelopes_relayed: Counter,
    /// Signers connected now.
    pub signers_connected: Gauge,
    /// Presignatures / nonce sets pooled, all wallets.
    pub pool_size: Gauge,
    /// Enrolled signers linked now that run the bundle version in force.
    pub signers_healthy: Gauge,
    /// Ready wallets with fewer than `threshold + margin` healthy signers.
    pub wallets_below_margin: Gauge,
    /// The mode signer health calls for: 0 normal, 1 degraded.
    pub mode_recommended: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let session_seconds = HistFamily::<SessionLabels>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let round_seconds = HistFamily::<SessionLabels>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let sessions_total = Family::<OutcomeLabels, Counter>::default();
        let envelopes_relayed = Counter::default();
        let signers_connected = Gauge::default();
        let pool_size = Gauge::default();
        let signers_healthy = Gauge::default();
        let wallets_below_margin = Gauge::default();
        let mode_recommended = Gauge::default();
        registry.register(
            "session_duration_seconds",
            "End-to-end latency of protocol sessions",
            session_seconds.clone(),
        );
        registry.register(
            "session_round_seconds",
            "Latency of one protocol round (first message of a round to first message of the next)",
            round_seconds.clone(),
        );
        registry.register(
            "sessions",
            "Finished sessions by outcome",
            sessions_total.clone(),
        );
        registry.register(
            "envelopes_relayed",
            "Protocol envelopes relayed between signers",
            envelopes_relayed.clone(),
        );
        registry.register(
            "signers_connected",
            "Signers linked to this coordinator",
            signers_connected.clone(),
        );
        registry.register(
            "presign_pool_size",
            "Presignatures and nonce sets ready, all wallets",
            pool_size.clone(),
        );
        registry.register(
            "signers_healthy",
            "Enrolled signers linked now that run the policy bundle version in force",
            signers_healthy.clone(),
        );
        registry.register(
            "wallets_below_margin",
            "Ready wallets with fewer than threshold + margin healthy signers",
            wallets_below_margin.clone(),
        );
        registry.register(
            "mode_recommended",
            "Operating mode signer health calls for (0 normal, 1 degraded)",
            mode_recommended.clone(),
        );
        Metrics {
            registry,
            session_seconds,
            round_seconds,
            sessions_total,
            envelopes_relayed,
            signers_connected,
            pool_size,
            signers_healthy,
            wallets_below_margin,
            mode_recommended,
        }
    }

    /// Text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

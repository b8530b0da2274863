//! `tessera bench sign`: signatures through the API of a real cluster (processes, TLS, sealed
//! envelopes, vault writes), next to the raw in-process protocol figure measured in the same run.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::Serialize;
use tessera_client::Client;
use tessera_crypto::{SchemeId, SignMessage};
use tessera_proto::api::{SignPath, WalletStatus};
use tessera_wire::{NodeId, OperatorKey};

use crate::cluster::{ClusterFile, ClusterOptions, LocalCluster};

/// Options.
#[derive(Debug, Clone)]
pub struct SignBenchOptions {
    /// Schemes to measure.
    pub schemes: Vec<SchemeId>,
    /// Requests in flight.
    pub concurrency: usize,
    /// Measuring time per row.
    pub duration: Duration,
    /// Drive an existing cluster (directory of `tessera up`) instead of starting one.
    pub cluster_dir: Option<PathBuf>,
    /// Skip the in-process raw figures.
    pub skip_raw: bool,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct SignRow {
    /// Scheme name.
    pub scheme: String,
    /// `online` (one request at a time, each waiting for a pooled presignature / nonce set:
    /// the one-round online latency), `presigned` (sustained load at `--concurrency` on the
    /// pooled path; requests the pool cannot serve fall back to the full protocol, see
    /// `presigned_fraction`), `full` (interactive protocol).
    pub path: String,
    /// Share of requests actually served from the pool.
    pub presigned_fraction: f64,
    /// Requests completed.
    pub requests: usize,
    /// Requests that failed.
    pub errors: usize,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Completed requests per second.
    pub throughput_per_s: f64,
    /// Raw in-process protocol median for the same path (all parties in one process), ms.
    pub raw_ms: Option<f64>,
    /// p50 / raw.
    pub overhead_ratio: Option<f64>,
}

/// The `p` quantile (0..=1) of `sorted` by the nearest-rank method; NaN when empty.
pub(crate) fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1);
    sorted[i.min(sorted.len() - 1)]
}

/// A plain message in the scheme's default off-chain message format (what signers accept).
pub(crate) fn message(s: SchemeId, i: u64) -> Result<SignMessage> {
    let text = format!("tessera bench request {i}");
    Ok(tessera_chains::offchain_message(s, None, text.as_bytes())?)
}

/// Runs the benchmark.
pub async fn run(opts: SignBenchOptions, mut progress: impl FnMut(&str)) -> Result<Vec<SignRow>> {
    // Raw figures first, before any cluster process competes for the CPU.
    let raw = if opts.skip_raw {
        Vec::new()
    } else {
        progress("measuring raw in-process protocol figures (2-of-3)…");
        let o = tessera_bench::Options {
            iterations: 30,
            slow_iterations: 3,
            groups: vec![(2, 3)],
            schemes: opts.schemes.clone(),
        };
        let mut p = |s: &str| progress(s);
        tokio::task::block_in_place(|| tessera_bench::run_crypto(&o, &mut p)).rows
    };
    let raw_for = |s: SchemeId, full: bool| {
        let op = if full {
            "sign (full, interactive)"
        } else {
            "sign (online, from presignature)"
        };
        raw.iter()
            .find(|r| r.scheme == s.name() && r.op == op && r.group == "2-of-3")
            .map(|r| r.median_ms)
    };

    let (_cluster, file) =
        open_cluster(opts.cluster_dir.as_deref(), "bench", &mut progress).await?;
    let client = file.client()?;
    let operator = Arc::new(file.operator()?);
    let signers = first_three_signers(&file)?;

    let mut rows = Vec::new();
    for &s in &opts.schemes {
        let id = ready_wallet(&client, &operator, s, &signers, &mut progress).await?;
        let mut paths: Vec<(&str, bool)> = Vec::new();
        if s.has_presignatures() {
            paths.push(("m", false));
        }
        if s == SchemeId::EcdsaCggmp24 || !s.has_presignatures() {
            // cggmp24: HD child keys always take the full protocol.
            paths.push((if s.has_presignatures() { "m/0" } else { "m" }, true));
        }
        for (path, full) in paths {
            if !full {
                progress(&format!("{}: waiting for the presignature pool…", s.name()));
                wait_pool(&client, &id, 4, Duration::from_secs(120)).await?;
            }
            progress(&format!(
                "{}: signing at {path} for {} s, {} in flight…",
                s.name(),
                opts.duration.as_secs(),
                opts.concurrency
            ));
            if !full {
                let mut row = online(&client, &operator, s, &id, path, &opts).await?;
                row.raw_ms = raw_for(s, false);
                row.overhead_ratio = row.raw_ms.map(|r| row.p50_ms / r);
                rows.push(row);
                progress(&format!(
                    "{}: sustained load at {path} for {} s, {} in flight…",
                    s.name(),
                    opts.duration.as_secs(),
                    opts.concurrency
                ));
            }
            let mut row = load(&client, &operator, s, &id, path, &opts).await;
            row.path = if full { "full" } else { "presigned" }.into();
            row.raw_ms = raw_for(s, full);
            row.overhead_ratio = row.raw_ms.map(|r| row.p50_ms / r);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The cluster of `dir` (a `tessera up` directory), or a fresh local one (coordinator + 3
/// signers) in a temporary directory named after `name`, stopped when the returned
/// [`LocalCluster`] is dropped.
pub(crate) async fn open_cluster(
    dir: Option<&Path>,
    name: &str,
    progress: &mut impl FnMut(&str),
) -> Result<(Option<LocalCluster>, ClusterFile)> {
    if let Some(d) = dir {
        return Ok((None, ClusterFile::load(d)?));
    }
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    progress("starting a local cluster (coordinator + 3 signers)…");
    let c = LocalCluster::start(&dir, ClusterOptions::default()).await?;
    let f = c.file.clone();
    Ok((Some(c), f))
}

/// The node ids of the cluster's first three signers (a 2-of-3 wallet's holders).
pub(crate) fn first_three_signers(file: &ClusterFile) -> Result<Vec<NodeId>> {
    let signers: Vec<_> = file.signers.iter().map(|s| s.node_id).collect();
    if signers.len() < 3 {
        bail!("the cluster needs at least 3 signers");
    }
    Ok(signers[..3].to_vec())
}

/// Creates a fresh 2-of-3 wallet of scheme `s` on `signers` and waits until its key generation
/// finished; returns its id.
pub(crate) async fn ready_wallet(
    client: &Client,
    operator: &OperatorKey,
    s: SchemeId,
    signers: &[NodeId],
    progress: &mut impl FnMut(&str),
) -> Result<String> {
    let id = format!(
        "bench-{}-{}",
        s.name().replace(['/', '-'], "_"),
        &tessera_client::random_id()[..8]
    );
    progress(&format!("{}: creating a 2-of-3 wallet…", s.name()));
    client
        .create_wallet(
            operator,
            &id,
            &id,
            s,
            2,
            signers.to_vec(),
            crate::tx::DEMO_NETWORKS,
        )
        .await?;
    let t0 = Instant::now();
    loop {
        let w = client.wallet(&id).await?;
        match w.status {
            WalletStatus::Ready => return Ok(id),
            WalletStatus::Failed | WalletStatus::Retired => {
                bail!("{}: key generation failed: {:?}", s.name(), w.error)
            }
            WalletStatus::Creating => {
                if t0.elapsed() > Duration::from_secs(900) {
                    bail!("{}: key generation timed out", s.name());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Waits until the wallet's presignature pool holds `n` entries, for at most `timeout` (then
/// goes on: requests the pool cannot serve take the full protocol).
pub(crate) async fn wait_pool(client: &Client, id: &str, n: u32, timeout: Duration) -> Result<()> {
    let t0 = Instant::now();
    while client.wallet(id).await?.pool < n && t0.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

/// One request at a time, each sent only once the wallet's pool holds an entry, for at most
/// `opts.duration` or 50 requests: the latency of one-round online signing. Only requests the
/// pool served count.
async fn online(
    client: &Client,
    operator: &Arc<OperatorKey>,
    s: SchemeId,
    wallet: &str,
    path: &str,
    opts: &SignBenchOptions,
) -> Result<SignRow> {
    let end = Instant::now() + opts.duration;
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut errors = 0usize;
    let mut i = 0u64;
    while Instant::now() < end && lat.len() < 50 {
        if client.wallet(wallet).await?.pool == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        i += 1;
        let m = message(s, u64::MAX - i)?;
        let req = Client::sign_request(operator, wallet, path, &m)?;
        let t = Instant::now();
        match client.submit(wallet, &req, true).await {
            Ok(session) if session.signature.is_some() => {
                if session.sign_path == Some(SignPath::Presigned) {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            _ => errors += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    Ok(SignRow {
        scheme: s.name().to_string(),
        path: "online".into(),
        presigned_fraction: 1.0,
        requests: lat.len(),
        errors,
        p50_ms: pct(&lat, 0.50),
        p95_ms: pct(&lat, 0.95),
        p99_ms: pct(&lat, 0.99),
        throughput_per_s: lat.len() as f64 / elapsed,
        raw_ms: None,
        overhead_ratio: None,
    })
}

/// Closed-loop load: `opts.concurrency` tasks, each sending its next request as soon as the
/// previous one finished, for `opts.duration`.
pub(crate) async fn load(
    client: &Client,
    operator: &Arc<OperatorKey>,
    s: SchemeId,
    wallet: &str,
    path: &str,
    opts: &SignBenchOptions,
) -> SignRow {
    let samples = Arc::new(Mutex::new(Vec::<(f64, bool)>::new()));
    let errors = Arc::new(Mutex::new(0usize));
    let end = Instant::now() + opts.duration;
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.concurrency.max(1) {
        let client = client.clone();
        let operator = operator.clone();
        let samples = samples.clone();
        let errors = errors.clone();
        let counter = counter.clone();
        let wallet = wallet.to_string();
        let path = path.to_string();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Ok(m) = message(s, i) else {
                    break;
                };
                let Ok(req) = Client::sign_request(&operator, &wallet, &path, &m) else {
                    break;
                };
                let t = Instant::now();
                match client.submit(&wallet, &req, true).await {
                    Ok(session) if session.signature.is_some() => {
                        let ms = t.elapsed().as_secs_f64() * 1000.0;
                        let pre = session.sign_path == Some(SignPath::Presigned);
                        samples
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((ms, pre));
                    }
                    _ => *errors.lock().unwrap_or_else(|e| e.into_inner()) += 1,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let samples = samples.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let errors = *errors.lock().unwrap_or_else(|e| e.into_inner());
    let mut lat: Vec<f64> = samples.iter().map(|(ms, _)| *ms).collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pre = samples.iter().filter(|(_, p)| *p).count();
    SignRow {
        scheme: s.name().to_string(),
        path: String::new(),
        presigned_fraction: if samples.is_empty() {
            0.0
        } else {
            pre as f64 / samples.len() as f64
        },
        requests: samples.len(),
        errors,
        p50_ms: pct(&lat, 0.50),
        p95_ms: pct(&lat, 0.95),
        p99_ms: pct(&lat, 0.99),
        throughput_per_s: samples.len() as f64 / elapsed,
        raw_ms: None,
        overhead_ratio: None,
    }
}

/// The table.
pub fn render(rows: &[SignRow]) -> String {
    let mut out = format!(
        "{:<26} {:<10} {:>6} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9} {:>6} {:>5}\n",
        "scheme",
        "path",
        "pool%",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "sig/s",
        "raw ms",
        "overhead",
        "n",
        "err"
    );
    for r in rows {
        let opt = |v: Option<f64>, suffix: &str| {
            v.map(|x| format!("{x:.2}{suffix}"))
                .unwrap_or_else(|| "-".into())
        };
        out.push_str(&format!(
            "{:<26} {:<10} {:>6.0} {:>8.2} {:>8.2} {:>8.2} {:>9.1} {:>8} {:>9} {:>6} {:>5}\n",
            r.scheme,
            r.path,
            r.presigned_fraction * 100.0,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.throughput_per_s,
            opt(r.raw_ms, ""),
            opt(r.overhead_ratio, "x"),
            r.requests,
            r.errors
        ));
    }
    out
}

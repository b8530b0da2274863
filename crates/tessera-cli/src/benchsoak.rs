//! `tessera bench soak`: a long run of paced signing load against a real cluster (processes,
//! TLS, sealed envelopes, vault writes) that watches each process's memory and file descriptors.
//!
//! 1. Calibration: closed-loop load on the pooled (presigned) path at `--concurrency` for
//!    `--calibrate` seconds, after a discarded warm-up (a quarter of it, at most 5 s, so the
//!    full pool of the fresh wallet does not inflate the figure): the maximum sustained
//!    throughput.
//! 2. Soak: open-loop load at `--fraction` of that throughput for `--duration` seconds.
//!    Request `i` is due at `i / rate` seconds; its latency is counted from that moment, so a
//!    cluster that falls behind shows it as latency (queueing included) rather than as a
//!    quietly lower rate. At most `--max-in-flight` requests are outstanding; a request that
//!    waits for a slot is late, and its lateness is in its latency.
//! 3. Every `--sample` seconds, for the coordinator and every signer process: resident memory
//!    (`VmRSS` of `/proc/<pid>/status`) and open file descriptors (entries of
//!    `/proc/<pid>/fd`). Per window between two samples: requests due in it, errors, p50/p99.
//!
//! The report gives each process's RSS and fd slope, by least squares over the samples from the
//! end of the first window on: the first window is the warm-up (allocator arenas, SQLite page
//! caches, connection and TLS state and the presignature pool's working set grow to their size
//! there) and would otherwise dominate the slope of a short run. The run fails on any failed
//! request, on an achieved rate below `min_rate_ratio` of the target, or on a process that
//! exited; slopes and p99 drift are reported, not asserted (see `docs/reliability.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use tessera_client::Client;
use tessera_crypto::SchemeId;
use tessera_proto::api::SignPath;
use tessera_wire::OperatorKey;

use crate::benchsign::{self, SignBenchOptions, SignRow};
use crate::cluster::ClusterFile;

/// Options.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// Scheme of the wallet.
    pub scheme: SchemeId,
    /// Requests in flight during calibration.
    pub concurrency: usize,
    /// Measuring time of the calibration (after its warm-up).
    pub calibrate: Duration,
    /// Share of the calibrated throughput the soak asks for.
    pub fraction: f64,
    /// Length of the soak.
    pub duration: Duration,
    /// Interval between samples (one window).
    pub sample: Duration,
    /// Most requests outstanding at once during the soak.
    pub max_in_flight: usize,
    /// The run fails when the achieved rate is below this share of the target.
    pub min_rate_ratio: f64,
    /// How far past the end a cluster that fell behind still gets requests sent, and then how
    /// long the last ones get to finish; requests past either count as failed.
    pub grace: Duration,
    /// Drive an existing cluster (directory of `tessera up`) instead of starting one.
    pub cluster_dir: Option<PathBuf>,
}

impl Default for SoakOptions {
    fn default() -> Self {
        SoakOptions {
            scheme: SchemeId::Ed25519,
            concurrency: 4,
            calibrate: Duration::from_secs(20),
            fraction: 0.8,
            duration: Duration::from_secs(600),
            sample: Duration::from_secs(10),
            max_in_flight: 32,
            min_rate_ratio: 0.9,
            grace: Duration::from_secs(120),
            cluster_dir: None,
        }
    }
}

/// A process whose memory and descriptors are sampled.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Process {
    /// `coordinator` or the signer's name.
    pub name: String,
    /// Process id.
    pub pid: u32,
}

/// One sample of one process.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Sample number: 0 when the soak starts, `k` at the end of window `k`.
    pub k: usize,
    /// Seconds since the soak started (when the sample was due).
    pub t_s: f64,
    /// The process.
    pub process: String,
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: u64,
}

/// One window between two samples.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// 1-based; window `k` ends at sample `k`.
    pub k: usize,
    /// Start, seconds since the soak started.
    pub start_s: f64,
    /// End.
    pub end_s: f64,
    /// Requests due in the window.
    pub requests: usize,
    /// Requests that signed within the window, whenever they were due: the cluster's
    /// throughput there is `completed / (end_s - start_s)`.
    pub completed: usize,
    /// Those that failed.
    pub errors: usize,
    /// Share of the successful ones served from the presignature pool.
    pub presigned_fraction: f64,
    /// Median latency of the successful ones, ms (from the moment each was due).
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// A process over the whole soak.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessSummary {
    /// `coordinator` or the signer's name.
    pub name: String,
    /// Process id.
    pub pid: u32,
    /// Samples taken.
    pub samples: usize,
    /// Whether a sample could not be read (the process exited).
    pub exited: bool,
    /// RSS when the soak started, KiB.
    pub rss_start_kib: Option<u64>,
    /// RSS at the end of the warm-up window, KiB.
    pub rss_warm_kib: Option<u64>,
    /// RSS at the last sample, KiB.
    pub rss_last_kib: Option<u64>,
    /// Least-squares slope of RSS after the warm-up, KiB per minute.
    pub rss_slope_kib_per_min: Option<f64>,
    /// Open descriptors when the soak started.
    pub fds_start: Option<u64>,
    /// At the last sample.
    pub fds_last: Option<u64>,
    /// Least-squares slope of the descriptor count after the warm-up, per minute.
    pub fd_slope_per_min: Option<f64>,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    /// Scheme of the wallet.
    pub scheme: String,
    /// The wallet signed with.
    pub wallet: String,
    /// Requests in flight during the calibration.
    pub concurrency: usize,
    /// The calibration: closed-loop load at `concurrency`.
    pub calibration: SignRow,
    /// Share of the calibrated throughput asked for.
    pub fraction: f64,
    /// Requests per second asked for.
    pub target_rate_per_s: f64,
    /// Successful requests per second, over the soak and its drain.
    pub achieved_rate_per_s: f64,
    /// Length of the soak, s.
    pub duration_s: f64,
    /// Interval between samples, s.
    pub sample_s: f64,
    /// Most requests outstanding.
    pub max_in_flight: usize,
    /// Requests due.
    pub requests: usize,
    /// Requests that failed (or did not finish).
    pub errors: usize,
    /// Errors by kind.
    pub error_kinds: BTreeMap<String, usize>,
    /// The first few error messages as they came.
    pub first_errors: Vec<String>,
    /// Share of the successful requests served from the presignature pool.
    pub presigned_fraction: f64,
    /// Latency over the whole soak, ms.
    pub p50_ms: f64,
    /// 99th percentile over the whole soak, ms.
    pub p99_ms: f64,
    /// 99th percentile of the requests due in the first third of the soak, ms.
    pub p99_first_third_ms: f64,
    /// In the last third, ms.
    pub p99_last_third_ms: f64,
    /// Most a request was sent after it was due (no free slot or a busy client), ms.
    pub max_send_lag_ms: f64,
    /// Per window.
    pub windows: Vec<Window>,
    /// Every sample.
    pub samples: Vec<Sample>,
    /// Per process.
    pub processes: Vec<ProcessSummary>,
    /// No failed request, the rate reached, every process alive.
    pub passed: bool,
    /// Why not.
    pub failures: Vec<String>,
}

// ------------------------------------------------------------------ pure parts

/// Least-squares slope of `y` over `x`; `None` with fewer than two distinct `x`.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= f64::EPSILON * n {
        return None;
    }
    Some(sxy / sxx)
}

/// `VmRSS` of a `/proc/<pid>/status` text, KiB.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value),
        _ => None,
    }
}

/// The value of `--dir` in a `/proc/<pid>/cmdline` (NUL-separated arguments), either form
/// (`--dir X` or `--dir=X`).
pub fn dir_arg(cmdline: &[u8]) -> Option<PathBuf> {
    let mut args = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned());
    while let Some(a) = args.next() {
        if a == "--dir" {
            // The text ends with a NUL: a missing value reads as an empty one.
            return args.next().filter(|v| !v.is_empty()).map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--dir=") {
            return Some(PathBuf::from(v));
        }
    }
    None
}

/// When request `i` of a schedule at `rate` per second is due, after the start.
pub fn due_at(i: u64, rate: f64) -> Duration {
    Duration::from_secs_f64(i as f64 / rate)
}

/// How many requests of a schedule at `rate` per second are due within `duration`.
pub fn requests_due(duration: Duration, rate: f64) -> u64 {
    let n = duration.as_secs_f64() * rate;
    // A product that is an integer up to rounding: the request at exactly `duration` is not in.
    (n - 1e-9).ceil().max(0.0) as u64
}

/// When samples are due: at the start, every `sample`, and at `duration` (the last window is
/// shorter when `duration` is not a multiple of `sample`).
pub fn sample_times(duration: Duration, sample: Duration) -> Vec<Duration> {
    let mut out = vec![Duration::ZERO];
    if sample.is_zero() {
        out.push(duration);
        return out;
    }
    let mut t = sample;
    while t < duration {
        out.push(t);
        t += sample;
    }
    if duration > Duration::ZERO {
        out.push(duration);
    }
    out
}

/// The window (0-based) a request due `t` seconds after the start falls in, given the sample
/// times.
fn window_of(t: f64, times: &[Duration]) -> usize {
    let windows = times.len().saturating_sub(1).max(1);
    times[1..]
        .iter()
        .position(|end| t < end.as_secs_f64())
        .unwrap_or(windows - 1)
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

// ------------------------------------------------------------------ /proc

/// Resident memory (KiB) and open descriptors of `pid`.
pub fn read_process(pid: u32) -> std::io::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = parse_vm_rss_kib(&status).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("no VmRSS in /proc/{pid}/status"),
        )
    })?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
    Ok((rss, fds))
}

/// The coordinator and signer processes of the `tessera up` cluster in `dir`, found by their
/// `--dir` argument in `/proc/*/cmdline` (only processes of this machine and user are seen).
pub fn find_processes(dir: &Path, file: &ClusterFile) -> Result<Vec<Process>> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    let mut wanted: Vec<(String, PathBuf)> = vec![("coordinator".into(), dir.join("coordinator"))];
    wanted.extend(file.signers.iter().map(|s| (s.name.clone(), s.dir.clone())));
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let Some(d) = dir_arg(&cmdline) else {
            continue;
        };
        if let Some((name, _)) = wanted.iter().find(|(_, w)| *w == d) {
            found.push(Process {
                name: name.clone(),
                pid,
            });
        }
    }
    found.sort_by_key(|p| wanted.iter().position(|(n, _)| *n == p.name));
    Ok(found)
}

// ------------------------------------------------------------------ the run

/// One request of the soak.
#[derive(Debug, Clone)]
struct Outcome {
    /// Its place in the schedule.
    i: u64,
    /// When it was due, s after the start.
    due_s: f64,
    /// When it finished, s after the start.
    done_s: f64,
    /// From due to finished, ms.
    latency_ms: f64,
    presigned: bool,
    /// `None` when it signed; else (kind, message).
    error: Option<(String, String)>,
}

/// Runs the soak: starts a local cluster (or loads `opts.cluster_dir` and finds its processes
/// in `/proc`), then [`soak`].
pub async fn run(opts: SoakOptions, mut progress: impl FnMut(&str)) -> Result<SoakReport> {
    let (cluster, file) =
        benchsign::open_cluster(opts.cluster_dir.as_deref(), "soak", &mut progress).await?;
    let processes = match (&cluster, &opts.cluster_dir) {
        (Some(c), _) => c
            .processes()
            .into_iter()
            .map(|(name, pid)| Process { name, pid })
            .collect(),
        (None, Some(d)) => {
            let found = find_processes(d, &file)?;
            if found.is_empty() {
                progress(
                    "no coordinator or signer process of this cluster found on this machine: \
                     memory and descriptors are not sampled",
                );
            }
            found
        }
        (None, None) => Vec::new(),
    };
    soak(&file, &processes, &opts, progress).await
}

/// The soak against the cluster of `file`, sampling `processes`.
pub async fn soak(
    file: &ClusterFile,
    processes: &[Process],
    opts: &SoakOptions,
    mut progress: impl FnMut(&str),
) -> Result<SoakReport> {
    if !(opts.fraction > 0.0 && opts.fraction.is_finite()) {
        bail!("the fraction must be above 0 (got {})", opts.fraction);
    }
    if opts.duration.is_zero() || opts.calibrate.is_zero() || opts.sample.is_zero() {
        bail!("the duration, calibration and sample interval must be above 0");
    }
    let s = opts.scheme;
    let client = file.client()?;
    let operator = Arc::new(file.operator()?);
    let signers = benchsign::first_three_signers(file)?;
    let wallet = benchsign::ready_wallet(&client, &operator, s, &signers, &mut progress).await?;
    let path = "m";
    if s.has_presignatures() {
        progress(&format!("{}: waiting for the presignature pool…", s.name()));
        benchsign::wait_pool(&client, &wallet, 4, Duration::from_secs(120)).await?;
    }

    // 1. Calibration.
    let warmup = (opts.calibrate / 4).min(Duration::from_secs(5));
    let closed = |duration| SignBenchOptions {
        schemes: vec![s],
        concurrency: opts.concurrency.max(1),
        duration,
        cluster_dir: None,
        skip_raw: true,
    };
    progress(&format!(
        "calibrating: {} s warm-up, then {} s closed-loop at {} in flight…",
        warmup.as_secs_f64(),
        opts.calibrate.as_secs_f64(),
        opts.concurrency.max(1)
    ));
    benchsign::load(&client, &operator, s, &wallet, path, &closed(warmup)).await;
    let mut calibration = benchsign::load(
        &client,
        &operator,
        s,
        &wallet,
        path,
        &closed(opts.calibrate),
    )
    .await;
    calibration.path = "calibration".into();
    if calibration.requests == 0 || calibration.throughput_per_s <= 0.0 {
        bail!(
            "the calibration completed no request ({} errors): the cluster does not sign",
            calibration.errors
        );
    }
    let rate = calibration.throughput_per_s * opts.fraction;
    progress(&format!(
        "maximum {:.1} sig/s ({} errors); soaking at {:.1} sig/s for {} s",
        calibration.throughput_per_s,
        calibration.errors,
        rate,
        opts.duration.as_secs_f64()
    ));
    if s.has_presignatures() {
        benchsign::wait_pool(&client, &wallet, 16, Duration::from_secs(60)).await?;
    }

    // 2. and 3. Paced load and samples.
    let times = sample_times(opts.duration, opts.sample);
    let t0 = tokio::time::Instant::now();
    let sampler = tokio::spawn(sample_loop(processes.to_vec(), times.clone(), t0));
    let (outcomes, max_lag) = paced(
        &client,
        &operator,
        s,
        &wallet,
        path,
        rate,
        opts,
        t0,
        &times,
        &mut progress,
    )
    .await;
    let (samples, exited) = sampler.await.context("the sampler stopped")?;

    Ok(report(Run {
        opts,
        wallet,
        calibration,
        rate,
        times: &times,
        processes,
        outcomes,
        max_lag,
        samples,
        exited,
    }))
}

/// Takes a sample of every process at each of `times` after `t0`; returns the samples and the
/// processes that could not be read (name, sample number, why).
async fn sample_loop(
    processes: Vec<Process>,
    times: Vec<Duration>,
    t0: tokio::time::Instant,
) -> (Vec<Sample>, Vec<(String, usize, String)>) {
    let mut samples = Vec::new();
    let mut exited: Vec<(String, usize, String)> = Vec::new();
    for (k, t) in times.iter().enumerate() {
        tokio::time::sleep_until(t0 + *t).await;
        for p in &processes {
            if exited.iter().any(|(n, _, _)| *n == p.name) {
                continue;
            }
            match read_process(p.pid) {
                Ok((rss_kib, fds)) => samples.push(Sample {
                    k,
                    t_s: t.as_secs_f64(),
                    process: p.name.clone(),
                    rss_kib,
                    fds,
                }),
                Err(e) => exited.push((p.name.clone(), k, e.to_string())),
            }
        }
    }
    (samples, exited)
}

/// Sends the schedule's requests, each at its due time (or as soon as a slot is free), and
/// waits for them; returns every outcome and the largest send lag.
#[allow(clippy::too_many_arguments)]
async fn paced(
    client: &Client,
    operator: &Arc<OperatorKey>,
    s: SchemeId,
    wallet: &str,
    path: &str,
    rate: f64,
    opts: &SoakOptions,
    t0: tokio::time::Instant,
    times: &[Duration],
    progress: &mut impl FnMut(&str),
) -> (Vec<Outcome>, Duration) {
    let n = requests_due(opts.duration, rate);
    let slots = opts.max_in_flight.max(1);
    let sem = Arc::new(tokio::sync::Semaphore::new(slots));
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::with_capacity(n as usize)));
    let mut max_lag = Duration::ZERO;
    let mut window = 0usize;
    let mut sent = 0u64;
    let stop_sending = t0 + opts.duration + opts.grace;
    for i in 0..n {
        let due = due_at(i, rate);
        let w = window_of(due.as_secs_f64(), times);
        if w != window {
            window = w;
            let done = outcomes.lock().unwrap_or_else(|e| e.into_inner());
            let errors = done.iter().filter(|o| o.error.is_some()).count();
            progress(&format!(
                "due {:>4.0} s, now {:>4.0} s: {i} sent, {} signed, {} in flight, {errors} \
                 errors",
                due.as_secs_f64(),
                t0.elapsed().as_secs_f64(),
                done.len() - errors,
                slots - sem.available_permits()
            ));
        }
        let at = t0 + due;
        tokio::time::sleep_until(at).await;
        let Ok(Ok(permit)) =
            tokio::time::timeout_at(stop_sending, sem.clone().acquire_owned()).await
        else {
            progress(&format!(
                "{} requests not sent: the cluster is more than {} s behind the schedule",
                n - i,
                opts.grace.as_secs()
            ));
            break;
        };
        sent = i + 1;
        max_lag = max_lag.max(at.elapsed());
        let (client, operator, outcomes) = (client.clone(), operator.clone(), outcomes.clone());
        let (wallet, path) = (wallet.to_string(), path.to_string());
        tokio::spawn(async move {
            let result = one(&client, &operator, s, &wallet, &path, (1 << 32) + i).await;
            let now = tokio::time::Instant::now();
            let (presigned, error) = match result {
                Ok(presigned) => (presigned, None),
                Err(e) => (false, Some(e)),
            };
            outcomes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Outcome {
                    i,
                    due_s: due.as_secs_f64(),
                    done_s: (now - t0).as_secs_f64(),
                    latency_ms: (now - at).as_secs_f64() * 1000.0,
                    presigned,
                    error,
                });
            drop(permit);
        });
    }
    // Drain: every slot back, or give up on the stragglers after the grace period.
    let _ = tokio::time::timeout(
        opts.grace,
        sem.acquire_many(u32::try_from(slots).unwrap_or(u32::MAX)),
    )
    .await;
    let mut done = outcomes.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut finished = vec![false; n as usize];
    for o in &done {
        finished[o.i as usize] = true;
    }
    let end = (tokio::time::Instant::now() - t0).as_secs_f64();
    for i in (0..n).filter(|i| !finished[*i as usize]) {
        done.push(Outcome {
            i,
            due_s: due_at(i, rate).as_secs_f64(),
            done_s: end,
            latency_ms: f64::NAN,
            presigned: false,
            error: Some(if i < sent {
                (
                    "unfinished".into(),
                    format!(
                        "no answer within {} s of the last send",
                        opts.grace.as_secs()
                    ),
                )
            } else {
                (
                    "not sent".into(),
                    format!(
                        "the cluster was more than {} s behind the schedule",
                        opts.grace.as_secs()
                    ),
                )
            }),
        });
    }
    (done, max_lag)
}

/// One signing request; `Ok(presigned)` when it signed, else (kind, message).
async fn one(
    client: &Client,
    operator: &OperatorKey,
    s: SchemeId,
    wallet: &str,
    path: &str,
    i: u64,
) -> std::result::Result<bool, (String, String)> {
    let m = benchsign::message(s, i).map_err(|e| ("message".to_string(), format!("{e:#}")))?;
    let req = Client::sign_request(operator, wallet, path, &m)
        .map_err(|e| ("request".to_string(), e.to_string()))?;
    match client.submit(wallet, &req, true).await {
        Ok(session) if session.signature.is_some() => {
            Ok(session.sign_path == Some(SignPath::Presigned))
        }
        Ok(session) => Err(match session.error {
            Some(e) => (format!("session {:?}", e.code), e.message),
            None => (
                format!("session {:?}", session.status),
                "no signature".to_string(),
            ),
        }),
        Err(e) => {
            let kind = match &e {
                tessera_client::ClientError::Api { status, code, .. } => format!("{status} {code}"),
                tessera_client::ClientError::Transport(_) => "transport".to_string(),
                _ => "client".to_string(),
            };
            Err((kind, e.to_string()))
        }
    }
}

struct Run<'a> {
    opts: &'a SoakOptions,
    wallet: String,
    calibration: SignRow,
    rate: f64,
    times: &'a [Duration],
    processes: &'a [Process],
    outcomes: Vec<Outcome>,
    max_lag: Duration,
    samples: Vec<Sample>,
    exited: Vec<(String, usize, String)>,
}

fn latencies<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Vec<f64> {
    sorted(
        outcomes
            .filter(|o| o.error.is_none())
            .map(|o| o.latency_ms)
            .collect(),
    )
}

fn presigned_share(outcomes: &[&Outcome]) -> f64 {
    let ok = outcomes.iter().filter(|o| o.error.is_none()).count();
    if ok == 0 {
        return 0.0;
    }
    outcomes.iter().filter(|o| o.presigned).count() as f64 / ok as f64
}

fn report(r: Run<'_>) -> SoakReport {
    let pct = benchsign::pct;
    let duration = r.opts.duration.as_secs_f64();
    let windows: Vec<Window> = r
        .times
        .windows(2)
        .enumerate()
        .map(|(w, pair)| {
            let due: Vec<&Outcome> = r
                .outcomes
                .iter()
                .filter(|o| window_of(o.due_s, r.times) == w)
                .collect();
            let lat = latencies(due.iter().copied());
            let (start, end) = (pair[0].as_secs_f64(), pair[1].as_secs_f64());
            Window {
                k: w + 1,
                start_s: pair[0].as_secs_f64(),
                end_s: pair[1].as_secs_f64(),
                requests: due.len(),
                completed: r
                    .outcomes
                    .iter()
                    .filter(|o| o.error.is_none() && o.done_s >= start && o.done_s < end)
                    .count(),
                errors: due.iter().filter(|o| o.error.is_some()).count(),
                presigned_fraction: presigned_share(&due),
                p50_ms: pct(&lat, 0.50),
                p99_ms: pct(&lat, 0.99),
            }
        })
        .collect();

    let mut error_kinds = BTreeMap::new();
    let mut first_errors = Vec::new();
    for (kind, message) in r.outcomes.iter().filter_map(|o| o.error.as_ref()) {
        *error_kinds.entry(kind.clone()).or_insert(0usize) += 1;
        if first_errors.len() < 5 {
            first_errors.push(format!("{kind}: {message}"));
        }
    }
    let errors: usize = error_kinds.values().sum();
    let ok = r.outcomes.len() - errors;
    let last_done = r
        .outcomes
        .iter()
        .filter(|o| o.error.is_none())
        .map(|o| o.done_s)
        .fold(duration, f64::max);
    let achieved = ok as f64 / last_done;
    let all = latencies(r.outcomes.iter());
    let first = latencies(r.outcomes.iter().filter(|o| o.due_s < duration / 3.0));
    let last = latencies(
        r.outcomes
            .iter()
            .filter(|o| o.due_s >= duration * 2.0 / 3.0),
    );
    let refs: Vec<&Outcome> = r.outcomes.iter().collect();

    // Slopes from the end of the warm-up window (sample 1) on, in minutes.
    let processes: Vec<ProcessSummary> = r
        .processes
        .iter()
        .map(|p| {
            let mine: Vec<&Sample> = r.samples.iter().filter(|x| x.process == p.name).collect();
            let after: Vec<&Sample> = mine.iter().copied().filter(|x| x.k >= 1).collect();
            let line = |f: fn(&Sample) -> u64| {
                let points: Vec<(f64, f64)> =
                    after.iter().map(|x| (x.t_s / 60.0, f(x) as f64)).collect();
                slope(&points)
            };
            ProcessSummary {
                name: p.name.clone(),
                pid: p.pid,
                samples: mine.len(),
                exited: r.exited.iter().any(|(n, _, _)| *n == p.name),
                rss_start_kib: mine.iter().find(|x| x.k == 0).map(|x| x.rss_kib),
                rss_warm_kib: mine.iter().find(|x| x.k == 1).map(|x| x.rss_kib),
                rss_last_kib: mine.last().map(|x| x.rss_kib),
                rss_slope_kib_per_min: line(|x| x.rss_kib),
                fds_start: mine.iter().find(|x| x.k == 0).map(|x| x.fds),
                fds_last: mine.last().map(|x| x.fds),
                fd_slope_per_min: line(|x| x.fds),
            }
        })
        .collect();

    let mut failures = Vec::new();
    if errors > 0 {
        failures.push(format!("{errors} of {} requests failed", r.outcomes.len()));
    }
    if achieved < r.opts.min_rate_ratio * r.rate {
        failures.push(format!(
            "achieved {achieved:.2} sig/s, below {:.0} % of the target {:.2}",
            r.opts.min_rate_ratio * 100.0,
            r.rate
        ));
    }
    for (name, k, why) in &r.exited {
        failures.push(format!("{name} could not be sampled at sample {k}: {why}"));
    }
    SoakReport {
        scheme: r.opts.scheme.name().to_string(),
        wallet: r.wallet,
        concurrency: r.opts.concurrency.max(1),
        calibration: r.calibration,
        fraction: r.opts.fraction,
        target_rate_per_s: r.rate,
        achieved_rate_per_s: achieved,
        duration_s: duration,
        sample_s: r.opts.sample.as_secs_f64(),
        max_in_flight: r.opts.max_in_flight,
        requests: r.outcomes.len(),
        errors,
        error_kinds,
        first_errors,
        presigned_fraction: presigned_share(&refs),
        p50_ms: pct(&all, 0.50),
        p99_ms: pct(&all, 0.99),
        p99_first_third_ms: pct(&first, 0.99),
        p99_last_third_ms: pct(&last, 0.99),
        max_send_lag_ms: r.max_lag.as_secs_f64() * 1000.0,
        windows,
        samples: r.samples,
        processes,
        passed: failures.is_empty(),
        failures,
    }
}

// ------------------------------------------------------------------ output

fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1}", k as f64 / 1024.0))
        .unwrap_or_else(|| "-".into())
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

fn signed(v: Option<f64>) -> String {
    v.map(|x| format!("{x:+.1}")).unwrap_or_else(|| "-".into())
}

/// The per-window table, the per-process summary and the totals.
pub fn render(r: &SoakReport) -> String {
    let names: Vec<&str> = r.processes.iter().map(|p| p.name.as_str()).collect();
    let mut out = format!(
        "{:>3} {:>7} {:>6} {:>7} {:>4} {:>6} {:>8} {:>8}",
        "win", "end s", "req", "sig/s", "err", "pool%", "p50 ms", "p99 ms"
    );
    for n in &names {
        out.push_str(&format!(" {:>16}", format!("{n} MiB/fd")));
    }
    out.push('\n');
    for w in &r.windows {
        out.push_str(&format!(
            "{:>3} {:>7.0} {:>6} {:>7.1} {:>4} {:>6.0} {:>8.1} {:>8.1}",
            w.k,
            w.end_s,
            w.requests,
            w.completed as f64 / (w.end_s - w.start_s),
            w.errors,
            w.presigned_fraction * 100.0,
            w.p50_ms,
            w.p99_ms
        ));
        for n in &names {
            let cell = r
                .samples
                .iter()
                .find(|x| x.k == w.k && x.process == *n)
                .map(|x| format!("{:.1}/{}", x.rss_kib as f64 / 1024.0, x.fds))
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(" {cell:>16}"));
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&format!(
        "{:<14} {:>8} {:>4} {:>9} {:>9} {:>9} {:>13} {:>6} {:>6} {:>10}\n",
        "process",
        "pid",
        "n",
        "RSS0 MiB",
        "RSSw MiB",
        "RSS1 MiB",
        "RSS KiB/min",
        "fd0",
        "fd1",
        "fd/min"
    ));
    for p in &r.processes {
        out.push_str(&format!(
            "{:<14} {:>8} {:>4} {:>9} {:>9} {:>9} {:>13} {:>6} {:>6} {:>10}{}\n",
            p.name,
            p.pid,
            p.samples,
            mib(p.rss_start_kib),
            mib(p.rss_warm_kib),
            mib(p.rss_last_kib),
            signed(p.rss_slope_kib_per_min),
            opt(p.fds_start),
            opt(p.fds_last),
            signed(p.fd_slope_per_min),
            if p.exited { "  EXITED" } else { "" }
        ));
    }
    out.push_str(&format!(
        "\n{}: calibrated {:.1} sig/s at {} in flight ({} requests, {} errors, pool {:.0} %, \
         p99 {:.1} ms)\n",
        r.scheme,
        r.calibration.throughput_per_s,
        r.concurrency,
        r.calibration.requests,
        r.calibration.errors,
        r.calibration.presigned_fraction * 100.0,
        r.calibration.p99_ms
    ));
    out.push_str(&format!(
        "soak {:.0} s at {:.0} %: target {:.2} sig/s, achieved {:.2} sig/s ({:.1} %), {} \
         requests, {} errors, pool {:.0} %\n",
        r.duration_s,
        r.fraction * 100.0,
        r.target_rate_per_s,
        r.achieved_rate_per_s,
        100.0 * r.achieved_rate_per_s / r.target_rate_per_s,
        r.requests,
        r.errors,
        r.presigned_fraction * 100.0
    ));
    out.push_str(&format!(
        "latency from due time: p50 {:.1} ms, p99 {:.1} ms; p99 first third {:.1} ms, last \
         third {:.1} ms; max send lag {:.1} ms\n",
        r.p50_ms, r.p99_ms, r.p99_first_third_ms, r.p99_last_third_ms, r.max_send_lag_ms
    ));
    out.push_str(&format!(
        "slopes: least squares over the samples from {:.0} s on (the first window is warm-up)\n",
        r.sample_s.min(r.duration_s)
    ));
    for (kind, n) in &r.error_kinds {
        out.push_str(&format!("errors {kind}: {n}\n"));
    }
    for e in &r.first_errors {
        out.push_str(&format!("  e.g. {e}\n"));
    }
    out.push_str(&if r.passed {
        "PASS\n".to_string()
    } else {
        format!("FAIL: {}\n", r.failures.join("; "))
    });
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn slope_is_the_least_squares_line() {
        // y = 3x + 2 exactly.
        let pts: Vec<(f64, f64)> = (0..10).map(|x| (x as f64, 3.0 * x as f64 + 2.0)).collect();
        assert!((slope(&pts).unwrap() - 3.0).abs() < 1e-9);
        // Flat with noise around it: slope 0 by symmetry.
        let pts = [(0.0, 5.0), (1.0, 7.0), (2.0, 5.0), (3.0, 7.0), (4.0, 5.0)];
        assert!(slope(&pts).unwrap().abs() < 0.5);
        // A known case: (0,1), (1,3), (2,2) gives 0.5.
        assert!((slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)]).unwrap() - 0.5).abs() < 1e-12);
        // Too few points or a single x: no slope.
        assert_eq!(slope(&[]), None);
        assert_eq!(slope(&[(1.0, 1.0)]), None);
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 5.0)]), None);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let pct = benchsign::pct;
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(pct(&v, 0.50), 50.0);
        assert_eq!(pct(&v, 0.99), 99.0);
        assert_eq!(pct(&v, 1.0), 100.0);
        assert_eq!(pct(&v, 0.0), 1.0);
        assert_eq!(pct(&[7.0], 0.99), 7.0);
        assert!(pct(&[], 0.5).is_nan());
        // Ten values: p99 is the largest, p50 the fifth.
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(pct(&v, 0.99), 10.0);
        assert_eq!(pct(&v, 0.50), 5.0);
    }

    #[test]
    fn proc_status_and_cmdline_are_parsed() {
        let status =
            "Name:\ttessera\nVmPeak:\t  200000 kB\nVmRSS:\t   45312 kB\nRssAnon:\t 30000 kB\n";
        assert_eq!(parse_vm_rss_kib(status), Some(45312));
        assert_eq!(parse_vm_rss_kib("Name:\tx\n"), None);
        assert_eq!(parse_vm_rss_kib("VmRSS:\tlots kB\n"), None);
        assert_eq!(parse_vm_rss_kib("VmRSS:\t 12 MB\n"), None);
        let cmd = b"/usr/bin/tessera\0signer\0run\0--dir\0/tmp/cl/signer-1\0--key-file\0k\0";
        assert_eq!(dir_arg(cmd), Some(PathBuf::from("/tmp/cl/signer-1")));
        assert_eq!(
            dir_arg(b"tessera\0coordinator\0run\0--dir=/tmp/cl/coordinator\0"),
            Some(PathBuf::from("/tmp/cl/coordinator"))
        );
        assert_eq!(dir_arg(b"tessera\0up\0"), None);
        assert_eq!(dir_arg(b"tessera\0run\0--dir\0"), None);
    }

    #[test]
    fn this_process_reads_its_own_memory_and_descriptors() {
        let (rss, fds) = read_process(std::process::id()).unwrap();
        assert!(rss > 0);
        assert!(fds >= 1);
    }

    #[test]
    fn the_schedule_paces_requests_evenly() {
        assert_eq!(due_at(0, 10.0), Duration::ZERO);
        assert_eq!(due_at(5, 10.0), Duration::from_millis(500));
        assert_eq!(due_at(25, 12.5), Duration::from_secs(2));
        // 20 s at 10/s: requests 0..200, the last due at 19.9 s.
        assert_eq!(requests_due(Duration::from_secs(20), 10.0), 200);
        assert!(due_at(199, 10.0) < Duration::from_secs(20));
        assert_eq!(requests_due(Duration::from_secs(1), 2.5), 3);
        assert_eq!(requests_due(Duration::from_secs(1), 0.3), 1);
        assert_eq!(requests_due(Duration::ZERO, 5.0), 0);
        // Rounding: 0.1 * 30 is not exactly 3.
        assert_eq!(requests_due(Duration::from_secs_f64(0.1), 30.0), 3);
    }

    #[test]
    fn samples_and_windows_cover_the_run() {
        let s = Duration::from_secs;
        assert_eq!(
            sample_times(s(20), s(5)),
            vec![s(0), s(5), s(10), s(15), s(20)]
        );
        assert_eq!(sample_times(s(12), s(5)), vec![s(0), s(5), s(10), s(12)]);
        assert_eq!(sample_times(s(3), s(5)), vec![s(0), s(3)]);
        let times = sample_times(s(20), s(5));
        assert_eq!(window_of(0.0, &times), 0);
        assert_eq!(window_of(4.99, &times), 0);
        assert_eq!(window_of(5.0, &times), 1);
        assert_eq!(window_of(19.9, &times), 3);
        // Past the end (a request given up on at the drain): the last window.
        assert_eq!(window_of(25.0, &times), 3);
    }

    fn outcome(due_s: f64, latency_ms: f64, error: bool) -> Outcome {
        Outcome {
            i: 0,
            due_s,
            done_s: due_s + latency_ms / 1000.0,
            latency_ms,
            presigned: !error,
            error: error.then(|| ("500 internal".to_string(), "boom".to_string())),
        }
    }

    #[test]
    fn the_report_gives_slopes_after_warm_up_and_fails_on_errors() {
        let opts = SoakOptions {
            duration: Duration::from_secs(30),
            sample: Duration::from_secs(10),
            ..SoakOptions::default()
        };
        let times = sample_times(opts.duration, opts.sample);
        let processes = vec![Process {
            name: "coordinator".into(),
            pid: 1,
        }];
        // Warm-up jump 0 -> 10: 100 MiB; then 1 MiB per 10 s = 6144 KiB/min; fds flat at 20.
        let samples: Vec<Sample> = [(0, 1000u64), (1, 102_400), (2, 103_424), (3, 104_448)]
            .into_iter()
            .map(|(k, rss)| Sample {
                k,
                t_s: times[k].as_secs_f64(),
                process: "coordinator".into(),
                rss_kib: rss,
                fds: 20,
            })
            .collect();
        // 10/s for 30 s, 20 ms each, slower (40 ms) in the last third; one error.
        let mut outcomes: Vec<Outcome> = (0..300)
            .map(|i| {
                let t = f64::from(i) / 10.0;
                outcome(t, if t >= 20.0 { 40.0 } else { 20.0 }, false)
            })
            .collect();
        outcomes[150] = outcome(15.0, 1.0, true);
        let calibration = SignRow {
            scheme: "ed25519".into(),
            path: "calibration".into(),
            presigned_fraction: 1.0,
            requests: 250,
            errors: 0,
            p50_ms: 10.0,
            p95_ms: 11.0,
            p99_ms: 12.0,
            throughput_per_s: 12.5,
            raw_ms: None,
            overhead_ratio: None,
        };
        let r = report(Run {
            opts: &opts,
            wallet: "w".into(),
            calibration,
            rate: 10.0,
            times: &times,
            processes: &processes,
            outcomes,
            max_lag: Duration::ZERO,
            samples,
            exited: Vec::new(),
        });
        let p = &r.processes[0];
        assert_eq!(p.samples, 4);
        assert!((p.rss_slope_kib_per_min.unwrap() - 6144.0).abs() < 1e-6);
        assert_eq!(p.fd_slope_per_min, Some(0.0));
        assert_eq!(
            (p.rss_start_kib, p.rss_warm_kib, p.rss_last_kib),
            (Some(1000), Some(102_400), Some(104_448))
        );
        assert_eq!(r.windows.len(), 3);
        assert_eq!(r.windows.iter().map(|w| w.requests).sum::<usize>(), 300);
        assert_eq!(r.windows[1].errors, 1);
        // By completion time: 100 signed in each window but the second (one failed there).
        assert_eq!(
            r.windows.iter().map(|w| w.completed).collect::<Vec<_>>(),
            vec![100, 99, 100]
        );
        assert_eq!(r.p99_first_third_ms, 20.0);
        assert_eq!(r.p99_last_third_ms, 40.0);
        assert_eq!(r.errors, 1);
        assert_eq!(r.error_kinds.get("500 internal"), Some(&1));
        assert!(!r.passed);
        assert!(r.failures[0].contains("1 of 300"), "{:?}", r.failures);
        // 299 successes over 30 s: just under the target of 10/s, within 90 %.
        assert!(r.achieved_rate_per_s > 9.0 && r.achieved_rate_per_s < 10.0);
        assert!(render(&r).contains("FAIL"));
    }
}

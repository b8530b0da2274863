//! `tessera bench lifecycle`: how long each key lifecycle operation takes through a real
//! cluster (signer processes, TLS, sealed envelopes, vault writes, both phases of the commit),
//! per scheme, for 2-of-3 and 3-of-5, next to the raw in-process refresh protocol (all parties
//! in one process, `tessera bench crypto`) measured in the same run.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use tessera_crypto::SchemeId;
use tessera_proto::api::WalletStatus;

use crate::cluster::{ClusterFile, ClusterOptions, LocalCluster};
use crate::reshare::Change;

/// Options.
#[derive(Debug, Clone)]
pub struct LifecycleOptions {
    /// Schemes to measure.
    pub schemes: Vec<SchemeId>,
    /// Refreshes per wallet and group (the median is reported).
    pub iterations: usize,
    /// Skip the in-process raw figures.
    pub skip_raw: bool,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct LifecycleRow {
    /// Scheme name.
    pub scheme: String,
    /// `2-of-3`, `3-of-5`, or `2-of-3 -> 3-of-5`.
    pub group: String,
    /// `refresh`, `replace-signer`, `reshare`, `quarantine` or `incident-rotate`.
    pub op: String,
    /// Operations timed.
    pub samples: usize,
    /// Median from the request to the commit at every holder, ms.
    pub median_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
    /// Raw in-process refresh protocol median for the same scheme and group, ms.
    pub raw_ms: Option<f64>,
    /// median / raw.
    pub overhead_ratio: Option<f64>,
}

fn row(
    scheme: SchemeId,
    group: &str,
    op: &str,
    mut ms: Vec<f64>,
    raw: Option<f64>,
) -> LifecycleRow {
    ms.sort_by(f64::total_cmp);
    let median_ms = ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN);
    LifecycleRow {
        scheme: scheme.name().into(),
        group: group.into(),
        op: op.into(),
        samples: ms.len(),
        median_ms,
        max_ms: ms.last().copied().unwrap_or(f64::NAN),
        raw_ms: raw,
        overhead_ratio: raw.map(|r| median_ms / r),
    }
}

/// Runs the benchmark on a fresh local cluster of five signers (fresh Paillier primes: the
/// cggmp24 rows include aux-info generation for each new signer group).
pub async fn run(
    opts: LifecycleOptions,
    mut progress: impl FnMut(&str),
) -> Result<Vec<LifecycleRow>> {
    let raw = if opts.skip_raw {
        Vec::new()
    } else {
        progress("measuring the raw in-process refresh (2-of-3, 3-of-5)…");
        let o = tessera_bench::Options {
            iterations: 10,
            slow_iterations: 3,
            groups: vec![(2, 3), (3, 5)],
            schemes: opts.schemes.clone(),
        };
        let mut p = |s: &str| progress(s);
        tokio::task::block_in_place(|| tessera_bench::run_crypto(&o, &mut p)).rows
    };
    let raw_for = |s: SchemeId, group: &str| {
        raw.iter()
            .find(|r| r.scheme == s.name() && r.group == group && r.op.starts_with("refresh"))
            .map(|r| r.median_ms)
    };
    let dir = std::env::temp_dir().join(format!("tessera-bench-lc-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    progress("starting a local cluster (coordinator + 5 signers)…");
    let opts_cluster = ClusterOptions {
        signers: 5,
        ..Default::default()
    };
    let cluster = LocalCluster::start(&dir, opts_cluster).await?;
    let f = cluster.file.clone();
    let mut rows = Vec::new();
    for &s in &opts.schemes {
        progress(&format!("{}: 2-of-3 wallet…", s.name()));
        let id = new_wallet(&f, s).await?;
        let small = timed(&f, &id, &Change::Refresh, opts.iterations).await?;
        rows.push(row(s, "2-of-3", "refresh", small, raw_for(s, "2-of-3")));
        progress(&format!("{}: replace a signer…", s.name()));
        let names: Vec<String> = f.signers.iter().map(|x| x.name.clone()).collect();
        let replace = Change::ReplaceSigner {
            old: names[2].clone(),
            new: names[3].clone(),
        };
        let one = timed(&f, &id, &replace, 1).await?;
        rows.push(row(s, "2-of-3", "replace-signer", one, None));
        progress(&format!("{}: reshare to 3-of-5…", s.name()));
        let grow = Change::Reshare {
            threshold: 3,
            signers: names,
        };
        let one = timed(&f, &id, &grow, 1).await?;
        rows.push(row(s, "2-of-3 -> 3-of-5", "reshare", one, None));
        let big = timed(&f, &id, &Change::Refresh, opts.iterations).await?;
        rows.push(row(s, "3-of-5", "refresh", big, raw_for(s, "3-of-5")));
        progress(&format!("{}: import single-sig keys…", s.name()));
        for (t, n, group) in [(2, 3, "2-of-3"), (3, 5, "3-of-5")] {
            let times = imports(&f, s, (t, n), opts.iterations.min(3)).await?;
            rows.push(row(s, group, "import", times, None));
        }
    }
    rows.extend(incident(&f, &opts.schemes, &mut progress).await?);
    Ok(rows)
}

/// An incident: one fresh 2-of-3 wallet per scheme, the second signer quarantined (the
/// admin-signed bundle pushed), then rotated away in every wallet (its place to the fifth);
/// one row for the quarantine and one per scheme for its wallet's rotation.
async fn incident(
    f: &ClusterFile,
    schemes: &[SchemeId],
    progress: &mut impl FnMut(&str),
) -> Result<Vec<LifecycleRow>> {
    let names: Vec<String> = f.signers.iter().map(|x| x.name.clone()).collect();
    let mut ids = Vec::new();
    for &s in schemes {
        progress(&format!("{}: wallet for the incident…", s.name()));
        ids.push((s, new_wallet(f, s).await?));
    }
    progress("incident: quarantine a signer, rotate every wallet away from it…");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let t0 = Instant::now();
    crate::incident::quarantine(f, &names[1], false, &[f.admin()?], now).await?;
    let quarantine_ms = t0.elapsed().as_secs_f64() * 1e3;
    let (rotated, _) = crate::incident::rotate(f, &names[1], Some(&names[4]), |_| {}).await?;
    let mut rows = vec![LifecycleRow {
        scheme: "all".into(),
        ..row(
            SchemeId::Ed25519,
            "-",
            "quarantine",
            vec![quarantine_ms],
            None,
        )
    }];
    for (s, id) in ids {
        let r = rotated
            .iter()
            .find(|r| r.wallet_id == id)
            .with_context(|| format!("{id} was not rotated"))?;
        if let Err(e) = &r.result {
            bail!("{id}: rotation failed: {e}");
        }
        let ms = r.elapsed.as_secs_f64() * 1e3;
        rows.push(row(s, "2-of-3", "incident-rotate", vec![ms], None));
    }
    Ok(rows)
}

/// A 2-of-3 wallet on the first three signers, once its key exists.
async fn new_wallet(f: &ClusterFile, s: SchemeId) -> Result<String> {
    let client = f.client()?;
    let id = format!(
        "bench-lc-{}-{}",
        s.name().replace(['/', '-'], "_"),
        &tessera_client::random_id()[..8]
    );
    let signers = f.signers.iter().take(3).map(|x| x.node_id).collect();
    let op = f.operator()?;
    client
        .create_wallet(&op, &id, &id, s, 2, signers, crate::tx::DEMO_NETWORKS)
        .await?;
    let t0 = Instant::now();
    loop {
        match client.wallet(&id).await?.status {
            WalletStatus::Ready => return Ok(id),
            WalletStatus::Failed | WalletStatus::Retired => {
                bail!("{}: key generation failed", s.name())
            }
            WalletStatus::Creating if t0.elapsed() > Duration::from_secs(1800) => {
                bail!("{}: key generation timed out", s.name())
            }
            WalletStatus::Creating => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// `runs` imports of a fresh random key as `t`-of-`n` wallets of `s` on the first `n`
/// signers, each timed from reading the key to the wallet ready and vouched for, ms.
async fn imports(
    f: &ClusterFile,
    s: SchemeId,
    (t, n): (u16, usize),
    runs: usize,
) -> Result<Vec<f64>> {
    use crate::import_key::{parse_key, KeyFormat};
    let signers: Vec<_> = f.signers.iter().take(n).map(|x| x.node_id).collect();
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, seed.as_mut());
        let text = zeroize::Zeroizing::new(hex::encode(*seed));
        let t0 = Instant::now();
        let key = parse_key(
            crate::import::curve_of(s),
            KeyFormat::Hex,
            &text,
            None,
            None,
        )?;
        let spec = crate::import::ImportSpec {
            wallet_id: format!("bench-imp-{}", &tessera_client::random_id()[..12]),
            scheme: s,
            threshold: t,
            signers: signers.clone(),
            networks: crate::tx::DEMO_NETWORKS
                .iter()
                .map(|x| x.to_string())
                .collect(),
        };
        crate::import::run(f, spec, key).await?;
        out.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    Ok(out)
}

/// `n` runs of `change`, each timed from the request to the commit at every holder, ms.
async fn timed(f: &ClusterFile, id: &str, change: &Change, n: usize) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let (_, elapsed) = crate::reshare::run(f, id, change, true).await?;
        out.push(elapsed.as_secs_f64() * 1e3);
    }
    Ok(out)
}

/// The report as a table.
pub fn render(rows: &[LifecycleRow]) -> String {
    let mut out = format!(
        "{:<26} {:<18} {:<15} {:>7} {:>11} {:>10} {:>10} {:>9}\n",
        "scheme", "group", "operation", "samples", "median ms", "max ms", "raw ms", "ratio"
    );
    let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |x| format!("{x:.p$}"));
    for r in rows {
        out.push_str(&format!(
            "{:<26} {:<18} {:<15} {:>7} {:>11.1} {:>10.1} {:>10} {:>9}\n",
            r.scheme,
            r.group,
            r.op,
            r.samples,
            r.median_ms,
            r.max_ms,
            opt(r.raw_ms, 1),
            opt(r.overhead_ratio, 1)
        ));
    }
    out.push_str(
        "median/max: from the API request to the commit at every holder, through signer \
         processes over TLS; raw: the refresh protocol with all parties in one process.\n",
    );
    out
}

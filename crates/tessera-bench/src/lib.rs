//! `tessera bench crypto`: medians and p95 of every threshold operation, next to single-sig
//! baselines measured in the same run.
//!
//! All parties of a protocol run in one process on one thread ([`tessera_crypto::sim`]), so
//! the figures are the *summed CPU time of all parties*, without network latency — an upper bound
//! on per-party CPU and a lower bound on wall time over a network.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::time::{Duration, Instant};

use serde::Serialize;
use tessera_crypto::{
    scheme, sim, AuxInfo, Cggmp24, DerivationPath, KeyShare, KeygenInput, MemoryLedger,
    ReshareInput, ResharePlan, Scheme, SchemeId, SessionId, SignMessage, ThresholdParams,
};
use tessera_primes::PrimePool;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Iterations of fast operations (sign, verify, baselines).
    pub iterations: usize,
    /// Iterations of slow operations (DKG, cggmp24 presign and full sign).
    pub slow_iterations: usize,
    /// Thresholds to measure.
    pub groups: Vec<(u16, u16)>,
    /// Schemes to measure.
    pub schemes: Vec<SchemeId>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            iterations: 50,
            slow_iterations: 5,
            groups: vec![(2, 3), (3, 5)],
            schemes: SchemeId::ALL.to_vec(),
        }
    }
}

/// One measured operation.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Scheme name or `baseline/...`.
    pub scheme: String,
    /// `t-of-n` or `1-of-1`.
    pub group: String,
    /// Operation.
    pub op: String,
    /// Samples taken.
    pub samples: usize,
    /// Median in milliseconds.
    pub median_ms: f64,
    /// 95th percentile in milliseconds.
    pub p95_ms: f64,
    /// Median divided by the single-sig sign median of the matching curve (sign rows only).
    pub ratio_to_single_sig: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// cggmp24 big-integer backend compiled in.
    pub cggmp24_backend: String,
    /// What the figures measure.
    pub note: String,
    /// Rows.
    pub rows: Vec<Row>,
}

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median = ms(v[v.len() / 2]);
    let p95 = ms(v[((v.len() * 95).div_ceil(100))
        .saturating_sub(1)
        .min(v.len() - 1)]);
    (median, p95)
}

fn time<T>(n: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    (0..n.max(1))
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect()
}

fn sid() -> SessionId {
    SessionId::random(&mut rand_core::OsRng)
}

/// One proactive refresh of `shares` (the first `t` parties deal, everyone receives).
fn refresh(s: &dyn Scheme, shares: &[KeyShare], aux: &[Vec<u8>]) -> Vec<KeyShare> {
    let params = shares[0].params();
    let plan = ResharePlan {
        scheme: s.id(),
        public_key: shares[0].public_key().clone(),
        chain_code: shares[0].chain_code(),
        old_threshold: params.t,
        dealers: (0..params.t).map(|i| (i, i)).collect(),
    };
    let rid = sid();
    let sessions = shares
        .iter()
        .map(|share| {
            let me = share.index();
            s.reshare(ReshareInput {
                sid: rid,
                me,
                params,
                plan: plan.clone(),
                old_share: KeyShare::from_bytes(&share.to_bytes()).ok(),
                aux: (s.id() == SchemeId::EcdsaCggmp24)
                    .then(|| AuxInfo::from_bytes(&aux[usize::from(me)]).expect("aux")),
                import: None,
            })
            .expect("reshare")
        })
        .collect();
    sim::run(sessions).expect("refresh")
}

/// Runs the benchmark; `progress` receives human-readable status lines.
pub fn run_crypto(opts: &Options, mut progress: impl FnMut(&str)) -> Report {
    let mut rows = Vec::new();
    let mut push = |scheme: &str, group: &str, op: &str, v: Vec<Duration>, base: Option<f64>| {
        let samples = v.len();
        let (median_ms, p95_ms) = stats(v);
        rows.push(Row {
            scheme: scheme.into(),
            group: group.into(),
            op: op.into(),
            samples,
            median_ms,
            p95_ms,
            ratio_to_single_sig: base.map(|b| median_ms / b),
        });
    };

    // Baselines, same run.
    progress("single-sig baselines");
    let digest = [42u8; 32];
    let sk = k256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let v = time(opts.iterations * 10, || {
        use k256::ecdsa::signature::hazmat::PrehashSigner;
        let s: k256::ecdsa::Signature = sk.sign_prehash(&digest).expect("sign");
        s
    });
    let k256_sign = stats(v.clone()).0;
    push("baseline/k256-ecdsa", "1-of-1", "sign", v, None);
    let sig: k256::ecdsa::Signature = {
        use k256::ecdsa::signature::hazmat::PrehashSigner;
        sk.sign_prehash(&digest).expect("sign")
    };
    let vk = *sk.verifying_key();
    push(
        "baseline/k256-ecdsa",
        "1-of-1",
        "verify",
        time(opts.iterations * 10, || {
            use k256::ecdsa::signature::hazmat::PrehashVerifier;
            vk.verify_prehash(&digest, &sig).is_ok()
        }),
        None,
    );
    let ed = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    let v = time(opts.iterations * 10, || {
        use ed25519_dalek::Signer;
        ed.sign(b"tessera bench")
    });
    let ed_sign = stats(v.clone()).0;
    push("baseline/ed25519-dalek", "1-of-1", "sign", v, None);
    let esig = {
        use ed25519_dalek::Signer;
        ed.sign(b"tessera bench")
    };
    let evk = ed.verifying_key();
    push(
        "baseline/ed25519-dalek",
        "1-of-1",
        "verify",
        time(opts.iterations * 10, || {
            evk.verify_strict(b"tessera bench", &esig).is_ok()
        }),
        None,
    );

    // Fresh primes for cggmp24 (never fixtures), from the background pool.
    let max_n = opts.groups.iter().map(|g| g.1).max().unwrap_or(0);
    let mut primes = Vec::new();
    if opts.schemes.contains(&SchemeId::EcdsaCggmp24) {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool = PrimePool::start(workers, usize::from(max_n));
        for i in 0..max_n {
            primes.push(pool.take(Duration::from_secs(5), |p| {
                progress(&format!(
                    "cggmp24: fresh Paillier primes for party {}/{max_n} ({} primes found, {}/4 of next set)",
                    i + 1,
                    p.primes_found,
                    p.primes_in_partial_set
                ))
            }));
        }
    }

    for &(t, n) in &opts.groups {
        let group = format!("{t}-of-{n}");
        let params = ThresholdParams::new(t, n).expect("valid group");
        // cggmp24 aux info: once per signer group, from the primes of its first n parties.
        let mut aux_bytes: Vec<Vec<u8>> = Vec::new();
        if opts.schemes.contains(&SchemeId::EcdsaCggmp24) {
            progress(&format!(
                "cggmp24 {group}: aux info (Paillier keys), once per group"
            ));
            let id = sid();
            let start = Instant::now();
            let sessions = (0..n)
                .map(|i| {
                    let p = tessera_crypto::primes::PaillierPrimes::from_json(
                        &primes[usize::from(i)].to_json(),
                    )
                    .expect("primes round trip");
                    Cggmp24.aux_info_session(id, i, n, p).expect("aux session")
                })
                .collect();
            let aux = sim::run(sessions).expect("aux info");
            push(
                SchemeId::EcdsaCggmp24.name(),
                &group,
                "aux-info (once per group)",
                vec![start.elapsed()],
                None,
            );
            aux_bytes = aux.iter().map(|a| a.to_bytes().to_vec()).collect();
        }
        for &id in &opts.schemes {
            let s = scheme(id);
            let name = id.name();
            let base = if id == SchemeId::Ed25519 {
                ed_sign
            } else {
                k256_sign
            };
            progress(&format!("{name} {group}"));
            let keygen = || -> Vec<KeyShare> {
                let kid = sid();
                let sessions = (0..n)
                    .map(|me| {
                        let aux = (id == SchemeId::EcdsaCggmp24).then(|| {
                            AuxInfo::from_bytes(&aux_bytes[usize::from(me)]).expect("aux")
                        });
                        s.keygen(KeygenInput {
                            sid: kid,
                            me,
                            params,
                            aux,
                        })
                        .expect("keygen")
                    })
                    .collect();
                sim::run(sessions).expect("keygen")
            };
            let dkg_iters = if id == SchemeId::EcdsaDkls23 {
                opts.slow_iterations.min(3)
            } else {
                opts.slow_iterations
            };
            let mut shares = Vec::new();
            push(
                name,
                &group,
                "dkg",
                time(dkg_iters, || shares = keygen()),
                None,
            );
            push(
                name,
                &group,
                "refresh (reshare to the same set)",
                time(dkg_iters, || refresh(s, &shares, &aux_bytes)),
                None,
            );
            let signers: Vec<u16> = (0..t).collect();
            let msg = if id == SchemeId::Ed25519 {
                SignMessage::raw_bytes(b"tessera bench".to_vec())
            } else {
                SignMessage::sha256(b"tessera bench".to_vec())
            };
            let full_iters = if id == SchemeId::EcdsaCggmp24 {
                opts.slow_iterations
            } else {
                opts.iterations
            };
            let mut sig = None;
            push(
                name,
                &group,
                "sign (full, interactive)",
                time(full_iters, || {
                    let id_ = sid();
                    let sessions = signers
                        .iter()
                        .map(|&p| {
                            s.sign(
                                &shares[usize::from(p)],
                                id_,
                                &signers,
                                &msg,
                                &DerivationPath::root(),
                            )
                            .expect("sign")
                        })
                        .collect();
                    sig = sim::run(sessions).expect("sign").pop();
                }),
                Some(base),
            );
            if id.has_presignatures() {
                let presign_once = || {
                    let id_ = sid();
                    let sessions = signers
                        .iter()
                        .map(|&p| {
                            s.presign(&shares[usize::from(p)], id_, &signers)
                                .expect("presign")
                        })
                        .collect();
                    sim::run(sessions).expect("presign")
                };
                let mut presigs = Vec::new();
                push(
                    name,
                    &group,
                    "presign",
                    time(full_iters, || presigs.push(presign_once())),
                    None,
                );
                // More presignatures for the online figure (FROST's are cheap).
                while presigs.len() < opts.iterations && id != SchemeId::EcdsaCggmp24 {
                    presigs.push(presign_once());
                }
                let pk = shares[0].public_key().clone();
                let cc = shares[0].chain_code();
                let mut ledgers: Vec<MemoryLedger> =
                    signers.iter().map(|_| MemoryLedger::default()).collect();
                let mut samples = Vec::new();
                for set in presigs {
                    let start = Instant::now();
                    let public = set[0].1.clone();
                    let partials: Vec<_> = set
                        .into_iter()
                        .zip(&signers)
                        .zip(ledgers.iter_mut())
                        .map(|(((p, _), &i), l)| {
                            s.issue_partial(
                                &shares[usize::from(i)],
                                p,
                                &msg,
                                &DerivationPath::root(),
                                l,
                            )
                            .expect("partial")
                        })
                        .collect();
                    std::hint::black_box(
                        s.combine(&pk, &cc, &public, &partials, &msg, &DerivationPath::root())
                            .expect("combine"),
                    );
                    samples.push(start.elapsed());
                }
                push(
                    name,
                    &group,
                    "sign (online, from presignature)",
                    samples,
                    Some(base),
                );
            }
            if let Some(sig) = sig {
                let pk = shares[0].public_key().clone();
                push(
                    name,
                    &group,
                    "verify",
                    time(opts.iterations, || s.verify(&pk, &msg, &sig).is_ok()),
                    None,
                );
            }
        }
    }
    Report {
        cggmp24_backend: tessera_crypto::primes::BACKEND.into(),
        note:
            "all parties in one process on one thread: summed CPU time of every party, no network"
                .into(),
        rows,
    }
}

/// Renders the report as a fixed-width table.
pub fn render_table(r: &Report) -> String {
    let mut out = format!(
        "Tessera crypto benchmark (cggmp24 backend: {})\n{}\n\n{:<26} {:<7} {:<34} {:>7} {:>11} {:>11} {:>10}\n",
        r.cggmp24_backend, r.note, "scheme", "group", "operation", "samples", "median ms", "p95 ms", "x single"
    );
    for row in &r.rows {
        out.push_str(&format!(
            "{:<26} {:<7} {:<34} {:>7} {:>11.3} {:>11.3} {:>10}\n",
            row.scheme,
            row.group,
            row.op,
            row.samples,
            row.median_ms,
            row.p95_ms,
            row.ratio_to_single_sig
                .map(|x| format!("{x:.1}"))
                .unwrap_or_default()
        ));
    }
    out
}

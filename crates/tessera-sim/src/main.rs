//! `tessera-sim`: runs seeds of the cluster simulation and prints what they did.
//!
//! ```text
//! tessera-sim [--seeds N] [--from S] [--jobs J] [--steps K] [--requests R]
//!             [--coordinator model|real] [--trace]
//! ```
//!
//! `--coordinator real` runs the requests through the real coordinator (`tessera-coordinator`,
//! killed and restarted too); the default is the simulation's model coordinator.
//!
//! Runs seeds `S..S+N` (default 0..100) on `J` threads (default 1; each seed's world is its
//! own, so a seed's run does not depend on which thread runs it or what runs beside it). On a
//! violation it prints the seed, the step, what broke and the trace under the smallest fault
//! mix that still breaks it, and exits 1. `--trace` (with one job) prints every seed's trace.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use tessera_sim::{run_seed, shrink, Config, Driver, Fixture, Report};

struct Args {
    seeds: u64,
    from: u64,
    jobs: u64,
    cfg: Config,
    trace: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seeds: 100,
        from: 0,
        jobs: 1,
        cfg: Config::default(),
        trace: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--trace" {
            a.trace = true;
            continue;
        }
        if flag == "--coordinator" {
            a.cfg.coordinator = match it.next().as_deref() {
                Some("model") => Driver::Model,
                Some("real") => Driver::Real,
                _ => return Err("--coordinator takes model or real".into()),
            };
            continue;
        }
        let value: u64 = it
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--seeds" => a.seeds = value,
            "--from" => a.from = value,
            "--jobs" => a.jobs = value.max(1),
            "--steps" => a.cfg.steps = value,
            "--requests" => a.cfg.requests = value as usize,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

/// What the jobs share: the next seed to run, the totals, the first failing seed.
struct Shared {
    next: AtomicU64,
    stop: AtomicBool,
    total: Mutex<Report>,
    failed: Mutex<Option<u64>>,
}

fn add(total: &Mutex<Report>, r: &Report) {
    let mut t = total.lock().unwrap_or_else(|e| e.into_inner());
    t.steps += r.steps;
    t.deliveries += r.deliveries;
    t.faults += r.faults;
    t.crashes += r.crashes;
    t.signed += r.signed;
    t.checks += r.checks;
    t.epochs += r.epochs;
    for (k, n) in &r.outcomes {
        *t.outcomes.entry(k.clone()).or_default() += n;
    }
}

/// One job: takes seeds until none is left or one failed.
fn job(fx: &Fixture, args: &Args, shared: &Shared) {
    let end = args.from + args.seeds;
    while !shared.stop.load(Ordering::SeqCst) {
        let seed = shared.next.fetch_add(1, Ordering::SeqCst);
        if seed >= end {
            return;
        }
        match run_seed(fx, seed, &args.cfg) {
            Ok(r) => {
                if args.trace {
                    for line in &r.trace {
                        println!("  {line}");
                    }
                    println!("seed {seed} passed");
                }
                add(&shared.total, &r);
            }
            Err(_) => {
                shared.stop.store(true, Ordering::SeqCst);
                let mut failed = shared.failed.lock().unwrap_or_else(|e| e.into_inner());
                *failed = Some(failed.map_or(seed, |f| f.min(seed)));
            }
        }
    }
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tessera-sim: {e}");
            std::process::exit(2);
        }
    };
    let built = Instant::now();
    let fx = Fixture::build();
    println!(
        "fixture (3 signers, 2-of-3 Ed25519 wallet) built in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let start = Instant::now();
    let shared = Shared {
        next: AtomicU64::new(args.from),
        stop: AtomicBool::new(false),
        total: Mutex::new(Report::default()),
        failed: Mutex::new(None),
    };
    std::thread::scope(|s| {
        for _ in 0..args.jobs {
            s.spawn(|| job(&fx, &args, &shared));
        }
    });
    let secs = start.elapsed().as_secs_f64();
    if let Some(seed) = *shared.failed.lock().unwrap_or_else(|e| e.into_inner()) {
        let (cfg, v) = shrink(&fx, seed, &args.cfg);
        println!("seed {seed} FAILED at step {}: {}", v.step, v.what);
        println!("smallest fault mix that fails: {:?}", cfg.faults);
        for line in &v.trace {
            println!("  {line}");
        }
        std::process::exit(1);
    }
    fx.remove();
    let total = shared.total.into_inner().unwrap_or_else(|e| e.into_inner());
    println!(
        "{} seeds passed in {secs:.1} s ({:.2} seeds/s, {} jobs, {:?} coordinator): {} steps, {} deliveries, {} faults ({} kills), {} requests signed, {} invariant checks",
        args.seeds,
        args.seeds as f64 / secs,
        args.jobs,
        args.cfg.coordinator,
        total.steps,
        total.deliveries,
        total.faults,
        total.crashes,
        total.signed,
        total.checks
    );
    if !total.outcomes.is_empty() {
        let ends: Vec<String> = total
            .outcomes
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        println!("the coordinator's requests ended: {}", ends.join(", "));
        println!("refreshes committed at every holder: {}", total.epochs);
    }
}

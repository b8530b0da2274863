//! `tessera-sim`: runs seeds of the cluster simulation and prints what they did.
//!
//! ```text
//! tessera-sim [--seeds N] [--from S] [--steps K] [--requests R] [--trace]
//! ```
//!
//! Runs seeds `S..S+N` (default 0..100). On the first violation it prints the seed, the step,
//! what broke and the trace under the smallest fault mix that still breaks it, and exits 1.

use std::time::Instant;

use tessera_sim::{run_seed, shrink, Config, Fixture, Report};

struct Args {
    seeds: u64,
    from: u64,
    cfg: Config,
    trace: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seeds: 100,
        from: 0,
        cfg: Config::default(),
        trace: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--trace" {
            a.trace = true;
            continue;
        }
        let value: u64 = it
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--seeds" => a.seeds = value,
            "--from" => a.from = value,
            "--steps" => a.cfg.steps = value,
            "--requests" => a.cfg.requests = value as usize,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
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
    let mut total = Report::default();
    for seed in args.from..args.from + args.seeds {
        match run_seed(&fx, seed, &args.cfg) {
            Ok(r) => {
                if args.trace {
                    for line in &r.trace {
                        println!("  {line}");
                    }
                }
                total.steps += r.steps;
                total.deliveries += r.deliveries;
                total.faults += r.faults;
                total.crashes += r.crashes;
                total.signed += r.signed;
                total.checks += r.checks;
            }
            Err(_) => {
                let (cfg, v) = shrink(&fx, seed, &args.cfg);
                println!("seed {seed} FAILED at step {}: {}", v.step, v.what);
                println!("smallest fault mix that fails: {:?}", cfg.faults);
                for line in &v.trace {
                    println!("  {line}");
                }
                std::process::exit(1);
            }
        }
        if args.trace {
            println!("seed {seed} passed");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    fx.remove();
    println!(
        "{} seeds passed in {secs:.1} s ({:.2} seeds/s): {} steps, {} deliveries, {} faults ({} kills), {} requests signed, {} invariant checks",
        args.seeds,
        args.seeds as f64 / secs,
        total.steps,
        total.deliveries,
        total.faults,
        total.crashes,
        total.signed,
        total.checks
    );
}

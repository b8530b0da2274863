//! `tessera`: thin command-line front end over the Tessera libraries.

#![forbid(unsafe_code)]

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use tessera_crypto::SchemeId;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Threshold-signature (MPC) wallet platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the signature schemes, their protocol crates and audit status.
    Schemes,
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: Bench,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Threshold protocols vs single-sig baselines, all parties in-process.
    Crypto {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Iterations of fast operations.
        #[arg(long, default_value_t = 50)]
        iterations: usize,
        /// Iterations of slow operations (DKG, cggmp24 presign and full sign).
        #[arg(long, default_value_t = 5)]
        slow_iterations: usize,
        /// Only these schemes (repeatable), e.g. `--scheme ed25519`.
        #[arg(long = "scheme")]
        schemes: Vec<String>,
        /// Only these groups as t-of-n (repeatable), e.g. `--group 2-of-3`.
        #[arg(long = "group")]
        groups: Vec<String>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Schemes => {
            for s in SchemeId::ALL {
                println!("{:<26} {}", s.name(), s.audit_status());
            }
            Ok(())
        }
        Command::Bench {
            what:
                Bench::Crypto {
                    json,
                    iterations,
                    slow_iterations,
                    schemes,
                    groups,
                },
        } => {
            let mut opts = tessera_bench::Options {
                iterations,
                slow_iterations,
                ..Default::default()
            };
            if !schemes.is_empty() {
                opts.schemes = schemes
                    .iter()
                    .map(|s| {
                        SchemeId::from_name(s)
                            .ok_or_else(|| anyhow::anyhow!("unknown scheme {s:?}"))
                    })
                    .collect::<Result<_>>()?;
            }
            if !groups.is_empty() {
                opts.groups = groups
                    .iter()
                    .map(|g| parse_group(g))
                    .collect::<Result<_>>()?;
            }
            if opts.schemes.contains(&SchemeId::EcdsaDkls23) {
                eprintln!("warning: {}", SchemeId::EcdsaDkls23.audit_status());
            }
            let report = tessera_bench::run_crypto(&opts, |line| eprintln!("... {line}"));
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", tessera_bench::render_table(&report));
            }
            Ok(())
        }
    }
}

fn parse_group(g: &str) -> Result<(u16, u16)> {
    let Some((t, n)) = g.split_once("-of-") else {
        bail!("group must look like 2-of-3, got {g:?}");
    };
    let (t, n) = (t.parse()?, n.parse()?);
    tessera_crypto::ThresholdParams::new(t, n)?;
    Ok((t, n))
}

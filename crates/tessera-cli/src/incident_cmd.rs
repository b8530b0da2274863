//! `tessera incident quarantine | rotate` (the library side is `tessera_cli::incident`).

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Subcommand;
use tessera_cli::cluster::ClusterFile;
use tessera_cli::governance;
use tessera_cli::incident::{quarantine, rotate};

use crate::ClusterArg;

#[derive(Subcommand)]
pub(crate) enum IncidentCmd {
    /// Take a signer out of service: the next policy bundle, signed by the admins, names it;
    /// the coordinator stops using it and every signer refuses it as a peer.
    Quarantine {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Name of the signer.
        signer: String,
        /// Release a quarantined signer instead.
        #[arg(long)]
        lift: bool,
        /// Admin key files (default: the cluster's admin.key).
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
    },
    /// Reshare every wallet the signer holds a share of without it (its place to `--with`, or
    /// among the remaining holders), so its shares become useless; prints the time taken.
    Rotate {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Name of the signer taken out.
        signer: String,
        /// Name of the signer that takes its place in every wallet.
        #[arg(long)]
        with: Option<String>,
    },
}

pub(crate) async fn incident_cmd(what: IncidentCmd) -> Result<()> {
    match what {
        IncidentCmd::Quarantine {
            cluster,
            signer,
            lift,
            keys,
        } => {
            let f = ClusterFile::load(&cluster.cluster)?;
            let admins = governance::admin_keys(&f, &keys)?;
            let (signed, info) = quarantine(&f, &signer, lift, &admins, crate::now_unix()).await?;
            println!("{}", serde_json::to_string_pretty(&info)?);
            eprintln!(
                "{signer} {} by policy version {}; quarantined now: {}",
                if lift { "released" } else { "quarantined" },
                signed.bundle.version,
                signed.bundle.quarantined.len()
            );
            Ok(())
        }
        IncidentCmd::Rotate {
            cluster,
            signer,
            with,
        } => {
            let f = ClusterFile::load(&cluster.cluster)?;
            let (results, total) = rotate(&f, &signer, with.as_deref(), |r| {
                eprintln!("{}", r.line("rotated"))
            })
            .await?;
            let failed = results.iter().filter(|r| r.result.is_err()).count();
            eprintln!(
                "{} wallet(s) rotated away from {signer} in {:.1} s, {failed} failed",
                results.len() - failed,
                total.as_secs_f64()
            );
            if failed > 0 {
                bail!("{failed} wallet(s) still hold a share at {signer}");
            }
            Ok(())
        }
    }
}

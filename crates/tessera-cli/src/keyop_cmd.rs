//! `tessera key-op show | approve | submit` (the library side is `tessera_cli::keyop`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use tessera_cli::cluster::ClusterFile;
use tessera_cli::governance;
use tessera_cli::keyop::{approval_lines, approve, load, submit};
use tessera_policy::ApprovalDecision;

use crate::ClusterArg;

#[derive(Subcommand)]
pub(crate) enum KeyOpCmd {
    /// What a prepared key operation does and the approvals it has.
    Show {
        /// The file written by `--prepare`.
        file: PathBuf,
    },
    /// Approve (or reject) a prepared key operation: adds this approver's signature over its
    /// request id and action, under the policy version in force, to the file.
    Approve {
        #[command(flatten)]
        cluster: ClusterArg,
        /// The file written by `--prepare`.
        file: PathBuf,
        /// Approver key file (default: the cluster's approver key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Reject instead.
        #[arg(long)]
        reject: bool,
        /// Hours the approval stays valid.
        #[arg(long, default_value_t = 1)]
        hours: u64,
    },
    /// Send a prepared key operation and wait for the wallet or the commit.
    Submit {
        #[command(flatten)]
        cluster: ClusterArg,
        /// The file written by `--prepare`.
        file: PathBuf,
        /// Return at once instead of waiting.
        #[arg(long)]
        no_wait: bool,
    },
}

pub(crate) async fn keyop_cmd(what: KeyOpCmd) -> Result<()> {
    match what {
        KeyOpCmd::Show { file } => {
            let op = load(&file)?;
            println!("{}", op.describe());
            println!("approves: {}", hex::encode(op.intent_hash()));
            for line in approval_lines(&op) {
                println!("  {line}");
            }
            Ok(())
        }
        KeyOpCmd::Approve {
            cluster,
            file,
            key,
            reject,
            hours,
        } => {
            let f = ClusterFile::load(&cluster.cluster)?;
            let key = match key {
                Some(k) => governance::read_key(&k)?,
                None => f.approver()?,
            };
            let decision = if reject {
                ApprovalDecision::Reject
            } else {
                ApprovalDecision::Approve
            };
            let op = approve(&f, &file, &key, decision, hours).await?;
            println!("{}", op.describe());
            println!(
                "{} decision(s) recorded in {}",
                op.approvals().len(),
                file.display()
            );
            Ok(())
        }
        KeyOpCmd::Submit {
            cluster,
            file,
            no_wait,
        } => {
            let f = ClusterFile::load(&cluster.cluster)?;
            let op = load(&file)?;
            println!("{}", submit(&f, &op, !no_wait).await?);
            Ok(())
        }
    }
}

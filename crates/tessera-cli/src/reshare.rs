//! `tessera wallet refresh | replace-signer | reshare`: new shares of a wallet's key through
//! the coordinator's `POST /v1/wallets/{id}/reshare` (two-phase at the signers; the key, chain
//! code and every address stay the same, the epoch goes up by one).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tessera_proto::api::{SessionInfo, SessionStatus, WalletInfo};
use tessera_proto::roles::Role;
use tessera_wire::NodeId;

use crate::cluster::ClusterFile;

/// What a reshare changes.
#[derive(Debug, Clone)]
pub enum Change {
    /// New shares for the same signers and threshold (proactive refresh).
    Refresh,
    /// Signer `old` (by name) hands its place to signer `new`; the threshold stays.
    ReplaceSigner {
        /// The signer leaving.
        old: String,
        /// The signer joining (enrolled and connected).
        new: String,
    },
    /// A new threshold and signer set (by name, in party order).
    Reshare {
        /// Signers needed afterwards.
        threshold: u16,
        /// The new holders.
        signers: Vec<String>,
    },
}

/// The new signers and threshold `change` makes of `w`.
pub fn target(f: &ClusterFile, w: &WalletInfo, change: &Change) -> Result<(Vec<NodeId>, u16)> {
    let node = |name: &str| -> Result<NodeId> {
        f.signers
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.node_id)
            .with_context(|| format!("no signer named {name}"))
    };
    match change {
        Change::Refresh => Ok((w.signers.clone(), w.threshold)),
        Change::ReplaceSigner { old, new } => {
            let (old, new) = (node(old)?, node(new)?);
            if w.signers.contains(&new) {
                bail!(
                    "the joining signer already holds a share of {}",
                    w.wallet_id
                );
            }
            let Some(at) = w.signers.iter().position(|s| *s == old) else {
                bail!("the leaving signer holds no share of {}", w.wallet_id);
            };
            let mut signers = w.signers.clone();
            signers[at] = new;
            Ok((signers, w.threshold))
        }
        Change::Reshare { threshold, signers } => Ok((
            signers.iter().map(|n| node(n)).collect::<Result<_>>()?,
            *threshold,
        )),
    }
}

/// Runs the reshare and, with `wait`, waits for its end; returns the final session and the
/// elapsed time.
pub async fn run(
    f: &ClusterFile,
    wallet_id: &str,
    change: &Change,
    wait: bool,
) -> Result<(SessionInfo, Duration)> {
    let client = f.client_as(Role::Requester)?;
    // The current roster as the signers vouched for it, not merely as the coordinator says.
    let (w, _) = client.vouched_wallet(wallet_id).await?;
    let (signers, threshold) = target(f, &w, change)?;
    let started = Instant::now();
    let mut s = client
        .reshare_wallet(&f.operator()?, wallet_id, threshold, signers)
        .await?;
    while wait && s.status == SessionStatus::Running {
        s = client.session(&s.session_id, Some(10_000)).await?;
    }
    if s.status == SessionStatus::Failed {
        let e = s
            .error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        bail!("the reshare of {wallet_id} failed: {e}");
    }
    Ok((s, started.elapsed()))
}

/// One wallet's reshare in a batch (a scheduled refresh round, an incident rotation).
#[derive(Debug)]
pub struct WalletReshare {
    /// Wallet id.
    pub wallet_id: String,
    /// The epoch now in force, or why the reshare failed.
    pub result: Result<u32, String>,
    /// Time from the request to the commit (or the failure).
    pub elapsed: Duration,
}

impl WalletReshare {
    /// One line for the operator: `<wallet>: <done> to epoch N in S s`, or why it failed.
    pub fn line(&self, done: &str) -> String {
        match &self.result {
            Ok(epoch) => format!(
                "{}: {done} to epoch {epoch} in {:.1} s",
                self.wallet_id,
                self.elapsed.as_secs_f64()
            ),
            Err(e) => format!("{}: failed: {e}", self.wallet_id),
        }
    }
}

/// Runs `change` on `wallet_id` and reports the epoch then in force (the coordinator's record).
pub async fn reshare_one(
    f: &ClusterFile,
    wallet_id: &str,
    change: Result<Change>,
) -> WalletReshare {
    let started = Instant::now();
    let result = match change {
        Ok(change) => match run(f, wallet_id, &change, true).await {
            Ok(_) => match f.client_as(Role::Viewer) {
                Ok(c) => c
                    .wallet(wallet_id)
                    .await
                    .map(|w| w.epoch)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(format!("{e:#}")),
            },
            Err(e) => Err(format!("{e:#}")),
        },
        Err(e) => Err(format!("{e:#}")),
    };
    WalletReshare {
        wallet_id: wallet_id.to_string(),
        result,
        elapsed: started.elapsed(),
    }
}

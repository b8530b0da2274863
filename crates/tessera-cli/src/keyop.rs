//! `tessera key-op show | approve | submit` and the `--prepare FILE` option of `tessera wallet
//! create | refresh | replace-signer | reshare` and `tessera import`: key operations that the
//! policy makes wait for approvals (a quorum of admins, say).
//!
//! The operator prepares the request (its authorization signed, valid for
//! [`PREPARED_TTL_SECS`]) into a file instead of sending it; each approver reviews it with
//! `show` and adds an approval with `approve` (a signature over the authorization's request id
//! and `tessera_wire::key_operation_hash` of its action, under the policy version in force);
//! `submit` sends it. The file holds nothing secret: an import's shares are sealed to their
//! holders. The coordinator and every holder check the quorum again, each against its own
//! policy, so approvals for another operation, another request or an older policy count for
//! nothing.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tessera_client::{KeyOperation, Submitted, PREPARED_TTL_SECS};
use tessera_policy::{ApprovalDecision, SecretKey};
use tessera_proto::api::{SessionStatus, WalletStatus};
use tessera_proto::roles::Role;

use crate::cluster::ClusterFile;
use crate::reshare::{target, Change};

/// Reads a prepared key operation.
pub fn load(path: &Path) -> Result<KeyOperation> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a key operation", path.display()))
}

/// Writes `op` to a new file (never overwrites).
pub fn save_new(path: &Path, op: &KeyOperation) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(serde_json::to_string_pretty(op)?.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Replaces the file with `op` (written beside it, then renamed over it).
fn replace(path: &Path, op: &KeyOperation) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(op)?)?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// A reshare of `wallet_id` (`change`), prepared for approvals instead of sent.
pub async fn prepare_reshare(
    f: &ClusterFile,
    wallet_id: &str,
    change: &Change,
) -> Result<KeyOperation> {
    let client = f.client_as(Role::Requester)?;
    let (w, _) = client.vouched_wallet(wallet_id).await?;
    let (signers, threshold) = target(f, &w, change)?;
    Ok(client
        .prepare_reshare(
            &f.operator()?,
            wallet_id,
            threshold,
            signers,
            PREPARED_TTL_SECS,
        )
        .await?)
}

/// Adds `key`'s decision to the operation in `path`, under the policy version the coordinator
/// reports, valid for `hours`; returns the operation as now stored.
pub async fn approve(
    f: &ClusterFile,
    path: &Path,
    key: &SecretKey,
    decision: ApprovalDecision,
    hours: u64,
) -> Result<KeyOperation> {
    let mut op = load(path)?;
    let version = f.client_as(Role::Viewer)?.policy_version().await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    op.approve(key, decision, version, now + hours * 3600);
    replace(path, &op)?;
    Ok(op)
}

/// One line per approval gathered, for `show`.
pub fn approval_lines(op: &KeyOperation) -> Vec<String> {
    op.approvals()
        .iter()
        .map(|a| {
            format!(
                "{:?} by {} (policy v{}, expires at {})",
                a.decision,
                a.approver.to_hex(),
                a.policy_version,
                a.expires_at
            )
        })
        .collect()
}

/// Sends `op` and, with `wait`, waits until the wallet is ready or the reshare committed;
/// returns one line on the outcome.
pub async fn submit(f: &ClusterFile, op: &KeyOperation, wait: bool) -> Result<String> {
    let client = f.client_as(Role::Requester)?;
    match client.submit_key_operation(op).await? {
        Submitted::Wallet(w) => {
            let id = w.wallet_id;
            if !wait {
                return Ok(format!("wallet {id} creating"));
            }
            loop {
                let w = client.wallet(&id).await?;
                match w.status {
                    WalletStatus::Creating => tokio::time::sleep(Duration::from_millis(200)).await,
                    WalletStatus::Failed => {
                        bail!("wallet {id} failed: {}", w.error.unwrap_or_default())
                    }
                    WalletStatus::Ready => return Ok(format!("wallet {id} ready")),
                    WalletStatus::Retired => return Ok(format!("wallet {id} retired")),
                }
            }
        }
        Submitted::Reshare(mut s) => {
            while wait && s.status == SessionStatus::Running {
                s = client.session(&s.session_id, Some(10_000)).await?;
            }
            if s.status == SessionStatus::Failed {
                let e = s.error.map(|e| e.message).unwrap_or_default();
                bail!("the reshare of {} failed: {e}", op.wallet_id());
            }
            Ok(format!("reshare of {} {:?}", op.wallet_id(), s.status))
        }
    }
}

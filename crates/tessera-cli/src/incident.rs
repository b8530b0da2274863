//! `tessera incident quarantine | rotate`: take a suspect signer out of service, then make its
//! shares useless.
//!
//! 1. **Quarantine.** The next policy bundle names the signer's identity key in `quarantined`
//!    and is signed by the admins, so it binds like any policy change: the coordinator picks
//!    the signer for no session and gives it no new share, and every signer — the quarantined
//!    one too — refuses a session it takes part in, whatever a coordinator sends. The other
//!    holders keep signing meanwhile. `--lift` takes it out of the list again.
//! 2. **Rotate.** Every wallet the signer holds a share of is reshared without it — its place
//!    handed to a replacement (`--with`), or, without one, among the remaining holders at the
//!    same threshold — so the shares it keeps belong to an epoch nothing signs with any more.
//!    Each wallet's time and the total are reported.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tessera_policy::{PolicyBundle, SecretKey, SignedBundle};
use tessera_proto::api::{PolicyInfo, WalletInfo, WalletStatus};
use tessera_proto::roles::Role;
use tessera_wire::NodeId;

use crate::cluster::ClusterFile;
use crate::governance::sign_bundle;
use crate::reshare::{reshare_one, Change, WalletReshare};

/// The bundle after `current`: `node` added to (or, with `lift`, removed from) the quarantine
/// list, the version one higher, created at `now_unix`.
pub fn next_bundle(
    current: &PolicyBundle,
    node: NodeId,
    lift: bool,
    now_unix: u64,
) -> Result<PolicyBundle> {
    let key = tessera_policy::PublicKey(node.0);
    let mut next = current.clone();
    let changed = if lift {
        next.quarantined.remove(&key)
    } else {
        next.quarantined.insert(key)
    };
    if !changed {
        bail!(
            "signer {node} is {} quarantined",
            if lift { "not" } else { "already" }
        );
    }
    next.version = current
        .version
        .checked_add(1)
        .context("the policy version is exhausted")?;
    next.created_at = now_unix.max(current.created_at);
    Ok(next)
}

/// Node id of the cluster's signer called `name`.
pub fn signer_id(f: &ClusterFile, name: &str) -> Result<NodeId> {
    f.signers
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.node_id)
        .with_context(|| format!("no signer named {name}"))
}

/// Quarantines (or, with `lift`, releases) signer `name`: the next bundle signed by `admins`
/// and pushed to the coordinator, which passes it on to every signer.
pub async fn quarantine(
    f: &ClusterFile,
    name: &str,
    lift: bool,
    admins: &[SecretKey],
    now_unix: u64,
) -> Result<(SignedBundle, PolicyInfo)> {
    let node = signer_id(f, name)?;
    let client = f.client_as(Role::Admin)?;
    let current = client.policy_bundle().await?;
    let signed = sign_bundle(next_bundle(&current.bundle, node, lift, now_unix)?, admins);
    let info = client.put_policy(&signed).await?;
    Ok((signed, info))
}

/// The change that takes `old` out of `w`: its place to `with`, or a reshare among the others.
fn change_for(f: &ClusterFile, w: &WalletInfo, old: &str, with: Option<&str>) -> Result<Change> {
    if let Some(new) = with {
        return Ok(Change::ReplaceSigner {
            old: old.to_string(),
            new: new.to_string(),
        });
    }
    let node = signer_id(f, old)?;
    let names = w
        .signers
        .iter()
        .filter(|n| **n != node)
        .map(|n| {
            f.signers
                .iter()
                .find(|s| s.node_id == *n)
                .map(|s| s.name.clone())
                .with_context(|| format!("signer {n} of {} is not in the cluster", w.wallet_id))
        })
        .collect::<Result<Vec<_>>>()?;
    if names.len() < usize::from(w.threshold) {
        bail!(
            "{} is {}-of-{}: without {old} too few holders remain; name a replacement (--with)",
            w.wallet_id,
            w.threshold,
            w.signers.len()
        );
    }
    Ok(Change::Reshare {
        threshold: w.threshold,
        signers: names,
    })
}

/// Reshares every ready wallet that signer `name` holds a share of without it (see the module
/// docs), one after the other; `report` sees each wallet as it finishes. Returns every
/// wallet's result and the total time.
pub async fn rotate(
    f: &ClusterFile,
    name: &str,
    with: Option<&str>,
    mut report: impl FnMut(&WalletReshare),
) -> Result<(Vec<WalletReshare>, Duration)> {
    let node = signer_id(f, name)?;
    let client = f.client_as(Role::Viewer)?;
    let affected: Vec<WalletInfo> = client
        .wallets()
        .await?
        .into_iter()
        .filter(|w| w.status == WalletStatus::Ready && w.signers.contains(&node))
        .collect();
    let started = Instant::now();
    let mut out = Vec::with_capacity(affected.len());
    for w in affected {
        let rotated = reshare_one(f, &w.wallet_id, change_for(f, &w, name, with)).await;
        report(&rotated);
        out.push(rotated);
    }
    Ok((out, started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> PolicyBundle {
        let admin = tessera_policy::PublicKey([1; 32]);
        PolicyBundle {
            version: 4,
            tenant: "t".into(),
            policies: String::new(),
            roles: Default::default(),
            admins: tessera_policy::AdminSet {
                keys: [admin].into(),
                quorum: 1,
            },
            velocity: Default::default(),
            created_at: 100,
            quarantined: Default::default(),
        }
    }

    #[test]
    fn a_quarantine_is_the_next_version_and_can_be_lifted_once() {
        let node = NodeId([9; 32]);
        let q = next_bundle(&bundle(), node, false, 200).unwrap();
        assert_eq!((q.version, q.created_at), (5, 200));
        assert!(q.is_quarantined(&node.0));
        assert!(next_bundle(&q, node, false, 300).is_err(), "twice");
        let lifted = next_bundle(&q, node, true, 300).unwrap();
        assert_eq!(lifted.version, 6);
        assert!(lifted.quarantined.is_empty());
        assert!(
            next_bundle(&lifted, node, true, 400).is_err(),
            "not quarantined"
        );
        // A clock behind the bundle does not move its creation time back.
        assert_eq!(
            next_bundle(&bundle(), node, false, 50).unwrap().created_at,
            100
        );
    }
}

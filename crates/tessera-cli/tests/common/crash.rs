//! Shared parts of the kill -9 campaigns (`crash_lifecycle`, `crash_signing`): a seeded
//! generator, the process a trial kills, killing and restarting it, and what each signer's
//! vault holds of a wallet as read from disk after a crash. Included by path
//! (`#[path = "../common/crash.rs"] mod crash;`) next to `common`, so only the campaigns build
//! it.

use std::time::Duration;

use tessera_cli::cluster::LocalCluster;
use tessera_client::Client;
use tessera_vault::{Unlock, Vault};

use super::common::wait_linked_exactly;

/// SplitMix64: a seeded, reproducible choice of operations, targets, delays and keys.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A delay drawn uniformly from `window`.
    pub fn within(&mut self, window: Duration) -> Duration {
        window.mul_f64(self.below(1000) as f64 / 1000.0)
    }
    /// A process among the coordinator and the signers `involved` (cluster indices).
    pub fn target(&mut self, involved: &[usize]) -> Target {
        match self.below(involved.len() as u64 + 1) as usize {
            0 => Target::Coordinator,
            k => Target::Signer(involved[k - 1]),
        }
    }
}

/// The process a trial kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Coordinator,
    Signer(usize),
}

/// An integer from the environment, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The number of signers the coordinator has linked (0 while it does not answer).
pub async fn linked(client: &Client) -> usize {
    client
        .signers()
        .await
        .map(|s| s.iter().filter(|s| s.connected).count())
        .unwrap_or(0)
}

/// Kills `target` with SIGKILL and starts it again (the coordinator: until it answers).
pub async fn kill_and_restart(cluster: &mut LocalCluster, client: &Client, target: Target) {
    match target {
        Target::Coordinator => {
            cluster.kill_coordinator().unwrap();
            cluster.start_coordinator().unwrap();
            cluster.wait_healthy(client).await.unwrap();
        }
        Target::Signer(i) => {
            cluster.kill_signer(i).unwrap();
            cluster.start_signer(i).unwrap();
        }
    }
}

/// One signer's record of a wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// The committed epoch, if the signer holds a share.
    pub committed: Option<u32>,
    /// A prepared, not yet committed epoch.
    pub prepared: Option<u32>,
    /// Whether the signer recorded the wallet as retired.
    pub retired: bool,
}

/// Opens signer `i`'s vault from disk; the signer must be stopped (the vault is locked while
/// it runs).
pub fn open_vault(cluster: &LocalCluster, i: usize) -> Vault {
    let dir = &cluster.file.signers[i].dir;
    Vault::open(
        &dir.join("vault.db"),
        &Unlock::KeyFile(dir.join("vault.key")),
    )
    .unwrap_or_else(|e| panic!("signer {i}'s vault after a crash: {e}"))
}

/// Kills every signer, calls `read` on each one's vault as the crash left it, and starts them
/// all again once the coordinator saw every link drop.
pub async fn with_vaults<T>(
    cluster: &mut LocalCluster,
    client: &Client,
    mut read: impl FnMut(usize, &Vault) -> T,
) -> Vec<T> {
    let n = cluster.file.signers.len();
    let mut out = Vec::new();
    for i in 0..n {
        cluster.kill_signer(i).unwrap();
        out.push(read(i, &open_vault(cluster, i)));
    }
    wait_linked_exactly(client, 0).await;
    for i in 0..n {
        cluster.start_signer(i).unwrap();
    }
    wait_linked_exactly(client, n).await;
    out
}

/// Every signer's record of `wallet_id`, read from its vault on disk ([`with_vaults`]).
pub async fn held(cluster: &mut LocalCluster, client: &Client, wallet_id: &str) -> Vec<Held> {
    with_vaults(cluster, client, |_, vault| {
        let record = vault
            .wallets()
            .unwrap()
            .into_iter()
            .find(|r| r.wallet_id == wallet_id);
        Held {
            committed: record.as_ref().map(|r| r.epoch),
            prepared: record.and_then(|r| r.prepared_epoch),
            retired: vault
                .setting(&format!("retired:{wallet_id}"))
                .unwrap()
                .is_some(),
        }
    })
    .await
}

/// The schemes `TESSERA_CRASH_SCHEMES` names (comma-separated), or those of `default`.
pub fn schemes(default: &str) -> Vec<tessera_crypto::SchemeId> {
    let names = std::env::var("TESSERA_CRASH_SCHEMES").unwrap_or_else(|_| default.into());
    names
        .split(',')
        .map(|n| {
            tessera_crypto::SchemeId::from_name(n.trim()).unwrap_or_else(|| panic!("no scheme {n}"))
        })
        .collect()
}

/// Indices (in the cluster) of the wallet's holders, in party order.
pub fn holders(cluster: &LocalCluster, w: &tessera_proto::api::WalletInfo) -> Vec<usize> {
    w.signers
        .iter()
        .map(|n| {
            cluster
                .file
                .signers
                .iter()
                .position(|s| s.node_id == *n)
                .unwrap()
        })
        .collect()
}

/// The operations `TESSERA_CRASH_OPS` names (comma-separated, matched to `name`), or all.
pub fn ops<T: Copy>(all: &[T], name: impl Fn(&T) -> String) -> Vec<T> {
    let Ok(names) = std::env::var("TESSERA_CRASH_OPS") else {
        return all.to_vec();
    };
    names
        .split(',')
        .map(|n| {
            *all.iter()
                .find(|op| name(op).eq_ignore_ascii_case(n.trim()))
                .unwrap_or_else(|| panic!("no operation {n}"))
        })
        .collect()
}

/// Prints one trial's result line.
pub fn report(trial: &str, running: bool, end: impl std::fmt::Debug, detail: &str) {
    let when = if running {
        " (running)"
    } else {
        " (after its end)"
    };
    eprintln!("{trial}{when}: {end:?} ({detail})");
}

/// A 2-of-3 wallet `id` of `scheme` on the cluster's first three signers, once ready.
pub async fn wallet_on_first_three(
    cluster: &LocalCluster,
    client: &Client,
    op_key: &tessera_wire::OperatorKey,
    id: &str,
    scheme: tessera_crypto::SchemeId,
) -> tessera_proto::api::WalletInfo {
    let nodes: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    client
        .create_wallet(
            op_key,
            id,
            "crash",
            scheme,
            2,
            nodes[..3].to_vec(),
            super::common::NETWORKS,
        )
        .await
        .unwrap();
    super::common::wait_ready(client, id).await
}

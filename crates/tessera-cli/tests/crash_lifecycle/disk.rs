//! What each signer's vault holds of a wallet, read from disk as a crash left it.

use tessera_cli::cluster::LocalCluster;
use tessera_client::Client;
use tessera_vault::{Unlock, Vault};

use super::{wait_linked_exactly, SIGNERS};

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

/// Every signer's record of `wallet_id`, read from its vault on disk. Every signer is killed
/// first (the vault is locked while it runs) and started again after.
pub async fn read(cluster: &mut LocalCluster, client: &Client, wallet_id: &str) -> Vec<Held> {
    let mut out = Vec::new();
    for i in 0..SIGNERS {
        cluster.kill_signer(i).unwrap();
        let dir = &cluster.file.signers[i].dir;
        let vault = Vault::open(
            &dir.join("vault.db"),
            &Unlock::KeyFile(dir.join("vault.key")),
        )
        .unwrap_or_else(|e| panic!("signer {i}'s vault after a crash: {e}"));
        let record = vault
            .wallets()
            .unwrap()
            .into_iter()
            .find(|r| r.wallet_id == wallet_id);
        let retired = vault
            .setting(&format!("retired:{wallet_id}"))
            .unwrap()
            .is_some();
        out.push(Held {
            committed: record.as_ref().map(|r| r.epoch),
            prepared: record.and_then(|r| r.prepared_epoch),
            retired,
        });
    }
    // The coordinator saw every link drop before any signer comes back.
    wait_linked_exactly(client, 0).await;
    for i in 0..SIGNERS {
        cluster.start_signer(i).unwrap();
    }
    wait_linked_exactly(client, SIGNERS).await;
    out
}

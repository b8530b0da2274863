//! Telling the holders a reshare left out that they left (`Job::Leave`; the signer side is
//! `tessera-node`'s `signer/leave.rs`): once every new holder committed, each former holder
//! not in the new roster gets the operator's reshare authorization and the new holders'
//! attestations, destroys its presignatures of the wallet at once and its shares once its
//! old-share grace period is over.
//!
//! The notice is stored (`leave-notice:<wallet>`) and delivered in the background to each
//! former holder when it is linked, until every one of them answered — also after a restart.
//! A former holder that never comes back (a lost machine) is never told; its share is as
//! useless as the other old holders' are once they destroyed theirs. A newer reshare's notice
//! replaces the stored one and carries every former holder still waiting.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_proto::api::WalletInfo;
use tessera_proto::attestation::WalletAttestation;
use tessera_proto::link::{Job, Outcome};
use tessera_wire::{Authorization, NodeId};

use crate::coordinator::Coordinator;

/// How often undelivered notices are tried again.
const NOTICE_RETRY: Duration = Duration::from_secs(5);

/// A stored notice for the former holders of a wallet.
#[derive(Clone, Serialize, Deserialize)]
struct LeaveNotice {
    /// The epoch committed without them.
    epoch: u32,
    /// The reshare's authorization.
    authorization: Authorization,
    /// Every new holder's attestation of the wallet at `epoch`.
    attestations: Vec<WalletAttestation>,
    /// Former holders not told yet.
    waiting: Vec<NodeId>,
}

fn notice_key(wallet_id: &str) -> String {
    format!("leave-notice:{wallet_id}")
}

impl Coordinator {
    /// After `wallet` committed its new epoch under `authorization`: stores the notice for the
    /// `former` holders it left out (and those an earlier notice still waits for) and starts
    /// delivering it.
    pub(crate) fn notify_leavers(
        &self,
        wallet: &WalletInfo,
        authorization: &Authorization,
        former: &[NodeId],
    ) {
        let mut waiting: Vec<NodeId> = former.to_vec();
        if let Some(earlier) = self.leave_notice(&wallet.wallet_id) {
            waiting.extend(earlier.waiting);
        }
        waiting.retain(|n| !wallet.signers.contains(n));
        waiting.sort();
        waiting.dedup();
        let notice = LeaveNotice {
            epoch: wallet.epoch,
            authorization: authorization.clone(),
            attestations: wallet.attestations.clone(),
            waiting,
        };
        if self.put_leave_notice(&wallet.wallet_id, &notice) && !notice.waiting.is_empty() {
            self.spawn_delivery(wallet.wallet_id.clone(), notice.epoch);
        }
    }

    /// After a restart: delivers every stored notice still waiting.
    pub(crate) fn resume_leave_notices(&self) {
        let Ok(wallets) = self.inner.store.wallets() else {
            return;
        };
        for w in wallets {
            if let Some(n) = self.leave_notice(&w.wallet_id) {
                if !n.waiting.is_empty() {
                    self.spawn_delivery(w.wallet_id, n.epoch);
                }
            }
        }
    }

    fn spawn_delivery(&self, wallet_id: String, epoch: u32) {
        let me = self.clone();
        tokio::spawn(async move { me.deliver_leave_notices(&wallet_id, epoch).await });
    }

    /// Tells each waiting former holder, when linked, until none waits; stops when a newer
    /// reshare's notice took the place of this one (its own delivery carries on).
    async fn deliver_leave_notices(&self, wallet_id: &str, epoch: u32) {
        loop {
            let Some(mut notice) = self.leave_notice(wallet_id) else {
                return;
            };
            if notice.epoch != epoch || notice.waiting.is_empty() {
                return;
            }
            let mut told = Vec::new();
            for node in &notice.waiting {
                if self.inner.hub.is_connected(node)
                    && self.tell_leaver(wallet_id, &notice, *node).await
                {
                    told.push(*node);
                }
            }
            if !told.is_empty() {
                // Re-read: only this task changes the waiting list of this epoch's notice.
                notice.waiting.retain(|n| !told.contains(n));
                let current = self.leave_notice(wallet_id);
                if current.is_some_and(|c| c.epoch == epoch) {
                    self.put_leave_notice(wallet_id, &notice);
                }
            }
            if notice.waiting.is_empty() {
                return;
            }
            tokio::time::sleep(NOTICE_RETRY).await;
        }
    }

    /// One notice to one former holder; true once it answered (a recorded leave, or a refusal
    /// that a repeat would meet again: it logs why and is not asked again).
    async fn tell_leaver(&self, wallet_id: &str, notice: &LeaveNotice, node: NodeId) -> bool {
        let Some(wallet) = self.inner.store.wallet(wallet_id).ok().flatten() else {
            return true;
        };
        let Ok(roster) = self.members(&[node]) else {
            return true;
        };
        let single = WalletInfo {
            signers: vec![node],
            ..wallet
        };
        let job = Job::Leave {
            authorization: notice.authorization.clone(),
            attestations: notice.attestations.clone(),
        };
        let timeout = self.inner.config.sign_timeout;
        match self
            .run_session(self.random_id(), &single, &roster, &[0], job, timeout)
            .await
        {
            Ok(outcomes) if matches!(outcomes.as_slice(), [(0, Outcome::Left { .. })]) => {
                tracing::info!(wallet = wallet_id, signer = %node, epoch = notice.epoch, "former holder told it left the wallet");
                true
            }
            Ok(_) => {
                tracing::warn!(wallet = wallet_id, signer = %node, "former holder gave an unexpected answer to its leave notice");
                true
            }
            Err(e) if e.refusal.is_some() || e.fatal => {
                tracing::warn!(wallet = wallet_id, signer = %node, "former holder refused its leave notice: {}", e.message);
                true
            }
            Err(e) => {
                tracing::debug!(wallet = wallet_id, signer = %node, "leave notice not delivered yet: {}", e.message);
                false
            }
        }
    }

    fn leave_notice(&self, wallet_id: &str) -> Option<LeaveNotice> {
        let json = self.inner.store.setting(&notice_key(wallet_id)).ok()??;
        serde_json::from_str(&json).ok()
    }

    fn put_leave_notice(&self, wallet_id: &str, notice: &LeaveNotice) -> bool {
        let stored = serde_json::to_string(notice)
            .map_err(|e| e.to_string())
            .and_then(|json| {
                self.inner
                    .store
                    .put_setting(&notice_key(wallet_id), &json)
                    .map_err(|e| e.to_string())
            });
        match stored {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(wallet = wallet_id, "could not store a leave notice: {e}");
                false
            }
        }
    }
}

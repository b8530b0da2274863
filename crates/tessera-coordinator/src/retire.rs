//! Retiring a wallet (`POST /v1/wallets/{id}/retire`), after its key was exported to another
//! implementation, say. One `Job::Retire` session among all its holders, each of which
//! records the retirement and refuses every later session for the wallet (`tessera-node`'s
//! `signer/retire.rs`); once all answered, the wallet record is `retired`, its presignature
//! pool is emptied and its refill stops. A holder that missed it is reached by sending the
//! request again (holders answer a repeat the same).

use tessera_audit::EntryKind;
use tessera_policy::PolicyAction;
use tessera_proto::api::{RetireWallet, WalletInfo, WalletStatus};
use tessera_proto::link::{Job, Outcome};
use tessera_wire::Action;

use crate::coordinator::{lock, CoordError, Coordinator};

impl Coordinator {
    /// The checks before any holder is asked: the wallet ready, the authorization for it at its
    /// epoch in force, the policy, no reshare running, every holder connected.
    fn admit_retirement(
        &self,
        wallet_id: &str,
        req: &RetireWallet,
    ) -> Result<WalletInfo, CoordError> {
        let wallet = self.ready_wallet(wallet_id)?;
        let expected = Action::Retire {
            wallet_id: wallet_id.to_string(),
            epoch: wallet.epoch,
        };
        if req.authorization.action != expected {
            return Err(CoordError::Invalid(
                "the authorization does not retire this wallet at its epoch in force".into(),
            ));
        }
        let action = PolicyAction::RetireWallet;
        self.admit_key_operation(&req.authorization, wallet_id, action, &req.approvals)?;
        if lock(&self.inner.resharing).contains(wallet_id) || wallet.committing_epoch.is_some() {
            return Err(CoordError::Conflict(format!(
                "a reshare of wallet {wallet_id} is still running"
            )));
        }
        if let Some(missing) = wallet
            .signers
            .iter()
            .find(|s| !self.inner.hub.is_connected(s))
        {
            return Err(CoordError::Unavailable(format!(
                "retiring needs every holder online; {missing} is not connected"
            )));
        }
        Ok(wallet)
    }

    /// Retires `wallet_id` at every holder; returns the wallet as now recorded.
    pub async fn retire_wallet(
        &self,
        wallet_id: &str,
        req: RetireWallet,
    ) -> Result<WalletInfo, CoordError> {
        let mut wallet = self.admit_retirement(wallet_id, &req)?;
        let roster = self.members(&wallet.signers)?;
        let all: Vec<u16> = roster.iter().map(|m| m.index).collect();
        let job = Job::Retire {
            authorization: req.authorization.clone(),
            approvals: req.approvals,
        };
        let timeout = self.inner.config.sign_timeout;
        let session = self.random_id();
        let outcomes = self
            .run_session(session, &wallet, &roster, &all, job, timeout)
            .await
            .map_err(|e| {
                CoordError::Unavailable(format!(
                    "not every holder retired the wallet: {}",
                    e.message
                ))
            })?;
        let epoch = wallet.epoch;
        if outcomes.len() != roster.len()
            || !outcomes
                .iter()
                .all(|(_, o)| matches!(o, Outcome::Retired { epoch: e } if *e == epoch))
        {
            return Err(CoordError::Unavailable(
                "not every holder answered the retirement".into(),
            ));
        }
        // Under the lock pooling takes, so a presign that finishes now is not pooled after the
        // pool was emptied.
        let dropped = {
            let _epoch = lock(&self.inner.epoch_change);
            wallet.status = WalletStatus::Retired;
            self.inner.store.update_wallet(&wallet)?;
            self.inner.store.pool_clear(wallet_id)?
        };
        self.inner.pool_changed.notify_waiters();
        let body = serde_json::json!({
            "epoch": epoch,
            "request": req.authorization.request_id,
            "presignatures_dropped": dropped,
        });
        self.record_audit(
            self.actor(),
            EntryKind::Other("wallet_retired".into()),
            wallet_id,
            body,
        )?;
        tracing::info!(wallet = %wallet_id, epoch, "wallet retired");
        Ok(wallet)
    }
}

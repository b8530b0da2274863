//! Retiring a wallet at this signer (`Job::Retire`): after a trusted operator's
//! `Action::Retire` for this wallet at the epoch this signer holds, allowed by the policy's
//! `retire_wallet` (with its approvals, when it asks for them), the signer records the wallet
//! as retired, destroys its presignatures and from then on refuses every session for it
//! ([`Signer::refuse_retired`]) — whatever a coordinator sends. The share stays in the vault (a
//! backup or an export is the way out); retiring is final.

use serde_json::json;
use tessera_audit::EntryKind;
use tessera_policy::{Approval, PolicyAction};
use tessera_proto::link::{FailureKind, Job, Outcome, StartSession};
use tessera_wire::{Action, Authorization};

use super::epochs::destroy_presignatures;
use super::{failure, lock, vault_failure, Refusal, Signer, Stop};

/// The vault setting that marks `wallet_id` retired (its value: the epoch).
fn retired_key(wallet_id: &str) -> String {
    format!("retired:{wallet_id}")
}

impl Signer {
    /// Retires `wallet_id` here, once `authz` and the policy allow it; a repeat is answered
    /// the same, without a second record.
    pub(super) fn retire(
        &self,
        wallet_id: &str,
        authz: &Authorization,
        approvals: &[Approval],
    ) -> Result<Outcome, Stop> {
        let unauthorized = |m: &str| Refusal::from(failure(FailureKind::Unauthorized, m));
        self.check_authorization(authz)?;
        let epoch = lock(&self.inner.vault)
            .committed_epoch(wallet_id)
            .map_err(vault_failure)?
            .ok_or_else(|| unauthorized("this signer holds no share of the wallet"))?;
        let expected = Action::Retire {
            wallet_id: wallet_id.to_string(),
            epoch,
        };
        if authz.action != expected {
            return Err(unauthorized("the authorization is for another wallet or epoch").into());
        }
        if self.retired_at(wallet_id)?.is_some() {
            return Ok(Outcome::Retired { epoch });
        }
        self.check_key_policy(wallet_id, authz, PolicyAction::RetireWallet, approvals)?;
        {
            let mut vault = lock(&self.inner.vault);
            let now = self.inner.clock.now_unix();
            vault
                .record_request(&authz.request_id, authz.expires_at, now)
                .map_err(vault_failure)?;
            vault
                .put_setting(&retired_key(wallet_id), &epoch.to_string())
                .map_err(vault_failure)?;
            destroy_presignatures(&mut vault, wallet_id)?;
        }
        lock(&self.inner.shares).remove(wallet_id);
        let body = json!({ "epoch": epoch, "request": authz.request_id });
        if let Err(e) = self.audit(EntryKind::Other("wallet_retired".into()), wallet_id, body) {
            tracing::error!(wallet = wallet_id, error = %e, "could not audit a retirement");
        }
        Ok(Outcome::Retired { epoch })
    }

    /// The epoch `wallet_id` was retired at here, if it was.
    fn retired_at(&self, wallet_id: &str) -> Result<Option<u32>, Refusal> {
        let value = lock(&self.inner.vault)
            .setting(&retired_key(wallet_id))
            .map_err(vault_failure)?;
        Ok(value.and_then(|v| v.parse().ok()))
    }

    /// Refuses every session but a repeated retirement for a retired wallet.
    pub(super) fn refuse_retired(&self, start: &StartSession) -> Result<(), Stop> {
        if matches!(start.job, Job::Retire { .. }) {
            return Ok(());
        }
        match self.retired_at(&start.wallet_id)? {
            None => Ok(()),
            Some(epoch) => Err(Refusal::from(failure(
                FailureKind::Unauthorized,
                &format!("wallet {} is retired (at epoch {epoch})", start.wallet_id),
            ))
            .into()),
        }
    }
}

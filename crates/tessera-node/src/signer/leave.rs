//! A former holder told that it left a wallet (`Job::Leave`): the wallet's new holders
//! committed an epoch whose roster leaves this signer out. The evidence is the trusted
//! operator's `Action::Reshare` that made the epoch (checked as a record: operator and
//! signature, not expiry, since the notice may reach a signer that was offline for days) and
//! every new holder's attestation of the wallet at that epoch, over this signer's own record of
//! the key, chain code and networks. Then the signer destroys its presignatures of the wallet
//! at once and, once the old-share grace period is over, every share it holds of it
//! ([`Signer::sweep_left_wallets`]). A signer that joins the wallet again later commits a
//! newer epoch, which the sweep sees and leaves alone.
//!
//! Nothing a coordinator sends can make a current holder destroy its share: the reshare's
//! roster must leave this signer out and its epoch must be above the one this signer holds, and
//! every holder the operator named must have attested the new epoch (so they stored their
//! shares). The dealers of that reshare were current holders, at least the old threshold of
//! them, and keep their old shares for the same grace period: destroying a leaver's share never
//! takes the old epoch below its threshold.

use serde_json::json;
use tessera_audit::EntryKind;
use tessera_crypto::KeyShare;
use tessera_proto::attestation::{WalletAttestation, WalletStatement};
use tessera_proto::link::Outcome;
use tessera_vault::StoredShare;
use tessera_wire::{Action, Authorization, NodeId};

use super::epochs::{check_attestations, destroy_presignatures, unauthorized};
use super::{crypto_failure, internal, lock, vault_failure, Refusal, Signer, Stop, WalletPublic};

/// The vault setting that records that this signer left `wallet_id`: `<epoch>:<unix time>`,
/// the epoch the holders committed without it and when this signer was told.
fn left_key(wallet_id: &str) -> String {
    format!("left:{wallet_id}")
}

/// A parsed [`left_key`] value: (epoch, unix time).
fn parse_left(value: &str) -> Option<(u32, u64)> {
    let (epoch, at) = value.split_once(':')?;
    Some((epoch.parse().ok()?, at.parse().ok()?))
}

impl Signer {
    /// Records that this signer left `wallet_id`, once the notice checks out; a repeat is
    /// answered the same without a second record.
    pub(super) fn leave(
        &self,
        wallet_id: &str,
        authz: &Authorization,
        attestations: &[WalletAttestation],
    ) -> Result<Outcome, Stop> {
        authz
            .verify_record(&self.inner.operators)
            .map_err(|e| unauthorized(&format!("authorization: {e}")))?;
        let Action::Reshare {
            wallet_id: named,
            epoch,
            threshold,
            signers,
            ..
        } = &authz.action
        else {
            return Err(unauthorized("the authorization is not a reshare").into());
        };
        if named != wallet_id {
            return Err(unauthorized("the authorization is for another wallet").into());
        }
        if signers.contains(&self.node_id()) {
            return Err(unauthorized("the reshare keeps this signer as a holder").into());
        }
        if self.left_at(wallet_id)?.is_some_and(|(at, _)| at >= *epoch) {
            return Ok(Outcome::Left { epoch: *epoch });
        }
        let stored = lock(&self.inner.vault)
            .share(wallet_id)
            .map_err(vault_failure)?;
        let Some(stored) = stored else {
            // Nothing committed here (never held, or already destroyed): nothing to record.
            return Ok(Outcome::Left { epoch: *epoch });
        };
        if stored.epoch >= *epoch {
            return Err(unauthorized(&format!(
                "this signer holds the wallet at epoch {}, not below the reshare's {epoch}",
                stored.epoch
            ))
            .into());
        }
        let statement = left_statement(wallet_id, &stored, *threshold, signers, *epoch)?;
        check_attestations(&statement, attestations)?;
        self.record_leave(wallet_id, authz, &statement, stored.epoch)?;
        Ok(Outcome::Left { epoch: *epoch })
    }

    /// Records the leave (`left:<wallet>` with the time), destroys the wallet's presignatures
    /// and audits `left_wallet`.
    fn record_leave(
        &self,
        wallet_id: &str,
        authz: &Authorization,
        statement: &WalletStatement,
        held_epoch: u32,
    ) -> Result<(), Stop> {
        let epoch = statement.epoch;
        {
            let mut vault = lock(&self.inner.vault);
            let now = self.inner.clock.now_unix();
            vault
                .put_setting(&left_key(wallet_id), &format!("{epoch}:{now}"))
                .map_err(vault_failure)?;
            destroy_presignatures(&mut vault, wallet_id)?;
        }
        lock(&self.inner.shares).remove(wallet_id);
        let body = json!({
            "epoch": epoch,
            "held_epoch": held_epoch,
            "request": authz.request_id,
            "holders": statement.signers.iter().map(|n| hex::encode(n.0)).collect::<Vec<_>>(),
        });
        if let Err(e) = self.audit(EntryKind::Other("left_wallet".into()), wallet_id, body) {
            tracing::error!(wallet = wallet_id, error = %e, "could not audit leaving a wallet");
        }
        tracing::info!(
            wallet = wallet_id,
            epoch,
            "left the wallet's holders; shares are destroyed after the grace period"
        );
        Ok(())
    }

    /// When this signer was told it left `wallet_id`: (the epoch committed without it, unix
    /// time).
    fn left_at(&self, wallet_id: &str) -> Result<Option<(u32, u64)>, Refusal> {
        let value = lock(&self.inner.vault)
            .setting(&left_key(wallet_id))
            .map_err(vault_failure)?;
        Ok(value.as_deref().and_then(parse_left))
    }

    /// Destroys every share of each wallet this signer left at least
    /// [`crate::SignerOptions::old_share_grace`] ago, unless it joined the wallet again since
    /// (its committed epoch is the one it left at or later); audited as
    /// `left_wallet_shares_destroyed`. Returns how many shares were destroyed.
    pub(super) fn sweep_left_wallets(&self, now: u64, grace: u64) -> usize {
        let wallets = lock(&self.inner.vault).wallets().unwrap_or_default();
        let mut destroyed = 0;
        for w in wallets {
            let Ok(Some((epoch, at))) = self.left_at(&w.wallet_id) else {
                continue;
            };
            let rejoining = w.prepared_epoch.is_some_and(|p| p >= epoch);
            if w.epoch >= epoch || rejoining || now < at.saturating_add(grace) {
                continue;
            }
            let result = lock(&self.inner.vault).destroy_wallet_shares(&w.wallet_id);
            match result {
                Ok(n) => {
                    destroyed += n;
                    let body =
                        json!({ "left_at_epoch": epoch, "held_epoch": w.epoch, "shares": n });
                    let kind = EntryKind::Other("left_wallet_shares_destroyed".into());
                    if let Err(e) = self.audit(kind, &w.wallet_id, body) {
                        tracing::error!(wallet = %w.wallet_id, error = %e, "could not audit destroyed shares");
                    }
                    tracing::info!(wallet = %w.wallet_id, shares = n, "a left wallet's shares destroyed after the grace period");
                }
                Err(e) => {
                    tracing::error!(wallet = %w.wallet_id, error = %e, "could not destroy a left wallet's shares")
                }
            }
        }
        destroyed
    }
}

/// The wallet at `epoch` as the reshare's roster and threshold and this signer's own record of
/// it (scheme, key, chain code, networks) make it: what every new holder must have attested.
fn left_statement(
    wallet_id: &str,
    stored: &StoredShare,
    threshold: u16,
    signers: &[NodeId],
    epoch: u32,
) -> Result<WalletStatement, Refusal> {
    let share = KeyShare::from_bytes(&stored.share).map_err(crypto_failure)?;
    let public: WalletPublic = serde_json::from_str(&stored.public_info)
        .map_err(|e| internal(format!("stored wallet record: {e}")))?;
    Ok(WalletStatement {
        wallet_id: wallet_id.to_string(),
        scheme: share.scheme(),
        threshold,
        signers: signers.to_vec(),
        public_key: share.public_key().clone(),
        chain_code: share.chain_code(),
        networks: public.networks,
        epoch,
    })
}

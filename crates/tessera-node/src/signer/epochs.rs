//! Reshares at this signer (refresh, a replaced signer, a new threshold and signer set), in two
//! phases so that a crash at any step leaves every holder on the old epoch or every holder on
//! the new one:
//!
//! 1. [`Job::Reshare`]: checked ([`Signer::authorize_reshare`]: a trusted operator's
//!    authorization for exactly this wallet, epoch, threshold, roster and dealers; the policy's
//!    `reshare_wallet`; this signer's own current share), then `tessera_crypto::reshare` runs
//!    and the new share is stored as a *prepared* epoch; the answer is this holder's
//!    attestation of the wallet at the new epoch. Nothing signs with a prepared share.
//! 2. [`Job::Epoch`]: commit, only with the attestations of every new holder over the same
//!    statement (so every one of them stored its share), or discard. Committing twice is
//!    answered as done, so the coordinator can repeat it after a crash.
//!
//! After a commit the wallet's presignatures (made with the old shares) are destroyed and the
//! cached share is dropped; sign jobs must then name the new roster.

use std::collections::BTreeMap;

use serde_json::json;
use tessera_audit::EntryKind;
use tessera_crypto::{
    scheme, KeyShare, ReshareInput, ResharePlan, SchemeId, SessionId, ThresholdParams,
};
use tessera_policy::PolicyAction;
use tessera_proto::attestation::{WalletAttestation, WalletStatement};
use tessera_proto::link::{EpochDecision, Failure, FailureKind, Member, Outcome, ReshareJob};
use tessera_vault::Vault;
use tessera_wire::{Action, NodeId};

use super::{
    crypto_failure, failure, internal, lock, vault_failure, Refusal, Signer, Stop, WalletPublic,
};
use crate::runner::{self, RunCtx};

/// The wallet a reshare job makes, as the new holders attest it.
fn statement(job: &ReshareJob, wallet_id: &str, roster: &[Member]) -> WalletStatement {
    WalletStatement {
        wallet_id: wallet_id.to_string(),
        scheme: job.scheme,
        threshold: job.threshold,
        signers: roster.iter().map(|m| m.identity.node_id()).collect(),
        public_key: job.public_key.clone(),
        chain_code: job.chain_code,
        networks: job.networks.clone(),
        epoch: job.epoch,
    }
}

/// What this signer holds of a wallet a reshare job names.
pub(super) enum Holding {
    /// Nothing: it joins the wallet.
    Nothing,
    /// A share of an epoch before the current one: it left the wallet's holders and joins again
    /// (its old share is not used; the commit makes the new one the share in force).
    Stale,
    /// The share of the current epoch (a dealer's, or a holder's record of the old sharing).
    Current(KeyShare),
}

pub(super) fn unauthorized(m: &str) -> Refusal {
    failure(FailureKind::Unauthorized, m).into()
}

impl Signer {
    /// Step 1's checks, before any message and before the vault changes: returns what this
    /// signer holds of the wallet.
    pub(super) fn authorize_reshare(
        &self,
        wallet_id: &str,
        roster: &[Member],
        me: u16,
        job: &ReshareJob,
    ) -> Result<Holding, Refusal> {
        self.check_authorization(&job.authorization)?;
        let expected = Action::Reshare {
            wallet_id: wallet_id.to_string(),
            epoch: job.epoch,
            threshold: job.threshold,
            signers: roster.iter().map(|m| m.identity.node_id()).collect(),
            dealers: job.dealers.clone(),
        };
        if job.authorization.action != expected {
            return Err(unauthorized("authorization is for a different reshare"));
        }
        self.check_key_policy(
            wallet_id,
            &job.authorization,
            PolicyAction::ReshareWallet,
            &job.approvals,
        )?;
        let current = self.current_share(wallet_id, job)?;
        let dealing = job.dealers.iter().find(|(new, _)| *new == me);
        match (&current, dealing) {
            (Holding::Nothing | Holding::Stale, Some(_)) => {
                return Err(failure(
                    FailureKind::NotReady,
                    "this signer is a dealer but holds no share of the wallet's current epoch",
                )
                .into())
            }
            (Holding::Current(share), Some((_, old))) if share.index() != *old => {
                return Err(unauthorized(
                    "the plan names another party index for this signer",
                ))
            }
            _ => {}
        }
        let mut vault = lock(&self.inner.vault);
        // An unsettled earlier attempt is superseded by this authorized one.
        vault.discard_prepared(wallet_id).map_err(vault_failure)?;
        vault
            .record_request(
                &job.authorization.request_id,
                job.authorization.expires_at,
                self.inner.clock.now_unix(),
            )
            .map_err(vault_failure)?;
        Ok(current)
    }

    /// This signer's committed share of `wallet_id`, checked against the job: the same scheme,
    /// key, chain code and networks (so a coordinator can neither bind the wallet to another
    /// network nor move its addresses by a reshare: the holders that keep a record refuse, and
    /// nothing commits without their attestations); the job's epoch exactly the next one (a current holder) or later (a holder
    /// that left and joins again); an epoch it already has is a replay.
    fn current_share(&self, wallet_id: &str, job: &ReshareJob) -> Result<Holding, Refusal> {
        let stored = lock(&self.inner.vault)
            .share(wallet_id)
            .map_err(vault_failure)?;
        let Some(stored) = stored else {
            return Ok(Holding::Nothing);
        };
        let share = KeyShare::from_bytes(&stored.share).map_err(crypto_failure)?;
        if share.scheme() != job.scheme || share.public_key() != &job.public_key {
            return Err(unauthorized(
                "the job names another key than this signer holds",
            ));
        }
        if share.chain_code() != job.chain_code {
            return Err(unauthorized(
                "the job names another chain code than this signer holds",
            ));
        }
        let public: WalletPublic = serde_json::from_str(&stored.public_info)
            .map_err(|e| internal(format!("stored wallet record: {e}")))?;
        if public.networks != job.networks {
            return Err(unauthorized(
                "the job binds the wallet to other networks than this signer holds",
            ));
        }
        if stored.epoch.checked_add(1) < Some(job.epoch) {
            return Ok(Holding::Stale);
        }
        if stored.epoch.checked_add(1) != Some(job.epoch) {
            return Err(failure(
                FailureKind::Replayed,
                &format!(
                    "the wallet is at epoch {} here; a reshare must make epoch {}",
                    stored.epoch,
                    stored.epoch.saturating_add(1)
                ),
            )
            .into());
        }
        Ok(Holding::Current(share))
    }

    /// Step 1's protocol: the new share, stored as the prepared epoch, and this holder's
    /// attestation of the wallet at that epoch.
    pub(super) fn reshare(
        &self,
        ctx: &mut RunCtx<'_>,
        sid: SessionId,
        wallet_id: &str,
        job: ReshareJob,
        holding: Holding,
    ) -> Result<Outcome, Failure> {
        let n = ctx.roster.len() as u16;
        let params = ThresholdParams::new(job.threshold, n).map_err(crypto_failure)?;
        let aux = if job.scheme == SchemeId::EcdsaCggmp24 {
            Some(self.aux_info(ctx, sid, n)?)
        } else {
            None
        };
        let joining = matches!(holding, Holding::Nothing);
        let old_share = match holding {
            Holding::Current(share) => Some(share),
            Holding::Nothing | Holding::Stale => None,
        };
        let plan = ResharePlan {
            scheme: job.scheme,
            public_key: job.public_key.clone(),
            chain_code: job.chain_code,
            old_threshold: job.old_threshold,
            dealers: job.dealers.iter().copied().collect::<BTreeMap<_, _>>(),
        };
        let rsid = sid.derive("reshare");
        let session = scheme(job.scheme)
            .reshare(ReshareInput {
                sid: rsid,
                me: ctx.me,
                params,
                plan,
                old_share,
                aux,
                import: None,
            })
            .map_err(crypto_failure)?;
        let share = runner::drive(ctx, rsid, session)?;
        let statement = statement(&job, wallet_id, ctx.roster);
        let public = WalletPublic {
            scheme: job.scheme,
            threshold: job.threshold,
            index: ctx.me,
            roster: statement.signers.clone(),
            public_key: share.public_key().to_hex(),
            epoch: job.epoch,
            networks: job.networks.clone(),
            reshare_session: Some(hex::encode(sid.0)),
        };
        let info = serde_json::to_string(&public).map_err(|e| internal(e.to_string()))?;
        {
            let mut vault = lock(&self.inner.vault);
            let stored = if joining {
                vault.prepare_joining_share(wallet_id, job.epoch, &share.to_bytes(), &info)
            } else {
                vault.prepare_share(wallet_id, job.epoch, &share.to_bytes(), &info)
            };
            stored.map_err(vault_failure)?;
        }
        self.audit_epoch(EntryKind::EpochPrepared, wallet_id, &statement);
        Ok(Outcome::Reshare {
            attestation: WalletAttestation::sign(&self.inner.identity, &statement),
        })
    }

    /// Step 2: commits the prepared epoch with every new holder's attestation, or discards it.
    pub(super) fn settle_epoch(
        &self,
        wallet_id: &str,
        roster: &[Member],
        epoch: u32,
        session: &[u8; 32],
        decision: EpochDecision,
    ) -> Result<Outcome, Stop> {
        let attestations = match decision {
            EpochDecision::Discard => return self.discard_epoch(wallet_id, epoch, session),
            EpochDecision::Commit { attestations } => attestations,
        };
        let committed = lock(&self.inner.vault)
            .committed_epoch(wallet_id)
            .map_err(vault_failure)?;
        if committed == Some(epoch) {
            // A repeated commit (the coordinator restarted before it heard every answer): a
            // crash between the commit and the destruction may have left old presignatures.
            self.destroy_presignatures(wallet_id)?;
            return Ok(Outcome::Epoch {
                epoch,
                committed: true,
            });
        }
        let statement = self.prepared_statement(wallet_id, roster, epoch, session)?;
        check_attestations(&statement, &attestations)?;
        {
            let mut vault = lock(&self.inner.vault);
            vault
                .commit_epoch(wallet_id, epoch)
                .map_err(vault_failure)?;
            destroy_presignatures(&mut vault, wallet_id)?;
            let now = self.inner.clock.now_unix().to_string();
            vault
                .put_setting(&committed_at_key(wallet_id), &now)
                .map_err(vault_failure)?;
        }
        lock(&self.inner.shares).remove(wallet_id);
        self.audit_epoch(EntryKind::EpochCommitted, wallet_id, &statement);
        Ok(Outcome::Epoch {
            epoch,
            committed: true,
        })
    }

    /// Destroys the shares of older epochs of every wallet whose current epoch this signer
    /// committed at least [`crate::SignerOptions::old_share_grace`] ago (the grace lets an
    /// operator fall back on them if the new epoch turns out unusable), audited as
    /// `old_shares_destroyed`, and every share of the wallets this signer left as long ago
    /// (`signer/leave.rs`). Returns how many shares were destroyed. The daemon runs it every
    /// minute.
    pub fn sweep_old_shares(&self) -> usize {
        let now = self.inner.clock.now_unix();
        let grace = self.inner.options.old_share_grace.as_secs();
        let mut destroyed = self.sweep_left_wallets(now, grace);
        let wallets = lock(&self.inner.vault).wallets().unwrap_or_default();
        for w in wallets.iter().filter(|w| w.epoch > 0) {
            let result = {
                let mut vault = lock(&self.inner.vault);
                let at = vault
                    .setting(&committed_at_key(&w.wallet_id))
                    .ok()
                    .flatten()
                    .and_then(|s| s.parse::<u64>().ok());
                match at {
                    Some(at) if now >= at.saturating_add(grace) => {
                        vault.destroy_shares_before(&w.wallet_id, w.epoch)
                    }
                    _ => Ok(0),
                }
            };
            match result {
                Ok(0) => {}
                Ok(n) => {
                    destroyed += n;
                    let body = json!({ "below_epoch": w.epoch, "shares": n });
                    let kind = EntryKind::Other("old_shares_destroyed".into());
                    if let Err(e) = self.audit(kind, &w.wallet_id, body) {
                        tracing::error!(wallet = %w.wallet_id, error = %e, "could not audit destroyed shares");
                    }
                    tracing::info!(wallet = %w.wallet_id, epoch = w.epoch, shares = n, "old epochs' shares destroyed after the grace period");
                }
                Err(e) => {
                    tracing::error!(wallet = %w.wallet_id, error = %e, "could not destroy old shares")
                }
            }
        }
        destroyed
    }

    fn destroy_presignatures(&self, wallet_id: &str) -> Result<(), Stop> {
        destroy_presignatures(&mut lock(&self.inner.vault), wallet_id)
    }

    /// Discards the prepared share at `epoch` if the named session made it (another attempt's
    /// share stays for its own decision).
    fn discard_epoch(
        &self,
        wallet_id: &str,
        epoch: u32,
        session: &[u8; 32],
    ) -> Result<Outcome, Stop> {
        let mut vault = lock(&self.inner.vault);
        let prepared = vault.prepared_share(wallet_id).map_err(vault_failure)?;
        let ours = prepared.as_ref().is_some_and(|p| {
            p.epoch == epoch
                && serde_json::from_str::<WalletPublic>(&p.public_info)
                    .is_ok_and(|w| w.reshare_session == Some(hex::encode(session)))
        });
        if ours {
            vault.discard_prepared(wallet_id).map_err(vault_failure)?;
            drop(vault);
            let body = json!({ "epoch": epoch });
            if let Err(e) = self.audit(EntryKind::EpochDiscarded, wallet_id, body) {
                tracing::error!(wallet = wallet_id, error = %e, "could not audit a discarded epoch");
            }
        }
        Ok(Outcome::Epoch {
            epoch,
            committed: false,
        })
    }

    /// The statement of the share the reshare `session` prepared at `epoch`, which the roster
    /// must match.
    fn prepared_statement(
        &self,
        wallet_id: &str,
        roster: &[Member],
        epoch: u32,
        session: &[u8; 32],
    ) -> Result<WalletStatement, Refusal> {
        let prepared = lock(&self.inner.vault)
            .prepared_share(wallet_id)
            .map_err(vault_failure)?
            .filter(|p| p.epoch == epoch)
            .ok_or_else(|| failure(FailureKind::NotReady, "no prepared share at this epoch"))?;
        let public: WalletPublic = serde_json::from_str(&prepared.public_info)
            .map_err(|e| internal(format!("stored wallet info: {e}")))?;
        let share = KeyShare::from_bytes(&prepared.share).map_err(crypto_failure)?;
        if public.reshare_session != Some(hex::encode(session)) {
            return Err(unauthorized(
                "the prepared share was made by another reshare session",
            ));
        }
        let ids: Vec<NodeId> = roster.iter().map(|m| m.identity.node_id()).collect();
        if ids != public.roster {
            return Err(unauthorized("the roster differs from the prepared epoch's"));
        }
        Ok(WalletStatement {
            wallet_id: wallet_id.to_string(),
            scheme: public.scheme,
            threshold: public.threshold,
            signers: public.roster,
            public_key: share.public_key().clone(),
            chain_code: share.chain_code(),
            networks: public.networks,
            epoch,
        })
    }

    fn audit_epoch(&self, kind: EntryKind, wallet_id: &str, statement: &WalletStatement) {
        let body = json!({
            "epoch": statement.epoch,
            "scheme": statement.scheme.name(),
            "threshold": statement.threshold,
            "public_key": statement.public_key.to_hex(),
            "signers": statement.signers.iter().map(|n| hex::encode(n.0)).collect::<Vec<_>>(),
        });
        // The vault is already updated: a failed append is logged, not fatal.
        if let Err(e) = self.audit(kind, wallet_id, body) {
            tracing::error!(wallet = wallet_id, error = %e, "could not audit an epoch change");
        }
    }
}

/// Every holder of `statement` attested it exactly once, and nobody else did.
pub(super) fn check_attestations(
    statement: &WalletStatement,
    attestations: &[WalletAttestation],
) -> Result<(), Refusal> {
    let mut seen: Vec<NodeId> = Vec::new();
    for a in attestations {
        if !statement.signers.contains(&a.node_id) || seen.contains(&a.node_id) {
            return Err(unauthorized(
                "an attestation from a non-holder or given twice",
            ));
        }
        a.verify(statement)
            .map_err(|_| unauthorized("an attestation does not verify for this epoch"))?;
        seen.push(a.node_id);
    }
    if seen.len() != statement.signers.len() {
        return Err(unauthorized(
            "a commit needs the attestation of every new holder",
        ));
    }
    Ok(())
}

/// Vault setting: when this signer committed the wallet's current epoch (unix seconds).
fn committed_at_key(wallet_id: &str) -> String {
    format!("epoch-committed-at:{wallet_id}")
}

/// Consumes (deletes, and never accepts again) every presignature of `wallet_id`: they were
/// made with the shares of an older epoch.
pub(super) fn destroy_presignatures(vault: &mut Vault, wallet_id: &str) -> Result<(), Stop> {
    for id in vault.presignature_ids(wallet_id).map_err(vault_failure)? {
        vault
            .take_presignature(wallet_id, &id)
            .map_err(vault_failure)?;
    }
    Ok(())
}

//! Signer health and the degraded-mode recommendation.
//!
//! Every second the coordinator counts, for each ready wallet, the members of its signer group
//! that are *healthy*: enrolled, linked now and — once a bundle is installed — reporting the
//! bundle version in force (a signer on another version refuses every request). A wallet is
//! below the margin while fewer than `threshold + margin` members are healthy
//! ([`Config::degraded_margin`](crate::Config)), unavailable below `threshold`.
//!
//! The recommendation follows: `degraded` while any wallet is below the margin, `normal` once
//! none is (`lockdown` is reported while one is in force: only the admins lift it). It changes
//! only after the new condition has held for [`Config::health_grace`](crate::Config), so a
//! signer that reconnects at once does not flap it; each change is logged once, appended to the
//! audit log (`other: health_change`, subject `mode`) and exported as metrics.
//!
//! **The coordinator never changes the mode itself.** Entering or leaving a mode is a
//! `ModeChange` signed by the admin quorum (`tessera mode set`), checked by every signer: a
//! coordinator that could enter or leave a mode on its own could also lift the restrictions of
//! one. It reports, the admins decide.

use std::collections::HashSet;

use serde_json::json;
use tessera_audit::EntryKind;
use tessera_policy::{mode_in_force, Mode};
use tessera_proto::api::WalletInfo;
use tessera_proto::api::{GroupHealth, ModeStatus, WalletHealth, WalletStatus};
use tessera_wire::NodeId;

use crate::coordinator::{lock, CoordError, Coordinator};

/// Most wallets [`ModeStatus::wallets_below_margin`] lists.
pub const MAX_LISTED_WALLETS: usize = 100;

/// The committed recommendation and a pending change of it.
#[derive(Debug, Default)]
pub(crate) struct HealthState {
    /// What signer health calls for (`normal` or `degraded`), as last committed.
    recommended: Mode,
    /// When it was committed (ms; 0: since start).
    since_ms: u64,
    /// A different recommendation and since when it has held, waiting out the grace period.
    pending: Option<(Mode, u64)>,
}

/// One assessment of every ready wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// Ready wallets.
    pub wallets_total: u32,
    /// Ready wallets below the margin: unavailable ones first, then by fewest spare signers,
    /// then by id.
    pub below_margin: Vec<WalletHealth>,
}

/// Where each ready wallet of `wallets` stands when `healthy` are the healthy signers.
pub fn assess(wallets: &[WalletInfo], healthy: &HashSet<NodeId>, margin: u16) -> Assessment {
    let mut total = 0u32;
    let mut below = Vec::new();
    for w in wallets.iter().filter(|w| w.status == WalletStatus::Ready) {
        total += 1;
        let up = w.signers.iter().filter(|s| healthy.contains(s)).count() as u16;
        let state = if up < w.threshold {
            GroupHealth::Unavailable
        } else if up < w.threshold.saturating_add(margin) {
            GroupHealth::BelowMargin
        } else {
            GroupHealth::Healthy
        };
        if state != GroupHealth::Healthy {
            below.push(WalletHealth {
                wallet_id: w.wallet_id.clone(),
                threshold: w.threshold,
                signers: w.signers.len() as u16,
                healthy: up,
                state,
            });
        }
    }
    below.sort_by(|a, b| {
        let spare = |h: &WalletHealth| i32::from(h.healthy) - i32::from(h.threshold);
        spare(a)
            .cmp(&spare(b))
            .then_with(|| a.wallet_id.cmp(&b.wallet_id))
    });
    Assessment {
        wallets_total: total,
        below_margin: below,
    }
}

/// What signer health calls for: `degraded` while a wallet is below the margin.
fn health_mode(a: &Assessment) -> Mode {
    if a.below_margin.is_empty() {
        Mode::Normal
    } else {
        Mode::Degraded
    }
}

fn recommendation_text(in_force: Mode, recommended: Mode, a: &Assessment, margin: u16) -> String {
    if in_force == Mode::Lockdown {
        return "a lockdown is in force: nothing signs until the admin quorum lifts it".into();
    }
    let worst = a.below_margin.first().map(|w| {
        format!(
            "{}: {} of {} signers healthy, {} needed",
            w.wallet_id, w.healthy, w.signers, w.threshold
        )
    });
    match (recommended, in_force, worst) {
        (Mode::Degraded, Mode::Degraded, Some(w)) => format!(
            "stay in degraded mode: {} wallet(s) below the margin of {margin} spare signer(s) \
             (worst {w})",
            a.below_margin.len()
        ),
        (Mode::Degraded, _, Some(w)) => format!(
            "enter degraded mode (tessera mode set degraded): {} wallet(s) below the margin of \
             {margin} spare signer(s) (worst {w})",
            a.below_margin.len()
        ),
        (_, Mode::Degraded, _) => format!(
            "leave degraded mode (tessera mode set normal): every wallet has its threshold plus \
             {margin} healthy signer(s)"
        ),
        _ => format!("normal: every wallet has its threshold plus {margin} healthy signer(s)"),
    }
}

impl Coordinator {
    /// The number of enrolled signers, and those linked now that report bundle `version`
    /// (any version when `version` is 0: no bundle installed).
    pub(crate) fn signers_on_version(
        &self,
        version: u64,
    ) -> Result<(u32, Vec<NodeId>), CoordError> {
        let enrolled = self.inner.store.signers()?;
        let healthy = enrolled
            .iter()
            .map(|s| s.identity.node_id())
            .filter(|n| {
                self.inner
                    .hub
                    .status(n)
                    .is_some_and(|s| version == 0 || s.policy_version == version)
            })
            .collect();
        Ok((enrolled.len() as u32, healthy))
    }

    fn assess_now(&self) -> Result<(u32, Vec<NodeId>, Assessment), CoordError> {
        let (enrolled, healthy) = self.signers_on_version(self.policy_version())?;
        let set: HashSet<NodeId> = healthy.iter().copied().collect();
        let a = assess(
            &self.inner.store.wallets()?,
            &set,
            self.inner.config.degraded_margin,
        );
        Ok((enrolled, healthy, a))
    }

    /// Assesses signer health once and commits a changed recommendation after the grace
    /// period (audited; an append that fails leaves it pending, to be tried again). The sweep
    /// calls this every second.
    pub fn check_health(&self) -> Result<(), CoordError> {
        let (enrolled, healthy, a) = self.assess_now()?;
        let m = &self.inner.metrics;
        m.signers_healthy.set(healthy.len() as i64);
        m.wallets_below_margin.set(a.below_margin.len() as i64);
        let now = self.inner.clock.now_ms();
        let candidate = health_mode(&a);
        let mut st = lock(&self.inner.health);
        if candidate == st.recommended {
            st.pending = None;
            return Ok(());
        }
        let since = match st.pending {
            Some((m, since)) if m == candidate => since,
            _ => {
                st.pending = Some((candidate, now));
                now
            }
        };
        if now.saturating_sub(since) < self.inner.config.health_grace.as_millis() as u64 {
            return Ok(());
        }
        let margin = self.inner.config.degraded_margin;
        let in_force = self.mode_now();
        let text = recommendation_text(in_force, candidate, &a, margin);
        self.record_audit(
            self.inner.audit.chain_id(),
            EntryKind::Other("health_change".into()),
            "mode",
            json!({
                "from": st.recommended.name(),
                "to": candidate.name(),
                "mode_in_force": in_force.name(),
                "margin": margin,
                "signers_enrolled": enrolled,
                "signers_healthy": healthy.len(),
                "wallets_total": a.wallets_total,
                "wallets_below_margin": a.below_margin.len(),
                "worst": a.below_margin.iter().take(10).map(|w| json!({
                    "wallet": w.wallet_id,
                    "healthy": w.healthy,
                    "threshold": w.threshold,
                    "signers": w.signers,
                })).collect::<Vec<_>>(),
            }),
        )?;
        if candidate == Mode::Degraded {
            tracing::warn!(
                healthy = healthy.len(),
                enrolled,
                wallets_below_margin = a.below_margin.len(),
                "signer health calls for degraded mode: {text}"
            );
        } else {
            tracing::info!(
                healthy = healthy.len(),
                enrolled,
                "signer health restored: {text}"
            );
        }
        st.recommended = candidate;
        st.since_ms = now;
        st.pending = None;
        m.mode_recommended
            .set(i64::from(candidate == Mode::Degraded));
        Ok(())
    }

    /// `GET /v1/mode`: the mode in force, the committed recommendation and the wallets below
    /// the margin now.
    pub fn mode_status(&self) -> Result<ModeStatus, CoordError> {
        let (enrolled, healthy, a) = self.assess_now()?;
        let change = self.mode_change();
        let now = self.inner.clock.now_unix();
        let in_force = mode_in_force(change.as_ref(), now);
        let current = change
            .as_ref()
            .filter(|c| now >= c.issued_at && now < c.expires_at);
        let (health, since_ms) = {
            let st = lock(&self.inner.health);
            (st.recommended, st.since_ms)
        };
        let recommended = if in_force == Mode::Lockdown {
            Mode::Lockdown
        } else {
            health
        };
        let margin = self.inner.config.degraded_margin;
        Ok(ModeStatus {
            mode: in_force.name().to_string(),
            seq: change.as_ref().map(|c| c.seq).unwrap_or(0),
            reason: current.map(|c| c.reason.clone()).unwrap_or_default(),
            expires_at: current.map(|c| c.expires_at),
            recommended: recommended.name().to_string(),
            recommendation: recommendation_text(in_force, recommended, &a, margin),
            recommended_since_ms: since_ms,
            margin,
            signers_enrolled: enrolled,
            signers_healthy: healthy,
            wallets_total: a.wallets_total,
            wallets_below_margin_count: a.below_margin.len() as u32,
            wallets_below_margin: a
                .below_margin
                .into_iter()
                .take(MAX_LISTED_WALLETS)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_crypto::SchemeId;

    fn node(b: u8) -> NodeId {
        NodeId([b; 32])
    }

    fn wallet(id: &str, t: u16, members: &[u8], status: WalletStatus) -> WalletInfo {
        WalletInfo {
            wallet_id: id.into(),
            name: id.into(),
            scheme: SchemeId::Ed25519,
            threshold: t,
            signers: members.iter().map(|b| node(*b)).collect(),
            status,
            public_key: None,
            chain_code: None,
            keygen_session: String::new(),
            pool: 0,
            created_at_ms: 0,
            error: None,
            attestations: Vec::new(),
            networks: Vec::new(),
            epoch: 0,
            committing_epoch: None,
        }
    }

    #[test]
    fn wallets_are_sorted_by_spare_signers_and_only_ready_ones_count() {
        let wallets = [
            wallet("a-2of3", 2, &[1, 2, 3], WalletStatus::Ready),
            wallet("b-3of5", 3, &[1, 2, 3, 4, 5], WalletStatus::Ready),
            wallet("c-2of2", 2, &[1, 4], WalletStatus::Ready),
            wallet("d-creating", 2, &[4, 5, 6], WalletStatus::Creating),
        ];
        let healthy: HashSet<NodeId> = [1, 2, 3].into_iter().map(node).collect();
        let a = assess(&wallets, &healthy, 1);
        assert_eq!(a.wallets_total, 3);
        let got: Vec<(&str, u16, GroupHealth)> = a
            .below_margin
            .iter()
            .map(|w| (w.wallet_id.as_str(), w.healthy, w.state))
            .collect();
        // a-2of3 has 3 healthy: 1 spare, meets margin 1. b-3of5 has 3 of 5: no spare.
        // c-2of2 has 1 of 2: cannot sign.
        assert_eq!(
            got,
            vec![
                ("c-2of2", 1, GroupHealth::Unavailable),
                ("b-3of5", 3, GroupHealth::BelowMargin),
            ]
        );
        assert_eq!(health_mode(&a), Mode::Degraded);
        // Margin 0: only wallets that cannot sign count.
        let a0 = assess(&wallets, &healthy, 0);
        assert_eq!(a0.below_margin.len(), 1);
        assert_eq!(a0.below_margin[0].wallet_id, "c-2of2");
    }

    #[test]
    fn all_healthy_recommends_normal() {
        let wallets = [wallet("a", 2, &[1, 2, 3], WalletStatus::Ready)];
        let healthy: HashSet<NodeId> = [1, 2, 3].into_iter().map(node).collect();
        let a = assess(&wallets, &healthy, 1);
        assert!(a.below_margin.is_empty());
        assert_eq!(health_mode(&a), Mode::Normal);
        assert!(recommendation_text(Mode::Degraded, Mode::Normal, &a, 1)
            .starts_with("leave degraded mode"));
        assert!(recommendation_text(Mode::Lockdown, Mode::Normal, &a, 1).contains("lockdown"));
    }
}

//! Policy freshness: the admins' signed word that a bundle and a mode change are still the ones
//! in force, so a coordinator cannot keep a signer on an old policy by withholding a newer one.
//!
//! A signer configured with a maximum policy age signs only while its policy is *fresh*: the
//! bundle was created, or a quorum of its admins signed a [`Freshness`] naming exactly that
//! bundle (version and hash) and the mode change in force (its sequence number, 0 for none), no
//! longer ago than that age ([`fresh_since`]). Admins refresh on a schedule (`tessera policy
//! refresh`). Once they have signed a newer bundle or a lockdown, their refreshes name that one:
//! a signer the coordinator keeps on the old one cannot accept them ([`FreshnessError::
//! OtherBundle`], [`FreshnessError::OtherMode`]), its policy ages, and it stops signing —
//! fail-closed, saying why.

use serde::{Deserialize, Serialize};

use crate::bundle::{AdminSignature, PolicyBundle, QuorumFault};
use crate::codec::{put_str, put_u64};
use crate::keys::{PublicKey, SecretKey};
use crate::mode::ModeChange;

/// Domain tag of what admins sign for a freshness statement.
pub const FRESHNESS_DOMAIN: &str = "tessera/policy-freshness/v1";

/// How far in the future a statement's `issued_at` may be (clock skew between machines).
pub const MAX_FRESHNESS_SKEW_S: u64 = 300;

/// "Bundle `policy_version` (`bundle_hash`) and mode change `mode_seq` are in force as of
/// `issued_at`", signed by a quorum of the bundle's admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    /// Tenant (the bundle's).
    pub tenant: String,
    /// Version of the bundle in force.
    pub policy_version: u64,
    /// Its hash ([`PolicyBundle::bundle_hash`]), lowercase hex.
    #[serde(with = "crate::codec::hexarr")]
    pub bundle_hash: [u8; 32],
    /// Sequence number of the mode change in force (0: none was ever made).
    pub mode_seq: u64,
    /// When the admins signed (unix seconds).
    pub issued_at: u64,
    /// Admin signatures over [`Freshness::signing_bytes`].
    #[serde(default)]
    pub admin_signatures: Vec<AdminSignature>,
}

/// Why a freshness statement is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FreshnessError {
    /// It names another bundle than the one installed here (a newer one may be withheld).
    #[error("the refresh names policy version {attested}, this signer holds version {installed}")]
    OtherBundle {
        /// Installed version.
        installed: u64,
        /// Version (or hash) the statement names.
        attested: u64,
    },
    /// It names another mode change than the one in force here (one may be withheld).
    #[error("the refresh names mode change {attested}, this signer holds {installed}")]
    OtherMode {
        /// Sequence in force here (0: none).
        installed: u64,
        /// Sequence the statement names.
        attested: u64,
    },
    /// Not newer than the statement in force.
    #[error("the refresh of {candidate} is not newer than the one in force ({current})")]
    NotNewer {
        /// `issued_at` in force.
        current: u64,
        /// `issued_at` offered.
        candidate: u64,
    },
    /// Issued too far in the future.
    #[error("the refresh is issued at {issued_at}, after now ({now}) plus the allowed skew")]
    FromTheFuture {
        /// `issued_at`.
        issued_at: u64,
        /// Now.
        now: u64,
    },
    /// A signature names a key that is not an admin of the bundle.
    #[error("refresh signed by {admin}, which is not an admin")]
    UnknownAdmin {
        /// The key.
        admin: PublicKey,
    },
    /// A signature does not verify.
    #[error("admin {admin} signature does not verify over this refresh")]
    BadSignature {
        /// The key.
        admin: PublicKey,
    },
    /// Too few distinct admins signed.
    #[error("refresh has {have} valid admin signature(s), {need} needed")]
    QuorumNotMet {
        /// Valid distinct admins.
        have: usize,
        /// Needed.
        need: usize,
    },
}

impl Freshness {
    /// An unsigned statement for `bundle` and the mode change `mode` in force, at `issued_at`.
    pub fn new(bundle: &PolicyBundle, mode: Option<&ModeChange>, issued_at: u64) -> Self {
        Freshness {
            tenant: bundle.tenant.clone(),
            policy_version: bundle.version,
            bundle_hash: bundle.bundle_hash(),
            mode_seq: mode.map_or(0, |m| m.seq),
            issued_at,
            admin_signatures: Vec::new(),
        }
    }

    /// What admins sign: `str(FRESHNESS_DOMAIN) || str(tenant) || u64(policy_version) ||
    /// bundle_hash(32) || u64(mode_seq) || u64(issued_at)`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.tenant.len());
        put_str(&mut out, FRESHNESS_DOMAIN);
        put_str(&mut out, &self.tenant);
        put_u64(&mut out, self.policy_version);
        out.extend_from_slice(&self.bundle_hash);
        put_u64(&mut out, self.mode_seq);
        put_u64(&mut out, self.issued_at);
        out
    }

    /// Adds (or replaces) `key`'s signature.
    pub fn sign(&mut self, key: &SecretKey) {
        let admin = key.public();
        let signature = key.sign(&self.signing_bytes());
        self.admin_signatures.retain(|s| s.admin != admin);
        self.admin_signatures
            .push(AdminSignature { admin, signature });
    }

    /// Checks the statement against the bundle and mode change in force here: exactly that
    /// bundle (tenant, version, hash) and mode sequence, not issued after `now` plus
    /// [`MAX_FRESHNESS_SKEW_S`], signed by a quorum of the bundle's admins.
    pub fn verify(
        &self,
        bundle: &PolicyBundle,
        mode: Option<&ModeChange>,
        now_unix: u64,
    ) -> Result<(), FreshnessError> {
        if self.tenant != bundle.tenant
            || self.policy_version != bundle.version
            || self.bundle_hash != bundle.bundle_hash()
        {
            return Err(FreshnessError::OtherBundle {
                installed: bundle.version,
                attested: self.policy_version,
            });
        }
        let installed = mode.map_or(0, |m| m.seq);
        if self.mode_seq != installed {
            return Err(FreshnessError::OtherMode {
                installed,
                attested: self.mode_seq,
            });
        }
        if self.issued_at > now_unix.saturating_add(MAX_FRESHNESS_SKEW_S) {
            return Err(FreshnessError::FromTheFuture {
                issued_at: self.issued_at,
                now: now_unix,
            });
        }
        bundle
            .admins
            .check_quorum(&self.signing_bytes(), &self.admin_signatures)
            .map_err(FreshnessError::from)
    }
}

impl From<QuorumFault> for FreshnessError {
    fn from(f: QuorumFault) -> Self {
        match f {
            QuorumFault::UnknownAdmin(admin) => FreshnessError::UnknownAdmin { admin },
            QuorumFault::BadSignature(admin) => FreshnessError::BadSignature { admin },
            QuorumFault::NotMet { have, need } => FreshnessError::QuorumNotMet { have, need },
        }
    }
}

/// Whether a signer replaces `current` (the statement it accepted before, if any) with
/// `candidate`: [`Freshness::verify`], then a strictly later `issued_at` than `current`'s when
/// that one is about the same bundle.
pub fn accept_freshness(
    current: Option<&Freshness>,
    candidate: &Freshness,
    bundle: &PolicyBundle,
    mode: Option<&ModeChange>,
    now_unix: u64,
) -> Result<(), FreshnessError> {
    candidate.verify(bundle, mode, now_unix)?;
    match current {
        Some(cur)
            if cur.policy_version == candidate.policy_version
                && cur.issued_at >= candidate.issued_at =>
        {
            Err(FreshnessError::NotNewer {
                current: cur.issued_at,
                candidate: candidate.issued_at,
            })
        }
        _ => Ok(()),
    }
}

/// Since when the policy in force is known fresh: the bundle's creation, or the latest accepted
/// statement about exactly this bundle and mode change, whichever is later. A mode change
/// counts from its own `issued_at` too (the admins signed it then).
pub fn fresh_since(
    bundle: &PolicyBundle,
    mode: Option<&ModeChange>,
    statement: Option<&Freshness>,
) -> u64 {
    let mut since = bundle.created_at;
    if let Some(m) = mode {
        since = since.max(m.issued_at);
    }
    if let Some(f) = statement {
        let same_bundle =
            f.policy_version == bundle.version && f.bundle_hash == bundle.bundle_hash();
        if same_bundle && f.mode_seq == mode.map_or(0, |m| m.seq) {
            since = since.max(f.issued_at);
        }
    }
    since
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::bundle::AdminSet;
    use crate::mode::Mode;

    fn admins() -> Vec<SecretKey> {
        (1u8..=3).map(|i| SecretKey::from_seed(&[i; 32])).collect()
    }

    fn bundle(version: u64, created_at: u64) -> PolicyBundle {
        let keys = admins();
        PolicyBundle {
            version,
            tenant: "acme".into(),
            policies: String::new(),
            roles: Default::default(),
            admins: AdminSet::new(keys.iter().map(|k| k.public()), 2).unwrap(),
            velocity: Default::default(),
            created_at,
            quarantined: Default::default(),
        }
    }

    fn signed(b: &PolicyBundle, mode: Option<&ModeChange>, at: u64, by: &[usize]) -> Freshness {
        let mut f = Freshness::new(b, mode, at);
        let keys = admins();
        for &i in by {
            f.sign(&keys[i]);
        }
        f
    }

    #[test]
    fn a_quorum_refresh_of_the_bundle_in_force_is_accepted_and_extends_freshness() {
        let b = bundle(3, 1_000);
        let f = signed(&b, None, 5_000, &[0, 2]);
        accept_freshness(None, &f, &b, None, 5_000).unwrap();
        assert_eq!(fresh_since(&b, None, None), 1_000);
        assert_eq!(fresh_since(&b, None, Some(&f)), 5_000);
        // Only a later one replaces it.
        let again = signed(&b, None, 5_000, &[0, 1]);
        assert!(matches!(
            accept_freshness(Some(&f), &again, &b, None, 6_000),
            Err(FreshnessError::NotNewer { .. })
        ));
        let later = signed(&b, None, 6_000, &[0, 1]);
        accept_freshness(Some(&f), &later, &b, None, 6_000).unwrap();
    }

    #[test]
    fn a_refresh_of_a_newer_bundle_or_mode_does_not_freshen_the_old_one() {
        let old = bundle(3, 1_000);
        let newer = bundle(4, 4_000);
        let f = signed(&newer, None, 5_000, &[0, 1]);
        assert_eq!(
            accept_freshness(None, &f, &old, None, 5_000),
            Err(FreshnessError::OtherBundle {
                installed: 3,
                attested: 4
            })
        );
        assert_eq!(fresh_since(&old, None, Some(&f)), 1_000);
        // Same version, other content (a forked bundle): refused too.
        let mut fork = bundle(3, 1_000);
        fork.policies = "permit (principal, action, resource);".into();
        let f = signed(&fork, None, 5_000, &[0, 1]);
        assert!(matches!(
            accept_freshness(None, &f, &old, None, 5_000),
            Err(FreshnessError::OtherBundle { .. })
        ));
        // The admins entered lockdown (seq 7); this signer never got it.
        let mut lockdown = ModeChange::new("acme", 7, Mode::Lockdown, "incident", 4_000, 90_000);
        for k in &admins()[..2] {
            lockdown.sign(k);
        }
        let f = signed(&old, Some(&lockdown), 5_000, &[0, 1]);
        assert_eq!(
            accept_freshness(None, &f, &old, None, 5_000),
            Err(FreshnessError::OtherMode {
                installed: 0,
                attested: 7
            })
        );
        assert_eq!(fresh_since(&old, None, Some(&f)), 1_000);
        assert_eq!(fresh_since(&old, Some(&lockdown), Some(&f)), 5_000);
    }

    #[test]
    fn forged_short_or_future_refreshes_are_refused() {
        let b = bundle(3, 1_000);
        let one = signed(&b, None, 5_000, &[0]);
        assert_eq!(
            accept_freshness(None, &one, &b, None, 5_000),
            Err(FreshnessError::QuorumNotMet { have: 1, need: 2 })
        );
        let mut stranger = signed(&b, None, 5_000, &[0]);
        stranger.sign(&SecretKey::from_seed(&[9; 32]));
        assert!(matches!(
            accept_freshness(None, &stranger, &b, None, 5_000),
            Err(FreshnessError::UnknownAdmin { .. })
        ));
        let mut edited = signed(&b, None, 5_000, &[0, 1]);
        edited.issued_at = 9_000;
        assert!(matches!(
            accept_freshness(None, &edited, &b, None, 9_000),
            Err(FreshnessError::BadSignature { .. })
        ));
        let future = signed(&b, None, 5_000 + MAX_FRESHNESS_SKEW_S + 1, &[0, 1]);
        assert!(matches!(
            accept_freshness(None, &future, &b, None, 5_000),
            Err(FreshnessError::FromTheFuture { .. })
        ));
    }
}

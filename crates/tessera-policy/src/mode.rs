//! Operating modes: `normal`, `degraded` (fewer healthy signers than the configured margin) and
//! `lockdown` (suspected compromise).
//!
//! Entering or leaving a mode is a [`ModeChange`] signed by a quorum of the policy bundle's
//! admins, with a sequence number (a signer accepts only a strictly greater one) and an expiry
//! (a change is in force from `issued_at` until `expires_at`; afterwards the mode is `normal`
//! again unless a newer change was signed). Every evaluation takes the mode in force:
//!
//! - `lockdown`: every action except `change_policy` is denied by the engine itself
//!   ([`crate::DenyReason::Lockdown`]); no policy can permit it.
//! - `degraded`: policies see `context.mode == "degraded"` and name which wallets and tiers may
//!   still sign and under which stricter rules (the templates forbid large amounts and new
//!   destinations, and require approvals for everything else).
//! - `normal`: `context.mode == "normal"`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::bundle::{AdminSignature, PolicyBundle, QuorumFault};
use crate::codec::{put_str, put_u64};
use crate::keys::{PublicKey, SecretKey};

/// Domain tag of what admins sign for a mode change.
pub const MODE_DOMAIN: &str = "tessera/mode-change/v1";

/// Longest a mode change may be in force (`expires_at - issued_at`): 7 days.
pub const MAX_MODE_S: u64 = 7 * 86_400;

/// An operating mode.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Everything the policy allows.
    #[default]
    Normal,
    /// Fewer healthy signers than the margin: policies restrict what may still sign.
    Degraded,
    /// Suspected compromise: nothing signs.
    Lockdown,
}

impl Mode {
    /// `normal`, `degraded` or `lockdown` (also the Cedar `context.mode` value).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Degraded => "degraded",
            Mode::Lockdown => "lockdown",
        }
    }

    fn tag(self) -> u8 {
        match self {
            Mode::Normal => 0,
            Mode::Degraded => 1,
            Mode::Lockdown => 2,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "normal" => Ok(Mode::Normal),
            "degraded" => Ok(Mode::Degraded),
            "lockdown" => Ok(Mode::Lockdown),
            other => Err(format!(
                "unknown mode {other:?} (normal, degraded, lockdown)"
            )),
        }
    }
}

/// Why a mode change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModeError {
    /// The sequence number is not greater than the change in force.
    #[error("mode change {candidate} is not newer than the change in force ({current})")]
    StaleSequence {
        /// Sequence in force.
        current: u64,
        /// Sequence offered.
        candidate: u64,
    },
    /// For another tenant than the bundle.
    #[error("mode change is for tenant {candidate:?}, the policy for {bundle:?}")]
    TenantMismatch {
        /// Bundle tenant.
        bundle: String,
        /// Change tenant.
        candidate: String,
    },
    /// Outside `issued_at ..< expires_at`, or longer than [`MAX_MODE_S`].
    #[error("mode change is not valid now: {reason}")]
    NotValidNow {
        /// Why.
        reason: String,
    },
    /// A signature names a key that is not an admin of the bundle.
    #[error("mode change signed by {admin}, which is not an admin")]
    UnknownAdmin {
        /// The key.
        admin: PublicKey,
    },
    /// A signature does not verify.
    #[error("admin {admin} signature does not verify over this mode change")]
    BadSignature {
        /// The key.
        admin: PublicKey,
    },
    /// Too few distinct admins signed.
    #[error("mode change has {have} valid admin signature(s), {need} needed")]
    QuorumNotMet {
        /// Valid distinct admins.
        have: usize,
        /// Needed (the bundle's admin quorum).
        need: usize,
    },
}

/// An admin-signed change of operating mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeChange {
    /// Tenant (the bundle's).
    pub tenant: String,
    /// Sequence number; a signer accepts only a strictly greater one than the change in force.
    pub seq: u64,
    /// The mode to enter (`normal` leaves a mode early).
    pub mode: Mode,
    /// Why, for the audit log.
    pub reason: String,
    /// In force from (unix seconds).
    pub issued_at: u64,
    /// In force until (unix seconds, exclusive); then the mode is `normal` again.
    pub expires_at: u64,
    /// Admin signatures over [`ModeChange::signing_bytes`].
    #[serde(default)]
    pub admin_signatures: Vec<AdminSignature>,
}

impl ModeChange {
    /// An unsigned change.
    pub fn new(
        tenant: &str,
        seq: u64,
        mode: Mode,
        reason: &str,
        issued_at: u64,
        expires_at: u64,
    ) -> Self {
        ModeChange {
            tenant: tenant.to_string(),
            seq,
            mode,
            reason: reason.to_string(),
            issued_at,
            expires_at,
            admin_signatures: Vec::new(),
        }
    }

    /// What admins sign:
    /// `str(MODE_DOMAIN) || str(tenant) || u64(seq) || mode (0 normal, 1 degraded, 2 lockdown)
    /// || str(reason) || u64(issued_at) || u64(expires_at)`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.tenant.len() + self.reason.len());
        put_str(&mut out, MODE_DOMAIN);
        put_str(&mut out, &self.tenant);
        put_u64(&mut out, self.seq);
        out.push(self.mode.tag());
        put_str(&mut out, &self.reason);
        put_u64(&mut out, self.issued_at);
        put_u64(&mut out, self.expires_at);
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

    /// Checks the change against `bundle` (tenant, a quorum of its admins) and `now_unix`
    /// (`issued_at <= now < expires_at`, at most [`MAX_MODE_S`] long). Signatures are checked in
    /// sorted order, so every node reports the same error.
    pub fn verify(&self, bundle: &PolicyBundle, now_unix: u64) -> Result<(), ModeError> {
        if self.tenant != bundle.tenant {
            return Err(ModeError::TenantMismatch {
                bundle: bundle.tenant.clone(),
                candidate: self.tenant.clone(),
            });
        }
        if self.expires_at <= self.issued_at || self.expires_at - self.issued_at > MAX_MODE_S {
            return Err(ModeError::NotValidNow {
                reason: format!(
                    "validity {}..{} must be non-empty and at most {MAX_MODE_S} s",
                    self.issued_at, self.expires_at
                ),
            });
        }
        if now_unix < self.issued_at || now_unix >= self.expires_at {
            return Err(ModeError::NotValidNow {
                reason: format!(
                    "now {now_unix} is outside {}..{}",
                    self.issued_at, self.expires_at
                ),
            });
        }
        let msg = self.signing_bytes();
        bundle
            .admins
            .check_quorum(&msg, &self.admin_signatures)
            .map_err(ModeError::from)
    }
}

impl From<QuorumFault> for ModeError {
    fn from(f: QuorumFault) -> Self {
        match f {
            QuorumFault::UnknownAdmin(admin) => ModeError::UnknownAdmin { admin },
            QuorumFault::BadSignature(admin) => ModeError::BadSignature { admin },
            QuorumFault::NotMet { have, need } => ModeError::QuorumNotMet { have, need },
        }
    }
}

/// Whether a signer moves from `current` (the change it accepted before, if any) to
/// `candidate`: a strictly greater sequence number, then [`ModeChange::verify`].
pub fn accept_mode(
    current: Option<&ModeChange>,
    candidate: &ModeChange,
    bundle: &PolicyBundle,
    now_unix: u64,
) -> Result<(), ModeError> {
    if let Some(cur) = current {
        if candidate.seq <= cur.seq {
            return Err(ModeError::StaleSequence {
                current: cur.seq,
                candidate: candidate.seq,
            });
        }
    }
    candidate.verify(bundle, now_unix)
}

/// The mode in force at `now_unix`: the accepted change's mode while it has not expired,
/// otherwise `normal`.
pub fn mode_in_force(current: Option<&ModeChange>, now_unix: u64) -> Mode {
    match current {
        Some(c) if now_unix >= c.issued_at && now_unix < c.expires_at => c.mode,
        _ => Mode::Normal,
    }
}

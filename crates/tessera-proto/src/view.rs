//! A signer's own view of its policy, signed: what `tessera signer status` shows.
//!
//! The coordinator reports which bundle and mode each signer runs (`GET /v1/policy`,
//! `GET /v1/mode`), but a coordinator that withholds a bundle or a lockdown could report them
//! delivered. Every audit page a signer serves ([`crate::audit::AuditPage`]) therefore carries
//! a [`SignedView`]: the policy version and bundle hash it holds, the mode in force and its
//! change's sequence number, since when its policy is confirmed fresh, and its audit head —
//! signed with its node identity key under `tessera/signer-view/v1` over the verifier's
//! challenge, so the coordinator can neither alter nor replay it.

use serde::{Deserialize, Serialize};
use tessera_wire::{IdentityKey, NodeId};

/// Domain of the signer's view signature (`IdentityKey::sign`).
pub const SIGNER_VIEW_DOMAIN: &str = "tessera/signer-view/v1";

/// What a signer holds, as it says itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    /// Installed bundle version (0: none).
    pub policy_version: u64,
    /// Its hash (zeros without a bundle).
    #[serde(with = "tessera_audit::hexser")]
    pub bundle_hash: [u8; 32],
    /// Mode in force: `normal`, `degraded` or `lockdown`.
    pub mode: String,
    /// Sequence of the last accepted mode change (0: none).
    pub mode_seq: u64,
    /// Since when the admins are known to stand by this policy (unix seconds; 0: no bundle).
    pub policy_fresh_since: u64,
    /// Seq of the newest entry of its audit log.
    pub audit_seq: u64,
    /// Its hash.
    #[serde(with = "tessera_audit::hexser")]
    pub audit_hash: [u8; 32],
}

/// A [`View`] signed by the signer's identity key over a verifier's challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedView {
    /// The signer.
    pub node_id: NodeId,
    /// What it holds.
    pub view: View,
    /// The verifier's challenge.
    #[serde(with = "tessera_audit::hexser")]
    pub challenge: [u8; 32],
    /// Ed25519 signature under [`SIGNER_VIEW_DOMAIN`] over [`SignedView::signing_bytes`].
    #[serde(with = "tessera_audit::hexser")]
    pub signature: [u8; 64],
}

/// Why a signed view is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// Signed by (or claiming to be) another node.
    #[error("the view is signer {found}'s, expected {expected}")]
    WrongSigner {
        /// Asked for.
        expected: NodeId,
        /// In the view.
        found: NodeId,
    },
    /// Signed over another challenge (a replayed view).
    #[error("the view answers another challenge (replayed)")]
    WrongChallenge,
    /// The signature does not verify (altered in transit or forged).
    #[error("the view's signature does not verify")]
    BadSignature,
    /// The view names another audit head than the page it came with.
    #[error("the view names another audit head than its page")]
    OtherHead,
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

impl SignedView {
    /// The signed message: `node id(32) || u64(policy_version) || bundle_hash(32) ||
    /// u64(len) || mode || u64(mode_seq) || u64(policy_fresh_since) || u64(audit_seq) ||
    /// audit_hash(32) || challenge(32)`, integers big-endian.
    pub fn signing_bytes(node: &NodeId, v: &View, challenge: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(&node.0);
        put_u64(&mut out, v.policy_version);
        out.extend_from_slice(&v.bundle_hash);
        put_u64(&mut out, v.mode.len() as u64);
        out.extend_from_slice(v.mode.as_bytes());
        put_u64(&mut out, v.mode_seq);
        put_u64(&mut out, v.policy_fresh_since);
        put_u64(&mut out, v.audit_seq);
        out.extend_from_slice(&v.audit_hash);
        out.extend_from_slice(challenge);
        out
    }

    /// `key`'s signed `view` over `challenge`.
    pub fn sign(key: &IdentityKey, view: View, challenge: [u8; 32]) -> SignedView {
        let node_id = key.node_id();
        let signature = key.sign(
            SIGNER_VIEW_DOMAIN,
            &Self::signing_bytes(&node_id, &view, &challenge),
        );
        SignedView {
            node_id,
            view,
            challenge,
            signature,
        }
    }

    /// Checks that this is `expected`'s view, over `challenge`, and that the signature verifies.
    pub fn verify(&self, expected: &NodeId, challenge: &[u8; 32]) -> Result<(), ViewError> {
        if self.node_id != *expected {
            return Err(ViewError::WrongSigner {
                expected: *expected,
                found: self.node_id,
            });
        }
        if self.challenge != *challenge {
            return Err(ViewError::WrongChallenge);
        }
        let bytes = Self::signing_bytes(&self.node_id, &self.view, &self.challenge);
        expected
            .verify(SIGNER_VIEW_DOMAIN, &bytes, &self.signature)
            .map_err(|_| ViewError::BadSignature)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn view() -> View {
        View {
            policy_version: 3,
            bundle_hash: [1; 32],
            mode: "lockdown".into(),
            mode_seq: 7,
            policy_fresh_since: 1_700_000_000,
            audit_seq: 42,
            audit_hash: [2; 32],
        }
    }

    #[test]
    fn a_view_verifies_only_as_signed_for_its_challenge() {
        let key = IdentityKey::generate(&mut rand_core::OsRng);
        let other = IdentityKey::generate(&mut rand_core::OsRng);
        let challenge = [9; 32];
        let v = SignedView::sign(&key, view(), challenge);
        v.verify(&key.node_id(), &challenge).unwrap();
        assert_eq!(
            v.verify(&key.node_id(), &[8; 32]),
            Err(ViewError::WrongChallenge)
        );
        assert!(matches!(
            v.verify(&other.node_id(), &challenge),
            Err(ViewError::WrongSigner { .. })
        ));
        // A coordinator reporting another bundle, mode or freshness than the signer holds.
        type Edit = Box<dyn Fn(&mut View)>;
        let edits: Vec<Edit> = vec![
            Box::new(|v| v.policy_version = 4),
            Box::new(|v| v.bundle_hash[0] ^= 1),
            Box::new(|v| v.mode = "normal".into()),
            Box::new(|v| v.mode_seq = 6),
            Box::new(|v| v.policy_fresh_since += 1),
            Box::new(|v| v.audit_seq = 41),
        ];
        for edit in edits {
            let mut forged = v.clone();
            edit(&mut forged.view);
            assert_eq!(
                forged.verify(&key.node_id(), &challenge),
                Err(ViewError::BadSignature)
            );
        }
    }
}

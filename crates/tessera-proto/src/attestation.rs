//! Wallet attestations: each signer vouches, with its node identity key, for the wallet its key
//! generation produced, so a client can check a deposit address without trusting the
//! coordinator that reports it.
//!
//! At the end of key generation every signer signs
//!
//! ```text
//! IdentityKey::sign("tessera/wallet-attestation/v1", WalletStatement::signing_bytes())
//! ```
//!
//! where the statement is (wallet id, scheme, threshold, roster in party order, group public
//! key, chain code), each field length-prefixed. The coordinator stores the signatures with the
//! wallet (`WalletInfo::attestations`) and relays them unchanged. A client that knows its
//! signers' node ids out of band ([`verify_wallet`]) accepts the wallet's key — and every address
//! derived from it — only if at least `threshold` of those signers vouched for exactly this
//! statement: with at most `threshold − 1` signers compromised, one honest signer then confirms
//! the key it holds a share of. Any attestation that does not verify is an error, never skipped:
//! it means the coordinator changed the wallet, the roster or the signature.

use serde::{Deserialize, Serialize};
use tessera_crypto::{PublicKey, SchemeId};
use tessera_wire::{IdentityKey, NodeId};

use crate::api::WalletInfo;

/// Domain of the wallet attestation signature (`IdentityKey::sign`).
pub const WALLET_ATTESTATION_DOMAIN: &str = "tessera/wallet-attestation/v1";

/// What a signer vouches for at the end of key generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletStatement {
    /// Wallet id.
    pub wallet_id: String,
    /// Scheme.
    pub scheme: SchemeId,
    /// Threshold `t`.
    pub threshold: u16,
    /// Signers in party-index order.
    pub signers: Vec<NodeId>,
    /// Group public key.
    pub public_key: PublicKey,
    /// Chain code for non-hardened derivation.
    pub chain_code: [u8; 32],
    /// The networks the wallet may sign chain payloads on (`chain:network`, sorted), as its
    /// key generation's authorization named them; signers refuse any other.
    pub networks: Vec<String>,
    /// The key's share epoch: 0 from key generation, one more after each reshare.
    pub epoch: u32,
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Fields are short (ids, names, keys); saturate rather than panic on an absurd one.
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b);
}

impl WalletStatement {
    /// The message signed under [`WALLET_ATTESTATION_DOMAIN`]: `str(wallet id) || str(scheme
    /// name) || u16(t) || u32(n) || n × node id (32) || bytes(public key) || chain code (32) ||
    /// u32(k) || k × str(network)`, then `u32(epoch)` when the epoch is above 0 (so key
    /// generation statements keep their original bytes), lengths big-endian.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + 32 * self.signers.len());
        put_bytes(&mut out, self.wallet_id.as_bytes());
        put_bytes(&mut out, self.scheme.name().as_bytes());
        out.extend_from_slice(&self.threshold.to_be_bytes());
        let n = u32::try_from(self.signers.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&n.to_be_bytes());
        for s in &self.signers {
            out.extend_from_slice(&s.0);
        }
        put_bytes(&mut out, self.public_key.as_bytes());
        out.extend_from_slice(&self.chain_code);
        let k = u32::try_from(self.networks.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&k.to_be_bytes());
        for net in &self.networks {
            put_bytes(&mut out, net.as_bytes());
        }
        if self.epoch > 0 {
            out.extend_from_slice(&self.epoch.to_be_bytes());
        }
        out
    }

    /// The statement a wallet record claims, or `None` while it has no key.
    pub fn of_wallet(w: &WalletInfo) -> Result<Option<WalletStatement>, VouchError> {
        let (Some(public_key), Some(cc)) = (&w.public_key, &w.chain_code) else {
            return Ok(None);
        };
        let chain_code = hex::decode(cc)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(VouchError::Malformed("chain code is not 32 bytes of hex"))?;
        Ok(Some(WalletStatement {
            wallet_id: w.wallet_id.clone(),
            scheme: w.scheme,
            threshold: w.threshold,
            signers: w.signers.clone(),
            public_key: public_key.clone(),
            chain_code,
            networks: w.networks.clone(),
            epoch: w.epoch,
        }))
    }
}

/// One signer's signature over a [`WalletStatement`]. Serialized with the signature as hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletAttestation {
    /// The signer.
    pub node_id: NodeId,
    /// Ed25519 signature by its node identity key under [`WALLET_ATTESTATION_DOMAIN`].
    #[serde(with = "tessera_audit::hexser")]
    pub signature: [u8; 64],
}

impl WalletAttestation {
    /// `key`'s attestation of `statement`.
    pub fn sign(key: &IdentityKey, statement: &WalletStatement) -> WalletAttestation {
        WalletAttestation {
            node_id: key.node_id(),
            signature: key.sign(WALLET_ATTESTATION_DOMAIN, &statement.signing_bytes()),
        }
    }

    /// Whether this is a valid signature of `statement` by `node_id`.
    pub fn verify(&self, statement: &WalletStatement) -> Result<(), VouchError> {
        self.node_id
            .verify(
                WALLET_ATTESTATION_DOMAIN,
                &statement.signing_bytes(),
                &self.signature,
            )
            .map_err(|_| VouchError::BadAttestation(self.node_id))
    }
}

/// Why a wallet's key is not vouched for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VouchError {
    /// The wallet has no key yet (still being created, or failed).
    #[error("the wallet has no key yet")]
    NotReady,
    /// The wallet record is malformed.
    #[error("the wallet record is malformed: {0}")]
    Malformed(&'static str),
    /// An attestation does not verify against the wallet as reported: the wallet id, scheme,
    /// threshold, roster, key or chain code was changed, or the signature forged.
    #[error("signer {0}'s attestation does not match the wallet as reported")]
    BadAttestation(NodeId),
    /// An attestation comes from a node outside the wallet's roster.
    #[error("an attestation comes from {0}, which is not one of the wallet's signers")]
    NotInRoster(NodeId),
    /// Two attestations from the same signer.
    #[error("signer {0} attests twice")]
    Duplicate(NodeId),
    /// Fewer trusted signers vouched than the threshold.
    #[error("only {vouched} of the wallet's trusted signers vouched for its key; {needed} must")]
    TooFew {
        /// Trusted signers whose attestation verified.
        vouched: usize,
        /// The threshold.
        needed: usize,
    },
}

/// The outcome of [`verify_wallet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouched {
    /// The trusted signers whose attestation verified, in roster order.
    pub by: Vec<NodeId>,
    /// The wallet's number of signers `n`.
    pub of: usize,
}

/// Checks a wallet record against its attestations: every attestation must come from a roster
/// member (at most once) and verify over the statement the record makes, and at least
/// `threshold` of them must come from `trusted` (node ids the caller learned out of band, not
/// from the coordinator).
pub fn verify_wallet(w: &WalletInfo, trusted: &[NodeId]) -> Result<Vouched, VouchError> {
    let statement = WalletStatement::of_wallet(w)?.ok_or(VouchError::NotReady)?;
    let mut seen: Vec<NodeId> = Vec::new();
    for a in &w.attestations {
        if !statement.signers.contains(&a.node_id) {
            return Err(VouchError::NotInRoster(a.node_id));
        }
        if seen.contains(&a.node_id) {
            return Err(VouchError::Duplicate(a.node_id));
        }
        a.verify(&statement)?;
        seen.push(a.node_id);
    }
    let by: Vec<NodeId> = statement
        .signers
        .iter()
        .filter(|s| seen.contains(s) && trusted.contains(s))
        .copied()
        .collect();
    let needed = usize::from(statement.threshold.max(1));
    if by.len() < needed {
        return Err(VouchError::TooFew {
            vouched: by.len(),
            needed,
        });
    }
    Ok(Vouched {
        by,
        of: statement.signers.len(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::WalletStatus;

    fn keys(n: usize) -> Vec<IdentityKey> {
        (0..n)
            .map(|_| IdentityKey::generate(&mut rand_core::OsRng))
            .collect()
    }

    /// A ready 2-of-3 wallet attested by the signers at `attesting`.
    fn wallet(ks: &[IdentityKey], attesting: &[usize]) -> WalletInfo {
        let mut w = WalletInfo {
            wallet_id: "w-1".into(),
            name: "w-1".into(),
            scheme: SchemeId::EcdsaDkls23,
            threshold: 2,
            signers: ks.iter().map(|k| k.node_id()).collect(),
            status: WalletStatus::Ready,
            public_key: Some(PublicKey::Secp256k1([2u8; 33])),
            chain_code: Some(hex::encode([7u8; 32])),
            keygen_session: "s".into(),
            pool: 0,
            created_at_ms: 0,
            error: None,
            attestations: Vec::new(),
            networks: vec!["bitcoin:mainnet".into()],
            epoch: 0,
            committing_epoch: None,
        };
        let st = WalletStatement::of_wallet(&w).unwrap().unwrap();
        w.attestations = attesting
            .iter()
            .map(|&i| WalletAttestation::sign(&ks[i], &st))
            .collect();
        w
    }

    fn ids(ks: &[IdentityKey]) -> Vec<NodeId> {
        ks.iter().map(|k| k.node_id()).collect()
    }

    #[test]
    fn a_wallet_attested_by_its_signers_is_vouched_for() {
        let ks = keys(3);
        let v = verify_wallet(&wallet(&ks, &[0, 1, 2]), &ids(&ks)).unwrap();
        assert_eq!((v.by, v.of), (ids(&ks), 3));
        // Two of three suffice for a 2-of-3 wallet.
        let v = verify_wallet(&wallet(&ks, &[2, 0]), &ids(&ks)).unwrap();
        assert_eq!(v.by, vec![ks[0].node_id(), ks[2].node_id()]);
    }

    #[test]
    fn every_field_the_coordinator_reports_is_bound() {
        let ks = keys(3);
        let trusted = ids(&ks);
        type Edit = Box<dyn Fn(&mut WalletInfo)>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "public key",
                Box::new(|w| w.public_key = Some(PublicKey::Secp256k1([3u8; 33]))),
            ),
            (
                "chain code",
                Box::new(|w| w.chain_code = Some(hex::encode([8u8; 32]))),
            ),
            ("threshold", Box::new(|w| w.threshold = 1)),
            ("scheme", Box::new(|w| w.scheme = SchemeId::EcdsaCggmp24)),
            ("wallet id", Box::new(|w| w.wallet_id = "w-2".into())),
            ("roster order", Box::new(|w| w.signers.swap(0, 1))),
            (
                "network relabelled",
                Box::new(|w| w.networks = vec!["bitcoin:testnet".into()]),
            ),
            (
                "network added",
                Box::new(|w| w.networks.push("bitcoin:testnet".into())),
            ),
        ];
        for (what, edit) in edits {
            let mut w = wallet(&ks, &[0, 1, 2]);
            edit(&mut w);
            assert!(
                matches!(
                    verify_wallet(&w, &trusted),
                    Err(VouchError::BadAttestation(_))
                ),
                "a changed {what} must not verify"
            );
        }
    }

    #[test]
    fn a_forged_or_foreign_attestation_is_refused() {
        let ks = keys(3);
        let trusted = ids(&ks);
        let mut w = wallet(&ks, &[0, 1]);
        w.attestations[1].signature[0] ^= 1;
        assert_eq!(
            verify_wallet(&w, &trusted),
            Err(VouchError::BadAttestation(ks[1].node_id()))
        );

        // A node outside the roster.
        let stranger = keys(1).remove(0);
        let mut w = wallet(&ks, &[0, 1]);
        let st = WalletStatement::of_wallet(&w).unwrap().unwrap();
        w.attestations.push(WalletAttestation::sign(&stranger, &st));
        assert_eq!(
            verify_wallet(&w, &trusted),
            Err(VouchError::NotInRoster(stranger.node_id()))
        );

        // The same signer twice does not count twice.
        let mut w = wallet(&ks, &[0]);
        w.attestations.push(w.attestations[0].clone());
        assert_eq!(
            verify_wallet(&w, &trusted),
            Err(VouchError::Duplicate(ks[0].node_id()))
        );
    }

    #[test]
    fn a_coordinator_with_its_own_signers_is_not_vouched_for() {
        // The coordinator reports a roster of nodes it controls, each attesting its key: none
        // is trusted, so nothing is vouched for.
        let ks = keys(3);
        let theirs = keys(3);
        let w = wallet(&theirs, &[0, 1, 2]);
        assert_eq!(
            verify_wallet(&w, &ids(&ks)),
            Err(VouchError::TooFew {
                vouched: 0,
                needed: 2
            })
        );
        // One trusted signer of a 2-of-3 is not enough; withheld attestations count as none.
        let w = wallet(&ks, &[0]);
        assert_eq!(
            verify_wallet(&w, &ids(&ks)),
            Err(VouchError::TooFew {
                vouched: 1,
                needed: 2
            })
        );
        let mut not_ready = wallet(&ks, &[]);
        not_ready.public_key = None;
        assert_eq!(
            verify_wallet(&not_ready, &ids(&ks)),
            Err(VouchError::NotReady)
        );
    }
}

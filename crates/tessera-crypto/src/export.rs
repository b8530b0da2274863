//! **Export: one party's Shamir share in plain terms**, so another implementation can take a
//! wallet over without Tessera (`tessera export`; the format is `docs/export-format.md`).
//!
//! Every scheme here keeps, under its own share type, a degree `t − 1` Shamir sharing of the
//! group secret over the curve's scalar field, party `i` holding the evaluation at `x = i + 1`
//! (DKLs23's `poly_point`, FROST's signing share at identifier `i + 1`, cggmp24's `x` at VSS
//! point `I[i]`, which must be `i + 1`). An export gives that share, its evaluation point and
//! every party's public verification share, read through the same accessors resharing uses
//! (`old_sharing` of each scheme). Nothing is reconstructed: any `t` exports interpolate to the
//! group secret, and each share can be checked alone against its verification share.
//! DKLs23's OT setups, cggmp24's Paillier auxiliary info and presignatures are not exported:
//! they belong to Tessera's signing protocols, and a new implementation sets up its own.

use std::fmt;

use zeroize::Zeroizing;

use crate::schemes::frost::{Ed, Tr};
use crate::{Error, KeyShare, PartyIndex, PublicKey, Result, SchemeId};

/// One party's share of a wallet key, in plain terms. `Debug` is redacted; the secret is
/// zeroized on drop.
pub struct ExportedShare {
    /// Scheme of the wallet.
    pub scheme: SchemeId,
    /// Threshold `t`.
    pub threshold: u16,
    /// Number of parties `n`.
    pub parties: u16,
    /// This party's index `i`; its evaluation point is `x = i + 1`.
    pub index: PartyIndex,
    /// The share `f(i + 1)`: 32 bytes, big-endian for secp256k1, little-endian for Ed25519 (each
    /// curve's usual scalar encoding).
    pub secret: Zeroizing<[u8; 32]>,
    /// Every party's verification share `f(k + 1)·G`, by index `k`: SEC1 compressed (33 bytes)
    /// on secp256k1, the compressed Edwards point (32 bytes) on Ed25519.
    pub verification_shares: Vec<Vec<u8>>,
    /// The group public key (for `schnorr-bip340`, the internal key before any tweak).
    pub public_key: PublicKey,
    /// The wallet's BIP-32 chain code.
    pub chain_code: [u8; 32],
}

impl fmt::Debug for ExportedShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportedShare")
            .field("scheme", &self.scheme)
            .field("index", &self.index)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// Reads `share`'s Shamir share, evaluation point and verification shares.
pub fn export_share(share: &KeyShare) -> Result<ExportedShare> {
    let sharing = match share.scheme {
        SchemeId::EcdsaDkls23 => crate::schemes::dkls23::old_sharing(share)?,
        SchemeId::EcdsaCggmp24 => crate::schemes::cggmp24::old_sharing(share)?,
        SchemeId::SchnorrBip340 => crate::schemes::frost::old_sharing::<Tr>(share)?,
        SchemeId::Ed25519 => crate::schemes::frost::old_sharing::<Ed>(share)?,
    };
    if sharing.index != share.index || sharing.public_shares.len() != usize::from(share.params.n) {
        return Err(Error::InvalidKeyShare(
            "the share's sharing does not match its parameters".into(),
        ));
    }
    Ok(ExportedShare {
        scheme: share.scheme,
        threshold: share.params.t,
        parties: share.params.n,
        index: share.index,
        secret: sharing.secret,
        verification_shares: sharing.public_shares,
        public_key: share.public_key.clone(),
        chain_code: share.chain_code,
    })
}

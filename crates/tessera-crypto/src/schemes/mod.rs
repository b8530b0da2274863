//! Scheme implementations behind [`crate::Scheme`].

pub mod cggmp24;
pub mod dkls23;
pub mod frost;

use crate::{Error, PublicKey, Result, SignMessage, Signature};

/// Verifies an ECDSA signature (low-s enforced) with `k256`.
pub(crate) fn verify_ecdsa(pk: &PublicKey, message: &SignMessage, sig: &Signature) -> Result<()> {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    let PublicKey::Secp256k1(pk) = pk else {
        return Err(Error::InvalidArgs("ECDSA needs a secp256k1 key".into()));
    };
    let Signature::Ecdsa { r, s, .. } = sig else {
        return Err(Error::InvalidSignature);
    };
    let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(pk)
        .map_err(|_| Error::InvalidArgs("invalid secp256k1 key".into()))?;
    let sig = k256::ecdsa::Signature::from_scalars(*r, *s).map_err(|_| Error::InvalidSignature)?;
    if sig.normalize_s().is_some() {
        return Err(Error::InvalidSignature);
    }
    vk.verify_prehash(&message.digest32()?, &sig)
        .map_err(|_| Error::InvalidSignature)
}

/// Recovery id (parity of R.y) for a verified low-s ECDSA signature, found by trial recovery.
pub(crate) fn recovery_id(
    pk: &[u8; 33],
    digest: &[u8; 32],
    r: &[u8; 32],
    s: &[u8; 32],
) -> Result<u8> {
    let sig = k256::ecdsa::Signature::from_scalars(*r, *s).map_err(|_| Error::InvalidSignature)?;
    for v in 0u8..2 {
        let id = k256::ecdsa::RecoveryId::from_byte(v).ok_or_else(|| Error::Bug("recid".into()))?;
        if let Ok(k) = k256::ecdsa::VerifyingKey::recover_from_prehash(digest, &sig, id) {
            if k.to_encoded_point(true).as_bytes() == pk {
                return Ok(v);
            }
        }
    }
    Err(Error::InvalidSignature)
}

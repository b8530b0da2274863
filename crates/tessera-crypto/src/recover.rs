//! **Disaster recovery: the whole private key from `t` shares.** This is the only code in
//! Tessera that reconstructs a key; `tessera recover` (offline) is its only caller.
//!
//! - `schnorr-bip340` and `ed25519`: frost-core's own `keys::reconstruct`.
//! - `ecdsa-secp256k1/dkls23` and `/cggmp24`: Lagrange interpolation at zero over the shares'
//!   secret scalars and evaluation points (DKLs23: `poly_point` at party index + 1; cggmp24:
//!   `x` at its VSS point `I[i]`), on `k256` arithmetic. **Ours, unaudited** (a few lines; the
//!   arithmetic is the audited `k256` field). cggmp24's own `reconstruct_secret_key` sits behind
//!   its `spof` feature, which stays off.
//!
//! Every result is checked against the group public key before it is returned
//! ([`Error::InvalidArgs`] otherwise). Shares of different wallets, schemes, thresholds or
//! chain codes, duplicate parties and fewer than `t` shares are refused first.

use std::fmt;

use zeroize::Zeroizing;

use crate::{Error, KeyShare, PublicKey, Result, SchemeId};

/// A reconstructed private key. `Debug` is redacted; the secret is zeroized on drop.
pub struct RecoveredKey {
    /// Scheme of the wallet.
    pub scheme: SchemeId,
    /// Group public key it was checked against (for `schnorr-bip340`: the internal key).
    pub public_key: PublicKey,
    /// The wallet's chain code.
    pub chain_code: [u8; 32],
    /// The secret scalar: big-endian for secp256k1, little-endian for Ed25519 (as each
    /// ciphersuite serializes it). An Ed25519 FROST key is a scalar, not an RFC 8032 seed.
    pub secret: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for RecoveredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveredKey")
            .field("scheme", &self.scheme)
            .field("public_key", &self.public_key)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// Reconstructs the group's private key from at least `t` valid shares of one wallet.
pub fn reconstruct(shares: &[KeyShare]) -> Result<RecoveredKey> {
    let first = shares
        .first()
        .ok_or_else(|| Error::InvalidArgs("no shares".into()))?;
    for s in shares {
        if s.scheme != first.scheme
            || s.params != first.params
            || s.public_key != first.public_key
            || s.chain_code != first.chain_code
        {
            return Err(Error::InvalidArgs(
                "the shares are of different wallets or key generations".into(),
            ));
        }
    }
    let mut indices: Vec<_> = shares.iter().map(|s| s.index).collect();
    indices.sort_unstable();
    indices.dedup();
    if indices.len() != shares.len() {
        return Err(Error::InvalidArgs("a party's share is given twice".into()));
    }
    if shares.len() < usize::from(first.params.t) {
        return Err(Error::InvalidArgs(format!(
            "{} shares, the threshold is {}",
            shares.len(),
            first.params.t
        )));
    }
    let secret = match first.scheme {
        SchemeId::Ed25519 => fixed(crate::schemes::frost::reconstruct_secret::<
            crate::schemes::frost::Ed,
        >(shares)?)?,
        SchemeId::SchnorrBip340 => fixed(crate::schemes::frost::reconstruct_secret::<
            crate::schemes::frost::Tr,
        >(shares)?)?,
        SchemeId::EcdsaDkls23 => interpolate(shares, crate::schemes::dkls23::share_point)?,
        SchemeId::EcdsaCggmp24 => interpolate(shares, crate::schemes::cggmp24::share_point)?,
    };
    check_public(first.scheme, &secret, &first.public_key)?;
    Ok(RecoveredKey {
        scheme: first.scheme,
        public_key: first.public_key.clone(),
        chain_code: first.chain_code,
        secret,
    })
}

fn fixed(v: Zeroizing<Vec<u8>>) -> Result<Zeroizing<[u8; 32]>> {
    let mut out = Zeroizing::new([0u8; 32]);
    if v.len() != 32 {
        return Err(Error::Bug("reconstructed key length".into()));
    }
    out.copy_from_slice(&v);
    Ok(out)
}

type SharePoint = fn(&KeyShare) -> Result<([u8; 32], Zeroizing<[u8; 32]>)>;

fn scalar(be: &[u8; 32]) -> Result<k256::Scalar> {
    use k256::elliptic_curve::PrimeField;
    Option::from(k256::Scalar::from_repr((*be).into()))
        .ok_or_else(|| Error::InvalidKeyShare("scalar out of range".into()))
}

/// Σ λ_j·s_j with λ_j = Π_{m≠j} x_m / (x_m − x_j), on `k256` scalars.
fn interpolate(shares: &[KeyShare], point: SharePoint) -> Result<Zeroizing<[u8; 32]>> {
    let mut points = Vec::with_capacity(shares.len());
    for s in shares {
        let (x, secret) = point(s)?;
        points.push((scalar(&x)?, scalar(&secret)?));
    }
    let mut acc = k256::Scalar::ZERO;
    for (j, (xj, sj)) in points.iter().enumerate() {
        let mut num = k256::Scalar::ONE;
        let mut den = k256::Scalar::ONE;
        for (m, (xm, _)) in points.iter().enumerate() {
            if m != j {
                num *= xm;
                den *= *xm - xj;
            }
        }
        let inv: Option<k256::Scalar> = den.invert().into();
        let inv = inv.ok_or_else(|| Error::InvalidKeyShare("repeated evaluation point".into()))?;
        acc += num * inv * sj;
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&acc.to_bytes());
    for (_, s) in &mut points {
        *s = k256::Scalar::ZERO;
    }
    Ok(out)
}

fn check_public(scheme: SchemeId, secret: &[u8; 32], expected: &PublicKey) -> Result<()> {
    let ok = match (scheme, expected) {
        (SchemeId::Ed25519, PublicKey::Ed25519(pk)) => {
            let s: Option<curve25519_dalek::Scalar> =
                curve25519_dalek::Scalar::from_canonical_bytes(*secret).into();
            s.is_some_and(|s| {
                (curve25519_dalek::constants::ED25519_BASEPOINT_POINT * s)
                    .compress()
                    .to_bytes()
                    == *pk
            })
        }
        (_, PublicKey::Secp256k1(pk)) => {
            use k256::elliptic_curve::sec1::ToEncodedPoint;
            let p = (k256::ProjectivePoint::GENERATOR * scalar(secret)?).to_affine();
            p.to_encoded_point(true).as_bytes() == pk
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgs(
            "the reconstructed key does not match the group public key".into(),
        ))
    }
}

//! Non-hardened HD derivation of child public keys, shared by signing and address derivation.
//!
//! * secp256k1 (both ECDSA profiles and BIP-340): BIP-32 `CKDpub` (SLIP-10 for secp256k1, from
//!   the `hd-wallet` crate), on the 33-byte compressed group key and the chain code agreed at key
//!   generation. For Taproot the derived key is the *internal* key; the BIP-341 output key is
//!   [`taproot_output_key`] of it.
//! * Ed25519: the `hd-wallet` crate's `Edwards` scheme: `I = HMAC-SHA512(cc, A || 0x00 || i)`,
//!   child `A + (IL mod ℓ)·B`. Non-hardened Ed25519 derivation has no single standard; see
//!   ARCHITECTURE.md for why we accept it.
//!
//! Every child key is the parent key plus a public *shift* `δ·G`; a signer adds `δ` to its share
//! (Lagrange coefficients sum to one, so adding `δ` to every share shifts the secret by `δ`).

use generic_ec::{curves, Point};
use hd_wallet::{DeriveShift, Edwards, ExtendedPublicKey, NonHardenedIndex, Slip10};

use crate::{DerivationPath, Error, PublicKey, Result};

/// A derived child key and the additive shift from the root key.
#[derive(Debug, Clone)]
pub struct Derived {
    /// Child public key (for `schnorr-bip340`, the internal key).
    pub public_key: PublicKey,
    /// Shift scalar, big-endian bytes (secp256k1) or big-endian bytes mod ℓ (Ed25519).
    pub shift_be: [u8; 32],
}

/// Derives the child of `root` (with `chain_code`) at `path`.
pub fn derive(root: &PublicKey, chain_code: &[u8; 32], path: &DerivationPath) -> Result<Derived> {
    match root {
        PublicKey::Secp256k1(pk) => {
            let point = Point::<curves::Secp256k1>::from_bytes(pk)
                .map_err(|_| Error::InvalidArgs("invalid secp256k1 public key".into()))?;
            let (child, shift) = walk::<curves::Secp256k1, Slip10>(point, chain_code, path)?;
            let bytes: [u8; 33] = child
                .to_bytes(true)
                .as_ref()
                .try_into()
                .map_err(|_| Error::Bug("compressed point length".into()))?;
            Ok(Derived {
                public_key: PublicKey::Secp256k1(bytes),
                shift_be: shift,
            })
        }
        PublicKey::Ed25519(pk) => {
            let point = Point::<curves::Ed25519>::from_bytes(pk)
                .map_err(|_| Error::InvalidArgs("invalid ed25519 public key".into()))?;
            let (child, shift) = walk::<curves::Ed25519, Edwards>(point, chain_code, path)?;
            let bytes: [u8; 32] = child
                .to_bytes(true)
                .as_ref()
                .try_into()
                .map_err(|_| Error::Bug("ed25519 point length".into()))?;
            Ok(Derived {
                public_key: PublicKey::Ed25519(bytes),
                shift_be: shift,
            })
        }
    }
}

fn walk<E: generic_ec::Curve, H: DeriveShift<E>>(
    point: Point<E>,
    chain_code: &[u8; 32],
    path: &DerivationPath,
) -> Result<(Point<E>, [u8; 32])> {
    let mut epub = ExtendedPublicKey {
        public_key: point,
        chain_code: *chain_code,
    };
    let mut shift = generic_ec::Scalar::<E>::zero();
    for &i in path.indices() {
        let idx = NonHardenedIndex::try_from(i)
            .map_err(|_| Error::InvalidArgs("hardened index in path".into()))?;
        let d = H::derive_public_shift(&epub, idx);
        shift += d.shift;
        epub = d.child_public_key;
    }
    if epub.public_key.is_zero() {
        return Err(Error::InvalidArgs("derived key is the identity".into()));
    }
    let bytes: [u8; 32] = shift
        .to_be_bytes()
        .as_ref()
        .try_into()
        .map_err(|_| Error::Bug("scalar length".into()))?;
    Ok((epub.public_key, bytes))
}

/// The child public key at `path` (convenience over [`derive`]).
pub fn derive_public_key(
    root: &PublicKey,
    chain_code: &[u8; 32],
    path: &DerivationPath,
) -> Result<PublicKey> {
    Ok(derive(root, chain_code, path)?.public_key)
}

/// BIP-341 output key (x-only) of an internal key, for a key-path-only output (no script tree).
pub fn taproot_output_key(internal: &PublicKey) -> Result<[u8; 32]> {
    use frost_secp256k1_tr::keys::{PublicKeyPackage, Tweak};
    let PublicKey::Secp256k1(pk) = internal else {
        return Err(Error::InvalidArgs("taproot needs a secp256k1 key".into()));
    };
    let vk = frost_secp256k1_tr::VerifyingKey::deserialize(pk)
        .map_err(|_| Error::InvalidArgs("invalid secp256k1 public key".into()))?;
    let tweaked = PublicKeyPackage::new(Default::default(), vk).tweak(None::<&[u8]>);
    let ser = tweaked
        .verifying_key()
        .serialize()
        .map_err(|_| Error::Bug("serialize verifying key".into()))?;
    let mut x = [0u8; 32];
    x.copy_from_slice(&ser[1..33]);
    Ok(x)
}

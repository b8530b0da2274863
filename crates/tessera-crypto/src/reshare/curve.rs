//! The two groups resharing works in, on audited arithmetic only: `k256` (secp256k1, for
//! DKLs23, cggmp24 and FROST-Taproot) and `curve25519-dalek` (Ed25519, for FROST-Ed25519).
//!
//! Values cross into and out of the protocol crates as bytes in each curve's standard encoding:
//! secp256k1 scalars big-endian, points SEC1-compressed (33 bytes); Ed25519 scalars canonical
//! little-endian, points compressed Edwards-y (32 bytes). Every decoder refuses non-canonical
//! scalars and points off the curve (and, for Ed25519, points with a torsion component).

use std::ops::{Add, Mul, Sub};

use zeroize::{Zeroize, Zeroizing};

/// A prime-order group with its scalar field, as far as Feldman VSS needs it.
pub(crate) trait Curve: 'static {
    type Scalar: Copy
        + PartialEq
        + Zeroize
        + Add<Output = Self::Scalar>
        + Sub<Output = Self::Scalar>
        + Mul<Output = Self::Scalar>;
    type Point: Copy
        + PartialEq
        + Add<Output = Self::Point>
        + Mul<Self::Scalar, Output = Self::Point>;

    fn zero() -> Self::Scalar;
    fn one() -> Self::Scalar;
    fn from_u16(v: u16) -> Self::Scalar;
    fn random() -> Self::Scalar;
    fn invert(s: &Self::Scalar) -> Option<Self::Scalar>;
    fn base(s: &Self::Scalar) -> Self::Point;
    fn identity() -> Self::Point;
    fn scalar_from_bytes(b: &[u8]) -> Option<Self::Scalar>;
    fn scalar_to_bytes(s: &Self::Scalar) -> Zeroizing<[u8; 32]>;
    fn point_from_bytes(b: &[u8]) -> Option<Self::Point>;
    fn point_to_bytes(p: &Self::Point) -> Vec<u8>;
}

/// secp256k1 through `k256`.
pub(crate) struct Secp;

impl Curve for Secp {
    type Scalar = k256::Scalar;
    type Point = k256::ProjectivePoint;

    fn zero() -> k256::Scalar {
        k256::Scalar::ZERO
    }
    fn one() -> k256::Scalar {
        k256::Scalar::ONE
    }
    fn from_u16(v: u16) -> k256::Scalar {
        k256::Scalar::from(u64::from(v))
    }
    fn random() -> k256::Scalar {
        use k256::elliptic_curve::Field;
        k256::Scalar::random(&mut rand_core::OsRng)
    }
    fn invert(s: &k256::Scalar) -> Option<k256::Scalar> {
        s.invert().into()
    }
    fn base(s: &k256::Scalar) -> k256::ProjectivePoint {
        k256::ProjectivePoint::GENERATOR * s
    }
    fn identity() -> k256::ProjectivePoint {
        k256::ProjectivePoint::IDENTITY
    }
    fn scalar_from_bytes(b: &[u8]) -> Option<k256::Scalar> {
        use k256::elliptic_curve::PrimeField;
        let arr: [u8; 32] = b.try_into().ok()?;
        Option::from(k256::Scalar::from_repr(arr.into()))
    }
    fn scalar_to_bytes(s: &k256::Scalar) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&s.to_bytes());
        out
    }
    fn point_from_bytes(b: &[u8]) -> Option<k256::ProjectivePoint> {
        use k256::elliptic_curve::sec1::FromEncodedPoint;
        if b.len() != 33 {
            return None;
        }
        let encoded = k256::EncodedPoint::from_bytes(b).ok()?;
        let affine: Option<k256::AffinePoint> =
            k256::AffinePoint::from_encoded_point(&encoded).into();
        affine.map(k256::ProjectivePoint::from)
    }
    fn point_to_bytes(p: &k256::ProjectivePoint) -> Vec<u8> {
        use k256::elliptic_curve::sec1::ToEncodedPoint;
        p.to_affine().to_encoded_point(true).as_bytes().to_vec()
    }
}

/// Ed25519 through `curve25519-dalek`.
pub(crate) struct Ed;

impl Curve for Ed {
    type Scalar = curve25519_dalek::Scalar;
    type Point = curve25519_dalek::EdwardsPoint;

    fn zero() -> curve25519_dalek::Scalar {
        curve25519_dalek::Scalar::ZERO
    }
    fn one() -> curve25519_dalek::Scalar {
        curve25519_dalek::Scalar::ONE
    }
    fn from_u16(v: u16) -> curve25519_dalek::Scalar {
        curve25519_dalek::Scalar::from(u64::from(v))
    }
    fn random() -> curve25519_dalek::Scalar {
        let mut wide = Zeroizing::new([0u8; 64]);
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut *wide);
        curve25519_dalek::Scalar::from_bytes_mod_order_wide(&wide)
    }
    fn invert(s: &curve25519_dalek::Scalar) -> Option<curve25519_dalek::Scalar> {
        (*s != curve25519_dalek::Scalar::ZERO).then(|| s.invert())
    }
    fn base(s: &curve25519_dalek::Scalar) -> curve25519_dalek::EdwardsPoint {
        curve25519_dalek::EdwardsPoint::mul_base(s)
    }
    fn identity() -> curve25519_dalek::EdwardsPoint {
        use curve25519_dalek::traits::Identity;
        curve25519_dalek::EdwardsPoint::identity()
    }
    fn scalar_from_bytes(b: &[u8]) -> Option<curve25519_dalek::Scalar> {
        let arr: [u8; 32] = b.try_into().ok()?;
        Option::from(curve25519_dalek::Scalar::from_canonical_bytes(arr))
    }
    fn scalar_to_bytes(s: &curve25519_dalek::Scalar) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(s.to_bytes())
    }
    fn point_from_bytes(b: &[u8]) -> Option<curve25519_dalek::EdwardsPoint> {
        let arr: [u8; 32] = b.try_into().ok()?;
        let p = curve25519_dalek::edwards::CompressedEdwardsY(arr).decompress()?;
        p.is_torsion_free().then_some(p)
    }
    fn point_to_bytes(p: &curve25519_dalek::EdwardsPoint) -> Vec<u8> {
        p.compress().to_bytes().to_vec()
    }
}

//! Feldman verifiable secret sharing (Feldman, "A practical scheme for non-interactive
//! verifiable secret sharing", FOCS 1987) and Lagrange coefficients, over a [`Curve`].
//!
//! Evaluation points are `index + 1` for party `index`, the convention of every scheme Tessera
//! runs (DKLs23's 1-based indices, FROST identifiers, cggmp24's `I` as checked on load).

use zeroize::Zeroizing;

use super::curve::Curve;
use crate::PartyIndex;

/// The evaluation point of party `index`.
pub(crate) fn point_of<G: Curve>(index: PartyIndex) -> G::Scalar {
    G::from_u16(index + 1)
}

/// A polynomial `f(x) = a_0 + a_1·x + … + a_{t-1}·x^{t-1}` with secret coefficients.
pub(crate) struct Polynomial<G: Curve> {
    coefficients: Vec<G::Scalar>,
}

impl<G: Curve> Drop for Polynomial<G> {
    fn drop(&mut self) {
        for c in &mut self.coefficients {
            zeroize::Zeroize::zeroize(c);
        }
    }
}

impl<G: Curve> Polynomial<G> {
    /// A random polynomial of degree `t - 1` with `f(0) = secret`.
    pub fn random(secret: G::Scalar, t: u16) -> Self {
        let mut coefficients = Vec::with_capacity(usize::from(t));
        coefficients.push(secret);
        for _ in 1..t {
            coefficients.push(G::random());
        }
        Polynomial { coefficients }
    }

    /// `f(index + 1)`.
    pub fn share_for(&self, index: PartyIndex) -> Zeroizing<[u8; 32]> {
        let x = point_of::<G>(index);
        let mut acc = G::zero();
        for c in self.coefficients.iter().rev() {
            acc = acc * x + *c;
        }
        let out = G::scalar_to_bytes(&acc);
        zeroize::Zeroize::zeroize(&mut acc);
        out
    }

    /// Feldman commitments `C_k = a_k·G`.
    pub fn commitments(&self) -> Vec<G::Point> {
        self.coefficients.iter().map(G::base).collect()
    }
}

/// `Σ_k C_k·x^k` at `x = index + 1`: the public image of `f(index + 1)`.
pub(crate) fn evaluate_commitments<G: Curve>(
    commitments: &[G::Point],
    index: PartyIndex,
) -> G::Point {
    let x = point_of::<G>(index);
    let mut acc = G::identity();
    for c in commitments.iter().rev() {
        acc = acc * x + *c;
    }
    acc
}

/// Feldman's check: the sub-share `share` for `index` lies on the committed polynomial.
pub(crate) fn verify_share<G: Curve>(
    commitments: &[G::Point],
    index: PartyIndex,
    share: &G::Scalar,
) -> bool {
    G::base(share) == evaluate_commitments::<G>(commitments, index)
}

/// Lagrange coefficient at zero of party `me` for the set `set` (evaluation points `i + 1`):
/// `λ = Π_{m≠me} x_m / (x_m − x_me)`. `None` if `me` is not in `set` or `set` repeats a party.
pub(crate) fn lagrange_at_zero<G: Curve>(set: &[PartyIndex], me: PartyIndex) -> Option<G::Scalar> {
    let mut distinct = set.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if !set.contains(&me) || distinct.len() != set.len() {
        return None;
    }
    let x_me = point_of::<G>(me);
    let mut num = G::one();
    let mut den = G::one();
    for &m in set.iter().filter(|&&m| m != me) {
        let x_m = point_of::<G>(m);
        num = num * x_m;
        den = den * (x_m - x_me);
    }
    G::invert(&den).map(|inv| num * inv)
}

#[cfg(test)]
mod tests {
    use super::super::curve::{Ed, Secp};
    use super::*;

    fn round_trip<G: Curve>() {
        let secret = G::random();
        let poly = Polynomial::<G>::random(secret, 3);
        let commitments = poly.commitments();
        let shares: Vec<G::Scalar> = (0..5u16)
            .map(|i| G::scalar_from_bytes(&*poly.share_for(i)).unwrap())
            .collect();
        for (i, s) in shares.iter().enumerate() {
            assert!(verify_share::<G>(&commitments, i as u16, s));
            assert!(!verify_share::<G>(&commitments, i as u16, &(*s + G::one())));
        }
        // Any 3 shares interpolate to the secret; 2 do not.
        for set in [[0u16, 1, 2], [1, 3, 4], [0, 2, 4]] {
            let mut acc = G::zero();
            for &i in &set {
                acc = acc + lagrange_at_zero::<G>(&set, i).unwrap() * shares[usize::from(i)];
            }
            assert!(acc == secret, "{set:?}");
        }
        let pair = [0u16, 1];
        let mut two = G::zero();
        for &i in &pair {
            two = two + lagrange_at_zero::<G>(&pair, i).unwrap() * shares[usize::from(i)];
        }
        assert!(two != secret);
        assert!(lagrange_at_zero::<G>(&[0, 0, 1], 0).is_none());
        assert!(lagrange_at_zero::<G>(&[1, 2], 0).is_none());
    }

    #[test]
    fn feldman_shares_verify_and_interpolate_on_both_curves() {
        round_trip::<Secp>();
        round_trip::<Ed>();
    }

    #[test]
    fn encodings_refuse_non_canonical_values() {
        assert!(Secp::scalar_from_bytes(&[0xFF; 32]).is_none());
        assert!(Ed::scalar_from_bytes(&[0xFF; 32]).is_none());
        assert!(Secp::point_from_bytes(&[0u8; 33]).is_none());
        assert!(Secp::point_from_bytes(&[2u8; 32]).is_none());
        // A small-order Ed25519 point (the identity's torsion coset) is refused.
        let mut low = [0u8; 32];
        low[0] = 1; // the identity
        assert!(Ed::point_from_bytes(&low).is_some());
        let eight_torsion = curve25519_dalek::constants::EIGHT_TORSION[1]
            .compress()
            .to_bytes();
        assert!(Ed::point_from_bytes(&eight_torsion).is_none());
    }
}

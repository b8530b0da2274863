//! Import of a single-signature key: the importer deals it as one Feldman-verifiable Shamir
//! sharing, and the new holders complete their shares through [`super`]'s redistribution path
//! with that dealing in place of the old holders' sub-sharings. **Ours, unaudited.**
//!
//! The steps (Shamir, "How to share a secret", CACM 1979; Feldman, "A practical scheme for
//! non-interactive verifiable secret sharing", FOCS 1987):
//!
//! 1. The importer (offline tooling holding the whole key `x`, the one place it ever is) draws
//!    `f(X) = x + a_1·X + … + a_{t−1}·X^{t−1}`, publishes `C_k = a_k·G` (so `C_0 = x·G` is the
//!    wallet's key) and gives `f(j + 1)` to holder `j` only, sealed to that holder's identity by
//!    the caller. `f` and `x` are zeroized at once.
//! 2. Every holder broadcasts a digest of the commitments it was given and checks that every
//!    other holder was given the same ones (a coordinator handing out two dealings is caught);
//!    checks `C_0` is the planned key; and checks its own share against the commitments. A
//!    failed check aborts the import.
//! 3. The share and every public share `Y_m = Σ_k C_k·(m + 1)^k` then go through the same
//!    completion as a reshare's: the scheme rebuilds its key share through the protocol
//!    crate's validating constructors (DKLs23 runs its DKG phases 2–4), and every holder
//!    confirms the broadcast transcript.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::curve::{Curve, Ed, Secp};
use super::vss;
use crate::{Error, PublicKey, Result, SchemeId, ThresholdParams};

/// Domain of [`commitments_digest`].
const DIGEST_DOMAIN: &[u8] = b"tessera/import-dealing/v1";

/// What one holder receives from the importer.
pub struct ImportedShare {
    /// The dealing's Feldman commitments `C_0 … C_{t−1}`, in the curve's standard encoding
    /// (public, the same for every holder).
    pub commitments: Vec<Vec<u8>>,
    /// `f(me + 1)` in the curve's standard encoding (secp256k1 big-endian, Ed25519 little-endian).
    pub share: Zeroizing<[u8; 32]>,
}

/// The importer's dealing: the key it shares, the public commitments and one share per holder
/// (by party index). The shares are secret; seal each to its holder before it leaves.
pub struct ImportDealing {
    /// The wallet's group key, `C_0`.
    pub public_key: PublicKey,
    /// Feldman commitments, `t` of them.
    pub commitments: Vec<Vec<u8>>,
    /// `f(j + 1)` for every holder `j`.
    pub shares: Vec<Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for ImportDealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportDealing")
            .field("public_key", &self.public_key)
            .field("commitments", &self.commitments.len())
            .field("shares", &"<redacted>")
            .finish()
    }
}

/// Step 1: deals `secret` (the scheme's curve encoding of the private scalar: secp256k1
/// big-endian, Ed25519 canonical little-endian) for `params`.
pub fn deal(scheme: SchemeId, secret: &[u8; 32], params: ThresholdParams) -> Result<ImportDealing> {
    match scheme {
        SchemeId::Ed25519 => deal_on::<Ed>(secret, params, |b| {
            Ok(PublicKey::Ed25519(
                b.try_into()
                    .map_err(|_| Error::Bug("Ed25519 point length".into()))?,
            ))
        }),
        _ => deal_on::<Secp>(secret, params, |b| {
            Ok(PublicKey::Secp256k1(b.try_into().map_err(|_| {
                Error::Bug("secp256k1 point length".into())
            })?))
        }),
    }
}

fn deal_on<G: Curve>(
    secret: &[u8; 32],
    params: ThresholdParams,
    key: impl Fn(&[u8]) -> Result<PublicKey>,
) -> Result<ImportDealing> {
    let mut x = G::scalar_from_bytes(secret)
        .ok_or_else(|| Error::InvalidArgs("the key is not a canonical scalar".into()))?;
    if x == G::zero() {
        return Err(Error::InvalidArgs("the key is zero".into()));
    }
    let poly = vss::Polynomial::<G>::random(x, params.t);
    zeroize::Zeroize::zeroize(&mut x);
    let commitments: Vec<Vec<u8>> = poly.commitments().iter().map(G::point_to_bytes).collect();
    Ok(ImportDealing {
        public_key: key(&commitments[0])?,
        shares: (0..params.n).map(|j| poly.share_for(j)).collect(),
        commitments,
    })
}

/// The digest every holder broadcasts in step 2: SHA-256 over a domain and the length-prefixed
/// commitments.
pub fn commitments_digest(commitments: &[Vec<u8>]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DIGEST_DOMAIN);
    h.update((commitments.len() as u64).to_be_bytes());
    for c in commitments {
        h.update((c.len() as u64).to_be_bytes());
        h.update(c);
    }
    h.finalize().into()
}

/// Step 2's round-1 broadcast: the digest of the commitments this holder was given.
#[derive(Serialize, Deserialize)]
pub(crate) struct ImportEcho(pub [u8; 32]);

/// One holder's imported share, parsed and checked against its commitments (step 2's local
/// checks); the cross-holder check happens in round 1.
pub(crate) struct External<G: Curve> {
    pub commitments: Vec<G::Point>,
    pub digest: [u8; 32],
    pub share: Zeroizing<[u8; 32]>,
}

impl<G: Curve> External<G> {
    /// Parses `imported` for holder `me` of a `t`-threshold wallet whose key is `group_key`.
    pub fn check(
        imported: &ImportedShare,
        me: crate::PartyIndex,
        t: u16,
        group_key: &G::Point,
    ) -> Result<Self> {
        let aborted = |reason: &str| Error::Aborted {
            culprits: Vec::new(),
            reason: reason.into(),
            ban: false,
        };
        if imported.commitments.len() != usize::from(t) {
            return Err(aborted(
                "the import dealing has the wrong number of commitments",
            ));
        }
        let commitments = imported
            .commitments
            .iter()
            .map(|c| G::point_from_bytes(c))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| aborted("an import commitment is not a valid point"))?;
        if commitments[0] != *group_key {
            return Err(aborted(
                "the import dealing does not share the wallet's key",
            ));
        }
        let share = G::scalar_from_bytes(&*imported.share)
            .ok_or_else(|| aborted("this holder's imported share is not a valid scalar"))?;
        if !vss::verify_share::<G>(&commitments, me, &share) {
            return Err(aborted(
                "this holder's imported share is not on the dealing's committed polynomial",
            ));
        }
        Ok(External {
            digest: commitments_digest(&imported.commitments),
            commitments,
            share: imported.share.clone(),
        })
    }
}

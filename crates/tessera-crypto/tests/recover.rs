//! Disaster recovery (`tessera_crypto::recover`): any `t` shares give back the group's key,
//! which an independent BIP-32 implementation derives exactly as Tessera does and whose
//! signatures independent verifiers accept; mixed, duplicate or too few shares are refused.

#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use bitcoin::bip32::{ChildNumber, Xpriv};
use sha2::{Digest, Sha512};
use tessera_crypto::primes::fixtures;
use tessera_crypto::recover::{reconstruct, RecoveredKey};
use tessera_crypto::{
    hd, scheme, sim, AuxInfo, Cggmp24, DerivationPath, KeyShare, KeygenInput, PublicKey, SchemeId,
    SessionId, ThresholdParams,
};

fn sid() -> SessionId {
    SessionId::random(&mut rand_core::OsRng)
}

fn keygen(id: SchemeId, t: u16, n: u16) -> Vec<KeyShare> {
    let mut aux: Vec<Option<AuxInfo>> = if id == SchemeId::EcdsaCggmp24 {
        let s = sid();
        let sessions = (0..n)
            .map(|i| {
                Cggmp24
                    .aux_info_session(s, i, n, fixtures::primes(usize::from(i)))
                    .unwrap()
            })
            .collect();
        sim::run(sessions).unwrap().into_iter().map(Some).collect()
    } else {
        (0..n).map(|_| None).collect()
    };
    let params = ThresholdParams::new(t, n).unwrap();
    let s = sid();
    let sessions = (0..n)
        .map(|me| {
            scheme(id)
                .keygen(KeygenInput {
                    sid: s,
                    me,
                    params,
                    aux: aux[usize::from(me)].take(),
                })
                .unwrap()
        })
        .collect();
    sim::run(sessions).unwrap()
}

fn copies(shares: &[KeyShare], pick: &[usize]) -> Vec<KeyShare> {
    pick.iter()
        .map(|&i| KeyShare::from_bytes(&shares[i].to_bytes()).unwrap())
        .collect()
}

/// BIP-32 child public keys from the recovered key, by rust-bitcoin, equal Tessera's own
/// derivation from the group key and chain code.
fn check_bip32(k: &RecoveredKey) {
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let mut xprv_bytes = Vec::new();
    xprv_bytes.extend_from_slice(&[0x04, 0x88, 0xAD, 0xE4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    xprv_bytes.extend_from_slice(&k.chain_code);
    xprv_bytes.push(0);
    xprv_bytes.extend_from_slice(&*k.secret);
    let xprv = Xpriv::decode(&xprv_bytes).unwrap();
    let again = Xpriv::from_str(&xprv.to_string()).unwrap();
    for path in ["m/0", "m/0/1", "m/7/2147483647"] {
        let ours = hd::derive_public_key(
            &k.public_key,
            &k.chain_code,
            &DerivationPath::parse(path).unwrap(),
        )
        .unwrap();
        let children: Vec<ChildNumber> = path
            .trim_start_matches("m/")
            .split('/')
            .map(|c| ChildNumber::from_normal_idx(c.parse().unwrap()).unwrap())
            .collect();
        let child = again.derive_priv(&secp, &children).unwrap();
        let theirs = child.private_key.public_key(&secp).serialize();
        assert_eq!(ours, PublicKey::Secp256k1(theirs), "{path}");
    }
}

/// An ECDSA signature with the recovered key, verified by libsecp256k1 under the group key.
fn check_ecdsa(k: &RecoveredKey) {
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let sk = bitcoin::secp256k1::SecretKey::from_slice(&*k.secret).unwrap();
    let msg = bitcoin::secp256k1::Message::from_digest([9; 32]);
    let sig = secp.sign_ecdsa(&msg, &sk);
    let PublicKey::Secp256k1(pk) = &k.public_key else {
        panic!("secp256k1 key expected")
    };
    let pk = bitcoin::secp256k1::PublicKey::from_slice(pk).unwrap();
    secp.verify_ecdsa(&msg, &sig, &pk).unwrap();
}

/// An RFC 8032 signature made from the bare scalar (no seed exists), verified by
/// ed25519-dalek's strict verifier under the group key.
fn check_ed25519(k: &RecoveredKey) {
    use curve25519_dalek::{constants::ED25519_BASEPOINT_POINT as B, Scalar};
    let PublicKey::Ed25519(pk) = k.public_key else {
        panic!("ed25519 key expected")
    };
    let a = Scalar::from_canonical_bytes(*k.secret).unwrap();
    let msg = b"recovered";
    let r =
        Scalar::from_bytes_mod_order_wide(&Sha512::digest([&[7u8; 32][..], msg].concat()).into());
    let big_r = (B * r).compress().to_bytes();
    let h: [u8; 64] = Sha512::digest([&big_r[..], &pk[..], &msg[..]].concat()).into();
    let s = r + Scalar::from_bytes_mod_order_wide(&h) * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(s.as_bytes());
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
    vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
        .unwrap();
}

#[test]
fn any_quorum_recovers_the_group_key_for_every_scheme() {
    for id in SchemeId::ALL {
        let shares = keygen(id, 2, 3);
        let mut secrets = Vec::new();
        for pick in [&[0, 1][..], &[1, 2], &[2, 0], &[0, 1, 2]] {
            let k = reconstruct(&copies(&shares, pick)).unwrap();
            assert_eq!(&k.public_key, shares[0].public_key(), "{id}");
            assert!(!format!("{k:?}").contains(&hex::encode(*k.secret)));
            secrets.push(*k.secret);
        }
        assert!(secrets.windows(2).all(|w| w[0] == w[1]), "{id}");
        let k = reconstruct(&copies(&shares, &[0, 2])).unwrap();
        match id {
            SchemeId::Ed25519 => check_ed25519(&k),
            SchemeId::SchnorrBip340 => check_bip32(&k),
            _ => {
                check_bip32(&k);
                check_ecdsa(&k);
            }
        }
    }
}

#[test]
fn mixed_duplicate_or_too_few_shares_are_refused() {
    let a = keygen(SchemeId::EcdsaDkls23, 2, 3);
    let b = keygen(SchemeId::EcdsaDkls23, 2, 3);
    let mut mixed = copies(&a, &[0]);
    mixed.extend(copies(&b, &[1]));
    let e = reconstruct(&mixed).unwrap_err().to_string();
    assert!(e.contains("different wallets"), "{e}");
    let e = reconstruct(&copies(&a, &[1, 1])).unwrap_err().to_string();
    assert!(e.contains("twice"), "{e}");
    let e = reconstruct(&copies(&a, &[2])).unwrap_err().to_string();
    assert!(e.contains("threshold is 2"), "{e}");
    assert!(reconstruct(&[]).is_err());
}

/// `tessera_crypto::export`: each party's export is its Shamir share at `x = index + 1` with
/// every party's verification share; checked here with k256 / curve25519-dalek directly: each
/// share times the base point is its verification share, every export lists the same ones,
/// and any two exports interpolate to the key `reconstruct` gives, whose public key is the
/// wallet's.
#[test]
fn exported_shares_are_plain_shamir_shares_of_the_key() {
    use tessera_crypto::export::export_share;
    for id in SchemeId::ALL {
        let shares = keygen(id, 2, 3);
        let exports: Vec<_> = shares.iter().map(|s| export_share(s).unwrap()).collect();
        for (i, e) in exports.iter().enumerate() {
            assert_eq!((e.index, e.threshold, e.parties), (i as u16, 2, 3), "{id}");
            assert_eq!(
                e.verification_shares, exports[0].verification_shares,
                "{id}"
            );
            assert_eq!(&e.public_key, shares[0].public_key());
            assert!(!format!("{e:?}").contains(&hex::encode(*e.secret)));
            assert_eq!(
                base_times(id, &e.secret),
                e.verification_shares[i],
                "{id} party {i}"
            );
        }
        let key = reconstruct(&copies(&shares, &[0, 2])).unwrap();
        for pick in [[0usize, 1], [1, 2], [0, 2]] {
            let secret = interpolate_at_zero(id, &exports, pick);
            assert_eq!(secret, *key.secret, "{id} from {pick:?}");
        }
    }
}

/// `s·G`, encoded as the export encodes verification shares.
fn base_times(id: SchemeId, s: &[u8; 32]) -> Vec<u8> {
    if id == SchemeId::Ed25519 {
        let s = curve25519_dalek::Scalar::from_canonical_bytes(*s).unwrap();
        return (curve25519_dalek::constants::ED25519_BASEPOINT_POINT * s)
            .compress()
            .to_bytes()
            .to_vec();
    }
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    use k256::elliptic_curve::PrimeField;
    let s = k256::Scalar::from_repr((*s).into()).unwrap();
    (k256::ProjectivePoint::GENERATOR * s)
        .to_affine()
        .to_encoded_point(true)
        .as_bytes()
        .to_vec()
}

/// Lagrange interpolation at 0 of two exports, at x = index + 1, in the export's encoding.
fn interpolate_at_zero(
    id: SchemeId,
    exports: &[tessera_crypto::export::ExportedShare],
    pick: [usize; 2],
) -> [u8; 32] {
    let (a, b) = (&exports[pick[0]], &exports[pick[1]]);
    let (xa, xb) = (u64::from(a.index) + 1, u64::from(b.index) + 1);
    if id == SchemeId::Ed25519 {
        use curve25519_dalek::Scalar;
        let (xa, xb) = (Scalar::from(xa), Scalar::from(xb));
        let sa = Scalar::from_canonical_bytes(*a.secret).unwrap();
        let sb = Scalar::from_canonical_bytes(*b.secret).unwrap();
        let s = sa * xb * (xb - xa).invert() + sb * xa * (xa - xb).invert();
        return s.to_bytes();
    }
    use k256::elliptic_curve::PrimeField;
    use k256::Scalar;
    let (xa, xb) = (Scalar::from(xa), Scalar::from(xb));
    let sa = Scalar::from_repr((*a.secret).into()).unwrap();
    let sb = Scalar::from_repr((*b.secret).into()).unwrap();
    let s = sa * xb * (xb - xa).invert().unwrap() + sb * xa * (xa - xb).invert().unwrap();
    s.to_bytes().into()
}

//! Helpers the crypto test binaries share: key generation through the simulation, signing,
//! and verification by independent libraries (libsecp256k1 through `bitcoin`, ed25519-dalek).

#![allow(clippy::unwrap_used, dead_code)]

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use bitcoin::secp256k1::{self, Secp256k1};
use tessera_crypto::primes::fixtures;
use tessera_crypto::sim::{self, PartyError};
use tessera_crypto::{
    hd, AuxInfo, Cggmp24, DerivationPath, KeyShare, KeygenInput, PartyIndex, PublicKey, Scheme,
    SchemeId, SessionId, SignMessage, Signature, ThresholdParams,
};

pub fn sid() -> SessionId {
    SessionId::random(&mut rand_core::OsRng)
}

/// cggmp24 aux info per group size, generated once per test binary from fixture primes.
pub fn aux_infos(n: u16) -> Vec<AuxInfo> {
    static CACHE: OnceLock<Mutex<HashMap<u16, Vec<Vec<u8>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut guard = cache.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = guard.entry(n).or_insert_with(|| {
        assert!(
            usize::from(n) <= fixtures::count(),
            "not enough fixture primes"
        );
        let id = sid();
        let sessions = (0..n)
            .map(|i| {
                Cggmp24
                    .aux_info_session(id, i, n, fixtures::primes(usize::from(i)))
                    .expect("aux session")
            })
            .collect();
        sim::run(sessions)
            .expect("aux info generation")
            .into_iter()
            .map(|a| a.to_bytes().to_vec())
            .collect()
    });
    bytes
        .iter()
        .map(|b| AuxInfo::from_bytes(b).expect("aux info round trip"))
        .collect()
}

pub fn keygen_inputs(s: &dyn Scheme, t: u16, n: u16) -> Vec<KeygenInput> {
    let params = ThresholdParams::new(t, n).unwrap();
    let id = sid();
    let mut aux: Vec<Option<AuxInfo>> = if s.id() == SchemeId::EcdsaCggmp24 {
        aux_infos(n).into_iter().map(Some).collect()
    } else {
        (0..n).map(|_| None).collect()
    };
    (0..n)
        .map(|me| KeygenInput {
            sid: id,
            me,
            params,
            aux: aux[usize::from(me)].take(),
        })
        .collect()
}

pub fn keygen(s: &dyn Scheme, t: u16, n: u16) -> Vec<KeyShare> {
    let sessions = keygen_inputs(s, t, n)
        .into_iter()
        .map(|i| s.keygen(i).expect("keygen session"))
        .collect();
    sim::run(sessions).expect("keygen")
}

pub fn sign(
    s: &dyn Scheme,
    shares: &[KeyShare],
    signers: &[PartyIndex],
    msg: &SignMessage,
    path: &DerivationPath,
) -> Result<Vec<Signature>, PartyError> {
    let id = sid();
    let sessions = signers
        .iter()
        .map(|&p| {
            s.sign(&shares[usize::from(p)], id, signers, msg, path)
                .expect("sign session")
        })
        .collect();
    sim::run(sessions)
}

/// Independent verification of `sig` by the chain libraries (never by the producing crate).
pub fn verify_independently(scheme: SchemeId, pk: &PublicKey, msg: &SignMessage, sig: &Signature) {
    let secp = Secp256k1::verification_only();
    match (scheme, pk, sig) {
        (
            SchemeId::EcdsaDkls23 | SchemeId::EcdsaCggmp24,
            PublicKey::Secp256k1(pk),
            Signature::Ecdsa { r, s, recovery_id },
        ) => {
            let digest = msg.digest32().unwrap();
            let m = secp256k1::Message::from_digest(digest);
            let mut compact = [0u8; 64];
            compact[..32].copy_from_slice(r);
            compact[32..].copy_from_slice(s);
            let signature = secp256k1::ecdsa::Signature::from_compact(&compact).unwrap();
            let mut normalized = signature;
            normalized.normalize_s();
            assert_eq!(normalized, signature, "signature must be low-s");
            let key = secp256k1::PublicKey::from_slice(pk).unwrap();
            secp.verify_ecdsa(&m, &signature, &key)
                .expect("libsecp256k1 ECDSA verification");
            let rec = secp256k1::ecdsa::RecoverableSignature::from_compact(
                &compact,
                secp256k1::ecdsa::RecoveryId::from_i32(i32::from(*recovery_id)).unwrap(),
            )
            .unwrap();
            let full = Secp256k1::new();
            assert_eq!(
                full.recover_ecdsa(&m, &rec).unwrap(),
                key,
                "recovery id must recover the key"
            );
        }
        (SchemeId::SchnorrBip340, PublicKey::Secp256k1(pk), Signature::Bip340(sig)) => {
            // Independent BIP-341 tweak: bitcoin's tap_tweak of the internal key.
            let internal = secp256k1::PublicKey::from_slice(pk)
                .unwrap()
                .x_only_public_key()
                .0;
            let (output, _) = bitcoin::key::TapTweak::tap_tweak(internal, &secp, None);
            assert_eq!(
                output.to_x_only_public_key().serialize(),
                hd::taproot_output_key(&PublicKey::Secp256k1(*pk)).unwrap(),
                "taproot output key"
            );
            let m = secp256k1::Message::from_digest(msg.digest32().unwrap());
            let s = secp256k1::schnorr::Signature::from_slice(sig).unwrap();
            secp.verify_schnorr(&s, &m, &output.to_x_only_public_key())
                .expect("libsecp256k1 BIP-340 verification");
        }
        (SchemeId::Ed25519, PublicKey::Ed25519(pk), Signature::Ed25519(sig)) => {
            let vk = ed25519_dalek::VerifyingKey::from_bytes(pk).unwrap();
            let s = ed25519_dalek::Signature::from_bytes(sig);
            vk.verify_strict(&msg.ed25519_bytes(), &s)
                .expect("ed25519-dalek verification");
        }
        other => panic!("signature kind does not fit the scheme: {other:?}"),
    }
}

/// Independent BIP-32 CKDpub (rust-bitcoin) for secp256k1 schemes.
pub fn check_bip32(
    root: &PublicKey,
    chain_code: [u8; 32],
    path: &DerivationPath,
    child: &PublicKey,
) {
    let PublicKey::Secp256k1(pk) = root else {
        return;
    };
    let secp = Secp256k1::new();
    let xpub = bitcoin::bip32::Xpub {
        network: bitcoin::NetworkKind::Main,
        depth: 0,
        parent_fingerprint: Default::default(),
        child_number: bitcoin::bip32::ChildNumber::from_normal_idx(0).unwrap(),
        public_key: secp256k1::PublicKey::from_slice(pk).unwrap(),
        chain_code: bitcoin::bip32::ChainCode::from(chain_code),
    };
    let p = bitcoin::bip32::DerivationPath::from_str(&path.to_string()).unwrap();
    let derived = xpub.derive_pub(&secp, &p).unwrap();
    assert_eq!(
        PublicKey::Secp256k1(derived.public_key.serialize()),
        *child,
        "BIP-32 child key"
    );
}

pub fn subsets(n: u16, t: u16) -> Vec<Vec<u16>> {
    (0u32..(1 << n))
        .filter(|m| m.count_ones() == u32::from(t))
        .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect())
        .collect()
}

pub fn message_for(id: SchemeId, text: &str) -> SignMessage {
    match id {
        SchemeId::Ed25519 => SignMessage::raw_bytes(text.as_bytes().to_vec()),
        _ => SignMessage::sha256(text.as_bytes().to_vec()),
    }
}

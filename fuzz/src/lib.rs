//! Fixtures shared by the fuzz targets and by the corpus generator (`gen_corpus`).
//!
//! Everything here is fixed and cheap: well-known public keys, identities and admin keys made
//! from constant seeds, so that a target's setup costs microseconds and every run of a target
//! sees the same world (a crash replays exactly).

use tessera_chain::{PublicKey, SchemeId, WalletKey};
use tessera_wire::IdentityKey;

/// The secp256k1 generator `G`, compressed: the stand-in wallet key of the ECDSA and BIP-340
/// wallets (the same stand-in the adapters' doc examples use).
pub const SECP_G: [u8; 33] = [
    0x02, 0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac, 0x55, 0xa0, 0x62, 0x95, 0xce, 0x87, 0x0b,
    0x07, 0x02, 0x9b, 0xfc, 0xdb, 0x2d, 0xce, 0x28, 0xd9, 0x59, 0xf2, 0x81, 0x5b, 0x16, 0xf8, 0x17,
    0x98,
];

/// The secp256k1 wallet key.
pub fn secp_key() -> PublicKey {
    PublicKey::Secp256k1(SECP_G)
}

/// The Ed25519 wallet key: the public key of the seed `[7; 32]`.
pub fn ed_key() -> PublicKey {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    PublicKey::Ed25519(sk.verifying_key().to_bytes())
}

/// A wallet key of `scheme` over `pk`.
pub fn wallet(scheme: SchemeId, pk: &PublicKey) -> WalletKey<'_> {
    WalletKey {
        scheme,
        public_key: pk,
    }
}

/// Node identity number `i` (fixed seeds, no randomness).
pub fn identity(i: u8) -> IdentityKey {
    let mut b = Vec::with_capacity(69);
    b.extend_from_slice(b"TSID");
    b.push(1);
    b.extend_from_slice(&[0x10 + i; 32]);
    b.extend_from_slice(&[0x40 + i; 32]);
    IdentityKey::from_bytes(&b).expect("a fixed identity parses")
}

/// Policy admin number `i` (fixed seed).
pub fn admin(i: u8) -> tessera_policy::SecretKey {
    tessera_policy::SecretKey::from_seed(&[0xa0 + i; 32])
}

/// The session id of the envelope target's opener.
pub const SESSION: [u8; 32] = [0x5e; 32];

/// A deterministic "random" generator for the few places an API takes one (sealing seeds in
/// the corpus generator, never inside a target's property check).
pub struct FixedRng(pub u64);

impl rand_core::RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for FixedRng {}

/// Splits a fuzz input into a selector byte and the rest (`(0, [])` for an empty input).
pub fn split(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => (0, &[]),
    }
}

/// The properties every chain target checks on one payload:
///
/// - `parse` never panics (the `ChainAdapter::parse` contract: "Never panics on any input");
/// - it is deterministic: a second parse gives the identical result (every signer re-parses
///   the payload and must reach the same intent);
/// - an accepted payload's intent survives its canonical encoding
///   (`Intent::from_canonical_bytes(canonical_bytes)` gives it back) and renders, and its
///   `intent_hash` is computable;
/// - `finalize` with one well-formed dummy signature per message never panics (it must refuse
///   them or assemble a transaction; a forged signature cannot verify).
///
/// Returns the accepted parse, for target-specific checks.
pub fn check_chain_parse(
    adapter: &dyn tessera_chain::ChainAdapter,
    network: &str,
    key: WalletKey<'_>,
    payload: &tessera_chain::Payload,
) -> Option<tessera_chain::Parsed> {
    let first = adapter.parse(network, key, payload);
    let second = adapter.parse(network, key, payload);
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "parse is not deterministic"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "parse is not deterministic"),
        _ => panic!("parse accepted the payload once and refused it once"),
    }
    let parsed = first.ok()?;
    let canonical = parsed.intent.canonical_bytes();
    let back = tessera_chain::Intent::from_canonical_bytes(&canonical)
        .expect("an accepted intent must re-read from its canonical bytes");
    assert_eq!(
        back, parsed.intent,
        "intent changed through its canonical bytes"
    );
    let _ = parsed.intent.render();
    let _ = parsed.intent_hash();
    let sigs: Vec<tessera_chain::Signature> = parsed
        .messages
        .iter()
        .map(|_| dummy_signature(key.scheme))
        .collect();
    let _ = adapter.finalize(network, key, payload, &sigs);
    Some(parsed)
}

/// A well-formed signature of `scheme` that signs nothing.
pub fn dummy_signature(scheme: SchemeId) -> tessera_chain::Signature {
    let mut b = [0x11u8; 64];
    b[0] = 0x2a;
    match scheme {
        SchemeId::Ed25519 => tessera_chain::Signature::Ed25519(b),
        SchemeId::SchnorrBip340 => tessera_chain::Signature::Bip340(b),
        _ => tessera_chain::Signature::Ecdsa {
            r: [0x2a; 32],
            s: [0x11; 32],
            recovery_id: 0,
        },
    }
}

/// The installed policy bundle of the policy targets: tenant `acme`, version 1, the
/// `local-dev` template, admins 0 and 1 with quorum 2, one approver role.
pub fn fixture_bundle() -> tessera_policy::PolicyBundle {
    use std::collections::{BTreeMap, BTreeSet};
    let mut roles = BTreeMap::new();
    roles.insert("treasury".to_string(), BTreeSet::from([admin(2).public()]));
    tessera_policy::PolicyBundle {
        version: 1,
        tenant: "acme".into(),
        policies: tessera_policy::templates::LOCAL_DEV.into(),
        roles,
        admins: tessera_policy::AdminSet::new([admin(0).public(), admin(1).public()], 2)
            .expect("admin set"),
        velocity: BTreeMap::new(),
        created_at: 1_699_990_000,
        quarantined: BTreeSet::new(),
    }
}

/// The backup custodian identity of the backup target (fixed secret `[0x33; 32]`).
pub fn backup_identity() -> tessera_backup::BackupIdentity {
    let text = format!("tessera-backup-identity-v1:{}", hex::encode([0x33u8; 32]));
    tessera_backup::BackupIdentity::from_text(&text).expect("a fixed backup identity parses")
}

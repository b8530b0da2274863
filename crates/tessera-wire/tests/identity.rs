//! Identity keys.

use rand_core::OsRng;
use tessera_wire::{IdentityKey, NodeId, PublicIdentity, SignedIdentity, WireError};

#[test]
fn identity_key_bytes_round_trip() {
    let k = IdentityKey::generate(&mut OsRng);
    let bytes = k.to_bytes();
    assert_eq!(&bytes[..4], b"TSID");
    assert_eq!(bytes[4], 1);
    let k2 = IdentityKey::from_bytes(&bytes).expect("parse");
    assert_eq!(k2.public(), k.public());
    assert_eq!(k2.node_id(), k.node_id());
    let sig = k2.sign("test/domain", b"msg");
    k.public()
        .verify("test/domain", b"msg", &sig)
        .expect("verify");

    let mut bad = bytes.to_vec();
    bad[4] = 9;
    assert!(matches!(
        IdentityKey::from_bytes(&bad),
        Err(WireError::UnsupportedVersion(9))
    ));
    assert!(matches!(
        IdentityKey::from_bytes(&bytes[..40]),
        Err(WireError::InvalidKey(_))
    ));
    assert!(matches!(
        IdentityKey::from_bytes(b"nope"),
        Err(WireError::InvalidKey(_))
    ));
    let mut wrong_magic = bytes.to_vec();
    wrong_magic[0] = b'X';
    assert!(matches!(
        IdentityKey::from_bytes(&wrong_magic),
        Err(WireError::InvalidKey(_))
    ));
}

#[test]
fn identity_debug_is_redacted() {
    let k = IdentityKey::generate(&mut OsRng);
    let dbg = format!("{k:?}");
    assert!(dbg.contains("[REDACTED]"));
    let secret_hex = hex::encode(&k.to_bytes()[5..]);
    assert!(!dbg.contains(&secret_hex[..16]));
    assert!(!dbg.contains(&secret_hex[64..80]));
}

#[test]
fn signatures_are_domain_separated() {
    let k = IdentityKey::generate(&mut OsRng);
    let p = k.public();
    let sig = k.sign("a", b"bc");
    p.verify("a", b"bc", &sig).expect("ok");
    assert!(matches!(
        p.verify("ab", b"c", &sig),
        Err(WireError::BadSignature)
    ));
    assert!(matches!(
        p.verify("a", b"bd", &sig),
        Err(WireError::BadSignature)
    ));
    let other = IdentityKey::generate(&mut OsRng).public();
    assert!(matches!(
        other.verify("a", b"bc", &sig),
        Err(WireError::BadSignature)
    ));
}

#[test]
fn node_id_formats() {
    let k = IdentityKey::generate(&mut OsRng);
    let id = k.node_id();
    assert_eq!(id, k.public().node_id());
    assert_eq!(id.0, k.public().sign);
    let hex = id.to_string();
    assert_eq!(hex.len(), 64);
    assert_eq!(hex, hex.to_lowercase());
    assert_eq!(NodeId::from_hex(&hex).expect("hex"), id);
    assert_eq!(NodeId::from_hex(&hex.to_uppercase()).expect("HEX"), id);
    assert_eq!(format!("{id:?}"), format!("NodeId({})", &hex[..8]));
    assert!(matches!(
        NodeId::from_hex("abcd"),
        Err(WireError::Malformed(_))
    ));
    assert!(matches!(
        NodeId::from_hex(&"zz".repeat(32)),
        Err(WireError::Malformed(_))
    ));
    let json = serde_json::to_string(&id).expect("json");
    assert_eq!(json, format!("\"{hex}\""));
    assert_eq!(serde_json::from_str::<NodeId>(&json).expect("back"), id);
    let pc = postcard::to_stdvec(&id).expect("postcard");
    assert_eq!(postcard::from_bytes::<NodeId>(&pc).expect("back"), id);
}

#[test]
fn public_identity_serde_is_hex() {
    let p = IdentityKey::generate(&mut OsRng).public();
    let v: serde_json::Value = serde_json::to_value(p).expect("json");
    assert_eq!(v["sign"], hex::encode(p.sign));
    assert_eq!(v["kx"], hex::encode(p.kx));
    let back: PublicIdentity = serde_json::from_value(v).expect("back");
    assert_eq!(back, p);
}

#[test]
fn signed_identity_binds_the_kx_key() {
    let k = IdentityKey::generate(&mut OsRng);
    let s = k.signed_identity();
    assert_eq!(s.verify().expect("valid"), k.public());
    let mut swapped: SignedIdentity = s;
    swapped.identity.kx = IdentityKey::generate(&mut OsRng).public().kx;
    assert!(matches!(swapped.verify(), Err(WireError::BadSignature)));
    let json = serde_json::to_string(&s).expect("json");
    assert_eq!(
        serde_json::from_str::<SignedIdentity>(&json).expect("back"),
        s
    );
}

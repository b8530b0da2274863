//! Bundles: canonical bytes, signatures, acceptance of updates.

use std::collections::BTreeSet;

use tessera_policy::*;

use crate::common::*;

const P: &str = r#"@id("all") permit (principal, action, resource);"#;

fn with_rule() -> PolicyBundle {
    let mut b = bundle(1, P);
    b.velocity.insert(
        "r1".into(),
        VelocityRule {
            wallet: Some("wallet-1".into()),
            asset: AssetKey::native("ethereum", "mainnet").unwrap(),
            window_s: 86_400,
            limit: VelocityLimit::Amount(BaseUnits::from_u128(5)),
        },
    );
    b
}

/// Every single-field change of the bundle.
fn variants() -> Vec<(&'static str, PolicyBundle)> {
    let b = with_rule();
    let mut out = Vec::new();
    let mut v = |what, f: &dyn Fn(&mut PolicyBundle)| {
        let mut c = b.clone();
        f(&mut c);
        out.push((what, c));
    };
    v("version", &|c| c.version += 1);
    v("tenant", &|c| c.tenant.push('x'));
    v("policies", &|c| c.policies.push(' '));
    v("role renamed", &|c| {
        let k = c.roles.remove("risk").unwrap();
        c.roles.insert("risk2".into(), k);
    });
    v("role key added", &|c| {
        c.roles.get_mut("risk").unwrap().insert(pk(99));
    });
    v("role key removed", &|c| {
        c.roles.get_mut("risk").unwrap().remove(&pk(30));
    });
    v("role removed", &|c| {
        c.roles.remove("desk-approver");
    });
    v("admin added", &|c| {
        c.admins.keys.insert(pk(4));
    });
    v("admin quorum", &|c| c.admins.quorum = 3);
    v("rule id", &|c| {
        let r = c.velocity.remove("r1").unwrap();
        c.velocity.insert("r2".into(), r);
    });
    v("rule wallet", &|c| {
        c.velocity.get_mut("r1").unwrap().wallet = None
    });
    v("rule asset", &|c| {
        c.velocity.get_mut("r1").unwrap().asset = AssetKey::native("ethereum", "sepolia").unwrap()
    });
    v("rule window", &|c| {
        c.velocity.get_mut("r1").unwrap().window_s += 1
    });
    v("rule amount", &|c| {
        c.velocity.get_mut("r1").unwrap().limit = VelocityLimit::Amount(BaseUnits::from_u128(6))
    });
    v("rule kind", &|c| {
        c.velocity.get_mut("r1").unwrap().limit = VelocityLimit::Count(5)
    });
    v("rule added", &|c| {
        let r = c.velocity["r1"].clone();
        c.velocity.insert("r0".into(), r);
    });
    v("created_at", &|c| c.created_at += 1);
    v("quarantined", &|c| {
        c.quarantined.insert(pk(40));
    });
    v("another quarantined", &|c| {
        c.quarantined.insert(pk(41));
    });
    out
}

#[test]
fn an_empty_quarantine_keeps_the_encoding_of_bundles_made_before_it() {
    let b = with_rule();
    let mut q = b.clone();
    q.quarantined.insert(pk(40));
    assert!(q.canonical_bytes().starts_with(&b.canonical_bytes()));
    assert!(q.is_quarantined(&pk(40).0) && !q.is_quarantined(&pk(41).0));
    let json = serde_json::to_value(&b).unwrap();
    assert!(json.get("quarantined").is_none());
    let back: tessera_policy::PolicyBundle = serde_json::from_value(json).unwrap();
    assert_eq!(back.bundle_hash(), b.bundle_hash());
}

#[test]
fn every_field_changes_the_hash() {
    let base = with_rule().bundle_hash();
    let mut seen = BTreeSet::from([base]);
    for (what, b) in variants() {
        assert!(
            seen.insert(b.bundle_hash()),
            "{what} did not change the hash"
        );
    }
}

#[test]
fn canonical_bytes_are_unambiguous() {
    // Moving bytes between adjacent strings changes the encoding.
    let mut a = bundle(1, "xy");
    a.tenant = "ab".into();
    let mut b = bundle(1, "bxy");
    b.tenant = "a".into();
    assert_ne!(a.canonical_bytes(), b.canonical_bytes());
    // Moving a key between roles too.
    let mut a = bundle(1, P);
    a.roles.get_mut("risk").unwrap().insert(pk(10));
    let mut b = bundle(1, P);
    b.roles.get_mut("desk-approver").unwrap().insert(pk(30));
    assert_ne!(a.canonical_bytes(), b.canonical_bytes());
    // Same content, built in another order: same bytes (maps and sets are sorted).
    let mut c = bundle(1, P);
    c.roles = roles().into_iter().rev().collect();
    assert_eq!(c.canonical_bytes(), bundle(1, P).canonical_bytes());
    assert!(bundle(1, P)
        .canonical_bytes()
        .starts_with(&[&24u64.to_be_bytes()[..], b"tessera/policy-bundle/v1"].concat()));
}

#[test]
fn signature_over_an_altered_bundle_fails() {
    let trusted = [pk(1), pk(2), pk(3)];
    let s = signed(with_rule(), &[1, 2]);
    s.verify(&trusted, 2).unwrap();
    for (what, b) in variants() {
        let altered = SignedBundle {
            bundle: b,
            admin_signatures: s.admin_signatures.clone(),
        };
        assert!(
            matches!(
                altered.verify(&trusted, 2),
                Err(BundleError::BadSignature { .. })
            ),
            "{what}"
        );
    }
    // A flipped signature bit.
    let mut bad = s.clone();
    bad.admin_signatures[0].signature[5] ^= 1;
    let admin = bad.admin_signatures[0].admin;
    assert_eq!(
        bad.verify(&trusted, 2),
        Err(BundleError::BadSignature { admin })
    );
}

#[test]
fn verify_counts_distinct_trusted_admins() {
    let trusted = [pk(1), pk(2), pk(3)];
    let one = signed(bundle(1, P), &[1]);
    assert_eq!(
        one.verify(&trusted, 2),
        Err(BundleError::QuorumNotMet { have: 1, need: 2 })
    );
    // The same admin twice is one signature.
    let mut twice = one.clone();
    twice
        .admin_signatures
        .push(twice.admin_signatures[0].clone());
    assert_eq!(
        twice.verify(&trusted, 2),
        Err(BundleError::QuorumNotMet { have: 1, need: 2 })
    );
    // A signature by a stranger refuses the bundle.
    let stranger = signed(bundle(1, P), &[1, 2, 9]);
    assert_eq!(
        stranger.verify(&trusted, 2),
        Err(BundleError::UnknownAdmin { admin: pk(9) })
    );
    // min_quorum 0 still needs one signature.
    assert_eq!(
        SignedBundle::new(bundle(1, P)).verify(&trusted, 0),
        Err(BundleError::QuorumNotMet { have: 0, need: 1 })
    );
    // Signed by a quorum but the Cedar is broken: refused.
    let broken = signed(bundle(1, "permit (principal, action, resource);"), &[1, 2]);
    assert!(matches!(
        broken.verify(&trusted, 2),
        Err(BundleError::PolicyParse { .. })
    ));
}

#[test]
fn structure_is_checked() {
    assert!(matches!(
        AdminSet::new([pk(1)], 2),
        Err(BundleError::InvalidBundle { .. })
    ));
    assert!(matches!(
        AdminSet::new([pk(1)], 0),
        Err(BundleError::InvalidBundle { .. })
    ));
    let mut b = bundle(1, P);
    b.roles.insert("empty".into(), BTreeSet::new());
    assert!(matches!(
        Engine::compile(&b),
        Err(BundleError::InvalidBundle { .. })
    ));
    let mut b = bundle(1, P);
    b.admins.quorum = 4;
    assert!(matches!(
        Engine::compile(&b),
        Err(BundleError::InvalidBundle { .. })
    ));
    let mut b = with_rule();
    b.velocity.get_mut("r1").unwrap().window_s = 0;
    assert!(matches!(
        Engine::compile(&b),
        Err(BundleError::InvalidBundle { .. })
    ));
    let mut b = bundle(1, P);
    b.tenant = String::new();
    assert!(matches!(
        Engine::compile(&b),
        Err(BundleError::InvalidBundle { .. })
    ));
}

#[test]
fn accept_update_follows_the_admins_in_force() {
    let init = admins(); // 1, 2, 3; quorum 2
                         // First bundle: signed by the admins configured at init.
    let v1 = signed(bundle(1, P), &[1, 3]);
    let e1 = accept_update(None, &v1, &init).unwrap();
    assert_eq!(e1.version(), 1);
    assert_eq!(e1.signed_bundle(), &v1);
    assert_eq!(e1.bundle_hash(), v1.bundle.bundle_hash());
    assert_eq!(
        accept_update(None, &signed(bundle(1, P), &[1]), &init).unwrap_err(),
        BundleError::QuorumNotMet { have: 1, need: 2 }
    );

    // v2 rotates the admins to {4, 5} (quorum 2); signed by the current admins.
    let mut b2 = bundle(2, P);
    b2.admins = AdminSet::new([pk(4), pk(5)], 2).unwrap();
    // Signed only by its own new admins: it cannot authorize itself.
    assert_eq!(
        accept_update(
            Some(e1.signed_bundle()),
            &signed(b2.clone(), &[4, 5]),
            &init
        )
        .unwrap_err(),
        BundleError::UnknownAdmin {
            admin: pk(4).min(pk(5))
        }
    );
    let v2 = signed(b2, &[2, 3]);
    let e2 = accept_update(Some(e1.signed_bundle()), &v2, &init).unwrap();

    // Stale: same or lower version, even if well signed.
    assert_eq!(
        accept_update(
            Some(e2.signed_bundle()),
            &signed(bundle(2, P), &[4, 5]),
            &init
        )
        .unwrap_err(),
        BundleError::StaleVersion {
            current: 2,
            candidate: 2
        }
    );
    assert_eq!(
        accept_update(Some(e2.signed_bundle()), &v1, &init).unwrap_err(),
        BundleError::StaleVersion {
            current: 2,
            candidate: 1
        }
    );
    // v3 by the old admins is refused; by the new ones accepted. Versions may skip.
    let mut b3 = bundle(7, P);
    b3.admins = AdminSet::new([pk(4), pk(5)], 2).unwrap();
    assert_eq!(
        accept_update(
            Some(e2.signed_bundle()),
            &signed(b3.clone(), &[1, 2]),
            &init
        )
        .unwrap_err(),
        BundleError::UnknownAdmin {
            admin: pk(1).min(pk(2))
        }
    );
    let e3 = accept_update(Some(e2.signed_bundle()), &signed(b3, &[4, 5]), &init).unwrap();
    assert_eq!(e3.version(), 7);

    // Another tenant's bundle never replaces this one.
    let mut other = bundle(8, P);
    other.tenant = "globex".into();
    other.admins = AdminSet::new([pk(4), pk(5)], 2).unwrap();
    assert_eq!(
        accept_update(Some(e3.signed_bundle()), &signed(other, &[4, 5]), &init).unwrap_err(),
        BundleError::TenantMismatch {
            current: TENANT.into(),
            candidate: "globex".into()
        }
    );
    // Newer and well signed, but with broken Cedar: refused.
    let mut broken = bundle(
        9,
        "@id(\"x\") permit (principal, action, resource) when { 1 };",
    );
    broken.admins = AdminSet::new([pk(4), pk(5)], 2).unwrap();
    assert!(matches!(
        accept_update(Some(e3.signed_bundle()), &signed(broken, &[4, 5]), &init),
        Err(BundleError::PolicyParse { .. })
    ));
}

#[test]
fn signed_bundle_serde_round_trip() {
    let s = signed(with_rule(), &[1, 2]);
    let json = serde_json::to_string(&s).unwrap();
    let back: SignedBundle = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    back.verify(&[pk(1), pk(2)], 2).unwrap();
    // Unknown fields are refused.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["bundle"]["extra"] = serde_json::json!(1);
    assert!(serde_json::from_value::<SignedBundle>(v).is_err());
    // A non-canonical asset id is refused.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["bundle"]["velocity"]["r1"]["asset"] =
        serde_json::json!("ethereum:mainnet:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
    assert!(serde_json::from_value::<SignedBundle>(v).is_err());
    // Keys print as hex and never as secrets.
    assert_eq!(format!("{:?}", key(1)), "SecretKey([REDACTED])");
    assert_eq!(pk(1).to_string().parse::<PublicKey>().unwrap(), pk(1));
    assert_eq!("zz".parse::<PublicKey>(), Err(KeyError::NotHex));
    assert_eq!("00".parse::<PublicKey>(), Err(KeyError::WrongLength));
}

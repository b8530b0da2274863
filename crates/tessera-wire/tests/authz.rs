//! Operator authorizations.

use rand_core::OsRng;
use sha2::Digest;
use tessera_crypto::{MessageHash, SchemeId, SignMessage};
use tessera_wire::{
    authorized_message, check_networks, network_key, Action, Authorization, AuthorizedMessage,
    IdentityKey, NodeId, OperatorKey, OperatorPublic, WireError, MAX_NETWORKS,
};

const NOW: u64 = 1_700_000_000;
const MAX: u64 = 600;

/// A named change to an action.
type Tweak = (&'static str, Box<dyn Fn(&mut Action)>);

fn keygen_action() -> Action {
    Action::Keygen {
        wallet_id: "treasury".into(),
        scheme: SchemeId::EcdsaCggmp24,
        threshold: 2,
        signers: (0..3)
            .map(|_| IdentityKey::generate(&mut OsRng).node_id())
            .collect(),
        networks: vec!["bitcoin:mainnet".into(), "ethereum:mainnet".into()],
    }
}

fn sign_action() -> Action {
    Action::Sign {
        wallet_id: "treasury".into(),
        path: "m/1/2".into(),
        messages: vec![
            authorized_message(&SignMessage::sha256(b"tx".to_vec())).expect("msg"),
            AuthorizedMessage::DangerRawDigest { digest: [7u8; 32] },
            AuthorizedMessage::Ed25519Message { sha256: [9u8; 32] },
        ],
    }
}

fn tx_action() -> Action {
    Action::SignTransaction {
        wallet_id: "treasury".into(),
        path: "m/0/4".into(),
        chain: "ethereum".into(),
        network: "mainnet".into(),
        intent_hash: [3u8; 32],
    }
}

#[test]
fn valid_authorizations_verify() {
    let op = OperatorKey::generate(&mut OsRng);
    for action in [keygen_action(), sign_action(), tx_action()] {
        let a = Authorization::sign(&op, "req-1".into(), action.clone(), NOW + 300);
        assert_eq!(a.operator, op.public());
        assert_eq!(a.action, action);
        a.verify(&[op.public()], NOW, MAX).expect("valid");
        // Exactly at the lifetime limit is allowed.
        a.verify(&[op.public()], NOW + 300 - MAX, MAX)
            .expect("at limit");
        // Serde round trips (JSON and postcard) keep it valid.
        let json = serde_json::to_string(&a).expect("json");
        let back: Authorization = serde_json::from_str(&json).expect("back");
        assert_eq!(back, a);
        back.verify(&[op.public()], NOW, MAX)
            .expect("valid after json");
        let pc = postcard::to_stdvec(&a).expect("postcard");
        let back: Authorization = postcard::from_bytes(&pc).expect("back");
        back.verify(&[op.public()], NOW, MAX)
            .expect("valid after postcard");
    }
}

#[test]
fn json_uses_names_and_hex() {
    let op = OperatorKey::generate(&mut OsRng);
    let a = Authorization::sign(&op, "r".into(), keygen_action(), NOW + 10);
    let v: serde_json::Value = serde_json::to_value(&a).expect("json");
    assert_eq!(v["action"]["Keygen"]["scheme"], "ecdsa-secp256k1/cggmp24");
    assert_eq!(v["operator"], op.public().to_string());
    assert_eq!(v["signature"], hex::encode(a.signature));
    let s = Authorization::sign(&op, "r".into(), sign_action(), NOW + 10);
    let v: serde_json::Value = serde_json::to_value(&s).expect("json");
    assert_eq!(
        v["action"]["Sign"]["messages"][1]["DangerRawDigest"]["digest"],
        hex::encode([7u8; 32])
    );
}

#[test]
fn untrusted_operator_is_rejected() {
    let op = OperatorKey::generate(&mut OsRng);
    let other = OperatorKey::generate(&mut OsRng);
    let a = Authorization::sign(&op, "r".into(), sign_action(), NOW + 60);
    assert!(matches!(
        a.verify(&[other.public()], NOW, MAX),
        Err(WireError::UntrustedOperator)
    ));
    assert!(matches!(
        a.verify(&[], NOW, MAX),
        Err(WireError::UntrustedOperator)
    ));
    // Claiming a trusted operator while signed by another key.
    let mut forged = Authorization::sign(&other, "r".into(), sign_action(), NOW + 60);
    forged.operator = op.public();
    assert!(matches!(
        forged.verify(&[op.public()], NOW, MAX),
        Err(WireError::BadSignature)
    ));
}

#[test]
fn expiry_and_lifetime() {
    let op = OperatorKey::generate(&mut OsRng);
    let trusted = [op.public()];
    let a = Authorization::sign(&op, "r".into(), sign_action(), NOW);
    assert!(matches!(
        a.verify(&trusted, NOW, MAX),
        Err(WireError::Expired)
    ));
    assert!(matches!(
        a.verify(&trusted, NOW + 1000, MAX),
        Err(WireError::Expired)
    ));
    a.verify(&trusted, NOW - 1, MAX).expect("one second left");
    let long = Authorization::sign(&op, "r".into(), sign_action(), NOW + MAX + 1);
    assert!(matches!(
        long.verify(&trusted, NOW, MAX),
        Err(WireError::TooLongLived)
    ));
    let forever = Authorization::sign(&op, "r".into(), sign_action(), u64::MAX);
    assert!(matches!(
        forever.verify(&trusted, 0, MAX),
        Err(WireError::TooLongLived)
    ));
}

/// As the record of a past action an expired authorization still counts, but only with the
/// trusted operator's valid signature.
#[test]
fn a_record_is_checked_for_operator_and_signature_but_not_expiry() {
    let op = OperatorKey::generate(&mut OsRng);
    let other = OperatorKey::generate(&mut OsRng);
    let a = Authorization::sign(&op, "r".into(), sign_action(), NOW);
    assert!(matches!(
        a.verify(&[op.public()], NOW + 1000, MAX),
        Err(WireError::Expired)
    ));
    a.verify_record(&[op.public()])
        .expect("a record of the past");
    assert!(matches!(
        a.verify_record(&[other.public()]),
        Err(WireError::UntrustedOperator)
    ));
    let mut forged = a.clone();
    forged.request_id = "another".into();
    assert!(matches!(
        forged.verify_record(&[op.public()]),
        Err(WireError::BadSignature)
    ));
}

/// Every field change after signing breaks the signature.
#[test]
fn tampered_fields_break_the_signature() {
    let op = OperatorKey::generate(&mut OsRng);
    let trusted = [op.public()];
    let expect_bad = |a: &Authorization, what: &str| {
        assert!(
            matches!(a.verify(&trusted, NOW, MAX), Err(WireError::BadSignature)),
            "tampered {what} accepted"
        );
    };

    let k = Authorization::sign(&op, "req".into(), keygen_action(), NOW + 60);
    let mut t = k.clone();
    t.request_id = "req2".into();
    expect_bad(&t, "request id");
    let mut t = k.clone();
    t.expires_at += 1;
    expect_bad(&t, "expiry");
    let mut t = k.clone();
    t.signature[10] ^= 1;
    expect_bad(&t, "signature");
    let tweaks: Vec<Tweak> = vec![
        (
            "wallet",
            Box::new(|a| {
                if let Action::Keygen { wallet_id, .. } = a {
                    wallet_id.push('x');
                }
            }),
        ),
        (
            "scheme",
            Box::new(|a| {
                if let Action::Keygen { scheme, .. } = a {
                    *scheme = SchemeId::EcdsaDkls23;
                }
            }),
        ),
        (
            "threshold",
            Box::new(|a| {
                if let Action::Keygen { threshold, .. } = a {
                    *threshold = 3;
                }
            }),
        ),
        (
            "signer replaced",
            Box::new(|a| {
                if let Action::Keygen { signers, .. } = a {
                    signers[1] = NodeId([5u8; 32]);
                }
            }),
        ),
        (
            "signer order",
            Box::new(|a| {
                if let Action::Keygen { signers, .. } = a {
                    signers.swap(0, 1);
                }
            }),
        ),
        (
            "signer dropped",
            Box::new(|a| {
                if let Action::Keygen { signers, .. } = a {
                    signers.pop();
                }
            }),
        ),
        (
            "network relabelled",
            Box::new(|a| {
                if let Action::Keygen { networks, .. } = a {
                    networks[0] = "bitcoin:testnet".into();
                }
            }),
        ),
        (
            "network added",
            Box::new(|a| {
                if let Action::Keygen { networks, .. } = a {
                    networks.push("solana:mainnet-beta".into());
                }
            }),
        ),
    ];
    for (what, f) in &tweaks {
        let mut t = k.clone();
        f(&mut t.action);
        assert_ne!(t.action, k.action, "{what} tweak did nothing");
        expect_bad(&t, what);
    }

    let s = Authorization::sign(&op, "req".into(), sign_action(), NOW + 60);
    let tweaks: Vec<Tweak> = vec![
        (
            "wallet",
            Box::new(|a| {
                if let Action::Sign { wallet_id, .. } = a {
                    *wallet_id = "cold".into();
                }
            }),
        ),
        (
            "path",
            Box::new(|a| {
                if let Action::Sign { path, .. } = a {
                    *path = "m/1/3".into();
                }
            }),
        ),
        (
            "preimage digest",
            Box::new(|a| {
                if let Action::Sign { messages, .. } = a {
                    if let AuthorizedMessage::Preimage { digest, .. } = &mut messages[0] {
                        digest[0] ^= 1;
                    }
                }
            }),
        ),
        (
            "preimage hash",
            Box::new(|a| {
                if let Action::Sign { messages, .. } = a {
                    if let AuthorizedMessage::Preimage { hash, .. } = &mut messages[0] {
                        *hash = MessageHash::Keccak256;
                    }
                }
            }),
        ),
        (
            "raw digest",
            Box::new(|a| {
                if let Action::Sign { messages, .. } = a {
                    messages[1] = AuthorizedMessage::DangerRawDigest { digest: [8u8; 32] };
                }
            }),
        ),
        (
            "message kind",
            Box::new(|a| {
                if let Action::Sign { messages, .. } = a {
                    messages[2] = AuthorizedMessage::DangerRawDigest { digest: [9u8; 32] };
                }
            }),
        ),
        (
            "message added",
            Box::new(|a| {
                if let Action::Sign { messages, .. } = a {
                    messages.push(AuthorizedMessage::DangerRawDigest { digest: [0u8; 32] });
                }
            }),
        ),
        (
            "message removed",
            Box::new(|a| {
                if let Action::Sign { messages, .. } = a {
                    messages.pop();
                }
            }),
        ),
    ];
    for (what, f) in &tweaks {
        let mut t = s.clone();
        f(&mut t.action);
        assert_ne!(t.action, s.action, "{what} tweak did nothing");
        expect_bad(&t, what);
    }
    // Swapping the whole action for another kind.
    let mut t = s.clone();
    t.action = k.action.clone();
    expect_bad(&t, "action kind");

    let x = Authorization::sign(&op, "req".into(), tx_action(), NOW + 60);
    let tweaks: Vec<Tweak> = vec![
        (
            "wallet",
            Box::new(|a| {
                if let Action::SignTransaction { wallet_id, .. } = a {
                    *wallet_id = "cold".into();
                }
            }),
        ),
        (
            "path",
            Box::new(|a| {
                if let Action::SignTransaction { path, .. } = a {
                    *path = "m/0/5".into();
                }
            }),
        ),
        (
            "chain",
            Box::new(|a| {
                if let Action::SignTransaction { chain, .. } = a {
                    *chain = "bitcoin".into();
                }
            }),
        ),
        (
            "network",
            Box::new(|a| {
                if let Action::SignTransaction { network, .. } = a {
                    *network = "sepolia".into();
                }
            }),
        ),
        (
            "intent hash",
            Box::new(|a| {
                if let Action::SignTransaction { intent_hash, .. } = a {
                    intent_hash[31] ^= 1;
                }
            }),
        ),
    ];
    for (what, f) in &tweaks {
        let mut t = x.clone();
        f(&mut t.action);
        assert_ne!(t.action, x.action, "{what} tweak did nothing");
        expect_bad(&t, what);
    }
    let mut t = x.clone();
    t.action = s.action.clone();
    expect_bad(&t, "sign action in place of a transaction");
}

#[test]
fn transaction_authorization_path_must_be_canonical() {
    let op = OperatorKey::generate(&mut OsRng);
    let mut action = tx_action();
    if let Action::SignTransaction { path, .. } = &mut action {
        *path = "m/0/04".into();
    }
    let a = Authorization::sign(&op, "req".into(), action, NOW + 60);
    assert!(matches!(
        a.verify(&[op.public()], NOW, MAX),
        Err(WireError::Malformed(_))
    ));
}

#[test]
fn signing_bytes_are_unambiguous() {
    let op = OperatorKey::generate(&mut OsRng).public();
    let sign = |wallet: &str, path: &str| Action::Sign {
        wallet_id: wallet.into(),
        path: path.into(),
        messages: vec![],
    };
    let a = Authorization::signing_bytes("r", &sign("ab", "m/1"), 5, &op);
    let b = Authorization::signing_bytes("r", &sign("a", "bm/1"), 5, &op);
    assert_ne!(a, b);
    // Request id vs wallet id boundary.
    let c = Authorization::signing_bytes("ra", &sign("b", "m/1"), 5, &op);
    let d = Authorization::signing_bytes("r", &sign("ab", "m/1"), 5, &op);
    assert_ne!(c, d);
    // Different expiries / operators.
    assert_ne!(
        Authorization::signing_bytes("r", &sign("a", "m"), 5, &op),
        Authorization::signing_bytes("r", &sign("a", "m"), 6, &op)
    );
    assert_ne!(
        Authorization::signing_bytes("r", &sign("a", "m"), 5, &op),
        Authorization::signing_bytes("r", &sign("a", "m"), 5, &OperatorPublic([1u8; 32]))
    );
    // Keygen vs sign with look-alike fields.
    let kg = Action::Keygen {
        wallet_id: "a".into(),
        scheme: SchemeId::Ed25519,
        threshold: 2,
        signers: vec![],
        networks: vec![],
    };
    assert_ne!(
        Authorization::signing_bytes("r", &kg, 5, &op),
        Authorization::signing_bytes("r", &sign("a", "ed25519"), 5, &op)
    );
    // Same action, same bytes (deterministic) and domain tagged.
    let x = Authorization::signing_bytes("r", &sign_action(), 5, &op);
    assert_eq!(x, Authorization::signing_bytes("r", &sign_action(), 5, &op));
    assert!(contains(&x, b"tessera/authz/v1"));
    // Not JSON.
    assert_ne!(x.first(), Some(&b'{'));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn non_canonical_paths_are_refused() {
    let op = OperatorKey::generate(&mut OsRng);
    for path in ["m/01", "m/1/", "1/2", "m/2147483648", "", "M/1"] {
        let a = Authorization::sign(
            &op,
            "r".into(),
            Action::Sign {
                wallet_id: "w".into(),
                path: path.into(),
                messages: vec![],
            },
            NOW + 10,
        );
        assert!(
            matches!(
                a.verify(&[op.public()], NOW, MAX),
                Err(WireError::Malformed(_))
            ),
            "{path:?} accepted"
        );
    }
    for path in ["m", "m/0", "m/1/2/2147483647"] {
        let a = Authorization::sign(
            &op,
            "r".into(),
            Action::Sign {
                wallet_id: "w".into(),
                path: path.into(),
                messages: vec![],
            },
            NOW + 10,
        );
        a.verify(&[op.public()], NOW, MAX).expect(path);
    }
}

#[test]
fn authorized_message_mapping() {
    let bytes = b"some transaction bytes".to_vec();
    let sha = sha2::Sha256::digest(&bytes);
    assert_eq!(
        authorized_message(&SignMessage::sha256(bytes.clone())).expect("sha"),
        AuthorizedMessage::Preimage {
            hash: MessageHash::Sha256,
            digest: sha.into()
        }
    );
    let dsha = sha2::Sha256::digest(sha);
    assert_eq!(
        authorized_message(&SignMessage::Preimage {
            hash: Some(MessageHash::DoubleSha256),
            bytes: bytes.clone()
        })
        .expect("dsha"),
        AuthorizedMessage::Preimage {
            hash: MessageHash::DoubleSha256,
            digest: dsha.into()
        }
    );
    let keccak = SignMessage::Preimage {
        hash: Some(MessageHash::Keccak256),
        bytes: bytes.clone(),
    };
    assert_eq!(
        authorized_message(&keccak).expect("keccak"),
        AuthorizedMessage::Preimage {
            hash: MessageHash::Keccak256,
            digest: keccak.digest32().expect("digest")
        }
    );
    assert_eq!(
        authorized_message(&SignMessage::danger_raw_digest([3u8; 32])).expect("raw"),
        AuthorizedMessage::DangerRawDigest { digest: [3u8; 32] }
    );
    assert_eq!(
        authorized_message(&SignMessage::raw_bytes(bytes.clone())).expect("ed"),
        AuthorizedMessage::Ed25519Message { sha256: sha.into() }
    );
}

#[test]
fn operator_key_round_trips_and_is_redacted() {
    let op = OperatorKey::generate(&mut OsRng);
    let bytes = op.to_bytes();
    assert_eq!(&bytes[..4], b"TSOP");
    let back = OperatorKey::from_bytes(&bytes).expect("bytes");
    assert_eq!(back.public(), op.public());
    let text = op.to_text();
    assert!(text.ends_with('\n'));
    let back = OperatorKey::from_text(&format!("  {}  ", text.as_str())).expect("text");
    assert_eq!(back.public(), op.public());
    assert!(matches!(
        OperatorKey::from_text("not hex"),
        Err(WireError::InvalidKey(_))
    ));
    assert!(matches!(
        OperatorKey::from_bytes(&bytes[..20]),
        Err(WireError::InvalidKey(_))
    ));
    let mut v2 = bytes.to_vec();
    v2[4] = 2;
    assert!(matches!(
        OperatorKey::from_bytes(&v2),
        Err(WireError::UnsupportedVersion(2))
    ));

    let dbg = format!("{op:?}");
    assert!(dbg.contains("[REDACTED]"));
    let seed_hex = hex::encode(&bytes[5..]);
    assert!(!dbg.contains(&seed_hex[..16]));
    assert!(!dbg.contains(text.trim()));

    let p = op.public();
    assert_eq!(OperatorPublic::from_hex(&p.to_string()).expect("hex"), p);
    assert_eq!(serde_json::to_string(&p).expect("json"), format!("\"{p}\""));
    // Errors never carry key material.
    let err = OperatorKey::from_text(&format!("{}zz", &text.trim()[..20])).expect_err("bad");
    assert!(!err.to_string().contains(&text.trim()[..20]));
}

#[test]
fn message_intent_hash_is_the_documented_sha256_and_binds_every_field() {
    use sha2::Sha256;
    use tessera_wire::message_intent_hash;
    let put = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u64).to_be_bytes());
        out.extend_from_slice(b);
    };
    let msgs = vec![
        AuthorizedMessage::Preimage {
            hash: MessageHash::Keccak256,
            digest: [1; 32],
        },
        AuthorizedMessage::DangerRawDigest { digest: [2; 32] },
        AuthorizedMessage::Ed25519Message { sha256: [3; 32] },
    ];
    let mut want = Vec::new();
    put(&mut want, b"tessera/message-intent/v1");
    put(&mut want, b"w-1");
    put(&mut want, b"m/1");
    want.extend_from_slice(&3u64.to_be_bytes());
    want.extend_from_slice(&[1, 3]);
    want.extend_from_slice(&[1; 32]);
    want.push(2);
    want.extend_from_slice(&[2; 32]);
    want.push(3);
    want.extend_from_slice(&[3; 32]);
    let want: [u8; 32] = Sha256::digest(&want).into();
    assert_eq!(message_intent_hash("w-1", "m/1", &msgs), want);
    let action = Action::Sign {
        wallet_id: "w-1".into(),
        path: "m/1".into(),
        messages: msgs.clone(),
    };
    assert_eq!(action.intent_hash(), Some(want));
    assert_ne!(message_intent_hash("w-2", "m/1", &msgs), want);
    assert_ne!(message_intent_hash("w-1", "m", &msgs), want);
    assert_ne!(message_intent_hash("w-1", "m/1", &msgs[..2]), want);
    let tx = Action::SignTransaction {
        wallet_id: "w-1".into(),
        path: "m".into(),
        chain: "ethereum".into(),
        network: "mainnet".into(),
        intent_hash: [9; 32],
    };
    assert_eq!(tx.intent_hash(), Some([9; 32]));
}

#[test]
fn a_network_binding_has_one_canonical_form() {
    let n = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(check_networks(&n(&["bitcoin:mainnet", "ethereum:sepolia"])).is_ok());
    for (bad, what) in [
        (n(&[]), "empty"),
        (n(&["ethereum:sepolia", "bitcoin:mainnet"]), "unsorted"),
        (n(&["bitcoin:mainnet", "bitcoin:mainnet"]), "duplicate"),
        (n(&["bitcoin"]), "no network"),
        (n(&[":mainnet"]), "no chain"),
        (n(&["Bitcoin:mainnet"]), "upper case"),
        (n(&["bitcoin:main net"]), "space"),
        (n(&["bitcoin:mainnet\u{202e}"]), "bidi control"),
        (n(&["bitcoin:a:b"]), "two colons"),
    ] {
        assert!(check_networks(&bad).is_err(), "{what}: {bad:?}");
    }
    let many: Vec<String> = (0..=MAX_NETWORKS).map(|i| format!("c:n{i:02}")).collect();
    assert!(check_networks(&many).is_err(), "too many");
    assert_eq!(network_key("solana", "devnet"), "solana:devnet");
}

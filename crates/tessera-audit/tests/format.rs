//! The documented encodings, re-implemented independently and pinned.

#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use serde_json::json;
use sha2::{Digest, Sha256};
use tessera_audit::{
    entry_hash, genesis_hash, AuditLog, Entry, EntryKind, PolicyOutcome, RefusalReason,
};

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u64).to_be_bytes());
    b.extend_from_slice(s.as_bytes());
}

/// The construction from the crate docs, written out byte by byte.
fn reference_hash(
    seq: u64,
    time_ms: u64,
    actor: &str,
    kind_json: &str,
    subject: &str,
    body_json: &str,
    prev: &[u8; 32],
) -> [u8; 32] {
    let mut b = Vec::new();
    put_str(&mut b, "tessera/audit/v1");
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&time_ms.to_be_bytes());
    put_str(&mut b, actor);
    put_str(&mut b, kind_json);
    put_str(&mut b, subject);
    put_str(&mut b, body_json);
    b.extend_from_slice(prev);
    Sha256::digest(&b).into()
}

#[test]
fn genesis_matches_the_documented_construction() {
    let mut b = Vec::new();
    put_str(&mut b, "tessera/audit/genesis/v1");
    put_str(&mut b, "coordinator-eu1");
    let expected: [u8; 32] = Sha256::digest(&b).into();
    assert_eq!(genesis_hash("coordinator-eu1"), expected);
    assert_eq!(
        hex::encode(genesis_hash("coordinator-eu1")),
        "936ab6be998956be568a295fd2046562971692cb20b72e6b58eb2c6ec82af552"
    );
}

#[test]
fn entry_hash_matches_the_documented_construction() {
    let log = AuditLog::in_memory("coordinator-eu1").unwrap();
    let kind = EntryKind::PolicyDecision {
        policy_version: 7,
        policy_ids: vec!["desk-hot".into(), "tier-2".into()],
        outcome: PolicyOutcome::NeedsApprovals,
    };
    // Insertion order differs from the canonical order on purpose.
    let body = json!({"wallet": "w-1", "amount": {"value": "2500000", "decimals": 6}, "risk": ["new-destination"]});
    let e = log
        .append(
            "coordinator-eu1",
            kind.clone(),
            "req-42",
            body.clone(),
            1_700_000_000_123,
        )
        .unwrap();
    let expected = reference_hash(
        1,
        1_700_000_000_123,
        "coordinator-eu1",
        r#"{"policy_decision":{"outcome":"needs_approvals","policy_ids":["desk-hot","tier-2"],"policy_version":7}}"#,
        "req-42",
        r#"{"amount":{"decimals":6,"value":"2500000"},"risk":["new-destination"],"wallet":"w-1"}"#,
        &genesis_hash("coordinator-eu1"),
    );
    assert_eq!(e.hash, expected);
    assert_eq!(
        entry_hash(
            1,
            1_700_000_000_123,
            "coordinator-eu1",
            &kind,
            "req-42",
            &body,
            &e.prev_hash
        )
        .unwrap(),
        expected
    );
    // Pinned, so an accidental change of the encoding is caught.
    assert_eq!(
        hex::encode(e.hash),
        "069be189b8c5e8db63b510f68a17429a7a9778db5546ef3b5746c7b13291f5c5"
    );
    assert_eq!(
        e.to_json_line().unwrap(),
        format!(
            concat!(
                r#"{{"actor":"coordinator-eu1","body":{{"amount":{{"decimals":6,"value":"2500000"}},"#,
                r#""risk":["new-destination"],"wallet":"w-1"}},"hash":"{}","#,
                r#""kind":{{"policy_decision":{{"outcome":"needs_approvals","policy_ids":["desk-hot","tier-2"],"policy_version":7}}}},"#,
                r#""prev_hash":"{}","seq":1,"subject":"req-42","time_ms":1700000000123}}"#
            ),
            hex::encode(e.hash),
            hex::encode(genesis_hash("coordinator-eu1"))
        )
    );
}

#[test]
fn body_key_order_does_not_change_the_hash() {
    let mut a = serde_json::Map::new();
    a.insert("to".into(), json!("0xabc"));
    a.insert("value".into(), json!({"wei": "10", "asset": "ETH"}));
    let mut b = serde_json::Map::new();
    b.insert("value".into(), json!({"asset": "ETH", "wei": "10"}));
    b.insert("to".into(), json!("0xabc"));
    let (a, b) = (serde_json::Value::Object(a), serde_json::Value::Object(b));
    // With serde_json's `preserve_order` (on in the workspace build, through other crates) the
    // two maps keep their insertion order and serialize differently; without it both are
    // sorted already. Either way the entry hash must not depend on it.
    let h = |body| entry_hash(3, 5, "c", &EntryKind::Signature, "r", body, &[7; 32]).unwrap();
    assert_eq!(h(&a), h(&b));
    // But any value change does.
    assert_ne!(
        h(&a),
        h(&json!({"to": "0xabc", "value": {"asset": "ETH", "wei": "11"}}))
    );
    // And so does moving text between fields (length prefixes).
    let h2 = |actor: &str, subject: &str| {
        entry_hash(
            3,
            5,
            actor,
            &EntryKind::Signature,
            subject,
            &json!(null),
            &[7; 32],
        )
        .unwrap()
    };
    assert_ne!(h2("ab", "c"), h2("a", "bc"));
}

#[test]
fn kinds_serialize_as_documented() {
    let cases = [
        (EntryKind::Approval, json!("approval")),
        (EntryKind::Rejection, json!("rejection")),
        (EntryKind::Signature, json!("signature")),
        (EntryKind::WalletCreated, json!("wallet_created")),
        (EntryKind::EpochPrepared, json!("epoch_prepared")),
        (EntryKind::EpochCommitted, json!("epoch_committed")),
        (EntryKind::EpochDiscarded, json!("epoch_discarded")),
        (EntryKind::SessionFailed, json!("session_failed")),
        (
            EntryKind::Refusal(RefusalReason::RawDigestDenied),
            json!({"refusal": "raw_digest_denied"}),
        ),
        (
            EntryKind::Refusal(RefusalReason::Other("hsm_offline".into())),
            json!({"refusal": {"other": "hsm_offline"}}),
        ),
        (
            EntryKind::PolicyChange { policy_version: 4 },
            json!({"policy_change": {"policy_version": 4}}),
        ),
        (
            EntryKind::ModeChange {
                from: "normal".into(),
                to: "lockdown".into(),
            },
            json!({"mode_change": {"from": "normal", "to": "lockdown"}}),
        ),
        (
            EntryKind::PolicyDecision {
                policy_version: 1,
                policy_ids: vec![],
                outcome: PolicyOutcome::Deny,
            },
            json!({"policy_decision": {"policy_version": 1, "policy_ids": [], "outcome": "deny"}}),
        ),
        (
            EntryKind::Other("key_refresh".into()),
            json!({"other": "key_refresh"}),
        ),
    ];
    for (kind, expected) in cases {
        assert_eq!(serde_json::to_value(&kind).unwrap(), expected);
        assert_eq!(serde_json::from_value::<EntryKind>(expected).unwrap(), kind);
        let name = kind.name();
        let tag = match serde_json::to_value(&kind).unwrap() {
            serde_json::Value::String(s) => s,
            serde_json::Value::Object(m) => m.keys().next().unwrap().clone(),
            other => panic!("{other}"),
        };
        assert_eq!(name, tag);
    }
}

#[test]
fn entries_round_trip_through_serde() {
    let log = AuditLog::in_memory("c").unwrap();
    let e = log
        .append(
            "a",
            EntryKind::Signature,
            "r",
            json!({"k": [1, -2, "x"]}),
            9,
        )
        .unwrap();
    let text = e.to_json_line().unwrap();
    let back: Entry = serde_json::from_str(&text).unwrap();
    assert_eq!(back, e);
    assert!(serde_json::from_str::<Entry>(&text.replacen("{", "{\"extra\":1,", 1)).is_err());
}

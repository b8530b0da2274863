//! Offline verification of exports: every kind of tampering is detected with the right error.

#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use tessera_audit::{
    cross_check, verify_against_checkpoint, verify_export, verify_export_with, AuditLog,
    Checkpoint, CheckpointError, CrossCheckError, EntryKind, RefusalReason, Unmatched, VerifyError,
    MAX_LINE_BYTES,
};

const N: u64 = 40;

fn key(b: u8) -> SigningKey {
    SigningKey::from_bytes(&[b; 32])
}

#[test]
fn a_long_chain_verifies() {
    let log = build("coordinator-eu1", 1000);
    let mut seen = Vec::new();
    let mut out = Vec::new();
    let head = log.export(&mut out).unwrap();
    let report = verify_export_with(&out[..], |e| seen.push((e.seq, e.hash))).unwrap();
    assert_eq!(report.entries, 1000);
    assert_eq!(report.chain_id, "coordinator-eu1");
    assert_eq!(report.head(), head);
    assert_eq!(head, log.head().unwrap());
    assert_eq!(seen.len(), 1000);
    assert_eq!(report.hash_at(0), Some(log.genesis()));
    for (seq, hash) in seen {
        assert_eq!(report.hash_at(seq), Some(hash));
    }
    assert_eq!(report.hash_at(1001), None);
    assert_eq!(log.verify().unwrap(), report);
}

#[test]
fn an_empty_log_exports_a_header_and_verifies() {
    let log = AuditLog::in_memory("empty").unwrap();
    let lines = lines_of(&log);
    assert_eq!(
        lines,
        [r#"{"chain_id":"empty","format":"tessera-audit/v1"}"#]
    );
    let report = verify(&lines).unwrap();
    assert_eq!((report.entries, report.head_hash), (0, log.genesis()));
    let cp = log.checkpoint(&key(1)).unwrap();
    verify_against_checkpoint(&report, &cp, &key(1).verifying_key()).unwrap();
}

/// Every field edit, without fixing the hash: the entry's own hash no longer matches.
#[test]
fn editing_any_field_of_any_entry_is_a_bad_hash() {
    let lines = lines_of(&build("c", N));
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 9] = [
        ("body value", |v| v["body"]["n"] = json!(999_999)),
        ("body nested", |v| {
            v["body"]["amount"]["value"] = json!("1000001")
        }),
        ("body new key", |v| v["body"]["extra"] = json!(1)),
        ("actor", |v| v["actor"] = json!("mallory")),
        ("kind", |v| v["kind"] = json!({"other": "forged"})),
        ("time", |v| {
            v["time_ms"] = json!(v["time_ms"].as_u64().unwrap() + 1)
        }),
        ("subject", |v| v["subject"] = json!("r-forged")),
        ("seq", |v| v["seq"] = json!(v["seq"].as_u64().unwrap() + 1)),
        ("prev_hash", |v| {
            v["prev_hash"] = json!(hex::encode([0x11; 32]))
        }),
    ];
    for seq in [1, 2, N / 2, N - 1, N] {
        for (what, f) in edits {
            let mut l = lines.clone();
            edit(&mut l, seq, f);
            assert_ne!(l, lines, "{what}");
            assert_eq!(
                verify(&l),
                Err(VerifyError::BadHash { seq }),
                "{what} of {seq}"
            );
        }
        let mut l = lines.clone();
        edit(&mut l, seq, |v| v["hash"] = json!(hex::encode([0x22; 32])));
        assert_eq!(
            verify(&l),
            Err(VerifyError::BadHash { seq }),
            "hash of {seq}"
        );
    }
}

/// A forger who recomputes the edited entry's hash breaks the next entry's link; at the head,
/// only a checkpoint catches it.
#[test]
fn editing_with_a_recomputed_hash_breaks_the_next_link() {
    let log = build("c", N);
    let cp = log.checkpoint(&key(1)).unwrap();
    let lines = lines_of(&log);
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 5] = [
        ("body", |v| v["body"]["n"] = json!(7)),
        ("actor", |v| v["actor"] = json!("mallory")),
        ("kind", |v| v["kind"] = json!("wallet_created")),
        ("time", |v| v["time_ms"] = json!(1)),
        ("subject", |v| v["subject"] = json!("r-forged")),
    ];
    for (what, f) in edits {
        for seq in [1, N / 2, N - 1] {
            let mut l = lines.clone();
            edit(&mut l, seq, f);
            rehash(&mut l, seq);
            assert_ne!(l, lines, "{what}");
            assert_eq!(
                verify(&l),
                Err(VerifyError::BrokenLink { seq: seq + 1 }),
                "{what} of {seq}"
            );
        }
        let mut l = lines.clone();
        edit(&mut l, N, f);
        rehash(&mut l, N);
        let report = verify(&l).unwrap();
        assert_eq!(
            verify_against_checkpoint(&report, &cp, &key(1).verifying_key()),
            Err(CheckpointError::Rewritten { seq: N }),
            "{what} of the head"
        );
    }
    // A forged prev_hash with a matching hash: the link itself is broken.
    let mut l = lines.clone();
    edit(&mut l, 5, |v| {
        v["prev_hash"] = json!(hex::encode([0x33; 32]))
    });
    rehash(&mut l, 5);
    assert_eq!(verify(&l), Err(VerifyError::BrokenLink { seq: 5 }));
    // A renumbered entry with a matching hash: entry 5 is missing.
    let mut l = lines.clone();
    edit(&mut l, 5, |v| v["seq"] = json!(6));
    rehash(&mut l, 5);
    assert_eq!(
        verify(&l),
        Err(VerifyError::Gap {
            expected: 5,
            found: 6
        })
    );
}

#[test]
fn deleting_an_entry_is_a_gap() {
    let lines = lines_of(&build("c", N));
    for seq in [1, 2, N / 2, N - 1] {
        let mut l = lines.clone();
        l.remove(usize::try_from(seq).unwrap());
        assert_eq!(
            verify(&l),
            Err(VerifyError::Gap {
                expected: seq,
                found: seq + 1
            }),
            "deleted {seq}"
        );
    }
    // Deleting several in a row.
    let mut l = lines.clone();
    l.drain(10..13);
    assert_eq!(
        verify(&l),
        Err(VerifyError::Gap {
            expected: 10,
            found: 13
        })
    );
}

#[test]
fn swapping_two_entries_is_a_reorder() {
    let lines = lines_of(&build("c", N));
    for (a, b) in [(1u64, 2u64), (7, 8), (3, 30), (N - 1, N)] {
        let mut l = lines.clone();
        l.swap(usize::try_from(a).unwrap(), usize::try_from(b).unwrap());
        assert_eq!(
            verify(&l),
            Err(VerifyError::Reordered {
                expected: a,
                found: b
            }),
            "swapped {a} and {b}"
        );
    }
    // Moving one entry to the end.
    let mut l = lines.clone();
    let moved = l.remove(4);
    l.push(moved);
    assert_eq!(
        verify(&l),
        Err(VerifyError::Reordered {
            expected: 4,
            found: 5
        })
    );
}

#[test]
fn duplicating_an_entry_is_detected() {
    let lines = lines_of(&build("c", N));
    for seq in [1, N / 2, N] {
        let i = usize::try_from(seq).unwrap();
        let mut l = lines.clone();
        l.insert(i + 1, lines[i].clone());
        assert_eq!(verify(&l), Err(VerifyError::Duplicate { seq }), "dup {seq}");
        // A copy further down.
        let mut l = lines.clone();
        l.push(lines[i].clone());
        if seq != N {
            assert_eq!(
                verify(&l),
                Err(VerifyError::Duplicate { seq }),
                "late dup {seq}"
            );
        }
    }
}

#[test]
fn a_cut_off_tail_is_caught_by_a_checkpoint() {
    let log = build("c", N);
    let cp = log.checkpoint(&key(1)).unwrap();
    assert_eq!((cp.seq, cp.hash), (N, log.head().unwrap().hash));
    let trusted = key(1).verifying_key();
    let lines = lines_of(&log);
    verify_against_checkpoint(&verify(&lines).unwrap(), &cp, &trusted).unwrap();

    // Whole lines removed from the end: the chain itself is still consistent...
    let cut = &lines[..lines.len() - 3];
    let report = verify(cut).unwrap();
    assert_eq!(report.head_seq, N - 3);
    // ...but not with the checkpoint.
    assert_eq!(
        verify_against_checkpoint(&report, &cp, &trusted),
        Err(CheckpointError::Truncated {
            checkpoint_seq: N,
            export_head_seq: N - 3
        })
    );
    // Cut mid-line (no final newline).
    let mut bytes = to_bytes(&lines);
    bytes.truncate(bytes.len() - 10);
    assert_eq!(
        verify_export(&bytes[..]),
        Err(VerifyError::Truncated { line: N + 1 })
    );
    // Only the final newline lost.
    let mut bytes = to_bytes(&lines);
    bytes.pop();
    assert_eq!(
        verify_export(&bytes[..]),
        Err(VerifyError::Truncated { line: N + 1 })
    );
}

#[test]
fn an_older_checkpoint_still_matches_a_grown_log() {
    let log = build("c", 10);
    let old = log.checkpoint(&key(1)).unwrap();
    append_n(&log, 11, 15);
    let report = verify(&lines_of(&log)).unwrap();
    assert_eq!(report.head_seq, 25);
    verify_against_checkpoint(&report, &old, &key(1).verifying_key()).unwrap();
}

#[test]
fn a_rewritten_history_is_caught_by_a_checkpoint() {
    let log = build("c", N);
    let cp = log.checkpoint(&key(1)).unwrap();
    // Same chain id, same length, one different entry in the middle, all hashes recomputed.
    let forged = AuditLog::in_memory("c").unwrap();
    append_n(&forged, 1, 19);
    forged
        .append(
            "actor-2",
            EntryKind::Signature,
            "r-evil",
            json!({}),
            T0 + 20,
        )
        .unwrap();
    append_n(&forged, 21, N - 20);
    let report = verify(&lines_of(&forged)).unwrap();
    assert_eq!(report.head_seq, N);
    assert_eq!(
        verify_against_checkpoint(&report, &cp, &key(1).verifying_key()),
        Err(CheckpointError::Rewritten { seq: N })
    );
}

#[test]
fn checkpoints_must_be_signed_by_the_trusted_key() {
    let log = build("c", 5);
    let report = verify(&lines_of(&log)).unwrap();
    let cp = log.checkpoint(&key(1)).unwrap();
    let trusted = key(1).verifying_key();
    verify_against_checkpoint(&report, &cp, &trusted).unwrap();
    assert_eq!(
        verify_against_checkpoint(&report, &cp, &key(2).verifying_key()),
        Err(CheckpointError::UntrustedKey)
    );
    // A checkpoint with a forged head (lower seq, to hide the tail) but the old signature.
    let mut forged = cp.clone();
    forged.seq = 3;
    forged.hash = report.hash_at(3).unwrap();
    assert_eq!(
        verify_against_checkpoint(&report, &forged, &trusted),
        Err(CheckpointError::BadSignature)
    );
    let mut forged = cp.clone();
    forged.signature[0] ^= 1;
    assert_eq!(forged.verify(&trusted), Err(CheckpointError::BadSignature));
    // Another log's checkpoint, signed by the same key.
    let other = build("other", 5).checkpoint(&key(1)).unwrap();
    assert_eq!(
        verify_against_checkpoint(&report, &other, &trusted),
        Err(CheckpointError::WrongChain {
            checkpoint: "other".into(),
            export: "c".into()
        })
    );
    // JSON round trip.
    let text = serde_json::to_string(&cp).unwrap();
    assert!(text.contains(&hex::encode(cp.signature)));
    assert_eq!(serde_json::from_str::<Checkpoint>(&text).unwrap(), cp);
    // The signed bytes are the documented ones.
    let mut expected = Vec::new();
    for s in ["tessera/audit/checkpoint/v1", "c"] {
        expected.extend_from_slice(&(s.len() as u64).to_be_bytes());
        expected.extend_from_slice(s.as_bytes());
    }
    expected.extend_from_slice(&5u64.to_be_bytes());
    expected.extend_from_slice(&cp.hash);
    assert_eq!(Checkpoint::signing_bytes("c", 5, &cp.hash), expected);
}

#[test]
fn entries_spliced_from_another_log_are_detected() {
    let a = lines_of(&build("coordinator-a", N));
    let b = lines_of(&build("coordinator-b", N));
    // Same seqs, same contents, different chains: every line differs.
    assert!(a.iter().zip(&b).skip(1).all(|(x, y)| x != y));
    // One entry of B put in A's place (it is internally valid: seq and hash match).
    for seq in [1, 9, N] {
        let i = usize::try_from(seq).unwrap();
        let mut l = a.clone();
        l[i] = b[i].clone();
        assert_eq!(
            verify(&l),
            Err(VerifyError::BrokenLink { seq }),
            "spliced {seq}"
        );
    }
    // B's entries under A's header: B's chain does not start at A's genesis.
    let mut l = b.clone();
    l[0] = a[0].clone();
    assert_eq!(verify(&l), Err(VerifyError::BrokenLink { seq: 1 }));
    // A's tail appended after B's prefix.
    let mut l = b[..=10].to_vec();
    l.extend_from_slice(&a[11..]);
    assert_eq!(verify(&l), Err(VerifyError::BrokenLink { seq: 11 }));
    // Even two logs that (wrongly) share a chain id do not splice.
    let c = AuditLog::in_memory("coordinator-a").unwrap();
    append_n(&c, 100, N);
    let c = lines_of(&c);
    let mut l = a.clone();
    l[N as usize / 2] = c[N as usize / 2].clone();
    assert_eq!(verify(&l), Err(VerifyError::BrokenLink { seq: N / 2 }));
}

#[test]
fn malformed_exports_are_refused_with_their_line() {
    let lines = lines_of(&build("c", 5));
    let malformed_at = |l: &[String]| match verify(l) {
        Err(VerifyError::Malformed { line, .. }) => line,
        other => panic!("expected Malformed, got {other:?}"),
    };
    assert_eq!(
        verify_export(&b""[..]),
        Err(VerifyError::Malformed {
            line: 1,
            reason: "empty export: no header line".into()
        })
    );
    // Header: missing, other format, extra fields, not canonical.
    assert_eq!(malformed_at(&lines[1..]), 1);
    for header in [
        r#"{"chain_id":"c","format":"tessera-audit/v2"}"#,
        r#"{"chain_id":"c","extra":1,"format":"tessera-audit/v1"}"#,
        r#"{"format":"tessera-audit/v1","chain_id":"c"}"#,
        r#"{"chain_id":"","format":"tessera-audit/v1"}"#,
    ] {
        let mut l = lines.clone();
        l[0] = header.into();
        assert_eq!(malformed_at(&l), 1, "{header}");
    }
    // An entry line: whitespace, key order, unknown field, uppercase hex, float, not JSON,
    // CRLF, a blank line, duplicate key.
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&lines[3]).unwrap())
        .unwrap()
        .replace('\n', " ");
    let mut variants = vec![
        pretty,
        lines[3].replacen("{\"actor\"", "{ \"actor\"", 1),
        lines[3].replacen("\"seq\":3", "\"seq\":3,\"extra\":0", 1),
        {
            let v: Value = serde_json::from_str(&lines[3]).unwrap();
            let h = v["hash"].as_str().unwrap().to_string();
            lines[3].replace(&h, &h.to_uppercase())
        },
        lines[3].replacen("\"n\":3", "\"n\":3.0", 1),
        lines[3].replacen("\"n\":3", "\"n\":3e0", 1),
        "not json".into(),
        format!("{}\r", lines[3]),
        String::new(),
        lines[3].replacen(
            "{\"actor\":\"actor-0\"",
            "{\"actor\":\"actor-0\",\"actor\":\"actor-0\"",
            1,
        ),
    ];
    // Reordering the keys of the entry object: `seq` moved to the front (built as text, so it
    // does not depend on serde_json's map ordering).
    let v: Value = serde_json::from_str(&lines[3]).unwrap();
    let seq_field = format!(",\"seq\":{}", v["seq"]);
    assert!(lines[3].contains(&seq_field), "{}", lines[3]);
    let without = lines[3].replacen(&seq_field, "", 1);
    variants.push(format!("{{\"seq\":{},{}", v["seq"], &without[1..]));
    for bad in variants {
        assert_ne!(bad, lines[3]);
        let mut l = lines.clone();
        l[3] = bad.clone();
        assert_eq!(malformed_at(&l), 4, "{bad}");
    }
    // Invalid field values that append refuses.
    let mut l = lines.clone();
    edit(&mut l, 2, |v| v["actor"] = json!(""));
    assert_eq!(malformed_at(&l), 3);
    let mut l = lines.clone();
    edit(&mut l, 2, |v| v["kind"] = json!("no_such_kind"));
    assert_eq!(malformed_at(&l), 3);
    // A huge line is refused without reading it all.
    let mut l = lines.clone();
    l[2] = "x".repeat(MAX_LINE_BYTES + 1);
    assert_eq!(verify(&l), Err(VerifyError::LineTooLong { line: 3 }));
}

#[test]
fn export_is_canonical_and_stable() {
    let log = build("c", 3);
    let lines = lines_of(&log);
    for (i, line) in lines.iter().enumerate().skip(1) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(tessera_audit::canonical_json(&v).unwrap(), *line);
        assert_eq!(v["seq"], json!(i));
        assert_eq!(v["hash"].as_str().unwrap().len(), 64);
    }
    // Exporting twice gives the same bytes.
    assert_eq!(lines, lines_of(&log));
}

#[test]
fn cross_check_finds_signatures_the_coordinator_did_not_record() {
    let coordinator = AuditLog::in_memory("coordinator").unwrap();
    let signer = AuditLog::in_memory("signer-1").unwrap();
    for r in ["r-1", "r-2", "r-3"] {
        coordinator
            .append(
                "coordinator",
                EntryKind::Signature,
                r,
                json!({"wallet": "w"}),
                T0,
            )
            .unwrap();
        signer
            .append("signer-1", EntryKind::Signature, r, json!({}), T0)
            .unwrap();
    }
    let refused = EntryKind::Refusal(RefusalReason::IntentMismatch);
    signer
        .append("signer-1", refused.clone(), "r-4", json!({}), T0)
        .unwrap();
    coordinator
        .append("coordinator", refused.clone(), "r-4", json!({}), T0)
        .unwrap();
    let export = |log: &AuditLog| {
        let mut out = Vec::new();
        log.export(&mut out).unwrap();
        out
    };
    let report = cross_check(&export(&coordinator)[..], &export(&signer)[..]).unwrap();
    assert!(report.unmatched.is_empty());
    assert_eq!((report.coordinator.entries, report.signer.entries), (4, 4));

    // The signer signed something the coordinator's log does not show, and refused another.
    signer
        .append("signer-1", EntryKind::Signature, "r-hidden", json!({}), T0)
        .unwrap();
    signer
        .append("signer-1", refused.clone(), "r-5", json!({}), T0)
        .unwrap();
    // Approvals are not cross-checked; a coordinator-only signature is not "unmatched".
    signer
        .append("signer-1", EntryKind::Approval, "r-6", json!({}), T0)
        .unwrap();
    coordinator
        .append("coordinator", EntryKind::Signature, "r-7", json!({}), T0)
        .unwrap();
    let report = cross_check(&export(&coordinator)[..], &export(&signer)[..]).unwrap();
    assert_eq!(
        report.unmatched,
        vec![
            Unmatched {
                seq: 5,
                kind: EntryKind::Signature,
                subject: "r-hidden".into()
            },
            Unmatched {
                seq: 6,
                kind: refused,
                subject: "r-5".into()
            },
        ]
    );
    // A tampered export is reported as such, naming the side.
    let mut bad = export(&signer);
    bad.truncate(bad.len() - 1);
    assert!(matches!(
        cross_check(&export(&coordinator)[..], &bad[..]),
        Err(CrossCheckError::Signer(VerifyError::Truncated { .. }))
    ));
    assert!(matches!(
        cross_check(&bad[..], &export(&signer)[..]),
        Err(CrossCheckError::Coordinator(_))
    ));
}

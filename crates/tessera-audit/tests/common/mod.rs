#![allow(dead_code)]

use serde_json::{json, Value};
use tessera_audit::{
    canonical_json, verify_export, AuditLog, Entry, EntryKind, PolicyOutcome, RefusalReason,
    VerifyError, VerifyReport,
};

pub const T0: u64 = 1_700_000_000_000;

/// A kind of every variant, in rotation.
pub fn kind_for(i: u64) -> EntryKind {
    match i % 9 {
        0 => EntryKind::PolicyDecision {
            policy_version: i,
            policy_ids: vec!["hot-wallet-tier-1".into(), format!("p-{i}")],
            outcome: PolicyOutcome::NeedsApprovals,
        },
        1 => EntryKind::Approval,
        2 => EntryKind::Rejection,
        3 => EntryKind::Refusal(RefusalReason::VelocityLimit),
        4 => EntryKind::Signature,
        5 => EntryKind::PolicyChange { policy_version: i },
        6 => EntryKind::ModeChange {
            from: "normal".into(),
            to: "degraded".into(),
        },
        7 => EntryKind::WalletCreated,
        _ => EntryKind::Other("key_refresh".into()),
    }
}

pub fn body_for(i: u64) -> Value {
    json!({
        "request": format!("r-{i}"),
        "amount": {"value": "1000000", "decimals": 6},
        "n": i,
        "flags": ["large", "new-destination"],
        "nested": {"z": null, "a": true, "neg": -3},
        "text": "line\nbreak \"quoted\" é",
    })
}

pub fn append_n(log: &AuditLog, from: u64, n: u64) {
    for i in from..from + n {
        log.append(
            &format!("actor-{}", i % 3),
            kind_for(i),
            &format!("r-{i}"),
            body_for(i),
            T0 + i,
        )
        .unwrap();
    }
}

/// An in-memory log with `n` entries of every kind.
pub fn build(chain_id: &str, n: u64) -> AuditLog {
    let log = AuditLog::in_memory(chain_id).unwrap();
    append_n(&log, 1, n);
    log
}

/// The export's lines (header first, so entry `seq` is at index `seq`).
pub fn lines_of(log: &AuditLog) -> Vec<String> {
    let mut out = Vec::new();
    log.export(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with('\n'));
    text.lines().map(String::from).collect()
}

pub fn to_bytes(lines: &[String]) -> Vec<u8> {
    let mut s = String::new();
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s.into_bytes()
}

pub fn verify(lines: &[String]) -> Result<VerifyReport, VerifyError> {
    verify_export(&to_bytes(lines)[..])
}

/// Edits entry `seq`'s JSON and writes it back in canonical form (its hash is left as is).
pub fn edit(lines: &mut [String], seq: u64, f: impl FnOnce(&mut Value)) {
    let i = usize::try_from(seq).unwrap();
    let mut v: Value = serde_json::from_str(&lines[i]).unwrap();
    f(&mut v);
    lines[i] = canonical_json(&v).unwrap();
}

/// Recomputes entry `seq`'s hash from its (edited) fields, as a forger would.
pub fn rehash(lines: &mut [String], seq: u64) {
    let i = usize::try_from(seq).unwrap();
    let mut e: Entry = serde_json::from_str(&lines[i]).unwrap();
    e.hash = e.compute_hash().unwrap();
    lines[i] = e.to_json_line().unwrap();
}

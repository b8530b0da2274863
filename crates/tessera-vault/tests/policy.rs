//! Policy records and the velocity ledger: versions only move forward, velocity entries are
//! written only together with the request they belong to, count once per request, are pruned
//! after the retention period, and are sealed like every other record.

mod common;

use common::*;
use tessera_vault::{
    PolicyRecord, StoredPolicy, Vault, VaultError, VelocityEntry, SCHEMA_VERSION,
    VELOCITY_RETENTION_SECS,
};

const NOW: u64 = 1_700_000_000;

fn entry(request: &str, hash: u8, asset: &str, amount: &str, at: u64) -> VelocityEntry {
    VelocityEntry {
        request_id: request.into(),
        intent_hash: [hash; 32],
        wallet_id: "w".into(),
        asset: asset.into(),
        amount: amount.into(),
        at_unix: at,
    }
}

fn amounts(v: &Vault, since: u64) -> Vec<(String, String)> {
    v.velocity_entries("w", since)
        .expect("entries")
        .into_iter()
        .map(|e| (e.request_id, e.amount))
        .collect()
}

#[test]
fn policy_records_only_move_forward_and_survive_reopen() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        assert_eq!(v.policy(PolicyRecord::Bundle).expect("read"), None);
        v.put_policy(PolicyRecord::Bundle, 1, "{\"v\":1}")
            .expect("first");
        v.put_policy(PolicyRecord::Bundle, 3, "{\"v\":3}")
            .expect("newer");
        for stale in [3, 2] {
            assert!(matches!(
                v.put_policy(PolicyRecord::Bundle, stale, "{}"),
                Err(VaultError::NotNewer {
                    current: 3,
                    offered
                }) if offered == stale
            ));
        }
        // The mode record has its own sequence.
        v.put_policy(PolicyRecord::ModeChange, 1, "{\"seq\":1}")
            .expect("mode");
        assert!(matches!(
            v.put_policy(PolicyRecord::Bundle, u64::MAX, "{}"),
            Err(VaultError::InvalidInput(_))
        ));
    }
    let v = reopen(dir.path());
    assert_eq!(
        v.policy(PolicyRecord::Bundle).expect("read"),
        Some(StoredPolicy {
            version: 3,
            json: "{\"v\":3}".into()
        })
    );
    assert_eq!(
        v.policy(PolicyRecord::ModeChange)
            .expect("read")
            .map(|p| p.version),
        Some(1)
    );
}

#[test]
fn altered_policy_version_is_corrupt() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        v.put_policy(PolicyRecord::Bundle, 2, "{}").expect("put");
    }
    rusqlite::Connection::open(vault_path(dir.path()))
        .expect("sqlite")
        .execute("UPDATE policy SET version = 9", [])
        .expect("update");
    let v = reopen(dir.path());
    assert!(matches!(
        v.policy(PolicyRecord::Bundle),
        Err(VaultError::Corrupt(_))
    ));
}

#[test]
fn velocity_is_recorded_with_the_request_once_per_request() {
    let dir = tmp();
    let mut v = new_vault(dir.path());
    let e1 = [entry("r1", 1, "solana:devnet:native", "2000", NOW)];
    v.complete_request("done:r1#0", NOW + 300, NOW, &e1)
        .expect("complete");
    // The second message of the same request records nothing more.
    v.complete_request("done:r1#1", NOW + 300, NOW + 1, &e1)
        .expect("complete");
    assert_eq!(amounts(&v, 0), vec![("r1".to_string(), "2000".to_string())]);
    let of_r1 = v.request_velocity("r1", &[1; 32]).expect("read");
    assert_eq!(of_r1.len(), 1);
    assert_eq!((of_r1[0].amount.as_str(), of_r1[0].at_unix), ("2000", NOW));
    assert!(v.request_velocity("r1", &[3; 32]).expect("read").is_empty());
    assert!(v.request_velocity("r2", &[1; 32]).expect("read").is_empty());
    // A replayed request key changes nothing, its entries included.
    let e2 = [entry("r2", 2, "solana:devnet:native", "5", NOW)];
    assert!(matches!(
        v.complete_request("done:r1#0", NOW + 300, NOW, &e2),
        Err(VaultError::RequestReplayed)
    ));
    assert_eq!(amounts(&v, 0).len(), 1);
    // The same request id with another intent is another entry.
    let e3 = [entry("r1", 3, "solana:devnet:native", "7", NOW + 2)];
    v.complete_request("done:r1-other", NOW + 300, NOW + 2, &e3)
        .expect("complete");
    assert_eq!(amounts(&v, 0).len(), 2);
    assert_eq!(amounts(&v, NOW + 1), vec![("r1".into(), "7".into())]);
    assert!(v
        .velocity_entries("other-wallet", 0)
        .expect("entries")
        .is_empty());
    // Bad amounts are refused before anything is written.
    let bad = [entry("r4", 4, "solana:devnet:native", "-1", NOW)];
    assert!(matches!(
        v.complete_request("done:r4", NOW + 300, NOW, &bad),
        Err(VaultError::InvalidInput(_))
    ));
    assert!(!v.has_request("done:r4").expect("read"));
}

#[test]
fn velocity_is_recorded_when_the_presignature_is_taken() {
    let dir = tmp();
    let mut v = new_vault(dir.path());
    let (p1, p2) = ([1u8; 32], [2u8; 32]);
    v.put_presignature("w", &p1, b"one").expect("put");
    v.put_presignature("w", &p2, b"two").expect("put");
    let e = [
        entry("r1", 1, "ethereum:mainnet:native", "10", NOW),
        entry("r1", 1, "ethereum:mainnet:0xabc", "20", NOW),
    ];
    let got = v
        .take_presignature_for("w", &p1, &[9; 32], "done:r1", NOW + 300, NOW, &e)
        .expect("take");
    assert_eq!(&got[..], b"one");
    assert_eq!(amounts(&v, 0).len(), 2);
    // A refused take (replayed request) writes no entry and consumes nothing.
    let e2 = [entry("r2", 2, "ethereum:mainnet:native", "30", NOW)];
    assert!(matches!(
        v.take_presignature_for("w", &p2, &[10; 32], "done:r1", NOW + 300, NOW, &e2),
        Err(VaultError::RequestReplayed)
    ));
    // So does a take of a presignature that is gone.
    assert!(matches!(
        v.take_presignature_for("w", &p1, &[11; 32], "done:r2", NOW + 300, NOW, &e2),
        Err(VaultError::PresignatureConsumed)
    ));
    assert_eq!(amounts(&v, 0).len(), 2);
    assert_eq!(v.presignature_ids("w").expect("ids"), vec![p2]);
    assert!(!v.has_request("done:r2").expect("read"));
}

#[test]
fn old_velocity_entries_are_pruned() {
    let dir = tmp();
    let mut v = new_vault(dir.path());
    let old = NOW - VELOCITY_RETENTION_SECS - 1;
    v.complete_request(
        "a",
        NOW + 300,
        NOW,
        &[entry("a", 1, "x:y:native", "1", old)],
    )
    .expect("complete");
    v.complete_request(
        "b",
        NOW + 300,
        NOW,
        &[entry("b", 2, "x:y:native", "2", NOW - 10)],
    )
    .expect("complete");
    // Written with the first call (the prune runs before the insert), pruned by the second.
    assert_eq!(amounts(&v, 0), vec![("b".into(), "2".into())]);
}

#[test]
fn velocity_amounts_are_sealed_and_bound_to_their_row() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        v.complete_request(
            "a",
            NOW + 300,
            NOW,
            &[entry("a", 1, "x:y:native", "123456789123456789", NOW)],
        )
        .expect("complete");
    }
    let bytes = std::fs::read(vault_path(dir.path())).expect("read");
    let wal = std::fs::read(dir.path().join("node.vault-wal")).unwrap_or_default();
    for b in [&bytes, &wal] {
        assert!(!contains(b, b"123456789123456789"), "amount in the clear");
    }
    // Moving an entry in time (or to another wallet) breaks its seal.
    rusqlite::Connection::open(vault_path(dir.path()))
        .expect("sqlite")
        .execute("UPDATE velocity SET at = at - 100000", [])
        .expect("update");
    let v = reopen(dir.path());
    assert!(matches!(
        v.velocity_entries("w", 0),
        Err(VaultError::Corrupt(_))
    ));
}

/// A vault written by schema version 1 (no policy or velocity tables) is upgraded at open.
#[test]
fn version_1_vault_is_upgraded_at_open() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        v.record_request("r", NOW + 300, NOW).expect("record");
    }
    {
        let c = rusqlite::Connection::open(vault_path(dir.path())).expect("sqlite");
        c.execute_batch("DROP TABLE policy; DROP TABLE velocity; PRAGMA user_version = 1;")
            .expect("downgrade");
    }
    // A wrong passphrase changes nothing.
    assert!(matches!(
        Vault::open(
            &vault_path(dir.path()),
            &tessera_vault::Unlock::passphrase("wrong")
        ),
        Err(VaultError::WrongPassphrase)
    ));
    let version = |dir: &std::path::Path| -> u32 {
        rusqlite::Connection::open(vault_path(dir))
            .expect("sqlite")
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version")
    };
    assert_eq!(version(dir.path()), 1);
    {
        let mut v = reopen(dir.path());
        assert!(v.has_request("r").expect("kept"));
        v.put_policy(PolicyRecord::Bundle, 1, "{}")
            .expect("new table");
        v.complete_request(
            "s",
            NOW + 300,
            NOW,
            &[entry("s", 1, "x:y:native", "1", NOW)],
        )
        .expect("new table");
    }
    assert_eq!(version(dir.path()), SCHEMA_VERSION);
}

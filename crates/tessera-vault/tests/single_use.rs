//! Presignatures are single use across crashes; session and request replay ledgers.

mod common;

use common::*;
use tessera_vault::VaultError;

const W: &str = "wallet-1";

#[test]
fn take_is_single_use() {
    let dir = tmp();
    let mut v = new_vault(dir.path());
    let id = [7u8; 32];
    assert!(matches!(
        v.take_presignature(W, &id),
        Err(VaultError::NotFound)
    ));
    v.put_presignature(W, &id, b"nonce secret").expect("put");
    assert!(matches!(
        v.put_presignature(W, &id, b"again"),
        Err(VaultError::AlreadyExists)
    ));
    assert!(matches!(
        v.put_presignature("other", &id, b"again"),
        Err(VaultError::AlreadyExists)
    ));
    // Wrong wallet: not found, and nothing consumed.
    assert!(matches!(
        v.take_presignature("other", &id),
        Err(VaultError::NotFound)
    ));
    assert!(!v.is_consumed(&id).expect("is_consumed"));
    assert_eq!(v.presignature_ids(W).expect("ids"), vec![id]);

    let secret = v.take_presignature(W, &id).expect("take");
    assert_eq!(&secret[..], b"nonce secret");
    assert!(v.is_consumed(&id).expect("is_consumed"));
    assert!(v.presignature_ids(W).expect("ids").is_empty());
    assert!(matches!(
        v.take_presignature(W, &id),
        Err(VaultError::PresignatureConsumed)
    ));
    assert!(matches!(
        v.put_presignature(W, &id, b"nonce secret"),
        Err(VaultError::PresignatureConsumed)
    ));
    assert!(matches!(
        v.put_presignature("other", &id, b"x"),
        Err(VaultError::PresignatureConsumed)
    ));
}

#[test]
fn consumed_survives_drop_and_reopen() {
    let dir = tmp();
    let id = [8u8; 32];
    {
        let mut v = new_vault(dir.path());
        v.put_presignature(W, &id, b"p").expect("put");
        v.put_presignature(W, &[9; 32], b"q").expect("put");
        v.take_presignature(W, &id).expect("take");
    }
    let mut v = reopen(dir.path());
    assert!(v.is_consumed(&id).expect("is_consumed"));
    assert_eq!(v.presignature_ids(W).expect("ids"), vec![[9u8; 32]]);
    assert!(matches!(
        v.take_presignature(W, &id),
        Err(VaultError::PresignatureConsumed)
    ));
    assert!(matches!(
        v.put_presignature(W, &id, b"p"),
        Err(VaultError::PresignatureConsumed)
    ));
}

#[test]
fn consumed_survives_a_crash_right_after_take() {
    let dir = tmp();
    let id = [10u8; 32];
    {
        let mut v = new_vault(dir.path());
        v.put_presignature(W, &id, b"p").expect("put");
    }
    // The child takes the presignature and aborts (no destructors, no checkpoint, no unlock).
    let status = run_child(
        "child_take_then_abort",
        &[("TESSERA_VAULT_DIR", dir.path())],
        None,
    );
    assert!(
        !status.success() && status.code().is_none(),
        "child should die by SIGABRT: {status:?}"
    );
    let mut v = reopen(dir.path());
    assert!(v.is_consumed(&id).expect("is_consumed"));
    assert!(v.presignature_ids(W).expect("ids").is_empty());
    assert!(matches!(
        v.take_presignature(W, &id),
        Err(VaultError::PresignatureConsumed)
    ));
}

#[test]
#[ignore = "helper: run in a child process by consumed_survives_a_crash_right_after_take"]
fn child_take_then_abort() {
    let dir = std::env::var_os("TESSERA_VAULT_DIR").expect("TESSERA_VAULT_DIR");
    let mut v = reopen(std::path::Path::new(&dir));
    let secret = v.take_presignature(W, &[10u8; 32]).expect("take");
    assert_eq!(&secret[..], b"p");
    std::process::abort();
}

#[test]
fn destroy_presignatures_marks_all_consumed() {
    let dir = tmp();
    let mut v = new_vault(dir.path());
    let ids: Vec<[u8; 32]> = (1..=4u8).map(|i| [i; 32]).collect();
    for id in &ids {
        v.put_presignature(W, id, b"s").expect("put");
    }
    v.put_presignature("keep", &[99; 32], b"k").expect("put");
    assert_eq!(v.presignature_ids(W).expect("ids"), ids, "insertion order");
    assert_eq!(v.destroy_presignatures(W).expect("destroy"), 4);
    assert_eq!(v.destroy_presignatures(W).expect("destroy"), 0);
    drop(v);
    let mut v = reopen(dir.path());
    for id in &ids {
        assert!(v.is_consumed(id).expect("is_consumed"));
        assert!(matches!(
            v.take_presignature(W, id),
            Err(VaultError::PresignatureConsumed)
        ));
    }
    assert_eq!(v.presignature_ids("keep").expect("ids"), vec![[99; 32]]);
    assert!(!v.is_consumed(&[99; 32]).expect("is_consumed"));
}

#[test]
fn session_ids_are_single_use_across_reopen() {
    let dir = tmp();
    let s = [42u8; 32];
    {
        let mut v = new_vault(dir.path());
        v.record_session(&s).expect("record");
        assert!(matches!(
            v.record_session(&s),
            Err(VaultError::SessionReused)
        ));
        v.record_session(&[43; 32]).expect("record another");
    }
    let mut v = reopen(dir.path());
    assert!(matches!(
        v.record_session(&s),
        Err(VaultError::SessionReused)
    ));
}

#[test]
fn request_ids_replay_and_pruning() {
    let dir = tmp();
    let now = 1_700_000_000u64;
    {
        let mut v = new_vault(dir.path());
        v.record_request("req-1", now + 300, now).expect("record");
        assert!(matches!(
            v.record_request("req-1", now + 300, now),
            Err(VaultError::RequestReplayed)
        ));
        // An entry long expired.
        v.record_request("old", now - 200_000, now).expect("record");
    }
    let mut v = reopen(dir.path());
    assert!(matches!(
        v.record_request("req-1", now + 300, now + 10),
        Err(VaultError::RequestReplayed)
    ));
    // Expired more than a day ago: pruned by this call, so the id is accepted again (an expired
    // request is refused by the node before it gets here).
    v.record_request("new", now + 300, now + 10)
        .expect("record");
    v.record_request("old", now - 200_000, now + 10)
        .expect("pruned then recorded");
    // Within the retention day: kept.
    v.record_request("recent", now - 3_600, now)
        .expect("record");
    assert!(matches!(
        v.record_request("recent", now - 3_600, now + 60),
        Err(VaultError::RequestReplayed)
    ));
}

//! Shares, aux info, identity, settings: storage, sealing and slot binding.

mod common;

use std::fs;

use common::*;
use tessera_vault::{VaultError, WalletRecord};

#[test]
fn shares_latest_epoch_and_never_overwritten() {
    let dir = tmp();
    let mut v = new_vault(dir.path());
    assert!(v.share("w1").expect("share").is_none());
    v.put_share("w1", 0, b"epoch0", "{\"e\":0}").expect("put");
    v.put_share("w1", 1, b"epoch1", "{\"e\":1}").expect("put");
    v.put_share("w2", 5, b"other", "{\"w\":2}").expect("put");
    let r = v.put_share("w1", 1, b"evil", "{\"e\":1}");
    assert!(matches!(r, Err(VaultError::AlreadyExists)), "{r:?}");

    let s = v.share("w1").expect("share").expect("present");
    assert_eq!(
        (
            s.wallet_id.as_str(),
            s.epoch,
            &s.share[..],
            s.public_info.as_str()
        ),
        ("w1", 1, &b"epoch1"[..], "{\"e\":1}")
    );
    let old = v.share_at("w1", 0).expect("share_at").expect("present");
    assert_eq!(&old.share[..], b"epoch0");
    assert_eq!(
        v.wallets().expect("wallets"),
        vec![
            WalletRecord {
                wallet_id: "w1".into(),
                epoch: 1,
                public_info: "{\"e\":1}".into(),
                prepared_epoch: None,
            },
            WalletRecord {
                wallet_id: "w2".into(),
                epoch: 5,
                public_info: "{\"w\":2}".into(),
                prepared_epoch: None,
            },
        ]
    );
    drop(v);
    let mut v = reopen(dir.path());
    assert_eq!(
        &v.share("w1").expect("share").expect("present").share[..],
        b"epoch1"
    );
    assert!(matches!(
        v.put_share("w1", 1, b"evil", "{}"),
        Err(VaultError::AlreadyExists)
    ));
    assert_eq!(v.destroy_shares_before("w1", 1).expect("destroy"), 1);
    assert!(v.share_at("w1", 0).expect("share_at").is_none());
    assert_eq!(
        &v.share("w1").expect("share").expect("present").share[..],
        b"epoch1"
    );
}

/// A prepared epoch is kept but not signed with until committed; it can be discarded; epochs
/// only grow; the committed share is never destroyed.
#[test]
fn prepared_epochs_commit_or_discard() {
    let dir = tmp();
    let mut v = new_vault(dir.path());
    assert!(matches!(
        v.prepare_share("w", 1, b"next", "{}"),
        Err(VaultError::NotFound)
    ));
    v.put_share("w", 0, b"epoch0", "{}").expect("put");
    v.prepare_share("w", 1, b"epoch1", "{\"e\":1}")
        .expect("prepare");
    assert_eq!(
        &v.share("w").expect("share").expect("present").share[..],
        b"epoch0"
    );
    assert_eq!(v.committed_epoch("w").expect("epoch"), Some(0));
    let prepared = v.prepared_share("w").expect("prepared").expect("present");
    assert_eq!((prepared.epoch, &prepared.share[..]), (1, &b"epoch1"[..]));
    assert_eq!(v.wallets().expect("wallets")[0].prepared_epoch, Some(1));
    assert!(matches!(
        v.destroy_shares_before("w", 1),
        Err(VaultError::InvalidInput(_))
    ));

    // Survives a reopen, then is discarded: epoch 0 stays in force.
    drop(v);
    let mut v = reopen(dir.path());
    assert_eq!(v.committed_epoch("w").expect("epoch"), Some(0));
    assert_eq!(v.discard_prepared("w").expect("discard"), 1);
    assert!(v.prepared_share("w").expect("prepared").is_none());
    assert!(matches!(v.commit_epoch("w", 1), Err(VaultError::NotFound)));

    // Prepared again and committed: the new share is in force, older epochs are refused.
    v.prepare_share("w", 2, b"epoch2", "{}").expect("prepare");
    v.commit_epoch("w", 2).expect("commit");
    assert_eq!(
        &v.share("w").expect("share").expect("present").share[..],
        b"epoch2"
    );
    assert_eq!(v.wallets().expect("wallets")[0].epoch, 2);
    assert_eq!(v.wallets().expect("wallets")[0].prepared_epoch, None);
    assert!(matches!(
        v.put_share("w", 1, b"old", "{}"),
        Err(VaultError::AlreadyExists)
    ));
    assert!(matches!(
        v.prepare_share("w", 2, b"again", "{}"),
        Err(VaultError::AlreadyExists)
    ));
    assert!(matches!(
        v.commit_epoch("w", 0),
        Err(VaultError::InvalidInput(_))
    ));
    assert_eq!(v.destroy_shares_before("w", 2).expect("destroy"), 1);
}

/// A holder that left the wallet destroys every share it holds of it (committed, older and
/// prepared) and nothing of other wallets; it can join again later at a new epoch.
#[test]
fn a_leaving_holder_destroys_every_share_of_the_wallet() {
    let dir = tmp();
    let mut v = new_vault(dir.path());
    v.put_share("w", 0, b"epoch0", "{}").expect("put");
    v.prepare_share("w", 1, b"epoch1", "{}").expect("prepare");
    v.commit_epoch("w", 1).expect("commit");
    v.prepare_share("w", 2, b"epoch2", "{}").expect("prepare");
    v.put_share("other", 0, b"kept", "{}").expect("put");
    assert_eq!(v.destroy_wallet_shares("w").expect("destroy"), 3);
    drop(v);
    let mut v = reopen(dir.path());
    assert!(v.share("w").expect("share").is_none());
    assert!(v.prepared_share("w").expect("prepared").is_none());
    assert!(v.share_at("w", 0).expect("share_at").is_none());
    assert_eq!(v.committed_epoch("w").expect("epoch"), None);
    let wallets = v.wallets().expect("wallets");
    assert_eq!(wallets.len(), 1);
    assert_eq!(wallets[0].wallet_id, "other");
    assert_eq!(v.destroy_wallet_shares("w").expect("again"), 0);
    v.prepare_joining_share("w", 5, b"rejoined", "{}")
        .expect("join again");
    v.commit_epoch("w", 5).expect("commit");
    assert_eq!(
        &v.share("w").expect("share").expect("present").share[..],
        b"rejoined"
    );
}

/// A wallet written before committed epochs were recorded (schema version 2: no `epochs`
/// row) has its highest epoch committed.
#[test]
fn a_wallet_without_an_epoch_record_has_its_highest_epoch_committed() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        v.put_share("w", 0, b"e0", "{}").expect("put");
        v.put_share("w", 4, b"e4", "{}").expect("put");
    }
    rusqlite::Connection::open(vault_path(dir.path()))
        .expect("sqlite")
        .execute("DELETE FROM epochs", [])
        .expect("delete");
    let mut v = reopen(dir.path());
    assert_eq!(v.committed_epoch("w").expect("epoch"), Some(4));
    assert_eq!(
        &v.share("w").expect("share").expect("present").share[..],
        b"e4"
    );
    v.prepare_share("w", 5, b"e5", "{}").expect("prepare");
    assert_eq!(v.committed_epoch("w").expect("epoch"), Some(4));
}

/// Without an `epochs` row, the highest share epoch counts only if that share opens under it:
/// the `epoch` column is not sealed. Regression test for a `vault_records` fuzz finding (the
/// row deleted and the column set to 234 made `committed_epoch` report 234).
#[test]
fn a_legacy_committed_epoch_is_authenticated_by_its_share() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        v.put_share("w", 0, b"e0", "{}").expect("put");
    }
    {
        let c = rusqlite::Connection::open(vault_path(dir.path())).expect("sqlite");
        c.execute("DELETE FROM epochs", []).expect("delete");
        c.execute("UPDATE shares SET epoch = 234 WHERE wallet_id = 'w'", [])
            .expect("update");
    }
    let v = reopen(dir.path());
    assert!(matches!(
        v.committed_epoch("w"),
        Err(VaultError::Corrupt(_))
    ));
    assert!(matches!(v.share("w"), Err(VaultError::Corrupt(_))));
    assert!(matches!(v.wallets(), Err(VaultError::Corrupt(_))));
}

/// The committed-epoch records are sealed per wallet: swapping them is detected.
#[test]
fn swapped_epoch_records_are_detected() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        v.put_share("a", 0, b"a0", "{}").expect("put");
        v.put_share("b", 3, b"b3", "{}").expect("put");
    }
    {
        let c = rusqlite::Connection::open(vault_path(dir.path())).expect("sqlite");
        let a: Vec<u8> = c
            .query_row("SELECT sealed FROM epochs WHERE wallet_id = 'a'", [], |r| {
                r.get(0)
            })
            .expect("row a");
        let b: Vec<u8> = c
            .query_row("SELECT sealed FROM epochs WHERE wallet_id = 'b'", [], |r| {
                r.get(0)
            })
            .expect("row b");
        c.execute("UPDATE epochs SET sealed = ?1 WHERE wallet_id = 'a'", [&b])
            .expect("swap");
        c.execute("UPDATE epochs SET sealed = ?1 WHERE wallet_id = 'b'", [&a])
            .expect("swap");
    }
    let v = reopen(dir.path());
    assert!(matches!(v.share("a"), Err(VaultError::Corrupt(_))));
    assert!(matches!(
        v.committed_epoch("b"),
        Err(VaultError::Corrupt(_))
    ));
}

#[test]
fn aux_identity_settings_replace() {
    let dir = tmp();
    let mut v = new_vault(dir.path());
    let g1 = [1u8; 32];
    let g2 = [2u8; 32];
    assert!(v.aux(&g1).expect("aux").is_none());
    assert!(v.identity().expect("identity").is_none());
    v.put_aux(&g1, b"aux one").expect("put");
    v.put_aux(&g2, b"aux two").expect("put");
    v.put_aux(&g1, b"aux one v2").expect("replace");
    v.put_identity(b"id1").expect("put");
    v.put_identity(b"id2").expect("replace");
    v.put_setting("k", "v1").expect("put");
    v.put_setting("k", "v2").expect("replace");
    drop(v);
    let v = reopen(dir.path());
    assert_eq!(
        &v.aux(&g1).expect("aux").expect("present")[..],
        b"aux one v2"
    );
    assert_eq!(&v.aux(&g2).expect("aux").expect("present")[..], b"aux two");
    assert_eq!(&v.identity().expect("id").expect("present")[..], b"id2");
    assert_eq!(v.setting("k").expect("setting").as_deref(), Some("v2"));
}

#[test]
fn sealed_bytes_on_disk_hide_the_plaintext() {
    let dir = tmp();
    let secrets: Vec<Vec<u8>> = (0..5).map(secret48).collect();
    {
        let mut v = new_vault(dir.path());
        v.put_share("w", 0, &secrets[0], "{}").expect("share");
        v.put_aux(&[9; 32], &secrets[1]).expect("aux");
        v.put_identity(&secrets[2]).expect("identity");
        v.put_presignature("w", &[3; 32], &secrets[3])
            .expect("presig");
        v.put_setting("s", std::str::from_utf8(&secrets[4]).expect("ascii"))
            .expect("setting");
        // While open, the data may still sit in the WAL: check every file of the vault.
        check_files(dir.path(), &secrets);
    }
    check_files(dir.path(), &secrets);
    // Sanity check of the search itself: the public info is stored in the clear.
    let db = fs::read(vault_path(dir.path())).expect("read");
    assert!(contains(&db, b"presignatures"));
}

fn check_files(dir: &std::path::Path, secrets: &[Vec<u8>]) {
    let mut checked = 0;
    for entry in fs::read_dir(dir).expect("read_dir") {
        let bytes = fs::read(entry.expect("entry").path()).expect("read");
        for s in secrets {
            assert!(!contains(&bytes, s), "plaintext found on disk");
            assert!(
                !contains(&bytes, &s[..24]),
                "plaintext prefix found on disk"
            );
        }
        checked += 1;
    }
    assert!(checked >= 2, "vault file and lock file expected");
}

#[test]
fn swapped_share_blobs_are_corrupt() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        v.put_share("alice", 0, b"alice share", "{}").expect("put");
        v.put_share("bob", 0, b"bob share", "{}").expect("put");
    }
    swap_blobs(
        dir.path(),
        "shares",
        "sealed",
        "wallet_id",
        "'alice'",
        "'bob'",
    );
    let v = reopen(dir.path());
    assert!(matches!(v.share("alice"), Err(VaultError::Corrupt(_))));
    assert!(matches!(v.share("bob"), Err(VaultError::Corrupt(_))));
    assert!(matches!(v.wallets(), Err(VaultError::Corrupt(_))));
}

#[test]
fn altered_public_info_or_epoch_is_corrupt() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        v.put_share("w", 3, b"s", "{\"pk\":\"aa\"}").expect("put");
        v.put_share("x", 3, b"s", "{}").expect("put");
    }
    {
        let c = rusqlite::Connection::open(vault_path(dir.path())).expect("sqlite");
        c.execute(
            "UPDATE shares SET public_info = '{\"pk\":\"bb\"}' WHERE wallet_id = 'w'",
            [],
        )
        .expect("update");
        c.execute("UPDATE shares SET epoch = 4 WHERE wallet_id = 'x'", [])
            .expect("update");
    }
    let v = reopen(dir.path());
    assert!(matches!(v.share("w"), Err(VaultError::Corrupt(_))));
    assert!(matches!(v.share("x"), Err(VaultError::Corrupt(_))));
}

#[test]
fn swapped_aux_setting_and_presignature_blobs_are_corrupt() {
    let dir = tmp();
    let (g1, g2) = ([1u8; 32], [2u8; 32]);
    let (p1, p2) = ([5u8; 32], [6u8; 32]);
    {
        let mut v = new_vault(dir.path());
        v.put_aux(&g1, b"a1").expect("put");
        v.put_aux(&g2, b"a2").expect("put");
        v.put_setting("a", "1").expect("put");
        v.put_setting("b", "2").expect("put");
        v.put_presignature("w", &p1, b"p1").expect("put");
        v.put_presignature("w", &p2, b"p2").expect("put");
    }
    swap_blobs(
        dir.path(),
        "aux",
        "sealed",
        "group_id",
        &format!("x'{}'", hex::encode(g1)),
        &format!("x'{}'", hex::encode(g2)),
    );
    swap_blobs(dir.path(), "settings", "sealed", "key", "'a'", "'b'");
    swap_blobs(
        dir.path(),
        "presignatures",
        "sealed",
        "id",
        &format!("x'{}'", hex::encode(p1)),
        &format!("x'{}'", hex::encode(p2)),
    );
    let mut v = reopen(dir.path());
    assert!(matches!(v.aux(&g1), Err(VaultError::Corrupt(_))));
    assert!(matches!(v.setting("b"), Err(VaultError::Corrupt(_))));
    // A presignature that fails to open is destroyed (consumed), never retried.
    assert!(matches!(
        v.take_presignature("w", &p1),
        Err(VaultError::Corrupt(_))
    ));
    assert!(v.is_consumed(&p1).expect("consumed"));
    assert_eq!(v.presignature_ids("w").expect("ids"), vec![p2]);
    assert!(matches!(
        v.take_presignature("w", &p1),
        Err(VaultError::PresignatureConsumed)
    ));
}

#[test]
fn blob_from_another_vault_is_corrupt() {
    let a = tmp();
    let b = tmp();
    {
        let mut va = new_vault(a.path());
        va.put_share("w", 0, b"from a", "{}").expect("put");
    }
    {
        let mut vb = new_vault(b.path());
        vb.put_share("w", 0, b"from b", "{}").expect("put");
    }
    let blob: Vec<u8> = rusqlite::Connection::open(vault_path(a.path()))
        .expect("sqlite")
        .query_row("SELECT sealed FROM shares", [], |r| r.get(0))
        .expect("blob");
    rusqlite::Connection::open(vault_path(b.path()))
        .expect("sqlite")
        .execute("UPDATE shares SET sealed = ?1", [blob])
        .expect("update");
    let vb = reopen(b.path());
    assert!(matches!(vb.share("w"), Err(VaultError::Corrupt(_))));
}

/// Swaps a column between two rows with a plain SQLite connection (vault closed).
fn swap_blobs(dir: &std::path::Path, table: &str, col: &str, key: &str, k1: &str, k2: &str) {
    let mut c = rusqlite::Connection::open(vault_path(dir)).expect("sqlite");
    let tx = c.transaction().expect("tx");
    let get = |k: &str| -> Vec<u8> {
        tx.query_row(
            &format!("SELECT {col} FROM {table} WHERE {key} = {k}"),
            [],
            |r| r.get(0),
        )
        .expect("select")
    };
    let (b1, b2) = (get(k1), get(k2));
    assert_ne!(b1, b2);
    tx.execute(
        &format!("UPDATE {table} SET {col} = ?1 WHERE {key} = {k1}"),
        [&b2],
    )
    .expect("update");
    tx.execute(
        &format!("UPDATE {table} SET {col} = ?1 WHERE {key} = {k2}"),
        [&b1],
    )
    .expect("update");
    tx.commit().expect("commit");
}

/// A holder that joins a wallet (a replacement signer) stores a prepared share with nothing
/// committed: it signs with nothing until the commit, a discard leaves no trace, and a vault
/// that already holds the wallet cannot join it again.
#[test]
fn a_joining_holder_has_nothing_in_force_until_the_commit() {
    let dir = tmp();
    let mut v = new_vault(dir.path());
    v.prepare_joining_share("w", 3, b"joined", "{}")
        .expect("join");
    assert!(v.share("w").expect("share").is_none());
    assert_eq!(v.committed_epoch("w").expect("epoch"), None);
    assert_eq!(
        v.prepared_share("w")
            .expect("prepared")
            .expect("present")
            .epoch,
        3
    );
    assert!(v.wallets().expect("wallets").is_empty());
    assert!(matches!(
        v.prepare_joining_share("w", 4, b"again", "{}"),
        Err(VaultError::AlreadyExists)
    ));
    assert_eq!(v.discard_prepared("w").expect("discard"), 1);
    assert!(v.prepared_share("w").expect("prepared").is_none());
    assert_eq!(v.committed_epoch("w").expect("epoch"), None);

    v.prepare_joining_share("w", 3, b"joined", "{}")
        .expect("join");
    drop(v);
    let mut v = reopen(dir.path());
    v.commit_epoch("w", 3).expect("commit");
    assert_eq!(
        &v.share("w").expect("share").expect("in force").share[..],
        b"joined"
    );
    assert!(matches!(
        v.prepare_joining_share("w", 4, b"again", "{}"),
        Err(VaultError::AlreadyExists)
    ));
    v.put_share("x", 0, b"held", "{}").expect("put");
    assert!(matches!(
        v.prepare_joining_share("x", 1, b"again", "{}"),
        Err(VaultError::AlreadyExists)
    ));
}

//! Creating, opening, unlocking and locking a vault.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::*;
use tessera_vault::{generate_key_file, KdfParams, Unlock, Vault, VaultError, SCHEMA_VERSION};

#[test]
fn passphrase_round_trip() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        v.put_identity(b"node identity key").expect("put identity");
        v.put_setting("coordinator_url", "https://coord.example")
            .expect("put setting");
    }
    let v = reopen(dir.path());
    assert_eq!(
        v.identity()
            .expect("identity")
            .as_deref()
            .map(Vec::as_slice),
        Some(&b"node identity key"[..])
    );
    assert_eq!(
        v.setting("coordinator_url").expect("setting").as_deref(),
        Some("https://coord.example")
    );
    assert_eq!(v.setting("missing").expect("setting"), None);
    // Vault files and key files are private to the owner.
    let mode = fs::metadata(vault_path(dir.path()))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "vault file mode {mode:o}");
}

#[test]
fn key_file_round_trip() {
    let dir = tmp();
    let key = dir.path().join("vault.key");
    generate_key_file(&key).expect("generate key file");
    let meta = fs::metadata(&key).expect("stat");
    assert_eq!(meta.len(), 32);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let unlock = Unlock::KeyFile(key.clone());
    let path = vault_path(dir.path());
    {
        let mut v = Vault::create(&path, &unlock, KdfParams::default()).expect("create");
        v.put_share("w1", 0, b"share bytes", "{}")
            .expect("put share");
    }
    let v = Vault::open(&path, &unlock).expect("open");
    let s = v.share("w1").expect("share").expect("present");
    assert_eq!(&s.share[..], b"share bytes");
}

#[test]
fn generate_key_file_refuses_to_overwrite() {
    let dir = tmp();
    let key = dir.path().join("vault.key");
    generate_key_file(&key).expect("generate");
    let before = fs::read(&key).expect("read");
    assert!(matches!(
        generate_key_file(&key),
        Err(VaultError::AlreadyExists)
    ));
    assert_eq!(fs::read(&key).expect("read"), before);
    // Two generated keys differ.
    let other = dir.path().join("other.key");
    generate_key_file(&other).expect("generate");
    assert_ne!(fs::read(&other).expect("read"), before);
}

#[test]
fn default_kdf_params_round_trip() {
    // The one test that pays for the real Argon2id parameters (64 MiB, t = 3).
    assert_eq!(
        KdfParams::default(),
        KdfParams {
            m_kib: 65536,
            t: 3,
            p: 1
        }
    );
    let dir = tmp();
    let path = vault_path(dir.path());
    drop(Vault::create(&path, &pass(), KdfParams::default()).expect("create"));
    Vault::open(&path, &pass()).expect("open");
    assert!(matches!(
        Vault::open(&path, &Unlock::passphrase("wrong")),
        Err(VaultError::WrongPassphrase)
    ));
}

#[test]
fn wrong_passphrase_opens_nothing() {
    let dir = tmp();
    drop(new_vault(dir.path()));
    let path = vault_path(dir.path());
    let r = Vault::open(&path, &Unlock::passphrase("correct horse battery stapler"));
    assert!(matches!(r, Err(VaultError::WrongPassphrase)), "{r:?}");
    // A key file against a passphrase vault is a wrong secret too.
    let key = dir.path().join("k");
    generate_key_file(&key).expect("generate");
    assert!(matches!(
        Vault::open(&path, &Unlock::KeyFile(key)),
        Err(VaultError::WrongPassphrase)
    ));
    // Nothing stayed open or locked: the right passphrase works right away.
    reopen(dir.path());
}

#[test]
fn wrong_key_file_opens_nothing() {
    let dir = tmp();
    let key = dir.path().join("right.key");
    let wrong = dir.path().join("wrong.key");
    generate_key_file(&key).expect("generate");
    generate_key_file(&wrong).expect("generate");
    let path = vault_path(dir.path());
    drop(
        Vault::create(
            &path,
            &Unlock::KeyFile(key.clone()),
            KdfParams::insecure_for_tests(),
        )
        .expect("create"),
    );
    assert!(matches!(
        Vault::open(&path, &Unlock::KeyFile(wrong)),
        Err(VaultError::WrongPassphrase)
    ));
    assert!(matches!(
        Vault::open(&path, &pass()),
        Err(VaultError::WrongPassphrase)
    ));
    Vault::open(&path, &Unlock::KeyFile(key)).expect("open with the right key");
}

#[test]
fn bad_key_files_are_typed_errors() {
    let dir = tmp();
    let short = dir.path().join("short.key");
    fs::write(&short, [7u8; 31]).expect("write");
    let long = dir.path().join("long.key");
    fs::write(&long, [7u8; 33]).expect("write");
    let missing = dir.path().join("missing.key");
    let path = vault_path(dir.path());
    for k in [short, long, missing] {
        let r = Vault::create(&path, &Unlock::KeyFile(k), KdfParams::insecure_for_tests());
        assert!(matches!(r, Err(VaultError::KeyFile(_))), "{r:?}");
        assert!(!path.exists(), "a failed create leaves no vault behind");
    }
}

#[test]
fn create_refuses_existing_file_and_open_missing_file() {
    let dir = tmp();
    let path = vault_path(dir.path());
    assert!(matches!(
        Vault::open(&path, &pass()),
        Err(VaultError::NotFound)
    ));
    fs::write(&path, b"precious").expect("write");
    let r = Vault::create(&path, &pass(), KdfParams::insecure_for_tests());
    assert!(matches!(r, Err(VaultError::AlreadyExists)), "{r:?}");
    assert_eq!(fs::read(&path).expect("read"), b"precious");
    fs::remove_file(&path).expect("rm");
    drop(new_vault(dir.path()));
    let r = Vault::create(&path, &pass(), KdfParams::insecure_for_tests());
    assert!(matches!(r, Err(VaultError::AlreadyExists)), "{r:?}");
    reopen(dir.path());
}

#[test]
fn create_refuses_bad_input() {
    let dir = tmp();
    let path = vault_path(dir.path());
    let r = Vault::create(
        &path,
        &Unlock::passphrase(""),
        KdfParams::insecure_for_tests(),
    );
    assert!(matches!(r, Err(VaultError::InvalidInput(_))), "{r:?}");
    let r = Vault::create(
        &path,
        &pass(),
        KdfParams {
            m_kib: 1,
            t: 1,
            p: 1,
        },
    );
    assert!(matches!(r, Err(VaultError::InvalidInput(_))), "{r:?}");
    let r = Vault::create(
        &path,
        &pass(),
        KdfParams {
            m_kib: u32::MAX,
            t: 1,
            p: 1,
        },
    );
    assert!(matches!(r, Err(VaultError::InvalidInput(_))), "{r:?}");
    assert!(!path.exists());
}

#[test]
fn random_file_is_not_a_vault() {
    let dir = tmp();
    let path = vault_path(dir.path());
    let junk: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(&path, &junk).expect("write");
    assert!(matches!(
        Vault::open(&path, &pass()),
        Err(VaultError::NotAVault)
    ));
    assert_eq!(
        fs::read(&path).expect("read"),
        junk,
        "open must not modify the file"
    );
    // Empty and tiny files too.
    fs::write(&path, b"").expect("write");
    assert!(matches!(
        Vault::open(&path, &pass()),
        Err(VaultError::NotAVault)
    ));
    fs::write(&path, b"SQLite").expect("write");
    assert!(matches!(
        Vault::open(&path, &pass()),
        Err(VaultError::NotAVault)
    ));
}

#[test]
fn foreign_sqlite_database_is_not_a_vault() {
    let dir = tmp();
    let path = vault_path(dir.path());
    {
        let c = rusqlite::Connection::open(&path).expect("sqlite");
        c.execute_batch(
            "CREATE TABLE meta (key TEXT, value BLOB); INSERT INTO meta VALUES ('a', 'b');",
        )
        .expect("schema");
    }
    let before = fs::read(&path).expect("read");
    assert!(matches!(
        Vault::open(&path, &pass()),
        Err(VaultError::NotAVault)
    ));
    assert_eq!(
        fs::read(&path).expect("read"),
        before,
        "open must not modify the file"
    );
}

#[test]
fn newer_schema_version_is_refused() {
    let dir = tmp();
    drop(new_vault(dir.path()));
    let path = vault_path(dir.path());
    {
        let c = rusqlite::Connection::open(&path).expect("sqlite");
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("pragma");
    }
    let r = Vault::open(&path, &pass());
    assert!(
        matches!(r, Err(VaultError::UnsupportedVersion(v)) if v == SCHEMA_VERSION + 1),
        "{r:?}"
    );
}

#[test]
fn tampered_kdf_params_are_refused() {
    let dir = tmp();
    drop(new_vault(dir.path()));
    let path = vault_path(dir.path());
    {
        let c = rusqlite::Connection::open(&path).expect("sqlite");
        c.execute("UPDATE meta SET value = 2 WHERE key = 'kdf_t'", [])
            .expect("update");
    }
    assert!(matches!(
        Vault::open(&path, &pass()),
        Err(VaultError::WrongPassphrase)
    ));
}

#[test]
fn planted_trigger_is_refused() {
    let dir = tmp();
    drop(new_vault(dir.path()));
    let path = vault_path(dir.path());
    {
        let c = rusqlite::Connection::open(&path).expect("sqlite");
        c.execute_batch(
            "CREATE TRIGGER forget AFTER INSERT ON consumed_presignatures
             BEGIN DELETE FROM consumed_presignatures; END;",
        )
        .expect("trigger");
    }
    assert!(matches!(
        Vault::open(&path, &pass()),
        Err(VaultError::Corrupt(_))
    ));
}

#[test]
fn second_open_is_locked_until_drop() {
    let dir = tmp();
    let first = new_vault(dir.path());
    let path = vault_path(dir.path());
    assert!(matches!(
        Vault::open(&path, &pass()),
        Err(VaultError::Locked)
    ));
    // Also in another process.
    let status = run_child("child_try_open", &[("TESSERA_VAULT_DIR", dir.path())], None);
    assert_eq!(status.code(), Some(0), "child saw the vault as locked");
    drop(first);
    let second = Vault::open(&path, &pass()).expect("open after drop");
    assert!(matches!(
        Vault::open(&path, &pass()),
        Err(VaultError::Locked)
    ));
    drop(second);
    reopen(dir.path());
}

#[test]
#[ignore = "helper: run in a child process by second_open_is_locked_until_drop"]
fn child_try_open() {
    let dir = std::env::var_os("TESSERA_VAULT_DIR").expect("TESSERA_VAULT_DIR");
    let r = Vault::open(&vault_path(std::path::Path::new(&dir)), &pass());
    assert!(matches!(r, Err(VaultError::Locked)), "{r:?}");
}

#[test]
fn debug_and_errors_leak_no_secrets() {
    let dir = tmp();
    let mut v = new_vault(dir.path());
    let secret = secret48(1);
    v.put_share("w", 1, &secret, "{\"pk\":\"02ab\"}")
        .expect("put");
    let s = v.share("w").expect("share").expect("present");
    let marker = "TESSERA-SECRET-MARKER";
    for text in [format!("{v:?}"), format!("{s:?}"), format!("{:?}", pass())] {
        assert!(!text.contains(marker), "{text}");
        assert!(!text.contains(PASS), "{text}");
    }
    assert!(format!("{s:?}").contains("[REDACTED]"));
    drop(v);
    let err = Vault::open(
        &vault_path(dir.path()),
        &Unlock::passphrase("hunter2-guess"),
    )
    .expect_err("wrong");
    assert!(!format!("{err:?} {err}").contains("hunter2"));
}

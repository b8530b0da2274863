//! IO failures surface as `VaultError::Storage` and change nothing.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::*;
use tessera_vault::{Vault, VaultError};

#[test]
fn directory_path_is_a_storage_error() {
    let dir = tmp();
    let path = vault_path(dir.path());
    fs::create_dir(&path).expect("mkdir");
    let r = Vault::open(&path, &pass());
    assert!(matches!(r, Err(VaultError::Storage(_))), "{r:?}");
}

#[test]
fn missing_parent_directory_is_a_storage_error() {
    let dir = tmp();
    let path = dir.path().join("no/such/dir/node.vault");
    let r = Vault::create(
        &path,
        &pass(),
        tessera_vault::KdfParams::insecure_for_tests(),
    );
    assert!(matches!(r, Err(VaultError::Storage(_))), "{r:?}");
}

#[test]
fn read_only_vault_file_is_a_storage_error() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        v.put_share("w", 0, b"s", "{}").expect("put");
    }
    let path = vault_path(dir.path());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).expect("chmod");
    let writable = fs::OpenOptions::new().append(true).open(&path).is_ok();
    let mut immutable = false;
    if writable {
        // Running with CAP_DAC_OVERRIDE (root): mode 0444 does not stop us. Try the immutable
        // attribute instead (needs CAP_LINUX_IMMUTABLE and a file system that has it).
        immutable = Command::new("chattr")
            .arg("+i")
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !immutable {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
            loud(
                "SKIPPED read_only_vault_file_is_a_storage_error: running as root without \
                 chattr +i; write failures are still covered by the disk-full test",
            );
            return;
        }
    }
    let r = Vault::open(&path, &pass());
    if immutable {
        let undone = Command::new("chattr").arg("-i").arg(&path).status();
        assert!(undone.is_ok_and(|s| s.success()), "chattr -i failed");
    }
    eprintln!("open of a read-only vault: {r:?}");
    assert!(matches!(r, Err(VaultError::Storage(_))), "{r:?}");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    let v = reopen(dir.path());
    assert_eq!(
        &v.share("w").expect("share").expect("present").share[..],
        b"s"
    );
}

/// File-size limit for the child, in 512-byte blocks (256 KiB).
const FSIZE_BLOCKS: u64 = 512;

#[test]
fn full_disk_is_a_storage_error_and_changes_nothing() {
    let dir = tmp();
    {
        let mut v = new_vault(dir.path());
        v.put_share("w", 0, b"the share", "{}").expect("put");
    }
    let status = run_child(
        "child_fill_until_full",
        &[("TESSERA_VAULT_DIR", dir.path())],
        Some(FSIZE_BLOCKS),
    );
    assert_eq!(status.code(), Some(0), "child failed: {status:?}");
    // Without the limit, the vault opens, the share is intact, and what was stored is usable.
    let mut v = reopen(dir.path());
    assert_eq!(
        &v.share("w").expect("share").expect("present").share[..],
        b"the share"
    );
    let ids = v.presignature_ids("w").expect("ids");
    assert!(!ids.is_empty());
    assert!(
        !ids.contains(&failed_id()),
        "the failed write must not be stored"
    );
    let last = *ids.last().expect("non-empty");
    assert_eq!(v.take_presignature("w", &last).expect("take").len(), 4096);
    v.put_presignature("w", &failed_id(), &[1; 16])
        .expect("room again");
}

/// The child retries its first failing write under this marker id, so the parent can check that
/// a failed write left nothing behind.
fn failed_id() -> [u8; 32] {
    [0xEE; 32]
}

#[test]
#[ignore = "helper: run in a child process under `ulimit -f` by full_disk_is_a_storage_error_and_changes_nothing"]
fn child_fill_until_full() {
    let dir = std::env::var_os("TESSERA_VAULT_DIR").expect("TESSERA_VAULT_DIR");
    let dir = Path::new(&dir);
    let mut v = reopen(dir);
    let big = vec![0x5A; 4096];
    let mut stored = 0usize;
    let err = loop {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&(stored as u64).to_be_bytes());
        match v.put_presignature("w", &id, &big) {
            Ok(()) => stored += 1,
            Err(e) => {
                // Retry the failing write under the marker id: it must fail the same way.
                let again = v.put_presignature("w", &failed_id(), &big);
                assert!(matches!(again, Err(VaultError::Storage(_))), "{again:?}");
                break e;
            }
        }
        assert!(stored < 10_000, "the file-size limit never hit");
    };
    assert!(matches!(err, VaultError::Storage(_)), "{err:?}");
    assert!(stored > 0, "nothing fit below the limit");
    // The failed writes changed nothing; earlier data is still readable.
    let ids = v.presignature_ids("w").expect("ids");
    assert_eq!(ids.len(), stored);
    assert!(!v.is_consumed(&failed_id()).expect("is_consumed"));
    assert_eq!(
        &v.share("w").expect("share").expect("present").share[..],
        b"the share"
    );
    eprintln!("child: {stored} presignatures stored before the disk was full: {err}");
}

//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use tessera_vault::{KdfParams, Unlock, Vault};

pub const PASS: &str = "correct horse battery staple";

pub fn pass() -> Unlock {
    Unlock::passphrase(PASS)
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

pub fn vault_path(dir: &Path) -> PathBuf {
    dir.join("node.vault")
}

pub fn new_vault(dir: &Path) -> Vault {
    Vault::create(&vault_path(dir), &pass(), KdfParams::insecure_for_tests()).expect("create")
}

pub fn reopen(dir: &Path) -> Vault {
    Vault::open(&vault_path(dir), &pass()).expect("open")
}

/// A distinctive 48-byte secret.
pub fn secret48(tag: u8) -> Vec<u8> {
    let mut s = b"TESSERA-SECRET-MARKER-".to_vec();
    s.push(tag);
    while s.len() < 48 {
        s.push(b'a' + (s.len() % 26) as u8);
    }
    s
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs one `#[ignore]`d helper test of the current test binary in a child process, optionally
/// under a file-size limit (`ulimit -f`, 512-byte blocks, with SIGXFSZ ignored so that writes
/// fail with EFBIG like on a full disk). Works as root too.
pub fn run_child(test_name: &str, env: &[(&str, &Path)], fsize_blocks: Option<u64>) -> ExitStatus {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = match fsize_blocks {
        Some(blocks) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!(
                    "trap '' XFSZ; ulimit -f {blocks} && exec \"$0\" \"$@\""
                ))
                .arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args([
        test_name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Capture the child's output so its own libtest summary does not mix with ours; show it
    // (through the parent's captured stderr) when the parent test fails.
    let out = cmd.output().expect("spawn child test process");
    eprintln!(
        "child {test_name}: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.status
}

/// Writes to the real stderr, past libtest's capture, so a skipped case is never silent.
pub fn loud(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

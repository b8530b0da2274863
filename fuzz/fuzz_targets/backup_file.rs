//! `tessera-backup`: backup files as `tessera backup verify` / `tessera restore` read them.
//! First byte, bit 0:
//!
//! - 0: the rest is a backup file (`Backup::from_json`), then `open_share` and `open_signer`
//!   with the fixture backup identity (stanza hex, HPKE encapsulated key, decryption);
//! - 1: the rest is `header JSON \n payload`: the target seals the payload to the fixture
//!   identity under that header (HPKE, as `tessera backup create` does), so that what is
//!   behind the decryption — the `SharePayload` / `SignerPayload` JSON, `KeyShare::from_bytes`,
//!   the wallet facts, identity keys and aux info, and every header check — is fuzzed as a
//!   backup made by someone holding the recipient's public key could present it.
//!
//! Properties: nothing panics; a parsed file re-serializes (`to_json`) to a file that parses
//! to an equal backup; an opened share agrees with its header.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_backup::{open_share, open_signer, seal, Backup, BackupIdentity, Header};
use tessera_fuzz::split;

fn identity() -> &'static BackupIdentity {
    static ID: OnceLock<BackupIdentity> = OnceLock::new();
    ID.get_or_init(tessera_fuzz::backup_identity)
}

fn open(b: &Backup) {
    let ids = std::slice::from_ref(identity());
    if let Ok(opened) = open_share(b, ids) {
        let tag = b
            .header
            .share
            .as_ref()
            .expect("an opened share backup has a tag");
        assert_eq!(opened.share.index(), tag.index);
        assert_eq!(opened.share.public_key(), &tag.public_key);
    }
    let _ = open_signer(b, ids);
}

fuzz_target!(|data: &[u8]| {
    let (sel, bytes) = split(data);
    if sel & 1 == 0 {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return;
        };
        let Ok(b) = Backup::from_json(text) else {
            return;
        };
        let again = Backup::from_json(&b.to_json()).expect("to_json output parses");
        assert_eq!(again, b, "backup JSON round trip");
        open(&b);
    } else {
        let Some(nl) = bytes.iter().position(|c| *c == b'\n') else {
            return;
        };
        let Ok(header) = serde_json::from_slice::<Header>(&bytes[..nl]) else {
            return;
        };
        let Ok(b) = seal(header, &bytes[nl + 1..], &[identity().recipient()]) else {
            return;
        };
        open(&b);
    }
});

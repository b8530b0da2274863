//! `tessera-wire`: sealed envelopes as relayed between signers (`Envelope::from_bytes`, then
//! `Opener::open` as party 1 of a three-party session: version, session, roster, sender id,
//! body shape, signature, recipient, replay, decryption).
//!
//! Properties: `from_bytes` and `to_bytes` are exact inverses (one envelope, one encoding);
//! opening never panics; an envelope that opens was really sealed by its roster sender (only
//! the corpus's genuine envelopes can), carries the header it was sealed under, and the same
//! bytes a second time are refused as a replay.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_fuzz::{identity, SESSION};
use tessera_wire::{Envelope, IdentityKey, Opener, PublicIdentity, WireError};

fn me() -> &'static IdentityKey {
    static ME: OnceLock<IdentityKey> = OnceLock::new();
    ME.get_or_init(|| identity(1))
}

fn roster() -> Vec<(u16, PublicIdentity)> {
    static R: OnceLock<Vec<(u16, PublicIdentity)>> = OnceLock::new();
    R.get_or_init(|| {
        (0..3)
            .map(|i| (u16::from(i), identity(i).public()))
            .collect()
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    let parsed = Envelope::from_bytes(data);
    if let Ok(env) = &parsed {
        assert_eq!(env.to_bytes(), data, "envelope encoding is not canonical");
    }
    let mut opener = Opener::new(me(), 1, SESSION, roster());
    if let Ok(msg) = opener.open_bytes(data) {
        let env = parsed.expect("opened an envelope that does not parse");
        assert_eq!(msg.session.0, env.session);
        assert_eq!((msg.round, msg.from, msg.to), (env.round, env.from, env.to));
        assert_ne!(msg.from, 1, "accepted an envelope from ourselves");
        assert!(matches!(
            opener.open_bytes(data),
            Err(WireError::Replayed { .. })
        ));
    }
});

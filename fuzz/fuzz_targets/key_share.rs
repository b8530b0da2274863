//! `tessera-crypto`: the key-share envelope `KeyShare::from_bytes` (magic, version, scheme,
//! t, n, index, group key, chain code, and the protocol crate's own re-validation of the
//! secret share: dkls23, cggmp24, frost-secp256k1-tr, frost-ed25519), plus the presignature
//! envelope `Presignature::from_bytes` and cggmp24's `AuxInfo::from_bytes`, all of which a
//! signer reads back from its vault and a restore reads from a backup. First byte: which
//! parser (0 key share, 1 presignature, 2 aux info); the rest is the bytes.
//!
//! Properties: nothing panics; an accepted envelope re-serializes to exactly its bytes (one
//! share, one encoding).
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_crypto::{AuxInfo, KeyShare, Presignature};
use tessera_fuzz::split;

fuzz_target!(|data: &[u8]| {
    let (sel, bytes) = split(data);
    match sel % 3 {
        0 => {
            if let Ok(share) = KeyShare::from_bytes(bytes) {
                assert_eq!(share.to_bytes().as_slice(), bytes, "key share encoding");
            }
        }
        1 => {
            if let Ok(p) = Presignature::from_bytes(bytes) {
                assert_eq!(p.to_bytes().as_slice(), bytes, "presignature encoding");
            }
        }
        _ => {
            if let Ok(a) = AuxInfo::from_bytes(bytes) {
                assert_eq!(a.to_bytes().as_slice(), bytes, "aux info encoding");
            }
        }
    }
});

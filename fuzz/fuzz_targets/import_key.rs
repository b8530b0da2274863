//! `tessera-cli`'s `import_key::parse_key`: the private-key text `tessera import` reads (hex,
//! WIF, xprv/tprv with a derivation path, BIP-39 mnemonics with passphrase and path for
//! BIP-32 or SLIP-0010, Solana CLI keypair JSON). The file `crates/tessera-cli/src/import_key.rs`
//! is compiled into this target as is (`#[path]`): depending on `tessera-cli` would build the
//! node, the coordinator, TLS, tokio and axum for one self-contained module.
//!
//! First byte: bit 0 the curve, bits 1-3 the format, bit 4 "a passphrase is given", bit 5 "a
//! path is given"; the rest is `key text [\0 passphrase [\0 path]]` (UTF-8).
//!
//! Properties: nothing panics; an accepted secp256k1 key's public key is its secret times G
//! (checked with libsecp256k1), an accepted Ed25519 key's public key is 32 bytes.
#![no_main]
#![allow(dead_code, unused_imports)]

#[path = "../../crates/tessera-cli/src/import_key.rs"]
mod import_key;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use import_key::{parse_key, KeyCurve, KeyFormat};
use libfuzzer_sys::fuzz_target;
use tessera_fuzz::split;

fuzz_target!(|data: &[u8]| {
    let (sel, bytes) = split(data);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let curve = if sel & 1 == 0 {
        KeyCurve::Secp256k1
    } else {
        KeyCurve::Ed25519
    };
    let format = [
        KeyFormat::Hex,
        KeyFormat::Wif,
        KeyFormat::Xprv,
        KeyFormat::Mnemonic,
        KeyFormat::SolanaKeypair,
    ][usize::from((sel >> 1) & 7) % 5];
    let mut parts = text.splitn(3, '\0');
    let key = parts.next().unwrap_or("");
    let passphrase = parts.next().filter(|_| sel & 0x10 != 0);
    let path = parts.next().filter(|_| sel & 0x20 != 0);
    let Ok(k) = parse_key(curve, format, key, passphrase, path) else {
        return;
    };
    match curve {
        KeyCurve::Secp256k1 => {
            let sk = SecretKey::from_slice(&k.secret[..]).expect("accepted an invalid scalar");
            let pk = PublicKey::from_secret_key(&Secp256k1::signing_only(), &sk);
            assert_eq!(k.public_key, pk.serialize().to_vec(), "public key mismatch");
        }
        KeyCurve::Ed25519 => assert_eq!(k.public_key.len(), 32),
    }
});

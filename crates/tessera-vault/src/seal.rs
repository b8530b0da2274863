//! Sealing (AEAD), key wrapping and key derivation. Nothing here touches the database.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::{KdfParams, VaultError};

/// Length of the data-encryption key and of the key-encryption key.
pub(crate) const KEY_LEN: usize = 32;
/// Length of the random vault id bound into every AAD.
pub(crate) const VAULT_ID_LEN: usize = 16;
/// Length of the Argon2id salt.
pub(crate) const SALT_LEN: usize = 16;
/// XChaCha20 nonce length.
const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
const TAG_LEN: usize = 16;
/// First byte of every sealed blob: the seal format.
const SEAL_FORMAT_V1: u8 = 1;
/// Domain-separation prefix of every AAD.
const AAD_DOMAIN: &[u8] = b"tessera-vault/v1\0";

/// Largest Argon2 memory cost accepted (4 GiB), at create and at open: a tampered file must not
/// be able to make `open` allocate without bound.
pub(crate) const MAX_M_KIB: u32 = 4 * 1024 * 1024;
/// Largest Argon2 time cost accepted.
pub(crate) const MAX_T: u32 = 64;
/// Largest Argon2 parallelism accepted.
pub(crate) const MAX_P: u32 = 16;

/// Fills `buf` from the OS random number generator.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), VaultError> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|e| VaultError::Storage(format!("OS random number generator failed: {e}")))
}

/// Checks Argon2 parameters against the library's rules and our upper bounds.
pub(crate) fn argon2_params(kdf: &KdfParams) -> Result<Params, String> {
    if kdf.m_kib > MAX_M_KIB || kdf.t > MAX_T || kdf.p > MAX_P {
        return Err(format!(
            "Argon2 parameters out of range (m_kib <= {MAX_M_KIB}, t <= {MAX_T}, p <= {MAX_P})"
        ));
    }
    Params::new(kdf.m_kib, kdf.t, kdf.p, Some(KEY_LEN))
        .map_err(|e| format!("invalid Argon2 parameters: {e}"))
}

/// Derives the key-encryption key from a passphrase with Argon2id (version 0x13).
pub(crate) fn derive_kek(
    passphrase: &[u8],
    salt: &[u8],
    params: Params,
) -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut kek = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(passphrase, salt, &mut *kek)
        .map_err(|e| VaultError::Storage(format!("key derivation failed: {e}")))?;
    Ok(kek)
}

/// Builds an AAD: domain, vault id, then each component length-prefixed (u32 big endian), so
/// no two different (table, key...) tuples can produce the same bytes.
pub(crate) fn aad(vault_id: &[u8; VAULT_ID_LEN], table: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        AAD_DOMAIN.len()
            + VAULT_ID_LEN
            + 4
            + table.len()
            + parts.iter().map(|p| 4 + p.len()).sum::<usize>(),
    );
    out.extend_from_slice(AAD_DOMAIN);
    out.extend_from_slice(vault_id);
    for part in std::iter::once(table.as_bytes()).chain(parts.iter().copied()) {
        // Components are short identifiers; a length above u32::MAX cannot be stored anyway.
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// An AEAD key (DEK or KEK). The cipher zeroizes its key on drop.
pub(crate) struct SealKey {
    cipher: XChaCha20Poly1305,
}

impl SealKey {
    pub(crate) fn new(key: &Zeroizing<[u8; KEY_LEN]>) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.as_ref().into()),
        }
    }

    /// Seals `plaintext`: `format (1) || nonce (24) || ciphertext || tag (16)`, random nonce.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        // Encrypt in a zeroizing buffer with room for the tag, so no plaintext copy is left
        // behind by a reallocation.
        let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
        buf.extend_from_slice(plaintext);
        self.cipher
            .encrypt_in_place(&XNonce::from(nonce), aad, &mut *buf)
            .map_err(|_| VaultError::Storage("encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(SEAL_FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens a sealed blob. `None` when it is malformed or fails authentication (wrong key,
    /// wrong slot, altered bytes); callers choose the error.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != SEAL_FORMAT_V1 {
            return None;
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        self.cipher
            .decrypt_in_place(&XNonce::from(nonce), aad, &mut *buf)
            .ok()?;
        Some(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SealKey {
        SealKey::new(&Zeroizing::new([b; KEY_LEN]))
    }

    #[test]
    fn seal_round_trip_and_binding() {
        let k = key(7);
        let id = [1u8; VAULT_ID_LEN];
        let a = aad(&id, "shares", &[b"w1", &1u32.to_be_bytes()]);
        let sealed = k.seal(&a, b"secret").expect("seal");
        assert_eq!(
            k.open(&a, &sealed).as_deref().map(Vec::as_slice),
            Some(&b"secret"[..])
        );
        let other = aad(&id, "shares", &[b"w2", &1u32.to_be_bytes()]);
        assert!(k.open(&other, &sealed).is_none());
        assert!(key(8).open(&a, &sealed).is_none());
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(k.open(&a, &flipped).is_none());
        assert!(k.open(&a, &sealed[..10]).is_none());
    }

    #[test]
    fn aad_is_unambiguous() {
        let id = [0u8; VAULT_ID_LEN];
        assert_ne!(aad(&id, "t", &[b"ab", b"c"]), aad(&id, "t", &[b"a", b"bc"]));
        assert_ne!(aad(&id, "ta", &[b"b"]), aad(&id, "t", &[b"ab"]));
    }

    #[test]
    fn nonces_differ() {
        let k = key(1);
        let a = aad(&[0; VAULT_ID_LEN], "x", &[]);
        assert_ne!(
            k.seal(&a, b"m").expect("seal"),
            k.seal(&a, b"m").expect("seal")
        );
    }
}

//! Ed25519 keys of admins (who sign policy bundles) and approvers (who sign approvals).

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::error::KeyError;

/// An admin's or approver's Ed25519 public key. `Display`, `Debug`, `FromStr` and serde use
/// 64 lowercase hex digits. Any 32 bytes are accepted here; a key that is not a valid point
/// simply never verifies (the check reports it as a bad or forged signature).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Verifies an Ed25519 signature with `verify_strict` (no malleable or small-order forms).
    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        VerifyingKey::from_bytes(&self.0)
            .map(|vk| {
                vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
                    .is_ok()
            })
            .unwrap_or(false)
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(s).map_err(|_| KeyError::NotHex)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::WrongLength)?;
        Ok(PublicKey(arr))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An admin's or approver's Ed25519 signing key. Wiped on drop; `Debug` prints `[REDACTED]`;
/// not `Clone`. `tessera console` and `tessera approve` read an approver's key from a file
/// into this type and sign with it in that process; nothing sends it anywhere.
pub struct SecretKey {
    key: SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

impl SecretKey {
    /// A fresh key from `rng`.
    pub fn generate(rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng)) -> Self {
        SecretKey {
            key: SigningKey::generate(rng),
        }
    }

    /// From a 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SecretKey {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// Text file form: the 64 lowercase hex digits of the Ed25519 seed and a newline (what
    /// `tessera console --key-file` reads).
    pub fn to_text(&self) -> zeroize::Zeroizing<String> {
        let mut s = zeroize::Zeroizing::new(hex::encode(self.key.as_bytes()));
        s.push('\n');
        s
    }

    /// Inverse of [`to_text`](Self::to_text); surrounding whitespace is ignored.
    pub fn from_text(s: &str) -> Result<Self, KeyError> {
        let bytes = zeroize::Zeroizing::new(hex::decode(s.trim()).map_err(|_| KeyError::NotHex)?);
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(KeyError::WrongLength);
        }
        seed.copy_from_slice(&bytes);
        Ok(Self::from_seed(&seed))
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    /// Signs `msg`.
    pub(crate) fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

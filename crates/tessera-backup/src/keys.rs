//! Recipient keys (X25519, public) and backup identities (their secret halves).

use std::fmt;

use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, Serializable};
use zeroize::Zeroizing;

use crate::BackupError;

type Kem = X25519HkdfSha256;

const IDENTITY_PREFIX: &str = "tessera-backup-identity-v1:";

/// An RNG from the OS for the `hpke` crate's `rand_core` (0.9) traits.
pub(crate) struct OsRng;

impl hpke::rand_core::RngCore for OsRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::RngCore::next_u32(&mut rand_core::OsRng)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::RngCore::next_u64(&mut rand_core::OsRng)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, dst)
    }
}

impl hpke::rand_core::CryptoRng for OsRng {}

/// A recipient's public key: what `tessera backup create --recipient` takes (64 hex digits).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RecipientKey(pub [u8; 32]);

impl RecipientKey {
    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, BackupError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out)
            .map_err(|_| BackupError::Format("a recipient key is 64 hex digits".into()))?;
        Ok(RecipientKey(out))
    }

    pub(crate) fn hpke(&self) -> Result<<Kem as hpke::Kem>::PublicKey, BackupError> {
        <Kem as hpke::Kem>::PublicKey::from_bytes(&self.0)
            .map_err(|_| BackupError::Format("invalid X25519 recipient key".into()))
    }
}

impl fmt::Display for RecipientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for RecipientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecipientKey({self})")
    }
}

/// The secret half of a recipient key: decrypts backups made for it. Kept by a backup
/// custodian, offline. `Debug` is redacted; the bytes are zeroized on drop.
pub struct BackupIdentity {
    secret: <Kem as hpke::Kem>::PrivateKey,
    public: RecipientKey,
}

impl fmt::Debug for BackupIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupIdentity")
            .field("public", &self.public)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl BackupIdentity {
    /// A fresh identity from the OS RNG.
    pub fn generate() -> Self {
        let (secret, public) = Kem::gen_keypair(&mut OsRng);
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&public.to_bytes());
        BackupIdentity {
            secret,
            public: RecipientKey(pk),
        }
    }

    /// Its recipient (public) key.
    pub fn recipient(&self) -> RecipientKey {
        self.public
    }

    pub(crate) fn secret(&self) -> &<Kem as hpke::Kem>::PrivateKey {
        &self.secret
    }

    /// The identity file's text: `tessera-backup-identity-v1:<64 hex digits>` and a newline.
    pub fn to_text(&self) -> Zeroizing<String> {
        let bytes = Zeroizing::new(self.secret.to_bytes().to_vec());
        Zeroizing::new(format!("{IDENTITY_PREFIX}{}\n", hex::encode(&*bytes)))
    }

    /// Parses [`to_text`](Self::to_text) output (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self, BackupError> {
        let bad = || BackupError::Format("not a tessera backup identity file".into());
        let hex_part = text.trim().strip_prefix(IDENTITY_PREFIX).ok_or_else(bad)?;
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex_part, &mut *bytes).map_err(|_| bad())?;
        let secret = <Kem as hpke::Kem>::PrivateKey::from_bytes(&*bytes).map_err(|_| bad())?;
        let public = Kem::sk_to_pk(&secret);
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&public.to_bytes());
        Ok(BackupIdentity {
            secret,
            public: RecipientKey(pk),
        })
    }
}

//! The backup file: header and one HPKE stanza per recipient.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keys::OsRng;
use crate::{BackupError, BackupIdentity, Header, RecipientKey};

/// The format tag (also the HPKE `info`).
pub const FORMAT: &str = "tessera-backup/v1";

/// The payload encrypted to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stanza {
    /// The recipient's X25519 public key (hex).
    pub recipient: String,
    /// HPKE encapsulated key (hex).
    pub enc: String,
    /// HPKE ciphertext of the payload (hex).
    pub ciphertext: String,
}

/// A backup file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    /// Always [`FORMAT`].
    pub format: String,
    /// What it holds (authenticated by every stanza).
    pub header: Header,
    /// One per recipient.
    pub stanzas: Vec<Stanza>,
}

/// Encrypts `payload` under `header` to every recipient.
pub fn seal(
    header: Header,
    payload: &[u8],
    recipients: &[RecipientKey],
) -> Result<Backup, BackupError> {
    if recipients.is_empty() {
        return Err(BackupError::Seal("give at least one recipient".into()));
    }
    let aad = header.aad();
    let mut stanzas = Vec::with_capacity(recipients.len());
    for r in recipients {
        let (enc, ct) =
            hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256, _>(
                &OpModeS::Base,
                &r.hpke()?,
                FORMAT.as_bytes(),
                payload,
                &aad,
                &mut OsRng,
            )
            .map_err(|e| BackupError::Seal(e.to_string()))?;
        stanzas.push(Stanza {
            recipient: r.to_string(),
            enc: hex::encode(enc.to_bytes()),
            ciphertext: hex::encode(ct),
        });
    }
    Ok(Backup {
        format: FORMAT.to_string(),
        header,
        stanzas,
    })
}

impl Backup {
    /// Parses a backup file's JSON.
    pub fn from_json(text: &str) -> Result<Backup, BackupError> {
        let b: Backup =
            serde_json::from_str(text).map_err(|e| BackupError::Format(e.to_string()))?;
        if b.format != FORMAT {
            return Err(BackupError::Format(format!(
                "format {:?}, expected {FORMAT:?}",
                b.format
            )));
        }
        Ok(b)
    }

    /// The file's JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Decrypts the payload with the first of `identities` that is a recipient.
    pub fn decrypt(
        &self,
        identities: &[BackupIdentity],
    ) -> Result<Zeroizing<Vec<u8>>, BackupError> {
        let aad = self.header.aad();
        for id in identities {
            let me = id.recipient().to_string();
            let Some(stanza) = self.stanzas.iter().find(|s| s.recipient == me) else {
                continue;
            };
            let enc_bytes = hex::decode(&stanza.enc)
                .map_err(|_| BackupError::Format("stanza enc is not hex".into()))?;
            let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&enc_bytes)
                .map_err(|_| BackupError::Format("stanza enc is not an X25519 key".into()))?;
            let ct = hex::decode(&stanza.ciphertext)
                .map_err(|_| BackupError::Format("stanza ciphertext is not hex".into()))?;
            let plain = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
                &OpModeR::Base,
                id.secret(),
                &enc,
                FORMAT.as_bytes(),
                &ct,
                &aad,
            )
            .map_err(|_| BackupError::Decrypt)?;
            return Ok(Zeroizing::new(plain));
        }
        Err(BackupError::NotARecipient)
    }
}

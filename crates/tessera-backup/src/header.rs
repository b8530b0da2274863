//! The public, authenticated header of a backup.

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_crypto::{PublicKey, SchemeId};
use tessera_wire::NodeId;

/// What a backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One wallet's key share at one epoch ([`crate::SharePayload`]).
    Share,
    /// The signer's node identity and settings ([`crate::SignerPayload`]).
    Signer,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Share => "share",
            Kind::Signer => "signer",
        })
    }
}

/// What a share backup is of: enough to refuse combining backups of different wallets or
/// epochs before anything is decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareTag {
    /// Wallet id.
    pub wallet_id: String,
    /// Scheme.
    pub scheme: SchemeId,
    /// Threshold `t`.
    pub threshold: u16,
    /// Number of parties `n`.
    pub n: u16,
    /// This share's party index (0-based, key-generation order).
    pub index: u16,
    /// The share's epoch (0 from key generation).
    pub epoch: u32,
    /// Group public key (for `schnorr-bip340`: the Taproot internal key).
    pub public_key: PublicKey,
    /// Chain code (hex).
    #[serde(with = "hex32")]
    pub chain_code: [u8; 32],
}

/// The public header of a backup; its canonical bytes ([`Header::aad`]) are the HPKE `aad`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// What the backup holds.
    pub kind: Kind,
    /// The signer that wrote it.
    pub node_id: NodeId,
    /// When it was written (unix seconds).
    pub created_at: u64,
    /// For a share backup: what it is a share of. `None` for a signer backup.
    pub share: Option<ShareTag>,
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

impl Header {
    /// Canonical bytes: a domain tag, then every field length-prefixed in declaration order.
    pub fn aad(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        put(&mut out, crate::FORMAT.as_bytes());
        put(&mut out, self.kind.to_string().as_bytes());
        put(&mut out, &self.node_id.0);
        put(&mut out, &self.created_at.to_be_bytes());
        match &self.share {
            None => put(&mut out, b"none"),
            Some(t) => {
                put(&mut out, b"share");
                put(&mut out, t.wallet_id.as_bytes());
                put(&mut out, t.scheme.name().as_bytes());
                put(&mut out, &t.threshold.to_be_bytes());
                put(&mut out, &t.n.to_be_bytes());
                put(&mut out, &t.index.to_be_bytes());
                put(&mut out, &t.epoch.to_be_bytes());
                put(&mut out, t.public_key.as_bytes());
                put(&mut out, &t.chain_code);
            }
        }
        out
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

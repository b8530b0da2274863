//! Public, non-secret types shared by every scheme.

use std::fmt;

use crate::{Error, Result};

/// A party's index at key generation, `0..n`. Stable for the life of a key share.
pub type PartyIndex = u16;

/// Maximum number of parties we accept (DKLs23 indexes parties with a `u8`).
pub const MAX_PARTIES: u16 = 64;

/// The four schemes Tessera offers, each t-of-n.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum SchemeId {
    /// ECDSA over secp256k1, DKLs23 (crate `dkls23` 0.6.2). Fast profile. **Unaudited crate.**
    #[serde(rename = "ecdsa-secp256k1/dkls23")]
    EcdsaDkls23,
    /// ECDSA over secp256k1, CGGMP24 (crate `cggmp24` 0.7.0-alpha.3). Conservative profile with
    /// presignatures.
    #[serde(rename = "ecdsa-secp256k1/cggmp24")]
    EcdsaCggmp24,
    /// BIP-340 Schnorr over secp256k1 with Taproot tweaks, FROST (`frost-secp256k1-tr`).
    #[serde(rename = "schnorr-bip340")]
    SchnorrBip340,
    /// Ed25519, FROST (`frost-ed25519`).
    #[serde(rename = "ed25519")]
    Ed25519,
}

impl SchemeId {
    /// All schemes, in a stable order.
    pub const ALL: [SchemeId; 4] = [
        SchemeId::EcdsaDkls23,
        SchemeId::EcdsaCggmp24,
        SchemeId::SchnorrBip340,
        SchemeId::Ed25519,
    ];

    /// Stable name used in APIs, files and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            SchemeId::EcdsaDkls23 => "ecdsa-secp256k1/dkls23",
            SchemeId::EcdsaCggmp24 => "ecdsa-secp256k1/cggmp24",
            SchemeId::SchnorrBip340 => "schnorr-bip340",
            SchemeId::Ed25519 => "ed25519",
        }
    }

    /// One-byte tag used in serialized key shares.
    pub fn tag(self) -> u8 {
        match self {
            SchemeId::EcdsaDkls23 => 1,
            SchemeId::EcdsaCggmp24 => 2,
            SchemeId::SchnorrBip340 => 3,
            SchemeId::Ed25519 => 4,
        }
    }

    /// Inverse of [`tag`](Self::tag).
    pub fn from_tag(tag: u8) -> Option<Self> {
        SchemeId::ALL.into_iter().find(|s| s.tag() == tag)
    }

    /// Parses [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Self> {
        SchemeId::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Honest audit status of the protocol crate, for docs and CLI output.
    pub fn audit_status(self) -> &'static str {
        match self {
            SchemeId::EcdsaDkls23 => {
                "UNAUDITED: crate dkls23 0.6.2 has no published security audit"
            }
            SchemeId::EcdsaCggmp24 => {
                "cggmp24 0.7.0-alpha.3 is an alpha; the Kudelski audit covered the cggmp21 code \
                 base it descends from, not this release"
            }
            SchemeId::SchnorrBip340 => {
                "frost-core is audited (NCC Group); the secp256k1-tr ciphersuite crate was added \
                 after that audit"
            }
            SchemeId::Ed25519 => "frost-core and frost-ed25519 audited (NCC Group)",
        }
    }

    /// Whether the scheme has a one-round online phase from precomputed material.
    pub fn has_presignatures(self) -> bool {
        !matches!(self, SchemeId::EcdsaDkls23)
    }
}

impl fmt::Display for SchemeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `t`-of-`n`: any `t` of the `n` parties can sign, `t - 1` cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ThresholdParams {
    /// Signers needed.
    pub t: u16,
    /// Share holders.
    pub n: u16,
}

impl ThresholdParams {
    /// Validated constructor: `2 <= t <= n <= MAX_PARTIES`.
    pub fn new(t: u16, n: u16) -> Result<Self> {
        if t < 2 || t > n || n > MAX_PARTIES {
            return Err(Error::InvalidArgs(format!(
                "threshold {t}-of-{n} is not allowed (need 2 <= t <= n <= {MAX_PARTIES})"
            )));
        }
        Ok(ThresholdParams { t, n })
    }

    /// Checks a signer set: exactly `t` distinct indices below `n`, containing `me`.
    pub fn check_signers(&self, signers: &[PartyIndex], me: PartyIndex) -> Result<()> {
        let mut sorted = signers.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != signers.len() {
            return Err(Error::InvalidArgs("signer set has duplicates".into()));
        }
        if signers.len() != usize::from(self.t) {
            return Err(Error::InvalidArgs(format!(
                "exactly {} signers are needed, got {}",
                self.t,
                signers.len()
            )));
        }
        if signers.iter().any(|s| *s >= self.n) {
            return Err(Error::InvalidArgs("signer index out of range".into()));
        }
        if !signers.contains(&me) {
            return Err(Error::InvalidArgs(
                "this party is not in the signer set".into(),
            ));
        }
        Ok(())
    }
}

/// A group public key in the encoding its chain uses.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PublicKey {
    /// 33-byte compressed SEC1 point (ECDSA schemes; also the untweaked FROST-secp256k1 key).
    Secp256k1(#[serde(with = "hexarr")] [u8; 33]),
    /// 32-byte Ed25519 point.
    Ed25519(#[serde(with = "hexarr")] [u8; 32]),
}

impl PublicKey {
    /// Encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            PublicKey::Secp256k1(b) => b,
            PublicKey::Ed25519(b) => b,
        }
    }

    /// Lowercase hex of [`as_bytes`](Self::as_bytes).
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }

    /// BIP-340 x-only encoding (secp256k1 keys only).
    pub fn x_only(&self) -> Option<[u8; 32]> {
        match self {
            PublicKey::Secp256k1(b) => {
                let mut x = [0u8; 32];
                x.copy_from_slice(&b[1..]);
                Some(x)
            }
            PublicKey::Ed25519(_) => None,
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

/// A finished signature.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Signature {
    /// ECDSA `(r, s)` big-endian, low-s normalized, with the recovery id (`v` parity, 0/1).
    Ecdsa {
        /// r.
        #[serde(with = "hexarr")]
        r: [u8; 32],
        /// s (low-s).
        #[serde(with = "hexarr")]
        s: [u8; 32],
        /// Recovery id: parity of R's y coordinate (0 or 1).
        recovery_id: u8,
    },
    /// BIP-340 Schnorr signature (64 bytes: R.x || s).
    Bip340(#[serde(with = "hexarr")] [u8; 64]),
    /// Ed25519 signature (64 bytes: R || S).
    Ed25519(#[serde(with = "hexarr")] [u8; 64]),
}

impl Signature {
    /// The 64-byte compact form (`r||s`, `R.x||s` or `R||S`).
    pub fn to_bytes(&self) -> [u8; 64] {
        match self {
            Signature::Ecdsa { r, s, .. } => {
                let mut o = [0u8; 64];
                o[..32].copy_from_slice(r);
                o[32..].copy_from_slice(s);
                o
            }
            Signature::Bip340(b) | Signature::Ed25519(b) => *b,
        }
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.to_bytes()))
    }
}

/// Hash functions a signer can apply to a preimage itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MessageHash {
    /// SHA-256.
    Sha256,
    /// SHA-256 applied twice (Bitcoin legacy/SegWit v0 sighash).
    DoubleSha256,
    /// Keccak-256 (Ethereum).
    Keccak256,
    /// BIP-340 tagged hash with tag `TapSighash` (BIP-341 signature messages; the preimage starts
    /// with the sighash epoch byte). Meant for `schnorr-bip340`; cggmp24 presignatures refuse it.
    TapSighash,
}

impl MessageHash {
    /// Stable one-byte tag used in canonical encodings (authorizations, intent hashes).
    pub fn tag(self) -> u8 {
        match self {
            MessageHash::Sha256 => 1,
            MessageHash::DoubleSha256 => 2,
            MessageHash::Keccak256 => 3,
            MessageHash::TapSighash => 4,
        }
    }
}

/// What to sign.
///
/// For ECDSA the signed value is a 32-byte digest. The safe form is [`SignMessage::Preimage`]:
/// each signer hashes the bytes itself. [`SignMessage::RawDigest`] — a digest computed by someone
/// else — is the most dangerous request a wallet can take (with presignatures it enables a known
/// forgery, and in general the signers cannot know what they sign); presigned signing refuses it.
///
/// For BIP-340 the message is the 32-byte digest (e.g. a Taproot sighash, itself a tagged hash);
/// for Ed25519 the message is the raw bytes (the scheme hashes them internally).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SignMessage {
    /// Bytes the signers hash themselves with `hash` (ECDSA, BIP-340); signed as-is for Ed25519
    /// when `hash` is `None`.
    Preimage {
        /// Hash applied by each signer; `None` only for Ed25519.
        hash: Option<MessageHash>,
        /// The preimage.
        bytes: Vec<u8>,
    },
    /// A 32-byte digest whose preimage the signers never see. Dangerous for ECDSA.
    RawDigest(#[serde(with = "hexarr")] [u8; 32]),
}

impl fmt::Debug for SignMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignMessage::Preimage { hash, bytes } => f
                .debug_struct("Preimage")
                .field("hash", hash)
                .field("len", &bytes.len())
                .finish(),
            SignMessage::RawDigest(d) => write!(f, "RawDigest({})", hex::encode(d)),
        }
    }
}

impl SignMessage {
    /// Preimage hashed with SHA-256 by every signer.
    pub fn sha256(bytes: impl Into<Vec<u8>>) -> Self {
        SignMessage::Preimage {
            hash: Some(MessageHash::Sha256),
            bytes: bytes.into(),
        }
    }

    /// Raw message bytes (Ed25519 signs them directly).
    pub fn raw_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        SignMessage::Preimage {
            hash: None,
            bytes: bytes.into(),
        }
    }

    /// Danger: a digest whose preimage the signers do not see. Named so callers notice.
    pub fn danger_raw_digest(digest: [u8; 32]) -> Self {
        SignMessage::RawDigest(digest)
    }

    /// The 32-byte digest the ECDSA / BIP-340 schemes sign.
    pub fn digest32(&self) -> Result<[u8; 32]> {
        use sha2::Digest;
        match self {
            SignMessage::RawDigest(d) => Ok(*d),
            SignMessage::Preimage { hash, bytes } => match hash {
                Some(MessageHash::Sha256) => Ok(sha2::Sha256::digest(bytes).into()),
                Some(MessageHash::DoubleSha256) => {
                    Ok(sha2::Sha256::digest(sha2::Sha256::digest(bytes)).into())
                }
                Some(MessageHash::Keccak256) => Ok(sha3::Keccak256::digest(bytes).into()),
                Some(MessageHash::TapSighash) => {
                    let tag = sha2::Sha256::digest(b"TapSighash");
                    let mut h = sha2::Sha256::new();
                    h.update(tag);
                    h.update(tag);
                    h.update(bytes);
                    Ok(h.finalize().into())
                }
                None => Err(Error::InvalidArgs(
                    "this scheme signs a 32-byte digest: name the hash to apply".into(),
                )),
            },
        }
    }

    /// The bytes Ed25519 signs.
    pub fn ed25519_bytes(&self) -> Vec<u8> {
        match self {
            SignMessage::Preimage { hash: None, bytes } => bytes.clone(),
            SignMessage::RawDigest(d) => d.to_vec(),
            SignMessage::Preimage { .. } => self.digest32().map(|d| d.to_vec()).unwrap_or_default(),
        }
    }
}

/// A non-hardened derivation path (`m/a/b/c`, each index `< 2^31`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct DerivationPath(Vec<u32>);

impl DerivationPath {
    /// The root (master) key.
    pub fn root() -> Self {
        DerivationPath(Vec::new())
    }

    /// Validated constructor.
    pub fn new(indices: Vec<u32>) -> Result<Self> {
        if indices.len() > 255 {
            return Err(Error::InvalidArgs("derivation path deeper than 255".into()));
        }
        if indices.iter().any(|i| *i >= 0x8000_0000) {
            return Err(Error::InvalidArgs(
                "hardened derivation is impossible for threshold keys".into(),
            ));
        }
        Ok(DerivationPath(indices))
    }

    /// Parses `m/1/2/3`.
    pub fn parse(s: &str) -> Result<Self> {
        let mut parts = s.split('/');
        if parts.next() != Some("m") {
            return Err(Error::InvalidArgs(
                "derivation path must start with m".into(),
            ));
        }
        let idx = parts
            .map(|p| {
                p.parse::<u32>()
                    .map_err(|_| Error::InvalidArgs(format!("bad path component {p:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(idx)
    }

    /// Indices.
    pub fn indices(&self) -> &[u32] {
        &self.0
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for DerivationPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("m")?;
        for i in &self.0 {
            write!(f, "/{i}")?;
        }
        Ok(())
    }
}

/// Serde for fixed-size byte arrays as hex strings.
pub(crate) mod hexarr {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(s).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom(format!("expected {N} bytes")))
    }
}

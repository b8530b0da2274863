//! Key shares, presignatures and partial signatures as validated, versioned types.
//!
//! A [`KeyShare`] is an envelope with a public header (scheme, format version, threshold, party
//! index, group public key, chain code) and a scheme-specific secret payload. Loading re-parses
//! the payload with the scheme's own crate and checks that it agrees with the header, so a share
//! value can only exist valid. Secret bytes live in [`Zeroizing`] buffers and `Debug` prints
//! `[REDACTED]`.

use std::fmt;

use zeroize::Zeroizing;

use crate::{Error, PartyIndex, PublicKey, Result, SchemeId, ThresholdParams};

const SHARE_MAGIC: &[u8; 4] = b"TSKS";
const PRESIG_MAGIC: &[u8; 4] = b"TSPS";
/// Current key-share format version.
pub const SHARE_FORMAT_VERSION: u16 = 1;

/// One party's share of a threshold key.
pub struct KeyShare {
    pub(crate) scheme: SchemeId,
    pub(crate) params: ThresholdParams,
    pub(crate) index: PartyIndex,
    pub(crate) public_key: PublicKey,
    pub(crate) chain_code: [u8; 32],
    pub(crate) secret: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyShare")
            .field("scheme", &self.scheme)
            .field("params", &self.params)
            .field("index", &self.index)
            .field("public_key", &self.public_key)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl KeyShare {
    /// Scheme of this share.
    pub fn scheme(&self) -> SchemeId {
        self.scheme
    }
    /// Threshold parameters.
    pub fn params(&self) -> ThresholdParams {
        self.params
    }
    /// This party's index at key generation.
    pub fn index(&self) -> PartyIndex {
        self.index
    }
    /// The group (root) public key. For `schnorr-bip340` this is the *internal* (untweaked) key;
    /// see [`crate::hd::derive_public_key`] for Taproot output keys.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
    /// BIP-32 style chain code agreed at key generation (public, but links child addresses).
    pub fn chain_code(&self) -> [u8; 32] {
        self.chain_code
    }

    /// Serializes to the versioned format (secret: store it only sealed).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.secret.len() + 96));
        out.extend_from_slice(SHARE_MAGIC);
        out.extend_from_slice(&SHARE_FORMAT_VERSION.to_be_bytes());
        out.push(self.scheme.tag());
        out.extend_from_slice(&self.params.t.to_be_bytes());
        out.extend_from_slice(&self.params.n.to_be_bytes());
        out.extend_from_slice(&self.index.to_be_bytes());
        let pk = self.public_key.as_bytes();
        out.push(pk.len() as u8);
        out.extend_from_slice(pk);
        out.extend_from_slice(&self.chain_code);
        out.extend_from_slice(&(self.secret.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.secret);
        out
    }

    /// Parses and fully re-validates a serialized share.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        if r.take(4)? != SHARE_MAGIC {
            return Err(Error::InvalidKeyShare("not a Tessera key share".into()));
        }
        let version = r.u16()?;
        if version != SHARE_FORMAT_VERSION {
            return Err(Error::InvalidKeyShare(format!(
                "unsupported key share format version {version}"
            )));
        }
        let scheme = SchemeId::from_tag(r.u8()?)
            .ok_or_else(|| Error::InvalidKeyShare("unknown scheme tag".into()))?;
        let params = ThresholdParams::new(r.u16()?, r.u16()?)
            .map_err(|e| Error::InvalidKeyShare(e.to_string()))?;
        let index = r.u16()?;
        if index >= params.n {
            return Err(Error::InvalidKeyShare("party index out of range".into()));
        }
        let pk_len = r.u8()?;
        let pk = r.take(usize::from(pk_len))?;
        let public_key = match (scheme, pk.len()) {
            (SchemeId::Ed25519, 32) => PublicKey::Ed25519(pk.try_into().map_err(bad_len)?),
            (SchemeId::Ed25519, _) => return Err(Error::InvalidKeyShare("bad key length".into())),
            (_, 33) => PublicKey::Secp256k1(pk.try_into().map_err(bad_len)?),
            _ => return Err(Error::InvalidKeyShare("bad key length".into())),
        };
        let chain_code: [u8; 32] = r.take(32)?.try_into().map_err(bad_len)?;
        let len = r.u32()? as usize;
        let secret = Zeroizing::new(r.take(len)?.to_vec());
        r.finish()?;
        let share = KeyShare {
            scheme,
            params,
            index,
            public_key,
            chain_code,
            secret,
        };
        crate::scheme(scheme).validate(&share)?;
        Ok(share)
    }
}

fn bad_len<E>(_: E) -> Error {
    Error::InvalidKeyShare("bad length".into())
}

/// Identifies a presignature; identical on every signer of the presign session.
pub type PresignatureId = [u8; 32];

/// One party's secret part of a presignature (cggmp24) or of precomputed nonces (FROST).
///
/// Not `Clone`: issuing a partial signature consumes it, and the [`PresignatureLedger`] refuses a
/// second use of the same id even if the bytes were copied out of storage.
pub struct Presignature {
    pub(crate) scheme: SchemeId,
    pub(crate) id: PresignatureId,
    pub(crate) index: PartyIndex,
    pub(crate) signers: Vec<PartyIndex>,
    pub(crate) secret: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Presignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presignature")
            .field("scheme", &self.scheme)
            .field("id", &hex::encode(self.id))
            .field("signers", &self.signers)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl Presignature {
    /// Id shared with the other signers and the [`PresignPublic`] data.
    pub fn id(&self) -> PresignatureId {
        self.id
    }
    /// Signer set the presignature is bound to.
    pub fn signers(&self) -> &[PartyIndex] {
        &self.signers
    }
    /// Scheme.
    pub fn scheme(&self) -> SchemeId {
        self.scheme
    }

    /// Serializes for sealed storage. Whoever loads it back must still go through the ledger.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.extend_from_slice(PRESIG_MAGIC);
        out.extend_from_slice(&SHARE_FORMAT_VERSION.to_be_bytes());
        out.push(self.scheme.tag());
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.push(self.signers.len() as u8);
        for s in &self.signers {
            out.extend_from_slice(&s.to_be_bytes());
        }
        out.extend_from_slice(&(self.secret.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.secret);
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes) output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |m: &str| Error::InvalidKeyShare(format!("presignature: {m}"));
        let mut r = Reader::new(bytes);
        if r.take(4)? != PRESIG_MAGIC {
            return Err(bad("bad magic"));
        }
        if r.u16()? != SHARE_FORMAT_VERSION {
            return Err(bad("unsupported version"));
        }
        let scheme = SchemeId::from_tag(r.u8()?).ok_or_else(|| bad("unknown scheme"))?;
        let id: PresignatureId = r.take(32)?.try_into().map_err(bad_len)?;
        let index = r.u16()?;
        let count = r.u8()?;
        let signers = (0..count).map(|_| r.u16()).collect::<Result<Vec<_>>>()?;
        let len = r.u32()? as usize;
        let secret = Zeroizing::new(r.take(len)?.to_vec());
        r.finish()?;
        if !signers.contains(&index) {
            return Err(bad("own index not among signers"));
        }
        Ok(Presignature {
            scheme,
            id,
            index,
            signers,
            secret,
        })
    }
}

/// Public data of a presignature, kept by whoever combines partial signatures.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PresignPublic {
    pub(crate) scheme: SchemeId,
    pub(crate) id: PresignatureId,
    pub(crate) signers: Vec<PartyIndex>,
    pub(crate) data: Vec<u8>,
}

impl fmt::Debug for PresignPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignPublic")
            .field("scheme", &self.scheme)
            .field("id", &hex::encode(self.id))
            .field("signers", &self.signers)
            .finish()
    }
}

impl PresignPublic {
    /// Id, equal to the matching [`Presignature::id`].
    pub fn id(&self) -> PresignatureId {
        self.id
    }
    /// Signers bound to it.
    pub fn signers(&self) -> &[PartyIndex] {
        &self.signers
    }
}

/// One signer's contribution to a one-round (presigned) signature. Not secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartialSignature {
    /// Presignature it was issued from.
    pub presignature: PresignatureId,
    /// Issuer.
    pub from: PartyIndex,
    /// Scheme-specific bytes.
    pub bytes: Vec<u8>,
}

/// Records presignature / nonce ids durably *before* a partial signature leaves the signer.
///
/// The crypto layer ships an in-memory implementation; the signer node implements it on its vault
/// so the rule survives crashes ("mark consumed, then release; on doubt, destroy").
pub trait PresignatureLedger {
    /// Marks `id` used. Must fail with [`Error::PresignatureReused`] if it already was.
    fn consume(&mut self, id: &PresignatureId) -> Result<()>;
}

/// In-memory [`PresignatureLedger`] (tests, benches, single-process use).
#[derive(Debug, Default)]
pub struct MemoryLedger {
    used: std::collections::HashSet<PresignatureId>,
}

impl PresignatureLedger for MemoryLedger {
    fn consume(&mut self, id: &PresignatureId) -> Result<()> {
        if self.used.insert(*id) {
            Ok(())
        } else {
            Err(Error::PresignatureReused {
                id: hex::encode(id),
            })
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(Error::InvalidKeyShare("truncated".into()));
        }
        let (a, b) = self.bytes.split_at(n);
        self.bytes = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().map_err(bad_len)?,
        ))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().map_err(bad_len)?,
        ))
    }
    fn finish(&self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidKeyShare("trailing bytes".into()))
        }
    }
}

//! The secret payloads and their checks against the header.

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_crypto::{AuxInfo, KeyShare, SchemeId};
use tessera_wire::{IdentityKey, NodeId};
use zeroize::Zeroizing;

use crate::{Backup, BackupError, BackupIdentity, Kind, ShareTag};

/// What a share backup encrypts.
#[derive(Serialize, Deserialize)]
pub struct SharePayload {
    /// `tessera_crypto::KeyShare::to_bytes` (hex in the JSON).
    #[serde(with = "hexvec")]
    pub share: Zeroizing<Vec<u8>>,
    /// The signer's public facts about the wallet (`tessera_node`'s `WalletPublic` JSON:
    /// roster, index, networks), restored with the share.
    pub public_info: String,
    /// cggmp24: the signer group's auxiliary info (`AuxInfo::to_bytes`), which the signer
    /// needs for further key generations with the same group.
    #[serde(default, with = "hexopt")]
    pub aux: Option<Zeroizing<Vec<u8>>>,
}

impl fmt::Debug for SharePayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharePayload")
            .field("share", &"[REDACTED]")
            .field("public_info", &self.public_info)
            .field("aux", &self.aux.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// What a signer backup encrypts.
#[derive(Serialize, Deserialize)]
pub struct SignerPayload {
    /// The node identity secret (`tessera_wire::IdentityKey::to_bytes`).
    #[serde(with = "hexvec")]
    pub identity: Zeroizing<Vec<u8>>,
    /// The vault settings (name, trusted operator keys, policy admins), as stored.
    pub settings: Vec<(String, String)>,
    /// cggmp24 auxiliary info per signer group (group id hex, the vault's stored value hex:
    /// `AuxInfo::to_stored`, or `AuxInfo::to_bytes` from vaults before generations were
    /// tagged): the signer's Paillier keys, reused by every key generation of the same group.
    #[serde(default)]
    pub aux: Vec<AuxRecord>,
}

/// One signer group's auxiliary info in a signer backup.
#[derive(Serialize, Deserialize)]
pub struct AuxRecord {
    /// Signer group id.
    #[serde(with = "hex32")]
    pub group: [u8; 32],
    /// The vault's stored value (see [`SignerPayload::aux`]).
    #[serde(with = "hexvec")]
    pub aux: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for SignerPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerPayload")
            .field("identity", &"[REDACTED]")
            .field("settings", &self.settings)
            .field("aux_groups", &self.aux.len())
            .finish()
    }
}

/// A decrypted share backup whose share the protocol crate validated and whose every tagged
/// field matched.
#[derive(Debug)]
pub struct OpenedShare {
    /// The header's tag.
    pub tag: ShareTag,
    /// The node that wrote the backup.
    pub node_id: NodeId,
    /// The validated share.
    pub share: KeyShare,
    /// The payload as decrypted.
    pub payload: SharePayload,
}

impl SharePayload {
    /// The payload's JSON (secret).
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(serde_json::to_vec(self).unwrap_or_default())
    }
}

impl SignerPayload {
    /// The payload's JSON (secret).
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(serde_json::to_vec(self).unwrap_or_default())
    }
}

fn expect_kind(b: &Backup, kind: Kind) -> Result<(), BackupError> {
    if b.header.kind != kind {
        return Err(BackupError::WrongKind {
            expected: kind,
            found: b.header.kind,
        });
    }
    Ok(())
}

/// The fields of the stored wallet facts a backup is checked against.
#[derive(Deserialize)]
struct RosterFacts {
    index: u16,
    roster: Vec<NodeId>,
}

/// Decrypts a share backup and checks it without reconstructing anything: the share
/// re-validated by its protocol crate (`KeyShare::from_bytes`), then scheme, threshold, n,
/// index, group key and chain code equal to the header's, the writer's node id at the share's
/// index of the stored roster, and (cggmp24) the auxiliary info valid for that index and n.
pub fn open_share(b: &Backup, identities: &[BackupIdentity]) -> Result<OpenedShare, BackupError> {
    expect_kind(b, Kind::Share)?;
    let tag = b
        .header
        .share
        .clone()
        .ok_or_else(|| BackupError::Format("a share backup without its share tag".into()))?;
    let plain = b.decrypt(identities)?;
    let payload: SharePayload =
        serde_json::from_slice(&plain).map_err(|e| BackupError::Format(e.to_string()))?;
    let share = KeyShare::from_bytes(&payload.share)
        .map_err(|e| BackupError::InvalidShare(e.to_string()))?;
    check_share(&tag, &share)?;
    let facts: RosterFacts = serde_json::from_str(&payload.public_info)
        .map_err(|e| BackupError::Format(format!("wallet facts: {e}")))?;
    if facts.index != tag.index {
        return Err(BackupError::Mismatch("party index of the wallet facts"));
    }
    if facts.roster.len() != usize::from(tag.n)
        || facts.roster.get(usize::from(tag.index)) != Some(&b.header.node_id)
    {
        return Err(BackupError::Mismatch("node id in the roster"));
    }
    if let Some(aux) = &payload.aux {
        let aux = AuxInfo::from_bytes(aux).map_err(|e| BackupError::InvalidShare(e.to_string()))?;
        if tag.scheme != SchemeId::EcdsaCggmp24 || aux.index() != tag.index || aux.n() != tag.n {
            return Err(BackupError::Mismatch("auxiliary info"));
        }
    }
    Ok(OpenedShare {
        tag,
        node_id: b.header.node_id,
        share,
        payload,
    })
}

fn check_share(tag: &ShareTag, share: &KeyShare) -> Result<(), BackupError> {
    if share.scheme() != tag.scheme {
        return Err(BackupError::Mismatch("scheme"));
    }
    if share.params().t != tag.threshold {
        return Err(BackupError::Mismatch("threshold"));
    }
    if share.params().n != tag.n {
        return Err(BackupError::Mismatch("n"));
    }
    if share.index() != tag.index {
        return Err(BackupError::Mismatch("party index"));
    }
    if share.public_key() != &tag.public_key {
        return Err(BackupError::Mismatch("group public key"));
    }
    if share.chain_code() != tag.chain_code {
        return Err(BackupError::Mismatch("chain code"));
    }
    Ok(())
}

/// Decrypts a signer backup and checks that its identity key is the header's node id.
pub fn open_signer(
    b: &Backup,
    identities: &[BackupIdentity],
) -> Result<SignerPayload, BackupError> {
    expect_kind(b, Kind::Signer)?;
    let plain = b.decrypt(identities)?;
    let payload: SignerPayload =
        serde_json::from_slice(&plain).map_err(|e| BackupError::Format(e.to_string()))?;
    let key = IdentityKey::from_bytes(&payload.identity)
        .map_err(|_| BackupError::InvalidShare("the identity key does not parse".into()))?;
    if key.public().node_id() != b.header.node_id {
        return Err(BackupError::Mismatch("node id"));
    }
    for a in &payload.aux {
        stored_aux(&a.aux)?;
    }
    Ok(payload)
}

/// A signer's stored aux info, validated: the generation-tagged form
/// (`AuxInfo::to_stored`), or plain `AuxInfo::to_bytes` as vaults stored it before generations
/// were tagged.
fn stored_aux(bytes: &[u8]) -> Result<AuxInfo, BackupError> {
    let invalid = |e: tessera_crypto::Error| BackupError::InvalidShare(e.to_string());
    match AuxInfo::from_stored(bytes).map_err(invalid)? {
        Some((_, aux)) => Ok(aux),
        None => AuxInfo::from_bytes(bytes).map_err(invalid),
    }
}

mod hexvec {
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(v: &Zeroizing<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(hex::encode(&**v));
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<Vec<u8>>, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        hex::decode(&*text)
            .map(Zeroizing::new)
            .map_err(serde::de::Error::custom)
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

mod hexopt {
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(
        v: &Option<Zeroizing<Vec<u8>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::hexvec::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            let t = Zeroizing::new(t);
            hex::decode(&*t)
                .map(Zeroizing::new)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

//! `tessera export`: **the vendor exit, offline.** Turns share backups into the open
//! `tessera-share-export/v1` documents of `docs/export-format.md`: for each party, its Shamir
//! share of the wallet key, its evaluation point and every party's verification share, so that
//! another threshold implementation (or, with `t` of them, any tool that interpolates) can
//! take the wallet over with the same key, chain code and addresses.
//!
//! Nothing is reconstructed: each document holds one party's share only, and each party can
//! export its own. The documents are secret (a share in plain) and are written with mode 0600;
//! `t` of them together are the whole key.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tessera_backup::{open_share, Backup, BackupIdentity, ShareTag};
use tessera_crypto::export::{export_share, ExportedShare};
use tessera_crypto::SchemeId;
use zeroize::Zeroizing;

/// The format's name, first field of every document.
pub const FORMAT: &str = "tessera-share-export/v1";

/// One export document (secret) and the file name it is written under.
pub struct Document {
    /// `export-<wallet>-epoch<E>-party<I>.json`.
    pub file_name: String,
    /// The JSON text.
    pub json: Zeroizing<String>,
}

/// A `tessera-share-export/v1` document, serialized field by field (no intermediate JSON
/// value keeps a copy of the secret).
#[derive(serde::Serialize)]
struct Doc<'a> {
    format: &'static str,
    warning: &'static str,
    wallet_id: &'a str,
    scheme: &'static str,
    curve: &'static str,
    threshold: u16,
    parties: u16,
    epoch: u32,
    group_public_key: String,
    chain_code: String,
    party_index: u16,
    x: u32,
    secret_share: &'a str,
    scalar_encoding: &'static str,
    verification_shares: Vec<String>,
}

/// The document of one exported share of wallet `tag`.
pub fn document(tag: &ShareTag, e: &ExportedShare) -> Result<Zeroizing<String>> {
    let (curve, scalar_encoding) = match e.scheme {
        SchemeId::Ed25519 => ("ed25519", "little-endian"),
        _ => ("secp256k1", "big-endian"),
    };
    let secret = Zeroizing::new(hex::encode(*e.secret));
    let doc = Doc {
        format: FORMAT,
        warning: "SECRET: one party's share of a wallet key. Any threshold of these documents together control the wallet.",
        wallet_id: &tag.wallet_id,
        scheme: e.scheme.name(),
        curve,
        threshold: e.threshold,
        parties: e.parties,
        epoch: tag.epoch,
        group_public_key: e.public_key.to_hex(),
        chain_code: hex::encode(e.chain_code),
        party_index: e.index,
        x: u32::from(e.index) + 1,
        secret_share: &secret,
        scalar_encoding,
        verification_shares: e.verification_shares.iter().map(hex::encode).collect(),
    };
    Ok(Zeroizing::new(serde_json::to_string_pretty(&doc)?))
}

/// Decrypts each backup (all of one wallet and epoch, distinct parties; any number), checks
/// it with its protocol crate and exports its share.
pub fn export(
    backups: &[(String, Backup)],
    identities: &[BackupIdentity],
) -> Result<Vec<Document>> {
    crate::recover::check_same(backups)?;
    let mut out = Vec::with_capacity(backups.len());
    for (name, b) in backups {
        let opened = open_share(b, identities).with_context(|| name.clone())?;
        let e = export_share(&opened.share).with_context(|| name.clone())?;
        if e.public_key != opened.tag.public_key || e.index != opened.tag.index {
            anyhow::bail!("{name}: the share does not match its backup header");
        }
        out.push(Document {
            file_name: format!(
                "export-{}-epoch{}-party{}.json",
                opened.tag.wallet_id, opened.tag.epoch, e.index
            ),
            json: document(&opened.tag, &e)?,
        });
    }
    Ok(out)
}

/// Writes each document into `dir` (created if missing; files 0600, never overwritten) and
/// returns their paths.
pub fn write(dir: &Path, docs: &[Document]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    docs.iter()
        .map(|d| {
            let path = dir.join(&d.file_name);
            crate::backup::write_private(&path, d.json.as_bytes())?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use tessera_crypto::PublicKey;

    const VECTORS: [&str; 6] = [
        include_str!("../../../docs/export-vectors/secp256k1-2of3-party0.json"),
        include_str!("../../../docs/export-vectors/secp256k1-2of3-party1.json"),
        include_str!("../../../docs/export-vectors/secp256k1-2of3-party2.json"),
        include_str!("../../../docs/export-vectors/ed25519-2of3-party0.json"),
        include_str!("../../../docs/export-vectors/ed25519-2of3-party1.json"),
        include_str!("../../../docs/export-vectors/ed25519-2of3-party2.json"),
    ];

    fn arr32(v: &Value) -> [u8; 32] {
        hex::decode(v.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    }

    /// The documents Tessera writes are exactly the documented vectors (made by
    /// `docs/export-vectors/generate.py`, an implementation independent of this one), field for
    /// field, when given the vectors' shares.
    #[test]
    fn documents_match_the_published_vectors() {
        for text in VECTORS {
            let v: Value = serde_json::from_str(text).unwrap();
            let scheme = SchemeId::from_name(v["scheme"].as_str().unwrap()).unwrap();
            let key = hex::decode(v["group_public_key"].as_str().unwrap()).unwrap();
            let public_key = match scheme {
                SchemeId::Ed25519 => PublicKey::Ed25519(key.try_into().unwrap()),
                _ => PublicKey::Secp256k1(key.try_into().unwrap()),
            };
            let index = v["party_index"].as_u64().unwrap() as u16;
            let e = ExportedShare {
                scheme,
                threshold: 2,
                parties: 3,
                index,
                secret: Zeroizing::new(arr32(&v["secret_share"])),
                verification_shares: v["verification_shares"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
                    .collect(),
                public_key: public_key.clone(),
                chain_code: arr32(&v["chain_code"]),
            };
            let tag = ShareTag {
                wallet_id: v["wallet_id"].as_str().unwrap().into(),
                scheme,
                threshold: 2,
                n: 3,
                index,
                epoch: 0,
                public_key,
                chain_code: e.chain_code,
            };
            let ours: Value = serde_json::from_str(&document(&tag, &e).unwrap()).unwrap();
            assert_eq!(ours, v);
        }
    }

    /// The secp256k1 vectors checked with libsecp256k1: each share times G is its
    /// verification share.
    #[test]
    fn secp256k1_vector_shares_match_their_verification_shares() {
        let secp = secp256k1::Secp256k1::new();
        for text in &VECTORS[..3] {
            let v: Value = serde_json::from_str(text).unwrap();
            let sk = secp256k1::SecretKey::from_slice(&arr32(&v["secret_share"])).unwrap();
            let i = v["party_index"].as_u64().unwrap() as usize;
            assert_eq!(
                hex::encode(secp256k1::PublicKey::from_secret_key(&secp, &sk).serialize()),
                v["verification_shares"][i].as_str().unwrap()
            );
        }
    }
}

//! `tessera recover`: **disaster recovery, offline.** Rebuilds a wallet's whole private key
//! from at least `t` share backups of one wallet and one epoch, checks it against the group
//! public key and writes it in standard forms. This defeats the threshold: run it only on an
//! offline machine, in a disaster, and move the funds to a new wallet afterwards.
//!
//! Output (a JSON file written with mode 0600): wallet id, scheme, epoch, parties used, group
//! public key, chain code, and
//! - secp256k1 schemes: `xprv`, the BIP-32 extended private key (depth 0, the wallet's chain
//!   code), from which any BIP-32 wallet derives the same non-hardened child keys as Tessera;
//! - Ed25519: `ed25519_scalar` (32 bytes, little endian) — a FROST key is a scalar, not an RFC
//!   8032 seed, so no seed and no Solana keypair file (seed ‖ public key) can be produced; tools
//!   that sign from an expanded key (scalar ‖ nonce prefix) can use it with a random prefix.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;
use tessera_audit::EntryKind;
use tessera_backup::{open_share, Backup, BackupIdentity};
use tessera_crypto::recover::{reconstruct, RecoveredKey};
use tessera_crypto::SchemeId;

/// Why a set of backups cannot be combined (checked on the public headers, before anything
/// is decrypted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoverError {
    /// A backup that is not a share backup.
    #[error("{0} is not a share backup")]
    NotAShare(String),
    /// Backups of different wallets.
    #[error("the backups are of different wallets ({0} and {1})")]
    MixedWallets(String, String),
    /// Backups of different epochs of one wallet.
    #[error("the backups are of different epochs ({0} and {1}): shares of different epochs never combine")]
    MixedEpochs(u32, u32),
    /// Two backups of one party.
    #[error("two backups of party {0}")]
    DuplicateParty(u16),
    /// Fewer backups than the threshold.
    #[error("{have} backups, the wallet's threshold is {need}")]
    TooFew {
        /// Backups given.
        have: usize,
        /// Threshold.
        need: u16,
    },
}

/// Checks that `backups` are share backups of one wallet and epoch, of distinct parties, at
/// least the threshold.
pub fn check_set(backups: &[(String, Backup)]) -> Result<(), RecoverError> {
    let need = check_same(backups)?;
    if backups.len() < usize::from(need) || backups.is_empty() {
        return Err(RecoverError::TooFew {
            have: backups.len(),
            need,
        });
    }
    Ok(())
}

/// Checks that `backups` are share backups of one wallet and epoch, of distinct parties;
/// returns the wallet's threshold (1 for no backups).
pub fn check_same(backups: &[(String, Backup)]) -> Result<u16, RecoverError> {
    let mut first: Option<&tessera_backup::ShareTag> = None;
    let mut parties = Vec::new();
    for (name, b) in backups {
        let tag = b
            .header
            .share
            .as_ref()
            .ok_or_else(|| RecoverError::NotAShare(name.clone()))?;
        if let Some(f) = first {
            if f.wallet_id != tag.wallet_id || f.public_key != tag.public_key {
                return Err(RecoverError::MixedWallets(
                    f.wallet_id.clone(),
                    tag.wallet_id.clone(),
                ));
            }
            if f.epoch != tag.epoch {
                return Err(RecoverError::MixedEpochs(f.epoch, tag.epoch));
            }
        }
        first.get_or_insert(tag);
        if parties.contains(&tag.index) {
            return Err(RecoverError::DuplicateParty(tag.index));
        }
        parties.push(tag.index);
    }
    Ok(first.map_or(1, |f| f.threshold))
}

/// The recovered key and what it came from.
#[derive(Debug)]
pub struct Recovered {
    /// Wallet id.
    pub wallet_id: String,
    /// Epoch.
    pub epoch: u32,
    /// Parties whose shares were combined.
    pub parties: Vec<u16>,
    /// The key.
    pub key: RecoveredKey,
}

/// Decrypts, validates and combines the backups.
pub fn recover(backups: &[(String, Backup)], identities: &[BackupIdentity]) -> Result<Recovered> {
    check_set(backups)?;
    let mut shares = Vec::new();
    let mut parties = Vec::new();
    let mut tag = None;
    for (name, b) in backups {
        let opened = open_share(b, identities).with_context(|| name.clone())?;
        parties.push(opened.tag.index);
        tag = Some(opened.tag);
        shares.push(opened.share);
    }
    let tag = tag.context("no backups")?;
    let key = reconstruct(&shares).context("reconstruction")?;
    Ok(Recovered {
        wallet_id: tag.wallet_id,
        epoch: tag.epoch,
        parties,
        key,
    })
}

/// The BIP-32 extended private key (depth 0, the wallet's chain code) of a secp256k1 key.
pub fn xprv(key: &RecoveredKey, mainnet: bool) -> Result<zeroize::Zeroizing<String>> {
    let kind = if mainnet {
        bitcoin::NetworkKind::Main
    } else {
        bitcoin::NetworkKind::Test
    };
    let sk = bitcoin::secp256k1::SecretKey::from_slice(&*key.secret)
        .context("the key is not a secp256k1 scalar")?;
    let x = bitcoin::bip32::Xpriv {
        network: kind,
        depth: 0,
        parent_fingerprint: Default::default(),
        child_number: bitcoin::bip32::ChildNumber::from_normal_idx(0)?,
        private_key: sk,
        chain_code: bitcoin::bip32::ChainCode::from(key.chain_code),
    };
    Ok(zeroize::Zeroizing::new(x.to_string()))
}

/// The output file's JSON (secret).
pub fn output(r: &Recovered, mainnet: bool) -> Result<zeroize::Zeroizing<String>> {
    let mut v = json!({
        "warning": "WHOLE PRIVATE KEY: anyone with this file controls the wallet. Keep it offline, move the funds, destroy it.",
        "wallet_id": r.wallet_id,
        "scheme": r.key.scheme.name(),
        "epoch": r.epoch,
        "parties": r.parties,
        "public_key": r.key.public_key.to_hex(),
        "chain_code": hex::encode(r.key.chain_code),
    });
    if r.key.scheme == SchemeId::Ed25519 {
        v["ed25519_scalar"] = json!(hex::encode(*r.key.secret));
        v["note"] = json!("a FROST Ed25519 key is a scalar (little endian), not an RFC 8032 seed: no seed or Solana keypair file exists for it; child keys use Tessera's Edwards derivation (hd-wallet) with the chain code");
    } else {
        v["xprv"] = json!(xprv(&r.key, mainnet)?.as_str());
        v["secp256k1_secret"] = json!(hex::encode(*r.key.secret));
        if r.key.scheme == SchemeId::SchnorrBip340 {
            v["note"] = json!("the xprv is of the Taproot internal key; addresses use its BIP-341 tweak without a script tree (descriptor tr(xprv/...))");
        }
    }
    let text = zeroize::Zeroizing::new(serde_json::to_string_pretty(&v)?);
    if let Some(obj) = v.as_object_mut() {
        for field in ["ed25519_scalar", "xprv", "secp256k1_secret"] {
            obj.remove(field);
        }
    }
    Ok(text)
}

/// Appends a `key_recovered` entry (public facts only) to the audit log at `path`.
pub fn audit(path: &Path, r: &Recovered) -> Result<()> {
    let log = tessera_audit::AuditLog::open_or_create(path, "recover:offline")
        .with_context(|| format!("opening the audit log {}", path.display()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    log.append(
        "tessera-recover",
        EntryKind::Other("key_recovered".into()),
        &r.wallet_id,
        json!({
            "scheme": r.key.scheme.name(),
            "epoch": r.epoch,
            "parties": r.parties,
            "public_key": r.key.public_key.to_hex(),
        }),
        now,
    )?;
    Ok(())
}

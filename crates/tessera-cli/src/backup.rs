//! `tessera backup keygen|create|verify|restore`: encrypted, epoch-tagged backups of a signer's
//! shares and identity (format: `tessera_backup`), written and restored offline against the
//! signer's own directory (`vault.db`, `signer-audit.db`).
//!
//! The signer must be stopped while a backup is created or restored: its vault is locked by
//! the running daemon.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;
use tessera_audit::EntryKind;
use tessera_backup::{
    open_share, open_signer, seal, AuxRecord, Backup, BackupIdentity, Header, Kind, OpenedShare,
    RecipientKey, SharePayload, ShareTag, SignerPayload,
};
use tessera_crypto::KeyShare;
use tessera_node::signer::settings;
use tessera_vault::{KdfParams, Vault};
use tessera_wire::{IdentityKey, NodeId};

use crate::daemon::{signer_audit_path, vault_path, UnlockSpec};

/// The vault settings a signer backup carries.
const SETTINGS: [&str; 3] = [settings::NAME, settings::OPERATORS, settings::POLICY_ADMINS];

/// Writes a file that must not exist, mode 0600, so that a kill at any moment leaves either
/// the whole file or none at `path`: the bytes go to `.<name>.partial-<pid>` beside it, are
/// synced, and only then renamed into place (the directory synced after). A kill before the
/// rename leaves only the partial file, which nothing reads.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.exists() {
        bail!("{} exists; it must not", path.display());
    }
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let partial = path.with_file_name(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts.open(&partial).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let placed = written.and_then(|()| {
        if path.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the file appeared meanwhile",
            ));
        }
        std::fs::rename(&partial, path)
    });
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&partial);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Best effort: the rename is durable once the directory is.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// `tessera backup keygen`: a new backup identity in `out` (secret, 0600); returns its
/// recipient key.
pub fn keygen(out: &Path) -> Result<RecipientKey> {
    let id = BackupIdentity::generate();
    write_private(out, id.to_text().as_bytes())?;
    Ok(id.recipient())
}

/// Reads backup identity files.
pub fn read_identities(paths: &[PathBuf]) -> Result<Vec<BackupIdentity>> {
    if paths.is_empty() {
        bail!("give at least one --identity file");
    }
    paths
        .iter()
        .map(|p| {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            );
            BackupIdentity::from_text(&text).with_context(|| p.display().to_string())
        })
        .collect()
}

/// Reads a backup file.
pub fn read_backup(path: &Path) -> Result<Backup> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Backup::from_json(&text).with_context(|| path.display().to_string())
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One file `tessera backup create` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// Where.
    pub path: PathBuf,
    /// Its header.
    pub header: Header,
}

/// `tessera backup create`: one signer backup (identity, settings, aux info) and one share
/// backup per wallet (or only `wallet`), each encrypted to every recipient, in `out_dir`.
pub fn create(
    dir: &Path,
    unlock: &UnlockSpec,
    recipients: &[RecipientKey],
    wallet: Option<&str>,
    out_dir: &Path,
) -> Result<Vec<Written>> {
    let vault = Vault::open(&vault_path(dir), &unlock.unlock()?).with_context(|| {
        format!(
            "opening the vault in {} (is the signer stopped?)",
            dir.display()
        )
    })?;
    let identity = vault.identity()?.context("the vault holds no identity")?;
    let node = IdentityKey::from_bytes(&identity)?.public().node_id();
    std::fs::create_dir_all(out_dir)?;
    let created_at = now_unix();
    let mut written = Vec::new();

    let mut settings = Vec::new();
    for key in SETTINGS {
        if let Some(v) = vault.setting(key)? {
            settings.push((key.to_string(), v));
        }
    }
    let mut aux = Vec::new();
    for group in vault.aux_groups()? {
        let bytes = vault.aux(&group)?.context("aux info vanished")?;
        aux.push(AuxRecord { group, aux: bytes });
    }
    let payload = SignerPayload {
        identity,
        settings,
        aux,
    };
    let header = Header {
        kind: Kind::Signer,
        node_id: node,
        created_at,
        share: None,
    };
    let path = out_dir.join(format!("signer-{}.backup.json", &node.to_string()[..16]));
    let b = seal(header.clone(), &payload.to_json(), recipients)?;
    write_private(&path, b.to_json().as_bytes())?;
    written.push(Written { path, header });

    let records = vault.wallets()?;
    if let Some(w) = wallet {
        if !records.iter().any(|r| r.wallet_id == w) {
            bail!("this signer holds no share of wallet {w:?}");
        }
    }
    for record in records
        .iter()
        .filter(|r| wallet.is_none_or(|w| w == r.wallet_id))
    {
        let stored = vault
            .share(&record.wallet_id)?
            .context("the committed share vanished")?;
        let share = KeyShare::from_bytes(&stored.share)
            .with_context(|| format!("the share of wallet {:?} is invalid", record.wallet_id))?;
        let tag = ShareTag {
            wallet_id: record.wallet_id.clone(),
            scheme: share.scheme(),
            threshold: share.params().t,
            n: share.params().n,
            index: share.index(),
            epoch: stored.epoch,
            public_key: share.public_key().clone(),
            chain_code: share.chain_code(),
        };
        let header = Header {
            kind: Kind::Share,
            node_id: node,
            created_at,
            share: Some(tag),
        };
        let payload = SharePayload {
            share: stored.share,
            public_info: stored.public_info,
            aux: None,
        };
        let b = seal(header.clone(), &payload.to_json(), recipients)?;
        let path = out_dir.join(format!(
            "share-{}-epoch{}-party{}.backup.json",
            sanitize(&record.wallet_id),
            stored.epoch,
            share.index()
        ));
        write_private(&path, b.to_json().as_bytes())?;
        written.push(Written { path, header });
    }
    Ok(written)
}

/// A wallet id as a file-name part.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What `tessera backup verify` found in one file.
#[derive(Debug)]
pub enum Verified {
    /// A valid share backup.
    Share(Box<OpenedShare>),
    /// A valid signer backup of this node, with this many settings and aux records.
    Signer {
        /// Node id.
        node_id: NodeId,
        /// Setting names.
        settings: Vec<String>,
        /// Signer groups with aux info.
        aux_groups: usize,
    },
}

/// `tessera backup verify`: decrypts and checks one backup (nothing reconstructed).
pub fn verify(b: &Backup, identities: &[BackupIdentity]) -> Result<Verified> {
    Ok(match b.header.kind {
        Kind::Share => Verified::Share(Box::new(open_share(b, identities)?)),
        Kind::Signer => {
            let p = open_signer(b, identities)?;
            Verified::Signer {
                node_id: b.header.node_id,
                settings: p.settings.iter().map(|(k, _)| k.clone()).collect(),
                aux_groups: p.aux.len(),
            }
        }
    })
}

/// One line describing a verified backup (public facts only).
pub fn describe(v: &Verified) -> String {
    match v {
        Verified::Share(s) => format!(
            "share backup OK: wallet {} ({}, {}-of-{}), party {}, epoch {}, node {}, group key {}",
            s.tag.wallet_id,
            s.tag.scheme,
            s.tag.threshold,
            s.tag.n,
            s.tag.index,
            s.tag.epoch,
            s.node_id,
            s.tag.public_key.to_hex()
        ),
        Verified::Signer {
            node_id,
            settings,
            aux_groups,
        } => format!(
            "signer backup OK: node {node_id}, settings {}, aux info for {aux_groups} group(s)",
            settings.join(", ")
        ),
    }
}

/// `tessera backup restore`: a fresh signer directory from a signer backup and share backups
/// of that signer. Refuses a directory that already holds a vault, and share backups of
/// another node or two of one wallet.
pub fn restore(
    dir: &Path,
    unlock: &UnlockSpec,
    identities: &[BackupIdentity],
    signer_backup: &Backup,
    shares: &[Backup],
    kdf: KdfParams,
) -> Result<Vec<ShareTag>> {
    let signer = open_signer(signer_backup, identities).context("the signer backup")?;
    let node = signer_backup.header.node_id;
    let mut opened = Vec::new();
    for b in shares {
        let s = open_share(b, identities)
            .with_context(|| format!("the share backup of node {}", b.header.node_id))?;
        if s.node_id != node {
            bail!(
                "a share backup of wallet {} was written by node {}, not by the restored node {node}",
                s.tag.wallet_id,
                s.node_id
            );
        }
        if opened
            .iter()
            .any(|o: &OpenedShare| o.tag.wallet_id == s.tag.wallet_id)
        {
            bail!("two share backups of wallet {}", s.tag.wallet_id);
        }
        opened.push(s);
    }
    if vault_path(dir).exists() {
        bail!(
            "{} already holds a vault; restore into a fresh directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut vault = Vault::create(&vault_path(dir), &unlock.unlock()?, kdf)
        .with_context(|| format!("creating the vault in {}", dir.display()))?;
    vault.put_identity(&signer.identity)?;
    for (k, v) in &signer.settings {
        vault.put_setting(k, v)?;
    }
    for a in &signer.aux {
        vault.put_aux(&a.group, &a.aux)?;
    }
    for s in &opened {
        vault.put_share(
            &s.tag.wallet_id,
            s.tag.epoch,
            &s.payload.share,
            &s.payload.public_info,
        )?;
    }
    drop(vault);
    let tags: Vec<ShareTag> = opened.into_iter().map(|s| s.tag).collect();
    audit_restore(dir, node, signer_backup.header.created_at, &tags)?;
    Ok(tags)
}

/// Appends a `signer_restored` entry to the restored signer's own audit log.
fn audit_restore(dir: &Path, node: NodeId, backup_time: u64, tags: &[ShareTag]) -> Result<()> {
    let path = signer_audit_path(dir);
    let log = tessera_audit::AuditLog::open_or_create(&path, &tessera_node::audit_chain_id(&node))
        .with_context(|| format!("opening the audit log {}", path.display()))?;
    let wallets: Vec<_> = tags
        .iter()
        .map(|t| json!({ "wallet": t.wallet_id, "epoch": t.epoch, "index": t.index }))
        .collect();
    log.append(
        &node.to_string(),
        EntryKind::Other("signer_restored".into()),
        &node.to_string(),
        json!({ "signer_backup_created_at": backup_time, "wallets": wallets }),
        now_unix().saturating_mul(1000),
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod write_tests {
    use super::write_private;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("tessera-write-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(d: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_private_file_appears_whole_with_mode_0600_and_nothing_beside_it() {
        let d = dir("whole");
        let path = d.join("backup.json");
        write_private(&path, b"contents").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"contents");
        assert_eq!(names(&d), vec!["backup.json"], "no partial file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn an_existing_file_is_never_replaced_and_no_partial_file_stays() {
        let d = dir("exists");
        let path = d.join("backup.json");
        std::fs::write(&path, b"old").unwrap();
        let err = write_private(&path, b"new").unwrap_err();
        assert!(err.to_string().contains("must not"), "{err:#}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(&d), vec!["backup.json"]);
        let missing = d.join("no-such-dir").join("f");
        assert!(write_private(&missing, b"x").is_err());
        std::fs::remove_dir_all(&d).ok();
    }
}

//! `tessera import`: an existing single-signature key becomes a threshold wallet with the same
//! key, so every address stays the same.
//!
//! The whole key is in this process, necessarily: it is read from a file (or standard input),
//! parsed ([`crate::import_key`]), dealt to the holders with each share sealed to its holder
//! (`tessera_client::Client::import_wallet`), and every copy is zeroized as soon as the
//! dealing is made. Run it where the key already is, ideally an offline-prepared machine that
//! reaches only the coordinator; afterwards the key exists only as shares. The holders audit
//! the new wallet (`wallet_created` with `"imported": true`), and the coordinator audits the
//! policy decision on `import_wallet`.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tessera_client::{prepare_import, KeyOperation, NewImport, AUTHORIZATION_TTL_SECS};
use tessera_crypto::{PublicKey, SchemeId};
use tessera_proto::api::{WalletInfo, WalletStatus};
use tessera_proto::attestation::Vouched;
use tessera_proto::roles::Role;
use tessera_wire::NodeId;
use zeroize::Zeroizing;

use crate::cluster::ClusterFile;
use crate::import_key::{parse_key, ImportedKey, KeyCurve, KeyFormat};

/// What to import and into which wallet.
#[derive(Debug, Clone)]
pub struct ImportSpec {
    /// Wallet id.
    pub wallet_id: String,
    /// Scheme; its curve must be the key's.
    pub scheme: SchemeId,
    /// Threshold.
    pub threshold: u16,
    /// Holders, in party-index order.
    pub signers: Vec<NodeId>,
    /// Networks the wallet may sign on.
    pub networks: Vec<String>,
}

/// How the key is given.
#[derive(Debug, Clone)]
pub struct KeySource<'a> {
    /// The key file, or `-` for standard input.
    pub file: &'a Path,
    /// Its format.
    pub format: KeyFormat,
    /// A file holding the BIP-39 passphrase (mnemonics only).
    pub passphrase_file: Option<&'a Path>,
    /// Derivation path (xprv and mnemonics).
    pub path: Option<&'a str>,
}

/// The curve a scheme's keys live on.
pub fn curve_of(scheme: SchemeId) -> KeyCurve {
    match scheme {
        SchemeId::Ed25519 => KeyCurve::Ed25519,
        _ => KeyCurve::Secp256k1,
    }
}

/// Reads and parses the key for `scheme`. The text is zeroized when this returns.
pub fn read_key(scheme: SchemeId, source: &KeySource<'_>) -> Result<ImportedKey> {
    let text = read_secret(source.file)?;
    let passphrase = source.passphrase_file.map(read_secret).transpose()?;
    let passphrase = passphrase
        .as_ref()
        .map(|p| p.trim_end_matches(['\r', '\n']));
    Ok(parse_key(
        curve_of(scheme),
        source.format,
        &text,
        passphrase,
        source.path,
    )?)
}

fn read_secret(path: &Path) -> Result<Zeroizing<String>> {
    let mut text = Zeroizing::new(String::new());
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the key from standard input")?;
    } else {
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(text)
}

/// The key's public key in the API's form.
pub fn public_key_of(key: &ImportedKey) -> Result<PublicKey> {
    Ok(match key.curve {
        KeyCurve::Secp256k1 => PublicKey::Secp256k1(
            key.public_key
                .as_slice()
                .try_into()
                .context("secp256k1 public key length")?,
        ),
        KeyCurve::Ed25519 => PublicKey::Ed25519(
            key.public_key
                .as_slice()
                .try_into()
                .context("Ed25519 public key length")?,
        ),
    })
}

/// Deals `key` as wallet `spec` into a signed, unsent request valid for `ttl_secs` (the
/// holders' signed identities fetched from the coordinator and checked); returns the key the
/// wallet will have and the request. `key` is dropped (and zeroized) once dealt.
pub async fn prepare(
    f: &ClusterFile,
    spec: &ImportSpec,
    key: ImportedKey,
    ttl_secs: u64,
) -> Result<(PublicKey, KeyOperation)> {
    if key.curve != curve_of(spec.scheme) {
        bail!(
            "a {} key cannot become a {} wallet",
            key.curve,
            spec.scheme.name()
        );
    }
    let expected = public_key_of(&key)?;
    let listed = f.client_as(Role::Viewer)?.signers().await?;
    let holders = tessera_client::signed_identities(&listed, &spec.signers)?;
    let networks: Vec<&str> = spec.networks.iter().map(String::as_str).collect();
    let new = NewImport {
        wallet_id: &spec.wallet_id,
        name: &spec.wallet_id,
        scheme: spec.scheme,
        threshold: spec.threshold,
        signers: holders,
        networks: &networks,
        chain_code: key.chain_code,
    };
    let (dealt, op) = prepare_import(&f.operator()?, new, &key.secret, ttl_secs)?;
    drop(key);
    if dealt != expected {
        bail!("the dealing shares another key than the one read (a bug)");
    }
    Ok((expected, op))
}

/// Imports `key` as wallet `spec` and waits until it is ready and vouched for; refuses a
/// wallet whose key is not the imported one. `key` is dropped (and zeroized) once dealt.
pub async fn run(
    f: &ClusterFile,
    spec: ImportSpec,
    key: ImportedKey,
) -> Result<(WalletInfo, Vouched)> {
    let (expected, op) = prepare(f, &spec, key, AUTHORIZATION_TTL_SECS).await?;
    let client = f.client_as(Role::Requester)?;
    client.submit_key_operation(&op).await?;
    loop {
        let w = client.wallet(&spec.wallet_id).await?;
        match w.status {
            WalletStatus::Creating => tokio::time::sleep(Duration::from_millis(50)).await,
            WalletStatus::Failed | WalletStatus::Retired => {
                bail!("the import failed: {}", w.error.unwrap_or_default())
            }
            WalletStatus::Ready => break,
        }
    }
    let (w, vouched) = client.vouched_wallet(&spec.wallet_id).await?;
    if w.public_key.as_ref() != Some(&expected) {
        bail!("wallet {} does not have the imported key", spec.wallet_id);
    }
    Ok((w, vouched))
}

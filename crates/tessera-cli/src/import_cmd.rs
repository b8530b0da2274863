//! `tessera import` (the library side is `tessera_cli::import`).

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::Args;
use tessera_cli::cluster::ClusterFile;
use tessera_cli::import::{read_key, run, ImportSpec, KeySource};
use tessera_cli::import_key::KeyFormat;
use tessera_crypto::SchemeId;

use crate::ClusterArg;

#[derive(Args)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    cluster: ClusterArg,
    /// Scheme of the new wallet (see `tessera schemes`); its curve must be the key's.
    #[arg(long)]
    scheme: String,
    /// Threshold t.
    #[arg(long, default_value_t = 2)]
    threshold: u16,
    /// Wallet id.
    #[arg(long)]
    id: String,
    /// Signer names to hold shares (default: all).
    #[arg(long = "signer")]
    signers: Vec<String>,
    /// A network the wallet may sign chain payloads on, `chain:network` (repeat for several).
    #[arg(long = "network", required = true)]
    networks: Vec<String>,
    /// File holding the key, or `-` for standard input (never the command line, which other
    /// users of the machine can read).
    #[arg(long)]
    key_file: PathBuf,
    /// How the key is written.
    #[arg(long, value_enum)]
    format: KeyFormat,
    /// File holding the BIP-39 passphrase (mnemonics only).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// Derivation path to import (xprv and mnemonics; hardened steps allowed, done here):
    /// for example m/84'/0'/0' for a BIP-84 account.
    #[arg(long)]
    path: Option<String>,
    /// Write the signed request (shares sealed to their holders) to this file for approvers
    /// (`tessera key-op approve`) instead of sending it (`tessera key-op submit` sends it).
    #[arg(long)]
    prepare: Option<PathBuf>,
}

pub(crate) async fn import_cmd(a: ImportArgs) -> Result<()> {
    let f = ClusterFile::load(&a.cluster.cluster)?;
    let scheme = SchemeId::from_name(&a.scheme)
        .ok_or_else(|| anyhow!("unknown scheme {:?}; see `tessera schemes`", a.scheme))?;
    let source = KeySource {
        file: &a.key_file,
        format: a.format,
        passphrase_file: a.passphrase_file.as_deref(),
        path: a.path.as_deref(),
    };
    let key = read_key(scheme, &source)?;
    let chain_code_source = key.chain_code_source;
    let spec = ImportSpec {
        wallet_id: a.id,
        scheme,
        threshold: a.threshold,
        signers: f.signer_ids(&a.signers)?,
        networks: a.networks,
    };
    if let Some(path) = &a.prepare {
        let ttl = tessera_client::PREPARED_TTL_SECS;
        let (_, op) = tessera_cli::import::prepare(&f, &spec, key, ttl).await?;
        tessera_cli::keyop::save_new(path, &op)?;
        eprintln!(
            "{}\nprepared in {} (the key is dealt; delete the key file)",
            op.describe(),
            path.display()
        );
        return Ok(());
    }
    let started = std::time::Instant::now();
    let (w, vouched) = run(&f, spec, key).await?;
    println!("{}", serde_json::to_string_pretty(&w)?);
    eprintln!("{}", f.vouch_line(&vouched));
    eprintln!(
        "imported in {:.1} s: the wallet has the imported key (chain code: {chain_code_source}); \
         delete or lock away the key file now",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

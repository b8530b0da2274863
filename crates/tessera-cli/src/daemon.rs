//! `tessera signer init|run` and `tessera coordinator run`: thin wrappers over the node and
//! coordinator libraries.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use tessera_coordinator::server::Limits;
use tessera_coordinator::{ApiTokens, Config, Coordinator, OsEntropy, SqliteStore};
use tessera_node::{CoordinatorTarget, PrimeSource, Signer, SignerOptions, ThreadSpawner};
use tessera_proto::roles::Role;
use tessera_proto::SystemClock;
use tessera_vault::{KdfParams, Unlock, Vault};
use tessera_wire::{IdentityKey, OperatorPublic, SignedIdentity};

/// How to unlock a signer vault.
#[derive(Debug, Clone)]
pub enum UnlockSpec {
    /// Passphrase from this environment variable.
    PassphraseEnv(String),
    /// 32-byte key file.
    KeyFile(PathBuf),
}

impl UnlockSpec {
    /// The vault unlock it names (reads the environment variable).
    pub fn unlock(&self) -> Result<Unlock> {
        Ok(match self {
            UnlockSpec::PassphraseEnv(var) => {
                let p = std::env::var(var).with_context(|| {
                    format!("environment variable {var} (vault passphrase) is not set")
                })?;
                if p.is_empty() {
                    bail!("the vault passphrase in {var} is empty");
                }
                Unlock::passphrase(p)
            }
            UnlockSpec::KeyFile(p) => Unlock::KeyFile(p.clone()),
        })
    }
}

/// Vault file of a signer directory.
pub fn vault_path(dir: &Path) -> PathBuf {
    dir.join("vault.db")
}

/// The signer's own audit log in its data directory (next to the vault).
pub fn signer_audit_path(dir: &Path) -> PathBuf {
    dir.join(tessera_node::AUDIT_FILE)
}

/// Creates a signer's vault and identity; returns its public identity. `operators` are the
/// trusted requester keys; `policy_admins` the admin set whose quorum must sign the first
/// policy bundle the signer accepts (stored as the vault setting `policy_admins`).
pub fn init_signer(
    dir: &Path,
    unlock: &UnlockSpec,
    operators: &[OperatorPublic],
    policy_admins: &tessera_policy::AdminSet,
    name: &str,
    kdf: KdfParams,
) -> Result<SignedIdentity> {
    if operators.is_empty() {
        bail!("give at least one trusted operator key (--operator HEX)");
    }
    // Re-checked so a hand-built set cannot slip through (quorum within 1..=keys).
    tessera_policy::AdminSet::new(policy_admins.keys.iter().copied(), policy_admins.quorum)
        .context("policy admin set")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut vault = Vault::create(&vault_path(dir), &unlock.unlock()?, kdf)
        .with_context(|| format!("creating the vault in {}", dir.display()))?;
    let identity = IdentityKey::generate(&mut rand_core::OsRng);
    vault.put_identity(&identity.to_bytes())?;
    vault.put_setting(
        tessera_node::signer::settings::OPERATORS,
        &tessera_node::signer::operators_setting(operators),
    )?;
    vault.put_setting(
        tessera_node::signer::settings::POLICY_ADMINS,
        &tessera_node::signer::policy_admins_setting(policy_admins),
    )?;
    vault.put_setting(tessera_node::signer::settings::NAME, name)?;
    Ok(identity.signed_identity())
}

/// Prints the public identity of an existing signer.
pub fn signer_identity(dir: &Path, unlock: &UnlockSpec) -> Result<SignedIdentity> {
    let vault = Vault::open(&vault_path(dir), &unlock.unlock()?)
        .with_context(|| format!("opening the vault in {}", dir.display()))?;
    let id = vault.identity()?.context("the vault holds no identity")?;
    Ok(IdentityKey::from_bytes(&id)?.signed_identity())
}

/// Resolves when the process should stop: Ctrl-C, SIGTERM, or (with `watch_stdin`) end of
/// standard input — how a parent such as `tessera up` makes sure no child outlives it.
pub async fn shutdown_signal(watch_stdin: bool) {
    use tokio::io::AsyncReadExt;
    let stdin = async {
        if watch_stdin {
            let mut buf = [0u8; 64];
            let mut stdin = tokio::io::stdin();
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
        } else {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = stdin => {}
    }
}

/// Runs a signer until shutdown.
pub fn run_signer(
    dir: &Path,
    unlock: &UnlockSpec,
    coordinators: Vec<String>,
    ca: &Path,
    options: SignerOptions,
    watch_stdin: bool,
) -> Result<()> {
    if coordinators.is_empty() {
        bail!("give at least one --coordinator URL");
    }
    let ca_pem =
        std::fs::read_to_string(ca).with_context(|| format!("reading {}", ca.display()))?;
    // Wrong passphrase → error and exit, before anything else starts.
    let vault = Vault::open(&vault_path(dir), &unlock.unlock()?)
        .with_context(|| format!("opening the vault in {}", dir.display()))?;
    let identity = vault
        .identity()?
        .context("the vault holds no identity; run `tessera signer init` first")?;
    let node = IdentityKey::from_bytes(&identity)?.public().node_id();
    drop(identity);
    let audit_path = signer_audit_path(dir);
    let audit =
        tessera_audit::AuditLog::open_or_create(&audit_path, &tessera_node::audit_chain_id(&node))
            .with_context(|| format!("opening the audit log {}", audit_path.display()))?;
    let signer = Signer::new(
        vault,
        Arc::new(audit),
        Arc::new(SystemClock),
        PrimeSource::from_env(),
        Arc::new(ThreadSpawner),
        options,
    )?;
    tracing::info!(node = %signer.node_id(), "signer started");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // Shares of older epochs go once their grace period is over.
        let sweeper = signer.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every.tick().await;
                let s = sweeper.clone();
                let _ = tokio::task::spawn_blocking(move || s.sweep_old_shares()).await;
            }
        });
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut links = Vec::new();
        for url in coordinators {
            let target = CoordinatorTarget {
                url,
                ca_pem: ca_pem.clone(),
            };
            links.push(tokio::spawn(tessera_node::link::run(
                signer.clone(),
                target,
                rx.clone(),
            )));
        }
        shutdown_signal(watch_stdin).await;
        tracing::info!("signer shutting down");
        let _ = tx.send(true);
        for l in links {
            let _ = l.await;
        }
    });
    Ok(())
}

/// A `--token-file` argument: `ROLE=PATH` (the token of one role) or `PATH` (one token for
/// every role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFile {
    /// The role, or `None` for every role.
    pub role: Option<Role>,
    /// File holding the token (surrounding whitespace is ignored).
    pub path: PathBuf,
}

impl std::str::FromStr for TokenFile {
    type Err = String;

    fn from_str(s: &str) -> Result<TokenFile, String> {
        match s.split_once('=') {
            // A bare word before `=` is meant as a role name: a typo is an error, not a path.
            Some((role, path)) if !role.contains(['/', '.']) => Ok(TokenFile {
                role: Some(
                    role.parse()
                        .map_err(|e: tessera_proto::roles::UnknownRole| e.to_string())?,
                ),
                path: PathBuf::from(path),
            }),
            _ => Ok(TokenFile {
                role: None,
                path: PathBuf::from(s),
            }),
        }
    }
}

/// Reads the token files into hashed API tokens (the plaintext is wiped once hashed).
fn read_tokens(files: &[TokenFile]) -> Result<ApiTokens> {
    if files.is_empty() {
        bail!("no --token-file given: nobody could call the API");
    }
    let mut tokens = ApiTokens::new();
    for f in files {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(&f.path)
                .with_context(|| format!("reading {}", f.path.display()))?,
        );
        let roles = match f.role {
            Some(r) => vec![r],
            None => Role::ALL.to_vec(),
        };
        for role in roles {
            tokens
                .add(role, text.trim())
                .with_context(|| format!("token file {}", f.path.display()))?;
        }
    }
    Ok(tokens)
}

/// Coordinator daemon settings.
#[derive(Debug, Clone)]
pub struct CoordinatorArgs {
    /// Data directory (store).
    pub dir: PathBuf,
    /// Listen address.
    pub listen: String,
    /// URL signers dial.
    pub public_url: String,
    /// TLS certificate chain (PEM).
    pub tls_cert: PathBuf,
    /// TLS key (PEM).
    pub tls_key: PathBuf,
    /// API token files: per role, or one for every role.
    pub token_files: Vec<TokenFile>,
    /// Spare signers per wallet below which degraded mode is recommended.
    pub degraded_margin: u16,
    /// How long a change of signer health must hold before the recommendation follows.
    pub health_grace: std::time::Duration,
    /// Exit when stdin closes.
    pub watch_stdin: bool,
}

/// Runs the coordinator until shutdown.
pub fn run_coordinator(a: CoordinatorArgs) -> Result<()> {
    std::fs::create_dir_all(&a.dir)?;
    let tokens = read_tokens(&a.token_files)?;
    tracing::info!(roles = ?tokens.roles(), "API roles with a token");
    let cert = std::fs::read_to_string(&a.tls_cert)?;
    let key = std::fs::read_to_string(&a.tls_key)?;
    let tls = tessera_tls::server_config(&cert, &key)?;
    let store = SqliteStore::open(&a.dir.join("coordinator.db"))?;
    // The audit log's chain id names this coordinator by its public URL.
    let audit = tessera_coordinator::open_audit_log(&a.dir, &a.public_url)
        .with_context(|| format!("opening the audit log in {}", a.dir.display()))?;
    let mut config = Config::new(a.public_url.clone(), tokens);
    config.degraded_margin = a.degraded_margin;
    config.health_grace = a.health_grace;
    let coordinator = Coordinator::new(
        config,
        Arc::new(store),
        Arc::new(audit),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("listening on {}", a.listen))?;
        coordinator.resume()?;
        tracing::info!(listen = %a.listen, url = %a.public_url, "coordinator started");
        let limits = Limits::from(coordinator.config());
        let app = tessera_coordinator::api::router(coordinator);
        let shutdown = shutdown_signal(a.watch_stdin);
        tessera_coordinator::server::serve_tls(listener, tls, app, limits, shutdown).await;
        tracing::info!("coordinator shutting down");
        anyhow::Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_arguments() {
        let parse = |s: &str| s.parse::<TokenFile>();
        assert_eq!(
            parse("viewer=/etc/tessera/viewer.token"),
            Ok(TokenFile {
                role: Some(Role::Viewer),
                path: PathBuf::from("/etc/tessera/viewer.token"),
            })
        );
        assert_eq!(
            parse("./token"),
            Ok(TokenFile {
                role: None,
                path: PathBuf::from("./token"),
            })
        );
        assert_eq!(
            parse("/dir/a=b").map(|t| t.role),
            Ok(None),
            "a path holding '='"
        );
        assert!(parse("veiwer=/x").is_err(), "a misspelt role is an error");
    }

    #[test]
    fn token_files_are_hashed_per_role_or_for_all() {
        let dir = std::env::temp_dir().join(format!("tessera-tokens-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (one, all) = (dir.join("one"), dir.join("all"));
        std::fs::write(&one, "viewer-token-0123456789\n").expect("write");
        std::fs::write(&all, "every-role-token-0123456789").expect("write");
        let tokens = read_tokens(&[
            TokenFile {
                role: Some(Role::Viewer),
                path: one.clone(),
            },
            TokenFile {
                role: None,
                path: all,
            },
        ])
        .expect("tokens");
        assert_eq!(tokens.roles_of(b"viewer-token-0123456789"), [Role::Viewer]);
        assert_eq!(tokens.roles_of(b"every-role-token-0123456789"), Role::ALL);
        std::fs::write(&one, "short").expect("write");
        let err = read_tokens(&[TokenFile {
            role: Some(Role::Admin),
            path: one,
        }])
        .unwrap_err();
        assert!(!format!("{err:#}").contains("short"), "{err:#}");
        assert!(read_tokens(&[]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

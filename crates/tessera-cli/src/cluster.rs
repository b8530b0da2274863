//! A local cluster: one coordinator and `n` signer processes on loopback, TLS with a generated
//! CA, all data under one directory. Used by `tessera up`, `tessera demo`, `tessera bench sign`
//! and the multi-process tests.
//!
//! Children get a pipe as standard input and exit when it closes, so no process outlives the
//! parent even if the parent is killed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tessera_client::Client;
use tessera_proto::roles::Role;
use tessera_vault::KdfParams;
use tessera_wire::{NodeId, OperatorKey, SignedIdentity};

use crate::daemon::{init_signer, UnlockSpec};

/// What `tessera up` writes to `<dir>/cluster.json` for the other commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterFile {
    /// Coordinator URL.
    pub url: String,
    /// Directory of the API tokens: one file per role, named after it (`tokens/viewer`, …).
    pub tokens_dir: PathBuf,
    /// CA certificate (PEM) file.
    pub ca_file: PathBuf,
    /// Operator key file (the requester key: role `operator` of the local-dev policy).
    pub operator_key_file: PathBuf,
    /// Policy admin key file (signs policy bundles and mode changes; quorum 1).
    pub admin_key_file: PathBuf,
    /// Approver key file (role `approver` of the local-dev policy).
    pub approver_key_file: PathBuf,
    /// Signers.
    pub signers: Vec<ClusterSigner>,
}

/// A signer of a local cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterSigner {
    /// Name.
    pub name: String,
    /// Node id.
    pub node_id: NodeId,
    /// Data directory.
    pub dir: PathBuf,
}

impl ClusterFile {
    /// Reads `<dir>/cluster.json`.
    pub fn load(dir: &Path) -> Result<ClusterFile> {
        let p = dir.join("cluster.json");
        let s = std::fs::read_to_string(&p).with_context(|| {
            format!(
                "reading {} (start a cluster with `tessera up --dir {}`)",
                p.display(),
                dir.display()
            )
        })?;
        Ok(serde_json::from_str(&s)?)
    }

    /// The token file of `role`.
    pub fn token_file(&self, role: Role) -> PathBuf {
        self.tokens_dir.join(role.name())
    }

    /// The token of `role`.
    pub fn token(&self, role: Role) -> Result<String> {
        let path = self.token_file(role);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the {role} token {}", path.display()))?;
        Ok(text.trim().to_string())
    }

    /// An API client holding the token of `role` only (what a command acting as that role
    /// uses).
    pub fn client_as(&self, role: Role) -> Result<Client> {
        let ca = std::fs::read_to_string(&self.ca_file)?;
        Ok(
            Client::with_role_tokens(&self.url, &ca, [(role, self.token(role)?)])?
                .with_trusted_signers(self.trusted()),
        )
    }

    /// An API client holding every role's token, picking per call the one the route allows
    /// (the local cluster's operator is all roles at once: the demo, benchmarks and tests).
    pub fn client(&self) -> Result<Client> {
        let ca = std::fs::read_to_string(&self.ca_file)?;
        let tokens = Role::ALL
            .into_iter()
            .map(|r| Ok((r, self.token(r)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Client::with_role_tokens(&self.url, &ca, tokens)?.with_trusted_signers(self.trusted()))
    }

    /// The cluster file's signer ids, written when this operator created the signers'
    /// identities: the trust root for wallet attestations, not the coordinator.
    pub fn trusted(&self) -> Vec<tessera_wire::NodeId> {
        self.signers.iter().map(|s| s.node_id).collect()
    }

    /// "vouched for by k of n signers (names)", naming signers by their cluster names.
    pub fn vouch_line(&self, v: &tessera_proto::attestation::Vouched) -> String {
        let names: Vec<String> =
            v.by.iter()
                .map(|id| {
                    self.signers
                        .iter()
                        .find(|s| s.node_id == *id)
                        .map(|s| s.name.clone())
                        .unwrap_or_else(|| id.to_string())
                })
                .collect();
        format!(
            "vouched for by {} of {} signers ({})",
            v.by.len(),
            v.of,
            names.join(", ")
        )
    }

    /// The node ids of the signers named `names`, in that order; every signer when `names` is
    /// empty.
    pub fn signer_ids(&self, names: &[String]) -> Result<Vec<tessera_wire::NodeId>> {
        if names.is_empty() {
            return Ok(self.signers.iter().map(|s| s.node_id).collect());
        }
        names
            .iter()
            .map(|n| {
                self.signers
                    .iter()
                    .find(|s| &s.name == n)
                    .map(|s| s.node_id)
                    .ok_or_else(|| anyhow::anyhow!("no signer named {n}"))
            })
            .collect()
    }

    /// The operator key.
    pub fn operator(&self) -> Result<OperatorKey> {
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(&self.operator_key_file)?);
        Ok(OperatorKey::from_text(&text)?)
    }

    /// The policy admin key.
    pub fn admin(&self) -> Result<tessera_policy::SecretKey> {
        crate::governance::read_key(&self.admin_key_file)
    }

    /// The approver key.
    pub fn approver(&self) -> Result<tessera_policy::SecretKey> {
        crate::governance::read_key(&self.approver_key_file)
    }

    /// The approver key file's text (64 hex digits of the Ed25519 seed).
    pub fn approver_key_hex(&self) -> Result<String> {
        Ok(self.approver()?.to_text().trim().to_string())
    }
}

/// Options of a local cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Number of signers.
    pub signers: usize,
    /// The `tessera` executable to run (default: this one).
    pub exe: PathBuf,
    /// Extra environment for signer processes (e.g. the test-only fixture-primes switch).
    pub signer_env: Vec<(String, String)>,
    /// `RUST_LOG` for the children.
    pub log: String,
    /// The coordinator's `--health-grace-secs`.
    pub health_grace_secs: u64,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            signers: 3,
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tessera")),
            signer_env: Vec::new(),
            log: "info".into(),
            health_grace_secs: 30,
        }
    }
}

/// A running local cluster. Dropping it stops every process.
pub struct LocalCluster {
    /// Data directory.
    pub dir: PathBuf,
    /// What other commands need to reach it.
    pub file: ClusterFile,
    opts: ClusterOptions,
    port: u16,
    coordinator: Option<Child>,
    signers: Vec<Option<Child>>,
    /// Further coordinators the signers also link to (`start_standby_coordinator`): URL and
    /// process.
    standby: Vec<(String, Child)>,
}

impl std::fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCluster")
            .field("dir", &self.dir)
            .field("url", &self.file.url)
            .finish_non_exhaustive()
    }
}

fn write_secret(path: &Path, content: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    Ok(())
}

/// Writes a fresh random token for every role to `<dir>/<role>` (mode 0600, directory 0700).
fn write_tokens(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    for role in Role::ALL {
        let token = format!(
            "{}{}",
            tessera_client::random_id(),
            tessera_client::random_id()
        );
        write_secret(&dir.join(role.name()), &token)?;
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl LocalCluster {
    /// Creates a fresh cluster in `dir` (which must not hold one) and starts it.
    pub async fn start(dir: &Path, opts: ClusterOptions) -> Result<LocalCluster> {
        if dir.join("cluster.json").exists() {
            bail!("{} already holds a cluster", dir.display());
        }
        std::fs::create_dir_all(dir.join("logs"))?;
        let dir = dir.canonicalize()?;
        let pki = tessera_tls::generate_local_pki(&["localhost", "127.0.0.1"])?;
        let tls = dir.join("tls");
        std::fs::create_dir_all(&tls)?;
        std::fs::write(tls.join("ca.pem"), &pki.ca_cert_pem)?;
        std::fs::write(tls.join("server.pem"), &pki.server_cert_pem)?;
        write_secret(&tls.join("server.key"), &pki.server_key_pem)?;
        let operator = OperatorKey::generate(&mut rand_core::OsRng);
        write_secret(&dir.join("operator.key"), &operator.to_text())?;
        write_tokens(&dir.join("tokens"))?;
        let admin = crate::governance::write_key(&dir.join("admin.key"))?;
        let approver = crate::governance::write_key(&dir.join("approver.key"))?;
        let admins = tessera_policy::AdminSet::new([admin], 1)?;
        let port = free_port()?;
        let url = format!("https://127.0.0.1:{port}");

        let mut identities: Vec<(String, SignedIdentity, PathBuf)> = Vec::new();
        for i in 1..=opts.signers {
            let name = format!("signer-{i}");
            let sdir = dir.join(&name);
            std::fs::create_dir_all(&sdir)?;
            let key = sdir.join("vault.key");
            tessera_vault::generate_key_file(&key)?;
            let id = init_signer(
                &sdir,
                &UnlockSpec::KeyFile(key),
                &[operator.public()],
                &admins,
                &name,
                KdfParams::default(),
            )?;
            identities.push((name, id, sdir));
        }
        let file = ClusterFile {
            url: url.clone(),
            tokens_dir: dir.join("tokens"),
            ca_file: tls.join("ca.pem"),
            operator_key_file: dir.join("operator.key"),
            admin_key_file: dir.join("admin.key"),
            approver_key_file: dir.join("approver.key"),
            signers: identities
                .iter()
                .map(|(name, id, sdir)| ClusterSigner {
                    name: name.clone(),
                    node_id: id.identity.node_id(),
                    dir: sdir.clone(),
                })
                .collect(),
        };
        let mut cluster = LocalCluster {
            dir: dir.clone(),
            file,
            opts,
            port,
            coordinator: None,
            signers: (0..identities.len()).map(|_| None).collect(),
            standby: Vec::new(),
        };
        cluster.start_coordinator()?;
        let enrol = cluster.file.client_as(Role::Enrol)?;
        cluster.wait_healthy(&enrol).await?;
        for (name, id, _) in &identities {
            enrol.enroll(name, *id).await?;
        }
        for i in 0..identities.len() {
            cluster.start_signer(i)?;
        }
        cluster.wait_connected(&enrol, identities.len()).await?;
        // The local-dev policy, version 1, signed by the admin and pushed to every signer.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let bundle = crate::governance::local_dev_bundle(
            1,
            tessera_policy::PublicKey(operator.public().0),
            approver,
            admin,
            now,
        )?;
        let signed = crate::governance::sign_bundle(bundle, &[cluster.file.admin()?]);
        cluster
            .file
            .client_as(Role::Admin)?
            .put_policy(&signed)
            .await?;
        cluster.wait_policy(&enrol, 1, identities.len()).await?;
        std::fs::write(
            dir.join("cluster.json"),
            serde_json::to_string_pretty(&cluster.file)?,
        )?;
        Ok(cluster)
    }

    fn spawn(&self, args: &[String], log: &str, env: &[(String, String)]) -> Result<Child> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("logs").join(log))?;
        let mut cmd = Command::new(&self.opts.exe);
        cmd.args(args)
            .env("RUST_LOG", &self.opts.log)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn()
            .with_context(|| format!("starting {}", self.opts.exe.display()))
    }

    /// Starts (or restarts) the coordinator.
    pub fn start_coordinator(&mut self) -> Result<()> {
        let args = self.coordinator_args(&self.dir.join("coordinator"), self.port, &self.file.url);
        self.coordinator = Some(self.spawn(&args, "coordinator.log", &[])?);
        Ok(())
    }

    /// Starts one more coordinator (its own store and audit log, the cluster's TLS certificate
    /// and tokens) and returns its URL. Signers started from now on link to it as well as to
    /// the first one; each must be enrolled there, as with any coordinator.
    pub fn start_standby_coordinator(&mut self) -> Result<String> {
        let port = free_port()?;
        let url = format!("https://127.0.0.1:{port}");
        let n = self.standby.len() + 2;
        let args = self.coordinator_args(&self.dir.join(format!("coordinator-{n}")), port, &url);
        let child = self.spawn(&args, &format!("coordinator-{n}.log"), &[])?;
        self.standby.push((url.clone(), child));
        Ok(url)
    }

    fn coordinator_args(&self, dir: &Path, port: u16, url: &str) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "coordinator".into(),
            "run".into(),
            "--dir".into(),
            dir.display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--public-url".into(),
            url.to_string(),
            "--tls-cert".into(),
            self.dir.join("tls/server.pem").display().to_string(),
            "--tls-key".into(),
            self.dir.join("tls/server.key").display().to_string(),
            "--health-grace-secs".into(),
            self.opts.health_grace_secs.to_string(),
            "--exit-on-stdin-eof".into(),
        ];
        for role in Role::ALL {
            args.push("--token-file".into());
            args.push(format!("{role}={}", self.file.token_file(role).display()));
        }
        args
    }

    /// Starts (or restarts) signer `i` (0-based).
    pub fn start_signer(&mut self, i: usize) -> Result<()> {
        let s = &self.file.signers[i];
        let mut args: Vec<String> = vec![
            "signer".into(),
            "run".into(),
            "--dir".into(),
            s.dir.display().to_string(),
            "--key-file".into(),
            s.dir.join("vault.key").display().to_string(),
            "--coordinator".into(),
            self.file.url.clone(),
            "--ca".into(),
            self.file.ca_file.display().to_string(),
            "--exit-on-stdin-eof".into(),
        ];
        for (url, _) in &self.standby {
            args.push("--coordinator".into());
            args.push(url.clone());
        }
        let child = self.spawn(
            &args,
            &format!("{}.log", s.name),
            &self.opts.signer_env.clone(),
        )?;
        self.signers[i] = Some(child);
        Ok(())
    }

    /// Kills the coordinator (SIGKILL: no clean shutdown).
    pub fn kill_coordinator(&mut self) -> Result<()> {
        if let Some(mut c) = self.coordinator.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// Kills signer `i` (SIGKILL: no clean shutdown).
    pub fn kill_signer(&mut self, i: usize) -> Result<()> {
        if let Some(mut c) = self.signers[i].take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// An API client holding every role's token (see [`ClusterFile::client`]).
    pub fn client(&self) -> Result<Client> {
        self.file.client()
    }

    /// An API client holding the token of `role` only.
    pub fn client_as(&self, role: Role) -> Result<Client> {
        self.file.client_as(role)
    }

    /// Process ids of the coordinator and signers still running.
    pub fn pids(&self) -> Vec<u32> {
        self.coordinator
            .iter()
            .chain(self.signers.iter().flatten())
            .map(|c| c.id())
            .collect()
    }

    /// Name and process id of every process still running: `coordinator`, each signer by its
    /// name, standby coordinators as `coordinator-2`, … (what `tessera bench soak` samples).
    pub fn processes(&self) -> Vec<(String, u32)> {
        let coordinator = self
            .coordinator
            .iter()
            .map(|c| ("coordinator".into(), c.id()));
        let signers = self
            .signers
            .iter()
            .zip(&self.file.signers)
            .filter_map(|(c, s)| c.as_ref().map(|c| (s.name.clone(), c.id())));
        let standby = self
            .standby
            .iter()
            .enumerate()
            .map(|(i, (_, c))| (format!("coordinator-{}", i + 2), c.id()));
        coordinator.chain(signers).chain(standby).collect()
    }

    /// Waits until the coordinator answers and its processes are alive.
    pub async fn wait_healthy(&mut self, client: &Client) -> Result<()> {
        let start = Instant::now();
        while !client.healthy().await {
            if let Some(c) = self.coordinator.as_mut() {
                if let Some(status) = c.try_wait()? {
                    bail!(
                        "the coordinator exited ({status}); see {}",
                        self.dir.join("logs/coordinator.log").display()
                    );
                }
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("the coordinator did not become healthy in 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Waits until `n` signers are linked.
    pub async fn wait_connected(&self, client: &Client, n: usize) -> Result<()> {
        let start = Instant::now();
        loop {
            let linked = client
                .signers()
                .await
                .map(|l| l.iter().filter(|s| s.connected).count())
                .unwrap_or(0);
            if linked >= n {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!(
                    "only {linked} of {n} signers linked after 60 s; see the logs in {}",
                    self.dir.join("logs").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `n` signers report policy version `version`.
    pub async fn wait_policy(&self, client: &Client, version: u64, n: usize) -> Result<()> {
        let start = Instant::now();
        loop {
            let current = client
                .signers()
                .await
                .map(|l| {
                    l.iter()
                        .filter(|s| {
                            s.connected
                                && s.status
                                    .as_ref()
                                    .is_some_and(|st| st.policy_version == version)
                        })
                        .count()
                })
                .unwrap_or(0);
            if current >= n {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!(
                    "only {current} of {n} signers run policy version {version} after 60 s; see \
                     the logs in {}",
                    self.dir.join("logs").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops every process and waits for them.
    pub fn stop(&mut self) {
        let mut standby: Vec<Option<Child>> =
            self.standby.drain(..).map(|(_, c)| Some(c)).collect();
        for c in self
            .signers
            .iter_mut()
            .chain(std::iter::once(&mut self.coordinator))
            .chain(standby.iter_mut())
        {
            if let Some(mut child) = c.take() {
                // Closing stdin asks for a clean exit; kill if it does not come.
                drop(child.stdin.take());
                let deadline = Instant::now() + Duration::from_secs(5);
                loop {
                    match child.try_wait() {
                        Ok(Some(_)) => break,
                        Ok(None) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(20))
                        }
                        _ => {
                            let _ = child.kill();
                            let _ = child.wait();
                            break;
                        }
                    }
                }
            }
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

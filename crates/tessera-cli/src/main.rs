//! `tessera`: thin command-line front end over the Tessera libraries.

#![forbid(unsafe_code)]

mod import_cmd;
mod incident_cmd;
mod keyop_cmd;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use tessera_cli::cluster::{ClusterFile, ClusterOptions, LocalCluster};
use tessera_cli::daemon::{self, UnlockSpec};
use tessera_cli::governance;
use tessera_cli::reshare::Change;
use tessera_crypto::{SchemeId, SignMessage};
use tessera_policy::{ApprovalDecision, PolicyBundle, SignedBundle};
use tessera_proto::roles::Role;
use tessera_wire::OperatorPublic;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Threshold-signature (MPC) wallet platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the signature schemes, their protocol crates and audit status.
    Schemes,
    /// One-command showcase: a fresh local cluster, one wallet per scheme, verified signatures.
    Demo {
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Keep the cluster's data in this directory instead of a removed temporary one.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// Run a local cluster (coordinator + signers on loopback, TLS) until Ctrl-C.
    Up {
        /// Data directory (created; must not hold a cluster yet).
        #[arg(long, default_value = "tessera-cluster")]
        dir: PathBuf,
        /// Number of signers.
        #[arg(long, default_value_t = 3)]
        signers: usize,
    },
    /// Cluster overview (signers, links, wallets).
    Status(ClusterArg),
    /// Wallets.
    Wallet {
        #[command(subcommand)]
        what: WalletCmd,
    },
    /// Sign a message with a wallet (authorized with the cluster's operator key).
    Sign {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Wallet id.
        #[arg(long)]
        wallet: String,
        /// Derivation path.
        #[arg(long, default_value = "m")]
        path: String,
        /// Message text, signed as an off-chain message of --chain.
        #[arg(long, conflicts_with_all = ["danger_raw_digest", "message_hex"])]
        message: Option<String>,
        /// Message bytes (hex), signed as an off-chain message of --chain.
        #[arg(long, conflicts_with = "danger_raw_digest")]
        message_hex: Option<String>,
        /// Whose off-chain message format wraps the message — `ethereum` (EIP-191),
        /// `bitcoin` (BIP-322's tagged hash) or `solana` (off-chain message) — so the
        /// signature can never be valid for a transaction. Default: solana for ed25519,
        /// bitcoin for schnorr-bip340, ethereum for the ECDSA profiles.
        #[arg(long)]
        chain: Option<String>,
        /// DANGEROUS: sign a 32-byte digest the signers cannot recompute (hex).
        #[arg(long)]
        danger_raw_digest: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Chain transactions: build a payload, sign it, show a request.
    Tx {
        #[command(subcommand)]
        what: TxCmd,
    },
    /// Signing requests and their lifecycle (pending approvals, signed, rejected...).
    Requests {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Only requests in this state (e.g. awaiting_approvals).
        #[arg(long)]
        state: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a request: sign its intent hash with an approver key.
    Approve(DecideArgs),
    /// Reject a request: sign a rejection with an approver key.
    Reject(DecideArgs),
    /// The approvals console, served on this machine (loopback only) by this binary: it
    /// re-parses every payload itself, shows its own reading, and signs approvals with the
    /// approver key file, which never leaves this process. Prints the URL to open.
    Console(ConsoleArgs),
    /// Policy bundles: templates, signing, installing.
    Policy {
        #[command(subcommand)]
        what: PolicyCmd,
    },
    /// Operating mode (normal, degraded, lockdown): an admin-signed change with an expiry.
    Mode {
        #[command(subcommand)]
        what: ModeCmd,
    },
    /// Incident response: quarantine a suspect signer, then rotate every wallet away from it.
    Incident {
        #[command(subcommand)]
        what: incident_cmd::IncidentCmd,
    },
    /// The coordinator's hash-chained audit log.
    Audit {
        #[command(subcommand)]
        what: AuditCmd,
    },
    /// Admin and approver keys (Ed25519).
    Keys {
        #[command(subcommand)]
        what: KeysCmd,
    },
    /// Signer node.
    Signer {
        #[command(subcommand)]
        what: SignerCmd,
    },
    /// Encrypted, epoch-tagged backups of a signer's shares and identity (offline, on the
    /// signer's machine, signer stopped); see docs/backup-and-recovery.md.
    Backup {
        #[command(subcommand)]
        what: BackupCmd,
    },
    /// DISASTER RECOVERY, OFFLINE: rebuild a wallet's whole private key from at least t share
    /// backups of one wallet and epoch; writes it (BIP-32 xprv, or the Ed25519 scalar) to --out.
    Recover {
        /// Share backups (at least the threshold, one wallet, one epoch, distinct parties).
        #[arg(long = "backup", required = true)]
        backups: Vec<PathBuf>,
        /// Backup identity file; repeatable.
        #[arg(long = "identity", required = true)]
        identities: Vec<PathBuf>,
        /// Output file for the key (created with mode 0600; must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Write an xprv with testnet version bytes (tprv).
        #[arg(long)]
        testnet: bool,
        /// Audit log to record the recovery in (created if missing).
        #[arg(long)]
        audit_log: Option<PathBuf>,
    },
    /// Create a threshold wallet from an existing single-signature key (hex, WIF, xprv,
    /// BIP-39 mnemonic, Solana keypair) with the same key and addresses. The whole key is in
    /// this process until it is dealt; see docs/key-lifecycle.md.
    Import(import_cmd::ImportArgs),
    /// Key operations waiting for approvals: `show`, `approve` and `submit` a request written
    /// by `--prepare` (wallet create, refresh, replace-signer, reshare; import).
    KeyOp {
        #[command(subcommand)]
        what: keyop_cmd::KeyOpCmd,
    },
    /// Offline vendor exit: each share backup as an open `tessera-share-export/v1` document
    /// (one party's Shamir share, its evaluation point, every verification share) that another
    /// implementation can take over; nothing is reconstructed. See docs/export-format.md.
    Export {
        /// Share backups (one wallet, one epoch, distinct parties; any number).
        #[arg(long = "backup", required = true)]
        backups: Vec<PathBuf>,
        /// Backup identity file; repeatable.
        #[arg(long = "identity", required = true)]
        identities: Vec<PathBuf>,
        /// Directory for the documents (files created with mode 0600; never overwritten).
        #[arg(long)]
        out_dir: PathBuf,
    },
    /// Coordinator.
    Coordinator {
        #[command(subcommand)]
        what: CoordinatorCmd,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: Bench,
    },
}

#[derive(Args)]
struct DecideArgs {
    #[command(flatten)]
    cluster: ClusterArg,
    /// Request id.
    request: String,
    /// Approver key file (default: the cluster's approver.key).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ConsoleArgs {
    /// Coordinator URL (https://host:port).
    #[arg(long)]
    url: Option<String>,
    /// CA certificate (PEM) the coordinator's certificate chains to.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// File holding the coordinator's API token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The approver's secret key file (`tessera keys generate`); read by this process only.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Take whatever of the above is not given from this `tessera up` directory.
    #[arg(long)]
    cluster: Option<PathBuf>,
    /// Node id of a signer whose attestations this console trusts, learned out of band
    /// (repeatable; with `--cluster`, its signers are trusted too). Payload keys and the
    /// wallets table are then checked against what those signers vouch for.
    #[arg(long = "trust")]
    trust: Vec<tessera_wire::NodeId>,
    /// Local address to serve the page on (loopback only; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Exit when standard input closes (for tests and supervisors).
    #[arg(long, hide = true)]
    exit_on_stdin_eof: bool,
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// Print a shipped Cedar template (trading-desk-hot, treasury-cold, local-dev).
    Template {
        /// Template name.
        name: String,
    },
    /// The bundle in force at the coordinator, the mode, and which signers run it.
    Show {
        #[command(flatten)]
        cluster: ClusterArg,
    },
    /// Sign a bundle (PolicyBundle or SignedBundle JSON) with an admin key; prints the
    /// SignedBundle JSON with the signature added.
    Sign {
        /// Bundle file.
        bundle: PathBuf,
        /// Admin key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Install a signed bundle: the coordinator pushes it to every signer, each of which
    /// accepts only a newer version signed by its admin quorum.
    Push {
        #[command(flatten)]
        cluster: ClusterArg,
        /// SignedBundle JSON file.
        bundle: PathBuf,
    },
    /// Confirm, as admins, that the bundle and mode change in force are still yours: signers
    /// started with `--max-policy-age-hours` stop signing once their policy was not confirmed
    /// for that long. Signs with each `--key` and delivers the statement once the keys make a
    /// quorum; with `--out`, writes it for further admins to sign (`--sign FILE`).
    Refresh {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Admin key files (default: the cluster's admin.key).
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
        /// Your own copy of the bundle in force (SignedBundle JSON). Without it the statement
        /// names the bundle the coordinator reports; check its version and hash.
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// Add signatures to this statement instead of making a new one.
        #[arg(long)]
        sign: Option<PathBuf>,
        /// Write the statement here instead of delivering it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ModeCmd {
    /// Enter `normal`, `degraded` or `lockdown` for a while (signed with admin keys).
    Set {
        #[command(flatten)]
        cluster: ClusterArg,
        /// The mode.
        mode: String,
        /// Why (kept in the audit logs).
        #[arg(long)]
        reason: String,
        /// How long, in minutes (at most 7 days).
        #[arg(long, default_value_t = 60)]
        minutes: u64,
        /// Sequence number (must exceed the change in force; default: now in unix milliseconds).
        #[arg(long)]
        seq: Option<u64>,
        /// Admin key files (default: the cluster's admin.key).
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
    },
    /// Write an unsigned mode change for admins to sign one by one (`mode sign`, then
    /// `mode push`). `recommended` takes the mode signer health calls for, and its text as the
    /// default reason.
    Propose {
        #[command(flatten)]
        cluster: ClusterArg,
        /// `normal`, `degraded`, `lockdown` or `recommended`.
        mode: String,
        /// Why (kept in the audit logs; default for `recommended`: the recommendation).
        #[arg(long)]
        reason: Option<String>,
        /// How long, in minutes, from now (at most 7 days).
        #[arg(long, default_value_t = 60)]
        minutes: u64,
        /// Sequence number (default: now in unix milliseconds).
        #[arg(long)]
        seq: Option<u64>,
        /// Output file (ModeChange JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// Add an admin's signature to a mode change file; prints the signed JSON.
    Sign {
        /// ModeChange JSON file.
        change: PathBuf,
        /// Admin key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Submit a signed mode change: the coordinator checks the admin quorum and pushes it to
    /// every signer, each of which checks it again.
    Push {
        #[command(flatten)]
        cluster: ClusterArg,
        /// ModeChange JSON file.
        change: PathBuf,
    },
    /// The mode in force and what signer health calls for (the wallets below the margin).
    Status {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Download the coordinator's audit log (JSON Lines), or with --signer a signer's own log,
    /// verified against the head it signed (written to <out>.head.json).
    Export {
        #[command(flatten)]
        cluster: ClusterArg,
        /// A signer's node id (hex): export that signer's log instead of the coordinator's.
        #[arg(long)]
        signer: Option<String>,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Cross-check every enrolled signer's log against the coordinator's: each export is
    /// verified and every signature or refusal a signer recorded must be in the coordinator's
    /// log. Exits non-zero otherwise. Offline with --coordinator and --signer files.
    CrossCheck {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Offline: the coordinator's export file.
        #[arg(long, requires = "signer")]
        coordinator: Option<PathBuf>,
        /// Offline: a signer's export file.
        #[arg(long, requires = "coordinator")]
        signer: Option<PathBuf>,
        /// Offline: the signer's signed head (`tessera audit export --signer` wrote it next to
        /// the export); the export must end exactly there.
        #[arg(long, requires_all = ["signer", "signer_id"])]
        signer_head: Option<PathBuf>,
        /// Offline: the signer's node id (hex) the head must be signed by.
        #[arg(long, requires = "signer_head")]
        signer_id: Option<String>,
    },
    /// Verify an exported audit log offline: every hash and link from the first entry.
    Verify {
        /// Export file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Generate an Ed25519 admin or approver key file (0600); prints the public key.
    Generate {
        /// Output file (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
struct ClusterArg {
    /// Directory of a cluster started by `tessera up`.
    #[arg(long, env = "TESSERA_CLUSTER", default_value = "tessera-cluster")]
    cluster: PathBuf,
}

#[derive(Subcommand)]
enum WalletCmd {
    /// Create a wallet by distributed key generation across signers.
    Create {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Scheme (see `tessera schemes`).
        #[arg(long)]
        scheme: String,
        /// Threshold t.
        #[arg(long, default_value_t = 2)]
        threshold: u16,
        /// Wallet id (default: random).
        #[arg(long)]
        id: Option<String>,
        /// Signer names to use (default: all).
        #[arg(long = "signer")]
        signers: Vec<String>,
        /// A network the wallet may sign chain payloads on, `chain:network` (repeat for
        /// several; at least one): `bitcoin:mainnet`, `ethereum:sepolia`, `solana:devnet`, …
        /// Signers refuse payloads for any other network.
        #[arg(long = "network", required = true)]
        networks: Vec<String>,
        /// Return at once instead of waiting for the key.
        #[arg(long)]
        no_wait: bool,
        /// Write the signed request to this file for approvers (`tessera key-op approve`)
        /// instead of sending it (`tessera key-op submit` sends it).
        #[arg(long, conflicts_with = "no_wait")]
        prepare: Option<PathBuf>,
    },
    /// New shares of a wallet's key for the same signers and threshold (proactive refresh):
    /// old shares stop combining with new ones; the key and addresses stay the same. With
    /// `--all` every ready wallet in turn; with `--every` again and again on a schedule.
    Refresh {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Wallet id (or `--all`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every wallet whose key is ready, one after the other.
        #[arg(long)]
        all: bool,
        /// Refresh again this often (`90s`, `15m`, `24h`, `7d`), from the start of one round
        /// to the start of the next; runs until stopped (or `--rounds`).
        #[arg(long, value_parser = tessera_cli::refresh_schedule::parse_interval)]
        every: Option<std::time::Duration>,
        /// With `--every`: stop after this many rounds.
        #[arg(long, requires = "every")]
        rounds: Option<u32>,
        /// Return at once instead of waiting for the commit (one wallet, no schedule).
        #[arg(long, conflicts_with_all = ["all", "every"])]
        no_wait: bool,
        /// Write the signed request to this file for approvers (`tessera key-op approve`)
        /// instead of sending it (one wallet, no schedule).
        #[arg(long, conflicts_with_all = ["all", "every", "no_wait"])]
        prepare: Option<PathBuf>,
    },
    /// Hand a signer's place to another (a lost or compromised node): new shares among the
    /// remaining signers and the new one, the same threshold, key and addresses.
    ReplaceSigner {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Wallet id.
        id: String,
        /// Name of the signer leaving.
        #[arg(long)]
        old: String,
        /// Name of the signer joining (enrolled and connected).
        #[arg(long)]
        new: String,
        /// Return at once instead of waiting for the commit.
        #[arg(long)]
        no_wait: bool,
        /// Write the signed request to this file for approvers (`tessera key-op approve`)
        /// instead of sending it (`tessera key-op submit` sends it).
        #[arg(long, conflicts_with = "no_wait")]
        prepare: Option<PathBuf>,
    },
    /// New shares for a new threshold and/or signer set (2-of-3 → 3-of-5, new hosts): the key
    /// and addresses stay the same; at least the current threshold of holders must stay.
    Reshare {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Wallet id.
        id: String,
        /// Signers needed afterwards.
        #[arg(long)]
        threshold: u16,
        /// The new holders by name, in party order (repeat).
        #[arg(long = "signer", required = true)]
        signers: Vec<String>,
        /// Return at once instead of waiting for the commit.
        #[arg(long)]
        no_wait: bool,
        /// Write the signed request to this file for approvers (`tessera key-op approve`)
        /// instead of sending it (`tessera key-op submit` sends it).
        #[arg(long, conflicts_with = "no_wait")]
        prepare: Option<PathBuf>,
    },
    /// Retire a wallet (after `tessera export` handed its key to another implementation, say):
    /// every holder records it and refuses any later session for it. Final; the shares stay
    /// in the vaults.
    Retire {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Wallet id.
        id: String,
        /// Write the signed request to this file for approvers (`tessera key-op approve`)
        /// instead of sending it.
        #[arg(long)]
        prepare: Option<PathBuf>,
    },
    /// List wallets.
    List(ClusterArg),
    /// Show a wallet, vouched for by its signers' attestations (and a derived key with --path,
    /// derived locally from the vouched key).
    Show {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Wallet id.
        id: String,
        /// Derivation path.
        #[arg(long)]
        path: Option<String>,
    },
    /// A deposit address, derived locally from the wallet key its signers vouched for.
    Address {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Wallet id.
        id: String,
        /// Chain: bitcoin, ethereum, solana.
        #[arg(long)]
        chain: String,
        /// Network (as for `tessera tx`).
        #[arg(long)]
        network: String,
        /// Derivation path.
        #[arg(long, default_value = "m")]
        path: String,
    },
}

#[derive(Args)]
struct TxTarget {
    #[command(flatten)]
    cluster: ClusterArg,
    /// Wallet id.
    #[arg(long)]
    wallet: String,
    /// Chain: bitcoin, ethereum, solana.
    #[arg(long)]
    chain: String,
    /// Network (bitcoin: mainnet|testnet|regtest; ethereum: mainnet|sepolia|holesky|base|
    /// arbitrum|optimism|polygon; solana: mainnet-beta|devnet|testnet).
    #[arg(long)]
    network: String,
    /// Derivation path of the signing key.
    #[arg(long, default_value = "m")]
    path: String,
}

impl TxTarget {
    fn target(&self) -> tessera_cli::tx::Target {
        tessera_cli::tx::Target {
            wallet: self.wallet.clone(),
            chain: self.chain.clone(),
            network: self.network.clone(),
            path: self.path.clone(),
        }
    }
}

#[derive(Args)]
struct TxPayload {
    /// Builder spec, inline JSON (see each adapter's docs; e.g. bitcoin
    /// `{"inputs":[{"txid":..,"vout":0,"amount_sat":..,"prev_tx_hex":..}],"outputs":[{"address":..,"amount_sat":..}]}`;
    /// `prev_tx_hex`, the transaction that created the coin, is required for P2WPKH wallets).
    #[arg(long)]
    spec: Option<String>,
    /// Builder spec from a file.
    #[arg(long)]
    spec_file: Option<PathBuf>,
    /// Raw payload format: psbt, eip1559, eip155, eip712, personal_sign, solana_message.
    #[arg(long)]
    format: Option<String>,
    /// Raw payload, hex.
    #[arg(long)]
    payload_hex: Option<String>,
    /// Raw payload, base64 (e.g. a PSBT).
    #[arg(long)]
    payload_base64: Option<String>,
}

impl TxPayload {
    fn input(self) -> Result<tessera_proto::api::PayloadInput> {
        tessera_cli::tx::payload_input(
            self.spec,
            self.spec_file,
            self.format,
            self.payload_hex,
            self.payload_base64,
        )
    }
}

#[derive(Subcommand)]
enum TxCmd {
    /// Build (or parse) a payload and print its intent, parsed locally. Signs nothing.
    Build {
        #[command(flatten)]
        target: TxTarget,
        #[command(flatten)]
        payload: TxPayload,
    },
    /// Parse a payload locally, authorize its intent hash with the cluster's operator key,
    /// sign it through the cluster and verify the signed transaction independently.
    Sign {
        #[command(flatten)]
        target: TxTarget,
        #[command(flatten)]
        payload: TxPayload,
        /// Print the whole request as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a transaction request: the intent in plain language, status, signed result.
    Show {
        #[command(flatten)]
        cluster: ClusterArg,
        /// Wallet id.
        #[arg(long)]
        wallet: String,
        /// Request id.
        request: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Clone)]
struct UnlockArgs {
    /// Read the vault passphrase from this environment variable.
    #[arg(
        long,
        default_value = "TESSERA_VAULT_PASSPHRASE",
        conflicts_with = "key_file"
    )]
    passphrase_env: String,
    /// Unlock with a 32-byte key file instead of a passphrase.
    #[arg(long)]
    key_file: Option<PathBuf>,
}

impl UnlockArgs {
    fn spec(&self) -> UnlockSpec {
        match &self.key_file {
            Some(k) => UnlockSpec::KeyFile(k.clone()),
            None => UnlockSpec::PassphraseEnv(self.passphrase_env.clone()),
        }
    }
}

#[derive(Subcommand)]
enum BackupCmd {
    /// Create a backup identity (a recovery custodian's X25519 key pair): writes the secret
    /// to --out (0600) and prints the recipient key to give to `backup create --recipient`.
    Keygen {
        /// Identity file to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the signer backup (identity, settings, aux info) and one share backup per wallet
    /// at its committed epoch, each encrypted to every recipient.
    Create {
        /// The signer's data directory.
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        unlock: UnlockArgs,
        /// Recipient key (64 hex digits, from `backup keygen`); repeatable.
        #[arg(long = "recipient", required = true)]
        recipients: Vec<String>,
        /// Only this wallet's share (the signer backup is always written).
        #[arg(long)]
        wallet: Option<String>,
        /// Directory for the backup files (created).
        #[arg(long)]
        out_dir: PathBuf,
    },
    /// Decrypt backups and check each share against its tagged group key with the protocol
    /// crate's own validation; nothing is reconstructed. Exits non-zero if any fails.
    Verify {
        /// Backup files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Backup identity file; repeatable.
        #[arg(long = "identity", required = true)]
        identities: Vec<PathBuf>,
    },
    /// Restore one signer into a fresh data directory from its signer backup and its share
    /// backups; then run it with `tessera signer run`.
    Restore {
        /// New data directory (must not hold a vault).
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        unlock: UnlockArgs,
        /// Backup identity file; repeatable.
        #[arg(long = "identity", required = true)]
        identities: Vec<PathBuf>,
        /// The signer backup (identity and settings).
        #[arg(long)]
        signer_backup: PathBuf,
        /// A share backup of this signer; repeatable.
        #[arg(long = "backup")]
        backups: Vec<PathBuf>,
    },
}

/// `tessera export`: one open document per share backup.
fn run_export(
    backups: &[PathBuf],
    identities: &[PathBuf],
    out_dir: &std::path::Path,
) -> Result<()> {
    use tessera_cli::{backup, export};
    let ids = backup::read_identities(identities)?;
    let set = backups
        .iter()
        .map(|p| Ok((p.display().to_string(), backup::read_backup(p)?)))
        .collect::<Result<Vec<_>>>()?;
    let docs = export::export(&set, &ids)?;
    for path in export::write(out_dir, &docs)? {
        println!("{}", path.display());
    }
    eprintln!(
        "WARNING: each file holds one party's share in plain (mode 0600); any threshold of them \
         together control the wallet. Format: docs/export-format.md ({}).",
        export::FORMAT
    );
    Ok(())
}

fn run_recover(
    backups: &[PathBuf],
    identities: &[PathBuf],
    out: &std::path::Path,
    testnet: bool,
    audit_log: Option<&std::path::Path>,
) -> Result<()> {
    use tessera_cli::{backup, recover};
    eprintln!(
        "WARNING: tessera recover rebuilds the WHOLE private key in this process. This defeats \
         the threshold: run it offline, only in a disaster, and move the funds afterwards."
    );
    let ids = backup::read_identities(identities)?;
    let set = backups
        .iter()
        .map(|p| Ok((p.display().to_string(), backup::read_backup(p)?)))
        .collect::<Result<Vec<_>>>()?;
    let r = recover::recover(&set, &ids)?;
    backup::write_private(out, recover::output(&r, !testnet)?.as_bytes())?;
    if let Some(log) = audit_log {
        recover::audit(log, &r)?;
    }
    eprintln!(
        "WARNING: the whole private key of wallet {} ({}, epoch {}, parties {:?}, public key {}) \
         is in {} (mode 0600). Anyone holding that file controls the funds.",
        r.wallet_id,
        r.key.scheme,
        r.epoch,
        r.parties,
        r.key.public_key.to_hex(),
        out.display()
    );
    Ok(())
}

fn run_backup(what: BackupCmd) -> Result<()> {
    use tessera_cli::backup;
    match what {
        BackupCmd::Keygen { out } => {
            let r = backup::keygen(&out)?;
            println!("{r}");
            eprintln!(
                "backup identity written to {} — keep it offline; give the line above to \
                 `tessera backup create --recipient`",
                out.display()
            );
        }
        BackupCmd::Create {
            dir,
            unlock,
            recipients,
            wallet,
            out_dir,
        } => {
            let keys = recipients
                .iter()
                .map(|r| tessera_backup::RecipientKey::from_hex(r).map_err(anyhow::Error::from))
                .collect::<Result<Vec<_>>>()?;
            for w in backup::create(&dir, &unlock.spec(), &keys, wallet.as_deref(), &out_dir)? {
                println!("{}", w.path.display());
            }
        }
        BackupCmd::Verify { files, identities } => {
            let ids = backup::read_identities(&identities)?;
            let mut failed = 0;
            for f in &files {
                match backup::read_backup(f).and_then(|b| backup::verify(&b, &ids)) {
                    Ok(v) => println!("{}: {}", f.display(), backup::describe(&v)),
                    Err(e) => {
                        failed += 1;
                        println!("{}: FAILED: {e:#}", f.display());
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} of {} backups failed verification", files.len());
            }
        }
        BackupCmd::Restore {
            dir,
            unlock,
            identities,
            signer_backup,
            backups,
        } => {
            let ids = backup::read_identities(&identities)?;
            let signer = backup::read_backup(&signer_backup)?;
            let shares = backups
                .iter()
                .map(|b| backup::read_backup(b))
                .collect::<Result<Vec<_>>>()?;
            let tags = backup::restore(
                &dir,
                &unlock.spec(),
                &ids,
                &signer,
                &shares,
                Default::default(),
            )?;
            println!(
                "restored node {} into {}",
                signer.header.node_id,
                dir.display()
            );
            for t in tags {
                println!(
                    "  wallet {} party {} epoch {}",
                    t.wallet_id, t.index, t.epoch
                );
            }
        }
    }
    Ok(())
}

#[derive(Subcommand)]
enum SignerCmd {
    /// Create the vault and node identity; prints the identity to enroll.
    Init {
        /// Data directory.
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        unlock: UnlockArgs,
        /// Trusted operator public key (hex); repeatable.
        #[arg(long = "operator", required = true)]
        operators: Vec<String>,
        /// Policy admin public key (Ed25519, hex): a quorum of these signs the first policy
        /// bundle this signer accepts; repeatable.
        #[arg(long = "policy-admin", required = true)]
        policy_admins: Vec<String>,
        /// How many policy admins must sign the first bundle.
        #[arg(long = "policy-admin-quorum", default_value_t = 1)]
        policy_admin_quorum: u32,
        /// Display name.
        #[arg(long)]
        name: String,
    },
    /// Each signer's own view of its policy, signed by the signer and verified here: bundle
    /// version and hash, mode and its change's sequence, since when the policy is confirmed
    /// fresh, audit head. Exits non-zero if a signer cannot be reached or its view does not
    /// verify.
    Status(ClusterArg),
    /// Print this signer's public identity (for enrollment).
    Identity {
        /// Data directory.
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        unlock: UnlockArgs,
    },
    /// Run the signer daemon (outbound links only).
    Run {
        /// Data directory.
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        unlock: UnlockArgs,
        /// Coordinator URL (https://host:port); repeatable.
        #[arg(long = "coordinator", required = true)]
        coordinators: Vec<String>,
        /// CA certificate (PEM) the coordinators' certificates chain to.
        #[arg(long)]
        ca: PathBuf,
        /// Sign nothing while the policy was last confirmed by the admins (bundle creation,
        /// mode change or `tessera policy refresh`) more than this many hours ago; unset: no
        /// limit.
        #[arg(long)]
        max_policy_age_hours: Option<u64>,
        /// Keep the shares of older epochs this many hours after a refresh or reshare commits
        /// a newer one, then destroy them.
        #[arg(long, default_value_t = 24)]
        old_share_grace_hours: u64,
        /// Exit when standard input closes (used by `tessera up`).
        #[arg(long)]
        exit_on_stdin_eof: bool,
    },
}

#[derive(Subcommand)]
enum CoordinatorCmd {
    /// Run the coordinator.
    Run {
        /// Data directory.
        #[arg(long)]
        dir: PathBuf,
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:7300")]
        listen: String,
        /// URL signers dial (bound into their hello).
        #[arg(long)]
        public_url: String,
        /// TLS certificate chain (PEM).
        #[arg(long)]
        tls_cert: PathBuf,
        /// TLS private key (PEM).
        #[arg(long)]
        tls_key: PathBuf,
        /// API bearer token file of one role, as ROLE=PATH (repeat for each role: requester,
        /// viewer, approver, admin, enrol, metrics; a role without a token cannot be used), or
        /// PATH alone for one token holding every role.
        #[arg(long = "token-file", value_name = "ROLE=PATH", required = true)]
        token_files: Vec<daemon::TokenFile>,
        /// Spare signers each wallet should have: degraded mode is recommended while fewer
        /// than threshold + margin of a wallet's signers are healthy.
        #[arg(long, default_value_t = 1)]
        degraded_margin: u16,
        /// Seconds a change of signer health must hold before the recommendation follows.
        #[arg(long, default_value_t = 30)]
        health_grace_secs: u64,
        /// Exit when standard input closes (used by `tessera up`).
        #[arg(long)]
        exit_on_stdin_eof: bool,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Threshold protocols vs single-sig baselines, all parties in-process.
    Crypto {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Iterations of fast operations.
        #[arg(long, default_value_t = 50)]
        iterations: usize,
        /// Iterations of slow operations (DKG, cggmp24 presign and full sign).
        #[arg(long, default_value_t = 5)]
        slow_iterations: usize,
        /// Only these schemes (repeatable), e.g. `--scheme ed25519`.
        #[arg(long = "scheme")]
        schemes: Vec<String>,
        /// Only these groups as t-of-n (repeatable), e.g. `--group 2-of-3`.
        #[arg(long = "group")]
        groups: Vec<String>,
    },
    /// Key lifecycle operations (refresh, replace a signer, reshare to 3-of-5, refresh at
    /// 3-of-5, import of a single-sig key at 2-of-3 and 3-of-5, an incident's quarantine and
    /// rotation) through a fresh five-signer cluster, vs the raw in-process refresh.
    Lifecycle {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only these schemes (repeatable).
        #[arg(long = "scheme")]
        schemes: Vec<String>,
        /// Refreshes per wallet and group.
        #[arg(long, default_value_t = 3)]
        iterations: usize,
        /// Skip the raw in-process figures.
        #[arg(long)]
        skip_raw: bool,
    },
    /// Signatures through the API of a real cluster, vs the raw in-process figure.
    Sign {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only these schemes (repeatable).
        #[arg(long = "scheme")]
        schemes: Vec<String>,
        /// Requests in flight.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Drive the cluster of this `tessera up` directory instead of starting one.
        #[arg(long)]
        coordinator: Option<PathBuf>,
        /// Skip the raw in-process figures.
        #[arg(long)]
        skip_raw: bool,
    },
    /// Soak: measure the maximum signing throughput of a real cluster, then sign at a fraction
    /// of it for a long time, sampling each process's memory and open file descriptors; exits
    /// non-zero on any failed request or a rate below 90 % of the target.
    Soak {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Scheme of the 2-of-3 wallet.
        #[arg(long, default_value = "ed25519")]
        scheme: String,
        /// Requests in flight while calibrating.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Seconds of closed-loop calibration (after a warm-up of a quarter of it, at most 5 s).
        #[arg(long, default_value_t = 20)]
        calibrate: u64,
        /// Share of the calibrated throughput to sign at.
        #[arg(long, default_value_t = 0.8)]
        fraction: f64,
        /// Seconds of paced load.
        #[arg(long, default_value_t = 600)]
        duration: u64,
        /// Seconds between samples (one window).
        #[arg(long, default_value_t = 10)]
        sample: u64,
        /// Most requests outstanding during the soak.
        #[arg(long, default_value_t = 32)]
        max_in_flight: usize,
        /// Seconds past the end a cluster that fell behind still gets requests sent, and then
        /// for the last ones to finish; requests past either count as failed.
        #[arg(long, default_value_t = 120)]
        grace: u64,
        /// Drive the cluster of this `tessera up` directory instead of starting one (its
        /// processes are found in /proc when they run on this machine).
        #[arg(long)]
        coordinator: Option<PathBuf>,
    },
}

fn parse_schemes(names: &[String]) -> Result<Vec<SchemeId>> {
    if names.is_empty() {
        return Ok(SchemeId::ALL.to_vec());
    }
    names
        .iter()
        .map(|s| SchemeId::from_name(s).ok_or_else(|| anyhow::anyhow!("unknown scheme {s:?}")))
        .collect()
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .try_init();
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Signer { .. } | Command::Coordinator { .. } => init_logging("info"),
        _ => init_logging("warn"),
    }
    match cli.command {
        Command::Backup { what } => run_backup(what),
        Command::Recover {
            backups,
            identities,
            out,
            testnet,
            audit_log,
        } => run_recover(&backups, &identities, &out, testnet, audit_log.as_deref()),
        Command::Export {
            backups,
            identities,
            out_dir,
        } => run_export(&backups, &identities, &out_dir),
        Command::Schemes => {
            for s in SchemeId::ALL {
                println!("{:<26} {}", s.name(), s.audit_status());
            }
            println!();
            for (name, status) in tessera_crypto::OWN_PROCEDURES {
                println!("{name:<26} {status}");
            }
            Ok(())
        }
        Command::Demo { json, keep } => {
            runtime()?.block_on(tessera_cli::demo::run(json, keep))?;
            Ok(())
        }
        Command::Up { dir, signers } => runtime()?.block_on(async move {
            let cluster = LocalCluster::start(
                &dir,
                ClusterOptions {
                    signers,
                    ..Default::default()
                },
            )
            .await?;
            println!("cluster up: {}", cluster.file.url);
            println!("  data, logs, keys: {}", cluster.dir.display());
            println!(
                "  API tokens, one per role: {}",
                cluster.file.tokens_dir.display()
            );
            println!(
                "  try: tessera wallet create --cluster {} --scheme ed25519 --network solana:devnet",
                dir.display()
            );
            println!("  Ctrl-C stops everything");
            daemon::shutdown_signal(false).await;
            drop(cluster);
            Ok(())
        }),
        Command::Status(c) => runtime()?.block_on(async move {
            let f = ClusterFile::load(&c.cluster)?;
            let s = f.client_as(Role::Viewer)?.status().await?;
            println!("coordinator {}  version {}", f.url, s.version);
            for sg in &s.signers {
                let st = sg.status.as_ref();
                println!(
                    "  {:<12} {}  {:<9} wallets {:>3}  primes ready {}",
                    sg.name,
                    &sg.node_id.to_string()[..16],
                    if sg.connected { "linked" } else { "OFFLINE" },
                    st.map(|s| s.wallets).unwrap_or(0),
                    st.map(|s| s.primes_ready).unwrap_or(0)
                );
            }
            println!(
                "  wallets {}  sessions running {}",
                s.wallets, s.running_sessions
            );
            Ok(())
        }),
        Command::Wallet { what } => runtime()?.block_on(wallet_cmd(what)),
        Command::Tx { what } => runtime()?.block_on(tx_cmd(what)),
        Command::Requests {
            cluster,
            state,
            json,
        } => runtime()?.block_on(async move {
            let f = ClusterFile::load(&cluster.cluster)?;
            let state = match state {
                Some(s) => Some(
                    serde_json::from_value(serde_json::Value::String(s.clone()))
                        .with_context(|| format!("unknown request state {s:?}"))?,
                ),
                None => None,
            };
            let list = f.client_as(Role::Viewer)?.requests(state).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no requests");
            } else {
                for r in &list {
                    print!("{}", governance::describe(r));
                }
            }
            Ok(())
        }),
        Command::Approve(a) => runtime()?.block_on(decide_cmd(a, ApprovalDecision::Approve)),
        Command::Reject(a) => runtime()?.block_on(decide_cmd(a, ApprovalDecision::Reject)),
        Command::Console(a) => runtime()?.block_on(console_cmd(a)),
        Command::Policy { what } => runtime()?.block_on(policy_cmd(what)),
        Command::Mode { what } => runtime()?.block_on(mode_cmd(what)),
        Command::Import(args) => runtime()?.block_on(import_cmd::import_cmd(args)),
        Command::KeyOp { what } => runtime()?.block_on(keyop_cmd::keyop_cmd(what)),
        Command::Incident { what } => runtime()?.block_on(incident_cmd::incident_cmd(what)),
        Command::Audit { what } => match what {
            AuditCmd::Export {
                cluster,
                signer: None,
                out,
            } => runtime()?.block_on(async move {
                let f = ClusterFile::load(&cluster.cluster)?;
                let text = f.client_as(Role::Viewer)?.audit_export().await?;
                std::fs::write(&out, text)?;
                println!("{}", governance::verify_audit_file(&out)?);
                Ok(())
            }),
            AuditCmd::Export {
                cluster,
                signer: Some(node),
                out,
            } => runtime()?.block_on(async move {
                let node: tessera_wire::NodeId = node
                    .parse()
                    .with_context(|| format!("{node:?} is not a node id (64 hex digits)"))?;
                let f = ClusterFile::load(&cluster.cluster)?;
                let v = f
                    .client_as(Role::Viewer)?
                    .signer_audit_export(&node)
                    .await?;
                println!("{}", governance::write_signer_export(&out, &v)?);
                Ok(())
            }),
            AuditCmd::CrossCheck {
                cluster,
                coordinator,
                signer,
                signer_head,
                signer_id,
            } => {
                let report = match (coordinator, signer) {
                    (Some(c), Some(s)) => {
                        let head = signer_head.as_deref().zip(signer_id.as_deref());
                        governance::cross_check_files(&c, &s, head)?
                    }
                    _ => runtime()?.block_on(async move {
                        let f = ClusterFile::load(&cluster.cluster)?;
                        governance::cross_check_cluster(&f.client_as(Role::Viewer)?).await
                    })?,
                };
                print!("{}", report.render());
                if !report.ok() {
                    bail!("audit cross-check failed: an export does not verify or a signer entry is missing from the coordinator's log");
                }
                Ok(())
            }
            AuditCmd::Verify { file } => {
                println!("{}", governance::verify_audit_file(&file)?);
                Ok(())
            }
        },
        Command::Keys {
            what: KeysCmd::Generate { out },
        } => {
            let public = governance::write_key(&out)?;
            println!("{public}");
            Ok(())
        }
        Command::Sign {
            cluster,
            wallet,
            path,
            message,
            message_hex,
            chain,
            danger_raw_digest,
            json,
        } => runtime()?.block_on(async move {
            let f = ClusterFile::load(&cluster.cluster)?;
            let client = f.client_as(Role::Requester)?;
            let w = client.wallet(&wallet).await?;
            let text = match (message, message_hex) {
                (Some(t), _) => Some(t.into_bytes()),
                (None, Some(h)) => Some(hex::decode(h).context("--message-hex")?),
                (None, None) => None,
            };
            let message = match (text, danger_raw_digest) {
                (_, Some(d)) => {
                    eprintln!(
                        "WARNING: signing a raw digest: the signers cannot see what they sign"
                    );
                    let d: [u8; 32] = hex::decode(d)?
                        .try_into()
                        .map_err(|_| anyhow::anyhow!("a raw digest is 32 bytes"))?;
                    SignMessage::danger_raw_digest(d)
                }
                (Some(text), None) => {
                    tessera_chains::offchain_message(w.scheme, chain.as_deref(), &text)?
                }
                (None, None) => {
                    bail!("give --message or --message-hex (or, dangerously, --danger-raw-digest)")
                }
            };
            let s = client
                .sign(&f.operator()?, &wallet, &path, &message)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else if let Some(sig) = &s.signature {
                let derived = client.derive(&wallet, &path).await?;
                tessera_cli::verify::verify(w.scheme, &derived.public_key, &message, sig)?;
                println!("{}", hex::encode(sig.to_bytes()));
                eprintln!(
                    "signed by {} signers ({:?}); verified independently",
                    s.participants.len(),
                    s.sign_path
                );
            } else {
                let e = s
                    .error
                    .map(|e| format!("{}: {}", e.code, e.message))
                    .unwrap_or_default();
                bail!("signing failed: {e}");
            }
            Ok(())
        }),
        Command::Signer { what } => match what {
            SignerCmd::Init {
                dir,
                unlock,
                operators,
                policy_admins,
                policy_admin_quorum,
                name,
            } => {
                let ops = operators
                    .iter()
                    .map(|o| OperatorPublic::from_hex(o).map_err(anyhow::Error::from))
                    .collect::<Result<Vec<_>>>()?;
                let keys = policy_admins
                    .iter()
                    .map(|k| {
                        k.parse::<tessera_policy::PublicKey>()
                            .with_context(|| format!("--policy-admin {k}"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let admins = tessera_policy::AdminSet::new(keys, policy_admin_quorum)
                    .context("--policy-admin / --policy-admin-quorum")?;
                let id = daemon::init_signer(
                    &dir,
                    &unlock.spec(),
                    &ops,
                    &admins,
                    &name,
                    Default::default(),
                )?;
                println!("{}", serde_json::to_string_pretty(&id)?);
                Ok(())
            }
            SignerCmd::Identity { dir, unlock } => {
                let id = daemon::signer_identity(&dir, &unlock.spec())?;
                println!("{}", serde_json::to_string_pretty(&id)?);
                Ok(())
            }
            SignerCmd::Status(c) => runtime()?.block_on(signer_status(c)),
            SignerCmd::Run {
                dir,
                unlock,
                coordinators,
                ca,
                max_policy_age_hours,
                old_share_grace_hours,
                exit_on_stdin_eof,
            } => {
                let options = tessera_node::SignerOptions {
                    max_policy_age_secs: max_policy_age_hours.map(|h| h.saturating_mul(3600)),
                    old_share_grace: Duration::from_secs(old_share_grace_hours.saturating_mul(3600)),
                    ..Default::default()
                };
                daemon::run_signer(
                    &dir,
                    &unlock.spec(),
                    coordinators,
                    &ca,
                    options,
                    exit_on_stdin_eof,
                )
            }
        },
        Command::Coordinator {
            what:
                CoordinatorCmd::Run {
                    dir,
                    listen,
                    public_url,
                    tls_cert,
                    tls_key,
                    token_files,
                    degraded_margin,
                    health_grace_secs,
                    exit_on_stdin_eof,
                },
        } => daemon::run_coordinator(daemon::CoordinatorArgs {
            dir,
            listen,
            public_url,
            tls_cert,
            tls_key,
            token_files,
            degraded_margin,
            health_grace: std::time::Duration::from_secs(health_grace_secs),
            watch_stdin: exit_on_stdin_eof,
        }),
        Command::Bench { what } => bench_cmd(what),
    }
}

/// `tessera bench crypto | sign | lifecycle | soak`.
fn bench_cmd(what: Bench) -> Result<()> {
    match what {
        Bench::Crypto {
            json,
            iterations,
            slow_iterations,
            schemes,
            groups,
        } => {
            let mut opts = tessera_bench::Options {
                iterations,
                slow_iterations,
                ..Default::default()
            };
            opts.schemes = parse_schemes(&schemes)?;
            if !groups.is_empty() {
                opts.groups = groups
                    .iter()
                    .map(|g| parse_group(g))
                    .collect::<Result<_>>()?;
            }
            if opts.schemes.contains(&SchemeId::EcdsaDkls23) {
                eprintln!("warning: {}", SchemeId::EcdsaDkls23.audit_status());
            }
            let report = tessera_bench::run_crypto(&opts, |line| eprintln!("... {line}"));
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", tessera_bench::render_table(&report));
            }
            Ok(())
        }
        Bench::Sign {
            json,
            schemes,
            concurrency,
            duration,
            coordinator,
            skip_raw,
        } => {
            let opts = tessera_cli::benchsign::SignBenchOptions {
                schemes: parse_schemes(&schemes)?,
                concurrency,
                duration: Duration::from_secs(duration),
                cluster_dir: coordinator,
                skip_raw,
            };
            let rows =
                runtime()?.block_on(tessera_cli::benchsign::run(opts, |l| eprintln!("... {l}")))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", tessera_cli::benchsign::render(&rows));
            }
            Ok(())
        }
        Bench::Lifecycle {
            json,
            schemes,
            iterations,
            skip_raw,
        } => {
            use tessera_cli::benchlifecycle as lc;
            let opts = lc::LifecycleOptions {
                schemes: parse_schemes(&schemes)?,
                iterations,
                skip_raw,
            };
            let rows = runtime()?.block_on(lc::run(opts, |l| eprintln!("... {l}")))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", lc::render(&rows));
            }
            Ok(())
        }
        Bench::Soak {
            json,
            scheme,
            concurrency,
            calibrate,
            fraction,
            duration,
            sample,
            max_in_flight,
            grace,
            coordinator,
        } => {
            use tessera_cli::benchsoak as soak;
            let opts = soak::SoakOptions {
                scheme: parse_schemes(std::slice::from_ref(&scheme))?[0],
                concurrency,
                calibrate: Duration::from_secs(calibrate),
                fraction,
                duration: Duration::from_secs(duration),
                sample: Duration::from_secs(sample),
                max_in_flight,
                min_rate_ratio: 0.9,
                grace: Duration::from_secs(grace),
                cluster_dir: coordinator,
            };
            let report = runtime()?.block_on(soak::run(opts, |l| eprintln!("... {l}")))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", soak::render(&report));
            }
            if !report.passed {
                bail!("soak failed: {}", report.failures.join("; "));
            }
            Ok(())
        }
    }
}

async fn signer_status(c: ClusterArg) -> Result<()> {
    let f = ClusterFile::load(&c.cluster)?;
    let client = f.client_as(Role::Viewer)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let mut failed = 0;
    for s in &f.signers {
        match client.signer_view(&s.node_id).await {
            Ok(v) => println!(
                "{:<12} {}  (signed by the signer)",
                s.name,
                tessera_cli::governance::render_view(&v.view, now)
            ),
            Err(e) => {
                failed += 1;
                println!("{:<12} UNVERIFIED: {e}", s.name);
            }
        }
    }
    if failed > 0 {
        bail!("{failed} signer(s) gave no verified view");
    }
    Ok(())
}

/// What `tessera wallet create` asks for.
struct NewWallet<'a> {
    scheme: String,
    threshold: u16,
    id: Option<String>,
    signers: Vec<String>,
    networks: &'a [&'a str],
}

/// `tessera wallet create`: key generation, then the wallet as its signers vouch for it.
/// How a key operation runs: sent (and waited for unless `no_wait`), or prepared into a file
/// for approvers.
struct Run {
    no_wait: bool,
    prepare: Option<PathBuf>,
}

async fn wallet_reshare(cluster: &ClusterArg, id: &str, change: Change, how: Run) -> Result<()> {
    let f = ClusterFile::load(&cluster.cluster)?;
    if let Some(path) = &how.prepare {
        let op = tessera_cli::keyop::prepare_reshare(&f, id, &change).await?;
        tessera_cli::keyop::save_new(path, &op)?;
        eprintln!(
            "{}\nprepared in {}: approvers run `tessera key-op approve {0}`",
            op.describe(),
            path.display()
        );
        return Ok(());
    }
    let no_wait = how.no_wait;
    let (session, elapsed) = tessera_cli::reshare::run(&f, id, &change, !no_wait).await?;
    if no_wait {
        println!("{}", serde_json::to_string_pretty(&session)?);
        return Ok(());
    }
    let (w, vouched) = f.client_as(Role::Viewer)?.vouched_wallet(id).await?;
    println!("{}", serde_json::to_string_pretty(&w)?);
    eprintln!("{}", f.vouch_line(&vouched));
    eprintln!(
        "{id}: epoch {} ({}-of-{}), same key; took {:.1} s",
        w.epoch,
        w.threshold,
        w.signers.len(),
        elapsed.as_secs_f64()
    );
    Ok(())
}

async fn wallet_create(
    cluster: ClusterArg,
    new: NewWallet<'_>,
    no_wait: bool,
    prepare: Option<&std::path::Path>,
) -> Result<()> {
    let NewWallet {
        scheme,
        threshold,
        id,
        signers,
        networks,
    } = new;
    let f = ClusterFile::load(&cluster.cluster)?;
    let client = f.client_as(Role::Requester)?;
    let scheme = SchemeId::from_name(&scheme)
        .ok_or_else(|| anyhow::anyhow!("unknown scheme {scheme:?}; see `tessera schemes`"))?;
    let chosen = f.signer_ids(&signers)?;
    let id = id.unwrap_or_else(|| format!("w-{}", &tessera_client::random_id()[..12]));
    if let Some(path) = prepare {
        let new = tessera_client::NewWallet {
            wallet_id: &id,
            name: &id,
            scheme,
            threshold,
            signers: chosen,
            networks,
        };
        let ttl = tessera_client::PREPARED_TTL_SECS;
        let op = tessera_client::KeyOperation::create_wallet(&f.operator()?, new, ttl);
        tessera_cli::keyop::save_new(path, &op)?;
        eprintln!("{}\nprepared in {}", op.describe(), path.display());
        return Ok(());
    }
    let w = client
        .create_wallet(
            &f.operator()?,
            &id,
            &id,
            scheme,
            threshold,
            chosen,
            networks,
        )
        .await?;
    if no_wait {
        println!("{}", serde_json::to_string_pretty(&w)?);
        return Ok(());
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(format!("{}: distributed key generation", scheme.name()));
    loop {
        let w = client.wallet(&id).await?;
        match w.status {
            tessera_proto::api::WalletStatus::Creating => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            tessera_proto::api::WalletStatus::Failed
            | tessera_proto::api::WalletStatus::Retired => {
                bar.abandon();
                bail!("key generation failed: {}", w.error.unwrap_or_default())
            }
            tessera_proto::api::WalletStatus::Ready => {
                bar.finish_and_clear();
                let (w, vouched) = client.vouched_wallet(&id).await?;
                println!("{}", serde_json::to_string_pretty(&w)?);
                eprintln!("{}", f.vouch_line(&vouched));
                return Ok(());
            }
        }
    }
}

/// `tessera wallet refresh --all` / `--every`: rounds of refreshes, each wallet reported.
async fn wallet_refresh_schedule(
    cluster: &ClusterArg,
    id: Option<String>,
    every: Option<std::time::Duration>,
    rounds: Option<u32>,
) -> Result<()> {
    use tessera_cli::refresh_schedule::{run_schedule, Selection};
    let f = ClusterFile::load(&cluster.cluster)?;
    let selection = id.map_or(Selection::All, Selection::One);
    let (every, rounds) = match every {
        Some(e) => (e, rounds),
        None => (std::time::Duration::ZERO, Some(1)),
    };
    let failed = run_schedule(&f, &selection, every, rounds, |results| {
        for r in results {
            eprintln!("{}", r.line("refreshed"));
        }
    })
    .await?;
    if failed > 0 {
        bail!("{failed} wallet refresh(es) failed");
    }
    Ok(())
}

async fn wallet_cmd(what: WalletCmd) -> Result<()> {
    match what {
        WalletCmd::Create {
            cluster,
            scheme,
            threshold,
            id,
            signers,
            networks,
            no_wait,
            prepare,
        } => {
            let networks: Vec<&str> = networks.iter().map(String::as_str).collect();
            let new = NewWallet {
                scheme,
                threshold,
                id,
                signers,
                networks: &networks,
            };
            wallet_create(cluster, new, no_wait, prepare.as_deref()).await
        }
        WalletCmd::Refresh {
            cluster,
            id,
            all,
            every,
            rounds,
            no_wait,
            prepare,
        } => match (id, all, every) {
            (Some(id), false, None) => {
                let how = Run { no_wait, prepare };
                wallet_reshare(&cluster, &id, Change::Refresh, how).await
            }
            (id, _, every) => wallet_refresh_schedule(&cluster, id, every, rounds).await,
        },
        WalletCmd::ReplaceSigner {
            cluster,
            id,
            old,
            new,
            no_wait,
            prepare,
        } => {
            let how = Run { no_wait, prepare };
            wallet_reshare(&cluster, &id, Change::ReplaceSigner { old, new }, how).await
        }
        WalletCmd::Reshare {
            cluster,
            id,
            threshold,
            signers,
            no_wait,
            prepare,
        } => {
            let change = Change::Reshare { threshold, signers };
            wallet_reshare(&cluster, &id, change, Run { no_wait, prepare }).await
        }
        WalletCmd::Retire {
            cluster,
            id,
            prepare,
        } => {
            let f = ClusterFile::load(&cluster.cluster)?;
            let client = f.client_as(Role::Requester)?;
            let ttl = tessera_client::PREPARED_TTL_SECS;
            let op = client.prepare_retire(&f.operator()?, &id, ttl).await?;
            if let Some(path) = prepare {
                tessera_cli::keyop::save_new(&path, &op)?;
                eprintln!("{}\nprepared in {}", op.describe(), path.display());
                return Ok(());
            }
            println!("{}", tessera_cli::keyop::submit(&f, &op, true).await?);
            Ok(())
        }
        WalletCmd::List(c) => wallet_list(&c).await,
        WalletCmd::Show { cluster, id, path } => wallet_show(&cluster, &id, path.as_deref()).await,
        WalletCmd::Address {
            cluster,
            id,
            chain,
            network,
            path,
        } => {
            let f = ClusterFile::load(&cluster.cluster)?;
            let (w, key, vouched) = f.client_as(Role::Viewer)?.vouched_key(&id, &path).await?;
            let address = tessera_cli::vouch::address(&w, &key, &chain, &network)?;
            println!("{address}");
            eprintln!(
                "{} {path} on {chain} {network}: {}",
                w.wallet_id,
                f.vouch_line(&vouched)
            );
            Ok(())
        }
    }
}

async fn wallet_list(c: &ClusterArg) -> Result<()> {
    let f = ClusterFile::load(&c.cluster)?;
    for w in f.client_as(Role::Viewer)?.wallets().await? {
        println!(
            "{:<24} {:<26} {}-of-{}  epoch {}  {:?}  pool {}  {}",
            w.wallet_id,
            w.scheme.name(),
            w.threshold,
            w.signers.len(),
            w.epoch,
            w.status,
            w.pool,
            w.public_key.map(|k| k.to_hex()).unwrap_or_default()
        );
    }
    Ok(())
}

async fn wallet_show(cluster: &ClusterArg, id: &str, path: Option<&str>) -> Result<()> {
    let f = ClusterFile::load(&cluster.cluster)?;
    let client = f.client_as(Role::Viewer)?;
    let (w, vouched) = client.vouched_wallet(id).await?;
    println!("{}", serde_json::to_string_pretty(&w)?);
    eprintln!("{}", f.vouch_line(&vouched));
    if let Some(p) = path {
        let key = tessera_client::child_key(&w, p)?;
        let k = tessera_cli::vouch::derived_key(&w, p, key)?;
        println!("{}", serde_json::to_string_pretty(&k)?);
    }
    Ok(())
}

async fn tx_cmd(what: TxCmd) -> Result<()> {
    match what {
        TxCmd::Build { target, payload } => {
            let f = ClusterFile::load(&target.cluster.cluster)?;
            let v = tessera_cli::tx::build(
                &f.client_as(Role::Requester)?,
                &target.target(),
                &payload.input()?,
            )
            .await?;
            eprintln!("{}", v["summary"].as_str().unwrap_or_default());
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
        TxCmd::Sign {
            target,
            payload,
            json,
        } => {
            let f = ClusterFile::load(&target.cluster.cluster)?;
            let client = f.client_as(Role::Requester)?;
            let t =
                tessera_cli::tx::sign(&client, &f.operator()?, &target.target(), &payload.input()?)
                    .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else if let Some(signed) = &t.signed {
                eprintln!("{}", t.summary);
                eprintln!(
                    "request {}; verified by {}",
                    t.request_id,
                    tessera_cli::tx::verifier(signed)
                );
                println!(
                    "{}",
                    serde_json::to_string_pretty(&tessera_cli::tx::signed_fields(signed))?
                );
            }
            Ok(())
        }
        TxCmd::Show {
            cluster,
            wallet,
            request,
            json,
        } => {
            let f = ClusterFile::load(&cluster.cluster)?;
            let t = f
                .client_as(Role::Viewer)?
                .transaction(&wallet, &request, None)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                println!("{}", t.summary);
                println!("  status      {:?}", t.status);
                println!("  intent hash {}", t.intent_hash);
                println!("  signatures  {}", t.signatures.len());
                if let Some(e) = &t.error {
                    println!("  error       {}: {}", e.code, e.message);
                }
                if let Some(s) = &t.signed {
                    println!("  txid        {}", s.txid.clone().unwrap_or_default());
                    println!("  signed      {}", hex::encode(&s.bytes));
                }
            }
            Ok(())
        }
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Now in unix milliseconds: the default sequence number of a mode change.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

async fn decide_cmd(a: DecideArgs, decision: ApprovalDecision) -> Result<()> {
    let f = ClusterFile::load(&a.cluster.cluster)?;
    let key = match &a.key {
        Some(p) => governance::read_key(p)?,
        None => f.approver()?,
    };
    let client = f.client_as(Role::Approver)?;
    let info = governance::decide(&client, &key, &a.request, decision).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        print!("{}", governance::describe(&info));
    }
    Ok(())
}

/// The console's settings, each from its flag or else from `--cluster`'s `cluster.json`.
fn console_config(a: &ConsoleArgs) -> Result<tessera_cli::console::ConsoleConfig> {
    let file = a.cluster.as_deref().map(ClusterFile::load).transpose()?;
    let f = file.as_ref();
    let url = or_cluster(&a.url, f.map(|f| f.url.clone()), "url")?;
    let ca = or_cluster(&a.ca, f.map(|f| f.ca_file.clone()), "ca")?;
    let token_file = or_cluster(
        &a.token_file,
        f.map(|f| f.token_file(Role::Approver)),
        "token-file",
    )?;
    let key_file = or_cluster(
        &a.key_file,
        f.map(|f| f.approver_key_file.clone()),
        "key-file",
    )?;
    let ca_pem =
        std::fs::read_to_string(&ca).with_context(|| format!("reading {}", ca.display()))?;
    let token = zeroize::Zeroizing::new(
        std::fs::read_to_string(&token_file)
            .with_context(|| format!("reading {}", token_file.display()))?,
    );
    let mut client = tessera_client::Client::new(&url, &ca_pem, token.trim())?;
    // With trusted signers (the cluster file's, or `--trust`), payloads are parsed against the
    // wallet key those signers vouch for, derived here.
    let mut trusted = a.trust.clone();
    if let Some(f) = f {
        trusted.extend(f.trusted());
    }
    if !trusted.is_empty() {
        client = client.with_trusted_signers(trusted);
    }
    Ok(tessera_cli::console::ConsoleConfig {
        client,
        approver: governance::read_key(&key_file)?,
        coordinator: url,
    })
}

/// A flag's value, or else the cluster file's.
fn or_cluster<T: Clone>(flag: &Option<T>, from_cluster: Option<T>, name: &str) -> Result<T> {
    flag.clone()
        .or(from_cluster)
        .with_context(|| format!("give --{name} (or --cluster)"))
}

async fn console_cmd(a: ConsoleArgs) -> Result<()> {
    let config = console_config(&a)?;
    let approver = config.approver.public();
    let console = tessera_cli::console::Console::bind(a.listen, config).await?;
    println!("{}", console.url());
    eprintln!("approvals console for approver {approver}: open the URL above in your browser");
    eprintln!("  (it holds a session token: keep it to yourself). Ctrl-C stops.");
    console
        .serve(daemon::shutdown_signal(a.exit_on_stdin_eof))
        .await?;
    Ok(())
}

/// `tessera policy refresh`: an admin-signed freshness statement, delivered or written out.
async fn policy_refresh(
    cluster: ClusterArg,
    keys: Vec<PathBuf>,
    bundle: Option<PathBuf>,
    sign: Option<PathBuf>,
    out: Option<PathBuf>,
) -> Result<()> {
    let f = ClusterFile::load(&cluster.cluster)?;
    let client = f.client_as(Role::Admin)?;
    let mut statement = match sign {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text).context("not a policy freshness JSON")?
        }
        None => {
            let own: Option<SignedBundle> = match &bundle {
                Some(p) => Some(
                    serde_json::from_str(&std::fs::read_to_string(p)?)
                        .context("not a SignedBundle JSON")?,
                ),
                None => None,
            };
            tessera_cli::governance::freshness_now(&client, own.map(|b| b.bundle)).await?
        }
    };
    eprintln!(
        "statement: policy version {} (bundle {}), mode change {}",
        statement.policy_version,
        hex::encode(statement.bundle_hash),
        statement.mode_seq
    );
    let keys = governance::admin_keys(&f, &keys)?;
    for k in &keys {
        statement.sign(k);
    }
    match out {
        Some(path) => {
            std::fs::write(&path, serde_json::to_string_pretty(&statement)?)?;
            eprintln!(
                "wrote {} ({} signature(s))",
                path.display(),
                statement.admin_signatures.len()
            );
        }
        None => {
            let p = client.put_freshness(&statement).await?;
            eprintln!(
                "policy version {} (mode change {}) confirmed as of {}",
                statement.policy_version, statement.mode_seq, statement.issued_at
            );
            println!("{}", serde_json::to_string_pretty(&p)?);
        }
    }
    Ok(())
}

async fn policy_cmd(what: PolicyCmd) -> Result<()> {
    match what {
        PolicyCmd::Template { name } => {
            let text = tessera_policy::templates::by_name(&name).with_context(|| {
                format!("no template {name:?} (trading-desk-hot, treasury-cold, local-dev)")
            })?;
            print!("{text}");
        }
        PolicyCmd::Show { cluster } => {
            let f = ClusterFile::load(&cluster.cluster)?;
            let p = f.client_as(Role::Viewer)?.policy().await?;
            println!("{}", serde_json::to_string_pretty(&p)?);
        }
        PolicyCmd::Sign { bundle, key } => {
            let text = std::fs::read_to_string(&bundle)
                .with_context(|| format!("reading {}", bundle.display()))?;
            let signed = match serde_json::from_str::<SignedBundle>(&text) {
                Ok(s) => s,
                Err(_) => SignedBundle::new(
                    serde_json::from_str::<PolicyBundle>(&text)
                        .context("not a PolicyBundle or SignedBundle")?,
                ),
            };
            let mut signed = signed;
            signed.sign(&governance::read_key(&key)?);
            println!("{}", serde_json::to_string_pretty(&signed)?);
        }
        PolicyCmd::Push { cluster, bundle } => {
            let f = ClusterFile::load(&cluster.cluster)?;
            let text = std::fs::read_to_string(&bundle)
                .with_context(|| format!("reading {}", bundle.display()))?;
            let signed: SignedBundle =
                serde_json::from_str(&text).context("not a SignedBundle JSON")?;
            let p = f.client_as(Role::Admin)?.put_policy(&signed).await?;
            println!("{}", serde_json::to_string_pretty(&p)?);
        }
        PolicyCmd::Refresh {
            cluster,
            keys,
            bundle,
            sign,
            out,
        } => policy_refresh(cluster, keys, bundle, sign, out).await?,
    }
    Ok(())
}

async fn mode_cmd(what: ModeCmd) -> Result<()> {
    let (cluster, mode, reason, minutes, seq, keys) = match what {
        ModeCmd::Status { cluster, json } => {
            let f = ClusterFile::load(&cluster.cluster)?;
            let m = f.client_as(Role::Viewer)?.mode_status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                print!("{}", governance::render_mode_status(&m));
            }
            return Ok(());
        }
        ModeCmd::Propose {
            cluster,
            mode,
            reason,
            minutes,
            seq,
            out,
        } => {
            let client = ClusterFile::load(&cluster.cluster)?.client_as(Role::Admin)?;
            let tenant = client.policy().await?.tenant;
            let (mode, reason) = if mode == "recommended" {
                let m = client.mode_status().await?;
                let mode: tessera_policy::Mode =
                    m.recommended.parse().map_err(anyhow::Error::msg)?;
                (mode, reason.unwrap_or(m.recommendation))
            } else {
                let mode: tessera_policy::Mode = mode.parse().map_err(anyhow::Error::msg)?;
                let reason =
                    reason.context("--reason is required (it is kept in the audit logs)")?;
                (mode, reason)
            };
            let now = now_unix();
            let change = governance::mode_change(
                &tenant,
                seq.unwrap_or_else(now_ms),
                mode,
                &reason,
                now,
                minutes.saturating_mul(60),
                &[],
            );
            std::fs::write(&out, serde_json::to_string_pretty(&change)?)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {}: {} until {} (seq {}); each admin runs `tessera mode sign`, then \
                 `tessera mode push`",
                out.display(),
                change.mode,
                change.expires_at,
                change.seq
            );
            return Ok(());
        }
        ModeCmd::Sign { change, key } => {
            let text = std::fs::read_to_string(&change)
                .with_context(|| format!("reading {}", change.display()))?;
            let mut c: tessera_policy::ModeChange =
                serde_json::from_str(&text).context("not a ModeChange JSON")?;
            c.sign(&governance::read_key(&key)?);
            println!("{}", serde_json::to_string_pretty(&c)?);
            return Ok(());
        }
        ModeCmd::Push { cluster, change } => {
            let text = std::fs::read_to_string(&change)
                .with_context(|| format!("reading {}", change.display()))?;
            let c: tessera_policy::ModeChange =
                serde_json::from_str(&text).context("not a ModeChange JSON")?;
            let p = ClusterFile::load(&cluster.cluster)?
                .client_as(Role::Admin)?
                .put_mode(&c)
                .await?;
            println!("{}", serde_json::to_string_pretty(&p)?);
            return Ok(());
        }
        ModeCmd::Set {
            cluster,
            mode,
            reason,
            minutes,
            seq,
            keys,
        } => (cluster, mode, reason, minutes, seq, keys),
    };
    let f = ClusterFile::load(&cluster.cluster)?;
    let mode: tessera_policy::Mode = mode.parse().map_err(anyhow::Error::msg)?;
    let admins = governance::admin_keys(&f, &keys)?;
    let client = f.client_as(Role::Admin)?;
    let policy = client.policy().await?;
    let now = now_unix();
    let change = governance::mode_change(
        &policy.tenant,
        seq.unwrap_or_else(now_ms),
        mode,
        &reason,
        now,
        minutes.saturating_mul(60),
        &admins,
    );
    let p = client.put_mode(&change).await?;
    println!("{}", serde_json::to_string_pretty(&p)?);
    Ok(())
}

fn parse_group(g: &str) -> Result<(u16, u16)> {
    let Some((t, n)) = g.split_once("-of-") else {
        bail!("group must look like 2-of-3, got {g:?}");
    };
    let (t, n) = (t.parse()?, n.parse()?);
    tessera_crypto::ThresholdParams::new(t, n)?;
    Ok((t, n))
}

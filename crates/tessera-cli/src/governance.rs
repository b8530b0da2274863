//! Policy, approvals, operating modes and the audit log from the command line:
//! `tessera requests|approve|reject|policy|mode|audit|keys`.
//!
//! `tessera audit export --signer` and `tessera audit cross-check` read signers' own audit logs
//! through the coordinator, verified against the head each signer signed with its node identity
//! key (`tessera_proto::audit`), and cross-check them against the coordinator's log
//! (`tessera_audit::cross_check`).
//!
//! Approvers and admins are Ed25519 keys held in files (64 hex digits of the seed, see
//! `tessera_policy::SecretKey::to_text`); the coordinator only relays what they sign. Every
//! signer checks the approvals and the admin signatures again against its own policy.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;
use std::path::Path;

use anyhow::{bail, Context, Result};
use tessera_audit::Unmatched;
use tessera_client::Client;
use tessera_policy::{
    AdminSet, ApprovalDecision, Mode, ModeChange, PolicyBundle, PublicKey, SecretKey, SignedBundle,
};
use tessera_proto::api::{ModeStatus, RequestInfo, RequestState};
use tessera_proto::audit::{SignedHead, VerifiedSignerExport};
use tessera_wire::NodeId;

/// Tenant of a local cluster's policy.
pub const LOCAL_TENANT: &str = "local";

/// An unsigned freshness statement issued now for `own` (the admin's own copy of the bundle in
/// force) or, without it, the bundle the coordinator reports, and the coordinator's mode change
/// sequence. Each signer checks the statement against its own bundle and mode: one naming
/// anything else is refused, so a coordinator reporting an older policy gains nothing.
pub async fn freshness_now(
    client: &Client,
    own: Option<tessera_policy::PolicyBundle>,
) -> Result<tessera_policy::Freshness> {
    let bundle = match own {
        Some(b) => b,
        None => client.policy_bundle().await?.bundle,
    };
    let mode = client.mode_status().await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let mut f = tessera_policy::Freshness::new(&bundle, None, now);
    f.mode_seq = mode.seq;
    Ok(f)
}

/// One line of `tessera signer status`: what a signer says it holds.
pub fn render_view(v: &tessera_proto::view::View, now_unix: u64) -> String {
    let fresh = if v.policy_fresh_since == 0 {
        "never".to_string()
    } else {
        format!("{} s ago", now_unix.saturating_sub(v.policy_fresh_since))
    };
    format!(
        "policy v{} ({}…)  mode {} (change {})  confirmed {}  audit #{} {}…",
        v.policy_version,
        &hex::encode(v.bundle_hash)[..12],
        v.mode,
        v.mode_seq,
        fresh,
        v.audit_seq,
        &hex::encode(v.audit_hash)[..12],
    )
}

/// Reads a key file written by [`write_key`].
pub fn read_key(path: &Path) -> Result<SecretKey> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    SecretKey::from_text(&text).with_context(|| format!("{} is not a Tessera key", path.display()))
}

/// Writes a fresh key to `path` (mode 0600, never overwrites); returns its public key.
pub fn write_key(path: &Path) -> Result<PublicKey> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = SecretKey::generate(&mut rand_core::OsRng);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(key.to_text().as_bytes())?;
    Ok(key.public())
}

/// The local-dev policy bundle of a `tessera up` cluster: `operator` may request, `approver`
/// approves large token transfers, `admin` (quorum 1) signs the next version and mode changes.
pub fn local_dev_bundle(
    version: u64,
    operator: PublicKey,
    approver: PublicKey,
    admin: PublicKey,
    now_unix: u64,
) -> Result<PolicyBundle> {
    Ok(PolicyBundle {
        version,
        tenant: LOCAL_TENANT.into(),
        policies: tessera_policy::templates::LOCAL_DEV.into(),
        roles: BTreeMap::from([
            ("operator".to_string(), BTreeSet::from([operator])),
            ("approver".to_string(), BTreeSet::from([approver])),
        ]),
        admins: AdminSet::new([admin], 1)?,
        velocity: BTreeMap::new(),
        created_at: now_unix,
        quarantined: Default::default(),
    })
}

/// Approves or rejects `request_id` with `key`: the client re-parses a transaction's raw
/// payload with its own adapter and refuses if the coordinator's intent hash differs, then signs
/// (request id, intent hash, policy version, decision, expiry) and submits it.
pub async fn decide(
    client: &Client,
    key: &SecretKey,
    request_id: &str,
    decision: ApprovalDecision,
) -> Result<RequestInfo> {
    let info = client.request(request_id).await?;
    if info.state != RequestState::AwaitingApprovals {
        bail!(
            "request {request_id} is {} and takes no approvals",
            state_name(info.state)
        );
    }
    Ok(client.decide(key, request_id, decision).await?)
}

/// The admin keys an admin command signs with: the files given, or else the cluster's own
/// `admin.key`.
pub fn admin_keys(
    f: &crate::cluster::ClusterFile,
    files: &[std::path::PathBuf],
) -> Result<Vec<SecretKey>> {
    if files.is_empty() {
        return Ok(vec![f.admin()?]);
    }
    files.iter().map(|k| read_key(k)).collect()
}

/// Signs `bundle` with each admin key.
pub fn sign_bundle(bundle: PolicyBundle, admins: &[SecretKey]) -> SignedBundle {
    let mut signed = SignedBundle::new(bundle);
    for k in admins {
        signed.sign(k);
    }
    signed
}

/// A mode change signed by `admins`, in force from `now_unix` for `duration_s`.
pub fn mode_change(
    tenant: &str,
    seq: u64,
    mode: Mode,
    reason: &str,
    now_unix: u64,
    duration_s: u64,
    admins: &[SecretKey],
) -> ModeChange {
    let mut c = ModeChange::new(tenant, seq, mode, reason, now_unix, now_unix + duration_s);
    for k in admins {
        c.sign(k);
    }
    c
}

/// Verifies an audit export file offline; a readable line on success.
pub fn verify_audit_file(path: &Path) -> Result<String> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let report = tessera_audit::verify_export(BufReader::new(f))
        .with_context(|| format!("{} does not verify", path.display()))?;
    Ok(format!(
        "ok: {} entries of log {:?}, head {} #{}",
        report.entries,
        report.chain_id,
        hex::encode(report.head_hash),
        report.head_seq
    ))
}

/// snake_case name of a state.
pub fn state_name(s: RequestState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{s:?}"))
}

/// A request in a few readable lines.
pub fn describe(r: &RequestInfo) -> String {
    let mut out = format!(
        "{}  [{}]  wallet {}\n  {}\n",
        r.request_id,
        state_name(r.state),
        r.wallet_id,
        r.summary
    );
    if !r.risk_flags.is_empty() {
        out.push_str(&format!("  risk: {}\n", r.risk_flags.join(", ")));
    }
    if let Some(p) = &r.policy {
        out.push_str(&format!(
            "  policy v{}: {} ({})\n",
            p.version,
            p.decision,
            p.policy_ids.join(", ")
        ));
        for reason in &p.reasons {
            out.push_str(&format!("    - {reason}\n"));
        }
        if !p.quorum.is_empty() {
            let need: Vec<String> = p
                .quorum
                .iter()
                .map(|q| format!("{} x {}", q.count, q.role))
                .collect();
            out.push_str(&format!("  needs: {}\n", need.join(", ")));
        }
    }
    for a in &r.approvals {
        out.push_str(&format!(
            "  {:?} by {} (until {})\n",
            a.decision, a.approver, a.expires_at
        ));
    }
    if let Some(e) = &r.error {
        out.push_str(&format!("  error [{}]: {}\n", e.code, e.message));
    }
    out
}

/// `tessera mode status` as text: the mode in force, the recommendation, and the wallets
/// below the margin.
pub fn render_mode_status(m: &ModeStatus) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = write!(out, "mode         {}", m.mode);
    if let Some(at) = m.expires_at {
        let _ = write!(out, " (seq {}, until {at}: {})", m.seq, m.reason);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "recommended  {}: {}", m.recommended, m.recommendation);
    let _ = writeln!(
        out,
        "signers      {} of {} healthy (linked, on the bundle in force)",
        m.signers_healthy.len(),
        m.signers_enrolled
    );
    let _ = writeln!(
        out,
        "wallets      {} ready, {} below the margin of {} spare signer(s)",
        m.wallets_total, m.wallets_below_margin_count, m.margin
    );
    for w in &m.wallets_below_margin {
        let state = match w.state {
            tessera_proto::api::GroupHealth::Unavailable => "cannot sign",
            tessera_proto::api::GroupHealth::BelowMargin => "below margin",
            tessera_proto::api::GroupHealth::Healthy => "healthy",
        };
        let _ = writeln!(
            out,
            "  {:<24} {}/{} healthy, {} needed: {state}",
            w.wallet_id, w.healthy, w.signers, w.threshold
        );
    }
    out
}

/// `<file>.head.json`: where `tessera audit export --signer` writes the signed head next to
/// the export.
pub fn head_file(export: &Path) -> std::path::PathBuf {
    let mut name = export.as_os_str().to_owned();
    name.push(".head.json");
    name.into()
}

/// Writes a signer's verified export to `out` and its signed head to [`head_file`]; a readable
/// line.
pub fn write_signer_export(out: &Path, v: &VerifiedSignerExport) -> Result<String> {
    std::fs::write(out, &v.export).with_context(|| format!("writing {}", out.display()))?;
    let head = head_file(out);
    std::fs::write(&head, serde_json::to_string_pretty(&v.head)? + "\n")
        .with_context(|| format!("writing {}", head.display()))?;
    Ok(format!(
        "ok: {} entries of log {:?}, ends at its head #{} {} signed by signer {}; head in {}",
        v.report.entries,
        v.report.chain_id,
        v.head.seq,
        hex::encode(v.head.hash),
        v.head.node_id,
        head.display()
    ))
}

/// One signer's row of a cross-check.
#[derive(Debug, Clone)]
pub struct SignerCheck {
    /// Display name (or the file it came from).
    pub name: String,
    /// Node id, when known.
    pub node_id: Option<NodeId>,
    /// Entries in its log.
    pub entries: u64,
    /// Its head seq.
    pub head_seq: u64,
    /// Its head was verified against a signature by its node id.
    pub head_signed: bool,
    /// Signature and refusal entries the coordinator's log lacks.
    pub unmatched: Vec<Unmatched>,
    /// Why it could not be checked (fetch or verification failure).
    pub error: Option<String>,
}

impl SignerCheck {
    fn failed(name: String, node_id: Option<NodeId>, error: String) -> SignerCheck {
        SignerCheck {
            name,
            node_id,
            entries: 0,
            head_seq: 0,
            head_signed: false,
            unmatched: Vec::new(),
            error: Some(error),
        }
    }

    /// Verified and every entry matched.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.unmatched.is_empty()
    }
}

/// The outcome of `tessera audit cross-check`.
#[derive(Debug, Clone)]
pub struct CrossCheck {
    /// The coordinator's verified log (chain id, entries), or why it failed.
    pub coordinator: Result<(String, u64), String>,
    /// One row per signer.
    pub signers: Vec<SignerCheck>,
}

impl CrossCheck {
    /// Every export verified and no signer entry is unmatched.
    pub fn ok(&self) -> bool {
        self.coordinator.is_ok() && self.signers.iter().all(SignerCheck::ok)
    }

    /// The report: the coordinator's log, then a table (signer, entries, head seq, unmatched,
    /// status) with each unmatched entry under its signer.
    pub fn render(&self) -> String {
        let mut out = match &self.coordinator {
            Ok((chain, n)) => format!("coordinator log {chain:?}: ok, {n} entries\n"),
            Err(e) => format!("coordinator log: FAILED: {e}\n"),
        };
        out.push_str(&format!(
            "{:<20} {:<16} {:>8} {:>6} {:>9}  status\n",
            "signer", "node", "entries", "head", "unmatched"
        ));
        for s in &self.signers {
            let node = s
                .node_id
                .map(|n| n.to_string()[..16].to_string())
                .unwrap_or_else(|| "-".into());
            let status = match (&s.error, s.unmatched.is_empty(), s.head_signed) {
                (Some(e), _, _) => format!("FAILED: {e}"),
                (None, false, _) => "UNMATCHED".to_string(),
                (None, true, true) => "ok (signed head)".to_string(),
                (None, true, false) => "ok (chain only, no signed head)".to_string(),
            };
            out.push_str(&format!(
                "{:<20} {:<16} {:>8} {:>6} {:>9}  {status}\n",
                s.name,
                node,
                s.entries,
                s.head_seq,
                s.unmatched.len()
            ));
            for u in &s.unmatched {
                let kind = serde_json::to_string(&u.kind).unwrap_or_else(|_| u.kind.name().into());
                out.push_str(&format!(
                    "    unmatched: entry #{} {kind} request {}\n",
                    u.seq, u.subject
                ));
            }
        }
        out
    }
}

/// Cross-checks one signer's export against the coordinator's.
fn check_one(
    coordinator: &[u8],
    name: String,
    node_id: Option<NodeId>,
    signer: &[u8],
    head_signed: bool,
) -> SignerCheck {
    match tessera_audit::cross_check(coordinator, signer) {
        Ok(r) => SignerCheck {
            name,
            node_id,
            entries: r.signer.entries,
            head_seq: r.signer.head_seq,
            head_signed,
            unmatched: r.unmatched,
            error: None,
        },
        Err(e) => SignerCheck::failed(name, node_id, e.to_string()),
    }
}

fn coordinator_summary(export: &[u8]) -> Result<(String, u64), String> {
    tessera_audit::verify_export(export)
        .map(|r| (r.chain_id, r.entries))
        .map_err(|e| e.to_string())
}

/// `tessera audit cross-check --cluster`: the coordinator's export and every enrolled
/// signer's (fetched through the coordinator and verified against its signed head), each
/// signer cross-checked against the coordinator.
pub async fn cross_check_cluster(client: &Client) -> Result<CrossCheck> {
    let coordinator = client.audit_export().await?;
    let mut signers = Vec::new();
    for s in client.signers().await? {
        let row = match client.signer_audit_export(&s.node_id).await {
            Ok(v) => check_one(
                coordinator.as_bytes(),
                s.name.clone(),
                Some(s.node_id),
                v.export.as_bytes(),
                true,
            ),
            Err(e) => SignerCheck::failed(s.name.clone(), Some(s.node_id), e.to_string()),
        };
        signers.push(row);
    }
    Ok(CrossCheck {
        coordinator: coordinator_summary(coordinator.as_bytes()),
        signers,
    })
}

/// `tessera audit cross-check --coordinator FILE --signer FILE [--signer-head FILE
/// --signer-id HEX]`: offline, from files; with a head, the signer's export must verify against
/// it (signed by `signer_id`, ending exactly there).
pub fn cross_check_files(
    coordinator: &Path,
    signer: &Path,
    head: Option<(&Path, &str)>,
) -> Result<CrossCheck> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let coord = read(coordinator)?;
    let export = read(signer)?;
    let name = signer
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let row = match head {
        None => check_one(&coord, name, None, &export, false),
        Some((head_path, id)) => {
            let node: NodeId = id
                .parse()
                .with_context(|| format!("{id:?} is not a node id (64 hex digits)"))?;
            let head: SignedHead = serde_json::from_slice(&read(head_path)?)
                .with_context(|| format!("{} is not a signed head", head_path.display()))?;
            match tessera_proto::audit::verify_signer_export(&node, &export, &head, None) {
                Ok(_) => check_one(&coord, name, Some(node), &export, true),
                Err(e) => SignerCheck::failed(name, Some(node), e.to_string()),
            }
        }
    };
    Ok(CrossCheck {
        coordinator: coordinator_summary(&coord),
        signers: vec![row],
    })
}

//! Policy, approvals, operating modes and the audit log from the command line:
//! `tessera requests|approve|reject|policy|mode|audit|keys`.
//!
//! Approvers and admins are Ed25519 keys held in files (64 hex digits of the seed, see
//! `tessera_policy::SecretKey::to_text`); the coordinator only relays what they sign. Every
//! signer checks the approvals and the admin signatures again against its own policy.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;
use std::path::Path;

use anyhow::{bail, Context, Result};
use tessera_client::Client;
use tessera_policy::{
    AdminSet, ApprovalDecision, Mode, ModeChange, PolicyBundle, PublicKey, SecretKey, SignedBundle,
};
use tessera_proto::api::{ModeStatus, RequestInfo, RequestState};

/// Tenant of a local cluster's policy.
pub const LOCAL_TENANT: &str = "local";

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

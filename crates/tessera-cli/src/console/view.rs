//! What the console shows of a request, built from the coordinator's report **and this
//! process's own parse** of the raw payload ([`tessera_client::LocalIntent`]). The summary,
//! intent, intent hash and risk flags shown are always the local ones; the coordinator's claims
//! appear only next to them, flagged, when they differ. Pure functions: unit-tested with
//! tampered [`RequestInfo`]s.

use serde::Serialize;
use tessera_chains::Intent;
use tessera_client::LocalIntent;
use tessera_policy::{ApprovalDecision, PublicKey};
use tessera_proto::api::{ModeStatus, PolicyOutcome, RequestInfo, RequestState, WalletInfo};

use crate::governance::state_name;

/// How far the console could check a request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// Parsed here; the coordinator reported the same intent, hash, summary and flags.
    Verified,
    /// Parsed here; the coordinator reported something else. Never approvable.
    Mismatch,
    /// No chain payload to parse (a message or digest request): the coordinator's text only.
    Unverifiable,
    /// The payload could not be fetched or parsed here.
    Error,
}

/// The local parse of a request, or why there is none.
#[derive(Debug, Clone, Copy)]
pub enum Local<'a> {
    /// Parsed with this process's own chain adapter.
    Parsed(&'a LocalIntent),
    /// The request carries no chain payload.
    NoPayload,
    /// Fetching or parsing failed (the message says why; it holds no secret).
    Failed(&'a str),
}

/// What the coordinator claimed, shown only to explain a mismatch or an unverifiable request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reported {
    /// The coordinator's summary.
    pub summary: String,
    /// The coordinator's intent hash.
    pub intent_hash: String,
    /// The coordinator's risk flags.
    pub risk_flags: Vec<String>,
}

/// An approval as listed, with its signature checked here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalView {
    /// Approver key (hex).
    pub approver: String,
    /// Approve or reject.
    pub decision: ApprovalDecision,
    /// Expiry (unix seconds).
    pub expires_at: u64,
    /// The signature verifies (checked here, not by the coordinator).
    pub signature_valid: bool,
    /// Signed with this console's key.
    pub mine: bool,
}

/// A request awaiting approval, as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    /// Request id.
    pub request_id: String,
    /// Wallet.
    pub wallet_id: String,
    /// `transaction` or `sign`.
    pub kind: String,
    /// Lifecycle state (snake_case).
    pub state: String,
    /// Request expiry (unix seconds).
    pub expires_at: u64,
    /// How far this console checked it.
    pub verification: Verification,
    /// Chain, network and key path of the payload (local parse).
    pub chain: Option<String>,
    /// Network (local parse).
    pub network: Option<String>,
    /// Derivation path.
    pub path: Option<String>,
    /// The intent in plain language, rendered here (`Intent::render`); empty without a parse.
    pub summary: String,
    /// The intent parsed here.
    pub intent: Option<Intent>,
    /// The intent hash computed here (hex): what an approval from this console signs.
    pub intent_hash: Option<String>,
    /// Risk flags computed here.
    pub risk_flags: Vec<String>,
    /// Fields where the coordinator's report differs from the local parse.
    pub mismatches: Vec<String>,
    /// The coordinator's claims, when they differ or cannot be checked.
    pub reported: Option<Reported>,
    /// Why the payload could not be parsed here.
    pub problem: Option<String>,
    /// The policy outcome the coordinator reports (signers evaluate it again).
    pub policy: Option<PolicyOutcome>,
    /// Approvals so far.
    pub approvals: Vec<ApprovalView>,
    /// This console's decision on it, if any.
    pub my_decision: Option<ApprovalDecision>,
    /// The Approve button is live.
    pub can_approve: bool,
    /// The Reject button is live.
    pub can_reject: bool,
    /// Why not, when a button is off.
    pub note: Option<String>,
}

/// A finished request (the coordinator's summary, labelled as such by the page).
#[derive(Debug, Clone, Serialize)]
pub struct FinishedView {
    /// Request id.
    pub request_id: String,
    /// Wallet.
    pub wallet_id: String,
    /// Final state.
    pub state: String,
    /// Summary as the coordinator reports it.
    pub reported_summary: String,
    /// Failure, if any (`code: message`).
    pub error: Option<String>,
    /// Last state change (ms since epoch).
    pub updated_at_ms: u64,
}

/// One wallet in the wallets table: its parameters and share epoch as the coordinator reports
/// them, and whether this console's trusted signers vouch for that record (their attestations
/// cover the key, roster, threshold and epoch).
#[derive(Debug, Clone, Serialize)]
pub struct WalletView {
    /// Wallet id.
    pub wallet_id: String,
    /// Scheme name.
    pub scheme: String,
    /// `t-of-n`.
    pub group: String,
    /// `creating`, `ready` or `failed`.
    pub status: String,
    /// The share epoch in force.
    pub epoch: u32,
    /// A decided epoch still committing at its holders.
    pub committing_epoch: Option<u32>,
    /// `vouched` (with how many signers), `not vouched` (why), or `not checked` (this console
    /// has no trusted signers configured).
    pub vouch: String,
    /// Whether the record is vouched for (`None`: not checked).
    pub vouched: Option<bool>,
}

/// The view of `w`; `vouch` is the console's own check of its attestations (`None`: no trusted
/// signers configured).
pub fn wallet_view(w: &WalletInfo, vouch: Option<Result<usize, String>>) -> WalletView {
    let (vouch, vouched) = match vouch {
        None => (
            "not checked (no trusted signers configured)".to_string(),
            None,
        ),
        Some(Ok(by)) => (
            format!("vouched by {by} of {} signers", w.signers.len()),
            Some(true),
        ),
        Some(Err(why)) => (format!("NOT vouched: {why}"), Some(false)),
    };
    WalletView {
        wallet_id: w.wallet_id.clone(),
        scheme: w.scheme.name().to_string(),
        group: format!("{}-of-{}", w.threshold, w.signers.len()),
        status: serde_json::to_value(w.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        epoch: w.epoch,
        committing_epoch: w.committing_epoch,
        vouch,
        vouched,
    }
}

/// The operating mode banner.
#[derive(Debug, Clone, Serialize)]
pub struct ModeView {
    /// Mode in force.
    pub mode: String,
    /// Mode signer health calls for.
    pub recommended: String,
    /// Recommendation text.
    pub recommendation: String,
    /// Reason of the mode change in force.
    pub reason: String,
    /// Expiry of the mode change in force.
    pub expires_at: Option<u64>,
    /// Healthy signers.
    pub signers_healthy: usize,
    /// Enrolled signers.
    pub signers_enrolled: u32,
}

impl From<ModeStatus> for ModeView {
    fn from(m: ModeStatus) -> Self {
        ModeView {
            mode: m.mode,
            recommended: m.recommended,
            recommendation: m.recommendation,
            reason: m.reason,
            expires_at: m.expires_at,
            signers_healthy: m.signers_healthy.len(),
            signers_enrolled: m.signers_enrolled,
        }
    }
}

fn reported(info: &RequestInfo) -> Reported {
    Reported {
        summary: info.summary.clone(),
        intent_hash: info.intent_hash.clone(),
        risk_flags: info.risk_flags.clone(),
    }
}

fn approvals(info: &RequestInfo, me: &PublicKey) -> Vec<ApprovalView> {
    info.approvals
        .iter()
        .map(|a| ApprovalView {
            approver: a.approver.to_hex(),
            decision: a.decision,
            expires_at: a.expires_at,
            signature_valid: a.signature_valid(),
            mine: &a.approver == me,
        })
        .collect()
}

/// Builds the view of a pending request from the coordinator's `info` and the `local` parse,
/// for the approver `me` at `now` (unix seconds).
pub fn request_view(info: &RequestInfo, local: Local<'_>, me: &PublicKey, now: u64) -> RequestView {
    let approvals = approvals(info, me);
    let my_decision = approvals
        .iter()
        .find(|a| a.mine && a.signature_valid)
        .map(|a| a.decision);
    let mut v = RequestView {
        request_id: info.request_id.clone(),
        wallet_id: info.wallet_id.clone(),
        kind: info.kind.clone(),
        state: state_name(info.state),
        expires_at: info.expires_at,
        verification: Verification::Error,
        chain: None,
        network: None,
        path: None,
        summary: String::new(),
        intent: None,
        intent_hash: None,
        risk_flags: Vec::new(),
        mismatches: Vec::new(),
        reported: None,
        problem: None,
        policy: info.policy.clone(),
        approvals,
        my_decision,
        can_approve: false,
        can_reject: false,
        note: None,
    };
    match local {
        Local::Parsed(l) => {
            v.mismatches = l.mismatches(info).into_iter().map(String::from).collect();
            v.verification = if v.mismatches.is_empty() {
                Verification::Verified
            } else {
                v.reported = Some(reported(info));
                Verification::Mismatch
            };
            v.chain = Some(l.chain.clone());
            v.network = Some(l.network.clone());
            v.path = Some(l.path.clone());
            v.summary = l.summary();
            v.intent = Some(l.parsed.intent.clone());
            v.intent_hash = Some(hex::encode(l.intent_hash));
            v.risk_flags = l.risk_flags();
        }
        Local::NoPayload => {
            v.verification = Verification::Unverifiable;
            v.reported = Some(reported(info));
            v.intent_hash = Some(info.intent_hash.clone());
        }
        Local::Failed(why) => {
            v.problem = Some(why.to_string());
            v.reported = Some(reported(info));
        }
    }
    decide_buttons(&mut v, info, now);
    v
}

/// Sets `can_approve`, `can_reject` and `note`. Approving needs a verified parse; rejecting
/// needs a hash this console can stand behind (its own, or, without payload, the reported one).
fn decide_buttons(v: &mut RequestView, info: &RequestInfo, now: u64) {
    let blocked = if info.state != RequestState::AwaitingApprovals {
        Some(format!("The request is {}.", v.state))
    } else if let Some(d) = v.my_decision {
        Some(match d {
            ApprovalDecision::Approve => "You approved this request.".to_string(),
            ApprovalDecision::Reject => "You rejected this request.".to_string(),
        })
    } else if info.policy.is_none() {
        Some("No policy outcome: cannot decide.".to_string())
    } else if info.expires_at <= now {
        Some("Expired.".to_string())
    } else {
        None
    };
    if let Some(why) = blocked {
        v.note = Some(why);
        return;
    }
    match v.verification {
        Verification::Verified => {
            v.can_approve = true;
            v.can_reject = true;
        }
        Verification::Mismatch => {
            v.can_reject = true;
            v.note = Some(format!(
                "Refusing to approve: the coordinator reports another {} than the payload \
                 parsed here.",
                v.mismatches.join(", ")
            ));
        }
        Verification::Unverifiable => {
            v.can_reject = true;
            v.note = Some(
                "No chain payload: this console cannot check what is signed, so it only \
                 rejects. Approve with `tessera approve` if you trust the requester."
                    .to_string(),
            );
        }
        Verification::Error => {
            v.note = Some("The payload could not be parsed here: cannot decide.".to_string());
        }
    }
}

/// The view of a finished request.
pub fn finished_view(info: &RequestInfo) -> FinishedView {
    FinishedView {
        request_id: info.request_id.clone(),
        wallet_id: info.wallet_id.clone(),
        state: state_name(info.state),
        reported_summary: info.summary.clone(),
        error: info
            .error
            .as_ref()
            .map(|e| format!("{}: {}", e.code, e.message)),
        updated_at_ms: info.updated_at_ms,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::console::testkit::{erc20_request, local_intent, APPROVER_SEED};
    use tessera_policy::SecretKey;

    fn me() -> PublicKey {
        SecretKey::from_seed(&APPROVER_SEED).public()
    }

    #[test]
    fn an_honest_report_is_verified_and_approvable() {
        let local = local_intent(1_500_000_000);
        let info = erc20_request(&local);
        let v = request_view(&info, Local::Parsed(&local), &me(), 0);
        assert_eq!(v.verification, Verification::Verified);
        assert!(v.mismatches.is_empty());
        assert!(v.can_approve && v.can_reject);
        assert_eq!(v.summary, local.parsed.intent.render());
        assert!(v.summary.starts_with("Send 1"), "{}", v.summary);
        assert_eq!(v.intent_hash, Some(hex::encode(local.intent_hash)));
        assert!(v.reported.is_none());
    }

    #[test]
    fn a_lying_summary_is_flagged_and_not_approvable() {
        let local = local_intent(1_500_000_000);
        let mut info = erc20_request(&local);
        info.summary = "Send 1 USDC to a friend".into();
        let v = request_view(&info, Local::Parsed(&local), &me(), 0);
        assert_eq!(v.verification, Verification::Mismatch);
        assert_eq!(v.mismatches, ["summary"]);
        assert!(!v.can_approve);
        // The page shows the local rendering, and the lie only as the coordinator's claim.
        assert_eq!(v.summary, local.summary());
        assert_eq!(v.reported.unwrap().summary, "Send 1 USDC to a friend");
    }

    #[test]
    fn a_consistent_lie_about_another_payload_is_flagged() {
        // The coordinator reports the intent, hash, summary and flags of a harmless 1 USDC
        // transfer, but hands over the 1,500 USDC payload.
        let real = local_intent(1_500_000_000);
        let fake = local_intent(1_000_000);
        let info = erc20_request(&fake);
        let v = request_view(&info, Local::Parsed(&real), &me(), 0);
        assert_eq!(v.verification, Verification::Mismatch);
        assert_eq!(v.mismatches, ["intent hash", "intent", "summary"]);
        assert!(!v.can_approve);
        assert!(
            v.can_reject,
            "a rejection over the local hash is still useful"
        );
        assert_eq!(v.summary, real.summary());
        assert_eq!(v.intent_hash, Some(hex::encode(real.intent_hash)));
        assert_ne!(real.summary(), fake.summary());
    }

    #[test]
    fn tampered_risk_flags_are_flagged() {
        let local = local_intent(1_500_000_000);
        let mut info = erc20_request(&local);
        info.risk_flags.clear();
        info.risk_flags.push("none".into());
        let v = request_view(&info, Local::Parsed(&local), &me(), 0);
        assert_eq!(v.mismatches, ["risk flags"]);
        assert!(!v.can_approve);
    }

    #[test]
    fn requests_without_payload_or_parse_are_never_approvable() {
        let local = local_intent(1_500_000_000);
        let info = erc20_request(&local);
        let v = request_view(&info, Local::NoPayload, &me(), 0);
        assert_eq!(v.verification, Verification::Unverifiable);
        assert!(!v.can_approve && v.can_reject);
        assert!(
            v.summary.is_empty(),
            "the coordinator's text is not shown as ours"
        );
        let v = request_view(&info, Local::Failed("bad payload"), &me(), 0);
        assert_eq!(v.verification, Verification::Error);
        assert!(!v.can_approve && !v.can_reject);
    }

    #[test]
    fn expired_or_already_decided_requests_take_no_decision() {
        let local = local_intent(1_500_000_000);
        let mut info = erc20_request(&local);
        let v = request_view(&info, Local::Parsed(&local), &me(), info.expires_at);
        assert!(!v.can_approve && !v.can_reject);
        let key = SecretKey::from_seed(&APPROVER_SEED);
        info.approvals.push(tessera_policy::Approval::sign(
            &key,
            &info.request_id,
            local.intent_hash,
            1,
            ApprovalDecision::Approve,
            info.expires_at,
        ));
        let v = request_view(&info, Local::Parsed(&local), &me(), 0);
        assert_eq!(v.my_decision, Some(ApprovalDecision::Approve));
        assert!(v.approvals[0].mine && v.approvals[0].signature_valid);
        assert!(!v.can_approve);
    }
}

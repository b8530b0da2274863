//! Approvals: quorum counting and every way an approval can be wrong.

use tessera_policy::*;

use crate::common::*;

const REQ: &str = "req-42";
const HASH: [u8; 32] = [0x42; 32];
const EXP: u64 = NOW + 600;

fn b() -> PolicyBundle {
    bundle(3, r#"@id("all") permit (principal, action, resource);"#)
}

fn approve(n: u8) -> Approval {
    Approval::sign(&key(n), REQ, HASH, 3, ApprovalDecision::Approve, EXP)
}

fn check(q: &Quorum, approvals: &[Approval]) -> Result<(), ApprovalError> {
    check_quorum(q, approvals, &b(), REQ, &HASH, 3, NOW)
}

fn treasury(n: u32) -> Quorum {
    quorum(&[("treasury-approver", n)])
}

#[test]
fn distinct_approvers_meet_the_quorum() {
    check(&treasury(2), &[approve(20), approve(21)]).unwrap();
    check(&treasury(2), &[approve(22), approve(20), approve(21)]).unwrap();
    assert_eq!(
        check(&treasury(2), &[approve(20)]),
        Err(ApprovalError::QuorumNotMet {
            role: "treasury-approver".into(),
            have: 1,
            need: 2
        })
    );
    // The same approver twice counts once.
    assert_eq!(
        check(&treasury(2), &[approve(20), approve(20)]),
        Err(ApprovalError::QuorumNotMet {
            role: "treasury-approver".into(),
            have: 1,
            need: 2
        })
    );
    // An empty quorum needs nothing.
    check(&Quorum::none(), &[]).unwrap();
}

#[test]
fn an_approver_in_two_roles_counts_once_per_role() {
    // 20 is in treasury-approver and risk.
    let q = quorum(&[("treasury-approver", 2), ("risk", 1)]);
    check(&q, &[approve(20), approve(21)]).unwrap();
    // But never twice in the same role.
    let q = quorum(&[("treasury-approver", 1), ("risk", 2)]);
    assert_eq!(
        check(&q, &[approve(20), approve(20), approve(21)]),
        Err(ApprovalError::QuorumNotMet {
            role: "risk".into(),
            have: 1,
            need: 2
        })
    );
    check(&q, &[approve(20), approve(30)]).unwrap();
}

#[test]
fn approvers_outside_the_quorum_roles_are_refused() {
    // 10 is a desk approver, not a treasury approver; 99 is nobody.
    assert_eq!(
        check(&treasury(1), &[approve(20), approve(10)]),
        Err(ApprovalError::NotAnApprover { approver: pk(10) })
    );
    assert_eq!(
        check(&treasury(1), &[approve(99)]),
        Err(ApprovalError::NotAnApprover { approver: pk(99) })
    );
}

#[test]
fn tampering_with_any_field_is_forged() {
    let good = approve(20);
    check(&treasury(1), std::slice::from_ref(&good)).unwrap();
    let mut cases: Vec<(&str, Approval)> = Vec::new();
    let mut t = |what, f: &dyn Fn(&mut Approval)| {
        let mut a = good.clone();
        f(&mut a);
        cases.push((what, a));
    };
    t("request_id", &|a| a.request_id = "req-43".into());
    t("intent_hash", &|a| a.intent_hash[0] ^= 1);
    t("policy_version", &|a| a.policy_version = 4);
    t("decision", &|a| a.decision = ApprovalDecision::Reject);
    t("expires_at", &|a| a.expires_at += 1);
    t("approver", &|a| a.approver = pk(21));
    t("signature", &|a| a.signature[0] ^= 1);
    for (what, a) in cases {
        let approver = a.approver;
        assert_eq!(
            check(&treasury(1), &[a]),
            Err(ApprovalError::Forged { approver }),
            "{what}"
        );
    }
}

#[test]
fn genuine_approvals_for_something_else_are_refused() {
    let k = key(20);
    let a = Approval::sign(&k, "req-other", HASH, 3, ApprovalDecision::Approve, EXP);
    assert_eq!(
        check(&treasury(1), &[a]),
        Err(ApprovalError::WrongRequest { approver: pk(20) })
    );
    let a = Approval::sign(&k, REQ, [0x43; 32], 3, ApprovalDecision::Approve, EXP);
    assert_eq!(
        check(&treasury(1), &[a]),
        Err(ApprovalError::WrongIntent { approver: pk(20) })
    );
    let a = Approval::sign(&k, REQ, HASH, 2, ApprovalDecision::Approve, EXP);
    assert_eq!(
        check(&treasury(1), &[a]),
        Err(ApprovalError::WrongPolicyVersion {
            approver: pk(20),
            expected: 3,
            got: 2
        })
    );
    // Expired at exactly `expires_at` (exclusive).
    let a = Approval::sign(&k, REQ, HASH, 3, ApprovalDecision::Approve, NOW);
    assert_eq!(
        check(&treasury(1), &[a]),
        Err(ApprovalError::Expired {
            approver: pk(20),
            expires_at: NOW,
            now: NOW
        })
    );
    // The signer's own version must be the bundle's.
    assert!(matches!(
        check_quorum(&treasury(1), &[approve(20)], &b(), REQ, &HASH, 4, NOW),
        Err(ApprovalError::WrongPolicyVersion { .. })
    ));
    // One bad approval among enough good ones still refuses (typed, deterministic).
    let late = Approval::sign(&key(22), REQ, HASH, 3, ApprovalDecision::Approve, NOW - 1);
    assert!(matches!(
        check(&treasury(2), &[approve(20), approve(21), late]),
        Err(ApprovalError::Expired { .. })
    ));
}

#[test]
fn a_rejection_by_a_member_rejects() {
    let reject = |n: u8| Approval::sign(&key(n), REQ, HASH, 3, ApprovalDecision::Reject, EXP);
    assert_eq!(
        check(&treasury(2), &[approve(20), approve(21), reject(22)]),
        Err(ApprovalError::Rejected { by: pk(22) })
    );
    // Even when the same member also approved, and whatever else is wrong.
    let forged = {
        let mut a = approve(23);
        a.signature[1] ^= 1;
        a
    };
    let by = pk(21).min(pk(20));
    assert_eq!(
        check(&treasury(1), &[forged, reject(21), approve(20), reject(20)]),
        Err(ApprovalError::Rejected { by })
    );
    // A rejection by a non-member is not a rejection.
    assert_eq!(
        check(&treasury(1), &[approve(20), reject(10)]),
        Err(ApprovalError::NotAnApprover { approver: pk(10) })
    );
}

#[test]
fn approval_serde_round_trip() {
    let a = approve(20);
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains(r#""decision":"approve""#), "{json}");
    let back: Approval = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
    assert!(back.signature_valid());
    let bytes = Approval::signing_bytes(REQ, &HASH, 3, ApprovalDecision::Approve, EXP, &pk(20));
    assert!(bytes.starts_with(&[&19u64.to_be_bytes()[..], b"tessera/approval/v1"].concat()));
}

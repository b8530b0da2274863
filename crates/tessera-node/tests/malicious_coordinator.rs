//! The malicious-coordinator suite: the test plays an adversarial coordinator that feeds frames
//! straight to real signers (real vaults, real audit logs) and tries to get signatures it should
//! not get — a payload other than the approved intent, too few or forged approvals, a replayed
//! approval or request, an expired approval, a stale policy version, a velocity limit split
//! across requests, a raw digest the policy does not allow, signing in lockdown. Every signer
//! refuses each with the exact typed reason, and no presignature is consumed by a refusal (the
//! presigned path is used wherever a pool exists; counts are checked before and after, and the
//! very same presignature then serves the genuine request). Policy updates need the admin
//! quorum and a newer version, and every signer reaches byte-identical decisions.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;

use common::*;
use serde_json::json;
use tessera_audit::{EntryKind, RefusalReason};
use tessera_chains::{registry, ChainAdapter, Parsed, Payload, PublicKey, Registry, WalletKey};
use tessera_crypto::{scheme, DerivationPath, PresignPublic, SchemeId, SignMessage};
use tessera_policy::{
    signing_request, Approval, ApprovalDecision, Decision, DenyReason, Freshness, Mode,
    PolicyBundle, SecretKey, VelocityLimit, VelocityRule,
};
use tessera_proto::api::{WalletInfo, WalletStatus};
use tessera_proto::attestation::{verify_wallet, VouchError, WalletAttestation, WalletStatement};
use tessera_proto::link::{FailureKind, FromSigner, Job, Outcome, ToSigner, TxContext};
use tessera_wire::{Action, Authorization, IdentityKey};

/// Transfers up to 1 SOL sign without approval, larger ones need two approvers; messages sign;
/// operators create wallets; nothing permits raw digests.
const POLICY: &str = r#"
@id("small-transfers")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"sign_transaction",
  resource
)
when { context.kind == "transfer" && context.amount.units.lessThanOrEqual(decimal("1.0")) };

@id("large-transfers")
@approvals("approver:2")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"sign_transaction",
  resource
)
when { context.kind == "transfer" && context.amount.units.greaterThan(decimal("1.0")) };

@id("messages")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"sign_message",
  resource
);

@id("create-wallet")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"create_wallet",
  resource
);
"#;

const SOL: u64 = 1_000_000_000;
/// The fee of a one-signature Solana transfer (5,000 lamports), which policy counts toward the
/// SOL amount and velocity: `SOL - FEE` is exactly 1 SOL to the policy.
const FEE: u64 = 5_000;
const WALLET: &str = "w";

/// A 2-of-3 Ed25519 wallet under [`POLICY`] (plus `velocity_limit` lamports per day, if any).
struct Setup {
    g: Group,
    pk: PublicKey,
    chain_code: [u8; 32],
    chains: Registry,
}

impl Setup {
    fn new(name: &str, velocity_limit: Option<u64>) -> Setup {
        Setup::with_policy(name, POLICY, velocity_limit)
    }

    /// As [`Setup::new`], under `policies` instead of [`POLICY`].
    fn with_policy(name: &str, policies: &str, velocity_limit: Option<u64>) -> Setup {
        let g = Group::bare(name, 3);
        let bundle = suite_bundle(&g, 1, policies, velocity_limit);
        Setup::with_bundle(g, bundle)
    }

    /// A wallet under [`POLICY`] and one velocity rule, `rule`.
    fn with_rule(name: &str, rule: VelocityRule) -> Setup {
        let g = Group::bare(name, 3);
        let mut bundle = suite_bundle(&g, 1, POLICY, None);
        bundle.velocity.insert("the-rule".into(), rule);
        Setup::with_bundle(g, bundle)
    }

    fn with_bundle(mut g: Group, bundle: PolicyBundle) -> Setup {
        let b = g.sign_bundle(bundle, &[0, 1]);
        g.install_ok(&b);
        let (pk, chain_code) = g.keygen(WALLET, SchemeId::Ed25519, 2);
        Setup {
            g,
            pk,
            chain_code,
            chains: registry(),
        }
    }

    fn sol(&self) -> &dyn ChainAdapter {
        self.chains.get("solana").unwrap()
    }

    fn wallet_key(&self) -> WalletKey<'_> {
        WalletKey {
            scheme: SchemeId::Ed25519,
            public_key: &self.pk,
        }
    }

    /// A transfer of `lamports` to a fixed destination: the raw payload and its parse.
    fn transfer(&self, lamports: u64) -> (Payload, Parsed) {
        let dest = address(self.sol(), &PublicKey::Ed25519([9u8; 32]));
        let spec = json!({
            "recent_blockhash": address(self.sol(), &PublicKey::Ed25519([4u8; 32])),
            "transfers": [{"to": dest, "lamports": lamports}]
        });
        let payload = self
            .sol()
            .build("devnet", self.wallet_key(), &spec)
            .unwrap();
        let parsed = self
            .sol()
            .parse("devnet", self.wallet_key(), &payload)
            .unwrap();
        (payload, parsed)
    }

    /// The requester's authorization of `parsed` under `request_id`.
    fn authorize(&self, request_id: &str, parsed: &Parsed, expires_at: u64) -> Authorization {
        Authorization::sign(
            &self.g.operator,
            request_id.to_string(),
            Action::SignTransaction {
                wallet_id: WALLET.into(),
                path: "m".into(),
                chain: "solana".into(),
                network: "devnet".into(),
                intent_hash: parsed.intent_hash().unwrap(),
            },
            expires_at,
        )
    }

    /// A presignature at signers 0 and 1.
    fn presign(&mut self) -> PresignPublic {
        let mut public = None;
        for a in self.g.run(
            WALLET,
            &[0, 1],
            Job::Presign {
                signers: vec![0, 1],
            },
        ) {
            if let Outcome::Presign(p) = a.expect("presign") {
                public = Some(p);
            }
        }
        public.unwrap()
    }

    /// Combines the partials of a presigned job and has Solana's own verifier check the result.
    fn verify_partials(
        &self,
        answers: Vec<Answer>,
        presig: &PresignPublic,
        payload: &Payload,
        parsed: &Parsed,
    ) {
        let partials: Vec<_> = answers
            .into_iter()
            .map(|a| match a.expect("the genuine request signs") {
                Outcome::Partial(p) => p,
                o => panic!("unexpected {o:?}"),
            })
            .collect();
        let sig = scheme(SchemeId::Ed25519)
            .combine(
                &self.pk,
                &self.chain_code,
                presig,
                &partials,
                &parsed.messages[0],
                &DerivationPath::root(),
            )
            .unwrap();
        let signed = self
            .sol()
            .finalize("devnet", self.wallet_key(), payload, &[sig])
            .unwrap();
        self.sol()
            .verify("devnet", self.wallet_key(), payload, &signed)
            .unwrap();
    }
}

fn suite_bundle(
    g: &Group,
    version: u64,
    policies: &str,
    velocity_limit: Option<u64>,
) -> PolicyBundle {
    let mut b = g.bundle(version, policies);
    if let Some(limit) = velocity_limit {
        b.velocity.insert(
            "sol-per-day".into(),
            VelocityRule {
                wallet: None,
                asset: "solana:devnet:native".parse().unwrap(),
                window_s: 86_400,
                limit: VelocityLimit::Amount(tessera_policy::BaseUnits::from_u128(limit.into())),
            },
        );
    }
    b
}

fn address(sol: &dyn ChainAdapter, pk: &PublicKey) -> String {
    sol.address(
        "devnet",
        WalletKey {
            scheme: SchemeId::Ed25519,
            public_key: pk,
        },
    )
    .unwrap()
    .address
}

fn presigned(
    presignature: [u8; 32],
    payload: &Payload,
    message: &SignMessage,
    authorization: &Authorization,
    policy_version: u64,
    approvals: Vec<Approval>,
) -> Job {
    Job::SignPresigned {
        presignature,
        signers: vec![0, 1],
        message: message.clone(),
        path: "m".into(),
        authorization: authorization.clone(),
        transaction: Some(TxContext {
            chain: "solana".into(),
            network: "devnet".into(),
            payload: payload.clone(),
            index: 0,
        }),
        policy_version,
        approvals,
    }
}

/// Every answer is a refusal of `kind`.
fn refused(answers: Vec<Answer>, kind: FailureKind, what: &str) {
    assert!(!answers.is_empty());
    for a in answers {
        match a {
            Err(f) => assert_eq!(f.kind, kind, "{what}: {}", f.message),
            Ok(o) => panic!("{what}: a signer took part: {o:?}"),
        }
    }
}

/// The refusal reasons signer `i` audited, in order.
fn audited_refusals(g: &Group, i: usize) -> Vec<RefusalReason> {
    g.nodes[i]
        .audit
        .log
        .entries(0, 10_000)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EntryKind::Refusal(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// (a) another payload than the approved one, (b) too few and forged approvals, (c) a replayed
/// approval and a replayed request, (d) an expired approval or authorization: refused by every
/// signer with the exact reason, consuming nothing; the same presignature then signs the
/// genuine request, and each signer's audit log records every refusal and the signature.
#[test]
fn approvals_and_payloads_are_checked_by_every_signer() {
    let mut s = Setup::new("mal-approvals", None);
    let p = s.presign();
    let before = s.g.presignatures(WALLET);
    assert_eq!(before, vec![1, 1, 0]);
    let later = now_unix() + 300;

    // 1.5 SOL needs two approvers.
    let (payload, parsed) = s.transfer(3 * SOL / 2);
    let hash = parsed.intent_hash().unwrap();
    let r1 = random_id();
    let auth = s.authorize(&r1, &parsed, later);
    let approvals = vec![
        s.g.approve(0, &r1, hash, 1, later),
        s.g.approve(1, &r1, hash, 1, later),
    ];
    let job = |payload: &Payload, m: &SignMessage, a: &Authorization, ap: Vec<Approval>| {
        presigned(p.id(), payload, m, a, 1, ap)
    };
    let msg0 = parsed.messages[0].clone();

    // (a) Another payload (9 SOL) under the approved request and its approvals.
    let (evil_payload, evil) = s.transfer(9 * SOL);
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            job(&evil_payload, &evil.messages[0], &auth, approvals.clone()),
        ),
        FailureKind::PayloadRejected,
        "(a) another payload",
    );
    // ... or a genuine request for it that carries the approvals of the other request.
    let r2 = random_id();
    let auth2 = s.authorize(&r2, &evil, later);
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            job(&evil_payload, &evil.messages[0], &auth2, approvals.clone()),
        ),
        FailureKind::ApprovalsInvalid,
        "(a) approvals of another request and intent",
    );
    // ... or approvals for this request id that approved the other intent.
    let wrong_intent = vec![
        s.g.approve(0, &r2, hash, 1, later),
        s.g.approve(1, &r2, hash, 1, later),
    ];
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            job(&evil_payload, &evil.messages[0], &auth2, wrong_intent),
        ),
        FailureKind::ApprovalsInvalid,
        "(a) approvals of another intent",
    );

    // (b) Too few approvals: none, one, the same approver twice.
    for (ap, what) in [
        (vec![], "(b) no approval"),
        (vec![approvals[0].clone()], "(b) one approval"),
        (
            vec![approvals[0].clone(), approvals[0].clone()],
            "(b) one approver twice",
        ),
    ] {
        refused(
            s.g.run(WALLET, &[0, 1], job(&payload, &msg0, &auth, ap)),
            FailureKind::ApprovalsInvalid,
            what,
        );
    }
    // Forged: a key outside the approver role, an altered approval, a signature by another
    // key under an approver's name.
    let rogue = SecretKey::generate(&mut rand_core::OsRng);
    let outsider = Approval::sign(&rogue, &r1, hash, 1, ApprovalDecision::Approve, later);
    let mut altered = approvals[1].clone();
    altered.expires_at += 1;
    let mut impostor = outsider.clone();
    impostor.approver = s.g.approvers[2].public();
    for (second, what) in [
        (outsider, "(b) approval by a non-approver"),
        (altered, "(b) altered approval"),
        (impostor, "(b) approval signed by another key"),
    ] {
        refused(
            s.g.run(
                WALLET,
                &[0, 1],
                job(&payload, &msg0, &auth, vec![approvals[0].clone(), second]),
            ),
            FailureKind::ApprovalsInvalid,
            what,
        );
    }
    // A quorum member's rejection wins over two approvals.
    let reject = Approval::sign(
        &s.g.approvers[2],
        &r1,
        hash,
        1,
        ApprovalDecision::Reject,
        later,
    );
    let mut with_reject = approvals.clone();
    with_reject.push(reject);
    refused(
        s.g.run(WALLET, &[0, 1], job(&payload, &msg0, &auth, with_reject)),
        FailureKind::ApprovalsInvalid,
        "(b) a rejection",
    );

    // (c) The approvals of request r1, replayed for another request of the very same payload.
    let r3 = random_id();
    let auth3 = s.authorize(&r3, &parsed, later);
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            job(&payload, &msg0, &auth3, approvals.clone()),
        ),
        FailureKind::ApprovalsInvalid,
        "(c) replayed approvals",
    );

    // (d) An expired approval; an expired authorization.
    let expired = vec![
        s.g.approve(0, &r1, hash, 1, now_unix() - 1),
        approvals[1].clone(),
    ];
    refused(
        s.g.run(WALLET, &[0, 1], job(&payload, &msg0, &auth, expired)),
        FailureKind::Expired,
        "(d) expired approval",
    );
    let stale_auth = s.authorize(&r1, &parsed, now_unix() - 1);
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            job(&payload, &msg0, &stale_auth, approvals.clone()),
        ),
        FailureKind::Expired,
        "(d) expired authorization",
    );

    // Nothing was consumed: the same presignature serves the genuine request.
    assert_eq!(s.g.presignatures(WALLET), before);
    let answers = s.g.run(
        WALLET,
        &[0, 1],
        job(&payload, &msg0, &auth, approvals.clone()),
    );
    s.verify_partials(answers, &p, &payload, &parsed);
    assert_eq!(s.g.presignatures(WALLET), vec![0, 0, 0]);

    // (c) The signed request replayed, on a fresh presignature and on the full path.
    let p2 = s.presign();
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            presigned(p2.id(), &payload, &msg0, &auth, 1, approvals.clone()),
        ),
        FailureKind::Replayed,
        "(c) replayed request, presigned",
    );
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            Job::Sign {
                signers: vec![0, 1],
                message: msg0.clone(),
                path: "m".into(),
                authorization: auth.clone(),
                transaction: Some(TxContext {
                    chain: "solana".into(),
                    network: "devnet".into(),
                    payload: payload.clone(),
                    index: 0,
                }),
                policy_version: 1,
                approvals: approvals.clone(),
            },
        ),
        FailureKind::Replayed,
        "(c) replayed request, full",
    );
    assert_eq!(s.g.presignatures(WALLET), vec![1, 1, 0]);

    // Each signer's own log holds every refusal, with its reason, and the signature.
    use RefusalReason::*;
    let expected = vec![
        IntentMismatch,
        InvalidApproval,
        InvalidApproval,
        InsufficientApprovals,
        InsufficientApprovals,
        InsufficientApprovals,
        InvalidApproval,
        InvalidApproval,
        InvalidApproval,
        Other("approval_rejected".into()),
        InvalidApproval,
        Expired,
        Expired,
        Replayed,
        Replayed,
    ];
    for i in 0..2 {
        assert_eq!(audited_refusals(&s.g, i), expected, "signer {i}");
        let log = &s.g.nodes[i].audit.log;
        let signed = log.find(&r1, Some("signature")).unwrap();
        assert_eq!(signed.len(), 1, "signer {i}: one signature entry");
        assert_eq!(signed[0].body["intent_hash"], json!(hex::encode(hash)));
        assert_eq!(signed[0].body["policy_ids"], json!(["large-transfers"]));
        log.verify().unwrap();
    }
    assert!(audited_refusals(&s.g, 2).is_empty());
}

/// (e) A job under another policy version than the signer's, or approvals given under an older
/// version, is refused as stale. Bundle updates need the admin quorum and a newer version; a
/// refused update leaves the version in force, an accepted one survives a restart.
#[test]
fn stale_policy_versions_and_bundle_updates() {
    let mut s = Setup::new("mal-stale", None);
    let p = s.presign();
    let later = now_unix() + 300;
    let (payload, parsed) = s.transfer(SOL / 2);
    let auth = s.authorize(&random_id(), &parsed, later);
    let msg0 = parsed.messages[0].clone();
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            presigned(p.id(), &payload, &msg0, &auth, 2, vec![]),
        ),
        FailureKind::StalePolicy,
        "(e) newer version claimed",
    );

    // Refused updates: too few admins, a non-admin, the same version, garbage.
    let v2 = suite_bundle(&s.g, 2, POLICY, None);
    let mut outsider_signed = s.g.sign_bundle(v2.clone(), &[0]);
    outsider_signed.sign(&SecretKey::generate(&mut rand_core::OsRng));
    let mut same_version = suite_bundle(&s.g, 1, POLICY, None);
    same_version.created_at += 1;
    for (frame, what) in [
        (
            serde_json::to_vec(&s.g.sign_bundle(v2.clone(), &[0])).unwrap(),
            "one admin",
        ),
        (serde_json::to_vec(&outsider_signed).unwrap(), "a non-admin"),
        (
            serde_json::to_vec(&s.g.sign_bundle(same_version, &[0, 1, 2])).unwrap(),
            "the same version",
        ),
        (b"{\"bundle\":1}".to_vec(), "garbage"),
    ] {
        for a in
            s.g.send_policy(tessera_proto::link::ToSigner::Policy { bundle: frame })
        {
            match a {
                FromSigner::PolicyRefused { what: w, .. } => assert_eq!(w, "policy", "{what}"),
                other => panic!("{what}: accepted: {other:?}"),
            }
        }
        for i in 0..3 {
            assert_eq!(s.g.status(i).policy_version, 1, "{what}");
        }
    }

    // Approvals under version 1 for a large transfer; then version 2 is installed.
    let (big_payload, big) = s.transfer(2 * SOL);
    let r = random_id();
    let big_auth = s.authorize(&r, &big, later);
    let hash = big.intent_hash().unwrap();
    let v1_approvals = vec![
        s.g.approve(0, &r, hash, 1, later),
        s.g.approve(1, &r, hash, 1, later),
    ];
    s.g.install_ok(&s.g.sign_bundle(v2.clone(), &[1, 2]));
    // An older bundle is refused now.
    for a in
        s.g.install(&s.g.sign_bundle(suite_bundle(&s.g, 1, POLICY, None), &[0, 1]))
    {
        assert!(
            matches!(a, FromSigner::PolicyRefused { version: 1, .. }),
            "{a:?}"
        );
    }
    let big_msg = big.messages[0].clone();
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            presigned(
                p.id(),
                &big_payload,
                &big_msg,
                &big_auth,
                1,
                v1_approvals.clone(),
            ),
        ),
        FailureKind::StalePolicy,
        "(e) evaluated under the old version",
    );
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            presigned(p.id(), &big_payload, &big_msg, &big_auth, 2, v1_approvals),
        ),
        FailureKind::StalePolicy,
        "(e) approvals under the old version",
    );
    assert_eq!(s.g.presignatures(WALLET), vec![1, 1, 0]);

    // The accepted version survives a restart, and approvals under it sign.
    s.g.restart(0);
    assert_eq!(s.g.status(0).policy_version, 2);
    assert_eq!(s.g.signer(0).policy_bundle().unwrap().bundle, v2);
    let v2_approvals = vec![
        s.g.approve(1, &r, hash, 2, later),
        s.g.approve(2, &r, hash, 2, later),
    ];
    let answers = s.g.run(
        WALLET,
        &[0, 1],
        presigned(p.id(), &big_payload, &big_msg, &big_auth, 2, v2_approvals),
    );
    s.verify_partials(answers, &p, &big_payload, &big);
    for i in 0..2 {
        assert_eq!(
            audited_refusals(&s.g, i),
            vec![RefusalReason::StalePolicy; 3],
            "signer {i}"
        );
        let log = &s.g.nodes[i].audit.log;
        let changes: Vec<_> = log
            .entries(0, 10_000)
            .unwrap()
            .into_iter()
            .filter(|e| matches!(e.kind, EntryKind::PolicyChange { .. }))
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            changes,
            vec![
                EntryKind::PolicyChange { policy_version: 1 },
                EntryKind::PolicyChange { policy_version: 2 }
            ]
        );
        assert_eq!(
            log.find("policy:1", Some("other")).unwrap().len(),
            2,
            "the refused same and older versions are logged"
        );
    }
}

/// (f) A velocity limit (1.5 SOL a day) split across two requests of 1 SOL each, neither of
/// which needs approval: the second is refused by every signer that signed the first, consuming
/// nothing; a request that stays within the limit still signs with that presignature.
#[test]
fn a_velocity_limit_split_across_requests_is_refused() {
    let mut s = Setup::new("mal-velocity", Some(3 * SOL / 2));
    let p1 = s.presign();
    let p2 = s.presign();
    let later = now_unix() + 300;
    let (payload, parsed) = s.transfer(SOL - FEE);
    let msg0 = parsed.messages[0].clone();

    let first = s.authorize(&random_id(), &parsed, later);
    let answers = s.g.run(
        WALLET,
        &[0, 1],
        presigned(p1.id(), &payload, &msg0, &first, 1, vec![]),
    );
    s.verify_partials(answers, &p1, &payload, &parsed);
    assert_eq!(s.g.presignatures(WALLET), vec![1, 1, 0]);

    let second = s.authorize(&random_id(), &parsed, later);
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            presigned(p2.id(), &payload, &msg0, &second, 1, vec![]),
        ),
        FailureKind::VelocityExceeded,
        "(f) second request, presigned",
    );
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            full_sign(&[0, 1], &payload, &parsed, &second),
        ),
        FailureKind::VelocityExceeded,
        "(f) second request, full",
    );
    assert_eq!(s.g.presignatures(WALLET), vec![1, 1, 0]);

    // Exactly up to the limit is allowed (the fee counts).
    let (half_payload, half) = s.transfer(SOL / 2 - FEE);
    let third = s.authorize(&random_id(), &half, later);
    let answers = s.g.run(
        WALLET,
        &[0, 1],
        presigned(p2.id(), &half_payload, &half.messages[0], &third, 1, vec![]),
    );
    s.verify_partials(answers, &p2, &half_payload, &half);
    for i in 0..2 {
        assert_eq!(
            audited_refusals(&s.g, i),
            vec![RefusalReason::VelocityLimit; 2],
            "signer {i}"
        );
    }
}

/// (f) Two requests started at the same moment, each within a limit (1.5 SOL a day) they
/// break together: at most one gets a partial signature from both signers, and the other is
/// refused by a signer — by the limit (a request in flight counts for the evaluation of the
/// next) or as busy (one such request per wallet at a time) — and aborted or refused at the
/// other. Which signer refuses depends on the order the sessions reach their checks (both
/// requests may end refused, each busy at one signer: a lost request, never an extra one).
#[test]
fn concurrent_requests_cannot_share_a_velocity_limit() {
    let mut s = Setup::new("mal-velocity-race", Some(3 * SOL / 2));
    let (p1, p2) = (s.presign(), s.presign());
    let later = now_unix() + 300;
    let (payload, parsed) = s.transfer(SOL - FEE);
    let msg0 = parsed.messages[0].clone();
    let jobs = vec![
        presigned(
            p1.id(),
            &payload,
            &msg0,
            &s.authorize(&random_id(), &parsed, later),
            1,
            vec![],
        ),
        presigned(
            p2.id(),
            &payload,
            &msg0,
            &s.authorize(&random_id(), &parsed, later),
            1,
            vec![],
        ),
    ];
    let answers = s.g.run_concurrently(WALLET, &[0, 1], jobs);
    let partial = |a: &Answer| matches!(a, Ok(Outcome::Partial(_)));
    let complete = answers.iter().filter(|a| a.iter().all(partial)).count();
    assert!(complete <= 1, "both requests signed: {answers:?}");
    for signer in 0..2 {
        let mine: Vec<&Answer> = answers.iter().map(|a| &a[signer]).collect();
        // Refused by the limit, or as busy: a signer takes one request per wallet at a time
        // under velocity rules.
        let refused = |a: &&Answer| matches!(a, Err(f) if f.kind == FailureKind::VelocityExceeded || f.kind == FailureKind::Busy);
        let aborted = |a: &&Answer| matches!(a, Err(f) if f.kind == FailureKind::Aborted);
        assert!(
            mine.iter().filter(|a| partial(a)).count() <= 1,
            "signer {signer}: {mine:?}"
        );
        assert!(
            mine.iter().all(|a| partial(a) || refused(a) || aborted(a)),
            "signer {signer}: {mine:?}"
        );
    }
    let refused = |a: &Answer| matches!(a, Err(f) if f.kind == FailureKind::VelocityExceeded || f.kind == FailureKind::Busy);
    for a in answers.iter().filter(|a| !a.iter().all(partial)) {
        assert!(a.iter().any(refused), "a signer refuses it: {a:?}");
    }
    // Every presignature not turned into a partial is still there.
    let used: Vec<usize> = (0..2)
        .map(|i| answers.iter().filter(|a| partial(&a[i])).count())
        .collect();
    assert_eq!(s.g.presignatures(WALLET)[..2], [2 - used[0], 2 - used[1]]);
}

/// (f) The one-request-at-a-time rule binds only requests a velocity rule counts: under a
/// rule for another wallet (a one-lamport limit), two requests started at the same moment on
/// this wallet both sign at both signers — neither is refused as busy nor by the limit.
#[test]
fn requests_no_velocity_rule_counts_run_at_once() {
    let mut s = Setup::with_rule(
        "mal-velocity-other",
        VelocityRule {
            wallet: Some("another-wallet".into()),
            asset: "solana:devnet:native".parse().unwrap(),
            window_s: 86_400,
            limit: VelocityLimit::Amount(tessera_policy::BaseUnits::from_u128(1)),
        },
    );
    let (p1, p2) = (s.presign(), s.presign());
    let later = now_unix() + 300;
    let (payload, parsed) = s.transfer(SOL / 2);
    let msg0 = parsed.messages[0].clone();
    let jobs = [p1.id(), p2.id()]
        .iter()
        .map(|p| {
            let auth = s.authorize(&random_id(), &parsed, later);
            presigned(*p, &payload, &msg0, &auth, 1, vec![])
        })
        .collect();
    let answers = s.g.run_concurrently(WALLET, &[0, 1], jobs);
    for a in &answers {
        assert!(
            a.iter().all(|x| matches!(x, Ok(Outcome::Partial(_)))),
            "both requests sign: {answers:?}"
        );
    }
}

/// (g) A raw digest under a bundle that does not allow raw digests is refused (a message signs
/// under the same bundle); in lockdown nothing signs, no wallet is created and no presignature
/// is prepared until a newer mode change, signed by the admin quorum, lifts it.
#[test]
fn raw_digests_and_lockdown_are_refused() {
    let mut s = Setup::new("mal-raw", None);
    let p = s.presign();
    let later = now_unix() + 300;
    let plain = |s: &Setup, m: &SignMessage, presig: [u8; 32]| Job::SignPresigned {
        presignature: presig,
        signers: vec![0, 1],
        message: m.clone(),
        path: "m".into(),
        authorization: sign_auth(&s.g.operator, &random_id(), WALLET, "m", m, later),
        transaction: None,
        policy_version: 1,
        approvals: vec![],
    };
    let raw = SignMessage::danger_raw_digest([7u8; 32]);
    let job = plain(&s, &raw, p.id());
    refused(
        s.g.run(WALLET, &[0, 1], job),
        FailureKind::PolicyDenied,
        "(g) raw digest",
    );
    assert_eq!(s.g.presignatures(WALLET), vec![1, 1, 0]);

    // Lockdown: a change signed by one admin is refused, by two accepted.
    for a in s.g.set_mode(&s.g.mode_change(1, Mode::Lockdown, &[0])) {
        assert!(
            matches!(a, FromSigner::PolicyRefused { ref what, .. } if what == "mode"),
            "{a:?}"
        );
    }
    for a in s.g.set_mode(&s.g.mode_change(1, Mode::Lockdown, &[0, 2])) {
        match a {
            FromSigner::Status(st) => assert_eq!(st.mode, "lockdown"),
            other => panic!("lockdown refused: {other:?}"),
        }
    }
    let m = msg("hello");
    refused(
        s.g.run(WALLET, &[0, 1], plain(&s, &m, p.id())),
        FailureKind::ModeRestricted,
        "message in lockdown",
    );
    let (payload, parsed) = s.transfer(SOL / 2);
    let auth = s.authorize(&random_id(), &parsed, later);
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            presigned(p.id(), &payload, &parsed.messages[0], &auth, 1, vec![]),
        ),
        FailureKind::ModeRestricted,
        "transfer in lockdown",
    );
    let keygen = Job::Keygen {
        scheme: SchemeId::Ed25519,
        threshold: 2,
        authorization: s.g.keygen_auth(&s.g.operator, "w2", SchemeId::Ed25519, 2),
        import: None,
        approvals: Vec::new(),
    };
    refused(
        s.g.run("w2", &[0, 1, 2], keygen),
        FailureKind::ModeRestricted,
        "keygen in lockdown",
    );
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            Job::Presign {
                signers: vec![0, 1],
            },
        ),
        FailureKind::ModeRestricted,
        "presign in lockdown",
    );
    assert_eq!(s.g.presignatures(WALLET), vec![1, 1, 0]);
    // The lockdown survives a restart.
    s.g.restart(1);
    assert_eq!(s.g.status(1).mode, "lockdown");

    // Leaving lockdown needs a newer sequence number.
    for a in s.g.set_mode(&s.g.mode_change(1, Mode::Normal, &[0, 1])) {
        assert!(
            matches!(a, FromSigner::PolicyRefused { version: 1, .. }),
            "{a:?}"
        );
    }
    for a in s.g.set_mode(&s.g.mode_change(2, Mode::Normal, &[0, 1])) {
        assert!(
            matches!(a, FromSigner::Status(ref st) if st.mode == "normal"),
            "{a:?}"
        );
    }
    let answers = s.g.run(WALLET, &[0, 1], plain(&s, &m, p.id()));
    for a in answers {
        assert!(matches!(a, Ok(Outcome::Partial(_))), "{a:?}");
    }
    for i in 0..2 {
        assert_eq!(
            audited_refusals(&s.g, i),
            vec![
                RefusalReason::RawDigestDenied,
                RefusalReason::ModeRestricted,
                RefusalReason::ModeRestricted,
                RefusalReason::ModeRestricted,
                RefusalReason::ModeRestricted,
            ],
            "signer {i}"
        );
        let modes: Vec<_> = s.g.nodes[i]
            .audit
            .log
            .entries(0, 10_000)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.kind {
                EntryKind::ModeChange { from, to } => Some((from, to)),
                _ => None,
            })
            .collect();
        assert_eq!(
            modes,
            vec![
                ("normal".to_string(), "lockdown".to_string()),
                ("lockdown".to_string(), "normal".to_string())
            ]
        );
    }
}

/// Every signer reaches byte-identical decisions for the same request: with its own compiled
/// engine, its own vault ledger and the same bundle, for an allow, an allow with approvals, a
/// velocity deny, a raw-digest deny and a default deny.
#[test]
fn policy_evaluation_is_deterministic_across_signers() {
    let s = Setup::new("mal-determinism", Some(5 * SOL));
    let bundle = s.g.signer(0).policy_bundle().unwrap().bundle;
    let operator = tessera_policy::PublicKey(s.g.operator.public().0);
    let stranger = SecretKey::generate(&mut rand_core::OsRng).public();
    let now = now_unix();
    let (_, small) = s.transfer(SOL / 2);
    let (_, large) = s.transfer(2 * SOL);
    let (_, huge) = s.transfer(6 * SOL);
    let raw = [SignMessage::danger_raw_digest([1u8; 32])];
    let cases = [
        (&operator, Some(&small), "allow"),
        (&operator, Some(&large), "allow_with_approvals"),
        (&operator, Some(&huge), "deny"),
        (&operator, None, "deny"),
        (&stranger, Some(&small), "deny"),
    ];
    let mut reasons = Vec::new();
    for (who, parsed, expected) in cases {
        let (intent, messages) = match parsed {
            Some(p) => (Some(&p.intent), &p.messages[..]),
            None => (None, &raw[..]),
        };
        let req =
            signing_request(&bundle, who, WALLET, intent, messages, now, Mode::Normal).unwrap();
        let decisions: Vec<Decision> = (0..3)
            .map(|i| s.g.signer(i).evaluate(&req).unwrap())
            .collect();
        let bytes = decisions[0].canonical_bytes();
        let tag: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(tag["decision"], json!(expected), "{tag}");
        for d in &decisions[1..] {
            assert_eq!(d.canonical_bytes(), bytes);
        }
        reasons.push(decisions[0].reasons().to_vec());
    }
    assert!(matches!(
        reasons[2][..],
        [DenyReason::VelocityExceeded { .. }]
    ));
    assert_eq!(reasons[3], vec![DenyReason::RawDigestNotPermitted]);
    assert_eq!(reasons[4], vec![DenyReason::NoPermit]);
}

/// A signer without a bundle creates wallets (the requester is trusted) but signs nothing; one
/// without the policy admin setting does not start; one whose audit log fails withholds the
/// signature (the presignature it consumed is gone, never reused) and refuses policy updates.
#[test]
fn no_policy_no_admins_no_audit_no_signature() {
    let mut g = Group::bare("mal-nopolicy", 3);
    assert_eq!(g.status(0).policy_version, 0);
    g.keygen(WALLET, SchemeId::Ed25519, 2);
    let m = msg("hello");
    let auth = sign_auth(&g.operator, &random_id(), WALLET, "m", &m, now_unix() + 300);
    refused(
        g.run(
            WALLET,
            &[0, 1],
            Job::Sign {
                signers: vec![0, 1],
                message: m.clone(),
                path: "m".into(),
                authorization: auth,
                transaction: None,
                policy_version: 0,
                approvals: vec![],
            },
        ),
        FailureKind::PolicyDenied,
        "no policy installed",
    );

    // Without the admin setting the signer refuses to start.
    {
        let dir = test_dir("mal-noadmins");
        let mut v = tessera_vault::Vault::create(
            &dir.join("v.db"),
            &unlock(),
            tessera_vault::KdfParams::insecure_for_tests(),
        )
        .unwrap();
        let key = tessera_wire::IdentityKey::generate(&mut rand_core::OsRng);
        v.put_identity(&key.to_bytes()).unwrap();
        v.put_setting(
            tessera_node::signer::settings::OPERATORS,
            &tessera_node::signer::operators_setting(&[g.operator.public()]),
        )
        .unwrap();
        let log = tessera_audit::AuditLog::in_memory(&tessera_node::audit_chain_id(
            &key.public().node_id(),
        ))
        .unwrap();
        let err = tessera_node::Signer::new(
            v,
            std::sync::Arc::new(log),
            std::sync::Arc::new(tessera_proto::SystemClock),
            tessera_node::PrimeSource::None,
            std::sync::Arc::new(tessera_node::ThreadSpawner),
            tessera_node::SignerOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, tessera_node::NodeError::Config(ref m) if m.contains("policy admin")),
            "{err}"
        );
    }

    // An audit log that fails: the policy update is refused, the signature withheld.
    let b = g.sign_bundle(g.bundle(1, POLICY), &[0, 1]);
    g.nodes[0].audit.fail.store(true, Ordering::SeqCst);
    let answers = g.install(&b);
    assert!(
        matches!(answers[0], FromSigner::PolicyRefused { .. }),
        "{:?}",
        answers[0]
    );
    assert!(matches!(answers[1], FromSigner::Status(_)));
    g.nodes[0].audit.fail.store(false, Ordering::SeqCst);
    let answers = g.install(&b);
    assert!(matches!(answers[0], FromSigner::Status(ref st) if st.policy_version == 1));
    assert!(matches!(
        answers[1],
        FromSigner::PolicyRefused { version: 1, .. }
    ));
    let mut public = None;
    for a in g.run(
        WALLET,
        &[0, 1],
        Job::Presign {
            signers: vec![0, 1],
        },
    ) {
        if let Outcome::Presign(p) = a.unwrap() {
            public = Some(p);
        }
    }
    let p = public.unwrap();
    g.nodes[0].audit.fail.store(true, Ordering::SeqCst);
    let auth = sign_auth(&g.operator, &random_id(), WALLET, "m", &m, now_unix() + 300);
    let answers = g.run(
        WALLET,
        &[0, 1],
        Job::SignPresigned {
            presignature: p.id(),
            signers: p.signers().to_vec(),
            message: m.clone(),
            path: "m".into(),
            authorization: auth,
            transaction: None,
            policy_version: 1,
            approvals: vec![],
        },
    );
    match &answers[0] {
        Err(f) => assert_eq!(f.kind, FailureKind::Storage, "{}", f.message),
        Ok(o) => panic!("released without an audit entry: {o:?}"),
    }
    assert!(matches!(answers[1], Ok(Outcome::Partial(_))));
    // On doubt, destroy: signer 0's presignature is consumed, not kept for a retry.
    assert_eq!(g.presignatures(WALLET), vec![0, 0, 0]);
}

/// (h) Record before release, full path: a coordinator relays round 1 of a FROST signing,
/// keeps every round-2 signature share to itself, aborts both signers and aggregates the
/// shares into a transaction Solana's own verifier accepts. Both signers had recorded the
/// request before sending their share: each audit log holds the signature entry and then the
/// failed session, a repeat of the request is refused as replayed, and the 1 SOL counts
/// toward the velocity limit (1.5 SOL a day), so a second 1 SOL request is refused.
#[test]
fn a_coordinator_that_keeps_the_shares_finds_the_request_recorded() {
    let mut s = Setup::new("mal-release", Some(3 * SOL / 2));
    let later = now_unix() + 300;
    let (payload, parsed) = s.transfer(SOL - FEE);
    let request = random_id();
    let authz = s.authorize(&request, &parsed, later);
    let job = |authorization: &Authorization| full_sign(&[0, 1], &payload, &parsed, authorization);
    let release = scheme(SchemeId::Ed25519).sign_release_round();
    s.g.withhold = Some(Withhold {
        round: release,
        victims: vec![0, 1],
    });
    let session = random32();
    let answers = s.g.run_session(session, WALLET, &[0, 1], job(&authz));
    s.g.withhold = None;
    for a in &answers {
        let f = a.as_ref().expect_err("both signers were aborted");
        assert_eq!(f.kind, FailureKind::Aborted, "{}", f.message);
    }

    // The attacker's side: round-1 commitments and the kept round-2 shares make a signature.
    let sig = aggregate_kept_shares(&s.g, session, release, &s.pk, &parsed.messages[0]);
    let signed = s
        .sol()
        .finalize("devnet", s.wallet_key(), &payload, &[sig])
        .unwrap();
    s.sol()
        .verify("devnet", s.wallet_key(), &payload, &signed)
        .expect("the kept shares form a valid transaction signature");

    // The signers' side: it is on record everywhere.
    for i in 0..2 {
        let kinds: Vec<String> = s.g.nodes[i]
            .audit
            .log
            .entries(0, 10_000)
            .unwrap()
            .into_iter()
            .filter(|e| e.subject == request)
            .map(|e| e.kind.name().to_string())
            .collect();
        assert_eq!(
            kinds,
            vec!["signature", "session_failed"],
            "signer {i} audited the release and the failure"
        );
        refused(
            s.g.run(WALLET, &[i], job(&authz)),
            FailureKind::Replayed,
            "(h) the same request again",
        );
    }
    let (_, second) = s.transfer(SOL - FEE);
    let authz2 = s.authorize(&random_id(), &second, later);
    refused(
        s.g.run(WALLET, &[0, 1], job(&authz2)),
        FailureKind::VelocityExceeded,
        "(h) a second 1 SOL request after the kept one",
    );
}

/// What a coordinator that kept the release round can do with FROST: aggregate the signature
/// shares under round 1's commitments itself (no signer's help; the verifying shares are only
/// needed to name a cheater when aggregation fails, so placeholders do).
fn aggregate_kept_shares(
    g: &Group,
    session: [u8; 32],
    release: u16,
    pk: &PublicKey,
    message: &SignMessage,
) -> tessera_crypto::Signature {
    use frost_ed25519 as frost;
    use std::collections::BTreeMap;
    let PublicKey::Ed25519(pk) = pk else {
        panic!("an Ed25519 wallet")
    };
    let SignMessage::Preimage { hash: None, bytes } = message else {
        panic!("Solana messages are signed as raw bytes")
    };
    let id = |from: u16| frost::Identifier::try_from(from + 1).unwrap();
    let mut commitments = BTreeMap::new();
    let mut shares = BTreeMap::new();
    for m in g
        .broadcast_plaintext
        .iter()
        .filter(|m| m.session.0 == session)
    {
        if m.round == release - 1 {
            let c = frost::round1::SigningCommitments::deserialize(&m.payload).unwrap();
            commitments.insert(id(m.from), c);
        } else if m.round == release {
            let z = frost::round2::SignatureShare::deserialize(&m.payload).unwrap();
            shares.insert(id(m.from), z);
        }
    }
    assert_eq!(shares.len(), 2, "both shares were captured");
    let vk = frost::VerifyingKey::deserialize(pk).unwrap();
    let placeholders = commitments
        .keys()
        .map(|i| (*i, frost::keys::VerifyingShare::new(vk.to_element())))
        .collect();
    let pubkeys = frost::keys::PublicKeyPackage::new(placeholders, vk);
    let package = frost::SigningPackage::new(commitments, bytes);
    let sig = frost::aggregate(&package, &shares, &pubkeys).expect("a valid aggregate");
    let bytes: [u8; 64] = sig.serialize().unwrap().try_into().unwrap();
    tessera_crypto::Signature::Ed25519(bytes)
}

/// (h) Record before release, every full-signing scheme run by signers here (DKLs23, FROST
/// Taproot, FROST Ed25519; cggmp24 takes the same path, and its release round is checked in
/// `tessera-crypto`'s conformance suite): the coordinator delivers the release round to signer 0
/// only — which completes and returns the signature — and aborts signer 1. Signer 1 had
/// recorded the request before sending its release-round message: its log holds the signature
/// entry then the failed session, and the request cannot be signed there again.
#[test]
fn every_scheme_records_before_its_release_round() {
    let mut g = Group::bare("mal-release-schemes", 3);
    let b = g.sign_bundle(suite_bundle(&g, 1, POLICY, None), &[0, 1]);
    g.install_ok(&b);
    for id in [
        SchemeId::EcdsaDkls23,
        SchemeId::SchnorrBip340,
        SchemeId::Ed25519,
    ] {
        let wallet = format!("w-{}", id.name().replace('/', "-"));
        let (pk, _) = g.keygen(&wallet, id, 2);
        let message = message_for(id, "record before release");
        let request = random_id();
        let authz = sign_auth(
            &g.operator,
            &request,
            &wallet,
            "m",
            &message,
            now_unix() + 300,
        );
        let job = Job::Sign {
            signers: vec![0, 1],
            message: message.clone(),
            path: "m".into(),
            authorization: authz,
            transaction: None,
            policy_version: 1,
            approvals: vec![],
        };
        g.withhold = Some(Withhold {
            round: scheme(id).sign_release_round(),
            victims: vec![1],
        });
        let answers = g.run(&wallet, &[0, 1], job.clone());
        g.withhold = None;
        match &answers[0] {
            Ok(Outcome::Signature(sig)) => scheme(id).verify(&pk, &message, sig).unwrap(),
            other => panic!("{id}: signer 0 completes, got {other:?}"),
        }
        let f = answers[1].as_ref().expect_err("signer 1 was aborted");
        assert_eq!(f.kind, FailureKind::Aborted, "{id}: {}", f.message);
        let kinds: Vec<String> = g.nodes[1]
            .audit
            .log
            .entries(0, 10_000)
            .unwrap()
            .into_iter()
            .filter(|e| e.subject == request)
            .map(|e| e.kind.name().to_string())
            .collect();
        assert_eq!(kinds, vec!["signature", "session_failed"], "{id}");
        refused(
            g.run(&wallet, &[1], job),
            FailureKind::Replayed,
            "(h) the same request at the aborted signer",
        );
    }
}

/// (i) Limits a flooding coordinator meets at a signer: presign jobs stop once the wallet's
/// pool holds the most presignatures kept (`Busy`, nothing prepared); starts beyond the cap
/// on concurrent sessions are refused (`Busy`) while the running ones go on; envelopes beyond a
/// session's queue are dropped, not buffered without bound.
#[test]
fn a_flooding_coordinator_meets_the_signers_limits() {
    let mut s = Setup::new("mal-limits", None);
    s.g.options.max_presignatures_per_wallet = 2;
    s.g.options.max_sessions = 1;
    s.g.options.max_queued_envelopes = 4;
    for i in 0..3 {
        s.g.restart(i);
    }
    s.presign();
    s.presign();
    let answers = s.g.run(
        WALLET,
        &[0, 1],
        Job::Presign {
            signers: vec![0, 1],
        },
    );
    refused(answers, FailureKind::Busy, "(i) a third presignature");
    assert_eq!(s.g.presignatures(WALLET), vec![2, 2, 0]);

    // Signer 2 runs one session that waits for a peer; a second start is refused at once.
    let waiting = ToSigner::Start(Box::new(tessera_proto::link::StartSession {
        session: random32(),
        wallet_id: WALLET.into(),
        roster: s.g.roster(),
        job: Job::Presign {
            signers: vec![1, 2],
        },
    }));
    let busy_session = random32();
    let second = ToSigner::Start(Box::new(tessera_proto::link::StartSession {
        session: busy_session,
        wallet_id: WALLET.into(),
        roster: s.g.roster(),
        job: Job::Presign {
            signers: vec![0, 2],
        },
    }));
    let (tx, rx) = std::sync::mpsc::channel();
    let out: tessera_node::Outbound = std::sync::Arc::new(move |f| {
        let _ = tx.send(f);
    });
    let signer = s.g.signer(2).clone();
    signer.handle(waiting.clone(), &out);
    // Flood the waiting session with junk envelopes: the queue is bounded, nothing breaks.
    if let ToSigner::Start(st) = &waiting {
        for _ in 0..100 {
            signer.handle(
                ToSigner::Envelope {
                    session: st.session,
                    bytes: vec![0u8; 64],
                },
                &out,
            );
        }
    }
    signer.handle(second, &out);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx
            .recv_timeout(left)
            .expect("an answer to the second start")
        {
            FromSigner::Failed { session, failure } if session == busy_session => {
                assert_eq!(failure.kind, FailureKind::Busy, "{}", failure.message);
                break;
            }
            _ => continue,
        }
    }
}

/// What a coordinator reports about a wallet, built from the signers' key-generation answers.
fn reported_wallet(
    g: &Group,
    wallet: &str,
    id: SchemeId,
    t: u16,
    answers: Vec<Answer>,
) -> WalletInfo {
    let mut w = WalletInfo {
        wallet_id: wallet.into(),
        name: wallet.into(),
        scheme: id,
        threshold: t,
        signers: g
            .nodes
            .iter()
            .map(|n| n.signed.identity.node_id())
            .collect(),
        status: WalletStatus::Ready,
        public_key: None,
        chain_code: None,
        keygen_session: String::new(),
        pool: 0,
        created_at_ms: 0,
        error: None,
        attestations: Vec::new(),
        networks: NETWORKS.iter().map(|n| n.to_string()).collect(),
        epoch: 0,
        committing_epoch: None,
    };
    for a in answers {
        let Ok(Outcome::Keygen {
            public_key,
            chain_code,
            attestation,
        }) = a
        else {
            panic!("key generation failed: {a:?}");
        };
        w.public_key = Some(public_key);
        w.chain_code = Some(hex::encode(chain_code));
        w.attestations.push(attestation);
    }
    w
}

/// Gap 5: a coordinator cannot show a deposit address of a key it chose. Every signer attests the
/// wallet it generated with its node identity key; a client that knows the signers' ids accepts
/// the reported key only with `threshold` of those attestations over exactly that wallet.
#[test]
fn a_coordinator_cannot_substitute_a_wallet_key() {
    let mut g = Group::bare("mal-vouch", 3);
    let b = g.sign_bundle(suite_bundle(&g, 1, POLICY, None), &[0, 1]);
    g.install_ok(&b);
    let trusted: Vec<_> = g
        .nodes
        .iter()
        .map(|n| n.signed.identity.node_id())
        .collect();
    let all = [0, 1, 2];
    let keygen = |g: &mut Group, wallet: &str| {
        let authorization = g.keygen_auth(&g.operator.clone_key(), wallet, SchemeId::Ed25519, 2);
        let answers = g.run(
            wallet,
            &all,
            Job::Keygen {
                scheme: SchemeId::Ed25519,
                threshold: 2,
                authorization,
                import: None,
                approvals: Vec::new(),
            },
        );
        reported_wallet(g, wallet, SchemeId::Ed25519, 2, answers)
    };
    let honest = keygen(&mut g, "w-vouch-1");
    let other = keygen(&mut g, "w-vouch-2");
    let v = verify_wallet(&honest, &trusted).expect("the signers vouch for their wallet");
    assert_eq!((v.by.len(), v.of), (3, 3));

    // The coordinator reports another key (one it holds, or another wallet's) for this wallet.
    let mut swapped = honest.clone();
    swapped.public_key = other.public_key.clone();
    swapped.chain_code = other.chain_code.clone();
    assert!(matches!(
        verify_wallet(&swapped, &trusted),
        Err(VouchError::BadAttestation(_))
    ));
    // ... with the other wallet's genuine attestations: they name the other wallet.
    swapped.attestations = other.attestations.clone();
    assert!(matches!(
        verify_wallet(&swapped, &trusted),
        Err(VouchError::BadAttestation(_))
    ));
    // ... having dropped the attestations: nothing is vouched for.
    swapped.attestations.clear();
    assert_eq!(
        verify_wallet(&swapped, &trusted),
        Err(VouchError::TooFew {
            vouched: 0,
            needed: 2
        })
    );
    // ... with a roster of its own nodes, each attesting its key.
    let own: Vec<IdentityKey> = (0..3)
        .map(|_| IdentityKey::generate(&mut rand_core::OsRng))
        .collect();
    let mut forged = honest.clone();
    forged.signers = own.iter().map(|k| k.node_id()).collect();
    forged.public_key = other.public_key.clone();
    let st = WalletStatement::of_wallet(&forged).unwrap().unwrap();
    forged.attestations = own
        .iter()
        .map(|k| WalletAttestation::sign(k, &st))
        .collect();
    assert_eq!(
        verify_wallet(&forged, &trusted),
        Err(VouchError::TooFew {
            vouched: 0,
            needed: 2
        })
    );
    // Withholding all but one honest attestation is not enough for a 2-of-3 wallet.
    let mut withheld = honest.clone();
    withheld.attestations.truncate(1);
    assert_eq!(
        verify_wallet(&withheld, &trusted),
        Err(VouchError::TooFew {
            vouched: 1,
            needed: 2
        })
    );
}

/// The admins' signed statement that `bundle` and the mode change `mode` are in force, at the
/// signers' time.
fn refresh(
    g: &Group,
    bundle: &PolicyBundle,
    mode: Option<&tessera_policy::ModeChange>,
) -> ToSigner {
    let mut f = Freshness::new(bundle, mode, g.clock.now_unix());
    for k in &g.admins[..2] {
        f.sign(k);
    }
    ToSigner::Freshness {
        statement: serde_json::to_vec(&f).unwrap(),
    }
}

fn refusals_say(answers: Vec<FromSigner>, what: &str) {
    for a in answers {
        match a {
            FromSigner::PolicyRefused { reason, .. } => assert!(reason.contains(what), "{reason}"),
            other => panic!("accepted: {other:?}"),
        }
    }
}

/// Gap 4: a coordinator that keeps a newer bundle or a lockdown back cannot keep signers signing
/// under the old policy. Signers with a maximum policy age sign only while the admins have
/// confirmed their bundle and mode change recently; the admins' refreshes name the newest ones,
/// so a signer that was not given them cannot renew, ages, and refuses everything
/// (`StalePolicy`, saying why) until it is given what the admins signed.
#[test]
fn a_policy_the_coordinator_keeps_back_goes_stale_and_signers_stop() {
    let mut g = Group::bare("mal-fresh", 3);
    g.options.max_policy_age_secs = Some(3600);
    for i in 0..3 {
        g.restart(i);
    }
    let b1 = g.sign_bundle(suite_bundle(&g, 1, POLICY, None), &[0, 1]);
    g.install_ok(&b1);
    g.keygen("w-fresh", SchemeId::Ed25519, 2);
    let sign = |g: &mut Group, version: u64, text: &str| -> Vec<Answer> {
        let message = message_for(SchemeId::Ed25519, text);
        let request = random_id();
        let authorization = sign_auth(
            &g.operator,
            &request,
            "w-fresh",
            "m",
            &message,
            g.clock.now_unix() + 300,
        );
        let job = Job::Sign {
            signers: vec![0, 1],
            message,
            path: "m".into(),
            authorization,
            transaction: None,
            policy_version: version,
            approvals: vec![],
        };
        g.run("w-fresh", &[0, 1], job)
    };
    assert!(sign(&mut g, 1, "fresh").iter().all(Result::is_ok));

    // Two hours on, the admins have signed bundle 2 and refresh it; the coordinator keeps
    // bundle 2 back and forwards the refresh, which names a bundle the signers do not hold.
    g.clock.advance(7200);
    let mut newer = suite_bundle(&g, 2, POLICY, None);
    newer.created_at = g.clock.now_unix();
    let b2 = g.sign_bundle(newer, &[0, 1]);
    refusals_say(
        g.send_policy(refresh(&g, &b2.bundle, None)),
        "names policy version 2",
    );
    for a in sign(&mut g, 1, "stale") {
        let f = a.expect_err("a stale policy signs nothing");
        assert_eq!(f.kind, FailureKind::StalePolicy);
        assert!(
            f.message.contains("last confirmed by the admins"),
            "{}",
            f.message
        );
    }
    assert!(audited_refusals(&g, 0).contains(&RefusalReason::StalePolicy));
    let authorization = g.keygen_auth(&g.operator.clone_key(), "w-fresh-2", SchemeId::Ed25519, 2);
    let keygen = Job::Keygen {
        scheme: SchemeId::Ed25519,
        threshold: 2,
        authorization,
        import: None,
        approvals: Vec::new(),
    };
    refused(
        g.run("w-fresh-2", &[0, 1, 2], keygen),
        FailureKind::StalePolicy,
        "keygen on a stale policy",
    );

    // Given bundle 2, they sign again; an admin refresh of it is accepted and survives a restart.
    g.install_ok(&b2);
    assert!(sign(&mut g, 2, "bundle 2").iter().all(Result::is_ok));
    g.clock.advance(1800);
    let issued = g.clock.now_unix();
    for a in g.send_policy(refresh(&g, &b2.bundle, None)) {
        assert!(matches!(a, FromSigner::Status(_)), "{a:?}");
    }
    g.restart(0);
    let confirmed = g.status(0).policy_fresh_since;
    assert!(
        (issued..=g.clock.now_unix()).contains(&confirmed),
        "{confirmed}"
    );
    assert!(
        confirmed > b2.bundle.created_at,
        "the refresh, not the bundle, counts"
    );
    // `tessera signer status`: the signer's own signed view, which a relaying coordinator can
    // neither alter nor replay.
    let challenge = random32();
    let page = g.audit_request(0, 1, u64::MAX, 0, challenge).unwrap();
    let node = g.nodes[0].signed.identity.node_id();
    page.verify_view(&node, &challenge)
        .expect("the signer's view verifies");
    assert_eq!(
        (
            page.view.view.policy_version,
            page.view.view.bundle_hash,
            page.view.view.policy_fresh_since
        ),
        (2, b2.bundle.bundle_hash(), confirmed)
    );
    let mut lied = page.clone();
    lied.view.view.policy_version = 1;
    assert!(
        lied.verify_view(&node, &challenge).is_err(),
        "an altered view does not verify"
    );
    assert!(
        page.verify_view(&node, &random32()).is_err(),
        "a replayed view does not verify"
    );

    // The admins enter lockdown; the coordinator keeps the change back and forwards only the
    // refresh that names it. Once the age passes, the signers stop.
    let lockdown = g.mode_change(1, tessera_policy::Mode::Lockdown, &[0, 1]);
    refusals_say(
        g.send_policy(refresh(&g, &b2.bundle, Some(&lockdown))),
        "mode change 1",
    );
    g.clock.advance(3601);
    refused(
        sign(&mut g, 2, "kept from lockdown"),
        FailureKind::StalePolicy,
        "withheld lockdown",
    );
}

/// A full signing job for `parts` over the Solana transfer `payload`.
fn full_sign(
    parts: &[u16],
    payload: &Payload,
    parsed: &Parsed,
    authorization: &Authorization,
) -> Job {
    Job::Sign {
        signers: parts.to_vec(),
        message: parsed.messages[0].clone(),
        path: "m".into(),
        authorization: authorization.clone(),
        transaction: Some(TxContext {
            chain: "solana".into(),
            network: "devnet".into(),
            payload: payload.clone(),
            index: 0,
        }),
        policy_version: 1,
        approvals: vec![],
    }
}

/// Gap 6: a coordinator rotating the pairs of a 2-of-3 group cannot sign past a velocity limit.
/// With 1 SOL a day (plus two fees), 0.5 SOL through signers {0, 1} and 0.5 SOL through {1, 2} leave each of
/// signers 0 and 2 at 0.5 SOL of its own — a third 0.5 SOL through {0, 2} was within what each
/// saw alone. The co-signers exchange their ledgers inside the session and evaluate the union:
/// the third request is refused (`VelocityExceeded`), on the full path and on the presigned one,
/// where no presignature is consumed.
#[test]
fn rotating_subsets_cannot_exceed_a_velocity_limit() {
    let mut s = Setup::new("mal-velocity-rotate", Some(SOL + 2 * FEE));
    s.g.abort_on_failure = true;
    let p01 = s.presign();
    let later = now_unix() + 300;
    let (payload, parsed) = s.transfer(SOL / 2);
    for pair in [[0u16, 2], [1, 2]] {
        let a = s.authorize(&random_id(), &parsed, later);
        let parts: Vec<usize> = pair.iter().map(|&p| usize::from(p)).collect();
        for answer in
            s.g.run(WALLET, &parts, full_sign(&pair, &payload, &parsed, &a))
        {
            assert!(
                matches!(answer, Ok(Outcome::Signature(_))),
                "{pair:?}: {answer:?}"
            );
        }
    }
    // Signers 0 and 1 have each signed 0.5 SOL of their own: a third 0.5 SOL is within what
    // each saw alone, not within what they saw together.
    let third = s.authorize(&random_id(), &parsed, later);
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            presigned(p01.id(), &payload, &parsed.messages[0], &third, 1, vec![]),
        ),
        FailureKind::VelocityExceeded,
        "the third pair, presigned",
    );
    assert_eq!(
        s.g.presignatures(WALLET),
        vec![1, 1, 0],
        "no presignature consumed"
    );
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            full_sign(&[0, 1], &payload, &parsed, &third),
        ),
        FailureKind::VelocityExceeded,
        "the third pair, full path",
    );
    // A coordinator naming fewer co-signers than the threshold gets nothing.
    let fourth = s.authorize(&random_id(), &parsed, later);
    refused(
        s.g.run(WALLET, &[0, 1], full_sign(&[0], &payload, &parsed, &fourth)),
        FailureKind::Unauthorized,
        "a signing set below the threshold",
    );
}

/// Transfers are free on a quiet day and need two approvers once more than 1.01 SOL left the
/// wallet in the last 24 hours (this request included, fees counted).
const BUSY_DAY_POLICY: &str = r#"
@id("quiet-day")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"sign_transaction",
  resource
)
when {
  context.kind == "transfer" &&
  context.velocity.day.amount.units.lessThanOrEqual(decimal("1.01"))
};

@id("busy-day")
@approvals("approver:2")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"sign_transaction",
  resource
)
when {
  context.kind == "transfer" &&
  context.velocity.day.amount.units.greaterThan(decimal("1.01"))
};

@id("create-wallet")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"create_wallet",
  resource
);
"#;

/// The union re-check asks for approvals, not only denials: under a rule that needs two
/// approvers once the day's total passes 1.01 SOL, a coordinator rotating the pairs of a 2-of-3
/// group leaves signers 0 and 1 at 1 SOL each for a third 0.5 SOL (a quiet day to each alone)
/// while together they saw 1.5 SOL. Without approvals the pair refuses (`ApprovalsInvalid`);
/// with the two approvals the busy day needs, the same request signs.
#[test]
fn rotating_subsets_cannot_skip_the_approvals_a_busy_day_needs() {
    let mut s = Setup::with_policy("mal-velocity-approvals", BUSY_DAY_POLICY, Some(100 * SOL));
    s.g.abort_on_failure = true;
    let later = now_unix() + 300;
    let (payload, parsed) = s.transfer(SOL / 2);
    for pair in [[0u16, 2], [1, 2]] {
        let a = s.authorize(&random_id(), &parsed, later);
        let parts: Vec<usize> = pair.iter().map(|&p| usize::from(p)).collect();
        for answer in
            s.g.run(WALLET, &parts, full_sign(&pair, &payload, &parsed, &a))
        {
            assert!(
                matches!(answer, Ok(Outcome::Signature(_))),
                "{pair:?}: {answer:?}"
            );
        }
    }
    let id = random_id();
    let third = s.authorize(&id, &parsed, later);
    refused(
        s.g.run(
            WALLET,
            &[0, 1],
            full_sign(&[0, 1], &payload, &parsed, &third),
        ),
        FailureKind::ApprovalsInvalid,
        "a busy day over the union, without approvals",
    );
    let hash = parsed.intent_hash().unwrap();
    let mut job = full_sign(&[0, 1], &payload, &parsed, &third);
    if let Job::Sign { approvals, .. } = &mut job {
        *approvals = vec![
            s.g.approve(0, &id, hash, 1, later),
            s.g.approve(1, &id, hash, 1, later),
        ];
    }
    for answer in s.g.run(WALLET, &[0, 1], job) {
        assert!(
            matches!(answer, Ok(Outcome::Signature(_))),
            "with two approvals: {answer:?}"
        );
    }
}

/// Incident quarantine: once the admins' bundle names signer 1, a coordinator that still puts
/// it in a session — to sign, presign or make a key — is refused by every signer, the
/// quarantined one included, and no presignature is consumed; the other two sign. A later
/// bundle lifts it and the very same presignature then serves.
#[test]
fn a_quarantined_signer_takes_part_in_nothing() {
    let mut s = Setup::new("mal-quarantine", None);
    let p = s.presign();
    let suspect = s.g.roster()[1].identity.node_id();
    let mut b = suite_bundle(&s.g, 2, POLICY, None);
    b.quarantined.insert(tessera_policy::PublicKey(suspect.0));
    let quarantine = s.g.sign_bundle(b, &[0, 2]);
    s.g.install_ok(&quarantine);

    let later = now_unix() + 300;
    let m = msg("while quarantined");
    let presigned_job = |s: &Setup, version: u64| Job::SignPresigned {
        presignature: p.id(),
        signers: vec![0, 1],
        message: m.clone(),
        path: "m".into(),
        authorization: sign_auth(&s.g.operator, &random_id(), WALLET, "m", &m, later),
        transaction: None,
        policy_version: version,
        approvals: vec![],
    };
    refused(
        s.g.run(WALLET, &[0, 1], presigned_job(&s, 2)),
        FailureKind::Unauthorized,
        "a presigned signature with the quarantined signer",
    );
    assert_eq!(s.g.presignatures(WALLET), vec![1, 1, 0]);
    refused(
        s.g.run(
            WALLET,
            &[1, 2],
            Job::Presign {
                signers: vec![1, 2],
            },
        ),
        FailureKind::Unauthorized,
        "a presign with the quarantined signer",
    );
    let keygen = Job::Keygen {
        scheme: SchemeId::Ed25519,
        threshold: 2,
        authorization: s.g.keygen_auth(&s.g.operator, "w2", SchemeId::Ed25519, 2),
        import: None,
        approvals: Vec::new(),
    };
    refused(
        s.g.run("w2", &[0, 1, 2], keygen),
        FailureKind::Unauthorized,
        "a key generation with the quarantined signer",
    );

    // Signers 0 and 2 still sign together (ed25519-dalek checks the signature).
    let auth = sign_auth(&s.g.operator, &random_id(), WALLET, "m", &m, later);
    let job = Job::Sign {
        signers: vec![0, 2],
        message: m.clone(),
        path: "m".into(),
        authorization: auth,
        transaction: None,
        policy_version: 2,
        approvals: Vec::new(),
    };
    for a in s.g.run(WALLET, &[0, 2], job) {
        match a.expect("the other two sign") {
            Outcome::Signature(tessera_crypto::Signature::Ed25519(sig)) => {
                let PublicKey::Ed25519(pk) = s.pk else {
                    panic!("not an ed25519 key")
                };
                ed25519_dalek::VerifyingKey::from_bytes(&pk)
                    .unwrap()
                    .verify_strict(
                        &m.ed25519_bytes(),
                        &ed25519_dalek::Signature::from_bytes(&sig),
                    )
                    .expect("ed25519-dalek accepts the signature");
            }
            o => panic!("unexpected {o:?}"),
        }
    }

    // Lifted by version 3: the same presignature serves signers 0 and 1 again.
    let lifted =
        s.g.sign_bundle(suite_bundle(&s.g, 3, POLICY, None), &[0, 2]);
    s.g.install_ok(&lifted);
    for a in s.g.run(WALLET, &[0, 1], presigned_job(&s, 3)) {
        assert!(
            matches!(a, Ok(Outcome::Partial(_)) | Ok(Outcome::Signature(_))),
            "{a:?}"
        );
    }
    assert_eq!(s.g.presignatures(WALLET), vec![0, 0, 0]);
}

/// Key generation needs two approvers (messages sign freely).
const HELD_KEY_OPERATIONS: &str = r#"
@id("messages")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"sign_message",
  resource
);

@id("create-wallet-with-two-approvers")
@approvals("approver:2")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"create_wallet",
  resource
);
"#;

/// Under a policy that holds key generation for two approvers, a coordinator that skips its
/// own check gets nothing from the signers: no approvals, one approval, two approvals of
/// another key generation (relabelled onto this request), an approval under another policy
/// version — every signer refuses (`ApprovalsInvalid` or `StalePolicy`), each by its own
/// quorum. With two approvals of exactly this operation, the key is generated.
#[test]
fn key_operations_the_policy_holds_need_the_approvers_at_every_signer() {
    let mut g = Group::bare("mal-keyop-approvals", 3);
    let b = g.sign_bundle(suite_bundle(&g, 1, HELD_KEY_OPERATIONS, None), &[0, 1]);
    g.install_ok(&b);
    let later = now_unix() + 600;
    let auth = g.keygen_auth(&g.operator.clone_key(), "held", SchemeId::Ed25519, 2);
    let hash = tessera_wire::key_operation_hash(&auth.action);
    let other = g.keygen_auth(&g.operator.clone_key(), "other", SchemeId::Ed25519, 2);
    let other_hash = tessera_wire::key_operation_hash(&other.action);
    assert_ne!(hash, other_hash);
    let approve = |k: &SecretKey, rid: &str, h: [u8; 32], v: u64| {
        Approval::sign(k, rid, h, v, ApprovalDecision::Approve, later)
    };
    let (a0, a1) = (&g.approvers[0], &g.approvers[1]);
    let rid = auth.request_id.clone();
    let keygen = |approvals: Vec<Approval>| Job::Keygen {
        scheme: SchemeId::Ed25519,
        threshold: 2,
        authorization: auth.clone(),
        import: None,
        approvals,
    };
    let stale = vec![approve(a0, &rid, hash, 7), approve(a1, &rid, hash, 7)];
    let good = vec![approve(a0, &rid, hash, 1), approve(a1, &rid, hash, 1)];
    let refusals = [
        (vec![], "no approvals"),
        (vec![approve(a0, &rid, hash, 1)], "one approval"),
        (
            vec![
                approve(a0, &rid, other_hash, 1),
                approve(a1, &rid, other_hash, 1),
            ],
            "approvals of another key operation",
        ),
        (
            vec![
                approve(a0, &other.request_id, hash, 1),
                approve(a1, &other.request_id, hash, 1),
            ],
            "approvals of another request",
        ),
    ];
    for (approvals, what) in refusals {
        refused(
            g.run("held", &[0, 1, 2], keygen(approvals)),
            FailureKind::ApprovalsInvalid,
            what,
        );
    }
    refused(
        g.run("held", &[0, 1, 2], keygen(stale)),
        FailureKind::StalePolicy,
        "approvals under another policy version",
    );
    for answer in g.run("held", &[0, 1, 2], keygen(good)) {
        assert!(matches!(answer, Ok(Outcome::Keygen { .. })), "{answer:?}");
    }
}

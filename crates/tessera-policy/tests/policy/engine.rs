//! Engine: combining rules, raw digests, errors, amounts, context, determinism.

use tessera_chain::{Amount, Asset, Intent, IntentKind, MessagePreview, SignMessage};
use tessera_policy::*;

use crate::common::*;

const PERMIT_ALL: &str = r#"
@id("all")
permit (principal, action, resource);
"#;

#[test]
fn plain_permit_allows_without_approvals() {
    let e = engine(PERMIT_ALL);
    let d = e.evaluate(
        &req(&[], &eth_transfer(OTHER_DEST, ETH), NOW),
        &MemoryLedger::new(),
    );
    assert_eq!(
        d,
        Decision::Allow {
            policy_ids: vec!["all".into()]
        }
    );
    assert_eq!(
        String::from_utf8(d.canonical_bytes()).unwrap(),
        r#"{"decision":"allow","policy_ids":["all"]}"#
    );
}

#[test]
fn no_matching_permit_denies() {
    let e = engine(
        r#"@id("traders-only")
        permit (principal in Tessera::Role::"trader", action, resource);"#,
    );
    let d = e.evaluate(
        &req(&["ops"], &eth_transfer(OTHER_DEST, 1), NOW),
        &MemoryLedger::new(),
    );
    assert_eq!(
        d,
        Decision::Deny {
            policy_ids: vec![],
            reasons: vec![DenyReason::NoPermit]
        }
    );
    // An empty policy set denies everything.
    let e = engine("");
    assert!(e
        .evaluate(
            &req(&[], &eth_transfer(OTHER_DEST, 1), NOW),
            &MemoryLedger::new()
        )
        .is_deny());
}

#[test]
fn forbid_wins_over_any_permit() {
    let e = engine(
        r#"
        @id("all")
        permit (principal, action, resource);
        @id("with-approvals")
        @approvals("desk-approver:1")
        permit (principal, action, resource);
        @id("no-big")
        @reason("too big")
        forbid (principal, action, resource)
        when { context.amount.units.greaterThan(decimal("5.0")) };
        "#,
    );
    let d = e.evaluate(
        &req(&[], &eth_transfer(OTHER_DEST, 6 * ETH), NOW),
        &MemoryLedger::new(),
    );
    assert_eq!(
        d,
        Decision::Deny {
            policy_ids: vec!["no-big".into()],
            reasons: vec![DenyReason::Forbidden {
                policy_id: "no-big".into(),
                message: Some("too big".into())
            }]
        }
    );
    // 5 ETH with the max fee included: not above the forbid's 5 ETH.
    let d = e.evaluate(
        &req(&[], &eth_transfer(OTHER_DEST, 5 * ETH - FEE), NOW),
        &MemoryLedger::new(),
    );
    assert_eq!(d.quorum(), Some(&quorum(&[("desk-approver", 1)])));
    assert_eq!(ids(&d), ["all", "with-approvals"]);
}

#[test]
fn approvals_take_the_strictest_requirement_per_role() {
    let e = engine(
        r#"
        @id("a")
        @approvals("treasury-approver:2")
        permit (principal, action, resource);
        @id("b")
        @approvals("treasury-approver:3, risk:1")
        permit (principal, action, resource)
        when { context.amount.units.greaterThan(decimal("100.0")) };
        @id("c")
        @approvals("treasury-approver:1,desk-approver:2")
        permit (principal, action, resource)
        when { context.amount.units.greaterThan(decimal("1000.0")) };
        "#,
    );
    let l = MemoryLedger::new();
    let d = e.evaluate(&req(&[], &eth_transfer(OTHER_DEST, ETH), NOW), &l);
    assert_eq!(d.quorum(), Some(&quorum(&[("treasury-approver", 2)])));
    let d = e.evaluate(&req(&[], &eth_transfer(OTHER_DEST, 101 * ETH), NOW), &l);
    assert_eq!(
        d.quorum(),
        Some(&quorum(&[("treasury-approver", 3), ("risk", 1)]))
    );
    let d = e.evaluate(&req(&[], &eth_transfer(OTHER_DEST, 1001 * ETH), NOW), &l);
    assert_eq!(
        d,
        Decision::AllowWithApprovals {
            quorum: quorum(&[("treasury-approver", 3), ("risk", 1), ("desk-approver", 2)]),
            policy_ids: vec!["a".into(), "b".into(), "c".into()],
        }
    );
    assert_eq!(
        String::from_utf8(d.canonical_bytes()).unwrap(),
        r#"{"decision":"allow_with_approvals","quorum":{"desk-approver":2,"risk":1,"treasury-approver":3},"policy_ids":["a","b","c"]}"#
    );
}

#[test]
fn raw_digest_needs_an_explicit_annotated_permit() {
    let l = MemoryLedger::new();
    // A broad permit allows everything else but never a raw digest.
    let e = engine(PERMIT_ALL);
    let d = e.evaluate(&raw_digest_req(&[]), &l);
    assert_eq!(
        d,
        Decision::Deny {
            policy_ids: vec![],
            reasons: vec![DenyReason::RawDigestNotPermitted]
        }
    );
    // `action in [...]` lists without the raw digest action do not either.
    let e = engine(
        r#"@id("signing")
        permit (principal, action in [Tessera::Action::"sign_transaction",
                                      Tessera::Action::"sign_message"], resource);"#,
    );
    assert_eq!(
        e.evaluate(&raw_digest_req(&[]), &l).reasons(),
        [DenyReason::RawDigestNotPermitted]
    );

    // The explicit form works, with its approvals; the broad permit does not add its id.
    let e = engine(
        r#"
        @id("all")
        permit (principal, action, resource);
        @id("raw-ok")
        @allow_raw_digest("true")
        @approvals("risk:2")
        permit (principal in Tessera::Role::"quant", action == Tessera::Action::"sign_raw_digest", resource);
        "#,
    );
    assert_eq!(
        e.evaluate(&raw_digest_req(&["quant"]), &l),
        Decision::AllowWithApprovals {
            quorum: quorum(&[("risk", 2)]),
            policy_ids: vec!["raw-ok".into()]
        }
    );
    assert_eq!(
        e.evaluate(&raw_digest_req(&["trader"]), &l).reasons(),
        [DenyReason::RawDigestNotPermitted]
    );

    // The bundle compiler refuses the ambiguous forms.
    for bad in [
        // Names the action without the annotation.
        r#"@id("x") permit (principal, action == Tessera::Action::"sign_raw_digest", resource);"#,
        r#"@id("x") permit (principal, action in [Tessera::Action::"sign_message", Tessera::Action::"sign_raw_digest"], resource);"#,
        // Annotation on a broad permit.
        r#"@id("x") @allow_raw_digest("true") permit (principal, action, resource);"#,
        // Annotation with another value, or on a forbid.
        r#"@id("x") @allow_raw_digest("yes") permit (principal, action == Tessera::Action::"sign_raw_digest", resource);"#,
        r#"@id("x") @allow_raw_digest("true") forbid (principal, action == Tessera::Action::"sign_raw_digest", resource);"#,
    ] {
        assert!(
            matches!(
                Engine::compile(&bundle(1, bad)),
                Err(BundleError::PolicyParse { .. })
            ),
            "{bad}"
        );
    }
    // A forbid may name it without annotation.
    engine(
        r#"@id("x") forbid (principal, action == Tessera::Action::"sign_raw_digest", resource);"#,
    );
}

#[test]
fn action_is_derived_from_the_payload() {
    let t = eth_transfer(OTHER_DEST, 1);
    assert_eq!(
        PolicyAction::for_payload(Some(&t), &[]),
        PolicyAction::SignTransaction
    );
    let raw = [SignMessage::danger_raw_digest([7; 32])];
    assert_eq!(
        PolicyAction::for_payload(Some(&t), &raw),
        PolicyAction::SignRawDigest
    );
    assert_eq!(
        PolicyAction::for_payload(None, &raw),
        PolicyAction::SignRawDigest
    );
    assert_eq!(
        PolicyAction::for_payload(None, &[]),
        PolicyAction::SignMessage
    );
    let mut m = Intent::new(
        "ethereum",
        "mainnet",
        IntentKind::SignMessage,
        WALLET_SOURCE.into(),
    );
    m.message = Some(MessagePreview {
        standard: "eip712".into(),
        summary: "Permit".into(),
        content: "{}".into(),
    });
    assert_eq!(
        PolicyAction::for_payload(Some(&m), &[]),
        PolicyAction::SignTypedData
    );
    m.message.as_mut().unwrap().standard = "personal_sign".into();
    assert_eq!(
        PolicyAction::for_payload(Some(&m), &[]),
        PolicyAction::SignMessage
    );
}

#[test]
fn evaluation_errors_fail_closed() {
    let l = MemoryLedger::new();
    // A forbid that errors (Long overflow) must not let the permit through.
    let e = engine(
        r#"
        @id("all")
        permit (principal, action, resource);
        @id("overflowing-forbid")
        forbid (principal, action, resource)
        when { context.amount.base + 9223372036854775807 < 0 };
        "#,
    );
    let d = e.evaluate(&req(&[], &eth_transfer(OTHER_DEST, 1), NOW), &l);
    let Decision::Deny { reasons, .. } = &d else {
        panic!("{d:?}")
    };
    assert!(
        matches!(&reasons[..], [DenyReason::PolicyError { policy_id, .. }] if policy_id == "overflowing-forbid"),
        "{reasons:?}"
    );
    // Zero (no value, no fee) does not overflow: allowed.
    assert!(!e
        .evaluate(
            &req(&[], &with_fee(eth_transfer(OTHER_DEST, 0), 0), NOW),
            &l
        )
        .is_deny());
}

#[test]
fn tenant_and_chain_must_match() {
    let e = engine(PERMIT_ALL);
    let other = Principal::new("globex", "k", ["trader"]).unwrap();
    let r = PolicyRequest::for_intent(
        other,
        PolicyAction::SignTransaction,
        wallet(),
        &eth_transfer(OTHER_DEST, 1),
        NOW,
    )
    .unwrap();
    assert_eq!(
        e.evaluate(&r, &MemoryLedger::new()).reasons(),
        [DenyReason::TenantMismatch {
            request: "globex".into(),
            bundle: TENANT.into()
        }]
    );
    let sepolia = WalletRef::new("w", "ethereum", "sepolia").unwrap();
    assert!(matches!(
        PolicyRequest::for_intent(
            principal(&[]),
            PolicyAction::SignTransaction,
            sepolia,
            &eth_transfer(OTHER_DEST, 1),
            NOW
        ),
        Err(RequestError::ChainMismatch { .. })
    ));
    assert!(matches!(
        PolicyRequest::for_wallet(principal(&[]), PolicyAction::ChangePolicy, wallet(), NOW),
        Err(RequestError::InvalidField { .. })
    ));
    assert!(Principal::new("", "k", ["r"]).is_err());
    assert!(Principal::new("t", "k", ["a\nb"]).is_err());
    assert!(WalletRef::new("w", "eth:x", "mainnet").is_err());
}

#[test]
fn change_policy_and_create_wallet() {
    let e = engine(
        r#"
        @id("policy-change")
        @approvals("risk:2")
        permit (principal in Tessera::Role::"admin", action == Tessera::Action::"change_policy", resource == Tessera::Tenant::"acme");
        @id("wallets")
        permit (principal in Tessera::Role::"admin", action == Tessera::Action::"create_wallet", resource)
        when { resource.chain == "ethereum" && resource in Tessera::Tenant::"acme" };
        "#,
    );
    let l = MemoryLedger::new();
    let d = e.evaluate(
        &PolicyRequest::change_policy(principal(&["admin"]), NOW),
        &l,
    );
    assert_eq!(d.quorum(), Some(&quorum(&[("risk", 2)])));
    assert!(e
        .evaluate(
            &PolicyRequest::change_policy(principal(&["trader"]), NOW),
            &l
        )
        .is_deny());
    let cw = |w: WalletRef| {
        PolicyRequest::for_wallet(principal(&["admin"]), PolicyAction::CreateWallet, w, NOW)
            .unwrap()
    };
    assert_eq!(ids(&e.evaluate(&cw(wallet()), &l)), ["wallets"]);
    assert!(e
        .evaluate(&cw(WalletRef::new("b", "bitcoin", "mainnet").unwrap()), &l)
        .is_deny());
}

#[test]
fn amounts_tier_correctly_up_to_2_pow_256() {
    let e = engine(
        r#"
        @id("small")
        permit (principal, action, resource)
        when { context.amount.units.lessThanOrEqual(decimal("100.0")) };
        @id("large")
        @approvals("desk-approver:2")
        permit (principal, action, resource)
        when { context.amount.units.greaterThan(decimal("100.0")) };
        @id("no-overflowing-amounts")
        forbid (principal, action, resource)
        when { context.amount_exceeds_i64 && !context.asset.native };
        "#,
    );
    let l = MemoryLedger::new();
    let d = |i: &Intent| e.evaluate(&req(&[], i, NOW), &l);
    // Exactly on the tier (value plus max fee): small. One wei above: large (ceiling rounding).
    assert_eq!(
        ids(&d(&eth_transfer(OTHER_DEST, 100 * ETH - FEE))),
        ["small"]
    );
    assert_eq!(
        ids(&d(&eth_transfer(OTHER_DEST, 100 * ETH - FEE + 1))),
        ["large"]
    );
    // 10^30 wei: far above i64 in base units, still tiered by units.
    assert_eq!(
        ids(&d(&eth_transfer(OTHER_DEST, 10u128.pow(30)))),
        ["large"]
    );
    // 2^256 - 1 wei (units saturate): large, never small.
    let mut max = eth_transfer(OTHER_DEST, 0);
    max.transfers[0].amount = Amount::from_be_bytes(&[0xff; 32]);
    assert_eq!(ids(&d(&max)), ["large"]);
    // The same for a token: denied by the i64 flag.
    let t = token_transfer(usdc(), OTHER_DEST, Amount::from_be_bytes(&[0xff; 32]));
    assert_eq!(ids(&d(&t)), ["no-overflowing-amounts"]);
    // USDC (6 decimals) below i64: plain tiers (the ETH evaluation of the fee is small).
    assert_eq!(
        ids(&d(&usdc_transfer(OTHER_DEST, 100 * USDC_UNIT))),
        ["small"]
    );
    assert_eq!(
        ids(&d(&usdc_transfer(OTHER_DEST, 100 * USDC_UNIT + 1))),
        ["large", "small"]
    );
    // Unknown decimals count as base units: 150 base units is "large" although it may be
    // a tiny amount of a token with unknown decimals.
    let unknown = Asset {
        symbol: "?".into(),
        decimals: None,
        contract: Some(UNKNOWN_TOKEN.into()),
    };
    assert_eq!(
        ids(&d(&token_transfer(
            unknown,
            OTHER_DEST,
            Amount::from_u128(150)
        ))),
        ["large", "small"]
    );
}

#[test]
fn several_transfers_of_an_asset_are_summed_and_each_asset_is_a_leg() {
    let e = engine(
        r#"
        @id("small")
        permit (principal, action, resource)
        when { context.amount.units.lessThanOrEqual(decimal("10.0")) };
        @id("large")
        @approvals("desk-approver:1")
        permit (principal, action, resource)
        when { context.amount.units.greaterThan(decimal("10.0")) };
        @id("no-usdc-to-other")
        forbid (principal, action, resource)
        when { context.asset.symbol == "USDC" && context.destinations.contains("0x1111111111111111111111111111111111111111") };
        "#,
    );
    let l = MemoryLedger::new();
    // Two ETH transfers of 6 ETH: the leg is 12 ETH plus the max fee, large.
    let mut i = eth_transfer(ALLOWED_DEST, 6 * ETH);
    i.transfers.push(i.transfers[0].clone());
    let r = req(&[], &i, NOW);
    assert_eq!(r.facts().unwrap().legs().len(), 1);
    assert_eq!(
        r.facts().unwrap().legs()[0].total.as_str(),
        "12000420000000000000"
    );
    assert_eq!(
        r.facts().unwrap().legs()[0].value.as_str(),
        "12000000000000000000"
    );
    assert_eq!(ids(&e.evaluate(&r, &l)), ["large"]);
    // ETH + USDC: two legs, each evaluated; any deny denies the whole request.
    let mut i = eth_transfer(OTHER_DEST, ETH);
    i.transfers
        .push(usdc_transfer(ALLOWED_DEST, 5 * USDC_UNIT).transfers[0].clone());
    let r = req(&[], &i, NOW);
    assert_eq!(r.facts().unwrap().legs().len(), 2);
    assert_eq!(ids(&e.evaluate(&r, &l)), ["no-usdc-to-other"]);
    i.transfers[0].to = ALLOWED_DEST.into();
    i.transfers[1].amount = Amount::from_u128(50 * USDC_UNIT);
    let d = e.evaluate(&req(&[], &i, NOW), &l);
    assert_eq!(d.quorum(), Some(&quorum(&[("desk-approver", 1)])));
    assert_eq!(ids(&d), ["large", "small"]);
}

#[test]
fn context_normalizes_addresses_and_selectors_and_has_time() {
    let e = engine(
        r#"
        @id("allow-listed")
        permit (principal, action, resource)
        when { ["0x8617e340b3d01fa5f11f306f4090fd50e238070d"].containsAll(context.destinations) };
        @id("no-deadbeef")
        forbid (principal, action, resource)
        when { context.call.selector == "deadbeef" };
        @id("weekdays-only")
        forbid (principal, action, resource)
        when { context.utc_weekday >= 5 || context.utc_hour < 8 };
        "#,
    );
    let l = MemoryLedger::new();
    let thursday_noon = NOW + 12 * 3600;
    // EIP-55 destination matches its lowercase allow-list entry.
    assert_eq!(
        ids(&e.evaluate(&req(&[], &eth_transfer(ALLOWED_DEST, 1), thursday_noon), &l)),
        ["allow-listed"]
    );
    // Upper-case selector is normalized.
    assert_eq!(
        ids(&e.evaluate(&req(&[], &unknown_selector(OTHER_DEST), thursday_noon), &l)),
        ["no-deadbeef"]
    );
    // Time windows: Thursday 07:00 and Saturday noon are refused.
    assert_eq!(
        ids(&e.evaluate(
            &req(&[], &eth_transfer(ALLOWED_DEST, 1), NOW + 7 * 3600),
            &l
        )),
        ["weekdays-only"]
    );
    assert_eq!(
        ids(&e.evaluate(
            &req(
                &[],
                &eth_transfer(ALLOWED_DEST, 1),
                thursday_noon + 2 * 86_400
            ),
            &l
        )),
        ["weekdays-only"]
    );
}

#[test]
fn bundles_with_bad_cedar_are_refused() {
    let cases = [
        ("syntax", "permit (principal, action, resource"),
        ("no id", "permit (principal, action, resource);"),
        (
            "duplicate id",
            r#"@id("a") permit (principal, action, resource); @id("a") forbid (principal, action, resource);"#,
        ),
        (
            "bad id",
            r#"@id("a b") permit (principal, action, resource);"#,
        ),
        (
            "unknown attribute",
            r#"@id("a") permit (principal, action, resource) when { context.amount_usd > 1 };"#,
        ),
        (
            "type error",
            r#"@id("a") permit (principal, action, resource) when { context.amount.base > "1" };"#,
        ),
        (
            "unknown entity type",
            r#"@id("a") permit (principal in User::"alice", action, resource);"#,
        ),
        (
            "unknown action",
            r#"@id("a") permit (principal, action == Tessera::Action::"transfer", resource);"#,
        ),
        (
            "typo in annotation silently dropping approvals",
            r#"@id("a") @approval("desk-approver:1") permit (principal, action, resource);"#,
        ),
        (
            "approvals of an undefined role",
            r#"@id("a") @approvals("nobody:1") permit (principal, action, resource);"#,
        ),
        (
            "more approvals than role members",
            r#"@id("a") @approvals("desk-approver:3") permit (principal, action, resource);"#,
        ),
        (
            "approvals on a forbid",
            r#"@id("a") @approvals("desk-approver:1") forbid (principal, action, resource);"#,
        ),
        (
            "malformed approvals",
            r#"@id("a") @approvals("desk-approver") permit (principal, action, resource);"#,
        ),
        (
            "checksummed address literal",
            r#"@id("a") permit (principal, action, resource) when { context.destinations.contains("0x8617E340B3D01FA5F11F306F4090FD50E238070D") };"#,
        ),
        (
            "template with a slot",
            r#"@id("a") permit (principal == ?principal, action, resource);"#,
        ),
        (
            "resource attribute absent for change_policy",
            r#"@id("a") permit (principal, action, resource) when { resource.chain == "ethereum" };"#,
        ),
    ];
    for (what, text) in cases {
        match Engine::compile(&bundle(1, text)) {
            Err(BundleError::PolicyParse { reason }) => assert!(!reason.is_empty(), "{what}"),
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn evaluation_is_deterministic_across_runs_reparsing_and_policy_order() {
    let text = r#"
        @id("z-small")
        permit (principal, action, resource)
        when { context.amount.units.lessThanOrEqual(decimal("10.0")) };
        @id("a-any")
        @approvals("treasury-approver:2")
        permit (principal, action, resource);
        @id("m-large")
        @approvals("treasury-approver:3,risk:1")
        permit (principal, action, resource)
        when { context.amount.units.greaterThan(decimal("10.0")) };
        @id("b-deny-other")
        forbid (principal, action, resource)
        when { context.destinations.contains("0x1111111111111111111111111111111111111111") };
        @id("c-deny-other-too")
        @reason("second forbid")
        forbid (principal, action, resource)
        when { context.destination_count > 0 && context.destinations.contains("0x1111111111111111111111111111111111111111") };
    "#;
    let mut b = bundle(1, text);
    b.velocity.insert(
        "tiny".into(),
        VelocityRule {
            wallet: None,
            asset: AssetKey::native("ethereum", "mainnet").unwrap(),
            window_s: 60,
            limit: VelocityLimit::Amount(BaseUnits::from_u128(10 * ETH)),
        },
    );
    let e1 = Engine::compile(&b).unwrap();
    // Re-parse: through JSON, and with the policies in reverse order.
    let json = serde_json::to_string(&signed(b.clone(), &[1, 2])).unwrap();
    let reparsed: SignedBundle = serde_json::from_str(&json).unwrap();
    let e2 = Engine::compile(&reparsed.bundle).unwrap();
    let mut parts: Vec<&str> = text.split_inclusive(';').collect();
    parts.reverse();
    let mut b3 = b.clone();
    b3.policies = parts.concat();
    let e3 = Engine::compile(&b3).unwrap();
    let l = MemoryLedger::new();
    let cases = [
        eth_transfer(ALLOWED_DEST, ETH),
        eth_transfer(ALLOWED_DEST, 50 * ETH),
        eth_transfer(OTHER_DEST, 50 * ETH),
    ];
    for intent in &cases {
        let r = req(&[], intent, NOW);
        let first = e1.evaluate(&r, &l).canonical_bytes();
        for _ in 0..50 {
            assert_eq!(e1.evaluate(&r, &l).canonical_bytes(), first);
        }
        assert_eq!(e2.evaluate(&r, &l).canonical_bytes(), first);
        assert_eq!(e3.evaluate(&r, &l).canonical_bytes(), first);
    }
    // The denied case lists both forbids and the velocity reason, sorted.
    let d = e1.evaluate(&req(&[], &cases[2], NOW), &l);
    assert_eq!(ids(&d), ["b-deny-other", "c-deny-other-too"]);
    assert_eq!(d.reasons().len(), 3);
    assert_eq!(
        String::from_utf8(d.canonical_bytes()).unwrap(),
        concat!(
            r#"{"decision":"deny","policy_ids":["b-deny-other","c-deny-other-too"],"reasons":["#,
            r#"{"reason":"forbidden","policy_id":"b-deny-other","message":null},"#,
            r#"{"reason":"forbidden","policy_id":"c-deny-other-too","message":"second forbid"},"#,
            r#"{"reason":"velocity_exceeded","rule":"tiny","asset":"ethereum:mainnet:native","window_s":60,"metric":"amount","limit":"10000000000000000000","would_be":"50000420000000000000"}]}"#
        )
    );
    // Decisions round-trip through serde.
    let back: Decision = serde_json::from_slice(&d.canonical_bytes()).unwrap();
    assert_eq!(back, d);
}

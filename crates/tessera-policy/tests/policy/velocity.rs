//! Velocity rules against a ledger.

use tessera_policy::*;

use crate::common::*;

const P: &str = r#"@id("all") permit (principal, action, resource);"#;

fn usdc_key() -> AssetKey {
    AssetKey::token("ethereum", "mainnet", USDC).unwrap()
}

fn engine_with(rules: &[(&str, VelocityRule)]) -> Engine {
    let mut b = bundle(1, P);
    for (id, r) in rules {
        b.velocity.insert((*id).into(), r.clone());
    }
    Engine::compile(&b).unwrap()
}

fn usdc_per_day(max_units: u128) -> VelocityRule {
    VelocityRule {
        wallet: None,
        asset: usdc_key(),
        window_s: 86_400,
        limit: VelocityLimit::Amount(BaseUnits::from_u128(max_units * USDC_UNIT)),
    }
}

/// Evaluates, and records when allowed (as a signer does after signing).
fn sign(e: &Engine, l: &mut MemoryLedger, r: &PolicyRequest) -> Decision {
    let d = e.evaluate(r, l);
    if !d.is_deny() {
        record_signed(r, l).unwrap();
    }
    d
}

#[test]
fn a_split_across_requests_is_caught() {
    let e = engine_with(&[("usdc-day", usdc_per_day(100))]);
    let mut l = MemoryLedger::new();
    // One request of 120 is refused outright.
    let d = e.evaluate(
        &req(&[], &usdc_transfer(OTHER_DEST, 120 * USDC_UNIT), NOW),
        &l,
    );
    assert!(d.is_deny());
    // Split into 30 + 30 + 30 + 30: the fourth is refused, and says by how much.
    for i in 0..3 {
        let r = req(
            &[],
            &usdc_transfer(OTHER_DEST, 30 * USDC_UNIT),
            NOW + i * 60,
        );
        assert!(!sign(&e, &mut l, &r).is_deny(), "part {i}");
    }
    let r = req(&[], &usdc_transfer(OTHER_DEST, 30 * USDC_UNIT), NOW + 300);
    assert_eq!(
        sign(&e, &mut l, &r),
        Decision::Deny {
            policy_ids: vec![],
            reasons: vec![DenyReason::VelocityExceeded {
                rule: "usdc-day".into(),
                asset: "ethereum:mainnet:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48".into(),
                window_s: 86_400,
                metric: VelocityMetric::Amount,
                limit: "100000000".into(),
                would_be: "120000000".into(),
            }]
        }
    );
    // Three requests recorded, each with two legs: USDC and its ETH fee.
    assert_eq!(l.len(), 6, "a refused request is not recorded");
    // 10 more still fit exactly (the limit is inclusive).
    let r = req(&[], &usdc_transfer(OTHER_DEST, 10 * USDC_UNIT), NOW + 400);
    assert!(!sign(&e, &mut l, &r).is_deny());
    let r = req(&[], &usdc_transfer(OTHER_DEST, 1), NOW + 401);
    assert!(sign(&e, &mut l, &r).is_deny());
    // The window rolls: the first part (at NOW) leaves it at NOW + 86400.
    let r = req(
        &[],
        &usdc_transfer(OTHER_DEST, 30 * USDC_UNIT),
        NOW + 86_399,
    );
    assert!(e.evaluate(&r, &l).is_deny());
    let r = req(
        &[],
        &usdc_transfer(OTHER_DEST, 30 * USDC_UNIT),
        NOW + 86_400,
    );
    assert!(!e.evaluate(&r, &l).is_deny());
    // Other assets and other wallets have their own windows.
    assert!(!e
        .evaluate(&req(&[], &eth_transfer(OTHER_DEST, 1000 * ETH), NOW), &l)
        .is_deny());
    let other_wallet = PolicyRequest::for_intent(
        principal(&[]),
        PolicyAction::SignTransaction,
        WalletRef::new("wallet-2", "ethereum", "mainnet").unwrap(),
        &usdc_transfer(OTHER_DEST, 90 * USDC_UNIT),
        NOW + 500,
    )
    .unwrap();
    assert!(!e.evaluate(&other_wallet, &l).is_deny());
}

#[test]
fn count_limits_and_wallet_scoped_rules() {
    let e = engine_with(&[(
        "w1-two-per-hour",
        VelocityRule {
            wallet: Some("wallet-1".into()),
            asset: AssetKey::native("ethereum", "mainnet").unwrap(),
            window_s: 3_600,
            limit: VelocityLimit::Count(2),
        },
    )]);
    let mut l = MemoryLedger::new();
    for i in 0..2 {
        assert!(!sign(&e, &mut l, &req(&[], &eth_transfer(OTHER_DEST, 1), NOW + i)).is_deny());
    }
    let d = sign(&e, &mut l, &req(&[], &eth_transfer(OTHER_DEST, 1), NOW + 2));
    assert!(
        matches!(d.reasons(), [DenyReason::VelocityExceeded { metric: VelocityMetric::Count, limit, would_be, .. }] if limit == "2" && would_be == "3"),
        "{d:?}"
    );
    // Contract calls without value count as requests on the native coin too.
    let d = e.evaluate(&req(&[], &approve(false), NOW + 3), &l);
    assert!(d.is_deny());
    // The rule names wallet-1 only.
    let w2 = PolicyRequest::for_intent(
        principal(&[]),
        PolicyAction::SignTransaction,
        WalletRef::new("wallet-2", "ethereum", "mainnet").unwrap(),
        &eth_transfer(OTHER_DEST, 1),
        NOW + 4,
    )
    .unwrap();
    assert!(!e.evaluate(&w2, &l).is_deny());
    // An hour later the window is empty again.
    assert!(!e
        .evaluate(&req(&[], &eth_transfer(OTHER_DEST, 1), NOW + 3_600), &l)
        .is_deny());
}

#[test]
fn future_stamped_entries_still_count() {
    let e = engine_with(&[("usdc-day", usdc_per_day(100))]);
    let mut l = MemoryLedger::new();
    l.record(
        "wallet-1",
        &usdc_key(),
        &BaseUnits::from_u128(90 * USDC_UNIT),
        NOW + 1_000,
    )
    .unwrap();
    assert!(e
        .evaluate(
            &req(&[], &usdc_transfer(OTHER_DEST, 20 * USDC_UNIT), NOW),
            &l
        )
        .is_deny());
    l.prune_before(NOW + 2_000);
    assert!(l.is_empty());
}

struct BrokenLedger;

impl VelocityLedger for BrokenLedger {
    fn record(&mut self, _: &str, _: &AssetKey, _: &BaseUnits, _: u64) -> Result<(), LedgerError> {
        Err(LedgerError("disk full".into()))
    }
    fn totals_since(&self, _: &str, _: &AssetKey, _: u64) -> Result<WindowTotals, LedgerError> {
        Err(LedgerError("disk gone".into()))
    }
}

#[test]
fn an_unreadable_ledger_denies() {
    let e = engine(P);
    assert_eq!(
        e.evaluate(&req(&[], &eth_transfer(OTHER_DEST, 1), NOW), &BrokenLedger)
            .reasons(),
        [DenyReason::LedgerUnavailable {
            detail: "disk gone".into()
        }]
    );
    // change_policy does not touch the ledger.
    assert!(!e
        .evaluate(
            &PolicyRequest::change_policy(principal(&[]), NOW),
            &BrokenLedger
        )
        .is_deny());
}

/// A signer reads its ledger only `ledger_window_s` back (the soak test found reading the whole
/// year made every signature slower): cut there, the ledger gives the same decision as the whole
/// one, and the window covers the longest rule — cut at a day, a week's rule would miss spends.
#[test]
fn the_ledger_window_covers_the_context_day_and_the_longest_rule() {
    assert_eq!(
        engine_with(&[]).ledger_window_s(),
        86_400,
        "the context's day total"
    );
    let week = VelocityRule {
        window_s: 7 * 86_400,
        ..usdc_per_day(100)
    };
    let e = engine_with(&[("usdc-day", usdc_per_day(1_000)), ("usdc-week", week)]);
    assert_eq!(e.ledger_window_s(), 7 * 86_400);

    let mut whole = MemoryLedger::new();
    for (amount, at) in [
        (50, NOW - 400 * 86_400),
        (60, NOW - 6 * 86_400),
        (30, NOW - 7_200),
    ] {
        let r = req(&[], &usdc_transfer(OTHER_DEST, amount * USDC_UNIT), at);
        record_signed(&r, &mut whole).unwrap();
    }
    let r = req(&[], &usdc_transfer(OTHER_DEST, 20 * USDC_UNIT), NOW);
    let decision = e.evaluate(&r, &whole);
    assert!(decision.is_deny(), "60 + 30 + 20 in a week is over 100");

    let mut cut = whole.clone();
    cut.prune_before(NOW - e.ledger_window_s());
    assert_eq!(
        e.evaluate(&r, &cut),
        decision,
        "the cut ledger decides the same"
    );

    let mut too_short = whole;
    too_short.prune_before(NOW - 86_400);
    assert!(
        !e.evaluate(&r, &too_short).is_deny(),
        "a day's cut misses the week's 60"
    );
}

/// The ledger's prefix sums answer every window exactly as a plain sum over the entries does:
/// 200 random histories of out-of-order records (a clock that went back), several requests in
/// one second (kept as one entry), windows starting anywhere, and prunes in between.
#[test]
fn window_totals_match_a_plain_sum_over_random_histories() {
    let asset = usdc_key();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for _ in 0..200 {
        let mut ledger = MemoryLedger::new();
        let mut plain: Vec<(u64, u128)> = Vec::new();
        let mut pruned_before = 0u64;
        for _ in 0..next(60) + 1 {
            let at = 1_000 + next(500);
            let amount = u128::from(next(1_000_000)) * 1_000_000_000_000;
            ledger
                .record("w", &asset, &BaseUnits::from_u128(amount), at)
                .unwrap();
            plain.push((at, amount));
            if next(10) == 0 {
                pruned_before = pruned_before.max(1_000 + next(300));
                ledger.prune_before(pruned_before);
                plain.retain(|(t, _)| *t >= pruned_before);
            }
            for since in [0, 1_000 + next(520), pruned_before, 2_000] {
                let want: Vec<u128> = plain
                    .iter()
                    .filter(|(t, _)| *t >= since)
                    .map(|(_, a)| *a)
                    .collect();
                let got = ledger.totals_since("w", &asset, since).unwrap();
                assert_eq!(got.count, want.len() as u64, "count since {since}");
                assert_eq!(
                    got.sum,
                    BaseUnits::from_u128(want.iter().sum()),
                    "sum since {since}"
                );
            }
            let mut seconds: Vec<u64> = plain.iter().map(|(t, _)| *t).collect();
            seconds.sort_unstable();
            seconds.dedup();
            assert_eq!(ledger.len(), seconds.len(), "one entry per second");
        }
        let other = ledger.totals_since("other-wallet", &asset, 0).unwrap();
        assert_eq!((other.count, other.sum), (0, BaseUnits::zero()));
    }
}

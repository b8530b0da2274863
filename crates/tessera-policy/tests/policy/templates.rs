//! The shipped templates, with concrete intents and concrete decisions.

use tessera_chain::{Amount, Asset, Intent};
use tessera_policy::*;

use crate::common::*;

#[test]
fn hot_wallet_template() {
    let e = Engine::compile(&hot_bundle()).unwrap();
    let l = MemoryLedger::new();
    let ev = |roles: &[&str], i: &Intent| e.evaluate(&req(roles, i, NOW), &l);

    // Small transfers: no approval.
    assert_eq!(
        ev(TRADER, &eth_transfer(OTHER_DEST, ETH)),
        allow("hot-small-transfer")
    );
    // The tier is on the value plus the max fee (0.00042 ETH here).
    assert_eq!(
        ev(TRADER, &eth_transfer(OTHER_DEST, 2 * ETH - FEE)),
        allow("hot-small-transfer")
    );
    assert_eq!(
        ev(TRADER, &usdc_transfer(OTHER_DEST, 10_000 * USDC_UNIT)),
        allow("hot-small-transfer")
    );
    // Above the tier: one desk approver. Exactly 2 ETH of value is above it with its fee
    // (changed on purpose by issue 16: the fee counts).
    assert_eq!(
        ev(TRADER, &eth_transfer(OTHER_DEST, 2 * ETH - FEE + 1)),
        approvals("desk-approver", 1, &["hot-large-transfer"])
    );
    assert_eq!(
        ev(TRADER, &eth_transfer(OTHER_DEST, 2 * ETH)),
        approvals("desk-approver", 1, &["hot-large-transfer"])
    );
    assert_eq!(
        ev(TRADER, &eth_transfer(OTHER_DEST, 2 * ETH + 1)),
        approvals("desk-approver", 1, &["hot-large-transfer"])
    );
    // (Its ETH fee is small: the fee's evaluation adds `hot-small-transfer`.)
    assert_eq!(
        ev(TRADER, &usdc_transfer(OTHER_DEST, 50_000 * USDC_UNIT)),
        approvals(
            "desk-approver",
            1,
            &["hot-large-transfer", "hot-small-transfer"]
        )
    );
    // Any amount of a token the desk does not list: one approver.
    let unknown = Asset {
        symbol: "?".into(),
        decimals: None,
        contract: Some(UNKNOWN_TOKEN.into()),
    };
    assert_eq!(
        ev(
            TRADER,
            &token_transfer(unknown, OTHER_DEST, Amount::from_u128(1))
        ),
        approvals(
            "desk-approver",
            1,
            &["hot-large-transfer", "hot-small-transfer"]
        )
    );
    // A bounded approve: one approver (as a call and as an allowance); an unlimited one: never.
    assert_eq!(
        ev(TRADER, &approve(false)),
        approvals("desk-approver", 1, &["hot-allowance", "hot-contract-call"])
    );
    assert_eq!(
        ev(TRADER, &approve(true)),
        forbidden(&[(
            "hot-deny-unlimited-approval",
            "unlimited token approvals are never signed from the hot wallet"
        )])
    );
    // Unknown selector: never.
    assert_eq!(
        ev(TRADER, &unknown_selector(OTHER_DEST)),
        forbidden(&[(
            "hot-deny-unknown-selector",
            "call data with a selector the adapter cannot decode"
        )])
    );
    // Typed data: one approver.
    assert_eq!(
        ev(TRADER, &typed_data()),
        approvals("desk-approver", 1, &["hot-offchain-signature"])
    );
    // Raw digest: no permit allows it.
    assert_eq!(
        e.evaluate(&raw_digest_req(TRADER), &l).reasons(),
        [DenyReason::RawDigestNotPermitted]
    );
    // Someone who is not a trader: default deny.
    assert_eq!(
        ev(&["intern"], &eth_transfer(OTHER_DEST, 1)).reasons(),
        [DenyReason::NoPermit]
    );
    // Absurd amounts.
    let mut huge = eth_transfer(OTHER_DEST, 0);
    huge.transfers[0].amount = Amount::from_be_bytes(&[0xff; 32]);
    assert_eq!(ids(&ev(TRADER, &huge)), ["hot-deny-absurd-amount"]);
}

#[test]
fn hot_wallet_velocity_split() {
    let e = Engine::compile(&hot_bundle()).unwrap();
    let mut l = MemoryLedger::new();
    // Ten transfers of 2 ETH each (max fee included), one every 10 minutes: each is "small",
    // but after 10 ETH in a day the busy-day rule asks for an approver, and the 11th breaks the
    // 20 ETH daily limit.
    for n in 1..=11u64 {
        let r = req(
            TRADER,
            &eth_transfer(OTHER_DEST, 2 * ETH - FEE),
            NOW + n * 600,
        );
        let d = e.evaluate(&r, &l);
        match n {
            1..=5 => assert_eq!(d, allow("hot-small-transfer"), "transfer {n}"),
            6..=10 => assert_eq!(
                d,
                approvals("desk-approver", 1, &["hot-busy-day", "hot-small-transfer"]),
                "transfer {n}"
            ),
            _ => assert_eq!(
                d.reasons(),
                [DenyReason::VelocityExceeded {
                    rule: "hot-eth-per-day".into(),
                    asset: "ethereum:mainnet:native".into(),
                    window_s: 86_400,
                    metric: VelocityMetric::Amount,
                    limit: "20000000000000000000".into(),
                    would_be: "22000000000000000000".into(),
                }],
                "transfer {n}"
            ),
        }
        if !d.is_deny() {
            record_signed(&r, &mut l).unwrap();
        }
    }
    // The day's 20 ETH are used up: even a USDC transfer is refused, its gas is ETH.
    let usdc = req(
        TRADER,
        &usdc_transfer(OTHER_DEST, 10 * USDC_UNIT),
        NOW + 7_200,
    );
    assert!(
        matches!(e.evaluate(&usdc, &l).reasons(), [DenyReason::VelocityExceeded { rule, .. }] if rule == "hot-eth-per-day"),
        "{:?}",
        e.evaluate(&usdc, &l)
    );
    // USDC (on a fresh ledger): 10 × 10,000 fit the 100,000 daily limit, the 11th does not.
    let mut l = MemoryLedger::new();
    for n in 1..=11u64 {
        let r = req(
            TRADER,
            &usdc_transfer(OTHER_DEST, 10_000 * USDC_UNIT),
            NOW + n,
        );
        let d = e.evaluate(&r, &l);
        if n <= 10 {
            assert_eq!(d, allow("hot-small-transfer"), "usdc {n}");
            record_signed(&r, &mut l).unwrap();
        } else {
            assert!(
                matches!(d.reasons(), [DenyReason::VelocityExceeded { rule, .. }] if rule == "hot-usdc-per-day"),
                "{d:?}"
            );
        }
    }
}

#[test]
fn treasury_cold_template() {
    let e = Engine::compile(&cold_bundle()).unwrap();
    let l = MemoryLedger::new();
    let ev = |roles: &[&str], i: &Intent| e.evaluate(&req(roles, i, NOW), &l);

    // Every transfer: 2 treasury approvers; above the high tier: 3.
    assert_eq!(
        ev(OPERATOR, &eth_transfer(ALLOWED_DEST, ETH)),
        approvals("treasury-approver", 2, &["cold-transfer"])
    );
    assert_eq!(
        ev(OPERATOR, &eth_transfer(ALLOWED_DEST, 100 * ETH - FEE)),
        approvals("treasury-approver", 2, &["cold-transfer"])
    );
    // Exactly 100 ETH of value is above the tier with its fee (changed on purpose by issue 16).
    assert_eq!(
        ev(OPERATOR, &eth_transfer(ALLOWED_DEST, 100 * ETH)),
        approvals(
            "treasury-approver",
            3,
            &["cold-transfer", "cold-transfer-high-tier"]
        )
    );
    assert_eq!(
        ev(OPERATOR, &eth_transfer(ALLOWED_DEST, 500 * ETH)),
        approvals(
            "treasury-approver",
            3,
            &["cold-transfer", "cold-transfer-high-tier"]
        )
    );
    assert_eq!(
        ev(OPERATOR, &usdc_transfer(ALLOWED_DEST, 250_000 * USDC_UNIT)),
        approvals("treasury-approver", 2, &["cold-transfer"])
    );
    assert_eq!(
        ev(
            OPERATOR,
            &usdc_transfer(ALLOWED_DEST, 2_000_000 * USDC_UNIT)
        ),
        approvals(
            "treasury-approver",
            3,
            &["cold-transfer", "cold-transfer-high-tier"]
        )
    );
    // The second allow-listed address (hot wallet refill), written in EIP-55 case by the adapter.
    assert_eq!(
        ev(OPERATOR, &eth_transfer(WALLET_SOURCE, ETH)),
        approvals("treasury-approver", 2, &["cold-transfer"])
    );
    // Any other destination: refused, whatever the amount.
    assert_eq!(
        ev(OPERATOR, &eth_transfer(OTHER_DEST, 1)),
        forbidden(&[(
            "cold-destination-allow-list",
            "destination is not on the treasury allow-list"
        )])
    );
    // Several destinations, one of them not listed: refused.
    let mut two = eth_transfer(ALLOWED_DEST, ETH);
    two.transfers
        .push(eth_transfer(OTHER_DEST, ETH).transfers[0].clone());
    assert_eq!(ids(&ev(OPERATOR, &two)), ["cold-destination-allow-list"]);
    // Contract calls other than an ERC-20 transfer of a listed token.
    assert_eq!(
        ev(OPERATOR, &approve(true)),
        forbidden(&[
            ("cold-no-allowance", "the treasury grants no allowances"),
            (
                "cold-only-erc20-transfer",
                "the only contract call the treasury signs is an ERC-20 transfer"
            ),
        ])
    );
    assert_eq!(
        ev(OPERATOR, &unknown_selector(OTHER_DEST)),
        forbidden(&[
            (
                "cold-only-erc20-transfer",
                "the only contract call the treasury signs is an ERC-20 transfer"
            ),
            (
                "cold-only-listed-tokens",
                "ERC-20 transfers only of the treasury's listed tokens"
            ),
        ])
    );
    let unlisted = Asset {
        symbol: "DAI".into(),
        decimals: Some(18),
        contract: Some("0x6B175474E89094C44Da98b954EedeAC495271d0F".into()),
    };
    assert_eq!(
        ids(&ev(
            OPERATOR,
            &token_transfer(unlisted, ALLOWED_DEST, Amount::from_u128(ETH))
        )),
        ["cold-only-listed-tokens"]
    );
    // Raw digests: explicitly forbidden.
    assert_eq!(
        e.evaluate(&raw_digest_req(OPERATOR), &l),
        forbidden(&[("cold-no-raw-digest", "the treasury never signs raw digests")])
    );
    // Typed data: nothing permits it.
    assert_eq!(
        ev(OPERATOR, &typed_data()).reasons(),
        [DenyReason::NoPermit]
    );
    // A trader (hot-wallet role) gets nothing here.
    assert_eq!(
        ev(TRADER, &eth_transfer(ALLOWED_DEST, 1)).reasons(),
        [DenyReason::NoPermit]
    );
}

//! Issue 16, the policy side: what policy sees of a payload's effects. The max fee counts with
//! the value moved (per-request tiers and velocity) and its share of that value is in the
//! context; every call, allowance and authority change is visible; transfers of other accounts'
//! funds are counted and flagged; an asset without a contract is the native coin only if it is
//! the chain's native coin.

use tessera_chain::{
    Allowance, Amount, Asset, AuthorityChange, ContractCall, Fee, InputRef, Intent, IntentKind,
    RiskFlag, Transfer,
};
use tessera_policy::*;

use crate::common::*;

const SOL: u128 = 1_000_000_000;
const BTC: u128 = 100_000_000;
const SOL_WALLET: &str = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin";
const SOL_DEST: &str = "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N";
const SOL_ATTACKER: &str = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T";
const SOL_TOKEN_ACCOUNT: &str = "7UX2i7SucgLMQcfZ75s3VXmZZY4YRUyJN9X1RgfMoDUi";
const SOL_MINT_USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
const TOKEN_PROGRAM: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
const SYSTEM_PROGRAM: &str = "11111111111111111111111111111111";
const BTC_WALLET: &str = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
const BTC_DEST: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
const SPENDER: &str = "0x000000000022D473030F116dDEE9F6B43aC78BA3";

const HOT_FEE_RULE: &str = "hot-high-fee";

fn sol() -> Asset {
    Asset::native("SOL", 9)
}

fn sol_wallet() -> WalletRef {
    WalletRef::new("wallet-sol", "solana", "mainnet-beta").unwrap()
}

fn btc_wallet() -> WalletRef {
    WalletRef::new("wallet-btc", "bitcoin", "mainnet").unwrap()
}

/// A Solana intent paying `fee_lamports` at most, with `transfers` of native SOL.
fn sol_intent(kind: IntentKind, transfers: &[u128], fee_lamports: u128) -> Intent {
    let mut i = Intent::new("solana", "mainnet-beta", kind, SOL_WALLET.into());
    i.recent_blockhash = Some(SOL_DEST.into());
    i.fee_payer = Some(SOL_WALLET.into());
    i.fee = Some(Fee {
        asset: sol(),
        max: Amount::from_u128(fee_lamports),
        detail: "5000 lamports × 1 signature".into(),
    });
    for lamports in transfers {
        i.transfers.push(Transfer {
            from: None,
            to: SOL_DEST.into(),
            asset: sol(),
            amount: Amount::from_u128(*lamports),
        });
    }
    i
}

fn sol_call(method: &str, selector: &str) -> ContractCall {
    ContractCall {
        contract: TOKEN_PROGRAM.into(),
        method: method.into(),
        selector: selector.into(),
        args: vec![],
    }
}

fn eval_hot(wallet: WalletRef, intent: &Intent) -> Decision {
    let e = Engine::compile(&hot_bundle()).unwrap();
    e.evaluate(&req_on(wallet, TRADER, intent, NOW), &MemoryLedger::new())
}

fn eval_cold(wallet: WalletRef, intent: &Intent) -> Decision {
    let e = Engine::compile(&cold_bundle()).unwrap();
    e.evaluate(&req_on(wallet, OPERATOR, intent, NOW), &MemoryLedger::new())
}

// ------------------------------------------------------------------------------------ fees

/// 0.01 ETH with a max fee of 21 ETH (1,000,000 gas × 21,000 gwei): the ETH leg is 21.01 ETH.
fn eth_with_huge_fee() -> Intent {
    let mut i = with_fee(eth_transfer(OTHER_DEST, ETH / 100), 21 * ETH);
    i.fee.as_mut().unwrap().detail = "1000000 gas × 21000 gwei".into();
    i.flag(RiskFlag::HighFee);
    i
}

#[test]
fn the_max_fee_counts_toward_the_native_leg_and_velocity() {
    // ETH transfer: one leg, value plus max fee.
    let r = req(&[], &eth_with_huge_fee(), NOW);
    let legs = r.legs();
    assert_eq!(legs.len(), 1);
    assert_eq!(legs[0].asset.to_string(), "ethereum:mainnet:native");
    assert_eq!(legs[0].total, BaseUnits::from_u128(ETH / 100 + 21 * ETH));
    // A USDC transfer pays its gas in ETH: an ETH leg of the fee beside the USDC leg.
    let r = req(&[], &usdc_transfer(OTHER_DEST, 5 * USDC_UNIT), NOW);
    let legs: Vec<(String, String)> = r
        .legs()
        .iter()
        .map(|l| (l.asset.to_string(), l.total.to_string()))
        .collect();
    assert_eq!(
        legs,
        [
            ("ethereum:mainnet:native".to_string(), FEE.to_string()),
            (
                format!("ethereum:mainnet:{}", USDC.to_lowercase()),
                (5 * USDC_UNIT).to_string()
            ),
        ]
    );
    // What a signer records after signing is what the evaluation counted, fee included.
    let mut l = MemoryLedger::new();
    record_signed(&r, &mut l).unwrap();
    record_signed(&req(&[], &eth_with_huge_fee(), NOW), &mut l).unwrap();
    let native = AssetKey::native("ethereum", "mainnet").unwrap();
    let day = l.totals_since("wallet-1", &native, NOW - 86_399).unwrap();
    assert_eq!(day.count, 2);
    assert_eq!(day.sum, BaseUnits::from_u128(FEE + ETH / 100 + 21 * ETH));
}

#[test]
fn a_small_eth_transfer_with_a_huge_max_fee_is_not_small() {
    // With the desk's velocity rules, the 21.01 ETH it can cost break the 20 ETH daily limit.
    assert_eq!(
        eval_hot(wallet(), &eth_with_huge_fee()).reasons(),
        [DenyReason::VelocityExceeded {
            rule: "hot-eth-per-day".into(),
            asset: "ethereum:mainnet:native".into(),
            window_s: 86_400,
            metric: VelocityMetric::Amount,
            limit: (20 * ETH).to_string(),
            would_be: (ETH / 100 + 21 * ETH).to_string(),
        }]
    );
    // Without them, the Cedar rules alone ask for an approver: above the 2 ETH tier, a fee far
    // above 10 % of the value, and more than 10 ETH in the day with this request alone.
    let e = engine(HOT);
    let d = e.evaluate(
        &req(TRADER, &eth_with_huge_fee(), NOW),
        &MemoryLedger::new(),
    );
    assert_eq!(
        d,
        approvals(
            "desk-approver",
            1,
            &["hot-busy-day", HOT_FEE_RULE, "hot-large-transfer"]
        )
    );
}

#[test]
fn a_solana_priority_fee_counts_toward_the_native_amount() {
    // 0.01 SOL with a 1,400 SOL priority fee (1,400,000 CU at 10^12 micro-lamports each) plus
    // the 5,000-lamport base fee: the hot template's native tiers are on SOL here (and the
    // request alone makes the day busy).
    let mut i = sol_intent(IntentKind::Transfer, &[SOL / 100], 1_400 * SOL + 5_000);
    i.flag(RiskFlag::HighFee);
    assert_eq!(
        eval_hot(sol_wallet(), &i),
        approvals(
            "desk-approver",
            1,
            &["hot-busy-day", HOT_FEE_RULE, "hot-large-transfer"]
        )
    );
    let r = req_on(sol_wallet(), TRADER, &i, NOW);
    assert_eq!(
        r.legs()[0].total,
        BaseUnits::from_u128(1_400 * SOL + SOL / 100 + 5_000)
    );
    // A rule of its own on native amounts sees it too.
    let e = engine(
        r#"@id("up-to-one-sol") permit (principal, action, resource)
           when { context.asset.native && context.amount.units.lessThanOrEqual(decimal("1.0")) };"#,
    );
    assert_eq!(
        e.evaluate(&req_on(sol_wallet(), &[], &i, NOW), &MemoryLedger::new())
            .reasons(),
        [DenyReason::NoPermit]
    );
    // The same transfer with the base fee alone stays small.
    let cheap = sol_intent(IntentKind::Transfer, &[SOL / 100], 5_000);
    assert_eq!(eval_hot(sol_wallet(), &cheap), allow("hot-small-transfer"));
}

#[test]
fn a_bitcoin_input_without_change_pays_the_rest_as_fee() {
    // 3 BTC in, 0.01 BTC out, no change: the fee is 2.99 BTC.
    let mut i = Intent::new(
        "bitcoin",
        "mainnet",
        IntentKind::Transfer,
        BTC_WALLET.into(),
    );
    i.inputs.push(InputRef {
        outpoint: format!("{}:0", "ab".repeat(32)),
        amount: Amount::from_u128(3 * BTC),
        address: BTC_WALLET.into(),
    });
    i.transfers.push(Transfer {
        from: None,
        to: BTC_DEST.into(),
        asset: Asset::native("BTC", 8),
        amount: Amount::from_u128(BTC / 100),
    });
    i.fee = Some(Fee {
        asset: Asset::native("BTC", 8),
        max: Amount::from_u128(3 * BTC - BTC / 100),
        detail: "2990000 sat, 21000 sat/vB".into(),
    });
    i.flag(RiskFlag::HighFee);
    assert_eq!(
        eval_hot(btc_wallet(), &i),
        approvals("desk-approver", 1, &[HOT_FEE_RULE, "hot-large-transfer"])
    );
    let r = req_on(btc_wallet(), TRADER, &i, NOW);
    assert_eq!(r.legs()[0].total, BaseUnits::from_u128(3 * BTC));
}

#[test]
fn the_fee_and_its_share_of_the_value_are_in_the_context() {
    let e = engine(
        r#"
        @id("any") permit (principal, action, resource);
        @id("fee-over-10pc") permit (principal, action, resource)
        when { context.fee_share_known && context.fee_share_bps > 1000 };
        @id("share-unknown") permit (principal, action, resource)
        when { !context.fee_share_known && context.fee_share_bps == 9223372036854775807 };
        @id("fee-over-0.1") permit (principal, action, resource)
        when { context.fee.units.greaterThan(decimal("0.1")) };
        @id("value-over-1") permit (principal, action, resource)
        when { context.value.units.greaterThan(decimal("1.0")) };
        "#,
    );
    let l = MemoryLedger::new();
    let d = |i: &Intent| e.evaluate(&req(&[], i, NOW), &l);
    // 1 ETH with a 0.1 ETH fee: exactly 10 %, not over; the leg is 1.1 ETH, the value 1 ETH.
    assert_eq!(
        ids(&d(&with_fee(eth_transfer(OTHER_DEST, ETH), ETH / 10))),
        ["any"]
    );
    // One wei more fee: over 10 % (rounded up) and over 0.1 ETH.
    assert_eq!(
        ids(&d(&with_fee(eth_transfer(OTHER_DEST, ETH), ETH / 10 + 1))),
        ["any", "fee-over-0.1", "fee-over-10pc"]
    );
    // 2 ETH of value: the value rule; the fee is 0.021 %.
    assert_eq!(
        ids(&d(&eth_transfer(OTHER_DEST, 2 * ETH))),
        ["any", "value-over-1"]
    );
    // A USDC transfer moves no ETH: its fee has no share of an ETH value (and counts as large).
    assert_eq!(
        ids(&d(&usdc_transfer(OTHER_DEST, 5 * USDC_UNIT))),
        ["any", "share-unknown", "value-over-1"]
    );
}

#[test]
fn the_templates_act_on_fee_size() {
    // Hot: a 1 ETH transfer with a 0.2 ETH fee stays within the 2 ETH tier but the fee is 20 %
    // of the value; a USDC transfer with a 0.06 ETH fee is above the 0.05 ETH fee tier.
    assert_eq!(
        eval_hot(wallet(), &with_fee(eth_transfer(OTHER_DEST, ETH), ETH / 5)),
        approvals("desk-approver", 1, &[HOT_FEE_RULE, "hot-small-transfer"])
    );
    assert_eq!(
        eval_hot(
            wallet(),
            &with_fee(usdc_transfer(OTHER_DEST, 100 * USDC_UNIT), 6 * ETH / 100)
        ),
        approvals("desk-approver", 1, &[HOT_FEE_RULE, "hot-small-transfer"])
    );
    // The adapter's own high_fee flag counts too.
    let mut flagged = eth_transfer(OTHER_DEST, ETH);
    flagged.flag(RiskFlag::HighFee);
    assert_eq!(
        eval_hot(wallet(), &flagged),
        approvals("desk-approver", 1, &[HOT_FEE_RULE, "hot-small-transfer"])
    );
    // Cold: a fee over 10 % of the value, or over 0.1 ETH, takes the high tier's three approvers.
    assert_eq!(
        eval_cold(
            wallet(),
            &with_fee(eth_transfer(ALLOWED_DEST, ETH), ETH / 2)
        ),
        approvals("treasury-approver", 3, &["cold-high-fee", "cold-transfer"])
    );
    assert_eq!(
        eval_cold(
            wallet(),
            &with_fee(usdc_transfer(ALLOWED_DEST, 1_000 * USDC_UNIT), ETH / 5)
        ),
        approvals("treasury-approver", 3, &["cold-high-fee", "cold-transfer"])
    );
}

// --------------------------------------------------------------- calls, allowances, authorities

/// A USDC transfer followed by a second call the first one hides.
fn transfer_then(call: ContractCall) -> Intent {
    let mut i = usdc_transfer(ALLOWED_DEST, 1_000 * USDC_UNIT);
    i.calls.push(call);
    i.flag(RiskFlag::MultipleOperations);
    i
}

fn usdc_approve_call() -> ContractCall {
    ContractCall {
        contract: USDC.into(),
        method: "approve(address,uint256)".into(),
        selector: "095ea7b3".into(),
        args: vec![],
    }
}

#[test]
fn every_call_is_in_the_context() {
    let e = engine(
        r#"
        @id("any") permit (principal, action, resource);
        @id("two-operations") permit (principal, action, resource)
        when { context.operations == 2 };
        @id("calls-approve") permit (principal, action, resource)
        when { context.call_selectors.contains("095ea7b3") &&
               context.call_methods.contains("approve(address,uint256)") &&
               context.call_contracts.contains("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48") };
        @id("exact-call") permit (principal, action, resource)
        when { context.calls.contains({
                 contract: "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
                 method: "approve(address,uint256)",
                 selector: "095ea7b3" }) };
        @id("first-call-is-transfer") permit (principal, action, resource)
        when { context.call.present && context.call.selector == "a9059cbb" };
        "#,
    );
    let l = MemoryLedger::new();
    let d = e.evaluate(&req(&[], &transfer_then(usdc_approve_call()), NOW), &l);
    assert_eq!(
        ids(&d),
        [
            "any",
            "calls-approve",
            "exact-call",
            "first-call-is-transfer",
            "two-operations"
        ]
    );
    // One call: one operation.
    let d = e.evaluate(&req(&[], &usdc_transfer(OTHER_DEST, 1), NOW), &l);
    assert_eq!(ids(&d), ["any", "first-call-is-transfer"]);
}

#[test]
fn the_cold_template_checks_every_call_not_only_the_first() {
    // Before: the second call hid behind an ERC-20 transfer of a listed token.
    assert_eq!(
        ids(&eval_cold(wallet(), &transfer_then(usdc_approve_call()))),
        ["cold-only-erc20-transfer"]
    );
    let mut dai_transfer = usdc_approve_call();
    dai_transfer.contract = "0x6B175474E89094C44Da98b954EedeAC495271d0F".into();
    dai_transfer.method = "transfer(address,uint256)".into();
    dai_transfer.selector = "a9059cbb".into();
    assert_eq!(
        ids(&eval_cold(wallet(), &transfer_then(dai_transfer))),
        ["cold-only-listed-tokens"]
    );
}

#[test]
fn several_operations_need_an_approver_in_the_hot_wallet() {
    // Two SOL transfers of 0.5 SOL: within the tier together, but two operations.
    let mut i = sol_intent(IntentKind::Transfer, &[SOL / 2, SOL / 2], 5_000);
    i.flag(RiskFlag::MultipleOperations);
    assert_eq!(
        eval_hot(sol_wallet(), &i),
        approvals(
            "desk-approver",
            1,
            &["hot-multiple-operations", "hot-small-transfer"]
        )
    );
    // The count alone is enough, with or without the adapter's flag.
    i.risk_flags.clear();
    assert_eq!(
        ids(&eval_hot(sol_wallet(), &i)),
        ["hot-multiple-operations", "hot-small-transfer"]
    );
}

/// An ERC-20 `approve` of `amount` (`None`: unlimited) to [`SPENDER`], without any risk flag
/// (as an adapter that describes the allowance but does not flag its size would give it).
fn approve_of(amount: Option<u128>) -> Intent {
    let mut i = approve(false);
    i.risk_flags.clear();
    i.allowances.clear();
    i.allowances.push(Allowance {
        spender: SPENDER.into(),
        asset: usdc(),
        amount: amount.map(Amount::from_u128),
        expires_at: None,
        via: "approve".into(),
    });
    i
}

/// A Permit2 `PermitSingle` (typed data) with an unlimited amount.
fn unlimited_permit2() -> Intent {
    let mut i = typed_data();
    i.message.as_mut().unwrap().summary = "PermitSingle (Permit2)".into();
    i.allowances.push(Allowance {
        spender: SPENDER.into(),
        asset: usdc(),
        amount: None,
        expires_at: Some(NOW + 86_400),
        via: "permit2".into(),
    });
    i.flag(RiskFlag::OffchainSignature);
    i
}

#[test]
fn unlimited_allowances_are_denied_by_both_templates() {
    let hot = (
        "hot-deny-unlimited-approval",
        "unlimited token approvals are never signed from the hot wallet",
    );
    assert_eq!(eval_hot(wallet(), &approve_of(None)), forbidden(&[hot]));
    assert_eq!(eval_hot(wallet(), &unlimited_permit2()), forbidden(&[hot]));
    let cold = ("cold-no-allowance", "the treasury grants no allowances");
    assert_eq!(
        eval_cold(wallet(), &unlimited_permit2()),
        forbidden(&[cold])
    );
}

#[test]
fn a_bounded_allowance_needs_an_approver_in_the_hot_wallet() {
    // Inside a transfer: 0.1 SOL out, and a delegate may spend 5 USDC of the wallet.
    let mut i = sol_intent(IntentKind::Transfer, &[SOL / 10], 5_000);
    i.calls.push(sol_call("approve", "04"));
    i.allowances.push(Allowance {
        spender: SOL_ATTACKER.into(),
        asset: Asset {
            symbol: "USDC".into(),
            decimals: Some(6),
            contract: Some(SOL_MINT_USDC.into()),
        },
        amount: Some(Amount::from_u128(5 * USDC_UNIT)),
        expires_at: None,
        via: "approve".into(),
    });
    i.flag(RiskFlag::GrantsAuthority);
    assert_eq!(
        ids(&eval_hot(sol_wallet(), &i)),
        [
            "hot-allowance",
            "hot-multiple-operations",
            "hot-small-transfer"
        ]
    );
    // An EVM approve: an allowance and a contract call.
    assert_eq!(
        eval_hot(wallet(), &approve_of(Some(100 * USDC_UNIT))),
        approvals("desk-approver", 1, &["hot-allowance", "hot-contract-call"])
    );
    // The cold wallet grants none.
    assert_eq!(
        ids(&eval_cold(wallet(), &approve_of(Some(100 * USDC_UNIT)))),
        ["cold-no-allowance", "cold-only-erc20-transfer"]
    );
}

/// Token `Approve(0)` followed by `SetAuthority` (account owner → attacker): the account and
/// everything it will ever hold change hands behind what looks like a revoke.
fn approve_zero_then_set_authority() -> Intent {
    let mut i = sol_intent(IntentKind::ContractCall, &[], 5_000);
    i.calls.push(sol_call("approve", "04"));
    i.calls.push(sol_call("set_authority", "06"));
    i.allowances.push(Allowance {
        spender: SOL_ATTACKER.into(),
        asset: Asset {
            symbol: "USDC".into(),
            decimals: Some(6),
            contract: Some(SOL_MINT_USDC.into()),
        },
        amount: Some(Amount::zero()),
        expires_at: None,
        via: "approve".into(),
    });
    i.authorities.push(AuthorityChange {
        account: SOL_TOKEN_ACCOUNT.into(),
        authority: "account_owner".into(),
        new_authority: Some(SOL_ATTACKER.into()),
    });
    i.flag(RiskFlag::GrantsAuthority);
    i.flag(RiskFlag::MultipleOperations);
    i
}

#[test]
fn allowances_authorities_and_others_funds_are_in_the_context() {
    let e = engine(
        r#"
        @id("any") permit (principal, action, resource);
        @id("unlimited") permit (principal, action, resource)
        when { context.grants_unlimited_allowance };
        @id("to-permit2") permit (principal, action, resource)
        when { context.allowance_count == 1 &&
               context.allowance_spenders.contains("0x000000000022d473030f116ddee9f6b43ac78ba3") };
        @id("permit2-record") permit (principal, action, resource)
        when { context.allowances.contains({
                 spender: "0x000000000022d473030f116ddee9f6b43ac78ba3",
                 asset: { id: "ethereum:mainnet:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
                          symbol: "USDC", native: false,
                          contract: "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
                          decimals: 6, decimals_known: true },
                 unlimited: true,
                 amount: { base: 9223372036854775807, exceeds_i64: true,
                           exact: "115792089237316195423570985008687907853269984665640564039457584007913129639935",
                           units: decimal("922337203685477.5807"), units_saturated: true },
                 expires_at: 1767312000,
                 via: "permit2" }) };
        @id("owner-to-attacker") permit (principal, action, resource)
        when { context.authority_changes == 1 &&
               context.authorities.contains({
                 account: "7UX2i7SucgLMQcfZ75s3VXmZZY4YRUyJN9X1RgfMoDUi",
                 authority: "account_owner",
                 new_authority: "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T",
                 removed: false }) };
        @id("others-funds") permit (principal, action, resource)
        when { context.moves_others_funds };
        "#,
    );
    let l = MemoryLedger::new();
    assert_eq!(
        ids(&e.evaluate(&req(&[], &unlimited_permit2(), NOW), &l)),
        ["any", "permit2-record", "to-permit2", "unlimited"]
    );
    assert_eq!(
        ids(&e.evaluate(
            &req_on(sol_wallet(), &[], &approve_zero_then_set_authority(), NOW),
            &l
        )),
        ["any", "owner-to-attacker"]
    );
    assert_eq!(
        ids(&e.evaluate(&req(&[], &transfer_from(OTHER_DEST, 1), NOW), &l)),
        ["any", "others-funds"]
    );
    // The facts behind them.
    let r = req(&[], &unlimited_permit2(), NOW);
    let f = r.facts().unwrap();
    assert!(f.grants_unlimited_allowance());
    assert_eq!(f.allowances()[0].amount, None);
    assert_eq!(f.operations(), 1);
    let r = req_on(sol_wallet(), &[], &approve_zero_then_set_authority(), NOW);
    let f = r.facts().unwrap();
    assert_eq!(f.operations(), 2);
    assert_eq!(f.calls().len(), 2);
    assert_eq!(f.call().unwrap().method, "approve");
    assert_eq!(
        f.authorities()[0].new_authority.as_deref(),
        Some(SOL_ATTACKER)
    );
}

#[test]
fn authority_changes_are_denied() {
    let hot = (
        "hot-deny-authority-change",
        "the hot wallet never hands over control of an account",
    );
    assert_eq!(
        eval_hot(sol_wallet(), &approve_zero_then_set_authority()),
        forbidden(&[hot])
    );
    // A System Assign hidden in a transfer.
    let mut assign = sol_intent(IntentKind::Transfer, &[SOL / 10], 5_000);
    assign.calls.push(ContractCall {
        contract: SYSTEM_PROGRAM.into(),
        method: "assign".into(),
        selector: "01000000".into(),
        args: vec![],
    });
    assign.authorities.push(AuthorityChange {
        account: SOL_WALLET.into(),
        authority: "program_owner".into(),
        new_authority: Some(SOL_ATTACKER.into()),
    });
    assert_eq!(eval_hot(sol_wallet(), &assign), forbidden(&[hot]));
    // EVM transferOwnership.
    let mut own = approve(false);
    own.risk_flags.clear();
    own.allowances.clear();
    own.flag(RiskFlag::PrivilegedCall);
    own.calls[0] = ContractCall {
        contract: UNKNOWN_TOKEN.into(),
        method: "transferOwnership(address)".into(),
        selector: "f2fde38b".into(),
        args: vec![],
    };
    own.authorities.push(AuthorityChange {
        account: UNKNOWN_TOKEN.into(),
        authority: "contract_owner".into(),
        new_authority: Some(OTHER_DEST.into()),
    });
    assert_eq!(eval_hot(wallet(), &own), forbidden(&[hot]));
    // Cold: refused, and says so.
    let d = eval_cold(sol_wallet(), &approve_zero_then_set_authority());
    assert!(ids(&d).contains(&"cold-no-authority-change"), "{d:?}");
}

// ---------------------------------------------------------------- transfers of others' funds

/// `transferFrom(owner, to, amount)` of USDC under an allowance the wallet holds.
fn transfer_from(owner: &str, units: u128) -> Intent {
    let mut i = usdc_transfer(OTHER_DEST, units);
    i.transfers[0].from = Some(owner.into());
    i.calls[0].method = "transferFrom(address,address,uint256)".into();
    i.calls[0].selector = "23b872dd".into();
    i
}

#[test]
fn transfers_of_others_funds_count_and_need_an_approver() {
    let i = transfer_from(OTHER_DEST, 5_000 * USDC_UNIT);
    let r = req(TRADER, &i, NOW);
    let usdc_leg = r.legs().into_iter().find(|l| l.asset.contract().is_some());
    assert_eq!(
        usdc_leg.unwrap().total,
        BaseUnits::from_u128(5_000 * USDC_UNIT)
    );
    assert_eq!(
        eval_hot(wallet(), &i),
        approvals(
            "desk-approver",
            1,
            &["hot-others-funds", "hot-small-transfer"]
        )
    );
    // The wallet naming itself as the owner is not someone else's funds.
    assert_eq!(
        eval_hot(
            wallet(),
            &transfer_from(&WALLET_SOURCE.to_lowercase(), 5_000 * USDC_UNIT)
        ),
        allow("hot-small-transfer")
    );
}

// -------------------------------------------------------------------- native means native

#[test]
fn an_asset_without_contract_must_be_the_native_coin() {
    // A Solana token transfer whose mint the adapter could not resolve (gap 5): not 1 lamport
    // of SOL, but a refused request.
    let mut i = sol_intent(IntentKind::Transfer, &[1], 5_000);
    i.transfers[0].asset = Asset {
        symbol: "?".into(),
        decimals: None,
        contract: None,
    };
    let action = PolicyAction::for_payload(Some(&i), &[]);
    let refused = RequestError::NotNativeAsset {
        field: "transfers[0].asset".into(),
        chain: "solana/mainnet-beta".into(),
        symbol: "?".into(),
        decimals: None,
    };
    assert_eq!(
        PolicyRequest::for_intent(principal(TRADER), action, sol_wallet(), &i, NOW),
        Err(refused.clone())
    );
    assert_eq!(
        refused.to_string(),
        "transfers[0].asset: \"?\" with None decimals and no contract is not the native coin \
         of solana/mainnet-beta"
    );
    // The same through the signers' and coordinator's request builder.
    let b = hot_bundle();
    assert_eq!(
        signing::signing_request(&b, &pk(40), "wallet-sol", Some(&i), &[], NOW, Mode::Normal),
        Err(refused)
    );
    // USDC without its contract on Ethereum, ETH on Polygon (whose coin is POL), a fee in
    // something else, an allowance of an unnamed token: all refused.
    let mut no_contract = eth_transfer(OTHER_DEST, 1);
    no_contract.transfers[0].asset = Asset::native("USDC", 6);
    assert!(
        PolicyRequest::for_intent(principal(TRADER), action, wallet(), &no_contract, NOW).is_err()
    );
    let mut polygon = eth_transfer(OTHER_DEST, 1);
    polygon.network = "polygon".into();
    polygon.chain_id = Some(137);
    let polygon_wallet = WalletRef::new("w", "ethereum", "polygon").unwrap();
    assert!(PolicyRequest::for_intent(
        principal(TRADER),
        action,
        polygon_wallet.clone(),
        &polygon,
        NOW
    )
    .is_err());
    polygon.transfers[0].asset = Asset::native("POL", 18);
    polygon.fee.as_mut().unwrap().asset = Asset::native("POL", 18);
    assert!(
        PolicyRequest::for_intent(principal(TRADER), action, polygon_wallet, &polygon, NOW).is_ok()
    );
    let mut fee = eth_transfer(OTHER_DEST, 1);
    fee.fee.as_mut().unwrap().asset = Asset::native("ETH", 9);
    assert!(matches!(
        PolicyRequest::for_intent(principal(TRADER), action, wallet(), &fee, NOW),
        Err(RequestError::NotNativeAsset { field, .. }) if field == "fee.asset"
    ));
    let mut allowance = approve_of(Some(1));
    allowance.allowances[0].asset.contract = None;
    let action = PolicyAction::for_payload(Some(&allowance), &[]);
    assert!(matches!(
        PolicyRequest::for_intent(principal(TRADER), action, wallet(), &allowance, NOW),
        Err(RequestError::NotNativeAsset { field, .. }) if field == "allowances[0].asset"
    ));
    // Real native coins pass.
    let ok = sol_intent(IntentKind::Transfer, &[1], 5_000);
    let action = PolicyAction::for_payload(Some(&ok), &[]);
    assert!(PolicyRequest::for_intent(principal(TRADER), action, sol_wallet(), &ok, NOW).is_ok());
}

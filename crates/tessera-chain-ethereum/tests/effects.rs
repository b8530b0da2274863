//! Conformance property (issue 16): for every payload the adapter accepts, every asset movement,
//! allowance, authority change and fee appears in the intent.
//!
//! Payloads are generated (transactions with random ERC-20 / ERC-721 / ERC-1155 / ownership /
//! multicall call data, permits, Permit2 messages and Seaport orders), and what they do is
//! worked out independently of the adapter:
//!
//! * transactions: the adapter's signed transaction is decoded by alloy-consensus (it must be
//!   the payload), the fee is the gas limit × the max fee per gas read from it, and its call
//!   data is decoded by alloy-sol-types' generated `Token` interface; the effects follow from
//!   the standards' semantics and the token tables spelled out below;
//! * typed data: the values are the generated structs, and the wallet must sign exactly the
//!   EIP-712 hash alloy-sol-types computes for them (so the intent's values are the signed ones).
//!
//! The intent must list exactly these effects, and no intent string may carry a control,
//! bidirectional or line-breaking character.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

#[path = "common/abi.rs"]
mod abi;

use abi::{eip55, key, wallet, Token, BAYC, DAI, SEAPORT, USDC};
use alloy_consensus::{SignableTransaction, Transaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::aliases::{U160, U48};
use alloy_primitives::{address, Address, Bytes, TxKind, B256, U256};
use alloy_sol_types::{eip712_domain, Eip712Domain, SolCall, SolInterface, SolStruct};
use proptest::prelude::*;
use proptest::test_runner::Config;
use tessera_chain::{
    Allowance, Amount, Asset, AuthorityChange, ChainAdapter, Intent, Payload, RiskFlag, Transfer,
};
use tessera_chain_ethereum::Ethereum;

const UNLISTED_TOKEN: Address = address!("1111111111111111111111111111111111111111");
const UNLISTED_NFT: Address = address!("7777777777777777777777777777777777777777");
const SPENDER: Address = address!("2222222222222222222222222222222222222222");
const OTHER: Address = address!("3333333333333333333333333333333333333333");
const PROXY: Address = address!("9999999999999999999999999999999999999999");

fn config() -> Config {
    Config {
        cases: 192,
        failure_persistence: None,
        ..Config::default()
    }
}

// --- The specification the oracle applies ------------------------------------------------------

/// Listed ERC-20 tokens on mainnet (symbol, decimals).
fn erc20(token: Address) -> Asset {
    let listed = match token {
        t if t == USDC => Some(("USDC", 6)),
        t if t == DAI => Some(("DAI", 18)),
        _ => None,
    };
    Asset {
        symbol: listed.map_or("?", |(s, _)| s).to_string(),
        decimals: listed.map(|(_, d)| d),
        contract: Some(eip55(&token)),
    }
}

fn nft_name(token: Address) -> &'static str {
    if token == BAYC {
        "BAYC"
    } else {
        "NFT"
    }
}

fn nft(token: Address, id: U256) -> Asset {
    nft_symbol(token, format!("{} #{id}", nft_name(token)))
}

fn nft_symbol(token: Address, symbol: String) -> Asset {
    Asset {
        symbol,
        decimals: Some(0),
        contract: Some(eip55(&token)),
    }
}

fn amount(v: U256) -> Amount {
    Amount::parse(&v.to_string()).unwrap()
}

/// The documented unlimited threshold: 10^(decimals + 12) base units, but never above
/// 2^96 − 1, which is also the threshold for unknown decimals.
fn limited(v: U256, decimals: Option<u8>) -> Option<Amount> {
    let cap = (U256::from(1u8) << 96) - U256::from(1u8);
    let threshold = decimals
        .map(|d| U256::from(10u8).pow(U256::from(u32::from(d) + 12)))
        .filter(|t| *t < cap)
        .unwrap_or(cap);
    (v < threshold).then(|| amount(v))
}

fn from_field(from: Address) -> Option<String> {
    (from != wallet()).then(|| eip55(&from))
}

fn holder(a: Address) -> Option<String> {
    (a != Address::ZERO).then(|| eip55(&a))
}

/// What a payload does, as the oracle sees it.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    transfers: Vec<Transfer>,
    allowances: Vec<Allowance>,
    authorities: Vec<AuthorityChange>,
    received: Vec<Transfer>,
    selectors: Vec<String>,
}

impl Expected {
    fn allow(&mut self, spender: Address, asset: Asset, amount: Option<Amount>, via: &str) {
        self.allowances.push(Allowance {
            spender: eip55(&spender),
            asset,
            amount,
            expires_at: None,
            via: via.into(),
        });
    }

    fn send(&mut self, from: Address, to: Address, asset: Asset, amount: Amount) {
        self.transfers.push(Transfer {
            to: eip55(&to),
            asset,
            amount,
            from: from_field(from),
        });
    }

    fn authority(&mut self, contract: Address, authority: String, to: Option<String>) {
        self.authorities.push(AuthorityChange {
            account: eip55(&contract),
            authority,
            new_authority: to,
        });
    }
}

/// The effects of call data sent to `contract`, decoded by alloy-sol-types.
fn expect_call(contract: Address, data: &[u8], fx: &mut Expected) {
    fx.selectors.push(hex::encode(&data[..4.min(data.len())]));
    let Ok(call) = Token::TokenCalls::abi_decode(data) else {
        return; // not a call of the interface: an unknown call, with no effect to list
    };
    let is_nft = contract == BAYC;
    let listed_erc20 = contract == USDC || contract == DAI;
    let one = U256::from(1u8);
    use Token::TokenCalls as C;
    match call {
        C::transfer(c) => fx.send(wallet(), c.to, erc20(contract), amount(c.amount)),
        C::transferFrom(c) if is_nft => fx.send(c.from, c.to, nft(contract, c.amount), amount(one)),
        C::transferFrom(c) if listed_erc20 => {
            fx.send(c.from, c.to, erc20(contract), amount(c.amount))
        }
        C::transferFrom(c) => fx.send(c.from, c.to, erc20(contract), amount(c.amount.max(one))),
        C::approve(c) if is_nft => {
            let n = u8::from(c.spender != Address::ZERO);
            fx.allow(
                c.spender,
                nft(contract, c.amount),
                Some(Amount::from_u128(n.into())),
                "approve",
            );
        }
        C::approve(c) => {
            let word = if listed_erc20 {
                c.amount
            } else {
                c.amount.max(one)
            };
            fx.allow(
                c.spender,
                erc20(contract),
                limited(word, erc20(contract).decimals),
                "approve",
            );
        }
        C::increaseAllowance(c) => {
            let asset = erc20(contract);
            let granted = limited(c.addedValue, asset.decimals);
            fx.allow(c.spender, asset, granted, "increase_allowance");
        }
        C::safeTransferFrom_0(c) => fx.send(c.from, c.to, nft(contract, c.tokenId), amount(one)),
        C::safeTransferFrom_1(c) => fx.send(c.from, c.to, nft(contract, c.tokenId), amount(one)),
        C::safeTransferFrom_2(c) => fx.send(c.from, c.to, nft(contract, c.id), amount(c.value)),
        C::safeBatchTransferFrom(c) => {
            for (id, v) in c.ids.iter().zip(&c.values) {
                fx.send(c.from, c.to, nft(contract, *id), amount(*v));
            }
        }
        C::setApprovalForAll(c) => {
            let all = nft_symbol(contract, format!("{} (any id)", nft_name(contract)));
            let granted = (!c.approved).then(Amount::zero);
            fx.allow(c.operator, all, granted, "set_approval_for_all");
        }
        C::transferOwnership(c) => {
            fx.authority(contract, "contract_owner".into(), holder(c.newOwner))
        }
        C::renounceOwnership(_) => fx.authority(contract, "contract_owner".into(), None),
        C::upgradeTo(c) => fx.authority(
            contract,
            "implementation".into(),
            holder(c.newImplementation),
        ),
        C::upgradeToAndCall(c) => {
            fx.authority(
                contract,
                "implementation".into(),
                holder(c.newImplementation),
            );
            if !c.data.is_empty() {
                expect_call(contract, &c.data, fx);
            }
        }
        C::changeAdmin(c) => fx.authority(contract, "proxy_admin".into(), holder(c.newAdmin)),
        C::grantRole(c) => fx.authority(contract, format!("role {}", c.role), holder(c.account)),
        C::revokeRole(c) => fx.authority(
            contract,
            format!("role {} of {}", c.role, eip55(&c.account)),
            None,
        ),
        C::multicall(c) => {
            for inner in &c.data {
                expect_call(contract, inner, fx);
            }
        }
    }
}

/// What the signed transaction does, read by alloy from the adapter's signed bytes.
fn expect_tx(signed: &[u8], payload: &[u8]) -> (Expected, U256) {
    let envelope = TxEnvelope::decode_2718_exact(signed).unwrap();
    let unsigned = match &envelope {
        TxEnvelope::Eip1559(s) => s.tx().encoded_for_signing(),
        TxEnvelope::Legacy(s) => s.tx().encoded_for_signing(),
        other => panic!("unexpected transaction type {other:?}"),
    };
    assert_eq!(
        unsigned, payload,
        "the signed transaction is not the payload"
    );
    let fee = U256::from(envelope.gas_limit()) * U256::from(envelope.max_fee_per_gas());
    let mut fx = Expected::default();
    let TxKind::Call(to) = envelope.kind() else {
        panic!("generated transactions call an address");
    };
    let data = envelope.input();
    if data.is_empty() || !envelope.value().is_zero() {
        let native = Asset::native("ETH", 18);
        fx.send(wallet(), to, native, amount(envelope.value()));
    }
    if !data.is_empty() {
        expect_call(to, data, &mut fx);
    }
    (fx, fee)
}

// --- Checks ------------------------------------------------------------------------------------

/// Characters no intent string may carry raw.
fn deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}')
}

fn strings_of(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| strings_of(i, out)),
        serde_json::Value::Object(map) => map.values().for_each(|i| strings_of(i, out)),
        _ => {}
    }
}

/// No intent string (nor the rendering) holds a deceptive character; the flags agree with the
/// allowances.
fn check_common(intent: &Intent) -> Result<(), TestCaseError> {
    let mut strings = vec![intent.render()];
    strings_of(&serde_json::to_value(intent).unwrap(), &mut strings);
    for s in &strings {
        prop_assert!(
            !s.chars().any(deceptive),
            "raw control character in {:?}",
            s
        );
    }
    let unlimited = intent.allowances.iter().any(|a| a.amount.is_none());
    prop_assert_eq!(
        intent.risk_flags.contains(&RiskFlag::UnlimitedApproval),
        unlimited
    );
    let grants = intent
        .allowances
        .iter()
        .any(|a| a.amount.as_ref().is_none_or(|x| !x.is_zero()));
    if grants {
        prop_assert!(intent.risk_flags.contains(&RiskFlag::GrantsAuthority));
    }
    Ok(())
}

fn sorted<T: std::fmt::Debug>(mut v: Vec<T>) -> Vec<T> {
    v.sort_by_key(|x| format!("{x:?}"));
    v
}

fn check_tx(payload: &Payload) -> Result<(), TestCaseError> {
    let k = key();
    let parsed = Ethereum.parse("mainnet", k.wallet_key(), payload).unwrap();
    let sigs: Vec<_> = parsed.messages.iter().map(|m| k.sign(m)).collect();
    let signed = Ethereum
        .finalize("mainnet", k.wallet_key(), payload, &sigs)
        .unwrap();
    let (want, fee) = expect_tx(&signed.bytes, &payload.bytes);
    let i = &parsed.intent;
    prop_assert_eq!(i.fee.as_ref().map(|f| f.max.clone()), Some(amount(fee)));
    prop_assert_eq!(sorted(i.transfers.clone()), sorted(want.transfers));
    prop_assert_eq!(&i.allowances, &want.allowances);
    prop_assert_eq!(&i.authorities, &want.authorities);
    let selectors: Vec<String> = i.calls.iter().map(|c| c.selector.clone()).collect();
    prop_assert_eq!(selectors, want.selectors);
    check_common(i)
}

// --- Transaction generators --------------------------------------------------------------------

fn u256() -> impl Strategy<Value = U256> {
    let pow10 = |n: u32| U256::from(10u8).pow(U256::from(n));
    let u96 = (U256::from(1u8) << 96) - U256::from(1u8);
    prop_oneof![
        Just(U256::ZERO),
        Just(U256::from(1u8)),
        Just(pow10(18) - U256::from(1u8)),
        Just(pow10(18)),
        Just(pow10(30)),
        Just(u96 - U256::from(1u8)),
        Just(u96),
        Just(U256::from(1u8) << 255),
        Just(U256::MAX),
        any::<u64>().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
    ]
}

fn addr() -> impl Strategy<Value = Address> {
    prop_oneof![
        Just(wallet()),
        Just(SPENDER),
        Just(OTHER),
        Just(Address::ZERO),
        any::<[u8; 20]>().prop_map(Address::from),
    ]
}

fn token() -> impl Strategy<Value = Address> {
    prop::sample::select(vec![USDC, DAI, UNLISTED_TOKEN, BAYC, UNLISTED_NFT, PROXY])
}

/// One call's data (no multicall).
fn leaf_call() -> impl Strategy<Value = Vec<u8>> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..8).prop_map(Bytes::from);
    let word = any::<[u8; 32]>().prop_map(B256::from);
    prop_oneof![
        (addr(), u256()).prop_map(|(to, amount)| Token::transferCall { to, amount }.abi_encode()),
        (addr(), u256())
            .prop_map(|(spender, amount)| Token::approveCall { spender, amount }.abi_encode()),
        (addr(), u256()).prop_map(|(spender, added)| Token::increaseAllowanceCall {
            spender,
            addedValue: added
        }
        .abi_encode()),
        (addr(), addr(), u256()).prop_map(|(from, to, amount)| Token::transferFromCall {
            from,
            to,
            amount
        }
        .abi_encode()),
        (addr(), addr(), u256()).prop_map(|(from, to, id)| Token::safeTransferFrom_0Call {
            from,
            to,
            tokenId: id
        }
        .abi_encode()),
        (addr(), addr(), u256(), bytes()).prop_map(|(from, to, id, data)| {
            Token::safeTransferFrom_1Call {
                from,
                to,
                tokenId: id,
                data,
            }
            .abi_encode()
        }),
        (addr(), addr(), u256(), u256()).prop_map(|(from, to, id, value)| {
            Token::safeTransferFrom_2Call {
                from,
                to,
                id,
                value,
                data: Bytes::new(),
            }
            .abi_encode()
        }),
        (
            addr(),
            addr(),
            prop::collection::vec((u256(), u256()), 0..4)
        )
            .prop_map(|(from, to, items)| {
                let (ids, values) = items.into_iter().unzip();
                Token::safeBatchTransferFromCall {
                    from,
                    to,
                    ids,
                    values,
                    data: Bytes::new(),
                }
                .abi_encode()
            }),
        (addr(), any::<bool>()).prop_map(|(operator, approved)| Token::setApprovalForAllCall {
            operator,
            approved
        }
        .abi_encode()),
        addr().prop_map(|owner| Token::transferOwnershipCall { newOwner: owner }.abi_encode()),
        Just(Token::renounceOwnershipCall {}.abi_encode()),
        addr().prop_map(|code| Token::upgradeToCall {
            newImplementation: code
        }
        .abi_encode()),
        addr().prop_map(|admin| Token::changeAdminCall { newAdmin: admin }.abi_encode()),
        (word.clone(), addr())
            .prop_map(|(role, account)| Token::grantRoleCall { role, account }.abi_encode()),
        (word, addr())
            .prop_map(|(role, account)| Token::revokeRoleCall { role, account }.abi_encode()),
        prop::collection::vec(any::<u8>(), 1..40),
    ]
}

/// Call data: a call, a multicall of calls, or an upgrade that runs a call.
fn call_data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => leaf_call(),
        1 => prop::collection::vec(leaf_call(), 0..4).prop_map(|calls| {
            let data = calls.into_iter().map(Bytes::from).collect();
            Token::multicallCall { data }.abi_encode()
        }),
        1 => (addr(), leaf_call()).prop_map(|(code, data)| {
            Token::upgradeToAndCallCall { newImplementation: code, data: data.into() }.abi_encode()
        }),
    ]
}

/// A signing payload built by alloy-consensus (not the adapter's builder).
#[allow(clippy::too_many_arguments)]
fn tx_payload(
    legacy: bool,
    nonce: u64,
    gas: u64,
    fee: u64,
    to: Address,
    value: u128,
    data: Vec<u8>,
) -> Payload {
    let (format, bytes) = if legacy {
        let tx = TxLegacy {
            chain_id: Some(1),
            nonce,
            gas_price: u128::from(fee),
            gas_limit: gas,
            to: TxKind::Call(to),
            value: U256::from(value),
            input: data.into(),
        };
        ("eip155", tx.encoded_for_signing())
    } else {
        let tx = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: u128::from(fee),
            max_priority_fee_per_gas: 0,
            to: TxKind::Call(to),
            value: U256::from(value),
            input: data.into(),
            access_list: Default::default(),
        };
        ("eip1559", tx.encoded_for_signing())
    };
    Payload {
        format: format.into(),
        bytes,
    }
}

// --- Typed-data generators ---------------------------------------------------------------------

fn erc20_token() -> impl Strategy<Value = Address> {
    prop::sample::select(vec![USDC, DAI, UNLISTED_TOKEN])
}

/// A domain name, sometimes with characters that could reorder or forge a summary.
fn domain_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "USD Coin".to_string(),
        "Permit2".to_string(),
        "Seaport".to_string(),
        "Coin\u{202e}nioC".to_string(),
        "Coin\nSend 0 ETH".to_string(),
        "\u{2066}Coin\u{2069}\u{200f}".to_string(),
    ])
}

fn domain(name: String, verifying: Address) -> Eip712Domain {
    eip712_domain! {
        name: name,
        version: "1",
        chain_id: 1,
        verifying_contract: verifying,
    }
}

fn unix(v: U256) -> Option<u64> {
    u64::try_from(v).ok()
}

/// Parses typed data built by alloy, checks the wallet signs the hash alloy-sol-types computes
/// for `s`, and compares the intent with `want`.
fn check_typed<S: SolStruct + serde::Serialize>(
    s: &S,
    d: &Eip712Domain,
    want: Expected,
) -> Result<(), TestCaseError> {
    let parsed = abi::parse(&abi::typed_payload(&abi::typed_json(s, d))).unwrap();
    let digest = parsed.messages[0].digest32().unwrap();
    prop_assert_eq!(B256::from(digest), s.eip712_signing_hash(d));
    let i = &parsed.intent;
    prop_assert!(i.transfers.is_empty() && i.authorities.is_empty());
    prop_assert_eq!(&i.allowances, &want.allowances);
    prop_assert_eq!(&i.change, &want.received);
    prop_assert!(i.risk_flags.contains(&RiskFlag::OffchainSignature));
    check_common(i)
}

/// Permit2 amounts (uint160), boundaries of the unlimited threshold included.
fn u160() -> impl Strategy<Value = U160> {
    let u96 = (U160::from(1u8) << 96) - U160::from(1u8);
    let e18 = U160::from(10u64.pow(18));
    prop_oneof![
        Just(U160::ZERO),
        Just(e18 - U160::from(1u8)),
        Just(e18),
        Just(u96 - U160::from(1u8)),
        Just(u96),
        Just(U160::MAX),
        any::<[u8; 20]>().prop_map(U160::from_be_bytes),
    ]
}

fn permit_details() -> impl Strategy<Value = abi::PermitDetails> {
    (erc20_token(), u160(), prop_oneof![Just(0u64), any::<u64>()]).prop_map(
        |(token, amount, expiration)| abi::PermitDetails {
            token,
            amount,
            expiration: U48::from(expiration & 0xffff_ffff_ffff),
            nonce: U48::ZERO,
        },
    )
}

fn token_permissions() -> impl Strategy<Value = abi::TokenPermissions> {
    (erc20_token(), u256()).prop_map(|(token, amount)| abi::TokenPermissions { token, amount })
}

fn offer_item() -> impl Strategy<Value = abi::OfferItem> {
    (
        0u8..6,
        prop::sample::select(vec![USDC, UNLISTED_TOKEN, BAYC, UNLISTED_NFT]),
        prop_oneof![Just(U256::ZERO), u256()],
        u256(),
        u256(),
    )
        .prop_map(|(kind, token, id, start, end)| abi::OfferItem {
            itemType: kind,
            token,
            identifierOrCriteria: id,
            startAmount: start,
            endAmount: end,
        })
}

fn consideration_item() -> impl Strategy<Value = abi::ConsiderationItem> {
    (offer_item(), prop_oneof![Just(wallet()), Just(OTHER)]).prop_map(|(o, recipient)| {
        abi::ConsiderationItem {
            itemType: o.itemType,
            token: o.token,
            identifierOrCriteria: o.identifierOrCriteria,
            startAmount: o.startAmount,
            endAmount: o.endAmount,
            recipient,
        }
    })
}

/// A Seaport item's asset and whether it is fungible.
fn seaport_asset(item_type: u8, token: Address, id: U256) -> (Asset, bool) {
    match item_type {
        0 => (Asset::native("ETH", 18), true),
        1 => (erc20(token), true),
        2 | 3 => (nft(token, id), false),
        _ if id.is_zero() => (
            nft_symbol(token, format!("{} (any id)", nft_name(token))),
            false,
        ),
        _ => (
            nft_symbol(
                token,
                format!("{} (id in set 0x{id:064x})", nft_name(token)),
            ),
            false,
        ),
    }
}

fn expect_order(order: &abi::OrderComponents) -> Expected {
    let mut fx = Expected::default();
    for o in &order.offer {
        let (asset, fungible) = seaport_asset(o.itemType, o.token, o.identifierOrCriteria);
        let most = o.startAmount.max(o.endAmount);
        let granted = if fungible {
            limited(most, asset.decimals)
        } else {
            Some(amount(most))
        };
        fx.allow(SEAPORT, asset, granted, "order");
        fx.allowances.last_mut().unwrap().expires_at = unix(order.endTime);
    }
    for c in order
        .consideration
        .iter()
        .filter(|c| c.recipient == wallet())
    {
        let (asset, _) = seaport_asset(c.itemType, c.token, c.identifierOrCriteria);
        fx.received.push(Transfer {
            to: eip55(&wallet()),
            asset,
            amount: amount(c.startAmount.min(c.endAmount)),
            from: None,
        });
    }
    fx
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_effect_of_a_transaction_is_in_the_intent(
        legacy in any::<bool>(),
        nonce in any::<u64>(),
        gas in 21_000u64..30_000_000,
        fee in any::<u64>(),
        to in token(),
        value in prop_oneof![Just(0u128), any::<u64>().prop_map(u128::from)],
        data in prop_oneof![1 => Just(Vec::new()), 8 => call_data()],
    ) {
        check_tx(&tx_payload(legacy, nonce, gas, fee, to, value, data))?;
    }

    #[test]
    fn every_allowance_of_a_permit_is_in_the_intent(
        token in erc20_token(),
        value in u256(),
        deadline in u256(),
        name in domain_name(),
    ) {
        let permit = abi::Permit { owner: wallet(), spender: SPENDER, value, nonce: U256::ZERO, deadline };
        let mut want = Expected::default();
        want.allow(SPENDER, erc20(token), limited(value, erc20(token).decimals), "permit");
        check_typed(&permit, &domain(name, token), want)?;
    }

    #[test]
    fn every_allowance_of_a_permit2_message_is_in_the_intent(
        details in prop::collection::vec(permit_details(), 1..4),
        single in any::<bool>(),
        sig_deadline in u256(),
        name in domain_name(),
    ) {
        let d = domain(name, abi::PERMIT2);
        let details = if single { details[..1].to_vec() } else { details };
        let mut want = Expected::default();
        for x in &details {
            let amount = U256::from(x.amount);
            let ends = if x.expiration.is_zero() { sig_deadline } else { U256::from(x.expiration) };
            want.allow(SPENDER, erc20(x.token), limited(amount, erc20(x.token).decimals), "permit2");
            want.allowances.last_mut().unwrap().expires_at = unix(ends);
        }
        if single {
            let s = abi::PermitSingle { details: details[0].clone(), spender: SPENDER, sigDeadline: sig_deadline };
            check_typed(&s, &d, want)?;
        } else {
            let s = abi::PermitBatch { details, spender: SPENDER, sigDeadline: sig_deadline };
            check_typed(&s, &d, want)?;
        }
    }

    #[test]
    fn every_allowance_of_a_permit2_transfer_is_in_the_intent(
        permitted in prop::collection::vec(token_permissions(), 1..4),
        single in any::<bool>(),
        deadline in u256(),
    ) {
        let d = domain("Permit2".into(), abi::PERMIT2);
        let permitted = if single { permitted[..1].to_vec() } else { permitted };
        let mut want = Expected::default();
        for p in &permitted {
            want.allow(SPENDER, erc20(p.token), limited(p.amount, erc20(p.token).decimals), "permit2_transfer");
            want.allowances.last_mut().unwrap().expires_at = unix(deadline);
        }
        if single {
            let s = abi::PermitTransferFrom { permitted: permitted[0].clone(), spender: SPENDER, nonce: U256::ZERO, deadline };
            check_typed(&s, &d, want)?;
        } else {
            let s = abi::PermitBatchTransferFrom { permitted, spender: SPENDER, nonce: U256::ZERO, deadline };
            check_typed(&s, &d, want)?;
        }
    }

    #[test]
    fn every_item_of_a_seaport_order_is_in_the_intent(
        offer in prop::collection::vec(offer_item(), 0..4),
        consideration in prop::collection::vec(consideration_item(), 0..4),
        end_time in u256(),
        name in domain_name(),
    ) {
        let order = abi::OrderComponents {
            offerer: wallet(), zone: Address::ZERO, offer, consideration, orderType: 0,
            startTime: U256::ZERO, endTime: end_time, zoneHash: B256::ZERO, salt: U256::ZERO,
            conduitKey: B256::ZERO, counter: U256::ZERO,
        };
        check_typed(&order, &domain(name, SEAPORT), expect_order(&order))?;
    }
}

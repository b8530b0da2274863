//! What you approve is what you sign (issue 16): the intent lists every allowance, NFT,
//! authority and call a payload carries, attacker text is defused, and messages that are not
//! bound to a chain say so. Call data and typed data are built with alloy-sol-types.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

#[path = "common/abi.rs"]
mod abi;
mod common;

use abi::{eip55, key, parse, pow10, typed_intent, u96_max, wallet, Token, BAYC, DAI, USDC};
use alloy_primitives::aliases::{U160, U48};
use alloy_primitives::{address, keccak256, Address, Bytes, B256, U256};
use alloy_sol_types::{eip712_domain, SolCall, SolStruct};
use serde_json::{json, Value};
use tessera_chain::{
    Allowance, Amount, Asset, AuthorityChange, ChainAdapter, Intent, IntentKind, Payload, RiskFlag,
    Transfer,
};
use tessera_chain_ethereum::Ethereum;

const SPENDER: Address = address!("2222222222222222222222222222222222222222");
const OTHER: Address = address!("3333333333333333333333333333333333333333");
const RECIPIENT: Address = address!("8617E340B3D01FA5F11F306F4090FD50E238070D");
const UNLISTED: Address = address!("1111111111111111111111111111111111111111");

/// The intent of a mainnet EIP-1559 call of `data` to `to`, built by the adapter's builder.
fn call(to: Address, data: Vec<u8>) -> Intent {
    let spec = json!({
        "type": "eip1559", "nonce": 1, "to": eip55(&to), "gas_limit": 200000,
        "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1000000000",
        "data": format!("0x{}", hex::encode(data))
    });
    let p = Ethereum
        .build("mainnet", key().wallet_key(), &spec)
        .unwrap();
    parse(&p).unwrap().intent
}

fn amount(v: U256) -> Amount {
    Amount::parse(&v.to_string()).unwrap()
}

fn usdc() -> Asset {
    Asset {
        symbol: "USDC".into(),
        decimals: Some(6),
        contract: Some(eip55(&USDC)),
    }
}

fn allowance(spender: Address, asset: Asset, amount: Option<Amount>, via: &str) -> Allowance {
    Allowance {
        spender: eip55(&spender),
        asset,
        amount,
        expires_at: None,
        via: via.into(),
    }
}

fn approve(token: Address, value: U256) -> Intent {
    let data = Token::approveCall {
        spender: SPENDER,
        amount: value,
    }
    .abi_encode();
    call(token, data)
}

// --- Gap 4: unlimited approvals ---------------------------------------------------------------

#[test]
fn an_approval_of_10_pow_30_is_unlimited() {
    let i = approve(USDC, pow10(30));
    assert_eq!(
        i.allowances,
        vec![allowance(SPENDER, usdc(), None, "approve")]
    );
    assert_eq!(
        i.risk_flags,
        vec![RiskFlag::UnlimitedApproval, RiskFlag::GrantsAuthority]
    );
    assert!(
        i.render().contains(&format!(
            "allows {} to spend UNLIMITED USDC (approve)",
            eip55(&SPENDER)
        )),
        "{}",
        i.render()
    );
}

#[test]
fn the_unlimited_threshold_follows_the_decimals() {
    // USDC (6 decimals): 10^12 whole tokens. DAI (18) and unlisted tokens: 2^96 − 1.
    let dai = Asset {
        symbol: "DAI".into(),
        decimals: Some(18),
        contract: Some(eip55(&DAI)),
    };
    let unknown = Asset {
        symbol: "?".into(),
        decimals: None,
        contract: Some(eip55(&UNLISTED)),
    };
    for (token, asset, threshold) in [
        (USDC, usdc(), pow10(18)),
        (DAI, dai, u96_max()),
        (UNLISTED, unknown, u96_max()),
    ] {
        let below = threshold - U256::from(1u8);
        let i = approve(token, below);
        assert_eq!(i.allowances[0].asset, asset);
        assert_eq!(i.allowances[0].amount, Some(amount(below)), "{token}");
        assert!(
            !i.risk_flags.contains(&RiskFlag::UnlimitedApproval),
            "{token}"
        );
        let i = approve(token, threshold);
        assert_eq!(i.allowances[0].amount, None, "{token}");
        assert!(
            i.risk_flags.contains(&RiskFlag::UnlimitedApproval),
            "{token}"
        );
    }
    // A revocation grants nothing.
    let i = approve(USDC, U256::ZERO);
    assert_eq!(
        i.allowances,
        vec![allowance(SPENDER, usdc(), Some(Amount::zero()), "approve")]
    );
    assert!(i.risk_flags.is_empty(), "{:?}", i.risk_flags);
}

#[test]
fn increase_allowance_is_an_allowance() {
    let data = Token::increaseAllowanceCall {
        spender: SPENDER,
        addedValue: U256::from(5_000_000u64),
    }
    .abi_encode();
    let i = call(USDC, data);
    assert_eq!(
        i.allowances,
        vec![allowance(
            SPENDER,
            usdc(),
            Some(Amount::from_u128(5_000_000)),
            "increase_allowance"
        )]
    );
    assert_eq!(i.risk_flags, vec![RiskFlag::GrantsAuthority]);
    assert_eq!(i.calls[0].method, "increaseAllowance(address,uint256)");
}

#[test]
fn set_approval_for_all_grants_the_whole_collection() {
    let on = Token::setApprovalForAllCall {
        operator: SPENDER,
        approved: true,
    };
    let i = call(BAYC, on.abi_encode());
    let collection = Asset {
        symbol: "BAYC (any id)".into(),
        decimals: Some(0),
        contract: Some(eip55(&BAYC)),
    };
    assert_eq!(
        i.allowances,
        vec![allowance(
            SPENDER,
            collection.clone(),
            None,
            "set_approval_for_all"
        )]
    );
    assert_eq!(
        i.risk_flags,
        vec![
            RiskFlag::UnlimitedApproval,
            RiskFlag::PrivilegedCall,
            RiskFlag::GrantsAuthority
        ]
    );
    let off = Token::setApprovalForAllCall {
        operator: SPENDER,
        approved: false,
    };
    let i = call(BAYC, off.abi_encode());
    assert_eq!(
        i.allowances,
        vec![allowance(
            SPENDER,
            collection,
            Some(Amount::zero()),
            "set_approval_for_all"
        )]
    );
    assert!(i.risk_flags.is_empty(), "{:?}", i.risk_flags);
}

fn usdc_domain() -> alloy_sol_types::Eip712Domain {
    eip712_domain! {
        name: "USD Coin",
        version: "2",
        chain_id: 1,
        verifying_contract: USDC,
    }
}

fn permit2_domain() -> alloy_sol_types::Eip712Domain {
    eip712_domain! {
        name: "Permit2",
        chain_id: 1,
        verifying_contract: abi::PERMIT2,
    }
}

#[test]
fn an_eip2612_permit_is_an_allowance() {
    let permit = abi::Permit {
        owner: wallet(),
        spender: SPENDER,
        value: U256::MAX,
        nonce: U256::ZERO,
        deadline: U256::from(1_900_000_000u64),
    };
    let i = typed_intent(&permit, &usdc_domain());
    assert_eq!(i.kind, IntentKind::SignMessage);
    // The allowance outlives the permit's deadline (which only bounds the signature).
    assert_eq!(
        i.allowances,
        vec![allowance(SPENDER, usdc(), None, "permit")]
    );
    assert_eq!(
        i.risk_flags,
        vec![
            RiskFlag::UnlimitedApproval,
            RiskFlag::OffchainSignature,
            RiskFlag::GrantsAuthority
        ]
    );
    assert!(i
        .message
        .as_ref()
        .unwrap()
        .summary
        .starts_with("EIP-2612 permit: Permit for USD Coin v2 on chain 1"));
    let bounded = abi::Permit {
        value: U256::from(2_500_000u64),
        ..permit.clone()
    };
    let i = typed_intent(&bounded, &usdc_domain());
    assert_eq!(i.allowances[0].amount, Some(Amount::from_u128(2_500_000)));
    // Someone else's tokens: the allowance could not name its owner.
    let theirs = abi::Permit {
        owner: OTHER,
        ..permit
    };
    let e = parse(&abi::typed_payload(&abi::typed_json(
        &theirs,
        &usdc_domain(),
    )))
    .unwrap_err();
    assert_eq!((e.code(), e.field()), ("not_owned", Some("message.owner")));
}

fn details(token: Address, amount: U160, expiration: u64) -> abi::PermitDetails {
    abi::PermitDetails {
        token,
        amount,
        expiration: U48::from(expiration),
        nonce: U48::ZERO,
    }
}

#[test]
fn permit2_allowances_and_their_expiry() {
    let single = abi::PermitSingle {
        details: details(USDC, U160::MAX, 1_800_000_000),
        spender: SPENDER,
        sigDeadline: U256::from(1_700_000_000u64),
    };
    let i = typed_intent(&single, &permit2_domain());
    let mut want = allowance(SPENDER, usdc(), None, "permit2");
    want.expires_at = Some(1_800_000_000);
    assert_eq!(i.allowances, vec![want]);
    assert!(i.risk_flags.contains(&RiskFlag::UnlimitedApproval));
    // Expiration 0 ends with the block it is used in: at the latest, the signature deadline.
    let batch = abi::PermitBatch {
        details: vec![
            details(USDC, U160::from(1_000_000u64), 0),
            details(DAI, U160::from(7u8), 1_800_000_000),
        ],
        spender: SPENDER,
        sigDeadline: U256::from(1_700_000_000u64),
    };
    let i = typed_intent(&batch, &permit2_domain());
    let expiries: Vec<_> = i.allowances.iter().map(|a| a.expires_at).collect();
    assert_eq!(expiries, vec![Some(1_700_000_000), Some(1_800_000_000)]);
    let amounts: Vec<_> = i.allowances.iter().map(|a| a.amount.clone()).collect();
    assert_eq!(
        amounts,
        vec![
            Some(Amount::from_u128(1_000_000)),
            Some(Amount::from_u128(7))
        ]
    );
    assert_eq!(
        i.risk_flags,
        vec![
            RiskFlag::OffchainSignature,
            RiskFlag::GrantsAuthority,
            RiskFlag::MultipleOperations
        ]
    );
}

#[test]
fn permit2_signature_transfers() {
    let permit = abi::PermitTransferFrom {
        permitted: abi::TokenPermissions {
            token: USDC,
            amount: U256::from(1_000_000_000u64),
        },
        spender: SPENDER,
        nonce: U256::from(7u8),
        deadline: U256::from(1_750_000_000u64),
    };
    let i = typed_intent(&permit, &permit2_domain());
    let mut want = allowance(
        SPENDER,
        usdc(),
        Some(Amount::from_u128(1_000_000_000)),
        "permit2_transfer",
    );
    want.expires_at = Some(1_750_000_000);
    assert_eq!(i.allowances, vec![want]);
    // UniswapX-style witness: the same permit with one more field.
    let mut td = abi::typed_json(&permit, &permit2_domain());
    td["primaryType"] = json!("PermitWitnessTransferFrom");
    let fields = td["types"]["PermitTransferFrom"].clone();
    td["types"]
        .as_object_mut()
        .unwrap()
        .remove("PermitTransferFrom");
    let mut fields = fields.as_array().unwrap().clone();
    fields.push(json!({"name": "witness", "type": "Order"}));
    td["types"]["PermitWitnessTransferFrom"] = Value::Array(fields);
    td["types"]["Order"] = json!([{"name": "minOut", "type": "uint256"}]);
    td["message"]["witness"] = json!({"minOut": "5"});
    let i = parse(&abi::typed_payload(&td)).unwrap().intent;
    assert_eq!(i.allowances.len(), 1);
    assert_eq!(i.allowances[0].via, "permit2_transfer");
}

fn offer(item_type: u8, token: Address, id: u64, amount: U256) -> abi::OfferItem {
    abi::OfferItem {
        itemType: item_type,
        token,
        identifierOrCriteria: U256::from(id),
        startAmount: amount,
        endAmount: amount,
    }
}

fn consideration(amount: U256, recipient: Address) -> abi::ConsiderationItem {
    abi::ConsiderationItem {
        itemType: 0,
        token: Address::ZERO,
        identifierOrCriteria: U256::ZERO,
        startAmount: amount,
        endAmount: amount,
        recipient,
    }
}

fn order(offerer: Address) -> abi::OrderComponents {
    abi::OrderComponents {
        offerer,
        zone: Address::ZERO,
        offer: vec![offer(2, BAYC, 1234, U256::from(1u8))],
        consideration: vec![
            consideration(U256::from(9_750_000_000_000_000_000u128), offerer),
            consideration(U256::from(250_000_000_000_000_000u128), OTHER),
        ],
        orderType: 0,
        startTime: U256::from(1_700_000_000u64),
        endTime: U256::from(1_702_592_000u64),
        zoneHash: B256::ZERO,
        salt: U256::from(42u8),
        conduitKey: B256::ZERO,
        counter: U256::ZERO,
    }
}

fn seaport_domain() -> alloy_sol_types::Eip712Domain {
    eip712_domain! {
        name: "Seaport",
        version: "1.6",
        chain_id: 1,
        verifying_contract: abi::SEAPORT,
    }
}

#[test]
fn a_seaport_order_lists_what_leaves_and_what_arrives() {
    let i = typed_intent(&order(wallet()), &seaport_domain());
    let ape = Asset {
        symbol: "BAYC #1234".into(),
        decimals: Some(0),
        contract: Some(eip55(&BAYC)),
    };
    let mut offered = allowance(abi::SEAPORT, ape, Some(Amount::from_u128(1)), "order");
    offered.expires_at = Some(1_702_592_000);
    assert_eq!(i.allowances, vec![offered]);
    assert_eq!(
        i.change,
        vec![Transfer {
            to: eip55(&wallet()),
            asset: Asset::native("ETH", 18),
            amount: Amount::from_u128(9_750_000_000_000_000_000),
            from: None,
        }]
    );
    let r = i.render();
    assert!(
        r.contains(
            "allows 0x0000000000000068F116a894984e2DB1123eB395 to spend 1 BAYC #1234 (order)"
        ),
        "{r}"
    );
    assert!(r.contains("change 9.75 ETH to"), "{r}");
    // Another offerer's order.
    let e = parse(&abi::typed_payload(&abi::typed_json(
        &order(OTHER),
        &seaport_domain(),
    )))
    .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("not_owned", Some("message.offerer"))
    );
}

#[test]
fn lookalike_typed_data_is_not_read_as_a_permit() {
    // A "Permit" whose fields differ from EIP-2612's has another type hash: no token checks
    // a signature of it as a permit, and the adapter does not pretend to read it.
    let permit = abi::Permit {
        owner: wallet(),
        spender: SPENDER,
        value: U256::MAX,
        nonce: U256::ZERO,
        deadline: U256::ZERO,
    };
    let mut td = abi::typed_json(&permit, &usdc_domain());
    td["types"]["Permit"][2]["name"] = json!("amount");
    let v = td["message"]
        .as_object_mut()
        .unwrap()
        .remove("value")
        .unwrap();
    td["message"]["amount"] = v;
    let i = parse(&abi::typed_payload(&td)).unwrap().intent;
    assert!(i.allowances.is_empty());
    assert_eq!(i.risk_flags, vec![RiskFlag::OffchainSignature]);
}

// --- Gap 7: transferFrom's source, NFTs, Safe hashes, chain ids, attacker text ----------------

#[test]
fn transfer_from_names_whose_tokens_move() {
    let data = |from| {
        Token::transferFromCall {
            from,
            to: RECIPIENT,
            amount: U256::from(2_000_000u64),
        }
        .abi_encode()
    };
    let i = call(USDC, data(OTHER));
    assert_eq!(
        i.transfers,
        vec![Transfer {
            to: eip55(&RECIPIENT),
            asset: usdc(),
            amount: Amount::from_u128(2_000_000),
            from: Some(eip55(&OTHER)),
        }]
    );
    assert_eq!(i.kind, IntentKind::Transfer);
    // From the wallet itself: `from` is left out.
    assert_eq!(call(USDC, data(wallet())).transfers[0].from, None);
}

#[test]
fn an_erc721_transfer_is_one_nft_with_its_id() {
    let id = U256::from(1234u16);
    let data = Token::transferFromCall {
        from: wallet(),
        to: RECIPIENT,
        amount: id,
    }
    .abi_encode();
    let i = call(BAYC, data);
    let ape = Asset {
        symbol: "BAYC #1234".into(),
        decimals: Some(0),
        contract: Some(eip55(&BAYC)),
    };
    assert_eq!(
        i.transfers,
        vec![Transfer {
            to: eip55(&RECIPIENT),
            asset: ape,
            amount: Amount::from_u128(1),
            from: None,
        }]
    );
    assert_eq!(i.calls[0].args[2].name, "tokenId");
    assert!(
        i.render()
            .starts_with(&format!("Send 1 BAYC #1234 to {}", eip55(&RECIPIENT))),
        "{}",
        i.render()
    );
    // safeTransferFrom is ERC-721 on any contract; an unlisted collection is `NFT`.
    let data = Token::safeTransferFrom_1Call {
        from: wallet(),
        to: RECIPIENT,
        tokenId: U256::from(77u8),
        data: Bytes::from(vec![1, 2]),
    }
    .abi_encode();
    let i = call(UNLISTED, data);
    assert_eq!(i.transfers[0].asset.symbol, "NFT #77");
    assert_eq!(i.transfers[0].asset.decimals, Some(0));
    assert_eq!(i.transfers[0].amount, Amount::from_u128(1));
    assert!(
        i.render().starts_with("Send 1 NFT #77 to "),
        "{}",
        i.render()
    );
}

#[test]
fn an_unlisted_transfer_from_shows_both_readings() {
    // Amount or token id: the contract decides. Token id 0 is still one item.
    let data = Token::transferFromCall {
        from: wallet(),
        to: RECIPIENT,
        amount: U256::ZERO,
    }
    .abi_encode();
    let i = call(UNLISTED, data);
    assert_eq!(i.kind, IntentKind::ContractCall);
    assert_eq!(i.calls[0].args[2].name, "amountOrTokenId");
    assert_eq!(i.transfers[0].amount, Amount::from_u128(1));
    assert!(i.render().contains("amountOrTokenId=0"), "{}", i.render());
}

#[test]
fn erc1155_batches_list_every_item() {
    let data = Token::safeBatchTransferFromCall {
        from: wallet(),
        to: RECIPIENT,
        ids: vec![U256::from(1u8), U256::from(2u8)],
        values: vec![U256::from(10u8), U256::from(20u8)],
        data: Bytes::new(),
    }
    .abi_encode();
    let i = call(UNLISTED, data);
    let items: Vec<(String, String)> = i
        .transfers
        .iter()
        .map(|t| (t.asset.symbol.clone(), t.amount.to_string()))
        .collect();
    assert_eq!(
        items,
        vec![
            ("NFT #1".into(), "10".into()),
            ("NFT #2".into(), "20".into())
        ]
    );
}

fn personal_sign(bytes: &[u8]) -> Intent {
    parse(&Payload {
        format: "personal_sign".into(),
        bytes: bytes.to_vec(),
    })
    .unwrap()
    .intent
}

#[test]
fn a_32_byte_personal_sign_may_be_a_safe_transaction() {
    // The hash a Safe owner is asked to sign: executing 1,000 USDC out of the Safe.
    let safe = address!("4444444444444444444444444444444444444444");
    let tx = abi::SafeTx {
        to: USDC,
        value: U256::ZERO,
        data: Token::transferCall {
            to: OTHER,
            amount: U256::from(1_000_000_000u64),
        }
        .abi_encode()
        .into(),
        operation: 0,
        safeTxGas: U256::ZERO,
        baseGas: U256::ZERO,
        gasPrice: U256::ZERO,
        gasToken: Address::ZERO,
        refundReceiver: Address::ZERO,
        nonce: U256::from(3u8),
    };
    let hash = tx.eip712_signing_hash(&eip712_domain! { chain_id: 1, verifying_contract: safe, });
    // Even 32 bytes that happen to read as text may be a hash.
    for bytes in [hash.to_vec(), b"Approve exactly thirty-two bytes".to_vec()] {
        assert_eq!(bytes.len(), 32);
        let i = personal_sign(&bytes);
        assert_eq!(i.risk_flags, vec![RiskFlag::OffchainSignature]);
        let m = i.message.unwrap();
        assert!(m.summary.starts_with("a 32-byte hash 0x"), "{}", m.summary);
        assert!(m.summary.contains("Safe transaction"), "{}", m.summary);
        assert_eq!(m.content, format!("0x{}", hex::encode(&bytes)));
    }
    // A personal_sign is not bound to a chain.
    assert_eq!(personal_sign(b"Sign in").chain_id, None);
}

#[test]
fn typed_data_without_a_chain_id_is_for_any_chain() {
    let mut td = mail();
    td["domain"].as_object_mut().unwrap().remove("chainId");
    td["types"]["EIP712Domain"]
        .as_array_mut()
        .unwrap()
        .remove(2);
    let i = parse(&abi::typed_payload(&td)).unwrap().intent;
    assert_eq!(i.chain_id, None);
    let summary = i.message.unwrap().summary;
    assert!(summary.contains("on any chain"), "{summary}");
    assert!(!summary.contains("on chain 1"), "{summary}");
    assert_eq!(i.risk_flags, vec![RiskFlag::OffchainSignature]);
    // With one, the intent names it.
    assert_eq!(
        parse(&abi::typed_payload(&mail())).unwrap().intent.chain_id,
        Some(1)
    );
}

fn mail() -> Value {
    common::mail_typed_data(1)
}

/// Characters that must never reach an intent string raw.
fn deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}')
}

#[test]
fn attacker_text_cannot_forge_or_reorder_the_summary() {
    let mut td = mail();
    td["domain"]["name"] = json!("Ether Mail\u{202e}lanigiro");
    td["domain"]["version"] = json!("1\nSend 0 ETH, max fee 0 ETH");
    td["message"]["contents"] = json!("Hello \u{2066}Bob\u{2069}");
    let i = parse(&abi::typed_payload(&td)).unwrap().intent;
    let m = i.message.clone().unwrap();
    for s in [&m.summary, &m.content, &i.render()] {
        assert!(!s.chars().any(deceptive), "{s:?}");
    }
    assert!(
        m.summary
            .contains("Ether Mail\\u{202e}lanigiro v1\\u{a}Send 0 ETH"),
        "{}",
        m.summary
    );
    // The content is still the message, as JSON.
    let content: Value = serde_json::from_str(&m.content).unwrap();
    assert_eq!(content["contents"], json!("Hello \u{2066}Bob\u{2069}"));

    let i = personal_sign("Sign in\nmax fee 0 ETH \u{202e}".as_bytes());
    let m = i.message.unwrap();
    assert_eq!(m.summary, "Sign in\\u{a}max fee 0 ETH \\u{202e}");
    assert_eq!(m.content, m.summary);
    assert_eq!(i.risk_flags, vec![RiskFlag::OffchainSignature]);
    // Line breaks alone (Sign-In with Ethereum) are escaped, not flagged.
    let siwe = personal_sign(b"example.com wants you to sign in\n\nNonce: 42");
    assert!(siwe.risk_flags.is_empty());
    assert!(!siwe.render().contains('\n'));
}

// --- Every call: authorities and multicalls ------------------------------------------------

#[test]
fn ownership_roles_and_upgrades_are_authority_changes() {
    let owner = address!("5555555555555555555555555555555555555555");
    let change = |authority: &str, to: Option<Address>| AuthorityChange {
        account: eip55(&RECIPIENT),
        authority: authority.into(),
        new_authority: to.as_ref().map(eip55),
    };
    let role = keccak256(b"MINTER_ROLE");
    let cases = [
        (
            Token::transferOwnershipCall { newOwner: owner }.abi_encode(),
            change("contract_owner", Some(owner)),
        ),
        (
            Token::renounceOwnershipCall {}.abi_encode(),
            change("contract_owner", None),
        ),
        (
            Token::upgradeToCall {
                newImplementation: owner,
            }
            .abi_encode(),
            change("implementation", Some(owner)),
        ),
        (
            Token::changeAdminCall { newAdmin: owner }.abi_encode(),
            change("proxy_admin", Some(owner)),
        ),
        (
            Token::grantRoleCall {
                role,
                account: owner,
            }
            .abi_encode(),
            change(&format!("role {role}"), Some(owner)),
        ),
        (
            Token::revokeRoleCall {
                role,
                account: owner,
            }
            .abi_encode(),
            change(&format!("role {role} of {}", eip55(&owner)), None),
        ),
    ];
    for (data, want) in cases {
        let i = call(RECIPIENT, data);
        assert_eq!(i.authorities, vec![want]);
        assert_eq!(i.risk_flags, vec![RiskFlag::PrivilegedCall]);
    }
    // upgradeToAndCall: the upgrade and the call the new code runs.
    let init = Token::approveCall {
        spender: SPENDER,
        amount: U256::MAX,
    }
    .abi_encode();
    let data = Token::upgradeToAndCallCall {
        newImplementation: owner,
        data: init.into(),
    }
    .abi_encode();
    let i = call(USDC, data);
    assert_eq!(i.authorities.len(), 1);
    assert_eq!(i.calls.len(), 2);
    assert_eq!(i.allowances.len(), 1);
    assert!(i.risk_flags.contains(&RiskFlag::MultipleOperations));
}

#[test]
fn a_multicall_lists_every_inner_call() {
    let inner = vec![
        Token::approveCall {
            spender: SPENDER,
            amount: U256::MAX,
        }
        .abi_encode()
        .into(),
        Token::transferCall {
            to: RECIPIENT,
            amount: U256::from(5u8),
        }
        .abi_encode()
        .into(),
    ];
    let i = call(USDC, Token::multicallCall { data: inner }.abi_encode());
    let methods: Vec<&str> = i.calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(
        methods,
        vec![
            "multicall(bytes[])",
            "approve(address,uint256)",
            "transfer(address,uint256)"
        ]
    );
    assert_eq!(i.kind, IntentKind::ContractCall);
    assert_eq!(
        i.allowances,
        vec![allowance(SPENDER, usdc(), None, "approve")]
    );
    assert_eq!(i.transfers.len(), 1);
    assert_eq!(
        i.risk_flags,
        vec![
            RiskFlag::UnlimitedApproval,
            RiskFlag::GrantsAuthority,
            RiskFlag::MultipleOperations
        ]
    );
    // An inner call the adapter cannot read is flagged like any unknown call.
    let hidden = vec![Bytes::from(vec![0xde, 0xad, 0xbe, 0xef])];
    let i = call(USDC, Token::multicallCall { data: hidden }.abi_encode());
    assert!(i.risk_flags.contains(&RiskFlag::UnknownSelector));
    assert_eq!(i.calls.len(), 2);
}

#[test]
fn multicalls_beyond_the_bounds_are_refused() {
    let transfer: Bytes = Token::transferCall {
        to: RECIPIENT,
        amount: U256::from(1u8),
    }
    .abi_encode()
    .into();
    let refused = |data: Vec<u8>| {
        let spec = json!({
            "type": "eip1559", "nonce": 1, "to": eip55(&USDC), "gas_limit": 200000,
            "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1",
            "data": format!("0x{}", hex::encode(data))
        });
        let e = Ethereum
            .build("mainnet", key().wallet_key(), &spec)
            .unwrap_err();
        (e.code(), e.field().map(str::to_string))
    };
    let unsupported = ("unsupported", Some("tx.data".to_string()));
    // More than 64 calls.
    let many = Token::multicallCall {
        data: vec![transfer.clone(); 64],
    };
    assert_eq!(refused(many.abi_encode()), unsupported);
    // Nested four deep.
    let mut data = transfer.clone();
    for _ in 0..4 {
        data = Token::multicallCall { data: vec![data] }
            .abi_encode()
            .into();
    }
    assert_eq!(refused(data.to_vec()), unsupported);
    // Three deep is read.
    let mut data = transfer;
    for _ in 0..3 {
        data = Token::multicallCall { data: vec![data] }
            .abi_encode()
            .into();
    }
    assert_eq!(call(USDC, data.to_vec()).calls.len(), 4);
}

//! Decoding, risk flags, refusals and verification failures, with exact expectations.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use std::str::FromStr;

use alloy_consensus::{
    SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEip7702, TxEnvelope, TxLegacy,
};
use alloy_dyn_abi::DynSolValue;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, U256};
use serde_json::{json, Value};
use tessera_chain::conformance::TestKey;
use tessera_chain::{
    Argument, Asset, ChainAdapter, ChainError, ContractCall, Intent, IntentKind, Parsed, Payload,
    RiskFlag, SchemeId, Signature, SignedTransaction, Transfer,
};
use tessera_chain_ethereum::Ethereum;

use common::{RECIPIENT, USDC};

fn key() -> TestKey {
    TestKey::from_seed(SchemeId::EcdsaDkls23, [0x21; 32])
}

fn eip55(a: &str) -> String {
    Address::from_str(a).unwrap().to_checksum(None)
}

fn build(network: &str, spec: Value) -> Payload {
    Ethereum.build(network, key().wallet_key(), &spec).unwrap()
}

fn parse(network: &str, p: &Payload) -> Result<Parsed, ChainError> {
    Ethereum.parse(network, key().wallet_key(), p)
}

fn intent(network: &str, spec: Value) -> Intent {
    parse(network, &build(network, spec)).unwrap().intent
}

fn field_of(r: Result<impl std::fmt::Debug, ChainError>) -> (String, String) {
    let e = r.expect_err("expected an error");
    (e.code().to_string(), e.field().unwrap_or("").to_string())
}

/// A 1559 call to `to` with `data` and `value_wei`, 100000 gas at 30 gwei.
fn call(to: &str, data: &[u8], value_wei: &str) -> Value {
    json!({
        "type": "eip1559", "nonce": 1, "to": to, "value_wei": value_wei, "gas_limit": 100000,
        "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1000000000",
        "data": format!("0x{}", hex::encode(data))
    })
}

fn calldata(selector: &str, args: Vec<DynSolValue>) -> Vec<u8> {
    let mut d = hex::decode(selector).unwrap();
    d.extend(DynSolValue::Tuple(args).abi_encode_params());
    d
}

fn addr(a: &str) -> DynSolValue {
    DynSolValue::Address(Address::from_str(a).unwrap())
}

fn uint(v: U256) -> DynSolValue {
    DynSolValue::Uint(v, 256)
}

fn arg(name: &str, value: &str) -> Argument {
    Argument {
        name: name.into(),
        value: value.into(),
    }
}

#[test]
fn erc20_usdc_transfer() {
    let i = intent("mainnet", common::erc20_1559(USDC));
    assert_eq!(i.kind, IntentKind::Transfer);
    assert_eq!(i.chain_id, Some(1));
    assert_eq!(i.nonce.as_deref(), Some("4"));
    let usdc = Asset {
        symbol: "USDC".into(),
        decimals: Some(6),
        contract: Some(USDC.into()),
    };
    assert_eq!(
        i.transfers,
        vec![Transfer {
            from: None,
            to: eip55(RECIPIENT),
            asset: usdc,
            amount: tessera_chain::Amount::from_u128(1_500_000),
        }]
    );
    assert_eq!(
        i.calls.first().cloned(),
        Some(ContractCall {
            contract: USDC.into(),
            method: "transfer(address,uint256)".into(),
            selector: "a9059cbb".into(),
            args: vec![arg("to", &eip55(RECIPIENT)), arg("amount", "1500000")],
        })
    );
    let fee = i.fee.as_ref().unwrap();
    assert_eq!(fee.asset, Asset::native("ETH", 18));
    assert_eq!(fee.max.as_str(), "1800000000000000");
    assert_eq!(fee.detail, "60000 gas × 30 gwei max, 1 gwei priority");
    assert!(i.risk_flags.is_empty(), "{:?}", i.risk_flags);
    assert_eq!(
        i.source,
        Ethereum
            .address("mainnet", key().wallet_key())
            .unwrap()
            .address
    );
    // The interface's renderer adds the call it goes through.
    assert_eq!(
        i.render(),
        format!(
            "Send 1.5 USDC to {} on Ethereum mainnet via transfer(address,uint256) on {USDC}, \
             max fee 0.0018 ETH",
            eip55(RECIPIENT)
        )
    );
}

#[test]
fn native_transfer_and_polygon_symbol() {
    let i = intent("mainnet", common::native_1559());
    assert_eq!(i.kind, IntentKind::Transfer);
    assert_eq!(i.calls.first().cloned(), None);
    assert_eq!(i.transfers[0].asset, Asset::native("ETH", 18));
    assert_eq!(i.transfers[0].amount.as_str(), "10000000000000000");
    assert!(i.risk_flags.is_empty());
    let p = intent("polygon", common::native_1559());
    assert_eq!(p.transfers[0].asset, Asset::native("POL", 18));
    assert_eq!(p.fee.unwrap().asset.symbol, "POL");
    assert_eq!(p.chain_id, Some(137));
}

#[test]
fn unknown_token() {
    let token = "0x1111111111111111111111111111111111111111";
    let i = intent("mainnet", common::erc20_1559(token));
    assert_eq!(i.risk_flags, vec![RiskFlag::UnknownToken]);
    assert_eq!(
        i.transfers[0].asset,
        Asset {
            symbol: "?".into(),
            decimals: None,
            contract: Some(token.into())
        }
    );
    assert!(i
        .render()
        .starts_with(&format!("Send 1500000 base units of token {token} to ")));
    // USDC's mainnet address is not a known token on Base.
    let on_base = intent("base", common::erc20_1559(USDC));
    assert_eq!(on_base.risk_flags, vec![RiskFlag::UnknownToken]);
}

#[test]
fn approvals() {
    let spender = "0x2222222222222222222222222222222222222222";
    let unlimited = calldata("095ea7b3", vec![addr(spender), uint(U256::MAX)]);
    let i = intent("mainnet", call(USDC, &unlimited, "0"));
    assert_eq!(i.kind, IntentKind::ContractCall);
    assert!(i.transfers.is_empty());
    assert_eq!(
        i.risk_flags,
        vec![RiskFlag::UnlimitedApproval, RiskFlag::GrantsAuthority]
    );
    let c = i.calls.first().cloned().unwrap();
    assert_eq!(c.method, "approve(address,uint256)");
    assert_eq!(c.selector, "095ea7b3");
    assert_eq!(
        c.args,
        vec![
            arg("spender", spender),
            arg(
                "amount",
                "115792089237316195423570985008687907853269984665640564039457584007913129639935"
            )
        ]
    );
    // 2^255 counts as unlimited; a bounded approval still grants authority.
    let half = calldata("095ea7b3", vec![addr(spender), uint(U256::from(1) << 255)]);
    assert_eq!(
        intent("mainnet", call(USDC, &half, "0")).risk_flags,
        vec![RiskFlag::UnlimitedApproval, RiskFlag::GrantsAuthority]
    );
    let bounded = calldata("095ea7b3", vec![addr(spender), uint(U256::from(1000))]);
    assert_eq!(
        intent("mainnet", call(USDC, &bounded, "0")).risk_flags,
        vec![RiskFlag::GrantsAuthority]
    );
    // setApprovalForAll is privileged and grants authority over the whole collection
    // (unlimited).
    let all = calldata("a22cb465", vec![addr(spender), DynSolValue::Bool(true)]);
    let i = intent("mainnet", call(RECIPIENT, &all, "0"));
    assert_eq!(
        i.risk_flags,
        vec![
            RiskFlag::UnlimitedApproval,
            RiskFlag::PrivilegedCall,
            RiskFlag::GrantsAuthority
        ]
    );
    assert_eq!(
        i.calls.first().cloned().unwrap().args,
        vec![arg("operator", spender), arg("approved", "true")]
    );
}

#[test]
fn transfer_from() {
    let from = "0x3333333333333333333333333333333333333333";
    let data = calldata(
        "23b872dd",
        vec![addr(from), addr(RECIPIENT), uint(U256::from(2_000_000))],
    );
    let i = intent("mainnet", call(USDC, &data, "0"));
    assert_eq!(i.kind, IntentKind::Transfer);
    assert_eq!(i.transfers.len(), 1);
    assert_eq!(i.transfers[0].to, eip55(RECIPIENT));
    assert_eq!(i.transfers[0].asset.symbol, "USDC");
    assert_eq!(i.transfers[0].amount.as_str(), "2000000");
    assert_eq!(
        i.calls.first().cloned().unwrap().args,
        vec![
            arg("from", from),
            arg("to", &eip55(RECIPIENT)),
            arg("amount", "2000000")
        ]
    );
}

#[test]
fn unknown_selector() {
    let i = intent(
        "mainnet",
        call(RECIPIENT, &hex::decode("deadbeef0001").unwrap(), "0"),
    );
    assert_eq!(i.kind, IntentKind::ContractCall);
    assert_eq!(i.risk_flags, vec![RiskFlag::UnknownSelector]);
    let c = i.calls.first().cloned().unwrap();
    assert_eq!(
        (c.method.as_str(), c.selector.as_str()),
        ("unknown", "deadbeef")
    );
    assert!(c.args.is_empty());
    // Fewer than four bytes of data: still an unknown call.
    let short = intent("mainnet", call(RECIPIENT, &[0xab], "0"));
    assert_eq!(short.calls.first().cloned().unwrap().selector, "ab");
}

#[test]
fn value_to_contract() {
    let data = hex::decode("deadbeef").unwrap();
    let i = intent("mainnet", call(RECIPIENT, &data, "1000000000000000000"));
    assert_eq!(i.kind, IntentKind::ContractCall);
    assert_eq!(
        i.risk_flags,
        vec![RiskFlag::UnknownSelector, RiskFlag::ValueToContract]
    );
    assert_eq!(
        i.transfers,
        vec![Transfer {
            from: None,
            to: eip55(RECIPIENT),
            asset: Asset::native("ETH", 18),
            amount: tessera_chain::Amount::from_u128(10u128.pow(18)),
        }]
    );
}

#[test]
fn contract_creation() {
    let mut spec = call(RECIPIENT, &hex::decode("6080604052").unwrap(), "0");
    spec["to"] = Value::Null;
    let i = intent("mainnet", spec.clone());
    assert_eq!(i.kind, IntentKind::ContractCreation);
    assert_eq!(i.risk_flags, vec![RiskFlag::ContractCreation]);
    assert!(i.transfers.is_empty());
    assert_eq!(i.calls.first().cloned(), None);
    assert!(i
        .render()
        .starts_with("Deploy a contract on Ethereum mainnet"));
    // With an endowment: value goes to the address the contract will have.
    spec["value_wei"] = json!("5000000000000000000");
    let i = intent("mainnet", spec);
    assert_eq!(
        i.risk_flags,
        vec![RiskFlag::ContractCreation, RiskFlag::ValueToContract]
    );
    let sender = Address::from_str(&i.source).unwrap();
    assert_eq!(i.transfers[0].to, sender.create(1).to_checksum(None));
    assert_eq!(i.transfers[0].amount.as_str(), "5000000000000000000");
}

#[test]
fn privileged_calls() {
    let owner = "0x4444444444444444444444444444444444444444";
    let data = calldata("f2fde38b", vec![addr(owner)]);
    let i = intent("mainnet", call(RECIPIENT, &data, "0"));
    assert_eq!(i.kind, IntentKind::ContractCall);
    assert_eq!(i.risk_flags, vec![RiskFlag::PrivilegedCall]);
    assert_eq!(
        i.calls.first().unwrap().method,
        "transferOwnership(address)"
    );
    assert_eq!(
        i.calls.first().cloned().unwrap().args,
        vec![arg("newOwner", owner)]
    );

    let renounce = intent(
        "mainnet",
        call(RECIPIENT, &hex::decode("715018a6").unwrap(), "0"),
    );
    assert_eq!(renounce.risk_flags, vec![RiskFlag::PrivilegedCall]);
    assert_eq!(
        renounce.render(),
        format!(
            "Call renounceOwnership() on {0} on Ethereum mainnet, removes contract_owner \
             authority over {0}, max fee 0.003 ETH [risk: privileged_call]",
            eip55(RECIPIENT)
        )
    );

    let role = DynSolValue::FixedBytes(keccak256(b"MINTER_ROLE"), 32);
    let data = calldata("2f2ff15d", vec![role, addr(owner)]);
    let c = intent("mainnet", call(RECIPIENT, &data, "0"))
        .calls
        .first()
        .cloned()
        .unwrap();
    assert_eq!(c.method, "grantRole(bytes32,address)");
    assert_eq!(
        c.args,
        vec![
            arg(
                "role",
                &format!("0x{}", hex::encode(keccak256(b"MINTER_ROLE")))
            ),
            arg("account", owner)
        ]
    );

    let data = calldata(
        "4f1ef286",
        vec![addr(owner), DynSolValue::Bytes(vec![1, 2, 3])],
    );
    let i = intent("mainnet", call(RECIPIENT, &data, "0"));
    // The new implementation then runs `data`, a call the adapter cannot read: listed as an
    // unknown call after the upgrade.
    assert_eq!(
        i.risk_flags,
        vec![
            RiskFlag::UnknownSelector,
            RiskFlag::PrivilegedCall,
            RiskFlag::MultipleOperations
        ]
    );
    assert_eq!(
        i.calls.first().cloned().unwrap().args,
        vec![arg("newImplementation", owner), arg("data", "0x010203")]
    );
    assert_eq!(i.calls[1].method, "unknown");
}

#[test]
fn malformed_args_of_known_selector() {
    let good = calldata("a9059cbb", vec![addr(RECIPIENT), uint(U256::from(5))]);
    let cases: Vec<Vec<u8>> = vec![
        good[..good.len() - 1].to_vec(),  // truncated
        [good.clone(), vec![0]].concat(), // trailing byte
        {
            let mut dirty = good.clone();
            dirty[4] = 0xff; // dirty high bits of the address word
            dirty
        },
        hex::decode("a9059cbb").unwrap(), // no arguments
    ];
    for data in cases {
        let p = build("mainnet", call(USDC, &good, "0"));
        let mut tx = decode_1559(&p);
        tx.input = Bytes::from(data.clone());
        let p = Payload {
            format: "eip1559".into(),
            bytes: tx.encoded_for_signing(),
        };
        assert_eq!(
            field_of(parse("mainnet", &p)),
            ("malformed_payload".into(), "tx.data".into()),
            "{}",
            hex::encode(&data)
        );
    }
}

fn decode_1559(p: &Payload) -> TxEip1559 {
    use alloy_rlp::Decodable;
    TxEip1559::decode(&mut &p.bytes[1..]).unwrap()
}

#[test]
fn high_fee() {
    // 21000 × 30 gwei = 0.00063 ETH against 0.001 ETH sent: over 10 %.
    let mut spec = common::native_1559();
    spec["value_wei"] = json!("1000000000000000");
    assert_eq!(
        intent("mainnet", spec.clone()).risk_flags,
        vec![RiskFlag::HighFee]
    );
    // Exactly 10 % is not flagged.
    spec["value_wei"] = json!("6300000000000000");
    assert!(intent("mainnet", spec.clone()).risk_flags.is_empty());
    // Over 1 ETH of fee, whatever the value.
    spec["value_wei"] = json!("100000000000000000000");
    spec["max_fee_per_gas_wei"] = json!("100000000000000");
    assert_eq!(intent("mainnet", spec).risk_flags, vec![RiskFlag::HighFee]);
    // Token transfers: only the absolute bound applies.
    let mut t = common::erc20_1559(USDC);
    t["max_fee_per_gas_wei"] = json!("20000000000000");
    assert_eq!(intent("mainnet", t).risk_flags, vec![RiskFlag::HighFee]);
}

#[test]
fn wrong_network() {
    for spec in [common::native_1559(), common::legacy_155()] {
        let p = build("sepolia", spec);
        let e = parse("mainnet", &p).unwrap_err();
        assert_eq!(
            e,
            ChainError::WrongNetwork {
                field: "tx.chain_id".into(),
                expected: "mainnet".into(),
                found: "sepolia (chain id 11155111)".into(),
            }
        );
    }
    let p = build(
        "mainnet",
        json!({"type": "eip712", "typed_data": common::mail_typed_data(1)}),
    );
    assert_eq!(
        field_of(parse("base", &p)),
        ("wrong_network".into(), "domain.chainId".into())
    );
    // Without a domain chain id, an EIP-712 message parses under any network, and its intent
    // names no chain id (it is valid on every chain).
    let mut td = common::mail_typed_data(1);
    td["domain"].as_object_mut().unwrap().remove("chainId");
    td["types"]["EIP712Domain"]
        .as_array_mut()
        .unwrap()
        .remove(2);
    let p = build("mainnet", json!({"type": "eip712", "typed_data": td}));
    let i = parse("base", &p).unwrap().intent;
    assert_eq!((i.network.as_str(), i.chain_id), ("base", None));
    assert_eq!(i.risk_flags, vec![RiskFlag::OffchainSignature]);
    assert!(Ethereum.payload_binds_network("eip1559"));
    assert!(Ethereum.payload_binds_network("eip155"));
    assert!(!Ethereum.payload_binds_network("eip712"));
    assert!(!Ethereum.payload_binds_network("personal_sign"));
}

#[test]
fn malformed_and_unsupported_transactions() {
    let p = build("mainnet", common::native_1559());
    let with = |bytes: Vec<u8>| Payload {
        format: "eip1559".into(),
        bytes,
    };
    // Trailing garbage.
    let e = field_of(parse("mainnet", &with([p.bytes.clone(), vec![0]].concat())));
    assert_eq!(e, ("malformed_payload".into(), "tx".into()));
    // Truncated RLP.
    let e = field_of(parse(
        "mainnet",
        &with(p.bytes[..p.bytes.len() - 3].to_vec()),
    ));
    assert_eq!(e.0, "malformed_payload");
    assert_eq!(
        field_of(parse("mainnet", &with(vec![]))).0,
        "malformed_payload"
    );
    // Wrong type bytes.
    let mut wrong = p.bytes.clone();
    wrong[0] = 0x00;
    assert_eq!(
        field_of(parse("mainnet", &with(wrong))),
        ("malformed_payload".into(), "tx.type".into())
    );
    // Other transaction types are unsupported.
    let others = [
        TxEip2930 {
            chain_id: 1,
            ..Default::default()
        }
        .encoded_for_signing(),
        TxEip4844 {
            chain_id: 1,
            ..Default::default()
        }
        .encoded_for_signing(),
        TxEip7702 {
            chain_id: 1,
            ..Default::default()
        }
        .encoded_for_signing(),
    ];
    for (bytes, ty) in others.into_iter().zip([1u8, 3, 4]) {
        assert_eq!(bytes[0], ty);
        assert_eq!(
            field_of(parse("mainnet", &with(bytes))),
            ("unsupported".into(), "tx.type".into())
        );
    }
    // A legacy payload in the eip1559 format, and vice versa.
    let legacy = build("mainnet", common::legacy_155());
    assert_eq!(
        field_of(parse("mainnet", &with(legacy.bytes.clone()))).0,
        "unsupported"
    );
    let as_155 = Payload {
        format: "eip155".into(),
        bytes: p.bytes.clone(),
    };
    assert_eq!(field_of(parse("mainnet", &as_155)).0, "unsupported");
    // A pre-EIP-155 legacy payload (no chain id).
    let pre155 = TxLegacy {
        chain_id: None,
        nonce: 1,
        gas_price: 1,
        gas_limit: 21000,
        to: TxKind::Call(Address::ZERO),
        value: U256::from(1),
        input: Bytes::new(),
    }
    .encoded_for_signing();
    let e = parse(
        "mainnet",
        &Payload {
            format: "eip155".into(),
            bytes: pre155,
        },
    );
    assert_eq!(field_of(e), ("unsupported".into(), "tx.chain_id".into()));
    // A signed transaction is not a signing payload.
    let k = key();
    let parsed = parse("mainnet", &p).unwrap();
    let signed = Ethereum
        .finalize(
            "mainnet",
            k.wallet_key(),
            &p,
            &[k.sign(&parsed.messages[0])],
        )
        .unwrap();
    assert_eq!(
        field_of(parse("mainnet", &with(signed.bytes))).0,
        "malformed_payload"
    );
    // Priority fee above the max fee.
    let mut spec = common::native_1559();
    spec["max_priority_fee_per_gas_wei"] = json!("40000000000");
    let e = Ethereum.build("mainnet", k.wallet_key(), &spec);
    assert_eq!(
        field_of(e),
        (
            "malformed_payload".into(),
            "tx.max_priority_fee_per_gas".into()
        )
    );
    // Unknown format.
    let e = parse(
        "mainnet",
        &Payload {
            format: "eip4844".into(),
            bytes: p.bytes.clone(),
        },
    );
    assert_eq!(field_of(e), ("unsupported".into(), "format".into()));
}

#[test]
fn other_schemes_are_unsupported() {
    let p = build("mainnet", common::native_1559());
    for scheme in [SchemeId::Ed25519, SchemeId::SchnorrBip340] {
        let k = TestKey::from_seed(scheme, [5; 32]);
        let e = Ethereum.parse("mainnet", k.wallet_key(), &p);
        assert_eq!(field_of(e), ("unsupported".into(), "scheme".into()));
        let e = Ethereum.address("mainnet", k.wallet_key());
        assert_eq!(field_of(e), ("unsupported".into(), "scheme".into()));
    }
    let e = Ethereum.address("no-such-net", key().wallet_key());
    assert_eq!(field_of(e), ("unsupported".into(), "network".into()));
}

#[test]
fn eip712_refusals() {
    let build712 = |td: Value| {
        let bytes = serde_json::to_vec(&td).unwrap();
        parse(
            "mainnet",
            &Payload {
                format: "eip712".into(),
                bytes,
            },
        )
    };
    // A message field the types do not declare would be shown but not signed.
    let mut td = common::mail_typed_data(1);
    td["message"]["from"]["note"] = json!("send 1000 ETH");
    assert_eq!(
        field_of(build712(td)),
        ("malformed_payload".into(), "message.from.note".into())
    );
    // Unknown domain field.
    let mut td = common::mail_typed_data(1);
    td["domain"]["origin"] = json!("https://example.com");
    assert_eq!(field_of(build712(td)).1, "domain.origin");
    // EIP712Domain type that does not match the domain.
    let mut td = common::mail_typed_data(1);
    td["types"]["EIP712Domain"].as_array_mut().unwrap().pop();
    assert_eq!(field_of(build712(td)).1, "types.EIP712Domain");
    // Missing message field, wrong value type.
    let mut td = common::mail_typed_data(1);
    td["message"]["to"]["wallet"] = json!("not an address");
    assert_eq!(field_of(build712(td)).1, "message");
    // Recursive and exponentially expanding types (T_k expands to 3·2^(20-k) - 1 nodes: T9 is
    // the first over the 4096 bound).
    let mut td = common::mail_typed_data(1);
    td["types"]["Person"] = json!([{"name": "boss", "type": "Person"}]);
    assert_eq!(field_of(build712(td)).0, "malformed_payload");
    let mut types = serde_json::Map::new();
    for i in 0..20 {
        let next = format!("T{}", i + 1);
        types.insert(
            format!("T{i}"),
            json!([{"name": "a", "type": next}, {"name": "b", "type": next}]),
        );
    }
    types.insert("T20".into(), json!([{"name": "x", "type": "uint256"}]));
    let td = json!({"types": types, "primaryType": "T0", "domain": {}, "message": {}});
    assert_eq!(
        field_of(build712(td)),
        ("malformed_payload".into(), "types.T9".into())
    );
    // The bare domain, and a domain chain id beyond u64.
    let mut td = common::mail_typed_data(1);
    td["primaryType"] = json!("EIP712Domain");
    assert_eq!(
        field_of(build712(td)),
        ("unsupported".into(), "primaryType".into())
    );
    let mut td = common::mail_typed_data(1);
    td["domain"]["chainId"] = json!("0x10000000000000001");
    assert_eq!(field_of(build712(td)).0, "wrong_network");
    // Not an object / extra top-level fields.
    assert_eq!(field_of(build712(json!([1, 2]))).1, "typed_data");
    let mut td = common::mail_typed_data(1);
    td["extra"] = json!(1);
    assert_eq!(field_of(build712(td)).1, "extra");
}

#[test]
fn personal_sign_previews() {
    let p = |bytes: &[u8]| {
        parse(
            "mainnet",
            &Payload {
                format: "personal_sign".into(),
                bytes: bytes.to_vec(),
            },
        )
    };
    let i = p(b"Sign in").unwrap().intent;
    assert_eq!(i.kind, IntentKind::SignMessage);
    assert!(i.risk_flags.is_empty());
    assert_eq!(i.fee, None);
    assert_eq!(
        i.render(),
        "Sign personal_sign message (Sign in) on Ethereum mainnet"
    );
    let bin = p(&[0xde, 0xad, 0xbe, 0xef, 0xff]).unwrap().intent;
    assert_eq!(bin.risk_flags, vec![RiskFlag::OffchainSignature]);
    assert_eq!(bin.message.unwrap().summary, "0xdeadbeefff");
    let hidden = p("pay \u{202e}0001".as_bytes()).unwrap().intent;
    assert_eq!(hidden.risk_flags, vec![RiskFlag::OffchainSignature]);
    assert_eq!(
        field_of(p(b"")),
        ("malformed_payload".into(), "message".into())
    );
}

#[test]
fn builder_errors_name_the_field() {
    let k = key();
    let err = |spec: Value| field_of(Ethereum.build("mainnet", k.wallet_key(), &spec)).1;
    let mut s = common::native_1559();
    s.as_object_mut().unwrap().remove("gas_limit");
    assert_eq!(err(s), "gas_limit");
    let mut s = common::native_1559();
    s["to"] = json!("0x8617e340B3D01FA5F11F306F4090FD50E238070D");
    assert_eq!(err(s), "to");
    let mut s = common::native_1559();
    s["gas_price_wei"] = json!("1");
    assert_eq!(err(s), "gas_price_wei");
    let mut s = common::native_1559();
    s["value_wei"] = json!("01");
    assert_eq!(err(s), "value_wei");
    let mut s = common::native_1559();
    s["nonce"] = json!("3");
    assert_eq!(err(s), "nonce");
    let mut s = common::erc20_1559(USDC);
    s["erc20_transfer"]["amount"] = json!(1500000);
    assert_eq!(err(s), "erc20_transfer.amount");
    let mut s = common::erc20_1559(USDC);
    s["value_wei"] = json!("1");
    assert_eq!(err(s), "value_wei");
    assert_eq!(err(json!({"type": "personal_sign"})), "message");
    assert_eq!(err(json!({"type": "eip2930"})), "type");
    assert_eq!(err(json!("eip1559")), "spec");
    // Deterministic.
    let a = Ethereum
        .build("mainnet", k.wallet_key(), &common::erc20_1559(USDC))
        .unwrap();
    let b = Ethereum
        .build("mainnet", k.wallet_key(), &common::erc20_1559(USDC))
        .unwrap();
    assert_eq!(a, b);
    let m = Ethereum
        .build(
            "mainnet",
            k.wallet_key(),
            &json!({"type": "personal_sign", "message_hex": "0x0102"}),
        )
        .unwrap();
    assert_eq!(m.bytes, vec![1, 2]);
}

// --- verify ---------------------------------------------------------------------------------

/// secp256k1 group order n (SEC 2, section 2.4.1), to build a high-s twin of a signature.
const ORDER_N: &str = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";

fn ecdsa(sig: &Signature) -> ([u8; 32], [u8; 32], u8) {
    match sig {
        Signature::Ecdsa { r, s, recovery_id } => (*r, *s, *recovery_id),
        other => panic!("not ECDSA: {other:?}"),
    }
}

/// `(r, n - s)` with the other parity: the same signature, high-s.
fn high_s(sig: &Signature) -> ([u8; 32], [u8; 32], u8) {
    let (r, s, v) = ecdsa(sig);
    let n = U256::from_str_radix(ORDER_N, 16).unwrap();
    let s_high = n - U256::from_be_bytes(s);
    (r, s_high.to_be_bytes::<32>(), v ^ 1)
}

/// A signed 1559 transaction assembled by alloy, outside the adapter.
fn envelope(tx: TxEip1559, (r, s, v): ([u8; 32], [u8; 32], u8)) -> SignedTransaction {
    let sig =
        alloy_primitives::Signature::new(U256::from_be_bytes(r), U256::from_be_bytes(s), v == 1);
    let bytes = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
    SignedTransaction {
        chain: "ethereum".into(),
        network: "mainnet".into(),
        format: "eip2718".into(),
        txid: Some(format!("0x{}", hex::encode(keccak256(&bytes)))),
        details: json!({}),
        bytes,
    }
}

fn message_sig(format: &str, (r, s, v): ([u8; 32], [u8; 32], u8)) -> SignedTransaction {
    SignedTransaction {
        chain: "ethereum".into(),
        network: "mainnet".into(),
        format: format.into(),
        bytes: [r.as_slice(), s.as_slice(), &[27 + v]].concat(),
        txid: None,
        details: json!({}),
    }
}

fn verification_failed(r: Result<(), ChainError>) {
    assert!(matches!(r, Err(ChainError::Verification(_))), "{r:?}");
}

#[test]
fn verify_rejects_foreign_high_s_and_other_body() {
    let k = key();
    let wk = k.wallet_key();
    let other = TestKey::from_seed(SchemeId::EcdsaDkls23, [0x22; 32]);
    let p = build("mainnet", common::erc20_1559(USDC));
    let msg = &parse("mainnet", &p).unwrap().messages[0];
    let tx = decode_1559(&p);

    // Control: the adapter's own signature, assembled by alloy, verifies.
    let good = k.sign(msg);
    Ethereum
        .verify("mainnet", wk, &p, &envelope(tx.clone(), ecdsa(&good)))
        .unwrap();

    // Another key's signature.
    let foreign = other.sign(msg);
    verification_failed(Ethereum.verify("mainnet", wk, &p, &envelope(tx.clone(), ecdsa(&foreign))));
    assert!(matches!(
        Ethereum.finalize("mainnet", wk, &p, &[foreign]),
        Err(ChainError::Signatures(_))
    ));

    // The high-s twin of a valid signature (it recovers the same key; EIP-2 forbids it).
    verification_failed(Ethereum.verify("mainnet", wk, &p, &envelope(tx.clone(), high_s(&good))));
    let (r, s, v) = high_s(&good);
    assert!(matches!(
        Ethereum.finalize(
            "mainnet",
            wk,
            &p,
            &[Signature::Ecdsa {
                r,
                s,
                recovery_id: v
            }]
        ),
        Err(ChainError::Signatures(_))
    ));

    // A correctly signed transaction whose body differs from the payload.
    let mut changed = tx.clone();
    changed.nonce += 1;
    let changed_payload = Payload {
        format: "eip1559".into(),
        bytes: changed.encoded_for_signing(),
    };
    let changed_msg = &parse("mainnet", &changed_payload).unwrap().messages[0];
    let signed_other_body = envelope(changed.clone(), ecdsa(&k.sign(changed_msg)));
    Ethereum
        .verify("mainnet", wk, &changed_payload, &signed_other_body)
        .unwrap();
    verification_failed(Ethereum.verify("mainnet", wk, &p, &signed_other_body));

    // Metadata that does not match: wrong txid, network, format.
    let mut s = envelope(tx.clone(), ecdsa(&good));
    s.txid = Some("0x00".into());
    verification_failed(Ethereum.verify("mainnet", wk, &p, &s));
    let mut s = envelope(tx, ecdsa(&good));
    s.network = "sepolia".into();
    verification_failed(Ethereum.verify("mainnet", wk, &p, &s));

    // Wrong signature kinds and counts at finalize.
    assert!(matches!(
        Ethereum.finalize("mainnet", wk, &p, &[Signature::Bip340([1; 64])]),
        Err(ChainError::Signatures(_))
    ));
    assert!(matches!(
        Ethereum.finalize("mainnet", wk, &p, &[]),
        Err(ChainError::Signatures(_))
    ));
}

#[test]
fn verify_rejects_bad_message_signatures() {
    let k = key();
    let wk = k.wallet_key();
    let other = TestKey::from_seed(SchemeId::EcdsaDkls23, [0x22; 32]);
    for (spec, format) in [
        (
            json!({"type": "eip712", "typed_data": common::mail_typed_data(1)}),
            "eip712_signature",
        ),
        (
            json!({"type": "personal_sign", "message": "hello"}),
            "personal_sign_signature",
        ),
    ] {
        let p = build("mainnet", spec);
        let msg = &parse("mainnet", &p).unwrap().messages[0];
        let good = k.sign(msg);
        Ethereum
            .verify("mainnet", wk, &p, &message_sig(format, ecdsa(&good)))
            .unwrap();
        verification_failed(Ethereum.verify(
            "mainnet",
            wk,
            &p,
            &message_sig(format, ecdsa(&other.sign(msg))),
        ));
        verification_failed(Ethereum.verify(
            "mainnet",
            wk,
            &p,
            &message_sig(format, high_s(&good)),
        ));
        // v as a raw recovery id (0/1) is refused: wallets and contracts expect 27/28.
        let mut raw_v = message_sig(format, ecdsa(&good));
        raw_v.bytes[64] -= 27;
        verification_failed(Ethereum.verify("mainnet", wk, &p, &raw_v));
        // The right signature under another format.
        let other_format = if format == "eip712_signature" {
            "personal_sign_signature"
        } else {
            "eip712_signature"
        };
        verification_failed(Ethereum.verify(
            "mainnet",
            wk,
            &p,
            &message_sig(other_format, ecdsa(&good)),
        ));
    }
}

//! The shared conformance suite.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use alloy_dyn_abi::DynSolValue;
use alloy_primitives::{Address, U256};
use serde_json::json;
use tessera_chain::conformance::{run, Fixtures};
use tessera_chain::{ChainAdapter, Payload, WalletKey};
use tessera_chain_ethereum::Ethereum;

struct EthFixtures;

/// First known token of each network (any well-formed address where none is listed).
fn token_for(network: &str) -> &'static str {
    match network {
        "mainnet" => common::USDC,
        "sepolia" => "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238",
        "base" => "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "arbitrum" => "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
        "optimism" => "0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85",
        "polygon" => "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359",
        _ => "0x1111111111111111111111111111111111111111",
    }
}

fn chain_id(network: &str) -> u64 {
    match network {
        "mainnet" => 1,
        "sepolia" => 11_155_111,
        "holesky" => 17_000,
        "base" => 8453,
        "arbitrum" => 42_161,
        "optimism" => 10,
        "polygon" => 137,
        other => panic!("no chain id for {other}"),
    }
}

/// A 1559 call of `data` to `to`.
fn call(to: &str, data: Vec<u8>) -> serde_json::Value {
    json!({
        "type": "eip1559", "nonce": 11, "to": to, "gas_limit": 90000,
        "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1000000000",
        "data": format!("0x{}", hex::encode(data))
    })
}

fn encode(selector: [u8; 4], args: Vec<DynSolValue>) -> Vec<u8> {
    [
        selector.to_vec(),
        DynSolValue::Tuple(args).abi_encode_params(),
    ]
    .concat()
}

fn address(a: &str) -> DynSolValue {
    DynSolValue::Address(a.parse::<Address>().unwrap())
}

impl Fixtures for EthFixtures {
    fn payloads(&self, network: &str, key: WalletKey<'_>) -> Vec<(String, Payload)> {
        let wallet = Ethereum.address(network, key).unwrap().address;
        let spender = "0x2222222222222222222222222222222222222222";
        // approve(spender, 2^256 - 1) and ERC-721 safeTransferFrom(wallet, recipient, 7).
        let approve = encode(
            [0x09, 0x5e, 0xa7, 0xb3],
            vec![address(spender), DynSolValue::Uint(U256::MAX, 256)],
        );
        let nft = encode(
            [0x42, 0x84, 0x2e, 0x0e],
            vec![
                address(&wallet),
                address(common::RECIPIENT),
                DynSolValue::Uint(U256::from(7u8), 256),
            ],
        );
        let permit = common::permit_typed_data(chain_id(network), token_for(network), &wallet);
        let specs = [
            ("erc20 unlimited approve", call(token_for(network), approve)),
            ("erc721 safeTransferFrom", call(common::RECIPIENT, nft)),
            (
                "eip2612 permit",
                json!({"type": "eip712", "typed_data": permit}),
            ),
            ("native eip1559 transfer", common::native_1559()),
            ("erc20 transfer", common::erc20_1559(token_for(network))),
            ("legacy eip155 transfer", common::legacy_155()),
            (
                "eip712 mail",
                json!({"type": "eip712", "typed_data": common::mail_typed_data(chain_id(network))}),
            ),
            (
                "personal_sign text",
                json!({"type": "personal_sign", "message": "Sign in to Tessera: nonce 42"}),
            ),
        ];
        specs
            .into_iter()
            .map(|(name, spec)| {
                let p = Ethereum
                    .build(network, key, &spec)
                    .unwrap_or_else(|e| panic!("{network} {name}: build: {e}"));
                (name.to_string(), p)
            })
            .collect()
    }
}

#[test]
fn conformance() {
    run(&Ethereum, &EthFixtures);
}

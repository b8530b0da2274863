//! The shared conformance suite.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

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

impl Fixtures for EthFixtures {
    fn payloads(&self, network: &str, key: WalletKey<'_>) -> Vec<(String, Payload)> {
        let specs = [
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

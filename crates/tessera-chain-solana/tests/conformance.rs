//! The shared conformance suite.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::{b58, BLOCKHASH, USDC};
use serde_json::json;
use tessera_chain::conformance::Fixtures;
use tessera_chain::{ChainAdapter, Payload, WalletKey};
use tessera_chain_solana::Solana;

struct SolanaFixtures;

impl Fixtures for SolanaFixtures {
    fn payloads(&self, network: &str, key: WalletKey<'_>) -> Vec<(String, Payload)> {
        let dest = b58(&[9u8; 32]);
        let owner = b58(&common::pk(&common::key(77)));
        let specs = [
            (
                "SOL transfer",
                json!({
                    "recent_blockhash": b58(&BLOCKHASH),
                    "transfers": [{"to": dest, "lamports": 500_000_000u64}]
                }),
            ),
            (
                "SPL TransferChecked with ATA creation",
                json!({
                    "recent_blockhash": b58(&BLOCKHASH),
                    "token_transfers": [{
                        "mint": USDC, "to_owner": owner, "amount": "1500000",
                        "decimals": 6, "create_ata": true
                    }]
                }),
            ),
            (
                "SOL transfer with compute budget",
                json!({
                    "recent_blockhash": b58(&BLOCKHASH),
                    "transfers": [{"to": dest, "lamports": "1000000"}],
                    "compute_unit_limit": 300_000,
                    "compute_unit_price_micro_lamports": 25_000
                }),
            ),
        ];
        specs
            .into_iter()
            .map(|(name, spec)| {
                let payload = Solana
                    .build(network, key, &spec)
                    .unwrap_or_else(|e| panic!("{name}: build: {e}"));
                (name.to_string(), payload)
            })
            .collect()
    }
}

#[test]
fn conformance() {
    tessera_chain::conformance::run(&Solana, &SolanaFixtures);
}

//! Shared test data.
#![allow(dead_code)]

use serde_json::{json, Value};

/// The "Mail" example of EIP-712 (https://eips.ethereum.org/EIPS/eip-712, assets/eip-712/
/// Example.js), with the domain's chain id as a parameter (the EIP uses 1).
pub fn mail_typed_data(chain_id: u64) -> Value {
    json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Person": [
                {"name": "name", "type": "string"},
                {"name": "wallet", "type": "address"}
            ],
            "Mail": [
                {"name": "from", "type": "Person"},
                {"name": "to", "type": "Person"},
                {"name": "contents", "type": "string"}
            ]
        },
        "primaryType": "Mail",
        "domain": {
            "name": "Ether Mail",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
        },
        "message": {
            "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
            "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
            "contents": "Hello, Bob!"
        }
    })
}

/// A recipient used across tests.
pub const RECIPIENT: &str = "0x8617E340B3D01FA5F11F306F4090FD50E238070D";

/// Mainnet USDC.
pub const USDC: &str = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";

/// A native EIP-1559 transfer of 0.01 ETH.
pub fn native_1559() -> Value {
    json!({
        "type": "eip1559", "nonce": 3, "to": RECIPIENT, "value_wei": "10000000000000000",
        "gas_limit": 21000, "max_fee_per_gas_wei": "30000000000",
        "max_priority_fee_per_gas_wei": "1000000000"
    })
}

/// An ERC-20 transfer of 1.5 units (6 decimals) of `token` to [`RECIPIENT`].
pub fn erc20_1559(token: &str) -> Value {
    json!({
        "type": "eip1559", "nonce": 4, "gas_limit": 60000,
        "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1000000000",
        "erc20_transfer": {"token": token, "to": RECIPIENT, "amount": "1500000"}
    })
}

/// A legacy EIP-155 transfer of 0.5 ETH.
pub fn legacy_155() -> Value {
    json!({
        "type": "eip155", "nonce": 9, "to": RECIPIENT, "value_wei": "500000000000000000",
        "gas_limit": 21000, "gas_price_wei": "20000000000"
    })
}

/// An EIP-2612 `Permit` of 1 unit (6 decimals) of `token` by `owner` to a spender, on
/// `chain_id` (the shape USDC's `permit` checks).
pub fn permit_typed_data(chain_id: u64, token: &str, owner: &str) -> Value {
    json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"}
            ]
        },
        "primaryType": "Permit",
        "domain": {"name": "USD Coin", "version": "2", "chainId": chain_id, "verifyingContract": token},
        "message": {
            "owner": owner,
            "spender": "0x2222222222222222222222222222222222222222",
            "value": "1000000",
            "nonce": "0",
            "deadline": "1900000000"
        }
    })
}

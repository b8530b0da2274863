//! Contract interfaces and EIP-712 structs as alloy-sol-types generates them: the call data and
//! typed data the tests send, built and decoded independently of the adapter's own tables.
#![allow(dead_code)]
#![allow(missing_docs)]

use alloy_dyn_abi::TypedData;
use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{sol, Eip712Domain, SolStruct};
use serde_json::Value;
use tessera_chain::conformance::TestKey;
use tessera_chain::{ChainAdapter, Intent, Parsed, Payload, SchemeId};
use tessera_chain_ethereum::Ethereum;

sol! {
    /// ERC-20, ERC-721, ERC-1155, ownership, access control, upgrades and multicall.
    interface Token {
        function transfer(address to, uint256 amount) external returns (bool);
        function approve(address spender, uint256 amount) external returns (bool);
        function increaseAllowance(address spender, uint256 addedValue) external returns (bool);
        function transferFrom(address from, address to, uint256 amount) external returns (bool);
        function safeTransferFrom(address from, address to, uint256 tokenId) external;
        function safeTransferFrom(address from, address to, uint256 tokenId, bytes data) external;
        function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes data) external;
        function safeBatchTransferFrom(address from, address to, uint256[] ids, uint256[] values, bytes data) external;
        function setApprovalForAll(address operator, bool approved) external;
        function transferOwnership(address newOwner) external;
        function renounceOwnership() external;
        function upgradeTo(address newImplementation) external;
        function upgradeToAndCall(address newImplementation, bytes data) external payable;
        function changeAdmin(address newAdmin) external;
        function grantRole(bytes32 role, address account) external;
        function revokeRole(bytes32 role, address account) external;
        function multicall(bytes[] data) external returns (bytes[] results);
    }

    /// EIP-2612.
    #[derive(Debug, serde::Serialize)]
    struct Permit { address owner; address spender; uint256 value; uint256 nonce; uint256 deadline; }

    /// Uniswap Permit2, AllowanceTransfer.
    #[derive(Debug, serde::Serialize)]
    struct PermitDetails { address token; uint160 amount; uint48 expiration; uint48 nonce; }
    #[derive(Debug, serde::Serialize)]
    struct PermitSingle { PermitDetails details; address spender; uint256 sigDeadline; }
    #[derive(Debug, serde::Serialize)]
    struct PermitBatch { PermitDetails[] details; address spender; uint256 sigDeadline; }

    /// Uniswap Permit2, SignatureTransfer.
    #[derive(Debug, serde::Serialize)]
    struct TokenPermissions { address token; uint256 amount; }
    #[derive(Debug, serde::Serialize)]
    struct PermitTransferFrom { TokenPermissions permitted; address spender; uint256 nonce; uint256 deadline; }
    #[derive(Debug, serde::Serialize)]
    struct PermitBatchTransferFrom { TokenPermissions[] permitted; address spender; uint256 nonce; uint256 deadline; }

    /// Seaport 1.x.
    #[derive(Debug, serde::Serialize)]
    struct OfferItem { uint8 itemType; address token; uint256 identifierOrCriteria; uint256 startAmount; uint256 endAmount; }
    #[derive(Debug, serde::Serialize)]
    struct ConsiderationItem { uint8 itemType; address token; uint256 identifierOrCriteria; uint256 startAmount; uint256 endAmount; address recipient; }
    #[derive(Debug, serde::Serialize)]
    struct OrderComponents {
        address offerer; address zone; OfferItem[] offer; ConsiderationItem[] consideration;
        uint8 orderType; uint256 startTime; uint256 endTime; bytes32 zoneHash; uint256 salt;
        bytes32 conduitKey; uint256 counter;
    }

    /// Safe's transaction struct.
    #[derive(Debug, serde::Serialize)]
    struct SafeTx {
        address to; uint256 value; bytes data; uint8 operation; uint256 safeTxGas;
        uint256 baseGas; uint256 gasPrice; address gasToken; address refundReceiver; uint256 nonce;
    }
}

/// Uniswap's Permit2 (the same address on every chain).
pub const PERMIT2: Address = alloy_primitives::address!("000000000022D473030F116dDEE9F6B43aC78BA3");
/// Seaport 1.6.
pub const SEAPORT: Address = alloy_primitives::address!("0000000000000068F116a894984e2DB1123eB395");
/// Bored Ape Yacht Club (a listed collection).
pub const BAYC: Address = alloy_primitives::address!("BC4CA0EdA7647A8aB7C2061c2E118A18a936f13D");
/// DAI (listed, 18 decimals).
pub const DAI: Address = alloy_primitives::address!("6B175474E89094C44Da98b954EedeAC495271d0F");
/// USDC (listed, 6 decimals).
pub const USDC: Address = alloy_primitives::address!("A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");

/// The test wallet.
pub fn key() -> TestKey {
    TestKey::from_seed(SchemeId::EcdsaDkls23, [0x21; 32])
}

/// The test wallet's address.
pub fn wallet() -> Address {
    Ethereum
        .address("mainnet", key().wallet_key())
        .unwrap()
        .address
        .parse()
        .unwrap()
}

/// `a` in EIP-55 form.
pub fn eip55(a: &Address) -> String {
    a.to_checksum(None)
}

/// The EIP-712 JSON wallets receive for `s` under `domain`, written by alloy-dyn-abi.
pub fn typed_json<S: SolStruct + serde::Serialize>(s: &S, domain: &Eip712Domain) -> Value {
    serde_json::to_value(TypedData::from_struct(s, Some(domain.clone()))).unwrap()
}

/// An `eip712` payload of `json`.
pub fn typed_payload(json: &Value) -> Payload {
    Payload {
        format: "eip712".into(),
        bytes: serde_json::to_vec(json).unwrap(),
    }
}

/// Parses `p` on mainnet with the test wallet.
pub fn parse(p: &Payload) -> Result<Parsed, tessera_chain::ChainError> {
    Ethereum.parse("mainnet", key().wallet_key(), p)
}

/// Parses typed data on mainnet and checks that the wallet signs exactly the EIP-712 hash
/// alloy-sol-types computes for `s` (so the values the intent shows are the ones signed).
pub fn typed_intent<S: SolStruct + serde::Serialize>(s: &S, domain: &Eip712Domain) -> Intent {
    let parsed = parse(&typed_payload(&typed_json(s, domain))).unwrap();
    let digest = parsed.messages[0].digest32().unwrap();
    assert_eq!(B256::from(digest), s.eip712_signing_hash(domain));
    parsed.intent
}

/// `10^n`.
pub fn pow10(n: u32) -> U256 {
    U256::from(10u8).pow(U256::from(n))
}

/// `2^96 − 1`.
pub fn u96_max() -> U256 {
    (U256::from(1u8) << 96) - U256::from(1u8)
}

//! The Ethereum / EVM chain adapter: EIP-1559 and EIP-155 transactions, EIP-712 typed data and
//! `personal_sign` (EIP-191), with ERC-20 / ERC-721 / ERC-1155, admin-call, permit and order
//! decoding and risk flags.
//!
//! Every codec and hash comes from the alloy crates (`alloy-rlp`, `alloy-consensus`,
//! `alloy-dyn-abi`, `alloy-primitives`); [`ChainAdapter::verify`] recovers signers with
//! libsecp256k1, independently of the k256 code alloy and the test signer use.
//!
//! # Networks
//!
//! | name       | chain id   | native |
//! |------------|------------|--------|
//! | `mainnet`  | 1          | ETH    |
//! | `sepolia`  | 11155111   | ETH    |
//! | `holesky`  | 17000      | ETH    |
//! | `base`     | 8453       | ETH    |
//! | `arbitrum` | 42161      | ETH    |
//! | `optimism` | 10         | ETH    |
//! | `polygon`  | 137        | POL    |
//!
//! # Payload formats
//!
//! | format          | bytes                                                            | signed message (Keccak-256 preimage)            |
//! |-----------------|------------------------------------------------------------------|-------------------------------------------------|
//! | `eip1559`       | `0x02 ‖ rlp([chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas, gas_limit, to, value, data, access_list])` | the bytes themselves |
//! | `eip155`        | `rlp([nonce, gas_price, gas_limit, to, value, data, chain_id, 0, 0])` | the bytes themselves                      |
//! | `eip712`        | UTF-8 JSON `{types, primaryType, domain, message}`               | `0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)` |
//! | `personal_sign` | the raw message                                                  | `"\x19Ethereum Signed Message:\n" ‖ len ‖ bytes` |
//!
//! Transactions bind their network (chain id, `tx.chain_id`); an EIP-712 `domain.chainId`, when
//! present, must match the network too. Payloads must be in canonical encoding with nothing
//! trailing; EIP-2930, EIP-4844 and EIP-7702 transactions are refused as unsupported.
//!
//! # What the intent lists
//!
//! Every effect of a payload, or a flag saying the adapter cannot read it.
//!
//! * **Transactions**: the native value (to the contract, with `value_to_contract`, when there
//!   is call data), the fee bound (gas limit × max fee per gas, or × gas price), and every call
//!   in `calls`, a self-`multicall`'s and an `upgradeToAndCall`'s inner calls after the outer
//!   one (`multiple_operations` when more than one call acts), each with its effects:
//!
//! | call | in the intent |
//! |------|---------------|
//! | `transfer`; `transferFrom` on a listed ERC-20 | a transfer; `from` when the tokens are not the wallet's (moved under an allowance) |
//! | `transferFrom` on a listed collection; ERC-721 `safeTransferFrom` | one NFT: asset `BAYC #1234` (`NFT #1234` if unlisted), decimals 0, amount 1; the argument is `tokenId` |
//! | ERC-1155 `safeTransferFrom`, `safeBatchTransferFrom` | one transfer per id (`NFT #<id>`, decimals 0), amount the value |
//! | `transferFrom`, `approve` on an unlisted contract | an amount or a token id: argument `amountOrTokenId`, counted as that many (at least 1) base units of an unknown token, kind `contract_call` |
//! | `approve`, `increaseAllowance` | an allowance (`approve`, `increase_allowance`), unlimited at the threshold below; amount 0 revokes |
//! | `setApprovalForAll` | an allowance over the whole collection (`<symbol> (any id)`, unlimited), or its revocation (amount 0) |
//! | `transferOwnership`, `renounceOwnership`, `upgradeTo[AndCall]`, `changeAdmin`, `grantRole`, `revokeRole` | an authority change (`contract_owner`, `implementation`, `proxy_admin`, `role 0x…`) and `privileged_call` |
//! | any other selector | method `unknown` and `unknown_selector` |
//!
//! * **Unlimited**: an allowance amount of at least `min(10^(decimals + 12), 2^96 − 1)` base
//!   units (2^96 − 1 when the decimals are unknown) is shown as unlimited (no amount) with
//!   `unlimited_approval`: a trillion whole tokens exceeds any priced token's supply, and 2^96 −
//!   1 is the smallest "infinite" sentinel in use (UNI, COMP); smaller amounts are exact.
//! * **EIP-712**: EIP-2612, DAI and ERC-4494 `Permit`, Permit2 `PermitSingle`, `PermitBatch`,
//!   `PermitTransferFrom`, `PermitBatchTransferFrom` (and their witness forms) and Seaport
//!   `OrderComponents`, recognised by their exact type definitions, become allowances with the
//!   expiry they really have (a Permit2 expiration, a transfer permit's deadline, an order's end;
//!   none for EIP-2612, whose allowance outlives the signature's deadline); a Seaport order's
//!   offer items are allowances to the Seaport contract and what it pays the wallet is listed in
//!   `change`. A permit for someone else's tokens, or an order by another offerer, is refused
//!   (`not_owned`). Every typed-data intent has `offchain_signature`; without
//!   `domain.chainId` it names no chain id and its summary says "on any chain".
//! * **`personal_sign`**: no chain id (valid on every chain); a 32-byte message is shown as the
//!   hash it may be, one that can authorize a Safe transaction (`offchain_signature`).
//! * **Text from the payload** (domain names, type names, messages) goes through
//!   `tessera_chain::text`: control, bidirectional and invisible characters become visible
//!   escapes, so it cannot reorder or forge the lines of a summary.
//!
//! # Builder spec ([`ChainAdapter::build`])
//!
//! A JSON object; unknown fields are refused, errors name the field. Amounts are decimal strings
//! in base units (wei, token units); `nonce` and `gas_limit` are JSON integers.
//!
//! | field | types | meaning |
//! |-------|-------|---------|
//! | `type` | all | `eip1559`, `eip155`, `eip712` or `personal_sign` (the payload format) |
//! | `nonce` | txs | account nonce |
//! | `to` | txs | `0x…` recipient (EIP-55 checked when mixed case), or `null` to deploy a contract; required unless `erc20_transfer` is given |
//! | `value_wei` | txs | ether sent, default `"0"` |
//! | `gas_limit` | txs | gas limit |
//! | `max_fee_per_gas_wei`, `max_priority_fee_per_gas_wei` | `eip1559` | fee caps |
//! | `gas_price_wei` | `eip155` | gas price |
//! | (access list) | `eip1559` | always empty (parsed payloads may carry one; it only affects gas) |
//! | `data` | txs | `0x…` call data, default empty |
//! | `erc20_transfer` | txs | `{"token": "0x…", "to": "0x…", "amount": "1500000"}`: encodes `transfer(to, amount)` and sends it to `token` with value 0 (excludes `to` and `data`) |
//! | `typed_data` | `eip712` | the typed-data object, serialized as compact JSON |
//! | `message` / `message_hex` | `personal_sign` | UTF-8 text, or `0x…` bytes (exactly one) |
//!
//! The chain id is the network's. The built payload is parsed before it is returned, so a spec
//! that builds also parses.
//!
//! ```json
//! {"type": "eip1559", "nonce": 7, "gas_limit": 65000,
//!  "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1000000000",
//!  "erc20_transfer": {"token": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
//!                     "to": "0x8617E340B3D01FA5F11F306F4090FD50E238070D", "amount": "1500000"}}
//! ```
//!
//! # Signed results ([`ChainAdapter::finalize`])
//!
//! * Transactions: `format` `eip2718`, `bytes` the signed envelope (`0x02 ‖ rlp([…, y_parity,
//!   r, s])`, or legacy `rlp([…, v = chain_id·2 + 35 + y_parity, r, s])`), `txid` `0x` + the
//!   Keccak-256 of those bytes, `details` `{"chain_id": n, "signed_tx_hex": "0x…"}`.
//! * Messages: `format` `eip712_signature` or `personal_sign_signature`, `bytes` the 65-byte
//!   `r ‖ s ‖ v` with `v = 27 + y_parity`, no `txid`, `details` `{"signature_hex": "0x…"}`.
//!
//! `finalize` refuses (as [`ChainError::Signatures`]) a signature of the wrong kind, a high-s
//! signature, or one that does not recover to the wallet.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod allowance;
mod builder;
mod calldata;
mod effects;
mod keys;
mod message;
mod network;
mod offchain;
mod seaport;
mod tx;
mod typed;

use tessera_chain::{
    check_request, Address, ChainAdapter, ChainError, MessageHash, Parsed, Payload, Result,
    SchemeId, SignMessage, Signature, SignedTransaction, WalletKey,
};

use crate::message::{Eip712, MessageDigest};
use crate::network::Network;
use crate::tx::UnsignedTx;

/// Chain id of this adapter.
const CHAIN: &str = "ethereum";

/// Payload formats.
const FORMATS: &[&str] = &["eip1559", "eip155", "eip712", "personal_sign"];

/// Largest payload accepted (a transaction larger than this would not be relayed anyway).
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// The Ethereum / EVM adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ethereum;

/// A parsed payload and what finalize/verify need of it.
enum Body {
    Tx(UnsignedTx),
    Eip712(Box<Eip712>),
    PersonalSign,
}

/// A Keccak-256 preimage: every signer hashes the bytes itself.
fn keccak_message(bytes: Vec<u8>) -> SignMessage {
    SignMessage::Preimage {
        hash: Some(MessageHash::Keccak256),
        bytes,
    }
}

impl Ethereum {
    fn parse_inner(
        &self,
        network: &str,
        key: WalletKey<'_>,
        payload: &Payload,
    ) -> Result<(Parsed, Body, &'static Network)> {
        check_request(self, network, key)?;
        let net = Network::by_name(network)?;
        if !FORMATS.contains(&payload.format.as_str()) {
            return Err(ChainError::unsupported(
                "format",
                format!(
                    "unknown payload format {:?} (known: {})",
                    payload.format,
                    FORMATS.join(", ")
                ),
            ));
        }
        if payload.bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(ChainError::malformed(
                "payload",
                format!("larger than {MAX_PAYLOAD_BYTES} bytes"),
            ));
        }
        let source = keys::wallet_address(key)?;
        let source_text = keys::checksummed(&source);
        match payload.format.as_str() {
            "eip1559" | "eip155" => {
                let tx = UnsignedTx::decode(&payload.format, &payload.bytes)?;
                let intent = tx.intent(net, &source)?;
                let messages = vec![keccak_message(tx.signing_bytes())];
                Ok((Parsed { intent, messages }, Body::Tx(tx), net))
            }
            "eip712" => {
                let m = message::parse_eip712(net, &source, &payload.bytes)?;
                let intent = message::eip712_intent(net, source_text, &m);
                let messages = vec![keccak_message(m.preimage.clone())];
                Ok((Parsed { intent, messages }, Body::Eip712(Box::new(m)), net))
            }
            _ => {
                let m = message::parse_personal_sign(&payload.bytes)?;
                let intent = message::personal_sign_intent(net, source_text, &m);
                let messages = vec![keccak_message(m.preimage.clone())];
                Ok((Parsed { intent, messages }, Body::PersonalSign, net))
            }
        }
    }
}

/// The one ECDSA signature a payload takes, as `(r, s, y_parity)`.
fn one_signature(
    messages: &[SignMessage],
    signatures: &[Signature],
) -> Result<([u8; 32], [u8; 32], bool)> {
    if signatures.len() != messages.len() {
        return Err(ChainError::Signatures(format!(
            "expected {} signature(s), got {}",
            messages.len(),
            signatures.len()
        )));
    }
    match signatures {
        [Signature::Ecdsa { r, s, recovery_id }] => {
            let y_parity = match recovery_id {
                0 => false,
                1 => true,
                other => {
                    return Err(ChainError::Signatures(format!(
                        "recovery id {other} is not a y parity (0 or 1)"
                    )))
                }
            };
            if !keys::is_low_s(r, s) {
                return Err(ChainError::Signatures(
                    "not a low-s ECDSA signature (EIP-2)".into(),
                ));
            }
            Ok((*r, *s, y_parity))
        }
        [_] => Err(ChainError::Signatures(
            "Ethereum takes secp256k1 ECDSA signatures with a recovery id".into(),
        )),
        _ => Err(ChainError::Signatures("expected one signature".into())),
    }
}

impl ChainAdapter for Ethereum {
    fn chain(&self) -> &'static str {
        CHAIN
    }

    fn networks(&self) -> &'static [&'static str] {
        network::NAMES
    }

    fn schemes(&self) -> &'static [SchemeId] {
        &[SchemeId::EcdsaDkls23, SchemeId::EcdsaCggmp24]
    }

    fn formats(&self) -> &'static [&'static str] {
        FORMATS
    }

    fn payload_binds_network(&self, format: &str) -> bool {
        matches!(format, "eip1559" | "eip155")
    }

    fn address(&self, network: &str, key: WalletKey<'_>) -> Result<Address> {
        check_request(self, network, key)?;
        Ok(Address {
            address: keys::checksummed(&keys::wallet_address(key)?),
            kind: "eoa".into(),
        })
    }

    fn build(
        &self,
        network: &str,
        key: WalletKey<'_>,
        spec: &serde_json::Value,
    ) -> Result<Payload> {
        check_request(self, network, key)?;
        let net = Network::by_name(network)?;
        let payload = builder::build(net, spec)?;
        self.parse_inner(network, key, &payload)?;
        Ok(payload)
    }

    fn parse(&self, network: &str, key: WalletKey<'_>, payload: &Payload) -> Result<Parsed> {
        self.parse_inner(network, key, payload).map(|(p, _, _)| p)
    }

    fn finalize(
        &self,
        network: &str,
        key: WalletKey<'_>,
        payload: &Payload,
        signatures: &[Signature],
    ) -> Result<SignedTransaction> {
        let (parsed, body, net) = self.parse_inner(network, key, payload)?;
        let (r, s, y_parity) = one_signature(&parsed.messages, signatures)?;
        let signed = match &body {
            Body::Tx(tx) => tx.finalize(net, &r, &s, y_parity),
            Body::Eip712(_) => message::finalize(net, "eip712_signature", &r, &s, y_parity),
            Body::PersonalSign => {
                message::finalize(net, "personal_sign_signature", &r, &s, y_parity)
            }
        };
        // Never hand out a transaction the wallet did not sign.
        self.verify(network, key, payload, &signed)
            .map_err(|e| ChainError::Signatures(e.to_string()))?;
        Ok(signed)
    }

    fn offchain_message(&self, scheme: SchemeId, text: &[u8]) -> Result<SignMessage> {
        offchain::wrap(scheme, text)
    }

    fn read_offchain_message(&self, scheme: SchemeId, message: &SignMessage) -> Option<Vec<u8>> {
        offchain::read(scheme, message)
    }

    fn verify(
        &self,
        network: &str,
        key: WalletKey<'_>,
        payload: &Payload,
        signed: &SignedTransaction,
    ) -> Result<()> {
        let (_, body, net) = self.parse_inner(network, key, payload)?;
        if signed.chain != CHAIN || signed.network != net.name {
            return Err(ChainError::Verification(format!(
                "signed result is for {} {}, not {CHAIN} {}",
                signed.chain, signed.network, net.name
            )));
        }
        match &body {
            Body::Tx(_) => tx::verify(net, key, &payload.bytes, signed),
            Body::Eip712(m) => message::verify(
                key,
                MessageDigest::Eip712(&m.typed),
                "eip712_signature",
                signed,
            ),
            Body::PersonalSign => message::verify(
                key,
                MessageDigest::PersonalSign(&payload.bytes),
                "personal_sign_signature",
                signed,
            ),
        }
    }
}

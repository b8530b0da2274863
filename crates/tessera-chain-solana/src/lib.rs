//! Solana chain adapter: legacy messages with System and SPL Token transfers, signed by one
//! Ed25519 wallet key.
//!
//! * Chain id `solana`; networks `mainnet-beta`, `devnet`, `testnet`. A message does not name its
//!   cluster, so [`ChainAdapter::payload_binds_network`] is `false` and the intent reports the
//!   network the caller asked for.
//! * Scheme `ed25519` only. The address is the base58 of the 32-byte public key (kind `ed25519`).
//! * Payload format `solana_message`: a serialized **legacy** message, read by this crate's own
//!   strict parser ([`message::LegacyMessage::parse`]). Versioned (v0) messages are refused as
//!   unsupported: address lookup tables cannot be resolved offline.
//! * The wallet must be the fee payer (account key 0) and the only signer
//!   (`num_required_signatures == 1`); every System transfer must come from it, every token
//!   transfer must be authorized by it, every associated-token-account creation funded by it.
//! * One message to sign: the message bytes themselves ([`SignMessage::raw_bytes`]).
//! * [`ChainAdapter::finalize`] gives format `solana_tx`: `compact-u16(1) || signature(64) ||
//!   message`, `txid` the base58 signature, and `details = {"signed_tx_base64": "<base64 of the
//!   transaction>"}` (what `sendTransaction` takes with `encoding: "base64"`).
//! * [`ChainAdapter::verify`] is independent of the parser and the assembler: it deserializes the
//!   signed transaction with the Solana crates (`solana_transaction::Transaction` through
//!   bincode, the codec the Solana RPC uses), requires its message to re-serialize to exactly the
//!   payload, checks every signature with `ed25519-dalek`'s `verify_strict` and with the Solana
//!   crate's own `Transaction::verify`, and requires the wallet as fee payer.
//!
//! # Intent
//!
//! The adapter describes every effect of a message or refuses it:
//!
//! * System `Transfer` → a transfer of `SOL` (9 decimals). System `CreateAccount` /
//!   `CreateAccountWithSeed` → a SOL transfer of the lamports the new account receives, and a
//!   call.
//! * SPL Token / Token-2022 `Transfer` and `TransferChecked` → a token transfer and a call. When
//!   the message also creates (`Create` / `CreateIdempotent`) the associated token account that
//!   is the destination, the transfer goes `to` that account's **owner**; the derivation
//!   `find_program_address([owner, token_program, mint], ATokenGP…)` is verified. Otherwise `to`
//!   is the token account and the `to` argument of the call says so. The asset is the **mint**:
//!   from a small known-mint table (mainnet-beta: USDC, USDT), other mints are `?` and flagged
//!   `unknown_token`. A plain `Transfer` names no mint: it is resolved when the source is the
//!   wallet's associated account of a known mint or an account created in the message (or the
//!   destination is), and **refused** otherwise, never counted as SOL (see the `token` module).
//!   A `TransferChecked` whose decimals contradict the table is malformed.
//! * Each associated-token-account creation takes the new account's rent-exempt deposit from
//!   the wallet: a SOL transfer to the account's owner of 2 039 280 lamports (SPL Token) or at
//!   most 2 978 880 (Token-2022, a 300-byte bound), and a call.
//! * Token `Approve` / `ApproveChecked` → an allowance (`via` `approve`; amount `None`, unlimited,
//!   from `min(10^(12 + decimals), 2^63)` base units, flagged `unlimited_approval`), `Revoke` → an
//!   allowance of zero (`via` `revoke`); Token `SetAuthority`, System `Assign` /
//!   `AssignWithSeed` / `AuthorizeNonceAccount` → an authority change (`account_owner`,
//!   `mint_tokens`, …, `program_owner`, `nonce_authority`). All but a revoke are flagged
//!   `grants_authority`, and each is a call.
//! * Compute Budget `SetComputeUnitLimit` / `SetComputeUnitPrice` set the fee bound
//!   `5000 × signatures + ceil(price × limit / 10^6)` lamports (limit default 200 000 per
//!   non-compute-budget instruction, at most 1 400 000); `high_fee` above 0.01 SOL. Compute-budget
//!   instructions are not calls: the fee detail lists them.
//! * `calls` lists every other instruction, in message order (System transfers are in
//!   `transfers` only). An instruction the adapter does not decode (another program, another
//!   instruction of these) is a call with method `unknown` and its accounts and data, flagged
//!   `unknown_selector` so policy can refuse it. More than one instruction that is not compute
//!   budget → `multiple_operations`.
//!
//! # Builder spec
//!
//! [`ChainAdapter::build`] takes a JSON object and gives a deterministic legacy message with the
//! wallet as fee payer and only signer (accounts ordered as `solana_message::Message::new`
//! orders them):
//!
//! ```json
//! {
//!   "recent_blockhash": "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N",
//!   "transfers": [{"to": "<base58 address>", "lamports": 1000000}],
//!   "token_transfers": [{
//!     "mint": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
//!     "to_owner": "<base58 wallet address of the recipient>",
//!     "amount": "1500000",
//!     "decimals": 6,
//!     "create_ata": true,
//!     "token_program": "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
//!   }],
//!   "compute_unit_limit": 200000,
//!   "compute_unit_price_micro_lamports": 1000
//! }
//! ```
//!
//! * `recent_blockhash` (required): base58 of 32 bytes.
//! * `transfers` (optional): System transfers from the wallet; `lamports` > 0, a JSON integer or
//!   a decimal string.
//! * `token_transfers` (optional): `TransferChecked` from the wallet's associated token account
//!   to `to_owner`'s associated token account for `mint`, preceded by `CreateIdempotent` of
//!   that account (rent paid by the wallet) when `create_ata` is `true` (default `false`).
//!   `amount` > 0 in base units (decimal string or integer), `decimals` 0–255 and, for a known
//!   mint, equal to its decimals; `token_program` SPL Token (default) or Token-2022.
//! * `compute_unit_limit` (optional, 1–1 400 000) and `compute_unit_price_micro_lamports`
//!   (optional) add `SetComputeUnitLimit` / `SetComputeUnitPrice` first, in that order.
//! * At least one transfer or token transfer. Instructions follow: compute budget, System
//!   transfers, then each token transfer (creation, transfer) in order.
//! * Unknown fields and bad values are refused with [`ChainError::Malformed`] naming the field
//!   (`transfers[0].lamports`, `token_transfers[1].decimals`, …).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod ata;
mod build;
mod decode;
pub mod message;
mod offchain;
pub mod pda;
pub mod programs;
mod system;
mod token;

use base64::Engine;
use bincode::Options;
use tessera_chain::{
    check_request, Address, ChainAdapter, ChainError, Parsed, Payload, PublicKey, Result, SchemeId,
    SignMessage, Signature, SignedTransaction, WalletKey,
};

use crate::message::{encode_compact_u16, LegacyMessage, Pubkey, PACKET_DATA_SIZE};
use crate::programs::b58;

/// Chain id.
pub const CHAIN: &str = "solana";
/// Networks (clusters).
pub const NETWORKS: &[&str] = &["mainnet-beta", "devnet", "testnet"];
/// Payload format: a serialized legacy message.
pub const FORMAT_MESSAGE: &str = "solana_message";
/// Signed format: a wire transaction.
pub const FORMAT_TX: &str = "solana_tx";

/// The Solana adapter (stateless).
#[derive(Debug, Clone, Copy, Default)]
pub struct Solana;

fn wallet_key(key: WalletKey<'_>) -> Result<Pubkey> {
    match key.public_key {
        PublicKey::Ed25519(b) => Ok(*b),
        PublicKey::Secp256k1(_) => Err(ChainError::unsupported(
            "public_key",
            "a Solana wallet key is a 32-byte Ed25519 key",
        )),
    }
}

fn check_format(payload: &Payload) -> Result<()> {
    if payload.format != FORMAT_MESSAGE {
        return Err(ChainError::unsupported(
            "format",
            format!(
                "solana payloads are {FORMAT_MESSAGE:?}, not {:?}",
                payload.format
            ),
        ));
    }
    Ok(())
}

/// The wire transaction: `compact-u16(1) || signature || message`.
fn assemble(signature: &[u8; 64], message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 64 + message.len());
    encode_compact_u16(&mut out, 1);
    out.extend_from_slice(signature);
    out.extend_from_slice(message);
    out
}

impl Solana {
    /// Parses and checks a payload: request, format, wire format, ownership, decoding.
    fn parse_checked(
        &self,
        network: &str,
        key: WalletKey<'_>,
        payload: &Payload,
    ) -> Result<(Pubkey, LegacyMessage, tessera_chain::Intent)> {
        check_request(self, network, key)?;
        check_format(payload)?;
        let wallet = wallet_key(key)?;
        let message = LegacyMessage::parse(&payload.bytes)?;
        let intent = decode::decode(network, &wallet, &message)?;
        Ok((wallet, message, intent))
    }
}

impl ChainAdapter for Solana {
    fn chain(&self) -> &'static str {
        CHAIN
    }

    fn networks(&self) -> &'static [&'static str] {
        NETWORKS
    }

    fn schemes(&self) -> &'static [SchemeId] {
        &[SchemeId::Ed25519]
    }

    fn formats(&self) -> &'static [&'static str] {
        &[FORMAT_MESSAGE]
    }

    fn payload_binds_network(&self, _format: &str) -> bool {
        false
    }

    fn address(&self, network: &str, key: WalletKey<'_>) -> Result<Address> {
        check_request(self, network, key)?;
        Ok(Address {
            address: b58(&wallet_key(key)?),
            kind: "ed25519".into(),
        })
    }

    fn build(
        &self,
        network: &str,
        key: WalletKey<'_>,
        spec: &serde_json::Value,
    ) -> Result<Payload> {
        check_request(self, network, key)?;
        let wallet = wallet_key(key)?;
        let payload = Payload {
            format: FORMAT_MESSAGE.into(),
            bytes: build::build(network, &wallet, spec)?,
        };
        // What we build, we parse back: the builder never hands out a payload `parse` refuses.
        self.parse_checked(network, key, &payload)?;
        Ok(payload)
    }

    fn parse(&self, network: &str, key: WalletKey<'_>, payload: &Payload) -> Result<Parsed> {
        let (_, _, intent) = self.parse_checked(network, key, payload)?;
        Ok(Parsed {
            intent,
            messages: vec![SignMessage::raw_bytes(payload.bytes.clone())],
        })
    }

    fn finalize(
        &self,
        network: &str,
        key: WalletKey<'_>,
        payload: &Payload,
        signatures: &[Signature],
    ) -> Result<SignedTransaction> {
        self.parse_checked(network, key, payload)?;
        let signature = match signatures {
            [Signature::Ed25519(s)] => s,
            [_] => {
                return Err(ChainError::Signatures(
                    "a Solana transaction takes an Ed25519 signature".into(),
                ))
            }
            _ => {
                return Err(ChainError::Signatures(format!(
                    "expected exactly 1 signature, got {}",
                    signatures.len()
                )))
            }
        };
        let bytes = assemble(signature, &payload.bytes);
        Ok(SignedTransaction {
            chain: CHAIN.into(),
            network: network.into(),
            format: FORMAT_TX.into(),
            txid: Some(bs58::encode(signature).into_string()),
            details: serde_json::json!({
                "signed_tx_base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
            }),
            bytes,
        })
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
        let (wallet, _, _) = self.parse_checked(network, key, payload)?;
        verify_signed(network, &wallet, &payload.bytes, signed).map_err(ChainError::Verification)
    }
}

/// The independent check of a signed transaction against the payload bytes.
fn verify_signed(
    network: &str,
    wallet: &Pubkey,
    payload: &[u8],
    signed: &SignedTransaction,
) -> std::result::Result<(), String> {
    if signed.chain != CHAIN || signed.network != network || signed.format != FORMAT_TX {
        return Err(format!(
            "expected a {CHAIN} {network} {FORMAT_TX}, got {} {} {}",
            signed.chain, signed.network, signed.format
        ));
    }
    // The Solana crates' decoding, with the RPC's limits: fixed-width integers, at most one
    // packet, no trailing bytes.
    let tx: solana_transaction::Transaction = bincode::options()
        .with_limit(PACKET_DATA_SIZE as u64)
        .with_fixint_encoding()
        .reject_trailing_bytes()
        .deserialize(&signed.bytes)
        .map_err(|e| format!("the Solana crates cannot decode the transaction: {e}"))?;
    let message = bincode::serialize(&tx.message)
        .map_err(|e| format!("the Solana crates cannot re-encode the message: {e}"))?;
    if message != payload {
        return Err("the signed transaction's message differs from the payload".into());
    }
    let required = usize::from(tx.message.header.num_required_signatures);
    if tx.signatures.len() != required {
        return Err(format!(
            "{} signatures for {required} required signers",
            tx.signatures.len()
        ));
    }
    let fee_payer = tx.message.account_keys.first().map(|k| k.to_bytes());
    if fee_payer.as_ref() != Some(wallet) {
        return Err("the fee payer is not this wallet".into());
    }
    if tx.signatures.len() > tx.message.account_keys.len() {
        return Err("more signatures than account keys".into());
    }
    for (i, (sig, signer)) in tx
        .signatures
        .iter()
        .zip(tx.message.account_keys.iter())
        .enumerate()
    {
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&signer.to_bytes())
            .map_err(|e| format!("signer {i} is not an Ed25519 public key: {e}"))?;
        let sig = ed25519_dalek::Signature::from_bytes(sig.as_array());
        vk.verify_strict(&message, &sig)
            .map_err(|e| format!("signature {i} does not verify (ed25519-dalek, strict): {e}"))?;
    }
    tx.verify()
        .map_err(|e| format!("the Solana crates reject the signatures: {e}"))?;

    // The bytes are exactly the canonical encoding, and the text fields agree with them.
    let first = tx
        .signatures
        .first()
        .ok_or_else(|| "no signature".to_string())?;
    if signed.bytes != assemble(first.as_array(), payload) {
        return Err("the transaction is not in canonical wire form".into());
    }
    let txid = bs58::encode(first.as_array()).into_string();
    if signed.txid.as_deref() != Some(txid.as_str()) {
        return Err(format!(
            "txid {:?} is not the signature {txid}",
            signed.txid
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&signed.bytes);
    if signed
        .details
        .get("signed_tx_base64")
        .and_then(|v| v.as_str())
        != Some(b64.as_str())
    {
        return Err("details.signed_tx_base64 does not match the transaction bytes".into());
    }
    Ok(())
}

//! Ethereum's off-chain message format for plain signing requests: EIP-191 version `0x45`
//! (`personal_sign`), `"\x19Ethereum Signed Message:\n" ‖ decimal length ‖ text`, hashed with
//! Keccak-256 by every signer.
//!
//! Why a signature over it is never a transaction signature: the preimage starts with `0x19`,
//! which EIP-2718 reserves so that no typed transaction (first byte `0x00..=0x7f`) and no legacy
//! RLP transaction (first byte `≥ 0xc0`) can begin with it; and EIP-712 typed data (`0x19 0x01`)
//! is refused here because it can authorize transfers (permits) and goes through the
//! `eip712` payload path, where the adapter decodes it.

use alloy_primitives::utils::eip191_message;
use tessera_chain::{ChainError, MessageHash, Result, SchemeId, SignMessage};

const PREFIX: &[u8] = b"\x19Ethereum Signed Message:\n";

/// Longest message length the decimal field may spell (the adapter's payload limit).
const MAX_DIGITS: usize = 7;

fn ecdsa(scheme: SchemeId) -> bool {
    matches!(scheme, SchemeId::EcdsaDkls23 | SchemeId::EcdsaCggmp24)
}

/// `text` as an EIP-191 personal message, for ECDSA wallets.
pub(crate) fn wrap(scheme: SchemeId, text: &[u8]) -> Result<SignMessage> {
    if !ecdsa(scheme) {
        return Err(ChainError::unsupported(
            "scheme",
            format!("{scheme} wallets do not sign Ethereum messages"),
        ));
    }
    if text.is_empty() {
        return Err(ChainError::malformed("message", "empty message"));
    }
    Ok(SignMessage::Preimage {
        hash: Some(MessageHash::Keccak256),
        bytes: eip191_message(text),
    })
}

/// The text of an EIP-191 personal message whose length field matches; `None` otherwise.
pub(crate) fn read(scheme: SchemeId, message: &SignMessage) -> Option<Vec<u8>> {
    let SignMessage::Preimage {
        hash: Some(MessageHash::Keccak256),
        bytes,
    } = message
    else {
        return None;
    };
    if !ecdsa(scheme) {
        return None;
    }
    let rest = bytes.strip_prefix(PREFIX)?;
    let digits = rest
        .iter()
        .take(MAX_DIGITS)
        .take_while(|b| b.is_ascii_digit())
        .count();
    // The text may itself start with digits: the length field is the split that matches.
    (1..=digits).find_map(|k| {
        if k > 1 && rest[0] == b'0' {
            return None;
        }
        let n: usize = std::str::from_utf8(&rest[..k]).ok()?.parse().ok()?;
        let text = &rest[k..];
        (n > 0 && text.len() == n).then(|| text.to_vec())
    })
}

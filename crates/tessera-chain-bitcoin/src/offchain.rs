//! Bitcoin's off-chain message format for plain signing requests: BIP-322's tagged message
//! hash, `SHA256(SHA256(tag) ‖ SHA256(tag) ‖ text)` with tag `BIP0322-signed-message`, which
//! every signer computes itself (a SHA-256 preimage that starts with the 64-byte tag prefix).
//! It is signed directly (ECDSA for the P2WPKH profiles, BIP-340 for Taproot): this is the
//! message hash BIP-322 defines, not a full BIP-322 proof (which signs a virtual transaction).
//!
//! Why a signature over it is never a transaction signature: every Bitcoin sighash is either
//! `SHA256(SHA256(preimage))` (legacy, BIP-143), whose outer input is 32 bytes while ours is at
//! least 65, or the `TapSighash` tagged hash, whose 64-byte prefix differs from ours; equal
//! digests would be a SHA-256 collision.

use bitcoin::hashes::{sha256, Hash};
use tessera_chain::{ChainError, MessageHash, Result, SchemeId, SignMessage};

/// BIP-322's tag.
pub(crate) const TAG: &[u8] = b"BIP0322-signed-message";

fn prefix() -> [u8; 64] {
    let tag = sha256::Hash::hash(TAG).to_byte_array();
    let mut p = [0u8; 64];
    p[..32].copy_from_slice(&tag);
    p[32..].copy_from_slice(&tag);
    p
}

/// `text` as a BIP-322 tagged message preimage, for the wallets Bitcoin accepts.
pub(crate) fn wrap(scheme: SchemeId, text: &[u8]) -> Result<SignMessage> {
    if !crate::SCHEMES.contains(&scheme) {
        return Err(ChainError::unsupported(
            "scheme",
            format!("{scheme} wallets do not sign Bitcoin messages"),
        ));
    }
    if text.is_empty() {
        return Err(ChainError::malformed("message", "empty message"));
    }
    let mut bytes = prefix().to_vec();
    bytes.extend_from_slice(text);
    Ok(SignMessage::Preimage {
        hash: Some(MessageHash::Sha256),
        bytes,
    })
}

/// The text of a BIP-322 tagged message preimage; `None` for anything else.
pub(crate) fn read(scheme: SchemeId, message: &SignMessage) -> Option<Vec<u8>> {
    let SignMessage::Preimage {
        hash: Some(MessageHash::Sha256),
        bytes,
    } = message
    else {
        return None;
    };
    let text = bytes.strip_prefix(&prefix()[..])?;
    (crate::SCHEMES.contains(&scheme) && !text.is_empty()).then(|| text.to_vec())
}

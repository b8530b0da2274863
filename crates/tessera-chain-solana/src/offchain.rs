//! Solana's off-chain message format for plain signing requests, version 0 as the Solana CLI
//! (`solana sign-offchain-message`) and SDK write it: the signing domain `"\xffsolana
//! offchain"`, the header version (0), the message format (0: printable ASCII up to 1,212
//! bytes; 1: UTF-8 up to 1,212 bytes; 2: UTF-8 up to 65,515 bytes), the length (u16, little
//! endian) and the text; the Ed25519 wallet signs these bytes.
//!
//! Why a signature over it is never a transaction signature: a transaction's signed message
//! starts with its header (a legacy message's required-signature count, or `0x80 | version`
//! for a versioned one); `0xff` would be version 127, which does not exist, and a legacy
//! message needing 255 signatures cannot fit a packet. The proposal chose `0xff` for this.

use tessera_chain::{ChainError, Result, SchemeId, SignMessage};

const SIGNING_DOMAIN: &[u8] = b"\xffsolana offchain";
const VERSION: u8 = 0;
/// Longest text of formats 0 and 1 (what hardware wallets show).
const MAX_LEN_LEDGER: usize = 1212;
/// Longest text of format 2.
const MAX_LEN: usize = 65515;

fn format_of(text: &[u8]) -> Result<u8> {
    let printable = text.iter().all(|b| (0x20..=0x7e).contains(b));
    let utf8 = std::str::from_utf8(text).is_ok();
    match text.len() {
        0 => Err(ChainError::malformed("message", "empty message")),
        n if n <= MAX_LEN_LEDGER && printable => Ok(0),
        n if n <= MAX_LEN_LEDGER && utf8 => Ok(1),
        n if n <= MAX_LEN && utf8 => Ok(2),
        n if n > MAX_LEN => Err(ChainError::malformed(
            "message",
            format!("{n} bytes; an off-chain message holds at most {MAX_LEN}"),
        )),
        _ => Err(ChainError::malformed(
            "message",
            "not UTF-8: Solana off-chain messages are text",
        )),
    }
}

/// `text` as a Solana off-chain message (version 0), for Ed25519 wallets.
pub(crate) fn wrap(scheme: SchemeId, text: &[u8]) -> Result<SignMessage> {
    if scheme != SchemeId::Ed25519 {
        return Err(ChainError::unsupported(
            "scheme",
            format!("{scheme} wallets do not sign Solana messages"),
        ));
    }
    let format = format_of(text)?;
    let len = u16::try_from(text.len())
        .map_err(|_| ChainError::malformed("message", "longer than 65,535 bytes"))?;
    let mut bytes = SIGNING_DOMAIN.to_vec();
    bytes.push(VERSION);
    bytes.push(format);
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(text);
    Ok(SignMessage::raw_bytes(bytes))
}

/// The text of a canonical version-0 off-chain message; `None` for anything else.
pub(crate) fn read(scheme: SchemeId, message: &SignMessage) -> Option<Vec<u8>> {
    let SignMessage::Preimage { hash: None, bytes } = message else {
        return None;
    };
    let text = bytes.strip_prefix(SIGNING_DOMAIN)?.get(4..)?;
    // Canonical: exactly what `wrap` writes for this text (version, format, length).
    match wrap(scheme, text) {
        Ok(again) if &again == message => Some(text.to_vec()),
        _ => None,
    }
}

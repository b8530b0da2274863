//! Wallet addresses and the independent signer recovery (libsecp256k1, not the k256 code that
//! alloy or the test signer use).

use alloy_primitives::{keccak256, Address, B256};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, Secp256k1};
use tessera_chain::{ChainError, PublicKey, Result, WalletKey};

/// The wallet key as a libsecp256k1 point.
pub(crate) fn wallet_point(key: WalletKey<'_>) -> Result<secp256k1::PublicKey> {
    match key.public_key {
        PublicKey::Secp256k1(bytes) => secp256k1::PublicKey::from_slice(bytes)
            .map_err(|e| ChainError::malformed("key.public_key", e)),
        PublicKey::Ed25519(_) => Err(ChainError::unsupported(
            "key.public_key",
            "an Ed25519 key cannot own an Ethereum account",
        )),
    }
}

/// `keccak256(uncompressed point without the 0x04 tag)[12..]`.
pub(crate) fn address_of(point: &secp256k1::PublicKey) -> Address {
    let uncompressed = point.serialize_uncompressed();
    let (_tag, xy) = uncompressed.split_at(1);
    Address::from_word(keccak256(xy))
}

/// The wallet's address.
pub(crate) fn wallet_address(key: WalletKey<'_>) -> Result<Address> {
    Ok(address_of(&wallet_point(key)?))
}

/// The EIP-55 text form used everywhere in intents.
pub(crate) fn checksummed(a: &Address) -> String {
    a.to_checksum(None)
}

/// Whether `(r, s)` is a well-formed signature with `s ≤ n/2` (EIP-2), decided by libsecp256k1.
pub(crate) fn is_low_s(r: &[u8; 32], s: &[u8; 32]) -> bool {
    let compact = compact(r, s);
    match secp256k1::ecdsa::Signature::from_compact(&compact) {
        Ok(sig) => {
            let mut normalized = sig;
            normalized.normalize_s();
            normalized == sig
        }
        Err(_) => false,
    }
}

fn compact(r: &[u8; 32], s: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    let (hi, lo) = out.split_at_mut(32);
    hi.copy_from_slice(r);
    lo.copy_from_slice(s);
    out
}

/// Recovers the signer of `digest` with libsecp256k1 and requires low-s. Errors are plain text
/// for [`ChainError::Verification`].
pub(crate) fn recover_signer(
    digest: &B256,
    r: &[u8; 32],
    s: &[u8; 32],
    y_parity: bool,
) -> std::result::Result<secp256k1::PublicKey, String> {
    if !is_low_s(r, s) {
        return Err("signature is not a low-s ECDSA signature (EIP-2)".into());
    }
    let recid = RecoveryId::from_i32(i32::from(y_parity)).map_err(|e| e.to_string())?;
    let sig = RecoverableSignature::from_compact(&compact(r, s), recid)
        .map_err(|e| format!("signature does not parse: {e}"))?;
    let secp = Secp256k1::verification_only();
    secp.recover_ecdsa(&Message::from_digest(digest.0), &sig)
        .map_err(|e| format!("no public key recovers from the signature: {e}"))
}

/// Recovers the signer and requires it to be the wallet (same point, same address).
pub(crate) fn check_signer(
    key: WalletKey<'_>,
    digest: &B256,
    r: &[u8; 32],
    s: &[u8; 32],
    y_parity: bool,
) -> Result<()> {
    let wallet = wallet_point(key)?;
    let recovered = recover_signer(digest, r, s, y_parity).map_err(ChainError::Verification)?;
    let (want, got) = (address_of(&wallet), address_of(&recovered));
    if recovered != wallet || want != got {
        return Err(ChainError::Verification(format!(
            "signed by {}, not by the wallet {}",
            checksummed(&got),
            checksummed(&want)
        )));
    }
    Ok(())
}

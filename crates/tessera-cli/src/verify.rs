//! Independent signature verification: libsecp256k1 (via the `secp256k1` crate) for ECDSA and
//! BIP-340, `ed25519-dalek` (strict) for Ed25519 — never the code that produced the signature.

use anyhow::{bail, Context, Result};
use tessera_crypto::{PublicKey, SchemeId, SignMessage, Signature};

/// Verifies `sig` over `message` under `public_key` (for Taproot: the internal key, tweaked
/// here per BIP-341 with no script tree).
pub fn verify(
    scheme: SchemeId,
    public_key: &PublicKey,
    message: &SignMessage,
    sig: &Signature,
) -> Result<()> {
    let secp = secp256k1::Secp256k1::verification_only();
    match (scheme, public_key, sig) {
        (
            SchemeId::EcdsaDkls23 | SchemeId::EcdsaCggmp24,
            PublicKey::Secp256k1(pk),
            Signature::Ecdsa { r, s, .. },
        ) => {
            let digest = message.digest32().context("digest")?;
            let pk = secp256k1::PublicKey::from_slice(pk)?;
            let mut rs = [0u8; 64];
            rs[..32].copy_from_slice(r);
            rs[32..].copy_from_slice(s);
            let sig = secp256k1::ecdsa::Signature::from_compact(&rs)?;
            let msg = secp256k1::Message::from_digest(digest);
            secp.verify_ecdsa(&msg, &sig, &pk)
                .context("libsecp256k1 rejected the ECDSA signature")?;
        }
        (SchemeId::SchnorrBip340, PublicKey::Secp256k1(pk), Signature::Bip340(b)) => {
            let digest = message.digest32().context("digest")?;
            let internal = secp256k1::PublicKey::from_slice(pk)?.x_only_public_key().0;
            // BIP-341 key-path tweak with no script tree: t = H_TapTweak(P).
            let tweak = tap_tweak(&internal.serialize());
            let tweak = secp256k1::Scalar::from_be_bytes(tweak)?;
            let (output, _) = internal.add_tweak(&secp, &tweak)?;
            let sig = secp256k1::schnorr::Signature::from_slice(b)?;
            let msg = secp256k1::Message::from_digest(digest);
            secp.verify_schnorr(&sig, &msg, &output).context(
                "libsecp256k1 rejected the BIP-340 signature under the Taproot output key",
            )?;
        }
        (SchemeId::Ed25519, PublicKey::Ed25519(pk), Signature::Ed25519(b)) => {
            let vk = ed25519_dalek::VerifyingKey::from_bytes(pk)?;
            let sig = ed25519_dalek::Signature::from_bytes(b);
            vk.verify_strict(&message.ed25519_bytes(), &sig)
                .context("ed25519-dalek rejected the signature")?;
        }
        _ => bail!("signature, key and scheme do not fit together"),
    }
    Ok(())
}

fn tap_tweak(x: &[u8; 32]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let tag = Sha256::digest(b"TapTweak");
    let mut h = Sha256::new();
    h.update(tag);
    h.update(tag);
    h.update(x);
    h.finalize().into()
}

//! The package a key import sends to the new holders: the importer's public Feldman
//! commitments and one share per holder, each sealed to that holder's X25519 key.
//!
//! Sealing is the envelope's construction (X25519 with a fresh ephemeral key, HKDF-SHA256,
//! ChaCha20-Poly1305 with the whole context as associated data) under its own domain, with a
//! context that binds the wallet, the request, the party index and the recipient: a share
//! handed to another party, another wallet or another request does not decrypt. The operator's
//! `Action::Import` binds [`ImportPackage::digest`], so nobody can swap a commitment or a
//! sealed share after the operator signed; each holder then checks its decrypted share
//! against the commitments (`tessera_crypto::reshare::import`).

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::Nonce;
use sha2::{Digest, Sha256};
use x25519_dalek::EphemeralSecret;
use zeroize::Zeroizing;

use crate::codec::{hexarr, hexvec, put_bytes};
use crate::envelope::seal_cipher;
use crate::identity::{IdentityKey, PublicIdentity};
use crate::{Result, WireError};

/// Domain at the start of every sealing context.
const SHARE_DOMAIN: &[u8] = b"tessera/import-share/v1";
/// Domain of [`ImportPackage::digest`].
const PACKAGE_DOMAIN: &[u8] = b"tessera/import-package/v1";
/// Most holders a package can address (`tessera_crypto::MAX_PARTIES` is far lower).
const MAX_SHARES: usize = 255;

/// One share sealed to one holder.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedShare {
    /// The sender's fresh X25519 public key.
    #[serde(with = "hexarr")]
    pub ephemeral: [u8; 32],
    /// ChaCha20-Poly1305 ciphertext of the 32-byte share and its tag.
    #[serde(with = "hexvec")]
    pub ciphertext: Vec<u8>,
}

/// What an import sends to every holder.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportPackage {
    /// Feldman commitments `C_0 … C_{t−1}` in the scheme curve's encoding (hex).
    pub commitments: Vec<HexBytes>,
    /// One sealed share per holder, in party-index order.
    pub shares: Vec<SealedShare>,
}

/// Bytes serialized as hex.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct HexBytes(#[serde(with = "hexvec")] pub Vec<u8>);

/// Where a sealed share belongs: the request and wallet it was dealt for and the party it is
/// addressed to.
#[derive(Clone, Copy, Debug)]
pub struct ShareAddress<'a> {
    /// Wallet id.
    pub wallet_id: &'a str,
    /// Request id of the operator's authorization.
    pub request_id: &'a str,
    /// Party index of the recipient.
    pub index: u16,
}

impl ImportPackage {
    /// Seals `shares[j]` to `recipients[j]` for every holder `j`.
    pub fn seal(
        wallet_id: &str,
        request_id: &str,
        recipients: &[PublicIdentity],
        commitments: Vec<Vec<u8>>,
        shares: &[Zeroizing<[u8; 32]>],
        rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng),
    ) -> Result<ImportPackage> {
        if recipients.len() != shares.len() || shares.len() > MAX_SHARES {
            return Err(WireError::Malformed(
                "one share per recipient, at most 255".into(),
            ));
        }
        let sealed = (0u16..)
            .zip(recipients.iter().zip(shares))
            .map(|(index, (to, share))| {
                let at = ShareAddress {
                    wallet_id,
                    request_id,
                    index,
                };
                seal_share(&at, to, share, rng)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ImportPackage {
            commitments: commitments.into_iter().map(HexBytes).collect(),
            shares: sealed,
        })
    }

    /// The commitments as byte vectors.
    pub fn commitment_bytes(&self) -> Vec<Vec<u8>> {
        self.commitments.iter().map(|c| c.0.clone()).collect()
    }

    /// SHA-256 over a domain, the commitments and every sealed share, each length-prefixed:
    /// what `Action::Import::package` binds.
    pub fn digest(&self) -> [u8; 32] {
        let mut out = Vec::new();
        out.extend_from_slice(PACKAGE_DOMAIN);
        out.extend_from_slice(&(self.commitments.len() as u64).to_be_bytes());
        for c in &self.commitments {
            put_bytes(&mut out, &c.0);
        }
        out.extend_from_slice(&(self.shares.len() as u64).to_be_bytes());
        for s in &self.shares {
            out.extend_from_slice(&s.ephemeral);
            put_bytes(&mut out, &s.ciphertext);
        }
        Sha256::digest(&out).into()
    }

    /// Opens the share addressed to `me` at `at`.
    pub fn open(&self, me: &IdentityKey, at: &ShareAddress<'_>) -> Result<Zeroizing<[u8; 32]>> {
        let sealed = self
            .shares
            .get(usize::from(at.index))
            .ok_or_else(|| WireError::Malformed("no share for this party".into()))?;
        let shared = me
            .kx_secret()
            .diffie_hellman(&x25519_dalek::PublicKey::from(sealed.ephemeral));
        if !shared.was_contributory() {
            return Err(WireError::DecryptFailed);
        }
        let ctx = context(at, &me.public(), &sealed.ephemeral);
        let plain = Zeroizing::new(
            seal_cipher(shared.as_bytes(), &ctx)?
                .decrypt(
                    &Nonce::default(),
                    Payload {
                        msg: &sealed.ciphertext,
                        aad: &ctx,
                    },
                )
                .map_err(|_| WireError::DecryptFailed)?,
        );
        let mut out = Zeroizing::new([0u8; 32]);
        if plain.len() != out.len() {
            return Err(WireError::Malformed("a share is 32 bytes".into()));
        }
        out.copy_from_slice(&plain);
        Ok(out)
    }
}

fn seal_share(
    at: &ShareAddress<'_>,
    to: &PublicIdentity,
    share: &[u8; 32],
    rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng),
) -> Result<SealedShare> {
    let eph = EphemeralSecret::random_from_rng(&mut *rng);
    let ephemeral = x25519_dalek::PublicKey::from(&eph).to_bytes();
    let shared = eph.diffie_hellman(&x25519_dalek::PublicKey::from(to.kx));
    if !shared.was_contributory() {
        return Err(WireError::InvalidKey(
            "recipient key-exchange key is a low-order point".into(),
        ));
    }
    let ctx = context(at, to, &ephemeral);
    // Every key encrypts exactly one message (fresh ephemeral), so a zero nonce is safe.
    let ciphertext = seal_cipher(shared.as_bytes(), &ctx)?
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: share,
                aad: &ctx,
            },
        )
        .map_err(|_| WireError::Malformed("encryption failed".into()))?;
    Ok(SealedShare {
        ephemeral,
        ciphertext,
    })
}

/// domain ‖ str(wallet) ‖ str(request) ‖ u16(index) ‖ recipient sign ‖ recipient kx ‖ ephemeral.
fn context(at: &ShareAddress<'_>, to: &PublicIdentity, ephemeral: &[u8; 32]) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(256);
    ctx.extend_from_slice(SHARE_DOMAIN);
    put_bytes(&mut ctx, at.wallet_id.as_bytes());
    put_bytes(&mut ctx, at.request_id.as_bytes());
    ctx.extend_from_slice(&at.index.to_be_bytes());
    ctx.extend_from_slice(&to.sign);
    ctx.extend_from_slice(&to.kx);
    ctx.extend_from_slice(ephemeral);
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(ids: &[IdentityKey]) -> (ImportPackage, Vec<Zeroizing<[u8; 32]>>) {
        let shares: Vec<_> = (1..=ids.len() as u8)
            .map(|i| Zeroizing::new([i; 32]))
            .collect();
        let to: Vec<_> = ids.iter().map(IdentityKey::public).collect();
        let p = ImportPackage::seal(
            "w",
            "req-1",
            &to,
            vec![vec![2; 33]],
            &shares,
            &mut rand_core::OsRng,
        )
        .unwrap();
        (p, shares)
    }

    fn at(index: u16) -> ShareAddress<'static> {
        ShareAddress {
            wallet_id: "w",
            request_id: "req-1",
            index,
        }
    }

    #[test]
    fn each_holder_opens_its_own_share_and_no_other() {
        let ids: Vec<_> = (0..3)
            .map(|_| IdentityKey::generate(&mut rand_core::OsRng))
            .collect();
        let (p, shares) = package(&ids);
        for (j, id) in ids.iter().enumerate() {
            assert_eq!(*p.open(id, &at(j as u16)).unwrap(), *shares[j]);
        }
        // Holder 1's share, opened by holder 0 or under holder 0's index, does not decrypt.
        assert!(matches!(
            p.open(&ids[0], &at(1)),
            Err(WireError::DecryptFailed)
        ));
        let mut swapped = p.clone();
        swapped.shares.swap(0, 1);
        assert!(matches!(
            swapped.open(&ids[0], &at(0)),
            Err(WireError::DecryptFailed)
        ));
        // Another wallet or request: the context differs.
        let other = ShareAddress {
            wallet_id: "x",
            ..at(0)
        };
        assert!(matches!(
            p.open(&ids[0], &other),
            Err(WireError::DecryptFailed)
        ));
        let other = ShareAddress {
            request_id: "req-2",
            ..at(0)
        };
        assert!(matches!(
            p.open(&ids[0], &other),
            Err(WireError::DecryptFailed)
        ));
        assert!(p.open(&ids[0], &at(7)).is_err());
    }

    #[test]
    fn the_digest_covers_every_commitment_and_sealed_share() {
        let ids: Vec<_> = (0..2)
            .map(|_| IdentityKey::generate(&mut rand_core::OsRng))
            .collect();
        let (p, _) = package(&ids);
        let d = p.digest();
        let mut q = p.clone();
        q.commitments[0].0[5] ^= 1;
        assert_ne!(q.digest(), d);
        let mut q = p.clone();
        q.shares[1].ciphertext[0] ^= 1;
        assert_ne!(q.digest(), d);
        let mut q = p.clone();
        q.shares.swap(0, 1);
        assert_ne!(q.digest(), d);
        let json = serde_json::to_string(&p).unwrap();
        let back: ImportPackage = serde_json::from_str(&json).unwrap();
        assert_eq!(back.digest(), d);
    }
}

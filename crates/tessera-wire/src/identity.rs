//! Node identities: an Ed25519 signing key (who you are) and an X25519 static key (how peers
//! encrypt to you).

use std::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::codec::{hex_newtype, hexarr};
use crate::{Result, WireError};

/// Magic of a serialized [`IdentityKey`].
const IDENTITY_MAGIC: &[u8; 4] = b"TSID";
/// Format version of a serialized [`IdentityKey`].
const IDENTITY_VERSION: u8 = 1;
/// Length of a serialized [`IdentityKey`]: magic, version, Ed25519 seed, X25519 secret.
const IDENTITY_LEN: usize = 4 + 1 + 32 + 32;

/// Prefix of every message signed by [`IdentityKey::sign`], before the length-prefixed domain.
const SIG_PREFIX: &[u8] = b"tessera/identity-sig/v1";
/// Domain of the self-signature binding the X25519 key to the Ed25519 key.
const BIND_KX_DOMAIN: &str = "tessera/identity/bind-kx/v1";

/// A node's id: its Ed25519 verifying key bytes.
///
/// `Display` and serde use the full lowercase hex; `Debug` shows only the first 8 hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub [u8; 32]);

hex_newtype!(NodeId, "node id");

impl NodeId {
    /// Verifies a signature made by this node's [`IdentityKey::sign`] under `domain`
    /// (`verify_strict`), for callers that know a node only by its id.
    pub fn verify(&self, domain: &str, msg: &[u8], sig: &[u8; 64]) -> Result<()> {
        let vk = VerifyingKey::from_bytes(&self.0)
            .map_err(|_| WireError::InvalidKey("node id is not a valid point".into()))?;
        vk.verify_strict(
            &domain_message(domain, msg),
            &ed25519_dalek::Signature::from_bytes(sig),
        )
        .map_err(|_| WireError::BadSignature)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", &hex::encode(&self.0[..4]))
    }
}

/// A node's secret identity: Ed25519 signing key and X25519 static secret.
///
/// Both halves are wiped on drop (the dalek types zeroize themselves). Not `Clone`; `Debug`
/// prints `[REDACTED]`.
pub struct IdentityKey {
    sign: SigningKey,
    kx: StaticSecret,
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityKey([REDACTED])")
    }
}

impl IdentityKey {
    /// A fresh identity from `rng`.
    pub fn generate(rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng)) -> Self {
        let sign = SigningKey::generate(rng);
        let kx = StaticSecret::random_from_rng(&mut *rng);
        IdentityKey { sign, kx }
    }

    /// Serialized secret: `"TSID" || version (1) || Ed25519 seed (32) || X25519 secret (32)`.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(IDENTITY_LEN));
        out.extend_from_slice(IDENTITY_MAGIC);
        out.push(IDENTITY_VERSION);
        out.extend_from_slice(self.sign.as_bytes());
        out.extend_from_slice(self.kx.as_bytes());
        out
    }

    /// Inverse of [`to_bytes`](Self::to_bytes).
    ///
    /// Errors: [`WireError::InvalidKey`] for a wrong magic or length,
    /// [`WireError::UnsupportedVersion`] for an unknown version.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        if b.len() < 5 || &b[..4] != IDENTITY_MAGIC {
            return Err(WireError::InvalidKey("not a tessera identity key".into()));
        }
        if b[4] != IDENTITY_VERSION {
            return Err(WireError::UnsupportedVersion(b[4]));
        }
        if b.len() != IDENTITY_LEN {
            return Err(WireError::InvalidKey(format!(
                "identity key must be {IDENTITY_LEN} bytes, got {}",
                b.len()
            )));
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&b[5..37]);
        let mut kx = Zeroizing::new([0u8; 32]);
        kx.copy_from_slice(&b[37..69]);
        Ok(IdentityKey {
            sign: SigningKey::from_bytes(&seed),
            kx: StaticSecret::from(*kx),
        })
    }

    /// The public half.
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            sign: self.sign.verifying_key().to_bytes(),
            kx: x25519_dalek::PublicKey::from(&self.kx).to_bytes(),
        }
    }

    /// This node's id (its Ed25519 verifying key).
    pub fn node_id(&self) -> NodeId {
        NodeId(self.sign.verifying_key().to_bytes())
    }

    /// Domain-separated Ed25519 signature: signs
    /// `"tessera/identity-sig/v1" || u32-BE len(domain) || domain || msg`.
    pub fn sign(&self, domain: &str, msg: &[u8]) -> [u8; 64] {
        self.sign.sign(&domain_message(domain, msg)).to_bytes()
    }

    /// The public identity with a self-signature binding the X25519 key to the node id.
    ///
    /// Publish this (not a bare [`PublicIdentity`]) wherever a relay could substitute the
    /// key-exchange key: whoever learns a node's X25519 key from an untrusted party must check
    /// [`SignedIdentity::verify`] against the [`NodeId`] it trusts.
    pub fn signed_identity(&self) -> SignedIdentity {
        let identity = self.public();
        SignedIdentity {
            identity,
            proof: self.sign(BIND_KX_DOMAIN, &bind_kx_message(&identity)),
        }
    }

    /// The X25519 static secret, for the opener.
    pub(crate) fn kx_secret(&self) -> &StaticSecret {
        &self.kx
    }
}

fn domain_message(domain: &str, msg: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIG_PREFIX.len() + 4 + domain.len() + msg.len());
    m.extend_from_slice(SIG_PREFIX);
    // Domains are short literals; saturate rather than panic on an absurd one.
    let len = u32::try_from(domain.len()).unwrap_or(u32::MAX);
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(domain.as_bytes());
    m.extend_from_slice(msg);
    m
}

fn bind_kx_message(id: &PublicIdentity) -> [u8; 64] {
    let mut m = [0u8; 64];
    m[..32].copy_from_slice(&id.sign);
    m[32..].copy_from_slice(&id.kx);
    m
}

/// A node's public identity: Ed25519 verifying key and X25519 public key (hex in serde).
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct PublicIdentity {
    /// Ed25519 verifying key; equals the [`NodeId`].
    #[serde(with = "hexarr")]
    pub sign: [u8; 32],
    /// X25519 public key peers encrypt to.
    #[serde(with = "hexarr")]
    pub kx: [u8; 32],
}

impl PublicIdentity {
    /// The node id (the Ed25519 verifying key).
    pub fn node_id(&self) -> NodeId {
        NodeId(self.sign)
    }

    /// Verifies a signature made by [`IdentityKey::sign`] under `domain` (`verify_strict`: no
    /// weak keys, no malleable signatures).
    pub fn verify(&self, domain: &str, msg: &[u8], sig: &[u8; 64]) -> Result<()> {
        let vk = self.verifying_key()?;
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        vk.verify_strict(&domain_message(domain, msg), &sig)
            .map_err(|_| WireError::BadSignature)
    }

    pub(crate) fn verifying_key(&self) -> Result<VerifyingKey> {
        VerifyingKey::from_bytes(&self.sign)
            .map_err(|_| WireError::InvalidKey("identity signing key is not a valid point".into()))
    }
}

/// A [`PublicIdentity`] with a self-signature binding its X25519 key to its Ed25519 key.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct SignedIdentity {
    /// The identity.
    pub identity: PublicIdentity,
    /// Signature by `identity.sign` over `sign || kx` under domain
    /// `"tessera/identity/bind-kx/v1"`.
    #[serde(with = "hexarr")]
    pub proof: [u8; 64],
}

impl SignedIdentity {
    /// Checks the self-signature and returns the identity.
    pub fn verify(&self) -> Result<PublicIdentity> {
        self.identity.verify(
            BIND_KX_DOMAIN,
            &bind_kx_message(&self.identity),
            &self.proof,
        )?;
        Ok(self.identity)
    }
}

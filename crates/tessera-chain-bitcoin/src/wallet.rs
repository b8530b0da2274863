//! The wallet key as Bitcoin sees it: its script, address and spend type.

use bitcoin::secp256k1::{PublicKey as SecpPublicKey, Secp256k1, XOnlyPublicKey};
use bitcoin::{Address, CompressedPublicKey, Network, Script, ScriptBuf};
use tessera_chain::{ChainError, PublicKey, Result, SchemeId, WalletKey};

/// The output type a wallet owns and spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Native SegWit v0, pay to the compressed key's hash (ECDSA wallets).
    P2wpkh,
    /// SegWit v1, Taproot key path, no script tree (BIP-340 wallets).
    P2tr,
}

impl Kind {
    /// `p2wpkh` / `p2tr`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::P2wpkh => "p2wpkh",
            Kind::P2tr => "p2tr",
        }
    }

    /// Whether `script` is of this type (whoever owns it).
    pub(crate) fn is_type_of(self, script: &Script) -> bool {
        match self {
            Kind::P2wpkh => script.is_p2wpkh(),
            Kind::P2tr => script.is_p2tr(),
        }
    }
}

/// The wallet key on one network.
#[derive(Debug, Clone)]
pub(crate) struct Wallet {
    /// Spend type, from the scheme.
    pub(crate) kind: Kind,
    /// The full (compressed) public key: the P2WPKH key, or the Taproot internal key.
    pub(crate) pubkey: SecpPublicKey,
    /// BIP-340 x-only form of `pubkey` (the Taproot internal key).
    pub(crate) internal: XOnlyPublicKey,
    /// The wallet's output script.
    pub(crate) script: ScriptBuf,
    /// The wallet's address on the requested network.
    pub(crate) address: Address,
}

impl Wallet {
    pub(crate) fn new(network: Network, key: WalletKey<'_>) -> Result<Self> {
        let kind = match key.scheme {
            SchemeId::EcdsaDkls23 | SchemeId::EcdsaCggmp24 => Kind::P2wpkh,
            SchemeId::SchnorrBip340 => Kind::P2tr,
            other => {
                return Err(ChainError::unsupported(
                    "scheme",
                    format!("{other} wallets cannot sign for bitcoin"),
                ))
            }
        };
        let bytes = match key.public_key {
            PublicKey::Secp256k1(b) => b,
            PublicKey::Ed25519(_) => {
                return Err(ChainError::malformed(
                    "public_key",
                    format!("a {} wallet has a secp256k1 key", key.scheme),
                ))
            }
        };
        let pubkey =
            SecpPublicKey::from_slice(bytes).map_err(|e| ChainError::malformed("public_key", e))?;
        let (internal, _parity) = pubkey.x_only_public_key();
        let (script, address) = match kind {
            Kind::P2wpkh => {
                let key = CompressedPublicKey(pubkey);
                (
                    ScriptBuf::new_p2wpkh(&key.wpubkey_hash()),
                    Address::p2wpkh(&key, network),
                )
            }
            Kind::P2tr => {
                let secp = Secp256k1::verification_only();
                (
                    ScriptBuf::new_p2tr(&secp, internal, None),
                    Address::p2tr(&secp, internal, None, network),
                )
            }
        };
        Ok(Wallet {
            kind,
            pubkey,
            internal,
            script,
            address,
        })
    }
}

/// A short name for an output script's type, for error messages.
pub(crate) fn describe_script(script: &Script) -> &'static str {
    if script.is_p2pkh() {
        "P2PKH"
    } else if script.is_p2sh() {
        "P2SH"
    } else if script.is_p2wpkh() {
        "P2WPKH"
    } else if script.is_p2wsh() {
        "P2WSH"
    } else if script.is_p2tr() {
        "P2TR"
    } else if script.is_p2pk() {
        "P2PK"
    } else if script.is_op_return() {
        "OP_RETURN"
    } else if script.is_witness_program() {
        "a witness program of an unassigned version"
    } else {
        "a non-standard script"
    }
}

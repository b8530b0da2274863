//! Key text → scalar and chain code, for `tessera import`: an operator's existing
//! single-signature private key, written in one of the usual formats, becomes the secret that
//! the import deals into a threshold wallet with the same addresses.
//!
//! Pure parsing: no network, no files, no randomness. Everything secret that passes through
//! here (decoded bytes, BIP-39 seeds, HMAC outputs, expanded Ed25519 keys) is held in
//! [`Zeroizing`] wrappers and wiped when dropped; errors ([`ImportKeyError`]) never carry any
//! part of the key text, only lengths, positions and fixed reasons.
//!
//! # Formats
//!
//! | curve | format | input | chain code |
//! | --- | --- | --- | --- |
//! | secp256k1 | `hex` | 64 hex digits (optional `0x`), the big-endian scalar | derived |
//! | secp256k1 | `wif` | Wallet Import Format, any network, compressed keys only | derived |
//! | secp256k1 | `xprv` | BIP-32 `xprv…`/`tprv…`, optionally derived along a path | the xprv's (`"xprv"`) |
//! | secp256k1 | `mnemonic` | BIP-39 English words (+ passphrase) → BIP-32 master → path (default `m`) | `"bip32"` |
//! | Ed25519 | `hex` | 64 hex digits, the 32-byte RFC 8032 seed | derived |
//! | Ed25519 | `solana-keypair` | Solana CLI's JSON array of 64 bytes (seed ‖ public key) | derived |
//! | Ed25519 | `mnemonic` | BIP-39 words (+ passphrase) → SLIP-0010 along a hardened path (default `m/44'/501'/0'/0'`) | `"slip10"` |
//!
//! An uncompressed WIF is refused: Tessera wallets use compressed public keys, so the legacy
//! P2PKH addresses of an uncompressed key could not be kept.
//!
//! # The derived chain code
//!
//! A key imported without a chain code of its own (hex, WIF, Solana keypair) gets one derived
//! from its public key: `SHA-256("tessera/import/chain-code/v1" ‖ public key bytes)`, where the
//! public key is the 33-byte SEC1 compressed point (secp256k1) or the 32-byte compressed
//! Edwards point (Ed25519). Re-importing the same key therefore gives the same chain code and
//! so the same derived (non-hardened) addresses. Such a chain code is public information.
//!
//! # Ed25519 secrets
//!
//! For Ed25519 the imported secret is the RFC 8032 signing *scalar*
//! (`SHA-512(seed)[..32]`, clamped, reduced mod ℓ), not the seed: a threshold scheme shares
//! the scalar, and every signature made with it verifies under the original public key.
//!
//! # Limits of zeroization
//!
//! The dependencies keep some short-lived copies this module cannot wipe: `bitcoin`'s WIF and
//! base58 decoders, `bip39`'s word/entropy arrays and PBKDF2 state, and `secp256k1::SecretKey`
//! values (which we erase with `non_secure_erase` where we hold them).

use std::fmt;
use std::str::FromStr;

use bitcoin::bip32::{ChildNumber, DerivationPath, Xpriv};
use bitcoin::secp256k1::{self, Secp256k1};
use curve25519_dalek::edwards::EdwardsPoint;
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use zeroize::{Zeroize, Zeroizing};

/// Domain separator of the chain code derived from a public key (see the module docs).
pub const DERIVED_CHAIN_CODE_DOMAIN: &[u8] = b"tessera/import/chain-code/v1";

/// The SLIP-0010 path used for Ed25519 mnemonics when none is given: Solana account 0 as
/// Phantom and Solflare derive it.
pub const DEFAULT_ED25519_PATH: &str = "m/44'/501'/0'/0'";

/// The BIP-32 path used for secp256k1 mnemonics when none is given: the master key itself.
pub const DEFAULT_SECP256K1_PATH: &str = "m";

/// `chain_code_source` of a key whose chain code was derived from its public key.
pub const DERIVED_SOURCE: &str = "derived from the public key";

/// Curve of the target scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCurve {
    /// secp256k1 (Bitcoin, Ethereum, …).
    Secp256k1,
    /// Ed25519 (Solana, …).
    Ed25519,
}

impl fmt::Display for KeyCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyCurve::Secp256k1 => "secp256k1",
            KeyCurve::Ed25519 => "ed25519",
        })
    }
}

/// How the key text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyFormat {
    /// 64 hex digits: a secp256k1 scalar (big-endian) or an Ed25519 seed.
    Hex,
    /// Wallet Import Format (secp256k1, compressed keys only).
    Wif,
    /// BIP-32 extended private key, xprv… or tprv… (secp256k1).
    Xprv,
    /// BIP-39 English mnemonic: BIP-32 (secp256k1) or SLIP-0010 (Ed25519).
    Mnemonic,
    /// Solana CLI keypair file contents: a JSON array of 64 bytes (Ed25519).
    SolanaKeypair,
}

impl fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyFormat::Hex => "hex",
            KeyFormat::Wif => "wif",
            KeyFormat::Xprv => "xprv",
            KeyFormat::Mnemonic => "mnemonic",
            KeyFormat::SolanaKeypair => "solana-keypair",
        })
    }
}

/// A parsed key. Secret material zeroizes on drop; `Debug` redacts `secret` (and the chain
/// code, which with the public key and any non-hardened child key reveals the parent key).
pub struct ImportedKey {
    /// The curve the key is on.
    pub curve: KeyCurve,
    /// secp256k1: the private scalar, 32 bytes big-endian, nonzero, < n.
    /// Ed25519: the RFC 8032 signing scalar (SHA-512 of the 32-byte seed, first half,
    /// clamped), reduced mod ℓ, 32 bytes canonical little-endian.
    pub secret: Zeroizing<[u8; 32]>,
    /// secp256k1: 33-byte SEC1 compressed public key. Ed25519: 32-byte compressed Edwards
    /// point.
    pub public_key: Vec<u8>,
    /// The chain code for non-hardened derivation under the imported key.
    pub chain_code: [u8; 32],
    /// Where the chain code came from, for the operator: "xprv", "bip32", "slip10", or
    /// "derived from the public key".
    pub chain_code_source: &'static str,
}

impl fmt::Debug for ImportedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportedKey")
            .field("curve", &self.curve)
            .field("secret", &"<redacted>")
            .field("public_key", &hex::encode(&self.public_key))
            .field("chain_code", &"<redacted>")
            .field("chain_code_source", &self.chain_code_source)
            .finish()
    }
}

/// Why key text could not be imported. No message contains any part of the key.
#[derive(Debug, thiserror::Error)]
pub enum ImportKeyError {
    /// The format does not exist for the curve (WIF/xprv for Ed25519, a Solana keypair for
    /// secp256k1).
    #[error("{format} keys cannot be imported for {curve}")]
    FormatNotValidForCurve {
        /// The format asked for.
        format: KeyFormat,
        /// The target curve.
        curve: KeyCurve,
    },
    /// A passphrase or a derivation path was given for a format where it means nothing.
    #[error("a {argument} has no meaning for {format} keys; leave it out")]
    ArgumentNotApplicable {
        /// "passphrase" or "derivation path".
        argument: &'static str,
        /// The format it was given with.
        format: KeyFormat,
    },
    /// Hex key text has the wrong number of digits.
    #[error("the key has {got} hex digits; expected {expected}")]
    WrongLength {
        /// Digits expected.
        expected: usize,
        /// Digits found (after trimming whitespace and a `0x` prefix).
        got: usize,
    },
    /// Hex key text contains a character that is not a hex digit.
    #[error("the key is not valid hexadecimal")]
    BadHex,
    /// A secp256k1 private key that is zero or not below the group order n.
    #[error("the private key is zero or not below the secp256k1 group order")]
    ScalarOutOfRange,
    /// A WIF key whose base58check checksum does not match (usually a typo).
    #[error("the WIF key's checksum does not match (check for a typo)")]
    WifChecksum,
    /// A WIF key that is not a well-formed base58check private key.
    #[error("the WIF key is malformed: {reason}")]
    WifEncoding {
        /// What is wrong, in fixed words.
        reason: &'static str,
    },
    /// An uncompressed-public-key WIF, refused.
    #[error(
        "the WIF key is for an uncompressed public key; Tessera wallets use compressed keys, \
         so its legacy P2PKH addresses could not be kept (refusing to import)"
    )]
    UncompressedWif,
    /// Text that is not a valid BIP-32 extended private key.
    #[error("not a valid extended private key (xprv/tprv): {reason}")]
    BadXprv {
        /// What is wrong, in fixed words.
        reason: &'static str,
    },
    /// A mnemonic with a word count BIP-39 does not allow.
    #[error("the mnemonic has {words} words; BIP-39 mnemonics have 12, 15, 18, 21 or 24")]
    MnemonicWordCount {
        /// Words found.
        words: usize,
    },
    /// A mnemonic word that is not in the BIP-39 English list.
    #[error("word {position} of the mnemonic is not in the BIP-39 English word list")]
    MnemonicUnknownWord {
        /// 1-based position of the word.
        position: usize,
    },
    /// A mnemonic whose BIP-39 checksum does not match.
    #[error("the mnemonic's checksum does not match (a word is wrong or out of order)")]
    MnemonicChecksum,
    /// A derivation path that does not parse.
    #[error("bad derivation path: {reason}")]
    BadDerivationPath {
        /// What is wrong, in fixed words.
        reason: &'static str,
    },
    /// A non-hardened step in a SLIP-0010 Ed25519 path.
    #[error(
        "step {position} of the derivation path is not hardened; SLIP-0010 Ed25519 derivation \
         supports hardened steps only (write 0' or 0h)"
    )]
    NonHardenedPath {
        /// 1-based position of the step.
        position: usize,
    },
    /// Text that is not a Solana CLI keypair (a JSON array of 64 integers 0–255).
    #[error("not a Solana keypair file: {reason}")]
    SolanaKeypairMalformed {
        /// What is wrong, in fixed words.
        reason: &'static str,
    },
    /// A Solana keypair whose public half is not the public key of its seed half.
    #[error("the Solana keypair's public key does not match its secret seed (corrupt file?)")]
    SolanaKeypairMismatch,
    /// The Ed25519 scalar times the base point is not the public key (internal check).
    #[error("internal check failed: the Ed25519 scalar does not give the public key")]
    Ed25519ScalarMismatch,
}

/// Parses `text`, a private key for `curve` written in `format`, into its scalar, public key
/// and chain code.
///
/// `passphrase` is the BIP-39 passphrase and `path` the derivation path; both only apply to
/// mnemonics (and `path` to xprv keys too), and giving them with any other format is an error
/// rather than being silently ignored.
pub fn parse_key(
    curve: KeyCurve,
    format: KeyFormat,
    text: &str,
    passphrase: Option<&str>,
    path: Option<&str>,
) -> Result<ImportedKey, ImportKeyError> {
    check_arguments(format, passphrase, path)?;
    match (curve, format) {
        (KeyCurve::Secp256k1, KeyFormat::Hex) => secp_from_hex(text),
        (KeyCurve::Secp256k1, KeyFormat::Wif) => secp_from_wif(text),
        (KeyCurve::Secp256k1, KeyFormat::Xprv) => secp_from_xprv(text, path),
        (KeyCurve::Secp256k1, KeyFormat::Mnemonic) => secp_from_mnemonic(text, passphrase, path),
        (KeyCurve::Ed25519, KeyFormat::Hex) => {
            let seed = decode_hex32(text)?;
            ed25519_from_seed(&seed, None)
        }
        (KeyCurve::Ed25519, KeyFormat::SolanaKeypair) => ed25519_from_solana_keypair(text),
        (KeyCurve::Ed25519, KeyFormat::Mnemonic) => ed25519_from_mnemonic(text, passphrase, path),
        (KeyCurve::Secp256k1, KeyFormat::SolanaKeypair)
        | (KeyCurve::Ed25519, KeyFormat::Wif | KeyFormat::Xprv) => {
            Err(ImportKeyError::FormatNotValidForCurve { format, curve })
        }
    }
}

/// Refuses a passphrase or path given with a format that has no use for it.
fn check_arguments(
    format: KeyFormat,
    passphrase: Option<&str>,
    path: Option<&str>,
) -> Result<(), ImportKeyError> {
    let (takes_passphrase, takes_path) = match format {
        KeyFormat::Mnemonic => (true, true),
        KeyFormat::Xprv => (false, true),
        KeyFormat::Hex | KeyFormat::Wif | KeyFormat::SolanaKeypair => (false, false),
    };
    if passphrase.is_some() && !takes_passphrase {
        return Err(ImportKeyError::ArgumentNotApplicable {
            argument: "passphrase",
            format,
        });
    }
    if path.is_some() && !takes_path {
        return Err(ImportKeyError::ArgumentNotApplicable {
            argument: "derivation path",
            format,
        });
    }
    Ok(())
}

/// 64 hex digits (surrounding whitespace and an optional `0x` trimmed) → 32 bytes.
fn decode_hex32(text: &str) -> Result<Zeroizing<[u8; 32]>, ImportKeyError> {
    let trimmed = text.trim();
    let digits = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    if digits.len() != 64 {
        return Err(ImportKeyError::WrongLength {
            expected: 64,
            got: digits.chars().count(),
        });
    }
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(digits, &mut out[..]).map_err(|_| ImportKeyError::BadHex)?;
    Ok(out)
}

/// SHA-256 of the domain separator and the public key: the chain code of a key without one.
fn derived_chain_code(public_key: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(DERIVED_CHAIN_CODE_DOMAIN)
        .chain_update(public_key)
        .finalize()
        .into()
}

/// Builds the import of a secp256k1 key; `chain` is its own chain code and source, if any.
/// Erases `secret_key` (a copy the caller no longer needs).
fn secp_import(
    mut secret_key: secp256k1::SecretKey,
    chain: Option<(Zeroizing<[u8; 32]>, &'static str)>,
) -> ImportedKey {
    let secp = Secp256k1::signing_only();
    let public_key = secp256k1::PublicKey::from_secret_key(&secp, &secret_key)
        .serialize()
        .to_vec();
    let secret = Zeroizing::new(secret_key.secret_bytes());
    secret_key.non_secure_erase();
    let (chain_code, chain_code_source) = match chain {
        Some((code, source)) => (*code, source),
        None => (derived_chain_code(&public_key), DERIVED_SOURCE),
    };
    ImportedKey {
        curve: KeyCurve::Secp256k1,
        secret,
        public_key,
        chain_code,
        chain_code_source,
    }
}

/// secp256k1 `hex`: the big-endian scalar.
fn secp_from_hex(text: &str) -> Result<ImportedKey, ImportKeyError> {
    let bytes = decode_hex32(text)?;
    let secret_key = secp256k1::SecretKey::from_slice(&bytes[..])
        .map_err(|_| ImportKeyError::ScalarOutOfRange)?;
    Ok(secp_import(secret_key, None))
}

/// secp256k1 `wif`: any network, compressed only.
fn secp_from_wif(text: &str) -> Result<ImportedKey, ImportKeyError> {
    let text = text.trim();
    let mut key = bitcoin::PrivateKey::from_wif(text).map_err(wif_error)?;
    // bitcoin 0.32 does not check the compression flag byte: a 34-byte payload whose last
    // byte is not 0x01 is not a valid WIF, so look at it ourselves.
    let payload = Zeroizing::new(
        bitcoin::base58::decode_check(text).map_err(|_| ImportKeyError::WifChecksum)?,
    );
    if !key.compressed {
        key.inner.non_secure_erase();
        return Err(ImportKeyError::UncompressedWif);
    }
    if payload.last() != Some(&1) {
        key.inner.non_secure_erase();
        return Err(ImportKeyError::WifEncoding {
            reason: "invalid compression flag",
        });
    }
    Ok(secp_import(key.inner, None))
}

/// Maps `bitcoin`'s WIF errors to ours, dropping their details (which may quote the key).
fn wif_error(error: bitcoin::key::FromWifError) -> ImportKeyError {
    use bitcoin::base58::Error as B58;
    use bitcoin::key::FromWifError as E;
    match error {
        E::Base58(B58::IncorrectChecksum(_)) => ImportKeyError::WifChecksum,
        E::Base58(B58::Decode(_)) => ImportKeyError::WifEncoding {
            reason: "not base58 (a character is not allowed)",
        },
        E::Base58(_) | E::InvalidBase58PayloadLength(_) => ImportKeyError::WifEncoding {
            reason: "wrong length for a WIF private key",
        },
        E::InvalidAddressVersion(_) => ImportKeyError::WifEncoding {
            reason: "unknown version byte (not a mainnet or testnet private key)",
        },
        E::Secp256k1(_) => ImportKeyError::ScalarOutOfRange,
        _ => ImportKeyError::WifEncoding {
            reason: "not a WIF private key",
        },
    }
}

/// secp256k1 `xprv`: the extended key, derived along `path` if one is given.
fn secp_from_xprv(text: &str, path: Option<&str>) -> Result<ImportedKey, ImportKeyError> {
    let mut xprv = Xpriv::from_str(text.trim()).map_err(xprv_error)?;
    let result = match path {
        Some(path) => derive_bip32(&xprv, path),
        None => Ok(xprv),
    };
    xprv.private_key.non_secure_erase();
    let derived = result?;
    Ok(secp_import_xpriv(derived, "xprv"))
}

/// The import of an extended private key: its key and its chain code.
fn secp_import_xpriv(mut xprv: Xpriv, source: &'static str) -> ImportedKey {
    let chain_code = Zeroizing::new(xprv.chain_code.to_bytes());
    let key = xprv.private_key;
    xprv.private_key.non_secure_erase();
    secp_import(key, Some((chain_code, source)))
}

/// Parses a BIP-32 path (`m/84'/0'/0'`, `m/84h/0h/0h`, `m`) and derives it from `xprv`.
fn derive_bip32(xprv: &Xpriv, path: &str) -> Result<Xpriv, ImportKeyError> {
    let path = parse_path(path)?;
    let secp = Secp256k1::signing_only();
    xprv.derive_priv(&secp, &path)
        .map_err(|_| ImportKeyError::BadDerivationPath {
            reason: "the path cannot be derived (deeper than 255 steps?)",
        })
}

/// Parses a derivation path, with `'` or `h` marking hardened steps.
fn parse_path(path: &str) -> Result<DerivationPath, ImportKeyError> {
    DerivationPath::from_str(path.trim()).map_err(|error| {
        let reason = match error {
            bitcoin::bip32::Error::InvalidChildNumber(_) => "an index is 2^31 or more",
            _ => "expected m/<index>[/<index>…], each index a number, hardened with ' or h",
        };
        ImportKeyError::BadDerivationPath { reason }
    })
}

/// Maps `bitcoin`'s BIP-32 decoding errors to ours, dropping their details.
fn xprv_error(error: bitcoin::bip32::Error) -> ImportKeyError {
    use bitcoin::bip32::Error as E;
    let reason = match error {
        E::Base58(bitcoin::base58::Error::IncorrectChecksum(_)) => {
            "the checksum does not match (check for a typo)"
        }
        E::Base58(bitcoin::base58::Error::Decode(_)) => "not base58 (a character is not allowed)",
        E::UnknownVersion(_) => {
            "unknown version (only xprv and tprv are accepted; an xpub holds no private key)"
        }
        E::WrongExtendedKeyLength(_) | E::Base58(_) | E::InvalidBase58PayloadLength(_) => {
            "wrong length"
        }
        E::Secp256k1(_) => "the private key is zero or not below the secp256k1 group order",
        _ => "not an extended private key",
    };
    ImportKeyError::BadXprv { reason }
}

/// BIP-39 (English) mnemonic and optional passphrase → the 64-byte seed. Words are matched
/// case-insensitively and may be separated by any whitespace.
fn mnemonic_seed(
    text: &str,
    passphrase: Option<&str>,
) -> Result<Zeroizing<[u8; 64]>, ImportKeyError> {
    let lowered = Zeroizing::new(text.to_lowercase());
    let mnemonic =
        bip39::Mnemonic::parse_in(bip39::Language::English, lowered.as_str()).map_err(|error| {
            match error {
                bip39::Error::BadWordCount(words) => ImportKeyError::MnemonicWordCount { words },
                bip39::Error::UnknownWord(index) => ImportKeyError::MnemonicUnknownWord {
                    position: index + 1,
                },
                _ => ImportKeyError::MnemonicChecksum,
            }
        })?;
    Ok(Zeroizing::new(mnemonic.to_seed(passphrase.unwrap_or(""))))
}

/// secp256k1 `mnemonic`: BIP-39 seed → BIP-32 master → `path` (default `m`).
fn secp_from_mnemonic(
    text: &str,
    passphrase: Option<&str>,
    path: Option<&str>,
) -> Result<ImportedKey, ImportKeyError> {
    let path = parse_path(path.unwrap_or(DEFAULT_SECP256K1_PATH))?;
    let seed = mnemonic_seed(text, passphrase)?;
    let mut master = Xpriv::new_master(bitcoin::NetworkKind::Main, &seed[..])
        .map_err(|_| ImportKeyError::ScalarOutOfRange)?;
    let secp = Secp256k1::signing_only();
    let result = master
        .derive_priv(&secp, &path)
        .map_err(|_| ImportKeyError::BadDerivationPath {
            reason: "the path cannot be derived",
        });
    master.private_key.non_secure_erase();
    Ok(secp_import_xpriv(result?, "bip32"))
}

/// Builds the import of an Ed25519 key from its 32-byte RFC 8032 seed; `chain` is its own
/// chain code and source, if any.
fn ed25519_from_seed(
    seed: &Zeroizing<[u8; 32]>,
    chain: Option<(Zeroizing<[u8; 32]>, &'static str)>,
) -> Result<ImportedKey, ImportKeyError> {
    let signing_key = SigningKey::from_bytes(seed);
    let scalar = Zeroizing::new(signing_key.to_scalar());
    let public_key = signing_key.verifying_key().to_bytes();
    if EdwardsPoint::mul_base(&scalar).compress().to_bytes() != public_key {
        return Err(ImportKeyError::Ed25519ScalarMismatch);
    }
    let (chain_code, chain_code_source) = match chain {
        Some((code, source)) => (*code, source),
        None => (derived_chain_code(&public_key), DERIVED_SOURCE),
    };
    Ok(ImportedKey {
        curve: KeyCurve::Ed25519,
        secret: Zeroizing::new(scalar.to_bytes()),
        public_key: public_key.to_vec(),
        chain_code,
        chain_code_source,
    })
}

/// Ed25519 `solana-keypair`: `[s0, …, s31, p0, …, p31]`, seed then public key.
fn ed25519_from_solana_keypair(text: &str) -> Result<ImportedKey, ImportKeyError> {
    let bytes: Zeroizing<Vec<u8>> =
        Zeroizing::new(serde_json::from_str(text.trim()).map_err(|_| {
            ImportKeyError::SolanaKeypairMalformed {
                reason: "expected a JSON array of integers 0 to 255",
            }
        })?);
    if bytes.len() != 64 {
        return Err(ImportKeyError::SolanaKeypairMalformed {
            reason: "expected 64 numbers (32 of seed, 32 of public key)",
        });
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&bytes[..32]);
    let imported = ed25519_from_seed(&seed, None)?;
    if imported.public_key[..] != bytes[32..] {
        return Err(ImportKeyError::SolanaKeypairMismatch);
    }
    Ok(imported)
}

/// Ed25519 `mnemonic`: BIP-39 seed → SLIP-0010 along `path` (default
/// [`DEFAULT_ED25519_PATH`]) → RFC 8032 seed.
fn ed25519_from_mnemonic(
    text: &str,
    passphrase: Option<&str>,
    path: Option<&str>,
) -> Result<ImportedKey, ImportKeyError> {
    let path = path.unwrap_or(DEFAULT_ED25519_PATH);
    // Check the path before the (slow) PBKDF2 so a bad path fails fast.
    slip10_path(path)?;
    let seed = mnemonic_seed(text, passphrase)?;
    let node = slip10_ed25519(&seed[..], path)?;
    ed25519_from_seed(&node.key, Some((node.chain_code, "slip10")))
}

/// A SLIP-0010 Ed25519 node: the 32-byte key (an RFC 8032 seed) and its chain code.
struct Slip10Node {
    key: Zeroizing<[u8; 32]>,
    chain_code: Zeroizing<[u8; 32]>,
}

impl Slip10Node {
    /// Splits `I` into `I_L` (key) and `I_R` (chain code).
    fn from_hmac(i: &Zeroizing<[u8; 64]>) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        let mut chain_code = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&i[..32]);
        chain_code.copy_from_slice(&i[32..]);
        Slip10Node { key, chain_code }
    }
}

/// HMAC-SHA512 of the concatenated `parts` under `key`.
fn hmac_sha512(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 64]> {
    let mut mac =
        <Hmac<Sha512> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    let mut tag = mac.finalize().into_bytes();
    let mut out = Zeroizing::new([0u8; 64]);
    out.copy_from_slice(&tag);
    let tag_bytes: &mut [u8] = &mut tag;
    tag_bytes.zeroize();
    out
}

/// Parses a SLIP-0010 Ed25519 path: every step must be hardened. Returns the child indices
/// (with the hardened bit set).
fn slip10_path(path: &str) -> Result<Vec<u32>, ImportKeyError> {
    let parsed = parse_path(path)?;
    parsed
        .as_ref()
        .iter()
        .enumerate()
        .map(|(i, child)| match child {
            ChildNumber::Hardened { .. } => Ok(u32::from(*child)),
            ChildNumber::Normal { .. } => Err(ImportKeyError::NonHardenedPath { position: i + 1 }),
        })
        .collect()
}

/// SLIP-0010 Ed25519 derivation from a raw seed along a hardened-only `path`:
/// master `I = HMAC-SHA512("ed25519 seed", seed)`, then for each step
/// `I = HMAC-SHA512(c_par, 0x00 ‖ k_par ‖ ser32(i))`; `I_L` is the key, `I_R` the chain code.
fn slip10_ed25519(seed: &[u8], path: &str) -> Result<Slip10Node, ImportKeyError> {
    let indices = slip10_path(path)?;
    let mut node = Slip10Node::from_hmac(&hmac_sha512(b"ed25519 seed", &[seed]));
    for index in indices {
        let i = hmac_sha512(
            &node.chain_code[..],
            &[&[0u8], &node.key[..], &index.to_be_bytes()],
        );
        node = Slip10Node::from_hmac(&i);
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::scalar::Scalar;

    // ---- Published vectors ----------------------------------------------------------------

    /// BIP-39 reference vector 1 (trezor/python-mnemonic vectors.json; passphrase "TREZOR").
    const BIP39_MNEMONIC: &str = "abandon abandon abandon abandon abandon abandon abandon \
                                  abandon abandon abandon abandon about";
    const BIP39_XPRV: &str = "xprv9s21ZrQH143K3h3fDYiay8mocZ3afhfULfb5GX8kCBdno77K4HiA15Tg23wp\
                              beF1pLfs1c5SPmYHrEpTuuRhxMwvKDwqdKiGJS9XFKzUsAF";

    /// BIP-32 test vector 1 (seed 000102030405060708090a0b0c0d0e0f), chains m and m/0H, from
    /// bip-0032.mediawiki.
    const BIP32_V1_M: &str = "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvv\
                              NKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi";
    const BIP32_V1_M_0H: &str = "xprv9uHRZZhk6KAJC1avXpDAp4MDc3sQKNxDiPvvkX8Br5ngLNv1TxvUxt4cV1r\
                                 GL5hj6KCesnDYUhd7oWgT11eZG7XnxHrnYeSvkzY7d2bhkJ7";
    /// The same chain m/0H as raw key, chain code and public key: SLIP-0010 "Test vector 1 for
    /// secp256k1", which is BIP-32 test vector 1.
    const BIP32_V1_M_0H_KEY: &str =
        "edb2e14f9ee77d26dd93b4ecede8d16ed408ce149b6cd80b0715a2d911a0afea";
    const BIP32_V1_M_0H_CHAIN: &str =
        "47fdacbd0f1097043b78c63c20c34ef4ed9a111d980047ad16282c7ae6236141";
    const BIP32_V1_M_0H_PUB: &str =
        "035a784662a4a20a65bf6aab9ae98a6c068a81c52e4b032c0fb5400c706cfccc56";

    /// SLIP-0010 "Test vector 1 for ed25519" (slip-0010.md).
    const SLIP10_SEED: &str = "000102030405060708090a0b0c0d0e0f";
    const SLIP10_M_CHAIN: &str = "90046a93de5380a72b5e45010748567d5ea02bbf6522f979e05c0d8d8ca9fffb";
    const SLIP10_M_KEY: &str = "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7";
    const SLIP10_M_PUB: &str = "a4b2856bfec510abab89753fac1ac0e1112364e7d250545963f135f2a33188ed";
    const SLIP10_M0H_CHAIN: &str =
        "8b59aa11380b624e81507a27fedda59fea6d0b779a778918a2fd3590e16e9c69";
    const SLIP10_M0H_KEY: &str = "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3";
    const SLIP10_M0H_PUB: &str = "8c8a13df77a28f3445213a0f432fde644acaa215fc72dcdf300d5efaa85d350c";
    const SLIP10_M0H1H_CHAIN: &str =
        "a320425f77d1b5c2505a6b1b27382b37368ee640e3557c315416801243552f14";
    const SLIP10_M0H1H_KEY: &str =
        "b1d0bad404bf35da785a64ca1ac54b2617211d2777696fbffaf208f746ae84f2";

    /// RFC 8032 section 7.1, TEST 1.
    const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const RFC8032_PUB: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    /// rust-bitcoin's own key tests (bitcoin/src/crypto/key.rs): a testnet compressed WIF and
    /// its public key, and a mainnet uncompressed WIF.
    const WIF_TESTNET_COMPRESSED: &str = "cVt4o7BGAig1UXywgGSmARhxMdzP5qvQsxKkSsc1XEkw3tDTQFpy";
    const WIF_TESTNET_COMPRESSED_PUB: &str =
        "039b6347398505f5ec93826dc61c19f47c66c0283ee9be980e29ce325a0f4679ef";
    const WIF_MAINNET_UNCOMPRESSED: &str = "5JYkZjmN7PVMjJUfJWfRFwtuXTGB439XV6faajeHPAM9Z2PT2R3";
    /// rust-bitcoin's test of a mainnet WIF whose compression flag byte is 49, not 1.
    const WIF_BAD_COMPRESSION_FLAG: &str = "L2x4uC2YgfFWZm9tF4pjDnVR6nJkheizFhEr2KvDNnTEmEqVzPJY";
    /// Private key 1: its WIF and public key (the generator G), as listed in coinlib's key
    /// vectors and elsewhere.
    const WIF_KEY_ONE: &str = "KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn";
    const PUB_KEY_ONE: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    /// secp256k1 group order n.
    const SECP256K1_N: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

    const SECP: KeyCurve = KeyCurve::Secp256k1;
    const ED: KeyCurve = KeyCurve::Ed25519;

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    fn parse(
        curve: KeyCurve,
        format: KeyFormat,
        text: &str,
    ) -> Result<ImportedKey, ImportKeyError> {
        parse_key(curve, format, text, None, None)
    }

    fn solana_json(seed: &[u8], public: &[u8]) -> String {
        let all: Vec<u8> = seed.iter().chain(public).copied().collect();
        serde_json::to_string(&all).unwrap()
    }

    // ---- secp256k1 -------------------------------------------------------------------------

    #[test]
    fn import_key_bip39_trezor_vector_matches_its_master_xprv() {
        let from_words = parse_key(
            SECP,
            KeyFormat::Mnemonic,
            BIP39_MNEMONIC,
            Some("TREZOR"),
            None,
        )
        .unwrap();
        let from_xprv = parse(SECP, KeyFormat::Xprv, BIP39_XPRV).unwrap();
        assert_eq!(*from_words.secret, *from_xprv.secret);
        assert_eq!(from_words.chain_code, from_xprv.chain_code);
        assert_eq!(from_words.public_key, from_xprv.public_key);
        assert_eq!(from_words.chain_code_source, "bip32");
        assert_eq!(from_xprv.chain_code_source, "xprv");
        // Without the passphrase it is another wallet.
        let no_pass = parse(SECP, KeyFormat::Mnemonic, BIP39_MNEMONIC).unwrap();
        assert_ne!(*no_pass.secret, *from_words.secret);
    }

    #[test]
    fn import_key_bip39_mnemonic_path_matches_xprv_path() {
        let path = Some("m/84'/0'/0'");
        let words = parse_key(
            SECP,
            KeyFormat::Mnemonic,
            BIP39_MNEMONIC,
            Some("TREZOR"),
            path,
        )
        .unwrap();
        let xprv = parse_key(SECP, KeyFormat::Xprv, BIP39_XPRV, None, Some("m/84h/0h/0h")).unwrap();
        assert_eq!(*words.secret, *xprv.secret);
        assert_eq!(words.chain_code, xprv.chain_code);
    }

    #[test]
    fn import_key_mnemonic_is_case_and_space_insensitive() {
        let messy = format!("  {}\n", BIP39_MNEMONIC.to_uppercase().replace(' ', "\t "));
        let a = parse_key(SECP, KeyFormat::Mnemonic, &messy, Some("TREZOR"), None).unwrap();
        let b = parse_key(
            SECP,
            KeyFormat::Mnemonic,
            BIP39_MNEMONIC,
            Some("TREZOR"),
            None,
        )
        .unwrap();
        assert_eq!(*a.secret, *b.secret);
    }

    #[test]
    fn import_key_bip32_vector1_m0h() {
        let expected_key = unhex(BIP32_V1_M_0H_KEY);
        let expected_chain = unhex(BIP32_V1_M_0H_CHAIN);
        let direct = parse(SECP, KeyFormat::Xprv, BIP32_V1_M_0H).unwrap();
        assert_eq!(direct.secret[..], expected_key[..]);
        assert_eq!(direct.chain_code[..], expected_chain[..]);
        assert_eq!(direct.public_key, unhex(BIP32_V1_M_0H_PUB));
        for path in ["m/0'", "m/0h", "0'"] {
            let derived = parse_key(SECP, KeyFormat::Xprv, BIP32_V1_M, None, Some(path)).unwrap();
            assert_eq!(derived.secret[..], expected_key[..], "path {path}");
            assert_eq!(derived.chain_code[..], expected_chain[..], "path {path}");
        }
    }

    #[test]
    fn import_key_secp_hex_and_wif_agree_with_derived_chain_code() {
        let one = format!("0x{}01\n", "00".repeat(31));
        let from_hex = parse(SECP, KeyFormat::Hex, &one).unwrap();
        let from_wif = parse(SECP, KeyFormat::Wif, WIF_KEY_ONE).unwrap();
        assert_eq!(from_hex.public_key, unhex(PUB_KEY_ONE));
        assert_eq!(from_wif.public_key, unhex(PUB_KEY_ONE));
        assert_eq!(*from_hex.secret, *from_wif.secret);
        assert_eq!(from_hex.chain_code, from_wif.chain_code);
        assert_eq!(from_hex.chain_code_source, DERIVED_SOURCE);
        let expected: [u8; 32] = Sha256::new()
            .chain_update(b"tessera/import/chain-code/v1")
            .chain_update(unhex(PUB_KEY_ONE))
            .finalize()
            .into();
        assert_eq!(from_hex.chain_code, expected);
    }

    #[test]
    fn import_key_wif_testnet_compressed_vector() {
        let key = parse(SECP, KeyFormat::Wif, WIF_TESTNET_COMPRESSED).unwrap();
        assert_eq!(key.public_key, unhex(WIF_TESTNET_COMPRESSED_PUB));
        assert_eq!(key.curve, KeyCurve::Secp256k1);
    }

    #[test]
    fn import_key_wif_uncompressed_is_refused() {
        let err = parse(SECP, KeyFormat::Wif, WIF_MAINNET_UNCOMPRESSED).unwrap_err();
        assert!(matches!(err, ImportKeyError::UncompressedWif), "{err:?}");
    }

    #[test]
    fn import_key_wif_bad_compression_flag_is_refused() {
        let err = parse(SECP, KeyFormat::Wif, WIF_BAD_COMPRESSION_FLAG).unwrap_err();
        assert!(
            matches!(
                err,
                ImportKeyError::WifEncoding {
                    reason: "invalid compression flag"
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn import_key_wif_checksum_and_encoding_errors() {
        // Change one character: the checksum no longer matches.
        let mut typo = WIF_KEY_ONE.to_string();
        typo.replace_range(10..11, "z");
        let err = parse(SECP, KeyFormat::Wif, &typo).unwrap_err();
        assert!(matches!(err, ImportKeyError::WifChecksum), "{err:?}");
        // '0' is not a base58 character.
        let err = parse(SECP, KeyFormat::Wif, "0wDiBf89QgGbjEhKnhXJuH7LrciVrZi3").unwrap_err();
        assert!(matches!(err, ImportKeyError::WifEncoding { .. }), "{err:?}");
        // A valid base58check string of the wrong length (an xprv is not a WIF).
        let err = parse(SECP, KeyFormat::Wif, BIP32_V1_M).unwrap_err();
        assert!(matches!(err, ImportKeyError::WifEncoding { .. }), "{err:?}");
    }

    #[test]
    fn import_key_secp_hex_errors() {
        let err = parse(SECP, KeyFormat::Hex, "abcd").unwrap_err();
        assert!(
            matches!(
                err,
                ImportKeyError::WrongLength {
                    expected: 64,
                    got: 4
                }
            ),
            "{err:?}"
        );
        let err = parse(SECP, KeyFormat::Hex, &"zz".repeat(32)).unwrap_err();
        assert!(matches!(err, ImportKeyError::BadHex), "{err:?}");
        let err = parse(SECP, KeyFormat::Hex, &"00".repeat(32)).unwrap_err();
        assert!(matches!(err, ImportKeyError::ScalarOutOfRange), "{err:?}");
        let err = parse(SECP, KeyFormat::Hex, SECP256K1_N).unwrap_err();
        assert!(matches!(err, ImportKeyError::ScalarOutOfRange), "{err:?}");
        // n - 1 is the largest valid key.
        let n_minus_1 = format!("{}0", &SECP256K1_N[..63]);
        assert!(parse(SECP, KeyFormat::Hex, &n_minus_1).is_ok());
    }

    #[test]
    fn import_key_xprv_errors() {
        let mut typo = BIP32_V1_M.to_string();
        typo.replace_range(20..21, "A");
        let err = parse(SECP, KeyFormat::Xprv, &typo).unwrap_err();
        assert!(matches!(err, ImportKeyError::BadXprv { .. }), "{err:?}");
        // An xpub (BIP-32 test vector 1, chain m) holds no private key.
        let xpub =
            "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8Y\
                    tGqsefD265TMg7usUDFdp6W1EGMcet8";
        let err = parse(SECP, KeyFormat::Xprv, xpub).unwrap_err();
        assert!(matches!(err, ImportKeyError::BadXprv { .. }), "{err:?}");
        let err = parse(SECP, KeyFormat::Xprv, "not an xprv").unwrap_err();
        assert!(matches!(err, ImportKeyError::BadXprv { .. }), "{err:?}");
    }

    #[test]
    fn import_key_bad_derivation_paths() {
        for path in ["m/x", "m/0''", "m//1", "m/2147483648", "n/0"] {
            let err = parse_key(SECP, KeyFormat::Xprv, BIP32_V1_M, None, Some(path)).unwrap_err();
            assert!(
                matches!(err, ImportKeyError::BadDerivationPath { .. }),
                "{path}: {err:?}"
            );
        }
        let err = parse_key(
            ED,
            KeyFormat::Mnemonic,
            BIP39_MNEMONIC,
            None,
            Some("m/44'/x"),
        )
        .unwrap_err();
        assert!(
            matches!(err, ImportKeyError::BadDerivationPath { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn import_key_mnemonic_errors() {
        let err = parse(SECP, KeyFormat::Mnemonic, "abandon abandon abandon").unwrap_err();
        assert!(
            matches!(err, ImportKeyError::MnemonicWordCount { words: 3 }),
            "{err:?}"
        );
        let unknown = BIP39_MNEMONIC.replacen("abandon", "abandonx", 1);
        let err = parse(SECP, KeyFormat::Mnemonic, &unknown).unwrap_err();
        assert!(
            matches!(err, ImportKeyError::MnemonicUnknownWord { position: 1 }),
            "{err:?}"
        );
        let bad_checksum = BIP39_MNEMONIC.replace("about", "abandon");
        let err = parse(ED, KeyFormat::Mnemonic, &bad_checksum).unwrap_err();
        assert!(matches!(err, ImportKeyError::MnemonicChecksum), "{err:?}");
    }

    // ---- Ed25519 ---------------------------------------------------------------------------

    #[test]
    fn import_key_rfc8032_test1() {
        let key = parse(ED, KeyFormat::Hex, RFC8032_SEED).unwrap();
        assert_eq!(key.public_key, unhex(RFC8032_PUB));
        assert_eq!(key.curve, KeyCurve::Ed25519);
        assert_eq!(key.chain_code_source, DERIVED_SOURCE);
        assert_eq!(key.chain_code, derived_chain_code(&unhex(RFC8032_PUB)));
        // The secret is the clamped, reduced first half of SHA-512(seed), computed here
        // independently of ed25519-dalek.
        let digest = Sha512::digest(unhex(RFC8032_SEED));
        let mut half = [0u8; 32];
        half.copy_from_slice(&digest[..32]);
        half[0] &= 248;
        half[31] &= 127;
        half[31] |= 64;
        let expected = Scalar::from_bytes_mod_order(half);
        assert_eq!(*key.secret, expected.to_bytes());
        let point = EdwardsPoint::mul_base(&Scalar::from_canonical_bytes(*key.secret).unwrap());
        assert_eq!(point.compress().to_bytes().to_vec(), unhex(RFC8032_PUB));
    }

    #[test]
    fn import_key_slip10_ed25519_vector1() {
        let seed = unhex(SLIP10_SEED);
        let cases = [
            ("m", SLIP10_M_KEY, SLIP10_M_CHAIN),
            ("m/0'", SLIP10_M0H_KEY, SLIP10_M0H_CHAIN),
            ("m/0h", SLIP10_M0H_KEY, SLIP10_M0H_CHAIN),
            ("m/0h/1h", SLIP10_M0H1H_KEY, SLIP10_M0H1H_CHAIN),
        ];
        for (path, key, chain) in cases {
            let node = slip10_ed25519(&seed, path).unwrap();
            assert_eq!(node.key.to_vec(), unhex(key), "{path}");
            assert_eq!(node.chain_code.to_vec(), unhex(chain), "{path}");
        }
        // The vectors' public keys (SLIP-0010 writes them with a 00 prefix).
        for (key, public) in [
            (SLIP10_M_KEY, SLIP10_M_PUB),
            (SLIP10_M0H_KEY, SLIP10_M0H_PUB),
        ] {
            let imported = parse(ED, KeyFormat::Hex, key).unwrap();
            assert_eq!(imported.public_key, unhex(public));
        }
    }

    #[test]
    fn import_key_slip10_refuses_non_hardened_steps() {
        let err = slip10_ed25519(&unhex(SLIP10_SEED), "m/0'/1")
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(err, ImportKeyError::NonHardenedPath { position: 2 }),
            "{err:?}"
        );
        let err = parse_key(
            ED,
            KeyFormat::Mnemonic,
            BIP39_MNEMONIC,
            None,
            Some("m/44'/501'/0"),
        )
        .unwrap_err();
        assert!(
            matches!(err, ImportKeyError::NonHardenedPath { position: 3 }),
            "{err:?}"
        );
    }

    #[test]
    fn import_key_ed25519_mnemonic_uses_slip10_and_default_path() {
        let key = parse_key(
            ED,
            KeyFormat::Mnemonic,
            BIP39_MNEMONIC,
            Some("TREZOR"),
            None,
        )
        .unwrap();
        assert_eq!(key.chain_code_source, "slip10");
        // The same as SLIP-0010 by hand from the BIP-39 vector's published seed.
        let seed = unhex(
            "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
        );
        let node = slip10_ed25519(&seed, DEFAULT_ED25519_PATH).unwrap();
        let by_hand = parse(ED, KeyFormat::Hex, &hex::encode(*node.key)).unwrap();
        assert_eq!(*key.secret, *by_hand.secret);
        assert_eq!(key.public_key, by_hand.public_key);
        assert_eq!(key.chain_code, *node.chain_code);
        let explicit = parse_key(
            ED,
            KeyFormat::Mnemonic,
            BIP39_MNEMONIC,
            Some("TREZOR"),
            Some("m/44h/501h/0h/0h"),
        )
        .unwrap();
        assert_eq!(*explicit.secret, *key.secret);
    }

    #[test]
    fn import_key_solana_keypair_round_trip_and_mismatch() {
        let seed = unhex(RFC8032_SEED);
        let public = unhex(RFC8032_PUB);
        let json = solana_json(&seed, &public);
        let key = parse(ED, KeyFormat::SolanaKeypair, &json).unwrap();
        let from_hex = parse(ED, KeyFormat::Hex, RFC8032_SEED).unwrap();
        assert_eq!(key.public_key, public);
        assert_eq!(*key.secret, *from_hex.secret);
        assert_eq!(key.chain_code, from_hex.chain_code);

        let mut altered = public.clone();
        altered[0] ^= 1;
        let err = parse(ED, KeyFormat::SolanaKeypair, &solana_json(&seed, &altered)).unwrap_err();
        assert!(
            matches!(err, ImportKeyError::SolanaKeypairMismatch),
            "{err:?}"
        );
    }

    #[test]
    fn import_key_solana_keypair_malformed() {
        let seed = unhex(RFC8032_SEED);
        for text in [
            "not json".to_string(),
            "{\"a\": 1}".to_string(),
            solana_json(&seed, &[]),
            "[256, 1]".to_string(),
            "[-1]".to_string(),
        ] {
            let err = parse(ED, KeyFormat::SolanaKeypair, &text).unwrap_err();
            assert!(
                matches!(err, ImportKeyError::SolanaKeypairMalformed { .. }),
                "{err:?}"
            );
        }
    }

    // ---- Argument checks -------------------------------------------------------------------

    #[test]
    fn import_key_format_not_valid_for_curve() {
        for (curve, format, text) in [
            (ED, KeyFormat::Wif, WIF_KEY_ONE),
            (ED, KeyFormat::Xprv, BIP32_V1_M),
            (SECP, KeyFormat::SolanaKeypair, "[]"),
        ] {
            let err = parse(curve, format, text).unwrap_err();
            assert!(
                matches!(err, ImportKeyError::FormatNotValidForCurve { .. }),
                "{err:?}"
            );
        }
    }

    #[test]
    fn import_key_passphrase_or_path_where_meaningless() {
        let cases = [
            (SECP, KeyFormat::Hex, Some("x"), None),
            (SECP, KeyFormat::Hex, None, Some("m/0")),
            (SECP, KeyFormat::Wif, Some(""), None),
            (SECP, KeyFormat::Xprv, Some("x"), None),
            (ED, KeyFormat::Hex, None, Some("m/0'")),
            (ED, KeyFormat::SolanaKeypair, Some("x"), None),
        ];
        for (curve, format, passphrase, path) in cases {
            let err = parse_key(curve, format, "", passphrase, path).unwrap_err();
            assert!(
                matches!(err, ImportKeyError::ArgumentNotApplicable { .. }),
                "{err:?}"
            );
        }
    }

    // ---- No key material in errors or Debug --------------------------------------------------

    #[test]
    fn import_key_errors_never_quote_the_key() {
        let secret_hex = RFC8032_SEED;
        let seed = unhex(secret_hex);
        let mut altered_pub = unhex(RFC8032_PUB);
        altered_pub[31] ^= 0x80;
        let bad_hex = format!("{}g", &secret_hex[..63]);
        let bad_mnemonic = BIP39_MNEMONIC.replacen("abandon", "zzzz", 1);
        let attempts: Vec<Result<ImportedKey, ImportKeyError>> = vec![
            parse(SECP, KeyFormat::Hex, &bad_hex),
            parse(SECP, KeyFormat::Hex, &secret_hex[..62]),
            parse(
                ED,
                KeyFormat::SolanaKeypair,
                &solana_json(&seed, &altered_pub),
            ),
            parse(ED, KeyFormat::SolanaKeypair, &solana_json(&seed, &[1])),
            parse(SECP, KeyFormat::Wif, secret_hex),
            parse(SECP, KeyFormat::Xprv, secret_hex),
            parse(SECP, KeyFormat::Mnemonic, &bad_mnemonic),
            parse(ED, KeyFormat::Wif, secret_hex),
            parse_key(ED, KeyFormat::Hex, secret_hex, Some(secret_hex), None),
        ];
        for attempt in attempts {
            let err = attempt.unwrap_err();
            let shown = format!("{err} / {err:?}");
            assert!(!shown.contains(secret_hex), "{shown}");
            assert!(!shown.contains(&secret_hex[..16]), "{shown}");
            assert!(!shown.contains("zzzz"), "{shown}");
        }
    }

    #[test]
    fn import_key_debug_redacts_the_secret() {
        let key = parse(ED, KeyFormat::Hex, RFC8032_SEED).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains(&hex::encode(*key.secret)), "{shown}");
        assert!(!shown.contains(&hex::encode(&key.secret[..8])), "{shown}");
        assert!(!shown.contains(&hex::encode(key.chain_code)), "{shown}");
        assert!(shown.contains(RFC8032_PUB), "{shown}");
        let secp = parse(SECP, KeyFormat::Xprv, BIP32_V1_M_0H).unwrap();
        let shown = format!("{secp:?}");
        assert!(!shown.contains(BIP32_V1_M_0H_KEY), "{shown}");
        assert!(!shown.contains(BIP32_V1_M_0H_CHAIN), "{shown}");
    }
}

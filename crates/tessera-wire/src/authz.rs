//! Operator authorizations: what a signer node requires before it takes part in a keygen or a
//! signing session.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::Digest;
use tessera_crypto::{DerivationPath, MessageHash, PublicKey, SchemeId, SignMessage};
use zeroize::Zeroizing;

use crate::codec::{hex_newtype, hexarr};
use crate::identity::NodeId;
use crate::{Result, WireError};

/// Magic of a serialized [`OperatorKey`].
const OPERATOR_MAGIC: &[u8; 4] = b"TSOP";
/// Format version of a serialized [`OperatorKey`].
const OPERATOR_VERSION: u8 = 1;
/// Length of a serialized [`OperatorKey`]: magic, version, Ed25519 seed.
const OPERATOR_LEN: usize = 4 + 1 + 32;

/// Domain tag at the start of [`Authorization::signing_bytes`].
pub const AUTHZ_DOMAIN: &str = "tessera/authz/v1";

/// An operator's Ed25519 signing key. Wiped on drop; `Debug` prints `[REDACTED]`; not `Clone`.
pub struct OperatorKey {
    key: SigningKey,
}

impl fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OperatorKey([REDACTED])")
    }
}

impl OperatorKey {
    /// A fresh key from `rng`.
    pub fn generate(rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng)) -> Self {
        OperatorKey {
            key: SigningKey::generate(rng),
        }
    }

    /// Serialized secret: `"TSOP" || version (1) || Ed25519 seed (32)`.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(OPERATOR_LEN));
        out.extend_from_slice(OPERATOR_MAGIC);
        out.push(OPERATOR_VERSION);
        out.extend_from_slice(self.key.as_bytes());
        out
    }

    /// Inverse of [`to_bytes`](Self::to_bytes) ([`WireError::InvalidKey`] for a wrong magic or
    /// length, [`WireError::UnsupportedVersion`] for an unknown version).
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        if b.len() < 5 || &b[..4] != OPERATOR_MAGIC {
            return Err(WireError::InvalidKey("not a tessera operator key".into()));
        }
        if b[4] != OPERATOR_VERSION {
            return Err(WireError::UnsupportedVersion(b[4]));
        }
        if b.len() != OPERATOR_LEN {
            return Err(WireError::InvalidKey(format!(
                "operator key must be {OPERATOR_LEN} bytes, got {}",
                b.len()
            )));
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&b[5..]);
        Ok(OperatorKey {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Text file form: the lowercase hex of [`to_bytes`](Self::to_bytes) and a newline (it
    /// starts with `54534f5001`, "TSOP" version 1).
    pub fn to_text(&self) -> Zeroizing<String> {
        let bytes = self.to_bytes();
        let mut s = Zeroizing::new(hex::encode(bytes.as_slice()));
        s.push('\n');
        s
    }

    /// Inverse of [`to_text`](Self::to_text); surrounding whitespace is ignored.
    pub fn from_text(s: &str) -> Result<Self> {
        let bytes = Zeroizing::new(
            hex::decode(s.trim())
                .map_err(|_| WireError::InvalidKey("operator key file is not hex".into()))?,
        );
        Self::from_bytes(&bytes)
    }

    /// The public key.
    pub fn public(&self) -> OperatorPublic {
        OperatorPublic(self.key.verifying_key().to_bytes())
    }
}

/// An operator's Ed25519 verifying key. `Display`, `Debug` and serde use lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OperatorPublic(pub [u8; 32]);

hex_newtype!(OperatorPublic, "operator public key");

impl fmt::Debug for OperatorPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OperatorPublic({})", hex::encode(self.0))
    }
}

/// What an operator authorizes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Action {
    /// Run a key generation for a new wallet.
    Keygen {
        /// Wallet id.
        wallet_id: String,
        /// Scheme (serialized by [`SchemeId::name`]).
        scheme: SchemeId,
        /// Signers needed (`t`).
        threshold: u16,
        /// The share holders, in party-index order.
        signers: Vec<NodeId>,
        /// The networks the wallet may sign chain payloads on, as `chain:network`
        /// (`bitcoin:mainnet`, `ethereum:sepolia`), sorted, without duplicates
        /// ([`check_networks`]). Signers keep them with the share and refuse a payload for any
        /// other network: the network a requester names cannot be chosen freely, because many
        /// payloads (a PSBT, a Solana message) sign the same bytes on every network.
        networks: Vec<String>,
    },
    /// Give an existing wallet's key new shares: a proactive refresh (same signers and
    /// threshold), a replaced signer, or a new threshold and signer set. The group key, chain
    /// code and every address stay the same; the shares of the current epoch stop combining
    /// with the new ones.
    Reshare {
        /// Wallet id.
        wallet_id: String,
        /// The epoch the new shares get: the wallet's current epoch + 1.
        epoch: u32,
        /// Signers needed afterwards (`t`).
        threshold: u16,
        /// The new share holders, in party-index order.
        signers: Vec<NodeId>,
        /// The dealers, as (new party index, current party index): at least the current
        /// threshold of the current holders, each also a new holder.
        dealers: Vec<(u16, u16)>,
    },
    /// Create a wallet from an existing single-signature key: the importer dealt the key as
    /// `package` (`crate::import::ImportPackage`), and the holders complete their shares
    /// from it. Like [`Action::Keygen`], plus what the holders must end up with.
    Import {
        /// Wallet id.
        wallet_id: String,
        /// Scheme.
        scheme: SchemeId,
        /// Signers needed (`t`).
        threshold: u16,
        /// The share holders, in party-index order.
        signers: Vec<NodeId>,
        /// The networks the wallet may sign chain payloads on ([`check_networks`]).
        networks: Vec<String>,
        /// The imported key: every holder checks the dealing shares exactly this key.
        public_key: PublicKey,
        /// The chain code the wallet keeps (the imported key's own, or derived from it).
        #[serde(with = "hexarr")]
        chain_code: [u8; 32],
        /// [`crate::import::ImportPackage::digest`] of the package sent to the holders.
        #[serde(with = "hexarr")]
        package: [u8; 32],
    },
    /// Retire a wallet (after its key was exported to another implementation, say): every
    /// holder refuses any further session for it. The shares stay in the vaults.
    Retire {
        /// Wallet id.
        wallet_id: String,
        /// The wallet's epoch in force (the holders check it is theirs).
        epoch: u32,
    },
    /// Sign messages with a wallet key.
    Sign {
        /// Wallet id.
        wallet_id: String,
        /// Non-hardened derivation path in canonical form: `"m"` or `"m/1/2"`.
        path: String,
        /// The messages, as the signer will recompute them ([`authorized_message`]).
        messages: Vec<AuthorizedMessage>,
    },
    /// Sign a chain payload (transaction, typed data, message). Each signer re-parses the raw
    /// payload with its own chain adapter, recomputes the intent and the signing messages, and
    /// signs only if their intent hash equals this one.
    SignTransaction {
        /// Wallet id.
        wallet_id: String,
        /// Non-hardened derivation path in canonical form.
        path: String,
        /// Chain adapter id (`bitcoin`, `ethereum`, `solana`).
        chain: String,
        /// Network name of that chain.
        network: String,
        /// `tessera_chain::intent_hash` of the intent and messages the payload yields.
        #[serde(with = "hexarr")]
        intent_hash: [u8; 32],
    },
}

/// One message a signing authorization covers, in the form the signer can recompute.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AuthorizedMessage {
    /// The signer hashes the preimage itself; this binds the 32-byte digest it will compute.
    Preimage {
        /// Hash the signer applies.
        hash: MessageHash,
        /// The resulting digest.
        #[serde(with = "hexarr")]
        digest: [u8; 32],
    },
    /// DANGEROUS: a digest the signer cannot recompute (it never sees the preimage).
    DangerRawDigest {
        /// The digest.
        #[serde(with = "hexarr")]
        digest: [u8; 32],
    },
    /// Ed25519 signs the message bytes themselves; this binds their SHA-256.
    Ed25519Message {
        /// SHA-256 of the message bytes.
        #[serde(with = "hexarr")]
        sha256: [u8; 32],
    },
}

/// An operator's signed permission for one request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Authorization {
    /// Unique request id (the signer's vault rejects ids it has seen).
    pub request_id: String,
    /// What is authorized.
    pub action: Action,
    /// Expiry, unix seconds (exclusive).
    pub expires_at: u64,
    /// The signing operator.
    pub operator: OperatorPublic,
    /// Ed25519 signature over [`Authorization::signing_bytes`].
    #[serde(with = "hexarr")]
    pub signature: [u8; 64],
}

impl Authorization {
    /// Signs `action` for `request_id`, valid until `expires_at` (unix seconds, exclusive).
    pub fn sign(
        key: &OperatorKey,
        request_id: String,
        action: Action,
        expires_at: u64,
    ) -> Authorization {
        let operator = key.public();
        let bytes = Self::signing_bytes(&request_id, &action, expires_at, &operator);
        Authorization {
            request_id,
            action,
            expires_at,
            operator,
            signature: key.key.sign(&bytes).to_bytes(),
        }
    }

    /// The canonical bytes an operator signs (not JSON). Every variable-length field carries a
    /// `u64` big-endian length, every choice a one-byte tag, every integer a fixed width:
    ///
    /// ```text
    /// str("tessera/authz/v1") || str(request_id)
    /// || 0x01 || str(wallet_id) || str(scheme.name()) || u16(threshold) || u64(#signers) || node_id*
    ///  | 0x02 || str(wallet_id) || str(path) || u64(#messages) || message*
    ///  | 0x03 || str(wallet_id) || str(path) || str(chain) || str(network) || intent_hash(32)
    ///  | 0x05 || str(wallet_id) || str(scheme.name()) || u16(threshold) || u64(#signers) || node_id*
    ///         || u64(#networks) || str(network)* || u64(len) || public_key || chain_code(32) || package(32)
    ///  | 0x06 || str(wallet_id) || u32(epoch)
    /// || u64(expires_at) || operator(32)
    /// message = 0x01 || hash-tag (1 sha256, 2 double-sha256, 3 keccak256, 4 tap-sighash) || digest(32)
    ///         | 0x02 || digest(32)        (danger raw digest)
    ///         | 0x03 || sha256(32)        (ed25519 message)
    /// ```
    pub fn signing_bytes(
        request_id: &str,
        action: &Action,
        expires_at: u64,
        operator: &OperatorPublic,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        put_str(&mut out, AUTHZ_DOMAIN);
        put_str(&mut out, request_id);
        put_action(&mut out, action);
        out.extend_from_slice(&expires_at.to_be_bytes());
        out.extend_from_slice(&operator.0);
        out
    }

    /// Checks, in order: the operator is in `trusted` ([`WireError::UntrustedOperator`]), the
    /// signature (`verify_strict`, [`WireError::BadSignature`]), a sign action's path is a
    /// canonical non-hardened path ([`WireError::Malformed`]), `now_unix < expires_at`
    /// ([`WireError::Expired`]) and `expires_at - now_unix <= max_lifetime_secs`
    /// ([`WireError::TooLongLived`]).
    ///
    /// Replay protection (a request id seen before) is the signer vault's job.
    pub fn verify(
        &self,
        trusted: &[OperatorPublic],
        now_unix: u64,
        max_lifetime_secs: u64,
    ) -> Result<()> {
        self.verify_record(trusted)?;
        if now_unix >= self.expires_at {
            return Err(WireError::Expired);
        }
        if self.expires_at - now_unix > max_lifetime_secs {
            return Err(WireError::TooLongLived);
        }
        Ok(())
    }

    /// Checks this authorization as the record of an action already carried out (the reshare
    /// a former holder is told about, say): the operator is in `trusted`, the signature, a
    /// sign action's canonical path — everything [`verify`](Self::verify) checks but the
    /// expiry, which bounds when an action may *start*. Never use it to admit an action.
    pub fn verify_record(&self, trusted: &[OperatorPublic]) -> Result<()> {
        if !trusted.contains(&self.operator) {
            return Err(WireError::UntrustedOperator);
        }
        let vk = VerifyingKey::from_bytes(&self.operator.0)
            .map_err(|_| WireError::InvalidKey("operator key is not a valid point".into()))?;
        let bytes = Self::signing_bytes(
            &self.request_id,
            &self.action,
            self.expires_at,
            &self.operator,
        );
        vk.verify_strict(
            &bytes,
            &ed25519_dalek::Signature::from_bytes(&self.signature),
        )
        .map_err(|_| WireError::BadSignature)?;
        if let Action::Sign { path, .. } | Action::SignTransaction { path, .. } = &self.action {
            let canonical = DerivationPath::parse(path)
                .map(|p| p.to_string() == *path)
                .unwrap_or(false);
            if !canonical {
                return Err(WireError::Malformed(format!(
                    "derivation path {path:?} is not a canonical non-hardened path"
                )));
            }
        }
        Ok(())
    }
}

/// What a key generation and an import both bind: wallet, scheme, threshold, signers, networks.
fn put_new_wallet(
    out: &mut Vec<u8>,
    wallet_id: &str,
    scheme: SchemeId,
    threshold: u16,
    signers: &[NodeId],
    networks: &[String],
) {
    put_str(out, wallet_id);
    put_str(out, scheme.name());
    out.extend_from_slice(&threshold.to_be_bytes());
    put_len(out, signers.len());
    for s in signers {
        out.extend_from_slice(&s.0);
    }
    put_len(out, networks.len());
    for n in networks {
        put_str(out, n);
    }
}

/// The action's canonical bytes, as [`Authorization::signing_bytes`] documents them.
fn put_action(out: &mut Vec<u8>, action: &Action) {
    match action {
        Action::Keygen {
            wallet_id,
            scheme,
            threshold,
            signers,
            networks,
        } => {
            out.push(1);
            put_new_wallet(out, wallet_id, *scheme, *threshold, signers, networks);
        }
        Action::Reshare {
            wallet_id,
            epoch,
            threshold,
            signers,
            dealers,
        } => {
            out.push(4);
            put_str(out, wallet_id);
            out.extend_from_slice(&epoch.to_be_bytes());
            out.extend_from_slice(&threshold.to_be_bytes());
            put_len(out, signers.len());
            for s in signers {
                out.extend_from_slice(&s.0);
            }
            put_len(out, dealers.len());
            for (new, old) in dealers {
                out.extend_from_slice(&new.to_be_bytes());
                out.extend_from_slice(&old.to_be_bytes());
            }
        }
        Action::Import {
            wallet_id,
            scheme,
            threshold,
            signers,
            networks,
            public_key,
            chain_code,
            package,
        } => {
            out.push(5);
            put_new_wallet(out, wallet_id, *scheme, *threshold, signers, networks);
            put_len(out, public_key.as_bytes().len());
            out.extend_from_slice(public_key.as_bytes());
            out.extend_from_slice(chain_code);
            out.extend_from_slice(package);
        }
        Action::Retire { wallet_id, epoch } => {
            out.push(6);
            put_str(out, wallet_id);
            out.extend_from_slice(&epoch.to_be_bytes());
        }
        Action::Sign {
            wallet_id,
            path,
            messages,
        } => {
            out.push(2);
            put_str(out, wallet_id);
            put_str(out, path);
            put_messages(out, messages);
        }
        Action::SignTransaction {
            wallet_id,
            path,
            chain,
            network,
            intent_hash,
        } => {
            out.push(3);
            put_str(out, wallet_id);
            put_str(out, path);
            put_str(out, chain);
            put_str(out, network);
            out.extend_from_slice(intent_hash);
        }
    }
}

/// Domain tag at the start of what [`key_operation_hash`] hashes.
pub const KEY_OPERATION_DOMAIN: &str = "tessera/key-operation/v1";

/// The intent hash of a key operation ([`Action::Keygen`], [`Action::Reshare`],
/// [`Action::Import`], [`Action::Retire`]): what approvers of the operation sign and every holder recomputes from
/// the authorization it is given, so an approval counts only for exactly this operation:
///
/// ```text
/// SHA-256( str("tessera/key-operation/v1") || action )
/// ```
///
/// with `action` encoded exactly as in [`Authorization::signing_bytes`].
pub fn key_operation_hash(action: &Action) -> [u8; 32] {
    let mut out = Vec::with_capacity(256);
    put_str(&mut out, KEY_OPERATION_DOMAIN);
    put_action(&mut out, action);
    sha2::Sha256::digest(&out).into()
}

/// Domain tag at the start of what [`message_intent_hash`] hashes.
pub const MESSAGE_INTENT_DOMAIN: &str = "tessera/message-intent/v1";

/// The intent hash of a signing request **without** chain payload (an [`Action::Sign`]): what
/// approvers sign in their approval and what each signer recomputes from the message it is asked
/// to sign (through [`authorized_message`]), so an approval can only count for this wallet, path
/// and these messages:
///
/// ```text
/// SHA-256( str("tessera/message-intent/v1") || str(wallet_id) || str(path)
///          || u64(#messages) || message* )
/// ```
///
/// with `str`, `u64` and `message` encoded exactly as in [`Authorization::signing_bytes`].
/// For a raw digest this hash says nothing about what is signed beyond the digest itself:
/// neither signers nor approvers can see its preimage.
pub fn message_intent_hash(
    wallet_id: &str,
    path: &str,
    messages: &[AuthorizedMessage],
) -> [u8; 32] {
    let mut out = Vec::with_capacity(96 + wallet_id.len() + path.len() + 34 * messages.len());
    put_str(&mut out, MESSAGE_INTENT_DOMAIN);
    put_str(&mut out, wallet_id);
    put_str(&mut out, path);
    put_messages(&mut out, messages);
    sha2::Sha256::digest(&out).into()
}

impl Action {
    /// The hash approvals of this request sign: the authorized `intent_hash` of an
    /// [`Action::SignTransaction`], [`message_intent_hash`] of an [`Action::Sign`],
    /// [`key_operation_hash`] of a key operation.
    pub fn intent_hash(&self) -> Option<[u8; 32]> {
        match self {
            Action::Keygen { .. }
            | Action::Reshare { .. }
            | Action::Import { .. }
            | Action::Retire { .. } => Some(key_operation_hash(self)),
            Action::Sign {
                wallet_id,
                path,
                messages,
            } => Some(message_intent_hash(wallet_id, path, messages)),
            Action::SignTransaction { intent_hash, .. } => Some(*intent_hash),
        }
    }
}

fn put_messages(out: &mut Vec<u8>, messages: &[AuthorizedMessage]) {
    put_len(out, messages.len());
    for m in messages {
        match m {
            AuthorizedMessage::Preimage { hash, digest } => {
                out.push(1);
                out.push(hash.tag());
                out.extend_from_slice(digest);
            }
            AuthorizedMessage::DangerRawDigest { digest } => {
                out.push(2);
                out.extend_from_slice(digest);
            }
            AuthorizedMessage::Ed25519Message { sha256 } => {
                out.push(3);
                out.extend_from_slice(sha256);
            }
        }
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_be_bytes());
}

/// Most networks one wallet may be bound to.
pub const MAX_NETWORKS: usize = 16;

/// Checks a wallet's network binding (`Action::Keygen::networks`): at least one and at most
/// [`MAX_NETWORKS`] entries, each `chain:network` with both parts non-empty, at most 32 bytes,
/// of lowercase ASCII letters, digits and `-`; sorted and without duplicates (one canonical
/// form, so the same binding always signs the same bytes).
pub fn check_networks(networks: &[String]) -> Result<()> {
    if networks.is_empty() || networks.len() > MAX_NETWORKS {
        return Err(WireError::Malformed(format!(
            "a wallet is bound to 1 to {MAX_NETWORKS} networks, not {}",
            networks.len()
        )));
    }
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 32
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    for n in networks {
        let ok = matches!(n.split_once(':'), Some((c, net)) if part_ok(c) && part_ok(net));
        if !ok {
            return Err(WireError::Malformed(format!(
                "network {n:?} is not chain:network (lowercase letters, digits, '-')"
            )));
        }
    }
    if networks.windows(2).any(|w| w[0] >= w[1]) {
        return Err(WireError::Malformed(
            "networks must be sorted and without duplicates".into(),
        ));
    }
    Ok(())
}

/// The binding entry for `chain` and `network`: `chain:network`.
pub fn network_key(chain: &str, network: &str) -> String {
    format!("{chain}:{network}")
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// The form in which an authorization covers `msg`: what the signer recomputes from the
/// [`SignMessage`] it is asked to sign and compares with the authorization's list.
///
/// - a preimage with a hash -> [`AuthorizedMessage::Preimage`] with the digest the signer signs
///   ([`SignMessage::digest32`]);
/// - a preimage without a hash (Ed25519 signs the bytes) -> [`AuthorizedMessage::Ed25519Message`]
///   with the SHA-256 of [`SignMessage::ed25519_bytes`];
/// - a raw digest -> [`AuthorizedMessage::DangerRawDigest`].
pub fn authorized_message(msg: &SignMessage) -> Result<AuthorizedMessage> {
    match msg {
        SignMessage::RawDigest(d) => Ok(AuthorizedMessage::DangerRawDigest { digest: *d }),
        SignMessage::Preimage {
            hash: Some(hash), ..
        } => {
            let digest = msg
                .digest32()
                .map_err(|e| WireError::Malformed(format!("sign message: {e}")))?;
            Ok(AuthorizedMessage::Preimage {
                hash: *hash,
                digest,
            })
        }
        SignMessage::Preimage { hash: None, .. } => Ok(AuthorizedMessage::Ed25519Message {
            sha256: sha2::Sha256::digest(msg.ed25519_bytes()).into(),
        }),
    }
}

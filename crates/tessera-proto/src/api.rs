//! Request and response bodies of the coordinator's REST API (`/v1`, JSON).

use serde::{Deserialize, Serialize};
use tessera_crypto::{MessageHash, PublicKey, SchemeId, SignMessage, Signature};
use tessera_wire::{Authorization, NodeId, PublicIdentity, SignedIdentity};

use crate::link::SignerStatus;

/// `POST /v1/signers`: enroll a signer by its public identity (printed by `tessera signer init`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollSigner {
    /// Display name.
    pub name: String,
    /// The signer's public identity with its key-binding proof.
    pub identity: SignedIdentity,
}

/// A signer as the coordinator sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignerInfo {
    /// Node id (hex of its Ed25519 identity key).
    pub node_id: NodeId,
    /// Display name.
    pub name: String,
    /// Public identity.
    pub identity: PublicIdentity,
    /// Connected to this coordinator now.
    pub connected: bool,
    /// Last status it reported, if connected.
    pub status: Option<SignerStatus>,
}

/// `POST /v1/wallets`: create a wallet by distributed key generation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateWallet {
    /// Wallet id chosen by the client (bound into the authorization): `[a-z0-9_-]{1,64}`.
    pub wallet_id: String,
    /// Display name.
    pub name: String,
    /// Scheme.
    pub scheme: SchemeId,
    /// Threshold `t`.
    pub threshold: u16,
    /// The `n` signers, in party-index order.
    pub signers: Vec<NodeId>,
    /// Operator authorization (`Action::Keygen` with the same fields).
    pub authorization: Authorization,
}

/// Lifecycle of a wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WalletStatus {
    /// Key generation is running.
    Creating,
    /// The key exists; the wallet can sign.
    Ready,
    /// Key generation failed.
    Failed,
}

/// A wallet (public data only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WalletInfo {
    /// Id.
    pub wallet_id: String,
    /// Display name.
    pub name: String,
    /// Scheme.
    pub scheme: SchemeId,
    /// Threshold.
    pub threshold: u16,
    /// Signers in party-index order.
    pub signers: Vec<NodeId>,
    /// Status.
    pub status: WalletStatus,
    /// Group public key once ready.
    pub public_key: Option<PublicKey>,
    /// Chain code (hex) once ready.
    pub chain_code: Option<String>,
    /// The key-generation session.
    pub keygen_session: String,
    /// Presignatures / nonce sets ready in the pool.
    pub pool: u32,
    /// Creation time (ms since epoch).
    pub created_at_ms: u64,
    /// Failure reason, if failed.
    pub error: Option<String>,
}

/// `GET /v1/wallets/{id}/keys?path=m/0/1`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DerivedKey {
    /// Wallet.
    pub wallet_id: String,
    /// Path.
    pub path: String,
    /// Derived public key (for Taproot: the internal key; see `taproot_output_key`).
    pub public_key: PublicKey,
    /// BIP-341 output key (x-only hex), Taproot wallets only.
    pub taproot_output_key: Option<String>,
}

/// What to sign, as the API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageInput {
    /// Bytes every signer hashes itself with `hash` (safe form for ECDSA and BIP-340).
    Preimage {
        /// Hash to apply.
        hash: MessageHash,
        /// The bytes, hex.
        hex: String,
    },
    /// Ed25519: the message bytes themselves, hex.
    Message {
        /// The bytes, hex.
        hex: String,
    },
    /// **Dangerous**: a 32-byte digest the signers cannot recompute (they sign blind). Never
    /// served from cggmp24 presignatures (known forgery); FROST nonce sets may serve it.
    DangerRawDigest {
        /// The digest, hex.
        hex: String,
    },
}

impl MessageInput {
    /// Converts to the crypto layer's message.
    pub fn to_sign_message(&self) -> Result<SignMessage, String> {
        let bytes = |h: &str| hex::decode(h).map_err(|e| format!("bad hex: {e}"));
        Ok(match self {
            MessageInput::Preimage { hash, hex } => SignMessage::Preimage {
                hash: Some(*hash),
                bytes: bytes(hex)?,
            },
            MessageInput::Message { hex } => SignMessage::raw_bytes(bytes(hex)?),
            MessageInput::DangerRawDigest { hex } => {
                let d: [u8; 32] = bytes(hex)?
                    .try_into()
                    .map_err(|_| "a raw digest must be 32 bytes".to_string())?;
                SignMessage::danger_raw_digest(d)
            }
        })
    }

    /// The inverse of [`to_sign_message`](Self::to_sign_message).
    pub fn from_sign_message(m: &SignMessage) -> MessageInput {
        match m {
            SignMessage::Preimage {
                hash: Some(hash),
                bytes,
            } => MessageInput::Preimage {
                hash: *hash,
                hex: hex::encode(bytes),
            },
            SignMessage::Preimage { hash: None, bytes } => MessageInput::Message {
                hex: hex::encode(bytes),
            },
            SignMessage::RawDigest(d) => MessageInput::DangerRawDigest {
                hex: hex::encode(d),
            },
        }
    }
}

/// `POST /v1/wallets/{id}/signatures`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignRequest {
    /// Client-chosen unique id (bound into the authorization; signers refuse a replay).
    pub request_id: String,
    /// What to sign.
    pub message: MessageInput,
    /// Derivation path, `m` by default.
    #[serde(default = "root_path")]
    pub path: String,
    /// Operator authorization (`Action::Sign`).
    pub authorization: Authorization,
}

fn root_path() -> String {
    "m".to_string()
}

/// Kind of session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// Distributed key generation.
    Keygen,
    /// A signature request.
    Sign,
    /// Presignature pool refill.
    Presign,
}

/// Lifecycle of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Accepted, running.
    Running,
    /// Finished successfully.
    Done,
    /// Failed for good (after retries).
    Failed,
}

/// How a signature was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignPath {
    /// One online round from a pooled presignature / nonce set.
    Presigned,
    /// The full interactive protocol.
    Full,
}

/// A session (public data only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Session id (hex). For sign requests, the id of the request's session record.
    pub session_id: String,
    /// Kind.
    pub kind: SessionKind,
    /// Wallet.
    pub wallet_id: String,
    /// Client request id (sign requests).
    pub request_id: Option<String>,
    /// Status.
    pub status: SessionStatus,
    /// Signers of the last attempt.
    pub participants: Vec<NodeId>,
    /// Attempts made (retries use another signer subset).
    pub attempts: u32,
    /// Derivation path (sign).
    pub path: Option<String>,
    /// How the signature was produced (sign).
    pub sign_path: Option<SignPath>,
    /// The signature, once done (sign).
    pub signature: Option<Signature>,
    /// Public key the signature verifies under (derived for `path`).
    pub public_key: Option<PublicKey>,
    /// Failure, if failed.
    pub error: Option<SessionError>,
    /// Start (ms since epoch).
    pub created_at_ms: u64,
    /// End (ms since epoch).
    pub finished_at_ms: Option<u64>,
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionError {
    /// Stable code: `not_enough_signers`, `unauthorized`, `replayed`, `protocol_abort`, `timeout`,
    /// `internal`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Signers the protocol blamed.
    pub culprits: Vec<NodeId>,
}

/// Error body of every non-2xx response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable code.
    pub error: String,
    /// Human-readable message.
    pub message: String,
}

/// `GET /v1/status`: a cluster overview.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// Coordinator version.
    pub version: String,
    /// Signers.
    pub signers: Vec<SignerInfo>,
    /// Wallet count.
    pub wallets: u32,
    /// Sessions running now.
    pub running_sessions: u32,
}

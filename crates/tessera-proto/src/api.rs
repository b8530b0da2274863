//! Request and response bodies of the coordinator's REST API (`/v1`, JSON).

use serde::{Deserialize, Serialize};
use tessera_chain::{Intent, Payload, SignedTransaction};
use tessera_crypto::{MessageHash, PublicKey, SchemeId, SignMessage, Signature};
use tessera_wire::{Authorization, NodeId, PublicIdentity, SignedIdentity};

use tessera_policy::Approval;

use crate::link::SignerStatus;
pub use crate::states::ErrorCode;

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
    /// The identity key's signature binding its X25519 key (`tessera_wire::SignedIdentity`):
    /// whoever seals a secret to this signer checks it, so a coordinator cannot substitute a
    /// key of its own.
    #[serde(with = "tessera_audit::hexser")]
    pub identity_proof: [u8; 64],
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
    /// The networks the wallet may sign chain payloads on, `chain:network` (`bitcoin:mainnet`,
    /// `ethereum:sepolia`, `solana:devnet`), sorted, without duplicates, 1 to 16. Bound into
    /// the authorization and kept by every signer, which refuses a payload for any other
    /// network.
    #[serde(default)]
    pub networks: Vec<String>,
    /// Operator authorization (`Action::Keygen` with the same fields; `Action::Import` with
    /// the same fields and the package's digest for an import).
    pub authorization: Authorization,
    /// Set to import an existing single-signature key instead of generating one: the
    /// importer's dealing, with each holder's share sealed to that holder (`tessera import`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<tessera_wire::ImportPackage>,
    /// Approvals of this key operation, when the policy asks for them: approvers' signatures
    /// over the authorization's request id and `tessera_wire::key_operation_hash` of its
    /// action (`tessera key-op approve`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
}

/// `POST /v1/wallets/{id}/reshare`: new shares of the wallet's key — a proactive refresh (the
/// same signers and threshold), a replaced signer, or a new threshold and signer set. The key,
/// chain code and every address stay the same; the wallet's epoch goes up by one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReshareWallet {
    /// Signers needed afterwards.
    pub threshold: u16,
    /// The new holders, in party-index order.
    pub signers: Vec<NodeId>,
    /// The dealers as `[new party index, current party index]`: at least the current
    /// threshold of current holders, each also a new holder (the same node at both indices).
    pub dealers: Vec<(u16, u16)>,
    /// Operator authorization (`Action::Reshare` with the same fields and the next epoch).
    pub authorization: Authorization,
    /// Approvals of this key operation, when the policy asks for them (as for
    /// [`CreateWallet::approvals`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
}

/// `POST /v1/wallets/{id}/retire`: the wallet's holders take part in nothing for it any more
/// (after its key was exported to another implementation, say). The shares stay in the vaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetireWallet {
    /// Operator authorization (`Action::Retire` with the wallet id and its epoch in force).
    pub authorization: Authorization,
    /// Approvals of this key operation, when the policy asks for them (as for
    /// [`CreateWallet::approvals`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
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
    /// Retired (`POST /v1/wallets/{id}/retire`): its holders take part in nothing for it.
    Retired,
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
    /// Each signer's signature over the wallet it generated
    /// ([`crate::attestation::verify_wallet`] checks them); relayed unchanged.
    #[serde(default)]
    pub attestations: Vec<crate::attestation::WalletAttestation>,
    /// The networks the wallet may sign chain payloads on (`chain:network`, sorted), covered
    /// by the attestations.
    #[serde(default)]
    pub networks: Vec<String>,
    /// The key's share epoch: 0 from key generation, one more after each reshare (refresh,
    /// replaced signer, new threshold). The key and every address never change with it.
    #[serde(default)]
    pub epoch: u32,
    /// The epoch a decided reshare is still committing at its holders (some were unreachable
    /// so far; the coordinator retries until every one committed). Absent otherwise; `epoch`
    /// stays the previous one until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committing_epoch: Option<u32>,
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
    /// New shares of an existing key (refresh, replaced signer, new threshold).
    Reshare,
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
    /// Why, as a stable code ([`ErrorCode`]; `snake_case` in JSON).
    pub code: ErrorCode,
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
    /// The request field the error is about (chain payload errors), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
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

/// A chain payload as the API takes it: raw bytes (hex or base64) in a named format, or the
/// adapter's JSON builder form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "encoding", rename_all = "snake_case")]
pub enum PayloadInput {
    /// Raw bytes, hex (an optional `0x` prefix is accepted).
    Hex {
        /// Payload format (`psbt`, `eip1559`, `eip155`, `eip712`, `personal_sign`,
        /// `solana_message`).
        format: String,
        /// The bytes.
        data: String,
    },
    /// Raw bytes, standard base64 (PSBTs are usually exchanged this way).
    Base64 {
        /// Payload format.
        format: String,
        /// The bytes.
        data: String,
    },
    /// The chain adapter's JSON builder description (see `tessera tx build --help`).
    Builder {
        /// Builder spec.
        spec: serde_json::Value,
    },
}

impl PayloadInput {
    /// The raw payload for the hex and base64 forms (`None` for a builder spec); the error
    /// names the bad field.
    pub fn raw(&self) -> Option<Result<Payload, String>> {
        use base64::Engine;
        match self {
            PayloadInput::Hex { format, data } => Some(
                hex::decode(data.trim().trim_start_matches("0x"))
                    .map(|bytes| Payload {
                        format: format.clone(),
                        bytes,
                    })
                    .map_err(|e| format!("payload.data: not hex: {e}")),
            ),
            PayloadInput::Base64 { format, data } => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map(|bytes| Payload {
                        format: format.clone(),
                        bytes,
                    })
                    .map_err(|e| format!("payload.data: not base64: {e}")),
            ),
            PayloadInput::Builder { .. } => None,
        }
    }
}

/// `POST /v1/wallets/{id}/transactions/build`: parse (or build) a payload and show its intent,
/// without signing anything.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildTransaction {
    /// Chain adapter id: `bitcoin`, `ethereum`, `solana`.
    pub chain: String,
    /// Network of that chain.
    pub network: String,
    /// Derivation path of the wallet key that signs, `m` by default.
    #[serde(default = "root_path")]
    pub path: String,
    /// The payload.
    pub payload: PayloadInput,
}

/// The intent of a payload, as the coordinator parsed it. Signers recompute it themselves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransactionPreview {
    /// Wallet.
    pub wallet_id: String,
    /// Chain.
    pub chain: String,
    /// Network.
    pub network: String,
    /// Derivation path.
    pub path: String,
    /// The wallet's address at `path` on this chain.
    pub address: String,
    /// The raw payload (hex), to authorize and submit.
    pub payload: Payload,
    /// What the payload does.
    pub intent: Intent,
    /// The intent in plain language.
    pub summary: String,
    /// `tessera_chain::intent_hash` (hex): what an authorization must cover.
    pub intent_hash: String,
    /// Number of signatures the payload needs.
    pub messages: u32,
}

/// `POST /v1/wallets/{id}/transactions`: sign a chain payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateTransaction {
    /// Client-chosen unique id (bound into the authorization; signers refuse a replay).
    pub request_id: String,
    /// Chain adapter id.
    pub chain: String,
    /// Network.
    pub network: String,
    /// Derivation path, `m` by default.
    #[serde(default = "root_path")]
    pub path: String,
    /// The payload.
    pub payload: PayloadInput,
    /// Operator authorization (`Action::SignTransaction` over the intent hash).
    pub authorization: Authorization,
}

/// A transaction request (public data only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransactionInfo {
    /// Client request id.
    pub request_id: String,
    /// Wallet.
    pub wallet_id: String,
    /// Chain.
    pub chain: String,
    /// Network.
    pub network: String,
    /// Derivation path.
    pub path: String,
    /// The wallet's address at `path`.
    pub address: String,
    /// Status.
    pub status: SessionStatus,
    /// What the payload does.
    pub intent: Intent,
    /// The intent in plain language.
    pub summary: String,
    /// Intent hash (hex).
    pub intent_hash: String,
    /// The raw payload.
    pub payload: Payload,
    /// The signing sessions, one per message, in order (see `GET /v1/sessions/{id}`).
    pub sessions: Vec<String>,
    /// Signatures so far, in message order.
    pub signatures: Vec<Signature>,
    /// The signed transaction once done, checked by the chain's independent verifier.
    pub signed: Option<SignedTransaction>,
    /// Failure, if failed.
    pub error: Option<SessionError>,
    /// Start (ms since epoch).
    pub created_at_ms: u64,
    /// End (ms since epoch).
    pub finished_at_ms: Option<u64>,
    /// Where the request is in its lifecycle.
    pub state: RequestState,
    /// The coordinator's policy evaluation (each signer evaluates again on its own).
    pub policy: Option<PolicyOutcome>,
    /// Approvals and rejections received so far.
    pub approvals: Vec<Approval>,
    /// The request expires at this time (unix seconds; the authorization's expiry).
    pub expires_at: u64,
}

/// Lifecycle of a signing request: `received → policy → awaiting_approvals → approved →
/// signing → signed | rejected | expired | failed` (`allow` skips the approval states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Accepted by the API, not yet evaluated.
    Received,
    /// Being evaluated.
    Policy,
    /// Allowed once a quorum of approvals arrives.
    AwaitingApprovals,
    /// The quorum is met; signing starts.
    Approved,
    /// Signers are running.
    Signing,
    /// Signed (and independently verified for chain payloads).
    Signed,
    /// Denied by policy, rejected by an approver or refused by the signers' own policy.
    Rejected,
    /// Not approved or signed before its expiry.
    Expired,
    /// Signing failed for another reason.
    Failed,
}

impl RequestState {
    /// Whether no further change happens.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestState::Signed
                | RequestState::Rejected
                | RequestState::Expired
                | RequestState::Failed
        )
    }
}

/// One role's share of an approval quorum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumNeed {
    /// Approver role.
    pub role: String,
    /// Distinct approvers of that role needed.
    pub count: u32,
}

/// A policy decision as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyOutcome {
    /// Bundle version evaluated.
    pub version: u64,
    /// `deny`, `allow` or `allow_with_approvals`.
    pub decision: String,
    /// Policies that decided.
    pub policy_ids: Vec<String>,
    /// Deny reasons in plain language (empty unless `deny`).
    pub reasons: Vec<String>,
    /// Approvals needed (empty unless `allow_with_approvals`).
    pub quorum: Vec<QuorumNeed>,
}

/// `GET /v1/requests[/{id}]`: a signing request (transaction or digest) with what an approver
/// needs to decide.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestInfo {
    /// Client request id.
    pub request_id: String,
    /// `transaction` or `sign` (a digest or message without chain payload).
    pub kind: String,
    /// Wallet.
    pub wallet_id: String,
    /// Lifecycle state.
    pub state: RequestState,
    /// The intent in plain language (for a raw digest: a warning naming it so).
    pub summary: String,
    /// The intent, for chain payloads.
    pub intent: Option<Intent>,
    /// Intent hash (hex) that approvals sign.
    pub intent_hash: String,
    /// For a request without chain payload (`kind` `sign`): the derivation path and the
    /// message as the requester authorized them, so an approver recomputes `intent_hash`
    /// (`tessera_wire::message_intent_hash`) instead of trusting it.
    #[serde(default)]
    pub message: Option<RequestMessage>,
    /// Risk flags of the intent (snake_case).
    pub risk_flags: Vec<String>,
    /// Policy evaluation.
    pub policy: Option<PolicyOutcome>,
    /// Approvals and rejections so far.
    pub approvals: Vec<Approval>,
    /// Expiry (unix seconds).
    pub expires_at: u64,
    /// Failure or refusal, if any.
    pub error: Option<SessionError>,
    /// Received (ms since epoch).
    pub created_at_ms: u64,
    /// Last state change (ms since epoch).
    pub updated_at_ms: u64,
}

/// What a request without chain payload signs ([`RequestInfo::message`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMessage {
    /// Derivation path.
    pub path: String,
    /// The message, as submitted.
    pub message: MessageInput,
}

/// A server-sent event on `GET /v1/events` (event name `request`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEvent {
    /// Request.
    pub request_id: String,
    /// New state.
    pub state: RequestState,
    /// When (ms since epoch).
    pub at_ms: u64,
}

/// `GET /v1/policy`: the bundle in force at the coordinator and the operating mode.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyInfo {
    /// Bundle version (0: none installed).
    pub version: u64,
    /// Tenant.
    pub tenant: String,
    /// Bundle hash (hex).
    pub bundle_hash: String,
    /// Policy ids in the bundle.
    pub policy_ids: Vec<String>,
    /// Operating mode: `normal`, `degraded` or `lockdown`.
    pub mode: String,
    /// When the mode change in force expires (unix seconds), if any.
    pub mode_expires_at: Option<u64>,
    /// Signers that report this bundle version.
    pub signers_current: Vec<NodeId>,
}

/// How one wallet's signer group stands against the degraded margin (`GET /v1/mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupHealth {
    /// At least `threshold + margin` of its signers are healthy.
    Healthy,
    /// It can still sign, but fewer than `threshold + margin` of its signers are healthy.
    BelowMargin,
    /// Fewer than `threshold` of its signers are healthy: it cannot sign.
    Unavailable,
}

/// A wallet whose signer group is below the degraded margin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletHealth {
    /// Wallet.
    pub wallet_id: String,
    /// Signers needed to sign.
    pub threshold: u16,
    /// Signers in the group.
    pub signers: u16,
    /// Signers of the group that are healthy now.
    pub healthy: u16,
    /// Where that leaves the wallet.
    pub state: GroupHealth,
}

/// `GET /v1/mode`: the operating mode in force and what the coordinator recommends from the
/// health of the signers. The coordinator never changes the mode itself: entering or leaving a
/// mode is a change signed by the admin quorum (`PUT /v1/mode`, `tessera mode set`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeStatus {
    /// Mode in force: `normal`, `degraded` or `lockdown`.
    pub mode: String,
    /// Sequence number of the last accepted mode change (0: none).
    pub seq: u64,
    /// Why the mode in force was entered (empty in `normal` without a change in force).
    pub reason: String,
    /// When the change in force expires (unix seconds), if one is in force.
    pub expires_at: Option<u64>,
    /// What signer health calls for: `degraded` while some wallet is below the margin,
    /// `normal` once all are back, `lockdown` only while a lockdown is in force (only admins
    /// lift it).
    pub recommended: String,
    /// The recommendation in plain language.
    pub recommendation: String,
    /// Since when (ms since epoch) the recommendation has held.
    pub recommended_since_ms: u64,
    /// A wallet is below the margin while fewer than `threshold + margin` of its signers are
    /// healthy.
    pub margin: u16,
    /// Signers enrolled.
    pub signers_enrolled: u32,
    /// Enrolled signers linked now that run the bundle version in force.
    pub signers_healthy: Vec<NodeId>,
    /// Ready wallets.
    pub wallets_total: u32,
    /// Ready wallets below the margin (at most 100 listed, most affected first).
    pub wallets_below_margin: Vec<WalletHealth>,
    /// How many ready wallets are below the margin in all.
    pub wallets_below_margin_count: u32,
}

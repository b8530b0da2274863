//! Signed checkpoints: a log owner's signature over its head, to detect a cut-off tail or a
//! rewritten history in an export.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::verify::VerifyReport;

/// Domain tag at the start of [`Checkpoint::signing_bytes`].
pub const CHECKPOINT_DOMAIN: &str = "tessera/audit/checkpoint/v1";

/// A signed statement "log `chain_id` had head `(seq, hash)`". Serialized (serde) with `hash`,
/// `key` and `signature` as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The log's chain id.
    pub chain_id: String,
    /// Head sequence number (0 for an empty log).
    pub seq: u64,
    /// Hash of entry `seq` (the genesis hash for an empty log).
    #[serde(with = "crate::hexser")]
    pub hash: [u8; 32],
    /// The signer's Ed25519 public key.
    #[serde(with = "crate::hexser")]
    pub key: [u8; 32],
    /// Ed25519 signature over [`Checkpoint::signing_bytes`].
    #[serde(with = "crate::hexser")]
    pub signature: [u8; 64],
}

/// Why an export does not match a checkpoint (or the checkpoint is not valid).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The checkpoint is signed by another key than the trusted one.
    #[error("checkpoint is signed by an untrusted key")]
    UntrustedKey,
    /// The signature does not verify.
    #[error("checkpoint signature is invalid")]
    BadSignature,
    /// The checkpoint is about another log.
    #[error("checkpoint is for chain {checkpoint:?}, the export is chain {export:?}")]
    WrongChain {
        /// Chain id in the checkpoint.
        checkpoint: String,
        /// Chain id in the export.
        export: String,
    },
    /// The export ends before the checkpointed head: its tail was cut off.
    #[error("export ends at entry {export_head_seq}, but the checkpoint covers entry {checkpoint_seq}: truncated")]
    Truncated {
        /// The checkpoint's head.
        checkpoint_seq: u64,
        /// The export's head.
        export_head_seq: u64,
    },
    /// The export's entry `seq` has another hash than the checkpoint: history up to `seq` was
    /// rewritten (with recomputed hashes).
    #[error("export differs from the checkpoint at entry {seq}: history rewritten")]
    Rewritten {
        /// The checkpoint's head.
        seq: u64,
    },
}

impl Checkpoint {
    /// Signs head `(seq, hash)` of chain `chain_id`.
    pub fn sign(chain_id: &str, seq: u64, hash: [u8; 32], key: &SigningKey) -> Checkpoint {
        let signature = key.sign(&Self::signing_bytes(chain_id, seq, &hash));
        Checkpoint {
            chain_id: chain_id.to_string(),
            seq,
            hash,
            key: key.verifying_key().to_bytes(),
            signature: signature.to_bytes(),
        }
    }

    /// `str("tessera/audit/checkpoint/v1") || str(chain_id) || u64(seq) || hash`, with `str`
    /// and `u64` as in the entry hash (8-byte big-endian lengths and integers).
    pub fn signing_bytes(chain_id: &str, seq: u64, hash: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + CHECKPOINT_DOMAIN.len() + 8 + chain_id.len() + 40);
        for s in [CHECKPOINT_DOMAIN, chain_id] {
            out.extend_from_slice(&(s.len() as u64).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(hash);
        out
    }

    /// Checks that the checkpoint is signed by `trusted_key` ([`CheckpointError::UntrustedKey`])
    /// and that the signature verifies strictly ([`CheckpointError::BadSignature`]).
    pub fn verify(&self, trusted_key: &VerifyingKey) -> Result<(), CheckpointError> {
        if self.key != trusted_key.to_bytes() {
            return Err(CheckpointError::UntrustedKey);
        }
        let bytes = Self::signing_bytes(&self.chain_id, self.seq, &self.hash);
        trusted_key
            .verify_strict(&bytes, &Signature::from_bytes(&self.signature))
            .map_err(|_| CheckpointError::BadSignature)
    }
}

/// Checks a verified export against a checkpoint signed by `trusted_key`: the signature
/// ([`Checkpoint::verify`]), the chain id, that the export reaches the checkpointed entry
/// ([`CheckpointError::Truncated`]) and that its hash there is the checkpointed one
/// ([`CheckpointError::Rewritten`]). The export may have grown since the checkpoint.
pub fn verify_against_checkpoint(
    report: &VerifyReport,
    checkpoint: &Checkpoint,
    trusted_key: &VerifyingKey,
) -> Result<(), CheckpointError> {
    checkpoint.verify(trusted_key)?;
    verify_against_head(
        report,
        &checkpoint.chain_id,
        checkpoint.seq,
        &checkpoint.hash,
    )
}

/// The checks of [`verify_against_checkpoint`] after the signature, for a head whose signature
/// the caller verified another way (e.g. a signer's node identity key): the export is chain
/// `chain_id` ([`CheckpointError::WrongChain`]), reaches entry `seq`
/// ([`CheckpointError::Truncated`]) and has hash `hash` there ([`CheckpointError::Rewritten`]).
/// The export may go past `seq`; compare [`VerifyReport::head_seq`] for an exact end.
pub fn verify_against_head(
    report: &VerifyReport,
    chain_id: &str,
    seq: u64,
    hash: &[u8; 32],
) -> Result<(), CheckpointError> {
    if chain_id != report.chain_id {
        return Err(CheckpointError::WrongChain {
            checkpoint: chain_id.to_string(),
            export: report.chain_id.clone(),
        });
    }
    if seq > report.head_seq {
        return Err(CheckpointError::Truncated {
            checkpoint_seq: seq,
            export_head_seq: report.head_seq,
        });
    }
    if report.hash_at(seq) != Some(*hash) {
        return Err(CheckpointError::Rewritten { seq });
    }
    Ok(())
}

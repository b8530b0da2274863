//! A signer's audit log, read through the coordinator: pages of its export lines and its
//! **signed head**, and the verifier's side ([`ExportBuilder`], [`verify_signer_export`]).
//!
//! The coordinator only relays. What stops it from cutting off or rewriting a signer's log in
//! transit is the head the signer signs with its node identity key:
//!
//! ```text
//! IdentityKey::sign("tessera/audit-head/v1",
//!     Checkpoint::signing_bytes(chain_id, seq, hash) || challenge(32))
//! ```
//!
//! `Checkpoint::signing_bytes` is `tessera_audit`'s checkpoint encoding
//! (`str("tessera/audit/checkpoint/v1") || str(chain_id) || u64(seq) || hash`); `challenge` is
//! 32 random bytes the verifier put in its request, so an older signed head cannot be replayed
//! to hide the newest entries. A verifier checks the signature against the node id it asked
//! for, that the chain id is that node's (`signer:<node id hex>`), that the pages verify as a
//! standard export (`tessera_audit::verify_export`) and that the export ends exactly at the
//! signed head (`tessera_audit::verify_against_head`, plus no entry past it).

use serde::{Deserialize, Serialize};
use tessera_audit::{
    export_header, verify_against_head, verify_export, Checkpoint, CheckpointError, VerifyError,
    VerifyReport,
};
use tessera_wire::{IdentityKey, NodeId};

use crate::view::{SignedView, ViewError};

/// Domain of the signer's head signature (`IdentityKey::sign`).
pub const AUDIT_HEAD_DOMAIN: &str = "tessera/audit-head/v1";
/// Most entries in one page; larger requests are capped to it.
pub const MAX_AUDIT_PAGE: u32 = 1000;
/// A page stops adding entries once its lines reach this many bytes (it always carries at least
/// one entry if there is one), so a frame stays well below the link's frame limit.
pub const MAX_AUDIT_PAGE_BYTES: usize = 4 << 20;

/// The chain id of a signer's audit log: `signer:<node id hex>`.
pub fn signer_chain_id(node: &NodeId) -> String {
    format!("signer:{}", hex::encode(node.0))
}

/// "Signer `node_id`'s log `chain_id` has head (`seq`, `hash`)", signed by that node's identity
/// key over a verifier's `challenge` (see the module docs). Serialized with `hash`,
/// `challenge` and `signature` as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedHead {
    /// The signer.
    pub node_id: NodeId,
    /// Its log's chain id ([`signer_chain_id`]).
    pub chain_id: String,
    /// Seq of the newest entry (0 for an empty log).
    pub seq: u64,
    /// Its hash (the genesis hash for an empty log).
    #[serde(with = "tessera_audit::hexser")]
    pub hash: [u8; 32],
    /// The verifier's challenge this head was signed over.
    #[serde(with = "tessera_audit::hexser")]
    pub challenge: [u8; 32],
    /// Ed25519 signature by the node identity key under [`AUDIT_HEAD_DOMAIN`].
    #[serde(with = "tessera_audit::hexser")]
    pub signature: [u8; 64],
}

impl SignedHead {
    /// The message signed under [`AUDIT_HEAD_DOMAIN`].
    pub fn signing_bytes(
        chain_id: &str,
        seq: u64,
        hash: &[u8; 32],
        challenge: &[u8; 32],
    ) -> Vec<u8> {
        let mut out = Checkpoint::signing_bytes(chain_id, seq, hash);
        out.extend_from_slice(challenge);
        out
    }

    /// Signs head (`seq`, `hash`) of `key`'s log over `challenge`.
    pub fn sign(key: &IdentityKey, seq: u64, hash: [u8; 32], challenge: [u8; 32]) -> SignedHead {
        let node_id = key.node_id();
        let chain_id = signer_chain_id(&node_id);
        let signature = key.sign(
            AUDIT_HEAD_DOMAIN,
            &Self::signing_bytes(&chain_id, seq, &hash, &challenge),
        );
        SignedHead {
            node_id,
            chain_id,
            seq,
            hash,
            challenge,
            signature,
        }
    }

    /// Checks that this head is `expected`'s ([`SignerAuditError::WrongSigner`]), about its log
    /// ([`SignerAuditError::WrongChain`]), and that the signature verifies
    /// ([`SignerAuditError::BadSignature`]).
    pub fn verify(&self, expected: &NodeId) -> Result<(), SignerAuditError> {
        if self.node_id != *expected {
            return Err(SignerAuditError::WrongSigner {
                expected: *expected,
                found: self.node_id,
            });
        }
        let chain_id = signer_chain_id(expected);
        if self.chain_id != chain_id {
            return Err(SignerAuditError::WrongChain {
                expected: chain_id,
                found: self.chain_id.clone(),
            });
        }
        let bytes = Self::signing_bytes(&self.chain_id, self.seq, &self.hash, &self.challenge);
        expected
            .verify(AUDIT_HEAD_DOMAIN, &bytes, &self.signature)
            .map_err(|_| SignerAuditError::BadSignature)
    }
}

/// One page of a signer's audit log, as the signer sent it (and `GET
/// /v1/signers/{node_id}/audit` returns it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPage {
    /// The log's chain id.
    pub chain_id: String,
    /// Seq of the first entry asked for (0 counts as 1).
    pub from_seq: u64,
    /// Entries `from_seq`, `from_seq + 1`, … up to at most the head, each as its canonical
    /// export line without the newline (`tessera_audit::Entry::to_json_line`).
    pub entries: Vec<String>,
    /// The log's head when the page was read, signed over the request's challenge.
    pub head: SignedHead,
    /// The signer's own view of its policy and mode at that head, signed over the same
    /// challenge.
    pub view: SignedView,
}

impl AuditPage {
    /// Checks the page's signed view: `node`'s, over `challenge`, naming the page's head.
    pub fn verify_view(&self, node: &NodeId, challenge: &[u8; 32]) -> Result<(), ViewError> {
        self.view.verify(node, challenge)?;
        if (self.view.view.audit_seq, self.view.view.audit_hash) != (self.head.seq, self.head.hash)
        {
            return Err(ViewError::OtherHead);
        }
        Ok(())
    }
}

/// Why a signer could not answer an audit page request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum AuditPageError {
    /// The log could not be read (storage failure).
    #[error("the signer cannot read its audit log: {0}")]
    Unavailable(String),
    /// The stored chain fails verification: the signer's own file was tampered with.
    #[error("the signer's stored audit log fails verification: {0}")]
    Corrupt(String),
    /// The signer is already serving as many audit reads as it allows; ask again later.
    #[error("the signer is busy with other audit reads; retry")]
    Busy,
}

/// Why a signer's export, fetched or from files, is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignerAuditError {
    /// The head is signed by (or claims to be) another node than the one asked for.
    #[error("the head is signer {found}'s, expected {expected}")]
    WrongSigner {
        /// Asked for.
        expected: NodeId,
        /// In the head.
        found: NodeId,
    },
    /// The head or a page is about another log than the signer's.
    #[error("audit log chain {found:?}, expected {expected:?}")]
    WrongChain {
        /// The signer's chain id.
        expected: String,
        /// Found.
        found: String,
    },
    /// The head signature does not verify against the node id.
    #[error("the head signature does not verify against the signer's node id")]
    BadSignature,
    /// The head was signed over another challenge than this request's: a replayed (older)
    /// answer.
    #[error("the head was not signed over this request's challenge (replayed answer)")]
    WrongChallenge,
    /// A page starts at another entry than the one asked for.
    #[error("page starts at entry {found}, expected {expected}")]
    OutOfOrder {
        /// Asked for.
        expected: u64,
        /// In the page.
        found: u64,
    },
    /// A page came back empty although its head says entries remain.
    #[error("empty page at entry {next_seq} although the signed head is at entry {head_seq}")]
    Incomplete {
        /// The next entry asked for.
        next_seq: u64,
        /// The page's signed head.
        head_seq: u64,
    },
    /// The assembled export does not verify (an edited, missing or reordered entry).
    #[error("signer export does not verify: {0}")]
    Export(VerifyError),
    /// The export does not reach the signed head, or differs from it: cut off or rewritten.
    #[error("signer export does not match its signed head: {0}")]
    Head(CheckpointError),
    /// The export goes past the signed head.
    #[error("signer export ends at entry {export_head_seq}, past its signed head {head_seq}")]
    Extended {
        /// The signed head.
        head_seq: u64,
        /// The export's last entry.
        export_head_seq: u64,
    },
    /// The page's signed view of the signer's policy does not verify, or names another audit
    /// head than the page's.
    #[error("signer view: {0}")]
    View(#[from] ViewError),
}

/// A signer's export that verified against its signed head.
#[derive(Debug, Clone)]
pub struct VerifiedSignerExport {
    /// The standard export (JSON Lines, header first), what `tessera audit verify` reads.
    pub export: String,
    /// The signed head it ends at.
    pub head: SignedHead,
    /// The verification report.
    pub report: VerifyReport,
}

/// Assembles a signer's export from pages, checking each page's signed head as it arrives.
///
/// Ask for a page from [`ExportBuilder::next_seq`] with a fresh challenge, [`push`] the answer
/// with that challenge until it returns `true`, then [`finish`].
///
/// [`push`]: ExportBuilder::push
/// [`finish`]: ExportBuilder::finish
#[derive(Debug)]
pub struct ExportBuilder {
    node: NodeId,
    chain_id: String,
    text: String,
    next_seq: u64,
    head: Option<SignedHead>,
}

impl ExportBuilder {
    /// For signer `node`.
    pub fn new(node: NodeId) -> Self {
        let chain_id = signer_chain_id(&node);
        let mut text = export_header(&chain_id);
        text.push('\n');
        ExportBuilder {
            node,
            chain_id,
            text,
            next_seq: 1,
            head: None,
        }
    }

    /// The seq to ask for next.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Adds the answer to a request made with `challenge` for [`next_seq`](Self::next_seq).
    /// Returns `true` once the pages reach the page's signed head.
    pub fn push(
        &mut self,
        page: AuditPage,
        challenge: &[u8; 32],
    ) -> Result<bool, SignerAuditError> {
        page.head.verify(&self.node)?;
        if page.head.challenge != *challenge {
            return Err(SignerAuditError::WrongChallenge);
        }
        page.verify_view(&self.node, challenge)?;
        if page.chain_id != self.chain_id {
            return Err(SignerAuditError::WrongChain {
                expected: self.chain_id.clone(),
                found: page.chain_id,
            });
        }
        if page.from_seq.max(1) != self.next_seq {
            return Err(SignerAuditError::OutOfOrder {
                expected: self.next_seq,
                found: page.from_seq,
            });
        }
        if page.entries.is_empty() && page.head.seq >= self.next_seq {
            return Err(SignerAuditError::Incomplete {
                next_seq: self.next_seq,
                head_seq: page.head.seq,
            });
        }
        for line in &page.entries {
            if line.contains('\n') {
                return Err(SignerAuditError::Export(VerifyError::Malformed {
                    line: self.next_seq.saturating_add(1),
                    reason: "a page entry holds a newline".into(),
                }));
            }
            self.text.push_str(line);
            self.text.push('\n');
            self.next_seq = self.next_seq.saturating_add(1);
        }
        let done = self.next_seq > page.head.seq;
        self.head = Some(page.head);
        Ok(done)
    }

    /// Verifies the assembled export against the last page's signed head.
    pub fn finish(self) -> Result<VerifiedSignerExport, SignerAuditError> {
        let head = self.head.ok_or(SignerAuditError::Incomplete {
            next_seq: self.next_seq,
            head_seq: 0,
        })?;
        let report = check_export(&self.node, self.text.as_bytes(), &head)?;
        Ok(VerifiedSignerExport {
            export: self.text,
            head,
            report,
        })
    }
}

/// Verifies a signer's export (JSON Lines) against its signed head, offline: the head is
/// `node`'s and its signature verifies, the export verifies, is `node`'s log and ends exactly
/// at the head. With `challenge`, the head must have been signed over it.
pub fn verify_signer_export(
    node: &NodeId,
    export: &[u8],
    head: &SignedHead,
    challenge: Option<&[u8; 32]>,
) -> Result<VerifyReport, SignerAuditError> {
    head.verify(node)?;
    if challenge.is_some_and(|c| *c != head.challenge) {
        return Err(SignerAuditError::WrongChallenge);
    }
    check_export(node, export, head)
}

fn check_export(
    node: &NodeId,
    export: &[u8],
    head: &SignedHead,
) -> Result<VerifyReport, SignerAuditError> {
    head.verify(node)?;
    let report = verify_export(export).map_err(SignerAuditError::Export)?;
    verify_against_head(&report, &head.chain_id, head.seq, &head.hash)
        .map_err(SignerAuditError::Head)?;
    if report.head_seq != head.seq {
        return Err(SignerAuditError::Extended {
            head_seq: head.seq,
            export_head_seq: report.head_seq,
        });
    }
    Ok(report)
}

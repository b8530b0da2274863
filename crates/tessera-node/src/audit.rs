//! The signer's own audit log: what it signed and refused, policy and mode changes.
//!
//! Every signer keeps its own hash-chained log (`tessera_audit`), so the coordinator's log can
//! be cross-checked against it (`tessera_audit::cross_check`: every `signature` and `refusal`
//! entry here has the request id as subject). A signer appends the entry of a signature
//! *before* it releases the signature or partial; if the append fails, it withholds it (fail
//! closed).
//!
//! The log is read back page-wise for the coordinator's `GET /v1/signers/{node_id}/audit`
//! ([`crate::Signer::audit_page`]): each page carries the head signed with the node's identity
//! key (`tessera_proto::audit`), so a coordinator relaying it cannot cut off or rewrite it
//! unnoticed.

use tessera_audit::{AuditError, AuditLog, Entry, EntryKind, Head};
use tessera_wire::NodeId;

/// File name of a signer's audit log in its data directory (next to the vault).
pub const AUDIT_FILE: &str = "signer-audit.db";

/// The chain id of a signer's audit log: `signer:<node id hex>`.
pub fn audit_chain_id(node: &NodeId) -> String {
    tessera_proto::audit::signer_chain_id(node)
}

/// Where a signer appends its audit entries and reads them back. [`AuditLog`] is the
/// implementation; the trait lets tests inject a failing log.
pub trait AuditSink: Send + Sync + 'static {
    /// The log's chain id (must be [`audit_chain_id`] of the signer).
    fn chain_id(&self) -> &str;

    /// Appends one entry; once this returns `Ok` it is durable.
    fn append(
        &self,
        actor: &str,
        kind: EntryKind,
        subject: &str,
        body: serde_json::Value,
        time_ms: u64,
    ) -> Result<(), AuditError>;

    /// The newest entry's seq and hash (`(0, genesis)` for an empty log).
    fn head(&self) -> Result<Head, AuditError>;

    /// Up to `limit` entries from `from_seq` (0 counts as 1), oldest first, each re-hashed and
    /// linked to its predecessor (see [`AuditLog::entries`]).
    fn entries(&self, from_seq: u64, limit: usize) -> Result<Vec<Entry>, AuditError>;
}

impl AuditSink for AuditLog {
    fn chain_id(&self) -> &str {
        AuditLog::chain_id(self)
    }

    fn append(
        &self,
        actor: &str,
        kind: EntryKind,
        subject: &str,
        body: serde_json::Value,
        time_ms: u64,
    ) -> Result<(), AuditError> {
        AuditLog::append(self, actor, kind, subject, body, time_ms).map(|_| ())
    }

    fn head(&self) -> Result<Head, AuditError> {
        AuditLog::head(self)
    }

    fn entries(&self, from_seq: u64, limit: usize) -> Result<Vec<Entry>, AuditError> {
        AuditLog::entries(self, from_seq, limit)
    }
}

//! The signer's own audit log: what it signed and refused, policy and mode changes.
//!
//! Every signer keeps its own hash-chained log (`tessera_audit`), so the coordinator's log can
//! be cross-checked against it (`tessera_audit::cross_check`: every `signature` and `refusal`
//! entry here has the request id as subject). A signer appends the entry of a signature
//! *before* it releases the signature or partial; if the append fails, it withholds it (fail
//! closed).

use tessera_audit::{AuditError, AuditLog, EntryKind};
use tessera_wire::NodeId;

/// File name of a signer's audit log in its data directory (next to the vault).
pub const AUDIT_FILE: &str = "signer-audit.db";

/// The chain id of a signer's audit log: `signer:<node id hex>`.
pub fn audit_chain_id(node: &NodeId) -> String {
    format!("signer:{}", hex::encode(node.0))
}

/// Where a signer appends its audit entries. [`AuditLog`] is the implementation; the trait lets
/// tests inject a failing log.
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
}

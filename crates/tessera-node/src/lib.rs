//! The Tessera signer node as a library: the custody boundary.
//!
//! A signer holds its key shares and presignatures in its own encrypted vault
//! (`tessera-vault`), connects *out* to one or more coordinators ([`link`]), and for every
//! session request decides on its own whether to take part ([`signer`]): the roster must match
//! the wallet's group, a trusted requester must have authorized exactly this request, the
//! signer's own copy of the policy (`tessera-policy`, installed only with an admin quorum) must
//! allow what the signer itself parsed from the payload, with the approvals and within the
//! velocity limits it requires, and neither the session id nor the request may have been used
//! before. Every signature and refusal goes to the signer's own audit log ([`audit`]). Protocol
//! messages are sealed end to end (`tessera-wire`); the coordinator only relays them.
//!
//! Clock, randomness for ids, thread spawning and the network are injected, so tests and a
//! deterministic simulation can run many signers in one process.

pub mod audit;
mod book;
mod exchange;
pub mod link;
mod policy;
pub mod primes;
mod runner;
pub mod signer;

pub use audit::{audit_chain_id, AuditSink, AUDIT_FILE};
pub use link::CoordinatorTarget;
pub use primes::PrimeSource;
pub use runner::Input;
pub use signer::{NodeError, Outbound, Signer, SignerOptions, Spawn, ThreadSpawner};

//! The Tessera coordinator as a library: REST API, session orchestration, the relay between
//! signers, the store and metrics.
//!
//! The coordinator is trusted for liveness only: it sees public data and sealed envelopes, never
//! a share or a plaintext peer-to-peer message, and cannot make a signer sign anything its own
//! policy forbids. It runs the request lifecycle (policy evaluation, approvals, expiry, events)
//! and keeps a hash-chained audit log ([`lifecycle`]). Clock, randomness, store and audit log
//! are injected ([`Coordinator::new`]).

pub mod api;
pub mod auth;
pub mod coordinator;
pub mod health;
pub mod hub;
mod leave;
pub mod lifecycle;
pub mod metrics;
mod reshare;
mod retire;
pub mod server;
pub mod store;

pub use auth::{ApiTokens, TokenError};
pub use coordinator::{Config, CoordError, Coordinator, Entropy, OsEntropy};
pub use lifecycle::{audit_chain_id, open_audit_log};
pub use store::{SqliteStore, Store};

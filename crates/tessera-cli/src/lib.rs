//! The `tessera` command as a library: daemons, the local cluster, the demo, chain
//! transactions, policy and approvals, the approver's local approvals console, and the signing
//! benchmark. `main.rs` only parses arguments.

pub mod backup;
pub mod benchlifecycle;
pub mod benchsign;
pub mod benchsoak;
pub mod cluster;
pub mod console;
pub mod daemon;
pub mod demo;
pub mod export;
pub mod governance;
pub mod import;
pub mod import_key;
pub mod incident;
pub mod keyop;
pub mod progress;
pub mod recover;
pub mod refresh_schedule;
pub mod reshare;
pub mod tx;
pub mod verify;
pub mod vouch;

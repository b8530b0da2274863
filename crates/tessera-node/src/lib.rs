//! The Tessera signer node as a library: the custody boundary.
//!
//! A signer holds its key shares and presignatures in its own encrypted vault
//! (`tessera-vault`), connects *out* to one or more coordinators ([`link`]), and for every
//! session request decides on its own whether to take part ([`signer`]): the roster must match
//! the wallet's group, an operator must have authorized exactly this request, and neither the
//! session id nor the request may have been used before. Protocol messages are sealed end to end
//! (`tessera-wire`); the coordinator only relays them.
//!
//! Clock, randomness for ids, thread spawning and the network are injected, so tests and a
//! deterministic simulation can run many signers in one process.

pub mod link;
pub mod primes;
mod runner;
pub mod signer;

pub use link::CoordinatorTarget;
pub use primes::PrimeSource;
pub use runner::Input;
pub use signer::{NodeError, Outbound, Signer, SignerOptions, Spawn, ThreadSpawner};

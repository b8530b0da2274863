//! What the coordinator and the signer nodes say to each other (the *link*), and the data types
//! of the coordinator's REST API.
//!
//! The link carries two kinds of traffic over one outbound connection per signer:
//! control frames (start a session, its outcome, status) in the clear *inside TLS*, and protocol
//! envelopes (`tessera_wire::Envelope`) that are signed end to end by the sending signer and,
//! for peer-to-peer messages, encrypted to the receiving signer. The coordinator routes the
//! envelopes without being able to read or change them.
//!
//! Nothing here does IO; frames are encoded with `postcard`, API types with JSON.

pub mod api;
pub mod attestation;
pub mod audit;
pub mod clock;
pub mod link;
pub mod roles;
pub mod states;
pub mod view;

pub use clock::{Clock, SystemClock};

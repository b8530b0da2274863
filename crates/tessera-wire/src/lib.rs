//! Layer 2, "wire": versioned sealed envelopes, node identities, authenticated encryption
//! between parties, and operator authorizations.
//!
//! Pure like `tessera-crypto`: no IO, no clock (callers pass `now_unix`), no threads, no global
//! state. Every function that needs randomness takes an `RngCore + CryptoRng`, so a
//! deterministic simulation can inject a seeded generator.
//!
//! # Identities
//!
//! A node's [`IdentityKey`] is an Ed25519 signing key plus an X25519 static secret. Its
//! [`NodeId`] is the Ed25519 verifying key; its [`PublicIdentity`] adds the X25519 public key
//! peers encrypt to. [`IdentityKey::sign`] signs `"tessera/identity-sig/v1" || u32 len(domain)
//! || domain || msg`, so a signature made for one purpose never verifies for another;
//! [`PublicIdentity::verify`] uses `verify_strict`. Secrets serialize as `"TSID" || 1 || ed25519
//! seed || x25519 secret` (69 bytes, in a `Zeroizing` buffer) and wipe themselves on drop.
//!
//! # Envelope format (version [`WIRE_VERSION`] = 1)
//!
//! All integers big-endian; [`Envelope::to_bytes`] and [`Envelope::from_bytes`] are exact
//! inverses and the parser is strict (no trailing bytes, no unknown tags, no overlong lengths),
//! so one envelope has exactly one encoding.
//!
//! ```text
//! header   = version u8 | session [32] | round u16 | from u16
//!          | to: 0x00 (broadcast) or 0x01 u16 (p2p) | sender NodeId [32]
//! body     = 0x00 | len u32 | payload                          (broadcast: Plain)
//!          | 0x01 | ephemeral X25519 pub [32] | len u32 | ct  (p2p: Sealed)
//! envelope = header | body | signature [64]
//! ```
//!
//! **Signed:** the sender signs `header | body` with its identity key under domain
//! [`ENVELOPE_SIG_DOMAIN`]. The signature covers the session id, round, both party indices, the
//! sender id, the ephemeral key and the ciphertext: nobody, the coordinator included, can
//! re-address, re-label or alter an envelope without breaking it.
//!
//! **Encrypted (p2p only):** [`seal`] draws a fresh ephemeral X25519 key, computes the DH with
//! the recipient's `kx` key (refusing low-order results) and derives the key
//! `HKDF-SHA256(ikm = shared, info = "tessera/wire/seal/v1" || ctx)` where
//! `ctx = header || recipient.sign || recipient.kx || ephemeral`. The payload is encrypted with
//! ChaCha20-Poly1305 under that key with `AAD = ctx` and a zero nonce (each key encrypts exactly
//! one message). Broadcast payloads travel in the clear, signed: every party must see the same
//! bytes, and they are public protocol data.
//!
//! # Opening
//!
//! An [`Opener`] belongs to one party in one session and knows the roster (party index ->
//! public identity). [`Opener::open`] checks, in order: version, session id
//! ([`WireError::WrongSession`]), that `from` is a roster member other than ourselves, that
//! `sender` is that member's identity, the body shape, the signature, that a p2p envelope is
//! addressed to us, replay, and finally decrypts. It returns the `tessera_crypto::Message` the
//! sender sealed.
//!
//! # Security notes
//!
//! - **Coordinator as a blind relay.** The coordinator reads the routing header (session,
//!   round, from, to, sender) to deliver envelopes; it cannot read p2p payloads (it lacks the
//!   recipient's X25519 secret) and cannot alter, re-address or forge any envelope (it lacks
//!   the sender's signing key). It *can* drop, delay, reorder or duplicate envelopes; duplicates
//!   are rejected by the replay rule, the rest is a liveness matter.
//! - **Sender forward secrecy.** The ephemeral X25519 secret exists only inside [`seal`] and is
//!   wiped when it returns: a later compromise of the *sender's* identity key reveals nothing
//!   of messages it sent. There is no recipient forward secrecy: whoever obtains a recipient's
//!   X25519 static secret can decrypt every recorded p2p envelope ever sent to it. Rotate node
//!   identities accordingly and keep them in the vault.
//! - **Key-exchange key binding.** A [`PublicIdentity`]'s `kx` key is not implied by its
//!   [`NodeId`]. Whoever learns a peer's identity from an untrusted party (for example the
//!   coordinator) should receive a [`SignedIdentity`] and check it against the node id it
//!   trusts; otherwise a relay could substitute its own `kx` key and read p2p messages sent to
//!   that peer (such envelopes would then fail to open at the real peer, but the payload would
//!   already be exposed).
//! - **Replay rules.** Envelopes bind the session id, so they are useless in any other session
//!   (uniqueness of session ids is the node's job). Within a session an [`Opener`] accepts at
//!   most one broadcast and one p2p envelope per `(round, from)`; any further envelope for the
//!   same slot is [`WireError::Replayed`], even if it differs. A rejected envelope records
//!   nothing, so a forgery cannot burn the genuine message's slot. Envelopes from our own index
//!   are refused.
//! - **Errors** carry indices, lengths and reasons, never key bytes or plaintext; `Debug` of
//!   secret types prints `[REDACTED]` and `Debug` of envelopes prints only body lengths.
//!
//! # Operator authorizations
//!
//! A signer node takes part in a keygen or signing session only with an [`Authorization`]
//! signed by a trusted [`OperatorKey`]. What is signed is [`Authorization::signing_bytes`]: a
//! canonical, length-prefixed binary encoding tagged `"tessera/authz/v1"` (not JSON). Signing
//! authorizations name each message in the form the signer recomputes itself
//! ([`authorized_message`]); digests the signer cannot recompute are explicitly
//! [`AuthorizedMessage::DangerRawDigest`]. [`Authorization::verify`] checks trust, signature,
//! path canonicity, expiry and maximum lifetime; rejecting a reused request id is the vault's
//! job.
#![forbid(unsafe_code)]

mod codec;
mod error;

pub mod authz;
pub mod envelope;
pub mod identity;
pub mod import;

pub use authz::{
    authorized_message, check_networks, key_operation_hash, message_intent_hash, network_key,
    Action, Authorization, AuthorizedMessage, OperatorKey, OperatorPublic, AUTHZ_DOMAIN,
    MAX_NETWORKS, MESSAGE_INTENT_DOMAIN,
};
pub use envelope::{seal, Body, Envelope, Opener, ENVELOPE_SIG_DOMAIN, MAX_BODY_LEN, WIRE_VERSION};
pub use error::{Result, WireError};
pub use identity::{IdentityKey, NodeId, PublicIdentity, SignedIdentity};
pub use import::{ImportPackage, SealedShare, ShareAddress};

//! Tessera's threshold-cryptography layer.
//!
//! Four t-of-n schemes behind one sans-IO interface ([`Session`]): every protocol is a state
//! machine that consumes [`Message`]s and yields outgoing ones, so one runner drives every scheme
//! over any transport — the in-process simulation in [`sim`] today, the sealed network transport
//! of the node layer later.
//!
//! | scheme | crate | audit |
//! |---|---|---|
//! | `ecdsa-secp256k1/dkls23` | `dkls23` 0.6.2 | **unaudited** |
//! | `ecdsa-secp256k1/cggmp24` | `cggmp24` 0.7.0-alpha.3 | audit covered the cggmp21 code base |
//! | `schnorr-bip340` | `frost-secp256k1-tr` 2.2 | frost-core audited by NCC; see docs |
//! | `ed25519` | `frost-ed25519` 2.2 | frost-core audited by NCC |
//!
//! Architecture invariant: this crate does no IO, reads no clock, spawns no thread and keeps no
//! global state. It reconstructs a private key only in [`recover`] (disaster recovery, called by
//! the offline `tessera recover` alone). Randomness comes from the OS through the
//! protocol crates (and `rand_core::OsRng` here).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod echo;
mod error;
pub mod export;
pub mod hd;
pub mod primes;
pub mod recover;
pub mod reshare;
mod schemes;
pub mod session;
mod share;
pub mod sim;
mod types;

pub use error::{Error, Result};
pub use reshare::{ReshareInput, ResharePlan};
pub use schemes::cggmp24::{AuxInfo, Cggmp24, STORED_AUX_TAG};
pub use schemes::dkls23::Dkls23;
pub use schemes::frost::{FrostEd25519, FrostTaproot};
pub use session::{Message, Poll, Session, SessionId};
pub use share::{
    KeyShare, MemoryLedger, PartialSignature, PresignPublic, Presignature, PresignatureId,
    PresignatureLedger, SHARE_FORMAT_VERSION,
};
pub use types::{
    DerivationPath, MessageHash, PartyIndex, PublicKey, SchemeId, SignMessage, Signature,
    ThresholdParams, MAX_PARTIES,
};

/// A boxed session producing `O`.
pub type BoxSession<O> = Box<dyn Session<Output = O>>;

/// Everything a party needs to start key generation.
pub struct KeygenInput {
    /// Execution id (never reused).
    pub sid: SessionId,
    /// This party's index, `0..n`.
    pub me: PartyIndex,
    /// Threshold.
    pub params: ThresholdParams,
    /// cggmp24 only: this party's auxiliary info (Paillier keys) for the signer group, produced
    /// once per group by [`Cggmp24::aux_info_session`] and reusable across keys.
    pub aux: Option<AuxInfo>,
}

/// The operations every scheme offers. Implemented by [`Dkls23`], [`Cggmp24`], [`FrostTaproot`]
/// and [`FrostEd25519`]; [`scheme`] picks one by id.
pub trait Scheme: Sync {
    /// Which scheme this is.
    fn id(&self) -> SchemeId;

    /// Distributed key generation (no dealer) for party `input.me` of `0..n`.
    fn keygen(&self, input: KeygenInput) -> Result<BoxSession<KeyShare>>;

    /// A new share of an existing key for a new threshold and/or signer set ([`reshare`]:
    /// refresh, signer replacement and resharing; **ours, unaudited**). The group key and chain
    /// code stay the same; the output never combines with shares of the old epoch.
    fn reshare(&self, input: ReshareInput) -> Result<BoxSession<KeyShare>>;

    /// Re-parses the secret payload with the protocol crate and checks it against the header.
    fn validate(&self, share: &KeyShare) -> Result<()>;

    /// Full (interactive) signing by exactly `t` signers, for the key at `path`.
    fn sign(
        &self,
        share: &KeyShare,
        sid: SessionId,
        signers: &[PartyIndex],
        message: &SignMessage,
        path: &DerivationPath,
    ) -> Result<BoxSession<Signature>>;

    /// The round of [`Scheme::sign`] whose messages can complete a signature: whoever holds
    /// them (the relaying coordinator reads broadcasts) can assemble it without this party.
    /// A signer must durably record the request (done marker, velocity, audit entry) before
    /// it sends any message of this round, and rounds before it must not suffice to complete
    /// a signature (`tests/conformance.rs` checks both for every scheme).
    fn sign_release_round(&self) -> u16;

    /// Precomputation for one-round signing (cggmp24 presignature, FROST nonces), bound to a
    /// signer set. Unsupported by DKLs23.
    fn presign(
        &self,
        share: &KeyShare,
        sid: SessionId,
        signers: &[PartyIndex],
    ) -> Result<BoxSession<(Presignature, PresignPublic)>>;

    /// The online round: consumes `presig` (recording it in `ledger` first) and returns this
    /// party's partial signature.
    fn issue_partial(
        &self,
        share: &KeyShare,
        presig: Presignature,
        message: &SignMessage,
        path: &DerivationPath,
        ledger: &mut dyn PresignatureLedger,
    ) -> Result<PartialSignature>;

    /// Combines the signers' partial signatures (needs only public data) and verifies the result
    /// against the (derived) public key.
    fn combine(
        &self,
        public_key: &PublicKey,
        chain_code: &[u8; 32],
        public: &PresignPublic,
        partials: &[PartialSignature],
        message: &SignMessage,
        path: &DerivationPath,
    ) -> Result<Signature>;

    /// Verifies a signature under the (derived) public key with this crate's own verifier.
    /// (Tests use independent verifiers on top.)
    fn verify(&self, public_key: &PublicKey, message: &SignMessage, sig: &Signature) -> Result<()>;
}

/// Key-lifecycle procedures that are not a protocol crate's own, with their audit status, for
/// `tessera schemes` and the docs: `(name, status)`.
pub const OWN_PROCEDURES: [(&str, &str); 3] = [
    (
        "reshare",
        "OURS, UNAUDITED: refresh, signer replacement and new thresholds for every scheme by \
         Desmedt-Jajodia 1997 redistribution with Wong-Wang-Wing 2002 Feldman checks on k256 / \
         curve25519-dalek (tessera_crypto::reshare); shares rebuilt by each crate's own \
         constructors (DKLs23: its own DKG phases 2-4)",
    ),
    (
        "import",
        "OURS, UNAUDITED: a single-sig key dealt by the importer as one Shamir sharing with \
         Feldman commitments (Shamir 1979, Feldman 1987) on k256 / curve25519-dalek, shares \
         completed through the reshare path (tessera_crypto::reshare::import)",
    ),
    (
        "recover",
        "offline only; frost-core's reconstruct for FROST, OURS, UNAUDITED Lagrange \
         interpolation on k256 for the ECDSA profiles (tessera_crypto::recover)",
    ),
];

/// The implementation of `id`.
pub fn scheme(id: SchemeId) -> &'static dyn Scheme {
    match id {
        SchemeId::EcdsaDkls23 => &Dkls23,
        SchemeId::EcdsaCggmp24 => &Cggmp24,
        SchemeId::SchnorrBip340 => &schemes::frost::FROST_TAPROOT,
        SchemeId::Ed25519 => &schemes::frost::FROST_ED25519,
    }
}

// Fixture primes are public: a release build must never contain them.
#[cfg(all(feature = "test-fixtures", not(debug_assertions)))]
compile_error!(
    "the `test-fixtures` feature (public Paillier primes) is for debug test builds only"
);

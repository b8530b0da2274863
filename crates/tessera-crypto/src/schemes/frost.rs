//! FROST (RFC 9591) from the Zcash Foundation crates: `schnorr-bip340` (secp256k1 with Taproot
//! tweaks, `frost-secp256k1-tr`) and `ed25519` (`frost-ed25519`). One generic implementation; the
//! two ciphersuites differ only in the [`Suite`] glue.
//!
//! * DKG: round 1 broadcast (commitments + proof of knowledge), round 2 p2p (secret shares), then
//!   the transcript confirmation of [`crate::echo`] — FROST's DKG requires a reliable broadcast
//!   that the crate leaves to the caller. The chain code is derived from the confirmed transcript.
//! * Signing: round 1 broadcast nonce commitments, round 2 broadcast signature shares; every
//!   party aggregates (with cheater detection naming the culprit) and verifies.
//! * Presign: round 1 alone, ahead of time. The secret nonces become a single-use
//!   [`Presignature`]; the online round is [`Scheme::issue_partial`] + [`Scheme::combine`].

use std::collections::BTreeMap;
use std::marker::PhantomData;

use frost_core::{self as frost, Ciphersuite, Field, Group};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::echo::Confirmed;
use crate::reshare::curve::{self, Curve};
use crate::reshare::{begin, redistribution_session, OldSharing, Received};
use crate::session::{encode, Driver, Inbox, Map, Outbox, RoundMessages, RoundSpec, Rounds};
use crate::{
    hd, BoxSession, DerivationPath, Error, KeyShare, KeygenInput, PartialSignature, PartyIndex,
    PresignPublic, Presignature, PresignatureLedger, PublicKey, ReshareInput, ResharePlan, Result,
    Scheme, SchemeId, SessionId, SignMessage, Signature, ThresholdParams,
};

type Scalar<C> = <<<C as Ciphersuite>::Group as Group>::Field as Field>::Scalar;
type Element<C> = <<C as Ciphersuite>::Group as Group>::Element;

/// Per-ciphersuite glue (implemented by [`Ed`] and [`Tr`] only).
pub trait Suite: 'static + Sync + Send {
    /// The FROST ciphersuite.
    type C: Ciphersuite;
    /// Scheme id.
    const ID: SchemeId;
    /// Group key encoding.
    fn public_key(vk: &frost::VerifyingKey<Self::C>) -> Result<PublicKey>;
    /// Parses a group key.
    fn verifying_key(pk: &PublicKey) -> Result<frost::VerifyingKey<Self::C>>;
    /// The bytes this ciphersuite signs.
    fn message(msg: &SignMessage) -> Result<Vec<u8>>;
    /// HD shift as a scalar.
    fn shift(be: &[u8; 32]) -> Result<Scalar<Self::C>>;
    /// Round 2 (with the Taproot tweak for `Tr`).
    fn sign_share(
        pkg: &frost::SigningPackage<Self::C>,
        nonces: &frost::round1::SigningNonces<Self::C>,
        kp: &frost::keys::KeyPackage<Self::C>,
    ) -> std::result::Result<frost::round2::SignatureShare<Self::C>, frost::Error<Self::C>>;
    /// Aggregation (with the Taproot tweak for `Tr`).
    fn aggregate(
        pkg: &frost::SigningPackage<Self::C>,
        shares: &BTreeMap<frost::Identifier<Self::C>, frost::round2::SignatureShare<Self::C>>,
        pubkeys: &frost::keys::PublicKeyPackage<Self::C>,
    ) -> std::result::Result<frost::Signature<Self::C>, frost::Error<Self::C>>;
    /// Signature encoding.
    fn signature(sig: &frost::Signature<Self::C>) -> Result<Signature>;
    /// Verifies with the crate's verifier under the (derived, untweaked) key.
    fn verify(pk: &PublicKey, msg: &[u8], sig: &Signature) -> Result<()>;
}

/// `ed25519` via `frost-ed25519`.
pub struct Ed;
/// `schnorr-bip340` via `frost-secp256k1-tr` (BIP-341 key-path tweak, no script tree).
pub struct Tr;

impl Suite for Ed {
    type C = frost_ed25519::Ed25519Sha512;
    const ID: SchemeId = SchemeId::Ed25519;

    fn public_key(vk: &frost::VerifyingKey<Self::C>) -> Result<PublicKey> {
        let b = vk.serialize().map_err(|e| Error::Bug(e.to_string()))?;
        Ok(PublicKey::Ed25519(
            b.try_into().map_err(|_| Error::Bug("vk length".into()))?,
        ))
    }
    fn verifying_key(pk: &PublicKey) -> Result<frost::VerifyingKey<Self::C>> {
        match pk {
            PublicKey::Ed25519(b) => frost::VerifyingKey::deserialize(b)
                .map_err(|_| Error::InvalidArgs("invalid ed25519 key".into())),
            _ => Err(Error::InvalidArgs("expected an ed25519 key".into())),
        }
    }
    fn message(msg: &SignMessage) -> Result<Vec<u8>> {
        Ok(msg.ed25519_bytes())
    }
    fn shift(be: &[u8; 32]) -> Result<Scalar<Self::C>> {
        let mut le = *be;
        le.reverse();
        <<Self::C as Ciphersuite>::Group as Group>::Field::deserialize(&le)
            .map_err(|_| Error::Bug("shift scalar".into()))
    }
    fn sign_share(
        pkg: &frost::SigningPackage<Self::C>,
        nonces: &frost::round1::SigningNonces<Self::C>,
        kp: &frost::keys::KeyPackage<Self::C>,
    ) -> std::result::Result<frost::round2::SignatureShare<Self::C>, frost::Error<Self::C>> {
        frost_ed25519::round2::sign(pkg, nonces, kp)
    }
    fn aggregate(
        pkg: &frost::SigningPackage<Self::C>,
        shares: &BTreeMap<frost::Identifier<Self::C>, frost::round2::SignatureShare<Self::C>>,
        pubkeys: &frost::keys::PublicKeyPackage<Self::C>,
    ) -> std::result::Result<frost::Signature<Self::C>, frost::Error<Self::C>> {
        frost_ed25519::aggregate(pkg, shares, pubkeys)
    }
    fn signature(sig: &frost::Signature<Self::C>) -> Result<Signature> {
        let b = sig.serialize().map_err(|e| Error::Bug(e.to_string()))?;
        Ok(Signature::Ed25519(
            b.try_into().map_err(|_| Error::Bug("sig length".into()))?,
        ))
    }
    fn verify(pk: &PublicKey, msg: &[u8], sig: &Signature) -> Result<()> {
        let Signature::Ed25519(b) = sig else {
            return Err(Error::InvalidSignature);
        };
        let s = frost_ed25519::Signature::deserialize(b).map_err(|_| Error::InvalidSignature)?;
        Self::verifying_key(pk)?
            .verify(msg, &s)
            .map_err(|_| Error::InvalidSignature)
    }
}

impl Suite for Tr {
    type C = frost_secp256k1_tr::Secp256K1Sha256TR;
    const ID: SchemeId = SchemeId::SchnorrBip340;

    fn public_key(vk: &frost::VerifyingKey<Self::C>) -> Result<PublicKey> {
        let b = vk.serialize().map_err(|e| Error::Bug(e.to_string()))?;
        Ok(PublicKey::Secp256k1(
            b.try_into().map_err(|_| Error::Bug("vk length".into()))?,
        ))
    }
    fn verifying_key(pk: &PublicKey) -> Result<frost::VerifyingKey<Self::C>> {
        match pk {
            PublicKey::Secp256k1(b) => frost::VerifyingKey::deserialize(b)
                .map_err(|_| Error::InvalidArgs("invalid secp256k1 key".into())),
            _ => Err(Error::InvalidArgs("expected a secp256k1 key".into())),
        }
    }
    fn message(msg: &SignMessage) -> Result<Vec<u8>> {
        Ok(msg.digest32()?.to_vec())
    }
    fn shift(be: &[u8; 32]) -> Result<Scalar<Self::C>> {
        <<Self::C as Ciphersuite>::Group as Group>::Field::deserialize(be)
            .map_err(|_| Error::Bug("shift scalar".into()))
    }
    fn sign_share(
        pkg: &frost::SigningPackage<Self::C>,
        nonces: &frost::round1::SigningNonces<Self::C>,
        kp: &frost::keys::KeyPackage<Self::C>,
    ) -> std::result::Result<frost::round2::SignatureShare<Self::C>, frost::Error<Self::C>> {
        frost_secp256k1_tr::round2::sign_with_tweak(pkg, nonces, kp, None)
    }
    fn aggregate(
        pkg: &frost::SigningPackage<Self::C>,
        shares: &BTreeMap<frost::Identifier<Self::C>, frost::round2::SignatureShare<Self::C>>,
        pubkeys: &frost::keys::PublicKeyPackage<Self::C>,
    ) -> std::result::Result<frost::Signature<Self::C>, frost::Error<Self::C>> {
        frost_secp256k1_tr::aggregate_with_tweak(pkg, shares, pubkeys, None)
    }
    fn signature(sig: &frost::Signature<Self::C>) -> Result<Signature> {
        let b = sig.serialize().map_err(|e| Error::Bug(e.to_string()))?;
        Ok(Signature::Bip340(
            b.try_into().map_err(|_| Error::Bug("sig length".into()))?,
        ))
    }
    fn verify(pk: &PublicKey, msg: &[u8], sig: &Signature) -> Result<()> {
        use frost_secp256k1_tr::keys::Tweak;
        let Signature::Bip340(b) = sig else {
            return Err(Error::InvalidSignature);
        };
        let s =
            frost_secp256k1_tr::Signature::deserialize(b).map_err(|_| Error::InvalidSignature)?;
        let vk = Self::verifying_key(pk)?;
        let output = frost_secp256k1_tr::keys::PublicKeyPackage::new(BTreeMap::new(), vk)
            .tweak(None::<&[u8]>);
        output
            .verifying_key()
            .verify(msg, &s)
            .map_err(|_| Error::InvalidSignature)
    }
}

/// Scheme object for FROST over ciphersuite `S`.
pub struct Frost<S>(PhantomData<S>);

/// `schnorr-bip340`.
pub type FrostTaproot = Frost<Tr>;
/// `ed25519`.
pub type FrostEd25519 = Frost<Ed>;

/// `schnorr-bip340` scheme value (for [`crate::scheme`]).
pub const FROST_TAPROOT: FrostTaproot = Frost(PhantomData);
/// `ed25519` scheme value.
pub const FROST_ED25519: FrostEd25519 = Frost(PhantomData);

fn ident<C: Ciphersuite>(p: PartyIndex) -> Result<frost::Identifier<C>> {
    frost::Identifier::try_from(p + 1).map_err(|_| Error::InvalidArgs("party index".into()))
}

fn blame<C: Ciphersuite>(e: frost::Error<C>, fallback: &[PartyIndex]) -> Error {
    let culprits = match e.culprit() {
        Some(id) => {
            // Identifiers are `index + 1`; find which of ours it is.
            fallback
                .iter()
                .copied()
                .filter(|p| ident::<C>(*p).map(|i| i == id).unwrap_or(false))
                .collect()
        }
        None => Vec::new(),
    };
    Error::Aborted {
        culprits,
        reason: e.to_string(),
        ban: false,
    }
}

fn malformed(from: PartyIndex, round: u16, what: &str) -> Error {
    Error::Malformed {
        from,
        round,
        reason: format!("invalid {what}"),
    }
}

#[derive(Serialize, Deserialize)]
struct StoredShare {
    key_package: Vec<u8>,
    public_key_package: Vec<u8>,
}

struct Loaded<C: Ciphersuite> {
    kp: frost::keys::KeyPackage<C>,
    pubkeys: frost::keys::PublicKeyPackage<C>,
}

fn load<S: Suite>(share: &KeyShare) -> Result<Loaded<S::C>> {
    if share.scheme != S::ID {
        return Err(Error::InvalidArgs(format!(
            "key share is {}, not {}",
            share.scheme,
            S::ID
        )));
    }
    let bad = |m: &str| Error::InvalidKeyShare(m.to_string());
    let stored: StoredShare = postcard::from_bytes(&share.secret).map_err(|_| bad("payload"))?;
    let kp_bytes = Zeroizing::new(stored.key_package);
    let kp =
        frost::keys::KeyPackage::<S::C>::deserialize(&kp_bytes).map_err(|_| bad("key package"))?;
    let pubkeys = frost::keys::PublicKeyPackage::<S::C>::deserialize(&stored.public_key_package)
        .map_err(|_| bad("public key package"))?;
    if S::public_key(kp.verifying_key())? != share.public_key
        || S::public_key(pubkeys.verifying_key())? != share.public_key
    {
        return Err(bad("public key does not match header"));
    }
    if *kp.identifier() != ident::<S::C>(share.index)? {
        return Err(bad("party index does not match header"));
    }
    if *kp.min_signers() != share.params.t
        || pubkeys.verifying_shares().len() != usize::from(share.params.n)
    {
        return Err(bad("threshold does not match header"));
    }
    let own = pubkeys
        .verifying_shares()
        .get(kp.identifier())
        .ok_or_else(|| bad("own verifying share missing"))?;
    if own != kp.verifying_share() {
        return Err(bad("verifying share mismatch"));
    }
    // The signing share must match its verifying share (secret · G).
    if frost::keys::VerifyingShare::<S::C>::from(*kp.signing_share()) != *kp.verifying_share() {
        return Err(bad("signing share does not match verifying share"));
    }
    Ok(Loaded { kp, pubkeys })
}

/// A key package and its public key package as a validated [`KeyShare`].
fn store<S: Suite>(
    kp: &frost::keys::KeyPackage<S::C>,
    pubkeys: &frost::keys::PublicKeyPackage<S::C>,
    index: PartyIndex,
    params: ThresholdParams,
    chain_code: [u8; 32],
) -> Result<KeyShare> {
    let stored = StoredShare {
        key_package: kp.serialize().map_err(|e| Error::Bug(e.to_string()))?,
        public_key_package: pubkeys.serialize().map_err(|e| Error::Bug(e.to_string()))?,
    };
    let secret = Zeroizing::new(encode(&stored)?);
    let mut stored = stored;
    zeroize::Zeroize::zeroize(&mut stored.key_package);
    let share = KeyShare {
        scheme: S::ID,
        params,
        index,
        public_key: S::public_key(pubkeys.verifying_key())?,
        chain_code,
        secret,
    };
    load::<S>(&share)?;
    Ok(share)
}

/// The group secret key from at least `t` shares, by frost-core's own `keys::reconstruct`
/// (disaster recovery only; see `crate::recover`). Serialized by the ciphersuite.
pub(crate) fn reconstruct_secret<S: Suite>(shares: &[KeyShare]) -> Result<Zeroizing<Vec<u8>>> {
    let packages = shares
        .iter()
        .map(|s| load::<S>(s).map(|l| l.kp))
        .collect::<Result<Vec<_>>>()?;
    let key = frost::keys::reconstruct(&packages)
        .map_err(|e| Error::InvalidArgs(format!("FROST reconstruction failed: {e}")))?;
    Ok(Zeroizing::new(key.serialize()))
}

// ---------------------------------------------------------------- reshare (crate::reshare)

/// This share as a reshare dealer sees it: index, signing share, every verifying share.
pub(crate) fn old_sharing<S: Suite>(share: &KeyShare) -> Result<OldSharing> {
    let l = load::<S>(share)?;
    let bytes = Zeroizing::new(l.kp.signing_share().serialize());
    let mut secret = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(Error::Bug("signing share length".into()));
    }
    secret.copy_from_slice(&bytes);
    let public_shares = (0..share.params.n)
        .map(|k| {
            l.pubkeys
                .verifying_shares()
                .get(&ident::<S::C>(k)?)
                .ok_or_else(|| Error::InvalidKeyShare("verifying share missing".into()))?
                .serialize()
                .map_err(|e| Error::InvalidKeyShare(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(OldSharing {
        index: share.index,
        secret,
        public_shares,
    })
}

fn reshare_on<S: Suite, G: Curve>(input: ReshareInput) -> Result<BoxSession<KeyShare>> {
    let redistribution = begin::<G>(S::ID, &input, old_sharing::<S>)?;
    let ReshareInput {
        sid,
        me,
        params,
        plan,
        ..
    } = input;
    Ok(Box::new(Map::new(
        redistribution_session(sid, redistribution),
        move |(received, _): (Received, [u8; 32])| rebuild::<S>(me, params, &plan, &received),
    )))
}

/// The new key package from redistribution's output, through frost-core's constructors.
fn rebuild<S: Suite>(
    me: PartyIndex,
    params: ThresholdParams,
    plan: &ResharePlan,
    received: &Received,
) -> Result<KeyShare> {
    let bug = |e: frost::Error<S::C>| Error::Bug(format!("reshared FROST share: {e}"));
    let vk = S::verifying_key(&plan.public_key)?;
    let mut shares = BTreeMap::new();
    for (m, bytes) in (0..params.n).zip(&received.public_shares) {
        let share = frost::keys::VerifyingShare::<S::C>::deserialize(bytes).map_err(bug)?;
        shares.insert(ident::<S::C>(m)?, share);
    }
    let id = ident::<S::C>(me)?;
    let own = *shares
        .get(&id)
        .ok_or_else(|| Error::Bug("own verifying share".into()))?;
    let signing = frost::keys::SigningShare::<S::C>::deserialize(&*received.secret).map_err(bug)?;
    let kp = frost::keys::KeyPackage::new(id, signing, own, vk, params.t);
    let pubkeys = frost::keys::PublicKeyPackage::new(shares, vk);
    store::<S>(&kp, &pubkeys, me, params, plan.chain_code)
}

type Derived<C> = (
    Option<frost::keys::KeyPackage<C>>,
    frost::keys::PublicKeyPackage<C>,
    PublicKey,
);
type DkgOut<C> = (frost::keys::KeyPackage<C>, frost::keys::PublicKeyPackage<C>);

/// Key package and public key package shifted to the child key at `path`.
fn derive<S: Suite>(
    root: &PublicKey,
    chain_code: &[u8; 32],
    path: &DerivationPath,
    kp: Option<&frost::keys::KeyPackage<S::C>>,
    pubkeys: &frost::keys::PublicKeyPackage<S::C>,
) -> Result<Derived<S::C>> {
    if path.is_root() {
        return Ok((kp.cloned(), pubkeys.clone(), root.clone()));
    }
    let d = hd::derive(root, chain_code, path)?;
    let delta = S::shift(&d.shift_be)?;
    let delta_g: Element<S::C> = <<S::C as Ciphersuite>::Group as Group>::generator() * delta;
    let vk = frost::VerifyingKey::<S::C>::new(pubkeys.verifying_key().to_element() + delta_g);
    if S::public_key(&vk)? != d.public_key {
        return Err(Error::Bug("derived key mismatch".into()));
    }
    let shares = pubkeys
        .verifying_shares()
        .iter()
        .map(|(i, vs)| {
            (
                *i,
                frost::keys::VerifyingShare::new(vs.to_element() + delta_g),
            )
        })
        .collect();
    let pubkeys = frost::keys::PublicKeyPackage::new(shares, vk);
    let kp = kp.map(|kp| {
        frost::keys::KeyPackage::new(
            *kp.identifier(),
            frost::keys::SigningShare::new(kp.signing_share().to_scalar() + delta),
            frost::keys::VerifyingShare::new(kp.verifying_share().to_element() + delta_g),
            vk,
            *kp.min_signers(),
        )
    });
    Ok((kp, pubkeys, d.public_key))
}

// ---------------------------------------------------------------- DKG

struct Dkg<S: Suite> {
    me: PartyIndex,
    params: ThresholdParams,
    parties: Vec<PartyIndex>,
    secret1: Option<frost::keys::dkg::round1::SecretPackage<S::C>>,
    secret2: Option<frost::keys::dkg::round2::SecretPackage<S::C>>,
    round1: BTreeMap<frost::Identifier<S::C>, frost::keys::dkg::round1::Package<S::C>>,
}

impl<S: Suite> Dkg<S> {
    fn id_of(&self, p: PartyIndex) -> Result<frost::Identifier<S::C>> {
        ident::<S::C>(p)
    }
}

impl<S: Suite> Rounds for Dkg<S> {
    type Output = (
        frost::keys::KeyPackage<S::C>,
        frost::keys::PublicKeyPackage<S::C>,
    );

    fn start(&mut self, out: &mut Outbox<'_>) -> Result<()> {
        let (secret, package) = frost::keys::dkg::part1::<S::C, _>(
            self.id_of(self.me)?,
            self.params.n,
            self.params.t,
            rand_core::OsRng,
        )
        .map_err(|e| Error::InvalidArgs(e.to_string()))?;
        self.secret1 = Some(secret);
        out.broadcast(
            1,
            package.serialize().map_err(|e| Error::Bug(e.to_string()))?,
        );
        Ok(())
    }

    fn on_round(
        &mut self,
        msgs: RoundMessages,
        out: &mut Outbox<'_>,
    ) -> Result<Option<Self::Output>> {
        match msgs.round {
            1 => {
                for (from, bytes) in &msgs.broadcast {
                    let pkg = frost::keys::dkg::round1::Package::<S::C>::deserialize(bytes)
                        .map_err(|_| malformed(*from, 1, "round-1 package"))?;
                    self.round1.insert(self.id_of(*from)?, pkg);
                }
                let secret = self.secret1.take().ok_or(Error::Misuse("round 1 twice"))?;
                let (secret2, packages) = frost::keys::dkg::part2(secret, &self.round1)
                    .map_err(|e| blame(e, &self.parties))?;
                self.secret2 = Some(secret2);
                for p in self.parties.clone() {
                    if p == self.me {
                        continue;
                    }
                    let pkg = packages
                        .get(&self.id_of(p)?)
                        .ok_or_else(|| Error::Bug("missing round-2 package".into()))?;
                    let bytes =
                        Zeroizing::new(pkg.serialize().map_err(|e| Error::Bug(e.to_string()))?);
                    out.p2p(2, p, bytes.to_vec());
                }
                Ok(None)
            }
            2 => {
                let mut round2 = BTreeMap::new();
                for (from, bytes) in &msgs.p2p {
                    let pkg = frost::keys::dkg::round2::Package::<S::C>::deserialize(bytes)
                        .map_err(|_| malformed(*from, 2, "round-2 package"))?;
                    round2.insert(self.id_of(*from)?, pkg);
                }
                let secret = self.secret2.take().ok_or(Error::Misuse("round 2 twice"))?;
                let (kp, pubkeys) = frost::keys::dkg::part3(&secret, &self.round1, &round2)
                    .map_err(|e| blame(e, &self.parties))?;
                Ok(Some((kp, pubkeys)))
            }
            _ => Err(Error::Bug("unexpected round".into())),
        }
    }
}

fn chain_code_from_transcript(transcript: &[u8; 32]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"tessera/frost/chain-code/v1");
    h.update(transcript);
    h.finalize().into()
}

fn presig_id(sid: &SessionId) -> [u8; 32] {
    sid.derive("presignature-id").0
}

// ---------------------------------------------------------------- signing

/// Secret part of a FROST presignature: own nonces + everyone's commitments.
#[derive(Serialize, Deserialize)]
struct StoredNonces {
    nonces: Vec<u8>,
    commitments: BTreeMap<PartyIndex, Vec<u8>>,
}

/// Public part: commitments and the public key package (for aggregation).
#[derive(Serialize, Deserialize)]
struct PublicNonces {
    commitments: BTreeMap<PartyIndex, Vec<u8>>,
    public_key_package: Vec<u8>,
}

struct Sign<S: Suite> {
    me: PartyIndex,
    signers: Vec<PartyIndex>,
    kp: Option<frost::keys::KeyPackage<S::C>>,
    pubkeys: frost::keys::PublicKeyPackage<S::C>,
    /// `None` for presign sessions (stop after round 1).
    message: Option<Vec<u8>>,
    verify_key: PublicKey,
    nonces: Option<frost::round1::SigningNonces<S::C>>,
    commitments: BTreeMap<frost::Identifier<S::C>, frost::round1::SigningCommitments<S::C>>,
    package: Option<frost::SigningPackage<S::C>>,
    own_share: Option<frost::round2::SignatureShare<S::C>>,
    presig_id: [u8; 32],
}

enum SignOut {
    Signature(Signature),
    Presig(Presignature, PresignPublic),
}

impl<S: Suite> Rounds for Sign<S> {
    type Output = SignOut;

    fn start(&mut self, out: &mut Outbox<'_>) -> Result<()> {
        let kp = self.kp.as_ref().ok_or(Error::Misuse("no key"))?;
        let (nonces, commitments) =
            frost::round1::commit(kp.signing_share(), &mut rand_core::OsRng);
        out.broadcast(
            1,
            commitments
                .serialize()
                .map_err(|e| Error::Bug(e.to_string()))?,
        );
        self.commitments
            .insert(ident::<S::C>(self.me)?, commitments);
        self.nonces = Some(nonces);
        Ok(())
    }

    fn on_round(&mut self, msgs: RoundMessages, out: &mut Outbox<'_>) -> Result<Option<SignOut>> {
        match msgs.round {
            1 => {
                for (from, bytes) in &msgs.broadcast {
                    let c = frost::round1::SigningCommitments::<S::C>::deserialize(bytes)
                        .map_err(|_| malformed(*from, 1, "nonce commitments"))?;
                    self.commitments.insert(ident::<S::C>(*from)?, c);
                }
                let Some(message) = self.message.clone() else {
                    return self.finish_presign().map(Some);
                };
                let pkg = frost::SigningPackage::new(self.commitments.clone(), &message);
                let nonces = self.nonces.take().ok_or(Error::Misuse("nonces used"))?;
                let kp = self.kp.as_ref().ok_or(Error::Misuse("no key"))?;
                let share =
                    S::sign_share(&pkg, &nonces, kp).map_err(|e| blame(e, &self.signers))?;
                out.broadcast(2, share.serialize());
                self.own_share = Some(share);
                self.package = Some(pkg);
                Ok(None)
            }
            2 => {
                let mut shares = BTreeMap::new();
                for (from, bytes) in &msgs.broadcast {
                    let s = frost::round2::SignatureShare::<S::C>::deserialize(bytes)
                        .map_err(|_| malformed(*from, 2, "signature share"))?;
                    shares.insert(ident::<S::C>(*from)?, s);
                }
                let own = self.own_share.take().ok_or(Error::Misuse("no own share"))?;
                shares.insert(ident::<S::C>(self.me)?, own);
                let pkg = self.package.take().ok_or(Error::Misuse("no package"))?;
                let sig = S::aggregate(&pkg, &shares, &self.pubkeys)
                    .map_err(|e| blame(e, &self.signers))?;
                let sig = S::signature(&sig)?;
                S::verify(&self.verify_key, pkg.message(), &sig)?;
                Ok(Some(SignOut::Signature(sig)))
            }
            _ => Err(Error::Bug("unexpected round".into())),
        }
    }
}

impl<S: Suite> Sign<S> {
    fn finish_presign(&mut self) -> Result<SignOut> {
        let nonces = self.nonces.take().ok_or(Error::Misuse("nonces used"))?;
        let mut commitments = BTreeMap::new();
        for p in &self.signers {
            let c = self
                .commitments
                .get(&ident::<S::C>(*p)?)
                .ok_or_else(|| Error::Bug("missing commitment".into()))?;
            commitments.insert(*p, c.serialize().map_err(|e| Error::Bug(e.to_string()))?);
        }
        let stored = StoredNonces {
            nonces: nonces.serialize().map_err(|e| Error::Bug(e.to_string()))?,
            commitments: commitments.clone(),
        };
        let secret = Zeroizing::new(encode(&stored)?);
        let mut stored = stored;
        zeroize::Zeroize::zeroize(&mut stored.nonces);
        let public = PublicNonces {
            commitments,
            public_key_package: self
                .pubkeys
                .serialize()
                .map_err(|e| Error::Bug(e.to_string()))?,
        };
        Ok(SignOut::Presig(
            Presignature {
                scheme: S::ID,
                id: self.presig_id,
                index: self.me,
                signers: self.signers.clone(),
                secret,
            },
            PresignPublic {
                scheme: S::ID,
                id: self.presig_id,
                signers: self.signers.clone(),
                data: encode(&public)?,
            },
        ))
    }
}

fn sorted(signers: &[PartyIndex]) -> Vec<PartyIndex> {
    let mut v = signers.to_vec();
    v.sort_unstable();
    v
}

fn signing_package<S: Suite>(
    commitments: &BTreeMap<PartyIndex, Vec<u8>>,
    message: &[u8],
) -> Result<frost::SigningPackage<S::C>> {
    let mut map = BTreeMap::new();
    for (p, c) in commitments {
        let c = frost::round1::SigningCommitments::<S::C>::deserialize(c)
            .map_err(|_| Error::InvalidKeyShare("presignature commitments".into()))?;
        map.insert(ident::<S::C>(*p)?, c);
    }
    Ok(frost::SigningPackage::new(map, message))
}

impl<S: Suite> Frost<S> {
    fn sign_session(
        &self,
        share: &KeyShare,
        sid: SessionId,
        signers: &[PartyIndex],
        message: Option<Vec<u8>>,
        path: &DerivationPath,
    ) -> Result<BoxSession<SignOut>> {
        share.params.check_signers(signers, share.index)?;
        let loaded = load::<S>(share)?;
        let (kp, pubkeys, verify_key) = derive::<S>(
            &share.public_key,
            &share.chain_code,
            path,
            Some(&loaded.kp),
            &loaded.pubkeys,
        )?;
        let signers = sorted(signers);
        let inbox = Inbox::new(
            sid,
            share.index,
            &signers,
            vec![
                RoundSpec {
                    broadcast: true,
                    p2p: false,
                },
                RoundSpec {
                    broadcast: true,
                    p2p: false,
                },
            ],
        );
        Ok(Box::new(Driver::new(
            Sign::<S> {
                me: share.index,
                signers,
                kp,
                pubkeys,
                message,
                verify_key,
                nonces: None,
                commitments: BTreeMap::new(),
                package: None,
                own_share: None,
                presig_id: presig_id(&sid),
            },
            inbox,
        )))
    }
}

impl<S: Suite> Scheme for Frost<S> {
    /// Round 2: the signature shares, which anyone holding round 1's commitments aggregates.
    fn sign_release_round(&self) -> u16 {
        2
    }

    fn id(&self) -> SchemeId {
        S::ID
    }

    fn keygen(&self, input: KeygenInput) -> Result<BoxSession<KeyShare>> {
        let params = input.params;
        if input.me >= params.n {
            return Err(Error::InvalidArgs("party index out of range".into()));
        }
        let parties: Vec<PartyIndex> = (0..params.n).collect();
        let inbox = Inbox::new(
            input.sid,
            input.me,
            &parties,
            vec![
                RoundSpec {
                    broadcast: true,
                    p2p: false,
                },
                RoundSpec {
                    broadcast: false,
                    p2p: true,
                },
            ],
        );
        let dkg = Driver::new(
            Dkg::<S> {
                me: input.me,
                params,
                parties: parties.clone(),
                secret1: None,
                secret2: None,
                round1: BTreeMap::new(),
            },
            inbox,
        );
        let me = input.me;
        let confirmed = Confirmed::new(dkg, input.sid, &parties);
        Ok(Box::new(Map::new(
            confirmed,
            move |((kp, pubkeys), transcript): (DkgOut<S::C>, [u8; 32])| {
                store::<S>(
                    &kp,
                    &pubkeys,
                    me,
                    params,
                    chain_code_from_transcript(&transcript),
                )
            },
        )))
    }

    fn reshare(&self, input: ReshareInput) -> Result<BoxSession<KeyShare>> {
        match S::ID {
            SchemeId::Ed25519 => reshare_on::<S, curve::Ed>(input),
            _ => reshare_on::<S, curve::Secp>(input),
        }
    }

    fn validate(&self, share: &KeyShare) -> Result<()> {
        load::<S>(share).map(|_| ())
    }

    fn sign(
        &self,
        share: &KeyShare,
        sid: SessionId,
        signers: &[PartyIndex],
        message: &SignMessage,
        path: &DerivationPath,
    ) -> Result<BoxSession<Signature>> {
        let msg = S::message(message)?;
        let inner = self.sign_session(share, sid, signers, Some(msg), path)?;
        Ok(Box::new(Map::new(inner, |out| match out {
            SignOut::Signature(s) => Ok(s),
            SignOut::Presig(..) => Err(Error::Bug("unexpected presignature".into())),
        })))
    }

    fn presign(
        &self,
        share: &KeyShare,
        sid: SessionId,
        signers: &[PartyIndex],
    ) -> Result<BoxSession<(Presignature, PresignPublic)>> {
        let inner = self.sign_session(share, sid, signers, None, &DerivationPath::root())?;
        Ok(Box::new(Map::new(inner, |out| match out {
            SignOut::Presig(p, q) => Ok((p, q)),
            SignOut::Signature(_) => Err(Error::Bug("unexpected signature".into())),
        })))
    }

    fn issue_partial(
        &self,
        share: &KeyShare,
        presig: Presignature,
        message: &SignMessage,
        path: &DerivationPath,
        ledger: &mut dyn PresignatureLedger,
    ) -> Result<PartialSignature> {
        if presig.scheme != S::ID || presig.index != share.index {
            return Err(Error::InvalidArgs(
                "presignature does not belong to this share".into(),
            ));
        }
        let msg = S::message(message)?;
        let loaded = load::<S>(share)?;
        let (kp, _, _) = derive::<S>(
            &share.public_key,
            &share.chain_code,
            path,
            Some(&loaded.kp),
            &loaded.pubkeys,
        )?;
        let kp = kp.ok_or_else(|| Error::Bug("no key package".into()))?;
        let stored: StoredNonces = postcard::from_bytes(&presig.secret)
            .map_err(|_| Error::InvalidKeyShare("presignature payload".into()))?;
        let nonces = frost::round1::SigningNonces::<S::C>::deserialize(&stored.nonces)
            .map_err(|_| Error::InvalidKeyShare("presignature nonces".into()))?;
        let mut stored = stored;
        zeroize::Zeroize::zeroize(&mut stored.nonces);
        let pkg = signing_package::<S>(&stored.commitments, &msg)?;
        // Single use: record before anything derived from the nonces leaves this function.
        ledger.consume(&presig.id)?;
        let share_sig = S::sign_share(&pkg, &nonces, &kp).map_err(|e| blame(e, &presig.signers))?;
        Ok(PartialSignature {
            presignature: presig.id,
            from: share.index,
            bytes: share_sig.serialize(),
        })
    }

    fn combine(
        &self,
        public_key: &PublicKey,
        chain_code: &[u8; 32],
        public: &PresignPublic,
        partials: &[PartialSignature],
        message: &SignMessage,
        path: &DerivationPath,
    ) -> Result<Signature> {
        if public.scheme != S::ID {
            return Err(Error::InvalidArgs("presignature of another scheme".into()));
        }
        let msg = S::message(message)?;
        let data: PublicNonces = postcard::from_bytes(&public.data)
            .map_err(|_| Error::InvalidArgs("presignature public data".into()))?;
        let pubkeys = frost::keys::PublicKeyPackage::<S::C>::deserialize(&data.public_key_package)
            .map_err(|_| Error::InvalidArgs("public key package".into()))?;
        if S::public_key(pubkeys.verifying_key())? != *public_key {
            return Err(Error::InvalidArgs(
                "presignature belongs to another key".into(),
            ));
        }
        let (_, pubkeys, verify_key) = derive::<S>(public_key, chain_code, path, None, &pubkeys)?;
        let pkg = signing_package::<S>(&data.commitments, &msg)?;
        let mut shares = BTreeMap::new();
        for p in partials {
            if p.presignature != public.id || !public.signers.contains(&p.from) {
                return Err(Error::InvalidArgs(format!(
                    "partial signature from party {} does not belong to this presignature",
                    p.from
                )));
            }
            let s = frost::round2::SignatureShare::<S::C>::deserialize(&p.bytes)
                .map_err(|_| malformed(p.from, 2, "partial signature"))?;
            if shares.insert(ident::<S::C>(p.from)?, s).is_some() {
                return Err(Error::Duplicate {
                    from: p.from,
                    round: 2,
                });
            }
        }
        if shares.len() != public.signers.len() {
            return Err(Error::InvalidArgs(format!(
                "need {} partial signatures, got {}",
                public.signers.len(),
                shares.len()
            )));
        }
        let sig = S::aggregate(&pkg, &shares, &pubkeys).map_err(|e| blame(e, &public.signers))?;
        let sig = S::signature(&sig)?;
        S::verify(&verify_key, &msg, &sig)?;
        Ok(sig)
    }

    fn verify(&self, public_key: &PublicKey, message: &SignMessage, sig: &Signature) -> Result<()> {
        S::verify(public_key, &S::message(message)?, sig)
    }
}

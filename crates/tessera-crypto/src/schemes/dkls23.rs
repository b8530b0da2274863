//! `ecdsa-secp256k1/dkls23`: DKLs23 threshold ECDSA from the `dkls23` crate (0.6.2, pinned).
//!
//! **The crate is unaudited.** It is our fast ECDSA profile (no Paillier, ~10 ms signing) and a
//! second protocol family beside cggmp24, so a flaw in one need not stop the platform.
//!
//! * DKG: round 1 p2p (polynomial fragments), round 2 broadcast (proof commitment, chain-code
//!   commitment) + p2p (zero-share commitments), round 3 broadcast (chain-code opening) + p2p
//!   (zero-share seeds, OT setup); then the transcript confirmation of [`crate::echo`], because
//!   the crate assumes a consistent broadcast it does not check.
//! * Signing: three rounds (p2p, p2p, broadcast), every party assembles and verifies the
//!   signature. No presignatures: the crate's phases bind the message hash from phase 1.
//! * An abort of kind `BanCounterparty` (OT consistency failure) is surfaced as
//!   [`Error::Aborted`] with `ban: true`: the paper requires that party to be excluded forever.

use std::collections::BTreeMap;

use dkls23::protocols::dkg::{
    BroadcastDerivationPhase2to4, BroadcastDerivationPhase3to4, ProofCommitment,
    TransmitInitMulPhase3to4, TransmitInitZeroSharePhase2to4, TransmitInitZeroSharePhase3to4,
};
use dkls23::protocols::signing::{
    Broadcast3to4, KeepPhase1to2, KeepPhase2to3, SignData, TransmitPhase1to2, TransmitPhase2to3,
    UniqueKeep1to2, UniqueKeep2to3,
};
use dkls23::protocols::{
    Abort, AbortKind, AbortReason, Parameters, Party, PartyIndex as DIndex, PublicKeyPackage,
};
use dkls23::DkgSession;
use k256_dkls::elliptic_curve::group::GroupEncoding;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::echo::Confirmed;
use crate::reshare::curve::Secp;
use crate::reshare::{begin, OldSharing, Redistribution};
use crate::session::{
    decode, encode, Driver, Inbox, Map, Outbox, RoundMessages, RoundSpec, Rounds,
};
use crate::{
    BoxSession, DerivationPath, Error, KeyShare, KeygenInput, PartialSignature, PartyIndex,
    PresignPublic, Presignature, PresignatureLedger, PublicKey, ReshareInput, ResharePlan, Result,
    Scheme, SchemeId, SessionId, SignMessage, Signature, ThresholdParams,
};

type C = k256_dkls::Secp256k1;
type Scalar = k256_dkls::Scalar;

/// The DKLs23 scheme.
pub struct Dkls23;

fn didx(p: PartyIndex) -> Result<DIndex> {
    u8::try_from(p + 1)
        .ok()
        .and_then(|v| DIndex::new(v).ok())
        .ok_or_else(|| Error::InvalidArgs("party index too large for DKLs23".into()))
}

fn from_didx(p: DIndex) -> PartyIndex {
    PartyIndex::from(p.as_u8()).saturating_sub(1)
}

fn pk_bytes(p: &k256_dkls::AffinePoint) -> Result<[u8; 33]> {
    p.to_bytes()
        .as_slice()
        .try_into()
        .map_err(|_| Error::Bug("point encoding".into()))
}

fn abort_error(a: Abort) -> Error {
    use AbortReason as R;
    let mut culprits: Vec<PartyIndex> = match &a.reason {
        R::MissingMulState { counterparty }
        | R::SessionBindingMismatch { counterparty }
        | R::ProofVerificationFailed { counterparty }
        | R::CommitmentMismatch { counterparty }
        | R::TrivialInstancePoint { counterparty }
        | R::OtConsistencyCheckFailed { counterparty }
        | R::MultiplicationVerificationFailed { counterparty, .. }
        | R::GammaUInconsistency { counterparty }
        | R::ZeroShareDecommitFailed { counterparty }
        | R::InvalidLocalState { counterparty, .. } => vec![from_didx(*counterparty)],
        R::UnexpectedSender { sender } | R::DuplicateSender { sender } => vec![from_didx(*sender)],
        R::MissingMessageFromParty { party }
        | R::MissingCommittedPoint { party }
        | R::ChainCodeCommitmentFailed { party } => vec![from_didx(*party)],
        _ => Vec::new(),
    };
    let ban = match a.kind {
        AbortKind::BanCounterparty(p) => {
            let p = from_didx(p);
            if !culprits.contains(&p) {
                culprits.push(p);
            }
            true
        }
        AbortKind::Recoverable => false,
    };
    Error::Aborted {
        culprits,
        reason: a.description(),
        ban,
    }
}

/// Checks the sender/receiver fields a dkls23 message carries against the envelope.
fn check_parties(
    parties: &dkls23::protocols::PartiesMessage,
    from: PartyIndex,
    me: PartyIndex,
    round: u16,
) -> Result<()> {
    if parties.sender != didx(from)? || parties.receiver != didx(me)? {
        return Err(Error::Malformed {
            from,
            round,
            reason: "sender/receiver fields do not match the envelope".into(),
        });
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct StoredShare {
    party: Vec<u8>,
    public_key_package: Vec<u8>,
}

struct Loaded {
    party: Party<C>,
    pkg: PublicKeyPackage<C>,
}

fn load(share: &KeyShare) -> Result<Loaded> {
    if share.scheme != SchemeId::EcdsaDkls23 {
        return Err(Error::InvalidArgs(format!(
            "key share is {}, not dkls23",
            share.scheme
        )));
    }
    let bad = |m: &str| Error::InvalidKeyShare(m.to_string());
    let stored: StoredShare = postcard::from_bytes(&share.secret).map_err(|_| bad("payload"))?;
    let party_bytes = Zeroizing::new(stored.party);
    let party: Party<C> = postcard::from_bytes(&party_bytes).map_err(|_| bad("party state"))?;
    let pkg: PublicKeyPackage<C> =
        postcard::from_bytes(&stored.public_key_package).map_err(|_| bad("public key package"))?;
    if PublicKey::Secp256k1(pk_bytes(&party.pk)?) != share.public_key
        || PublicKey::Secp256k1(pk_bytes(pkg.verifying_key())?) != share.public_key
    {
        return Err(bad("public key does not match header"));
    }
    if party.party_index != didx(share.index)? {
        return Err(bad("party index does not match header"));
    }
    if u16::from(party.parameters.threshold) != share.params.t
        || u16::from(party.parameters.share_count) != share.params.n
    {
        return Err(bad("threshold does not match header"));
    }
    if party.derivation_data.chain_code != share.chain_code {
        return Err(bad("chain code does not match header"));
    }
    let own = (k256_dkls::ProjectivePoint::GENERATOR * party.poly_point).to_affine();
    if pkg.verifying_share(party.party_index) != Some(&own) {
        return Err(bad("secret share does not match its verifying share"));
    }
    Ok(Loaded { party, pkg })
}

/// This share's Shamir point: x = party index + 1 (DKLs23's 1-based index) and the secret
/// `poly_point`, both big-endian (disaster recovery only; see `crate::recover`).
pub(crate) fn share_point(share: &KeyShare) -> Result<([u8; 32], Zeroizing<[u8; 32]>)> {
    point_of(&load(share)?.party, share.index)
}

/// [`share_point`] of an already loaded party.
fn point_of(party: &Party<C>, index: PartyIndex) -> Result<([u8; 32], Zeroizing<[u8; 32]>)> {
    use k256_dkls::elliptic_curve::PrimeField;
    let mut x = [0u8; 32];
    x[30..].copy_from_slice(&(index + 1).to_be_bytes());
    let repr = party.poly_point.to_repr();
    let mut s = Zeroizing::new([0u8; 32]);
    s.copy_from_slice(&repr);
    Ok((x, s))
}

// ---------------------------------------------------------------- DKG

/// Key generation, or with `reshare` the crate's DKG phases 2–4 on a redistributed share
/// ([`crate::reshare`]), then the transcript confirmation.
fn dkg_session(
    sid: SessionId,
    me: PartyIndex,
    params: ThresholdParams,
    reshare: Option<ReshareState>,
) -> Result<BoxSession<KeyShare>> {
    if me >= params.n {
        return Err(Error::InvalidArgs("party index out of range".into()));
    }
    let dparams = Parameters::new(
        u8::try_from(params.t).map_err(|_| Error::InvalidArgs("t too large".into()))?,
        u8::try_from(params.n).map_err(|_| Error::InvalidArgs("n too large".into()))?,
    )
    .map_err(|e| Error::InvalidArgs(e.to_string()))?;
    let parties: Vec<PartyIndex> = (0..params.n).collect();
    let both = RoundSpec {
        broadcast: true,
        p2p: true,
    };
    let first = if reshare.is_some() {
        crate::reshare::ROUND_SPEC
    } else {
        RoundSpec {
            broadcast: false,
            p2p: true,
        }
    };
    let inbox = Inbox::new(sid, me, &parties, vec![first, both, both]);
    let dkg = Driver::new(
        Dkg {
            me,
            params,
            session: Some(DkgSession::new(dparams, didx(me)?, sid.0.to_vec())),
            own_fragment: None,
            proofs: Vec::new(),
            bip2: BTreeMap::new(),
            bip3: BTreeMap::new(),
            zero2: Vec::new(),
            reshare,
        },
        inbox,
    );
    let confirmed = Confirmed::new(dkg, sid, &parties);
    Ok(Box::new(Map::new(
        confirmed,
        move |((party, pkg), _transcript): ((Party<C>, PublicKeyPackage<C>), [u8; 32])| {
            store(&party, &pkg, me, params)
        },
    )))
}

/// A party and its public key package as a validated [`KeyShare`].
fn store(
    party: &Party<C>,
    pkg: &PublicKeyPackage<C>,
    me: PartyIndex,
    params: ThresholdParams,
) -> Result<KeyShare> {
    let stored = StoredShare {
        party: encode(party)?,
        public_key_package: encode(pkg)?,
    };
    let secret = Zeroizing::new(encode(&stored)?);
    let mut stored = stored;
    zeroize::Zeroize::zeroize(&mut stored.party);
    let share = KeyShare {
        scheme: SchemeId::EcdsaDkls23,
        params,
        index: me,
        public_key: PublicKey::Secp256k1(pk_bytes(&party.pk)?),
        chain_code: party.derivation_data.chain_code,
        secret,
    };
    load(&share)?;
    Ok(share)
}

/// This share as a reshare dealer sees it: index, `poly_point`, every verifying share.
pub(crate) fn old_sharing(share: &KeyShare) -> Result<OldSharing> {
    let Loaded { party, pkg } = load(share)?;
    let (_, secret) = point_of(&party, share.index)?;
    drop(party);
    let public_shares = (0..share.params.n)
        .map(|k| {
            let v = pkg
                .verifying_share(didx(k)?)
                .ok_or_else(|| Error::InvalidKeyShare("verifying share missing".into()))?;
            Ok(pk_bytes(v)?.to_vec())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(OldSharing {
        index: share.index,
        secret,
        public_shares,
    })
}

#[derive(Serialize, Deserialize)]
struct Round2Broadcast {
    proof: ProofCommitment<C>,
    bip: BroadcastDerivationPhase2to4,
}

#[derive(Serialize, Deserialize)]
struct Round3P2p {
    zero: TransmitInitZeroSharePhase3to4,
    mul: TransmitInitMulPhase3to4<C>,
}

struct Dkg {
    me: PartyIndex,
    params: ThresholdParams,
    session: Option<DkgSession<C>>,
    own_fragment: Option<Zeroizing<Scalar>>,
    proofs: Vec<ProofCommitment<C>>,
    bip2: BTreeMap<DIndex, BroadcastDerivationPhase2to4>,
    bip3: BTreeMap<DIndex, BroadcastDerivationPhase3to4>,
    zero2: Vec<TransmitInitZeroSharePhase2to4>,
    /// Set for a reshare: round 1 is redistribution instead of random polynomials.
    reshare: Option<ReshareState>,
}

/// A reshare's redistribution and what its result must match after phase 4.
struct ReshareState {
    redistribution: Redistribution<Secp>,
    plan: ResharePlan,
    public_shares: Vec<Vec<u8>>,
}

impl Rounds for Dkg {
    type Output = (Party<C>, PublicKeyPackage<C>);

    fn start(&mut self, out: &mut Outbox<'_>) -> Result<()> {
        if let Some(reshare) = &mut self.reshare {
            return reshare.redistribution.deal(1, out);
        }
        let session = self
            .session
            .as_ref()
            .ok_or(Error::Misuse("started twice"))?;
        let fragments = Zeroizing::new(session.phase1());
        for p in 0..self.params.n {
            let f = fragments
                .get(usize::from(p))
                .ok_or_else(|| Error::Bug("missing fragment".into()))?;
            if p == self.me {
                self.own_fragment = Some(Zeroizing::new(*f));
            } else {
                let bytes = Zeroizing::new(encode(f)?);
                out.p2p(1, p, bytes.to_vec());
            }
        }
        Ok(())
    }

    fn on_round(
        &mut self,
        msgs: RoundMessages,
        out: &mut Outbox<'_>,
    ) -> Result<Option<Self::Output>> {
        match msgs.round {
            1 => {
                let fragments = self.fragments(&msgs)?;
                let session = self.session.as_mut().ok_or(Error::Misuse("finished"))?;
                let (proof, zero, bip) = session.phase2(&fragments).map_err(abort_error)?;
                out.broadcast(
                    2,
                    encode(&Round2Broadcast {
                        proof: proof.clone(),
                        bip: bip.clone(),
                    })?,
                );
                self.proofs.push(proof);
                self.bip2.insert(didx(self.me)?, bip);
                for m in zero {
                    let to = from_didx(m.parties.receiver);
                    out.p2p(2, to, encode(&m)?);
                }
                Ok(None)
            }
            2 => {
                for (from, bytes) in &msgs.broadcast {
                    let b: Round2Broadcast = decode(bytes, *from, 2)?;
                    self.proofs.push(b.proof);
                    self.bip2.insert(didx(*from)?, b.bip);
                }
                for (from, bytes) in &msgs.p2p {
                    let m: TransmitInitZeroSharePhase2to4 = decode(bytes, *from, 2)?;
                    check_parties(&m.parties, *from, self.me, 2)?;
                    self.zero2.push(m);
                }
                let session = self.session.as_mut().ok_or(Error::Misuse("finished"))?;
                let (zero, mul, bip) = session.phase3().map_err(abort_error)?;
                out.broadcast(3, encode(&bip)?);
                self.bip3.insert(didx(self.me)?, bip);
                let mut zeros: BTreeMap<DIndex, TransmitInitZeroSharePhase3to4> =
                    zero.into_iter().map(|z| (z.parties.receiver, z)).collect();
                for m in mul {
                    let to = m.parties.receiver;
                    let zero = zeros
                        .remove(&to)
                        .ok_or_else(|| Error::Bug("unpaired round-3 message".into()))?;
                    let bytes = Zeroizing::new(encode(&Round3P2p { zero, mul: m })?);
                    out.p2p(3, from_didx(to), bytes.to_vec());
                }
                Ok(None)
            }
            3 => {
                let mut zero3 = Vec::new();
                let mut mul3 = Vec::new();
                for (from, bytes) in &msgs.broadcast {
                    let b: BroadcastDerivationPhase3to4 = decode(bytes, *from, 3)?;
                    self.bip3.insert(didx(*from)?, b);
                }
                for (from, bytes) in &msgs.p2p {
                    let m: Round3P2p = decode(bytes, *from, 3)?;
                    check_parties(&m.zero.parties, *from, self.me, 3)?;
                    check_parties(&m.mul.parties, *from, self.me, 3)?;
                    zero3.push(m.zero);
                    mul3.push(m.mul);
                }
                let session = self.session.take().ok_or(Error::Misuse("finished"))?;
                let (party, pkg) = session
                    .phase4(
                        &self.proofs,
                        &self.zero2,
                        &zero3,
                        &mul3,
                        &self.bip2,
                        &self.bip3,
                        |_| String::new(),
                    )
                    .map_err(abort_error)?;
                check_shares_consistent(&pkg, self.params)?;
                let mut party = party;
                if let Some(reshare) = &self.reshare {
                    reshare.check(&mut party, &pkg)?;
                }
                Ok(Some((party, pkg)))
            }
            _ => Err(Error::Bug("unexpected round".into())),
        }
    }
}

impl Dkg {
    /// Round 1's polynomial fragments: one per party from a key generation, or this party's
    /// redistributed share from a reshare.
    fn fragments(&mut self, msgs: &RoundMessages) -> Result<Zeroizing<Vec<Scalar>>> {
        if let Some(reshare) = &mut self.reshare {
            use k256_dkls::elliptic_curve::PrimeField;
            let received = reshare.redistribution.receive(msgs)?;
            reshare.public_shares = received.public_shares;
            let repr: [u8; 32] = *received.secret;
            let scalar: Option<Scalar> = Scalar::from_repr(repr.into()).into();
            let scalar = scalar.ok_or_else(|| Error::Bug("redistributed share encoding".into()))?;
            return Ok(Zeroizing::new(vec![scalar]));
        }
        let own = self
            .own_fragment
            .take()
            .ok_or(Error::Misuse("round 1 twice"))?;
        let mut fragments = Zeroizing::new(Vec::with_capacity(usize::from(self.params.n)));
        for p in 0..self.params.n {
            if p == self.me {
                fragments.push(*own);
            } else {
                let bytes = msgs
                    .p2p
                    .get(&p)
                    .ok_or_else(|| Error::Bug("missing".into()))?;
                fragments.push(decode::<Scalar>(bytes, p, 1)?);
            }
        }
        Ok(fragments)
    }
}

impl ReshareState {
    /// After phase 4: the crate's key and verifying shares are exactly the redistributed ones,
    /// and the party keeps the wallet's chain code (phase 4 drew a fresh one).
    fn check(&self, party: &mut Party<C>, pkg: &PublicKeyPackage<C>) -> Result<()> {
        if PublicKey::Secp256k1(pk_bytes(&party.pk)?) != self.plan.public_key {
            return Err(Error::Bug("reshared key differs from the group key".into()));
        }
        for (m, expected) in (0..).zip(&self.public_shares) {
            let share = pkg
                .verifying_share(didx(m)?)
                .ok_or_else(|| Error::Bug("missing verifying share".into()))?;
            if pk_bytes(share)?.as_slice() != expected.as_slice() {
                return Err(Error::Bug(
                    "verifying share differs from redistribution".into(),
                ));
            }
        }
        party.derivation_data.chain_code = self.plan.chain_code;
        Ok(())
    }
}

/// Checks that the n verifying shares lie on one polynomial of degree t-1 whose value at 0 is the
/// group key (Lagrange interpolation in the exponent from the first t shares). The crate accepted
/// a DKG in which one party's fragment was altered in transit (found by our negative tests); this
/// glue check makes every party abort instead of holding an unusable share.
fn check_shares_consistent(pkg: &PublicKeyPackage<C>, params: ThresholdParams) -> Result<()> {
    use k256_dkls::ProjectivePoint;
    let t = params.t;
    let base: Vec<(Scalar, ProjectivePoint)> = (0..t)
        .map(|p| {
            let v = pkg
                .verifying_share(didx(p)?)
                .ok_or_else(|| Error::Bug("missing verifying share".into()))?;
            Ok((Scalar::from(u64::from(p) + 1), ProjectivePoint::from(*v)))
        })
        .collect::<Result<_>>()?;
    let interpolate = |x: Scalar| -> Result<ProjectivePoint> {
        let mut acc = ProjectivePoint::IDENTITY;
        for (i, (xi, vi)) in base.iter().enumerate() {
            let mut num = Scalar::ONE;
            let mut den = Scalar::ONE;
            for (m, (xm, _)) in base.iter().enumerate() {
                if m != i {
                    num *= x - xm;
                    den *= *xi - xm;
                }
            }
            let inv = Option::<Scalar>::from(den.invert())
                .ok_or_else(|| Error::Bug("duplicate interpolation point".into()))?;
            acc += *vi * (num * inv);
        }
        Ok(acc)
    };
    let inconsistent = || Error::Aborted {
        culprits: Vec::new(),
        reason: "DKG produced shares that do not lie on one polynomial (a fragment was altered)"
            .into(),
        ban: false,
    };
    if interpolate(Scalar::ZERO)? != ProjectivePoint::from(*pkg.verifying_key()) {
        return Err(inconsistent());
    }
    for p in t..params.n {
        let v = pkg
            .verifying_share(didx(p)?)
            .ok_or_else(|| Error::Bug("missing verifying share".into()))?;
        if interpolate(Scalar::from(u64::from(p) + 1))? != ProjectivePoint::from(*v) {
            return Err(inconsistent());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- signing

type Keep1 = (UniqueKeep1to2<C>, BTreeMap<DIndex, KeepPhase1to2<C>>);
type Keep2 = (UniqueKeep2to3<C>, BTreeMap<DIndex, KeepPhase2to3<C>>);

struct Sign {
    me: PartyIndex,
    party: Party<C>,
    data: SignData,
    keep1: Option<Keep1>,
    keep2: Option<Keep2>,
    x_coord: Option<String>,
    own_b3: Option<Broadcast3to4<C>>,
}

impl Rounds for Sign {
    type Output = Signature;

    fn start(&mut self, out: &mut Outbox<'_>) -> Result<()> {
        let (unique, kept, transmit) = self.party.sign_phase1(&self.data).map_err(abort_error)?;
        self.keep1 = Some((unique, kept));
        for m in transmit {
            let to = from_didx(m.parties.receiver);
            out.p2p(1, to, encode(&m)?);
        }
        Ok(())
    }

    fn on_round(&mut self, msgs: RoundMessages, out: &mut Outbox<'_>) -> Result<Option<Signature>> {
        match msgs.round {
            1 => {
                let mut received = Vec::new();
                for (from, bytes) in &msgs.p2p {
                    let m: TransmitPhase1to2 = decode(bytes, *from, 1)?;
                    check_parties(&m.parties, *from, self.me, 1)?;
                    received.push(m);
                }
                let (unique, kept) = self.keep1.take().ok_or(Error::Misuse("round 1 twice"))?;
                let (unique, kept, transmit) = self
                    .party
                    .sign_phase2(&self.data, unique, kept, &received)
                    .map_err(abort_error)?;
                self.keep2 = Some((unique, kept));
                for m in transmit {
                    let to = from_didx(m.parties.receiver);
                    out.p2p(2, to, encode(&m)?);
                }
                Ok(None)
            }
            2 => {
                let mut received = Vec::new();
                for (from, bytes) in &msgs.p2p {
                    let m: TransmitPhase2to3<C> = decode(bytes, *from, 2)?;
                    check_parties(&m.parties, *from, self.me, 2)?;
                    received.push(m);
                }
                let (unique, kept) = self.keep2.take().ok_or(Error::Misuse("round 2 twice"))?;
                let (x, b3) = self
                    .party
                    .sign_phase3(&self.data, unique, kept, &received)
                    .map_err(abort_error)?;
                out.broadcast(3, encode(&b3)?);
                self.x_coord = Some(x);
                self.own_b3 = Some(b3);
                Ok(None)
            }
            3 => {
                let mut received =
                    vec![self.own_b3.take().ok_or(Error::Misuse("round 3 twice"))?];
                for (from, bytes) in &msgs.broadcast {
                    received.push(decode::<Broadcast3to4<C>>(bytes, *from, 3)?);
                }
                let x = self.x_coord.take().ok_or(Error::Misuse("no r"))?;
                let (s_hex, recovery_id) = self
                    .party
                    .sign_phase4(&self.data, &x, &received, true)
                    .map_err(abort_error)?;
                let mut r = [0u8; 32];
                let mut s = [0u8; 32];
                hex::decode_to_slice(&x, &mut r).map_err(|_| Error::Bug("r hex".into()))?;
                hex::decode_to_slice(&s_hex, &mut s).map_err(|_| Error::Bug("s hex".into()))?;
                if recovery_id > 1 {
                    // R.x >= n: negligible probability; such a signature has no Ethereum `v`.
                    return Err(Error::Aborted {
                        culprits: Vec::new(),
                        reason: "signature with overflowing R.x; retry".into(),
                        ban: false,
                    });
                }
                Ok(Some(Signature::Ecdsa { r, s, recovery_id }))
            }
            _ => Err(Error::Bug("unexpected round".into())),
        }
    }
}

fn unsupported(what: &'static str) -> Error {
    Error::Unsupported {
        scheme: SchemeId::EcdsaDkls23.name(),
        what,
    }
}

impl Scheme for Dkls23 {
    /// Round 3: the phase-3 broadcast (`Broadcast3to4`) from which every party assembles the
    /// signature in phase 4.
    fn sign_release_round(&self) -> u16 {
        3
    }

    fn id(&self) -> SchemeId {
        SchemeId::EcdsaDkls23
    }

    fn keygen(&self, input: KeygenInput) -> Result<BoxSession<KeyShare>> {
        dkg_session(input.sid, input.me, input.params, None)
    }

    fn reshare(&self, input: ReshareInput) -> Result<BoxSession<KeyShare>> {
        let redistribution = begin::<Secp>(SchemeId::EcdsaDkls23, &input, old_sharing)?;
        let reshare = ReshareState {
            redistribution,
            plan: input.plan,
            public_shares: Vec::new(),
        };
        dkg_session(input.sid, input.me, input.params, Some(reshare))
    }

    fn validate(&self, share: &KeyShare) -> Result<()> {
        load(share).map(|_| ())
    }

    fn sign(
        &self,
        share: &KeyShare,
        sid: SessionId,
        signers: &[PartyIndex],
        message: &SignMessage,
        path: &DerivationPath,
    ) -> Result<BoxSession<Signature>> {
        share.params.check_signers(signers, share.index)?;
        let digest = message.digest32()?;
        let loaded = load(share)?;
        let party = if path.is_root() {
            loaded.party
        } else {
            let party = loaded
                .party
                .derive_from_path(&path.to_string(), |_| String::new())
                .map_err(|e| Error::InvalidArgs(format!("derivation failed: {e:?}")))?;
            let expected =
                crate::hd::derive_public_key(&share.public_key, &share.chain_code, path)?;
            if PublicKey::Secp256k1(pk_bytes(&party.pk)?) != expected {
                return Err(Error::Bug("dkls23 child key differs from BIP-32".into()));
            }
            party
        };
        let mut signers = signers.to_vec();
        signers.sort_unstable();
        let counterparties = signers
            .iter()
            .filter(|p| **p != share.index)
            .map(|p| didx(*p))
            .collect::<Result<Vec<_>>>()?;
        let inbox = Inbox::new(
            sid,
            share.index,
            &signers,
            vec![
                RoundSpec {
                    broadcast: false,
                    p2p: true,
                },
                RoundSpec {
                    broadcast: false,
                    p2p: true,
                },
                RoundSpec {
                    broadcast: true,
                    p2p: false,
                },
            ],
        );
        Ok(Box::new(Driver::new(
            Sign {
                me: share.index,
                party,
                data: SignData {
                    sign_id: sid.0.to_vec(),
                    counterparties,
                    message_hash: digest,
                },
                keep1: None,
                keep2: None,
                x_coord: None,
                own_b3: None,
            },
            inbox,
        )))
    }

    fn presign(
        &self,
        _share: &KeyShare,
        _sid: SessionId,
        _signers: &[PartyIndex],
    ) -> Result<BoxSession<(Presignature, PresignPublic)>> {
        Err(unsupported("presignatures"))
    }

    fn issue_partial(
        &self,
        _share: &KeyShare,
        _presig: Presignature,
        _message: &SignMessage,
        _path: &DerivationPath,
        _ledger: &mut dyn PresignatureLedger,
    ) -> Result<PartialSignature> {
        Err(unsupported("presignatures"))
    }

    fn combine(
        &self,
        _public_key: &PublicKey,
        _chain_code: &[u8; 32],
        _public: &PresignPublic,
        _partials: &[PartialSignature],
        _message: &SignMessage,
        _path: &DerivationPath,
    ) -> Result<Signature> {
        Err(unsupported("presignatures"))
    }

    fn verify(&self, public_key: &PublicKey, message: &SignMessage, sig: &Signature) -> Result<()> {
        super::verify_ecdsa(public_key, message, sig)
    }
}

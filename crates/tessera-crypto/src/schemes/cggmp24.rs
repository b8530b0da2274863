//! `ecdsa-secp256k1/cggmp24`: CGGMP24 threshold ECDSA from `cggmp24` 0.7.0-alpha.3 (pinned).
//!
//! Audit status: the crate's Kudelski audit covered the **cggmp21** code base this crate descends
//! from, not the 0.7 alpha. We use cggmp24, not cggmp21: cggmp21's own changelog (0.6.3) reports
//! that the CGGMP21 paper's ZK proofs had a critical flaw, fixed only in CGGMP24.
//!
//! The protocols are the crate's async functions driven through `round_based`'s sync state
//! machine, adapted to [`Session`](crate::Session) by [`Lockness`]. The crate enforces reliable
//! broadcast itself (echo round), so no extra confirmation round is added.
//!
//! Rules from the crate's docs that our types enforce:
//! * presignatures never combine with HD derivation ([`Scheme::issue_partial`] refuses a
//!   non-root path; [`Scheme::presign`] takes none);
//! * a presignature only signs a message whose preimage the signers hash themselves
//!   ([`SignMessage::Preimage`] with a named hash). A raw digest takes full signing, and the
//!   crate's `insecure-assume-preimage-known` feature stays off.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::fmt;

use cggmp24::generic_ec::coords::AlwaysHasAffineX;
use cggmp24::generic_ec::{NonZero, Point, Scalar as GScalar};
use cggmp24::round_based::state_machine::{ProceedResult, StateMachine};
use cggmp24::round_based::{Incoming, MessageDestination, MessageType, ProtocolMessage};
use cggmp24::signing::{PresignatureCommitment, PresignaturePublicData};
use cggmp24::supported_curves::Secp256k1;
use cggmp24::{DataToSign, ExecutionId, PrehashedDataToSign};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::primes::PaillierPrimes;
use crate::reshare::curve::Secp;
use crate::reshare::{begin, redistribution_session, OldSharing, Received};
use crate::session::{check_envelope, Message, Poll, Session};
use crate::{
    BoxSession, DerivationPath, Error, KeyShare, KeygenInput, MessageHash, PartialSignature,
    PartyIndex, PresignPublic, Presignature, PresignatureLedger, PublicKey, ReshareInput,
    ResharePlan, Result, Scheme, SchemeId, SessionId, SignMessage, Signature, ThresholdParams,
};

type E = Secp256k1;
type CoreShare = cggmp24::KeyShare<E>;

/// The CGGMP24 scheme.
pub struct Cggmp24;

/// One party's cggmp24 auxiliary info (Paillier keys and ring-Pedersen parameters) for a signer
/// group of `n`. Secret; reusable for every key of the same group.
pub struct AuxInfo {
    index: PartyIndex,
    n: u16,
    bytes: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for AuxInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuxInfo")
            .field("index", &self.index)
            .field("n", &self.n)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl AuxInfo {
    /// Party index it belongs to.
    pub fn index(&self) -> PartyIndex {
        self.index
    }
    /// Group size.
    pub fn n(&self) -> u16 {
        self.n
    }
    /// Serialized form (secret: store sealed).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.bytes.len() + 4));
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.n.to_be_bytes());
        out.extend_from_slice(&self.bytes);
        out
    }
    /// Parses and validates [`to_bytes`](Self::to_bytes) output.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        if b.len() < 4 {
            return Err(Error::InvalidKeyShare("aux info truncated".into()));
        }
        let index = u16::from_be_bytes([b[0], b[1]]);
        let n = u16::from_be_bytes([b[2], b[3]]);
        let aux = AuxInfo {
            index,
            n,
            bytes: Zeroizing::new(b[4..].to_vec()),
        };
        let parsed = aux.parse()?;
        if parsed.N.len() != usize::from(n) || index >= n {
            return Err(Error::InvalidKeyShare("aux info size mismatch".into()));
        }
        Ok(aux)
    }
    fn parse(&self) -> Result<cggmp24::key_share::AuxInfo> {
        json_decode(&self.bytes).map_err(|_| Error::InvalidKeyShare("aux info".into()))
    }

    /// The form a signer stores (and a signer backup carries): [`STORED_AUX_TAG`], the 32-byte
    /// execution id of the generation that made this aux info, then [`to_bytes`](Self::to_bytes).
    /// The generation id lets a group check that every member holds the same aux info.
    pub fn to_stored(&self, generation: &SessionId) -> Zeroizing<Vec<u8>> {
        let body = self.to_bytes();
        let mut out = Zeroizing::new(Vec::with_capacity(STORED_AUX_TAG.len() + 32 + body.len()));
        out.extend_from_slice(STORED_AUX_TAG);
        out.extend_from_slice(&generation.0);
        out.extend_from_slice(&body);
        out
    }

    /// Parses and validates [`to_stored`](Self::to_stored) output. `Ok(None)` for a value
    /// without the tag (stored before generations were tagged: plain
    /// [`to_bytes`](Self::to_bytes) output, which [`from_bytes`](Self::from_bytes) reads).
    pub fn from_stored(b: &[u8]) -> Result<Option<(SessionId, Self)>> {
        let Some(rest) = b.strip_prefix(STORED_AUX_TAG) else {
            return Ok(None);
        };
        if rest.len() < 32 {
            return Err(Error::InvalidKeyShare("stored aux info truncated".into()));
        }
        let (generation, body) = rest.split_at(32);
        let mut id = [0u8; 32];
        id.copy_from_slice(generation);
        Ok(Some((SessionId(id), Self::from_bytes(body)?)))
    }
}

/// Prefix of [`AuxInfo::to_stored`].
pub const STORED_AUX_TAG: &[u8] = b"tessera/aux/v2\0";

// ---------------------------------------------------------------- the round_based adapter

/// Adapts a `round_based` state machine (all cggmp24 protocols) to [`Session`].
struct Lockness<M, O> {
    sm: Box<dyn StateMachine<Output = Result<O>, Msg = M>>,
    sid: SessionId,
    me: PartyIndex,
    /// Keygen index of each protocol position.
    parties: Vec<PartyIndex>,
    others: BTreeSet<PartyIndex>,
    inbox: VecDeque<Incoming<M>>,
    seen: HashSet<(u16, bool, PartyIndex)>,
    next_id: u64,
    finished: bool,
    /// Output held back until the messages sent in the same step are flushed.
    output: Option<O>,
}

impl<M, O> Lockness<M, O>
where
    M: ProtocolMessage + Serialize + serde::de::DeserializeOwned + 'static,
{
    fn new(
        sm: Box<dyn StateMachine<Output = Result<O>, Msg = M>>,
        sid: SessionId,
        me: PartyIndex,
        parties: Vec<PartyIndex>,
    ) -> Self {
        let others = parties.iter().copied().filter(|p| *p != me).collect();
        Lockness {
            sm,
            sid,
            me,
            parties,
            others,
            inbox: VecDeque::new(),
            seen: HashSet::new(),
            next_id: 0,
            finished: false,
            output: None,
        }
    }

    fn position(&self, p: PartyIndex) -> Option<u16> {
        self.parties.iter().position(|x| *x == p).map(|i| i as u16)
    }
}

impl<M, O> Session for Lockness<M, O>
where
    M: ProtocolMessage + Serialize + serde::de::DeserializeOwned + 'static,
{
    type Output = O;

    fn poll(&mut self) -> Result<Poll<O>> {
        if let Some(o) = self.output.take() {
            return Ok(Poll::Done(o));
        }
        if self.finished {
            return Err(Error::Misuse("polled after completion"));
        }
        let mut out = Vec::new();
        loop {
            let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.sm.proceed()))
                .map_err(|_| Error::Aborted {
                    culprits: Vec::new(),
                    reason: "the protocol crate panicked on received data".into(),
                    ban: false,
                });
            let step = match step {
                Ok(step) => step,
                Err(e) => {
                    self.finished = true;
                    return Err(e);
                }
            };
            match step {
                ProceedResult::SendMsg(m) => {
                    let to = match m.recipient {
                        MessageDestination::AllParties => None,
                        MessageDestination::OneParty(pos) => Some(
                            *self
                                .parties
                                .get(usize::from(pos))
                                .ok_or_else(|| Error::Bug("recipient out of range".into()))?,
                        ),
                    };
                    out.push(Message {
                        session: self.sid,
                        round: m.msg.round(),
                        from: self.me,
                        to,
                        payload: crate::session::encode(&m.msg)?,
                    });
                }
                ProceedResult::NeedsOneMoreMessage => match self.inbox.pop_front() {
                    Some(m) => {
                        if self.sm.received_msg(m).is_err() {
                            return Err(Error::Bug("state machine refused a message".into()));
                        }
                    }
                    None => {
                        return Ok(if out.is_empty() {
                            Poll::Waiting
                        } else {
                            Poll::Send(out)
                        })
                    }
                },
                ProceedResult::Yielded => {}
                ProceedResult::Output(result) => {
                    self.finished = true;
                    let o = result?;
                    if out.is_empty() {
                        return Ok(Poll::Done(o));
                    }
                    // Last messages first (the others may still need them), output next poll.
                    self.output = Some(o);
                    return Ok(Poll::Send(out));
                }
                ProceedResult::Error(e) => {
                    self.finished = true;
                    return Err(Error::Bug(format!("state machine: {e}")));
                }
            }
        }
    }

    fn receive(&mut self, msg: Message) -> Result<()> {
        check_envelope(&self.sid, self.me, &self.others, &msg)?;
        let from = msg.from;
        // fast-paillier's deserializer (rug backend) panics on some malformed integers
        // ("radix out of range"), found by our tamper tests: contain it and blame the sender.
        let payload = &msg.payload;
        let round = msg.round;
        let decoded: M = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::session::decode::<M>(payload, from, round)
        }))
        .unwrap_or_else(|_| {
            Err(Error::Malformed {
                from,
                round,
                reason: "payload made the protocol crate's decoder panic".into(),
            })
        })?;
        if decoded.round() != msg.round {
            return Err(Error::WrongRound {
                from,
                round: msg.round,
                reason: "envelope round differs from the payload's round",
            });
        }
        let p2p = msg.to.is_some();
        if !self.seen.insert((msg.round, p2p, from)) {
            return Err(Error::Duplicate {
                from,
                round: msg.round,
            });
        }
        let sender = self.position(from).ok_or(Error::UnknownSender { from })?;
        self.next_id += 1;
        self.inbox.push_back(Incoming {
            id: self.next_id,
            sender,
            msg_type: if p2p {
                MessageType::P2P
            } else {
                MessageType::Broadcast
            },
            msg: decoded,
        });
        Ok(())
    }

    fn party(&self) -> PartyIndex {
        self.me
    }
}

/// Turns a cggmp24 error (opaque types) into ours, extracting blamed positions from its report.
fn protocol_error(e: &dyn std::error::Error, parties: &[PartyIndex]) -> Error {
    let mut reason = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        src = s.source();
    }
    // The crate reports blame only inside private error types; read the positions from their
    // debug form ("faulty_party: N" / "parties: [..]") and map them to keygen indices.
    let debug = format!("{e:?}");
    let mut culprits = BTreeSet::new();
    for key in ["faulty_party: ", "faulty_signer: "] {
        for part in debug.split(key).skip(1) {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(pos) = digits.parse::<usize>() {
                if let Some(p) = parties.get(pos) {
                    culprits.insert(*p);
                }
            }
        }
    }
    if reason.contains("invalid arguments") {
        return Error::InvalidArgs(reason);
    }
    Error::Aborted {
        culprits: culprits.into_iter().collect(),
        reason,
        ban: false,
    }
}

fn sm<M, O, F>(
    fut: impl FnOnce(cggmp24::round_based::state_machine::MpcParty<M>) -> F,
) -> Box<dyn StateMachine<Output = Result<O>, Msg = M>>
where
    M: 'static,
    O: 'static,
    F: std::future::Future<Output = Result<O>> + 'static,
{
    Box::new(cggmp24::round_based::state_machine::wrap_protocol(fut))
}

// ---------------------------------------------------------------- shares

// cggmp24's secret types use serde features postcard cannot read back, so they are stored as
// JSON (inside our versioned envelope).
fn json_encode<T: Serialize>(v: &T) -> Result<Zeroizing<Vec<u8>>> {
    serde_json::to_vec(v)
        .map(Zeroizing::new)
        .map_err(|e| Error::Bug(format!("encode: {e}")))
}

fn json_decode<T: serde::de::DeserializeOwned>(
    b: &[u8],
) -> std::result::Result<T, serde_json::Error> {
    serde_json::from_slice(b)
}

fn load(share: &KeyShare) -> Result<CoreShare> {
    if share.scheme != SchemeId::EcdsaCggmp24 {
        return Err(Error::InvalidArgs(format!(
            "key share is {}, not cggmp24",
            share.scheme
        )));
    }
    let bad = |m: &str| Error::InvalidKeyShare(m.to_string());
    let core: CoreShare = json_decode(&share.secret).map_err(|_| bad("payload"))?;
    if public_key(&core)? != share.public_key {
        return Err(bad("public key does not match header"));
    }
    if core.core.i != share.index || core.core.public_shares.len() != usize::from(share.params.n) {
        return Err(bad("party index or n does not match header"));
    }
    if core.core.vss_setup.as_ref().map(|v| v.min_signers) != Some(share.params.t) {
        return Err(bad("threshold does not match header"));
    }
    if core.core.chain_code != Some(share.chain_code) {
        return Err(bad("chain code does not match header"));
    }
    Ok(core)
}

/// This share's Shamir point: its evaluation point `I[i]` and secret `x`, both big-endian
/// (disaster recovery only; see `crate::recover`).
pub(crate) fn share_point(share: &KeyShare) -> Result<([u8; 32], Zeroizing<[u8; 32]>)> {
    point_of(&load(share)?, share.index)
}

fn vss_setup(core: &CoreShare) -> Result<&cggmp24::key_share::VssSetup<E>> {
    core.core
        .vss_setup
        .as_ref()
        .ok_or_else(|| Error::InvalidKeyShare("no VSS setup".into()))
}

/// [`share_point`] of an already loaded share.
fn point_of(core: &CoreShare, index: PartyIndex) -> Result<([u8; 32], Zeroizing<[u8; 32]>)> {
    let point = vss_setup(core)?
        .I
        .get(usize::from(index))
        .ok_or_else(|| Error::InvalidKeyShare("no evaluation point for this index".into()))?;
    let mut x = [0u8; 32];
    x.copy_from_slice(&point.to_be_bytes());
    let mut s = Zeroizing::new([0u8; 32]);
    let secret: &cggmp24::generic_ec::SecretScalar<E> = core.core.x.as_ref();
    let secret: &GScalar<E> = secret.as_ref();
    s.copy_from_slice(&secret.to_be_bytes());
    Ok((x, s))
}

/// This party's aux info, checked to belong to it and to a group of `n`.
fn group_aux(aux: Option<AuxInfo>, me: PartyIndex, n: u16) -> Result<cggmp24::key_share::AuxInfo> {
    let aux = aux.ok_or_else(|| {
        Error::InvalidArgs("cggmp24 needs this party's aux info for the signer group".into())
    })?;
    if aux.index != me || aux.n != n {
        return Err(Error::InvalidArgs(
            "aux info belongs to another party or group".into(),
        ));
    }
    aux.parse()
}

/// An incomplete share and the group's aux info as a validated [`KeyShare`].
fn store(
    incomplete: cggmp24::IncompleteKeyShare<E>,
    aux: cggmp24::key_share::AuxInfo,
    me: PartyIndex,
    params: ThresholdParams,
) -> Result<KeyShare> {
    let core = CoreShare::from_parts((incomplete, aux))
        .map_err(|e| Error::Bug(format!("key share assembly: {e}")))?;
    let chain_code = core
        .core
        .chain_code
        .ok_or_else(|| Error::Bug("no chain code".into()))?;
    let share = KeyShare {
        scheme: SchemeId::EcdsaCggmp24,
        params,
        index: me,
        public_key: public_key(&core)?,
        chain_code,
        secret: json_encode(&core)?,
    };
    load(&share)?;
    Ok(share)
}

// ---------------------------------------------------------------- reshare (crate::reshare)

/// This share as a reshare dealer sees it. Resharing evaluates at `index + 1`; a share whose
/// VSS points `I` are anything else is refused.
pub(crate) fn old_sharing(share: &KeyShare) -> Result<OldSharing> {
    let core = load(share)?;
    for (k, point) in (1u64..).zip(&vss_setup(&core)?.I) {
        if point.to_be_bytes().as_ref() != GScalar::<E>::from(k).to_be_bytes().as_ref() {
            return Err(Error::InvalidKeyShare(
                "evaluation points are not index + 1".into(),
            ));
        }
    }
    let (_, secret) = point_of(&core, share.index)?;
    Ok(OldSharing {
        index: share.index,
        secret,
        public_shares: core
            .core
            .public_shares
            .iter()
            .map(|p| p.to_bytes(true).to_vec())
            .collect(),
    })
}

/// The new incomplete share from redistribution's output, through key-share's validation.
fn rebuild(
    me: PartyIndex,
    params: ThresholdParams,
    plan: &ResharePlan,
    received: &Received,
) -> Result<cggmp24::IncompleteKeyShare<E>> {
    use cggmp24::key_share::{DirtyIncompleteKeyShare, DirtyKeyInfo, Validate, VssSetup};
    let bug = |w: &str| Error::Bug(format!("reshared cggmp24 share: {w}"));
    let point = |b: &[u8]| {
        Point::<E>::from_bytes(b)
            .ok()
            .and_then(NonZero::from_point)
            .ok_or_else(|| bug("point"))
    };
    let mut x =
        GScalar::<E>::from_be_bytes(received.secret.as_slice()).map_err(|_| bug("scalar"))?;
    let x = NonZero::from_secret_scalar(cggmp24::generic_ec::SecretScalar::new(&mut x))
        .ok_or_else(|| bug("zero share"))?;
    let points = (1..=u64::from(params.n))
        .map(|v| NonZero::from_scalar(GScalar::<E>::from(v)).ok_or_else(|| bug("point")))
        .collect::<Result<Vec<_>>>()?;
    let dirty = DirtyIncompleteKeyShare::<E> {
        i: me,
        key_info: DirtyKeyInfo {
            curve: Default::default(),
            shared_public_key: point(plan.public_key.as_bytes())?,
            public_shares: received
                .public_shares
                .iter()
                .map(|b| point(b))
                .collect::<Result<_>>()?,
            vss_setup: Some(VssSetup {
                min_signers: params.t,
                I: points,
            }),
            chain_code: Some(plan.chain_code),
        },
        x,
    };
    dirty
        .validate()
        .map_err(|e| bug(&e.into_error().to_string()))
}

fn public_key(core: &CoreShare) -> Result<PublicKey> {
    let b = core.core.shared_public_key.to_bytes(true);
    Ok(PublicKey::Secp256k1(
        b.as_ref()
            .try_into()
            .map_err(|_| Error::Bug("point length".into()))?,
    ))
}

fn signature(sig: cggmp24::Signature<E>) -> ([u8; 32], [u8; 32]) {
    let mut out = [0u8; 64];
    sig.write_to_slice(&mut out);
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&out[..32]);
    s.copy_from_slice(&out[32..]);
    (r, s)
}

fn finish_ecdsa(pk: &PublicKey, digest: &[u8; 32], r: [u8; 32], s: [u8; 32]) -> Result<Signature> {
    let PublicKey::Secp256k1(pkb) = pk else {
        return Err(Error::Bug("not secp256k1".into()));
    };
    let recovery_id = super::recovery_id(pkb, digest, &r, &s)?;
    Ok(Signature::Ecdsa { r, s, recovery_id })
}

/// SHA-256 applied twice, as a `digest::Digest` so cggmp24 can hash a Bitcoin preimage itself.
#[derive(Clone, Default)]
struct Sha256d(sha2::Sha256);

impl digest::HashMarker for Sha256d {}
impl digest::OutputSizeUser for Sha256d {
    type OutputSize = digest::typenum::U32;
}
impl digest::Update for Sha256d {
    fn update(&mut self, data: &[u8]) {
        digest::Update::update(&mut self.0, data);
    }
}
impl digest::FixedOutput for Sha256d {
    fn finalize_into(self, out: &mut digest::Output<Self>) {
        use sha2::Digest;
        let first = self.0.finalize();
        out.copy_from_slice(&sha2::Sha256::digest(first));
    }
}

/// `DataToSign` from a preimage the signer hashes itself (the only form presignatures accept).
fn data_to_sign(message: &SignMessage) -> Result<DataToSign<E>> {
    match message {
        SignMessage::Preimage {
            hash: Some(h),
            bytes,
        } => Ok(match h {
            MessageHash::Sha256 => DataToSign::digest::<sha2::Sha256>(bytes),
            MessageHash::DoubleSha256 => DataToSign::digest::<Sha256d>(bytes),
            MessageHash::Keccak256 => DataToSign::digest::<sha3::Keccak256>(bytes),
            MessageHash::TapSighash => {
                return Err(Error::InvalidArgs(
                    "TapSighash messages are signed with BIP-340 Schnorr, not ECDSA".into(),
                ))
            }
        }),
        SignMessage::Preimage { hash: None, .. } => Err(Error::InvalidArgs(
            "ECDSA needs a named hash for the preimage".into(),
        )),
        SignMessage::RawDigest(_) => Err(Error::PresignatureNotAllowed(
            "a raw digest (preimage unknown to the signers) enables a known forgery with \
             presignatures; use full signing",
        )),
    }
}

#[derive(Serialize, Deserialize)]
struct PublicData {
    gamma: Vec<u8>,
    commitments: Vec<(Vec<u8>, Vec<u8>)>,
}

fn point(b: &[u8]) -> Result<Point<E>> {
    Point::<E>::from_bytes(b).map_err(|_| Error::InvalidArgs("presignature public data".into()))
}

impl Cggmp24 {
    /// Aux-info generation for party `me` of a group of `n`, from this party's Paillier primes.
    /// Run once per signer group; the output serves every key of the group.
    pub fn aux_info_session(
        &self,
        sid: SessionId,
        me: PartyIndex,
        n: u16,
        primes: PaillierPrimes,
    ) -> Result<BoxSession<AuxInfo>> {
        if me >= n || n < 2 {
            return Err(Error::InvalidArgs("bad party index or group size".into()));
        }
        let parties: Vec<PartyIndex> = (0..n).collect();
        let sid_bytes = sid.derive("cggmp24/aux").0;
        let blame = parties.clone();
        let machine = sm(move |party| async move {
            let mut rng = rand_core::OsRng;
            let eid = ExecutionId::new(&sid_bytes);
            cggmp24::aux_info_gen(eid, me, n, primes.0)
                .start(&mut rng, party)
                .await
                .map_err(|e| protocol_error(&e, &blame))
        });
        let inner = Lockness::new(machine, sid, me, parties);
        Ok(Box::new(crate::session::Map::new(inner, move |aux| {
            Ok(AuxInfo {
                index: me,
                n,
                bytes: json_encode(&aux)?,
            })
        })))
    }

    fn signing_parties(share: &KeyShare, signers: &[PartyIndex]) -> Result<(Vec<PartyIndex>, u16)> {
        share.params.check_signers(signers, share.index)?;
        let mut s = signers.to_vec();
        s.sort_unstable();
        let pos = s
            .iter()
            .position(|p| *p == share.index)
            .ok_or_else(|| Error::Bug("own index".into()))? as u16;
        Ok((s, pos))
    }
}

impl Scheme for Cggmp24 {
    fn id(&self) -> SchemeId {
        SchemeId::EcdsaCggmp24
    }

    /// `signing::msg::Msg::Round4` (the partial signatures): `round_based`'s derive numbers the
    /// variants from 0 (Round1a, Round1b, Round2, Round3, Round4, ReliabilityCheck).
    fn sign_release_round(&self) -> u16 {
        4
    }

    fn keygen(&self, input: KeygenInput) -> Result<BoxSession<KeyShare>> {
        let ThresholdParams { t, n } = input.params;
        let me = input.me;
        let aux_parsed = group_aux(input.aux, me, n)?;
        let parties: Vec<PartyIndex> = (0..n).collect();
        let sid_bytes = input.sid.derive("cggmp24/keygen").0;
        let blame = parties.clone();
        let machine = sm(move |party| async move {
            let mut rng = rand_core::OsRng;
            let eid = ExecutionId::new(&sid_bytes);
            cggmp24::keygen::<E>(eid, me, n)
                .set_threshold(t)
                .hd_wallet(true)
                .start(&mut rng, party)
                .await
                .map_err(|e| protocol_error(&e, &blame))
        });
        let params = input.params;
        let inner = Lockness::new(machine, input.sid, me, parties);
        Ok(Box::new(crate::session::Map::new(
            inner,
            move |incomplete| store(incomplete, aux_parsed, me, params),
        )))
    }

    fn reshare(&self, input: ReshareInput) -> Result<BoxSession<KeyShare>> {
        let redistribution = begin::<Secp>(SchemeId::EcdsaCggmp24, &input, old_sharing)?;
        let ReshareInput {
            sid,
            me,
            params,
            plan,
            aux,
            ..
        } = input;
        let aux = group_aux(aux, me, params.n)?;
        Ok(Box::new(crate::session::Map::new(
            redistribution_session(sid, redistribution),
            move |(received, _): (Received, [u8; 32])| {
                store(rebuild(me, params, &plan, &received)?, aux, me, params)
            },
        )))
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
        let (parties, pos) = Self::signing_parties(share, signers)?;
        let core = load(share)?;
        let digest = message.digest32()?;
        let verify_key = crate::hd::derive_public_key(&share.public_key, &share.chain_code, path)?;
        let indices: Vec<u32> = path.indices().to_vec();
        let sid_bytes = sid.derive("cggmp24/sign").0;
        let keygen_indices = parties.clone();
        let machine = sm(move |party| async move {
            let mut rng = rand_core::OsRng;
            let eid = ExecutionId::new(&sid_bytes);
            // Full signing is secure for a prehashed digest (crate docs); the danger of raw
            // digests is about what the signers know, which policy decides above this layer.
            let data =
                PrehashedDataToSign::from_scalar(GScalar::<E>::from_be_bytes_mod_order(digest));
            let mut builder = cggmp24::signing(eid, pos, &keygen_indices, &core);
            if !indices.is_empty() {
                builder = builder
                    .set_derivation_path(indices)
                    .map_err(|e| Error::InvalidArgs(format!("derivation path: {e}")))?;
            }
            builder
                .sign(&mut rng, party, &data)
                .await
                .map_err(|e| protocol_error(&e, &keygen_indices))
        });
        let inner = Lockness::new(machine, sid, share.index, parties);
        Ok(Box::new(crate::session::Map::new(inner, move |sig| {
            let (r, s) = signature(sig);
            let sig = finish_ecdsa(&verify_key, &digest, r, s)?;
            super::verify_ecdsa(&verify_key, &SignMessage::RawDigest(digest), &sig)?;
            Ok(sig)
        })))
    }

    fn presign(
        &self,
        share: &KeyShare,
        sid: SessionId,
        signers: &[PartyIndex],
    ) -> Result<BoxSession<(Presignature, PresignPublic)>> {
        let (parties, pos) = Self::signing_parties(share, signers)?;
        let core = load(share)?;
        let sid_bytes = sid.derive("cggmp24/presign").0;
        let keygen_indices = parties.clone();
        // No derivation path here, ever: the crate's docs forbid presignatures with HD keys.
        let machine = sm(move |party| async move {
            let mut rng = rand_core::OsRng;
            let eid = ExecutionId::new(&sid_bytes);
            cggmp24::signing(eid, pos, &keygen_indices, &core)
                .generate_presignature(&mut rng, party)
                .await
                .map_err(|e| protocol_error(&e, &keygen_indices))
        });
        let me = share.index;
        let id = sid.derive("presignature-id").0;
        let signers_out = parties.clone();
        let inner = Lockness::new(machine, sid, share.index, parties);
        Ok(Box::new(crate::session::Map::new(
            inner,
            move |(presig, public): (cggmp24::Presignature<E>, PresignaturePublicData<E>)| {
                let secret = json_encode(&presig)?;
                drop(presig);
                let data = PublicData {
                    gamma: public.Gamma.to_bytes(true).to_vec(),
                    commitments: public
                        .commitments
                        .iter()
                        .map(|c| {
                            (
                                c.tilde_Delta.to_bytes(true).to_vec(),
                                c.tilde_S.to_bytes(true).to_vec(),
                            )
                        })
                        .collect(),
                };
                Ok((
                    Presignature {
                        scheme: SchemeId::EcdsaCggmp24,
                        id,
                        index: me,
                        signers: signers_out.clone(),
                        secret,
                    },
                    PresignPublic {
                        scheme: SchemeId::EcdsaCggmp24,
                        id,
                        signers: signers_out,
                        data: crate::session::encode(&data)?,
                    },
                ))
            },
        )))
    }

    fn issue_partial(
        &self,
        share: &KeyShare,
        presig: Presignature,
        message: &SignMessage,
        path: &DerivationPath,
        ledger: &mut dyn PresignatureLedger,
    ) -> Result<PartialSignature> {
        if !path.is_root() {
            return Err(Error::PresignatureNotAllowed(
                "HD-derived keys cannot use cggmp24 presignatures; use full signing",
            ));
        }
        if presig.scheme != SchemeId::EcdsaCggmp24 || presig.index != share.index {
            return Err(Error::InvalidArgs(
                "presignature does not belong to this share".into(),
            ));
        }
        let data = data_to_sign(message)?;
        let p: cggmp24::Presignature<E> = json_decode(&presig.secret)
            .map_err(|_| Error::InvalidKeyShare("presignature payload".into()))?;
        // Single use: record the id durably before the partial signature exists.
        ledger.consume(&presig.id)?;
        let partial = p.issue_partial_signature(data);
        Ok(PartialSignature {
            presignature: presig.id,
            from: share.index,
            bytes: crate::session::encode(&partial)?,
        })
    }

    fn combine(
        &self,
        public_key: &PublicKey,
        _chain_code: &[u8; 32],
        public: &PresignPublic,
        partials: &[PartialSignature],
        message: &SignMessage,
        path: &DerivationPath,
    ) -> Result<Signature> {
        if !path.is_root() {
            return Err(Error::PresignatureNotAllowed(
                "HD-derived keys cannot use cggmp24 presignatures; use full signing",
            ));
        }
        if public.scheme != SchemeId::EcdsaCggmp24 {
            return Err(Error::InvalidArgs("presignature of another scheme".into()));
        }
        let data = data_to_sign(message)?;
        let pd: PublicData = postcard::from_bytes(&public.data)
            .map_err(|_| Error::InvalidArgs("presignature public data".into()))?;
        let gamma = NonZero::from_point(point(&pd.gamma)?)
            .ok_or_else(|| Error::InvalidArgs("presignature public data".into()))?;
        let commitments = pd
            .commitments
            .iter()
            .map(|(d, s)| {
                Ok(PresignatureCommitment {
                    tilde_Delta: point(d)?,
                    tilde_S: point(s)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if commitments.len() != public.signers.len() {
            return Err(Error::InvalidArgs("presignature public data".into()));
        }
        let public_data = PresignaturePublicData {
            Gamma: gamma,
            commitments,
        };
        let mut by_party = BTreeMap::new();
        for p in partials {
            if p.presignature != public.id || !public.signers.contains(&p.from) {
                return Err(Error::InvalidArgs(format!(
                    "partial signature from party {} does not belong to this presignature",
                    p.from
                )));
            }
            let ps: cggmp24::PartialSignature<E> = crate::session::decode(&p.bytes, p.from, 1)?;
            if by_party.insert(p.from, ps).is_some() {
                return Err(Error::Duplicate {
                    from: p.from,
                    round: 1,
                });
            }
        }
        let mut ordered = Vec::with_capacity(public.signers.len());
        for s in &public.signers {
            ordered.push(*by_party.get(s).ok_or_else(|| {
                Error::InvalidArgs(format!("missing partial signature of party {s}"))
            })?);
        }
        let sig =
            cggmp24::PartialSignature::combine(&ordered, &public_data, data).ok_or_else(|| {
                // Name the party whose partial does not satisfy its public commitment.
                let r = public_data.Gamma.x().to_scalar();
                let m = data.to_scalar();
                let culprits = public
                    .signers
                    .iter()
                    .zip(ordered.iter().zip(&public_data.commitments))
                    .filter(|(_, (ps, c))| {
                        ps.sigma * public_data.Gamma != m * c.tilde_Delta + r * c.tilde_S
                    })
                    .map(|(p, _)| *p)
                    .collect();
                Error::Aborted {
                    culprits,
                    reason: "partial signature does not match its presignature commitment".into(),
                    ban: false,
                }
            })?;
        let (r, s) = signature(sig);
        let digest: [u8; 32] = data
            .to_scalar()
            .to_be_bytes()
            .as_ref()
            .try_into()
            .map_err(|_| Error::Bug("scalar length".into()))?;
        let sig = finish_ecdsa(public_key, &digest, r, s)?;
        super::verify_ecdsa(public_key, &SignMessage::RawDigest(digest), &sig)?;
        Ok(sig)
    }

    fn verify(&self, public_key: &PublicKey, message: &SignMessage, sig: &Signature) -> Result<()> {
        super::verify_ecdsa(public_key, message, sig)
    }
}

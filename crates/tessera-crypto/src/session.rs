//! The sans-IO session interface shared by every scheme.
//!
//! A [`Session`] is one party's view of one protocol execution. It never touches a socket or a
//! clock: the caller hands it incoming [`Message`]s with [`Session::receive`] and asks it what to
//! do next with [`Session::poll`], which answers with messages to send, "waiting", or the output.
//! The same loop drives an in-process simulation ([`crate::sim`]) and, later, the network.
//!
//! Every message carries the [`SessionId`] (the execution id, bound into the protocol where the
//! crate supports it), the round, the sender and the recipient (`None` = broadcast). Envelope
//! checks that do not depend on the scheme (wrong session, unknown sender, misrouted, duplicate,
//! wrong round) are done here, in [`Inbox`], before a payload reaches a protocol crate.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::{Error, PartyIndex, Result};

/// Execution id: 32 bytes that must never repeat for the same key (the node keeps a ledger).
///
/// It is bound into every message envelope and passed to the protocol crates as their execution
/// / session id, so a message from one execution is useless in another.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct SessionId(pub [u8; 32]);

impl SessionId {
    /// A fresh random id.
    pub fn random(rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng)) -> Self {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        SessionId(b)
    }

    /// A sub-id derived for a named step of a larger operation (e.g. aux-info vs keygen).
    pub fn derive(&self, label: &str) -> SessionId {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"tessera/session-id/v1");
        h.update(self.0);
        h.update((label.len() as u64).to_be_bytes());
        h.update(label.as_bytes());
        SessionId(h.finalize().into())
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", &self.to_hex()[..16])
    }
}

/// One protocol message between two parties (or from one party to all).
///
/// The transport seals it (signature + encryption for p2p); this layer only checks that the
/// envelope fits the session.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    /// Execution id.
    pub session: SessionId,
    /// Protocol round (scheme-specific numbering, starting at 1).
    pub round: u16,
    /// Sender's party index (its index at key generation).
    pub from: PartyIndex,
    /// Recipient for p2p messages; `None` for a broadcast.
    pub to: Option<PartyIndex>,
    /// Serialized protocol payload.
    pub payload: Vec<u8>,
}

impl fmt::Debug for Message {
    // Payloads of p2p messages can be sensitive to an observer of logs; print only their size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("session", &self.session)
            .field("round", &self.round)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// What a session wants after [`Session::poll`].
#[derive(Debug)]
pub enum Poll<O> {
    /// Send these messages, then poll again.
    Send(Vec<Message>),
    /// Nothing to do until another message is received.
    Waiting,
    /// The protocol finished; polling again is a misuse.
    Done(O),
}

/// One party's side of one protocol execution, driven without IO.
pub trait Session {
    /// What the protocol produces (a key share, a presignature, a signature…).
    type Output;

    /// Advance the protocol: returns messages to send, `Waiting`, or the output.
    fn poll(&mut self) -> Result<Poll<Self::Output>>;

    /// Hand the session one incoming message. Envelope errors are returned at once and the
    /// message is dropped; protocol errors surface from the next [`poll`](Self::poll).
    fn receive(&mut self, msg: Message) -> Result<()>;

    /// This party's index.
    fn party(&self) -> PartyIndex;
}

impl<O> Session for Box<dyn Session<Output = O>> {
    type Output = O;
    fn poll(&mut self) -> Result<Poll<O>> {
        (**self).poll()
    }
    fn receive(&mut self, msg: Message) -> Result<()> {
        (**self).receive(msg)
    }
    fn party(&self) -> PartyIndex {
        (**self).party()
    }
}

/// What a round expects from every other participant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoundSpec {
    pub broadcast: bool,
    pub p2p: bool,
}

/// Per-session envelope validation and buffering for protocols driven round by round.
pub(crate) struct Inbox {
    sid: SessionId,
    me: PartyIndex,
    others: BTreeSet<PartyIndex>,
    rounds: Vec<RoundSpec>,
    /// First round whose messages have not been taken yet (1-based).
    current: u16,
    received: BTreeMap<(u16, bool, PartyIndex), Vec<u8>>,
}

/// Messages of one completed round, by sender.
pub(crate) struct RoundMessages {
    pub round: u16,
    pub broadcast: BTreeMap<PartyIndex, Vec<u8>>,
    pub p2p: BTreeMap<PartyIndex, Vec<u8>>,
}

impl Inbox {
    pub fn new(
        sid: SessionId,
        me: PartyIndex,
        participants: &[PartyIndex],
        rounds: Vec<RoundSpec>,
    ) -> Self {
        Inbox {
            sid,
            me,
            others: participants.iter().copied().filter(|p| *p != me).collect(),
            rounds,
            current: 1,
            received: BTreeMap::new(),
        }
    }

    /// Checks the envelope and stores the payload.
    pub fn accept(&mut self, msg: Message) -> Result<()> {
        check_envelope(&self.sid, self.me, &self.others, &msg)?;
        let from = msg.from;
        let spec = usize::from(msg.round)
            .checked_sub(1)
            .and_then(|i| self.rounds.get(i))
            .ok_or(Error::WrongRound {
                from,
                round: msg.round,
                reason: "no such round",
            })?;
        let p2p = msg.to.is_some();
        if (p2p && !spec.p2p) || (!p2p && !spec.broadcast) {
            return Err(Error::WrongRound {
                from,
                round: msg.round,
                reason: if p2p {
                    "unexpected p2p message"
                } else {
                    "unexpected broadcast"
                },
            });
        }
        if msg.round < self.current {
            // Every expected message of a finished round was already taken.
            return Err(Error::Duplicate {
                from,
                round: msg.round,
            });
        }
        let key = (msg.round, p2p, from);
        if self.received.contains_key(&key) {
            return Err(Error::Duplicate {
                from,
                round: msg.round,
            });
        }
        self.received.insert(key, msg.payload);
        Ok(())
    }

    /// Whether all messages of the current round arrived.
    pub fn ready(&self) -> bool {
        let Some(spec) = self.rounds.get(usize::from(self.current) - 1) else {
            return false;
        };
        self.others.iter().all(|p| {
            (!spec.broadcast || self.received.contains_key(&(self.current, false, *p)))
                && (!spec.p2p || self.received.contains_key(&(self.current, true, *p)))
        })
    }

    /// Takes the current round's messages (call only when [`ready`](Self::ready)).
    pub fn take(&mut self) -> RoundMessages {
        let round = self.current;
        let mut out = RoundMessages {
            round,
            broadcast: BTreeMap::new(),
            p2p: BTreeMap::new(),
        };
        for p in self.others.clone() {
            if let Some(b) = self.received.remove(&(round, false, p)) {
                out.broadcast.insert(p, b);
            }
            if let Some(b) = self.received.remove(&(round, true, p)) {
                out.p2p.insert(p, b);
            }
        }
        self.current += 1;
        out
    }

    /// Builds an outgoing message of this session.
    pub fn msg(&self, round: u16, to: Option<PartyIndex>, payload: Vec<u8>) -> Message {
        Message {
            session: self.sid,
            round,
            from: self.me,
            to,
            payload,
        }
    }
}

/// Scheme-independent envelope checks.
pub(crate) fn check_envelope(
    sid: &SessionId,
    me: PartyIndex,
    others: &BTreeSet<PartyIndex>,
    msg: &Message,
) -> Result<()> {
    if msg.session != *sid {
        return Err(Error::WrongSession { from: msg.from });
    }
    if msg.from == me || !others.contains(&msg.from) {
        return Err(Error::UnknownSender { from: msg.from });
    }
    if let Some(to) = msg.to {
        if to != me {
            return Err(Error::Misrouted { from: msg.from, to });
        }
    }
    Ok(())
}

/// Serializes a protocol payload.
pub(crate) fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(|e| Error::Bug(format!("encode: {e}")))
}

/// Deserializes a payload received from `from` in `round`, naming the culprit on failure.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    from: PartyIndex,
    round: u16,
) -> Result<T> {
    let (v, rest) = postcard::take_from_bytes(bytes).map_err(|e| Error::Malformed {
        from,
        round,
        reason: format!("undecodable payload: {e}"),
    })?;
    if !rest.is_empty() {
        return Err(Error::Malformed {
            from,
            round,
            reason: "trailing bytes".into(),
        });
    }
    Ok(v)
}

/// Applies a fallible conversion to a session's output.
pub(crate) struct Map<S, F> {
    inner: S,
    f: Option<F>,
}

impl<S, F> Map<S, F> {
    pub fn new(inner: S, f: F) -> Self {
        Map { inner, f: Some(f) }
    }
}

impl<S: Session, O, F: FnOnce(S::Output) -> Result<O>> Session for Map<S, F> {
    type Output = O;
    fn poll(&mut self) -> Result<Poll<O>> {
        match self.inner.poll()? {
            Poll::Send(m) => Ok(Poll::Send(m)),
            Poll::Waiting => Ok(Poll::Waiting),
            Poll::Done(o) => {
                let f = self
                    .f
                    .take()
                    .ok_or(Error::Misuse("polled after completion"))?;
                Ok(Poll::Done(f(o)?))
            }
        }
    }
    fn receive(&mut self, msg: Message) -> Result<()> {
        self.inner.receive(msg)
    }
    fn party(&self) -> PartyIndex {
        self.inner.party()
    }
}

/// Outgoing messages produced by one step of a [`Rounds`] protocol.
pub(crate) struct Outbox<'a> {
    inbox: &'a Inbox,
    msgs: Vec<Message>,
}

impl Outbox<'_> {
    pub fn broadcast(&mut self, round: u16, payload: Vec<u8>) {
        self.msgs.push(self.inbox.msg(round, None, payload));
    }
    pub fn p2p(&mut self, round: u16, to: PartyIndex, payload: Vec<u8>) {
        self.msgs.push(self.inbox.msg(round, Some(to), payload));
    }
}

/// A protocol written as "send round 1; on each completed round, send the next or finish".
pub(crate) trait Rounds {
    type Output;
    /// Emits round 1.
    fn start(&mut self, out: &mut Outbox<'_>) -> Result<()>;
    /// Consumes a completed round; emits the next round or returns the output.
    fn on_round(
        &mut self,
        msgs: RoundMessages,
        out: &mut Outbox<'_>,
    ) -> Result<Option<Self::Output>>;
}

/// Drives a [`Rounds`] protocol through the [`Session`] interface.
pub(crate) struct Driver<R> {
    rounds: R,
    inbox: Inbox,
    started: bool,
    finished: bool,
    me: PartyIndex,
}

impl<R: Rounds> Driver<R> {
    pub fn new(rounds: R, inbox: Inbox) -> Self {
        let me = inbox.me;
        Driver {
            rounds,
            inbox,
            started: false,
            finished: false,
            me,
        }
    }
}

impl<R: Rounds> Session for Driver<R> {
    type Output = R::Output;

    fn poll(&mut self) -> Result<Poll<R::Output>> {
        if self.finished {
            return Err(Error::Misuse("polled after completion"));
        }
        let mut out = Outbox {
            inbox: &self.inbox,
            msgs: Vec::new(),
        };
        if !self.started {
            self.started = true;
            self.rounds.start(&mut out)?;
            let msgs = out.msgs;
            return Ok(Poll::Send(msgs));
        }
        drop(out);
        while self.inbox.ready() {
            let msgs = self.inbox.take();
            let mut out = Outbox {
                inbox: &self.inbox,
                msgs: Vec::new(),
            };
            let result = self.rounds.on_round(msgs, &mut out);
            let msgs = out.msgs;
            match result {
                Err(e) => {
                    self.finished = true;
                    return Err(e);
                }
                Ok(Some(o)) => {
                    self.finished = true;
                    return Ok(Poll::Done(o));
                }
                Ok(None) if !msgs.is_empty() => return Ok(Poll::Send(msgs)),
                Ok(None) => {}
            }
        }
        Ok(Poll::Waiting)
    }

    fn receive(&mut self, msg: Message) -> Result<()> {
        if self.finished {
            return Err(Error::Duplicate {
                from: msg.from,
                round: msg.round,
            });
        }
        self.inbox.accept(msg)
    }

    fn party(&self) -> PartyIndex {
        self.me
    }
}

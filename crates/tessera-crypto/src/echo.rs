//! Broadcast consistency for protocols whose crate assumes a reliable broadcast channel but does
//! not check it (FROST DKG, DKLs23 DKG).
//!
//! [`Confirmed`] wraps a session. It hashes every broadcast message of the execution (its own and
//! everyone else's, ordered by round and sender). When the inner protocol finishes, each party
//! broadcasts that transcript hash in one extra round; the output is released only if every
//! participant reports the same hash. A party that sent different broadcasts to different peers
//! is caught here, before a key share derived from an inconsistent view can be used.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::session::{check_envelope, Message, Poll, Session};
use crate::{Error, PartyIndex, Result, SessionId};

/// Round number of the confirmation message (outside every wrapped protocol's range).
pub const CONFIRM_ROUND: u16 = 0xFFF0;

/// A session whose output is held back until all parties confirm the same broadcast transcript.
pub struct Confirmed<S: Session> {
    inner: S,
    sid: SessionId,
    me: PartyIndex,
    others: BTreeSet<PartyIndex>,
    transcript: BTreeMap<(u16, PartyIndex), [u8; 32]>,
    output: Option<S::Output>,
    ours: Option<[u8; 32]>,
    confirms: BTreeMap<PartyIndex, [u8; 32]>,
}

impl<S: Session> Confirmed<S> {
    /// Wraps `inner`, a session of `participants` (including `me`).
    pub fn new(inner: S, sid: SessionId, participants: &[PartyIndex]) -> Self {
        let me = inner.party();
        Confirmed {
            inner,
            sid,
            me,
            others: participants.iter().copied().filter(|p| *p != me).collect(),
            transcript: BTreeMap::new(),
            output: None,
            ours: None,
            confirms: BTreeMap::new(),
        }
    }

    fn record(&mut self, msg: &Message) {
        if msg.to.is_none() {
            self.transcript
                .insert((msg.round, msg.from), Sha256::digest(&msg.payload).into());
        }
    }

    fn transcript_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"tessera/broadcast-transcript/v1");
        h.update(self.sid.0);
        for ((round, from), digest) in &self.transcript {
            h.update(round.to_be_bytes());
            h.update(from.to_be_bytes());
            h.update(digest);
        }
        h.finalize().into()
    }
}

impl<S: Session> Session for Confirmed<S> {
    /// The inner output and the confirmed transcript hash (identical on every party).
    type Output = (S::Output, [u8; 32]);

    fn poll(&mut self) -> Result<Poll<Self::Output>> {
        if self.output.is_none() {
            match self.inner.poll()? {
                Poll::Send(msgs) => {
                    for m in &msgs {
                        self.record(m);
                    }
                    return Ok(Poll::Send(msgs));
                }
                Poll::Waiting => return Ok(Poll::Waiting),
                Poll::Done(out) => {
                    self.output = Some(out);
                    let hash = self.transcript_hash();
                    self.ours = Some(hash);
                    return Ok(Poll::Send(vec![Message {
                        session: self.sid,
                        round: CONFIRM_ROUND,
                        from: self.me,
                        to: None,
                        payload: hash.to_vec(),
                    }]));
                }
            }
        }
        let Some(ours) = self.ours else {
            return Err(Error::Misuse("polled after completion"));
        };
        if self.confirms.len() < self.others.len() {
            return Ok(Poll::Waiting);
        }
        let culprits: Vec<PartyIndex> = self
            .confirms
            .iter()
            .filter(|(_, h)| **h != ours)
            .map(|(p, _)| *p)
            .collect();
        if !culprits.is_empty() {
            self.ours = None;
            self.output = None;
            return Err(Error::InconsistentBroadcast { culprits });
        }
        self.ours = None;
        let out = self
            .output
            .take()
            .ok_or(Error::Misuse("polled after completion"))?;
        Ok(Poll::Done((out, ours)))
    }

    fn receive(&mut self, msg: Message) -> Result<()> {
        if msg.round == CONFIRM_ROUND {
            check_envelope(&self.sid, self.me, &self.others, &msg)?;
            if msg.to.is_some() {
                return Err(Error::WrongRound {
                    from: msg.from,
                    round: msg.round,
                    reason: "confirmation must be a broadcast",
                });
            }
            let hash: [u8; 32] =
                msg.payload
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::Malformed {
                        from: msg.from,
                        round: msg.round,
                        reason: "transcript hash must be 32 bytes".into(),
                    })?;
            if self.confirms.contains_key(&msg.from) {
                return Err(Error::Duplicate {
                    from: msg.from,
                    round: msg.round,
                });
            }
            self.confirms.insert(msg.from, hash);
            return Ok(());
        }
        if self.output.is_some() {
            // The inner protocol is finished: anything but a confirmation is stale.
            return Err(Error::Duplicate {
                from: msg.from,
                round: msg.round,
            });
        }
        let record =
            (msg.to.is_none()).then(|| (msg.round, msg.from, Sha256::digest(&msg.payload)));
        self.inner.receive(msg)?;
        if let Some((round, from, digest)) = record {
            self.transcript.insert((round, from), digest.into());
        }
        Ok(())
    }

    fn party(&self) -> PartyIndex {
        self.me
    }
}

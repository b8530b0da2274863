//! The velocity exchange: before a signing session can release anything, its co-signers tell
//! each other what their velocity ledgers hold for the wallet, so each evaluates the policy's
//! velocity rules over the union of what any of them signed (deduplicated by request).
//!
//! Each signer's own ledger only holds the requests it took part in; a coordinator rotating
//! `t`-subsets of an `n`-group could otherwise make every signer see at most the limit while the
//! group signs up to `n/t` times it. With the union, any earlier request signed by a set `S` is
//! seen by the current set `E` whenever `S ∩ E` is not empty, which every pair of `t`-sets
//! guarantees when `2t > n`. With `n ≥ 2t` two disjoint sets can each sign up to the limit:
//! the group reaches at most `⌊n/t⌋` × the limit.
//!
//! The summaries travel as sealed broadcast envelopes of a one-round sub-session
//! (`sid.derive("velocity")`), so each is signed by its sender's identity key and bound to this
//! session: the coordinator relays them but can neither forge, alter nor replay one. The same
//! one-round [`Exchange`] carries the cggmp24 aux-info agreement (`signer/aux.rs`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tessera_crypto::{Error as CryptoError, Message, PartyIndex, Poll, Session, SessionId};
use tessera_vault::VelocityEntry;

/// Most bytes one co-signer's summary may take (a year of entries for a busy wallet fits).
pub(crate) const MAX_SUMMARY_BYTES: usize = 4 << 20;

/// One entry of a summary: a request this signer counts against the wallet's velocity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SummaryEntry {
    pub request_id: String,
    pub intent_hash: [u8; 32],
    pub asset: String,
    pub amount: String,
    pub at_unix: u64,
}

/// Encodes what this signer counts for `wallet_id`.
pub(crate) fn encode(entries: &[VelocityEntry]) -> Vec<u8> {
    let summary: Vec<SummaryEntry> = entries
        .iter()
        .map(|e| SummaryEntry {
            request_id: e.request_id.clone(),
            intent_hash: e.intent_hash,
            asset: e.asset.clone(),
            amount: e.amount.clone(),
            at_unix: e.at_unix,
        })
        .collect();
    postcard::to_allocvec(&summary).unwrap_or_default()
}

/// Decodes a co-signer's summary as entries of `wallet_id`; `None` if it does not parse.
pub(crate) fn decode(bytes: &[u8], wallet_id: &str) -> Option<Vec<VelocityEntry>> {
    let summary: Vec<SummaryEntry> = postcard::from_bytes(bytes).ok()?;
    Some(
        summary
            .into_iter()
            .map(|e| VelocityEntry {
                request_id: e.request_id,
                intent_hash: e.intent_hash,
                wallet_id: wallet_id.to_string(),
                asset: e.asset,
                amount: e.amount,
                at_unix: e.at_unix,
            })
            .collect(),
    )
}

/// A one-round session: broadcast `payload`, then collect one broadcast from every other
/// participant. Output: each co-signer's payload by party index.
pub(crate) struct Exchange {
    sid: SessionId,
    me: PartyIndex,
    others: BTreeSet<PartyIndex>,
    outgoing: Option<Vec<u8>>,
    received: BTreeMap<PartyIndex, Vec<u8>>,
}

impl Exchange {
    pub(crate) fn new(
        sid: SessionId,
        me: PartyIndex,
        participants: &[PartyIndex],
        payload: Vec<u8>,
    ) -> Self {
        Exchange {
            sid,
            me,
            others: participants.iter().copied().filter(|p| *p != me).collect(),
            outgoing: Some(payload),
            received: BTreeMap::new(),
        }
    }
}

impl Session for Exchange {
    type Output = BTreeMap<PartyIndex, Vec<u8>>;

    fn poll(&mut self) -> tessera_crypto::Result<Poll<Self::Output>> {
        if let Some(payload) = self.outgoing.take() {
            return Ok(Poll::Send(vec![Message {
                session: self.sid,
                round: 1,
                from: self.me,
                to: None,
                payload,
            }]));
        }
        if self.received.len() == self.others.len() {
            return Ok(Poll::Done(std::mem::take(&mut self.received)));
        }
        Ok(Poll::Waiting)
    }

    fn receive(&mut self, msg: Message) -> tessera_crypto::Result<()> {
        let from = msg.from;
        let wrong = |reason| CryptoError::WrongRound {
            from,
            round: msg.round,
            reason,
        };
        if msg.session != self.sid || !self.others.contains(&from) {
            return Err(wrong("not a participant of this exchange"));
        }
        if msg.round != 1 || msg.to.is_some() {
            return Err(wrong("an exchange is one broadcast round"));
        }
        if msg.payload.len() > MAX_SUMMARY_BYTES {
            return Err(wrong("exchanged payload too large"));
        }
        if self.received.contains_key(&from) {
            return Err(CryptoError::Duplicate { from, round: 1 });
        }
        self.received.insert(from, msg.payload);
        Ok(())
    }

    fn party(&self) -> PartyIndex {
        self.me
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(id: &str) -> VelocityEntry {
        VelocityEntry {
            request_id: id.into(),
            intent_hash: [1; 32],
            wallet_id: "w".into(),
            asset: "solana:devnet:native".into(),
            amount: "500000000".into(),
            at_unix: 7,
        }
    }

    #[test]
    fn summaries_round_trip_and_take_the_callers_wallet() {
        let bytes = encode(&[entry("r1"), entry("r2")]);
        let back = decode(&bytes, "w").unwrap();
        assert_eq!(back, vec![entry("r1"), entry("r2")]);
        assert!(decode(b"\xff\xff\xff", "w").is_none());
    }

    #[test]
    fn the_exchange_sends_once_and_waits_for_every_co_signer() {
        let sid = SessionId([3; 32]);
        let mut x = Exchange::new(sid, 0, &[0, 1, 2], b"mine".to_vec());
        assert!(matches!(x.poll().unwrap(), Poll::Send(m) if m.len() == 1 && m[0].to.is_none()));
        assert!(matches!(x.poll().unwrap(), Poll::Waiting));
        let msg = |from, round, to: Option<u16>, session| Message {
            session,
            round,
            from,
            to,
            payload: vec![from as u8],
        };
        assert!(
            x.receive(msg(5, 1, None, sid)).is_err(),
            "not a participant"
        );
        assert!(x.receive(msg(1, 2, None, sid)).is_err(), "wrong round");
        assert!(
            x.receive(msg(1, 1, Some(0), sid)).is_err(),
            "not a broadcast"
        );
        assert!(
            x.receive(msg(1, 1, None, SessionId([4; 32]))).is_err(),
            "other session"
        );
        x.receive(msg(1, 1, None, sid)).unwrap();
        assert!(x.receive(msg(1, 1, None, sid)).is_err(), "duplicate");
        assert!(matches!(x.poll().unwrap(), Poll::Waiting));
        x.receive(msg(2, 1, None, sid)).unwrap();
        match x.poll().unwrap() {
            Poll::Done(got) => assert_eq!(
                got.into_iter().collect::<Vec<_>>(),
                vec![(1, vec![1]), (2, vec![2])]
            ),
            _ => panic!("done once every co-signer answered"),
        }
    }
}

//! In-process simulation: runs all parties of one protocol execution on the calling thread.
//!
//! The same [`Session`] loop a network runner uses, with delivery replaced by a queue. An
//! optional interceptor sees every message in flight and may drop, alter, duplicate or inject
//! messages — the negative tests use it to play a malicious party or network.

use std::collections::{BTreeMap, VecDeque};

use crate::session::{Message, Poll, Session};
use crate::{Error, PartyIndex};

/// A failure of one party during a simulated run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyError {
    /// The party that reported the error.
    pub party: PartyIndex,
    /// What it reported.
    pub error: Error,
}

/// Runs every session to completion with honest delivery.
pub fn run<O, S: Session<Output = O>>(sessions: Vec<S>) -> Result<Vec<O>, PartyError> {
    run_with(sessions, |m| vec![m])
}

/// Runs every session, passing each message through `intercept` before delivery.
///
/// Outputs are returned in the order of `sessions`. The first error reported by any party (from
/// `receive` or `poll`) ends the run. A run in which nobody can progress ends with
/// [`Error::Misuse`] reported by the lowest stuck party (a stalled protocol).
pub fn run_with<O, S: Session<Output = O>>(
    mut sessions: Vec<S>,
    mut intercept: impl FnMut(Message) -> Vec<Message>,
) -> Result<Vec<O>, PartyError> {
    let position: BTreeMap<PartyIndex, usize> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| (s.party(), i))
        .collect();
    let mut outputs: Vec<Option<O>> = sessions.iter().map(|_| None).collect();
    let mut queues: Vec<VecDeque<Message>> = sessions.iter().map(|_| VecDeque::new()).collect();
    loop {
        let mut progressed = false;
        for i in 0..sessions.len() {
            if outputs[i].is_some() {
                continue;
            }
            let party = sessions[i].party();
            let fail = |error| PartyError { party, error };
            while let Some(m) = queues[i].pop_front() {
                sessions[i].receive(m).map_err(fail)?;
                progressed = true;
            }
            loop {
                match sessions[i].poll().map_err(fail)? {
                    Poll::Send(msgs) => {
                        progressed = true;
                        for m in msgs.into_iter().flat_map(&mut intercept) {
                            match m.to {
                                Some(to) => {
                                    if let Some(&j) = position.get(&to) {
                                        queues[j].push_back(m);
                                    }
                                }
                                None => {
                                    for (&p, &j) in &position {
                                        if p != m.from {
                                            queues[j].push_back(m.clone());
                                        }
                                    }
                                }
                            }
                        }
                    }
                    Poll::Waiting => break,
                    Poll::Done(o) => {
                        progressed = true;
                        outputs[i] = Some(o);
                        break;
                    }
                }
            }
        }
        if outputs.iter().all(Option::is_some) {
            return Ok(outputs.into_iter().flatten().collect());
        }
        if !progressed && queues.iter().all(VecDeque::is_empty) {
            let stuck = sessions
                .iter()
                .zip(&outputs)
                .find(|(_, o)| o.is_none())
                .map(|(s, _)| s.party())
                .unwrap_or_default();
            return Err(PartyError {
                party: stuck,
                error: Error::Misuse("protocol stalled: waiting for messages that never come"),
            });
        }
    }
}

//! The coordinator's relay as the simulation runs it: sessions it started, envelopes in flight,
//! and the answers each participant gave.
//!
//! Nothing is delivered here: frames wait in [`Net::flight`] until the scheduler picks one
//! (in any order, or drops, duplicates or misroutes it). Routing follows the coordinator's rule:
//! a p2p envelope goes to its addressee, a broadcast to every other participant of the session.

use std::collections::BTreeMap;

use tessera_proto::link::{Failure, FromSigner, Job, Outcome, StartSession, ToSigner};
use tessera_wire::Envelope;

use crate::world::World;

/// One participant's answer to a session.
pub type Answer = Result<Outcome, Failure>;

/// A frame on its way to a signer.
#[derive(Clone)]
pub struct Msg {
    pub to: usize,
    pub frame: ToSigner,
}

impl Msg {
    /// A short description for the trace.
    pub fn label(&self) -> String {
        match &self.frame {
            ToSigner::Start(s) => {
                format!("start {} {} → {}", short(&s.session), s.job.kind(), self.to)
            }
            ToSigner::Envelope { session, bytes } => match Envelope::from_bytes(bytes) {
                Ok(e) => format!(
                    "envelope {} round {} {}→{}",
                    short(session),
                    e.round,
                    e.from,
                    self.to
                ),
                Err(_) => format!("garbled envelope {} → {}", short(session), self.to),
            },
            ToSigner::Abort { session, .. } => format!("abort {} → {}", short(session), self.to),
            _ => format!("control frame → {}", self.to),
        }
    }
}

/// The first bytes of a session id, for traces.
pub fn short(session: &[u8; 32]) -> String {
    hex::encode(&session[..3])
}

/// A session the coordinator started.
pub struct Session {
    pub parts: Vec<usize>,
    pub job: Job,
    /// Answers by node, from the incarnation that was running when it answered.
    pub answers: BTreeMap<usize, Answer>,
    /// Abort was sent to the participants that had not answered.
    pub aborted: bool,
    /// Participants a start frame of it was delivered to.
    pub received: std::collections::BTreeSet<usize>,
    /// The step it started at.
    pub started: u64,
}

impl Session {
    /// Every participant answered.
    pub fn answered(&self) -> bool {
        self.parts.iter().all(|p| self.answers.contains_key(p))
    }
}

/// A participant finished or failed a session the simulation started (`what` for the trace).
pub struct Answered {
    pub session: [u8; 32],
    pub node: usize,
    pub what: String,
}

/// What the signers sent, sorted: answers to the simulation's own sessions, and everything
/// else, which goes to the coordinator (envelopes and answers of its sessions, status reports,
/// policy refusals).
#[derive(Default)]
pub struct Routed {
    pub answered: Vec<Answered>,
    pub upstream: Vec<(usize, FromSigner)>,
}

/// Sessions and frames in flight.
#[derive(Default)]
pub struct Net {
    /// Sessions the simulation started (a model coordinator's, or a malicious one's).
    pub sessions: BTreeMap<[u8; 32], Session>,
    /// Jobs of sessions the real coordinator started, as their start frames showed them.
    pub observed: BTreeMap<[u8; 32], Job>,
    pub flight: Vec<Msg>,
    /// Every outcome any signer released, in order: (session, node, outcome).
    pub released: Vec<([u8; 32], usize, Outcome)>,
}

impl Net {
    /// Starts `job` as `session` among `parts` (the start frames go into flight).
    pub fn start(
        &mut self,
        world: &World,
        session: [u8; 32],
        parts: &[usize],
        job: Job,
        step: u64,
    ) {
        let start = StartSession {
            session,
            wallet_id: crate::WALLET.into(),
            roster: world.roster(),
            job: job.clone(),
        };
        for &to in parts {
            self.flight.push(Msg {
                to,
                frame: ToSigner::Start(Box::new(start.clone())),
            });
        }
        self.sessions.insert(
            session,
            Session {
                parts: parts.to_vec(),
                job,
                answers: BTreeMap::new(),
                aborted: false,
                received: Default::default(),
                started: step,
            },
        );
    }

    /// Puts a frame the real coordinator sent into flight (noting the job of a session it
    /// starts).
    pub fn send(&mut self, to: usize, frame: ToSigner) {
        if let ToSigner::Start(s) = &frame {
            self.observed
                .entry(s.session)
                .or_insert_with(|| s.job.clone());
        }
        self.flight.push(Msg { to, frame });
    }

    /// The job of a session anyone started.
    pub fn job(&self, session: &[u8; 32]) -> Option<&Job> {
        match self.sessions.get(session) {
            Some(s) => Some(&s.job),
            None => self.observed.get(session),
        }
    }

    /// Sends `Abort` for `session` to each participant that has not answered.
    pub fn abort(&mut self, session: [u8; 32]) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        s.aborted = true;
        for &to in s.parts.iter().filter(|p| !s.answers.contains_key(p)) {
            self.flight.push(Msg {
                to,
                frame: ToSigner::Abort {
                    session,
                    reason: "the simulated coordinator gave up".into(),
                },
            });
        }
    }

    /// Routes what the signers sent: every outcome released is recorded; envelopes and
    /// answers of the simulation's sessions are handled here (a failure aborts the session at
    /// the others, as the coordinator does); the rest is returned for the coordinator.
    pub fn route(&mut self, sent: Vec<(usize, FromSigner)>) -> Routed {
        let mut routed = Routed::default();
        for (from, frame) in sent {
            if let FromSigner::Done { session, outcome } = &frame {
                if self.job(session).is_some() {
                    self.released.push((*session, from, outcome.clone()));
                }
            }
            let ours = match &frame {
                FromSigner::Envelope { session, .. }
                | FromSigner::Done { session, .. }
                | FromSigner::Failed { session, .. } => self.sessions.contains_key(session),
                _ => false,
            };
            if !ours {
                routed.upstream.push((from, frame));
                continue;
            }
            match frame {
                FromSigner::Envelope { session, bytes } => self.relay(from, session, bytes),
                FromSigner::Done { session, outcome } => {
                    self.answer(from, session, Ok(outcome), &mut routed.answered)
                }
                FromSigner::Failed { session, failure } => {
                    self.answer(from, session, Err(failure), &mut routed.answered)
                }
                _ => {}
            }
        }
        routed
    }

    fn relay(&mut self, from: usize, session: [u8; 32], bytes: Vec<u8>) {
        let Some(s) = self.sessions.get(&session) else {
            return;
        };
        let to: Vec<usize> = match Envelope::from_bytes(&bytes).map(|e| e.to) {
            Ok(Some(to)) => vec![usize::from(to)],
            Ok(None) => s.parts.iter().copied().filter(|&p| p != from).collect(),
            Err(_) => return,
        };
        for to in to {
            self.flight.push(Msg {
                to,
                frame: ToSigner::Envelope {
                    session,
                    bytes: bytes.clone(),
                },
            });
        }
    }

    fn answer(&mut self, from: usize, session: [u8; 32], a: Answer, out: &mut Vec<Answered>) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        if s.answers.contains_key(&from) {
            // A second answer from one node (a duplicated start refused as replayed while the
            // first runs, say): the first stands; a release is recorded above either way.
            return;
        }
        let failed = a.is_err();
        let what = match &a {
            Ok(o) => outcome_name(o).to_string(),
            Err(f) => format!("{:?}: {}", f.kind, f.message),
        };
        s.answers.insert(from, a);
        out.push(Answered {
            session,
            node: from,
            what,
        });
        if failed && !s.aborted {
            self.abort(session);
        }
    }

    /// Delivers everything in flight in order (no faults) until nothing is left.
    pub fn drain(&mut self, world: &World) -> Result<(), crate::world::StuckNode> {
        while !self.flight.is_empty() {
            let m = self.flight.remove(0);
            world.deliver(m.to, m.frame)?;
            self.route(world.take_sent());
        }
        Ok(())
    }
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Keygen { .. } => "key generated",
        Outcome::Signature(_) => "signature",
        Outcome::Presign(_) => "presignature stored",
        Outcome::Partial(_) => "partial signature",
        _ => "other outcome",
    }
}

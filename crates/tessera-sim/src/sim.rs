//! The seeded scheduler: one seed decides every step — which frame in flight is delivered
//! next, which is dropped, duplicated or misrouted, which node is killed or cut off, when the
//! coordinator replays a request to another pair or swaps its payload, when it gives up on a
//! session — and the invariants ([`crate::check`]) are checked after each step. Then the
//! network heals: every request must reach a final state, and the audit logs must verify.

use std::collections::BTreeMap;
use std::sync::Arc;

use tessera_proto::link::{Job, Outcome, ToSigner};
use tessera_sqlite::torn::Rng;
use tessera_wire::Authorization;

use crate::check::Checker;
use crate::fixture::{Fixture, LIMIT};
use crate::host::Host;
use crate::net::{short, Msg, Net};
use crate::requests::{authorize, full_job, presign_job, presigned_job, Requester, Transfer};
use crate::world::{SimClock, World};
use crate::SOL;

/// Per-mille odds of each fault, rolled at each step.
#[derive(Debug, Clone)]
pub struct Faults {
    pub drop: u64,
    pub duplicate: u64,
    pub misroute: u64,
    pub crash: u64,
    pub partition: u64,
    pub replay: u64,
    pub swap: u64,
    /// The coordinator process is killed and restarted (with the real coordinator only).
    pub restart: u64,
    /// The operator asks for a refresh of the wallet's shares (with the real coordinator
    /// only): a reshare to the next epoch while transfers sign.
    pub refresh: u64,
}

impl Faults {
    /// The default mix.
    pub fn standard() -> Faults {
        Faults {
            drop: 30,
            duplicate: 40,
            misroute: 20,
            crash: 15,
            partition: 10,
            replay: 25,
            swap: 15,
            restart: 4,
            refresh: 10,
        }
    }

    /// The named fault set to zero (for shrinking a failing seed).
    pub fn without(&self, name: &str) -> Faults {
        let mut f = self.clone();
        match name {
            "drop" => f.drop = 0,
            "duplicate" => f.duplicate = 0,
            "misroute" => f.misroute = 0,
            "crash" => f.crash = 0,
            "partition" => f.partition = 0,
            "replay" => f.replay = 0,
            "swap" => f.swap = 0,
            "restart" => f.restart = 0,
            "refresh" => f.refresh = 0,
            _ => {}
        }
        f
    }

    /// Names of the faults, for shrinking.
    pub const NAMES: [&'static str; 9] = [
        "drop",
        "duplicate",
        "misroute",
        "crash",
        "partition",
        "replay",
        "swap",
        "restart",
        "refresh",
    ];
}

/// One run's shape.
#[derive(Debug, Clone)]
pub struct Config {
    /// Steps with faults before the network heals.
    pub steps: u64,
    /// Transfers the requester asks for.
    pub requests: usize,
    pub faults: Faults,
    /// The velocity limit the checker holds signatures to: the signers' own ([`LIMIT`]), or a
    /// lower one in the test that shows the checker catches a signature past its limit.
    pub checker_limit: u64,
    /// Which coordinator runs the requests.
    pub coordinator: Driver,
}

/// Who coordinates the honest requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// The simulation's own model of a coordinator: it picks a pair per request, presigns or
    /// signs, and gives up on a session after a fixed number of steps.
    Model,
    /// The real `tessera-coordinator` ([`crate::host`]): its request lifecycle, pool,
    /// retries and timeouts, over its own store and audit log, killed and restarted too.
    Real,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            steps: 160,
            requests: 5,
            faults: Faults::standard(),
            checker_limit: LIMIT,
            coordinator: Driver::Model,
        }
    }
}

/// What one seed did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub steps: u64,
    pub deliveries: u64,
    pub faults: u64,
    pub crashes: u64,
    /// Requests a signature could be assembled for.
    pub signed: usize,
    /// Invariant evaluations.
    pub checks: u64,
    /// How the real coordinator's requests ended: `state` or `state/error code`, counted.
    pub outcomes: BTreeMap<String, u64>,
    /// Refreshes committed at every holder (the wallet's final epoch, with the real
    /// coordinator).
    pub epochs: u64,
    /// What happened, step by step.
    pub trace: Vec<String>,
}

/// A broken invariant: the seed, the step, what broke, and the trace that led there.
#[derive(Debug, Clone)]
pub struct Violation {
    pub seed: u64,
    pub step: u64,
    pub what: String,
    pub trace: Vec<String>,
}

/// Steps a session may run before the coordinator gives up on it.
const SESSION_STEPS: u64 = 40;
/// Virtual milliseconds per step.
const STEP_MS: u64 = 50;
/// Most rounds of healing (deliver everything, give up on what is stuck).
const HEAL_ROUNDS: usize = 8;

pub(crate) enum Phase {
    Queued,
    Presigning([u8; 32]),
    Signing([u8; 32]),
    /// Handed to the real coordinator, which runs it.
    Submitted,
    Final,
}

pub(crate) struct Request {
    pub(crate) id: String,
    pub(crate) transfer: Transfer,
    pub(crate) authorization: Authorization,
    pub(crate) parts: Vec<usize>,
    pub(crate) presigned: bool,
    pub(crate) phase: Phase,
}

pub(crate) struct Run<'f> {
    pub(crate) fx: &'f Fixture,
    pub(crate) cfg: Config,
    pub(crate) seed: u64,
    pub(crate) rng: Rng,
    pub(crate) world: World,
    pub(crate) net: Net,
    pub(crate) checker: Checker,
    pub(crate) requests: Vec<Request>,
    pub(crate) requester: Requester,
    /// Steps at which each node was killed.
    pub(crate) crashes: Vec<Vec<u64>>,
    /// A node cut off from the coordinator until a step.
    pub(crate) partition: Option<(usize, u64)>,
    pub(crate) step: u64,
    pub(crate) trace: Vec<String>,
    pub(crate) report: Report,
    /// The real coordinator, when it drives the requests.
    pub(crate) host: Option<Host>,
}

/// Runs `seed` on a copy of the fixture's cluster.
pub fn run_seed(fx: &Fixture, seed: u64, cfg: &Config) -> Result<Report, Violation> {
    let clock = Arc::new(SimClock::at(fx.now_ms));
    let world = World::copy_of(&fx.template, &Fixture::seed_dir(seed), clock.clone());
    let host = match cfg.coordinator {
        Driver::Model => None,
        Driver::Real => Some(Host::create(world.root(), fx, &world, clock, seed)),
    };
    let mut run = Run {
        host,
        fx,
        cfg: cfg.clone(),
        seed,
        rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03),
        crashes: vec![Vec::new(); world.nodes.len()],
        world,
        net: Net::default(),
        checker: Checker::new(fx.public_key.clone(), fx.chain_code, cfg.checker_limit),
        requests: Vec::new(),
        requester: Requester::new(fx.public_key.clone()),
        partition: None,
        step: 0,
        trace: Vec::new(),
        report: Report::default(),
    };
    let result = run.all();
    let Run {
        world,
        report,
        checker,
        trace,
        host,
        ..
    } = run;
    drop(host);
    world.remove();
    result.map(|()| Report {
        signed: checker.signed_requests(),
        checks: checker.checks,
        trace,
        ..report
    })
}

impl Run<'_> {
    fn all(&mut self) -> Result<(), Violation> {
        self.make_requests();
        while self.step < self.cfg.steps {
            self.step += 1;
            self.world.clock.advance(STEP_MS);
            self.tick(STEP_MS);
            self.act().map_err(|e| self.violation(e))?;
            self.checker
                .observe(&self.net)
                .map_err(|e| self.violation(e))?;
        }
        self.heal().map_err(|e| self.violation(e))?;
        if self.host.is_some() {
            self.heal_coordinated().map_err(|e| self.violation(e))?;
            self.check_coordinator().map_err(|e| self.violation(e))?;
        }
        self.checker
            .audits(&self.world)
            .map_err(|e| self.violation(e))
    }

    fn violation(&self, what: String) -> Violation {
        Violation {
            seed: self.seed,
            step: self.step,
            what,
            trace: self.trace.clone(),
        }
    }

    pub(crate) fn note(&mut self, what: String) {
        self.trace.push(format!("{:>4} {what}", self.step));
    }

    pub(crate) fn roll(&mut self, per_mille: u64) -> bool {
        per_mille > 0 && self.rng.next_u64() % 1000 < per_mille
    }

    fn pair(&mut self) -> Vec<usize> {
        let skip = self.rng.below(3);
        (0..3).filter(|&p| p != skip).collect()
    }

    fn session_id(&mut self) -> [u8; 32] {
        let mut s = [0u8; 32];
        for chunk in s.chunks_mut(8) {
            chunk.copy_from_slice(&self.rng.next_u64().to_le_bytes());
        }
        s
    }

    fn make_requests(&mut self) {
        let expires = self.fx.now_ms / 1000 + 3600;
        for k in 0..self.cfg.requests {
            let lamports = SOL / 5 * (1 + self.rng.below(4) as u64);
            let transfer = self.requester.transfer(lamports);
            let id = format!("r{k}");
            let authorization = authorize(&self.fx.operator, &id, &transfer, expires);
            self.checker.authorized(&id, &transfer);
            let parts = self.pair();
            let presigned = self.rng.below(5) < 2;
            self.requests.push(Request {
                id,
                transfer,
                authorization,
                parts,
                presigned,
                phase: Phase::Queued,
            });
        }
    }

    /// One step: a fault, a new request, a timeout or a delivery.
    fn act(&mut self) -> Result<(), String> {
        let f = self.cfg.faults.clone();
        if self.roll(f.crash) {
            return self.crash();
        }
        if self.host.is_some() && self.roll(f.restart) {
            return self.restart_coordinator();
        }
        if self.host.is_some() && self.roll(f.refresh) {
            self.refresh();
            return Ok(());
        }
        if self.roll(f.partition) && self.partition.is_none() {
            let node = self.rng.below(3);
            self.partition = Some((node, self.step + 10 + self.rng.below(20) as u64));
            self.note(format!("partition: node {node} cut off"));
            self.report.faults += 1;
            return self.unlink(node);
        }
        if self.roll(f.replay) {
            return self.replay(false);
        }
        if self.roll(f.swap) {
            return self.replay(true);
        }
        if self.rng.below(6) == 0 {
            if let Some(r) = self
                .requests
                .iter()
                .position(|r| matches!(r.phase, Phase::Queued))
            {
                return self.begin(r);
            }
        }
        self.time_out();
        self.deliver_one()
    }

    fn cut_off(&mut self, node: usize) -> bool {
        match self.partition {
            Some((p, until)) if until > self.step => p == node,
            Some((p, _)) => {
                self.partition = None;
                self.note("partition healed".into());
                self.relink(p);
                false
            }
            None => false,
        }
    }

    fn deliver_one(&mut self) -> Result<(), String> {
        if self.net.flight.is_empty() {
            return Ok(());
        }
        let at = self.rng.below(self.net.flight.len());
        if self.cut_off(self.net.flight[at].to) {
            return Ok(());
        }
        let mut m = self.net.flight.remove(at);
        let f = self.cfg.faults.clone();
        if self.roll(f.drop) {
            self.note(format!("drop {}", m.label()));
            self.report.faults += 1;
            return Ok(());
        }
        if self.roll(f.duplicate) {
            self.note(format!("duplicate {}", m.label()));
            self.report.faults += 1;
            self.net.flight.push(m.clone());
        }
        if self.roll(f.misroute) {
            m = self.misroute(m);
        }
        self.deliver(m)
    }

    /// Sends an envelope to the wrong node, or under another running session's id.
    fn misroute(&mut self, mut m: Msg) -> Msg {
        let ToSigner::Envelope { session, .. } = &m.frame else {
            return m;
        };
        let others: Vec<[u8; 32]> = self
            .net
            .sessions
            .keys()
            .filter(|s| *s != session)
            .copied()
            .collect();
        if !others.is_empty() && self.rng.below(2) == 0 {
            let other = others[self.rng.below(others.len())];
            if let ToSigner::Envelope { session, .. } = &mut m.frame {
                *session = other;
            }
        } else {
            m.to = (m.to + 1 + self.rng.below(2)) % 3;
        }
        self.report.faults += 1;
        self.note(format!("misroute as {}", m.label()));
        m
    }

    fn deliver(&mut self, m: Msg) -> Result<(), String> {
        self.note(format!("deliver {}", m.label()));
        if let ToSigner::Start(start) = &m.frame {
            if let Some(s) = self.net.sessions.get_mut(&start.session) {
                s.received.insert(m.to);
            }
        }
        self.report.deliveries += 1;
        self.world
            .deliver(m.to, m.frame)
            .map_err(|n| format!("node {} never came to wait (livelock or deadlock)", n.0))?;
        self.after_delivery()
    }

    fn after_delivery(&mut self) -> Result<(), String> {
        let routed = self.net.route(self.world.take_sent());
        self.upstream(routed.upstream);
        if routed.answered.is_empty() {
            return Ok(());
        }
        for a in routed.answered {
            self.note(format!(
                "  node {} answers {}: {}",
                a.node,
                short(&a.session),
                a.what
            ));
        }
        self.progress()
    }

    /// A participant that has not answered and was not killed since the session started, and
    /// either got the session's start or may still get it (the session is not given up). One
    /// that never got the start of a session given up on does not know the session: the
    /// coordinator counts it failed.
    fn owes_answer(&self, session: &crate::net::Session, node: usize) -> bool {
        (session.received.contains(&node) || !session.aborted)
            && !session.answers.contains_key(&node)
            && !self.crashes[node].iter().any(|&c| c >= session.started)
    }

    fn settled(&self, session: &[u8; 32]) -> bool {
        let s = &self.net.sessions[session];
        !s.parts.iter().any(|&p| self.owes_answer(s, p))
    }

    /// Moves requests whose session settled to their next phase.
    fn progress(&mut self) -> Result<(), String> {
        for r in 0..self.requests.len() {
            let next = match self.requests[r].phase {
                Phase::Presigning(s) if self.settled(&s) => self.after_presign(r, s),
                Phase::Signing(s) if self.settled(&s) => {
                    self.note(format!("request {} final", self.requests[r].id));
                    Phase::Final
                }
                _ => continue,
            };
            self.requests[r].phase = next;
        }
        Ok(())
    }

    fn after_presign(&mut self, r: usize, s: [u8; 32]) -> Phase {
        let ids: Vec<Option<[u8; 32]>> = self.net.sessions[&s]
            .answers
            .values()
            .map(|a| match a {
                Ok(Outcome::Presign(p)) => Some(p.id()),
                _ => None,
            })
            .collect();
        let parts = self.requests[r].parts.clone();
        match ids.as_slice() {
            [Some(a), Some(b)] if a == b && ids.len() == parts.len() => {
                let job = {
                    let q = &self.requests[r];
                    presigned_job(&parts, *a, &q.transfer, &q.authorization)
                };
                let session = self.session_id();
                self.note(format!(
                    "request {}: presigned signing {}",
                    self.requests[r].id,
                    short(&session)
                ));
                self.net.start(&self.world, session, &parts, job, self.step);
                Phase::Signing(session)
            }
            _ => {
                self.note(format!(
                    "request {}: presigning failed, final",
                    self.requests[r].id
                ));
                Phase::Final
            }
        }
    }

    fn begin(&mut self, r: usize) -> Result<(), String> {
        if self.host.is_some() {
            self.submit(r);
            return Ok(());
        }
        let session = self.session_id();
        let q = &self.requests[r];
        let parts = q.parts.clone();
        let (job, phase): (Job, Phase) = if q.presigned {
            (presign_job(&parts), Phase::Presigning(session))
        } else {
            (
                full_job(&parts, &q.transfer, &q.authorization),
                Phase::Signing(session),
            )
        };
        let what = format!(
            "request {} ({} lamports) at {parts:?}, {}: session {}",
            q.id,
            q.transfer.lamports,
            if q.presigned { "presigned" } else { "full" },
            short(&session)
        );
        self.note(what);
        self.requests[r].phase = phase;
        self.net.start(&self.world, session, &parts, job, self.step);
        Ok(())
    }

    /// The coordinator replays a started request (its authorization, to a random pair) or, with
    /// `swap`, sends its authorization with the payload of a larger transfer.
    fn replay(&mut self, swap: bool) -> Result<(), String> {
        let started: Vec<usize> = (0..self.requests.len())
            .filter(|&r| !matches!(self.requests[r].phase, Phase::Queued))
            .collect();
        if started.is_empty() {
            return Ok(());
        }
        let r = started[self.rng.below(started.len())];
        let parts = self.pair();
        let session = self.session_id();
        let q = &self.requests[r];
        let transfer = if swap {
            self.requester.transfer(q.transfer.lamports + SOL / 10)
        } else {
            q.transfer.clone()
        };
        let job = full_job(&parts, &transfer, &q.authorization);
        let what = format!(
            "malicious: {} request {} at {parts:?} as {}",
            if swap { "swapped payload of" } else { "replay" },
            q.id,
            short(&session)
        );
        self.note(what);
        self.report.faults += 1;
        self.net.start(&self.world, session, &parts, job, self.step);
        Ok(())
    }

    fn crash(&mut self) -> Result<(), String> {
        let node = self.rng.below(3);
        let sessions: Vec<[u8; 32]> = self
            .net
            .sessions
            .keys()
            .chain(self.net.observed.keys())
            .copied()
            .collect();
        self.note(format!("kill node {node} and restart it over its files"));
        self.world.crash(node, &sessions);
        self.unlink(node)?;
        if !self.cut_off(node) {
            self.relink(node);
        }
        self.crashes[node].push(self.step);
        self.report.crashes += 1;
        self.report.faults += 1;
        self.progress()
    }

    /// The coordinator gives up on sessions that ran too long.
    fn time_out(&mut self) {
        let late: Vec<[u8; 32]> = self
            .net
            .sessions
            .iter()
            .filter(|(_, s)| !s.aborted && s.started + SESSION_STEPS < self.step)
            .map(|(id, _)| *id)
            .filter(|id| !self.settled(id))
            .collect();
        for id in late {
            self.note(format!("coordinator gives up on {}", short(&id)));
            self.net.abort(id);
        }
    }

    /// No more faults: start what is queued, deliver everything, give up on whatever still
    /// waits; every request must end and every live participant must answer.
    fn heal(&mut self) -> Result<(), String> {
        if let Some((p, _)) = self.partition.take() {
            self.relink(p);
        }
        self.note("network heals".into());
        for _ in 0..HEAL_ROUNDS {
            while let Some(r) = self
                .requests
                .iter()
                .position(|r| matches!(r.phase, Phase::Queued))
            {
                self.begin(r)?;
            }
            while !self.net.flight.is_empty() {
                let m = self.net.flight.remove(0);
                self.deliver(m)?;
                self.checker.observe(&self.net)?;
            }
            let open: Vec<[u8; 32]> = self
                .net
                .sessions
                .keys()
                .filter(|s| !self.settled(s))
                .copied()
                .collect();
            if open.is_empty()
                && self
                    .requests
                    .iter()
                    .all(|r| matches!(r.phase, Phase::Final | Phase::Submitted))
            {
                self.report.steps = self.step;
                return Ok(());
            }
            for s in open {
                self.note(format!("coordinator gives up on {}", short(&s)));
                self.net.abort(s);
            }
        }
        let stuck: BTreeMap<String, Vec<usize>> = self
            .net
            .sessions
            .iter()
            .map(|(id, s)| {
                (
                    short(id),
                    s.parts
                        .iter()
                        .copied()
                        .filter(|&p| self.owes_answer(s, p))
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, p)| !p.is_empty())
            .collect();
        Err(format!(
            "after healing, sessions without an answer: {stuck:?}"
        ))
    }
}

//! The steps that differ when the real coordinator ([`crate::host`]) drives the requests: its
//! frames go into flight, the signers' answers go to it, links drop with kills and partitions,
//! the coordinator process itself is killed and restarted, and after healing every request it
//! accepted must reach a final state that agrees with what the signers released.

use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};
use tessera_crypto::{SignMessage, Signature};
use tessera_proto::api::RequestState;
use tessera_proto::link::FromSigner;

use crate::net::short;
use crate::sim::{Phase, Run};

/// Virtual time the healed network gets for the coordinator to finish every request: three
/// attempts of two seconds each, pool refills between them, and margin.
const HEAL_MS: u64 = 30_000;
/// Virtual milliseconds per healing tick.
const HEAL_TICK_MS: u64 = 50;

impl Run<'_> {
    /// Moves the coordinator's timers with the virtual clock.
    pub(crate) fn tick(&mut self, ms: u64) {
        if let Some(h) = &self.host {
            h.tick(ms);
        }
        self.pull();
    }

    /// Puts what the coordinator sent into flight.
    pub(crate) fn pull(&mut self) {
        let Some(h) = &mut self.host else {
            return;
        };
        for (to, frame) in h.take() {
            self.net.send(to, frame);
        }
    }

    /// Hands what the signers sent about the coordinator's sessions to it, node by node (with
    /// the model coordinator it is dropped: nobody asked).
    pub(crate) fn upstream(&mut self, frames: Vec<(usize, FromSigner)>) {
        if self.host.is_none() || frames.is_empty() {
            return;
        }
        for (node, frame) in &frames {
            match frame {
                FromSigner::Failed { session, failure } => self.note(format!(
                    "  node {node} fails {}: {:?}: {}",
                    short(session),
                    failure.kind,
                    failure.message
                )),
                FromSigner::Done { session, .. } => {
                    self.note(format!("  node {node} done {}", short(session)))
                }
                _ => {}
            }
        }
        if let Some(h) = &self.host {
            for node in 0..self.world.nodes.len() {
                let mine: Vec<FromSigner> = frames
                    .iter()
                    .filter(|(n, _)| *n == node)
                    .map(|(_, f)| f.clone())
                    .collect();
                if !mine.is_empty() {
                    h.give(node, mine);
                }
            }
        }
        self.pull();
    }

    /// The requester submits request `r` to the coordinator's API.
    pub(crate) fn submit(&mut self, r: usize) {
        let Some(h) = &self.host else {
            return;
        };
        let q = &self.requests[r];
        let result = h.submit(&q.id, &q.transfer, &q.authorization);
        let what = match &result {
            Ok(()) => format!(
                "request {} ({} lamports) submitted to the coordinator",
                q.id, q.transfer.lamports
            ),
            Err(e) => format!("request {}: the coordinator refuses it: {e}", q.id),
        };
        self.requests[r].phase = Phase::Submitted;
        self.note(what);
        self.pull();
    }

    /// Node `node`'s link to the coordinator drops, at both ends.
    pub(crate) fn unlink(&mut self, node: usize) -> Result<(), String> {
        if let Some(h) = &mut self.host {
            if h.linked(node) {
                h.unlink(node);
                self.world.drop_link(node).map_err(stuck)?;
            }
        }
        Ok(())
    }

    /// Node `node`'s link to the coordinator comes back.
    pub(crate) fn relink(&mut self, node: usize) {
        if let Some(h) = &mut self.host {
            if !h.linked(node) {
                h.link(node);
            }
        }
        self.pull();
    }

    /// Kills the coordinator and starts it again over its files. Partitioned nodes stay
    /// unlinked.
    pub(crate) fn restart_coordinator(&mut self) -> Result<(), String> {
        let Some(h) = self.host.take() else {
            return Ok(());
        };
        self.note("kill the coordinator and restart it over its files".into());
        self.report.faults += 1;
        self.report.crashes += 1;
        for node in 0..self.world.nodes.len() {
            self.world.drop_link(node).map_err(stuck)?;
        }
        self.host = Some(h.crash(&self.world));
        if let Some((p, until)) = self.partition {
            if until > self.step {
                self.unlink(p)?;
            }
        }
        self.pull();
        Ok(())
    }

    /// `text` with node ids written as node indexes: ids differ between processes (the
    /// fixture's keys are random), indexes do not, and traces must compare across them.
    fn indexed(&self, mut text: String) -> String {
        for (i, n) in self.world.nodes.iter().enumerate() {
            let id = n.signed.identity.node_id().to_string();
            text = text
                .replace(&format!("signer {id}"), &format!("node {i}"))
                .replace(&id, &format!("node {i}"));
        }
        text
    }

    /// The operator asks the coordinator for a refresh, dealt by a random pair of holders.
    pub(crate) fn refresh(&mut self) {
        let Some(h) = &self.host else {
            return;
        };
        let skip = self.rng.below(3) as u16;
        let dealers: Vec<u16> = (0..3).filter(|&d| d != skip).collect();
        let what = match h.refresh(&self.fx.operator, &dealers) {
            Ok(epoch) => format!("refresh to epoch {epoch}, dealt by {dealers:?}"),
            Err(e) => format!("refresh refused: {e}"),
        };
        let what = self.indexed(what);
        self.note(what);
        self.pull();
    }

    /// The network is healed: everything in flight is delivered and the coordinator finishes
    /// what it runs; then a refresh must commit at every holder.
    pub(crate) fn heal_coordinated(&mut self) -> Result<(), String> {
        self.settle_coordinated()?;
        // Then one more refresh, on the healed network: it must commit at every holder,
        // whatever the faulty run left behind (prepared shares of failed reshares, say).
        let before = self.host.as_ref().map_or(0, |h| h.epoch().0);
        self.refresh();
        self.settle_coordinated()?;
        let after = self.host.as_ref().map_or(0, |h| h.epoch().0);
        if after != before + 1 {
            return Err(format!(
                "a refresh on the healed network did not commit: epoch {before}, then {after}"
            ));
        }
        Ok(())
    }

    /// Delivers everything in flight, in order, and lets the coordinator's timers run until
    /// every request it holds is final and no reshare runs or commits (or the time is up).
    fn settle_coordinated(&mut self) -> Result<(), String> {
        let mut waited = 0;
        loop {
            while !self.net.flight.is_empty() {
                let m = self.net.flight.remove(0);
                self.deliver_healed(m)?;
            }
            let resharing = self.host.as_ref().is_some_and(|h| h.epoch().1);
            if self.open_requests().is_empty() && !resharing {
                return Ok(());
            }
            if waited >= HEAL_MS {
                return Err(format!(
                    "after healing, requests the coordinator never finished: {:?}{}",
                    self.open_requests(),
                    if resharing {
                        "; a reshare still running or committing"
                    } else {
                        ""
                    }
                ));
            }
            waited += HEAL_TICK_MS;
            self.world.clock.advance(HEAL_TICK_MS);
            self.tick(HEAL_TICK_MS);
        }
    }

    fn deliver_healed(&mut self, m: crate::net::Msg) -> Result<(), String> {
        self.note(format!("deliver {}", m.label()));
        self.report.deliveries += 1;
        self.world.deliver(m.to, m.frame).map_err(stuck)?;
        let routed = self.net.route(self.world.take_sent());
        self.upstream(routed.upstream);
        self.checker.observe(&self.net)
    }

    /// Requests the coordinator holds that are not final, with their states.
    fn open_requests(&self) -> Vec<(String, RequestState)> {
        let Some(h) = &self.host else {
            return Vec::new();
        };
        self.requests
            .iter()
            .filter_map(|r| h.state(&r.id).map(|s| (r.id.clone(), s)))
            .filter(|(_, s)| !s.is_final())
            .collect()
    }

    /// What the coordinator reports agrees with what happened: its audit log verifies; a
    /// request it calls signed carries a signature that verifies (with `ed25519-dalek`) over
    /// the authorized transfer's message, one the signers' releases could assemble.
    pub(crate) fn check_coordinator(&mut self) -> Result<(), String> {
        let Some(h) = &self.host else {
            return Ok(());
        };
        h.audit_verifies()?;
        // No split epochs: every holder committed the epoch the coordinator records.
        let (epoch, _) = h.epoch();
        for i in 0..self.world.nodes.len() {
            let held = self.world.committed_epoch(i);
            self.checker.checks += 1;
            if held != Some(epoch) {
                return Err(format!(
                    "node {i} holds epoch {held:?} of the wallet, the coordinator records {epoch}"
                ));
            }
        }
        if epoch > 0 {
            self.trace
                .push(format!("     the wallet ends at epoch {epoch}"));
        }
        self.report.epochs = u64::from(epoch);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(self.fx.public_key.as_bytes());
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| e.to_string())?;
        for r in &self.requests {
            let Some(state) = h.state(&r.id) else {
                continue;
            };
            self.checker.checks += 1;
            let failure = h.transaction(&r.id).and_then(|t| t.error);
            let outcome = match &failure {
                Some(e) => format!("{state:?}/{}", e.code),
                None => format!("{state:?}"),
            };
            *self.report.outcomes.entry(outcome).or_default() += 1;
            let error = failure
                .map(|e| format!(" ({}: {})", e.code, e.message))
                .unwrap_or_default();
            let error = self.indexed(error);
            self.trace
                .push(format!("     request {} ends {state:?}{error}", r.id));
            if state != RequestState::Signed {
                continue;
            }
            let t = h
                .transaction(&r.id)
                .ok_or_else(|| format!("request {} signed without a transaction record", r.id))?;
            let [Signature::Ed25519(sig)] = t.signatures.as_slice() else {
                return Err(format!("request {} signed with {:?}", r.id, t.signatures));
            };
            let SignMessage::Preimage { bytes: msg, .. } = &r.transfer.message else {
                return Err(format!("request {}: not a preimage", r.id));
            };
            key.verify_strict(msg, &DalekSignature::from_bytes(sig))
                .map_err(|e| format!("request {}: the coordinator's signature fails: {e}", r.id))?;
            if !self.checker.was_signed(&r.id) {
                return Err(format!(
                    "request {}: the coordinator holds a signature no release accounts for",
                    r.id
                ));
            }
        }
        Ok(())
    }
}

fn stuck(n: crate::world::StuckNode) -> String {
    format!("node {} never came to wait (livelock or deadlock)", n.0)
}

//! The invariants, checked after every step against everything the signers released.
//!
//! The checker sees what a coordinator sees — every outcome any signer sent — and works out
//! every signature the coordinator could assemble from it (a full-path signature as sent, or
//! the partials of one presigned session combined). Each one is verified with `ed25519-dalek`,
//! not with the code that produced it. Then:
//!
//! 1. **No signature outside what was authorized**: it signs the message of the transfer the
//!    requester authorized under that request id, nothing else.
//! 2. **No signature past the velocity limit**: the transfers signed, fees included, stay
//!    within the wallet's daily limit.
//! 3. **No request signed twice**: at most one session yields a signature per request, and no
//!    signer releases its share of one request in two sessions.
//! 4. **No presignature or nonce used twice**: no signer releases two partials from one
//!    presignature, and no two signatures share a nonce commitment `R`.
//!
//! At the end ([`Checker::audits`]): every node's audit log verifies, and holds a `signature`
//! entry for every share that node released.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};
use tessera_crypto::{
    scheme, DerivationPath, PartialSignature, PresignPublic, PublicKey, SchemeId, SignMessage,
};
use tessera_proto::link::{Job, Outcome};

use crate::net::Net;
use crate::requests::Transfer;
use crate::world::World;
use crate::FEE;

/// What the checker tracks.
pub struct Checker {
    public_key: PublicKey,
    chain_code: [u8; 32],
    verifier: VerifyingKey,
    limit: u64,
    /// The transfers the requester authorized, by request id.
    authorized: BTreeMap<String, Transfer>,
    /// How many of the net's releases were looked at.
    seen: usize,
    presignatures: BTreeMap<[u8; 32], PresignPublic>,
    partials: BTreeMap<[u8; 32], BTreeMap<usize, PartialSignature>>,
    /// Sessions that yielded a signature, by request id.
    signed: BTreeMap<String, BTreeSet<[u8; 32]>>,
    nonces: BTreeMap<[u8; 32], [u8; 32]>,
    presignature_uses: BTreeSet<(usize, [u8; 32])>,
    /// The session each node released its share of each request in.
    releases: BTreeMap<(usize, String), [u8; 32]>,
    /// Invariant evaluations so far.
    pub checks: u64,
}

type Check = Result<(), String>;

fn job_parts(job: &Job) -> Option<(&str, &SignMessage)> {
    match job {
        Job::Sign {
            authorization,
            message,
            ..
        }
        | Job::SignPresigned {
            authorization,
            message,
            ..
        } => Some((&authorization.request_id, message)),
        _ => None,
    }
}

impl Checker {
    pub fn new(public_key: PublicKey, chain_code: [u8; 32], limit: u64) -> Checker {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(public_key.as_bytes());
        Checker {
            verifier: VerifyingKey::from_bytes(&bytes).expect("the wallet key is a point"),
            public_key,
            chain_code,
            limit,
            authorized: BTreeMap::new(),
            seen: 0,
            presignatures: BTreeMap::new(),
            partials: BTreeMap::new(),
            signed: BTreeMap::new(),
            nonces: BTreeMap::new(),
            presignature_uses: BTreeSet::new(),
            releases: BTreeMap::new(),
            checks: 0,
        }
    }

    /// The requester authorized `t` as request `id`.
    pub fn authorized(&mut self, id: &str, t: &Transfer) {
        self.authorized.insert(id.to_string(), t.clone());
    }

    /// Requests a coordinator could assemble a signature for.
    pub fn signed_requests(&self) -> usize {
        self.signed.len()
    }

    /// Whether a signature of request `id` could be assembled from what was released.
    pub fn was_signed(&self, id: &str) -> bool {
        self.signed.contains_key(id)
    }

    /// Looks at the releases since the last call.
    pub fn observe(&mut self, net: &Net) -> Check {
        while self.seen < net.released.len() {
            let (session, node, outcome) = &net.released[self.seen];
            self.seen += 1;
            let job = net.job(session).ok_or("a release of an unknown session")?;
            self.release(*session, *node, outcome, job)?;
        }
        self.checks += 4;
        self.velocity()
    }

    fn release(&mut self, session: [u8; 32], node: usize, outcome: &Outcome, job: &Job) -> Check {
        if let Outcome::Presign(p) = outcome {
            self.presignatures.insert(p.id(), p.clone());
            return Ok(());
        }
        let Some((request, message)) = job_parts(job) else {
            return Ok(());
        };
        let request = request.to_string();
        if let Some(first) = self.releases.insert((node, request.clone()), session) {
            if first != session {
                return Err(format!(
                    "node {node} released its share of request {request} in two sessions"
                ));
            }
        }
        match outcome {
            Outcome::Signature(sig) => self.obtained(session, &request, message, sig.to_bytes()),
            Outcome::Partial(p) => {
                if !self.presignature_uses.insert((node, p.presignature)) {
                    return Err(format!(
                        "node {node} released a second partial from presignature {}",
                        hex::encode(&p.presignature[..4])
                    ));
                }
                let partials = self.partials.entry(session).or_default();
                partials.insert(node, p.clone());
                if partials.len() == 2 {
                    self.combine(session, &request, message)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Combines a presigned session's two partials, as a coordinator would.
    fn combine(&mut self, session: [u8; 32], request: &str, message: &SignMessage) -> Check {
        let partials: Vec<PartialSignature> = self.partials[&session].values().cloned().collect();
        let Some(public) = self.presignatures.get(&partials[0].presignature) else {
            return Ok(());
        };
        let combined = scheme(SchemeId::Ed25519).combine(
            &self.public_key,
            &self.chain_code,
            public,
            &partials,
            message,
            &DerivationPath::root(),
        );
        match combined {
            Ok(sig) => self.obtained(session, request, message, sig.to_bytes()),
            // Partials that do not combine give the coordinator nothing.
            Err(_) => Ok(()),
        }
    }

    fn obtained(
        &mut self,
        session: [u8; 32],
        request: &str,
        message: &SignMessage,
        sig: [u8; 64],
    ) -> Check {
        let SignMessage::Preimage { bytes, .. } = message else {
            return Err(format!("request {request}: a signature over a raw digest"));
        };
        self.verifier
            .verify_strict(bytes, &DalekSignature::from_bytes(&sig))
            .map_err(|e| format!("request {request}: a signature that does not verify: {e}"))?;
        let authorized = self.authorized.get(request).ok_or_else(|| {
            format!("a signature for request {request}, which was never authorized")
        })?;
        if &authorized.message != message {
            return Err(format!(
                "request {request}: signed a message other than the authorized transfer"
            ));
        }
        let sessions = self.signed.entry(request.to_string()).or_default();
        sessions.insert(session);
        if sessions.len() > 1 {
            return Err(format!(
                "request {request} signed in {} sessions",
                sessions.len()
            ));
        }
        let mut r = [0u8; 32];
        r.copy_from_slice(&sig[..32]);
        if let Some(other) = self.nonces.insert(r, session) {
            if other != session {
                return Err("two signatures share a nonce commitment".into());
            }
        }
        Ok(())
    }

    fn velocity(&self) -> Check {
        let total: u64 = self
            .signed
            .keys()
            .map(|id| self.authorized[id].lamports + FEE)
            .sum();
        if total > self.limit {
            return Err(format!(
                "{total} lamports signed, over the velocity limit of {}",
                self.limit
            ));
        }
        Ok(())
    }

    /// Every node's audit log verifies and records every share it released.
    pub fn audits(&mut self, world: &World) -> Check {
        for i in 0..world.nodes.len() {
            world
                .audit(i)
                .verify()
                .map_err(|e| format!("node {i}'s audit log does not verify: {e}"))?;
            self.checks += 1;
        }
        for (node, request) in self.releases.keys() {
            let found = world
                .audit(*node)
                .find(request, Some("signature"))
                .map_err(|e| format!("node {node}'s audit log: {e}"))?;
            if found.is_empty() {
                return Err(format!(
                    "node {node} released a share of request {request} its audit log does not record"
                ));
            }
            self.checks += 1;
        }
        Ok(())
    }
}

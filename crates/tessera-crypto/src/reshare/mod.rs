//! Resharing: new shares of the same key for a new threshold and/or signer set. Proactive
//! refresh (same set, same threshold), replacing a signer (one member swapped) and resharing
//! (2-of-3 → 3-of-5) are all this one protocol. **Ours, unaudited.**
//!
//! No protocol crate Tessera uses offers resharing to a new threshold, and cggmp24 0.7 has no
//! refresh, so this follows a published protocol step by step, on audited group arithmetic
//! (`k256`, `curve25519-dalek`), and rebuilds every share through the protocol crate's own
//! validating constructors:
//!
//! - **Redistribution:** Desmedt and Jajodia, "Redistributing secret shares to new access
//!   structures and its applications", George Mason University, ISSE-TR-97-01 (1997), §3:
//!   each old shareholder `i` of an authorised set `D` re-shares its Lagrange-weighted share
//!   `λ_i·x_i` with a fresh polynomial of the new threshold; each new shareholder adds what it
//!   receives.
//! - **Verification:** Wong, Wang and Wing, "Verifiable secret redistribution for archive
//!   systems", IEEE Security in Storage Workshop (2002), §4: Feldman commitments to every
//!   sub-sharing polynomial (Feldman, FOCS 1987), each new shareholder checks its sub-shares
//!   against them, and the constant term of each dealer's commitments must equal `λ_i` times the
//!   dealer's *old* public share, so a dealer cannot re-share anything but its own share.
//!
//! The steps, as [`Redistribution`] runs them (round 1, one broadcast and one private message
//! from every participant):
//!
//! 1. The [`ResharePlan`] (public, authorized by the operators) names the group key, the chain
//!    code, the old threshold and the dealers: at least `t_old` holders of the current epoch's
//!    shares, each by its new index and its old index. Every dealer is a member of the new set
//!    (to move to disjoint hosts, reshare twice).
//! 2. Dealer `i` computes `λ_i` for the dealers' old indices at zero and draws
//!    `f_i(x) = λ_i·x_i + a_1·x + … + a_{t'−1}·x^{t'−1}`. It broadcasts its old public share
//!    `X_i` and `C_ik = a_ik·G` (with `a_i0 = λ_i·x_i`), and sends `f_i(j + 1)` privately to
//!    every new party `j`. Everyone else broadcasts "not dealing".
//! 3. Each new party checks: exactly the planned dealers dealt, under their planned old index;
//!    `X_i` equals its own record of the old sharing, when it holds one; `C_i0 = λ_i·X_i`;
//!    `Σ_i C_i0` is the group key; each sub-share against its commitments. A failed check names
//!    the dealer ([`Error::Aborted`]) and the epoch is not created.
//! 4. `x'_j = Σ_i f_i(j + 1)`; the new public shares are `Y_m = Σ_i Σ_k C_ik·(m + 1)^k`.
//!    The scheme then completes the share (DKLs23 runs its own DKG phases 2–4 on `x'_j`, which
//!    set up its multiplication and zero-share state) and every participant confirms the same
//!    broadcast transcript ([`crate::echo`]) before the share is released.
//!
//! Old shares are not changed here: the caller stores the new share as the next epoch and
//! commits it only when every participant has one (`tessera-vault`'s two-phase epochs). New
//! shares lie on a fresh polynomial, so they never combine with old ones.

pub(crate) mod curve;
pub mod import;
pub(crate) mod vss;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::echo::Confirmed;
use crate::session::{decode, encode, Driver, Inbox, Outbox, RoundMessages, RoundSpec, Rounds};
use crate::{AuxInfo, Error, KeyShare, PartyIndex, PublicKey, Result, SchemeId, SessionId};
use crate::{ThresholdParams, MAX_PARTIES};
use curve::Curve;

/// What every participant of a reshare agrees on. Public; the operators' authorization covers
/// it, so a coordinator cannot change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResharePlan {
    /// Scheme of the wallet.
    pub scheme: SchemeId,
    /// The wallet's group key, which the new shares must share again.
    pub public_key: PublicKey,
    /// The wallet's chain code (kept unchanged, so every derived address stays the same).
    pub chain_code: [u8; 32],
    /// Threshold of the current epoch.
    pub old_threshold: u16,
    /// The dealers: new party index → party index in the current epoch. At least
    /// `old_threshold` of them.
    pub dealers: BTreeMap<PartyIndex, PartyIndex>,
}

/// Everything one party needs to take part in a reshare.
pub struct ReshareInput {
    /// Execution id (never reused).
    pub sid: SessionId,
    /// This party's index in the new set.
    pub me: PartyIndex,
    /// The new threshold and size.
    pub params: ThresholdParams,
    /// The public plan.
    pub plan: ResharePlan,
    /// This party's share of the current epoch: required for a dealer; a non-dealer that holds
    /// one uses it to check the dealers' old public shares.
    pub old_share: Option<KeyShare>,
    /// cggmp24 only: this party's aux info for the new signer group.
    pub aux: Option<AuxInfo>,
    /// Set for an import ([`import`]): the importer's dealing as this party received it. The
    /// plan then names no dealers and no party holds an old share.
    pub import: Option<import::ImportedShare>,
}

impl ResharePlan {
    /// Checks the plan against the new parameters and this party's share, before any message.
    /// Checks an import's plan: no dealers, no old share, this party in the new set.
    fn check_import(
        &self,
        scheme: SchemeId,
        me: PartyIndex,
        params: ThresholdParams,
        old_share: Option<&KeyShare>,
    ) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidArgs(format!("import plan: {m}")));
        if self.scheme != scheme {
            return bad("the plan is for another scheme");
        }
        if me >= params.n {
            return bad("this party's index is outside the new set");
        }
        if !self.dealers.is_empty() || old_share.is_some() {
            return bad("an import has no dealers among the holders");
        }
        Ok(())
    }

    pub(crate) fn check(
        &self,
        scheme: SchemeId,
        me: PartyIndex,
        params: ThresholdParams,
        old_share: Option<&KeyShare>,
    ) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidArgs(format!("reshare plan: {m}")));
        if self.scheme != scheme {
            return bad("the plan is for another scheme");
        }
        if me >= params.n {
            return bad("this party's index is outside the new set");
        }
        if self.old_threshold < 2 || self.old_threshold > MAX_PARTIES {
            return bad("old threshold out of range");
        }
        if self.dealers.len() < usize::from(self.old_threshold) {
            return bad("fewer dealers than the old threshold");
        }
        let mut old: Vec<PartyIndex> = self.dealers.values().copied().collect();
        old.sort_unstable();
        old.dedup();
        if old.len() != self.dealers.len() {
            return bad("an old share is dealt twice");
        }
        if self.dealers.keys().any(|&j| j >= params.n) || old.iter().any(|&i| i >= MAX_PARTIES) {
            return bad("a dealer index is out of range");
        }
        if let Some(share) = old_share {
            if share.scheme != self.scheme
                || share.public_key != self.public_key
                || share.chain_code != self.chain_code
                || share.params.t != self.old_threshold
            {
                return bad("this party's share is of another wallet or epoch");
            }
            if let Some(&i) = self.dealers.get(&me) {
                if share.index != i {
                    return bad("this party's share has another old index than planned");
                }
            }
        } else if self.dealers.contains_key(&me) {
            return bad("a dealer needs its current share");
        }
        Ok(())
    }

    /// Old indices of the dealers, sorted.
    fn old_set(&self) -> Vec<PartyIndex> {
        let mut v: Vec<PartyIndex> = self.dealers.values().copied().collect();
        v.sort_unstable();
        v
    }
}

/// What every scheme's `reshare` starts with: the plan checked against `scheme` and this
/// party's share (before any message), and the [`Redistribution`] over curve `G`, with the
/// party's share turned into its old sharing by the scheme's `old`.
pub(crate) fn begin<G: Curve>(
    scheme: SchemeId,
    input: &ReshareInput,
    old: impl Fn(&KeyShare) -> Result<OldSharing>,
) -> Result<Redistribution<G>> {
    let (plan, me, params) = (&input.plan, input.me, input.params);
    let key = plan.public_key.as_bytes();
    if let Some(imported) = &input.import {
        plan.check_import(scheme, me, params, input.old_share.as_ref())?;
        let mut r = Redistribution::new(me, params, plan.clone(), key, None)?;
        r.external = Some(import::External::check(
            imported,
            me,
            params.t,
            &r.group_key,
        )?);
        return Ok(r);
    }
    plan.check(scheme, me, params, input.old_share.as_ref())?;
    let old = input.old_share.as_ref().map(old).transpose()?;
    Redistribution::new(me, params, plan.clone(), key, old)
}

/// A dealer's view of its current share: its old index, secret and everyone's old public share
/// (by old index), in the curve's standard encoding.
pub(crate) struct OldSharing {
    pub index: PartyIndex,
    pub secret: Zeroizing<[u8; 32]>,
    pub public_shares: Vec<Vec<u8>>,
}

/// What redistribution gives one new party: its new secret share and every new public share
/// (by new index), encoded for the scheme's curve.
pub(crate) struct Received {
    pub secret: Zeroizing<[u8; 32]>,
    pub public_shares: Vec<Vec<u8>>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Dealing {
    old_index: PartyIndex,
    old_public: Vec<u8>,
    commitments: Vec<Vec<u8>>,
}

/// Round-1 broadcast: a dealing, or `None` from a party that does not deal.
#[derive(Serialize, Deserialize)]
struct Deal(Option<Dealing>);

/// Round-1 private message: a sub-share (`f_i(j + 1)`), or `None` from a non-dealer.
#[derive(Serialize, Deserialize)]
struct SubShare(Option<Vec<u8>>);

impl Drop for SubShare {
    fn drop(&mut self) {
        if let Some(b) = &mut self.0 {
            zeroize::Zeroize::zeroize(b);
        }
    }
}

/// Steps 2–4 of the module docs for one party, over curve `G`.
pub(crate) struct Redistribution<G: Curve> {
    me: PartyIndex,
    params: ThresholdParams,
    plan: ResharePlan,
    group_key: G::Point,
    old: Option<OldSharing>,
    own: Option<(Dealing, Zeroizing<[u8; 32]>)>,
    /// An import's dealing, in place of the old holders' ([`import`]).
    external: Option<import::External<G>>,
}

type Dealt<G> = (Vec<<G as Curve>::Point>, <G as Curve>::Point);

impl<G: Curve> Redistribution<G> {
    /// `group_key` is the plan's key in the curve's encoding; `old` the party's current share.
    pub fn new(
        me: PartyIndex,
        params: ThresholdParams,
        plan: ResharePlan,
        group_key: &[u8],
        old: Option<OldSharing>,
    ) -> Result<Self> {
        let group_key = G::point_from_bytes(group_key)
            .ok_or_else(|| Error::InvalidArgs("reshare plan: group key encoding".into()))?;
        if let Some(o) = &old {
            if o.public_shares.len() <= usize::from(o.index) {
                return Err(Error::InvalidKeyShare(
                    "old public shares incomplete".into(),
                ));
            }
        }
        Ok(Redistribution {
            me,
            params,
            plan,
            group_key,
            old,
            own: None,
            external: None,
        })
    }

    /// Step 2: round-1 messages (a dealing or "not dealing", and one private message per peer).
    pub fn deal(&mut self, round: u16, out: &mut Outbox<'_>) -> Result<()> {
        if let Some(external) = &self.external {
            out.broadcast(round, encode(&import::ImportEcho(external.digest))?);
            for p in (0..self.params.n).filter(|&p| p != self.me) {
                out.p2p(round, p, encode(&SubShare(None))?);
            }
            return Ok(());
        }
        let old = match (self.plan.dealers.get(&self.me), &self.old) {
            (Some(_), Some(old)) => old,
            (Some(_), None) => return Err(Error::InvalidArgs("a dealer needs its share".into())),
            (None, _) => {
                out.broadcast(round, encode(&Deal(None))?);
                for p in (0..self.params.n).filter(|&p| p != self.me) {
                    out.p2p(round, p, encode(&SubShare(None))?);
                }
                return Ok(());
            }
        };
        let lambda = vss::lagrange_at_zero::<G>(&self.plan.old_set(), old.index)
            .ok_or_else(|| Error::Bug("dealer outside its own set".into()))?;
        let mut x = G::scalar_from_bytes(&*old.secret)
            .ok_or_else(|| Error::InvalidKeyShare("secret share encoding".into()))?;
        let poly = vss::Polynomial::<G>::random(lambda * x, self.params.t);
        zeroize::Zeroize::zeroize(&mut x);
        let dealing = Dealing {
            old_index: old.index,
            old_public: old.public_shares[usize::from(old.index)].clone(),
            commitments: poly.commitments().iter().map(G::point_to_bytes).collect(),
        };
        out.broadcast(round, encode(&Deal(Some(dealing.clone())))?);
        for p in (0..self.params.n).filter(|&p| p != self.me) {
            let share = SubShare(Some(poly.share_for(p).to_vec()));
            out.p2p(round, p, Zeroizing::new(encode(&share)?).to_vec());
        }
        self.own = Some((dealing, poly.share_for(self.me)));
        Ok(())
    }

    /// Steps 3 and 4: checks every dealing and adds up this party's sub-shares.
    pub fn receive(&mut self, msgs: &RoundMessages) -> Result<Received> {
        if let Some(external) = self.external.take() {
            return self.receive_import(msgs, external);
        }
        let round = msgs.round;
        let mut dealings: BTreeMap<PartyIndex, Dealing> = BTreeMap::new();
        let mut culprits = Vec::new();
        for p in 0..self.params.n {
            let dealing = if p == self.me {
                self.own.as_ref().map(|(d, _)| d.clone())
            } else {
                let bytes = msgs
                    .broadcast
                    .get(&p)
                    .ok_or_else(|| Error::Bug("missing broadcast".into()))?;
                decode::<Deal>(bytes, p, round)?.0
            };
            match (self.plan.dealers.get(&p), dealing) {
                (Some(&i), Some(d)) if d.old_index == i => {
                    dealings.insert(p, d);
                }
                (None, None) => {}
                _ => culprits.push(p),
            }
        }
        blame(culprits, "a party dealt against the plan")?;
        let commitments = self.check_dealings(&dealings, round)?;
        let secret = self.collect_subshares(msgs, &commitments)?;
        self.finish(secret, &commitments)
    }

    /// An import's round 1 ([`import`] step 2): every other holder was given the same dealing
    /// and dealt nothing itself; the result is this holder's imported share.
    fn receive_import(
        &mut self,
        msgs: &RoundMessages,
        external: import::External<G>,
    ) -> Result<Received> {
        let mut culprits = Vec::new();
        for p in (0..self.params.n).filter(|&p| p != self.me) {
            let missing = || Error::Bug("missing message".into());
            let echo = msgs.broadcast.get(&p).ok_or_else(missing)?;
            let echo = decode::<import::ImportEcho>(echo, p, msgs.round)?;
            let sub = msgs.p2p.get(&p).ok_or_else(missing)?;
            let sub = decode::<SubShare>(sub, p, msgs.round)?;
            if echo.0 != external.digest || sub.0.is_some() {
                culprits.push(p);
            }
        }
        blame(culprits, "a holder was given another import dealing")?;
        let secret = G::scalar_from_bytes(&*external.share)
            .ok_or_else(|| Error::Bug("checked share".into()))?;
        let commitments = BTreeMap::from([(self.me, external.commitments)]);
        self.finish(secret, &commitments)
    }

    /// Step 3's public checks; returns each dealer's commitments.
    fn check_dealings(
        &self,
        dealings: &BTreeMap<PartyIndex, Dealing>,
        round: u16,
    ) -> Result<BTreeMap<PartyIndex, Vec<G::Point>>> {
        let old_set = self.plan.old_set();
        let mut out = BTreeMap::new();
        let mut culprits = Vec::new();
        let mut sum = G::identity();
        for (&p, d) in dealings {
            let (commitments, old_public) = self.parse_dealing(p, d, round)?;
            let recorded = self
                .old
                .as_ref()
                .and_then(|o| o.public_shares.get(usize::from(d.old_index)));
            let lambda = vss::lagrange_at_zero::<G>(&old_set, d.old_index)
                .ok_or_else(|| Error::Bug("dealer outside the set".into()))?;
            let recorded_ok = recorded.is_none_or(|r| *r == d.old_public);
            if !recorded_ok || commitments[0] != old_public * lambda {
                culprits.push(p);
            }
            sum = sum + commitments[0];
            out.insert(p, commitments);
        }
        blame(culprits, "a dealer did not re-share its own share")?;
        if sum != self.group_key {
            return Err(Error::Aborted {
                culprits: Vec::new(),
                reason: "the dealings do not share the group key".into(),
                ban: false,
            });
        }
        Ok(out)
    }

    fn parse_dealing(&self, p: PartyIndex, d: &Dealing, round: u16) -> Result<Dealt<G>> {
        let malformed = |reason: &str| Error::Malformed {
            from: p,
            round,
            reason: reason.into(),
        };
        if d.commitments.len() != usize::from(self.params.t) {
            return Err(malformed("wrong number of commitments"));
        }
        let commitments = d
            .commitments
            .iter()
            .map(|c| G::point_from_bytes(c).ok_or_else(|| malformed("commitment encoding")))
            .collect::<Result<Vec<_>>>()?;
        let old_public =
            G::point_from_bytes(&d.old_public).ok_or_else(|| malformed("old share encoding"))?;
        Ok((commitments, old_public))
    }

    /// Feldman-checks every sub-share addressed to this party and adds them up.
    fn collect_subshares(
        &mut self,
        msgs: &RoundMessages,
        commitments: &BTreeMap<PartyIndex, Vec<G::Point>>,
    ) -> Result<G::Scalar> {
        let mut secret = G::zero();
        let mut culprits = Vec::new();
        for p in (0..self.params.n).filter(|&p| p != self.me) {
            let bytes = msgs
                .p2p
                .get(&p)
                .ok_or_else(|| Error::Bug("missing private message".into()))?;
            let sub = decode::<SubShare>(bytes, p, msgs.round)?;
            match (commitments.get(&p), &sub.0) {
                (Some(c), Some(b)) => match G::scalar_from_bytes(b) {
                    Some(s) if vss::verify_share::<G>(c, self.me, &s) => secret = secret + s,
                    _ => culprits.push(p),
                },
                (None, None) => {}
                _ => culprits.push(p),
            }
        }
        if let Some((_, own)) = self.own.take() {
            let s = G::scalar_from_bytes(&*own).ok_or_else(|| Error::Bug("own share".into()))?;
            secret = secret + s;
        }
        if !culprits.is_empty() {
            zeroize::Zeroize::zeroize(&mut secret);
        }
        blame(
            culprits,
            "a sub-share is not on its dealer's committed polynomial",
        )?;
        Ok(secret)
    }

    /// Step 4: the new public shares, checked against the new secret share.
    fn finish(
        &self,
        mut secret: G::Scalar,
        commitments: &BTreeMap<PartyIndex, Vec<G::Point>>,
    ) -> Result<Received> {
        let public: Vec<G::Point> = (0..self.params.n)
            .map(|m| {
                commitments.values().fold(G::identity(), |acc, c| {
                    acc + vss::evaluate_commitments::<G>(c, m)
                })
            })
            .collect();
        let ok = secret != G::zero() && G::base(&secret) == public[usize::from(self.me)];
        let out = G::scalar_to_bytes(&secret);
        zeroize::Zeroize::zeroize(&mut secret);
        if !ok {
            return Err(Error::Bug(
                "new share does not match its public share".into(),
            ));
        }
        Ok(Received {
            secret: out,
            public_shares: public.iter().map(G::point_to_bytes).collect(),
        })
    }
}

fn blame(mut culprits: Vec<PartyIndex>, reason: &str) -> Result<()> {
    if culprits.is_empty() {
        return Ok(());
    }
    culprits.sort_unstable();
    culprits.dedup();
    Err(Error::Aborted {
        culprits,
        reason: reason.into(),
        ban: false,
    })
}

/// Redistribution as a whole protocol (FROST and cggmp24 need nothing more): one round, then
/// the broadcast-transcript confirmation, so every party saw the same commitments.
pub(crate) fn redistribution_session<G: Curve>(
    sid: SessionId,
    redistribution: Redistribution<G>,
) -> Confirmed<Driver<Only<G>>> {
    let me = redistribution.me;
    let parties: Vec<PartyIndex> = (0..redistribution.params.n).collect();
    let inbox = Inbox::new(sid, me, &parties, vec![ROUND_SPEC]);
    Confirmed::new(Driver::new(Only(redistribution), inbox), sid, &parties)
}

/// Round 1 of a reshare: one broadcast and one private message from every participant.
pub(crate) const ROUND_SPEC: RoundSpec = RoundSpec {
    broadcast: true,
    p2p: true,
};

/// [`Redistribution`] alone, as a [`Rounds`] protocol.
pub(crate) struct Only<G: Curve>(Redistribution<G>);

impl<G: Curve> Rounds for Only<G> {
    type Output = Received;

    fn start(&mut self, out: &mut Outbox<'_>) -> Result<()> {
        self.0.deal(1, out)
    }

    fn on_round(&mut self, msgs: RoundMessages, _out: &mut Outbox<'_>) -> Result<Option<Received>> {
        match msgs.round {
            1 => self.0.receive(&msgs).map(Some),
            _ => Err(Error::Bug("unexpected round".into())),
        }
    }
}

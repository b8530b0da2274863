//! The policy engine: a compiled bundle that turns a [`PolicyRequest`] into a [`Decision`].
//!
//! # Combining rules
//!
//! - Cedar decides each evaluation unit (one per asset leg of the intent; one for
//!   `change_policy`): **forbid always wins**; **no matching permit means deny**.
//! - **Any evaluation error denies** (fail closed): Cedar itself skips a policy that errors, which
//!   for a forbid would mean allowing.
//! - **Raw digests**: for `sign_raw_digest`, only permits annotated `@allow_raw_digest("true")`
//!   count, and the bundle compiler only accepts that annotation on a permit whose action scope
//!   names `Tessera::Action::"sign_raw_digest"` explicitly (and refuses a permit that names it
//!   without the annotation). So `permit(principal, action, resource);` never allows a raw
//!   digest.
//! - **Approvals**: a permit may carry `@approvals("role:n,other-role:m")`. The requirement of a
//!   decision is, per role, the largest `n` among all matching permits of all units
//!   (strictest wins; requirements only add up, a permit can never relax another one). No
//!   requirement at all: [`Decision::Allow`]; otherwise [`Decision::AllowWithApprovals`].
//! - **Velocity**: every bundle rule matching the wallet and a leg's asset is checked against the
//!   ledger; a breach denies with [`DenyReason::VelocityExceeded`].
//! - A request whose principal belongs to another tenant than the bundle is denied.
//!
//! # Determinism
//!
//! The same bundle, request and ledger give byte-identical [`Decision::canonical_bytes`] on
//! every node: policy ids and reasons are sorted and de-duplicated, no hash-map order leaks, and
//! time comes in as a parameter.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use cedar_policy::{
    ActionConstraint, Authorizer, Effect, EntityUid, PolicyId, PolicySet, Request, Schema,
    ValidationMode, Validator,
};
use serde::{Deserialize, Serialize};

use crate::amount::BaseUnits;
use crate::bundle::{PolicyBundle, SignedBundle};
use crate::error::BundleError;
use crate::facts::AssetLeg;
use crate::request::{PolicyAction, PolicyRequest, Resource};
use crate::schema::{self, WindowFigures};
use crate::velocity::{self, VelocityLedger, VelocityMetric};

/// Annotation naming a policy (required on every policy; it is the id decisions report).
pub const ANNOTATION_ID: &str = "id";
/// Annotation with the approvals a permit requires: `"role:n"` or `"role-a:n,role-b:m"`.
pub const ANNOTATION_APPROVALS: &str = "approvals";
/// Annotation `"true"` that lets a permit allow `sign_raw_digest`.
pub const ANNOTATION_ALLOW_RAW_DIGEST: &str = "allow_raw_digest";
/// Annotation with a human reason, reported when a forbid denies.
pub const ANNOTATION_REASON: &str = "reason";
/// Free-text annotation.
pub const ANNOTATION_DESCRIPTION: &str = "description";

const KNOWN_ANNOTATIONS: [&str; 5] = [
    ANNOTATION_ID,
    ANNOTATION_APPROVALS,
    ANNOTATION_ALLOW_RAW_DIGEST,
    ANNOTATION_REASON,
    ANNOTATION_DESCRIPTION,
];

/// Longest policy id.
const MAX_POLICY_ID: usize = 128;

/// Approvals needed: per role, how many distinct approvers. All must be met.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Quorum {
    roles: BTreeMap<String, u32>,
}

impl Quorum {
    /// No approvals needed.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds a requirement, keeping the stricter count if `role` is already there.
    pub fn require(mut self, role: &str, count: u32) -> Self {
        self.add(role, count);
        self
    }

    fn add(&mut self, role: &str, count: u32) {
        let e = self.roles.entry(role.to_string()).or_insert(0);
        *e = (*e).max(count);
    }

    /// Merges `other` in, per role the larger count.
    pub fn merge_strictest(&mut self, other: &Quorum) {
        for (r, n) in &other.roles {
            self.add(r, *n);
        }
    }

    /// The requirements, sorted by role.
    pub fn requirements(&self) -> impl Iterator<Item = (&str, u32)> {
        self.roles.iter().map(|(r, n)| (r.as_str(), *n))
    }

    /// Whether nothing is required.
    pub fn is_empty(&self) -> bool {
        self.roles.values().all(|n| *n == 0)
    }

    /// Parses an `@approvals` value: comma-separated `role:n`, `n >= 1`, each role once.
    pub fn parse_annotation(s: &str) -> Result<Quorum, String> {
        let mut q = Quorum::none();
        for part in s.split(',') {
            let part = part.trim();
            let Some((role, n)) = part.rsplit_once(':') else {
                return Err(format!("approvals entry {part:?} is not role:count"));
            };
            let role = role.trim();
            let n: u32 = n
                .trim()
                .parse()
                .map_err(|_| format!("approvals entry {part:?}: count is not a number"))?;
            if role.is_empty() || n == 0 {
                return Err(format!(
                    "approvals entry {part:?}: needs a role and a count >= 1"
                ));
            }
            if q.roles.contains_key(role) {
                return Err(format!("approvals: role {role:?} given twice"));
            }
            q.roles.insert(role.to_string(), n);
        }
        Ok(q)
    }
}

impl fmt::Display for Quorum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.roles.iter().map(|(r, n)| format!("{r}:{n}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// Why a request is denied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenyReason {
    /// A forbid policy matched.
    Forbidden {
        /// Its id.
        policy_id: String,
        /// Its `@reason`, if any.
        message: Option<String>,
    },
    /// No permit matched (default deny).
    NoPermit,
    /// `sign_raw_digest` with no permit that explicitly allows raw digests (and no forbid
    /// either: a matching forbid is reported as [`DenyReason::Forbidden`]).
    RawDigestNotPermitted,
    /// The request would push a velocity window over its limit.
    VelocityExceeded {
        /// Rule id in the bundle.
        rule: String,
        /// Asset id.
        asset: String,
        /// Window, seconds.
        window_s: u64,
        /// What is counted.
        metric: VelocityMetric,
        /// The limit (base units or requests), decimal.
        limit: String,
        /// The window's figure with this request, decimal.
        would_be: String,
    },
    /// A policy failed to evaluate (fail closed).
    PolicyError {
        /// Its id.
        policy_id: String,
        /// Cedar's error.
        detail: String,
    },
    /// The principal's tenant is not the bundle's.
    TenantMismatch {
        /// Tenant of the principal.
        request: String,
        /// Tenant of the bundle.
        bundle: String,
    },
    /// The request could not be turned into a Cedar request.
    InvalidRequest {
        /// Why.
        detail: String,
    },
    /// The operating mode is `lockdown`: nothing but `change_policy` is evaluated.
    Lockdown,
    /// The velocity ledger could not be read (fail closed).
    LedgerUnavailable {
        /// Why.
        detail: String,
    },
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::Forbidden { policy_id, message } => match message {
                Some(m) => write!(f, "forbidden by {policy_id}: {m}"),
                None => write!(f, "forbidden by {policy_id}"),
            },
            DenyReason::NoPermit => f.write_str("no policy permits this request"),
            DenyReason::RawDigestNotPermitted => {
                f.write_str("raw digest signing is not explicitly permitted")
            }
            DenyReason::VelocityExceeded {
                rule,
                asset,
                window_s,
                metric,
                limit,
                would_be,
            } => write!(
                f,
                "velocity_exceeded {{ rule: {rule}, asset: {asset}, window_s: {window_s}, \
                 metric: {metric:?}, limit: {limit}, would_be: {would_be} }}"
            ),
            DenyReason::PolicyError { policy_id, detail } => {
                write!(f, "policy {policy_id} failed to evaluate: {detail}")
            }
            DenyReason::TenantMismatch { request, bundle } => {
                write!(
                    f,
                    "request tenant {request:?} is not bundle tenant {bundle:?}"
                )
            }
            DenyReason::InvalidRequest { detail } => write!(f, "invalid request: {detail}"),
            DenyReason::Lockdown => f.write_str("lockdown: no signing until admins lift it"),
            DenyReason::LedgerUnavailable { detail } => {
                write!(f, "velocity ledger unavailable: {detail}")
            }
        }
    }
}

/// The engine's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Refused.
    Deny {
        /// The forbid policies that matched (sorted; empty for default deny and non-Cedar
        /// reasons).
        policy_ids: Vec<String>,
        /// Why (sorted, never empty).
        reasons: Vec<DenyReason>,
    },
    /// Allowed without approvals.
    Allow {
        /// The permits that matched (sorted).
        policy_ids: Vec<String>,
    },
    /// Allowed once the quorum of approvals is met.
    AllowWithApprovals {
        /// The approvals needed.
        quorum: Quorum,
        /// The permits that matched (sorted).
        policy_ids: Vec<String>,
    },
}

impl Decision {
    /// Canonical bytes (compact JSON of sorted fields): equal on every node for equal inputs.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Strings, integers, vectors and sorted maps: serialization cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Whether this is a deny.
    pub fn is_deny(&self) -> bool {
        matches!(self, Decision::Deny { .. })
    }

    /// The policy ids that decided.
    pub fn policy_ids(&self) -> &[String] {
        match self {
            Decision::Deny { policy_ids, .. }
            | Decision::Allow { policy_ids }
            | Decision::AllowWithApprovals { policy_ids, .. } => policy_ids,
        }
    }

    /// The approvals needed (`None` for deny and plain allow).
    pub fn quorum(&self) -> Option<&Quorum> {
        match self {
            Decision::AllowWithApprovals { quorum, .. } => Some(quorum),
            _ => None,
        }
    }

    /// Deny reasons (empty unless deny).
    pub fn reasons(&self) -> &[DenyReason] {
        match self {
            Decision::Deny { reasons, .. } => reasons,
            _ => &[],
        }
    }

    fn deny(reason: DenyReason) -> Decision {
        Decision::Deny {
            policy_ids: Vec::new(),
            reasons: vec![reason],
        }
    }
}

/// The windows whose totals every request's context carries (`context.velocity.hour` and
/// `context.velocity.day`), seconds.
pub const CONTEXT_WINDOWS_S: [u64; 2] = [3_600, 86_400];

/// A compiled, validated policy bundle, ready to evaluate requests. A signer only evaluates an
/// engine it obtained from [`crate::accept_update`]; [`Engine::compile`] skips the signature
/// checks and serves linting, previews and tests.
pub struct Engine {
    signed: SignedBundle,
    hash: [u8; 32],
    schema: Schema,
    policies: PolicySet,
    approvals: BTreeMap<String, Quorum>,
    raw_digest_permits: BTreeSet<String>,
    forbid_reasons: BTreeMap<String, String>,
    authorizer: Authorizer,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("tenant", &self.signed.bundle.tenant)
            .field("version", &self.signed.bundle.version)
            .field("bundle_hash", &hex::encode(self.hash))
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Compiles `bundle` **without checking any signature**: structure, Cedar parse, strict
    /// validation against [`schema::SCHEMA`], annotations.
    pub fn compile(bundle: &PolicyBundle) -> Result<Engine, BundleError> {
        Self::from_signed(SignedBundle::new(bundle.clone()))
    }

    pub(crate) fn from_signed(signed: SignedBundle) -> Result<Engine, BundleError> {
        let bundle = &signed.bundle;
        bundle.check_structure()?;
        let schema = schema::schema().map_err(|reason| BundleError::PolicyParse { reason })?;
        let compiled = compile_policies(bundle, &schema)?;
        Ok(Engine {
            hash: bundle.bundle_hash(),
            schema,
            policies: compiled.set,
            approvals: compiled.approvals,
            raw_digest_permits: compiled.raw_digest_permits,
            forbid_reasons: compiled.forbid_reasons,
            authorizer: Authorizer::new(),
            signed,
        })
    }

    /// The bundle.
    pub fn bundle(&self) -> &PolicyBundle {
        &self.signed.bundle
    }

    /// The bundle with the admin signatures it was accepted with (what a signer stores and
    /// passes as `current` to the next [`crate::accept_update`]).
    pub fn signed_bundle(&self) -> &SignedBundle {
        &self.signed
    }

    /// Policy version.
    pub fn version(&self) -> u64 {
        self.signed.bundle.version
    }

    /// How far back (seconds before a request's time) [`evaluate`](Self::evaluate) reads the
    /// velocity ledger: the longest of the windows the request context totals
    /// ([`CONTEXT_WINDOWS_S`]: the hour and the day) and the bundle's velocity rules'. A signer
    /// loads only these entries; reading all it keeps ([`crate::MAX_WINDOW_S`]) made each signature
    /// cost more as a wallet's year of history grew (found by the soak test).
    pub fn ledger_window_s(&self) -> u64 {
        let rules = self.signed.bundle.velocity.values().map(|r| r.window_s);
        CONTEXT_WINDOWS_S
            .into_iter()
            .chain(rules)
            .max()
            .unwrap_or(0)
    }

    /// [`PolicyBundle::bundle_hash`].
    pub fn bundle_hash(&self) -> [u8; 32] {
        self.hash
    }

    /// Policy ids, sorted.
    pub fn policy_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .policies
            .policies()
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// Evaluates `req` against this bundle and `ledger` (read only: record with
    /// [`crate::record_signed`] after signing). Never fails: anything that goes wrong is a deny
    /// with its reason.
    pub fn evaluate(&self, req: &PolicyRequest, ledger: &dyn VelocityLedger) -> Decision {
        match self.evaluate_inner(req, ledger) {
            Ok(d) => d,
            Err(reason) => Decision::deny(reason),
        }
    }

    fn evaluate_inner(
        &self,
        req: &PolicyRequest,
        ledger: &dyn VelocityLedger,
    ) -> Result<Decision, DenyReason> {
        let tenant = &self.signed.bundle.tenant;
        if req.principal().tenant() != tenant {
            return Err(DenyReason::TenantMismatch {
                request: req.principal().tenant().to_string(),
                bundle: tenant.clone(),
            });
        }
        if req.mode() == crate::mode::Mode::Lockdown && req.action() != PolicyAction::ChangePolicy {
            return Err(DenyReason::Lockdown);
        }
        let invalid = |detail: String| DenyReason::InvalidRequest { detail };
        let ledger_err =
            |e: crate::error::LedgerError| DenyReason::LedgerUnavailable { detail: e.0 };
        let action = schema::action_uid(req.action()).map_err(invalid)?;
        let (principal, resource, entities) =
            schema::entities(req, tenant, &self.schema).map_err(invalid)?;
        let (wallet, units): (Option<&str>, Vec<Option<AssetLeg>>) = match req.resource() {
            Resource::Tenant => (None, vec![None]),
            Resource::Wallet(w) => {
                let legs = req.legs();
                if legs.is_empty() {
                    return Err(invalid("request has no asset leg".into()));
                }
                (Some(w.id()), legs.into_iter().map(Some).collect())
            }
        };

        let mut reasons: BTreeSet<DenyReason> = BTreeSet::new();
        let mut forbids: BTreeSet<String> = BTreeSet::new();
        let mut permits: BTreeSet<String> = BTreeSet::new();
        let now = req.now_unix();
        for unit in &units {
            let zero = || WindowFigures {
                count: 0,
                amount: BaseUnits::zero(),
            };
            let (hour, day) = match (wallet, unit) {
                (Some(w), Some(leg)) => {
                    let fig = |window_s| {
                        velocity::would_be(ledger, w, leg, now, window_s).map(|t| WindowFigures {
                            count: t.count,
                            amount: t.sum,
                        })
                    };
                    let [hour, day] = CONTEXT_WINDOWS_S;
                    (
                        fig(hour).map_err(ledger_err)?,
                        fig(day).map_err(ledger_err)?,
                    )
                }
                _ => (zero(), zero()),
            };
            if let (Some(w), Some(leg)) = (wallet, unit) {
                let v = velocity::check_rules(&self.signed.bundle.velocity, ledger, w, leg, now)
                    .map_err(ledger_err)?;
                reasons.extend(v);
            }
            let context = schema::context(req, unit.as_ref(), &hour, &day, &self.schema, &action)
                .map_err(invalid)?;
            let request = Request::new(
                principal.clone(),
                action.clone(),
                resource.clone(),
                context,
                Some(&self.schema),
            )
            .map_err(|e| invalid(e.to_string()))?;
            let response = self
                .authorizer
                .is_authorized(&request, &self.policies, &entities);
            let mut errored = false;
            for e in response.diagnostics().errors() {
                let cedar_policy::AuthorizationError::PolicyEvaluationError(pe) = e;
                errored = true;
                reasons.insert(DenyReason::PolicyError {
                    policy_id: pe.policy_id().to_string(),
                    detail: pe.to_string(),
                });
            }
            let determining: BTreeSet<String> = response
                .diagnostics()
                .reason()
                .map(ToString::to_string)
                .collect();
            match response.decision() {
                cedar_policy::Decision::Deny => {
                    if determining.is_empty() {
                        if !errored {
                            reasons.insert(default_deny(req.action()));
                        }
                    } else {
                        for id in determining {
                            reasons.insert(DenyReason::Forbidden {
                                message: self.forbid_reasons.get(&id).cloned(),
                                policy_id: id.clone(),
                            });
                            forbids.insert(id);
                        }
                    }
                }
                cedar_policy::Decision::Allow => {
                    let allowed: BTreeSet<String> = if req.action() == PolicyAction::SignRawDigest {
                        determining
                            .into_iter()
                            .filter(|id| self.raw_digest_permits.contains(id))
                            .collect()
                    } else {
                        determining
                    };
                    if allowed.is_empty() {
                        reasons.insert(default_deny(req.action()));
                    }
                    permits.extend(allowed);
                }
            }
        }

        if !reasons.is_empty() {
            return Ok(Decision::Deny {
                policy_ids: forbids.into_iter().collect(),
                reasons: reasons.into_iter().collect(),
            });
        }
        let mut quorum = Quorum::none();
        for id in &permits {
            if let Some(q) = self.approvals.get(id) {
                quorum.merge_strictest(q);
            }
        }
        let policy_ids = permits.into_iter().collect();
        Ok(if quorum.is_empty() {
            Decision::Allow { policy_ids }
        } else {
            Decision::AllowWithApprovals { quorum, policy_ids }
        })
    }
}

/// The reason of a deny no forbid caused: raw digests say so explicitly.
fn default_deny(action: PolicyAction) -> DenyReason {
    if action == PolicyAction::SignRawDigest {
        DenyReason::RawDigestNotPermitted
    } else {
        DenyReason::NoPermit
    }
}

struct Compiled {
    set: PolicySet,
    approvals: BTreeMap<String, Quorum>,
    raw_digest_permits: BTreeSet<String>,
    forbid_reasons: BTreeMap<String, String>,
}

fn parse_err(reason: impl Into<String>) -> BundleError {
    BundleError::PolicyParse {
        reason: reason.into(),
    }
}

/// Refuses EVM address literals with upper-case letters: context addresses are lowercase, so
/// such a literal could never match (an allow-list would silently deny, a deny-list silently
/// allow).
fn check_address_literals(text: &str) -> Result<(), BundleError> {
    let b = text.as_bytes();
    let mut i = 0;
    while i + 2 <= b.len() {
        if b[i] == b'0' && (b[i + 1] == b'x' || b[i + 1] == b'X') {
            let start = i + 2;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_hexdigit() {
                end += 1;
            }
            let prev_ok = i == 0 || !b[i - 1].is_ascii_alphanumeric();
            if prev_ok && end - start == 40 && b[i..end].iter().any(u8::is_ascii_uppercase) {
                let lit = String::from_utf8_lossy(&b[i..end]);
                return Err(parse_err(format!(
                    "EVM address literal {lit} must be written in lowercase"
                )));
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    Ok(())
}

fn names_action(c: &ActionConstraint, a: &EntityUid) -> bool {
    match c {
        ActionConstraint::Any => false,
        ActionConstraint::Eq(x) => x == a,
        ActionConstraint::In(v) => v.contains(a),
    }
}

fn compile_policies(bundle: &PolicyBundle, schema: &Schema) -> Result<Compiled, BundleError> {
    check_address_literals(&bundle.policies)?;
    let parsed: PolicySet = bundle
        .policies
        .parse()
        .map_err(|e: cedar_policy::ParseErrors| parse_err(e.to_string()))?;
    if parsed.templates().next().is_some() {
        return Err(parse_err("policy templates (with slots) are not supported"));
    }
    let raw_digest = schema::action_uid(PolicyAction::SignRawDigest).map_err(parse_err)?;

    // Re-key every policy by its @id (parse order must not matter), then check annotations.
    let mut by_id = BTreeMap::new();
    for p in parsed.policies() {
        let Some(id) = p.annotation(ANNOTATION_ID) else {
            return Err(parse_err(format!(
                "every policy needs an @id annotation; this one has none: {}",
                p.to_string().lines().next().unwrap_or_default()
            )));
        };
        let id_ok = !id.is_empty()
            && id.len() <= MAX_POLICY_ID
            && id
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
        if !id_ok {
            return Err(parse_err(format!(
                "policy id {id:?} must be 1..={MAX_POLICY_ID} of [A-Za-z0-9._-]"
            )));
        }
        if by_id
            .insert(id.to_string(), p.new_id(PolicyId::new(id)))
            .is_some()
        {
            return Err(parse_err(format!("policy id {id:?} is used twice")));
        }
    }

    let mut approvals = BTreeMap::new();
    let mut raw_digest_permits = BTreeSet::new();
    let mut forbid_reasons = BTreeMap::new();
    for (id, p) in &by_id {
        let mut keys: Vec<(&str, &str)> = p.annotations().collect();
        keys.sort();
        for (k, _) in &keys {
            if !KNOWN_ANNOTATIONS.contains(k) {
                return Err(parse_err(format!(
                    "policy {id}: unknown annotation @{k} (known: {})",
                    KNOWN_ANNOTATIONS.join(", ")
                )));
            }
        }
        let permit = p.effect() == Effect::Permit;
        if let Some(v) = p.annotation(ANNOTATION_APPROVALS) {
            if !permit {
                return Err(parse_err(format!("policy {id}: @approvals on a forbid")));
            }
            let q =
                Quorum::parse_annotation(v).map_err(|e| parse_err(format!("policy {id}: {e}")))?;
            for (role, n) in q.requirements() {
                let members = bundle.roles.get(role).map_or(0, BTreeSet::len);
                if members == 0 {
                    return Err(parse_err(format!(
                        "policy {id}: approver role {role:?} is not defined in the bundle"
                    )));
                }
                if (n as usize) > members {
                    return Err(parse_err(format!(
                        "policy {id}: role {role:?} has {members} approver(s), {n} required"
                    )));
                }
            }
            approvals.insert(id.clone(), q);
        }
        let names_raw = names_action(&p.action_constraint(), &raw_digest);
        match p.annotation(ANNOTATION_ALLOW_RAW_DIGEST) {
            Some(v) => {
                if !permit || v != "true" {
                    return Err(parse_err(format!(
                        "policy {id}: @allow_raw_digest must be \"true\" on a permit"
                    )));
                }
                if !names_raw {
                    return Err(parse_err(format!(
                        "policy {id}: @allow_raw_digest needs an action scope that names \
                         Tessera::Action::\"sign_raw_digest\" explicitly"
                    )));
                }
                raw_digest_permits.insert(id.clone());
            }
            None => {
                if permit && names_raw {
                    return Err(parse_err(format!(
                        "policy {id}: a permit naming sign_raw_digest must carry \
                         @allow_raw_digest(\"true\")"
                    )));
                }
            }
        }
        if let Some(r) = p.annotation(ANNOTATION_REASON) {
            if !permit {
                forbid_reasons.insert(id.clone(), r.to_string());
            }
        }
    }

    let set =
        PolicySet::from_policies(by_id.into_values()).map_err(|e| parse_err(e.to_string()))?;
    let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
    if !result.validation_passed() {
        let mut errs: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
        errs.sort();
        return Err(parse_err(format!(
            "does not validate against the Tessera schema: {}",
            errs.join("; ")
        )));
    }
    Ok(Compiled {
        set,
        approvals,
        raw_digest_permits,
        forbid_reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_annotation() {
        let q = Quorum::parse_annotation("treasury-approver:2, risk:1").unwrap();
        assert_eq!(q.to_string(), "risk:1,treasury-approver:2");
        for bad in ["", "x", "x:0", ":1", "x:1,x:2", "x:-1", "x:y"] {
            assert!(Quorum::parse_annotation(bad).is_err(), "{bad:?}");
        }
        let mut a = Quorum::none().require("a", 1).require("b", 3);
        a.merge_strictest(
            &Quorum::none()
                .require("a", 2)
                .require("b", 1)
                .require("c", 1),
        );
        assert_eq!(a.to_string(), "a:2,b:3,c:1");
    }

    #[test]
    fn address_literals_must_be_lowercase() {
        assert!(
            check_address_literals(r#"["0x8617e340b3d01fa5f11f306f4090fd50e238070d"]"#).is_ok()
        );
        assert!(
            check_address_literals(r#"["0x8617E340B3D01FA5F11F306F4090FD50E238070D"]"#).is_err()
        );
        // A 32-byte hash is not an address.
        assert!(check_address_literals(&format!("\"0x{}\"", "AB".repeat(32))).is_ok());
    }
}

//! Policy bundles: a tenant's versioned policies, approver roles, admin set and velocity rules,
//! signed by a quorum of admins; and the rule by which a signer accepts a new one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::{hexarr, put_len, put_str, put_u64};
use crate::engine::Engine;
use crate::error::BundleError;
use crate::keys::{PublicKey, SecretKey};
use crate::request::check_id;
use crate::velocity::VelocityRule;

/// Domain tag at the start of [`PolicyBundle::canonical_bytes`].
pub const BUNDLE_DOMAIN: &str = "tessera/policy-bundle/v1";
/// Domain tag of what admins sign ([`SignedBundle::signing_bytes`]).
pub const BUNDLE_SIGNATURE_DOMAIN: &str = "tessera/policy-bundle-signature/v1";

/// Admins: `quorum` of `keys` must sign a bundle (k of m).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSet {
    /// Admin public keys.
    pub keys: BTreeSet<PublicKey>,
    /// Signatures needed, `1 ..= keys.len()`.
    pub quorum: u32,
}

impl AdminSet {
    /// An admin set; refused unless `1 <= quorum <= keys.len()`.
    pub fn new(
        keys: impl IntoIterator<Item = PublicKey>,
        quorum: u32,
    ) -> Result<Self, BundleError> {
        let set = AdminSet {
            keys: keys.into_iter().collect(),
            quorum,
        };
        set.check()?;
        Ok(set)
    }

    fn check(&self) -> Result<(), BundleError> {
        if self.quorum == 0 || self.quorum as usize > self.keys.len() {
            return Err(BundleError::InvalidBundle {
                reason: format!(
                    "admin quorum {} of {} keys is not satisfiable",
                    self.quorum,
                    self.keys.len()
                ),
            });
        }
        Ok(())
    }
}

/// A tenant's policy, as distributed to every signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBundle {
    /// Version; a signer only moves to a strictly greater one.
    pub version: u64,
    /// Tenant id.
    pub tenant: String,
    /// Cedar policies (every policy with an `@id`).
    pub policies: String,
    /// Approver roles: role → approver Ed25519 public keys.
    pub roles: BTreeMap<String, BTreeSet<PublicKey>>,
    /// Admins who sign the next version.
    pub admins: AdminSet,
    /// Velocity rules by id.
    #[serde(default)]
    pub velocity: BTreeMap<String, VelocityRule>,
    /// Creation time, unix seconds (signed with the bundle): a signer with a maximum policy age
    /// counts the bundle fresh from it until an admin-signed [`crate::Freshness`] renews it.
    pub created_at: u64,
    /// Signers under incident quarantine, by identity key (node id): the coordinator uses none
    /// of them and every signer refuses a session one of them takes part in, until a later
    /// bundle lifts it (`tessera incident quarantine`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub quarantined: BTreeSet<PublicKey>,
}

impl PolicyBundle {
    /// The canonical bytes (not JSON): every variable-length field carries a `u64` big-endian
    /// length, maps and sets are in sorted order, integers are fixed width:
    ///
    /// ```text
    /// str("tessera/policy-bundle/v1") || u64(version) || str(tenant) || str(policies)
    /// || u64(#roles) || ( str(role) || u64(#keys) || key(32)* )*
    /// || u64(#admins) || key(32)* || u64(admin quorum)
    /// || u64(#rules) || ( str(rule id) || opt_str(wallet) || str(asset) || u64(window_s)
    ///                     || (0x01 || str(amount) | 0x02 || u64(count)) )*
    /// || u64(created_at)
    /// [ || str("quarantined") || u64(#quarantined) || key(32)* ]   only when not empty
    /// opt_str = 0x00 | 0x01 || str
    /// ```
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.policies.len());
        put_str(&mut out, BUNDLE_DOMAIN);
        put_u64(&mut out, self.version);
        put_str(&mut out, &self.tenant);
        put_str(&mut out, &self.policies);
        put_len(&mut out, self.roles.len());
        for (role, keys) in &self.roles {
            put_str(&mut out, role);
            put_len(&mut out, keys.len());
            for k in keys {
                out.extend_from_slice(&k.0);
            }
        }
        put_len(&mut out, self.admins.keys.len());
        for k in &self.admins.keys {
            out.extend_from_slice(&k.0);
        }
        put_u64(&mut out, u64::from(self.admins.quorum));
        put_len(&mut out, self.velocity.len());
        for (id, rule) in &self.velocity {
            put_str(&mut out, id);
            rule.encode(&mut out);
        }
        put_u64(&mut out, self.created_at);
        // Absent when empty, so bundles made before quarantines existed keep their hash.
        if !self.quarantined.is_empty() {
            put_str(&mut out, "quarantined");
            put_len(&mut out, self.quarantined.len());
            for k in &self.quarantined {
                out.extend_from_slice(&k.0);
            }
        }
        out
    }

    /// Whether the signer with identity key `node` is under incident quarantine.
    pub fn is_quarantined(&self, node: &[u8; 32]) -> bool {
        self.quarantined.contains(&PublicKey(*node))
    }

    /// SHA-256 of [`canonical_bytes`](Self::canonical_bytes).
    pub fn bundle_hash(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_bytes()).into()
    }

    /// Structure outside the Cedar text: tenant, roles, admin set, velocity rules.
    pub(crate) fn check_structure(&self) -> Result<(), BundleError> {
        let invalid = |reason: String| BundleError::InvalidBundle { reason };
        check_id("tenant", &self.tenant).map_err(|e| invalid(e.to_string()))?;
        self.admins.check()?;
        for (role, keys) in &self.roles {
            check_id("role", role).map_err(|e| invalid(e.to_string()))?;
            if role.contains([',', ':']) {
                return Err(invalid(format!("role {role:?} may not contain ',' or ':'")));
            }
            if keys.is_empty() {
                return Err(invalid(format!("role {role:?} has no approver")));
            }
        }
        for (id, rule) in &self.velocity {
            rule.check(id).map_err(invalid)?;
        }
        Ok(())
    }
}

/// One admin's signature over a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSignature {
    /// The admin.
    pub admin: PublicKey,
    /// Ed25519 over [`SignedBundle::signing_bytes`].
    #[serde(with = "hexarr")]
    pub signature: [u8; 64],
}

/// A bundle with its admins' signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedBundle {
    /// The bundle.
    pub bundle: PolicyBundle,
    /// Admin signatures.
    pub admin_signatures: Vec<AdminSignature>,
}

impl SignedBundle {
    /// An unsigned bundle.
    pub fn new(bundle: PolicyBundle) -> Self {
        SignedBundle {
            bundle,
            admin_signatures: Vec::new(),
        }
    }

    /// What an admin signs: `str("tessera/policy-bundle-signature/v1") || bundle_hash(32)`.
    pub fn signing_bytes(bundle_hash: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(80);
        put_str(&mut out, BUNDLE_SIGNATURE_DOMAIN);
        out.extend_from_slice(bundle_hash);
        out
    }

    /// Adds (or replaces) `key`'s signature.
    pub fn sign(&mut self, key: &SecretKey) {
        let admin = key.public();
        let signature = key.sign(&Self::signing_bytes(&self.bundle.bundle_hash()));
        self.admin_signatures.retain(|s| s.admin != admin);
        self.admin_signatures
            .push(AdminSignature { admin, signature });
    }

    /// Checks, in order: every signature names a key in `trusted_admins`
    /// ([`BundleError::UnknownAdmin`]) and verifies over this bundle
    /// ([`BundleError::BadSignature`]); at least `max(min_quorum, 1)` distinct admins signed
    /// ([`BundleError::QuorumNotMet`]); the bundle's structure and Cedar text are valid
    /// ([`BundleError::InvalidBundle`], [`BundleError::PolicyParse`]). Signatures are checked
    /// in sorted order, so every node reports the same error.
    pub fn verify(
        &self,
        trusted_admins: &[PublicKey],
        min_quorum: usize,
    ) -> Result<(), BundleError> {
        self.verify_signatures(trusted_admins, min_quorum)?;
        Engine::compile(&self.bundle).map(|_| ())
    }

    fn verify_signatures(
        &self,
        trusted_admins: &[PublicKey],
        min_quorum: usize,
    ) -> Result<(), BundleError> {
        let msg = Self::signing_bytes(&self.bundle.bundle_hash());
        admin_quorum(trusted_admins, min_quorum, &msg, &self.admin_signatures).map_err(
            |f| match f {
                QuorumFault::UnknownAdmin(admin) => BundleError::UnknownAdmin { admin },
                QuorumFault::BadSignature(admin) => BundleError::BadSignature { admin },
                QuorumFault::NotMet { have, need } => BundleError::QuorumNotMet { have, need },
            },
        )
    }
}

impl AdminSet {
    /// [`admin_quorum`] over this set's keys and quorum.
    pub(crate) fn check_quorum(
        &self,
        msg: &[u8],
        sigs: &[AdminSignature],
    ) -> Result<(), QuorumFault> {
        let keys: Vec<PublicKey> = self.keys.iter().copied().collect();
        admin_quorum(&keys, self.quorum as usize, msg, sigs)
    }
}

/// Why admin signatures are not a quorum ([`admin_quorum`]).
pub(crate) enum QuorumFault {
    /// A signature names a key outside the trusted admins.
    UnknownAdmin(PublicKey),
    /// A signature does not verify.
    BadSignature(PublicKey),
    /// Too few distinct admins.
    NotMet { have: usize, need: usize },
}

/// Checks that `sigs` over `msg` come from at least `max(min_quorum, 1)` distinct keys of
/// `trusted`, every one of them valid. Signatures are checked in sorted order, so every node
/// reports the same fault.
pub(crate) fn admin_quorum(
    trusted: &[PublicKey],
    min_quorum: usize,
    msg: &[u8],
    sigs: &[AdminSignature],
) -> Result<(), QuorumFault> {
    let mut sorted: Vec<&AdminSignature> = sigs.iter().collect();
    sorted.sort_by_key(|a| (a.admin, a.signature));
    let mut signed = BTreeSet::new();
    for s in sorted {
        if !trusted.contains(&s.admin) {
            return Err(QuorumFault::UnknownAdmin(s.admin));
        }
        if !s.admin.verify(msg, &s.signature) {
            return Err(QuorumFault::BadSignature(s.admin));
        }
        signed.insert(s.admin);
    }
    let need = min_quorum.max(1);
    if signed.len() < need {
        return Err(QuorumFault::NotMet {
            have: signed.len(),
            need,
        });
    }
    Ok(())
}

/// Whether a signer moves from `current` to `candidate`, and the engine to use if so.
///
/// - The authority is the admin set of `current` (k of m), or `initial_admins` (configured at
///   signer init) for the first bundle: a bundle can never authorize itself.
/// - With a current bundle: same tenant ([`BundleError::TenantMismatch`]) and a strictly greater
///   version ([`BundleError::StaleVersion`]).
/// - Then [`SignedBundle::verify`] against that authority, which also refuses Cedar text that
///   does not parse or validate.
///
/// `current` is trusted as what this signer accepted before (its own storage).
pub fn accept_update(
    current: Option<&SignedBundle>,
    candidate: &SignedBundle,
    initial_admins: &AdminSet,
) -> Result<Engine, BundleError> {
    let authority = match current {
        Some(cur) => {
            if cur.bundle.tenant != candidate.bundle.tenant {
                return Err(BundleError::TenantMismatch {
                    current: cur.bundle.tenant.clone(),
                    candidate: candidate.bundle.tenant.clone(),
                });
            }
            if candidate.bundle.version <= cur.bundle.version {
                return Err(BundleError::StaleVersion {
                    current: cur.bundle.version,
                    candidate: candidate.bundle.version,
                });
            }
            &cur.bundle.admins
        }
        None => initial_admins,
    };
    authority.check()?;
    let trusted: Vec<PublicKey> = authority.keys.iter().copied().collect();
    candidate.verify_signatures(&trusted, authority.quorum as usize)?;
    Engine::from_signed(candidate.clone())
}

//! Import of a single-signature key at this signer: a [`Job::Keygen`] that carries the
//! importer's package. The authorization must be `Action::Import` for exactly this wallet,
//! scheme, threshold, roster and networks, naming the key the holders must end up with and the
//! package's digest; the signer opens the share sealed to it and completes it through
//! `tessera_crypto::reshare::import`. The rest (storage at epoch 0, attestation, audit) is
//! key generation's.
//!
//! [`Job::Keygen`]: tessera_proto::link::Job::Keygen

use std::collections::BTreeMap;

use tessera_crypto::reshare::import::ImportedShare;
use tessera_crypto::{
    scheme, AuxInfo, BoxSession, KeyShare, PublicKey, ReshareInput, ResharePlan, SchemeId,
    SessionId, ThresholdParams,
};
use tessera_proto::link::{Failure, FailureKind, Member};
use tessera_wire::{Action, Authorization, ImportPackage, ShareAddress};

use super::{crypto_failure, failure, Refusal, Signer};

/// What an accepted import authorization says the holders must end up with.
pub(super) struct Imported {
    pub public_key: PublicKey,
    pub chain_code: [u8; 32],
    pub package: ImportPackage,
    pub request_id: String,
}

/// The wallet an import authorization must describe.
pub(super) struct ImportTarget<'a> {
    pub wallet_id: &'a str,
    pub scheme: SchemeId,
    pub threshold: u16,
    pub roster: &'a [Member],
}

/// Checks `authz` is an `Action::Import` for exactly `target` and `package`; returns the
/// networks it binds and what the import must produce.
pub(super) fn check_import(
    target: &ImportTarget<'_>,
    authz: &Authorization,
    package: ImportPackage,
) -> Result<(Vec<String>, Imported), Refusal> {
    let unauthorized = |m: &str| Refusal::from(failure(FailureKind::Unauthorized, m));
    let Action::Import {
        networks,
        public_key,
        chain_code,
        package: digest,
        ..
    } = &authz.action
    else {
        return Err(unauthorized("not an import authorization"));
    };
    tessera_wire::check_networks(networks).map_err(|e| unauthorized(&format!("networks: {e}")))?;
    let expected = Action::Import {
        wallet_id: target.wallet_id.to_string(),
        scheme: target.scheme,
        threshold: target.threshold,
        signers: target.roster.iter().map(|m| m.identity.node_id()).collect(),
        networks: networks.clone(),
        public_key: public_key.clone(),
        chain_code: *chain_code,
        package: package.digest(),
    };
    if authz.action != expected {
        return Err(unauthorized(if *digest != package.digest() {
            "the import package is not the one the operator authorized"
        } else {
            "authorization is for a different import"
        }));
    }
    Ok((
        networks.clone(),
        Imported {
            public_key: public_key.clone(),
            chain_code: *chain_code,
            package,
            request_id: authz.request_id.clone(),
        },
    ))
}

impl Signer {
    /// The session that completes this signer's imported share: its sealed share opened, then
    /// the import's round and the scheme's completion (`tessera_crypto::reshare::import`).
    pub(super) fn import_session(
        &self,
        sid: SessionId,
        me: u16,
        params: ThresholdParams,
        wallet: (&str, SchemeId),
        aux: Option<AuxInfo>,
        imported: &Imported,
    ) -> Result<BoxSession<KeyShare>, Failure> {
        let (wallet_id, id) = wallet;
        let at = ShareAddress {
            wallet_id,
            request_id: &imported.request_id,
            index: me,
        };
        let share = imported
            .package
            .open(&self.inner.identity, &at)
            .map_err(|e| {
                failure(
                    FailureKind::Unauthorized,
                    &format!("this signer's imported share does not open: {e}"),
                )
            })?;
        let plan = ResharePlan {
            scheme: id,
            public_key: imported.public_key.clone(),
            chain_code: imported.chain_code,
            old_threshold: 0,
            dealers: BTreeMap::new(),
        };
        scheme(id)
            .reshare(ReshareInput {
                sid,
                me,
                params,
                plan,
                old_share: None,
                aux,
                import: Some(ImportedShare {
                    commitments: imported.package.commitment_bytes(),
                    share,
                }),
            })
            .map_err(crypto_failure)
    }
}

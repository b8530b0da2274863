//! The one way a signer and a coordinator turn a signing request into a [`PolicyRequest`], so
//! both evaluate exactly the same thing.
//!
//! - The principal is the requester's key (the key that signed the request's authorization),
//!   as lowercase hex; its tenant is the bundle's; its roles are every bundle role whose key set
//!   lists that key (`PolicyBundle::roles` maps roles to keys for requesters and approvers
//!   alike; a quorum only counts the roles it names).
//! - The action comes from what the evaluator computed itself ([`PolicyAction::for_payload`]):
//!   any raw digest makes it `sign_raw_digest`.
//! - A chain payload is evaluated on its intent, with the wallet's chain and network taken from
//!   the intent. A request without payload is evaluated on the wallet alone, with chain and
//!   network [`NO_CHAIN`].
//! - What the request counts (the max fee with the value, every call, allowance and authority
//!   change) and what it refuses (an asset without a contract that is not the native coin) is
//!   decided in [`crate::IntentFacts::from_intent`], so the request built here, the legs a
//!   signer records with [`crate::record_signed`] and the legs a coordinator records are the
//!   same: callers add nothing.

use tessera_chain::{Intent, SignMessage};

use crate::bundle::PolicyBundle;
use crate::error::RequestError;
use crate::keys::PublicKey;
use crate::mode::Mode;
use crate::request::{PolicyAction, PolicyRequest, Principal, WalletRef};

/// Chain and network of a wallet reference for a request without chain payload.
pub const NO_CHAIN: &str = "none";

/// The roles of `key` in `bundle` (sorted).
pub fn roles_of(bundle: &PolicyBundle, key: &PublicKey) -> Vec<String> {
    bundle
        .roles
        .iter()
        .filter(|(_, keys)| keys.contains(key))
        .map(|(role, _)| role.clone())
        .collect()
}

/// Builds the request to evaluate for signing `messages` with `wallet_id` on behalf of
/// `requester`, from the `intent` the evaluator parsed itself (if the request carries a chain
/// payload), at `now_unix` under `mode`.
pub fn signing_request(
    bundle: &PolicyBundle,
    requester: &PublicKey,
    wallet_id: &str,
    intent: Option<&Intent>,
    messages: &[SignMessage],
    now_unix: u64,
    mode: Mode,
) -> Result<PolicyRequest, RequestError> {
    let principal = Principal::new(
        &bundle.tenant,
        &requester.to_hex(),
        roles_of(bundle, requester),
    )?;
    let action = PolicyAction::for_payload(intent, messages);
    let req = match intent {
        Some(i) => PolicyRequest::for_intent(
            principal,
            action,
            WalletRef::new(wallet_id, &i.chain, &i.network)?,
            i,
            now_unix,
        )?,
        None => PolicyRequest::for_wallet(
            principal,
            action,
            WalletRef::new(wallet_id, NO_CHAIN, NO_CHAIN)?,
            now_unix,
        )?,
    };
    Ok(req.with_mode(mode))
}

/// Builds the request to evaluate for a key operation on wallet `wallet_id` that has no
/// intent: [`PolicyAction::CreateWallet`], [`PolicyAction::ReshareWallet`] or
/// [`PolicyAction::ImportWallet`].
pub fn wallet_key_request(
    bundle: &PolicyBundle,
    requester: &PublicKey,
    wallet_id: &str,
    action: PolicyAction,
    now_unix: u64,
    mode: Mode,
) -> Result<PolicyRequest, RequestError> {
    let principal = Principal::new(
        &bundle.tenant,
        &requester.to_hex(),
        roles_of(bundle, requester),
    )?;
    Ok(PolicyRequest::for_wallet(
        principal,
        action,
        WalletRef::new(wallet_id, NO_CHAIN, NO_CHAIN)?,
        now_unix,
    )?
    .with_mode(mode))
}

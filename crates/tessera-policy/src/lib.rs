//! Tessera's policy layer (layer 4): Cedar policy evaluation, signed and versioned policy
//! bundles, approval quorums and velocity limits.
//!
//! Pure: no IO and no clock (time is always a parameter), so every signer evaluating the same
//! bundle, request and ledger reaches a byte-identical [`Decision`].
//!
//! - [`PolicyRequest`]: principal (tenant, API key, roles), [`PolicyAction`], [`Resource`] and
//!   the facts of an [`tessera_chain::Intent`] ([`IntentFacts`]: value and max fee per asset,
//!   every call, allowance and authority change).
//! - [`Engine`]: a compiled [`PolicyBundle`]; [`Engine::evaluate`] returns [`Decision::Deny`],
//!   [`Decision::Allow`] or [`Decision::AllowWithApprovals`] with the [`Quorum`] needed. The
//!   Cedar schema is [`schema::SCHEMA`]; combining rules are in [`engine`]; the amount encoding
//!   in [`amount`].
//! - [`SignedBundle`] / [`accept_update`]: a signer accepts only a strictly newer bundle signed
//!   by a quorum of the current bundle's admins.
//! - [`Approval`] / [`check_quorum`]: approvers' signatures over (request, intent hash, policy
//!   version, decision, expiry).
//! - [`VelocityRule`] / [`VelocityLedger`]: per wallet and asset limits over rolling windows,
//!   against the signer's own ledger.
//!
//! - [`ModeChange`] / [`mode_in_force`]: admin-signed operating modes (normal, degraded,
//!   lockdown) that every evaluation takes into account.
//!
//! Templates for a trading-desk hot wallet and a treasury cold wallet are in the crate's
//! `templates/` folder.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod amount;
mod approval;
mod bundle;
mod codec;
mod context;
pub mod engine;
mod error;
mod facts;
pub mod freshness;
mod keys;
pub mod mode;
mod request;
pub mod schema;
pub mod signing;
pub mod templates;
mod velocity;

pub use amount::BaseUnits;
pub use approval::{check_quorum, Approval, ApprovalDecision, APPROVAL_DOMAIN};
pub use bundle::{
    accept_update, AdminSet, AdminSignature, PolicyBundle, SignedBundle, BUNDLE_DOMAIN,
    BUNDLE_SIGNATURE_DOMAIN,
};
pub use engine::{Decision, DenyReason, Engine, Quorum, CONTEXT_WINDOWS_S};
pub use error::{ApprovalError, BundleError, KeyError, LedgerError, RequestError};
pub use facts::{native_coin, AllowanceFacts, AssetLeg, AuthorityFacts, CallFacts, IntentFacts};
pub use freshness::{accept_freshness, fresh_since, Freshness, FreshnessError, FRESHNESS_DOMAIN};
pub use keys::{PublicKey, SecretKey};
pub use mode::{accept_mode, mode_in_force, Mode, ModeChange, ModeError, MAX_MODE_S, MODE_DOMAIN};
pub use request::{
    normalize_address, AssetKey, PolicyAction, PolicyRequest, Principal, Resource, WalletRef,
};
pub use signing::{roles_of, signing_request, wallet_key_request, NO_CHAIN};
pub use velocity::{
    record_signed, MemoryLedger, VelocityLedger, VelocityLimit, VelocityMetric, VelocityRule,
    WindowTotals, MAX_WINDOW_S,
};

//! The facts about an [`Intent`] that policies see ([`IntentFacts`]), recomputed by each signer
//! from the raw payload. Signers and the coordinator build them through the same
//! [`IntentFacts::from_intent`], so what one evaluates, records in velocity and shows approvers
//! is what the others do.
//!
//! - **Value and fee, per asset** ([`AssetLeg`]): every transfer (from the wallet, or from
//!   another account under an allowance the wallet holds) plus, on the fee's asset, the **max
//!   fee**. Per-request tiers (`context.amount`) and velocity count that total, so a small
//!   transfer cannot hide a large fee. Change outputs (value returning to the wallet) count
//!   nowhere.
//! - **Every call** ([`CallFacts`]), **allowance** ([`AllowanceFacts`]) and **authority
//!   change** ([`AuthorityFacts`]) of the intent, and a lower bound of its operations.
//! - **Native means native**: an asset without a contract is the chain's native coin only if
//!   its symbol and decimals are that coin's ([`native_coin`]); anything else is refused with
//!   [`RequestError::NotNativeAsset`], so an adapter that could not resolve a token never turns
//!   it into a small amount of the native coin.

use std::collections::{BTreeMap, BTreeSet};

use tessera_chain::{Asset, Intent, IntentKind};

use crate::amount::BaseUnits;
use crate::error::RequestError;
use crate::request::{normalize_address, AssetKey};

/// Longest asset symbol an error message repeats.
const MAX_SYMBOL_IN_ERROR: usize = 32;

/// The native coin of `chain`/`network` for the chains Tessera has adapters for: its symbol
/// and decimals (`bitcoin`: BTC/8, `solana`: SOL/9, `ethereum`: ETH/18, POL/18 on `polygon`).
/// `None` for any other chain, whose contract-less assets are then refused.
pub fn native_coin(chain: &str, network: &str) -> Option<(&'static str, u8)> {
    match (chain, network) {
        ("bitcoin", _) => Some(("BTC", 8)),
        ("solana", _) => Some(("SOL", 9)),
        ("ethereum", "polygon") => Some(("POL", 18)),
        ("ethereum", _) => Some(("ETH", 18)),
        _ => None,
    }
}

/// What an intent moves of one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetLeg {
    /// The asset.
    pub asset: AssetKey,
    /// Its ticker (`?` or empty when unknown).
    pub symbol: String,
    /// Its decimals, when known.
    pub decimals: Option<u8>,
    /// The most the request moves of this asset, base units: its transfers plus, on the fee's
    /// asset, the max fee. Tiers (`context.amount`) and velocity count this.
    pub total: BaseUnits,
    /// The transfers alone, without the fee (`context.value`).
    pub value: BaseUnits,
}

impl AssetLeg {
    /// A leg of `asset` that moves nothing.
    pub fn empty(asset: AssetKey, symbol: String, decimals: Option<u8>) -> Self {
        AssetLeg {
            asset,
            symbol,
            decimals,
            total: BaseUnits::zero(),
            value: BaseUnits::zero(),
        }
    }

    fn add_value(&mut self, v: &BaseUnits) {
        self.value = self.value.add(v);
        self.total = self.total.add(v);
    }

    fn add_fee(&mut self, fee: &BaseUnits) {
        self.total = self.total.add(fee);
    }
}

/// One contract or program call of an intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFacts {
    /// Contract / program (EVM: lowercase).
    pub contract: String,
    /// Method signature, or `unknown`.
    pub method: String,
    /// Selector / instruction tag, lowercase hex without `0x`.
    pub selector: String,
}

/// An allowance the intent grants (or, with an amount of zero, revokes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowanceFacts {
    /// Who may spend (EVM: lowercase).
    pub spender: String,
    /// What they may spend.
    pub asset: AssetKey,
    /// Its ticker.
    pub symbol: String,
    /// Its decimals, when known.
    pub decimals: Option<u8>,
    /// How much, base units; `None`: unlimited.
    pub amount: Option<BaseUnits>,
    /// Unix time the allowance ends, when the payload sets one.
    pub expires_at: Option<u64>,
    /// The mechanism (`approve`, `permit`, `permit2`, `set_approval_for_all`, …).
    pub via: String,
}

/// Control over an account, contract or mint that the intent hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityFacts {
    /// The account whose control changes (EVM: lowercase).
    pub account: String,
    /// Which authority (`account_owner`, `contract_owner`, …).
    pub authority: String,
    /// The new holder (EVM: lowercase); `None` when the authority is removed.
    pub new_authority: Option<String>,
}

/// The facts about an [`Intent`] that policies see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentFacts {
    kind: &'static str,
    legs: Vec<AssetLeg>,
    destinations: BTreeSet<String>,
    calls: Vec<CallFacts>,
    allowances: Vec<AllowanceFacts>,
    authorities: Vec<AuthorityFacts>,
    operations: u64,
    moves_others_funds: bool,
    risk_flags: BTreeSet<String>,
    fee: Option<AssetLeg>,
}

impl IntentFacts {
    /// Derives the facts of `intent`:
    ///
    /// - one [`AssetLeg`] per distinct asset among the transfers and the fee (sorted by asset):
    ///   the transfers' total plus, on the fee's asset, the max fee; an intent that moves
    ///   nothing and has no fee gets a single zero leg of the chain's native coin (so that
    ///   per-request rules still apply to it);
    /// - destinations: the recipients of every transfer (EVM addresses lowercase);
    /// - every call, allowance and authority change, the operations
    ///   ([`IntentFacts::operations`]), whether funds of another account move, the risk flags
    ///   and the fee bound.
    ///
    /// Refuses an asset without a contract that is not the chain's native coin
    /// ([`RequestError::NotNativeAsset`]) and two different decimals for one asset
    /// ([`RequestError::InconsistentAsset`]).
    pub fn from_intent(intent: &Intent) -> Result<Self, RequestError> {
        let mut legs: BTreeMap<AssetKey, AssetLeg> = BTreeMap::new();
        let mut destinations = BTreeSet::new();
        for (n, t) in intent.transfers.iter().enumerate() {
            let key = asset_key(intent, || format!("transfers[{n}].asset"), &t.asset)?;
            destinations.insert(normalize_address(&t.to));
            leg_of(&mut legs, key, &t.asset)?.add_value(&BaseUnits::from_amount(&t.amount));
        }
        let fee = match &intent.fee {
            None => None,
            Some(f) => {
                let key = asset_key(intent, || "fee.asset".into(), &f.asset)?;
                let max = BaseUnits::from_amount(&f.max);
                leg_of(&mut legs, key.clone(), &f.asset)?.add_fee(&max);
                let mut alone = AssetLeg::empty(key, f.asset.symbol.clone(), f.asset.decimals);
                alone.add_fee(&max);
                Some(alone)
            }
        };
        let mut legs: Vec<AssetLeg> = legs.into_values().collect();
        if legs.is_empty() {
            let native = AssetKey::native(&intent.chain, &intent.network)?;
            legs.push(AssetLeg::empty(native, String::new(), None));
        }
        let source = normalize_address(&intent.source);
        Ok(IntentFacts {
            kind: kind_name(intent.kind),
            legs,
            destinations,
            calls: intent.calls.iter().map(call_facts).collect(),
            allowances: allowances(intent)?,
            authorities: intent.authorities.iter().map(authority_facts).collect(),
            operations: operations(intent),
            moves_others_funds: intent.transfers.iter().any(|t| {
                t.from
                    .as_deref()
                    .is_some_and(|f| normalize_address(f) != source)
            }),
            risk_flags: intent.risk_flags.iter().map(|f| f.name()).collect(),
            fee,
        })
    }

    /// `transfer`, `contract_call`, `contract_creation` or `sign_message`.
    pub fn kind(&self) -> &str {
        self.kind
    }

    /// One leg per asset, sorted by asset; never empty.
    pub fn legs(&self) -> &[AssetLeg] {
        &self.legs
    }

    /// Destinations, sorted.
    pub fn destinations(&self) -> &BTreeSet<String> {
        &self.destinations
    }

    /// The first call, if any (what `context.call` shows).
    pub fn call(&self) -> Option<&CallFacts> {
        self.calls.first()
    }

    /// Every call, in the intent's order.
    pub fn calls(&self) -> &[CallFacts] {
        &self.calls
    }

    /// Every allowance granted or revoked, in the intent's order.
    pub fn allowances(&self) -> &[AllowanceFacts] {
        &self.allowances
    }

    /// Whether any allowance is unlimited.
    pub fn grants_unlimited_allowance(&self) -> bool {
        self.allowances.iter().any(|a| a.amount.is_none())
    }

    /// Every authority change, in the intent's order.
    pub fn authorities(&self) -> &[AuthorityFacts] {
        &self.authorities
    }

    /// A lower bound of the operations the payload makes: its calls, or its transfers,
    /// allowances and authority changes together if there are more of those (a call may carry
    /// one of them); at least 1 for a transaction.
    pub fn operations(&self) -> u64 {
        self.operations
    }

    /// Whether a transfer moves funds of an account other than the wallet (`transferFrom`).
    pub fn moves_others_funds(&self) -> bool {
        self.moves_others_funds
    }

    /// Risk flag names, sorted.
    pub fn risk_flags(&self) -> &BTreeSet<String> {
        &self.risk_flags
    }

    /// The fee bound alone (`total`: the max fee), if any.
    pub fn fee(&self) -> Option<&AssetLeg> {
        self.fee.as_ref()
    }

    /// The max fee as a share of the value the intent moves of the fee's asset, in basis
    /// points rounded up; `None` when there is no fee or the intent moves none of its asset
    /// (a token transfer paying gas in the native coin).
    pub fn fee_share_bps(&self) -> Option<i64> {
        let fee = self.fee.as_ref()?;
        let leg = self.legs.iter().find(|l| l.asset == fee.asset)?;
        fee.total.share_bps_ceil(&leg.value)
    }

    /// Whether any leg exceeds `i64::MAX` base units.
    pub fn amount_exceeds_i64(&self) -> bool {
        self.legs.iter().any(|l| l.total.to_i64_saturating().1)
    }
}

/// The key of `asset` on the intent's chain; an asset without a contract must be the chain's
/// native coin (`field` names it in the error).
fn asset_key(
    intent: &Intent,
    field: impl FnOnce() -> String,
    asset: &Asset,
) -> Result<AssetKey, RequestError> {
    if let Some(c) = &asset.contract {
        return AssetKey::token(&intent.chain, &intent.network, c);
    }
    let native = native_coin(&intent.chain, &intent.network).is_some_and(|(symbol, decimals)| {
        asset.symbol == symbol && asset.decimals == Some(decimals)
    });
    if !native {
        return Err(RequestError::NotNativeAsset {
            field: field(),
            chain: format!("{}/{}", intent.chain, intent.network),
            symbol: asset.symbol.chars().take(MAX_SYMBOL_IN_ERROR).collect(),
            decimals: asset.decimals,
        });
    }
    AssetKey::native(&intent.chain, &intent.network)
}

/// The leg of `key` (created empty if new); its decimals must agree with `asset`'s.
fn leg_of<'a>(
    legs: &'a mut BTreeMap<AssetKey, AssetLeg>,
    key: AssetKey,
    asset: &Asset,
) -> Result<&'a mut AssetLeg, RequestError> {
    let name = key.to_string();
    let leg = legs
        .entry(key.clone())
        .or_insert_with(|| AssetLeg::empty(key, asset.symbol.clone(), asset.decimals));
    if leg.decimals != asset.decimals {
        return Err(RequestError::InconsistentAsset { asset: name });
    }
    Ok(leg)
}

fn allowances(intent: &Intent) -> Result<Vec<AllowanceFacts>, RequestError> {
    let mut out = Vec::with_capacity(intent.allowances.len());
    for (n, a) in intent.allowances.iter().enumerate() {
        out.push(AllowanceFacts {
            spender: normalize_address(&a.spender),
            asset: asset_key(intent, || format!("allowances[{n}].asset"), &a.asset)?,
            symbol: a.asset.symbol.clone(),
            decimals: a.asset.decimals,
            amount: a.amount.as_ref().map(BaseUnits::from_amount),
            expires_at: a.expires_at,
            via: a.via.clone(),
        });
    }
    Ok(out)
}

fn call_facts(c: &tessera_chain::ContractCall) -> CallFacts {
    CallFacts {
        contract: normalize_address(&c.contract),
        method: c.method.clone(),
        selector: normalize_selector(&c.selector),
    }
}

fn authority_facts(a: &tessera_chain::AuthorityChange) -> AuthorityFacts {
    AuthorityFacts {
        account: normalize_address(&a.account),
        authority: a.authority.clone(),
        new_authority: a.new_authority.as_deref().map(normalize_address),
    }
}

/// See [`IntentFacts::operations`].
fn operations(intent: &Intent) -> u64 {
    let effects = intent.transfers.len() + intent.allowances.len() + intent.authorities.len();
    let floor = usize::from(intent.kind != IntentKind::SignMessage);
    let n = intent.calls.len().max(effects).max(floor);
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A call selector / instruction tag as lowercase hex without `0x`.
fn normalize_selector(s: &str) -> String {
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    s.to_ascii_lowercase()
}

fn kind_name(k: IntentKind) -> &'static str {
    match k {
        IntentKind::Transfer => "transfer",
        IntentKind::ContractCall => "contract_call",
        IntentKind::ContractCreation => "contract_creation",
        IntentKind::SignMessage => "sign_message",
    }
}

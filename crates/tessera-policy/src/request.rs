//! What the engine evaluates: who asks ([`Principal`]), to do what ([`PolicyAction`]), on what
//! ([`Resource`]), with which facts recomputed from the [`Intent`] ([`IntentFacts`]).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use tessera_chain::{Intent, IntentKind, SignMessage};

use crate::error::RequestError;
use crate::facts::{AssetLeg, IntentFacts};
use crate::mode::Mode;

/// Longest identifier (tenant, API key, role, wallet, chain, network) accepted.
const MAX_ID_LEN: usize = 256;

/// Checks an identifier: non-empty, at most 256 bytes, no control characters.
pub(crate) fn check_id(field: &'static str, value: &str) -> Result<(), RequestError> {
    if value.is_empty() || value.len() > MAX_ID_LEN || value.chars().any(char::is_control) {
        return Err(RequestError::InvalidField {
            field,
            value: value.chars().take(MAX_ID_LEN).collect(),
        });
    }
    Ok(())
}

/// EVM addresses (`0x` + 40 hex digits) are case-insensitive: the checksum case of EIP-55 is
/// dropped so that policies compare them as lowercase text. Every other address form (bech32,
/// base58) is case-sensitive or canonical already and is kept as is.
pub fn normalize_address(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() == 42
        && (s.starts_with("0x") || s.starts_with("0X"))
        && b[2..].iter().all(u8::is_ascii_hexdigit)
    {
        s.to_ascii_lowercase()
    } else {
        s.to_string()
    }
}

/// Who asks: an API key of a tenant, optionally with the roles of the requester (Cedar:
/// `Tessera::ApiKey::"<api_key>"`, member of `Tessera::Tenant::"<tenant>"` and of
/// `Tessera::Role::"<role>"` for each role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    tenant: String,
    api_key: String,
    roles: BTreeSet<String>,
}

impl Principal {
    /// A principal; identifiers are non-empty, at most 256 bytes, without control characters.
    pub fn new(
        tenant: &str,
        api_key: &str,
        roles: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, RequestError> {
        check_id("tenant", tenant)?;
        check_id("api_key", api_key)?;
        let roles: BTreeSet<String> = roles.into_iter().map(Into::into).collect();
        for r in &roles {
            check_id("role", r)?;
        }
        Ok(Principal {
            tenant: tenant.to_string(),
            api_key: api_key.to_string(),
            roles,
        })
    }

    /// Tenant id.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// API key id.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Roles of the requester, sorted.
    pub fn roles(&self) -> &BTreeSet<String> {
        &self.roles
    }
}

/// What is asked (Cedar: `Tessera::Action::"<name>"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyAction {
    /// Sign a chain transaction.
    SignTransaction,
    /// Sign EIP-712 typed data.
    SignTypedData,
    /// Sign an off-chain message (`personal_sign`, raw Ed25519 message bytes).
    SignMessage,
    /// DANGEROUS: sign a 32-byte digest whose preimage the signers never see. Denied unless a
    /// permit names this action explicitly and carries `@allow_raw_digest("true")`.
    SignRawDigest,
    /// Change the tenant's policy bundle (resource: the tenant).
    ChangePolicy,
    /// Create a wallet.
    CreateWallet,
    /// Give a wallet's key new shares: a refresh, a replaced signer or a new threshold and
    /// signer set (the key and its addresses stay the same).
    ReshareWallet,
    /// Create a wallet from an existing single-signature key (`tessera import`).
    ImportWallet,
    /// Retire a wallet: its holders take part in nothing for it any more.
    RetireWallet,
}

impl PolicyAction {
    /// Every action, in schema order.
    pub const ALL: [PolicyAction; 9] = [
        PolicyAction::SignTransaction,
        PolicyAction::SignTypedData,
        PolicyAction::SignMessage,
        PolicyAction::SignRawDigest,
        PolicyAction::ChangePolicy,
        PolicyAction::CreateWallet,
        PolicyAction::ReshareWallet,
        PolicyAction::ImportWallet,
        PolicyAction::RetireWallet,
    ];

    /// The Cedar action id.
    pub fn name(self) -> &'static str {
        match self {
            PolicyAction::SignTransaction => "sign_transaction",
            PolicyAction::SignTypedData => "sign_typed_data",
            PolicyAction::SignMessage => "sign_message",
            PolicyAction::SignRawDigest => "sign_raw_digest",
            PolicyAction::ChangePolicy => "change_policy",
            PolicyAction::CreateWallet => "create_wallet",
            PolicyAction::ReshareWallet => "reshare_wallet",
            PolicyAction::ImportWallet => "import_wallet",
            PolicyAction::RetireWallet => "retire_wallet",
        }
    }

    /// The action a signer must evaluate for a payload, derived from what it recomputed itself
    /// (never from what a coordinator claims): any raw digest among the messages makes the whole
    /// request [`PolicyAction::SignRawDigest`]; otherwise an intent of kind `sign_message` is
    /// [`PolicyAction::SignTypedData`] for EIP-712 and [`PolicyAction::SignMessage`] otherwise;
    /// every other intent is [`PolicyAction::SignTransaction`]; no intent at all is
    /// [`PolicyAction::SignMessage`].
    pub fn for_payload(intent: Option<&Intent>, messages: &[SignMessage]) -> PolicyAction {
        if messages
            .iter()
            .any(|m| matches!(m, SignMessage::RawDigest(_)))
        {
            return PolicyAction::SignRawDigest;
        }
        match intent {
            None => PolicyAction::SignMessage,
            Some(i) => match i.kind {
                IntentKind::SignMessage => match &i.message {
                    Some(m) if m.standard == "eip712" => PolicyAction::SignTypedData,
                    _ => PolicyAction::SignMessage,
                },
                IntentKind::Transfer | IntentKind::ContractCall | IntentKind::ContractCreation => {
                    PolicyAction::SignTransaction
                }
            },
        }
    }

    fn takes_wallet(self) -> bool {
        !matches!(self, PolicyAction::ChangePolicy)
    }
}

impl fmt::Display for PolicyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A wallet (Cedar: `Tessera::Wallet::"<id>"`, member of its tenant, with attributes `id`,
/// `tenant`, `chain`, `network`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletRef {
    id: String,
    chain: String,
    network: String,
}

impl WalletRef {
    /// A wallet reference; identifiers as for [`Principal::new`].
    pub fn new(id: &str, chain: &str, network: &str) -> Result<Self, RequestError> {
        check_id("wallet", id)?;
        // Chain and network must also form an asset id (no `:`).
        AssetKey::native(chain, network)?;
        Ok(WalletRef {
            id: id.to_string(),
            chain: chain.to_string(),
            network: network.to_string(),
        })
    }

    /// Wallet id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Chain adapter id.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// Network.
    pub fn network(&self) -> &str {
        &self.network
    }
}

/// What a request acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A wallet (every action but `change_policy`).
    Wallet(WalletRef),
    /// The principal's tenant (`change_policy`; Cedar: `Tessera::Tenant::"<tenant>"`).
    Tenant,
}

/// An asset on a network: the native coin or a token contract / mint. Text form (also its
/// serde form and its Cedar `context.asset.id`): `chain:network:native` or
/// `chain:network:<contract>`, EVM contract addresses in lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetKey {
    chain: String,
    network: String,
    contract: Option<String>,
}

impl AssetKey {
    /// The native coin of `chain`/`network`.
    pub fn native(chain: &str, network: &str) -> Result<Self, RequestError> {
        Self::new(chain, network, None)
    }

    /// A token (contract address or mint), normalized with [`normalize_address`].
    pub fn token(chain: &str, network: &str, contract: &str) -> Result<Self, RequestError> {
        Self::new(chain, network, Some(contract))
    }

    fn new(chain: &str, network: &str, contract: Option<&str>) -> Result<Self, RequestError> {
        check_id("chain", chain)?;
        check_id("network", network)?;
        for (field, v) in [("chain", chain), ("network", network)] {
            if v.contains(':') {
                return Err(RequestError::InvalidField {
                    field,
                    value: v.to_string(),
                });
            }
        }
        let contract = match contract {
            None => None,
            Some(c) => {
                check_id("contract", c)?;
                if c == "native" {
                    return Err(RequestError::InvalidField {
                        field: "contract",
                        value: c.to_string(),
                    });
                }
                Some(normalize_address(c))
            }
        };
        Ok(AssetKey {
            chain: chain.to_string(),
            network: network.to_string(),
            contract,
        })
    }

    /// Chain.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// Network.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// Token contract / mint; `None` for the native coin.
    pub fn contract(&self) -> Option<&str> {
        self.contract.as_deref()
    }
}

impl fmt::Display for AssetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.chain,
            self.network,
            self.contract.as_deref().unwrap_or("native")
        )
    }
}

impl FromStr for AssetKey {
    type Err = RequestError;

    fn from_str(s: &str) -> Result<Self, RequestError> {
        let mut it = s.splitn(3, ':');
        let (Some(chain), Some(network), Some(rest)) = (it.next(), it.next(), it.next()) else {
            return Err(RequestError::InvalidField {
                field: "asset",
                value: s.to_string(),
            });
        };
        let key = if rest == "native" {
            AssetKey::native(chain, network)?
        } else {
            AssetKey::token(chain, network, rest)?
        };
        // Only the canonical text form is accepted (e.g. EVM addresses in lowercase).
        if key.to_string() != s {
            return Err(RequestError::InvalidField {
                field: "asset",
                value: s.to_string(),
            });
        }
        Ok(key)
    }
}

impl serde::Serialize for AssetKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for AssetKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One request to evaluate. Built only through the constructors, which keep the action, the
/// resource and the intent consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRequest {
    principal: Principal,
    action: PolicyAction,
    resource: Resource,
    facts: Option<IntentFacts>,
    now_unix: u64,
    mode: Mode,
}

impl PolicyRequest {
    /// A request about a payload the signer parsed into `intent`. The intent's chain and network
    /// must be the wallet's ([`RequestError::ChainMismatch`]); `action` must act on a wallet
    /// (not `change_policy`). Use [`PolicyAction::for_payload`] to derive `action`.
    pub fn for_intent(
        principal: Principal,
        action: PolicyAction,
        wallet: WalletRef,
        intent: &Intent,
        now_unix: u64,
    ) -> Result<Self, RequestError> {
        if !action.takes_wallet() {
            return Err(RequestError::InvalidField {
                field: "action",
                value: action.name().to_string(),
            });
        }
        if intent.chain != wallet.chain || intent.network != wallet.network {
            return Err(RequestError::ChainMismatch {
                wallet: format!("{}/{}", wallet.chain, wallet.network),
                intent: format!("{}/{}", intent.chain, intent.network),
            });
        }
        Ok(PolicyRequest {
            principal,
            action,
            resource: Resource::Wallet(wallet),
            facts: Some(IntentFacts::from_intent(intent)?),
            now_unix,
            mode: Mode::Normal,
        })
    }

    /// A request about a wallet without an intent (`create_wallet`, or a raw digest with no
    /// parsable payload). Context: kind `none`, a zero native leg, no destinations, no call.
    pub fn for_wallet(
        principal: Principal,
        action: PolicyAction,
        wallet: WalletRef,
        now_unix: u64,
    ) -> Result<Self, RequestError> {
        if !action.takes_wallet() {
            return Err(RequestError::InvalidField {
                field: "action",
                value: action.name().to_string(),
            });
        }
        Ok(PolicyRequest {
            principal,
            action,
            resource: Resource::Wallet(wallet),
            facts: None,
            now_unix,
            mode: Mode::Normal,
        })
    }

    /// A `change_policy` request on the principal's tenant.
    pub fn change_policy(principal: Principal, now_unix: u64) -> Self {
        PolicyRequest {
            principal,
            action: PolicyAction::ChangePolicy,
            resource: Resource::Tenant,
            facts: None,
            now_unix,
            mode: Mode::Normal,
        }
    }

    /// The same request under operating mode `mode` (the default is `normal`).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The operating mode the request is evaluated under.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Principal.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Action.
    pub fn action(&self) -> PolicyAction {
        self.action
    }

    /// Resource.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Facts of the intent, if the request has one.
    pub fn facts(&self) -> Option<&IntentFacts> {
        self.facts.as_ref()
    }

    /// The evaluation time, unix seconds.
    pub fn now_unix(&self) -> u64 {
        self.now_unix
    }

    /// The legs the engine evaluates (and a signer records after signing): the intent's legs
    /// (transfers plus, on the fee's asset, the max fee; see [`IntentFacts::from_intent`]),
    /// or for a wallet request without an intent a single zero leg of the wallet's native coin,
    /// or none for `change_policy`.
    pub fn legs(&self) -> Vec<AssetLeg> {
        match (&self.facts, &self.resource) {
            (Some(f), _) => f.legs().to_vec(),
            (None, Resource::Wallet(w)) => AssetKey::native(&w.chain, &w.network)
                .map(|asset| vec![AssetLeg::empty(asset, String::new(), None)])
                .unwrap_or_default(),
            (None, Resource::Tenant) => Vec::new(),
        }
    }
}

//! Shared fixtures: keys, bundles, intents, requests.

use std::collections::{BTreeMap, BTreeSet};

use tessera_chain::{
    Allowance, Amount, Asset, ContractCall, Fee, Intent, IntentKind, MessagePreview, RiskFlag,
    Transfer,
};
use tessera_policy::*;

pub const TENANT: &str = "acme";
pub const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z, a Thursday
pub const WALLET_SOURCE: &str = "0x52908400098527886E0F7030069857D2E4169EE7";
/// Allow-listed in the cold template (EIP-55 case, as adapters emit it).
pub const ALLOWED_DEST: &str = "0x8617E340B3D01FA5F11F306F4090FD50E238070D";
pub const OTHER_DEST: &str = "0x1111111111111111111111111111111111111111";
pub const USDC: &str = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";
pub const UNKNOWN_TOKEN: &str = "0x2222222222222222222222222222222222222222";
pub const ETH: u128 = 1_000_000_000_000_000_000;
pub const USDC_UNIT: u128 = 1_000_000;
/// The max fee of every fixture transaction: 21,000 gas × 20 gwei.
pub const FEE: u128 = 420_000_000_000_000;

pub fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

pub fn pk(n: u8) -> PublicKey {
    key(n).public()
}

/// Admin keys 1..=3, quorum 2.
pub fn admins() -> AdminSet {
    AdminSet::new([pk(1), pk(2), pk(3)], 2).unwrap()
}

/// Roles: desk-approver {10, 11}; treasury-approver {20, 21, 22, 23}; risk {20, 30}.
pub fn roles() -> BTreeMap<String, BTreeSet<PublicKey>> {
    BTreeMap::from([
        (
            "desk-approver".to_string(),
            BTreeSet::from([pk(10), pk(11)]),
        ),
        (
            "treasury-approver".to_string(),
            BTreeSet::from([pk(20), pk(21), pk(22), pk(23)]),
        ),
        ("risk".to_string(), BTreeSet::from([pk(20), pk(30)])),
    ])
}

pub fn bundle(version: u64, policies: &str) -> PolicyBundle {
    PolicyBundle {
        version,
        tenant: TENANT.into(),
        policies: policies.into(),
        roles: roles(),
        admins: admins(),
        velocity: BTreeMap::new(),
        created_at: NOW - 100,
        quarantined: Default::default(),
    }
}

pub fn signed(b: PolicyBundle, signers: &[u8]) -> SignedBundle {
    let mut s = SignedBundle::new(b);
    for n in signers {
        s.sign(&key(*n));
    }
    s
}

pub fn engine(policies: &str) -> Engine {
    Engine::compile(&bundle(1, policies)).unwrap()
}

pub const HOT: &str = include_str!("../../templates/trading-desk-hot.cedar");
pub const HOT_VELOCITY: &str = include_str!("../../templates/trading-desk-hot.velocity.json");
pub const COLD: &str = include_str!("../../templates/treasury-cold.cedar");

pub fn hot_bundle() -> PolicyBundle {
    let mut b = bundle(1, HOT);
    b.velocity = serde_json::from_str(HOT_VELOCITY).unwrap();
    b
}

pub fn cold_bundle() -> PolicyBundle {
    bundle(1, COLD)
}

pub fn eth() -> Asset {
    Asset::native("ETH", 18)
}

pub fn usdc() -> Asset {
    Asset {
        symbol: "USDC".into(),
        decimals: Some(6),
        contract: Some(USDC.into()),
    }
}

fn base(kind: IntentKind) -> Intent {
    let mut i = Intent::new("ethereum", "mainnet", kind, WALLET_SOURCE.into());
    i.chain_id = Some(1);
    i.nonce = Some("7".into());
    i.fee = Some(Fee {
        asset: eth(),
        max: Amount::from_u128(FEE),
        detail: "21000 gas × 20 gwei".into(),
    });
    i
}

pub fn eth_transfer(to: &str, wei: u128) -> Intent {
    let mut i = base(IntentKind::Transfer);
    i.transfers.push(Transfer {
        from: None,
        to: to.into(),
        asset: eth(),
        amount: Amount::from_u128(wei),
    });
    i
}

pub fn token_transfer(token: Asset, to: &str, amount: Amount) -> Intent {
    let mut i = base(IntentKind::Transfer);
    let contract = token.contract.clone().unwrap();
    if token.decimals.is_none() {
        i.flag(RiskFlag::UnknownToken);
    }
    i.transfers.push(Transfer {
        from: None,
        to: to.into(),
        asset: token,
        amount,
    });
    i.calls.push(ContractCall {
        contract,
        method: "transfer(address,uint256)".into(),
        selector: "a9059cbb".into(),
        args: vec![],
    });
    i
}

pub fn usdc_transfer(to: &str, units: u128) -> Intent {
    token_transfer(usdc(), to, Amount::from_u128(units))
}

/// An ERC-20 `approve` to [`OTHER_DEST`] of 1,000 USDC, or of every token (flagged).
pub fn approve(unlimited: bool) -> Intent {
    let mut i = base(IntentKind::ContractCall);
    i.flag(RiskFlag::GrantsAuthority);
    if unlimited {
        i.flag(RiskFlag::UnlimitedApproval);
    }
    i.allowances.push(Allowance {
        spender: OTHER_DEST.into(),
        asset: usdc(),
        amount: (!unlimited).then(|| Amount::from_u128(1_000 * USDC_UNIT)),
        expires_at: None,
        via: "approve".into(),
    });
    i.calls.push(ContractCall {
        contract: USDC.into(),
        method: "approve(address,uint256)".into(),
        selector: "095ea7b3".into(),
        args: vec![],
    });
    i
}

pub fn unknown_selector(to: &str) -> Intent {
    let mut i = base(IntentKind::ContractCall);
    i.flag(RiskFlag::UnknownSelector);
    i.calls.push(ContractCall {
        contract: to.into(),
        method: "unknown".into(),
        selector: "DEADBEEF".into(),
        args: vec![],
    });
    i
}

pub const TRADER: &[&str] = &["trader"];
pub const OPERATOR: &[&str] = &["treasury-operator"];

pub fn typed_data() -> Intent {
    let mut i = Intent::new(
        "ethereum",
        "mainnet",
        IntentKind::SignMessage,
        WALLET_SOURCE.into(),
    );
    i.message = Some(MessagePreview {
        standard: "eip712".into(),
        summary: "Order".into(),
        content: "{}".into(),
    });
    i
}

pub fn principal(roles: &[&str]) -> Principal {
    Principal::new(TENANT, "key-1", roles.iter().copied()).unwrap()
}

pub fn wallet() -> WalletRef {
    WalletRef::new("wallet-1", "ethereum", "mainnet").unwrap()
}

pub fn req(roles: &[&str], intent: &Intent, now: u64) -> PolicyRequest {
    let action = PolicyAction::for_payload(Some(intent), &[]);
    PolicyRequest::for_intent(principal(roles), action, wallet(), intent, now).unwrap()
}

pub fn raw_digest_req(roles: &[&str]) -> PolicyRequest {
    PolicyRequest::for_wallet(principal(roles), PolicyAction::SignRawDigest, wallet(), NOW).unwrap()
}

pub fn ids(d: &Decision) -> Vec<&str> {
    d.policy_ids().iter().map(String::as_str).collect()
}

/// `intent` with its max fee set to `wei`.
pub fn with_fee(mut intent: Intent, wei: u128) -> Intent {
    if let Some(f) = intent.fee.as_mut() {
        f.max = Amount::from_u128(wei);
    }
    intent
}

/// A request of `roles` on `wallet` (any chain).
pub fn req_on(wallet: WalletRef, roles: &[&str], intent: &Intent, now: u64) -> PolicyRequest {
    let action = PolicyAction::for_payload(Some(intent), &[]);
    PolicyRequest::for_intent(principal(roles), action, wallet, intent, now).unwrap()
}

pub fn allow(id: &str) -> Decision {
    Decision::Allow {
        policy_ids: vec![id.into()],
    }
}

pub fn approvals(role: &str, n: u32, policy_ids: &[&str]) -> Decision {
    Decision::AllowWithApprovals {
        quorum: quorum(&[(role, n)]),
        policy_ids: policy_ids.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn forbidden(ids: &[(&str, &str)]) -> Decision {
    Decision::Deny {
        policy_ids: ids.iter().map(|(i, _)| i.to_string()).collect(),
        reasons: ids
            .iter()
            .map(|(i, m)| DenyReason::Forbidden {
                policy_id: i.to_string(),
                message: Some(m.to_string()),
            })
            .collect(),
    }
}

pub fn quorum(pairs: &[(&str, u32)]) -> Quorum {
    pairs
        .iter()
        .fold(Quorum::none(), |q, (r, n)| q.require(r, *n))
}

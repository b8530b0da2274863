//! The [`Intent`]: what a payload does, in a canonical, versioned form that signers recompute
//! from the raw payload, approvers sign (through [`intent_hash`]) and people read
//! ([`Intent::render`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_crypto::SignMessage;

use crate::units::Amount;
use crate::{ChainError, Result};

/// Version of the [`Intent`] structure and its canonical encoding.
pub const INTENT_VERSION: u16 = 2;

/// Domain tag at the start of the [`intent_hash`] preimage.
pub const INTENT_HASH_DOMAIN: &str = "tessera/intent-hash/v1";

/// An asset: the chain's native coin or a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// Ticker (`BTC`, `ETH`, `SOL`, `USDC`), or `?` for an unknown token.
    pub symbol: String,
    /// Decimals of the base unit, when known (unknown tokens: `None`; amounts then render in
    /// base units).
    pub decimals: Option<u8>,
    /// Token contract (EVM) or mint (Solana); `None` for the native coin.
    pub contract: Option<String>,
}

impl Asset {
    /// The native coin of a chain.
    pub fn native(symbol: &str, decimals: u8) -> Self {
        Asset {
            symbol: symbol.to_string(),
            decimals: Some(decimals),
            contract: None,
        }
    }

    /// Human amount: `1.5 USDC`, or `1500000 base units of token 0x…` when decimals are unknown.
    pub fn display(&self, amount: &Amount) -> String {
        match (self.decimals, &self.contract) {
            (Some(d), _) => format!("{} {}", amount.format_units(d), self.symbol),
            (None, Some(c)) => format!("{amount} base units of token {c}"),
            (None, None) => format!("{amount} base units"),
        }
    }
}

/// Value moving to an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Destination address, in the chain's canonical text form (EIP-55, bech32, base58).
    pub to: String,
    /// Asset.
    pub asset: Asset,
    /// Amount in base units.
    pub amount: Amount,
    /// The account the value leaves when it is not the wallet itself (an ERC-20
    /// `transferFrom` moving someone else's tokens under an allowance); `None`: the wallet.
    pub from: Option<String>,
}

/// Permission to move the wallet's assets that the payload grants (or, with an amount of
/// zero, revokes): an ERC-20 `approve`, an EIP-2612 or Permit2 permit, an NFT
/// `setApprovalForAll`, a Solana token `Approve`, a marketplace order's offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowance {
    /// Who may move the assets.
    pub spender: String,
    /// What they may move.
    pub asset: Asset,
    /// How much, in base units; `None` means unlimited (every token of the asset, an
    /// "unlimited" amount, or a whole NFT collection).
    pub amount: Option<Amount>,
    /// Unix time the allowance ends, when the payload sets one.
    pub expires_at: Option<u64>,
    /// The mechanism: `approve`, `permit`, `permit2`, `set_approval_for_all`, `order`, …
    pub via: String,
}

/// Control over an account, contract or mint that the payload hands over: a Solana
/// `SetAuthority` or System `Assign`, an EVM `transferOwnership`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityChange {
    /// The account, contract or mint whose control changes.
    pub account: String,
    /// Which authority: `owner`, `account_owner`, `close_account`, `mint_tokens`,
    /// `freeze_account`, `program_owner`, `contract_owner`, …
    pub authority: String,
    /// The new holder; `None` when the authority is removed.
    pub new_authority: Option<String>,
}

/// The most the payload can pay in fees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee {
    /// Asset fees are paid in.
    pub asset: Asset,
    /// Upper bound in base units (Bitcoin: exact; EVM: gas limit × max fee per gas; Solana: the
    /// base fee per signature times the signatures, plus any priority fee set by the
    /// compute-budget program).
    pub max: Amount,
    /// How the bound is made up, e.g. `21000 gas × 30 gwei` or `12.5 sat/vB`.
    pub detail: String,
}

/// A coin spent by the payload (Bitcoin inputs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRef {
    /// `txid:vout`.
    pub outpoint: String,
    /// Value of the spent output.
    pub amount: Amount,
    /// Address of the spent output.
    pub address: String,
}

/// A decoded contract call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractCall {
    /// Contract or program address.
    pub contract: String,
    /// Method signature (`transfer(address,uint256)`), or `unknown` when not decoded.
    pub method: String,
    /// Selector / instruction tag, hex.
    pub selector: String,
    /// Decoded arguments, in order.
    pub args: Vec<Argument>,
}

/// One decoded argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Argument {
    /// Name (`to`, `amount`, …).
    pub name: String,
    /// Value in canonical text form.
    pub value: String,
}

/// An off-chain message the wallet is asked to sign (EIP-712 typed data, `personal_sign`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePreview {
    /// `eip712` or `personal_sign`.
    pub standard: String,
    /// For EIP-712: the primary type and domain (name, version, chain id, verifying contract);
    /// for `personal_sign`: the text (UTF-8) or `0x…` hex.
    pub summary: String,
    /// The typed-data message or text, in full.
    pub content: String,
}

/// What kind of thing the payload does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    /// Native or token value transfer(s).
    Transfer,
    /// A contract or program call that is not a plain transfer.
    ContractCall,
    /// Deploys a contract.
    ContractCreation,
    /// Signs an off-chain message (EIP-712, `personal_sign`).
    SignMessage,
}

/// A reason for a human (and, later, policy) to look twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RiskFlag {
    /// An allowance with no limit: an amount at or above the adapter's "unlimited" threshold
    /// (Ethereum: the smaller of 10^(decimals+12) base units and 2^96−1; Solana: the smaller of
    /// 10^(decimals+12) and 2^63), a whole NFT collection, or a permit of the maximum.
    UnlimitedApproval,
    /// Call data with a selector the adapter does not decode.
    UnknownSelector,
    /// The transaction deploys a contract.
    ContractCreation,
    /// Native value sent together with call data (value to a contract).
    ValueToContract,
    /// An ownership, admin, role or upgrade call (`transferOwnership`, `upgradeTo`, …).
    PrivilegedCall,
    /// A token the adapter has no metadata for (decimals unknown).
    UnknownToken,
    /// The fee bound is high relative to the value moved (over 10 %) or absolutely.
    HighFee,
    /// A signature over an off-chain message that can authorize transfers (EIP-712 permits,
    /// orders) or whose meaning the adapter cannot show.
    OffchainSignature,
    /// The payload gives away control: a token `approve` or delegate, or a Solana
    /// `SetAuthority` / account-owner change.
    GrantsAuthority,
    /// Several instructions or calls whose combined effect is harder to read.
    MultipleOperations,
}

impl RiskFlag {
    /// The snake_case name.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// What a payload does, recomputed by every signer from the raw payload.
///
/// Canonical encoding ([`Intent::canonical_bytes`]): compact JSON of this struct, fields in
/// declaration order, no whitespace, no floats and no maps (so it is deterministic), integers
/// that may exceed 2^53 as decimal strings ([`Amount`]). [`Intent::from_canonical_bytes`]
/// re-encodes and rejects anything that is not byte-identical.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// [`INTENT_VERSION`].
    pub version: u16,
    /// Chain id of the adapter: `bitcoin`, `ethereum`, `solana`.
    pub chain: String,
    /// Network name as the adapter knows it (`mainnet`, `testnet`, `regtest`, `sepolia`, …).
    pub network: String,
    /// EVM chain id (EIP-155), EVM only.
    pub chain_id: Option<u64>,
    /// What kind of operation this is.
    pub kind: IntentKind,
    /// The wallet's address that signs (and pays).
    pub source: String,
    /// Value leaving the wallet to others.
    pub transfers: Vec<Transfer>,
    /// Value returning to the wallet (Bitcoin change outputs).
    pub change: Vec<Transfer>,
    /// Fee bound, for transactions.
    pub fee: Option<Fee>,
    /// Account nonce (EVM), as a decimal string.
    pub nonce: Option<String>,
    /// Coins spent (Bitcoin).
    pub inputs: Vec<InputRef>,
    /// Recent blockhash (Solana).
    pub recent_blockhash: Option<String>,
    /// Fee payer (Solana).
    pub fee_payer: Option<String>,
    /// Every contract or program call the payload makes, in order, other than the plain
    /// transfers listed in `transfers` (which may also name their call here).
    pub calls: Vec<ContractCall>,
    /// Allowances the payload grants or revokes.
    pub allowances: Vec<Allowance>,
    /// Authorities the payload hands over.
    pub authorities: Vec<AuthorityChange>,
    /// Off-chain message being signed.
    pub message: Option<MessagePreview>,
    /// Risk flags, sorted, without duplicates.
    pub risk_flags: Vec<RiskFlag>,
}

impl Intent {
    /// An empty intent of `kind` for `chain`/`network` signed by `source`; adapters fill the rest.
    pub fn new(chain: &str, network: &str, kind: IntentKind, source: String) -> Self {
        Intent {
            version: INTENT_VERSION,
            chain: chain.to_string(),
            network: network.to_string(),
            chain_id: None,
            kind,
            source,
            transfers: Vec::new(),
            change: Vec::new(),
            fee: None,
            nonce: None,
            inputs: Vec::new(),
            recent_blockhash: None,
            fee_payer: None,
            calls: Vec::new(),
            allowances: Vec::new(),
            authorities: Vec::new(),
            message: None,
            risk_flags: Vec::new(),
        }
    }

    /// Adds a risk flag (kept sorted and unique).
    pub fn flag(&mut self, f: RiskFlag) {
        if let Err(pos) = self.risk_flags.binary_search(&f) {
            self.risk_flags.insert(pos, f);
        }
    }

    /// The canonical bytes (see the type's docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serializing a struct of strings, integers, options and vectors cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses canonical bytes; anything that does not re-encode byte-identically (other field
    /// order, whitespace, unknown fields, another version, unsorted flags) is refused.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self> {
        let intent: Intent = serde_json::from_slice(bytes)
            .map_err(|e| ChainError::malformed("intent", e.to_string()))?;
        if intent.version != INTENT_VERSION {
            return Err(ChainError::unsupported(
                "intent.version",
                format!(
                    "version {} (this build reads {INTENT_VERSION})",
                    intent.version
                ),
            ));
        }
        if intent.canonical_bytes() != bytes {
            return Err(ChainError::malformed("intent", "not in canonical form"));
        }
        Ok(intent)
    }

    /// One line in plain language, e.g. `Send 1.5 USDC to 0x… on Ethereum mainnet, max fee
    /// 0.002 ETH`. Addresses are printed in full: a shortened address is what address-poisoning
    /// attacks rely on.
    pub fn render(&self) -> String {
        let on = format!("on {} {}", display_chain(&self.chain), self.network);
        let mut s = match self.kind {
            IntentKind::Transfer | IntentKind::ContractCall if !self.transfers.is_empty() => {
                let parts: Vec<String> = self
                    .transfers
                    .iter()
                    .map(|t| format!("{} to {}", t.asset.display(&t.amount), t.to))
                    .collect();
                format!("Send {} {on}", parts.join(" and "))
            }
            IntentKind::ContractCreation => format!("Deploy a contract {on}"),
            IntentKind::SignMessage => match &self.message {
                Some(m) => format!("Sign {} message ({}) {on}", m.standard, m.summary),
                None => format!("Sign a message {on}"),
            },
            _ => match self.calls.first() {
                Some(c) => format!("Call {} on {} {on}", c.method, c.contract),
                None => format!("Transaction with no transfers {on}"),
            },
        };
        for (n, c) in self.calls.iter().enumerate() {
            if n > 0 {
                s.push_str(&format!(", then {} on {}", c.method, c.contract));
            }
            if n == 0 && (self.kind != IntentKind::ContractCall || !self.transfers.is_empty()) {
                s.push_str(&format!(" via {} on {}", c.method, c.contract));
            }
            if !c.args.is_empty() && self.kind == IntentKind::ContractCall {
                let args: Vec<String> = c
                    .args
                    .iter()
                    .map(|a| format!("{}={}", a.name, a.value))
                    .collect();
                s.push_str(&format!(" ({})", args.join(", ")));
            }
        }
        for a in &self.allowances {
            let amount = match &a.amount {
                Some(x) => a.asset.display(x),
                None => format!("UNLIMITED {}", a.asset.symbol),
            };
            s.push_str(&format!(
                ", allows {} to spend {amount} ({})",
                a.spender, a.via
            ));
        }
        for a in &self.authorities {
            match &a.new_authority {
                Some(to) => s.push_str(&format!(
                    ", hands {} authority over {} to {to}",
                    a.authority, a.account
                )),
                None => s.push_str(&format!(
                    ", removes {} authority over {}",
                    a.authority, a.account
                )),
            }
        }
        if !self.change.is_empty() {
            let parts: Vec<String> = self
                .change
                .iter()
                .map(|t| format!("{} to {}", t.asset.display(&t.amount), t.to))
                .collect();
            s.push_str(&format!(", change {}", parts.join(" and ")));
        }
        if let Some(f) = &self.fee {
            s.push_str(&format!(", max fee {}", f.asset.display(&f.max)));
        }
        if !self.risk_flags.is_empty() {
            let flags: Vec<String> = self.risk_flags.iter().map(|f| f.name()).collect();
            s.push_str(&format!(" [risk: {}]", flags.join(", ")));
        }
        s
    }
}

fn display_chain(chain: &str) -> String {
    let mut c = chain.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The hash approvals and authorizations sign: it covers the canonical intent **and** the exact
/// signing messages, so a preview cannot differ from the bytes signed.
///
/// ```text
/// SHA-256( u64(len) || "tessera/intent-hash/v1" || u64(len) || canonical intent
///          || u64(#messages) || message* )
/// message = 0x01 || hash tag (1 sha256, 2 double-sha256, 3 keccak256, 4 tap-sighash) || digest(32)
///         | 0x02 || digest(32)                  (raw digest: dangerous)
///         | 0x03 || u64(len) || bytes           (Ed25519: the message bytes themselves)
/// ```
/// Integers are big-endian. A preimage is bound through the digest the signer computes from it.
pub fn intent_hash(intent: &Intent, messages: &[SignMessage]) -> Result<[u8; 32]> {
    let mut h = Sha256::new();
    let put = |h: &mut Sha256, b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    put(&mut h, INTENT_HASH_DOMAIN.as_bytes());
    put(&mut h, &intent.canonical_bytes());
    h.update((messages.len() as u64).to_be_bytes());
    for m in messages {
        match m {
            SignMessage::Preimage {
                hash: Some(hash), ..
            } => {
                let digest = m
                    .digest32()
                    .map_err(|e| ChainError::malformed("messages", e.to_string()))?;
                h.update([1, hash.tag()]);
                h.update(digest);
            }
            SignMessage::RawDigest(d) => {
                h.update([2]);
                h.update(d);
            }
            SignMessage::Preimage { hash: None, bytes } => {
                h.update([3]);
                put(&mut h, bytes);
            }
        }
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_crypto::MessageHash;

    fn sample() -> Intent {
        let mut i = Intent::new(
            "ethereum",
            "mainnet",
            IntentKind::ContractCall,
            "0x52908400098527886E0F7030069857D2E4169EE7".into(),
        );
        i.chain_id = Some(1);
        i.transfers.push(Transfer {
            from: None,
            to: "0x8617E340B3D01FA5F11F306F4090FD50E238070D".into(),
            asset: Asset {
                symbol: "USDC".into(),
                decimals: Some(6),
                contract: Some("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".into()),
            },
            amount: Amount::from_u128(1_500_000),
        });
        i.fee = Some(Fee {
            asset: Asset::native("ETH", 18),
            max: Amount::from_u128(2_000_000_000_000_000),
            detail: "100000 gas × 20 gwei".into(),
        });
        i.calls.push(ContractCall {
            contract: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".into(),
            method: "transfer(address,uint256)".into(),
            selector: "a9059cbb".into(),
            args: vec![],
        });
        i.nonce = Some("7".into());
        i
    }

    fn msgs() -> Vec<SignMessage> {
        vec![SignMessage::Preimage {
            hash: Some(MessageHash::Keccak256),
            bytes: b"tx".to_vec(),
        }]
    }

    #[test]
    fn canonical_round_trip_and_rejects_other_forms() {
        let i = sample();
        let bytes = i.canonical_bytes();
        assert_eq!(Intent::from_canonical_bytes(&bytes).unwrap(), i);
        // Pretty-printed JSON of the same value is not canonical.
        let pretty = serde_json::to_vec_pretty(&i).unwrap();
        assert!(Intent::from_canonical_bytes(&pretty).is_err());
        // An unknown field is refused.
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v["extra"] = serde_json::json!(1);
        assert!(Intent::from_canonical_bytes(&serde_json::to_vec(&v).unwrap()).is_err());
        // Another version is refused with a typed error.
        let mut other = i.clone();
        other.version = INTENT_VERSION + 1;
        assert!(matches!(
            Intent::from_canonical_bytes(&other.canonical_bytes()),
            Err(ChainError::Unsupported { .. })
        ));
    }

    #[test]
    fn intent_hash_covers_every_field_and_every_message() {
        let i = sample();
        let base = intent_hash(&i, &msgs()).unwrap();
        assert_eq!(base, intent_hash(&i.clone(), &msgs()).unwrap());
        let mut changed = i.clone();
        changed.transfers[0].amount = Amount::from_u128(1_500_001);
        assert_ne!(base, intent_hash(&changed, &msgs()).unwrap());
        let mut changed = i.clone();
        changed.flag(RiskFlag::UnknownToken);
        assert_ne!(base, intent_hash(&changed, &msgs()).unwrap());
        let mut changed = i.clone();
        changed.network = "sepolia".into();
        assert_ne!(base, intent_hash(&changed, &msgs()).unwrap());
        // Same intent, another message: another hash.
        let other = vec![SignMessage::Preimage {
            hash: Some(MessageHash::Keccak256),
            bytes: b"tx2".to_vec(),
        }];
        assert_ne!(base, intent_hash(&i, &other).unwrap());
        // Same digest bytes under another hash function: another hash.
        let other = vec![SignMessage::Preimage {
            hash: Some(MessageHash::Sha256),
            bytes: b"tx".to_vec(),
        }];
        assert_ne!(base, intent_hash(&i, &other).unwrap());
        // A raw digest equal to the keccak digest is still a different request.
        let d = msgs()[0].digest32().unwrap();
        assert_ne!(
            base,
            intent_hash(&i, &[SignMessage::danger_raw_digest(d)]).unwrap()
        );
        // Message order matters.
        let two = vec![msgs()[0].clone(), other[0].clone()];
        let swapped = vec![other[0].clone(), msgs()[0].clone()];
        assert_ne!(
            intent_hash(&i, &two).unwrap(),
            intent_hash(&i, &swapped).unwrap()
        );
    }

    #[test]
    fn render_reads_like_a_sentence() {
        let mut i = sample();
        i.flag(RiskFlag::UnknownSelector);
        i.flag(RiskFlag::UnlimitedApproval);
        i.flag(RiskFlag::UnknownSelector);
        assert_eq!(
            i.risk_flags,
            vec![RiskFlag::UnlimitedApproval, RiskFlag::UnknownSelector]
        );
        let s = i.render();
        assert!(
            s.starts_with(
                "Send 1.5 USDC to 0x8617E340B3D01FA5F11F306F4090FD50E238070D on Ethereum mainnet"
            ),
            "{s}"
        );
        assert!(s.contains("max fee 0.002 ETH"), "{s}");
        assert!(
            s.ends_with("[risk: unlimited_approval, unknown_selector]"),
            "{s}"
        );
    }
}

//! Layer 3 of Tessera: the chain-adapter interface.
//!
//! Users do not sign digests; they send transactions. An adapter turns a chain's raw, unsigned
//! payload into an [`Intent`] (what the payload does, in a canonical form people read and
//! approvers sign) plus the exact [`SignMessage`]s the wallet key must sign, then attaches the
//! signatures and serializes the signed transaction, and checks the result with the chain's own,
//! independent verifier.
//!
//! Every signer runs [`ChainAdapter::parse`] itself on the raw payload; it never trusts an
//! intent or a digest sent alongside. [`intent_hash`] binds the intent *and* the messages.
//!
//! Adding a chain: implement [`ChainAdapter`] in a thin crate, run
//! [`conformance::run`] on it from one test, and add one line to the `tessera-chains` registry.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub mod intent;
pub mod text;
pub mod units;

#[cfg(feature = "conformance")]
pub mod conformance;

use serde::{Deserialize, Serialize};
pub use tessera_crypto::{MessageHash, PublicKey, SchemeId, SignMessage, Signature};

pub use error::{ChainError, Result};
pub use intent::{
    intent_hash, Allowance, Argument, Asset, AuthorityChange, ContractCall, Fee, InputRef, Intent,
    IntentKind, MessagePreview, RiskFlag, Transfer, INTENT_VERSION,
};
pub use units::Amount;

/// An unsigned chain payload: the bytes every signer re-parses, and their format.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Format, adapter-defined (`psbt`, `eip1559`, `eip155`, `eip712`, `personal_sign`,
    /// `solana_message`).
    pub format: String,
    /// The raw bytes (hex in JSON).
    #[serde(with = "hex_bytes")]
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Payload({}, {} bytes)", self.format, self.bytes.len())
    }
}

/// The wallet key an adapter works against: the scheme and the public key *at the derivation
/// path in use* (for Taproot the BIP-341 internal key; the adapter applies the tweak).
#[derive(Debug, Clone, Copy)]
pub struct WalletKey<'a> {
    /// Scheme of the wallet.
    pub scheme: SchemeId,
    /// Public key at the path.
    pub public_key: &'a PublicKey,
}

/// An address of a wallet key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Canonical text form (bech32/bech32m, EIP-55, base58).
    pub address: String,
    /// Kind: `p2wpkh`, `p2tr`, `eoa`, `ed25519`.
    pub kind: String,
}

/// A parsed payload: the intent and the messages to sign, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// What the payload does.
    pub intent: Intent,
    /// What the wallet key signs, in the order [`ChainAdapter::finalize`] expects signatures.
    pub messages: Vec<SignMessage>,
}

impl Parsed {
    /// [`intent_hash`] of this intent and these messages.
    pub fn intent_hash(&self) -> Result<[u8; 32]> {
        intent_hash(&self.intent, &self.messages)
    }
}

/// A signed transaction (or off-chain signature) ready to broadcast or hand back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    /// Chain id of the adapter.
    pub chain: String,
    /// Network.
    pub network: String,
    /// Format of `bytes`: `bitcoin_tx`, `eip2718`, `solana_tx`, `eip712_signature`,
    /// `personal_sign_signature`.
    pub format: String,
    /// The signed transaction in wire form (or the 65-byte `r||s||v` signature for messages).
    #[serde(with = "hex_bytes")]
    pub bytes: Vec<u8>,
    /// Transaction id / hash / first signature, in the chain's usual text form, when it has one.
    pub txid: Option<String>,
    /// Chain-specific extras (Bitcoin: the finalized PSBT and the prevouts; EVM: chain id).
    pub details: serde_json::Value,
}

/// One chain. Implementations are stateless and deterministic: the same inputs give the same
/// outputs on every node.
pub trait ChainAdapter: Send + Sync {
    /// Stable chain id: `bitcoin`, `ethereum`, `solana`.
    fn chain(&self) -> &'static str;

    /// Networks this adapter accepts, by name.
    fn networks(&self) -> &'static [&'static str];

    /// Schemes whose signatures this chain accepts.
    fn schemes(&self) -> &'static [SchemeId];

    /// Payload formats [`parse`](Self::parse) accepts.
    fn formats(&self) -> &'static [&'static str];

    /// Whether payloads of `format` name their network themselves (an EVM transaction's chain
    /// id) so that parsing under another network fails with [`ChainError::WrongNetwork`]. When
    /// they do not (a PSBT's scripts, a Solana message, `personal_sign` text), the intent
    /// reports the network the caller asked for.
    fn payload_binds_network(&self, format: &str) -> bool;

    /// The wallet key's address on `network`.
    fn address(&self, network: &str, key: WalletKey<'_>) -> Result<Address>;

    /// Builds an unsigned payload from a JSON description (the API's and CLI's builder form).
    /// Deterministic: the same spec gives the same bytes.
    fn build(&self, network: &str, key: WalletKey<'_>, spec: &serde_json::Value)
        -> Result<Payload>;

    /// Parses a raw payload into the intent and the messages to sign. Refuses, with a typed
    /// error naming the field: malformed bytes, another network, inputs or signers the key does
    /// not own, unsupported script or transaction types. Never panics on any input.
    fn parse(&self, network: &str, key: WalletKey<'_>, payload: &Payload) -> Result<Parsed>;

    /// Attaches one signature per message of `parse` (in order) and serializes the result.
    fn finalize(
        &self,
        network: &str,
        key: WalletKey<'_>,
        payload: &Payload,
        signatures: &[Signature],
    ) -> Result<SignedTransaction>;

    /// Wraps `text` in this chain's off-chain message format for a `scheme` wallet (Ethereum:
    /// EIP-191 `personal_sign`; Bitcoin: BIP-322's tagged message hash; Solana: the off-chain
    /// message). Such a message can never be signed as a transaction of any chain: these and
    /// policy-flagged raw digests are the only plain messages a signer signs.
    fn offchain_message(&self, scheme: SchemeId, text: &[u8]) -> Result<SignMessage>;

    /// The text of `message` when it is exactly in this chain's off-chain message format for
    /// `scheme` (what [`offchain_message`](Self::offchain_message) produces); `None` for
    /// anything else. Never panics on any input.
    fn read_offchain_message(&self, scheme: SchemeId, message: &SignMessage) -> Option<Vec<u8>>;

    /// Checks a signed transaction with the chain's own, independent implementation (Bitcoin
    /// Core's script interpreter, an independent EVM sender recovery, the Solana crates and
    /// ed25519-dalek): it must be valid and spend/sign exactly what `payload` describes.
    fn verify(
        &self,
        network: &str,
        key: WalletKey<'_>,
        payload: &Payload,
        signed: &SignedTransaction,
    ) -> Result<()>;
}

/// Finds adapters by chain id.
#[derive(Default)]
pub struct Registry {
    adapters: Vec<Box<dyn ChainAdapter>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an adapter (builder style).
    pub fn with(mut self, adapter: Box<dyn ChainAdapter>) -> Self {
        self.adapters.push(adapter);
        self
    }

    /// The adapter for `chain` ([`ChainError::Unsupported`] naming `chain` otherwise).
    pub fn get(&self, chain: &str) -> Result<&dyn ChainAdapter> {
        self.adapters
            .iter()
            .find(|a| a.chain() == chain)
            .map(|a| a.as_ref())
            .ok_or_else(|| ChainError::unsupported("chain", format!("unknown chain {chain:?}")))
    }

    /// Whether a wallet bound to `networks` (`chain:network` entries, its key generation's
    /// binding) may sign `payload` as `chain` on `network`:
    ///
    /// - `chain:network` must be one of `networks` ([`ChainError::WrongNetwork`], field
    ///   `network`): the label a requester gives is not evidence, because a PSBT or a Solana
    ///   message signs the same bytes on every network;
    /// - if the wallet is bound to several networks of `chain`, the payload must name its own
    ///   ([`ChainAdapter::payload_binds_network`], e.g. an EVM transaction's chain id), else
    ///   it is refused ([`ChainError::Unsupported`], field `network`): the same bytes would be
    ///   valid on each, under whichever label is the most lenient.
    pub fn check_binding(
        &self,
        networks: &[String],
        chain: &str,
        network: &str,
        payload: &Payload,
    ) -> Result<()> {
        let adapter = self.get(chain)?;
        let key = format!("{chain}:{network}");
        if !networks.contains(&key) {
            let allowed = if networks.is_empty() {
                "no network (the wallet was created before wallets were bound to networks)"
                    .to_string()
            } else {
                networks.join(", ")
            };
            return Err(ChainError::wrong_network("network", allowed, key));
        }
        let prefix = format!("{chain}:");
        let of_chain = networks.iter().filter(|n| n.starts_with(&prefix)).count();
        if of_chain > 1 && !adapter.payload_binds_network(&payload.format) {
            return Err(ChainError::unsupported(
                "network",
                format!(
                    "the wallet is bound to {of_chain} {chain} networks and a {} payload does \
                     not name its own network: it would be valid on each",
                    payload.format
                ),
            ));
        }
        Ok(())
    }

    /// All adapters, in registration order.
    pub fn adapters(&self) -> impl Iterator<Item = &dyn ChainAdapter> {
        self.adapters.iter().map(|a| a.as_ref())
    }

    /// The chain whose off-chain message format `message` is in, for a `scheme` wallet
    /// ([`ChainAdapter::read_offchain_message`]), and its text. `None` means the bytes are in
    /// no such format and could be a transaction's signing message: a signer refuses them as a
    /// plain message (`PayloadRejected`); a raw digest is the policy's decision instead.
    pub fn offchain_chain(
        &self,
        scheme: SchemeId,
        message: &SignMessage,
    ) -> Option<(&'static str, Vec<u8>)> {
        self.adapters().find_map(|a| {
            a.read_offchain_message(scheme, message)
                .map(|text| (a.chain(), text))
        })
    }
}

/// Checks that `network` is one of the adapter's networks and `key.scheme` one of its schemes.
pub fn check_request(adapter: &dyn ChainAdapter, network: &str, key: WalletKey<'_>) -> Result<()> {
    if !adapter.networks().contains(&network) {
        return Err(ChainError::unsupported(
            "network",
            format!(
                "{} has no network {network:?} (known: {})",
                adapter.chain(),
                adapter.networks().join(", ")
            ),
        ));
    }
    if !adapter.schemes().contains(&key.scheme) {
        return Err(ChainError::unsupported(
            "scheme",
            format!("{} wallets cannot sign for {}", key.scheme, adapter.chain()),
        ));
    }
    Ok(())
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s.trim_start_matches("0x")).map_err(serde::de::Error::custom)
    }
}

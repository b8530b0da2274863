//! The registry of every chain adapter Tessera ships. Adding a chain is one line here.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use tessera_chain::*;

/// Every adapter, by chain id (`bitcoin`, `ethereum`, `solana`).
pub fn registry() -> Registry {
    Registry::new()
        .with(Box::new(tessera_chain_bitcoin::Bitcoin))
        .with(Box::new(tessera_chain_ethereum::Ethereum))
        .with(Box::new(tessera_chain_solana::Solana))
}

/// The chain whose off-chain message format a `scheme` wallet uses unless told otherwise:
/// Solana for Ed25519, Bitcoin (BIP-322's tagged hash) for BIP-340, Ethereum (EIP-191) for
/// the ECDSA profiles.
pub fn default_offchain_chain(scheme: SchemeId) -> &'static str {
    match scheme {
        SchemeId::Ed25519 => "solana",
        SchemeId::SchnorrBip340 => "bitcoin",
        // The ECDSA profiles (and any scheme added later: Ethereum's format refuses what it
        // cannot sign, with a typed error).
        _ => "ethereum",
    }
}

/// `text` as an off-chain message of `chain` (default: [`default_offchain_chain`]) for a
/// `scheme` wallet: the form of every plain message signers accept.
pub fn offchain_message(scheme: SchemeId, chain: Option<&str>, text: &[u8]) -> Result<SignMessage> {
    let chain = chain.unwrap_or(default_offchain_chain(scheme));
    registry().get(chain)?.offchain_message(scheme, text)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(format: &str) -> Payload {
        Payload {
            format: format.into(),
            bytes: Vec::new(),
        }
    }

    fn networks(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_binding_admits_only_its_networks_and_only_unambiguous_payloads() {
        let r = registry();
        let one = networks(&["bitcoin:mainnet", "solana:devnet"]);
        assert!(r
            .check_binding(&one, "bitcoin", "mainnet", &payload("psbt"))
            .is_ok());
        let e = r
            .check_binding(&one, "bitcoin", "testnet", &payload("psbt"))
            .unwrap_err();
        assert_eq!((e.code(), e.field()), ("wrong_network", Some("network")));
        let legacy = r
            .check_binding(&[], "solana", "devnet", &payload("solana_message"))
            .unwrap_err();
        assert_eq!(legacy.code(), "wrong_network");
        assert!(r
            .check_binding(&one, "dogecoin", "mainnet", &payload("psbt"))
            .is_err());

        // Two EVM networks: a transaction names its chain id, a personal_sign text does not.
        let evm = networks(&["ethereum:mainnet", "ethereum:sepolia"]);
        assert!(r
            .check_binding(&evm, "ethereum", "sepolia", &payload("eip1559"))
            .is_ok());
        let e = r
            .check_binding(&evm, "ethereum", "mainnet", &payload("personal_sign"))
            .unwrap_err();
        assert_eq!((e.code(), e.field()), ("unsupported", Some("network")));
        // Two Bitcoin networks: a PSBT never names its own.
        let btc = networks(&["bitcoin:mainnet", "bitcoin:testnet"]);
        assert!(r
            .check_binding(&btc, "bitcoin", "mainnet", &payload("psbt"))
            .is_err());
    }
}

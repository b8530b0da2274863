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

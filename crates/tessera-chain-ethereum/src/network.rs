//! Networks (name → EIP-155 chain id, native coin) and the small tables of known tokens and
//! NFT collections.

use alloy_primitives::{Address, U256};
use tessera_chain::{Asset, ChainError, Result};

/// One EVM network the adapter accepts.
#[derive(Debug)]
pub(crate) struct Network {
    /// Name as the API knows it.
    pub name: &'static str,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Ticker of the native coin (18 decimals on every network here).
    pub native: &'static str,
    /// Tokens whose symbol and decimals the intent may show.
    pub tokens: &'static [Token],
    /// ERC-721 / ERC-1155 collections whose symbol the intent may show (their amounts are
    /// counts of items: decimals 0).
    pub nfts: &'static [Token],
}

/// A token with known metadata. `address` is EIP-55 checksummed (a test checks every entry).
#[derive(Debug)]
pub(crate) struct Token {
    pub address: &'static str,
    pub symbol: &'static str,
    pub decimals: u8,
}

const fn token(address: &'static str, symbol: &'static str, decimals: u8) -> Token {
    Token {
        address,
        symbol,
        decimals,
    }
}

/// Decimals of the native coin on every listed network.
pub(crate) const NATIVE_DECIMALS: u8 = 18;

/// The networks, in the order [`NAMES`] lists them.
pub(crate) const NETWORKS: &[Network] = &[
    Network {
        name: "mainnet",
        chain_id: 1,
        native: "ETH",
        tokens: &[
            token("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "USDC", 6),
            token("0xdAC17F958D2ee523a2206206994597C13D831ec7", "USDT", 6),
            token("0x6B175474E89094C44Da98b954EedeAC495271d0F", "DAI", 18),
            token("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "WETH", 18),
        ],
        nfts: &[
            token("0xBC4CA0EdA7647A8aB7C2061c2E118A18a936f13D", "BAYC", 0),
            token("0x57f1887a8BF19b14fC0dF6Fd9B2acc9Af147eA85", "ENS", 0),
        ],
    },
    Network {
        name: "sepolia",
        chain_id: 11_155_111,
        native: "ETH",
        tokens: &[token(
            "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238",
            "USDC",
            6,
        )],
        nfts: &[],
    },
    Network {
        name: "holesky",
        chain_id: 17_000,
        native: "ETH",
        tokens: &[],
        nfts: &[],
    },
    Network {
        name: "base",
        chain_id: 8453,
        native: "ETH",
        tokens: &[
            token("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "USDC", 6),
            token("0x4200000000000000000000000000000000000006", "WETH", 18),
        ],
        nfts: &[],
    },
    Network {
        name: "arbitrum",
        chain_id: 42_161,
        native: "ETH",
        tokens: &[
            token("0xaf88d065e77c8cC2239327C5EDb3A432268e5831", "USDC", 6),
            token("0x82aF49447D8a07e3bd95BD0d56f35241523fBab1", "WETH", 18),
        ],
        nfts: &[],
    },
    Network {
        name: "optimism",
        chain_id: 10,
        native: "ETH",
        tokens: &[
            token("0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85", "USDC", 6),
            token("0x4200000000000000000000000000000000000006", "WETH", 18),
        ],
        nfts: &[],
    },
    Network {
        name: "polygon",
        chain_id: 137,
        native: "POL",
        tokens: &[token(
            "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359",
            "USDC",
            6,
        )],
        nfts: &[],
    },
];

/// Network names, for [`tessera_chain::ChainAdapter::networks`].
pub(crate) const NAMES: &[&str] = &[
    "mainnet", "sepolia", "holesky", "base", "arbitrum", "optimism", "polygon",
];

impl Network {
    /// The network called `name` (callers ran `check_request` first, so this only fails if
    /// [`NAMES`] and [`NETWORKS`] disagree).
    pub(crate) fn by_name(name: &str) -> Result<&'static Network> {
        NETWORKS
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| ChainError::unsupported("network", format!("unknown network {name:?}")))
    }

    /// The listed network with chain id `id`, if any.
    pub(crate) fn by_chain_id(id: u64) -> Option<&'static Network> {
        NETWORKS.iter().find(|n| n.chain_id == id)
    }

    /// The native coin.
    pub(crate) fn native_asset(&self) -> Asset {
        Asset::native(self.native, NATIVE_DECIMALS)
    }

    /// The token at `contract`: its metadata when listed (`true`), else symbol `?` with unknown
    /// decimals (`false`).
    pub(crate) fn token_asset(&self, contract: &Address) -> (Asset, bool) {
        let text = contract.to_checksum(None);
        match self.tokens.iter().find(|t| t.address == text) {
            Some(t) => (
                Asset {
                    symbol: t.symbol.to_string(),
                    decimals: Some(t.decimals),
                    contract: Some(text),
                },
                true,
            ),
            None => (
                Asset {
                    symbol: "?".to_string(),
                    decimals: None,
                    contract: Some(text),
                },
                false,
            ),
        }
    }
}

/// Which items of an NFT collection an asset stands for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NftItems<'a> {
    /// One token id (ERC-721) or one id's fungible units (ERC-1155).
    Id(&'a U256),
    /// Any item of the collection (an operator approval, an order's criteria item).
    Any,
    /// Any item whose id is in the Merkle set with this root (a Seaport criteria item).
    InSet(&'a U256),
}

impl Network {
    /// Whether `contract` is a listed NFT collection.
    pub(crate) fn is_nft(&self, contract: &Address) -> bool {
        let text = contract.to_checksum(None);
        self.nfts.iter().any(|t| t.address == text)
    }

    /// Items of the NFT collection at `contract` as an asset: decimals 0 (amounts count
    /// items) and a symbol that names the items, `BAYC #1234` (`NFT #1234` for an unlisted
    /// collection), `BAYC (any id)`, `NFT (id in set 0x…)`. `true` when the collection is listed.
    pub(crate) fn nft_asset(&self, contract: &Address, items: NftItems<'_>) -> (Asset, bool) {
        let text = contract.to_checksum(None);
        let listed = self.nfts.iter().find(|t| t.address == text);
        let base = listed.map_or("NFT", |t| t.symbol);
        let symbol = match items {
            NftItems::Id(id) => format!("{base} #{id}"),
            NftItems::Any => format!("{base} (any id)"),
            NftItems::InSet(root) => format!("{base} (id in set 0x{root:064x})"),
        };
        let asset = Asset {
            symbol,
            decimals: Some(0),
            contract: Some(text),
        };
        (asset, listed.is_some())
    }
}

/// How a chain id found in a payload is named in a [`ChainError::WrongNetwork`].
pub(crate) fn describe_chain_id(id: u64) -> String {
    match Network::by_chain_id(id) {
        Some(n) => format!("{} (chain id {id})", n.name),
        None => format!("chain id {id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_table_agree() {
        let names: Vec<&str> = NETWORKS.iter().map(|n| n.name).collect();
        assert_eq!(names, NAMES);
        let mut ids: Vec<u64> = NETWORKS.iter().map(|n| n.chain_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), NETWORKS.len(), "duplicate chain id");
    }

    #[test]
    fn token_addresses_are_valid_eip55() {
        for n in NETWORKS {
            for t in n.tokens {
                let a = Address::parse_checksummed(t.address, None)
                    .unwrap_or_else(|e| panic!("{} {}: {e}", n.name, t.symbol));
                assert_eq!(a.to_checksum(None), t.address);
                assert!(n.token_asset(&a).1);
            }
            for t in n.nfts {
                let a = Address::parse_checksummed(t.address, None)
                    .unwrap_or_else(|e| panic!("{} {}: {e}", n.name, t.symbol));
                assert_eq!(a.to_checksum(None), t.address);
                assert!(n.is_nft(&a) && !n.token_asset(&a).1);
            }
        }
    }
}

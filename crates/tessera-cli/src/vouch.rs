//! What `tessera wallet show|address` print about a vouched wallet key: the derived key and
//! the deposit address, both computed here from the key the signers attested, never taken from
//! the coordinator.

use anyhow::Result;
use tessera_chains::{PublicKey, WalletKey};
use tessera_crypto::{hd, SchemeId};
use tessera_proto::api::{DerivedKey, WalletInfo};

/// The derived key at `path` in the API's shape (with the Taproot output key for BIP-340).
pub fn derived_key(w: &WalletInfo, path: &str, key: PublicKey) -> Result<DerivedKey> {
    let taproot_output_key = if w.scheme == SchemeId::SchnorrBip340 {
        Some(hex::encode(hd::taproot_output_key(&key)?))
    } else {
        None
    };
    Ok(DerivedKey {
        wallet_id: w.wallet_id.clone(),
        path: path.to_string(),
        public_key: key,
        taproot_output_key,
    })
}

/// The address of `key` on `chain`/`network`, by this binary's own adapter.
pub fn address(w: &WalletInfo, key: &PublicKey, chain: &str, network: &str) -> Result<String> {
    let registry = tessera_chains::registry();
    let adapter = registry.get(chain)?;
    let wk = WalletKey {
        scheme: w.scheme,
        public_key: key,
    };
    Ok(adapter.address(network, wk)?.address)
}

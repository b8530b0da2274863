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

/// The address of `key` on `chain`/`network`, by this binary's own adapter — only for a
/// network the wallet is bound to (its attested `networks`): coins sent to an address on any
/// other network could never be moved, because the signers sign nothing there.
pub fn address(w: &WalletInfo, key: &PublicKey, chain: &str, network: &str) -> Result<String> {
    let bound = tessera_wire::network_key(chain, network);
    if !w.networks.contains(&bound) {
        anyhow::bail!(
            "wallet {} is bound to {}, not {bound}: its signers sign nothing on {bound}, so \
             coins sent to an address there could not be moved",
            w.wallet_id,
            if w.networks.is_empty() {
                "no network".to_string()
            } else {
                w.networks.join(", ")
            }
        );
    }
    let registry = tessera_chains::registry();
    let adapter = registry.get(chain)?;
    let wk = WalletKey {
        scheme: w.scheme,
        public_key: key,
    };
    Ok(adapter.address(network, wk)?.address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_proto::api::WalletStatus;

    #[test]
    fn no_address_is_shown_for_a_network_the_wallet_cannot_sign_on() {
        let w = WalletInfo {
            wallet_id: "w".into(),
            name: "w".into(),
            scheme: SchemeId::Ed25519,
            threshold: 2,
            signers: vec![],
            status: WalletStatus::Ready,
            public_key: None,
            chain_code: None,
            keygen_session: String::new(),
            pool: 0,
            created_at_ms: 0,
            error: None,
            attestations: vec![],
            networks: vec!["solana:devnet".into()],
            epoch: 0,
            committing_epoch: None,
        };
        let key = PublicKey::Ed25519([7u8; 32]);
        assert!(address(&w, &key, "solana", "devnet").is_ok());
        let e = address(&w, &key, "solana", "mainnet-beta").unwrap_err();
        assert!(e.to_string().contains("could not be moved"), "{e}");
    }
}

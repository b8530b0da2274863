//! `tessera-chain-bitcoin`: `Bitcoin::parse` of a `psbt` payload (PSBT v0 bytes, as every
//! signer re-parses them). First byte: bit 0 picks the wallet (P2WPKH / ECDSA or P2TR /
//! BIP-340), bits 1-2 the network; the rest is the PSBT.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_chain::{Payload, SchemeId};
use tessera_fuzz::{check_chain_parse, secp_key, split, wallet};

fuzz_target!(|data: &[u8]| {
    let (sel, bytes) = split(data);
    let scheme = if sel & 1 == 0 {
        SchemeId::EcdsaDkls23
    } else {
        SchemeId::SchnorrBip340
    };
    let network = ["regtest", "testnet", "mainnet", "regtest"][usize::from((sel >> 1) & 3)];
    let pk = secp_key();
    let payload = Payload {
        format: "psbt".into(),
        bytes: bytes.to_vec(),
    };
    if let Some(parsed) = check_chain_parse(
        &tessera_chain_bitcoin::Bitcoin,
        network,
        wallet(scheme, &pk),
        &payload,
    ) {
        // One message per input, never none: a PSBT without inputs is refused.
        assert!(
            !parsed.messages.is_empty(),
            "accepted a PSBT with nothing to sign"
        );
    }
});

//! `tessera-chain-solana`: the adapter's strict legacy-message parser
//! (`LegacyMessage::parse`) and `Solana::parse` of a `solana_message` payload. First byte:
//! the network; the rest is the message.
//!
//! Extra properties: a message the strict parser accepts re-serializes to exactly its bytes,
//! and the Solana crates' own codec (`solana_message::Message` through bincode, with the
//! RPC's options) accepts it too and re-encodes it byte-identically (differential check: our
//! parser never reads a message differently from the chain).
#![no_main]
use bincode::Options;
use libfuzzer_sys::fuzz_target;
use tessera_chain::{Payload, SchemeId, SignMessage};
use tessera_chain_solana::message::LegacyMessage;
use tessera_fuzz::{check_chain_parse, ed_key, split, wallet};

const NETWORKS: [&str; 3] = ["mainnet-beta", "devnet", "testnet"];

fuzz_target!(|data: &[u8]| {
    let (sel, bytes) = split(data);
    if let Ok(m) = LegacyMessage::parse(bytes) {
        assert_eq!(m.serialize(), bytes, "LegacyMessage does not round-trip");
        let theirs: solana_message::Message = bincode::options()
            .with_limit(tessera_chain_solana::message::PACKET_DATA_SIZE as u64)
            .with_fixint_encoding()
            .reject_trailing_bytes()
            .deserialize(bytes)
            .expect("the Solana crates refuse a message our parser accepts");
        let again = bincode::serialize(&theirs).expect("re-encode");
        assert_eq!(
            again, bytes,
            "the Solana crates read the message differently"
        );
    }
    let network = NETWORKS[usize::from(sel) % NETWORKS.len()];
    let pk = ed_key();
    let payload = Payload {
        format: "solana_message".into(),
        bytes: bytes.to_vec(),
    };
    if let Some(parsed) = check_chain_parse(
        &tessera_chain_solana::Solana,
        network,
        wallet(SchemeId::Ed25519, &pk),
        &payload,
    ) {
        assert_eq!(parsed.messages, [SignMessage::raw_bytes(bytes.to_vec())]);
    }
});

//! `tessera-chain-ethereum`: `Ethereum::parse` of `eip1559` (`0x02 || rlp([...])`) and
//! `eip155` (legacy `rlp([...])`) transactions. First byte: bit 0 picks the format, the rest
//! of it the network; the rest is the transaction.
//!
//! Extra property: the adapter takes only canonical RLP with nothing trailing, and the message
//! it signs is the payload itself, so an accepted payload's one Keccak-256 preimage must be
//! exactly the input bytes (decode -> re-encode is the identity).
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_chain::{MessageHash, Payload, SchemeId, SignMessage};
use tessera_fuzz::{check_chain_parse, secp_key, split, wallet};

const NETWORKS: [&str; 7] = [
    "mainnet", "sepolia", "holesky", "base", "arbitrum", "optimism", "polygon",
];

fuzz_target!(|data: &[u8]| {
    let (sel, bytes) = split(data);
    let format = if sel & 1 == 0 { "eip1559" } else { "eip155" };
    let network = NETWORKS[usize::from(sel >> 1) % NETWORKS.len()];
    let pk = secp_key();
    let payload = Payload {
        format: format.into(),
        bytes: bytes.to_vec(),
    };
    let key = wallet(SchemeId::EcdsaDkls23, &pk);
    if let Some(parsed) =
        check_chain_parse(&tessera_chain_ethereum::Ethereum, network, key, &payload)
    {
        let expected = [SignMessage::Preimage {
            hash: Some(MessageHash::Keccak256),
            bytes: bytes.to_vec(),
        }];
        assert_eq!(
            parsed.messages, expected,
            "an accepted transaction must sign exactly its own canonical bytes"
        );
    }
});

//! `tessera-chain-ethereum`: `Ethereum::parse` of `eip712` typed-data JSON
//! (`{types, primaryType, domain, message}`: permits, Permit2, Seaport orders, anything) and
//! of `personal_sign` messages. First byte: bit 0 picks the format, the rest of it the
//! network; the rest is the payload.
//!
//! Extra property: an accepted typed-data payload signs one Keccak-256 preimage that starts
//! `0x19 0x01` and is 66 bytes (`0x1901 || domainSeparator || hashStruct(message)`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_chain::{MessageHash, Payload, SchemeId, SignMessage};
use tessera_fuzz::{check_chain_parse, secp_key, split, wallet};

const NETWORKS: [&str; 7] = [
    "mainnet", "sepolia", "holesky", "base", "arbitrum", "optimism", "polygon",
];

fuzz_target!(|data: &[u8]| {
    let (sel, bytes) = split(data);
    let format = if sel & 1 == 0 {
        "eip712"
    } else {
        "personal_sign"
    };
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
        match parsed.messages.as_slice() {
            [SignMessage::Preimage {
                hash: Some(MessageHash::Keccak256),
                bytes: pre,
            }] => {
                if format == "eip712" {
                    assert_eq!(pre.len(), 66, "EIP-712 preimage length");
                    assert_eq!(&pre[..2], &[0x19, 0x01], "EIP-712 preimage prefix");
                }
            }
            other => panic!("unexpected messages {other:?}"),
        }
    }
});

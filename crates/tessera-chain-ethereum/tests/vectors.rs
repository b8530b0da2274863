//! Official test vectors: EIP-155, EIP-712 ("Mail") and EIP-191.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use alloy_primitives::{eip191_hash_message, keccak256};
use serde_json::json;
use tessera_chain::conformance::TestKey;
use tessera_chain::{ChainAdapter, MessageHash, Payload, SchemeId, SignMessage, SignedTransaction};
use tessera_chain_ethereum::Ethereum;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap()
}

/// EIP-155 example (https://eips.ethereum.org/EIPS/eip-155, "Example").
const EIP155_SIGNING_DATA: &str =
    "0xec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080";
const EIP155_SIGNING_HASH: &str =
    "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53";
const EIP155_SIGNED_TX: &str = "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83";
const EIP155_SENDER: &str = "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F";

#[test]
fn eip155_example() {
    let key = TestKey::from_seed(SchemeId::EcdsaCggmp24, [0x46; 32]);
    let wk = key.wallet_key();
    let addr = Ethereum.address("mainnet", wk).unwrap();
    assert_eq!(addr.address, EIP155_SENDER);
    assert_eq!(addr.kind, "eoa");

    let spec = json!({
        "type": "eip155", "nonce": 9, "to": "0x3535353535353535353535353535353535353535",
        "value_wei": "1000000000000000000", "gas_limit": 21000, "gas_price_wei": "20000000000"
    });
    let payload = Ethereum.build("mainnet", wk, &spec).unwrap();
    assert_eq!(payload.format, "eip155");
    assert_eq!(payload.bytes, unhex(EIP155_SIGNING_DATA));

    let parsed = Ethereum.parse("mainnet", wk, &payload).unwrap();
    assert_eq!(
        parsed.messages,
        vec![SignMessage::Preimage {
            hash: Some(MessageHash::Keccak256),
            bytes: unhex(EIP155_SIGNING_DATA)
        }]
    );
    assert_eq!(
        parsed.messages[0].digest32().unwrap().to_vec(),
        unhex(EIP155_SIGNING_HASH)
    );
    let i = &parsed.intent;
    assert_eq!(i.chain_id, Some(1));
    assert_eq!(i.nonce.as_deref(), Some("9"));
    assert_eq!(i.transfers.len(), 1);
    assert_eq!(i.transfers[0].amount.as_str(), "1000000000000000000");
    assert_eq!(i.fee.as_ref().unwrap().detail, "21000 gas × 20 gwei");
    assert_eq!(
        i.render(),
        "Send 1 ETH to 0x3535353535353535353535353535353535353535 on Ethereum mainnet, \
         max fee 0.00042 ETH"
    );

    // k256's RFC 6979 nonce gives the spec's signature exactly.
    let sig = key.sign(&parsed.messages[0]);
    let signed = Ethereum.finalize("mainnet", wk, &payload, &[sig]).unwrap();
    assert_eq!(signed.format, "eip2718");
    assert_eq!(signed.bytes, unhex(EIP155_SIGNED_TX));
    let txid = format!("0x{}", hex::encode(keccak256(unhex(EIP155_SIGNED_TX))));
    assert_eq!(signed.txid.as_deref(), Some(txid.as_str()));
    assert_eq!(signed.details["chain_id"], json!(1));
    assert_eq!(signed.details["signed_tx_hex"], json!(EIP155_SIGNED_TX));
    Ethereum.verify("mainnet", wk, &payload, &signed).unwrap();

    // The spec's signed transaction, taken as given, recovers to the spec's sender.
    let given = SignedTransaction {
        chain: "ethereum".into(),
        network: "mainnet".into(),
        format: "eip2718".into(),
        bytes: unhex(EIP155_SIGNED_TX),
        txid: Some(txid),
        details: json!({}),
    };
    Ethereum.verify("mainnet", wk, &payload, &given).unwrap();
}

/// EIP-712 "Mail" example (https://eips.ethereum.org/EIPS/eip-712, assets/eip-712/Example.js).
const MAIL_DOMAIN_SEPARATOR: &str =
    "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f";
const MAIL_HASH_STRUCT: &str = "c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e";
const MAIL_SIGNING_HASH: &str =
    "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2";
const MAIL_SIGNER: &str = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826";
const MAIL_SIGNATURE: &str = "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b915621c";

#[test]
fn eip712_mail_example() {
    let key = TestKey::from_seed(SchemeId::EcdsaDkls23, keccak256(b"cow").0);
    let wk = key.wallet_key();
    assert_eq!(
        Ethereum.address("mainnet", wk).unwrap().address,
        MAIL_SIGNER
    );

    let spec = json!({"type": "eip712", "typed_data": common::mail_typed_data(1)});
    let payload = Ethereum.build("mainnet", wk, &spec).unwrap();
    let parsed = Ethereum.parse("mainnet", wk, &payload).unwrap();
    let preimage = unhex(&format!("1901{MAIL_DOMAIN_SEPARATOR}{MAIL_HASH_STRUCT}"));
    assert_eq!(
        parsed.messages,
        vec![SignMessage::Preimage {
            hash: Some(MessageHash::Keccak256),
            bytes: preimage
        }]
    );
    assert_eq!(
        parsed.messages[0].digest32().unwrap().to_vec(),
        unhex(MAIL_SIGNING_HASH)
    );
    let m = parsed.intent.message.as_ref().unwrap();
    assert_eq!(m.standard, "eip712");
    assert_eq!(
        m.summary,
        "Mail for Ether Mail v1 on chain 1, verifying contract \
         0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
    );
    assert_eq!(
        m.content,
        r#"{"contents":"Hello, Bob!","from":{"name":"Cow","wallet":"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},"to":{"name":"Bob","wallet":"0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"}}"#
    );

    // Same RFC 6979 signature as the EIP's example.
    let sig = key.sign(&parsed.messages[0]);
    let signed = Ethereum.finalize("mainnet", wk, &payload, &[sig]).unwrap();
    assert_eq!(signed.format, "eip712_signature");
    assert_eq!(signed.bytes, unhex(MAIL_SIGNATURE));
    assert_eq!(signed.txid, None);
    assert_eq!(signed.details["signature_hex"], json!(MAIL_SIGNATURE));
    Ethereum.verify("mainnet", wk, &payload, &signed).unwrap();

    // The EIP's signature as given verifies for the EIP's signer, and only for it.
    let given = SignedTransaction {
        chain: "ethereum".into(),
        network: "mainnet".into(),
        format: "eip712_signature".into(),
        bytes: unhex(MAIL_SIGNATURE),
        txid: None,
        details: json!({}),
    };
    Ethereum.verify("mainnet", wk, &payload, &given).unwrap();
    let other = TestKey::from_seed(SchemeId::EcdsaDkls23, [7; 32]);
    assert!(Ethereum
        .verify("mainnet", other.wallet_key(), &payload, &given)
        .is_err());
}

#[test]
fn eip191_personal_sign() {
    let key = TestKey::from_seed(SchemeId::EcdsaCggmp24, [0x11; 32]);
    let wk = key.wallet_key();
    let payload = Payload {
        format: "personal_sign".into(),
        bytes: b"Hello World".to_vec(),
    };
    let parsed = Ethereum.parse("sepolia", wk, &payload).unwrap();
    let mut preimage = b"\x19Ethereum Signed Message:\n11".to_vec();
    preimage.extend_from_slice(b"Hello World");
    assert_eq!(
        parsed.messages,
        vec![SignMessage::Preimage {
            hash: Some(MessageHash::Keccak256),
            bytes: preimage
        }]
    );
    let digest = parsed.messages[0].digest32().unwrap();
    assert_eq!(digest, eip191_hash_message(b"Hello World").0);
    // ethers.js documentation, `hashMessage("Hello World")`.
    assert_eq!(
        hex::encode(digest),
        "a1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2"
    );
    let m = parsed.intent.message.as_ref().unwrap();
    assert_eq!(
        (m.standard.as_str(), m.summary.as_str()),
        ("personal_sign", "Hello World")
    );
    assert!(parsed.intent.risk_flags.is_empty());

    let sig = key.sign(&parsed.messages[0]);
    let signed = Ethereum.finalize("sepolia", wk, &payload, &[sig]).unwrap();
    assert_eq!(signed.format, "personal_sign_signature");
    assert_eq!(signed.bytes.len(), 65);
    assert!(matches!(signed.bytes[64], 27 | 28));
    Ethereum.verify("sepolia", wk, &payload, &signed).unwrap();
}

/// The plain-message path's Ethereum format is EIP-191 `personal_sign`: the digest every
/// signer computes equals alloy's `eip191_hash_message`, the text reads back, and a signature
/// over it recovers the wallet through the adapter's own `personal_sign` verification.
#[test]
fn offchain_messages_are_eip191() {
    let key = TestKey::from_seed(SchemeId::EcdsaDkls23, [0x46; 32]);
    for text in [&b"hello"[..], b"12345", b"0"] {
        let m = Ethereum
            .offchain_message(SchemeId::EcdsaDkls23, text)
            .unwrap();
        assert_eq!(
            m.digest32().unwrap(),
            eip191_hash_message(text).0,
            "{text:?}"
        );
        assert_eq!(
            Ethereum
                .read_offchain_message(SchemeId::EcdsaCggmp24, &m)
                .as_deref(),
            Some(text)
        );
        let payload = Payload {
            format: "personal_sign".into(),
            bytes: text.to_vec(),
        };
        let parsed = Ethereum
            .parse("mainnet", key.wallet_key(), &payload)
            .unwrap();
        assert_eq!(
            parsed.messages,
            vec![m.clone()],
            "the same preimage as personal_sign"
        );
        let signed = Ethereum
            .finalize("mainnet", key.wallet_key(), &payload, &[key.sign(&m)])
            .unwrap();
        Ethereum
            .verify("mainnet", key.wallet_key(), &payload, &signed)
            .unwrap();
    }
    // A wrong length field, typed data (0x19 0x01) and a transaction are not messages.
    let wrong_len = SignMessage::Preimage {
        hash: Some(MessageHash::Keccak256),
        bytes: b"\x19Ethereum Signed Message:\n6hello".to_vec(),
    };
    let typed = SignMessage::Preimage {
        hash: Some(MessageHash::Keccak256),
        bytes: [&[0x19, 0x01][..], &[7u8; 64]].concat(),
    };
    let tx = SignMessage::Preimage {
        hash: Some(MessageHash::Keccak256),
        bytes: unhex(EIP155_SIGNING_DATA),
    };
    for m in [wrong_len, typed, tx] {
        assert_eq!(
            Ethereum.read_offchain_message(SchemeId::EcdsaDkls23, &m),
            None
        );
    }
    assert!(Ethereum
        .offchain_message(SchemeId::Ed25519, b"hello")
        .is_err());
}

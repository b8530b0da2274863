//! BIP-341 `keyPathSpending` and BIP-143 vectors against the adapter's internal message,
//! signing and verification functions.
//!
//! Source: `bip-0341/wallet-test-vectors.json` in <https://github.com/bitcoin/bips> (also
//! `src/test/data/bip341_wallet_vectors.json` in Bitcoin Core), `keyPathSpending[0]`. The
//! vector's transaction spends nine inputs of different keys, with script trees and all
//! sighash types, so no single wallet can parse it through the public API; the inputs with the
//! types the adapter signs (txin 4: SIGHASH_DEFAULT, txin 3: SIGHASH_ALL) go through
//! `signing_message` and `verify_p2tr_key_spend` here, the other types through `bitcoin`'s
//! `SighashCache` directly (the adapter refuses them).
//!
//! BIP-143, "Native P2WPKH" example: <https://github.com/bitcoin/bips/blob/master/bip-0143.mediawiki#native-p2wpkh>.
//! The BIP publishes no previous transactions, so its PSBT cannot carry the `non_witness_utxo`
//! a P2WPKH wallet requires and `parse` refuses it; its preimage, signature and the finalized
//! transaction are checked here through `signing_message`, `sign::finalize` and `sign::verify`.

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::sighash::{Prevouts, SighashCache, TapSighashType};
use bitcoin::{consensus, Amount, ScriptBuf, Transaction, TxOut, Witness};
use tessera_chain::{MessageHash, SignMessage};

use crate::analyse::{signing_message, Analysis, InputSighash};
use crate::sign::verify_p2tr_key_spend;

const RAW_UNSIGNED_TX: &str = "02000000097de20cbff686da83a54981d2b9bab3586f4ca7e48f57f5b55963115f3b334e9c010000000000000000d7b7cab57b1393ace2d064f4d4a2cb8af6def61273e127517d44759b6dafdd990000000000fffffffff8e1f583384333689228c5d28eac13366be082dc57441760d957275419a418420000000000fffffffff0689180aa63b30cb162a73c6d2a38b7eeda2a83ece74310fda0843ad604853b0100000000feffffffaa5202bdf6d8ccd2ee0f0202afbbb7461d9264a25e5bfd3c5a52ee1239e0ba6c0000000000feffffff956149bdc66faa968eb2be2d2faa29718acbfe3941215893a2a3446d32acd050000000000000000000e664b9773b88c09c32cb70a2a3e4da0ced63b7ba3b22f848531bbb1d5d5f4c94010000000000000000e9aa6b8e6c9de67619e6a3924ae25696bb7b694bb677a632a74ef7eadfd4eabf0000000000ffffffffa778eb6a263dc090464cd125c466b5a99667720b1c110468831d058aa1b82af10100000000ffffffff0200ca9a3b000000001976a91406afd46bcdfd22ef94ac122aa11f241244a37ecc88ac807840cb0000000020ac9a87f5594be208f8532db38cff670c450ed2fea8fcdefcc9a663f78bab962b0065cd1d";

const UTXOS_SPENT: [(&str, u64); 9] = [
    (
        "512053a1f6e454df1aa2776a2814a721372d6258050de330b3c6d10ee8f4e0dda343",
        420000000,
    ),
    (
        "5120147c9c57132f6e7ecddba9800bb0c4449251c92a1e60371ee77557b6620f3ea3",
        462000000,
    ),
    (
        "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac",
        294000000,
    ),
    (
        "5120e4d810fd50586274face62b8a807eb9719cef49c04177cc6b76a9a4251d5450e",
        504000000,
    ),
    (
        "512091b64d5324723a985170e4dc5a0f84c041804f2cd12660fa5dec09fc21783605",
        630000000,
    ),
    ("00147dd65592d0ab2fe0d0257d571abf032cd9db93dc", 378000000),
    (
        "512075169f4001aa68f15bbed28b218df1d0a62cbbcf1188c6665110c293c907b831",
        672000000,
    ),
    (
        "5120712447206d7a5238acc7ff53fbe94a3b64539ad291c7cdbc490b7577e4b17df5",
        546000000,
    ),
    (
        "512077e30a5522dd9f894c3f8b8bd4c4b2cf82ca7da8a3ea6a239655c39c050ab220",
        588000000,
    ),
];

/// `inputSpending` entries: txin index, hashType, sigMsg (epoch byte 0x00 first), sigHash.
const INPUT_SPENDING: [(usize, u8, &str, &str); 7] = [
    (0, 3, "0003020000000065cd1de3b33bb4ef3a52ad1fffb555c0d82828eb22737036eaeb02a235d82b909c4c3f58a6964a4f5f8f0b642ded0a8a553be7622a719da71d1f5befcefcdee8e0fde623ad0f61ad2bca5ba6a7693f50fce988e17c3780bf2b1e720cfbb38fbdd52e2118959c7221ab5ce9e26c3cd67b22c24f8baa54bac281d8e6b05e400e6c3a957e0000000000d0418f0e9a36245b9a50ec87f8bf5be5bcae434337b87139c3a5b1f56e33cba0", "2514a6272f85cfa0f45eb907fcb0d121b808ed37c6ea160a5a9046ed5526d555"),
    (1, 131, "0083020000000065cd1d00d7b7cab57b1393ace2d064f4d4a2cb8af6def61273e127517d44759b6dafdd9900000000808f891b00000000225120147c9c57132f6e7ecddba9800bb0c4449251c92a1e60371ee77557b6620f3ea3ffffffffffcef8fb4ca7efc5433f591ecfc57391811ce1e186a3793024def5c884cba51d", "325a644af47e8a5a2591cda0ab0723978537318f10e6a63d4eed783b96a71a4d"),
    (3, 1, "0001020000000065cd1de3b33bb4ef3a52ad1fffb555c0d82828eb22737036eaeb02a235d82b909c4c3f58a6964a4f5f8f0b642ded0a8a553be7622a719da71d1f5befcefcdee8e0fde623ad0f61ad2bca5ba6a7693f50fce988e17c3780bf2b1e720cfbb38fbdd52e2118959c7221ab5ce9e26c3cd67b22c24f8baa54bac281d8e6b05e400e6c3a957ea2e6dab7c1f0dcd297c8d61647fd17d821541ea69c3cc37dcbad7f90d4eb4bc50003000000", "bf013ea93474aa67815b1b6cc441d23b64fa310911d991e713cd34c7f5d46669"),
    (4, 0, "0000020000000065cd1de3b33bb4ef3a52ad1fffb555c0d82828eb22737036eaeb02a235d82b909c4c3f58a6964a4f5f8f0b642ded0a8a553be7622a719da71d1f5befcefcdee8e0fde623ad0f61ad2bca5ba6a7693f50fce988e17c3780bf2b1e720cfbb38fbdd52e2118959c7221ab5ce9e26c3cd67b22c24f8baa54bac281d8e6b05e400e6c3a957ea2e6dab7c1f0dcd297c8d61647fd17d821541ea69c3cc37dcbad7f90d4eb4bc50004000000", "4f900a0bae3f1446fd48490c2958b5a023228f01661cda3496a11da502a7f7ef"),
    (6, 2, "0002020000000065cd1de3b33bb4ef3a52ad1fffb555c0d82828eb22737036eaeb02a235d82b909c4c3f58a6964a4f5f8f0b642ded0a8a553be7622a719da71d1f5befcefcdee8e0fde623ad0f61ad2bca5ba6a7693f50fce988e17c3780bf2b1e720cfbb38fbdd52e2118959c7221ab5ce9e26c3cd67b22c24f8baa54bac281d8e6b05e400e6c3a957e0006000000", "15f25c298eb5cdc7eb1d638dd2d45c97c4c59dcaec6679cfc16ad84f30876b85"),
    (7, 130, "0082020000000065cd1d00e9aa6b8e6c9de67619e6a3924ae25696bb7b694bb677a632a74ef7eadfd4eabf00000000804c8b2000000000225120712447206d7a5238acc7ff53fbe94a3b64539ad291c7cdbc490b7577e4b17df5ffffffff", "cd292de50313804dabe4685e83f923d2969577191a3e1d2882220dca88cbeb10"),
    (8, 129, "0081020000000065cd1da2e6dab7c1f0dcd297c8d61647fd17d821541ea69c3cc37dcbad7f90d4eb4bc500a778eb6a263dc090464cd125c466b5a99667720b1c110468831d058aa1b82af101000000002b0c230000000022512077e30a5522dd9f894c3f8b8bd4c4b2cf82ca7da8a3ea6a239655c39c050ab220ffffffff", "cccb739eca6c13a8a89e6e5cd317ffe55669bbda23f2fd37b0f18755e008edd2"),
];

const FULLY_SIGNED_TX: &str = "020000000001097de20cbff686da83a54981d2b9bab3586f4ca7e48f57f5b55963115f3b334e9c010000000000000000d7b7cab57b1393ace2d064f4d4a2cb8af6def61273e127517d44759b6dafdd990000000000fffffffff8e1f583384333689228c5d28eac13366be082dc57441760d957275419a41842000000006b4830450221008f3b8f8f0537c420654d2283673a761b7ee2ea3c130753103e08ce79201cf32a022079e7ab904a1980ef1c5890b648c8783f4d10103dd62f740d13daa79e298d50c201210279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798fffffffff0689180aa63b30cb162a73c6d2a38b7eeda2a83ece74310fda0843ad604853b0100000000feffffffaa5202bdf6d8ccd2ee0f0202afbbb7461d9264a25e5bfd3c5a52ee1239e0ba6c0000000000feffffff956149bdc66faa968eb2be2d2faa29718acbfe3941215893a2a3446d32acd050000000000000000000e664b9773b88c09c32cb70a2a3e4da0ced63b7ba3b22f848531bbb1d5d5f4c94010000000000000000e9aa6b8e6c9de67619e6a3924ae25696bb7b694bb677a632a74ef7eadfd4eabf0000000000ffffffffa778eb6a263dc090464cd125c466b5a99667720b1c110468831d058aa1b82af10100000000ffffffff0200ca9a3b000000001976a91406afd46bcdfd22ef94ac122aa11f241244a37ecc88ac807840cb0000000020ac9a87f5594be208f8532db38cff670c450ed2fea8fcdefcc9a663f78bab962b0141ed7c1647cb97379e76892be0cacff57ec4a7102aa24296ca39af7541246d8ff14d38958d4cc1e2e478e4d4a764bbfd835b16d4e314b72937b29833060b87276c030141052aedffc554b41f52b521071793a6b88d6dbca9dba94cf34c83696de0c1ec35ca9c5ed4ab28059bd606a4f3a657eec0bb96661d42921b5f50a95ad33675b54f83000141ff45f742a876139946a149ab4d9185574b98dc919d2eb6754f8abaa59d18b025637a3aa043b91817739554f4ed2026cf8022dbd83e351ce1fabc272841d2510a010140b4010dd48a617db09926f729e79c33ae0b4e94b79f04a1ae93ede6315eb3669de185a17d2b0ac9ee09fd4c64b678a0b61a0a86fa888a273c8511be83bfd6810f0247304402202b795e4de72646d76eab3f0ab27dfa30b810e856ff3a46c9a702df53bb0d8cc302203ccc4d822edab5f35caddb10af1be93583526ccfbade4b4ead350781e2f8adcd012102f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f90141a3785919a2ce3c4ce26f298c3d51619bc474ae24014bcdd31328cd8cfbab2eff3395fa0a16fe5f486d12f22a9cedded5ae74feb4bbe5351346508c5405bcfee0020141ea0c6ba90763c2d3a296ad82ba45881abb4f426b3f87af162dd24d5109edc1cdd11915095ba47c3a9963dc1e6c432939872bc49212fe34c632cd3ab9fed429c4820141bbc9584a11074e83bc8c6759ec55401f0ae7b03ef290c3139814f545b58a9f8127258000874f44bc46db7646322107d4d86aec8e73b8719a61fff761d75b5dd9810065cd1d";

fn tx(hex_tx: &str) -> Transaction {
    consensus::deserialize(&hex::decode(hex_tx).unwrap()).unwrap()
}

fn prevouts() -> Vec<TxOut> {
    UTXOS_SPENT
        .iter()
        .map(|(s, v)| TxOut {
            value: Amount::from_sat(*v),
            script_pubkey: ScriptBuf::from_bytes(hex::decode(s).unwrap()),
        })
        .collect()
}

#[test]
fn bip341_messages_for_default_and_all() {
    let tx = tx(RAW_UNSIGNED_TX);
    let prevouts = prevouts();
    let mut cache = SighashCache::new(&tx);
    let mut checked = 0;
    for (index, hash_type, sig_msg, sig_hash) in INPUT_SPENDING {
        let ty = match hash_type {
            0 => TapSighashType::Default,
            1 => TapSighashType::All,
            _ => continue,
        };
        let m = signing_message(&mut cache, index, &prevouts, InputSighash::Taproot(ty)).unwrap();
        let SignMessage::Preimage { hash, bytes } = &m else {
            panic!("expected a preimage")
        };
        assert_eq!(*hash, Some(MessageHash::TapSighash));
        // The vector's sigMsg starts with the epoch byte 0x00, as our message does.
        assert_eq!(hex::encode(bytes), sig_msg, "txin {index}");
        assert_eq!(hex::encode(m.digest32().unwrap()), sig_hash, "txin {index}");
        let crate_hash = cache
            .taproot_key_spend_signature_hash(index, &Prevouts::All(&prevouts), ty)
            .unwrap();
        assert_eq!(m.digest32().unwrap(), crate_hash.to_byte_array());
        checked += 1;
    }
    assert_eq!(checked, 2, "the vectors have one DEFAULT and one ALL input");
}

/// The sighash types the adapter refuses, checked against `bitcoin`'s cache directly: the
/// machinery the adapter relies on matches every published key-path vector.
#[test]
fn bip341_sighash_cache_matches_every_key_path_vector() {
    let tx = tx(RAW_UNSIGNED_TX);
    let prevouts = prevouts();
    let mut cache = SighashCache::new(&tx);
    for (index, hash_type, _, sig_hash) in INPUT_SPENDING {
        let ty = TapSighashType::from_consensus_u8(hash_type).unwrap();
        let h = cache
            .taproot_key_spend_signature_hash(index, &Prevouts::All(&prevouts), ty)
            .unwrap();
        assert_eq!(hex::encode(h.to_byte_array()), sig_hash, "txin {index}");
    }
}

#[test]
fn bip341_signed_inputs_verify_and_tampering_fails() {
    let signed = tx(FULLY_SIGNED_TX);
    let prevouts = prevouts();
    let secp = Secp256k1::verification_only();
    let mut cache = SighashCache::new(&signed);
    verify_p2tr_key_spend(
        &secp,
        &signed,
        &mut cache,
        4,
        &prevouts,
        TapSighashType::Default,
    )
    .unwrap();
    verify_p2tr_key_spend(
        &secp,
        &signed,
        &mut cache,
        3,
        &prevouts,
        TapSighashType::All,
    )
    .unwrap();
    // Another expected type than the one signed.
    assert!(verify_p2tr_key_spend(
        &secp,
        &signed,
        &mut cache,
        4,
        &prevouts,
        TapSighashType::All
    )
    .is_err());
    // Another amount of another input changes the sighash (BIP-341 commits to all amounts).
    // A fresh cache: a `SighashCache` keeps the prevout hashes of its first use.
    let mut other = prevouts.clone();
    other[2].value = Amount::from_sat(other[2].value.to_sat() + 1);
    let mut other_cache = SighashCache::new(&signed);
    assert!(verify_p2tr_key_spend(
        &secp,
        &signed,
        &mut other_cache,
        4,
        &other,
        TapSighashType::Default
    )
    .is_err());
    // A damaged signature.
    let mut bad = signed.clone();
    let mut sig = bad.input[4].witness.nth(0).unwrap().to_vec();
    sig[10] ^= 0x01;
    bad.input[4].witness = Witness::from_slice(&[sig]);
    let mut bad_cache = SighashCache::new(&bad);
    assert!(verify_p2tr_key_spend(
        &secp,
        &bad,
        &mut bad_cache,
        4,
        &prevouts,
        TapSighashType::Default
    )
    .is_err());
}

/// The Taproot finding: Bitcoin Core 25.1's libbitcoinconsensus accepts a P2TR spend whatever
/// its witness (no TAPROOT flag in that library), while it does check SegWit v0.
#[test]
fn core_25_libconsensus_does_not_check_taproot() {
    let signed = tx(FULLY_SIGNED_TX);
    let prevouts = prevouts();
    let raw = consensus::serialize(&signed);
    // The vector's P2WPKH input (txin 5) verifies, and fails with another amount.
    prevouts[5]
        .script_pubkey
        .verify(5, prevouts[5].value, &raw)
        .unwrap();
    assert!(prevouts[5]
        .script_pubkey
        .verify(5, Amount::from_sat(1), &raw)
        .is_err());
    // A garbage Taproot witness (and even an empty one) passes Core 25.1's check.
    let mut garbage = signed.clone();
    garbage.input[4].witness = Witness::from_slice(&[[0x42u8; 64]]);
    let raw_garbage = consensus::serialize(&garbage);
    assert!(prevouts[4]
        .script_pubkey
        .verify(4, prevouts[4].value, &raw_garbage)
        .is_ok());
    // ... which is why the adapter verifies BIP-340 itself.
    let secp = Secp256k1::verification_only();
    let mut cache = SighashCache::new(&garbage);
    assert!(verify_p2tr_key_spend(
        &secp,
        &garbage,
        &mut cache,
        4,
        &prevouts,
        TapSighashType::Default
    )
    .is_err());
}

// --- BIP-143 Native P2WPKH (values copied from the BIP text) ---
const BIP143_UNSIGNED_TX: &str = "0100000002fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f0000000000eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac11000000";
/// Input 0 is a P2PK of 6.25 BTC, which the wallet cannot spend; here it is replaced by a P2WPKH
/// coin of the input-1 key. A BIP-143 preimage commits to the *other* inputs only through their
/// outpoints and sequences, which are unchanged, so input 1's preimage is exactly the BIP's.
const BIP143_INPUT0_SAT: u64 = 625_000_000;
const BIP143_INPUT1_SCRIPT: &str = "00141d0f172a0ecb48aee1be1f2687d2963ae33f71a1";
const BIP143_INPUT1_SAT: u64 = 600_000_000;
const BIP143_INPUT1_PRIVKEY: &str =
    "619c335025c7f4012e556c2a58b2506e30b8511b53ade95ea316fd8c3286feb9";
const BIP143_PREIMAGE: &str = "0100000096b827c8483d4e9b96712b6713a7b68d6e8003a781feba36c31143470b4efd3752b0a642eea2fb7ae638c36f6252b6750293dbe574a806984b8e4d8548339a3bef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a010000001976a9141d0f172a0ecb48aee1be1f2687d2963ae33f71a188ac0046c32300000000ffffffff863ef3e1a92afbfdb97f31ad0fc7683ee943e9abcf2501590ff8f6551f47e5e51100000001000000";
const BIP143_SIGHASH: &str = "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670";
const BIP143_SIGNATURE: &str = "304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee";

fn bip143_prevouts() -> Vec<TxOut> {
    [BIP143_INPUT0_SAT, BIP143_INPUT1_SAT]
        .iter()
        .map(|sat| TxOut {
            value: Amount::from_sat(*sat),
            script_pubkey: ScriptBuf::from_bytes(hex::decode(BIP143_INPUT1_SCRIPT).unwrap()),
        })
        .collect()
}

/// The adapter's view of the BIP-143 transaction for the input-1 key, as `analyse` would give
/// it if the previous transactions were known.
fn bip143_analysis(
    signer: &tessera_chain::conformance::TestKey,
) -> (crate::wallet::Wallet, Analysis) {
    let wallet =
        crate::wallet::Wallet::new(bitcoin::Network::Bitcoin, signer.wallet_key()).unwrap();
    let unsigned = tx(BIP143_UNSIGNED_TX);
    let prevouts = bip143_prevouts();
    let mut psbt = bitcoin::psbt::Psbt::from_unsigned_tx(unsigned.clone()).unwrap();
    for (input, prevout) in psbt.inputs.iter_mut().zip(&prevouts) {
        input.witness_utxo = Some(prevout.clone());
    }
    let sighashes = vec![InputSighash::EcdsaAll; 2];
    let mut cache = SighashCache::new(&unsigned);
    let messages = (0..2)
        .map(|i| signing_message(&mut cache, i, &prevouts, InputSighash::EcdsaAll).unwrap())
        .collect();
    let intent = tessera_chain::Intent::new(
        crate::CHAIN,
        "mainnet",
        tessera_chain::IntentKind::Transfer,
        wallet.address.to_string(),
    );
    let analysis = Analysis {
        psbt,
        prevouts,
        sighashes,
        parsed: tessera_chain::Parsed { intent, messages },
    };
    (wallet, analysis)
}

fn bip143_signer() -> tessera_chain::conformance::TestKey {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(BIP143_INPUT1_PRIVKEY, &mut seed).unwrap();
    tessera_chain::conformance::TestKey::from_seed(tessera_chain::SchemeId::EcdsaCggmp24, seed)
}

#[test]
fn bip143_native_p2wpkh_preimage_and_sighash() {
    let (_, analysis) = bip143_analysis(&bip143_signer());
    let m = &analysis.parsed.messages[1];
    let SignMessage::Preimage { hash, bytes } = m else {
        panic!("expected a preimage")
    };
    assert_eq!(*hash, Some(MessageHash::DoubleSha256));
    assert_eq!(hex::encode(bytes), BIP143_PREIMAGE, "BIP-143 preimage");
    assert_eq!(
        hex::encode(m.digest32().unwrap()),
        BIP143_SIGHASH,
        "BIP-143 sigHash"
    );
    // The `bitcoin` crate's own sighash agrees, for both inputs.
    let unsigned = tx(BIP143_UNSIGNED_TX);
    let mut cache = SighashCache::new(&unsigned);
    for (i, prevout) in analysis.prevouts.iter().enumerate() {
        let h = cache
            .p2wpkh_signature_hash(
                i,
                &prevout.script_pubkey,
                prevout.value,
                bitcoin::sighash::EcdsaSighashType::All,
            )
            .unwrap();
        assert_eq!(
            analysis.parsed.messages[i].digest32().unwrap(),
            h.to_byte_array()
        );
    }
}

/// Signing the BIP-143 example with its own private key reproduces the BIP's signature (both
/// are RFC 6979 deterministic ECDSA, low-s), and the finalized transaction verifies.
#[test]
fn bip143_signature_finalize_and_verify() {
    let signer = bip143_signer();
    let (wallet, analysis) = bip143_analysis(&signer);
    let sigs: Vec<tessera_chain::Signature> = analysis
        .parsed
        .messages
        .iter()
        .map(|m| signer.sign(m))
        .collect();
    let signed = crate::sign::finalize("mainnet", &wallet, analysis.clone(), &sigs).unwrap();
    crate::sign::verify("mainnet", &wallet, &analysis, &signed).unwrap();
    let signed_tx: Transaction = consensus::deserialize(&signed.bytes).unwrap();
    let mut expected_sig = hex::decode(BIP143_SIGNATURE).unwrap();
    expected_sig.push(0x01); // SIGHASH_ALL
    assert_eq!(
        signed_tx.input[1].witness.nth(0).unwrap(),
        expected_sig.as_slice()
    );
}

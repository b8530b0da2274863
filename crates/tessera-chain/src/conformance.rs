//! The conformance suite every chain adapter runs (feature `conformance`, test builds only).
//!
//! ```ignore
//! #[test]
//! fn conformance() {
//!     tessera_chain::conformance::run(&MyAdapter, &MyFixtures);
//! }
//! ```
//!
//! It signs with [`TestKey`], a plain single key that stands in for the threshold group (the
//! signatures are the same kind of object), then checks the result with the adapter's own
//! independent verifier. End-to-end tests through a real cluster sign with the threshold schemes.

use std::panic::{catch_unwind, AssertUnwindSafe};

use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::elliptic_curve::PrimeField;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::{
    ChainAdapter, ChainError, Intent, Payload, PublicKey, SchemeId, SignMessage, Signature,
    WalletKey, INTENT_VERSION,
};

/// A single private key standing in for a threshold group in adapter tests. **Test only.**
pub struct TestKey {
    scheme: SchemeId,
    secret: Secret,
    public: PublicKey,
}

enum Secret {
    Secp(k256::SecretKey),
    Ed(ed25519_dalek::SigningKey),
}

impl TestKey {
    /// A fresh random key for `scheme`.
    pub fn generate(scheme: SchemeId) -> Self {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        Self::from_seed(scheme, seed)
    }

    /// A key from a 32-byte seed (a secp256k1 scalar or an Ed25519 seed). Panics on a seed that
    /// is not a valid secp256k1 scalar (test helper).
    pub fn from_seed(scheme: SchemeId, seed: [u8; 32]) -> Self {
        match scheme {
            SchemeId::Ed25519 => {
                let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
                let public = PublicKey::Ed25519(sk.verifying_key().to_bytes());
                TestKey {
                    scheme,
                    secret: Secret::Ed(sk),
                    public,
                }
            }
            _ => {
                let sk = k256::SecretKey::from_slice(&seed).expect("valid secp256k1 scalar");
                let point = sk.public_key().to_encoded_point(true);
                let mut pk = [0u8; 33];
                pk.copy_from_slice(point.as_bytes());
                TestKey {
                    scheme,
                    secret: Secret::Secp(sk),
                    public: PublicKey::Secp256k1(pk),
                }
            }
        }
    }

    /// Scheme.
    pub fn scheme(&self) -> SchemeId {
        self.scheme
    }

    /// The public key (for `schnorr-bip340`: the Taproot internal key).
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// As the adapters take it.
    pub fn wallet_key(&self) -> WalletKey<'_> {
        WalletKey {
            scheme: self.scheme,
            public_key: &self.public,
        }
    }

    /// Signs like the threshold scheme would: ECDSA low-s with recovery id over
    /// [`SignMessage::digest32`]; BIP-340 under the BIP-341 output key (key-path spend, no
    /// script tree); Ed25519 over [`SignMessage::ed25519_bytes`].
    pub fn sign(&self, m: &SignMessage) -> Signature {
        match (&self.secret, self.scheme) {
            (Secret::Ed(sk), _) => {
                use ed25519_dalek::Signer;
                Signature::Ed25519(sk.sign(&m.ed25519_bytes()).to_bytes())
            }
            (Secret::Secp(sk), SchemeId::SchnorrBip340) => {
                let digest = m.digest32().expect("32-byte message");
                let tweaked = taproot_tweaked_secret(sk);
                let signer = k256::schnorr::SigningKey::from_bytes(&tweaked.to_bytes())
                    .expect("tweaked key");
                let mut aux = [0u8; 32];
                OsRng.fill_bytes(&mut aux);
                let sig = signer.sign_raw(&digest, &aux).expect("schnorr sign");
                Signature::Bip340(sig.to_bytes())
            }
            (Secret::Secp(sk), _) => {
                let digest = m.digest32().expect("32-byte message");
                let signer = k256::ecdsa::SigningKey::from(sk.clone());
                let (sig, recid) = signer
                    .sign_prehash_recoverable(&digest)
                    .expect("ecdsa sign");
                let (sig, recid) = match sig.normalize_s() {
                    Some(low) => (low, recid.to_byte() ^ 1),
                    None => (sig, recid.to_byte()),
                };
                let bytes = sig.to_bytes();
                let mut r = [0u8; 32];
                let mut s = [0u8; 32];
                r.copy_from_slice(&bytes[..32]);
                s.copy_from_slice(&bytes[32..]);
                Signature::Ecdsa {
                    r,
                    s,
                    recovery_id: recid & 1,
                }
            }
        }
    }
}

/// `d' = ±d + H_TapTweak(P.x)` with the sign chosen so that `P` has an even y (BIP-341).
fn taproot_tweaked_secret(sk: &k256::SecretKey) -> k256::Scalar {
    let point = sk.public_key().to_encoded_point(true);
    let bytes = point.as_bytes();
    let d: k256::Scalar = *sk.to_nonzero_scalar();
    let d = if bytes[0] == 0x03 { -d } else { d };
    let tag = Sha256::digest(b"TapTweak");
    let t: [u8; 32] = Sha256::new()
        .chain_update(tag)
        .chain_update(tag)
        .chain_update(&bytes[1..])
        .finalize()
        .into();
    let t = Option::<k256::Scalar>::from(k256::Scalar::from_repr(t.into())).expect("tweak < n");
    d + t
}

/// What an adapter's test supplies to the suite.
pub trait Fixtures {
    /// Valid payloads that `key` owns (spends from / pays with) on `network`, each with a
    /// name for failure messages. Cover every payload format the adapter accepts.
    fn payloads(&self, network: &str, key: WalletKey<'_>) -> Vec<(String, Payload)>;
}

/// Runs the shared conformance suite on `adapter`; panics with a message naming the case on
/// the first failure.
pub fn run(adapter: &dyn ChainAdapter, fixtures: &dyn Fixtures) {
    assert!(!adapter.networks().is_empty(), "adapter lists no networks");
    assert!(!adapter.schemes().is_empty(), "adapter lists no schemes");
    let mut formats_seen: Vec<String> = Vec::new();
    for &scheme in adapter.schemes() {
        let key = TestKey::generate(scheme);
        let other = TestKey::generate(scheme);
        for &network in adapter.networks() {
            let ctx = format!("{} {network} {scheme}", adapter.chain());
            check_addresses(adapter, network, &key, &other, &ctx);
            let cases = fixtures.payloads(network, key.wallet_key());
            assert!(!cases.is_empty(), "{ctx}: fixtures gave no payloads");
            for (name, payload) in cases {
                let ctx = format!("{ctx} [{name}]");
                formats_seen.push(payload.format.clone());
                check_payload(adapter, network, &key, &other, &payload, &ctx);
                check_not_offchain(adapter, network, &key, &payload, &ctx);
            }
        }
        check_refusals(adapter, &key, fixtures);
        check_offchain_message(adapter, scheme);
    }
    for f in adapter.formats() {
        assert!(
            formats_seen.iter().any(|s| s == f),
            "{}: no fixture covers format {f}",
            adapter.chain()
        );
    }
    check_random_bytes(adapter);
}

fn check_addresses(
    adapter: &dyn ChainAdapter,
    network: &str,
    key: &TestKey,
    other: &TestKey,
    ctx: &str,
) {
    let a = adapter
        .address(network, key.wallet_key())
        .unwrap_or_else(|e| panic!("{ctx}: address: {e}"));
    assert!(
        !a.address.is_empty() && !a.kind.is_empty(),
        "{ctx}: empty address"
    );
    let again = adapter.address(network, key.wallet_key()).expect("address");
    assert_eq!(a, again, "{ctx}: address is not deterministic");
    let b = adapter
        .address(network, other.wallet_key())
        .expect("address");
    assert_ne!(a.address, b.address, "{ctx}: two keys share an address");
}

fn check_payload(
    adapter: &dyn ChainAdapter,
    network: &str,
    key: &TestKey,
    other: &TestKey,
    payload: &Payload,
    ctx: &str,
) {
    let wk = key.wallet_key();
    let parsed = adapter
        .parse(network, wk, payload)
        .unwrap_or_else(|e| panic!("{ctx}: parse: {e}"));
    let again = adapter.parse(network, wk, payload).expect("second parse");
    assert_eq!(parsed, again, "{ctx}: parse is not deterministic");
    let intent = &parsed.intent;
    assert_eq!(intent.version, INTENT_VERSION, "{ctx}: intent version");
    assert_eq!(intent.chain, adapter.chain(), "{ctx}: intent chain");
    assert_eq!(intent.network, network, "{ctx}: intent network");
    let address = adapter.address(network, wk).expect("address").address;
    assert_eq!(
        intent.source, address,
        "{ctx}: intent source is not the wallet"
    );
    assert!(!parsed.messages.is_empty(), "{ctx}: nothing to sign");
    assert!(!intent.render().is_empty(), "{ctx}: empty rendering");
    assert_eq!(
        Intent::from_canonical_bytes(&intent.canonical_bytes()).as_ref(),
        Ok(intent),
        "{ctx}: canonical encoding does not round-trip"
    );
    let hash = parsed.intent_hash().expect("intent hash");

    // The payload's own network binding.
    for &n2 in adapter.networks().iter().filter(|n| **n != network) {
        match adapter.parse(n2, wk, payload) {
            Err(ChainError::WrongNetwork { .. }) => {}
            Ok(p) if !adapter.payload_binds_network(&payload.format) => {
                assert_eq!(p.intent.network, n2, "{ctx}: intent network under {n2}")
            }
            other => panic!("{ctx}: parsing under network {n2} gave {other:?}"),
        }
    }
    // Another key: refused as not owned, or (payloads that do not name their signer) an intent
    // whose source is that key's address.
    match adapter.parse(network, other.wallet_key(), payload) {
        Err(ChainError::NotOwned { .. }) => {}
        Ok(p) => {
            let theirs = adapter
                .address(network, other.wallet_key())
                .expect("address");
            assert_eq!(p.intent.source, theirs.address, "{ctx}: foreign key parse");
            assert_ne!(
                p.intent_hash().expect("hash"),
                hash,
                "{ctx}: foreign key hash"
            );
        }
        Err(e) => panic!("{ctx}: foreign key gave {e:?}, expected not_owned"),
    }
    // Truncations never panic, and never yield the same intent hash.
    let len = payload.bytes.len();
    for cut in [0, 1, len / 3, len / 2, len.saturating_sub(1)] {
        if cut >= len {
            continue;
        }
        let p = Payload {
            format: payload.format.clone(),
            bytes: payload.bytes[..cut].to_vec(),
        };
        let r = no_panic(ctx, "truncated payload", || adapter.parse(network, wk, &p));
        if let Ok(p) = r {
            assert_ne!(
                p.intent_hash().ok(),
                Some(hash),
                "{ctx}: truncation kept hash"
            );
        }
    }
    // Byte flips never panic.
    for i in spread(len, 48) {
        let mut p = payload.clone();
        p.bytes[i] ^= 0x41;
        let _ = no_panic(ctx, "flipped payload byte", || {
            adapter.parse(network, wk, &p)
        });
    }

    // Sign, finalize, verify with the chain's own verifier.
    let sigs: Vec<Signature> = parsed.messages.iter().map(|m| key.sign(m)).collect();
    let signed = adapter
        .finalize(network, wk, payload, &sigs)
        .unwrap_or_else(|e| panic!("{ctx}: finalize: {e}"));
    assert_eq!(signed.chain, adapter.chain(), "{ctx}: signed chain");
    assert_eq!(signed.network, network, "{ctx}: signed network");
    adapter
        .verify(network, wk, payload, &signed)
        .unwrap_or_else(|e| panic!("{ctx}: independent verification failed: {e}"));

    // Wrong signature counts are refused.
    if !sigs.is_empty() {
        let r = adapter.finalize(network, wk, payload, &sigs[..sigs.len() - 1]);
        assert!(
            matches!(r, Err(ChainError::Signatures(_))),
            "{ctx}: too few signatures gave {r:?}"
        );
        let mut more = sigs.clone();
        more.push(sigs[0].clone());
        let r = adapter.finalize(network, wk, payload, &more);
        assert!(
            matches!(r, Err(ChainError::Signatures(_))),
            "{ctx}: too many signatures gave {r:?}"
        );
    }
    // Signatures by another key, or tampered ones, never verify.
    let foreign: Vec<Signature> = parsed.messages.iter().map(|m| other.sign(m)).collect();
    must_not_verify(
        adapter,
        network,
        key,
        payload,
        &foreign,
        ctx,
        "foreign signatures",
    );
    let mut tampered = sigs.clone();
    tampered[0] = flip_signature(&tampered[0]);
    must_not_verify(
        adapter,
        network,
        key,
        payload,
        &tampered,
        ctx,
        "tampered signature",
    );
    // A flipped byte of the signed transaction never verifies.
    for i in spread(signed.bytes.len(), 12) {
        let mut s = signed.clone();
        s.bytes[i] ^= 0x01;
        let r = no_panic(ctx, "tampered signed tx", || {
            adapter.verify(network, wk, payload, &s)
        });
        assert!(
            r.is_err(),
            "{ctx}: signed tx with byte {i} flipped verified"
        );
    }
}

/// The off-chain message format round-trips, is canonical and belongs to this chain's schemes
/// only.
fn check_offchain_message(adapter: &dyn ChainAdapter, scheme: SchemeId) {
    let ctx = format!("{} {scheme} off-chain message", adapter.chain());
    for text in [&b"hello"[..], b"12 digits first", b"Tessera \xe2\x9c\x93"] {
        let m = adapter
            .offchain_message(scheme, text)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(
            adapter.read_offchain_message(scheme, &m).as_deref(),
            Some(text),
            "{ctx}: reads back"
        );
        if let SignMessage::Preimage { hash, bytes } = &m {
            for cut in [1, bytes.len() / 2] {
                let shorter = SignMessage::Preimage {
                    hash: *hash,
                    bytes: bytes[..bytes.len() - cut].to_vec(),
                };
                if let Some(t) = adapter.read_offchain_message(scheme, &shorter) {
                    assert_eq!(
                        adapter.offchain_message(scheme, &t).ok().as_ref(),
                        Some(&shorter),
                        "{ctx}: a truncated message reads only if it is itself canonical"
                    );
                }
            }
            let mut flipped = bytes.clone();
            flipped[0] ^= 0x01;
            let flipped = SignMessage::Preimage {
                hash: *hash,
                bytes: flipped,
            };
            assert_eq!(
                adapter.read_offchain_message(scheme, &flipped),
                None,
                "{ctx}"
            );
        }
        assert_eq!(
            adapter.read_offchain_message(scheme, &SignMessage::danger_raw_digest([7; 32])),
            None,
            "{ctx}: a raw digest is never an off-chain message"
        );
    }
    assert!(
        adapter.offchain_message(scheme, b"").is_err(),
        "{ctx}: empty"
    );
    for other in SchemeId::ALL {
        if !adapter.schemes().contains(&other) {
            assert!(
                adapter.offchain_message(other, b"x").is_err(),
                "{ctx}: {other}"
            );
        }
    }
}

/// No message of a transaction payload reads as an off-chain message: a transaction signature
/// is never obtainable through the plain-message path.
fn check_not_offchain(
    adapter: &dyn ChainAdapter,
    network: &str,
    key: &TestKey,
    payload: &Payload,
    ctx: &str,
) {
    let Ok(parsed) = adapter.parse(network, key.wallet_key(), payload) else {
        return;
    };
    if parsed.intent.kind == crate::IntentKind::SignMessage {
        return;
    }
    for m in &parsed.messages {
        assert_eq!(
            adapter.read_offchain_message(key.scheme(), m),
            None,
            "{ctx}: a transaction message reads as an off-chain message"
        );
    }
}

fn must_not_verify(
    adapter: &dyn ChainAdapter,
    network: &str,
    key: &TestKey,
    payload: &Payload,
    sigs: &[Signature],
    ctx: &str,
    what: &str,
) {
    let wk = key.wallet_key();
    if let Ok(signed) = no_panic(ctx, what, || adapter.finalize(network, wk, payload, sigs)) {
        assert!(
            adapter.verify(network, wk, payload, &signed).is_err(),
            "{ctx}: {what} verified"
        );
    }
}

fn check_refusals(adapter: &dyn ChainAdapter, key: &TestKey, fixtures: &dyn Fixtures) {
    let network = adapter.networks()[0];
    let cases = fixtures.payloads(network, key.wallet_key());
    let (name, payload) = &cases[0];
    let ctx = format!("{} {network} [{name}]", adapter.chain());
    let r = adapter.parse("no-such-network", key.wallet_key(), payload);
    assert!(
        matches!(r, Err(ChainError::Unsupported { .. })),
        "{ctx}: unknown network gave {r:?}"
    );
    let bad_format = Payload {
        format: "no-such-format".into(),
        bytes: payload.bytes.clone(),
    };
    let r = adapter.parse(network, key.wallet_key(), &bad_format);
    assert!(
        matches!(r, Err(ChainError::Unsupported { .. })),
        "{ctx}: unknown format gave {r:?}"
    );
    for scheme in SchemeId::ALL {
        if adapter.schemes().contains(&scheme) {
            continue;
        }
        let wrong = TestKey::generate(scheme);
        let r = adapter.parse(network, wrong.wallet_key(), payload);
        assert!(
            matches!(r, Err(ChainError::Unsupported { .. })),
            "{ctx}: scheme {scheme} gave {r:?}"
        );
        let r = adapter.address(network, wrong.wallet_key());
        assert!(
            matches!(r, Err(ChainError::Unsupported { .. })),
            "{ctx}: address for scheme {scheme} gave {r:?}"
        );
    }
}

fn check_random_bytes(adapter: &dyn ChainAdapter) {
    let key = TestKey::generate(adapter.schemes()[0]);
    let network = adapter.networks()[0];
    for format in adapter.formats() {
        for i in 0..256usize {
            let mut bytes = vec![0u8; (i * 7) % 300];
            OsRng.fill_bytes(&mut bytes);
            let p = Payload {
                format: format.to_string(),
                bytes,
            };
            let _ = no_panic(
                &format!("{} {format}", adapter.chain()),
                "random bytes",
                || adapter.parse(network, key.wallet_key(), &p),
            );
        }
    }
}

fn flip_signature(s: &Signature) -> Signature {
    match s.clone() {
        Signature::Ecdsa {
            r,
            mut s,
            recovery_id,
        } => {
            s[31] ^= 0x02;
            Signature::Ecdsa { r, s, recovery_id }
        }
        Signature::Bip340(mut b) => {
            b[63] ^= 0x02;
            Signature::Bip340(b)
        }
        Signature::Ed25519(mut b) => {
            b[10] ^= 0x02;
            Signature::Ed25519(b)
        }
    }
}

/// Up to `count` positions spread over `0..len`.
fn spread(len: usize, count: usize) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    let step = (len / count).max(1);
    (0..len).step_by(step).take(count).collect()
}

fn no_panic<T>(ctx: &str, what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{ctx}: panicked on {what}"))
}

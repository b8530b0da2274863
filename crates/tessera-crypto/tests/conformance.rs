//! The conformance suite: one generic body, run for every scheme.
//!
//! Every signature is checked by an independent verifier: libsecp256k1 (through the `bitcoin`
//! crate) for ECDSA, BIP-340 and the BIP-341 tweak and BIP-32 derivation; `ed25519-dalek` for
//! Ed25519. The scheme's own verifier is never the only judge.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tessera_crypto::sim::{self, PartyError};
use tessera_crypto::{
    hd, scheme, DerivationPath, Error, KeyShare, MemoryLedger, Message, Presignature, Scheme,
    SchemeId, SessionId, SignMessage, ThresholdParams,
};

/// The generic conformance body for one scheme and one t-of-n.
fn conformance(id: SchemeId, t: u16, n: u16, every_subset: bool) {
    let s = scheme(id);
    let shares = keygen(s, t, n);
    let pk = shares[0].public_key().clone();
    for (i, sh) in shares.iter().enumerate() {
        assert_eq!(sh.public_key(), &pk, "all parties agree on the key");
        assert_eq!(
            sh.chain_code(),
            shares[0].chain_code(),
            "all parties agree on the chain code"
        );
        assert_eq!(sh.index(), i as u16);
        assert_eq!(sh.params(), ThresholdParams { t, n });
        assert_eq!(sh.scheme(), id);
        // Serialization round trip with full re-validation.
        let bytes = sh.to_bytes();
        let back = KeyShare::from_bytes(&bytes).expect("share round trip");
        assert_eq!(*back.to_bytes(), *bytes);
        let debug = format!("{sh:?}");
        assert!(debug.contains("[REDACTED]"));
        // Header: magic, version, tag, t, n, index, key length + key, chain code, payload length.
        let header = 4 + 2 + 1 + 2 + 2 + 2 + 1 + pk.as_bytes().len() + 32 + 4;
        let secret_window = &bytes[header + 40..header + 56];
        assert!(
            !debug.contains(&hex::encode(secret_window)),
            "Debug must not leak secret bytes"
        );
    }

    // Every t-subset signs; the signature verifies independently.
    let sets = if every_subset {
        subsets(n, t)
    } else {
        vec![(0..t).collect(), (n - t..n).collect()]
    };
    let msg = message_for(id, "tessera conformance");
    for signers in sets {
        let sigs = sign(s, &shares, &signers, &msg, &DerivationPath::root())
            .unwrap_or_else(|e| panic!("{id} signers {signers:?}: {e:?}"));
        for sig in &sigs {
            verify_independently(id, &pk, &msg, sig);
        }
    }

    // t-1 parties cannot sign: the API refuses the set, and a session of t-1 live parties stalls.
    let short: Vec<u16> = (0..t - 1).collect();
    assert!(matches!(
        s.sign(&shares[0], sid(), &short, &msg, &DerivationPath::root()),
        Err(Error::InvalidArgs(_))
    ));
    let full: Vec<u16> = (0..t).collect();
    let id_short = sid();
    let live = short
        .iter()
        .map(|&p| {
            s.sign(
                &shares[usize::from(p)],
                id_short,
                &full,
                &msg,
                &DerivationPath::root(),
            )
            .unwrap()
        })
        .collect();
    let err = sim::run(live).expect_err("t-1 parties must not produce a signature");
    assert!(matches!(err.error, Error::Misuse(_)), "{err:?}");

    // Derived keys sign, and the child key matches an independent BIP-32 derivation.
    let path = DerivationPath::parse("m/7/3/1000").unwrap();
    let child = hd::derive_public_key(&pk, &shares[0].chain_code(), &path).unwrap();
    assert_ne!(child, pk);
    check_bip32(&pk, shares[0].chain_code(), &path, &child);
    let signers: Vec<u16> = (n - t..n).collect();
    let sigs = sign(s, &shares, &signers, &msg, &path).expect("derived signing");
    verify_independently(id, &child, &msg, &sigs[0]);
    assert!(
        s.verify(&pk, &msg, &sigs[0]).is_err(),
        "child signature must not verify under the root key"
    );

    if id.has_presignatures() {
        presigned(s, &shares, &signers);
    } else {
        assert!(matches!(
            s.presign(&shares[0], sid(), &full),
            Err(Error::Unsupported { .. })
        ));
    }
}

fn presign(
    s: &dyn Scheme,
    shares: &[KeyShare],
    signers: &[u16],
) -> (Vec<Presignature>, tessera_crypto::PresignPublic) {
    let id = sid();
    let sessions = signers
        .iter()
        .map(|&p| {
            s.presign(&shares[usize::from(p)], id, signers)
                .expect("presign session")
        })
        .collect();
    let out = sim::run(sessions).expect("presign");
    let public = out[0].1.clone();
    assert!(
        out.iter().all(|(_, p)| *p == public),
        "all parties agree on public presign data"
    );
    (out.into_iter().map(|(p, _)| p).collect(), public)
}

fn presigned(s: &dyn Scheme, shares: &[KeyShare], signers: &[u16]) {
    let id = s.id();
    let pk = shares[0].public_key().clone();
    let cc = shares[0].chain_code();
    let msg = message_for(id, "one-round signing");
    let (presigs, public) = presign(s, shares, signers);
    let stored: Vec<Vec<u8>> = presigs.iter().map(|p| p.to_bytes().to_vec()).collect();
    let mut ledgers: Vec<MemoryLedger> = signers.iter().map(|_| MemoryLedger::default()).collect();
    let partials: Vec<_> = presigs
        .into_iter()
        .zip(signers)
        .zip(ledgers.iter_mut())
        .map(|((p, &i), l)| {
            s.issue_partial(&shares[usize::from(i)], p, &msg, &DerivationPath::root(), l)
                .unwrap()
        })
        .collect();
    let sig = s
        .combine(&pk, &cc, &public, &partials, &msg, &DerivationPath::root())
        .unwrap();
    verify_independently(id, &pk, &msg, &sig);

    // A presignature copied out of storage is refused the second time.
    let again = Presignature::from_bytes(&stored[0]).unwrap();
    let err = s
        .issue_partial(
            &shares[usize::from(signers[0])],
            again,
            &message_for(id, "other"),
            &DerivationPath::root(),
            &mut ledgers[0],
        )
        .unwrap_err();
    assert!(matches!(err, Error::PresignatureReused { .. }), "{err:?}");

    // A tampered partial is caught at combine time, naming its issuer.
    let mut bad = partials.clone();
    let last = bad.len() - 1;
    bad[last].bytes = partials[0].bytes.clone();
    let err = s
        .combine(&pk, &cc, &public, &bad, &msg, &DerivationPath::root())
        .unwrap_err();
    assert!(
        err.culprits().contains(&bad[last].from) || matches!(err, Error::Malformed { .. }),
        "{err:?}"
    );

    let path = DerivationPath::parse("m/1/2").unwrap();
    if id == SchemeId::EcdsaCggmp24 {
        // The crate's two rules, enforced by our types: no HD, no raw digest.
        let (presigs, _) = presign(s, shares, signers);
        let mut presigs = presigs.into_iter();
        let e = s.issue_partial(
            &shares[usize::from(signers[0])],
            presigs.next().unwrap(),
            &msg,
            &path,
            &mut MemoryLedger::default(),
        );
        assert!(matches!(e, Err(Error::PresignatureNotAllowed(_))), "{e:?}");
        let e = s.issue_partial(
            &shares[usize::from(signers[1])],
            presigs.next().unwrap(),
            &SignMessage::danger_raw_digest([7; 32]),
            &DerivationPath::root(),
            &mut MemoryLedger::default(),
        );
        assert!(matches!(e, Err(Error::PresignatureNotAllowed(_))), "{e:?}");
    } else {
        // FROST nonces are key-independent: one-round signing of a derived key works.
        let (presigs, public) = presign(s, shares, signers);
        let partials: Vec<_> = presigs
            .into_iter()
            .zip(signers)
            .map(|(p, &i)| {
                let mut own_ledger = MemoryLedger::default();
                s.issue_partial(&shares[usize::from(i)], p, &msg, &path, &mut own_ledger)
                    .unwrap()
            })
            .collect();
        let sig = s
            .combine(&pk, &cc, &public, &partials, &msg, &path)
            .unwrap();
        verify_independently(
            id,
            &hd::derive_public_key(&pk, &cc, &path).unwrap(),
            &msg,
            &sig,
        );
    }
}

macro_rules! matrix {
    ($($name:ident: $scheme:expr, $t:expr, $n:expr, $all:expr;)*) => {$(
        #[test]
        fn $name() {
            conformance($scheme, $t, $n, $all);
        }
    )*};
}

matrix! {
    dkls23_2_of_2: SchemeId::EcdsaDkls23, 2, 2, true;
    dkls23_2_of_3: SchemeId::EcdsaDkls23, 2, 3, true;
    dkls23_3_of_5: SchemeId::EcdsaDkls23, 3, 5, true;
    cggmp24_2_of_2: SchemeId::EcdsaCggmp24, 2, 2, true;
    cggmp24_2_of_3: SchemeId::EcdsaCggmp24, 2, 3, true;
    cggmp24_3_of_5: SchemeId::EcdsaCggmp24, 3, 5, true;
    taproot_2_of_2: SchemeId::SchnorrBip340, 2, 2, true;
    taproot_2_of_3: SchemeId::SchnorrBip340, 2, 3, true;
    taproot_3_of_5: SchemeId::SchnorrBip340, 3, 5, true;
    ed25519_2_of_2: SchemeId::Ed25519, 2, 2, true;
    ed25519_2_of_3: SchemeId::Ed25519, 2, 3, true;
    ed25519_3_of_5: SchemeId::Ed25519, 3, 5, true;
}

// ------------------------------------------------------------------ malicious network / peers

/// Runs a 2-of-3 signing (or keygen for the FROST/DKLs schemes, whose DKG is cheap) with
/// `intercept` applied, returning the error.
fn attacked(
    id: SchemeId,
    keygen_phase: bool,
    intercept: impl FnMut(Message) -> Vec<Message>,
) -> PartyError {
    let s = scheme(id);
    if keygen_phase {
        let sessions = keygen_inputs(s, 2, 3)
            .into_iter()
            .map(|i| s.keygen(i).unwrap())
            .collect();
        sim::run_with(sessions, intercept).expect_err("attack must fail")
    } else {
        let shares = keygen(s, 2, 3);
        let id_ = sid();
        let msg = message_for(id, "attacked");
        let sessions = [0u16, 1]
            .iter()
            .map(|&p| {
                s.sign(
                    &shares[usize::from(p)],
                    id_,
                    &[0, 1],
                    &msg,
                    &DerivationPath::root(),
                )
                .unwrap()
            })
            .collect();
        sim::run_with(sessions, intercept).expect_err("attack must fail")
    }
}

fn phases(id: SchemeId) -> Vec<bool> {
    match id {
        SchemeId::EcdsaCggmp24 => vec![false],
        _ => vec![true, false],
    }
}

#[test]
fn negative_envelopes() {
    for id in SchemeId::ALL {
        for kg in phases(id) {
            let ctx = format!("{id} {}", if kg { "keygen" } else { "sign" });
            // Wrong session id.
            let e = attacked(id, kg, |mut m| {
                if m.from == 1 {
                    m.session = SessionId([9; 32]);
                }
                vec![m]
            });
            assert_eq!(e.error, Error::WrongSession { from: 1 }, "{ctx}");
            // Duplicate.
            let e = attacked(id, kg, |m| {
                if m.from == 1 {
                    vec![m.clone(), m]
                } else {
                    vec![m]
                }
            });
            assert!(
                matches!(e.error, Error::Duplicate { from: 1, .. }),
                "{ctx}: {e:?}"
            );
            // Wrong round.
            let e = attacked(id, kg, |mut m| {
                if m.from == 1 {
                    m.round = 77;
                }
                vec![m]
            });
            assert!(
                matches!(
                    e.error,
                    Error::WrongRound { from: 1, .. } | Error::Malformed { from: 1, .. }
                ),
                "{ctx}: {e:?}"
            );
            // Truncated payload.
            let e = attacked(id, kg, |mut m| {
                if m.from == 1 {
                    m.payload.truncate(m.payload.len() / 2);
                }
                vec![m]
            });
            assert!(e.error.culprits().contains(&1), "{ctx}: {e:?}");
            // Impersonation of a party outside the session.
            let e = attacked(id, kg, |mut m| {
                if m.from == 1 {
                    m.from = 9;
                }
                vec![m]
            });
            assert!(
                matches!(e.error, Error::UnknownSender { from: 9 }),
                "{ctx}: {e:?}"
            );
        }
    }
}

#[test]
fn tampered_payloads_give_typed_errors() {
    for id in SchemeId::ALL {
        let s = scheme(id);
        let flip = |mut m: Message| {
            // Flip one byte in the middle of every message party 1 sends in its first round.
            if m.from == 1 && m.round == 1 && !m.payload.is_empty() {
                let mid = m.payload.len() / 2;
                m.payload[mid] ^= 0x5a;
            }
            vec![m]
        };
        if id != SchemeId::EcdsaCggmp24 {
            // A DKG with an altered message aborts (naming party 1 where the protocol can) or —
            // where the altered byte did not matter — yields shares of one key that sign with
            // every pair, verified independently. Never shares that disagree or cannot sign.
            // (DKLs23 0.6.2 lets about 6 % of these round-1 byte flips through, always with
            // consistent shares: measured over 300 runs.)
            let sessions = keygen_inputs(s, 2, 3)
                .into_iter()
                .map(|i| s.keygen(i).unwrap())
                .collect();
            match sim::run_with(sessions, flip) {
                Err(e) => assert!(
                    e.error.culprits().is_empty() || e.error.culprits().contains(&1),
                    "{id}: {e:?}"
                ),
                Ok(shares) => {
                    let pk = shares[0].public_key().clone();
                    assert!(shares.iter().all(|sh| sh.public_key() == &pk), "{id}");
                    let msg = message_for(id, "tampered dkg");
                    for pair in [[0u16, 1], [1, 2], [0, 2]] {
                        let sigs = sign(s, &shares, &pair, &msg, &DerivationPath::root())
                            .unwrap_or_else(|e| panic!("{id} {pair:?}: {e:?}"));
                        verify_independently(id, &pk, &msg, &sigs[0]);
                    }
                }
            }
        }
        // Signing: a typed error naming party 1 where the protocol can, or — if the flipped byte
        // did not matter — a signature that still verifies independently. Never a bad signature.
        let shares = keygen(s, 2, 3);
        let msg = message_for(id, "tampered");
        let sid_ = sid();
        let sessions = [0u16, 1]
            .iter()
            .map(|&p| {
                s.sign(
                    &shares[usize::from(p)],
                    sid_,
                    &[0, 1],
                    &msg,
                    &DerivationPath::root(),
                )
                .unwrap()
            })
            .collect();
        match sim::run_with(sessions, flip) {
            Err(e) => assert!(
                e.error.culprits().is_empty() || e.error.culprits().contains(&1),
                "{id}: {e:?}"
            ),
            Ok(sigs) => {
                for sig in sigs {
                    verify_independently(id, shares[0].public_key(), &msg, &sig);
                }
            }
        }
    }
}

#[test]
fn inconsistent_broadcast_is_caught_in_dkg() {
    // Party 1 reports a different broadcast transcript than everyone else (what it would do if
    // it had sent different round-1 broadcasts to different peers): no key share is released.
    for id in [
        SchemeId::EcdsaDkls23,
        SchemeId::SchnorrBip340,
        SchemeId::Ed25519,
    ] {
        let s = scheme(id);
        let sessions = keygen_inputs(s, 2, 3)
            .into_iter()
            .map(|i| s.keygen(i).unwrap())
            .collect();
        let e = sim::run_with(sessions, |mut m| {
            if m.from == 1 && m.round == 0xFFF0 {
                m.payload[0] ^= 1;
            }
            vec![m]
        })
        .expect_err("equivocation must be caught");
        assert_eq!(
            e.error,
            Error::InconsistentBroadcast { culprits: vec![1] },
            "{id}"
        );
    }
}

// ------------------------------------------------------------------ record before release

/// `Scheme::sign_release_round` is where a full signing completes: every signer sends messages
/// of that round, and with those messages withheld (a coordinator that keeps them) no party
/// gets a signature from the earlier rounds alone. The signer records a request before it
/// sends that round, so this is what makes "record before release" hold on the full path.
#[test]
fn the_release_round_is_the_one_that_completes_a_signature() {
    for id in SchemeId::ALL {
        let s = scheme(id);
        let release = s.sign_release_round();
        let shares = keygen(s, 2, 3);
        let msg = message_for(id, "release round");
        let sid_ = sid();
        let sessions = [0u16, 1]
            .iter()
            .map(|&p| {
                s.sign(
                    &shares[usize::from(p)],
                    sid_,
                    &[0, 1],
                    &msg,
                    &DerivationPath::root(),
                )
                .unwrap()
            })
            .collect();
        let mut senders_of_release = std::collections::BTreeSet::new();
        let err = sim::run_with(sessions, |m: Message| {
            if m.round == release {
                senders_of_release.insert(m.from);
                vec![]
            } else {
                vec![m]
            }
        })
        .expect_err("no signature without the release round");
        assert!(
            matches!(err.error, Error::Misuse(_)),
            "{id}: the run stalls waiting for the release round, got {err:?}"
        );
        assert_eq!(
            senders_of_release.into_iter().collect::<Vec<_>>(),
            vec![0, 1],
            "{id}: every signer sends round {release}"
        );
    }
}

//! Resharing (`tessera_crypto::reshare`, ours, unaudited) for every scheme: refresh, replacing
//! a signer and 2-of-3 → 3-of-5 keep the group key and chain code, the new shares sign (checked
//! by libsecp256k1 and ed25519-dalek, never by the scheme alone), old and new shares never
//! combine, and a dealer that cheats is named and no share comes out.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use serde::{Deserialize, Serialize};
use tessera_crypto::recover::reconstruct;
use tessera_crypto::reshare::import::{self, ImportDealing, ImportedShare};
use tessera_crypto::sim::{self, PartyError};
use tessera_crypto::{
    hd, scheme, DerivationPath, Error, KeyShare, Message, PartyIndex, PublicKey, ReshareInput,
    ResharePlan, SchemeId, ThresholdParams,
};

const ALL: [SchemeId; 4] = [
    SchemeId::EcdsaDkls23,
    SchemeId::EcdsaCggmp24,
    SchemeId::SchnorrBip340,
    SchemeId::Ed25519,
];

fn copy(s: &KeyShare) -> KeyShare {
    KeyShare::from_bytes(&s.to_bytes()).unwrap()
}

fn plan_for(old: &[KeyShare], dealers: &[(PartyIndex, PartyIndex)]) -> ResharePlan {
    ResharePlan {
        scheme: old[0].scheme(),
        public_key: old[0].public_key().clone(),
        chain_code: old[0].chain_code(),
        old_threshold: old[0].params().t,
        dealers: dealers.iter().copied().collect(),
    }
}

/// One reshare session per new party. `holds[j]` is the old index of the share new party `j`
/// brings (a dealer's, or a record), if any.
fn inputs(
    old: &[KeyShare],
    plan: &ResharePlan,
    params: ThresholdParams,
    holds: &[Option<PartyIndex>],
) -> Vec<ReshareInput> {
    let sid = sid();
    let mut aux: Vec<_> = if plan.scheme == SchemeId::EcdsaCggmp24 {
        aux_infos(params.n).into_iter().map(Some).collect()
    } else {
        (0..params.n).map(|_| None).collect()
    };
    (0..params.n)
        .map(|me| ReshareInput {
            sid,
            me,
            params,
            plan: plan.clone(),
            old_share: holds[usize::from(me)].map(|i| copy(&old[usize::from(i)])),
            aux: aux[usize::from(me)].take(),
            import: None,
        })
        .collect()
}

fn run_reshare(
    inputs: Vec<ReshareInput>,
    intercept: impl FnMut(Message) -> Vec<Message>,
) -> Result<Vec<KeyShare>, PartyError> {
    let id = inputs[0].plan.scheme;
    let sessions = inputs
        .into_iter()
        .map(|i| scheme(id).reshare(i).unwrap())
        .collect();
    sim::run_with(sessions, intercept)
}

/// The new shares keep the key, sign with the given signer sets at the root and at a derived
/// path (verified independently), and recover to the same key as the old ones.
fn check_new_shares(old: &[KeyShare], new: &[KeyShare], params: ThresholdParams, sets: &[&[u16]]) {
    let id = old[0].scheme();
    let pk = old[0].public_key().clone();
    for (j, share) in new.iter().enumerate() {
        assert_eq!(share.public_key(), &pk, "{id}: group key unchanged");
        assert_eq!(share.chain_code(), old[0].chain_code(), "{id}: chain code");
        assert_eq!(share.params(), params);
        assert_eq!(usize::from(share.index()), j);
    }
    let s = scheme(id);
    let msg = message_for(id, "after the reshare");
    let path = DerivationPath::parse("m/0/5").unwrap();
    let child = hd::derive_public_key(&pk, &old[0].chain_code(), &path).unwrap();
    for signers in sets {
        let sigs = sign(s, new, signers, &msg, &DerivationPath::root())
            .unwrap_or_else(|e| panic!("{id} {signers:?}: {e:?}"));
        verify_independently(id, &pk, &msg, &sigs[0]);
        let sigs = sign(s, new, signers, &msg, &path).unwrap();
        verify_independently(id, &child, &msg, &sigs[0]);
    }
    let quorum: Vec<KeyShare> = (0..params.t).map(|j| copy(&new[usize::from(j)])).collect();
    let before: Vec<KeyShare> = (0..old[0].params().t)
        .map(|i| copy(&old[usize::from(i)]))
        .collect();
    assert_eq!(
        *reconstruct(&quorum).unwrap().secret,
        *reconstruct(&before).unwrap().secret,
        "{id}: the new shares share the same key"
    );
}

/// An old share and a new one never produce a signature together.
fn check_mixed_fails(old: &[KeyShare], new: &[KeyShare]) {
    let id = old[0].scheme();
    let s = scheme(id);
    let msg = message_for(id, "mixed epochs");
    let pk = old[0].public_key().clone();
    let mixed = vec![copy(&old[0]), copy(&new[1])];
    match sign(s, &mixed, &[0, 1], &msg, &DerivationPath::root()) {
        Err(_) => {}
        Ok(sigs) => assert!(
            sigs.iter().all(|sig| s.verify(&pk, &msg, sig).is_err()),
            "{id}: an old and a new share signed together"
        ),
    }
}

#[test]
fn refresh_keeps_the_key_and_old_shares_stop_combining() {
    for id in ALL {
        let old = keygen(scheme(id), 2, 3);
        let params = ThresholdParams::new(2, 3).unwrap();
        let plan = plan_for(&old, &[(0, 0), (1, 1)]);
        let holds = [Some(0), Some(1), Some(2)];
        let new = run_reshare(inputs(&old, &plan, params, &holds), |m| vec![m]).unwrap();
        for (o, n) in old.iter().zip(&new) {
            assert_ne!(*o.to_bytes(), *n.to_bytes(), "{id}: every share changed");
        }
        check_new_shares(&old, &new, params, &[&[0, 1], &[1, 2], &[0, 2]]);
        check_mixed_fails(&old, &new);
    }
}

#[test]
fn a_replacement_signer_without_a_share_gets_one() {
    for id in ALL {
        let old = keygen(scheme(id), 2, 3);
        let params = ThresholdParams::new(2, 3).unwrap();
        // Signer 2 is lost; its replacement joins with nothing.
        let plan = plan_for(&old, &[(0, 0), (1, 1)]);
        let new = run_reshare(
            inputs(&old, &plan, params, &[Some(0), Some(1), None]),
            |m| vec![m],
        )
        .unwrap();
        check_new_shares(&old, &new, params, &[&[0, 2], &[1, 2]]);
    }
}

#[test]
fn two_of_three_becomes_three_of_five() {
    for id in ALL {
        let old = keygen(scheme(id), 2, 3);
        let params = ThresholdParams::new(3, 5).unwrap();
        // Old signers 2 and 0 deal as new members 0 and 3; old signer 1 is retired.
        let plan = plan_for(&old, &[(0, 2), (3, 0)]);
        let holds = [Some(2), None, None, Some(0), None];
        let new = run_reshare(inputs(&old, &plan, params, &holds), |m| vec![m]).unwrap();
        check_new_shares(&old, &new, params, &[&[0, 1, 2], &[2, 3, 4], &[0, 2, 4]]);
        let s = scheme(id);
        let msg = message_for(id, "too few");
        assert!(matches!(
            s.sign(&new[0], sid(), &[0, 1], &msg, &DerivationPath::root()),
            Err(Error::InvalidArgs(_))
        ));
    }
}

// ---------------------------------------------------------------- a cheating dealer

/// The wire form of round 1, written out here so the test can play a malicious dealer.
#[derive(Serialize, Deserialize, Clone)]
struct Dealing {
    old_index: u16,
    old_public: Vec<u8>,
    commitments: Vec<Vec<u8>>,
}
#[derive(Serialize, Deserialize)]
struct Deal(Option<Dealing>);
#[derive(Serialize, Deserialize)]
struct SubShare(Option<Vec<u8>>);

fn refresh_under(
    id: SchemeId,
    intercept: impl FnMut(Message) -> Vec<Message>,
) -> Result<Vec<KeyShare>, PartyError> {
    let old = keygen(scheme(id), 2, 3);
    let params = ThresholdParams::new(2, 3).unwrap();
    let plan = plan_for(&old, &[(0, 0), (1, 1)]);
    run_reshare(
        inputs(&old, &plan, params, &[Some(0), Some(1), None]),
        intercept,
    )
}

fn named(err: &PartyError, culprit: PartyIndex) {
    match &err.error {
        Error::Aborted { culprits, .. } => assert_eq!(culprits, &vec![culprit], "{err:?}"),
        other => panic!("expected an abort naming {culprit}, got {other:?}"),
    }
}

#[test]
fn a_sub_share_off_the_committed_polynomial_names_its_dealer() {
    for id in ALL {
        let err = refresh_under(id, |mut m| {
            if m.round == 1 && m.from == 0 && m.to == Some(2) {
                let SubShare(Some(mut s)) = postcard::from_bytes(&m.payload).unwrap() else {
                    panic!("dealer 0 must send a sub-share")
                };
                // Another valid scalar on both curves: change a low-order byte.
                let low = if id == SchemeId::Ed25519 { 0 } else { 31 };
                s[low] ^= 1;
                m.payload = postcard::to_stdvec(&SubShare(Some(s))).unwrap();
            }
            vec![m]
        })
        .expect_err("a bad sub-share must abort the reshare");
        assert_eq!(err.party, 2, "{id}");
        named(&err, 0);
    }
}

#[test]
fn a_dealer_that_reshares_another_share_is_named_by_everyone() {
    for id in [SchemeId::EcdsaDkls23, SchemeId::Ed25519] {
        // Dealer 1 claims dealer 0's public share: its commitments no longer match its claim
        // (and the claim no longer matches anyone's record of the old sharing).
        let mut first_public = None;
        let err = refresh_under(id, |mut m| {
            if m.round == 1 && m.to.is_none() {
                let Deal(d) = postcard::from_bytes(&m.payload).unwrap();
                if let Some(mut d) = d {
                    if m.from == 0 {
                        first_public = Some(d.old_public.clone());
                    } else if let Some(p) = &first_public {
                        d.old_public = p.clone();
                        m.payload = postcard::to_stdvec(&Deal(Some(d))).unwrap();
                    }
                }
            }
            vec![m]
        })
        .expect_err("a dealer resharing another share must abort the reshare");
        named(&err, 1);
    }
}

#[test]
fn dealing_against_the_plan_is_named() {
    for id in [SchemeId::EcdsaDkls23, SchemeId::Ed25519] {
        // Planned dealer 1 says it does not deal.
        let err = refresh_under(id, |mut m| {
            if m.round == 1 && m.from == 1 {
                m.payload = if m.to.is_none() {
                    postcard::to_stdvec(&Deal(None)).unwrap()
                } else {
                    postcard::to_stdvec(&SubShare(None)).unwrap()
                };
            }
            vec![m]
        })
        .expect_err("a withheld dealing must abort the reshare");
        named(&err, 1);
        // Party 2, not a dealer, deals anyway (a copy of dealer 0's dealing).
        let mut copied: Option<Dealing> = None;
        let err = refresh_under(id, |mut m| {
            if m.round == 1 && m.to.is_none() {
                let Deal(d) = postcard::from_bytes(&m.payload).unwrap();
                if m.from == 0 {
                    copied = d;
                } else if m.from == 2 {
                    m.payload = postcard::to_stdvec(&Deal(copied.clone())).unwrap();
                }
            }
            vec![m]
        })
        .expect_err("an unplanned dealing must abort the reshare");
        named(&err, 2);
    }
}

#[test]
fn a_plan_that_cannot_work_is_refused_before_any_message() {
    let id = SchemeId::Ed25519;
    let old = keygen(scheme(id), 2, 3);
    let other = keygen(scheme(id), 2, 3);
    let params = ThresholdParams::new(2, 3).unwrap();
    let refused = |plan: ResharePlan, me: u16, share: Option<&KeyShare>| {
        let input = ReshareInput {
            sid: sid(),
            me,
            params,
            plan,
            old_share: share.map(copy),
            aux: None,
            import: None,
        };
        match scheme(id).reshare(input) {
            Err(Error::InvalidArgs(_)) => {}
            Err(e) => panic!("expected InvalidArgs, got {e:?}"),
            Ok(_) => panic!("the plan must be refused"),
        }
    };
    let good = plan_for(&old, &[(0, 0), (1, 1)]);
    // Fewer dealers than the old threshold.
    refused(plan_for(&old, &[(0, 0)]), 0, Some(&old[0]));
    // The same old share dealt twice.
    refused(plan_for(&old, &[(0, 0), (1, 0)]), 0, Some(&old[0]));
    // A dealer without its share, or with another party's.
    refused(good.clone(), 0, None);
    refused(good.clone(), 0, Some(&old[1]));
    // A share of another wallet.
    refused(good.clone(), 0, Some(&other[0]));
    // A plan for another scheme, and a dealer outside the new set.
    refused(
        ResharePlan {
            scheme: SchemeId::SchnorrBip340,
            ..good.clone()
        },
        2,
        None,
    );
    let outside: BTreeMap<u16, u16> = [(0, 0), (3, 1)].into_iter().collect();
    refused(
        ResharePlan {
            dealers: outside,
            ..good
        },
        0,
        Some(&old[0]),
    );
}

// ------------------------------------------------------------------ import (reshare::import)

/// A private key for `id` in the scheme's curve encoding, with its public key computed by the
/// chain libraries (libsecp256k1, ed25519-dalek). The secp256k1 key has an odd y, the case a
/// BIP-340 wallet must handle by negation.
fn single_sig_key(id: SchemeId) -> ([u8; 32], PublicKey) {
    use sha2::{Digest, Sha256};
    for i in 0u8.. {
        let seed: [u8; 32] = Sha256::digest([b'k', i]).into();
        if id == SchemeId::Ed25519 {
            let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
            let pk = PublicKey::Ed25519(sk.verifying_key().to_bytes());
            return (sk.to_scalar().to_bytes(), pk);
        }
        let secp = secp256k1::Secp256k1::signing_only();
        let sk = secp256k1::SecretKey::from_slice(&seed).unwrap();
        let pk = secp256k1::PublicKey::from_secret_key(&secp, &sk).serialize();
        if pk[0] == 3 {
            return (seed, PublicKey::Secp256k1(pk));
        }
    }
    unreachable!()
}

fn import_inputs(
    id: SchemeId,
    dealing: &ImportDealing,
    params: ThresholdParams,
) -> Vec<ReshareInput> {
    let plan = ResharePlan {
        scheme: id,
        public_key: dealing.public_key.clone(),
        chain_code: [7; 32],
        old_threshold: 0,
        dealers: BTreeMap::new(),
    };
    let mut aux: Vec<_> = if id == SchemeId::EcdsaCggmp24 {
        aux_infos(params.n).into_iter().map(Some).collect()
    } else {
        (0..params.n).map(|_| None).collect()
    };
    let sid = sid();
    (0..params.n)
        .map(|me| ReshareInput {
            sid,
            me,
            params,
            plan: plan.clone(),
            old_share: None,
            aux: aux[usize::from(me)].take(),
            import: Some(ImportedShare {
                commitments: dealing.commitments.clone(),
                share: dealing.shares[usize::from(me)].clone(),
            }),
        })
        .collect()
}

#[test]
fn an_imported_key_keeps_its_public_key_and_signs_in_every_scheme() {
    for id in ALL {
        let (secret, pk) = single_sig_key(id);
        let params = ThresholdParams::new(2, 3).unwrap();
        let dealing = import::deal(id, &secret, params).unwrap();
        assert_eq!(dealing.public_key, pk, "{id}: the dealing shares the key");
        let shares = run_reshare(import_inputs(id, &dealing, params), |m| vec![m])
            .unwrap_or_else(|e| panic!("{id}: {e:?}"));
        for share in &shares {
            assert_eq!(share.public_key(), &pk, "{id}: the key is the imported one");
            assert_eq!(share.chain_code(), [7; 32], "{id}: the chain code is kept");
        }
        let msg = message_for(id, "imported");
        let path = DerivationPath::parse("m/0/3").unwrap();
        let child = hd::derive_public_key(&pk, &[7; 32], &path).unwrap();
        for signers in [[0u16, 1], [1, 2]] {
            let sigs = sign(scheme(id), &shares, &signers, &msg, &DerivationPath::root())
                .unwrap_or_else(|e| panic!("{id}: {e:?}"));
            verify_independently(id, &pk, &msg, &sigs[0]);
            let sigs = sign(scheme(id), &shares, &signers, &msg, &path).unwrap();
            verify_independently(id, &child, &msg, &sigs[0]);
        }
        let quorum = [copy(&shares[0]), copy(&shares[2])];
        assert_eq!(*reconstruct(&quorum).unwrap().secret, secret, "{id}");
    }
}

#[test]
fn a_holder_given_another_dealing_of_the_same_key_stops_the_import() {
    for id in [SchemeId::EcdsaDkls23, SchemeId::Ed25519] {
        let (secret, _) = single_sig_key(id);
        let params = ThresholdParams::new(2, 3).unwrap();
        let dealing = import::deal(id, &secret, params).unwrap();
        let other = import::deal(id, &secret, params).unwrap();
        let mut inputs = import_inputs(id, &dealing, params);
        // A coordinator hands holder 2 a dealing of its own: valid on its own, but not the
        // one the others hold, so the holders' shares would not fit together.
        inputs[2].import = Some(ImportedShare {
            commitments: other.commitments.clone(),
            share: other.shares[2].clone(),
        });
        let err = run_reshare(inputs, |m| vec![m]).expect_err("the import must stop");
        match &err.error {
            Error::Aborted { culprits, .. } if err.party == 2 => assert_eq!(culprits, &[0, 1]),
            Error::Aborted { culprits, .. } => assert_eq!(culprits, &[2], "{id}"),
            other => panic!("{id}: expected an abort, got {other:?}"),
        }
    }
}

#[test]
fn an_imported_share_that_does_not_fit_its_dealing_is_refused_before_any_message() {
    for id in ALL {
        let (secret, _) = single_sig_key(id);
        let params = ThresholdParams::new(2, 3).unwrap();
        let dealing = import::deal(id, &secret, params).unwrap();
        let refused = |input: ReshareInput, why: &str| match scheme(id).reshare(input) {
            Err(Error::Aborted { reason, .. }) => assert!(reason.contains(why), "{id}: {reason}"),
            Err(e) => panic!("{id}: expected an abort ({why}), got {e:?}"),
            Ok(_) => panic!("{id}: must be refused ({why})"),
        };
        // Holder 0 given holder 1's share.
        let mut input = import_inputs(id, &dealing, params).remove(0);
        input.import.as_mut().unwrap().share = dealing.shares[1].clone();
        refused(input, "not on the dealing's committed polynomial");
        // A dealing with a commitment missing.
        let mut input = import_inputs(id, &dealing, params).remove(0);
        input.import.as_mut().unwrap().commitments.pop();
        refused(input, "wrong number of commitments");
        // Commitments of a dealing of another key (9, in either curve's encoding).
        let mut nine = [0u8; 32];
        nine[if id == SchemeId::Ed25519 { 0 } else { 31 }] = 9;
        let mut input = import_inputs(id, &dealing, params).remove(0);
        input.import.as_mut().unwrap().commitments =
            import::deal(id, &nine, params).unwrap().commitments;
        refused(input, "does not share the wallet's key");
    }
}

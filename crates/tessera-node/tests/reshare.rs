//! Reshares at the signers, two-phase: a prepared epoch signs nothing; a commit needs every new
//! holder's attestation and names the session that prepared the share; after it the wallet
//! signs with the new shares (checked by ed25519-dalek and libsecp256k1), and an authorization
//! cannot be replayed nor make an epoch twice.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tessera_crypto::{PublicKey, SchemeId, SignMessage, Signature};
use tessera_proto::attestation::WalletAttestation;
use tessera_proto::link::{EpochDecision, FailureKind, Job, Outcome, ReshareJob};
use tessera_wire::{Action, Authorization};

const WALLET: &str = "w";

fn reshare_auth(g: &Group, epoch: u32, t: u16, dealers: &[(u16, u16)]) -> Authorization {
    Authorization::sign(
        &g.operator,
        random_id(),
        Action::Reshare {
            wallet_id: WALLET.into(),
            epoch,
            threshold: t,
            signers: g.roster().iter().map(|m| m.identity.node_id()).collect(),
            dealers: dealers.to_vec(),
        },
        g.clock.now_unix() + 300,
    )
}

fn reshare_job(
    g: &Group,
    s: SchemeId,
    key: &(PublicKey, [u8; 32]),
    epoch: u32,
    authorization: Authorization,
) -> Job {
    Job::Reshare(ReshareJob {
        scheme: s,
        threshold: 2,
        epoch,
        old_threshold: 2,
        dealers: vec![(0, 0), (1, 1)],
        public_key: key.0.clone(),
        chain_code: key.1,
        networks: g.networks.clone(),
        authorization,
        approvals: Vec::new(),
    })
}

/// Independent verification: ed25519-dalek for Ed25519, libsecp256k1 for ECDSA.
fn verify(pk: &PublicKey, m: &SignMessage, sig: &Signature) {
    match (pk, sig) {
        (PublicKey::Ed25519(pk), Signature::Ed25519(sig)) => {
            ed25519_dalek::VerifyingKey::from_bytes(pk)
                .unwrap()
                .verify_strict(
                    &m.ed25519_bytes(),
                    &ed25519_dalek::Signature::from_bytes(sig),
                )
                .expect("ed25519-dalek accepts the signature");
        }
        (PublicKey::Secp256k1(pk), Signature::Ecdsa { r, s, .. }) => {
            let mut compact = [0u8; 64];
            compact[..32].copy_from_slice(r);
            compact[32..].copy_from_slice(s);
            secp256k1::Secp256k1::verification_only()
                .verify_ecdsa(
                    &secp256k1::Message::from_digest(m.digest32().unwrap()),
                    &secp256k1::ecdsa::Signature::from_compact(&compact).unwrap(),
                    &secp256k1::PublicKey::from_slice(pk).unwrap(),
                )
                .expect("libsecp256k1 accepts the signature");
        }
        other => panic!("unexpected key and signature {other:?}"),
    }
}

fn sign_and_verify(g: &mut Group, s: SchemeId, pk: &PublicKey, text: &str) {
    let m = message_for(s, text);
    // On the signers' clock, which a test may have advanced.
    let expires = g.clock.now_unix() + 300;
    let auth = sign_auth(&g.operator, &random_id(), WALLET, "m", &m, expires);
    for a in g.run(WALLET, &[0, 1], plain_sign_job(&m, "m", auth)) {
        match a.expect("the wallet signs") {
            Outcome::Signature(sig) => verify(pk, &m, &sig),
            o => panic!("unexpected {o:?}"),
        }
    }
}

fn refused(answers: Vec<Answer>, kind: FailureKind, what: &str) {
    assert!(!answers.is_empty());
    for a in answers {
        match a {
            Err(f) => assert_eq!(f.kind, kind, "{what}: {f:?}"),
            Ok(o) => panic!("{what}: expected a refusal, got {o:?}"),
        }
    }
}

fn commit(
    g: &mut Group,
    epoch: u32,
    session: [u8; 32],
    attestations: Vec<WalletAttestation>,
) -> Vec<Answer> {
    let job = Job::Epoch {
        epoch,
        session,
        decision: EpochDecision::Commit { attestations },
    };
    g.run(WALLET, &[0, 1, 2], job)
}

fn prepared(g: &Group) -> Vec<u32> {
    (0..3).map(|i| g.status(i).prepared_epochs).collect()
}

#[test]
fn a_refresh_commits_only_with_every_holders_attestation_then_signs() {
    for s in [SchemeId::Ed25519, SchemeId::EcdsaDkls23] {
        let mut g = Group::new(&format!("reshare-{}", s.name().replace('/', "-")), 3);
        let key = g.keygen(WALLET, s, 2);
        sign_and_verify(&mut g, s, &key.0, "before");

        // Phase 1: every holder prepares epoch 1 and attests it.
        let auth = reshare_auth(&g, 1, 2, &[(0, 0), (1, 1)]);
        let session = random32();
        let answers = g.run_session(
            session,
            WALLET,
            &[0, 1, 2],
            reshare_job(&g, s, &key, 1, auth.clone()),
        );
        let attestations: Vec<WalletAttestation> = answers
            .into_iter()
            .map(|a| match a.expect("every holder prepares") {
                Outcome::Reshare { attestation } => attestation,
                o => panic!("unexpected {o:?}"),
            })
            .collect();
        assert_eq!(prepared(&g), vec![1, 1, 1]);
        // A prepared epoch signs nothing: the wallet still signs with epoch 0.
        sign_and_verify(&mut g, s, &key.0, "while prepared");

        // A commit without one holder's attestation, or naming another session, changes nothing.
        refused(
            commit(&mut g, 1, session, attestations[..2].to_vec()),
            FailureKind::Unauthorized,
            "a commit missing an attestation",
        );
        refused(
            commit(&mut g, 1, random32(), attestations.clone()),
            FailureKind::Unauthorized,
            "a commit naming another session",
        );
        let mut forged = attestations.clone();
        forged[2].signature[0] ^= 1;
        refused(
            commit(&mut g, 1, session, forged),
            FailureKind::Unauthorized,
            "a commit with a forged attestation",
        );
        assert_eq!(prepared(&g), vec![1, 1, 1]);

        // Phase 2: committed at every holder; repeating the commit is answered as done. Before
        // the repeat, signer 0 holds a presignature as a crash between its commit and the
        // destruction of the old ones would leave it: the repeated commit destroys it.
        for round in 0..2 {
            if round == 1 {
                g.stop(0);
                let mut v = open_vault(&g.nodes[0].vault_path);
                v.put_presignature(WALLET, &random32(), b"made with epoch 0")
                    .unwrap();
                g.start(0, v);
                assert_eq!(g.presignatures(WALLET), vec![1, 0, 0]);
            }
            for a in commit(&mut g, 1, session, attestations.clone()) {
                assert!(
                    matches!(
                        a,
                        Ok(Outcome::Epoch {
                            epoch: 1,
                            committed: true
                        })
                    ),
                    "{a:?}"
                );
            }
        }
        assert_eq!(prepared(&g), vec![0, 0, 0]);
        assert_eq!(g.presignatures(WALLET), vec![0, 0, 0]);
        sign_and_verify(&mut g, s, &key.0, "after the refresh");

        // The authorization cannot run again, and no second epoch 1 can be made.
        refused(
            g.run(WALLET, &[0, 1, 2], reshare_job(&g, s, &key, 1, auth)),
            FailureKind::Replayed,
            "a replayed reshare authorization (its epoch is the committed one)",
        );
        let again = reshare_auth(&g, 1, 2, &[(0, 0), (1, 1)]);
        refused(
            g.run(WALLET, &[0, 1, 2], reshare_job(&g, s, &key, 1, again)),
            FailureKind::Replayed,
            "a second epoch 1",
        );
    }
}

#[test]
fn a_discarded_epoch_leaves_the_current_one_in_force() {
    let s = SchemeId::Ed25519;
    let mut g = Group::new("reshare-discard", 3);
    let key = g.keygen(WALLET, s, 2);
    let auth = reshare_auth(&g, 1, 2, &[(0, 0), (1, 1)]);
    let session = random32();
    for a in g.run_session(
        session,
        WALLET,
        &[0, 1, 2],
        reshare_job(&g, s, &key, 1, auth),
    ) {
        assert!(matches!(a, Ok(Outcome::Reshare { .. })), "{a:?}");
    }
    // A discard naming another session leaves the prepared share for its own decision.
    let discard = |session| Job::Epoch {
        epoch: 1,
        session,
        decision: EpochDecision::Discard,
    };
    for a in g.run(WALLET, &[0, 1, 2], discard(random32())) {
        assert!(
            matches!(
                a,
                Ok(Outcome::Epoch {
                    committed: false,
                    ..
                })
            ),
            "{a:?}"
        );
    }
    assert_eq!(prepared(&g), vec![1, 1, 1]);
    for a in g.run(WALLET, &[0, 1, 2], discard(session)) {
        assert!(
            matches!(
                a,
                Ok(Outcome::Epoch {
                    committed: false,
                    ..
                })
            ),
            "{a:?}"
        );
    }
    assert_eq!(prepared(&g), vec![0, 0, 0]);
    sign_and_verify(&mut g, s, &key.0, "after the discard");
    // A new authorized attempt at epoch 1 works.
    let auth = reshare_auth(&g, 1, 2, &[(0, 0), (1, 1)]);
    for a in g.run(WALLET, &[0, 1, 2], reshare_job(&g, s, &key, 1, auth)) {
        assert!(matches!(a, Ok(Outcome::Reshare { .. })), "{a:?}");
    }
}

#[test]
fn a_reshare_the_authorization_does_not_cover_is_refused() {
    let s = SchemeId::Ed25519;
    let mut g = Group::new("reshare-unauthorized", 3);
    let key = g.keygen(WALLET, s, 2);
    // Authorized for other dealers than the job names.
    let auth = reshare_auth(&g, 1, 2, &[(0, 0), (2, 2)]);
    refused(
        g.run(WALLET, &[0, 1, 2], reshare_job(&g, s, &key, 1, auth)),
        FailureKind::Unauthorized,
        "dealers the authorization does not name",
    );
    // A job naming another key than the wallet's.
    let auth = reshare_auth(&g, 1, 2, &[(0, 0), (1, 1)]);
    let other = (PublicKey::Ed25519([9; 32]), key.1);
    refused(
        g.run(WALLET, &[0, 1, 2], reshare_job(&g, s, &other, 1, auth)),
        FailureKind::Unauthorized,
        "another key",
    );
    // Epoch 2 while the wallet is at epoch 0: the dealers, who hold epoch 0, refuse (a
    // non-dealer cannot tell this from having left the wallet earlier, and would join; without
    // dealers nothing comes of it).
    let auth = reshare_auth(&g, 2, 2, &[(0, 0), (1, 1)]);
    refused(
        g.run(WALLET, &[0, 1], reshare_job(&g, s, &key, 2, auth)),
        FailureKind::NotReady,
        "an epoch that is not the next one, at its dealers",
    );
    assert_eq!(prepared(&g), vec![0, 0, 0]);
}

/// After a refresh, each holder keeps its epoch-0 share for the grace period (24 hours by
/// default), then `sweep_old_shares` destroys it — once, audited — and the wallet signs on
/// with epoch 1.
#[test]
fn old_shares_are_destroyed_after_the_grace_period() {
    let s = SchemeId::Ed25519;
    let mut g = Group::new("reshare-grace", 3);
    let key = g.keygen(WALLET, s, 2);
    let auth = reshare_auth(&g, 1, 2, &[(0, 0), (1, 1)]);
    let session = random32();
    let attestations: Vec<WalletAttestation> = g
        .run_session(
            session,
            WALLET,
            &[0, 1, 2],
            reshare_job(&g, s, &key, 1, auth),
        )
        .into_iter()
        .map(|a| match a.expect("every holder prepares") {
            Outcome::Reshare { attestation } => attestation,
            o => panic!("unexpected {o:?}"),
        })
        .collect();
    for a in commit(&mut g, 1, session, attestations) {
        assert!(
            matches!(
                a,
                Ok(Outcome::Epoch {
                    committed: true,
                    ..
                })
            ),
            "{a:?}"
        );
    }
    let sweep = |g: &Group| {
        (0..3)
            .map(|i| g.signer(i).sweep_old_shares())
            .collect::<Vec<_>>()
    };
    assert_eq!(sweep(&g), vec![0, 0, 0], "within the grace period");
    g.clock.advance(24 * 3600 - 60);
    assert_eq!(sweep(&g), vec![0, 0, 0], "a minute before its end");
    g.clock.advance(61);
    assert_eq!(sweep(&g), vec![1, 1, 1], "each holder's epoch-0 share");
    assert_eq!(sweep(&g), vec![0, 0, 0], "nothing left to destroy");
    g.stop(0);
    let v = open_vault(&g.nodes[0].vault_path);
    assert!(v.share_at(WALLET, 0).unwrap().is_none());
    assert!(v.share_at(WALLET, 1).unwrap().is_some());
    g.start(0, v);
    sign_and_verify(&mut g, s, &key.0, "after the old shares are gone");
}

/// A coordinator cannot use an authorized reshare to bind the wallet to another network or to
/// move its addresses: a job naming other networks or another chain code than the holders keep
/// is refused by every current holder (before any message), and nothing is prepared; the
/// honest job with the same authorization then prepares.
#[test]
fn a_reshare_cannot_change_the_wallets_networks_or_chain_code() {
    let s = SchemeId::Ed25519;
    let mut g = Group::new("reshare-binding", 3);
    let key = g.keygen(WALLET, s, 2);
    let auth = reshare_auth(&g, 1, 2, &[(0, 0), (1, 1)]);
    let honest = reshare_job(&g, s, &key, 1, auth.clone());
    let Job::Reshare(job) = &honest else {
        unreachable!()
    };
    let mut wider = job.clone();
    wider.networks.push("ethereum:mainnet".into());
    wider.networks.sort();
    let mut moved = job.clone();
    moved.chain_code[0] ^= 1;
    for (bad, what) in [(wider, "other networks"), (moved, "another chain code")] {
        refused(
            g.run_session(random32(), WALLET, &[0, 1, 2], Job::Reshare(bad)),
            FailureKind::Unauthorized,
            what,
        );
        assert_eq!(prepared(&g), vec![0, 0, 0], "{what}: nothing prepared");
    }
    for a in g.run_session(random32(), WALLET, &[0, 1, 2], honest) {
        assert!(matches!(a, Ok(Outcome::Reshare { .. })), "{a:?}");
    }
}

fn retire_job(g: &Group, epoch: u32) -> Job {
    Job::Retire {
        authorization: Authorization::sign(
            &g.operator,
            random_id(),
            Action::Retire {
                wallet_id: WALLET.into(),
                epoch,
            },
            g.clock.now_unix() + 300,
        ),
        approvals: Vec::new(),
    }
}

/// A retired wallet takes part in nothing at any holder, whatever a coordinator sends: after
/// `Job::Retire` (refused for another epoch than the holders', answered the same when
/// repeated) every holder refuses signing, presigning and resharing for it, and its
/// presignatures are gone.
#[test]
fn a_retired_wallet_takes_part_in_nothing() {
    let s = SchemeId::Ed25519;
    let mut g = Group::new("retire", 3);
    let key = g.keygen(WALLET, s, 2);
    sign_and_verify(&mut g, s, &key.0, "before");
    for a in g.run(
        WALLET,
        &[0, 1],
        Job::Presign {
            signers: vec![0, 1],
        },
    ) {
        assert!(matches!(a, Ok(Outcome::Presign(_))), "{a:?}");
    }
    assert_eq!(g.presignatures(WALLET), vec![1, 1, 0]);
    refused(
        g.run(WALLET, &[0, 1, 2], retire_job(&g, 3)),
        FailureKind::Unauthorized,
        "a retirement for another epoch",
    );
    for _ in 0..2 {
        for a in g.run(WALLET, &[0, 1, 2], retire_job(&g, 0)) {
            assert!(matches!(a, Ok(Outcome::Retired { epoch: 0 })), "{a:?}");
        }
    }
    assert_eq!(g.presignatures(WALLET), vec![0, 0, 0]);
    let m = message_for(s, "after");
    let auth = sign_auth(&g.operator, &random_id(), WALLET, "m", &m, now_unix() + 300);
    refused(
        g.run(WALLET, &[0, 1], plain_sign_job(&m, "m", auth)),
        FailureKind::Unauthorized,
        "signing a retired wallet",
    );
    refused(
        g.run(
            WALLET,
            &[0, 1],
            Job::Presign {
                signers: vec![0, 1],
            },
        ),
        FailureKind::Unauthorized,
        "presigning for a retired wallet",
    );
    let auth = reshare_auth(&g, 1, 2, &[(0, 0), (1, 1)]);
    refused(
        g.run(WALLET, &[0, 1, 2], reshare_job(&g, s, &key, 1, auth)),
        FailureKind::Unauthorized,
        "resharing a retired wallet",
    );
}

/// The wallet at epoch 1 held by nodes 0 and 1 alone (2-of-2), as a reshare that left node 2
/// out would make it, with the attestations of `attesting`.
fn without_node_2(
    g: &Group,
    key: &(PublicKey, [u8; 32]),
    epoch: u32,
    attesting: &[usize],
) -> (Authorization, Vec<WalletAttestation>) {
    let signers: Vec<_> = g.roster()[..2]
        .iter()
        .map(|m| m.identity.node_id())
        .collect();
    let auth = Authorization::sign(
        &g.operator,
        random_id(),
        Action::Reshare {
            wallet_id: WALLET.into(),
            epoch,
            threshold: 2,
            signers: signers.clone(),
            dealers: vec![(0, 0), (1, 1)],
        },
        g.clock.now_unix() + 300,
    );
    let statement = tessera_proto::attestation::WalletStatement {
        wallet_id: WALLET.into(),
        scheme: SchemeId::Ed25519,
        threshold: 2,
        signers,
        public_key: key.0.clone(),
        chain_code: key.1,
        networks: g.networks.clone(),
        epoch,
    };
    let attestations = attesting
        .iter()
        .map(|&i| WalletAttestation::sign(&g.nodes[i].key, &statement))
        .collect();
    (auth, attestations)
}

fn leave_job(authorization: Authorization, attestations: Vec<WalletAttestation>) -> Job {
    Job::Leave {
        authorization,
        attestations,
    }
}

/// A former holder told that the holders committed an epoch without it (`Job::Leave`) destroys
/// its presignatures at once and its share after the grace period — and only with the trusted
/// operator's reshare that leaves it out, at an epoch above its own, attested by every new
/// holder over its own record of the key. A notice naming a current holder, a forged or
/// incomplete one, or one for another key destroys nothing.
#[test]
fn a_former_holder_destroys_its_share_only_on_a_true_leave_notice() {
    let s = SchemeId::Ed25519;
    let mut g = Group::new("leave", 3);
    let key = g.keygen(WALLET, s, 2);
    for a in g.run(
        WALLET,
        &[1, 2],
        Job::Presign {
            signers: vec![1, 2],
        },
    ) {
        assert!(matches!(a, Ok(Outcome::Presign(_))), "{a:?}");
    }
    assert_eq!(g.presignatures(WALLET), vec![0, 1, 1]);

    let (auth, attestations) = without_node_2(&g, &key, 1, &[0, 1]);
    let stranger = tessera_wire::OperatorKey::generate(&mut rand_core::OsRng);
    let mut untrusted = auth.clone();
    untrusted.operator = stranger.public();
    let (_, one_short) = without_node_2(&g, &key, 1, &[0]);
    let other_key = (key.0.clone(), [7u8; 32]);
    let (_, other_chain) = without_node_2(&g, &other_key, 1, &[0, 1]);
    let (stale, stale_att) = without_node_2(&g, &key, 0, &[0, 1]);
    for (job, what) in [
        (
            leave_job(untrusted, attestations.clone()),
            "an untrusted operator",
        ),
        (leave_job(auth.clone(), one_short), "a missing attestation"),
        (
            leave_job(auth.clone(), other_chain),
            "attestations of another chain code",
        ),
        (leave_job(stale, stale_att), "an epoch not above its own"),
    ] {
        refused(g.run(WALLET, &[2], job), FailureKind::Unauthorized, what);
        assert_eq!(g.presignatures(WALLET), vec![0, 1, 1], "{what}");
    }
    refused(
        g.run(WALLET, &[0], leave_job(auth.clone(), attestations.clone())),
        FailureKind::Unauthorized,
        "a notice to a holder the reshare keeps",
    );

    for _ in 0..2 {
        for a in g.run(WALLET, &[2], leave_job(auth.clone(), attestations.clone())) {
            assert!(matches!(a, Ok(Outcome::Left { epoch: 1 })), "{a:?}");
        }
    }
    assert_eq!(
        g.presignatures(WALLET),
        vec![0, 1, 0],
        "its presignature is gone"
    );
    let sweep = |g: &Group| {
        (0..3)
            .map(|i| g.signer(i).sweep_old_shares())
            .collect::<Vec<_>>()
    };
    assert_eq!(sweep(&g), vec![0, 0, 0], "within the grace period");
    g.clock.advance(24 * 3600 + 1);
    assert_eq!(sweep(&g), vec![0, 0, 1], "only the former holder's share");
    assert_eq!(sweep(&g), vec![0, 0, 0]);
    g.stop(2);
    let v = open_vault(&g.nodes[2].vault_path);
    assert!(v.share(WALLET).unwrap().is_none());
    assert!(v.share_at(WALLET, 0).unwrap().is_none());
    g.start(2, v);
    let entries = g.nodes[2].audit.log.find(WALLET, Some("other")).unwrap();
    for kind in ["left_wallet", "left_wallet_shares_destroyed"] {
        let n = entries
            .iter()
            .filter(|e| e.kind == tessera_audit::EntryKind::Other(kind.into()))
            .count();
        assert_eq!(n, 1, "{kind} audited once: {entries:?}");
    }
    // The holders it left sign on, verified by ed25519-dalek.
    sign_and_verify(&mut g, s, &key.0, "after the former holder left");
}

/// Copies signer `i`'s vault database (stopped first) to `to`, or back from it.
fn copy_vault(g: &mut Group, i: usize, from: &std::path::Path, to: &std::path::Path) {
    g.stop(i);
    for suffix in ["", "-wal", "-shm"] {
        let src = std::path::PathBuf::from(format!("{}{suffix}", from.display()));
        let dst = std::path::PathBuf::from(format!("{}{suffix}", to.display()));
        let _ = std::fs::remove_file(&dst);
        if src.exists() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
    g.restart(i);
}

/// Each signer's stored cggmp24 aux info, by group, as stored bytes (signers stopped to read,
/// then started again).
fn stored_aux(g: &mut Group) -> Vec<Vec<Vec<u8>>> {
    (0..g.nodes.len())
        .map(|i| {
            g.stop(i);
            let v = open_vault(&g.nodes[i].vault_path);
            let out = v
                .aux_groups()
                .unwrap()
                .iter()
                .map(|group| v.aux(group).unwrap().unwrap().to_vec())
                .collect();
            drop(v);
            g.restart(i);
            out
        })
        .collect()
}

/// A kill while a group's cggmp24 aux info was being stored can leave some members with it and
/// others without (the kill campaign's import trials found it). Every member then used to decide
/// alone: those with it went on to the key protocol while the other waited for aux-info
/// messages until the session timed out, for every later session of that group. Now the group
/// agrees first: the next key generation of the same group generates new aux info at every
/// member, completes, signs (libsecp256k1), and leaves every member with the same generation.
#[test]
fn a_group_where_one_member_lost_its_aux_info_generates_anew() {
    let s = SchemeId::EcdsaCggmp24;
    let mut g = Group::new("aux-agree", 3);
    g.options.keygen_timeout = std::time::Duration::from_secs(150);
    g.fixture_primes = true;
    for i in 0..3 {
        g.restart(i);
    }
    // Signer 2 as it was before the group had any aux info.
    let path = g.nodes[2].vault_path.clone();
    let before = path.with_extension("before-aux");
    copy_vault(&mut g, 2, &path, &before);
    g.keygen("first", s, 2);
    let first = stored_aux(&mut g);
    assert!(first.iter().all(|groups| groups.len() == 1), "{first:?}");
    copy_vault(&mut g, 2, &before, &path);
    assert!(stored_aux(&mut g)[2].is_empty(), "signer 2 lost it");
    let (pk, _) = g.keygen(WALLET, s, 2);
    sign_and_verify(&mut g, s, &pk, "after a new aux info");
    let second = stored_aux(&mut g);
    let tag = |bytes: &Vec<u8>| bytes[..47].to_vec();
    let tags: Vec<_> = second.iter().map(|groups| tag(&groups[0])).collect();
    assert!(
        tags.iter().all(|t| *t == tags[0]),
        "one generation everywhere"
    );
    assert_ne!(tags[0], tag(&first[0][0]), "a new generation");
}

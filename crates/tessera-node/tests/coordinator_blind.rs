//! What a coordinator (the relay) sees and can do: it never sees p2p plaintext, cannot slip in
//! altered envelopes, and cannot make a signer sign without a valid, fresh, matching operator
//! authorization. Signers run in-process over real vaults; the test relay plays the coordinator.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use common::*;
use tessera_crypto::{scheme, SchemeId};
use tessera_proto::link::{FailureKind, Job, Outcome};
use tessera_wire::OperatorKey;

fn windows(bytes: &[Vec<u8>]) -> HashSet<[u8; 16]> {
    bytes
        .iter()
        .flat_map(|b| b.windows(16).map(|w| <[u8; 16]>::try_from(w).unwrap()))
        .collect()
}

fn leaks(payload: &[u8], seen: &HashSet<[u8; 16]>) -> bool {
    payload
        .windows(16)
        .any(|w| seen.contains(&<[u8; 16]>::try_from(w).unwrap()))
}

/// FROST and DKLs23 key generation and a DKLs23 signature through the relay: no 16-byte window
/// of any p2p payload appears in the bytes the relay handled (broadcast payloads do, which shows
/// the check finds plaintext when it is there). A tampered copy of a p2p envelope injected by
/// the relay is dropped by the signers and the protocols still complete.
#[test]
fn relay_never_sees_p2p_plaintext_and_cannot_alter_envelopes() {
    let mut g = Group::new("blind-relay", 3);
    g.inject_tampered = true;
    let (pk_ed, _) = g.keygen("w-ed", SchemeId::Ed25519, 2);
    let (pk_ec, _) = g.keygen("w-ec", SchemeId::EcdsaDkls23, 2);
    let m = message_for(SchemeId::EcdsaDkls23, "blind");
    let authorization = sign_auth(&g.operator, &random_id(), "w-ec", "m", &m, now_unix() + 300);
    for a in g.run(
        "w-ec",
        &[0, 2],
        Job::Sign {
            signers: vec![0, 2],
            message: m.clone(),
            path: "m".into(),
            authorization,
            transaction: None,
            policy_version: 1,
            approvals: Vec::new(),
        },
    ) {
        match a.expect("sign succeeds") {
            Outcome::Signature(sig) => scheme(SchemeId::EcdsaDkls23)
                .verify(&pk_ec, &m, &sig)
                .expect("valid signature"),
            o => panic!("unexpected {o:?}"),
        }
    }
    assert_ne!(pk_ed, pk_ec);
    assert!(g.injected >= 3, "one tampered envelope per session");

    let seen = windows(&g.relayed);
    let p2p: Vec<_> = g
        .p2p_plaintext
        .iter()
        .filter(|m| m.payload.len() >= 16)
        .collect();
    assert!(
        p2p.len() >= 6,
        "the protocols sent p2p messages: {}",
        p2p.len()
    );
    for m in &p2p {
        assert!(
            !leaks(&m.payload, &seen),
            "p2p payload (round {}, {} -> {:?}) visible to the relay",
            m.round,
            m.from,
            m.to
        );
    }
    let broadcast_visible = g
        .broadcast_plaintext
        .iter()
        .filter(|m| m.payload.len() >= 16)
        .filter(|m| leaks(&m.payload, &seen))
        .count();
    assert!(
        broadcast_visible > 0,
        "the leak check finds plaintext that is there"
    );
}

fn refused(answers: Vec<Answer>, kind: FailureKind, what: &str) {
    assert_eq!(answers.len(), 2);
    for a in answers {
        match a {
            Err(f) => assert_eq!(f.kind, kind, "{what}: {}", f.message),
            Ok(o) => panic!("{what}: the signer took part: {o:?}"),
        }
    }
}

/// Signers check operator authorizations themselves: an untrusted key, a forged signature, an
/// expired (`Expired`) or overlong authorization, one for another message, wallet or path, a replayed
/// request id and a reused session id are all refused with a typed failure, and a refusal
/// changes nothing (the presignature it named is still usable, the wallet id still free).
#[test]
fn signer_refuses_unauthorized_and_replayed_requests() {
    let mut g = Group::new("authz", 3);
    let (pk, _) = g.keygen("w", SchemeId::Ed25519, 2);
    let op = g.operator.clone_key();
    let rogue = OperatorKey::generate(&mut rand_core::OsRng);
    let m = msg("pay alice 10");
    let later = now_unix() + 300;

    let a = sign_auth(&rogue, &random_id(), "w", "m", &m, later);
    refused(
        g.run("w", &[0, 1], plain_sign_job(&m, "m", a)),
        FailureKind::Unauthorized,
        "untrusted operator",
    );

    let mut forged = sign_auth(&rogue, &random_id(), "w", "m", &m, later);
    forged.operator = op.public();
    refused(
        g.run("w", &[0, 1], plain_sign_job(&m, "m", forged)),
        FailureKind::Unauthorized,
        "forged signature",
    );

    let a = sign_auth(&op, &random_id(), "w", "m", &m, now_unix() - 1);
    refused(
        g.run("w", &[0, 1], plain_sign_job(&m, "m", a)),
        FailureKind::Expired,
        "expired",
    );

    let a = sign_auth(&op, &random_id(), "w", "m", &m, now_unix() + 30 * 86_400);
    refused(
        g.run("w", &[0, 1], plain_sign_job(&m, "m", a)),
        FailureKind::Unauthorized,
        "too long-lived",
    );

    let a = sign_auth(&op, &random_id(), "w", "m", &msg("pay alice 1"), later);
    refused(
        g.run("w", &[0, 1], plain_sign_job(&m, "m", a)),
        FailureKind::Unauthorized,
        "other message",
    );

    let a = sign_auth(&op, &random_id(), "other", "m", &m, later);
    refused(
        g.run("w", &[0, 1], plain_sign_job(&m, "m", a)),
        FailureKind::Unauthorized,
        "other wallet",
    );

    let a = sign_auth(&op, &random_id(), "w", "m/1", &m, later);
    refused(
        g.run("w", &[0, 1], plain_sign_job(&m, "m", a)),
        FailureKind::Unauthorized,
        "other path",
    );

    // The genuine request signs.
    let good = sign_auth(&op, &random_id(), "w", "m", &m, later);
    let session = random32();
    for a in g.run_session(session, "w", &[0, 1], plain_sign_job(&m, "m", good.clone())) {
        match a.expect("authorized request signs") {
            Outcome::Signature(sig) => scheme(SchemeId::Ed25519).verify(&pk, &m, &sig).unwrap(),
            o => panic!("unexpected {o:?}"),
        }
    }
    // Replayed request id, fresh session: refused by each signer itself.
    refused(
        g.run("w", &[0, 1], plain_sign_job(&m, "m", good.clone())),
        FailureKind::Replayed,
        "replayed request",
    );
    // Reused session id with a fresh authorization: refused.
    let fresh = sign_auth(&op, &random_id(), "w", "m", &m, later);
    refused(
        g.run_session(session, "w", &[0, 1], plain_sign_job(&m, "m", fresh)),
        FailureKind::Replayed,
        "reused session id",
    );
    // A replayed request naming a presignature is refused without consuming it ...
    let signers = vec![0u16, 1];
    let mut public = None;
    for a in g.run("w", &[0, 1], Job::Presign { signers }) {
        if let Outcome::Presign(p) = a.expect("presign") {
            public = Some(p);
        }
    }
    let id = public.unwrap().id();
    let presigned = |a: tessera_wire::Authorization| Job::SignPresigned {
        presignature: id,
        signers: vec![0, 1],
        message: m.clone(),
        path: "m".into(),
        authorization: a,
        transaction: None,
        policy_version: 1,
        approvals: Vec::new(),
    };
    refused(
        g.run("w", &[0, 1], presigned(good.clone())),
        FailureKind::Replayed,
        "replayed presigned",
    );
    let a = sign_auth(&rogue, &random_id(), "w", "m", &m, later);
    refused(
        g.run("w", &[0, 1], presigned(a)),
        FailureKind::Unauthorized,
        "untrusted presigned",
    );
    // ... so it still serves an authorized request.
    let a = sign_auth(&op, &random_id(), "w", "m", &m, later);
    for a in g.run("w", &[0, 1], presigned(a)) {
        assert!(matches!(a, Ok(Outcome::Partial(_))), "{a:?}");
    }
    // The replay ledgers survive a restart.
    g.restart(0);
    g.restart(1);
    refused(
        g.run("w", &[0, 1], plain_sign_job(&m, "m", good)),
        FailureKind::Replayed,
        "replayed after restart",
    );

    // Key generation needs a trusted operator too; a refusal leaves the wallet id free.
    let all = [0, 1, 2];
    let a = g.keygen_auth(&rogue, "w2", SchemeId::Ed25519, 2);
    let answers = g.run(
        "w2",
        &all,
        Job::Keygen {
            scheme: SchemeId::Ed25519,
            threshold: 2,
            authorization: a,
            import: None,
            approvals: Vec::new(),
        },
    );
    for a in answers {
        assert_eq!(a.unwrap_err().kind, FailureKind::Unauthorized);
    }
    g.keygen("w2", SchemeId::Ed25519, 2);
}

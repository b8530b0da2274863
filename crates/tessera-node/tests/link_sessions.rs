//! Sessions and the links they came over: a dropped link ends its sessions at once (they can
//! no longer hear from their peers, and would otherwise hold a velocity reservation, a
//! presignature and a session slot until their timeout), and a second start of a running
//! session is refused without an answer under that session's id (which would fail the running
//! session at the coordinator). Both were found by the cluster simulation with the real
//! coordinator (docs/reliability.md).

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{mpsc, Arc, Mutex};

use common::*;
use tessera_audit::{EntryKind, RefusalReason};
use tessera_crypto::SchemeId;
use tessera_node::Outbound;
use tessera_proto::link::{FailureKind, FromSigner, Job, StartSession, ToSigner};

const WALLET: &str = "w";

/// A link: what the signer sends over it arrives in the receiver.
fn link() -> (Outbound, mpsc::Receiver<FromSigner>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let out: Outbound = Arc::new(move |f| {
        let _ = tx.lock().unwrap().send(f);
    });
    (out, rx)
}

/// A presign start for signers 0 and 1, delivered to signer 0 only: its session sends its
/// first round and then waits for signer 1, who never hears of it.
fn waiting_start(g: &Group) -> StartSession {
    StartSession {
        session: random32(),
        wallet_id: WALLET.into(),
        roster: g.roster(),
        job: Job::Presign {
            signers: vec![0, 1],
        },
    }
}

/// The next answer (done or failed) on a link, skipping the envelopes the session sent.
fn answer(rx: &mpsc::Receiver<FromSigner>) -> FromSigner {
    loop {
        let f = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("an answer");
        if !matches!(f, FromSigner::Envelope { .. }) {
            return f;
        }
    }
}

fn group(name: &str) -> Group {
    let mut g = Group::new(name, 3);
    g.keygen(WALLET, SchemeId::Ed25519, 2);
    g
}

#[test]
fn a_dropped_link_aborts_its_sessions_and_no_others() {
    let g = group("link-lost");
    let signer = g.signer(0);
    let (a, a_rx) = link();
    let (b, b_rx) = link();
    let on_a = waiting_start(&g);
    let on_b = waiting_start(&g);
    signer.handle(ToSigner::Start(Box::new(on_a.clone())), &a);
    signer.handle(ToSigner::Start(Box::new(on_b.clone())), &b);
    assert_eq!(signer.status().sessions, 2);

    signer.link_lost(&a);
    match answer(&a_rx) {
        FromSigner::Failed { session, failure } => {
            assert_eq!(session, on_a.session);
            assert_eq!(failure.kind, FailureKind::Aborted);
            assert!(failure.message.contains("link"), "{}", failure.message);
        }
        other => panic!("expected the session aborted, got {other:?}"),
    }
    // The other link's session runs on: it ends only when aborted over its own link.
    assert_eq!(signer.status().sessions, 1);
    assert!(b_rx
        .try_iter()
        .all(|f| matches!(f, FromSigner::Envelope { .. })));
    signer.handle(
        ToSigner::Abort {
            session: on_b.session,
            reason: "test".into(),
        },
        &b,
    );
    assert!(matches!(answer(&b_rx), FromSigner::Failed { session, .. } if session == on_b.session));
    // Nothing was spent: the aborted presign stored no presignature.
    assert_eq!(g.presignatures(WALLET)[0], 0);
}

#[test]
fn a_second_start_of_a_running_session_is_audited_not_answered() {
    let g = group("dup-start");
    let signer = g.signer(0);
    let (out, rx) = link();
    let start = waiting_start(&g);
    signer.handle(ToSigner::Start(Box::new(start.clone())), &out);
    // The duplicate is handled synchronously: had it been answered, the answer would be queued
    // by the time `handle` returns.
    signer.handle(ToSigner::Start(Box::new(start.clone())), &out);
    assert!(
        rx.try_iter()
            .all(|f| matches!(f, FromSigner::Envelope { .. })),
        "the duplicate start was answered"
    );
    let refusals: Vec<_> = g.nodes[0]
        .audit
        .log
        .entries(1, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EntryKind::Refusal(RefusalReason::Replayed))
        .collect();
    assert_eq!(refusals.len(), 1, "the duplicate is audited as a replay");
    // The running session is untouched and answers once, for itself.
    assert_eq!(signer.status().sessions, 1);
    signer.handle(
        ToSigner::Abort {
            session: start.session,
            reason: "test".into(),
        },
        &out,
    );
    match answer(&rx) {
        FromSigner::Failed { session, failure } => {
            assert_eq!(session, start.session);
            assert_eq!(failure.kind, FailureKind::Aborted);
        }
        other => panic!("expected the session aborted, got {other:?}"),
    }
}

//! A signer's audit log read back page-wise over the link (`ToSigner::AuditPage`): pages that
//! verify as the signer's own export, a head signed by its node identity key, paging, limits,
//! and a relaying coordinator that drops, edits or rewrites entries, or replays an old head,
//! caught by the verifier's side (`tessera_proto::audit::ExportBuilder`, what the client runs).

#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use std::sync::atomic::Ordering;

use common::*;
use tessera_audit::{CheckpointError, Entry, EntryKind, VerifyError};
use tessera_crypto::SchemeId;
use tessera_proto::audit::{
    signer_chain_id, verify_signer_export, AuditPage, AuditPageError, ExportBuilder,
    SignerAuditError, VerifiedSignerExport, AUDIT_HEAD_DOMAIN, MAX_AUDIT_PAGE,
};
use tessera_proto::link::{FailureKind, Job};
use tessera_wire::NodeId;

const WALLET: &str = "audit-w";

/// A group whose signers 0 and 1 signed two messages and refused one (an authorization valid
/// longer than they accept).
fn group_with_history(name: &str) -> Group {
    let mut g = Group::new(name, 3);
    g.keygen(WALLET, SchemeId::Ed25519, 2);
    for (text, ttl) in [("one", 300), ("two", 300), ("too long-lived", 7200)] {
        let m = msg(text);
        let auth = sign_auth(&g.operator, &random_id(), WALLET, "m", &m, now_unix() + ttl);
        let answers = g.run(
            WALLET,
            &[0, 1],
            Job::Sign {
                signers: vec![0, 1],
                message: m,
                path: "m".into(),
                authorization: auth,
                transaction: None,
                policy_version: 1,
                approvals: Vec::new(),
            },
        );
        for a in answers {
            if ttl > 3600 {
                assert_eq!(a.unwrap_err().kind, FailureKind::Unauthorized);
            } else {
                a.unwrap();
            }
        }
    }
    g
}

fn node_id(g: &Group, i: usize) -> NodeId {
    g.nodes[i].signed.identity.node_id()
}

/// The signer's own export of its log, read directly from the file (the reference).
fn local_export(g: &Group, i: usize) -> String {
    let mut out = Vec::new();
    g.nodes[i].audit.log.export(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Pages through signer `i` over the link with `limit`, a fresh challenge per page, passing
/// every answer through `tamper` (the relaying coordinator) before the verifier sees it.
fn fetch(
    g: &mut Group,
    i: usize,
    limit: u32,
    mut tamper: impl FnMut(&mut AuditPage),
) -> Result<VerifiedSignerExport, SignerAuditError> {
    let mut b = ExportBuilder::new(node_id(g, i));
    let mut request = 0;
    loop {
        request += 1;
        let challenge = random32();
        let mut page = g
            .audit_request(i, request, b.next_seq(), limit, challenge)
            .unwrap();
        tamper(&mut page);
        if b.push(page, &challenge)? {
            return b.finish();
        }
        assert!(request < 10_000, "paging does not end");
    }
}

#[test]
fn a_signer_answers_audit_pages_that_verify_with_a_head_signed_by_its_identity() {
    let mut g = group_with_history("audit-pages");
    let me = node_id(&g, 0);
    let head = g.nodes[0].audit.log.head().unwrap();
    // Policy change, two signatures, one refusal (at least).
    assert!(head.seq >= 4, "{head:?}");

    // One page: every entry, exactly the signer's own export lines, and the signed head.
    let challenge = random32();
    let page = g.audit_request(0, 7, 1, 1000, challenge).unwrap();
    assert_eq!(page.chain_id, signer_chain_id(&me));
    assert_eq!(page.from_seq, 1);
    assert_eq!(page.entries.len() as u64, head.seq);
    let local = local_export(&g, 0);
    let lines: Vec<&str> = local.lines().skip(1).collect();
    assert_eq!(page.entries, lines);
    assert_eq!((page.head.seq, page.head.hash), (head.seq, head.hash));
    assert_eq!((page.head.node_id, page.head.challenge), (me, challenge));
    page.head.verify(&me).unwrap();
    // Signed under the audit-head domain with the node identity key, over the checkpoint
    // encoding and the challenge.
    let bytes = tessera_proto::audit::SignedHead::signing_bytes(
        &page.head.chain_id,
        page.head.seq,
        &page.head.hash,
        &challenge,
    );
    assert!(me
        .verify(AUDIT_HEAD_DOMAIN, &bytes, &page.head.signature)
        .is_ok());
    assert!(me
        .verify("tessera/link-hello/v1", &bytes, &page.head.signature)
        .is_err());
    // Not signer 1's head.
    assert!(matches!(
        page.head.verify(&node_id(&g, 1)),
        Err(SignerAuditError::WrongSigner { .. })
    ));
    // A forged seq breaks the signature.
    let mut forged = page.head.clone();
    forged.seq -= 1;
    assert_eq!(forged.verify(&me), Err(SignerAuditError::BadSignature));

    // The assembled export is the signer's own export, byte for byte, and ends at the head;
    // the same with pages of one and of two entries.
    for limit in [1000, 2, 1] {
        let v = fetch(&mut g, 0, limit, |_| {}).unwrap();
        assert_eq!(v.export, local, "limit {limit}");
        assert_eq!(
            (v.report.head_seq, v.report.head_hash),
            (head.seq, head.hash)
        );
        assert_eq!(v.report.chain_id, signer_chain_id(&me));
    }
    // Offline, from the export and the head.
    let v = fetch(&mut g, 0, 1000, |_| {}).unwrap();
    verify_signer_export(&me, v.export.as_bytes(), &v.head, Some(&v.head.challenge)).unwrap();
    assert_eq!(
        verify_signer_export(&me, v.export.as_bytes(), &v.head, Some(&random32())).unwrap_err(),
        SignerAuditError::WrongChallenge
    );
    // The cross-check sees the signer's signatures and refusal.
    let kinds: Vec<&'static str> = v
        .export
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str::<Entry>(l).unwrap().kind.name())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "signature").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "refusal").count(), 1);

    // A page past the end: no entries, the current head.
    let page = g
        .audit_request(0, 8, head.seq + 5, 1000, challenge)
        .unwrap();
    assert!(page.entries.is_empty());
    assert_eq!(page.from_seq, head.seq + 5);
    assert_eq!(page.head.seq, head.seq);
    page.head.verify(&me).unwrap();
    // A page in the middle starts where asked.
    let page = g.audit_request(0, 9, 2, 2, challenge).unwrap();
    assert_eq!(page.entries, lines[1..3]);
    // from_seq 0 counts as 1.
    let page = g.audit_request(0, 10, 0, 1, challenge).unwrap();
    assert_eq!(page.from_seq, 1);
    assert_eq!(page.entries, lines[..1]);
}

#[test]
fn audit_pages_are_capped_and_a_read_failure_is_a_typed_error() {
    let mut g = Group::new("audit-cap", 1);
    let me = node_id(&g, 0);
    let actor = hex::encode(me.0);
    for n in 0..1100u32 {
        g.nodes[0]
            .audit
            .log
            .append(
                &actor,
                EntryKind::Other("test".into()),
                &format!("s-{n}"),
                serde_json::json!({ "n": n }),
                1,
            )
            .unwrap();
    }
    let head = g.nodes[0].audit.log.head().unwrap();
    assert_eq!(head.seq, 1101);
    let page = g.audit_request(0, 1, 1, 50_000, random32()).unwrap();
    assert_eq!(page.entries.len(), MAX_AUDIT_PAGE as usize);
    assert_eq!(page.head.seq, 1101);
    let page = g.audit_request(0, 2, 1001, u32::MAX, random32()).unwrap();
    assert_eq!(page.entries.len(), 101);
    let page = g.audit_request(0, 3, 1, 0, random32()).unwrap();
    assert!(page.entries.is_empty());
    // Two pages of 1000 and 101 assemble into the whole export.
    let v = fetch(&mut g, 0, 5000, |_| {}).unwrap();
    assert_eq!(v.report.entries, 1101);
    assert_eq!(v.export, local_export(&g, 0));

    // A log the signer cannot read: a typed error frame, correlated; nothing signed.
    g.nodes[0].audit.fail_reads.store(true, Ordering::SeqCst);
    let err = g.audit_request(0, 4, 1, 10, random32()).unwrap_err();
    assert!(
        matches!(err, AuditPageError::Unavailable(ref m) if m.contains("injected")),
        "{err:?}"
    );
    g.nodes[0].audit.fail_reads.store(false, Ordering::SeqCst);
    assert!(g.audit_request(0, 5, 1, 10, random32()).is_ok());
}

/// Recomputes the links and hashes of `lines` (export lines without the header) from entry 1,
/// renumbering them: what a coordinator that rewrites a log consistently would produce.
fn rechain(chain_id: &str, lines: &[String]) -> Vec<String> {
    let mut prev = tessera_audit::genesis_hash(chain_id);
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut e: Entry = serde_json::from_str(l).unwrap();
            e.seq = i as u64 + 1;
            e.prev_hash = prev;
            e.hash = e.compute_hash().unwrap();
            prev = e.hash;
            e.to_json_line().unwrap()
        })
        .collect()
}

#[test]
fn a_coordinator_that_drops_edits_rewrites_or_replays_is_caught() {
    let mut g = group_with_history("audit-tamper");
    let me = node_id(&g, 0);
    let chain = signer_chain_id(&me);
    let head = g.nodes[0].audit.log.head().unwrap();
    assert!(fetch(&mut g, 0, 1000, |_| {}).is_ok());

    // Drops the newest entry from every page: the pages never reach the signed head.
    let err = fetch(&mut g, 0, 1000, |p| {
        p.entries.pop();
    })
    .unwrap_err();
    assert_eq!(
        err,
        SignerAuditError::Incomplete {
            next_seq: head.seq,
            head_seq: head.seq,
        }
    );
    // The same export cut short, checked offline against the signed head.
    let v = fetch(&mut g, 0, 1000, |_| {}).unwrap();
    let mut cut: Vec<&str> = v.export.lines().collect();
    cut.pop();
    let cut = cut.join("\n") + "\n";
    assert_eq!(
        verify_signer_export(&me, cut.as_bytes(), &v.head, None).unwrap_err(),
        SignerAuditError::Head(CheckpointError::Truncated {
            checkpoint_seq: head.seq,
            export_head_seq: head.seq - 1,
        })
    );

    // Tampering with the first page only (it holds every entry).
    let first = |f: fn(&mut AuditPage, usize)| {
        move |p: &mut AuditPage| {
            if p.from_seq == 1 {
                f(p, 0)
            }
        }
    };
    let sig_at = local_export(&g, 0)
        .lines()
        .skip(1)
        .position(|l| l.contains("\"kind\":\"signature\""))
        .unwrap();
    assert!(
        sig_at + 1 < head.seq as usize,
        "a signature before the newest entry"
    );
    let at = sig_at;

    // Drops a signature entry in the middle: the chain breaks there.
    let err = fetch(&mut g, 0, 1000, move |p| {
        if p.from_seq == 1 {
            p.entries.remove(at);
        }
    })
    .unwrap_err();
    assert!(
        matches!(err, SignerAuditError::Export(VerifyError::Gap { .. })),
        "{err:?}"
    );

    // Edits one entry (its subject, the request id): its hash no longer matches.
    let err = fetch(&mut g, 0, 1000, move |p| {
        if p.from_seq == 1 {
            let subject = serde_json::from_str::<Entry>(&p.entries[at])
                .unwrap()
                .subject;
            p.entries[at] = p.entries[at].replace(&subject, "another-request");
        }
    })
    .unwrap_err();
    assert_eq!(
        err,
        SignerAuditError::Export(VerifyError::BadHash {
            seq: sig_at as u64 + 1
        })
    );

    // Removes the signature and recomputes every hash after it: the rewritten entries verify
    // among themselves, but the signer's next entry does not link to them.
    let err = fetch(&mut g, 0, 1000, move |p| {
        if p.from_seq == 1 {
            p.entries.remove(at);
            p.entries = rechain(&p.chain_id, &p.entries);
        }
    })
    .unwrap_err();
    assert_eq!(
        err,
        SignerAuditError::Export(VerifyError::BrokenLink { seq: head.seq })
    );
    // ... and with a head made to match the rewrite, the head signature fails.
    let err = fetch(&mut g, 0, 1000, move |p| {
        p.entries.remove(at);
        p.entries = rechain(&p.chain_id, &p.entries);
        let last: Entry = serde_json::from_str(p.entries.last().unwrap()).unwrap();
        p.head.seq = last.seq;
        p.head.hash = last.hash;
    })
    .unwrap_err();
    assert_eq!(err, SignerAuditError::BadSignature);
    // ... and an edited entry with every hash recomputed: rewritten at the signed head.
    let err = fetch(
        &mut g,
        0,
        1000,
        first(|p, _| {
            let at = p
                .entries
                .iter()
                .position(|l| l.contains("\"kind\":\"signature\""))
                .unwrap();
            p.entries[at] =
                p.entries[at].replace("\"kind\":\"signature\"", "\"kind\":\"approval\"");
            p.entries = rechain(&p.chain_id, &p.entries);
        }),
    )
    .unwrap_err();
    assert_eq!(
        err,
        SignerAuditError::Head(CheckpointError::Rewritten { seq: head.seq })
    );

    // Replays an older answer: a head signed over another challenge.
    let old = g.audit_request(0, 99, 1, 1000, random32()).unwrap();
    let err = fetch(&mut g, 0, 1000, |p| *p = old.clone()).unwrap_err();
    assert_eq!(err, SignerAuditError::WrongChallenge);

    // Passes off another signer's log (with its own valid head) as this one's.
    let other = g.audit_request(1, 100, 1, 1000, random32()).unwrap();
    let err = fetch(&mut g, 0, 1000, |p| {
        let challenge = p.head.challenge;
        *p = other.clone();
        p.head.challenge = challenge;
    })
    .unwrap_err();
    assert!(
        matches!(err, SignerAuditError::WrongSigner { .. }),
        "{err:?}"
    );

    // Returns an empty page although entries remain.
    let err = fetch(&mut g, 0, 1000, |p| p.entries.clear()).unwrap_err();
    assert_eq!(
        err,
        SignerAuditError::Incomplete {
            next_seq: 1,
            head_seq: head.seq
        }
    );
    // Skips a page.
    let err = fetch(&mut g, 0, 2, |p| {
        if p.from_seq == 3 {
            p.from_seq = 5;
        }
    })
    .unwrap_err();
    assert_eq!(
        err,
        SignerAuditError::OutOfOrder {
            expected: 3,
            found: 5
        }
    );
    // Nothing was tampered with at the signer.
    assert_eq!(
        fetch(&mut g, 0, 1000, |_| {}).unwrap().export,
        local_export(&g, 0)
    );
    assert_eq!(chain, g.nodes[0].audit.log.chain_id());
}

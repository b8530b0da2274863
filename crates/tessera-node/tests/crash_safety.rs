//! Presignatures are used at most once, across crashes and restarts.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tessera_crypto::{scheme, DerivationPath, SchemeId};
use tessera_proto::link::{FailureKind, Job, Outcome};
use tessera_vault::{KdfParams, Unlock, Vault, VaultError};

/// Vault level: a presignature taken (the step before a partial is computed) and then a crash
/// (the vault dropped with nothing else done) stays consumed after reopening; it cannot be taken
/// again nor stored again. A wrong passphrase does not open the vault.
#[test]
fn a_presignature_taken_before_a_crash_stays_consumed() {
    let dir = test_dir("vault-crash");
    let path = dir.join("vault.db");
    let id = [7u8; 32];
    let secret = b"presignature secret bytes".to_vec();
    {
        let mut v = Vault::create(&path, &unlock(), KdfParams::insecure_for_tests()).unwrap();
        v.put_presignature("w", &id, &secret).unwrap();
        v.put_presignature("w", &[8u8; 32], b"another").unwrap();
    }
    {
        let mut v = open_vault(&path);
        assert_eq!(v.presignature_ids("w").unwrap().len(), 2);
        let got = v.take_presignature("w", &id).unwrap();
        assert_eq!(&got[..], &secret[..]);
        // Crash: no further call, no clean shutdown of anything but the handle.
    }
    let mut v = open_vault(&path);
    assert!(v.is_consumed(&id).unwrap());
    assert!(matches!(
        v.take_presignature("w", &id),
        Err(VaultError::PresignatureConsumed)
    ));
    assert!(matches!(
        v.put_presignature("w", &id, &secret),
        Err(VaultError::PresignatureConsumed)
    ));
    assert!(matches!(
        v.put_presignature("other-wallet", &id, &secret),
        Err(VaultError::PresignatureConsumed)
    ));
    // The other presignature is untouched.
    assert_eq!(v.presignature_ids("w").unwrap(), vec![[8u8; 32]]);
    drop(v);
    assert!(matches!(
        Vault::open(&path, &Unlock::passphrase("wrong passphrase")),
        Err(VaultError::WrongPassphrase)
    ));
    // And the right one still works afterwards.
    let v = open_vault(&path);
    assert!(v.is_consumed(&id).unwrap());
}

fn presign(g: &mut Group, wallet: &str, parts: &[usize]) -> tessera_crypto::PresignPublic {
    let signers: Vec<u16> = parts.iter().map(|&p| p as u16).collect();
    let answers = g.run(wallet, parts, Job::Presign { signers });
    let mut public = None;
    for a in answers {
        match a.expect("presign succeeds") {
            Outcome::Presign(p) => public = Some(p),
            o => panic!("unexpected {o:?}"),
        }
    }
    public.unwrap()
}

fn sign_presigned(
    g: &mut Group,
    wallet: &str,
    parts: &[usize],
    id: [u8; 32],
    text: &str,
) -> Vec<Answer> {
    let m = msg(text);
    let authorization = sign_auth(&g.operator, &random_id(), wallet, "m", &m, now_unix() + 300);
    g.run(
        wallet,
        parts,
        Job::SignPresigned {
            presignature: id,
            signers: parts.iter().map(|&p| p as u16).collect(),
            message: m,
            path: "m".into(),
            authorization,
            transaction: None,
            policy_version: 1,
            approvals: Vec::new(),
        },
    )
}

fn assert_replayed(a: &Answer, what: &str) {
    match a {
        Err(f) => assert_eq!(f.kind, FailureKind::Replayed, "{what}: {}", f.message),
        Ok(o) => panic!("{what}: a consumed presignature was used again: {o:?}"),
    }
}

/// Signer level: the same presignature id in a second `SignPresigned` session (fresh session id,
/// fresh valid authorization) is refused as replayed, also by signers restarted over their
/// reopened vaults, and also when the signer crashed right after consuming it.
#[test]
fn signer_never_uses_a_presignature_twice_across_restarts() {
    let mut g = Group::new("presig-restart", 3);
    let (pk, cc) = g.keygen("w", SchemeId::Ed25519, 2);
    // A new wallet's shares are epoch 0, committed, nothing prepared.
    for i in 0..3 {
        let info = g.signer(i).wallet_info("w").unwrap().expect("wallet held");
        assert_eq!((info.epoch, info.index), (0, i as u16));
        assert_eq!(g.status(i).prepared_epochs, 0);
    }
    assert!(g.signer(0).wallet_info("other").unwrap().is_none());

    // First use: both partials, and they combine into a valid signature.
    let p1 = presign(&mut g, "w", &[0, 1]);
    let answers = sign_presigned(&mut g, "w", &[0, 1], p1.id(), "first");
    let partials: Vec<_> = answers
        .into_iter()
        .map(|a| match a.expect("first use succeeds") {
            Outcome::Partial(p) => p,
            o => panic!("unexpected {o:?}"),
        })
        .collect();
    scheme(SchemeId::Ed25519)
        .combine(
            &pk,
            &cc,
            &p1,
            &partials,
            &msg("first"),
            &DerivationPath::root(),
        )
        .expect("partials combine into a valid signature");

    // Second use, same process: refused by both.
    for a in sign_presigned(&mut g, "w", &[0, 1], p1.id(), "second") {
        assert_replayed(&a, "second use");
    }
    // After a restart (vaults reopened): still refused.
    g.restart(0);
    g.restart(1);
    for a in sign_presigned(&mut g, "w", &[0, 1], p1.id(), "after restart") {
        assert_replayed(&a, "after restart");
    }

    // A crash between consuming and releasing the partial: signer 0 takes the presignature out
    // of its vault and dies before answering. Restarted, it refuses to use it.
    let p2 = presign(&mut g, "w", &[0, 1]);
    g.stop(0);
    {
        let mut v = open_vault(&g.nodes[0].vault_path);
        v.take_presignature("w", &p2.id())
            .expect("stored after presign");
    }
    g.restart(0);
    let answers = sign_presigned(&mut g, "w", &[0, 1], p2.id(), "after crash");
    assert_replayed(&answers[0], "used after a crash");
    assert!(matches!(answers[1], Ok(Outcome::Partial(_))));
    // Signer 1 has now consumed it as well.
    for a in sign_presigned(&mut g, "w", &[1, 0], p2.id(), "again") {
        assert_replayed(&a, "again");
    }

    // Neither presignature is left in any vault; both are recorded as consumed.
    for i in 0..2 {
        g.stop(i);
        let v = open_vault(&g.nodes[i].vault_path);
        let left = v.presignature_ids("w").unwrap();
        for id in [p1.id(), p2.id()] {
            assert!(v.is_consumed(&id).unwrap());
            assert!(!left.contains(&id));
        }
    }
}

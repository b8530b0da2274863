//! Operating modes, the shared signing-request builder and the local-dev template.

use std::collections::{BTreeMap, BTreeSet};

use tessera_chain::{Intent, SignMessage};
use tessera_policy::*;

use crate::common::*;

const DEV: &str = include_str!("../../templates/local-dev.cedar");

fn change(seq: u64, mode: Mode, signers: &[u8]) -> ModeChange {
    let mut c = ModeChange::new(
        TENANT,
        seq,
        mode,
        "signer-3 unreachable",
        NOW - 10,
        NOW + 3600,
    );
    for n in signers {
        c.sign(&key(*n));
    }
    c
}

#[test]
fn mode_change_needs_the_admin_quorum_and_a_newer_sequence() {
    let b = bundle(1, "");
    let ok = change(1, Mode::Lockdown, &[1, 2]);
    assert_eq!(accept_mode(None, &ok, &b, NOW), Ok(()));
    assert_eq!(
        accept_mode(None, &change(1, Mode::Lockdown, &[1]), &b, NOW),
        Err(ModeError::QuorumNotMet { have: 1, need: 2 })
    );
    assert_eq!(
        accept_mode(None, &change(1, Mode::Lockdown, &[1, 9]), &b, NOW),
        Err(ModeError::UnknownAdmin { admin: pk(9) })
    );
    assert_eq!(
        accept_mode(Some(&ok), &change(1, Mode::Normal, &[1, 2]), &b, NOW),
        Err(ModeError::StaleSequence {
            current: 1,
            candidate: 1
        })
    );
    // Any field altered after signing: the signature no longer verifies.
    let mut tampered = ok.clone();
    tampered.mode = Mode::Normal;
    assert!(matches!(
        accept_mode(None, &tampered, &b, NOW),
        Err(ModeError::BadSignature { .. })
    ));
    // Outside its validity, or for another tenant.
    assert!(matches!(
        accept_mode(None, &ok, &b, NOW + 3600),
        Err(ModeError::NotValidNow { .. })
    ));
    let mut other = bundle(1, "");
    other.tenant = "other".into();
    assert!(matches!(
        accept_mode(None, &ok, &other, NOW),
        Err(ModeError::TenantMismatch { .. })
    ));
    let mut long = ModeChange::new(TENANT, 2, Mode::Degraded, "", NOW, NOW + MAX_MODE_S + 1);
    long.sign(&key(1));
    long.sign(&key(2));
    assert!(matches!(
        accept_mode(None, &long, &b, NOW),
        Err(ModeError::NotValidNow { .. })
    ));
}

#[test]
fn a_mode_is_in_force_until_it_expires() {
    let c = change(1, Mode::Degraded, &[1, 2]);
    assert_eq!(mode_in_force(None, NOW), Mode::Normal);
    assert_eq!(mode_in_force(Some(&c), NOW), Mode::Degraded);
    assert_eq!(mode_in_force(Some(&c), NOW + 3599), Mode::Degraded);
    assert_eq!(mode_in_force(Some(&c), NOW + 3600), Mode::Normal);
    assert_eq!(mode_in_force(Some(&c), NOW - 11), Mode::Normal);
}

#[test]
fn lockdown_denies_everything_a_policy_would_permit() {
    let e = engine(r#"@id("all") permit(principal, action, resource);"#);
    let l = MemoryLedger::new();
    let i = eth_transfer(OTHER_DEST, ETH);
    assert!(matches!(
        e.evaluate(&req(&[], &i, NOW), &l),
        Decision::Allow { .. }
    ));
    let d = e.evaluate(&req(&[], &i, NOW).with_mode(Mode::Lockdown), &l);
    assert_eq!(
        d,
        Decision::Deny {
            policy_ids: vec![],
            reasons: vec![DenyReason::Lockdown]
        }
    );
    // Changing policy stays possible, so admins can act.
    let cp = PolicyRequest::change_policy(principal(&[]), NOW).with_mode(Mode::Lockdown);
    assert!(!e.evaluate(&cp, &l).is_deny());
}

fn dev_bundle() -> PolicyBundle {
    let mut b = bundle(1, DEV);
    b.roles = BTreeMap::from([
        ("operator".to_string(), BTreeSet::from([pk(40)])),
        ("approver".to_string(), BTreeSet::from([pk(41)])),
    ]);
    b
}

fn dev_eval(e: &Engine, intent: Option<&Intent>, messages: &[SignMessage], mode: Mode) -> Decision {
    let r = signing_request(e.bundle(), &pk(40), "w-1", intent, messages, NOW, mode).unwrap();
    e.evaluate(&r, &MemoryLedger::new())
}

#[test]
fn signing_request_takes_roles_from_the_bundle() {
    let b = dev_bundle();
    assert_eq!(roles_of(&b, &pk(40)), vec!["operator".to_string()]);
    assert_eq!(roles_of(&b, &pk(41)), vec!["approver".to_string()]);
    assert!(roles_of(&b, &pk(42)).is_empty());
    let r = signing_request(&b, &pk(42), "w-1", None, &[], NOW, Mode::Normal).unwrap();
    assert_eq!(r.principal().api_key(), pk(42).to_hex());
    assert_eq!(r.principal().tenant(), TENANT);
    // An unknown key has no role: nothing permits it.
    let e = Engine::compile(&b).unwrap();
    assert!(e.evaluate(&r, &MemoryLedger::new()).is_deny());
}

#[test]
fn local_dev_template() {
    let e = Engine::compile(&dev_bundle()).unwrap();
    let digest = [SignMessage::RawDigest([7; 32])];
    // Raw digests: explicitly allowed in normal mode only.
    assert!(matches!(
        dev_eval(&e, None, &digest, Mode::Normal),
        Decision::Allow { .. }
    ));
    assert!(dev_eval(&e, None, &digest, Mode::Degraded).is_deny());
    // Native transfers: no approval; large token transfers: one approver.
    let eth = eth_transfer(OTHER_DEST, 5 * ETH);
    assert_eq!(
        ids(&dev_eval(&e, Some(&eth), &[], Mode::Normal)),
        vec!["dev-operator-signs"]
    );
    let small = usdc_transfer(OTHER_DEST, 1_000 * USDC_UNIT);
    assert!(matches!(
        dev_eval(&e, Some(&small), &[], Mode::Normal),
        Decision::Allow { .. }
    ));
    let large = usdc_transfer(OTHER_DEST, 1_001 * USDC_UNIT);
    assert_eq!(
        dev_eval(&e, Some(&large), &[], Mode::Normal),
        Decision::AllowWithApprovals {
            quorum: quorum(&[("approver", 1)]),
            // The ETH evaluation of the fee is allowed by the operator's permit.
            policy_ids: vec![
                "dev-large-token-transfer".into(),
                "dev-operator-signs".into()
            ],
        }
    );
    // Degraded: transfers need an approver; everything else is forbidden.
    assert_eq!(
        dev_eval(&e, Some(&eth), &[], Mode::Degraded).quorum(),
        Some(&quorum(&[("approver", 1)]))
    );
    assert!(dev_eval(&e, Some(&approve(false)), &[], Mode::Degraded).is_deny());
    // Lockdown: nothing.
    assert!(dev_eval(&e, Some(&eth), &[], Mode::Lockdown).is_deny());
}

#[test]
fn secret_key_text_round_trip() {
    let k = key(5);
    let text = k.to_text();
    assert_eq!(text.len(), 65);
    assert_eq!(SecretKey::from_text(&text).unwrap().public(), pk(5));
    assert_eq!(SecretKey::from_text("zz").unwrap_err(), KeyError::NotHex);
    assert_eq!(
        SecretKey::from_text("abcd").unwrap_err(),
        KeyError::WrongLength
    );
}

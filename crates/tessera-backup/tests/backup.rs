//! Backups round-trip to each recipient and refuse wrong keys, altered headers or ciphertexts,
//! and payloads that do not match their tags.

#![allow(clippy::unwrap_used)]

use tessera_backup::{
    open_share, open_signer, seal, AuxRecord, Backup, BackupError, BackupIdentity, Header, Kind,
    SharePayload, ShareTag, SignerPayload,
};
use tessera_crypto::primes::fixtures;
use tessera_crypto::{
    scheme, sim, AuxInfo, Cggmp24, KeyShare, KeygenInput, SchemeId, SessionId, ThresholdParams,
};
use tessera_wire::{IdentityKey, NodeId};

fn keygen(id: SchemeId) -> Vec<KeyShare> {
    let sid = SessionId::random(&mut rand_core::OsRng);
    let params = ThresholdParams::new(2, 3).unwrap();
    let sessions = (0..3)
        .map(|me| {
            scheme(id)
                .keygen(KeygenInput {
                    sid,
                    me,
                    params,
                    aux: None,
                })
                .unwrap()
        })
        .collect();
    sim::run(sessions).unwrap()
}

fn tag(share: &KeyShare, wallet: &str, epoch: u32) -> ShareTag {
    ShareTag {
        wallet_id: wallet.into(),
        scheme: share.scheme(),
        threshold: share.params().t,
        n: share.params().n,
        index: share.index(),
        epoch,
        public_key: share.public_key().clone(),
        chain_code: share.chain_code(),
    }
}

fn facts(roster: &[NodeId], index: u16) -> String {
    serde_json::json!({ "index": index, "roster": roster, "scheme": "ed25519" }).to_string()
}

fn share_backup(
    share: &KeyShare,
    tag: ShareTag,
    roster: &[NodeId],
    to: &[&BackupIdentity],
) -> Backup {
    let payload = SharePayload {
        share: share.to_bytes(),
        public_info: facts(roster, share.index()),
        aux: None,
    };
    let header = Header {
        kind: Kind::Share,
        node_id: roster[usize::from(share.index())],
        created_at: 1,
        share: Some(tag),
    };
    let recipients: Vec<_> = to.iter().map(|i| i.recipient()).collect();
    seal(header, &payload.to_json(), &recipients).unwrap()
}

fn roster() -> Vec<NodeId> {
    (0..3)
        .map(|_| {
            IdentityKey::generate(&mut rand_core::OsRng)
                .public()
                .node_id()
        })
        .collect()
}

#[test]
fn a_share_backup_opens_for_each_recipient_and_matches_its_tag() {
    let shares = keygen(SchemeId::Ed25519);
    let roster = roster();
    let (a, b, stranger) = (
        BackupIdentity::generate(),
        BackupIdentity::generate(),
        BackupIdentity::generate(),
    );
    let backup = share_backup(&shares[1], tag(&shares[1], "w", 0), &roster, &[&a, &b]);
    let text = backup.to_json();
    assert!(!text.contains(&hex::encode(&*shares[1].to_bytes())));
    let parsed = Backup::from_json(&text).unwrap();
    for id in [a, b] {
        let opened = open_share(&parsed, std::slice::from_ref(&id)).unwrap();
        assert_eq!(opened.tag, tag(&shares[1], "w", 0));
        assert_eq!(opened.node_id, roster[1]);
        assert_eq!(*opened.share.to_bytes(), *shares[1].to_bytes());
    }
    assert!(matches!(
        open_share(&parsed, &[stranger]),
        Err(BackupError::NotARecipient)
    ));
}

#[test]
fn identity_files_round_trip_and_are_redacted() {
    let id = BackupIdentity::generate();
    let again = BackupIdentity::from_text(&id.to_text()).unwrap();
    assert_eq!(again.recipient(), id.recipient());
    assert!(!format!("{id:?}").contains(&id.to_text()[27..40]));
    assert!(BackupIdentity::from_text("tessera-backup-identity-v1:zz").is_err());
}

/// Every header field is authenticated: relabelling a backup as another epoch, wallet, party
/// or key makes it fail to decrypt; so does a flipped ciphertext byte.
#[test]
fn altered_headers_and_ciphertexts_do_not_decrypt() {
    let shares = keygen(SchemeId::Ed25519);
    let roster = roster();
    let id = BackupIdentity::generate();
    let backup = share_backup(&shares[0], tag(&shares[0], "w", 3), &roster, &[&id]);
    type Edit = Box<dyn Fn(&mut Backup)>;
    let edits: Vec<Edit> = vec![
        Box::new(|b| b.header.share.as_mut().unwrap().epoch = 4),
        Box::new(|b| b.header.share.as_mut().unwrap().wallet_id = "other".into()),
        Box::new(|b| b.header.share.as_mut().unwrap().index = 2),
        Box::new(|b| b.header.share.as_mut().unwrap().chain_code[0] ^= 1),
        Box::new(|b| b.header.created_at += 1),
        Box::new(|b| b.header.node_id = NodeId([7; 32])),
        Box::new(|b| {
            let ct = &mut b.stanzas[0].ciphertext;
            let flipped = if ct.starts_with('0') { "1" } else { "0" };
            ct.replace_range(0..1, flipped);
        }),
    ];
    for (i, edit) in edits.iter().enumerate() {
        let mut b = backup.clone();
        edit(&mut b);
        let r = open_share(&b, std::slice::from_ref(&id));
        assert!(matches!(r, Err(BackupError::Decrypt)), "edit {i}: {r:?}");
    }
    assert!(open_share(&backup, &[id]).is_ok());
}

/// A backup whose (authentic) tag does not describe its share is refused, field by field.
#[test]
fn a_share_that_does_not_match_its_tag_is_refused() {
    let shares = keygen(SchemeId::Ed25519);
    let other_wallet = keygen(SchemeId::Ed25519);
    let roster = roster();
    let id = BackupIdentity::generate();
    let cases: Vec<(ShareTag, &str)> = vec![
        (tag(&other_wallet[0], "w", 0), "group public key"),
        (
            ShareTag {
                index: 1,
                ..tag(&shares[0], "w", 0)
            },
            "party index",
        ),
        (
            ShareTag {
                threshold: 3,
                ..tag(&shares[0], "w", 0)
            },
            "threshold",
        ),
        (
            ShareTag {
                scheme: SchemeId::SchnorrBip340,
                ..tag(&shares[0], "w", 0)
            },
            "scheme",
        ),
    ];
    for (t, field) in cases {
        let b = share_backup(&shares[0], t, &roster, &[&id]);
        match open_share(&b, std::slice::from_ref(&id)) {
            Err(BackupError::Mismatch(f)) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // Written by a node that is not at the share's index of the roster.
    let mut swapped = roster.clone();
    swapped.swap(0, 1);
    let payload = SharePayload {
        share: shares[0].to_bytes(),
        public_info: facts(&swapped, 0),
        aux: None,
    };
    let header = Header {
        kind: Kind::Share,
        node_id: roster[0],
        created_at: 1,
        share: Some(tag(&shares[0], "w", 0)),
    };
    let b = seal(header, &payload.to_json(), &[id.recipient()]).unwrap();
    assert!(matches!(
        open_share(&b, std::slice::from_ref(&id)),
        Err(BackupError::Mismatch("node id in the roster"))
    ));
    // Corrupt share bytes are refused by the protocol crate's validating constructor.
    let mut bytes = shares[0].to_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let payload = SharePayload {
        share: bytes,
        public_info: facts(&roster, 0),
        aux: None,
    };
    let header = Header {
        kind: Kind::Share,
        node_id: roster[0],
        created_at: 1,
        share: Some(tag(&shares[0], "w", 0)),
    };
    let b = seal(header, &payload.to_json(), &[id.recipient()]).unwrap();
    assert!(matches!(
        open_share(&b, &[id]),
        Err(BackupError::InvalidShare(_))
    ));
}

#[test]
fn a_signer_backup_carries_the_identity_of_its_node_only() {
    let key = IdentityKey::generate(&mut rand_core::OsRng);
    let node = key.public().node_id();
    let id = BackupIdentity::generate();
    let payload = SignerPayload {
        identity: key.to_bytes(),
        settings: vec![("name".into(), "signer-1".into())],
        aux: Vec::new(),
    };
    let header = |node_id| Header {
        kind: Kind::Signer,
        node_id,
        created_at: 1,
        share: None,
    };
    let b = seal(header(node), &payload.to_json(), &[id.recipient()]).unwrap();
    let opened = open_signer(&b, std::slice::from_ref(&id)).unwrap();
    assert_eq!(*opened.identity, *key.to_bytes());
    assert_eq!(opened.settings, payload.settings);
    assert!(matches!(
        open_share(&b, std::slice::from_ref(&id)),
        Err(BackupError::WrongKind {
            expected: Kind::Share,
            found: Kind::Signer
        })
    ));
    let other = seal(
        header(NodeId([1; 32])),
        &payload.to_json(),
        &[id.recipient()],
    )
    .unwrap();
    assert!(matches!(
        open_signer(&other, &[id]),
        Err(BackupError::Mismatch("node id"))
    ));
}

/// A signer backup carrying `aux` (one group) under a fresh identity, opened.
fn open_signer_with_aux(aux: Vec<u8>) -> Result<SignerPayload, BackupError> {
    let key = IdentityKey::generate(&mut rand_core::OsRng);
    let id = BackupIdentity::generate();
    let payload = SignerPayload {
        identity: key.to_bytes(),
        settings: Vec::new(),
        aux: vec![AuxRecord {
            group: [3; 32],
            aux: aux.into(),
        }],
    };
    let header = Header {
        kind: Kind::Signer,
        node_id: key.public().node_id(),
        created_at: 1,
        share: None,
    };
    let b = seal(header, &payload.to_json(), &[id.recipient()]).unwrap();
    open_signer(&b, &[id])
}

/// The regression behind stop 24's CI failure: signers store aux info tagged with its generation
/// id, and `backup verify` refused every cggmp24 signer backup written after that change.
#[test]
fn a_signer_backup_accepts_tagged_and_legacy_aux_info_and_refuses_a_damaged_one() {
    let sid = SessionId::random(&mut rand_core::OsRng);
    let sessions = (0..2)
        .map(|i| {
            Cggmp24
                .aux_info_session(sid, i, 2, fixtures::primes(usize::from(i)))
                .unwrap()
        })
        .collect();
    let aux: Vec<AuxInfo> = sim::run(sessions).unwrap();
    let generation = SessionId([9; 32]);

    let tagged = aux[0].to_stored(&generation).to_vec();
    let opened = open_signer_with_aux(tagged.clone()).unwrap();
    assert_eq!(*opened.aux[0].aux, tagged, "restored exactly as stored");
    let (g, parsed) = AuxInfo::from_stored(&opened.aux[0].aux).unwrap().unwrap();
    assert_eq!((g, parsed.index(), parsed.n()), (generation, 0, 2));

    open_signer_with_aux(aux[1].to_bytes().to_vec()).expect("legacy untagged aux info");

    let mut truncated = tagged.clone();
    truncated.truncate(tessera_crypto::STORED_AUX_TAG.len() + 20);
    assert!(matches!(
        open_signer_with_aux(truncated),
        Err(BackupError::InvalidShare(_))
    ));
    let mut flipped = tagged;
    let last = flipped.len() - 2;
    flipped[last] ^= 0x55;
    assert!(matches!(
        open_signer_with_aux(flipped),
        Err(BackupError::InvalidShare(_))
    ));
    assert!(matches!(
        open_signer_with_aux(b"not aux info".to_vec()),
        Err(BackupError::InvalidShare(_))
    ));
}

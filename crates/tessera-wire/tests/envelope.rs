//! Sealing and opening envelopes.

use rand_core::{CryptoRng, OsRng, RngCore};
use tessera_crypto::{Message, SessionId};
use tessera_wire::{
    seal, Body, Envelope, IdentityKey, Opener, PublicIdentity, WireError, WIRE_VERSION,
};

/// A deterministic CSPRNG-shaped generator for reproducible tests (not secure).
struct TestRng(u64);

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for TestRng {}

struct Party {
    key: IdentityKey,
    index: u16,
}

struct Cluster {
    sid: [u8; 32],
    parties: Vec<Party>,
}

impl Cluster {
    fn new(n: u16, rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let mut sid = [0u8; 32];
        rng.fill_bytes(&mut sid);
        Cluster {
            sid,
            parties: (0..n)
                .map(|index| Party {
                    key: IdentityKey::generate(rng),
                    index,
                })
                .collect(),
        }
    }

    fn roster(&self) -> Vec<(u16, PublicIdentity)> {
        self.parties
            .iter()
            .map(|p| (p.index, p.key.public()))
            .collect()
    }

    fn opener(&self, i: u16) -> Opener {
        Opener::new(
            &self.parties[usize::from(i)].key,
            i,
            self.sid,
            self.roster(),
        )
    }

    fn msg(&self, from: u16, to: Option<u16>, round: u16, payload: Vec<u8>) -> Message {
        Message {
            session: SessionId(self.sid),
            round,
            from,
            to,
            payload,
        }
    }

    fn seal(&self, msg: &Message, rng: &mut (impl RngCore + CryptoRng)) -> Envelope {
        let recipient = msg.to.map(|t| self.parties[usize::from(t)].key.public());
        seal(
            &self.parties[usize::from(msg.from)].key,
            msg,
            recipient.as_ref(),
            rng,
        )
        .expect("seal")
    }
}

/// 64 bytes nobody would find by accident.
fn pattern() -> Vec<u8> {
    (0u8..64).map(|i| i.wrapping_mul(37) ^ 0xa5).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn broadcast_round_trip() {
    let mut rng = TestRng(1);
    let c = Cluster::new(3, &mut rng);
    let msg = c.msg(0, None, 1, b"hello everyone".to_vec());
    let env = c.seal(&msg, &mut rng);
    assert!(matches!(env.body, Body::Plain(_)));
    assert_eq!(env.sender, c.parties[0].key.node_id());
    let bytes = env.to_bytes();
    let parsed = Envelope::from_bytes(&bytes).expect("parse");
    assert_eq!(parsed, env);
    for i in [1u16, 2] {
        let got = c.opener(i).open(&parsed).expect("open");
        assert_eq!(got, msg);
    }
}

#[test]
fn p2p_round_trip_and_confidentiality() {
    let mut rng = TestRng(2);
    let c = Cluster::new(3, &mut rng);
    let mut payload = pattern();
    payload.extend_from_slice(b" and some more secret share bytes");
    let msg = c.msg(1, Some(2), 3, payload.clone());
    let env = c.seal(&msg, &mut rng);
    assert!(matches!(env.body, Body::Sealed { .. }));
    let bytes = env.to_bytes();
    assert!(
        !contains(&bytes, &pattern()),
        "plaintext visible on the wire"
    );
    // Nor in its Debug or JSON form.
    assert!(!format!("{env:?}").contains(&hex::encode(pattern())[..16]));
    let got = c.opener(2).open_bytes(&bytes).expect("open");
    assert_eq!(got, msg);
    assert_eq!(got.payload, payload);
}

#[test]
fn seeded_rng_is_deterministic_and_os_rng_works() {
    let c = Cluster::new(2, &mut TestRng(3));
    let msg = c.msg(0, Some(1), 1, pattern());
    let a = c.seal(&msg, &mut TestRng(99)).to_bytes();
    let b = c.seal(&msg, &mut TestRng(99)).to_bytes();
    assert_eq!(a, b);
    let d = c.seal(&msg, &mut OsRng);
    assert_ne!(d.to_bytes(), a);
    assert_eq!(c.opener(1).open(&d).expect("open"), msg);
}

#[test]
fn every_single_byte_tamper_is_rejected() {
    let mut rng = TestRng(4);
    let c = Cluster::new(3, &mut rng);
    for to in [None, Some(2u16)] {
        let msg = c.msg(0, to, 2, pattern());
        let bytes = c.seal(&msg, &mut rng).to_bytes();
        // Sanity: the untouched bytes open.
        c.opener(2).open_bytes(&bytes).expect("untampered opens");
        for pos in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut t = bytes.clone();
                t[pos] ^= flip;
                let mut opener = c.opener(2);
                let res = Envelope::from_bytes(&t).and_then(|e| opener.open(&e));
                assert!(
                    res.is_err(),
                    "tamper at byte {pos} (xor {flip:#x}) of {to:?} accepted"
                );
            }
        }
    }
}

#[test]
fn forged_sender_is_rejected() {
    let mut rng = TestRng(5);
    let c = Cluster::new(3, &mut rng);
    let mallory = IdentityKey::generate(&mut rng);
    let msg = c.msg(0, None, 1, b"i am party 0".to_vec());
    // Signed by a key outside the roster, claiming party 0.
    let forged = seal(&mallory, &msg, None, &mut rng).expect("seal");
    assert!(matches!(
        c.opener(1).open(&forged),
        Err(WireError::SenderMismatch { from: 0 })
    ));
    // Same, but also rewriting the sender id to party 0's id: the signature fails.
    let mut forged2 = forged.clone();
    forged2.sender = c.parties[0].key.node_id();
    assert!(matches!(
        c.opener(1).open(&forged2),
        Err(WireError::BadSignature)
    ));
    // An unknown party index.
    let msg9 = c.msg(9, None, 1, b"x".to_vec());
    let env9 = seal(&mallory, &msg9, None, &mut rng).expect("seal");
    assert!(matches!(
        c.opener(1).open(&env9),
        Err(WireError::UnknownSender { from: 9 })
    ));
    // A roster member impersonating another one by changing `from`.
    let mut imp = c.seal(&c.msg(2, None, 1, b"x".to_vec()), &mut rng);
    imp.from = 0;
    assert!(matches!(
        c.opener(1).open(&imp),
        Err(WireError::SenderMismatch { from: 0 })
    ));
}

#[test]
fn wrong_session_is_rejected() {
    let mut rng = TestRng(6);
    let a = Cluster::new(3, &mut rng);
    // Same parties, other session id.
    let mut sid_b = [0u8; 32];
    rng.fill_bytes(&mut sid_b);
    let opener_b = |i: u16| Opener::new(&a.parties[usize::from(i)].key, i, sid_b, a.roster());
    for to in [None, Some(1u16)] {
        let env = a.seal(&a.msg(0, to, 1, b"session a".to_vec()), &mut rng);
        assert!(matches!(
            opener_b(1).open(&env),
            Err(WireError::WrongSession)
        ));
        // Rewriting the session id breaks the signature.
        let mut moved = env.clone();
        moved.session = sid_b;
        assert!(matches!(
            opener_b(1).open(&moved),
            Err(WireError::BadSignature)
        ));
    }
}

#[test]
fn replays_are_rejected() {
    let mut rng = TestRng(7);
    let c = Cluster::new(3, &mut rng);
    let mut opener = c.opener(1);
    let b = c.seal(&c.msg(0, None, 1, b"bcast".to_vec()), &mut rng);
    let p = c.seal(&c.msg(0, Some(1), 1, b"p2p".to_vec()), &mut rng);
    opener.open(&b).expect("first broadcast");
    // One broadcast and one p2p message per (round, sender): the p2p one is not a replay.
    opener.open(&p).expect("first p2p");
    assert!(matches!(
        opener.open(&b),
        Err(WireError::Replayed { round: 1, from: 0 })
    ));
    assert!(matches!(
        opener.open(&p),
        Err(WireError::Replayed { round: 1, from: 0 })
    ));
    // A second, different message for the same slot (re-sealed) is also refused.
    let b2 = c.seal(&c.msg(0, None, 1, b"other".to_vec()), &mut rng);
    assert!(matches!(
        opener.open(&b2),
        Err(WireError::Replayed { round: 1, from: 0 })
    ));
    // Next round is fine, and another sender in the same round is fine.
    opener
        .open(&c.seal(&c.msg(0, None, 2, b"r2".to_vec()), &mut rng))
        .expect("round 2");
    opener
        .open(&c.seal(&c.msg(2, None, 1, b"r1 from 2".to_vec()), &mut rng))
        .expect("other sender");
    // A rejected envelope does not burn its slot.
    let mut bad = c.seal(&c.msg(2, None, 3, b"r3".to_vec()), &mut rng);
    bad.signature[0] ^= 1;
    assert!(matches!(opener.open(&bad), Err(WireError::BadSignature)));
    bad.signature[0] ^= 1;
    opener.open(&bad).expect("the genuine envelope still opens");
}

#[test]
fn p2p_for_someone_else_is_not_for_me() {
    let mut rng = TestRng(8);
    let c = Cluster::new(3, &mut rng);
    let env = c.seal(&c.msg(0, Some(2), 1, pattern()), &mut rng);
    assert!(matches!(
        c.opener(1).open(&env),
        Err(WireError::NotForMe { to: 2 })
    ));
    // Re-addressing it breaks the signature.
    let mut re = env.clone();
    re.to = Some(1);
    assert!(matches!(
        c.opener(1).open(&re),
        Err(WireError::BadSignature)
    ));
}

#[test]
fn wrong_recipient_key_fails_decryption() {
    let mut rng = TestRng(9);
    let c = Cluster::new(3, &mut rng);
    let other = IdentityKey::generate(&mut rng);
    let msg = c.msg(0, Some(2), 1, pattern());
    // Encrypted to a key-exchange key that is not party 2's.
    let wrong = PublicIdentity {
        sign: c.parties[2].key.public().sign,
        kx: other.public().kx,
    };
    let env = seal(&c.parties[0].key, &msg, Some(&wrong), &mut rng).expect("seal");
    assert!(matches!(
        c.opener(2).open(&env),
        Err(WireError::DecryptFailed)
    ));
    // Encrypted to another node entirely.
    let env = seal(&c.parties[0].key, &msg, Some(&other.public()), &mut rng).expect("seal");
    assert!(matches!(
        c.opener(2).open(&env),
        Err(WireError::DecryptFailed)
    ));
    // The intended recipient can open a correctly sealed one.
    let ok = c.seal(&msg, &mut rng);
    c.opener(2).open(&ok).expect("opens");
}

#[test]
fn p2p_without_recipient_key_is_refused() {
    let mut rng = TestRng(10);
    let c = Cluster::new(2, &mut rng);
    let msg = c.msg(0, Some(1), 1, b"x".to_vec());
    assert!(matches!(
        seal(&c.parties[0].key, &msg, None, &mut rng),
        Err(WireError::MissingRecipientKey)
    ));
    // A low-order key-exchange key is refused rather than used.
    let weak = PublicIdentity {
        sign: c.parties[1].key.public().sign,
        kx: [0u8; 32],
    };
    assert!(matches!(
        seal(&c.parties[0].key, &msg, Some(&weak), &mut rng),
        Err(WireError::InvalidKey(_))
    ));
}

#[test]
fn own_messages_are_not_accepted() {
    let mut rng = TestRng(11);
    let c = Cluster::new(2, &mut rng);
    let env = c.seal(&c.msg(0, None, 1, b"mine".to_vec()), &mut rng);
    assert!(matches!(
        c.opener(0).open(&env),
        Err(WireError::UnknownSender { from: 0 })
    ));
}

#[test]
fn garbage_and_truncation_are_malformed() {
    let mut rng = TestRng(12);
    let c = Cluster::new(2, &mut rng);
    let bytes = c
        .seal(&c.msg(0, Some(1), 1, pattern()), &mut rng)
        .to_bytes();
    for len in 0..bytes.len() {
        match Envelope::from_bytes(&bytes[..len]) {
            Err(WireError::Malformed(_)) => {}
            other => panic!("truncated to {len}: {other:?}"),
        }
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        Envelope::from_bytes(&long),
        Err(WireError::Malformed(_))
    ));
    // Random garbage starting with the right version byte.
    for seed in 0..500u64 {
        let mut g = TestRng(seed);
        let len = (g.next_u32() % 300) as usize;
        let mut buf = vec![0u8; len];
        g.fill_bytes(&mut buf);
        if let Some(b) = buf.first_mut() {
            *b = WIRE_VERSION;
        }
        // Must not panic; must not parse (a valid parse of random bytes is astronomically rare
        // given the fixed-length layout, but a parse would still fail to open).
        if let Ok(env) = Envelope::from_bytes(&buf) {
            assert!(c.opener(1).open(&env).is_err());
        }
    }
    // Huge declared length does not allocate or panic.
    let mut huge = bytes[..1 + 32 + 2 + 2 + 1 + 2 + 32 + 1 + 32].to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Envelope::from_bytes(&huge),
        Err(WireError::Malformed(_))
    ));
}

#[test]
fn unknown_version_is_unsupported() {
    let mut rng = TestRng(13);
    let c = Cluster::new(2, &mut rng);
    let env = c.seal(&c.msg(0, None, 1, b"x".to_vec()), &mut rng);
    let mut bytes = env.to_bytes();
    bytes[0] = 2;
    assert!(matches!(
        Envelope::from_bytes(&bytes),
        Err(WireError::UnsupportedVersion(2))
    ));
    assert!(matches!(
        Envelope::from_bytes(&[0xff]),
        Err(WireError::UnsupportedVersion(0xff))
    ));
    let mut e2 = env.clone();
    e2.version = 7;
    assert!(matches!(
        c.opener(1).open(&e2),
        Err(WireError::UnsupportedVersion(7))
    ));
}

#[test]
fn inconsistent_body_shape_is_malformed() {
    let mut rng = TestRng(14);
    let c = Cluster::new(2, &mut rng);
    let mut env = c.seal(&c.msg(0, None, 1, b"x".to_vec()), &mut rng);
    env.to = Some(1);
    assert!(matches!(
        Envelope::from_bytes(&env.to_bytes()),
        Err(WireError::Malformed(_))
    ));
    assert!(matches!(
        c.opener(1).open(&env),
        Err(WireError::Malformed(_))
    ));
}

#[test]
fn debug_hides_payloads_and_serde_round_trips() {
    let mut rng = TestRng(15);
    let c = Cluster::new(2, &mut rng);
    let secret = b"SUPER-SECRET-BROADCAST-PAYLOAD".to_vec();
    let env = c.seal(&c.msg(0, None, 1, secret.clone()), &mut rng);
    let dbg = format!("{env:?}");
    assert!(!dbg.contains("SUPER"));
    assert!(!dbg.contains(&hex::encode(&secret)[..20]));
    assert!(dbg.contains("len"));
    let json = serde_json::to_string(&env).expect("json");
    let back: Envelope = serde_json::from_str(&json).expect("json back");
    assert_eq!(back, env);
    let pc = postcard::to_stdvec(&env).expect("postcard");
    let back: Envelope = postcard::from_bytes(&pc).expect("postcard back");
    assert_eq!(back, env);
    c.opener(1).open(&back).expect("opens after serde");
}

//! Sealed envelopes: the only form in which protocol messages leave a signer.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use tessera_crypto::{Message, SessionId};
use x25519_dalek::{EphemeralSecret, StaticSecret};
use zeroize::Zeroizing;

use crate::codec::{hexarr, hexvec, put_bytes, Reader};
use crate::identity::{IdentityKey, NodeId, PublicIdentity};
use crate::{Result, WireError};

/// Envelope format version written by this build; the only one it reads.
pub const WIRE_VERSION: u8 = 1;

/// Largest payload / ciphertext an envelope may carry (64 MiB).
pub const MAX_BODY_LEN: usize = 64 << 20;

/// Domain of the sender's Ed25519 signature over the envelope.
pub const ENVELOPE_SIG_DOMAIN: &str = "tessera/wire/envelope/v1";

/// HKDF `info` prefix of the p2p encryption key (followed by the sealing context).
const SEAL_KDF_DOMAIN: &[u8] = b"tessera/wire/seal/v1";

/// AEAD tag length (Poly1305).
const TAG_LEN: usize = 16;

/// A signed (and for p2p, encrypted) protocol message, as relayed by the coordinator.
///
/// The fields other than `body` are the routing header, readable by any relay. `Debug` prints
/// body lengths only.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Envelope {
    /// Format version ([`WIRE_VERSION`]).
    pub version: u8,
    /// Session (execution) id.
    #[serde(with = "hexarr")]
    pub session: [u8; 32],
    /// Protocol round.
    pub round: u16,
    /// Sender's party index.
    pub from: u16,
    /// Recipient's party index; `None` for a broadcast.
    pub to: Option<u16>,
    /// Sender's node id; must match the roster entry of `from`.
    pub sender: NodeId,
    /// Plain (broadcast) or sealed (p2p) payload.
    pub body: Body,
    /// Sender's Ed25519 signature over header and body (domain [`ENVELOPE_SIG_DOMAIN`]).
    #[serde(with = "hexarr")]
    pub signature: [u8; 64],
}

/// An envelope's payload.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Body {
    /// Broadcast payload, in the clear (signed).
    Plain(#[serde(with = "hexvec")] Vec<u8>),
    /// P2p payload, encrypted to the recipient (signed).
    Sealed {
        /// Sender's one-time X25519 public key.
        #[serde(with = "hexarr")]
        ephemeral: [u8; 32],
        /// ChaCha20-Poly1305 ciphertext with its tag.
        #[serde(with = "hexvec")]
        ciphertext: Vec<u8>,
    },
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Plain(p) => f.debug_struct("Plain").field("len", &p.len()).finish(),
            Body::Sealed { ciphertext, .. } => f
                .debug_struct("Sealed")
                .field("ciphertext_len", &ciphertext.len())
                .finish(),
        }
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("version", &self.version)
            .field("session", &SessionId(self.session))
            .field("round", &self.round)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("sender", &self.sender)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl Envelope {
    /// Canonical bytes: header, body, signature (see the crate docs for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.signed_bytes();
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes) strictly: no trailing bytes, no unknown tags, body
    /// kind consistent with the recipient. Never panics.
    pub fn from_bytes(b: &[u8]) -> Result<Envelope> {
        let mut r = Reader::new(b, "envelope");
        let version = r.u8()?;
        if version != WIRE_VERSION {
            return Err(WireError::UnsupportedVersion(version));
        }
        let session = r.array()?;
        let round = r.u16()?;
        let from = r.u16()?;
        let to = match r.u8()? {
            0 => None,
            1 => Some(r.u16()?),
            _ => return Err(WireError::Malformed("envelope: bad recipient tag".into())),
        };
        let sender = NodeId(r.array()?);
        let body = match r.u8()? {
            0 => Body::Plain(r.bytes(MAX_BODY_LEN)?.to_vec()),
            1 => {
                let ephemeral = r.array()?;
                let ciphertext = r.bytes(MAX_BODY_LEN + TAG_LEN)?.to_vec();
                Body::Sealed {
                    ephemeral,
                    ciphertext,
                }
            }
            _ => return Err(WireError::Malformed("envelope: bad body tag".into())),
        };
        let signature = r.array()?;
        r.finish()?;
        let env = Envelope {
            version,
            session,
            round,
            from,
            to,
            sender,
            body,
            signature,
        };
        env.check_shape()?;
        Ok(env)
    }

    /// Whether this is a broadcast.
    pub fn is_broadcast(&self) -> bool {
        self.to.is_none()
    }

    /// Checks that `sender` is this envelope's sender and that its signature verifies. Does not
    /// decrypt; a relay may use it to drop forgeries early.
    pub fn verify_signature(&self, sender: &PublicIdentity) -> Result<()> {
        if sender.node_id() != self.sender {
            return Err(WireError::SenderMismatch { from: self.from });
        }
        self.check_shape()?;
        let signed = self.signed_bytes();
        sender
            .verify(ENVELOPE_SIG_DOMAIN, &signed, &self.signature)
            .map_err(|_| WireError::BadSignature)
    }

    /// Broadcasts carry a plain body, p2p messages a sealed one; bodies stay within limits.
    fn check_shape(&self) -> Result<()> {
        let too_long = match &self.body {
            Body::Plain(p) => p.len() > MAX_BODY_LEN,
            Body::Sealed { ciphertext, .. } => ciphertext.len() > MAX_BODY_LEN + TAG_LEN,
        };
        if too_long {
            return Err(WireError::Malformed("envelope: body over limit".into()));
        }
        match (&self.to, &self.body) {
            (None, Body::Plain(_)) | (Some(_), Body::Sealed { .. }) => Ok(()),
            (None, Body::Sealed { .. }) => Err(WireError::Malformed(
                "envelope: broadcast with a sealed body".into(),
            )),
            (Some(_), Body::Plain(_)) => Err(WireError::Malformed(
                "envelope: p2p message with a plain body".into(),
            )),
        }
    }

    /// `version || session || round || from || to-tag [|| to] || sender`.
    fn header_bytes(&self) -> Vec<u8> {
        header_bytes(
            self.version,
            &self.session,
            self.round,
            self.from,
            self.to,
            &self.sender,
        )
    }

    /// Header and body: what the sender signs.
    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = self.header_bytes();
        encode_body(&mut out, &self.body);
        out
    }
}

/// Length of a broadcast header.
const HEADER_LEN_BROADCAST: usize = 1 + 32 + 2 + 2 + 1 + 32;

fn header_bytes(
    version: u8,
    session: &[u8; 32],
    round: u16,
    from: u16,
    to: Option<u16>,
    sender: &NodeId,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN_BROADCAST + 2);
    out.push(version);
    out.extend_from_slice(session);
    out.extend_from_slice(&round.to_be_bytes());
    out.extend_from_slice(&from.to_be_bytes());
    match to {
        None => out.push(0),
        Some(t) => {
            out.push(1);
            out.extend_from_slice(&t.to_be_bytes());
        }
    }
    out.extend_from_slice(&sender.0);
    out
}

fn encode_body(out: &mut Vec<u8>, body: &Body) {
    match body {
        Body::Plain(p) => {
            out.push(0);
            put_bytes(out, p)
        }
        Body::Sealed {
            ephemeral,
            ciphertext,
        } => {
            out.push(1);
            out.extend_from_slice(ephemeral);
            put_bytes(out, ciphertext)
        }
    }
}

/// What the p2p key derivation and the AEAD bind: the envelope header, the recipient's full
/// public identity and the ephemeral public key.
fn seal_context(header: &[u8], recipient: &PublicIdentity, ephemeral: &[u8; 32]) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(header.len() + 96);
    ctx.extend_from_slice(header);
    ctx.extend_from_slice(&recipient.sign);
    ctx.extend_from_slice(&recipient.kx);
    ctx.extend_from_slice(ephemeral);
    ctx
}

/// HKDF-SHA256(ikm = shared, salt = none, info = domain || context) -> ChaCha20-Poly1305 key.
pub(crate) fn seal_cipher(shared: &[u8; 32], context: &[u8]) -> Result<ChaCha20Poly1305> {
    let hk = Hkdf::<Sha256>::new(None, shared);
    let mut info = Vec::with_capacity(SEAL_KDF_DOMAIN.len() + context.len());
    info.extend_from_slice(SEAL_KDF_DOMAIN);
    info.extend_from_slice(context);
    let mut key = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit: this cannot fail.
    hk.expand(&info, key.as_mut())
        .map_err(|_| WireError::Malformed("key derivation failed".into()))?;
    ChaCha20Poly1305::new_from_slice(key.as_ref())
        .map_err(|_| WireError::Malformed("key derivation failed".into()))
}

/// Seals one protocol message from `me`.
///
/// Broadcast (`msg.to == None`): plain body, signed; `recipient` is ignored. P2p: `recipient`
/// must be the public identity of party `msg.to` ([`WireError::MissingRecipientKey`] otherwise);
/// the payload is encrypted under a key from a fresh ephemeral X25519 key and `recipient.kx`.
/// The whole envelope is then signed by `me`.
pub fn seal(
    me: &IdentityKey,
    msg: &Message,
    recipient: Option<&PublicIdentity>,
    rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng),
) -> Result<Envelope> {
    if msg.payload.len() > MAX_BODY_LEN {
        return Err(WireError::Malformed(format!(
            "payload of {} bytes exceeds the {MAX_BODY_LEN}-byte limit",
            msg.payload.len()
        )));
    }
    let sender = me.node_id();
    let header = header_bytes(
        WIRE_VERSION,
        &msg.session.0,
        msg.round,
        msg.from,
        msg.to,
        &sender,
    );
    let body = match msg.to {
        None => Body::Plain(msg.payload.clone()),
        Some(_) => {
            let recipient = recipient.ok_or(WireError::MissingRecipientKey)?;
            let eph = EphemeralSecret::random_from_rng(&mut *rng);
            let ephemeral = x25519_dalek::PublicKey::from(&eph).to_bytes();
            let shared = eph.diffie_hellman(&x25519_dalek::PublicKey::from(recipient.kx));
            if !shared.was_contributory() {
                return Err(WireError::InvalidKey(
                    "recipient key-exchange key is a low-order point".into(),
                ));
            }
            let ctx = seal_context(&header, recipient, &ephemeral);
            let cipher = seal_cipher(shared.as_bytes(), &ctx)?;
            // Every key encrypts exactly one message (fresh ephemeral), so a zero nonce is safe.
            let ciphertext = cipher
                .encrypt(
                    &Nonce::default(),
                    Payload {
                        msg: &msg.payload,
                        aad: &ctx,
                    },
                )
                .map_err(|_| WireError::Malformed("payload cannot be encrypted".into()))?;
            Body::Sealed {
                ephemeral,
                ciphertext,
            }
        }
    };
    let mut env = Envelope {
        version: WIRE_VERSION,
        session: msg.session.0,
        round: msg.round,
        from: msg.from,
        to: msg.to,
        sender,
        body,
        signature: [0u8; 64],
    };
    env.signature = me.sign(ENVELOPE_SIG_DOMAIN, &env.signed_bytes());
    Ok(env)
}

/// The receiving side of one session for one party.
///
/// Holds a copy of the party's X25519 secret (wiped on drop), the session id, the party's index
/// and the roster. Rejects every envelope that is not for this session, not from a roster member
/// under its own identity, not correctly signed, not addressed to this party, already accepted,
/// or not decryptable.
pub struct Opener {
    kx: StaticSecret,
    me: PublicIdentity,
    my_index: u16,
    session: [u8; 32],
    roster: BTreeMap<u16, PublicIdentity>,
    /// Accepted `(round, from, p2p)`.
    seen: BTreeSet<(u16, u16, bool)>,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("key", &"[REDACTED]")
            .field("node", &self.me.node_id())
            .field("my_index", &self.my_index)
            .field("session", &SessionId(self.session))
            .field("roster", &self.roster.keys().collect::<Vec<_>>())
            .field("accepted", &self.seen.len())
            .finish()
    }
}

impl Opener {
    /// An opener for party `my_index` (identity `me`) in `session`, with the session's roster
    /// (party index -> public identity). If an index appears twice, the last entry wins.
    pub fn new(
        me: &IdentityKey,
        my_index: u16,
        session: [u8; 32],
        roster: Vec<(u16, PublicIdentity)>,
    ) -> Self {
        Opener {
            kx: me.kx_secret().clone(),
            me: me.public(),
            my_index,
            session,
            roster: roster.into_iter().collect(),
            seen: BTreeSet::new(),
        }
    }

    /// Parses and opens relayed bytes ([`Envelope::from_bytes`] then [`open`](Self::open)).
    pub fn open_bytes(&mut self, b: &[u8]) -> Result<Message> {
        self.open(&Envelope::from_bytes(b)?)
    }

    /// Checks, decrypts and accepts one envelope.
    ///
    /// In order: version ([`WireError::UnsupportedVersion`]), session
    /// ([`WireError::WrongSession`]), sender index in the roster and not our own
    /// ([`WireError::UnknownSender`]), sender identity ([`WireError::SenderMismatch`]), body
    /// shape ([`WireError::Malformed`]), signature ([`WireError::BadSignature`]), recipient
    /// ([`WireError::NotForMe`]), replay ([`WireError::Replayed`]: one broadcast and one p2p
    /// message per `(round, from)`), decryption ([`WireError::DecryptFailed`]). Nothing is
    /// recorded unless every check passes.
    pub fn open(&mut self, env: &Envelope) -> Result<Message> {
        if env.version != WIRE_VERSION {
            return Err(WireError::UnsupportedVersion(env.version));
        }
        if env.session != self.session {
            return Err(WireError::WrongSession);
        }
        if env.from == self.my_index {
            return Err(WireError::UnknownSender { from: env.from });
        }
        let sender = *self
            .roster
            .get(&env.from)
            .ok_or(WireError::UnknownSender { from: env.from })?;
        if sender.node_id() != env.sender {
            return Err(WireError::SenderMismatch { from: env.from });
        }
        env.check_shape()?;
        env.verify_signature(&sender)?;
        if let Some(to) = env.to {
            if to != self.my_index {
                return Err(WireError::NotForMe { to });
            }
        }
        let key = (env.round, env.from, env.to.is_some());
        if self.seen.contains(&key) {
            return Err(WireError::Replayed {
                round: env.round,
                from: env.from,
            });
        }
        let payload = match &env.body {
            Body::Plain(p) => p.clone(),
            Body::Sealed {
                ephemeral,
                ciphertext,
            } => self.decrypt(env, ephemeral, ciphertext)?,
        };
        self.seen.insert(key);
        Ok(Message {
            session: SessionId(env.session),
            round: env.round,
            from: env.from,
            to: env.to,
            payload,
        })
    }

    fn decrypt(&self, env: &Envelope, ephemeral: &[u8; 32], ciphertext: &[u8]) -> Result<Vec<u8>> {
        let shared = self
            .kx
            .diffie_hellman(&x25519_dalek::PublicKey::from(*ephemeral));
        if !shared.was_contributory() {
            return Err(WireError::DecryptFailed);
        }
        let ctx = seal_context(&env.header_bytes(), &self.me, ephemeral);
        seal_cipher(shared.as_bytes(), &ctx)?
            .decrypt(
                &Nonce::default(),
                Payload {
                    msg: ciphertext,
                    aad: &ctx,
                },
            )
            .map_err(|_| WireError::DecryptFailed)
    }
}

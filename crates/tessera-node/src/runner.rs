//! Drives one protocol session: seals what it sends, opens what it receives, and enforces the
//! session deadline.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use tessera_crypto::{BoxSession, Error as CryptoError, Poll, SessionId};
use tessera_proto::link::{Failure, FailureKind, FromSigner, Member};
use tessera_proto::Clock;
use tessera_wire::{seal, Envelope, IdentityKey, Opener};

use crate::signer::{crypto_failure, failure, Outbound, Spawn};

/// Envelopes for a later phase of the same session (cggmp24 keygen after aux info) kept until
/// that phase starts; more than this is a misbehaving peer.
const MAX_STASH: usize = 4096;

/// Input to a running session.
#[derive(Debug)]
pub enum Input {
    /// A relayed envelope.
    Envelope(Vec<u8>),
    /// The coordinator gave up on the session.
    Abort(String),
}

pub(crate) struct RunCtx<'a> {
    pub identity: &'a IdentityKey,
    /// The session id the coordinator routes by.
    pub outer: [u8; 32],
    pub me: u16,
    pub roster: &'a [Member],
    pub rx: mpsc::Receiver<Input>,
    pub out: &'a Outbound,
    pub deadline_ms: u64,
    pub clock: &'a dyn Clock,
    /// Told when this session blocks for input and when it wakes without one.
    pub tasks: &'a dyn Spawn,
    pub stash: Vec<Envelope>,
}

/// A durable record that must be committed before a session releases anything that can
/// complete a signature: the first message of `round`, or the output itself.
pub(crate) struct Release<'a> {
    /// The protocol round whose messages can complete a signature
    /// (`Scheme::sign_release_round`).
    pub round: u16,
    /// Commits the record; an error withholds every message of `round` and the output.
    pub commit: Box<dyn FnOnce() -> Result<(), Failure> + 'a>,
}

impl Release<'_> {
    fn before_sending(slot: &mut Option<Release<'_>>, round: u16) -> Result<(), Failure> {
        match slot.take() {
            Some(r) if r.round == round => (r.commit)(),
            other => {
                *slot = other;
                Ok(())
            }
        }
    }

    fn before_output(slot: &mut Option<Release<'_>>) -> Result<(), Failure> {
        match slot.take() {
            Some(r) => (r.commit)(),
            None => Ok(()),
        }
    }
}

/// Runs `session` (whose execution id is `sid`) to completion.
pub(crate) fn drive<O>(
    ctx: &mut RunCtx<'_>,
    sid: SessionId,
    session: BoxSession<O>,
) -> Result<O, Failure> {
    drive_releasing(ctx, sid, session, None)
}

/// Runs `session` like [`drive`]; `release` (if any) is committed before the first message of
/// its round is sealed, or before the output is returned if that comes first.
pub(crate) fn drive_releasing<O>(
    ctx: &mut RunCtx<'_>,
    sid: SessionId,
    mut session: BoxSession<O>,
    mut release: Option<Release<'_>>,
) -> Result<O, Failure> {
    let roster = ctx
        .roster
        .iter()
        .map(|m| (m.index, m.identity))
        .collect::<Vec<_>>();
    let mut opener = Opener::new(ctx.identity, ctx.me, sid.0, roster);
    let mut rng = rand_core::OsRng;
    // Envelopes that arrived early for this phase.
    let early: Vec<Envelope> = {
        let (mine, rest) = std::mem::take(&mut ctx.stash)
            .into_iter()
            .partition(|e| e.session == sid.0);
        ctx.stash = rest;
        mine
    };
    for env in early {
        accept(&mut opener, session.as_mut(), &env);
    }
    loop {
        match session.poll() {
            Ok(Poll::Send(msgs)) => {
                for m in msgs {
                    Release::before_sending(&mut release, m.round)?;
                    let recipient = match m.to {
                        Some(to) => Some(
                            ctx.roster
                                .get(usize::from(to))
                                .map(|r| r.identity)
                                .ok_or_else(|| {
                                    failure(FailureKind::Internal, "message to unknown party")
                                })?,
                        ),
                        None => None,
                    };
                    let env =
                        seal(ctx.identity, &m, recipient.as_ref(), &mut rng).map_err(|e| {
                            failure(FailureKind::Internal, &format!("sealing failed: {e}"))
                        })?;
                    (ctx.out)(FromSigner::Envelope {
                        session: ctx.outer,
                        bytes: env.to_bytes(),
                    });
                }
            }
            Ok(Poll::Done(o)) => {
                Release::before_output(&mut release)?;
                return Ok(o);
            }
            Ok(Poll::Waiting) => {
                let now = ctx.clock.now_ms();
                if now >= ctx.deadline_ms {
                    return Err(failure(FailureKind::Aborted, "session timed out"));
                }
                let wait = Duration::from_millis(ctx.deadline_ms - now);
                ctx.tasks.task_waits();
                let input = ctx.rx.recv_timeout(wait);
                if input.is_err() {
                    ctx.tasks.task_woke_idle();
                }
                match input {
                    Ok(Input::Envelope(bytes)) => {
                        let env = match Envelope::from_bytes(&bytes) {
                            Ok(e) => e,
                            Err(e) => {
                                tracing::warn!(error = %e, "dropped a malformed envelope");
                                continue;
                            }
                        };
                        if env.session != sid.0 {
                            if ctx.stash.len() >= MAX_STASH {
                                return Err(failure(
                                    FailureKind::Transport,
                                    "too many envelopes for other phases",
                                ));
                            }
                            ctx.stash.push(env);
                            continue;
                        }
                        accept(&mut opener, session.as_mut(), &env);
                    }
                    Ok(Input::Abort(reason)) => {
                        return Err(failure(
                            FailureKind::Aborted,
                            &format!("aborted by the coordinator: {reason}"),
                        ))
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        return Err(failure(FailureKind::Aborted, "session timed out"))
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(failure(FailureKind::Aborted, "signer shutting down"))
                    }
                }
            }
            Err(e) => return Err(crypto_failure(e)),
        }
    }
}

/// Opens and delivers one envelope. A bad envelope (forged, tampered, replayed, for another
/// party) is dropped and logged; it changes nothing, and the protocol either completes with the
/// genuine messages or times out.
fn accept<O>(
    opener: &mut Opener,
    session: &mut dyn tessera_crypto::Session<Output = O>,
    env: &Envelope,
) {
    match opener.open(env) {
        Ok(msg) => {
            if let Err(e) = session.receive(msg) {
                log_rejected(&e);
            }
        }
        Err(e) => tracing::warn!(
            from = env.from,
            round = env.round,
            error = %e,
            "rejected an envelope"
        ),
    }
}

fn log_rejected(e: &CryptoError) {
    tracing::warn!(error = %e, "protocol rejected a message");
}

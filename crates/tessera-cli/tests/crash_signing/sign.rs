//! The signing trials, on the scheme's 2-of-3 wallet on signers 0–2: a sign request is
//! submitted (waiting for its result) and the coordinator or a holder is killed. Pooled
//! trials run on schemes with presignatures and start with a non-empty pool; interactive ones
//! on schemes without (dkls23), which always run the full protocol. After each, once the
//! cluster healed:
//!
//! - **an accepted request reaches a final state:** when the coordinator answered it, it
//!   still knows it; the request ends `signed` with its session `done` and a signature that
//!   verifies under the derived key (and whose nonce no other signature used), or `failed`
//!   (e.g. `interrupted`) with its session failed and no signature;
//! - **the same result every time:** asked again, the session reads the same; the request sent
//!   again is refused (409), so its id is never signed twice; a request the coordinator never
//!   stored signs when sent again;
//! - **signing goes on:** a fresh request signs.

use std::time::{Duration, Instant};

use tessera_client::ClientError;
use tessera_coordinator::coordinator::request_session_id;
use tessera_crypto::{SchemeId, SignMessage};
use tessera_proto::api::{
    RequestInfo, RequestState, SessionInfo, SessionStatus, SignRequest, WalletInfo,
};

use super::checks::{accept, sign_checked};
use super::*;

const PATH: &str = "m/5";

/// The scheme's 2-of-3 wallet on signers 0–2, ready (its pool started, for pooled schemes).
pub async fn main_wallet(c: &mut Campaign, scheme: SchemeId) -> WalletInfo {
    let id = format!("{}-main-{}", wallet_id(scheme), c.seed);
    let w = wallet_on_first_three(&c.cluster, &c.client, &c.op_key, &id, scheme).await;
    c.ledger.ready(&c.cluster, &w);
    if scheme.has_presignatures() {
        wait_pool(&c.client, &id, 1).await;
    }
    w
}

/// The request and its session once final; `None` when the coordinator never stored it.
async fn final_state(
    client: &Client,
    wallet: &str,
    request: &str,
) -> Option<(RequestInfo, SessionInfo)> {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "{request}: no final state"
        );
        match client.request(request).await {
            Ok(r) if r.state.is_final() => {
                let s = client
                    .session(&request_session_id(wallet, request), None)
                    .await
                    .unwrap();
                return Some((r, s));
            }
            Err(ClientError::Api { status: 404, .. }) => return None,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// One sign request with a kill.
struct Trial<'a> {
    name: &'a str,
    scheme: SchemeId,
    wallet: &'a WalletInfo,
    target: Target,
    delay: Duration,
}

impl Trial<'_> {
    /// Returns whether the kill came while the request ran, how it ended and what it saw.
    async fn run(&self, c: &mut Campaign) -> (bool, End, String) {
        let (trial, id) = (self.name, self.wallet.wallet_id.clone());
        let m = message(self.scheme, trial);
        let req = Client::sign_request(&c.op_key, &id, PATH, &m).unwrap();
        let (client, sent, wid) = (c.client.clone(), req.clone(), id.clone());
        let submit = tokio::spawn(async move { client.submit(&wid, &sent, true).await });
        tokio::time::sleep(self.delay).await;
        let running = !submit.is_finished();
        kill_and_restart(&mut c.cluster, &c.client, self.target).await;
        let first = submit.await.unwrap();
        healed(&c.client).await;
        let after = final_state(&c.client, &id, &req.request_id).await;
        assert!(
            first.is_err() || after.is_some(),
            "{trial}: the coordinator accepted the request and forgot it"
        );
        let (end, detail) = match after {
            Some((r, s)) => self.check_final(c, &m, &req, &first, r, s).await,
            None => self.check_unknown(c, &m, &req).await,
        };
        let fresh = sign_checked(c, self.scheme, &id, PATH, &format!("{trial}, fresh")).await;
        let detail = format!("{detail}; a fresh request {:?}", fresh.sign_path);
        (running, end, detail)
    }

    /// The request ended: signed with a good signature, or failed without one; the same when
    /// asked again; never signed again.
    async fn check_final(
        &self,
        c: &mut Campaign,
        m: &SignMessage,
        req: &SignRequest,
        first: &Result<SessionInfo, ClientError>,
        r: RequestInfo,
        s: SessionInfo,
    ) -> (End, String) {
        let trial = self.name;
        let end = match r.state {
            RequestState::Signed => {
                assert_eq!(
                    s.status,
                    SessionStatus::Done,
                    "{trial}: signed, session {s:?}"
                );
                accept(c, self.scheme, m, &s).await;
                End::Completed
            }
            RequestState::Failed | RequestState::Rejected => {
                assert_eq!(
                    s.status,
                    SessionStatus::Failed,
                    "{trial}: failed, session {s:?}"
                );
                assert!(s.signature.is_none(), "{trial}: failed with a signature");
                End::Failed
            }
            other => panic!("{trial}: request ended {other:?}: {:?}", r.error),
        };
        if let Ok(answer) = first {
            if answer.status != SessionStatus::Running {
                assert_eq!(
                    (answer.status, &answer.signature),
                    (s.status, &s.signature),
                    "{trial}: answered one result, recorded another"
                );
            }
        }
        let again = c.client.session(&s.session_id, None).await.unwrap();
        assert_eq!(
            (again.status, &again.signature),
            (s.status, &s.signature),
            "{trial}: asked again"
        );
        let dup = c.client.submit(&self.wallet.wallet_id, req, true).await;
        assert!(
            matches!(dup, Err(ClientError::Api { status: 409, .. })),
            "{trial}: the request sent again: {dup:?}"
        );
        let detail = format!(
            "{:?} {:?} in {} attempts{}",
            r.state,
            s.sign_path,
            s.attempts,
            s.error
                .map(|e| format!(", {}", e.code.as_str()))
                .unwrap_or_default()
        );
        (end, detail)
    }

    /// The coordinator never stored the request: sent again, it signs.
    async fn check_unknown(
        &self,
        c: &mut Campaign,
        m: &SignMessage,
        req: &SignRequest,
    ) -> (End, String) {
        let s = c
            .client
            .submit(&self.wallet.wallet_id, req, true)
            .await
            .unwrap_or_else(|e| panic!("{}: sent again: {e}", self.name));
        assert_eq!(
            s.status,
            SessionStatus::Done,
            "{}: sent again: {s:?}",
            self.name
        );
        accept(c, self.scheme, m, &s).await;
        (
            End::NotAccepted,
            format!("never stored; sent again {:?}", s.sign_path),
        )
    }
}

/// How long one undisturbed request takes on `w` (the window kill moments are drawn from).
async fn measure(c: &mut Campaign, scheme: SchemeId, w: &WalletInfo) -> Duration {
    let started = Instant::now();
    for k in 0..3 {
        let s = sign_checked(c, scheme, &w.wallet_id, PATH, &format!("measure {k}")).await;
        let expected = if scheme.has_presignatures() {
            tessera_proto::api::SignPath::Presigned
        } else {
            tessera_proto::api::SignPath::Full
        };
        assert_eq!(s.sign_path, Some(expected), "undisturbed path");
    }
    started.elapsed() / 3
}

/// The signing trials of `scheme` on `w` (pooled or interactive, as the scheme has).
pub async fn campaign(c: &mut Campaign, scheme: SchemeId, w: &WalletInfo) {
    let op = if scheme.has_presignatures() {
        Op::SignPooled
    } else {
        Op::SignInteractive
    };
    if !c.wants(scheme, op) {
        return;
    }
    let window = measure(c, scheme, w).await.mul_f64(1.5);
    let involved = holders(&c.cluster, w);
    let mut n = 0;
    while c.wants(scheme, op) {
        n += 1;
        if op == Op::SignPooled {
            wait_pool(&c.client, &w.wallet_id, 1).await;
        }
        let target = c.rng.target(&involved);
        let delay = c.rng.within(window);
        let name = c.name(scheme, op, n, target, delay);
        let t = Trial {
            name: &name,
            scheme,
            wallet: w,
            target,
            delay,
        };
        let (running, end, detail) = t.run(c).await;
        report(&name, running, end, &detail);
        c.record(scheme, op, target, running, end).await;
    }
}

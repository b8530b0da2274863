//! The checks of a signing job, one function per step of the order in the [module
//! docs](super), called in that order by [`Signer::authorize_sign`]:
//!
//! | step | function |
//! |---|---|
//! | 1. roster | [`Signer::wallet`] with `check_roster` (before any job) |
//! | 2. requester authorization | [`Signer::check_authorization`], and what it covers in [`Signer::check_payload`] |
//! | 3. payload | [`Signer::check_payload`]: [`Signer::check_plain_message`] or [`Signer::check_chain_payload`] |
//! | 4. policy | [`Signer::check_policy`]; over the co-signers' ledgers [`Signer::check_union`] |
//! | 5. approvals | [`check_approvals`] (after either policy evaluation that asks for them) |
//! | 6. replay | [`Signer::check_replay`] |
//!
//! Each returns the first refusal it finds; none changes the vault. Steps 7 and 8 (consume,
//! record, audit, release) are the callers' in `super`.

use std::sync::Arc;

use tessera_audit::RefusalReason;
use tessera_chains::{Intent, Parsed, WalletKey};
use tessera_crypto::{KeyShare, SchemeId, SessionId, SignMessage};
use tessera_policy::{
    check_quorum, mode_in_force, record_signed, signing_request, Approval, ApprovalDecision,
    Decision, PolicyBundle, PolicyRequest,
};
use tessera_proto::link::{Failure, FailureKind, TxContext};
use tessera_vault::VelocityEntry;
use tessera_wire::{authorized_message, Action, Authorization};

use super::{
    check_co_signers, crypto_failure, done_key, failure, lock, parse_path, vault_failure, Signer,
};
use crate::book::{add_entry, LedgerView};
use crate::exchange::{self, Exchange};
use crate::policy::{
    approval_refusal, counted_entries, dedup_entries, deny_refusal, ledger_view, Collect,
    Installed, Refusal, RequestKey, Reservation, Reservations,
};
use crate::runner::{self, RunCtx};

/// A signing job as the checks see it.
pub(super) struct SignJob<'a> {
    pub wallet_id: &'a str,
    pub share: &'a KeyShare,
    /// The networks the wallet may sign chain payloads on.
    pub networks: &'a [String],
    pub path: &'a str,
    pub message: &'a SignMessage,
    pub authz: &'a Authorization,
    pub tx: Option<&'a TxContext>,
    pub policy_version: u64,
    pub approvals: &'a [Approval],
}

/// What a signing job was authorized as; holds its velocity reservation until dropped.
pub(super) struct Authorized {
    pub request_id: String,
    /// Replay-ledger key to mark.
    pub done: String,
    pub intent_hash: [u8; 32],
    pub index: u32,
    pub policy_version: u64,
    pub policy_ids: Vec<String>,
    /// Approvers whose approval counted (empty when none was needed).
    pub approvers: Vec<String>,
    /// What to write to the velocity ledger with the request.
    pub velocity: Vec<VelocityEntry>,
    /// The velocity re-check over the co-signers' ledgers, when the bundle has velocity rules.
    union: Option<UnionCheck>,
    _reservation: Reservation,
}

/// What step 3 found: the request's replay key, its intent (chain payloads), the messages the
/// policy sees, the intent hash approvals sign and the index of the message to sign.
pub(super) struct Payload {
    done: String,
    intent: Option<Intent>,
    messages: Vec<SignMessage>,
    intent_hash: [u8; 32],
    index: u32,
}

/// What step 4 found.
struct Permitted {
    installed: Arc<Installed>,
    policy_version: u64,
    decision: Decision,
    velocity: Vec<VelocityEntry>,
    union: Option<UnionCheck>,
    reservation: Reservation,
}

/// What the velocity exchange re-evaluates, and the approvals a stricter decision over the
/// union is checked against.
struct UnionCheck {
    installed: Arc<Installed>,
    request: PolicyRequest,
    key: RequestKey,
    approvals: Vec<Approval>,
}

impl Signer {
    /// Steps 2 to 6, in order (the roster was checked by the caller); the first failure is the
    /// refusal and nothing in the vault changes.
    pub(super) fn authorize_sign(&self, job: &SignJob<'_>) -> Result<Authorized, Refusal> {
        self.check_authorization(job.authz)?;
        let payload = self.check_payload(job)?;
        let permitted = self.check_policy(job, &payload)?;
        let approvers = check_approvals(
            &permitted.decision,
            job.approvals,
            &permitted.installed.signed.bundle,
            &job.authz.request_id,
            &payload.intent_hash,
            permitted.policy_version,
            self.inner.clock.now_unix(),
        )?;
        self.check_replay(&payload.done)?;
        Ok(Authorized {
            request_id: job.authz.request_id.clone(),
            done: payload.done,
            intent_hash: payload.intent_hash,
            index: payload.index,
            policy_version: permitted.policy_version,
            policy_ids: permitted.decision.policy_ids().to_vec(),
            approvers,
            velocity: permitted.velocity,
            union: permitted.union,
            _reservation: permitted.reservation,
        })
    }

    /// Step 3: what the authorization covers and what is signed. A plain message must be
    /// exactly the authorized one; a chain payload is re-parsed here.
    fn check_payload(&self, job: &SignJob<'_>) -> Result<Payload, Refusal> {
        let unauthorized = |m: &str| Err(failure(FailureKind::Unauthorized, m).into());
        match (&job.authz.action, job.tx) {
            (Action::Sign { .. }, None) => self.check_plain_message(job),
            (Action::SignTransaction { .. }, Some(tx)) => self.check_chain_payload(job, tx),
            (Action::SignTransaction { .. }, None) => {
                unauthorized("a transaction authorization needs the raw payload")
            }
            (_, Some(_)) => unauthorized("a chain payload needs a transaction authorization"),
            (
                Action::Keygen { .. }
                | Action::Reshare { .. }
                | Action::Import { .. }
                | Action::Retire { .. },
                None,
            ) => unauthorized("a key operation's authorization cannot sign"),
        }
    }

    /// Step 3 for a plain `Sign`: the authorization covers exactly this wallet, path and
    /// message, and the message is in a chain's off-chain message format for the wallet's
    /// scheme (`Registry::offchain_chain`), so its signature is never valid for a transaction;
    /// a raw digest is left to the policy, which denies it unless a policy permits raw digests
    /// explicitly. Its intent hash is [`tessera_wire::message_intent_hash`] of (wallet, path,
    /// the message as [`authorized_message`] gives it).
    pub(super) fn check_plain_message(&self, job: &SignJob<'_>) -> Result<Payload, Refusal> {
        let m = authorized_message(job.message)
            .map_err(|e| failure(FailureKind::Unauthorized, &format!("message: {e}")))?;
        let expected = Action::Sign {
            wallet_id: job.wallet_id.to_string(),
            path: job.path.to_string(),
            messages: vec![m],
        };
        if job.authz.action != expected {
            return Err(failure(
                FailureKind::Unauthorized,
                "authorization does not cover this wallet, path and message",
            )
            .into());
        }
        self.check_message_format(job.share.scheme(), job.message)?;
        let intent_hash = expected
            .intent_hash()
            .ok_or_else(|| failure(FailureKind::Internal, "a sign action has an intent hash"))?;
        Ok(Payload {
            done: done_key(&job.authz.request_id),
            intent: None,
            messages: vec![job.message.clone()],
            intent_hash,
            index: 0,
        })
    }

    fn check_message_format(&self, scheme: SchemeId, message: &SignMessage) -> Result<(), Failure> {
        if matches!(message, SignMessage::RawDigest(_))
            || self.inner.chains.offchain_chain(scheme, message).is_some()
        {
            return Ok(());
        }
        Err(failure(
            FailureKind::PayloadRejected,
            "a plain message must be in a chain's off-chain message format (EIP-191, BIP-322 \
             tagged hash, Solana off-chain message): other bytes could be a transaction's \
             signing message; send transactions as chain payloads",
        ))
    }

    /// Step 3 for a chain payload: the authorization is for this wallet, path, chain and
    /// network; this signer's own adapter parses the raw payload against its own copy of the
    /// wallet key, the recomputed intent hash equals the authorized one, and the message to
    /// sign is message `index` of its own list.
    pub(super) fn check_chain_payload(
        &self,
        job: &SignJob<'_>,
        tx: &TxContext,
    ) -> Result<Payload, Refusal> {
        let Action::SignTransaction {
            wallet_id,
            path,
            chain,
            network,
            intent_hash,
        } = &job.authz.action
        else {
            return Err(
                failure(FailureKind::Unauthorized, "not a transaction authorization").into(),
            );
        };
        if wallet_id != job.wallet_id
            || path != job.path
            || *chain != tx.chain
            || *network != tx.network
        {
            return Err(failure(
                FailureKind::Unauthorized,
                "authorization does not cover this wallet, path, chain and network",
            )
            .into());
        }
        let rejected = |m: &str| Refusal::from(failure(FailureKind::PayloadRejected, m));
        self.check_network(job, tx)?;
        let parsed = self.reparse(job.share, job.path, tx)?;
        let hash = parsed
            .intent_hash()
            .map_err(|e| rejected(&format!("payload: {e}")))?;
        if hash != *intent_hash {
            return Err(rejected(
                "the payload's intent hash, recomputed here, differs from the authorized one",
            ));
        }
        let own = parsed
            .messages
            .get(tx.index as usize)
            .ok_or_else(|| rejected("message index is beyond the payload's messages"))?;
        if own != job.message {
            return Err(rejected(
                "the message to sign differs from the one this signer computed from the payload",
            ));
        }
        Ok(Payload {
            done: format!("{}#{}", done_key(&job.authz.request_id), tx.index),
            intent: Some(parsed.intent),
            messages: parsed.messages,
            intent_hash: hash,
            index: tx.index,
        })
    }

    /// Step 3, the network: a chain payload is for a network the wallet was bound to at its
    /// creation (`Action::Keygen::networks`), and names its own network when the wallet is
    /// bound to several of that chain (`Registry::check_binding`). A PSBT or a Solana message
    /// signs the same bytes on every network, so the label a request gives is not evidence.
    fn check_network(&self, job: &SignJob<'_>, tx: &TxContext) -> Result<(), Refusal> {
        self.inner
            .chains
            .check_binding(job.networks, &tx.chain, &tx.network, &tx.payload)
            .map_err(|e| failure(FailureKind::PayloadRejected, &format!("network: {e}")).into())
    }

    /// Parses a chain payload with this signer's own adapter against its own copy of the wallet
    /// key at `path`.
    fn reparse(&self, share: &KeyShare, path: &str, tx: &TxContext) -> Result<Parsed, Failure> {
        let rejected = |e: tessera_chains::ChainError| {
            failure(FailureKind::PayloadRejected, &format!("payload: {e}"))
        };
        let adapter = self.inner.chains.get(&tx.chain).map_err(rejected)?;
        let derivation = parse_path(path)?;
        let key = tessera_crypto::hd::derive_public_key(
            share.public_key(),
            &share.chain_code(),
            &derivation,
        )
        .map_err(crypto_failure)?;
        adapter
            .parse(
                &tx.network,
                WalletKey {
                    scheme: share.scheme(),
                    public_key: &key,
                },
                &tx.payload,
            )
            .map_err(rejected)
    }

    /// Step 4: a bundle is installed, the job's policy version is this signer's, the policy is
    /// fresh enough, and this signer's own engine, evaluating the request built from its own
    /// parse under the mode in force against its own velocity ledger (with requests in flight
    /// here, without this request's own entries), does not deny it. Reading the ledger,
    /// evaluating and reserving the request's velocity are one step under the reservation
    /// lock, so concurrent requests see each other.
    fn check_policy(&self, job: &SignJob<'_>, payload: &Payload) -> Result<Permitted, Refusal> {
        let state = self.policy_state();
        let Some(installed) = state.bundle.clone() else {
            return Err(Refusal::new(
                FailureKind::PolicyDenied,
                RefusalReason::PolicyDenied,
                "no policy installed: this signer signs nothing until it accepts a policy bundle",
            ));
        };
        let version = installed.version();
        if job.policy_version != version {
            return Err(failure(
                FailureKind::StalePolicy,
                &format!(
                    "the request was evaluated under policy version {}, this signer holds version {version}",
                    job.policy_version
                ),
            )
            .into());
        }
        let now = self.inner.clock.now_unix();
        state.check_fresh(self.inner.options.max_policy_age_secs, now)?;
        let requester = tessera_policy::PublicKey(job.authz.operator.0);
        let req = signing_request(
            &installed.signed.bundle,
            &requester,
            job.wallet_id,
            payload.intent.as_ref(),
            &payload.messages,
            now,
            mode_in_force(state.mode.as_ref(), now),
        )
        .map_err(|e| failure(FailureKind::PolicyDenied, &format!("policy request: {e}")))?;
        let key: RequestKey = (job.authz.request_id.clone(), payload.intent_hash);

        let mut gate = lock(&self.inner.velocity);
        let since = now.saturating_sub(installed.engine.ledger_window_s());
        gate.book.evict_before(job.wallet_id, since);
        let ledger =
            self.ledger_for(&mut gate, &installed.engine, job.wallet_id, Some(&key), now)?;
        let decision = installed.engine.evaluate(&req, &ledger);
        if let Decision::Deny { .. } = decision {
            return Err(deny_refusal(&decision));
        }
        let mut collect = Collect {
            key: key.clone(),
            entries: Vec::new(),
        };
        record_signed(&req, &mut collect)
            .map_err(|e| failure(FailureKind::Internal, &format!("velocity: {e}")))?;
        let union = (!installed.signed.bundle.velocity.is_empty()).then(|| UnionCheck {
            installed: installed.clone(),
            request: req.clone(),
            key: key.clone(),
            approvals: job.approvals.to_vec(),
        });
        let governed = governed_assets(&installed.signed.bundle, job.wallet_id, &collect.entries);
        if !governed.is_empty() && gate.busy_with_another(job.wallet_id, &key, &governed) {
            return Err(Refusal::new(
                FailureKind::Busy,
                RefusalReason::Other("velocity_busy".into()),
                "another request moving this asset out of this wallet is being signed here; \
                 under a velocity rule a signer signs one such request at a time, so that \
                 requests running at once \
                 on different signer sets cannot each miss the others (retry it)",
            ));
        }
        let reservation = Reservations::reserve(
            &self.inner.velocity,
            &mut gate,
            key,
            collect.entries.clone(),
        );
        drop(gate);
        Ok(Permitted {
            installed,
            policy_version: version,
            decision,
            velocity: collect.entries,
            union,
            reservation,
        })
    }

    /// The velocity ledger an evaluation of `wallet_id` at `now` by `engine` sees: the
    /// wallet's velocity book over the engine's longest window
    /// ([`tessera_policy::Engine::ledger_window_s`]), with the requests in flight here that
    /// the vault does not hold yet, without the entries of `own` (the evaluated request);
    /// `gate` is the held reservation lock.
    pub(super) fn ledger_for<'g>(
        &self,
        gate: &'g mut Reservations,
        engine: &tessera_policy::Engine,
        wallet_id: &'g str,
        own: Option<&RequestKey>,
        now: u64,
    ) -> Result<LedgerView<'g>, Failure> {
        let since = now.saturating_sub(engine.ledger_window_s());
        let vault = lock(&self.inner.vault);
        let mut own_entries = tessera_policy::MemoryLedger::new();
        if let Some((id, hash)) = own {
            for e in vault.request_velocity(id, hash).map_err(vault_failure)? {
                add_entry(&mut own_entries, &e)?;
            }
        }
        let in_flight = gate.in_flight(&vault, wallet_id, own)?;
        let book = gate.book.ensure(&vault, wallet_id, since)?;
        Ok(LedgerView {
            wallet_id,
            book,
            in_flight,
            own: own_entries,
        })
    }

    /// Step 6: the request (for a payload: this message of it) was not signed here before.
    /// (The session id's own replay check is its recording, step 7.)
    fn check_replay(&self, done: &str) -> Result<(), Refusal> {
        let used = lock(&self.inner.vault)
            .has_request(done)
            .map_err(vault_failure)?;
        if used {
            return Err(failure(
                FailureKind::Replayed,
                "this request was already signed by this signer",
            )
            .into());
        }
        Ok(())
    }

    /// Step 4 over the co-signers' ledgers (the velocity exchange, [`crate::exchange`]): when
    /// the bundle has velocity rules, this signer and its co-signers (`signers`, at least the
    /// threshold, this one among them) send each other what they count for the wallet, and
    /// the request is evaluated again over the union, each request once. A deny is a refusal
    /// (`VelocityExceeded` for a breach); a decision that now needs approvals (a rule on the
    /// day's total, say) has the job's approvals checked against it (step 5). Nothing was
    /// released yet.
    pub(super) fn check_union(
        &self,
        ctx: &mut RunCtx<'_>,
        sid: SessionId,
        signers: &[u16],
        wallet_id: &str,
        threshold: u16,
        a: &Authorized,
    ) -> Result<(), Refusal> {
        let Some(check) = &a.union else {
            return Ok(());
        };
        check_co_signers(signers, ctx.me, threshold, ctx.roster.len())?;
        let union = self.exchange_ledgers(ctx, sid, signers, wallet_id, check)?;
        let ledger = ledger_view(
            dedup_entries(union),
            &Reservations::default(),
            wallet_id,
            Some(&check.key),
        )?;
        let decision = check.installed.engine.evaluate(&check.request, &ledger);
        if let Decision::Deny { .. } = decision {
            return Err(deny_refusal(&decision));
        }
        check_approvals(
            &decision,
            &check.approvals,
            &check.installed.signed.bundle,
            &a.request_id,
            &a.intent_hash,
            a.policy_version,
            self.inner.clock.now_unix(),
        )?;
        Ok(())
    }

    /// One round of the velocity exchange: this signer's entries for the wallet (only what the
    /// bundle's longest window can count) and every co-signer's, together.
    fn exchange_ledgers(
        &self,
        ctx: &mut RunCtx<'_>,
        sid: SessionId,
        signers: &[u16],
        wallet_id: &str,
        check: &UnionCheck,
    ) -> Result<Vec<VelocityEntry>, Refusal> {
        let window = check
            .installed
            .signed
            .bundle
            .velocity
            .values()
            .map(|r| r.window_s)
            .max()
            .unwrap_or(0);
        let since = self.inner.clock.now_unix().saturating_sub(window);
        let mine = {
            let gate = lock(&self.inner.velocity);
            let stored = lock(&self.inner.vault)
                .velocity_entries(wallet_id, since)
                .map_err(vault_failure)?;
            counted_entries(stored, &gate, wallet_id)
        };
        let xsid = sid.derive("velocity");
        let exchange = Exchange::new(xsid, ctx.me, signers, exchange::encode(&mine));
        let peers = runner::drive(ctx, xsid, Box::new(exchange))?;
        let mut union = mine;
        for (party, bytes) in peers {
            let entries = exchange::decode(&bytes, wallet_id).ok_or_else(|| {
                failure(
                    FailureKind::Aborted,
                    &format!("co-signer {party}'s velocity summary does not parse"),
                )
            })?;
            union.extend(entries);
        }
        Ok(union)
    }
}

/// Step 5: if `decision` needs a quorum, `tessera_policy::check_quorum` over `approvals` for
/// this request id, intent hash and policy version (`Expired`, `StalePolicy`,
/// `ApprovalsInvalid`). Returns the approvers whose approval counted, sorted (empty when none
/// was needed).
pub(super) fn check_approvals(
    decision: &Decision,
    approvals: &[Approval],
    bundle: &PolicyBundle,
    request_id: &str,
    intent_hash: &[u8; 32],
    version: u64,
    now: u64,
) -> Result<Vec<String>, Refusal> {
    let Decision::AllowWithApprovals { quorum, .. } = decision else {
        return Ok(Vec::new());
    };
    check_quorum(
        quorum,
        approvals,
        bundle,
        request_id,
        intent_hash,
        version,
        now,
    )
    .map_err(|e| approval_refusal(&e))?;
    let mut keys: Vec<String> = approvals
        .iter()
        .filter(|a| a.decision == ApprovalDecision::Approve)
        .map(|a| a.approver.to_hex())
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// The assets among `entries` (the request's legs) that a velocity rule of `bundle` counts for
/// `wallet`: the ones whose requests must not run at once here. An asset that does not parse
/// counts (the strict reading).
fn governed_assets(bundle: &PolicyBundle, wallet: &str, entries: &[VelocityEntry]) -> Vec<String> {
    let mut assets: Vec<String> = entries
        .iter()
        .filter(|e| match e.asset.parse() {
            Ok(asset) => bundle.velocity.values().any(|r| r.applies(wallet, &asset)),
            Err(_) => true,
        })
        .map(|e| e.asset.clone())
        .collect();
    assets.sort();
    assets.dedup();
    assets
}

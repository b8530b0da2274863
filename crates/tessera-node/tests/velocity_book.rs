//! The velocity book (`tessera_node::book`): each signer's in-memory sums of what a wallet
//! signed, loaded from the vault on first use (and again when a window reaches further back),
//! added to only after a committed vault write, and seen by an evaluation without the
//! evaluated request's own entries.
//!
//! Every refusal here is checked to be the signers' own evaluation over their books, not the
//! velocity exchange that follows it (which reads the vaults, not the books): no envelope is
//! relayed for a refused job, and the figure each refusal states (`would_be`, the window's
//! total with the refused request) is exactly what the book must hold plus the request.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use tessera_audit::{EntryKind, RefusalReason};
use tessera_chains::{registry, ChainAdapter, Parsed, Payload, PublicKey, Registry, WalletKey};
use tessera_crypto::{SchemeId, SignMessage, Signature};
use tessera_policy::{BaseUnits, IntentFacts, PolicyBundle, VelocityLimit, VelocityRule};
use tessera_proto::link::{FailureKind, Job, Outcome, TxContext};
use tessera_wire::{Action, Authorization};

const SOL: u64 = 1_000_000_000;
/// The fee of a one-signature Solana transfer, which velocity counts: a transfer of
/// `SOL - FEE` lamports is exactly 1 SOL to the policy.
const FEE: u64 = 5_000;
/// What [`Setup::btc_transfer`] of [`BTC_SENT`] counts toward velocity: the amount sent plus
/// the 10,000 sat fee (the change counts nowhere).
const BTC_SENT: u64 = 30_000;
const BTC_TOTAL: u64 = 40_000;
const WALLET: &str = "w";
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

/// A 2-of-3 wallet of one chain under the local-dev policy, with one velocity rule on the
/// chain's native coin.
struct Setup {
    g: Group,
    pk: PublicKey,
    chains: Registry,
    chain: &'static str,
    network: &'static str,
    scheme: SchemeId,
    /// The policy version in force, which jobs name.
    version: u64,
}

impl Setup {
    /// An Ed25519 wallet on Solana devnet, at most `limit` lamports a day.
    fn solana(name: &str, limit: u64) -> Setup {
        Setup::new(name, "solana", "devnet", SchemeId::Ed25519, limit)
    }

    /// A Taproot (BIP-340) wallet on Bitcoin regtest, at most `limit` sat a day.
    fn bitcoin(name: &str, limit: u64) -> Setup {
        Setup::new(name, "bitcoin", "regtest", SchemeId::SchnorrBip340, limit)
    }

    fn new(
        name: &str,
        chain: &'static str,
        network: &'static str,
        scheme: SchemeId,
        limit: u64,
    ) -> Setup {
        let mut g = Group::bare(name, 3);
        let asset = format!("{chain}:{network}:native");
        let b = g.sign_bundle(limited_bundle(&g, 1, &asset, DAY, limit), &[0, 1]);
        g.install_ok(&b);
        let (pk, _) = g.keygen(WALLET, scheme, 2);
        Setup {
            g,
            pk,
            chains: registry(),
            chain,
            network,
            scheme,
            version: 1,
        }
    }

    /// Installs the next policy version, whose velocity rule is `limit` over `window_s`.
    fn set_limit(&mut self, window_s: u64, limit: u64) {
        self.version += 1;
        let asset = format!("{}:{}:native", self.chain, self.network);
        let b = limited_bundle(&self.g, self.version, &asset, window_s, limit);
        let b = self.g.sign_bundle(b, &[0, 1]);
        self.g.install_ok(&b);
    }

    fn adapter(&self) -> &dyn ChainAdapter {
        self.chains.get(self.chain).unwrap()
    }

    fn wallet_key(&self) -> WalletKey<'_> {
        WalletKey {
            scheme: self.scheme,
            public_key: &self.pk,
        }
    }

    fn address(&self, pk: &PublicKey) -> String {
        let key = WalletKey {
            scheme: self.scheme,
            public_key: pk,
        };
        self.adapter().address(self.network, key).unwrap().address
    }

    /// The payload `spec` builds and its parse.
    fn build(&self, spec: &Value) -> (Payload, Parsed) {
        let payload = self
            .adapter()
            .build(self.network, self.wallet_key(), spec)
            .unwrap();
        let parsed = self
            .adapter()
            .parse(self.network, self.wallet_key(), &payload)
            .unwrap();
        (payload, parsed)
    }

    /// A Solana transfer of `lamports` to a fixed destination (one message).
    fn sol_transfer(&self, lamports: u64) -> (Payload, Parsed) {
        self.build(&json!({
            "recent_blockhash": self.address(&PublicKey::Ed25519([4u8; 32])),
            "transfers": [{"to": self.address(&PublicKey::Ed25519([9u8; 32])), "lamports": lamports}]
        }))
    }

    /// A Bitcoin transaction spending two coins of the wallet (150,000 sat, so two messages):
    /// `sat` to somebody else (the generator point's key), all but a 10,000 sat fee back.
    fn btc_transfer(&self, sat: u64) -> (Payload, Parsed) {
        let g_point: [u8; 33] =
            hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
                .unwrap()
                .try_into()
                .unwrap();
        self.build(&json!({
            "inputs": [
                {"txid": "11".repeat(32), "vout": 0, "amount_sat": 100_000},
                {"txid": "22".repeat(32), "vout": 1, "amount_sat": 50_000}
            ],
            "outputs": [
                {"address": self.address(&PublicKey::Secp256k1(g_point)), "amount_sat": sat},
                {"address": self.address(&self.pk), "amount_sat": 140_000 - sat}
            ]
        }))
    }

    /// The requester's authorization of `parsed` under a fresh request id, valid five minutes
    /// of the signers' clock.
    fn authorize(&self, parsed: &Parsed) -> Authorization {
        let action = Action::SignTransaction {
            wallet_id: WALLET.into(),
            path: "m".into(),
            chain: self.chain.into(),
            network: self.network.into(),
            intent_hash: parsed.intent_hash().unwrap(),
        };
        let expires_at = self.g.clock.now_unix() + 300;
        Authorization::sign(&self.g.operator, random_id(), action, expires_at)
    }

    /// A full signing job for message `index` of `payload` by `pair`.
    fn job(&self, pair: &[usize], tx: (&Payload, &Parsed), a: &Authorization, index: u32) -> Job {
        let (payload, parsed) = tx;
        Job::Sign {
            signers: pair.iter().map(|&p| p as u16).collect(),
            message: parsed.messages[index as usize].clone(),
            path: "m".into(),
            authorization: a.clone(),
            transaction: Some(TxContext {
                chain: self.chain.into(),
                network: self.network.into(),
                payload: payload.clone(),
                index,
            }),
            policy_version: self.version,
            approvals: vec![],
        }
    }

    /// Signs message `index` of `tx` at `pair`; the signature both produced.
    fn sign(
        &mut self,
        pair: &[usize],
        tx: (&Payload, &Parsed),
        a: &Authorization,
        index: u32,
    ) -> Signature {
        let job = self.job(pair, tx, a, index);
        signature(self.g.run(WALLET, pair, job))
    }

    /// The chain's own verifier accepts `payload` signed with `sigs`.
    fn verify(&self, payload: &Payload, sigs: &[Signature]) {
        let signed = self
            .adapter()
            .finalize(self.network, self.wallet_key(), payload, sigs)
            .unwrap();
        self.adapter()
            .verify(self.network, self.wallet_key(), payload, &signed)
            .expect("the chain's own verifier accepts the transaction");
    }

    /// Runs `job` at `pair`: every signer refuses it as `VelocityExceeded` stating `would_be`
    /// base units in the window, from its own evaluation over its book (no envelope relayed:
    /// the velocity exchange never started), and audits one more `VelocityLimit` refusal.
    fn refused_by_book(&mut self, pair: &[usize], job: Job, would_be: u64, what: &str) {
        let relayed = self.g.relayed.len();
        let before: Vec<usize> = pair
            .iter()
            .map(|&i| velocity_refusals(&self.g, i))
            .collect();
        let answers = self.g.run(WALLET, pair, job);
        let figure = format!("would_be: {would_be} }}");
        for (&i, a) in pair.iter().zip(answers) {
            match a {
                Err(f) => {
                    assert_eq!(
                        f.kind,
                        FailureKind::VelocityExceeded,
                        "{what}: {}",
                        f.message
                    );
                    assert!(
                        f.message.contains(&figure),
                        "{what}: signer {i}: {}",
                        f.message
                    );
                }
                Ok(o) => panic!("{what}: signer {i} took part: {o:?}"),
            }
        }
        assert_eq!(
            self.g.relayed.len(),
            relayed,
            "{what}: an envelope was relayed"
        );
        for (&i, n) in pair.iter().zip(before) {
            assert_eq!(
                velocity_refusals(&self.g, i),
                n + 1,
                "{what}: signer {i} audit"
            );
        }
    }
}

/// Version `version` of the local-dev bundle with one velocity rule: at most `limit` base
/// units of `asset` per `window_s` seconds, for every wallet.
fn limited_bundle(g: &Group, version: u64, asset: &str, window_s: u64, limit: u64) -> PolicyBundle {
    let mut b = g.bundle(version, tessera_policy::templates::LOCAL_DEV);
    b.velocity.insert(
        "native-per-window".into(),
        VelocityRule {
            wallet: None,
            asset: asset.parse().unwrap(),
            window_s,
            limit: VelocityLimit::Amount(BaseUnits::from_u128(limit.into())),
        },
    );
    b
}

/// The signature every participant answered with.
fn signature(answers: Vec<Answer>) -> Signature {
    let mut sig: Option<Signature> = None;
    for a in answers {
        match a {
            Ok(Outcome::Signature(s)) => {
                assert!(sig.as_ref().is_none_or(|p| *p == s), "the signers agree");
                sig = Some(s);
            }
            other => panic!("expected a signature: {other:?}"),
        }
    }
    sig.unwrap()
}

/// ed25519-dalek (not the protocol's own code) accepts `sig` on `m` under `pk`.
fn verify_ed25519(pk: &PublicKey, m: &SignMessage, sig: &Signature) {
    let (PublicKey::Ed25519(pk), Signature::Ed25519(sig)) = (pk, sig) else {
        panic!("not an Ed25519 key and signature");
    };
    ed25519_dalek::VerifyingKey::from_bytes(pk)
        .unwrap()
        .verify_strict(
            &m.ed25519_bytes(),
            &ed25519_dalek::Signature::from_bytes(sig),
        )
        .expect("ed25519-dalek accepts the signature");
}

/// How many `VelocityLimit` refusals signer `i` audited.
fn velocity_refusals(g: &Group, i: usize) -> usize {
    g.nodes[i]
        .audit
        .log
        .entries(0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(&e.kind, EntryKind::Refusal(RefusalReason::VelocityLimit)))
        .count()
}

/// What `parsed` counts toward velocity: the total of its one asset leg.
fn velocity_total(parsed: &Parsed) -> String {
    let facts = IntentFacts::from_intent(&parsed.intent).unwrap();
    let [leg] = facts.legs() else {
        panic!("one asset leg: {:?}", facts.legs());
    };
    leg.total.to_string()
}

/// A daily limit survives a restart of every signer: after 1 SOL of a 1.5 SOL daily limit
/// signed (checked by ed25519-dalek and Solana's own verifier), all three signers restart over
/// their vaults with empty books. Each signer's own evaluation then refuses a second 1 SOL
/// counting 2 SOL, and a transfer one lamport over what is left counting 1.5 SOL + 1 lamport,
/// while one of exactly what is left (0.5 SOL, fee included) signs: the rebuilt book holds
/// exactly the 1 SOL signed before the restart, neither nothing nor more.
#[test]
fn a_velocity_limit_survives_a_restart_of_every_signer() {
    let mut s = Setup::solana("book-restart", 3 * SOL / 2);
    let (payload, parsed) = s.sol_transfer(SOL - FEE);
    let first = s.authorize(&parsed);
    let sig = s.sign(&[0, 1], (&payload, &parsed), &first, 0);
    verify_ed25519(&s.pk, &parsed.messages[0], &sig);
    s.verify(&payload, &[sig]);

    for i in 0..3 {
        s.g.restart(i);
    }
    let second = s.authorize(&parsed);
    let job = s.job(&[0, 1], (&payload, &parsed), &second, 0);
    s.refused_by_book(&[0, 1], job, 2 * SOL, "a second 1 SOL after the restart");

    let (over_payload, over) = s.sol_transfer(SOL / 2 + 1 - FEE);
    let a = s.authorize(&over);
    let job = s.job(&[0, 1], (&over_payload, &over), &a, 0);
    s.refused_by_book(&[0, 1], job, 3 * SOL / 2 + 1, "one lamport over the limit");

    let (fit_payload, fit) = s.sol_transfer(SOL / 2 - FEE);
    let a = s.authorize(&fit);
    let sig = s.sign(&[1, 0], (&fit_payload, &fit), &a, 0);
    verify_ed25519(&s.pk, &fit.messages[0], &sig);
    s.verify(&fit_payload, &[sig]);
}

/// A request with several messages counts its amount once. A plain `Sign` authorizes exactly
/// one message, so the multi-message request is a chain payload: a Bitcoin transaction
/// spending two coins, whose two sighashes are signed in two sessions under one authorization
/// (`TxContext::index` 0, then 1). Its total (40,000 sat, fee included) is exactly the daily
/// limit. Message 0 records it; message 1 is evaluated over a book that holds it, minus the
/// request's own entries, so it signs (counting them again would be 80,000 sat, refused), and
/// the transaction passes Bitcoin's own verifier. Another request of the same total is then
/// refused counting 80,000 sat: the first request is in the book once.
#[test]
fn a_request_with_two_messages_counts_its_amount_once() {
    let mut s = Setup::bitcoin("book-two-messages", BTC_TOTAL);
    let (payload, parsed) = s.btc_transfer(BTC_SENT);
    assert_eq!(parsed.messages.len(), 2, "one message per input");
    assert_eq!(velocity_total(&parsed), BTC_TOTAL.to_string());
    let tx = (&payload, &parsed);
    let a = s.authorize(&parsed);
    let s0 = s.sign(&[0, 1], tx, &a, 0);
    let s1 = s.sign(&[0, 1], tx, &a, 1);
    s.verify(&payload, &[s0, s1]);

    let b = s.authorize(&parsed);
    let job = s.job(&[0, 1], tx, &b, 0);
    s.refused_by_book(
        &[0, 1],
        job,
        2 * BTC_TOTAL,
        "another request past the limit",
    );
}

/// The own entries a restarted signer subtracts come from the vault too: message 0 of the
/// two-input request (its total exactly the daily limit) signs, every signer restarts, and
/// message 1 still signs over the rebuilt book (which holds the request's 40,000 sat, subtracted
/// as its own). After a second restart of every signer another request is refused counting
/// 80,000 sat: message 1 wrote no second copy of the request's entry to the vault.
#[test]
fn a_request_resumed_after_a_restart_counts_its_amount_once() {
    let mut s = Setup::bitcoin("book-resumed", BTC_TOTAL);
    let (payload, parsed) = s.btc_transfer(BTC_SENT);
    let tx = (&payload, &parsed);
    let a = s.authorize(&parsed);
    let s0 = s.sign(&[0, 1], tx, &a, 0);
    for i in 0..3 {
        s.g.restart(i);
    }
    let s1 = s.sign(&[0, 1], tx, &a, 1);
    s.verify(&payload, &[s0, s1]);

    for i in 0..3 {
        s.g.restart(i);
    }
    let b = s.authorize(&parsed);
    let job = s.job(&[0, 1], tx, &b, 0);
    s.refused_by_book(
        &[0, 1],
        job,
        2 * BTC_TOTAL,
        "another request after the restarts",
    );
}

/// Amounts leave the window, and come back when a window reaches further. Under 1.5 SOL a day,
/// 1 SOL signs and a second 1 SOL is refused (2 SOL counted). A day and an hour later (the
/// signers' clock advanced) the first has left the window and its hour the book: the second
/// 1 SOL signs. A new policy version then counts 2.5 SOL over three days: the book, which no
/// longer reaches back that far, is loaded again from the vault, so a third 1 SOL is refused
/// counting both earlier ones (3 SOL), and 0.5 SOL (exactly what is left) signs.
#[test]
fn amounts_leave_the_window_and_return_with_a_longer_one() {
    let mut s = Setup::solana("book-window", 3 * SOL / 2);
    let (payload, parsed) = s.sol_transfer(SOL - FEE);
    let tx = (&payload, &parsed);
    let first = s.authorize(&parsed);
    s.sign(&[0, 1], tx, &first, 0);
    let second = s.authorize(&parsed);
    let job = s.job(&[0, 1], tx, &second, 0);
    s.refused_by_book(&[0, 1], job, 2 * SOL, "a second 1 SOL the same day");

    s.g.clock.advance(DAY + HOUR);
    let second = s.authorize(&parsed);
    let sig = s.sign(&[0, 1], tx, &second, 0);
    s.verify(&payload, &[sig]);

    s.set_limit(3 * DAY, 5 * SOL / 2);
    let third = s.authorize(&parsed);
    let job = s.job(&[0, 1], tx, &third, 0);
    s.refused_by_book(&[0, 1], job, 3 * SOL, "a third 1 SOL under three days");
    let (half_payload, half) = s.sol_transfer(SOL / 2 - FEE);
    let a = s.authorize(&half);
    let sig = s.sign(&[0, 1], (&half_payload, &half), &a, 0);
    s.verify(&half_payload, &[sig]);
}

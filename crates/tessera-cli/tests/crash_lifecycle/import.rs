//! The import trials, each followed by a retirement trial of the imported wallet
//! ([`super::retire`]). An existing key (a seeded random one, in hex) is imported as a 2-of-3
//! wallet on three of the four signers while the coordinator or one of the three is killed.
//! After each:
//!
//! - **an accepted import is not forgotten:** when the coordinator answered the request, it
//!   still knows the wallet after its restart;
//! - **completed:** the wallet is ready with the imported key, every holder stored its share
//!   (epoch 0 on disk), every holder attested it, and the holders sign;
//! - **or rolled back:** the wallet failed (or was never recorded) and the coordinator signs
//!   nothing with it; the key is not lost: the same key imports again under another id, and
//!   signs;
//! - the fourth signer holds nothing of the wallet.

use std::time::{Duration, Instant};

use tessera_cli::import::{curve_of, prepare, run, ImportSpec};
use tessera_cli::import_key::{parse_key, ImportedKey, KeyFormat};
use tessera_client::{Client, ClientError, AUTHORIZATION_TTL_SECS};
use tessera_crypto::{PublicKey, SchemeId};
use tessera_proto::api::{WalletInfo, WalletStatus};
use zeroize::Zeroizing;

use super::*;

/// A seeded random key of `scheme`'s curve, as 64 hex digits.
fn random_key(rng: &mut Rng, scheme: SchemeId) -> Zeroizing<String> {
    loop {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next().to_be_bytes());
        }
        let hex = Zeroizing::new(hex::encode(bytes));
        if key_of(scheme, &hex).is_some() {
            return hex;
        }
    }
}

fn key_of(scheme: SchemeId, hex: &str) -> Option<ImportedKey> {
    parse_key(curve_of(scheme), KeyFormat::Hex, hex, None, None).ok()
}

/// Three of the four signers, in index order.
fn three_holders(rng: &mut Rng) -> Vec<usize> {
    let left_out = rng.below(SIGNERS as u64) as usize;
    (0..SIGNERS).filter(|&i| i != left_out).collect()
}

fn spec(c: &Campaign, scheme: SchemeId, wallet_id: &str, holders: &[usize]) -> ImportSpec {
    ImportSpec {
        wallet_id: wallet_id.to_string(),
        scheme,
        threshold: 2,
        signers: holders
            .iter()
            .map(|&i| c.cluster.file.signers[i].node_id)
            .collect(),
        networks: NETWORKS.iter().map(|n| n.to_string()).collect(),
    }
}

/// Imports `hex` undisturbed; the wallet, ready and vouched for by every holder.
async fn import_undisturbed(c: &Campaign, spec: ImportSpec, hex: &str) -> WalletInfo {
    let key = key_of(spec.scheme, hex).unwrap();
    let (w, vouched) = run(&c.cluster.file, spec, key)
        .await
        .unwrap_or_else(|e| panic!("undisturbed import: {e:#}"));
    assert_eq!(vouched.by.len(), w.signers.len(), "attestations");
    w
}

/// The wallet once the coordinator answers, every signer is linked and the import is no longer
/// running; `None` when the coordinator has no such wallet.
async fn settle_import(client: &Client, wallet_id: &str) -> Option<WalletInfo> {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "{wallet_id}: the cluster did not settle"
        );
        if linked(client).await == SIGNERS {
            match client.wallet(wallet_id).await {
                Ok(w) if w.status != WalletStatus::Creating => return Some(w),
                Err(ClientError::Api { status: 404, .. }) => return None,
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One import with a kill.
struct Trial<'a> {
    name: &'a str,
    scheme: SchemeId,
    wallet_id: &'a str,
    holders: &'a [usize],
    key: &'a str,
    target: Target,
    delay: Duration,
}

impl Trial<'_> {
    /// Returns whether the kill came while the import ran, how it ended, and a ready wallet of
    /// the key (the imported one, or the one imported again).
    async fn run(&self, c: &mut Campaign) -> (bool, End, WalletInfo) {
        let trial = self.name;
        let spec = spec(c, self.scheme, self.wallet_id, self.holders);
        let key = key_of(self.scheme, self.key).unwrap();
        let (expected, op) = prepare(&c.cluster.file, &spec, key, AUTHORIZATION_TTL_SECS)
            .await
            .unwrap_or_else(|e| panic!("{trial}: prepare: {e:#}"));
        let client = c.client.clone();
        let submit = tokio::spawn(async move { client.submit_key_operation(&op).await });
        tokio::time::sleep(self.delay).await;
        let running = !submit.is_finished()
            || matches!(c.client.wallet(self.wallet_id).await, Ok(w) if w.status == WalletStatus::Creating);
        kill_and_restart(&mut c.cluster, &c.client, self.target).await;
        let accepted = submit.await.unwrap().is_ok();
        let after = settle_import(&c.client, self.wallet_id).await;
        assert!(
            !accepted || after.is_some(),
            "{trial}: the coordinator accepted the import and forgot it"
        );
        let disk = held(&mut c.cluster, &c.client, self.wallet_id).await;
        self.check_outsiders(&disk);
        let (end, wallet) = match after {
            Some(w) if w.status == WalletStatus::Ready => (
                End::Completed,
                self.check_completed(c, w, &expected, &disk).await,
            ),
            other => {
                let wallet = self.check_rolled_back(c, other, spec, &expected).await;
                (End::RolledBack, wallet)
            }
        };
        report(trial, running, end, &format!("disk {disk:?}"));
        (running, end, wallet)
    }

    fn check_outsiders(&self, disk: &[Held]) {
        for (i, held) in disk.iter().enumerate() {
            if !self.holders.contains(&i) {
                assert_eq!(
                    (held.committed, held.prepared),
                    (None, None),
                    "{}: signer {i} is no holder but holds the wallet",
                    self.name
                );
            }
        }
    }

    async fn check_completed(
        &self,
        c: &Campaign,
        w: WalletInfo,
        expected: &PublicKey,
        disk: &[Held],
    ) -> WalletInfo {
        let trial = self.name;
        assert_eq!(
            w.public_key.as_ref(),
            Some(expected),
            "{trial}: another key"
        );
        for &i in self.holders {
            assert_eq!(
                disk[i].committed,
                Some(0),
                "{trial}: the wallet is ready but holder {i} did not store its share"
            );
        }
        let (_, vouched) = c.client.vouched_wallet(self.wallet_id).await.unwrap();
        assert_eq!(
            vouched.by.len(),
            self.holders.len(),
            "{trial}: attestations"
        );
        sign_and_verify(
            &c.client,
            &c.op_key,
            self.scheme,
            self.wallet_id,
            "m/3",
            trial,
        )
        .await;
        if self.scheme != SchemeId::EcdsaDkls23 {
            wait_pool(&c.client, self.wallet_id, 1).await;
        }
        w
    }

    async fn check_rolled_back(
        &self,
        c: &Campaign,
        after: Option<WalletInfo>,
        spec: ImportSpec,
        expected: &PublicKey,
    ) -> WalletInfo {
        let trial = self.name;
        if let Some(w) = &after {
            assert_eq!(w.status, WalletStatus::Failed, "{trial}: {w:?}");
        }
        let m = message(self.scheme, "after a failed import");
        let refused = c.client.sign(&c.op_key, self.wallet_id, "m", &m).await;
        assert!(refused.is_err(), "{trial}: a failed import signed");
        let again = ImportSpec {
            wallet_id: format!("{}-again", self.wallet_id),
            ..spec
        };
        let w = import_undisturbed(c, again, self.key).await;
        assert_eq!(w.public_key.as_ref(), Some(expected), "{trial}: again");
        sign_and_verify(
            &c.client,
            &c.op_key,
            self.scheme,
            &w.wallet_id,
            "m/3",
            trial,
        )
        .await;
        w
    }
}

/// The import and retirement trials of `scheme`: imports of fresh keys, each killed (while
/// imports still want kills) and each imported wallet then retired with a kill (while
/// retirements still want kills).
pub async fn campaign(c: &mut Campaign, scheme: SchemeId) {
    let short = wallet_id(scheme);
    // One undisturbed import and retirement: the windows kill moments are drawn from.
    let holders = three_holders(&mut c.rng);
    let key = random_key(&mut c.rng, scheme);
    let started = Instant::now();
    let base = spec(c, scheme, &format!("{short}-base"), &holders);
    let w = import_undisturbed(c, base, &key).await;
    let import_window = started.elapsed().mul_f64(1.2);
    let retire_window = retire::undisturbed(c, &w).await.mul_f64(1.2);
    let mut n = 0;
    while c.wants(scheme, Op::Import) || c.wants(scheme, Op::Retire) {
        n += 1;
        let holders = three_holders(&mut c.rng);
        let key = random_key(&mut c.rng, scheme);
        let id = format!("{short}-{}-{n}", c.seed);
        let wallet = if c.wants(scheme, Op::Import) {
            let involved = holders.clone();
            let target = c.rng.target(&involved);
            let delay = c.rng.within(import_window);
            let name = format!(
                "seed {} {} trial {n}: Import kill {target:?} after {} ms",
                c.seed,
                scheme.name(),
                delay.as_millis()
            );
            let t = Trial {
                name: &name,
                scheme,
                wallet_id: &id,
                holders: &holders,
                key: &key,
                target,
                delay,
            };
            let (running, end, wallet) = t.run(c).await;
            c.record(scheme, Op::Import, target, running, end);
            wallet
        } else {
            import_undisturbed(c, spec(c, scheme, &id, &holders), &key).await
        };
        if c.wants(scheme, Op::Retire) {
            retire::trial(c, scheme, n, &wallet, retire_window).await;
        }
    }
}

//! The cluster every seed starts from, built once per process: three signers with a policy
//! bundle (small transfers, a daily velocity limit) and a 2-of-3 Ed25519 wallet made by a real
//! distributed key generation over the simulated relay. Each seed runs on copies of its files.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tessera_crypto::{PublicKey, SchemeId};
use tessera_policy::{
    AdminSet, BaseUnits, PolicyBundle, SecretKey, SignedBundle, VelocityLimit, VelocityRule,
};
use tessera_proto::link::{FromSigner, Job, Outcome, ToSigner};
use tessera_proto::Clock;
use tessera_wire::{Action, Authorization, IdentityKey, OperatorKey};

use crate::net::Net;
use crate::world::{SimClock, World};
use crate::{FEE, SOL, WALLET};

/// Transfers up to 1 SOL sign without approval; operators create and reshare wallets; nothing
/// else.
const POLICY: &str = r#"
@id("small-transfers")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"sign_transaction",
  resource
)
when { context.kind == "transfer" && context.amount.units.lessThanOrEqual(decimal("1.0")) };

@id("create-wallet")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"create_wallet",
  resource
);

@id("refresh")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"reshare_wallet",
  resource
);
"#;

/// The wallet's daily velocity limit: 1.5 SOL and two fees, lamports.
pub const LIMIT: u64 = 3 * SOL / 2 + 2 * FEE;

/// The keygen session's id.
pub const KEYGEN_SESSION: [u8; 32] = [0x4b; 32];

/// The template cluster and the keys the simulated coordinator holds.
pub struct Fixture {
    pub template: World,
    pub operator: OperatorKey,
    /// The policy bundle every signer holds (the real coordinator installs it too).
    pub bundle: SignedBundle,
    pub public_key: PublicKey,
    pub chain_code: [u8; 32],
    /// Virtual time the template reached (seeds continue from it).
    pub now_ms: u64,
}

impl Fixture {
    /// Builds the template in a fresh directory under the system's temporary directory.
    pub fn build() -> Fixture {
        let root = root();
        let now_ms = tessera_proto::SystemClock.now_ms();
        let clock = Arc::new(SimClock::at(now_ms));
        let rng = &mut rand_core::OsRng;
        let operator = OperatorKey::generate(rng);
        let admins: Vec<SecretKey> = (0..3).map(|_| SecretKey::generate(rng)).collect();
        let admin_set = AdminSet::new(admins.iter().map(|k| k.public()), 2).expect("admin set");
        let ids: Vec<IdentityKey> = (0..3).map(|_| IdentityKey::generate(rng)).collect();
        let mut world = World::create(
            &root.join("template"),
            &ids,
            operator.public(),
            &admin_set,
            clock.clone(),
        );
        let bundle = install_bundle(&world, &operator, &admins, &admin_set, now_ms / 1000);
        let (public_key, chain_code) = keygen(&world, &operator, now_ms / 1000);
        world.close();
        Fixture {
            template: world,
            operator,
            bundle,
            public_key,
            chain_code,
            now_ms: clock.as_ref().now_ms(),
        }
    }

    /// A fresh directory for one run of `seed` (runs may overlap, in tests).
    pub fn seed_dir(seed: u64) -> PathBuf {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let run = RUNS.fetch_add(1, Ordering::SeqCst);
        root().join(format!("run-{run}-seed-{seed}"))
    }

    /// Removes the template's files.
    pub fn remove(self) {
        self.template.remove();
        let _ = std::fs::remove_dir_all(root());
    }
}

/// This process's simulation directory: under `TESSERA_SIM_DIR` if set, else in memory
/// (`/dev/shm`) where there is one — the simulated disks need SQLite's files and their
/// ordering, not the real disk's `fsync` latency — else the system's temporary directory.
fn root() -> PathBuf {
    let base = match std::env::var_os("TESSERA_SIM_DIR") {
        Some(d) => PathBuf::from(d),
        None if std::path::Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
        None => std::env::temp_dir(),
    };
    base.join(format!("tessera-sim-{}", std::process::id()))
}

fn install_bundle(
    world: &World,
    operator: &OperatorKey,
    admins: &[SecretKey],
    set: &AdminSet,
    now: u64,
) -> SignedBundle {
    let mut bundle = PolicyBundle {
        version: 1,
        tenant: "sim".into(),
        policies: POLICY.into(),
        roles: [(
            "operator".to_string(),
            [tessera_policy::PublicKey(operator.public().0)].into(),
        )]
        .into(),
        admins: set.clone(),
        velocity: Default::default(),
        created_at: now,
        quarantined: Default::default(),
    };
    bundle.velocity.insert(
        "sol-per-day".into(),
        VelocityRule {
            wallet: None,
            asset: "solana:devnet:native".parse().expect("asset"),
            window_s: 86_400,
            limit: VelocityLimit::Amount(BaseUnits::from_u128(LIMIT.into())),
        },
    );
    let mut signed = SignedBundle::new(bundle);
    signed.sign(&admins[0]);
    signed.sign(&admins[1]);
    let bytes = serde_json::to_vec(&signed).expect("bundle json");
    for i in 0..world.nodes.len() {
        world
            .deliver(
                i,
                ToSigner::Policy {
                    bundle: bytes.clone(),
                },
            )
            .expect("policy installs");
        for (_, f) in world.take_sent() {
            assert!(matches!(f, FromSigner::Status(_)), "bundle refused: {f:?}");
        }
    }
    signed
}

fn keygen(world: &World, operator: &OperatorKey, now: u64) -> (PublicKey, [u8; 32]) {
    let authorization = Authorization::sign(
        operator,
        "keygen".into(),
        Action::Keygen {
            wallet_id: WALLET.into(),
            scheme: SchemeId::Ed25519,
            threshold: 2,
            signers: world
                .nodes
                .iter()
                .map(|n| n.signed.identity.node_id())
                .collect(),
            networks: vec!["solana:devnet".into()],
        },
        now + 600,
    );
    let job = Job::Keygen {
        scheme: SchemeId::Ed25519,
        threshold: 2,
        authorization,
        import: None,
        approvals: Vec::new(),
    };
    let mut net = Net::default();
    let session = KEYGEN_SESSION;
    net.start(world, session, &[0, 1, 2], job, 0);
    net.drain(world).expect("keygen completes");
    let s = &net.sessions[&session];
    let mut key = None;
    for p in 0..3 {
        match s.answers.get(&p) {
            Some(Ok(Outcome::Keygen {
                public_key,
                chain_code,
                ..
            })) => {
                if let Some((pk, _)) = &key {
                    assert_eq!(pk, public_key, "every signer reports the same key");
                }
                key = Some((public_key.clone(), *chain_code));
            }
            other => panic!("keygen at node {p}: {other:?}"),
        }
    }
    key.expect("three answers")
}

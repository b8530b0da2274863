//! Multi-process tests of key lifecycle operations through the API, the CLI library and real
//! signer processes: a refresh while signing and the replacement of a killed signer, for every
//! scheme. The key, chain code and addresses never change; signatures before and after are
//! checked with libsecp256k1 / ed25519-dalek; after the replacement the new holder signs with
//! the one remaining original holder.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tessera_cli::cluster::LocalCluster;
use tessera_cli::reshare::{run, Change};
use tessera_client::Client;
use tessera_crypto::SchemeId;
use tessera_proto::api::{SessionKind, SessionStatus, WalletInfo};
use tessera_wire::{NodeId, OperatorKey};

async fn signers(name: &str, n: usize) -> LocalCluster {
    cluster_of(name, "info", n).await
}

/// The cluster's signers: node ids and names, in order.
fn members(cluster: &LocalCluster) -> (Vec<NodeId>, Vec<String>) {
    let s = &cluster.file.signers;
    (
        s.iter().map(|x| x.node_id).collect(),
        s.iter().map(|x| x.name.clone()).collect(),
    )
}

/// One 2-of-`signers.len()` wallet per scheme (key generation runs in the background).
async fn create_wallets(
    client: &Client,
    op: &OperatorKey,
    schemes: &[SchemeId],
    signers: &[NodeId],
) {
    for &s in schemes {
        client
            .create_wallet(op, &wallet_id(s), "test", s, 2, signers.to_vec(), NETWORKS)
            .await
            .expect("create wallet");
    }
}

fn same_key(before: &WalletInfo, after: &WalletInfo) {
    assert_eq!(
        after.public_key, before.public_key,
        "{}: key",
        after.wallet_id
    );
    assert_eq!(
        after.chain_code, before.chain_code,
        "{}: chain code",
        after.wallet_id
    );
    assert_eq!(after.networks, before.networks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_and_replacing_a_killed_signer_keep_every_key_and_sign() {
    let mut cluster = signers("lifecycle", 4).await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let (nodes, names) = members(&cluster);
    create_wallets(&client, &op, &SchemeId::ALL, &nodes[..3]).await;
    let mut created = Vec::new();
    for s in SchemeId::ALL {
        created.push(wait_ready(&client, &wallet_id(s)).await);
        sign_and_verify(&client, &op, s, &wallet_id(s), "m/1", "before").await;
    }

    // Refresh every wallet; the DKLs23 wallet keeps signing meanwhile: every signature it
    // returns verifies, none is lost.
    let dkls = wallet_id(SchemeId::EcdsaDkls23);
    let (c2, op2, d2) = (
        cluster.client().unwrap(),
        cluster.file.operator().unwrap(),
        dkls.clone(),
    );
    let signing = tokio::spawn(async move {
        let mut signed = 0;
        for i in 0..6 {
            let m = message(SchemeId::EcdsaDkls23, &format!("during {i}"));
            let session = c2.sign(&op2, &d2, "m", &m).await.expect("sign request");
            if let Some(sig) = session.signature {
                let key = c2.derive(&d2, "m").await.unwrap().public_key;
                tessera_cli::verify::verify(SchemeId::EcdsaDkls23, &key, &m, &sig)
                    .expect("a signature made during a refresh verifies");
                signed += 1;
            }
        }
        signed
    });
    for (s, before) in SchemeId::ALL.iter().zip(&created) {
        let (session, elapsed) = run(&cluster.file, &wallet_id(*s), &Change::Refresh, true)
            .await
            .unwrap_or_else(|e| panic!("{} refresh: {e:#}", s.name()));
        assert_eq!(
            (session.kind, session.status),
            (SessionKind::Reshare, SessionStatus::Done)
        );
        eprintln!("{} refresh: {:.2} s", s.name(), elapsed.as_secs_f64());
        let (after, vouched) = client.vouched_wallet(&wallet_id(*s)).await.unwrap();
        same_key(before, &after);
        assert_eq!((after.epoch, after.threshold), (1, 2));
        assert_eq!(after.signers, nodes[..3].to_vec());
        assert_eq!(vouched.by.len(), 3, "every holder attested epoch 1");
        sign_and_verify(&client, &op, *s, &wallet_id(*s), "m/1", "after the refresh").await;
    }
    assert!(
        signing.await.unwrap() > 0,
        "signing went on during the refreshes"
    );

    // Signer 2 dies; signer 3 takes its place in every wallet.
    cluster.kill_signer(2).unwrap();
    wait_linked_exactly(&client, 3).await;
    let replace = Change::ReplaceSigner {
        old: names[2].clone(),
        new: names[3].clone(),
    };
    for (s, before) in SchemeId::ALL.iter().zip(&created) {
        let (_, elapsed) = run(&cluster.file, &wallet_id(*s), &replace, true)
            .await
            .unwrap_or_else(|e| panic!("{} replace: {e:#}", s.name()));
        eprintln!(
            "{} replace-signer: {:.2} s",
            s.name(),
            elapsed.as_secs_f64()
        );
        let (after, _) = client.vouched_wallet(&wallet_id(*s)).await.unwrap();
        same_key(before, &after);
        assert_eq!(after.epoch, 2);
        assert_eq!(after.signers, vec![nodes[0], nodes[1], nodes[3]]);
        if *s != SchemeId::EcdsaDkls23 {
            // The presignature pool refills among the new holders (it once kept presigning
            // with the roster it started with, which the signers refused).
            wait_pool(&client, &wallet_id(*s), 1).await;
        }
    }

    // With signer 1 gone too, only the replacement and signer 0 remain: they sign together.
    cluster.kill_signer(1).unwrap();
    wait_linked_exactly(&client, 2).await;
    for s in SchemeId::ALL {
        sign_and_verify(&client, &op, s, &wallet_id(s), "m/1", "replacement signs").await;
    }
}

/// 2-of-3 becomes 3-of-5 (after a replacement, so a former holder joins again): the key and
/// addresses are unchanged, two holders can no longer sign, and three of the five — two of
/// them new — sign together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_becomes_three_of_five() {
    let mut cluster = signers("reshare-3-of-5", 5).await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let (nodes, names) = members(&cluster);
    let schemes = [
        SchemeId::EcdsaDkls23,
        SchemeId::Ed25519,
        SchemeId::EcdsaCggmp24,
    ];
    create_wallets(&client, &op, &schemes, &nodes[..3]).await;
    let reshare = Change::Reshare {
        threshold: 3,
        signers: names.clone(),
    };
    // Signer 3 first hands its place to signer 4, so the 3-of-5 set takes back a signer that
    // still holds a share of an older epoch (it joins again; that share plays no part).
    let replace = Change::ReplaceSigner {
        old: names[2].clone(),
        new: names[3].clone(),
    };
    for s in schemes {
        let before = wait_ready(&client, &wallet_id(s)).await;
        run(&cluster.file, &wallet_id(s), &replace, true)
            .await
            .unwrap_or_else(|e| panic!("{} replace: {e:#}", s.name()));
        wait_told_it_left(&client, &nodes[2], &wallet_id(s)).await;
        let (_, elapsed) = run(&cluster.file, &wallet_id(s), &reshare, true)
            .await
            .unwrap_or_else(|e| panic!("{} reshare: {e:#}", s.name()));
        eprintln!(
            "{} reshare 2-of-3 -> 3-of-5: {:.2} s",
            s.name(),
            elapsed.as_secs_f64()
        );
        let (after, vouched) = client.vouched_wallet(&wallet_id(s)).await.unwrap();
        same_key(&before, &after);
        assert_eq!((after.epoch, after.threshold), (2, 3));
        assert_eq!(after.signers, nodes);
        assert_eq!(vouched.by.len(), 5);
    }
    // Holders 0 and 1 die: signers 2, 3 and 4 (two of them new) are exactly the threshold.
    cluster.kill_signer(0).unwrap();
    cluster.kill_signer(1).unwrap();
    wait_linked_exactly(&client, 3).await;
    for s in schemes {
        sign_and_verify(&client, &op, s, &wallet_id(s), "m/2", "three of five").await;
    }
    // One more dies: two holders are below the new threshold and sign nothing.
    cluster.kill_signer(2).unwrap();
    wait_linked_exactly(&client, 2).await;
    let m = message(SchemeId::Ed25519, "two of five");
    let session = client
        .sign(&op, &wallet_id(SchemeId::Ed25519), "m", &m)
        .await;
    let signed = session
        .as_ref()
        .map(|s| s.signature.is_some())
        .unwrap_or(false);
    assert!(!signed, "two holders of a 3-of-5 key signed: {session:?}");
}

/// Waits until `node`'s own audit log (verified through the coordinator) records that it left
/// `wallet`: the coordinator told the former holder after the commit.
async fn wait_told_it_left(client: &tessera_client::Client, node: &NodeId, wallet: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let export = client.signer_audit_export(node).await.unwrap().export;
        let told = export
            .lines()
            .any(|l| l.contains("\"left_wallet\"") && l.contains(&format!("\"{wallet}\"")));
        if told {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{node} was not told it left {wallet}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// `tessera wallet refresh --all --every`: each round refreshes every ready wallet; a wallet
/// whose holder is down fails and is reported while the others are refreshed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_refresh_renews_every_wallet_and_reports_failures() {
    use tessera_cli::refresh_schedule::{run_schedule, Selection};
    let mut cluster = signers("refresh-schedule", 4).await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let (nodes, _) = members(&cluster);
    let (a, b) = (
        wallet_id(SchemeId::SchnorrBip340),
        wallet_id(SchemeId::Ed25519),
    );
    create_wallets(&client, &op, &[SchemeId::SchnorrBip340], &nodes[..3]).await;
    let holders_b = vec![nodes[0], nodes[1], nodes[3]];
    create_wallets(&client, &op, &[SchemeId::Ed25519], &holders_b).await;
    let (before_a, before_b) = (wait_ready(&client, &a).await, wait_ready(&client, &b).await);

    let mut seen = Vec::new();
    let every = std::time::Duration::from_secs(1);
    let failed = run_schedule(&cluster.file, &Selection::All, every, Some(2), |r| {
        seen.push(
            r.iter()
                .map(|x| (x.wallet_id.clone(), x.result.clone()))
                .collect::<Vec<_>>(),
        )
    })
    .await
    .unwrap();
    assert_eq!(failed, 0);
    assert_eq!(seen.len(), 2);
    for (round, results) in seen.iter().enumerate() {
        let epoch = round as u32 + 1;
        assert_eq!(results.len(), 2, "{results:?}");
        assert!(results.contains(&(a.clone(), Ok(epoch))), "{results:?}");
        assert!(results.contains(&(b.clone(), Ok(epoch))), "{results:?}");
    }
    same_key(&before_a, &client.wallet(&a).await.unwrap());
    same_key(&before_b, &client.wallet(&b).await.unwrap());

    // Signer 3 (a holder of b only) is down: b fails and is reported, a is refreshed.
    cluster.kill_signer(3).unwrap();
    wait_linked_exactly(&client, 3).await;
    let mut last = Vec::new();
    let failed = run_schedule(&cluster.file, &Selection::All, every, Some(1), |r| {
        last = r
            .iter()
            .map(|x| (x.wallet_id.clone(), x.result.clone()))
            .collect()
    })
    .await
    .unwrap();
    assert_eq!(failed, 1, "{last:?}");
    assert!(last.contains(&(a.clone(), Ok(3))), "{last:?}");
    assert!(last.iter().any(|(w, r)| *w == b && r.is_err()), "{last:?}");
    assert_eq!(client.wallet(&b).await.unwrap().epoch, 2);
    sign_and_verify(
        &client,
        &op,
        SchemeId::SchnorrBip340,
        &a,
        "m/3",
        "scheduled",
    )
    .await;
    sign_and_verify(&client, &op, SchemeId::Ed25519, &b, "m/3", "b still signs").await;
}

/// `tessera incident quarantine` then `rotate`: once the admins' bundle names signer 2, the
/// coordinator leaves it out of every signature and refuses it a new share; rotating hands its
/// place in every wallet to signer 3 (same key, epoch up), after which the wallets sign
/// without it. (That the signers themselves refuse a session it takes part in is
/// `a_quarantined_signer_takes_part_in_nothing` in tessera-node's malicious-coordinator suite.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_signer_is_left_out_then_rotated_away() {
    use tessera_cli::incident::{quarantine, rotate};
    let cluster = signers("incident", 4).await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let (nodes, names) = members(&cluster);
    let schemes = [
        SchemeId::EcdsaDkls23,
        SchemeId::SchnorrBip340,
        SchemeId::Ed25519,
    ];
    create_wallets(&client, &op, &schemes, &nodes[..3]).await;
    let mut before = Vec::new();
    for s in schemes {
        before.push(wait_ready(&client, &wallet_id(s)).await);
    }

    let admin = cluster.file.admin().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (signed, _) = quarantine(&cluster.file, &names[2], false, &[admin], now)
        .await
        .unwrap();
    cluster
        .wait_policy(&client, signed.bundle.version, 4)
        .await
        .unwrap();
    for s in schemes {
        for i in 0..3 {
            let text = format!("quarantined {i}");
            let session = sign_and_verify(&client, &op, s, &wallet_id(s), "m/1", &text).await;
            let info = client.session(&session, None).await.unwrap();
            assert!(
                !info.participants.contains(&nodes[2]),
                "{}: the quarantined signer took part: {info:?}",
                s.name()
            );
        }
    }
    let refused = client
        .create_wallet(
            &op,
            "w-q",
            "q",
            SchemeId::Ed25519,
            2,
            nodes[1..].to_vec(),
            NETWORKS,
        )
        .await;
    let why = refused
        .expect_err("a quarantined signer got a new share")
        .to_string();
    assert!(why.contains("quarantined"), "{why}");

    let mut seen = Vec::new();
    let (results, total) = rotate(&cluster.file, &names[2], Some(&names[3]), |r| {
        seen.push(r.wallet_id.clone())
    })
    .await
    .unwrap();
    eprintln!(
        "rotated {} wallets in {:.2} s",
        results.len(),
        total.as_secs_f64()
    );
    assert_eq!(results.len(), schemes.len());
    assert_eq!(seen.len(), schemes.len());
    for (s, b) in schemes.iter().zip(&before) {
        let r = results
            .iter()
            .find(|r| r.wallet_id == wallet_id(*s))
            .unwrap();
        assert_eq!(r.result, Ok(1), "{}", s.name());
        let (after, vouched) = client.vouched_wallet(&wallet_id(*s)).await.unwrap();
        same_key(b, &after);
        assert_eq!(after.signers, vec![nodes[0], nodes[1], nodes[3]]);
        assert_eq!(vouched.by.len(), 3);
        sign_and_verify(&client, &op, *s, &wallet_id(*s), "m/2", "rotated").await;
    }
    // Nothing is left to rotate away from it.
    let (again, _) = rotate(&cluster.file, &names[2], Some(&names[3]), |_| {})
        .await
        .unwrap();
    assert!(again.is_empty());
}

/// Writes `text` to a fresh file in `dir` and returns its path.
fn key_file(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Imports the key in `file` (format `format`, optional path) as a 2-of-3 wallet of `s`.
async fn import(
    cluster: &LocalCluster,
    s: SchemeId,
    file: &std::path::Path,
    format: tessera_cli::import_key::KeyFormat,
    path: Option<&str>,
) -> WalletInfo {
    use tessera_cli::import::{read_key, run, ImportSpec, KeySource};
    let source = KeySource {
        file,
        format,
        passphrase_file: None,
        path,
    };
    let key = read_key(s, &source).unwrap_or_else(|e| panic!("{}: {e:#}", s.name()));
    let (nodes, _) = members(cluster);
    let spec = ImportSpec {
        wallet_id: format!("imported-{}", wallet_id(s)),
        scheme: s,
        threshold: 2,
        signers: nodes[..3].to_vec(),
        networks: NETWORKS.iter().map(|n| n.to_string()).collect(),
    };
    let (w, vouched) = run(&cluster.file, spec, key)
        .await
        .unwrap_or_else(|e| panic!("{} import: {e:#}", s.name()));
    assert_eq!(
        vouched.by.len(),
        3,
        "every holder attested the imported wallet"
    );
    w
}

/// Import for every scheme, each from another format: the wallet's key, derived keys and
/// addresses are the original key's as the chain libraries compute them (rust-bitcoin's
/// BIP-32 and addresses, the published BIP-86 vectors, ed25519-dalek and base58), and the
/// holders sign with it (verified by libsecp256k1 / ed25519-dalek).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_key_keeps_its_addresses_and_signs() {
    use bitcoin::bip32::{DerivationPath, Xpriv};
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use std::str::FromStr;
    use tessera_cli::import_key::KeyFormat;
    let cluster = signers("import", 3).await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let dir = test_dir("import-keys");
    std::fs::create_dir_all(&dir).unwrap();
    let secp = Secp256k1::new();
    let wallet_address = |w: &WalletInfo, key: &tessera_crypto::PublicKey, chain, net| {
        tessera_cli::vouch::address(w, key, chain, net).unwrap()
    };

    // DKLs23 from a WIF: the wallet's key and P2WPKH address are the WIF's.
    let mut b = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    let sk = SecretKey::from_slice(&b).unwrap();
    let wif = bitcoin::PrivateKey::new(sk, bitcoin::Network::Regtest);
    let file = key_file(&dir, "wif", &wif.to_wif());
    let w = import(&cluster, SchemeId::EcdsaDkls23, &file, KeyFormat::Wif, None).await;
    let pk = bitcoin::CompressedPublicKey::from_private_key(&secp, &wif).unwrap();
    let root = client.derive(&w.wallet_id, "m").await.unwrap().public_key;
    assert_eq!(
        root.as_bytes(),
        pk.to_bytes().as_slice(),
        "dkls23: the WIF's key"
    );
    let expected = bitcoin::Address::p2wpkh(&pk, bitcoin::Network::Regtest).to_string();
    assert_eq!(wallet_address(&w, &root, "bitcoin", "regtest"), expected);

    // cggmp24 from a tprv along a hardened BIP-84 account path: every non-hardened child is
    // the one rust-bitcoin derives from the original key.
    let master = Xpriv::new_master(bitcoin::NetworkKind::Test, &[7u8; 32]).unwrap();
    let file = key_file(&dir, "tprv", &master.to_string());
    let account = "m/84'/1'/0'";
    let w = import(
        &cluster,
        SchemeId::EcdsaCggmp24,
        &file,
        KeyFormat::Xprv,
        Some(account),
    )
    .await;
    let child = master
        .derive_priv(&secp, &DerivationPath::from_str("m/84'/1'/0'/0/5").unwrap())
        .unwrap()
        .to_priv();
    let child = bitcoin::CompressedPublicKey::from_private_key(&secp, &child).unwrap();
    let derived = client
        .derive(&w.wallet_id, "m/0/5")
        .await
        .unwrap()
        .public_key;
    assert_eq!(
        derived.as_bytes(),
        child.to_bytes().as_slice(),
        "cggmp24: m/0/5"
    );

    // BIP-340 from the BIP-86 test mnemonic: account m/86'/0'/0', then 0/0 and 0/1 are the
    // published internal and output keys.
    let words = ["abandon"; 11].join(" ") + " about";
    let file = key_file(&dir, "mnemonic", &words);
    let w = import(
        &cluster,
        SchemeId::SchnorrBip340,
        &file,
        KeyFormat::Mnemonic,
        Some("m/86'/0'/0'"),
    )
    .await;
    for (path, internal, output) in [
        (
            "m/0/0",
            "cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115",
            "a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c",
        ),
        (
            "m/0/1",
            "83dfe85a3151d2517290da461fe2815591ef69f2b18a2ce63f01697a8b313145",
            "a82f29944d65b86ae6b5e5cc75e294ead6c59391a1edc5e016e3498c67fc7bbb",
        ),
    ] {
        let d = client.derive(&w.wallet_id, path).await.unwrap();
        assert_eq!(
            hex::encode(d.public_key.x_only().unwrap()),
            internal,
            "{path}"
        );
        assert_eq!(d.taproot_output_key.as_deref(), Some(output), "{path}");
    }

    // Ed25519 from a Solana keypair file: the wallet's address is the keypair's.
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    let sk = ed25519_dalek::SigningKey::from_bytes(&b);
    let mut pair = sk.to_bytes().to_vec();
    pair.extend_from_slice(&sk.verifying_key().to_bytes());
    let file = key_file(&dir, "solana.json", &serde_json::to_string(&pair).unwrap());
    let w = import(
        &cluster,
        SchemeId::Ed25519,
        &file,
        KeyFormat::SolanaKeypair,
        None,
    )
    .await;
    let root = client.derive(&w.wallet_id, "m").await.unwrap().public_key;
    assert_eq!(root.as_bytes(), sk.verifying_key().as_bytes());
    let expected = bs58::encode(sk.verifying_key().as_bytes()).into_string();
    assert_eq!(wallet_address(&w, &root, "solana", "devnet"), expected);

    for s in SchemeId::ALL {
        let id = format!("imported-{}", wallet_id(s));
        sign_and_verify(&client, &op, s, &id, "m", "imported").await;
        sign_and_verify(&client, &op, s, &id, "m/0/1", "imported child").await;
    }
    // Importing into an existing wallet id is refused.
    let again = key_file(&dir, "again", &wif.to_wif());
    let key = tessera_cli::import::read_key(
        SchemeId::EcdsaDkls23,
        &tessera_cli::import::KeySource {
            file: &again,
            format: KeyFormat::Wif,
            passphrase_file: None,
            path: None,
        },
    )
    .unwrap();
    let spec = tessera_cli::import::ImportSpec {
        wallet_id: format!("imported-{}", wallet_id(SchemeId::EcdsaDkls23)),
        scheme: SchemeId::EcdsaDkls23,
        threshold: 2,
        signers: members(&cluster).0,
        networks: NETWORKS.iter().map(|n| n.to_string()).collect(),
    };
    let err = tessera_cli::import::run(&cluster.file, spec, key)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("exists"), "{err:#}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Under a policy that holds reshares for two approvers, a refresh sent without approvals or
/// with one is refused (`policy_denied`); prepared into a file (`--prepare`), approved by both
/// approvers (`tessera key-op approve`) and submitted, it commits, and the wallet signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reshare_the_policy_holds_for_approvers_runs_only_with_their_quorum() {
    use tessera_cli::keyop;
    use tessera_cli::reshare::Change;
    use tessera_policy::{ApprovalDecision, SecretKey};
    let cluster = signers("held", 3).await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let (nodes, _) = members(&cluster);
    let s = SchemeId::Ed25519;
    create_wallets(&client, &op, &[s], &nodes).await;
    let id = wallet_id(s);
    wait_ready(&client, &id).await;

    // Policy 2: reshare_wallet needs two approvers.
    let admin = cluster.file.admin().unwrap();
    let first = cluster.file.approver().unwrap();
    let second = SecretKey::generate(&mut rand_core::OsRng);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut v2 = tessera_cli::governance::local_dev_bundle(
        2,
        tessera_policy::PublicKey(op.public().0),
        first.public(),
        admin.public(),
        now,
    )
    .unwrap();
    v2.roles
        .get_mut("approver")
        .unwrap()
        .insert(second.public());
    let listed = "    Tessera::Action::\"reshare_wallet\",\n";
    assert!(v2.policies.contains(listed));
    v2.policies = v2.policies.replace(listed, "")
        + r#"
@id("reshare-needs-two")
@approvals("approver:2")
permit (
  principal in Tessera::Role::"operator",
  action == Tessera::Action::"reshare_wallet",
  resource
);
"#;
    let signed = tessera_cli::governance::sign_bundle(v2, &[admin]);
    client.put_policy(&signed).await.unwrap();
    cluster.wait_policy(&client, 2, 3).await.unwrap();

    let held = |e: anyhow::Error| {
        let text = format!("{e:#}");
        assert!(text.contains("needs approvals"), "{text}");
    };
    held(
        run(&cluster.file, &id, &Change::Refresh, true)
            .await
            .unwrap_err(),
    );
    let dir = test_dir("held-ops");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("refresh.json");
    let prepared = keyop::prepare_reshare(&cluster.file, &id, &Change::Refresh)
        .await
        .unwrap();
    keyop::save_new(&path, &prepared).unwrap();
    assert!(
        keyop::save_new(&path, &prepared).is_err(),
        "never overwritten"
    );
    keyop::approve(&cluster.file, &path, &first, ApprovalDecision::Approve, 1)
        .await
        .unwrap();
    held(
        keyop::submit(&cluster.file, &keyop::load(&path).unwrap(), true)
            .await
            .unwrap_err(),
    );
    let op2 = keyop::approve(&cluster.file, &path, &second, ApprovalDecision::Approve, 1)
        .await
        .unwrap();
    assert_eq!(op2.approvals().len(), 2);
    keyop::submit(&cluster.file, &op2, true).await.unwrap();
    let (after, vouched) = client.vouched_wallet(&id).await.unwrap();
    assert_eq!(after.epoch, 1);
    assert_eq!(vouched.by.len(), 3);
    sign_and_verify(&client, &op, s, &id, "m/1", "after an approved refresh").await;
    std::fs::remove_dir_all(&dir).ok();
}

/// `tessera wallet retire`: every holder retires the wallet, the coordinator records it as
/// retired, signing requests are refused and the presignature pool is emptied and no longer
/// refilled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_wallet_signs_nothing() {
    let cluster = signers("retire", 3).await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let (nodes, _) = members(&cluster);
    let s = SchemeId::Ed25519;
    create_wallets(&client, &op, &[s], &nodes).await;
    let id = wallet_id(s);
    wait_ready(&client, &id).await;
    wait_pool(&client, &id, 1).await;
    sign_and_verify(&client, &op, s, &id, "m", "before").await;
    let retire = client
        .prepare_retire(&op, &id, tessera_client::PREPARED_TTL_SECS)
        .await
        .unwrap();
    let line = tessera_cli::keyop::submit(&cluster.file, &retire, true)
        .await
        .unwrap();
    assert!(line.contains("retired"), "{line}");
    let w = client.wallet(&id).await.unwrap();
    assert_eq!(w.status, tessera_proto::api::WalletStatus::Retired);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(client.wallet(&id).await.unwrap().pool, 0, "no refill");
    let m = message(s, "after");
    let err = client.sign(&op, &id, "m", &m).await.unwrap_err();
    assert!(err.to_string().contains("Retired"), "{err}");
}

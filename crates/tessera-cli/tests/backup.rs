//! `tessera backup`: a signer's backups verify only with a recipient's identity and only
//! unaltered; a signer wiped and restored from its backups on a "new machine" signs with the
//! others in a wallet of every scheme (real processes, independent verifiers).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use tessera_crypto::SchemeId;

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `backup keygen`: writes the identity, prints its recipient key.
fn keygen(path: &Path) -> String {
    ok(tessera(&["backup", "keygen", "--out", s(path)]))
        .trim()
        .to_string()
}

/// The vault id signer `node` last reported ("" before its first status).
async fn vault_id(client: &tessera_client::Client, node: tessera_wire::NodeId) -> String {
    client
        .signers()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.node_id == node && s.connected)
        .and_then(|s| s.status)
        .map(|s| s.vault_id)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_signer_restored_from_its_backups_signs_with_the_others() {
    let mut cluster = cluster("backup", "info").await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let signers: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    for scheme in SchemeId::ALL {
        let id = wallet_id(scheme);
        client
            .create_wallet(&op, &id, "backup", scheme, 2, signers.clone(), NETWORKS)
            .await
            .unwrap();
    }
    for scheme in SchemeId::ALL {
        let id = wallet_id(scheme);
        wait_ready(&client, &id).await;
        sign_and_verify(&client, &op, scheme, &id, "m/1", "before the backup").await;
    }
    let scheme = SchemeId::EcdsaDkls23;
    let id = wallet_id(scheme);
    let key = client.wallet(&id).await.unwrap().public_key.unwrap();

    let work = cluster.dir.join("backup-work");
    std::fs::create_dir_all(&work).unwrap();
    let officer = work.join("officer.key");
    let stranger = work.join("stranger.key");
    let recipient = keygen(&officer);
    keygen(&stranger);
    assert_eq!(recipient.len(), 64);

    // Backup of signer 1 (stopped: the running daemon holds its vault).
    let old_vault = vault_id(&client, signers[0]).await;
    assert!(!old_vault.is_empty());
    cluster.kill_signer(0).unwrap();
    let sdir = cluster.file.signers[0].dir.clone();
    let out_dir = work.join("backups");
    let files: Vec<PathBuf> = ok(tessera(&[
        "backup",
        "create",
        "--dir",
        s(&sdir),
        "--key-file",
        s(&sdir.join("vault.key")),
        "--recipient",
        &recipient,
        "--out-dir",
        s(&out_dir),
    ]))
    .lines()
    .map(PathBuf::from)
    .collect();
    // The signer backup, then one share backup per wallet.
    assert_eq!(files.len(), 1 + SchemeId::ALL.len(), "{files:?}");
    let signer_file = files[0].clone();
    let share_files = files[1..].to_vec();
    let share_file = share_files
        .iter()
        .find(|f| s(f).contains(&id))
        .unwrap()
        .clone();
    assert!(s(&share_file).contains("epoch0-party0"), "{share_file:?}");

    // Verify: OK with the officer's identity, naming the wallet, epoch and group key ...
    let text = ok(tessera(&[
        "backup",
        "verify",
        s(&signer_file),
        s(&share_file),
        "--identity",
        s(&officer),
    ]));
    assert!(text.contains("signer backup OK"), "{text}");
    assert!(
        text.contains(&format!(
            "wallet {id} (ecdsa-secp256k1/dkls23, 2-of-3), party 0, epoch 0"
        )),
        "{text}"
    );
    assert!(text.contains(&key.to_hex()), "{text}");
    // ... refused with another identity, and once a header field is altered.
    let out = tessera(&[
        "backup",
        "verify",
        s(&share_file),
        "--identity",
        s(&stranger),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("not encrypted to any of the given identities"));
    let tampered = work.join("tampered.json");
    let json = std::fs::read_to_string(&share_file).unwrap();
    std::fs::write(&tampered, json.replace("\"epoch\": 0", "\"epoch\": 1")).unwrap();
    let out = tessera(&["backup", "verify", s(&tampered), "--identity", s(&officer)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not decrypt"));

    // The vendor exit: the DKLs23 share backup as an open document (docs/export-format.md):
    // party 0's Shamir share at x = 1, which libsecp256k1 maps to its verification share.
    let export_dir = work.join("export");
    let out = tessera(&[
        "export",
        "--backup",
        s(&share_file),
        "--identity",
        s(&stranger),
        "--out-dir",
        s(&export_dir),
    ]);
    assert!(!out.status.success(), "exported with a stranger's identity");
    let listed = ok(tessera(&[
        "export",
        "--backup",
        s(&share_file),
        "--identity",
        s(&officer),
        "--out-dir",
        s(&export_dir),
    ]));
    let doc_path = PathBuf::from(listed.trim());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&doc_path).unwrap()).unwrap();
    assert_eq!(doc["format"], "tessera-share-export/v1");
    assert_eq!(doc["wallet_id"], id.as_str());
    assert_eq!(doc["group_public_key"], key.to_hex());
    assert_eq!(
        (doc["party_index"].as_u64(), doc["x"].as_u64()),
        (Some(0), Some(1))
    );
    let share = hex::decode(doc["secret_share"].as_str().unwrap()).unwrap();
    let sk = secp256k1::SecretKey::from_slice(&share).unwrap();
    let point = secp256k1::PublicKey::from_secret_key(&secp256k1::Secp256k1::new(), &sk);
    assert_eq!(
        hex::encode(point.serialize()),
        doc["verification_shares"][0].as_str().unwrap()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&doc_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The machine is lost: its directory wiped. A new one gets a new vault key and the backups.
    std::fs::remove_dir_all(&sdir).unwrap();
    std::fs::create_dir_all(&sdir).unwrap();
    tessera_vault::generate_key_file(&sdir.join("vault.key")).unwrap();
    // A share backup is not enough without the signer backup, and a share of another wallet
    // or node is refused: restore takes the signer backup first.
    let out = tessera(&[
        "backup",
        "restore",
        "--dir",
        s(&sdir),
        "--key-file",
        s(&sdir.join("vault.key")),
        "--identity",
        s(&officer),
        "--signer-backup",
        s(&share_file),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a signer backup"));
    let vault_key = sdir.join("vault.key");
    let mut args = vec![
        "backup",
        "restore",
        "--dir",
        s(&sdir),
        "--key-file",
        s(&vault_key),
        "--identity",
        s(&officer),
        "--signer-backup",
        s(&signer_file),
    ];
    for f in &share_files {
        args.extend(["--backup", s(f)]);
    }
    let text = ok(tessera(&args));
    for scheme in SchemeId::ALL {
        let w = wallet_id(scheme);
        assert!(
            text.contains(&format!("wallet {w} party 0 epoch 0")),
            "{text}"
        );
    }

    // The restored signer links again; with signer 2 down, it signs with signer 3, at the
    // root and at a derived key, verified by an independent verifier.
    cluster.start_signer(0).unwrap();
    wait_linked_exactly(&client, 3).await;
    // It reports a new vault: the coordinator drops the pooled presignatures it was part of
    // (the new vault has none of them), so the schnorr, ed25519 and cggmp24 signatures below
    // do not start on one it lost.
    let start = std::time::Instant::now();
    while vault_id(&client, signers[0]).await == old_vault {
        assert!(
            start.elapsed().as_secs() < 30,
            "no status from the restored signer"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    cluster.kill_signer(1).unwrap();
    wait_linked_exactly(&client, 2).await;
    for scheme in SchemeId::ALL {
        let id = wallet_id(scheme);
        for path in ["m", "m/1"] {
            let sid = sign_and_verify(&client, &op, scheme, &id, path, "after the restore").await;
            let session = client.session(&sid, None).await.unwrap();
            assert!(
                session.participants.contains(&signers[0]),
                "{}",
                scheme.name()
            );
        }
    }
    cluster.stop();
}

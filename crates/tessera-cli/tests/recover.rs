//! `tessera recover` (offline): a quorum of share backups gives the wallet's key as a BIP-32
//! xprv from which rust-bitcoin derives the wallet's own child keys and addresses, and which
//! signs an Ethereum transaction the chain's verifier accepts; mixed epochs, mixed wallets,
//! duplicate parties and too few backups are refused before anything is decrypted.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;

use serde_json::json;
use tessera_backup::{seal, BackupIdentity, Header, Kind, SharePayload, ShareTag};
use tessera_chain::conformance::TestKey;
use tessera_chain::WalletKey;
use tessera_crypto::{
    hd, scheme, sim, DerivationPath, KeyShare, KeygenInput, PublicKey, SchemeId, SessionId,
    ThresholdParams,
};
use tessera_wire::{IdentityKey, NodeId};

fn keygen(id: SchemeId) -> Vec<KeyShare> {
    let sid = SessionId::random(&mut rand_core::OsRng);
    let params = ThresholdParams::new(2, 3).unwrap();
    let sessions = (0..3)
        .map(|me| {
            scheme(id)
                .keygen(KeygenInput {
                    sid,
                    me,
                    params,
                    aux: None,
                })
                .unwrap()
        })
        .collect();
    sim::run(sessions).unwrap()
}

/// Writes party `i`'s share backup (tagged `wallet`, `epoch`) to the officer; returns its path.
fn backup(
    dir: &Path,
    shares: &[KeyShare],
    i: usize,
    wallet: &str,
    epoch: u32,
    to: &BackupIdentity,
) -> PathBuf {
    let roster: Vec<NodeId> = (0..3)
        .map(|_| {
            IdentityKey::generate(&mut rand_core::OsRng)
                .public()
                .node_id()
        })
        .collect();
    let share = &shares[i];
    let tag = ShareTag {
        wallet_id: wallet.into(),
        scheme: share.scheme(),
        threshold: 2,
        n: 3,
        index: share.index(),
        epoch,
        public_key: share.public_key().clone(),
        chain_code: share.chain_code(),
    };
    let payload = SharePayload {
        share: share.to_bytes(),
        public_info: json!({ "index": share.index(), "roster": roster }).to_string(),
        aux: None,
    };
    let header = Header {
        kind: Kind::Share,
        node_id: roster[i],
        created_at: 1,
        share: Some(tag),
    };
    let b = seal(header, &payload.to_json(), &[to.recipient()]).unwrap();
    let path = dir.join(format!("{wallet}-e{epoch}-p{i}.json"));
    std::fs::write(&path, b.to_json()).unwrap();
    path
}

fn recover(backups: &[&Path], identity: &Path, out: &Path, audit: &Path) -> Output {
    let mut args = vec!["recover".to_string()];
    for b in backups {
        args.extend(["--backup".into(), b.display().to_string()]);
    }
    args.extend([
        "--identity".into(),
        identity.display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--audit-log".into(),
        audit.display().to_string(),
    ]);
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(&args)
        .output()
        .unwrap()
}

#[test]
fn a_quorum_recovers_an_xprv_that_derives_the_wallets_addresses_and_signs() {
    let dir = std::env::temp_dir().join(format!("tessera-recover-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let officer = BackupIdentity::generate();
    let id_file = dir.join("officer.key");
    std::fs::write(&id_file, officer.to_text().as_bytes()).unwrap();
    let s = SchemeId::EcdsaDkls23;
    let shares = keygen(s);
    let other = keygen(s);
    let b0 = backup(&dir, &shares, 0, "w", 0, &officer);
    let b2 = backup(&dir, &shares, 2, "w", 0, &officer);
    let audit = dir.join("recover-audit.db");

    // Refused on the headers: mixed epochs, mixed wallets, a party twice, fewer than t.
    let b1_epoch1 = backup(&dir, &shares, 1, "w", 1, &officer);
    let b1_other = backup(&dir, &other, 1, "v", 0, &officer);
    for (set, expect) in [
        (vec![&b0, &b1_epoch1], "different epochs (0 and 1)"),
        (vec![&b0, &b1_other], "different wallets (w and v)"),
        (vec![&b0, &b0], "two backups of party 0"),
        (vec![&b0], "1 backups, the wallet's threshold is 2"),
    ] {
        let set: Vec<&Path> = set.iter().map(|p| p.as_path()).collect();
        let out = recover(&set, &id_file, &dir.join("never.json"), &audit);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(expect),
            "{expect}: {err}"
        );
        assert!(!dir.join("never.json").exists());
    }

    let key_file = dir.join("key.json");
    let out = recover(&[&b0, &b2], &id_file, &key_file, &audit);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("WARNING") && err.contains("WHOLE private key"),
        "{err}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(audit.exists());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    assert_eq!(v["public_key"], shares[0].public_key().to_hex());
    assert_eq!(v["parties"], json!([0, 2]));

    // rust-bitcoin's BIP-32 derives, from the xprv, the child keys Tessera derives from the
    // group key and chain code, hence the same addresses.
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let xprv = bitcoin::bip32::Xpriv::from_str(v["xprv"].as_str().unwrap()).unwrap();
    let path = "m/0/1";
    let child = xprv
        .derive_priv(
            &secp,
            &bitcoin::bip32::DerivationPath::from_str(path).unwrap(),
        )
        .unwrap();
    let ours = hd::derive_public_key(
        shares[0].public_key(),
        &shares[0].chain_code(),
        &DerivationPath::parse(path).unwrap(),
    )
    .unwrap();
    assert_eq!(
        ours,
        PublicKey::Secp256k1(child.private_key.public_key(&secp).serialize())
    );
    let registry = tessera_chains::registry();
    let eth = registry.get("ethereum").unwrap();
    let wallet_key = WalletKey {
        scheme: s,
        public_key: &ours,
    };
    let recovered = TestKey::from_seed(s, child.private_key.secret_bytes());
    assert_eq!(
        eth.address("mainnet", recovered.wallet_key()).unwrap(),
        eth.address("mainnet", wallet_key).unwrap()
    );

    // The recovered child key signs an EIP-1559 transfer from the wallet's address, and the
    // adapter's independent verifier (sender recovery with libsecp256k1) accepts it.
    let spec = json!({
        "type": "eip1559", "nonce": 0, "to": "0x000000000000000000000000000000000000dEaD",
        "value_wei": "1000", "gas_limit": 21000,
        "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1000000000"
    });
    let payload = eth.build("mainnet", wallet_key, &spec).unwrap();
    let parsed = eth.parse("mainnet", wallet_key, &payload).unwrap();
    let sigs: Vec<_> = parsed.messages.iter().map(|m| recovered.sign(m)).collect();
    let signed = eth
        .finalize("mainnet", wallet_key, &payload, &sigs)
        .unwrap();
    eth.verify("mainnet", wallet_key, &payload, &signed)
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

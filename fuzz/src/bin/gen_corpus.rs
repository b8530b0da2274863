//! Writes the seed corpora `fuzz/corpus/<target>/` from the fixtures and the crates' own
//! builders, sealers and test vectors. Deterministic except where an API draws its own
//! randomness (HPKE in backups, the vault's key and nonces, key generation), which only
//! changes bytes, not what a seed exercises.
//!
//! Built with the fuzz targets (`cargo fuzz build`); run it as
//! `fuzz/target/x86_64-unknown-linux-gnu/release/gen_corpus [fuzz/corpus]` (see
//! docs/fuzzing.md). Its own `main` wins over libFuzzer's, which is never linked in.
use std::path::{Path, PathBuf};

// Links libFuzzer's runtime for the coverage callbacks the instrumented code calls; this
// binary's own `main` is used, so libFuzzer never starts.
use libfuzzer_sys as _;

use serde_json::json;
use tessera_chain::{ChainAdapter, SchemeId};
use tessera_crypto::{sim, KeygenInput, SessionId, ThresholdParams};
use tessera_fuzz::*;

const NOW: u64 = 1_700_000_000;

struct Out {
    root: PathBuf,
}

impl Out {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        std::fs::write(dir.join(name), bytes).expect("write seed");
    }
    fn sel(&self, target: &str, name: &str, sel: u8, bytes: &[u8]) {
        let mut v = vec![sel];
        v.extend_from_slice(bytes);
        self.put(target, name, &v);
    }
}

fn bitcoin(out: &Out) {
    use bitcoin::{absolute::LockTime, transaction::Version, Amount, TxIn, TxOut};
    let btc = tessera_chain_bitcoin::Bitcoin;
    let pk = secp_key();
    for (sel, scheme) in [(0u8, SchemeId::EcdsaDkls23), (1, SchemeId::SchnorrBip340)] {
        let key = wallet(scheme, &pk);
        let me = btc.address("regtest", key).expect("address").address;
        let mine: bitcoin::Address<_> = me.parse().expect("address parses");
        let pays = |sat| TxOut {
            value: Amount::from_sat(sat),
            script_pubkey: mine.clone().assume_checked().script_pubkey(),
        };
        let prev = bitcoin::Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn::default()],
            output: vec![pays(5000), pays(100_000)],
        };
        let txid = prev.compute_txid().to_string();
        let prev_hex = bitcoin::consensus::encode::serialize_hex(&prev);
        let specs = [
            json!({"inputs": [{"txid": txid, "vout": 1, "amount_sat": 100000, "prev_tx_hex": prev_hex}],
                   "outputs": [{"address": "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "amount_sat": 90000},
                               {"address": me, "amount_sat": 8590}]}),
            json!({"inputs": [{"txid": txid, "vout": 0, "amount_sat": 5000, "prev_tx_hex": prev_hex},
                              {"txid": txid, "vout": 1, "amount_sat": 100000, "prev_tx_hex": prev_hex}],
                   "outputs": [{"script_hex": "6a0b68656c6c6f20776f726c64", "amount_sat": 0},
                               {"address": me, "amount_sat": 100000}],
                   "locktime": 800000, "rbf": false}),
        ];
        for (i, spec) in specs.iter().enumerate() {
            let p = btc.build("regtest", key, spec).expect("bitcoin build");
            out.sel(
                "psbt",
                &format!("{}-{i}", scheme.to_string().replace('/', "-")),
                sel,
                &p.bytes,
            );
        }
    }
}

fn ethereum(out: &Out) {
    let eth = tessera_chain_ethereum::Ethereum;
    let pk = secp_key();
    let key = wallet(SchemeId::EcdsaDkls23, &pk);
    let me = eth.address("mainnet", key).expect("address").address;
    let usdc = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";
    let other = "0x8617E340B3D01FA5F11F306F4090FD50E238070D";
    let txs = [
        (
            "erc20",
            json!({"type": "eip1559", "nonce": 7, "gas_limit": 65000,
            "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1000000000",
            "erc20_transfer": {"token": usdc, "to": other, "amount": "1500000"}}),
        ),
        (
            "value",
            json!({"type": "eip1559", "nonce": 0, "gas_limit": 21000, "to": other,
            "value_wei": "1000000000000000000", "max_fee_per_gas_wei": "30000000000",
            "max_priority_fee_per_gas_wei": "1000000000"}),
        ),
        // approve(other, 2^256-1): an unlimited allowance.
        (
            "approve",
            json!({"type": "eip1559", "nonce": 1, "gas_limit": 60000, "to": usdc,
            "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1000000000",
            "data": format!("0x095ea7b3{:0>64}{}", &other[2..].to_lowercase(), "f".repeat(64))}),
        ),
        // transferOwnership(other): an authority change.
        (
            "ownership",
            json!({"type": "eip1559", "nonce": 2, "gas_limit": 60000, "to": usdc,
            "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1000000000",
            "data": format!("0xf2fde38b{:0>64}", &other[2..].to_lowercase())}),
        ),
        (
            "deploy",
            json!({"type": "eip1559", "nonce": 3, "gas_limit": 500000, "to": null,
            "max_fee_per_gas_wei": "30000000000", "max_priority_fee_per_gas_wei": "1000000000",
            "data": "0x6080604052"}),
        ),
        (
            "legacy",
            json!({"type": "eip155", "nonce": 9, "gas_limit": 21000, "to": other,
            "value_wei": "5", "gas_price_wei": "20000000000"}),
        ),
    ];
    for (name, spec) in txs {
        let p = eth.build("mainnet", key, &spec).expect("ethereum build");
        let sel = if p.format == "eip1559" { 0 } else { 1 };
        out.sel("eth_tx", name, sel, &p.bytes);
    }
    let domain = json!({"name": "USD Coin", "version": "2", "chainId": 1,
                        "verifyingContract": usdc});
    let permit = json!({
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "Permit": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
                       {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
                       {"name": "deadline", "type": "uint256"}]
        },
        "primaryType": "Permit",
        "domain": domain,
        "message": {"owner": me, "spender": other, "value": "1000000", "nonce": 0, "deadline": 1800000000}
    });
    let mail = json!({
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
            "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
            "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person[]"},
                     {"name": "contents", "type": "string"}, {"name": "tags", "type": "bytes32[2]"}]
        },
        "primaryType": "Mail",
        "domain": {"name": "Ether Mail", "chainId": 1},
        "message": {"from": {"name": "Cow", "wallet": me},
                    "to": [{"name": "Bob", "wallet": other}],
                    "contents": "Hello, Bob!",
                    "tags": [format!("0x{}", "11".repeat(32)), format!("0x{}", "22".repeat(32))]}
    });
    for (name, td) in [("permit", permit), ("mail", mail)] {
        let spec = json!({"type": "eip712", "typed_data": td});
        match eth.build("mainnet", key, &spec) {
            Ok(p) => out.sel("eth_eip712", name, 0, &p.bytes),
            Err(e) => {
                eprintln!("eip712 seed {name} refused ({e}); writing it raw");
                out.sel("eth_eip712", name, 0, td.to_string().as_bytes());
            }
        }
    }
    out.sel(
        "eth_eip712",
        "personal-text",
        1,
        b"Sign in to example.org\nNonce: 42",
    );
    out.sel("eth_eip712", "personal-hash", 1, &[0xab; 32]);
}

fn solana(out: &Out) {
    let sol = tessera_chain_solana::Solana;
    let pk = ed_key();
    let key = wallet(SchemeId::Ed25519, &pk);
    let other = sol
        .address(
            "devnet",
            wallet(
                SchemeId::Ed25519,
                &tessera_chain::PublicKey::Ed25519([3; 32]),
            ),
        )
        .expect("address")
        .address;
    let specs = [
        (
            "sol",
            json!({"recent_blockhash": "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N",
                      "transfers": [{"to": other, "lamports": 1000000}]}),
        ),
        (
            "usdc-ata",
            json!({"recent_blockhash": "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N",
            "token_transfers": [{"mint": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
                                 "to_owner": other, "amount": "1500000", "decimals": 6,
                                 "create_ata": true}],
            "compute_unit_limit": 200000, "compute_unit_price_micro_lamports": 1000}),
        ),
        (
            "token2022",
            json!({"recent_blockhash": "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N",
            "transfers": [{"to": other, "lamports": "5"}],
            "token_transfers": [{"mint": "So11111111111111111111111111111111111111112",
                                 "to_owner": other, "amount": 7, "decimals": 9,
                                 "token_program": "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"}]}),
        ),
    ];
    for (name, spec) in specs {
        let p = sol.build("mainnet-beta", key, &spec).expect("solana build");
        out.sel("solana_message", name, 0, &p.bytes);
    }
}

fn wire(out: &Out) {
    use tessera_crypto::Message;
    let mut rng = FixedRng(1);
    let sender = identity(0);
    let bcast = Message {
        session: SessionId(SESSION),
        round: 1,
        from: 0,
        to: None,
        payload: b"round one broadcast".to_vec(),
    };
    let env = tessera_wire::seal(&sender, &bcast, None, &mut rng).expect("seal");
    out.put("wire_envelope", "broadcast", &env.to_bytes());
    let p2p = Message {
        to: Some(1),
        round: 2,
        payload: vec![0x42; 100],
        ..bcast.clone()
    };
    let env =
        tessera_wire::seal(&sender, &p2p, Some(&identity(1).public()), &mut rng).expect("seal");
    out.put("wire_envelope", "p2p", &env.to_bytes());
    let other = tessera_wire::seal(
        &identity(2),
        &Message { from: 2, ..p2p },
        Some(&identity(1).public()),
        &mut rng,
    )
    .expect("seal");
    out.put("wire_envelope", "p2p-from-2", &other.to_bytes());

    use tessera_proto::link::{encode, FromSigner, SignerStatus, ToSigner};
    let frames = [
        (
            "challenge",
            encode(&ToSigner::Challenge {
                nonce: [1; 32],
                coordinator: "coord-1".into(),
            }),
        ),
        ("welcome", encode(&ToSigner::Welcome)),
        (
            "envelope",
            encode(&ToSigner::Envelope {
                session: SESSION,
                bytes: env.to_bytes(),
            }),
        ),
        (
            "policy",
            encode(&ToSigner::Policy {
                bundle: b"{}".to_vec(),
            }),
        ),
        (
            "abort",
            encode(&ToSigner::Abort {
                session: SESSION,
                reason: "timeout".into(),
            }),
        ),
        (
            "audit-page",
            encode(&ToSigner::AuditPage {
                request: 1,
                from_seq: 1,
                limit: 100,
                challenge: [2; 32],
            }),
        ),
    ];
    for (name, f) in frames {
        out.sel("link_frame", name, 0, &f);
    }
    let status = SignerStatus {
        version: "0.1.0".into(),
        wallets: 2,
        mode: "normal".into(),
        policy_version: 3,
        vault_id: "ab".repeat(16),
        ..SignerStatus::default()
    };
    out.sel(
        "link_frame",
        "status",
        1,
        &encode(&FromSigner::Status(status)),
    );
}

fn api(out: &Out) {
    use tessera_policy::{Approval, ApprovalDecision};
    use tessera_wire::{Action, Authorization, AuthorizedMessage, OperatorKey};
    let mut kb = b"TSOP\x01".to_vec();
    kb.extend_from_slice(&[0x77; 32]);
    let op = OperatorKey::from_bytes(&kb).expect("operator key");
    let signers: Vec<_> = (0..3).map(|i| identity(i).node_id()).collect();
    let keygen = Authorization::sign(
        &op,
        "req-keygen".into(),
        Action::Keygen {
            wallet_id: "w1".into(),
            scheme: SchemeId::EcdsaDkls23,
            threshold: 2,
            signers: signers.clone(),
            networks: vec!["ethereum:mainnet".into()],
        },
        NOW + 600,
    );
    let create = json!({"wallet_id": "w1", "name": "Treasury", "scheme": "ecdsa-secp256k1/dkls23",
                        "threshold": 2, "signers": signers, "networks": ["ethereum:mainnet"],
                        "authorization": keygen});
    out.sel(
        "api_request",
        "create-wallet",
        1,
        create.to_string().as_bytes(),
    );
    let enroll = json!({"name": "signer-0", "identity": identity(0).signed_identity()});
    out.sel("api_request", "enroll", 0, enroll.to_string().as_bytes());
    let reshare = Authorization::sign(
        &op,
        "req-reshare".into(),
        Action::Reshare {
            wallet_id: "w1".into(),
            epoch: 1,
            threshold: 2,
            signers: signers.clone(),
            dealers: vec![(0, 0), (1, 1)],
        },
        NOW + 600,
    );
    let body = json!({"threshold": 2, "signers": signers, "dealers": [[0, 0], [1, 1]], "authorization": reshare});
    out.sel("api_request", "reshare", 2, body.to_string().as_bytes());
    let retire = Authorization::sign(
        &op,
        "req-retire".into(),
        Action::Retire {
            wallet_id: "w1".into(),
            epoch: 1,
        },
        NOW + 600,
    );
    out.sel(
        "api_request",
        "retire",
        3,
        json!({"authorization": retire}).to_string().as_bytes(),
    );
    let sign = Authorization::sign(
        &op,
        "req-sign".into(),
        Action::Sign {
            wallet_id: "w1".into(),
            path: "m/0/1".into(),
            messages: vec![AuthorizedMessage::Preimage {
                hash: tessera_crypto::MessageHash::Sha256,
                digest: [5; 32],
            }],
        },
        NOW + 600,
    );
    let body = json!({"request_id": "req-sign", "message": {"kind": "preimage", "hash": "sha256", "hex": "68656c6c6f"},
                      "path": "m/0/1", "authorization": sign});
    out.sel("api_request", "sign", 4, body.to_string().as_bytes());
    let body = json!({"request_id": "req-sign-2", "message": {"kind": "danger_raw_digest", "hex": "11".repeat(32)},
                      "authorization": sign});
    out.sel("api_request", "sign-raw", 4, body.to_string().as_bytes());
    let build = json!({"chain": "ethereum", "network": "mainnet", "path": "m",
                       "payload": {"encoding": "hex", "format": "personal_sign", "data": "0x68656c6c6f"}});
    out.sel("api_request", "build-hex", 5, build.to_string().as_bytes());
    let build = json!({"chain": "bitcoin", "network": "regtest",
                       "payload": {"encoding": "base64", "format": "psbt", "data": "cHNidP8BAA=="}});
    out.sel("api_request", "build-b64", 5, build.to_string().as_bytes());
    let build = json!({"chain": "solana", "network": "devnet",
                       "payload": {"encoding": "builder", "spec": {"recent_blockhash": "x", "transfers": []}}});
    out.sel("api_request", "build-spec", 5, build.to_string().as_bytes());
    let tx = Authorization::sign(
        &op,
        "req-tx".into(),
        Action::SignTransaction {
            wallet_id: "w1".into(),
            path: "m".into(),
            chain: "ethereum".into(),
            network: "mainnet".into(),
            intent_hash: [8; 32],
        },
        NOW + 600,
    );
    let body = json!({"request_id": "req-tx", "chain": "ethereum", "network": "mainnet",
                      "payload": {"encoding": "hex", "format": "eip155", "data": "e9"}, "authorization": tx});
    out.sel("api_request", "create-tx", 6, body.to_string().as_bytes());
    let a = Approval::sign(
        &admin(2),
        "req-tx",
        [8; 32],
        1,
        ApprovalDecision::Approve,
        NOW + 600,
    );
    out.sel(
        "api_request",
        "approval",
        7,
        serde_json::to_string(&a).expect("json").as_bytes(),
    );
}

fn policy(out: &Out) {
    use tessera_policy::{Freshness, Mode, ModeChange, SignedBundle};
    let bundle = fixture_bundle();
    let mut sb = SignedBundle::new(bundle.clone());
    sb.sign(&admin(0));
    out.put(
        "policy_bundle",
        "local-dev",
        serde_json::to_string_pretty(&sb).expect("json").as_bytes(),
    );
    for (name, text) in [
        ("treasury-cold", tessera_policy::templates::TREASURY_COLD),
        (
            "trading-desk-hot",
            tessera_policy::templates::TRADING_DESK_HOT,
        ),
    ] {
        let mut b = bundle.clone();
        b.version = 2;
        b.policies = text.into();
        if name == "trading-desk-hot" {
            if let Ok(v) =
                serde_json::from_str(tessera_policy::templates::TRADING_DESK_HOT_VELOCITY)
            {
                b.velocity = v;
            }
        }
        let mut sb = SignedBundle::new(b);
        sb.sign(&admin(0));
        sb.sign(&admin(1));
        out.put(
            "policy_bundle",
            name,
            serde_json::to_string(&sb).expect("json").as_bytes(),
        );
    }
    let mut m = ModeChange::new(
        "acme",
        1,
        Mode::Degraded,
        "incident 42",
        NOW - 10,
        NOW + 3600,
    );
    m.sign(&admin(0));
    m.sign(&admin(1));
    out.sel(
        "policy_mode",
        "degraded",
        0,
        serde_json::to_string(&m).expect("json").as_bytes(),
    );
    let mut m = ModeChange::new("acme", 2, Mode::Lockdown, "", NOW, NOW + 1);
    m.sign(&admin(0));
    out.sel(
        "policy_mode",
        "lockdown",
        0,
        serde_json::to_string(&m).expect("json").as_bytes(),
    );
    let mut f = Freshness::new(&bundle, None, NOW);
    f.sign(&admin(0));
    f.sign(&admin(1));
    out.sel(
        "policy_mode",
        "freshness",
        1,
        serde_json::to_string(&f).expect("json").as_bytes(),
    );
}

fn audit(out: &Out) {
    use tessera_audit::{AuditLog, EntryKind};
    let log = AuditLog::in_memory("coordinator-eu1").expect("log");
    let mut export = Vec::new();
    log.export(&mut export).expect("export");
    out.put("audit_export", "empty", &export);
    log.append(
        "coordinator-eu1",
        EntryKind::Approval,
        "w-1",
        json!({"scheme": "cggmp24", "threshold": 2}),
        1_700_000_000_000,
    )
    .expect("append");
    log.append(
        "coordinator-eu1",
        EntryKind::Signature,
        "req-1",
        json!({"intent": "send 1 BTC", "n": [1, 2, {"a": null}]}),
        1_700_000_000_500,
    )
    .expect("append");
    log.append(
        "signer-2",
        EntryKind::Rejection,
        "req-2",
        json!("why"),
        1_700_000_001_000,
    )
    .expect("append");
    let mut export = Vec::new();
    log.export(&mut export).expect("export");
    out.put("audit_export", "three", &export);
}

fn vault(out: &Out) {
    out.put("vault_records", "none", b"");
    // xor one byte into the sealed share; set the schema version back to 2; replace the DEK.
    out.put("vault_records", "flip-share", &[0x83, 1, 0x01]);
    out.put("vault_records", "user-version-2", &[17, 1, 2]);
    out.put("vault_records", "wrapped-dek", &[15, 4, 1, 2, 3, 4]);
    out.put("vault_records", "delete-epochs", &[18, 0]);
    out.put(
        "vault_records",
        "policy-version",
        &[11, 1, 2, 0x8c, 1, 0x20],
    );
}

fn keygen(scheme: SchemeId, t: u16, n: u16) -> Vec<tessera_crypto::KeyShare> {
    let s = tessera_crypto::scheme(scheme);
    let sessions = (0..n)
        .map(|me| {
            s.keygen(KeygenInput {
                sid: SessionId([scheme as u8 + 1; 32]),
                me,
                params: ThresholdParams::new(t, n).expect("params"),
                aux: None,
            })
            .expect("keygen session")
        })
        .collect();
    sim::run(sessions).expect("keygen")
}

fn shares_and_backups(out: &Out) {
    use tessera_backup::{seal, Header, Kind, ShareTag, SignerPayload};
    let recipient = backup_identity().recipient();
    for scheme in [
        SchemeId::Ed25519,
        SchemeId::SchnorrBip340,
        SchemeId::EcdsaDkls23,
    ] {
        let shares = keygen(scheme, 2, 3);
        let name = scheme.to_string().replace('/', "-");
        out.sel("key_share", &name, 0, &shares[1].to_bytes());
        // A share backup written by signer 1 for party 1 (not for DKLs23: its 100 KB share
        // would make a 400 KB seed and slow every mutation; `key_share` has that share).
        if scheme == SchemeId::EcdsaDkls23 {
            continue;
        }
        let s = &shares[1];
        let header = Header {
            kind: Kind::Share,
            node_id: identity(1).node_id(),
            created_at: NOW,
            share: Some(ShareTag {
                wallet_id: "w1".into(),
                scheme,
                threshold: 2,
                n: 3,
                index: 1,
                epoch: 0,
                public_key: s.public_key().clone(),
                chain_code: s.chain_code(),
            }),
        };
        let roster: Vec<_> = (0..3).map(|i| identity(i).node_id()).collect();
        let payload = json!({"share": hex::encode(&*s.to_bytes()),
                             "public_info": json!({"index": 1, "roster": roster}).to_string()});
        let plain = payload.to_string();
        let b = seal(header.clone(), plain.as_bytes(), &[recipient]).expect("seal backup");
        out.sel(
            "backup_file",
            &format!("share-{name}"),
            0,
            b.to_json().as_bytes(),
        );
        let mut raw = serde_json::to_vec(&header).expect("json");
        raw.push(b'\n');
        raw.extend_from_slice(plain.as_bytes());
        out.sel("backup_file", &format!("share-{name}-plain"), 1, &raw);
    }
    let header = Header {
        kind: Kind::Signer,
        node_id: identity(1).node_id(),
        created_at: NOW,
        share: None,
    };
    let payload = SignerPayload {
        identity: zeroize::Zeroizing::new(identity(1).to_bytes().to_vec()),
        settings: vec![("name".into(), "signer-1".into())],
        aux: vec![],
    };
    let plain = serde_json::to_vec(&payload).expect("json");
    let b = seal(header.clone(), &plain, &[recipient]).expect("seal backup");
    out.sel("backup_file", "signer", 0, b.to_json().as_bytes());
    let mut raw = serde_json::to_vec(&header).expect("json");
    raw.push(b'\n');
    raw.extend_from_slice(&plain);
    out.sel("backup_file", "signer-plain", 1, &raw);
}

fn import_key(out: &Out) {
    // sel: bit 0 curve (0 secp256k1, 1 ed25519), bits 1-3 format (0 hex, 1 wif, 2 xprv,
    // 3 mnemonic, 4 solana keypair), bit 4 passphrase, bit 5 path.
    let seeds: [(&str, u8, String); 9] = [
        ("secp-hex", 0, "edb2e14f9ee77d26dd93b4ecede8d16ed408ce149b6cd80b0715a2d911a0afea".into()),
        ("secp-wif", 2, "cVt4o7BGAig1UXywgGSmARhxMdzP5qvQsxKkSsc1XEkw3tDTQFpy".into()),
        ("secp-wif-one", 2, "KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn".into()),
        ("secp-xprv-path", 4 | 0x20, "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi\0\0m/0/1".into()),
        ("secp-mnemonic", 6 | 0x10 | 0x20, "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about\0TREZOR\0m/44/0/0".into()),
        ("ed-hex", 1, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60".into()),
        ("ed-mnemonic", 1 | 6, "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about".into()),
        ("ed-solana", 1 | 8, {
            let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
            let bytes = sk.to_keypair_bytes();
            serde_json::to_string(&bytes.to_vec()).expect("json")
        }),
        ("secp-hex-n", 0, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141".into()),
    ];
    for (name, sel, text) in seeds {
        out.sel("import_key", name, sel, text.as_bytes());
    }
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let out = Out { root };
    bitcoin(&out);
    ethereum(&out);
    solana(&out);
    wire(&out);
    api(&out);
    policy(&out);
    audit(&out);
    vault(&out);
    shares_and_backups(&out);
    import_key(&out);
    eprintln!("seeds written to {}", out.root.display());
}

//! Multi-process tests: a coordinator and three signer processes on loopback with TLS.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tessera_crypto::SchemeId;
use tessera_proto::api::SignPath;

/// Every scheme: DKG across three signer processes, signatures through the API at the root and
/// at a derived key, each verified with libsecp256k1 / ed25519-dalek; then chain transactions
/// (Bitcoin P2WPKH with both ECDSA profiles and P2TR, Ethereum native and ERC-20 transfers
/// with both ECDSA profiles, a Solana transfer) built, authorized over their intent hash,
/// signed by the signer processes (each re-parses the payload) and checked by each chain's own
/// verifier; bad payloads get typed 4xx errors naming the field and sign nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_schemes_sign_through_the_api_and_verify_independently() {
    let cluster = cluster("all-schemes", "info").await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let signers: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    for s in SchemeId::ALL {
        client
            .create_wallet(&op, &wallet_id(s), "test", s, 2, signers.clone(), NETWORKS)
            .await
            .expect("create wallet");
    }
    for s in SchemeId::ALL {
        let id = wallet_id(s);
        let w = wait_ready(&client, &id).await;
        assert!(w.public_key.is_some());
        if s.has_presignatures() {
            wait_pool(&client, &id, 1).await;
        }
        for path in ["m", "m/3/9"] {
            let m = message(s, &format!("hello {path}"));
            let session = client.sign(&op, &id, path, &m).await.expect("sign");
            let sig = session
                .signature
                .unwrap_or_else(|| panic!("{}: no signature: {:?}", s.name(), session.error));
            let derived = client.derive(&id, path).await.unwrap();
            tessera_cli::verify::verify(s, &derived.public_key, &m, &sig)
                .unwrap_or_else(|e| panic!("{} at {path}: {e:#}", s.name()));
            // A tampered message must not verify (the verifier is not a rubber stamp).
            let other = message(s, "something else");
            assert!(tessera_cli::verify::verify(s, &derived.public_key, &other, &sig).is_err());
            let expect_presigned = match s {
                SchemeId::EcdsaCggmp24 => path == "m",
                SchemeId::SchnorrBip340 | SchemeId::Ed25519 => true,
                _ => false,
            };
            assert_eq!(
                session.sign_path,
                Some(if expect_presigned {
                    SignPath::Presigned
                } else {
                    SignPath::Full
                }),
                "{} at {path}",
                s.name()
            );
        }
    }

    chain_transactions(&client, &op, &cluster.file.approver().unwrap()).await;
}

async fn chain_transactions(
    client: &tessera_client::Client,
    op: &tessera_wire::OperatorKey,
    approver: &tessera_policy::SecretKey,
) {
    let mut chains_seen = std::collections::BTreeSet::new();
    for case in tessera_cli::tx::demo_cases() {
        let t =
            tessera_cli::tx::run_demo_case(client, op, approver, &wallet_id(case.scheme), &case)
                .await
                .unwrap_or_else(|e| panic!("{} with {}: {e:#}", case.chain, case.scheme));
        assert_eq!(t.chain, case.chain);
        assert!(!t.summary.is_empty());
        // The local-dev policy: the 2,500 USDC transfers need (and got) one approval.
        let token = t.summary.contains("USDC");
        assert_eq!(t.approvals, usize::from(token), "{}", t.summary);
        match case.chain {
            "bitcoin" => {
                let prevouts = t.signed["prevouts"].as_array().unwrap();
                assert_eq!(prevouts.len(), 2, "one prevout per input");
                let kind = t.signed["kind"].as_str().unwrap();
                let want = if case.scheme == SchemeId::SchnorrBip340 {
                    "p2tr"
                } else {
                    "p2wpkh"
                };
                assert_eq!(kind, want);
            }
            "ethereum" => {
                assert!(t.signed["signed_tx_hex"]
                    .as_str()
                    .unwrap()
                    .starts_with("0x02"));
                assert_eq!(t.signed["chain_id"], 1);
            }
            "solana" => assert!(t.signed["signed_tx_base64"].is_string()),
            other => panic!("unexpected chain {other}"),
        }
        chains_seen.insert(case.chain);
    }
    assert_eq!(chains_seen.len(), 3);

    // Bad payloads: a typed 4xx naming the field, and no signing session is started.
    let before = client.sessions(1000).await.unwrap().len();
    let id = wallet_id(SchemeId::EcdsaDkls23);
    let bad = |format: &str, data: &str| tessera_proto::api::PayloadInput::Hex {
        format: format.into(),
        data: data.into(),
    };
    let cases = [
        (
            "ethereum",
            "mainnet",
            bad("eip1559", "02c0ffee"),
            400,
            "malformed_payload",
        ),
        (
            "bitcoin",
            "regtest",
            bad("psbt", "70736274ff00"),
            400,
            "malformed_payload",
        ),
        (
            "ethereum",
            "mainnet",
            bad("eip4844", "03"),
            422,
            "unsupported",
        ),
        ("dogecoin", "mainnet", bad("psbt", "00"), 422, "unsupported"),
    ];
    for (chain, network, input, status, code) in cases {
        let req = tessera_proto::api::BuildTransaction {
            chain: chain.into(),
            network: network.into(),
            path: "m".into(),
            payload: input,
        };
        match client.preview_transaction(&id, &req).await {
            Err(tessera_client::ClientError::Api {
                status: s,
                code: c,
                field,
                ..
            }) => {
                assert_eq!((s, c.as_str()), (status, code), "{chain}");
                assert!(field.is_some(), "{chain}: the error names a field");
            }
            other => panic!("{chain}: expected a {status}, got {other:?}"),
        }
    }
    // A sepolia transaction presented as mainnet: wrong network, nothing signed.
    let spec = serde_json::json!({
        "type": "eip1559", "nonce": 0, "to": "0x000000000000000000000000000000000000dEaD",
        "value_wei": "1", "gas_limit": 21000, "max_fee_per_gas_wei": "1",
        "max_priority_fee_per_gas_wei": "1"
    });
    let (payload, _) = client
        .parse_local(
            &id,
            "ethereum",
            "sepolia",
            "m",
            &tessera_proto::api::PayloadInput::Builder { spec },
        )
        .await
        .unwrap();
    let req = tessera_proto::api::BuildTransaction {
        chain: "ethereum".into(),
        network: "mainnet".into(),
        path: "m".into(),
        payload: bad("eip1559", &hex::encode(&payload.bytes)),
    };
    match client.preview_transaction(&id, &req).await {
        Err(tessera_client::ClientError::Api { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (422, "wrong_network"))
        }
        other => panic!("expected wrong_network, got {other:?}"),
    }
    // A PSBT spending another wallet's coins: not owned, nothing signed.
    let other = wallet_id(SchemeId::EcdsaCggmp24);
    let own_spec = |addr: &str| {
        serde_json::json!({
            "inputs": [tessera_chain_bitcoin::synthetic_coin("regtest", addr, 10_000, 0x33).unwrap()],
            "outputs": [{"address": addr, "amount_sat": 9_000}]
        })
    };
    let other_key = client.derive(&other, "m").await.unwrap().public_key;
    let dest = tessera_chains::registry()
        .get("bitcoin")
        .unwrap()
        .address(
            "regtest",
            tessera_chains::WalletKey {
                scheme: SchemeId::EcdsaCggmp24,
                public_key: &other_key,
            },
        )
        .unwrap()
        .address;
    let (psbt, _) = client
        .parse_local(
            &other,
            "bitcoin",
            "regtest",
            "m",
            &tessera_proto::api::PayloadInput::Builder {
                spec: own_spec(&dest),
            },
        )
        .await
        .unwrap();
    let req = tessera_proto::api::BuildTransaction {
        chain: "bitcoin".into(),
        network: "regtest".into(),
        path: "m".into(),
        payload: bad("psbt", &hex::encode(&psbt.bytes)),
    };
    match client.preview_transaction(&id, &req).await {
        Err(tessera_client::ClientError::Api {
            status,
            code,
            field,
            ..
        }) => {
            assert_eq!((status, code.as_str()), (422, "not_owned"));
            assert_eq!(field.as_deref(), Some("psbt.inputs[0]"));
        }
        other => panic!("expected not_owned, got {other:?}"),
    }
    assert_eq!(client.sessions(1000).await.unwrap().len(), before);

    // Off-chain messages through the cluster: EIP-712 typed data (DKLs23, full protocol) and
    // personal_sign (cggmp24, from a presignature when the pool has one), each checked by
    // recovering the signer with libsecp256k1.
    let typed = serde_json::json!({
        "type": "eip712",
        "typed_data": {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"}
                ],
                "Person": [
                    {"name": "name", "type": "string"},
                    {"name": "wallet", "type": "address"}
                ],
                "Mail": [
                    {"name": "from", "type": "Person"},
                    {"name": "to", "type": "Person"},
                    {"name": "contents", "type": "string"}
                ]
            },
            "primaryType": "Mail",
            "domain": {
                "name": "Ether Mail", "version": "1", "chainId": 1,
                "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
            },
            "message": {
                "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
                "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
                "contents": "Hello, Bob!"
            }
        }
    });
    let personal = serde_json::json!({"type": "personal_sign", "message": "Sign in to Tessera"});
    for (scheme, spec, format) in [
        (SchemeId::EcdsaDkls23, typed, "eip712_signature"),
        (SchemeId::EcdsaCggmp24, personal, "personal_sign_signature"),
    ] {
        let target = tessera_cli::tx::Target {
            wallet: wallet_id(scheme),
            chain: "ethereum".into(),
            network: "mainnet".into(),
            path: "m".into(),
        };
        let t = tessera_cli::tx::sign(
            client,
            op,
            &target,
            &tessera_proto::api::PayloadInput::Builder { spec },
        )
        .await
        .unwrap_or_else(|e| panic!("{format}: {e:#}"));
        let signed = t.signed.unwrap();
        assert_eq!(signed.format, format);
        assert_eq!(signed.bytes.len(), 65);
    }
}

/// `tessera up` writes one token per role (mode 0600, all different); the coordinator process
/// takes each for its role only; the CLI commands pick the token of the role they need.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_cluster_has_one_token_per_role() {
    use std::os::unix::fs::PermissionsExt;
    use tessera_client::ClientError;
    use tessera_proto::roles::Role;
    let cluster = cluster("role-tokens", "info").await;
    let mut seen = std::collections::BTreeSet::new();
    for role in Role::ALL {
        let path = cluster.file.token_file(role);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        assert!(
            seen.insert(cluster.file.token(role).unwrap()),
            "{role}: same token"
        );
    }
    let forbidden = |r: Result<String, ClientError>| match r {
        Err(ClientError::Api { status, code, .. }) => {
            (status, code) == (403, "forbidden_role".into())
        }
        _ => false,
    };
    let viewer = cluster.client_as(Role::Viewer).unwrap();
    let metrics = cluster.client_as(Role::Metrics).unwrap();
    let requester = cluster.client_as(Role::Requester).unwrap();
    assert_eq!(viewer.signers().await.unwrap().len(), 3);
    assert!(forbidden(requester.audit_export().await));
    assert!(metrics
        .get_text("/metrics")
        .await
        .unwrap()
        .contains("tessera_"));
    assert!(viewer
        .get_text("/metrics")
        .await
        .unwrap()
        .contains("forbidden_role"));
    let op = cluster.file.operator().unwrap();
    let signers: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    let refused = viewer
        .create_wallet(
            &op,
            "w-viewer",
            "test",
            SchemeId::Ed25519,
            2,
            signers,
            NETWORKS,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ClientError::Api { status: 403, code, .. } if code == "forbidden_role"),
        "{refused}"
    );
    // CLI commands find their role's token in the cluster directory.
    for args in [&["status"][..], &["mode", "status"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .arg("--cluster")
            .arg(&cluster.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tessera {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

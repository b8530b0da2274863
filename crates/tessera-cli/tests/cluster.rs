//! Multi-process tests: a coordinator and three signer processes on loopback with TLS.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tessera_crypto::SchemeId;
use tessera_proto::api::SignPath;

/// Every scheme: DKG across three signer processes, signatures through the API at the root and
/// at a derived key, each verified with libsecp256k1 / ed25519-dalek.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_schemes_sign_through_the_api_and_verify_independently() {
    let cluster = cluster("all-schemes", "info").await;
    let client = cluster.client().unwrap();
    let op = cluster.file.operator().unwrap();
    let signers: Vec<_> = cluster.file.signers.iter().map(|s| s.node_id).collect();
    for s in SchemeId::ALL {
        client
            .create_wallet(&op, &wallet_id(s), "test", s, 2, signers.clone())
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
}

//! `tessera-proto::api`: the JSON request bodies of the coordinator's REST API, deserialized
//! exactly as its handlers do (`serde_json` into the `tessera_proto::api` types), then the
//! checks the handlers run before touching state. First byte: the endpoint; the rest is the
//! body.
//!
//! | selector | body | then |
//! |---|---|---|
//! | 0 | `EnrollSigner` | the identity's key-binding proof |
//! | 1 | `CreateWallet` | authorization (signing bytes, signature), import package digest, approvals |
//! | 2 | `ReshareWallet` | authorization, approvals |
//! | 3 | `RetireWallet` | authorization |
//! | 4 | `SignRequest` | message conversion, derivation path, authorization |
//! | 5 | `BuildTransaction` | payload decoding (hex / base64), derivation path |
//! | 6 | `CreateTransaction` | payload decoding, derivation path, authorization |
//! | 7 | `Approval` (`POST /v1/requests/{id}/approvals`) | signature |
//!
//! Properties: nothing panics; an accepted body re-serializes to JSON that parses back and
//! serializes to the same text (what the coordinator stores and relays is what it read);
//! `MessageInput` → `SignMessage` → `MessageInput` → `SignMessage` is the identity.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Serialize};
use tessera_crypto::DerivationPath;
use tessera_fuzz::split;
use tessera_proto::api::{
    BuildTransaction, CreateTransaction, CreateWallet, EnrollSigner, MessageInput, ReshareWallet,
    RetireWallet, SignRequest,
};
use tessera_wire::Authorization;

const NOW: u64 = 1_700_000_000;

fn body<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let v: T = serde_json::from_slice(bytes).ok()?;
    let text = serde_json::to_vec(&v).expect("an accepted body serializes");
    let again: T = serde_json::from_slice(&text).expect("a re-serialized body parses");
    assert_eq!(
        serde_json::to_vec(&again).expect("serializes"),
        text,
        "JSON round trip is not stable"
    );
    Some(again)
}

fn authorization(a: &Authorization) {
    let _ = Authorization::signing_bytes(&a.request_id, &a.action, a.expires_at, &a.operator);
    let _ = a.verify(&[a.operator], NOW, 3600);
    let _ = a.action.intent_hash();
}

fn path(p: &str) {
    if let Ok(d) = DerivationPath::parse(p) {
        assert!(d.indices().len() <= 255);
    }
}

fn message(m: &MessageInput) {
    if let Ok(sm) = m.to_sign_message() {
        let back = MessageInput::from_sign_message(&sm);
        assert_eq!(
            back.to_sign_message().as_ref(),
            Ok(&sm),
            "message round trip"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let (sel, bytes) = split(data);
    match sel % 8 {
        0 => {
            if let Some(r) = body::<EnrollSigner>(bytes) {
                let _ = r.identity.verify();
            }
        }
        1 => {
            if let Some(r) = body::<CreateWallet>(bytes) {
                authorization(&r.authorization);
                let _ = tessera_wire::check_networks(&r.networks);
                if let Some(p) = &r.import {
                    let _ = p.digest();
                    let _ = p.commitment_bytes();
                }
                for a in &r.approvals {
                    let _ = a.signature_valid();
                }
            }
        }
        2 => {
            if let Some(r) = body::<ReshareWallet>(bytes) {
                authorization(&r.authorization);
                for a in &r.approvals {
                    let _ = a.signature_valid();
                }
            }
        }
        3 => {
            if let Some(r) = body::<RetireWallet>(bytes) {
                authorization(&r.authorization);
            }
        }
        4 => {
            if let Some(r) = body::<SignRequest>(bytes) {
                message(&r.message);
                path(&r.path);
                authorization(&r.authorization);
            }
        }
        5 => {
            if let Some(r) = body::<BuildTransaction>(bytes) {
                let _ = r.payload.raw();
                path(&r.path);
            }
        }
        6 => {
            if let Some(r) = body::<CreateTransaction>(bytes) {
                let _ = r.payload.raw();
                path(&r.path);
                authorization(&r.authorization);
            }
        }
        _ => {
            if let Some(a) = body::<tessera_policy::Approval>(bytes) {
                let _ = a.signature_valid();
            }
        }
    }
});

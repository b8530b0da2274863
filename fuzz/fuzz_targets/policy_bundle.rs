//! `tessera-policy`: a `SignedBundle` as a signer receives it (`ToSigner::Policy` carries its
//! JSON; `POST /v1/policy` too), then `accept_update` and the Cedar compilation
//! (`Engine::compile`: Cedar text parse, schema validation, `@id`/quorum annotations,
//! velocity rules, roles, admin set).
//!
//! The bundle is checked twice: as sent (whose fuzzed signatures do not verify, so
//! `accept_update` stops early) and re-signed by the fixed admin the fixture signer trusts, so
//! that everything behind the signature check is reached as a real admin-signed bundle would
//! reach it.
//!
//! Properties: nothing panics; JSON round trip gives an equal bundle; `bundle_hash` is
//! deterministic; an accepted bundle is the one the engine runs, and once stored as JSON and
//! re-read (a signer restart) it compiles again to the same policies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_fuzz::admin;
use tessera_policy::{accept_update, AdminSet, Engine, SignedBundle};

fuzz_target!(|data: &[u8]| {
    let Ok(sb) = serde_json::from_slice::<SignedBundle>(data) else {
        return;
    };
    let text = serde_json::to_vec(&sb).expect("serializes");
    let back: SignedBundle = serde_json::from_slice(&text).expect("re-serialized bundle parses");
    assert_eq!(back, sb, "bundle JSON round trip");
    assert_eq!(sb.bundle.bundle_hash(), back.bundle.bundle_hash());

    let initial = AdminSet::new([admin(0).public()], 1).expect("admin set");
    let _ = accept_update(None, &sb, &initial);

    let mut resigned = SignedBundle::new(sb.bundle.clone());
    resigned.sign(&admin(0));
    if let Ok(engine) = accept_update(None, &resigned, &initial) {
        assert_eq!(
            engine.bundle(),
            &sb.bundle,
            "the engine runs another bundle"
        );
        assert_eq!(engine.bundle_hash(), sb.bundle.bundle_hash());
        let _ = engine.policy_ids();
        // What the signer stores and re-reads at restart must compile to the same engine.
        let stored = serde_json::to_string(engine.signed_bundle()).expect("serializes");
        let reread: SignedBundle = serde_json::from_str(&stored).expect("stored bundle parses");
        let again = Engine::compile(&reread.bundle).expect("a stored bundle recompiles");
        assert_eq!(again.policy_ids(), engine.policy_ids());
    }
});

//! `tessera-policy`: operating-mode changes (`ModeChange`, `ToSigner::Mode`,
//! `POST /v1/mode`) and freshness statements (`Freshness`, `ToSigner::Freshness`) as a
//! signer receives them, checked against a fixed installed bundle whose admins are the
//! fixture admins 0 and 1 (quorum 2). First byte: bit 0 picks the kind; the rest is the JSON.
//!
//! As for bundles, each statement is checked as sent and re-signed by both admins, so the
//! checks behind the signatures (tenant, sequence, validity window, bundle hash, mode sequence,
//! skew) are reached.
//!
//! Properties: nothing panics; JSON round trip gives an equal statement; a re-signed mode
//! change is accepted exactly when its tenant and validity window are right; `mode_in_force`
//! and `fresh_since` are total.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_fuzz::{admin, split};
use tessera_policy::{
    accept_freshness, accept_mode, fresh_since, mode_in_force, Freshness, ModeChange, PolicyBundle,
    MAX_MODE_S,
};

const NOW: u64 = 1_700_000_000;

/// The installed bundle (what `gen_corpus` builds the seeds against).
fn bundle() -> &'static PolicyBundle {
    static B: OnceLock<PolicyBundle> = OnceLock::new();
    B.get_or_init(tessera_fuzz::fixture_bundle)
}

fn round_trip<T>(v: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let text = serde_json::to_vec(v).expect("serializes");
    let back: T = serde_json::from_slice(&text).expect("re-serialized statement parses");
    assert_eq!(&back, v, "JSON round trip");
}

fuzz_target!(|data: &[u8]| {
    let (sel, bytes) = split(data);
    let b = bundle();
    if sel & 1 == 0 {
        let Ok(m) = serde_json::from_slice::<ModeChange>(bytes) else {
            return;
        };
        round_trip(&m);
        let _ = accept_mode(None, &m, b, NOW);
        let _ = mode_in_force(Some(&m), NOW);
        let _ = fresh_since(b, Some(&m), None);
        let mut signed = m.clone();
        signed.admin_signatures.clear();
        signed.sign(&admin(0));
        signed.sign(&admin(1));
        let ok = accept_mode(None, &signed, b, NOW).is_ok();
        let expected = m.tenant == b.tenant
            && m.expires_at > m.issued_at
            && m.expires_at - m.issued_at <= MAX_MODE_S
            && m.issued_at <= NOW
            && NOW < m.expires_at;
        assert_eq!(ok, expected, "accept_mode of an admin-signed change");
    } else {
        let Ok(f) = serde_json::from_slice::<Freshness>(bytes) else {
            return;
        };
        round_trip(&f);
        let _ = accept_freshness(None, &f, b, None, NOW);
        let mut signed = f.clone();
        signed.admin_signatures.clear();
        signed.sign(&admin(0));
        signed.sign(&admin(1));
        let _ = accept_freshness(Some(&f), &signed, b, None, NOW);
        let _ = fresh_since(b, None, Some(&signed));
    }
});

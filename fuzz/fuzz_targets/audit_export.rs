//! `tessera-audit`: `verify_export` of a JSON Lines audit export (`tessera audit verify`, and
//! the coordinator's check of a signer's pages): header line, every entry line's canonical
//! JSON, hashes, seq continuity, `prev_hash` links, reorder/gap/duplicate diagnosis.
//!
//! Properties: nothing panics; on success the visitor saw exactly `entries` entries, in seq
//! order 1, 2, …, the head is the last entry's (seq, hash), `hash_at` agrees with it, and
//! the export is exactly header + one `\n`-terminated line per entry.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_audit::verify_export_with;

fuzz_target!(|data: &[u8]| {
    let mut seen = Vec::new();
    let Ok(report) = verify_export_with(data, |e| seen.push((e.seq, e.hash))) else {
        return;
    };
    assert_eq!(report.entries, seen.len() as u64);
    assert_eq!(report.head_seq, report.entries);
    for (i, (seq, _)) in seen.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "entries out of order");
    }
    if let Some((_, hash)) = seen.last() {
        assert_eq!(*hash, report.head_hash);
    }
    assert_eq!(report.hash_at(report.head_seq), Some(report.head_hash));
    assert_eq!(report.hash_at(report.head_seq + 1), None);
    assert!(
        data.ends_with(b"\n"),
        "accepted an export without a final newline"
    );
    let lines = data.iter().filter(|b| **b == b'\n').count() as u64;
    assert_eq!(lines, report.entries + 1, "lines and entries disagree");
});

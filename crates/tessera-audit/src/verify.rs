//! Offline verification of exports, and the chain checks shared with the stored log.

use std::collections::HashSet;
use std::io::{BufRead, Read};

use serde::Deserialize;
use serde_json::Value;

use crate::canonical::quote;
use crate::entry::{check_text, genesis_hash, Entry, EntryKind};
use crate::log::Head;

/// The `format` of an export's header line.
pub const EXPORT_FORMAT: &str = "tessera-audit/v1";
/// Longest line [`verify_export`] reads ([`VerifyError::LineTooLong`]); valid entries stay far
/// below it.
pub const MAX_LINE_BYTES: usize = 128 * 1024;

/// Why an export does not verify. Names the first bad line or entry: `line` counts from 1 (the
/// header), `seq` is the position in the chain where the problem is (entry `seq` belongs on line
/// `seq + 1`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Reading failed.
    #[error("cannot read the export: {0}")]
    Io(String),
    /// A line is not a valid header or entry in canonical form (bad JSON, unknown or missing
    /// fields, floats, not canonical, invalid field values...).
    #[error("line {line}: {reason}")]
    Malformed {
        /// Line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The last line has no newline: the export was cut off mid-line.
    #[error("line {line} is cut short (no final newline): the export is truncated")]
    Truncated {
        /// Line number.
        line: u64,
    },
    /// A line is longer than [`MAX_LINE_BYTES`].
    #[error("line {line} is longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong {
        /// Line number.
        line: u64,
    },
    /// The entry at position `seq` does not hash to its `hash` field: it was edited.
    #[error("entry {seq}: hash does not match its contents")]
    BadHash {
        /// Position in the chain.
        seq: u64,
    },
    /// Entry `seq`'s `prev_hash` is not the hash of the entry before it (or, for entry 1, the
    /// chain's genesis hash): something before it was changed, or it comes from another chain.
    #[error("entry {seq}: prev_hash does not link to the entry before it")]
    BrokenLink {
        /// Position in the chain.
        seq: u64,
    },
    /// Entry `expected` is missing: entry `found` stands in its place and `expected` does not
    /// appear later.
    #[error("entry {expected} is missing (entry {found} is in its place)")]
    Gap {
        /// The seq that should come next.
        expected: u64,
        /// The seq that came.
        found: u64,
    },
    /// Entries are out of order: `found` stands where `expected` belongs, and `expected`
    /// appears later in the export.
    #[error("entries out of order: entry {found} stands where entry {expected} belongs")]
    Reordered {
        /// The seq that should come next.
        expected: u64,
        /// The seq that came.
        found: u64,
    },
    /// Entry `seq` appears again after it was already verified.
    #[error("entry {seq} appears twice")]
    Duplicate {
        /// The repeated seq.
        seq: u64,
    },
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The chain id from the export's header.
    pub chain_id: String,
    /// Number of entries.
    pub entries: u64,
    /// Seq of the last entry (equal to `entries`; 0 if none).
    pub head_seq: u64,
    /// Hash of the last entry (the genesis hash if none).
    pub head_hash: [u8; 32],
    /// Hash after each entry, index 0 = genesis (32 bytes per entry, for checkpoints).
    hashes: Vec<[u8; 32]>,
}

impl VerifyReport {
    /// The verified head.
    pub fn head(&self) -> Head {
        Head {
            seq: self.head_seq,
            hash: self.head_hash,
        }
    }

    /// The verified hash of entry `seq` (`0` = the genesis hash), `None` beyond the head.
    pub fn hash_at(&self, seq: u64) -> Option<[u8; 32]> {
        usize::try_from(seq)
            .ok()
            .and_then(|i| self.hashes.get(i))
            .copied()
    }
}

/// Verifies an export (see the crate docs for the format) from its bytes alone: the header,
/// every line's canonical form and fields, every hash, seq continuity from 1 and every
/// `prev_hash` link from the genesis hash of the header's chain id. Stops at the first problem.
///
/// A cut-off tail (whole lines) and a fully rewritten history are only detectable against a
/// checkpoint: pass the report to [`crate::verify_against_checkpoint`]. Check
/// [`VerifyReport::chain_id`] if you expect a particular log. Memory: one line at a time plus
/// 32 bytes per entry (the hashes, for checkpoint checks at any seq).
pub fn verify_export<R: BufRead>(reader: R) -> Result<VerifyReport, VerifyError> {
    verify_export_with(reader, |_| {})
}

/// [`verify_export`], calling `visit` with each entry once it has been verified against its
/// predecessor (use it to index or cross-check entries in one pass). If verification fails
/// later, discard what was collected.
pub fn verify_export_with<R: BufRead>(
    mut reader: R,
    mut visit: impl FnMut(&Entry),
) -> Result<VerifyReport, VerifyError> {
    let mut buf = Vec::new();
    let mut line = 1u64;
    if !next_line(&mut reader, line, &mut buf)? {
        return Err(VerifyError::Malformed {
            line,
            reason: "empty export: no header line".into(),
        });
    }
    let chain_id = parse_header(&buf, line)?;
    let mut state = ChainState::new(genesis_hash(&chain_id), true);
    loop {
        line += 1;
        if !next_line(&mut reader, line, &mut buf)? {
            break;
        }
        let (entry, computed) = parse_entry(&buf, line)?;
        match state.push(&entry, computed) {
            Ok(()) => visit(&entry),
            Err(PushError::Verify(e)) => return Err(e),
            Err(PushError::Seq { expected, found }) if found < expected => {
                return Err(VerifyError::Duplicate { seq: found })
            }
            Err(PushError::Seq { expected, found }) => {
                return Err(if appears_later(&mut reader, line, &mut buf, expected) {
                    VerifyError::Reordered { expected, found }
                } else {
                    VerifyError::Gap { expected, found }
                });
            }
        }
    }
    Ok(state.into_report(chain_id))
}

/// An entry of the signer's log with no counterpart in the coordinator's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    /// Its seq in the signer's log.
    pub seq: u64,
    /// Its kind.
    pub kind: EntryKind,
    /// Its subject (request id).
    pub subject: String,
}

/// Result of [`cross_check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossCheckReport {
    /// The coordinator's export, verified.
    pub coordinator: VerifyReport,
    /// The signer's export, verified.
    pub signer: VerifyReport,
    /// Signer entries the coordinator's log does not account for, in the signer's order. Empty
    /// when the logs agree.
    pub unmatched: Vec<Unmatched>,
}

/// Which export failed verification in [`cross_check`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrossCheckError {
    /// The coordinator's export.
    #[error("coordinator export: {0}")]
    Coordinator(VerifyError),
    /// The signer's export.
    #[error("signer export: {0}")]
    Signer(VerifyError),
}

/// Verifies both exports, then lists every `signature` and `refusal` entry of the signer's
/// log for which the coordinator's log has no entry of the same kind name and subject (the
/// request id, by convention on both sides). A signature the coordinator never recorded is
/// the first thing to investigate after a suspected coordinator compromise.
pub fn cross_check<A: BufRead, B: BufRead>(
    coordinator: A,
    signer: B,
) -> Result<CrossCheckReport, CrossCheckError> {
    let checked = |k: &EntryKind| matches!(k, EntryKind::Signature | EntryKind::Refusal(_));
    let mut seen: HashSet<(&'static str, String)> = HashSet::new();
    let coordinator = verify_export_with(coordinator, |e| {
        if checked(&e.kind) {
            seen.insert((e.kind.name(), e.subject.clone()));
        }
    })
    .map_err(CrossCheckError::Coordinator)?;
    let mut unmatched = Vec::new();
    let signer = verify_export_with(signer, |e| {
        if checked(&e.kind) && !seen.contains(&(e.kind.name(), e.subject.clone())) {
            unmatched.push(Unmatched {
                seq: e.seq,
                kind: e.kind.clone(),
                subject: e.subject.clone(),
            });
        }
    })
    .map_err(CrossCheckError::Signer)?;
    Ok(CrossCheckReport {
        coordinator,
        signer,
        unmatched,
    })
}

/// The header line of an export of chain `chain_id` (line 1, see the crate docs), without the
/// newline: for assembling an export from entries fetched elsewhere (their
/// [`Entry::to_json_line`]s follow, one per line).
pub fn export_header(chain_id: &str) -> String {
    header_line(chain_id)
}

/// The export header line for `chain_id`, without the newline.
pub(crate) fn header_line(chain_id: &str) -> String {
    format!(
        "{{\"chain_id\":{},\"format\":{}}}",
        quote(chain_id),
        quote(EXPORT_FORMAT)
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    chain_id: String,
    format: String,
}

fn parse_header(bytes: &[u8], line: u64) -> Result<String, VerifyError> {
    let malformed = |reason: String| VerifyError::Malformed { line, reason };
    let text = std::str::from_utf8(bytes).map_err(|_| malformed("not UTF-8".into()))?;
    let header: Header =
        serde_json::from_str(text).map_err(|e| malformed(format!("not an export header: {e}")))?;
    if header.format != EXPORT_FORMAT {
        return Err(malformed(format!(
            "unsupported export format {:?} (expected {EXPORT_FORMAT:?})",
            header.format
        )));
    }
    check_text("chain id", &header.chain_id).map_err(|e| malformed(e.to_string()))?;
    if header_line(&header.chain_id) != text {
        return Err(malformed("header is not in canonical form".into()));
    }
    Ok(header.chain_id)
}

/// Parses and checks one entry line; returns it with its recomputed hash.
fn parse_entry(bytes: &[u8], line: u64) -> Result<(Entry, [u8; 32]), VerifyError> {
    let malformed = |reason: String| VerifyError::Malformed { line, reason };
    let text = std::str::from_utf8(bytes).map_err(|_| malformed("not UTF-8".into()))?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| malformed(format!("not JSON: {e}")))?;
    let entry = Entry::deserialize(&value).map_err(|e| malformed(format!("not an entry: {e}")))?;
    // Everything `append` refuses (floats, bad text fields...) is refused here too.
    let computed = entry.compute_hash().map_err(|e| malformed(e.to_string()))?;
    // The line must be exactly what the exporter writes for this entry: no whitespace, sorted
    // keys, no duplicate or unknown keys, lowercase hex. A reader that disagrees with ours on
    // any of these would otherwise see different data under the same hash.
    let canonical = entry.to_json_line().map_err(|e| malformed(e.to_string()))?;
    if canonical != text {
        return Err(malformed("entry is not in canonical form".into()));
    }
    Ok((entry, computed))
}

/// Whether a later line carries `seq` (a reorder rather than a gap). Unreadable lines are
/// skipped; this only picks the error to report.
fn appears_later<R: BufRead>(reader: &mut R, mut line: u64, buf: &mut Vec<u8>, seq: u64) -> bool {
    loop {
        line += 1;
        match next_line(reader, line, buf) {
            Ok(true) => {}
            Ok(false) | Err(_) => return false,
        }
        let found = serde_json::from_slice::<Value>(buf)
            .ok()
            .and_then(|v| v.get("seq").and_then(Value::as_u64));
        if found == Some(seq) {
            return true;
        }
    }
}

/// Reads the next line into `buf` without its `\n`; `false` at the end of the input.
fn next_line<R: BufRead>(
    reader: &mut R,
    line: u64,
    buf: &mut Vec<u8>,
) -> Result<bool, VerifyError> {
    buf.clear();
    let limit = MAX_LINE_BYTES as u64 + 1;
    let n = reader
        .by_ref()
        .take(limit)
        .read_until(b'\n', buf)
        .map_err(|e| VerifyError::Io(e.to_string()))?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if buf.len() > MAX_LINE_BYTES {
            VerifyError::LineTooLong { line }
        } else {
            VerifyError::Truncated { line }
        });
    }
    buf.pop();
    Ok(true)
}

/// Running state of a chain check, shared by the export verifier and the stored log.
pub(crate) struct ChainState {
    next_seq: u64,
    prev: [u8; 32],
    hashes: Option<Vec<[u8; 32]>>,
}

pub(crate) enum PushError {
    Verify(VerifyError),
    /// The entry's seq is not the next one (the caller tells a gap from a reorder).
    Seq {
        expected: u64,
        found: u64,
    },
}

impl ChainState {
    /// At the start of a chain; `keep_hashes` records every hash for [`VerifyReport::hash_at`].
    pub(crate) fn new(genesis: [u8; 32], keep_hashes: bool) -> Self {
        ChainState {
            next_seq: 1,
            prev: genesis,
            hashes: keep_hashes.then(|| vec![genesis]),
        }
    }

    /// In the middle of a chain: `next_seq` comes next and `prev` is the hash before it.
    pub(crate) fn resume(next_seq: u64, prev: [u8; 32]) -> Self {
        ChainState {
            next_seq,
            prev,
            hashes: None,
        }
    }

    /// Checks, in order: the entry hashes to its `hash` (`computed`), it is the next seq, and
    /// it links to the previous hash.
    pub(crate) fn push(&mut self, e: &Entry, computed: [u8; 32]) -> Result<(), PushError> {
        let expected = self.next_seq;
        if computed != e.hash {
            return Err(PushError::Verify(VerifyError::BadHash { seq: expected }));
        }
        if e.seq != expected {
            return Err(PushError::Seq {
                expected,
                found: e.seq,
            });
        }
        if e.prev_hash != self.prev {
            return Err(PushError::Verify(VerifyError::BrokenLink { seq: expected }));
        }
        self.prev = e.hash;
        self.next_seq = expected.saturating_add(1);
        if let Some(h) = &mut self.hashes {
            h.push(e.hash);
        }
        Ok(())
    }

    pub(crate) fn into_report(self, chain_id: String) -> VerifyReport {
        let head_seq = self.next_seq.saturating_sub(1);
        VerifyReport {
            chain_id,
            entries: head_seq,
            head_seq,
            head_hash: self.prev,
            hashes: self.hashes.unwrap_or_default(),
        }
    }
}

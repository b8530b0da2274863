//! The book against a plain sum of the same entries (a `MemoryLedger`) over seeded histories,
//! eviction, reloading, and the view's arithmetic.

use super::*;
use tessera_vault::{KdfParams, Unlock};

const T0: u64 = 1_700_000_000;
const ASSETS: [&str; 2] = ["ethereum:mainnet:native", "solana:devnet:native"];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn entry(i: u64, asset: &str, amount: &str, at: u64) -> VelocityEntry {
    VelocityEntry {
        request_id: format!("r{i}"),
        intent_hash: [(i % 251) as u8; 32],
        wallet_id: "w".into(),
        asset: asset.into(),
        amount: amount.into(),
        at_unix: at,
    }
}

/// A history over three days: bursts in one second, gaps of hours, one amount beyond 2^128.
fn history(rng: &mut Rng, n: u64) -> Vec<VelocityEntry> {
    let mut at = T0;
    (0..n)
        .map(|i| {
            at += match rng.below(10) {
                0 => rng.below(3 * 3_600),
                1..=4 => 0,
                _ => rng.below(90),
            };
            let amount = if i == n / 2 {
                BaseUnits::u256_max().as_str().to_string()
            } else {
                rng.below(1_000_000_000).to_string()
            };
            entry(i, ASSETS[rng.below(2) as usize], &amount, at)
        })
        .collect()
}

fn plain(entries: &[VelocityEntry]) -> MemoryLedger {
    let mut ledger = MemoryLedger::new();
    for e in entries {
        add_entry(&mut ledger, e).expect("entry");
    }
    ledger
}

fn book_of(entries: &[VelocityEntry], covers_since: u64) -> WalletBook {
    let mut book = WalletBook {
        covers_since,
        assets: BTreeMap::new(),
    };
    for e in entries.iter().filter(|e| e.at_unix >= covers_since) {
        book.add(e).expect("entry");
    }
    book
}

fn asset(s: &str) -> AssetKey {
    s.parse().expect("asset")
}

#[test]
fn the_book_sums_what_a_plain_ledger_sums_over_every_window() {
    for seed in 0..20 {
        let mut rng = Rng(seed);
        let entries = history(&mut rng, 400);
        let last = entries.last().map_or(T0, |e| e.at_unix);
        let (book, expected) = (book_of(&entries, 0), plain(&entries));
        for _ in 0..200 {
            // Any second from before the first entry to after the last, hour boundaries too.
            let since = match rng.below(3) {
                0 => (T0 + rng.below(last - T0 + 7_200)) / 3_600 * 3_600,
                _ => T0 - 60 + rng.below(last - T0 + 7_200),
            };
            for a in ASSETS.map(asset) {
                assert_eq!(
                    book.totals_since(&a, since).expect("covered"),
                    expected.totals_since("w", &a, since).expect("plain"),
                    "seed {seed}, since {since}, {a:?}"
                );
            }
        }
    }
}

#[test]
fn eviction_keeps_every_entry_the_window_reaches_and_refuses_the_rest() {
    let mut rng = Rng(7);
    let entries = history(&mut rng, 600);
    let expected = plain(&entries);
    let mut book = book_of(&entries, 0);
    let last = entries.last().map_or(T0, |e| e.at_unix);
    let mut since = T0;
    while since < last {
        book.evict_before(since);
        assert!(book.covers_since <= since);
        for probe in [since, since + 1, since + 3_599, since + 3_600, last] {
            for a in ASSETS.map(asset) {
                assert_eq!(
                    book.totals_since(&a, probe).expect("covered"),
                    expected.totals_since("w", &a, probe).expect("plain"),
                    "since {since}, probe {probe}"
                );
            }
        }
        // A window reaching before what the book holds is refused, never counted empty.
        if book.covers_since > 0 {
            assert!(book
                .totals_since(&asset(ASSETS[0]), book.covers_since - 1)
                .is_err());
        }
        since += 1 + rng.below(5_000);
    }
}

fn vault() -> (Vault, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "tessera-book-{}-{}",
        std::process::id(),
        Rng(T0 ^ u64::from(std::process::id())).next()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("vault.db");
    let v = Vault::create(
        &path,
        &Unlock::passphrase("book test"),
        KdfParams::insecure_for_tests(),
    )
    .expect("vault");
    (v, dir)
}

#[test]
fn the_book_loads_from_the_vault_follows_its_writes_and_reloads_for_a_longer_window() {
    let (mut vault, dir) = vault();
    let mut rng = Rng(11);
    let entries = history(&mut rng, 120);
    let (before, after) = entries.split_at(60);
    for e in before {
        let done = format!("done:{}", e.request_id);
        vault
            .complete_request(&done, e.at_unix + 300, e.at_unix, std::slice::from_ref(e))
            .expect("write");
    }
    let mut book = VelocityBook::default();
    let day_ago = after[0].at_unix - 86_400;
    book.ensure(&vault, "w", day_ago).expect("load");
    // Writes after the load reach the book through `recorded`, as the signer passes them.
    for e in after {
        let done = format!("done:{}", e.request_id);
        vault
            .complete_request(&done, e.at_unix + 300, e.at_unix, std::slice::from_ref(e))
            .expect("write");
        book.recorded(std::slice::from_ref(e));
    }
    let expected = plain(&entries);
    let check = |book: &mut VelocityBook, since: u64| {
        let b = book.ensure(&vault, "w", since).expect("ensure");
        for a in ASSETS.map(asset) {
            assert_eq!(
                b.totals_since(&a, since).expect("covered"),
                expected.totals_since("w", &a, since).expect("plain"),
                "since {since}"
            );
        }
    };
    check(&mut book, day_ago);
    check(&mut book, after[30].at_unix);
    // A window reaching further back than the book was loaded for reloads it from the vault.
    check(&mut book, 0);
    // Another wallet's entries never reach this wallet's book.
    let mut other = entry(999, ASSETS[0], "5", after[0].at_unix);
    other.wallet_id = "v".into();
    book.recorded(std::slice::from_ref(&other));
    check(&mut book, 0);
    drop(vault);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_view_adds_requests_in_flight_and_leaves_out_the_request_itself() {
    let mut rng = Rng(3);
    let entries = history(&mut rng, 50);
    let book = book_of(&entries, 0);
    let own = plain(&entries[10..12]);
    let in_flight = plain(&[entry(500, ASSETS[0], "77", T0 + 10)]);
    let view = LedgerView {
        wallet_id: "w",
        book: &book,
        in_flight,
        own,
    };
    let mut expected_entries: Vec<VelocityEntry> = entries[..10].to_vec();
    expected_entries.extend_from_slice(&entries[12..]);
    expected_entries.push(entry(500, ASSETS[0], "77", T0 + 10));
    let expected = plain(&expected_entries);
    for since in [0, T0, T0 + 11, entries[11].at_unix, entries[11].at_unix + 1] {
        for a in ASSETS.map(asset) {
            assert_eq!(
                view.totals_since("w", &a, since).expect("view"),
                expected.totals_since("w", &a, since).expect("plain"),
                "since {since}"
            );
        }
    }
    // Another wallet sees only what is in flight for it (nothing here).
    let a = asset(ASSETS[0]);
    assert_eq!(view.totals_since("v", &a, 0).expect("view").count, 0);
    // Own entries the book does not hold mean the two disagree: refused, not undercounted.
    let stray = LedgerView {
        wallet_id: "w",
        book: &book_of(&[], 0),
        in_flight: MemoryLedger::new(),
        own: plain(&entries[..1]),
    };
    let a = asset(&entries[0].asset);
    assert!(stray.totals_since("w", &a, 0).is_err());
}

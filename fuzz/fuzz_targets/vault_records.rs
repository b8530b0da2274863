//! `tessera-vault`: a signer's vault file as an attacker with write access to the disk could
//! leave it. A fixture vault (key-file unlock, so no Argon2 run) holds one record of every
//! kind; each input is a list of tampering operations applied with plain SQL to a fresh copy
//! of that file, then the vault is opened (`Vault::open`: SQLite header, application id,
//! schema version and upgrade, planted triggers/views, metadata, KDF kind, DEK unwrap) and
//! every record is read back through the vault's API (identity, setting, committed share and
//! epoch, wallets, aux info, policy record, velocity ledger).
//!
//! Input: repeated `op u8 | len u8 | len bytes`. `op % 19` picks a column (or a pragma), bit 7
//! XORs the bytes into the stored value instead of replacing it.
//!
//! Property: nothing panics, and every record the vault returns is exactly the record that
//! was stored: a sealed record that was altered is refused (`Corrupt`), never read as other
//! bytes (integrity of every AEAD-sealed field and of what its AAD binds).
#![no_main]
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use rusqlite::types::Value;
use tessera_vault::{PolicyRecord, Unlock, Vault, VelocityEntry};

const WALLET: &str = "w1";
const GROUP: [u8; 32] = [9; 32];
const NOW: u64 = 1_700_000_000;

/// The columns an operation may change: `(table, column, where)`.
const COLUMNS: [(&str, &str, &str); 17] = [
    ("identity", "sealed", ""),
    ("settings", "sealed", ""),
    ("settings", "key", ""),
    ("shares", "sealed", ""),
    ("shares", "public_info", ""),
    ("shares", "epoch", ""),
    ("shares", "wallet_id", ""),
    ("epochs", "sealed", ""),
    ("aux", "sealed", ""),
    ("aux", "group_id", ""),
    ("policy", "sealed", ""),
    ("policy", "version", ""),
    ("velocity", "sealed", ""),
    ("velocity", "at", ""),
    ("velocity", "asset", ""),
    ("meta", "value", "WHERE key = 'wrapped_dek'"),
    ("meta", "value", "WHERE key = 'vault_id'"),
];

struct Fixture {
    dir: PathBuf,
    pristine: Vec<u8>,
    identity: Vec<u8>,
    share: Vec<u8>,
    velocity: Vec<VelocityEntry>,
}

impl Fixture {
    fn db(&self) -> PathBuf {
        self.dir.join("vault.db")
    }
    fn unlock(&self) -> Unlock {
        Unlock::KeyFile(self.dir.join("key"))
    }
}

fn fixture() -> &'static Mutex<Fixture> {
    static F: OnceLock<Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        // tmpfs when there is one: the vault fsyncs, and the target rewrites the file per input.
        let base = match PathBuf::from("/dev/shm") {
            shm if shm.is_dir() => shm,
            _ => std::env::temp_dir(),
        };
        let dir = base.join(format!("tessera-fuzz-vault-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        tessera_vault::generate_key_file(&dir.join("key")).expect("key file");
        let identity = vec![0x49; 69];
        let share = b"share bytes (opaque to the vault)".to_vec();
        let velocity = vec![VelocityEntry {
            request_id: "r1".into(),
            intent_hash: [7; 32],
            wallet_id: WALLET.into(),
            asset: "ethereum:mainnet:ETH".into(),
            amount: "1000".into(),
            at_unix: NOW,
        }];
        let f = Fixture {
            dir,
            pristine: Vec::new(),
            identity,
            share,
            velocity,
        };
        {
            let mut v = Vault::create(&f.db(), &f.unlock(), Default::default()).expect("vault");
            v.put_identity(&f.identity).expect("identity");
            v.put_setting("name", "signer-1").expect("setting");
            v.put_share(WALLET, 0, &f.share, r#"{"index":0}"#)
                .expect("share");
            v.put_aux(&GROUP, b"aux info").expect("aux");
            v.put_policy(PolicyRecord::Bundle, 1, "{}").expect("policy");
            v.complete_request("r1", NOW + 100, NOW, &f.velocity)
                .expect("velocity");
        }
        let pristine = std::fs::read(f.db()).expect("vault bytes");
        Mutex::new(Fixture { pristine, ..f })
    })
}

fn value_of(column: &str, bytes: &[u8]) -> Value {
    match column {
        "epoch" | "version" | "at" => {
            let mut b = [0u8; 8];
            let n = bytes.len().min(8);
            b[..n].copy_from_slice(&bytes[..n]);
            Value::Integer(i64::from_le_bytes(b))
        }
        "public_info" | "wallet_id" | "key" | "asset" => {
            Value::Text(String::from_utf8_lossy(bytes).into_owned())
        }
        _ => Value::Blob(bytes.to_vec()),
    }
}

fn xor(old: Value, bytes: &[u8]) -> Value {
    let mix = |v: &mut [u8]| {
        for (a, b) in v.iter_mut().zip(bytes) {
            *a ^= b;
        }
    };
    match old {
        Value::Blob(mut v) => {
            mix(&mut v);
            Value::Blob(v)
        }
        Value::Text(s) => {
            let mut v = s.into_bytes();
            mix(&mut v);
            Value::Text(String::from_utf8_lossy(&v).into_owned())
        }
        Value::Integer(i) => {
            let mut v = i.to_le_bytes();
            mix(&mut v);
            Value::Integer(i64::from_le_bytes(v))
        }
        other => other,
    }
}

fn tamper(conn: &rusqlite::Connection, mut ops: &[u8]) {
    while let [op, len, rest @ ..] = ops {
        let n = usize::from(*len).min(rest.len());
        let (bytes, tail) = rest.split_at(n);
        ops = tail;
        let i = usize::from(op & 0x7f) % (COLUMNS.len() + 2);
        if i == COLUMNS.len() {
            let v = value_of("version", bytes);
            let _ = conn.pragma_update(None, "user_version", v);
            continue;
        }
        if i == COLUMNS.len() + 1 {
            let _ = conn.execute("DELETE FROM epochs", []);
            continue;
        }
        let (table, column, filter) = COLUMNS[i];
        let new = if op & 0x80 != 0 {
            let old: Option<Value> = conn
                .query_row(&format!("SELECT {column} FROM {table} {filter}"), [], |r| {
                    r.get(0)
                })
                .ok();
            match old {
                Some(old) => xor(old, bytes),
                None => continue,
            }
        } else {
            value_of(column, bytes)
        };
        let _ = conn.execute(&format!("UPDATE {table} SET {column} = ?1 {filter}"), [new]);
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture().lock().unwrap_or_else(|e| e.into_inner());
    let db = f.db();
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    std::fs::write(&db, &f.pristine).expect("restore the vault file");
    {
        let conn = rusqlite::Connection::open(&db).expect("raw connection");
        let _ = conn.pragma_update(None, "synchronous", "OFF");
        tamper(&conn, data);
    }
    let Ok(v) = Vault::open(&db, &f.unlock()) else {
        return;
    };
    if let Ok(Some(id)) = v.identity() {
        assert_eq!(
            id.as_slice(),
            f.identity.as_slice(),
            "identity read as other bytes"
        );
    }
    if let Ok(Some(s)) = v.setting("name") {
        assert_eq!(s, "signer-1", "setting read as another value");
    }
    if let Ok(Some(s)) = v.share(WALLET) {
        assert_eq!(
            s.share.as_slice(),
            f.share.as_slice(),
            "share read as other bytes"
        );
        assert_eq!((s.wallet_id.as_str(), s.epoch), (WALLET, 0));
        assert_eq!(
            s.public_info, r#"{"index":0}"#,
            "public info not authenticated"
        );
    }
    if let Ok(Some(e)) = v.committed_epoch(WALLET) {
        assert_eq!(e, 0, "committed epoch read as another epoch");
    }
    if let Ok(ws) = v.wallets() {
        for w in ws {
            assert_eq!((w.wallet_id.as_str(), w.epoch), (WALLET, 0));
            assert_eq!(w.public_info, r#"{"index":0}"#);
        }
    }
    if let Ok(Some(a)) = v.aux(&GROUP) {
        assert_eq!(a.as_slice(), b"aux info", "aux read as other bytes");
    }
    let _ = v.aux_groups();
    if let Ok(Some(p)) = v.policy(PolicyRecord::Bundle) {
        assert_eq!(
            (p.version, p.json.as_str()),
            (1, "{}"),
            "policy record altered"
        );
    }
    if let Ok(entries) = v.velocity_entries(WALLET, 0) {
        for e in &entries {
            assert!(
                f.velocity.contains(e),
                "velocity entry read as another: {e:?}"
            );
        }
    }
});

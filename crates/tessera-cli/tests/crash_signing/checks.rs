//! The campaign-wide invariants, checked from the outside:
//!
//! - **no nonce reused** ([`Ledger::accept`]): every signature the campaign obtains verifies
//!   under the key derived for its path (`tessera_cli::verify`, not the coordinator's check)
//!   and fails for another message; its nonce commitment (R, or ECDSA's r) was never seen in
//!   any other signature of the run, for any wallet;
//! - **no share lost** ([`shares`]): every ready wallet's holders hold a committed share at its
//!   epoch in their vaults on disk, and no other signer holds one;
//! - **audit chains intact** ([`audits`]): the coordinator's export and every signer's own log
//!   verify end to end (hash chain, signed head) and never have fewer entries than before.

use std::collections::{BTreeMap, HashMap};

use tessera_client::ClientError;
use tessera_crypto::{SchemeId, SignMessage, Signature};
use tessera_proto::api::{SessionInfo, WalletInfo};

use super::*;

/// What the campaign has seen: every signature's nonce, the ready wallets and their holders,
/// and the audit logs' sizes.
#[derive(Default)]
pub struct Ledger {
    /// Nonce commitment → (session, signature) that used it.
    nonces: HashMap<Vec<u8>, (String, Signature)>,
    /// Ready wallets: id → (holders as cluster indices, epoch).
    ready: BTreeMap<String, (Vec<usize>, u32)>,
    /// Wallets with a presignature pool, whose presignatures on disk are counted.
    pooled: Vec<String>,
    /// Audit log → entries at the last check.
    audit_entries: HashMap<String, u64>,
    pub disk_reads: u32,
    pub audit_checks: u32,
}

/// The nonce commitment of a signature: R (Schnorr, Ed25519) or r (ECDSA).
fn nonce(sig: &Signature) -> Vec<u8> {
    match sig {
        Signature::Ecdsa { r, .. } => r.to_vec(),
        Signature::Bip340(b) | Signature::Ed25519(b) => b[..32].to_vec(),
    }
}

impl Ledger {
    pub fn signatures(&self) -> usize {
        self.nonces.len()
    }

    /// Records the nonce of `sig` made in `session`; panics when another signature used it.
    fn record_nonce(&mut self, session: &str, sig: &Signature) {
        let key = nonce(sig);
        if let Some((first, earlier)) = self.nonces.get(&key) {
            assert!(
                first == session && earlier == sig,
                "NONCE REUSED: session {session} signed with the nonce of session {first} \
                 ({sig:?} vs {earlier:?})"
            );
            return;
        }
        self.nonces.insert(key, (session.to_string(), sig.clone()));
    }

    /// A wallet that became ready: its holders must keep their shares.
    pub fn ready(&mut self, cluster: &LocalCluster, w: &WalletInfo) {
        self.ready
            .insert(w.wallet_id.clone(), (holders(cluster, w), w.epoch));
        if w.scheme.has_presignatures() && !self.pooled.contains(&w.wallet_id) {
            self.pooled.push(w.wallet_id.clone());
        }
    }

    /// A wallet retired by the campaign: its pool is gone, its shares stay.
    pub fn retired(&mut self, wallet_id: &str) {
        self.pooled.retain(|w| w != wallet_id);
    }
}

/// Verifies a finished session's signature independently and records its nonce; returns it.
pub async fn accept(
    c: &mut Campaign,
    scheme: SchemeId,
    m: &SignMessage,
    s: &SessionInfo,
) -> Signature {
    let path = s.path.as_deref().unwrap_or("m");
    let sig = s
        .signature
        .clone()
        .unwrap_or_else(|| panic!("{}: done without a signature: {s:?}", s.session_id));
    let derived = c.client.derive(&s.wallet_id, path).await.unwrap();
    tessera_cli::verify::verify(scheme, &derived.public_key, m, &sig)
        .unwrap_or_else(|e| panic!("{} at {path}: {e:#}", s.session_id));
    assert!(tessera_cli::verify::verify(
        scheme,
        &derived.public_key,
        &message(scheme, "other"),
        &sig
    )
    .is_err());
    c.ledger.record_nonce(&s.session_id, &sig);
    sig
}

/// Signs `text` with `wallet_id` at `path`, undisturbed, and [`accept`]s the signature.
pub async fn sign_checked(
    c: &mut Campaign,
    scheme: SchemeId,
    wallet_id: &str,
    path: &str,
    text: &str,
) -> SessionInfo {
    let m = message(scheme, text);
    let s = c
        .client
        .sign(&c.op_key, wallet_id, path, &m)
        .await
        .unwrap_or_else(|e| panic!("{wallet_id}: sign {text}: {e}"));
    assert!(
        s.signature.is_some(),
        "{wallet_id}: {text}: not signed: {:?}",
        s.error
    );
    accept(c, scheme, &m, &s).await;
    s
}

/// Reads every signer's vault from disk (each stopped first) and checks that every ready
/// wallet's holders hold their share at its epoch and no one else does; prints how many
/// presignatures each signer holds of the pooled wallets next to the coordinator's pool.
pub async fn shares(c: &mut Campaign) {
    let pooled = c.ledger.pooled.clone();
    let disk = with_vaults(&mut c.cluster, &c.client, |_, vault| {
        let epochs: HashMap<String, u32> = vault
            .wallets()
            .unwrap()
            .into_iter()
            .map(|r| (r.wallet_id, r.epoch))
            .collect();
        let presigs: Vec<usize> = pooled
            .iter()
            .map(|w| vault.presignature_ids(w).unwrap().len())
            .collect();
        (epochs, presigs)
    })
    .await;
    c.ledger.disk_reads += 1;
    for (id, (holders, epoch)) in &c.ledger.ready {
        for (i, (epochs, _)) in disk.iter().enumerate() {
            let held = epochs.get(id).copied();
            if holders.contains(&i) {
                assert_eq!(held, Some(*epoch), "{id}: holder {i} lost its share");
            } else {
                assert_eq!(
                    held, None,
                    "{id}: signer {i} is no holder but holds a share"
                );
            }
        }
    }
    for (k, w) in pooled.iter().enumerate() {
        let held: Vec<usize> = disk.iter().map(|(_, p)| p[k]).collect();
        let pool = c.client.wallet(w).await.unwrap().pool;
        eprintln!("{w}: coordinator pool {pool}, presignatures on disk per signer {held:?}");
    }
}

/// Verifies the coordinator's audit export and every signer's own log end to end; none may
/// have fewer entries than at the last check.
pub async fn audits(c: &mut Campaign) {
    let text = c.client.audit_export().await.unwrap();
    let report = tessera_audit::verify_export(text.as_bytes())
        .unwrap_or_else(|e| panic!("the coordinator's audit log: {e}"));
    grew(c, "coordinator".into(), report.entries);
    let nodes: Vec<_> = c.cluster.file.signers.iter().map(|s| s.node_id).collect();
    for node in nodes {
        // A page the signer does not serve within the coordinator's 10 s (a loaded machine,
        // a log of thousands of entries) is a 504: asked again, as a client would.
        let mut attempt = 0;
        let export = loop {
            attempt += 1;
            match c.client.signer_audit_export(&node).await {
                Err(ClientError::Api { status: 504, .. }) if attempt < 5 => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                other => break other.unwrap_or_else(|e| panic!("signer {node}'s audit log: {e}")),
            }
        };
        grew(c, node.to_string(), export.report.entries);
    }
    c.ledger.audit_checks += 1;
}

fn grew(c: &mut Campaign, log: String, entries: u64) {
    let before = c.ledger.audit_entries.insert(log.clone(), entries);
    assert!(
        before.is_none_or(|b| b <= entries),
        "{log}'s audit log shrank from {before:?} to {entries} entries"
    );
}

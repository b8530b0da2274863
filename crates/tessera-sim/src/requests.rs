//! The requester's side: Solana transfers out of the wallet, each authorized by the operator
//! key for exactly its intent, and the signing jobs the coordinator builds from them.

use serde_json::json;
use tessera_chains::{registry, ChainAdapter, Payload, PublicKey, Registry, WalletKey};
use tessera_crypto::{SchemeId, SignMessage};
use tessera_proto::link::{Job, TxContext};
use tessera_wire::{Action, Authorization, OperatorKey};

use crate::WALLET;

/// A transfer the requester asked for.
#[derive(Clone)]
pub struct Transfer {
    pub lamports: u64,
    pub payload: Payload,
    pub message: SignMessage,
    pub intent_hash: [u8; 32],
}

/// Builds transfers for one wallet.
pub struct Requester {
    chains: Registry,
    public_key: PublicKey,
}

impl Requester {
    pub fn new(public_key: PublicKey) -> Requester {
        Requester {
            chains: registry(),
            public_key,
        }
    }

    fn sol(&self) -> &dyn ChainAdapter {
        self.chains.get("solana").expect("the solana adapter")
    }

    fn key(&self) -> WalletKey<'_> {
        WalletKey {
            scheme: SchemeId::Ed25519,
            public_key: &self.public_key,
        }
    }

    fn address(&self, pk: [u8; 32]) -> String {
        let key = PublicKey::Ed25519(pk);
        let wallet = WalletKey {
            scheme: SchemeId::Ed25519,
            public_key: &key,
        };
        self.sol()
            .address("devnet", wallet)
            .expect("address")
            .address
    }

    /// A transfer of `lamports` to a fixed destination, parsed by the adapter.
    pub fn transfer(&self, lamports: u64) -> Transfer {
        let spec = json!({
            "recent_blockhash": self.address([4; 32]),
            "transfers": [{"to": self.address([9; 32]), "lamports": lamports}]
        });
        let payload = self
            .sol()
            .build("devnet", self.key(), &spec)
            .expect("transfer builds");
        let parsed = self
            .sol()
            .parse("devnet", self.key(), &payload)
            .expect("transfer parses");
        Transfer {
            lamports,
            message: parsed.messages[0].clone(),
            intent_hash: parsed.intent_hash().expect("intent hash"),
            payload,
        }
    }
}

/// The operator's authorization of `t` as request `id`.
pub fn authorize(operator: &OperatorKey, id: &str, t: &Transfer, expires_at: u64) -> Authorization {
    Authorization::sign(
        operator,
        id.to_string(),
        Action::SignTransaction {
            wallet_id: WALLET.into(),
            path: "m".into(),
            chain: "solana".into(),
            network: "devnet".into(),
            intent_hash: t.intent_hash,
        },
        expires_at,
    )
}

fn context(t: &Transfer) -> Option<TxContext> {
    Some(TxContext {
        chain: "solana".into(),
        network: "devnet".into(),
        payload: t.payload.clone(),
        index: 0,
    })
}

fn party_list(parts: &[usize]) -> Vec<u16> {
    parts.iter().map(|&p| p as u16).collect()
}

/// Interactive signing of `t` by `parts`.
pub fn full_job(parts: &[usize], t: &Transfer, authorization: &Authorization) -> Job {
    Job::Sign {
        signers: party_list(parts),
        message: t.message.clone(),
        path: "m".into(),
        authorization: authorization.clone(),
        transaction: context(t),
        policy_version: 1,
        approvals: Vec::new(),
    }
}

/// One-round signing of `t` by `parts` with presignature `id`.
pub fn presigned_job(
    parts: &[usize],
    id: [u8; 32],
    t: &Transfer,
    authorization: &Authorization,
) -> Job {
    Job::SignPresigned {
        presignature: id,
        signers: party_list(parts),
        message: t.message.clone(),
        path: "m".into(),
        authorization: authorization.clone(),
        transaction: context(t),
        policy_version: 1,
        approvals: Vec::new(),
    }
}

/// A presignature for `parts`.
pub fn presign_job(parts: &[usize]) -> Job {
    Job::Presign {
        signers: party_list(parts),
    }
}

//! Key operations (key generation, import, reshare) as requests that can wait for approvals.
//!
//! A [`KeyOperation`] is the request body with the operator's authorization already signed but
//! not yet sent. When the policy makes a key operation need approvals (a quorum of admins, say),
//! the operator writes it to a file, each approver adds an approval over the authorization's
//! request id and `tessera_wire::key_operation_hash` of its action
//! ([`KeyOperation::approve`]), and [`Client::submit_key_operation`] sends it. The coordinator
//! and every holder check the quorum again, each against its own policy.

use serde::{Deserialize, Serialize};
use tessera_crypto::SchemeId;
use tessera_policy::{Approval, ApprovalDecision, SecretKey};
use tessera_proto::api::{CreateWallet, ReshareWallet, RetireWallet, SessionInfo, WalletInfo};
use tessera_wire::{key_operation_hash, Action, Authorization, NodeId, OperatorKey};

use crate::{now_unix, random_id, reshare_dealers, Client, ClientError};

/// Lifetime of a prepared key operation's authorization: long enough for approvers to review
/// it, within the signers' default one-hour limit (`max_authorization_secs`).
pub const PREPARED_TTL_SECS: u64 = 50 * 60;

/// A signed, unsent key-operation request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyOperation {
    /// `POST /v1/wallets`: a key generation, or an import (`import` set).
    CreateWallet(CreateWallet),
    /// `POST /v1/wallets/{wallet_id}/reshare`.
    ReshareWallet {
        /// The wallet.
        wallet_id: String,
        /// The request body.
        request: ReshareWallet,
    },
    /// `POST /v1/wallets/{wallet_id}/retire`.
    RetireWallet {
        /// The wallet.
        wallet_id: String,
        /// The request body.
        request: RetireWallet,
    },
}

/// What a submitted key operation started.
#[derive(Debug, Clone)]
pub enum Submitted {
    /// The new wallet (status `creating`).
    Wallet(WalletInfo),
    /// The reshare session.
    Reshare(SessionInfo),
}

/// A new wallet by key generation.
#[derive(Debug, Clone)]
pub struct NewWallet<'a> {
    /// Wallet id.
    pub wallet_id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Scheme.
    pub scheme: SchemeId,
    /// Threshold.
    pub threshold: u16,
    /// Holders, in party-index order.
    pub signers: Vec<NodeId>,
    /// Networks (any order; sorted here, the form the authorization binds).
    pub networks: &'a [&'a str],
}

/// Sorted, deduplicated networks.
pub(crate) fn canonical_networks(networks: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = networks.iter().map(|n| n.to_string()).collect();
    out.sort();
    out.dedup();
    out
}

impl KeyOperation {
    /// A key generation for `new`, authorized by `operator` for `ttl_secs`.
    pub fn create_wallet(operator: &OperatorKey, new: NewWallet<'_>, ttl_secs: u64) -> Self {
        let networks = canonical_networks(new.networks);
        let action = Action::Keygen {
            wallet_id: new.wallet_id.to_string(),
            scheme: new.scheme,
            threshold: new.threshold,
            signers: new.signers.clone(),
            networks: networks.clone(),
        };
        let authorization =
            Authorization::sign(operator, random_id(), action, now_unix() + ttl_secs);
        KeyOperation::CreateWallet(CreateWallet {
            wallet_id: new.wallet_id.to_string(),
            name: new.name.to_string(),
            scheme: new.scheme,
            threshold: new.threshold,
            signers: new.signers,
            networks,
            authorization,
            import: None,
            approvals: Vec::new(),
        })
    }

    /// The wallet it is about.
    pub fn wallet_id(&self) -> &str {
        match self {
            KeyOperation::CreateWallet(c) => &c.wallet_id,
            KeyOperation::ReshareWallet { wallet_id, .. }
            | KeyOperation::RetireWallet { wallet_id, .. } => wallet_id,
        }
    }

    /// The operator's authorization.
    pub fn authorization(&self) -> &Authorization {
        match self {
            KeyOperation::CreateWallet(c) => &c.authorization,
            KeyOperation::ReshareWallet { request, .. } => &request.authorization,
            KeyOperation::RetireWallet { request, .. } => &request.authorization,
        }
    }

    /// The approvals gathered so far.
    pub fn approvals(&self) -> &[Approval] {
        match self {
            KeyOperation::CreateWallet(c) => &c.approvals,
            KeyOperation::ReshareWallet { request, .. } => &request.approvals,
            KeyOperation::RetireWallet { request, .. } => &request.approvals,
        }
    }

    fn approvals_mut(&mut self) -> &mut Vec<Approval> {
        match self {
            KeyOperation::CreateWallet(c) => &mut c.approvals,
            KeyOperation::ReshareWallet { request, .. } => &mut request.approvals,
            KeyOperation::RetireWallet { request, .. } => &mut request.approvals,
        }
    }

    /// What approvals of this operation sign.
    pub fn intent_hash(&self) -> [u8; 32] {
        key_operation_hash(&self.authorization().action)
    }

    /// One line on what it does, for whoever approves it.
    pub fn describe(&self) -> String {
        let a = self.authorization();
        let what = match &a.action {
            Action::Keygen {
                scheme,
                threshold,
                signers,
                ..
            } => format!(
                "create wallet, {} {threshold}-of-{}",
                scheme.name(),
                signers.len()
            ),
            Action::Import {
                scheme,
                threshold,
                signers,
                public_key,
                ..
            } => format!(
                "import key {} as a {} {threshold}-of-{} wallet",
                public_key.to_hex(),
                scheme.name(),
                signers.len()
            ),
            Action::Reshare {
                epoch,
                threshold,
                signers,
                ..
            } => format!("reshare to epoch {epoch}, {threshold}-of-{}", signers.len()),
            Action::Retire { epoch, .. } => {
                format!("RETIRE the wallet at epoch {epoch}: its holders will sign nothing more")
            }
            Action::Sign { .. } | Action::SignTransaction { .. } => "not a key operation".into(),
        };
        format!(
            "{}: {what}; request {}, operator {}, expires at {}",
            self.wallet_id(),
            a.request_id,
            hex::encode(a.operator.0),
            a.expires_at
        )
    }

    /// Adds `key`'s decision under policy `version`, valid until `expires_at`; replaces an
    /// earlier decision of the same approver.
    pub fn approve(
        &mut self,
        key: &SecretKey,
        decision: ApprovalDecision,
        version: u64,
        expires_at: u64,
    ) {
        let rid = self.authorization().request_id.clone();
        let a = Approval::sign(key, &rid, self.intent_hash(), version, decision, expires_at);
        let list = self.approvals_mut();
        list.retain(|x| x.approver != a.approver);
        list.push(a);
    }
}

impl Client {
    /// A reshare of `wallet_id` among `signers` with `threshold`, authorized by `operator` for
    /// `ttl_secs`, unsent (the dealers and next epoch from the wallet as the coordinator
    /// reports it; holders check both).
    pub async fn prepare_reshare(
        &self,
        operator: &OperatorKey,
        wallet_id: &str,
        threshold: u16,
        signers: Vec<NodeId>,
        ttl_secs: u64,
    ) -> Result<KeyOperation, ClientError> {
        let w = self.wallet(wallet_id).await?;
        let dealers = reshare_dealers(&w.signers, w.threshold, &signers)?;
        let epoch = w
            .epoch
            .checked_add(1)
            .ok_or_else(|| ClientError::Invalid("the wallet's epoch is exhausted".into()))?;
        let action = Action::Reshare {
            wallet_id: wallet_id.to_string(),
            epoch,
            threshold,
            signers: signers.clone(),
            dealers: dealers.clone(),
        };
        let authorization =
            Authorization::sign(operator, random_id(), action, now_unix() + ttl_secs);
        Ok(KeyOperation::ReshareWallet {
            wallet_id: wallet_id.to_string(),
            request: ReshareWallet {
                threshold,
                signers,
                dealers,
                authorization,
                approvals: Vec::new(),
            },
        })
    }

    /// Retirement of `wallet_id` at the epoch the coordinator reports, authorized by
    /// `operator` for `ttl_secs`, unsent (holders check the epoch is theirs).
    pub async fn prepare_retire(
        &self,
        operator: &OperatorKey,
        wallet_id: &str,
        ttl_secs: u64,
    ) -> Result<KeyOperation, ClientError> {
        let w = self.wallet(wallet_id).await?;
        let action = Action::Retire {
            wallet_id: wallet_id.to_string(),
            epoch: w.epoch,
        };
        let authorization =
            Authorization::sign(operator, random_id(), action, now_unix() + ttl_secs);
        Ok(KeyOperation::RetireWallet {
            wallet_id: wallet_id.to_string(),
            request: RetireWallet {
                authorization,
                approvals: Vec::new(),
            },
        })
    }

    /// Sends a prepared key operation; returns what it started.
    pub async fn submit_key_operation(&self, op: &KeyOperation) -> Result<Submitted, ClientError> {
        match op {
            KeyOperation::CreateWallet(c) => {
                Ok(Submitted::Wallet(self.post("/v1/wallets", c).await?))
            }
            KeyOperation::RetireWallet { wallet_id, request } => Ok(Submitted::Wallet(
                self.post(&format!("/v1/wallets/{wallet_id}/retire"), request)
                    .await?,
            )),
            KeyOperation::ReshareWallet { wallet_id, request } => Ok(Submitted::Reshare(
                self.post(&format!("/v1/wallets/{wallet_id}/reshare"), request)
                    .await?,
            )),
        }
    }

    /// The policy version approvals are signed under: the one the coordinator reports in force.
    pub async fn policy_version(&self) -> Result<u64, ClientError> {
        Ok(self.policy_bundle().await?.bundle.version)
    }
}

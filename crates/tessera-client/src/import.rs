//! `Client::import_wallet`: deals an existing single-signature key to a new wallet's holders.
//!
//! The key is dealt here, in the importing process (the one place the whole key is), as one
//! Feldman-verifiable Shamir sharing (`tessera_crypto::reshare::import`); each holder's share is
//! sealed to the X25519 key that holder's identity key signed (checked here, so a coordinator
//! cannot substitute a key of its own), and the operator's `Action::Import` binds the key, the
//! chain code and the package's digest. The coordinator relays the package and sees no share.

use tessera_crypto::reshare::import;
use tessera_crypto::{PublicKey, SchemeId, ThresholdParams};
use tessera_proto::api::{CreateWallet, SignerInfo, WalletInfo};
use tessera_wire::{
    Action, Authorization, ImportPackage, NodeId, OperatorKey, PublicIdentity, SignedIdentity,
};

use crate::keyop::{KeyOperation, Submitted};
use crate::{now_unix, random_id, Client, ClientError, AUTHORIZATION_TTL_SECS};

/// The wallet an import creates.
#[derive(Debug, Clone)]
pub struct NewImport<'a> {
    /// Wallet id.
    pub wallet_id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Scheme (its curve must be the key's).
    pub scheme: SchemeId,
    /// Threshold.
    pub threshold: u16,
    /// The holders, in party-index order, as their identity keys signed their X25519 keys
    /// (from [`signed_identities`] or the operator's own records).
    pub signers: Vec<SignedIdentity>,
    /// Networks the wallet may sign chain payloads on (any order; sorted here).
    pub networks: &'a [&'a str],
    /// The chain code the wallet keeps.
    pub chain_code: [u8; 32],
}

impl Client {
    /// Creates wallet `new` from the private key `secret` (the scheme curve's encoding:
    /// secp256k1 big-endian, Ed25519 the signing scalar little-endian), authorized by
    /// `operator`; returns at once, the holders complete their shares (poll the wallet).
    /// Returns the key the wallet will have alongside the wallet.
    pub async fn import_wallet(
        &self,
        operator: &OperatorKey,
        new: NewImport<'_>,
        secret: &[u8; 32],
    ) -> Result<(PublicKey, WalletInfo), ClientError> {
        let (key, op) = prepare_import(operator, new, secret, AUTHORIZATION_TTL_SECS)?;
        match self.submit_key_operation(&op).await? {
            Submitted::Wallet(w) => Ok((key, w)),
            Submitted::Reshare(_) => Err(ClientError::Invalid("not a wallet".into())),
        }
    }
}

/// The import of `secret` as wallet `new`, dealt, sealed and authorized by `operator` for
/// `ttl_secs`, unsent (no network: the holders' signed identities are in `new`); with the key
/// the wallet will have. Every copy of the secret made here is zeroized before it returns.
pub fn prepare_import(
    operator: &OperatorKey,
    new: NewImport<'_>,
    secret: &[u8; 32],
    ttl_secs: u64,
) -> Result<(PublicKey, KeyOperation), ClientError> {
    let recipients = new
        .signers
        .iter()
        .map(|s| {
            s.verify().map_err(|_| {
                ClientError::Invalid(format!(
                    "signer {}: its key-exchange key is not signed by its identity key",
                    s.identity.node_id()
                ))
            })
        })
        .collect::<Result<Vec<PublicIdentity>, _>>()?;
    let node_ids: Vec<NodeId> = recipients.iter().map(PublicIdentity::node_id).collect();
    let n = new.signers.len() as u16;
    let params = ThresholdParams::new(new.threshold, n)
        .map_err(|e| ClientError::Invalid(format!("threshold: {e}")))?;
    let dealing = import::deal(new.scheme, secret, params)
        .map_err(|e| ClientError::Invalid(format!("import: {e}")))?;
    let request_id = random_id();
    let package = ImportPackage::seal(
        new.wallet_id,
        &request_id,
        &recipients,
        dealing.commitments.clone(),
        &dealing.shares,
        &mut rand_core::OsRng,
    )
    .map_err(|e| ClientError::Invalid(format!("sealing the shares: {e}")))?;
    drop(dealing.shares);
    let networks = crate::keyop::canonical_networks(new.networks);
    let action = Action::Import {
        wallet_id: new.wallet_id.to_string(),
        scheme: new.scheme,
        threshold: new.threshold,
        signers: node_ids.clone(),
        networks: networks.clone(),
        public_key: dealing.public_key.clone(),
        chain_code: new.chain_code,
        package: package.digest(),
    };
    let expires = now_unix() + ttl_secs;
    let authorization = Authorization::sign(operator, request_id, action, expires);
    let request = CreateWallet {
        wallet_id: new.wallet_id.to_string(),
        name: new.name.to_string(),
        scheme: new.scheme,
        threshold: new.threshold,
        signers: node_ids,
        networks,
        authorization,
        import: Some(package),
        approvals: Vec::new(),
    };
    Ok((dealing.public_key, KeyOperation::CreateWallet(request)))
}

/// The signed identities of `signers` (node ids, in order) as the coordinator lists them
/// (`GET /v1/signers`, for the viewer role); each is checked by [`Client::import_wallet`].
pub fn signed_identities(
    known: &[SignerInfo],
    signers: &[NodeId],
) -> Result<Vec<SignedIdentity>, ClientError> {
    signers
        .iter()
        .map(|id| {
            let info = known
                .iter()
                .find(|s| s.node_id == *id)
                .ok_or_else(|| ClientError::Invalid(format!("signer {id} is not enrolled")))?;
            if info.identity.node_id() != *id {
                return Err(ClientError::Invalid(format!(
                    "signer {id}: the coordinator lists another identity"
                )));
            }
            Ok(SignedIdentity {
                identity: info.identity,
                proof: info.identity_proof,
            })
        })
        .collect()
}

//! A typed client of the coordinator's REST API, and the requester's and approver's sides of
//! authorization: every wallet creation and signature request is signed with the operator
//! (requester) key before it is sent, approvals are signed with the approver's key over an
//! intent hash this client recomputed itself where it can, and every signer checks all of it
//! again on its own.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera_chains::{Parsed, Payload, WalletKey};
use tessera_crypto::{hd, DerivationPath, PublicKey, SchemeId, SignMessage};
use tessera_policy::{Approval, ApprovalDecision, Freshness, ModeChange, SecretKey, SignedBundle};
use tessera_proto::api::{
    ApiError, BuildTransaction, ClusterStatus, CreateTransaction, DerivedKey, EnrollSigner,
    MessageInput, ModeStatus, PayloadInput, PolicyInfo, RequestInfo, RequestState, SessionInfo,
    SignRequest, SignerInfo, TransactionInfo, TransactionPreview, WalletInfo,
};
use tessera_proto::attestation::{verify_wallet, VouchError, Vouched};
use tessera_proto::audit::{
    AuditPage, ExportBuilder, SignerAuditError, VerifiedSignerExport, MAX_AUDIT_PAGE,
};
use tessera_proto::roles::{route_for, Access, Role};
use tessera_proto::view::SignedView;
use tessera_wire::{
    authorized_message, message_intent_hash, Action, Authorization, NodeId, OperatorKey,
    SignedIdentity,
};

/// Client errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The coordinator answered with an error body.
    #[error("{status}: {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable error code.
        code: String,
        /// Message.
        message: String,
        /// The request field the error is about, when the coordinator named one.
        field: Option<String>,
    },
    /// The chain adapter refused the payload locally (before anything was sent).
    #[error("{0}")]
    Chain(#[from] tessera_chains::ChainError),
    /// Network / TLS failure.
    #[error("cannot reach the coordinator: {0}")]
    Transport(String),
    /// Bad local input or configuration.
    #[error("{0}")]
    Invalid(String),
    /// The wallet's key is not vouched for by enough of this client's trusted signers: the
    /// coordinator reports a key, roster or chain code its signers did not attest.
    #[error("wallet {wallet}: {source}")]
    Vouch {
        /// The wallet.
        wallet: String,
        /// What failed.
        source: VouchError,
    },
    /// A signer's audit log, as the coordinator relayed it, does not verify against the head
    /// the signer signed: cut off, edited, rewritten, replayed or not that signer's.
    #[error("signer {node}: {source}")]
    SignerAudit {
        /// The signer asked for.
        node: NodeId,
        /// What failed.
        source: SignerAuditError,
    },
}

/// How long an authorization stays valid (and so how long a request may wait for approvals).
pub const AUTHORIZATION_TTL_SECS: u64 = 300;

/// How long an approval stays valid by default.
pub const APPROVAL_TTL_SECS: u64 = 300;

/// How often [`Client::wait_request`] polls.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A coordinator API client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    tokens: std::sync::Arc<[RoleToken]>,
    /// Signers this client knows out of band; wallet keys are vouched for against them.
    trusted: Arc<Vec<NodeId>>,
}

/// A bearer token and the role it was issued for (`None`: unknown, sent on every call).
#[derive(Clone)]
struct RoleToken {
    role: Option<Role>,
    token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The child key of a wallet record's root at `path`, derived locally (for a record
/// [`Client::vouched_wallet`] accepted: the coordinator's own derivation is not used).
pub fn child_key(w: &WalletInfo, path: &str) -> Result<PublicKey, ClientError> {
    let (Some(root), Some(cc)) = (&w.public_key, &w.chain_code) else {
        return Err(ClientError::Invalid(format!(
            "wallet {} has no key yet",
            w.wallet_id
        )));
    };
    let cc: [u8; 32] = hex::decode(cc)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ClientError::Invalid("the wallet's chain code is malformed".into()))?;
    let path = DerivationPath::parse(path)
        .map_err(|e| ClientError::Invalid(format!("path {path:?}: {e}")))?;
    hd::derive_public_key(root, &cc, &path).map_err(|e| ClientError::Invalid(e.to_string()))
}

/// The dealers of a reshare from `current` (threshold `t`) to `new`: the first `t` current
/// holders that stay, as `(new index, current index)`. [`ClientError::Invalid`] if fewer than
/// `t` stay (to move to other hosts, reshare through an overlapping set first).
pub fn reshare_dealers(
    current: &[NodeId],
    t: u16,
    new: &[NodeId],
) -> Result<Vec<(u16, u16)>, ClientError> {
    let dealers: Vec<(u16, u16)> = current
        .iter()
        .enumerate()
        .filter_map(|(old, node)| {
            let new = new.iter().position(|n| n == node)?;
            Some((u16::try_from(new).ok()?, u16::try_from(old).ok()?))
        })
        .take(usize::from(t))
        .collect();
    if dealers.len() < usize::from(t) {
        return Err(ClientError::Invalid(format!(
            "only {} current holders stay; a reshare needs {t} of them to deal",
            dealers.len()
        )));
    }
    Ok(dealers)
}

/// A fresh random id (hex, 16 bytes).
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    hex::encode(b)
}

impl Client {
    /// A client for `base` (`https://host:port`) trusting only `ca_pem`, sending `token` (of
    /// whatever role) on every call.
    pub fn new(base: &str, ca_pem: &str, token: &str) -> Result<Client, ClientError> {
        Client::build(
            base,
            ca_pem,
            vec![RoleToken {
                role: None,
                token: token.to_string(),
            }],
        )
    }

    /// A client holding the tokens of several roles: each call sends the token of a role the
    /// route table ([`tessera_proto::roles::ROUTES`]) allows on it.
    pub fn with_role_tokens(
        base: &str,
        ca_pem: &str,
        tokens: impl IntoIterator<Item = (Role, String)>,
    ) -> Result<Client, ClientError> {
        let tokens = tokens
            .into_iter()
            .map(|(role, token)| RoleToken {
                role: Some(role),
                token,
            })
            .collect();
        Client::build(base, ca_pem, tokens)
    }

    fn build(base: &str, ca_pem: &str, tokens: Vec<RoleToken>) -> Result<Client, ClientError> {
        let tls =
            tessera_tls::client_config(ca_pem).map_err(|e| ClientError::Invalid(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .pool_max_idle_per_host(64)
            // Below the coordinator's header read timeout (10 s by default), which also closes
            // idle keep-alive connections: a pooled connection is dropped here before the
            // server closes it, not reused as it does.
            .pool_idle_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(900))
            .build()
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            tokens: tokens.into(),
            trusted: Arc::new(Vec::new()),
        })
    }

    /// This client, trusting `signers` (node ids learned out of band — a cluster file, an
    /// operator's enrolment records — never from the coordinator) to vouch for wallet keys.
    pub fn with_trusted_signers(mut self, signers: Vec<NodeId>) -> Client {
        self.trusted = Arc::new(signers);
        self
    }

    /// The token to send on `method path`: one of a role allowed there, else the first held
    /// (the coordinator then answers 403 `forbidden_role`).
    fn token_for(&self, method: &str, path: &str) -> &str {
        let allowed = match route_for(method, path).map(|r| r.access) {
            Some(Access::Roles(allowed)) => allowed,
            _ => &[],
        };
        self.tokens
            .iter()
            .find(|t| t.role.is_some_and(|r| allowed.contains(&r)))
            .or_else(|| self.tokens.first())
            .map(|t| t.token.as_str())
            .unwrap_or("")
    }

    /// A request to `path` with the token for it.
    fn http_request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let token = self.token_for(method.as_str(), path);
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if status.is_success() {
            serde_json::from_slice(&body)
                .map_err(|e| ClientError::Invalid(format!("unexpected response: {e}")))
        } else {
            let err: ApiError = serde_json::from_slice(&body).unwrap_or(ApiError {
                error: "http".into(),
                message: String::from_utf8_lossy(&body).into_owned(),
                field: None,
            });
            Err(ClientError::Api {
                status: status.as_u16(),
                code: err.error,
                message: err.message,
                field: err.field,
            })
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(self.http_request(reqwest::Method::GET, path))
            .await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(self.http_request(reqwest::Method::POST, path).json(body))
            .await
    }

    async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(self.http_request(reqwest::Method::PUT, path).json(body))
            .await
    }

    /// `GET /healthz` succeeded.
    pub async fn healthy(&self) -> bool {
        matches!(
            self.http.get(format!("{}/healthz", self.base)).send().await,
            Ok(r) if r.status().is_success()
        )
    }

    /// Raw GET returning text (metrics, OpenAPI).
    pub async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let r = self
            .http_request(reqwest::Method::GET, path)
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        r.text()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))
    }

    /// Enrolls a signer.
    pub async fn enroll(
        &self,
        name: &str,
        identity: SignedIdentity,
    ) -> Result<SignerInfo, ClientError> {
        self.post(
            "/v1/signers",
            &EnrollSigner {
                name: name.to_string(),
                identity,
            },
        )
        .await
    }

    /// Enrolled signers.
    pub async fn signers(&self) -> Result<Vec<SignerInfo>, ClientError> {
        self.get("/v1/signers").await
    }

    /// Cluster overview.
    pub async fn status(&self) -> Result<ClusterStatus, ClientError> {
        self.get("/v1/status").await
    }

    /// Creates a wallet (authorized by `operator`) that may sign chain payloads on `networks`
    /// (`chain:network`, any order: they are sorted and deduplicated here, the form the
    /// authorization binds); returns at once, key generation runs. A policy that makes key
    /// generation need approvals needs [`KeyOperation`] instead.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_wallet(
        &self,
        operator: &OperatorKey,
        wallet_id: &str,
        name: &str,
        scheme: SchemeId,
        threshold: u16,
        signers: Vec<NodeId>,
        networks: &[&str],
    ) -> Result<WalletInfo, ClientError> {
        let new = keyop::NewWallet {
            wallet_id,
            name,
            scheme,
            threshold,
            signers,
            networks,
        };
        let op = KeyOperation::create_wallet(operator, new, AUTHORIZATION_TTL_SECS);
        match self.submit_key_operation(&op).await? {
            keyop::Submitted::Wallet(w) => Ok(w),
            keyop::Submitted::Reshare(_) => Err(ClientError::Invalid("not a wallet".into())),
        }
    }

    /// Gives the wallet's key new shares among `signers` (new party order) with `threshold`,
    /// authorized by `operator`: a proactive refresh when both are the wallet's current ones,
    /// a replaced signer, or a new threshold and set. The dealers are the first current
    /// holders kept in the new set ([`reshare_dealers`]). Returns the reshare session at once
    /// (poll it with [`session`](Self::session)); the key and addresses never change.
    pub async fn reshare_wallet(
        &self,
        operator: &OperatorKey,
        wallet_id: &str,
        threshold: u16,
        signers: Vec<NodeId>,
    ) -> Result<SessionInfo, ClientError> {
        let op = self
            .prepare_reshare(
                operator,
                wallet_id,
                threshold,
                signers,
                AUTHORIZATION_TTL_SECS,
            )
            .await?;
        match self.submit_key_operation(&op).await? {
            keyop::Submitted::Reshare(s) => Ok(s),
            keyop::Submitted::Wallet(_) => Err(ClientError::Invalid("not a reshare".into())),
        }
    }

    /// Wallets.
    pub async fn wallets(&self) -> Result<Vec<WalletInfo>, ClientError> {
        self.get("/v1/wallets").await
    }

    /// One wallet.
    pub async fn wallet(&self, id: &str) -> Result<WalletInfo, ClientError> {
        self.get(&format!("/v1/wallets/{id}")).await
    }

    /// One wallet, accepted only if at least its threshold of this client's trusted signers
    /// attested exactly its key, chain code, roster and parameters
    /// ([`tessera_proto::attestation::verify_wallet`]); with the signers that vouched.
    pub async fn vouched_wallet(&self, id: &str) -> Result<(WalletInfo, Vouched), ClientError> {
        self.has_trusted()?;
        let w = self.wallet(id).await?;
        let vouched = self.vouch(&w)?;
        Ok((w, vouched))
    }

    /// Whether trusted signers are configured ([`ClientError::Invalid`] if not).
    pub fn has_trusted(&self) -> Result<(), ClientError> {
        if self.trusted.is_empty() {
            return Err(ClientError::Invalid(
                "no trusted signers are configured, so no wallet key can be vouched for".into(),
            ));
        }
        Ok(())
    }

    /// Checks a wallet record already fetched (for example from [`Client::wallets`]) as
    /// [`Client::vouched_wallet`] does, without another request.
    pub fn vouch(&self, w: &WalletInfo) -> Result<Vouched, ClientError> {
        self.has_trusted()?;
        verify_wallet(w, &self.trusted).map_err(|source| ClientError::Vouch {
            wallet: w.wallet_id.clone(),
            source,
        })
    }

    /// The wallet's public key at `path`, derived here from the vouched root key and chain
    /// code (the coordinator's own derivation is not used).
    pub async fn vouched_key(
        &self,
        id: &str,
        path: &str,
    ) -> Result<(WalletInfo, PublicKey, Vouched), ClientError> {
        let (w, vouched) = self.vouched_wallet(id).await?;
        let key = child_key(&w, path)?;
        Ok((w, key, vouched))
    }

    /// A derived public key, as the coordinator computes it (see [`vouched_key`](Self::vouched_key)
    /// for one derived locally from a vouched root).
    pub async fn derive(&self, id: &str, path: &str) -> Result<DerivedKey, ClientError> {
        self.get(&format!("/v1/wallets/{id}/keys?path={path}"))
            .await
    }

    /// Builds an authorized sign request.
    pub fn sign_request(
        operator: &OperatorKey,
        wallet_id: &str,
        path: &str,
        message: &SignMessage,
    ) -> Result<SignRequest, ClientError> {
        let request_id = random_id();
        let m = authorized_message(message).map_err(|e| ClientError::Invalid(e.to_string()))?;
        let authorization = Authorization::sign(
            operator,
            request_id.clone(),
            Action::Sign {
                wallet_id: wallet_id.to_string(),
                path: path.to_string(),
                messages: vec![m],
            },
            now_unix() + AUTHORIZATION_TTL_SECS,
        );
        Ok(SignRequest {
            request_id,
            message: MessageInput::from_sign_message(message),
            path: path.to_string(),
            authorization,
        })
    }

    /// Submits a sign request; with `wait`, returns the finished session.
    pub async fn submit(
        &self,
        wallet_id: &str,
        req: &SignRequest,
        wait: bool,
    ) -> Result<SessionInfo, ClientError> {
        self.post(
            &format!("/v1/wallets/{wallet_id}/signatures?wait={wait}"),
            req,
        )
        .await
    }

    /// Signs `message` with the wallet's key at `path`, waiting for the result.
    pub async fn sign(
        &self,
        operator: &OperatorKey,
        wallet_id: &str,
        path: &str,
        message: &SignMessage,
    ) -> Result<SessionInfo, ClientError> {
        let req = Self::sign_request(operator, wallet_id, path, message)?;
        self.submit(wallet_id, &req, true).await
    }

    /// A session; waits up to `wait_ms` for it to finish.
    pub async fn session(
        &self,
        id: &str,
        wait_ms: Option<u64>,
    ) -> Result<SessionInfo, ClientError> {
        match wait_ms {
            Some(ms) => self.get(&format!("/v1/sessions/{id}?wait_ms={ms}")).await,
            None => self.get(&format!("/v1/sessions/{id}")).await,
        }
    }

    /// Recent sessions.
    pub async fn sessions(&self, limit: u32) -> Result<Vec<SessionInfo>, ClientError> {
        self.get(&format!("/v1/sessions?limit={limit}")).await
    }

    /// Asks the coordinator to parse (or build) a payload and show its intent; signs nothing.
    pub async fn preview_transaction(
        &self,
        wallet_id: &str,
        req: &BuildTransaction,
    ) -> Result<TransactionPreview, ClientError> {
        self.post(&format!("/v1/wallets/{wallet_id}/transactions/build"), req)
            .await
    }

    /// Resolves `input` to a raw payload and parses it **locally** with this client's own chain
    /// adapter against the wallet key at `path` — derived here from the vouched root when the
    /// client has trusted signers, else fetched from the coordinator (a coordinator that lies
    /// about the key then only makes the signers refuse, as they derive it themselves).
    /// This is what the operator authorizes: nothing the coordinator computed.
    pub async fn parse_local(
        &self,
        wallet_id: &str,
        chain: &str,
        network: &str,
        path: &str,
        input: &PayloadInput,
    ) -> Result<(Payload, Parsed), ClientError> {
        let (wallet, key) = if self.trusted.is_empty() {
            let wallet = self.wallet(wallet_id).await?;
            let key = self.derive(wallet_id, path).await?.public_key;
            (wallet, key)
        } else {
            let (wallet, key, _) = self.vouched_key(wallet_id, path).await?;
            (wallet, key)
        };
        let registry = tessera_chains::registry();
        let adapter = registry.get(chain)?;
        let wk = WalletKey {
            scheme: wallet.scheme,
            public_key: &key,
        };
        let payload = match (input.raw(), input) {
            (Some(raw), _) => raw.map_err(ClientError::Invalid)?,
            (None, PayloadInput::Builder { spec }) => adapter.build(network, wk, spec)?,
            (None, _) => return Err(ClientError::Invalid("unknown payload form".into())),
        };
        let parsed = adapter.parse(network, wk, &payload)?;
        Ok((payload, parsed))
    }

    /// Builds an authorized transaction request for a payload parsed with
    /// [`parse_local`](Self::parse_local).
    #[allow(clippy::too_many_arguments)]
    pub fn transaction_request(
        operator: &OperatorKey,
        wallet_id: &str,
        chain: &str,
        network: &str,
        path: &str,
        payload: &Payload,
        parsed: &Parsed,
    ) -> Result<CreateTransaction, ClientError> {
        let request_id = random_id();
        let intent_hash = parsed.intent_hash()?;
        let authorization = Authorization::sign(
            operator,
            request_id.clone(),
            Action::SignTransaction {
                wallet_id: wallet_id.to_string(),
                path: path.to_string(),
                chain: chain.to_string(),
                network: network.to_string(),
                intent_hash,
            },
            now_unix() + AUTHORIZATION_TTL_SECS,
        );
        Ok(CreateTransaction {
            request_id,
            chain: chain.to_string(),
            network: network.to_string(),
            path: path.to_string(),
            payload: PayloadInput::Hex {
                format: payload.format.clone(),
                data: hex::encode(&payload.bytes),
            },
            authorization,
        })
    }

    /// Submits a transaction request; with `wait`, returns the finished request.
    pub async fn submit_transaction(
        &self,
        wallet_id: &str,
        req: &CreateTransaction,
        wait: bool,
    ) -> Result<TransactionInfo, ClientError> {
        self.post(
            &format!("/v1/wallets/{wallet_id}/transactions?wait={wait}"),
            req,
        )
        .await
    }

    /// Parses `input` locally, authorizes its intent hash with `operator` and signs it,
    /// waiting for the signed transaction.
    pub async fn sign_transaction(
        &self,
        operator: &OperatorKey,
        wallet_id: &str,
        chain: &str,
        network: &str,
        path: &str,
        input: &PayloadInput,
    ) -> Result<TransactionInfo, ClientError> {
        let (payload, parsed) = self
            .parse_local(wallet_id, chain, network, path, input)
            .await?;
        let req = Self::transaction_request(
            operator, wallet_id, chain, network, path, &payload, &parsed,
        )?;
        self.submit_transaction(wallet_id, &req, true).await
    }

    /// A transaction request; waits up to `wait_ms` for it to finish.
    pub async fn transaction(
        &self,
        wallet_id: &str,
        request_id: &str,
        wait_ms: Option<u64>,
    ) -> Result<TransactionInfo, ClientError> {
        let q = wait_ms
            .map(|ms| format!("?wait_ms={ms}"))
            .unwrap_or_default();
        self.get(&format!(
            "/v1/wallets/{wallet_id}/transactions/{request_id}{q}"
        ))
        .await
    }

    /// A wallet's transaction requests, newest first.
    pub async fn transactions(&self, wallet_id: &str) -> Result<Vec<TransactionInfo>, ClientError> {
        self.get(&format!("/v1/wallets/{wallet_id}/transactions"))
            .await
    }

    // ------------------------------------------------------------------ policy and mode

    /// Installs a policy bundle at the coordinator, which pushes it to every signer (each
    /// accepts it only if its own admins signed it). Re-sending the bundle in force is a no-op.
    pub async fn put_policy(&self, bundle: &SignedBundle) -> Result<PolicyInfo, ClientError> {
        self.put("/v1/policy", bundle).await
    }

    /// The policy version and mode in force, and which signers report the same version.
    pub async fn policy(&self) -> Result<PolicyInfo, ClientError> {
        self.get("/v1/policy").await
    }

    /// The operating mode in force and what signer health calls for.
    pub async fn mode_status(&self) -> Result<ModeStatus, ClientError> {
        self.get("/v1/mode").await
    }

    /// The policy bundle in force, with its admin signatures (`no_policy` if none).
    pub async fn policy_bundle(&self) -> Result<SignedBundle, ClientError> {
        self.get("/v1/policy/bundle").await
    }

    /// Applies an admin-signed operating-mode change (pushed to every signer).
    pub async fn put_mode(&self, change: &ModeChange) -> Result<PolicyInfo, ClientError> {
        self.put("/v1/mode", change).await
    }

    /// Delivers an admin-signed freshness statement about the bundle and mode change in force
    /// (pushed to every signer, each of which checks it against its own policy).
    pub async fn put_freshness(&self, statement: &Freshness) -> Result<PolicyInfo, ClientError> {
        self.put("/v1/policy/freshness", statement).await
    }

    // ------------------------------------------------------------------ requests and approvals

    /// Signing requests (transactions and digests), newest first, optionally in one state.
    pub async fn requests(
        &self,
        state: Option<RequestState>,
    ) -> Result<Vec<RequestInfo>, ClientError> {
        match state {
            Some(s) => {
                let name = serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .ok_or_else(|| ClientError::Invalid("request state has no name".into()))?;
                self.get(&format!("/v1/requests?state={name}")).await
            }
            None => self.get("/v1/requests").await,
        }
    }

    /// One signing request.
    pub async fn request(&self, request_id: &str) -> Result<RequestInfo, ClientError> {
        self.get(&format!("/v1/requests/{}", path_segment(request_id)))
            .await
    }

    /// Submits a signed approval or rejection.
    pub async fn submit_approval(
        &self,
        request_id: &str,
        approval: &Approval,
    ) -> Result<RequestInfo, ClientError> {
        self.post(
            &format!("/v1/requests/{}/approvals", path_segment(request_id)),
            approval,
        )
        .await
    }

    /// A transaction request's intent as this client sees it: the raw payload fetched from the
    /// coordinator and parsed with this client's **own** chain adapter (against the wallet key
    /// at the request's path), with its own rendering and intent hash. Nothing here is the
    /// coordinator's parse; compare with what it reported with [`LocalIntent::mismatches`].
    /// A request without chain payload (`kind` other than `transaction`) has nothing to parse:
    /// [`ClientError::Invalid`].
    pub async fn local_intent(&self, info: &RequestInfo) -> Result<LocalIntent, ClientError> {
        if info.kind != "transaction" {
            return Err(ClientError::Invalid(format!(
                "request {} carries no chain payload to parse",
                info.request_id
            )));
        }
        let tx = self
            .transaction(&info.wallet_id, &info.request_id, None)
            .await?;
        let input = PayloadInput::Hex {
            format: tx.payload.format.clone(),
            data: hex::encode(&tx.payload.bytes),
        };
        let (payload, parsed) = self
            .parse_local(&info.wallet_id, &tx.chain, &tx.network, &tx.path, &input)
            .await?;
        let intent_hash = parsed.intent_hash()?;
        Ok(LocalIntent {
            chain: tx.chain,
            network: tx.network,
            path: tx.path,
            payload,
            parsed,
            intent_hash,
        })
    }

    /// The intent hash an approver of `info` signs, recomputed here where possible: for a
    /// transaction, [`local_intent`](Self::local_intent) re-parses the raw payload with this
    /// client's own adapter, and this refuses if the coordinator reported another hash, intent,
    /// summary or risk flags ([`LocalIntent::mismatches`]). For a request without chain payload
    /// the hash is recomputed from the wallet, path and message the coordinator shows
    /// ([`message_request_hash`]), so a transaction presented as a message is refused (for a
    /// raw digest nobody can see what is signed: its summary says so).
    pub async fn verified_intent_hash(&self, info: &RequestInfo) -> Result<[u8; 32], ClientError> {
        if info.kind != "transaction" {
            return message_request_hash(info);
        }
        let local = self.local_intent(info).await?;
        let mismatches = local.mismatches(info);
        if !mismatches.is_empty() {
            return Err(ClientError::Invalid(format!(
                "the coordinator reports another {} than the payload parsed here \
                 (intent hash {} here): not approving",
                mismatches.join(", "),
                hex::encode(local.intent_hash)
            )));
        }
        Ok(local.intent_hash)
    }

    /// Signs an approval (or rejection) of `info` with `approver`, over the intent hash from
    /// [`verified_intent_hash`](Self::verified_intent_hash) and the policy version the request
    /// was evaluated under, valid for `ttl_secs`.
    pub async fn approval(
        &self,
        approver: &SecretKey,
        info: &RequestInfo,
        decision: ApprovalDecision,
        ttl_secs: u64,
    ) -> Result<Approval, ClientError> {
        let hash = self.verified_intent_hash(info).await?;
        let version = info.policy.as_ref().map(|p| p.version).ok_or_else(|| {
            ClientError::Invalid(format!("request {} has no policy outcome", info.request_id))
        })?;
        Ok(Approval::sign(
            approver,
            &info.request_id,
            hash,
            version,
            decision,
            now_unix() + ttl_secs,
        ))
    }

    /// Fetches a request, signs `decision` on it with `approver` (see
    /// [`approval`](Self::approval)) and submits it.
    pub async fn decide(
        &self,
        approver: &SecretKey,
        request_id: &str,
        decision: ApprovalDecision,
    ) -> Result<RequestInfo, ClientError> {
        let info = self.request(request_id).await?;
        let approval = self
            .approval(approver, &info, decision, APPROVAL_TTL_SECS)
            .await?;
        self.submit_approval(request_id, &approval).await
    }

    /// Polls a request until it is final (`until_final`), or until it is final or awaiting
    /// approvals, for at most `timeout` (then returns it as it is).
    pub async fn wait_request(
        &self,
        request_id: &str,
        until_final: bool,
        timeout: Duration,
    ) -> Result<RequestInfo, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let info = self.request(request_id).await?;
            let settled = info.state.is_final()
                || (!until_final && info.state == RequestState::AwaitingApprovals);
            if settled || tokio::time::Instant::now() >= deadline {
                return Ok(info);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    // ------------------------------------------------------------------ audit

    /// The coordinator's audit log as JSON Lines (verify it with
    /// `tessera_audit::verify_export`).
    pub async fn audit_export(&self) -> Result<String, ClientError> {
        let resp = self
            .http_request(reqwest::Method::GET, "/v1/audit/export")
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if status.is_success() {
            return Ok(body);
        }
        let err: ApiError = serde_json::from_str(&body).unwrap_or(ApiError {
            error: "http".into(),
            message: body,
            field: None,
        });
        Err(ClientError::Api {
            status: status.as_u16(),
            code: err.error,
            message: err.message,
            field: err.field,
        })
    }
}

/// How often [`Client::signer_audit_export`] asks again when a signer is busy.
const SIGNER_BUSY_RETRIES: u32 = 20;

impl Client {
    /// One page of signer `node`'s own audit log as the coordinator relays it, **unverified**
    /// (`GET /v1/signers/{node_id}/audit`): use [`Client::signer_audit_export`], or feed it to
    /// a `tessera_proto::audit::ExportBuilder` with the same `challenge`.
    pub async fn signer_audit_page(
        &self,
        node: &NodeId,
        from_seq: u64,
        limit: u32,
        challenge: &[u8; 32],
    ) -> Result<AuditPage, ClientError> {
        self.get(&format!(
            "/v1/signers/{node}/audit?from_seq={from_seq}&limit={limit}&challenge={}",
            hex::encode(challenge)
        ))
        .await
    }

    /// Signer `node`'s own signed view of its policy (bundle version and hash, mode and its
    /// sequence, since when it is fresh, audit head), fetched through the coordinator with a
    /// fresh challenge and verified here against `node`: the coordinator cannot alter or replay
    /// it.
    pub async fn signer_view(&self, node: &NodeId) -> Result<SignedView, ClientError> {
        let mut challenge = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut challenge);
        let page = self
            .signer_audit_page(node, u64::MAX, 0, &challenge)
            .await?;
        let bad = |source| ClientError::SignerAudit {
            node: *node,
            source,
        };
        page.head.verify(node).map_err(bad)?;
        page.verify_view(node, &challenge)
            .map_err(|e| bad(SignerAuditError::View(e)))?;
        Ok(page.view)
    }

    /// Signer `node`'s whole audit log, paged through the coordinator with a fresh random
    /// challenge per page, and verified here: every page's head is signed by `node`'s identity
    /// key over its challenge, the pages form a standard export (header line first, what
    /// `tessera audit verify` reads) that verifies, and it ends exactly at the last signed head.
    /// Anything else is a [`ClientError::SignerAudit`] naming what failed; the coordinator
    /// cannot drop, edit or rewrite an entry, nor replay an older head, unnoticed.
    pub async fn signer_audit_export(
        &self,
        node: &NodeId,
    ) -> Result<VerifiedSignerExport, ClientError> {
        let mut builder = ExportBuilder::new(*node);
        let bad = |source| ClientError::SignerAudit {
            node: *node,
            source,
        };
        loop {
            let mut challenge = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut challenge);
            let mut tries = 0;
            let page = loop {
                match self
                    .signer_audit_page(node, builder.next_seq(), MAX_AUDIT_PAGE, &challenge)
                    .await
                {
                    Err(ClientError::Api { code, .. })
                        if code == "signer_busy" && tries < SIGNER_BUSY_RETRIES =>
                    {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    other => break other?,
                }
            };
            if builder.push(page, &challenge).map_err(bad)? {
                return builder.finish().map_err(bad);
            }
        }
    }
}

/// A transaction request's payload as this client parsed it itself
/// ([`Client::local_intent`]).
#[derive(Debug, Clone)]
pub struct LocalIntent {
    /// Chain of the request.
    pub chain: String,
    /// Network of the request.
    pub network: String,
    /// Derivation path of the signing key.
    pub path: String,
    /// The raw payload, as the coordinator handed it over.
    pub payload: Payload,
    /// This client's parse of it.
    pub parsed: Parsed,
    /// `tessera_chain::intent_hash` of this parse: what an approval signs.
    pub intent_hash: [u8; 32],
}

impl LocalIntent {
    /// The intent in plain language, rendered here.
    pub fn summary(&self) -> String {
        self.parsed.intent.render()
    }

    /// The intent's risk flags (snake_case), computed here.
    pub fn risk_flags(&self) -> Vec<String> {
        self.parsed
            .intent
            .risk_flags
            .iter()
            .map(|f| f.name())
            .collect()
    }

    /// What the coordinator reported in `info` that differs from this parse: any of
    /// `intent hash`, `intent`, `summary`, `risk flags` (empty when it told the truth).
    pub fn mismatches(&self, info: &RequestInfo) -> Vec<&'static str> {
        let mut out = Vec::new();
        if info.intent_hash.to_ascii_lowercase() != hex::encode(self.intent_hash) {
            out.push("intent hash");
        }
        if info.intent.as_ref() != Some(&self.parsed.intent) {
            out.push("intent");
        }
        if info.summary != self.summary() {
            out.push("summary");
        }
        if info.risk_flags != self.risk_flags() {
            out.push("risk flags");
        }
        out
    }
}

/// The intent hash the coordinator reported for `info`.
pub fn reported_intent_hash(info: &RequestInfo) -> Result<[u8; 32], ClientError> {
    hex::decode(&info.intent_hash)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ClientError::Invalid("the reported intent hash is not 32 bytes".into()))
}

/// The intent hash of a request without chain payload, recomputed from the wallet, path and
/// message the coordinator shows (`tessera_wire::message_intent_hash`); refused unless it is the
/// hash the coordinator reports. A coordinator that labels a transaction `sign`, with a harmless
/// message beside the transaction's intent hash, cannot get it approved: no message hashes to a
/// transaction's intent hash (different domains).
pub fn message_request_hash(info: &RequestInfo) -> Result<[u8; 32], ClientError> {
    let reported = reported_intent_hash(info)?;
    let m = info.message.as_ref().ok_or_else(|| {
        ClientError::Invalid(format!(
            "request {} shows no message, so what an approval covers cannot be checked: not approving",
            info.request_id
        ))
    })?;
    let message = m.message.to_sign_message().map_err(ClientError::Invalid)?;
    let authorized =
        authorized_message(&message).map_err(|e| ClientError::Invalid(e.to_string()))?;
    let local = message_intent_hash(&info.wallet_id, &m.path, &[authorized]);
    if local != reported {
        return Err(ClientError::Invalid(format!(
            "request {}: the reported intent hash is not the hash of the message shown \
             (it may be a transaction presented as a message): not approving",
            info.request_id
        )));
    }
    Ok(local)
}

/// Percent-encodes a request id for use as one path segment.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

mod import;
mod keyop;
pub use import::{prepare_import, signed_identities, NewImport};
pub use keyop::{KeyOperation, NewWallet, Submitted, PREPARED_TTL_SECS};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tessera_proto::api::RequestMessage;

    fn message_request(text: &str, intent_hash: [u8; 32]) -> RequestInfo {
        RequestInfo {
            request_id: "r1".into(),
            kind: "sign".into(),
            wallet_id: "w1".into(),
            state: RequestState::AwaitingApprovals,
            summary: format!("sign the message {text:?}"),
            intent: None,
            intent_hash: hex::encode(intent_hash),
            message: Some(RequestMessage {
                path: "m".into(),
                message: MessageInput::Message {
                    hex: hex::encode(text),
                },
            }),
            risk_flags: vec![],
            policy: None,
            approvals: vec![],
            expires_at: 0,
            error: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    fn hash_of(text: &str) -> [u8; 32] {
        let m = SignMessage::Preimage {
            hash: None,
            bytes: text.as_bytes().to_vec(),
        };
        message_intent_hash("w1", "m", &[authorized_message(&m).unwrap()])
    }

    #[test]
    fn a_message_request_is_approved_over_its_own_hash_only() {
        let honest = message_request("hello", hash_of("hello"));
        assert_eq!(message_request_hash(&honest).unwrap(), hash_of("hello"));
        // A transaction shown as a harmless message: the reported hash is the transaction's.
        let relabeled = message_request("hello", [7u8; 32]);
        assert!(message_request_hash(&relabeled).is_err());
        // Another message's hash, another path, or no message shown: refused.
        assert!(message_request_hash(&message_request("hello", hash_of("bye"))).is_err());
        let mut other_path = honest.clone();
        other_path.message.as_mut().unwrap().path = "m/1".into();
        assert!(message_request_hash(&other_path).is_err());
        let mut hidden = honest;
        hidden.message = None;
        assert!(message_request_hash(&hidden).is_err());
    }

    #[test]
    fn path_segments_escape_everything_but_unreserved() {
        assert_eq!(path_segment("abc-1_2.3~"), "abc-1_2.3~");
        assert_eq!(path_segment("tx#0/a b"), "tx%230%2Fa%20b");
        assert_eq!(path_segment("é"), "%C3%A9");
    }
}

//! A typed client of the coordinator's REST API, and the operator's side of authorization:
//! every wallet creation and signature request is signed with the operator key before it is
//! sent, and every signer checks that signature itself.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera_chains::{Parsed, Payload, WalletKey};
use tessera_crypto::{SchemeId, SignMessage};
use tessera_proto::api::{
    ApiError, BuildTransaction, ClusterStatus, CreateTransaction, CreateWallet, DerivedKey,
    EnrollSigner, MessageInput, PayloadInput, SessionInfo, SignRequest, SignerInfo,
    TransactionInfo, TransactionPreview, WalletInfo,
};
use tessera_wire::{
    authorized_message, Action, Authorization, NodeId, OperatorKey, SignedIdentity,
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
}

/// How long an authorization stays valid.
pub const AUTHORIZATION_TTL_SECS: u64 = 300;

/// A coordinator API client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
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

/// A fresh random id (hex, 16 bytes).
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    hex::encode(b)
}

impl Client {
    /// A client for `base` (`https://host:port`) trusting only `ca_pem`.
    pub fn new(base: &str, ca_pem: &str, token: &str) -> Result<Client, ClientError> {
        let tls =
            tessera_tls::client_config(ca_pem).map_err(|e| ClientError::Invalid(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(900))
            .build()
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let resp = req
            .bearer_auth(&self.token)
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
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
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
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
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

    /// Creates a wallet (authorized by `operator`); returns at once, key generation runs.
    pub async fn create_wallet(
        &self,
        operator: &OperatorKey,
        wallet_id: &str,
        name: &str,
        scheme: SchemeId,
        threshold: u16,
        signers: Vec<NodeId>,
    ) -> Result<WalletInfo, ClientError> {
        let authorization = Authorization::sign(
            operator,
            random_id(),
            Action::Keygen {
                wallet_id: wallet_id.to_string(),
                scheme,
                threshold,
                signers: signers.clone(),
            },
            now_unix() + AUTHORIZATION_TTL_SECS,
        );
        self.post(
            "/v1/wallets",
            &CreateWallet {
                wallet_id: wallet_id.to_string(),
                name: name.to_string(),
                scheme,
                threshold,
                signers,
                authorization,
            },
        )
        .await
    }

    /// Wallets.
    pub async fn wallets(&self) -> Result<Vec<WalletInfo>, ClientError> {
        self.get("/v1/wallets").await
    }

    /// One wallet.
    pub async fn wallet(&self, id: &str) -> Result<WalletInfo, ClientError> {
        self.get(&format!("/v1/wallets/{id}")).await
    }

    /// A derived public key.
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
    /// adapter against the wallet key at `path` (fetched from the coordinator; a coordinator
    /// that lies about the key only makes the signers refuse, as they derive it themselves).
    /// This is what the operator authorizes: nothing the coordinator computed.
    pub async fn parse_local(
        &self,
        wallet_id: &str,
        chain: &str,
        network: &str,
        path: &str,
        input: &PayloadInput,
    ) -> Result<(Payload, Parsed), ClientError> {
        let wallet = self.wallet(wallet_id).await?;
        let key = self.derive(wallet_id, path).await?.public_key;
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
}

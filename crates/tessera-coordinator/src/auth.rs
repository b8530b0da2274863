//! API credentials: one bearer token per role, kept only as SHA-256 hashes and compared in
//! constant time. Which role may call which route is the table in [`tessera_proto::roles`].

use sha2::{Digest, Sha256};
use tessera_proto::roles::Role;

/// Shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// A token refused at configuration time. Never holds the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Shorter than [`MIN_TOKEN_LEN`] characters.
    #[error("the {role} token must be at least {MIN_TOKEN_LEN} characters")]
    TooShort {
        /// The role it was for.
        role: Role,
    },
}

/// The API tokens, by hash: a token may be configured for several roles (and so hold them all).
#[derive(Clone, Default)]
pub struct ApiTokens {
    entries: Vec<([u8; 32], Role)>,
}

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let roles: Vec<Role> = self.entries.iter().map(|(_, r)| *r).collect();
        f.debug_struct("ApiTokens").field("roles", &roles).finish()
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// Constant-time equality of two digests.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl ApiTokens {
    /// No tokens: every authenticated route answers 401.
    pub fn new() -> Self {
        ApiTokens::default()
    }

    /// Adds `token` for `role` (keeping only its hash).
    pub fn add(&mut self, role: Role, token: &str) -> Result<(), TokenError> {
        if token.chars().count() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort { role });
        }
        self.entries.push((digest(token.as_bytes()), role));
        Ok(())
    }

    /// [`add`](Self::add), by value.
    pub fn with(mut self, role: Role, token: &str) -> Result<Self, TokenError> {
        self.add(role, token)?;
        Ok(self)
    }

    /// One token for every role (a single-operator setup, and `--token-file PATH`).
    pub fn all_roles(token: &str) -> Result<Self, TokenError> {
        Role::ALL
            .into_iter()
            .try_fold(ApiTokens::new(), |t, role| t.with(role, token))
    }

    /// The roles configured with a role (for startup logs; no hashes).
    pub fn roles(&self) -> Vec<Role> {
        let mut roles: Vec<Role> = self.entries.iter().map(|(_, r)| *r).collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// The roles `given` holds (empty for an unknown token). Compares against every entry,
    /// without stopping at a match.
    pub fn roles_of(&self, given: &[u8]) -> Vec<Role> {
        let hash = digest(given);
        self.entries
            .iter()
            .filter_map(|(h, role)| same(h, &hash).then_some(*role))
            .collect()
    }
}

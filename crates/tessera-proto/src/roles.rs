//! Who may call what: the API's roles and the one table mapping every route (method and path
//! pattern) to the roles allowed on it.
//!
//! The coordinator authorizes every request against [`ROUTES`] and denies a route that has no
//! entry (fail closed); clients holding several role tokens pick the token for a call from the
//! same table ([`route_for`]).

use std::fmt;
use std::str::FromStr;

/// A role of the REST API. Each role has its own bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Creates wallets, submits signing requests and transactions, follows their progress.
    Requester,
    /// Reads everything under `/v1` (wallets, requests, events, mode, policy, audit exports).
    Viewer,
    /// Approves or rejects requests, and reads what it needs to verify them.
    Approver,
    /// Pushes policy bundles and mode changes (both signed by the policy admins besides).
    Admin,
    /// Enrols signers.
    Enrol,
    /// Scrapes `/metrics`.
    Metrics,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Requester,
        Role::Viewer,
        Role::Approver,
        Role::Admin,
        Role::Enrol,
        Role::Metrics,
    ];

    /// The role's name (`requester`, `viewer`, …), as in token file names and `--token-file`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Viewer => "viewer",
            Role::Approver => "approver",
            Role::Admin => "admin",
            Role::Enrol => "enrol",
            Role::Metrics => "metrics",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (one of requester, viewer, approver, admin, enrol, metrics)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token (health, OpenAPI, the console page, the signer link, which
    /// signers authenticate with their identity key).
    Public,
    /// A token of one of these roles.
    Roles(&'static [Role]),
}

/// One route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path pattern as the router spells it (`/v1/wallets/{id}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

use Role::{Admin, Approver, Enrol, Metrics, Requester, Viewer};

const fn route(method: &'static str, path: &'static str, roles: &'static [Role]) -> Route {
    Route {
        method,
        path,
        access: Access::Roles(roles),
    }
}

const fn public(path: &'static str) -> Route {
    Route {
        method: "GET",
        path,
        access: Access::Public,
    }
}

/// Reads a requester needs to follow its own submissions, and an approver to verify a request
/// (the wallet key, the transaction's payload) before approving it and to see the wallets'
/// share epochs in its console.
const WALLET_READ: &[Role] = &[Viewer, Requester, Approver];

/// Every route of the API and who may call it. A route missing here is denied to everyone.
pub const ROUTES: &[Route] = &[
    public("/healthz"),
    public("/readyz"),
    public("/v1/openapi.json"),
    public("/console"),
    public("/v1/link"),
    route("GET", "/metrics", &[Metrics]),
    route("GET", "/v1/signers", &[Viewer, Enrol]),
    route("POST", "/v1/signers", &[Enrol]),
    route("GET", "/v1/wallets", WALLET_READ),
    route("POST", "/v1/wallets", &[Requester]),
    route("GET", "/v1/wallets/{id}", WALLET_READ),
    route("GET", "/v1/wallets/{id}/keys", WALLET_READ),
    route("POST", "/v1/wallets/{id}/signatures", &[Requester]),
    route("POST", "/v1/wallets/{id}/reshare", &[Requester]),
    route("POST", "/v1/wallets/{id}/retire", &[Requester]),
    route("GET", "/v1/wallets/{id}/transactions", &[Viewer, Requester]),
    route("POST", "/v1/wallets/{id}/transactions", &[Requester]),
    route("POST", "/v1/wallets/{id}/transactions/build", &[Requester]),
    route(
        "GET",
        "/v1/wallets/{id}/transactions/{request}",
        WALLET_READ,
    ),
    route("GET", "/v1/sessions", &[Viewer, Requester]),
    route("GET", "/v1/sessions/{id}", &[Viewer, Requester]),
    route("GET", "/v1/status", &[Viewer]),
    route("GET", "/v1/policy", &[Viewer, Admin]),
    route("PUT", "/v1/policy", &[Admin]),
    route("GET", "/v1/policy/bundle", &[Viewer, Admin]),
    route("PUT", "/v1/policy/freshness", &[Admin]),
    route("GET", "/v1/mode", &[Viewer, Approver, Admin]),
    route("PUT", "/v1/mode", &[Admin]),
    route("GET", "/v1/requests", &[Viewer, Approver]),
    route("GET", "/v1/requests/{id}", &[Viewer, Approver, Requester]),
    route("POST", "/v1/requests/{id}/approvals", &[Approver]),
    route("GET", "/v1/events", &[Viewer, Approver]),
    route("GET", "/v1/audit/export", &[Viewer]),
    route("GET", "/v1/signers/{node_id}/audit", &[Viewer]),
];

/// The entry for `method` on the path pattern `pattern` (exactly as in [`ROUTES`]).
pub fn access(method: &str, pattern: &str) -> Option<Access> {
    ROUTES
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == pattern)
        .map(|r| r.access)
}

/// Whether the path pattern has an entry for some method.
pub fn is_listed(pattern: &str) -> bool {
    ROUTES.iter().any(|r| r.path == pattern)
}

/// The entry a concrete request path (`/v1/wallets/abc`, query string allowed) falls under:
/// `{…}` segments match any one segment, and a literal segment wins over a placeholder.
pub fn route_for(method: &str, path: &str) -> Option<&'static Route> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    ROUTES
        .iter()
        .filter(|r| r.method.eq_ignore_ascii_case(method))
        .filter_map(|r| match_score(r.path, &segments).map(|s| (s, r)))
        .max_by_key(|(score, _)| *score)
        .map(|(_, r)| r)
}

/// The number of literal segments of `pattern` if it matches `segments`.
fn match_score(pattern: &str, segments: &[&str]) -> Option<usize> {
    let parts: Vec<&str> = pattern.split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut literal = 0;
    for (p, s) in parts.iter().zip(segments) {
        if p.starts_with('{') && p.ends_with('}') {
            if s.is_empty() {
                return None;
            }
        } else if p == s {
            literal += 1;
        } else {
            return None;
        }
    }
    Some(literal)
}

impl Access {
    /// Whether a caller holding `roles` may call the route.
    pub fn allows(self, roles: &[Role]) -> bool {
        match self {
            Access::Public => true,
            Access::Roles(allowed) => roles.iter().any(|r| allowed.contains(r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.name().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn routes_are_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(a.method != b.method || a.path != b.path, "{a:?} twice");
            }
        }
    }

    #[test]
    fn concrete_paths_find_their_pattern() {
        let cases = [
            ("GET", "/v1/wallets/w1", "/v1/wallets/{id}"),
            (
                "GET",
                "/v1/wallets/w1/keys?path=m/0",
                "/v1/wallets/{id}/keys",
            ),
            (
                "POST",
                "/v1/wallets/w1/transactions/build",
                "/v1/wallets/{id}/transactions/build",
            ),
            (
                "GET",
                "/v1/wallets/w1/transactions/r1",
                "/v1/wallets/{id}/transactions/{request}",
            ),
            ("GET", "/v1/signers/ab/audit", "/v1/signers/{node_id}/audit"),
            (
                "post",
                "/v1/requests/r1/approvals",
                "/v1/requests/{id}/approvals",
            ),
        ];
        for (m, p, want) in cases {
            assert_eq!(route_for(m, p).map(|r| r.path), Some(want), "{m} {p}");
        }
        assert_eq!(route_for("DELETE", "/v1/wallets/w1"), None);
        assert_eq!(route_for("GET", "/v1/wallets//keys"), None);
        assert_eq!(route_for("GET", "/v1/nothing"), None);
    }
}

//! Who may talk to the local console: only the page it served, in the approver's browser.
//!
//! Every request must name this server by its own address in `Host` (so a DNS-rebinding page
//! under another name is refused), must not come from another origin (`Origin`, and
//! `Sec-Fetch-Site` where the browser sends it), and every API call must carry the random
//! per-run session token (a custom header, which a cross-origin page cannot send without a
//! CORS preflight this server never answers). A state-changing request must carry an `Origin`.
//! Every response carries a strict CSP and no CORS header.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Header carrying the session token on API calls.
pub const SESSION_HEADER: &str = "x-tessera-session";

/// Query parameter carrying the session token in the page URL.
pub const SESSION_QUERY: &str = "session";

/// Content Security Policy of everything served: this origin's own script and style files,
/// API calls to this origin only, no inline script, no framing, no form posting anywhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A random per-run session token (32 bytes, hex).
#[derive(Clone)]
pub struct SessionToken(Arc<str>);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken([REDACTED])")
    }
}

impl SessionToken {
    /// A fresh token from the OS RNG.
    pub fn generate() -> SessionToken {
        let mut b = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
        SessionToken(hex::encode(b).into())
    }

    /// The token text (for the URL printed to the approver and the page it serves).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented token.
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// The guard's settings: the session token and the `host:port` names this server answers to.
#[derive(Debug, Clone)]
pub struct Guard {
    session: SessionToken,
    hosts: Arc<[String]>,
}

impl Guard {
    /// A guard for a server listening on `addr` (a loopback address).
    pub fn new(session: SessionToken, addr: SocketAddr) -> Guard {
        let port = addr.port();
        let hosts = vec![addr.to_string(), format!("localhost:{port}")];
        Guard {
            session,
            hosts: hosts.into(),
        }
    }

    /// The session token.
    pub fn session(&self) -> &SessionToken {
        &self.session
    }

    /// Why `req` is refused, if it is.
    fn refusal(&self, method: &Method, path: &str, query: &str, h: &HeaderMap) -> Option<Refusal> {
        let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
        if !host.is_some_and(|host| self.hosts.iter().any(|a| a == host)) {
            return Some(Refusal::Host);
        }
        match h.get(header::ORIGIN).map(|v| v.to_str()) {
            Some(Ok(origin)) if self.is_own_origin(origin) => {}
            Some(_) => return Some(Refusal::Origin),
            None if *method != Method::GET && *method != Method::HEAD => {
                return Some(Refusal::Origin)
            }
            None => {}
        }
        if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            if !matches!(site, "same-origin" | "none") {
                return Some(Refusal::Origin);
            }
        }
        let presented = if path.starts_with("/api/") {
            h.get(SESSION_HEADER).and_then(|v| v.to_str().ok())
        } else if path == "/" {
            query_param(query, SESSION_QUERY)
        } else {
            return None; // static script and style: no secret in them, Host/Origin checked
        };
        if !presented.is_some_and(|t| self.session.matches(t)) {
            return Some(Refusal::Session);
        }
        None
    }

    fn is_own_origin(&self, origin: &str) -> bool {
        origin
            .strip_prefix("http://")
            .is_some_and(|host| self.hosts.iter().any(|a| a == host))
    }
}

/// Why the guard refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Host,
    Origin,
    Session,
}

impl Refusal {
    fn message(self) -> &'static str {
        match self {
            Refusal::Host => "this console answers only to its own loopback address",
            Refusal::Origin => "requests from other origins are refused",
            Refusal::Session => {
                "missing or wrong session token: open the URL `tessera console` printed"
            }
        }
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The middleware: refuses what [`Guard`] refuses (403, JSON body), and sets the security
/// headers on every response.
pub async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let refusal = g.refusal(
        req.method(),
        req.uri().path(),
        req.uri().query().unwrap_or(""),
        req.headers(),
    );
    let mut resp = match refusal {
        Some(r) => (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({"error": "forbidden", "message": r.message()})),
        )
            .into_response(),
        None => next.run(req).await,
    };
    secure_headers(resp.headers_mut());
    resp
}

fn secure_headers(h: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::CACHE_CONTROL, "no-store");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    h.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn guard() -> Guard {
        Guard::new(SessionToken::generate(), "127.0.0.1:4000".parse().unwrap())
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn api_calls_need_the_session_token_own_host_and_own_origin() {
        let g = guard();
        let t = g.session().expose().to_string();
        let ok = [
            ("host", "127.0.0.1:4000"),
            ("origin", "http://127.0.0.1:4000"),
            (SESSION_HEADER, t.as_str()),
        ];
        let post = Method::POST;
        let path = "/api/requests/x/decision";
        assert_eq!(g.refusal(&post, path, "", &headers(&ok)), None);
        let wrong = "0".repeat(64);
        let cases: [(&[(&str, &str)], Refusal); 6] = [
            (&ok[..2], Refusal::Session),
            (
                &[ok[0], ok[1], (SESSION_HEADER, wrong.as_str())],
                Refusal::Session,
            ),
            (
                &[ok[0], ("origin", "http://evil.example"), ok[2]],
                Refusal::Origin,
            ),
            (&[ok[0], ok[2]], Refusal::Origin),
            (
                &[("host", "evil.example:4000"), ok[1], ok[2]],
                Refusal::Host,
            ),
            (
                &[ok[0], ok[1], ok[2], ("sec-fetch-site", "cross-site")],
                Refusal::Origin,
            ),
        ];
        for (h, want) in cases {
            assert_eq!(g.refusal(&post, path, "", &headers(h)), Some(want), "{h:?}");
        }
    }

    #[test]
    fn the_page_needs_the_token_in_its_url_and_static_files_do_not() {
        let g = guard();
        let t = format!("session={}", g.session().expose());
        let h = headers(&[("host", "localhost:4000")]);
        assert_eq!(g.refusal(&Method::GET, "/", &t, &h), None);
        assert_eq!(
            g.refusal(&Method::GET, "/", "session=abc", &h),
            Some(Refusal::Session)
        );
        assert_eq!(g.refusal(&Method::GET, "/console.js", "", &h), None);
        let foreign = headers(&[("host", "localhost:4001")]);
        assert_eq!(
            g.refusal(&Method::GET, "/console.js", "", &foreign),
            Some(Refusal::Host)
        );
    }

    #[test]
    fn tokens_compare_by_value_only() {
        let t = SessionToken::generate();
        let copy: String = t.expose().chars().collect();
        assert!(t.matches(&copy));
        assert!(!t.matches(&t.expose()[1..]));
        assert!(!t.matches(""));
        assert_eq!(format!("{t:?}"), "SessionToken([REDACTED])");
    }
}

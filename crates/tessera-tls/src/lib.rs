//! TLS for Tessera's links (API clients → coordinator, signers → coordinator).
//!
//! `tessera up` makes a private certificate authority for a local cluster and a server
//! certificate for the coordinator signed by it; signers and CLI clients trust only that CA.
//! Production deployments bring their own certificates in PEM files.
//!
//! Every configuration is built with the `ring` provider explicitly, so the process-wide default
//! provider never matters.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// TLS setup errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file had no usable certificate or key.
    #[error("bad PEM: {0}")]
    Pem(String),
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A certificate authority and one server certificate it signed, all PEM.
pub struct LocalPki {
    /// CA certificate (give this to clients).
    pub ca_cert_pem: String,
    /// Server certificate chain.
    pub server_cert_pem: String,
    /// Server private key. Secret: write it with mode 0600.
    pub server_key_pem: String,
}

impl std::fmt::Debug for LocalPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPki")
            .field("server_key_pem", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// Generates a fresh CA (ECDSA P-256) and a server certificate for `names` (DNS names or IP
/// addresses, e.g. `localhost`, `127.0.0.1`). The CA key is discarded: nothing else can be
/// signed by it later.
pub fn generate_local_pki(names: &[&str]) -> Result<LocalPki, TlsError> {
    let g = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let ca_key = rcgen::KeyPair::generate().map_err(g)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(g)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Tessera local cluster CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(g)?;

    let server_key = rcgen::KeyPair::generate().map_err(g)?;
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).map_err(g)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Tessera coordinator");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = params
        .signed_by(&server_key, &ca_cert, &ca_key)
        .map_err(g)?;
    Ok(LocalPki {
        ca_cert_pem: ca_cert.pem(),
        server_cert_pem: server_cert.pem(),
        server_key_pem: server_key.serialize_pem(),
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Pem("no certificate found".into()));
    }
    Ok(certs)
}

/// Server configuration from a PEM certificate chain and private key.
pub fn server_config(cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_bytes())
        .map_err(|e| TlsError::Pem(e.to_string()))?
        .ok_or_else(|| TlsError::Pem("no private key found".into()))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs(cert_pem)?, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Client configuration trusting only the CA certificates in `ca_pem`.
pub fn client_config(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca_pem)? {
        roots.add(c).map_err(|e| TlsError::Config(e.to_string()))?;
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pki_builds_configs_and_hides_the_key() {
        let pki = generate_local_pki(&["localhost", "127.0.0.1"]).expect("pki");
        server_config(&pki.server_cert_pem, &pki.server_key_pem).expect("server");
        client_config(&pki.ca_cert_pem).expect("client");
        assert!(!format!("{pki:?}").contains("PRIVATE KEY"));
        assert!(matches!(client_config("garbage"), Err(TlsError::Pem(_))));
    }
}

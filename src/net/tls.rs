//! TLS for client connections (rustls with the `ring` provider).
//!
//! The tls-* directives are turned into one immutable rustls
//! `ServerConfig`, kept in `Server::tls`. CONFIG SET of any of them builds a
//! fresh one and swaps it in: the next handshake uses it, while open
//! connections keep the configuration (certificate, session cache) they
//! were accepted with. The handshake itself runs in the connection's own
//! task, with a time limit, so a slow or silent client never holds up
//! anyone else.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{
    NoServerSessionStorage, ServerSessionMemoryCache, StoresServerSessions, WebPkiClientVerifier,
};
use rustls::{CipherSuite, RootCertStore, ServerConfig, SupportedCipherSuite};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::config::{Config, D};

/// How long a client has to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The directives a TLS configuration is built from: changing any of them
/// at runtime rebuilds it.
const DIRECTIVES: &[D] = &[
    D::TLS_AUTH_CLIENTS,
    D::TLS_CA_CERT_DIR,
    D::TLS_CA_CERT_FILE,
    D::TLS_CERT_FILE,
    D::TLS_CIPHERS,
    D::TLS_CIPHERSUITES,
    D::TLS_KEY_FILE,
    D::TLS_KEY_FILE_PASS,
    D::TLS_PREFER_SERVER_CIPHERS,
    D::TLS_PROTOCOLS,
    D::TLS_SESSION_CACHE_SIZE,
    D::TLS_SESSION_CACHE_TIMEOUT,
    D::TLS_SESSION_CACHING,
];

/// Whether the directive at table index `idx` is one the configuration is
/// built from.
pub fn configures(idx: usize) -> bool {
    DIRECTIVES.iter().any(|d| *d as usize == idx)
}

/// OpenSSL's names for the TLS 1.2 suites rustls implements (tls-ciphers).
const TLS12_NAMES: &[(&str, CipherSuite)] = &[
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// The TLS 1.3 suites by their standard names (tls-ciphersuites).
const TLS13_NAMES: &[(&str, CipherSuite)] = &[
    (
        "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_128_GCM_SHA256,
    ),
    (
        "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
];

/// OpenSSL cipher-string keywords that stand for every suite.
const ALL_KEYWORDS: &[&str] = &[
    "DEFAULT",
    "ALL",
    "HIGH",
    "ECDHE",
    "EECDH",
    "AESGCM",
    "TLSV1.2",
    "@STRENGTH",
];

/// Builds the server configuration from the tls-* directives. Errors name
/// the directive or file at fault.
pub fn build(cfg: &Config) -> Result<Arc<ServerConfig>, String> {
    let cert_file = cfg.str(D::TLS_CERT_FILE);
    let key_file = cfg.str(D::TLS_KEY_FILE);
    if cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    let certs = load_certs(cert_file)?;
    let key = load_key(key_file, cfg.str(D::TLS_KEY_FILE_PASS))?;

    let mut provider = rustls::crypto::ring::default_provider();
    let (tls12, tls13) = protocols(cfg.str(D::TLS_PROTOCOLS))?;
    provider.cipher_suites = cipher_suites(
        &provider.cipher_suites,
        tls12.then_some(cfg.str(D::TLS_CIPHERS)),
        tls13.then_some(cfg.str(D::TLS_CIPHERSUITES)),
    )?;
    let provider = Arc::new(provider);
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if tls12 {
        versions.push(&rustls::version::TLS12);
    }
    if tls13 {
        versions.push(&rustls::version::TLS13);
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?;

    let auth = cfg.str(D::TLS_AUTH_CLIENTS);
    let builder = if auth == "no" {
        builder.with_no_client_auth()
    } else {
        let roots = load_roots(cfg.str(D::TLS_CA_CERT_FILE), cfg.str(D::TLS_CA_CERT_DIR))?;
        let mut vb = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        if auth == "optional" {
            vb = vb.allow_unauthenticated();
        }
        let verifier = vb
            .build()
            .map_err(|e| format!("Failed to configure client certificate verification: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut sc = builder.with_single_cert(certs, key).map_err(|e| {
        format!("Failed to load certificate and key ({cert_file}, {key_file}): {e}")
    })?;
    sc.ignore_client_order = cfg.bool(D::TLS_PREFER_SERVER_CIPHERS);
    if cfg.bool(D::TLS_SESSION_CACHING) {
        let size = cfg.int(D::TLS_SESSION_CACHE_SIZE);
        // OpenSSL reads a size of 0 as "no limit"; rustls needs one.
        let size = if size == 0 { 1 << 20 } else { size as usize };
        let timeout = Duration::from_secs(cfg.int(D::TLS_SESSION_CACHE_TIMEOUT).max(0) as u64);
        sc.session_storage = Arc::new(ExpiringCache {
            inner: ServerSessionMemoryCache::new(size),
            timeout,
            born: Instant::now(),
        });
    } else {
        sc.session_storage = Arc::new(NoServerSessionStorage {});
        sc.send_tls13_tickets = 0;
    }
    Ok(Arc::new(sc))
}

/// Completes the server side of the handshake, or gives up after the
/// time limit. Failures are logged the way Redis logs them.
pub async fn accept(
    config: Arc<ServerConfig>,
    stream: TcpStream,
    peer: &str,
) -> Option<TlsStream<TcpStream>> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::warn!("Error accepting a client connection: {e} (addr={peer})");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out (addr={peer})");
            None
        }
    }
}

/// `tls-protocols`: which of TLS 1.2 and 1.3 to offer ("" = both).
fn protocols(text: &str) -> Result<(bool, bool), String> {
    if text.trim().is_empty() {
        return Ok((true, true));
    }
    let (mut v12, mut v13) = (false, false);
    for p in text.split_whitespace() {
        match p.to_ascii_lowercase().as_str() {
            "tlsv1.2" => v12 = true,
            "tlsv1.3" => v13 = true,
            "tlsv1" | "tlsv1.1" => tracing::warn!("tls-protocols: {p} is not supported and is ignored"),
            _ => return Err(format!("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'. ('{p}')")),
        }
    }
    if !v12 && !v13 {
        return Err(
            "tls-protocols: none of the listed protocols is supported (TLSv1.2, TLSv1.3)".into(),
        );
    }
    Ok((v12, v13))
}

/// Narrows the provider's suites to what tls-ciphers (TLS 1.2, OpenSSL
/// cipher-string syntax) and tls-ciphersuites (TLS 1.3) allow. `None`
/// means the protocol is off; an empty string keeps its defaults.
fn cipher_suites(
    all: &[SupportedCipherSuite],
    ciphers: Option<&str>,
    suites13: Option<&str>,
) -> Result<Vec<SupportedCipherSuite>, String> {
    let mut keep: Vec<CipherSuite> = Vec::new();
    if let Some(list) = ciphers {
        let wanted = select_tls12(list);
        if wanted.is_empty() {
            return Err(format!(
                "Failed to configure ciphers: no cipher in tls-ciphers '{list}' is supported"
            ));
        }
        keep.extend(wanted);
    }
    if let Some(list) = suites13 {
        if list.trim().is_empty() {
            keep.extend(TLS13_NAMES.iter().map(|(_, s)| *s));
        } else {
            for name in list.split(':').map(str::trim).filter(|n| !n.is_empty()) {
                match TLS13_NAMES
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                {
                    Some((_, s)) => keep.push(*s),
                    None => {
                        return Err(format!(
                        "Failed to configure ciphersuites: unknown TLSv1.3 ciphersuite '{name}'"
                    ))
                    }
                }
            }
        }
    }
    // The provider's order is its preference order; keep it.
    Ok(all
        .iter()
        .filter(|s| keep.contains(&s.suite()))
        .copied()
        .collect())
}

/// The TLS 1.2 suites an OpenSSL cipher string selects: names and keywords
/// standing for all add, `!name` / `-name` remove; anything rustls does not
/// implement selects nothing, as OpenSSL skips unknown names in a list.
fn select_tls12(list: &str) -> Vec<CipherSuite> {
    if list.trim().is_empty() {
        return TLS12_NAMES.iter().map(|(_, s)| *s).collect();
    }
    let mut out: Vec<CipherSuite> = Vec::new();
    for tok in list.split([':', ',', ' ']).filter(|t| !t.is_empty()) {
        let (remove, name) = match tok.as_bytes()[0] {
            b'!' | b'-' => (true, &tok[1..]),
            b'+' => (false, &tok[1..]),
            _ => (false, tok),
        };
        let upper = name.to_ascii_uppercase();
        let matched: Vec<CipherSuite> = if ALL_KEYWORDS.contains(&upper.as_str()) {
            TLS12_NAMES.iter().map(|(_, s)| *s).collect()
        } else {
            TLS12_NAMES
                .iter()
                .filter(|(n, _)| *n == upper || n.contains(&format!("-{upper}-")))
                .map(|(_, s)| *s)
                .collect()
        };
        if remove {
            out.retain(|s| !matched.contains(s));
        } else {
            for s in matched {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let data = read_file(path, "tls-cert-file")?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("Failed to load certificate: {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "Failed to load certificate: {path}: no certificate found"
        ));
    }
    Ok(certs)
}

/// Reads a PEM private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), or an
/// encrypted PKCS#8 key opened with tls-key-file-pass.
fn load_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let data = read_file(path, "tls-key-file")?;
    let text = String::from_utf8_lossy(&data);
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    if let Some(start) = text.find(BEGIN) {
        let bad = |why: &str| format!("Failed to load private key: {path}: {why}");
        if pass.is_empty() {
            return Err(bad("the key is encrypted and tls-key-file-pass is not set"));
        }
        let end = text[start..]
            .find(END)
            .map(|e| start + e + END.len())
            .ok_or_else(|| bad("unterminated PEM section"))?;
        let (_, der) = pkcs8::der::pem::decode_vec(text[start..end].as_bytes())
            .map_err(|e| bad(&e.to_string()))?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
            .map_err(|e| bad(&e.to_string()))?;
        let doc = info
            .decrypt(pass)
            .map_err(|_| bad("wrong tls-key-file-pass or unsupported encryption"))?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            doc.as_bytes().to_vec(),
        )));
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "Failed to load private key: {path}: legacy OpenSSL key encryption is not supported; convert the key with `openssl pkcs8 -topk8`"
        ));
    }
    PrivateKeyDer::from_pem_slice(&data)
        .map_err(|e| format!("Failed to load private key: {path}: {e}"))
}

/// The CAs client certificates are checked against: tls-ca-cert-file
/// and/or every certificate file in tls-ca-cert-dir.
fn load_roots(file: &str, dir: &str) -> Result<RootCertStore, String> {
    if file.is_empty() && dir.is_empty() {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    let mut roots = RootCertStore::empty();
    let mut add = |path: &str, data: &[u8], strict: bool| -> Result<(), String> {
        for cert in CertificateDer::pem_slice_iter(data) {
            let res = cert
                .map_err(|e| e.to_string())
                .and_then(|c| roots.add(c).map_err(|e| e.to_string()));
            if let Err(e) = res {
                if strict {
                    return Err(format!(
                        "Failed to configure CA certificate(s) file/directory: {path}: {e}"
                    ));
                }
            }
        }
        Ok(())
    };
    if !file.is_empty() {
        let data = read_file(file, "tls-ca-cert-file")?;
        add(file, &data, true)?;
    }
    if !dir.is_empty() {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            format!("Failed to configure CA certificate(s) file/directory: {dir}: {e}")
        })?;
        for entry in entries.flatten() {
            let p = entry.path();
            // Hash links and stray files that are not certificates are skipped.
            if let Ok(data) = std::fs::read(&p) {
                add(&p.display().to_string(), &data, false)?;
            }
        }
    }
    if roots.is_empty() {
        let what = if file.is_empty() { dir } else { file };
        return Err(format!(
            "Failed to configure CA certificate(s) file/directory: {what}: no certificate found"
        ));
    }
    Ok(roots)
}

fn read_file(path: &str, directive: &str) -> Result<Vec<u8>, String> {
    std::fs::read(Path::new(path)).map_err(|e| format!("Failed to load {directive} '{path}': {e}"))
}

/// Session cache honouring tls-session-cache-timeout: each entry carries
/// its store time and is ignored once older than the timeout.
#[derive(Debug)]
struct ExpiringCache {
    inner: Arc<ServerSessionMemoryCache>,
    timeout: Duration,
    born: Instant,
}

impl ExpiringCache {
    fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    fn fresh(&self, v: Option<Vec<u8>>) -> Option<Vec<u8>> {
        let v = v?;
        let (stamp, rest) = v.split_at_checked(8)?;
        let stored = u64::from_le_bytes(stamp.try_into().ok()?);
        (self.now_ms().saturating_sub(stored) < self.timeout.as_millis() as u64)
            .then(|| rest.to_vec())
    }
}

impl StoresServerSessions for ExpiringCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut v = self.now_ms().to_le_bytes().to_vec();
        v.extend_from_slice(&value);
        self.inner.put(key, v)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.fresh(self.inner.get(key))
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.fresh(self.inner.take(key))
    }

    fn can_cache(&self) -> bool {
        !self.timeout.is_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_strings() {
        assert_eq!(select_tls12("DEFAULT").len(), TLS12_NAMES.len());
        assert_eq!(
            select_tls12("ECDHE-RSA-AES256-GCM-SHA384:NOPE"),
            vec![CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
        );
        assert_eq!(
            select_tls12("HIGH:!ECDHE-ECDSA-AES128-GCM-SHA256:!CHACHA20").len(),
            3
        );
        assert!(select_tls12("DES-CBC3-SHA").is_empty());
        assert!(protocols("TLSv1.2 TLSv1.3").unwrap() == (true, true));
        assert!(protocols("tlsv1.3").unwrap() == (false, true));
        assert!(protocols("TLSv1").is_err());
        assert!(protocols("SSLv3").is_err());
    }
}

/// Checks a primary's certificate chain against the CAs but not its name,
/// as Redis (OpenSSL with SSL_VERIFY_PEER and no host check) does: replicas
/// usually reach their primary by IP address.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(Error::InvalidCertificate(CertificateError::NotValidForName))
            | Err(Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The client side of a TLS replication link (tls-replication yes): the
/// primary is checked against tls-ca-cert-file/dir, and we present
/// tls-client-cert-file/key-file (else tls-cert-file/key-file).
pub fn client_config(cfg: &Config) -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = Arc::new(load_roots(
        cfg.str(D::TLS_CA_CERT_FILE),
        cfg.str(D::TLS_CA_CERT_DIR),
    )?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| format!("Failed to configure TLS: {e}"))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)));
    let (cert, key, pass) = if cfg.str(D::TLS_CLIENT_CERT_FILE).is_empty() {
        (
            cfg.str(D::TLS_CERT_FILE),
            cfg.str(D::TLS_KEY_FILE),
            cfg.str(D::TLS_KEY_FILE_PASS),
        )
    } else {
        (
            cfg.str(D::TLS_CLIENT_CERT_FILE),
            cfg.str(D::TLS_CLIENT_KEY_FILE),
            cfg.str(D::TLS_CLIENT_KEY_FILE_PASS),
        )
    };
    let config = if cert.is_empty() || key.is_empty() {
        builder.with_no_client_auth()
    } else {
        builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key, pass)?)
            .map_err(|e| format!("Failed to configure the TLS client certificate: {e}"))?
    };
    Ok(Arc::new(config))
}

//! TLS: the certificate and key read from PEM files into a pair rustls serves, and a resolver
//! that hands out the current pair, so a new one takes over at the next handshake.

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::ServerConfig;

/// Why a certificate and key cannot be served.
#[derive(Debug)]
pub enum CertificateError {
    /// A file cannot be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The certificate file holds no `CERTIFICATE` block, or one that is not PEM.
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// The PEM reader's complaint, if it had one.
        error: Option<String>,
    },
    /// The key file holds no private key rustls can read.
    NoKey {
        /// The file.
        path: PathBuf,
        /// Why.
        error: String,
    },
    /// The key is not one rustls can sign with, or not the certificate's.
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        error: String,
    },
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateError::Read { path, error } => {
                write!(f, "{}: cannot be read: {error}", path.display())
            }
            CertificateError::NoCertificate { path, error: None } => {
                write!(f, "{}: no PEM CERTIFICATE in it", path.display())
            }
            CertificateError::NoCertificate {
                path,
                error: Some(e),
            } => write!(f, "{}: not a PEM certificate: {e}", path.display()),
            CertificateError::NoKey { path, error } => {
                write!(f, "{}: no PEM private key in it: {error}", path.display())
            }
            CertificateError::Pair { cert, key, error } => write!(
                f,
                "{} and {} do not make a certificate and its key: {error}",
                cert.display(),
                key.display()
            ),
        }
    }
}

impl std::error::Error for CertificateError {}

/// rustls on ring. rustls marks ring's provider deprecated because it offers no post-quantum
/// key exchange (X25519MLKEM768); aws-lc-rs, which does, needs cmake and a C build of
/// AWS-LC for the static musl binary, several times ring's build time and image size. The
/// API server negotiates X25519 with ring as well; the choice is revisited when the image can
/// afford AWS-LC.
#[allow(deprecated)]
fn provider() -> CryptoProvider {
    ring::default_provider()
}

/// Reads a certificate chain and its private key (PEM) into the pair rustls serves, checking
/// that the key is the certificate's.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, CertificateError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|error| CertificateError::Read {
            path: path.to_owned(),
            error,
        })
    };
    certified(cert, &read(cert)?, key, &read(key)?)
}

/// The pair rustls serves from the PEM text of the certificate chain and of its key (the
/// files' contents, named by their paths in errors), checking that the key is the
/// certificate's.
pub fn certified(
    cert: &Path,
    cert_pem: &[u8],
    key: &Path,
    key_pem: &[u8],
) -> Result<Arc<CertifiedKey>, CertificateError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| CertificateError::NoCertificate {
            path: cert.to_owned(),
            error: Some(e.to_string()),
        })?;
    if chain.is_empty() {
        return Err(CertificateError::NoCertificate {
            path: cert.to_owned(),
            error: None,
        });
    }
    let private = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| CertificateError::NoKey {
        path: key.to_owned(),
        error: e.to_string(),
    })?;
    let pair = |error: String| CertificateError::Pair {
        cert: cert.to_owned(),
        key: key.to_owned(),
        error,
    };
    let signing = provider()
        .key_provider
        .load_private_key(private)
        .map_err(|e| pair(e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| pair(e.to_string()))?;
    Ok(Arc::new(certified))
}

/// Hands out the current certificate to each handshake.
#[derive(Debug)]
pub struct Resolver(RwLock<Arc<CertifiedKey>>);

impl Resolver {
    /// A resolver serving this pair.
    pub fn new(key: Arc<CertifiedKey>) -> Self {
        Resolver(RwLock::new(key))
    }

    /// Serves this pair from the next handshake on.
    pub fn set(&self, key: Arc<CertifiedKey>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.0.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// TLS 1.2 and 1.3 with rustls's safe defaults, ALPN `h2` then `http/1.1` (the API server
/// takes HTTP/2 when offered), the certificate from the resolver.
pub fn server_config(resolver: Arc<Resolver>) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions();
    // The ring provider supports the default versions: this cannot fail, but is not unwrapped.
    let mut config = match builder {
        Ok(b) => b.with_no_client_auth().with_cert_resolver(resolver),
        Err(_) => ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(resolver),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

//! The native server's tests' kit: certificates made in-process (rcgen), servers started
//! in-process on a loopback port the system picks, and an HTTPS client that speaks HTTP/1.1 or
//! HTTP/2 (by ALPN) over one kept connection, as the API server does.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use resource_limits_server::{Config, Server, StartError};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A folder of its own under the test target's scratch folder.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "server-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// A CA and a server certificate for 127.0.0.1 and localhost, signed by it (PEM).
pub struct Pki {
    /// The CA's certificate.
    pub ca: String,
    /// The server's certificate.
    pub cert: String,
    /// The server's key.
    pub key: String,
}

impl Pki {
    /// A new CA named `name` and a server certificate under it.
    pub fn new(name: &str) -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, name);
        let ca =
            CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &ca).expect("certificate");
        Pki {
            ca: ca.pem(),
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// Writes the server's certificate and key into `dir` (tls.crt, tls.key).
    pub fn write(&self, dir: &Path) {
        write_atomically(&dir.join("tls.crt"), self.cert.as_bytes());
        write_atomically(&dir.join("tls.key"), self.key.as_bytes());
    }
}

/// Writes a file by renaming a complete copy over it, as a ConfigMap volume swaps its files.
pub fn write_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A server's files: settings.json, tls.crt, tls.key in a scratch folder.
pub struct Files {
    pub dir: PathBuf,
    pub pki: Pki,
}

impl Files {
    /// The folder, with these settings (JSON or YAML text) and a new certificate.
    pub fn new(name: &str, settings: &str) -> Files {
        let dir = scratch(name);
        write_atomically(&dir.join("settings.json"), settings.as_bytes());
        let pki = Pki::new(&format!("{name} CA"));
        pki.write(&dir);
        Files { dir, pki }
    }

    /// A configuration for these files, on a loopback port the system picks, with short
    /// timings (no shutdown delay).
    pub fn config(&self) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            reload_interval: Duration::from_millis(100),
            read_timeout: Duration::from_secs(5),
            shutdown_delay: Duration::ZERO,
            shutdown_timeout: Duration::from_secs(10),
            ..Config::new(
                self.dir.join("settings.json"),
                self.dir.join("tls.crt"),
                self.dir.join("tls.key"),
            )
        }
    }
}

/// A server running in-process.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Starts a server.
    pub async fn start(config: Config) -> Result<Running, StartError> {
        let server = Server::start(config).await?;
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(server.serve(async {
            let _ = stopped.await;
        }));
        Ok(Running {
            addr,
            stop: Some(stop),
            done: Some(done),
        })
    }

    /// Begins the shutdown (as SIGTERM does).
    pub fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits until the server has stopped.
    pub async fn stop(mut self) {
        self.shut_down();
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }
}

/// HTTP/1.1 or HTTP/2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    H1,
    H2,
}

/// A TLS client trusting only `ca`, offering only `proto` by ALPN (rustls on ring, as the
/// server).
#[allow(deprecated)]
pub fn connector(ca: &str, proto: Proto) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for cert in rustls_pki_types_certs(ca) {
        roots.add(cert).expect("CA certificate");
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![match proto {
        Proto::H1 => b"http/1.1".to_vec(),
        Proto::H2 => b"h2".to_vec(),
    }];
    TlsConnector::from(Arc::new(config))
}

fn rustls_pki_types_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM")
}

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// One kept HTTPS connection.
pub struct Conn {
    sender: Sender,
    /// The protocol ALPN chose.
    pub alpn: Option<Vec<u8>>,
}

/// An answer: status, content type, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub allow: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`null` when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Conn {
    /// Connects to `addr` trusting `ca`.
    pub async fn open(addr: SocketAddr, ca: &str, proto: Proto) -> Result<Conn, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        let tls = connector(ca, proto)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let io = TokioIo::new(tls);
        let sender = match proto {
            Proto::H1 => {
                let (sender, conn) = http1::handshake(io).await.map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                Sender::H1(sender)
            }
            Proto::H2 => {
                let (sender, conn) = http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                Sender::H2(sender)
            }
        };
        Ok(Conn { sender, alpn })
    }

    /// Sends one request on the connection.
    pub async fn send(&mut self, method: &str, path: &str, body: &[u8]) -> Result<Reply, String> {
        let req = hyper::Request::builder()
            .method(method)
            .uri(match self.sender {
                Sender::H1(_) => path.to_owned(),
                Sender::H2(_) => format!("https://127.0.0.1{path}"),
            })
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| e.to_string())?;
        // Wait until the connection can take a request (the previous exchange finished).
        let ready = match &mut self.sender {
            Sender::H1(s) => s.ready().await,
            Sender::H2(s) => s.ready().await,
        };
        ready.map_err(|e| format!("{method} {path}: the connection closed: {e}"))?;
        let resp = match &mut self.sender {
            Sender::H1(s) => s.send_request(req).await,
            Sender::H2(s) => s.send_request(req).await,
        }
        .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let allow = header("allow");
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        Ok(Reply {
            status,
            content_type,
            allow,
            body,
        })
    }
}

/// One request on a new connection.
pub async fn once(
    addr: SocketAddr,
    ca: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Reply, String> {
    Conn::open(addr, ca, Proto::H1)
        .await?
        .send(method, path, body)
        .await
}

/// Waits (up to `within`) until `check` holds, asking every 50 ms.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

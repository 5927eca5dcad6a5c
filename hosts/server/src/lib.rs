//! The native host: `resource-limits serve`, the admission rule as a webhook server any
//! cluster can run as a Deployment (no Kubewarden, no SpinKube).
//!
//! Like every host it decodes, makes one core call and encodes: an AdmissionReview body goes
//! to [`resource_limits::review::admission_review`] as the mutating webhook on `POST /mutate`
//! and as the validating one on `POST /validate`, and the AdmissionReview response comes back
//! as it is. What only this host does is serving: TLS (rustls; the certificate and key re-read
//! when their files change), HTTP/1.1 and HTTP/2 (by ALPN), the settings file re-read on
//! change (the last good settings kept when a new file is invalid), `/healthz`, `/readyz`,
//! Prometheus `/metrics`, structured logs and a graceful shutdown.
//!
//! - [`Config`]: what `serve`'s flags say.
//! - [`Server`]: started (files read, port bound), then run until a shutdown signal.
//! - `http`: the routes; `reload`: the settings and the certificate, live; `tls`: the
//!   certificate resolver; `metrics`: what `/metrics` counts.

mod http;
mod metrics;
mod reload;
mod tls;

pub use reload::SettingsFileError;
pub use tls::CertificateError;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use reload::{Live, Seen};
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Request bodies above this are refused with 413 (the API server sends at most 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// What `resource-limits serve` is told.
#[derive(Clone, Debug)]
pub struct Config {
    /// The settings file (JSON or YAML: plain settings, or a policy whose `spec.settings`
    /// they are), re-read when it changes.
    pub settings: PathBuf,
    /// The certificate chain (PEM), re-read when it changes.
    pub tls_cert_file: PathBuf,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1), re-read with it.
    pub tls_private_key_file: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// How often the settings and certificate files are looked at.
    pub reload_interval: Duration,
    /// How long a client may take to finish its TLS handshake, its headers or its body.
    pub read_timeout: Duration,
    /// After SIGTERM: how long to keep accepting while `/readyz` says not ready (so the
    /// endpoint is removed before the listener closes).
    pub shutdown_delay: Duration,
    /// After SIGTERM and the delay: how long in-flight reviews get to finish.
    pub shutdown_timeout: Duration,
}

impl Config {
    /// A configuration with the default timings.
    pub fn new(settings: PathBuf, tls_cert_file: PathBuf, tls_private_key_file: PathBuf) -> Self {
        Config {
            settings,
            tls_cert_file,
            tls_private_key_file,
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            reload_interval: Duration::from_secs(2),
            read_timeout: Duration::from_secs(10),
            shutdown_delay: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(20),
        }
    }
}

/// Why the server did not start (exit code 2).
#[derive(Debug)]
pub enum StartError {
    /// The settings file cannot be read or its settings are invalid.
    Settings(SettingsFileError),
    /// The certificate or key cannot be read or do not make a pair.
    Certificate(CertificateError),
    /// The address cannot be listened on.
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// The async runtime could not start.
    Runtime(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Settings(e) => write!(f, "{e}"),
            StartError::Certificate(e) => write!(f, "{e}"),
            StartError::Listen { addr, error } => write!(f, "cannot listen on {addr}: {error}"),
            StartError::Runtime(e) => write!(f, "cannot start the runtime: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Starts the server and serves until SIGTERM or SIGINT, on a runtime of its own.
pub fn run(config: Config) -> Result<(), StartError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    runtime.block_on(async {
        let shutdown = terminated();
        let server = Server::start(config).await?;
        server.serve(shutdown).await;
        Ok(())
    })
}

/// Resolves on SIGTERM (what the kubelet sends) or SIGINT. The handlers are installed when
/// this is called, not when the future is first polled: a SIGTERM that comes as soon as the
/// server says it listens must stop it gracefully, not kill it.
fn terminated() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let handlers = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        async move {
            match handlers {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
                        _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A started server: its files read, its port bound.
pub struct Server {
    config: Config,
    listener: TcpListener,
    live: Arc<Live>,
    /// What the files held when read at the start, for the reload thread.
    seen: Seen,
    acceptor: TlsAcceptor,
}

impl Server {
    /// Reads the settings and the certificate (a problem with either is an error: nothing
    /// is served without them) and binds the address.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let (live, seen) = Live::load(&config)?;
        let live = Arc::new(live);
        let acceptor = TlsAcceptor::from(tls::server_config(live.certificate()));
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|error| StartError::Listen {
                    addr: config.listen,
                    error,
                })?;
        Ok(Server {
            config,
            listener,
            live,
            seen,
            acceptor,
        })
    }

    /// The address it listens on (the port the system chose, for `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// Serves until `shutdown` resolves; then `/readyz` says not ready, new connections are
    /// taken for the shutdown delay, the listener closes, and every connection is closed once
    /// its in-flight reviews are answered (within the shutdown timeout).
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let Server {
            config,
            listener,
            live,
            seen,
            acceptor,
        } = self;
        let addr = listener.local_addr().unwrap_or(config.listen);
        tracing::info!(
            %addr,
            settings = %config.settings.display(),
            certificate = %config.tls_cert_file.display(),
            "listening (HTTPS: HTTP/1.1 and HTTP/2)"
        );
        reload::watch(&live, &config, seen);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(config.read_timeout)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(10));
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut draining = None;
        loop {
            let deadline = async {
                match draining {
                    Some(until) => tokio::time::sleep_until(until).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                accepted = listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of descriptors, or a connection reset before accept: wait a
                            // moment rather than spin.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = tcp.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let live = Arc::clone(&live);
                    let builder = builder.clone();
                    let watcher = graceful.watcher();
                    let read_timeout = config.read_timeout;
                    tokio::spawn(async move {
                        let tls = match tokio::time::timeout(read_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                        let service = hyper::service::service_fn(move |req| {
                            http::handle(Arc::clone(&live), req, read_timeout)
                        });
                        let conn = builder.serve_connection(TokioIo::new(tls), service);
                        if let Err(e) = watcher.watch(conn.into_owned()).await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                () = &mut shutdown, if draining.is_none() => {
                    live.start_draining();
                    draining = Some(tokio::time::Instant::now() + config.shutdown_delay);
                }
                () = deadline => break,
            }
        }
        drop(listener);
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("every connection closed; stopped"),
            () = tokio::time::sleep(config.shutdown_timeout) => {
                tracing::warn!(timeout = ?config.shutdown_timeout, "stopped with connections still open");
            }
        }
    }
}

/// The least important log lines written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Only what stops the server or a review from being judged.
    Error,
    /// And files that could not be reloaded.
    Warn,
    /// And the start, reloads, refusals (one line each) and the shutdown.
    Info,
    /// And every connection's end and every admitted review.
    Debug,
}

/// Starts the log: lines on standard error, JSON objects (`timestamp`, `level`, `message`
/// and the event's fields, for a log collector) or text (for a terminal).
pub fn init_logging(level: LogLevel, json: bool) {
    let level = match level {
        LogLevel::Error => tracing::Level::ERROR,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Debug => tracing::Level::DEBUG,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second start (tests start several servers in one process) keeps the first log.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}

/// Reads a duration as Go and kube flags write it: a decimal number and a unit (`ms`, `s`,
/// `m`, `h`), or several (`1m30s`). A bare `0` is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration (like 500ms, 10s, 1m30s)");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_writes_them() {
        let ok = |t: &str| parse_duration(t).ok();
        assert_eq!(ok("10s"), Some(Duration::from_secs(10)));
        assert_eq!(ok("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(ok("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(ok("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(ok("0"), Some(Duration::ZERO));
        assert_eq!(ok("2h"), Some(Duration::from_secs(7200)));
        for bad in ["", "10", "s", "10x", "-1s", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}

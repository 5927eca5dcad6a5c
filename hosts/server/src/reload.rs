//! What the server serves with, live: the settings and the certificate, each re-read when
//! its file changes, the last good one kept when a new one is broken (and that said on
//! `/readyz`, in the log and in `/metrics`).

use crate::metrics::{Metrics, Reloaded};
use crate::tls::{self, CertificateError, Resolver};
use crate::{Config, StartError};
use resource_limits::Settings;
use resource_limits_yaml::settings_source::{self, ReadError};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};

/// Why a settings file gives no settings.
#[derive(Debug)]
pub enum SettingsFileError {
    /// The file cannot be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not UTF-8 text.
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// What it holds is not valid settings (the shared reader's message).
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        error: ReadError,
    },
}

impl fmt::Display for SettingsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsFileError::Read { path, error } => {
                write!(f, "{}: cannot be read: {error}", path.display())
            }
            SettingsFileError::NotText { path } => {
                write!(f, "{}: not UTF-8 text", path.display())
            }
            SettingsFileError::Invalid { path, error } => {
                write!(f, "{}: invalid settings: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for SettingsFileError {}

/// Reads settings from a file's bytes, as every host that reads files reads them.
fn settings_of(path: &Path, bytes: &[u8]) -> Result<Settings, SettingsFileError> {
    let text = std::str::from_utf8(bytes).map_err(|_| SettingsFileError::NotText {
        path: path.to_owned(),
    })?;
    settings_source::read(text).map_err(|error| SettingsFileError::Invalid {
        path: path.to_owned(),
        error,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, SettingsFileError> {
    std::fs::read(path).map_err(|error| SettingsFileError::Read {
        path: path.to_owned(),
        error,
    })
}

/// The server's live state.
pub struct Live {
    settings: RwLock<Arc<Settings>>,
    resolver: Arc<Resolver>,
    /// What is wrong with the files now (the last good ones are served): settings, then
    /// certificate.
    problems: RwLock<[Option<String>; 2]>,
    draining: AtomicBool,
    /// What `/metrics` shows.
    pub metrics: Metrics,
}

/// The files' contents the live state was made from: the reload thread compares the files
/// with these, so a change between the start and its first look is not missed.
pub struct Seen {
    settings: Option<Vec<u8>>,
    pair: Pair,
}

impl Live {
    /// Reads the settings and the certificate, each file once; either broken is an error.
    pub fn load(config: &Config) -> Result<(Live, Seen), StartError> {
        let bytes = read(&config.settings).map_err(StartError::Settings)?;
        let settings = settings_of(&config.settings, &bytes).map_err(StartError::Settings)?;
        let read_pem = |path: &Path| {
            std::fs::read(path).map_err(|error| {
                StartError::Certificate(CertificateError::Read {
                    path: path.to_owned(),
                    error,
                })
            })
        };
        let cert = read_pem(&config.tls_cert_file)?;
        let key_pem = read_pem(&config.tls_private_key_file)?;
        let key = tls::certified(
            &config.tls_cert_file,
            &cert,
            &config.tls_private_key_file,
            &key_pem,
        )
        .map_err(StartError::Certificate)?;
        let live = Live {
            settings: RwLock::new(Arc::new(settings)),
            resolver: Arc::new(Resolver::new(key)),
            problems: RwLock::new([None, None]),
            draining: AtomicBool::new(false),
            metrics: Metrics::new(),
        };
        let seen = Seen {
            settings: Some(bytes),
            pair: (Some(cert), Some(key_pem)),
        };
        Ok((live, seen))
    }

    /// The settings to judge with now.
    pub fn settings(&self) -> Arc<Settings> {
        Arc::clone(&self.settings.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The certificate resolver the TLS configuration asks.
    pub fn certificate(&self) -> Arc<Resolver> {
        Arc::clone(&self.resolver)
    }

    /// What is wrong with the files now, if anything.
    pub fn problems(&self) -> Vec<String> {
        self.problems
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .flatten()
            .cloned()
            .collect()
    }

    fn set_problem(&self, which: usize, problem: Option<String>) {
        self.problems
            .write()
            .unwrap_or_else(PoisonError::into_inner)[which] = problem;
    }

    /// Whether a shutdown has begun (`/readyz` says not ready).
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// A shutdown has begun.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }
}

/// Looks at the settings and certificate files every `reload_interval` on a thread of its
/// own (the reads are blocking and tiny), until the server is gone. Files are compared by
/// content: a ConfigMap or Secret volume swaps a symbolic link, cert-manager's files change
/// in place, and either way what counts is what the files now say.
pub fn watch(live: &Arc<Live>, config: &Config, seen: Seen) {
    let weak: Weak<Live> = Arc::downgrade(live);
    let config = config.clone();
    let spawned = std::thread::Builder::new()
        .name("reload".into())
        .spawn(move || {
            let Seen {
                settings: mut seen_settings,
                pair: mut seen_pair,
            } = seen;
            loop {
                std::thread::sleep(config.reload_interval);
                let Some(live) = weak.upgrade() else { return };
                reload_settings(&live, &config.settings, &mut seen_settings);
                reload_certificate(&live, &config, &mut seen_pair);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the reload thread: files will not be re-read");
    }
}

fn reload_settings(live: &Live, path: &Path, seen: &mut Option<Vec<u8>>) {
    let bytes = match read(path) {
        Ok(b) => b,
        Err(e) => {
            // Unreadable (mid-swap, or removed): said once, retried every interval.
            let text = format!("{e}; serving the last good settings");
            if seen.take().is_some() {
                tracing::warn!(problem = %text, "settings not reloaded");
                live.metrics.settings_reloaded(Reloaded::Failed);
            }
            live.set_problem(0, Some(text));
            return;
        }
    };
    if seen.as_deref() == Some(bytes.as_slice()) {
        return;
    }
    // An empty file at start means `{}` (the plain rule); appearing in place of settings, it
    // is more likely a file being rewritten (truncated, then written) than a wish to drop
    // every bound: kept out until it holds something (`{}` says the plain rule).
    if bytes.iter().all(u8::is_ascii_whitespace) {
        let text = format!(
            "{}: empty (being written?); serving the last good settings (write {{}} for the plain rule)",
            path.display()
        );
        if seen.take().is_some() {
            tracing::warn!(problem = %text, "settings not reloaded");
            live.metrics.settings_reloaded(Reloaded::Failed);
        }
        live.set_problem(0, Some(text));
        return;
    }
    match settings_of(path, &bytes) {
        Ok(settings) => {
            *live
                .settings
                .write()
                .unwrap_or_else(PoisonError::into_inner) = Arc::new(settings);
            live.set_problem(0, None);
            live.metrics.settings_reloaded(Reloaded::Ok);
            tracing::info!(file = %path.display(), "settings reloaded");
        }
        Err(e) => {
            let text = format!("{e}; serving the last good settings");
            tracing::warn!(problem = %text, "settings not reloaded");
            live.set_problem(0, Some(text));
            live.metrics.settings_reloaded(Reloaded::Failed);
        }
    }
    *seen = Some(bytes);
}

type Pair = (Option<Vec<u8>>, Option<Vec<u8>>);

fn reload_certificate(live: &Live, config: &Config, seen: &mut Pair) {
    let now = (
        std::fs::read(&config.tls_cert_file).ok(),
        std::fs::read(&config.tls_private_key_file).ok(),
    );
    if now == *seen {
        return;
    }
    // The pair just read is the one judged (a second read could see a newer file, which
    // would then pass for seen); only where a file could not be read is it read again, for
    // the error that says why.
    let pair = match &now {
        (Some(cert), Some(key)) => tls::certified(
            &config.tls_cert_file,
            cert,
            &config.tls_private_key_file,
            key,
        ),
        _ => tls::load(&config.tls_cert_file, &config.tls_private_key_file),
    };
    match pair {
        Ok(key) => {
            live.resolver.set(key);
            live.set_problem(1, None);
            live.metrics.certificate_reloaded(Reloaded::Ok);
            tracing::info!(file = %config.tls_cert_file.display(), "certificate reloaded");
        }
        Err(e) => {
            let text = format!("{e}; serving the last good certificate");
            tracing::warn!(problem = %text, "certificate not reloaded");
            live.set_problem(1, Some(text));
            live.metrics.certificate_reloaded(Reloaded::Failed);
        }
    }
    *seen = now;
}

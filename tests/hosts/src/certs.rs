//! Certificates for the cluster tests: a new serving certificate signed by the test cluster's
//! CA (as a rotation writes one), a certificate's identity, and the certificate a webhook host
//! serves to a new connection, all through the `openssl` command; and `run`, the command runner
//! they use.

use crate::cluster::Cluster;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs a command (with `stdin`), failing with its output (stderr, then stdout if any); its
/// stdout.
pub fn run(command: &mut Command, stdin: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text)
            .map_err(|e| format!("{command:?}: stdin: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if !out.status.success() {
        let mut error = format!(
            "{command:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.stdout.is_empty() {
            error.push_str(&format!(
                "\nstdout:\n{}",
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        return Err(error);
    }
    Ok(out.stdout)
}

/// A new serving certificate and key for 127.0.0.1 and localhost, signed by the CA the webhook
/// configurations trust, as scripts/cluster/up.sh issues the first (a new RSA key, a random
/// serial): the certificate's PEM, then the key's.
pub fn issue_webhook_certificate(c: &Cluster, dir: &Path) -> Result<(Vec<u8>, Vec<u8>), String> {
    let (crt, key) = issue_certificate(
        c,
        dir,
        "new",
        "serverAuth,clientAuth",
        "IP:127.0.0.1,DNS:localhost",
    )?;
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    Ok((read(&crt)?, read(&key)?))
}

/// A certificate and key signed by the cluster's CA (a new RSA key, a random serial) for
/// `subject_alt_names` (openssl's form: `IP:...,DNS:...`) and the extended key usages
/// `ext_key_usage`, written into `dir` as NAME.crt and NAME.key: their paths.
pub fn issue_certificate(
    c: &Cluster,
    dir: &Path,
    name: &str,
    ext_key_usage: &str,
    subject_alt_names: &str,
) -> Result<(PathBuf, PathBuf), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let pki = c.pki();
    let (key, csr, ext, crt) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.csr")),
        dir.join(format!("{name}.ext")),
        dir.join(format!("{name}.crt")),
    );
    run(
        Command::new("openssl")
            .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout"])
            .arg(&key)
            .args(["-subj", "/CN=resource-limits-webhook", "-out"])
            .arg(&csr),
        None,
    )?;
    std::fs::write(
        &ext,
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage={ext_key_usage}\nsubjectAltName={subject_alt_names}\n"
        ),
    )
    .map_err(|e| format!("{}: {e}", ext.display()))?;
    run(
        Command::new("openssl")
            .args(["x509", "-req", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(pki.join("ca.crt"))
            .arg("-CAkey")
            .arg(pki.join("ca.key"))
            .arg("-CAserial")
            .arg(dir.join("ca.srl"))
            .args(["-CAcreateserial", "-days", "2", "-sha256", "-extfile"])
            .arg(&ext)
            .arg("-out")
            .arg(&crt),
        None,
    )?;
    Ok((crt, key))
}

/// A certificate's serial and SHA-256 fingerprint (`serial=...`, `sha256 Fingerprint=...`), from
/// PEM text holding it.
pub fn certificate_id(pem: &[u8]) -> Result<String, String> {
    let out = run(
        Command::new("openssl").args(["x509", "-noout", "-serial", "-fingerprint", "-sha256"]),
        Some(pem),
    )?;
    Ok(String::from_utf8_lossy(&out).trim().replace('\n', ", "))
}

/// The certificate the webhook serves to a new connection, checked as the API server checks it
/// (against the CA of the webhook configurations' caBundle, for the IP address of their URL).
pub fn served_certificate(c: &Cluster) -> Result<String, String> {
    let url = c.webhook_url();
    let address = url.trim_start_matches("https://");
    let ip = address.rsplit_once(':').map_or(address, |(ip, _)| ip);
    let out = run(
        Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                address,
                "-verify_return_error",
                "-verify_ip",
                ip,
            ])
            .arg("-CAfile")
            .arg(c.pki().join("ca.crt")),
        None,
    )?;
    certificate_id(&out)
}

//! What the end-to-end tests share: a scratch folder that holds a private kwctl store, and a
//! throwaway OCI registry (Debian's docker-registry) on loopback.

use crate::{policy_wasm, repo_root};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// kwctl's log filter that silences it but for errors (`RUST_LOG=error` does not in 1.35).
pub const KWCTL_QUIET: &str =
    "kwctl=error,policy_evaluator=error,sigstore=error,policy_fetcher=error";

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A scratch folder (kwctl store, keys, registry storage), removed on drop.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// A fresh folder `rl-NAME-PID` in the temporary folder.
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Scratch { dir }
    }

    /// A path in the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A path in the folder, as text.
    pub fn str(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }

    /// kwctl (`../shared/bin/kwctl` where it exists, else from PATH) with its store in the
    /// folder and `log` as its RUST_LOG.
    pub fn kwctl_logging(&self, log: &str) -> Command {
        let shared = repo_root().join("../shared/bin/kwctl");
        let mut c = Command::new(if shared.exists() {
            shared
        } else {
            PathBuf::from("kwctl")
        });
        c.env("XDG_CONFIG_HOME", self.path("cfg"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("RUST_LOG", log);
        c
    }

    /// kwctl, quiet but for errors.
    pub fn kwctl(&self) -> Command {
        self.kwctl_logging(KWCTL_QUIET)
    }

    /// Runs kwctl; its stdout, or a panic with its stderr.
    pub fn kwctl_ok(&self, args: &[&str]) -> String {
        let out = self
            .kwctl()
            .args(args)
            .output()
            .expect("kwctl runs (is it on PATH?)");
        assert!(
            out.status.success(),
            "kwctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The built policy annotated as `make annotated-policy.wasm` annotates it, in the folder:
    /// policy-metadata.yaml, and docs/policy.md as its usage page.
    pub fn annotate(&self) -> PathBuf {
        let out = self.path("annotated.wasm");
        let root = repo_root();
        let text = |p: PathBuf| p.to_string_lossy().into_owned();
        self.kwctl_ok(&[
            "annotate",
            "-m",
            &text(root.join("policy-metadata.yaml")),
            "-u",
            &text(root.join("docs/policy.md")),
            "-o",
            &text(out.clone()),
            &text(policy_wasm()),
        ]);
        out
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Debian's docker-registry on a free loopback port, its storage in a scratch folder,
/// stopped on drop.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Registry {
    /// Starts a registry and waits until it accepts connections.
    pub fn start(s: &Scratch) -> Registry {
        let addr = format!("127.0.0.1:{}", free_port());
        let config = s.path("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                s.path("registry").display()
            ),
        )
        .expect("registry config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry runs (Debian package docker-registry; scripts/setup.sh installs it)");
        let started = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry { child, addr }
    }

    /// One HTTP/1.1 exchange with the registry: (status, body).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.addr).expect("registry connection");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).expect("request");
        stream.write_all(body).expect("request body");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("answer");
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer");
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        assert!(
            !head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked"),
            "chunked answers are not read here: {head}"
        );
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        (status, answer[split + 4..].to_vec())
    }

    /// Copies the manifest at `from` to the tag `to` in one repository (blobs stay shared).
    pub fn copy_manifest(&self, repo: &str, from: &str, to: &str) {
        const OCI: &str = "application/vnd.oci.image.manifest.v1+json";
        let (status, manifest) = self.http(
            "GET",
            &format!("/v2/{repo}/manifests/{from}"),
            &[("Accept", OCI)],
            b"",
        );
        assert_eq!(status, 200, "GET manifest {from}");
        let (status, _) = self.http(
            "PUT",
            &format!("/v2/{repo}/manifests/{to}"),
            &[("Content-Type", OCI)],
            &manifest,
        );
        assert_eq!(status, 201, "PUT manifest {to}");
    }

    /// The registry's repositories (its catalog).
    pub fn repositories(&self) -> Value {
        let (status, body) = self.http("GET", "/v2/_catalog", &[], b"");
        assert_eq!(status, 200);
        let catalog: Value = serde_json::from_slice(&body).expect("catalog JSON");
        catalog["repositories"].clone()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! `resource-limits serve` as a process: the exit codes, the log lines, SIGTERM. (What the
//! server answers is tested in hosts/server/tests, in-process.)

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn openssl_pair(dir: &Path) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-days",
            "1",
        ])
        .arg("-keyout")
        .arg(dir.join("tls.key"))
        .arg("-out")
        .arg(dir.join("tls.crt"))
        .stderr(Stdio::null())
        .status()
        .expect("openssl (scripts/setup.sh installs it)");
    assert!(status.success());
}

fn serve(dir: &Path, settings: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_resource-limits"));
    cmd.current_dir(dir)
        .args([
            "serve",
            "--settings",
            settings,
            "--tls-cert-file",
            "tls.crt",
        ])
        .args([
            "--tls-private-key-file",
            "tls.key",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--shutdown-delay", "0s"]);
    cmd
}

#[test]
fn bad_settings_exit_2_with_the_settings_message() {
    let dir = common::tmp("serve-bad");
    openssl_pair(&dir);
    std::fs::write(dir.join("s.yaml"), "cpu:\n  maxLimt: 2\n").expect("write");
    let out = serve(&dir, "s.yaml").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("resource-limits serve: s.yaml: invalid settings:")
            && err.contains("cpu.maxLimt: unknown setting"),
        "{err}"
    );
    // A usage error is clap's, also 2, and worded as one.
    let out = Command::new(env!("CARGO_BIN_EXE_resource-limits"))
        .args(["serve", "--settings", "s.yaml", "--read-timeout", "ten"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value 'ten' for '--read-timeout"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn it_logs_json_lines_and_stops_on_sigterm() {
    let dir = common::tmp("serve-term");
    openssl_pair(&dir);
    std::fs::write(dir.join("s.json"), r#"{"cpu": {"maxLimit": "2"}}"#).expect("write");
    let mut child = serve(&dir, "s.json")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let started: serde_json::Value = serde_json::from_str(&first).unwrap_or_default();
    assert_eq!(started["level"], "INFO", "{first}");
    assert_eq!(
        started["message"], "listening (HTTPS: HTTP/1.1 and HTTP/2)",
        "{first}"
    );
    assert!(
        started["addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{first}"
    );
    let sent = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert!(sent.elapsed() < Duration::from_secs(5));
    let rest: Vec<serde_json::Value> = lines
        .map_while(Result::ok)
        .map(|l| serde_json::from_str(&l).unwrap_or_default())
        .collect();
    let messages: Vec<&str> = rest.iter().filter_map(|l| l["message"].as_str()).collect();
    assert_eq!(
        messages,
        ["shutting down", "every connection closed; stopped"],
        "{rest:?}"
    );
    assert_eq!(rest[0]["signal"], "SIGTERM");
}

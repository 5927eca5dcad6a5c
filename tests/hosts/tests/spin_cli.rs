//! End to end with the real Spin CLI (../shared/bin/spin here, the user's own elsewhere):
//! `spin build`, `spin up` on loopback with the settings variable, the examples posted and
//! answered as the core answers them; `spin registry push` to a local docker-registry and
//! `spin up --from` that reference.

use host_tests::repo_root;
use host_tests::spin::http_request;
use resource_limits::review::admission_review;
use resource_limits::Settings;
use resource_limits::Webhook;
use serde_json::Value;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn spin() -> Command {
    let shared = repo_root().join("../shared/bin/spin");
    let mut c = Command::new(if shared.exists() {
        shared
    } else {
        PathBuf::from("spin")
    });
    c.current_dir(repo_root())
        .env("XDG_CACHE_HOME", scratch().join("cache"));
    c
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("rl-spin-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&d);
    d
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for(addr: SocketAddr, child: &mut Child, what: &str) {
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child process, in its own process group, killed with its group on drop (`spin up`
/// runs the app in a child process, `spin trigger http`, which must not outlive the test).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &group])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spin_up(extra: &[&str], settings: &str) -> (Running, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let child = spin()
        .process_group(0)
        .arg("up")
        .args(extra)
        .args([
            "--listen",
            &addr.to_string(),
            "--variable",
            &format!("settings={settings}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spin runs (is it on PATH?)");
    let mut running = Running(child);
    wait_for(addr, &mut running.0, "spin up");
    (running, addr)
}

/// (settings file, request file) pairs of examples/examples.txt, grouped by settings.
fn examples_by_settings() -> Vec<(PathBuf, Vec<PathBuf>)> {
    let dir = repo_root().join("examples");
    let text = std::fs::read_to_string(dir.join("examples.txt")).expect("examples.txt");
    let mut out: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut it = line.split_whitespace();
        let s = dir.join("settings").join(it.next().unwrap_or_default());
        let r = dir.join("requests").join(it.next().unwrap_or_default());
        match out.iter_mut().find(|(k, _)| *k == s) {
            Some((_, v)) => v.push(r),
            None => out.push((s, vec![r])),
        }
    }
    out
}

fn review_of(request: &PathBuf) -> Vec<u8> {
    let req: Value =
        serde_json::from_slice(&std::fs::read(request).expect("request")).expect("JSON");
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req
    }))
    .expect("JSON")
}

fn check_example(addr: SocketAddr, settings: &Settings, request: &PathBuf) -> bool {
    let body = review_of(request);
    let (status, _, answer) = http_request(addr, "POST", "/mutate", &body);
    assert_eq!(
        status,
        200,
        "{}: {}",
        request.display(),
        String::from_utf8_lossy(&answer)
    );
    let got: Value = serde_json::from_slice(&answer).expect("an AdmissionReview");
    let want =
        admission_review(settings, &body, Webhook::Mutating).expect("the example is a review");
    assert_eq!(
        got,
        serde_json::to_value(&want).unwrap_or_default(),
        "{}",
        request.display()
    );
    got["response"]["allowed"].as_bool().unwrap_or(false)
}

#[test]
fn spin_build_up_and_registry_round_trip() {
    let out = spin().arg("build").output().expect("spin build runs");
    assert!(
        out.status.success(),
        "spin build: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut verdicts = Vec::new();
    for (settings_file, requests) in examples_by_settings() {
        let text = std::fs::read_to_string(&settings_file).expect("settings");
        let compact = serde_json::to_string(&serde_json::from_str::<Value>(&text).expect("JSON"))
            .expect("JSON");
        let settings = Settings::from_json(compact.as_bytes()).expect("valid settings");
        let (_spin, addr) = spin_up(&[], &compact);
        let (status, _, _) = http_request(addr, "GET", "/healthz", b"");
        assert_eq!(status, 200);
        for r in &requests {
            verdicts.push(check_example(addr, &settings, r));
        }
    }
    assert!(
        verdicts.contains(&true) && verdicts.contains(&false),
        "{verdicts:?}"
    );

    // Invalid settings: healthz says so.
    let (_spin, addr) = spin_up(&[], r#"{"cpu":{"maxLimit":"4 cores"}}"#);
    let (status, _, body) = http_request(addr, "GET", "/healthz", b"");
    assert_eq!(status, 500);
    assert!(String::from_utf8_lossy(&body).contains("4 cores"));
    drop(_spin);

    // spin registry push to a real OCI registry on loopback, then spin up --from it.
    let reg_port = free_port();
    let reg_addr: SocketAddr = format!("127.0.0.1:{reg_port}").parse().expect("addr");
    let config = scratch().join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {reg_addr}\n",
            scratch().join("registry").display()
        ),
    )
    .expect("registry config");
    let mut registry = Running(
        Command::new("docker-registry")
            .process_group(0)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry runs (Debian package docker-registry)"),
    );
    wait_for(reg_addr, &mut registry.0, "docker-registry");
    let reference = format!("{reg_addr}/resource-limits-spin:v0.1.0");
    let out = spin()
        .args(["registry", "push", "--insecure", &reference])
        .output()
        .expect("spin registry push");
    assert!(
        out.status.success(),
        "push: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sha256:"));
    let bounded = repo_root().join("examples/settings/bounded.json");
    let text = std::fs::read_to_string(&bounded).expect("settings");
    let compact =
        serde_json::to_string(&serde_json::from_str::<Value>(&text).expect("JSON")).expect("JSON");
    let settings = Settings::from_json(compact.as_bytes()).expect("valid");
    let (_spin, addr) = spin_up(&["--insecure", "--from", &reference], &compact);
    let request = repo_root().join("examples/requests/deployment-over-limits.json");
    assert!(!check_example(addr, &settings, &request));
    drop(_spin);
    // Nothing of spin keeps serving once stopped.
    let stopped = Instant::now();
    while TcpStream::connect(addr).is_ok() {
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "spin still serves on {addr} after it was stopped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(scratch());
}

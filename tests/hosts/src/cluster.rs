//! A Kubernetes control plane for the end-to-end tests: `scripts/cluster/up.sh` (etcd,
//! kube-apiserver, kube-controller-manager, built from pinned releases) in a scratch folder,
//! the webhook host switched with `scripts/cluster/webhook.sh`, and `kubectl` against it.
//! Everything is stopped (`scripts/cluster/down.sh`) when the `Cluster` is dropped.

use crate::repo_root;
use crate::scratch::Scratch;
use serde_json::{json, Value};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The webhook host behind the API server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// policy-server serving annotated-policy.wasm, registered as kubewarden-controller does.
    Kubewarden,
    /// `spin up` with the Spin component, registered by examples/spinkube/webhooks.yaml.
    Spin,
    /// `resource-limits serve`, the native server (the image's static binary), registered by
    /// examples/native/webhooks.yaml.
    Native,
}

impl Host {
    /// Every host.
    pub const ALL: [Host; 3] = [Host::Kubewarden, Host::Spin, Host::Native];

    /// The name `HOST=` takes.
    pub fn name(self) -> &'static str {
        match self {
            Host::Kubewarden => "kubewarden",
            Host::Spin => "spin",
            Host::Native => "native",
        }
    }

    /// The name of the webhook that answers for the policy (the API server quotes it in a
    /// denial: `admission webhook "NAME" denied the request: ...`).
    pub fn webhook_name(self) -> &'static str {
        match self {
            Host::Kubewarden => "clusterwide-resource-limits.kubewarden.admission",
            Host::Spin | Host::Native => "mutate.resource-limits.example.com",
        }
    }
}

/// A running control plane, stopped on drop.
pub struct Cluster {
    scratch: Scratch,
    dir: PathBuf,
    bin: PathBuf,
    /// The processes [`Cluster::start_api_server`] started: stopped by the teardown with the
    /// rest, then waited for.
    started: std::sync::Mutex<Vec<std::process::Child>>,
}

/// Runs a script of scripts/cluster, failing with its output.
fn script(name: &str, envs: &[(&str, &Path)]) -> String {
    run_script(&repo_root().join("scripts/cluster").join(name), &[], envs)
}

/// Runs one of the repository's scripts with `args` (and `envs`), standard input closed: its
/// standard output, or a panic with everything it printed.
pub fn run_script(path: &Path, args: &[&str], envs: &[(&str, &Path)]) -> String {
    let mut c = Command::new(path);
    c.args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{}{}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Cluster {
    /// Starts a control plane with no webhook (`WEBHOOK=none`).
    pub fn up(name: &str) -> Cluster {
        Cluster::up_with(name, &[])
    }

    /// Starts a control plane with no webhook and more of up.sh's variables
    /// (`TYPE_CHECKING=off`).
    pub fn up_with(name: &str, envs: &[(&str, &Path)]) -> Cluster {
        let scratch = Scratch::new(&format!("cluster-{name}"));
        let dir = scratch.path("cluster");
        let bin = PathBuf::from(script("build.sh", &[]).trim());
        let mut all = vec![
            ("CLUSTER_DIR", dir.as_path()),
            ("WEBHOOK", Path::new("none")),
        ];
        all.extend_from_slice(envs);
        script("up.sh", &all);
        Cluster {
            scratch,
            dir,
            bin,
            started: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The scratch folder (for files a test writes).
    pub fn scratch(&self) -> &Scratch {
        &self.scratch
    }

    /// The folder of the built control plane (kubectl, kube-apiserver, ...).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("admin.kubeconfig")
    }

    /// The cluster's CA certificate (PEM).
    pub fn ca(&self) -> PathBuf {
        self.dir.join("pki/ca.crt")
    }

    /// The folder of the cluster's certificates and keys (PEM): `ca.crt` and `ca.key` (the CA
    /// the webhook configurations trust), `webhook.crt`, `admin.crt` (the admin's client
    /// certificate), each with its `.key`.
    pub fn pki(&self) -> PathBuf {
        self.dir.join("pki")
    }

    /// The API server's address (`https://127.0.0.1:PORT`), from the admin kubeconfig.
    pub fn api_server(&self) -> String {
        let config = std::fs::read_to_string(self.kubeconfig()).unwrap_or_default();
        let url = config
            .split("server: \"")
            .nth(1)
            .and_then(|s| s.split('"').next());
        url.unwrap_or_else(|| panic!("no server in {}", self.kubeconfig().display()))
            .to_owned()
    }

    /// kube-apiserver's pid (the leader of its process group), as up.sh or
    /// [`Cluster::start_api_server`] wrote it in the cluster's `pids`.
    pub fn api_server_pid(&self) -> u32 {
        let pids = std::fs::read_to_string(self.dir.join("pids")).unwrap_or_default();
        pids.lines()
            .find_map(|l| l.strip_prefix("kube-apiserver ")?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no kube-apiserver in the cluster's pids: {pids:?}"))
    }

    /// Stops kube-apiserver alone (SIGTERM to its process group, as the kubelet stops a static
    /// pod; SIGKILL when it still runs `grace` later, as the kubelet does after the grace
    /// period), etcd, the controllers and the webhook host left running, and waits for it to be
    /// gone. kube-apiserver stops listening at once on SIGTERM, but then waits for the
    /// requests under way, the controllers' watches included, up to its request timeout
    /// (60 s). Returns its command line (from /proc), to start it again with
    /// [`Cluster::start_api_server`], and whether it had to be killed.
    pub fn stop_api_server(&self, grace: Duration) -> Result<(Vec<String>, bool), String> {
        let pid = self.api_server_pid();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map_err(|e| format!("kube-apiserver ({pid}): {e}"))?;
        let command: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        signal_group(pid, "TERM");
        let gone = |within: Duration| {
            let deadline = Instant::now() + within;
            loop {
                if process_group(pid).is_empty() {
                    return true;
                }
                if Instant::now() > deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        if gone(grace) {
            return Ok((command, false));
        }
        signal_group(pid, "KILL");
        if gone(Duration::from_secs(10)) {
            Ok((command, true))
        } else {
            Err(format!(
                "kube-apiserver ({pid}) still runs 10 s after SIGKILL: {:?}",
                process_group(pid)
            ))
        }
    }

    /// Starts `command` (program and arguments) again in the cluster's folder, in a process
    /// group of its own, its output appended to `logs/NAME.log`, as up.sh and webhook.sh start
    /// it the first time.
    fn spawn_logged(&self, command: &[String], name: &str) -> std::process::Child {
        let log_path = self.dir.join("logs").join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("{}: {e}", log_path.display()));
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("{}: {e}", log_path.display()));
        Command::new(&command[0])
            .args(&command[1..])
            .current_dir(&self.dir)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} again ({command:?}): {e}"))
    }

    /// Starts kube-apiserver again with `command` (what [`Cluster::stop_api_server`] returned:
    /// the same port, certificates and etcd), in a process group of its own, its output
    /// appended to its log and its pid written to the cluster's `pids` (the teardown stops it).
    /// Returns its pid as soon as it is started; [`Cluster::api_server_ready`] tells when it
    /// serves.
    pub fn start_api_server(&self, command: &[String]) -> u32 {
        assert!(!command.is_empty(), "no kube-apiserver command");
        let child = self.spawn_logged(command, "kube-apiserver");
        let pid = child.id();
        self.started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(child);
        let pids_path = self.dir.join("pids");
        let pids = std::fs::read_to_string(&pids_path).unwrap_or_default();
        let pids: String = pids
            .lines()
            .map(|l| {
                if l.starts_with("kube-apiserver ") {
                    format!("kube-apiserver {pid}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&pids_path, pids).unwrap_or_else(|e| panic!("pids: {e}"));
        pid
    }

    /// Restarts kube-apiserver ([`Cluster::stop_api_server`], then
    /// [`Cluster::start_api_server`]) with `extra` flags after its own (such as
    /// `--enable-aggregator-routing`), and, with `hosts`, that file as its `/etc/hosts`: it runs
    /// in a mount namespace of its own (`unshare --mount`, private: nothing is mounted for any
    /// other process) where the file is bind-mounted over `/etc/hosts`, so it resolves names
    /// no DNS here knows (what cluster DNS resolves for it in a cluster). Needs the privilege to
    /// make a mount namespace (root, or CAP_SYS_ADMIN). Waits up to `start` for `/readyz`.
    /// Returns its new pid.
    pub fn restart_api_server_with(
        &self,
        extra: &[&str],
        hosts: Option<&Path>,
        start: Duration,
    ) -> Result<u32, String> {
        let (command, _) = self.stop_api_server(Duration::from_secs(5))?;
        let mut full: Vec<String> = Vec::new();
        if let Some(hosts) = hosts {
            full.extend(
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
                ]
                .map(str::to_owned),
            );
            full.push(hosts.to_string_lossy().into_owned());
        }
        full.extend(command);
        full.extend(extra.iter().map(|a| (*a).to_owned()));
        let pid = self.start_api_server(&full);
        let deadline = Instant::now() + start;
        while !self.api_server_ready() {
            if Instant::now() > deadline || process_group(pid).is_empty() {
                let log = self.log("kube-apiserver");
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                return Err(format!(
                    "kube-apiserver ({full:?}) not ready within {start:?}:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(pid)
    }

    /// Whether kube-apiserver answers `/readyz` with 200 now (within a second).
    pub fn api_server_ready(&self) -> bool {
        let pki = self.pki();
        Command::new("curl")
            .args(["-fsS", "-o", "/dev/null", "--max-time", "1", "--cacert"])
            .arg(pki.join("ca.crt"))
            .arg("--cert")
            .arg(pki.join("admin.crt"))
            .arg("--key")
            .arg(pki.join("admin.key"))
            .arg(format!("{}/readyz", self.api_server()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The running webhook host's address (`https://127.0.0.1:PORT`), as webhook.sh wrote it.
    pub fn webhook_url(&self) -> String {
        let url = std::fs::read_to_string(self.dir.join("webhook/url")).unwrap_or_default();
        let url = url.trim();
        assert!(!url.is_empty(), "no webhook host is running");
        url.to_owned()
    }

    /// The folder where webhook.sh keeps what it knows of the running host (`pid`, `url`,
    /// `host`, `webhooks.yaml`, and with `RESTARTABLE=1` `command` and `ready`; for
    /// policy-server `policies.yml`): a test that changes how the host's process is started
    /// again (its settings, for a host that reads them only at start) rewrites them here.
    pub fn webhook_dir(&self) -> PathBuf {
        self.dir.join("webhook")
    }

    /// The webhook configurations webhook.sh registered for the running host (YAML).
    pub fn webhook_configurations(&self) -> PathBuf {
        self.dir.join("webhook/webhooks.yaml")
    }

    /// (Re)starts the webhook host with `settings` and registers it; `None` removes it.
    pub fn webhook(&self, host: Option<Host>, settings: &Path) {
        self.webhook_with(host, settings, &[]);
    }

    /// As [`Cluster::webhook`], with more of webhook.sh's environment: for the native server
    /// `TLS_DIR` (a folder holding `tls.crt` and `tls.key`, served instead of the cluster's
    /// webhook certificate) and `RELOAD_INTERVAL` (its `--reload-interval`); for any host
    /// `RESTARTABLE` (`1`: what [`Cluster::restart_webhook_process`] and
    /// [`Cluster::webhook_ready`] need is written down).
    pub fn webhook_with(&self, host: Option<Host>, settings: &Path, env: &[(&str, &Path)]) {
        let host = Path::new(host.map_or("none", Host::name));
        let mut all = vec![
            ("CLUSTER_DIR", self.dir.as_path()),
            ("HOST", host),
            ("SETTINGS", settings),
        ];
        all.extend_from_slice(env);
        script("webhook.sh", &all);
    }

    /// Kills the webhook host's process but leaves its webhook configurations registered, as
    /// when its Pods are gone: the API server then fails to call it.
    pub fn kill_webhook_process(&self) {
        let pid = std::fs::read_to_string(self.dir.join("webhook/pid")).unwrap_or_default();
        let pid = pid.trim();
        assert!(!pid.is_empty(), "no webhook host is running");
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pid of the webhook host's process as webhook.sh (or
    /// [`Cluster::restart_webhook_process`]) last started it: the leader of a process group of
    /// its own, which holds its children too (`spin up` runs `spin trigger http`).
    pub fn webhook_pid(&self) -> u32 {
        let pid = std::fs::read_to_string(self.dir.join("webhook/pid")).unwrap_or_default();
        pid.trim()
            .parse()
            .unwrap_or_else(|_| panic!("no webhook host is running (webhook/pid: {pid:?})"))
    }

    /// Sends `signal` (`TERM`, `KILL`, ...) to the webhook host's process group, leaving its
    /// webhook configurations registered (as when the kubelet stops or kills its container).
    pub fn signal_webhook_process(&self, signal: &str) {
        signal_group(self.webhook_pid(), signal);
    }

    /// The URL that answers 200 once the webhook host serves: policy-server's readiness probe,
    /// Spin's `/healthz`, the native server's `/readyz` (written by webhook.sh when started with
    /// `RESTARTABLE=1`).
    pub fn webhook_ready_url(&self) -> String {
        let url = std::fs::read_to_string(self.dir.join("webhook/ready")).unwrap_or_default();
        let url = url.trim();
        assert!(
            !url.is_empty(),
            "no webhook/ready: start the host with RESTARTABLE=1 (Cluster::webhook_with)"
        );
        url.to_owned()
    }

    /// Whether the webhook host answers its readiness URL with 200 now (within a second).
    pub fn webhook_ready(&self) -> bool {
        Command::new("curl")
            .args(["-fsS", "-o", "/dev/null", "--max-time", "1", "--cacert"])
            .arg(self.ca())
            .arg(self.webhook_ready_url())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts the webhook host's process again as webhook.sh started it (the same command,
    /// port, certificate and settings, which webhook.sh wrote down when started with
    /// `RESTARTABLE=1`), its webhook configurations left as they are: what the kubelet does to
    /// a container that was killed or stopped. The process before must be gone (its port is
    /// taken again). Its output goes on in the host's log; its pid goes to webhook/pid, so
    /// webhook.sh and the cluster's teardown stop it too. Returns as soon as it is started;
    /// [`Cluster::webhook_ready`] tells when it serves.
    pub fn restart_webhook_process(&self) -> WebhookProcess {
        let hook = self.dir.join("webhook");
        if let Ok(pid) = std::fs::read_to_string(hook.join("pid")) {
            if let Ok(pid) = pid.trim().parse::<u32>() {
                let alive = process_group(pid);
                assert!(
                    alive.is_empty(),
                    "the webhook host's process group {pid} still runs: {alive:?}"
                );
            }
        }
        let command = std::fs::read(hook.join("command")).unwrap_or_default();
        let args: Vec<String> = command
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert!(
            args.len() > 1,
            "no webhook/command: start the host with RESTARTABLE=1 (Cluster::webhook_with)"
        );
        let host = std::fs::read_to_string(hook.join("host")).unwrap_or_default();
        let child = self.spawn_logged(&args, host.trim());
        let pid = child.id();
        std::fs::write(hook.join("pid"), format!("{pid}\n"))
            .unwrap_or_else(|e| panic!("webhook/pid: {e}"));
        WebhookProcess { child, pid }
    }

    /// The CRDs users apply next to the policy (`scripts/cluster/crds.sh`), applied and
    /// established.
    pub fn apply_crds(&self) {
        let dir = script("crds.sh", &[]);
        let dir = dir.trim();
        self.kubectl_ok(&["apply", "--server-side", "-f", dir]);
        self.kubectl_ok(&[
            "wait",
            "--for",
            "condition=Established",
            "--timeout",
            "60s",
            "crd",
            "--all",
        ]);
    }

    /// Starts a sidecar injector (`webhooks injector`: another mutating webhook, as a service
    /// mesh's, that appends a container without resources to every Pod) and registers it for
    /// namespaces labelled `inject=enabled`, after the policy's webhooks (configurations run in
    /// name order). Stopped and unregistered on drop.
    pub fn start_injector(&self) -> Injector<'_> {
        let mut child = Command::new(self.bin.join("webhooks"))
            .args(["injector", "-listen", "127.0.0.1:0", "-cert"])
            .arg(self.dir.join("pki/webhook.crt"))
            .arg("-key")
            .arg(self.dir.join("pki/webhook.key"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("webhooks injector: {e}"));
        let mut addr = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut addr);
        }
        let addr = addr.trim().to_owned();
        assert!(!addr.is_empty(), "the injector printed no address");
        let ca = std::fs::read(self.ca()).unwrap_or_else(|e| panic!("ca: {e}"));
        let config = serde_json::json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "zz-sidecar-injector"},
            "webhooks": [{
                "name": "inject.sidecar.example.com",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "clientConfig": {
                    "url": format!("https://{addr}/inject"),
                    "caBundle": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ca),
                },
                "namespaceSelector": {"matchLabels": {"inject": "enabled"}},
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}]
            }]
        });
        let out = self.kubectl_with(&["apply", "-f", "-"], Some(&config.to_string()));
        assert!(
            out.status.success(),
            "registering the injector: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Injector {
            cluster: self,
            child,
        }
    }

    /// The log of a process of the cluster (`kube-apiserver`, `kubewarden`, `spin`, ...).
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("logs").join(format!("{name}.log")))
            .unwrap_or_default()
    }

    /// Creates the namespaces `names` (one request) and waits until each has its default service
    /// account (a Pod needs one, a dry run too).
    pub fn create_namespaces<S: AsRef<str>>(&self, names: &[S]) {
        let c = self;
        let list = json!({"apiVersion": "v1", "kind": "List", "items": names.iter().map(|n| json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n.as_ref()}})).collect::<Vec<_>>()});
        let out = c.kubectl_with(&["create", "-f", "-"], Some(&list.to_string()));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Pods need each namespace's default service account.
        let sa = c.eventually(
            "the default service accounts",
            Duration::from_secs(60),
            || {
                let all = c.get(&[
                    "serviceaccounts",
                    "-A",
                    "--field-selector",
                    "metadata.name=default",
                ]);
                let have: Vec<&str> = all["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["metadata"]["namespace"].as_str())
                    .collect();
                names
                    .iter()
                    .all(|n| have.contains(&n.as_ref()))
                    .then_some(())
            },
        );
        assert!(sa.is_ok(), "{sa:?}");
    }

    /// `kubectl ARGS` with `stdin`, as it ran.
    pub fn kubectl_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = Command::new(self.bin.join("kubectl"));
        c.args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap_or_else(|e| panic!("kubectl: {e}"));
        if let Some(text) = stdin {
            if let Some(mut pipe) = child.stdin.take() {
                pipe.write_all(text.as_bytes())
                    .unwrap_or_else(|e| panic!("kubectl stdin: {e}"));
            }
        }
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("kubectl: {e}"))
    }

    /// `kubectl ARGS`, as it ran.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(args, None)
    }

    /// `kubectl ARGS`, which must succeed; its stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl get ARGS -o json`, parsed.
    pub fn get(&self, args: &[&str]) -> Value {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        let text = self.kubectl_ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("kubectl get: {e}: {text}"))
    }

    /// Waits until `check` returns `Some`, or fails after `timeout` with `what`.
    pub fn eventually<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(t) = check() {
                return Ok(t);
            }
            if Instant::now() > deadline {
                return Err(format!("{what}: not within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/cluster/down.sh"))
            .env("CLUSTER_DIR", &self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let started = self
            .started
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for child in started.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running sidecar injector (see [`Cluster::start_injector`]).
pub struct Injector<'a> {
    cluster: &'a Cluster,
    child: std::process::Child,
}

impl Drop for Injector<'_> {
    fn drop(&mut self) {
        let _ = self.cluster.kubectl(&[
            "delete",
            "mutatingwebhookconfiguration",
            "zz-sidecar-injector",
            "--ignore-not-found",
        ]);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webhook host's process started again by the test ([`Cluster::restart_webhook_process`]),
/// the leader of a process group of its own. Dropped, its group is killed and it is waited for.
pub struct WebhookProcess {
    child: std::process::Child,
    pid: u32,
}

impl WebhookProcess {
    /// Its pid, which is also its process group's id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `signal` (`TERM`, `KILL`, ...) to its process group.
    pub fn signal(&self, signal: &str) {
        signal_group(self.pid, signal);
    }

    /// Waits up to `timeout` for it to exit: its exit status, or `None` while it still runs.
    pub fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => return None,
            }
        }
    }
}

impl Drop for WebhookProcess {
    fn drop(&mut self) {
        if !process_group(self.pid).is_empty() {
            signal_group(self.pid, "KILL");
        }
        let _ = self.child.wait();
    }
}

/// Sends `signal` to the process group `pgid` (a process started with `setsid` or in a group of
/// its own leads one).
fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// An object of `export cel` as it is applied by a test: a policy binding is bound to the
/// namespace `ns` alone (a policy is returned as it is).
pub fn bound_to(mut policy: Value, ns: &str) -> Value {
    if policy["kind"]
        .as_str()
        .is_some_and(|k| k.ends_with("PolicyBinding"))
    {
        policy["spec"]["matchResources"] =
            json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}});
    }
    policy
}

/// The lock the tests under load hold while they run (`faults-under-load.lock` in `tmpdir`, the
/// test binaries' CARGO_TARGET_TMPDIR; held until the file is dropped): nextest runs each test
/// binary in a process of its own, in parallel, and on a small machine two control planes under
/// load at once would measure each other.
pub fn under_load_lock(tmpdir: &Path) -> std::fs::File {
    let path = tmpdir.join("faults-under-load.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file
}

/// The resident memory (VmRSS, KiB) of every process of the process group `pgid`, summed (`spin
/// up` runs `spin trigger http` in its group).
pub fn rss_kib(pgid: u32) -> u64 {
    process_group(pgid)
        .iter()
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// The processes of the process group `pgid` that still run (zombies, which run no more, left
/// out), from /proc: empty once the group is gone.
pub fn process_group(pgid: u32) -> Vec<u32> {
    let mut alive = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return alive;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let (state, pgrp) = (fields.first(), fields.get(2).and_then(|g| g.parse().ok()));
        if pgrp == Some(pgid) && state != Some(&"Z") && state != Some(&"X") {
            alive.push(pid);
        }
    }
    alive
}

/// The resources of each container of a Deployment's template (what the cluster tests compare
/// between a stored Deployment and the core's).
pub fn template_resources(deployment: &Value) -> Vec<Value> {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["resources"].clone())
        .collect()
}

/// The object a create of `object` is stored as when the core's verdict `want` admits it: with
/// the defaults the verdict adds, else as it is.
pub fn admitted_as(want: &resource_limits::Verdict, object: &Value) -> Result<Value, String> {
    match want.mutation().map(|m| m.object()) {
        Some(Ok(o)) => Ok(o),
        Some(Err(e)) => Err(format!("the mutation: {e}")),
        None => Ok(object.clone()),
    }
}

/// The API server's message when the policy's webhook `webhook` refuses a create with the
/// core's verdict `want`.
pub fn denial_message(webhook: &str, want: &resource_limits::Verdict) -> String {
    format!(
        "admission webhook \"{webhook}\" denied the request: {}",
        want.message().unwrap_or_default()
    )
}

/// The fields the API server sets on every object it stores, which differ between two
/// creations of the same object (the cluster tests compare stored objects without them).
pub fn without_server_fields(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
            "namespace",
            "generation",
        ] {
            meta.remove(k);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    without_generated_names(v)
}

/// Names the API server makes up anew for each object: uids (the Job controller's labels and
/// selector carry its uid) and the service account volume `kube-api-access-xxxxx`.
fn without_generated_names(v: Value) -> Value {
    fn is_uid(s: &str) -> bool {
        let parts: Vec<&str> = s.split('-').collect();
        parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
            && parts
                .iter()
                .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
    }
    match v {
        Value::String(s) if is_uid(&s) => json!("<uid>"),
        Value::String(s) if s.starts_with("kube-api-access-") && s.len() == 21 => {
            json!("kube-api-access-<generated>")
        }
        Value::Array(a) => Value::Array(a.into_iter().map(without_generated_names).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, without_generated_names(v)))
                .collect(),
        ),
        other => other,
    }
}

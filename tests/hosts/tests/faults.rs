//! Faults through the real control plane (issue 28, first stage): the webhook host's process
//! killed (SIGKILL) or stopped (SIGTERM) and started again while Deployments are created at a
//! steady rate through kube-apiserver, for each host as users register it (policy-server as
//! kubewarden-controller registers it, `spin up` by examples/spinkube/webhooks.yaml, the native
//! server by examples/native/webhooks.yaml, all `failurePolicy: Fail`); and the namespaces the
//! examples leave out still able to create Pods while no webhook answers.
//!
//! Every create is classified: admitted (with the resources the policy leaves it with),
//! refused by the policy (its message, word for word), refused by the API server failing
//! closed (`failed calling webhook "NAME"`, NAME one of the host's webhooks), or unclassified
//! (a failure). Afterwards every Deployment, ReplicaSet and Pod stored in the load's namespace
//! is judged by the core as the validating webhook judges (nothing missing that a default
//! would add, nothing beyond the bounds).

use host_tests::cluster::{process_group, Cluster, Host, WebhookProcess};
use host_tests::{judge, repo_root};
use resource_limits::review::{evaluate, AdmissionRequest};
use resource_limits::{Settings, Verdict, Webhook};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Creates a second, started on a fixed schedule (a slow create does not slow the others).
const RATE: f64 = 10.0;
/// Creates under way at most at once.
const WORKERS: usize = 4;
/// Load before the first fault, with the webhook up.
const WARM_UP: Duration = Duration::from_secs(3);
/// How long the process stays down after the signal before it is started again (as the kubelet
/// restarts a container after a back-off), so that creates meet the webhook down.
const OUTAGE: Duration = Duration::from_secs(2);
/// Load after the restarted process is ready, before the next fault.
const AFTER_READY: Duration = Duration::from_secs(7);
/// The target: creates are admitted again within this of the webhook's readiness.
const RECOVERY_TARGET: Duration = Duration::from_secs(5);

fn settings_file() -> PathBuf {
    repo_root().join("examples/settings/bounded.json")
}

fn settings() -> Settings {
    let bytes = std::fs::read(settings_file()).expect("examples/settings/bounded.json");
    Settings::from_json(&bytes).expect("bounded.json reads")
}

/// The webhooks registered for the running host: those of the API server's mutating and
/// validating webhook configurations whose URL is the host's.
fn registered_webhooks(c: &Cluster) -> Vec<Value> {
    let url = format!("{}/", c.webhook_url());
    let mut hooks = Vec::new();
    for kind in [
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
    ] {
        let list = c.get(&[kind]);
        for config in list["items"].as_array().into_iter().flatten() {
            for hook in config["webhooks"].as_array().into_iter().flatten() {
                if hook["clientConfig"]["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with(&url))
                {
                    hooks.push(hook.clone());
                }
            }
        }
    }
    hooks
}

fn hook_names(hooks: &[Value]) -> Vec<String> {
    hooks
        .iter()
        .filter_map(|h| h["name"].as_str().map(str::to_owned))
        .collect()
}

/// The values of the namespaceSelector expressions `key OPERATOR` of one webhook.
fn selector_values(hook: &Value, key: Option<&str>, operator: &str) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    for e in hook["namespaceSelector"]["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if e["operator"] != operator || key.is_some_and(|k| e["key"] != k) {
            continue;
        }
        match key {
            Some(_) => values.extend(
                e["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned)),
            ),
            None => values.extend(e["key"].as_str().map(str::to_owned)),
        }
    }
    values
}

/// What every one of `hooks` leaves out: the namespaces named in a `kubernetes.io/metadata.name
/// NotIn` expression, and the labels of a `DoesNotExist` expression (the opt-out labels).
fn exemptions(hooks: &[Value]) -> (BTreeSet<String>, BTreeSet<String>) {
    let common = |f: &dyn Fn(&Value) -> BTreeSet<String>| {
        let mut sets = hooks.iter().map(f);
        let first = sets.next().unwrap_or_default();
        sets.fold(first, |a, b| a.intersection(&b).cloned().collect())
    };
    (
        common(&|h| selector_values(h, Some("kubernetes.io/metadata.name"), "NotIn")),
        common(&|h| selector_values(h, None, "DoesNotExist")),
    )
}

/// The namespace the host's own Pods run in, as its example deploys it.
fn own_namespace(host: Host) -> &'static str {
    match host {
        Host::Kubewarden => "kubewarden",
        Host::Spin | Host::Native => "resource-limits",
    }
}

/// Creates the namespace unless it exists (labelled `label=true` when given) and waits for its
/// default service account (a Pod needs it).
fn namespace(c: &Cluster, ns: &str, label: Option<&str>) {
    if !c.kubectl(&["get", "namespace", ns]).status.success() {
        c.kubectl_ok(&["create", "namespace", ns]);
    }
    if let Some(label) = label {
        c.kubectl_ok(&["label", "namespace", ns, &format!("{label}=true")]);
    }
    c.eventually(
        &format!("the default service account of {ns}"),
        Duration::from_secs(60),
        || {
            c.kubectl(&["get", "serviceaccount", "default", "-n", ns])
                .status
                .success()
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Creates a Pod without resources in `ns`: Ok, or the API server's refusal.
fn create_pod(c: &Cluster, ns: &str, name: &str) -> Result<(), String> {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}});
    let out = c.kubectl_with(&["create", "-f", "-"], Some(&pod.to_string()));
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// Whether `message` is the API server failing closed on one of `names`.
fn failed_closed(message: &str, names: &[String]) -> bool {
    names
        .iter()
        .any(|n| message.contains(&format!("failed calling webhook \"{n}\"")))
}

/// With the webhook host's process gone and its configurations left registered (failurePolicy
/// Fail), what the examples leave out still gets its Pods: each namespace they exempt by name
/// (created where missing) and a namespace with their opt-out label; any other namespace is
/// refused with the API server's `failed calling webhook`. Every example must leave out the
/// webhook's own namespace, kube-system, cert-manager and a namespace with its opt-out label.
#[test]
fn no_self_lock_with_every_webhook_down() {
    let c = Cluster::up("faults-self-lock");
    let mut failures = Vec::new();
    let mut findings = Vec::new();
    for host in Host::ALL {
        let h = host.name();
        c.webhook(Some(host), &settings_file());
        let hooks = registered_webhooks(&c);
        let names = hook_names(&hooks);
        assert!(
            !hooks.is_empty(),
            "{h}: no webhook registered for {}",
            c.webhook_url()
        );
        for hook in &hooks {
            // failurePolicy left out means Fail (admissionregistration.k8s.io/v1).
            assert_eq!(
                hook["failurePolicy"], "Fail",
                "{h}: {} does not fail closed",
                hook["name"]
            );
        }
        let (exempt, labels) = exemptions(&hooks);
        println!("self-lock: {h}: webhooks {names:?} leave out the namespaces {exempt:?} and those labelled {labels:?}");
        let mut refused_here = vec![format!("locked-{h}")];
        for ns in [own_namespace(host), "kube-system", "cert-manager"] {
            if !exempt.contains(ns) {
                findings.push(format!(
                    "{h}: the namespace {ns} is not left out: with the webhook down its Pods are refused"
                ));
                refused_here.push(ns.to_owned());
            }
        }
        if labels.is_empty() {
            findings.push(format!(
                "{h}: no opt-out label: a namespace cannot be left out by labelling it"
            ));
        }
        for ns in exempt.iter().chain(&refused_here) {
            namespace(&c, ns, None);
        }
        let opted_out: Vec<(String, String)> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (format!("opted-out-{h}-{i}"), l.clone()))
            .collect();
        for (ns, label) in &opted_out {
            namespace(&c, ns, Some(label));
        }
        c.kill_webhook_process();
        let pid = c.webhook_pid();
        if wait_gone(pid, Instant::now(), Duration::from_secs(10)).is_none() {
            failures.push(format!(
                "{h}: the killed webhook still runs: {:?}",
                process_group(pid)
            ));
        }
        let pod = format!("self-lock-{h}");
        for ns in exempt.iter().chain(opted_out.iter().map(|(ns, _)| ns)) {
            match create_pod(&c, ns, &pod) {
                Ok(()) => println!("self-lock: {h}: webhook down, a Pod created in {ns}"),
                Err(e) => failures.push(format!(
                    "{h}: webhook down, a Pod in {ns} (left out) was refused: {e}"
                )),
            }
        }
        for ns in &refused_here {
            match create_pod(&c, ns, &pod) {
                Err(e) if failed_closed(&e, &names) => {
                    println!("self-lock: {h}: webhook down, a Pod in {ns} refused: {e}")
                }
                Err(e) => failures.push(format!(
                    "{h}: webhook down, a Pod in {ns} refused, but not failing closed on {names:?}: {e}"
                )),
                Ok(()) => failures.push(format!(
                    "{h}: webhook down, a Pod in {ns} (not left out) was created"
                )),
            }
        }
        c.webhook(None, &settings_file());
    }
    // Every example leaves out its own namespace, kube-system, cert-manager and a labelled
    // namespace: what one does not is a self-lock waiting to happen.
    failures.extend(findings);
    assert!(
        failures.is_empty(),
        "{} failure(s):\n- {}",
        failures.len(),
        failures.join("\n- ")
    );
}

/// The three objects the load creates, in turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Within the bounds, every value given: admitted as it is.
    Fits,
    /// A cpu limit over maxLimit: refused by the policy.
    Over,
    /// No resources: admitted with the defaults.
    Bare,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Fits, Kind::Over, Kind::Bare];

    fn name(self) -> &'static str {
        match self {
            Kind::Fits => "fits",
            Kind::Over => "over",
            Kind::Bare => "bare",
        }
    }

    fn resources(self) -> Value {
        match self {
            Kind::Fits => {
                json!({"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "256Mi"}})
            }
            Kind::Over => {
                json!({"limits": {"cpu": "8", "memory": "1Gi"}, "requests": {"cpu": "2", "memory": "256Mi"}})
            }
            Kind::Bare => json!({}),
        }
    }

    /// A Deployment of one replica (its ReplicaSet and Pod are made by the controllers, through
    /// the same webhooks).
    fn deployment(self, ns: &str, name: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "resources": self.resources()}]}
                }
            }
        })
    }
}

/// The core's verdict on creating `object`, as the mutating webhook answers.
fn create_verdict(settings: &Settings, object: &Value) -> Verdict {
    judge(settings, create_request(object).to_string().as_bytes())
}

/// The AdmissionRequest of creating `object` (its kind from its apiVersion and kind).
fn create_request(object: &Value) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap_or_default();
    json!({
        "uid": "00000000-0000-0000-0000-000000000000",
        "kind": {"group": group, "version": version, "kind": kind},
        "name": object["metadata"]["name"],
        "namespace": object["metadata"]["namespace"],
        "operation": "CREATE",
        "userInfo": {"username": "admin"},
        "object": object,
    })
}

/// The resources of each container of a Deployment's template.
fn template_resources(deployment: &Value) -> Vec<Value> {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["resources"].clone())
        .collect()
}

/// How one create ended.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    /// Stored, with the resources the policy leaves it with.
    Admitted,
    /// Refused by the policy's webhook with the policy's message.
    Refused,
    /// Refused by the API server failing closed: `failed calling webhook`.
    FailedClosed,
    /// Anything else: what the API server answered.
    Unclassified(String),
}

/// One create of the load: which object, when it started and ended (from the run's start),
/// how it ended, and the API server's message when it refused.
struct Create {
    kind: Kind,
    name: String,
    start: Duration,
    end: Duration,
    outcome: Outcome,
    message: String,
}

/// What a create expects: the names of the host's webhooks, the one that answers for the
/// policy, and the core's verdict on each kind.
struct Expect {
    names: Vec<String>,
    policy_webhook: &'static str,
    verdicts: Vec<Verdict>,
}

impl Expect {
    fn classify(
        &self,
        kind: Kind,
        object: &Value,
        answer: Result<(u16, Value), String>,
    ) -> Outcome {
        let (status, body) = match answer {
            Ok(a) => a,
            Err(e) => return Outcome::Unclassified(e),
        };
        let want = &self.verdicts[kind as usize];
        let message = body["message"].as_str().unwrap_or_default();
        if status == 201 && want.allowed() {
            let expected = match want.mutation().map(|m| m.object()) {
                Some(Ok(o)) => o,
                Some(Err(e)) => return Outcome::Unclassified(format!("the mutation: {e}")),
                None => object.clone(),
            };
            if template_resources(&body) == template_resources(&expected) {
                return Outcome::Admitted;
            }
            return Outcome::Unclassified(format!(
                "admitted with resources {:?}, the policy's are {:?}",
                template_resources(&body),
                template_resources(&expected)
            ));
        }
        if status == 500 && failed_closed(message, &self.names) {
            return Outcome::FailedClosed;
        }
        if let Some(m) = want.message() {
            let expected = format!(
                "admission webhook \"{}\" denied the request: {m}",
                self.policy_webhook
            );
            if (400..500).contains(&status) && message == expected {
                return Outcome::Refused;
            }
        }
        Outcome::Unclassified(format!("{status} {message}"))
    }
}

/// Runs `curl` with `stdin`: its stdout, or why it failed.
fn curl(args: &[&str], stdin: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new("curl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("curl: {e}"))?;
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin)
            .map_err(|e| format!("curl stdin: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("curl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "curl ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

/// Creates `object` (a Deployment) through the API server as the admin: the HTTP status and
/// the body. `dry_run`: admission only, nothing stored.
fn create(c: &Cluster, api: &str, object: &Value, dry_run: bool) -> Result<(u16, Value), String> {
    let ns = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let pki = c.pki();
    let path = |name: &str| pki.join(name).to_string_lossy().into_owned();
    let (ca, cert, key) = (path("ca.crt"), path("admin.crt"), path("admin.key"));
    let url = format!(
        "{api}/apis/apps/v1/namespaces/{ns}/deployments{}",
        if dry_run { "?dryRun=All" } else { "" }
    );
    let out = curl(
        &[
            "-sS",
            "--max-time",
            "30",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
            "-w",
            "\n%{http_code}",
            "--cacert",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            &url,
        ],
        object.to_string().as_bytes(),
    )?;
    let text = String::from_utf8_lossy(&out);
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status = status
        .trim()
        .parse()
        .map_err(|_| format!("no status: {text}"))?;
    let body = serde_json::from_str(body).map_err(|e| format!("{e}: {text}"))?;
    Ok((status, body))
}

/// Creates the three kinds in turn at [`RATE`] a second, each with a name of its own, until
/// `stop`; every create with its outcome.
fn load(c: &Cluster, ns: &str, expect: &Expect, t0: Instant, stop: &AtomicBool) -> Vec<Create> {
    let api = c.api_server();
    let next = AtomicUsize::new(0);
    let creates = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let due = Duration::from_secs_f64(k as f64 / RATE);
                if let Some(wait) = due.checked_sub(t0.elapsed()) {
                    std::thread::sleep(wait);
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let kind = Kind::ALL[k % Kind::ALL.len()];
                let name = format!("{}-{k:04}", kind.name());
                let object = kind.deployment(ns, &name);
                let start = t0.elapsed();
                let answer = create(c, &api, &object, false);
                let end = t0.elapsed();
                let message = match &answer {
                    Ok((_, body)) => body["message"].as_str().unwrap_or_default().to_owned(),
                    Err(e) => e.clone(),
                };
                let outcome = expect.classify(kind, &object, answer);
                let create = Create {
                    kind,
                    name,
                    start,
                    end,
                    outcome,
                    message,
                };
                creates.lock().expect("a load worker panicked").push(create);
            });
        }
    });
    let mut creates = creates.into_inner().expect("a load worker panicked");
    creates.sort_by_key(|k| k.start);
    creates
}

/// One fault: the signal sent to the webhook host's process group, its end, the process
/// started again and its readiness, each from the run's start.
struct Fault {
    signal: &'static str,
    sent: Duration,
    /// The process group empty.
    gone: Duration,
    /// The exit status, when the process was the test's child.
    exit: Option<String>,
    restarted: Duration,
    ready: Duration,
}

/// Waits up to `timeout` for the process group `pgid` to be gone; when it was, from `t0`.
fn wait_gone(pgid: u32, t0: Instant, timeout: Duration) -> Option<Duration> {
    let deadline = Instant::now() + timeout;
    loop {
        if process_group(pgid).is_empty() {
            return Some(t0.elapsed());
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to `timeout` for the webhook host to answer its readiness URL; when it did: the
/// start of the first probe answered 200 (it connects within milliseconds of its start, after
/// the probe before it was refused; probes follow each other every 20 ms or so).
fn wait_ready(c: &Cluster, t0: Instant, timeout: Duration) -> Option<Duration> {
    let deadline = Instant::now() + timeout;
    loop {
        let probe = t0.elapsed();
        if c.webhook_ready() {
            return Some(probe);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` to the running webhook host's process (`running`, when the test started it),
/// waits for it to be gone, keeps it down for [`OUTAGE`] from the signal, starts it again and
/// waits for its readiness.
fn fault(
    c: &Cluster,
    t0: Instant,
    signal: &'static str,
    running: Option<&mut WebhookProcess>,
) -> Result<(Fault, WebhookProcess), String> {
    let pgid = c.webhook_pid();
    let sent = t0.elapsed();
    c.signal_webhook_process(signal);
    let exit = running.map(|p| match p.wait(Duration::from_secs(30)) {
        Some(status) => status.to_string(),
        None => "still running after 30 s".to_owned(),
    });
    let gone = wait_gone(pgid, t0, Duration::from_secs(30)).ok_or_else(|| {
        format!(
            "SIG{signal}: the webhook host still runs 30 s after: {:?}",
            process_group(pgid)
        )
    })?;
    if let Some(wait) = (sent + OUTAGE).checked_sub(t0.elapsed()) {
        std::thread::sleep(wait);
    }
    let restarted = t0.elapsed();
    let process = c.restart_webhook_process();
    let ready = wait_ready(c, t0, Duration::from_secs(60))
        .ok_or_else(|| format!("SIG{signal}: the restarted webhook host not ready within 60 s"))?;
    Ok((
        Fault {
            signal,
            sent,
            gone,
            exit,
            restarted,
            ready,
        },
        process,
    ))
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Milliseconds from `from` to `to`, negative when `to` is before.
fn signed_ms(from: Duration, to: Duration) -> i128 {
    to.as_millis() as i128 - from.as_millis() as i128
}

/// The counts of a set of creates: sent, admitted, refused by the policy, failed closed,
/// unclassified.
fn counts<'a>(creates: impl Iterator<Item = &'a Create>) -> [usize; 5] {
    let mut n = [0; 5];
    for k in creates {
        n[0] += 1;
        n[match k.outcome {
            Outcome::Admitted => 1,
            Outcome::Refused => 2,
            Outcome::FailedClosed => 3,
            Outcome::Unclassified(_) => 4,
        }] += 1;
    }
    n
}

/// Every Deployment, ReplicaSet and Pod stored in `ns`, judged by the core as the validating
/// webhook judges: the names of the Deployments, how many objects, and each one that breaks
/// the settings with why.
fn stored(c: &Cluster, ns: &str, settings: &Settings) -> (BTreeSet<String>, usize, Vec<String>) {
    let list = c.get(&["deployments,replicasets,pods", "-n", ns]);
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let mut deployments = BTreeSet::new();
    let mut breaking = Vec::new();
    for item in &items {
        let kind = item["kind"].as_str().unwrap_or_default();
        let name = item["metadata"]["name"].as_str().unwrap_or_default();
        if kind == "Deployment" {
            deployments.insert(name.to_owned());
        }
        let request = create_request(item).to_string();
        let verdict = match AdmissionRequest::from_json(request.as_bytes()) {
            Ok(req) => evaluate(settings, &req, Webhook::Validating),
            Err(e) => Verdict::Unreadable(e),
        };
        if !matches!(verdict, Verdict::Accepted(None, _)) {
            breaking.push(format!(
                "{kind} {name}: {}",
                verdict.message().unwrap_or_else(|| format!("{verdict:?}"))
            ));
        }
    }
    (deployments, items.len(), breaking)
}

/// The figures of one host's run, for the table at the end.
struct Figures {
    host: Host,
    rows: Vec<String>,
}

/// One host: registered with `RESTARTABLE=1`, the load started, the process killed (SIGKILL)
/// and started again, then stopped (SIGTERM) and started again, the load stopped, the last
/// process stopped; then the checks.
fn kill_and_restart(
    c: &Cluster,
    host: Host,
    settings: &Settings,
    failures: &mut Vec<String>,
) -> Figures {
    let h = host.name();
    let mut fail = |e: String| failures.push(format!("{h}: {e}"));
    c.webhook_with(
        Some(host),
        &settings_file(),
        &[("RESTARTABLE", Path::new("1"))],
    );
    let hooks = registered_webhooks(c);
    let ns = format!("faults-{h}");
    namespace(c, &ns, None);
    let verdicts: Vec<Verdict> = Kind::ALL
        .iter()
        .map(|k| create_verdict(settings, &k.deployment(&ns, "probe")))
        .collect();
    assert!(
        matches!(verdicts[0], Verdict::Accepted(None, _))
            && !verdicts[1].allowed()
            && verdicts[2].mutation().is_some(),
        "the load's objects: one admitted as it is, one refused, one given the defaults: {verdicts:?}"
    );
    let expect = Expect {
        names: hook_names(&hooks),
        policy_webhook: host.webhook_name(),
        verdicts,
    };
    // The API server takes new webhook configurations in a moment after they are written: the
    // load starts once a dry run is refused by the policy.
    let api = c.api_server();
    let probe = Kind::Over.deployment(&ns, "probe");
    c.eventually(
        "the policy's webhook in force",
        Duration::from_secs(30),
        || {
            (expect.classify(Kind::Over, &probe, create(c, &api, &probe, true)) == Outcome::Refused)
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{h}: {e}"));

    let first = c.webhook_pid();
    let stop = AtomicBool::new(false);
    let t0 = Instant::now();
    let mut faults = Vec::new();
    let mut last: Option<WebhookProcess> = None;
    let mut problems = Vec::new();
    let creates = std::thread::scope(|s| {
        let load = s.spawn(|| load(c, &ns, &expect, t0, &stop));
        std::thread::sleep(WARM_UP);
        for signal in ["KILL", "TERM"] {
            match fault(c, t0, signal, last.as_mut()) {
                Ok((f, process)) => {
                    faults.push(f);
                    // The one before is gone (fault waited): dropping it only reaps it.
                    last = Some(process);
                }
                Err(e) => {
                    problems.push(e);
                    break;
                }
            }
            std::thread::sleep(AFTER_READY);
        }
        stop.store(true, Ordering::Relaxed);
        load.join().unwrap_or_default()
    });
    for e in problems {
        fail(e);
    }
    // The last process stopped as the kubelet stops it, and gone with its children.
    let mut groups = vec![first];
    if let Some(mut p) = last.take() {
        groups.push(p.pid());
        p.signal("TERM");
        if p.wait(Duration::from_secs(30)).is_none() {
            fail("the restarted webhook host did not stop within 30 s of SIGTERM".into());
        }
    }
    for g in groups {
        if wait_gone(g, t0, Duration::from_secs(10)).is_none() {
            fail(format!(
                "processes of the webhook host's group {g} left running: {:?}",
                process_group(g)
            ));
        }
    }

    // Every create classified.
    for k in &creates {
        if let Outcome::Unclassified(why) = &k.outcome {
            fail(format!(
                "{} at {} ms: unclassified: {why}",
                k.name,
                ms(k.start)
            ));
        }
    }
    let before_faults = faults.first().map_or(Duration::MAX, |f| f.sent);
    let early = creates
        .iter()
        .filter(|k| k.end < before_faults && k.outcome == Outcome::FailedClosed)
        .count();
    if early > 0 {
        fail(format!(
            "{early} creates failed closed before the first fault, the webhook up"
        ));
    }
    let mut rows = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        // The creates answered from this signal to the next: one under way at a signal is
        // the later fault's.
        let until = faults.get(i + 1).map_or(Duration::MAX, |n| n.sent);
        let window: Vec<&Create> = creates
            .iter()
            .filter(|k| k.end > f.sent && k.end <= until)
            .collect();
        let n = counts(window.iter().copied());
        let downtime = f.ready - f.sent;
        let recovered = creates
            .iter()
            .filter(|k| k.start >= f.gone && k.outcome == Outcome::Admitted)
            .map(|k| k.end)
            .min();
        let recovery = recovered.map(|r| signed_ms(f.ready, r));
        let last_closed = window
            .iter()
            .filter(|k| k.outcome == Outcome::FailedClosed)
            .map(|k| k.start)
            .max();
        let in_flight: Vec<&Create> = creates
            .iter()
            .filter(|k| k.start < f.sent && k.end > f.sent)
            .collect();
        // Each create under way at the signal: from when to when (ms from the signal) and how it
        // ended; for a refusal, how the call failed (the end of the API server's message).
        let in_flight: Vec<String> = in_flight
            .iter()
            .map(|k| {
                let how = match &k.outcome {
                    Outcome::Admitted => "admitted".to_owned(),
                    Outcome::Refused => "refused by the policy".to_owned(),
                    Outcome::FailedClosed => format!(
                        "failed closed ({})",
                        k.message
                            .rsplit(": ")
                            .take(2)
                            .collect::<Vec<_>>()
                            .join(" <- ")
                    ),
                    Outcome::Unclassified(why) => format!("unclassified: {why}"),
                };
                format!(
                    "{} {}..{} ms {how}",
                    k.name,
                    signed_ms(f.sent, k.start),
                    signed_ms(f.sent, k.end)
                )
            })
            .collect();
        println!(
            "faults: {h} SIG{}: {} creates from the signal to the next fault: {} admitted, {} refused by the policy, {} failed closed, {} unclassified; \
             the process gone {} ms after the signal (exit: {}), started again at {} ms, ready {} ms later: downtime {} ms; \
             first create admitted again {} ms after readiness; last create that failed closed started {} ms after readiness; \
             in flight at the signal: {in_flight:?}",
            f.signal,
            n[0],
            n[1],
            n[2],
            n[3],
            n[4],
            ms(f.gone - f.sent),
            f.exit.as_deref().unwrap_or("not the test's child"),
            ms(f.restarted - f.sent),
            ms(f.ready - f.restarted),
            ms(downtime),
            recovery.map_or("-".into(), |r| r.to_string()),
            last_closed.map_or("-".into(), |l| signed_ms(f.ready, l).to_string()),
        );
        rows.push(format!(
            "| {h} | SIG{} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.signal,
            n[0],
            n[1],
            n[2],
            n[3],
            n[4],
            ms(downtime),
            ms(f.ready - f.restarted),
            recovery.map_or("-".into(), |r| r.to_string()),
        ));
        if n[3] == 0 {
            fail(format!(
                "SIG{}: no create failed closed: the fault was not seen",
                f.signal
            ));
        }
        match recovery {
            None => fail(format!(
                "SIG{}: no create admitted after the restart",
                f.signal
            )),
            Some(r) if r > RECOVERY_TARGET.as_millis() as i128 => fail(format!(
                "SIG{}: the first create admitted again {r} ms after readiness (target {} ms)",
                f.signal,
                ms(RECOVERY_TARGET)
            )),
            Some(_) => {}
        }
        let late: Vec<String> = window
            .iter()
            .filter(|k| k.outcome == Outcome::FailedClosed && k.start > f.ready + RECOVERY_TARGET)
            .map(|k| format!("{} at {} ms", k.name, ms(k.start)))
            .collect();
        if !late.is_empty() {
            fail(format!(
                "SIG{}: creates failed closed more than {} ms after readiness: {late:?}",
                f.signal,
                ms(RECOVERY_TARGET)
            ));
        }
        if f.signal == "TERM" && host == Host::Native && f.exit.as_deref() != Some("exit status: 0")
        {
            fail(format!(
                "SIGTERM: the native server exited with {:?}, not 0",
                f.exit
            ));
        }
    }
    if faults.len() != 2 {
        fail(format!("{} of 2 faults ran", faults.len()));
    }

    // What is stored keeps the settings; the admitted creates are stored, no other.
    let (deployments, objects, breaking) = stored(c, &ns, settings);
    if !breaking.is_empty() {
        fail(format!(
            "{} stored objects break the settings:\n  {}",
            breaking.len(),
            breaking.join("\n  ")
        ));
    }
    let admitted: BTreeSet<String> = creates
        .iter()
        .filter(|k| k.outcome == Outcome::Admitted)
        .map(|k| k.name.clone())
        .collect();
    if deployments != admitted {
        fail(format!(
            "stored Deployments not admitted: {:?}; admitted, not stored: {:?}",
            deployments.difference(&admitted).collect::<Vec<_>>(),
            admitted.difference(&deployments).collect::<Vec<_>>()
        ));
    }
    let n = counts(creates.iter());
    let per_kind: Vec<String> = Kind::ALL
        .iter()
        .map(|kind| {
            let c = counts(creates.iter().filter(|k| k.kind == *kind));
            format!("{} {}/{}/{}", kind.name(), c[1], c[2], c[3])
        })
        .collect();
    println!(
        "faults: {h}: {} creates in {:.1} s: {} admitted, {} refused by the policy, {} failed closed, {} unclassified \
         (admitted/refused/failed closed by kind: {}); {objects} Deployments, ReplicaSets and Pods stored, {} breaking the settings",
        n[0],
        creates.last().map_or(0.0, |k| k.end.as_secs_f64()),
        n[1],
        n[2],
        n[3],
        n[4],
        per_kind.join(", "),
        breaking.len()
    );
    Figures { host, rows }
}

/// Each host (policy-server, Spin, the native server) in turn behind one control plane: under a
/// steady load of creates, its process killed and started again, then stopped with SIGTERM and
/// started again. Every create is classified; creates are admitted again within 5 s of the
/// restarted process's readiness; no stored object breaks the settings; no process is left.
#[test]
fn kill_and_restart_under_load() {
    let c = Cluster::up("faults-restart");
    let settings = settings();
    let mut failures = Vec::new();
    let mut figures = Vec::new();
    for host in Host::ALL {
        let started = Instant::now();
        figures.push(kill_and_restart(&c, host, &settings, &mut failures));
        println!(
            "faults: {} took {:.1} s",
            host.name(),
            started.elapsed().as_secs_f64()
        );
    }
    c.webhook(None, &settings_file());
    println!(
        "| host | fault | creates | admitted | refused by the policy | failed closed | unclassified | downtime (ms) | start to ready (ms) | recovery after readiness (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for f in &figures {
        for r in &f.rows {
            println!("{r}");
        }
        if f.rows.is_empty() {
            println!("| {} | (no fault ran) |", f.host.name());
        }
    }
    let logs: Vec<String> = Host::ALL
        .iter()
        .map(|h| {
            let log = c.log(h.name());
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            format!(
                "--- {} log (last lines) ---\n{}",
                h.name(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failure(s):\n- {}\n{}",
        failures.len(),
        failures.join("\n- "),
        logs.join("\n")
    );
}

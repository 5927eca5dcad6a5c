//! Faults through the real control plane (issue 28, first stage): the webhook host's process
//! killed (SIGKILL) or stopped (SIGTERM) and started again while Deployments are created at a
//! steady rate through kube-apiserver, for each host as users register it (policy-server as
//! kubewarden-controller registers it, `spin up` by examples/spinkube/webhooks.yaml, the native
//! server by examples/native/webhooks.yaml, all `failurePolicy: Fail`); and the namespaces the
//! examples leave out still able to create Pods while no webhook answers. Then (second and
//! third stages) for each host: the settings tightened, the certificate rotated, the webhook
//! slower than its timeoutSeconds, kube-apiserver restarted; and two native server replicas
//! behind the example's Service, one killed. `FAULTS_ROUNDS` and `FAULTS_AFTER_READY` make the
//! repeated faults the long form (`make chaos`).
//!
//! The kill and restart test sends a mixed load: creates of every kind the core checks (within
//! the bounds, over them, without resources) and updates of the objects it stored (their pod
//! template's resources changed by a merge patch); the other tests create Deployments.
//!
//! Every create and update is classified: admitted (with the resources the policy leaves it
//! with; for an update, as the core leaves the new object), refused by the policy (its
//! message, word for word), refused by the API server failing closed (`failed calling webhook
//! "NAME"`, NAME one of the host's webhooks), or unclassified (a failure). Afterwards every
//! object of every kind the core checks stored in the load's namespace is judged by the core
//! as the validating webhook judges (nothing missing that a default would add, nothing beyond
//! the bounds).

use host_tests::certs::{
    certificate_id, issue_certificate, issue_webhook_certificate, run, served_certificate,
};
use host_tests::cluster::{
    admitted_as, denial_message, process_group, rss_kib, Cluster, Host, WebhookProcess,
};
use host_tests::{assert_no_failures, judge, repo_root};
use resource_limits::review::{evaluate, AdmissionRequest};
use resource_limits::workload::Kind as Workload;
use resource_limits::{Settings, Verdict, Webhook};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Creates a second, started on a fixed schedule (a slow create does not slow the others).
const RATE: f64 = 10.0;
/// Creates under way at most at once.
const WORKERS: usize = 4;
/// Load before the first fault, with the webhook up.
const WARM_UP: Duration = Duration::from_secs(3);
/// How long the process stays down after the signal before it is started again (as the kubelet
/// restarts a container after a back-off), so that creates meet the webhook down.
const OUTAGE: Duration = Duration::from_secs(2);
/// Load after the restarted process is ready, before the next fault (`FAULTS_AFTER_READY`
/// changes it: [`after_ready`]).
const AFTER_READY: Duration = Duration::from_secs(7);
/// The issue's target: creates are admitted again within this of the webhook's readiness.
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
    assert_no_failures(&failures);
}

/// The three objects the load sends, in turn: their container's resources.
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

/// What the mixed load ([`Mix::Every`]) does with each kind the core checks
/// (`resource_limits::workload::Kind`, here `Workload`, beside the three [`Kind`]s of the load).
trait Load: Copy {
    fn api_version(self) -> &'static str;
    /// The resource's name in its URL (`deployments`).
    fn plural(self) -> String;
    fn updatable(self) -> bool;
    fn object(self, ns: &str, name: &str, resources: Value) -> Value;
    fn patch(self, resources: Value) -> Value;
}

impl Load for Workload {
    fn api_version(self) -> &'static str {
        match self.group() {
            "" => "v1",
            "batch" => "batch/v1",
            _ => "apps/v1",
        }
    }

    fn plural(self) -> String {
        format!("{}s", self.name().to_lowercase())
    }

    /// Whether the load updates its pod template (a Pod's containers change only through
    /// pods/resize, a Job's template is immutable).
    fn updatable(self) -> bool {
        !matches!(self, Workload::Pod | Workload::Job)
    }

    /// The object of this kind the mixed load creates, its one container with `resources`
    /// (one replica where it has replicas: the controllers create their ReplicaSets and Pods
    /// through the same webhooks; a CronJob suspended).
    fn object(self, ns: &str, name: &str, resources: Value) -> Value {
        let labels = json!({"app": name});
        let mut pod = json!({"containers": [container(resources)]});
        if matches!(self, Workload::Job | Workload::CronJob) {
            pod["restartPolicy"] = json!("Never");
        }
        let template = json!({"metadata": {"labels": labels}, "spec": pod});
        let selector = json!({"matchLabels": labels});
        let mut object = json!({
            "apiVersion": self.api_version(), "kind": self.name(),
            "metadata": {"name": name, "namespace": ns, "labels": labels},
        });
        let spec = match self {
            Workload::Pod => pod,
            Workload::Deployment | Workload::ReplicaSet => {
                json!({"replicas": 1, "selector": selector, "template": template})
            }
            Workload::StatefulSet => {
                json!({"replicas": 1, "serviceName": name, "selector": selector, "template": template})
            }
            Workload::DaemonSet => json!({"selector": selector, "template": template}),
            Workload::ReplicationController => {
                json!({"replicas": 1, "selector": labels, "template": template})
            }
            Workload::Job => json!({"backoffLimit": 0, "template": template}),
            Workload::CronJob => json!({
                "schedule": "0 0 1 1 *", "suspend": true,
                "jobTemplate": {"spec": {"backoffLimit": 0, "template": template}}
            }),
            Workload::PodTemplate => {
                object["template"] = template;
                return object;
            }
        };
        object["spec"] = spec;
        object
    }

    /// The JSON merge patch that gives the object's one container `resources` (the list
    /// replaced whole).
    fn patch(self, resources: Value) -> Value {
        self.pod_spec_fields().iter().rev().fold(
            json!({"containers": [container(resources)]}),
            |inner, key| json!({ *key: inner }),
        )
    }
}

/// The load's one container.
fn container(resources: Value) -> Value {
    json!({"name": "web", "image": "nginx:1.27", "resources": resources})
}

/// The resources of each container of `object`'s pod spec, wherever its kind keeps it.
fn container_resources(object: &Value) -> Vec<Value> {
    let workload = object["kind"]
        .as_str()
        .and_then(|kind| Workload::from_gvk(None, kind))
        .unwrap_or(Workload::Deployment);
    let spec = workload
        .pod_spec_fields()
        .iter()
        .fold(object, |v, key| &v[*key]);
    spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["resources"].clone())
        .collect()
}

/// A create or an update of the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Create,
    Update,
}

/// What the load sends: Deployments only ([`Kind`] in turn), or every [`Workload`] in each
/// [`Kind`] with one operation in four an update of an object already stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mix {
    Deployments,
    Every,
}

/// The core's verdict on creating `object`, as the mutating webhook answers.
fn create_verdict(settings: &Settings, object: &Value) -> Verdict {
    judge(settings, create_request(object).to_string().as_bytes())
}

/// The AdmissionRequest of creating `object` (its kind from its apiVersion and kind).
fn create_request(object: &Value) -> Value {
    review_request(Op::Create, object)
}

/// The AdmissionRequest of `op` giving `object` (its kind from its apiVersion and kind).
fn review_request(op: Op, object: &Value) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap_or_default();
    json!({
        "uid": "00000000-0000-0000-0000-000000000000",
        "kind": {"group": group, "version": version, "kind": kind},
        "name": object["metadata"]["name"],
        "namespace": object["metadata"]["namespace"],
        "operation": match op {
            Op::Create => "CREATE",
            Op::Update => "UPDATE",
        },
        "userInfo": {"username": "admin"},
        "object": object,
    })
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

/// One create or update of the load: which object, when it started and ended (from the run's
/// start), how it ended, and the API server's message when it refused.
struct Create {
    kind: Kind,
    workload: Workload,
    op: Op,
    name: String,
    /// The object sent (for an update, the object the patch makes of the one created).
    object: Value,
    /// The API server's answer (status and body), or why there was none: kept to classify the
    /// create again against other settings.
    answer: Result<(u16, Value), String>,
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
    /// The core's verdict on each [`Kind`] of Deployment.
    verdicts: Vec<Verdict>,
    /// The settings the verdicts are the core's with.
    settings: Settings,
}

impl Expect {
    /// The outcome of `op` giving `object`, from the API server's answer: judged against the
    /// core's verdict on the object (for an update, the new object).
    fn classify(&self, op: Op, object: &Value, answer: Result<(u16, Value), String>) -> Outcome {
        let (status, body) = match answer {
            Ok(a) => a,
            Err(e) => return Outcome::Unclassified(e),
        };
        let want = &judge(
            &self.settings,
            review_request(op, object).to_string().as_bytes(),
        );
        let message = body["message"].as_str().unwrap_or_default();
        let stored = match op {
            Op::Create => status == 201,
            Op::Update => status == 200,
        };
        if stored && want.allowed() {
            let expected = match admitted_as(want, object) {
                Ok(o) => o,
                Err(e) => return Outcome::Unclassified(e),
            };
            if container_resources(&body) == container_resources(&expected) {
                return Outcome::Admitted;
            }
            return Outcome::Unclassified(format!(
                "admitted with resources {:?}, the policy's are {:?}",
                container_resources(&body),
                container_resources(&expected)
            ));
        }
        if status == 500 && failed_closed(message, &self.names) {
            return Outcome::FailedClosed;
        }
        if want.message().is_some() {
            let expected = denial_message(self.policy_webhook, want);
            if (400..500).contains(&status) && message == expected {
                return Outcome::Refused;
            }
        }
        Outcome::Unclassified(format!("{status} {message}"))
    }
}

/// The URL of the collection of `object`'s kind in its namespace.
fn collection_url(api: &str, object: &Value) -> String {
    let ns = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let workload = object["kind"]
        .as_str()
        .and_then(|kind| Workload::from_gvk(None, kind))
        .unwrap_or(Workload::Deployment);
    let group = match workload.api_version() {
        "v1" => "api/v1".to_owned(),
        g => format!("apis/{g}"),
    };
    format!("{api}/{group}/namespaces/{ns}/{}", workload.plural())
}

/// Creates `object` through the API server as the admin: the HTTP status and the body.
/// `dry_run`: admission only, nothing stored.
fn create(c: &Cluster, api: &str, object: &Value, dry_run: bool) -> Result<(u16, Value), String> {
    let url = format!(
        "{}{}",
        collection_url(api, object),
        if dry_run { "?dryRun=All" } else { "" }
    );
    send(c, "POST", &url, "application/json", object)
}

/// Updates the stored `object` with the JSON merge patch `patch` through the API server as
/// the admin: the HTTP status and the body.
fn update(c: &Cluster, api: &str, object: &Value, patch: &Value) -> Result<(u16, Value), String> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let url = format!("{}/{name}", collection_url(api, object));
    send(c, "PATCH", &url, "application/merge-patch+json", patch)
}

/// Sends `body` to `url` with `method` as the admin: the HTTP status and the body answered.
fn send(
    c: &Cluster,
    method: &str,
    url: &str,
    content_type: &str,
    body: &Value,
) -> Result<(u16, Value), String> {
    let pki = c.pki();
    let path = |name: &str| pki.join(name).to_string_lossy().into_owned();
    let (ca, cert, key) = (path("ca.crt"), path("admin.crt"), path("admin.key"));
    let content_type = format!("Content-Type: {content_type}");
    let out = run(
        Command::new("curl").args([
            "-sS",
            "--max-time",
            "30",
            "-X",
            method,
            "-H",
            &content_type,
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
            url,
        ]),
        Some(body.to_string().as_bytes()),
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

/// Sends `mix` at [`RATE`] a second until `stop`; every create and update with its outcome.
/// [`Mix::Deployments`]: the three kinds of Deployment in turn, each with a name of its own.
/// [`Mix::Every`]: of four operations, three creates (each [`Workload`] in turn, in the three
/// kinds) and an update of an object the load created and the API server admitted (its pod
/// template's container given the resources of a kind, in turn), by a JSON merge patch.
fn load(
    c: &Cluster,
    ns: &str,
    expect: &Expect,
    mix: Mix,
    t0: Instant,
    stop: &AtomicBool,
) -> Vec<Create> {
    let api = c.api_server();
    let next = AtomicUsize::new(0);
    let creates = Mutex::new(Vec::new());
    // The objects created and admitted that the load may update: kind and object sent.
    let stored: Mutex<Vec<(Workload, Value)>> = Mutex::new(Vec::new());
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
                let target = match mix {
                    Mix::Every if k % 4 == 3 => {
                        let stored = stored.lock().expect("a load worker panicked");
                        (!stored.is_empty()).then(|| stored[(k / 4 * 7) % stored.len()].clone())
                    }
                    _ => None,
                };
                let (kind, workload, op, name, object, answer, start, end);
                if let Some((w, created)) = target {
                    // An update: the kinds in turn.
                    (kind, workload, op) = (Kind::ALL[(k / 4) % Kind::ALL.len()], w, Op::Update);
                    name = created["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let patch = w.patch(kind.resources());
                    let mut new = created.clone();
                    json_patch_merge(&mut new, &patch);
                    object = new;
                    start = t0.elapsed();
                    answer = update(c, &api, &created, &patch);
                    end = t0.elapsed();
                } else {
                    op = Op::Create;
                    match mix {
                        Mix::Deployments => {
                            kind = Kind::ALL[k % Kind::ALL.len()];
                            workload = Workload::Deployment;
                            name = format!("{}-{k:04}", kind.name());
                            object = kind.deployment(ns, &name);
                        }
                        Mix::Every => {
                            // Three creates in four: the kinds in turn, each workload in turn.
                            kind = Kind::ALL[(k % 4) % Kind::ALL.len()];
                            workload = Workload::ALL[(k / 4) % Workload::ALL.len()];
                            name = format!(
                                "{}-{}-{k:04}",
                                workload.name().to_lowercase(),
                                kind.name()
                            );
                            object = workload.object(ns, &name, kind.resources());
                        }
                    }
                    start = t0.elapsed();
                    answer = create(c, &api, &object, false);
                    end = t0.elapsed();
                }
                let message = match &answer {
                    Ok((_, body)) => body["message"].as_str().unwrap_or_default().to_owned(),
                    Err(e) => e.clone(),
                };
                let outcome = expect.classify(op, &object, answer.clone());
                if mix == Mix::Every
                    && op == Op::Create
                    && outcome == Outcome::Admitted
                    && workload.updatable()
                {
                    stored
                        .lock()
                        .expect("a load worker panicked")
                        .push((workload, object.clone()));
                }
                let create = Create {
                    kind,
                    workload,
                    op,
                    name,
                    object,
                    answer,
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
/// waits for it to be gone, keeps it down for `hold` from the signal ([`OUTAGE`] for a fault;
/// nothing for a restart that takes new settings or a new certificate), starts it again and
/// waits for its readiness.
fn fault(
    c: &Cluster,
    t0: Instant,
    signal: &'static str,
    running: Option<&mut WebhookProcess>,
    hold: Duration,
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
    if let Some(wait) = (sent + hold).checked_sub(t0.elapsed()) {
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

/// Held while a test under load runs (the lock `faults.rs` and `large.rs` share).
fn serial() -> std::fs::File {
    host_tests::cluster::under_load_lock(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
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

/// The load's expectations with `settings`: the core's verdict on each kind in `ns`.
fn expect_with(c: &Cluster, host: Host, settings: &Settings, ns: &str) -> Expect {
    let hooks = registered_webhooks(c);
    Expect {
        names: hook_names(&hooks),
        policy_webhook: host.webhook_name(),
        verdicts: Kind::ALL
            .iter()
            .map(|k| create_verdict(settings, &k.deployment(ns, "probe")))
            .collect(),
        settings: settings.clone(),
    }
}

/// Registers `host` with `settings_file` (read as `settings`) and `RESTARTABLE=1` (and `env`),
/// creates the load's namespace `ns` and waits until the API server calls the host (a dry run
/// refused by the policy): what the load expects.
fn register(
    c: &Cluster,
    host: Host,
    settings_file: &Path,
    settings: &Settings,
    env: &[(&str, &Path)],
    ns: &str,
) -> Expect {
    let mut all = vec![("RESTARTABLE", Path::new("1"))];
    all.extend_from_slice(env);
    c.webhook_with(Some(host), settings_file, &all);
    namespace(c, ns, None);
    let expect = expect_with(c, host, settings, ns);
    let verdicts = &expect.verdicts;
    assert!(
        matches!(verdicts[0], Verdict::Accepted(None, _))
            && !verdicts[1].allowed()
            && verdicts[2].mutation().is_some(),
        "the load's objects: one admitted as it is, one refused, one given the defaults: {verdicts:?}"
    );
    wait_in_force(c, host, &expect, ns);
    expect
}

/// The API server takes new webhook configurations in a moment after they are written: waits
/// until a dry run over the bounds is refused by the policy through them.
fn wait_in_force(c: &Cluster, host: Host, expect: &Expect, ns: &str) {
    let api = c.api_server();
    let probe = Kind::Over.deployment(ns, "probe");
    c.eventually(
        "the policy's webhook in force",
        Duration::from_secs(30),
        || {
            (expect.classify(Op::Create, &probe, create(c, &api, &probe, true)) == Outcome::Refused)
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", host.name()));
}

/// The figures of one host's run, for the table at the end.
struct Figures {
    host: Host,
    rows: Vec<String>,
}

/// One host: registered with `RESTARTABLE=1`, the mixed load started, the process killed (SIGKILL)
/// and started again, then stopped (SIGTERM) and started again ([`rounds`] times), the load
/// stopped, the last process stopped; then the checks.
fn kill_and_restart(
    c: &Cluster,
    host: Host,
    settings: &Settings,
    failures: &mut Vec<String>,
) -> Figures {
    let h = host.name();
    let mut fail = |e: String| failures.push(format!("{h}: {e}"));
    let ns = format!("faults-{h}");
    let expect = register(c, host, &settings_file(), settings, &[], &ns);

    let first = c.webhook_pid();
    let stop = AtomicBool::new(false);
    let t0 = Instant::now();
    let mut faults = Vec::new();
    let mut last: Option<WebhookProcess> = None;
    let mut problems = Vec::new();
    let creates = std::thread::scope(|s| {
        let load = s.spawn(|| load(c, &ns, &expect, Mix::Every, t0, &stop));
        std::thread::sleep(WARM_UP);
        for signal in (0..rounds()).flat_map(|_| ["KILL", "TERM"]) {
            match fault(c, t0, signal, last.as_mut(), OUTAGE) {
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
            std::thread::sleep(after_ready());
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
        let updates = window.iter().filter(|k| k.op == Op::Update).count();
        rows.push(format!(
            "| {h} | SIG{} | {} | {updates} | {} | {} | {} | {} | {} | {} | {} |",
            f.signal,
            n[0] - updates,
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
    if faults.len() != 2 * rounds() {
        fail(format!("{} of {} faults ran", faults.len(), 2 * rounds()));
    }

    // What is stored keeps the settings; the admitted creates are stored, no other.
    let (problems, objects) = check_stored(c, &ns, &creates, &|_| vec![settings]);
    for e in problems {
        fail(e);
    }
    let n = counts(creates.iter());
    let by = |op: Op, kind: Kind, w: Option<Workload>| {
        counts(
            creates
                .iter()
                .filter(|k| k.op == op && k.kind == kind && w.is_none_or(|w| k.workload == w)),
        )
    };
    let mut per_kind = Vec::new();
    for op in [Op::Create, Op::Update] {
        for kind in Kind::ALL {
            let c = by(op, kind, None);
            per_kind.push(format!("{op:?} {} {}/{}/{}", kind.name(), c[1], c[2], c[3]));
        }
    }
    let per_workload: Vec<String> = Workload::ALL
        .iter()
        .map(|w| {
            let [c, u] = [Op::Create, Op::Update].map(|op| {
                let n = counts(creates.iter().filter(|k| k.op == op && k.workload == *w));
                format!("{}/{}/{}", n[1], n[2], n[3])
            });
            format!("{} {c} (updates {u})", w.name())
        })
        .collect();
    let updates = creates.iter().filter(|k| k.op == Op::Update).count();
    println!(
        "faults: {h}: {} creates and {updates} updates in {:.1} s: {} admitted, {} refused by the policy, {} failed closed, {} unclassified \
         (admitted/refused/failed closed by operation and kind: {}; by workload: {}); {objects} objects stored, each checked against the settings",
        n[0] - updates,
        creates.last().map_or(0.0, |k| k.end.as_secs_f64()),
        n[1],
        n[2],
        n[3],
        n[4],
        per_kind.join(", "),
        per_workload.join(", ")
    );
    Figures { host, rows }
}

/// Each host (policy-server, Spin, the native server) in turn behind one control plane: under a
/// steady load of creates of every kind the core checks and updates of what they stored
/// ([`Mix::Every`]), its process killed and started again, then stopped with SIGTERM and
/// started again. Every create and update is classified; they are admitted again within 5 s of
/// the restarted process's readiness; no stored object breaks the settings; no process is left.
#[test]
fn kill_and_restart_under_load() {
    let _serial = serial();
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
        "| host | fault | creates | updates | admitted | refused by the policy | failed closed | unclassified | downtime (ms) | start to ready (ms) | recovery after readiness (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
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

// ---------------------------------------------------------------------------------------------
// Second stage: settings tightened, certificate rotated, the webhook made slow, under load.
// ---------------------------------------------------------------------------------------------

/// Load after a change (new settings, a new certificate, the end of a slowness) before the
/// figures are taken.
const AFTER_CHANGE: Duration = Duration::from_secs(8);
/// The native server's `--reload-interval` as webhook.sh starts it (its default).
const RELOAD_INTERVAL: Duration = Duration::from_secs(2);
/// The native server takes a changed file within its reload interval; with this margin (a review
/// under way, the load's own lag), every create started later is judged with the new file.
const RELOAD_TARGET: Duration = Duration::from_secs(5);
/// Webhook memory after a change may exceed its level before by this share of it, or by
/// [`RSS_SLACK_MIN_KIB`], whichever is more.
const RSS_SLACK_SHARE: f64 = 0.25;
const RSS_SLACK_MIN_KIB: u64 = 8 * 1024;

/// Whether memory is back to its level: `after` within [`RSS_SLACK_SHARE`] or
/// [`RSS_SLACK_MIN_KIB`] of `before`.
fn rss_back(before: u64, after: u64) -> Result<(), String> {
    let slack = ((before as f64 * RSS_SLACK_SHARE) as u64).max(RSS_SLACK_MIN_KIB);
    if before == 0 || after == 0 {
        return Err(format!(
            "no webhook memory read (before {before} KiB, after {after} KiB)"
        ));
    }
    if after > before + slack {
        return Err(format!(
            "webhook memory {after} KiB after, {before} KiB before: more than {slack} KiB above"
        ));
    }
    Ok(())
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// Sets a flag when dropped: the load stops even when the faults panic.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs the load in `ns` while `faults` runs (given the load's start), then stops it: every
/// create, and what `faults` returned.
fn under_load<R>(
    c: &Cluster,
    ns: &str,
    expect: &Expect,
    faults: impl FnOnce(Instant) -> R,
) -> (Vec<Create>, R) {
    let stop = AtomicBool::new(false);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        let load = s.spawn(|| load(c, ns, expect, Mix::Deployments, t0, &stop));
        let r = {
            let _stop = StopOnDrop(&stop);
            faults(t0)
        };
        (load.join().unwrap_or_default(), r)
    })
}

/// Writes `bytes` to `path` as one change: a file beside it, renamed over it.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Stops the host's process as the kubelet stops it (SIGTERM; `restarted` when the test started
/// it again, else the one webhook.sh started), its webhook configurations left registered (so
/// the controllers create nothing unchecked afterwards), and checks that the groups of `first`
/// and of the last process are gone: what is wrong.
fn stop_host(c: &Cluster, first: u32, restarted: Option<WebhookProcess>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut groups = vec![first];
    match restarted {
        Some(mut p) => {
            groups.push(p.pid());
            p.signal("TERM");
            if p.wait(Duration::from_secs(30)).is_none() {
                problems
                    .push("the restarted webhook host did not stop within 30 s of SIGTERM".into());
            }
        }
        None => c.signal_webhook_process("TERM"),
    }
    for g in groups {
        if wait_gone(g, Instant::now(), Duration::from_secs(30)).is_none() {
            problems.push(format!(
                "processes of the webhook host's group {g} left running: {:?}",
                process_group(g)
            ));
        }
    }
    problems
}

/// Every object of every kind the core checks stored in `ns`, each judged by the core as the
/// validating webhook judges with each of the settings `in_force` gives for it (it breaks them
/// when none accepts it): the objects no controller owns (the load's own, `Kind/name`), how
/// many objects, and each one that breaks the settings with why.
fn stored_by<'s>(
    c: &Cluster,
    ns: &str,
    in_force: &dyn Fn(&Value) -> Vec<&'s Settings>,
) -> (BTreeSet<String>, usize, Vec<String>) {
    let kinds: Vec<String> = Workload::ALL.iter().map(|w| w.plural()).collect();
    let list = c.get(&[&kinds.join(","), "-n", ns]);
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let mut own = BTreeSet::new();
    let mut breaking = Vec::new();
    for item in &items {
        let kind = item["kind"].as_str().unwrap_or_default();
        let name = item["metadata"]["name"].as_str().unwrap_or_default();
        let controlled = item["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["controller"] == json!(true));
        if !controlled {
            own.insert(format!("{kind}/{name}"));
        }
        let request = create_request(item).to_string();
        let mut why = Vec::new();
        for settings in in_force(item) {
            let verdict = match AdmissionRequest::from_json(request.as_bytes()) {
                Ok(req) => evaluate(settings, &req, Webhook::Validating),
                Err(e) => Verdict::Unreadable(e),
            };
            if matches!(verdict, Verdict::Accepted(None, _)) {
                why.clear();
                break;
            }
            why.push(verdict.message().unwrap_or_else(|| format!("{verdict:?}")));
        }
        if !why.is_empty() {
            breaking.push(format!("{kind} {name}: {}", why.join(" / ")));
        }
    }
    (own, items.len(), breaking)
}

/// The stored objects checked (none breaks the settings in force when it was admitted) and the
/// load's own objects stored exactly those whose create was admitted: what is wrong, and how
/// many objects are stored.
fn check_stored<'s>(
    c: &Cluster,
    ns: &str,
    creates: &[Create],
    in_force: &dyn Fn(&Value) -> Vec<&'s Settings>,
) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let (own, objects, breaking) = stored_by(c, ns, in_force);
    if !breaking.is_empty() {
        problems.push(format!(
            "{} stored objects break the settings in force when they were admitted:\n  {}",
            breaking.len(),
            breaking.join("\n  ")
        ));
    }
    let admitted: BTreeSet<String> = creates
        .iter()
        .filter(|k| k.op == Op::Create && k.outcome == Outcome::Admitted)
        .map(|k| format!("{}/{}", k.workload.name(), k.name))
        .collect();
    if own != admitted {
        problems.push(format!(
            "stored objects not admitted: {:?}; admitted, not stored: {:?}",
            own.difference(&admitted).collect::<Vec<_>>(),
            admitted.difference(&own).collect::<Vec<_>>()
        ));
    }
    (problems, objects)
}

/// Every unclassified create, as a problem.
fn unclassified(creates: &[Create]) -> Vec<String> {
    creates
        .iter()
        .filter_map(|k| match &k.outcome {
            Outcome::Unclassified(why) => Some(format!(
                "{} at {} ms: unclassified: {why}",
                k.name,
                ms(k.start)
            )),
            _ => None,
        })
        .collect()
}

/// `patch` applied to `target` as a JSON merge patch (RFC 7396).
fn json_patch_merge(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (key, value) in fields {
        if value.is_null() {
            if let Some(t) = target.as_object_mut() {
                t.remove(key);
            }
        } else {
            json_patch_merge(&mut target[key.as_str()], value);
        }
    }
}

/// The first create started at or after `from` that was admitted: when it was answered.
fn first_admitted_from(creates: &[Create], from: Duration) -> Option<Duration> {
    creates
        .iter()
        .filter(|k| k.start >= from && k.outcome == Outcome::Admitted)
        .map(|k| k.end)
        .min()
}

/// `creates`, counted: `N creates: A admitted, R refused by the policy, F failed closed, U
/// unclassified`.
fn summary(n: [usize; 5]) -> String {
    format!(
        "{} creates: {} admitted, {} refused by the policy, {} failed closed, {} unclassified",
        n[0], n[1], n[2], n[3], n[4]
    )
}

/// A Unix time in seconds from an RFC 3339 time in UTC as the API server writes it
/// (`2026-12-06T11:20:33Z`).
fn unix_seconds(t: &str) -> Option<i64> {
    let (date, time) = t.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut hms = time.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (hms.next()??, hms.next()??, hms.next()??);
    // Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3_600 + mm * 60 + ss)
}

/// Which settings judged a create: the old ones, the new ones, or both alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum By {
    Old,
    New,
    Both,
}

/// Each create classified again against the settings before (`old`) and after (`new`): its
/// outcome becomes the one of the settings that judged it (unclassified when neither did), and
/// which did is returned (`None` for a create failed closed or unclassified).
fn judge_by(creates: &mut [Create], old: &Expect, new: &Expect) -> Vec<Option<By>> {
    let decided = |o: &Outcome| matches!(o, Outcome::Admitted | Outcome::Refused);
    creates
        .iter_mut()
        .map(|k| {
            let o = old.classify(k.op, &k.object, k.answer.clone());
            let n = new.classify(k.op, &k.object, k.answer.clone());
            let (by, outcome) = match (decided(&o), decided(&n)) {
                (true, true) => (Some(By::Both), o),
                (true, false) => (Some(By::Old), o),
                (false, true) => (Some(By::New), n),
                (false, false) => (None, o),
            };
            k.outcome = outcome;
            by
        })
        .collect()
}

/// The example's settings with a tighter cpu bound: maxLimit 1 (from 4), maxRequest 1 (from 2).
/// The load's object within the bounds (a cpu limit of 2) is refused by them; the one over the
/// bounds is refused with another message; the defaults (a cpu limit of 1) still fit.
fn tighter() -> Value {
    let bytes = std::fs::read(settings_file()).expect("examples/settings/bounded.json");
    let mut v: Value = serde_json::from_slice(&bytes).expect("bounded.json is JSON");
    v["cpu"]["maxLimit"] = json!("1");
    v["cpu"]["maxRequest"] = json!("1");
    v
}

/// Makes `host` take the settings `tight` (written to `tight_file`) the way it takes them:
/// the native server re-reads its settings file (`file`, replaced; it serves with it from its
/// next look, every [`RELOAD_INTERVAL`]); policy-server reads its policies.yml and Spin its
/// `settings` variable only when they start (kubewarden-controller and SpinKube roll out new
/// pods for new settings), so for them the new settings are written where the process is
/// started again from (webhook/policies.yml; the `settings=` argument of webhook/command), and
/// `true` is returned: the process must be restarted.
fn write_settings(
    c: &Cluster,
    host: Host,
    file: &Path,
    tight_file: &Path,
    tight: &Value,
) -> Result<bool, String> {
    let hook = c.webhook_dir();
    match host {
        Host::Native => {
            let text = serde_json::to_vec_pretty(tight).map_err(|e| e.to_string())?;
            replace_file(file, &text)?;
            Ok(false)
        }
        Host::Spin => {
            let command = std::fs::read(hook.join("command")).map_err(|e| e.to_string())?;
            let mut args: Vec<Vec<u8>> = command
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            let value = format!("settings={tight}").into_bytes();
            let mut replaced = 0;
            for a in &mut args {
                if a.starts_with(b"settings=") {
                    *a = value.clone();
                    replaced += 1;
                }
            }
            if replaced != 1 {
                return Err(format!(
                    "webhook/command holds {replaced} settings= arguments, not 1"
                ));
            }
            let mut text = Vec::new();
            for a in args {
                text.extend_from_slice(&a);
                text.push(0);
            }
            replace_file(&hook.join("command"), &text)?;
            Ok(true)
        }
        Host::Kubewarden => {
            let root = repo_root();
            let policies = hook.join("policies.yml.next");
            run(
                Command::new(c.bin().join("webhooks"))
                    .arg("kubewarden")
                    .arg("-policy")
                    .arg(root.join("examples/cluster-admission-policy.yaml"))
                    .arg("-policy")
                    .arg(root.join("examples/cluster-admission-policy-validating.yaml"))
                    .arg("-url")
                    .arg(c.webhook_url())
                    .arg("-ca")
                    .arg(c.ca())
                    .arg("-module")
                    .arg(root.join("annotated-policy.wasm"))
                    .arg("-settings")
                    .arg(tight_file)
                    .arg("-policies")
                    .arg(&policies),
                None,
            )?;
            std::fs::rename(&policies, hook.join("policies.yml")).map_err(|e| e.to_string())?;
            Ok(true)
        }
    }
}

/// What one change under load measured, for the tables at the end.
struct Change {
    /// From the load's start.
    at: Duration,
    /// The restart the change took (policy-server and Spin), if any.
    restart: Option<Fault>,
    /// The process started again, to be stopped by the test.
    process: Option<WebhookProcess>,
    rss_before: u64,
    rss_after: u64,
    /// What went wrong while changing.
    problems: Vec<String>,
}

impl Change {
    /// A change beginning now: its time since `t0` and the webhook's memory before it.
    fn begin(c: &Cluster, t0: Instant) -> Change {
        Change {
            at: t0.elapsed(),
            restart: None,
            process: None,
            rss_before: rss_kib(c.webhook_pid()),
            rss_after: 0,
            problems: Vec::new(),
        }
    }
}

/// The change's process restart: SIGTERM, started again at once (no hold), ready.
fn restart(c: &Cluster, t0: Instant, change: &mut Change) {
    match fault(c, t0, "TERM", None, Duration::ZERO) {
        Ok((f, p)) => {
            change.restart = Some(f);
            change.process = Some(p);
        }
        Err(e) => change.problems.push(e),
    }
}

/// One host: registered with the example's settings (a copy the test rewrites), the load
/// started, the settings tightened the way the host takes them, the load stopped, the process
/// stopped; then the checks. A table row.
fn settings_tightened(c: &Cluster, host: Host, failures: &mut Vec<String>) -> String {
    let h = host.name();
    let mut fail = |e: String| failures.push(format!("{h}: settings: {e}"));
    let dir = c.scratch().path(&format!("settings-{h}"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let file = dir.join("settings.json");
    std::fs::copy(settings_file(), &file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let tight = tighter();
    let tight_file = dir.join("tight.json");
    std::fs::write(&tight_file, tight.to_string())
        .unwrap_or_else(|e| panic!("{}: {e}", tight_file.display()));
    let old = settings();
    let new = Settings::from_json(tight.to_string().as_bytes()).expect("the tighter settings");
    let ns = format!("settings-{h}");
    let expect_old = register(c, host, &file, &old, &[], &ns);
    let expect_new = expect_with(c, host, &new, &ns);
    assert!(
        !expect_new.verdicts[0].allowed()
            && !expect_new.verdicts[1].allowed()
            && expect_new.verdicts[1].message() != expect_old.verdicts[1].message()
            && expect_new.verdicts[2].mutation() == expect_old.verdicts[2].mutation(),
        "with the tighter settings: the fitting object refused, the one over refused with another message, the defaults alike: {:?}",
        expect_new.verdicts
    );
    let first = c.webhook_pid();
    let (mut creates, (wall, mut change)) = under_load(c, &ns, &expect_old, |t0| {
        let wall = SystemTime::now() - t0.elapsed();
        std::thread::sleep(WARM_UP);
        let mut change = Change::begin(c, t0);
        match write_settings(c, host, &file, &tight_file, &tight) {
            Ok(true) => restart(c, t0, &mut change),
            Ok(false) => {}
            Err(e) => change.problems.push(e),
        }
        if let Some(wait) = (change.at + AFTER_CHANGE).checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        change.rss_after = rss_kib(c.webhook_pid());
        (wall, change)
    });
    for e in stop_host(c, first, change.process.take()) {
        fail(e);
    }
    for e in change.problems.drain(..) {
        fail(e);
    }
    let by = judge_by(&mut creates, &expect_old, &expect_new);
    for e in unclassified(&creates) {
        fail(e);
    }
    let at = change.at;
    let judged = |b: By| {
        creates
            .iter()
            .zip(&by)
            .filter(move |(_, x)| **x == Some(b))
            .map(|(k, _)| k)
    };
    let first_new = judged(By::New).map(|k| k.end).min();
    let last_old = judged(By::Old).max_by_key(|k| k.start);
    let (last_old_start, last_old_end) = (last_old.map(|k| k.start), last_old.map(|k| k.end));
    // Every create started after this is judged by the new settings (or fails closed while a
    // restarted host starts, within its recovery).
    let target = match &change.restart {
        Some(f) => f.ready - at + RECOVERY_TARGET,
        None => RELOAD_TARGET,
    };
    if let Some(early) = judged(By::New).find(|k| k.end < at) {
        fail(format!(
            "{} judged by the new settings, answered at {} ms, before they were written at {} ms",
            early.name,
            ms(early.end),
            ms(at)
        ));
    }
    if let (Some(first), Some(last)) = (first_new, last_old_start) {
        if last > first {
            fail(format!(
                "a create started at {} ms judged by the old settings after one judged by the new (answered at {} ms)",
                ms(last),
                ms(first)
            ));
        }
    }
    let late: Vec<String> = creates
        .iter()
        .zip(&by)
        .filter(|(k, b)| k.start > at + target && !matches!(b, Some(By::New | By::Both)))
        .map(|(k, b)| {
            format!(
                "{} at +{} ms: {b:?} {:?}",
                k.name,
                signed_ms(at, k.start),
                k.outcome
            )
        })
        .collect();
    if !late.is_empty() {
        fail(format!(
            "creates started more than {} ms after the change not judged by the new settings: {late:?}",
            ms(target)
        ));
    }
    let n_new = judged(By::New).count();
    if n_new < 10 {
        fail(format!("only {n_new} creates judged by the new settings"));
    }
    if judged(By::Old).filter(|k| k.end < at).count() < 5 {
        fail("fewer than 5 creates judged by the old settings before the change".into());
    }
    let n = counts(creates.iter());
    if host == Host::Native && n[3] > 0 {
        fail(format!(
            "{} creates failed closed while the native server re-read its settings",
            n[3]
        ));
    }
    if let Err(e) = rss_back(change.rss_before, change.rss_after) {
        fail(e);
    }
    // In force when an object was admitted: before the new settings were taken, either
    // (creationTimestamp counts whole seconds); after, the new ones only.
    let switched = wall + at + first_new.unwrap_or(at).max(last_old_end.unwrap_or(at)) - at;
    let switched = switched
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let in_force = |item: &Value| {
        let created = item["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(unix_seconds);
        match created {
            Some(t) if t <= switched => vec![&old, &new],
            _ => vec![&new],
        }
    };
    let (problems, objects) = check_stored(c, &ns, &creates, &in_force);
    for e in problems {
        fail(e);
    }
    let how = match &change.restart {
        Some(f) => format!(
            "restart: SIGTERM, gone {} ms, started again, ready {} ms after the change",
            ms(f.gone - f.sent),
            ms(f.ready - at)
        ),
        None => format!(
            "settings file re-read (every {} s)",
            RELOAD_INTERVAL.as_secs()
        ),
    };
    let first_new_ms = first_new.map_or("-".into(), |t| signed_ms(at, t).to_string());
    let last_old_ms = match (last_old_start, last_old_end) {
        (Some(s), Some(e)) => format!("{}/{}", signed_ms(at, s), signed_ms(at, e)),
        _ => "-".into(),
    };
    println!(
        "faults: {h} settings tightened: {}; {how}; first create judged by the new settings answered {first_new_ms} ms after the change, \
         the last judged by the old started/answered {last_old_ms} ms after it ({n_new} judged by the new); {objects} objects stored; \
         webhook RSS {} MiB before, {} MiB after",
        summary(n),
        mib(change.rss_before),
        mib(change.rss_after)
    );
    format!(
        "| {h} | settings tightened | {} | {} | {} | {} | {} | {how} | {first_new_ms} | {last_old_ms} | {} → {} |",
        n[0],
        n[1],
        n[2],
        n[3],
        n[4],
        mib(change.rss_before),
        mib(change.rss_after)
    )
}

/// Runs a fault against each host in turn on one control plane (the load tests one at a time),
/// prints each host's row under `header`, and fails with every failure of any host.
fn each_host(
    cluster: &str,
    header: &str,
    fault: impl Fn(&Cluster, Host, &mut Vec<String>) -> String,
) {
    let _serial = serial();
    let c = Cluster::up(cluster);
    let mut failures = Vec::new();
    let mut rows = Vec::new();
    for host in Host::ALL {
        let started = Instant::now();
        rows.push(fault(&c, host, &mut failures));
        println!(
            "faults: {} took {:.1} s",
            host.name(),
            started.elapsed().as_secs_f64()
        );
    }
    c.webhook(None, &settings_file());
    println!("{header}");
    println!(
        "|{}",
        "---|".repeat(header.matches('|').count().saturating_sub(1))
    );
    for r in &rows {
        println!("{r}");
    }
    assert_no_failures(&failures);
}

/// Each host in turn under load: the settings changed to tighter bounds (a cpu maxLimit of 1,
/// from 4) the way the host takes them (the native server re-reads its file; policy-server and
/// Spin are restarted with the new settings). Each create is judged by the settings before or
/// after; none by the old after one was judged by the new; every create is judged by the new
/// within the reload interval and a margin (the native server, none failing closed) or within
/// 5 s of the restarted host's readiness; no stored object breaks the settings in force when it
/// was admitted; memory back to its level; no process left.
#[test]
fn settings_tightened_under_load() {
    each_host(
        "faults-settings",
        "| host | fault | creates | admitted | refused by the policy | failed closed | unclassified | how the host takes them | first judged by the new (ms after) | last judged by the old, started/answered (ms after) | webhook RSS MiB before → after |",
        settings_tightened,
    );
}

/// The native server's certificate reloads counted on its /metrics: ok, failed.
fn certificate_reloads(c: &Cluster) -> Result<(f64, f64), String> {
    let out = run(
        Command::new("curl")
            .args(["-fsS", "--max-time", "10", "--cacert"])
            .arg(c.ca())
            .arg(format!("{}/metrics", c.webhook_url())),
        None,
    )?;
    let text = String::from_utf8_lossy(&out);
    let metric = |result: &str| {
        let series = format!("resource_limits_certificate_reloads_total{{result=\"{result}\"}}");
        text.lines()
            .find_map(|l| l.strip_prefix(series.as_str())?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    Ok((metric("ok"), metric("failed")))
}

/// One host: registered, the load started, the serving certificate and key replaced by a new
/// pair from the same CA (the native server's files, which it re-reads; policy-server's and
/// Spin's, which they read at start: then the process is restarted), the new certificate
/// looked for in a TLS handshake, the load stopped, the process stopped; then the checks. A
/// table row.
fn certificate_rotated(c: &Cluster, host: Host, failures: &mut Vec<String>) -> String {
    let h = host.name();
    let mut fail = |e: String| failures.push(format!("{h}: certificate: {e}"));
    let settings = settings();
    let ns = format!("certificate-{h}");
    // The native server serves files of its own folder (as a Secret volume); the others the
    // cluster's webhook certificate, which is replaced for them.
    let tls = c.scratch().path(&format!("tls-{h}"));
    std::fs::create_dir_all(&tls).unwrap_or_else(|e| panic!("{}: {e}", tls.display()));
    let (crt_file, key_file) = match host {
        Host::Native => {
            for (from, to) in [("webhook.crt", "tls.crt"), ("webhook.key", "tls.key")] {
                std::fs::copy(c.pki().join(from), tls.join(to))
                    .unwrap_or_else(|e| panic!("{to}: {e}"));
            }
            (tls.join("tls.crt"), tls.join("tls.key"))
        }
        Host::Kubewarden | Host::Spin => (c.pki().join("webhook.crt"), c.pki().join("webhook.key")),
    };
    let env: Vec<(&str, &Path)> = match host {
        Host::Native => vec![("TLS_DIR", tls.as_path())],
        _ => Vec::new(),
    };
    let expect = register(c, host, &settings_file(), &settings, &env, &ns);
    let old_id = served_certificate(c).unwrap_or_else(|e| panic!("{h}: {e}"));
    let (cert, key) = issue_webhook_certificate(c, &tls.join("new"))
        .unwrap_or_else(|e| panic!("{h}: the new certificate: {e}"));
    let new_id = certificate_id(&cert).unwrap_or_else(|e| panic!("{h}: {e}"));
    assert_ne!(old_id, new_id, "{h}: the new certificate is the old one");
    let reloads_before = (host == Host::Native).then(|| certificate_reloads(c));
    let first = c.webhook_pid();
    let (creates, (mut change, served_new)) = under_load(c, &ns, &expect, |t0| {
        std::thread::sleep(WARM_UP);
        let mut change = Change::begin(c, t0);
        // The key first: until the certificate follows, the pair does not match and the
        // native server keeps the old one.
        if let Err(e) = replace_file(&key_file, &key).and_then(|()| replace_file(&crt_file, &cert))
        {
            change.problems.push(e);
        }
        if host != Host::Native {
            restart(c, t0, &mut change);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut served_new = None;
        while Instant::now() < deadline {
            if served_certificate(c).is_ok_and(|id| id == new_id) {
                served_new = Some(t0.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Some(wait) = (change.at + AFTER_CHANGE).checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        change.rss_after = rss_kib(c.webhook_pid());
        (change, served_new)
    });
    let at = change.at;
    let reloads = reloads_before.map(|before| {
        let after = certificate_reloads(c);
        match (before, after) {
            (Ok(b), Ok(a)) => Ok((a.0 - b.0, a.1 - b.1)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    });
    for e in stop_host(c, first, change.process.take()) {
        fail(e);
    }
    for e in change.problems.drain(..) {
        fail(e);
    }
    for e in unclassified(&creates) {
        fail(e);
    }
    let n = counts(creates.iter());
    let after = counts(creates.iter().filter(|k| k.end > at));
    match served_new {
        None => fail(format!(
            "the new certificate not served within 15 s: {new_id}"
        )),
        Some(t) if host == Host::Native && t - at > RELOAD_TARGET => fail(format!(
            "the new certificate served {} ms after the files were replaced (target {} ms)",
            ms(t - at),
            ms(RELOAD_TARGET)
        )),
        Some(_) => {}
    }
    let recovery = match &change.restart {
        Some(f) => {
            let r = first_admitted_from(&creates, f.gone).map(|r| signed_ms(f.ready, r));
            match r {
                None => fail("no create admitted after the restart".into()),
                Some(r) if r > RECOVERY_TARGET.as_millis() as i128 => fail(format!(
                    "the first create admitted again {r} ms after readiness (target {} ms)",
                    ms(RECOVERY_TARGET)
                )),
                Some(_) => {}
            }
            let late: Vec<&str> = creates
                .iter()
                .filter(|k| {
                    k.outcome == Outcome::FailedClosed && k.start > f.ready + RECOVERY_TARGET
                })
                .map(|k| k.name.as_str())
                .collect();
            if !late.is_empty() {
                fail(format!(
                    "creates failed closed after the recovery target: {late:?}"
                ));
            }
            r
        }
        None => None,
    };
    if host == Host::Native && n[3] > 0 {
        fail(format!(
            "{} creates failed closed while the native server took its new certificate",
            n[3]
        ));
    }
    if after[1] < 10 {
        fail(format!(
            "only {} creates admitted after the change",
            after[1]
        ));
    }
    if let Some(Ok((ok, _))) = reloads {
        if ok < 1.0 {
            fail(format!("/metrics counted {ok} certificate reloads ok"));
        }
    }
    if let Some(Err(e)) = &reloads {
        fail(e.clone());
    }
    if let Err(e) = rss_back(change.rss_before, change.rss_after) {
        fail(e);
    }
    let (problems, objects) = check_stored(c, &ns, &creates, &|_| vec![&settings]);
    for e in problems {
        fail(e);
    }
    let how = match &change.restart {
        Some(f) => format!(
            "restart (read at start): gone {} ms after SIGTERM, ready {} ms after",
            ms(f.gone - f.sent),
            ms(f.ready - f.sent)
        ),
        None => format!("files re-read (every {} s)", RELOAD_INTERVAL.as_secs()),
    };
    let served_ms = served_new.map_or("-".into(), |t| ms(t - at).to_string());
    let reloads_text = match reloads {
        Some(Ok((ok, failed))) => format!("; /metrics: {ok} reloads ok, {failed} failed"),
        _ => String::new(),
    };
    println!(
        "faults: {h} certificate rotated: {}; after the change {}; {how}; new certificate ({new_id}) served {served_ms} ms after the files were replaced; \
         {}{reloads_text}; {objects} objects stored; webhook RSS {} MiB before, {} MiB after",
        summary(n),
        summary(after),
        recovery.map_or("no restart".into(), |r| format!(
            "first create admitted again {r} ms after readiness"
        )),
        mib(change.rss_before),
        mib(change.rss_after)
    );
    format!(
        "| {h} | certificate rotated | {} | {} | {} | {} | {} | {how} | {served_ms} | {} | {} → {} |",
        n[0],
        n[1],
        n[2],
        n[3],
        n[4],
        recovery.map_or("-".into(), |r| r.to_string()),
        mib(change.rss_before),
        mib(change.rss_after)
    )
}

/// Each host in turn under load: its serving certificate and key replaced by a new pair signed
/// by the same CA. The native server re-reads them: no create fails closed, and a new TLS
/// handshake gets the new certificate within its reload interval and a margin. policy-server
/// and Spin read them at start: the rotation is a restart (SIGTERM, started again at once),
/// creates admitted again within 5 s of readiness, the new certificate served after it. Every
/// create classified; no stored object breaks the settings; memory back to its level; no
/// process left.
#[test]
fn certificate_rotated_under_load() {
    each_host(
        "faults-certificate",
        "| host | fault | creates | admitted | refused by the policy | failed closed | unclassified | how the host takes it | new certificate served (ms after) | recovery after readiness (ms) | webhook RSS MiB before → after |",
        certificate_rotated,
    );
}

/// A TCP proxy on loopback in front of the webhook host (TLS passes through it untouched: the
/// certificate names 127.0.0.1, as the proxy's address does). While `slow` is set, each chunk
/// the API server sends is held for the proxy's delay before it is forwarded, or until `slow`
/// is cleared (the webhook fast again: what it holds goes on at once). Stopped on drop (its
/// connections shut down, its threads joined).
struct SlowProxy {
    port: u16,
    slow: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Connections accepted.
    accepted: Arc<AtomicUsize>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    threads: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl SlowProxy {
    fn start(upstream: SocketAddr, delay: Duration) -> SlowProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port for the proxy");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let port = listener.local_addr().expect("the proxy's address").port();
        let slow = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let streams = Arc::new(Mutex::new(Vec::<TcpStream>::new()));
        let threads = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (slow, stop, accepted) = (slow.clone(), stop.clone(), accepted.clone());
            let (streams, threads) = (streams.clone(), threads.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let client = match listener.accept() {
                        Ok((client, _)) => client,
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    };
                    accepted.fetch_add(1, Ordering::Relaxed);
                    let _ = client.set_nonblocking(false);
                    let Ok(server) = TcpStream::connect(upstream) else {
                        continue;
                    };
                    let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
                        client.try_clone(),
                        server.try_clone(),
                        client.try_clone(),
                        server.try_clone(),
                    ) else {
                        continue;
                    };
                    streams.lock().expect("proxy streams").extend([c3, s3]);
                    let slow = slow.clone();
                    let up = std::thread::spawn(move || pump(client, server, Some((&slow, delay))));
                    let down = std::thread::spawn(move || pump(s2, c2, None));
                    threads.lock().expect("proxy threads").extend([up, down]);
                }
            })
        };
        SlowProxy {
            port,
            slow,
            stop,
            accepted,
            streams,
            threads,
            accept: Some(accept),
        }
    }
}

/// Copies `from` to `to` until either ends; when `slow` is given and set, each chunk is held
/// `delay` first, or until `slow` is cleared.
fn pump(mut from: TcpStream, mut to: TcpStream, slow: Option<(&AtomicBool, Duration)>) {
    use std::io::Read;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some((slow, delay)) = slow {
            let held = Instant::now();
            while slow.load(Ordering::Relaxed) && held.elapsed() < delay {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.slow.store(false, Ordering::Relaxed);
        self.stop.store(true, Ordering::Relaxed);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        for s in self
            .streams
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
        {
            let _ = s.shutdown(Shutdown::Both);
        }
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Whether a failed-closed message says the call ran out of time (the API server's words for
/// its webhook client's deadline: `context deadline exceeded`, `Client.Timeout exceeded`,
/// `timeout`).
fn timed_out(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("deadline exceeded") || m.contains("timeout") || m.contains("timed out")
}

/// One host behind a slow proxy, under load: registered through the proxy (its configurations'
/// URL the proxy's), then made slow for three times its webhooks' timeoutSeconds and more (each
/// request held timeoutSeconds + 3 s), then fast again; the load stopped, the process stopped;
/// then the checks. A table row.
fn slow_beyond_timeout(c: &Cluster, host: Host, failures: &mut Vec<String>) -> String {
    let h = host.name();
    let mut fail = |e: String| failures.push(format!("{h}: slow: {e}"));
    let settings = settings();
    let ns = format!("slow-{h}");
    let mut expect = register(c, host, &settings_file(), &settings, &[], &ns);
    let hooks = registered_webhooks(c);
    let timeout = hooks
        .iter()
        .filter_map(|w| w["timeoutSeconds"].as_u64())
        .max()
        .map(Duration::from_secs)
        .expect("the webhooks' timeoutSeconds");
    let delay = timeout + Duration::from_secs(3);
    let url = c.webhook_url();
    let upstream: SocketAddr = url
        .trim_start_matches("https://")
        .parse()
        .expect("the webhook's address");
    let proxy = SlowProxy::start(upstream, delay);
    let config = std::fs::read_to_string(c.webhook_configurations()).expect("webhooks.yaml");
    let through = config.replace(
        &format!("{url}/"),
        &format!("https://127.0.0.1:{}/", proxy.port),
    );
    assert_ne!(through, config, "{h}: the webhook URL is in webhooks.yaml");
    let out = c.kubectl_with(&["apply", "-f", "-"], Some(&through));
    assert!(
        out.status.success(),
        "{h}: registering through the proxy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The names stay; the API server calls the proxy once it took the new configurations.
    expect.names = hook_names(&hooks);
    let api = c.api_server();
    let probe = Kind::Over.deployment(&ns, "probe");
    c.eventually(
        "the webhook called through the proxy",
        Duration::from_secs(30),
        || {
            let refused = expect.classify(Op::Create, &probe, create(c, &api, &probe, true))
                == Outcome::Refused;
            (refused && proxy.accepted.load(Ordering::Relaxed) > 0).then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{h}: {e}"));
    let slow_for = timeout * 3 + Duration::from_secs(2);
    let first = c.webhook_pid();
    let (creates, (on, off, rss_before, rss_after)) = under_load(c, &ns, &expect, |t0| {
        std::thread::sleep(WARM_UP);
        let rss_before = rss_kib(c.webhook_pid());
        let on = t0.elapsed();
        proxy.slow.store(true, Ordering::Relaxed);
        std::thread::sleep(slow_for);
        let off = t0.elapsed();
        proxy.slow.store(false, Ordering::Relaxed);
        std::thread::sleep(AFTER_CHANGE);
        (on, off, rss_before, rss_kib(c.webhook_pid()))
    });
    for e in stop_host(c, first, None) {
        fail(e);
    }
    for e in unclassified(&creates) {
        fail(e);
    }
    // Sent while slow, a timeout or more before its end: the API server's first call is held
    // beyond its deadline. (One sent later may be answered in time once the slowness ends: the
    // held request goes on then.)
    let margin = Duration::from_millis(200);
    let during: Vec<&Create> = creates
        .iter()
        .filter(|k| k.start > on + margin && k.start + timeout + margin < off)
        .collect();
    let not_closed: Vec<String> = during
        .iter()
        .filter(|k| k.outcome != Outcome::FailedClosed || !timed_out(&k.message))
        .map(|k| {
            format!(
                "{} at +{} ms: {:?} {}",
                k.name,
                signed_ms(on, k.start),
                k.outcome,
                k.message
            )
        })
        .collect();
    if !not_closed.is_empty() {
        fail(format!(
            "creates sent while the webhook was slow that did not fail closed on the timeout: {not_closed:?}"
        ));
    }
    if during.len() < 4 {
        fail(format!(
            "only {} creates sent while the webhook was slow",
            during.len()
        ));
    }
    let waited: Vec<Duration> = during.iter().map(|k| k.end - k.start).collect();
    let (shortest, longest) = (
        waited.iter().min().copied().unwrap_or_default(),
        waited.iter().max().copied().unwrap_or_default(),
    );
    // The API server waits out its deadline before failing closed (a little less: its
    // deadline runs from when it sent the request).
    if shortest + Duration::from_millis(500) < timeout {
        fail(format!(
            "a create failed closed after {} ms, before the {} s timeout",
            ms(shortest),
            timeout.as_secs()
        ));
    }
    let recovered = first_admitted_from(&creates, off).map(|r| signed_ms(off, r));
    match recovered {
        None => fail("no create admitted after the slowness".into()),
        Some(r) if r > RECOVERY_TARGET.as_millis() as i128 => fail(format!(
            "the first create admitted again {r} ms after the slowness ended (target {} ms)",
            ms(RECOVERY_TARGET)
        )),
        Some(_) => {}
    }
    let late: Vec<&str> = creates
        .iter()
        .filter(|k| k.outcome == Outcome::FailedClosed && k.start > off + RECOVERY_TARGET)
        .map(|k| k.name.as_str())
        .collect();
    if !late.is_empty() {
        fail(format!(
            "creates failed closed more than {} ms after the slowness ended: {late:?}",
            ms(RECOVERY_TARGET)
        ));
    }
    let early = creates
        .iter()
        .filter(|k| k.end < on && k.outcome == Outcome::FailedClosed)
        .count();
    if early > 0 {
        fail(format!("{early} creates failed closed before the slowness"));
    }
    if let Err(e) = rss_back(rss_before, rss_after) {
        fail(e);
    }
    let (problems, objects) = check_stored(c, &ns, &creates, &|_| vec![&settings]);
    for e in problems {
        fail(e);
    }
    let n = counts(creates.iter());
    let w = counts(during.iter().copied());
    let wording: BTreeSet<String> = during
        .iter()
        .filter(|k| k.outcome == Outcome::FailedClosed)
        .map(|k| k.message.rsplit(": ").next().unwrap_or_default().to_owned())
        .collect();
    println!(
        "faults: {h} slow beyond timeoutSeconds ({} s; each request held {} ms for {} ms): {}; sent while slow (up to a timeout before its end): {} (waited {}..{} ms; the API server's words: {wording:?}); \
         first create admitted again {} ms after the slowness ended; {} connections through the proxy; {objects} objects stored; webhook RSS {} MiB before, {} MiB after",
        timeout.as_secs(),
        ms(delay),
        ms(slow_for),
        summary(n),
        summary(w),
        ms(shortest),
        ms(longest),
        recovered.map_or("-".into(), |r| r.to_string()),
        proxy.accepted.load(Ordering::Relaxed),
        mib(rss_before),
        mib(rss_after)
    );
    drop(proxy);
    format!(
        "| {h} | slow beyond timeoutSeconds ({} s) | {} | {} | {} | {} | {} | {} of {} | {}..{} | {} | {} → {} |",
        timeout.as_secs(),
        n[0],
        n[1],
        n[2],
        n[3],
        n[4],
        w[3],
        w[0],
        ms(shortest),
        ms(longest),
        recovered.map_or("-".into(), |r| r.to_string()),
        mib(rss_before),
        mib(rss_after)
    )
}

/// Each host in turn (policy-server, Spin, the native server) behind a slow proxy, under load:
/// registered through the proxy, then made slow for three times its webhooks' timeoutSeconds
/// and more (each request held timeoutSeconds + 3 s), then fast again. Every create sent while
/// it is slow fails closed with the API server's timeout error (none admitted unchecked, none
/// answered by the policy after the API server gave up); after the slowness creates are
/// admitted again within 5 s; every create classified; no stored object breaks the settings;
/// memory back to its level; no process left.
#[test]
fn slow_webhook_beyond_timeout() {
    each_host(
        "faults-slow",
        "| host | fault | creates | admitted | refused by the policy | failed closed | unclassified | sent while slow, a timeout before its end: failed closed on the timeout | waited (ms) | recovery after the slowness (ms) | webhook RSS MiB before → after |",
        slow_beyond_timeout,
    );
}

/// How long kube-apiserver gets to exit after SIGTERM before it is killed. It stops listening at
/// once, but waits for the controllers' watches up to its request timeout (60 s); a kubelet
/// kills it after its grace period.
const API_SERVER_GRACE: Duration = Duration::from_secs(5);
/// How long kube-apiserver gets to start again and answer `/readyz`.
const API_SERVER_START: Duration = Duration::from_secs(120);

/// One host behind kube-apiserver, under load: kube-apiserver alone stopped (SIGTERM), held
/// down 2 s and started again with the same command (etcd, the controllers and the webhook host
/// left running); the load stopped, the host's process stopped; then the checks. A table row.
fn api_server_restart(c: &Cluster, host: Host, failures: &mut Vec<String>) -> String {
    let h = host.name();
    let settings = settings();
    let ns = format!("api-server-{h}");
    let expect = register(c, host, &settings_file(), &settings, &[], &ns);
    let first = c.webhook_pid();
    let old_pid = c.api_server_pid();
    struct Restart {
        sent: Duration,
        killed: bool,
        gone: Duration,
        started: Duration,
        ready: Duration,
        rss_before: u64,
        rss_after: u64,
    }
    let (mut creates, restart) = under_load(c, &ns, &expect, |t0| {
        std::thread::sleep(WARM_UP);
        let rss_before = rss_kib(first);
        let sent = t0.elapsed();
        let (command, killed) = c.stop_api_server(API_SERVER_GRACE)?;
        let gone = t0.elapsed();
        if let Some(wait) = (sent + OUTAGE).checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        let started = t0.elapsed();
        c.start_api_server(&command);
        let deadline = Instant::now() + API_SERVER_START;
        let ready = loop {
            let probe = t0.elapsed();
            if c.api_server_ready() {
                break probe;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "kube-apiserver not ready within {API_SERVER_START:?} of its start"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(AFTER_CHANGE);
        Ok(Restart {
            sent,
            killed,
            gone,
            started,
            ready,
            rss_before,
            rss_after: rss_kib(first),
        })
    });
    let r = match restart {
        Ok(r) => r,
        Err(e) => panic!(
            "{h}: {e}\n--- kube-apiserver log ---\n{}",
            c.log("kube-apiserver")
        ),
    };
    let mut problems = stop_host(c, first, None);
    // What is not the policy's verdict nor failing closed, from the stop to 5 s after readiness:
    // refused at the client (no answer: the API server down) or by the API server itself (not
    // a success status). A success that is not the policy's verdict is a create admitted
    // unchecked.
    let mut at_client = 0;
    let mut by_api_server = 0;
    let mut words = BTreeSet::new();
    for k in &mut creates {
        let Outcome::Unclassified(why) = &k.outcome else {
            continue;
        };
        let in_restart = k.end > r.sent && k.start < r.ready + RECOVERY_TARGET;
        match &k.answer {
            Err(e) if in_restart => {
                at_client += 1;
                words.insert(format!(
                    "client: {}",
                    e.rsplit(": ").next().unwrap_or_default().trim()
                ));
            }
            Ok((status, body)) if in_restart && !(200..300).contains(status) => {
                by_api_server += 1;
                words.insert(format!(
                    "API server: {status} {}",
                    body["message"].as_str().unwrap_or_default()
                ));
            }
            _ => problems.push(format!(
                "{} at {} ms ({} ms after the stop): unclassified: {why}",
                k.name,
                ms(k.start),
                signed_ms(r.sent, k.start)
            )),
        }
        k.outcome = Outcome::Unclassified(String::new());
    }
    if at_client == 0 {
        problems.push("no create refused at the client while kube-apiserver was down".into());
    }
    let early = creates
        .iter()
        .filter(|k| {
            k.end < r.sent && k.outcome != Outcome::Admitted && k.outcome != Outcome::Refused
        })
        .count();
    if early > 0 {
        problems.push(format!(
            "{early} creates not the policy's verdict before the stop"
        ));
    }
    let recovery = first_admitted_from(&creates, r.gone).map(|t| signed_ms(r.ready, t));
    match recovery {
        None => problems.push("no create admitted after the restart".into()),
        Some(t) if t > RECOVERY_TARGET.as_millis() as i128 => problems.push(format!(
            "the first create admitted again {t} ms after kube-apiserver's readiness (target {} ms)",
            ms(RECOVERY_TARGET)
        )),
        Some(_) => {}
    }
    if c.api_server_pid() == old_pid {
        problems.push("kube-apiserver's pid is the old one".into());
    }
    if let Err(e) = rss_back(r.rss_before, r.rss_after) {
        problems.push(e);
    }
    let (stored, objects) = check_stored(c, &ns, &creates, &|_| vec![&settings]);
    problems.extend(stored);
    let n = counts(creates.iter());
    let window = counts(
        creates
            .iter()
            .filter(|k| k.end > r.sent && k.start < r.ready),
    );
    println!(
        "faults: {h} kube-apiserver restarted: {} ({} refused at the client, {} by the API server itself); from the stop to readiness: {}; \
         gone {} ms after SIGTERM ({}), started again at {} ms, ready {} ms later: down {} ms; first create admitted again {} ms after its readiness; \
         the refusals: {words:?}; {objects} objects stored; webhook RSS {} MiB before, {} MiB after",
        summary(n),
        at_client,
        by_api_server,
        summary(window),
        ms(r.gone - r.sent),
        if r.killed {
            "killed after the grace period"
        } else {
            "exited"
        },
        ms(r.started - r.sent),
        ms(r.ready - r.started),
        ms(r.ready - r.sent),
        recovery.map_or("-".into(), |t| t.to_string()),
        mib(r.rss_before),
        mib(r.rss_after)
    );
    failures.extend(
        problems
            .into_iter()
            .map(|e| format!("{h}: kube-apiserver: {e}")),
    );
    format!(
        "| {h} | kube-apiserver restarted | {} | {} | {} | {} | {at_client} / {by_api_server} | {} | {} | {} | {} → {} |",
        n[0],
        n[1],
        n[2],
        n[3],
        ms(r.ready - r.sent),
        ms(r.ready - r.started),
        recovery.map_or("-".into(), |t| t.to_string()),
        mib(r.rss_before),
        mib(r.rss_after)
    )
}

/// Each host in turn (policy-server, Spin, the native server) behind kube-apiserver, under
/// load: kube-apiserver alone stopped (SIGTERM), held down 2 s and started again with the same
/// command (etcd, the controllers and the webhook host left running). While it is down, creates
/// fail at the client (the connection refused); while it starts, it refuses them itself (a
/// status that is not a success) or fails closed; none is admitted unchecked; once it answers
/// /readyz, creates go through the webhook again within 5 s; every other create classified; no
/// stored object breaks the settings; the webhook's memory back to its level; no process left.
#[test]
fn api_server_restarted() {
    each_host(
        "faults-api-server",
        "| host | fault | creates | admitted | refused by the policy | failed closed | refused at the client / by the API server | down, SIGTERM to ready (ms) | start to ready (ms) | recovery after readiness (ms) | webhook RSS MiB before → after |",
        api_server_restart,
    );
}

// ---------------------------------------------------------------------------------------------
// Third stage: two replicas behind one Service; the long form (`make chaos`).
// ---------------------------------------------------------------------------------------------

/// Rounds of faults a load test runs (`FAULTS_ROUNDS`, default 1; `make chaos` sets more): the
/// kill test's SIGKILL and SIGTERM pairs, the replicas test's kills.
fn rounds() -> usize {
    std::env::var("FAULTS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1)
}

/// Load after a restarted process is ready, before the next fault (`FAULTS_AFTER_READY`
/// seconds; default [`AFTER_READY`]).
fn after_ready() -> Duration {
    std::env::var("FAULTS_AFTER_READY")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(AFTER_READY, Duration::from_secs)
}

/// The Service the native example's webhooks call (examples/native/webhooks.yaml), and its
/// namespace, which its webhooks leave out.
const SERVICE: &str = "resource-limits";
const SERVICE_NS: &str = "resource-limits";
/// How long a killed replica's endpoint stays in the EndpointSlice (nothing here removes it: no
/// kubelet, no endpoints controller), before the test removes it as the endpoints controller
/// would once the kubelet reports the Pod not ready.
const LEFT_IN: Duration = Duration::from_secs(5);
/// Load after the dead endpoint is removed, before the replica is started again.
const AFTER_REMOVAL: Duration = Duration::from_secs(3);
/// After an EndpointSlice changes, the API server's informer has it within this (a create
/// started later resolves with it).
const SLICE_PROPAGATION: Duration = Duration::from_secs(1);

/// One native server process of the two behind the Service: its loopback address, the name
/// the API server resolves for it, and the process (its own process group).
struct Replica {
    name: &'static str,
    ip: &'static str,
    fqdn: &'static str,
    command: Vec<String>,
    log: PathBuf,
    child: Option<std::process::Child>,
}

impl Replica {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("{}: {e}", self.log.display()));
        let err = log.try_clone().expect("the replica's log");
        let child = Command::new(&self.command[0])
            .args(&self.command[1..])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        self.child = Some(child);
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, std::process::Child::id)
    }

    /// Sends `signal` to its process group and waits for it to be gone: false when it is not
    /// within 30 s.
    fn stop(&mut self, signal: &str) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let pid = child.id();
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        let gone = wait_gone(pid, Instant::now(), Duration::from_secs(30)).is_some();
        let _ = child.wait();
        gone
    }

    fn url(&self, port: u16, path: &str) -> String {
        format!("https://{}:{port}{path}", self.ip)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.stop("KILL");
    }
}

/// The reviews a native server answered, from its /metrics (`resource_limits_reviews_total`,
/// summed over paths and verdicts); `None` when it does not answer.
fn reviews_served(ca: &Path, url: &str) -> Option<f64> {
    let out = run(
        Command::new("curl")
            .args(["-fsS", "--max-time", "2", "--cacert"])
            .arg(ca)
            .arg(url),
        None,
    )
    .ok()?;
    let text = String::from_utf8_lossy(&out);
    Some(
        text.lines()
            .filter(|l| l.starts_with("resource_limits_reviews_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum(),
    )
}

/// The EndpointSlice of the Service with the endpoints of `replicas` (FQDN addresses: the API
/// server refuses loopback IPs in an EndpointSlice).
fn endpoint_slice(port: u16, replicas: &[&Replica]) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{SERVICE}-replicas"), "namespace": SERVICE_NS,
            "labels": {"kubernetes.io/service-name": SERVICE}},
        "addressType": "FQDN",
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        "endpoints": replicas.iter().map(|r| json!({
            "addresses": [r.fqdn], "conditions": {"ready": true}
        })).collect::<Vec<_>>(),
    })
}

fn apply_json(c: &Cluster, object: &Value) -> Result<(), String> {
    let out = c.kubectl_with(&["apply", "-f", "-"], Some(&object.to_string()));
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "kubectl apply: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A serving certificate for the Service's name as the API server checks it
/// (`SERVICE.SERVICE_NS.svc`) and the replicas' loopback addresses, signed by the cluster's CA:
/// the certificate and key files.
fn service_certificate(c: &Cluster, dir: &Path) -> (PathBuf, PathBuf) {
    issue_certificate(
        c,
        dir,
        "tls",
        "serverAuth",
        &format!("DNS:{SERVICE}.{SERVICE_NS}.svc,IP:127.0.0.2,IP:127.0.0.3"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A port free on both replicas' addresses.
fn port_free_on_both() -> u16 {
    for _ in 0..50 {
        let Ok(a) = TcpListener::bind("127.0.0.2:0") else {
            continue;
        };
        let Ok(port) = a.local_addr().map(|a| a.port()) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.3", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free on both 127.0.0.2 and 127.0.0.3");
}

/// One kill of a replica under load, for the figures.
struct ReplicaKill {
    victim: &'static str,
    killed: Duration,
    removed: Duration,
    restarted: Duration,
    ready: Duration,
    readded: Duration,
    /// Reviews each replica answered (a, b): in the second before the kill, while the dead
    /// endpoint was left in, after its removal, after the restarted replica was added back
    /// (`None` for the killed one while it is down).
    served: [(Option<f64>, Option<f64>); 4],
}

/// Two native servers (127.0.0.2 and 127.0.0.3, one port) behind the Service
/// examples/native/webhooks.yaml calls (`resource-limits/resource-limits`, no selector) and an
/// EndpointSlice the test writes, kube-apiserver restarted with `--enable-aggregator-routing`
/// (without it, it calls the Service's ClusterIP, which only kube-proxy routes; there is none
/// here) and resolving the endpoints' names through a hosts file of its own. Under load, the
/// replica the API server calls is killed (SIGKILL) and its endpoint left in the slice for 5 s,
/// then removed (what the endpoints controller does once the kubelet reports the Pod not ready),
/// then the replica started again and added back. Every create classified; while the dead
/// endpoint is in, creates are admitted again (the API server moves on to the other replica);
/// none fails closed once it is removed; no stored object breaks the settings; no process left.
#[test]
fn replicas_one_killed_under_load() {
    let _serial = serial();
    let c = Cluster::up("faults-replicas");
    let settings = settings();
    let ns = "replicas-native".to_owned();
    let dir = c.scratch().path("replicas");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));

    // The shipped native server, as webhook.sh builds and starts it (its path from the command
    // it writes down); that host is then removed.
    c.webhook_with(
        Some(Host::Native),
        &settings_file(),
        &[("RESTARTABLE", Path::new("1"))],
    );
    let command = std::fs::read(c.webhook_dir().join("command")).expect("webhook/command");
    let server = command
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .find(|a| a.ends_with("/resource-limits"))
        .expect("the native server in webhook/command");
    c.webhook(None, &settings_file());

    // kube-apiserver resolving a webhook's Service through its EndpointSlices, the replicas'
    // names through its own hosts file.
    let mut replicas = [
        Replica {
            name: "a",
            ip: "127.0.0.2",
            fqdn: "replica-a.resource-limits.test",
            command: Vec::new(),
            log: dir.join("replica-a.log"),
            child: None,
        },
        Replica {
            name: "b",
            ip: "127.0.0.3",
            fqdn: "replica-b.resource-limits.test",
            command: Vec::new(),
            log: dir.join("replica-b.log"),
            child: None,
        },
    ];
    let hosts = dir.join("hosts");
    let mut text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    for r in &replicas {
        text.push_str(&format!("\n{} {}\n", r.ip, r.fqdn));
    }
    std::fs::write(&hosts, text).unwrap_or_else(|e| panic!("{}: {e}", hosts.display()));
    c.restart_api_server_with(
        &["--enable-aggregator-routing=true"],
        Some(&hosts),
        API_SERVER_START,
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let (crt, key) = service_certificate(&c, &dir.join("tls"));
    let port = port_free_on_both();
    for r in &mut replicas {
        let listen = format!("{}:{port}", r.ip);
        r.command = [
            server.as_str(),
            "serve",
            "--settings",
            &settings_file().to_string_lossy(),
            "--tls-cert-file",
            &crt.to_string_lossy(),
            "--tls-private-key-file",
            &key.to_string_lossy(),
            "--listen",
            &listen,
            "--shutdown-delay",
            "0s",
            "--shutdown-timeout",
            "3s",
            "--log-format",
            "text",
        ]
        .map(str::to_owned)
        .to_vec();
        r.start();
    }
    let ca = c.ca();
    let ready = |r: &Replica| {
        run(
            Command::new("curl")
                .args(["-fsS", "-o", "/dev/null", "--max-time", "1", "--cacert"])
                .arg(&ca)
                .arg(r.url(port, "/readyz")),
            None,
        )
        .is_ok()
    };
    for r in &replicas {
        c.eventually(
            &format!("replica {} ready", r.name),
            Duration::from_secs(30),
            || ready(r).then_some(()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    // The Service (no selector: nothing here would fill its endpoints), its EndpointSlice, and
    // the example's webhook configurations as shipped, with the CA cert-manager would inject.
    namespace(&c, SERVICE_NS, None);
    apply_json(
        &c,
        &json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SERVICE, "namespace": SERVICE_NS},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]}}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    apply_json(&c, &endpoint_slice(port, &[&replicas[0], &replicas[1]]))
        .unwrap_or_else(|e| panic!("{e}"));
    let example = repo_root().join("examples/native/webhooks.yaml");
    let configs = c.kubectl_ok(&[
        "create",
        "--dry-run=client",
        "-o",
        "json",
        "-f",
        &example.to_string_lossy(),
    ]);
    // One JSON document a configuration.
    let mut configs: Vec<Value> = serde_json::Deserializer::from_str(&configs)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("the example as JSON");
    let ca_bundle = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        std::fs::read(&ca).expect("the CA"),
    );
    let mut names = Vec::new();
    for config in &mut configs {
        for hook in config["webhooks"].as_array_mut().into_iter().flatten() {
            assert_eq!(
                hook["clientConfig"]["service"]["name"], SERVICE,
                "the example's webhooks call the Service"
            );
            hook["clientConfig"]["caBundle"] = json!(ca_bundle);
            names.extend(hook["name"].as_str().map(str::to_owned));
        }
    }
    assert_eq!(configs.len(), 2, "the example's two configurations");
    for config in &configs {
        apply_json(&c, config).unwrap_or_else(|e| panic!("{e}"));
    }
    namespace(&c, &ns, None);
    let host = Host::Native;
    let expect = Expect {
        names,
        policy_webhook: host.webhook_name(),
        verdicts: Kind::ALL
            .iter()
            .map(|k| create_verdict(&settings, &k.deployment(&ns, "probe")))
            .collect(),
        settings: settings.clone(),
    };
    wait_in_force(&c, host, &expect, &ns);

    // Reviews each replica answered, from its /metrics (`None`: it does not answer).
    let served = |rs: &[Replica; 2]| {
        let one = |r: &Replica| reviews_served(&ca, &r.url(port, "/metrics"));
        (one(&rs[0]), one(&rs[1]))
    };
    // Reviews answered between two readings (`None` where a replica was down at either).
    let diff = |a: (Option<f64>, Option<f64>), b: (Option<f64>, Option<f64>)| {
        let d = |x: Option<f64>, y: Option<f64>| Some(y? - x?);
        (d(a.0, b.0), d(a.1, b.1))
    };
    let n_rounds = rounds();
    let hold = after_ready();
    let replicas = Mutex::new(replicas);
    let (creates, kills) = under_load(&c, &ns, &expect, |t0| {
        let mut kills = Vec::new();
        let mut problems = Vec::new();
        std::thread::sleep(WARM_UP);
        for _ in 0..n_rounds {
            let mut rs = replicas.lock().expect("the replicas");
            // The replica the API server calls now: the one whose count grew over the last
            // second (its connections are the ones the kill breaks).
            let s0 = served(&rs);
            std::thread::sleep(Duration::from_secs(1));
            let s1 = served(&rs);
            let (da, db) = diff(s0, s1);
            let v = usize::from(db.unwrap_or(0.0) > da.unwrap_or(0.0));
            let killed = t0.elapsed();
            if !rs[v].stop("KILL") {
                problems.push(format!("replica {} still runs after SIGKILL", rs[v].name));
            }
            std::thread::sleep(LEFT_IN);
            let s2 = served(&rs);
            let removed = t0.elapsed();
            if let Err(e) = apply_json(&c, &endpoint_slice(port, &[&rs[1 - v]])) {
                problems.push(e);
            }
            std::thread::sleep(AFTER_REMOVAL);
            let s3 = served(&rs);
            let restarted = t0.elapsed();
            rs[v].start();
            let deadline = Instant::now() + Duration::from_secs(30);
            while !ready(&rs[v]) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let ready_at = t0.elapsed();
            let s4 = served(&rs);
            if let Err(e) = apply_json(&c, &endpoint_slice(port, &[&rs[0], &rs[1]])) {
                problems.push(e);
            }
            let readded = t0.elapsed();
            std::thread::sleep(hold);
            let s5 = served(&rs);
            kills.push(ReplicaKill {
                victim: rs[v].name,
                killed,
                removed,
                restarted,
                ready: ready_at,
                readded,
                served: [diff(s0, s1), diff(s1, s2), diff(s2, s3), diff(s4, s5)],
            });
        }
        (kills, problems)
    });
    let (kills, mut failures) = kills;
    let mut replicas = replicas.into_inner().expect("the replicas");
    // The webhooks removed before the replicas stop: the controllers create nothing more
    // through them.
    let _ = c.kubectl(&[
        "delete",
        "-f",
        &example.to_string_lossy(),
        "--ignore-not-found",
    ]);
    for r in &mut replicas {
        let pid = r.pid();
        if !r.stop("TERM") {
            failures.push(format!(
                "replica {} still runs 30 s after SIGTERM: {:?}",
                r.name,
                process_group(pid)
            ));
        }
    }
    failures.extend(unclassified(&creates));
    let first_kill = kills.first().map_or(Duration::MAX, |k| k.killed);
    let early = creates
        .iter()
        .filter(|k| k.end < first_kill && k.outcome == Outcome::FailedClosed)
        .count();
    if early > 0 {
        failures.push(format!(
            "{early} creates failed closed before the first kill, both replicas up"
        ));
    }
    println!(
        "| kill | victim | creates, dead endpoint left in ({} s) | failed closed | last failed closed (ms after the kill) | creates after its removal | failed closed | after it was added back | failed closed | reviews a/b: the second before, left in, removed, added back |",
        LEFT_IN.as_secs()
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (i, k) in kills.iter().enumerate() {
        let next = kills.get(i + 1).map_or(Duration::MAX, |n| n.killed);
        let left_in: Vec<&Create> = creates
            .iter()
            .filter(|x| x.end > k.killed && x.start < k.removed)
            .collect();
        let after_removal: Vec<&Create> = creates
            .iter()
            .filter(|x| x.start >= k.removed + SLICE_PROPAGATION && x.start < k.readded)
            .collect();
        let back: Vec<&Create> = creates
            .iter()
            .filter(|x| x.start >= k.readded && x.end <= next)
            .collect();
        let (l, a, b) = (
            counts(left_in.iter().copied()),
            counts(after_removal.iter().copied()),
            counts(back.iter().copied()),
        );
        let last_closed = left_in
            .iter()
            .filter(|x| x.outcome == Outcome::FailedClosed)
            .map(|x| signed_ms(k.killed, x.start))
            .max();
        let moved_on = left_in
            .iter()
            .filter(|x| x.start > k.killed && x.outcome == Outcome::Admitted)
            .map(|x| signed_ms(k.killed, x.end))
            .min();
        let words: BTreeSet<String> = left_in
            .iter()
            .filter(|x| x.outcome == Outcome::FailedClosed)
            .map(|x| {
                x.message
                    .rsplit(": ")
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" <- ")
            })
            .collect();
        let s = |p: (Option<f64>, Option<f64>)| {
            let one = |x: Option<f64>| x.map_or("down".to_owned(), |n| n.to_string());
            format!("{}/{}", one(p.0), one(p.1))
        };
        println!(
            "faults: replicas: kill {} of replica {}: with the dead endpoint left in {}; first create admitted again {} ms after the kill, the last that failed closed started {} ms after it ({words:?}); \
             after its removal (from {} ms on) {}; the replica started again {} ms after the kill, ready {} ms later, added back; after: {}; reviews answered by a/b (the second before the kill, left in, removed, added back): {}",
            i + 1,
            k.victim,
            summary(l),
            moved_on.map_or("-".into(), |t| t.to_string()),
            last_closed.map_or("-".into(), |t| t.to_string()),
            ms(SLICE_PROPAGATION),
            summary(a),
            ms(k.restarted - k.killed),
            ms(k.ready - k.restarted),
            summary(b),
            k.served.map(s).join(", ")
        );
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            k.victim,
            l[0],
            l[3],
            last_closed.map_or("-".into(), |t| t.to_string()),
            a[0],
            a[3],
            b[0],
            b[3],
            k.served.map(s).join(", ")
        );
        if moved_on.is_none() {
            failures.push(format!(
                "kill {}: no create admitted while the dead endpoint was in the slice: the API server did not move on to the other replica",
                i + 1
            ));
        }
        if a[3] > 0 {
            failures.push(format!(
                "kill {}: {} creates failed closed after the dead endpoint was removed",
                i + 1,
                a[3]
            ));
        }
        if b[3] > 0 {
            failures.push(format!(
                "kill {}: {} creates failed closed after the restarted replica was added back",
                i + 1,
                b[3]
            ));
        }
        if a[1] == 0 || b[1] == 0 {
            failures.push(format!(
                "kill {}: no create admitted after the removal ({}) or after the replica was added back ({})",
                i + 1,
                a[1],
                b[1]
            ));
        }
    }
    if kills.len() != n_rounds {
        failures.push(format!("{} of {n_rounds} kills ran", kills.len()));
    }
    let (problems, objects) = check_stored(&c, &ns, &creates, &|_| vec![&settings]);
    failures.extend(problems);
    let n = counts(creates.iter());
    println!(
        "faults: replicas: {}; {objects} objects stored, each checked against the settings",
        summary(n)
    );
    assert_no_failures(&failures);
}

/// The mixed load's objects, without a control plane: for every kind the core checks, the one
/// within the bounds admitted as it is, the one over them refused, the one without resources
/// given the defaults (on a create and on an update alike, but for a Pod's update, which the
/// core skips); each update's merge patch makes the object of the new kind.
#[test]
fn mixed_load_objects() {
    let settings = settings();
    for w in Workload::ALL {
        for kind in Kind::ALL {
            let object = w.object("mixed", "probe", kind.resources());
            assert_eq!(
                container_resources(&object),
                vec![kind.resources()],
                "{w:?}"
            );
            for op in [Op::Create, Op::Update] {
                if w == Workload::Pod && op == Op::Update {
                    continue;
                }
                let v = judge(
                    &settings,
                    review_request(op, &object).to_string().as_bytes(),
                );
                let as_expected = match kind {
                    Kind::Fits => matches!(v, Verdict::Accepted(None, _)),
                    Kind::Over => !v.allowed(),
                    Kind::Bare => v.allowed() && v.mutation().is_some(),
                };
                assert!(as_expected, "{op:?} {w:?} {kind:?}: {v:?}");
            }
            for from in Kind::ALL {
                let mut updated = w.object("mixed", "probe", from.resources());
                json_patch_merge(&mut updated, &w.patch(kind.resources()));
                assert_eq!(updated, object, "{w:?} from {from:?} to {kind:?}");
            }
        }
    }
}

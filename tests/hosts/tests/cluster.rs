//! The policy behind a real Kubernetes control plane (kube-apiserver and
//! kube-controller-manager of scripts/cluster/versions.env), through each host as users wire
//! it: policy-server registered as kubewarden-controller registers it, `spin up` registered by
//! examples/spinkube/webhooks.yaml, and `resource-limits serve` (the native server) registered
//! by examples/native/webhooks.yaml. Each host's test starts its own control plane (`make
//! cluster-up`'s scripts) and runs every scenario through that host, switching its settings
//! with `scripts/cluster/webhook.sh`; every host's test runs the same scenarios.

use host_tests::certs::{certificate_id, issue_webhook_certificate, run, served_certificate};
use host_tests::cluster::{
    admitted_as, denial_message, template_resources, without_server_fields, Cluster, Host,
};
use host_tests::judge;
use host_tests::{examples, repo_root};
use resource_limits::{Settings, Verdict};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A failure of one scenario, kept so that the others still run.
type Failures = Vec<String>;

fn settings_file(name: &str) -> PathBuf {
    repo_root().join("examples/settings").join(name)
}

/// The object as the API server would store it without any webhook: a server-side dry run in
/// kube-system, which both webhook configurations leave out.
fn stored_without_webhook(c: &Cluster, object: &Value) -> Result<Value, String> {
    let mut o = object.clone();
    o["metadata"]["namespace"] = json!("kube-system");
    let out = c.kubectl_with(
        &["create", "--dry-run=server", "-o", "json", "-f", "-"],
        Some(&o.to_string()),
    );
    if !out.status.success() {
        return Err(format!(
            "dry run in kube-system: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("dry run output: {e}"))
}

/// Creates the example's object in its own namespace through the API server and checks the
/// outcome against the core's verdict: a denial carrying the core's message, the object
/// stored unchanged, or stored with exactly the core's additions.
fn check_example(
    c: &Cluster,
    host: Host,
    ns: &str,
    settings: &Path,
    request: &Path,
) -> Result<&'static str, String> {
    let parsed = Settings::from_json(&std::fs::read(settings).map_err(|e| e.to_string())?)
        .map_err(|e| format!("settings: {e:?}"))?;
    let request_json = std::fs::read(request).map_err(|e| e.to_string())?;
    let want: Verdict = judge(&parsed, &request_json);
    let req: Value = serde_json::from_slice(&request_json).map_err(|e| e.to_string())?;
    let mut object = req["object"].clone();
    object["metadata"]["namespace"] = json!(ns);
    c.kubectl_ok(&["create", "namespace", ns]);
    let out = c.kubectl_with(
        &["create", "-o", "json", "-f", "-"],
        Some(&object.to_string()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // The core's warnings reach the user: the host puts them in its answer, the API server
    // sends them as Warning headers, kubectl prints each as `Warning: ...`.
    for w in want.admission_warnings() {
        if !stderr.contains(&format!("Warning: {w}")) {
            return Err(format!(
                "kubectl printed no warning\n  {w}\ngot\n  {stderr}"
            ));
        }
        WARNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if !want.allowed() {
        let message = want.message().unwrap_or_default();
        let expected = format!(
            "admission webhook \"{}\" denied the request: {message}",
            host.webhook_name()
        );
        return match (out.status.success(), stderr.contains(&expected)) {
            (false, true) => Ok("denied"),
            (false, false) => Err(format!(
                "denied, but not with\n  {expected}\ngot\n  {stderr}"
            )),
            (true, _) => Err(format!("admitted; the core rejects it: {message}")),
        };
    }
    if !out.status.success() {
        return Err(format!("refused; the core accepts it: {stderr}"));
    }
    let stored: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let (expected, outcome) = match want.mutation() {
        Some(m) => (m.object().expect("the mutated object is JSON"), "mutated"),
        None => (req["object"].clone(), "admitted"),
    };
    let reference = stored_without_webhook(c, &expected)?;
    if without_server_fields(stored.clone()) != without_server_fields(reference.clone()) {
        return Err(format!(
            "{outcome}, but stored as\n  {}\nnot as the core's object would be\n  {}",
            without_server_fields(stored),
            without_server_fields(reference)
        ));
    }
    Ok(outcome)
}

/// How many of the core's warnings kubectl was seen to print (so that the check above is
/// known to have run).
static WARNED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Every example of examples/examples.txt that creates an object, through the API server.
fn examples_through_the_api_server(c: &Cluster, host: Host, failures: &mut Failures) {
    let mut by_settings: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    for (settings, request) in examples() {
        match by_settings.iter_mut().find(|(s, _)| *s == settings) {
            Some((_, requests)) => requests.push(request),
            None => by_settings.push((settings, vec![request])),
        }
    }
    let mut seen = Vec::new();
    for (i, (settings, requests)) in by_settings.iter().enumerate() {
        c.webhook(Some(host), settings);
        for (j, request) in requests.iter().enumerate() {
            let req: Value = serde_json::from_slice(&std::fs::read(request).unwrap_or_default())
                .unwrap_or_default();
            if req["operation"] != "CREATE" || req["subResource"].is_string() {
                continue; // updates have their own scenarios
            }
            let ns = format!("ex-{}-{i}-{j}", host.name());
            match check_example(c, host, &ns, settings, request) {
                Ok(outcome) => seen.push(outcome),
                Err(e) => failures.push(format!(
                    "{}: {} with {}: {e}",
                    host.name(),
                    request.display(),
                    settings.display()
                )),
            }
        }
    }
    if WARNED.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        failures.push(format!(
            "{}: no example gave a warning to check",
            host.name()
        ));
    }
    for outcome in ["denied", "admitted", "mutated"] {
        if !seen.contains(&outcome) {
            failures.push(format!(
                "{}: no example was {outcome}: {seen:?}",
                host.name()
            ));
        }
    }
}

/// A Deployment the policy admits gets its ReplicaSet and its Pods (admitted, no FailedCreate),
/// and keeps one ReplicaSet.
fn deployment_rolls_out(c: &Cluster, host: Host, failures: &mut Failures) {
    let ns = format!("rollout-{}", host.name());
    c.webhook(Some(host), &settings_file("bounded.json"));
    c.kubectl_ok(&["create", "namespace", &ns]);
    let deployment = deployment(&ns, "web", 2, json!({}));
    let out = c.kubectl_with(&["create", "-f", "-"], Some(&deployment.to_string()));
    if !out.status.success() {
        failures.push(format!(
            "{}: the Deployment was refused: {}",
            host.name(),
            String::from_utf8_lossy(&out.stderr)
        ));
        return;
    }
    if let Err(e) = pods_ready_to_schedule(c, &ns, "web", 2) {
        failures.push(format!("{}: {e}", host.name()));
    }
    let sets = c.get(&["replicasets", "-n", &ns]);
    let n = sets["items"].as_array().map_or(0, Vec::len);
    if n != 1 {
        failures.push(format!(
            "{}: {n} ReplicaSets for one Deployment",
            host.name()
        ));
    }
}

/// A Deployment of `replicas` nginx containers with `resources` (`{}`: none).
fn deployment(ns: &str, name: &str, replicas: u32, resources: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "resources": resources}]}
            }
        }
    })
}

/// Waits for `n` Pods of the app (Pending: there is no scheduler), then checks that no
/// FailedCreate event was recorded in the namespace.
fn pods_ready_to_schedule(c: &Cluster, ns: &str, app: &str, n: usize) -> Result<(), String> {
    let selector = format!("app={app}");
    c.eventually(
        &format!("{n} Pods of {app}"),
        Duration::from_secs(60),
        || {
            let pods = c.get(&["pods", "-n", ns, "-l", &selector]);
            (pods["items"].as_array().map_or(0, Vec::len) >= n).then_some(())
        },
    )?;
    failed_creates(c, ns)
}

fn failed_creates(c: &Cluster, ns: &str) -> Result<(), String> {
    let events = c.get(&[
        "events",
        "-n",
        ns,
        "--field-selector",
        "reason=FailedCreate",
    ]);
    match events["items"].as_array() {
        Some(items) if !items.is_empty() => Err(format!(
            "FailedCreate: {}",
            items
                .iter()
                .map(|e| e["message"].as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("; ")
        )),
        _ => Ok(()),
    }
}

/// A Deployment created while no webhook ran (no defaults in its template), then scaled and
/// rolled out with the webhook adding defaults: the Deployment controller must not see a hash
/// collision and make ReplicaSet after ReplicaSet.
fn no_replicaset_chain(c: &Cluster, host: Host, failures: &mut Failures) {
    let ns = format!("chain-{}", host.name());
    c.webhook(None, &settings_file("bounded.json"));
    c.kubectl_ok(&["create", "namespace", &ns]);
    let d = deployment(&ns, "old", 1, json!({}));
    c.kubectl_with(&["create", "-f", "-"], Some(&d.to_string()));
    if let Err(e) = pods_ready_to_schedule(c, &ns, "old", 1) {
        failures.push(format!("{}: before the webhook: {e}", host.name()));
        return;
    }
    c.webhook(Some(host), &settings_file("bounded.json"));
    c.kubectl_ok(&["scale", "deployment/old", "-n", &ns, "--replicas", "3"]);
    if let Err(e) = pods_ready_to_schedule(c, &ns, "old", 3) {
        failures.push(format!("{}: after scaling: {e}", host.name()));
    }
    // A rollout: one new ReplicaSet, no more, however long the controller runs.
    c.kubectl_ok(&[
        "patch",
        "deployment/old",
        "-n",
        &ns,
        "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"rollout":"2"}}}}}"#,
    ]);
    std::thread::sleep(Duration::from_secs(5));
    let sets = c.get(&["replicasets", "-n", &ns]);
    let n = sets["items"].as_array().map_or(0, Vec::len);
    if n != 2 {
        let names: Vec<&str> = sets["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["metadata"]["name"].as_str())
            .collect();
        failures.push(format!(
            "{}: {n} ReplicaSets after one rollout (want 2): {names:?}",
            host.name()
        ));
    }
    let d = c.get(&["deployment/old", "-n", &ns]);
    if let Some(collisions) = d["status"]["collisionCount"].as_u64() {
        failures.push(format!(
            "{}: the Deployment controller counted {collisions} hash collisions",
            host.name()
        ));
    }
}

/// A Deployment created before the policy that breaks its bounds, then scaled with the policy
/// present: the ReplicaSet scales (the controller's update is not refused), and its new Pods
/// are refused with the policy's message (FailedCreate). Its template then fixed: the rollout
/// completes, the old ReplicaSet scaled down to 0 and the new Pods admitted.
fn old_deployment_beyond_the_bounds(c: &Cluster, host: Host, failures: &mut Failures) {
    let ns = format!("beyond-{}", host.name());
    c.webhook(None, &settings_file("bounded.json"));
    c.kubectl_ok(&["create", "namespace", &ns]);
    let big = json!({"limits": {"cpu": "8", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "256Mi"}});
    let mut d = deployment(&ns, "big", 1, big);
    // Recreate: the rollout scales the old ReplicaSet to 0 before it makes the new one (with
    // Pods that never turn Ready, a rolling update would never scale the old one down).
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    c.kubectl_with(&["create", "-f", "-"], Some(&d.to_string()));
    if let Err(e) = pods_ready_to_schedule(c, &ns, "big", 1) {
        failures.push(format!("{}: before the webhook: {e}", host.name()));
        return;
    }
    c.webhook(Some(host), &settings_file("bounded.json"));
    c.kubectl_ok(&["scale", "deployment/big", "-n", &ns, "--replicas", "3"]);
    let refused = c.eventually("a FailedCreate", Duration::from_secs(30), || {
        failed_creates(c, &ns).err()
    });
    match refused {
        Ok(e) if e.contains("cpu limit 8 exceeds maxLimit 4") => {}
        Ok(e) => failures.push(format!(
            "{}: Pods refused, but not for the limit: {e}",
            host.name()
        )),
        Err(e) => failures.push(format!(
            "{}: scaling beyond the bounds: {e} (the ReplicaSet: {})",
            host.name(),
            c.get(&["replicasets", "-n", &ns])["items"][0]["spec"]
        )),
    }
    // The fix: limits within the bounds. The new ReplicaSet's Pods are admitted and the old
    // ReplicaSet is scaled down to 0.
    let fix = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "resources": {
        "limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "256Mi"}}}]}}}});
    let out = c.kubectl(&["patch", "deployment/big", "-n", &ns, "-p", &fix.to_string()]);
    if !out.status.success() {
        failures.push(format!(
            "{}: the fixed Deployment was refused: {}",
            host.name(),
            String::from_utf8_lossy(&out.stderr)
        ));
        return;
    }
    let done = c.eventually("the rollout", Duration::from_secs(60), || {
        let sets = c.get(&["replicasets", "-n", &ns]);
        let items = sets["items"].as_array().cloned().unwrap_or_default();
        let replicas: Vec<u64> = items
            .iter()
            .map(|s| s["spec"]["replicas"].as_u64().unwrap_or(99))
            .collect();
        // Two ReplicaSets: the old one at 0, the new one at 3.
        (items.len() == 2 && replicas.contains(&0) && replicas.contains(&3)).then_some(())
    });
    if done.is_ok() {
        // The new ReplicaSet's Pods: 3, admitted (the old one's Pod is gone or going).
        let selector = "app=big";
        let admitted = c.eventually(
            "3 Pods of the fixed template",
            Duration::from_secs(60),
            || {
                let pods = c.get(&["pods", "-n", &ns, "-l", selector]);
                let n = pods["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "2")
                    .count();
                (n == 3).then_some(())
            },
        );
        if let Err(e) = admitted {
            failures.push(format!("{}: {e}", host.name()));
        }
    }
    if let Err(e) = done {
        failures.push(format!(
            "{}: {e}: {}",
            host.name(),
            c.kubectl_ok(&["get", "replicasets", "-n", &ns])
        ));
    }
}

/// A Node object, so that the DaemonSet controller has somewhere to put its Pods. No kubelet
/// runs, so the Node never turns Ready; the API server taints a new Node `not-ready`
/// (NoSchedule), which DaemonSet Pods do not tolerate, so the taint is taken off as the node
/// lifecycle controller would once a kubelet reports.
fn add_node(c: &Cluster) {
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}});
    let out = c.kubectl_with(&["apply", "-f", "-"], Some(&node.to_string()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.kubectl_ok(&[
        "taint",
        "node",
        "node-1",
        "node.kubernetes.io/not-ready:NoSchedule-",
    ]);
}

/// The pod template of the workload scenarios: one container without resources.
fn bare_template(app: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], "restartPolicy": "Always"}
    })
}

/// Every workload kind that makes Pods gets its defaults and makes its Pods, which are
/// admitted (no FailedCreate) and carry the defaults: StatefulSet, DaemonSet, Job, and a Job
/// made from a CronJob.
fn workloads_make_their_pods(c: &Cluster, host: Host, failures: &mut Failures) {
    let ns = format!("kinds-{}", host.name());
    c.webhook(Some(host), &settings_file("bounded.json"));
    c.kubectl_ok(&["create", "namespace", &ns]);
    let mut job_template = bare_template("job");
    job_template["spec"]["restartPolicy"] = json!("Never");
    let mut cron_template = bare_template("cron");
    cron_template["spec"]["restartPolicy"] = json!("Never");
    let objects = [
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "sts"},
               "spec": {"replicas": 1, "serviceName": "sts", "selector": {"matchLabels": {"app": "sts"}},
                        "template": bare_template("sts")}}),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
               "spec": {"selector": {"matchLabels": {"app": "ds"}}, "template": bare_template("ds")}}),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "job"},
               "spec": {"template": job_template}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cron"},
               "spec": {"schedule": "0 0 1 1 *", "jobTemplate": {"spec": {"template": cron_template}}}}),
    ];
    for o in &objects {
        let mut o = o.clone();
        o["metadata"]["namespace"] = json!(ns);
        let out = c.kubectl_with(&["create", "-f", "-"], Some(&o.to_string()));
        if !out.status.success() {
            failures.push(format!(
                "{}: {} refused: {}",
                host.name(),
                o["kind"],
                String::from_utf8_lossy(&out.stderr)
            ));
            return;
        }
    }
    let out = c.kubectl(&[
        "create",
        "job",
        "from-cron",
        "--from=cronjob/cron",
        "-n",
        &ns,
    ]);
    if !out.status.success() {
        failures.push(format!(
            "{}: kubectl create job --from=cronjob/cron: {}",
            host.name(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    for app in ["sts", "ds", "job", "cron"] {
        if let Err(e) = pods_ready_to_schedule(c, &ns, app, 1) {
            failures.push(format!("{}: {app}: {e}", host.name()));
            continue;
        }
        let pods = c.get(&["pods", "-n", &ns, "-l", &format!("app={app}")]);
        for pod in pods["items"].as_array().into_iter().flatten() {
            let got = &pod["spec"]["containers"][0]["resources"];
            let want = json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "128Mi"}});
            if *got != want {
                failures.push(format!(
                    "{}: a Pod of {app} has resources {got}, not the defaults {want}",
                    host.name()
                ));
            }
        }
    }
}

/// In-place resize (`pods/resize`) inside and outside the bounds, an update of a Pod's labels,
/// a server-side dry run without side effects, and the webhook gone under
/// `failurePolicy: Fail`.
fn updates_dry_runs_and_failure(c: &Cluster, host: Host, failures: &mut Failures) {
    let ns = format!("updates-{}", host.name());
    c.webhook(Some(host), &settings_file("bounded.json"));
    c.kubectl_ok(&["create", "namespace", &ns]);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ns},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "resources": {
            "requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}}]}});
    let out = c.kubectl_with(&["create", "-f", "-"], Some(&pod.to_string()));
    if !out.status.success() {
        failures.push(format!(
            "{}: the resize Pod was refused: {}",
            host.name(),
            String::from_utf8_lossy(&out.stderr)
        ));
        return;
    }
    let resize = |cpu: &str| {
        let patch = json!({"spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": cpu}}}]}});
        c.kubectl(&[
            "patch",
            "pod",
            "p",
            "-n",
            &ns,
            "--subresource",
            "resize",
            "-p",
            &patch.to_string(),
        ])
    };
    let inside = resize("2");
    if !inside.status.success() {
        failures.push(format!(
            "{}: a resize within the bounds was refused: {}",
            host.name(),
            String::from_utf8_lossy(&inside.stderr)
        ));
    }
    let outside = resize("8");
    let stderr = String::from_utf8_lossy(&outside.stderr);
    let expected = format!(
        "admission webhook \"{}\" denied the request: spec.containers[0] \"app\": cpu limit 8 exceeds maxLimit 4",
        host.webhook_name()
    );
    if outside.status.success() || !stderr.contains(&expected) {
        failures.push(format!(
            "{}: a resize beyond maxLimit: want\n  {expected}\ngot ({})\n  {stderr}",
            host.name(),
            outside.status
        ));
    }
    let label = c.kubectl(&["label", "pod", "p", "-n", &ns, "team=web"]);
    if !label.status.success() {
        failures.push(format!(
            "{}: a label update was refused: {}",
            host.name(),
            String::from_utf8_lossy(&label.stderr)
        ));
    }
    // A server-side dry run: answered (mutated) by the webhook, nothing stored.
    let d = deployment(&ns, "dry", 1, json!({}));
    let out = c.kubectl_with(
        &["create", "--dry-run=server", "-o", "json", "-f", "-"],
        Some(&d.to_string()),
    );
    let answered: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    if !out.status.success()
        || answered["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"]
            != "1"
    {
        failures.push(format!(
            "{}: the dry run was not mutated: {} {}",
            host.name(),
            answered,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if c.kubectl(&["get", "deployment", "dry", "-n", &ns])
        .status
        .success()
    {
        failures.push(format!(
            "{}: the dry run stored the Deployment",
            host.name()
        ));
    }
    // The webhook gone, its configuration left: failurePolicy Fail refuses, naming it.
    c.kill_webhook_process();
    let out = c.kubectl_with(
        &["create", "-f", "-"],
        Some(&deployment(&ns, "gone", 1, json!({})).to_string()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("failed calling webhook \"{}\"", host.webhook_name());
    if out.status.success() || !stderr.contains(&expected) {
        failures.push(format!(
            "{}: with the webhook down: want a refusal with {expected}, got ({}) {stderr}",
            host.name(),
            out.status
        ));
    }
    c.webhook(None, &settings_file("bounded.json"));
}

/// Another mutating webhook (a sidecar injector) appends a container without resources after
/// the policy's. Spin's and the native server's mutating webhooks say `reinvocationPolicy:
/// IfNeeded`, so the API server calls them again and the injected container gets its defaults. Kubewarden registers its
/// policies without reinvocation, so there the validating twin
/// (examples/cluster-admission-policy-validating.yaml, the settings without the defaults)
/// refuses the Pod with the policy's own message naming the injected container: never a Pod
/// admitted with a container that escaped the policy, never an internal error.
fn injected_sidecar(c: &Cluster, host: Host, failures: &mut Failures) {
    let ns = format!("inject-{}", host.name());
    c.webhook(Some(host), &settings_file("bounded.json"));
    c.kubectl_ok(&["create", "namespace", &ns]);
    c.kubectl_ok(&["label", "namespace", &ns, "inject=enabled"]);
    let _injector = c.start_injector();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": ns},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}});
    let out = c.kubectl_with(&["create", "-o", "json", "-f", "-"], Some(&pod.to_string()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let defaults = json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "128Mi"}});
    match host {
        Host::Spin | Host::Native => {
            let stored: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let containers = stored["spec"]["containers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let names: Vec<&str> = containers
                .iter()
                .filter_map(|c| c["name"].as_str())
                .collect();
            if !out.status.success() || names != ["app", "injected-proxy"] {
                failures.push(format!(
                    "{}: want the Pod with the injected container, got {names:?} {stderr}",
                    host.name()
                ));
            }
            for c in &containers {
                if c["resources"] != defaults {
                    failures.push(format!(
                        "{}: container {} has {}, not the defaults (reinvocation)",
                        host.name(),
                        c["name"],
                        c["resources"]
                    ));
                }
            }
        }
        Host::Kubewarden => {
            // The twin's own message: the container, its path and what it lacks.
            let expected = [
                "admission webhook \"clusterwide-resource-limits-validating.kubewarden.admission\" denied the request",
                "spec.containers[1] \"injected-proxy\": cpu limit is missing",
                "spec.containers[1] \"injected-proxy\": memory limit is missing",
            ];
            if out.status.success()
                || expected.iter().any(|e| !stderr.contains(e))
                || stderr.contains("attempted to mutate")
            {
                failures.push(format!(
                    "kubewarden: want the validating twin's own denial\n  {expected:?}\ngot ({})\n  {stderr}",
                    out.status
                ));
            }
        }
    }
}

fn run_scenarios(host: Host) {
    let c = Cluster::up(host.name());
    let mut failures = Failures::new();
    examples_through_the_api_server(&c, host, &mut failures);
    deployment_rolls_out(&c, host, &mut failures);
    no_replicaset_chain(&c, host, &mut failures);
    old_deployment_beyond_the_bounds(&c, host, &mut failures);
    add_node(&c);
    workloads_make_their_pods(&c, host, &mut failures);
    injected_sidecar(&c, host, &mut failures);
    updates_dry_runs_and_failure(&c, host, &mut failures);
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n- {}\n--- {} log ---\n{}",
        failures.len(),
        failures.join("\n- "),
        host.name(),
        c.log(host.name())
    );
}

#[test]
fn kubewarden_behind_the_api_server() {
    run_scenarios(Host::Kubewarden);
}

#[test]
fn spin_behind_the_api_server() {
    run_scenarios(Host::Spin);
}

#[test]
fn native_behind_the_api_server() {
    run_scenarios(Host::Native);
}

/// A folder written as the kubelet writes a ConfigMap or Secret volume: each file a symbolic
/// link through `..data`, itself a link to the folder of the current version. A new version is
/// written into a folder of its own and `..data` swapped to it by one rename, so a reader sees
/// every file old or every file new, never a mix (the old version's folder is left in place).
struct VolumeFolder {
    dir: PathBuf,
    version: u32,
}

impl VolumeFolder {
    fn new(dir: PathBuf, files: &[(&str, &[u8])]) -> VolumeFolder {
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut folder = VolumeFolder { dir, version: 0 };
        folder.swap(files);
        for (name, _) in files {
            std::os::unix::fs::symlink(format!("..data/{name}"), folder.path(name))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        folder
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes a new version of the files and swaps `..data` to it.
    fn swap(&mut self, files: &[(&str, &[u8])]) {
        self.version += 1;
        let version = format!("..version-{}", self.version);
        let folder = self.dir.join(&version);
        std::fs::create_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
        for (name, bytes) in files {
            std::fs::write(folder.join(name), bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let link = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&version, &link).unwrap_or_else(|e| panic!("..data_tmp: {e}"));
        std::fs::rename(&link, self.dir.join("..data")).unwrap_or_else(|e| panic!("..data: {e}"));
    }
}

/// The webhook's `/metrics` (OpenMetrics text).
fn webhook_metrics(c: &Cluster) -> Result<String, String> {
    let out = run(
        Command::new("curl")
            .args(["-fsS", "--max-time", "10", "--cacert"])
            .arg(c.pki().join("ca.crt"))
            .arg(format!("{}/metrics", c.webhook_url())),
        None,
    )?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A sample's value in metrics text (0 when the series is not there yet).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// What the API server answered to a create: its HTTP status and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

/// Creates `object` (a Deployment) through the API server as a server-side dry run
/// (`dryRun=All`: admission runs, every webhook called, nothing stored), as the admin.
fn dry_run_create(c: &Cluster, api: &str, object: &Value) -> Result<Answer, String> {
    let ns = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let pki = c.pki();
    let out = run(
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "30",
                "-H",
                "Content-Type: application/json",
            ])
            .args(["--data-binary", "@-", "-w", "\n%{http_code}", "--cacert"])
            .arg(pki.join("ca.crt"))
            .arg("--cert")
            .arg(pki.join("admin.crt"))
            .arg("--key")
            .arg(pki.join("admin.key"))
            .arg(format!(
                "{api}/apis/apps/v1/namespaces/{ns}/deployments?dryRun=All"
            )),
        Some(object.to_string().as_bytes()),
    )?;
    let text = String::from_utf8_lossy(&out);
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    Ok(Answer {
        status: status
            .trim()
            .parse()
            .map_err(|_| format!("no status: {text}"))?,
        body: serde_json::from_str(body).map_err(|e| format!("{e}: {text}"))?,
    })
}

/// The core's verdict on creating `object` (a Deployment) with `settings`.
fn core_verdict(settings: &Settings, object: &Value) -> Verdict {
    let request = json!({
        "uid": "00000000-0000-0000-0000-000000000000",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "name": object["metadata"]["name"],
        "namespace": object["metadata"]["namespace"],
        "operation": "CREATE",
        "userInfo": {"username": "admin"},
        "object": object,
        "dryRun": true,
    });
    judge(settings, request.to_string().as_bytes())
}

/// Whether the API server's answer to creating `object` is the core's verdict `want`: a denial
/// by the policy's webhook with the core's message, word for word, or the object admitted with
/// exactly the resources the core leaves it with (its own, or with the defaults added).
fn is_verdict(host: Host, object: &Value, answer: &Answer, want: &Verdict) -> bool {
    if !want.allowed() {
        let expected = denial_message(host.webhook_name(), want);
        return (400..500).contains(&answer.status)
            && answer.body["message"].as_str() == Some(expected.as_str());
    }
    let Ok(expected) = admitted_as(want, object) else {
        return false;
    };
    answer.status == 201 && template_resources(&answer.body) == template_resources(&expected)
}

/// One create of a loop: when it started and ended (from the loop's start), which of the
/// loop's objects it sent, and the answer.
struct Create {
    start: Duration,
    end: Duration,
    which: usize,
    answer: Result<Answer, String>,
}

/// Creates `objects` in turn, one after the other, through the API server until `stop`.
fn create_loop(
    c: &Cluster,
    objects: &[Value],
    t0: std::time::Instant,
    stop: &std::sync::atomic::AtomicBool,
) -> Vec<Create> {
    let api = c.api_server();
    let mut creates = Vec::new();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let which = creates.len() % objects.len();
        let start = t0.elapsed();
        let answer = dry_run_create(c, &api, &objects[which]);
        creates.push(Create {
            start,
            end: t0.elapsed(),
            which,
            answer,
        });
    }
    creates
}

/// A Deployment `name` in the namespace `reload` with `resources` (`{}`: none).
fn reload_deployment(name: &str, resources: Value) -> Value {
    deployment("reload", name, 1, resources)
}

/// The serving certificate and key replaced, as a Secret volume replaces them (cert-manager's
/// renewal: a new key, the same CA), while creates the policy admits, mutates and denies run
/// through the API server: every create gets the policy's verdict, the webhook then serves the
/// new certificate to a new connection, and its /metrics count the reload.
fn certificate_rotated_while_creates_run(
    c: &Cluster,
    host: Host,
    tls: &mut VolumeFolder,
    settings: &Settings,
    failures: &mut Failures,
) {
    let fail = |failures: &mut Failures, e: String| failures.push(format!("rotation: {e}"));
    let old = match std::fs::read(tls.path("tls.crt"))
        .map_err(|e| e.to_string())
        .and_then(|pem| certificate_id(&pem))
    {
        Ok(id) => id,
        Err(e) => return fail(failures, e),
    };
    match served_certificate(c) {
        Ok(served) if served == old => {}
        Ok(served) => return fail(failures, format!("before: serves {served}, not {old}")),
        Err(e) => return fail(failures, e),
    }
    let (cert, key) = match issue_webhook_certificate(c, &c.scratch().path("new-tls")) {
        Ok(pair) => pair,
        Err(e) => return fail(failures, e),
    };
    let new = match certificate_id(&cert) {
        Ok(id) if id != old => id,
        Ok(id) => {
            return fail(
                failures,
                format!("the new certificate is the old one: {id}"),
            )
        }
        Err(e) => return fail(failures, e),
    };
    let before = webhook_metrics(c).unwrap_or_default();
    let series =
        |result: &str| format!("resource_limits_certificate_reloads_total{{result=\"{result}\"}}");
    let objects = [
        reload_deployment(
            "admitted",
            json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "128Mi"}}),
        ),
        reload_deployment("mutated", json!({})),
        reload_deployment(
            "denied",
            json!({"limits": {"cpu": "8", "memory": "512Mi"}, "requests": {"cpu": "2", "memory": "128Mi"}}),
        ),
    ];
    let verdicts: Vec<Verdict> = objects.iter().map(|o| core_verdict(settings, o)).collect();
    let kinds: Vec<bool> = verdicts.iter().map(Verdict::allowed).collect();
    assert_eq!(
        (kinds, verdicts[1].mutation().is_some()),
        (vec![true, true, false], true),
        "the rotation's objects: one admitted, one mutated, one denied"
    );
    let stop = std::sync::atomic::AtomicBool::new(false);
    let t0 = std::time::Instant::now();
    let mut swapped = Duration::ZERO;
    let mut served_new = None;
    let creates = std::thread::scope(|s| {
        let creates = s.spawn(|| create_loop(c, &objects, t0, &stop));
        std::thread::sleep(Duration::from_secs(3));
        swapped = t0.elapsed();
        tls.swap(&[("tls.crt", &cert), ("tls.key", &key)]);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if served_certificate(c).is_ok_and(|id| id == new) {
                served_new = Some(t0.elapsed() - swapped);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Creates go on a while with the new certificate served.
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        creates.join().unwrap_or_default()
    });
    let after_swap = creates.iter().filter(|k| k.start >= swapped).count();
    let mut wrong = Vec::new();
    for k in &creates {
        match &k.answer {
            Ok(a) if is_verdict(host, &objects[k.which], a, &verdicts[k.which]) => {}
            Ok(a) => wrong.push(format!(
                "{:?} {}: {} {}",
                k.start, objects[k.which]["metadata"]["name"], a.status, a.body
            )),
            Err(e) => wrong.push(format!("{:?}: {e}", k.start)),
        }
    }
    println!(
        "rotation: {} creates ({} before the swap at {swapped:?}, {after_swap} after), {} not the policy's verdict; the new certificate served {served_new:?} after the swap",
        creates.len(),
        creates.len() - after_swap,
        wrong.len()
    );
    if !wrong.is_empty() {
        fail(
            failures,
            format!(
                "{} of {} creates did not get the policy's verdict:\n  {}",
                wrong.len(),
                creates.len(),
                wrong.join("\n  ")
            ),
        );
    }
    if after_swap < 10 {
        fail(
            failures,
            format!("only {after_swap} creates after the swap"),
        );
    }
    match served_certificate(c) {
        Ok(served) if served == new => {}
        Ok(served) => fail(
            failures,
            format!("after the swap: serves {served}, not the new {new}"),
        ),
        Err(e) => fail(failures, format!("after the swap: {e}")),
    }
    if let Err(e) = api_server_handshakes_anew(c, host, &objects, &verdicts) {
        fail(failures, e);
    }
    match webhook_metrics(c) {
        Ok(after) => {
            let (ok, failed) = (
                metric(&after, &series("ok")) - metric(&before, &series("ok")),
                metric(&after, &series("failed")) - metric(&before, &series("failed")),
            );
            if ok < 1.0 || failed != 0.0 {
                fail(
                    failures,
                    format!("/metrics counted {ok} certificate reloads ok and {failed} failed over the swap, want 1 or more ok and none failed"),
                );
            }
        }
        Err(e) => fail(failures, e),
    }
}

/// The remote ports of the connections established to the local `port` (/proc/net/tcp).
fn established_peers(port: u16) -> Vec<u16> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let port_of = |address: &str| {
        let hex = address.rsplit_once(':').map_or("", |(_, p)| p);
        u16::from_str_radix(hex, 16).ok()
    };
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let (local, remote, state) = (fields.get(1)?, fields.get(2)?, fields.get(3)?);
            (port_of(local) == Some(port) && *state == "01").then(|| port_of(remote))?
        })
        .collect()
}

/// The API server keeps its connection to the webhook alive across a rotation, so creates
/// after it may still go over a handshake made with the old certificate. Registered again at
/// `https://localhost:PORT` (which both certificates name), the API server opens a connection
/// of its own and checks the new certificate itself: creates must then still get the policy's
/// verdict, and a connection must be there that was not before.
fn api_server_handshakes_anew(
    c: &Cluster,
    host: Host,
    objects: &[Value],
    verdicts: &[Verdict],
) -> Result<(), String> {
    let url = c.webhook_url();
    let port: u16 = url
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .ok_or_else(|| format!("no port in {url}"))?;
    let before = established_peers(port);
    if before.is_empty() {
        return Err(format!("no connection of the API server to {url}"));
    }
    let config = std::fs::read_to_string(c.webhook_configurations()).map_err(|e| e.to_string())?;
    let local = config.replace("https://127.0.0.1:", "https://localhost:");
    if local == config {
        return Err("the webhook configurations name no https://127.0.0.1: URL".into());
    }
    let out = c.kubectl_with(&["apply", "-f", "-"], Some(&local));
    if !out.status.success() {
        return Err(format!(
            "registering at localhost: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let api = c.api_server();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut creates = 0;
    loop {
        for (o, want) in objects.iter().zip(verdicts) {
            creates += 1;
            let answer = dry_run_create(c, &api, o)?;
            if !is_verdict(host, o, &answer, want) {
                return Err(format!(
                    "registered at localhost, {}: {} {}",
                    o["metadata"]["name"], answer.status, answer.body
                ));
            }
        }
        let new: Vec<u16> = established_peers(port)
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        if !new.is_empty() {
            println!(
                "rotation: registered at localhost, the API server connected anew (from ports {new:?}; before {before:?}); {creates} creates got the policy's verdict"
            );
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "registered at localhost, no new connection of the API server within 20 s ({creates} creates; connections from {before:?})"
            ));
        }
    }
}

/// The settings rewritten with tighter bounds, as a ConfigMap volume rewrites them, while
/// creates run through the API server: each create gets the verdict of the settings before or
/// of the settings after (never another refusal), never the old ones once the new ones were
/// seen; within the reload interval and a margin the new bounds hold (an object admitted before
/// is refused, the new bound in the message), and /metrics count the reload.
fn settings_changed_while_creates_run(
    c: &Cluster,
    host: Host,
    folder: &mut VolumeFolder,
    reload_interval: Duration,
    failures: &mut Failures,
) {
    let fail = |failures: &mut Failures, e: String| failures.push(format!("settings: {e}"));
    let before_text = std::fs::read(folder.path("settings.json")).unwrap_or_default();
    let mut tighter: Value = serde_json::from_slice(&before_text).unwrap_or_default();
    tighter["cpu"]["maxLimit"] = json!("2");
    tighter["memory"]["maxLimit"] = json!("1Gi");
    let after_text = serde_json::to_vec_pretty(&tighter).unwrap_or_default();
    let (old, new) = match (
        Settings::from_json(&before_text),
        Settings::from_json(&after_text),
    ) {
        (Ok(old), Ok(new)) => (old, new),
        (a, b) => return fail(failures, format!("settings: {:?} {:?}", a.err(), b.err())),
    };
    let objects = [
        // Admitted before, refused after: cpu limit 3 is over the new maxLimit 2.
        reload_deployment(
            "three-cpus",
            json!({"limits": {"cpu": "3", "memory": "512Mi"}, "requests": {"cpu": "1", "memory": "128Mi"}}),
        ),
        // Refused before and after, by the bound in force: maxLimit 4, then 2.
        reload_deployment(
            "eight-cpus",
            json!({"limits": {"cpu": "8", "memory": "512Mi"}, "requests": {"cpu": "2", "memory": "128Mi"}}),
        ),
        // Mutated alike before and after.
        reload_deployment("bare", json!({})),
    ];
    let olds: Vec<Verdict> = objects.iter().map(|o| core_verdict(&old, o)).collect();
    let news: Vec<Verdict> = objects.iter().map(|o| core_verdict(&new, o)).collect();
    let new_message = news[0].message().unwrap_or_default();
    assert!(
        olds[0].allowed() && new_message.contains("cpu limit 3 exceeds maxLimit 2"),
        "the probe is admitted before and refused after: {new_message}"
    );
    assert!(
        olds[1]
            .message()
            .unwrap_or_default()
            .contains("exceeds maxLimit 4")
            && news[1]
                .message()
                .unwrap_or_default()
                .contains("exceeds maxLimit 2"),
        "eight cpus are refused by each maxLimit"
    );
    let series =
        |result: &str| format!("resource_limits_settings_reloads_total{{result=\"{result}\"}}");
    let before = webhook_metrics(c).unwrap_or_default();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let t0 = std::time::Instant::now();
    let mut written = Duration::ZERO;
    let creates = std::thread::scope(|s| {
        let creates = s.spawn(|| create_loop(c, &objects, t0, &stop));
        std::thread::sleep(Duration::from_secs(3));
        written = t0.elapsed();
        folder.swap(&[("settings.json", &after_text)]);
        std::thread::sleep(reload_interval + Duration::from_secs(6));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        creates.join().unwrap_or_default()
    });
    // Each create's settings: 0 the old, 1 the new, 2 both (alike), or not the policy's word.
    let mut wrong = Vec::new();
    let mut first_new: Option<Duration> = None; // the end of the first create judged by the new
    let mut last_old: Option<Duration> = None; // the start of the last judged by the old
    for k in &creates {
        let a = match &k.answer {
            Ok(a) => a,
            Err(e) => {
                wrong.push(format!("{:?}: {e}", k.start));
                continue;
            }
        };
        let o = &objects[k.which];
        match (
            is_verdict(host, o, a, &olds[k.which]),
            is_verdict(host, o, a, &news[k.which]),
        ) {
            (true, true) => {}
            (true, false) => last_old = Some(k.start),
            (false, true) => {
                first_new.get_or_insert(k.end);
            }
            (false, false) => wrong.push(format!(
                "{:?} {}: {} {}",
                k.start, o["metadata"]["name"], a.status, a.body
            )),
        }
    }
    let since = |t: Option<Duration>| t.map(|t| t.as_secs_f64() - written.as_secs_f64());
    println!(
        "settings: {} creates, the new settings written at {written:?}: first judged by them {:?} s after, last by the old ones {:?} s after (a create started then); {} not the policy's verdict",
        creates.len(),
        since(first_new),
        since(last_old),
        wrong.len()
    );
    if !wrong.is_empty() {
        fail(
            failures,
            format!(
                "{} of {} creates got neither the old settings' verdict nor the new ones':\n  {}",
                wrong.len(),
                creates.len(),
                wrong.join("\n  ")
            ),
        );
    }
    let hold = reload_interval + Duration::from_secs(3);
    match (first_new, last_old) {
        (None, _) => fail(failures, "no create was judged by the new settings".into()),
        (Some(first), _) if first < written => fail(
            failures,
            format!("judged by the new settings at {first:?}, before they were written at {written:?}"),
        ),
        (Some(first), Some(last)) if last > first => fail(
            failures,
            format!("judged by the old settings (a create started at {last:?}) after the new ones (at {first:?})"),
        ),
        (Some(_), None) => fail(failures, "no create was judged by the old settings".into()),
        (Some(first), Some(_)) if first > written + hold => fail(
            failures,
            format!("the new settings held {:?} after they were written, not within {hold:?}", first - written),
        ),
        _ => {}
    }
    let judged_new_after = creates
        .iter()
        .filter(|k| first_new.is_some_and(|f| k.start > f) && k.which < 2)
        .count();
    if judged_new_after < 5 {
        fail(
            failures,
            format!(
                "only {judged_new_after} creates the settings tell apart after the new ones held"
            ),
        );
    }
    match webhook_metrics(c) {
        Ok(after) => {
            let (ok, failed) = (
                metric(&after, &series("ok")) - metric(&before, &series("ok")),
                metric(&after, &series("failed")) - metric(&before, &series("failed")),
            );
            if ok != 1.0 || failed != 0.0 {
                fail(
                    failures,
                    format!("/metrics counted {ok} settings reloads ok and {failed} failed over one rewrite, want 1 and 0"),
                );
            }
        }
        Err(e) => fail(failures, e),
    }
}

/// The native server's files changed while creates run through the API server, as a Kubernetes
/// volume changes them (`..data` swapped to a new folder): its serving certificate renewed with
/// a new key from the same CA, then its settings rewritten with tighter bounds. It re-reads them
/// every second here (`--reload-interval 1s`; 2 s by default).
#[test]
fn native_reloads_behind_the_api_server() {
    let host = Host::Native;
    let reload_interval = Duration::from_secs(1);
    let interval = format!("{}s", reload_interval.as_secs());
    let c = Cluster::up("native-reload");
    let bounded = std::fs::read(settings_file("bounded.json")).expect("bounded.json");
    let settings = Settings::from_json(&bounded).expect("bounded.json");
    let mut settings_folder =
        VolumeFolder::new(c.scratch().path("settings"), &[("settings.json", &bounded)]);
    let pki = c.pki();
    let read = |name: &str| std::fs::read(pki.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut tls = VolumeFolder::new(
        c.scratch().path("tls"),
        &[
            ("tls.crt", &read("webhook.crt")),
            ("tls.key", &read("webhook.key")),
        ],
    );
    c.webhook_with(
        Some(host),
        &settings_folder.path("settings.json"),
        &[
            ("TLS_DIR", &tls.dir),
            ("RELOAD_INTERVAL", Path::new(&interval)),
        ],
    );
    c.kubectl_ok(&["create", "namespace", "reload"]);
    let mut failures = Failures::new();
    certificate_rotated_while_creates_run(&c, host, &mut tls, &settings, &mut failures);
    settings_changed_while_creates_run(
        &c,
        host,
        &mut settings_folder,
        reload_interval,
        &mut failures,
    );
    let log = c.log(host.name());
    c.webhook(None, &settings_file("bounded.json"));
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n- {}\n--- {} log ---\n{log}",
        failures.len(),
        failures.join("\n- "),
        host.name(),
    );
}

/// Every manifest under examples/ applies (`kubectl apply --dry-run=server`) against the CRDs
/// users install: Kubewarden's ClusterAdmissionPolicy, SpinKube's SpinApp, cert-manager's
/// Certificate and Issuer, and Kubernetes' own kinds (examples/native: the server's Namespace,
/// Deployment, PodDisruptionBudget, Service and webhook configurations).
#[test]
fn every_example_manifest_applies_against_the_crds() {
    let c = Cluster::up("crds");
    c.apply_crds();
    let mut files = Vec::new();
    let mut dirs = vec![repo_root().join("examples")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("examples/").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 8, "examples/ holds the manifests: {files:?}");
    // Each deployment shape users apply a folder of: SpinKube's and the native server's.
    for folder in ["spinkube", "native"] {
        for file in ["tls.yaml", "webhooks.yaml"] {
            let want = repo_root().join("examples").join(folder).join(file);
            assert!(files.contains(&want), "{} is not applied", want.display());
        }
    }
    // The namespaces the examples name must exist for a namespaced dry run.
    let mut namespaces: Vec<String> = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("example");
        for l in text.lines() {
            if let Some(ns) = l.trim().strip_prefix("namespace: ") {
                let ns = ns.trim().to_owned();
                if !namespaces.contains(&ns) {
                    namespaces.push(ns);
                }
            }
        }
    }
    for ns in &namespaces {
        c.kubectl(&["create", "namespace", ns]);
    }
    let mut failures = Vec::new();
    for f in &files {
        let path = f.to_string_lossy();
        let out = c.kubectl(&["apply", "--dry-run=server", "-f", &path]);
        if !out.status.success() {
            failures.push(format!("{path}: {}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The validating twin of the ClusterAdmissionPolicy is the mutating policy with another name,
/// `mutating: false`, no defaults, and a match condition that leaves a ReplicaSet a controller
/// owns to the mutating policy (which judges it with its defaults counted as present), nothing
/// else: the two must judge alike but for what a default fills, which the twin refuses with the
/// policy's own message.
#[test]
fn the_validating_twin_equals_the_mutating_policy_but_for_the_defaults() {
    let read = |name: &str| -> Value {
        let text = std::fs::read_to_string(repo_root().join("examples").join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let mutating = read("cluster-admission-policy.yaml");
    let mut twin = read("cluster-admission-policy-validating.yaml");
    assert_eq!(twin["spec"]["mutating"], json!(false));
    assert_eq!(
        twin["metadata"]["name"],
        json!("resource-limits-validating")
    );
    twin["spec"]["mutating"] = json!(true);
    twin["metadata"]["name"] = json!("resource-limits");
    let conditions = twin["spec"]
        .as_object_mut()
        .and_then(|spec| spec.remove("matchConditions"));
    assert_eq!(
        conditions,
        Some(json!([{
            "name": "not-a-controlled-replicaset",
            "expression": "!(request.kind.kind == 'ReplicaSet' && object.metadata.?ownerReferences.orValue([]).exists(r, r.?controller.orValue(false)))",
        }])),
        "the twin leaves a ReplicaSet a controller owns to the mutating policy"
    );
    assert!(
        mutating["spec"]["matchConditions"].is_null(),
        "the mutating policy judges every ReplicaSet"
    );
    let mut mutating_without_defaults = mutating.clone();
    let settings = &mut mutating_without_defaults["spec"]["settings"];
    let mut removed = 0;
    for rule in ["cpu", "memory"] {
        if let Some(rule) = settings[rule].as_object_mut() {
            for key in ["defaultRequest", "defaultLimit"] {
                removed += usize::from(rule.remove(key).is_some());
            }
        }
    }
    assert!(removed > 0, "the mutating policy sets no default");
    assert!(
        settings["resources"].is_null(),
        "resources: strip their defaults too"
    );
    assert_eq!(twin, mutating_without_defaults);
}

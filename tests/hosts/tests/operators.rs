//! The operators users run, on the test control plane, reconciling our examples:
//! spin-operator turns examples/spinkube/spinapp.yaml into a Deployment and a Service;
//! kubewarden-controller turns every ClusterAdmissionPolicy of examples/ (the rollout's
//! monitor.yaml then cluster-admission-policy.yaml, the validating twin, examples/teams/) into
//! policy-server's policies.yml and the webhook configurations, which are compared with what
//! the cluster harness (scripts/cluster/webhook.sh and its `webhooks kubewarden`) registers in
//! their place: every difference is one KNOWN lists with its reason, or the test fails.
//!
//! Both run out of cluster (processes on loopback, the admin kubeconfig), built by
//! scripts/cluster/operators.sh from the releases of scripts/cluster/versions.env (a cold
//! build takes minutes; the script keeps them). No node runs the Pods they make: there is no
//! kubelet here (and containerd-shim-spin cannot be built), so where a kubelet's part matters
//! the test plays it: it runs the SpinApp's container as the shim would (`spin up` with the
//! container's environment, the ConfigMap's value resolved) and marks policy-server's Pods
//! Ready through their status.

use host_tests::cluster::{Cluster, Host};
use host_tests::operators::{self, differences, engine, Difference, Process};
use host_tests::repo_root;
use host_tests::scratch::free_port;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn example(path: &str) -> PathBuf {
    repo_root().join("examples").join(path)
}

fn bounded() -> PathBuf {
    example("settings/bounded.json")
}

/// The object of `kind` in a YAML file of several documents.
fn document(path: &Path, kind: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    operators::yaml_documents(&text)
        .into_iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {}", path.display()))
}

/// `kubectl get ARGS -o json` once it succeeds (an object that does not exist yet), within
/// `timeout`.
fn wait_get(c: &Cluster, args: &[&str], timeout: Duration) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    c.eventually(&format!("kubectl {}", all.join(" ")), timeout, || {
        let out = c.kubectl(&all);
        if out.status.success() {
            serde_json::from_slice(&out.stdout).ok()
        } else {
            None
        }
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// `kubectl apply -f -` of the objects, which must succeed.
fn apply(c: &Cluster, objects: &[Value]) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let out = c.kubectl_with(&["apply", "-f", "-"], Some(&list.to_string()));
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Warning events of a namespace (`""`: every namespace), one line each.
fn warning_events(c: &Cluster, namespace: &str) -> Vec<String> {
    let scope: Vec<&str> = if namespace.is_empty() {
        vec!["events", "-A"]
    } else {
        vec!["events", "-n", namespace]
    };
    let events = c.get(&scope);
    events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == "Warning")
        .map(|e| {
            format!(
                "{}/{} {}: {}",
                e["involvedObject"]["kind"].as_str().unwrap_or(""),
                e["involvedObject"]["name"].as_str().unwrap_or(""),
                e["reason"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// The errors a controller logs that are no error of the objects it reconciles: races with
/// other writers or with its own cache, which controller-runtime retries (the tests then
/// check that every object reached its final state). Each: a text the error line holds, why.
const TRANSIENT: &[(&str, &str)] = &[
    (
        "the object has been modified; please apply your changes to the latest version and try again",
        "an optimistic-concurrency conflict: a write with a resourceVersion someone else's write \
         outdated (the rollout's monitor -> protect update while the controller writes the \
         policy's status does it); the reconcile is retried on the newer object",
    ),
    (
        "already exists",
        "a create after a read of the controller's cache that had not yet seen its own earlier \
         create of the same object (a busy machine widens the window); the retry finds it",
    ),
];

/// The lines of a controller-runtime log (zap, console or JSON) at level error, and
/// controller-runtime's own `Reconciler error` lines, but for the [`TRANSIENT`] ones.
fn error_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("\tERROR\t")
                || l.contains("\"level\":\"error\"")
                || l.contains("Reconciler error")
        })
        .filter(|l| !TRANSIENT.iter().any(|(text, _)| l.contains(text)))
        .collect()
}

/// POSTs `body` (JSON) to `url` with curl; the answer, parsed.
fn post_json(url: &str, body: &Value) -> Value {
    post_json_ca(url, body, None)
}

/// As [`post_json`], trusting `ca` for HTTPS.
fn post_json_ca(url: &str, body: &Value, ca: Option<&Path>) -> Value {
    let mut curl = Command::new("curl");
    if let Some(ca) = ca {
        curl.arg("--cacert").arg(ca);
    }
    let out = curl
        .args(["-sS", "--max-time", "10", "-X", "POST", "-H"])
        .arg("Content-Type: application/json")
        .arg("--data-binary")
        .arg(body.to_string())
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("curl: {e}"));
    assert!(
        out.status.success(),
        "POST {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("POST {url}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A container's environment as the kubelet gives it: each `value` as it is, each
/// `valueFrom.configMapKeyRef` read from `config_map` (the one ConfigMap it may name).
fn container_env(container: &Value, config_map: &Value) -> Vec<(String, String)> {
    let mut envs = Vec::new();
    for e in container["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or("").to_owned();
        let value = if let Some(v) = e["value"].as_str() {
            v.to_owned()
        } else if let Some(r) = e["valueFrom"]["configMapKeyRef"].as_object() {
            assert_eq!(
                r["name"], config_map["metadata"]["name"],
                "{name} from another ConfigMap"
            );
            config_map["data"][r["key"].as_str().unwrap_or("")]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no key {} in the ConfigMap", r["key"]))
                .to_owned()
        } else {
            panic!("{name}: a source the test does not resolve: {e}");
        };
        envs.push((name, value));
    }
    envs
}

/// The Spin application run as containerd-shim-spin runs the SpinApp's container: `spin up`
/// of spin.toml (its component the built one) with the container's environment `envs` and no
/// other Spin variable, so `SPIN_VARIABLE_SETTINGS` and `SPIN_HTTP_LISTEN_ADDR` alone say
/// what it serves and where.
fn start_as_the_shim(scratch: &host_tests::scratch::Scratch, envs: &[(String, String)]) -> Process {
    let manifest = std::fs::read_to_string(repo_root().join("spin.toml")).expect("spin.toml");
    let component = host_tests::spin::component_path();
    let manifest: String = manifest
        .lines()
        .map(|l| {
            if l.starts_with("source = ") {
                format!("source = {:?}", component.to_string_lossy())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(scratch.path("spin.toml"), manifest).expect("spin.toml copy");
    let mut spin = Command::new(engine("spin"));
    spin.args(["up", "--from"])
        .arg(scratch.path("spin.toml"))
        .env("XDG_CACHE_HOME", scratch.path("spin-cache"))
        .env_remove("SPIN_VARIABLE_SETTINGS")
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Process::start(
        "spin up (the SpinApp's container)",
        spin,
        &scratch.path("app.log"),
    )
}

/// spin-operator v0.6.1 reconciles examples/spinkube/spinapp.yaml applied as docs/spinkube.md
/// says (with SpinKube's RuntimeClass and containerd-shim-spin executor, the executor in the
/// SpinApp's namespace, where the operator looks for it): the Deployment and the Service it
/// makes carry what the example says, the `settings` variable reaches the component from the
/// ConfigMap, and our policy, registered by examples/spinkube/webhooks.yaml, admits the
/// Deployment as the operator made it.
#[test]
fn spin_operator_reconciles_the_spinapp() {
    let ops = operators::built();
    let c = Cluster::up("spin-operator");
    c.apply_crds();
    let scratch = c.scratch();

    // SpinKube's install, from its release's manifests: the RuntimeClass, and the executor as
    // its quickstart applies it (no namespace: `default`). spin-operator looks for a SpinApp's
    // executor in the SpinApp's own namespace only (internal/controller/spinapp_controller.go:
    // "Executors must currently be defined in the same namespace as the app"), so the executor
    // goes into `resource-limits` too (the step docs/spinkube.md must name).
    let samples = ops.join("spin-operator-samples");
    let runtime_class = samples.join("spin-runtime-class.yaml");
    let executor_file = samples.join("spin-shim-executor.yaml");
    c.kubectl_ok(&["apply", "-f", &runtime_class.to_string_lossy()]);
    c.kubectl_ok(&[
        "apply",
        "-n",
        "default",
        "-f",
        &executor_file.to_string_lossy(),
    ]);
    let executor = document(&executor_file, "SpinAppExecutor");
    let runtime_class_name = executor["spec"]["deploymentConfig"]["runtimeClassName"].clone();
    assert_eq!(
        runtime_class_name,
        document(&runtime_class, "RuntimeClass")["metadata"]["name"],
        "the executor names the RuntimeClass SpinKube ships"
    );

    // Our policy, registered by examples/spinkube/webhooks.yaml (clientConfig changed to
    // `spin up` on loopback), before anything of the app exists.
    c.webhook(Some(Host::Spin), &bounded());

    // The operator, with the flags of its Helm chart less what needs a Pod: no webhooks (they
    // need cert-manager's certificate and bind every address), no leader election, metrics off,
    // probes on loopback.
    let probe = free_port();
    let mut command = Command::new(ops.join("spin-operator"));
    command.env("KUBECONFIG", c.kubeconfig()).args([
        &format!("--health-probe-bind-address=127.0.0.1:{probe}"),
        "--metrics-bind-address=0",
        "--leader-elect=false",
        "--enable-webhooks=false",
    ]);
    let mut operator = Process::start("spin-operator", command, &scratch.path("spin-operator.log"));
    operator.wait_ready(
        &format!("http://127.0.0.1:{probe}/readyz"),
        None,
        Duration::from_secs(60),
    );

    // The user's steps (docs/spinkube.md): the namespace, the executor there, spinapp.yaml,
    // tls.yaml. webhooks.yaml is the registration above.
    c.kubectl_ok(&["create", "namespace", "resource-limits"]);
    c.kubectl_ok(&[
        "apply",
        "-n",
        "resource-limits",
        "-f",
        &executor_file.to_string_lossy(),
    ]);
    let spinapp_file = example("spinkube/spinapp.yaml");
    c.kubectl_ok(&["apply", "-f", &spinapp_file.to_string_lossy()]);
    c.kubectl_ok(&[
        "apply",
        "-f",
        &example("spinkube/tls.yaml").to_string_lossy(),
    ]);
    let app = document(&spinapp_file, "SpinApp");
    let config_map = document(&spinapp_file, "ConfigMap");
    let name = app["metadata"]["name"]
        .as_str()
        .expect("the SpinApp's name");
    let ns = app["metadata"]["namespace"]
        .as_str()
        .expect("the SpinApp's namespace");

    let deployment = wait_get(&c, &["deployment", name, "-n", ns], Duration::from_secs(60));
    let service = wait_get(&c, &["service", name, "-n", ns], Duration::from_secs(60));
    operator.assert_running();

    // --- the Deployment ---
    let spec = &deployment["spec"];
    let pod = &spec["template"]["spec"];
    assert_eq!(spec["replicas"], app["spec"]["replicas"], "replicas");
    assert_eq!(
        pod["runtimeClassName"], runtime_class_name,
        "runtimeClassName"
    );
    let owner = &deployment["metadata"]["ownerReferences"][0];
    assert_eq!(
        (&owner["kind"], &owner["name"], &owner["controller"]),
        (&json!("SpinApp"), &json!(name), &json!(true)),
        "the SpinApp owns its Deployment"
    );
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "one container: {containers:?}");
    let container = &containers[0];
    assert_eq!(container["image"], app["spec"]["image"], "image");
    assert_eq!(
        container["resources"], app["spec"]["resources"],
        "the container's resources are the SpinApp's"
    );
    assert_eq!(
        container["ports"],
        json!([{"name": "http-app", "containerPort": 80, "protocol": "TCP"}]),
        "the app's port"
    );
    // Probes: /healthz on the app's port, with every timing the example sets.
    for (probe_field, check) in [
        ("readinessProbe", "readiness"),
        ("livenessProbe", "liveness"),
    ] {
        let got = &container[probe_field];
        let want = &app["spec"]["checks"][check];
        assert_eq!(
            got["httpGet"]["path"], want["httpGet"]["path"],
            "{probe_field} path"
        );
        assert_eq!(got["httpGet"]["path"], "/healthz", "{probe_field} path");
        assert_eq!(got["httpGet"]["port"], 80, "{probe_field} port");
        for (k, v) in want.as_object().expect("a check") {
            if k != "httpGet" {
                assert_eq!(&got[k], v, "{probe_field}.{k}");
            }
        }
    }
    // The `settings` variable: SPIN_VARIABLE_SETTINGS from the ConfigMap's key.
    let env = container["env"].as_array().expect("env");
    let settings_env = env
        .iter()
        .find(|e| e["name"] == "SPIN_VARIABLE_SETTINGS")
        .unwrap_or_else(|| panic!("no SPIN_VARIABLE_SETTINGS in {env:?}"));
    assert_eq!(
        settings_env["valueFrom"], app["spec"]["variables"][0]["valueFrom"],
        "the variable comes from the ConfigMap the SpinApp names"
    );
    assert_eq!(
        settings_env["valueFrom"]["configMapKeyRef"]["name"],
        config_map["metadata"]["name"]
    );

    // --- the Service: HTTP on 80 to the app's port, selecting the Deployment's Pods ---
    let svc = &service["spec"];
    assert_eq!(svc["type"], "ClusterIP");
    let ports = svc["ports"].as_array().expect("ports");
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert_eq!(
        (
            &ports[0]["port"],
            &ports[0]["targetPort"],
            &ports[0]["protocol"]
        ),
        (&json!(80), &json!("http-app"), &json!("TCP"))
    );
    let labels = &spec["template"]["metadata"]["labels"];
    for (k, v) in svc["selector"].as_object().expect("a selector") {
        assert_eq!(&labels[k], v, "the Service selects the Pods by {k}");
    }
    // The TLS proxy of tls.yaml forwards to this Service: its name, namespace and port.
    let proxy = document(&example("spinkube/tls.yaml"), "ConfigMap");
    let nginx = proxy["data"]["nginx.conf"].as_str().expect("nginx.conf");
    let upstream = format!(
        "proxy_pass http://{name}.{ns}.svc.cluster.local:{};",
        ports[0]["port"]
    );
    assert!(
        nginx.contains(&upstream),
        "tls.yaml's proxy does not forward to the operator's Service ({upstream}):\n{nginx}"
    );
    // The PodDisruptionBudget of spinapp.yaml selects the same Pods.
    let pdb = document(&spinapp_file, "PodDisruptionBudget");
    for (k, v) in pdb["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("labels")
    {
        assert_eq!(
            &labels[k], v,
            "the PodDisruptionBudget selects the Pods by {k}"
        );
    }

    // --- the Pods, made by kube-controller-manager (Pending: no node) ---
    let selector = format!("core.spinkube.dev/app-name={name}");
    let pods = c
        .eventually("the SpinApp's Pods", Duration::from_secs(60), || {
            let pods = c.get(&["pods", "-n", ns, "-l", &selector]);
            let items = pods["items"].as_array().cloned().unwrap_or_default();
            (items.len() as u64 == app["spec"]["replicas"].as_u64().unwrap_or(0)).then_some(items)
        })
        .unwrap_or_else(|e| panic!("{e}: {:?}", warning_events(&c, ns)));

    // --- the kubelet's part, played by the test: the container as the shim runs it, `spin up`
    // with the Pod's environment (the ConfigMap's value resolved, as the kubelet resolves
    // valueFrom), only the listen address moved to loopback ---
    let data = c.get(&[
        "configmap",
        "-n",
        ns,
        config_map["metadata"]["name"].as_str().unwrap_or(""),
    ]);
    let port = free_port();
    let mut envs = container_env(&pods[0]["spec"]["containers"][0], &data);
    let listen = envs
        .iter_mut()
        .find(|(k, _)| k == "SPIN_HTTP_LISTEN_ADDR")
        .expect("the shim's listen address");
    assert_eq!(listen.1, "0.0.0.0:80", "the operator's listen address");
    listen.1 = format!("127.0.0.1:{port}");
    let mut app_process = start_as_the_shim(c.scratch(), &envs);
    let base = format!("http://127.0.0.1:{port}");
    let readiness = container["readinessProbe"]["httpGet"]["path"]
        .as_str()
        .unwrap_or("");
    app_process.wait_ready(&format!("{base}{readiness}"), None, Duration::from_secs(60));
    // The settings in effect are the ConfigMap's: a Deployment without resources gets their
    // defaults (the component's default settings, `{}`, add none), exactly the core's.
    let settings_text = data["data"]["settings.json"]
        .as_str()
        .expect("settings.json");
    let settings = resource_limits::Settings::from_json(settings_text.as_bytes())
        .expect("the ConfigMap's settings");
    let request = host_tests::bench_deployment(1, false);
    let want = host_tests::judge(&settings, request.as_bytes());
    let mutated = want
        .mutation()
        .expect("the core adds the defaults")
        .object()
        .expect("JSON");
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": serde_json::from_str::<Value>(&request).expect("request"),
    });
    let answer = post_json(&format!("{base}/mutate"), &review);
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    let patch = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        answer["response"]["patch"]
            .as_str()
            .expect("a patch: the defaults"),
    )
    .expect("base64");
    let patch: json_patch::Patch = serde_json::from_slice(&patch).expect("a JSONPatch");
    let mut object = review["request"]["object"].clone();
    json_patch::patch(&mut object, &patch).expect("the patch applies");
    assert_eq!(
        object, mutated,
        "the component judged with the ConfigMap's settings"
    );
    drop(app_process);

    // --- our policy admits the Deployment as the operator made it. Its own namespace is left
    // out of the webhooks (so the webhook can always come back), so it is sent, as it is, to a
    // namespace the webhooks cover: a server-side dry run ---
    c.kubectl_ok(&["create", "namespace", "spinapp-dry-run"]);
    let mut made = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "spinapp-dry-run",
            "labels": deployment["metadata"]["labels"],
        },
        "spec": deployment["spec"],
    });
    let out = c.kubectl_with(
        &["create", "--dry-run=server", "-o", "json", "-f", "-"],
        Some(&made.to_string()),
    );
    assert!(
        out.status.success(),
        "our policy refuses the operator's Deployment: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admitted: Value = serde_json::from_slice(&out.stdout).expect("the dry run's object");
    assert_eq!(
        admitted["spec"]["template"], deployment["spec"]["template"],
        "admitted unchanged (it sets every resource the policy asks for)"
    );
    // ... and the dry run went through the webhook: over the bounds, the same Deployment is
    // refused by it.
    made["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] =
        json!("4Gi");
    let out = c.kubectl_with(
        &["create", "--dry-run=server", "-o", "json", "-f", "-"],
        Some(&made.to_string()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains(&format!(
                "admission webhook \"{}\" denied the request",
                Host::Spin.webhook_name()
            ))
            && stderr.contains("memory limit 4Gi exceeds maxLimit 2Gi"),
        "over the bounds, the webhook refuses it: {stderr}"
    );

    // --- no error: none in the operator's log, no Warning event in the app's namespace ---
    operator.assert_running();
    let log = operator.log();
    println!(
        "the operator's Deployment:\n{}\nits Service:\n{}\n--- spin-operator ---\n{log}",
        serde_json::to_string_pretty(&deployment["spec"]).unwrap_or_default(),
        serde_json::to_string_pretty(&service["spec"]).unwrap_or_default()
    );
    let errors = error_lines(&log);
    assert!(
        errors.is_empty(),
        "spin-operator logged errors:\n{}",
        errors.join("\n")
    );
    assert!(
        log.contains("Reconciling"),
        "the operator's log shows no reconcile:\n{log}"
    );
    let warnings = warning_events(&c, ns);
    assert!(
        warnings.is_empty(),
        "Warning events in {ns}:\n{}",
        warnings.join("\n")
    );
    let status = c.get(&["spinapp", name, "-n", ns]);
    assert_eq!(status["status"]["activeScheduler"], app["spec"]["executor"]);

    // --- why the executor must be in the SpinApp's namespace: the same SpinApp in a namespace
    // without one is not reconciled, although `default` has one ---
    c.kubectl_ok(&["create", "namespace", "team-a"]);
    let mut elsewhere = app.clone();
    elsewhere["metadata"]["namespace"] = json!("team-a");
    apply(&c, &[elsewhere]);
    let missing = c
        .eventually("the MissingExecutor event", Duration::from_secs(30), || {
            warning_events(&c, "team-a")
                .into_iter()
                .find(|w| w.contains("MissingExecutor"))
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        missing.contains("Could not find SpinAppExecutor team-a/containerd-shim-spin"),
        "{missing}"
    );
    let none = c.kubectl(&["get", "deployment", name, "-n", "team-a"]);
    assert!(!none.status.success(), "a Deployment without an executor");
}

/// A difference between the controller's output and the harness's that the comparison expects,
/// with its reason. Any other difference fails the test; so does a known one that is gone.
struct Known {
    object: &'static str,
    path: &'static str,
    reason: &'static str,
}

/// The differences between kubewarden-controller's webhook configurations and policies.yml and
/// the harness's (scripts/cluster/webhook.sh, `webhooks kubewarden`), each explained.
const KNOWN: &[Known] = &[
    Known {
        object: "webhook configurations",
        path: "webhooks[0].clientConfig.service",
        reason: "the controller points the webhook at the policy-server Service (policy-server-default in kubewarden, port 443); no Pod runs here, so the harness points it at policy-server on loopback by URL (the path is compared apart: equal)",
    },
    Known {
        object: "webhook configurations",
        path: "webhooks[0].clientConfig.url",
        reason: "the other side of clientConfig.service: the harness's loopback URL",
    },
    Known {
        object: "webhook configurations",
        path: "webhooks[0].clientConfig.caBundle",
        reason: "each trusts its own CA: the controller the kubewarden-ca Secret of its Helm chart (which signs policy-server's certificate), the harness the test cluster's CA (which signs the loopback policy-server's)",
    },
    Known {
        object: "webhook configurations",
        path: "metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
        reason: "the harness registers its configurations with `kubectl apply`, which records what it applied; the controller creates them through the API",
    },
    Known {
        object: "policies.yml",
        path: "module",
        reason: "the controller writes the policy's spec.module (registry://registry.example.com/...), the harness the local annotated-policy.wasm (file://...): nothing is pulled in the tests",
    },
    Known {
        object: "policies.yml",
        path: "namespacedName",
        reason: "the controller (v1.36) records the policy's namespace and name; the harness does not. policy-server ignores the member (its policies.yml reader, crates/policy-server/src/config.rs, has no such field) and names the policy by its key, which is the same; the test starts policy-server on the controller's file to show it",
    },
    Known {
        object: "policies.yml",
        path: "hostCapabilities",
        reason: "the controller (v1.36) grants a cluster-wide policy every host capability ([\"*\"]); the harness writes none, which policy-server reads as none granted (an empty list is HostCapabilities::DenyAll). Our policy makes no gated host call (its only one, tracing/log, is never gated), so the verdicts are the same: the cluster tests pass under the stricter grant",
    },
];

/// The environment kubewarden-controller gives policy-server (its Deployment), each with the
/// harness's counterpart (scripts/cluster/webhook.sh's flags) or why it has none.
const POLICY_SERVER_ENV: &[(&str, &str)] = &[
    ("KUBEWARDEN_CERT_FILE=/pki/tls.crt", "--cert-file: the harness's loopback certificate"),
    ("KUBEWARDEN_KEY_FILE=/pki/tls.key", "--key-file: its key"),
    ("KUBEWARDEN_PORT=8443", "--port: a free loopback port (--addr 127.0.0.1)"),
    ("KUBEWARDEN_READINESS_PROBE_PORT=8081", "--readiness-probe-port: a free loopback port"),
    ("KUBEWARDEN_POLICIES=/config/policies.yml", "--policies: the harness's policies.yml (compared above)"),
    ("KUBEWARDEN_POLICIES_DOWNLOAD_DIR=/tmp", "--policies-download-dir: the harness's folder"),
    ("KUBEWARDEN_SIGSTORE_CACHE_DIR=/tmp/sigstore-data", "--sigstore-cache-dir: the harness's folder"),
    ("KUBEWARDEN_LOG_LEVEL=info", "the default PolicyServer's env (kubewarden-defaults); the harness logs at warn: logs only, no verdict changes"),
    ("KUBEWARDEN_ALWAYS_ACCEPT_ADMISSION_REVIEWS_ON_NAMESPACE=kubewarden", "the chart's --always-accept-admission-reviews-on-deployments-namespace (on by default); the harness has no counterpart, and needs none: both webhook configurations' namespaceSelector leaves kubewarden out, so no request from it reaches policy-server"),
];

fn known(object: &str, path: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| {
        k.object == object && (k.path == path || path.starts_with(&format!("{}.", k.path)))
    })
}

/// A stored object without what the API server sets anew on every creation.
fn without_server_fields(mut v: Value) -> Value {
    if let Some(meta) = v["metadata"].as_object_mut() {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
            "generation",
        ] {
            meta.remove(k);
        }
    }
    v
}

/// Where the path of a webhook's clientConfig leads: the Service's path, or the URL's path.
fn client_path(client: &Value) -> String {
    if let Some(p) = client["service"]["path"].as_str() {
        return p.to_owned();
    }
    let url = client["url"].as_str().unwrap_or("");
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("", |i| &rest[i..]).to_owned()
}

/// A value for a message: `(none)`, or its JSON cut to 120 characters.
fn short(v: Option<&Value>) -> String {
    let text = v.map_or("(none)".into(), Value::to_string);
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// One ClusterAdmissionPolicy of examples/.
struct Cap {
    file: PathBuf,
    name: String,
    /// Its unique name: the webhook configuration's name, policies.yml's key, the path's end.
    id: String,
    mutating: bool,
    mode: String,
}

impl Cap {
    fn read(file: PathBuf) -> Cap {
        let cap = document(&file, "ClusterAdmissionPolicy");
        let name = cap["metadata"]["name"].as_str().unwrap_or("").to_owned();
        Cap {
            id: format!("clusterwide-{name}"),
            name,
            mutating: cap["spec"]["mutating"] == true,
            mode: cap["spec"]["mode"].as_str().unwrap_or("protect").to_owned(),
            file,
        }
    }

    fn kind(&self) -> &'static str {
        if self.mutating {
            "mutatingwebhookconfiguration"
        } else {
            "validatingwebhookconfiguration"
        }
    }
}

/// What the harness's `webhooks kubewarden` (scripts/cluster/cmd/webhooks, the command
/// webhook.sh runs) writes for `caps`, their settings their own: each webhook configuration as
/// the API server would store it (a server-side dry run fills the defaults), by id, and the
/// policies.yml.
fn harness_output(c: &Cluster, caps: &[&Cap], dir: &Path) -> (Vec<(String, Value)>, Value) {
    std::fs::create_dir_all(dir).expect("folder");
    let policies = dir.join("policies.yml");
    let mut command = Command::new(c.bin().join("webhooks"));
    command.arg("kubewarden");
    for cap in caps {
        command.arg("-policy").arg(&cap.file);
    }
    let out = command
        .args(["-url", "https://127.0.0.1:1"])
        .arg("-ca")
        .arg(c.ca())
        .arg("-module")
        .arg(repo_root().join("annotated-policy.wasm"))
        .arg("-policies")
        .arg(&policies)
        .output()
        .expect("webhooks kubewarden");
    assert!(
        out.status.success(),
        "webhooks kubewarden: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut configs = Vec::new();
    for config in operators::yaml_documents(&String::from_utf8_lossy(&out.stdout)) {
        let stored = c.kubectl_with(
            &["create", "--dry-run=server", "-o", "json", "-f", "-"],
            Some(&config.to_string()),
        );
        assert!(
            stored.status.success(),
            "the harness's configuration does not apply: {}",
            String::from_utf8_lossy(&stored.stderr)
        );
        let stored: Value = serde_json::from_slice(&stored.stdout).expect("JSON");
        let id = stored["metadata"]["name"].as_str().unwrap_or("").to_owned();
        configs.push((id, without_server_fields(stored)));
    }
    let policies: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(&policies).expect("the harness's policies.yml"),
    )
    .expect("policies.yml is YAML");
    (configs, policies)
}

/// Plays the kubelet's part for policy-server (each Pod of the PolicyServer `default` marked
/// Ready through its status, as a kubelet reports a container whose readiness probe passes)
/// until every policy of `caps` is active in its mode, reachable through the newest
/// policy-server Pods, its configuration up to date; fails with the policies and `log`.
fn until_active(c: &Cluster, caps: &[&Cap], log: impl Fn() -> String) -> usize {
    let ready = json!({"status": {"phase": "Running", "conditions": [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "ContainersReady", "status": "True"},
        {"type": "Ready", "status": "True"},
    ]}})
    .to_string();
    let mut marked = 0;
    let names: Vec<&str> = caps.iter().map(|cap| cap.name.as_str()).collect();
    c.eventually(
        &format!("{} active", names.join(", ")),
        Duration::from_secs(180),
        || {
            let pods = c.get(&[
                "pods",
                "-n",
                "kubewarden",
                "-l",
                "kubewarden/policy-server=default",
            ]);
            for p in pods["items"].as_array().into_iter().flatten() {
                let is_ready = p["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True");
                if !is_ready && p["metadata"]["deletionTimestamp"].is_null() {
                    let name = p["metadata"]["name"].as_str().unwrap_or("");
                    let out = c.kubectl(&[
                        "patch",
                        "pod",
                        name,
                        "-n",
                        "kubewarden",
                        "--subresource",
                        "status",
                        "--type",
                        "merge",
                        "-p",
                        &ready,
                    ]);
                    if out.status.success() {
                        marked += 1;
                    }
                }
            }
            caps.iter()
                .all(|cap| {
                    let got = c.get(&["clusteradmissionpolicy", &cap.name]);
                    let status = &got["status"];
                    let condition = |t: &str| {
                        status["conditions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|c| c["type"] == t && c["status"] == "True")
                    };
                    status["policyStatus"] == "active"
                        && status["mode"] == cap.mode.as_str()
                        && condition("PolicyActive")
                        && condition("PolicyUniquelyReachable")
                        && condition("PolicyServerConfigurationUpToDate")
                })
                .then_some(())
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n--- the policies ---\n{}\n--- kubewarden-controller ---\n{}",
            c.kubectl_ok(&["get", "clusteradmissionpolicies", "-o", "yaml"]),
            log()
        )
    });
    marked
}

/// The comparison of kubewarden-controller's output with the harness's, policy by policy: the
/// table's rows, the KNOWN differences seen, the differences KNOWN does not list, and a summary
/// line per object.
struct Comparison {
    seen: Vec<(&'static str, &'static str)>,
    unknown: Vec<String>,
    rows: Vec<String>,
    summary: Vec<String>,
}

impl Comparison {
    /// Compares the controller's output for `caps` (read from the cluster) with the harness's
    /// (`harness`: its configurations by id; `harness_policies`: its policies.yml).
    fn add(
        &mut self,
        c: &Cluster,
        caps: &[&Cap],
        harness: &[(String, Value)],
        harness_policies: &Value,
    ) {
        let config_map = c.get(&["configmap", "policy-server-default", "-n", "kubewarden"]);
        let controller_policies: Value = serde_json::from_str(
            config_map["data"]["policies.yml"]
                .as_str()
                .expect("policies.yml in the ConfigMap"),
        )
        .expect("the controller's policies.yml is JSON");
        for cap in caps {
            let id = &cap.id;
            let controller = without_server_fields(c.get(&[cap.kind(), id]));
            let harness = &harness
                .iter()
                .find(|(h, _)| h == id)
                .unwrap_or_else(|| panic!("the harness wrote no {id}"))
                .1;
            let (cw, hw) = (&controller["webhooks"][0], &harness["webhooks"][0]);
            assert_eq!(
                client_path(&cw["clientConfig"]),
                client_path(&hw["clientConfig"]),
                "{id}: the path the webhook calls"
            );
            assert_eq!(client_path(&cw["clientConfig"]), format!("/validate/{id}"));
            let mut row = |field: &str, a: &Value, b: &Value| {
                self.rows.push(format!(
                    "| {} ({}) | {field} | {a} | {b} | {} |",
                    cap.name,
                    cap.mode,
                    if a == b { "equal" } else { "DIFFERENT" }
                ));
            };
            for field in [
                "name",
                "rules",
                "namespaceSelector",
                "objectSelector",
                "failurePolicy",
                "matchPolicy",
                "sideEffects",
                "timeoutSeconds",
                "admissionReviewVersions",
                "reinvocationPolicy",
                "matchConditions",
            ] {
                row(field, &cw[field], &hw[field]);
            }
            let (cp, hp) = (
                json!(client_path(&cw["clientConfig"])),
                json!(client_path(&hw["clientConfig"])),
            );
            row("path", &cp, &hp);
            let (cp, hp) = (&controller_policies[id], &harness_policies[id]);
            assert!(
                cp.is_object(),
                "{id} is not in the controller's policies.yml"
            );
            for field in ["settings", "policyMode", "allowedToMutate"] {
                row(&format!("policies.yml {field}"), &cp[field], &hp[field]);
            }
            self.diff("webhook configurations", id, &controller, harness);
            self.diff("policies.yml", &format!("policies.yml {id}"), cp, hp);
        }
    }

    fn diff(&mut self, object: &'static str, what: &str, controller: &Value, harness: &Value) {
        let diffs: Vec<Difference> = differences(controller, harness);
        for d in &diffs {
            match known(object, &d.path) {
                Some(k) => {
                    if !self.seen.contains(&(k.object, k.path)) {
                        self.seen.push((k.object, k.path));
                    }
                }
                None => self.unknown.push(format!(
                    "{what}: {}: controller {}, harness {}",
                    d.path,
                    short(d.left.as_ref()),
                    short(d.right.as_ref())
                )),
            }
        }
        self.summary.push(format!(
            "{what}: {} difference(s): {}",
            diffs.len(),
            diffs
                .iter()
                .map(|d| d.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// kubewarden-controller (the newest release the Go module proxy serves) reconciles every
/// ClusterAdmissionPolicy of examples/ without an error, installed as its Helm charts install
/// it: the rollout of docs/kubewarden.md (examples/rollout/monitor.yaml, then
/// examples/cluster-admission-policy.yaml), the validating twin and the per-team policies of
/// examples/teams/. The webhook configurations and the policies.yml it writes equal the
/// harness's but for the differences listed in KNOWN, and policy-server runs with what
/// POLICY_SERVER_ENV lists.
#[test]
fn kubewarden_controller_reconciles_the_policies() {
    let ops = operators::built();
    let charts = ops.join("kubewarden-charts");
    let c = Cluster::up("kubewarden-controller");
    c.apply_crds();
    let scratch = c.scratch();
    let main = Cap::read(example("cluster-admission-policy.yaml"));
    let twin = Cap::read(example("cluster-admission-policy-validating.yaml"));
    let monitor = Cap::read(example("rollout/monitor.yaml"));
    assert_eq!(
        (monitor.name.as_str(), monitor.mode.as_str()),
        (main.name.as_str(), "monitor"),
        "monitor.yaml is the policy in monitor mode"
    );
    let mut team_files: Vec<PathBuf> = std::fs::read_dir(example("teams"))
        .expect("examples/teams")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    team_files.sort();
    let teams: Vec<Cap> = team_files.into_iter().map(Cap::read).collect();
    assert!(teams.len() >= 3, "examples/teams holds the team policies");

    // --- the harness's registration, as the cluster tests use it (webhook.sh: the policy and
    // its twin, settings examples/settings/bounded.json), read back as stored ---
    c.webhook(Some(Host::Kubewarden), &bounded());
    let mut harness_configs = Vec::new();
    for cap in [&main, &twin] {
        harness_configs.push((
            cap.id.clone(),
            without_server_fields(c.get(&[cap.kind(), &cap.id])),
        ));
    }
    let hook_dir = c
        .webhook_configurations()
        .parent()
        .expect("the webhook folder")
        .to_owned();
    let harness_policies: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(hook_dir.join("policies.yml"))
            .expect("the harness's policies.yml"),
    )
    .expect("policies.yml is YAML");
    c.webhook(None, &bounded());
    for cap in [&main, &twin] {
        assert!(
            !c.kubectl(&["get", cap.kind(), &cap.id]).status.success(),
            "the harness's {} is still registered",
            cap.id
        );
    }
    // ... and for the other examples, what its `webhooks kubewarden` writes for them.
    let (monitor_configs, monitor_policies) =
        harness_output(&c, &[&monitor], &scratch.path("harness-monitor"));
    let team_refs: Vec<&Cap> = teams.iter().collect();
    let (team_configs, team_policies) =
        harness_output(&c, &team_refs, &scratch.path("harness-teams"));

    // --- Kubewarden as its Helm charts install it (helm template, the release names and
    // namespace of Kubewarden's docs): everything but the controller's Deployment (its process
    // runs here instead) and the audit-scanner's CronJob; the controller's own webhooks point
    // at that process on loopback ---
    c.kubectl_ok(&["create", "namespace", "kubewarden"]);
    let rendered = operators::helm_template(
        &charts.join("kubewarden-controller"),
        "kubewarden-controller",
        "kubewarden",
    );
    let webhook_port = free_port();
    let ca_bundle = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        std::fs::read(c.ca()).expect("the cluster CA"),
    );
    let mut controller_args: Vec<String> = Vec::new();
    let mut install = Vec::new();
    let mut controller_webhooks = 0;
    for mut o in rendered {
        match o["kind"].as_str().unwrap_or("") {
            "Deployment" => {
                let container = &o["spec"]["template"]["spec"]["containers"][0];
                controller_args = container["args"]
                    .as_array()
                    .expect("the controller's args")
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect();
            }
            "CronJob" => {}
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => {
                for w in o["webhooks"].as_array_mut().expect("webhooks") {
                    let path = w["clientConfig"]["service"]["path"].as_str().unwrap_or("");
                    w["clientConfig"] = json!({
                        "url": format!("https://127.0.0.1:{webhook_port}{path}"),
                        "caBundle": ca_bundle,
                    });
                    controller_webhooks += 1;
                }
                install.push(o);
            }
            _ => install.push(o),
        }
    }
    assert!(
        install
            .iter()
            .any(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "kubewarden-ca"),
        "the chart makes the CA Secret"
    );
    assert!(
        controller_webhooks >= 10,
        "the chart registers the controller's webhooks"
    );
    apply(&c, &install);

    // The controller, with its chart's flags but: no leader election (one process), the
    // probes and the webhook server on loopback. Its webhook server reads its certificate from
    // the folder the chart mounts the kubewarden-webhook-server-cert Secret on
    // ($TMPDIR/k8s-webhook-server/serving-certs): here the cluster's loopback certificate,
    // which the webhook configurations above trust.
    assert!(
        controller_args
            .iter()
            .any(|a| a == "--deployments-namespace=kubewarden"),
        "{controller_args:?}"
    );
    let probe = free_port();
    let args: Vec<String> = controller_args
        .iter()
        .filter(|a| *a != "--leader-elect")
        .map(|a| {
            if a.starts_with("--health-probe-bind-address=") {
                format!("--health-probe-bind-address=127.0.0.1:{probe}")
            } else if a.starts_with("--webhook-server-port=") {
                format!("--webhook-server-port={webhook_port}")
            } else {
                a.clone()
            }
        })
        .collect();
    let tmp = scratch.path("controller-tmp");
    let certs = tmp.join("k8s-webhook-server/serving-certs");
    std::fs::create_dir_all(&certs).expect("cert folder");
    std::fs::copy(c.pki().join("webhook.crt"), certs.join("tls.crt")).expect("tls.crt");
    std::fs::copy(c.pki().join("webhook.key"), certs.join("tls.key")).expect("tls.key");
    let mut command = Command::new(ops.join("kubewarden-controller"));
    command
        .args(&args)
        .env("KUBECONFIG", c.kubeconfig())
        .env("TMPDIR", &tmp)
        .env("KUBEWARDEN_CONTROLLER_WEBHOOK_HOST", "127.0.0.1");
    let mut controller = Process::start(
        "kubewarden-controller",
        command,
        &scratch.path("controller.log"),
    );
    controller.wait_ready(
        &format!("http://127.0.0.1:{probe}/readyz"),
        None,
        Duration::from_secs(60),
    );
    // Its webhook server answers (any status) before anything goes through it.
    c.eventually(
        "the controller's webhook server",
        Duration::from_secs(30),
        || operators::http_status(&format!("https://127.0.0.1:{webhook_port}/"), Some(&c.ca())),
    )
    .unwrap_or_else(|e| panic!("{e}:\n{}", controller.log()));

    // --- the default PolicyServer (the kubewarden-defaults chart) ---
    let defaults = operators::helm_template(
        &charts.join("kubewarden-defaults"),
        "kubewarden-defaults",
        "kubewarden",
    );
    assert!(
        defaults
            .iter()
            .any(|o| o["kind"] == "PolicyServer" && o["metadata"]["name"] == "default"),
        "kubewarden-defaults makes the PolicyServer `default`"
    );
    apply(&c, &defaults);

    // --- the rollout of docs/kubewarden.md: monitor first ... ---
    let mut comparison = Comparison {
        seen: Vec::new(),
        unknown: Vec::new(),
        rows: Vec::new(),
        summary: Vec::new(),
    };
    c.kubectl_ok(&["apply", "-f", &monitor.file.to_string_lossy()]);
    let mut marked = until_active(&c, &[&monitor], || controller.log());
    comparison.add(&c, &[&monitor], &monitor_configs, &monitor_policies);

    // --- ... then protect (an update of the same policy), the validating twin, the teams'
    // policies (`kubectl apply -f examples/teams/`) ---
    for file in [&main.file, &twin.file, &example("teams")] {
        c.kubectl_ok(&["apply", "-f", &file.to_string_lossy()]);
    }
    let mut all: Vec<&Cap> = vec![&main, &twin];
    all.extend(teams.iter());
    marked += until_active(&c, &all, || controller.log());
    assert!(marked > 0, "no policy-server Pod was marked Ready");
    for cap in &all {
        let got = c.get(&["clusteradmissionpolicy", &cap.name]);
        assert_eq!(
            got["spec"]["policyServer"], "default",
            "{}: the PolicyServer",
            cap.name
        );
    }
    comparison.add(&c, &[&main, &twin], &harness_configs, &harness_policies);
    comparison.add(&c, &team_refs, &team_configs, &team_policies);

    // What the controller runs policy-server with: its environment, each variable the
    // counterpart of one of the harness's flags (webhook.sh) or explained in POLICY_SERVER_ENV.
    let ps_deployment = c.get(&["deployment", "policy-server-default", "-n", "kubewarden"]);
    let ps_container = &ps_deployment["spec"]["template"]["spec"]["containers"][0];
    println!(
        "policy-server's container, as the controller makes it:\n{}",
        serde_json::to_string_pretty(ps_container).unwrap_or_default()
    );
    let mut env: Vec<String> = ps_container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{}={}",
                e["name"].as_str().unwrap_or(""),
                e["value"].as_str().unwrap_or("(from a source)")
            )
        })
        .collect();
    env.sort();
    let mut want: Vec<String> = POLICY_SERVER_ENV
        .iter()
        .map(|(e, _)| (*e).to_owned())
        .collect();
    want.sort();
    assert_eq!(
        env,
        want,
        "the controller runs policy-server with another environment than POLICY_SERVER_ENV says:\n{}",
        POLICY_SERVER_ENV
            .iter()
            .map(|(e, why)| format!("{e}: {why}"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    println!(
        "| policy (mode) | field | kubewarden-controller | harness | |\n|---|---|---|---|---|"
    );
    println!("{}", comparison.rows.join("\n"));
    println!("{}", comparison.summary.join("\n"));
    for k in KNOWN
        .iter()
        .filter(|k| comparison.seen.contains(&(k.object, k.path)))
    {
        println!("known: {} {}: {}", k.object, k.path, k.reason);
    }
    let gone: Vec<String> = KNOWN
        .iter()
        .filter(|k| !comparison.seen.contains(&(k.object, k.path)))
        .map(|k| format!("{}: {}", k.object, k.path))
        .collect();
    assert!(
        comparison.unknown.is_empty() && gone.is_empty(),
        "the controller's output and the harness's differ where KNOWN does not say:\n{}\nKNOWN differences no longer seen (remove them):\n{}",
        comparison.unknown.join("\n"),
        gone.join("\n")
    );

    // --- policy-server reads the controller's policies.yml: the harness's policy-server
    // started on it, only the modules made the local file, serves every policy, the mutating
    // ones adding the defaults, the validating twin refusing what lacks them ---
    let config_map = c.get(&["configmap", "policy-server-default", "-n", "kubewarden"]);
    let mut local: Value = serde_json::from_str(
        config_map["data"]["policies.yml"]
            .as_str()
            .expect("policies.yml"),
    )
    .expect("JSON");
    let module = harness_policies[&main.id]["module"].clone();
    for cap in &all {
        local[&cap.id]["module"] = module.clone();
    }
    let file = scratch.path("controller-policies.yml");
    std::fs::write(&file, local.to_string()).expect("policies.yml");
    let (port, ready_port) = (free_port(), free_port());
    std::fs::create_dir_all(scratch.path("policy-server")).expect("download folder");
    let mut ps = Command::new(engine("policy-server"));
    ps.args(["--addr", "127.0.0.1", "--port", &port.to_string()])
        .args(["--readiness-probe-port", &ready_port.to_string()])
        .arg("--cert-file")
        .arg(c.pki().join("webhook.crt"))
        .arg("--key-file")
        .arg(c.pki().join("webhook.key"))
        .arg("--policies")
        .arg(&file)
        .arg("--policies-download-dir")
        .arg(scratch.path("policy-server"))
        .arg("--sigstore-cache-dir")
        .arg(scratch.path("policy-server/sigstore"))
        .args([
            "--ignore-kubernetes-connection-failure",
            "--log-level",
            "warn",
        ]);
    let mut server = Process::start("policy-server", ps, &scratch.path("policy-server.log"));
    server.wait_ready(
        &format!("http://127.0.0.1:{ready_port}/readiness"),
        None,
        Duration::from_secs(60),
    );
    let request = host_tests::bench_deployment(1, false);
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": serde_json::from_str::<Value>(&request).expect("request"),
    });
    for cap in [&main, &twin] {
        let answer = post_json_ca(
            &format!("https://127.0.0.1:{port}/validate/{}", cap.id),
            &review,
            Some(&c.ca()),
        );
        if cap.mutating {
            assert_eq!(answer["response"]["allowed"], true, "{}: {answer}", cap.id);
            assert!(
                answer["response"]["patch"].is_string(),
                "{}: the defaults: {answer}",
                cap.id
            );
        } else {
            assert_eq!(answer["response"]["allowed"], false, "{}: {answer}", cap.id);
            let message = answer["response"]["status"]["message"]
                .as_str()
                .unwrap_or("");
            assert!(
                message.contains("cpu limit is missing"),
                "{}: {message}",
                cap.id
            );
        }
    }
    drop(server);

    // --- no error: none in the controller's log, no Warning event anywhere; the policies and
    // the PolicyServer went through the controller's own webhooks ---
    controller.assert_running();
    let log = controller.log();
    println!("--- kubewarden-controller ---\n{log}");
    let errors = error_lines(&log);
    assert!(
        errors.is_empty(),
        "kubewarden-controller logged errors:\n{}",
        errors.join("\n")
    );
    assert!(log.contains("\"msg\":\"Validating PolicyServer create\",\"name\":\"default\""));
    for cap in &all {
        assert!(
            log.contains(&format!(
                "\"msg\":\"Validating ClusterAdmissionPolicy creation\",\"name\":\"{}\"",
                cap.name
            )),
            "{} did not go through the controller's validating webhook",
            cap.name
        );
    }
    let warnings = warning_events(&c, "");
    assert!(
        warnings.is_empty(),
        "Warning events:\n{}",
        warnings.join("\n")
    );
}

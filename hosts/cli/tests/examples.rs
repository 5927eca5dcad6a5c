//! The project's own deployment examples pass the policy they deploy, and cannot lock the
//! cluster out: the webhook's own Pods (the SpinApp's and its TLS proxy's in examples/spinkube,
//! the native server's in examples/native) are inside the example bounds, so a cluster that
//! runs the policy can run the webhook too; each webhook leaves out the namespaces it needs to
//! come back, and honours the opt-out label; each replicated workload has a disruption budget.
//! examples/native is also held to what a webhook server without API access should run with
//! (no token, a non-root user, a read-only root, no capabilities).
//! tests/hosts/tests/cluster.rs applies both folders against the real API server and CRDs.

use resource_limits::Settings;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_resource-limits");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every document of every YAML file of an example folder, as JSON, with its file's name.
fn objects(folder: &str) -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(folder))
        .unwrap_or_else(|e| panic!("{folder}: {e}"))
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{folder}: no YAML files");
    let mut out = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let docs = resource_limits_yaml::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for doc in docs {
            if let Some(node) = doc.root {
                let value = node.to_value().unwrap_or_else(|e| panic!("{name}: {e}"));
                out.push((name.clone(), value));
            }
        }
    }
    out
}

fn of_kind<'a>(objects: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    objects
        .iter()
        .filter(|(_, o)| o["kind"] == kind)
        .map(|(_, o)| o)
        .collect()
}

/// `resource-limits check` with the example settings over a folder: it must pass, and have
/// judged and passed each of `judged` (a workload's kind and name).
fn check_passes(folder: &str, judged: &[(&str, &str)]) {
    let out = Command::new(BIN)
        .args([
            "check",
            "-s",
            "examples/settings/bounded.json",
            "-o",
            "json",
            folder,
        ])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "check {folder}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).expect("JSON output");
    let results = report["results"].as_array().expect("results");
    for (kind, name) in judged {
        assert!(
            results
                .iter()
                .any(|r| r["kind"] == *kind && r["name"] == *name && r["status"] == "passed"),
            "{folder}: {kind} {name} was not judged and passed: {stdout}"
        );
    }
}

#[test]
fn the_spinkube_example_passes_the_settings_it_deploys() {
    // The TLS proxy's Deployment is judged (a checked kind), and passes.
    check_passes(
        "examples/spinkube",
        &[("Deployment", "resource-limits-tls-proxy")],
    );
}

#[test]
fn the_native_example_passes_the_settings_it_deploys() {
    // The server's Deployment is judged, and passes.
    check_passes("examples/native", &[("Deployment", "resource-limits")]);
}

/// Both webhooks of a folder: each calls its path, fails closed, leaves out `needed` (the
/// namespaces the webhook needs to come back) and a namespace labelled with the opt-out
/// label; the API server gets the CA from cert-manager, from a Certificate of the folder
/// whose names include the Service it calls. Returns the webhooks.
fn webhooks_cannot_lock_out(folder: &str, needed: &[&str]) -> Vec<Value> {
    let objects = objects(folder);
    let certificates = of_kind(&objects, "Certificate");
    let mut hooks = Vec::new();
    for (kind, path) in [
        ("MutatingWebhookConfiguration", "/mutate"),
        ("ValidatingWebhookConfiguration", "/validate"),
    ] {
        let configs = of_kind(&objects, kind);
        assert_eq!(configs.len(), 1, "{folder}: one {kind}");
        let config = configs[0];
        let inject = config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
            .as_str()
            .unwrap_or_else(|| panic!("{folder}: {kind} without cert-manager.io/inject-ca-from"));
        let (ns, name) = inject.split_once('/').expect("NAMESPACE/CERTIFICATE");
        let certificate = certificates
            .iter()
            .find(|c| c["metadata"]["namespace"] == ns && c["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{folder}: no Certificate {inject}"));
        let webhooks = config["webhooks"].as_array().expect("webhooks");
        assert_eq!(webhooks.len(), 1, "{folder}: {kind}");
        for hook in webhooks {
            let what = format!("{folder}: {kind} {}", hook["name"]);
            let service = &hook["clientConfig"]["service"];
            assert_eq!(service["path"], path, "{what}");
            assert_eq!(service["port"], 443, "{what}");
            let dns = format!(
                "{}.{}.svc",
                service["name"].as_str().unwrap_or_default(),
                service["namespace"].as_str().unwrap_or_default()
            );
            assert!(
                certificate["spec"]["dnsNames"]
                    .as_array()
                    .is_some_and(|n| n.iter().any(|x| x == dns.as_str())),
                "{what}: the Certificate {inject} is not for {dns}"
            );
            assert_eq!(hook["failurePolicy"], "Fail", "{what}");
            assert_eq!(hook["sideEffects"], "None", "{what}");
            assert_eq!(hook["admissionReviewVersions"], json!(["v1"]), "{what}");
            assert!(
                hook["timeoutSeconds"]
                    .as_u64()
                    .is_some_and(|t| (1..=10).contains(&t)),
                "{what}: timeoutSeconds"
            );
            assert!(hook["rules"].to_string().contains("pods/resize"), "{what}");
            let expressions = hook["namespaceSelector"]["matchExpressions"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: namespaceSelector.matchExpressions"));
            let left_out = expressions
                .iter()
                .find(|e| e["key"] == "kubernetes.io/metadata.name" && e["operator"] == "NotIn")
                .unwrap_or_else(|| panic!("{what}: a NotIn on kubernetes.io/metadata.name"));
            for ns in needed {
                assert!(
                    left_out["values"]
                        .as_array()
                        .is_some_and(|v| v.iter().any(|x| x == ns)),
                    "{what}: {ns} is not left out"
                );
            }
            assert!(
                expressions.iter().any(|e| e
                    == &json!({"key": "resource-limits.example.com/exempt", "operator": "DoesNotExist"})),
                "{what}: no opt-out label"
            );
            hooks.push(hook.clone());
        }
    }
    hooks
}

/// Every workload of a folder that runs more than one replica has a PodDisruptionBudget of
/// `minAvailable: 1` over its Pods; returns how many there are.
fn replicated_workloads_have_a_budget(folder: &str) -> usize {
    let objects = objects(folder);
    let budgets = of_kind(&objects, "PodDisruptionBudget");
    let mut n = 0;
    for (_, o) in &objects {
        // The Pods' labels: a Deployment's template's; spin-operator labels a SpinApp's Pods
        // core.spinkube.dev/app-name=NAME.
        let labels = match o["kind"].as_str() {
            Some("Deployment") => o["spec"]["template"]["metadata"]["labels"].clone(),
            Some("SpinApp") => json!({"core.spinkube.dev/app-name": o["metadata"]["name"]}),
            _ => continue,
        };
        let what = format!("{folder}: {} {}", o["kind"], o["metadata"]["name"]);
        assert!(
            o["spec"]["replicas"].as_u64() >= Some(2),
            "{what}: replicas"
        );
        let selects = |b: &Value| {
            b["metadata"]["namespace"] == o["metadata"]["namespace"]
                && b["spec"]["selector"]["matchLabels"]
                    .as_object()
                    .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| &labels[k] == v))
        };
        let found: Vec<&Value> = budgets.iter().copied().filter(|b| selects(b)).collect();
        assert_eq!(
            found.len(),
            1,
            "{what}: one PodDisruptionBudget over its Pods"
        );
        assert_eq!(found[0]["spec"]["minAvailable"], 1, "{what}");
        n += 1;
    }
    n
}

#[test]
fn the_spinkube_example_cannot_lock_itself_out_nor_be_drained_away() {
    webhooks_cannot_lock_out(
        "examples/spinkube",
        &[
            "kube-system",
            "resource-limits",
            "cert-manager",
            "spin-operator",
            "kwasm",
        ],
    );
    // The SpinApp and the TLS proxy.
    assert_eq!(replicated_workloads_have_a_budget("examples/spinkube"), 2);
}

#[test]
fn the_native_example_cannot_lock_itself_out_nor_be_drained_away() {
    let native = webhooks_cannot_lock_out(
        "examples/native",
        &["kube-system", "resource-limits", "cert-manager"],
    );
    assert_eq!(replicated_workloads_have_a_budget("examples/native"), 1);
    // The same kinds and operations as the SpinKube example's webhooks.
    let spin = webhooks_cannot_lock_out("examples/spinkube", &[]);
    for (n, s) in native.iter().zip(&spin) {
        assert_eq!(n["rules"], s["rules"], "{}", n["name"]);
        assert_eq!(n["name"], s["name"]);
        assert_eq!(
            n["reinvocationPolicy"], s["reinvocationPolicy"],
            "{}",
            n["name"]
        );
    }
}

#[test]
fn the_native_example_runs_the_server_unprivileged_with_its_settings_and_certificate() {
    let objects = objects("examples/native");
    let one = |kind: &str| {
        let found = of_kind(&objects, kind);
        assert_eq!(found.len(), 1, "examples/native: one {kind}");
        found[0]
    };
    let namespace = one("Namespace")["metadata"]["name"].clone();
    assert_eq!(namespace, "resource-limits");
    for (_, o) in &objects {
        if !matches!(
            o["kind"].as_str(),
            Some("Namespace" | "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration")
        ) {
            assert_eq!(
                o["metadata"]["namespace"], namespace,
                "{}",
                o["metadata"]["name"]
            );
        }
    }
    let deployment = one("Deployment");
    let pod = &deployment["spec"]["template"]["spec"];

    // No API access: no token mounted, from the ServiceAccount and the Pod both.
    let account = one("ServiceAccount");
    assert_eq!(account["automountServiceAccountToken"], false);
    assert_eq!(pod["serviceAccountName"], account["metadata"]["name"]);
    assert_eq!(pod["automountServiceAccountToken"], false);

    // Replicas on different nodes where they can be.
    let spread = pod["topologySpreadConstraints"]
        .as_array()
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["topologyKey"] == "kubernetes.io/hostname")
        });
    let anti = pod["affinity"]["podAntiAffinity"]
        .to_string()
        .contains("kubernetes.io/hostname");
    assert!(spread || anti, "no spread of the replicas across nodes");

    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let image = c["image"].as_str().expect("image");
    assert!(
        image.contains("/resource-limits-server:v"),
        "{image}: not the server's image"
    );

    // Unprivileged, as the image's user, nothing to write to, no capabilities.
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["runAsUser"], 65532);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert!(sc["capabilities"]["add"].is_null());
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_ne!(sc["privileged"], true);

    // `serve` with the settings file and the certificate the volumes mount, as folders (a
    // subPath mount never sees a change, and the server reloads both on change).
    let args: Vec<&str> = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("a string"))
        .collect();
    assert_eq!(
        args,
        [
            "--settings",
            "/etc/resource-limits/settings.yaml",
            "--tls-cert-file",
            "/etc/tls/tls.crt",
            "--tls-private-key-file",
            "/etc/tls/tls.key"
        ]
    );
    assert!(
        c["command"].is_null(),
        "the image's entrypoint (serve) runs"
    );
    let mounts = c["volumeMounts"].as_array().expect("volumeMounts");
    let volumes = pod["volumes"].as_array().expect("volumes");
    let volume_at = |dir: &str| {
        let mount = mounts
            .iter()
            .find(|m| m["mountPath"] == dir)
            .unwrap_or_else(|| panic!("nothing mounted at {dir}"));
        assert!(mount["subPath"].is_null(), "{dir}: a subPath mount");
        assert_eq!(mount["readOnly"], true, "{dir}");
        volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("no volume {}", mount["name"]))
    };
    let settings_volume = volume_at("/etc/resource-limits");
    let config_map = one("ConfigMap");
    assert_eq!(
        settings_volume["configMap"]["name"],
        config_map["metadata"]["name"]
    );
    let text = config_map["data"]["settings.yaml"]
        .as_str()
        .expect("the ConfigMap's settings.yaml");
    let settings = resource_limits_yaml::settings_source::read(text)
        .unwrap_or_else(|e| panic!("the ConfigMap's settings.yaml: {e:?}"));
    let bounded =
        std::fs::read(root().join("examples/settings/bounded.json")).expect("bounded.json");
    assert_eq!(
        settings,
        Settings::from_json(&bounded).expect("bounded.json is valid"),
        "the ConfigMap's settings are not examples/settings/bounded.json's"
    );
    let tls_volume = volume_at("/etc/tls");
    let serving = of_kind(&objects, "Certificate")
        .into_iter()
        .find(|c| c["spec"]["isCA"] != true)
        .expect("the serving Certificate");
    assert_eq!(
        tls_volume["secret"]["secretName"],
        serving["spec"]["secretName"]
    );
    // Signed by a CA of its own (what the API server trusts stays when the serving
    // certificate renews), in a key format every TLS library reads.
    assert_eq!(serving["spec"]["privateKey"]["encoding"], "PKCS8");
    let issuer = serving["spec"]["issuerRef"]["name"].clone();
    let ca_issuer = of_kind(&objects, "Issuer")
        .into_iter()
        .find(|i| i["metadata"]["name"] == issuer)
        .expect("the serving certificate's Issuer");
    let ca_secret = &ca_issuer["spec"]["ca"]["secretName"];
    assert!(
        of_kind(&objects, "Certificate")
            .iter()
            .any(|c| c["spec"]["isCA"] == true && &c["spec"]["secretName"] == ca_secret),
        "the serving certificate's Issuer is no CA of the example"
    );

    // HTTPS on 8443: the probes (readiness on /readyz, liveness on /healthz) and the Service.
    let ports = c["ports"].as_array().expect("ports");
    let https = ports
        .iter()
        .find(|p| p["containerPort"] == 8443)
        .expect("containerPort 8443");
    let is_8443 = |port: &Value| port == &https["name"] || port == 8443;
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(get["scheme"], "HTTPS", "{probe}");
        assert!(is_8443(&get["port"]), "{probe}: port {}", get["port"]);
    }
    let service = one("Service");
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let service_ports = service["spec"]["ports"].as_array().expect("ports");
    assert_eq!(service_ports.len(), 1);
    assert_eq!(service_ports[0]["port"], 443);
    assert!(is_8443(&service_ports[0]["targetPort"]));
}

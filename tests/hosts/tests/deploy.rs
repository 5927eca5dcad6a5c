//! The Kubewarden manifests users apply beyond the first one: the monitor-first rollout
//! (examples/rollout/monitor.yaml, then examples/cluster-admission-policy.yaml) and the
//! per-team policies (examples/teams/). Each is run by the real kwctl as the Custom Resource
//! it is (kwctl reads its module, settings, `mode` and `mutating`), with the module pointed at
//! the built policy; the namespace selectors, which kwctl ignores, are evaluated here.

use host_tests::judge;
use host_tests::repo_root;
use host_tests::scratch::Scratch;
use resource_limits::Settings;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The manifest as a YAML tree. Not through `serde_yaml_ng::to_string(&Value)` directly:
/// with serde_json's `arbitrary_precision` (the workspace's) a number serializes to other
/// formats as a map, `{$serde_json::private::Number: '4'}`, which is what kwctl would then
/// send as the setting.
fn yaml_value(v: &Value) -> serde_yaml_ng::Value {
    use serde_yaml_ng::Value as Yaml;
    match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Number(n) => serde_yaml_ng::from_str(&n.to_string()).expect("a YAML number"),
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Sequence(items.iter().map(yaml_value).collect()),
        Value::Object(map) => Yaml::Mapping(
            map.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), yaml_value(v)))
                .collect(),
        ),
    }
}

/// `kwctl run` of a policy manifest whose module is the local `module`: the verdict and
/// kwctl's log.
fn run_manifest(s: &Scratch, manifest: &Value, module: &Path, request: &Path) -> (Value, String) {
    let mut manifest = manifest.clone();
    manifest["spec"]["module"] = json!(format!("file://{}", module.display()));
    let name = manifest["metadata"]["name"].as_str().unwrap_or("policy");
    let file = s.path(&format!("{name}.yaml"));
    let yaml = serde_yaml_ng::to_string(&yaml_value(&manifest)).expect("YAML");
    std::fs::write(&file, yaml).expect("write the manifest");
    let out = s
        .kwctl_logging("kwctl=error,policy_evaluator=info,sigstore=error,policy_fetcher=error")
        .args([
            "run",
            &file.to_string_lossy(),
            "--request-path",
            &request.to_string_lossy(),
        ])
        .output()
        .expect("kwctl runs (is it on PATH?)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "kwctl run failed: {stderr}");
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_default();
    let verdict = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("kwctl printed no verdict ({e}): {stdout}{stderr}"));
    (verdict, stderr)
}

/// The one YAML document of an examples/ file.
fn manifest(rel: &str) -> Value {
    let text =
        std::fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{rel}: not one YAML document: {e}"))
}

fn settings_of(policy: &Value) -> Settings {
    Settings::from_json(&serde_json::to_vec(&policy["spec"]["settings"]).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{}: invalid settings: {e}", policy["metadata"]["name"]))
}

#[test]
fn monitor_first_then_protect() {
    let protect = manifest("examples/cluster-admission-policy.yaml");
    let monitor = manifest("examples/rollout/monitor.yaml");
    assert_eq!(protect["spec"]["mode"], "protect");
    assert_eq!(monitor["spec"]["mode"], "monitor");
    // The same object (same name) in both steps: applying the protect file is an update of
    // the monitor policy (allowed; the reverse is not), and nothing else changes with it.
    let mut same = monitor.clone();
    same["spec"]["mode"] = json!("protect");
    assert_eq!(
        same, protect,
        "monitor.yaml differs from the protect policy beyond its mode"
    );

    let s = Scratch::new("rollout");
    let module = s.annotate();
    let settings = settings_of(&protect);
    let requests = repo_root().join("examples/requests");

    // A rejection: protect rejects with the core's message; monitor admits it untouched and
    // logs what protect would have answered.
    let over = requests.join("deployment-over-limits.json");
    let want = judge(&settings, &std::fs::read(&over).expect("request"));
    assert!(!want.allowed());
    let message = want.message().unwrap_or_default();
    let (p, _) = run_manifest(&s, &protect, &module, &over);
    assert_eq!(p["allowed"], false, "{p}");
    assert_eq!(p["status"]["message"], message.as_str());
    let (m, log) = run_manifest(&s, &monitor, &module, &over);
    assert_eq!(m["allowed"], true, "{m}");
    assert_eq!(m.get("status"), None, "{m}");
    assert_eq!(m.get("patch"), None, "{m}");
    assert!(log.contains("policy evaluation (monitor mode)"), "{log}");
    assert!(log.contains("allowed: false"), "{log}");
    // Each violation's problem (the log escapes the quotes around container names).
    for violation in message.split("; ") {
        let problem = violation.rsplit("\": ").next().unwrap_or_default();
        assert!(log.contains(problem), "{problem:?} not in {log}");
    }

    // A mutation: protect adds the defaults; monitor adds nothing and logs the patch.
    let bare = requests.join("deployment-without-resources.json");
    let want = judge(&settings, &std::fs::read(&bare).expect("request"));
    assert!(want.allowed() && want.mutation().is_some());
    let (p, _) = run_manifest(&s, &protect, &module, &bare);
    assert_eq!(
        (&p["allowed"], &p["patchType"]),
        (&json!(true), &json!("JSONPatch")),
        "{p}"
    );
    let (m, log) = run_manifest(&s, &monitor, &module, &bare);
    assert_eq!(m["allowed"], true, "{m}");
    assert_eq!(m.get("patch"), None, "monitor mode mutates nothing: {m}");
    assert!(log.contains("policy evaluation (monitor mode)"), "{log}");
    assert!(log.contains("patch: Some("), "{log}");
}

/// Kubernetes label-selector semantics (`matchLabels` and `matchExpressions` ANDed; `NotIn`
/// and `DoesNotExist` match a namespace without the key).
fn selects(selector: &Value, labels: &BTreeMap<&str, &str>) -> bool {
    let match_labels = selector["matchLabels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let labels_ok = match_labels.iter().all(|(k, v)| {
        v.as_str()
            .is_some_and(|v| labels.get(k.as_str()) == Some(&v))
    });
    let exprs = selector["matchExpressions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let exprs_ok = exprs.iter().all(|e| {
        let key = e["key"].as_str().expect("matchExpressions[].key");
        let values: Vec<&str> = e["values"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let value = labels.get(key);
        match e["operator"].as_str() {
            Some("In") => value.is_some_and(|v| values.contains(v)),
            Some("NotIn") => !value.is_some_and(|v| values.contains(v)),
            Some("Exists") => value.is_some(),
            Some("DoesNotExist") => value.is_none(),
            other => panic!("operator {other:?}"),
        }
    });
    labels_ok && exprs_ok
}

#[test]
fn per_team_policies_split_the_namespaces_and_their_bounds() {
    let main = manifest("examples/cluster-admission-policy.yaml");
    let mut teams = BTreeMap::new();
    for name in ["default", "web", "data"] {
        let policy = manifest(&format!("examples/teams/{name}.yaml"));
        assert_eq!(policy["kind"], "ClusterAdmissionPolicy", "{name}");
        assert_eq!(policy["spec"]["mode"], "protect", "{name}");
        assert_eq!(policy["spec"]["module"], main["spec"]["module"], "{name}");
        assert_eq!(policy["spec"]["rules"], main["spec"]["rules"], "{name}");
        assert_eq!(policy["spec"]["mutating"], true, "{name}");
        settings_of(&policy);
        teams.insert(name, policy);
    }
    let names: std::collections::BTreeSet<String> = teams
        .values()
        .map(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names.len(),
        teams.len(),
        "each team policy has a name of its own"
    );
    let examples = std::fs::read_dir(repo_root().join("examples/teams"))
        .expect("examples/teams")
        .count();
    assert_eq!(
        examples,
        teams.len(),
        "every file of examples/teams is checked here"
    );

    // Every namespace gets exactly one team policy, by its `team` label; the system
    // namespaces none.
    for (namespace, team, want) in [
        ("shop", Some("web"), Some("web")),
        ("etl", Some("data"), Some("data")),
        ("misc", None, Some("default")),
        ("ml", Some("ml"), Some("default")),
        ("kube-system", None, None),
        ("kubewarden", None, None),
    ] {
        let mut labels = BTreeMap::from([("kubernetes.io/metadata.name", namespace)]);
        if let Some(t) = team {
            labels.insert("team", t);
        }
        let got: Vec<&str> = teams
            .iter()
            .filter(|(_, p)| selects(&p["spec"]["namespaceSelector"], &labels))
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(
            got,
            want.into_iter().collect::<Vec<_>>(),
            "namespace {namespace}"
        );
    }

    // Different bounds: a large Deployment passes the data team's policy and is rejected by
    // the others, each verdict as the core gives it for that policy's settings.
    let s = Scratch::new("teams");
    let module = s.annotate();
    let request = s.path("warehouse.json");
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "warehouse", "namespace": "etl"},
        "spec": {"selector": {"matchLabels": {"app": "warehouse"}}, "template": {
            "metadata": {"labels": {"app": "warehouse"}},
            "spec": {"containers": [{"name": "db", "image": "postgres:17", "resources": {
                "requests": {"cpu": "2", "memory": "8Gi"},
                "limits": {"cpu": "4", "memory": "8Gi"}}}]}}}
    });
    let review = json!({
        "uid": "team-bounds", "operation": "CREATE", "name": "warehouse", "namespace": "etl",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "requestKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "requestResource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "userInfo": {"username": "alice"},
        "object": deployment, "oldObject": null, "dryRun": false
    });
    let bytes = serde_json::to_vec(&review).expect("JSON");
    std::fs::write(&request, &bytes).expect("write the request");
    for (name, allowed) in [("default", false), ("web", false), ("data", true)] {
        let policy = &teams[name];
        let want = judge(&settings_of(policy), &bytes);
        assert_eq!(want.allowed(), allowed, "{name}: {:?}", want.message());
        let (got, _) = run_manifest(&s, policy, &module, &request);
        assert_eq!(got["allowed"], allowed, "{name}: {got}");
        if !allowed {
            assert_eq!(
                got["status"]["message"].as_str(),
                want.message().as_deref(),
                "{name}"
            );
        }
    }
}

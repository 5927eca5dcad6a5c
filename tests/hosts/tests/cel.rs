//! `resource-limits export cel` proved through the real API server (issue 26): every case of
//! the case table (`tests/cases`) and of the manifest table (`tests/manifests`) that creates
//! one of the nine checked kinds, sent with `kubectl create --dry-run=server` through the
//! Kubewarden webhooks (policy-server, registered as kubewarden-controller registers it) and
//! through the exported policies alone (a MutatingAdmissionPolicy and ValidatingAdmissionPolicies,
//! their bindings restricted to a namespace of their own, where no webhook runs), then
//! compared: allowed or not, the message after the API server's prefix, the warnings, the
//! stored object. One control plane and one policy-server: each settings is exported once, and
//! served by a pair of Kubewarden policies of its own (the mutating policy and its validating
//! twin, as `scripts/cluster/webhook.sh` registers them), both restricted to a namespace of
//! their own.
//!
//! Run it with `cargo nextest run -p host-tests --test cel --no-capture` to see the summary.

use host_tests::cluster::{
    bound_to, process_group, without_server_fields, Cluster, Host, WebhookProcess,
};
use resource_limits::workload::Kind;
use resource_limits::Settings;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The namespace the webhooks judge in (the exported policies' bindings leave it out), in the
/// test of the UPDATE paths.
const WEBHOOK_NS: &str = "through-webhook";

/// The namespace of the pair of Kubewarden policies registered last, whose answers tell that
/// the API server calls every pair registered before them.
const PROBE_NS: &str = "wh-probe";

/// How many dry runs are sent at once.
const THREADS: usize = 4;

/// Differences in `allowed` or in the stored object that are understood: (case name, reason).
/// The goal is that it stays empty.
const ALLOWED_DIFFERENCES: &[(&str, &str)] = &[];

/// One object to create, with the settings to judge it by.
#[derive(Clone, Debug)]
struct Item {
    name: String,
    settings: Value,
    object: Value,
}

/// Every case of the two tables that creates one of the checked kinds.
fn items() -> Vec<Item> {
    let mut out = Vec::new();
    for case in testkit::load() {
        if case.expect.settings_error.is_some() {
            continue;
        }
        let (Some(kind), Some(object)) = (case.kind.as_deref(), case.object.as_ref()) else {
            continue;
        };
        let Ok(request) = serde_json::from_str::<Value>(&case.request) else {
            continue;
        };
        let (group, version, _) = testkit::gvr(kind);
        if Kind::from_gvk(None, kind).is_none()
            || request["operation"] != "CREATE"
            || !request["subResource"].is_null()
            || request["kind"]["group"] != group
        {
            continue;
        }
        let mut object = object.clone();
        if object["apiVersion"].is_null() {
            object["apiVersion"] = json!(if group.is_empty() {
                version.to_owned()
            } else {
                format!("{group}/{version}")
            });
        }
        if object["kind"].is_null() {
            object["kind"] = json!(kind);
        }
        if object["metadata"]["name"].is_null() {
            object["metadata"]["name"] = json!("demo");
        }
        valid_for_the_api_server(&mut object);
        out.push(Item {
            name: case.name.clone(),
            settings: case.settings.clone(),
            object,
        });
    }
    for case in testkit::manifests::manifest_cases() {
        let settings: Value = if case.settings.trim().is_empty() {
            json!({})
        } else {
            match serde_yaml_ng::from_str::<Value>(&case.settings) {
                Ok(Value::Null) => json!({}),
                // A ClusterAdmissionPolicy (or any policy object): its spec.settings.
                Ok(v) if v["kind"].is_string() => v["spec"]["settings"].clone(),
                Ok(v) => v,
                Err(_) => continue,
            }
        };
        let mut objects = Vec::new();
        for doc in serde_yaml_ng::Deserializer::from_str(case.text()) {
            let Ok(v) = <Value as serde::Deserialize>::deserialize(doc) else {
                continue;
            };
            match v["kind"].as_str() {
                Some("List") => objects.extend(v["items"].as_array().cloned().unwrap_or_default()),
                Some(_) => objects.push(v),
                None => {}
            }
        }
        for (i, object) in objects.into_iter().enumerate() {
            let kind = object["kind"].as_str().unwrap_or_default().to_owned();
            if Kind::from_gvk(None, &kind).is_some() {
                out.push(Item {
                    name: format!("manifests {} ({}) #{i} [{kind}]", case.file, case.about),
                    settings: settings.clone(),
                    object,
                });
            }
        }
    }
    out
}

/// A Job's or CronJob's pod template needs a restartPolicy the API server accepts (the case
/// table's objects leave it out): `Never`, the same on both paths.
fn valid_for_the_api_server(object: &mut Value) {
    let spec = match object["kind"].as_str() {
        Some("Job") => object.pointer_mut("/spec/template/spec"),
        Some("CronJob") => object.pointer_mut("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    };
    if let Some(spec) = spec.and_then(Value::as_object_mut) {
        spec.entry("restartPolicy").or_insert(json!("Never"));
    }
}

/// What the API server answered to one dry run.
#[derive(Clone, Debug, Default)]
struct Outcome {
    allowed: bool,
    /// The refusal's text after the policy's prefix, or the whole error where it has none.
    message: Option<String>,
    /// Refused by the policy (its prefix found), not by the API server's own checks.
    by_policy: bool,
    warnings: Vec<String>,
    stored: Option<Value>,
}

fn outcome(out: &Output, prefix: &str) -> Outcome {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut warnings = Vec::new();
    let mut error = String::new();
    for line in stderr.lines() {
        match line.strip_prefix("Warning: ") {
            Some(w) => warnings.push(w.to_owned()),
            None => {
                error.push_str(line);
                error.push('\n');
            }
        }
    }
    let error = error.trim_end();
    let (message, by_policy) = match error.find(prefix) {
        Some(i) => (Some(error[i + prefix.len()..].to_owned()), true),
        None if out.status.success() => (None, false),
        None => (Some(error.to_owned()), false),
    };
    Outcome {
        allowed: out.status.success(),
        message,
        by_policy,
        warnings,
        stored: if out.status.success() {
            serde_json::from_slice(&out.stdout).ok()
        } else {
            None
        },
    }
}

fn dry_run(c: &Cluster, ns: &str, object: &Value) -> Output {
    let mut o = object.clone();
    o["metadata"]["namespace"] = json!(ns);
    c.kubectl_with(
        &["create", "--dry-run=server", "-o", "json", "-f", "-"],
        Some(&o.to_string()),
    )
}

/// The webhook's warnings as the exported policies can give them: no "default added" (a
/// mutating policy cannot warn), no milli-unit memory (not emitted), no request above its
/// limit (the API server refuses that object), and the rest in one warning of the warn policy.
fn expected_policy_warnings(webhook: &[String], warn_policy: &str) -> Vec<String> {
    let kept: Vec<&str> = webhook
        .iter()
        .map(String::as_str)
        .filter(|w| {
            !w.ends_with(" added (defaultLimit)")
                && !w.ends_with(" added (defaultRequest)")
                && !w.contains(" bytes (did you mean ")
                && !w.ends_with(", which the API server refuses")
        })
        .collect();
    if kept.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "Validation failed for ValidatingAdmissionPolicy '{warn_policy}' with binding '{warn_policy}': {}",
            kept.join("; ")
        )]
    }
}

/// A policy that refuses ConfigMaps named `refuse-me` and one that adds `data.canary` to every
/// ConfigMap, bound to `ns`: applied after the policies under test, so that once both act, the
/// API server has loaded every policy and binding applied before them.
fn canaries(ns: &str) -> Value {
    let rules = json!({"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}]});
    let select = json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}});
    json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
         "metadata": {"name": "zz-canary"},
         "spec": {"failurePolicy": "Fail", "matchConstraints": rules,
                  "validations": [{"expression": "object.metadata.name != 'refuse-me'", "message": "canary"}]}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
         "metadata": {"name": "zz-canary"},
         "spec": {"policyName": "zz-canary", "validationActions": ["Deny"], "matchResources": select}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy",
         "metadata": {"name": "zz-canary"},
         "spec": {"failurePolicy": "Fail", "matchConstraints": rules, "reinvocationPolicy": "Never",
                  "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": "[JSONPatch{op: 'add', path: '/data', value: {'canary': 'mutated'}}]"}}]}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicyBinding",
         "metadata": {"name": "zz-canary"},
         "spec": {"policyName": "zz-canary", "matchResources": select}},
    ]})
}

fn wait_for_canaries(c: &Cluster, ns: &str) {
    let configmap =
        |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    let seen = c.eventually("the canary policies", Duration::from_secs(60), || {
        let refused = !dry_run(c, ns, &configmap("refuse-me")).status.success();
        let out = dry_run(c, ns, &configmap("probe"));
        let stored: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        (refused && stored["data"]["canary"] == "mutated").then_some(())
    });
    assert!(seen.is_ok(), "{seen:?}");
}

/// Creates the policies (a List of them), then the canaries in `cel-canary`, and waits until
/// both canaries act: every policy applied before them is then in force.
fn apply_policies(c: &Cluster, policies: Vec<Value>) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": policies});
    let out = c.kubectl_with(&["create", "-f", "-"], Some(&list.to_string()));
    assert!(
        out.status.success(),
        "applying the exported policies: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = c.kubectl_with(
        &["create", "-f", "-"],
        Some(&canaries("cel-canary").to_string()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for_canaries(c, "cel-canary");
}

/// One settings, its items, and what its export made.
struct Group {
    settings: Value,
    items: Vec<Item>,
    policies: Vec<Value>,
    name: String,
    /// Where the exported policies judge.
    ns: String,
    /// Where this settings' Kubewarden policies judge.
    webhook_ns: String,
}

#[derive(Default)]
struct Tally {
    compared: usize,
    allowed_equal: usize,
    stored_compared: usize,
    stored_equal: usize,
    refusals: usize,
    messages_equal: usize,
    refused_by_validation: usize,
    warnings_equal: usize,
    differences: Vec<String>,
    unexpected: Vec<String>,
}

#[test]
fn exported_policies_judge_as_the_webhook() {
    let started = Instant::now();
    let all = items();
    assert!(all.len() > 100, "only {} items", all.len());
    // Group by settings, in first-seen order.
    let mut groups: Vec<Group> = Vec::new();
    let mut refused_settings = Vec::new();
    let mut unread_settings: Vec<String> = Vec::new();
    for item in all {
        if let Some(g) = groups.iter_mut().find(|g| g.settings == item.settings) {
            g.items.push(item);
            continue;
        }
        let i = groups.len() + refused_settings.len();
        let name = format!("rl-{i}");
        // Settings this test reads otherwise than the policy's reader (YAML 1.1 scalars, read
        // here by serde_yaml_ng as YAML 1.2) are left out, counted.
        let settings = match Settings::from_json(item.settings.to_string().as_bytes()) {
            Ok(s) => s,
            Err(e) => {
                unread_settings.push(format!("{}: {e}", item.name));
                continue;
            }
        };
        match resource_limits::cel::export(&settings, &name) {
            Ok(policies) => groups.push(Group {
                settings: item.settings.clone(),
                items: vec![item],
                policies,
                name,
                ns: format!("cel-{i}"),
                webhook_ns: format!("wh-{i}"),
            }),
            Err(e) => {
                if !refused_settings.iter().any(|(s, _)| *s == item.settings) {
                    refused_settings.push((item.settings.clone(), e.to_string()));
                }
            }
        }
    }
    // Items whose settings export refused are not compared.
    // Type checking (kube-controller-manager) costs seconds of CPU per policy: it is proven
    // apart, in `exported_policies_type_check_and_fit_the_cost_budget`.
    let c = Cluster::up_with("cel", &[("TYPE_CHECKING", Path::new("off"))]);
    let mut namespaces: Vec<String> = groups
        .iter()
        .flat_map(|g| [g.ns.clone(), g.webhook_ns.clone()])
        .collect();
    namespaces.push("cel-canary".into());
    namespaces.push(PROBE_NS.into());
    c.create_namespaces(&namespaces);
    // The exported policies, each group's bound to its own namespace.
    let objects: Vec<Value> = groups
        .iter()
        .flat_map(|g| g.policies.iter().map(|p| bound_to(p.clone(), &g.ns)))
        .collect();
    apply_policies(&c, objects);
    eprintln!(
        "cel: {} groups applied in {:?}",
        groups.len(),
        started.elapsed()
    );
    // The Kubewarden webhooks (the mutating policy and its validating twin) of every group,
    // served by one policy-server.
    let webhooks = serve_groups(&c, &groups);
    eprintln!(
        "cel: policy-server serving {} groups at {:?}",
        groups.len(),
        started.elapsed()
    );

    // Each item through the exported policies alone and through the webhooks, a few at once.
    let jobs: Vec<(&Group, &Item)> = groups
        .iter()
        .flat_map(|g| g.items.iter().map(move |item| (g, item)))
        .collect();
    let webhook_prefix = "\" denied the request: ";
    let outcomes = in_parallel(&jobs, THREADS, |(g, item)| {
        let prefix = format!(
            "ValidatingAdmissionPolicy '{0}' with binding '{0}' denied request: ",
            g.name
        );
        let policy = outcome(&dry_run(&c, &g.ns, &item.object), &prefix);
        let webhook = outcome(&dry_run(&c, &g.webhook_ns, &item.object), webhook_prefix);
        (webhook, policy)
    });
    eprintln!("cel: through both at {:?}", started.elapsed());
    let mut tally = Tally::default();
    for ((g, item), (webhook, policy)) in jobs.iter().zip(&outcomes) {
        compare(item, &g.name, webhook, policy, &mut tally);
    }
    // Stopped here; the cluster's teardown removes the rest.
    drop(webhooks);

    let summary = format!(
        "cases compared: {}\n  allowed equal: {}\n  stored object equal: {} of {} admitted by both\n  messages equal: {} of {} refusals by the policy ({} more refused by the API server's validation before the policy)\n  warnings equal: {}\nsettings export refused: {}{}\nleft out, settings not read here: {:?}\ndifferences:\n  {}\n",
        tally.compared,
        tally.allowed_equal,
        tally.stored_equal,
        tally.stored_compared,
        tally.messages_equal,
        tally.refusals - tally.refused_by_validation,
        tally.refused_by_validation,
        tally.warnings_equal,
        refused_settings.len(),
        refused_settings
            .iter()
            .map(|(s, e)| format!("\n  {s}: {e}"))
            .collect::<String>(),
        unread_settings,
        tally.differences.join("\n  "),
    );
    eprintln!("{summary}took {:?}", started.elapsed());
    assert!(tally.compared > 100, "{summary}");
    assert!(
        tally.unexpected.is_empty(),
        "differences in allowed or the stored object:\n  {}\n{summary}",
        tally.unexpected.join("\n  ")
    );
    assert!(
        tally.messages_equal * 100 >= (tally.refusals - tally.refused_by_validation) * 95,
        "messages equal on fewer than 95% of refusals\n{summary}"
    );
}

/// `f` of each of `items`, on `threads` threads at once, in the order of `items`.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(r);
            });
        }
    });
    let results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(
        results.iter().all(Option::is_some),
        "a thread of in_parallel failed"
    );
    results.into_iter().flatten().collect()
}

/// The settings of the pair of Kubewarden policies registered last (see [`PROBE_NS`]): a Pod
/// without a cpu limit is given one by the mutating policy, refused by its validating twin
/// (its settings less the defaults).
fn probe_settings() -> Value {
    json!({"cpu": {"defaultLimit": "1", "defaultRequest": "1"}})
}

/// A Pod labelled `probe: which` whose container has memory but no cpu.
fn probe_pod(which: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": format!("probe-{which}"), "labels": {"probe": which}},
           "spec": {"containers": [{"name": "app", "image": "app:1", "resources": {
               "limits": {"memory": "64Mi"}, "requests": {"memory": "64Mi"}}}]}})
}

/// Serves every group's settings from one policy-server: a pair of Kubewarden policies per
/// group (`examples/cluster-admission-policy.yaml` and its validating twin, renamed, their
/// namespaceSelector the group's webhook namespace alone), written by `webhooks kubewarden` as
/// `scripts/cluster/webhook.sh` writes one pair, gathered in one policies.yml; policy-server
/// started with it as webhook.sh starts it (`RESTARTABLE=1`, then started again with the
/// gathered file); every webhook configuration registered, and waited for (a last pair, in
/// [`PROBE_NS`], acts). The process is stopped when the returned value is dropped.
fn serve_groups(c: &Cluster, groups: &[Group]) -> WebhookProcess {
    let root = host_tests::repo_root();
    let settings_file = |i: &str, settings: &Value| {
        let file = c.scratch().path(&format!("settings-{i}.json"));
        std::fs::write(&file, settings.to_string()).expect("settings file");
        file
    };
    let first = groups.first().map_or(json!({}), |g| g.settings.clone());
    c.webhook_with(
        Some(Host::Kubewarden),
        &settings_file("0", &first),
        &[("RESTARTABLE", Path::new("1"))],
    );
    let hook = c.webhook_dir();
    let registered = hook.join("webhooks.yaml");
    // Its own registration judges every namespace: not this test's.
    c.kubectl_ok(&["delete", "--wait", "-f", &registered.to_string_lossy()]);
    let url = c.webhook_url();
    let read = |file: &str| -> Value {
        let text = std::fs::read_to_string(root.join(file)).expect(file);
        serde_yaml_ng::from_str(&text).expect(file)
    };
    let pair = [
        read("examples/cluster-admission-policy.yaml"),
        read("examples/cluster-admission-policy-validating.yaml"),
    ];
    let mut policies = serde_json::Map::new();
    let mut configurations = String::new();
    let mut register = |id: &str, ns: &str, settings: &Value, probe: bool| {
        let mut args = vec!["kubewarden".to_owned()];
        for (which, policy) in ["mutating", "validating"].iter().zip(&pair) {
            let mut policy = policy.clone();
            let name = format!(
                "{}-{id}",
                policy["metadata"]["name"].as_str().unwrap_or("rl")
            );
            policy["metadata"]["name"] = json!(name);
            policy["spec"]["namespaceSelector"] = json!({"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": [ns]}]});
            if probe {
                policy["spec"]["objectSelector"] = json!({"matchLabels": {"probe": which}});
            }
            let file = c.scratch().path(&format!("policy-{name}.json"));
            std::fs::write(&file, policy.to_string()).expect("policy file");
            args.extend(["-policy".to_owned(), file.to_string_lossy().into_owned()]);
        }
        let policies_file = c.scratch().path(&format!("policies-{id}.yml"));
        args.extend(
            [
                "-url",
                &url,
                "-ca",
                &c.ca().to_string_lossy(),
                "-module",
                &root.join("annotated-policy.wasm").to_string_lossy(),
                "-settings",
                &settings_file(id, settings).to_string_lossy(),
                "-policies",
                &policies_file.to_string_lossy(),
            ]
            .map(str::to_owned),
        );
        let out = Command::new(c.bin().join("webhooks"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("webhooks kubewarden");
        assert!(
            out.status.success(),
            "webhooks {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        configurations.push_str("---\n");
        configurations.push_str(&String::from_utf8_lossy(&out.stdout));
        let text = std::fs::read_to_string(&policies_file).expect("policies.yml");
        let these: serde_json::Map<String, Value> =
            serde_yaml_ng::from_str(&text).expect("policies.yml is YAML");
        policies.extend(these);
    };
    for (i, g) in groups.iter().enumerate() {
        register(&i.to_string(), &g.webhook_ns, &g.settings, false);
    }
    register("probe", PROBE_NS, &probe_settings(), true);
    assert_eq!(
        policies.len(),
        2 * (groups.len() + 1),
        "policy ids are unique"
    );
    // JSON is YAML: policy-server reads it as its policies.yml.
    std::fs::write(
        hook.join("policies.yml"),
        Value::Object(policies).to_string(),
    )
    .expect("policies.yml");
    std::fs::write(&registered, configurations).expect("webhooks.yaml");

    // policy-server reads its policies only when it starts.
    let pid = c.webhook_pid();
    c.signal_webhook_process("TERM");
    let gone = c.eventually("policy-server stopped", Duration::from_secs(30), || {
        process_group(pid).is_empty().then_some(())
    });
    assert!(gone.is_ok(), "{gone:?}");
    let process = c.restart_webhook_process();
    let ready = c.eventually(
        "policy-server serving every group",
        Duration::from_secs(300),
        || c.webhook_ready().then_some(()),
    );
    assert!(ready.is_ok(), "{ready:?}\n{}", c.log("kubewarden"));
    c.kubectl_ok(&["apply", "-f", &registered.to_string_lossy()]);
    // The configurations of each kind reach the API server in the order they were created:
    // once the last pair acts, every pair does.
    let probed = c.eventually("the webhooks", Duration::from_secs(60), || {
        let mutated = dry_run(c, PROBE_NS, &probe_pod("mutating"));
        let stored: Value = serde_json::from_slice(&mutated.stdout).unwrap_or_default();
        let refused = !dry_run(c, PROBE_NS, &probe_pod("validating"))
            .status
            .success();
        (refused && stored["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "1")
            .then_some(())
    });
    assert!(probed.is_ok(), "{probed:?}");
    process
}

fn compare(item: &Item, policy_name: &str, webhook: &Outcome, policy: &Outcome, t: &mut Tally) {
    t.compared += 1;
    let allowed_ok = ALLOWED_DIFFERENCES.iter().any(|(n, _)| *n == item.name);
    if webhook.allowed == policy.allowed {
        t.allowed_equal += 1;
    } else {
        let d = format!(
            "{}: allowed {} through the webhook, {} through the policies ({:?} / {:?})",
            item.name, webhook.allowed, policy.allowed, webhook.message, policy.message
        );
        t.differences.push(d.clone());
        if !allowed_ok {
            t.unexpected.push(d);
        }
    }
    if let (Some(w), Some(p)) = (&webhook.stored, &policy.stored) {
        t.stored_compared += 1;
        let (w, p) = (
            without_server_fields(w.clone()),
            without_server_fields(p.clone()),
        );
        if w == p {
            t.stored_equal += 1;
        } else {
            let d = format!(
                "{}: stored\n    webhook:  {w}\n    policies: {p}",
                item.name
            );
            t.differences.push(d.clone());
            if !allowed_ok {
                t.unexpected.push(d);
            }
        }
    }
    if !webhook.allowed {
        t.refusals += 1;
        if webhook.message == policy.message {
            t.messages_equal += 1;
        } else if !policy.allowed && !policy.by_policy {
            t.refused_by_validation += 1;
            t.differences.push(format!(
                "{}: message (refused by the API server's validation before the policy): {:?}",
                item.name, policy.message
            ));
        } else {
            t.differences.push(format!(
                "{}: message\n    webhook:  {:?}\n    policies: {:?}",
                item.name, webhook.message, policy.message
            ));
        }
    }
    // The API server's own warnings (a fractional byte value, ...) are not the policies': on
    // the policies' path only theirs are compared, and on the webhook's path those the API
    // server gave on both.
    let from_policy: Vec<String> = policy
        .warnings
        .iter()
        .filter(|w| w.starts_with("Validation failed for ValidatingAdmissionPolicy '"))
        .cloned()
        .collect();
    let from_webhook: Vec<String> = webhook
        .warnings
        .iter()
        .filter(|w| !policy.warnings.contains(w))
        .cloned()
        .collect();
    let want = expected_policy_warnings(&from_webhook, &format!("{policy_name}-warn"));
    if want == from_policy {
        t.warnings_equal += 1;
    } else {
        t.differences.push(format!(
            "{}: warnings\n    webhook:  {:?}\n    policies: {:?}",
            item.name, webhook.warnings, policy.warnings
        ));
    }
}

/// A Pod of `n` containers and `n` init containers, each with `resources`.
fn many_containers(n: usize, resources: Value) -> Value {
    let containers = |prefix: &str| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"name": format!("{prefix}-{i}"), "image": "nginx", "resources": resources.clone()}))
            .collect()
    };
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "many"},
           "spec": {"initContainers": containers("init"), "containers": containers("app")}})
}

/// The exported ValidatingAdmissionPolicies type-check without a warning against every kind
/// they match (kube-controller-manager's validatingadmissionpolicy-status controller writes
/// `status.typeChecking`), and evaluate a Pod of 100 containers and 100 init containers, and
/// larger ones, within the API server's CEL cost budget.
#[test]
fn exported_policies_type_check_and_fit_the_cost_budget() {
    let started = Instant::now();
    let c = Cluster::up("cel-types");
    let bounded: Value = serde_json::from_slice(
        &std::fs::read(host_tests::repo_root().join("examples/settings/bounded.json"))
            .expect("bounded.json"),
    )
    .expect("JSON");
    // Every kind of rule: defaults, bounds, a ratio, warn and deny, an extended resource,
    // ignore lists.
    let mixed = json!({
        "cpu": {"maxLimit": "2", "minRequest": "10m", "maxLimitRequestRatio": "1.5", "enforcement": "warn"},
        "memory": {"maxLimit": "1Gi", "defaultLimit": "256Mi", "forbidLimit": false},
        "resources": {"nvidia.com/gpu": {"maxLimit": "1", "requireRequest": false}},
        "ignoreInitContainers": true,
        "ignoreContainers": ["istio-proxy"],
        "ignoreImages": ["registry.example.com/platform/*"],
    });
    let mut objects = Vec::new();
    let mut vaps = Vec::new();
    for (name, settings) in [("bounded", &bounded), ("mixed", &mixed)] {
        let parsed = Settings::from_json(settings.to_string().as_bytes()).expect("settings");
        let exported = resource_limits::cel::export(&parsed, name).expect("export");
        for p in exported {
            if p["kind"] == "ValidatingAdmissionPolicy" {
                vaps.push(
                    p["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            objects.push(bound_to(p, name));
        }
    }
    // Every expression compiles for every kind its policy matches, in the environment
    // kube-controller-manager type-checks in (scripts/cluster/cmd/celcost), variables and match
    // conditions too, which the status below does not cover (it checks validations only).
    let expressions: usize = objects
        .iter()
        .map(|p| {
            let spec = &p["spec"];
            let count = |field: &str| spec[field].as_array().map_or(0, Vec::len);
            count("matchConditions")
                + count("variables")
                + 2 * count("validations")
                + count("mutations")
        })
        .sum();
    let stream: String = objects
        .iter()
        .map(|p| format!("---\n{}\n", serde_json::to_string(p).expect("JSON")))
        .collect();
    // celcost's tables and the expressions that do not compile are on its stdout.
    let table = host_tests::certs::run(
        Command::new(c.bin().join("celcost")).args(["-kinds", "all"]),
        Some(stream.as_bytes()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let table = String::from_utf8_lossy(&table).into_owned();
    let kinds = [
        "Pod",
        "PodTemplate",
        "ReplicationController",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
    ];
    let rows = table
        .lines()
        .filter(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            cells.len() > 4 && cells[2].starts_with("spec.") && kinds.contains(&cells[3])
        })
        .count();
    assert_eq!(rows, expressions * kinds.len(), "{table}");
    let mut report = vec![format!(
        "celcost: {expressions} expressions, each compiled and its cost estimated for each of the nine kinds"
    )];

    c.create_namespaces(&["bounded", "mixed", "cel-canary"]);
    apply_policies(&c, objects);

    // The cost: 100 containers and 100 init containers without resources get the defaults and
    // are admitted; with a limit above maxLimit each, refused with the first 100 violations.
    let admitted = dry_run(&c, "bounded", &many_containers(100, json!({})));
    let stderr = String::from_utf8_lossy(&admitted.stderr).into_owned();
    assert!(admitted.status.success(), "100 + 100 containers: {stderr}");
    let stored: Value = serde_json::from_slice(&admitted.stdout).expect("stored Pod");
    assert_eq!(
        stored["spec"]["containers"][99]["resources"],
        json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "128Mi"}})
    );
    report.push("100 + 100 containers without resources: admitted with the defaults".to_owned());
    let over = json!({"limits": {"cpu": "8", "memory": "1Gi"}, "requests": {"cpu": "2", "memory": "256Mi"}});
    for n in [100, 1000] {
        let out = dry_run(&c, "bounded", &many_containers(n, over.clone()));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let cut = &stderr[..stderr.len().min(300)];
        assert!(
            !stderr.contains("cost") && !stderr.contains("budget"),
            "{n} + {n} containers over maxLimit: {cut}"
        );
        assert!(
            !out.status.success()
                && stderr.contains("denied request: spec.initContainers[0] \"init-0\": cpu limit 8 exceeds maxLimit 4")
                && (stderr.contains("more violations") || stderr.trim_end().ends_with(" (cut)")),
            "{n} + {n} containers over maxLimit: {cut} ... {}",
            &stderr[stderr.len().saturating_sub(200)..]
        );
        report.push(format!(
            "{n} + {n} containers over maxLimit: refused by the policy, no cost error"
        ));
    }

    // Type checking: each policy's status written for its generation, with no warning.
    for name in &vaps {
        let status = c.eventually(
            &format!("the type checking of {name}"),
            Duration::from_secs(240),
            || {
                let p = c.get(&["validatingadmissionpolicies", name]);
                (p["status"]["observedGeneration"] == p["metadata"]["generation"])
                    .then(|| p["status"].clone())
            },
        );
        let status = status.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            status["typeChecking"]["expressionWarnings"]
                .as_array()
                .map_or(0, Vec::len),
            0,
            "{name}: {status}"
        );
        report.push(format!("{name}: type checked, no warning"));
    }
    eprintln!("{}\ntook {:?}", report.join("\n"), started.elapsed());
}

/// What an UPDATE or a resize sends: the whole new object (`kubectl replace`), a strategic
/// merge patch of the object, or one of the Pod's `resize` subresource.
enum Change {
    Replace(Value),
    Patch(Value),
    Resize(Value),
}

/// `kubectl replace` or `kubectl patch --subresource resize`, as a server-side dry run, of the
/// object `name` in `ns`.
fn dry_run_change(c: &Cluster, ns: &str, kind: &str, name: &str, change: &Change) -> Output {
    match change {
        Change::Replace(object) => {
            let mut o = object.clone();
            o["metadata"]["namespace"] = json!(ns);
            c.kubectl_with(
                &["replace", "--dry-run=server", "-o", "json", "-f", "-"],
                Some(&o.to_string()),
            )
        }
        Change::Patch(patch) | Change::Resize(patch) => {
            let patch = patch.to_string();
            let mut args = vec!["patch", kind, name, "-n", ns, "-p", &patch];
            if matches!(change, Change::Resize(_)) {
                args.extend(["--subresource", "resize"]);
            }
            args.extend(["--dry-run=server", "-o", "json"]);
            c.kubectl(&args)
        }
    }
}

/// The UPDATE paths through the API server: a Deployment's UPDATE judged as its CREATE (over
/// the bounds refused, without limits given the defaults, a change of replicas admitted as
/// it is), a Pod's own UPDATE admitted untouched, and `pods/resize` checked against the
/// bounds only; each through the exported policies and through the Kubewarden webhooks,
/// with the same verdict, message and stored object.
#[test]
fn updates_and_resizes_judge_as_the_webhook() {
    let text = std::fs::read(host_tests::repo_root().join("examples/settings/bounded.json"))
        .expect("settings");
    let settings = Settings::from_json(&text).expect("valid settings");
    let name = "rl-update";
    let policies = resource_limits::cel::export(&settings, name).expect("exported");
    let c = Cluster::up_with("cel-update", &[("TYPE_CHECKING", Path::new("off"))]);
    let policy_ns = "cel-update";
    c.create_namespaces(&[policy_ns, WEBHOOK_NS, "cel-canary"]);
    apply_policies(
        &c,
        policies
            .into_iter()
            .map(|p| bound_to(p, policy_ns))
            .collect(),
    );
    let file = c.scratch().path("settings.json");
    std::fs::write(&file, &text).expect("settings file");

    let fits = json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}});
    let deployment = |replicas: u32, resources: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": "web:1", "resources": resources}]}}}})
    };
    let pod = |labels: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": labels},
               "spec": {"containers": [{"name": "app", "image": "app:1", "resources": fits.clone()}]}})
    };
    // The objects as they are before each change, stored (both paths admit them; the
    // webhooks are registered after the changes through the policies, for they would judge
    // every namespace).
    for ns in [policy_ns, WEBHOOK_NS] {
        for object in [deployment(1, fits.clone()), pod(json!({}))] {
            let mut o = object;
            o["metadata"]["namespace"] = json!(ns);
            let out = c.kubectl_with(&["create", "-f", "-"], Some(&o.to_string()));
            assert!(
                out.status.success(),
                "{ns}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let resize = |cpu: &str| {
        Change::Resize(
            json!({"spec": {"containers": [{"name": "app", "resources": {
            "requests": {"cpu": cpu, "memory": "64Mi"}, "limits": {"cpu": cpu, "memory": "128Mi"}}}]}}),
        )
    };
    // (what, kind, change, admitted, mutated)
    let cases = [
        (
            "a Deployment's UPDATE over the bounds",
            "deployment",
            Change::Replace(deployment(
                1,
                json!({"limits": {"cpu": "64", "memory": "128Mi"}}),
            )),
            false,
        ),
        (
            "a Deployment's UPDATE without resources (the defaults added)",
            "deployment",
            Change::Replace(deployment(1, json!({}))),
            true,
        ),
        (
            "a Deployment's UPDATE of its replicas",
            "deployment",
            Change::Replace(deployment(3, fits.clone())),
            true,
        ),
        (
            "a Pod's own UPDATE (a label), admitted untouched",
            "pod",
            Change::Patch(json!({"metadata": {"labels": {"tier": "web"}}})),
            true,
        ),
        ("a resize over the bounds", "pod", resize("64"), false),
        ("a resize within the bounds", "pod", resize("150m"), true),
    ];
    let policy_prefix =
        format!("ValidatingAdmissionPolicy '{name}' with binding '{name}' denied request: ");
    let object_of = |kind: &str| if kind == "pod" { "p" } else { "web" };
    let through_policies: Vec<Outcome> = cases
        .iter()
        .map(|(_, kind, change, _)| {
            outcome(
                &dry_run_change(&c, policy_ns, kind, object_of(kind), change),
                &policy_prefix,
            )
        })
        .collect();
    c.webhook(Some(Host::Kubewarden), &file);
    let mut problems = Vec::new();
    for ((what, kind, change, admitted), policy) in cases.iter().zip(through_policies) {
        let webhook = outcome(
            &dry_run_change(&c, WEBHOOK_NS, kind, object_of(kind), change),
            "\" denied the request: ",
        );
        if webhook.allowed != *admitted || policy.allowed != *admitted {
            problems.push(format!(
                "{what}: admitted {} through the webhook, {} through the policies, expected {admitted} ({:?} / {:?})",
                webhook.allowed, policy.allowed, webhook.message, policy.message
            ));
            continue;
        }
        if !admitted && (webhook.message != policy.message || !policy.by_policy) {
            problems.push(format!(
                "{what}: message\n    webhook:  {:?}\n    policies: {:?}",
                webhook.message, policy.message
            ));
        }
        if let (Some(w), Some(p)) = (&webhook.stored, &policy.stored) {
            let (w, p) = (
                without_server_fields(w.clone()),
                without_server_fields(p.clone()),
            );
            if w != p {
                problems.push(format!(
                    "{what}: stored\n    webhook:  {w}\n    policies: {p}"
                ));
            }
        }
    }
    c.webhook(None, &file);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

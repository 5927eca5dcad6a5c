//! `resource-limits audit` against a real control plane (no webhook, as before a policy is
//! deployed): bare Pods, a Deployment with the ReplicaSet and Pod its controllers made, a
//! CronJob, in several namespaces; each reported as protect mode would treat it, owners in
//! place of what they own; one namespace alone; and a reader that may not list every kind
//! stopped with the permission it lacks.

use host_tests::cluster::Cluster;
use host_tests::repo_root;
use resource_limits::Settings;
use resource_limits::Verdict;
use resource_limits_audit::{run, Audit, AuditError, Options};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

fn settings() -> Settings {
    let text = std::fs::read(repo_root().join("examples/settings/bounded.json")).expect("settings");
    Settings::from_json(&text).expect("valid settings")
}

fn pod(ns: &str, name: &str, resources: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
           "spec": {"containers": [{"name": "app", "image": "app:1", "resources": resources}]}})
}

/// The CLI with its default features (audit among them), built beside the tests: a binary
/// left there by another build may lack them.
fn cli() -> std::path::PathBuf {
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "-q",
                "-p",
                "resource-limits-cli",
                "--manifest-path",
            ])
            .arg(repo_root().join("Cargo.toml"))
            .status()
            .expect("cargo");
    assert!(status.success(), "building the CLI");
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("resource-limits")))
        .filter(|p| p.exists())
        .expect("the CLI beside the tests")
}

fn outcome(v: &Verdict) -> &'static str {
    match v {
        Verdict::Accepted(Some(_), _) => "defaults",
        Verdict::Accepted(None, _) => "pass",
        Verdict::Skipped(_) => "skipped",
        _ => "refused",
    }
}

/// `namespace Kind/name` → outcome, for the audit's objects in the test's namespaces.
fn outcomes(audit: &Audit) -> BTreeMap<String, &'static str> {
    audit
        .objects
        .iter()
        .filter(|o| o.namespace.starts_with("audit-"))
        .map(|o| {
            (
                format!("{} {}/{}", o.namespace, o.target.kind, o.name),
                outcome(&o.verdict),
            )
        })
        .collect()
}

#[test]
fn the_cluster_as_protect_mode_would_judge_it() {
    let c = Cluster::up("audit");
    for ns in ["audit-a", "audit-b", "audit-c"] {
        c.kubectl_ok(&["create", "namespace", ns]);
    }
    let objects = [
        pod(
            "audit-a",
            "fine",
            json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}),
        ),
        pod("audit-a", "bare", json!({})),
        pod(
            "audit-a",
            "big",
            json!({"limits": {"cpu": "8", "memory": "1Gi"}}),
        ),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "audit-b"},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "audit-c"},
               "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                   "restartPolicy": "Never",
                   "containers": [{"name": "job", "image": "job:1", "resources": {"limits": {"cpu": "1", "memory": "4Gi"}}}]}}}}}}),
    ];
    for o in &objects {
        let out = c.kubectl_with(&["create", "-f", "-"], Some(&o.to_string()));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The Deployment's controllers make its ReplicaSet and its Pod (no scheduler: it stays
    // Pending, which is enough to be listed).
    c.eventually("the Deployment's Pod", Duration::from_secs(60), || {
        let pods = c.get(&["pods", "-n", "audit-b"]);
        (pods["items"].as_array().map_or(0, Vec::len) == 1).then_some(())
    })
    .expect("the Deployment's Pod");

    let settings = settings();
    let options = Options {
        kubeconfig: Some(c.kubeconfig()),
        page_size: 2, // several pages of every kind
        ..Options::default()
    };
    let audit = run(&settings, &options).expect("audit");
    let want: BTreeMap<String, &str> = [
        ("audit-a Pod/fine", "pass"),
        ("audit-a Pod/bare", "defaults"),
        ("audit-a Pod/big", "refused"),
        ("audit-b Deployment/web", "defaults"),
        ("audit-c CronJob/nightly", "refused"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(outcomes(&audit), want);
    let web = audit
        .objects
        .iter()
        .find(|o| o.name == "web")
        .expect("the Deployment");
    assert_eq!(
        web.owns,
        BTreeMap::from([("Pod", 1), ("ReplicaSet", 1)]),
        "the ReplicaSet and the Pod are counted through their Deployment"
    );
    let big = audit.objects.iter().find(|o| o.name == "big").expect("big");
    assert_eq!(
        big.verdict.message().as_deref(),
        // The API server gave the Pod its limits as requests.
        Some("spec.containers[0] \"app\": cpu limit 8 exceeds maxLimit 4; spec.containers[0] \"app\": cpu request 8 exceeds maxRequest 2")
    );
    let nightly = audit
        .objects
        .iter()
        .find(|o| o.name == "nightly")
        .expect("nightly");
    assert!(
        nightly
            .verdict
            .message()
            .is_some_and(|m| m.contains("memory limit 4Gi exceeds maxLimit 2Gi")),
        "{:?}",
        nightly.verdict.message()
    );
    assert!(audit.namespaces.contains("audit-b"));

    // The same through the CLI: one line per refusal and per default due, the summary, exit 1.
    let cli = cli();
    let out = std::process::Command::new(&cli)
        .args(["audit", "-s"])
        .arg(repo_root().join("examples/settings/bounded.json"))
        .arg("--kubeconfig")
        .arg(c.kubeconfig())
        .output()
        .expect("resource-limits audit");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "audit-a Pod/big: spec.containers[0] \"app\": cpu limit 8 exceeds maxLimit 4\n",
        "audit-a Pod/bare: spec.containers[0] \"app\": cpu limit is missing (defaultLimit 1 would be added)\n",
        "audit-b Deployment/web: spec.template.spec.containers[0] \"web\": memory request is missing (defaultRequest 128Mi would be added)\n",
        "audit-c CronJob/nightly: spec.jobTemplate.spec.template.spec.containers[0] \"job\": memory limit 4Gi exceeds maxLimit 2Gi\n",
    ] {
        assert!(text.contains(line), "no {line:?} in:\n{text}");
    }
    assert!(!text.contains("Pod/fine"), "{text}");
    assert!(text.contains("would be refused"), "{text}");

    // Settings given as a ClusterAdmissionPolicy: its rules' kinds, its selectors.
    c.kubectl_ok(&["label", "namespace", "audit-c", "team=batch"]);
    c.kubectl_ok(&["label", "pod", "fine", "-n", "audit-a", "audit=skip"]);
    let policy = json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "ClusterAdmissionPolicy",
        "metadata": {"name": "limits"},
        "spec": {"module": "registry://example/resource-limits:v0.1.0", "mutating": true,
            "rules": [
                {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE", "UPDATE"]},
                {"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["cronjobs"], "operations": ["CREATE"]},
                {"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"], "operations": ["UPDATE"]}],
            "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["batch"]}]},
            "objectSelector": {"matchExpressions": [{"key": "audit", "operator": "NotIn", "values": ["skip"]}]},
            "settings": serde_json::from_slice::<serde_json::Value>(
                &std::fs::read(repo_root().join("examples/settings/bounded.json")).expect("settings")).expect("JSON")}});
    let told = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pages: resource_limits_audit::Progress = {
        let told = told.clone();
        std::sync::Arc::new(move |_, _| {
            told.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
    };
    let scope = resource_limits_audit::Scope::of_policy(&policy)
        .expect("a readable policy")
        .expect("a policy");
    assert_eq!(
        scope.kinds.iter().map(|t| t.kind).collect::<Vec<_>>(),
        ["CronJob", "Pod"],
        "Deployments are only updated under its rules"
    );
    let scoped = run(
        &settings,
        &Options {
            scope: Some(scope),
            // Paced (the path a busy API server's operator takes), and told of each page.
            requests_per_second: 50,
            progress: Some(pages.clone()),
            ..options.clone()
        },
    )
    .expect("audit in the policy's scope");
    // Out: the labelled Pod (object selector), the batch namespace's CronJob (namespace
    // selector), the Deployment (its rules only name its UPDATE). In: the Deployment's Pod,
    // reported itself, since its owners are not listed: the policy judges its CREATE.
    let keys: Vec<String> = outcomes(&scoped).keys().cloned().collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_eq!(
        keys[..2],
        ["audit-a Pod/bare", "audit-a Pod/big"],
        "{keys:?}"
    );
    assert!(keys[2].starts_with("audit-b Pod/web-"), "{keys:?}");
    assert!(
        told.load(std::sync::atomic::Ordering::Relaxed) >= 2,
        "the progress is told of each page"
    );
    assert!(
        scoped.out_of_scope >= 1,
        "the CronJob of the batch namespace"
    );
    let policy_file = c.scratch().path("policy.yaml");
    std::fs::write(&policy_file, policy.to_string()).expect("policy file");
    let out = std::process::Command::new(&cli)
        .args(["audit", "-s"])
        .arg(&policy_file)
        .arg("--kubeconfig")
        .arg(c.kubeconfig())
        .output()
        .expect("resource-limits audit");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("audit-a Pod/big:") && !text.contains("CronJob/nightly"),
        "{text}"
    );
    assert!(
        text.contains("left out by the policy's namespace selector"),
        "{text}"
    );

    // One namespace alone.
    let only_a = run(
        &settings,
        &Options {
            namespace: Some("audit-a".into()),
            ..options.clone()
        },
    )
    .expect("audit of one namespace");
    assert_eq!(
        only_a
            .objects
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        ["bare", "big", "fine"] // as the API server lists them: by name
    );

    // A reader that may list everything but DaemonSets: stopped, naming what it lacks.
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "audit-partial"},
        "rules": [
            {"apiGroups": [""], "resources": ["pods", "replicationcontrollers", "podtemplates"], "verbs": ["list"]},
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["list"]},
            {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets"], "verbs": ["list"]}]});
    let out = c.kubectl_with(&["apply", "-f", "-"], Some(&role.to_string()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.kubectl_ok(&["create", "serviceaccount", "auditor", "-n", "audit-a"]);
    c.kubectl_ok(&[
        "create",
        "clusterrolebinding",
        "audit-partial",
        "--clusterrole=audit-partial",
        "--serviceaccount=audit-a:auditor",
    ]);
    let token = c.kubectl_ok(&["create", "token", "auditor", "-n", "audit-a"]);
    let kubeconfig = c.scratch().path("auditor.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"{}\", certificate-authority: \"{}\"}}\nusers:\n- name: u\n  user: {{token: \"{}\"}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n",
            c.api_server(),
            c.ca().display(),
            token.trim()
        ),
    )
    .expect("kubeconfig");
    let denied = run(
        &settings,
        &Options {
            kubeconfig: Some(kubeconfig),
            ..Options::default()
        },
    );
    match denied {
        Err(
            e @ AuditError::List {
                status: Some(403), ..
            },
        ) => {
            let text = e.to_string();
            assert!(
                text.starts_with("not allowed to list daemonsets (apps/v1) in any namespace: the audit needs list on daemonsets in API group apps: ")
                    && text.contains("system:serviceaccount:audit-a:auditor"),
                "{text}"
            );
        }
        other => panic!("not refused for DaemonSets: {other:?}"),
    }
}

/// The names, results and messages of the reports in a namespace, by the name of the object
/// each is about (read back with kubectl, as a user reads them).
fn reports(c: &Cluster, plural: &str, ns: &str) -> BTreeMap<String, (String, String, String)> {
    let list = c.get(&[plural, "-n", ns]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let result = &r["results"][0];
            (
                r["scope"]["name"].as_str().unwrap_or_default().to_owned(),
                (
                    r["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    result["result"].as_str().unwrap_or_default().to_owned(),
                    result["message"].as_str().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect()
}

/// `audit --report`: one report per audited object, read back with kubectl; a second run
/// updates them in place (a fixed object's result turns to pass), and the report of an object
/// that is gone is removed. Both formats; a format whose CRD the cluster lacks stops the run
/// with exit 2 and says what to install; the CLI's summary counts what it wrote.
#[test]
fn reports_written_updated_and_removed() {
    let c = Cluster::up("audit-report");
    c.apply_crds();
    c.kubectl_ok(&["create", "namespace", "audit-r"]);
    for o in [
        pod(
            "audit-r",
            "fine",
            json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}),
        ),
        pod("audit-r", "bare", json!({})),
        pod(
            "audit-r",
            "big",
            json!({"limits": {"cpu": "8", "memory": "1Gi"}}),
        ),
    ] {
        let out = c.kubectl_with(&["create", "-f", "-"], Some(&o.to_string()));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cli = cli();
    let settings = repo_root().join("examples/settings/bounded.json");
    let audit = |format: &str, extra: &[&str]| {
        let out = std::process::Command::new(&cli)
            .args(["audit", "-n", "audit-r", "--report", format, "-s"])
            .arg(&settings)
            .arg("--kubeconfig")
            .arg(c.kubeconfig())
            .args(extra)
            .output()
            .expect("resource-limits audit");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = audit("openreports", &[]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("3 Reports (openreports.io/v1alpha1) written for policy resource-limits: 1 pass, 1 fail, 1 warn; 0 of earlier runs removed\n"),
        "{out}"
    );
    let first = reports(&c, "reports.openreports.io", "audit-r");
    let results: BTreeMap<&str, &str> = first
        .iter()
        .map(|(k, (_, r, _))| (k.as_str(), r.as_str()))
        .collect();
    assert_eq!(
        results,
        BTreeMap::from([("bare", "warn"), ("big", "fail"), ("fine", "pass")])
    );
    assert_eq!(
        first["big"].2,
        "spec.containers[0] \"app\": cpu limit 8 exceeds maxLimit 4; spec.containers[0] \"app\": cpu request 8 exceeds maxRequest 2"
    );
    assert!(
        first["bare"].2.contains(
            "spec.containers[0] \"app\": cpu limit is missing (defaultLimit 1 would be added)"
        ),
        "{:?}",
        first["bare"]
    );
    // Owned by its object, named after the policy and the object's uid.
    let big_uid = c.kubectl_ok(&[
        "get",
        "pod",
        "big",
        "-n",
        "audit-r",
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    assert_eq!(first["big"].0, format!("resource-limits-{big_uid}"));
    let owner = c.kubectl_ok(&[
        "get",
        "reports.openreports.io",
        &first["big"].0,
        "-n",
        "audit-r",
        "-o",
        "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}",
    ]);
    assert_eq!(owner, "Pod/big");

    // Fixed: big is replaced by a Pod within the bounds (a Pod's resources cannot be
    // changed in place beyond a resize), fine is deleted. The second run updates what is
    // still there and removes the rest.
    c.kubectl_ok(&[
        "delete",
        "pod",
        "big",
        "fine",
        "-n",
        "audit-r",
        "--wait=true",
    ]);
    let out = c.kubectl_with(
        &["create", "-f", "-"],
        Some(&pod("audit-r", "big", json!({"requests": {"cpu": "1", "memory": "64Mi"}, "limits": {"cpu": "2", "memory": "128Mi"}})).to_string()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, out, err) = audit("openreports", &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let second = reports(&c, "reports.openreports.io", "audit-r");
    let results: BTreeMap<&str, &str> = second
        .iter()
        .map(|(k, (_, r, _))| (k.as_str(), r.as_str()))
        .collect();
    assert_eq!(results, BTreeMap::from([("bare", "warn"), ("big", "pass")]));
    assert_eq!(second["bare"].0, first["bare"].0, "updated in place");
    assert!(
        out.contains("2 Reports (openreports.io/v1alpha1) written for policy resource-limits: 1 pass, 0 fail, 1 warn; "),
        "{out}"
    );
    // The old big's report went with it (its owner) or as stale; fine's likewise.
    let names: Vec<String> = second.values().map(|(n, _, _)| n.clone()).collect();
    assert!(
        !names.contains(&first["big"].0) && !names.contains(&first["fine"].0),
        "{names:?}"
    );

    // The other format, under a name of our choosing, paced (the writes too); JSON output
    // counts it.
    let (code, out, err) = audit(
        "policyreport",
        &[
            "--policy-name",
            "clusterwide-limits",
            "--requests-per-second",
            "50",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["reports"]["kind"], "PolicyReport");
    assert_eq!(v["reports"]["written"], 2);
    let policy_reports = reports(&c, "policyreports.wgpolicyk8s.io", "audit-r");
    assert_eq!(policy_reports.len(), 2);
    assert!(
        policy_reports["bare"].0.starts_with("clusterwide-limits-"),
        "{policy_reports:?}"
    );
    // The first policy's reports are not this policy's to remove.
    assert_eq!(reports(&c, "reports.openreports.io", "audit-r").len(), 2);

    // A cluster that does not serve the format: exit 2, saying what to install.
    c.kubectl_ok(&["delete", "crd", "policyreports.wgpolicyk8s.io"]);
    c.eventually("the CRD gone", Duration::from_secs(60), || {
        (!c.kubectl(&["get", "crd", "policyreports.wgpolicyk8s.io"])
            .status
            .success())
        .then_some(())
    })
    .expect("the CRD deleted");
    let (code, out, err) = audit("policyreport", &[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("cannot write policyreports (wgpolicyk8s.io/v1alpha2) in namespace audit-r: the cluster does not serve them; install the PolicyReport CustomResourceDefinition"),
        "{err}"
    );
}

//! End to end with the real kwctl (../shared/bin/kwctl here, the user's own elsewhere):
//! annotate, run every example, push to a real OCI registry (Debian's docker-registry on
//! 127.0.0.1), pull back, run from the registry, scaffold the ClusterAdmissionPolicy.

use base64::Engine as _;
use host_tests::judge;
use host_tests::scratch::{Registry, Scratch};
use host_tests::{examples, repo_root};
use resource_limits::Settings;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The verdict line kwctl prints (the AdmissionReview response).
fn verdict(stdout: &str) -> Value {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("kwctl printed no verdict ({e}): {stdout}"))
}

/// Checks kwctl's answer against the native core's verdict on the same input.
fn check_against_core(answer: &Value, settings: &Path, request: &Path) -> &'static str {
    let ctx = format!("{} with {}", request.display(), settings.display());
    let settings = Settings::from_json(&std::fs::read(settings).expect("settings file"))
        .expect("example settings are valid");
    let request_json = std::fs::read(request).expect("request file");
    let want = judge(&settings, &request_json);
    assert_eq!(answer["allowed"], want.allowed(), "{ctx}: {answer}");
    // The SDK's warnings, relayed in the AdmissionReview as the API server reads them.
    assert_eq!(
        testkit::strings(&answer["warnings"]),
        want.admission_warnings(),
        "{ctx}: {answer}"
    );
    if !want.allowed() {
        assert_eq!(answer["status"]["code"], 400, "{ctx}");
        assert_eq!(
            answer["status"]["message"].as_str(),
            want.message().as_deref(),
            "{ctx}"
        );
        return "rejected";
    }
    match (&want.mutation(), answer["patch"].as_str()) {
        (None, None) => "accepted",
        (Some(m), Some(patch)) => {
            assert_eq!(answer["patchType"], "JSONPatch", "{ctx}");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(patch)
                .expect("the patch is base64");
            let ops: json_patch::Patch = serde_json::from_slice(&bytes).expect("an RFC 6902 patch");
            for op in ops.0.iter() {
                assert!(
                    matches!(op, json_patch::PatchOperation::Add(_)),
                    "{ctx}: {op:?} is not an add"
                );
            }
            let req: Value = serde_json::from_slice(&request_json).expect("request JSON");
            let mut object = req["object"].clone();
            json_patch::patch(&mut object, &ops).expect("the patch applies");
            assert_eq!(
                object,
                m.object().expect("the mutated object is JSON"),
                "{ctx}: kwctl's patch gives another object than the core"
            );
            "mutated"
        }
        (want, got) => panic!(
            "{ctx}: core mutation {:?}, kwctl patch {got:?}",
            want.is_some()
        ),
    }
}

#[test]
fn kwctl_runs_every_example_with_the_cores_verdict() {
    let s = Scratch::new("examples");
    let policy = s.annotate();
    let mut seen = Vec::new();
    for (settings, request) in examples() {
        let out = s.kwctl_ok(&[
            "run",
            policy.to_str().unwrap_or_default(),
            "-r",
            request.to_str().unwrap_or_default(),
            "--settings-path",
            settings.to_str().unwrap_or_default(),
        ]);
        seen.push(check_against_core(&verdict(&out), &settings, &request));
    }
    for kind in ["accepted", "rejected", "mutated"] {
        assert!(seen.contains(&kind), "no example is {kind}: {seen:?}");
    }
}

#[test]
fn kwctl_refuses_invalid_settings_with_the_policys_message() {
    let s = Scratch::new("settings");
    let policy = s.annotate();
    let request = repo_root().join("examples/requests/pod-within-bounds.json");
    let out = s
        .kwctl()
        .args([
            "run",
            policy.to_str().unwrap_or_default(),
            "-r",
            request.to_str().unwrap_or_default(),
        ])
        .args(["--settings-json", r#"{"cpu":{"maxLimit":"4 cores"}}"#])
        .output()
        .expect("kwctl runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"cpu.maxLimit: "4 cores" is not a Kubernetes quantity"#),
        "{stderr}"
    );
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn push_pull_and_run_from_an_oci_registry() {
    let s = Scratch::new("registry");
    let policy = s.annotate();
    let registry = Registry::start(&s);
    let sources = s.path("sources.yml");
    std::fs::write(
        &sources,
        format!("insecure_sources:\n  - \"{}\"\n", registry.addr),
    )
    .expect("sources");
    let sources = sources.to_str().unwrap_or_default();
    let uri = format!(
        "registry://{}/policies/resource-limits:v0.1.0",
        registry.addr
    );

    let pushed: Value = serde_json::from_str(
        s.kwctl_ok(&[
            "push",
            "-o",
            "json",
            "--sources-path",
            sources,
            policy.to_str().unwrap_or_default(),
            &uri,
        ])
        .trim(),
    )
    .expect("kwctl push -o json");
    let reference = pushed["immutable_ref"].as_str().unwrap_or_default();
    assert!(reference.contains("@sha256:"), "{pushed}");

    let pulled = s.path("pulled.wasm");
    s.kwctl_ok(&[
        "pull",
        "--sources-path",
        sources,
        "-o",
        pulled.to_str().unwrap_or_default(),
        &uri,
    ]);
    assert_eq!(
        sha256_hex(&pulled),
        sha256_hex(&policy),
        "the pulled policy differs from the pushed one"
    );

    // The immutable reference (by digest) resolves too.
    let by_digest = format!("registry://{reference}");
    let settings = repo_root().join("examples/settings/gpu.json");
    let request = repo_root().join("examples/requests/cronjob-gpu.json");
    for uri in [uri.as_str(), by_digest.as_str()] {
        let out = s.kwctl_ok(&[
            "run",
            "--sources-path",
            sources,
            uri,
            "-r",
            request.to_str().unwrap_or_default(),
            "--settings-path",
            settings.to_str().unwrap_or_default(),
        ]);
        assert_eq!(
            check_against_core(&verdict(&out), &settings, &request),
            "rejected"
        );
    }
}

#[test]
fn scaffolded_cluster_admission_policy_matches_the_example() {
    let s = Scratch::new("scaffold");
    let policy = s.annotate();
    let settings = repo_root().join("examples/settings/bounded.json");
    let out = s.kwctl_ok(&[
        "scaffold",
        "manifest",
        "--type",
        "ClusterAdmissionPolicy",
        "--settings-path",
        settings.to_str().unwrap_or_default(),
        policy.to_str().unwrap_or_default(),
    ]);
    let scaffold: Value = serde_yaml_ng::from_str(&out).expect("kwctl scaffold gives YAML");
    let example_text =
        std::fs::read_to_string(repo_root().join("examples/cluster-admission-policy.yaml"))
            .expect("examples/cluster-admission-policy.yaml");
    let example: Value = serde_yaml_ng::from_str(&example_text).expect("the example is YAML");
    assert_eq!(scaffold["kind"], "ClusterAdmissionPolicy");
    assert_eq!(scaffold["spec"]["mutating"], true);
    assert_eq!(
        scaffold["spec"]["rules"], example["spec"]["rules"],
        "rules differ from the example"
    );
    // The example's settings are bounded.json's, whatever the YAML spelling of each value.
    let parsed = |v: &Value| {
        Settings::from_json(&serde_json::to_vec(v).unwrap_or_default()).expect("valid settings")
    };
    assert_eq!(
        parsed(&scaffold["spec"]["settings"]),
        parsed(&example["spec"]["settings"])
    );
    let file: Value =
        serde_json::from_slice(&std::fs::read(&settings).expect("settings")).expect("JSON");
    assert_eq!(parsed(&file), parsed(&example["spec"]["settings"]));
    // The Kubewarden page shows this very manifest.
    let page = std::fs::read_to_string(repo_root().join("docs/kubewarden.md"))
        .expect("docs/kubewarden.md");
    assert!(
        page.contains(example_text.trim()),
        "docs/kubewarden.md must show examples/cluster-admission-policy.yaml as it is"
    );
}

/// The usage page embedded by `kwctl annotate` (what `kwctl inspect` and Artifact Hub show) is
/// docs/policy.md, word for word, and a page, not a manual: at most 250 lines.
#[test]
fn the_annotated_policys_usage_is_the_policy_page() {
    let s = Scratch::new("usage");
    let policy = s.annotate();
    let out = s.kwctl_ok(&["inspect", "-o", "yaml", policy.to_str().unwrap_or_default()]);
    let inspected: Value = serde_yaml_ng::from_str(&out).expect("kwctl inspect -o yaml gives YAML");
    let usage = inspected["annotations"]["io.kubewarden.policy.usage"]
        .as_str()
        .unwrap_or_else(|| panic!("no io.kubewarden.policy.usage annotation:\n{out}"));
    let page = std::fs::read_to_string(repo_root().join("docs/policy.md")).expect("docs/policy.md");
    assert_eq!(usage, page, "the usage kwctl shows is not docs/policy.md");
    let lines = usage.lines().count();
    assert!(
        lines <= 250,
        "the policy's usage page has {lines} lines; keep it under 250 (the rest goes to docs/)"
    );
    assert!(
        usage.starts_with("# "),
        "the usage page starts with its title"
    );
}

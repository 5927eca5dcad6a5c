//! `resource-limits check` at the root of an application's repository (tests/fixtures/repo):
//! a Helm chart, a Kustomize base and overlay, plain manifests, a docker-compose file, an
//! OpenAPI document, a recorded AdmissionReview, a template, notes that are not YAML, and
//! broken manifests where git (and `.ignore`) leave them out. What is not a Kubernetes object
//! is skipped, never an input error; the workloads are judged.

mod common;
use common::{run_with, Out};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repo")
}

/// `examples/settings/bounded.json`: cpu limits up to 4, requests up to 2.
fn bounded() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/settings/bounded.json")
        .to_string_lossy()
        .into_owned()
}

/// Runs `check -s bounded.json ARGS` in `dir`, standard input piped and empty.
fn check_in(dir: &Path, args: &[&str]) -> Out {
    let s = bounded();
    let mut all = vec!["check", "-s", s.as_str()];
    all.extend_from_slice(args);
    run_with(dir, &all, Stdio::piped(), b"")
}

fn check(args: &[&str]) -> Out {
    check_in(&repo(), args)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn results(doc: &Value) -> Vec<Value> {
    doc["results"].as_array().cloned().unwrap_or_default()
}

/// `file kind/name` of each result whose status is one of `statuses`.
fn objects(doc: &Value, statuses: &[&str]) -> BTreeSet<String> {
    results(doc)
        .iter()
        .filter(|r| statuses.iter().any(|s| r["status"] == *s))
        .map(|r| {
            format!(
                "{} {}/{}",
                r["file"].as_str().unwrap_or("?"),
                r["kind"].as_str().unwrap_or("?"),
                r["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The workloads of the repository the policy judges: the Kustomize base's Deployment, the
/// plain manifests' CronJob and Deployment, and the Pod of the recorded AdmissionReview.
const JUDGED: [&str; 4] = [
    "./deploy/base/deployment.yaml Deployment/api",
    "./manifests/nightly.yaml CronJob/nightly-report",
    "./manifests/worker.yaml Deployment/worker",
    "./webhook-tests/pod-review.yaml Pod/debug-shell",
];

const VIOLATIONS: &str = "\
./manifests/worker.yaml:22 Deployment/worker: spec.template.spec.containers[0] \"worker\": cpu limit 8 exceeds maxLimit 4
./webhook-tests/pod-review.yaml:21 Pod/debug-shell: spec.containers[0] \"shell\": cpu limit 6 exceeds maxLimit 4
./webhook-tests/pod-review.yaml:19 Pod/debug-shell: spec.containers[0] \"shell\": cpu request 6 (taken from its limit) exceeds maxRequest 2
";

#[test]
fn a_repository_is_judged_not_refused() {
    let o = check(&["."]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        o.stdout,
        format!("{VIOLATIONS}4 workloads checked in 10 files: 2 passed, 2 failed (3 violations); 17 skipped\n")
    );
    // One hint for the chart (six files, subchart included), one for the overlay's two
    // patches, one for the template outside any chart; nothing else on stderr.
    let s = bounded();
    assert_eq!(
        o.stderr,
        format!(
            "hint: ./charts/shop is a Helm chart (6 files skipped): render it first: helm template ./charts/shop | resource-limits check -s {s} -\n\
             hint: ./deploy/overlays/prod is a Kustomize overlay (2 patch files skipped): render it first: kubectl kustomize ./deploy/overlays/prod | resource-limits check -s {s} -\n\
             hint: ./ops/migrate-job.yaml is a template ({{{{ ... }}}}, skipped): render it first, then check the output: ... | resource-limits check -s {s} -\n"
        )
    );
    assert_eq!(o.stderr.matches("helm template").count(), 1);

    let j = check(&["-o", "json", "."]);
    assert_eq!(j.code, 1);
    let doc = json(&j.stdout);
    assert_eq!(objects(&doc, &["passed", "failed"]), set(&JUDGED));
    assert_eq!(
        objects(&doc, &["failed"]),
        set(&[JUDGED[2], JUDGED[3]]),
        "{doc}"
    );
    assert_eq!(doc["errors"], Value::Array(Vec::new()));
    assert_eq!(doc["summary"]["errors"], 0);
}

#[test]
fn verbose_lists_what_was_skipped_and_why() {
    let o = check(&["-v", "."]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    for line in [
        "./api/openapi.yaml:1 document 1: skipped: not a Kubernetes object: it has no apiVersion and no kind",
        "./api/package.json:1 document 1: skipped: not a Kubernetes object: it has no apiVersion and no kind",
        "./docker-compose.yml:1 document 1: skipped: not a Kubernetes object: it has no apiVersion and no kind",
        "./charts/shop/Chart.yaml: skipped: part of the Helm chart ./charts/shop",
        "./charts/shop/values.yaml: skipped: part of the Helm chart ./charts/shop",
        "./charts/shop/templates/deployment.yaml: skipped: part of the Helm chart ./charts/shop",
        "./charts/shop/templates/service.yaml: skipped: part of the Helm chart ./charts/shop",
        "./charts/shop/charts/cache/Chart.yaml: skipped: part of the Helm chart ./charts/shop",
        "./charts/shop/charts/cache/templates/statefulset.yaml: skipped: part of the Helm chart ./charts/shop",
        "./deploy/base/kustomization.yaml:1 Kustomization/<unnamed>: skipped: kustomize.config.k8s.io/v1beta1 Kustomization is not a kind the policy checks",
        "./deploy/base/service.yaml:1 Service/api: skipped: v1 Service is not a kind the policy checks",
        "./deploy/overlays/prod/kustomization.yaml:2 document 1: skipped: not a Kubernetes object: it has no apiVersion and no kind",
        "./deploy/overlays/prod/replicas.yaml: skipped: a patch of the kustomization in ./deploy/overlays/prod",
        "./deploy/overlays/prod/resources.yaml: skipped: a patch of the kustomization in ./deploy/overlays/prod",
        "./manifests/nightly.yaml:1 ConfigMap/nightly-config: skipped: v1 ConfigMap is not a kind the policy checks",
        "./notes/release-checklist.yaml: skipped: not YAML (line 3: invalid YAML: tabs disallowed within this context (block indentation)) and no top-level apiVersion: or kind: line makes it a Kubernetes object",
        "./ops/migrate-job.yaml: skipped: a template ({{ ... }}): not YAML until rendered",
        "./deploy/base/deployment.yaml:1 Deployment/api: ok",
        "./manifests/nightly.yaml:8 CronJob/nightly-report: ok",
    ] {
        assert!(
            o.stdout.lines().any(|l| l == line),
            "missing {line:?} in\n{}",
            o.stdout
        );
    }
    assert_eq!(o.stdout.matches(": skipped: ").count(), 17, "{}", o.stdout);
    // Ignored by .gitignore (build/), by .ignore (scratch/), hidden (.github/): not read,
    // so their broken manifests are neither errors nor listed.
    for hidden in ["build/", "scratch/", ".github/", "_helpers.tpl"] {
        assert!(!o.stdout.contains(hidden), "{hidden}: {}", o.stdout);
        assert!(!o.stderr.contains(hidden), "{hidden}: {}", o.stderr);
    }
}

#[test]
fn json_has_a_schema_version_skipped_files_and_hints() {
    let o = check(&["-o", "json", "."]);
    let doc = json(&o.stdout);
    assert_eq!(doc["schemaVersion"], 1);
    assert_eq!(
        doc["summary"],
        json(
            r#"{"files":10,"checked":4,"passed":2,"failed":2,"violations":3,"skipped":17,"skippedFiles":10,"defaults":0,"warnings":0,"duplicateKeys":0,"errors":0}"#
        )
    );
    let skipped: Vec<(String, String)> = doc["skippedFiles"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or("").to_owned(),
                f["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(skipped.len(), 10, "{skipped:?}");
    assert!(skipped.contains(&(
        "./charts/shop/templates/deployment.yaml".into(),
        "part of the Helm chart ./charts/shop".into()
    )));
    assert!(skipped.contains(&(
        "./ops/migrate-job.yaml".into(),
        "a template ({{ ... }}): not YAML until rendered".into()
    )));
    let hints = doc["hints"].as_array().cloned().unwrap_or_default();
    assert_eq!(hints.len(), 3, "{hints:?}");
    assert_eq!(hints[0]["files"], 6);
    assert!(hints[0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("helm template ./charts/shop | resource-limits check -s")));
    // Documents that are no object are results too, skipped with the reason; each object
    // says how its document was read.
    let compose = results(&doc)
        .into_iter()
        .find(|r| r["file"] == "./docker-compose.yml")
        .unwrap_or_default();
    assert_eq!(compose["status"], "skipped");
    assert_eq!(compose["kind"], Value::Null);
    assert_eq!(compose["input"], Value::Null);
    assert_eq!(
        compose["reason"],
        "not a Kubernetes object: it has no apiVersion and no kind"
    );
    let review = results(&doc)
        .into_iter()
        .find(|r| r["file"] == "./webhook-tests/pod-review.yaml")
        .unwrap_or_default();
    assert_eq!(review["input"], "AdmissionReview");
    assert_eq!(review["namespace"], "shop");
    assert_eq!(review["violations"][0]["line"], 21);
    let worker = results(&doc)
        .into_iter()
        .find(|r| r["name"] == "worker")
        .unwrap_or_default();
    assert_eq!(worker["input"], "manifest");
}

#[test]
fn strict_makes_what_was_skipped_an_error() {
    let o = check(&["--strict", "."]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    for line in [
        "./charts/shop/values.yaml: not checked (--strict): part of the Helm chart ./charts/shop",
        "./docker-compose.yml:1: document 1: not checked (--strict): not a Kubernetes object: it has no apiVersion and no kind",
        "./deploy/overlays/prod/resources.yaml: not checked (--strict): a patch of the kustomization in ./deploy/overlays/prod",
        "./notes/release-checklist.yaml: not checked (--strict): not YAML (line 3: invalid YAML: tabs disallowed within this context (block indentation)) and no top-level apiVersion: or kind: line makes it a Kubernetes object",
    ] {
        assert!(
            o.stderr.lines().any(|l| l == line),
            "missing {line:?} in\n{}",
            o.stderr
        );
    }
    // Kinds the policy does not check are still only skipped; the workloads still judged.
    assert!(
        o.stdout
            .ends_with("4 workloads checked in 10 files: 2 passed, 2 failed (3 violations); 3 skipped; 14 input errors\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.starts_with(VIOLATIONS), "{}", o.stdout);
}

#[test]
fn exclude_leaves_out_what_its_globs_match() {
    let all = json(&check(&["-o", "json", "."]).stdout);
    let o = check(&[
        "-o",
        "json",
        "--exclude",
        "webhook-tests",
        "--exclude",
        "/manifests/worker.yaml",
        "--exclude",
        "charts/",
        ".",
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let doc = json(&o.stdout);
    assert_eq!(objects(&doc, &["passed", "failed"]), set(&JUDGED[..2]));
    assert!(!o.stderr.contains("helm template"), "{}", o.stderr);
    assert_eq!(doc["hints"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        doc["summary"]["skippedFiles"],
        all["summary"]["skippedFiles"].as_i64().unwrap_or(0) - 6
    );
    // `*.json` anywhere: package.json is no longer read.
    let o = check(&["-o", "json", "--exclude", "*.json", "."]);
    assert!(!o.stdout.contains("package.json"), "{}", o.stdout);
    assert!(o.stdout.contains("openapi.yaml"), "{}", o.stdout);
    // A glob that is not one is a usage error, worded by clap.
    let bad = check(&["--exclude", "{a,b", "."]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .starts_with("error: invalid value '{a,b' for '--exclude <GLOB>'"),
        "{}",
        bad.stderr
    );
    assert_eq!(bad.stdout, "");
}

#[test]
fn skip_kind_skips_and_counts() {
    let o = check(&[
        "-o",
        "json",
        "--skip-kind",
        "deployment",
        "--skip-kind",
        "Pod",
        ".",
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let doc = json(&o.stdout);
    assert_eq!(objects(&doc, &["passed", "failed"]), set(&[JUDGED[1]]));
    assert_eq!(doc["summary"]["skipped"], 20);
    let reasons: BTreeSet<String> = results(&doc)
        .iter()
        .filter_map(|r| r["reason"].as_str())
        .filter(|r| r.contains("--skip-kind"))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        reasons,
        set(&[
            "Deployment skipped (--skip-kind)",
            "Pod skipped (--skip-kind)"
        ])
    );
}

#[test]
fn named_paths_are_read_even_when_ignored() {
    // build/ is in .gitignore: named on the command line it is read, and its broken
    // manifest is an input error.
    let o = check(&["build/rendered.yaml"]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(
        o.stderr.starts_with("build/rendered.yaml:7: invalid YAML"),
        "{}",
        o.stderr
    );
    // A file of a chart named alone is still part of its chart.
    let c = check(&["-v", "charts/shop/templates/deployment.yaml"]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert!(
        c.stdout.starts_with(
            "charts/shop/templates/deployment.yaml: skipped: part of the Helm chart charts/shop\n"
        ),
        "{}",
        c.stdout
    );
    assert!(
        c.stderr.contains("helm template charts/shop |"),
        "{}",
        c.stderr
    );
    // So is a patch named alone: its kustomization is beside it.
    let p = check(&["-v", "deploy/overlays/prod/resources.yaml"]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert!(
        p.stdout
            .contains("a patch of the kustomization in deploy/overlays/prod"),
        "{}",
        p.stdout
    );
}

/// A copy of the repository outside any git checkout: .gitignore is still read (a CI
/// artifact or a build context has no .git).
#[test]
fn gitignore_without_git() {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
        for entry in std::fs::read_dir(from).into_iter().flatten().flatten() {
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("resource-limits-cli-repo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy(&repo(), &dir);
    assert!(dir.join("build/rendered.yaml").is_file());
    assert!(dir.join(".github/workflows/ci.yml").is_file());
    let o = check_in(&dir, &["."]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.ends_with(
            "4 workloads checked in 10 files: 2 passed, 2 failed (3 violations); 17 skipped\n"
        ),
        "{}",
        o.stdout
    );
    // Without its .gitignore, build/ is read: its broken manifest is an error.
    std::fs::remove_file(dir.join(".gitignore")).unwrap_or_else(|e| panic!("{e}"));
    let o = check_in(&dir, &["."]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(
        o.stderr.contains("./build/rendered.yaml:7: invalid YAML"),
        "{}",
        o.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn standard_input_with_a_dash_or_no_path() {
    let worker = std::fs::read(repo().join("manifests/worker.yaml")).unwrap_or_default();
    let s = bounded();
    let want = "<stdin>:22 Deployment/worker: spec.template.spec.containers[0] \"worker\": cpu limit 8 exceeds maxLimit 4\n\
                1 workload checked in 1 file: 0 passed, 1 failed (1 violation); 0 skipped\n";
    for args in [vec!["check", "-s", &s, "-"], vec!["check", "-s", &s]] {
        let o = run_with(&repo(), &args, Stdio::piped(), &worker);
        assert_eq!(o.code, 1, "{args:?}: {}", o.stderr);
        assert_eq!(o.stdout, want, "{args:?}");
    }
    // No path and nothing piped in: a usage error, not "0 workloads checked".
    let o = run_with(&repo(), &["check", "-s", &s], Stdio::piped(), b"");
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .starts_with("error: no PATH given and standard input is empty"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("Usage: resource-limits check [OPTIONS] --settings <FILE> [PATH]..."),
        "{}",
        o.stderr
    );
    assert_eq!(o.stdout, "");
    // `-` named: empty input is nothing to check (a chart that renders nothing).
    let o = run_with(&repo(), &["check", "-s", &s, "-"], Stdio::piped(), b"");
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Input errors are worded apart from usage errors.
    let o = run_with(
        &repo(),
        &["check", "-s", &s],
        Stdio::piped(),
        b"kind: Pod\n",
    );
    assert_eq!(o.code, 2);
    assert_eq!(
        o.stderr,
        "<stdin>:1: document 1: the Pod has no apiVersion\n"
    );
}

/// No path, and standard input a terminal: a usage error (nothing is waited for).
#[cfg(unix)]
#[test]
fn no_path_on_a_terminal_is_a_usage_error() {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)
        .unwrap_or_else(|e| panic!("no pseudo-terminal: {e}"));
    grantpt(&master).unwrap_or_else(|e| panic!("{e}"));
    unlockpt(&master).unwrap_or_else(|e| panic!("{e}"));
    let name = ptsname(&master, Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_string_lossy().as_ref())
        .unwrap_or_else(|e| panic!("{name:?}: {e}"));
    let s = bounded();
    let o = run_with(&repo(), &["check", "-s", &s], Stdio::from(terminal), b"");
    drop(master);
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.starts_with("error: no PATH given: name files or folders to check, - for standard input, or pipe manifests in\n"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("Usage: resource-limits check"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stdout, "");
}

/// This project's own examples: the AdmissionRequest files are judged as the playground
/// judges them (`document::evaluate`), the settings files skipped.
#[test]
fn the_examples_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = check_in(&root, &["-o", "json", "examples/"]);
    assert!(o.code == 0 || o.code == 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.code, 1, "some requests are over the bounds");
    assert_eq!(o.stderr, "");
    let doc = json(&o.stdout);
    assert_eq!(doc["summary"]["errors"], 0);
    let settings = resource_limits::Settings::from_json(
        &std::fs::read(bounded()).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let requests: Vec<Value> = results(&doc)
        .into_iter()
        .filter(|r| {
            r["file"]
                .as_str()
                .is_some_and(|f| f.starts_with("examples/requests/"))
        })
        .collect();
    assert_eq!(requests.len(), 8, "{requests:?}");
    for r in &requests {
        let file = r["file"].as_str().unwrap_or_default();
        assert_eq!(r["input"], "AdmissionRequest", "{file}");
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{e}"));
        let core = resource_limits::document::evaluate(
            &settings,
            &text,
            resource_limits::Webhook::Mutating,
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(core.len(), 1, "{file}");
        let verdict = &core[0].verdict;
        let want = match verdict {
            resource_limits::Verdict::Skipped(_) => "skipped",
            v if v.allowed() => "passed",
            _ => "failed",
        };
        assert_eq!(r["status"], want, "{file}");
        assert_eq!(r["kind"].as_str(), core[0].kind.as_deref(), "{file}");
        if want == "failed" {
            assert_eq!(
                r["message"].as_str(),
                verdict.message().as_deref(),
                "{file}"
            );
        }
    }
    let failed = requests.iter().filter(|r| r["status"] == "failed").count();
    let passed = requests.iter().filter(|r| r["status"] == "passed").count();
    assert_eq!((failed, passed), (4, 3), "{requests:?}");
    // The settings files beside them are no objects: skipped, not errors.
    let plain = results(&doc)
        .into_iter()
        .find(|r| r["file"] == "examples/settings/plain.json")
        .unwrap_or_default();
    assert_eq!(plain["status"], "skipped");
    // The same in human output, and through the path as the issue gave it.
    let h = check_in(&root, &["examples/"]);
    assert_eq!(h.code, 1, "{}", h.stderr);
    assert!(
        h.stdout.contains("examples/requests/pod-resize.json:50 Pod/web-7d4b9: spec.containers[0] \"web\": cpu limit 6 exceeds maxLimit 4\n"),
        "{}",
        h.stdout
    );
}

/// `fix` walks alike: nothing of the chart or the patches is edited, and an
/// AdmissionRequest (a record of a request) is judged but never edited.
#[test]
fn fix_leaves_charts_patches_and_requests_alone() {
    let s = bounded();
    let o = run_with(
        &repo(),
        &["fix", "-s", &s, "--dry-run", "."],
        Stdio::piped(),
        b"",
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(o.stdout, "", "nothing to add: {}", o.stdout);
    assert!(
        o.stderr
            .ends_with("would add 0 defaults in 0 files (dry run: nothing written); 2 workloads still failing (3 violations)\n"),
        "{}",
        o.stderr
    );
    // The request's Deployment passes with defaults due (check says so), yet fix leaves the
    // file as it is.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let request = "examples/requests/deployment-without-resources.json";
    let c = check_in(&root, &["-o", "json", request]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert!(
        json(&c.stdout)["summary"]["defaults"].as_u64() > Some(0),
        "{}",
        c.stdout
    );
    let f = run_with(
        &root,
        &["fix", "-s", &s, "--dry-run", request],
        Stdio::piped(),
        b"",
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(f.stdout, "");
    assert!(
        f.stderr
            .ends_with("would add 0 defaults in 0 files (dry run: nothing written); 0 workloads still failing (0 violations)\n"),
        "{}",
        f.stderr
    );
}

/// `fix --strict` refuses what `check --strict` refuses, in the same words, and edits no
/// file that holds such an error; `fix --skip-kind` leaves the objects of those kinds as
/// they are and counts them.
#[test]
fn fix_takes_strict_and_skip_kind_as_check_does() {
    let s = bounded();
    let strict_lines = |o: &Out| -> BTreeSet<String> {
        o.stderr
            .lines()
            .filter(|l| l.contains("not checked (--strict)"))
            .map(str::to_owned)
            .collect()
    };
    let c = check(&["--strict", "."]);
    let f = run_with(
        &repo(),
        &["fix", "-s", &s, "--strict", "--dry-run", "."],
        Stdio::piped(),
        b"",
    );
    assert_eq!((c.code, f.code), (2, 2), "{}", f.stderr);
    assert_eq!(strict_lines(&f), strict_lines(&c));
    assert_eq!(strict_lines(&f).len(), 14, "{}", f.stderr);

    let dir = common::tmp("fix-strict-skip-kind");
    let deployment = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx
";
    let job = "\
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      containers:
      - name: migrate
        image: migrate
";
    let mixed = format!("{deployment}---\n{job}---\nx-notes: {{owner: platform}}\n");
    std::fs::write(dir.join("app.yaml"), &mixed).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("job.yaml"), job).unwrap_or_else(|e| panic!("{e}"));
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();

    // --strict: the document without apiVersion and kind is an input error, and app.yaml
    // is not edited; job.yaml is.
    let o = run_with(
        &dir,
        &["fix", "-s", &s, "--strict", "."],
        Stdio::piped(),
        b"",
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.lines().any(|l| l
            == "./app.yaml:21: document 3: not checked (--strict): not a Kubernetes object: it has no apiVersion and no kind"),
        "{}",
        o.stderr
    );
    assert_eq!(
        read("app.yaml"),
        mixed,
        "a file with an input error is not edited"
    );
    assert_ne!(read("job.yaml"), job);
    std::fs::write(dir.join("job.yaml"), job).unwrap_or_else(|e| panic!("{e}"));

    // --skip-kind (any case): the Jobs are left as they are and counted; the Deployment
    // gets its defaults; the document that is no object is skipped, as check skips it.
    let o = run_with(
        &dir,
        &["fix", "-s", &s, "--skip-kind", "job", "."],
        Stdio::piped(),
        b"",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.ends_with(
            "added 4 defaults in 1 file; 0 workloads still failing (0 violations); 2 skipped (--skip-kind)\n"
        ),
        "{}",
        o.stderr
    );
    assert_eq!(read("job.yaml"), job);
    let app = read("app.yaml");
    let (web, rest) = app.split_at(app.find("---\n").unwrap_or(0));
    assert!(web.contains("limits:"), "{app}");
    assert_eq!(
        rest,
        format!("---\n{job}---\nx-notes: {{owner: platform}}\n")
    );
    // check agrees: the Jobs skipped, the Deployment now passing with nothing due.
    let c = check_in(&dir, &["-o", "json", "--skip-kind", "JOB", "."]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    let doc = json(&c.stdout);
    assert_eq!(doc["summary"]["passed"], 1);
    assert_eq!(doc["summary"]["defaults"], 0);
    assert_eq!(doc["summary"]["skipped"], 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `check -o sarif` reports what `-v` lists beside the results: each file and document
/// skipped as not a Kubernetes object, with its reason, and each hint, as notifications of
/// level `note` located at the file (or the chart's or overlay's folder); with `--strict`
/// they are input errors, notifications of level `error`. Read back with serde-sarif.
#[test]
fn sarif_notes_what_was_skipped_and_the_hints() {
    use serde_sarif::sarif::{Notification, Sarif};
    let uri = |n: &Notification| {
        n.locations.as_ref().and_then(|l| l.first()).and_then(|l| {
            l.physical_location
                .as_ref()
                .and_then(|p| p.artifact_location.as_ref())
                .and_then(|a| a.uri.clone())
        })
    };
    let line = |n: &Notification| {
        n.locations.as_ref().and_then(|l| l.first()).and_then(|l| {
            l.physical_location
                .as_ref()
                .and_then(|p| p.region.as_ref())
                .and_then(|r| r.start_line)
        })
    };
    let read = |args: &[&str]| -> (Out, Sarif) {
        let mut all = vec!["-o", "sarif"];
        all.extend_from_slice(args);
        let o = check(&all);
        let log: Sarif = serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("not SARIF ({e}): {}", o.stdout));
        (o, log)
    };
    let notes_of = |log: &Sarif| -> Vec<Notification> {
        let run = &log.runs[0];
        let descriptors = run.tool.driver.notifications.clone().unwrap_or_default();
        let inv = run.invocations.clone().unwrap_or_default();
        let notes = inv[0]
            .tool_execution_notifications
            .clone()
            .unwrap_or_default();
        for n in &notes {
            // Each names its descriptor by id and index.
            let d = n.descriptor.clone().unwrap_or_default();
            let at = usize::try_from(d.index.unwrap_or(-1)).unwrap_or(usize::MAX);
            assert_eq!(descriptors.get(at).map(|x| &x.id), d.id.as_ref(), "{n:?}");
        }
        notes
    };
    let of = |notes: &[Notification], id: &str, level: &str| -> BTreeSet<String> {
        notes
            .iter()
            .filter(|n| n.descriptor.as_ref().and_then(|d| d.id.as_deref()) == Some(id))
            .inspect(|n| assert_eq!(n.level, Some(Value::from(level)), "{n:?}"))
            .map(|n| {
                let at = match line(n) {
                    Some(l) => format!("{}:{l}", uri(n).unwrap_or_default()),
                    None => uri(n).unwrap_or_default(),
                };
                format!("{at} {}", n.message.text.as_deref().unwrap_or(""))
            })
            .collect()
    };

    // What -o json calls skipped files, skipped documents that are no object, and hints.
    let doc = json(&check(&["-o", "json", "."]).stdout);
    let rel = |f: &str| f.trim_start_matches("./").to_owned();
    let mut skipped: BTreeSet<String> = doc["skippedFiles"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} skipped: {}",
                rel(f["file"].as_str().unwrap_or("")),
                f["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    skipped.extend(
        results(&doc)
            .iter()
            .filter(|r| r["status"] == "skipped" && r["kind"].is_null())
            .filter(|r| r["reason"] != "empty document")
            .map(|r| {
                format!(
                    "{}:{} document {}: skipped: {}",
                    rel(r["file"].as_str().unwrap_or("")),
                    r["line"],
                    r["document"],
                    r["reason"].as_str().unwrap_or("")
                )
            }),
    );
    assert_eq!(skipped.len(), 14, "{skipped:#?}");
    assert!(
        skipped.contains("docker-compose.yml:1 document 1: skipped: not a Kubernetes object: it has no apiVersion and no kind"),
        "{skipped:#?}"
    );

    let (o, log) = read(&["."]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let notes = notes_of(&log);
    assert_eq!(of(&notes, "skipped", "note"), skipped);
    let hints: BTreeSet<String> = of(&notes, "render-first", "note");
    assert_eq!(hints.len(), 3, "{hints:#?}");
    for h in doc["hints"].as_array().into_iter().flatten() {
        let message = h["message"].as_str().unwrap_or("?");
        assert!(
            hints.iter().any(|n| n.ends_with(message)),
            "{message} not among {hints:#?}"
        );
    }
    assert!(hints.iter().any(|h| h.starts_with("charts/shop ./charts/shop is a Helm chart (6 files skipped): render it first: helm template ./charts/shop | ")), "{hints:#?}");
    assert!(of(&notes, "input-error", "error").is_empty());
    let inv = log.runs[0].invocations.clone().unwrap_or_default();
    assert!(inv[0].execution_successful, "notes are no failure");

    // --strict: the same skips, now input errors (level error), and nothing noted as skipped.
    let (o, log) = read(&["--strict", "."]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    let notes = notes_of(&log);
    let errors = of(&notes, "input-error", "error");
    assert_eq!(errors.len(), 14, "{errors:#?}");
    assert!(errors.contains("docker-compose.yml:1 document 1: not checked (--strict): not a Kubernetes object: it has no apiVersion and no kind"), "{errors:#?}");
    assert!(of(&notes, "skipped", "note").is_empty());
    let inv = log.runs[0].invocations.clone().unwrap_or_default();
    assert!(!inv[0].execution_successful);
}

//! The CLI on rendered-chart manifests (tests/fixtures), on bad input, and on settings files.

mod common;
use common::{fixtures, run_in, tmp, Out};
use serde_json::Value;
use std::path::Path;

fn run(args: &[&str]) -> Out {
    run_in(&fixtures(), args, b"")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(from).into_iter().flatten().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

const CHART_VIOLATIONS: &str = "\
charts/ledger-db/rendered.yaml:80 StatefulSet/ledger-db: spec.template.spec.initContainers[1] \"log-shipper\": memory limit 4Gi exceeds maxLimit 2Gi
charts/ledger-db/rendered.yaml:98 StatefulSet/ledger-db: spec.template.spec.containers[0] \"postgresql\": cpu limit 8 exceeds maxLimit 4
charts/ledger-db/rendered.yaml:98 StatefulSet/ledger-db: spec.template.spec.containers[0] \"postgresql\": cpu limit 8 is more than maxLimitRequestRatio 4 times its request 1
";

#[test]
fn rendered_charts_human_output() {
    let o = run(&["check", "--settings", "settings.yaml", "charts"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        format!("{CHART_VIOLATIONS}3 workloads checked in 3 files: 2 passed, 1 failed (3 violations), 8 defaults the policy would add (resource-limits fix); 5 skipped\n")
    );
    assert_eq!(o.stderr, "");
    // Verbose: what passed, what would be added, what was skipped.
    let v = run(&[
        "check",
        "-s",
        "settings.yaml",
        "-v",
        "charts/webshop/rendered.yaml",
    ]);
    assert_eq!(v.code, 0);
    for line in [
        "charts/webshop/rendered.yaml:16 ConfigMap/webshop-config: skipped: v1 ConfigMap is not a kind the policy checks",
        "charts/webshop/rendered.yaml:45 Deployment/webshop: ok",
        "charts/webshop/rendered.yaml:99 Deployment/webshop: default: spec.template.spec.containers[1] \"nginx\": add resources.limits.cpu: 1",
    ] {
        assert!(v.stdout.lines().any(|l| l == line), "missing {line:?} in\n{}", v.stdout);
    }
    // The exporter under registry.example.com/platform/* is exempt: nothing for it.
    assert!(!v.stdout.contains("\"metrics\""), "{}", v.stdout);
}

#[test]
fn rendered_charts_json_output() {
    let o = run(&["check", "-s", "settings.yaml", "--output", "json", "charts"]);
    assert_eq!(o.code, 1);
    let r = json(&o.stdout);
    assert_eq!(
        r["summary"],
        json(
            r#"{"files":3,"checked":3,"passed":2,"failed":1,"violations":3,"skipped":5,"skippedFiles":0,"defaults":8,"warnings":0,"duplicateKeys":0,"errors":0}"#
        )
    );
    let results = r["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 8);
    let sts = results
        .iter()
        .find(|x| x["kind"] == "StatefulSet")
        .cloned()
        .unwrap_or_default();
    assert_eq!(sts["status"], "failed");
    assert_eq!(sts["namespace"], "ledger");
    assert_eq!(sts["document"], 2);
    assert_eq!(sts["violations"][1]["line"], 98);
    assert_eq!(sts["violations"][1]["container"], "postgresql");
    assert_eq!(
        sts["violations"][1]["problem"],
        "cpu limit 8 exceeds maxLimit 4"
    );
    assert!(sts["message"].as_str().is_some_and(|m| m.contains("; ")));
    let cron = results
        .iter()
        .find(|x| x["kind"] == "CronJob")
        .cloned()
        .unwrap_or_default();
    assert_eq!(cron["status"], "passed");
    assert_eq!(
        cron["defaults"][0]["pointer"],
        "/spec/jobTemplate/spec/template/spec/containers/1/resources/limits/cpu"
    );
    assert_eq!(cron["defaults"][0]["value"], "1");
    let hpa = results
        .iter()
        .find(|x| x["kind"] == "HorizontalPodAutoscaler")
        .cloned()
        .unwrap_or_default();
    assert_eq!(hpa["status"], "skipped");
    assert!(hpa["reason"]
        .as_str()
        .is_some_and(|m| m.contains("not a kind the policy checks")));
}

#[test]
fn rendered_charts_sarif_output() {
    let o = run(&[
        "check",
        "-s",
        "settings.yaml",
        "-o",
        "sarif",
        "charts",
        "missing.yaml",
    ]);
    assert_eq!(o.code, 2, "an unreadable input wins over violations");
    // The log reads back into the SARIF 2.1.0 object model (types generated from its schema).
    let log: serde_sarif::sarif::Sarif = serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("not a SARIF log ({e}): {}", o.stdout));
    assert_eq!(log.version, "2.1.0");
    assert_eq!(
        log.schema.as_deref(),
        Some("https://json.schemastore.org/sarif-2.1.0.json")
    );
    let r = json(&o.stdout);
    assert_eq!(r["version"], "2.1.0");
    assert_eq!(
        r["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let run0 = &r["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "resource-limits");
    assert_eq!(
        run0["tool"]["driver"]["rules"][0]["id"],
        "container-resources"
    );
    let results = run0["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 3);
    let loc = &results[1]["locations"][0]["physicalLocation"];
    assert_eq!(
        loc["artifactLocation"]["uri"],
        "charts/ledger-db/rendered.yaml"
    );
    assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(loc["region"]["startLine"], 98);
    // %SRCROOT% is the folder the CLI ran in, as a file URL; so is the working directory.
    let root = url::Url::from_directory_path(fixtures())
        .map(String::from)
        .unwrap_or_default();
    assert!(root.starts_with("file:///"), "{root}");
    assert_eq!(
        run0["originalUriBaseIds"]["%SRCROOT%"]["uri"],
        root.as_str()
    );
    assert_eq!(
        run0["invocations"][0]["workingDirectory"]["uri"],
        root.as_str()
    );
    // The unreadable input is named as given, relative to the same root.
    assert_eq!(
        run0["invocations"][0]["toolExecutionNotifications"][0]["locations"][0]["physicalLocation"]
            ["artifactLocation"]["uri"],
        "missing.yaml"
    );
    assert_eq!(results[1]["level"], "error");
    assert_eq!(
        results[1]["message"]["text"],
        "StatefulSet/ledger-db: spec.template.spec.containers[0] \"postgresql\": cpu limit 8 exceeds maxLimit 4"
    );
    let inv = &run0["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    assert!(inv["toolExecutionNotifications"][0]["message"]["text"]
        .as_str()
        .is_some_and(|m| m.contains("cannot read")));
    assert!(
        o.stderr.contains("missing.yaml: cannot read"),
        "{}",
        o.stderr
    );
    // An absolute path is a file URL of its own, with no base.
    let abs = fixtures().join("charts/ledger-db/rendered.yaml");
    let a = run(&[
        "check",
        "-s",
        "settings.yaml",
        "-o",
        "sarif",
        &abs.to_string_lossy(),
    ]);
    assert_eq!(a.code, 1, "{}", a.stderr);
    let a = json(&a.stdout);
    let loc = &a["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    let want = url::Url::from_file_path(&abs)
        .map(String::from)
        .unwrap_or_default();
    assert!(want.starts_with("file:///"), "{want}");
    assert_eq!(loc["uri"], want.as_str());
    assert_eq!(loc.get("uriBaseId"), None);
}

/// `fix` writes the defaults, keeps every other line as it was, and `check` then passes.
#[test]
fn fix_round_trips_rendered_charts() {
    let dir = tmp("fix");
    copy_dir(&fixtures().join("charts"), &dir.join("charts"));
    let settings = fixtures().join("settings.yaml");
    let s = settings.to_string_lossy().into_owned();
    let files = [
        "charts/webshop/rendered.yaml",
        "charts/nightly-backup/rendered.yaml",
        "charts/ledger-db/rendered.yaml",
    ];
    let before: Vec<String> = files.iter().map(|f| read(&dir.join(f))).collect();

    let dry = run_in(&dir, &["fix", "-s", &s, "--dry-run", "charts"], b"");
    assert_eq!(dry.code, 1, "ledger-db still fails: {}", dry.stderr);
    assert!(
        dry.stdout.contains("+++ b/charts/webshop/rendered.yaml"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("-          resources: {}\n+          resources:\n+            limits:\n+              cpu: \"1\"\n"), "{}", dry.stdout);
    let unchanged: Vec<String> = files.iter().map(|f| read(&dir.join(f))).collect();
    assert_eq!(unchanged, before, "--dry-run writes nothing");

    let fixed = run_in(&dir, &["fix", "-s", &s, "charts"], b"");
    assert_eq!(fixed.code, 1);
    assert!(
        fixed
            .stderr
            .contains("added 8 defaults in 2 files; 1 workload still failing (3 violations)"),
        "{}",
        fixed.stderr
    );
    assert!(
        fixed.stderr.contains("cpu limit 8 exceeds maxLimit 4"),
        "{}",
        fixed.stderr
    );
    let after: Vec<String> = files.iter().map(|f| read(&dir.join(f))).collect();
    assert_eq!(after[2], before[2], "a failing StatefulSet is left alone");
    for (b, a) in before.iter().zip(&after).take(2) {
        assert_ne!(a, b);
        let diff = similar::TextDiff::from_lines(b, a);
        let removed: Vec<&str> = diff
            .iter_all_changes()
            .filter(|c| c.tag() == similar::ChangeTag::Delete)
            .map(|c| c.value())
            .collect();
        // Only Helm's empty `resources: {}` is replaced; every other line is kept as it was,
        // comments included.
        assert!(
            removed.iter().all(|l| l.trim() == "resources: {}"),
            "{removed:?}"
        );
        for comment in b.lines().filter(|l| l.contains('#')) {
            assert!(a.contains(comment), "lost {comment:?}");
        }
    }
    assert!(after[1].contains("          - name: uploader\n            image: \"ghcr.io/example/uploader:0.4.0\"\n            env:\n            - name: RETRIES\n              value: \"3\"\n            resources:\n              limits:\n                cpu: \"1\"\n                memory: 512Mi\n              requests:\n                cpu: 250m\n                memory: 128Mi\n"), "{}", after[1]);

    let check = run_in(
        &dir,
        &[
            "check",
            "-s",
            &s,
            "-o",
            "json",
            "charts/webshop",
            "charts/nightly-backup",
        ],
        b"",
    );
    assert_eq!(check.code, 0, "{}", check.stdout);
    let r = json(&check.stdout);
    assert_eq!(r["summary"]["passed"], 2);
    assert_eq!(r["summary"]["defaults"], 0, "nothing left to add");
    // A second fix has nothing to do.
    let again = run_in(&dir, &["fix", "-s", &s, "charts/webshop"], b"");
    assert_eq!(again.code, 0);
    assert!(
        again.stderr.contains("added 0 defaults in 0 files"),
        "{}",
        again.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `helm template ... | resource-limits check -` and `... | resource-limits fix -`.
#[test]
fn standard_input() {
    let text = read(&fixtures().join("charts/nightly-backup/rendered.yaml"));
    let o = run_in(
        &fixtures(),
        &["check", "-s", "settings.yaml", "-o", "json", "-"],
        text.as_bytes(),
    );
    assert_eq!(o.code, 0);
    assert_eq!(json(&o.stdout)["results"][0]["file"], "<stdin>");
    let f = run_in(
        &fixtures(),
        &["fix", "-s", "settings.yaml", "-"],
        text.as_bytes(),
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert!(f
        .stdout
        .starts_with("# Source: nightly-backup/templates/cronjob.yaml\n"));
    assert!(f.stdout.contains(
        "            image: \"ghcr.io/example/backup:1.2.0\"   # pinned by the release pipeline\n"
    ));
    let again = run_in(
        &fixtures(),
        &["check", "-s", "settings.yaml", "-o", "json", "-"],
        f.stdout.as_bytes(),
    );
    assert_eq!(json(&again.stdout)["summary"]["defaults"], 0);
    // Nothing to add: the input comes back unchanged.
    let same = run_in(
        &fixtures(),
        &["fix", "-s", "settings.yaml", "-"],
        f.stdout.as_bytes(),
    );
    assert_eq!(same.stdout, f.stdout);
}

/// A `kind: List` holding a Deployment without limits (the browser host's tests read the
/// same file): rejected, each item judged as the playground judges it.
const YAML_LIST: &str = include_str!("../../../tests/manifests/list-without-limits.yaml");

#[test]
fn kind_list_in_yaml_is_rejected_as_in_the_playground() {
    let dir = tmp("yaml-list");
    std::fs::write(dir.join("settings.json"), "{}").unwrap_or_else(|e| panic!("{e}"));
    let o = run_in(
        &dir,
        &["check", "-s", "settings.json", "-v", "-"],
        YAML_LIST.as_bytes(),
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "<stdin>:12 Deployment/web: spec.template.spec.containers[0] \"app\": cpu limit is missing\n\
         <stdin>:12 Deployment/web: spec.template.spec.containers[0] \"app\": memory limit is missing\n\
         <stdin>:14 ConfigMap/conf: skipped: v1 ConfigMap is not a kind the policy checks\n\
         1 workload checked in 1 file: 0 passed, 1 failed (2 violations); 1 skipped\n"
    );
    let bad = run_in(
        &dir,
        &["check", "-s", "settings.json", "-"],
        b"apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n",
    );
    assert_eq!(bad.code, 2);
    assert_eq!(
        bad.stderr.trim_end(),
        "<stdin>:1: document 1: items[0] (line 4): the Pod has no apiVersion"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kind_list_in_json() {
    let o = run(&["check", "-s", "settings.yaml", "-v", "list.json"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stdout,
        "list.json:19 DaemonSet/node-agent: spec.template.spec.containers[0] \"agent\": memory limit 3Gi exceeds maxLimit 2Gi\n\
         list.json:26 ConfigMap/node-agent: skipped: v1 ConfigMap is not a kind the policy checks\n\
         list.json:32 Job/migrate: ok\n\
         2 workloads checked in 1 file: 1 passed, 1 failed (1 violation); 1 skipped\n"
    );
    // fix keeps a JSON manifest JSON.
    let dir = tmp("list");
    let text = read(&fixtures().join("list.json"))
        .replace(", \"memory\": \"3Gi\"", "")
        .replace(", \"memory\": \"1Gi\"", "");
    let f = run_in(
        &dir,
        &[
            "fix",
            "-s",
            &fixtures().join("settings.yaml").to_string_lossy(),
            "-",
        ],
        text.as_bytes(),
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    let fixed = json(&f.stdout);
    assert_eq!(
        fixed["items"][0]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"],
        json(r#"{"cpu": 0.5, "memory": "512Mi"}"#)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What is broken is an input error: a Kubernetes object (it has apiVersion or kind) that
/// is not YAML, a file that cannot be read. The same hostile texts without apiVersion or kind
/// are no Kubernetes objects: skipped, with the reason. A key written twice is read as
/// kubectl reads it and reported (exit 1); `fix` does not edit such a file (exit 2).
#[test]
fn bad_input_is_exit_2_with_the_file_and_the_reason() {
    let dir = tmp("bad");
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("{e}"));
    };
    write(
        "invalid.yaml",
        b"apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n    {name: a\n",
    );
    write("binary.yaml", b"kind: Pod\n\xff\xfe\x00\x01");
    write("nokind.yaml", b"---\napiVersion: v1\nmetadata: {name: x}\n");
    write("noversion.yaml", b"kind: Pod\nmetadata: {name: x}\n");
    write("dupkey.yaml", b"apiVersion: v1\nkind: Pod\nkind: Pod\n");
    write(
        "broken.json",
        b"{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"spec\": {\n}}}\n",
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    write(
        "deep.yaml",
        format!("apiVersion: v1\nkind: Pod\nspec: {deep}").as_bytes(),
    );
    write("deep-unmarked.yaml", deep.as_bytes());
    let bomb = (0..9).fold(
        String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"),
        |mut s, i| {
            let refs = vec![format!("*a{i}"); 10].join(", ");
            s.push_str(&format!("a{}: &a{} [{refs}]\n", i + 1, i + 1));
            s
        },
    );
    write("bomb.yaml", format!("kind: Pod\n{bomb}").as_bytes());
    write("bomb-unmarked.yaml", bomb.as_bytes());
    let settings = fixtures().join("settings.yaml");
    let s = settings.to_string_lossy().into_owned();
    let cases: [(&str, &str); 8] = [
        ("invalid.yaml", "invalid.yaml:6: invalid YAML"),
        ("binary.yaml", "binary.yaml: not UTF-8 text"),
        (
            "nokind.yaml",
            "nokind.yaml:2: document 1: not a Kubernetes object: it has no kind",
        ),
        (
            "noversion.yaml",
            "noversion.yaml:1: document 1: the Pod has no apiVersion",
        ),
        ("broken.json", "broken.json:2: invalid YAML"),
        (
            "deep.yaml",
            "deep.yaml:3: invalid YAML: recursion limit exceeded",
        ),
        ("bomb.yaml", "aliases expand to more than"),
        ("nothere.yaml", "nothere.yaml: cannot read: "),
    ];
    for (file, want) in cases {
        for cmd in ["check", "fix"] {
            let o = run_in(&dir, &[cmd, "-s", &s, file], b"");
            assert_eq!(o.code, 2, "{cmd} {file}: {}{}", o.stdout, o.stderr);
            assert!(
                o.stderr.contains(want),
                "{cmd} {file}: want {want:?}, got {}",
                o.stderr
            );
        }
    }
    let twice = "key \"kind\" written twice in one mapping (lines 2 and 3): kubectl keeps the \
                 second value without a word, another reader may keep the first";
    let o = run_in(&dir, &["check", "-s", &s, "dupkey.yaml"], b"");
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout
            .contains(&format!("dupkey.yaml:3 Pod/<unnamed>: {twice}\n")),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains(", 1 key written twice;"), "{}", o.stdout);
    let o = run_in(&dir, &["fix", "-s", &s, "dupkey.yaml"], b"");
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr
            .contains(&format!("dupkey.yaml:3: {twice}; not edited\n")),
        "{}",
        o.stderr
    );
    // Without apiVersion or kind: skipped, the reason listed with -v; --strict refuses.
    for (file, want) in [
        ("deep-unmarked.yaml", "deep-unmarked.yaml: skipped: not YAML (line 1: invalid YAML: recursion limit exceeded) and no top-level apiVersion: or kind: line makes it a Kubernetes object\n"),
        ("bomb-unmarked.yaml", "bomb-unmarked.yaml: skipped: not YAML (line 6: aliases expand to more than"),
    ] {
        let o = run_in(&dir, &["check", "-s", &s, "-v", file], b"");
        assert_eq!(o.code, 0, "{file}: {}{}", o.stdout, o.stderr);
        assert!(o.stdout.starts_with(want), "{file}: want {want:?}, got {}", o.stdout);
        assert!(
            o.stdout.ends_with("0 workloads checked in 0 files: 0 passed, 0 failed (0 violations); 1 skipped\n"),
            "{}",
            o.stdout
        );
        let strict = run_in(&dir, &["check", "-s", &s, "--strict", file], b"");
        assert_eq!(strict.code, 2, "{file}: {}", strict.stderr);
        assert!(
            strict.stderr.contains(&format!("{file}: not checked (--strict): not YAML")),
            "{}",
            strict.stderr
        );
    }
    // A bad file does not hide the verdicts of the others.
    let charts = fixtures().join("charts");
    let o = run_in(
        &dir,
        &["check", "-s", &s, "invalid.yaml", &charts.to_string_lossy()],
        b"",
    );
    assert_eq!(o.code, 2);
    assert!(o.stdout.contains("cpu limit 8 exceeds maxLimit 4"));
    assert!(o.stdout.contains("; 1 input error\n"), "{}", o.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn what_is_not_a_workload_is_skipped_not_an_error() {
    let dir = tmp("skip");
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{e}"));
    };
    write("empty.yaml", "");
    write(
        "comments.yaml",
        "# Source: chart/templates/disabled.yaml\n---\n# nothing rendered\n---\n",
    );
    write("crd.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {containers: [{name: a}]}\n");
    write("other-group.yaml", "apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: a}]}}}\n");
    write("notes.txt", "kind: Pod\nthis is not YAML: [\n");
    std::fs::create_dir_all(dir.join(".git")).unwrap_or_else(|e| panic!("{e}"));
    write(".git/config.yaml", "not: [valid\n");
    // Plain settings kept beside the manifests: given as --settings, not read as a manifest.
    write("policy-settings.yaml", "cpu: {maxLimit: 2}\n");
    let o = run_in(
        &dir,
        &["check", "-s", "policy-settings.yaml", "-o", "json", "."],
        b"",
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let r = json(&o.stdout);
    assert_eq!(
        r["summary"]["files"], 4,
        "*.txt and hidden folders are not read"
    );
    assert_eq!(r["summary"]["skipped"], 4);
    assert_eq!(r["summary"]["checked"], 0);
    let reasons: Vec<&str> = r["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"empty document"), "{reasons:?}");
    assert!(
        reasons.contains(&"example.com/v1 Deployment is not a kind the policy checks"),
        "{reasons:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Hostile objects get a verdict or an input error, never a panic.
#[test]
fn hostile_objects() {
    let pod = |containers: &str| {
        format!("{{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {{\"name\": \"h\"}}, \"spec\": {{\"containers\": {containers}}}}}")
    };
    let many = format!(
        "[{}]",
        vec!["{\"name\":\"c\",\"image\":\"nginx\"}"; 5_000].join(",")
    );
    for (containers, code, want) in [
        ("[{\"name\":\"e\",\"resources\":{\"limits\":{\"cpu\":1e999999,\"memory\":\"1e999999\"}}}]", 1, "cpu limit 1e999999 exceeds maxLimit 4"),
        ("[{\"name\":\"n\",\"resources\":{\"limits\":{\"cpu\":\"NaN\",\"memory\":\"NaN\"}}}]", 1, "cpu limit \"NaN\" is not a Kubernetes quantity"),
        // Not JSON (`.nan`), so YAML, where .nan is a float JSON cannot hold: kubectl refuses it.
        ("[{\"name\":\"n\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":.nan}}}]", 2, ".nan is a float JSON cannot hold"),
        // Judged as kubectl reads it (the last value), the key written twice reported.
        ("[{\"name\":\"d\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"cpu\":\"64\"}}}]", 1, "cpu limit 64 exceeds maxLimit 4"),
        ("[{\"name\":\"d\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"cpu\":\"64\"}}}]", 1, "key \"cpu\" written twice in one mapping (lines 1 and 1)"),
        ("7", 1, "request.object is not a valid Pod: spec.containers: invalid type"),
        (many.as_str(), 1, "spec.containers[4999] \"c\": memory limit is missing"),
    ] {
        let o = run_in(&fixtures(), &["check", "-s", "capped.json", "-"], pod(containers).as_bytes());
        assert_eq!(o.code, code, "{}{}", o.stdout, o.stderr);
        assert!(o.stdout.contains(want) || o.stderr.contains(want), "want {want:?}: {:.500}{:.500}", o.stdout, o.stderr);
    }
}

#[test]
fn settings_check() {
    let policy =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cluster-admission-policy.yaml");
    let o = run(&[
        "settings",
        "check",
        &policy.to_string_lossy(),
        "settings.yaml",
        "spinapp.yaml",
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("ClusterAdmissionPolicy/resource-limits spec.settings: valid settings (checks cpu, memory)"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("settings.yaml:2: valid settings (checks cpu, memory)"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("spinapp.yaml:11 SpinApp/resource-limits variable settings: valid settings"),
        "{}",
        o.stdout
    );

    // The SpinKube example feeds the settings variable from a ConfigMap in the same file.
    let spinkube =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spinkube/spinapp.yaml");
    let o = run(&["settings", "check", &spinkube.to_string_lossy()]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains(
            "SpinApp/resource-limits variable settings: valid settings (checks cpu, memory)"
        ),
        "{}",
        o.stdout
    );

    let bad = run(&["settings", "check", "policy-invalid.yaml"]);
    assert_eq!(bad.code, 2);
    assert_eq!(
        bad.stdout,
        "policy-invalid.yaml:11 ClusterAdmissionPolicy/resource-limits spec.settings: cpu.maxlimit: unknown setting (expected one of minRequest, maxRequest, minLimit, maxLimit, defaultRequest, defaultLimit, maxLimitRequestRatio, requireRequest, requireLimit, ignoreValues, forbidLimit, enforcement); did you mean cpu.maxLimit?\n\
         policy-invalid.yaml:10 ClusterAdmissionPolicy/resource-limits spec.settings: cpu.maxLimit: \"4 cores\" is not a Kubernetes quantity\n\
         policy-invalid.yaml:12 ClusterAdmissionPolicy/resource-limits spec.settings: memory: minLimit 2Gi is greater than maxLimit 1Gi\n"
    );
    let j = run(&["settings", "check", "-o", "json", "policy-invalid.yaml"]);
    let j = json(&j.stdout);
    assert_eq!(j[0]["problems"].as_array().map(Vec::len), Some(3));
    assert_eq!(j[0]["located"][0]["line"], 11, "{j}");
    assert_eq!(j[0]["located"][0]["field"], "cpu.maxlimit", "{j}");
    assert_eq!(j[0]["located"][0]["didYouMean"], "cpu.maxLimit", "{j}");
    assert_eq!(j[0]["located"][1]["line"], 10, "{j}");
    assert!(j[0]["located"][1].get("didYouMean").is_none(), "{j}");
    // The same files as --settings: a policy manifest works, a bad one names file and reason.
    let c = run(&[
        "check",
        "-s",
        &policy.to_string_lossy(),
        "charts/nightly-backup",
    ]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    let c = run(&["check", "-s", "policy-invalid.yaml", "charts"]);
    assert_eq!(c.code, 2);
    assert!(c.stderr.starts_with("resource-limits: invalid settings in policy-invalid.yaml:\npolicy-invalid.yaml:11 ClusterAdmissionPolicy/resource-limits spec.settings: cpu.maxlimit: unknown setting"), "{}", c.stderr);
    assert!(
        c.stderr.contains("; did you mean cpu.maxLimit?\n"),
        "{}",
        c.stderr
    );
    // Not settings at all.
    let n = run(&[
        "settings",
        "check",
        "charts/webshop/rendered.yaml",
        "nothere.json",
    ]);
    assert_eq!(n.code, 2);
    assert!(
        n.stderr.contains("nothere.json: cannot read"),
        "{}",
        n.stderr
    );
    let cm = run(&["settings", "check", "list.json"]);
    assert_eq!(cm.code, 2);
    assert!(
        cm.stderr.contains("list.json: a List is not settings"),
        "{}",
        cm.stderr
    );
}

/// Empty settings files (no text, only comments, only empty documents) are `{}`, as in the
/// playground and Kubewarden: the plain rule, which requires cpu and memory limits.
#[test]
fn empty_settings_are_an_empty_object() {
    let dir = tmp("empty-settings");
    let pod = dir.join("pod.yaml");
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    write(
        &pod,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n",
    );
    for (i, text) in ["", "  \n", "# only a comment\n", "---\n# c\n---\n"]
        .into_iter()
        .enumerate()
    {
        let settings = dir.join(format!("settings-{i}.yaml"));
        write(&settings, text);
        let name = settings.to_string_lossy().into_owned();
        let c = run_in(&dir, &["settings", "check", &name], b"");
        assert_eq!(c.code, 0, "{text:?}: {}{}", c.stdout, c.stderr);
        assert!(
            c.stdout.contains(":1: valid settings (checks cpu, memory)"),
            "{text:?}: {}",
            c.stdout
        );
        let c = run_in(&dir, &["check", "-s", &name, "pod.yaml"], b"");
        assert_eq!(c.code, 1, "{text:?}: {}{}", c.stdout, c.stderr);
        assert!(
            c.stdout.contains("cpu limit is missing")
                && c.stdout.contains("memory limit is missing"),
            "{text:?}: {}",
            c.stdout
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `fix` keeps CRLF line ends and non-ASCII text, and refuses to edit through an alias
/// rather than guess (exit 2, nothing written).
#[test]
fn fix_line_ends_and_aliases() {
    let crlf = "apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: crlf-é\r\nspec:\r\n  containers:\r\n  - name: ä\r\n    image: x\r\n";
    let f = run_in(
        &fixtures(),
        &["fix", "-s", "settings.yaml", "-"],
        crlf.as_bytes(),
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert!(f.stdout.starts_with(crlf), "{:?}", f.stdout);
    assert!(
        f.stdout
            .contains("    resources:\r\n      limits:\r\n        cpu: \"1\"\r\n"),
        "{:?}",
        f.stdout
    );
    assert!(
        !f.stdout.replace("\r\n", "").contains('\n'),
        "a bare LF was added: {:?}",
        f.stdout
    );

    let alias = "apiVersion: v1\nkind: Pod\nmetadata: {name: anchored}\nspec:\n  containers:\n  - &ctr\n    name: a\n    image: x\n  - *ctr\n";
    let dir = tmp("alias");
    let file = dir.join("pod.yaml");
    std::fs::write(&file, alias).unwrap_or_else(|e| panic!("{e}"));
    let s = fixtures()
        .join("settings.yaml")
        .to_string_lossy()
        .into_owned();
    let o = run_in(&dir, &["fix", "-s", &s, "pod.yaml"], b"");
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "pod.yaml:1: cannot edit the YAML: spec.containers[1] is not a plain mapping"
        ),
        "{}",
        o.stderr
    );
    assert_eq!(read(&file), alias, "nothing written");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Deployment whose memory request is written in milli-units (line 13) and whose cpu
/// request is above its limit (line 12).
const WARNED: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          resources:
            requests:
              cpu: \"2\"
              memory: 128m
            limits:
              cpu: \"1\"
              memory: 1Gi
";

#[test]
fn warnings_are_printed_apart_and_count_only_when_asked() {
    let dir = tmp("warnings");
    std::fs::write(dir.join("settings.json"), "{}").unwrap_or_else(|e| panic!("{e}"));
    let typo_only = WARNED.replace("cpu: \"2\"", "cpu: \"1\"");
    let check = |input: &str, extra: &[&str]| {
        let mut args = vec!["check", "-s", "settings.json"];
        args.extend_from_slice(extra);
        args.push("-");
        run_in(&dir, &args, input.as_bytes())
    };
    // A warning alone: printed apart from violations, exit 0.
    let o = check(&typo_only, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        o.stdout,
        "<stdin>:13 Deployment/web: warning: spec.template.spec.containers[0] \"app\": memory request 128m is 0.128 bytes (did you mean 128Mi?)\n\
         1 workload checked in 1 file: 1 passed, 0 failed (0 violations), 1 warning; 0 skipped\n"
    );
    // --warnings-as-errors makes it count.
    assert_eq!(check(&typo_only, &["--warnings-as-errors"]).code, 1);
    // JSON: apart from violations, and counted.
    let j = json(&check(&typo_only, &["-o", "json"]).stdout);
    assert_eq!(j["summary"]["warnings"], 1);
    assert_eq!(j["results"][0]["status"], "passed");
    assert_eq!(j["results"][0]["warnings"][0]["line"], 13);
    assert_eq!(j["results"][0]["warnings"][0]["resource"], "memory");
    // SARIF: level warning, under its own rule.
    let s = json(&check(&typo_only, &["-o", "sarif"]).stdout);
    let results = s["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 1, "{s}");
    assert_eq!(results[0]["level"], "warning");
    assert_eq!(results[0]["ruleId"], "container-resources-warning");
    assert_eq!(
        s["runs"][0]["tool"]["driver"]["rules"][2]["defaultConfiguration"]["level"],
        "warning"
    );
    // A request above its limit: a violation here (no API server follows the check).
    let o = check(WARNED, &[]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(o.stdout.starts_with(
        "<stdin>:12 Deployment/web: spec.template.spec.containers[0] \"app\": cpu request 2 is above its limit 1, which the API server refuses\n\
         <stdin>:13 Deployment/web: warning: spec.template.spec.containers[0] \"app\": memory request 128m is 0.128 bytes (did you mean 128Mi?)\n"
    ), "{}", o.stdout);
    let s = json(&check(WARNED, &["-o", "sarif"]).stdout);
    let levels: Vec<Value> = s["runs"][0]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["level"].clone())
        .collect();
    assert_eq!(levels, [Value::from("warning"), Value::from("error")]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A key written twice: the workload is judged as kubectl reads it (the second value), and
/// each such key is reported at its line in every output, making the exit code 1. A key of
/// a List's own (outside every item) concerns each item; an object the policy does not judge
/// gets no word.
#[test]
fn a_key_written_twice_is_judged_as_kubectl_reads_it_and_reported() {
    let dir = tmp("twice");
    let deployment = |name: &str, limits: &str| {
        format!(
            "- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {{name: {name}}}\n  spec:\n    template:\n      spec:\n        containers:\n        - name: app\n          resources:\n            limits:\n{limits}"
        )
    };
    let list = format!(
        "apiVersion: v1\nkind: List\nkind: List\nitems:\n{}{}",
        deployment(
            "web",
            "              cpu: 1\n              memory: 1Gi\n              memory: 8Gi\n"
        ),
        deployment("api", "              cpu: 1\n              memory: 1Gi\n")
    );
    std::fs::write(dir.join("list.yaml"), &list).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1', a: '2'}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let s = fixtures().join("capped.json");
    let s = s.to_string_lossy().into_owned();

    let o = run_in(&dir, &["check", "-s", &s, "list.yaml", "config.yaml"], b"");
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "list.yaml:17 Deployment/web: spec.template.spec.containers[0] \"app\": memory limit 8Gi exceeds maxLimit 4Gi",
            "list.yaml:3 Deployment/web: key \"kind\" written twice in one mapping (lines 2 and 3): kubectl keeps the second value without a word, another reader may keep the first",
            "list.yaml:17 Deployment/web: key \"memory\" written twice in one mapping (lines 16 and 17): kubectl keeps the second value without a word, another reader may keep the first",
            "list.yaml:3 Deployment/api: key \"kind\" written twice in one mapping (lines 2 and 3): kubectl keeps the second value without a word, another reader may keep the first",
            "2 workloads checked in 2 files: 1 passed, 1 failed (1 violation), 3 keys written twice; 1 skipped",
        ],
        "{}",
        o.stdout
    );

    let o = run_in(&dir, &["check", "-s", &s, "-o", "json", "list.yaml"], b"");
    assert_eq!(o.code, 1, "{}", o.stderr);
    let r: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_default();
    assert_eq!(r["summary"]["duplicateKeys"], 3, "{r}");
    assert_eq!(
        r["results"][0]["duplicateKeys"][1],
        serde_json::json!({
            "line": 17, "firstLine": 16, "key": "memory",
            "path": "items[0].spec.template.spec.containers[0].resources.limits.memory",
            "message": "key \"memory\" written twice in one mapping (lines 16 and 17): kubectl keeps the second value without a word, another reader may keep the first",
        }),
        "{r}"
    );
    assert_eq!(r["results"][1]["status"], "passed", "{r}");
    assert_eq!(r["results"][1]["duplicateKeys"][0]["path"], "kind", "{r}");

    let o = run_in(&dir, &["check", "-s", &s, "-o", "sarif", "list.yaml"], b"");
    assert_eq!(o.code, 1, "{}", o.stderr);
    let r: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_default();
    let twice: Vec<(String, u64)> = r["runs"][0]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|x| x["ruleId"] == "duplicate-key")
        .map(|x| {
            (
                x["ruleId"].as_str().unwrap_or_default().to_owned(),
                x["locations"][0]["physicalLocation"]["region"]["startLine"]
                    .as_u64()
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(twice.len(), 3, "{r}");
    assert_eq!(twice[1].1, 17, "{r}");
    assert_eq!(
        r["runs"][0]["tool"]["driver"]["rules"][3]["id"],
        "duplicate-key"
    );

    let o = run_in(&dir, &["check", "-s", &s, "-o", "junit", "list.yaml"], b"");
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stdout.contains("type=\"duplicate-key\""),
        "the passing Deployment fails on its key written twice: {}",
        o.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! What a CI pipeline leans on: JUnit XML beside human, JSON and SARIF; `fix --check`;
//! `settings check` refusing the formats it has no use for; shell completions and man pages
//! from the clap definition; usage errors (exit 2, clap's words and the usage line) told apart
//! from bad input (exit 2, `file:line: reason`).

mod common;
use common::{fixtures, run_in, tmp};
use std::path::Path;
use std::process::Command;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn count(text: &str, what: &str) -> usize {
    text.matches(what).count()
}

#[test]
fn junit_one_test_case_a_workload() {
    let dir = tmp("junit");
    let settings = fixtures().join("settings.yaml");
    let settings = settings.to_string_lossy();
    write(
        &dir.join("apps.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx\n        resources:\n          limits: {cpu: \"8\", memory: 1Gi}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec:\n  containers:\n  - name: app\n    image: nginx\n    resources:\n      requests: {cpu: 100m, memory: 100Mi}\n      limits: {cpu: 200m, memory: 256000000000m}\n",
    );
    write(&dir.join("broken.yaml"), "kind: Pod\n  bad: [\n");
    let o = run_in(&dir, &["check", "-s", &settings, "-o", "junit", "."], b"");
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    let xml = &o.stdout;
    assert!(
        xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"resource-limits\""
        ),
        "{xml}"
    );
    // Three objects and the unreadable file: four test cases.
    assert_eq!(count(xml, "<testcase "), 4, "{xml}");
    assert!(xml.contains("<testsuite name=\"./apps.yaml\" tests=\"3\" skipped=\"1\" errors=\"0\" failures=\"1\">"), "{xml}");
    assert!(xml.contains("<testcase name=\"Service/web\" classname=\"./apps.yaml\">\n            <skipped message=\"v1 Service is not a kind the policy checks\"/>"), "{xml}");
    assert!(
        xml.contains("<failure message=\"2 violations\" type=\"container-resources\">./apps.yaml:15 spec.template.spec.containers[0] &quot;app&quot;: cpu limit 8 exceeds maxLimit 4\n./apps.yaml:14 spec.template.spec.containers[0] &quot;app&quot;: cpu request 8 (taken from its limit) exceeds maxRequest 2\n</failure>"),
        "{xml}"
    );
    assert!(
        xml.contains("<error message=\"") && xml.contains("type=\"input-error\""),
        "{xml}"
    );
    // The Pod passes, with a warning (a memory quantity in milli-units) as its standard error;
    // with --warnings-as-errors it is a failure.
    assert!(
        xml.contains(
            "<testcase name=\"Pod/ok\" classname=\"./apps.yaml\">\n            <system-err>"
        ),
        "{xml}"
    );
    std::fs::remove_file(dir.join("broken.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let o = run_in(
        &dir,
        &[
            "check",
            "-s",
            &settings,
            "-o",
            "junit",
            "--warnings-as-errors",
            "apps.yaml",
        ],
        b"",
    );
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("failures=\"2\""), "{}", o.stdout);
    assert!(
        o.stdout.contains("type=\"container-resources-warning\""),
        "{}",
        o.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fix_check_names_the_files_and_writes_nothing() {
    let dir = tmp("fix-check");
    let settings = fixtures().join("settings.yaml");
    let settings = settings.to_string_lossy();
    let bare = "apiVersion: v1\nkind: Pod\nmetadata: {name: bare}\nspec:\n  containers:\n  - name: app\n    image: nginx\n";
    write(&dir.join("bare.yaml"), bare);
    let done = "apiVersion: v1\nkind: Pod\nmetadata: {name: done}\nspec:\n  containers:\n  - name: app\n    image: nginx\n    resources:\n      requests: {cpu: 250m, memory: 128Mi}\n      limits: {cpu: \"1\", memory: 512Mi}\n";
    write(&dir.join("done.yaml"), done);
    let o = run_in(&dir, &["fix", "-s", &settings, "--check", "."], b"");
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains("./bare.yaml: would change"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("done.yaml"), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("would add 4 defaults in 1 file (--check: nothing written)"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stdout, "");
    assert_eq!(
        std::fs::read_to_string(dir.join("bare.yaml")).unwrap_or_default(),
        bare
    );
    // Nothing to add: exit 0.
    let o = run_in(&dir, &["fix", "-s", &settings, "--check", "done.yaml"], b"");
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    // Standard input: nothing echoed, the exit code says it.
    let o = run_in(
        &dir,
        &["fix", "-s", &settings, "--check", "-"],
        bare.as_bytes(),
    );
    assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{}", o.stderr);
    // With --dry-run, the diff as well.
    let o = run_in(
        &dir,
        &["fix", "-s", &settings, "--check", "--dry-run", "bare.yaml"],
        b"",
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stdout.contains("+        cpu: 250m"), "{}", o.stdout);
    assert_eq!(
        std::fs::read_to_string(dir.join("bare.yaml")).unwrap_or_default(),
        bare
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn settings_check_takes_human_and_json_only() {
    let o = run_in(&fixtures(), &["settings", "check", "--help"], b"");
    assert_eq!(o.code, 0);
    let formats = o
        .stdout
        .split("Possible values:")
        .nth(1)
        .unwrap_or_default();
    assert!(
        formats.contains("- human:") && formats.contains("- json:"),
        "{}",
        o.stdout
    );
    assert!(
        !formats.contains("sarif") && !formats.contains("junit"),
        "{}",
        o.stdout
    );
    for format in ["sarif", "junit"] {
        let o = run_in(
            &fixtures(),
            &["settings", "check", "-o", format, "settings.yaml"],
            b"",
        );
        assert_eq!(o.code, 2, "{}", o.stdout);
        assert!(
            o.stderr.starts_with(&format!(
                "error: invalid value '{format}' for '--output <OUTPUT>'"
            )),
            "{}",
            o.stderr
        );
        assert_eq!(o.stdout, "");
    }
}

#[test]
fn completions_and_man_pages_from_the_definition() {
    for (shell, marks) in [
        (
            "bash",
            &["_resource__limits()", "--skip-kind", "completions"][..],
        ),
        (
            "zsh",
            &["#compdef resource-limits", "--warnings-as-errors"][..],
        ),
        ("fish", &["complete -c resource-limits", "skip-kind"][..]),
        ("elvish", &["resource-limits"][..]),
        ("powershell", &["resource-limits"][..]),
    ] {
        let o = run_in(&fixtures(), &["completions", shell], b"");
        assert_eq!(o.code, 0, "{shell}: {}", o.stderr);
        for m in marks {
            assert!(o.stdout.contains(m), "{shell}: no {m:?} in {}", o.stdout);
        }
    }
    // bash reads the script without a syntax error.
    let o = run_in(&fixtures(), &["completions", "bash"], b"");
    let dir = tmp("completions");
    let script = dir.join("resource-limits.bash");
    write(&script, &o.stdout);
    let status = Command::new("bash").arg("-n").arg(&script).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "bash -n {}",
        script.display()
    );
    let _ = std::fs::remove_dir_all(&dir);

    let o = run_in(&fixtures(), &["man"], b"");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains(".TH resource-limits 1"), "{}", o.stdout);
    assert!(
        o.stdout.contains("resource\\-limits\\-check(1)"),
        "{}",
        o.stdout
    );
    for (words, mark) in [
        (
            &["man", "check"][..],
            "\\fB\\-\\-warnings\\-as\\-errors\\fR",
        ),
        (&["man", "fix"][..], "\\fB\\-\\-check\\fR"),
        (
            &["man", "settings", "check"][..],
            ".TH resource-limits-settings-check 1",
        ),
    ] {
        let o = run_in(&fixtures(), words, b"");
        assert_eq!(o.code, 0, "{words:?}: {}", o.stderr);
        assert!(
            o.stdout.contains(mark),
            "{words:?}: no {mark:?} in {}",
            o.stdout
        );
    }
}

/// A usage error is clap's: `error: ...` and a pointer to --help (or, with no command at all,
/// the help), exit 2. Bad input is `file:line: reason` (or the settings file and why), exit 2,
/// worded otherwise.
#[test]
fn usage_errors_are_told_apart_from_bad_input() {
    let usage: &[&[&str]] = &[
        &[],
        &["nope"],
        &["check"],
        &["check", "-s"],
        &["check", "-s", "settings.yaml", "-o", "xml", "list.json"],
        &[
            "check",
            "-s",
            "settings.yaml",
            "--exclude",
            "{a",
            "list.json",
        ],
        &["check", "-s", "settings.yaml", "--bogus", "list.json"],
        &["fix", "-s", "settings.yaml"],
        &["settings"],
        &["settings", "check"],
        &["completions"],
        &["completions", "tcsh"],
        &["man", "nope"],
        // No path and nothing on standard input.
        &["check", "-s", "settings.yaml"],
    ];
    for args in usage {
        let o = run_in(&fixtures(), args, b"");
        assert_eq!(o.code, 2, "{args:?}: {}{}", o.stdout, o.stderr);
        // clap's error, or (no command at all) clap's help, on standard error.
        let clap_error = o.stderr.starts_with("error: ")
            && o.stderr.ends_with("For more information, try '--help'.\n");
        let clap_help =
            o.stderr.contains("\nCommands:\n") && o.stderr.contains("Usage: resource-limits");
        assert!(
            clap_error || clap_help,
            "{args:?} is not worded as a usage error: {}",
            o.stderr
        );
        assert_eq!(o.stdout, "", "{args:?}");
    }
    let dir = tmp("bad-input");
    write(&dir.join("broken.yaml"), "kind: Pod\n  bad: [\n");
    let settings = fixtures().join("settings.yaml");
    let settings = settings.to_string_lossy();
    let policy = fixtures().join("policy-invalid.yaml");
    let policy = policy.to_string_lossy();
    let bad: &[(&[&str], &str)] = &[
        (
            &["check", "-s", &settings, "broken.yaml"],
            "broken.yaml:2: invalid YAML",
        ),
        (
            &["check", "-s", &settings, "missing.yaml"],
            "missing.yaml: ",
        ),
        (
            &["check", "-s", "missing-settings.yaml", "broken.yaml"],
            "resource-limits: invalid settings in missing-settings.yaml: ",
        ),
        (
            &["check", "-s", &policy, "broken.yaml"],
            "resource-limits: invalid settings in ",
        ),
        (
            &["fix", "-s", &settings, "broken.yaml"],
            "broken.yaml:2: invalid YAML",
        ),
        (&["settings", "check", &policy], "policy-invalid.yaml:"),
        (&["settings", "check", "broken.yaml"], "broken.yaml"),
    ];
    for (args, want) in bad {
        let o = run_in(&dir, args, b"");
        assert_eq!(o.code, 2, "{args:?}: {}{}", o.stdout, o.stderr);
        let said = format!("{}{}", o.stdout, o.stderr);
        assert!(said.contains(want), "{args:?}: want {want:?} in {said}");
        assert!(
            !said.contains("Usage:")
                && !said.contains("try '--help'")
                && !o.stderr.starts_with("error:"),
            "{args:?} is worded as a usage error: {said}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

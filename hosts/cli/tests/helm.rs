//! The fixture repository's Helm chart (tests/fixtures/repo/charts/shop, with its subchart)
//! rendered by the real `helm template` and piped into `check -`, as the CLI's hint for a chart
//! says and as a pipeline runs it: the rendered workloads judged, the Service skipped.
//!
//! helm is built from the Go module proxy at the release scripts/tools.sh pins
//! (`scripts/tools.sh helm`, which scripts/setup.sh runs); without it the test fails saying so.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_resource-limits");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// helm at the version scripts/tools.sh pins: the script prints where it keeps it (and builds
/// it first where it is missing; scripts/setup.sh runs it, so here it only checks).
fn helm() -> PathBuf {
    let out = Command::new(root().join("scripts/tools.sh"))
        .arg("helm")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("scripts/tools.sh helm: {e}"));
    assert!(
        out.status.success(),
        "scripts/tools.sh helm failed ({}): helm is not built:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let helm = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(helm.is_file(), "{} is not built", helm.display());
    helm
}

/// `helm template shop charts/shop ARGS | resource-limits check -s SETTINGS -o json -`.
fn render_and_check(settings: &Path, helm_args: &[&str]) -> (i32, Value, String) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repo");
    let mut rendered = Command::new(helm())
        .args(["template", "shop", "charts/shop"])
        .args(helm_args)
        .current_dir(&repo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("helm: {e}"));
    let Some(pipe) = rendered.stdout.take() else {
        panic!("helm's standard output")
    };
    let out = Command::new(BIN)
        .arg("check")
        .arg("-s")
        .arg(settings)
        .args(["-o", "json", "-"])
        .current_dir(&repo)
        .stdin(Stdio::from(pipe))
        .output()
        .unwrap_or_else(|e| panic!("{BIN}: {e}"));
    let helm_out = rendered
        .wait_with_output()
        .unwrap_or_else(|e| panic!("helm: {e}"));
    assert!(
        helm_out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&helm_out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Each result as `Kind/name status`, with its violations' problems.
fn verdicts(json: &Value) -> Vec<String> {
    json["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let problems: Vec<&str> = r["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["problem"].as_str().or(v["message"].as_str()))
                .collect();
            format!(
                "{}/{} {} {}",
                r["kind"].as_str().unwrap_or("-"),
                r["name"].as_str().unwrap_or("-"),
                r["status"].as_str().unwrap_or("-"),
                problems.join("; ")
            )
            .trim_end()
            .to_owned()
        })
        .collect()
}

#[test]
fn a_chart_rendered_by_helm_is_judged() {
    let bounded = root().join("examples/settings/bounded.json");
    // As the chart ships (resources: {}): the defaults are due, nothing is refused.
    let (code, json, stderr) = render_and_check(&bounded, &[]);
    assert_eq!(code, 0, "{json}{stderr}");
    assert_eq!(
        verdicts(&json),
        ["Service/shop-shop skipped", "Deployment/shop-shop passed"],
        "{json}"
    );
    assert_eq!(json["summary"]["checked"], 1, "{json}");
    let defaults = json["results"][1]["defaults"].as_array().map(Vec::len);
    assert_eq!(defaults, Some(4), "{json}");

    // With the plain rule, the missing limits are refused.
    let dir = std::env::temp_dir().join(format!("resource-limits-helm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let plain = dir.join("plain.yaml");
    std::fs::write(&plain, "{}\n").unwrap_or_else(|e| panic!("{}: {e}", plain.display()));
    let (code, json, stderr) = render_and_check(&plain, &[]);
    assert_eq!(code, 1, "{json}{stderr}");
    let deployment = &verdicts(&json)[1];
    assert!(
        deployment.starts_with("Deployment/shop-shop failed")
            && deployment.contains("cpu limit is missing")
            && deployment.contains("memory limit is missing"),
        "{deployment}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // Values set on the command line, and the subchart enabled: a limit over the bounds, and a
    // StatefulSet without a pod template, both refused at their lines of the rendered stream.
    let (code, json, stderr) = render_and_check(
        &bounded,
        &[
            "--set",
            "resources.limits.cpu=8",
            "--set",
            "cache.enabled=true",
        ],
    );
    assert_eq!(code, 1, "{json}{stderr}");
    let v = verdicts(&json);
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(
        v[1].starts_with("Deployment/shop-shop failed")
            && v[1].contains("cpu limit 8 exceeds maxLimit 4"),
        "{v:?}"
    );
    assert!(v[2].starts_with("StatefulSet/shop-cache failed"), "{v:?}");
    let line = json["results"][1]["violations"][0]["line"].as_u64();
    assert_eq!(line, Some(29), "{json}");
}

//! The table of manifest cases (`tests/manifests/cases.json`, shared with the browser's
//! tests) through the built binary: `check -o json` on each file, with the case's settings
//! written as a settings file.

use serde_json::Value;
use std::process::Command;
use testkit::manifests::{self, Host, ManifestCase, ObjectVerdict};

const BIN: &str = env!("CARGO_BIN_EXE_resource-limits");

/// A document skipped for holding no object: its line and the reason.
type Skipped = (usize, String);

/// The results of `check -o json`, as the table writes them: the objects' verdicts, and
/// the documents skipped for holding no object (no kind: empty, or no Kubernetes object),
/// each as `(line, reason)`.
fn verdicts(out: &Value) -> Result<(Vec<ObjectVerdict>, Vec<Skipped>), String> {
    let results = out["results"]
        .as_array()
        .ok_or_else(|| format!("no results: {out}"))?;
    let (objects, skipped): (Vec<&Value>, Vec<&Value>) =
        results.iter().partition(|r| !r["kind"].is_null());
    let skipped = skipped
        .into_iter()
        .map(|r| {
            if r["status"] != "skipped" {
                return Err(format!("a document without kind, not skipped: {r}"));
            }
            let line = r["line"].as_u64().map_or(0, |n| n as usize);
            Ok((line, r["reason"].as_str().unwrap_or("").to_owned()))
        })
        .collect::<Result<_, _>>()?;
    let objects = objects
        .into_iter()
        .map(|r| ObjectVerdict::from_json(r, r["status"] != "failed"))
        .collect();
    Ok((objects, skipped))
}

fn run_case(dir: &std::path::Path, i: usize, case: &ManifestCase) -> Result<(), String> {
    let settings = dir.join(format!("settings-{i}.yaml"));
    std::fs::write(&settings, &case.settings).map_err(|e| format!("{e}"))?;
    let file = manifests::manifests_dir().join(&case.file);
    let out = Command::new(BIN)
        .args(["check", "-o", "json", "-s"])
        .arg(&settings)
        .arg(&file)
        .output()
        .map_err(|e| format!("cannot run {BIN}: {e}"))?;
    let want_code = if case.allowed(Host::Cli) { 0 } else { 1 };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.code() != Some(want_code) {
        return Err(format!(
            "exit {:?}, want {want_code}: {stdout}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let json: Value = serde_json::from_str(&stdout).map_err(|e| format!("{e}: {stdout}"))?;
    let (objects, skipped) = verdicts(&json)?;
    case.check(Host::Cli, &objects)?;
    case.check_cli_skipped(&skipped)
}

#[test]
fn the_manifest_table_through_the_cli() {
    let dir = std::env::temp_dir().join(format!(
        "resource-limits-cli-manifests-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut i = 0;
    manifests::check_manifest_cases(|case| {
        i += 1;
        run_case(&dir, i, case)
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every manifest of the folder is in the table's embedded files (the browser reads those),
/// with the same text, and every one is used by a case.
#[test]
fn every_manifest_file_is_embedded_and_used() {
    testkit::assert_embedded(&manifests::manifests_dir(), manifests::FILES, |f| {
        Some(f).filter(|f| *f != "cases.json")
    });
    let cases = manifests::manifest_cases();
    for (name, _) in manifests::FILES {
        assert!(
            cases.iter().any(|c| c.file == *name),
            "{name} is in no case"
        );
    }
}

//! The shared case table through the built `resource-limits` binary: every case that is a
//! CREATE of an object is written as a manifest, checked with `check`, and its defaults are
//! added with `fix`; cases with invalid settings go through `settings check`.
//!
//! Cases are grouped by settings, so the binary runs a few times per settings document, not
//! per case.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
mod common;
use common::{tmp, BIN};
use std::path::Path;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A case the CLI can run: its manifest (with apiVersion and kind) and what it adds to the
/// original object.
struct Runnable<'a> {
    case: &'a testkit::Case,
    manifest: Value,
    /// Keys the manifest has that the case's object does not (apiVersion, kind).
    added_keys: Vec<&'static str>,
}

/// The CREATE of an object, with its kind; `None` for other requests.
fn runnable(case: &testkit::Case) -> Option<Runnable<'_>> {
    let req: Value = serde_json::from_str(&case.request).ok()?;
    if req["operation"] != "CREATE" || req.get("subResource").is_some_and(|s| !s.is_null()) {
        return None;
    }
    let object = case.object.as_ref()?.as_object()?;
    let kind = req.pointer("/kind/kind")?.as_str()?;
    let api_version = match req.pointer("/kind/group").and_then(Value::as_str) {
        Some("") => req.pointer("/kind/version")?.as_str()?.to_owned(),
        Some(g) => format!("{g}/{}", req.pointer("/kind/version")?.as_str()?),
        None => {
            let (g, v, _) = testkit::gvr(kind);
            if g.is_empty() {
                v.to_owned()
            } else {
                format!("{g}/{v}")
            }
        }
    };
    let mut manifest = Map::new();
    let mut added_keys = Vec::new();
    for (key, want) in [("apiVersion", api_version.as_str()), ("kind", kind)] {
        match object.get(key) {
            Some(v) if v != want => return None, // the object says otherwise: not expressible
            Some(_) => {}
            None => {
                manifest.insert(key.into(), json!(want));
                added_keys.push(key);
            }
        }
    }
    manifest.extend(object.clone());
    Some(Runnable {
        case,
        manifest: Value::Object(manifest),
        added_keys,
    })
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every applicable case of the table, through `check` (YAML manifests) and `fix` (JSON
/// manifests, compared exactly with the expected mutated object; then the YAML manifests,
/// which must pass `check` with nothing left to add).
#[test]
fn the_case_table_through_the_cli() {
    let cases = testkit::load();
    let valid: Vec<&testkit::Case> = cases
        .iter()
        .filter(|c| c.expect.settings_error.is_none())
        .collect();
    let runnables: Vec<Runnable<'_>> = valid.iter().filter_map(|c| runnable(c)).collect();
    assert!(
        runnables.len() > 100,
        "only {} runnable cases",
        runnables.len()
    );
    let mut groups: BTreeMap<String, Vec<&Runnable<'_>>> = BTreeMap::new();
    for r in &runnables {
        groups
            .entry(r.case.settings.to_string())
            .or_default()
            .push(r);
    }
    let root = tmp("table");
    let mut failures = Vec::new();
    let (mut rejected, mut mutated_count) = (0, 0);
    for (g, (settings, members)) in groups.iter().enumerate() {
        let dir = root.join(format!("g{g}"));
        let yaml_dir = dir.join("yaml");
        let json_dir = dir.join("json");
        for d in [&yaml_dir, &json_dir] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
        }
        let settings_file = dir.join("settings.json");
        write(&settings_file, settings);
        for (i, r) in members.iter().enumerate() {
            let y = testkit::block_yaml(&r.manifest);
            write(&yaml_dir.join(format!("c{i:04}.yaml")), &y);
            write(
                &json_dir.join(format!("c{i:04}.json")),
                &serde_json::to_string_pretty(&r.manifest).unwrap_or_default(),
            );
        }
        let s = settings_file.to_string_lossy().into_owned();
        let yaml_arg = yaml_dir.to_string_lossy().into_owned();
        let (code, out, err) = run(&["check", "-s", &s, "-o", "json", &yaml_arg]);
        let report: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("check output is not JSON ({e}): {out}\n{err}"));
        let results = report["results"].as_array().cloned().unwrap_or_default();
        assert_eq!(results.len(), members.len(), "{err}");
        let any_failed = results.iter().any(|r| r["status"] == "failed");
        assert_eq!(code, i32::from(any_failed), "{err}");
        // fix on the JSON copies, in place.
        let json_arg = json_dir.to_string_lossy().into_owned();
        let (fix_code, _, fix_err) = run(&["fix", "-s", &s, &json_arg]);
        assert_eq!(fix_code, i32::from(any_failed), "{fix_err}");
        for (i, (r, res)) in members.iter().zip(&results).enumerate() {
            let failed = res["status"] == "failed";
            let mutated = if res["defaults"].as_array().is_some_and(|d| !d.is_empty()) {
                let text = read(&json_dir.join(format!("c{i:04}.json")));
                let mut m: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: fixed JSON unreadable: {e}", r.case.name));
                if let Some(o) = m.as_object_mut() {
                    for k in &r.added_keys {
                        o.remove(*k);
                    }
                }
                Some(m)
            } else {
                None
            };
            rejected += usize::from(failed);
            mutated_count += usize::from(mutated.is_some());
            let answer = testkit::Answer {
                allowed: !failed,
                code: failed.then_some(400),
                message: res["message"].as_str().map(str::to_owned),
                mutated,
                warnings: res["warnings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|w| w["message"].as_str().map(str::to_owned))
                    .collect(),
            };
            if let Err(e) = r.case.for_cli().check(&answer) {
                failures.push(format!("{}: {e}", r.case.name));
            }
        }
        // fix on the YAML manifests: afterwards nothing is left to add.
        run(&["fix", "-s", &s, &yaml_arg]);
        let (_, out, _) = run(&["check", "-s", &s, "-o", "json", &yaml_arg]);
        let after: Value = serde_json::from_str(&out).unwrap_or_default();
        for (r, res) in members
            .iter()
            .zip(after["results"].as_array().into_iter().flatten())
        {
            if res["defaults"].as_array().is_some_and(|d| !d.is_empty()) {
                failures.push(format!(
                    "{}: defaults still due after fix: {res}",
                    r.case.name
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    // The table exercises all three outcomes through the CLI.
    assert!(
        rejected > 30 && mutated_count > 10,
        "{rejected} rejected, {mutated_count} mutated"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        runnables.len(),
        failures.join("\n")
    );
}

/// Every case with invalid settings: `settings check` gives the same message as
/// `validate_settings`, and `check` refuses to run with them (exit 2).
#[test]
fn invalid_settings_of_the_table() {
    let cases = testkit::load();
    let dir = tmp("settings");
    let mut files = Vec::new();
    let mut expected = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        if c.expect.settings_error.is_none() && i % 7 != 0 {
            continue; // every invalid case, and a sample of valid ones
        }
        let f = dir.join(format!("s{i:04}.json"));
        write(&f, &c.settings.to_string());
        files.push(f.to_string_lossy().into_owned());
        expected.push(c);
    }
    assert!(
        expected
            .iter()
            .filter(|c| c.expect.settings_error.is_some())
            .count()
            > 10
    );
    let mut args = vec!["settings", "check", "-o", "json"];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = run(&args);
    assert_eq!(code, 2, "{err}");
    let results: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let results = results.as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), expected.len());
    testkit::check_all(
        &expected.iter().map(|c| (*c).clone()).collect::<Vec<_>>(),
        |c| {
            let i = expected
                .iter()
                .position(|e| e.name == c.name)
                .ok_or("lost")?;
            let r = &results[i];
            c.check_settings(r["valid"] == true, r["message"].as_str())
                .map(|_| ())
        },
    );
    // check and fix refuse invalid settings, naming the file.
    if let Some(i) = expected
        .iter()
        .position(|c| c.expect.settings_error.is_some())
    {
        let want = expected[i]
            .expect
            .settings_error
            .clone()
            .unwrap_or_default();
        for cmd in ["check", "fix"] {
            let (code, _, err) = run(&[cmd, "-s", &files[i], "-"]);
            assert_eq!(code, 2, "{cmd}: {err}");
            assert!(
                err.contains(&files[i]) && err.contains(&want),
                "{cmd}: {err}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! The table of manifest cases (`tests/manifests/cases.json`): files in, one verdict per
//! object out (allowed, and each violation's message and line), with the settings given as
//! the text of a settings file. The CLI's tests run it on the files, the browser's tests on
//! the same texts, embedded here (the browser has no file system).

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The table itself.
const CASES: &str = include_str!("../../manifests/cases.json");

/// Every manifest of `tests/manifests/`, as `(file name, text)`; the CLI's tests check that
/// none is missing.
pub const FILES: &[(&str, &str)] = &[
    (
        "deployment-list.json",
        include_str!("../../manifests/deployment-list.json"),
    ),
    (
        "list-without-limits.yaml",
        include_str!("../../manifests/list-without-limits.yaml"),
    ),
    (
        "multi-document.yaml",
        include_str!("../../manifests/multi-document.yaml"),
    ),
];

/// One case: a file, the settings, the verdict on each object.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestCase {
    /// What the case shows.
    pub about: String,
    /// The manifest's file name in `tests/manifests/`.
    pub file: String,
    /// The text of the settings file (empty text is `{}`).
    pub settings: String,
    /// The verdict on each object, in the order of the file.
    pub objects: Vec<ObjectVerdict>,
}

/// The verdict on one object of a manifest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectVerdict {
    /// The object's first line (a list item's own line).
    pub line: usize,
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: Option<String>,
    /// Accepted (or not a kind the policy checks).
    pub allowed: bool,
    /// The violations of a rejection, in order.
    #[serde(default)]
    pub violations: Vec<Located>,
}

impl ObjectVerdict {
    /// An object's verdict as a host reports it in JSON: its `line`, `kind`, `name` and
    /// `violations` (`[{line, message, ...}]`; the CLI's `check -o json` results and the
    /// playground's answers both have these fields), with `allowed` as the host says it.
    pub fn from_json(v: &serde_json::Value, allowed: bool) -> ObjectVerdict {
        let line = |v: &serde_json::Value| v["line"].as_u64().map_or(0, |n| n as usize);
        ObjectVerdict {
            line: line(v),
            kind: v["kind"].as_str().unwrap_or("").to_owned(),
            name: v["name"].as_str().map(str::to_owned),
            allowed,
            violations: v["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| Located {
                    line: line(x),
                    message: x["message"].as_str().unwrap_or("").to_owned(),
                })
                .collect(),
        }
    }
}

/// A violation's message and the line it is on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Located {
    /// The line of the quantity (else of the container's `resources`, else of the container).
    pub line: usize,
    /// The violation as every host words it.
    pub message: String,
}

/// The folder of the manifests.
pub fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests")
}

/// Every case of the table. Panics on a malformed table or a file not in [`FILES`]: a bug
/// in the tests.
pub fn manifest_cases() -> Vec<ManifestCase> {
    let cases: Vec<ManifestCase> =
        serde_json::from_str(CASES).unwrap_or_else(|e| panic!("tests/manifests/cases.json: {e}"));
    for c in &cases {
        assert!(
            FILES.iter().any(|(name, _)| *name == c.file),
            "{}: not in testkit::manifests::FILES",
            c.file
        );
    }
    cases
}

impl ManifestCase {
    /// The manifest's text.
    pub fn text(&self) -> &'static str {
        FILES
            .iter()
            .find(|(name, _)| *name == self.file)
            .map_or("", |(_, text)| text)
    }

    /// Checks what a host answered, object by object.
    pub fn check(&self, got: &[ObjectVerdict]) -> Result<(), String> {
        if got.len() != self.objects.len() {
            return Err(format!(
                "{} objects, want {}: {got:#?}",
                got.len(),
                self.objects.len()
            ));
        }
        for (i, (g, want)) in got.iter().zip(&self.objects).enumerate() {
            if g != want {
                return Err(format!("object {i}\n  want {want:?}\n  got  {g:?}"));
            }
        }
        Ok(())
    }
}

/// Runs `run` on every case and panics with every failure, naming the case.
pub fn check_manifest_cases(mut run: impl FnMut(&ManifestCase) -> Result<(), String>) {
    let cases = manifest_cases();
    assert!(!cases.is_empty(), "the manifest table is empty");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            run(c)
                .err()
                .map(|e| format!("{} ({}): {e}", c.file, c.about))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} manifest cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

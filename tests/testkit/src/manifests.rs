//! The table of manifest cases (`tests/manifests/cases.json`): files in, one verdict per
//! object out (allowed, and each violation's message and line), and each document the CLI
//! skips for holding no Kubernetes object, with the settings given as the text of a settings
//! file. The CLI's tests run it on the files, the browser's tests on the same texts,
//! embedded here (the browser has no file system). Where the playground answers otherwise
//! on purpose, the case says so (`browserLine`, a skipped document's `browser`).

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The table itself.
const CASES: &str = include_str!("../../manifests/cases.json");

/// Every manifest of `tests/manifests/`, as `(file name, text)`; the CLI's tests check that
/// none is missing.
pub const FILES: &[(&str, &str)] = &[
    (
        "admission-review.yaml",
        include_str!("../../manifests/admission-review.yaml"),
    ),
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
    (
        "not-only-objects.yaml",
        include_str!("../../manifests/not-only-objects.yaml"),
    ),
    (
        "yaml-1-1.yaml",
        include_str!("../../manifests/yaml-1-1.yaml"),
    ),
];

/// The host a case is run by: the CLI (`check -o json`) or the playground (`validate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// `resource-limits check -o json` on the file.
    Cli,
    /// The playground's `validate` on the file's text.
    Browser,
}

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
    /// The documents that hold no Kubernetes object (empty, or without `apiVersion` and
    /// `kind`), in the order of the file: the CLI skips each with its reason.
    #[serde(default)]
    pub skipped: Vec<SkippedDocument>,
}

/// A document the CLI skips: no object in it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkippedDocument {
    /// The document's first line.
    pub line: usize,
    /// The reason `check` gives (`empty document`, `not a Kubernetes object: ...`).
    pub reason: String,
    /// What the playground answers instead: nothing for an empty document (absent here), a
    /// rejection for a document that is no object (the playground judges a mapping without
    /// `kind` as an AdmissionRequest, and says what it lacks).
    #[serde(default)]
    pub browser: Option<BrowserRejection>,
}

/// The playground's rejection of a document the CLI skips, on the document's line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserRejection {
    /// How the playground read it (its answer's `input`).
    pub input: String,
    /// Its answer's `message`.
    pub message: String,
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
    /// The whole message, checked where the case gives it (a workload the policy cannot
    /// read has no violations, only its message).
    #[serde(default)]
    pub message: Option<String>,
    /// The line the playground gives, where it is not the CLI's: an answer's `line` is its
    /// document's first line (a list item's own line), where `check` gives the line of the
    /// object under review in an AdmissionReview or AdmissionRequest.
    #[serde(default, rename = "browserLine")]
    pub browser_line: Option<usize>,
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
            message: v["message"].as_str().map(str::to_owned),
            browser_line: None,
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

    /// Checks what a host answered, object by object (the message only where the case
    /// gives it; the playground's line where the case gives one).
    pub fn check(&self, host: Host, got: &[ObjectVerdict]) -> Result<(), String> {
        if got.len() != self.objects.len() {
            return Err(format!(
                "{} objects, want {}: {got:#?}",
                got.len(),
                self.objects.len()
            ));
        }
        for (i, (g, want)) in got.iter().zip(&self.objects).enumerate() {
            let mut want = want.clone();
            if host == Host::Browser {
                want.line = want.browser_line.unwrap_or(want.line);
            }
            want.browser_line = None;
            let g = ObjectVerdict {
                message: g.message.clone().filter(|_| want.message.is_some()),
                ..g.clone()
            };
            if g != want {
                return Err(format!("object {i}\n  want {want:?}\n  got  {g:?}"));
            }
        }
        Ok(())
    }

    /// Checks the documents the CLI skipped, as `(line, reason)`.
    pub fn check_cli_skipped(&self, got: &[(usize, String)]) -> Result<(), String> {
        let want: Vec<(usize, String)> = self
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.clone()))
            .collect();
        if got != want.as_slice() {
            return Err(format!(
                "skipped documents\n  want {want:?}\n  got  {got:?}"
            ));
        }
        Ok(())
    }

    /// Checks the playground's answers on the documents the CLI skips, as `(line, input,
    /// message)`: one for each skipped document with a `browser` rejection, none for the
    /// others.
    pub fn check_browser_skipped(&self, got: &[(usize, String, String)]) -> Result<(), String> {
        let want: Vec<(usize, String, String)> = self
            .skipped
            .iter()
            .filter_map(|s| {
                let b = s.browser.as_ref()?;
                Some((s.line, b.input.clone(), b.message.clone()))
            })
            .collect();
        if got != want.as_slice() {
            return Err(format!(
                "the playground's answers on documents that are no object\n  want {want:?}\n  got  {got:?}"
            ));
        }
        Ok(())
    }

    /// Whether the host allows the input as a whole: every object allowed, and in the
    /// playground no document that is no object rejected.
    pub fn allowed(&self, host: Host) -> bool {
        self.objects.iter().all(|o| o.allowed)
            && (host == Host::Cli || self.skipped.iter().all(|s| s.browser.is_none()))
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

//! The results of `check`: human lines, JSON, or SARIF 2.1.0.

use crate::check::{FileReport, HintAbout, Outcome, EMPTY_DOCUMENT};
use crate::manifest::{lexical, InputError};
use crate::yaml::Duplicate;
use serde_json::{json, Value};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, Message, MultiformatMessageString, Notification,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    ReportingDescriptorReference, Result as SarifResult, ResultLevel, Run, Sarif, ToolComponent,
    Version,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use url::Url;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line kind/name: message`, one line a violation, and a summary line.
    Human,
    /// One JSON document with every object's outcome.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
    /// JUnit XML, for CI test reports: one test case a workload.
    Junit,
}

/// The output formats of `settings check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SettingsFormat {
    /// One line a settings source: valid, or each problem at its line.
    Human,
    /// One JSON document: every source, valid or not, with its problems.
    Json,
}

/// Counts over all inputs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub checked: usize,
    pub passed: usize,
    pub failed: usize,
    pub violations: usize,
    /// Objects, documents and whole files skipped.
    pub skipped: usize,
    /// Of those, whole files.
    pub skipped_files: usize,
    pub defaults: usize,
    pub warnings: usize,
    /// Keys written twice in the objects judged (each makes the exit code 1).
    pub duplicates: usize,
    pub errors: usize,
}

impl Summary {
    pub fn of(reports: &[FileReport], extra_errors: &[InputError]) -> Summary {
        let mut s = Summary {
            errors: extra_errors.len(),
            ..Summary::default()
        };
        for r in reports {
            s.errors += r.errors.len();
            if r.skipped.is_none() {
                s.files += 1;
            } else if r.errors.is_empty() {
                s.skipped_files += 1;
                s.skipped += 1;
            }
            for o in &r.objects {
                s.warnings += o.outcome.warnings().len();
                s.duplicates += o.duplicates.len();
                match &o.outcome {
                    Outcome::Skipped { .. } => s.skipped += 1,
                    Outcome::Passed { defaults, .. } => {
                        s.checked += 1;
                        s.passed += 1;
                        s.defaults += defaults.len();
                    }
                    Outcome::Failed { violations, .. } => {
                        s.checked += 1;
                        s.failed += 1;
                        s.violations += violations.len().max(1);
                    }
                }
            }
        }
        s
    }

    /// 2: some input could not be read; 1: some object is rejected, or has a key written
    /// twice (or, with `warnings_as_errors`, has a warning); 0: all pass.
    pub fn exit_code(&self, warnings_as_errors: bool) -> i32 {
        if self.errors > 0 {
            2
        } else if self.failed > 0
            || self.duplicates > 0
            || (warnings_as_errors && self.warnings > 0)
        {
            1
        } else {
            0
        }
    }

    fn line(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut out = format!(
            "{} checked in {}: {} passed, {} failed ({})",
            plural(self.checked, "workload", "workloads"),
            plural(self.files, "file", "files"),
            self.passed,
            self.failed,
            plural(self.violations, "violation", "violations"),
        );
        if self.defaults > 0 {
            let _ = write!(
                out,
                ", {} the policy would add (resource-limits fix)",
                plural(self.defaults, "default", "defaults")
            );
        }
        if self.warnings > 0 {
            let _ = write!(out, ", {}", plural(self.warnings, "warning", "warnings"));
        }
        if self.duplicates > 0 {
            let _ = write!(
                out,
                ", {}",
                plural(self.duplicates, "key written twice", "keys written twice")
            );
        }
        let _ = write!(out, "; {} skipped", self.skipped);
        if self.errors > 0 {
            let _ = write!(
                out,
                "; {}",
                plural(self.errors, "input error", "input errors")
            );
        }
        out
    }
}

/// What was skipped as a whole and how to check it: one hint for each chart, kustomization
/// or template, with the number of files it skips.
#[derive(Debug, PartialEq)]
pub struct Hint {
    pub about: HintAbout,
    pub files: usize,
    /// `charts/shop is a Helm chart (4 files skipped): render it first: ...`.
    pub message: String,
}

/// The hints for the skipped files, in the order of their first file; `settings` is the
/// settings file as the user named it (the commands suggested pass it on).
pub fn hints(reports: &[FileReport], settings: &str) -> Vec<Hint> {
    let mut found: Vec<(HintAbout, usize)> = Vec::new();
    for r in reports {
        let Some(about) = r.skipped.as_ref().and_then(|s| s.hint(&r.source)) else {
            continue;
        };
        match found.iter_mut().find(|(a, _)| *a == about) {
            Some((_, n)) => *n += 1,
            None => found.push((about, 1)),
        }
    }
    let check = format!("resource-limits check -s {} -", shell_word(settings));
    found
        .into_iter()
        .map(|(about, files)| {
            let message = match &about {
                HintAbout::Chart(c) => format!(
                    "{c} is a Helm chart ({} skipped): render it first: helm template {} | {check}",
                    plural(files, "file", "files"),
                    shell_word(c)
                ),
                HintAbout::Kustomization(d) => format!(
                    "{d} is a Kustomize overlay ({} skipped): render it first: kubectl kustomize {} | {check}",
                    plural(files, "patch file", "patch files"),
                    shell_word(d)
                ),
                HintAbout::Template(f) => format!(
                    "{f} is a template ({{{{ ... }}}}, skipped): render it first, then check the output: ... | {check}"
                ),
            };
            Hint {
                about,
                files,
                message,
            }
        })
        .collect()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A word as a POSIX shell reads it: as it is when it is plain, else single-quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:@%+=,-".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Human output: findings on stdout; input errors, then hints, on stderr.
pub fn human(
    reports: &[FileReport],
    extra_errors: &[InputError],
    hints: &[Hint],
    verbose: bool,
) -> (String, String) {
    let mut out = String::new();
    let mut err = String::new();
    for e in extra_errors {
        let _ = writeln!(err, "{e}");
    }
    for r in reports {
        for e in &r.errors {
            let _ = writeln!(err, "{e}");
        }
        if let (Some(why), true, true) = (&r.skipped, r.errors.is_empty(), verbose) {
            let _ = writeln!(out, "{}: skipped: {why}", r.source);
        }
        for o in &r.objects {
            let at = |line: usize| format!("{}:{line} {}", r.source, o.label());
            match &o.outcome {
                Outcome::Failed {
                    message,
                    violations,
                    ..
                } => {
                    if violations.is_empty() {
                        let _ = writeln!(out, "{}: {message}", at(o.line));
                    }
                    for v in violations {
                        let _ = writeln!(out, "{}: {}", at(v.line), v.message);
                    }
                }
                Outcome::Passed { defaults, .. } if verbose => {
                    let _ = writeln!(out, "{}: ok", at(o.line));
                    for d in defaults {
                        let _ = writeln!(out, "{}: default: {}", at(d.line), d.describe());
                    }
                }
                Outcome::Skipped { reason } if verbose => {
                    let _ = writeln!(out, "{}: skipped: {reason}", at(o.line));
                }
                _ => {}
            }
            // Warnings apart from violations, each marked as one.
            for w in o.outcome.warnings() {
                let _ = writeln!(out, "{}: warning: {}", at(w.line), w.message);
            }
            for d in &o.duplicates {
                let _ = writeln!(out, "{}: {d}", at(d.line));
            }
        }
    }
    for h in hints {
        let _ = writeln!(err, "hint: {}", h.message);
    }
    let _ = writeln!(out, "{}", Summary::of(reports, extra_errors).line());
    (out, err)
}

fn finding_json(f: &crate::check::Finding) -> Value {
    json!({
        "line": f.line,
        "path": f.path,
        "container": f.container,
        "resource": f.resource,
        "problem": f.problem,
        "message": f.message,
    })
}

fn duplicate_json(d: &Duplicate) -> Value {
    json!({
        "line": d.line,
        "firstLine": d.first,
        "key": d.key,
        "path": d.at.to_string(),
        "message": d.to_string(),
    })
}

fn error_json(e: &InputError) -> Value {
    json!({"file": e.source, "line": e.line, "message": e.message})
}

/// The version of the JSON output's schema (`schemaVersion`): raised when a field changes
/// its meaning or goes away, not when one is added.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// JSON output: every object of every input, with its status; the files skipped whole and
/// the hints.
pub fn json(reports: &[FileReport], extra_errors: &[InputError], hints: &[Hint]) -> Value {
    let s = Summary::of(reports, extra_errors);
    let mut results = Vec::new();
    let mut skipped_files = Vec::new();
    let mut errors: Vec<Value> = extra_errors.iter().map(error_json).collect();
    for r in reports {
        errors.extend(r.errors.iter().map(error_json));
        if let (Some(why), true) = (&r.skipped, r.errors.is_empty()) {
            skipped_files.push(json!({"file": r.source, "reason": why.to_string()}));
        }
        for o in &r.objects {
            let mut v = json!({
                "file": r.source,
                "line": o.line,
                "document": o.document,
                "input": o.input.map(resource_limits::document::Form::name),
                "apiVersion": o.api_version,
                "kind": o.kind,
                "name": o.name,
                "namespace": o.namespace,
            });
            let extra = match &o.outcome {
                Outcome::Skipped { reason } => json!({"status": "skipped", "reason": reason}),
                Outcome::Passed { defaults, warnings } => json!({
                    "status": "passed",
                    "warnings": warnings.iter().map(finding_json).collect::<Vec<_>>(),
                    "defaults": defaults.iter().map(|d| json!({
                        "line": d.line,
                        "path": d.path,
                        "container": d.container,
                        "section": d.addition.section.key(),
                        "resource": d.addition.resource,
                        "value": d.addition.value,
                        "pointer": d.pointer,
                    })).collect::<Vec<_>>(),
                }),
                Outcome::Failed {
                    message,
                    violations,
                    warnings,
                } => json!({
                    "status": "failed",
                    "message": message,
                    "violations": violations.iter().map(finding_json).collect::<Vec<_>>(),
                    "warnings": warnings.iter().map(finding_json).collect::<Vec<_>>(),
                }),
            };
            if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
                m.extend(e);
                m.insert(
                    "duplicateKeys".to_owned(),
                    o.duplicates.iter().map(duplicate_json).collect(),
                );
            }
            results.push(v);
        }
    }
    json!({
        "schemaVersion": JSON_SCHEMA_VERSION,
        "summary": {
            "files": s.files,
            "checked": s.checked,
            "passed": s.passed,
            "failed": s.failed,
            "violations": s.violations,
            "skipped": s.skipped,
            "skippedFiles": s.skipped_files,
            "defaults": s.defaults,
            "warnings": s.warnings,
            "duplicateKeys": s.duplicates,
            "errors": s.errors,
        },
        "results": results,
        "skippedFiles": skipped_files,
        "hints": hints.iter().map(|h| json!({"message": h.message, "files": h.files})).collect::<Vec<_>>(),
        "errors": errors,
    })
}

/// The `uriBaseId` of relative artifact URIs: the folder the CLI ran in, which in CI is the
/// checkout (code scanning reads relative URIs as relative to the repository's root).
pub const SRCROOT: &str = "%SRCROOT%";

/// Where an input file is, as a SARIF artifact location. URIs are made by the `url` crate: an
/// absolute path is a `file:` URL; a relative path (to the working folder, the usual source
/// root of a CI job) is a relative reference with `uriBaseId` [`SRCROOT`], `/`-separated and
/// percent-encoded; one that climbs out of the working folder (`../x.yaml`) is made absolute.
/// Standard input is the relative reference `%3Cstdin%3E` with no base: it is no file.
pub fn artifact_location(source: &str, cwd: Option<&Path>) -> ArtifactLocation {
    let stdin = source == "<stdin>";
    let path = Path::new(source);
    if path.is_absolute() {
        if let Ok(url) = Url::from_file_path(lexical(path)) {
            return ArtifactLocation::builder().uri(url.to_string()).build();
        }
    }
    let relative = lexical(path);
    let climbs = matches!(relative.components().next(), Some(Component::ParentDir));
    if let Some(cwd) = cwd.filter(|c| c.is_absolute()) {
        if climbs && !stdin {
            if let Ok(url) = Url::from_file_path(lexical(&cwd.join(&relative))) {
                return ArtifactLocation::builder().uri(url.to_string()).build();
            }
        }
    }
    // A relative reference: the file's URL made relative to a folder's URL. Any absolute
    // folder does; the working folder is the honest one when it is known.
    let root = cwd
        .filter(|c| c.is_absolute())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(std::path::MAIN_SEPARATOR_STR));
    let reference = Url::from_directory_path(&root).ok().and_then(|base| {
        let file = Url::from_file_path(root.join(&relative)).ok()?;
        base.make_relative(&file)
    });
    let uri = reference.unwrap_or_else(|| relative.to_string_lossy().replace('\\', "/"));
    if stdin {
        ArtifactLocation::builder()
            .uri(uri)
            .description(Message::from("standard input"))
            .build()
    } else {
        ArtifactLocation::builder()
            .uri(uri)
            .uri_base_id(SRCROOT)
            .build()
    }
}

fn location(source: &str, line: usize, cwd: Option<&Path>) -> Location {
    location_in(source, Some(line), cwd)
}

/// A file (or folder) as a location, with the line where there is one.
fn location_in(source: &str, line: Option<usize>, cwd: Option<&Path>) -> Location {
    let artifact = artifact_location(source, cwd);
    let physical = match line {
        Some(line) => PhysicalLocation::builder()
            .artifact_location(artifact)
            .region(
                Region::builder()
                    .start_line(i64::try_from(line.max(1)).unwrap_or(i64::MAX))
                    .build(),
            )
            .build(),
        None => PhysicalLocation::builder()
            .artifact_location(artifact)
            .build(),
    };
    Location::builder().physical_location(physical).build()
}

fn text(s: &str) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s).build()
}

fn error_level() -> ReportingConfiguration {
    ReportingConfiguration::builder()
        .level(json!("error"))
        .build()
}

fn warning_level() -> ReportingConfiguration {
    ReportingConfiguration::builder()
        .level(json!("warning"))
        .build()
}

/// The four rules, in `ruleIndex` order.
fn rules() -> Vec<ReportingDescriptor> {
    vec![
        ReportingDescriptor::builder()
            .id("container-resources")
            .name("ContainerResources")
            .short_description(text("Every container declares resource requests and limits within the configured bounds"))
            .full_description(text("The admission policy rejects a workload whose containers lack a required request or limit, or whose requests, limits or limit/request ratio are outside the bounds of its settings."))
            .help(text("Set resources.requests and resources.limits on the container within the bounds of the policy settings; `resource-limits fix` adds the configured defaults."))
            .default_configuration(error_level())
            .build(),
        ReportingDescriptor::builder()
            .id("unreadable-workload")
            .name("UnreadableWorkload")
            .short_description(text("The admission policy cannot read the workload (it would be rejected at admission)"))
            .full_description(text("A workload whose pod spec the policy cannot read (a missing spec.template.spec, a quantity of the wrong type) is rejected at admission."))
            .help(text("Fix the field the message names so that the manifest is a valid workload of its kind."))
            .default_configuration(error_level())
            .build(),
        ReportingDescriptor::builder()
            .id("container-resources-warning")
            .name("ContainerResourcesWarning")
            .short_description(text("The admission policy admits the workload with a warning"))
            .full_description(text("A quantity that looks like a typo (memory written in milli-units), or a violation of a rule whose enforcement is warn: admitted, and kubectl prints the warning."))
            .help(text("Correct the quantity the warning names, or bring it within the rule's bounds before the rule is enforced."))
            .default_configuration(warning_level())
            .build(),
        ReportingDescriptor::builder()
            .id("duplicate-key")
            .name("DuplicateKey")
            .short_description(text("A key written twice in one mapping of a workload's manifest"))
            .full_description(text("kubectl and the API server keep the second value of a key written twice without a word; another reader (a GitOps tool, a linter, a person) may take the first. The workload was judged as kubectl reads it."))
            .help(text("Remove one of the two keys, keeping the value meant."))
            .default_configuration(error_level())
            .build(),
    ]
}

/// The notifications' descriptors (`tool.driver.notifications`), in `index` order: an input
/// error, what was skipped as not a Kubernetes object, a hint.
fn notification_descriptors() -> Vec<ReportingDescriptor> {
    let descriptor = |id: &str, name: &str, short: &str, level: ReportingConfiguration| {
        ReportingDescriptor::builder()
            .id(id)
            .name(name)
            .short_description(text(short))
            .default_configuration(level)
            .build()
    };
    vec![
        descriptor(
            NOTE_INPUT_ERROR,
            "InputError",
            "An input that cannot be read: a file, invalid YAML, a manifest that is broken (exit 2)",
            error_level(),
        ),
        descriptor(
            NOTE_SKIPPED,
            "Skipped",
            "A file or document skipped as not a Kubernetes object (a chart's file, a Kustomize patch, a template, a document without apiVersion and kind); --strict makes it an input error",
            note_level(),
        ),
        descriptor(
            NOTE_HINT,
            "RenderFirst",
            "A Helm chart, Kustomize overlay or template whose files were skipped: the command that checks what it renders to",
            note_level(),
        ),
    ]
}

/// The ids of the notifications' descriptors.
pub const NOTE_INPUT_ERROR: &str = "input-error";
pub const NOTE_SKIPPED: &str = "skipped";
pub const NOTE_HINT: &str = "render-first";

fn note_level() -> ReportingConfiguration {
    ReportingConfiguration::builder()
        .level(json!("note"))
        .build()
}

/// A tool notification of the descriptor `(id, index)` at `level`.
fn notification(
    (id, index): (&str, i64),
    level: &str,
    message: &str,
    at: Option<Location>,
) -> Notification {
    let mut n = Notification::builder()
        .level(json!(level))
        .message(Message::from(message))
        .descriptor(
            ReportingDescriptorReference::builder()
                .id(id)
                .index(index)
                .build(),
        )
        .build();
    n.locations = at.map(|l| vec![l]);
    n
}

/// SARIF 2.1.0: one result per violation; as tool notifications (`invocations[0]`), the
/// input errors (level `error`), and what `-v` lists as skipped for not being a Kubernetes
/// object and the hints (level `note`). Relative paths are relative to the working folder,
/// named in `originalUriBaseIds` and the invocation's `workingDirectory`.
pub fn sarif(reports: &[FileReport], extra_errors: &[InputError], hints: &[Hint]) -> Value {
    let cwd = std::env::current_dir().ok();
    serde_json::to_value(sarif_log(reports, extra_errors, hints, cwd.as_deref()))
        .unwrap_or_else(|e| json!({"error": format!("cannot write SARIF: {e}")}))
}

/// The SARIF log, with relative paths taken relative to `cwd`.
pub fn sarif_log(
    reports: &[FileReport],
    extra_errors: &[InputError],
    hints: &[Hint],
    cwd: Option<&Path>,
) -> Sarif {
    let mut results = Vec::new();
    let mut notes = Vec::new();
    let note = |e: &InputError| {
        notification(
            (NOTE_INPUT_ERROR, 0),
            "error",
            &e.message,
            Some(location(&e.source, e.line.unwrap_or(1), cwd)),
        )
    };
    notes.extend(extra_errors.iter().map(note));
    for r in reports {
        notes.extend(r.errors.iter().map(note));
        if let (Some(why), true) = (&r.skipped, r.errors.is_empty()) {
            notes.push(notification(
                (NOTE_SKIPPED, 1),
                "note",
                &format!("skipped: {why}"),
                Some(location_in(&r.source, None, cwd)),
            ));
        }
        for o in &r.objects {
            // A document that is no Kubernetes object (not an empty one, nor an object of a
            // kind the policy does not check).
            if let (Outcome::Skipped { reason }, None) = (&o.outcome, &o.kind) {
                if o.input.is_none() && reason != EMPTY_DOCUMENT {
                    notes.push(notification(
                        (NOTE_SKIPPED, 1),
                        "note",
                        &format!("{}: skipped: {reason}", o.label()),
                        Some(location(&r.source, o.line, cwd)),
                    ));
                }
            }
            for w in o.outcome.warnings() {
                results.push(finding_result(
                    ("container-resources-warning", 2, ResultLevel::Warning),
                    &o.label(),
                    w,
                    location(&r.source, w.line, cwd),
                ));
            }
            for d in &o.duplicates {
                let properties = BTreeMap::from([
                    ("path".to_owned(), json!(d.at.to_string())),
                    ("key".to_owned(), json!(d.key)),
                    ("firstLine".to_owned(), json!(d.first)),
                ]);
                results.push(
                    SarifResult::builder()
                        .rule_id("duplicate-key")
                        .rule_index(3)
                        .level(ResultLevel::Error)
                        .message(Message::from(format!("{}: {d}", o.label()).as_str()))
                        .locations(vec![location(&r.source, d.line, cwd)])
                        .properties(
                            PropertyBag::builder()
                                .additional_properties(properties)
                                .build(),
                        )
                        .build(),
                );
            }
            let Outcome::Failed {
                message,
                violations,
                ..
            } = &o.outcome
            else {
                continue;
            };
            if violations.is_empty() {
                results.push(
                    SarifResult::builder()
                        .rule_id("unreadable-workload")
                        .rule_index(1)
                        .level(ResultLevel::Error)
                        .message(Message::from(format!("{}: {message}", o.label()).as_str()))
                        .locations(vec![location(&r.source, o.line, cwd)])
                        .build(),
                );
            }
            for v in violations {
                results.push(finding_result(
                    ("container-resources", 0, ResultLevel::Error),
                    &o.label(),
                    v,
                    location(&r.source, v.line, cwd),
                ));
            }
        }
    }
    let working_dir = cwd
        .and_then(|c| Url::from_directory_path(c).ok())
        .map(|u| ArtifactLocation::builder().uri(u.to_string()).build());
    for h in hints {
        let at = match &h.about {
            HintAbout::Chart(dir) | HintAbout::Kustomization(dir) => dir,
            HintAbout::Template(file) => file,
        };
        notes.push(notification(
            (NOTE_HINT, 2),
            "note",
            &h.message,
            Some(location_in(at, None, cwd)),
        ));
    }
    let successful = !notes.iter().any(|n| n.level == Some(json!("error")));
    let mut invocation = Invocation::builder()
        .execution_successful(successful)
        .tool_execution_notifications(notes)
        .build();
    invocation.working_directory = working_dir.clone();
    let mut run = Run::builder()
        .tool(
            ToolComponent::builder()
                .name("resource-limits")
                .version(env!("CARGO_PKG_VERSION"))
                .rules(rules())
                .notifications(notification_descriptors())
                .build(),
        )
        .invocations(vec![invocation])
        .results(results)
        .build();
    run.original_uri_base_ids = working_dir.map(|w| {
        let root = ArtifactLocation {
            description: Some(Message::from(
                "The folder resource-limits ran in; relative input paths are relative to it.",
            )),
            ..w
        };
        BTreeMap::from([(SRCROOT.to_owned(), root)])
    });
    Sarif::builder()
        .schema(SCHEMA)
        .version(json!(Version::V2_1_0.to_string()))
        .runs(vec![run])
        .build()
}

/// One violation or warning as a SARIF result of the rule `(id, index, level)`.
fn finding_result(
    (rule, index, level): (&str, i64, ResultLevel),
    label: &str,
    f: &crate::check::Finding,
    at: Location,
) -> SarifResult {
    let properties = BTreeMap::from([
        ("path".to_owned(), json!(f.path)),
        ("container".to_owned(), json!(f.container)),
        ("resource".to_owned(), json!(f.resource)),
    ]);
    SarifResult::builder()
        .rule_id(rule)
        .rule_index(index)
        .level(level)
        .message(Message::from(format!("{label}: {}", f.message).as_str()))
        .locations(vec![at])
        .properties(
            PropertyBag::builder()
                .additional_properties(properties)
                .build(),
        )
        .build()
}

/// The `$schema` code scanning's documentation gives for SARIF 2.1.0.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_in_hints_are_shell_words() {
        assert_eq!(shell_word("charts/shop"), "charts/shop");
        assert_eq!(shell_word("./a-b_c.json"), "./a-b_c.json");
        assert_eq!(shell_word("my settings.json"), "'my settings.json'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("$(x)"), "'$(x)'");
        assert_eq!(shell_word(""), "''");
    }

    fn uri(source: &str, cwd: Option<&str>) -> (Option<String>, Option<String>) {
        let l = artifact_location(source, cwd.map(Path::new));
        (l.uri, l.uri_base_id)
    }

    #[test]
    fn uris() {
        let base = Some(SRCROOT.to_owned());
        let rel = |s: &str| (Some(s.to_owned()), base.clone());
        let abs = |s: &str| (Some(s.to_owned()), None);
        let cwd = Some("/work/repo");
        assert_eq!(uri("./charts/a b.yaml", cwd), rel("charts/a%20b.yaml"));
        assert_eq!(uri("charts/./x/../a.yaml", cwd), rel("charts/a.yaml"));
        assert_eq!(uri("a#b%c?.yaml", cwd), rel("a%23b%25c%3F.yaml"));
        assert_eq!(uri("charts/a b.yaml", None), rel("charts/a%20b.yaml"));
        assert_eq!(uri("/abs/x y.yaml", cwd), abs("file:///abs/x%20y.yaml"));
        assert_eq!(uri("/abs/../x.yaml", cwd), abs("file:///x.yaml"));
        assert_eq!(
            uri("../other/x.yaml", cwd),
            abs("file:///work/other/x.yaml")
        );
        assert_eq!(uri("<stdin>", cwd), abs("%3Cstdin%3E"));
    }

    #[test]
    fn the_log_reads_back_as_sarif() {
        let log = sarif_log(&[], &[], &[], Some(Path::new("/work/repo")));
        let text = serde_json::to_string(&log).unwrap_or_default();
        let back: Sarif = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(back.version, json!("2.1.0"));
        assert_eq!(back.schema.as_deref(), Some(SCHEMA));
        let run = &back.runs[0];
        let roots = run.original_uri_base_ids.clone().unwrap_or_default();
        assert_eq!(roots[SRCROOT].uri.as_deref(), Some("file:///work/repo/"));
        let inv = run.invocations.clone().unwrap_or_default();
        assert_eq!(
            inv[0]
                .working_directory
                .as_ref()
                .and_then(|w| w.uri.as_deref()),
            Some("file:///work/repo/")
        );
        assert!(inv[0].execution_successful);
        let rules = run.tool.driver.rules.clone().unwrap_or_default();
        assert!(rules
            .iter()
            .all(|r| r.full_description.is_some() && r.help.is_some()));
    }
}

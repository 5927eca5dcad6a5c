//! Checking manifests: every object of every document through the core, as a CREATE; an
//! AdmissionReview or AdmissionRequest through the playground's entry
//! (`document::evaluate`). What is not a Kubernetes object is skipped, with the
//! reason; what is a broken one is an input error.

use crate::manifest::{self, Input, InputError, PartOf};
use crate::yaml::documents::{documents, looks_like_json, Entry, Json, Manifest};
use crate::yaml::{Duplicate, Node, Value};
use resource_limits::document::{self, Form};
use resource_limits::patch::Addition;
use resource_limits::{Location, Notice, Settings, Verdict, Warning, Webhook};
use std::fmt;

/// The reason given for an empty document (Helm's disabled templates).
pub const EMPTY_DOCUMENT: &str = "empty document";

/// What `check` (and `fix`) do besides judging.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// What is skipped as not a Kubernetes object (whole files, documents) is an input
    /// error instead.
    pub strict: bool,
    /// Kinds whose objects are skipped (`--skip-kind`), compared without regard to case.
    pub skip_kinds: Vec<String>,
}

impl Options {
    /// Whether `--skip-kind` names this kind.
    pub fn skips_kind(&self, kind: &str) -> bool {
        self.skip_kinds.iter().any(|k| k.eq_ignore_ascii_case(kind))
    }
}

/// Why a whole file is not read as manifests.
#[derive(Clone, Debug, PartialEq)]
pub enum FileSkip {
    /// A file of a Helm chart, or a patch of a kustomization: what it becomes is checked
    /// once rendered.
    PartOf(PartOf),
    /// Text with `{{ ... }}` that is not YAML until a template engine renders it.
    Template,
    /// Not YAML (the reader's line and message), and no top-level `apiVersion:` or `kind:`
    /// line marks it as a Kubernetes object.
    NotYaml { line: usize, error: String },
}

impl fmt::Display for FileSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileSkip::PartOf(PartOf::Chart(c)) => {
                write!(f, "part of the Helm chart {}", c.display())
            }
            FileSkip::PartOf(PartOf::KustomizePatch(d)) => {
                write!(f, "a patch of the kustomization in {}", d.display())
            }
            FileSkip::Template => f.write_str("a template ({{ ... }}): not YAML until rendered"),
            FileSkip::NotYaml { line, error } => write!(
                f,
                "not YAML (line {line}: {error}) and no top-level apiVersion: or kind: line makes it a Kubernetes object"
            ),
        }
    }
}

/// What a hint is about: one hint for each, however many files it skips.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HintAbout {
    /// A Helm chart's folder.
    Chart(String),
    /// A kustomization's folder.
    Kustomization(String),
    /// One template file.
    Template(String),
}

impl FileSkip {
    /// What to tell the user about this skip, for the file named `file`.
    pub fn hint(&self, file: &str) -> Option<HintAbout> {
        match self {
            FileSkip::PartOf(PartOf::Chart(c)) => Some(HintAbout::Chart(c.display().to_string())),
            FileSkip::PartOf(PartOf::KustomizePatch(d)) => {
                Some(HintAbout::Kustomization(d.display().to_string()))
            }
            FileSkip::Template => Some(HintAbout::Template(file.to_owned())),
            FileSkip::NotYaml { .. } => None,
        }
    }
}

/// What the policy says about one object.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Not a kind the policy checks, a kind skipped by `--skip-kind`, an empty document or
    /// a document that is not a Kubernetes object.
    Skipped { reason: String },
    /// Admitted; `defaults` are what the policy would add (empty: admitted untouched).
    Passed {
        defaults: Vec<DefaultAdded>,
        warnings: Vec<Finding>,
    },
    /// Rejected: every violation, or (when the object cannot be read) only the message.
    Failed {
        message: String,
        violations: Vec<Finding>,
        warnings: Vec<Finding>,
    },
}

impl Outcome {
    /// The warnings (none for a skipped object).
    pub fn warnings(&self) -> &[Finding] {
        match self {
            Outcome::Passed { warnings, .. } | Outcome::Failed { warnings, .. } => warnings,
            Outcome::Skipped { .. } => &[],
        }
    }
}

/// One violation or warning, located.
#[derive(Debug, Clone)]
pub struct Finding {
    pub line: usize,
    pub path: String,
    pub container: Option<String>,
    pub resource: String,
    /// What is wrong (a violation's problem, a warning's notice).
    pub problem: String,
    /// `path "name": problem`, as in the admission message.
    pub message: String,
}

impl Finding {
    fn of_warning(w: &Warning, o: &Place<'_>) -> Finding {
        Finding {
            line: o.line_at(&w.quantity_location()),
            message: w.to_string(),
            path: w.location.to_string(),
            resource: w.notice.resource().to_owned(),
            problem: w.notice.to_string(),
            container: w.container.clone(),
        }
    }
}

/// One default the policy would inject.
#[derive(Debug, Clone)]
pub struct DefaultAdded {
    pub line: usize,
    /// The container's path (`spec.template.spec.containers[0]`).
    pub path: String,
    pub container: Option<String>,
    pub addition: Addition,
    /// The JSON pointer of the added field in the document (list items included).
    pub pointer: String,
    /// Where the object is in the document (the root, or `items[3]`).
    pub object: Location,
}

impl DefaultAdded {
    /// `spec.template.spec.containers[0] "app": add limits.cpu: 1`.
    pub fn describe(&self) -> String {
        let name = self
            .container
            .as_ref()
            .and_then(|n| serde_json::to_string(n).ok())
            .map(|q| format!(" {q}"))
            .unwrap_or_default();
        format!(
            "{}{name}: add resources.{}.{}: {}",
            self.path,
            self.addition.section.key(),
            self.addition.resource,
            self.addition.value
        )
    }
}

/// One object (or empty document) and its outcome.
#[derive(Debug, Clone)]
pub struct ObjectResult {
    pub line: usize,
    /// 1-based document number in its file.
    pub document: usize,
    /// How the document was read: a manifest, an AdmissionRequest or an AdmissionReview;
    /// `None` for a document that is no object.
    pub input: Option<Form>,
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub outcome: Outcome,
    /// The keys written twice in one mapping of it (or of its document outside every object:
    /// a List's own keys). It was judged as kubectl reads it (the last value of each); each
    /// is reported, and makes the exit code 1.
    pub duplicates: Vec<Duplicate>,
}

impl ObjectResult {
    /// `Deployment/web`, or `document 3` for an empty one.
    pub fn label(&self) -> String {
        match &self.kind {
            Some(k) => format!("{k}/{}", self.name.as_deref().unwrap_or("<unnamed>")),
            None => format!("document {}", self.document),
        }
    }
}

/// Everything found in one input.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub source: String,
    pub objects: Vec<ObjectResult>,
    pub errors: Vec<InputError>,
    /// Set when the file as a whole was not read as manifests (with `--strict`, also an
    /// error).
    pub skipped: Option<FileSkip>,
    /// The input holds nothing but white space.
    pub blank: bool,
}

impl FileReport {
    fn new(source: String) -> FileReport {
        FileReport {
            source,
            objects: Vec::new(),
            errors: Vec::new(),
            skipped: None,
            blank: false,
        }
    }

    /// A whole file not read: skipped, or with `--strict` an error.
    fn skip(&mut self, why: FileSkip, strict: bool) {
        if strict {
            self.errors.push(InputError {
                source: self.source.clone(),
                line: None,
                message: format!("not checked (--strict): {why}"),
            });
        }
        self.skipped = Some(why);
    }
}

/// An input read: its report so far, its text and its documents (`None` when it was not
/// read, or not as YAML).
pub struct Loaded {
    pub report: FileReport,
    pub text: String,
    pub docs: Option<Vec<Entry>>,
}

/// Reads an input's documents. A file of a chart or a kustomization's patch is not read; a
/// text that is not YAML is skipped when it is a template or when nothing marks it as a
/// Kubernetes object ([`marks_an_object`]), and is an input error otherwise.
pub fn load(input: &Input, strict: bool) -> Loaded {
    let mut report = FileReport::new(input.source.display());
    if let Some(part) = &input.part_of {
        report.skip(FileSkip::PartOf(part.clone()), strict);
        return Loaded {
            report,
            text: String::new(),
            docs: None,
        };
    }
    let text = match input.source.read() {
        Ok(t) => t,
        Err(e) => {
            report.errors.push(InputError {
                source: report.source.clone(),
                line: None,
                message: e.to_string(),
            });
            return Loaded {
                report,
                text: String::new(),
                docs: None,
            };
        }
    };
    report.blank = text.trim().is_empty();
    let docs = match documents(&text, Json::AsKubectl) {
        Ok(docs) => Some(docs),
        Err(e) => {
            if is_template(&text) {
                report.skip(FileSkip::Template, strict);
            } else if marks_an_object(&text) {
                report.errors.push(InputError {
                    source: report.source.clone(),
                    line: Some(e.line),
                    message: e.kind.to_string(),
                });
            } else {
                let why = FileSkip::NotYaml {
                    line: e.line,
                    error: e.kind.to_string(),
                };
                report.skip(why, strict);
            }
            None
        }
    };
    Loaded { report, text, docs }
}

/// Text with a template's `{{ ... }}` (Helm, Go templates, Jinja): not YAML until rendered.
fn is_template(text: &str) -> bool {
    text.find("{{")
        .is_some_and(|open| text[open..].contains("}}"))
}

/// Whether text that is not YAML still shows that it is meant as Kubernetes objects: a
/// top-level `apiVersion:` or `kind:` line (one that starts at the line's first column,
/// the key quoted or not), or, in text that looks like JSON, an `"apiVersion"` or `"kind"`
/// key anywhere. Such a file is a broken manifest (an input error), not something else.
pub fn marks_an_object(text: &str) -> bool {
    // `key`, quoted or not, then optional blanks and a colon.
    let key_at = |rest: &str| {
        let (quote, rest) = match rest.as_bytes().first() {
            Some(q @ (b'"' | b'\'')) => (Some(*q as char), &rest[1..]),
            _ => (None, rest),
        };
        ["apiVersion", "kind"].iter().any(|k| {
            rest.strip_prefix(k)
                .and_then(|r| match quote {
                    Some(q) => r.strip_prefix(q),
                    None => Some(r),
                })
                .is_some_and(|r| r.trim_start_matches([' ', '\t']).starts_with(':'))
        })
    };
    if looks_like_json(text) {
        return text.char_indices().any(|(i, c)| {
            matches!(c, '{' | ',' | ' ' | '\t' | '\n' | '\r') && key_at(text[i + 1..].trim_start())
        });
    }
    text.lines().any(key_at)
}

/// What a document is, as far as `check` goes.
enum Shape {
    /// An AdmissionReview or AdmissionRequest: judged as the playground judges it.
    Admission,
    /// A Kubernetes object or a list of them (or a broken one: it has `apiVersion` or
    /// `kind`).
    Manifest,
    /// Not a Kubernetes object: why.
    Other(&'static str),
}

fn shape(m: &Manifest) -> Shape {
    let Some(tree) = &m.tree else {
        return Shape::Manifest;
    };
    match &tree.value {
        Value::Map(_) => {
            let kind = tree.get("kind");
            if tree.get("request").is_some()
                || tree.get("operation").is_some()
                || kind.is_some_and(|k| matches!(k.value, Value::Map(_)))
            {
                Shape::Admission
            } else if kind.is_none() && tree.get("apiVersion").is_none() {
                Shape::Other("not a Kubernetes object: it has no apiVersion and no kind")
            } else {
                Shape::Manifest
            }
        }
        Value::Seq(_) => Shape::Other("not a Kubernetes object: a list"),
        Value::String(_) => Shape::Other("not a Kubernetes object: a string"),
        _ => Shape::Other("not a Kubernetes object: a scalar"),
    }
}

/// Reads and checks one input.
pub fn check_source(settings: &Settings, options: &Options, input: &Input) -> FileReport {
    let Loaded {
        mut report, docs, ..
    } = load(input, options.strict);
    if let Some(docs) = docs {
        check_docs(settings, options, &docs, &mut report);
    }
    report
}

/// Checks every object of the documents.
pub fn check_docs(settings: &Settings, options: &Options, docs: &[Entry], report: &mut FileReport) {
    for doc in docs {
        let document = doc.number;
        let no_object = |reason: &str| ObjectResult {
            line: doc.line,
            document,
            input: None,
            api_version: None,
            kind: None,
            name: None,
            namespace: None,
            outcome: Outcome::Skipped {
                reason: reason.into(),
            },
            duplicates: Vec::new(),
        };
        let Some(m) = &doc.manifest else {
            report.objects.push(no_object(EMPTY_DOCUMENT));
            continue;
        };
        match shape(m) {
            Shape::Other(why) if options.strict => report.errors.push(InputError {
                source: report.source.clone(),
                line: Some(m.line),
                message: format!("document {document}: not checked (--strict): {why}"),
            }),
            Shape::Other(why) => report.objects.push(ObjectResult {
                line: m.line,
                ..no_object(why)
            }),
            Shape::Admission => check_admission(settings, options, doc, m, report),
            Shape::Manifest => match manifest::objects(m) {
                Ok(objects) => {
                    let all: Vec<Location> = objects.iter().map(|o| o.at.clone()).collect();
                    for o in objects {
                        let outcome = if options.skips_kind(&o.kind) {
                            skipped_kind(&o.kind)
                        } else {
                            check_object(settings, &o)
                        };
                        report.objects.push(ObjectResult {
                            line: o.line,
                            document,
                            input: Some(Form::Manifest),
                            duplicates: duplicates_of(&doc.duplicates, &outcome, &o.at, &all),
                            outcome,
                            api_version: Some(o.api_version),
                            kind: Some(o.kind),
                            name: o.name,
                            namespace: o.namespace,
                        });
                    }
                }
                Err(e) => report.errors.push(InputError {
                    source: report.source.clone(),
                    line: Some(m.line),
                    message: format!("document {document}: {e}"),
                }),
            },
        }
    }
}

/// The keys written twice that concern the object at `at`, of a document whose objects are
/// at `all`: those inside it, and those outside every one of them (a List's own keys). None
/// for an object the policy does not judge (skipped): nothing is said about it.
fn duplicates_of(
    twice: &[Duplicate],
    outcome: &Outcome,
    at: &Location,
    all: &[Location],
) -> Vec<Duplicate> {
    if matches!(outcome, Outcome::Skipped { .. }) {
        return Vec::new();
    }
    let inside = |d: &Duplicate, at: &Location| d.at.segments().starts_with(at.segments());
    twice
        .iter()
        .filter(|d| inside(d, at) || !all.iter().any(|a| inside(d, a)))
        .cloned()
        .collect()
}

fn skipped_kind(kind: &str) -> Outcome {
    Outcome::Skipped {
        reason: format!("{kind} skipped (--skip-kind)"),
    }
}

/// An AdmissionReview or AdmissionRequest, through the playground's entry: one result for
/// each object it judges, located in the document.
fn check_admission(
    settings: &Settings,
    options: &Options,
    doc: &Entry,
    m: &Manifest,
    report: &mut FileReport,
) {
    let document = doc.number;
    let evaluations = match document::evaluate(settings, &m.json, Webhook::Mutating) {
        Ok(e) => e,
        Err(e) => {
            let line = m.line_of(&e.at);
            report.errors.push(InputError {
                source: report.source.clone(),
                line: Some(m.line),
                message: format!("document {document}: {}", e.with_line(line)),
            });
            return;
        }
    };
    let tree = m.tree.as_ref();
    let text = |n: Option<&Node>, path: &[&str]| {
        path.iter()
            .try_fold(n?, |n, k| n.get(k))
            .and_then(Node::as_str)
            .map(str::to_owned)
    };
    let all: Vec<Location> = evaluations.iter().map(|e| e.at.clone()).collect();
    for e in evaluations {
        let node = tree.and_then(|t| t.at(&e.at));
        let place = Place {
            node,
            line: node.map_or(m.line, |n| n.line),
            at: e.at.clone(),
        };
        let request = match e.form {
            Some(Form::Review) => tree.and_then(|t| t.get("request")),
            _ => tree,
        };
        let outcome = match &e.kind {
            Some(kind) if options.skips_kind(kind) => skipped_kind(kind),
            _ => outcome_of(&e.verdict, &place),
        };
        report.objects.push(ObjectResult {
            line: place.line,
            document,
            input: e.form,
            api_version: text(node, &["apiVersion"]),
            kind: e.kind,
            name: e.name,
            namespace: text(node, &["metadata", "namespace"])
                .or_else(|| text(request, &["namespace"])),
            duplicates: duplicates_of(&doc.duplicates, &outcome, &e.at, &all),
            outcome,
        });
    }
}

/// Where an object is: its node (for the lines of its findings), its line, and its place in
/// its document.
pub struct Place<'a> {
    pub node: Option<&'a Node>,
    pub line: usize,
    pub at: Location,
}

impl Place<'_> {
    fn line_at(&self, at: &Location) -> usize {
        self.node.map_or(self.line, |n| n.line_at(at))
    }
}

/// The core's verdict on one object, located in the file. With no API server after the
/// check, what the API server would refuse (a request above its limit) is a violation here,
/// not a warning. The defaults added are listed as `defaults`, not as warnings.
pub fn check_object(settings: &Settings, o: &manifest::Object<'_>) -> Outcome {
    let verdict = document::evaluate_manifest(
        settings,
        Some(&o.api_version),
        &o.kind,
        &o.json,
        Webhook::Mutating,
    );
    let place = Place {
        node: o.node,
        line: o.line,
        at: o.at.clone(),
    };
    outcome_of(&verdict, &place)
}

/// The outcome of a verdict on the object at `o`.
fn outcome_of(verdict: &Verdict, o: &Place<'_>) -> Outcome {
    if let Verdict::Skipped(why) = verdict {
        return Outcome::Skipped {
            reason: why.to_string(),
        };
    }
    let (refused, warnings): (Vec<&Warning>, Vec<&Warning>) = verdict
        .warnings()
        .iter()
        .filter(|w| !matches!(w.notice, Notice::DefaultAdded { .. }))
        .partition(|w| w.refused_by_api_server());
    let refused: Vec<Finding> = refused
        .into_iter()
        .map(|w| Finding::of_warning(w, o))
        .collect();
    let warnings: Vec<Finding> = warnings
        .into_iter()
        .map(|w| Finding::of_warning(w, o))
        .collect();
    if !verdict.allowed() || !refused.is_empty() {
        let mut message = verdict.message().unwrap_or_default();
        for f in &refused {
            if !message.is_empty() {
                message.push_str("; ");
            }
            message.push_str(&f.message);
        }
        let mut violations: Vec<Finding> = verdict
            .violations()
            .iter()
            .map(|v| Finding {
                line: o.line_at(&v.quantity_location()),
                message: v.to_string(),
                path: v.location.to_string(),
                resource: v.resource().to_owned(),
                problem: v.problem.to_string(),
                container: v.container.clone(),
            })
            .collect();
        violations.extend(refused);
        return Outcome::Failed {
            message,
            violations,
            warnings,
        };
    }
    let defaults = verdict
        .mutation()
        .map(|m| m.additions().to_vec())
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            let container = o.node.and_then(|n| n.at(&a.container));
            DefaultAdded {
                line: container.map_or(o.line, |c| c.line),
                path: a.container.to_string(),
                container: container
                    .and_then(|c| c.get("name"))
                    .and_then(Node::as_str)
                    .map(str::to_owned),
                pointer: o.at.join(&a.location()).pointer(),
                object: o.at.clone(),
                addition: a,
            }
        })
        .collect();
    Outcome::Passed { defaults, warnings }
}

/// Checks every input, on all cores; reports come back in input order.
pub fn check_all(settings: &Settings, options: &Options, inputs: &[Input]) -> Vec<FileReport> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(inputs.len().max(1));
    if workers <= 1 {
        return inputs
            .iter()
            .map(|s| check_source(settings, options, s))
            .collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<FileReport>> = vec![None; inputs.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(input) = inputs.get(i) else { break };
                        done.push((i, check_source(settings, options, input)));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            // A worker only panics on a bug; its inputs are then reported as not checked.
            for (i, r) in h.join().unwrap_or_default() {
                slots[i] = Some(r);
            }
        }
    });
    slots
        .into_iter()
        .zip(inputs)
        .map(|(slot, input)| {
            slot.unwrap_or_else(|| {
                let mut r = FileReport::new(input.source.display());
                r.errors.push(InputError {
                    source: input.source.display(),
                    line: None,
                    message: "internal error: not checked".into(),
                });
                r
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_marks_a_kubernetes_object_in_text_that_is_not_yaml() {
        for text in [
            "apiVersion: v1\nspec: [\n",
            "# a comment\nkind: Pod\nspec: [\n",
            "\"kind\": Pod\n",
            "'apiVersion' : v1\n",
            "kind:\tPod\n",
            "---\nfoo: 1\n---\napiVersion: apps/v1\n{\n",
            "{\"apiVersion\": \"v1\", \"spec\": {}}}",
            "{\n  \"kind\" : \"Pod\",\n  \"spec\": [}",
            "[{\"kind\": \"Pod\"}",
        ] {
            assert!(marks_an_object(text), "{text:?}");
        }
        for text in [
            "steps:\n\t- bump ]\n",
            "  kind: Pod\n  apiVersion: v1\n",
            "kinds: [\n",
            "apiVersions: 1\n",
            "# kind: Pod\n",
            "data: |\n  kind: Pod\n",
            "{\"name\": \"kind\", \"x\": [}",
            "{\"kindly\": 1,",
        ] {
            assert!(!marks_an_object(text), "{text:?}");
        }
    }

    #[test]
    fn templates() {
        assert!(is_template("name: {{ .Values.name }}\n"));
        assert!(is_template(
            "{{- if .Values.enabled }}\nkind: Pod\n{{- end }}\n"
        ));
        assert!(!is_template("a: {{\n"));
        assert!(!is_template("a: }} {{\n"));
        assert!(!is_template("a: {b: {c: 1}}\n"));
    }

    #[test]
    fn a_skipped_file_says_why_and_what_to_do() {
        let chart = FileSkip::PartOf(PartOf::Chart("charts/shop".into()));
        assert_eq!(chart.to_string(), "part of the Helm chart charts/shop");
        assert_eq!(
            chart.hint("charts/shop/values.yaml"),
            Some(HintAbout::Chart("charts/shop".into()))
        );
        let patch = FileSkip::PartOf(PartOf::KustomizePatch("deploy/prod".into()));
        assert_eq!(
            patch.to_string(),
            "a patch of the kustomization in deploy/prod"
        );
        assert_eq!(
            FileSkip::Template.hint("ops/job.yaml"),
            Some(HintAbout::Template("ops/job.yaml".into()))
        );
        let not_yaml = FileSkip::NotYaml {
            line: 3,
            error: "invalid YAML: x".into(),
        };
        assert_eq!(not_yaml.hint("notes.yaml"), None);
        assert!(not_yaml
            .to_string()
            .starts_with("not YAML (line 3: invalid YAML: x)"));
    }
}

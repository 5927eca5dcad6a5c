//! The case table's types, and loading and expanding `tests/cases/*.json` into cases.

use crate::review::{only_additions, review_body};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// One expanded case.
#[derive(Clone, Debug)]
pub struct Case {
    /// `file: name [Kind]`.
    pub name: String,
    /// The settings.
    pub settings: Value,
    /// The AdmissionRequest as JSON text (not always valid JSON: bad-input cases).
    pub request: String,
    /// The object under review, where there is one.
    pub object: Option<Value>,
    /// The kind under review, where the case names it.
    pub kind: Option<String>,
    /// What the host must answer.
    pub expect: Expect,
}

/// What every host must answer.
#[derive(Clone, Debug)]
pub struct Expect {
    /// The settings are invalid; `validate_settings` answers exactly this message.
    pub settings_error: Option<String>,
    /// Whether the settings are valid and the request admitted.
    pub allowed: bool,
    /// The exact rejection message.
    pub message: Option<String>,
    /// The rejection message starts so (parser errors carry positions that depend on framing).
    pub message_prefix: Option<String>,
    /// The expected patch (adds only) for a mutation.
    pub patch: Option<Vec<Value>>,
    /// The object after the expected patch.
    pub mutated: Option<Value>,
    /// The exact warnings, in order, where the case gives them.
    pub warnings: Option<Vec<String>>,
    /// What `resource-limits check` answers where it differs from admission: no API server
    /// follows it, so what the API server would refuse is a violation there.
    pub cli: Option<CliExpect>,
}

/// A verdict of `resource-limits check` that differs from the admission verdict.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CliExpect {
    /// Whether the object passes.
    pub allowed: bool,
    /// The exact message of a failure (`{spec}` replaced).
    #[serde(default)]
    pub message: Option<String>,
}

/// A host's answer to a case, in host-independent form.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// Whether the request is admitted.
    pub allowed: bool,
    /// The status code of a rejection.
    pub code: Option<u64>,
    /// The message of a rejection.
    pub message: Option<String>,
    /// The object after the host's mutation (its mutated object, or its patch applied).
    pub mutated: Option<Value>,
    /// The warnings of the answer (empty when it has none).
    pub warnings: Vec<String>,
}

/// Runs every case, then fails once listing every case that failed.
pub fn check_all(cases: &[Case], mut run: impl FnMut(&Case) -> Result<(), String>) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| run(c).err().map(|e| format!("{}: {e}", c.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

impl Case {
    /// Checks the host's settings validation. `Ok(true)`: the settings are valid and the case
    /// goes on to the request; `Ok(false)`: the expected settings error, the case is done.
    pub fn check_settings(&self, valid: bool, message: Option<&str>) -> Result<bool, String> {
        match (&self.expect.settings_error, valid) {
            (None, true) => Ok(true),
            (None, false) => Err(format!("settings rejected: {message:?}")),
            (Some(want), false) if message == Some(want.as_str()) => Ok(false),
            (Some(want), _) => Err(format!(
                "settings\n  want error: {want}\n  got: valid={valid} {message:?}"
            )),
        }
    }

    /// Checks a host's answer: verdict, code, message, and a mutation that adds exactly the
    /// expected fields and changes nothing else.
    pub fn check(&self, a: &Answer) -> Result<(), String> {
        self.check_warnings(&a.warnings)?;
        if a.allowed != self.expect.allowed {
            return Err(format!("allowed = {}, message {:?}", a.allowed, a.message));
        }
        if !a.allowed {
            if a.code != Some(400) {
                return Err(format!("code {:?}", a.code));
            }
            if a.mutated.is_some() {
                return Err("a rejection carries a mutation".into());
            }
            return self.check_message(a.message.as_deref());
        }
        if a.message.is_some() {
            return Err(format!("an acceptance carries a message {:?}", a.message));
        }
        match (&a.mutated, &self.expect.mutated) {
            (None, None) => Ok(()),
            (Some(m), None) => Err(format!("unexpected mutation: {m}")),
            (None, Some(_)) => Err("expected a mutation, got none".into()),
            (Some(got), Some(want)) if got != want => {
                Err(format!("mutated object\n  want: {want}\n  got:  {got}"))
            }
            (Some(got), Some(_)) => {
                let original = self.object.as_ref().ok_or("a mutation without an object")?;
                only_additions(original, got)
            }
        }
    }

    /// For a webhook (AdmissionReview in the body): the start of the error a case's request
    /// gives when it makes the whole body unreadable, or `None` when the body is a review.
    pub fn unreadable_review(&self) -> Option<&'static str> {
        match self.expect.message_prefix.as_deref() {
            Some(p) if p.starts_with("the request is not valid JSON") => {
                Some("the body is not valid JSON")
            }
            Some(p) if p.starts_with("the request is not an AdmissionRequest") => {
                Some("the body is not an AdmissionReview")
            }
            _ => None,
        }
    }

    /// The case as `resource-limits check` answers it: its `cli` verdict where it has one, and
    /// as warnings only those the CLI prints as warnings (the defaults added are its
    /// `defaults`; what the API server refuses is a violation).
    pub fn for_cli(&self) -> Case {
        let mut case = self.clone();
        if let Some(cli) = &self.expect.cli {
            case.expect.allowed = cli.allowed;
            case.expect.message = cli.message.clone();
            case.expect.message_prefix = None;
        }
        if let Some(w) = &mut case.expect.warnings {
            w.retain(|w| {
                !w.contains(" added (default") && !w.ends_with(", which the API server refuses")
            });
        }
        case
    }

    /// Checks the warnings against the expectation, where the case gives them (compared like
    /// messages: exactly, in order).
    pub fn check_warnings(&self, got: &[String]) -> Result<(), String> {
        match &self.expect.warnings {
            Some(want) if want.as_slice() != got => {
                Err(format!("warnings\n  want: {want:?}\n  got:  {got:?}"))
            }
            _ => Ok(()),
        }
    }

    /// Checks a rejection message against the expectation; `Err` says what differs.
    pub fn check_message(&self, got: Option<&str>) -> Result<(), String> {
        if let Some(m) = &self.expect.message {
            if got != Some(m.as_str()) {
                return Err(format!("message\n  want: {m}\n  got:  {got:?}"));
            }
        }
        if let Some(p) = &self.expect.message_prefix {
            if !got.is_some_and(|g| g.starts_with(p.as_str())) {
                return Err(format!("message prefix\n  want: {p}\n  got:  {got:?}"));
            }
        }
        Ok(())
    }

    /// The Kubewarden `validate` payload.
    pub fn kubewarden_payload(&self) -> Vec<u8> {
        format!(
            "{{\"settings\":{},\"request\":{}}}",
            self.settings, self.request
        )
        .into_bytes()
    }

    /// An `admission.k8s.io/v1` AdmissionReview around the request.
    pub fn admission_review(&self) -> String {
        String::from_utf8_lossy(&review_body(self.request.as_bytes())).into_owned()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCase {
    name: String,
    #[serde(default)]
    settings: Option<Value>,
    #[serde(default)]
    kinds: Option<Vec<String>>,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    containers: Option<Value>,
    #[serde(default)]
    init_containers: Option<Value>,
    #[serde(default)]
    pod_resources: Option<Value>,
    #[serde(default)]
    object: Option<Value>,
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    request: Option<Value>,
    expect: RawExpect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawExpect {
    #[serde(default)]
    allowed: Option<bool>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    message_prefix: Option<String>,
    #[serde(default)]
    patch: Option<Vec<Value>>,
    #[serde(default)]
    settings_error: Option<String>,
    #[serde(default)]
    warnings: Option<Vec<String>>,
    #[serde(default)]
    cli: Option<CliExpect>,
}

/// The folder of the case table.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases")
}

/// Asserts that a test's embedded copy of a folder (`(name, text)`, sorted by name) holds
/// every file of it, with the same text. `name_of` gives a file's name in the copy, `None`
/// for a file the copy leaves out.
pub fn assert_embedded(
    dir: &Path,
    embedded: &[(&str, &str)],
    name_of: impl Fn(&str) -> Option<&str>,
) {
    let mut on_disk: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            name_of(&file).map(|n| (n.to_owned(), e.path()))
        })
        .collect();
    on_disk.sort();
    let names: Vec<&str> = on_disk.iter().map(|(n, _)| n.as_str()).collect();
    let copied: Vec<&str> = embedded.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, copied, "the embedded copy of {}", dir.display());
    for ((name, path), (_, text)) in on_disk.iter().zip(embedded) {
        let disk = std::fs::read_to_string(path);
        assert_eq!(disk.ok().as_deref(), Some(*text), "{name}");
    }
}

/// Every case of every file, expanded per kind. Panics on a malformed table: that is a bug
/// in the tests, not in the policy.
pub fn load() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/cases is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("case file is readable");
            let stem = f
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("?")
                .to_owned();
            (stem, text)
        })
        .collect();
    let refs: Vec<(&str, &str)> = texts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    load_from(&refs)
}

/// The cases of case files given in memory as `(file stem, JSON text)`, in the order given
/// (where there is no file system, as in the browser: embed the files with `include_str!`).
/// Panics on a malformed table, as [`load`] does.
pub fn load_from(files: &[(&str, &str)]) -> Vec<Case> {
    let mut out = Vec::new();
    for (file, text) in files {
        let raw: Vec<RawCase> =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for c in raw {
            expand(file, c, &mut out);
        }
    }
    assert!(out.len() > 50, "the case table is unexpectedly small");
    out
}

/// Group, version and plural resource of a kind.
pub fn gvr(kind: &str) -> (&'static str, &'static str, &'static str) {
    match kind {
        "Pod" => ("", "v1", "pods"),
        "Deployment" => ("apps", "v1", "deployments"),
        "ReplicaSet" => ("apps", "v1", "replicasets"),
        "StatefulSet" => ("apps", "v1", "statefulsets"),
        "DaemonSet" => ("apps", "v1", "daemonsets"),
        "ReplicationController" => ("", "v1", "replicationcontrollers"),
        "Job" => ("batch", "v1", "jobs"),
        "CronJob" => ("batch", "v1", "cronjobs"),
        "PodTemplate" => ("", "v1", "podtemplates"),
        "ConfigMap" => ("", "v1", "configmaps"),
        "Service" => ("", "v1", "services"),
        _ => ("example.com", "v1", "others"),
    }
}

/// Where a kind keeps its pod spec: (dotted path, JSON pointer).
pub fn spec_location(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "Pod" => ("spec", "/spec"),
        "CronJob" => (
            "spec.jobTemplate.spec.template.spec",
            "/spec/jobTemplate/spec/template/spec",
        ),
        "PodTemplate" => ("template.spec", "/template/spec"),
        _ => ("spec.template.spec", "/spec/template/spec"),
    }
}

/// An object of `kind` around a pod spec.
pub fn wrap(kind: &str, pod_spec: Value) -> Value {
    let (group, version, _) = gvr(kind);
    let api_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let template = json!({"metadata": {"labels": {"app": "demo"}}, "spec": pod_spec});
    let mut obj = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "demo", "namespace": "default"},
    });
    let body = match kind {
        "Pod" => json!({"spec": template["spec"].clone()}),
        "PodTemplate" => json!({"template": template}),
        "CronJob" => {
            json!({"spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}})
        }
        "Job" => json!({"spec": {"template": template}}),
        _ => json!({"spec": {"selector": {"matchLabels": {"app": "demo"}}, "template": template}}),
    };
    if let (Some(o), Some(b)) = (obj.as_object_mut(), body.as_object()) {
        o.extend(b.clone());
    }
    obj
}

/// A complete AdmissionRequest, as the API server sends it.
pub fn admission_request(
    kind: &str,
    operation: &str,
    sub_resource: Option<&str>,
    object: &Value,
) -> Value {
    let (group, version, resource) = gvr(kind);
    let mut r = json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": "demo",
        "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": if operation == "UPDATE" { object.clone() } else { Value::Null },
        "dryRun": false,
        "options": null,
    });
    if let (Some(sub), Some(m)) = (sub_resource, r.as_object_mut()) {
        m.insert("subResource".into(), json!(sub));
        m.insert("requestSubResource".into(), json!(sub));
    }
    r
}

fn substitute(v: &Value, from: &str, to: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(from, to)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, from, to)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, from, to)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

fn expand(file: &str, c: RawCase, out: &mut Vec<Case>) {
    let settings = c.settings.clone().unwrap_or_else(|| json!({}));
    let base_expect = |kind: Option<&str>, object: Option<&Value>| {
        let (path, pointer) = spec_location(kind.unwrap_or("Deployment"));
        let patch = c.expect.patch.as_ref().map(|p| {
            p.iter()
                .map(|op| substitute(op, "{spec}", pointer))
                .collect::<Vec<_>>()
        });
        let mutated = match (&patch, object) {
            (Some(p), Some(obj)) => {
                let mut m = obj.clone();
                let ops: json_patch::Patch = serde_json::from_value(Value::Array(p.clone()))
                    .unwrap_or_else(|e| panic!("{}: bad patch: {e}", c.name));
                json_patch::patch(&mut m, &ops)
                    .unwrap_or_else(|e| panic!("{}: patch does not apply: {e}", c.name));
                Some(m)
            }
            _ => None,
        };
        Expect {
            settings_error: c.expect.settings_error.clone(),
            allowed: c
                .expect
                .allowed
                .unwrap_or(c.expect.settings_error.is_none()),
            message: c.expect.message.as_ref().map(|m| m.replace("{spec}", path)),
            message_prefix: c.expect.message_prefix.clone(),
            patch,
            mutated,
            warnings: c.expect.warnings.as_ref().map(|w| {
                w.iter()
                    .map(|m| m.replace("{spec}", path))
                    .collect::<Vec<_>>()
            }),
            cli: c.expect.cli.as_ref().map(|cli| CliExpect {
                allowed: cli.allowed,
                message: cli.message.as_ref().map(|m| m.replace("{spec}", path)),
            }),
        }
    };
    let operation = c.operation.clone().unwrap_or_else(|| "CREATE".into());
    if let Some(raw) = &c.raw {
        out.push(Case {
            name: format!("{file}: {}", c.name),
            settings,
            request: raw.clone(),
            object: None,
            kind: None,
            expect: base_expect(None, None),
        });
        return;
    }
    if let Some(req) = &c.request {
        out.push(Case {
            name: format!("{file}: {}", c.name),
            settings,
            request: req.to_string(),
            object: req.get("object").cloned().filter(|o| !o.is_null()),
            kind: req
                .pointer("/kind/kind")
                .and_then(Value::as_str)
                .map(str::to_owned),
            expect: base_expect(None, req.get("object")),
        });
        return;
    }
    let kinds = c.kinds.clone().unwrap_or_else(|| vec!["Deployment".into()]);
    for kind in kinds {
        let object = match &c.object {
            Some(o) => o.clone(),
            None => {
                let mut spec = Map::new();
                if let Some(init) = &c.init_containers {
                    spec.insert("initContainers".into(), init.clone());
                }
                spec.insert(
                    "containers".into(),
                    c.containers.clone().unwrap_or_else(|| json!([])),
                );
                if let Some(r) = &c.pod_resources {
                    spec.insert("resources".into(), r.clone());
                }
                wrap(&kind, Value::Object(spec))
            }
        };
        let request = admission_request(&kind, &operation, c.sub_resource.as_deref(), &object);
        out.push(Case {
            name: format!("{file}: {} [{kind}]", c.name),
            settings: settings.clone(),
            request: request.to_string(),
            expect: base_expect(Some(&kind), Some(&object)),
            object: Some(object),
            kind: Some(kind),
        });
    }
}

//! The shared case table (`tests/cases/*.json`): one set of inputs and expected answers that
//! drives the core's tests and every host's tests, so the hosts cannot drift apart.
//!
//! A case file is a JSON array of cases:
//!
//! ```json
//! { "name": "...",
//!   "settings": { ... },                       // the policy settings (default {})
//!   "kinds": ["Pod", "Deployment"],            // expand into one case per kind (default Deployment)
//!   "operation": "CREATE", "subResource": "resize",
//!   "containers": [ ... ], "initContainers": [ ... ], "podResources": { ... },
//!   "object": { ... },                          // or a whole object instead of containers
//!   "raw": "not json",                          // or the raw AdmissionRequest text
//!   "request": { ... },                         // or a whole AdmissionRequest
//!   "expect": { "allowed": false, "message": "...", "messagePrefix": "...",
//!               "patch": [ {"op": "add", "path": "...", "value": ...} ],
//!               "settingsError": "..." } }
//! ```
//!
//! In messages `{spec}` stands for the kind's pod spec path (`spec.template.spec`), in patch
//! paths for its JSON pointer (`/spec/template/spec`).

pub mod manifests;

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

/// A webhook's request body: an `admission.k8s.io/v1` AdmissionReview around the request's
/// bytes exactly as given (not re-serialized: a key given twice or bad bytes stay).
pub fn review_body(request: &[u8]) -> Vec<u8> {
    let mut body =
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"#.to_vec();
    body.extend_from_slice(request);
    body.push(b'}');
    body
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
}

/// The folder of the case table.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases")
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

/// Checks that `mutated` differs from `original` only by added fields: the diff holds adds
/// only, and removing the added fields gives back the original, canonically serialized.
pub fn only_additions(original: &Value, mutated: &Value) -> Result<(), String> {
    let diff = json_patch::diff(original, mutated);
    let mut stripped = mutated.clone();
    for op in diff.0.iter() {
        match op {
            json_patch::PatchOperation::Add(add) => {
                let path = add.path.to_string();
                let (parent, key) = path.rsplit_once('/').unwrap_or(("", &path));
                let key = key.replace("~1", "/").replace("~0", "~");
                match stripped.pointer_mut(parent).and_then(Value::as_object_mut) {
                    Some(m) => {
                        m.remove(&key);
                    }
                    None => return Err(format!("added {path} is not a new object key")),
                }
            }
            // A null replaced by an object is a missing field added.
            json_patch::PatchOperation::Replace(r)
                if original
                    .pointer(r.path.as_str())
                    .is_some_and(Value::is_null) =>
            {
                if let Some(slot) = stripped.pointer_mut(r.path.as_str()) {
                    *slot = Value::Null;
                }
            }
            other => return Err(format!("the mutation changes more than it adds: {other:?}")),
        }
    }
    let a = serde_json::to_string(original).map_err(|e| e.to_string())?;
    let b = serde_json::to_string(&stripped).map_err(|e| e.to_string())?;
    if a != b {
        return Err(format!("mutated minus additions differs:\n{a}\n{b}"));
    }
    Ok(())
}

/// A Kubewarden `validate` payload around any request bytes.
pub fn kubewarden_payload(settings: &Value, request: &[u8]) -> Vec<u8> {
    let mut out = format!("{{\"settings\":{settings},\"request\":").into_bytes();
    out.extend_from_slice(request);
    out.push(b'}');
    out
}

/// A Pod CREATE request with the given containers JSON (raw text).
fn pod_request(containers: &str) -> Vec<u8> {
    format!(
        "{{\"uid\":\"h\",\"kind\":{{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"}},\"operation\":\"CREATE\",\"object\":{{\"metadata\":{{\"name\":\"h\"}},\"spec\":{{\"containers\":{containers}}}}}}}"
    )
    .into_bytes()
}

/// A hostile request: every host must reject it quickly and without trapping.
pub struct Hostile {
    /// What is hostile about it.
    pub name: &'static str,
    /// The settings to use.
    pub settings: Value,
    /// The AdmissionRequest, as bytes (not always valid UTF-8).
    pub request: Vec<u8>,
    /// The start of the rejection message every host must give.
    pub prefix: &'static str,
}

/// The hostile requests every host runs.
pub fn hostile_requests() -> Vec<Hostile> {
    let plain = json!({});
    let capped = json!({"cpu": {"maxLimit": "4"}, "memory": {"maxLimit": "4Gi"}});
    let mut out = Vec::new();

    let deep = format!(
        "[{{\"name\":\"deep\",\"x\":{}{}}}]",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    // Skipped unread where the rule needs nothing of it...
    out.push((
        "10,000-deep nesting",
        plain.clone(),
        pod_request(&deep),
        "spec.containers[0] \"deep\": cpu limit is missing",
    ));
    // ...but a mutation must build the object, and serde_json refuses the depth.
    out.push((
        "10,000-deep nesting in a mutated object",
        json!({"cpu": {"defaultLimit": "1"}}),
        pod_request(&deep),
        "request.object could not be read: recursion limit exceeded",
    ));

    let many = format!(
        "[{}]",
        vec!["{\"name\":\"c\",\"image\":\"nginx\"}"; 100_000].join(",")
    );
    out.push((
        "100,000 containers",
        plain.clone(),
        pod_request(&many),
        "spec.containers[0] \"c\": cpu limit is missing",
    ));

    let padding = "x".repeat(3 * 1024 * 1024 + 17);
    let big = format!("[{{\"name\":\"big\",\"image\":\"nginx\",\"env\":[{{\"name\":\"PAD\",\"value\":\"{padding}\"}}]}}]");
    out.push((
        "a body over 3 MiB",
        plain.clone(),
        pod_request(&big),
        "spec.containers[0] \"big\": cpu limit is missing",
    ));

    let digits = "9".repeat(10_000);
    let long = format!("[{{\"name\":\"long\",\"resources\":{{\"limits\":{{\"cpu\":\"{digits}\",\"memory\":\"1Gi\"}}}}}}]");
    out.push((
        "a quantity of 10,000 digits",
        capped.clone(),
        pod_request(&long),
        "spec.containers[0] \"long\": cpu limit 99999",
    ));

    let tiny = format!("[{{\"name\":\"tiny\",\"resources\":{{\"limits\":{{\"cpu\":\"0.{}1\",\"memory\":\"1Gi\"}}}}}}]", "0".repeat(10_000));
    out.push((
        "a fraction of 10,000 digits",
        json!({"cpu": {"minLimit": "1m"}}),
        pod_request(&tiny),
        "spec.containers[0] \"tiny\": cpu limit 0.000",
    ));

    let exp = "[{\"name\":\"exp\",\"resources\":{\"limits\":{\"cpu\":1e999999,\"memory\":\"1e999999\"}}}]";
    out.push(("1e999999 as a number and as a string", capped.clone(), pod_request(exp), "spec.containers[0] \"exp\": cpu limit 1e999999 exceeds maxLimit 4; spec.containers[0] \"exp\": memory limit 1e999999 exceeds maxLimit 4Gi"));

    let nan = "[{\"name\":\"nan\",\"resources\":{\"limits\":{\"cpu\":\"NaN\",\"memory\":\"-Infinity\"}}}]";
    out.push(("NaN-like quantities", capped.clone(), pod_request(nan), "spec.containers[0] \"nan\": cpu limit \"NaN\" is not a Kubernetes quantity; spec.containers[0] \"nan\": memory limit \"-Infinity\" is not a Kubernetes quantity"));

    let bare_nan = "[{\"name\":\"nan\",\"resources\":{\"limits\":{\"cpu\":NaN}}}]";
    out.push((
        "a bare NaN",
        capped.clone(),
        pod_request(bare_nan),
        "the request is not valid JSON",
    ));

    let negative =
        "[{\"name\":\"neg\",\"resources\":{\"limits\":{\"cpu\":-4,\"memory\":\"-0.5Gi\"}}}]";
    out.push(("negative numbers", capped.clone(), pod_request(negative), "spec.containers[0] \"neg\": cpu limit -4 is negative; spec.containers[0] \"neg\": memory limit -0.5Gi is negative"));

    let mut invalid_utf8 = pod_request("[{\"name\":\"XX\"}]");
    if let Some(at) = invalid_utf8.windows(2).position(|w| w == b"XX") {
        invalid_utf8[at] = 0xff;
        invalid_utf8[at + 1] = 0xfe;
    }
    out.push((
        "non-UTF-8 bytes",
        plain.clone(),
        invalid_utf8,
        "the request is not valid JSON",
    ));

    // Found by fuzzing: serde_json skips the strings of unread fields without checking
    // them, so a request with bad bytes only in `namespace` was accepted.
    let mut skipped_utf8 = b"{\"namespace\":\"d\xbefault\",".to_vec();
    skipped_utf8.extend_from_slice(
        &pod_request(
            "[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]",
        )[1..],
    );
    out.push((
        "non-UTF-8 bytes in a field the policy does not read",
        plain.clone(),
        skipped_utf8,
        "the request is not valid JSON: it is not UTF-8",
    ));

    let dup = "[{\"name\":\"dup\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\",\"cpu\":\"64\"}}}]";
    out.push((
        "a duplicate key",
        capped.clone(),
        pod_request(dup),
        "request.object is not a valid Pod: spec.containers[0].resources.limits: resource \"cpu\" appears twice",
    ));

    // A value of the wrong JSON type at every field the policy reads: the rejection names
    // the field's path.
    let request = |kind: &str, object: Value| {
        let (group, version, _) = gvr(kind);
        json!({"uid": "h", "kind": {"group": group, "version": version, "kind": kind},
               "operation": "CREATE", "object": object})
    };
    let pod = |spec: Value| request("Pod", json!({"metadata": {"name": "h"}, "spec": spec}));
    let app = |fields: Value| {
        let mut c = json!({"name": "app", "image": "nginx"});
        if let (Some(c), Some(f)) = (c.as_object_mut(), fields.as_object()) {
            c.extend(f.clone());
        }
        pod(json!({"containers": [c]}))
    };
    let at = |r: &mut Value, field: &str, wrong: Value| {
        r[field] = wrong;
        std::mem::take(r)
    };
    let wrong_types: Vec<(&'static str, Value, &'static str)> = vec![
        ("uid as a number", at(&mut app(json!({})), "uid", json!(7)),
         "the request is not an AdmissionRequest: request.uid: invalid type: integer"),
        ("kind as a string", at(&mut app(json!({})), "kind", json!("Pod")),
         "the request is not an AdmissionRequest: request.kind: invalid type: string"),
        ("kind.kind as a number", {
            let mut r = app(json!({}));
            r["kind"]["kind"] = json!(7);
            r
        }, "the request is not an AdmissionRequest: request.kind.kind: invalid type: integer"),
        ("kind.group as a list", {
            let mut r = app(json!({}));
            r["kind"]["group"] = json!([]);
            r
        }, "the request is not an AdmissionRequest: request.kind.group: invalid type: sequence"),
        ("operation as a boolean", at(&mut app(json!({})), "operation", json!(true)),
         "the request is not an AdmissionRequest: request.operation: invalid type: boolean"),
        ("subResource as an object", at(&mut app(json!({})), "subResource", json!({})),
         "the request is not an AdmissionRequest: request.subResource: invalid type: map"),
        ("object as a number", at(&mut app(json!({})), "object", json!(7)),
         "request.object is not a JSON object"),
        ("spec as a list", pod(json!([])),
         "request.object is not a valid Pod: spec: invalid type: sequence"),
        ("containers as a number", pod(json!({"containers": 7})),
         "request.object is not a valid Pod: spec.containers: invalid type: integer"),
        ("initContainers as a string", pod(json!({"initContainers": "x", "containers": []})),
         "request.object is not a valid Pod: spec.initContainers: invalid type: string"),
        ("a container as a string", pod(json!({"containers": [{"name": "a"}, "app"]})),
         "request.object is not a valid Pod: spec.containers[1]: invalid type: string"),
        ("name as a number", app(json!({"name": 7})),
         "request.object is not a valid Pod: spec.containers[0].name: invalid type: integer"),
        ("image as an object", app(json!({"image": {}})),
         "request.object is not a valid Pod: spec.containers[0].image: invalid type: map"),
        ("restartPolicy as a number", app(json!({"restartPolicy": 1})),
         "request.object is not a valid Pod: spec.containers[0].restartPolicy: invalid type: integer"),
        ("resources as a string", app(json!({"resources": "big"})),
         "request.object is not a valid Pod: spec.containers[0].resources: invalid type: string"),
        ("limits as a list", app(json!({"resources": {"limits": ["cpu"]}})),
         "request.object is not a valid Pod: spec.containers[0].resources.limits: invalid type: sequence"),
        ("requests as a number", app(json!({"resources": {"requests": 5}})),
         "request.object is not a valid Pod: spec.containers[0].resources.requests: invalid type: integer"),
        ("pod-level resources as a list", pod(json!({"resources": [], "containers": []})),
         "request.object is not a valid Pod: spec.resources: invalid type: sequence"),
        ("a quantity as an object", app(json!({"resources": {"limits": {"cpu": {"v": 1}, "memory": true}}})),
         "spec.containers[0] \"app\": cpu limit {\"v\":1} is not a Kubernetes quantity; spec.containers[0] \"app\": memory limit true is not a Kubernetes quantity"),
        ("a template as a number", request("Deployment", json!({"spec": {"template": 7}})),
         "request.object is not a valid Deployment: spec.template: invalid type: integer"),
        ("a jobTemplate as a list", request("CronJob", json!({"spec": {"jobTemplate": []}})),
         "request.object is not a valid CronJob: spec.jobTemplate: invalid type: sequence"),
        ("a PodTemplate's template as a string", request("PodTemplate", json!({"template": "x"})),
         "request.object is not a valid PodTemplate: template: invalid type: string"),
    ];
    for (name, request, prefix) in wrong_types {
        out.push((
            name,
            plain.clone(),
            request.to_string().into_bytes(),
            prefix,
        ));
    }
    out.into_iter()
        .map(|(name, settings, request, prefix)| Hostile {
            name,
            settings,
            request,
            prefix,
        })
        .collect()
}

/// Reads an AdmissionReview response (a webhook's answer) as an [`Answer`]: its patch, if
/// any, decoded and applied to the case's object. Also checks that the response echoes the
/// request's uid and that the patch only adds.
pub fn answer_from_review(case: &Case, review: &Value) -> Result<Answer, String> {
    use base64::Engine as _;
    if review["apiVersion"] != "admission.k8s.io/v1" || review["kind"] != "AdmissionReview" {
        return Err(format!("not an AdmissionReview v1: {review}"));
    }
    let r = &review["response"];
    let sent: Value = serde_json::from_str(&case.request).unwrap_or(Value::Null);
    let want_uid = sent["uid"].as_str().unwrap_or_default();
    if r["uid"] != want_uid {
        return Err(format!("uid {} instead of {want_uid:?}", r["uid"]));
    }
    let mutated = match r["patch"].as_str() {
        None => None,
        Some(p) => {
            if r["patchType"] != "JSONPatch" {
                return Err(format!("patchType {}", r["patchType"]));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(p)
                .map_err(|e| format!("patch is not base64: {e}"))?;
            let ops: json_patch::Patch =
                serde_json::from_slice(&bytes).map_err(|e| format!("not a JSON patch: {e}"))?;
            for op in ops.0.iter() {
                let adds = matches!(op, json_patch::PatchOperation::Add(_));
                let fills_null = matches!(op, json_patch::PatchOperation::Replace(x)
                    if case.object.as_ref().and_then(|o| o.pointer(x.path.as_str())).is_some_and(Value::is_null));
                if !adds && !fills_null {
                    return Err(format!("the patch does more than add: {op:?}"));
                }
            }
            let mut object = case.object.clone().ok_or("a patch without an object")?;
            json_patch::patch(&mut object, &ops)
                .map_err(|e| format!("the patch does not apply: {e}"))?;
            Some(object)
        }
    };
    Ok(Answer {
        allowed: r["allowed"]
            .as_bool()
            .ok_or("response.allowed is missing")?,
        code: r["status"]["code"].as_u64(),
        message: r["status"]["message"].as_str().map(str::to_owned),
        mutated,
    })
}

/// A JSON value as block-style YAML, for the hosts that read YAML manifests: keys and strings
/// double-quoted (YAML reads them as JSON does), numbers as written, so the YAML means
/// exactly the JSON.
pub fn block_yaml(v: &Value) -> String {
    let mut out = String::new();
    write_yaml(v, 0, &mut out);
    out
}

fn write_yaml(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                out.push_str(&pad);
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_nested(x, indent, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for x in a {
                out.push_str(&pad);
                out.push('-');
                write_nested(x, indent, out);
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&other.to_string());
            out.push('\n');
        }
    }
}

fn write_nested(x: &Value, indent: usize, out: &mut String) {
    match x {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_yaml(x, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_yaml(x, indent + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&other.to_string());
            out.push('\n');
        }
    }
}

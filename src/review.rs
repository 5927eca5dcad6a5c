//! Admission: reads an `admission.k8s.io/v1` AdmissionRequest and gives the verdict.

use crate::json::{self, JsonError};
pub use crate::patch::Mutation;
use crate::rule::{self, Mode};
use crate::settings::Settings;
use crate::workload::{Kind, Text};
use crate::Violation;
use base64::Engine as _;
use serde_json::value::RawValue;
use serde_json::Value;

/// The code of every rejection.
pub const REJECT_CODE: u16 = 400;

/// A message lists at most this many violations (a hostile object with 100,000 containers
/// must not produce a message of megabytes); `Verdict::violations` has them all.
pub const MESSAGE_VIOLATIONS: usize = 100;

crate::object_struct! {
    /// The parts of an AdmissionRequest the policy reads; the rest is skipped unread.
    pub struct AdmissionRequest<'a> {
        pub uid: Option<Text<'a>> = "uid",
        pub kind: Option<GroupVersionKind<'a>> = "kind",
        pub operation: Option<Text<'a>> = "operation",
        pub sub_resource: Option<Text<'a>> = "subResource",
        pub object: Option<&'a RawValue> = "object",
    }
}

crate::object_struct! {
    /// An `admission.k8s.io/v1` AdmissionReview, as the API server sends it to a webhook.
    pub struct AdmissionReview<'a> {
        pub api_version: Option<Text<'a>> = "apiVersion",
        pub kind: Option<Text<'a>> = "kind",
        pub request: Option<AdmissionRequest<'a>> = "request",
    }
}

crate::object_struct! {
    /// The kind of the object under review.
    pub struct GroupVersionKind<'a> {
        pub group: Option<Text<'a>> = "group",
        pub kind: Option<Text<'a>> = "kind",
    }
}

/// The policy's answer to one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    /// 400 on a rejection.
    pub code: Option<u16>,
    /// The rejection message: every violation, `; `-separated, or what is wrong with the input.
    pub message: Option<String>,
    pub violations: Vec<Violation>,
    pub mutation: Option<Mutation>,
}

impl Verdict {
    pub fn accept() -> Verdict {
        Verdict {
            allowed: true,
            code: None,
            message: None,
            violations: Vec::new(),
            mutation: None,
        }
    }

    /// A rejection of input the policy cannot read.
    pub fn bad_input(message: String) -> Verdict {
        Verdict {
            allowed: false,
            code: Some(REJECT_CODE),
            message: Some(message),
            violations: Vec::new(),
            mutation: None,
        }
    }

    fn violations(violations: Vec<Violation>) -> Verdict {
        let mut message = violations
            .iter()
            .take(MESSAGE_VIOLATIONS)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        if violations.len() > MESSAGE_VIOLATIONS {
            message.push_str(&format!(
                "; and {} more violations",
                violations.len() - MESSAGE_VIOLATIONS
            ));
        }
        Verdict {
            allowed: false,
            code: Some(REJECT_CODE),
            message: Some(message),
            violations,
            mutation: None,
        }
    }
}

/// Evaluates an AdmissionRequest given as JSON.
pub fn evaluate(settings: &Settings, request: &[u8]) -> Verdict {
    match json::from_slice::<AdmissionRequest<'_>>(request) {
        Ok(req) => evaluate_request(settings, &req),
        Err(e) => Verdict::bad_input(not_a_request(&e, "request")),
    }
}

/// The message for a request that could not be read; `root` is the path of the
/// AdmissionRequest in what was read (`request`, or empty where the document holds it).
pub fn not_a_request(e: &JsonError, root: &str) -> String {
    if e.is_syntax() {
        format!("the request is not valid JSON: {}", e.message)
    } else {
        format!("the request is not an AdmissionRequest: {}", e.under(root))
    }
}

/// Evaluates an AdmissionRequest already read.
pub fn evaluate_request(settings: &Settings, req: &AdmissionRequest<'_>) -> Verdict {
    let Some(operation) = req.operation.as_ref() else {
        return Verdict::bad_input("request.operation is missing".into());
    };
    let Some(kind_name) = req.kind.as_ref().and_then(|k| k.kind.as_ref()) else {
        return Verdict::bad_input("request.kind.kind is missing".into());
    };
    let group = req
        .kind
        .as_ref()
        .and_then(|k| k.group.as_ref())
        .map(Text::as_str);
    let Some(kind) = Kind::from_gvk(group, kind_name.as_str()) else {
        return Verdict::accept();
    };
    let sub_resource = req.sub_resource.as_ref().map(Text::as_str).unwrap_or("");
    let mode = match (operation.as_str(), kind, sub_resource) {
        (_, Kind::Pod, "resize") => Mode::Resize,
        // Other subresources (status, scale, binding, ...) do not carry a new pod spec.
        (_, _, s) if !s.is_empty() => return Verdict::accept(),
        // A Pod's container resources cannot change through an update of the Pod itself
        // (only through pods/resize); its other updates (labels, finalizers, owner
        // references) must keep working for Pods that predate the policy.
        ("UPDATE", Kind::Pod, _) => return Verdict::accept(),
        ("CREATE" | "UPDATE", _, _) => Mode::Admit,
        _ => return Verdict::accept(),
    };
    let Some(object) = req.object.filter(|o| o.get() != "null") else {
        return Verdict::bad_input(format!(
            "request.object is missing: a {} {} carries the object",
            kind_name.as_str(),
            operation.as_str()
        ));
    };
    if !object.get().starts_with('{') {
        return Verdict::bad_input("request.object is not a JSON object".into());
    }
    let spec = match kind.pod_spec(object.get()) {
        Ok(Some(spec)) => spec,
        Ok(None) => {
            return Verdict::bad_input(format!(
                "the {} has no {}",
                kind_name.as_str(),
                kind.pod_spec_location()
            ))
        }
        Err(e) => {
            return Verdict::bad_input(format!(
                "request.object is not a valid {}: {e}",
                kind_name.as_str()
            ))
        }
    };
    let findings = rule::check_pod_spec(settings, kind, &spec, mode);
    if !findings.violations.is_empty() {
        return Verdict::violations(findings.violations);
    }
    if findings.additions.is_empty() {
        return Verdict::accept();
    }
    // Only now, with a mutation due, is the whole object built.
    let original: Value = match serde_json::from_str(object.get()) {
        Ok(v) => v,
        Err(e) => return Verdict::bad_input(format!("request.object could not be read: {e}")),
    };
    match Mutation::new(original, findings.additions) {
        Ok(mutation) => Verdict {
            mutation: Some(mutation),
            ..Verdict::accept()
        },
        Err(e) => Verdict::bad_input(format!("the defaults could not be added: {e}")),
    }
}

/// A body that is not an AdmissionReview: the webhook answers it with an error, not a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAReview(pub String);

/// Answers an AdmissionReview (a webhook's request body) with the AdmissionReview response
/// the API server expects: same `uid`, `allowed`, `status`, and for a mutation a base64 RFC
/// 6902 `JSONPatch` that adds only the missing fields.
pub fn admission_review(settings: &Settings, body: &[u8]) -> Result<Value, NotAReview> {
    let review = json::from_slice::<AdmissionReview<'_>>(body).map_err(|e| {
        NotAReview(if e.is_syntax() {
            format!("the body is not valid JSON: {}", e.message)
        } else {
            format!("the body is not an AdmissionReview: {e}")
        })
    })?;
    if let Some(kind) = review
        .kind
        .as_ref()
        .filter(|k| k.as_str() != "AdmissionReview")
    {
        return Err(NotAReview(format!(
            "the body is a {}, not an AdmissionReview",
            kind.as_str()
        )));
    }
    let api_version = match review.api_version.as_ref().map(Text::as_str) {
        None | Some("admission.k8s.io/v1") => "admission.k8s.io/v1",
        Some("admission.k8s.io/v1beta1") => "admission.k8s.io/v1beta1",
        Some(other) => {
            return Err(NotAReview(format!(
                "apiVersion {other:?} is not admission.k8s.io/v1"
            )))
        }
    };
    let Some(request) = review.request.as_ref() else {
        return Err(NotAReview(
            "the body is not an AdmissionReview: request is missing".into(),
        ));
    };
    let verdict = evaluate_request(settings, request);
    let uid = request.uid.as_ref().map(Text::as_str).unwrap_or_default();
    Ok(review_response(api_version, uid, &verdict))
}

/// The AdmissionReview response for a verdict.
pub fn review_response(api_version: &str, uid: &str, v: &Verdict) -> Value {
    let mut response = serde_json::Map::new();
    response.insert("uid".into(), Value::String(uid.to_owned()));
    response.insert("allowed".into(), Value::Bool(v.allowed));
    if let (Some(code), Some(message)) = (v.code, &v.message) {
        response.insert(
            "status".into(),
            serde_json::json!({"code": code, "message": message}),
        );
    }
    if let Some(m) = &v.mutation {
        let patch = m.json_patch();
        let bytes = serde_json::to_vec(&patch).unwrap_or_default();
        response.insert("patchType".into(), Value::String("JSONPatch".into()));
        response.insert(
            "patch".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        );
    }
    serde_json::json!({
        "apiVersion": api_version,
        "kind": "AdmissionReview",
        "response": Value::Object(response),
    })
}

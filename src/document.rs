//! The front door for a document a user hands over (the playground's input): an
//! AdmissionReview, an AdmissionRequest, a bare manifest (judged as its CREATE) or a list
//! of manifests, recognised here and judged object by object.

use crate::json;
use crate::json::view::View;
use crate::location::Location;
use crate::manifest::{field, fields, list_of, string_field, ManifestError};
use crate::review::{self, evaluate_checked_manifest, AdmissionRequest};
use crate::settings::Settings;
use crate::verdict::{Unreadable, Verdict};
use crate::webhook::Webhook;
use serde_json::value::RawValue;

/// How a document was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// An AdmissionReview: its `request` was judged.
    Review,
    /// An AdmissionRequest (or anything else that is JSON: judged as one).
    Request,
    /// A bare object (or an item of a list), judged as the API server would send its CREATE.
    Manifest,
}

impl Form {
    /// `AdmissionReview`, `AdmissionRequest` or `manifest`.
    pub fn name(self) -> &'static str {
        match self {
            Form::Review => "AdmissionReview",
            Form::Request => "AdmissionRequest",
            Form::Manifest => "manifest",
        }
    }
}

/// The verdict on one object of a document, and what it was.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// How the document was read; `None` when it is not JSON at all.
    pub form: Option<Form>,
    /// Where the object is in the document (`request.object`, `object`, the root,
    /// `items[3]`): the violations' places start there.
    pub at: Location,
    /// Whether the object is an item of a list (its own line, not the document's).
    pub list_item: bool,
    /// The object's kind, where the document names it.
    pub kind: Option<String>,
    /// The object's `metadata.name`.
    pub name: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
}

/// The one entry for a document a user hands over (JSON text): recognises it and judges each
/// object in it as the given webhook would. `Err`: a list whose items are not all Kubernetes
/// objects.
///
/// The text is read as JSON once, checked whole; what it is (a list, a review, a request, a
/// manifest) and each object's kind and name are then read in place from that one read
/// ([`json::view`]), and each object goes to the core's evaluation as the text it is.
pub fn evaluate(
    settings: &Settings,
    document: &str,
    webhook: Webhook,
) -> Result<Vec<Evaluation>, ManifestError> {
    let root = match json::from_str::<&RawValue>(document) {
        Ok(raw) => View::whole(raw.get()),
        // Not JSON at all: said as the core says it of a request.
        Err(e) if e.is_syntax() => {
            return Ok(vec![Evaluation {
                form: None,
                at: Location::root(),
                list_item: false,
                kind: None,
                name: None,
                verdict: Verdict::Unreadable(Unreadable::from_json_error(&e, "")),
            }])
        }
        // Read as a request, which says what is wrong with it.
        Err(_) => return Ok(vec![as_request(settings, document, None, webhook)]),
    };
    let top = fields(root);
    if let Some(items) = top.as_ref().map(list_of).transpose()?.flatten() {
        return Ok(items
            .into_iter()
            .map(|o| Evaluation {
                form: Some(Form::Manifest),
                verdict: evaluate_checked_manifest(
                    settings,
                    webhook,
                    Some(&o.api_version),
                    &o.kind,
                    o.object.raw(),
                ),
                at: o.at,
                list_item: true,
                kind: Some(o.kind),
                name: o.name,
            })
            .collect());
    }
    let Some(top) = top else {
        return Ok(vec![as_request(settings, document, Some(root), webhook)]);
    };
    let kind = string_field(&top, "kind");
    let evaluation = if let Some(request) = field(&top, "request") {
        let (kind, name) = describe(request);
        Evaluation {
            form: Some(Form::Review),
            at: Location::of_fields(&["request", "object"]),
            list_item: false,
            kind,
            name,
            verdict: request_verdict(settings, request.raw().as_bytes(), webhook),
        }
    } else if kind.as_deref() == Some("AdmissionReview") {
        Evaluation {
            form: Some(Form::Review),
            at: Location::root(),
            list_item: false,
            kind: None,
            name: None,
            verdict: Verdict::Unreadable(Unreadable::NoRequest),
        }
    } else {
        match kind {
            Some(kind) if field(&top, "operation").is_none() => {
                let api_version = string_field(&top, "apiVersion");
                Evaluation {
                    form: Some(Form::Manifest),
                    at: Location::root(),
                    list_item: false,
                    verdict: evaluate_checked_manifest(
                        settings,
                        webhook,
                        api_version.as_deref(),
                        &kind,
                        root.raw(),
                    ),
                    kind: Some(kind),
                    name: name_of(root),
                }
            }
            _ => as_request(settings, document, Some(root), webhook),
        }
    };
    Ok(vec![evaluation])
}

/// A bare object the host already read as a manifest (a YAML document split by the CLI, its
/// `apiVersion` and `kind` known), judged as the API server would send its CREATE; the
/// same verdict as [`evaluate`] gives that object, without recognising its form again (an
/// object of another kind with a top-level `request` stays a manifest).
pub fn evaluate_manifest(
    settings: &Settings,
    api_version: Option<&str>,
    kind: &str,
    object: &str,
    webhook: Webhook,
) -> Verdict {
    review::evaluate_manifest(settings, webhook, api_version, kind, object)
}

/// A document judged as an AdmissionRequest (read from the document's own text: the
/// reader's messages give its lines and columns).
fn as_request(
    settings: &Settings,
    document: &str,
    root: Option<View<'_>>,
    webhook: Webhook,
) -> Evaluation {
    let (kind, name) = root.map(describe).unwrap_or_default();
    Evaluation {
        form: Some(Form::Request),
        at: Location::of_fields(&["object"]),
        list_item: false,
        kind,
        name,
        verdict: request_verdict(settings, document.as_bytes(), webhook),
    }
}

/// The verdict on an AdmissionRequest's JSON text.
fn request_verdict(settings: &Settings, request: &[u8], webhook: Webhook) -> Verdict {
    match AdmissionRequest::from_json(request) {
        Ok(req) => review::evaluate(settings, &req, webhook),
        Err(unreadable) => Verdict::Unreadable(unreadable),
    }
}

/// The kind and name of the object under review in a request (only those two fields are
/// read).
fn describe(request: View<'_>) -> (Option<String>, Option<String>) {
    let Some(req) = fields(request) else {
        return (None, None);
    };
    let kind = field(&req, "kind")
        .and_then(fields)
        .and_then(|k| string_field(&k, "kind"));
    let name = field(&req, "object").and_then(name_of);
    (kind, name)
}

/// The `metadata.name` of an object.
fn name_of(object: View<'_>) -> Option<String> {
    let meta = fields(field(&fields(object)?, "metadata")?)?;
    string_field(&meta, "name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_document() {
        let settings = Settings::default();
        let forms = |doc: &str| {
            evaluate(&settings, doc, Webhook::Mutating)
                .unwrap_or_default()
                .into_iter()
                .map(|e| {
                    (
                        e.form.map(Form::name),
                        e.at.to_string(),
                        e.kind,
                        e.name,
                        e.verdict.allowed(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let pod = r#"{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}}"#;
        let request =
            format!(r#"{{"kind": {{"kind": "Pod"}}, "operation": "CREATE", "object": {pod}}}"#);
        let review = format!(r#"{{"kind": "AdmissionReview", "request": {request}}}"#);
        let list = format!(
            r#"{{"kind": "List", "apiVersion": "v1", "items": [{pod}, {{"kind": "ConfigMap", "apiVersion": "v1"}}]}}"#
        );
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            forms(pod),
            [(
                Some("manifest"),
                String::new(),
                some("Pod"),
                some("p"),
                false
            )]
        );
        assert_eq!(
            forms(&request),
            [(
                Some("AdmissionRequest"),
                "object".into(),
                some("Pod"),
                some("p"),
                false
            )]
        );
        assert_eq!(
            forms(&review),
            [(
                Some("AdmissionReview"),
                "request.object".into(),
                some("Pod"),
                some("p"),
                false
            )]
        );
        assert_eq!(
            forms(&list),
            [
                (
                    Some("manifest"),
                    "items[0]".into(),
                    some("Pod"),
                    some("p"),
                    false
                ),
                (
                    Some("manifest"),
                    "items[1]".into(),
                    some("ConfigMap"),
                    None,
                    true
                )
            ]
        );
        assert_eq!(
            forms("not json"),
            [(None, String::new(), None, None, false)]
        );
        let empty = evaluate(
            &settings,
            r#"{"kind": "AdmissionReview"}"#,
            Webhook::Mutating,
        )
        .unwrap_or_default();
        assert_eq!(
            empty.first().and_then(|e| e.verdict.message()).as_deref(),
            Some("the AdmissionReview has no request")
        );
        assert!(evaluate(
            &settings,
            r#"{"kind": "List", "apiVersion": "v1", "items": 1}"#,
            Webhook::Mutating
        )
        .is_err());
    }

    #[test]
    fn the_one_read_sees_what_serde_json_sees() {
        // Read in place, the document means what it meant read into a map: the last of a key
        // given twice, keys and values unescaped, and a key serde_json cannot decode (a lone
        // surrogate) makes the root no object it can read, so it is judged as a request.
        let settings = Settings::default();
        let first = |doc: &str| {
            evaluate(&settings, doc, Webhook::Mutating)
                .unwrap_or_default()
                .into_iter()
                .map(|e| (e.form.map(Form::name), e.kind, e.name))
                .next()
        };
        let spec = r#""spec": {"containers": [{"name": "a"}]}"#;
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            first(&format!(
                r#"{{"kind": "ConfigMap", "kind": "Pod", "apiVersion": "v1", "metadata": {{"name": "a", "name": "b"}}, {spec}}}"#
            )),
            Some((Some("manifest"), some("Pod"), some("b")))
        );
        assert_eq!(
            first(&format!(
                r#" {{"kind": "P\u006fd", "apiVersion": "v1", "metadata": {{"name": "\u0061"}}, {spec}}} "#
            )),
            Some((Some("manifest"), some("Pod"), some("a")))
        );
        assert_eq!(
            first(&format!(
                r#"{{"\ud800": 1, "kind": "Pod", "apiVersion": "v1", {spec}}}"#
            )),
            Some((Some("AdmissionRequest"), None, None))
        );
    }
}

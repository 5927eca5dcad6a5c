//! The front door for a document a user hands over (the playground's input): an
//! AdmissionReview, an AdmissionRequest, a bare manifest (judged as its CREATE) or a list
//! of manifests, recognised here and judged object by object.

use crate::json;
use crate::location::Location;
use crate::manifest::{fields, list_items, string_field, ManifestError};
use crate::review::{evaluate, evaluate_manifest};
use crate::settings::Settings;
use crate::verdict::{Unreadable, Verdict};
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

/// Recognises a document (JSON text) and judges each object in it. `Err`: a list whose
/// items are not all Kubernetes objects.
pub fn evaluate_document(
    settings: &Settings,
    document: &str,
) -> Result<Vec<Evaluation>, ManifestError> {
    if let Err(e) = json::from_str::<&RawValue>(document) {
        if e.is_syntax() {
            // Not JSON at all: said as the core says it of a request.
            return Ok(vec![Evaluation {
                form: None,
                at: Location::root(),
                list_item: false,
                kind: None,
                name: None,
                verdict: Verdict::Unreadable(Unreadable::from_json_error(&e, "")),
            }]);
        }
    }
    if let Some(items) = list_items(document)? {
        return Ok(items
            .into_iter()
            .map(|o| Evaluation {
                form: Some(Form::Manifest),
                verdict: evaluate_manifest(settings, Some(&o.api_version), &o.kind, o.object.get()),
                at: o.at,
                list_item: true,
                kind: Some(o.kind),
                name: o.name,
            })
            .collect());
    }
    let top = fields(document);
    let string = |k: &str| top.as_ref().and_then(|t| string_field(t, k));
    let kind = string("kind");
    // One place builds the answer: (form, where, kind, name, verdict).
    let (form, at, kind, name, verdict) = if let Some(request) =
        top.as_ref().and_then(|t| t.get("request"))
    {
        let (kind, name) = describe(request.get());
        let verdict = evaluate(settings, request.get().as_bytes());
        let at = Location::of_fields(&["request", "object"]);
        (Form::Review, at, kind, name, verdict)
    } else if kind.as_deref() == Some("AdmissionReview") {
        let verdict = Verdict::Unreadable(Unreadable::NoRequest);
        (Form::Review, Location::root(), None, None, verdict)
    } else {
        match kind {
            Some(kind) if top.as_ref().is_some_and(|t| !t.contains_key("operation")) => {
                let verdict =
                    evaluate_manifest(settings, string("apiVersion").as_deref(), &kind, document);
                let name = name_of(document);
                (Form::Manifest, Location::root(), Some(kind), name, verdict)
            }
            _ => {
                let (kind, name) = describe(document);
                let verdict = evaluate(settings, document.as_bytes());
                let at = Location::of_fields(&["object"]);
                (Form::Request, at, kind, name, verdict)
            }
        }
    };
    Ok(vec![Evaluation {
        form: Some(form),
        at,
        list_item: false,
        kind,
        name,
        verdict,
    }])
}

/// The kind and name of the object under review in a request (only those two fields are
/// read).
fn describe(request: &str) -> (Option<String>, Option<String>) {
    let Some(req) = fields(request) else {
        return (None, None);
    };
    let kind = req
        .get("kind")
        .and_then(|k| fields(k.get()))
        .and_then(|k| string_field(&k, "kind"));
    let name = req.get("object").and_then(|o| name_of(o.get()));
    (kind, name)
}

/// The `metadata.name` of an object.
fn name_of(object: &str) -> Option<String> {
    let meta = fields(fields(object)?.get("metadata")?.get())?;
    string_field(&meta, "name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_document() {
        let settings = Settings::default();
        let forms = |doc: &str| {
            evaluate_document(&settings, doc)
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
        let empty =
            evaluate_document(&settings, r#"{"kind": "AdmissionReview"}"#).unwrap_or_default();
        assert_eq!(
            empty.first().and_then(|e| e.verdict.message()).as_deref(),
            Some("the AdmissionReview has no request")
        );
        assert!(evaluate_document(
            &settings,
            r#"{"kind": "List", "apiVersion": "v1", "items": 1}"#
        )
        .is_err());
    }
}

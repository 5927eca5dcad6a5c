//! The host-independent part of the browser host: text in, answer (as JSON) out. The
//! wasm-bindgen layer in `lib.rs` only moves strings and objects across the JS boundary.

use resource_limits::document::{self, Form};
use resource_limits::verdict::REJECT_CODE;
use resource_limits::{Location, Settings, Unreadable, Verdict, Webhook};
use resource_limits_yaml::documents::{is_json, Entry, Json, Manifest};
use resource_limits_yaml::settings_source::{self, ReadError, SourceError};
use resource_limits_yaml::{self as yaml, Node};
use serde_json::{json, Value};

/// `validateSettings`: `{valid, message}`, as Kubewarden's `validate_settings` answers, and
/// `problems`: each problem at its key's line ([`settings_problems`]).
pub fn validate_settings(text: &str) -> Value {
    match settings(text) {
        Ok(_) => json!({"valid": true, "message": null, "problems": []}),
        Err(message) => {
            json!({"valid": false, "message": message, "problems": settings_problems(text)})
        }
    }
}

/// The core's problems with the settings of a text, each at the line of its key as the CLI's
/// `settings check` shows them: `[{line, field, message, didYouMean}]` (`message` with the
/// did-you-mean, as the CLI prints it). Empty where the problem is not the core's (not YAML,
/// not settings, several sources): the message says that.
pub fn settings_problems(text: &str) -> Vec<Value> {
    let Ok(found) = settings_source::find(text) else {
        return Vec::new();
    };
    let [one] = found.as_slice() else {
        return Vec::new();
    };
    let Ok(json) = &one.json else {
        return Vec::new();
    };
    let Err(error) = settings_source::to_settings(json) else {
        return Vec::new();
    };
    settings_source::locate(one, &error)
        .iter()
        .map(|p| {
            json!({
                "line": p.line,
                "field": p.field,
                "message": p.to_string(),
                "didYouMean": p.did_you_mean,
            })
        })
        .collect()
}

/// Settings as the CLI reads them (the settings sources of `resource-limits-yaml`): plain
/// settings, a ClusterAdmissionPolicy or AdmissionPolicy (its `spec.settings`), or a SpinApp
/// (its `settings` variable); empty settings (no text, or only comments) are `{}`. Plain
/// settings given as JSON are read by the core itself, so every message is the core's.
pub fn settings(text: &str) -> Result<Settings, String> {
    if is_json(text) {
        let object = serde_json::from_str::<Value>(text).ok();
        let kubernetes_object = object
            .as_ref()
            .is_some_and(|v| v.get("kind").is_some() && v.get("apiVersion").is_some());
        if !kubernetes_object {
            return Settings::from_json(text.as_bytes()).map_err(|e| e.to_string());
        }
    }
    settings_source::read(text).map_err(|e| match e {
        ReadError::Source(SourceError::Yaml(e)) => {
            format!("settings are not valid JSON or YAML: {e}")
        }
        e => e.to_string(),
    })
}

/// `exportCel`: `{yaml, error}`: the settings as the API server's own admission policies, the
/// YAML stream `resource-limits export cel` prints for them (`error`: why there is none,
/// invalid settings or settings CEL cannot judge exactly).
pub fn export_cel(settings_text: &str, name: &str) -> Value {
    let name = if name.is_empty() {
        "resource-limits"
    } else {
        name
    };
    let result = settings(settings_text)
        .map_err(|e| format!("invalid settings: {e}"))
        .and_then(|s| resource_limits::cel::export(&s, name).map_err(|e| e.to_string()));
    match result {
        Ok(objects) => json!({"yaml": yaml::write::to_yaml_stream(&objects), "error": null}),
        Err(error) => json!({"yaml": null, "error": error}),
    }
}

/// `validate`: the answer for every document of the input.
pub fn validate(settings_text: &str, input: &str) -> Value {
    let settings = match settings(settings_text) {
        Ok(s) => s,
        Err(e) => {
            let message = Unreadable::Settings(e.clone()).to_string();
            return json!({
                "allowed": false,
                "settingsError": e,
                "settingsProblems": settings_problems(settings_text),
                "answers": [rejection(&message, None, 0)],
            });
        }
    };
    let docs = match documents(input) {
        Ok(docs) => docs,
        Err(answer) => {
            return json!({"allowed": false, "settingsError": null, "settingsProblems": [], "answers": [answer]})
        }
    };
    let answers: Vec<Value> = docs
        .iter()
        .filter_map(|d| d.manifest.as_ref())
        .enumerate()
        .flat_map(|(i, d)| answers(&settings, d, i))
        .collect();
    let allowed = answers.iter().all(|a| a["allowed"] == true);
    json!({"allowed": allowed, "settingsError": null, "settingsProblems": [], "answers": answers})
}

/// The documents of the input that hold something (`resource_limits_yaml::documents`; each
/// has its manifest): JSON as written (the core reads it, duplicates and all), or the
/// documents of a YAML stream.
fn documents(input: &str) -> Result<Vec<Entry>, Value> {
    if input.trim().is_empty() {
        return Err(rejection(
            "the input is empty: give an AdmissionReview, an AdmissionRequest or a manifest (JSON or YAML)",
            None,
            0,
        ));
    }
    let docs = yaml::documents::documents(input, Json::AsWritten).map(|mut docs| {
        docs.retain(|d| d.manifest.is_some());
        docs
    });
    match docs {
        Ok(docs) if docs.is_empty() => Err(rejection(
            "the input holds no YAML document, only comments or empty documents",
            None,
            0,
        )),
        // A lone scalar or list: the core says what is wrong with it as a
        // request (a lone word is "not valid JSON", as every host says).
        Ok(mut docs)
            if docs.len() == 1
                && docs[0]
                    .manifest
                    .as_ref()
                    .and_then(|m| m.tree.as_ref())
                    .is_some_and(|t| !matches!(t.value, yaml::Value::Map(_)))
                && !is_json(input) =>
        {
            docs[0].manifest = Some(Manifest {
                json: input.to_owned(),
                line: 1,
                tree: None,
            });
            Ok(docs)
        }
        // One answer per document; a document that is not a mapping gets the core's reason.
        Ok(docs) => Ok(docs),
        Err(e) => Err(rejection(
            &format!("the input is not valid JSON or YAML: {e}"),
            None,
            e.line,
        )),
    }
}

/// The answers for one document: one per object, as the core recognises them (an
/// AdmissionReview, an AdmissionRequest, a manifest, or each item of a list).
fn answers(settings: &Settings, doc: &Manifest, index: usize) -> Vec<Value> {
    let evaluations = match document::evaluate(settings, &doc.json, Webhook::Mutating) {
        Ok(evaluations) => evaluations,
        Err(e) => {
            let mut a = rejection(&e.with_line(doc.line_of(&e.at)), Some("manifest"), doc.line);
            a["document"] = json!(index);
            return vec![a];
        }
    };
    evaluations
        .into_iter()
        .map(|e| {
            let line = match (&doc.tree, e.list_item) {
                (Some(tree), true) => tree.line_at(&e.at),
                _ => doc.line,
            };
            let a = verdict_json(&e.verdict, doc.tree.as_ref(), &e.at);
            with_document(a, index, line, e.form.map(Form::name), e.kind, e.name)
        })
        .collect()
}

/// An answer with what it answers: the document's index and line, its form, kind and name.
fn with_document(
    mut a: Value,
    index: usize,
    line: usize,
    input: Option<&str>,
    kind: Option<String>,
    name: Option<String>,
) -> Value {
    if let Some(m) = a.as_object_mut() {
        m.insert("document".into(), json!(index));
        m.insert("line".into(), json!(line));
        m.insert("input".into(), json!(input));
        m.insert("kind".into(), json!(kind));
        m.insert("name".into(), json!(name));
    }
    a
}

/// A rejection of the input as a whole.
fn rejection(message: &str, input: Option<&str>, line: usize) -> Value {
    json!({
        "document": 0,
        "line": line,
        "input": input,
        "kind": null,
        "name": null,
        "allowed": false,
        "code": REJECT_CODE,
        "message": message,
        "violations": [],
        "warnings": [],
        "patch": null,
        "patched": null,
        "patchedText": null,
        "originalText": null,
    })
}

/// The verdict in the answer's form, with the JSONPatch and each violation's line.
fn verdict_json(v: &Verdict, tree: Option<&Node>, prefix: &Location) -> Value {
    let violations: Vec<Value> = v
        .violations()
        .iter()
        .map(|x| {
            json!({
                "path": x.location.to_string(),
                "container": x.container,
                "resource": x.resource(),
                "problem": x.problem.to_string(),
                "message": x.to_string(),
                "line": tree.map(|t| t.line_at(&prefix.join(&x.quantity_location()))),
            })
        })
        .collect();
    let warnings: Vec<Value> = v
        .warnings()
        .iter()
        .map(|w| {
            json!({
                "path": w.location.to_string(),
                "container": w.container,
                "resource": w.notice.resource(),
                "notice": w.notice.to_string(),
                "message": w.to_string(),
                "line": tree.map(|t| t.line_at(&prefix.join(&w.quantity_location()))),
            })
        })
        .collect();
    // The core's own copy of the object as it came: the patch is the Spin host's patch.
    let (patch, patched_text, original_text, patched) = match v.mutation() {
        Some(m) => {
            // The core's texts are JSON it wrote or read whole (the fuzz invariants parse
            // every one); a tree of them is what the page shows and diffs.
            let object = m.object().unwrap_or(Value::Null);
            let original = m.original().unwrap_or(Value::Null);
            let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
            (
                m.json_patch().unwrap_or(Value::Null),
                Value::String(pretty(&object)),
                Value::String(pretty(&original)),
                object,
            )
        }
        _ => (Value::Null, Value::Null, Value::Null, Value::Null),
    };
    json!({
        "allowed": v.allowed(),
        "code": v.code(),
        "message": v.message(),
        "violations": violations,
        "warnings": warnings,
        "patch": patch,
        "patched": patched,
        "patchedText": patched_text,
        "originalText": original_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each settings problem at its key's line, as the CLI's `settings check` shows it:
    /// plain YAML settings, a policy's `spec.settings`, JSON; nothing for valid settings, and
    /// nothing (the message says why) where the text is not settings at all.
    #[test]
    fn settings_problems_at_their_key_lines() {
        let problems = |text: &str| -> Vec<(u64, String, Value)> {
            let v = validate_settings(text);
            assert_eq!(
                v["problems"],
                validate(text, "{}")["settingsProblems"],
                "{text}"
            );
            v["problems"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p["line"].as_u64().unwrap_or_default(),
                        p["message"].as_str().unwrap_or_default().to_owned(),
                        p["didYouMean"].clone(),
                    )
                })
                .collect()
        };
        let got = problems("memory:\n  maxLimit: 1Gi\ncpu:\n  maxLimt: 4\n");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].0, &got[0].2), (4, &json!("cpu.maxLimit")));
        assert!(
            got[0]
                .1
                .starts_with("cpu.maxLimt: unknown setting (expected one of ")
                && got[0].1.ends_with("); did you mean cpu.maxLimit?"),
            "{got:?}"
        );
        let policy = "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: p}\nspec:\n  module: x\n  settings:\n    cpu:\n      maxLimit: 4 cores\n";
        let got = problems(policy);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 8);
        assert!(
            got[0]
                .1
                .contains("\"4 cores\" is not a Kubernetes quantity"),
            "{got:?}"
        );
        assert_eq!(problems("{\n  \"cpu\": {\"maxLimit\": \"x\"}\n}")[0].0, 2);
        assert!(problems("cpu:\n  maxLimit: 4\n").is_empty());
        assert!(problems("a: [\n").is_empty());
        assert_eq!(validate_settings("a: [\n")["valid"], false);
    }
}

//! `fix`: writes the defaults the policy would inject into the manifests themselves.
//!
//! The edits go through `yaml-edit`, a lossless (rowan) YAML tree: comments, key order,
//! quoting, flow or block style and blank lines of everything not touched stay as they were.
//! Each document is edited on its own slice of the text (the slices come from our own
//! parser, which also decides which documents need defaults), and the result is checked
//! before anything is written: parsed again, every document must equal the object the core's
//! mutation produced (or the original, where nothing was due). An edit that does not pass
//! that check is refused with a message, never written.

use crate::check::{self, DefaultAdded, FileReport, Outcome};
use crate::manifest::{Input, InputError};
use crate::yaml;
use crate::yaml::documents::{documents, Entry, Json};
use resource_limits::document::Form;
use resource_limits::location::{Location, Segment};
use resource_limits::patch;
use resource_limits::Settings;
use std::str::FromStr;
use yaml_edit::{Mapping, MappingBuilder, ScalarValue, YamlFile, YamlNode};

/// The outcome of fixing one input.
pub struct Fixed {
    pub report: FileReport,
    pub original: String,
    /// The new text, when defaults were added.
    pub fixed: Option<String>,
}

/// Reads an input, checks it, and adds the defaults of the objects that pass (manifests
/// only: an AdmissionReview or AdmissionRequest is a record of a request, not edited). The
/// options are `check`'s: an object of a kind in `skip_kinds` is skipped, so left as it is;
/// with `strict`, what is skipped as not a Kubernetes object is an input error, and a file
/// with an input error is not edited.
pub fn fix_source(settings: &Settings, options: &check::Options, input: &Input) -> Fixed {
    let check::Loaded {
        mut report,
        text: original,
        docs,
    } = check::load(input, options.strict);
    let Some(docs) = docs else {
        return Fixed {
            report,
            original,
            fixed: None,
        };
    };
    check::check_docs(settings, options, &docs, &mut report);
    // A document that two readers may read differently is not rewritten: the key written
    // twice is an input error here, named with both lines.
    let mut twice: Vec<&crate::yaml::Duplicate> =
        report.objects.iter().flat_map(|o| &o.duplicates).collect();
    twice.sort_by_key(|d| d.line);
    twice.dedup_by_key(|d| d.line);
    let twice: Vec<InputError> = twice
        .into_iter()
        .map(|d| InputError {
            source: report.source.clone(),
            line: Some(d.line),
            message: format!("{d}; not edited"),
        })
        .collect();
    report.errors.extend(twice);
    let fixed = if report.errors.is_empty() {
        match apply(&original, &docs, &report) {
            Ok(f) => f,
            Err((line, message)) => {
                report.errors.push(InputError {
                    source: report.source.clone(),
                    line,
                    message,
                });
                None
            }
        }
    } else {
        None
    };
    Fixed {
        report,
        original,
        fixed,
    }
}

type FixError = (Option<usize>, String);

/// The text with every due default added; `Ok(None)` when none is due.
fn apply(text: &str, docs: &[Entry], report: &FileReport) -> Result<Option<String>, FixError> {
    let mut per_doc: Vec<Vec<&DefaultAdded>> = vec![Vec::new(); docs.len()];
    for o in &report.objects {
        if let (Outcome::Passed { defaults, .. }, Some(Form::Manifest)) = (&o.outcome, o.input) {
            if let Some(slot) = per_doc.get_mut(o.document - 1) {
                slot.extend(defaults.iter());
            }
        }
    }
    if per_doc.iter().all(Vec::is_empty) {
        return Ok(None);
    }
    // A JSON manifest stays JSON: quoted keys and values, new mappings in flow style.
    let json = yaml::documents::looks_like_json(text);
    let starts: Vec<usize> = docs.iter().map(|d| d.start_in(text)).collect();
    let mut out = String::with_capacity(text.len() + 256);
    let mut expected = Vec::with_capacity(docs.len());
    for (i, doc) in docs.iter().enumerate() {
        let from = starts[i];
        let to = starts.get(i + 1).copied().unwrap_or(text.len());
        let slice = text
            .get(from..to)
            .ok_or((Some(doc.line), "cannot split the documents".into()))?;
        let mut want = match tree(doc) {
            Some(r) => Some(r.to_value().map_err(|e| (Some(doc.line), e))?),
            None => None,
        };
        if per_doc[i].is_empty() {
            out.push_str(slice);
        } else {
            out.push_str(
                &edit_document(slice, &per_doc[i], json).map_err(|e| (Some(doc.line), e))?,
            );
            if let Some(w) = want.as_mut() {
                let adds: Vec<patch::Addition> = per_doc[i]
                    .iter()
                    .map(|d| patch::Addition {
                        container: d.object.join(&d.addition.container),
                        ..d.addition.clone()
                    })
                    .collect();
                patch::apply(w, &adds).map_err(|e| (Some(doc.line), e))?;
            }
        }
        expected.push(want);
    }
    verify(&out, &expected)?;
    if json {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&out) {
            return Err((
                None,
                format!("the edited JSON would not be valid JSON ({e}); nothing written, add the defaults by hand"),
            ));
        }
    }
    Ok(Some(out))
}

/// Parses the edited text again: it must hold exactly the expected documents.
fn verify(text: &str, expected: &[Option<serde_json::Value>]) -> Result<(), FixError> {
    let refuse = |why: String| {
        (
            None,
            format!("the edited YAML would not be what the policy adds ({why}); nothing written, add the defaults by hand"),
        )
    };
    let docs = documents(text, Json::AsYaml).map_err(|e| refuse(e.to_string()))?;
    if docs.len() != expected.len() {
        return Err(refuse(format!(
            "{} documents instead of {}",
            docs.len(),
            expected.len()
        )));
    }
    for (i, (d, want)) in docs.iter().zip(expected).enumerate() {
        let got = match tree(d) {
            Some(r) => Some(r.to_value().map_err(refuse)?),
            None => None,
        };
        if &got != want {
            return Err(refuse(format!("document {} differs", i + 1)));
        }
    }
    Ok(())
}

/// A document's tree; `None` for an empty document.
fn tree(doc: &Entry) -> Option<&yaml::Node> {
    doc.manifest.as_ref().and_then(|m| m.tree.as_ref())
}

/// Adds the defaults to one document's text.
fn edit_document(slice: &str, defaults: &[&DefaultAdded], json: bool) -> Result<String, String> {
    let file = YamlFile::from_str(slice).map_err(|e| format!("cannot edit the YAML: {e}"))?;
    let docs: Vec<_> = file.documents().collect();
    let [doc] = docs.as_slice() else {
        return Err(format!(
            "cannot edit the YAML: found {} documents where one was expected",
            docs.len()
        ));
    };
    let root = doc
        .as_mapping()
        .ok_or("cannot edit the YAML: the document is not a mapping")?;
    // Grouped by container, in the order the policy gives them (limits, then requests).
    let mut groups: Vec<(Location, &str, Vec<&DefaultAdded>)> = Vec::new();
    for d in defaults {
        let at = d.object.join(&d.addition.container);
        match groups.iter_mut().find(|(p, _, _)| *p == at) {
            Some((_, _, list)) => list.push(d),
            None => groups.push((at, d.path.as_str(), vec![d])),
        }
    }
    for (at, path, adds) in groups {
        let container = find_mapping(&root, &at).ok_or_else(|| {
            format!(
                "cannot edit the YAML: {path} is not a plain mapping (an alias or a tagged node?)"
            )
        })?;
        if json {
            add_json(&container, &adds)?;
        } else {
            add(&container, &adds)?;
        }
    }
    Ok(file.to_string())
}

/// The mapping at a location.
fn find_mapping(root: &Mapping, at: &Location) -> Option<Mapping> {
    let mut node = YamlNode::Mapping(root.clone());
    for segment in at.segments() {
        node = match (&node, segment) {
            (YamlNode::Mapping(m), Segment::Field(name)) => m.get(name.as_ref())?,
            (YamlNode::Sequence(s), Segment::Index(i)) => s.get(*i)?,
            _ => return None,
        };
    }
    node.as_mapping().cloned()
}

/// A quantity as YAML: plain where that reads back as a string (`512Mi`), quoted where a
/// plain scalar would be a number (`"1"`), since the policy adds strings.
fn scalar(value: &str) -> ScalarValue {
    let plain_is_string = yaml::resolve_plain(value).is_none()
        && !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'));
    if plain_is_string {
        ScalarValue::plain(value)
    } else {
        ScalarValue::double_quoted(value)
    }
}

/// A mapping of the given entries, block style.
fn block(entries: &[(&str, &str)]) -> Option<Mapping> {
    entries
        .iter()
        .fold(MappingBuilder::new(), |m, (k, v)| m.pair(*k, scalar(v)))
        .build_document()
        .as_mapping()
}

/// Adds `resources.<section>.<resource>: value` to a container, creating what is missing.
/// A missing, null or empty (`resources: {}`, Helm's usual default) `resources` or section is
/// replaced by a block mapping; an existing one gets the new keys in its own style.
fn add(container: &Mapping, adds: &[&DefaultAdded]) -> Result<(), String> {
    let built = || "cannot build the YAML to add".to_owned();
    let sections: Vec<(&str, Vec<(&str, &str)>)> = ["limits", "requests"]
        .into_iter()
        .map(|sec| {
            let entries = adds
                .iter()
                .filter(|d| d.addition.section.key() == sec)
                .map(|d| (d.addition.resource.as_str(), d.addition.value.as_str()))
                .collect();
            (sec, entries)
        })
        .filter(|(_, e): &(&str, Vec<(&str, &str)>)| !e.is_empty())
        .collect();
    match container.get_mapping("resources").filter(|r| !r.is_empty()) {
        None => {
            let mut m = MappingBuilder::new();
            for (sec, entries) in &sections {
                m = m.mapping(*sec, |b| {
                    entries.iter().fold(b, |b, (k, v)| b.pair(*k, scalar(v)))
                });
            }
            let res = m.build_document().as_mapping().ok_or_else(built)?;
            container.set("resources", res);
        }
        Some(resources) => {
            for (sec, entries) in &sections {
                match resources.get_mapping(*sec).filter(|l| !l.is_empty()) {
                    Some(list) => {
                        for (k, v) in entries {
                            list.set(*k, scalar(v));
                        }
                    }
                    None => resources.set(*sec, block(entries).ok_or_else(built)?),
                }
            }
        }
    }
    Ok(())
}

/// `add` for a JSON manifest: every key and value double-quoted, new objects as JSON text.
fn add_json(container: &Mapping, adds: &[&DefaultAdded]) -> Result<(), String> {
    let key = |k: &str| ScalarValue::double_quoted(k);
    let object = |text: String| -> Result<Mapping, String> {
        yaml_edit::Document::from_str(&text)
            .ok()
            .and_then(|d| d.as_mapping())
            .ok_or_else(|| "cannot build the JSON to add".to_owned())
    };
    let entries = |sec: &str| -> String {
        adds.iter()
            .filter(|d| d.addition.section.key() == sec)
            .map(|d| {
                let mut e = String::new();
                yaml::write_json_string(&d.addition.resource, &mut e);
                e.push_str(": ");
                yaml::write_json_string(&d.addition.value, &mut e);
                e
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sections: Vec<(&str, String)> = ["limits", "requests"]
        .into_iter()
        .map(|sec| (sec, entries(sec)))
        .filter(|(_, e)| !e.is_empty())
        .collect();
    match container.get_mapping("resources").filter(|r| !r.is_empty()) {
        None => {
            let body = sections
                .iter()
                .map(|(sec, e)| format!("\"{sec}\": {{{e}}}"))
                .collect::<Vec<_>>()
                .join(", ");
            container.set(key("resources"), object(format!("{{{body}}}"))?);
        }
        Some(resources) => {
            for (sec, e) in &sections {
                match resources.get_mapping(*sec).filter(|l| !l.is_empty()) {
                    Some(list) => {
                        for d in adds.iter().filter(|d| d.addition.section.key() == *sec) {
                            list.set(
                                key(&d.addition.resource),
                                ScalarValue::double_quoted(d.addition.value.as_str()),
                            );
                        }
                    }
                    None => resources.set(key(sec), object(format!("{{{e}}}"))?),
                }
            }
        }
    }
    Ok(())
}

/// A unified diff of a fix.
pub fn diff(name: &str, before: &str, after: &str) -> String {
    let (old, new) = if name.starts_with('/') || name.starts_with('<') {
        (name.to_owned(), name.to_owned())
    } else {
        (format!("a/{name}"), format!("b/{name}"))
    };
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&old, &new)
        .to_string()
}

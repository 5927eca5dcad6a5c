//! Manifests: the Kubernetes objects of one document, as the CLI and the playground read
//! them. A document is one object, or a `List` of them (`kind: List`, or any `<Kind>List`
//! with `items`, whose items may leave out `kind` and `apiVersion` as the API server's list
//! responses do). Each object is then judged by [`crate::review::evaluate_manifest`].

use crate::location::Location;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::fmt;

/// One Kubernetes object of a document.
#[derive(Debug)]
pub struct ManifestObject<'a> {
    /// Where it is in its document: the root, or `items[3]`.
    pub at: Location,
    /// `apps/v1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// `metadata.name`, or else `metadata.generateName`.
    pub name: Option<String>,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// The object's JSON, as written.
    pub object: &'a RawValue,
}

/// A document that is not a Kubernetes object or a list of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// Where: the root, or the list item at fault (`items[3]`).
    pub at: Location,
    /// What is wrong.
    pub message: String,
}

impl ManifestError {
    /// The message with the line of the place at fault, for an item of a list:
    /// `items[3] (line 12): the Deployment has no apiVersion`.
    pub fn with_line(&self, line: usize) -> String {
        if self.at.segments().is_empty() {
            self.message.clone()
        } else {
            format!("{} (line {line}): {}", self.at, self.message)
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.segments().is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.at, self.message)
        }
    }
}

/// The objects of a document (JSON text): itself, or the items of a list.
pub fn manifest_objects(document: &str) -> Result<Vec<ManifestObject<'_>>, ManifestError> {
    match list_items(document)? {
        Some(items) => Ok(items),
        None => {
            let raw = read_raw(document)?;
            read_object(raw, Location::root(), None)
                .map(|object| vec![object])
                .map_err(root)
        }
    }
}

/// The items of a list (`kind: List`, or `<Kind>List` with `items`); `None` for a document
/// that is not one (not even JSON: the caller says what is wrong with it).
pub fn list_items(document: &str) -> Result<Option<Vec<ManifestObject<'_>>>, ManifestError> {
    let Ok(raw) = serde_json::from_str::<&RawValue>(document) else {
        return Ok(None);
    };
    let raw = raw.get();
    if !raw.starts_with('{') {
        return Ok(None);
    }
    let Some(top) = fields(raw) else {
        return Ok(None);
    };
    let Some(kind) = string_field(&top, "kind") else {
        return Ok(None);
    };
    let items = top.get("items").copied();
    let item_kind = match kind.as_str() {
        "List" => None,
        k => match k.strip_suffix("List") {
            Some(base) if !base.is_empty() && items.is_some() => Some(base),
            _ => return Ok(None),
        },
    };
    let api_version = match top.get("apiVersion").map(|v| v.get()) {
        None | Some("null" | "\"\"") => return Err(root(format!("the {kind} has no apiVersion"))),
        Some(v) => serde_json::from_str::<String>(v)
            .map_err(|_| root("apiVersion is not a string".into()))?,
    };
    let api_version = api_version.as_str();
    let items = match items.map(RawValue::get) {
        None | Some("null") => return Ok(Some(Vec::new())),
        Some(text) if text.starts_with('[') => serde_json::from_str::<Vec<&RawValue>>(text)
            .map_err(|e| root(format!("{kind}: items: {e}")))?,
        Some(_) => return Err(root(format!("{kind}: items is not a list"))),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = Location::root().field("items").index(i);
        let defaults = item_kind.map(|k| (api_version, k));
        match read_object(item, at.clone(), defaults) {
            Ok(object) => out.push(object),
            Err(message) => return Err(ManifestError { at, message }),
        }
    }
    Ok(Some(out))
}

/// An error about the document as a whole.
fn root(message: String) -> ManifestError {
    ManifestError {
        at: Location::root(),
        message,
    }
}

/// The document as one JSON value.
fn read_raw(document: &str) -> Result<&RawValue, ManifestError> {
    serde_json::from_str::<&RawValue>(document).map_err(|e| root(e.to_string()))
}

/// The top-level fields of an object, by name.
pub(crate) type Fields<'a> = HashMap<String, &'a RawValue>;

/// The fields of a JSON object; `None` when the text is not one. (One copy, not inlined at
/// each use: the browser module is smaller for it.)
#[inline(never)]
pub(crate) fn fields(text: &str) -> Option<Fields<'_>> {
    serde_json::from_str(text).ok()
}

/// A field's value when it is a string.
#[inline(never)]
pub(crate) fn string_field(fields: &Fields<'_>, key: &str) -> Option<String> {
    fields
        .get(key)
        .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
}

/// Reads one object: its kind, apiVersion (or the list's defaults) and metadata.
fn read_object<'a>(
    raw: &'a RawValue,
    at: Location,
    defaults: Option<(&str, &str)>,
) -> Result<ManifestObject<'a>, String> {
    let text = raw.get();
    let not = |what: &str| format!("not a Kubernetes object: {what}");
    match text.as_bytes().first() {
        Some(b'{') => {}
        Some(b'[') => return Err(not("a list")),
        Some(b'"') => return Err(not("a string")),
        _ => return Err(not("a scalar")),
    }
    let fields: Fields<'a> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let field = |name: &str| -> Result<Option<String>, String> {
        match fields.get(name).map(|v| v.get()) {
            None | Some("null") => Ok(None),
            Some(v) => serde_json::from_str::<String>(v)
                .map(Some)
                .map_err(|_| format!("{name} is not a string")),
        }
    };
    let kind = field("kind")?
        .or_else(|| defaults.map(|d| d.1.to_owned()))
        .filter(|k| !k.is_empty())
        .ok_or_else(|| not("it has no kind"))?;
    let api_version = field("apiVersion")?
        .or_else(|| defaults.map(|d| d.0.to_owned()))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("the {kind} has no apiVersion"))?;
    let meta: Fields<'a> = fields
        .get("metadata")
        .and_then(|m| self::fields(m.get()))
        .unwrap_or_default();
    let text_of = |key: &str| string_field(&meta, key);
    let namespace = text_of("namespace");
    let name = text_of("name").or_else(|| text_of("generateName"));
    Ok(ManifestObject {
        at,
        api_version,
        kind,
        name,
        namespace,
        object: raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_their_items() {
        let doc = r#"{"apiVersion": "apps/v1", "kind": "DeploymentList", "items": [
            {"metadata": {"name": "a"}, "spec": {}},
            {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"generateName": "b-"}}]}"#;
        let objects = manifest_objects(doc).unwrap_or_default();
        let seen: Vec<_> = objects
            .iter()
            .map(|o| {
                (
                    o.at.to_string(),
                    o.api_version.as_str(),
                    o.kind.as_str(),
                    o.name.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("items[0]".to_owned(), "apps/v1", "Deployment", Some("a")),
                ("items[1]".to_owned(), "apps/v1", "Deployment", Some("b-"))
            ]
        );
        assert_eq!(
            objects[0].object.get(),
            r#"{"metadata": {"name": "a"}, "spec": {}}"#
        );
        let one = manifest_objects(
            r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "x"}}"#,
        )
        .unwrap_or_default();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].namespace.as_deref(), Some("x"));
        // A kind ending in List without items is an object of its own.
        let own = manifest_objects(r#"{"apiVersion": "x/v1", "kind": "ShoppingList"}"#);
        assert_eq!(own.map(|o| o.len()), Ok(1));
        assert!(matches!(list_items("not json"), Ok(None)));
        assert!(matches!(list_items(r#"{"kind": "Pod"}"#), Ok(None)));
        assert_eq!(
            manifest_objects(r#"{"apiVersion": "v1", "kind": "List", "items": null}"#)
                .map(|o| o.len()),
            Ok(0)
        );
    }

    #[test]
    fn what_is_not_an_object() {
        let error = |doc: &str| manifest_objects(doc).err().map(|e| e.with_line(7));
        let cases = [
            ("[1]", "not a Kubernetes object: a list"),
            ("\"text\"", "not a Kubernetes object: a string"),
            ("3", "not a Kubernetes object: a scalar"),
            (
                "{\"metadata\": {}}",
                "not a Kubernetes object: it has no kind",
            ),
            ("{\"kind\": \"Pod\"}", "the Pod has no apiVersion"),
            ("{\"kind\": 1}", "kind is not a string"),
            (
                r#"{"kind": "List", "apiVersion": ""}"#,
                "the List has no apiVersion",
            ),
            (
                r#"{"kind": "List", "apiVersion": 1}"#,
                "apiVersion is not a string",
            ),
            (
                r#"{"kind": "List", "apiVersion": "v1", "items": {}}"#,
                "List: items is not a list",
            ),
            (
                r#"{"kind": "List", "apiVersion": "v1", "items": [{"kind": "Pod"}]}"#,
                "items[0] (line 7): the Pod has no apiVersion",
            ),
        ];
        for (doc, want) in cases {
            assert_eq!(error(doc).as_deref(), Some(want), "{doc}");
        }
    }
}

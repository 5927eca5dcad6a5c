//! Manifests: the Kubernetes objects of one document, as the CLI and the playground read
//! them. A document is one object, or a `List` of them (`kind: List`, or any `<Kind>List`
//! with `items`, whose items may leave out `kind` and `apiVersion` as the API server's list
//! responses do). Each object is then judged by [`crate::document::evaluate`].

use crate::json::view::{Object, Shape, View};
use crate::location::Location;
use serde_json::value::RawValue;
use std::borrow::Cow;
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
    pub kind: ManifestErrorKind,
}

/// What is wrong with a document or a list's item; `Display` is the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestErrorKind {
    /// A JSON array where an object should be.
    IsAList,
    /// A JSON string where an object should be.
    IsAString,
    /// A number, a boolean or null where an object should be.
    IsAScalar,
    /// An object without `kind` (or with an empty one).
    NoKind,
    /// An object of this kind without `apiVersion` (or with an empty one).
    NoApiVersion(String),
    /// A field (`kind`, `apiVersion`) that is not a string.
    NotAString(&'static str),
    /// A list of this kind whose `items` is not an array.
    ItemsNotAList(String),
    /// A list of this kind whose `items` cannot be read (serde_json's message).
    ItemsUnreadable(String, String),
    /// Not JSON the reader takes (serde_json's message).
    Json(String),
}

impl fmt::Display for ManifestErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = "not a Kubernetes object: ";
        match self {
            ManifestErrorKind::IsAList => write!(f, "{not}a list"),
            ManifestErrorKind::IsAString => write!(f, "{not}a string"),
            ManifestErrorKind::IsAScalar => write!(f, "{not}a scalar"),
            ManifestErrorKind::NoKind => write!(f, "{not}it has no kind"),
            ManifestErrorKind::NoApiVersion(kind) => write!(f, "the {kind} has no apiVersion"),
            ManifestErrorKind::NotAString(field) => write!(f, "{field} is not a string"),
            ManifestErrorKind::ItemsNotAList(kind) => write!(f, "{kind}: items is not a list"),
            ManifestErrorKind::ItemsUnreadable(kind, e) => write!(f, "{kind}: items: {e}"),
            ManifestErrorKind::Json(e) => f.write_str(e),
        }
    }
}

impl ManifestError {
    /// The message with the line of the place at fault, for an item of a list:
    /// `items[3] (line 12): the Deployment has no apiVersion`.
    pub fn with_line(&self, line: usize) -> String {
        if self.at.segments().is_empty() {
            self.kind.to_string()
        } else {
            format!("{} (line {line}): {}", self.at, self.kind)
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.segments().is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.at, self.kind)
        }
    }
}

impl std::error::Error for ManifestError {}

/// The objects of a document (JSON text): itself, or the items of a list.
pub fn manifest_objects(document: &str) -> Result<Vec<ManifestObject<'_>>, ManifestError> {
    match list_items(document)? {
        Some(items) => Ok(items),
        None => {
            let raw = read_raw(document)?;
            read_object(View::whole(raw.get()), Location::root(), None)
                .map(|object| vec![object.with_raw(raw)])
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
    let Some(top) = fields(View::whole(raw.get())) else {
        return Ok(None);
    };
    let Some(items) = list_of(&top)? else {
        return Ok(None);
    };
    items
        .into_iter()
        .map(
            |item| match serde_json::from_str::<&RawValue>(item.object.raw()) {
                Ok(raw) => Ok(item.with_raw(raw)),
                Err(e) => Err(ManifestError {
                    kind: ManifestErrorKind::Json(e.to_string()),
                    at: item.at,
                }),
            },
        )
        .collect::<Result<_, _>>()
        .map(Some)
}

/// One object of a document read in place: a [`ManifestObject`] whose text is a view of the
/// document (checked whole as JSON before).
#[derive(Debug)]
pub(crate) struct Found<'a> {
    /// Where it is in its document.
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
    pub object: View<'a>,
}

impl<'a> Found<'a> {
    /// As a [`ManifestObject`], with its text as serde_json's raw value.
    fn with_raw(self, raw: &'a RawValue) -> ManifestObject<'a> {
        ManifestObject {
            at: self.at,
            api_version: self.api_version,
            kind: self.kind,
            name: self.name,
            namespace: self.namespace,
            object: raw,
        }
    }
}

/// The items of a list, from the members of a document's root; `None` for a root that is not
/// a list.
pub(crate) fn list_of<'a>(top: &Object<'a>) -> Result<Option<Vec<Found<'a>>>, ManifestError> {
    let Some(kind) = string_field(top, "kind") else {
        return Ok(None);
    };
    let items = field(top, "items");
    let item_kind = match kind.as_str() {
        "List" => None,
        k => match k.strip_suffix("List") {
            Some(base) if !base.is_empty() && items.is_some() => Some(base),
            _ => return Ok(None),
        },
    };
    let api_version = match field(top, "apiVersion") {
        None => return Err(root(ManifestErrorKind::NoApiVersion(kind.clone()))),
        Some(v) if v.is_null() || v.raw() == "\"\"" => {
            return Err(root(ManifestErrorKind::NoApiVersion(kind.clone())));
        }
        Some(v) => string(v).ok_or_else(|| root(ManifestErrorKind::NotAString("apiVersion")))?,
    };
    let api_version = api_version.as_str();
    let items = match items {
        None => return Ok(Some(Vec::new())),
        Some(v) if v.is_null() => return Ok(Some(Vec::new())),
        Some(v) if v.shape() == Shape::Array => v.items().map_err(|e| {
            root(ManifestErrorKind::ItemsUnreadable(
                kind.clone(),
                e.to_string(),
            ))
        })?,
        Some(_) => return Err(root(ManifestErrorKind::ItemsNotAList(kind.clone()))),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = Location::root().field("items").index(i);
        let defaults = item_kind.map(|k| (api_version, k));
        match read_object(item, at.clone(), defaults) {
            Ok(object) => out.push(object),
            Err(kind) => return Err(ManifestError { at, kind }),
        }
    }
    Ok(Some(out))
}

/// An error about the document as a whole.
fn root(kind: ManifestErrorKind) -> ManifestError {
    ManifestError {
        at: Location::root(),
        kind,
    }
}

/// The document as one JSON value.
fn read_raw(document: &str) -> Result<&RawValue, ManifestError> {
    serde_json::from_str::<&RawValue>(document)
        .map_err(|e| root(ManifestErrorKind::Json(e.to_string())))
}

/// The members of a JSON object, read in place from checked text; `None` when the value is
/// not an object, or has a key that is not text (an escape serde_json refuses to decode: a
/// lone surrogate). Look a member up with [`field`]. (One copy, not inlined at each use: the
/// browser module is smaller for it.)
#[inline(never)]
pub(crate) fn fields(value: View<'_>) -> Option<Object<'_>> {
    if value.shape() != Shape::Object {
        return None;
    }
    let (members, error) = value.members();
    // A key that did not decode is given as an empty owned text (one written `""` is
    // borrowed).
    let bad_key = members
        .iter()
        .any(|(k, _)| matches!(k, Cow::Owned(k) if k.is_empty()));
    (error.is_none() && !bad_key).then_some(members)
}

/// The value of member `key`: of the last, where the object has it more than once (as a map
/// read by serde_json keeps it).
pub(crate) fn field<'a>(fields: &Object<'a>, key: &str) -> Option<View<'a>> {
    let mut found = None;
    for (k, v) in fields.iter() {
        if k == key {
            found = Some(*v);
        }
    }
    found
}

/// A field's value when it is a string.
#[inline(never)]
pub(crate) fn string_field(fields: &Object<'_>, key: &str) -> Option<String> {
    field(fields, key).and_then(string)
}

/// A value's text when it is a string (`None` where serde_json would refuse to decode it: a
/// lone surrogate).
pub(crate) fn string(value: View<'_>) -> Option<String> {
    if value.shape() != Shape::String {
        return None;
    }
    let raw = value.raw();
    match raw.get(1..raw.len().saturating_sub(1)) {
        Some(inner) if !inner.contains('\\') => Some(inner.to_owned()),
        _ => serde_json::from_str::<String>(raw).ok(),
    }
}

/// Reads one object: its kind, apiVersion (or the list's defaults) and metadata.
fn read_object<'a>(
    value: View<'a>,
    at: Location,
    defaults: Option<(&str, &str)>,
) -> Result<Found<'a>, ManifestErrorKind> {
    match value.shape() {
        Shape::Object => {}
        Shape::Array => return Err(ManifestErrorKind::IsAList),
        Shape::String => return Err(ManifestErrorKind::IsAString),
        _ => return Err(ManifestErrorKind::IsAScalar),
    }
    let Some(fields) = fields(value) else {
        // What serde_json says of it (a key it cannot decode).
        let e = serde_json::from_str::<HashMap<String, &RawValue>>(value.raw()).err();
        return Err(ManifestErrorKind::Json(
            e.map(|e| e.to_string()).unwrap_or_default(),
        ));
    };
    let text = |name: &'static str| -> Result<Option<String>, ManifestErrorKind> {
        match field(&fields, name) {
            None => Ok(None),
            Some(v) if v.is_null() => Ok(None),
            Some(v) => string(v)
                .map(Some)
                .ok_or(ManifestErrorKind::NotAString(name)),
        }
    };
    let kind = text("kind")?
        .or_else(|| defaults.map(|d| d.1.to_owned()))
        .filter(|k| !k.is_empty())
        .ok_or(ManifestErrorKind::NoKind)?;
    let api_version = text("apiVersion")?
        .or_else(|| defaults.map(|d| d.0.to_owned()))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ManifestErrorKind::NoApiVersion(kind.clone()))?;
    let meta = field(&fields, "metadata")
        .and_then(self::fields)
        .unwrap_or_default();
    let text_of = |key: &str| string_field(&meta, key);
    let namespace = text_of("namespace");
    let name = text_of("name").or_else(|| text_of("generateName"));
    Ok(Found {
        at,
        api_version,
        kind,
        name,
        namespace,
        object: value,
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
        // Callers branch on the kind, not on the text.
        let kind = |doc: &str| {
            manifest_objects(doc)
                .err()
                .map(|e| (e.at.to_string(), e.kind))
        };
        assert_eq!(
            kind("[1]"),
            Some((String::new(), ManifestErrorKind::IsAList))
        );
        assert_eq!(
            kind(r#"{"kind": "List", "apiVersion": "v1", "items": [{"kind": "Pod"}]}"#),
            Some((
                "items[0]".to_owned(),
                ManifestErrorKind::NoApiVersion("Pod".to_owned())
            ))
        );
        assert!(matches!(kind("{"), Some((_, ManifestErrorKind::Json(_)))));
    }
}

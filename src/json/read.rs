//! Reading JSON into the policy's views, with the path of what is wrong when it fails.
//!
//! serde_json's errors give a line and a column, which mean little in an object the user
//! never saw serialized (the API server writes it on one line). On failure, the path of the
//! value at the error's position (`spec.containers[0].resources`) is found by stepping over
//! the text up to there ([`super::scan`]). Hand-written rather than serde_path_to_error: that
//! crate wraps every `Deserialize` impl in a second, path-tracking copy, which made
//! policy.wasm 54 KB larger (over its size budget) for a path that is only needed on the
//! error path; the scan costs nothing on a successful read.

use super::scan;
use crate::location::{Location, Segment};
use core::fmt;
use serde::Deserialize;

/// What kind of failure a [`JsonError`] is: callers branch on it (a request that is not JSON
/// at all is said differently from one of the wrong shape).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// Not JSON at all: a syntax error, a truncated document, bytes that are not UTF-8.
    Syntax,
    /// JSON of the wrong shape for the expected type.
    Shape,
}

/// Why a JSON document could not be read as the expected type, and where. `Display` is the
/// path and the reader's message (`spec.containers[1].resources: invalid type: ...`).
#[derive(Debug)]
pub struct JsonError {
    /// The place of the offending value from the document's root (`kind`,
    /// `spec.template.spec.containers[1].resources`); the root for a syntax error.
    pub path: Location,
    /// Which failure it is.
    pub kind: JsonErrorKind,
    /// serde_json's message (with its line and column where no path says where).
    message: String,
}

impl JsonError {
    /// Not JSON at all (a syntax error, a truncated document, bytes that are not UTF-8),
    /// rather than JSON of the wrong shape.
    pub fn is_syntax(&self) -> bool {
        self.kind == JsonErrorKind::Syntax
    }

    /// The message with the path below `root` (`request.object`): `request.object.spec: ...`.
    pub fn under(&self, root: &str) -> String {
        let path = shown(&self.path);
        match (root.is_empty(), path.is_empty()) {
            (true, true) => self.message.clone(),
            (false, true) => format!("{root}: {}", self.message),
            (true, false) => format!("{path}: {}", self.message),
            (false, false) => format!("{root}.{path}: {}", self.message),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.under(""))
    }
}

impl std::error::Error for JsonError {}

/// Reads `T` from JSON bytes; on failure, says where.
///
/// The bytes are checked to be UTF-8 first: serde_json skips the strings of fields the
/// views do not read without checking them, and JSON that is not UTF-8 is not JSON
/// (RFC 8259), so it must not be accepted for a well-formed part.
pub fn from_slice<'a, T: Deserialize<'a>>(json: &'a [u8]) -> Result<T, JsonError> {
    match std::str::from_utf8(json) {
        Ok(text) => from_str(text),
        Err(e) => Err(JsonError {
            path: Location::root(),
            kind: JsonErrorKind::Syntax,
            message: format!("it is not UTF-8 (at byte {})", e.valid_up_to()),
        }),
    }
}

/// Reads `T` from JSON text; on failure, says where.
pub fn from_str<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, JsonError> {
    serde_json::from_str(json).map_err(|error| located(json, &error))
}

/// serde_json's error, with the path of where it is (not generic: one copy in the module).
fn located(json: &str, error: &serde_json::Error) -> JsonError {
    let kind = if error.is_syntax() || error.is_eof() {
        JsonErrorKind::Syntax
    } else {
        JsonErrorKind::Shape
    };
    let path = if error.is_data() {
        path_of(json.as_bytes(), error)
    } else {
        Location::root()
    };
    let mut message = error.to_string();
    if !path.to_string().is_empty() {
        // The path says where; the line and column would only repeat it, in terms of a
        // serialization the user never saw.
        let at = format!(" at line {} column {}", error.line(), error.column());
        if let Some(m) = message.strip_suffix(&at) {
            message = m.to_owned();
        }
    }
    JsonError {
        path,
        kind,
        message,
    }
}

/// The path of the value at which reading failed (the error's line and column).
fn path_of(json: &[u8], error: &serde_json::Error) -> Location {
    if error.line() == 0 {
        return Location::root();
    }
    // serde_json's column is the 1-based byte position of the last byte it read.
    let line_start = match error.line() {
        1 => 0,
        line => json
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(0, |(i, _)| i + 1),
    };
    let end = (line_start + error.column()).min(json.len());
    path_at(&json[..end])
}

/// The longest path given in a message (a 10,000-deep document has a path of 30 KB).
const MAX_PATH: usize = 200;

/// A path as messages give it: the dotted path, its last [`MAX_PATH`] bytes after `...`
/// where it is longer.
fn shown(path: &Location) -> String {
    let mut path = path.to_string();
    if path.len() > MAX_PATH {
        let mut cut = path.len() - MAX_PATH;
        while !path.is_char_boundary(cut) {
            cut += 1;
        }
        path = format!("...{}", &path[cut..]);
    }
    path
}

/// The path of the value being read at the end of `json`, a prefix of a document that
/// serde_json read up to an error: from the root, the member or item whose value has begun
/// and is not yet followed by a comma, then the one in that, and so on. (The key of a
/// member is its text as written, escapes and all.)
fn path_at(json: &[u8]) -> Location {
    let mut path = Vec::new();
    let mut at = scan::value_start(json, 0);
    while let Some((segment, inside)) = holder(json, at) {
        path.push(segment);
        match inside {
            Some(value) => at = value,
            None => break,
        }
    }
    Location::from(path)
}

/// In the object or array at `at`, which goes on to the end of `json`: the member or item
/// that holds the end, and where its value starts if the end is inside that value (`None`
/// where the value is whole, or has not begun: nothing deeper holds the end). `None` where
/// no member or item holds it (the end is in a key, before a colon, after a comma, or the
/// value at `at` is not an object or an array).
fn holder(json: &[u8], at: usize) -> Option<(Segment, Option<usize>)> {
    match json.get(at) {
        Some(b'{') => {
            let mut key = scan::value_start(json, at + 1);
            loop {
                if json.get(key) != Some(&b'"') {
                    return None;
                }
                let key_end = scan::string_end(json, key).ok()?;
                let colon = scan::value_start(json, key_end);
                if json.get(colon) != Some(&b':') {
                    return None;
                }
                let name = json.get(key + 1..key_end - 1).unwrap_or_default();
                let field = || Segment::Field(String::from_utf8_lossy(name).into_owned().into());
                // Begun or not: the member's colon is read.
                match next_after(json, scan::value_start(json, colon + 1))? {
                    Next::Holds(inside) => return Some((field(), inside)),
                    Next::After(next) => key = next,
                }
            }
        }
        Some(b'[') => {
            let mut item = scan::value_start(json, at + 1);
            let mut index = 0;
            loop {
                if item >= json.len() || json.get(item) == Some(&b']') {
                    return None;
                }
                match next_after(json, item)? {
                    Next::Holds(inside) => return Some((Segment::Index(index), inside)),
                    Next::After(next) => (item, index) = (next, index + 1),
                }
            }
        }
        _ => None,
    }
}

/// Whether the value at `value` holds the end of `json`, or else where the next member or
/// item starts (past its comma).
enum Next {
    /// The value holds the end: `Some(value)` where the end is inside it, `None` where it is
    /// whole or has not begun.
    Holds(Option<usize>),
    /// The value is followed by a comma: the next one starts here.
    After(usize),
}

fn next_after(json: &[u8], value: usize) -> Option<Next> {
    if value >= json.len() {
        return Some(Next::Holds(None));
    }
    let Ok(end) = scan::value_end(json, value) else {
        return Some(Next::Holds(Some(value)));
    };
    let after = scan::value_start(json, end);
    match json.get(after) {
        None => Some(Next::Holds(None)),
        Some(b',') => Some(Next::After(scan::value_start(json, after + 1))),
        // The object or array closes: nothing in it holds the end.
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::PodObject;

    #[test]
    fn names_the_path_of_a_value_of_the_wrong_type() {
        let json =
            r#"{"spec": {"containers": [{"name": "a"}, {"name": "b", "resources": ["cpu"]}]}}"#;
        let e = from_str::<PodObject<'_>>(json).expect_err("resources is an array");
        assert_eq!(e.path.to_string(), "spec.containers[1].resources");
        assert!(!e.is_syntax());
        assert!(
            e.under("request.object")
                .starts_with("request.object.spec.containers[1].resources: invalid type: sequence"),
            "{e}"
        );
    }

    #[test]
    fn names_the_path_inside_a_resource_list() {
        let json =
            r#"{"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "cpu": "2"}}}]}}"#;
        let e = from_str::<PodObject<'_>>(json).expect_err("cpu twice");
        assert_eq!(
            e.path.pointer(),
            "/spec/containers/0/resources/limits",
            "{e}"
        );
    }

    #[test]
    fn names_the_path_of_every_kind_of_wrong_value() {
        for (json, path) in [
            (r#"{"spec": []}"#, "spec"),
            (r#"{"spec": {"containers": "app"}}"#, "spec.containers"),
            (
                r#"{"spec": {"containers": [{"name":"a"}, "x"]}}"#,
                "spec.containers[1]",
            ),
            (
                r#"{"spec": {"containers": [{"name": 7}]}}"#,
                "spec.containers[0].name",
            ),
            (
                r#"{"spec": {"containers": [{"image": {"a": [1,2]}}]}}"#,
                "spec.containers[0].image",
            ),
            (
                r#"{"spec": {"containers": [{"resources": {}, "resources": {}}]}}"#,
                "spec.containers[0]",
            ),
            (
                r#"{"spec": {"containers": [{"resources": {"limits": 5}}]}}"#,
                "spec.containers[0].resources.limits",
            ),
            (
                r#"{"a\"b": [1, {"c": 2}], "spec":
                 {"containers":
                   [{"name": "x", "resources": {"requests": true}}]}}"#,
                "spec.containers[0].resources.requests",
            ),
        ] {
            let e = from_str::<PodObject<'_>>(json).expect_err(json);
            assert_eq!(e.path.to_string(), path, "{json}: {e}");
            assert_eq!(e.kind, JsonErrorKind::Shape);
        }
    }

    #[test]
    fn an_empty_key_is_kept_in_the_location_not_in_the_message() {
        type Maps = std::collections::HashMap<String, std::collections::HashMap<String, u8>>;
        let e = from_str::<Maps>(r#"{"": {"a": "x"}}"#).expect_err("a string for a number");
        assert_eq!(e.path.pointer(), "//a");
        assert!(e.to_string().starts_with("a: invalid type: string"), "{e}");
        let e = from_str::<Maps>(r#"{"": 1}"#).expect_err("a number for a map");
        assert_eq!(e.path.pointer(), "/");
        assert!(e.to_string().ends_with("at line 1 column 6"), "{e}");
    }

    #[test]
    fn a_deep_path_is_shortened() {
        let json = format!(r#"{{"spec": {{"containers": [{{"x": {}"#, "[".repeat(300));
        let path = shown(&path_at(json.as_bytes()));
        assert!(path.len() <= MAX_PATH + 3);
        assert!(path.starts_with("..."));
    }

    #[test]
    fn a_syntax_error_has_no_path() {
        let e = from_str::<PodObject<'_>>(r#"{"spec": {"#).expect_err("truncated");
        assert!(e.is_syntax());
        assert_eq!(e.path, Location::root());
        assert_eq!(
            e.to_string(),
            "EOF while parsing an object at line 1 column 10"
        );
    }
}

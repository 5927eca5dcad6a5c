//! Documents: a text (JSON or YAML, one document or a stream) split into the documents the
//! core judges, each with its JSON text, its first line and its tree (for the line of each
//! finding), for the CLI and the browser alike.

use crate::{parse, Document, Error, Node};
use serde_json::value::RawValue;

/// Text whose first significant character opens a JSON object or array: a JSON manifest
/// (the CLI's `fix` keeps it JSON; the playground hands it to the core as written).
pub fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// Text that is one JSON value, or looks like one ([`looks_like_json`]).
pub fn is_json(text: &str) -> bool {
    looks_like_json(text) || serde_json::from_str::<&RawValue>(text).is_ok()
}

/// How a text that is JSON is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Json {
    /// Through this reader, as YAML (JSON is YAML): a key given twice is an error, and a
    /// syntax error has its line. The CLI reads files so.
    AsYaml,
    /// As written, for the core to read itself (its own messages; JSON this reader does not
    /// take still gets a verdict); this reader's tree of it is kept, when it takes the text,
    /// for the lines. The playground reads its input so.
    AsWritten,
}

/// A document that holds something, as the core receives it.
#[derive(Debug)]
pub struct Manifest {
    /// The document as JSON text.
    pub json: String,
    /// Its first line.
    pub line: usize,
    /// Its tree, for the line of each finding; `None` only for JSON read as written that
    /// this reader does not take.
    pub tree: Option<Node>,
}

/// A [`Manifest`] whose tree stays in its [`Document`].
#[derive(Debug)]
pub struct ManifestRef<'a> {
    /// The document as JSON text.
    pub json: String,
    /// Its first line.
    pub line: usize,
    /// Its tree.
    pub tree: &'a Node,
}

impl Document {
    /// The document as the core receives it (JSON, first line, tree); `None` for an empty
    /// document (nothing, or only comments).
    pub fn manifest(&self) -> Option<ManifestRef<'_>> {
        self.root.as_ref().map(|r| ManifestRef {
            json: r.to_json(),
            line: r.line,
            tree: r,
        })
    }

    /// [`Document::manifest`], taking the tree.
    pub fn into_manifest(self) -> Option<Manifest> {
        self.root.map(|r| Manifest {
            json: r.to_json(),
            line: r.line,
            tree: Some(r),
        })
    }
}

/// The documents of a text that hold something, in order; empty documents (nothing, or
/// only comments, between two `---`) are skipped. JSON is read as `json` says.
pub fn documents(text: &str, json: Json) -> Result<Vec<Manifest>, Error> {
    if json == Json::AsWritten && is_json(text) {
        let tree = match parse(text) {
            Ok(mut d) if d.len() == 1 => d.pop().and_then(|d| d.root),
            _ => None,
        };
        return Ok(vec![Manifest {
            json: text.to_owned(),
            line: 1,
            tree,
        }]);
    }
    Ok(parse(text)?
        .into_iter()
        .filter_map(Document::into_manifest)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_skip_empty_documents() {
        let text = "# leading\n---\nkind: A\n---\n# empty\n---\n\n---\nkind: B\nx: 1\n";
        let docs = documents(text, Json::AsYaml).unwrap_or_default();
        let got: Vec<(&str, usize)> = docs.iter().map(|d| (d.json.as_str(), d.line)).collect();
        assert_eq!(got, [(r#"{"kind":"A"}"#, 3), (r#"{"kind":"B","x":1}"#, 9)]);
        assert!(docs.iter().all(|d| d.tree.is_some()));
        assert!(documents("# only\n---\n", Json::AsYaml).is_ok_and(|d| d.is_empty()));
        assert!(documents("", Json::AsWritten).is_ok_and(|d| d.is_empty()));
        assert!(documents("a: [\n", Json::AsWritten).is_err_and(|e| e.line == 2));
    }

    #[test]
    fn json_as_written_or_as_yaml() {
        // A key given twice: the YAML reader refuses it; as written, the core reads it.
        let dup = r#"{"kind": "Pod", "kind": "Pod"}"#;
        assert!(documents(dup, Json::AsYaml).is_err());
        let docs = documents(dup, Json::AsWritten).unwrap_or_default();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].json, dup);
        assert!(docs[0].tree.is_none());
        // JSON the reader takes keeps its tree, for lines.
        let pretty = "{\n  \"kind\": \"Pod\",\n  \"spec\": {}\n}\n";
        let docs = documents(pretty, Json::AsWritten).unwrap_or_default();
        assert_eq!(docs[0].json, pretty);
        assert_eq!(
            docs[0]
                .tree
                .as_ref()
                .and_then(|t| t.get("spec"))
                .map(|n| n.line),
            Some(3)
        );
        assert!(is_json(" [1]") && is_json("7") && is_json("{") && !is_json("a: 1"));
        assert!(looks_like_json("\n {\"a\": 1}") && !looks_like_json("7"));
    }
}

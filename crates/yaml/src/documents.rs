//! Documents: a text (JSON or YAML, one document or a stream) split into the documents the
//! core judges, each with its JSON text, its first line and its tree (for the line of each
//! finding), for the CLI and the browser alike.

use crate::{parse, parse_as_kubectl, Duplicate, Error, Node};
use resource_limits::location::Location;
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
    /// syntax error has its line. The CLI's `fix` reads files so (it does not rewrite a
    /// document two readers may read differently).
    AsYaml,
    /// As [`Json::AsYaml`], except that a key given twice takes its last value, as kubectl
    /// takes it without a word, and is listed in the entry's `duplicates`. The CLI's `check`
    /// reads files so: it judges what kubectl would send, and reports the key.
    AsKubectl,
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

impl Manifest {
    /// The line of the node at `at` (an object of a list: `items[3]`), or the document's
    /// first line where that is not written.
    pub fn line_of(&self, at: &Location) -> usize {
        self.tree
            .as_ref()
            .and_then(|t| t.at(at))
            .map_or(self.line, |n| n.line)
    }
}

/// One document of a text: where it is, and what it holds.
#[derive(Debug)]
pub struct Entry {
    /// Its number among the documents of the text, from 1 (empty ones counted).
    pub number: usize,
    /// The line of its start (its `---`, or its first content).
    pub line: usize,
    /// Where its text begins, in characters from the start of the text (the first document
    /// begins at 0, so comments before it belong to it); [`Entry::start_in`] in bytes.
    pub start_char: usize,
    /// What it holds; `None` for an empty document (nothing, or only comments).
    pub manifest: Option<Manifest>,
    /// Its keys written twice in one mapping (only with [`Json::AsKubectl`]).
    pub duplicates: Vec<Duplicate>,
}

impl Entry {
    /// Where its text begins in `text` (the text it was read from), in bytes.
    pub fn start_in(&self, text: &str) -> usize {
        if text.is_ascii() {
            return self.start_char.min(text.len());
        }
        text.char_indices()
            .nth(self.start_char)
            .map_or(text.len(), |(at, _)| at)
    }
}

/// Every document of a text, in order, empty ones included (nothing, or only comments,
/// between two `---`: the CLI reports them; the playground skips them). JSON is read as
/// `json` says.
pub fn documents(text: &str, json: Json) -> Result<Vec<Entry>, Error> {
    if json == Json::AsWritten && is_json(text) {
        let tree = match parse(text) {
            Ok(mut d) if d.len() == 1 => d.pop().and_then(|d| d.root),
            _ => None,
        };
        return Ok(vec![Entry {
            number: 1,
            line: 1,
            start_char: 0,
            manifest: Some(Manifest {
                json: text.to_owned(),
                line: 1,
                tree,
            }),
            duplicates: Vec::new(),
        }]);
    }
    let docs = match json {
        Json::AsKubectl => parse_as_kubectl(text)?,
        Json::AsYaml | Json::AsWritten => parse(text)?,
    };
    Ok(docs
        .into_iter()
        .enumerate()
        .map(|(i, d)| Entry {
            number: i + 1,
            line: d.line,
            start_char: d.start_char,
            manifest: d.root.map(|r| Manifest {
                json: r.to_json(),
                line: r.line,
                tree: Some(r),
            }),
            duplicates: d.duplicates,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documents that hold something, JSON as written.
    fn manifests(text: &str) -> Vec<Manifest> {
        documents(text, Json::AsWritten)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| d.manifest)
            .collect()
    }

    #[test]
    fn streams_skip_empty_documents() {
        let text = "# leading\n---\nkind: A\n---\n# empty\n---\n\n---\nkind: B\nx: 1\n";
        let all = documents(text, Json::AsYaml).unwrap_or_default();
        let numbers: Vec<(usize, usize, bool)> = all
            .iter()
            .map(|d| (d.number, d.line, d.manifest.is_some()))
            .collect();
        assert_eq!(
            numbers,
            [(1, 2, true), (2, 4, false), (3, 6, false), (4, 8, true)]
        );
        let at = all[1].start_in(text);
        assert_eq!(&text[at..at + 3], "---");
        let docs: Vec<Manifest> = all.into_iter().filter_map(|d| d.manifest).collect();
        let got: Vec<(&str, usize)> = docs.iter().map(|d| (d.json.as_str(), d.line)).collect();
        assert_eq!(got, [(r#"{"kind":"A"}"#, 3), (r#"{"kind":"B","x":1}"#, 9)]);
        assert!(docs.iter().all(|d| d.tree.is_some()));
        let only_comments = documents("# only\n---\n", Json::AsYaml).unwrap_or_default();
        assert!(only_comments.iter().all(|d| d.manifest.is_none()));
        assert!(documents("", Json::AsWritten).is_ok_and(|d| d.is_empty()));
        assert!(documents("a: [\n", Json::AsWritten).is_err_and(|e| e.line == 2));
    }

    #[test]
    fn json_as_written_or_as_yaml() {
        // A key given twice: the YAML reader refuses it; as written, the core reads it; as
        // kubectl reads it, the last value is kept and the key listed.
        let dup = r#"{"kind": "Pod", "kind": "Pod"}"#;
        assert!(documents(dup, Json::AsYaml).is_err());
        let kubectl =
            documents("kind: Pod\nspec:\n  a: 1\n  a: 2\n", Json::AsKubectl).unwrap_or_default();
        assert_eq!(kubectl.len(), 1);
        assert_eq!(
            kubectl[0].manifest.as_ref().map(|m| m.json.as_str()),
            Some(r#"{"kind":"Pod","spec":{"a":2}}"#)
        );
        let twice: Vec<(String, usize, usize, String)> = kubectl[0]
            .duplicates
            .iter()
            .map(|d| (d.key.clone(), d.first, d.line, d.at.to_string()))
            .collect();
        assert_eq!(twice, [("a".to_owned(), 3, 4, "spec.a".to_owned())]);
        let docs = manifests(dup);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].json, dup);
        assert!(docs[0].tree.is_none());
        // JSON the reader takes keeps its tree, for lines.
        let pretty = "{\n  \"kind\": \"Pod\",\n  \"spec\": {}\n}\n";
        let docs = manifests(pretty);
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

    #[test]
    fn lines_of_list_items_and_byte_offsets() {
        let text = "# é\nkind: List\napiVersion: v1\nitems:\n- kind: Pod\n---\nkind: B\n";
        let all = documents(text, Json::AsYaml).unwrap_or_default();
        let Some(list) = all[0].manifest.as_ref() else {
            panic!("a list")
        };
        assert_eq!(list.line_of(&Location::root().field("items").index(0)), 5);
        assert_eq!(list.line_of(&Location::root().field("items").index(9)), 2);
        assert_eq!(&text[all[1].start_in(text)..], "---\nkind: B\n");
    }
}

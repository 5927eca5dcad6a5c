//! YAML (and JSON, a subset of it) read into a small tree that keeps each node's line.
//!
//! Built from `saphyr-parser`'s events rather than through a serde YAML crate, because the
//! CLI needs what serde hides: the line of every container (for `file:line` output), the
//! character range of every document (for `fix`), and numbers exactly as written (a YAML
//! `cpu: 0.1` must reach the core as the JSON number `0.1`, not as the nearest f64).
//!
//! Plain scalars are resolved with the YAML 1.2 core schema (`null`, `true`, `2`, `0.5`,
//! `1e3`, `0x1f`); quoted and block scalars are strings, and so is anything tagged `!!str`.
//! Anchors and aliases are expanded (with a budget, so an alias bomb is an error, not an
//! exhausted machine), merge keys (`<<`) are applied, and a key given twice is an error.

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Nesting deeper than this is refused (the tree is walked recursively afterwards).
pub const MAX_DEPTH: usize = 200;
/// At most this many nodes may be produced by expanding aliases in one stream.
pub const ALIAS_BUDGET: usize = 1_000_000;

/// One node, with the (1-based) line where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// A number as JSON text (normalized from YAML's forms: `+1` → `1`, `.5` → `0.5`).
    Number(String),
    String(String),
    Seq(Vec<Node>),
    /// Entries in document order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value under `key`, for a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// Follows a JSON pointer (`/spec/containers/0`).
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        if pointer.is_empty() {
            return Some(self);
        }
        let mut node = self;
        for raw in pointer.strip_prefix('/')?.split('/') {
            let seg = raw.replace("~1", "/").replace("~0", "~");
            node = match &node.value {
                Value::Map(_) => node.get(&seg)?,
                Value::Seq(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The node as compact JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(1024);
        self.write_json(&mut out);
        out
    }

    pub fn write_json(&self, out: &mut String) {
        match &self.value {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => out.push_str(n),
            Value::String(s) => write_json_string(s, out),
            Value::Seq(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// The node as a `serde_json::Value` (numbers kept exactly: arbitrary_precision).
    pub fn to_value(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.to_json()).map_err(|e| format!("not representable as JSON: {e}"))
    }

    fn size(&self) -> usize {
        match &self.value {
            Value::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Map(entries) => 1 + entries.iter().map(|(_, v)| v.size()).sum::<usize>(),
            _ => 1,
        }
    }
}

/// A JSON string literal.
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    let mut rest = s;
    // Copies runs of characters that need no escape in one go.
    while let Some(at) = rest.find(|c: char| c == '"' || c == '\\' || (c as u32) < 0x20) {
        out.push_str(&rest[..at]);
        let c = rest[at..].chars().next().unwrap_or(' ');
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        rest = &rest[at + c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
}

/// One document of a stream.
#[derive(Debug)]
pub struct Document {
    /// `None`: an empty document (only comments, or nothing, between two `---`).
    pub root: Option<Node>,
    /// The line of the document's start (its `---`, or its first content).
    pub line: usize,
    /// Where the document starts, in characters from the start of the text (the first
    /// document starts at 0, so comments before it belong to it).
    pub start_char: usize,
}

/// A parse error, with the line it was found on.
#[derive(Debug, PartialEq)]
pub struct Error {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

enum Frame {
    Seq {
        line: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: usize,
        anchor: usize,
        entries: Vec<(String, Node)>,
        /// The key read, waiting for its value; `true` for a merge key (`<<`).
        key: Option<(String, bool, usize)>,
        merges: Vec<Node>,
    },
}

/// Reads every document of a YAML stream.
pub fn parse(text: &str) -> Result<Vec<Document>, Error> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut budget = ALIAS_BUDGET;
    let mut root: Option<Node> = None;
    let mut doc_start: Option<(usize, usize)> = None;
    loop {
        let (event, span): (Event<'_>, Span) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                return Err(Error {
                    line: e.marker().line(),
                    message: format!("invalid YAML: {}", e.info()),
                })
            }
        };
        let line = span.start.line();
        let err = |message: String| Error { line, message };
        let done: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                let start = if docs.is_empty() {
                    0
                } else {
                    span.start.index()
                };
                doc_start = Some((line, start));
                root = None;
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                let (line, start_char) = doc_start.take().unwrap_or((line, 0));
                docs.push(Document {
                    root: root.take().filter(|r| !r.is_null()),
                    line,
                    start_char,
                });
                None
            }
            Event::Alias(id) => {
                let node = anchors
                    .get(&id)
                    .ok_or_else(|| err("an alias to an unknown anchor".into()))?;
                let size = node.size();
                if size > budget {
                    return Err(err(format!(
                        "aliases expand to more than {ALIAS_BUDGET} nodes"
                    )));
                }
                budget -= size;
                if let Some(Frame::Map { key: None, .. }) = stack.last() {
                    return Err(err("an alias as a mapping key is not supported".into()));
                }
                Some((node.clone(), 0))
            }
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(Frame::Map { key: k @ None, .. }) = stack.last_mut() {
                    let merge = style == ScalarStyle::Plain && text == "<<" && tag.is_none();
                    *k = Some((text.into_owned(), merge, line));
                    None
                } else {
                    let value = resolve(text, style, tag.as_deref());
                    Some((Node { line, value }, anchor))
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if let Some(Frame::Map { key: None, .. }) = stack.last() {
                    return Err(err("a mapping key that is not a scalar".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(err(format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                stack.push(match event {
                    Event::SequenceStart(..) => Frame::Seq {
                        line,
                        anchor,
                        items: Vec::new(),
                    },
                    _ => Frame::Map {
                        line,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        merges: Vec::new(),
                    },
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    line,
                    anchor,
                    items,
                }) => Some((
                    Node {
                        line,
                        value: Value::Seq(items),
                    },
                    anchor,
                )),
                _ => return Err(err("unbalanced sequence".into())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    line,
                    anchor,
                    mut entries,
                    merges,
                    ..
                }) => {
                    for m in merges {
                        merge_into(&mut entries, m).map_err(err)?;
                    }
                    Some((
                        Node {
                            line,
                            value: Value::Map(entries),
                        },
                        anchor,
                    ))
                }
                _ => return Err(err("unbalanced mapping".into())),
            },
        };
        let Some((node, anchor)) = done else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                merges,
                ..
            }) => {
                let Some((k, merge, key_line)) = key.take() else {
                    return Err(err("a mapping value without a key".into()));
                };
                if merge {
                    merges.push(node);
                } else if entries.iter().any(|(seen, _)| *seen == k) {
                    return Err(Error {
                        line: key_line,
                        message: format!("duplicate key {k:?}"),
                    });
                } else {
                    entries.push((k, node));
                }
            }
        }
    }
    Ok(docs)
}

/// Applies a merge key's value: keys not already present are added.
fn merge_into(entries: &mut Vec<(String, Node)>, merged: Node) -> Result<(), String> {
    let maps = match merged.value {
        Value::Map(m) => vec![m],
        Value::Seq(items) => items
            .into_iter()
            .map(|n| match n.value {
                Value::Map(m) => Ok(m),
                _ => Err("a merge key (<<) takes a mapping or a list of mappings".to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("a merge key (<<) takes a mapping or a list of mappings".into()),
    };
    for m in maps {
        for (k, v) in m {
            if !entries.iter().any(|(seen, _)| *seen == k) {
                entries.push((k, v));
            }
        }
    }
    Ok(())
}

/// A scalar's value under the YAML 1.2 core schema.
fn resolve(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    let core_tag = tag
        .filter(|t| t.is_yaml_core_schema())
        .map(|t| t.suffix.as_str());
    if style != ScalarStyle::Plain || core_tag == Some("str") {
        return Value::String(text.into_owned());
    }
    resolve_plain(&text).unwrap_or_else(|| Value::String(text.into_owned()))
}

/// The value of a plain scalar that is not a string; `None` for a string.
pub fn resolve_plain(s: &str) -> Option<Value> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    let first = s.as_bytes().first()?;
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return u128::from_str_radix(hex, 16)
            .ok()
            .filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|n| Value::Number(n.to_string()));
    }
    if let Some(oct) = s.strip_prefix("0o") {
        return u128::from_str_radix(oct, 8)
            .ok()
            .filter(|_| oct.bytes().all(|b| matches!(b, b'0'..=b'7')))
            .map(|n| Value::Number(n.to_string()));
    }
    decimal(s).map(Value::Number)
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` as JSON number text.
fn decimal(s: &str) -> Option<String> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'-' => ("-", &s[1..]),
        b'+' => ("", &s[1..]),
        _ => ("", s),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some((&rest[at..at + 1], &rest[at + 1..]))),
        None => (rest, None),
    };
    let (int, frac) = match mantissa.find('.') {
        Some(at) => (&mantissa[..at], Some(&mantissa[at + 1..])),
        None => (mantissa, None),
    };
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if !digits(int)
        || !frac.is_none_or(digits)
        || (int.is_empty() && frac.is_none_or(str::is_empty))
    {
        return None;
    }
    let exp = match exp {
        None => None,
        Some((letter, e)) => {
            let body = e.strip_prefix(['-', '+']).unwrap_or(e);
            if body.is_empty() || !digits(body) {
                return None;
            }
            Some((letter, e))
        }
    };
    let int = int.trim_start_matches('0');
    let mut out = String::with_capacity(s.len() + 2);
    out.push_str(sign);
    out.push_str(if int.is_empty() { "0" } else { int });
    if let Some(f) = frac.filter(|f| !f.is_empty()) {
        out.push('.');
        out.push_str(f);
    }
    if let Some((letter, e)) = exp {
        out.push_str(letter);
        out.push_str(e);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let docs = parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.into_iter()
            .next()
            .and_then(|d| d.root)
            .unwrap_or(Node {
                line: 0,
                value: Value::Null,
            })
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        let n = one("a: 2\nb: 0.5\nc: .5\nd: +1\ne: 1e3\nf: 0x1f\ng: 007\nh: true\ni: ~\nj: 500m\nk: '2'\nl: !!str 3\nm: 1.\nn: yes\no: -0.25E-2\n");
        assert_eq!(
            n.to_json(),
            r#"{"a":2,"b":0.5,"c":0.5,"d":1,"e":1e3,"f":31,"g":7,"h":true,"i":null,"j":"500m","k":"2","l":"3","m":1,"n":"yes","o":-0.25E-2}"#
        );
    }

    #[test]
    fn lines_documents_and_lists() {
        let text = "# leading\n---\nkind: A\nitems:\n  - name: x\n  - name: y\n---\n# empty\n---\nkind: B\n";
        let docs = parse(text).unwrap_or_default();
        assert_eq!(docs.len(), 3);
        assert!(docs[1].root.is_none());
        let a = docs[0].root.as_ref().and_then(|r| r.pointer("/items/1"));
        assert_eq!(a.map(|n| n.line), Some(6));
        assert_eq!(docs[0].start_char, 0);
        assert_eq!(docs[2].line, 9);
        assert_eq!(&text[docs[2].start_char..docs[2].start_char + 3], "---");
    }

    #[test]
    fn anchors_merges_and_errors() {
        let n = one("base: &b {cpu: 1}\nx:\n  <<: *b\n  memory: 2\ny: *b\n");
        assert_eq!(
            n.to_json(),
            r#"{"base":{"cpu":1},"x":{"memory":2,"cpu":1},"y":{"cpu":1}}"#
        );
        assert!(parse("a: 1\na: 2\n").is_err_and(|e| e.message.contains("duplicate")));
        assert!(parse("a: [\n").is_err());
        assert!(parse("? [a]\n: 1\n").is_err());
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        assert!(parse(bomb).is_err_and(|e| e.message.contains("aliases")));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        // saphyr-parser's own limit, or ours.
        assert!(
            parse(&deep).is_err_and(
                |e| e.message.contains("recursion limit") || e.message.contains("nesting")
            )
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let n = one("a: \"x\\ty\\u0001\\\"\"\n");
        assert_eq!(n.to_json(), r#"{"a":"x\ty\u0001\""}"#);
        assert!(n.to_value().is_ok());
    }
}

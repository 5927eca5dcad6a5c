//! YAML (and JSON, a subset of it) read into a small tree that keeps each node's line: the
//! one reader of manifests and settings for the CLI and the browser host, so both read a
//! file the same way.
//!
//! Built from `saphyr-parser`'s events rather than through a serde YAML crate, because the
//! hosts need what serde hides: the line of every node (the CLI's `file:line` output, the
//! playground's link from a violation to its line), the character range of every document
//! (the CLI's `fix`), and numbers exactly as written (a YAML `cpu: 0.1` must reach the core as
//! the JSON number `0.1`, not as the nearest f64).
//!
//! Plain scalars are resolved with the YAML 1.2 core schema (`null`, `true`, `2`, `0.5`,
//! `1e3`, `0x1f`); quoted and block scalars are strings, and so is anything tagged `!!str`.
//! Anchors and aliases are expanded (with a budget, so an alias bomb is an error, not an
//! exhausted machine or a trapped wasm module), merge keys (`<<`) are applied as kubectl
//! applies them, and a key given twice is an error.

pub mod documents;
pub mod settings_source;

use resource_limits::location::{Location, Segment};
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// Nesting deeper than this is refused (the tree is walked recursively afterwards).
pub const MAX_DEPTH: usize = 200;
/// Expanding aliases may add at most this much to one stream: a node counts
/// [`NODE_WEIGHT`], plus the bytes of its scalar text and mapping keys (about the memory its
/// copy takes), so that neither many small nodes nor a few long strings get past it.
pub const ALIAS_BUDGET: usize = 16 * 1024 * 1024;
/// What one node counts against [`ALIAS_BUDGET`]: about its size in memory. A constant, not
/// `size_of::<Node>()`, so that the CLI and the browser accept the same input.
pub const NODE_WEIGHT: usize = 32;

/// One node, with its (1-based) line.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node starts; for the value of a mapping entry, the line of its key (so
    /// `resources:` followed by an indented block is on the `resources:` line).
    pub line: usize,
    /// The value.
    pub value: Value,
}

/// A YAML value, as JSON sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number as JSON text (normalized from YAML's forms: `+1` → `1`, `.5` → `0.5`).
    Number(String),
    /// A string (quoted, block, or a plain scalar that is no other type).
    String(String),
    /// A sequence.
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

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The line of the deepest node written along a location
    /// (`spec.containers[0].resources.limits.cpu`): where a finding about that place is
    /// best shown when the place itself is not written.
    pub fn line_at(&self, at: &Location) -> usize {
        self.deepest(at).0.line
    }

    /// The node at a location, if it is written.
    pub fn at(&self, at: &Location) -> Option<&Node> {
        match self.deepest(at) {
            (node, true) => Some(node),
            (_, false) => None,
        }
    }

    /// The deepest node along a location, and whether it is the whole location's.
    fn deepest(&self, at: &Location) -> (&Node, bool) {
        let mut node = self;
        for segment in at.segments() {
            let next = match (segment, &node.value) {
                (Segment::Field(name), Value::Map(_)) => node.get(name),
                (Segment::Index(i), Value::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return (node, false),
            }
        }
        (node, true)
    }

    /// The node as compact JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(1024);
        self.write_json(&mut out);
        out
    }

    /// Appends the node as compact JSON text.
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

    /// What expanding an alias to this node costs against [`ALIAS_BUDGET`].
    fn weight(&self) -> usize {
        match &self.value {
            Value::Seq(items) => items
                .iter()
                .fold(NODE_WEIGHT, |w, n| w.saturating_add(n.weight())),
            Value::Map(entries) => entries.iter().fold(NODE_WEIGHT, |w, (k, n)| {
                w.saturating_add(k.len()).saturating_add(n.weight())
            }),
            Value::Number(t) | Value::String(t) => NODE_WEIGHT + t.len(),
            Value::Null | Value::Bool(_) => NODE_WEIGHT,
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
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// The (1-based) line of the error.
    pub line: usize,
    /// What is wrong.
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
        /// The keys of `entries`, once there are more than [`SCAN_KEYS`] (a big mapping
        /// must not make the duplicate check quadratic).
        index: Option<HashSet<String>>,
    },
}

/// Up to this many keys, a mapping's duplicate check scans its entries.
const SCAN_KEYS: usize = 16;

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
                let weight = node.weight();
                if weight > budget {
                    return Err(err(format!(
                        "aliases expand to more than {} MiB",
                        ALIAS_BUDGET / (1024 * 1024)
                    )));
                }
                budget -= weight;
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
                        index: None,
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
                index,
                ..
            }) => {
                let Some((k, merge, key_line)) = key.take() else {
                    return Err(err("a mapping value without a key".into()));
                };
                let seen = match index {
                    Some(keys) => keys.contains(&k),
                    None => entries.iter().any(|(seen, _)| *seen == k),
                };
                if merge {
                    merges.push(node);
                } else if seen {
                    return Err(Error {
                        line: key_line,
                        message: format!("duplicate key {k:?}"),
                    });
                } else {
                    match index {
                        Some(keys) => {
                            keys.insert(k.clone());
                        }
                        None if entries.len() >= SCAN_KEYS => {
                            let mut keys: HashSet<String> =
                                entries.iter().map(|(k, _)| k.clone()).collect();
                            keys.insert(k.clone());
                            *index = Some(keys);
                        }
                        None => {}
                    }
                    entries.push((
                        k,
                        Node {
                            line: key_line,
                            ..node
                        },
                    ));
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
    let mut have: HashSet<String> = entries.iter().map(|(k, _)| k.clone()).collect();
    for m in maps {
        for (k, v) in m {
            if have.insert(k.clone()) {
                entries.push((k, v));
            }
        }
    }
    Ok(())
}

/// A scalar's value under the YAML 1.2 core schema.
fn resolve(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    let core_tag = tag
        .filter(|t| t.is_yaml_core_schema() || t.handle == "!!")
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

    /// A location written as a dotted path without dotted keys (`spec.containers[0]`).
    fn loc(path: &str) -> Location {
        let mut at = Location::root();
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (name, indexes) = part.split_at(part.find('[').unwrap_or(part.len()));
            if !name.is_empty() {
                at = at.field(name.to_owned());
            }
            for i in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
                at = at.index(i.parse().unwrap_or(usize::MAX));
            }
        }
        at
    }

    /// The node at a dotted path, if it is written.
    fn at_path<'a>(n: &'a Node, path: &str) -> Option<&'a Node> {
        n.at(&loc(path))
    }

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
        let a = docs[0].root.as_ref().and_then(|r| r.at(&loc("items[1]")));
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
        // "Billion laughs": ten times more at each level.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                vec![format!("*a{p}"); 10].join(", ")
            ));
        }
        assert!(
            parse(&bomb).is_err_and(|e| e.message.contains("aliases expand to more than 16 MiB"))
        );
        // Few nodes, but long strings: the budget counts their bytes.
        let long = format!(
            "s: &s {}\nl: &l [{}]\nm: [{}]\n",
            "x".repeat(1 << 20),
            ["*s"; 10].join(", "),
            ["*l"; 10].join(", ")
        );
        assert!(parse(&long).is_err_and(|e| e.message.contains("aliases")));
        // Within the budget, an alias is its anchor's value: 100,000 expanded nodes pass,
        // 1,000,000 (about 32 MiB as counted) do not.
        let upto = |level: &str| &bomb[..bomb.find(level).unwrap_or(0)];
        assert!(parse(upto("a5:")).is_ok());
        assert!(parse(upto("a6:")).is_err_and(|e| e.message.contains("aliases")));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        // saphyr-parser's own limit, or ours.
        assert!(
            parse(&deep).is_err_and(
                |e| e.message.contains("recursion limit") || e.message.contains("nesting")
            )
        );
    }

    #[test]
    fn numbers_keep_their_digits() {
        let number = |s: &str| match resolve_plain(s) {
            Some(Value::Number(n)) => Some(n),
            _ => None,
        };
        assert_eq!(number("0.1").as_deref(), Some("0.1"));
        assert_eq!(number("+.5").as_deref(), Some("0.5"));
        assert_eq!(number("-007").as_deref(), Some("-7"));
        assert_eq!(number("1e3").as_deref(), Some("1e3"));
        assert_eq!(number("1.").as_deref(), Some("1"));
        assert_eq!(number("0x1F").as_deref(), Some("31"));
        assert_eq!(number("0o17").as_deref(), Some("15"));
        let long = "123456789012345678901234567890.000000000000000000001";
        assert_eq!(number(long).as_deref(), Some(long));
        for s in [
            "", ".", "-", "e3", "1e", "500m", "1Gi", ".inf", ".nan", "0x", "0xg", "1.2.3", "-0x1",
        ] {
            assert_eq!(number(s), None, "{s}");
        }
    }

    #[test]
    fn block_yaml_becomes_json() {
        let n = one("a: 1\nb: [x, 'y', \"2\", 0.5, ~, true]\nc:\n  d: |\n    text\n");
        assert_eq!(
            n.to_json(),
            r#"{"a":1,"b":["x","y","2",0.5,null,true],"c":{"d":"text\n"}}"#
        );
    }

    #[test]
    fn a_mapping_value_is_on_its_key_line() {
        let text = "kind: Pod\nspec:\n  containers:\n  - name: a\n    resources:\n      limits:\n        nvidia.com/gpu: 2\n";
        let n = one(text);
        let line = |path: &str| at_path(&n, path).map(|x| x.line);
        assert_eq!(line("kind"), Some(1));
        assert_eq!(line("spec"), Some(2));
        assert_eq!(line("spec.containers"), Some(3));
        assert_eq!(line("spec.containers[0]"), Some(4));
        assert_eq!(line("spec.containers[0].resources"), Some(5));
        assert_eq!(line("spec.containers[0].resources.limits"), Some(6));
        assert_eq!(line("spec.containers[1]"), None);
        assert_eq!(line("spec.containers.x"), None);
        let gpu = at_path(&n, "spec.containers[0].resources.limits")
            .and_then(|l| l.get("nvidia.com/gpu"));
        assert_eq!(gpu.map(|g| g.line), Some(7));
        assert_eq!(at_path(&n, ""), Some(&n));
        // The deepest node written along a path and keys.
        let along = |path: &str, keys: &[&str]| {
            let at = keys
                .iter()
                .fold(loc(path), |at, k| at.field((*k).to_owned()));
            n.line_at(&at)
        };
        assert_eq!(
            along(
                "spec.containers[0].resources",
                &["limits", "nvidia.com/gpu"]
            ),
            7
        );
        assert_eq!(along("spec.containers[0].resources", &["limits", "cpu"]), 6);
        assert_eq!(
            along("spec.containers[0].resources", &["requests", "cpu"]),
            5
        );
        assert_eq!(along("spec.containers[0].x.y", &["limits"]), 4);
        assert_eq!(along("spec.containers[3]", &[]), 3);
        assert_eq!(along("status", &[]), n.line);
        // A merged entry keeps the line where it was written.
        let m = one("base: &b\n  cpu: 1\nx:\n  <<: *b\n  memory: 2\n");
        assert_eq!(at_path(&m, "x.cpu").map(|c| c.line), Some(2));
        assert_eq!(at_path(&m, "x.memory").map(|c| c.line), Some(5));
    }

    #[test]
    fn merge_keys_follow_yaml_1_1() {
        // Explicit keys win over merged ones; the first of several merged maps wins.
        let n = one("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  x: 3\n");
        assert_eq!(
            n.get("c").map(Node::to_json).as_deref(),
            Some(r#"{"x":3,"y":1,"z":2}"#)
        );
        assert!(parse("a: 1\nb:\n  <<: 2\n").is_err_and(|e| e.message.contains("merge key")));
        // A quoted << is a plain key.
        assert_eq!(one("'<<': 1\n").to_json(), r#"{"<<":1}"#);
    }

    #[test]
    fn a_big_mapping_still_finds_its_duplicate() {
        let mut text: String = (0..50_000).map(|i| format!("k{i}: {i}\n")).collect();
        assert!(parse(&text).is_ok_and(|d| d.len() == 1));
        text.push_str("k49999: again\n");
        let e = parse(&text).err();
        assert_eq!(
            e.map(|e| (e.line, e.message)),
            Some((50_001, "duplicate key \"k49999\"".to_owned()))
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let n = one("a: \"x\\ty\\u0001\\\"\"\n");
        assert_eq!(n.to_json(), r#"{"a":"x\ty\u0001\""}"#);
        assert!(n.to_value().is_ok());
    }
}

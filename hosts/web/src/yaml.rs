//! YAML (and JSON, which is YAML) to JSON text, one document at a time, with the line of
//! every node so that a violation can point at its line in the editor.
//!
//! Built on `saphyr-parser`'s event stream rather than a serde deserializer, for two reasons:
//! numbers are written into the JSON as the digits the user typed (a quantity `0.1` stays
//! exactly `0.1`, never an `f64`), and each event carries its position.
//!
//! Scalars are resolved with the YAML 1.2 core schema: `null`/`~`/empty, `true`/`false`,
//! integers (decimal, `0o` octal, `0x` hex) and decimal floats; everything else, and every
//! quoted or block scalar, is a string. Mapping keys are always strings, as Kubernetes makes
//! them. Aliases are expanded, within a budget (a "billion laughs" document is an error, not
//! an out-of-memory trap). Merge keys (`<<`, a YAML 1.1 feature) are refused with a clear
//! error rather than read as a plain key, which would silently change the verdict.

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};
use std::collections::HashMap;

/// The largest JSON text a YAML stream may expand to, aliases included.
pub const MAX_JSON: usize = 16 * 1024 * 1024;

/// Nodes deeper than this get no line (violation paths are never that deep).
const LINE_DEPTH: usize = 24;

/// One document of the stream.
#[derive(Debug)]
pub struct Document {
    /// The document as JSON text.
    pub json: String,
    /// The line (1-based) where the document's content starts.
    pub line: usize,
    /// The line of each node, by dotted path (`spec.containers[0].resources`).
    pub lines: HashMap<String, usize>,
}

/// A YAML error and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.message, self.line, self.column
        )
    }
}

impl YamlError {
    fn at(span: &Span, message: impl Into<String>) -> YamlError {
        YamlError {
            message: message.into(),
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

impl From<ScanError> for YamlError {
    fn from(e: ScanError) -> YamlError {
        YamlError {
            message: e.info().to_owned(),
            line: e.marker().line(),
            column: e.marker().col() + 1,
        }
    }
}

enum Frame {
    /// A mapping; `key` is the pending key once read.
    Mapping {
        start: usize,
        anchor: usize,
        key: Option<String>,
        entries: usize,
    },
    Sequence {
        start: usize,
        anchor: usize,
        index: usize,
    },
}

/// Reads every document of a YAML (or JSON) stream. Empty documents are skipped.
pub fn documents(text: &str) -> Result<Vec<Document>, YamlError> {
    let mut docs = Vec::new();
    let mut parser = Parser::new_from_str(text);
    let mut anchors: HashMap<usize, String> = HashMap::new();
    let mut total = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                anchors.clear();
                let mut reader = DocReader {
                    out: String::new(),
                    stack: Vec::new(),
                    path: Vec::new(),
                    lines: HashMap::new(),
                    first_line: None,
                    anchors: &mut anchors,
                };
                let empty = reader.read(&mut parser, &mut total)?;
                if !empty {
                    docs.push(Document {
                        line: reader.first_line.unwrap_or(span.start.line()),
                        json: reader.out,
                        lines: reader.lines,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(docs)
}

struct DocReader<'a> {
    out: String,
    stack: Vec<Frame>,
    /// Path segments of the node being read: `.key` or `[i]`.
    path: Vec<String>,
    lines: HashMap<String, usize>,
    first_line: Option<usize>,
    anchors: &'a mut HashMap<usize, String>,
}

impl DocReader<'_> {
    /// Reads one document up to its end; `Ok(true)` if it had no content.
    fn read(
        &mut self,
        parser: &mut Parser<'_, saphyr_parser::StrInput<'_>>,
        total: &mut usize,
    ) -> Result<bool, YamlError> {
        let mut content = false;
        loop {
            let Some(next) = parser.next_event() else {
                return Err(YamlError {
                    message: "unexpected end of the YAML stream".into(),
                    line: 0,
                    column: 0,
                });
            };
            let (event, span) = next?;
            let before = self.out.len();
            match event {
                Event::DocumentEnd => {
                    if !self.stack.is_empty() {
                        return Err(YamlError::at(&span, "a document ended inside a node"));
                    }
                    return Ok(!content);
                }
                Event::StreamEnd | Event::StreamStart | Event::DocumentStart(_) => {
                    return Err(YamlError::at(&span, "unexpected YAML event"));
                }
                Event::Nothing => {}
                Event::Alias(id) => {
                    content = true;
                    let Some(text) = self.anchors.get(&id).cloned() else {
                        return Err(YamlError::at(&span, "an alias to an unknown anchor"));
                    };
                    if self.key_expected() {
                        let Ok(serde_json::Value::String(_)) =
                            serde_json::from_str::<serde_json::Value>(&text)
                        else {
                            return Err(YamlError::at(
                                &span,
                                "a mapping key must be a scalar, not an alias to a collection",
                            ));
                        };
                        self.key(&span, text)?;
                    } else {
                        self.begin_value(&span);
                        self.out.push_str(&text);
                        self.end_value();
                    }
                }
                Event::Scalar(value, style, anchor, tag) => {
                    content = true;
                    if self.key_expected() {
                        if style == ScalarStyle::Plain && value == "<<" {
                            return Err(YamlError::at(
                                &span,
                                "YAML merge keys (<<) are not supported: write the keys out",
                            ));
                        }
                        let key = json_string(&value);
                        if anchor > 0 {
                            self.anchors.insert(anchor, key.clone());
                        }
                        self.key(&span, key)?;
                    } else {
                        self.begin_value(&span);
                        let start = self.out.len();
                        scalar(&mut self.out, &value, style, tag.as_deref());
                        if anchor > 0 {
                            self.anchors.insert(anchor, self.out[start..].to_owned());
                        }
                        self.end_value();
                    }
                }
                Event::SequenceStart(anchor, _) => {
                    content = true;
                    if self.key_expected() {
                        return Err(YamlError::at(&span, "a mapping key must be a scalar"));
                    }
                    self.begin_value(&span);
                    self.stack.push(Frame::Sequence {
                        start: self.out.len(),
                        anchor,
                        index: 0,
                    });
                    self.out.push('[');
                }
                Event::MappingStart(anchor, _) => {
                    content = true;
                    if self.key_expected() {
                        return Err(YamlError::at(&span, "a mapping key must be a scalar"));
                    }
                    self.begin_value(&span);
                    self.stack.push(Frame::Mapping {
                        start: self.out.len(),
                        anchor,
                        key: None,
                        entries: 0,
                    });
                    self.out.push('{');
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (start, anchor) = match self.stack.pop() {
                        Some(Frame::Sequence { start, anchor, .. }) => {
                            self.out.push(']');
                            (start, anchor)
                        }
                        Some(Frame::Mapping { start, anchor, .. }) => {
                            self.out.push('}');
                            (start, anchor)
                        }
                        None => return Err(YamlError::at(&span, "unbalanced YAML collection")),
                    };
                    if anchor > 0 {
                        self.anchors.insert(anchor, self.out[start..].to_owned());
                    }
                    self.end_value();
                }
            }
            *total = total.saturating_add(self.out.len().saturating_sub(before));
            if *total > MAX_JSON {
                return Err(YamlError::at(
                    &span,
                    format!(
                        "the YAML expands to more than {} MiB of JSON (aliases?)",
                        MAX_JSON / (1024 * 1024)
                    ),
                ));
            }
        }
    }

    fn key_expected(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. }))
    }

    /// A mapping key (as JSON string text) was read.
    fn key(&mut self, span: &Span, key: String) -> Result<(), YamlError> {
        let Some(Frame::Mapping {
            key: slot, entries, ..
        }) = self.stack.last_mut()
        else {
            return Ok(());
        };
        if *entries > 0 {
            self.out.push(',');
        }
        *entries += 1;
        self.out.push_str(&key);
        self.out.push(':');
        let name: String = serde_json::from_str(&key).unwrap_or_default();
        *slot = Some(key);
        self.path.push(format!(".{name}"));
        self.record(span);
        Ok(())
    }

    /// A value starts: a sequence item gets its comma and its path segment.
    fn begin_value(&mut self, span: &Span) {
        if self.first_line.is_none() {
            self.first_line = Some(span.start.line());
        }
        if let Some(Frame::Sequence { index, .. }) = self.stack.last() {
            let i = *index;
            if i > 0 {
                self.out.push(',');
            }
            self.path.push(format!("[{i}]"));
            self.record(span);
        }
    }

    /// A value ended: leave its path segment, move its parent on.
    fn end_value(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Sequence { index, .. }) => {
                *index += 1;
                self.path.pop();
            }
            Some(Frame::Mapping { key, .. }) => {
                *key = None;
                self.path.pop();
            }
            None => {}
        }
    }

    fn record(&mut self, span: &Span) {
        if self.path.len() > LINE_DEPTH {
            return;
        }
        let mut p = String::new();
        for seg in &self.path {
            p.push_str(seg);
        }
        let p = p.strip_prefix('.').map(str::to_owned).unwrap_or(p);
        self.lines.entry(p).or_insert(span.start.line());
    }
}

/// A string as JSON text.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Writes a scalar as JSON, resolved with the YAML 1.2 core schema.
fn scalar(out: &mut String, value: &str, style: ScalarStyle, tag: Option<&Tag>) {
    let core_tag = tag
        .filter(|t| t.is_yaml_core_schema() || t.handle == "!!")
        .map(|t| t.suffix.as_str());
    if style != ScalarStyle::Plain || core_tag == Some("str") {
        out.push_str(&json_string(value));
        return;
    }
    match value {
        "" | "~" | "null" | "Null" | "NULL" => out.push_str("null"),
        "true" | "True" | "TRUE" => out.push_str("true"),
        "false" | "False" | "FALSE" => out.push_str("false"),
        _ => match number(value) {
            Some(n) => out.push_str(&n),
            None => out.push_str(&json_string(value)),
        },
    }
}

/// A plain scalar that the core schema reads as a number, as JSON number text with the same
/// exact value; `None` if it is not one (or not representable: `.inf`, `.nan`).
fn number(s: &str) -> Option<String> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let sign = if neg { "-" } else { "" };
    if !neg && s.len() > 2 {
        if let Some(hex) = s.strip_prefix("0x") {
            return u128::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(|n| n.to_string());
        }
        if let Some(oct) = s.strip_prefix("0o") {
            return u128::from_str_radix(oct, 8)
                .ok()
                .filter(|_| oct.bytes().all(|b| (b'0'..=b'7').contains(&b)))
                .map(|n| n.to_string());
        }
    }
    // [0-9]*(\.[0-9]*)?([eE][-+]?[0-9]+)? with at least one digit before the exponent.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !frac.is_none_or(digits) || int.len() + frac.map_or(0, str::len) == 0 {
        return None;
    }
    if frac.is_none() && exponent.is_none() && int.is_empty() {
        return None;
    }
    let exp = match exponent {
        None => String::new(),
        Some(e) => {
            let d = e.strip_prefix(['-', '+']).unwrap_or(e);
            if d.is_empty() || !digits(d) {
                return None;
            }
            format!("e{e}")
        }
    };
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = match frac {
        Some(f) if !f.is_empty() => format!(".{f}"),
        _ => String::new(),
    };
    Some(format!("{sign}{int}{frac}{exp}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> String {
        let docs = documents(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(docs.len(), 1, "{text}");
        docs.into_iter().next().map(|d| d.json).unwrap_or_default()
    }

    #[test]
    fn numbers_keep_their_digits() {
        assert_eq!(number("0.1"), Some("0.1".into()));
        assert_eq!(number("+.5"), Some("0.5".into()));
        assert_eq!(number("-007"), Some("-7".into()));
        assert_eq!(number("1e3"), Some("1e3".into()));
        assert_eq!(number("1."), Some("1".into()));
        assert_eq!(number("0x1F"), Some("31".into()));
        assert_eq!(number("0o17"), Some("15".into()));
        assert_eq!(
            number("123456789012345678901234567890.000000000000000000001"),
            Some("123456789012345678901234567890.000000000000000000001".into())
        );
        for s in [
            "", ".", "-", "e3", "1e", "500m", "1Gi", ".inf", ".nan", "0x", "0xg", "1.2.3",
        ] {
            assert_eq!(number(s), None, "{s}");
        }
    }

    #[test]
    fn block_yaml_becomes_json() {
        let json = one("a: 1\nb: [x, 'y', \"2\", 0.5, ~, true]\nc:\n  d: |\n    text\n");
        assert_eq!(
            json,
            r#"{"a":1,"b":["x","y","2",0.5,null,true],"c":{"d":"text\n"}}"#
        );
    }

    #[test]
    fn lines_of_nodes() {
        let docs = documents("---\nkind: Pod\nspec:\n  containers:\n  - name: a\n    resources:\n      limits:\n        cpu: 2\n---\nkind: Pod\n").unwrap_or_default();
        assert_eq!(docs.len(), 2);
        let l = &docs[0].lines;
        assert_eq!(l.get("kind"), Some(&2));
        assert_eq!(l.get("spec.containers[0]"), Some(&5));
        assert_eq!(l.get("spec.containers[0].resources.limits.cpu"), Some(&8));
        assert_eq!(docs[1].line, 10);
    }

    #[test]
    fn aliases_expand_within_a_budget() {
        assert_eq!(one("a: &x {b: 1}\nc: *x\n"), r#"{"a":{"b":1},"c":{"b":1}}"#);
        let mut lol = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            lol.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = documents(&lol).err().map(|e| e.message).unwrap_or_default();
        assert!(e.contains("MiB of JSON"), "{e}");
    }

    #[test]
    fn errors_have_a_position() {
        let e = documents("a: [1, 2\nb: 3\n").err();
        assert!(e.as_ref().is_some_and(|e| e.line >= 1), "{e:?}");
        assert!(documents("? [a]\n: 1\n").is_err());
        let merge = documents("a: &a {x: 1}\nb:\n  <<: *a\n  y: 2\n").err();
        assert_eq!(
            merge.map(|e| (e.line, e.message.contains("merge keys"))),
            Some((3, true))
        );
        assert!(documents("'<<': 1\n").is_ok(), "a quoted << is a plain key");
    }
}

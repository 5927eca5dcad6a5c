//! From saphyr-parser's events to the tree: documents, anchors and aliases (with a budget),
//! merge keys, duplicate keys and the nesting limit.

use crate::scalars::{resolve, resolve_key, Numbers};
use crate::{Document, Duplicate, Error, ErrorKind, Node, Value};
use resource_limits::location::Location;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// Nesting deeper than this is refused (the tree is walked recursively afterwards).
pub const MAX_DEPTH: usize = 200;
/// Expanding aliases may add at most this much to one stream: a node counts
/// [`NODE_WEIGHT`], plus the bytes of its scalar text and mapping keys (about the memory its
/// copy takes), so that neither many small nodes nor a few long strings get past it.
pub const ALIAS_BUDGET: usize = 16 * 1024 * 1024;
/// What one node counts against [`ALIAS_BUDGET`]: about its size in memory. A constant, not
/// `size_of::<Node>()`, so that the CLI and the browser accept the same input.
pub const NODE_WEIGHT: usize = 32;

impl Node {
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

enum Frame {
    Seq {
        line: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: usize,
        anchor: usize,
        map: Entries,
        /// The key read, waiting for its value; `true` for a merge key (`<<`).
        key: Option<(String, bool, usize)>,
    },
}

/// A mapping's entries as go-yaml v2 fills an `interface{}` map: in document order, a merge
/// key (`<<`) sets each key of its mapping(s) where it stands, and a later key sets it again.
/// A key written twice (as its JSON name) takes its last value, as kubectl's; the reader
/// refuses it or records it ([`Duplicates`]).
#[derive(Default)]
struct Entries {
    entries: Vec<(String, Node)>,
    /// Per entry, whether its key is written in this mapping (not only merged into it).
    written: Vec<bool>,
    /// The position of each key, once there are more than [`SCAN_KEYS`] (a big mapping must
    /// not make the lookups quadratic).
    index: Option<HashMap<String, usize>>,
}

impl Entries {
    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    /// Sets a key. A key written a second time takes the new value, and comes back with the
    /// line of the first.
    fn set(&mut self, key: String, node: Node, written: bool) -> Option<(String, usize)> {
        if let Some(at) = self.position(&key) {
            let again = (written && self.written[at]).then(|| self.entries[at].1.line);
            self.entries[at].1 = node;
            self.written[at] |= written;
            return again.map(|first| (key, first));
        }
        match &mut self.index {
            Some(index) => {
                index.insert(key.clone(), self.entries.len());
            }
            None if self.entries.len() >= SCAN_KEYS => {
                let mut index: HashMap<String, usize> = self
                    .entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect();
                index.insert(key.clone(), self.entries.len());
                self.index = Some(index);
            }
            None => {}
        }
        self.entries.push((key, node));
        self.written.push(written);
        None
    }

    /// A merge key's value: its mapping's keys, or those of a list of mappings with the
    /// first that has a key giving it.
    fn merge(&mut self, merged: Node) -> Result<(), ErrorKind> {
        let maps = match merged.value {
            Value::Map(m) => vec![m],
            Value::Seq(items) => items
                .into_iter()
                .rev()
                .map(|n| match n.value {
                    Value::Map(m) => Ok(m),
                    _ => Err(ErrorKind::MergeNotAMapping),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(ErrorKind::MergeNotAMapping),
        };
        for m in maps {
            for (k, v) in m {
                // Never a duplicate: a merged key is not written here.
                let _ = self.set(k, v, false);
            }
        }
        Ok(())
    }
}

/// Where the innermost mapping being read (the last frame) is in its document: the key or
/// index each outer frame is reading.
fn mapping_at(stack: &[Frame]) -> Location {
    let outer = stack.len().saturating_sub(1);
    stack[..outer]
        .iter()
        .fold(Location::root(), |at, frame| match frame {
            Frame::Seq { items, .. } => at.index(items.len()),
            Frame::Map { key, .. } => match key {
                Some((k, _, _)) => at.field(k.clone()),
                None => at,
            },
        })
}

/// Up to this many keys, a mapping's lookups scan its entries.
const SCAN_KEYS: usize = 16;

/// The first `.inf`, `-.inf` or `.nan` left in a tree: its line and text. (Every other
/// number's text starts with a digit or `-` and a digit.)
fn first_not_finite(node: &Node) -> Option<(usize, String)> {
    match &node.value {
        Value::Number(t) if t.contains(['i', 'I', 'n', 'N']) => Some((node.line, t.clone())),
        Value::Seq(items) => items.iter().find_map(first_not_finite),
        Value::Map(entries) => entries.iter().find_map(|(_, n)| first_not_finite(n)),
        _ => None,
    }
}

/// kubectl splits a YAML stream into documents at the lines that start with `---`, and
/// refuses such a line with anything but a comment after it (`--- {a: 1}`, `---x`), which
/// YAML itself would take.
fn separators(text: &str) -> Result<(), Error> {
    for (i, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("---") {
            let rest = rest.trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                return Err(Error {
                    line: i + 1,
                    kind: ErrorKind::Separator(rest.to_owned()),
                });
            }
        }
    }
    Ok(())
}

/// How a text's numbers are read: a text that kubectl reads as JSON (its first non-blank
/// character a `{`, and JSON it is) is sent as written, digits and all.
fn numbers_of(text: &str) -> Numbers {
    let json = text.trim_start().starts_with('{')
        && serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok();
    if json {
        Numbers::AsWritten
    } else {
        Numbers::Yaml
    }
}

/// What a key written twice in one mapping is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Duplicates {
    /// An error ([`ErrorKind::DuplicateKey`]): settings, and where a file is changed.
    Refuse,
    /// Its last value, as kubectl keeps it, and recorded in [`Document::duplicates`].
    KeepLast,
}

/// Reads every document of a YAML stream, or of a stream of JSON values (kubectl reads
/// `{...}{...}` as two documents). A key written twice in one mapping is an error.
pub fn parse(text: &str) -> Result<Vec<Document>, Error> {
    parse_with(text, Duplicates::Refuse)
}

/// Reads every document as [`parse`] does, except that a key written twice in one mapping
/// takes its last value, as kubectl silently takes it, and is listed in its document's
/// `duplicates`, for the host to report.
pub fn parse_as_kubectl(text: &str) -> Result<Vec<Document>, Error> {
    parse_with(text, Duplicates::KeepLast)
}

fn parse_with(text: &str, duplicates: Duplicates) -> Result<Vec<Document>, Error> {
    let numbers = numbers_of(text);
    if numbers == Numbers::Yaml {
        if let Some(docs) = json_stream(text, duplicates)? {
            return Ok(docs);
        }
        separators(text)?;
    }
    read(text, numbers, duplicates)
}

/// Several JSON values one after the other, each a document (as kubectl's JSON decoder reads
/// them); `None` for any other text.
fn json_stream(text: &str, duplicates: Duplicates) -> Result<Option<Vec<Document>>, Error> {
    if !text.trim_start().starts_with('{') {
        return Ok(None);
    }
    let mut values =
        serde_json::Deserializer::from_str(text).into_iter::<&serde_json::value::RawValue>();
    let mut spans = Vec::new();
    let mut end = 0;
    while let Some(value) = values.next() {
        if value.is_err() {
            return Ok(None);
        }
        let start = end + (text[end..].len() - text[end..].trim_start().len());
        end = values.byte_offset();
        spans.push((start, end));
    }
    if spans.len() < 2 {
        return Ok(None);
    }
    let mut docs = Vec::with_capacity(spans.len());
    for (i, (start, end)) in spans.into_iter().enumerate() {
        // Read on its own lines: as many line breaks before it as in the text.
        let before = &text[..start];
        let mut piece = "\n".repeat(before.matches('\n').count());
        piece.push_str(&text[start..end]);
        for mut doc in read(&piece, Numbers::AsWritten, duplicates)? {
            doc.start_char = if i == 0 { 0 } else { before.chars().count() };
            docs.push(doc);
        }
    }
    Ok(Some(docs))
}

/// Reads every document of a YAML stream.
fn read(text: &str, numbers: Numbers, duplicates: Duplicates) -> Result<Vec<Document>, Error> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut budget = ALIAS_BUDGET;
    let mut root: Option<Node> = None;
    // The keys written twice in the document being read (with `Duplicates::KeepLast`).
    let mut twice: Vec<Duplicate> = Vec::new();
    let mut doc_start: Option<(usize, usize)> = None;
    // Whether the document holds a float JSON cannot hold (as its text, in a `Number`).
    let mut not_finite = false;
    // Whether a document has started, and whether kubectl ignores the one read.
    let (mut started, mut ignored) = (false, false);
    loop {
        let (event, span): (Event<'_>, Span) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                return Err(Error {
                    line: e.marker().line(),
                    kind: ErrorKind::Syntax(e.info().to_owned()),
                })
            }
        };
        let line = span.start.line();
        let err = |kind: ErrorKind| Error { line, kind };
        let done: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(explicit) => {
                let start = if docs.is_empty() {
                    0
                } else {
                    span.start.index()
                };
                // A document that starts with no `---` after another one (after its `...`)
                // is, for kubectl, the rest of that one's text, which it does not read.
                ignored = !explicit && started;
                started = true;
                doc_start = Some((line, start));
                root = None;
                twice.clear();
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                let (line, start_char) = doc_start.take().unwrap_or((line, 0));
                if not_finite {
                    not_finite = false;
                    if let Some((at, text)) = root.as_ref().and_then(first_not_finite) {
                        return Err(Error {
                            line: at,
                            kind: ErrorKind::NotFinite(text),
                        });
                    }
                }
                let root = root.take().filter(|r| !r.is_null());
                let duplicates = std::mem::take(&mut twice);
                if !ignored {
                    docs.push(Document {
                        root,
                        line,
                        start_char,
                        duplicates,
                    });
                }
                None
            }
            Event::Alias(id) => {
                let node = anchors
                    .get(&id)
                    .ok_or_else(|| err(ErrorKind::UnknownAnchor))?;
                let weight = node.weight();
                if weight > budget {
                    return Err(err(ErrorKind::AliasBudget));
                }
                budget -= weight;
                if let Some(Frame::Map { key: None, .. }) = stack.last() {
                    return Err(err(ErrorKind::AliasKey));
                }
                Some((node.clone(), 0))
            }
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(Frame::Map { key: k @ None, .. }) = stack.last_mut() {
                    let merge = style == ScalarStyle::Plain && text == "<<" && tag.is_none();
                    let name = resolve_key(text, style, tag.as_deref()).map_err(err)?;
                    *k = Some((name, merge, line));
                    None
                } else {
                    // A float JSON cannot hold refuses the document only if it is still in it
                    // at the end (a merge may set its key again), as kubectl refuses it only
                    // when writing the JSON.
                    let value = match resolve(text, style, tag.as_deref(), numbers) {
                        Err(ErrorKind::NotFinite(text)) => {
                            not_finite = true;
                            Value::Number(text)
                        }
                        v => v.map_err(err)?,
                    };
                    Some((Node { line, value }, anchor))
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if let Some(Frame::Map { key: None, .. }) = stack.last() {
                    return Err(err(ErrorKind::KeyNotAScalar));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(err(ErrorKind::TooDeep));
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
                        map: Entries::default(),
                        key: None,
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
                _ => return Err(err(ErrorKind::UnbalancedSequence)),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    line, anchor, map, ..
                }) => Some((
                    Node {
                        line,
                        value: Value::Map(map.entries),
                    },
                    anchor,
                )),
                _ => return Err(err(ErrorKind::UnbalancedMapping)),
            },
        };
        let Some((node, anchor)) = done else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        let again = match stack.last_mut() {
            None => {
                root = Some(node);
                None
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                None
            }
            Some(Frame::Map { map, key, .. }) => {
                let Some((k, merge, key_line)) = key.take() else {
                    return Err(err(ErrorKind::ValueWithoutKey));
                };
                if merge {
                    map.merge(node).map_err(err)?;
                    None
                } else {
                    let node = Node {
                        line: key_line,
                        ..node
                    };
                    map.set(k, node, true)
                        .map(|(k, first)| (k, first, key_line))
                }
            }
        };
        if let Some((key, first, line)) = again {
            if duplicates == Duplicates::Refuse {
                return Err(Error {
                    line,
                    kind: ErrorKind::DuplicateKey(key),
                });
            }
            let at = mapping_at(&stack).field(key.clone());
            twice.push(Duplicate {
                key,
                line,
                first,
                at,
            });
        }
    }
    Ok(docs)
}

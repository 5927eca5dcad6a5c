//! From saphyr-parser's events to the tree: documents, anchors and aliases (with a budget),
//! merge keys, duplicate keys and the nesting limit.

use crate::scalars::resolve;
use crate::{Document, Error, ErrorKind, Node, Value};
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::{HashMap, HashSet};

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
                    kind: ErrorKind::Syntax(e.info().to_owned()),
                })
            }
        };
        let line = span.start.line();
        let err = |kind: ErrorKind| Error { line, kind };
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
                    *k = Some((text.into_owned(), merge, line));
                    None
                } else {
                    let value = resolve(text, style, tag.as_deref());
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
                _ => return Err(err(ErrorKind::UnbalancedSequence)),
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
                _ => return Err(err(ErrorKind::UnbalancedMapping)),
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
                    return Err(err(ErrorKind::ValueWithoutKey));
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
                        kind: ErrorKind::DuplicateKey(k),
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
fn merge_into(entries: &mut Vec<(String, Node)>, merged: Node) -> Result<(), ErrorKind> {
    let maps = match merged.value {
        Value::Map(m) => vec![m],
        Value::Seq(items) => items
            .into_iter()
            .map(|n| match n.value {
                Value::Map(m) => Ok(m),
                _ => Err(ErrorKind::MergeNotAMapping),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(ErrorKind::MergeNotAMapping),
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

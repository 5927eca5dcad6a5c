//! The tree: nodes with their lines, documents, parse errors, and lookups by location.

use resource_limits::location::{Location, Segment};

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

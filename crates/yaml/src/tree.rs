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
    /// The keys written twice in one of its mappings, when it is read as kubectl reads it
    /// ([`crate::parse_as_kubectl`]); the tree holds each one's last value, as kubectl does.
    pub duplicates: Vec<Duplicate>,
}

/// A key written twice in one mapping, read as kubectl reads it: kubectl (and the API
/// server) silently keep the last value, another reader may keep the first. `Display` is the
/// message.
#[derive(Clone, Debug, PartialEq)]
pub struct Duplicate {
    /// The key, as its JSON name (`yes:` is `"true"`).
    pub key: String,
    /// The (1-based) line of the second key, whose value is kept.
    pub line: usize,
    /// The line of the first.
    pub first: usize,
    /// Where the key is in its document (`spec.containers[0].resources`, then the key).
    pub at: Location,
}

impl std::fmt::Display for Duplicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "key {:?} written twice in one mapping (lines {} and {}): kubectl keeps the second \
             value without a word, another reader may keep the first",
            self.key, self.first, self.line
        )
    }
}

/// A parse error, with the line it was found on. `Display` is `line N: ` and the message.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// The (1-based) line of the error.
    pub line: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What is wrong with a YAML text; `Display` is the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not YAML (saphyr-parser's message).
    Syntax(String),
    /// An alias whose anchor is not defined before it.
    UnknownAnchor,
    /// Aliases that expand to more than the budget ([`crate::ALIAS_BUDGET`]).
    AliasBudget,
    /// An alias used as a mapping key.
    AliasKey,
    /// A sequence or mapping used as a mapping key.
    KeyNotAScalar,
    /// Nesting deeper than [`crate::MAX_DEPTH`].
    TooDeep,
    /// A sequence's end without its start.
    UnbalancedSequence,
    /// A mapping's end without its start.
    UnbalancedMapping,
    /// A mapping value without a key.
    ValueWithoutKey,
    /// A key given twice in one mapping.
    DuplicateKey(String),
    /// A merge key (`<<`) whose value is not a mapping or a list of mappings.
    MergeNotAMapping,
    /// `.inf`, `-.inf` or `.nan` (as written) as a value: a float JSON cannot hold.
    NotFinite(String),
    /// A mapping key (as written) that kubectl cannot name in JSON: null, or an integer
    /// beyond int64.
    KeyNotJson(String),
    /// A scalar (as written) that its tag's type (`int`, `float`, `bool`, `null`,
    /// `timestamp`) cannot read.
    Tag(String, &'static str),
    /// A `!!binary` scalar that is not base64.
    Binary,
    /// A line that starts with `---` and goes on with more than a comment (what follows,
    /// trimmed): kubectl does not split documents there.
    Separator(String),
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorKind::Syntax(info) => write!(f, "invalid YAML: {info}"),
            ErrorKind::UnknownAnchor => f.write_str("an alias to an unknown anchor"),
            ErrorKind::AliasBudget => write!(
                f,
                "aliases expand to more than {} MiB",
                crate::ALIAS_BUDGET / (1024 * 1024)
            ),
            ErrorKind::AliasKey => f.write_str("an alias as a mapping key is not supported"),
            ErrorKind::KeyNotAScalar => f.write_str("a mapping key that is not a scalar"),
            ErrorKind::TooDeep => write!(f, "nesting deeper than {} levels", crate::MAX_DEPTH),
            ErrorKind::UnbalancedSequence => f.write_str("unbalanced sequence"),
            ErrorKind::UnbalancedMapping => f.write_str("unbalanced mapping"),
            ErrorKind::ValueWithoutKey => f.write_str("a mapping value without a key"),
            ErrorKind::DuplicateKey(k) => write!(f, "duplicate key {k:?}"),
            ErrorKind::MergeNotAMapping => {
                f.write_str("a merge key (<<) takes a mapping or a list of mappings")
            }
            ErrorKind::NotFinite(text) => write!(
                f,
                "{text} is a float JSON cannot hold (infinite or not a number)"
            ),
            ErrorKind::KeyNotJson(text) => write!(
                f,
                "the key {text:?} cannot be a JSON name (a null key, or an integer beyond 64 bits)"
            ),
            ErrorKind::Tag(text, tag) => write!(f, "cannot read {text:?} as !!{tag}"),
            ErrorKind::Binary => f.write_str("a !!binary value that is not base64"),
            ErrorKind::Separator(rest) => write!(
                f,
                "a document separator (---) followed by {rest:?}: kubectl takes only a comment \
                 after it"
            ),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

impl std::error::Error for Error {}

//! What is wrong with settings, as data: each problem is the path of its field from the
//! settings' root and a [`ProblemKind`] with the values it names; its words are only in
//! `Display` (`cpu.maxLimit: "4 cores" is not a Kubernetes quantity`). A host that shows the
//! settings' text can point at the field (the CLI at the key's line) through the path.

use crate::json::scan::ScanError;
use crate::json::view::Shape;
use crate::location::{Location, Segment};
use std::borrow::Cow;
use std::fmt;

/// Every problem found in a settings document, each naming its field and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    /// Every problem found, as its text (each of [`SettingsError::located`] shown), in order.
    pub problems: Vec<String>,
    located: Vec<SettingsProblem>,
}

impl SettingsError {
    /// The error of these problems (at least one).
    pub(super) fn new(located: Vec<SettingsProblem>) -> SettingsError {
        SettingsError {
            problems: located.iter().map(ToString::to_string).collect(),
            located,
        }
    }

    /// A problem of the whole document (not JSON, not an object).
    pub(super) fn whole(kind: ProblemKind) -> SettingsError {
        SettingsError::new(vec![SettingsProblem {
            path: Location::root(),
            kind,
        }])
    }

    /// Every problem found, in order, each with its field's path and what is wrong.
    pub fn located(&self) -> &[SettingsProblem] {
        &self.located
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A loop rather than `join`, whose generic copy costs about 1.3 KB in each module.
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(problem)?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsError {}

/// One problem of the settings: where, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsProblem {
    /// The field's path from the settings' root, as it is in the settings' JSON: `cpu`,
    /// `maxLimit` for `cpu.maxLimit`; `resources`, `nvidia.com/gpu` for
    /// `resources["nvidia.com/gpu"]`; `ignoreImages`, 2 for `ignoreImages[2]`. The root for a
    /// problem of the whole document.
    pub path: Location,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl SettingsProblem {
    /// The field as messages name it: `cpu.maxLimit`, `resources["nvidia.com/gpu"]`,
    /// `ignoreImages[2]` (empty for the root).
    pub fn field(&self) -> String {
        let mut out = String::new();
        let segments = self.path.segments();
        let in_resources = matches!(segments.first(), Some(Segment::Field(f)) if f == "resources");
        for (i, segment) in segments.iter().enumerate() {
            match segment {
                // A key of `resources` is a resource name, which may hold dots: quoted.
                Segment::Field(name) if i == 1 && in_resources => {
                    out.push('[');
                    out.push_str(&quote(name));
                    out.push(']');
                }
                Segment::Field(name) => {
                    if i > 0 {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Segment::Index(index) => {
                    out.push('[');
                    out.push_str(itoa::Buffer::new().format(*index));
                    out.push(']');
                }
            }
        }
        out
    }
}

/// `field: what is wrong`, or what is wrong alone for the whole document.
impl fmt::Display for SettingsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.segments().is_empty() {
            write!(f, "{}: ", self.field())?;
        }
        write!(f, "{}", self.kind)
    }
}

/// What is wrong with a field. Values are given as the operator wrote them (a quantity's
/// text; any other value as compact JSON, cut after 80 characters).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The settings are not JSON: serde_json's message.
    NotJson(String),
    /// The scan stopped in text serde_json had checked (never expected).
    Unreadable(ScanError),
    /// A value of the wrong JSON type where an object or a list is expected.
    WrongType {
        /// What is expected there.
        expected: Expected,
        /// What is there.
        found: Shape,
    },
    /// A key the settings do not have.
    UnknownKey {
        /// The keys there are.
        expected: &'static [&'static str],
    },
    /// A key given a second time in the same object (JSON readers differ on which counts).
    GivenTwice,
    /// A key of `resources` that is not a Kubernetes resource name.
    NotAResourceName {
        /// The key.
        name: String,
    },
    /// `resources.cpu` or `resources.memory` where the top-level key configures it.
    ConfiguredAtTop {
        /// `cpu` or `memory`.
        name: String,
    },
    /// A quantity that is neither a string nor a number.
    QuantityType {
        /// The value.
        value: String,
    },
    /// A string or number that is not a Kubernetes quantity.
    NotAQuantity {
        /// The value.
        value: String,
    },
    /// A negative quantity.
    Negative {
        /// The value.
        value: String,
    },
    /// An `enforcement` other than `deny` or `warn`.
    NotEnforcement {
        /// The value.
        value: String,
    },
    /// A value that should be `true` or `false`.
    NotABoolean {
        /// The value.
        value: String,
    },
    /// An item of a list of patterns that is not a string.
    PatternNotString {
        /// Which list.
        list: PatternList,
        /// The value.
        value: String,
    },
    /// An empty pattern.
    EmptyPattern {
        /// Which list.
        list: PatternList,
    },
    /// A pattern with a `*` before its end.
    StarInside {
        /// The pattern.
        pattern: String,
    },
    /// `forbidLimit: true` with a key that sets, adds or bounds the limit.
    ForbiddenLimitSet {
        /// That key and its value.
        with: KeyValue,
    },
    /// `forbidLimit: true` with `requireLimit: true`.
    ForbiddenLimitRequired,
    /// Two bounds the wrong way round (`minLimit` above `maxLimit`).
    Greater {
        /// The one that should be at most the other.
        lower: KeyValue,
        /// The other.
        upper: KeyValue,
    },
    /// Without a `defaultRequest`, a `defaultLimit` (which then is the request too) above
    /// `maxRequest`.
    DefaultLimitAboveMaxRequest {
        /// `defaultLimit`.
        default_limit: String,
        /// `maxRequest`.
        max_request: String,
    },
    /// Without a `defaultRequest`, a `defaultLimit` (which then is the request too) below
    /// `minRequest`.
    DefaultLimitBelowMinRequest {
        /// `defaultLimit`.
        default_limit: String,
        /// `minRequest`.
        min_request: String,
    },
    /// A `maxLimitRequestRatio` below 1.
    RatioBelowOne {
        /// The ratio.
        ratio: String,
    },
    /// A `defaultLimit` more than `maxLimitRequestRatio` times `defaultRequest`.
    DefaultsBeyondRatio {
        /// `defaultLimit`.
        default_limit: String,
        /// `maxLimitRequestRatio`.
        ratio: String,
        /// `defaultRequest`.
        default_request: String,
    },
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::NotJson(message) => write!(f, "settings are not valid JSON: {message}"),
            ProblemKind::Unreadable(e) => write!(f, "settings could not be read: {e}"),
            ProblemKind::WrongType { expected, found } => match expected {
                Expected::Settings => write!(f, "settings must be an object, not {found}"),
                Expected::Resources => {
                    write!(f, "expected an object of resource names, not {found}")
                }
                Expected::Rule => write!(f, "expected an object, not {found}"),
                Expected::Patterns(list) => {
                    write!(f, "expected a list of {}, not {found}", list.plural())
                }
            },
            ProblemKind::UnknownKey { expected } => {
                f.write_str("unknown setting (expected one of ")?;
                for (i, key) in expected.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(key)?;
                }
                f.write_str(")")
            }
            ProblemKind::GivenTwice => f.write_str("given more than once"),
            ProblemKind::NotAResourceName { name } => {
                write!(f, "{} is not a Kubernetes resource name", quote(name))
            }
            ProblemKind::ConfiguredAtTop { name } => {
                write!(f, "{name} is already configured by the top-level {name} key")
            }
            ProblemKind::QuantityType { value } => write!(
                f,
                "{value} is not a Kubernetes quantity (expected a string such as \"500m\" or a number)"
            ),
            ProblemKind::NotAQuantity { value } => {
                write!(f, "{value} is not a Kubernetes quantity")
            }
            ProblemKind::Negative { value } => write!(f, "{value} is negative"),
            ProblemKind::NotEnforcement { value } => write!(f, "{value} is not deny or warn"),
            ProblemKind::NotABoolean { value } => write!(f, "{value} is not true or false"),
            ProblemKind::PatternNotString { list, value } => {
                write!(f, "{value} is not {} string", list.singular())
            }
            ProblemKind::EmptyPattern { list } => {
                write!(f, "{} must not be empty", list.singular())
            }
            ProblemKind::StarInside { pattern } => write!(
                f,
                "{} has a '*' before its end (only a trailing '*' is supported)",
                quote(pattern)
            ),
            ProblemKind::ForbiddenLimitSet { with } => write!(
                f,
                "forbidLimit true conflicts with {with} (a forbidden limit is never set)"
            ),
            ProblemKind::ForbiddenLimitRequired => f.write_str(
                "forbidLimit true conflicts with requireLimit true (a limit cannot be both required and forbidden)",
            ),
            ProblemKind::Greater { lower, upper } => {
                write!(f, "{lower} is greater than {upper}")
            }
            ProblemKind::DefaultLimitAboveMaxRequest {
                default_limit,
                max_request,
            } => write!(
                f,
                "defaultLimit {default_limit} is greater than maxRequest {max_request} (without a defaultRequest, the default limit is also the request)"
            ),
            ProblemKind::DefaultLimitBelowMinRequest {
                default_limit,
                min_request,
            } => write!(
                f,
                "defaultLimit {default_limit} is less than minRequest {min_request} (without a defaultRequest, the default limit is also the request)"
            ),
            ProblemKind::RatioBelowOne { ratio } => write!(
                f,
                "{ratio} is less than 1 (a limit is never below its request)"
            ),
            ProblemKind::DefaultsBeyondRatio {
                default_limit,
                ratio,
                default_request,
            } => write!(
                f,
                "defaultLimit {default_limit} is more than maxLimitRequestRatio {ratio} times defaultRequest {default_request}"
            ),
        }
    }
}

/// What a [`ProblemKind::WrongType`] field should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// The settings themselves: an object.
    Settings,
    /// `resources`: an object of resource names.
    Resources,
    /// A rule (`cpu`, `resources["nvidia.com/gpu"]`): an object.
    Rule,
    /// A list of patterns.
    Patterns(PatternList),
}

/// Which list of patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternList {
    /// `ignoreImages`: images.
    IgnoreImages,
    /// `ignoreContainers`: container names.
    IgnoreContainers,
}

impl PatternList {
    /// The key.
    pub fn key(self) -> &'static str {
        match self {
            PatternList::IgnoreImages => "ignoreImages",
            PatternList::IgnoreContainers => "ignoreContainers",
        }
    }

    /// What one item is, in a message: `an image`, `a container name`.
    fn singular(self) -> &'static str {
        match self {
            PatternList::IgnoreImages => "an image",
            PatternList::IgnoreContainers => "a container name",
        }
    }

    /// What the items are, in a message: `images`, `container names`.
    fn plural(self) -> &'static str {
        match self {
            PatternList::IgnoreImages => "images",
            PatternList::IgnoreContainers => "container names",
        }
    }
}

/// A key of a rule and its value as written: `maxLimit 4`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key (`maxLimit`).
    pub key: &'static str,
    /// The value as written (`4`).
    pub value: String,
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key, self.value)
    }
}

/// Where a settings value is, while it is read: borrowed, made a [`Location`] only for a
/// problem (settings are read on every request by hosts that keep nothing between requests,
/// Spin, and building each field's path up front would cost more than the rest of the
/// reading).
#[derive(Clone, Copy)]
pub(super) enum At<'a> {
    /// The settings' root.
    Root,
    /// A member of the object at the first.
    Key(&'a At<'a>, &'a str),
    /// An item of the list at the first.
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    /// A problem here.
    fn problem(&self, kind: ProblemKind) -> SettingsProblem {
        let mut segments = Vec::new();
        self.push_to(&mut segments);
        SettingsProblem {
            path: Location::from(segments),
            kind,
        }
    }

    fn push_to(&self, out: &mut Vec<Segment>) {
        match self {
            At::Root => {}
            At::Key(parent, key) => {
                parent.push_to(out);
                out.push(Segment::Field(Cow::Owned((*key).to_owned())));
            }
            At::Index(parent, index) => {
                parent.push_to(out);
                out.push(Segment::Index(*index));
            }
        }
    }
}

/// The problems found so far, in the order found.
#[derive(Default)]
pub(super) struct Problems(Vec<SettingsProblem>);

impl Problems {
    /// A problem at `at`. (One call at each place a problem is found, not inlined there: the
    /// settings read many kinds of problem in many places, and policy.wasm's size counts.)
    #[inline(never)]
    pub(super) fn add(&mut self, at: &At<'_>, kind: ProblemKind) {
        self.0.push(at.problem(kind));
    }

    /// How many so far.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// The error of the problems found, if any.
    pub(super) fn into_error(self) -> Option<SettingsError> {
        (!self.0.is_empty()).then(|| SettingsError::new(self.0))
    }
}

/// A string as a JSON string, cut when long (a resource name, a pattern).
fn quote(s: &str) -> String {
    shorten(serde_json::to_string(s).unwrap_or_default())
}

/// A value's JSON for a problem's text, cut after 80 characters.
pub(super) fn shorten(mut s: String) -> String {
    // More than 80 characters: the first 77 and `...`.
    if s.char_indices().nth(80).is_some() {
        let cut = s.char_indices().nth(77).map_or(s.len(), |(i, _)| i);
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::shorten;

    /// A value of more than 80 characters is cut to its first 77 and `...`; characters, not
    /// bytes.
    #[test]
    fn a_long_value_is_cut_after_77_characters() {
        for n in 75..86 {
            for c in ["a", "é", "😀"] {
                let s = c.repeat(n);
                let expected = if n > 80 {
                    format!("{}...", c.repeat(77))
                } else {
                    s.clone()
                };
                assert_eq!(shorten(s), expected);
            }
        }
    }
}

//! What the rule finds wrong: each problem as data (the resource, the figures as written),
//! its English only in `Display`, and where it is.

use crate::location::Location;
use crate::patch::Section;
use std::borrow::Cow;
use std::fmt;

/// Where a figure that is not the container's own comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written in the container itself.
    Own,
    /// The pod-level limit, for a container without its own.
    PodLevel,
    /// No request: the API server takes the container's limit.
    FromLimit,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Own => "",
            Origin::PodLevel => " (the pod-level limit)",
            Origin::FromLimit => " (taken from its limit)",
        })
    }
}

/// One kind of thing wrong with one resource of one container (or of the pod). Quantities
/// are kept as written (shortened past 64 characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A value that is not a quantity: `cpu limit "lots" is not a Kubernetes quantity`.
    Malformed {
        /// The resource (as written in the object).
        resource: String,
        /// Limit or request.
        section: Section,
        /// The value's JSON as written.
        written: String,
    },
    /// `memory limit is missing`.
    Missing {
        /// The resource.
        resource: String,
        /// Limit or request.
        section: Section,
    },
    /// A value a default would fill, missing where the answer may not add it (a validating
    /// webhook judges the object as it is): `cpu limit is missing (defaultLimit 1 is added
    /// only by the mutating webhook)`.
    NotDefaulted {
        /// The resource.
        resource: String,
        /// Limit or request.
        section: Section,
        /// `defaultLimit` or `defaultRequest`, as the operator wrote it.
        default: String,
    },
    /// A default limit that would fall below the container's own request.
    DefaultLimitBelowRequest {
        /// The resource.
        resource: String,
        /// `defaultLimit`, as the operator wrote it.
        default: String,
        /// The request, as written.
        request: String,
    },
    /// `cpu limit -1 is negative`.
    Negative {
        /// The resource.
        resource: String,
        /// Limit or request.
        section: Section,
        /// The quantity, as written.
        value: String,
    },
    /// A zero cpu or memory limit, which Kubernetes reads as no limit.
    ZeroLimit {
        /// The resource.
        resource: String,
        /// The quantity, as written.
        value: String,
    },
    /// `memory limit 1Mi is below minLimit 64Mi`.
    BelowMin {
        /// The resource.
        resource: String,
        /// Limit or request.
        section: Section,
        /// The quantity, as written.
        value: String,
        /// Where the quantity comes from.
        origin: Origin,
        /// `minLimit` or `minRequest`, as the operator wrote it.
        bound: String,
    },
    /// `memory limit 4Gi exceeds maxLimit 2Gi`.
    AboveMax {
        /// The resource.
        resource: String,
        /// Limit or request.
        section: Section,
        /// The quantity, as written.
        value: String,
        /// Where the quantity comes from.
        origin: Origin,
        /// `maxLimit` or `maxRequest`, as the operator wrote it.
        bound: String,
    },
    /// A limit the rule forbids (`forbidLimit`): `cpu limit 500m is forbidden (forbidLimit)`.
    LimitForbidden {
        /// The resource.
        resource: String,
        /// The limit, as written.
        value: String,
    },
    /// A limit more than `maxLimitRequestRatio` times the request.
    RatioExceeded {
        /// The resource.
        resource: String,
        /// The limit, as written (or the default limit).
        limit: String,
        /// The request, as written (or the default request).
        request: String,
        /// `maxLimitRequestRatio`, as the operator wrote it.
        ratio: String,
    },
}

impl Problem {
    /// The resource concerned (`cpu`, `memory`, `nvidia.com/gpu`).
    pub fn resource(&self) -> &str {
        match self {
            Problem::Malformed { resource, .. }
            | Problem::Missing { resource, .. }
            | Problem::NotDefaulted { resource, .. }
            | Problem::DefaultLimitBelowRequest { resource, .. }
            | Problem::Negative { resource, .. }
            | Problem::ZeroLimit { resource, .. }
            | Problem::BelowMin { resource, .. }
            | Problem::AboveMax { resource, .. }
            | Problem::LimitForbidden { resource, .. }
            | Problem::RatioExceeded { resource, .. } => resource,
        }
    }

    /// Whether the problem is with the limit or the request (where a host shows it). A
    /// default limit below the request is shown at the request: the default is not written
    /// anywhere.
    pub fn section(&self) -> Section {
        match self {
            Problem::Malformed { section, .. }
            | Problem::Missing { section, .. }
            | Problem::NotDefaulted { section, .. }
            | Problem::Negative { section, .. }
            | Problem::BelowMin { section, .. }
            | Problem::AboveMax { section, .. } => *section,
            Problem::DefaultLimitBelowRequest { .. } => Section::Requests,
            Problem::ZeroLimit { .. }
            | Problem::LimitForbidden { .. }
            | Problem::RatioExceeded { .. } => Section::Limits,
        }
    }
}

/// `limit` or `request`, as a message words a section.
fn word(section: Section) -> &'static str {
    match section {
        Section::Requests => "request",
        Section::Limits => "limit",
    }
}

/// The setting of a lower or upper bound: `minLimit`, `maxRequest`, ...
fn bound(upper: bool, section: Section) -> &'static str {
    match (upper, section) {
        (false, Section::Limits) => "minLimit",
        (true, Section::Limits) => "maxLimit",
        (false, Section::Requests) => "minRequest",
        (true, Section::Requests) => "maxRequest",
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Malformed {
                resource,
                section,
                written,
            } => write!(
                f,
                "{} {} {written} is not a Kubernetes quantity",
                shown_name(resource),
                word(*section)
            ),
            Problem::Missing { resource, section } => {
                write!(f, "{resource} {} is missing", word(*section))
            }
            Problem::NotDefaulted {
                resource,
                section,
                default,
            } => write!(
                f,
                "{resource} {} is missing ({} {default} is added only by the mutating webhook)",
                word(*section),
                match section {
                    Section::Limits => "defaultLimit",
                    Section::Requests => "defaultRequest",
                }
            ),
            Problem::DefaultLimitBelowRequest {
                resource,
                default,
                request,
            } => write!(
                f,
                "default {resource} limit {default} would be below its request {request}"
            ),
            Problem::Negative {
                resource,
                section,
                value,
            } => write!(f, "{resource} {} {value} is negative", word(*section)),
            Problem::ZeroLimit { resource, value } => write!(
                f,
                "{resource} limit {value} is zero, which Kubernetes treats as no limit"
            ),
            Problem::BelowMin {
                resource,
                section,
                value,
                origin,
                bound: b,
            }
            | Problem::AboveMax {
                resource,
                section,
                value,
                origin,
                bound: b,
            } => {
                let upper = matches!(self, Problem::AboveMax { .. });
                write!(
                    f,
                    "{resource} {} {value}{origin} {} {} {b}",
                    word(*section),
                    if upper { "exceeds" } else { "is below" },
                    bound(upper, *section)
                )
            }
            Problem::LimitForbidden { resource, value } => write!(
                f,
                "{resource} limit {value} is forbidden (forbidLimit): remove it"
            ),
            Problem::RatioExceeded {
                resource,
                limit,
                request,
                ratio,
            } => write!(
                f,
                "{resource} limit {limit} is more than maxLimitRequestRatio {ratio} times its request {request}"
            ),
        }
    }
}

/// A resource name as a message shows it: as is when it looks like one (`cpu`,
/// `nvidia.com/gpu`), else quoted and shortened, so that an empty, huge or odd name (found
/// by fuzzing: `"": "x"`) still reads as a name.
fn shown_name(name: &str) -> Cow<'_, str> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'));
    if plain {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(shorten(
            &serde_json::to_string(name).unwrap_or_else(|_| "\"?\"".into()),
        ))
    }
}

/// Text past 64 bytes cut to 61 and `...`.
pub(crate) fn shorten(json: &str) -> String {
    if json.len() > 64 {
        let mut end = 61;
        while !json.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &json[..end])
    } else {
        json.to_owned()
    }
}

/// One thing wrong with one container (or with the pod's own resources).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Where: the container (`spec.template.spec.containers[1]`), or the pod's own
    /// `spec.resources`.
    pub location: Location,
    /// The container's name, where it has one.
    pub container: Option<String>,
    /// What is wrong, with the figures.
    pub problem: Problem,
}

/// Appends what a finding is about: the container's (or pod's) location and, where it has
/// one, the container's quoted name, then `: ` (`spec.containers[0] "app": `). Violations and
/// warnings share it.
pub(crate) fn subject_text(out: &mut String, location: &Location, container: Option<&str>) {
    location.write_dotted(out);
    if let Some(name) = container {
        out.push(' ');
        crate::splice::write_string(name, out);
    }
    out.push_str(": ");
}

/// [`subject_text`] into a formatter.
pub(crate) fn write_subject(
    f: &mut fmt::Formatter<'_>,
    location: &Location,
    container: Option<&str>,
) -> fmt::Result {
    let mut text = String::with_capacity(64);
    subject_text(&mut text, location, container);
    f.write_str(&text)
}

/// Where a quantity of a container (or of the pod's own `spec.resources`, whose location
/// already ends in `resources`) is, or would be written: `...resources.limits.cpu`.
pub(crate) fn quantity_location(location: &Location, section: Section, resource: &str) -> Location {
    let resources = if location.ends_with_field("resources") {
        location.clone()
    } else {
        location.field("resources")
    };
    resources.field(section.key()).field(resource.to_owned())
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_subject(f, &self.location, self.container.as_deref())?;
        fmt::Display::fmt(&self.problem, f)
    }
}

impl Violation {
    /// The resource concerned (`cpu`, `memory`, ...).
    pub fn resource(&self) -> &str {
        self.problem.resource()
    }

    /// Whether the problem is with the resource's limit or its request.
    pub fn section(&self) -> Section {
        self.problem.section()
    }

    /// Where the quantity at fault is, or would be written:
    /// `<container>.resources.<limits|requests>.<resource>` (the pod level's own
    /// `spec.resources.limits.<resource>`). Hosts that know where the input's nodes are show
    /// the violation at the deepest of these that is written.
    pub fn quantity_location(&self) -> Location {
        quantity_location(&self.location, self.section(), self.resource())
    }
}

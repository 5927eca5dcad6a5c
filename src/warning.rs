//! What the rule admits but wants the client to know: each notice as data (the resource, the
//! figures as written), its English only in `Display`, and where it is. A host encodes them
//! (the AdmissionReview's `warnings`, the Kubewarden SDK's `warnings`, the CLI's lines, the
//! playground's list); [`admission_warnings`] shortens and counts them the way the API server
//! relays them to clients as HTTP headers.

use crate::finding::Problem;
use crate::location::Location;
use crate::patch::Section;
use std::fmt;

/// One kind of thing worth a warning about one resource of one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A default the mutation adds: `cpu limit 1 added (defaultLimit)`.
    DefaultAdded {
        /// The resource.
        resource: String,
        /// Limit or request.
        section: Section,
        /// The default, as the operator wrote it.
        value: String,
    },
    /// A memory-like quantity (memory, ephemeral-storage, hugepages-*) written in milli-units:
    /// `memory limit 128m is 0.128 bytes (did you mean 128Mi?)`.
    MilliUnits {
        /// The resource.
        resource: String,
        /// Limit or request.
        section: Section,
        /// The quantity, as written.
        value: String,
        /// What it means, in bytes (`0.128`).
        bytes: String,
        /// What was probably meant (`128Mi`).
        meant: String,
    },
    /// A container's own request above its own limit, which the API server refuses.
    RequestAboveLimit {
        /// The resource.
        resource: String,
        /// The request, as written.
        request: String,
        /// The limit, as written.
        limit: String,
    },
    /// A violation of a rule whose `enforcement` is `warn`: admitted, and said.
    NotEnforced(Problem),
}

impl Notice {
    /// The resource concerned.
    pub fn resource(&self) -> &str {
        match self {
            Notice::DefaultAdded { resource, .. }
            | Notice::MilliUnits { resource, .. }
            | Notice::RequestAboveLimit { resource, .. } => resource,
            Notice::NotEnforced(problem) => problem.resource(),
        }
    }

    /// Whether it concerns the limit or the request (where a host shows it).
    pub fn section(&self) -> Section {
        match self {
            Notice::DefaultAdded { section, .. } | Notice::MilliUnits { section, .. } => *section,
            Notice::RequestAboveLimit { .. } => Section::Requests,
            Notice::NotEnforced(problem) => problem.section(),
        }
    }
}

/// `limit` or `request`.
fn word(section: Section) -> &'static str {
    match section {
        Section::Requests => "request",
        Section::Limits => "limit",
    }
}

impl Notice {
    /// Appends the notice's text to `out`. The one every mutation gives, a default added, is
    /// written without `core::fmt` (see [`Location::write_dotted`]); the others through
    /// `Display`.
    pub fn write_text(&self, out: &mut String) {
        match self {
            Notice::DefaultAdded {
                resource,
                section,
                value,
            } => {
                for part in [
                    resource.as_str(),
                    " ",
                    word(*section),
                    " ",
                    value,
                    match section {
                        Section::Limits => " added (defaultLimit)",
                        Section::Requests => " added (defaultRequest)",
                    },
                ] {
                    out.push_str(part);
                }
            }
            other => {
                let _ = fmt::write(out, format_args!("{other}"));
            }
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::DefaultAdded { .. } => {
                let mut text = String::with_capacity(48);
                self.write_text(&mut text);
                f.write_str(&text)
            }
            Notice::MilliUnits {
                resource,
                section,
                value,
                bytes,
                meant,
            } => write!(
                f,
                "{resource} {} {value} is {bytes} bytes (did you mean {meant}?)",
                word(*section)
            ),
            Notice::RequestAboveLimit {
                resource,
                request,
                limit,
            } => write!(
                f,
                "{resource} request {request} is above its limit {limit}, which the API server refuses"
            ),
            Notice::NotEnforced(problem) => write!(f, "{problem} (enforcement: warn)"),
        }
    }
}

/// One warning about one container (or the pod's own resources).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Where: the container, or the pod's own `spec.resources`.
    pub location: Location,
    /// The container's name, where it has one.
    pub container: Option<String>,
    /// What it is about, with the figures.
    pub notice: Notice,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(128);
        self.write_text(&mut text);
        f.write_str(&text)
    }
}

impl Warning {
    /// Appends the warning's text (`spec.containers[0] "app": cpu limit 1 added
    /// (defaultLimit)`) to `out`.
    pub fn write_text(&self, out: &mut String) {
        self.write_subject(out);
        self.notice.write_text(out);
    }

    /// Appends what the warning is about, as every message names it (`spec.containers[0]
    /// "app": `), for a host that words the notice itself.
    pub fn write_subject(&self, out: &mut String) {
        crate::finding::subject_text(out, &self.location, self.container.as_deref());
    }

    /// Where the quantity concerned is, or would be written (as
    /// [`crate::Violation::quantity_location`]).
    pub fn quantity_location(&self) -> Location {
        crate::finding::quantity_location(
            &self.location,
            self.notice.section(),
            self.notice.resource(),
        )
    }

    /// Whether the API server refuses the object for what this warns about (a request above
    /// its limit): where no API server follows (a CI check), it is a violation.
    pub fn refused_by_api_server(&self) -> bool {
        matches!(self.notice, Notice::RequestAboveLimit { .. })
    }
}

/// The API server relays at most this many characters of one warning.
pub const WARNING_CHARS: usize = 256;
/// The API server relays at most this many characters of warnings in all.
pub const WARNINGS_CHARS: usize = 4096;
/// Room kept for the closing `N more warnings left out`.
const NOTE_CHARS: usize = 48;

/// The warnings as an admission answer carries them: the API server sends each to the client
/// as a `Warning` HTTP header, and keeps at most [`WARNING_CHARS`] characters of each and
/// [`WARNINGS_CHARS`] in all, printable characters only (it drops a warning with a control
/// character). So each is made printable (control characters become spaces) and cut to 256
/// characters, and once the next one would pass 4,096 in all, the rest are counted in a last
/// warning, `N more warnings left out`.
pub fn admission_warnings(warnings: &[Warning]) -> Vec<String> {
    let mut out = Vec::new();
    let mut total = 0;
    for (i, w) in warnings.iter().enumerate() {
        // Room for a usual warning, so that it is written without growing.
        let mut text = String::with_capacity(128);
        w.write_text(&mut text);
        let text = header_text(text);
        let chars = if text.is_ascii() {
            text.len()
        } else {
            text.chars().count()
        };
        let room = if i + 1 == warnings.len() {
            WARNINGS_CHARS
        } else {
            WARNINGS_CHARS - NOTE_CHARS
        };
        if total + chars > room {
            let left = warnings.len() - i;
            out.push(format!(
                "{left} more {} left out",
                if left == 1 { "warning" } else { "warnings" }
            ));
            break;
        }
        total += chars;
        out.push(text);
    }
    out
}

/// One warning as a header carries it: printable, at most [`WARNING_CHARS`] characters.
fn header_text(text: String) -> String {
    // The common case, short printable ASCII, as it is (no second pass or copy).
    if text.len() <= WARNING_CHARS && text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text;
    }
    let printable = text.chars().map(|c| if c.is_control() { ' ' } else { c });
    if text.chars().count() <= WARNING_CHARS {
        printable.collect()
    } else {
        let mut cut: String = printable.take(WARNING_CHARS - 3).collect();
        cut.push_str("...");
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warning(name: &str, resource: &str) -> Warning {
        Warning {
            location: Location::of_fields(&["spec", "containers"]).index(0),
            container: Some(name.to_owned()),
            notice: Notice::DefaultAdded {
                resource: resource.to_owned(),
                section: Section::Limits,
                value: "1".to_owned(),
            },
        }
    }

    #[test]
    fn each_notice_reads_as_a_sentence() {
        let w = warning("app", "cpu");
        assert_eq!(
            w.to_string(),
            "spec.containers[0] \"app\": cpu limit 1 added (defaultLimit)"
        );
        assert_eq!(
            w.quantity_location().pointer(),
            "/spec/containers/0/resources/limits/cpu"
        );
        let milli = Notice::MilliUnits {
            resource: "memory".into(),
            section: Section::Requests,
            value: "128m".into(),
            bytes: "0.128".into(),
            meant: "128Mi".into(),
        };
        assert_eq!(
            milli.to_string(),
            "memory request 128m is 0.128 bytes (did you mean 128Mi?)"
        );
        let above = Notice::RequestAboveLimit {
            resource: "cpu".into(),
            request: "2".into(),
            limit: "1".into(),
        };
        assert_eq!(
            above.to_string(),
            "cpu request 2 is above its limit 1, which the API server refuses"
        );
        assert_eq!(above.section(), Section::Requests);
        let soft = Notice::NotEnforced(Problem::Missing {
            resource: "cpu".into(),
            section: Section::Limits,
        });
        assert_eq!(soft.to_string(), "cpu limit is missing (enforcement: warn)");
        assert_eq!((soft.resource(), soft.section()), ("cpu", Section::Limits));
    }

    #[test]
    fn headers_keep_to_the_api_servers_limits() {
        // A long name: cut to 256 characters.
        let long = warning(&"x".repeat(1000), "cpu");
        let out = admission_warnings(std::slice::from_ref(&long));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].chars().count(), WARNING_CHARS);
        assert!(out[0].ends_with("..."));
        // Control characters become spaces.
        let odd = warning("a\u{7}b\nc", "cpu");
        let out = admission_warnings(&[odd]);
        assert!(!out[0].chars().any(char::is_control), "{out:?}");
        // Many warnings: at most 4,096 characters in all, the rest counted.
        let many: Vec<Warning> = (0..100)
            .map(|i| warning(&format!("container-{i}"), "memory"))
            .collect();
        let out = admission_warnings(&many);
        let total: usize = out.iter().map(|w| w.chars().count()).sum();
        assert!(total <= WARNINGS_CHARS, "{total}");
        let shown = out.len() - 1;
        assert_eq!(
            out.last().map(String::as_str),
            Some(format!("{} more warnings left out", 100 - shown).as_str())
        );
        assert_eq!(
            out[..shown],
            many[..shown]
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
        );
        // A few fit whole.
        assert_eq!(admission_warnings(&many[..3]).len(), 3);
        assert!(admission_warnings(&[]).is_empty());
    }
}

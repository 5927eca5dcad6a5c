//! The policy's answer to one object: accepted (perhaps with defaults added), not its
//! business, rejected for its violations, or unreadable. The messages are written only by
//! `Display`.

use crate::gvk::{GroupVersionKind, Operation};
use crate::json::JsonError;
use crate::location::Location;
use crate::patch::Mutation;
use crate::warning::Warning;
use crate::Violation;
use std::fmt;

/// The code of every rejection.
pub const REJECT_CODE: u16 = 400;

/// A message lists at most this many violations (a hostile object with 100,000 containers
/// must not produce a message of megabytes); [`Verdict::violations`] has them all.
pub const MESSAGE_VIOLATIONS: usize = 100;

/// The policy's answer to one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Admitted: as it is, or with the defaults of the mutation added; with what the client
    /// should know (each default added among them).
    Accepted(Option<Mutation>, Vec<Warning>),
    /// Admitted unchecked: the request is not one the policy checks.
    Skipped(Skip),
    /// Rejected for these violations (never empty); with the warnings about what is not a
    /// violation (no default is added to a rejected object, so none of those).
    Rejected(Vec<Violation>, Vec<Warning>),
    /// Rejected: the input cannot be read as a request.
    Unreadable(Unreadable),
}

/// Why a request is not the policy's business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// A kind the policy does not check (a ConfigMap, or a Deployment of another group).
    OtherKind(GroupVersionKind),
    /// An operation that brings no new pod spec (DELETE, CONNECT, ...).
    Operation(Operation),
    /// A subresource other than `pods/resize` (status, scale, binding, ...).
    SubResource(String),
    /// An UPDATE of a Pod: its container resources cannot change that way (only through
    /// `pods/resize`), and its other updates must keep working for Pods older than the policy.
    PodUpdate,
    /// An UPDATE of a ReplicaSet that a controller owns (a Deployment's): the controller
    /// scales it and, in a rollout, scales the old one down; its Pods are checked when made.
    ControlledReplicaSetUpdate,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::OtherKind(gvk) if gvk.version.is_empty() && gvk.group.is_empty() => {
                write!(f, "{} is not a kind the policy checks", gvk.kind)
            }
            Skip::OtherKind(gvk) if gvk.version.is_empty() => write!(
                f,
                "{} of group {} is not a kind the policy checks",
                gvk.kind, gvk.group
            ),
            Skip::OtherKind(gvk) => write!(
                f,
                "{} {} is not a kind the policy checks",
                gvk.api_version(),
                gvk.kind
            ),
            Skip::Operation(op) => write!(f, "a {op} is not checked"),
            Skip::SubResource(s) => write!(f, "the {s} subresource is not checked"),
            Skip::PodUpdate => f.write_str("a Pod's UPDATE is not checked (only pods/resize)"),
            Skip::ControlledReplicaSetUpdate => f.write_str(
                "an UPDATE of a ReplicaSet its controller owns is not checked (its Pods are)",
            ),
        }
    }
}

/// Why the input cannot be judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Not JSON at all (serde_json's message).
    NotJson(String),
    /// JSON, but not an AdmissionRequest (where, and what is wrong).
    NotARequest(String),
    /// An AdmissionReview without a `request`.
    NoRequest,
    /// No `operation`.
    NoOperation,
    /// No `kind.kind`.
    NoKind,
    /// No object where the operation carries one.
    NoObject {
        /// The kind named by the request.
        kind: String,
        /// The operation.
        operation: Operation,
    },
    /// `object` is not a JSON object.
    ObjectNotAnObject,
    /// The object has no pod spec where its kind keeps one.
    NoPodSpec {
        /// The kind named by the request.
        kind: String,
        /// Where the pod spec should be.
        at: Location,
    },
    /// The object is not a valid object of its kind (where, and what is wrong).
    InvalidObject {
        /// The kind named by the request.
        kind: String,
        /// The reader's error.
        error: String,
    },
    /// The defaults could not be added.
    DefaultsNotAdded(String),
    /// The policy's settings are not valid (a host that reads them per request).
    Settings(String),
}

impl Unreadable {
    /// A request that could not be read; `root` is the path of the AdmissionRequest in what
    /// was read (`request`, or empty where the document is the request).
    pub fn from_json_error(e: &JsonError, root: &str) -> Unreadable {
        if e.is_syntax() {
            // A syntax error has no path: its text is the reader's message.
            Unreadable::NotJson(e.to_string())
        } else {
            Unreadable::NotARequest(e.under(root))
        }
    }
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Most reasons are a fixed text and the reader's error: one write of each (smaller
        // than a format string per reason).
        let (text, detail) = match self {
            Unreadable::NotJson(e) => ("the request is not valid JSON: ", e.as_str()),
            Unreadable::NotARequest(e) => ("the request is not an AdmissionRequest: ", e.as_str()),
            Unreadable::NoRequest => ("the AdmissionReview has no request", ""),
            Unreadable::NoOperation => ("request.operation is missing", ""),
            Unreadable::NoKind => ("request.kind.kind is missing", ""),
            Unreadable::NoObject { kind, operation } => {
                return write!(
                    f,
                    "request.object is missing: a {kind} {operation} carries the object"
                )
            }
            Unreadable::ObjectNotAnObject => ("request.object is not a JSON object", ""),
            Unreadable::NoPodSpec { kind, at } => return write!(f, "the {kind} has no {at}"),
            Unreadable::InvalidObject { kind, error } => {
                return write!(f, "request.object is not a valid {kind}: {error}")
            }
            Unreadable::DefaultsNotAdded(e) => ("the defaults could not be added: ", e.as_str()),
            Unreadable::Settings(e) => ("the policy's settings are not valid: ", e.as_str()),
        };
        f.write_str(text)?;
        f.write_str(detail)
    }
}

impl Verdict {
    /// Whether the object is admitted (accepted or skipped).
    pub fn allowed(&self) -> bool {
        matches!(self, Verdict::Accepted(..) | Verdict::Skipped(_))
    }

    /// 400 on a rejection.
    pub fn code(&self) -> Option<u16> {
        (!self.allowed()).then_some(REJECT_CODE)
    }

    /// The rejection message: every violation (at most [`MESSAGE_VIOLATIONS`]),
    /// `; `-separated, or what is wrong with the input.
    pub fn message(&self) -> Option<String> {
        match self {
            Verdict::Accepted(..) | Verdict::Skipped(_) => None,
            Verdict::Unreadable(why) => Some(why.to_string()),
            Verdict::Rejected(violations, _) => {
                use fmt::Write as _;
                let mut message = String::new();
                for (i, v) in violations.iter().take(MESSAGE_VIOLATIONS).enumerate() {
                    if i > 0 {
                        message.push_str("; ");
                    }
                    // Writing into a String cannot fail.
                    let _ = write!(message, "{v}");
                }
                if violations.len() > MESSAGE_VIOLATIONS {
                    let _ = write!(
                        message,
                        "; and {} more violations",
                        violations.len() - MESSAGE_VIOLATIONS
                    );
                }
                Some(message)
            }
        }
    }

    /// Every violation (empty unless rejected for them).
    pub fn violations(&self) -> &[Violation] {
        match self {
            Verdict::Rejected(v, _) => v,
            _ => &[],
        }
    }

    /// Every warning, in the order the containers and resources were checked.
    pub fn warnings(&self) -> &[Warning] {
        match self {
            Verdict::Accepted(_, w) | Verdict::Rejected(_, w) => w,
            _ => &[],
        }
    }

    /// The warnings as an admission answer carries them (shortened and counted within the
    /// API server's header limits: [`crate::warning::admission_warnings`]).
    pub fn admission_warnings(&self) -> Vec<String> {
        crate::warning::admission_warnings(self.warnings())
    }

    /// The defaults added, for an accepted object that gets some.
    pub fn mutation(&self) -> Option<&Mutation> {
        match self {
            Verdict::Accepted(m, _) => m.as_ref(),
            _ => None,
        }
    }

    /// The mutation, taken.
    pub fn into_mutation(self) -> Option<Mutation> {
        match self {
            Verdict::Accepted(m, _) => m,
            _ => None,
        }
    }
}

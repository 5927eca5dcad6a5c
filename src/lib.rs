//! The resource-limits admission rule: every container of a workload declares resource
//! requests and limits, inside the bounds the cluster operator configured.
//!
//! This crate is the core every host shares (Kubewarden, Spin, the browser, the CLI). It
//! knows no host: it reads settings and AdmissionRequests as JSON bytes and answers with a
//! [`Verdict`].
//!
//! - [`quantity`]: Kubernetes quantities, parsed and compared exactly.
//! - [`settings`]: the settings (the model), reading them, their consistency rules, and what
//!   is wrong with them as data ([`settings::SettingsProblem`]: a field's path and a kind).
//! - [`workload`]: the checked kinds and where their pod spec lives.
//! - [`rule`]: the rule itself, over one pod spec.
//! - [`finding`]: what the rule finds wrong ([`Problem`]) and where ([`Violation`]).
//! - [`location`]: a place in an object, as a dotted path or a JSON pointer.
//! - [`json`]: JSON text: the one byte scanner ([`json::scan`]), reading into typed views
//!   with the path of what is wrong ([`json::read`]), a borrowed view of checked text
//!   ([`json::view`]).
//! - [`patch`]: the defaults a mutation adds, and adding them to the raw object.
//! - [`splice`]: members added to JSON text in place (the edits), and the JSONPatch that adds
//!   them.
//! - [`gvk`]: an object's group, version and kind, and the operation.
//! - [`verdict`]: the answer: accepted, skipped, rejected or unreadable.
//! - [`warning`]: what the answer warns about ([`Notice`], [`Warning`]), and the warnings as
//!   the API server relays them.
//! - [`webhook`]: which webhook answers ([`Webhook::Mutating`] adds defaults,
//!   [`Webhook::Validating`] never does).
//! - [`cel`]: the settings compiled to the API server's own admission policies (CEL).
//! - [`document`]: a document as a user gives it (review, request, manifest, list), judged
//!   object by object: [`document::evaluate`], the entry for what a user hands over.
//! - [`manifest`]: the objects of a manifest document (one, or the items of a List).
//! - [`review`]: an AdmissionRequest in, a verdict out ([`review::evaluate`], the entry for
//!   an AdmissionRequest); an AdmissionReview in, its response out
//!   ([`review::admission_review`], the webhook hosts' entry).

pub mod cel;
pub mod document;
pub mod finding;
pub mod gvk;
pub mod json;
pub mod location;
pub mod manifest;
pub mod patch;
pub mod quantity;
pub mod review;
pub mod rule;
pub mod settings;
pub mod splice;
pub mod verdict;
pub mod warning;
pub mod webhook;
pub mod workload;

pub use finding::{Problem, Violation};
pub use gvk::{GroupVersionKind, Operation};
pub use location::Location;
pub use patch::Mutation;
pub use quantity::Quantity;
pub use settings::{Settings, SettingsError};
pub use verdict::{Skip, Unreadable, Verdict};
pub use warning::{Notice, Warning};
pub use webhook::Webhook;

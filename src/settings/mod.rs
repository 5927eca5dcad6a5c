//! The policy's settings: the model ([`Settings`], a [`ResourceRule`] per checked resource),
//! read from JSON text ([`Settings::from_json`], in `read.rs`), checked for consistency
//! (`rules.rs`), and explained when wrong ([`SettingsError`]: every problem at once, each as
//! data, [`SettingsProblem`], with its field's path and what is wrong; text only in
//! `Display`, in `problem.rs`).
//!
//! Read by walking the JSON text in place ([`crate::json::view`]) rather than through a
//! derived struct, so that every problem names its field and value (`cpu.maxLimit: "4 cores"
//! is not a Kubernetes quantity`), all of them at once, which serde's derive cannot do; and
//! rather than through a `serde_json::Value` tree, because Spin makes an instance per request
//! and so reads the settings on every one: the tree cost two thirds of the allocations of
//! reading them.

mod problem;
mod read;
mod rules;

use crate::quantity::Quantity;

pub use problem::{Expected, KeyValue, PatternList, ProblemKind, SettingsError, SettingsProblem};

/// A settings quantity: its exact value and the text the operator wrote (used in messages and
/// injected as is by a mutation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    /// The value.
    pub value: Quantity,
    /// The quantity as the operator wrote it.
    pub text: String,
}

/// What a rule's violations do (`enforcement`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Enforcement {
    /// `deny`: a violation rejects the object.
    #[default]
    Deny,
    /// `warn`: the object is admitted (defaults still added), each violation a warning.
    Warn,
}

/// The bounds and requirements for one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRule {
    /// The Kubernetes resource name: `cpu`, `memory`, `nvidia.com/gpu`, ...
    pub resource: String,
    /// `minRequest`.
    pub min_request: Option<Bound>,
    /// `maxRequest`.
    pub max_request: Option<Bound>,
    /// `minLimit`.
    pub min_limit: Option<Bound>,
    /// `maxLimit`.
    pub max_limit: Option<Bound>,
    /// `defaultRequest`.
    pub default_request: Option<Bound>,
    /// `defaultLimit`.
    pub default_limit: Option<Bound>,
    /// `maxLimitRequestRatio`.
    pub max_limit_request_ratio: Option<Bound>,
    /// `requireRequest`: a missing request is a violation.
    pub require_request: bool,
    /// `requireLimit`: a missing limit is a violation.
    pub require_limit: bool,
    /// `ignoreValues`: presence only, no bounds.
    pub ignore_values: bool,
    /// `forbidLimit`: a container's own limit is a violation (the "no CPU limits" school).
    pub forbid_limit: bool,
    /// `enforcement` (else the top-level `enforcement`): deny or only warn.
    pub enforcement: Enforcement,
}

impl ResourceRule {
    /// A rule that only asks for a request and a limit.
    pub fn presence(resource: &str) -> ResourceRule {
        ResourceRule {
            resource: resource.to_owned(),
            min_request: None,
            max_request: None,
            min_limit: None,
            max_limit: None,
            default_request: None,
            default_limit: None,
            max_limit_request_ratio: None,
            require_request: true,
            require_limit: true,
            ignore_values: false,
            forbid_limit: false,
            enforcement: Enforcement::Deny,
        }
    }
}

/// An `ignoreImages` or `ignoreContainers` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImagePattern {
    /// An image name matched exactly.
    Exact(String),
    /// The entry ended in `*`: any image starting with the rest.
    Prefix(String),
}

impl ImagePattern {
    /// Whether an image (or a container name) matches the pattern.
    pub fn matches(&self, image: &str) -> bool {
        match self {
            ImagePattern::Exact(s) => image == s,
            ImagePattern::Prefix(p) => image.starts_with(p.as_str()),
        }
    }
}

/// Valid settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The checked resources, in the order cpu, memory, then `resources` by name.
    pub rules: Vec<ResourceRule>,
    /// `ignoreImages`.
    pub ignore_images: Vec<ImagePattern>,
    /// `ignoreInitContainers`.
    pub ignore_init_containers: bool,
    /// `ignoreContainers`: containers exempt by name.
    pub ignore_containers: Vec<ImagePattern>,
}

impl Default for Settings {
    /// The plain rule: every container declares cpu and memory limits.
    fn default() -> Self {
        Settings {
            rules: vec![
                ResourceRule::presence("cpu"),
                ResourceRule::presence("memory"),
            ],
            ignore_images: Vec::new(),
            ignore_init_containers: false,
            ignore_containers: Vec::new(),
        }
    }
}

/// The top-level keys, in the order messages list them.
const TOP_KEYS: &[&str] = &[
    "cpu",
    "memory",
    "resources",
    "ignoreImages",
    "ignoreInitContainers",
    "ignoreContainers",
    "enforcement",
];
/// The keys of a rule, in the order messages list them.
const RULE_KEYS: &[&str] = &[
    "minRequest",
    "maxRequest",
    "minLimit",
    "maxLimit",
    "defaultRequest",
    "defaultLimit",
    "maxLimitRequestRatio",
    "requireRequest",
    "requireLimit",
    "ignoreValues",
    "forbidLimit",
    "enforcement",
];

impl Settings {
    /// True when the image is exempt.
    pub fn ignores_image(&self, image: &str) -> bool {
        self.ignore_images.iter().any(|p| p.matches(image))
    }

    /// True when the container is exempt by its name.
    pub fn ignores_container(&self, name: &str) -> bool {
        self.ignore_containers.iter().any(|p| p.matches(name))
    }
}

/// An extended resource: a domain-prefixed name outside `kubernetes.io` (`nvidia.com/gpu`).
pub fn is_extended(name: &str) -> bool {
    name.split_once('/')
        .is_some_and(|(domain, _)| domain != "kubernetes.io" && !domain.ends_with(".kubernetes.io"))
}

#[cfg(test)]
mod tests {
    use super::{RULE_KEYS, TOP_KEYS};

    /// Every key is in the settings reference (docs/settings.md), in the policy's own page
    /// (docs/policy.md, what `kwctl inspect` and Artifact Hub show) and in the Rancher UI form
    /// (every top-level key but `resources`, which the form leaves to YAML; every rule key for
    /// cpu).
    #[test]
    fn every_key_is_documented_and_in_the_ui_form() {
        let pages = [
            ("docs/settings.md", include_str!("../../docs/settings.md")),
            ("docs/policy.md", include_str!("../../docs/policy.md")),
        ];
        let form = include_str!("../../questions-ui.yml");
        for key in TOP_KEYS.iter().chain(RULE_KEYS) {
            for (name, page) in pages {
                assert!(
                    page.contains(&format!("| `{key}` |")),
                    "{name}'s settings table leaves out {key}"
                );
            }
        }
        for key in TOP_KEYS.iter().filter(|k| **k != "resources") {
            assert!(
                form.contains(&format!("variable: {key}\n")),
                "questions-ui.yml leaves out {key}"
            );
        }
        for key in RULE_KEYS {
            assert!(
                form.contains(&format!("variable: cpu.{key}\n")),
                "questions-ui.yml leaves out cpu.{key}"
            );
        }
    }
}

//! The policy's settings: parsed, checked for consistency, and explained when wrong.
//!
//! Read by walking the JSON text in place rather than through a derived struct, so that every
//! problem names its field and value (`cpu.maxLimit: "4 cores" is not a Kubernetes quantity`),
//! all of them at once, which serde's derive cannot do; and rather than through a
//! `serde_json::Value` tree, because Spin makes an instance per request and so reads the
//! settings on every one: the tree cost two thirds of the allocations of reading them.

use crate::json::view::{Object, Shape, View};
use crate::quantity::Quantity;
use core::fmt;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

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

/// Every problem found in a settings document, each naming its field and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    /// Every problem found, each with its field and value.
    pub problems: Vec<String>,
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

const TOP_KEYS: &[&str] = &[
    "cpu",
    "memory",
    "resources",
    "ignoreImages",
    "ignoreInitContainers",
    "ignoreContainers",
    "enforcement",
];
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
    /// Parses and checks a settings document (JSON).
    pub fn from_json(bytes: &[u8]) -> Result<Settings, SettingsError> {
        // serde_json checks the whole text (syntax, UTF-8, depth) without building anything;
        // the walk below then only steps over text known to be valid.
        match serde_json::from_slice::<&RawValue>(bytes) {
            Ok(raw) => Settings::read(View::whole(raw.get())),
            // Read again as a tree for the error: stepping over a string, serde_json places
            // a control character inside it at the string's start rather than where it is.
            Err(e) => Err(SettingsError {
                problems: vec![format!(
                    "settings are not valid JSON: {}",
                    serde_json::from_slice::<Value>(bytes).err().unwrap_or(e)
                )],
            }),
        }
    }

    /// Parses and checks settings already decoded as JSON; `null` means `{}`.
    pub fn from_value(v: &Value) -> Result<Settings, SettingsError> {
        Settings::from_json(serde_json::to_string(v).unwrap_or_default().as_bytes())
    }

    fn read(v: View<'_>) -> Result<Settings, SettingsError> {
        let mut p = Vec::new();
        let top = match v.shape() {
            Shape::Null => Object::default(),
            Shape::Object => object(v, &|key| key.to_owned(), &mut p),
            other => {
                return Err(SettingsError {
                    problems: vec![format!("settings must be an object, not {}", other)],
                })
            }
        };
        for (key, _) in top.iter() {
            if !TOP_KEYS.contains(&key.as_ref()) {
                p.push(unknown_key(key, TOP_KEYS));
            }
        }
        let enforcement =
            parse_enforcement(&"enforcement", top.get("enforcement"), &mut p).unwrap_or_default();
        let mut rules = Vec::new();
        for name in ["cpu", "memory"] {
            if let Some(rule) = top
                .get(name)
                .and_then(|v| parse_rule((name, name), v, enforcement, &mut p))
            {
                rules.push(rule);
            }
        }
        match top.get("resources") {
            None => {}
            Some(v) => match v.shape() {
                Shape::Null => {}
                Shape::Object => {
                    let field = |name: &str| format!("resources[{}]", quote(name));
                    let map = object(v, &field, &mut p);
                    let mut names: Vec<&(Cow<'_, str>, View<'_>)> = map.iter().collect();
                    names.sort_by(|a, b| a.0.cmp(&b.0));
                    for (name, value) in names {
                        let field = field(name);
                        if !is_resource_name(name) {
                            p.push(format!(
                                "{field}: {} is not a Kubernetes resource name",
                                quote(name)
                            ));
                            continue;
                        }
                        if (name == "cpu" || name == "memory")
                            && top.get(name).is_some_and(|v| !v.is_null())
                        {
                            p.push(format!(
                                "{field}: {name} is already configured by the top-level {name} key"
                            ));
                            continue;
                        }
                        if let Some(rule) = parse_rule((name, &field), *value, enforcement, &mut p)
                        {
                            rules.push(rule);
                        }
                    }
                }
                other => p.push(format!(
                    "resources: expected an object of resource names, not {}",
                    other
                )),
            },
        }
        let ignore_images = parse_patterns(
            ("ignoreImages", "an image", "images"),
            top.get("ignoreImages"),
            &mut p,
        );
        let ignore_containers = parse_patterns(
            ("ignoreContainers", "a container name", "container names"),
            top.get("ignoreContainers"),
            &mut p,
        );
        let ignore_init_containers = parse_bool(
            &"ignoreInitContainers",
            top.get("ignoreInitContainers"),
            false,
            &mut p,
        );
        if !p.is_empty() {
            return Err(SettingsError { problems: p });
        }
        if rules.is_empty() {
            rules = Settings::default().rules;
            for rule in &mut rules {
                rule.enforcement = enforcement;
            }
        }
        Ok(Settings {
            rules,
            ignore_images,
            ignore_init_containers,
            ignore_containers,
        })
    }

    /// True when the image is exempt.
    pub fn ignores_image(&self, image: &str) -> bool {
        self.ignore_images.iter().any(|p| p.matches(image))
    }

    /// True when the container is exempt by its name.
    pub fn ignores_container(&self, name: &str) -> bool {
        self.ignore_containers.iter().any(|p| p.matches(name))
    }
}

/// One rule: `(resource, field)` names it; `enforcement` is the top-level default.
fn parse_rule(
    (resource, field): (&str, &str),
    v: View<'_>,
    enforcement: Enforcement,
    p: &mut Vec<String>,
) -> Option<ResourceRule> {
    let before = p.len();
    let map = match v.shape() {
        Shape::Null => return None,
        Shape::Object => object(v, &|key| format!("{field}.{key}"), p),
        other => {
            p.push(format!("{field}: expected an object, not {}", other));
            return None;
        }
    };
    for (key, _) in map.iter() {
        if !RULE_KEYS.contains(&key.as_ref()) {
            p.push(unknown_key(&format!("{field}.{key}"), RULE_KEYS));
        }
    }
    let mut q = |key: &str| parse_bound(&Dotted(field, key), map.get(key), p);
    let mut rule = ResourceRule::presence(resource);
    // Extended resources (`nvidia.com/gpu`) are declared only by the containers that use
    // them: capping them must not demand them of every container.
    let required = !is_extended(resource);
    rule.min_request = q("minRequest");
    rule.max_request = q("maxRequest");
    rule.min_limit = q("minLimit");
    rule.max_limit = q("maxLimit");
    rule.default_request = q("defaultRequest");
    rule.default_limit = q("defaultLimit");
    rule.max_limit_request_ratio = q("maxLimitRequestRatio");
    rule.require_request = parse_bool(
        &Dotted(field, "requireRequest"),
        map.get("requireRequest"),
        required,
        p,
    );
    rule.forbid_limit = parse_bool(
        &Dotted(field, "forbidLimit"),
        map.get("forbidLimit"),
        false,
        p,
    );
    // A forbidden limit is not required either (unless the operator says so: a conflict).
    rule.require_limit = parse_bool(
        &Dotted(field, "requireLimit"),
        map.get("requireLimit"),
        required && !rule.forbid_limit,
        p,
    );
    rule.ignore_values = parse_bool(
        &Dotted(field, "ignoreValues"),
        map.get("ignoreValues"),
        false,
        p,
    );
    rule.enforcement = parse_enforcement(&Dotted(field, "enforcement"), map.get("enforcement"), p)
        .unwrap_or(enforcement);
    if p.len() > before {
        return None;
    }
    check_forbidden(field, &rule, p);
    check_consistency(field, &rule, p);
    Some(rule)
}

/// `forbidLimit` against every key that sets, adds, bounds or demands the limit.
fn check_forbidden(field: &str, r: &ResourceRule, p: &mut Vec<String>) {
    if !r.forbid_limit {
        return;
    }
    let quantities = [
        ("defaultLimit", &r.default_limit),
        ("minLimit", &r.min_limit),
        ("maxLimit", &r.max_limit),
        ("maxLimitRequestRatio", &r.max_limit_request_ratio),
    ];
    for (name, bound) in quantities {
        if let Some(b) = bound {
            p.push(format!(
                "{field}: forbidLimit true conflicts with {name} {} (a forbidden limit is never set)",
                b.text
            ));
        }
    }
    if r.require_limit {
        p.push(format!(
            "{field}: forbidLimit true conflicts with requireLimit true (a limit cannot be both required and forbidden)"
        ));
    }
}

/// The consistency rules of the contract, plus one that follows from them: the two defaults
/// must respect the ratio, or every defaulted container would be rejected.
fn check_consistency(field: &str, r: &ResourceRule, p: &mut Vec<String>) {
    let pairs: [(&str, &Option<Bound>, &str, &Option<Bound>); 8] = [
        (
            "minRequest",
            &r.min_request,
            "defaultRequest",
            &r.default_request,
        ),
        (
            "defaultRequest",
            &r.default_request,
            "maxRequest",
            &r.max_request,
        ),
        ("minRequest", &r.min_request, "maxRequest", &r.max_request),
        ("minLimit", &r.min_limit, "defaultLimit", &r.default_limit),
        ("defaultLimit", &r.default_limit, "maxLimit", &r.max_limit),
        ("minLimit", &r.min_limit, "maxLimit", &r.max_limit),
        (
            "defaultRequest",
            &r.default_request,
            "defaultLimit",
            &r.default_limit,
        ),
        ("minRequest", &r.min_request, "maxLimit", &r.max_limit),
    ];
    for (a_name, a, b_name, b) in pairs {
        if let (Some(a), Some(b)) = (a, b) {
            if a.value > b.value {
                p.push(format!(
                    "{field}: {a_name} {} is greater than {b_name} {}",
                    a.text, b.text
                ));
            }
        }
    }
    // Without a defaultRequest, a defaulted limit becomes the container's request too.
    if let (Some(d), None) = (&r.default_limit, &r.default_request) {
        if let Some(m) = r.max_request.as_ref().filter(|m| d.value > m.value) {
            p.push(format!(
                "{field}: defaultLimit {} is greater than maxRequest {} (without a defaultRequest, the default limit is also the request)",
                d.text, m.text
            ));
        }
        if let Some(m) = r.min_request.as_ref().filter(|m| d.value < m.value) {
            p.push(format!(
                "{field}: defaultLimit {} is less than minRequest {} (without a defaultRequest, the default limit is also the request)",
                d.text, m.text
            ));
        }
    }
    if let Some(ratio) = &r.max_limit_request_ratio {
        if ratio.value < Quantity::ONE {
            p.push(format!(
                "{field}.maxLimitRequestRatio: {} is less than 1 (a limit is never below its request)",
                ratio.text
            ));
        } else if let (Some(req), Some(lim)) = (&r.default_request, &r.default_limit) {
            if !lim.value.at_most_times(ratio.value, req.value) {
                p.push(format!(
                    "{field}: defaultLimit {} is more than maxLimitRequestRatio {} times defaultRequest {}",
                    lim.text, ratio.text, req.text
                ));
            }
        }
    }
}

fn parse_bound(
    field: &dyn fmt::Display,
    v: Option<View<'_>>,
    p: &mut Vec<String>,
) -> Option<Bound> {
    let v = v?;
    let text = match v.shape() {
        Shape::Null => return None,
        Shape::String => {
            let s = v.string();
            // Kubewarden's UI (Rancher) sends "" for a field left blank: not set, as in the
            // official policy.
            if s.trim().is_empty() {
                return None;
            }
            // Trimmed as the API server trims a quoted quantity.
            s.trim().to_owned()
        }
        Shape::Number => v.raw().to_owned(),
        _ => {
            p.push(format!(
                "{field}: {} is not a Kubernetes quantity (expected a string such as \"500m\" or a number)",
                shown(&v)
            ));
            return None;
        }
    };
    match Quantity::parse(&text) {
        Err(_) => {
            p.push(format!(
                "{field}: {} is not a Kubernetes quantity",
                shown(&v)
            ));
            None
        }
        Ok(q) if q.is_negative() => {
            p.push(format!("{field}: {} is negative", shown(&v)));
            None
        }
        // Zero means "not set", as in Kubewarden's container-resources policy.
        Ok(q) if q.is_zero() => None,
        Ok(value) => Some(Bound { value, text }),
    }
}

/// A rule's field, `cpu.maxLimit`, written only into a problem: settings are read on every
/// request by hosts that keep nothing between requests (Spin), and formatting each field's
/// name up front cost more than the rest of the reading.
struct Dotted<'a>(&'a str, &'a str);

impl fmt::Display for Dotted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// `deny` or `warn`; absent, `null` or `""` (a blank field of Kubewarden's UI): not set.
fn parse_enforcement(
    field: &dyn fmt::Display,
    v: Option<View<'_>>,
    p: &mut Vec<String>,
) -> Option<Enforcement> {
    let v = v?;
    match v.shape() {
        Shape::Null => return None,
        Shape::String => match v.string().as_ref() {
            "" => return None,
            "deny" => return Some(Enforcement::Deny),
            "warn" => return Some(Enforcement::Warn),
            _ => {}
        },
        _ => {}
    }
    p.push(format!("{field}: {} is not deny or warn", shown(&v)));
    None
}

fn parse_bool(
    field: &dyn fmt::Display,
    v: Option<View<'_>>,
    default: bool,
    p: &mut Vec<String>,
) -> bool {
    let Some(v) = v else { return default };
    match v.shape() {
        Shape::Null => default,
        Shape::True => true,
        Shape::False => false,
        _ => {
            p.push(format!("{field}: {} is not true or false", shown(&v)));
            default
        }
    }
}

/// A list of exact-or-trailing-`*` patterns (`ignoreImages`: images, `ignoreContainers`:
/// container names).
fn parse_patterns(
    (key, what, plural): (&str, &str, &str),
    v: Option<View<'_>>,
    p: &mut Vec<String>,
) -> Vec<ImagePattern> {
    let Some(v) = v else { return Vec::new() };
    let items = match v.shape() {
        Shape::Null => return Vec::new(),
        Shape::Array => match v.items() {
            Ok(items) => items,
            Err(e) => {
                p.push(format!("settings could not be read: {e}"));
                return Vec::new();
            }
        },
        other => {
            p.push(format!("{key}: expected a list of {plural}, not {}", other));
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let field = Indexed(key, i);
        if item.shape() != Shape::String {
            p.push(format!("{field}: {} is not {what} string", shown(&item)));
            continue;
        }
        let s = item.string();
        match s.find('*') {
            _ if s.is_empty() => p.push(format!("{field}: {what} must not be empty")),
            None => out.push(ImagePattern::Exact(s.into_owned())),
            Some(at) if at == s.len() - 1 => out.push(ImagePattern::Prefix(s[..at].to_owned())),
            Some(_) => p.push(format!(
                "{field}: {} has a '*' before its end (only a trailing '*' is supported)",
                quote(&s)
            )),
        }
    }
    out
}

/// An extended resource: a domain-prefixed name outside `kubernetes.io` (`nvidia.com/gpu`).
pub fn is_extended(name: &str) -> bool {
    name.split_once('/')
        .is_some_and(|(domain, _)| domain != "kubernetes.io" && !domain.ends_with(".kubernetes.io"))
}

/// A Kubernetes resource name: `cpu`, `hugepages-2Mi`, `nvidia.com/gpu`.
fn is_resource_name(name: &str) -> bool {
    let (prefix, base) = match name.split_once('/') {
        Some((prefix, base)) => (Some(prefix), base),
        None => (None, name),
    };
    let prefix_ok = prefix.is_none_or(|s| {
        !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    });
    prefix_ok
        && !base.is_empty()
        && base.len() <= 63
        && base
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && base.starts_with(|c: char| c.is_ascii_alphanumeric())
        && base.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn unknown_key(field: &str, known: &[&str]) -> String {
    let mut out = format!("{field}: unknown setting (expected one of ");
    for (i, key) in known.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(key);
    }
    out.push(')');
    out
}

fn quote(s: &str) -> String {
    shorten(serde_json::to_string(s).unwrap_or_default())
}

/// A value's JSON for a problem's text, cut when long.
fn shorten(s: String) -> String {
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// A value as a problem shows it: as written, compact, cut when long.
fn shown(v: &View<'_>) -> String {
    shorten(v.compact())
}

/// The members of an object setting `v`. A key given twice is a problem (JSON readers differ
/// on which one counts), named by `field`; the first one is kept.
fn object<'a>(v: View<'a>, field: &dyn Fn(&str) -> String, p: &mut Vec<String>) -> Object<'a> {
    let (mut all, error) = v.members();
    if let Some(e) = error {
        p.push(format!("settings could not be read: {e}"));
    }
    for key in all.take_repeated() {
        p.push(format!("{}: given more than once", field(&key)));
    }
    all
}

/// An item of a list setting, `ignoreImages[2]`, written only into a problem.
struct Indexed<'a>(&'a str, usize);

impl fmt::Display for Indexed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::{Settings, RULE_KEYS, TOP_KEYS};

    /// A key given twice is a problem where it is, at any depth (which one would count
    /// differs from one JSON reader to another).
    #[test]
    fn a_key_given_twice_is_a_problem() {
        let e = Settings::from_json(
            br#"{"cpu": {"maxLimit": "2", "maxLimit": "4"}, "memory": {}, "memory": null,
                 "resources": {"nvidia.com/gpu": {}, "nvidia.com/gpu": {}}}"#,
        )
        .err()
        .map(|e| e.problems)
        .unwrap_or_default();
        assert_eq!(
            e,
            [
                "memory: given more than once",
                "cpu.maxLimit: given more than once",
                r#"resources["nvidia.com/gpu"]: given more than once"#,
            ]
        );
    }

    /// Keys given again among many are each found once, in the order given (the search is
    /// not quadratic: with a linear search per key, 50,000 keys took 1.4 s).
    #[test]
    fn keys_given_again_among_many() {
        let members: Vec<String> = (0..50_000)
            .map(|i| format!("\"k{}\": 1", i % 40_000))
            .collect();
        let text = format!("{{\"resources\": {{{}}}}}", members.join(","));
        let problems = Settings::from_json(text.as_bytes())
            .err()
            .map(|e| e.problems)
            .unwrap_or_default();
        let again: Vec<&String> = problems
            .iter()
            .filter(|p| p.ends_with("given more than once"))
            .collect();
        assert_eq!(again.len(), 10_000);
        assert_eq!(
            again.first().map(|p| p.as_str()),
            Some(r#"resources["k0"]: given more than once"#)
        );
        assert_eq!(
            again.last().map(|p| p.as_str()),
            Some(r#"resources["k9999"]: given more than once"#)
        );
    }

    /// serde_json's private number token (what a Rust tool produces when it writes a
    /// `Value` with `arbitrary_precision` through another format) is not a number: the
    /// problem shows it as written.
    #[test]
    fn another_tools_number_token_is_not_a_quantity() {
        let e = Settings::from_json(
            br#"{"cpu": {"maxLimitRequestRatio": {"$serde_json::private::Number" : "4"}}}"#,
        );
        assert_eq!(
            e.err().map(|e| e.problems),
            Some(vec![r#"cpu.maxLimitRequestRatio: {"$serde_json::private::Number":"4"} is not a Kubernetes quantity (expected a string such as "500m" or a number)"#.to_owned()])
        );
    }

    /// Keys and strings are read unescaped, numbers as written, and a document from a
    /// `Value` (the YAML readers') as that value's JSON text.
    #[test]
    fn escapes_are_read_and_values_read_as_their_text() {
        let text = br#"{"cpu": {"maxLimit": " 2 ", "maxLimitRequestRatio": 1.5e0},
                        "ignoreImages": ["a\"b", "reg/*"], "enforcement": "warn"}"#;
        let s = Settings::from_json(text);
        assert!(s.is_ok(), "{s:?}");
        let s = s.unwrap_or_default();
        let cpu = &s.rules[0];
        assert_eq!(cpu.resource, "cpu");
        assert_eq!(cpu.max_limit.as_ref().map(|b| b.text.as_str()), Some("2"));
        assert_eq!(
            cpu.max_limit_request_ratio
                .as_ref()
                .map(|b| b.text.as_str()),
            Some("1.5e0")
        );
        assert_eq!(cpu.enforcement, super::Enforcement::Warn);
        assert!(s.ignores_image("a\"b") && s.ignores_image("reg/x"));
        // A number as written (serde_json's own tree writes this one as 1.5e+0).
        let value: serde_json::Value = serde_json::from_slice(text).unwrap_or_default();
        let from_value = Settings::from_value(&value).unwrap_or_default();
        assert_eq!(
            from_value.rules[0].max_limit_request_ratio,
            cpu.max_limit_request_ratio.clone().map(|b| super::Bound {
                text: "1.5e+0".into(),
                ..b
            })
        );
        assert_eq!(
            Settings::from_json(b"[1]").err().map(|e| e.problems),
            Some(vec!["settings must be an object, not a list".to_owned()])
        );
    }

    /// Every key is in the settings reference (docs/settings.md), in the policy's own page
    /// (docs/policy.md, what `kwctl inspect` and Artifact Hub show) and in the Rancher UI form
    /// (every top-level key but `resources`, which the form leaves to YAML; every rule key for
    /// cpu).
    #[test]
    fn every_key_is_documented_and_in_the_ui_form() {
        let pages = [
            ("docs/settings.md", include_str!("../docs/settings.md")),
            ("docs/policy.md", include_str!("../docs/policy.md")),
        ];
        let form = include_str!("../questions-ui.yml");
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

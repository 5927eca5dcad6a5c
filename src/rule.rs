//! The rule: every checked container declares requests and limits within the bounds.

use crate::patch::{Addition, Section};
use crate::quantity::Quantity;
use crate::settings::{Bound, ResourceRule, Settings};
use crate::workload::{Container, Kind, PodSpec, QuantityMap, Resources, Text};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// What kind of change is being admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// CREATE or UPDATE of a workload: presence, bounds and defaults.
    Admit,
    /// `pods/resize`: the new values must stay in bounds; nothing is added.
    Resize,
}

/// One thing wrong with one container (or with the pod's own resources).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Where: `spec.template.spec.containers[1]`, or `spec.resources` for the pod level.
    pub path: String,
    /// The container's name, where it has one.
    pub container: Option<String>,
    /// The resource concerned (`cpu`, `memory`, ...).
    pub resource: String,
    /// Whether the problem is with the resource's limit or its request.
    pub section: Section,
    /// What is wrong, with the figures: `memory limit 4Gi exceeds maxLimit 2Gi`.
    pub problem: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.container {
            Some(name) => {
                let quoted = serde_json::to_string(name).map_err(|_| fmt::Error)?;
                write!(f, "{} {quoted}: {}", self.path, self.problem)
            }
            None => write!(f, "{}: {}", self.path, self.problem),
        }
    }
}

impl Violation {
    /// Where the quantity at fault is, or would be written: the path of the `resources` it
    /// belongs to (`spec.containers[1].resources`, `spec.resources` at the pod level) and its
    /// two keys under it, `limits` or `requests` and the resource name (one key: it may hold
    /// dots, `nvidia.com/gpu`). Hosts that know where the input's nodes are show the
    /// violation there.
    pub fn quantity_at(&self) -> (String, [&str; 2]) {
        let resources = if self.path == "resources" || self.path.ends_with(".resources") {
            self.path.clone()
        } else {
            format!("{}.resources", self.path)
        };
        (resources, [self.section.key(), self.resource.as_str()])
    }
}

/// Everything the rule found in one pod spec.
#[derive(Debug, Default)]
pub struct Findings {
    pub violations: Vec<Violation>,
    pub additions: Vec<Addition>,
}

/// Checks every container of a pod spec of the given kind.
pub fn check_pod_spec(settings: &Settings, kind: Kind, spec: &PodSpec<'_>, mode: Mode) -> Findings {
    let mut out = Findings::default();
    let base = kind.pod_spec_path();
    let pointer = kind.pod_spec_pointer();
    let pod = PodLevel::read(settings, spec.resources.as_ref(), base, &mut out);
    let groups = [
        ("initContainers", spec.init_containers.as_deref()),
        ("containers", spec.containers.as_deref()),
    ];
    for (field, containers) in groups {
        let init = field == "initContainers";
        for (i, c) in containers.unwrap_or_default().iter().enumerate() {
            let sidecar = c
                .restart_policy
                .as_ref()
                .is_some_and(|p| p.as_str() == "Always");
            if init && settings.ignore_init_containers && !sidecar {
                continue;
            }
            if c.image
                .as_ref()
                .is_some_and(|img| settings.ignores_image(img.as_str()))
            {
                continue;
            }
            let at = Place {
                path: format!("{base}.{field}[{i}]"),
                pointer: format!("{pointer}/{field}/{i}"),
                name: c.name.as_ref().map(|n| n.as_str().to_owned()),
            };
            check_container(settings, c, &at, &pod, mode, &mut out);
        }
    }
    out
}

/// Where a container is.
struct Place {
    path: String,
    pointer: String,
    name: Option<String>,
}

impl Place {
    fn violation(&self, resource: &str, section: Section, problem: String) -> Violation {
        Violation {
            path: self.path.clone(),
            container: self.name.clone(),
            resource: resource.to_owned(),
            section,
            problem,
        }
    }
}

/// A quantity read from an object: its value and its text as written.
#[derive(Clone)]
struct Written<'a> {
    value: Quantity,
    text: Cow<'a, str>,
}

/// Reads a quantity's raw JSON: a string or a number. `Err` carries the text to show.
fn read_quantity(raw: &RawValue) -> Result<Written<'_>, String> {
    let json = raw.get();
    let text = if json.starts_with('"') {
        // The API server trims white space around a quoted quantity (Quantity.UnmarshalJSON).
        match serde_json::from_str::<Text<'_>>(json) {
            Ok(Text(Cow::Borrowed(t))) => Cow::Borrowed(t.trim()),
            Ok(Text(Cow::Owned(t))) => Cow::Owned(t.trim().to_owned()),
            Err(_) => return Err(shorten(json)),
        }
    } else if json.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        Cow::Borrowed(json)
    } else {
        return Err(shorten(json));
    };
    match Quantity::parse(&text) {
        Ok(value) if text.len() > 64 => Ok(Written {
            value,
            text: Cow::Owned(shorten(&text)),
        }),
        Ok(value) => Ok(Written { value, text }),
        Err(_) => Err(shorten(json)),
    }
}

fn shorten(json: &str) -> String {
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

/// A resource's value from a resource list; `None` when absent or unreadable (reported apart).
fn lookup<'a>(map: Option<&QuantityMap<'a>>, name: &str) -> Option<Written<'a>> {
    map.and_then(|m| m.get(name))
        .and_then(|raw| read_quantity(raw).ok())
}

/// Reports every malformed quantity of a resource list.
fn report_malformed(
    map: Option<&QuantityMap<'_>>,
    section: Section,
    mut report: impl FnMut(&str, String),
) {
    let word = match section {
        Section::Requests => "request",
        Section::Limits => "limit",
    };
    for (name, raw) in map.map(|m| m.0.as_slice()).unwrap_or_default() {
        if raw.get() == "null" {
            continue;
        }
        if let Err(text) = read_quantity(raw) {
            report(
                name.as_str(),
                format!(
                    "{} {word} {text} is not a Kubernetes quantity",
                    shown_name(name.as_str())
                ),
            );
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

/// The pod-level resources (`spec.resources`).
struct PodLevel<'a> {
    resources: Option<&'a Resources<'a>>,
}

impl<'a> PodLevel<'a> {
    fn read(
        settings: &Settings,
        resources: Option<&'a Resources<'a>>,
        base: &str,
        out: &mut Findings,
    ) -> Self {
        if let Some(r) = resources {
            let path = format!("{base}.resources");
            for (section, map) in [
                (Section::Requests, r.requests.as_ref()),
                (Section::Limits, r.limits.as_ref()),
            ] {
                report_malformed(map, section, |resource, problem| {
                    if settings.rules.iter().any(|rule| rule.resource == resource) {
                        out.violations.push(Violation {
                            path: path.clone(),
                            container: None,
                            resource: resource.to_owned(),
                            section,
                            problem,
                        });
                    }
                });
            }
        }
        PodLevel { resources }
    }

    fn limit(&self, name: &str) -> Option<Written<'a>> {
        lookup(self.resources.and_then(|r| r.limits.as_ref()), name)
    }

    /// True when the pod sets this resource at pod level (request or limit).
    fn sets(&self, name: &str) -> bool {
        self.resources.is_some_and(|r| {
            r.limits.as_ref().and_then(|m| m.get(name)).is_some()
                || r.requests.as_ref().and_then(|m| m.get(name)).is_some()
        })
    }
}

fn check_container(
    settings: &Settings,
    c: &Container<'_>,
    at: &Place,
    pod: &PodLevel<'_>,
    mode: Mode,
    out: &mut Findings,
) {
    let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
    for (section, map) in [(Section::Requests, requests), (Section::Limits, limits)] {
        report_malformed(map, section, |resource, problem| {
            out.violations
                .push(at.violation(resource, section, problem));
        });
    }
    for rule in &settings.rules {
        let name = rule.resource.as_str();
        let malformed = |m: Option<&QuantityMap<'_>>| {
            m.and_then(|m| m.get(name))
                .is_some_and(|raw| read_quantity(raw).is_err())
        };
        if malformed(requests) || malformed(limits) {
            continue;
        }
        let own = Own {
            limit: lookup(limits, name),
            request: lookup(requests, name),
        };
        check_resource(rule, own, pod, at, mode, out);
    }
}

/// A container's own values for one resource.
struct Own<'a> {
    limit: Option<Written<'a>>,
    request: Option<Written<'a>>,
}

/// Where the limit that applies to a container comes from.
enum LimitFrom<'a> {
    Own(Written<'a>),
    /// The pod-level limit, for a container without its own.
    Pod(Written<'a>),
    /// `defaultLimit`, added by the mutation.
    Default(&'a Bound),
}

/// Where the request that applies to a container comes from.
enum RequestFrom<'a> {
    Own(Written<'a>),
    /// `defaultRequest`, added by the mutation.
    Default(&'a Bound),
    /// No request: the API server sets it to the container's limit.
    Limit(Quantity, String),
}

fn check_resource<'a>(
    r: &'a ResourceRule,
    own: Own<'a>,
    pod: &PodLevel<'a>,
    at: &Place,
    mode: Mode,
    out: &mut Findings,
) {
    let name = r.resource.as_str();
    // Each problem with the section it is about (where a host shows it).
    let mut problems: Vec<(Section, String)> = Vec::new();
    let pod_sets = pod.sets(name);
    // Nothing is added on a resize, nor where the pod sets the resource at pod level (the
    // containers share the pod's budget there).
    let may_add = mode == Mode::Admit && !pod_sets;
    let mut add = |section: Section, bound: &Bound| {
        out.additions.push(Addition {
            container: at.pointer.clone(),
            section,
            resource: name.to_owned(),
            value: bound.text.clone(),
        })
    };

    let limit = match (own.limit, pod.limit(name), &r.default_limit) {
        (Some(l), _, _) => Some(LimitFrom::Own(l)),
        (None, Some(p), _) => Some(LimitFrom::Pod(p)),
        (None, None, Some(d)) if may_add => {
            add(Section::Limits, d);
            Some(LimitFrom::Default(d))
        }
        _ => None,
    };
    // A container's own limit is also its request where it has none: the API server sets
    // request = limit on every Pod (before admission, and again after a mutation), so the
    // default request only goes where there is no limit of its own, as with a LimitRange.
    // That is also what makes a Deployment's verdict the verdict of the Pods it creates.
    let request = match (own.request, &r.default_request, &limit) {
        (Some(q), _, _) => Some(RequestFrom::Own(q)),
        (None, _, Some(LimitFrom::Own(l))) => Some(RequestFrom::Limit(l.value, l.text.to_string())),
        (None, Some(d), _) if may_add => {
            add(Section::Requests, d);
            Some(RequestFrom::Default(d))
        }
        (None, _, Some(LimitFrom::Default(d))) => Some(RequestFrom::Limit(d.value, d.text.clone())),
        _ => None,
    };

    if mode == Mode::Admit {
        if limit.is_none() && r.require_limit {
            problems.push((Section::Limits, format!("{name} limit is missing")));
        }
        // A missing required limit says it all: setting one also sets the request.
        let limit_reported = limit.is_none() && r.require_limit;
        if request.is_none() && r.require_request && !pod_sets && !limit_reported {
            problems.push((Section::Requests, format!("{name} request is missing")));
        }
    }

    // A default limit must not leave the request above the limit. (A default request never
    // meets a limit of the container's own, nor a pod-level one: it is not added there.)
    match (&limit, &request) {
        (Some(LimitFrom::Default(d)), Some(RequestFrom::Own(q))) if q.value > d.value => {
            // Shown at the request: the default limit is not written anywhere.
            problems.push((
                Section::Requests,
                format!(
                    "default {name} limit {} would be below its request {}",
                    d.text, q.text
                ),
            ));
        }
        _ => {}
    }

    if !r.ignore_values {
        if let Some(LimitFrom::Own(l) | LimitFrom::Pod(l)) = &limit {
            let from = if matches!(limit, Some(LimitFrom::Pod(_))) {
                " (the pod-level limit)"
            } else {
                ""
            };
            let t = &l.text;
            if l.value.is_negative() {
                problems.push((Section::Limits, format!("{name} limit {t} is negative")));
            } else if l.value.is_zero() && r.require_limit && (name == "cpu" || name == "memory") {
                problems.push((
                    Section::Limits,
                    format!("{name} limit {t} is zero, which Kubernetes treats as no limit"),
                ));
            } else {
                if let Some(m) = r.min_limit.as_ref().filter(|m| l.value < m.value) {
                    problems.push((
                        Section::Limits,
                        format!("{name} limit {t}{from} is below minLimit {}", m.text),
                    ));
                }
                if let Some(m) = r.max_limit.as_ref().filter(|m| l.value > m.value) {
                    problems.push((
                        Section::Limits,
                        format!("{name} limit {t}{from} exceeds maxLimit {}", m.text),
                    ));
                }
            }
        }
        let req = match &request {
            Some(RequestFrom::Own(q)) => Some((q.value, q.text.as_ref(), "")),
            Some(RequestFrom::Limit(v, t)) => Some((*v, t.as_str(), " (taken from its limit)")),
            _ => None,
        };
        if let Some((v, t, from)) = req {
            if v.is_negative() {
                if from.is_empty() {
                    problems.push((Section::Requests, format!("{name} request {t} is negative")));
                }
            } else {
                if let Some(m) = r.min_request.as_ref().filter(|m| v < m.value) {
                    problems.push((
                        Section::Requests,
                        format!("{name} request {t}{from} is below minRequest {}", m.text),
                    ));
                }
                if let Some(m) = r.max_request.as_ref().filter(|m| v > m.value) {
                    problems.push((
                        Section::Requests,
                        format!("{name} request {t}{from} exceeds maxRequest {}", m.text),
                    ));
                }
            }
        }
        if let Some(ratio) = &r.max_limit_request_ratio {
            let l = match &limit {
                Some(LimitFrom::Own(l)) => Some((l.value, l.text.as_ref())),
                Some(LimitFrom::Default(d)) => Some((d.value, d.text.as_str())),
                _ => None,
            };
            let q = match &request {
                Some(RequestFrom::Own(q)) => Some((q.value, q.text.as_ref())),
                Some(RequestFrom::Default(d)) => Some((d.value, d.text.as_str())),
                _ => None,
            };
            if let (Some((lv, lt)), Some((qv, qt))) = (l, q) {
                if !lv.is_negative()
                    && !qv.is_negative()
                    && !lv.is_zero()
                    && !lv.at_most_times(ratio.value, qv)
                {
                    problems.push((
                        Section::Limits,
                        format!(
                            "{name} limit {lt} is more than maxLimitRequestRatio {} times its request {qt}",
                            ratio.text
                        ),
                    ));
                }
            }
        }
    }
    out.violations.extend(
        problems
            .into_iter()
            .map(|(section, p)| at.violation(name, section, p)),
    );
}

#[cfg(test)]
mod tests {
    use super::{Section, Violation};
    use crate::{evaluate, Settings};

    fn violation(path: &str, resource: &str, section: Section, problem: &str) -> Violation {
        Violation {
            path: path.into(),
            container: None,
            resource: resource.into(),
            section,
            problem: problem.into(),
        }
    }

    #[test]
    fn a_violation_says_where_its_quantity_is() {
        let at = |v: &Violation| {
            let (resources, [section, name]) = v.quantity_at();
            format!("{resources} {section} {name}")
        };
        let cases = [
            (
                violation(
                    "spec.containers[1]",
                    "memory",
                    Section::Limits,
                    "memory limit 4Gi exceeds maxLimit 2Gi",
                ),
                "spec.containers[1].resources limits memory",
            ),
            (
                violation(
                    "spec.containers[0]",
                    "cpu",
                    Section::Requests,
                    "cpu request 10m is below minRequest 50m",
                ),
                "spec.containers[0].resources requests cpu",
            ),
            (
                violation(
                    "spec.containers[0]",
                    "cpu",
                    Section::Limits,
                    "cpu limit 4 is more than maxLimitRequestRatio 2 times its request 1",
                ),
                "spec.containers[0].resources limits cpu",
            ),
            (
                violation(
                    "spec.resources",
                    "nvidia.com/gpu",
                    Section::Limits,
                    "nvidia.com/gpu limit is missing",
                ),
                "spec.resources limits nvidia.com/gpu",
            ),
            (
                violation(
                    "spec.initContainers[0]",
                    "",
                    Section::Limits,
                    "\"\" limit x is not a Kubernetes quantity",
                ),
                "spec.initContainers[0].resources limits ",
            ),
        ];
        for (v, want) in &cases {
            assert_eq!(at(v), *want, "{v}");
        }
        // And as the rule words its findings.
        let settings = Settings::from_json(
            br#"{"memory": {"maxLimit": "1Gi"}, "cpu": {"minRequest": "100m"}}"#,
        );
        let request = br#"{"uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
            "object": {"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "x",
            "resources": {"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "10m"}}}]}}}"#;
        let verdict = settings.map(|s| evaluate(&s, request));
        let found: Vec<String> = verdict
            .map(|v| v.violations.iter().map(at).collect())
            .unwrap_or_default();
        assert_eq!(
            found,
            [
                "spec.containers[0].resources requests cpu",
                "spec.containers[0].resources limits memory"
            ],
            "{found:?}"
        );
    }
}

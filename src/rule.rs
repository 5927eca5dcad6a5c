//! The rule: every checked container declares requests and limits within the bounds.

use crate::finding::{shorten, Origin, Problem, Violation};
use crate::location::Location;
use crate::patch::{Addition, Section};
use crate::quantity::Quantity;
use crate::settings::{Bound, Enforcement, ResourceRule, Settings};
use crate::warning::{Notice, Warning};
use crate::webhook::Webhook;
use crate::workload::{Container, Kind, PodSpec, QuantityMap, Resources, Text};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// What kind of change is being admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// CREATE or UPDATE of a workload: presence, bounds and defaults.
    Admit,
    /// `pods/resize`: the new values must stay in bounds; nothing is added.
    Resize,
}

/// How one container is judged: the kind of change admitted and what the answer may do.
#[derive(Clone, Copy)]
struct Context {
    mode: Mode,
    webhook: Webhook,
}

/// Everything the rule found in one pod spec.
#[derive(Debug, Default)]
pub struct Findings {
    /// What is wrong, container by container.
    pub violations: Vec<Violation>,
    /// The defaults to add, where nothing is wrong.
    pub additions: Vec<Addition>,
    /// With [`Webhook::Validating`], the values a default would fill, as violations
    /// ([`Problem::NotDefaulted`]) in place of [`Findings::additions`]; otherwise empty.
    pub not_defaulted: Vec<Violation>,
    /// What the client should know: each default added (with [`Webhook::Mutating`]), quantities
    /// that look like typos, requests above their limits.
    pub warnings: Vec<Warning>,
}

/// Checks every container of a pod spec of the given kind. The verdict is the same for both
/// kinds of [`Webhook`]: with [`Webhook::Validating`] each default due is reported in
/// [`Findings::not_defaulted`] instead of being added.
pub fn check_pod_spec(
    settings: &Settings,
    kind: Kind,
    spec: &PodSpec<'_>,
    mode: Mode,
    webhook: Webhook,
) -> Findings {
    let mut out = Findings::default();
    let base = kind.pod_spec_location();
    let pod = PodLevel::read(settings, spec.resources.as_ref(), &base, &mut out);
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
                || c.name
                    .as_ref()
                    .is_some_and(|n| settings.ignores_container(n.as_str()))
            {
                continue;
            }
            let at = Place {
                location: base.field(field).index(i),
                name: c.name.as_ref().map(|n| n.as_str().to_owned()),
            };
            check_container(settings, c, &at, &pod, Context { mode, webhook }, &mut out);
        }
    }
    out
}

/// Where a container is.
struct Place {
    location: Location,
    name: Option<String>,
}

impl Place {
    fn violation(&self, problem: Problem) -> Violation {
        Violation {
            location: self.location.clone(),
            container: self.name.clone(),
            problem,
        }
    }

    fn warning(&self, notice: Notice) -> Warning {
        Warning {
            location: self.location.clone(),
            container: self.name.clone(),
            notice,
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

/// A resource's value from a resource list; `None` when absent or unreadable (reported apart).
fn lookup<'a>(map: Option<&QuantityMap<'a>>, name: &str) -> Option<Written<'a>> {
    map.and_then(|m| m.get(name))
        .and_then(|raw| read_quantity(raw).ok())
}

/// Reports every malformed quantity of a resource list.
fn report_malformed(
    map: Option<&QuantityMap<'_>>,
    section: Section,
    mut report: impl FnMut(Problem),
) {
    for (name, raw) in map.map(|m| m.0.as_slice()).unwrap_or_default() {
        if raw.get() == "null" {
            continue;
        }
        if let Err(written) = read_quantity(raw) {
            report(Problem::Malformed {
                resource: name.as_str().to_owned(),
                section,
                written,
            });
        }
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
        base: &Location,
        out: &mut Findings,
    ) -> Self {
        if let Some(r) = resources {
            let location = base.field("resources");
            for (section, map) in [
                (Section::Requests, r.requests.as_ref()),
                (Section::Limits, r.limits.as_ref()),
            ] {
                report_malformed(map, section, |problem| {
                    if settings
                        .rules
                        .iter()
                        .any(|rule| rule.resource == problem.resource())
                    {
                        out.violations.push(Violation {
                            location: location.clone(),
                            container: None,
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
    context: Context,
    out: &mut Findings,
) {
    // Each quantity is read once, though the malformed check, the rules and the bounds all
    // look at it.
    let requests = ReadList::new(c.resources.as_ref().and_then(|r| r.requests.as_ref()));
    let limits = ReadList::new(c.resources.as_ref().and_then(|r| r.limits.as_ref()));
    for (section, list) in [(Section::Requests, &requests), (Section::Limits, &limits)] {
        list.report_malformed(section, |problem| {
            out.violations.push(at.violation(problem));
        });
    }
    for rule in &settings.rules {
        let name = rule.resource.as_str();
        let malformed = |list: &ReadList<'_, '_>| list.get(name).is_some_and(Result::is_err);
        if malformed(&requests) || malformed(&limits) {
            continue;
        }
        let own = Own {
            limit: limits.written(name),
            request: requests.written(name),
        };
        check_resource(rule, own, pod, at, context, out);
    }
}

/// A container's resource list with each quantity read once, in the list's order.
struct ReadList<'m, 'a> {
    entries: &'m [(Text<'a>, &'a RawValue)],
    read: Vec<Result<Written<'a>, String>>,
}

impl<'m, 'a> ReadList<'m, 'a> {
    fn new(map: Option<&'m QuantityMap<'a>>) -> Self {
        let entries = map.map(|m| m.0.as_slice()).unwrap_or_default();
        let read = entries.iter().map(|(_, raw)| read_quantity(raw)).collect();
        ReadList { entries, read }
    }

    /// What a resource's quantity read to; `None` when absent or `null`, as
    /// [`QuantityMap::get`].
    fn get(&self, name: &str) -> Option<&Result<Written<'a>, String>> {
        let i = self
            .entries
            .iter()
            .position(|(k, v)| k.as_str() == name && v.get() != "null")?;
        self.read.get(i)
    }

    /// A resource's value; `None` when absent or unreadable (reported apart), as [`lookup`].
    fn written(&self, name: &str) -> Option<Written<'a>> {
        self.get(name).and_then(|r| r.as_ref().ok()).cloned()
    }

    /// Reports every malformed quantity, as [`report_malformed`].
    fn report_malformed(&self, section: Section, mut report: impl FnMut(Problem)) {
        for ((name, raw), read) in self.entries.iter().zip(&self.read) {
            if raw.get() == "null" {
                continue;
            }
            if let Err(written) = read {
                report(Problem::Malformed {
                    resource: name.as_str().to_owned(),
                    section,
                    written: written.clone(),
                });
            }
        }
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

/// Checks one resource of one container: which limit and request apply (adding the
/// defaults due), then each kind of problem in turn.
fn check_resource<'a>(
    r: &'a ResourceRule,
    own: Own<'a>,
    pod: &PodLevel<'a>,
    at: &Place,
    context: Context,
    out: &mut Findings,
) {
    let name = r.resource.as_str();
    let pod_sets = pod.sets(name);
    // Nothing is added on a resize, nor where the pod sets the resource at pod level (the
    // containers share the pod's budget there).
    let Context { mode, webhook } = context;
    let may_add = mode == Mode::Admit && !pod_sets;
    let soft = r.enforcement == Enforcement::Warn;
    notices(name, &own, at, &mut out.warnings);
    let (limit, request) = applicable(r, own, pod, may_add, |section, bound| match webhook {
        Webhook::Mutating => {
            out.additions.push(Addition {
                container: at.location.clone(),
                section,
                resource: name.to_owned(),
                value: bound.text.clone(),
            });
            out.warnings.push(at.warning(Notice::DefaultAdded {
                resource: name.to_owned(),
                section,
                value: bound.text.clone(),
            }));
        }
        // The default is still taken as the value for the other checks, so that the
        // verdict is the mutating webhook's; only the addition becomes a violation (a
        // warning, where the rule only warns).
        Webhook::Validating => {
            let problem = Problem::NotDefaulted {
                resource: name.to_owned(),
                section,
                default: bound.text.clone(),
            };
            if soft {
                out.warnings.push(at.warning(Notice::NotEnforced(problem)));
            } else {
                out.not_defaulted.push(at.violation(problem));
            }
        }
    });
    let mut problems = Vec::new();
    if mode == Mode::Admit {
        presence(r, &limit, &request, pod_sets, &mut problems);
    }
    if let (true, Some(LimitFrom::Own(l))) = (r.forbid_limit, &limit) {
        problems.push(Problem::LimitForbidden {
            resource: name.to_owned(),
            value: l.text.to_string(),
        });
    }
    default_below_request(name, &limit, &request, &mut problems);
    if !r.ignore_values {
        limit_bounds(r, &limit, &mut problems);
        request_bounds(r, &request, &mut problems);
        ratio(r, &limit, &request, &mut problems);
    }
    for problem in problems {
        // A default below the request is always a rejection: the mutation would make an
        // object the API server refuses.
        if soft && !matches!(problem, Problem::DefaultLimitBelowRequest { .. }) {
            out.warnings.push(at.warning(Notice::NotEnforced(problem)));
        } else {
            out.violations.push(at.violation(problem));
        }
    }
}

/// The warnings about a container's own values: a memory-like quantity in milli-units, a
/// request above its limit.
fn notices(name: &str, own: &Own<'_>, at: &Place, warnings: &mut Vec<Warning>) {
    let bytes = name == "memory" || name == "ephemeral-storage" || name.starts_with("hugepages-");
    for (section, q) in [
        (Section::Requests, &own.request),
        (Section::Limits, &own.limit),
    ] {
        let Some(q) = q.as_ref().filter(|q| bytes && !q.value.is_zero()) else {
            continue;
        };
        if let Some(number) = q.text.strip_suffix('m') {
            warnings.push(at.warning(Notice::MilliUnits {
                resource: name.to_owned(),
                section,
                value: q.text.to_string(),
                bytes: q.value.to_decimal(),
                meant: format!("{number}Mi"),
            }));
        }
    }
    if let (Some(l), Some(q)) = (&own.limit, &own.request) {
        if q.value > l.value && !l.value.is_negative() {
            warnings.push(at.warning(Notice::RequestAboveLimit {
                resource: name.to_owned(),
                request: q.text.to_string(),
                limit: l.text.to_string(),
            }));
        }
    }
}

/// The limit and the request that apply to a container, and the defaults to add for them.
fn applicable<'a>(
    r: &'a ResourceRule,
    own: Own<'a>,
    pod: &PodLevel<'a>,
    may_add: bool,
    mut add: impl FnMut(Section, &'a Bound),
) -> (Option<LimitFrom<'a>>, Option<RequestFrom<'a>>) {
    let name = r.resource.as_str();
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
    (limit, request)
}

/// A required limit or request that is missing.
fn presence(
    r: &ResourceRule,
    limit: &Option<LimitFrom<'_>>,
    request: &Option<RequestFrom<'_>>,
    pod_sets: bool,
    problems: &mut Vec<Problem>,
) {
    let resource = || r.resource.clone();
    if limit.is_none() && r.require_limit {
        problems.push(Problem::Missing {
            resource: resource(),
            section: Section::Limits,
        });
    }
    // A missing required limit says it all: setting one also sets the request.
    let limit_reported = limit.is_none() && r.require_limit;
    if request.is_none() && r.require_request && !pod_sets && !limit_reported {
        problems.push(Problem::Missing {
            resource: resource(),
            section: Section::Requests,
        });
    }
}

/// A default limit must not leave the request above the limit. (A default request never
/// meets a limit of the container's own, nor a pod-level one: it is not added there.)
fn default_below_request(
    name: &str,
    limit: &Option<LimitFrom<'_>>,
    request: &Option<RequestFrom<'_>>,
    problems: &mut Vec<Problem>,
) {
    if let (Some(LimitFrom::Default(d)), Some(RequestFrom::Own(q))) = (limit, request) {
        if q.value > d.value {
            problems.push(Problem::DefaultLimitBelowRequest {
                resource: name.to_owned(),
                default: d.text.clone(),
                request: q.text.to_string(),
            });
        }
    }
}

/// The limit written (the container's own or the pod's) against its bounds.
fn limit_bounds(r: &ResourceRule, limit: &Option<LimitFrom<'_>>, problems: &mut Vec<Problem>) {
    let (l, origin) = match limit {
        Some(LimitFrom::Own(l)) => (l, Origin::Own),
        Some(LimitFrom::Pod(l)) => (l, Origin::PodLevel),
        _ => return,
    };
    let name = r.resource.as_str();
    let resource = || r.resource.clone();
    let value = || l.text.to_string();
    if l.value.is_negative() {
        problems.push(Problem::Negative {
            resource: resource(),
            section: Section::Limits,
            value: value(),
        });
        return;
    }
    if l.value.is_zero() && r.require_limit && (name == "cpu" || name == "memory") {
        problems.push(Problem::ZeroLimit {
            resource: resource(),
            value: value(),
        });
        return;
    }
    if let Some(m) = r.min_limit.as_ref().filter(|m| l.value < m.value) {
        problems.push(Problem::BelowMin {
            resource: resource(),
            section: Section::Limits,
            value: value(),
            origin,
            bound: m.text.clone(),
        });
    }
    if let Some(m) = r.max_limit.as_ref().filter(|m| l.value > m.value) {
        problems.push(Problem::AboveMax {
            resource: resource(),
            section: Section::Limits,
            value: value(),
            origin,
            bound: m.text.clone(),
        });
    }
}

/// The request written (or taken from the limit) against its bounds.
fn request_bounds(
    r: &ResourceRule,
    request: &Option<RequestFrom<'_>>,
    problems: &mut Vec<Problem>,
) {
    let (v, t, origin) = match request {
        Some(RequestFrom::Own(q)) => (q.value, q.text.as_ref(), Origin::Own),
        Some(RequestFrom::Limit(v, t)) => (*v, t.as_str(), Origin::FromLimit),
        _ => return,
    };
    let resource = || r.resource.clone();
    if v.is_negative() {
        // A negative limit taken as the request is reported at the limit.
        if origin == Origin::Own {
            problems.push(Problem::Negative {
                resource: resource(),
                section: Section::Requests,
                value: t.to_owned(),
            });
        }
        return;
    }
    if let Some(m) = r.min_request.as_ref().filter(|m| v < m.value) {
        problems.push(Problem::BelowMin {
            resource: resource(),
            section: Section::Requests,
            value: t.to_owned(),
            origin,
            bound: m.text.clone(),
        });
    }
    if let Some(m) = r.max_request.as_ref().filter(|m| v > m.value) {
        problems.push(Problem::AboveMax {
            resource: resource(),
            section: Section::Requests,
            value: t.to_owned(),
            origin,
            bound: m.text.clone(),
        });
    }
}

/// The limit against `maxLimitRequestRatio` times the request (own or default values).
fn ratio(
    r: &ResourceRule,
    limit: &Option<LimitFrom<'_>>,
    request: &Option<RequestFrom<'_>>,
    problems: &mut Vec<Problem>,
) {
    let Some(ratio) = &r.max_limit_request_ratio else {
        return;
    };
    let l = match limit {
        Some(LimitFrom::Own(l)) => Some((l.value, l.text.as_ref())),
        Some(LimitFrom::Default(d)) => Some((d.value, d.text.as_str())),
        _ => None,
    };
    let q = match request {
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
            problems.push(Problem::RatioExceeded {
                resource: r.resource.clone(),
                limit: lt.to_owned(),
                request: qt.to_owned(),
                ratio: ratio.text.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Section;
    use crate::finding::{Origin, Problem, Violation};
    use crate::location::Location;
    use crate::Settings;

    fn violation(location: Location, problem: Problem) -> Violation {
        Violation {
            location,
            container: None,
            problem,
        }
    }

    #[test]
    fn a_violation_says_where_its_quantity_is() {
        let at = |v: &Violation| v.quantity_location().to_string();
        let containers = |i| Location::of_fields(&["spec", "containers"]).index(i);
        let cases = [
            (
                violation(
                    containers(1),
                    Problem::AboveMax {
                        resource: "memory".into(),
                        section: Section::Limits,
                        value: "4Gi".into(),
                        origin: Origin::Own,
                        bound: "2Gi".into(),
                    },
                ),
                "spec.containers[1].resources.limits.memory",
                "spec.containers[1]: memory limit 4Gi exceeds maxLimit 2Gi",
            ),
            (
                violation(
                    containers(0),
                    Problem::BelowMin {
                        resource: "cpu".into(),
                        section: Section::Requests,
                        value: "10m".into(),
                        origin: Origin::FromLimit,
                        bound: "50m".into(),
                    },
                ),
                "spec.containers[0].resources.requests.cpu",
                "spec.containers[0]: cpu request 10m (taken from its limit) is below minRequest 50m",
            ),
            (
                violation(
                    containers(0),
                    Problem::RatioExceeded {
                        resource: "cpu".into(),
                        limit: "4".into(),
                        request: "1".into(),
                        ratio: "2".into(),
                    },
                ),
                "spec.containers[0].resources.limits.cpu",
                "spec.containers[0]: cpu limit 4 is more than maxLimitRequestRatio 2 times its request 1",
            ),
            (
                violation(
                    Location::of_fields(&["spec", "resources"]),
                    Problem::Missing {
                        resource: "nvidia.com/gpu".into(),
                        section: Section::Limits,
                    },
                ),
                "spec.resources.limits.nvidia.com/gpu",
                "spec.resources: nvidia.com/gpu limit is missing",
            ),
            (
                violation(
                    Location::of_fields(&["spec", "initContainers"]).index(0),
                    Problem::Malformed {
                        resource: "".into(),
                        section: Section::Limits,
                        written: "x".into(),
                    },
                ),
                "spec.initContainers[0].resources.limits.",
                "spec.initContainers[0]: \"\" limit x is not a Kubernetes quantity",
            ),
            (
                violation(
                    containers(2),
                    Problem::DefaultLimitBelowRequest {
                        resource: "memory".into(),
                        default: "1Gi".into(),
                        request: "2Gi".into(),
                    },
                ),
                "spec.containers[2].resources.requests.memory",
                "spec.containers[2]: default memory limit 1Gi would be below its request 2Gi",
            ),
            (
                violation(
                    containers(0),
                    Problem::NotDefaulted {
                        resource: "memory".into(),
                        section: Section::Requests,
                        default: "64Mi".into(),
                    },
                ),
                "spec.containers[0].resources.requests.memory",
                "spec.containers[0]: memory request is missing (defaultRequest 64Mi is added only by the mutating webhook)",
            ),
        ];
        for (v, want, message) in &cases {
            assert_eq!(at(v), *want, "{v}");
            assert_eq!(v.to_string(), *message);
        }
        assert_eq!(
            cases[3].0.quantity_location().pointer(),
            "/spec/resources/limits/nvidia.com~1gpu"
        );
        // And as the rule words its findings.
        let settings = Settings::from_json(
            br#"{"memory": {"maxLimit": "1Gi"}, "cpu": {"minRequest": "100m"}}"#,
        );
        let request = br#"{"uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
            "object": {"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "x",
            "resources": {"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "10m"}}}]}}}"#;
        let verdict = settings.map(|s| crate::review::tests::verdict_of(&s, request));
        let found: Vec<String> = verdict
            .map(|v| v.violations().iter().map(at).collect())
            .unwrap_or_default();
        assert_eq!(
            found,
            [
                "spec.containers[0].resources.requests.cpu",
                "spec.containers[0].resources.limits.memory"
            ],
            "{found:?}"
        );
    }
}

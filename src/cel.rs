//! The settings compiled to the API server's own admission policies (Kubernetes 1.36+,
//! `admissionregistration.k8s.io/v1`): a ValidatingAdmissionPolicy for the rules that deny, one
//! for the rules that only warn, and a MutatingAdmissionPolicy for the defaults, each with its
//! binding. The API server then judges in its own process, with no webhook.
//!
//! The expressions follow `rule.rs` step by step, container by container and rule by rule in
//! the core's order, so that the message of a refusal is the webhook's, word for word: which
//! limit and request apply (the container's own, the pod-level limit, the request taken from
//! the limit, a default), then presence, `forbidLimit`, a default limit below the request,
//! the bounds of the limit and of the request, and the ratio. Quantities are compared with the
//! API server's quantity library (`quantity(...).compareTo`, exact); the ratio by adding
//! quantities (CEL has no multiplication of quantities), so it must be a small fraction.
//!
//! What the API server does before the policies run shapes what they see: the mutating policy
//! adds the defaults before the validating one judges (so there the defaults are the
//! container's own values), a Pod's requests are already defaulted to its limits, and the
//! object is already validated (no malformed or negative quantity, no request above its
//! limit, every container named). Where a default is left to the Pods (a ReplicaSet that a
//! controller owns) the validating policy counts the defaults as present, as the webhook does.

use crate::settings::{Bound, Enforcement, ImagePattern, ResourceRule, Settings};
use serde_json::{json, Value};
use std::fmt;
use std::fmt::Write as _;

/// At most this many additions of a quantity to itself, to compare a limit with
/// `maxLimitRequestRatio` times a request.
const MAX_ADDITIONS: u64 = 64;

/// Settings the API server's policies cannot judge exactly as the core does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportError {
    /// The policies' name is not a Kubernetes object name.
    Name(String),
    /// A `maxLimitRequestRatio` that is not a small enough fraction.
    Ratio {
        /// The resource.
        resource: String,
        /// The ratio as written.
        ratio: String,
    },
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Name(name) => write!(
                f,
                "{name:?} is not a valid name: lower-case letters, digits, '-' and '.', at most 240 characters, starting and ending with a letter or digit"
            ),
            ExportError::Ratio { resource, ratio } => write!(
                f,
                "{resource}.maxLimitRequestRatio {ratio} cannot be compiled exactly: CEL can only add quantities, so the ratio must be a fraction whose numerator and denominator are at most {MAX_ADDITIONS} (like 4, 1.5 or 2.25)"
            ),
        }
    }
}

impl std::error::Error for ExportError {}

/// The policies and bindings for these settings, in the order to apply them: the mutating
/// policy (when a rule has a default) and its binding, the validating policy for the rules that
/// deny and its binding, the one for the rules that only warn and its binding.
pub fn export(settings: &Settings, name: &str) -> Result<Vec<Value>, ExportError> {
    if !valid_name(name) {
        return Err(ExportError::Name(name.to_owned()));
    }
    let ratios = settings
        .rules
        .iter()
        .map(|r| {
            r.max_limit_request_ratio
                .as_ref()
                .map(|b| {
                    fraction(b).ok_or_else(|| ExportError::Ratio {
                        resource: r.resource.clone(),
                        ratio: b.text.clone(),
                    })
                })
                .transpose()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let compiler = Compiler { settings, ratios };
    let mut out = Vec::new();
    if settings
        .rules
        .iter()
        .any(|r| r.default_limit.is_some() || r.default_request.is_some())
    {
        let map = format!("{name}-defaults");
        out.push(compiler.mutating_policy(&map));
        out.push(binding("MutatingAdmissionPolicyBinding", &map, None));
    }
    for (enforcement, policy, action) in [
        (Enforcement::Deny, name.to_owned(), "Deny"),
        (Enforcement::Warn, format!("{name}-warn"), "Warn"),
    ] {
        if let Some(vap) = compiler.validating_policy(&policy, enforcement) {
            out.push(vap);
            out.push(binding(
                "ValidatingAdmissionPolicyBinding",
                &policy,
                Some(action),
            ));
        }
    }
    Ok(out)
}

/// A DNS subdomain of at most 240 characters (room for `-defaults` and the like).
fn valid_name(name: &str) -> bool {
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = name.as_bytes();
    !name.is_empty()
        && name.len() <= 240
        && bytes.first().copied().is_some_and(ok)
        && bytes.last().copied().is_some_and(ok)
        && bytes.iter().all(|&b| ok(b) || b == b'-' || b == b'.')
}

/// A ratio as numerator and denominator, each at most [`MAX_ADDITIONS`].
fn fraction(bound: &Bound) -> Option<(u64, u64)> {
    let decimal = bound.value.to_decimal();
    let (whole, frac) = decimal.split_once('.').unwrap_or((decimal.as_str(), ""));
    let digits = format!("{whole}{frac}");
    let mut numerator: u128 = digits.parse().ok()?;
    let mut denominator: u128 = 10u128.checked_pow(u32::try_from(frac.len()).ok()?)?;
    let g = gcd(numerator, denominator);
    if g > 1 {
        numerator /= g;
        denominator /= g;
    }
    let small = |n: u128| (1..=u128::from(MAX_ADDITIONS)).contains(&n);
    let n = u64::try_from(numerator).ok()?;
    let d = u64::try_from(denominator).ok()?;
    (small(numerator) && small(denominator)).then_some((n, d))
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A CEL string literal.
fn lit(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A JSON pointer token.
fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn binding(kind: &str, policy: &str, action: Option<&str>) -> Value {
    let mut spec = json!({ "policyName": policy });
    if let Some(action) = action {
        spec["validationActions"] = json!([action]);
    }
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": { "name": policy, "labels": labels() },
        "spec": spec,
    })
}

fn labels() -> Value {
    json!({ "app.kubernetes.io/managed-by": "resource-limits-export-cel" })
}

/// The resources the policies match: every checked kind, created or updated.
fn match_constraints(with_resize: bool) -> Value {
    let mut core = vec!["pods", "podtemplates", "replicationcontrollers"];
    if with_resize {
        core.insert(1, "pods/resize");
    }
    let rules: Vec<Value> = [
        ("", core),
        (
            "apps",
            vec!["deployments", "replicasets", "statefulsets", "daemonsets"],
        ),
        ("batch", vec!["jobs", "cronjobs"]),
    ]
    .into_iter()
    .map(|(group, resources)| {
        json!({
            "apiGroups": [group],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": resources,
        })
    })
    .collect();
    json!({ "resourceRules": rules })
}

/// The requests the webhook leaves untouched: a Pod's own UPDATE (resources change only
/// through `pods/resize`), and the UPDATE of a ReplicaSet that a controller owns.
fn match_conditions(mutating: bool) -> Value {
    let mut conditions = vec![
        json!({
            "name": "not-a-pod-update",
            "expression": "!(request.kind.kind == 'Pod' && request.operation == 'UPDATE' && request.?subResource.orValue('') != 'resize')",
        }),
        json!({
            "name": "not-a-controlled-replicaset-update",
            "expression": format!("!(request.kind.kind == 'ReplicaSet' && request.operation == 'UPDATE' && {CONTROLLED})"),
        }),
    ];
    if mutating {
        // Its defaults are left to its Pods: the controller compares its template with its
        // Deployment's and would loop on a mutated one.
        conditions.push(json!({
            "name": "not-a-controlled-replicaset",
            "expression": format!("!(request.kind.kind == 'ReplicaSet' && {CONTROLLED})"),
        }));
    }
    Value::Array(conditions)
}

const CONTROLLED: &str =
    "object.metadata.?ownerReferences.orValue([]).exists(r, r.?controller.orValue(false))";

/// The variables every policy starts with: the pod spec, where it is, whether the request
/// admits (rather than resizes).
fn base_variables() -> Vec<Value> {
    vec![
        json!({"name": "spec", "expression": "request.kind.kind == 'Pod' ? object.spec : request.kind.kind == 'PodTemplate' ? object.template.spec : request.kind.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec"}),
        json!({"name": "at", "expression": "request.kind.kind == 'Pod' ? 'spec' : request.kind.kind == 'PodTemplate' ? 'template.spec' : request.kind.kind == 'CronJob' ? 'spec.jobTemplate.spec.template.spec' : 'spec.template.spec'"}),
        json!({"name": "admit", "expression": "request.?subResource.orValue('') != 'resize'"}),
    ]
}

struct Compiler<'a> {
    settings: &'a Settings,
    /// Each rule's ratio as a fraction.
    ratios: Vec<Option<(u64, u64)>>,
}

/// One resource's lookups in a container `c`, as CEL.
struct Lookups {
    own_limit: String,
    own_request: String,
    pod_limit: String,
    /// The pod sets the resource (request or limit) at pod level.
    pod_sets: String,
    /// Defaults may be added: admitting, and the pod does not set the resource.
    may_add: String,
}

impl Lookups {
    fn of(resource: &str) -> Lookups {
        let r = lit(resource);
        let pod_limit = format!("variables.spec.?resources.?limits[?{r}]");
        let pod_sets = format!(
            "({pod_limit}.hasValue() || variables.spec.?resources.?requests[?{r}].hasValue())"
        );
        Lookups {
            own_limit: format!("c.?resources.?limits[?{r}]"),
            own_request: format!("c.?resources.?requests[?{r}]"),
            may_add: format!("(variables.admit && !{pod_sets})"),
            pod_limit,
            pod_sets,
        }
    }
}

/// `cond ? [message] : []`.
fn item(cond: &str, message: &str) -> String {
    format!("({cond} ? [{message}] : [])")
}

/// `q(a) < q(b)` and the like, exact.
fn compare(a: &str, op: &str, b: &str) -> String {
    format!("quantity({a}).compareTo(quantity({b})) {op} 0")
}

/// `q` added to itself `n` times.
fn times(q: &str, n: u64) -> String {
    let mut out = format!("quantity({q})");
    for _ in 1..n {
        let _ = write!(out, ".add(quantity({q}))");
    }
    out
}

impl Compiler<'_> {
    /// Whether a container (`c`) of the given group is checked at all.
    fn checked(&self, init: bool) -> String {
        let s = self.settings;
        let mut parts = Vec::new();
        if init && s.ignore_init_containers {
            // Sidecars (restartPolicy: Always) are checked all the same.
            parts.push("c.?restartPolicy.orValue('') == 'Always'".to_owned());
        }
        for (field, patterns) in [("image", &s.ignore_images), ("name", &s.ignore_containers)] {
            for p in patterns {
                let test = match p {
                    ImagePattern::Exact(x) => format!("c.{field} == {}", lit(x)),
                    ImagePattern::Prefix(x) => format!("c.{field}.startsWith({})", lit(x)),
                };
                parts.push(format!("!(has(c.{field}) && {test})"));
            }
        }
        if parts.is_empty() {
            "true".to_owned()
        } else {
            parts.join(" && ")
        }
    }

    /// Each container of a group with its messages: `list(list(string))`.
    fn per_container(&self, init: bool, body: &str) -> String {
        let field = if init { "initContainers" } else { "containers" };
        format!(
            "variables.spec.?{field}.orValue([]).transformList(i, c, {}, {body})",
            self.checked(init)
        )
    }

    /// The validating policy for the rules of one enforcement, if any rule has it.
    fn validating_policy(&self, name: &str, enforcement: Enforcement) -> Option<Value> {
        let rules: Vec<(usize, &ResourceRule)> = self
            .settings
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.enforcement == enforcement)
            .collect();
        // A default below the request is refused even under a rule that only warns.
        let refused_anyway: Vec<(usize, &ResourceRule)> = match enforcement {
            Enforcement::Deny => self
                .settings
                .rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.enforcement == Enforcement::Warn && r.default_limit.is_some())
                .collect(),
            Enforcement::Warn => Vec::new(),
        };
        if rules.is_empty() && refused_anyway.is_empty() {
            return None;
        }
        let suffix = match enforcement {
            Enforcement::Deny => "",
            Enforcement::Warn => " (enforcement: warn)",
        };
        let mut variables = base_variables();
        for (init, var) in [(true, "init"), (false, "main")] {
            let field = if init { "initContainers" } else { "containers" };
            let subject =
                format!("variables.at + '.{field}[' + string(i) + '] \"' + c.name + '\": '");
            let mut lists = Vec::new();
            for (index, rule) in self.settings.rules.iter().enumerate() {
                if rule.enforcement == enforcement {
                    lists.extend(self.problems(index, rule, &subject, suffix));
                } else if enforcement == Enforcement::Deny
                    && refused_anyway.iter().any(|(i, _)| *i == index)
                {
                    lists.extend(self.default_below(rule, &subject, ""));
                }
            }
            let body = if lists.is_empty() {
                "[]".to_owned()
            } else {
                lists.join(" + ")
            };
            // The list's type is known even when no container has a message.
            let body = format!("({body}).map(m, string(m))");
            variables.push(json!({"name": var, "expression": self.per_container(init, &body)}));
        }
        variables.push(json!({
            "name": "violations",
            "expression": "variables.init.flatten() + variables.main.flatten()",
        }));
        // At most 100 violations, then how many more, as the webhook says it; the API server
        // drops a message over 5 KiB, so a longer one is cut there.
        variables.push(json!({
            "name": "message",
            "expression": format!(
                "size(variables.violations) <= {n} ? variables.violations.join('; ') : variables.violations.slice(0, {n}).join('; ') + '; and ' + string(size(variables.violations) - {n}) + ' more violations'",
                n = crate::verdict::MESSAGE_VIOLATIONS
            ),
        }));
        let validation = json!({
            "expression": "size(variables.violations) == 0",
            "messageExpression": "size(variables.message) <= 5000 ? variables.message : variables.message.substring(0, 4990) + ' (cut)'",
            "reason": "Invalid",
        });
        Some(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": { "name": name, "labels": labels() },
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": match_constraints(true),
                "matchConditions": match_conditions(false),
                "variables": variables,
                "validations": [validation],
            },
        }))
    }

    /// The message lists of one rule for one container, in the core's order.
    fn problems(&self, index: usize, r: &ResourceRule, subject: &str, suffix: &str) -> Vec<String> {
        let name = r.resource.as_str();
        let l = Lookups::of(name);
        let says = |text: String| format!("{subject} + {text}");
        let fixed = |text: &str| lit(&format!("{name} {text}{suffix}"));
        let (ol, or, pl) = (&l.own_limit, &l.own_request, &l.pod_limit);
        // Which limit applies.
        let lo = format!("{ol}.hasValue()");
        let lp = format!("(!{ol}.hasValue() && {pl}.hasValue())");
        let ld = match &r.default_limit {
            Some(_) => format!("(!{ol}.hasValue() && !{pl}.hasValue() && {})", l.may_add),
            None => "false".to_owned(),
        };
        let limit_none = format!("(!{ol}.hasValue() && !{pl}.hasValue() && !{ld})");
        // Which request applies.
        let ro = format!("{or}.hasValue()");
        let rl = format!("(!{or}.hasValue() && {ol}.hasValue())");
        let rd = match &r.default_request {
            Some(_) => format!("(!{or}.hasValue() && !{ol}.hasValue() && {})", l.may_add),
            None => "false".to_owned(),
        };
        let rld = format!("(!{or}.hasValue() && !{ol}.hasValue() && !{rd} && {ld})");
        let request_none = format!("(!{or}.hasValue() && !{ol}.hasValue() && !{rd} && !{ld})");

        let mut out = Vec::new();
        // Presence (not on a resize).
        if r.require_limit {
            out.push(item(
                &format!("variables.admit && {limit_none}"),
                &says(fixed("limit is missing")),
            ));
        }
        if r.require_request {
            let limit_reported = if r.require_limit {
                format!(" && !{limit_none}")
            } else {
                String::new()
            };
            out.push(item(
                &format!(
                    "variables.admit && {request_none} && !{}{limit_reported}",
                    l.pod_sets
                ),
                &says(fixed("request is missing")),
            ));
        }
        if r.forbid_limit {
            out.push(item(
                &lo,
                &says(format!(
                    "{} + {ol}.value() + {}",
                    lit(&format!("{name} limit ")),
                    lit(&format!(" is forbidden (forbidLimit): remove it{suffix}"))
                )),
            ));
        }
        out.extend(self.default_below(r, subject, suffix));
        if r.ignore_values {
            return out;
        }
        // The limit (own or pod-level) against its bounds.
        let lv = format!("({ol}.hasValue() ? {ol}.value() : {pl}.orValue('0'))");
        let l_origin = format!("({ol}.hasValue() ? '' : ' (the pod-level limit)')");
        let l_written = format!("({lo} || {lp})");
        let negative = format!("{l_written} && sign(quantity({lv})) < 0");
        out.push(item(
            &negative,
            &says(format!(
                "{} + {lv} + {}",
                lit(&format!("{name} limit ")),
                lit(&format!(" is negative{suffix}"))
            )),
        ));
        let zero_rule = r.require_limit && (name == "cpu" || name == "memory");
        let zero = if zero_rule {
            format!("sign(quantity({lv})) == 0")
        } else {
            "false".to_owned()
        };
        if zero_rule {
            out.push(item(
                &format!("{l_written} && {zero}"),
                &says(format!(
                    "{} + {lv} + {}",
                    lit(&format!("{name} limit ")),
                    lit(&format!(
                        " is zero, which Kubernetes treats as no limit{suffix}"
                    ))
                )),
            ));
        }
        let in_range = format!("{l_written} && sign(quantity({lv})) >= 0 && !({zero})");
        for (bound, op, words) in [
            (&r.min_limit, "<", "is below minLimit"),
            (&r.max_limit, ">", "exceeds maxLimit"),
        ] {
            if let Some(b) = bound {
                out.push(item(
                    &format!("{in_range} && {}", compare(&lv, op, &lit(&b.text))),
                    &says(format!(
                        "{} + {lv} + {l_origin} + {}",
                        lit(&format!("{name} limit ")),
                        lit(&format!(" {words} {}{suffix}", b.text))
                    )),
                ));
            }
        }
        // The request (own, or taken from the limit) against its bounds.
        let dl_text = r
            .default_limit
            .as_ref()
            .map_or("'0'".to_owned(), |d| lit(&d.text));
        let rv = format!("({ro} ? {or}.value() : {ol}.hasValue() ? {ol}.value() : {dl_text})");
        let r_origin = format!("({ro} ? '' : ' (taken from its limit)')");
        let r_written = format!("({ro} || {rl} || {rld})");
        out.push(item(
            &format!("{ro} && sign(quantity({or}.value())) < 0"),
            &says(format!(
                "{} + {or}.value() + {}",
                lit(&format!("{name} request ")),
                lit(&format!(" is negative{suffix}"))
            )),
        ));
        let r_in_range = format!("{r_written} && sign(quantity({rv})) >= 0");
        for (bound, op, words) in [
            (&r.min_request, "<", "is below minRequest"),
            (&r.max_request, ">", "exceeds maxRequest"),
        ] {
            if let Some(b) = bound {
                out.push(item(
                    &format!("{r_in_range} && {}", compare(&rv, op, &lit(&b.text))),
                    &says(format!(
                        "{} + {rv} + {r_origin} + {}",
                        lit(&format!("{name} request ")),
                        lit(&format!(" {words} {}{suffix}", b.text))
                    )),
                ));
            }
        }
        // The ratio: limit (own or default) at most ratio times the request (own or default).
        if let (Some(ratio), Some(Some((p, q)))) =
            (&r.max_limit_request_ratio, self.ratios.get(index))
        {
            let dr_text = r
                .default_request
                .as_ref()
                .map_or("'0'".to_owned(), |d| lit(&d.text));
            let lt = format!("({lo} ? {ol}.value() : {dl_text})");
            let qt = format!("({ro} ? {or}.value() : {dr_text})");
            let both = format!("({lo} || {ld}) && ({ro} || {rd})");
            let cond = format!(
                "{both} && sign(quantity({lt})) > 0 && sign(quantity({qt})) >= 0 && {}.compareTo({}) > 0",
                times(&lt, *q),
                times(&qt, *p)
            );
            out.push(item(
                &cond,
                &says(format!(
                    "{} + {lt} + {} + {qt} + {}",
                    lit(&format!("{name} limit ")),
                    lit(&format!(
                        " is more than maxLimitRequestRatio {} times its request ",
                        ratio.text
                    )),
                    lit(suffix)
                )),
            ));
        }
        out
    }

    /// A default limit below the container's own request (always a refusal).
    fn default_below(&self, r: &ResourceRule, subject: &str, suffix: &str) -> Vec<String> {
        let Some(d) = &r.default_limit else {
            return Vec::new();
        };
        let name = r.resource.as_str();
        let l = Lookups::of(name);
        let (ol, or, pl) = (&l.own_limit, &l.own_request, &l.pod_limit);
        let ld = format!("(!{ol}.hasValue() && !{pl}.hasValue() && {})", l.may_add);
        vec![item(
            &format!(
                "{ld} && {or}.hasValue() && {}",
                compare(&format!("{or}.value()"), ">", &lit(&d.text))
            ),
            &format!(
                "{subject} + {} + {or}.value() + {}",
                lit(&format!(
                    "default {name} limit {} would be below its request ",
                    d.text
                )),
                lit(suffix)
            ),
        )]
    }

    /// The mutating policy: the defaults added where missing, as a JSONPatch of adds.
    fn mutating_policy(&self, name: &str) -> Value {
        let mut variables = base_variables();
        variables.push(json!({"name": "pointer", "expression": "request.kind.kind == 'Pod' ? '/spec' : request.kind.kind == 'PodTemplate' ? '/template/spec' : request.kind.kind == 'CronJob' ? '/spec/jobTemplate/spec/template/spec' : '/spec/template/spec'"}));
        let mut lists = Vec::new();
        for init in [true, false] {
            let field = if init { "initContainers" } else { "containers" };
            let at = format!("variables.pointer + '/{field}/' + string(i) + '/resources'");
            let mut limits = Vec::new();
            let mut requests = Vec::new();
            for r in &self.settings.rules {
                let l = Lookups::of(&r.resource);
                let (ol, or, pl) = (&l.own_limit, &l.own_request, &l.pod_limit);
                if let Some(d) = &r.default_limit {
                    limits.push((
                        format!("(!{ol}.hasValue() && !{pl}.hasValue() && {})", l.may_add),
                        pointer_token(&r.resource),
                        d.text.clone(),
                    ));
                }
                if let Some(d) = &r.default_request {
                    requests.push((
                        format!("(!{or}.hasValue() && !{ol}.hasValue() && {})", l.may_add),
                        pointer_token(&r.resource),
                        d.text.clone(),
                    ));
                }
            }
            let any = |adds: &[(String, String, String)]| {
                if adds.is_empty() {
                    "false".to_owned()
                } else {
                    let all: Vec<&str> = adds.iter().map(|(c, _, _)| c.as_str()).collect();
                    format!("({})", all.join(" || "))
                }
            };
            let any_limit = any(&limits);
            let any_request = any(&requests);
            let mut ops = vec![format!(
                "(({any_limit} || {any_request}) && !c.?resources.hasValue() ? [JSONPatch{{op: 'add', path: {at}, value: {{}}}}] : [])"
            )];
            for (section, any, adds) in [
                ("limits", &any_limit, &limits),
                ("requests", &any_request, &requests),
            ] {
                if adds.is_empty() {
                    continue;
                }
                ops.push(format!(
                    "({any} && !c.?resources.?{section}.hasValue() ? [JSONPatch{{op: 'add', path: {at} + '/{section}', value: {{}}}}] : [])"
                ));
                for (cond, token, value) in adds {
                    ops.push(format!(
                        "({cond} ? [JSONPatch{{op: 'add', path: {at} + {}, value: {}}}] : [])",
                        lit(&format!("/{section}/{token}")),
                        lit(value)
                    ));
                }
            }
            lists.push(self.per_container(init, &ops.join(" + ")));
        }
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicy",
            "metadata": { "name": name, "labels": labels() },
            "spec": {
                "failurePolicy": "Fail",
                "reinvocationPolicy": "IfNeeded",
                "matchConstraints": match_constraints(false),
                "matchConditions": match_conditions(true),
                "variables": variables,
                "mutations": [{
                    "patchType": "JSONPatch",
                    "jsonPatch": {
                        "expression": format!("{}.flatten() + {}.flatten()", lists[0], lists[1]),
                    },
                }],
            },
        })
    }
}

/// A quantity's text, for tests.
#[cfg(test)]
fn q(text: &str) -> Bound {
    Bound {
        value: crate::quantity::Quantity::parse(text).unwrap_or_default(),
        text: text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_as_small_fractions() {
        assert_eq!(fraction(&q("4")), Some((4, 1)));
        assert_eq!(fraction(&q("1.5")), Some((3, 2)));
        assert_eq!(fraction(&q("2.25")), Some((9, 4)));
        assert_eq!(fraction(&q("1000m")), Some((1, 1)));
        assert_eq!(fraction(&q("100")), None);
        assert_eq!(fraction(&q("1.01")), None);
    }

    #[test]
    fn names_and_literals() {
        assert!(valid_name("resource-limits"));
        assert!(!valid_name("Resource"));
        assert!(!valid_name("-a"));
        assert_eq!(lit("it's a \\ test"), r"'it\'s a \\ test'");
        assert_eq!(pointer_token("nvidia.com/gpu"), "nvidia.com~1gpu");
    }

    #[test]
    fn the_objects_for_settings() {
        let settings = Settings::from_json(
            br#"{"cpu": {"maxLimit": "2", "defaultLimit": "1"}, "memory": {"enforcement": "warn", "maxLimit": "1Gi"}}"#,
        )
        .unwrap_or_default();
        let objects = export(&settings, "rl").unwrap_or_default();
        let kinds: Vec<(&str, &str)> = objects
            .iter()
            .map(|o| {
                (
                    o["kind"].as_str().unwrap_or_default(),
                    o["metadata"]["name"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("MutatingAdmissionPolicy", "rl-defaults"),
                ("MutatingAdmissionPolicyBinding", "rl-defaults"),
                ("ValidatingAdmissionPolicy", "rl"),
                ("ValidatingAdmissionPolicyBinding", "rl"),
                ("ValidatingAdmissionPolicy", "rl-warn"),
                ("ValidatingAdmissionPolicyBinding", "rl-warn"),
            ]
        );
        assert_eq!(objects[3]["spec"]["validationActions"], json!(["Deny"]));
        assert_eq!(objects[5]["spec"]["validationActions"], json!(["Warn"]));
        let deny = objects[2].to_string();
        assert!(deny.contains("exceeds maxLimit 2"), "{deny}");
        assert!(!deny.contains("exceeds maxLimit 1Gi"), "{deny}");
        assert!(objects[4]
            .to_string()
            .contains("exceeds maxLimit 1Gi (enforcement: warn)"));
        let bad = Settings::from_json(br#"{"cpu": {"maxLimitRequestRatio": "1.001"}}"#)
            .unwrap_or_default();
        assert_eq!(
            export(&bad, "rl").err().map(|e| e.to_string()).unwrap_or_default(),
            "cpu.maxLimitRequestRatio 1.001 cannot be compiled exactly: CEL can only add quantities, so the ratio must be a fraction whose numerator and denominator are at most 64 (like 4, 1.5 or 2.25)"
        );
    }
}

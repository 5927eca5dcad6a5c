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
//! API server's quantity library (`quantity(...).isGreaterThan` and the like, exact); the
//! ratio by adding quantities (CEL has no multiplication of quantities), so it must be a small
//! fraction.
//!
//! They are written to be cheap where the object passes, which is most of the time: CEL shares
//! no subexpression, so each container's own values of the rules' resources are read once into
//! a record (`[limit, request, ...]`, `''` where absent: [`Atoms`]) and the pod's once per
//! request (`podLimits`, `mayAdd`); the verdict is one short test per rule and container over
//! them ([`Compiler::failures`]: any check failing). The verdict is the validating policy's
//! match condition (self-contained, its reads bound by `[x].all(name, ...)`: a match condition
//! cannot read `variables`), because the API server evaluates a policy's validations, its
//! `messageExpression`s and its audit annotations each in a context of its own, converting the
//! object anew and evaluating the variables anew, the messages whatever the verdict; a match
//! condition that is false skips all three. So where the object passes the API server
//! evaluates the verdict once, and the messages, the long part, only on a refusal. The mutating
//! policy writes its patch only for a container that lacks a default, and a match condition
//! leaves out the objects where none does.
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

/// Up to this many quantities added on the two sides of the ratio's test, each is parsed where
/// it is used; beyond, each side is parsed once and bound (`[quantity(x)].exists(x, ...)`),
/// which costs a list.
const INLINE_ADDITIONS: u64 = 12;

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

/// The requests the webhook leaves untouched, each a name and a test: a Pod's own UPDATE
/// (resources change only through `pods/resize`), and the UPDATE of a ReplicaSet that a
/// controller owns; for the defaults (`mutating`), any ReplicaSet a controller owns.
fn untouched_updates(mutating: bool) -> Vec<(&'static str, String)> {
    let mut tests = vec![
        (
            "a-pod-update",
            "request.kind.kind == 'Pod' && request.operation == 'UPDATE' && request.?subResource.orValue('') != 'resize'".to_owned(),
        ),
        (
            "a-controlled-replicaset-update",
            format!("request.kind.kind == 'ReplicaSet' && request.operation == 'UPDATE' && {CONTROLLED}"),
        ),
    ];
    if mutating {
        // Its defaults are left to its Pods: the controller compares its template with its
        // Deployment's and would loop on a mutated one.
        tests.push((
            "a-controlled-replicaset",
            format!("request.kind.kind == 'ReplicaSet' && {CONTROLLED}"),
        ));
    }
    tests
}

/// The mutating policy's match conditions that leave out the requests of
/// [`untouched_updates`] (the validating policies fold them into `breaks-a-rule`).
fn match_conditions() -> Value {
    untouched_updates(true)
        .into_iter()
        .map(|(name, test)| json!({"name": format!("not-{name}"), "expression": format!("!({test})")}))
        .collect()
}

const CONTROLLED: &str =
    "object.metadata.?ownerReferences.orValue([]).exists(r, r.?controller.orValue(false))";

/// Whether the request admits (rather than resizes).
const ADMIT: &str = "request.?subResource.orValue('') != 'resize'";

/// The pod spec of the object, whichever kind it is: the object as `dyn`, since each branch
/// names fields that only some kinds have, and every expression is type-checked against each
/// kind the policy matches (kube-controller-manager checks the validations; `celcost` in
/// scripts/cluster checks every expression).
const SPEC: &str = "request.kind.kind == 'Pod' ? dyn(object).spec : request.kind.kind == 'PodTemplate' ? dyn(object).template.spec : request.kind.kind == 'CronJob' ? dyn(object).spec.jobTemplate.spec.template.spec : dyn(object).spec.template.spec";

/// The variables every policy starts with: the pod spec, where it is, whether the request
/// admits (rather than resizes).
fn base_variables() -> Vec<Value> {
    vec![
        json!({"name": "spec", "expression": SPEC}),
        json!({"name": "at", "expression": "request.kind.kind == 'Pod' ? 'spec' : request.kind.kind == 'PodTemplate' ? 'template.spec' : request.kind.kind == 'CronJob' ? 'spec.jobTemplate.spec.template.spec' : 'spec.template.spec'"}),
        json!({"name": "admit", "expression": ADMIT}),
    ]
}

struct Compiler<'a> {
    settings: &'a Settings,
    /// Each rule's ratio as a fraction.
    ratios: Vec<Option<(u64, u64)>>,
}

/// One resource's lookups in a container `c` and in the pod, as CEL.
struct Lookups {
    own_limit: String,
    own_request: String,
    pod_limit: String,
    /// Defaults may be added: admitting, and the pod does not set the resource.
    may_add: String,
}

impl Lookups {
    fn of(resource: &str, scope: Scope) -> Lookups {
        let r = lit(resource);
        let spec = scope.name("spec");
        let pod_limit = format!("{spec}.?resources.?limits[?{r}]");
        let pod_sets =
            format!("({pod_limit}.hasValue() || {spec}.?resources.?requests[?{r}].hasValue())");
        Lookups {
            own_limit: format!("c.?resources.?limits[?{r}]"),
            own_request: format!("c.?resources.?requests[?{r}]"),
            may_add: format!("({} && !{pod_sets})", scope.name("admit")),
            pod_limit,
        }
    }
}

/// Where a policy's expressions find the values read once per request (the pod spec, whether
/// the request admits, the pod-level limits, whether a default may be added): the policy's
/// `variables`, or names bound inside one self-contained expression, as a match condition
/// needs (it cannot read `variables`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Variables,
    Bound,
}

impl Scope {
    fn name(self, name: &str) -> String {
        match self {
            Scope::Variables => format!("variables.{name}"),
            Scope::Bound => name.to_owned(),
        }
    }
}

/// `cond ? [message] : []`.
fn item(cond: &str, message: &str) -> String {
    format!("({cond} ? [{message}] : [])")
}

/// The ratio's test: the limit `lt` (own or default) is more than `num / den` times the request
/// `qt` (own or default), both present, the limit above zero and the request not negative;
/// each quantity read once, multiplied by adding it to itself (CEL has no multiplication of
/// quantities).
fn ratio_exceeded(
    at: &Atoms,
    ld: &str,
    rd: &str,
    lt: &str,
    qt: &str,
    num: u64,
    den: u64,
) -> String {
    let repeat = |x: &str, n: u64| {
        let mut out = x.to_owned();
        for _ in 1..n {
            let _ = write!(out, ".add({x})");
        }
        out
    };
    let Atoms { l, q, .. } = at;
    if num + den <= INLINE_ADDITIONS {
        // Each quantity parsed where it is used: cheaper in cost units than binding it.
        let (x, y) = (format!("quantity({lt})"), format!("quantity({qt})"));
        return format!(
            "({l} != '' || {ld}) && ({q} != '' || {rd}) && sign({x}) > 0 && sign({y}) >= 0 && {}.isGreaterThan({})",
            repeat(&x, den),
            repeat(&y, num),
        );
    }
    format!(
        "({l} != '' || {ld}) && ({q} != '' || {rd}) && [quantity({lt})].exists(x, sign(x) > 0 && [quantity({qt})].exists(y, sign(y) >= 0 && {}.isGreaterThan({})))",
        repeat("x", den),
        repeat("y", num),
    )
}

impl Compiler<'_> {
    /// Whether a container (`c`) of the given group is checked at all: `init` is `Some(true)`
    /// for init containers, `Some(false)` for the others, `None` where the group is `g` (0 for
    /// init containers, 1 for the others) in the expression.
    fn checked(&self, init: Option<bool>) -> String {
        let s = self.settings;
        let mut parts = Vec::new();
        if s.ignore_init_containers {
            // Sidecars (restartPolicy: Always) are checked all the same.
            let sidecar = "c.?restartPolicy.orValue('') == 'Always'";
            match init {
                Some(true) => parts.push(sidecar.to_owned()),
                Some(false) => {}
                None => parts.push(format!("(g == 1 || {sidecar})")),
            }
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

    /// Each checked container of both groups with `body` (over `g`, the group: 0 for init
    /// containers, 1 for the others; `i`, the index in its group; `c`, the container):
    /// `list(list(T))` for a `body` of type `T`, the init containers' first.
    fn per_container(&self, body: &str) -> String {
        format!(
            "[variables.spec.?initContainers.orValue([]), variables.spec.?containers.orValue([])].transformList(g, cs, cs.transformList(i, c, {}, {body}))",
            self.checked(None)
        )
    }

    /// Each checked container of one group with `body` (over `i`, its index, and `c`):
    /// `list(T)` for a `body` of type `T`.
    fn per_group(&self, init: bool, body: &str) -> String {
        let field = if init { "initContainers" } else { "containers" };
        format!(
            "variables.spec.?{field}.orValue([]).transformList(i, c, {}, {body})",
            self.checked(Some(init))
        )
    }

    /// The checked containers of both groups, init containers first, with no index: what the
    /// verdict needs.
    fn checked_containers(&self, scope: Scope) -> String {
        let spec = scope.name("spec");
        let group = |field: &str, init: bool| {
            let all = format!("{spec}.?{field}.orValue([])");
            match self.checked(Some(init)).as_str() {
                "true" => all,
                test => format!("{all}.filter(c, {test})"),
            }
        };
        format!(
            "{} + {}",
            group("initContainers", true),
            group("containers", false)
        )
    }

    /// What a policy reads each rule's values from, for the rules `used` (their indexes):
    /// `podLimits` (each resource's pod-level limit, `''` where none), `mayAdd` (whether a
    /// default may be added: admitting, and the pod sets the resource at neither level), and
    /// the record of each container's own values (`[limit, request, ...]` in the order of
    /// `used`, `''` where absent) as CEL over `c`.
    fn reads(&self, used: &[usize], scope: Scope) -> Reads {
        let rules: Vec<&ResourceRule> = used
            .iter()
            .filter_map(|&i| self.settings.rules.get(i))
            .collect();
        let pod_limits: Vec<String> = rules
            .iter()
            .map(|r| Lookups::of(&r.resource, scope).pod_limit + ".orValue('')")
            .collect();
        let may_add: Vec<String> = rules
            .iter()
            .map(|r| Lookups::of(&r.resource, scope).may_add)
            .collect();
        let own: Vec<String> = rules
            .iter()
            .flat_map(|r| {
                let l = Lookups::of(&r.resource, scope);
                [l.own_limit + ".orValue('')", l.own_request + ".orValue('')"]
            })
            .collect();
        Reads {
            pod_limits: format!("[{}]", pod_limits.join(", ")),
            may_add: format!("[{}]", may_add.join(", ")),
            record: format!("[{}]", own.join(", ")),
        }
    }

    /// The variables `podLimits` and `mayAdd` of [`Compiler::reads`], and the record.
    fn values(&self, used: &[usize]) -> (Vec<Value>, String) {
        let reads = self.reads(used, Scope::Variables);
        let variables = vec![
            json!({"name": "podLimits", "expression": reads.pod_limits}),
            json!({"name": "mayAdd", "expression": reads.may_add}),
        ];
        (variables, reads.record)
    }

    /// Whether no checked container fails a rule judged by a policy (`judged`: each rule's
    /// index and whether all its checks count, see [`Compiler::validating_policy`]), as one
    /// self-contained expression: the policy's match condition (which cannot read `variables`)
    /// and its validation. What it reads once per request is bound by `[x].all(name, ...)`,
    /// each container's values once into its record; then one short test per rule.
    fn verdict(&self, judged: &[(usize, bool)]) -> String {
        let mut failures = Vec::new();
        for (position, (index, all)) in judged.iter().enumerate() {
            if let Some(rule) = self.settings.rules.get(*index) {
                failures.extend(self.failures(
                    *index,
                    rule,
                    &Atoms::at(position, Scope::Bound),
                    *all,
                ));
            }
        }
        if failures.is_empty() {
            return "true".to_owned();
        }
        let used: Vec<usize> = judged.iter().map(|(i, _)| *i).collect();
        let Reads {
            pod_limits,
            may_add,
            record,
        } = self.reads(&used, Scope::Bound);
        format!(
            "[{SPEC}].all(spec, [{ADMIT}].all(admit, [{pod_limits}].all(podLimits, [{may_add}].all(mayAdd, ({}).all(c, [{record}].all(v, !({})))))))",
            self.checked_containers(Scope::Bound),
            failures.join(" || ")
        )
    }

    /// The validating policy for the rules of one enforcement, if any rule has it.
    fn validating_policy(&self, name: &str, enforcement: Enforcement) -> Option<Value> {
        // Each rule judged by this policy: all its checks (its enforcement's), or only a
        // default below the request (refused even under a rule that only warns).
        let judged: Vec<(usize, bool)> = self
            .settings
            .rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                if r.enforcement == enforcement {
                    Some((i, true))
                } else if enforcement == Enforcement::Deny
                    && r.enforcement == Enforcement::Warn
                    && r.default_limit.is_some()
                {
                    Some((i, false))
                } else {
                    None
                }
            })
            .collect();
        if judged.is_empty() {
            return None;
        }
        let suffix = match enforcement {
            Enforcement::Deny => "",
            Enforcement::Warn => " (enforcement: warn)",
        };
        let used: Vec<usize> = judged.iter().map(|(i, _)| *i).collect();
        let mut variables = base_variables();
        let (values, record) = self.values(&used);
        variables.extend(values);
        let verdict = self.verdict(&judged);
        // The messages, in the core's order: container by container, rule by rule. One
        // variable for each group of containers: a variable's evaluation is limited in cost,
        // and the messages of 1,000 init containers and 1,000 containers do not fit in one.
        for (init, var) in [(true, "init"), (false, "main")] {
            let field = if init { "initContainers" } else { "containers" };
            let subject =
                format!("variables.at + '.{field}[' + string(i) + '] \"' + c.name + '\": '");
            let mut lists = Vec::new();
            for (position, (index, all)) in judged.iter().enumerate() {
                if let Some(rule) = self.settings.rules.get(*index) {
                    let at = Atoms::at(position, Scope::Variables);
                    if *all {
                        lists.extend(self.problems(*index, rule, &at, &subject, suffix));
                    } else {
                        lists.extend(self.default_below(rule, &at, &subject, ""));
                    }
                }
            }
            let body = if lists.is_empty() {
                "[]".to_owned()
            } else {
                lists.join(" + ")
            };
            // The list's type is known even when no container has a message.
            let body = format!("[{record}].map(v, {body}).flatten().map(m, string(m))");
            variables.push(json!({"name": var, "expression": self.per_group(init, &body)}));
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
        // The verdict is also the policy's match condition, so that where the object passes
        // (most of the time) the API server evaluates it alone: it evaluates a policy's
        // validations, its messages and its audit annotations each in a context of its own
        // (the object converted anew, the variables evaluated anew), the messages whatever the
        // verdict, and none of them where a match condition is false. The validation repeats
        // it, so the policy judges the same without the condition.
        let skipped = untouched_updates(false)
            .iter()
            .map(|(_, test)| format!("!({test})"))
            .collect::<Vec<_>>()
            .join(" && ");
        let conditions = json!([{
            "name": "breaks-a-rule",
            "expression": format!("{skipped} && !({verdict})"),
        }]);
        let validation = json!({
            "expression": verdict,
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
                "matchConditions": conditions,
                "variables": variables,
                "validations": [validation],
            },
        }))
    }

    /// The tests that fail one rule for one container, as CEL over the container's values
    /// (`v`): any of them true exactly when [`Compiler::problems`] gives the rule a message
    /// (`all`), or [`Compiler::default_below`] does (not `all`). Each quantity is parsed
    /// where a test uses it: the API server counts a parse as about one unit of cost, a list
    /// made to bind it (`[quantity(x)].exists(n, ...)`) as ten, and a Pod of thousands of
    /// containers must fit in the cost limit of one expression.
    fn failures(&self, index: usize, r: &ResourceRule, at: &Atoms, all: bool) -> Vec<String> {
        let Atoms { l, q, p, a, admit } = at;
        let bound = |b: &Bound| format!("quantity({})", lit(&b.text));
        // Which limit and request apply.
        let ld = match &r.default_limit {
            Some(_) => format!("({l} == '' && {p} == '' && {a})"),
            None => "false".to_owned(),
        };
        let rd = match &r.default_request {
            Some(_) => format!("({q} == '' && {l} == '' && {a})"),
            None => "false".to_owned(),
        };
        let limit_none = match &r.default_limit {
            Some(_) => format!("({l} == '' && {p} == '' && !{a})"),
            None => format!("({l} == '' && {p} == '')"),
        };
        let mut out = Vec::new();
        let default_below = r.default_limit.as_ref().map(|d| {
            format!(
                "{ld} && {q} != '' && quantity({q}).isGreaterThan({})",
                bound(d)
            )
        });
        if !all {
            out.extend(default_below);
            return out;
        }
        if r.require_limit {
            out.push(format!("{admit} && {limit_none}"));
        }
        // `mayAdd` is admitting and the pod not setting the resource. A default request fills
        // every request that could be missing (`rd` is then this test itself); with a default
        // limit, `!ld` is `p != ''` here and a missing limit is not reported (`limit_none`
        // needs `!a`).
        if r.require_request && r.default_request.is_none() {
            let mut request_none = format!("{a} && {q} == '' && {l} == ''");
            if r.default_limit.is_some() {
                let _ = write!(request_none, " && {p} != ''");
            } else if r.require_limit {
                let _ = write!(request_none, " && !{limit_none}");
            }
            out.push(request_none);
        }
        if r.forbid_limit {
            out.push(format!("{l} != ''"));
        }
        out.extend(default_below);
        if r.ignore_values {
            return out;
        }
        // The limit (own or pod-level): negative, zero, or out of its bounds.
        let name = r.resource.as_str();
        // Each test reads the quantity anew (`n`, the parse): cheaper in the API server's cost
        // units than binding it (`[quantity(x)].exists(n, ...)` creates a list, 10 units).
        let limit_tests = |n: &str| {
            let mut tests = vec![if r.require_limit && (name == "cpu" || name == "memory") {
                format!("sign({n}) <= 0")
            } else {
                format!("sign({n}) < 0")
            }];
            if let Some(b) = &r.min_limit {
                tests.push(format!("{n}.isLessThan({})", bound(b)));
            }
            if let Some(b) = &r.max_limit {
                tests.push(format!("{n}.isGreaterThan({})", bound(b)));
            }
            tests.join(" || ")
        };
        out.push(format!(
            "({l} != '' || {p} != '') && ({})",
            limit_tests(&format!("quantity({l} != '' ? {l} : {p})"))
        ));
        // The request (own, or taken from the limit): negative (its own), or out of its
        // bounds.
        let request_bounds = |n: &str| -> Vec<String> {
            [
                r.min_request
                    .as_ref()
                    .map(|b| format!("{n}.isLessThan({})", bound(b))),
                r.max_request
                    .as_ref()
                    .map(|b| format!("{n}.isGreaterThan({})", bound(b))),
            ]
            .into_iter()
            .flatten()
            .collect()
        };
        out.push(format!("{q} != '' && sign(quantity({q})) < 0"));
        if r.min_request.is_some() || r.max_request.is_some() {
            let (value, written) = match &r.default_limit {
                Some(d) => (
                    format!("{q} != '' ? {q} : {l} != '' ? {l} : {}", lit(&d.text)),
                    format!("({q} != '' || {l} != '' || (!{rd} && {ld}))"),
                ),
                None => (
                    format!("{q} != '' ? {q} : {l}"),
                    format!("({q} != '' || {l} != '')"),
                ),
            };
            let n = format!("quantity({value})");
            out.push(format!(
                "{written} && sign({n}) >= 0 && ({})",
                request_bounds(&n).join(" || ")
            ));
        }
        // The ratio: limit (own or default) at most ratio times the request (own or default).
        if let (Some(_), Some(Some((num, den)))) =
            (&r.max_limit_request_ratio, self.ratios.get(index))
        {
            let or_default = |x: &str, d: &Option<Bound>| {
                let d = d.as_ref().map_or("'0'".to_owned(), |d| lit(&d.text));
                format!("({x} != '' ? {x} : {d})")
            };
            out.push(ratio_exceeded(
                at,
                &ld,
                &rd,
                &or_default(l, &r.default_limit),
                &or_default(q, &r.default_request),
                *num,
                *den,
            ));
        }
        out
    }

    /// The message lists of one rule for one container, in the core's order, as CEL over the
    /// container's values (`v`, see [`Atoms`]): `cond ? [message] : []` each.
    fn problems(
        &self,
        index: usize,
        r: &ResourceRule,
        at: &Atoms,
        subject: &str,
        suffix: &str,
    ) -> Vec<String> {
        let name = r.resource.as_str();
        let Atoms { l, q, p, a, admit } = at;
        let says = |text: String| format!("{subject} + {text}");
        let fixed = |text: &str| lit(&format!("{name} {text}{suffix}"));
        let bound = |b: &Bound| format!("quantity({})", lit(&b.text));
        // Which limit applies.
        let ld = match &r.default_limit {
            Some(_) => format!("({l} == '' && {p} == '' && {a})"),
            None => "false".to_owned(),
        };
        let limit_none = match &r.default_limit {
            Some(_) => format!("({l} == '' && {p} == '' && !{a})"),
            None => format!("({l} == '' && {p} == '')"),
        };
        // Which request applies.
        let rd = match &r.default_request {
            Some(_) => format!("({q} == '' && {l} == '' && {a})"),
            None => "false".to_owned(),
        };
        let mut out = Vec::new();
        // Presence (not on a resize; `mayAdd` is admitting and the pod not setting the
        // resource).
        if r.require_limit {
            out.push(item(
                &format!("{admit} && {limit_none}"),
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
                &format!("{a} && {q} == '' && {l} == '' && !{rd} && !{ld}{limit_reported}"),
                &says(fixed("request is missing")),
            ));
        }
        if r.forbid_limit {
            out.push(item(
                &format!("{l} != ''"),
                &says(format!(
                    "{} + {l} + {}",
                    lit(&format!("{name} limit ")),
                    lit(&format!(" is forbidden (forbidLimit): remove it{suffix}"))
                )),
            ));
        }
        out.extend(self.default_below(r, at, subject, suffix));
        if r.ignore_values {
            return out;
        }
        // The limit (own or pod-level) against its bounds.
        let lv = format!("({l} != '' ? {l} : {p})");
        let l_origin = format!("({l} != '' ? '' : ' (the pod-level limit)')");
        let l_written = format!("({l} != '' || {p} != '')");
        out.push(item(
            &format!("{l_written} && sign(quantity({lv})) < 0"),
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
        for (b, test, words) in [
            (&r.min_limit, "isLessThan", "is below minLimit"),
            (&r.max_limit, "isGreaterThan", "exceeds maxLimit"),
        ] {
            if let Some(b) = b {
                out.push(item(
                    &format!("{in_range} && quantity({lv}).{test}({})", bound(b)),
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
        let rv = format!("({q} != '' ? {q} : {l} != '' ? {l} : {dl_text})");
        let r_origin = format!("({q} != '' ? '' : ' (taken from its limit)')");
        // Its own, its limit's, or the default limit's (where no default request is added).
        let r_written = format!("({q} != '' || {l} != '' || (!{rd} && {ld}))");
        out.push(item(
            &format!("{q} != '' && sign(quantity({q})) < 0"),
            &says(format!(
                "{} + {q} + {}",
                lit(&format!("{name} request ")),
                lit(&format!(" is negative{suffix}"))
            )),
        ));
        let r_in_range = format!("{r_written} && sign(quantity({rv})) >= 0");
        for (b, test, words) in [
            (&r.min_request, "isLessThan", "is below minRequest"),
            (&r.max_request, "isGreaterThan", "exceeds maxRequest"),
        ] {
            if let Some(b) = b {
                out.push(item(
                    &format!("{r_in_range} && quantity({rv}).{test}({})", bound(b)),
                    &says(format!(
                        "{} + {rv} + {r_origin} + {}",
                        lit(&format!("{name} request ")),
                        lit(&format!(" {words} {}{suffix}", b.text))
                    )),
                ));
            }
        }
        // The ratio: limit (own or default) at most ratio times the request (own or default).
        if let (Some(ratio), Some(Some((num, den)))) =
            (&r.max_limit_request_ratio, self.ratios.get(index))
        {
            let dr_text = r
                .default_request
                .as_ref()
                .map_or("'0'".to_owned(), |d| lit(&d.text));
            let lt = format!("({l} != '' ? {l} : {dl_text})");
            let qt = format!("({q} != '' ? {q} : {dr_text})");
            out.push(item(
                &ratio_exceeded(at, &ld, &rd, &lt, &qt, *num, *den),
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
    fn default_below(
        &self,
        r: &ResourceRule,
        at: &Atoms,
        subject: &str,
        suffix: &str,
    ) -> Vec<String> {
        let Some(d) = &r.default_limit else {
            return Vec::new();
        };
        let name = r.resource.as_str();
        let Atoms { l, q, p, a, .. } = at;
        vec![item(
            &format!(
                "{l} == '' && {p} == '' && {a} && {q} != '' && quantity({q}).isGreaterThan(quantity({}))",
                lit(&d.text)
            ),
            &format!(
                "{subject} + {} + {q} + {}",
                lit(&format!(
                    "default {name} limit {} would be below its request ",
                    d.text
                )),
                lit(suffix)
            ),
        )]
    }

    /// Whether a checked container lacks a limit or a request that a default would fill (a
    /// match condition: no `variables` there), whatever the pod sets at pod level.
    fn default_may_be_due(&self) -> String {
        let lacks: Vec<String> = self
            .settings
            .rules
            .iter()
            .filter_map(|r| {
                let l = Lookups::of(&r.resource, Scope::Variables);
                let no_limit = format!("!{}.hasValue()", l.own_limit);
                match (&r.default_limit, &r.default_request) {
                    // A missing request with a missing limit: the limit's case already.
                    (Some(_), _) => Some(no_limit),
                    (None, Some(_)) => Some(format!("!{}.hasValue() && {no_limit}", l.own_request)),
                    (None, None) => None,
                }
            })
            .collect();
        let lacks = lacks.join(" || ");
        let group = |field: &str, init: bool| {
            format!(
                "s.?{field}.orValue([]).exists(c, {} && ({lacks}))",
                self.checked(Some(init))
            )
        };
        format!(
            "[{SPEC}].exists(s, {} || {})",
            group("initContainers", true),
            group("containers", false)
        )
    }

    /// The mutating policy: the defaults added where missing, as a JSONPatch of adds.
    fn mutating_policy(&self, name: &str) -> Value {
        let used: Vec<usize> = self
            .settings
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.default_limit.is_some() || r.default_request.is_some())
            .map(|(i, _)| i)
            .collect();
        let mut variables = base_variables();
        variables.push(json!({"name": "pointer", "expression": "request.kind.kind == 'Pod' ? '/spec' : request.kind.kind == 'PodTemplate' ? '/template/spec' : request.kind.kind == 'CronJob' ? '/spec/jobTemplate/spec/template/spec' : '/spec/template/spec'"}));
        let (values, record) = self.values(&used);
        variables.extend(values);
        let at = "variables.pointer + (g == 0 ? '/initContainers/' : '/containers/') + string(i) + '/resources'";
        let mut limits = Vec::new();
        let mut requests = Vec::new();
        for (position, index) in used.iter().enumerate() {
            let Some(r) = self.settings.rules.get(*index) else {
                continue;
            };
            let Atoms { l, q, p, a, .. } = Atoms::at(position, Scope::Variables);
            if let Some(d) = &r.default_limit {
                limits.push(Due {
                    when: format!("{l} == '' && {p} == '' && {a}"),
                    when_absent: format!("{p} == '' && {a}"),
                    resource: &r.resource,
                    value: &d.text,
                });
            }
            if let Some(d) = &r.default_request {
                requests.push(Due {
                    when: format!("{q} == '' && {l} == '' && {a}"),
                    when_absent: a.clone(),
                    resource: &r.resource,
                    value: &d.text,
                });
            }
        }
        let any = |adds: &[Due]| {
            let all: Vec<String> = adds.iter().map(|d| format!("({})", d.when)).collect();
            all.join(" || ")
        };
        let (any_limit, any_request) = (any(&limits), any(&requests));
        let any_add = [&any_limit, &any_request]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" || ");
        // The defaults a container without `limits` (`bareLimits`) or without `resources`
        // (`bare`) gets, the same for every such container of the request: one patch writes
        // them all. A patch op is the costly part of the expression (each `JSONPatch` and each
        // list is created anew), and a Pod of thousands of bare containers must fit in the
        // API server's cost limit of one expression.
        let due_map = |adds: &[Due]| {
            let entries: Vec<String> = adds
                .iter()
                .map(|d| format!("{}: {}", lit(d.resource), lit(d.value)))
                .collect();
            let due: Vec<String> = adds
                .iter()
                .map(|d| format!("(k == {} && {})", lit(d.resource), d.when_absent))
                .collect();
            format!(
                "{{{}}}.transformMap(k, d, {}, d)",
                entries.join(", "),
                due.join(" || ")
            )
        };
        let mut bare_parts = Vec::new();
        for (section, adds) in [("limits", &limits), ("requests", &requests)] {
            if adds.is_empty() {
                continue;
            }
            let var = if section == "limits" {
                "bareLimits"
            } else {
                "bareRequests"
            };
            variables.push(json!({"name": var, "expression": due_map(adds)}));
            bare_parts.push(format!("{}: variables.{var}", lit(section)));
        }
        variables.push(json!({"name": "bare", "expression": format!(
            "{{{}}}.transformMap(k, d, size(d) > 0, d)",
            bare_parts.join(", ")
        )}));
        let field_ops = |section: &str, adds: &[Due]| -> Vec<String> {
            adds.iter()
                .map(|d| {
                    format!(
                        "({} ? [JSONPatch{{op: 'add', path: {at} + {}, value: {}}}] : [])",
                        d.when,
                        lit(&format!("/{section}/{}", pointer_token(d.resource))),
                        lit(d.value)
                    )
                })
                .collect()
        };
        let mut dressed = Vec::new();
        if !limits.is_empty() {
            dressed.push(format!(
                "(!c.?resources.?limits.hasValue() ? (size(variables.bareLimits) > 0 ? [JSONPatch{{op: 'add', path: {at} + '/limits', value: variables.bareLimits}}] : []) : {})",
                field_ops("limits", &limits).join(" + ")
            ));
        }
        if !requests.is_empty() {
            let mut ops = vec![format!(
                "(({any_request}) && !c.?resources.?requests.hasValue() ? [JSONPatch{{op: 'add', path: {at} + '/requests', value: {{}}}}] : [])"
            )];
            ops.extend(field_ops("requests", &requests));
            dressed.push(ops.join(" + "));
        }
        let ops = format!(
            "(!c.?resources.hasValue() ? (size(variables.bare) > 0 ? [JSONPatch{{op: 'add', path: {at}, value: variables.bare}}] : []) : {})",
            dressed.join(" + ")
        );
        // Where no checked container lacks a value a default could fill, the policy is not
        // evaluated at all: the API server re-encodes, decodes and defaults the object after
        // any mutating policy's patch, even an empty one, and then invokes the mutating
        // admission again (`reinvocationPolicy: IfNeeded`). A container counts as lacking a
        // value whatever the pod sets at pod level (the patch then adds nothing there).
        let mut conditions = match_conditions();
        if let Value::Array(list) = &mut conditions {
            list.push(
                json!({"name": "a-default-may-be-due", "expression": self.default_may_be_due()}),
            );
        }
        // Each container's values read once (`[record].map(v, ...)` binds them); the patches
        // written only where a default is due.
        let body = format!("[{record}].map(v, {any_add} ? {ops} : []).flatten()");
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicy",
            "metadata": { "name": name, "labels": labels() },
            "spec": {
                "failurePolicy": "Fail",
                "reinvocationPolicy": "IfNeeded",
                "matchConstraints": match_constraints(false),
                "matchConditions": conditions,
                "variables": variables,
                "mutations": [{
                    "patchType": "JSONPatch",
                    "jsonPatch": {
                        "expression": format!("{}.flatten().flatten()", self.per_container(&body)),
                    },
                }],
            },
        })
    }
}

/// The values one rule's tests read, as CEL: the container's own limit and request (`v`, its
/// record), the pod-level limit, and whether a default may be added.
struct Atoms {
    l: String,
    q: String,
    p: String,
    a: String,
    /// Whether the request admits (rather than resizes).
    admit: String,
}

impl Atoms {
    /// The rule at `position` of a policy's record.
    fn at(position: usize, scope: Scope) -> Atoms {
        Atoms {
            l: format!("v[{}]", 2 * position),
            q: format!("v[{}]", 2 * position + 1),
            p: format!("{}[{position}]", scope.name("podLimits")),
            a: format!("{}[{position}]", scope.name("mayAdd")),
            admit: scope.name("admit"),
        }
    }
}

/// A default of the mutating policy: when it is due for a container (CEL over its record `v`),
/// when for a container without the section (`limits`, `requests`) or without `resources`
/// (per request), the resource, the value.
struct Due<'a> {
    when: String,
    when_absent: String,
    resource: &'a str,
    value: &'a str,
}

/// What [`Compiler::reads`] gives: each a CEL list.
struct Reads {
    pod_limits: String,
    may_add: String,
    record: String,
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

    /// Where the object passes, the API server evaluates the verdict alone, as the validating
    /// policy's match condition: a short test over each container's values read once, no
    /// message; the messages are read only by the `messageExpression`. For
    /// `examples/settings/bounded.json`, the whole export stays small.
    #[test]
    fn the_verdict_is_short_and_the_messages_are_built_only_on_a_refusal() {
        let settings = Settings::from_json(
            br#"{"cpu": {"minRequest": "50m", "maxRequest": "2", "maxLimit": "4", "defaultRequest": "250m", "defaultLimit": "1", "maxLimitRequestRatio": 4},
                 "memory": {"minRequest": "32Mi", "maxRequest": "4Gi", "minLimit": "64Mi", "maxLimit": "2Gi", "defaultRequest": "128Mi", "defaultLimit": "512Mi"},
                 "ignoreImages": ["registry.example.com/platform/*"]}"#,
        )
        .unwrap_or_default();
        let objects = export(&settings, "rl").unwrap_or_default();
        let size: usize = objects.iter().map(|o| o.to_string().len()).sum();
        assert!(size < 32_000, "{size} bytes");
        let vap = &objects[2]["spec"];
        let validation = &vap["validations"][0];
        let verdict = validation["expression"].as_str().unwrap_or_default();
        assert!(
            verdict.starts_with("[request.kind.kind == 'Pod' ? dyn(object).spec"),
            "{verdict}"
        );
        assert!(verdict.len() < 3_500, "{} bytes", verdict.len());
        assert!(!verdict.contains("exceeds") && !verdict.contains("variables."));
        // Each container's values once: its record reads each resource's limit and request.
        let own = verdict.matches("c.?resources.?").count()
            - verdict.matches("spec.?resources.?").count();
        assert_eq!(own, 4, "{verdict}");
        // The one match condition: not an untouched update, and the verdict false.
        let conditions = vap["matchConditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(conditions.len(), 1, "{conditions:?}");
        assert_eq!(conditions[0]["name"], "breaks-a-rule");
        let condition = conditions[0]["expression"].as_str().unwrap_or_default();
        assert!(
            condition.starts_with("!(request.kind.kind == 'Pod' && request.operation == 'UPDATE'"),
            "{condition}"
        );
        assert!(
            condition.ends_with(&format!(" && !({verdict})")),
            "{condition}"
        );
        assert!(validation["messageExpression"]
            .as_str()
            .is_some_and(|m| m.contains("variables.message")));
        let variable = |name: &str| {
            vap["variables"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|v| v["name"] == name)
                .and_then(|v| v["expression"].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(variable("main").contains("exceeds maxLimit 4"));
        assert!(variable("message").contains("variables.violations"));
        let patch = objects[0]["spec"]["mutations"][0]["jsonPatch"]["expression"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(
            patch.matches("c.?resources.?limits[?'cpu']").count(),
            1,
            "{patch}"
        );
        assert!(patch.len() < 3_000, "{} bytes", patch.len());
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

//! What every verdict must satisfy, whatever the input. Each check returns `Err` with what
//! broke; the fuzz targets turn that into a crash the fuzzer saves.

use base64::Engine as _;
use resource_limits::patch::Addition;
use resource_limits::review::{admission_review, AdmissionRequest};
use resource_limits::settings::Enforcement;
use resource_limits::verdict::Skip;
use resource_limits::verdict::{Verdict, MESSAGE_VIOLATIONS};
use resource_limits::workload::{has_controller, Kind};
use resource_limits::Webhook;
use resource_limits::{Notice, Problem, Settings};
use serde_json::{json, Map, Value};

use crate::gen;

/// How a rejection of unreadable input may begin: each names the field or says the input
/// is not JSON (where the line and column are the place).
const BAD_INPUT: &[&str] = &[
    "the request is not valid JSON: ",
    "the request is not an AdmissionRequest: request",
    "request.operation is missing",
    "request.kind.kind is missing",
    "request.object is missing: ",
    "request.object is not a JSON object",
    "request.object is not a valid ",
    // Not "the defaults could not be added: ": the rule read the object whole, so the splice
    // finds every place it adds to; that rejection is a defect, and the fuzzer reports it.
];

/// Checks one request under valid settings: the verdict's own consistency, the mutation
/// (only additions, idempotent), the AdmissionReview answer, and for a template kind the
/// equivalence with a Pod built from the template. Returns the verdict.
pub fn check_request(settings: &Settings, request: &[u8]) -> Result<Verdict, String> {
    let v = judge(settings, request);
    check_verdict(&v)?;
    let Ok(req) = serde_json::from_slice::<Value>(request) else {
        if v.allowed() {
            return Err("a request that is not JSON was accepted".into());
        }
        return Ok(v);
    };
    check_review(settings, request, &req, &v)?;
    // The checks below rebuild the request from its parsed form, where a key given twice
    // has collapsed into one: they only apply where that form gets the same verdict.
    if judge(settings, &serde_json::to_vec(&req).unwrap_or_default()) != v {
        return Ok(v);
    }
    if let Some(m) = &v.mutation() {
        check_mutation(settings, &req, m)?;
    }
    check_nulls_are_absent(settings, &req, &v)?;
    check_template_equivalence(settings, &req, &v)?;
    check_soft_enforcement(settings, request, &v)?;
    Ok(v)
}

/// Soft enforcement. A rule that only warns never rejects: no violation of the verdict is of
/// such a rule (only what is always enforced: a malformed quantity, a default below the
/// request). And the same request under the same settings with every rule denying (`v` is
/// then `d`) and with every rule only warning (`w`): `w` never rejects for a rule's
/// violation; where `d` admits, `w` is the same verdict; warnings never change the
/// mutation (the defaults added are `d`'s wherever `d` admits); and each soft violation of
/// `w` is one `d` rejects for.
fn check_soft_enforcement(settings: &Settings, request: &[u8], v: &Verdict) -> Result<(), String> {
    let always = |p: &Problem| {
        matches!(
            p,
            Problem::Malformed { .. } | Problem::DefaultLimitBelowRequest { .. }
        )
    };
    for violation in v.violations() {
        let warns = settings
            .rules
            .iter()
            .any(|r| r.resource == violation.resource() && r.enforcement == Enforcement::Warn);
        if warns && !always(&violation.problem) {
            return Err(format!("a rule that only warns rejects: {violation}"));
        }
    }
    let with = |enforcement| {
        let mut s = settings.clone();
        for rule in &mut s.rules {
            rule.enforcement = enforcement;
        }
        judge(&s, request)
    };
    let d = with(Enforcement::Deny);
    let v = &d;
    let w = with(Enforcement::Warn);
    for violation in w.violations() {
        if !always(&violation.problem) {
            return Err(format!("a warn-only rule rejects: {violation}"));
        }
    }
    if v.allowed() && &w != v {
        return Err(format!(
            "the deny verdict admits, the warn verdict differs: {v:?} / {w:?}"
        ));
    }
    let adds = |v: &Verdict| v.mutation().map(|m| m.additions().to_vec());
    if v.allowed() && adds(&w) != adds(v) {
        return Err("warnings changed the mutation".into());
    }
    let soft_problems: Vec<&Problem> = w
        .warnings()
        .iter()
        .filter_map(|x| match &x.notice {
            Notice::NotEnforced(p) => Some(p),
            _ => None,
        })
        .collect();
    if !soft_problems.is_empty() && v.allowed() {
        return Err(format!(
            "soft violations where deny admits: {soft_problems:?}"
        ));
    }
    for p in &soft_problems {
        if !v.violations().iter().any(|x| &x.problem == *p) {
            return Err(format!(
                "a soft violation the deny verdict does not reject for: {p}"
            ));
        }
    }
    Ok(())
}

/// A verdict on its own: a rejection has code 400 and a message naming what is wrong and
/// where; an acceptance has neither.
pub fn check_verdict(v: &Verdict) -> Result<(), String> {
    if v.allowed() {
        if v.code().is_some() || v.message().is_some() || !v.violations().is_empty() {
            return Err(format!(
                "accepted with a code, a message or violations: {v:?}"
            ));
        }
        if v.mutation().is_some_and(|m| m.additions().is_empty()) {
            return Err("a mutation that adds nothing".into());
        }
        return Ok(());
    }
    if v.code() != Some(400) {
        return Err(format!("rejected with code {:?}", v.code()));
    }
    if v.mutation().is_some() {
        return Err("rejected with a mutation".into());
    }
    let msg = v.message().unwrap_or_default();
    if v.violations().is_empty() {
        let no_spec = msg.starts_with("the ") && msg.contains(" has no ");
        if !no_spec && !BAD_INPUT.iter().any(|p| msg.starts_with(p)) {
            return Err(format!("a rejection that names no field: {msg:.300}"));
        }
        return Ok(());
    }
    for (i, violation) in v.violations().iter().enumerate() {
        // The resource is named, or (a name the object left empty) shown as `""`.
        let problem = violation.problem.to_string();
        let named = !violation.resource().is_empty() || problem.starts_with("\"\"");
        if violation.location.segments().is_empty() || !named || problem.is_empty() {
            return Err(format!(
                "a violation without a path, resource or problem: {violation:?}"
            ));
        }
        if i < MESSAGE_VIOLATIONS && !msg.contains(&violation.to_string()) {
            return Err(format!("the message leaves out {violation}: {msg:.300}"));
        }
    }
    Ok(())
}

/// The AdmissionReview answer (the Spin component's, the browser's) says what the verdict
/// says, echoes the uid, and its JSONPatch turns the object into the mutated object.
fn check_review(settings: &Settings, raw: &[u8], req: &Value, v: &Verdict) -> Result<(), String> {
    let body = testkit::review_body(raw);
    let answer = match admission_review(settings, &body, Webhook::Mutating) {
        Ok(a) => serde_json::to_value(&a).map_err(|e| e.to_string())?,
        // The request itself is unreadable: the webhook answers 400, the verdict rejects.
        Err(_) if !v.allowed() && v.violations().is_empty() => return Ok(()),
        Err(e) => {
            return Err(format!(
                "the review is refused ({}) but the verdict is {v:?}",
                e.0
            ))
        }
    };
    let r = &answer["response"];
    if r["allowed"] != json!(v.allowed()) {
        return Err(format!(
            "review allowed {} but verdict {}",
            r["allowed"],
            v.allowed()
        ));
    }
    if req
        .get("uid")
        .and_then(Value::as_str)
        .is_some_and(|u| r["uid"] != json!(u))
    {
        return Err("the review's uid is not the request's".into());
    }
    if r["status"]["message"].as_str() != v.message().as_deref() {
        return Err("the review's message is not the verdict's".into());
    }
    check_validating_review(settings, &body, v)?;
    match (v.mutation(), r["patch"].as_str()) {
        (None, None) => Ok(()),
        (Some(m), Some(patch)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(patch)
                .map_err(|e| format!("the patch is not base64: {e}"))?;
            let patch: json_patch::Patch =
                serde_json::from_slice(&bytes).map_err(|e| format!("not a JSONPatch: {e}"))?;
            if bytes != m.patch_json().as_bytes() {
                return Err("the review's patch is not the mutation's".into());
            }
            let (original, mutated) = trees(m)?;
            for op in &patch.0 {
                if !matches!(op, json_patch::PatchOperation::Add(_)) {
                    return Err(format!("the patch does more than add: {op:?}"));
                }
            }
            let mut object = original;
            json_patch::patch(&mut object, &patch)
                .map_err(|e| format!("the patch does not apply: {e}"))?;
            if object != mutated {
                return Err("the patched object is not the mutated object".into());
            }
            Ok(())
        }
        (m, p) => Err(format!(
            "mutation {} but patch {}",
            m.is_some(),
            p.is_some()
        )),
    }
}

/// The validating webhook's answer never carries a patch; it admits what the mutating answer
/// admits without a mutation, rejects what that one rejects, and rejects a mutation.
fn check_validating_review(settings: &Settings, body: &[u8], v: &Verdict) -> Result<(), String> {
    let Ok(answer) = admission_review(settings, body, Webhook::Validating) else {
        return Ok(()); // refused as the mutating answer is (checked by the caller)
    };
    let r = &answer.response;
    if r.patch.is_some() || r.patch_type.is_some() {
        return Err("the validating answer carries a patch".into());
    }
    // Where the rules of the defaults only warn, the validating answer admits and says so
    // in a warning for each default it may not add.
    let warned = |m: &resource_limits::Mutation| {
        let said = r
            .warnings
            .iter()
            .filter(|w| {
                w.ends_with("is added only by the mutating webhook) (enforcement: warn)")
                    // cut at the API server's 256 characters (a default of 100 digits)
                    || (w.ends_with("...") && w.contains("is missing (default"))
            })
            .count();
        said == m.additions().len() || r.warnings.last().is_some_and(|w| w.ends_with(" left out"))
    };
    let want = v.allowed() && v.mutation().is_none_or(warned);
    if r.allowed != want {
        return Err(format!(
            "validating answer allowed {} for the verdict {v:?}",
            r.allowed
        ));
    }
    Ok(())
}

/// The mutated object minus the added fields is the object as it came, and the mutated
/// object, validated again, is accepted with nothing more to add.
fn check_mutation(
    settings: &Settings,
    req: &Value,
    m: &resource_limits::Mutation,
) -> Result<(), String> {
    let (original, mutated) = trees(m)?;
    if Some(&original) != req.get("object") {
        return Err("the mutation's original is not the request's object".into());
    }
    for a in m.additions() {
        if original.pointer(&a.pointer()).is_some_and(|v| !v.is_null()) {
            return Err(format!("{} was already set", a.pointer()));
        }
        if resource_limits::Quantity::parse(&a.value).is_err() {
            return Err(format!("{} = {:?} is not a quantity", a.pointer(), a.value));
        }
    }
    let stripped = without_additions(&original, &mutated, m.additions());
    if stripped != original {
        return Err(format!(
            "the mutated object minus the additions differs from the original:\n{stripped}\n{original}"
        ));
    }
    kept_byte_for_byte(m)?;
    let mut again = req.clone();
    again["object"] = mutated;
    let bytes = serde_json::to_vec(&again).map_err(|e| e.to_string())?;
    let v = judge(settings, &bytes);
    if !v.allowed() || v.mutation().is_some() {
        return Err(format!(
            "not idempotent: the mutated object gets {:?} / adds {:?}",
            v.message(),
            v.mutation().map(|m| m.additions().to_vec())
        ));
    }
    Ok(())
}

/// The mutation's object as it came and as mutated, read as JSON trees (each must be JSON).
fn trees(m: &resource_limits::Mutation) -> Result<(Value, Value), String> {
    let original = m
        .original()
        .map_err(|e| format!("the original is not JSON: {e}"))?;
    let mutated = m
        .object()
        .map_err(|e| format!("the mutated object is not JSON: {e}: {}", m.object_json()))?;
    Ok((original, mutated))
}

/// The mutated text is the original text with members inserted right after a `{` and
/// `null`s replaced by values, and nothing else: every byte of the original is kept, in
/// order, and each piece between them is well-formed JSON members or one JSON value.
fn kept_byte_for_byte(m: &resource_limits::Mutation) -> Result<(), String> {
    kept_in(m.original_json(), m.object_json())
}

/// [`kept_byte_for_byte`] of two texts: `mutated` is `original` with members inserted after
/// a `{` and `null`s replaced, and nothing else.
pub fn kept_in(original: &str, mutated: &str) -> Result<(), String> {
    let (old, new) = (original.as_bytes(), mutated.as_bytes());
    let fail = |at: usize| {
        Err(format!(
            "the mutated text does not keep the original at byte {at}:\n{original}\n{mutated}"
        ))
    };
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && new.get(j) == old.get(i) {
            i += 1;
            j += 1;
            continue;
        }
        // A `null` value replaced: the mismatch is at its `n` (a value put there starts
        // with `{` or `"`).
        if old.get(i..i + 4) == Some(b"null") {
            match piece(new, j, old.get(i + 4..).unwrap_or_default(), false) {
                Some(len) => {
                    i += 4;
                    j += len;
                    continue;
                }
                None => return fail(i),
            }
        }
        // Members inserted after a `{`: the texts agree up to the mismatch, so the insertion
        // began after the last `{` matched (or exactly here).
        let Some(brace) = old
            .get(..i)
            .and_then(|o| o.iter().rposition(|b| *b == b'{'))
        else {
            return fail(i);
        };
        let back = i - (brace + 1);
        let (i0, j0) = (brace + 1, j - back);
        match piece(new, j0, old.get(i0..).unwrap_or_default(), true) {
            Some(len) if len > 0 => {
                i = i0;
                j = j0 + len;
            }
            _ => return fail(i),
        }
    }
    Ok(())
}

/// The length of the shortest piece of `new` from `at` after which `new` goes on as `rest`
/// does, and which is JSON members (a trailing comma allowed) or one JSON value. How `rest`
/// goes on is checked up to where the next change may be: its next `{` (included) or
/// `null` (excluded), at most 64 bytes.
fn piece(new: &[u8], at: usize, rest: &[u8], members: bool) -> Option<usize> {
    let mut end = rest.len().min(64);
    for k in 0..end {
        if rest.get(k) == Some(&b'{') {
            end = k + 1;
            break;
        }
        if k > 0 && rest.get(k..k + 4) == Some(b"null") {
            end = k;
            break;
        }
    }
    let probe = &rest[..end];
    let tail = new.get(at..)?;
    (1..=tail.len()).find(|&len| {
        let after = &tail[len..];
        let goes_on = if probe.len() == rest.len() {
            after == rest
        } else {
            after.starts_with(probe)
        };
        if !goes_on {
            return false;
        }
        let Ok(text) = std::str::from_utf8(&tail[..len]) else {
            return false;
        };
        if members {
            // Before members that were there, the inserted ones end with their comma.
            let before_members = rest.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'}');
            let Some(inner) = (if before_members {
                text.strip_suffix(',')
            } else {
                Some(text)
            }) else {
                return false;
            };
            serde_json::from_str::<serde_json::Map<String, Value>>(&format!("{{{inner}}}"))
                .is_ok_and(|m| !m.is_empty())
        } else {
            serde_json::from_str::<Value>(text).is_ok()
        }
    })
}

/// The mutated object with the additions taken out again: each added quantity removed, and
/// a `resources`, `requests` or `limits` the mutation created put back as it was.
pub fn without_additions(original: &Value, mutated: &Value, additions: &[Addition]) -> Value {
    let mut out = mutated.clone();
    for a in additions {
        // A quantity given as null was replaced: null it is again.
        match (
            original.pointer(&a.pointer()),
            out.pointer_mut(&a.pointer()),
        ) {
            (Some(Value::Null), Some(slot)) => *slot = Value::Null,
            _ => remove(&mut out, &a.pointer()),
        }
    }
    for a in additions {
        let section = a
            .container
            .field("resources")
            .field(a.section.key())
            .pointer();
        let resources = a.container.field("resources").pointer();
        for p in [section, resources] {
            let empty = out
                .pointer(&p)
                .is_some_and(|v| v.as_object().is_some_and(Map::is_empty));
            if !empty {
                continue;
            }
            match original.pointer(&p) {
                Some(v) => {
                    if let Some(slot) = out.pointer_mut(&p) {
                        *slot = v.clone();
                    }
                }
                None => remove(&mut out, &p),
            }
        }
    }
    out
}

/// Removes the member a JSON pointer names.
fn remove(v: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    if let Some(obj) = v.pointer_mut(parent).and_then(Value::as_object_mut) {
        obj.remove(&key);
    }
}

/// A quantity given as `null` means "not set", exactly as an absent one: the same object
/// without its null quantities gets the same verdict.
fn check_nulls_are_absent(settings: &Settings, req: &Value, v: &Verdict) -> Result<(), String> {
    let mut stripped = req.clone();
    let Some(object) = stripped.get_mut("object") else {
        return Ok(());
    };
    if !drop_null_quantities(object) {
        return Ok(());
    }
    let bytes = serde_json::to_vec(&stripped).map_err(|e| e.to_string())?;
    let w = judge(settings, &bytes);
    let adds = |v: &Verdict| v.mutation().as_ref().map(|m| m.additions().to_vec());
    if w.allowed() != v.allowed() || w.violations() != v.violations() || adds(&w) != adds(v) {
        return Err(format!(
            "null quantities are not the same as absent ones: {:?} / {:?} versus {:?} / {:?}",
            v.message(),
            adds(v),
            w.message(),
            adds(&w)
        ));
    }
    Ok(())
}

/// Removes every `null` quantity of every resource list; true if there was one.
fn drop_null_quantities(v: &mut Value) -> bool {
    let mut found = false;
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == "requests" || k == "limits" {
                    if let Some(list) = child.as_object_mut() {
                        let before = list.len();
                        list.retain(|_, q| !q.is_null());
                        found |= list.len() != before;
                    }
                }
                found |= drop_null_quantities(child);
            }
        }
        Value::Array(a) => {
            for child in a {
                found |= drop_null_quantities(child);
            }
        }
        _ => {}
    }
    found
}

/// The Kubernetes defaulting of a new Pod: a container (and the pod level) with a limit and
/// no request for a resource gets request = limit.
pub fn default_requests(spec: &mut Value) {
    let mut lists: Vec<&mut Value> = Vec::new();
    if let Some(s) = spec.as_object_mut() {
        for (k, v) in s.iter_mut() {
            match (k.as_str(), v) {
                ("containers" | "initContainers", Value::Array(cs)) => {
                    lists.extend(cs.iter_mut().filter_map(|c| c.get_mut("resources")));
                }
                ("resources", r) => lists.push(r),
                _ => {}
            }
        }
    }
    for r in lists {
        let Some(r) = r.as_object_mut() else { continue };
        let Some(limits) = r.get("limits").and_then(Value::as_object).cloned() else {
            continue;
        };
        let requests = r.entry("requests").or_insert(Value::Null);
        if requests.is_null() {
            *requests = Value::Object(Map::new());
        }
        let Some(requests) = requests.as_object_mut() else {
            continue;
        };
        for (name, q) in limits {
            if !q.is_null() && requests.get(&name).is_none_or(Value::is_null) {
                requests.insert(name, q);
            }
        }
    }
}

/// A workload of a template kind gets the verdict of a Pod built from its template (with
/// the API server's request = limit defaulting): what it admits, its Pods are admitted too,
/// with the same defaults added; what it rejects, for the same containers and resources.
fn check_template_equivalence(settings: &Settings, req: &Value, v: &Verdict) -> Result<(), String> {
    let kind_name = req
        .pointer("/kind/kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let group = req.pointer("/kind/group").and_then(Value::as_str);
    let Some(kind) = Kind::from_gvk(group, kind_name) else {
        return Ok(());
    };
    let admitted = matches!(
        req.get("operation").and_then(Value::as_str),
        Some("CREATE" | "UPDATE")
    ) && req.get("subResource").is_none_or(Value::is_null);
    if kind == Kind::Pod || !admitted {
        return Ok(());
    }
    // A ReplicaSet that a controller owns: its UPDATEs are the controller's and not checked;
    // when it is created its defaults are left to its Pods (the Deployment controller would
    // otherwise see a hash collision), and everything else is judged as for a Pod.
    let controlled = kind == Kind::ReplicaSet
        && req
            .get("object")
            .is_some_and(|o| has_controller(&o.to_string()).unwrap_or(false));
    if controlled && matches!(v, Verdict::Skipped(Skip::ControlledReplicaSetUpdate)) {
        return Ok(());
    }
    if controlled && v.mutation().is_some() {
        return Err("a ReplicaSet its controller owns was mutated".into());
    }
    // Only a pod spec the policy could read is compared (a Pod needs one).
    if !v.allowed() && v.violations().is_empty() {
        return Ok(());
    }
    let Some(spec) = req
        .get("object")
        .and_then(|o| o.pointer(&kind.pod_spec_location().pointer()))
    else {
        return Ok(());
    };
    let pod_verdict = |spec: &Value| {
        let mut spec = spec.clone();
        default_requests(&mut spec);
        let pod = gen::request("Pod", "CREATE", None, gen::object("Pod", spec));
        judge(settings, &serde_json::to_vec(&pod).unwrap_or_default())
    };
    let p = pod_verdict(spec);
    let base = kind.pod_spec_location().to_string();
    let base_pointer = kind.pod_spec_location().pointer();
    let strip = |v: &Verdict, base: &str| {
        let mut keys: Vec<(String, String)> = v
            .violations()
            .iter()
            .map(|x| {
                let path = x.location.to_string();
                (
                    path.strip_prefix(base).unwrap_or(&path).to_owned(),
                    x.resource().to_owned(),
                )
            })
            .collect();
        keys.sort();
        keys.dedup();
        keys
    };
    let additions = |v: &Verdict, pointer: &str| {
        let mut adds: Vec<String> = v
            .mutation()
            .into_iter()
            .flat_map(|m| m.additions())
            .map(|a| {
                let p = a.pointer();
                format!("{}={}", p.strip_prefix(pointer).unwrap_or(&p), a.value)
            })
            .collect();
        adds.sort();
        adds
    };
    if p.allowed() != v.allowed()
        || strip(&p, "spec") != strip(v, &base)
        || (!controlled && additions(&p, "/spec") != additions(v, &base_pointer))
    {
        return Err(format!(
            "a {kind_name} and a Pod from its template disagree: {:?} {:?} versus {:?} {:?}",
            v.message(),
            additions(v, &base_pointer),
            p.message(),
            additions(&p, "/spec")
        ));
    }
    // The Pods created from the mutated template are admitted as they are.
    if let Some(m) = &v.mutation() {
        let (_, mutated) = trees(m)?;
        if let Some(spec) = mutated.pointer(&base_pointer) {
            let q = pod_verdict(spec);
            if !q.allowed() || q.mutation().is_some() {
                return Err(format!(
                    "a Pod from the mutated {kind_name} template is not admitted untouched: {:?}",
                    q.message()
                ));
            }
        }
    }
    Ok(())
}

/// Valid settings keep their own promises: a container with no resources at all is either
/// accepted (defaults added) or rejected only for what is missing, never for a default that
/// breaks the settings' own bounds.
pub fn check_settings_defaults(settings: &Settings) -> Result<(), String> {
    let spec = json!({"containers": [{"name": "bare", "image": "busybox"}],
                      "initContainers": [{"name": "side", "image": "busybox", "restartPolicy": "Always"}]});
    let pod = gen::request("Pod", "CREATE", None, gen::object("Pod", spec));
    let v = check_request(settings, &serde_json::to_vec(&pod).unwrap_or_default())?;
    for x in v.violations() {
        if !matches!(x.problem, Problem::Missing { .. }) {
            return Err(format!(
                "a bare container breaks the settings' own defaults: {x}"
            ));
        }
    }
    Ok(())
}

/// An AdmissionRequest's JSON, read and judged by the core's one entry for a request, as the
/// mutating webhook judges it.
fn judge(settings: &Settings, request: &[u8]) -> Verdict {
    match AdmissionRequest::from_json(request) {
        Ok(req) => resource_limits::review::evaluate(settings, &req, Webhook::Mutating),
        Err(unreadable) => Verdict::Unreadable(unreadable),
    }
}

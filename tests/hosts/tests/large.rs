//! The largest objects the control plane accepts (issue 28), through each webhook host as
//! users register it (policy-server with the Kubewarden examples, `spin up` by
//! examples/spinkube/webhooks.yaml, the native server by examples/native/webhooks.yaml) and
//! through the exported CEL policies (`export cel`, no webhook registered), each sent several
//! times as a server-side dry run (`?dryRun=All`).
//!
//! First the limits, found by experiment with no webhook: the largest Pod (thousands of
//! containers) and the largest Deployment (long labels, annotations and env values, a deeply
//! nested annotation value and an unknown field nested as deep as the API server's JSON reader
//! allows) kube-apiserver takes in a dry run (its request body limit, 3 MiB: one byte more is a
//! 413), and the largest it stores (etcd's request limit, 1.5 MiB, on the stored protobuf).
//! The object a webhook receives is not the one sent: the API server adds its defaults, and to
//! each container of a Pod the service account token's volume mount, before it calls the
//! webhooks (a Pod of thousands of small containers more than triples).
//!
//! Each answer is classified: admitted with the resources the core's verdict leaves (the core
//! judging the object as the API server hands it over), refused by the policy with the core's
//! message word for word (through the CEL policies, also that message cut to the API server's
//! 5,000 bytes, as docs/cel.md says), refused by the API server because the host refused the
//! review's body as too large (its body limit: a 413, or the connection closed while the API
//! server was still sending; failing closed), failed closed on the webhook's timeout, or
//! unclassified. A host must answer every review within its body limit with the core's
//! verdict, and refuse every one beyond it; never a timeout; the time a webhook adds
//! (p99 of the repeats over the API server's own median for the same object) within the
//! webhook's `timeoutSeconds`; its memory (VmRSS of its process group) within a bound at the
//! peak and back near its level after. The CEL policies judge as the core does, or are refused
//! by the API server on their cost limit: which one each object meets is stated in
//! [`CEL_EXPECTED`] and asserted.
//!
//! It takes the fault tests' lock (tests/faults.rs), so that no load test runs beside it.
//! Run it with `cargo nextest run -p host-tests --test large --no-capture` to see the tables
//! (BENCHMARKS.md, "Largest objects").

use host_tests::certs::run;
use host_tests::cluster::{admitted_as, bound_to, denial_message, rss_kib, Cluster, Host};
use host_tests::{assert_no_failures, judge, repo_root};
use resource_limits::{Settings, Verdict};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
/// kube-apiserver's limit on a request's body (its default, not changed by up.sh): beyond it a
/// create is refused with 413 before it is read.
const API_SERVER_BODY_LIMIT: usize = 3 * MIB;
/// The native server's and the Spin component's limit on a review's body (`MAX_BODY` of
/// hosts/server and hosts/spin): beyond it, 413.
const NATIVE_AND_SPIN_BODY_LIMIT: usize = 3 * MIB;
/// policy-server's limit on a review's body (its HTTP framework's default, 2 MiB): beyond it,
/// 413.
const POLICY_SERVER_BODY_LIMIT: usize = 2 * MIB;
/// What an AdmissionReview holds beside its object (uid, kinds, resources, names, userInfo,
/// options; the validating webhooks' object also its uid and creation time): at most this.
const REVIEW_OVERHEAD: usize = 4 * 1024;
/// Sends of each object a host answers; of each object beyond a host's body limit (a 413
/// costs the API server's decoding of the whole object, seconds); through the CEL policies.
const REPEATS: usize = 5;
const REPEATS_TOO_LARGE: usize = 2;
const REPEATS_CEL: usize = 3;
/// Containers of the Deployments (each with four long env values).
const DEPLOYMENT_CONTAINERS: usize = 64;
/// How deep the unknown field of the Deployments' pod template nests: the API server's JSON
/// reader takes 10,000 levels in all and the field sits 4 levels down (deeper is a 400,
/// "exceeded max depth", whatever the size).
const UNKNOWN_FIELD_DEPTH: usize = 9_996;
/// How deep the JSON text in an annotation nests (a string to the API server and to the core).
const ANNOTATION_DEPTH: usize = 5_000;
/// The memory a host may add at its peak over its level before (VmRSS of its process group),
/// and keep after its last answer; from measurement (see BENCHMARKS.md, "Largest objects"),
/// with margin.
fn rss_bounds_mib(host: Host) -> (u64, u64) {
    match host {
        Host::Kubewarden => (384, 48),
        Host::Spin => (32, 16),
        Host::Native => (32, 8),
    }
}

/// What the exported CEL policies do with each object, as observed: judged as the core judges
/// it, or refused by the API server on a policy's cost limit (`operation cancelled: actual
/// cost limit exceeded`: failurePolicy Fail). (object, outcome)
const CEL_EXPECTED: &[(&str, CelExpect)] = &[
    ("pod-2MiB-defaults", CelExpect::Judged),
    ("pod-2MiB-over", CelExpect::Judged),
    ("pod-stored", CelExpect::Judged),
    ("pod-largest", CelExpect::CostLimit),
    ("deployment-stored-over", CelExpect::Judged),
    ("deployment-3MiB-defaults", CelExpect::Judged),
    ("deployment-largest", CelExpect::Judged),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CelExpect {
    Judged,
    CostLimit,
}

fn settings_file() -> PathBuf {
    repo_root().join("examples/settings/bounded.json")
}

/// The resources of container `i`: within the bounds; none (every default added); limits only
/// (the API server sets the requests to them); requests only (the limits added), or over the
/// bounds when `over` (a cpu limit of 8, and the request the API server copies from it).
fn resources(i: usize, over: bool) -> Value {
    match i % 4 {
        0 => {
            json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "128Mi"}})
        }
        1 => json!({}),
        2 => json!({"limits": {"cpu": "1", "memory": "512Mi"}}),
        _ if over => json!({"limits": {"cpu": "8", "memory": "1Gi"}}),
        _ => json!({"requests": {"cpu": "500m", "memory": "256Mi"}}),
    }
}

/// A Pod of `n` containers, each with a 100-byte env value and the resources of [`resources`].
fn pod(name: &str, n: usize, over: bool) -> String {
    let containers: Vec<Value> = (0..n)
        .map(|i| {
            json!({"name": format!("c-{i}"), "image": "registry.example.com/team/app:1.0",
                   "env": [{"name": "PAD", "value": "x".repeat(100)}], "resources": resources(i, over)})
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": containers}})
    .to_string()
}

/// `[` nested `depth` deep, closed.
fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// A Deployment of [`DEPLOYMENT_CONTAINERS`] containers, each with four env values of `pad`
/// bytes and the resources of [`resources`]; 1,000 labels of 63-character values; annotations
/// of 210,000 bytes (under the API server's 256 KiB for all of them), one of them JSON text
/// nested [`ANNOTATION_DEPTH`] deep; and in the pod template an unknown field nested
/// [`UNKNOWN_FIELD_DEPTH`] deep (the API server drops it, with a warning). `paused` when it is
/// stored (the deployment controller then makes no ReplicaSet of it).
fn deployment(name: &str, pad: usize, over: bool, paused: bool) -> String {
    let containers: Vec<Value> = (0..DEPLOYMENT_CONTAINERS)
        .map(|i| {
            let env: Vec<Value> = (0..4)
                .map(|j| json!({"name": format!("V{j}"), "value": "v".repeat(pad)}))
                .collect();
            json!({"name": format!("c-{i}"), "image": "registry.example.com/team/app:1.0",
                   "env": env, "resources": resources(i, over)})
        })
        .collect();
    let labels: serde_json::Map<String, Value> = (0..1000)
        .map(|i| (format!("l{i}.example.com/key-{i}"), json!("l".repeat(63))))
        .collect();
    let mut object = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels, "annotations": {
            "example.com/nested": nested(ANNOTATION_DEPTH),
            "example.com/long": "a".repeat(200_000),
        }},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": containers, "xUnknown": "@DEEP@"}
            }
        }
    });
    if paused {
        object["spec"]["paused"] = json!(true);
    }
    object
        .to_string()
        .replacen("\"@DEEP@\"", &nested(UNKNOWN_FIELD_DEPTH), 1)
}

/// The API server's answer to a create: status, body, warnings, and how long it took.
struct Answer {
    status: u16,
    body: Value,
    warnings: Vec<String>,
    took: Duration,
}

/// Creates `text` (a Pod or a Deployment) in `ns` as the admin, through curl: `dry_run` is a
/// server-side dry run (admission, nothing stored).
fn create(c: &Cluster, ns: &str, kind: &str, text: &str, dry_run: bool) -> Result<Answer, String> {
    let pki = c.pki();
    let path = |name: &str| pki.join(name).to_string_lossy().into_owned();
    let resource = match kind {
        "Pod" => format!("api/v1/namespaces/{ns}/pods"),
        _ => format!("apis/apps/v1/namespaces/{ns}/deployments"),
    };
    let url = format!(
        "{}/{resource}{}",
        c.api_server(),
        if dry_run { "?dryRun=All" } else { "" }
    );
    let started = Instant::now();
    let out = run(
        Command::new("curl")
            .args(["-sS", "-i", "--max-time", "120"])
            .args([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                "@-",
            ])
            .args(["--cacert", &path("ca.crt"), "--cert", &path("admin.crt")])
            .args(["--key", &path("admin.key"), &url]),
        Some(text.as_bytes()),
    )?;
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no headers: {}", cut(&text, 300)))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status: {}", cut(head, 300)))?;
    let warnings = head
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("warning")
                .then(|| v.trim().to_owned())
        })
        .collect();
    let body = serde_json::from_str(body).map_err(|e| format!("{e}: {}", cut(body, 300)))?;
    Ok(Answer {
        status,
        body,
        warnings,
        took,
    })
}

/// At most `n` bytes of `s` (on a character boundary).
fn cut(s: &str, n: usize) -> &str {
    let mut end = s.len().min(n);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn message(a: &Answer) -> &str {
    a.body["message"].as_str().unwrap_or_default()
}

/// Deletes what a probe stored.
fn delete(c: &Cluster, ns: &str, kind: &str, name: &str) {
    c.kubectl_ok(&[
        "delete",
        &kind.to_lowercase(),
        name,
        "-n",
        ns,
        "--wait=false",
        "--ignore-not-found",
    ]);
}

/// The largest `x` in `lo..=hi` for which `fits(x)` holds (`fits(lo)` must, and it must hold
/// below any `x` it holds for), to `step`; and the smallest tried for which it did not (`hi`
/// when none).
fn bisect(
    mut lo: usize,
    mut hi: usize,
    step: usize,
    mut fits: impl FnMut(usize) -> bool,
) -> (usize, usize) {
    while hi - lo > step {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo, hi)
}

/// One object sent to every host: its name and kind, the text sent, the object as the API
/// server hands it to the mutating webhooks (its dry run with no webhook), the core's verdict on
/// that, and the object the verdict admits (what the validating webhooks receive).
struct Object {
    name: String,
    kind: &'static str,
    text: String,
    reviewed_len: usize,
    verdict: Verdict,
    admitted: Option<Value>,
    admitted_len: usize,
    /// The API server alone: its dry run's times with no webhook and no policy.
    alone: Vec<Duration>,
}

/// The resources of every container of an object's pod spec.
fn container_resources(object: &Value) -> Vec<Value> {
    let spec = match object["kind"].as_str() {
        Some("Pod") => &object["spec"],
        _ => &object["spec"]["template"]["spec"],
    };
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| spec[k].as_array().into_iter().flatten())
        .map(|c| c["resources"].clone())
        .collect()
}

/// The AdmissionRequest of creating `object` (as the API server writes it) in `ns`.
fn create_request(object: &Value, ns: &str) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    json!({
        "uid": "00000000-0000-0000-0000-000000000000",
        "kind": {"group": group, "version": version, "kind": object["kind"]},
        "name": object["metadata"]["name"],
        "namespace": ns,
        "operation": "CREATE",
        "userInfo": {"username": "admin"},
        "object": object,
    })
}

impl Object {
    /// Sends `text` with no webhook (`ns` bound to no policy) `times` times: the object as
    /// reviewed, and the core's verdict on it.
    fn new(
        c: &Cluster,
        settings: &Settings,
        ns: &str,
        name: &str,
        kind: &'static str,
        text: String,
        times: usize,
    ) -> Object {
        let mut alone = Vec::new();
        let mut reviewed = Value::Null;
        for _ in 0..times {
            let a = create(c, ns, kind, &text, true).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(a.status, 201, "{name}: {}", cut(message(&a), 500));
            alone.push(a.took);
            reviewed = a.body;
        }
        // What the mutating webhooks receive has no uid, creation time or status yet.
        if let Some(meta) = reviewed["metadata"].as_object_mut() {
            meta.remove("uid");
            meta.remove("creationTimestamp");
        }
        if let Some(o) = reviewed.as_object_mut() {
            o.remove("status");
        }
        let verdict = judge(
            settings,
            create_request(&reviewed, ns).to_string().as_bytes(),
        );
        let admitted = verdict
            .allowed()
            .then(|| admitted_as(&verdict, &reviewed))
            .transpose()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        Object {
            name: name.to_owned(),
            kind,
            reviewed_len: reviewed.to_string().len(),
            admitted_len: admitted.as_ref().map_or(0, |a| a.to_string().len()),
            text,
            verdict,
            admitted,
            alone,
        }
    }
}

/// How one create ended.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    /// Admitted with the resources the core's verdict leaves.
    Admitted,
    /// Refused by the policy with the core's message.
    Refused,
    /// Refused by the exported policies with the core's message cut to the API server's limit
    /// on a policy's message (5,000 bytes: its first 4,990 and ` (cut)`, as docs/cel.md says).
    RefusedCut,
    /// The webhook NAME refused the review's body as too large (413): failed closed.
    TooLarge(String),
    /// The webhook NAME closed the connection while the API server was still sending the
    /// review (`write: broken pipe`, `connection reset by peer`): a host that stops reading a
    /// body beyond its limit may do so before its 413 is read. Failed closed.
    Closed(String),
    /// The call to the webhook NAME timed out: failed closed.
    TimedOut(String),
    /// The exported policy NAME went over its cost limit.
    CostLimit(String),
    Unclassified(String),
}

impl Outcome {
    fn short(&self) -> String {
        match self {
            Outcome::Admitted => "admitted".into(),
            Outcome::Refused => "refused by the policy".into(),
            Outcome::RefusedCut => "refused by the policy, its message cut".into(),
            Outcome::TooLarge(w) => format!("413 from {w}"),
            Outcome::Closed(w) => format!("connection closed by {w}"),
            Outcome::TimedOut(w) => format!("timed out: {w}"),
            Outcome::CostLimit(p) => format!("cost limit of {p}"),
            Outcome::Unclassified(_) => "unclassified".into(),
        }
    }
}

/// The webhook a failed call names (`failed calling webhook "NAME"`).
fn failed_webhook(message: &str) -> Option<&str> {
    message
        .split_once("failed calling webhook \"")?
        .1
        .split('"')
        .next()
}

/// An answer through a webhook host whose policy webhook is `webhook`.
fn classify_webhook(o: &Object, webhook: &str, answer: &Result<Answer, String>) -> Outcome {
    let a = match answer {
        Ok(a) => a,
        Err(e) => return Outcome::Unclassified(e.clone()),
    };
    let m = message(a);
    if a.status == 201 {
        return admitted(o, a);
    }
    if let Some(hook) = failed_webhook(m) {
        if m.contains("status code 413") {
            return Outcome::TooLarge(hook.to_owned());
        }
        if m.contains("broken pipe") || m.contains("connection reset by peer") {
            return Outcome::Closed(hook.to_owned());
        }
        // (The URL the API server calls carries `?timeout=5s`: not a sign of one.)
        if m.contains("context deadline exceeded") || m.contains("Client.Timeout") {
            return Outcome::TimedOut(hook.to_owned());
        }
    }
    let denial = denial_message(webhook, &o.verdict);
    if (400..500).contains(&a.status) && m == denial {
        return Outcome::Refused;
    }
    if (400..500).contains(&a.status) && m.contains("\" denied the request: ") {
        return Outcome::Unclassified(format!(
            "refused with another message than the core's: {}",
            first_difference(m, &denial)
        ));
    }
    Outcome::Unclassified(format!("{} {}", a.status, cut(m, 400)))
}

fn admitted(o: &Object, a: &Answer) -> Outcome {
    match &o.admitted {
        Some(want) if container_resources(&a.body) == container_resources(want) => {
            Outcome::Admitted
        }
        Some(_) => Outcome::Unclassified("admitted with other resources than the core's".into()),
        None => Outcome::Unclassified(format!(
            "admitted; the core refuses: {}",
            cut(&o.verdict.message().unwrap_or_default(), 300)
        )),
    }
}

/// An answer through the exported policies named `policy` (the validating one; the others add
/// `-warn` and `-defaults`).
fn classify_cel(o: &Object, policy: &str, answer: &Result<Answer, String>) -> Outcome {
    let a = match answer {
        Ok(a) => a,
        Err(e) => return Outcome::Unclassified(e.clone()),
    };
    let m = message(a);
    if a.status == 201 {
        return admitted(o, a);
    }
    if m.contains("actual cost limit exceeded") {
        let named = m
            .split_once("policy '")
            .and_then(|(_, rest)| rest.split('\'').next())
            .unwrap_or_default();
        return Outcome::CostLimit(named.to_owned());
    }
    let prefix =
        format!("ValidatingAdmissionPolicy '{policy}' with binding '{policy}' denied request: ");
    match (m.split_once(&prefix), o.verdict.message()) {
        (Some((_, said)), Some(want)) if said == want => Outcome::Refused,
        (Some((_, said)), Some(want))
            if want.len() > 5000
                && said
                    .strip_suffix(" (cut)")
                    .is_some_and(|kept| kept.len() == 4990 && want.starts_with(kept)) =>
        {
            Outcome::RefusedCut
        }
        (Some((_, said)), Some(want)) => Outcome::Unclassified(format!(
            "refused by the policy with another message than the core's: {}",
            first_difference(said, &want)
        )),
        _ => Outcome::Unclassified(format!("{} {}", a.status, cut(m, 400))),
    }
}

/// Where two texts part: the byte, and 150 bytes of each from a little before it.
fn first_difference(a: &str, b: &str) -> String {
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let mut from = at.saturating_sub(60);
    while !a.is_char_boundary(from) || !b.is_char_boundary(from) {
        from -= 1;
    }
    format!(
        "at byte {at} of {} and {}: {:?} / {:?}",
        a.len(),
        b.len(),
        cut(&a[from..], 150),
        cut(&b[from..], 150)
    )
}

/// Whether a review of an object of `len` bytes fits a body limit of `limit`: yes, no, or too
/// close to tell (the review's other fields).
fn fits(len: usize, limit: usize) -> Option<bool> {
    if len + REVIEW_OVERHEAD <= limit {
        Some(true)
    } else if len > limit {
        Some(false)
    } else {
        None
    }
}

/// What a host whose body limit is `limit` may answer to `o`: the mutating webhook `mutating`
/// receives the object as the API server hands it over; when the core admits it with defaults,
/// the validating webhook `validating` receives it with them.
fn expected(o: &Object, limit: usize, mutating: &str, validating: &str) -> Vec<Outcome> {
    let mut out = Vec::new();
    let reviewed = fits(o.reviewed_len, limit);
    if reviewed != Some(true) {
        out.push(Outcome::TooLarge(mutating.to_owned()));
        out.push(Outcome::Closed(mutating.to_owned()));
    }
    if reviewed == Some(false) {
        return out;
    }
    if !o.verdict.allowed() {
        out.push(Outcome::Refused);
        return out;
    }
    let validated = fits(o.admitted_len, limit);
    if validated != Some(true) {
        out.push(Outcome::TooLarge(validating.to_owned()));
        out.push(Outcome::Closed(validating.to_owned()));
    }
    if validated != Some(false) {
        out.push(Outcome::Admitted);
    }
    out
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// The value at the rank `p` (0 to 100) of `times` (nearest rank), in milliseconds.
fn percentile(times: &[Duration], p: f64) -> u128 {
    let mut sorted: Vec<Duration> = times.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1].as_millis()
}

/// The webhooks registered for the running host (those whose URL is the host's): name and
/// timeoutSeconds, the mutating ones first.
fn registered_webhooks(c: &Cluster) -> Vec<(String, u64)> {
    let url = format!("{}/", c.webhook_url());
    let mut hooks = Vec::new();
    for kind in [
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
    ] {
        for config in c.get(&[kind])["items"].as_array().into_iter().flatten() {
            for hook in config["webhooks"].as_array().into_iter().flatten() {
                if hook["clientConfig"]["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with(&url))
                {
                    hooks.push((
                        hook["name"].as_str().unwrap_or_default().to_owned(),
                        hook["timeoutSeconds"].as_u64().unwrap_or(10),
                    ));
                }
            }
        }
    }
    hooks
}

/// A small Pod the policy refuses (a cpu limit over maxLimit): sent until it is refused as the
/// core refuses it, the policy then in force.
fn wait_in_force(
    c: &Cluster,
    settings: &Settings,
    ns: &str,
    refused_as: impl Fn(&Answer, &Verdict) -> bool,
) {
    let text = pod("probe", 4, true);
    let object: Value = serde_json::from_str(&text).unwrap_or_default();
    let mut reviewed = object.clone();
    // The API server copies the limits to the requests where none are given.
    for ctr in reviewed["spec"]["containers"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        let r = &mut ctr["resources"];
        if r["requests"].is_null() && !r["limits"].is_null() {
            r["requests"] = r["limits"].clone();
        }
    }
    let verdict = judge(
        settings,
        create_request(&reviewed, ns).to_string().as_bytes(),
    );
    assert!(!verdict.allowed(), "the probe must be refused: {verdict:?}");
    c.eventually("the policy in force", Duration::from_secs(60), || {
        create(c, ns, "Pod", &text, true)
            .ok()
            .filter(|a| refused_as(a, &verdict))
            .map(|_| ())
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

/// The figures of one object through one path.
struct Row {
    outcomes: Vec<Outcome>,
    times: Vec<Duration>,
}

/// Sends every object through the path in force in `ns`, classified by `classify`; the rows and
/// the failures.
fn send_all(
    c: &Cluster,
    ns: &str,
    objects: &[Object],
    repeats: &dyn Fn(&Object) -> usize,
    classify: &dyn Fn(&Object, &Result<Answer, String>) -> Outcome,
) -> Vec<Row> {
    objects
        .iter()
        .map(|o| {
            let mut row = Row {
                outcomes: Vec::new(),
                times: Vec::new(),
            };
            for _ in 0..repeats(o) {
                let answer = create(c, ns, o.kind, &o.text, true);
                if let Ok(a) = &answer {
                    row.times.push(a.took);
                }
                row.outcomes.push(classify(o, &answer));
            }
            row
        })
        .collect()
}

/// The distinct outcomes of a row, with their counts.
fn tally(outcomes: &[Outcome]) -> String {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for o in outcomes {
        let s = o.short();
        match seen.iter_mut().find(|(k, _)| *k == s) {
            Some((_, n)) => *n += 1,
            None => seen.push((s, 1)),
        }
    }
    seen.iter()
        .map(|(k, n)| format!("{n}x {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Samples the VmRSS of the process group `pgid` every 20 ms until `stop`: the highest seen.
fn peak_rss(pgid: u32, stop: &AtomicBool, peak: &AtomicU64) {
    while !stop.load(Ordering::Relaxed) {
        peak.fetch_max(rss_kib(pgid), Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Held while a test under load runs (the lock `faults.rs` and `large.rs` share).
fn serial() -> std::fs::File {
    host_tests::cluster::under_load_lock(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
}

#[test]
fn largest_objects_through_every_host_and_the_cel_policies() {
    let _serial = serial();
    let started = Instant::now();
    let settings_text = std::fs::read(settings_file()).expect("examples/settings/bounded.json");
    let settings = Settings::from_json(&settings_text).expect("bounded.json reads");
    let c = Cluster::up("large");
    let (probe_ns, cel_ns, webhook_ns) = ("large-probe", "large-cel", "large-webhook");
    c.create_namespaces(&[probe_ns, cel_ns, webhook_ns]);
    let mut failures: Vec<String> = Vec::new();
    let mut report: Vec<String> = Vec::new();

    // --- The limits, with no webhook and no policy. ---
    // The largest Pod a dry run takes: the API server's body limit, to the byte.
    let pod_len = |n: usize| pod("big", n, true).len();
    let (pod_max, _) = bisect(1, 20_000, 1, |n| pod_len(n) <= API_SERVER_BODY_LIMIT);
    let at_limit = create(&c, probe_ns, "Pod", &pod("big", pod_max, true), true)
        .unwrap_or_else(|e| panic!("{e}"));
    let over_limit = create(&c, probe_ns, "Pod", &pod("big", pod_max + 1, true), true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (at_limit.status, over_limit.status),
        (201, 413),
        "a Pod of {} bytes, then of {}: {} / {}",
        pod_len(pod_max),
        pod_len(pod_max + 1),
        cut(message(&at_limit), 300),
        cut(message(&over_limit), 300)
    );
    assert!(
        message(&over_limit).contains(&format!("limit is {API_SERVER_BODY_LIMIT}")),
        "{}",
        message(&over_limit)
    );
    // The largest the control plane stores: etcd's limit on the stored object.
    let mut tried = 0;
    let (pod_stored, pod_refused) = bisect(1_000, pod_max, 50, |n| {
        tried += 1;
        let name = format!("stored-{tried}");
        let a = create(&c, probe_ns, "Pod", &pod(&name, n, false), false)
            .unwrap_or_else(|e| panic!("{e}"));
        if a.status == 201 {
            delete(&c, probe_ns, "Pod", &name);
            return true;
        }
        assert!(
            message(&a).contains("request is too large") || message(&a).contains("larger than max"),
            "a stored Pod of {n} containers: {} {}",
            a.status,
            cut(message(&a), 300)
        );
        false
    });
    let dep_len = |pad: usize| deployment("big", pad, true, false).len();
    let (dep_max, _) = bisect(1, 20_000, 1, |p| dep_len(p) <= API_SERVER_BODY_LIMIT);
    let at_limit = create(
        &c,
        probe_ns,
        "Deployment",
        &deployment("big", dep_max, true, false),
        true,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let over_limit = create(
        &c,
        probe_ns,
        "Deployment",
        &deployment("big", dep_max + 1, true, false),
        true,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (at_limit.status, over_limit.status),
        (201, 413),
        "a Deployment of {} bytes, then of {}: {} / {}",
        dep_len(dep_max),
        dep_len(dep_max + 1),
        cut(message(&at_limit), 300),
        cut(message(&over_limit), 300)
    );
    // The unknown field is dropped, with the API server's warning; the nested annotation kept.
    assert!(
        at_limit
            .warnings
            .iter()
            .any(|w| w.contains("unknown field \\\"spec.template.spec.xUnknown\\\"")),
        "{:?}",
        at_limit.warnings
    );
    assert_eq!(
        at_limit.body["metadata"]["annotations"]["example.com/nested"]
            .as_str()
            .map(str::len),
        Some(2 * ANNOTATION_DEPTH)
    );
    let mut tried = 0;
    let (dep_stored, dep_refused) = bisect(1_000, dep_max, 64, |pad| {
        tried += 1;
        let name = format!("stored-{tried}");
        let a = create(
            &c,
            probe_ns,
            "Deployment",
            &deployment(&name, pad, false, true),
            false,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        if a.status == 201 {
            delete(&c, probe_ns, "Deployment", &name);
            return true;
        }
        assert!(
            message(&a).contains("request is too large") || message(&a).contains("larger than max"),
            "a stored Deployment with env values of {pad} bytes: {} {}",
            a.status,
            cut(message(&a), 300)
        );
        false
    });
    report.push(format!(
        "limits: a dry run takes a Pod of {pod_max} containers ({} bytes; one more container, {} bytes, is a 413) and a Deployment of {} bytes (env values of {dep_max} bytes); \
         the control plane stores a Pod of {pod_stored} containers ({} bytes; one of {pod_refused} containers is refused by etcd) and a Deployment of {} bytes (env values of {dep_stored} bytes; of {dep_refused} refused)",
        pod_len(pod_max),
        pod_len(pod_max + 1),
        dep_len(dep_max),
        pod("big", pod_stored, false).len(),
        deployment("big", dep_stored, false, true).len(),
    ));
    eprintln!("large: {} ({:?})", report[0], started.elapsed());

    // --- The objects, sized from the limits: each as the API server hands it over. ---
    // Pods whose review fits policy-server's 2 MiB with room (the object as reviewed grows by
    // a share per container: measured on a smaller Pod).
    let sample = Object::new(
        &c,
        &settings,
        probe_ns,
        "sample",
        "Pod",
        pod("big", 1_000, false),
        1,
    );
    let per_container = sample.admitted_len.max(sample.reviewed_len) / 1_000 + 1;
    let n_2mib = (POLICY_SERVER_BODY_LIMIT - 64 * 1024) / per_container;
    // A Deployment whose review, with the defaults the core adds, is 64 KiB under 3 MiB: what
    // the API server and the core add to a Deployment does not depend on its env values'
    // length (measured on a smaller one), each of which is 4 per container.
    let sample = Object::new(
        &c,
        &settings,
        probe_ns,
        "sample",
        "Deployment",
        deployment("big", 1_000, false, false),
        1,
    );
    let grows = sample.admitted_len as i64 - sample.text.len() as i64;
    let fixed = deployment("big", 0, false, false).len() as i64;
    let room = (NATIVE_AND_SPIN_BODY_LIMIT - 64 * 1024) as i64 - grows - fixed;
    let dep_3mib = usize::try_from(room / (DEPLOYMENT_CONTAINERS as i64 * 4)).unwrap_or(0);
    let mut objects = Vec::new();
    // Dry runs of each with no webhook and no policy, the API server's own time (one of the
    // two largest Pods: seconds each).
    let alone = REPEATS_CEL;
    for (name, kind, text, times) in [
        ("pod-2MiB-defaults", "Pod", pod("big", n_2mib, false), alone),
        ("pod-2MiB-over", "Pod", pod("big", n_2mib, true), alone),
        ("pod-stored", "Pod", pod("big", pod_stored, false), 1),
        ("pod-largest", "Pod", pod("big", pod_max, true), 1),
        (
            "deployment-stored-over",
            "Deployment",
            deployment("big", dep_stored, true, false),
            alone,
        ),
        (
            "deployment-3MiB-defaults",
            "Deployment",
            deployment("big", dep_3mib, false, false),
            alone,
        ),
        (
            "deployment-largest",
            "Deployment",
            deployment("big", dep_max, true, false),
            alone,
        ),
    ] {
        objects.push(Object::new(
            &c, &settings, probe_ns, name, kind, text, times,
        ));
    }
    // The sizes above are what the hosts' body limits are tested with: the Pods' reviews fit
    // every host's, the 3 MiB Deployment's fits the native server's and Spin's but not
    // policy-server's, and the largest objects' fit none.
    let fit = |name: &str, limit: usize| {
        let o = objects.iter().find(|o| o.name == name).expect(name);
        fits(o.reviewed_len.max(o.admitted_len), limit)
    };
    for (name, limit, want) in [
        ("pod-2MiB-defaults", POLICY_SERVER_BODY_LIMIT, Some(true)),
        ("pod-2MiB-over", POLICY_SERVER_BODY_LIMIT, Some(true)),
        (
            "deployment-stored-over",
            POLICY_SERVER_BODY_LIMIT,
            Some(true),
        ),
        (
            "deployment-3MiB-defaults",
            NATIVE_AND_SPIN_BODY_LIMIT,
            Some(true),
        ),
        (
            "deployment-3MiB-defaults",
            POLICY_SERVER_BODY_LIMIT,
            Some(false),
        ),
        ("pod-stored", NATIVE_AND_SPIN_BODY_LIMIT, Some(false)),
        ("pod-largest", NATIVE_AND_SPIN_BODY_LIMIT, Some(false)),
        (
            "deployment-largest",
            NATIVE_AND_SPIN_BODY_LIMIT,
            Some(false),
        ),
    ] {
        assert_eq!(
            fit(name, limit),
            want,
            "{name} against a body limit of {limit}"
        );
    }
    for o in &objects {
        report.push(format!(
            "object {}: {} bytes sent, {} as reviewed, {} with the core's defaults; the core: {}",
            o.name,
            o.text.len(),
            o.reviewed_len,
            o.admitted_len,
            match (&o.verdict, o.verdict.allowed()) {
                (v, false) => format!(
                    "refused ({} bytes of message)",
                    v.message().unwrap_or_default().len()
                ),
                (v, true) if v.mutation().is_some() => "admitted with defaults".to_owned(),
                _ => "admitted as it is".to_owned(),
            }
        ));
    }
    eprintln!("large: objects ready ({:?})", started.elapsed());

    // --- Through the exported CEL policies, no webhook registered. ---
    let policy = "rl-large";
    let exported = resource_limits::cel::export(&settings, policy).expect("export");
    let list = json!({"apiVersion": "v1", "kind": "List",
        "items": exported.into_iter().map(|p| bound_to(p, cel_ns)).collect::<Vec<_>>()});
    let out = c.kubectl_with(&["create", "-f", "-"], Some(&list.to_string()));
    assert!(
        out.status.success(),
        "applying the exported policies: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Refused by the exported validating policy: in force (its message compared below).
    let prefix =
        format!("ValidatingAdmissionPolicy '{policy}' with binding '{policy}' denied request: ");
    wait_in_force(&c, &settings, cel_ns, |a, _| message(a).contains(&prefix));
    let cel_rows = send_all(
        &c,
        cel_ns,
        &objects,
        &|o| match cel_expect(&o.name) {
            CelExpect::Judged => REPEATS_CEL,
            CelExpect::CostLimit => REPEATS_TOO_LARGE,
        },
        &|o, a| classify_cel(o, policy, a),
    );
    let mut tables = Vec::new();
    let mut cel_table = vec![
        "| object | sent (bytes) | outcome | p50 (ms) | p99 (ms) | API server alone, p50 (ms) |"
            .to_owned(),
        "|---|---|---|---|---|---|".to_owned(),
    ];
    for (o, row) in objects.iter().zip(&cel_rows) {
        let want = cel_expect(&o.name);
        for out in &row.outcomes {
            let ok = match (want, out) {
                (CelExpect::Judged, Outcome::Admitted) => o.verdict.allowed(),
                (CelExpect::Judged, Outcome::Refused | Outcome::RefusedCut) => !o.verdict.allowed(),
                (CelExpect::CostLimit, Outcome::CostLimit(p)) => p.starts_with(policy),
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "cel: {}: expected {want:?} (the core: allowed {}), got {out:?}",
                    o.name,
                    o.verdict.allowed()
                ));
            }
        }
        cel_table.push(format!(
            "| {} | {} | {} | {} | {} | {} |",
            o.name,
            o.text.len(),
            tally(&row.outcomes),
            percentile(&row.times, 50.0),
            percentile(&row.times, 99.0),
            percentile(&o.alone, 50.0),
        ));
    }
    tables.push(("cel".to_owned(), cel_table));
    eprintln!("large: through the CEL policies ({:?})", started.elapsed());

    // --- Through each webhook host. ---
    for host in Host::ALL {
        let h = host.name();
        c.webhook(Some(host), &settings_file());
        let hooks = registered_webhooks(&c);
        let mutating = host.webhook_name();
        let validating = hooks
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| *n != mutating)
            .unwrap_or_else(|| panic!("{h}: no validating webhook in {hooks:?}"))
            .to_owned();
        let timeout = hooks
            .iter()
            .map(|(_, t)| *t)
            .min()
            .unwrap_or_else(|| panic!("{h}: no webhook registered"));
        let limit = match host {
            Host::Kubewarden => POLICY_SERVER_BODY_LIMIT,
            Host::Spin | Host::Native => NATIVE_AND_SPIN_BODY_LIMIT,
        };
        wait_in_force(&c, &settings, webhook_ns, |a, v| {
            (400..500).contains(&a.status) && message(a) == denial_message(mutating, v)
        });
        let pgid = c.webhook_pid();
        // Its level: after a first review (the probe above), at rest.
        std::thread::sleep(Duration::from_secs(1));
        let before = rss_kib(pgid);
        let stop = AtomicBool::new(false);
        let peak = AtomicU64::new(before);
        let host_started = Instant::now();
        let rows = std::thread::scope(|s| {
            s.spawn(|| peak_rss(pgid, &stop, &peak));
            let rows = send_all(
                &c,
                webhook_ns,
                &objects,
                &|o| {
                    if expected(o, limit, mutating, &validating)
                        .iter()
                        .all(|e| matches!(e, Outcome::TooLarge(_) | Outcome::Closed(_)))
                    {
                        REPEATS_TOO_LARGE
                    } else {
                        REPEATS
                    }
                },
                &|o, a| classify_webhook(o, mutating, a),
            );
            stop.store(true, Ordering::Relaxed);
            rows
        });
        let took = host_started.elapsed();
        std::thread::sleep(Duration::from_secs(2));
        let after = rss_kib(pgid);
        let peak = peak.load(Ordering::Relaxed).max(after);
        let mut table = vec![
            "| object | sent (bytes) | reviewed (bytes) | outcome | p50 (ms) | p99 (ms) | API server alone, p50 (ms) |".to_owned(),
            "|---|---|---|---|---|---|---|".to_owned(),
        ];
        for (o, row) in objects.iter().zip(&rows) {
            let want = expected(o, limit, mutating, &validating);
            for out in &row.outcomes {
                if !want.contains(out) {
                    failures.push(format!(
                        "{h}: {}: expected one of {want:?}, got {out:?}",
                        o.name
                    ));
                }
            }
            // What the webhooks add, at the p99, within their timeout.
            if row
                .outcomes
                .iter()
                .all(|x| *x == Outcome::Admitted || *x == Outcome::Refused)
            {
                let added = percentile(&row.times, 99.0).saturating_sub(percentile(&o.alone, 50.0));
                if added >= u128::from(timeout) * 1000 {
                    failures.push(format!(
                        "{h}: {}: the webhooks add {added} ms at the p99, over their timeout of {timeout} s",
                        o.name
                    ));
                }
            }
            table.push(format!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                o.name,
                o.text.len(),
                o.reviewed_len,
                tally(&row.outcomes),
                percentile(&row.times, 50.0),
                percentile(&row.times, 99.0),
                percentile(&o.alone, 50.0),
            ));
        }
        let (peak_bound, after_bound) = rss_bounds_mib(host);
        table.push(String::new());
        table.push(format!(
            "RSS (MiB): before {}, peak {}, after {} (bounds: peak at most +{peak_bound}, after at most +{after_bound}); body limit {limit} bytes; timeoutSeconds {timeout}; {:.1} s",
            mib(before),
            mib(peak),
            mib(after),
            took.as_secs_f64()
        ));
        if before == 0 || after == 0 {
            failures.push(format!(
                "{h}: no memory read (before {before} KiB, after {after} KiB)"
            ));
        }
        if peak > before + peak_bound * 1024 {
            failures.push(format!(
                "{h}: RSS peaked at {} MiB, {} MiB before: over +{peak_bound} MiB",
                mib(peak),
                mib(before)
            ));
        }
        if after > before + after_bound * 1024 {
            failures.push(format!(
                "{h}: RSS {} MiB after, {} MiB before: over +{after_bound} MiB",
                mib(after),
                mib(before)
            ));
        }
        tables.push((h.to_owned(), table));
        eprintln!("large: through {h} ({:?})", started.elapsed());
    }
    c.webhook(None, &settings_file());

    for line in &report {
        println!("large: {line}");
    }
    for (name, table) in &tables {
        println!("\n{name}:");
        for line in table {
            println!("{line}");
        }
    }
    println!("\nlarge: took {:.1} s", started.elapsed().as_secs_f64());
    assert_no_failures(&failures);
}

fn cel_expect(name: &str) -> CelExpect {
    CEL_EXPECTED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, e)| *e)
        .unwrap_or_else(|| panic!("{name}: not in CEL_EXPECTED"))
}

//! Structured inputs: settings and admission requests built from fuzzer bytes.
//!
//! Every choice is read from an `arbitrary::Unstructured`, so the same generator serves the
//! coverage-guided fuzzer (AFL++ mutates the bytes, and with them the structure) and the
//! seeded random runs (random bytes). Values are drawn near one another on purpose (the
//! settings' bounds and the containers' quantities share a few scales) so that both sides
//! of every comparison are reached, and now and then a value is hostile: a wrong type,
//! a malformed or huge quantity, an unknown field.

use arbitrary::{Result, Unstructured};
use serde_json::{json, Map, Value};

/// One generated case: settings (valid or not) and an AdmissionRequest.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The settings.
    pub settings: Value,
    /// The AdmissionRequest.
    pub request: Value,
}

/// The resources a sample may configure or set.
const RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "nvidia.com/gpu",
    "hugepages-2Mi",
];

/// Every kind the generator builds, checked or not.
pub const KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
];

const IMAGES: &[&str] = &[
    "nginx",
    "registry.example.com/tools/debug:1",
    "pause",
    "busybox",
];

/// Quantities a container or a setting may hold: a few scales per resource, in every
/// notation the API server reads, so that comparisons fall on both sides.
fn quantity_text(u: &mut Unstructured<'_>, resource: &str) -> Result<String> {
    let (base, suffixes): (&[i64], &[&str]) = match resource {
        "cpu" => (
            &[0, 1, 2, 4, 100, 250, 500, 1000, 2000, 4000],
            &["m", "", "k", "n", "u"],
        ),
        "memory" | "ephemeral-storage" | "hugepages-2Mi" => (
            &[0, 1, 2, 64, 128, 256, 512, 1024, 2048],
            &["Mi", "Gi", "Ki", "M", "G", "", "k"],
        ),
        _ => (&[0, 1, 2, 4, 8], &["", "k", "m"]),
    };
    let n = *u.choose(base)?;
    let suffix = *u.choose(suffixes)?;
    Ok(match u.int_in_range(0..=9)? {
        0 => format!("{}.{}{suffix}", n / 2, if n % 2 == 1 { "5" } else { "0" }),
        1 => format!("{n}e{}", u.int_in_range(0..=3)?),
        2 => format!("{}{n}{suffix}", if u.ratio(1, 8)? { "-" } else { "+" }),
        _ => format!("{n}{suffix}"),
    })
}

/// A quantity as it may appear in an object: mostly a string, sometimes a JSON number,
/// now and then something hostile.
fn quantity_value(u: &mut Unstructured<'_>, resource: &str) -> Result<Value> {
    Ok(match u.int_in_range(0..=39)? {
        0 => Value::Null,
        1 => json!(u.int_in_range(-2..=4096)?),
        2 => json!(0.5),
        3 => Value::String(hostile_quantity(u)?),
        4 => hostile_value(u)?,
        5 => Value::String(format!(" {} ", quantity_text(u, resource)?)),
        _ => Value::String(quantity_text(u, resource)?),
    })
}

fn hostile_quantity(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0..=13)? {
        0 => String::new(),
        1 => "NaN".into(),
        2 => "1e999999".into(),
        3 => "9".repeat(u.int_in_range(19..=400)?),
        4 => format!("0.{}1", "0".repeat(u.int_in_range(8..=200)?)),
        5 => "1.5.5".into(),
        6 => "0x10".into(),
        7 => "1Gb".into(),
        8 => "4 cores".into(),
        9 => "-0".into(),
        10 => "1E".into(),
        11 => "\u{0661}".into(),
        12 => "1e-999999".into(),
        _ => {
            let s: String = u.arbitrary()?;
            s.chars().take(24).collect()
        }
    })
}

/// A value of a JSON type the policy does not expect where it is put.
fn hostile_value(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=5)? {
        0 => json!(true),
        1 => json!([]),
        2 => json!({}),
        3 => json!({"a": [1, {"b": null}]}),
        4 => json!(-1.5e300),
        _ => json!("x"),
    })
}

/// One settings rule; `scale` keeps its bounds in order most of the time.
fn rule(u: &mut Unstructured<'_>, resource: &str) -> Result<Value> {
    let mut r = Map::new();
    // Ascending bounds: min request <= default request <= max request, likewise for limits.
    let mut bounds: Vec<String> = Vec::new();
    for _ in 0..6 {
        bounds.push(quantity_text(u, resource)?);
    }
    bounds.sort_by_key(|b| {
        resource_limits::Quantity::parse(b)
            .map(|q| q.nanos())
            .unwrap_or_default()
    });
    let fields = [
        ("minRequest", 0),
        ("defaultRequest", 1),
        ("maxRequest", 3),
        ("minLimit", 1),
        ("defaultLimit", 3),
        ("maxLimit", 5),
    ];
    for (field, i) in fields {
        if u.ratio(2, 5)? {
            let v = if u.ratio(1, 30)? {
                quantity_value(u, resource)?
            } else {
                Value::String(bounds[i].trim_start_matches(['+', '-']).to_owned())
            };
            r.insert(field.into(), v);
        }
    }
    if u.ratio(1, 4)? {
        r.insert(
            "maxLimitRequestRatio".into(),
            u.choose(&[
                json!(1),
                json!(2),
                json!(4),
                json!("1.5"),
                json!(10),
                json!(0.5),
            ])?
            .clone(),
        );
    }
    for flag in ["requireRequest", "requireLimit", "ignoreValues"] {
        let odds = if flag == "ignoreValues" { 10 } else { 4 };
        if u.ratio(1, odds)? {
            r.insert(flag.into(), json!(u.arbitrary::<bool>()?));
        }
    }
    if u.ratio(1, 6)? {
        r.insert(
            "enforcement".into(),
            json!(*u.choose(&["warn", "deny", ""])?),
        );
    }
    if u.ratio(1, 12)? {
        // Mostly in conflict with the limit keys above: the settings check names both.
        r.insert("forbidLimit".into(), json!(true));
        if u.ratio(3, 4)? {
            for key in [
                "minLimit",
                "maxLimit",
                "defaultLimit",
                "maxLimitRequestRatio",
            ] {
                r.remove(key);
            }
            r.insert("requireLimit".into(), json!(false));
        }
    }
    if u.ratio(1, 40)? {
        r.insert("maxLimits".into(), json!("1"));
    }
    Ok(Value::Object(r))
}

/// Settings: usually valid, sometimes not (the settings check must then say why).
pub fn settings(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut s = Map::new();
    let mut resources = Map::new();
    for &res in RESOURCES {
        if u.ratio(1, 2)? {
            let r = rule(u, res)?;
            match res {
                "cpu" | "memory" if u.ratio(7, 8)? => {
                    s.insert(res.into(), r);
                }
                _ => {
                    resources.insert(res.into(), r);
                }
            }
        }
    }
    if !resources.is_empty() {
        s.insert("resources".into(), Value::Object(resources));
    }
    if u.ratio(1, 4)? {
        s.insert(
            "ignoreImages".into(),
            json!(["registry.example.com/tools/*", "pause"]),
        );
    }
    if u.ratio(1, 4)? {
        s.insert("ignoreInitContainers".into(), json!(u.arbitrary::<bool>()?));
    }
    if u.ratio(1, 6)? {
        s.insert("ignoreContainers".into(), json!(["istio-proxy", "side*"]));
    }
    if u.ratio(1, 6)? {
        s.insert("enforcement".into(), json!(*u.choose(&["warn", "deny"])?));
    }
    if u.ratio(1, 50)? {
        let field = u
            .choose(&[
                "cpu",
                "memory",
                "ignoreImages",
                "ignoreInitContainers",
                "resources",
                "bogus",
            ])?
            .to_string();
        s.insert(field, hostile_value(u)?);
    }
    Ok(Value::Object(s))
}

/// A resource list (`requests` or `limits`).
fn resource_list(u: &mut Unstructured<'_>) -> Result<Value> {
    if u.ratio(1, 40)? {
        return hostile_value(u);
    }
    let mut m = Map::new();
    for &res in RESOURCES.iter().chain(&["example.com/unchecked"]) {
        let odds = if res == "cpu" || res == "memory" {
            3
        } else {
            8
        };
        if u.ratio(2, odds)? {
            m.insert(res.into(), quantity_value(u, res)?);
        }
    }
    Ok(Value::Object(m))
}

fn resources(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=19)? {
        0 => Value::Null,
        1 => json!({}),
        2 => hostile_value(u)?,
        _ => {
            let mut r = Map::new();
            for section in ["requests", "limits"] {
                match u.int_in_range(0..=5)? {
                    0 => {}
                    1 => {
                        r.insert(section.into(), Value::Null);
                    }
                    _ => {
                        r.insert(section.into(), resource_list(u)?);
                    }
                }
            }
            Value::Object(r)
        }
    })
}

fn container(u: &mut Unstructured<'_>, i: usize, init: bool) -> Result<Value> {
    let mut c = Map::new();
    if !u.ratio(1, 20)? {
        c.insert("name".into(), json!(format!("c{i}")));
    }
    c.insert("image".into(), json!(*u.choose(IMAGES)?));
    if init && u.ratio(1, 3)? {
        c.insert("restartPolicy".into(), json!("Always"));
    }
    if !u.ratio(1, 6)? {
        c.insert("resources".into(), resources(u)?);
    }
    if u.ratio(1, 10)? {
        // A field no Kubernetes version knows, with a number that must survive exactly.
        c.insert(
            "x-extension".into(),
            json!({"ratio": 1.50, "big": 12345678901234567890u64}),
        );
    }
    if u.ratio(1, 60)? {
        let field = u.choose(&["name", "image", "restartPolicy", "resources"])?;
        c.insert(field.to_string(), hostile_value(u)?);
    }
    Ok(Value::Object(c))
}

/// A pod spec with up to four containers and two init containers.
pub fn pod_spec(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut spec = Map::new();
    let n = u.int_in_range(0..=4)?;
    let containers = (0..n)
        .map(|i| container(u, i, false))
        .collect::<Result<Vec<_>>>()?;
    spec.insert("containers".into(), Value::Array(containers));
    let n = u.int_in_range(0..=2)?;
    if n > 0 {
        let init = (0..n)
            .map(|i| container(u, i, true))
            .collect::<Result<Vec<_>>>()?;
        spec.insert("initContainers".into(), Value::Array(init));
    }
    if u.ratio(1, 8)? {
        spec.insert("resources".into(), resources(u)?);
    }
    if u.ratio(1, 60)? {
        let field = u.choose(&["containers", "initContainers", "resources"])?;
        spec.insert(field.to_string(), hostile_value(u)?);
    }
    Ok(Value::Object(spec))
}

/// An object of `kind` around a pod spec.
pub fn object(kind: &str, spec: Value) -> Value {
    let template = json!({"metadata": {"labels": {"app": "demo"}}, "spec": spec});
    let meta = json!({"name": "demo", "namespace": "default"});
    match kind {
        "Pod" => {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]})
        }
        "PodTemplate" => {
            json!({"apiVersion": "v1", "kind": kind, "metadata": meta, "template": template})
        }
        "CronJob" => json!({"apiVersion": "batch/v1", "kind": kind, "metadata": meta,
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}),
        _ => json!({"apiVersion": api_version(kind), "kind": kind, "metadata": meta,
            "spec": {"selector": {"matchLabels": {"app": "demo"}}, "template": template}}),
    }
}

/// The group/version of a kind, as an object's `apiVersion`.
pub fn api_version(kind: &str) -> &'static str {
    match group(kind) {
        "apps" => "apps/v1",
        "batch" => "batch/v1",
        _ => "v1",
    }
}

/// The API group of a kind.
pub fn group(kind: &str) -> &'static str {
    match kind {
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => "apps",
        "Job" | "CronJob" => "batch",
        _ => "",
    }
}

/// An AdmissionRequest for `object` of `kind`.
pub fn request(kind: &str, operation: &str, sub_resource: Option<&str>, object: Value) -> Value {
    let mut r = json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group(kind), "version": "v1", "kind": kind},
        "resource": {"group": group(kind), "version": "v1", "resource": "objects"},
        "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "fuzz"},
        "object": object,
    });
    if let Some(s) = sub_resource {
        r["subResource"] = json!(s);
    }
    r
}

/// A whole sample: settings, a kind, an operation and an object.
pub fn sample(u: &mut Unstructured<'_>) -> Result<Sample> {
    let settings = settings(u)?;
    let kind = *u.choose(KINDS)?;
    let (operation, sub) = match u.int_in_range(0..=19)? {
        0 => ("UPDATE", None),
        1 if kind == "Pod" => ("UPDATE", Some("resize")),
        2 => ("DELETE", None),
        _ => ("CREATE", None),
    };
    let spec = pod_spec(u)?;
    let request = request(kind, operation, sub, object(kind, spec));
    Ok(Sample { settings, request })
}

/// `n` samples from seeded random bytes: the same seed gives the same samples on every
/// machine, so a host's answers can be compared with the core's for a known set.
pub fn samples(seed: u64, n: usize) -> Vec<Sample> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = Vec::with_capacity(n);
    let mut bytes = vec![0u8; 4096];
    while out.len() < n {
        rng.fill(&mut bytes);
        if let Ok(s) = sample(&mut Unstructured::new(&bytes)) {
            out.push(s);
        }
    }
    out
}

//! Fuzz targets for the core, and the invariants every verdict keeps.
//!
//! Each target takes bytes and returns `Err` when an invariant breaks (a panic is a finding
//! too). The same targets run under AFL++ (`make fuzz`: coverage-guided, bin `afl-target`),
//! under seeded random bytes (bin `fuzz-random`, and the bounded runs in this crate's tests),
//! and the generated samples go through the built policy.wasm and the Spin component in
//! `tests/hosts`.
//!
//! - `quantity`: any string through the quantity parser.
//! - `settings`: any bytes as a settings document.
//! - `request`: any bytes as an AdmissionRequest, under each of the example settings.
//! - `workload`: bytes read as a structured sample (settings and a workload, see [`gen`]).
//! - `yaml`: any text through the YAML reader the CLI and the playground share.

pub mod gen;
pub mod invariants;

use resource_limits::{Quantity, Settings};
use std::sync::OnceLock;

/// The fuzz targets, by name.
pub const TARGETS: &[&str] = &["quantity", "settings", "request", "workload", "yaml"];

/// Runs one target on one input.
pub fn run(target: &str, data: &[u8]) -> Result<(), String> {
    match target {
        "quantity" => quantity(data),
        "settings" => settings(data),
        "request" => request(data),
        "workload" => workload(data),
        "yaml" => yaml(data),
        other => Err(format!(
            "no fuzz target {other:?} (targets: {})",
            TARGETS.join(", ")
        )),
    }
}

/// The nano units of `s`, if it parses.
fn nanos(s: &str) -> Option<i128> {
    Quantity::parse(s).ok().map(Quantity::nanos)
}

/// The quantity parser: never panics, and agrees with itself across notations: a sign
/// flips the value, `k`/`Ki` multiply by 1000/1024, `m` divides by 1000 (where exact),
/// and a plain integer is itself.
pub fn quantity(data: &[u8]) -> Result<(), String> {
    let Ok(s) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let Some(n) = nanos(s) else { return Ok(()) };
    let unsigned = !s.starts_with(['+', '-']);
    let plain = s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty();
    const CAP: i128 = (i64::MAX as i128) * 1_000_000_000;
    if plain && s.len() <= 18 && s.parse::<i128>().ok().map(|i| i * 1_000_000_000) != Some(n) {
        return Err(format!("{s:?} parsed as {n} nano units"));
    }
    if unsigned && n < CAP && nanos(&format!("-{s}")) != Some(-n) {
        return Err(format!("-{s} is not minus {s}"));
    }
    // Suffixes only go on a number without one (digits, '.', at most an exponent-free form).
    // ...and only where the value is exact (at most nine decimals: nano units).
    let bare = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'+' || b == b'-')
        && s.split_once('.').is_none_or(|(_, frac)| frac.len() <= 9);
    if bare && n.abs() < CAP / 1024 {
        for (suffix, factor) in [("k", 1000), ("Ki", 1024)] {
            if nanos(&format!("{s}{suffix}")) != Some(n * factor) {
                return Err(format!("{s}{suffix} is not {factor} x {s}"));
            }
        }
        if n % 1000 == 0 && nanos(&format!("{s}m")) != Some(n / 1000) {
            return Err(format!("{s}m is not {s} / 1000"));
        }
    }
    Ok(())
}

/// A settings document: never panics; a rejection lists its problems, each saying
/// something; accepted settings keep their own promises
/// ([`invariants::check_settings_defaults`]).
pub fn settings(data: &[u8]) -> Result<(), String> {
    match Settings::from_json(data) {
        Err(e) if e.problems.is_empty() || e.problems.iter().any(String::is_empty) => {
            Err(format!("settings rejected without a reason: {e:?}"))
        }
        Err(_) => Ok(()),
        Ok(s) => invariants::check_settings_defaults(&s),
    }
}

/// The example settings (examples/settings) and the plain rule, parsed once.
fn example_settings() -> &'static [Settings] {
    static SETTINGS: OnceLock<Vec<Settings>> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        [
            "{}",
            include_str!("../../examples/settings/bounded.json"),
            include_str!("../../examples/settings/gpu.json"),
            include_str!("../../examples/settings/no-cpu-limits.json"),
            include_str!("../../examples/settings/plain.json"),
        ]
        .iter()
        .filter_map(|s| Settings::from_json(s.as_bytes()).ok())
        .collect()
    })
}

/// Any bytes as an AdmissionRequest, under every example settings file.
pub fn request(data: &[u8]) -> Result<(), String> {
    for s in example_settings() {
        invariants::check_request(s, data)?;
    }
    Ok(())
}

/// A structured sample: its settings must be valid or say why; under valid settings, its
/// request keeps every invariant.
pub fn workload(data: &[u8]) -> Result<(), String> {
    let Ok(sample) = gen::sample(&mut arbitrary::Unstructured::new(data)) else {
        return Ok(());
    };
    check_sample(&sample)
}

/// Checks one generated sample.
pub fn check_sample(sample: &gen::Sample) -> Result<(), String> {
    let raw = serde_json::to_vec(&sample.settings).map_err(|e| e.to_string())?;
    settings(&raw)?;
    let Ok(s) = Settings::from_json(&raw) else {
        return Ok(());
    };
    let request = serde_json::to_vec(&sample.request).map_err(|e| e.to_string())?;
    invariants::check_request(&s, &request).map(|_| ())
}

/// Any text through the YAML reader: never panics; every document it reads writes valid
/// JSON, which read again (JSON is YAML) gives the same JSON; every node's line is in the
/// text.
pub fn yaml(data: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let Ok(docs) = resource_limits_yaml::parse(text) else {
        return Ok(());
    };
    // YAML breaks lines at \n, \r\n and a lone \r.
    let last_line =
        text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count() + 2;
    for root in docs.iter().filter_map(|d| d.root.as_ref()) {
        let json = root.to_json();
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&json) {
            return Err(format!("the tree wrote invalid JSON ({e}): {json:.300}"));
        }
        match resource_limits_yaml::parse(&json) {
            Ok(again) => {
                let again: Vec<String> = again
                    .iter()
                    .filter_map(|d| d.root.as_ref().map(resource_limits_yaml::Node::to_json))
                    .collect();
                if again.len() != 1 || !same_json(&again[0], &json) {
                    return Err(format!(
                        "JSON read again differs: {json:.300} -> {again:.300?}"
                    ));
                }
            }
            // YAML limits an implicit key to 1024 characters; JSON does not.
            Err(_) if long_key(root) => {}
            Err(e) => {
                return Err(format!(
                    "the tree's JSON is not read again ({e}): {json:.300}"
                ))
            }
        }
        let mut lines = Vec::new();
        node_lines(root, &mut lines);
        if let Some(l) = lines.iter().find(|l| **l == 0 || **l > last_line) {
            return Err(format!("a node on line {l} of a {last_line}-line text"));
        }
    }
    Ok(())
}

/// The same JSON, but that a negative zero read again as YAML is zero: in YAML (and so in
/// kubectl, whose reading the reader follows) `-0` is the integer 0, while a float `-0.0` is
/// written `-0` (as Go writes it), so `[-0.0]` gives `[-0]`, then `[0]`.
fn same_json(a: &str, b: &str) -> bool {
    fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.to_string(), y.to_string());
                let zero = |n: &str| n == "0" || n == "-0";
                x == y || (zero(&x) && zero(&y))
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
            }
            _ => a == b,
        }
    }
    if a == b {
        return true;
    }
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => same(&x, &y),
        _ => false,
    }
}

fn long_key(n: &resource_limits_yaml::Node) -> bool {
    use resource_limits_yaml::Value;
    match &n.value {
        Value::Map(entries) => entries.iter().any(|(k, v)| k.len() > 1000 || long_key(v)),
        Value::Seq(items) => items.iter().any(long_key),
        _ => false,
    }
}

fn node_lines(n: &resource_limits_yaml::Node, out: &mut Vec<usize>) {
    use resource_limits_yaml::Value;
    out.push(n.line);
    match &n.value {
        Value::Map(entries) => entries.iter().for_each(|(_, v)| node_lines(v, out)),
        Value::Seq(items) => items.iter().for_each(|v| node_lines(v, out)),
        _ => {}
    }
}

/// A random input for a target, from seeded randomness: structured where random bytes
/// would hardly ever get past the JSON parser (settings, requests), with a byte or two
/// changed now and then; raw bytes for `workload`, which reads them as choices.
pub fn random_input(target: &str, rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut bytes = vec![0u8; rng.usize(16..4096)];
    rng.fill(&mut bytes);
    let mut u = arbitrary::Unstructured::new(&bytes);
    let mut out = match target {
        "quantity" => {
            const ALPHABET: &[u8] = b"0123456789012345678901234567890123456789.+-eEkKMGTPiumn ";
            let n = rng.usize(0..24);
            return (0..n)
                .map(|_| ALPHABET[rng.usize(..ALPHABET.len())])
                .collect();
        }
        "settings" => gen::settings(&mut u)
            .ok()
            .and_then(|s| serde_json::to_vec(&s).ok())
            .unwrap_or_default(),
        "request" => gen::sample(&mut u)
            .ok()
            .and_then(|s| serde_json::to_vec(&s.request).ok())
            .unwrap_or_default(),
        // A generated object as block YAML, sometimes two documents or an anchor and alias.
        "yaml" => {
            let mut text = gen::sample(&mut u)
                .ok()
                .and_then(|s| s.request.get("object").map(testkit::block_yaml))
                .unwrap_or_default();
            match rng.u8(..4) {
                0 => text.push_str("---\nkind: Pod\nmetadata: &m {name: x}\nspec: {x: *m}\n"),
                1 => text = format!("base: &b\n  cpu: 1\nx:\n  <<: *b\n{text}"),
                _ => {}
            }
            text.into_bytes()
        }
        _ => return bytes,
    };
    if !out.is_empty() && rng.u8(..8) == 0 {
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(..out.len());
            out[at] = rng.u8(..);
        }
    }
    out
}

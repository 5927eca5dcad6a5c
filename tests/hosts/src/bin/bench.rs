//! `make bench`: size and speed of policy.wasm, measured against three references in one run.
//!
//! - native: the same Kubewarden host code (`resource_limits_kubewarden::validate`) compiled
//!   for this machine: the wasm should be within 3x of it;
//! - baseline: a do-nothing policy that only parses the payload into a `serde_json::Value`
//!   (built here from tests/baseline-policy): the policy should be faster than it;
//! - privileged: a yardstick written the way Kubewarden's pod-privileged-policy is (typed
//!   k8s-openapi Deployment through the SDK; built here from tests/privileged-policy): the
//!   policy should take at most half its time on the accepted Deployment.
//!
//! Rounds alternate between them so machine noise hits all alike; the median round is
//! reported. Ratios, not absolute times, are what BENCHMARKS.md compares across runs. A
//! second table splits one accepted call into the waPC call itself, the payload's copy into
//! the guest, and each policy's own work.

use host_tests::{policy_bytes, repo_root, Policy};
use std::process::Command;
use std::time::Instant;

const ROUNDS: usize = 15;
const CALLS: usize = 400;

fn main() {
    let root = repo_root();
    // The baseline as policy.wasm is built; the yardstick as pod-privileged-policy builds
    // itself (cargo's default release profile: the workspace's `yardstick` profile).
    let build = |package: &str, profile: &str| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--target", "wasm32-wasip1", "--profile", profile])
            .args(["-p", package])
            .current_dir(&root)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building {package} failed");
        let path = root
            .join("target/wasm32-wasip1")
            .join(profile)
            .join(format!("{}.wasm", package.replace('-', "_")));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let baseline_bytes = build("baseline-policy", "release");
    let privileged_bytes = build("privileged-policy", "yardstick");
    let policy_bytes = policy_bytes();

    let settings =
        std::fs::read_to_string(root.join("examples/settings/bounded.json")).expect("settings");
    let workloads = [
        (
            "4-container Deployment, accepted",
            host_tests::bench_deployment(4, true),
        ),
        (
            "4-container Deployment, mutated",
            host_tests::bench_deployment(4, false),
        ),
    ];

    let policy = Policy::load(&policy_bytes);
    let baseline = Policy::load(&baseline_bytes);
    let privileged = Policy::load(&privileged_bytes);
    for (name, bytes) in [
        ("policy.wasm", &policy_bytes),
        ("baseline_policy.wasm", &baseline_bytes),
        ("privileged_policy.wasm", &privileged_bytes),
    ] {
        let (n, kib) = (bytes.len(), bytes.len() as f64 / 1024.0);
        println!("{name}: {n} bytes ({kib:.1} KiB)");
    }
    check_yardstick(&privileged, &workloads[0].1);
    println!();
    println!("| workload | payload | native | policy.wasm | baseline.wasm | privileged.wasm | wasm / native | wasm / baseline | policy.wasm / privileged |");
    println!("|---|---|---|---|---|---|---|---|---|");
    // policy.wasm's median per workload: the mutated Deployment against the accepted one.
    let mut wasm_medians = Vec::new();
    for (name, request) in &workloads {
        let payload = format!("{{\"settings\":{settings},\"request\":{request}}}").into_bytes();
        // The yardstick is given its own settings, as policy-server would: none.
        let privileged_payload =
            format!("{{\"settings\":{{}},\"request\":{request}}}").into_bytes();
        // They agree on what they are given before anything is timed.
        let v = policy.validate(&payload).expect("policy validates");
        assert_eq!(v["accepted"], true, "{v}");
        let native: serde_json::Value = serde_json::from_slice(
            &resource_limits_kubewarden::validate(&payload).expect("native"),
        )
        .expect("JSON");
        assert_eq!(native, v, "native and wasm answers differ");
        assert_eq!(
            baseline.validate(&payload).expect("baseline")["accepted"],
            true
        );
        let p = privileged.validate(&privileged_payload).expect("yardstick");
        assert_eq!(p["accepted"], true, "{p}");

        let mut t = [const { Vec::new() }; 4];
        for _ in 0..ROUNDS {
            t[0].push(per_call(|| {
                std::hint::black_box(
                    resource_limits_kubewarden::validate(std::hint::black_box(&payload)).ok(),
                );
            }));
            // The answers' bytes, unread, as the native call's: reading them is the host's work.
            t[1].push(per_call(|| {
                std::hint::black_box(policy.call_raw("validate", &payload).ok());
            }));
            t[2].push(per_call(|| {
                std::hint::black_box(baseline.call_raw("validate", &payload).ok());
            }));
            t[3].push(per_call(|| {
                std::hint::black_box(privileged.call_raw("validate", &privileged_payload).ok());
            }));
        }
        let [n, w, b, p] = t.map(median);
        println!(
            "| {name} | {} B | {n:.1} µs | {w:.1} µs | {b:.1} µs | {p:.1} µs | {:.2} | {:.2} | {:.2} |",
            payload.len(),
            w / n,
            w / b,
            w / p
        );
        wasm_medians.push(w);
    }
    if let [accepted, mutated] = wasm_medians[..] {
        println!();
        println!(
            "policy.wasm, mutated / accepted: {:.2} (target: at most 1.5)",
            mutated / accepted
        );
    }

    // Where one accepted call's time goes: the waPC call itself (a guest function that
    // answers at once), with the payload copied in, then each policy's whole `validate`. The
    // answers' bytes are not read here, so the host's own reading of them is not counted.
    let request = &workloads[0].1;
    let payload = format!("{{\"settings\":{settings},\"request\":{request}}}").into_bytes();
    let privileged_payload = format!("{{\"settings\":{{}},\"request\":{request}}}").into_bytes();
    let rows: [(&str, &dyn Fn()); 5] = [
        (
            "waPC call, empty payload, fixed answer (privileged.wasm `accept_at_once`)",
            &|| drop(privileged.call_raw("accept_at_once", b"")),
        ),
        (
            "waPC call, the payload copied in, fixed answer (privileged.wasm `accept_at_once`)",
            &|| drop(privileged.call_raw("accept_at_once", &payload)),
        ),
        (
            "baseline.wasm `validate` (parse into a `Value`, the SDK's acceptance)",
            &|| drop(baseline.call_raw("validate", &payload)),
        ),
        ("policy.wasm `validate`", &|| {
            drop(policy.call_raw("validate", &payload))
        }),
        ("privileged.wasm `validate`", &|| {
            drop(privileged.call_raw("validate", &privileged_payload))
        }),
    ];
    let mut t: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    for _ in 0..ROUNDS {
        for (i, (_, f)) in rows.iter().enumerate() {
            t[i].push(per_call(f));
        }
    }
    println!();
    println!(
        "Where the accepted call's time goes ({} B payload):",
        payload.len()
    );
    println!();
    println!("| step | µs per call |");
    println!("|---|---|");
    for ((name, _), times) in rows.iter().zip(t) {
        println!("| {name} | {:.1} |", median(times));
    }
}

/// The yardstick is not a do-nothing: it rejects the bench Deployment once one container is
/// privileged, with pod-privileged-policy's message.
fn check_yardstick(privileged: &Policy, request: &str) {
    let mut request: serde_json::Value = serde_json::from_str(request).expect("JSON");
    let context = request
        .pointer_mut("/object/spec/template/spec/containers/1/securityContext")
        .and_then(|c| c.as_object_mut())
        .expect("the bench Deployment's second container has a securityContext");
    context.insert("privileged".into(), true.into());
    let payload = format!("{{\"settings\":{{}},\"request\":{request}}}");
    let answer = privileged
        .validate(payload.as_bytes())
        .expect("yardstick validates");
    assert_eq!(answer["accepted"], false, "{answer}");
    assert_eq!(
        answer["message"], "Privileged container is not allowed",
        "{answer}"
    );
}

/// Mean microseconds per call over one round.
fn per_call(f: impl Fn()) -> f64 {
    let start = Instant::now();
    for _ in 0..CALLS {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / CALLS as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

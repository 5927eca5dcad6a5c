//! `make bench`: size and speed of policy.wasm, measured against two references in one run.
//!
//! - native: the same Kubewarden host code (`resource_limits_kubewarden::validate`) compiled
//!   for this machine: the wasm should be within 3x of it;
//! - baseline: a do-nothing policy that only parses the payload into a `serde_json::Value`
//!   (built here from tests/baseline-policy): the policy should be faster than it.
//!
//! Rounds alternate between the three so machine noise hits all alike; the median round is
//! reported. Ratios, not absolute times, are what BENCHMARKS.md compares across runs.

use host_tests::{policy_bytes, repo_root, Policy};
use std::process::Command;
use std::time::Instant;

const ROUNDS: usize = 15;
const CALLS: usize = 400;

fn main() {
    let root = repo_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "-p",
            "baseline-policy",
        ])
        .current_dir(&root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the baseline policy failed");
    let baseline_bytes =
        std::fs::read(root.join("target/wasm32-wasip1/release/baseline_policy.wasm"))
            .expect("baseline_policy.wasm");
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
    println!(
        "policy.wasm: {} bytes ({:.1} KiB)",
        policy_bytes.len(),
        policy_bytes.len() as f64 / 1024.0
    );
    println!(
        "baseline_policy.wasm: {} bytes ({:.1} KiB)",
        baseline_bytes.len(),
        baseline_bytes.len() as f64 / 1024.0
    );
    println!();
    println!("| workload | payload | native | policy.wasm | baseline.wasm | wasm / native | wasm / baseline |");
    println!("|---|---|---|---|---|---|---|");
    for (name, request) in workloads {
        let payload = format!("{{\"settings\":{settings},\"request\":{request}}}").into_bytes();
        // The three agree on what they are given before anything is timed.
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

        let mut t_native = Vec::new();
        let mut t_wasm = Vec::new();
        let mut t_base = Vec::new();
        for _ in 0..ROUNDS {
            t_native.push(per_call(|| {
                std::hint::black_box(
                    resource_limits_kubewarden::validate(std::hint::black_box(&payload)).ok(),
                );
            }));
            // The answers' bytes, unread, as the native call's: reading them is the host's work.
            t_wasm.push(per_call(|| {
                std::hint::black_box(policy.call_raw("validate", &payload).ok());
            }));
            t_base.push(per_call(|| {
                std::hint::black_box(baseline.call_raw("validate", &payload).ok());
            }));
        }
        let (n, w, b) = (median(t_native), median(t_wasm), median(t_base));
        println!(
            "| {name} | {} B | {:.1} µs | {:.1} µs | {:.1} µs | {:.2} | {:.2} |",
            payload.len(),
            n,
            w,
            b,
            w / n,
            w / b
        );
    }
}

/// Mean microseconds per call over one round.
fn per_call(mut f: impl FnMut()) -> f64 {
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

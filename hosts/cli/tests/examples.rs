//! The project's own deployment examples pass the policy they deploy: the webhook's own Pods
//! (the SpinApp's and its TLS proxy's) are inside the example bounds, so a cluster that runs the
//! policy can run the webhook too.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_resource-limits");

#[test]
fn the_spinkube_example_passes_the_settings_it_deploys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(BIN)
        .args([
            "check",
            "-s",
            "examples/settings/bounded.json",
            "-o",
            "json",
            "examples/spinkube",
        ])
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "check examples/spinkube:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The TLS proxy's Deployment is judged (a checked kind), and passes.
    let report: Value = serde_json::from_str(&stdout).expect("JSON output");
    let text = report.to_string();
    assert!(
        text.contains("resource-limits-tls-proxy"),
        "the TLS proxy's Deployment was not judged: {stdout}"
    );
}

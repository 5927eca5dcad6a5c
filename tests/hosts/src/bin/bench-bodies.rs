//! The request bodies of `scripts/bench-policy-server.sh`: the 4-container Deployment of
//! `make bench` (`host_tests::bench_deployment(4, ...)`), as AdmissionReviews a webhook receives.
//!
//! Usage: `bench-bodies DIR` writes `DIR/accepted.json` (every container with complete
//! resources) and `DIR/mutated.json` (the last container without resources: under
//! examples/settings/bounded.json the policy adds the defaults).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: bench-bodies DIR");
        return ExitCode::from(2);
    };
    for (name, complete) in [("accepted.json", true), ("mutated.json", false)] {
        let request = host_tests::bench_deployment(4, complete);
        let body = testkit::review_body(request.as_bytes());
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, body) {
            eprintln!("bench-bodies: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

//! The request bodies of `scripts/bench-policy-server.sh`: the 4-container Deployment of
//! `make bench` (`bench.rs`'s `deployment(4, ...)`), as AdmissionReviews a webhook receives.
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
        let request = deployment(4, complete);
        let body = testkit::review_body(request.as_bytes());
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, body) {
            eprintln!("bench-bodies: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// The same object as `bench.rs`'s `deployment`, kept identical so the policy-server figures
/// and `make bench`'s describe one request: a realistic Deployment CREATE (labels,
/// annotations, probes, env, volumes); `n` containers, with complete resources (`complete`)
/// or none on the last container (a mutation).
fn deployment(n: usize, complete: bool) -> String {
    let containers: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let mut c = serde_json::json!({
                "name": format!("c{i}"),
                "image": format!("registry.example.com/team/service-{i}:1.{i}.0"),
                "imagePullPolicy": "IfNotPresent",
                "args": ["--port=8080", "--log-level=info", "--metrics"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "MODE", "value": "production"},
                    {"name": "GOMAXPROCS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}
                ],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 10},
                "livenessProbe": {"httpGet": {"path": "/live", "port": "http"}, "initialDelaySeconds": 5},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/service", "readOnly": true}],
                "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
            });
            if !complete && i == n - 1 {
                c.as_object_mut().map(|m| m.remove("resources"));
            }
            c
        })
        .collect();
    let object = testkit::wrap(
        "Deployment",
        serde_json::json!({
            "serviceAccountName": "service",
            "containers": containers,
            "volumes": [{"name": "config", "configMap": {"name": "service-config"}}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "apps", "effect": "NoSchedule"}]
        }),
    );
    testkit::admission_request("Deployment", "CREATE", None, &object).to_string()
}

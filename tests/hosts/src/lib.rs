//! Runs the built `policy.wasm` the way Kubewarden's policy-server does: waPC on
//! wasmtime-provider (the engine policy-server embeds), settings validated first.

pub mod certs;
pub mod cluster;
pub mod newcomer;
pub mod operators;
pub mod scratch;
pub mod spin;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wapc::WapcHost;
use wasmtime_provider::{EpochDeadlines, WasmtimeEngineProviderBuilder};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example pairs of examples/examples.txt: (settings file, AdmissionRequest file).
pub fn examples() -> Vec<(PathBuf, PathBuf)> {
    let dir = repo_root().join("examples");
    let text = std::fs::read_to_string(dir.join("examples.txt"))
        .unwrap_or_else(|e| panic!("examples/examples.txt: {e}"));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((
                dir.join("settings").join(it.next()?),
                dir.join("requests").join(it.next()?),
            ))
        })
        .collect()
}

/// The built policy: `$POLICY_WASM`, else `policy.wasm` at the repository root
/// (`make policy.wasm` builds it; `make test` does so first).
pub fn policy_wasm() -> PathBuf {
    match std::env::var_os("POLICY_WASM") {
        Some(p) => PathBuf::from(p),
        None => repo_root().join("policy.wasm"),
    }
}

/// Reads the built policy, failing with the command that builds it.
pub fn policy_bytes() -> Vec<u8> {
    let path = policy_wasm();
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: build it with `make policy.wasm` (make test does so first)",
            path.display()
        )
    })
}

/// Epoch ticks every 10 ms; a waPC call may take this many before it is interrupted.
const CALL_DEADLINE_TICKS: u64 = 500;

/// The most linear memory a module may grow to in the test hosts: a hostile input that
/// needs more traps the call (and fails its test) instead of going unnoticed.
pub const MAX_GUEST_MEMORY: usize = 64 << 20;

/// One instance of the policy in wapc + wasmtime-provider, with a deadline on every call so
/// that a hang shows as an error instead of a stuck test, and a cap on its memory.
pub struct Policy {
    host: WapcHost,
    ticking: Arc<AtomicBool>,
}

impl Policy {
    /// Instantiates a policy module in wapc + wasmtime-provider.
    pub fn load(module: &[u8]) -> Policy {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config).expect("wasmtime engine");
        let ticking = Arc::new(AtomicBool::new(true));
        let (t, e) = (ticking.clone(), engine.clone());
        std::thread::spawn(move || {
            while t.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
                e.increment_epoch();
            }
        });
        let provider = WasmtimeEngineProviderBuilder::new()
            .engine(engine)
            .module_bytes(module)
            .enable_epoch_interruptions(EpochDeadlines {
                wapc_init: CALL_DEADLINE_TICKS,
                wapc_func: CALL_DEADLINE_TICKS,
            })
            .enable_resource_limits(wasmtime_provider::ResourceLimits {
                max_memory_size: Some(MAX_GUEST_MEMORY),
                ..Default::default()
            })
            .build()
            .expect("the policy loads in wasmtime-provider");
        let host = WapcHost::new(Box::new(provider), Some(Box::new(host_call))).expect("waPC host");
        Policy { host, ticking }
    }

    /// Calls a waPC function; `Err` is a trap, an interruption or a guest error.
    pub fn call(&self, op: &str, payload: &[u8]) -> Result<Value, String> {
        let out = self.host.call(op, payload).map_err(|e| e.to_string())?;
        serde_json::from_slice(&out).map_err(|e| format!("{op} answered non-JSON: {e}"))
    }

    /// Calls a waPC function and returns its answer's bytes as they are (`Err` as in
    /// [`Policy::call`]): what the benchmark times, without reading the answer.
    pub fn call_raw(&self, op: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.host.call(op, payload).map_err(|e| e.to_string())
    }

    /// Calls `protocol_version`.
    pub fn protocol_version(&self) -> Result<Value, String> {
        self.call("protocol_version", b"")
    }

    /// `validate_settings`: `{"valid": bool, "message": ...}`.
    pub fn validate_settings(&self, settings: &[u8]) -> Result<Value, String> {
        self.call("validate_settings", settings)
    }

    /// `validate`: a Kubewarden ValidationResponse.
    pub fn validate(&self, payload: &[u8]) -> Result<Value, String> {
        self.call("validate", payload)
    }
}

/// The host calls a guest may make: `kubewarden/tracing/log`, the log line a policy built
/// with the SDK's slog drain sends (policy-server parses the event and hands it to its own
/// logger; here it is parsed and dropped). Anything else fails, as it does without a host
/// callback; our policy makes no host call.
fn host_call(
    _id: u64,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    match (binding, namespace, operation) {
        ("kubewarden", "tracing", "log") => {
            serde_json::from_slice::<Value>(payload)?;
            Ok(Vec::new())
        }
        _ => Err(format!("no host capability {binding}/{namespace}/{operation}").into()),
    }
}

impl Drop for Policy {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

/// A realistic Deployment CREATE: labels, annotations, probes, env, volumes; `n` containers,
/// with complete resources (`complete`) or none on the last container (a mutation).
pub fn bench_deployment(n: usize, complete: bool) -> String {
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
    let mut request = testkit::admission_request("Deployment", "CREATE", None, &object);
    // The API server sends a CREATE's options (the SDK's request type needs them present).
    request["options"] =
        serde_json::json!({"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"});
    request.to_string()
}

/// An AdmissionRequest's JSON as the core judges it for the mutating webhook: read
/// ([`resource_limits::review::AdmissionRequest::from_json`]), then the core's one entry for
/// a request ([`resource_limits::review::evaluate`]); what cannot be read is the verdict.
pub fn judge(settings: &resource_limits::Settings, request: &[u8]) -> resource_limits::Verdict {
    use resource_limits::review::{evaluate, AdmissionRequest};
    match AdmissionRequest::from_json(request) {
        Ok(req) => evaluate(settings, &req, resource_limits::Webhook::Mutating),
        Err(unreadable) => resource_limits::Verdict::Unreadable(unreadable),
    }
}

/// Fails the test with every failure it gathered, one a line, when there is any.
pub fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failure(s):\n- {}",
        failures.len(),
        failures.join("\n- ")
    );
}

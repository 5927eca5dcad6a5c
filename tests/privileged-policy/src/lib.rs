//! The benchmark's yardstick: a policy written the way Kubewarden's pod-privileged-policy is,
//! so that `make bench` can set policy.wasm against a published policy users run, in the same
//! wapc + wasmtime-provider host and run. That policy's module cannot be downloaded here and
//! its source is not on the crate registry, so this crate repeats its shape in our own code:
//!
//! - mirrors kubewarden/pod-privileged-policy 1.0.8 (archived repository, commit
//!   a21bed642b4cc5ce1949206f2e5932089d05d679; development continues in kubewarden/policies);
//! - the same steps a `validate` takes there: the payload is parsed by
//!   `ValidationRequest::<Settings>::new` (the object as a `serde_json::Value`), one `info`
//!   line goes to the host through the SDK's slog drain (a waPC host call,
//!   `kubewarden/tracing/log`), the SDK's `extract_pod_spec_from_object` clones the object and
//!   deserializes it into a typed k8s-openapi `Deployment` (or the other workload kinds), each
//!   container's `securityContext.privileged` is checked (init and ephemeral containers unless
//!   the settings skip them), and the answer is the SDK's `accept_request` / `reject_request`;
//! - its settings: `skip_init_containers`, `skip_ephemeral_containers` (both default false);
//! - what differs: kubewarden-policy-sdk 0.17.3 (ours; upstream 1.0.8 pins 0.15) and so
//!   k8s-openapi 0.28 with `v1_32`, its earliest (upstream 0.26 with `v1_31`); `std::sync::LazyLock`
//!   instead of the lazy_static crate for the logger; and one extra waPC function,
//!   `accept_at_once`, which answers a fixed acceptance without reading its payload, so the
//!   benchmark can time the waPC call itself apart from any policy's work.

use k8s_openapi::api::core::v1 as core;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use kubewarden_policy_sdk::{
    accept_request, logging, protocol_version_guest, reject_request, request::ValidationRequest,
    settings::Validatable, validate_settings,
};
use serde::{Deserialize, Serialize};
use slog::{info, o, Logger};
use std::sync::LazyLock;

static LOG: LazyLock<Logger> = LazyLock::new(|| {
    Logger::root(
        logging::KubewardenDrain::new(),
        o!("policy" => "privileged-policy"),
    )
});

/// The yardstick's settings, as pod-privileged-policy names them.
#[derive(Serialize, Deserialize, Default, Debug)]
#[serde(default)]
struct Settings {
    skip_init_containers: bool,
    skip_ephemeral_containers: bool,
}

impl Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

// The waPC host calls this symbol by name: the one item that needs `unsafe_code`.
/// Registers the yardstick's functions with the waPC host.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings::<Settings>);
    guest::register_function("protocol_version", protocol_version_guest);
    guest::register_function("accept_at_once", accept_at_once);
}

/// A fixed acceptance, the payload unread: the cost of a waPC call and nothing else.
fn accept_at_once(_payload: &[u8]) -> CallResult {
    Ok(br#"{"accepted":true}"#.to_vec())
}

fn validate(payload: &[u8]) -> CallResult {
    let request = ValidationRequest::<Settings>::new(payload)?;
    info!(LOG, "starting validation");
    match request.extract_pod_spec_from_object() {
        Ok(Some(spec)) => match check_pod_spec(&spec, &request.settings) {
            Ok(()) => accept_request(),
            Err(e) => reject_request(Some(e.to_string()), None, None, None),
        },
        // No pod spec: nothing to check.
        Ok(None) => accept_request(),
        Err(_) => reject_request(
            Some("Cannot parse validation request".into()),
            None,
            None,
            None,
        ),
    }
}

fn privileged(context: Option<&core::SecurityContext>) -> bool {
    context.and_then(|c| c.privileged).unwrap_or(false)
}

fn check_pod_spec(spec: &core::PodSpec, settings: &Settings) -> anyhow::Result<()> {
    if spec
        .containers
        .iter()
        .any(|c| privileged(c.security_context.as_ref()))
    {
        anyhow::bail!("Privileged container is not allowed");
    }
    if !settings.skip_init_containers
        && spec
            .init_containers
            .iter()
            .flatten()
            .any(|c| privileged(c.security_context.as_ref()))
    {
        anyhow::bail!("Privileged init container is not allowed");
    }
    if !settings.skip_ephemeral_containers
        && spec
            .ephemeral_containers
            .iter()
            .flatten()
            .any(|c| privileged(c.security_context.as_ref()))
    {
        anyhow::bail!("Privileged ephemeral container is not allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn payload(settings: Value, containers: Value, init: Value) -> Vec<u8> {
        json!({
            "settings": settings,
            "request": {
                "uid": "1",
                "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
                "operation": "CREATE",
                "object": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "web"},
                    "spec": {
                        "selector": {"matchLabels": {"app": "web"}},
                        "template": {
                            "metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": containers, "initContainers": init}
                        }
                    }
                }
            }
        })
        .to_string()
        .into_bytes()
    }

    fn accepted(answer: CallResult) -> bool {
        let answer: Value = serde_json::from_slice(&answer.unwrap()).unwrap();
        answer["accepted"].as_bool().unwrap()
    }

    #[test]
    fn accepts_unprivileged_and_rejects_privileged_containers() {
        let plain = json!([{"name": "a", "image": "a"},
            {"name": "b", "image": "b", "securityContext": {"privileged": false}}]);
        let privileged = json!([{"name": "a", "image": "a"},
            {"name": "b", "image": "b", "securityContext": {"privileged": true}}]);
        assert!(accepted(validate(&payload(
            json!({}),
            plain.clone(),
            json!([])
        ))));
        assert!(!accepted(validate(&payload(
            json!({}),
            privileged.clone(),
            json!([])
        ))));
        // A privileged init container, unless the settings skip init containers.
        assert!(!accepted(validate(&payload(
            json!({}),
            plain.clone(),
            privileged.clone()
        ))));
        let skip = json!({"skip_init_containers": true});
        assert!(accepted(validate(&payload(skip, plain, privileged))));
    }
}

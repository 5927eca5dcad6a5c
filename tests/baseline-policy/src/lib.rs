//! The benchmark's baseline: what a typical published Rust policy does before any rule runs,
//! parsing the whole `validate` payload into a `serde_json::Value` tree, and nothing else.
//!
//! With the settings `{"mutate": true}` it is the do-nothing *mutating* policy instead: it
//! also answers with the request's object, one annotation added, as a typical mutating
//! policy answers (the tree changed and written out), so that policy-server does for it the
//! work it does for every mutation (it parses the object it gets back and diffs it against
//! the request to make the JSONPatch).

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use kubewarden_policy_sdk::{accept_request, protocol_version_guest, reject_request};
use serde_json::Value;

// The waPC host calls this symbol by name: the one item that needs `unsafe_code`.
/// Registers the baseline's functions with the waPC host.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function("protocol_version", protocol_version_guest);
}

fn validate(payload: &[u8]) -> CallResult {
    match serde_json::from_slice::<Value>(payload) {
        Ok(mut v) if v.get("request").is_some() => {
            if v.pointer("/settings/mutate") != Some(&Value::Bool(true)) {
                return accept_request();
            }
            let mut object = v["request"]["object"].take();
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                let annotations = meta
                    .entry("annotations")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(a) = annotations.as_object_mut() {
                    a.insert("baseline.example.com/seen".into(), Value::from("1"));
                }
            }
            Ok(serde_json::to_vec(&ValidationResponse {
                accepted: true,
                message: None,
                code: None,
                mutated_object: Some(object),
                audit_annotations: None,
                warnings: None,
            })?)
        }
        _ => reject_request(
            Some("not a validation request".into()),
            Some(400),
            None,
            None,
        ),
    }
}

fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(br#"{"valid":true}"#.to_vec())
}

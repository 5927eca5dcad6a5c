//! The benchmark's baseline: what a typical published Rust policy does before any rule runs,
//! parsing the whole `validate` payload into a `serde_json::Value` tree, and nothing else.

use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use kubewarden_policy_sdk::{accept_request, protocol_version_guest, reject_request};

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
    match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(v) if v.get("request").is_some() => accept_request(),
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

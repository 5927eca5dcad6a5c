//! The Kubewarden host: a waPC guest (`validate`, `validate_settings`, `protocol_version`)
//! for policy-server and `kwctl run`. It only decodes Kubewarden's framing, calls the core
//! and encodes the answer the SDK's way.

use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use kubewarden_policy_sdk::{
    accept_request, mutate_request, protocol_version_guest, reject_request,
};
use resource_limits::review::{self, AdmissionRequest, Verdict};
use resource_limits::Settings;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Registers the policy's functions with the waPC host.
#[no_mangle]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function("protocol_version", protocol_version_guest);
}

/// Kubewarden's `validate` payload: the AdmissionRequest and the policy's settings.
#[derive(Deserialize)]
struct ValidationRequest<'a> {
    #[serde(borrow)]
    request: AdmissionRequest<'a>,
    #[serde(borrow, default)]
    settings: Option<&'a RawValue>,
}

/// The verdict for a `validate` payload.
pub fn verdict(payload: &[u8]) -> Verdict {
    let req = match serde_json::from_slice::<ValidationRequest<'_>>(payload) {
        Ok(req) => req,
        Err(e) => return Verdict::bad_input(review::not_a_request(&e)),
    };
    let settings = match req.settings {
        None => Ok(Settings::default()),
        Some(raw) => Settings::from_json(raw.get().as_bytes()),
    };
    match settings {
        Ok(settings) => review::evaluate_request(&settings, &req.request),
        Err(e) => Verdict::bad_input(format!("the policy's settings are not valid: {e}")),
    }
}

/// waPC `validate`.
pub fn validate(payload: &[u8]) -> CallResult {
    let v = verdict(payload);
    match (v.allowed, v.mutation) {
        (true, Some(m)) => mutate_request(m.object),
        (true, None) => accept_request(),
        (false, _) => reject_request(v.message, v.code, None, None),
    }
}

/// waPC `validate_settings`.
pub fn validate_settings(payload: &[u8]) -> CallResult {
    let answer = match Settings::from_json(payload) {
        Ok(_) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(e) => SettingsValidationResponse {
            valid: false,
            message: Some(e.to_string()),
        },
    };
    Ok(serde_json::to_vec(&answer)?)
}

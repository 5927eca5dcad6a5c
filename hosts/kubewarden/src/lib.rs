//! The Kubewarden host: a waPC guest (`validate`, `validate_settings`, `protocol_version`)
//! for policy-server and `kwctl run`. It only decodes Kubewarden's framing, calls the core
//! and encodes the answer the SDK's way.

use kubewarden_policy_sdk::protocol_version_guest;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use resource_limits::review::{self, AdmissionRequest};
use resource_limits::{Settings, SettingsError};
use resource_limits::{Unreadable, Verdict, Webhook};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::cell::RefCell;

/// Registers the policy's functions with the waPC host.
// The waPC host calls this symbol by name: the one item that needs `unsafe_code`.
#[allow(unsafe_code)]
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
    let req = match resource_limits::json::from_slice::<ValidationRequest<'_>>(payload) {
        Ok(req) => req,
        Err(e) => return Verdict::Unreadable(Unreadable::from_json_error(&e, "")),
    };
    let raw = req.settings.map(|r| r.get().as_bytes()).unwrap_or(b"{}");
    with_settings(raw, |settings| match settings {
        Ok(settings) => review::evaluate(settings, &req.request, Webhook::Mutating),
        Err(e) => Verdict::Unreadable(Unreadable::Settings(e.to_string())),
    })
}

/// Raw settings JSON and what it parsed to.
type CachedSettings = (Vec<u8>, Result<Settings, SettingsError>);

thread_local! {
    /// The settings of the last call, by their raw JSON: policy-server keeps one instance of
    /// the policy per policy and sends the same settings with every request, so they are
    /// parsed once, not once per request.
    static SETTINGS: RefCell<Option<CachedSettings>> = const { RefCell::new(None) };
}

fn with_settings<R>(raw: &[u8], f: impl FnOnce(&Result<Settings, SettingsError>) -> R) -> R {
    SETTINGS.with(|cell| {
        let mut cache = cell.borrow_mut();
        if cache.as_ref().is_none_or(|(key, _)| key.as_slice() != raw) {
            *cache = Some((raw.to_vec(), Settings::from_json(raw)));
        }
        match cache.as_ref() {
            Some((_, settings)) => f(settings),
            None => f(&Settings::from_json(raw)),
        }
    })
}

/// waPC `validate`: the SDK's `ValidationResponse`, with the verdict's warnings (within the
/// API server's header limits), which policy-server relays in the AdmissionReview.
pub fn validate(payload: &[u8]) -> CallResult {
    Ok(answer(&verdict(payload))?)
}

/// The `ValidationResponse` for a verdict, as JSON.
///
/// Written here rather than by serializing the SDK's `ValidationResponse`: its
/// `mutated_object` is a `serde_json::Value`, which would make the mutated object a tree
/// again only to write it out. The mutation's text goes in as it is; the other fields are
/// the SDK's, in its order, each written by serde_json (a test checks that the SDK reads the
/// answer back as the verdict's).
pub fn answer(v: &Verdict) -> serde_json::Result<Vec<u8>> {
    let warnings = v.admission_warnings();
    let object = v.mutation().map(|m| m.object_json());
    let mut out = Vec::with_capacity(object.map_or(0, str::len) + 128);
    out.extend_from_slice(br#"{"accepted":"#);
    serde_json::to_writer(&mut out, &v.allowed())?;
    out.extend_from_slice(br#","message":"#);
    serde_json::to_writer(&mut out, &v.message())?;
    out.extend_from_slice(br#","code":"#);
    serde_json::to_writer(&mut out, &v.code())?;
    out.extend_from_slice(br#","mutated_object":"#);
    out.extend_from_slice(object.unwrap_or("null").as_bytes());
    out.extend_from_slice(br#","audit_annotations":null,"warnings":"#);
    serde_json::to_writer(&mut out, &(!warnings.is_empty()).then_some(warnings))?;
    out.push(b'}');
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use kubewarden_policy_sdk::response::ValidationResponse;
    use serde_json::Value;

    /// The hand-written answer is what the SDK writes for the same verdict.
    #[test]
    fn the_answer_is_the_sdks_validation_response() {
        let request = |resources: &str| {
            format!(
                r#"{{"request": {{"uid": "u", "kind": {{"kind": "Pod"}}, "operation": "CREATE",
                "object": {{"spec": {{"containers": [{{"name": "a\u00e9\"", "resources": {resources}}}]}}, "n": 1.50}}}},
                "settings": {{"cpu": {{"defaultLimit": "1", "maxLimit": "2"}}, "memory": {{"requireLimit": false, "defaultRequest": "1Mi"}}}}}}"#
            )
        };
        let mut mutated = 0;
        for payload in [
            request(r#"{"limits": {"cpu": "1"}, "requests": {"memory": "1Mi"}}"#),
            request("{}"),
            request("null"),
            request(r#"{"limits": {"cpu": "3"}, "requests": {"memory": "1m"}}"#),
            "{".to_owned(),
        ] {
            let v = verdict(payload.as_bytes());
            let warnings = v.admission_warnings();
            let object = v.mutation().map(|m| m.object().unwrap_or_default());
            mutated += usize::from(object.is_some());
            let sdk = ValidationResponse {
                accepted: v.allowed(),
                message: v.message(),
                code: v.code(),
                warnings: (!warnings.is_empty()).then_some(warnings),
                audit_annotations: None,
                mutated_object: object,
            };
            let ours: Value = serde_json::from_slice(&answer(&v).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{payload}: not JSON: {e}"));
            assert_eq!(
                ours,
                serde_json::to_value(&sdk).unwrap_or_default(),
                "{payload}"
            );
        }
        assert_eq!(mutated, 2, "two of the payloads get defaults");
    }
}

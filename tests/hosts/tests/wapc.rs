//! The shared case table through the built policy.wasm in wapc + wasmtime-provider.

use host_tests::{policy_bytes, Policy};
use serde_json::Value;

/// What policy-server does with a case: settings first, then the request.
fn run(policy: &Policy, case: &testkit::Case) -> Result<(), String> {
    let answer = policy.validate_settings(case.settings.to_string().as_bytes())?;
    let valid = answer["valid"]
        .as_bool()
        .ok_or("validate_settings: no valid")?;
    match &case.expect.settings_error {
        Some(want) => {
            return match (valid, answer["message"].as_str()) {
                (false, Some(got)) if got == want => Ok(()),
                _ => Err(format!("settings\n  want error: {want}\n  got: {answer}")),
            }
        }
        None if !valid => return Err(format!("settings rejected: {answer}")),
        None => {}
    }
    let r = policy.validate(&case.kubewarden_payload())?;
    let accepted = r["accepted"].as_bool().ok_or("validate: no accepted")?;
    if accepted != case.expect.allowed {
        return Err(format!("accepted = {accepted}: {r}"));
    }
    if !accepted {
        if r["code"] != 400 {
            return Err(format!("code {}", r["code"]));
        }
        if !r["mutated_object"].is_null() {
            return Err("a rejection carries a mutated object".into());
        }
        return case.check_message(r["message"].as_str());
    }
    match (&r["mutated_object"], &case.expect.mutated) {
        (Value::Null, None) => Ok(()),
        (got, None) => Err(format!("unexpected mutation: {got}")),
        (Value::Null, Some(_)) => Err("expected a mutation, got none".into()),
        (got, Some(want)) if got != want => {
            Err(format!("mutated object\n  want: {want}\n  got:  {got}"))
        }
        (got, Some(_)) => {
            let original = case.object.as_ref().ok_or("a mutation without an object")?;
            testkit::only_additions(original, got)
        }
    }
}

#[test]
fn the_whole_case_table_through_policy_wasm() {
    let policy = Policy::load(&policy_bytes());
    let cases = testkit::load();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| run(&policy, c).err().map(|e| format!("{}: {e}", c.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn speaks_protocol_v1() {
    let policy = Policy::load(&policy_bytes());
    assert_eq!(policy.protocol_version(), Ok(Value::String("v1".into())));
}

#[test]
fn bad_payloads_are_rejections_not_traps() {
    let policy = Policy::load(&policy_bytes());
    for payload in [
        &b""[..],
        b"null",
        b"[]",
        b"{\"request\": 7}",
        b"\xff\xfe\x00garbage",
        b"{\"request\": {\"operation\": \"CREATE\", \"kind\": {\"kind\": \"Pod\"}, \"object\": {\"spec\": {\"containers\": [{\"name\": \"\xff\"}]}}}}",
    ] {
        let r = policy.validate(payload).unwrap_or_else(|e| panic!("{payload:?}: {e}"));
        assert_eq!(r["accepted"], false, "{payload:?}: {r}");
        assert_eq!(r["code"], 400, "{payload:?}: {r}");
        assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()), "{r}");
    }
    for settings in [&b""[..], b"{", b"\xff", b"[1]", b"\"x\""] {
        let r = policy
            .validate_settings(settings)
            .unwrap_or_else(|e| panic!("{settings:?}: {e}"));
        assert_eq!(r["valid"], false, "{settings:?}: {r}");
        assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()), "{r}");
    }
}

#[test]
fn hostile_inputs_are_rejected_in_bounded_time() {
    let policy = Policy::load(&policy_bytes());
    for (name, settings, request, prefix) in testkit::hostile_requests() {
        let payload = testkit::kubewarden_payload(&settings, &request);
        let r = policy
            .validate(&payload)
            .unwrap_or_else(|e| panic!("{name}: the policy trapped or hung: {e}"));
        let msg = r["message"].as_str().unwrap_or_default();
        assert_eq!(r["accepted"], false, "{name}: {r}");
        assert!(msg.starts_with(prefix), "{name}: {msg:.300}");
    }
}

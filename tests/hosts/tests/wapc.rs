//! The shared case table through the built policy.wasm in wapc + wasmtime-provider.

use host_tests::{policy_bytes, Policy};
use serde_json::Value;

/// What policy-server does with a case: settings first, then the request.
fn run(policy: &Policy, case: &testkit::Case) -> Result<(), String> {
    let answer = policy.validate_settings(case.settings.to_string().as_bytes())?;
    let valid = answer["valid"]
        .as_bool()
        .ok_or("validate_settings: no valid")?;
    if !case.check_settings(valid, answer["message"].as_str())? {
        return Ok(());
    }
    let r = policy.validate(&case.kubewarden_payload())?;
    case.check(&testkit::Answer {
        allowed: r["accepted"].as_bool().ok_or("validate: no accepted")?,
        code: r["code"].as_u64(),
        message: r["message"].as_str().map(str::to_owned),
        mutated: Some(r["mutated_object"].clone()).filter(|m| !m.is_null()),
        warnings: testkit::strings(&r["warnings"]),
    })
}

#[test]
fn the_whole_case_table_through_policy_wasm() {
    let policy = Policy::load(&policy_bytes());
    testkit::check_all(&testkit::load(), |c| run(&policy, c));
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
    for testkit::Hostile {
        name,
        settings,
        request,
        prefix,
    } in testkit::hostile_requests()
    {
        let payload = testkit::kubewarden_payload(&settings, &request);
        let r = policy
            .validate(&payload)
            .unwrap_or_else(|e| panic!("{name}: the policy trapped or hung: {e}"));
        let msg = r["message"].as_str().unwrap_or_default();
        assert_eq!(r["accepted"], false, "{name}: {r}");
        assert!(msg.starts_with(prefix), "{name}: {msg:.300}");
    }
}

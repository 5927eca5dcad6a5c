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
    for h in testkit::hostile_requests() {
        let payload = testkit::kubewarden_payload(&h.settings, &h.request);
        let r = policy
            .validate(&payload)
            .unwrap_or_else(|e| panic!("{}: the policy trapped or hung: {e}", h.name));
        let msg = r["message"].as_str().unwrap_or_default();
        assert_eq!(r["accepted"], false, "{}: {r}", h.name);
        assert!(msg.starts_with(h.prefix), "{}: {msg:.300}", h.name);
    }
}

/// A Pod of `n` containers named `name-<i>` without resources, under settings that add a cpu
/// limit to each: one warning a container.
fn many_defaults(n: usize, name: &str) -> String {
    let containers: Vec<Value> = (0..n)
        .map(|i| serde_json::json!({"name": format!("{name}-{i}"), "image": "nginx"}))
        .collect();
    serde_json::json!({
        "uid": "u", "operation": "CREATE",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "object": {"spec": {"containers": containers}},
    })
    .to_string()
}

#[test]
fn warnings_keep_to_the_api_servers_header_limits() {
    let policy = Policy::load(&policy_bytes());
    let settings = serde_json::json!({"cpu": {"defaultLimit": "1"}});
    let r = policy
        .validate(&testkit::kubewarden_payload(
            &settings,
            many_defaults(3, "app").as_bytes(),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r["accepted"], true, "{r}");
    assert_eq!(
        testkit::strings(&r["warnings"]),
        (0..3)
            .map(|i| format!("spec.containers[{i}] \"app-{i}\": cpu limit 1 added (defaultLimit)"))
            .collect::<Vec<_>>()
    );
    // 200 containers, names of 250 characters: each warning cut to 256 characters, at most
    // 4,096 in all, the rest counted.
    let r = policy
        .validate(&testkit::kubewarden_payload(
            &settings,
            many_defaults(200, &"x".repeat(250)).as_bytes(),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let warnings = testkit::strings(&r["warnings"]);
    assert!(
        warnings.iter().all(|w| w.chars().count() <= 256),
        "{warnings:?}"
    );
    let total: usize = warnings.iter().map(|w| w.chars().count()).sum();
    assert!(total <= 4096, "{total}");
    let shown = warnings.len() - 1;
    assert!(shown >= 10, "{warnings:?}");
    assert_eq!(
        warnings.last().map(String::as_str),
        Some(format!("{} more warnings left out", 200 - shown).as_str())
    );
    assert!(warnings[0].ends_with("..."), "{}", warnings[0]);
}

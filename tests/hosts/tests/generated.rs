//! The fuzzer's generated samples (settings and workloads of every kind, with hostile values
//! mixed in; `resource-limits-fuzz`) through the built policy.wasm in wapc + wasmtime-provider
//! and through the Spin component in the in-process host: no trap, and the same answer as
//! the native core, field for field. The samples come from fixed seeds, so a failure names
//! a sample every machine regenerates.

use host_tests::judge;
use host_tests::spin::{component_path, SpinHost};
use host_tests::{policy_bytes, Policy};
use resource_limits::review::admission_review;
use resource_limits::Settings;
use resource_limits::Webhook;
use resource_limits_fuzz::gen::{samples, Sample};
use serde_json::Value;

/// Samples per host; `GENERATED_SAMPLES` raises it.
fn count() -> usize {
    std::env::var("GENERATED_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// The policy.wasm answer must be the native verdict: accepted, code, message, mutated object.
fn through_wapc(policy: &Policy, i: usize, s: &Sample) -> Result<(), String> {
    let settings = bytes(&s.settings);
    let native = Settings::from_json(&settings);
    let answer = policy.validate_settings(&settings)?;
    if answer["valid"] != native.is_ok() {
        return Err(format!(
            "sample {i}: validate_settings {answer} but native {native:?}"
        ));
    }
    if let Err(e) = &native {
        if answer["message"].as_str() != Some(e.to_string().as_str()) {
            return Err(format!(
                "sample {i}: settings message {answer} but native {e}"
            ));
        }
        return Ok(());
    }
    let settings = native.unwrap_or_default();
    let request = bytes(&s.request);
    let want = judge(&settings, &request);
    let got = policy.validate(&testkit::kubewarden_payload(&s.settings, &request))?;
    let mutated = want.mutation().and_then(|m| m.object().ok());
    if got["accepted"] != want.allowed()
        || got["code"].as_u64() != want.code().map(u64::from)
        || got["message"].as_str() != want.message().as_deref()
        || Some(&got["mutated_object"]).filter(|m| !m.is_null()) != mutated.as_ref()
    {
        return Err(format!(
            "sample {i}: policy.wasm answered {got}\nnative: {want:?}\nrequest: {}",
            s.request
        ));
    }
    Ok(())
}

#[test]
fn generated_samples_through_policy_wasm_equal_the_core() {
    let policy = Policy::load(&policy_bytes());
    let all = samples(0x5eed_0001, count());
    let mut failures = Vec::new();
    let mut accepted = 0;
    let mut mutated = 0;
    for (i, s) in all.iter().enumerate() {
        match through_wapc(&policy, i, s) {
            Ok(()) => {}
            Err(e) => failures.push(e),
        }
        if let Ok(settings) = Settings::from_json(&bytes(&s.settings)) {
            let v = judge(&settings, &bytes(&s.request));
            accepted += usize::from(v.allowed());
            mutated += usize::from(v.mutation().is_some());
        }
    }
    assert_none_differ(&failures, all.len());
    // The samples reach every outcome, or the comparison proves little.
    assert!(
        accepted > all.len() / 10 && mutated > all.len() / 50,
        "accepted {accepted}, mutated {mutated}"
    );
}

#[test]
fn generated_samples_through_the_spin_component_equal_the_core() {
    let host = SpinHost::start(&component_path(), None);
    let all = samples(0x5eed_0002, count() / 2);
    let mut failures = Vec::new();
    for (i, s) in all.iter().enumerate() {
        let settings = bytes(&s.settings);
        host.set_settings(&String::from_utf8_lossy(&settings));
        let body = testkit::review_body(&bytes(&s.request));
        // Each path answers as the core does for its kind of webhook.
        for (path, kind) in [
            ("/mutate", Webhook::Mutating),
            ("/validate", Webhook::Validating),
        ] {
            let (status, _, answer) = host.request("POST", path, &body);
            let got: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
            let ok = match Settings::from_json(&settings) {
                // Invalid settings: 500 naming them, as /healthz does.
                Err(_) => status == 500,
                Ok(settings) => match admission_review(&settings, &body, kind) {
                    Ok(want) => {
                        status == 200 && serde_json::to_value(&want).ok().as_ref() == Some(&got)
                    }
                    Err(e) => status == 400 && got["error"].as_str() == Some(e.0.as_str()),
                },
            };
            if !ok {
                failures.push(format!(
                    "sample {i} {path}: HTTP {status} {got}\nrequest: {}",
                    s.request
                ));
            }
        }
    }
    assert_none_differ(&failures, all.len());
}

/// Fails listing every sample whose answer differed from the core's.
fn assert_none_differ(failures: &[String], total: usize) {
    assert!(
        failures.is_empty(),
        "{} of {total} samples differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

//! The shared case table through the native core.

use resource_limits::{evaluate, Settings};

#[test]
fn every_case_of_the_table() {
    let cases = testkit::load();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = run(case) {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn run(case: &testkit::Case) -> Result<(), String> {
    let settings_json = case.settings.to_string();
    let settings = match (
        Settings::from_json(settings_json.as_bytes()),
        &case.expect.settings_error,
    ) {
        (Err(e), Some(want)) if e.to_string() == *want => return Ok(()),
        (Err(e), Some(want)) => return Err(format!("settings error\n  want: {want}\n  got:  {e}")),
        (Ok(_), Some(want)) => return Err(format!("settings accepted, want error {want}")),
        (Err(e), None) => return Err(format!("settings rejected: {e}")),
        (Ok(s), None) => s,
    };
    let v = evaluate(&settings, case.request.as_bytes());
    if v.allowed != case.expect.allowed {
        return Err(format!("allowed = {}, message {:?}", v.allowed, v.message));
    }
    if !v.allowed {
        if v.code != Some(400) {
            return Err(format!("code {:?}", v.code));
        }
        if v.mutation.is_some() {
            return Err("a rejection carries a mutation".into());
        }
        return case.check_message(v.message.as_deref());
    }
    if v.message.is_some() {
        return Err(format!("an acceptance carries a message {:?}", v.message));
    }
    match (&v.mutation, &case.expect.mutated) {
        (None, None) => Ok(()),
        (Some(m), None) => Err(format!("unexpected mutation {:?}", m.additions)),
        (None, Some(_)) => Err("expected a mutation, got none".into()),
        (Some(m), Some(want)) => {
            if m.object != *want {
                return Err(format!(
                    "mutated object\n  want: {want}\n  got:  {}",
                    m.object
                ));
            }
            let original = case.object.as_ref().ok_or("a mutation without an object")?;
            testkit::only_additions(original, &m.object)
        }
    }
}

/// Every case's verdict is the same when the case is sent twice: the core keeps no state.
#[test]
fn verdicts_are_deterministic() {
    for case in testkit::load()
        .iter()
        .filter(|c| c.expect.settings_error.is_none())
    {
        let s = Settings::from_json(case.settings.to_string().as_bytes()).unwrap_or_default();
        assert_eq!(
            evaluate(&s, case.request.as_bytes()),
            evaluate(&s, case.request.as_bytes()),
            "{}",
            case.name
        );
    }
}

#[test]
fn hostile_requests_get_a_clear_rejection() {
    for (name, settings, request, prefix) in testkit::hostile_requests() {
        let s = Settings::from_json(settings.to_string().as_bytes()).unwrap_or_default();
        let v = evaluate(&s, &request);
        let msg = v.message.unwrap_or_default();
        assert!(!v.allowed, "{name}: accepted");
        assert!(msg.starts_with(prefix), "{name}: {msg:.300}");
        assert!(
            msg.len() < 64 * 1024,
            "{name}: a message of {} bytes",
            msg.len()
        );
    }
}

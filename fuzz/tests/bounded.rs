//! Short, bounded, deterministic runs of every fuzz target (the long, coverage-guided runs
//! are `make fuzz`): seeded random inputs, the shared case table as seeds, and the
//! findings kept as regressions.

use resource_limits_fuzz::{random_input, run, TARGETS};

/// Inputs per target; `FUZZ_RUNS` raises it.
fn runs() -> u64 {
    std::env::var("FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

#[test]
fn every_target_keeps_its_invariants_on_seeded_random_inputs() {
    for target in TARGETS {
        for seed in 0..runs() {
            let mut rng = fastrand::Rng::with_seed(seed);
            let input = random_input(target, &mut rng);
            if let Err(e) = run(target, &input) {
                panic!(
                    "{target}, seed {seed} (`fuzz-random run {target} --seed {seed} --runs 1`): {e}\ninput: {}",
                    String::from_utf8_lossy(&input)
                );
            }
        }
    }
}

#[test]
fn every_case_of_the_table_keeps_the_invariants() {
    let cases = testkit::load();
    assert!(cases.len() > 100);
    for c in &cases {
        let settings = c.settings.to_string();
        run("settings", settings.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let Ok(s) = resource_limits::Settings::from_json(settings.as_bytes()) else {
            continue;
        };
        resource_limits_fuzz::invariants::check_request(&s, c.request.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        run("request", c.request.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    }
}

#[test]
fn hostile_requests_keep_the_invariants() {
    for testkit::Hostile {
        name,
        settings,
        request,
        ..
    } in testkit::hostile_requests()
    {
        let s = resource_limits::Settings::from_json(settings.to_string().as_bytes())
            .unwrap_or_default();
        resource_limits_fuzz::invariants::check_request(&s, &request)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// The invariants themselves catch what they claim to: a checker that cannot fail proves
/// nothing.
#[test]
fn the_invariants_catch_a_broken_mutation() {
    use resource_limits::patch::{Addition, Section};
    use serde_json::json;
    let original =
        json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": null}}}]}});
    let add = Addition {
        container: resource_limits::Location::of_fields(&["spec", "containers"]).index(0),
        section: Section::Limits,
        resource: "cpu".into(),
        value: "1".into(),
    };
    let mut mutated = original.clone();
    resource_limits::patch::apply(&mut mutated, std::slice::from_ref(&add))
        .unwrap_or_else(|e| panic!("{e}"));
    let strip = resource_limits_fuzz::invariants::without_additions;
    assert_eq!(
        strip(&original, &mutated, std::slice::from_ref(&add)),
        original
    );
    // A mutation that also changed the name is caught.
    mutated["spec"]["containers"][0]["name"] = json!("b");
    assert_ne!(strip(&original, &mutated, &[add]), original);

    // A mutated text that rewrites anything of the original is caught, not only one that
    // changes its meaning.
    let kept = resource_limits_fuzz::invariants::kept_in;
    let original = r#"{"a": 1.50, "c": [{"r": null}, {"r": {"x": "1"}}]}"#;
    let good = r#"{"a": 1.50, "c": [{"r": {"y":"2"}}, {"r": {"y":"1","x": "1"}}]}"#;
    assert_eq!(kept(original, good), Ok(()));
    for bad in [
        r#"{"a":1.50,"c":[{"r":{"y":"2"}},{"r":{"y":"1","x":"1"}}]}"#, // compacted
        r#"{"a": 1.5, "c": [{"r": {"y":"2"}}, {"r": {"y":"1","x": "1"}}]}"#, // a number rewritten
        r#"{"c": [{"r": {"y":"2"}}, {"r": {"y":"1","x": "1"}}], "a": 1.50}"#, // reordered
        r#"{"a": 1.50, "c": [{"r": {"y":"2"}}, {"r": {"y":"1" "x": "1"}}]}"#, // no comma
        r#"{"a": 1.50, "c": [{"r": {"y":"2"}}, {"r": {"y":"1","x": "1"}}]} "#, // a byte after
    ] {
        assert!(kept(original, bad).is_err(), "{bad}");
    }

    // A Deployment whose template gets a default request over its own limit would disagree
    // with the Pod it creates (request = limit): the check sees the two verdicts differ.
    let mut spec = json!({"containers": [{"name": "a", "resources": {"limits": {"cpu": "100m"}}}]});
    resource_limits_fuzz::invariants::default_requests(&mut spec);
    assert_eq!(
        spec["containers"][0]["resources"]["requests"]["cpu"],
        "100m"
    );

    // A rejection without a field is caught.
    let v = resource_limits::Verdict::Unreadable(resource_limits::Unreadable::Settings(
        "something is wrong".into(),
    ));
    assert!(resource_limits_fuzz::invariants::check_verdict(&v).is_err());
}

/// The YAML target's "JSON read again" check: a negative zero written as `-0` is zero when read
/// again (YAML, and kubectl, read `-0` as the integer 0), and is not a finding; any other change
/// of a number is.
#[test]
fn the_yaml_target_takes_a_negative_zero_read_again_as_zero() {
    for text in ["[-0.0]", "a: -0.0", "- [-0.0, -0.0e0]"] {
        run("yaml", text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    run("yaml", b"[1.5, -0.0, 12345678901234567890]").expect("numbers kept");
}

/// Every settings key the core knows is one the generator writes: a new key that does not reach
/// `fuzz/src/gen.rs` is never fuzzed. The keys come from the core's own "unknown setting"
/// problem, so the list is the one the reader checks against.
#[test]
fn the_generator_writes_every_settings_key() {
    use resource_limits::settings::ProblemKind;
    use std::collections::BTreeSet;
    let expected = |settings: &[u8]| -> BTreeSet<&'static str> {
        let err = resource_limits::Settings::from_json(settings)
            .err()
            .unwrap_or_else(|| panic!("{} is refused", String::from_utf8_lossy(settings)));
        match err.located().first().map(|p| &p.kind) {
            Some(ProblemKind::UnknownKey { expected }) => expected.iter().copied().collect(),
            other => panic!("an unknown key, not {other:?}"),
        }
    };
    let top = expected(br#"{"notAKey": 1}"#);
    let rule = expected(br#"{"cpu": {"notAKey": 1}}"#);
    assert!(top.contains("cpu") && rule.contains("maxLimit"));

    let (mut seen_top, mut seen_rule) = (BTreeSet::new(), BTreeSet::new());
    let mut rng = fastrand::Rng::with_seed(7);
    let mut bytes = vec![0u8; 4096];
    for _ in 0..3_000 {
        rng.fill(&mut bytes);
        let Ok(settings) =
            resource_limits_fuzz::gen::settings(&mut arbitrary::Unstructured::new(&bytes))
        else {
            continue;
        };
        let Some(map) = settings.as_object() else {
            continue;
        };
        for (key, value) in map {
            seen_top.insert(key.clone());
            let rules: Vec<&serde_json::Value> = match key.as_str() {
                "cpu" | "memory" => vec![value],
                "resources" => value
                    .as_object()
                    .map(|m| m.values().collect())
                    .unwrap_or_default(),
                _ => vec![],
            };
            for r in rules.iter().filter_map(|r| r.as_object()) {
                seen_rule.extend(r.keys().cloned());
            }
        }
    }
    let missing_top: Vec<_> = top.iter().filter(|k| !seen_top.contains(**k)).collect();
    let missing_rule: Vec<_> = rule.iter().filter(|k| !seen_rule.contains(**k)).collect();
    assert!(
        missing_top.is_empty() && missing_rule.is_empty(),
        "fuzz/src/gen.rs never writes these settings keys: top level {missing_top:?}, rule {missing_rule:?}"
    );
}

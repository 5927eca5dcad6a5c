//! The Spin component (the file spin.toml names) served by the in-process Spin host over real
//! HTTP: the whole case table, verdict for verdict equal to the Kubewarden policy, and every
//! error path of the contract.

use host_tests::spin::{component_path, http_post_chunked, SpinHost};
use resource_limits::review::admission_review;
use resource_limits::Webhook;
use serde_json::Value;

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The leaves `mutated` has and `original` lacks, as (JSON path segments, value).
fn added_leaves(
    original: Option<&Value>,
    mutated: &Value,
    at: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Value)>,
) {
    match mutated {
        Value::Object(m) => {
            for (k, v) in m {
                at.push(k.clone());
                added_leaves(original.and_then(|o| o.get(k)), v, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                at.push(i.to_string());
                added_leaves(original.and_then(|o| o.get(i)), v, at, out);
                at.pop();
            }
        }
        leaf if original.is_none() || (original.is_some_and(Value::is_null) && !leaf.is_null()) => {
            out.push((at.clone(), leaf.clone()))
        }
        _ => {}
    }
}

/// What /validate must say of a default /mutate adds at `path` (`.../resources/limits/cpu`):
/// the container (`spec.containers[0]`) and `cpu limit is missing (defaultLimit 1 ...)`.
fn not_defaulted(path: &[String], value: &Value) -> Result<(String, String), String> {
    let [container @ .., resources, section, resource] = path else {
        return Err(format!("an addition at {path:?}"));
    };
    if resources != "resources" {
        return Err(format!("an addition at {path:?}"));
    }
    let (word, setting) = match section.as_str() {
        "limits" => ("limit", "defaultLimit"),
        "requests" => ("request", "defaultRequest"),
        _ => return Err(format!("an addition at {path:?}")),
    };
    let mut location = String::new();
    for step in container {
        if step.bytes().all(|b| b.is_ascii_digit()) {
            location.push_str(&format!("[{step}]"));
        } else {
            if !location.is_empty() {
                location.push('.');
            }
            location.push_str(step);
        }
    }
    let value = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    Ok((
        location,
        format!("{resource} {word} is missing ({setting} {value} is added only by the mutating webhook)"),
    ))
}

/// The /validate answer for a case whose /mutate answer is `mutate`: never a patch; the same
/// verdict, except that what /mutate admits by adding defaults is rejected, each default
/// named with the field it would fill.
fn check_validate(
    case: &testkit::Case,
    mutate: &testkit::Answer,
    review: &Value,
) -> Result<(), String> {
    let r = &review["response"];
    if r.get("patch").is_some() || r.get("patchType").is_some() {
        return Err(format!("/validate answers with a patch: {review}"));
    }
    let got = testkit::answer_from_review(case, review)?;
    let Some(mutated) = &mutate.mutated else {
        return case.check(&got);
    };
    // Each default /mutate adds is named by /validate: in its rejection, or, where every such
    // rule only warns (`enforcement: warn`), in a warning of its admission.
    let (findings, suffix): (Vec<String>, &str) = if got.allowed {
        (got.warnings.clone(), " (enforcement: warn)")
    } else if got.code == Some(400) {
        let message = got.message.as_deref().unwrap_or_default();
        (message.split("; ").map(str::to_owned).collect(), "")
    } else {
        return Err(format!("/validate answers neither: {review}"));
    };
    let message = findings.join("; ");
    let mut leaves = Vec::new();
    added_leaves(case.object.as_ref(), mutated, &mut Vec::new(), &mut leaves);
    if leaves.is_empty() {
        return Err("a mutation that adds nothing".into());
    }
    for (path, value) in &leaves {
        let (location, says) = not_defaulted(path, value)?;
        let says = format!("{says}{suffix}");
        let named = findings
            .iter()
            .any(|v| v.starts_with(&location) && v.ends_with(&says));
        if !named {
            return Err(format!(
                "/validate does not say {location}: {says}\n  said: {message}"
            ));
        }
    }
    if got.allowed {
        return Ok(());
    }
    let count = message
        .matches("is added only by the mutating webhook")
        .count();
    if count
        != leaves
            .len()
            .min(resource_limits::verdict::MESSAGE_VIOLATIONS)
    {
        return Err(format!(
            "{count} defaults named for {} added: {message}",
            leaves.len()
        ));
    }
    Ok(())
}

#[test]
fn the_whole_case_table_through_the_component() {
    let host = SpinHost::start(&component_path(), None);
    let mut rejected_on_validate = 0;
    testkit::check_all(&testkit::load(), |case| {
        host.set_settings(&case.settings.to_string());
        if let Some(want) = &case.expect.settings_error {
            let (status, _, body) = host.request("GET", "/healthz", b"");
            let got = json(&body);
            let ok = status == 500
                && got["error"]
                    .as_str()
                    .is_some_and(|e| e.ends_with(want.as_str()));
            let (mutate, _, _) =
                host.request("POST", "/mutate", case.admission_review().as_bytes());
            let (validate, _, _) =
                host.request("POST", "/validate", case.admission_review().as_bytes());
            return if ok && mutate == 500 && validate == 500 {
                Ok(())
            } else {
                Err(format!(
                    "settings error: /healthz {status} {got}, /mutate {mutate}, /validate {validate}"
                ))
            };
        }
        let mut mutate_answer = None;
        for path in ["/mutate", "/validate"] {
            let (status, headers, body) =
                host.request("POST", path, case.admission_review().as_bytes());
            if header(&headers, "content-type") != Some("application/json") {
                return Err(format!(
                    "{path}: content-type {:?}",
                    header(&headers, "content-type")
                ));
            }
            match (status, case.unreadable_review(), &mutate_answer) {
                (200, None, None) => {
                    let answer = testkit::answer_from_review(case, &json(&body))?;
                    case.check(&answer).map_err(|e| format!("{path}: {e}"))?;
                    mutate_answer = Some(answer);
                }
                (200, None, Some(mutate)) => {
                    check_validate(case, mutate, &json(&body))
                        .map_err(|e| format!("{path}: {e}"))?;
                    rejected_on_validate += usize::from(mutate.mutated.is_some());
                }
                (400, Some(prefix), _) => {
                    let got = json(&body);
                    match got["error"].as_str() {
                        Some(e) if e.starts_with(prefix) => {}
                        _ => return Err(format!("{path}: error body {got}")),
                    }
                }
                (s, _, _) => {
                    return Err(format!(
                        "{path}: HTTP {s}: {}",
                        String::from_utf8_lossy(&body)
                    ))
                }
            }
        }
        Ok(())
    });
    // The table has mutations, so the /validate check above was exercised.
    assert!(
        rejected_on_validate > 5,
        "{rejected_on_validate} cases mutate"
    );
}

#[test]
fn the_validating_path_names_the_missing_default() {
    let host = SpinHost::start(
        &component_path(),
        Some(r#"{"cpu":{"defaultLimit":"1","maxLimit":"2"}}"#),
    );
    let review = |limits: &str| {
        format!(
            r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u",
            "kind":{{"group":"","version":"v1","kind":"Pod"}},"operation":"CREATE",
            "object":{{"spec":{{"containers":[{{"name":"app","image":"x","resources":{{"limits":{limits}}}}}]}}}}}}}}"#
        )
    };
    let (s, _, b) = host.request("POST", "/validate", review("{}").as_bytes());
    assert_eq!(s, 200);
    assert_eq!(
        json(&b)["response"],
        serde_json::json!({"allowed": false, "uid": "u", "status": {"code": 400, "message":
            "spec.containers[0] \"app\": cpu limit is missing (defaultLimit 1 is added only by the mutating webhook)"}})
    );
    let (s, _, b) = host.request("POST", "/mutate", review("{}").as_bytes());
    assert_eq!(s, 200);
    assert_eq!(json(&b)["response"]["patchType"], "JSONPatch");
    // With the value written, both paths admit it as it is.
    for path in ["/mutate", "/validate"] {
        let (s, _, b) = host.request("POST", path, review(r#"{"cpu":"1"}"#).as_bytes());
        assert_eq!(s, 200);
        assert_eq!(
            json(&b)["response"],
            serde_json::json!({"allowed": true, "uid": "u"}),
            "{path}"
        );
    }
}

#[test]
fn warnings_are_in_the_review_within_the_header_limits() {
    let host = SpinHost::start(&component_path(), Some(r#"{"cpu":{"defaultLimit":"1"}}"#));
    let review = |n: usize, name: &str| {
        let containers: Vec<Value> = (0..n)
            .map(|i| serde_json::json!({"name": format!("{name}-{i}"), "image": "x"}))
            .collect();
        serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u", "operation": "CREATE",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "object": {"spec": {"containers": containers}}}})
        .to_string()
    };
    let (s, _, b) = host.request("POST", "/mutate", review(1, "app").as_bytes());
    assert_eq!(s, 200);
    assert_eq!(
        json(&b)["response"]["warnings"],
        serde_json::json!(["spec.containers[0] \"app-0\": cpu limit 1 added (defaultLimit)"])
    );
    // The validating path adds nothing, so it warns of nothing added.
    let (_, _, b) = host.request("POST", "/validate", review(1, "app").as_bytes());
    assert!(
        json(&b)["response"].get("warnings").is_none(),
        "{}",
        json(&b)
    );
    let (_, _, b) = host.request("POST", "/mutate", review(300, &"y".repeat(200)).as_bytes());
    let warnings = testkit::strings(&json(&b)["response"]["warnings"]);
    let total: usize = warnings.iter().map(|w| w.chars().count()).sum();
    assert!(total <= 4096 && warnings.iter().all(|w| w.chars().count() <= 256));
    assert!(
        warnings
            .last()
            .is_some_and(|w| w.ends_with(" more warnings left out")),
        "{warnings:?}"
    );
}

#[test]
fn error_paths() {
    let host = SpinHost::start(&component_path(), Some(r#"{"cpu":{"maxLimit":"2"}}"#));

    let (s, _, b) = host.request("GET", "/healthz", b"");
    assert_eq!((s, json(&b)), (200, serde_json::json!({"status": "ok"})));

    for (body, want) in [
        (&b"not json"[..], "the body is not valid JSON"),
        (b"", "the body is not valid JSON"),
        (b"[1,2]", "the body is not an AdmissionReview"),
        (
            b"{\"kind\":\"ConfigMap\",\"request\":{}}",
            "the body is a ConfigMap, not an AdmissionReview",
        ),
        (
            b"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
            "the body is not an AdmissionReview: request is missing",
        ),
        (
            b"{\"request\":{\"kind\":7}}",
            "the body is not an AdmissionReview",
        ),
        (b"\xff\xfe", "the body is not valid JSON"),
    ] {
        for path in ["/mutate", "/validate"] {
            let (s, h, b) = host.request("POST", path, body);
            assert_eq!(s, 400, "{path} {body:?}");
            assert_eq!(header(&h, "content-type"), Some("application/json"));
            let e = json(&b);
            assert!(
                e["error"].as_str().is_some_and(|m| m.starts_with(want)),
                "{path} {body:?}: {e}"
            );
        }
    }

    for (method, path, allow) in [
        ("GET", "/validate", "POST"),
        ("PUT", "/validate", "POST"),
        ("GET", "/mutate", "POST"),
        ("PATCH", "/mutate", "POST"),
        ("DELETE", "/healthz", "GET"),
    ] {
        let (s, h, b) = host.request(method, path, b"");
        assert_eq!(s, 405, "{method} {path}");
        assert_eq!(header(&h, "allow"), Some(allow));
        assert!(json(&b)["error"].is_string());
    }

    let (s, _, b) = host.request("GET", "/elsewhere", b"");
    assert_eq!(s, 404);
    assert_eq!(
        json(&b)["error"],
        "no such endpoint: /elsewhere (POST /mutate, POST /validate, GET /healthz)"
    );

    // Over 3 MiB: refused, whatever the body is.
    let big = vec![b' '; 3 * 1024 * 1024 + 1];
    let (s, _, b) = host.request("POST", "/validate", &big);
    assert_eq!(s, 413);
    assert!(json(&b)["error"].is_string());
    // Exactly 3 MiB is read (and found not to be JSON).
    let (s, _, _) = host.request("POST", "/validate", &big[1..]);
    assert_eq!(s, 400);

    // Invalid settings: /healthz says why, /validate is a 500 with the same reason.
    host.set_settings(r#"{"cpu":{"maxLimit":"4 cores"}}"#);
    let (s, _, b) = host.request("GET", "/healthz", b"");
    assert_eq!(s, 500);
    assert_eq!(
        json(&b)["error"],
        "invalid settings: cpu.maxLimit: \"4 cores\" is not a Kubernetes quantity"
    );
    for path in ["/mutate", "/validate"] {
        let (s, _, b) = host.request("POST", path, b"{}");
        assert_eq!(s, 500, "{path}");
        assert!(json(&b)["error"]
            .as_str()
            .is_some_and(|e| e.contains("4 cores")));
    }
    host.set_settings("not json");
    let (s, _, b) = host.request("GET", "/healthz", b"");
    assert_eq!(s, 500);
    assert!(json(&b)["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("invalid settings: settings are not valid JSON")));
}

/// A body sent in pieces, without a `content-length` (chunked), is read whole: the same
/// answer as in one piece. Over 3 MiB it is a 413 however it comes; exactly 3 MiB is read.
#[test]
fn a_body_in_pieces_is_read_whole() {
    let host = SpinHost::start(
        &component_path(),
        Some(r#"{"cpu":{"defaultLimit":"1"},"memory":{"defaultLimit":"1Gi"}}"#),
    );
    let request: Value = json(
        &std::fs::read(
            host_tests::repo_root().join("examples/requests/deployment-without-resources.json"),
        )
        .unwrap_or_default(),
    );
    let review = serde_json::to_vec(&serde_json::json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request
    }))
    .unwrap_or_default();
    let (status, _, whole) = host.request("POST", "/mutate", &review);
    assert_eq!(status, 200);
    assert!(json(&whole)["response"]["patch"].is_string(), "a mutation");
    let pieces: Vec<&[u8]> = review.chunks(97).collect();
    assert!(pieces.len() > 5);
    let (status, chunked) = http_post_chunked(host.addr, "/mutate", &pieces);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&chunked));
    assert_eq!(json(&chunked), json(&whole));

    let mib = vec![b' '; 1 << 20];
    let (status, body) = http_post_chunked(host.addr, "/validate", &[&mib, &mib, &mib, b" "]);
    assert_eq!(status, 413);
    assert!(json(&body)["error"].is_string());
    let (status, _) = http_post_chunked(host.addr, "/validate", &[&mib, &mib, &mib]);
    assert_eq!(status, 400, "exactly 3 MiB is read (and is not JSON)");
}

#[test]
fn hostile_requests_through_the_component() {
    let host = SpinHost::start(&component_path(), None);
    for testkit::Hostile {
        name,
        settings,
        request,
        prefix,
    } in testkit::hostile_requests()
    {
        if request.len() > 3 * 1024 * 1024 - 200 {
            continue; // over the component's body limit: the 413 path, tested above
        }
        host.set_settings(&settings.to_string());
        let body = testkit::review_body(&request);
        // /validate answers as the core's validating answer (never a patch); the hostile
        // object that /mutate cannot add defaults to (10,000-deep nesting) is rejected there
        // for the missing default instead.
        let (s, _, b) = host.request("POST", "/validate", &body);
        let v = json(&b);
        assert!(v["response"].get("patch").is_none(), "{name}");
        let want = resource_limits::Settings::from_json(settings.to_string().as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|settings| {
                admission_review(&settings, &body, Webhook::Validating).map_err(|e| e.0)
            });
        match want {
            Ok(want) => assert_eq!(
                (s, v.clone()),
                (200, serde_json::to_value(&want).unwrap_or_default()),
                "{name}"
            ),
            Err(e) => assert_eq!((s, v["error"].as_str()), (400, Some(e.as_str())), "{name}"),
        }
        let (s, _, b) = host.request("POST", "/mutate", &body);
        let v = json(&b);
        match s {
            200 => {
                assert_eq!(v["response"]["allowed"], false, "{name}");
                let msg = v["response"]["status"]["message"]
                    .as_str()
                    .unwrap_or_default();
                assert!(msg.starts_with(prefix), "{name}: {msg:.200}");
            }
            // Not JSON, or an AdmissionRequest of the wrong shape inside the review: the
            // body is no AdmissionReview, and the error names the same field.
            400 => {
                let err = v["error"].as_str().unwrap_or_default();
                if let Some(what) = prefix.strip_prefix("the request is not an AdmissionRequest: ")
                {
                    assert!(
                        err.starts_with(&format!("the body is not an AdmissionReview: {what}")),
                        "{name}: {err}"
                    );
                } else {
                    assert!(
                        prefix.starts_with("the request is not valid JSON"),
                        "{name}: {v}"
                    );
                    assert!(
                        err.starts_with("the body is not valid JSON"),
                        "{name}: {err}"
                    );
                }
            }
            other => panic!("{name}: HTTP {other}: {v}"),
        }
    }
}

#[test]
fn the_spinkube_example_carries_valid_settings_and_points_each_webhook_at_its_path() {
    let root = host_tests::repo_root().join("examples/spinkube");
    let text = std::fs::read_to_string(root.join("spinapp.yaml")).expect("spinapp.yaml");
    let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).expect("YAML"))
        .collect();
    let of_kind = |kind: &str| {
        let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
        assert_eq!(found.len(), 1, "one {kind} in spinapp.yaml");
        found[0]
    };
    let app = of_kind("SpinApp");
    let config_map = of_kind("ConfigMap");
    assert_eq!(app["spec"]["executor"], "containerd-shim-spin");
    assert_eq!(
        config_map["metadata"]["namespace"],
        app["metadata"]["namespace"]
    );
    // The settings variable is fed from the ConfigMap of the same file, as SpinKube means
    // variables to be fed (valueFrom), and holds the settings of examples/settings/bounded.json.
    let var = app["spec"]["variables"]
        .as_array()
        .and_then(|v| v.iter().find(|x| x["name"] == "settings"))
        .expect("a settings variable");
    assert_eq!(
        var.get("value"),
        None,
        "settings come from valueFrom: {var}"
    );
    let from = &var["valueFrom"]["configMapKeyRef"];
    assert_eq!(from["name"], config_map["metadata"]["name"]);
    let key = from["key"].as_str().expect("configMapKeyRef.key");
    let settings = config_map["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("ConfigMap data[{key:?}]"));
    let parsed = resource_limits::Settings::from_json(settings.as_bytes())
        .expect("the ConfigMap's settings are valid");
    let bounded = std::fs::read(host_tests::repo_root().join("examples/settings/bounded.json"))
        .expect("bounded.json");
    assert_eq!(
        parsed,
        resource_limits::Settings::from_json(&bounded).expect("bounded.json is valid")
    );
    // Readiness and liveness probe the path that says whether the settings are valid: the
    // component answers it 200 with these settings and 500 with broken ones.
    let host = SpinHost::start(&component_path(), Some(settings));
    for probe in ["readiness", "liveness"] {
        let path = app["spec"]["checks"][probe]["httpGet"]["path"]
            .as_str()
            .unwrap_or_else(|| panic!("spec.checks.{probe}.httpGet.path"));
        assert_eq!(path, "/healthz", "{probe}");
        host.set_settings(settings);
        let (status, _, body) = host.request("GET", path, b"");
        assert_eq!(
            (status, json(&body)),
            (200, serde_json::json!({"status": "ok"}))
        );
        host.set_settings(r#"{"cpu": {"maxLimit": "4 cores"}}"#);
        let (status, _, body) = host.request("GET", path, b"");
        assert_eq!(status, 500, "{probe} with invalid settings");
        assert!(json(&body)["error"]
            .as_str()
            .is_some_and(|e| e.contains("cpu.maxLimit")));
    }
    let text = std::fs::read_to_string(root.join("webhooks.yaml")).expect("webhooks.yaml");
    let mut n = 0;
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let doc = <Value as serde::Deserialize>::deserialize(doc).expect("YAML");
        for hook in doc["webhooks"].as_array().expect("webhooks") {
            // The API server refuses a patch from a validating webhook: each configuration
            // calls its own path.
            let want = match doc["kind"].as_str() {
                Some("MutatingWebhookConfiguration") => "/mutate",
                Some("ValidatingWebhookConfiguration") => "/validate",
                other => panic!("webhooks.yaml: a {other:?}"),
            };
            assert_eq!(hook["clientConfig"]["service"]["path"], want);
            assert!(hook["rules"].to_string().contains("pods/resize"));
            // It cannot lock itself out: the namespaces it needs to run are left out, and a
            // namespace can opt out with a label.
            let expressions = hook["namespaceSelector"]["matchExpressions"]
                .as_array()
                .expect("namespaceSelector.matchExpressions");
            let left_out = expressions
                .iter()
                .find(|e| e["key"] == "kubernetes.io/metadata.name" && e["operator"] == "NotIn")
                .expect("a NotIn on kubernetes.io/metadata.name");
            for ns in [
                "kube-system",
                "resource-limits",
                "cert-manager",
                "spin-operator",
            ] {
                assert!(
                    left_out["values"]
                        .as_array()
                        .is_some_and(|v| v.iter().any(|x| x == ns)),
                    "{want}: {ns} is not left out"
                );
            }
            assert!(
                expressions
                    .iter()
                    .any(|e| e["key"] == "resource-limits.example.com/exempt"
                        && e["operator"] == "DoesNotExist"),
                "{want}: no opt-out label"
            );
            n += 1;
        }
    }
    assert_eq!(n, 2, "a mutating and a validating webhook");
}

//! The Spin component (the file spin.toml names) served by the in-process Spin host over real
//! HTTP: the whole case table, verdict for verdict equal to the Kubewarden policy, and every
//! error path of the contract.

use host_tests::spin::{component_path, SpinHost};
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

#[test]
fn the_whole_case_table_through_the_component() {
    let host = SpinHost::start(&component_path(), None);
    testkit::check_all(&testkit::load(), |case| {
        host.set_settings(&case.settings.to_string());
        if let Some(want) = &case.expect.settings_error {
            let (status, _, body) = host.request("GET", "/healthz", b"");
            let got = json(&body);
            let ok = status == 500
                && got["error"]
                    .as_str()
                    .is_some_and(|e| e.ends_with(want.as_str()));
            let (status2, _, _) =
                host.request("POST", "/validate", case.admission_review().as_bytes());
            return if ok && status2 == 500 {
                Ok(())
            } else {
                Err(format!(
                    "settings error: /healthz {status} {got}, /validate {status2}"
                ))
            };
        }
        let (status, headers, body) =
            host.request("POST", "/validate", case.admission_review().as_bytes());
        if header(&headers, "content-type") != Some("application/json") {
            return Err(format!(
                "content-type {:?}",
                header(&headers, "content-type")
            ));
        }
        match (status, case.unreadable_review()) {
            (200, None) => case.check(&testkit::answer_from_review(case, &json(&body))?),
            (400, Some(prefix)) => {
                let got = json(&body);
                match got["error"].as_str() {
                    Some(e) if e.starts_with(prefix) => Ok(()),
                    _ => Err(format!("error body {got}")),
                }
            }
            (s, _) => Err(format!("HTTP {s}: {}", String::from_utf8_lossy(&body))),
        }
    });
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
        let (s, h, b) = host.request("POST", "/validate", body);
        assert_eq!(s, 400, "{body:?}");
        assert_eq!(header(&h, "content-type"), Some("application/json"));
        let e = json(&b);
        assert!(
            e["error"].as_str().is_some_and(|m| m.starts_with(want)),
            "{body:?}: {e}"
        );
    }

    for (method, path, allow) in [
        ("GET", "/validate", "POST"),
        ("PUT", "/validate", "POST"),
        ("DELETE", "/healthz", "GET"),
    ] {
        let (s, h, b) = host.request(method, path, b"");
        assert_eq!(s, 405, "{method} {path}");
        assert_eq!(header(&h, "allow"), Some(allow));
        assert!(json(&b)["error"].is_string());
    }

    let (s, _, b) = host.request("GET", "/elsewhere", b"");
    assert_eq!(s, 404);
    assert!(json(&b)["error"].is_string());

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
    let (s, _, b) = host.request("POST", "/validate", b"{}");
    assert_eq!(s, 500);
    assert!(json(&b)["error"]
        .as_str()
        .is_some_and(|e| e.contains("4 cores")));
    host.set_settings("not json");
    let (s, _, b) = host.request("GET", "/healthz", b"");
    assert_eq!(s, 500);
    assert!(json(&b)["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("invalid settings: settings are not valid JSON")));
}

#[test]
fn hostile_requests_through_the_component() {
    let host = SpinHost::start(&component_path(), None);
    for (name, settings, request, prefix) in testkit::hostile_requests() {
        if request.len() > 3 * 1024 * 1024 - 200 {
            continue; // over the component's body limit: the 413 path, tested above
        }
        host.set_settings(&settings.to_string());
        let body = testkit::review_body(&request);
        let (s, _, b) = host.request("POST", "/validate", &body);
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
fn the_spinkube_example_carries_valid_settings_and_points_at_validate() {
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
            assert_eq!(hook["clientConfig"]["service"]["path"], "/validate");
            assert!(hook["rules"].to_string().contains("pods/resize"));
            n += 1;
        }
    }
    assert_eq!(n, 2, "a mutating and a validating webhook");
}

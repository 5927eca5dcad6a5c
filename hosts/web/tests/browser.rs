//! The browser host in real headless Chromium (wasm-bindgen-test): the shared case table
//! through the exported `validateSettings` and `validate`, as an AdmissionRequest, as an
//! AdmissionReview, as a bare JSON manifest and as a two-document YAML stream; plus the
//! hostile inputs and what only this host does (YAML, lines, JS objects); and the table of
//! manifest cases (`tests/manifests`) that the CLI's tests run too.
#![cfg(target_arch = "wasm32")]

mod embedded;

use resource_limits_web::{export_cel, validate, validate_settings};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn cases() -> Vec<testkit::Case> {
    testkit::load_from(embedded::CASE_FILES)
}

/// A JS value back as JSON (through `JSON.stringify`, as a page would see it).
fn json_of(v: &JsValue) -> Value {
    let text = js_sys::JSON::stringify(v)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn call_validate(settings: &str, input: &str) -> Value {
    json_of(&validate(
        JsValue::from_str(settings),
        JsValue::from_str(input),
    ))
}

/// One answer of `validate` as a testkit Answer. The mutated object is read from
/// `patchedText` (exact digits), and the JSONPatch, applied to the case's object, must give
/// that same object.
fn answer(case: &testkit::Case, a: &Value) -> Result<testkit::Answer, String> {
    let mutated = match a["patchedText"].as_str() {
        None => None,
        Some(t) => {
            let m: Value = serde_json::from_str(t).map_err(|e| format!("patchedText: {e}"))?;
            let patch: json_patch::Patch = serde_json::from_value(a["patch"].clone())
                .map_err(|e| format!("patch {}: {e}", a["patch"]))?;
            let mut o = case.object.clone().ok_or("a patch without an object")?;
            json_patch::patch(&mut o, &patch).map_err(|e| format!("patch does not apply: {e}"))?;
            if o != m {
                return Err(format!("the patch gives\n  {o}\nbut patchedText is\n  {m}"));
            }
            if json_of(&js_sys::JSON::parse(t).unwrap_or(JsValue::NULL)) != a["patched"] {
                return Err("patched and patchedText differ".into());
            }
            Some(m)
        }
    };
    let violations = a["violations"].as_array().ok_or("no violations list")?;
    if a["allowed"] == false && !violations.is_empty() {
        let joined: Vec<&str> = violations
            .iter()
            .take(100)
            .filter_map(|v| v["message"].as_str())
            .collect();
        let msg = a["message"].as_str().unwrap_or_default();
        if !msg.starts_with(&joined.join("; ")) {
            return Err(format!(
                "violations {joined:?} do not make the message {msg:?}"
            ));
        }
    }
    Ok(testkit::Answer {
        allowed: a["allowed"].as_bool().ok_or("no allowed")?,
        code: a["code"].as_u64(),
        message: a["message"].as_str().map(str::to_owned),
        mutated,
        warnings: a["warnings"]
            .as_array()
            .ok_or("no warnings list")?
            .iter()
            .filter_map(|w| w["message"].as_str().map(str::to_owned))
            .collect(),
    })
}

/// The only answer of a single-document input.
fn single(v: &Value) -> Result<&Value, String> {
    match v["answers"].as_array().map(Vec::as_slice) {
        Some([a]) => Ok(a),
        _ => Err(format!("expected one answer: {v}")),
    }
}

/// Settings first, as policy-server does; `Ok(None)` when the case ends there.
fn settings_of(case: &testkit::Case) -> Result<Option<String>, String> {
    let settings = case.settings.to_string();
    let s = json_of(&validate_settings(JsValue::from_str(&settings)));
    let valid = s["valid"].as_bool().ok_or("validateSettings: no valid")?;
    if case.check_settings(valid, s["message"].as_str())? {
        Ok(Some(settings))
    } else {
        // validate() with bad settings rejects, naming them.
        let v = call_validate(&settings, &case.request);
        if v["allowed"] != false
            || v["settingsError"] != s["message"]
            || v["settingsProblems"] != s["problems"]
        {
            return Err(format!("validate with bad settings: {v}"));
        }
        Ok(None)
    }
}

#[wasm_bindgen_test]
fn the_case_table_as_admission_requests() {
    testkit::check_all(&cases(), |case| {
        let Some(settings) = settings_of(case)? else {
            return Ok(());
        };
        let v = call_validate(&settings, &case.request);
        let a = single(&v)?;
        case.check(&answer(case, a)?)?;
        if v["allowed"] != a["allowed"] {
            return Err("top-level allowed differs".into());
        }
        // The page shows the settings' state from this field alone.
        if !v["settingsError"].is_null() {
            return Err(format!("valid settings, but settingsError: {v}"));
        }
        Ok(())
    });
}

#[wasm_bindgen_test]
fn the_case_table_as_admission_reviews() {
    testkit::check_all(&cases(), |case| {
        let Some(settings) = settings_of(case)? else {
            return Ok(());
        };
        let v = call_validate(&settings, &case.admission_review());
        case.check(&answer(case, single(&v)?)?)
    });
}

/// The object of a case that a bare manifest stands for: a CREATE with no subresource, whose
/// object names the same kind and group as the request.
fn manifest_of(case: &testkit::Case) -> Option<&Value> {
    let req: Value = serde_json::from_str(&case.request).ok()?;
    let object = case.object.as_ref()?;
    let kind = req.pointer("/kind/kind")?.as_str()?;
    let group = req.pointer("/kind/group").and_then(Value::as_str);
    let api_group = object["apiVersion"]
        .as_str()
        .map(|a| a.rsplit_once('/').map_or("", |(g, _)| g));
    let same_group = match (group, api_group) {
        (Some(g), Some(a)) => g == a,
        (None, None) => true,
        _ => false,
    };
    (req["operation"] == "CREATE"
        && req.get("subResource").is_none()
        && object["kind"] == kind
        && same_group)
        .then_some(object)
}

#[wasm_bindgen_test]
fn the_case_table_as_bare_json_manifests() {
    let cases = cases();
    let mut tried = 0;
    testkit::check_all(&cases, |case| {
        let Some(object) = manifest_of(case) else {
            return Ok(());
        };
        let Some(settings) = settings_of(case)? else {
            return Ok(());
        };
        tried += 1;
        let v = call_validate(&settings, &object.to_string());
        let a = single(&v)?;
        if a["input"] != "manifest" {
            return Err(format!("read as {}", a["input"]));
        }
        case.check(&answer(case, a)?)
    });
    assert!(tried > 100, "only {tried} cases as manifests");
}

#[wasm_bindgen_test]
fn the_case_table_as_two_document_yaml() {
    let cases = cases();
    let mut tried = 0;
    let mut not_the_same = Vec::new();
    testkit::check_all(&cases, |case| {
        let Some(object) = manifest_of(case) else {
            return Ok(());
        };
        let Some(settings) = settings_of(case)? else {
            return Ok(());
        };
        let doc = testkit::block_yaml(object);
        // YAML is read as kubectl reads it: where that is not the case's JSON (numbers such as
        // 1.50, 1e+2 or -0.0, which kubectl sends as 1.5, 100 and -0), the YAML is another
        // request and the case is not about it.
        if !yaml_means(&doc, object) {
            not_the_same.push(case.name.clone());
            return Ok(());
        }
        tried += 1;
        let stream = format!("# {}\n---\n{doc}---\n{doc}...\n", case.name);
        let v = call_validate(&settings, &stream);
        let answers = v["answers"].as_array().ok_or("no answers")?;
        if answers.len() != 2 {
            return Err(format!("{} answers to two documents", answers.len()));
        }
        let second_line = doc.lines().count() + 4;
        if answers[0]["line"] != 3 || answers[1]["line"] != second_line {
            return Err(format!(
                "document lines {} and {}",
                answers[0]["line"], answers[1]["line"]
            ));
        }
        for a in answers {
            case.check(&answer(case, a)?)?;
        }
        if v["allowed"] != case.expect.allowed {
            return Err("top-level allowed".into());
        }
        Ok(())
    });
    assert!(tried > 100, "only {tried} cases as YAML");
    assert!(
        not_the_same.len() <= 2,
        "cases whose YAML kubectl reads as other JSON: {not_the_same:?}"
    );
}

/// Whether `doc`, read as kubectl reads YAML, is the JSON `object`.
fn yaml_means(doc: &str, object: &Value) -> bool {
    resource_limits_yaml::parse(doc)
        .ok()
        .and_then(|docs| docs.into_iter().find_map(|d| d.root))
        .and_then(|root| serde_json::from_str::<Value>(&root.to_json()).ok())
        .is_some_and(|v| &v == object)
}

#[wasm_bindgen_test]
fn hostile_requests_get_a_clear_rejection() {
    for h in testkit::hostile_requests() {
        let Ok(request) = String::from_utf8(h.request) else {
            continue; // a JS string is always Unicode
        };
        let v = call_validate(&h.settings.to_string(), &request);
        let a = single(&v).unwrap_or(&Value::Null);
        let msg = a["message"].as_str().unwrap_or_default();
        assert_eq!(a["allowed"], false, "{}: {a:.300}", h.name);
        assert!(msg.starts_with(h.prefix), "{}: {msg:.300}", h.name);
    }
}

#[wasm_bindgen_test]
fn bad_input_is_an_answer_not_an_exception() {
    let settings = json!({"cpu": {"maxLimit": "2"}}).to_string();
    for input in [
        "",
        "   \n",
        "null",
        "[]",
        "7",
        "\"x\"",
        "a: [1, 2\n",
        "kind: Pod\nspec: 7\n",
        "{\"kind\": \"AdmissionReview\"}",
        "- a\n- b\n",
        "a: &x [*x]\n",
        "# only a comment\n",
        "kind: Pod\n---\n- a list\n",
    ] {
        let v = call_validate(&settings, input);
        let answers = v["answers"].as_array().cloned().unwrap_or_default();
        assert!(!answers.is_empty(), "{input:?}: {v}");
        for a in answers {
            assert_eq!(a["allowed"], false, "{input:?}: {a}");
            assert_eq!(a["code"], 400, "{input:?}: {a}");
            assert!(
                a["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{input:?}: {a}"
            );
        }
    }
    for settings in ["{", "[1]", "\"x\"", "cpu: [", "a: 1\n---\nb: 2\n"] {
        let s = json_of(&validate_settings(JsValue::from_str(settings)));
        assert_eq!(s["valid"], false, "{settings:?}: {s}");
        assert!(s["message"].as_str().is_some_and(|m| !m.is_empty()), "{s}");
    }
    // Not strings at all.
    let v = json_of(&validate(JsValue::from_f64(1.0), JsValue::UNDEFINED));
    assert_eq!(v["allowed"], false, "{v}");
}

/// Empty settings (no text, only comments, only empty documents) are `{}`, as in the CLI and
/// Kubewarden: the plain rule, which requires cpu and memory limits.
#[wasm_bindgen_test]
fn empty_settings_are_an_empty_object() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n";
    for settings in ["", "  \n", "# only a comment\n", "---\n# c\n---\n"] {
        let s = json_of(&validate_settings(JsValue::from_str(settings)));
        assert_eq!(
            s,
            json!({"valid": true, "message": null, "problems": []}),
            "{settings:?}"
        );
        let v = call_validate(settings, pod);
        assert_eq!(v["settingsError"], Value::Null, "{settings:?}: {v}");
        assert_eq!(v["allowed"], false, "{settings:?}: {v}");
        assert_eq!(
            v["answers"][0]["message"],
            "spec.containers[0] \"c\": cpu limit is missing; spec.containers[0] \"c\": memory limit is missing",
            "{settings:?}: {v}"
        );
    }
}

/// A ClusterAdmissionPolicy pasted as settings: its `spec.settings`, read as the CLI reads
/// them; its errors name it.
#[wasm_bindgen_test]
fn a_policy_manifest_as_settings() {
    let policy = "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: limits}\nspec:\n  module: registry.example/resource-limits:v0.1.0\n  settings:\n    cpu: {maxLimit: \"2\"}\n";
    let s = json_of(&validate_settings(JsValue::from_str(policy)));
    assert_eq!(s, json!({"valid": true, "message": null, "problems": []}));
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources: {limits: {cpu: \"4\"}}\n";
    let v = call_validate(policy, pod);
    assert_eq!(v["allowed"], false, "{v}");
    assert!(
        v["answers"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cpu limit 4 exceeds maxLimit 2")),
        "{v}"
    );
    let bad = policy.replace("maxLimit: \"2\"", "maxLimit: lots");
    let s = json_of(&validate_settings(JsValue::from_str(&bad)));
    assert_eq!(s["valid"], false, "{s}");
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("ClusterAdmissionPolicy/limits spec.settings: ")),
        "{s}"
    );
    // The problem at its key's line in the policy's text.
    let line = bad
        .lines()
        .position(|l| l.contains("maxLimit: lots"))
        .map(|i| i as u64 + 1);
    assert_eq!(s["problems"][0]["line"].as_u64(), line, "{s}");
}

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx
          resources:
            limits:
              cpu: 4
              memory: 1Gi
            requests:
              cpu: 250m
        - name: sidecar
          image: envoy
          resources:
            limits:
              memory: 4Gi
";

#[wasm_bindgen_test]
fn yaml_settings_and_manifest_with_the_line_of_each_violation() {
    let settings = "cpu:\n  maxLimit: \"2\"\n  maxLimitRequestRatio: 4\nmemory:\n  maxLimit: 2Gi\n";
    let s = json_of(&validate_settings(JsValue::from_str(settings)));
    assert_eq!(s, json!({"valid": true, "message": null, "problems": []}));
    let v = call_validate(settings, DEPLOYMENT);
    let a = single(&v).cloned().unwrap_or_default();
    assert_eq!(a["input"], "manifest");
    assert_eq!(a["kind"], "Deployment");
    assert_eq!(a["name"], "web");
    assert_eq!(
        a["message"],
        "spec.template.spec.containers[0] \"app\": cpu limit 4 exceeds maxLimit 2; \
         spec.template.spec.containers[0] \"app\": cpu limit 4 is more than maxLimitRequestRatio 4 times its request 250m; \
         spec.template.spec.containers[1] \"sidecar\": cpu limit is missing; \
         spec.template.spec.containers[1] \"sidecar\": memory limit 4Gi exceeds maxLimit 2Gi"
    );
    let lines: Vec<(Value, Value, Value)> = a["violations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|x| {
            (
                x["container"].clone(),
                x["resource"].clone(),
                x["line"].clone(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (json!("app"), json!("cpu"), json!(13)),
            (json!("app"), json!("cpu"), json!(13)),
            (json!("sidecar"), json!("cpu"), json!(20)),
            (json!("sidecar"), json!("memory"), json!(21)),
        ]
    );
    // The same as a JS object, wrapped in an AdmissionReview: lines under request.object.
    let object = js_sys::JSON::parse(
        &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
            "object": {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}}}]}}}})
        .to_string(),
    )
    .unwrap_or(JsValue::NULL);
    let v = json_of(&validate(JsValue::from_str(settings), object));
    let a = single(&v).cloned().unwrap_or_default();
    assert_eq!(a["input"], "AdmissionReview");
    assert_eq!(
        a["message"],
        "spec.containers[0] \"a\": memory limit is missing"
    );
    assert_eq!(a["violations"][0]["line"], 1, "{a}");
}

#[wasm_bindgen_test]
fn a_mutation_of_a_yaml_manifest_gives_patch_and_patched_object() {
    let settings =
        "cpu: {defaultRequest: 100m, defaultLimit: 500m}\nmemory: {defaultLimit: 256Mi}\n";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: nginx\n    x-unknown: 1.50\n";
    let v = call_validate(settings, pod);
    let a = single(&v).cloned().unwrap_or_default();
    assert_eq!(a["allowed"], true, "{a}");
    assert_eq!(
        a["patch"],
        json!([{"op": "add", "path": "/spec/containers/0/resources", "value": {
            "limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m"}}}])
    );
    let patched: Value =
        serde_json::from_str(a["patchedText"].as_str().unwrap_or("null")).unwrap_or_default();
    assert_eq!(
        patched
            .pointer("/spec/containers/0/x-unknown")
            .map(ToString::to_string),
        Some("1.5".to_owned()),
        "the number kubectl would send (it reads YAML's 1.50 as the float 1.5)"
    );
    assert!(a["originalText"]
        .as_str()
        .is_some_and(|t| !t.contains("resources")));
}

/// A `kind: List` holding a Deployment without limits (the CLI's tests read the same file):
/// one answer per item, rejected as `resource-limits check` rejects it. Before, the
/// playground judged the List itself, not a kind it checks, and accepted it.
const YAML_LIST: &str = include_str!("../../../tests/manifests/list-without-limits.yaml");

#[wasm_bindgen_test]
fn a_list_is_judged_item_by_item_as_the_cli_judges_it() {
    let v = call_validate("{}", YAML_LIST);
    assert_eq!(v["allowed"], false, "{v}");
    let answers = v["answers"].as_array().cloned().unwrap_or_default();
    assert_eq!(answers.len(), 2, "{v}");
    let web = &answers[0];
    assert_eq!(
        (&web["input"], &web["kind"], &web["name"], &web["line"]),
        (
            &json!("manifest"),
            &json!("Deployment"),
            &json!("web"),
            &json!(4)
        )
    );
    assert_eq!(
        web["message"],
        "spec.template.spec.containers[0] \"app\": cpu limit is missing; \
         spec.template.spec.containers[0] \"app\": memory limit is missing"
    );
    assert_eq!(web["violations"][0]["line"], 12, "{web}");
    let conf = &answers[1];
    assert_eq!(
        (&conf["allowed"], &conf["line"]),
        (&json!(true), &json!(14))
    );
    // The same List as JSON, items without kind and apiVersion (a DeploymentList).
    let list = json!({"apiVersion": "apps/v1", "kind": "DeploymentList", "items": [
        {"metadata": {"name": "web"}, "spec": {"template": {"spec": {"containers": [
            {"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}}}]});
    let v = call_validate("{}", &list.to_string());
    assert_eq!(v["allowed"], true, "{v}");
    assert_eq!(v["answers"][0]["kind"], "Deployment", "{v}");
    // A list the CLI refuses is refused here too, with the same words.
    let v = call_validate("{}", "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n");
    assert_eq!(v["allowed"], false);
    assert_eq!(
        v["answers"][0]["message"],
        "items[0] (line 4): the Pod has no apiVersion"
    );
}

/// The table of manifest cases (`tests/manifests/cases.json`), which the CLI's tests run on
/// the same files: the settings text and the file's text through `validate`, one answer per
/// object, each with its line, its verdict and its violations' lines; and for the documents
/// the CLI skips as no Kubernetes object, the answer the case gives for the playground (a
/// rejection as an AdmissionRequest), none for an empty document.
#[wasm_bindgen_test]
fn the_manifest_table_as_the_cli_runs_it() {
    use testkit::manifests::{self, Host, ObjectVerdict};
    manifests::check_manifest_cases(|case| {
        let v = call_validate(&case.settings, case.text());
        if !v["settingsError"].is_null() {
            return Err(format!("settings refused: {v}"));
        }
        let want = case.allowed(Host::Browser);
        if v["allowed"] != want {
            return Err(format!("allowed {}, want {want}: {v}", v["allowed"]));
        }
        let answers = v["answers"].as_array().cloned().unwrap_or_default();
        let (objects, others): (Vec<&Value>, Vec<&Value>) =
            answers.iter().partition(|a| !a["kind"].is_null());
        let got: Vec<ObjectVerdict> = objects
            .iter()
            .map(|a| ObjectVerdict::from_json(a, a["allowed"] == true))
            .collect();
        case.check(Host::Browser, &got)?;
        let others: Vec<(usize, String, String)> = others
            .iter()
            .map(|a| {
                if a["allowed"] != false {
                    return Err(format!("an answer without kind, not a rejection: {a}"));
                }
                Ok((
                    a["line"].as_u64().map_or(0, |n| n as usize),
                    a["input"].as_str().unwrap_or("").to_owned(),
                    a["message"].as_str().unwrap_or("").to_owned(),
                ))
            })
            .collect::<Result<_, String>>()?;
        case.check_browser_skipped(&others)
    });
}

/// `exportCel` gives what `resource-limits export cel` prints (the core's compiler, the shared
/// YAML writer), for settings as JSON and as a ClusterAdmissionPolicy's YAML; a refusal names
/// the setting.
#[wasm_bindgen_test]
fn export_cel_is_the_clis_yaml() {
    let json_settings = r#"{"cpu": {"maxLimit": "2", "defaultLimit": "1"}, "memory": {"maxLimit": "1Gi", "enforcement": "warn"}}"#;
    let settings = resource_limits::Settings::from_json(json_settings.as_bytes()).expect("valid");
    let want = resource_limits_yaml::write::to_yaml_stream(
        &resource_limits::cel::export(&settings, "limits").expect("exported"),
    );
    let got = json_of(&export_cel(
        JsValue::from_str(json_settings),
        JsValue::from_str("limits"),
    ));
    assert_eq!(got["yaml"].as_str(), Some(want.as_str()));
    assert!(
        want.contains("kind: MutatingAdmissionPolicy\n") && want.contains("name: limits-warn\n")
    );
    let policy = "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: p}\nspec:\n  settings:\n    cpu: {maxLimit: \"2\", defaultLimit: \"1\"}\n    memory: {maxLimit: 1Gi, enforcement: warn}\n";
    let from_policy = json_of(&export_cel(
        JsValue::from_str(policy),
        JsValue::from_str("limits"),
    ));
    assert_eq!(from_policy["yaml"].as_str(), Some(want.as_str()));
    let refused = json_of(&export_cel(
        JsValue::from_str(r#"{"cpu": {"maxLimitRequestRatio": "1.001"}}"#),
        JsValue::NULL,
    ));
    assert_eq!(refused["yaml"], Value::Null);
    assert!(refused["error"].as_str().is_some_and(
        |e| e.starts_with("cpu.maxLimitRequestRatio 1.001 cannot be compiled exactly")
    ));
    let invalid = json_of(&export_cel(
        JsValue::from_str("cpu: {maxLimt: 2}"),
        JsValue::NULL,
    ));
    assert!(invalid["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("invalid settings: ") && e.contains("cpu.maxLimt")));
}

//! The hostile requests every host must reject quickly and without trapping.

use crate::cases::gvr;
use serde_json::{json, Value};

/// A Pod CREATE request with the given containers JSON (raw text).
fn pod_request(containers: &str) -> Vec<u8> {
    format!(
        "{{\"uid\":\"h\",\"kind\":{{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"}},\"operation\":\"CREATE\",\"object\":{{\"metadata\":{{\"name\":\"h\"}},\"spec\":{{\"containers\":{containers}}}}}}}"
    )
    .into_bytes()
}

/// A hostile request: every host must reject it quickly and without trapping.
pub struct Hostile {
    /// What is hostile about it.
    pub name: &'static str,
    /// The settings to use.
    pub settings: Value,
    /// The AdmissionRequest, as bytes (not always valid UTF-8).
    pub request: Vec<u8>,
    /// The start of the rejection message every host must give.
    pub prefix: &'static str,
}

/// The hostile requests every host runs.
pub fn hostile_requests() -> Vec<Hostile> {
    let plain = json!({});
    let capped = json!({"cpu": {"maxLimit": "4"}, "memory": {"maxLimit": "4Gi"}});
    let mut out = Vec::new();

    let deep = format!(
        "[{{\"name\":\"deep\",\"x\":{}{}}}]",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    // Skipped unread where the rule needs nothing of it.
    out.push((
        "10,000-deep nesting",
        plain.clone(),
        pod_request(&deep),
        "spec.containers[0] \"deep\": cpu limit is missing",
    ));
    // (A mutation of it is no longer refused: the defaults are spliced into the text, which
    // is never built as a tree; `review::tests::deep_nesting_gets_its_defaults`.)

    let many = format!(
        "[{}]",
        vec!["{\"name\":\"c\",\"image\":\"nginx\"}"; 100_000].join(",")
    );
    out.push((
        "100,000 containers",
        plain.clone(),
        pod_request(&many),
        "spec.containers[0] \"c\": cpu limit is missing",
    ));

    let padding = "x".repeat(3 * 1024 * 1024 + 17);
    let big = format!("[{{\"name\":\"big\",\"image\":\"nginx\",\"env\":[{{\"name\":\"PAD\",\"value\":\"{padding}\"}}]}}]");
    out.push((
        "a body over 3 MiB",
        plain.clone(),
        pod_request(&big),
        "spec.containers[0] \"big\": cpu limit is missing",
    ));

    let digits = "9".repeat(10_000);
    let long = format!("[{{\"name\":\"long\",\"resources\":{{\"limits\":{{\"cpu\":\"{digits}\",\"memory\":\"1Gi\"}}}}}}]");
    out.push((
        "a quantity of 10,000 digits",
        capped.clone(),
        pod_request(&long),
        "spec.containers[0] \"long\": cpu limit 99999",
    ));

    let tiny = format!("[{{\"name\":\"tiny\",\"resources\":{{\"limits\":{{\"cpu\":\"0.{}1\",\"memory\":\"1Gi\"}}}}}}]", "0".repeat(10_000));
    out.push((
        "a fraction of 10,000 digits",
        json!({"cpu": {"minLimit": "1m"}}),
        pod_request(&tiny),
        "spec.containers[0] \"tiny\": cpu limit 0.000",
    ));

    let exp = "[{\"name\":\"exp\",\"resources\":{\"limits\":{\"cpu\":1e999999,\"memory\":\"1e999999\"}}}]";
    out.push(("1e999999 as a number and as a string", capped.clone(), pod_request(exp), "spec.containers[0] \"exp\": cpu limit 1e999999 exceeds maxLimit 4; spec.containers[0] \"exp\": memory limit 1e999999 exceeds maxLimit 4Gi"));

    let nan = "[{\"name\":\"nan\",\"resources\":{\"limits\":{\"cpu\":\"NaN\",\"memory\":\"-Infinity\"}}}]";
    out.push(("NaN-like quantities", capped.clone(), pod_request(nan), "spec.containers[0] \"nan\": cpu limit \"NaN\" is not a Kubernetes quantity; spec.containers[0] \"nan\": memory limit \"-Infinity\" is not a Kubernetes quantity"));

    let bare_nan = "[{\"name\":\"nan\",\"resources\":{\"limits\":{\"cpu\":NaN}}}]";
    out.push((
        "a bare NaN",
        capped.clone(),
        pod_request(bare_nan),
        "the request is not valid JSON",
    ));

    let negative =
        "[{\"name\":\"neg\",\"resources\":{\"limits\":{\"cpu\":-4,\"memory\":\"-0.5Gi\"}}}]";
    out.push(("negative numbers", capped.clone(), pod_request(negative), "spec.containers[0] \"neg\": cpu limit -4 is negative; spec.containers[0] \"neg\": memory limit -0.5Gi is negative"));

    let mut invalid_utf8 = pod_request("[{\"name\":\"XX\"}]");
    if let Some(at) = invalid_utf8.windows(2).position(|w| w == b"XX") {
        invalid_utf8[at] = 0xff;
        invalid_utf8[at + 1] = 0xfe;
    }
    out.push((
        "non-UTF-8 bytes",
        plain.clone(),
        invalid_utf8,
        "the request is not valid JSON",
    ));

    // Found by fuzzing: serde_json skips the strings of unread fields without checking
    // them, so a request with bad bytes only in `namespace` was accepted.
    let mut skipped_utf8 = b"{\"namespace\":\"d\xbefault\",".to_vec();
    skipped_utf8.extend_from_slice(
        &pod_request(
            "[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]",
        )[1..],
    );
    out.push((
        "non-UTF-8 bytes in a field the policy does not read",
        plain.clone(),
        skipped_utf8,
        "the request is not valid JSON: it is not UTF-8",
    ));

    let dup = "[{\"name\":\"dup\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\",\"cpu\":\"64\"}}}]";
    out.push((
        "a duplicate key",
        capped.clone(),
        pod_request(dup),
        "request.object is not a valid Pod: spec.containers[0].resources.limits: resource \"cpu\" appears twice",
    ));

    // A value of the wrong JSON type at every field the policy reads: the rejection names
    // the field's path.
    let request = |kind: &str, object: Value| {
        let (group, version, _) = gvr(kind);
        json!({"uid": "h", "kind": {"group": group, "version": version, "kind": kind},
               "operation": "CREATE", "object": object})
    };
    let pod = |spec: Value| request("Pod", json!({"metadata": {"name": "h"}, "spec": spec}));
    let app = |fields: Value| {
        let mut c = json!({"name": "app", "image": "nginx"});
        if let (Some(c), Some(f)) = (c.as_object_mut(), fields.as_object()) {
            c.extend(f.clone());
        }
        pod(json!({"containers": [c]}))
    };
    let at = |r: &mut Value, field: &str, wrong: Value| {
        r[field] = wrong;
        std::mem::take(r)
    };
    let wrong_types: Vec<(&'static str, Value, &'static str)> = vec![
        ("uid as a number", at(&mut app(json!({})), "uid", json!(7)),
         "the request is not an AdmissionRequest: request.uid: invalid type: integer"),
        ("kind as a string", at(&mut app(json!({})), "kind", json!("Pod")),
         "the request is not an AdmissionRequest: request.kind: invalid type: string"),
        ("kind.kind as a number", {
            let mut r = app(json!({}));
            r["kind"]["kind"] = json!(7);
            r
        }, "the request is not an AdmissionRequest: request.kind.kind: invalid type: integer"),
        ("kind.group as a list", {
            let mut r = app(json!({}));
            r["kind"]["group"] = json!([]);
            r
        }, "the request is not an AdmissionRequest: request.kind.group: invalid type: sequence"),
        ("operation as a boolean", at(&mut app(json!({})), "operation", json!(true)),
         "the request is not an AdmissionRequest: request.operation: invalid type: boolean"),
        ("subResource as an object", at(&mut app(json!({})), "subResource", json!({})),
         "the request is not an AdmissionRequest: request.subResource: invalid type: map"),
        ("object as a number", at(&mut app(json!({})), "object", json!(7)),
         "request.object is not a JSON object"),
        ("spec as a list", pod(json!([])),
         "request.object is not a valid Pod: spec: invalid type: sequence"),
        ("containers as a number", pod(json!({"containers": 7})),
         "request.object is not a valid Pod: spec.containers: invalid type: integer"),
        ("initContainers as a string", pod(json!({"initContainers": "x", "containers": []})),
         "request.object is not a valid Pod: spec.initContainers: invalid type: string"),
        ("a container as a string", pod(json!({"containers": [{"name": "a"}, "app"]})),
         "request.object is not a valid Pod: spec.containers[1]: invalid type: string"),
        ("name as a number", app(json!({"name": 7})),
         "request.object is not a valid Pod: spec.containers[0].name: invalid type: integer"),
        ("image as an object", app(json!({"image": {}})),
         "request.object is not a valid Pod: spec.containers[0].image: invalid type: map"),
        ("restartPolicy as a number", app(json!({"restartPolicy": 1})),
         "request.object is not a valid Pod: spec.containers[0].restartPolicy: invalid type: integer"),
        ("resources as a string", app(json!({"resources": "big"})),
         "request.object is not a valid Pod: spec.containers[0].resources: invalid type: string"),
        ("limits as a list", app(json!({"resources": {"limits": ["cpu"]}})),
         "request.object is not a valid Pod: spec.containers[0].resources.limits: invalid type: sequence"),
        ("requests as a number", app(json!({"resources": {"requests": 5}})),
         "request.object is not a valid Pod: spec.containers[0].resources.requests: invalid type: integer"),
        ("pod-level resources as a list", pod(json!({"resources": [], "containers": []})),
         "request.object is not a valid Pod: spec.resources: invalid type: sequence"),
        ("a quantity as an object", app(json!({"resources": {"limits": {"cpu": {"v": 1}, "memory": true}}})),
         "spec.containers[0] \"app\": cpu limit {\"v\":1} is not a Kubernetes quantity; spec.containers[0] \"app\": memory limit true is not a Kubernetes quantity"),
        ("a template as a number", request("Deployment", json!({"spec": {"template": 7}})),
         "request.object is not a valid Deployment: spec.template: invalid type: integer"),
        ("a jobTemplate as a list", request("CronJob", json!({"spec": {"jobTemplate": []}})),
         "request.object is not a valid CronJob: spec.jobTemplate: invalid type: sequence"),
        ("a PodTemplate's template as a string", request("PodTemplate", json!({"template": "x"})),
         "request.object is not a valid PodTemplate: template: invalid type: string"),
    ];
    for (name, request, prefix) in wrong_types {
        out.push((
            name,
            plain.clone(),
            request.to_string().into_bytes(),
            prefix,
        ));
    }
    out.into_iter()
        .map(|(name, settings, request, prefix)| Hostile {
            name,
            settings,
            request,
            prefix,
        })
        .collect()
}

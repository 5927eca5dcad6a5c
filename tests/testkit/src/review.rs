//! AdmissionReview and Kubewarden payload wrapping, and reading a webhook's answer back.

use crate::cases::{Answer, Case};
use serde_json::Value;

/// A webhook's request body: an `admission.k8s.io/v1` AdmissionReview around the request's
/// bytes exactly as given (not re-serialized: a key given twice or bad bytes stay).
pub fn review_body(request: &[u8]) -> Vec<u8> {
    let mut body =
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"#.to_vec();
    body.extend_from_slice(request);
    body.push(b'}');
    body
}

/// Checks that `mutated` differs from `original` only by added fields: the diff holds adds
/// only, and removing the added fields gives back the original, canonically serialized.
pub fn only_additions(original: &Value, mutated: &Value) -> Result<(), String> {
    let diff = json_patch::diff(original, mutated);
    let mut stripped = mutated.clone();
    for op in diff.0.iter() {
        match op {
            json_patch::PatchOperation::Add(add) => {
                let path = add.path.to_string();
                let (parent, key) = path.rsplit_once('/').unwrap_or(("", &path));
                let key = key.replace("~1", "/").replace("~0", "~");
                match stripped.pointer_mut(parent).and_then(Value::as_object_mut) {
                    Some(m) => {
                        m.remove(&key);
                    }
                    None => return Err(format!("added {path} is not a new object key")),
                }
            }
            // A null replaced by an object is a missing field added.
            json_patch::PatchOperation::Replace(r)
                if original
                    .pointer(r.path.as_str())
                    .is_some_and(Value::is_null) =>
            {
                if let Some(slot) = stripped.pointer_mut(r.path.as_str()) {
                    *slot = Value::Null;
                }
            }
            other => return Err(format!("the mutation changes more than it adds: {other:?}")),
        }
    }
    let a = serde_json::to_string(original).map_err(|e| e.to_string())?;
    let b = serde_json::to_string(&stripped).map_err(|e| e.to_string())?;
    if a != b {
        return Err(format!("mutated minus additions differs:\n{a}\n{b}"));
    }
    Ok(())
}

/// A Kubewarden `validate` payload around any request bytes.
pub fn kubewarden_payload(settings: &Value, request: &[u8]) -> Vec<u8> {
    let mut out = format!("{{\"settings\":{settings},\"request\":").into_bytes();
    out.extend_from_slice(request);
    out.push(b'}');
    out
}

/// Reads an AdmissionReview response (a webhook's answer) as an [`Answer`]: its patch, if
/// any, decoded and applied to the case's object. Also checks that the response echoes the
/// request's uid and that the patch only adds.
pub fn answer_from_review(case: &Case, review: &Value) -> Result<Answer, String> {
    use base64::Engine as _;
    if review["apiVersion"] != "admission.k8s.io/v1" || review["kind"] != "AdmissionReview" {
        return Err(format!("not an AdmissionReview v1: {review}"));
    }
    let r = &review["response"];
    let sent: Value = serde_json::from_str(&case.request).unwrap_or(Value::Null);
    let want_uid = sent["uid"].as_str().unwrap_or_default();
    if r["uid"] != want_uid {
        return Err(format!("uid {} instead of {want_uid:?}", r["uid"]));
    }
    let mutated = match r["patch"].as_str() {
        None => None,
        Some(p) => {
            if r["patchType"] != "JSONPatch" {
                return Err(format!("patchType {}", r["patchType"]));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(p)
                .map_err(|e| format!("patch is not base64: {e}"))?;
            let ops: json_patch::Patch =
                serde_json::from_slice(&bytes).map_err(|e| format!("not a JSON patch: {e}"))?;
            for op in ops.0.iter() {
                let adds = matches!(op, json_patch::PatchOperation::Add(_));
                let fills_null = matches!(op, json_patch::PatchOperation::Replace(x)
                    if case.object.as_ref().and_then(|o| o.pointer(x.path.as_str())).is_some_and(Value::is_null));
                if !adds && !fills_null {
                    return Err(format!("the patch does more than add: {op:?}"));
                }
            }
            let mut object = case.object.clone().ok_or("a patch without an object")?;
            json_patch::patch(&mut object, &ops)
                .map_err(|e| format!("the patch does not apply: {e}"))?;
            Some(object)
        }
    };
    Ok(Answer {
        allowed: r["allowed"]
            .as_bool()
            .ok_or("response.allowed is missing")?,
        code: r["status"]["code"].as_u64(),
        message: r["status"]["message"].as_str().map(str::to_owned),
        mutated,
        warnings: strings(&r["warnings"]),
    })
}

/// A JSON list of strings (`warnings`); empty when absent or `null`.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str().map(str::to_owned))
        .collect()
}

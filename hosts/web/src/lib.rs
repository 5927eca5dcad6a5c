//! The browser host of the resource-limits rule: a wasm-bindgen module for
//! `wasm32-unknown-unknown`, exporting `validateSettings(settings)`,
//! `validate(settings, input)` and `exportCel(settings, name)`.
//!
//! Settings are JSON or YAML text (or a JS object). The input is an AdmissionReview, an
//! AdmissionRequest or a bare manifest (Pod, Deployment, ...), as JSON or YAML text (or a JS
//! object); a multi-document YAML stream gets one answer per document. A manifest is judged
//! as the API server would send its CREATE. Every answer is a plain JS object; nothing throws.
// `#[wasm_bindgen]` exports the functions to JavaScript with generated unsafe code.
#![allow(unsafe_code)]

pub mod answer;

use wasm_bindgen::prelude::*;

/// `validateSettings(settings)` → `{valid, message, problems: [{line, field, message,
/// didYouMean}]}` (each problem at its key's line).
#[wasm_bindgen(js_name = validateSettings)]
pub fn validate_settings(settings: JsValue) -> JsValue {
    to_js(&answer::validate_settings(&text_of(&settings)))
}

/// `validate(settings, input)` → `{allowed, settingsError, settingsProblems, answers: [{document, line, input,
/// kind, name, allowed, code, message, violations, patch, patched, patchedText,
/// originalText}]}`.
#[wasm_bindgen]
pub fn validate(settings: JsValue, input: JsValue) -> JsValue {
    to_js(&answer::validate(&text_of(&settings), &text_of(&input)))
}

/// `exportCel(settings, name)` → `{yaml, error}`: the settings as a MutatingAdmissionPolicy
/// and ValidatingAdmissionPolicies, as `resource-limits export cel` prints them.
#[wasm_bindgen(js_name = exportCel)]
pub fn export_cel(settings: JsValue, name: JsValue) -> JsValue {
    to_js(&answer::export_cel(&text_of(&settings), &text_of(&name)))
}

/// A JS argument as text: a string as it is, `undefined`/`null` as empty, anything else as
/// its JSON.
fn text_of(v: &JsValue) -> String {
    if let Some(s) = v.as_string() {
        return s;
    }
    if v.is_undefined() || v.is_null() {
        return String::new();
    }
    js_sys::JSON::stringify(v)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

/// An answer as a JS object (numbers beyond an f64 keep their exact digits in the `...Text`
/// fields).
fn to_js(v: &serde_json::Value) -> JsValue {
    let text = v.to_string();
    js_sys::JSON::parse(&text).unwrap_or_else(|_| JsValue::from_str(&text))
}

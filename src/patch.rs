//! The mutation: the default requests and limits to add, and adding them to the raw object.
//!
//! Works on the object's own JSON (`serde_json::Value`, numbers kept exactly), never through
//! typed Kubernetes structs, so fields unknown to any Kubernetes version survive untouched.

use serde_json::{Map, Value};

/// Which list of a container's `resources` a default goes into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Requests,
    Limits,
}

impl Section {
    pub fn key(self) -> &'static str {
        match self {
            Section::Requests => "requests",
            Section::Limits => "limits",
        }
    }
}

/// One default to add: `container`'s `resources.<section>.<resource> = value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addition {
    /// JSON pointer to the container (`/spec/template/spec/containers/0`).
    pub container: String,
    pub section: Section,
    pub resource: String,
    /// The quantity as the operator wrote it.
    pub value: String,
}

impl Addition {
    /// The JSON pointer of the added quantity (`.../resources/limits/nvidia.com~1gpu`).
    pub fn pointer(&self) -> String {
        format!(
            "{}/resources/{}/{}",
            self.container,
            self.section.key(),
            self.resource.replace('~', "~0").replace('/', "~1")
        )
    }
}

/// Adds the defaults to the object, creating `resources`, `requests` and `limits` where they
/// are absent or null. Fails (with the reason) if the object does not have the shape the rule
/// read, which cannot happen for an object the rule accepted.
pub fn apply(object: &mut Value, additions: &[Addition]) -> Result<(), String> {
    for a in additions {
        let container = object
            .pointer_mut(&a.container)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{} is not an object", a.container))?;
        let resources = child_object(container, "resources")
            .ok_or_else(|| format!("{}/resources is not an object", a.container))?;
        let list = child_object(resources, a.section.key()).ok_or_else(|| {
            format!(
                "{}/resources/{} is not an object",
                a.container,
                a.section.key()
            )
        })?;
        if !list.get(&a.resource).is_none_or(Value::is_null) {
            return Err(format!("{} is already set", a.pointer()));
        }
        list.insert(a.resource.clone(), Value::String(a.value.clone()));
    }
    Ok(())
}

/// The RFC 6902 patch from the object under review to its mutated form, computed by the
/// json-patch crate: adds only (and a `null` replaced by the object it was missing).
pub fn json_patch(original: &Value, mutated: &Value) -> Value {
    serde_json::to_value(json_patch::diff(original, mutated)).unwrap_or(Value::Array(Vec::new()))
}

/// The object at `key`, made an empty object if absent or null.
fn child_object<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let slot = parent.entry(key.to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adds_only_what_is_missing() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "a", "x-unknown": {"n": 1.50}},
            {"name": "b", "resources": {"limits": {"cpu": "1"}, "requests": null}}
        ]}});
        let adds = [
            Addition {
                container: "/spec/containers/0".into(),
                section: Section::Limits,
                resource: "nvidia.com/gpu".into(),
                value: "1".into(),
            },
            Addition {
                container: "/spec/containers/1".into(),
                section: Section::Requests,
                resource: "cpu".into(),
                value: "250m".into(),
            },
        ];
        assert_eq!(
            adds[0].pointer(),
            "/spec/containers/0/resources/limits/nvidia.com~1gpu"
        );
        assert_eq!(apply(&mut pod, &adds), Ok(()));
        assert_eq!(
            pod,
            json!({"spec": {"containers": [
                {"name": "a", "x-unknown": {"n": 1.50}, "resources": {"limits": {"nvidia.com/gpu": "1"}}},
                {"name": "b", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "250m"}}}
            ]}})
        );
        assert!(apply(&mut pod, &adds[1..]).is_err(), "never overwrites");
    }
}

//! The mutation: the default requests and limits to add, and adding them to the raw object.
//!
//! Works on the object's own JSON (`serde_json::Value`, numbers kept exactly), never through
//! typed Kubernetes structs, so fields unknown to any Kubernetes version survive untouched.

use crate::location::Location;
use serde_json::{Map, Value};

/// Which list of a container's `resources` a default goes into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// `resources.requests`.
    Requests,
    /// `resources.limits`.
    Limits,
}

impl Section {
    /// The key in `resources`: `requests` or `limits`.
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
    /// The container (`spec.template.spec.containers[0]`).
    pub container: Location,
    /// `limits` or `requests`.
    pub section: Section,
    /// The resource's name (`cpu`, `nvidia.com/gpu`).
    pub resource: String,
    /// The quantity as the operator wrote it.
    pub value: String,
}

impl Addition {
    /// Where the added quantity goes (`...containers[0].resources.limits.nvidia.com/gpu`).
    pub fn location(&self) -> Location {
        self.container
            .field("resources")
            .field(self.section.key())
            .field(self.resource.clone())
    }

    /// The JSON pointer of the added quantity (`.../resources/limits/nvidia.com~1gpu`).
    pub fn pointer(&self) -> String {
        self.location().pointer()
    }
}

/// Adds the defaults to the object, creating `resources`, `requests` and `limits` where they
/// are absent or null. Fails (with the reason) if the object does not have the shape the rule
/// read, which cannot happen for an object the rule accepted.
pub fn apply(object: &mut Value, additions: &[Addition]) -> Result<(), String> {
    for a in additions {
        let container = a
            .container
            .find_mut(object)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{} is not an object", a.container))?;
        let resources = child_object(container, "resources")
            .ok_or_else(|| format!("{}.resources is not an object", a.container))?;
        let list = child_object(resources, a.section.key()).ok_or_else(|| {
            format!(
                "{}.resources.{} is not an object",
                a.container,
                a.section.key()
            )
        })?;
        if !list.get(&a.resource).is_none_or(Value::is_null) {
            // As `a.location()` shows it, without building it.
            return Err(format!(
                "{}.resources.{}.{} is already set",
                a.container,
                a.section.key(),
                a.resource
            ));
        }
        list.insert(a.resource.clone(), Value::String(a.value.clone()));
    }
    Ok(())
}

/// The RFC 6902 patch from the object under review to its mutated form, computed by the
/// json-patch crate: adds only (and a `null` replaced by the object it was missing).
fn json_patch(original: &Value, mutated: &Value) -> Value {
    serde_json::to_value(json_patch::diff(original, mutated)).unwrap_or(Value::Array(Vec::new()))
}

/// The defaults added to an accepted object: what was added, and the object before and
/// after, as a patched object or as the JSONPatch between the two.
#[derive(Clone, Debug, PartialEq)]
pub struct Mutation {
    original: Value,
    object: Value,
    additions: Vec<Addition>,
}

impl Mutation {
    /// The mutation that adds `additions` to `original`; `Err` where the object does not have
    /// the shape the rule read.
    pub fn new(original: Value, additions: Vec<Addition>) -> Result<Mutation, String> {
        let mut object = original.clone();
        apply(&mut object, &additions)?;
        Ok(Mutation {
            original,
            object,
            additions,
        })
    }

    /// The defaults added, container by container.
    pub fn additions(&self) -> &[Addition] {
        &self.additions
    }

    /// The object as it came.
    pub fn original(&self) -> &Value {
        &self.original
    }

    /// The whole object with the defaults added; every other byte of meaning is unchanged.
    pub fn object(&self) -> &Value {
        &self.object
    }

    /// The patched object, taken.
    pub fn into_object(self) -> Value {
        self.object
    }

    /// The RFC 6902 JSONPatch that turns the object as it came into the patched one.
    pub fn json_patch(&self) -> Value {
        json_patch(&self.original, &self.object)
    }
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
                container: Location::of_fields(&["spec", "containers"]).index(0),
                section: Section::Limits,
                resource: "nvidia.com/gpu".into(),
                value: "1".into(),
            },
            Addition {
                container: Location::of_fields(&["spec", "containers"]).index(1),
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

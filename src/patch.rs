//! The mutation: the default requests and limits to add, and adding them to the raw object.
//!
//! Works on the object's own JSON (its text for a review, a `serde_json::Value` for the CLI's
//! fixes), never through typed Kubernetes structs, so fields unknown to any Kubernetes
//! version survive untouched.

use crate::json::scan;
use crate::location::{Location, Segment};
use crate::splice::{self, Node, SpliceError};
use crate::workload::{Container, PodSpec, Text};
use serde_json::{Map, Value};
use std::borrow::Cow;

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

/// The defaults added to an accepted object: what was added, and the object's JSON text
/// before and after, and the RFC 6902 JSONPatch between the two.
///
/// Made from the object's text without building it as a tree ([`crate::splice`]): each
/// member is spliced in where it goes, every other byte stays as it came, and the patch is
/// written from the same members (no diff).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutation {
    original: String,
    object: String,
    patch: String,
    additions: Vec<Addition>,
}

impl Mutation {
    /// The mutation that adds `additions` to the object whose JSON text is `original`; `Err`
    /// where the object does not have the shape the rule read.
    pub fn new(
        original: &str,
        additions: Vec<Addition>,
        anchors: &Anchors,
    ) -> Result<Mutation, SpliceError> {
        // What each container gets: resources -> limits/requests -> resource = value.
        let mut groups: Vec<(&Location, Node<'_>)> = Vec::new();
        for a in &additions {
            // The rule gives a container's defaults one after another, so a container's group
            // is the last one or a new one. (A container met again later would make a second
            // insertion at the same place, which `apply_edits` refuses.)
            let last = groups.len().checked_sub(1);
            let same = |i: &usize| groups.get(*i).is_some_and(|(c, _)| *c == &a.container);
            let i = match last.filter(same) {
                Some(i) => i,
                None => {
                    groups.push((&a.container, Node::Object(Vec::new())));
                    groups.len() - 1
                }
            };
            let list = groups
                .get_mut(i)
                .and_then(|(_, n)| n.child("resources"))
                .and_then(|r| r.child(a.section.key()));
            if let Some(Node::Object(members)) = list {
                members.push((&a.resource, Node::Text(&a.value)));
            }
        }
        let root = scan::value_start(original.as_bytes(), 0);
        // The lists of containers read from their start, where no anchor finds an item.
        let mut lists: Vec<(&[Segment], Vec<usize>)> = Vec::new();
        let (mut edits, mut ops) = (Vec::new(), Vec::new());
        for (container, node) in &groups {
            let at = match container.segments().split_last() {
                Some((Segment::Index(i), parent)) => match anchors.item(original, parent, *i) {
                    Some(at) => at,
                    None => {
                        // Read up to the last item of this list that gets defaults.
                        let last = || {
                            groups
                                .iter()
                                .filter_map(|(c, _)| match c.segments().split_last() {
                                    Some((Segment::Index(j), p)) if p == parent => Some(*j),
                                    _ => None,
                                })
                                .max()
                                .unwrap_or(*i)
                        };
                        listed(&mut lists, original, root, parent, *i, last)?
                    }
                },
                _ => find(original, root, container.segments())?,
            };
            if original.as_bytes().get(at) != Some(&b'{') {
                return Err(SpliceError::NotFound(container.pointer()));
            }
            if let Node::Object(members) = node {
                let pointer = container.pointer();
                splice::add_members(original, at, &pointer, members, &mut edits, &mut ops)?;
            }
        }
        let object = splice::apply_edits(original, edits)?;
        let mut patch =
            String::with_capacity(ops.iter().map(|(p, v)| p.len() + v.len() + 32).sum());
        patch.push('[');
        for (i, (path, value)) in ops.iter().enumerate() {
            if i > 0 {
                patch.push(',');
            }
            patch.push_str(r#"{"op":"add","path":"#);
            splice::write_string(path, &mut patch);
            patch.push_str(r#","value":"#);
            patch.push_str(value);
            patch.push('}');
        }
        patch.push(']');
        Ok(Mutation {
            original: original.to_owned(),
            object,
            patch,
            additions,
        })
    }

    /// The defaults added, container by container.
    pub fn additions(&self) -> &[Addition] {
        &self.additions
    }

    /// The object's JSON text as it came.
    pub fn original_json(&self) -> &str {
        &self.original
    }

    /// The object's JSON text with the defaults added; every other byte is as it came.
    pub fn object_json(&self) -> &str {
        &self.object
    }

    /// The RFC 6902 JSONPatch that turns the object as it came into the patched one: one
    /// `add` for each member added (a `resources`, `limits` or `requests` the object lacks,
    /// or holds as `null`, is added whole).
    pub fn patch_json(&self) -> &str {
        &self.patch
    }

    /// The object as it came, as a JSON tree.
    pub fn original(&self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.original)
    }

    /// The object with the defaults added, as a JSON tree.
    pub fn object(&self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.object)
    }

    /// The JSONPatch, as a JSON tree.
    pub fn json_patch(&self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.patch)
    }
}

/// What the typed reading of an object knows of where its containers are in its text: for
/// each container, the byte after its `name` (a name without escapes is read as the text
/// itself, so its place is known). A container is found from its own name, reading back to
/// its `{`, or else from the previous container's name, rather than by reading the object
/// from its root (which the first container of a list needed, cold, in Spin: most of the
/// mutation's time).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Anchors {
    lists: Vec<(Location, Vec<Option<usize>>)>,
}

impl Anchors {
    /// The anchors of the containers and init containers of `spec`, the pod spec at
    /// `pod_spec` read (borrowed) from `text`.
    pub fn of(text: &str, pod_spec: &Location, spec: &PodSpec<'_>) -> Anchors {
        let base = text.as_ptr() as usize;
        let after_name = |c: &Container<'_>| -> Option<usize> {
            let Some(Text(Cow::Borrowed(name))) = &c.name else {
                return None;
            };
            let start = (name.as_ptr() as usize).checked_sub(base)?;
            let end = start + name.len() + 1;
            let b = text.as_bytes();
            (start > 0 && b.get(start - 1) == Some(&b'"') && b.get(end - 1) == Some(&b'"'))
                .then_some(end)
        };
        let mut lists = Vec::new();
        for (field, list) in [
            ("containers", &spec.containers),
            ("initContainers", &spec.init_containers),
        ] {
            if let Some(list) = list {
                lists.push((pod_spec.field(field), list.iter().map(after_name).collect()));
            }
        }
        Anchors { lists }
    }

    /// Where item `i` of the list at `parent` starts: read back from its own anchor to its
    /// `{`, or else found from item `i - 1`'s anchor, whose item is stepped over (the anchor
    /// is inside it, one level deep, outside any string) to the comma after it.
    fn item(&self, text: &str, parent: &[Segment], i: usize) -> Option<usize> {
        let (_, anchors) = self.lists.iter().find(|(l, _)| l.segments() == parent)?;
        let b = text.as_bytes();
        if let Some(Some(own)) = anchors.get(i) {
            if let Ok(at) = scan::open_before(b, *own) {
                return Some(at);
            }
        }
        let anchor = (*anchors.get(i.checked_sub(1)?)?)?;
        let end = scan::close(b, anchor, 1).ok()?;
        let comma = scan::value_start(b, end);
        (b.get(comma) == Some(&b',')).then(|| scan::value_start(b, comma + 1))
    }
}

/// Where item `i` of the list at `parent` starts, read from the list's start. Each list is
/// read once, up to `last()`, and kept in `lists`: a pod of 10,000 containers without
/// anchors must not have its list read 10,000 times.
fn listed<'p>(
    lists: &mut Vec<(&'p [Segment], Vec<usize>)>,
    text: &str,
    root: usize,
    parent: &'p [Segment],
    i: usize,
    last: impl FnOnce() -> usize,
) -> Result<usize, SpliceError> {
    let k = match lists.iter().position(|(p, _)| *p == parent) {
        Some(k) => k,
        None => {
            let list = find(text, root, parent)?;
            lists.push((parent, scan::items_to(text.as_bytes(), list, last())?));
            lists.len() - 1
        }
    };
    lists
        .get(k)
        .and_then(|(_, items)| items.get(i))
        .copied()
        .ok_or_else(|| SpliceError::NotFound(Location::from(parent.to_vec()).index(i).pointer()))
}

/// Where the value at `path` below the value at `root` starts in `text`.
fn find(text: &str, root: usize, path: &[Segment]) -> Result<usize, SpliceError> {
    let mut at = root;
    for (depth, segment) in path.iter().enumerate() {
        let next = match segment {
            Segment::Field(name) if text.as_bytes().get(at) == Some(&b'{') => {
                scan::member(text, at, name)?
            }
            Segment::Index(i) if text.as_bytes().get(at) == Some(&b'[') => {
                scan::items(text.as_bytes(), at)?.get(*i).copied()
            }
            _ => None,
        };
        at = next.ok_or_else(|| {
            SpliceError::NotFound(Location::from(path[..=depth].to_vec()).pointer())
        })?;
    }
    Ok(at)
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
    fn a_container_is_found_from_its_name_or_the_previous_ones() {
        let object = r#"{"spec": {"containers": [{"image": "a", "name": "x", "env": [{"name": "}"}]},
            {"name": "y\u0031"}, {"name": "z"}, {"image": "b"}]}}"#;
        let Ok(Some(spec)) = crate::workload::Kind::Pod.pod_spec(object) else {
            panic!("a pod spec");
        };
        let at = Location::of_fields(&["spec"]);
        let anchors = Anchors::of(object, &at, &spec);
        let list = Location::of_fields(&["spec", "containers"]);
        let item = |i| anchors.item(object, list.segments(), i);
        let starts =
            scan::items(object.as_bytes(), object.find('[').unwrap_or(0)).unwrap_or_default();
        // Item 0 back from its own "x" (over its image); item 1's "y1" is written with an
        // escape (no place known): found after "x"; item 2 back from its own "z"; item 3 has
        // no name: found after "z"; there is no item 4.
        for i in 0..4 {
            assert_eq!(item(i), starts.get(i).copied(), "item {i}");
        }
        assert_eq!(starts.len(), 4);
        assert_eq!(item(4), None);
    }

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

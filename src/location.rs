//! Where something is in an object: a list of field names and indexes, shown as the dotted
//! path messages use (`spec.template.spec.containers[1]`) and, on demand, as the JSON pointer
//! a patch uses (`/spec/template/spec/containers/1`).
//!
//! One value travels from the rule to every host; nothing parses a path or a pointer back.

use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// One step of a [`Location`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A field of an object (a resource name may hold dots and slashes: `nvidia.com/gpu`).
    Field(Cow<'static, str>),
    /// An item of an array.
    Index(usize),
}

/// A place in an object, from its root. Shared, not copied, when cloned: every default added
/// and every warning about a container holds its location.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location(Arc<[Segment]>);

impl Default for Location {
    fn default() -> Location {
        Location::root()
    }
}

impl Location {
    /// The object's root.
    pub fn root() -> Location {
        Location(Arc::from([]))
    }

    /// A location made of these fields, in order.
    pub fn of_fields(fields: &[&'static str]) -> Location {
        Location(
            fields
                .iter()
                .map(|f| Segment::Field(Cow::Borrowed(*f)))
                .collect(),
        )
    }

    /// The steps from the root.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// This location's field `name`.
    pub fn field(&self, name: impl Into<Cow<'static, str>>) -> Location {
        self.with(Segment::Field(name.into()))
    }

    /// This location and one more step (not generic: one copy in the module), in one
    /// allocation.
    fn with(&self, segment: Segment) -> Location {
        Location(self.0.iter().cloned().chain([segment]).collect())
    }

    /// This location's item `index`.
    pub fn index(&self, index: usize) -> Location {
        self.with(Segment::Index(index))
    }

    /// `other`, taken from this location rather than from the root (a container of a list's
    /// item: `/items/3` joined with `/spec/containers/0`).
    pub fn join(&self, other: &Location) -> Location {
        Location(self.0.iter().chain(other.0.iter()).cloned().collect())
    }

    /// Whether the last step is the field `name`.
    pub fn ends_with_field(&self, name: &str) -> bool {
        matches!(self.0.last(), Some(Segment::Field(f)) if f == name)
    }

    /// The RFC 6901 JSON pointer (`/spec/containers/0/resources/limits/nvidia.com~1gpu`).
    pub fn pointer(&self) -> String {
        let mut out = String::new();
        for segment in self.0.iter() {
            out.push('/');
            match segment {
                Segment::Field(name) => {
                    for (i, part) in name.split('~').enumerate() {
                        if i > 0 {
                            out.push_str("~0");
                        }
                        for (j, piece) in part.split('/').enumerate() {
                            if j > 0 {
                                out.push_str("~1");
                            }
                            out.push_str(piece);
                        }
                    }
                }
                Segment::Index(i) => out.push_str(itoa::Buffer::new().format(*i)),
            }
        }
        out
    }

    /// The value at this location in a JSON value, if it is there.
    pub fn find_mut<'a>(&self, mut value: &'a mut Value) -> Option<&'a mut Value> {
        for segment in self.0.iter() {
            value = match (segment, value) {
                (Segment::Field(name), Value::Object(map)) => map.get_mut(name.as_ref())?,
                (Segment::Index(i), Value::Array(items)) => items.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

impl From<Vec<Segment>> for Location {
    fn from(segments: Vec<Segment>) -> Location {
        Location(segments.into())
    }
}

impl Location {
    /// Appends the dotted path (`spec.template.spec.containers[1].resources`) to `out`,
    /// without `core::fmt`: warnings are written on every mutating request, and a host that
    /// starts cold for each request (Spin) pays for each formatting function it reaches.
    pub fn write_dotted(&self, out: &mut String) {
        // A dot only after something written (a leading empty key shows as nothing).
        let mut written = false;
        for segment in self.0.iter() {
            match segment {
                Segment::Field(name) => {
                    if written {
                        out.push('.');
                    }
                    out.push_str(name);
                    written |= !name.is_empty();
                }
                Segment::Index(index) => {
                    out.push('[');
                    out.push_str(itoa::Buffer::new().format(*index));
                    out.push(']');
                    written = true;
                }
            }
        }
    }
}

/// The dotted path: `spec.template.spec.containers[1].resources`.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(64);
        self.write_dotted(&mut text);
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_path_and_a_pointer() {
        let c = Location::of_fields(&["spec", "template", "spec", "containers"]).index(1);
        assert_eq!(c.to_string(), "spec.template.spec.containers[1]");
        assert_eq!(c.pointer(), "/spec/template/spec/containers/1");
        let q = c
            .field("resources")
            .field("limits")
            .field("example.com/a~b".to_owned());
        assert_eq!(
            q.to_string(),
            "spec.template.spec.containers[1].resources.limits.example.com/a~b"
        );
        assert_eq!(
            q.pointer(),
            "/spec/template/spec/containers/1/resources/limits/example.com~1a~0b"
        );
        assert!(q.field("x").index(0).to_string().ends_with("a~b.x[0]"));
        assert_eq!(Location::root().to_string(), "");
        assert_eq!(Location::root().pointer(), "");
        let item = Location::root().field("items").index(3);
        assert_eq!(
            item.join(&c).pointer(),
            "/items/3/spec/template/spec/containers/1"
        );
        assert!(c.field("resources").ends_with_field("resources"));
        assert!(!c.ends_with_field("resources"));
    }

    #[test]
    fn finds_its_value() {
        let mut v = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let at = Location::of_fields(&["spec", "containers"]).index(1);
        assert_eq!(at.find_mut(&mut v).cloned(), Some(json!({"name": "b"})));
        assert_eq!(at.field("name").field("x").find_mut(&mut v), None);
        assert_eq!(
            Location::of_fields(&["spec"]).index(0).find_mut(&mut v),
            None
        );
    }
}

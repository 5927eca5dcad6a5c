//! A borrowed view of JSON text that serde_json has checked whole: a value's shape, its text,
//! a string unescaped, an object's members, an array's items, each read in place through
//! [`super::scan`] when asked for. Nothing is built that is not asked for: the settings are
//! read through it (on every request in a host that keeps nothing between requests, Spin),
//! where a `serde_json::Value` tree cost two thirds of the allocations of reading them.
//!
//! The text was checked whole before, so the view only steps over valid JSON; where it still
//! finds something it does not expect, that is a [`ScanError`], never a guess.

use super::scan::{self, ScanError, Span};
use std::borrow::Cow;
use std::fmt;

/// What kind of JSON value a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `null`.
    Null,
    /// `true`.
    True,
    /// `false`.
    False,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

/// The shape as messages name it: `null`, `a boolean`, `a number`, `a string`, `a list`,
/// `an object`.
impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shape::Null => "null",
            Shape::True | Shape::False => "a boolean",
            Shape::Number => "a number",
            Shape::String => "a string",
            Shape::Array => "a list",
            Shape::Object => "an object",
        })
    }
}

/// One value of a checked JSON text, read in place.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    text: &'a str,
    span: Span,
}

impl<'a> View<'a> {
    /// The whole document, as serde_json gives a top-level raw value: the value's text alone,
    /// no whitespace around it.
    pub fn whole(text: &'a str) -> View<'a> {
        View {
            text,
            span: Span {
                start: 0,
                end: text.len(),
            },
        }
    }

    /// The value that starts at `start`.
    fn at(text: &'a str, start: usize) -> Result<View<'a>, ScanError> {
        let end = scan::value_end(text.as_bytes(), start)?;
        Ok(View {
            text,
            span: Span { start, end },
        })
    }

    /// Its JSON text, as written.
    pub fn raw(&self) -> &'a str {
        self.text
            .get(self.span.start..self.span.end)
            .unwrap_or_default()
    }

    /// What kind of value it is.
    pub fn shape(&self) -> Shape {
        match self.text.as_bytes().get(self.span.start) {
            Some(b'"') => Shape::String,
            Some(b'{') => Shape::Object,
            Some(b'[') => Shape::Array,
            Some(b't') => Shape::True,
            Some(b'f') => Shape::False,
            Some(b'n') => Shape::Null,
            _ => Shape::Number,
        }
    }

    /// Whether it is `null`.
    pub fn is_null(&self) -> bool {
        self.shape() == Shape::Null
    }

    /// A string's text, unescaped (borrowed when it has no escape).
    pub fn string(&self) -> Cow<'a, str> {
        scan::unescaped(self.text, self.span)
    }

    /// The value as written, without the whitespace between its tokens (strings as they
    /// are): not rewritten through a tree, which would reorder keys, rewrite numbers, and
    /// read serde_json's private number token (`{"$serde_json::private::Number": "4"}`) as
    /// the number it stands for.
    pub fn compact(&self) -> String {
        let raw = self.raw();
        let b = raw.as_bytes();
        let mut out = String::with_capacity(raw.len());
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            let end = match c {
                b'"' => scan::string_end(b, i).unwrap_or(b.len()),
                b' ' | b'\t' | b'\n' | b'\r' => {
                    i += 1;
                    continue;
                }
                _ => b
                    .get(i..)
                    .and_then(|rest| {
                        rest.iter()
                            .position(|c| matches!(c, b'"' | b' ' | b'\t' | b'\n' | b'\r'))
                    })
                    .map_or(b.len(), |k| i + k),
            };
            out.push_str(raw.get(i..end).unwrap_or_default());
            i = end;
        }
        out
    }

    /// An array's items.
    pub fn items(&self) -> Result<Vec<View<'a>>, ScanError> {
        scan::items(self.text.as_bytes(), self.span.start)?
            .into_iter()
            .map(|at| View::at(self.text, at))
            .collect()
    }

    /// An object's members, in order, each key unescaped: every member read, and the error
    /// that stopped the reading early, if one did (after the members before it).
    pub fn members(&self) -> (Object<'a>, Option<ScanError>) {
        let mut all = Object::default();
        let members = match scan::members(self.text.as_bytes(), self.span.start) {
            Ok(members) => members,
            Err(e) => return (all, Some(e)),
        };
        for member in members {
            match member.and_then(|(key, at)| Ok((key, View::at(self.text, at)?))) {
                Ok((key, value)) => all.0.push((scan::unescaped(self.text, key), value)),
                Err(e) => return (all, Some(e)),
            }
        }
        (all, None)
    }
}

/// An object's members, in order, each key unescaped.
#[derive(Clone, Debug, Default)]
pub struct Object<'a>(Vec<(Cow<'a, str>, View<'a>)>);

impl<'a> Object<'a> {
    /// The members, in order.
    pub fn iter(&self) -> impl Iterator<Item = &(Cow<'a, str>, View<'a>)> {
        self.0.iter()
    }

    /// The value of the first member `key`.
    pub fn get(&self, key: &str) -> Option<View<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Takes out every member whose key an earlier member has (JSON readers differ on which
    /// one counts), keeping the first: their keys, in the order given.
    pub fn take_repeated(&mut self) -> Vec<Cow<'a, str>> {
        // Found through the keys in order (a linear search for each key was quadratic:
        // 50,000 keys took 1.4 s).
        let mut order: Vec<usize> = (0..self.0.len()).collect();
        order.sort_by(|&a, &b| self.0[a].0.cmp(&self.0[b].0).then(a.cmp(&b)));
        let mut again = vec![false; self.0.len()];
        for pair in order.windows(2) {
            if let [first, next] = *pair {
                if self.0[first].0 == self.0[next].0 {
                    again[next] = true;
                }
            }
        }
        let mut again = again.into_iter();
        let mut repeated = Vec::new();
        self.0.retain(|(key, _)| {
            let is_repeated = again.next().unwrap_or(false);
            if is_repeated {
                repeated.push(key.clone());
            }
            !is_repeated
        });
        repeated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_in_place() {
        let text = r#"{"a" : [1, "x y", {"b": null}], "k\u0065y": "v\"w", "a": true}"#;
        let (mut top, error) = View::whole(text).members();
        assert_eq!(error, None);
        assert_eq!(top.take_repeated(), ["a"]);
        let keys: Vec<&str> = top.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["a", "key"]);
        let a = top.get("a").map(|v| (v.shape(), v.compact()));
        assert_eq!(
            a,
            Some((Shape::Array, r#"[1,"x y",{"b":null}]"#.to_owned()))
        );
        let items = top.get("a").map(|v| v.items());
        let shapes: Vec<Shape> = items
            .and_then(Result::ok)
            .unwrap_or_default()
            .iter()
            .map(View::shape)
            .collect();
        assert_eq!(shapes, [Shape::Number, Shape::String, Shape::Object]);
        assert_eq!(top.get("key").map(|v| v.string()).as_deref(), Some("v\"w"));
        assert_eq!(Shape::Array.to_string(), "a list");
    }
}

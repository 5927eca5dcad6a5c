//! JSON values written as block YAML, for people to read (`resource-limits export cel`, the
//! playground): mappings and sequences in block style, a string plain where kubectl reads it
//! back as that same string (`resolve_plain` says it is no number, boolean or null, and
//! nothing in it is YAML syntax), else double-quoted with JSON's escapes, which YAML's
//! double-quoted style shares. Reading the text back gives the same JSON (tested).

use serde_json::Value;

/// One document (no `---`), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => mapping(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => sequence(a, 0, &mut out),
        other => {
            scalar(other, &mut out);
            out.push('\n');
        }
    }
    out
}

/// Several documents, each after a `---` line.
pub fn to_yaml_stream(values: &[Value]) -> String {
    let mut out = String::new();
    for v in values {
        out.push_str("---\n");
        out.push_str(&to_yaml(v));
    }
    out
}

fn indent(n: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn mapping(m: &serde_json::Map<String, Value>, at: usize, out: &mut String) {
    for (k, v) in m {
        indent(at, out);
        string(k, out);
        out.push(':');
        value_after_key(v, at, out);
    }
}

fn value_after_key(v: &Value, at: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            mapping(m, at + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            sequence(a, at, out);
        }
        other => {
            out.push(' ');
            scalar(other, out);
            out.push('\n');
        }
    }
}

fn sequence(a: &[Value], at: usize, out: &mut String) {
    for v in a {
        indent(at, out);
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => {
                // The first member on the dash's line, the others under it.
                let mut first = true;
                for (k, v) in m {
                    if !first {
                        indent(at + 2, out);
                    }
                    first = false;
                    string(k, out);
                    out.push(':');
                    value_after_key(v, at + 2, out);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                sequence(inner, at + 2, out);
            }
            other => {
                scalar(other, out);
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => string(s, out),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        other => out.push_str(&other.to_string()),
    }
}

fn string(s: &str, out: &mut String) {
    if plain(s) {
        out.push_str(s);
    } else {
        crate::write_json_string(s, out);
    }
}

/// Whether a string can be written plain and read back as itself.
fn plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b' '))
        && !s.ends_with(' ')
        && crate::resolve_plain(s).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn back(text: &str) -> Vec<Value> {
        crate::documents::documents(text, crate::documents::Json::AsYaml)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| d.manifest)
            .filter_map(|m| serde_json::from_str(&m.json).ok())
            .collect()
    }

    #[test]
    fn read_back_it_is_the_same_json() {
        let values = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"a.b/c": "true"}},
                   "data": {"yes": "no", "n": "1.5", "e": "", "sp": " lead", "q": "it's \"quoted\"\n", "colon": "a: b", "hash": "a #b",
                            "u": "ü", "num": 3, "f": 1.5, "t": true, "z": null, "empty": {}, "none": []}}),
            json!({"list": [1, "two", {"three": 3, "four": [4, {"five": 5}]}, [6, 7], [], {}], "k": "v"}),
            json!({"expression": "request.kind.kind == 'Pod' ? object.spec : object.spec.template.spec"}),
        ];
        let text = to_yaml_stream(&values);
        assert_eq!(back(&text), values, "{text}");
        assert!(text.contains("kind: ConfigMap\n"), "{text}");
        assert!(text.contains("\"yes\": \"no\"\n"), "{text}");
    }
}

//! JSON output: a node as compact JSON text (numbers as written) or as a `serde_json::Value`.

use crate::{Node, Value};

impl Node {
    /// The node as compact JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(1024);
        self.write_json(&mut out);
        out
    }

    /// Appends the node as compact JSON text.
    pub fn write_json(&self, out: &mut String) {
        match &self.value {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => out.push_str(n),
            Value::String(s) => write_json_string(s, out),
            Value::Seq(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// The node as a `serde_json::Value` (numbers kept exactly: arbitrary_precision).
    pub fn to_value(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.to_json()).map_err(|e| format!("not representable as JSON: {e}"))
    }
}

/// A JSON string literal: the core's writer, which also writes the strings a mutation adds.
pub use resource_limits::splice::write_string as write_json_string;

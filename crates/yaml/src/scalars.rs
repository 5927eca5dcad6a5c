//! Plain scalars typed with the YAML 1.2 core schema; quoted, block and `!!str` scalars are
//! strings.

use crate::Value;
use saphyr_parser::{ScalarStyle, Tag};
use std::borrow::Cow;

/// A scalar's value under the YAML 1.2 core schema.
pub(crate) fn resolve(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    let core_tag = tag
        .filter(|t| t.is_yaml_core_schema() || t.handle == "!!")
        .map(|t| t.suffix.as_str());
    if style != ScalarStyle::Plain || core_tag == Some("str") {
        return Value::String(text.into_owned());
    }
    resolve_plain(&text).unwrap_or_else(|| Value::String(text.into_owned()))
}

/// The value of a plain scalar that is not a string; `None` for a string.
pub fn resolve_plain(s: &str) -> Option<Value> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    let first = s.as_bytes().first()?;
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return u128::from_str_radix(hex, 16)
            .ok()
            .filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|n| Value::Number(n.to_string()));
    }
    if let Some(oct) = s.strip_prefix("0o") {
        return u128::from_str_radix(oct, 8)
            .ok()
            .filter(|_| oct.bytes().all(|b| matches!(b, b'0'..=b'7')))
            .map(|n| Value::Number(n.to_string()));
    }
    decimal(s).map(Value::Number)
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` as JSON number text.
fn decimal(s: &str) -> Option<String> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'-' => ("-", &s[1..]),
        b'+' => ("", &s[1..]),
        _ => ("", s),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some((&rest[at..at + 1], &rest[at + 1..]))),
        None => (rest, None),
    };
    let (int, frac) = match mantissa.find('.') {
        Some(at) => (&mantissa[..at], Some(&mantissa[at + 1..])),
        None => (mantissa, None),
    };
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if !digits(int)
        || !frac.is_none_or(digits)
        || (int.is_empty() && frac.is_none_or(str::is_empty))
    {
        return None;
    }
    let exp = match exp {
        None => None,
        Some((letter, e)) => {
            let body = e.strip_prefix(['-', '+']).unwrap_or(e);
            if body.is_empty() || !digits(body) {
                return None;
            }
            Some((letter, e))
        }
    };
    let int = int.trim_start_matches('0');
    let mut out = String::with_capacity(s.len() + 2);
    out.push_str(sign);
    out.push_str(if int.is_empty() { "0" } else { int });
    if let Some(f) = frac.filter(|f| !f.is_empty()) {
        out.push('.');
        out.push_str(f);
    }
    if let Some((letter, e)) = exp {
        out.push_str(letter);
        out.push_str(e);
    }
    Some(out)
}

//! Scalars typed as kubectl types them: kubectl turns YAML into JSON with sigs.k8s.io/yaml,
//! which reads YAML with go-yaml v2 (YAML 1.1 scalars, `resolve.go`) and writes JSON with Go's
//! encoding/json. So here, as there:
//!
//! - `null`, `Null`, `NULL`, `~` and nothing are null; `y`, `Y`, `yes`, `Yes`, `YES`, `on`, `On`,
//!   `ON`, `true`, `True`, `TRUE` are true; `n`, `N`, `no`, `No`, `NO`, `off`, `Off`, `OFF`,
//!   `false`, `False`, `FALSE` are false (no other spelling: `yEs` is a string);
//! - integers as Go's `strconv.ParseInt(s, 0, 64)` reads them once every `_` is taken out:
//!   `0x1F` and `0X1F` hexadecimal, `0o17` and `0b101`, a leading `0` octal (`0777` is 511),
//!   a sign, `1_000`; up to 2^64-1 (unsigned, then), written as JSON in decimal;
//! - floats (`1.5`, `.5`, `1e3`, `1.`, `-0.0`) as float64, written as encoding/json writes them
//!   (`1e3` is `1000`, `1.50` is `1.5`, `1e21` is `1e+21`); a float beyond float64 (`1e400`)
//!   is a string, as is `08` and anything else that is not all of a number; `.inf` and `.nan`
//!   are floats JSON cannot hold, so the document is refused, as kubectl refuses it;
//! - no sexagesimal numbers (`1:20` is a string), and timestamps (`2001-12-14`) stay strings;
//! - quoted and block scalars are strings, and so is anything tagged `!!str`, `!` or a tag
//!   outside YAML's own; `!!int`, `!!float`, `!!bool` and `!!null` read a scalar (quoted or not)
//!   as that type or refuse it; `!!binary` is decoded from base64.
//!
//! Mapping keys are typed the same way and then named as sigs.k8s.io/yaml names them in JSON:
//! `yes: 1` is `"true": 1`, `0x10: a` is `"16": a`, a float as Go's `%g` of its float32; a null
//! key and a key beyond int64 are refused. A text that is JSON (its first non-blank character
//! a `{`, as kubectl tells) is sent by kubectl as written: there, numbers keep their digits.

use crate::{ErrorKind, Value};
use saphyr_parser::{ScalarStyle, Tag};
use std::borrow::Cow;

/// A scalar as go-yaml v2 resolves it, before the JSON conversion.
#[derive(Clone, Debug, PartialEq)]
enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
}

/// The tags go-yaml v2 resolves a scalar with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Core {
    Str,
    Bool,
    Int,
    Float,
    Null,
    Timestamp,
}

/// A scalar's tag, as far as typing it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Typing {
    /// No tag: a plain scalar is resolved, any other is a string.
    Untagged,
    /// A tag go-yaml resolves with.
    Core(Core),
    /// `!!binary`: base64, decoded.
    Binary,
    /// `!`, a local tag or one of YAML's that go-yaml does not resolve with: a string.
    Other,
}

fn typing(tag: Option<&Tag>) -> Typing {
    let Some(tag) = tag else {
        return Typing::Untagged;
    };
    let suffix = if tag.handle == "!!" || tag.is_yaml_core_schema() {
        tag.suffix.as_str()
    } else if let Some(s) = tag.suffix.strip_prefix("tag:yaml.org,2002:") {
        if tag.handle.is_empty() {
            s
        } else {
            return Typing::Other;
        }
    } else {
        return Typing::Other;
    };
    match suffix {
        "str" => Typing::Core(Core::Str),
        "bool" => Typing::Core(Core::Bool),
        "int" => Typing::Core(Core::Int),
        "float" => Typing::Core(Core::Float),
        "null" => Typing::Core(Core::Null),
        "timestamp" => Typing::Core(Core::Timestamp),
        "binary" => Typing::Binary,
        _ => Typing::Other,
    }
}

/// How a text's plain scalars are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Numbers {
    /// YAML, converted as kubectl converts it.
    Yaml,
    /// JSON, which kubectl sends as written: a JSON number keeps its digits.
    AsWritten,
}

/// A scalar's value, as kubectl gives it to the API server.
pub(crate) fn resolve(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
    numbers: Numbers,
) -> Result<Value, ErrorKind> {
    if numbers == Numbers::AsWritten && style == ScalarStyle::Plain && tag.is_none() {
        if let Some(n) = json_number(&text) {
            return Ok(Value::Number(n.to_owned()));
        }
    }
    match go_yaml(&text, style, tag)? {
        Resolved::Null => Ok(Value::Null),
        Resolved::Bool(b) => Ok(Value::Bool(b)),
        Resolved::Int(i) => Ok(Value::Number(i.to_string())),
        Resolved::Uint(u) => Ok(Value::Number(u.to_string())),
        Resolved::Float(f) if f.is_finite() => Ok(Value::Number(json_float(f))),
        Resolved::Float(_) => Err(ErrorKind::NotFinite(text.into_owned())),
        Resolved::Str(s) => Ok(Value::String(s)),
    }
}

/// A mapping key's name in JSON, as sigs.k8s.io/yaml gives it.
pub(crate) fn resolve_key(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
) -> Result<String, ErrorKind> {
    if style != ScalarStyle::Plain && tag.is_none() {
        return Ok(text.into_owned());
    }
    match go_yaml(&text, style, tag)? {
        Resolved::Str(s) => Ok(s),
        Resolved::Bool(b) => Ok(b.to_string()),
        Resolved::Int(i) => Ok(i.to_string()),
        Resolved::Float(f) => Ok(key_float(f)),
        Resolved::Null | Resolved::Uint(_) => Err(ErrorKind::KeyNotJson(text.into_owned())),
    }
}

/// The value of an untagged plain scalar that is not a string (as kubectl reads YAML);
/// `None` for a string, and for `.inf` and `.nan`, which JSON cannot hold.
pub fn resolve_plain(s: &str) -> Option<Value> {
    match resolve(Cow::Borrowed(s), ScalarStyle::Plain, None, Numbers::Yaml) {
        Ok(Value::String(_)) | Err(_) => None,
        Ok(v) => Some(v),
    }
}

/// go-yaml v2's `decoder.scalar` and `resolve`, for a target of type `interface{}`.
fn go_yaml(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Resolved, ErrorKind> {
    let tag = match typing(tag) {
        Typing::Untagged if style != ScalarStyle::Plain => return Ok(Resolved::Str(text.into())),
        Typing::Untagged => None,
        Typing::Core(core) => Some(core),
        Typing::Binary => return binary(text),
        Typing::Other => return Ok(Resolved::Str(text.into())),
    };
    let (rtag, out) = if tag == Some(Core::Str) {
        (Core::Str, Resolved::Str(text.into()))
    } else {
        untagged(text)
    };
    match (tag, rtag) {
        (None, _) | (Some(Core::Str), _) => Ok(out),
        (Some(t), r) if t == r => Ok(out),
        (Some(Core::Float), Core::Int) => match out {
            Resolved::Int(i) => Ok(Resolved::Float(i as f64)),
            _ => Err(ErrorKind::Tag(text.into(), "float")),
        },
        (Some(t), _) => Err(ErrorKind::Tag(text.into(), t.name())),
    }
}

impl Core {
    fn name(self) -> &'static str {
        match self {
            Core::Str => "str",
            Core::Bool => "bool",
            Core::Int => "int",
            Core::Float => "float",
            Core::Null => "null",
            Core::Timestamp => "timestamp",
        }
    }
}

/// `resolve("", s)`: the type a plain scalar has, and its value.
fn untagged(s: &str) -> (Core, Resolved) {
    let string = || (Core::Str, Resolved::Str(s.to_owned()));
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return (Core::Null, Resolved::Null),
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return (Core::Bool, Resolved::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return (Core::Bool, Resolved::Bool(false))
        }
        ".nan" | ".NaN" | ".NAN" => return (Core::Float, Resolved::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return (Core::Float, Resolved::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => return (Core::Float, Resolved::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    match s.as_bytes()[0] {
        b'.' => {
            // strconv.ParseFloat on the text as written: underscores only between digits.
            let plain = s.replace('_', "");
            if underscores_ok(s) && is_float(&plain) {
                if let Some(f) = finite_float(&plain) {
                    return (Core::Float, Resolved::Float(f));
                }
            }
            string()
        }
        b'0'..=b'9' | b'+' | b'-' => {
            if is_timestamp(s) {
                return (Core::Timestamp, Resolved::Str(s.to_owned()));
            }
            let plain = s.replace('_', "");
            match parse_int(&plain) {
                Some(Int::Signed(i)) => return (Core::Int, Resolved::Int(i)),
                Some(Int::Unsigned(u)) => return (Core::Int, Resolved::Uint(u)),
                None => {}
            }
            if is_float(&plain) {
                if let Some(f) = finite_float(&plain) {
                    return (Core::Float, Resolved::Float(f));
                }
            }
            string()
        }
        _ => string(),
    }
}

/// Go's `ParseFloat` of a decimal float: `None` where it overflows (Go's range error).
fn finite_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (go-yaml's yamlStyleFloat).
fn is_float(s: &str) -> bool {
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        None => digits(mantissa),
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
    };
    mantissa_ok && exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)))
}

/// Go's `underscoreOK` for a decimal: each `_` between two digits.
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'_'
            || (i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    })
}

/// go-yaml's quick test for a timestamp: four digits and a `-`, then one of its layouts. A
/// timestamp stays the string it is written as (for an `interface{}`), so only `!!timestamp`
/// needs more than this test.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 4 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && timestamp_layout(s)
}

/// `2006-1-2`, `2006-1-2T15:4:5.999999999Z07:00` (or `t`), `2006-1-2 15:4:5.999999999`.
fn timestamp_layout(s: &str) -> bool {
    let num = |t: &str, min: usize, max: usize| {
        (min..=max).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
    };
    let date = |d: &str| {
        let mut p = d.split('-');
        matches!((p.next(), p.next(), p.next(), p.next()), (Some(y), Some(m), Some(dd), None)
            if num(y, 4, 4) && num(m, 1, 2) && num(dd, 1, 2)
                && (1..=12).contains(&m.parse::<u32>().unwrap_or(0))
                && (1..=31).contains(&dd.parse::<u32>().unwrap_or(0)))
    };
    let time = |t: &str| {
        let (hms, frac) = t.split_once('.').unwrap_or((t, "0"));
        let mut p = hms.split(':');
        matches!((p.next(), p.next(), p.next(), p.next()), (Some(h), Some(m), Some(sec), None)
            if num(h, 1, 2) && num(m, 1, 2) && num(sec, 1, 2)
                && h.parse::<u32>().unwrap_or(99) < 24
                && m.parse::<u32>().unwrap_or(99) < 60
                && sec.parse::<u32>().unwrap_or(99) < 60)
            && num(frac, 1, 9)
    };
    if let Some((d, t)) = s.split_once(['T', 't']) {
        let (t, zone) = match t.strip_suffix('Z') {
            Some(t) => (t, true),
            None => match t.rfind(['+', '-']) {
                Some(at) => {
                    let z = &t[at + 1..];
                    let ok = z.len() == 5
                        && z.as_bytes()[2] == b':'
                        && num(&z[..2], 2, 2)
                        && num(&z[3..], 2, 2);
                    (&t[..at], ok)
                }
                None => (t, false),
            },
        };
        return date(d) && zone && time(t);
    }
    match s.split_once(' ') {
        Some((d, t)) => date(d) && time(t),
        None => date(s),
    }
}

enum Int {
    Signed(i64),
    Unsigned(u64),
}

/// Go's `ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)` (no sign) where it is out of range.
fn parse_int(s: &str) -> Option<Int> {
    let (negative, signed, body) = match s.as_bytes().first()? {
        b'-' => (true, true, &s[1..]),
        b'+' => (false, true, &s[1..]),
        _ => (false, false, s),
    };
    let magnitude = parse_uint(body)?;
    if negative {
        if magnitude <= 1u64 << 63 {
            return Some(Int::Signed((magnitude as i64).wrapping_neg()));
        }
        return None;
    }
    match i64::try_from(magnitude) {
        Ok(i) => Some(Int::Signed(i)),
        Err(_) if !signed => Some(Int::Unsigned(magnitude)),
        Err(_) => None,
    }
}

/// Go's `ParseUint(s, 0, 64)` without underscores: `0x`, `0o`, `0b` or a leading `0`.
fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let (radix, digits) = if b[0] == b'0' {
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'x') if b.len() >= 3 => (16, &s[2..]),
            Some(b'o') if b.len() >= 3 => (8, &s[2..]),
            Some(b'b') if b.len() >= 3 => (2, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    if digits.is_empty() {
        return Some(0);
    }
    if !digits.bytes().all(|c| (c as char).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// `!!binary`: standard base64 (line breaks ignored), as a string.
fn binary(text: &str) -> Result<Resolved, ErrorKind> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    // Go's StdEncoding: padding required, other trailing bits let through.
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let clean: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    let bytes = GO_STD.decode(clean).map_err(|_| ErrorKind::Binary)?;
    Ok(Resolved::Str(go_string(&bytes)))
}

/// Bytes as encoding/json writes them: each byte that is not UTF-8 as U+FFFD.
fn go_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push('\u{FFFD}');
        }
    }
    out
}

/// A JSON number as written (kubectl sends a JSON text as it is).
fn json_number(s: &str) -> Option<&str> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let ok = digits(int)
        && (int == "0" || !int.starts_with('0'))
        && frac.is_none_or(digits)
        && exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    ok.then_some(s)
}

/// A finite float64 as encoding/json writes it: the shortest digits that read back the same,
/// as a plain decimal from 1e-6 up to 1e21, else with an exponent (`1e+21`, `1e-7`).
pub(crate) fn json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if e.starts_with('-') => format!("{m}e{e}"),
            Some((m, e)) => format!("{m}e+{e}"),
            None => s,
        }
    } else {
        format!("{f}")
    }
}

/// A float key as sigs.k8s.io/yaml names it: Go's `FormatFloat(f, 'g', -1, 32)`, with
/// `.inf`, `-.inf` and `.nan` for what that writes `+Inf`, `-Inf` and `NaN`.
fn key_float(f: f64) -> String {
    let x = f as f32;
    if x.is_nan() {
        return ".nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    // The shortest digits of the float32, and the exponent of the first one.
    let e = format!("{x:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if x == 0.0 {
        return format!("{sign}0");
    }
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{esign}{:02}", exp.unsigned_abs());
    }
    // %f: the decimal point after exp + 1 digits.
    let point = exp + 1;
    let n = digits.len() as i32;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point >= n {
        format!("{digits}{}", "0".repeat((point - n) as usize))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Result<Value, ErrorKind> {
        resolve(Cow::Borrowed(s), ScalarStyle::Plain, None, Numbers::Yaml)
    }

    fn num(s: &str) -> Value {
        Value::Number(s.to_owned())
    }

    #[test]
    fn yaml_1_1_as_go_yaml_v2() {
        for (text, want) in [
            ("yes", Value::Bool(true)),
            ("Y", Value::Bool(true)),
            ("On", Value::Bool(true)),
            ("n", Value::Bool(false)),
            ("OFF", Value::Bool(false)),
            ("yEs", Value::String("yEs".into())),
            ("t", Value::String("t".into())),
            ("~", Value::Null),
            ("", Value::Null),
            ("0777", num("511")),
            ("0x1F", num("31")),
            ("0X1f", num("31")),
            ("-0x1F", num("-31")),
            ("0o17", num("15")),
            ("0b101", num("5")),
            ("1_000", num("1000")),
            ("08", num("8")),
            ("+5", num("5")),
            ("-0", num("0")),
            ("-0.0", num("-0")),
            ("1e3", num("1000")),
            ("1.50", num("1.5")),
            ("1.", num("1")),
            (".5", num("0.5")),
            ("._5", Value::String("._5".into())),
            (".5_5", num("0.55")),
            ("0.1", num("0.1")),
            ("1e21", num("1e+21")),
            ("1e-7", num("1e-7")),
            ("0.000001", num("0.000001")),
            ("1e400", Value::String("1e400".into())),
            ("1:20", Value::String("1:20".into())),
            ("2001-12-14", Value::String("2001-12-14".into())),
            ("9223372036854775807", num("9223372036854775807")),
            ("-9223372036854775808", num("-9223372036854775808")),
            ("18446744073709551615", num("18446744073709551615")),
            ("18446744073709551616", num("18446744073709552000")),
            ("+18446744073709551615", num("18446744073709552000")),
            (
                "0x10000000000000000",
                Value::String("0x10000000000000000".into()),
            ),
            ("500m", Value::String("500m".into())),
            ("0x", Value::String("0x".into())),
        ] {
            assert_eq!(plain(text), Ok(want), "{text}");
        }
        assert_eq!(plain(".inf"), Err(ErrorKind::NotFinite(".inf".into())));
        assert_eq!(plain("-.Inf"), Err(ErrorKind::NotFinite("-.Inf".into())));
        assert_eq!(plain(".NaN"), Err(ErrorKind::NotFinite(".NaN".into())));
    }

    #[test]
    fn keys_are_named_as_sigs_yaml_names_them() {
        let key = |s: &str| resolve_key(Cow::Borrowed(s), ScalarStyle::Plain, None);
        assert_eq!(key("yes"), Ok("true".into()));
        assert_eq!(key("0x10"), Ok("16".into()));
        assert_eq!(key("1.5"), Ok("1.5".into()));
        assert_eq!(key("1e3"), Ok("1000".into()));
        assert_eq!(key("123456789.0"), Ok("1.2345679e+08".into()));
        assert_eq!(key("0.0001"), Ok("0.0001".into()));
        assert_eq!(key("0.00001"), Ok("1e-05".into()));
        assert_eq!(key(".inf"), Ok(".inf".into()));
        assert_eq!(key("-0.0"), Ok("-0".into()));
        assert!(key("~").is_err());
        assert!(key("18446744073709551615").is_err());
        assert_eq!(
            resolve_key(Cow::Borrowed("yes"), ScalarStyle::SingleQuoted, None),
            Ok("yes".into())
        );
    }

    #[test]
    fn json_floats_as_go_writes_them() {
        assert_eq!(json_float(1e20), "100000000000000000000");
        assert_eq!(json_float(1.2345678901234568e29), "1.2345678901234568e+29");
        assert_eq!(json_float(1.5e-7), "1.5e-7");
        assert_eq!(json_float(1e-10), "1e-10");
        assert_eq!(json_float(0.1), "0.1");
    }
}

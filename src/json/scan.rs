//! Stepping over JSON text byte by byte: where a value ends, an object's members, an array's
//! items, where a string ends. The one scanner of the crate: the mutation's splicing
//! ([`crate::splice`]), the path of a reading error ([`super::read`]) and the settings' view
//! ([`super::view`]) all step over text through it.
//!
//! It steps over text that was read whole before (by serde_json: valid JSON, valid UTF-8),
//! or, for the path of an error, the prefix serde_json read up to it; it checks only what it
//! must to step. Anything it does not find as expected is a [`ScanError`], never a guess.

use std::borrow::Cow;
use std::fmt;

/// A value's bytes in the text: `start` is its first byte, `end` one past its last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The first byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// The text ends or breaks off where the scan expects a value, a member or a bracket: the
/// byte offset where it looked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanError {
    /// The byte offset.
    pub at: usize,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the object breaks off at byte {}", self.at)
    }
}

impl std::error::Error for ScanError {}

/// A [`ScanError`] at `at`.
fn broken<T>(at: usize) -> Result<T, ScanError> {
    Err(ScanError { at })
}

/// The first byte at or after `i` that is not JSON whitespace: where the value at or after
/// `i` starts.
pub fn value_start(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// One past the closing quote of the string that opens at `i`.
pub fn string_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let mut j = i + 1;
    loop {
        // Most of an object's bytes are in strings: this is the scan's inner loop. Eight
        // bytes at a time while none is a quote or a backslash (the bytes of a word tested
        // at once; wasm has 64-bit integers, not always SIMD), then byte by byte.
        while let Some(word) = b.get(j..j + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
            let w = u64::from_le_bytes(word);
            if has_byte(w, b'"') || has_byte(w, b'\\') {
                break;
            }
            j += 8;
        }
        let Some(rest) = b.get(j..) else {
            return broken(i);
        };
        let Some(k) = rest.iter().position(|&c| c == b'"' || c == b'\\') else {
            return broken(i);
        };
        j += k;
        if b.get(j) == Some(&b'"') {
            return Ok(j + 1);
        }
        j += 2;
    }
}

/// Whether any byte of `word` is `byte` (the classic test for a zero byte, on the word
/// with `byte` cleared: exact, no false positives).
fn has_byte(word: u64, byte: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS != 0
}

/// One past the last byte of the value that starts at `start`.
pub fn value_end(b: &[u8], start: usize) -> Result<usize, ScanError> {
    match b.get(start) {
        Some(b'"') => string_end(b, start),
        Some(b'{' | b'[') => close(b, start, 0),
        Some(_) => {
            let mut j = start;
            while let Some(c) = b.get(j) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            Ok(j)
        }
        None => broken(start),
    }
}

/// One past the bracket that closes, at `depth` 0, the object or array the scan is in at
/// `from`, `depth` brackets deep (0 where `from` is the opening bracket itself); `from` is not
/// inside a string.
pub fn close(b: &[u8], from: usize, mut depth: usize) -> Result<usize, ScanError> {
    // Depth counted over brackets of both kinds: the text is valid JSON, so they nest
    // properly.
    let mut j = from;
    loop {
        let Some(rest) = b.get(j..) else {
            return broken(from);
        };
        let Some(k) = rest
            .iter()
            .position(|&c| matches!(c, b'"' | b'{' | b'[' | b'}' | b']'))
        else {
            return broken(from);
        };
        j += k;
        match b.get(j) {
            Some(b'"') => {
                j = string_end(b, j)?;
                continue;
            }
            Some(b'{' | b'[') => depth += 1,
            _ => {
                let Some(outer) = depth.checked_sub(1) else {
                    return broken(j);
                };
                depth = outer;
                if depth == 0 {
                    return Ok(j + 1);
                }
            }
        }
        j += 1;
    }
}

/// The `{` of the object that holds the byte before `inside` directly (one level deep, outside
/// any string), read backwards. JSON can be read so: outside strings, a `"` read backwards
/// closes a string that opened at the nearest `"` before it without an odd run of
/// backslashes in front (inside a string every `"` is escaped).
pub fn open_before(b: &[u8], inside: usize) -> Result<usize, ScanError> {
    let mut depth = 0usize;
    let mut j = inside.min(b.len());
    while j > 0 {
        j -= 1;
        match b.get(j) {
            Some(b'"') => j = string_start_before(b, j)?,
            Some(b'}' | b']') => depth += 1,
            Some(b'{') if depth == 0 => return Ok(j),
            Some(b'[') if depth == 0 => return broken(j),
            Some(b'{' | b'[') => depth -= 1,
            _ => {}
        }
    }
    broken(inside)
}

/// Where the string whose closing `"` is at `end` opens.
fn string_start_before(b: &[u8], end: usize) -> Result<usize, ScanError> {
    let mut k = end;
    loop {
        let Some(quote) = b
            .get(..k)
            .and_then(|before| before.iter().rposition(|&c| c == b'"'))
        else {
            return broken(end);
        };
        k = quote;
        let slashes = b.get(..k).map_or(0, |before| {
            before.iter().rev().take_while(|&&c| c == b'\\').count()
        });
        if slashes % 2 == 0 {
            return Ok(k);
        }
    }
}

/// The text of the JSON string at `span` (quotes included), unescaped: borrowed where it has
/// no escape, decoded as serde_json decodes it where it has one (`"sp\u0065c"` is `spec`).
pub fn unescaped(text: &str, span: Span) -> Cow<'_, str> {
    let raw = text.get(span.start..span.end).unwrap_or_default();
    match raw.get(1..raw.len().saturating_sub(1)) {
        Some(inner) if !inner.contains('\\') => Cow::Borrowed(inner),
        _ => Cow::Owned(serde_json::from_str::<String>(raw).unwrap_or_default()),
    }
}

/// Whether the JSON string at `span` (quotes included) is `key`, unescaped as the typed
/// reader unescapes it.
pub fn key_is(text: &str, span: Span, key: &str) -> bool {
    unescaped(text, span) == key
}

/// The members of an object, one at a time: each key's span (quotes included) and where its
/// value starts. A value is stepped over only when the next member is asked for, so finding
/// a member does not read the value found.
pub struct Members<'t> {
    b: &'t [u8],
    /// Where to go on from: a key, or the `}` of an empty object.
    at: usize,
    /// The value of the member given last, still to step over.
    pending: Option<usize>,
    done: bool,
}

impl Members<'_> {
    fn step(&mut self) -> Result<Option<(Span, usize)>, ScanError> {
        let b = self.b;
        let mut i = self.at;
        if let Some(value) = self.pending.take() {
            i = value_start(b, value_end(b, value)?);
            match b.get(i) {
                Some(b',') => i = value_start(b, i + 1),
                Some(b'}') => return Ok(None),
                _ => return broken(i),
            }
        }
        if b.get(i) != Some(&b'"') {
            return broken(i);
        }
        let key = Span {
            start: i,
            end: string_end(b, i)?,
        };
        i = value_start(b, key.end);
        if b.get(i) != Some(&b':') {
            return broken(i);
        }
        let value = value_start(b, i + 1);
        self.pending = Some(value);
        Ok(Some((key, value)))
    }
}

impl Iterator for Members<'_> {
    type Item = Result<(Span, usize), ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.step().transpose();
        self.done = !matches!(item, Some(Ok(_)));
        item
    }
}

/// The members of the object whose `{` is at `at`, in order: each key's span (quotes
/// included) and where its value starts.
pub fn members(b: &[u8], at: usize) -> Result<Members<'_>, ScanError> {
    if b.get(at) != Some(&b'{') {
        return broken(at);
    }
    let first = value_start(b, at + 1);
    Ok(Members {
        b,
        at: first,
        pending: None,
        done: b.get(first) == Some(&b'}'),
    })
}

/// Where member `key`'s value starts in the object whose `{` is at `at`.
pub fn member(text: &str, at: usize, key: &str) -> Result<Option<usize>, ScanError> {
    for m in members(text.as_bytes(), at)? {
        let (k, value) = m?;
        if key_is(text, k, key) {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// Where each item starts in the array whose `[` is at `at`.
pub fn items(b: &[u8], at: usize) -> Result<Vec<usize>, ScanError> {
    items_to(b, at, usize::MAX)
}

/// Where the items up to index `last` start in the array whose `[` is at `at` (all of them
/// where it has fewer): the items after `last` are not read, nor item `last` itself.
pub fn items_to(b: &[u8], at: usize, last: usize) -> Result<Vec<usize>, ScanError> {
    if b.get(at) != Some(&b'[') {
        return broken(at);
    }
    let mut out = Vec::new();
    let mut i = value_start(b, at + 1);
    if b.get(i) == Some(&b']') {
        return Ok(out);
    }
    loop {
        out.push(i);
        if out.len() > last {
            return Ok(out);
        }
        i = value_start(b, value_end(b, i)?);
        match b.get(i) {
            Some(b',') => i = value_start(b, i + 1),
            Some(b']') => return Ok(out),
            _ => return broken(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_to_the_object_it_is_in() {
        let text = r#"[{"a": "x\"{", "b": {"c": "]}"}, "d": ["{", 1], "e": "\\", "f": "\\\"}", "name": "web", "g": 1}]"#;
        let b = text.as_bytes();
        let after_name = text.find(r#""web""#).map_or(0, |i| i + 5);
        assert_eq!(open_before(b, after_name), Ok(1));
        // From inside a nested object: its own brace.
        let c = text.find(r#""c""#).unwrap_or(0);
        assert_eq!(
            open_before(b, c),
            text.find(r#"{"c""#).ok_or(ScanError { at: 0 })
        );
        // In an array, not an object.
        assert_eq!(open_before(b, 1), Err(ScanError { at: 0 }));
        assert_eq!(open_before(br#""x"#, 2), Err(ScanError { at: 0 }));
    }

    #[test]
    fn steps_over_every_kind_of_value() {
        let text = r#" {"a": "x\"}", "b" : [1, {"c": "]"}], "sp\u0065c": null, "d": -1.5e3 } "#;
        let b = text.as_bytes();
        let o = value_start(b, 0);
        assert_eq!(value_end(b, o).ok(), Some(text.len() - 1));
        let get = |k: &str| {
            member(text, o, k)
                .ok()
                .flatten()
                .and_then(|v| Some(&text[v..value_end(b, v).ok()?]))
        };
        assert_eq!(get("a"), Some(r#""x\"}""#));
        assert_eq!(get("b"), Some(r#"[1, {"c": "]"}]"#));
        assert_eq!(get("spec"), Some("null"));
        assert_eq!(get("d"), Some("-1.5e3"));
        assert_eq!(get("e"), None);
        let list = member(text, o, "b").ok().flatten().unwrap_or(o);
        let starts = items(b, list).unwrap_or_default();
        assert_eq!(
            items_to(b, list, 0).ok(),
            starts.get(..1).map(<[usize]>::to_vec)
        );
        let list: Vec<&str> = starts
            .iter()
            .map(|&i| &text[i..value_end(b, i).unwrap_or(i)])
            .collect();
        assert_eq!(list, ["1", r#"{"c": "]"}"#]);
        assert_eq!(value_end(br#"{"a": [1, 2"#, 0), Err(ScanError { at: 0 }));
        assert_eq!(
            member(r#"{"a": 1 "b": 2}"#, 0, "b"),
            Err(ScanError { at: 8 })
        );
    }

    #[test]
    fn strings_of_every_length_end_at_their_quote() {
        for n in 0..40 {
            for (pad, tail) in [("a", ""), ("é", ""), ("a", "\\\"x"), ("a", "\\\\")] {
                let text = format!("\"{}{tail}\" ,", pad.repeat(n));
                assert_eq!(string_end(text.as_bytes(), 0), Ok(text.len() - 2), "{text}");
            }
        }
        assert!(has_byte(u64::from_le_bytes(*b"abcdefg\""), b'"'));
        assert!(!has_byte(u64::from_le_bytes(*b"\x21\x23abcdef"), b'"'));
        assert_eq!(string_end(b"\"abcdefghijk", 0), Err(ScanError { at: 0 }));
    }

    #[test]
    fn strings_are_read_unescaped() {
        let text = r#"["a", "sp\u0065c", "\"q\""]"#;
        let spans: Vec<Span> = items(text.as_bytes(), 0)
            .unwrap_or_default()
            .into_iter()
            .map(|start| Span {
                start,
                end: string_end(text.as_bytes(), start).unwrap_or(start),
            })
            .collect();
        let read: Vec<Cow<'_, str>> = spans.iter().map(|s| unescaped(text, *s)).collect();
        assert_eq!(read, ["a", "spec", "\"q\""]);
        assert!(matches!(read[0], Cow::Borrowed(_)));
        assert!(key_is(text, spans[1], "spec"));
    }
}

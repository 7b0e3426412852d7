//! Some top-level members of a JSON object's text, copied as they are into a smaller object.
//!
//! A slot's value is SQL over the body (`json_extract(?, '$.status')`), and SQLite parses the
//! whole text it is given for it. Given only the members the slots read, it gives the same values
//! from a few dozen bytes: an audit event's two slots come from about 80 bytes, not 2 KB.
//!
//! The texts are the bodies complyd writes (serialized maps). The walk stops once it has every
//! named member: SQLite also reads the first of two members of one name.

use memchr::{memchr2, memchr3};

/// `{"a":…,"b":…}` with the members of `text` named in `names`, each value's text as it stands
/// (absent members are left out: absent or not, they read as null). `None` when the walk cannot
/// take `text`: not an object, a key with an escape, or malformed where it walked. The caller
/// then gives SQL the whole text.
pub fn picked(text: &str, names: &[&str]) -> Option<String> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(bytes, at + 1);
    let mut out = String::with_capacity(96);
    out.push('{');
    let mut found: Vec<&str> = Vec::with_capacity(names.len());
    if bytes.get(at) == Some(&b'}') {
        return finished(bytes, at, out);
    }
    while found.len() < names.len() {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_start = at;
        let key_end = string_end(bytes, at)?;
        let key = &text[key_start + 1..key_end - 1];
        if key.contains('\\') {
            return None;
        }
        at = skip_space(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let value_start = skip_space(bytes, at + 1);
        let value_end = value_end(bytes, value_start)?;
        if names.contains(&key) && !found.contains(&key) {
            found.push(key);
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&text[key_start..key_end]);
            out.push(':');
            out.push_str(&text[value_start..value_end]);
        }
        at = skip_space(bytes, value_end);
        match bytes.get(at) {
            Some(b',') => at = skip_space(bytes, at + 1),
            Some(b'}') => return finished(bytes, at, out),
            _ => return None,
        }
    }
    out.push('}');
    Some(out)
}

/// The object closed at `close`: only space may follow it.
fn finished(bytes: &[u8], close: usize, mut out: String) -> Option<String> {
    if skip_space(bytes, close + 1) != bytes.len() {
        return None;
    }
    out.push('}');
    Some(out)
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Just past the string opening at `start` (its closing quote included).
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    loop {
        at += memchr2(b'"', b'\\', bytes.get(at..)?)?;
        if bytes[at] == b'"' {
            return Some(at + 1);
        }
        at += 2;
    }
}

/// Just past the value starting at `start`. An array is walked by its own brackets and an object
/// by its braces (in JSON each kind balances on its own), strings skipped whole: one pass
/// however deep the value nests.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    let (open, close) = match bytes.get(start)? {
        b'"' => return string_end(bytes, start),
        b'{' => (b'{', b'}'),
        b'[' => (b'[', b']'),
        _ => {
            let length = bytes[start..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(bytes.len() - start);
            return (length > 0).then_some(start + length);
        }
    };
    let mut depth = 0usize;
    let mut at = start;
    loop {
        at += memchr3(b'"', open, close, bytes.get(at..)?)?;
        match bytes[at] {
            b'"' => {
                at = string_end(bytes, at)?;
                continue;
            }
            b if b == open => depth += 1,
            _ => {
                depth -= 1;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
        }
        at += 1;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::picked;

    #[test]
    fn named_members_are_copied_as_they_stand() {
        let text = r#"{"id":"a","status":"nonCompliant","nested":{"status":"x","list":[1,{"b":"}]"}]},"when":"2026-01-01T00:00:00Z","n":-1.5e3,"t":true}"#;
        assert_eq!(
            picked(text, &["status", "when", "n"]).unwrap(),
            r#"{"status":"nonCompliant","when":"2026-01-01T00:00:00Z","n":-1.5e3}"#
        );
        // A nested member of the same name is not the top-level one.
        assert_eq!(picked(text, &["list"]).unwrap(), "{}");
        assert_eq!(
            picked(text, &["nested", "t"]).unwrap(),
            r#"{"nested":{"status":"x","list":[1,{"b":"}]"}]},"t":true}"#
        );
    }

    #[test]
    fn strings_with_escapes_and_space_are_walked_whole() {
        let text = " { \"a\" : \"q\\\"}\\\\\" , \"b\" : [ \"]\" , [ ] ] , \"c\" : null } ";
        assert_eq!(picked(text, &["c"]).unwrap(), r#"{"c":null}"#);
        assert_eq!(picked(text, &["a"]).unwrap(), r#"{"a":"q\"}\\"}"#);
        assert_eq!(picked("{}", &["a"]).unwrap(), "{}");
    }

    #[test]
    fn the_first_of_two_members_of_one_name_is_read_as_sqlite_reads_it() {
        assert_eq!(picked(r#"{"a":1,"a":2}"#, &["a"]).unwrap(), r#"{"a":1}"#);
    }

    #[test]
    fn what_it_cannot_take_is_refused() {
        for text in [
            "",
            "[]",
            r#"{"\u0061":1}"#,
            r#"{"a":1"#,
            r#"{"a":"open}"#,
            r#"{"a":{"b":1}"#,
            r#"{"a":1}x"#,
            r#"{"a":[1,"]"}"#,
            r#"{"a":}"#,
            r#"{"a" 1}"#,
            r#"{"b":1,}"#,
            r#"{"b":"\"#,
        ] {
            // Walked whole: the named member is not there to stop the walk early.
            assert_eq!(picked(text, &["z"]), None, "{text}");
        }
        // Found, the walk ends: what follows is not read (the texts are complyd's own).
        assert_eq!(picked(r#"{"a":1,"b":[}"#, &["a"]).unwrap(), r#"{"a":1}"#);
    }

    #[test]
    fn deep_nesting_is_one_pass() {
        let deep = format!(
            r#"{{"a":{}1{},"b":2}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(picked(&deep, &["b"]).unwrap(), r#"{"b":2}"#);
    }
}

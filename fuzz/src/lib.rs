//! What the fuzz targets share: a way for a short input to stand for a long one.

/// The most times `expand` repeats the middle part.
pub const MAX_REPEAT: usize = 5_000;
/// The most bytes `expand` produces.
pub const MAX_EXPANDED: usize = 256 * 1024;

/// Reads `input` as a template: two bytes of count (little-endian), then up to three parts
/// separated by NUL bytes: `body`, `body NUL tail` or `head NUL body NUL tail`. Returns
/// `head + body × count + tail`, with count at most `MAX_REPEAT` and the whole at most
/// `MAX_EXPANDED` bytes. A chain of thousands of terms, the input that overflows a recursive walk,
/// is then a few dozen bytes for the fuzzer to find and mutate.
pub fn expand(input: &[u8]) -> Vec<u8> {
    let (count, template) = match input {
        [low, high, rest @ ..] => (usize::from(u16::from_le_bytes([*low, *high])), rest),
        _ => (0, input),
    };
    let parts: Vec<&[u8]> = template.splitn(3, |b| *b == 0).collect();
    let (head, body, tail): (&[u8], &[u8], &[u8]) = match parts.as_slice() {
        [body] => (&[], body, &[]),
        [body, tail] => (&[], body, tail),
        [head, body, tail, ..] => (head, body, tail),
        [] => (&[], &[], &[]),
    };
    let room = MAX_EXPANDED.saturating_sub(head.len() + tail.len());
    let count = count
        .min(MAX_REPEAT)
        .min(room.checked_div(body.len()).unwrap_or(0));
    let mut out = Vec::with_capacity(head.len() + body.len() * count + tail.len());
    out.extend_from_slice(head);
    for _ in 0..count {
        out.extend_from_slice(body);
    }
    out.extend_from_slice(tail);
    out
}

/// A target's input: the selector byte, then the text, read as an `expand` template when the
/// selector has the bit `repeat`. `None` when there is no selector or the text is not UTF-8.
pub fn selected_text(data: &[u8], repeat: u8) -> Option<(u8, String)> {
    let (&selector, rest) = data.split_first()?;
    let bytes = if selector & repeat != 0 {
        expand(rest)
    } else {
        rest.to_vec()
    };
    String::from_utf8(bytes).ok().map(|text| (selector, text))
}

//! `tracestate` by W3C Trace Context Level 2: list members joined across header fields, each `key=value` checked
//! against the grammar, duplicate keys rejected (an invalid list is discarded whole, never half-trusted), at most
//! 32 members kept, and the result cut to 512 characters by dropping whole members: those over 128 characters
//! first, then from the right.

/// Members kept at most.
pub(crate) const MAX_MEMBERS: usize = 32;
/// Characters we propagate (the spec's minimum is 512).
pub(crate) const MAX_LEN: usize = 512;
/// Members longer than this are the first to go when cutting.
const LONG_MEMBER: usize = 128;

fn key_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'*' | b'/' | b'@')
}

fn valid_key(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|&c| key_char(c))
        && k.matches('@').count() <= 1
        && !k.ends_with('@')
}

fn valid_value(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b.iter().all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
        && b[b.len() - 1] != b' '
}

/// Validates and normalises the joined header fields; `None` when the list is invalid or empty.
pub(crate) fn sanitize<'a>(fields: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut members: Vec<(&str, &str)> = Vec::new();
    for field in fields {
        for raw in field.split(',') {
            let member = raw.trim_matches(|c| c == ' ' || c == '\t');
            if member.is_empty() {
                continue;
            }
            let (k, v) = member.split_once('=')?;
            if !valid_key(k) || !valid_value(v) || members.iter().any(|(seen, _)| *seen == k) {
                return None;
            }
            members.push((k, v));
        }
    }
    members.truncate(MAX_MEMBERS);
    let len =
        |m: &[(&str, &str)]| m.iter().map(|(k, v)| k.len() + 1 + v.len()).sum::<usize>() + m.len().saturating_sub(1);
    while len(&members) > MAX_LEN {
        match members.iter().rposition(|(k, v)| k.len() + 1 + v.len() > LONG_MEMBER) {
            Some(i) => {
                members.remove(i);
            }
            None => {
                members.pop();
            }
        }
    }
    if members.is_empty() {
        return None;
    }
    Some(members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
}

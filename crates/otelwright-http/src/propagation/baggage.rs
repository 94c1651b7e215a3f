//! `baggage` by W3C Baggage: members joined across header fields; a member that breaks the grammar is dropped on
//! its own (the rest is kept); at most 64 members and 8192 bytes are propagated, dropping whole members from the
//! right, never part of one.

/// Members propagated at most.
pub(crate) const MAX_MEMBERS: usize = 64;
/// Bytes propagated at most (members plus separators).
pub(crate) const MAX_BYTES: usize = 8192;

fn token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// `baggage-octet`: printable ASCII except space, `"`, `,`, `;`, `\`; `%` only as a valid escape.
fn valid_value(v: &str) -> bool {
    let b = v.as_bytes();
    b.iter().enumerate().all(|(i, &c)| match c {
        b'%' => b.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit),
        0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e => true,
        _ => false,
    })
}

fn valid_member(m: &str) -> bool {
    let mut parts = m.split(';');
    let Some((k, v)) = parts.next().and_then(|kv| kv.split_once('=')) else {
        return false;
    };
    let k = k.trim_matches([' ', '\t']);
    let v = v.trim_matches([' ', '\t']);
    !k.is_empty() && k.bytes().all(token_char) && valid_value(v)
}

/// Keeps the valid members within the limits; `None` when none is left.
pub(crate) fn sanitize<'a>(fields: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut out = String::new();
    let mut count = 0;
    for field in fields {
        for raw in field.split(',') {
            let member = raw.trim_matches([' ', '\t']);
            if member.is_empty() || !valid_member(member) {
                continue;
            }
            let extra = member.len() + usize::from(count > 0);
            if count == MAX_MEMBERS || out.len() + extra > MAX_BYTES {
                return (!out.is_empty()).then_some(out);
            }
            if count > 0 {
                out.push(',');
            }
            out.push_str(member);
            count += 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

//! `tracestate` by W3C Trace Context Level 2 (`spec/20-http_request_header_format.md`, "Tracestate Header", of
//! w3c/trace-context): list members joined across header fields, each `key=value` checked against the grammar, a
//! list of more than 32 members or with one invalid member discarded whole, duplicate keys reduced to their
//! left-most entry, and the result cut to 512 characters by dropping whole members: those over 128 characters
//! first, then from the right. 512 characters is also the most we propagate (the spec's "at least" minimum,
//! documented here as "tracestate Limits" asks).

/// "list": "There can be a maximum of 32 `list-member`s in a `list`."
pub(crate) const MAX_MEMBERS: usize = 32;
/// "tracestate Limits": "Vendors SHOULD propagate at least 512 characters of a combined header." We propagate
/// exactly that much: "the maximum size of the propagated `tracestate` header SHOULD be documented".
pub(crate) const MAX_LEN: usize = 512;
/// "tracestate Limits": "Entries larger than `128` characters long SHOULD be removed first."
const LONG_MEMBER: usize = 128;
/// "Key": "contain up to 256 characters"; "Value": "up to 256 printable ASCII characters".
const MAX_KEY: usize = 256;
const MAX_VALUE: usize = 256;

/// One `key=value` list member, borrowed from the header it came from.
pub(crate) type Member<'a> = (&'a str, &'a str);

/// `keychar = lcalpha / DIGIT / "_" / "-"/ "*" / "/" / "@"`
fn key_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'*' | b'/' | b'@')
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`: "A `key` MUST begin with a lowercase letter or a digit and contain
/// up to 256 characters including lowercase letters (`a`-`z`), digits (`0`-`9`), underscores (`_`), dashes (`-`),
/// asterisks (`*`), forward slashes (`/`), and at signs (`@`)." The current text puts no limit on where or how
/// often `@` appears (`foo@`, `foo@@bar` and a 256-character `tenant@vendor` are keys).
pub(crate) fn valid_key(k: &str) -> bool {
    let b = k.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.len() <= MAX_KEY
        && b.iter().all(|&c| key_char(c))
}

/// `value = 0*255(chr) nblk-chr`, `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`, `chr = %x20 / nblk-chr`: "up to 256
/// printable ASCII characters (i.e., the range 0x20 to 0x7E) except comma (,) and (=). The string must end with a
/// character which is not a space (0x20)." Leading spaces are part of the value ("All leading spaces MUST be
/// preserved as part of the value"), and are kept.
pub(crate) fn valid_value(v: &str) -> bool {
    let b = v.as_bytes();
    let chr = |c: &u8| (0x20..=0x7e).contains(c) && *c != b',' && *c != b'=';
    matches!(b.last(), Some(&c) if c != b' ' && chr(&c)) && b.len() <= MAX_VALUE && b.iter().all(chr)
}

/// Validates the header fields, in order; `None` when the list is invalid or holds no member.
///
/// "tracestate Header Field Values": "When receiving multiple `tracestate` header fields, they MUST be combined
/// into a single header according to RFC9110", that is joined with commas in the order received.
pub(crate) fn parse<'a>(fields: impl Iterator<Item = &'a str>) -> Option<Vec<Member<'a>>> {
    let mut members: Vec<Member<'a>> = Vec::new();
    let mut received = 0;
    for field in fields {
        for raw in field.split(',') {
            // "Spaces and horizontal tabs surrounding `list-member`s are ignored." The trailing ones are also the
            // value's: "All trailing spaces are considered to be optional whitespace characters not part of the
            // value. Optional trailing whitespace MAY be excluded when propagating the header."
            let member = raw.trim_matches([' ', '\t']);
            // "Empty and whitespace-only list members are allowed." They are no `list-member` ("A `list-member`
            // contains a key/value pair"), so they neither count nor travel on.
            if member.is_empty() {
                continue;
            }
            // "There can be a maximum of 32 `list-member`s in a `list`." (`list = list-member 0*31( OWS "," OWS
            // list-member )`.) A 33rd makes the received list invalid, and 30-processing-model.md, "A traceparent
            // is Received" 3: "If the `tracestate` header cannot be parsed the vendor MAY discard the entire
            // header." Counted as received, before duplicates are reduced.
            received += 1;
            if received > MAX_MEMBERS {
                return None;
            }
            // "A `list-member` is a key/value pair separated by an equals sign (`=`)."; an invalid member makes the
            // list unparsable, and the whole header goes (the same MAY). Nothing is half-trusted.
            let (k, v) = member.split_once('=')?;
            if !valid_key(k) || !valid_value(v) {
                return None;
            }
            // "Mutating the tracestate Field", "Delete a key/value pair": "vendors MAY also discard duplicate keys
            // that were not generated by them." The list is kept; of a repeated key only the left-most entry stays,
            // since "Combined Header Value" has the entry "rewritten to only include the most recent position" and
            // the most recent is the left-most ("Modified keys MUST be moved to the beginning (left) of the list").
            if members.iter().any(|(seen, _)| *seen == k) {
                continue;
            }
            members.push((k, v));
        }
    }
    truncate(&mut members);
    (!members.is_empty()).then_some(members)
}

/// The combined length: "This length includes commas required to separate list items" (we write no OWS).
fn len(members: &[Member<'_>]) -> usize {
    members.iter().map(|(k, v)| k.len() + 1 + v.len()).sum::<usize>() + members.len().saturating_sub(1)
}

/// Cuts to [`MAX_MEMBERS`] and [`MAX_LEN`].
///
/// "list": "If adding an entry would cause the `tracestate` list to contain more than 32 `list-members` the
/// right-most `list-member` should be removed from the list." "tracestate Limits": "In a situation where
/// `tracestate` is truncated due to the total size of the header value, the vendor MUST truncate whole entries.
/// Entries larger than `128` characters long SHOULD be removed first. Then entries SHOULD be removed starting from
/// the end of `tracestate`." Only as many entries go as the limit needs ("Vendors SHOULD NOT delete keys that were
/// not generated by them"); among the long ones, the right-most goes first.
pub(crate) fn truncate(members: &mut Vec<Member<'_>>) {
    members.truncate(MAX_MEMBERS);
    while len(members) > MAX_LEN {
        match members.iter().rposition(|(k, v)| k.len() + 1 + v.len() > LONG_MEMBER) {
            Some(i) => {
                members.remove(i);
            }
            None => {
                members.pop();
            }
        }
    }
}

/// The header value: members joined by `,`. "The caller SHOULD generate the optional whitespace as a single
/// space; otherwise, a caller SHOULD NOT generate optional whitespace." We generate none.
pub(crate) fn join(members: &[Member<'_>]) -> String {
    let mut out = String::with_capacity(len(members));
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Splits a list this module produced (already valid) back into members.
pub(crate) fn members(list: &str) -> impl Iterator<Item = Member<'_>> {
    list.split(',').filter_map(|m| m.split_once('='))
}

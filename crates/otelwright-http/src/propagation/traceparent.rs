//! `traceparent` by W3C Trace Context Level 2 (`spec/20-http_request_header_format.md` of w3c/trace-context):
//! exact field lengths, lowercase hex, version handling (`00` exactly 55 characters, `ff` invalid, higher versions
//! parsed by their first three fields and re-emitted as `00`), all-zero ids rejected, and only the flags this
//! version defines (sampled `0x01`, random `0x02`) kept.

/// A valid parent, ready to be re-emitted as a version-00 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TraceParent {
    pub(crate) trace_id: [u8; 16],
    pub(crate) parent_id: [u8; 8],
    pub(crate) flags: u8,
}

/// "Sampled flag": "the least significant bit (right-most), denotes that the caller may have recorded trace data".
pub(crate) const SAMPLED: u8 = 0x01;
/// "Random Trace ID Flag": "The second least significant bit of the trace-flags field denotes the
/// `random-trace-id` flag."
pub(crate) const RANDOM: u8 = 0x02;
/// "Other Flags": "The behavior of other flags, such as (`00000100`) is not defined and is reserved for future use.
/// Vendors MUST set those to zero."
const KNOWN_FLAGS: u8 = SAMPLED | RANDOM;

/// `HEXDIGLC = DIGIT / "a" / "b" / "c" / "d" / "e" / "f" ; lowercase hex character`
fn lower_hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

fn hex_bytes<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = lower_hex(pair[0])? << 4 | lower_hex(pair[1])?;
    }
    Some(out)
}

/// Parses one `traceparent` value (optional whitespace already removed); `None` means "ignore it and start a new
/// trace".
pub(crate) fn parse(value: &str) -> Option<TraceParent> {
    let b = value.as_bytes();
    // "Versioning of traceparent": "If the size of the header is shorter than 55 characters, the vendor should not
    // parse the header and should restart the trace." Version 00 is exactly that long (2+1+32+1+16+1+2).
    if b.len() < 55 {
        return None;
    }
    // "When the version prefix cannot be parsed (it's not 2 hex characters followed by a dash (`-`)), the
    // implementation should restart the trace." (`version = 2HEXDIGLC`.)
    let version = hex_bytes::<1>(&b[0..2])?[0];
    if b[2] != b'-' {
        return None;
    }
    // "version": "Version 255 (`"ff"`) is invalid."
    if version == 0xff {
        return None;
    }
    // "version-format" for version 00 is exactly `trace-id "-" parent-id "-" trace-flags`: nothing may follow.
    if version == 0 && b.len() != 55 {
        return None;
    }
    // A higher version: "Parse the `sampled` bit of `flags` (2 characters from the third dash). Vendors MUST check
    // that the 2 characters are either at the end of the string or followed by a dash."
    if version > 0 && b.len() > 55 && b[55] != b'-' {
        return None;
    }
    // "Parse `trace-id` ... Vendors MUST check that the 32 characters are hex, and that they are followed by a dash"
    // and "Parse `parent-id` ... Vendors MUST check that the 16 characters are hex and followed by a dash."
    if b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let trace_id = hex_bytes::<16>(&b[3..35])?;
    let parent_id = hex_bytes::<8>(&b[36..52])?;
    let flags = hex_bytes::<1>(&b[53..55])?[0];
    // "trace-id": "If the `trace-id` value is invalid (for example if it contains non-allowed characters or all
    // zeros), vendors MUST ignore the entire header." "parent-id": "All bytes as zero (`0000000000000000`) is
    // considered an invalid value." and "Vendors MUST ignore the `traceparent` when the `parent-id` is invalid".
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    // 30-processing-model.md, "A traceparent is Received" 2.2: "The vendor will only parse the `trace-flags` values
    // supported by this version of this specification and ignore all other values. ... Vendors will set all
    // unparsed / unknown `trace-flags` to 0 on outgoing requests." For version 00, "Other Flags" says the same.
    Some(TraceParent { trace_id, parent_id, flags: flags & KNOWN_FLAGS })
}

impl TraceParent {
    /// The canonical version-00 form: "Vendors MUST use these fields to construct the new `traceparent` field
    /// according to the highest version of the specification known to the implementation (in this specification
    /// it is `00`)."
    pub(crate) fn header(&self) -> String {
        // Written byte by byte: `format!` costs thousands of instructions here, on every request.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
            for b in bytes {
                out.extend([HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
        let mut out = Vec::with_capacity(55);
        out.extend_from_slice(b"00-");
        hex(&mut out, &self.trace_id);
        out.push(b'-');
        hex(&mut out, &self.parent_id);
        out.push(b'-');
        hex(&mut out, &[self.flags]);
        // Only ASCII hex digits and dashes were written.
        String::from_utf8(out).unwrap_or_default()
    }
}

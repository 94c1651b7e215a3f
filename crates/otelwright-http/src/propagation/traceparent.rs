//! `traceparent` by W3C Trace Context Level 2: exact field lengths, lowercase hex, version handling (`00` exactly
//! 55 characters, `ff` invalid, higher versions parsed by their first three fields and re-emitted as `00`), all-zero
//! ids rejected, and only the flags we understand (sampled `0x01`, random `0x02`) kept.

/// A valid parent, ready to be re-emitted as a version-00 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TraceParent {
    pub(crate) trace_id: [u8; 16],
    pub(crate) parent_id: [u8; 8],
    pub(crate) flags: u8,
}

/// Flags this version of the spec defines; others are re-emitted as 0.
const KNOWN_FLAGS: u8 = 0x01 | 0x02;

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

/// Parses one `traceparent` value; `None` means "ignore it and start a new trace".
pub(crate) fn parse(value: &str) -> Option<TraceParent> {
    let b = value.as_bytes();
    if b.len() < 55 {
        return None;
    }
    let version = hex_bytes::<1>(&b[0..2])?[0];
    if version == 0xff {
        return None;
    }
    if version == 0 && b.len() != 55 {
        return None;
    }
    // A higher version may append fields, but only after a dash.
    if version > 0 && b.len() > 55 && b[55] != b'-' {
        return None;
    }
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let trace_id = hex_bytes::<16>(&b[3..35])?;
    let parent_id = hex_bytes::<8>(&b[36..52])?;
    let flags = hex_bytes::<1>(&b[53..55])?[0];
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some(TraceParent { trace_id, parent_id, flags: flags & KNOWN_FLAGS })
}

impl TraceParent {
    /// The canonical version-00 form.
    pub(crate) fn header(&self) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(55);
        s.push_str("00-");
        for b in self.trace_id {
            let _ = write!(s, "{b:02x}");
        }
        s.push('-');
        for b in self.parent_id {
            let _ = write!(s, "{b:02x}");
        }
        let _ = write!(s, "-{:02x}", self.flags);
        s
    }
}

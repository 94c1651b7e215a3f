//! Protobuf wire format, written straight into a `Vec<u8>`: varints, field keys, scalar fields and nested
//! length-delimited messages. Only what the OTLP trace and log messages need.
//!
//! Encoding rules are those of <https://protobuf.dev/programming-guides/encoding/>: a field is a key
//! `(field_number << 3) | wire_type` followed by its value; varints are little-endian base-128 (sections "Base
//! 128 Varints" and "Message Structure"); `int64` is the two's complement value as a 64-bit varint, so negative
//! numbers take 10 bytes (section "Signed Integers"); `fixed32`, `fixed64` and `double` are little-endian (section
//! "Non-varint Numbers"); strings, bytes and nested messages are a varint length then the bytes (section
//! "Length-Delimited Records"). proto3 scalar fields equal to their default are not written ("Default values"),
//! except members of a `oneof`, which are always written so the decoder sees which member is set.

/// Wire type 0: `int32`, `int64`, `uint32`, `uint64`, `bool`, `enum`.
const VARINT: u32 = 0;
/// Wire type 1: `fixed64`, `double`.
const I64: u32 = 1;
/// Wire type 2: `string`, `bytes`, embedded messages, packed repeated fields.
const LEN: u32 = 2;
/// Wire type 5: `fixed32`.
const I32: u32 = 5;

/// Appends `v` as a base-128 varint (1 to 10 bytes).
#[inline]
pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// How many bytes [`varint`] writes for `v`.
#[inline]
pub(crate) const fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 still takes one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[inline]
fn key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    varint(out, u64::from((field << 3) | wire_type));
}

/// How many bytes the key of `field` takes.
#[inline]
pub(crate) const fn key_len(field: u32) -> usize {
    varint_len((field as u64) << 3)
}

/// A `uint32`/`uint64`/`enum` field; nothing when zero (the proto3 default).
#[inline]
pub(crate) fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        key(out, field, VARINT);
        varint(out, v);
    }
}

/// An `int64` oneof member, always written.
#[inline]
pub(crate) fn int64_always(out: &mut Vec<u8>, field: u32, v: i64) {
    key(out, field, VARINT);
    varint(out, v as u64);
}

/// A `bool` oneof member, always written.
#[inline]
pub(crate) fn bool_always(out: &mut Vec<u8>, field: u32, v: bool) {
    key(out, field, VARINT);
    out.push(u8::from(v));
}

/// A `double` oneof member, always written (the IEEE 754 bits, so NaN payloads survive).
#[inline]
pub(crate) fn double_always(out: &mut Vec<u8>, field: u32, v: f64) {
    key(out, field, I64);
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

/// A `fixed64` field; nothing when zero.
#[inline]
pub(crate) fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        key(out, field, I64);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// A `fixed32` field; nothing when zero.
#[inline]
pub(crate) fn fixed32(out: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        key(out, field, I32);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// A `string` or `bytes` field; nothing when empty.
#[inline]
pub(crate) fn bytes(out: &mut Vec<u8>, field: u32, v: &[u8]) {
    if !v.is_empty() {
        bytes_always(out, field, v);
    }
}

/// A `string` or `bytes` field written even when empty (a oneof member).
#[inline]
pub(crate) fn bytes_always(out: &mut Vec<u8>, field: u32, v: &[u8]) {
    key(out, field, LEN);
    varint(out, v.len() as u64);
    out.extend_from_slice(v);
}

/// The key and length prefix of a length-delimited field whose `len` bytes the caller appends next (used where the
/// length is known up front: already-encoded buffers, and strings written in pieces).
#[inline]
pub(crate) fn len_prefix(out: &mut Vec<u8>, field: u32, len: usize) {
    key(out, field, LEN);
    varint(out, len as u64);
}

/// How many bytes a length-delimited field of `len` bytes takes in total.
#[inline]
pub(crate) const fn len_field_len(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64) + len
}

/// A nested message field, always written (an empty message too: a set `optional` message field decodes as
/// present). `body` appends the message's fields.
///
/// The length is not known before the body is written, so one byte is reserved for it. Most nested messages (a
/// `KeyValue`, an `AnyValue`, a `Status`) are under 128 bytes and fit; a longer one (a whole `Span`) has its body
/// moved right by the 1–4 missing bytes. Measured, that move costs less than computing sizes first, and keeps the
/// output minimal, unlike fixed-width padded varints: see the module docs of `export::encode`.
#[inline]
pub(crate) fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let at = out.len();
    out.push(0);
    body(out);
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
        return;
    }
    let width = varint_len(len as u64);
    let end = out.len();
    out.resize(end + width - 1, 0);
    out.copy_within(at + 1..end, at + width);
    let mut v = len as u64;
    for b in &mut out[at..at + width] {
        *b = (v as u8) | 0x80;
        v >>= 7;
    }
    out[at + width - 1] &= 0x7f;
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    #[test]
    fn varints_match_prost() {
        for v in [0, 1, 127, 128, 255, 300, 16_383, 16_384, u64::from(u32::MAX), u64::MAX >> 1, u64::MAX] {
            let mut ours = Vec::new();
            varint(&mut ours, v);
            let mut theirs = Vec::new();
            prost::encoding::encode_varint(v, &mut theirs);
            assert_eq!(ours, theirs, "{v}");
            assert_eq!(varint_len(v), theirs.len(), "{v}");
            assert_eq!(varint_len(v), prost::encoding::encoded_len_varint(v), "{v}");
        }
    }

    #[test]
    fn defaults_are_skipped_and_oneof_members_are_not() {
        let mut out = Vec::new();
        uint(&mut out, 1, 0);
        fixed64(&mut out, 2, 0);
        fixed32(&mut out, 3, 0);
        bytes(&mut out, 4, b"");
        assert!(out.is_empty());
        bytes_always(&mut out, 1, b"");
        int64_always(&mut out, 3, 0);
        bool_always(&mut out, 2, false);
        double_always(&mut out, 4, 0.0);
        // key(1, LEN)=0x0a len 0; key(3, VARINT)=0x18 0; key(2, VARINT)=0x10 0; key(4, I64)=0x21 + 8 zero bytes.
        assert_eq!(out, [0x0a, 0, 0x18, 0, 0x10, 0, 0x21, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn negative_int64_takes_ten_bytes_like_prost() {
        let mut ours = Vec::new();
        int64_always(&mut ours, 3, -1);
        let mut theirs = Vec::new();
        prost::encoding::int64::encode(3, &-1, &mut theirs);
        assert_eq!(ours, theirs);
        assert_eq!(ours.len(), 11);
    }

    #[test]
    fn fixed_width_fields_are_little_endian() {
        let mut out = Vec::new();
        fixed64(&mut out, 7, 0x0102_0304_0506_0708);
        fixed32(&mut out, 16, 0x0301);
        // field 16 has a two-byte key: (16 << 3) | 5 = 133 = 0x85 0x01.
        assert_eq!(out, [0x39, 8, 7, 6, 5, 4, 3, 2, 1, 0x85, 0x01, 0x01, 0x03, 0, 0]);
        assert_eq!(key_len(15), 1);
        assert_eq!(key_len(16), 2);
    }

    /// A nested message of every length around the varint width boundaries decodes to the same bytes.
    #[test]
    fn nested_lengths_across_varint_widths() {
        for len in [0, 1, 126, 127, 128, 129, 16_382, 16_383, 16_384, 16_385, 2_097_151, 2_097_152] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut out = vec![0xaa];
            message(&mut out, 2, |out| out.extend_from_slice(&payload));
            assert_eq!(out[0], 0xaa);
            let mut theirs = vec![0xaa];
            prost::encoding::bytes::encode(2, &payload, &mut theirs);
            assert_eq!(out, theirs, "{len}");
            assert_eq!(out.len() - 1, len_field_len(2, len), "{len}");
        }
    }

    /// Messages nested in messages, each crossing a width boundary, decode with prost.
    #[test]
    fn nested_in_nested() {
        #[derive(Clone, PartialEq, prost::Message)]
        struct Inner {
            #[prost(bytes = "vec", tag = "1")]
            data: Vec<u8>,
        }
        #[derive(Clone, PartialEq, prost::Message)]
        struct Outer {
            #[prost(message, repeated, tag = "2")]
            inner: Vec<Inner>,
            #[prost(uint32, tag = "3")]
            n: u32,
        }
        let sizes = [0usize, 100, 126, 127, 200, 20_000];
        let mut out = Vec::new();
        message(&mut out, 1, |out| {
            for &s in &sizes {
                message(out, 2, |out| bytes(out, 1, &vec![7; s]));
            }
            uint(out, 3, 300);
        });
        // Field 1 of a wrapper: decode the wrapper's single length-delimited field as Outer.
        #[derive(Clone, PartialEq, prost::Message)]
        struct Wrapper {
            #[prost(message, optional, tag = "1")]
            outer: Option<Outer>,
        }
        let decoded = Wrapper::decode(out.as_slice()).unwrap().outer.unwrap();
        assert_eq!(decoded.n, 300);
        let got: Vec<usize> = decoded.inner.iter().map(|i| i.data.len()).collect();
        assert_eq!(got, sizes);
        assert!(decoded.inner.iter().all(|i| i.data.iter().all(|&b| b == 7)));
    }
}

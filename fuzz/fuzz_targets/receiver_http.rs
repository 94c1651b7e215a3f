//! The receiver's OTLP/HTTP decoding: any body, content type and encoding must answer 200, 400 or 415 and never
//! panic (gzip bombs included). Byte 0 picks the signal, byte 1 the content type and encoding.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use otelwright_receiver::{Signal, decode_status};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let signal = [Signal::Traces, Signal::Metrics, Signal::Logs][data[0] as usize % 3];
    let mut headers = HeaderMap::new();
    let ct = ["application/x-protobuf", "application/json", "application/json; charset=utf-8", "text/plain"];
    headers.insert("content-type", HeaderValue::from_static(ct[data[1] as usize % 4]));
    if data[1] & 0x80 != 0 {
        headers.insert("content-encoding", HeaderValue::from_static("gzip"));
    }
    let status = decode_status(signal, &headers, &data[2..]);
    assert!(matches!(status, 200 | 400 | 415), "{status}");
});

//! traceparent / tracestate / baggage through the strict W3C front end: must never panic, and whatever it lets
//! through must satisfy the W3C limits. The input is split into header values on 0xFF bytes; the first byte picks
//! which header each value goes to.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use otelwright_http::propagation::Sanitized;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for (i, chunk) in data.split(|b| *b == 0xff).enumerate() {
        let name = ["traceparent", "tracestate", "baggage"][(chunk.first().copied().unwrap_or(0) as usize + i) % 3];
        if let Ok(v) = HeaderValue::from_bytes(chunk) {
            headers.append(name, v);
        }
    }
    let s = Sanitized::new(&headers);
    if let Some(tp) = s.traceparent() {
        assert_eq!(tp.len(), 55);
    }
    if let Some(ts) = s.tracestate() {
        assert!(ts.len() <= 512 && ts.split(',').count() <= 32);
    }
    if let Some(b) = s.baggage() {
        assert!(b.len() <= 8192 && b.split(',').count() <= 64);
    }
});

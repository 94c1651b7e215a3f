//! The hand-written OTLP encoder: any bytes, read as a resource, attribute limits, spans and log records, must
//! encode to requests that decode with prost and equal, field for field, what the SDK's own exporter sends (with
//! otelwright's deliberate differences). The check is `crates/otelwright/tests/encode_support`, which
//! `cargo test` also runs on arbitrary bytes (`encode_conformance.rs`, `fuzz_input_passes_the_same_checks`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/otelwright/tests/encode_support/mod.rs"]
mod encode_support;

fuzz_target!(|data: &[u8]| {
    encode_support::check_bytes(data);
});

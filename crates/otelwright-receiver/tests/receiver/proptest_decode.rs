//! Properties of the receiver's OTLP/HTTP decoding (the same inputs the `receiver_http` fuzz target feeds):
//! arbitrary bodies, content types and encodings never panic and always get 200, 400 or 415; any valid encoded
//! request (protobuf or JSON, gzipped or not) gets 200.

use std::io::Write as _;

use http::{HeaderMap, HeaderValue};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otelwright_receiver::{Signal, decode_status};
use proptest::prelude::*;
use prost::Message as _;

fn headers(content_type: &str, gzip: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert("content-type", v);
    }
    if gzip {
        h.insert("content-encoding", HeaderValue::from_static("gzip"));
    }
    h
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn signal() -> impl Strategy<Value = Signal> {
    prop_oneof![Just(Signal::Traces), Just(Signal::Metrics), Just(Signal::Logs)]
}

fn content_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("application/x-protobuf".to_owned()),
        Just("application/json".to_owned()),
        Just("application/json; charset=utf-8".to_owned()),
        "[ -~]{0,40}",
    ]
}

fn request(names: Vec<(String, i64)>) -> ExportTraceServiceRequest {
    let spans = names
        .into_iter()
        .enumerate()
        .map(|(i, (name, n))| Span {
            trace_id: vec![1; 16],
            span_id: ((i as u64) + 1).to_be_bytes().to_vec(),
            name,
            attributes: vec![KeyValue {
                key: "n".into(),
                value: Some(AnyValue { value: Some(any_value::Value::IntValue(n)) }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_input_never_panics(
        signal in signal(),
        ct in content_type(),
        gz in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        compress in any::<bool>(),
    ) {
        let body = if gz && compress { gzip(&body) } else { body };
        let status = decode_status(signal, &headers(&ct, gz), &body);
        prop_assert!(matches!(status, 200 | 400 | 415), "status {}", status);
    }

    #[test]
    fn valid_requests_are_accepted(
        names in proptest::collection::vec(("\\PC{0,20}", any::<i64>()), 0..8),
        json in any::<bool>(),
        gz in any::<bool>(),
    ) {
        let req = request(names);
        let (ct, body) = if json {
            ("application/json", serde_json::to_vec(&req).unwrap())
        } else {
            ("application/x-protobuf", req.encode_to_vec())
        };
        let body = if gz { gzip(&body) } else { body };
        prop_assert_eq!(decode_status(Signal::Traces, &headers(ct, gz), &body), 200);
    }
}

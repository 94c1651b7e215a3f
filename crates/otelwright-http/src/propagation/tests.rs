//! Table-driven cases from the W3C Trace Context Level 2 and Baggage rules (reference/semconv.md section 10).

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use super::*;

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PID: &str = "00f067aa0ba902b7";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_bytes(v.as_bytes()).unwrap());
    }
    h
}

/// (case, traceparent header fields, the canonical traceparent expected or None for "start a new trace").
#[test]
fn traceparent_cases() {
    let ok = format!("00-{TID}-{PID}-01");
    let cases: Vec<(&str, Vec<String>, Option<String>)> = vec![
        ("valid sampled", vec![ok.clone()], Some(ok.clone())),
        ("valid not sampled", vec![format!("00-{TID}-{PID}-00")], Some(format!("00-{TID}-{PID}-00"))),
        ("random flag kept", vec![format!("00-{TID}-{PID}-03")], Some(format!("00-{TID}-{PID}-03"))),
        ("unknown flags zeroed", vec![format!("00-{TID}-{PID}-ff")], Some(format!("00-{TID}-{PID}-03"))),
        ("unknown flag only", vec![format!("00-{TID}-{PID}-08")], Some(format!("00-{TID}-{PID}-00"))),
        ("uppercase trace id", vec![format!("00-{}-{PID}-01", TID.to_uppercase())], None),
        ("uppercase parent id", vec![format!("00-{TID}-{}-01", "00F067AA0BA902B7")], None),
        ("uppercase flags", vec![format!("00-{TID}-{PID}-0A")], None),
        ("uppercase version", vec![format!("0A-{TID}-{PID}-01")], None),
        ("all-zero trace id", vec![format!("00-{}-{PID}-01", "0".repeat(32))], None),
        ("all-zero parent id", vec![format!("00-{TID}-{}-01", "0".repeat(16))], None),
        ("version ff", vec![format!("ff-{TID}-{PID}-01")], None),
        ("version 00 too long", vec![format!("00-{TID}-{PID}-01-extra")], None),
        ("version 00 trailing dash", vec![format!("00-{TID}-{PID}-01-")], None),
        ("too short", vec![format!("00-{TID}-{PID}-1")], None),
        ("empty", vec![String::new()], None),
        ("trace id short", vec![format!("00-{}-{PID}-01", &TID[1..])], None),
        ("trace id long", vec![format!("00-{TID}0-{PID}-01")], None),
        ("parent id short", vec![format!("00-{TID}-{}-01", &PID[1..])], None),
        ("non-hex trace id", vec![format!("00-{}g-{PID}-01", &TID[..31])], None),
        ("non-hex version", vec![format!("0g-{TID}-{PID}-01")], None),
        ("wrong separator", vec![format!("00_{TID}-{PID}-01")], None),
        ("wrong separator 2", vec![format!("00-{TID}_{PID}-01")], None),
        ("wrong separator 3", vec![format!("00-{TID}-{PID}_01")], None),
        ("leading space", vec![format!(" 00-{TID}-{PID}-01")], None),
        ("higher version exact", vec![format!("01-{TID}-{PID}-01")], Some(ok.clone())),
        ("higher version extra field", vec![format!("cc-{TID}-{PID}-01-what-the-future")], Some(ok.clone())),
        ("higher version no dash after flags", vec![format!("cc-{TID}-{PID}-01what")], None),
        ("higher version too short", vec![format!("cc-{TID}-{PID}-1")], None),
        ("higher version flags zeroed", vec![format!("02-{TID}-{PID}-09")], Some(ok.clone())),
        ("repeated header invalid", vec![ok.clone(), ok.clone()], None),
        ("no header", vec![], None),
    ];
    assert!(cases.len() >= 30);
    for (name, fields, want) in cases {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|f| ("traceparent", f.as_str())).collect();
        let h = headers(&pairs);
        let s = Sanitized::new(&h);
        assert_eq!(s.traceparent(), want.as_deref(), "{name}");
    }
}

/// (case, tracestate header fields, the tracestate expected; traceparent is valid in every case).
#[test]
fn tracestate_cases() {
    let long_value = "v".repeat(200);
    let big: Vec<String> = (0..40).map(|i| format!("k{i}=v{i}")).collect();
    let over_512: Vec<String> = (0..20).map(|i| format!("key{i:02}={}", "x".repeat(20))).collect();
    let with_long = format!("a=1,long={long_value},b=2,{}", over_512[..15].join(","));
    let cases: Vec<(&str, Vec<String>, Option<String>)> = vec![
        ("simple", vec!["congo=t61rcWkgMzE".into()], Some("congo=t61rcWkgMzE".into())),
        (
            "two members",
            vec!["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into()],
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into()),
        ),
        ("ows around members", vec![" a=1 ,\tb=2 ".into()], Some("a=1,b=2".into())),
        ("empty members skipped", vec!["a=1,,b=2,".into()], Some("a=1,b=2".into())),
        ("fields joined", vec!["a=1".into(), "b=2".into()], Some("a=1,b=2".into())),
        ("empty header accepted", vec!["".into()], None),
        ("multi-tenant key", vec!["fw529a3039@dt=abc".into()], Some("fw529a3039@dt=abc".into())),
        ("key starts with digit", vec!["1a=x".into()], Some("1a=x".into())),
        ("uppercase key invalid", vec!["Congo=x".into()], None),
        ("key with space invalid", vec!["a b=x".into()], None),
        ("no equals invalid", vec!["a=1,novalue".into()], None),
        ("empty value invalid", vec!["a=".into()], None),
        ("space inside a value", vec!["a=x y ,b=1".into()], Some("a=x y,b=1".into())),
        ("value with equals invalid", vec!["a=x=y".into()], None),
        ("value non-ASCII invalid", vec!["a=caf\u{e9}".into()], None),
        ("duplicate key invalid", vec!["a=1,b=2,a=3".into()], None),
        ("duplicate across fields invalid", vec!["a=1".into(), "a=2".into()], None),
        ("key too long invalid", vec![format!("{}=x", "k".repeat(257))], None),
        ("value too long invalid", vec![format!("a={}", "v".repeat(257))], None),
        ("two at signs invalid", vec!["a@b@c=x".into()], None),
        ("32 members max: rightmost dropped", vec![big.join(",")], Some(big[..32].join(","))),
        ("over 512: cut from the right", vec![over_512.join(",")], Some(over_512[..19].join(","))),
        ("over 512: long member goes first", vec![with_long], Some(format!("a=1,b=2,{}", over_512[..15].join(",")))),
    ];
    for (name, fields, want) in cases {
        let tp = format!("00-{TID}-{PID}-01");
        let mut pairs = vec![("traceparent", tp.as_str())];
        pairs.extend(fields.iter().map(|f| ("tracestate", f.as_str())));
        let h = headers(&pairs);
        let s = Sanitized::new(&h);
        assert_eq!(s.traceparent(), Some(tp.as_str()), "{name}: tracestate never affects traceparent");
        assert_eq!(s.tracestate(), want.as_deref(), "{name}");
        if let Some(t) = s.tracestate() {
            assert!(t.len() <= tracestate::MAX_LEN, "{name}");
        }
    }
}

#[test]
fn tracestate_is_dropped_with_an_invalid_traceparent() {
    let h = headers(&[("traceparent", "00-xyz"), ("tracestate", "a=1")]);
    let s = Sanitized::new(&h);
    assert_eq!((s.traceparent(), s.tracestate()), (None, None));
    let h = headers(&[("tracestate", "a=1")]);
    assert_eq!(Sanitized::new(&h).tracestate(), None, "tracestate without traceparent is discarded");
}

/// (case, baggage header fields, the baggage expected).
#[test]
fn baggage_cases() {
    let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
    let fat: Vec<String> = (0..3).map(|i| format!("k{i}={}", "v".repeat(4000))).collect();
    let cases: Vec<(&str, Vec<String>, Option<String>)> = vec![
        ("simple", vec!["userId=alice".into()], Some("userId=alice".into())),
        ("properties kept", vec!["a=1;ttl=30,b=2".into()], Some("a=1;ttl=30,b=2".into())),
        ("percent-encoded value", vec!["city=New%20York".into()], Some("city=New%20York".into())),
        ("fields joined", vec!["a=1".into(), "b=2".into()], Some("a=1,b=2".into())),
        ("bad member dropped alone", vec!["a=1,b c=2,d=3".into()], Some("a=1,d=3".into())),
        ("bad escape dropped", vec!["a=%zz,b=2".into()], Some("b=2".into())),
        ("quote in value dropped", vec!["a=\"x\",b=2".into()], Some("b=2".into())),
        ("no equals dropped", vec!["novalue".into()], None),
        ("64 members max", vec![many.join(",")], Some(many[..64].join(","))),
        ("8192 bytes max, whole members", vec![fat.join(",")], Some(fat[..2].join(","))),
    ];
    for (name, fields, want) in cases {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|f| ("baggage", f.as_str())).collect();
        let h = headers(&pairs);
        let got = Sanitized::new(&h).baggage().map(str::to_owned);
        assert_eq!(got, want, "{name}");
        if let Some(b) = got {
            assert!(b.len() <= baggage::MAX_BYTES && b.split(',').count() <= baggage::MAX_MEMBERS, "{name}");
        }
    }
}

fn stock() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![Box::new(TraceContextPropagator::new()), Box::new(BaggagePropagator::new())])
}

#[test]
fn valid_parent_reaches_the_propagators() {
    let h = headers(&[
        ("traceparent", &format!("00-{TID}-{PID}-01")),
        ("tracestate", "congo=t61rcWkgMzE"),
        ("baggage", "userId=alice"),
    ]);
    let cx = extract_with(&stock(), &h);
    let sc = cx.span().span_context().clone();
    assert!(sc.is_valid() && sc.is_remote() && sc.is_sampled());
    assert_eq!(sc.trace_id().to_string(), TID);
    assert_eq!(sc.span_id().to_string(), PID);
    assert_eq!(sc.trace_state().get("congo"), Some("t61rcWkgMzE"));
    assert_eq!(cx.baggage().get("userId").map(|v| v.to_string()), Some("alice".into()));
}

#[test]
fn invalid_parent_starts_a_new_trace_but_keeps_baggage() {
    let h = headers(&[("traceparent", &format!("00-{TID}-{PID}-01-x")), ("baggage", "a=1")]);
    let cx = extract_with(&stock(), &h);
    assert!(!cx.span().span_context().is_valid());
    assert_eq!(cx.baggage().get("a").map(|v| v.to_string()), Some("1".into()));
}

#[test]
fn injection_writes_lowercase_headers() {
    let h = headers(&[("traceparent", &format!("00-{TID}-{PID}-01")), ("baggage", "a=1")]);
    let cx = extract_with(&stock(), &h);
    let mut out = HeaderMap::new();
    inject_with(&stock(), &cx, &mut out);
    assert_eq!(out.get("traceparent").unwrap(), &format!("00-{TID}-{PID}-01"));
    assert_eq!(out.get("baggage").unwrap(), "a=1");
}

#[test]
fn non_ascii_header_values_never_panic() {
    let mut h = HeaderMap::new();
    h.insert("traceparent", HeaderValue::from_bytes(b"00-\xff\xfe").unwrap());
    h.insert("baggage", HeaderValue::from_bytes(b"a=\xff").unwrap());
    let s = Sanitized::new(&h);
    assert_eq!((s.traceparent(), s.baggage()), (None, None));
}

mod properties {
    //! The same inputs as the `w3c_headers` fuzz target: whatever arrives, the front end never panics and only
    //! lets through what the W3C rules allow.
    use proptest::prelude::*;

    use super::*;

    fn header_value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            // Near-valid traceparents, where the interesting cases are.
            "[0-9a-fA-F]{2}-[0-9a-fA-F]{30,34}-[0-9a-fA-F]{14,18}-[0-9a-fA-F]{1,3}(-[ -~]{0,8})?"
                .prop_map(String::into_bytes),
            "([a-z0-9@*/_-]{1,20}=[!-~]{1,20}[ ,]{0,2}){0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..300),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn front_end_only_lets_valid_values_through(
            parents in proptest::collection::vec(header_value(), 0..3),
            states in proptest::collection::vec(header_value(), 0..3),
            baggages in proptest::collection::vec(header_value(), 0..3),
        ) {
            let mut h = HeaderMap::new();
            for (name, values) in [("traceparent", &parents), ("tracestate", &states), ("baggage", &baggages)] {
                for v in values {
                    if let Ok(v) = HeaderValue::from_bytes(v) {
                        h.append(name, v);
                    }
                }
            }
            let s = Sanitized::new(&h);
            if let Some(tp) = s.traceparent() {
                prop_assert_eq!(tp.len(), 55);
                prop_assert!(tp.starts_with("00-"));
                prop_assert!(tp.bytes().all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
                prop_assert!(traceparent::parse(tp).is_some(), "the canonical form parses again");
            } else {
                prop_assert!(s.tracestate().is_none(), "no tracestate without a valid traceparent");
            }
            if let Some(ts) = s.tracestate() {
                prop_assert!(ts.len() <= tracestate::MAX_LEN);
                prop_assert!(ts.split(',').count() <= tracestate::MAX_MEMBERS);
                let again = tracestate::sanitize(std::iter::once(ts));
                prop_assert_eq!(again.as_deref(), Some(ts), "stable");
            }
            if let Some(b) = s.baggage() {
                prop_assert!(b.len() <= baggage::MAX_BYTES);
                prop_assert!(b.split(',').count() <= baggage::MAX_MEMBERS);
            }
            let _ = extract_with(&stock(), &h);
        }

        #[test]
        fn valid_traceparents_round_trip(tid in "[0-9a-f]{32}", pid in "[0-9a-f]{16}", flags in 0u8..=255) {
            prop_assume!(tid != "0".repeat(32) && pid != "0".repeat(16));
            let header = format!("00-{tid}-{pid}-{flags:02x}");
            let parsed = traceparent::parse(&header).unwrap();
            prop_assert_eq!(parsed.header(), format!("00-{tid}-{pid}-{:02x}", flags & 0x03));
        }
    }
}

//! Table-driven cases from the W3C Trace Context Level 2 and Baggage rules (reference/semconv.md section 10).

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{SpanBuilder, TraceContextExt, TraceState, Tracer, TracerProvider};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};

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
        // Changed: the field value excludes surrounding whitespace (RFC 9110 section 5.5), and the W3C test suite
        // (test/test.py, test_traceparent_ows_handling) expects these to continue the trace.
        ("leading space is not part of the value", vec![format!(" 00-{TID}-{PID}-01")], Some(ok.clone())),
        ("trailing tab is not part of the value", vec![format!("00-{TID}-{PID}-01\t")], Some(ok.clone())),
        ("surrounding OWS", vec![format!("\t 00-{TID}-{PID}-01 \t")], Some(ok.clone())),
        ("space inside invalid", vec![format!("00-{TID}-{PID} -01")], None),
        ("random flag alone kept", vec![format!("00-{TID}-{PID}-02")], Some(format!("00-{TID}-{PID}-02"))),
        ("version prefix not hex", vec![format!(".0-{TID}-{PID}-01")], None),
        ("version too long", vec![format!("000-{TID}-{PID}-01")], None),
        ("version too short", vec![format!("0-{TID}-{PID}-01")], None),
        ("flags too long", vec![format!("00-{TID}-{PID}-001")], None),
        ("flags not hex", vec![format!("00-{TID}-{PID}-0.")], None),
        ("parent id not hex", vec![format!("00-{TID}-{}.-01", &PID[..15])], None),
        ("parent id long", vec![format!("00-{TID}-{PID}0-01")], None),
        ("version 00 trailing dot", vec![format!("00-{TID}-{PID}-01.")], None),
        ("higher version keeps random", vec![format!("cc-{TID}-{PID}-02-x")], Some(format!("00-{TID}-{PID}-02"))),
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
    let bars: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
    let in_fields = |n: usize| -> Vec<String> { bars[..n].chunks(10).map(|c| c.join(",")).collect() };
    let over_512: Vec<String> = (0..20).map(|i| format!("key{i:02}={}", "x".repeat(20))).collect();
    let with_long = format!("a=1,long={long_value},b=2,{}", over_512[..15].join(","));
    let key_chars = "abcdefghijklmnopqrstuvwxyz0123456789_-*/@";
    let value_chars: String = (0x20u8..=0x7e).filter(|c| *c != b',' && *c != b'=').map(char::from).collect();
    let z256 = "z".repeat(256);
    let tenant_vendor = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    let one = |s: &str| vec![s.to_owned()];
    let cases: Vec<(&str, Vec<String>, Option<String>)> = vec![
        // "Relationship Between the Headers" examples.
        ("simple", one("congo=t61rcWkgMzE"), Some("congo=t61rcWkgMzE".into())),
        (
            "two members",
            one("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into()),
        ),
        // "Spaces and horizontal tabs surrounding `list-member`s are ignored."
        ("ows around members", one(" a=1 ,\tb=2 "), Some("a=1,b=2".into())),
        ("ows: spaces and tabs mixed", one("foo=1 \t , \t bar=2, \t baz=3"), Some("foo=1,bar=2,baz=3".into())),
        // "Empty and whitespace-only list members are allowed."
        ("empty members skipped", one("a=1,,b=2,"), Some("a=1,b=2".into())),
        ("whitespace-only member skipped", one(" \t ,a=1"), Some("a=1".into())),
        // "When receiving multiple `tracestate` header fields, they MUST be combined into a single header".
        ("fields joined in order", vec!["a=1".into(), "b=2".into(), "c=3".into()], Some("a=1,b=2,c=3".into())),
        ("empty field among others", vec!["".into(), "foo=1".into(), "".into()], Some("foo=1".into())),
        // "Vendors MUST accept empty `tracestate` headers but SHOULD avoid sending them."
        ("empty header accepted, not sent", one(""), None),
        // "Key": `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`.
        ("multi-tenant key", one("fw529a3039@dt=abc"), Some("fw529a3039@dt=abc".into())),
        ("key starts with digit", one("1a=x"), Some("1a=x".into())),
        ("every keychar", vec![format!("{key_chars}=1")], Some(format!("{key_chars}=1"))),
        ("key ending in @ is valid", one("foo@=1,bar=2"), Some("foo@=1,bar=2".into())),
        ("two @ in a row are valid", one("foo@@bar=1,bar=2"), Some("foo@@bar=1,bar=2".into())),
        ("two @ apart are valid", one("foo@bar@baz=1,bar=2"), Some("foo@bar@baz=1,bar=2".into())),
        ("a@b@c key valid", one("a@b@c=x"), Some("a@b@c=x".into())),
        ("256-character key", vec!["foo=1".into(), format!("{z256}=1")], Some(format!("foo=1,{z256}=1"))),
        (
            "256 characters with a 14-character vendor",
            vec!["foo=1".into(), format!("{tenant_vendor}=1")],
            Some(format!("foo=1,{tenant_vendor}=1")),
        ),
        ("key starting with @ invalid", one("@foo=1,bar=2"), None),
        ("key starting with _ invalid", one("_foo=1"), None),
        ("uppercase key invalid", one("Congo=x"), None),
        ("key with dot invalid", one("foo.bar=1"), None),
        ("key with space invalid", one("a b=x"), None),
        ("space before = invalid", one("foo =1"), None),
        ("257-character key invalid", vec!["foo=1".into(), format!("{}=1", "z".repeat(257))], None),
        // "Value": `value = 0*255(chr) nblk-chr`.
        ("every value character", vec![format!("k={value_chars}")], Some(format!("k={value_chars}"))),
        ("leading spaces kept in the value", one("a=  x,b=1"), Some("a=  x,b=1".into())),
        ("trailing spaces are OWS", one("a=x y ,b=1"), Some("a=x y,b=1".into())),
        ("256-character value", vec![format!("a={}", "v".repeat(256))], Some(format!("a={}", "v".repeat(256)))),
        ("257-character value invalid", vec![format!("a={}", "v".repeat(257))], None),
        ("no equals invalid", one("a=1,novalue"), None),
        ("empty value invalid", one("a="), None),
        ("empty value invalidates the list", one("foo=,bar=3"), None),
        ("value with equals invalid", one("a=x=y"), None),
        ("value with a tab invalid", one("a=x\ty"), None),
        ("value non-ASCII invalid", one("a=caf\u{e9}"), None),
        // "Vendors MAY also discard duplicate keys that were not generated by them": reduced to the left-most.
        ("duplicate equal entries", one("foo=1,foo=1"), Some("foo=1".into())),
        ("duplicate keys, left-most kept", one("foo=1,foo=2"), Some("foo=1".into())),
        ("duplicate keys among others", one("a=1,b=2,a=3"), Some("a=1,b=2".into())),
        ("duplicate across fields", vec!["foo=1".into(), "foo=2".into()], Some("foo=1".into())),
        // "There can be a maximum of 32 `list-member`s in a `list`."
        ("32 members across fields", in_fields(32), Some(bars[..32].join(","))),
        ("33 members across fields: not propagated", in_fields(33), None),
        ("33 members in one field: not propagated", vec![bars.join(",")], None),
        ("empty members do not count", vec![format!(",,{},,", bars[..32].join(", ,"))], Some(bars[..32].join(","))),
        ("33 members with a duplicate: counted as received", vec![format!("{},bar01=01", bars[..32].join(","))], None),
        // "tracestate Limits": whole entries, those over 128 characters first, then from the end.
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

/// The traceparent flags `cx` goes out with, through the stock propagators and our completion.
fn outgoing(cx: &Context) -> HeaderMap {
    let mut out = HeaderMap::new();
    inject_with(&stock(), cx, &mut out);
    out
}

fn flags_of(h: &HeaderMap) -> String {
    h["traceparent"].to_str().unwrap()[53..].to_owned()
}

/// A span under `parent` from an SDK tracer with `sampler`; `layer`: started as our layers start it (with
/// `with_random_flag` and their `random_trace_ids`), or `None` as any other instrumentation does.
fn child(parent: &Context, sampler: Sampler, layer: Option<bool>) -> Context {
    let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
    let span = provider.tracer("test").build_with_context(SpanBuilder::from_name("child"), parent);
    match layer {
        Some(random_ids) => parent.with_span(with_random_flag(span, parent, random_ids)),
        None => parent.with_span(span),
    }
}

/// (case, incoming traceparent flags or None for no traceparent, the sampler of the next span, how it starts, the
/// flags the next request goes out with). "Random Trace ID Flag", in 20-http_request_header_format.md.
#[test]
fn random_flag_cases() {
    let parent_based = || Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
    type Case = (&'static str, Option<&'static str>, Sampler, Option<bool>, &'static str);
    let cases: Vec<Case> = vec![
        // "If the flag is set in the incoming `traceparent` header, it MUST also be set in all outgoing
        // `traceparent` headers which use the same `trace-id`."
        ("incoming 03, recorded child", Some("03"), Sampler::AlwaysOn, None, "03"),
        ("incoming 03, child in a layer", Some("03"), parent_based(), Some(true), "03"),
        ("incoming 02, parent-based child not sampled", Some("02"), parent_based(), Some(true), "02"),
        ("incoming 02, dropped child outside our layers", Some("02"), Sampler::AlwaysOff, None, "02"),
        ("incoming 03, dropped child outside our layers", Some("03"), Sampler::AlwaysOff, None, "02"),
        ("incoming 02, child sampled here", Some("02"), Sampler::AlwaysOn, Some(false), "03"),
        // "If the flag is unset in the incoming `traceparent` header, it MUST also be unset in any outgoing
        // `traceparent` headers which use the same `trace-id`." Even where our generator is random.
        ("incoming 01 stays unset", Some("01"), Sampler::AlwaysOn, Some(true), "01"),
        ("incoming 00 stays unset", Some("00"), parent_based(), Some(true), "00"),
        // "Other Flags": "Vendors MUST set those to zero."
        ("incoming ff: other flags zeroed", Some("ff"), parent_based(), Some(true), "03"),
        // "When at least the right-most 7 bytes of the `trace-id` are randomly (or pseudo-randomly) generated, the
        // `random-trace-id` flag SHOULD be set to `1`." The SDK's RandomIdGenerator draws all 16 bytes.
        ("new root in a layer", None, parent_based(), Some(true), "03"),
        ("new root in a layer, not sampled", None, Sampler::AlwaysOff, Some(true), "02"),
        // "If the flag is not set, the `trace-id` MAY still be randomly (or pseudo-randomly) generated."
        ("new root, generator not declared random", None, parent_based(), Some(false), "01"),
    ];
    for (name, incoming, sampler, layer, want) in cases {
        let h = match incoming {
            Some(f) => headers(&[("traceparent", &format!("00-{TID}-{PID}-{f}"))]),
            None => HeaderMap::new(),
        };
        let parent = extract_with(&stock(), &h);
        let cx = child(&parent, sampler, layer);
        let out = outgoing(&cx);
        assert_eq!(flags_of(&out), want, "{name}");
        let sc = cx.span().span_context().clone();
        assert!(out["traceparent"].to_str().unwrap().contains(&sc.span_id().to_string()), "{name}: parent-id");
        if incoming.is_some() {
            assert_eq!(sc.trace_id().to_string(), TID, "{name}: same trace id");
        }
    }
}

/// The span context the application and the exporter see: the remote parent and a recorded child keep the flag
/// ("The exported span's flags": the exporter copies the span context's `TraceFlags` byte).
#[test]
fn random_flag_reaches_span_contexts_and_exported_spans() {
    let h = headers(&[("traceparent", &format!("00-{TID}-{PID}-03"))]);
    let parent = extract_with(&stock(), &h);
    assert_eq!(parent.span().span_context().trace_flags().to_u8(), 0x03);
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let span = provider.tracer("test").build_with_context(SpanBuilder::from_name("child"), &parent);
    let cx = parent.with_span(with_random_flag(span, &parent, true));
    cx.span().end();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].span_context.trace_flags().to_u8(), 0x03, "the exported child keeps sampled and random");
    assert!(spans[0].parent_span_is_remote);
}

/// (case, incoming tracestate, what the application does to the span context's TraceState, the tracestate sent).
#[test]
fn tracestate_carry_cases() {
    type Change = fn(&TraceState) -> TraceState;
    let thirty_two: Vec<String> = (1..=32).map(|i| format!("k{i:02}=v")).collect();
    let cases: Vec<(&str, String, Change, Option<String>)> = vec![
        // "Vendors receiving a `tracestate` request header MUST send it to outgoing requests." Keys opentelemetry's
        // TraceState cannot hold (older key rule) go on too.
        ("as received", "congo=t61rcWkgMzE".into(), |t| t.clone(), Some("congo=t61rcWkgMzE".into())),
        (
            "keys the SDK cannot hold go on",
            "foo@@bar=1,congo=t61,a@b@c=2".into(),
            |t| t.clone(),
            Some("foo@@bar=1,congo=t61,a@b@c=2".into()),
        ),
        (
            "a 256-character tenant@vendor key goes on",
            format!("{}@{}=1", "t".repeat(241), "v".repeat(14)),
            |t| t.clone(),
            Some(format!("{}@{}=1", "t".repeat(241), "v".repeat(14))),
        ),
        // "Add a new key/value pair": "The new key-value pair MUST be added to the beginning (left) of the list."
        (
            "added key on the left",
            "foo@@bar=1,congo=t61".into(),
            |t| t.insert("rojo", "00f067aa0ba902b7").unwrap(),
            Some("rojo=00f067aa0ba902b7,foo@@bar=1,congo=t61".into()),
        ),
        // "Update a key value": "Modified keys MUST be moved to the beginning (left) of the list." The order of the
        // others is kept ("the order of unmodified key/value pairs MUST be preserved").
        (
            "updated key moves left",
            "a=1,foo@@bar=1,congo=t61".into(),
            |t| t.insert("congo", "new").unwrap(),
            Some("congo=new,a=1,foo@@bar=1".into()),
        ),
        // "Delete a key/value pair": "Any key/value pair MAY be deleted."
        (
            "deleted key goes",
            "a=1,foo@@bar=1,congo=t61".into(),
            |t| t.delete("a").unwrap(),
            Some("foo@@bar=1,congo=t61".into()),
        ),
        ("all deleted: no header", "a=1".into(), |t| t.delete("a").unwrap(), None),
        // "If adding an entry would cause the `tracestate` list to contain more than 32 `list-members` the
        // right-most `list-member` should be removed from the list."
        ("33rd added: right-most goes", thirty_two.join(","), |t| t.insert("new", "1").unwrap(), {
            let mut want = vec!["new=1".to_owned()];
            want.extend(thirty_two[..31].iter().cloned());
            Some(want.join(","))
        }),
    ];
    for (name, incoming, change, want) in cases {
        let h = headers(&[("traceparent", &format!("00-{TID}-{PID}-01")), ("tracestate", &incoming)]);
        let parent = extract_with(&stock(), &h);
        let sc = parent.span().span_context().clone();
        let changed = change(sc.trace_state());
        let cx = parent.with_remote_span_context(SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags(),
            true,
            changed,
        ));
        let out = outgoing(&cx);
        assert_eq!(out.get("tracestate").map(|v| v.to_str().unwrap().to_owned()), want, "{name}");
    }
}

#[test]
fn tracestate_members_the_sdk_can_hold_reach_the_span_context() {
    let h = headers(&[("traceparent", &format!("00-{TID}-{PID}-01")), ("tracestate", "foo@@bar=1,congo=t61,rojo=x")]);
    let sc = extract_with(&stock(), &h).span().span_context().clone();
    assert_eq!(sc.trace_state().get("congo"), Some("t61"));
    assert_eq!(sc.trace_state().get("rojo"), Some("x"));
    assert_eq!(sc.trace_state().get("foo@@bar"), None, "opentelemetry's TraceState cannot hold it");
}

/// "Vendors MUST accept empty `tracestate` headers but SHOULD avoid sending them." The stock propagator writes one.
#[test]
fn no_empty_tracestate_is_sent() {
    let h = headers(&[("traceparent", &format!("00-{TID}-{PID}-01")), ("tracestate", "")]);
    let out = outgoing(&extract_with(&stock(), &h));
    assert!(out.contains_key("traceparent"));
    assert!(!out.contains_key("tracestate"), "{out:?}");
    let mut plain = HeaderMap::new();
    TraceContextPropagator::new().inject_context(&extract_with(&stock(), &h), &mut HeaderInjector(&mut plain));
    assert_eq!(plain["tracestate"], "", "the stock propagator writes an empty header, which we remove");
}

/// Propagators other than W3C's (here baggage only) get no `traceparent` or `tracestate` from us.
#[test]
fn nothing_is_added_for_other_propagators() {
    let h = headers(&[("traceparent", &format!("00-{TID}-{PID}-03")), ("tracestate", "a=1"), ("baggage", "k=v")]);
    let cx = extract_with(&BaggagePropagator::new(), &h);
    assert!(!cx.span().span_context().is_valid(), "no trace context propagator, no parent");
    let remote = extract_with(&stock(), &h);
    let mut out = HeaderMap::new();
    inject_with(&BaggagePropagator::new(), &remote, &mut out);
    assert_eq!(out.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["baggage"]);
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
                let again = tracestate::parse(std::iter::once(ts)).map(|m| tracestate::join(&m));
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

//! Cross-SDK interop: the OpenTelemetry Python SDK on both sides of an otelwright service, over real sockets.
//!
//! A Python client (tests/interop/peer.py) starts a trace with baggage and a tracestate and calls an otelwright
//! axum service (server layer), which calls a Python HTTP server (the SDK's default propagators) through reqwest
//! (`OtelMiddleware`). Python exports over OTLP/HTTP, otelwright over OTLP/gRPC, both to otelwright-receiver. Then
//! the client sends malformed headers (a bad traceparent, a 33-member tracestate, baggage over 8192 bytes) through
//! the service and straight to the Python server, and both must handle them as the W3C texts say.
//!
//! The Python environment comes from `scripts/python-interop.sh` (`OTELWRIGHT_PYVENV`, else
//! `target/python-interop/venv`). With `CI` set a missing environment fails this test (.ci/run builds it);
//! elsewhere the test says it skipped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use otelwright::{BatchSettings, Config, LogFormat, Protocol};
use otelwright_http::{HttpServerLayer, OtelMiddleware};
use otelwright_receiver::{ReceivedSpan, Receiver};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const SERVER: i32 = 2;
const CLIENT: i32 = 3;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// The interop environment's Python, or `None` (skip) outside CI when it is missing.
fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("OTELWRIGHT_PYVENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/python-interop/venv"));
    let python = venv.join("bin/python");
    if python.is_file() {
        return Some(python);
    }
    assert!(
        !is_ci(),
        "CI is set but the Python interop environment {} is missing: run scripts/python-interop.sh (.ci/run does)",
        venv.display()
    );
    eprintln!(
        "skipped: no Python interop environment at {} (bash scripts/python-interop.sh builds it)",
        venv.display()
    );
    None
}

/// The Python HTTP server, stopped (stdin closed, then killed by its id) when dropped.
struct PeerServer {
    child: Child,
    port: u16,
}

impl PeerServer {
    fn start(python: &Path, otlp: &str) -> PeerServer {
        let mut child = Command::new(python)
            .arg(root().join("tests/interop/peer.py"))
            .args(["server", "--otlp", otlp])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Python server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("listening ").and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            panic!("the Python server did not start: {line:?}");
        };
        PeerServer { child, port }
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The otelwright service: `GET /relay` calls the Python server and answers with what it answered.
async fn relay(State((client, peer)): State<(reqwest_middleware::ClientWithMiddleware, String)>) -> String {
    client.get(&peer).send().await.unwrap().text().await.unwrap()
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn str_of<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().fold(v, |v, k| &v[*k]).as_str().unwrap_or_else(|| panic!("{path:?} in {v}"))
}

fn u64_of(v: &Value, path: &[&str]) -> u64 {
    path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or_else(|| panic!("{path:?} in {v}"))
}

/// The values of one header as the Python server received them.
fn fields(answer: &Value, name: &str) -> Vec<String> {
    answer["headers"][name].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_on_both_sides_of_an_otelwright_service() {
    let Some(python) = python() else { return };
    let receiver = Receiver::start().await.expect("receiver");
    let telemetry = otelwright::init(
        Config::default()
            .service_name("interop-otelwright")
            .protocol(Protocol::Grpc)
            .otlp_endpoint(receiver.grpc_endpoint())
            .log_format(LogFormat::Off)
            .span_batch(BatchSettings { schedule_delay: Duration::from_millis(50), ..BatchSettings::spans() }),
    )
    .expect("init");
    let otlp = receiver.http_endpoint();
    let server = tokio::task::spawn_blocking({
        let (python, otlp) = (python.clone(), otlp.clone());
        move || PeerServer::start(&python, &otlp)
    })
    .await
    .unwrap();
    let peer = format!("http://127.0.0.1:{}/peer", server.port);
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).with(OtelMiddleware::new()).build();
    let service = serve(
        Router::new().route("/relay", get(relay)).with_state((client, peer.clone())).layer(HttpServerLayer::new()),
    )
    .await;

    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .arg(root().join("tests/interop/peer.py"))
            .args(["client", "--otlp", &otlp, "--target", &format!("http://{service}/relay"), "--peer", &peer])
            .stderr(Stdio::inherit())
            .output()
            .expect("run the Python client")
    })
    .await
    .unwrap();
    assert!(output.status.success(), "the Python client failed: {}", String::from_utf8_lossy(&output.stdout));
    let out: Value = serde_json::from_slice(&output.stdout).expect("the client's JSON");

    // A trace the Python SDK started: it sets the random flag on new traces (its ids are random) and the sampled
    // flag, and its sampler put a tracestate on it.
    let client_span = &out["client"]["span"];
    let trace_id = str_of(client_span, &["trace_id"]).to_owned();
    assert_eq!(u64_of(client_span, &["flags"]), 0x03, "the Python SDK's own root: sampled and random");
    assert_eq!(str_of(&out["client"], &["sent", "tracestate"]), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");

    // What the Python server got through otelwright: the same trace, both flags, the tracestate and the baggage.
    let answer = &out["client"]["answer"];
    let parent = &answer["parent"];
    assert_eq!(parent["valid"], true, "{answer}");
    assert_eq!(str_of(parent, &["trace_id"]), trace_id, "one trace id end to end");
    assert_eq!(u64_of(parent, &["flags"]), 0x03, "random and sampled preserved through otelwright");
    assert_eq!(str_of(parent, &["tracestate"]), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    assert_eq!(fields(answer, "tracestate"), ["congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"]);
    assert_eq!(answer["baggage"], serde_json::json!({"user.id": "alice", "tenant": "acme corp"}));
    assert_eq!(str_of(answer, &["span", "trace_id"]), trace_id);

    // Both SDKs' spans at the receiver: one trace, each span the child of the one before.
    let errors = telemetry.flush().await;
    assert!(errors.is_empty(), "{errors:?}");
    let spans = receiver
        .wait_for_spans(|s| s.iter().filter(|s| s.trace_id_hex() == trace_id).count() >= 4, WAIT)
        .await
        .unwrap();
    let trace: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.trace_id_hex() == trace_id).collect();
    assert_eq!(trace.len(), 4, "{:?}", trace.iter().map(|s| s.name()).collect::<Vec<_>>());
    let one = |service: &str, kind: i32| {
        let found: Vec<_> = trace
            .iter()
            .filter(|s| s.resource_str("service.name").as_deref() == Some(service) && s.span.kind == kind)
            .collect();
        assert_eq!(found.len(), 1, "{service} kind {kind}");
        *found[0]
    };
    let py_client = one("interop-py-client", CLIENT);
    let ow_server = one("interop-otelwright", SERVER);
    let ow_client = one("interop-otelwright", CLIENT);
    let py_server = one("interop-py-server", SERVER);
    assert_eq!(py_client.span_id_hex(), str_of(client_span, &["span_id"]));
    assert_eq!(py_client.parent_span_id_hex(), None);
    assert_eq!(ow_server.name(), "GET /relay");
    assert_eq!(ow_server.parent_span_id_hex(), Some(py_client.span_id_hex()), "otelwright server <- Python client");
    assert_eq!(ow_client.parent_span_id_hex(), Some(ow_server.span_id_hex()), "otelwright client <- its server");
    assert_eq!(py_server.parent_span_id_hex(), Some(ow_client.span_id_hex()), "Python server <- otelwright client");
    assert_eq!(str_of(parent, &["span_id"]), ow_client.span_id_hex());
    assert_eq!(py_server.span_id_hex(), str_of(answer, &["span", "span_id"]));
    // OTLP `Span.flags`: bits 0-7 the W3C trace flags, 0x100 "has is_remote", 0x200 "parent is remote". The
    // Python exporter (1.45) writes only the is_remote bits; otelwright writes both.
    for s in [ow_server, ow_client] {
        assert_eq!(s.span.flags & 0xff, 0x03, "{}: exported with sampled and random", s.name());
    }
    assert_eq!(ow_server.span.flags & 0x300, 0x300, "otelwright's server span: its parent is remote");
    assert_eq!(py_server.span.flags & 0x300, 0x300, "the Python server span: its parent is remote");
    for s in &trace {
        assert_eq!(s.span.trace_state, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", "{}", s.name());
    }

    // Malformed input, through otelwright and straight to the Python server.
    let m = &out["malformed"];
    let tid = "4bf92f3577b34da6a3ce929d0e0e4736";

    // Uppercase hex: "vendors MUST ignore the entire header"; a new trace starts, and tracestate goes with the
    // old one ("If the vendor failed to parse `traceparent`, it MUST NOT attempt to parse `tracestate`").
    // Baggage is a separate header and goes on.
    let via = &m["bad_traceparent"]["via_otelwright"];
    assert_eq!(via["parent"]["valid"], true, "otelwright sends a traceparent of the trace it started");
    assert_ne!(str_of(via, &["parent", "trace_id"]), tid);
    assert_eq!(u64_of(via, &["parent", "flags"]), 0x03, "otelwright's new trace: sampled and random");
    assert!(fields(via, "tracestate").is_empty(), "{via}");
    assert_eq!(via["baggage"], serde_json::json!({"k": "v"}));
    let direct = &m["bad_traceparent"]["direct"];
    assert_eq!(direct["parent"]["valid"], false, "the Python SDK ignores it too");
    assert_eq!(direct["baggage"], serde_json::json!({"k": "v"}));

    // 33 list members over two fields: "There can be a maximum of 32 `list-member`s in a `list`."; the list is
    // invalid and not propagated, the trace goes on.
    let via = &m["tracestate_33"]["via_otelwright"];
    assert_eq!((str_of(via, &["parent", "trace_id"]), u64_of(via, &["parent", "flags"])), (tid, 0x03));
    assert!(fields(via, "tracestate").is_empty(), "{via}");
    let direct = &m["tracestate_33"]["direct"];
    assert_eq!(str_of(direct, &["parent", "trace_id"]), tid);
    assert_eq!(str_of(direct, &["parent", "tracestate"]), "", "the Python SDK drops it too");

    // Baggage over 8192 bytes (W3C Baggage limits): otelwright passes whole members up to the limit, the Python
    // SDK drops an oversized header whole; neither passes part of a member.
    let via = &m["baggage_oversize"]["via_otelwright"];
    let got = fields(via, "baggage");
    assert_eq!(got.len(), 1);
    assert!(got[0].len() <= 8192, "{}", got[0].len());
    let keys: Vec<&String> = via["baggage"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["k0", "k1"], "whole members, from the left, within 8192 bytes");
    assert_eq!(via["baggage"]["k0"].as_str().unwrap().len(), 4000);
    let direct = &m["baggage_oversize"]["direct"];
    assert_eq!(direct["baggage"], serde_json::json!({}));
    assert_eq!(str_of(direct, &["parent", "trace_id"]), tid);

    drop(server);
    let report = telemetry.shutdown().await;
    assert!(report.is_clean(), "{report:?}");
}

/// Issue 16, item 3: OTLP decoded by another implementation. otelwright exports a span, log records and metrics
/// over each protocol (gRPC and HTTP/protobuf through its own encoder, HTTP/JSON through the SDK's exporter); the
/// receiver keeps every payload it decoded; the Python `opentelemetry-proto` bindings decode the same bytes
/// (tests/interop/decode_otlp.py: strict, no field unknown to the .proto files) and serialize them again; that,
/// decoded with prost, must equal the receiver's own decoding of the original payload, message for message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_payloads_decode_the_same_in_python() {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use otelwright_receiver::{Signal, Transport};

    let Some(python) = python() else { return };
    let receiver = Receiver::start().await.expect("receiver");
    receiver.keep_bodies(true);
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson] {
        let endpoint = if protocol == Protocol::Grpc { receiver.grpc_endpoint() } else { receiver.http_endpoint() };
        let telemetry = otelwright::build(
            Config::default()
                .service_name("interop-otlp")
                .protocol(protocol)
                .otlp_endpoint(endpoint)
                .log_format(LogFormat::Off),
        )
        .expect("build");
        emit_every_kind(&telemetry);
        let errors = telemetry.flush().await;
        assert!(errors.is_empty(), "{protocol:?}: {errors:?}");
        let report = telemetry.shutdown().await;
        assert!(report.is_clean(), "{protocol:?}: {report:?}");
    }

    // Issue 16, log record fields, over every protocol: the event time is set, and an event name only where the
    // user gave one (tracing's synthetic `event file.rs:line` is not one).
    let logs = receiver.logs();
    for transport in [Transport::Grpc, Transport::HttpProtobuf, Transport::HttpJson] {
        let event_name = |body: &str| {
            let found: Vec<_> =
                logs.iter().filter(|l| l.transport == transport && l.body_str().as_deref() == Some(body)).collect();
            assert_eq!(found.len(), 1, "{transport}: one record {body:?}");
            assert_ne!(found[0].record.time_unix_nano, 0, "{transport}: {body:?} carries the event time");
            found[0].record.event_name.clone()
        };
        assert_eq!(event_name("a log record inside a span"), "", "{transport}: no synthetic event name");
        assert_eq!(event_name("an event with a name"), "interop.error", "{transport}");
    }
    assert_eq!(logs.iter().filter(|l| l.record.event_name == "interop.record").count(), 3, "one per protocol");

    let bodies = receiver.bodies();
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        for transport in [Transport::Grpc, Transport::HttpProtobuf, Transport::HttpJson] {
            assert!(
                bodies.iter().any(|b| b.signal == signal && b.transport == transport && !b.body.is_empty()),
                "no {signal} payload over {transport} was kept: {:?}",
                bodies.iter().map(|b| (b.signal, b.transport)).collect::<Vec<_>>()
            );
        }
    }
    let input: String = bodies
        .iter()
        .map(|b| {
            let line = serde_json::json!({"signal": b.signal.as_str(), "transport": b.transport.as_str(), "body": otelwright_receiver::hex(&b.body)});
            format!("{line}\n")
        })
        .collect();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&python)
            .arg(root().join("tests/interop/decode_otlp.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run the Python decoder");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "the Python decoder failed");
    let answers: Vec<Value> = output
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(answers.len(), bodies.len(), "one answer per payload");

    for (body, answer) in bodies.iter().zip(&answers) {
        let what = format!("{} over {}", body.signal, body.transport);
        assert_eq!(answer["ok"], true, "{what}: Python could not decode it: {answer}");
        let python = unhex(str_of(answer, &["protobuf"]));
        let json = body.transport == Transport::HttpJson;
        // The receiver's decoding (prost for protobuf, serde for OTLP/JSON) against Python's, read back by prost.
        fn same<M: prost::Message + Default + PartialEq + serde::de::DeserializeOwned>(
            raw: &[u8],
            json: bool,
            python: &[u8],
        ) -> bool {
            let ours: M = if json { serde_json::from_slice(raw).unwrap() } else { M::decode(raw).unwrap() };
            ours == M::decode(python).unwrap()
        }
        let equal = match body.signal {
            Signal::Traces => same::<ExportTraceServiceRequest>(&body.body, json, &python),
            Signal::Metrics => same::<ExportMetricsServiceRequest>(&body.body, json, &python),
            Signal::Logs => same::<ExportLogsServiceRequest>(&body.body, json, &python),
        };
        assert!(equal, "{what}: Python's decoding differs from the receiver's");
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// One of each thing the encoders write: a span with attributes of every type, arrays, an event, a link with a
/// tracestate and an error status; a `tracing` span and events (the log bridge: a log record inside a span,
/// unicode, an empty string); a log record with a map body, bytes and an event name; and a counter, an up-down
/// counter, a histogram and a gauge.
fn emit_every_kind(telemetry: &otelwright::Telemetry) {
    use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
    use opentelemetry::trace::{
        Link, Span as _, SpanContext, SpanId, Status, TraceFlags, TraceId, TraceState, Tracer as _, TracerProvider as _,
    };
    use opentelemetry::{Array, KeyValue, StringValue, Value as OtelValue};

    let tracer = telemetry.tracer_provider().expect("traces on").tracer("interop.otlp");
    let linked = SpanContext::new(
        TraceId::from(0x0af7651916cd43dd8448eb211c80319c),
        SpanId::from(0xb7ad6b7169203331),
        TraceFlags::new(0x03),
        true,
        "congo=t61rcWkgMzE".parse::<TraceState>().unwrap(),
    );
    let mut span =
        tracer.span_builder("interop every attribute").with_links(vec![Link::with_context(linked)]).start(&tracer);
    span.set_attributes([
        KeyValue::new("str", "héllo ✓"),
        KeyValue::new("empty", ""),
        KeyValue::new("int", -42i64),
        KeyValue::new("max", i64::MAX),
        KeyValue::new("float", 1.5f64),
        KeyValue::new("bool", true),
        KeyValue::new("bools", OtelValue::Array(Array::Bool(vec![true, false]))),
        KeyValue::new("ints", OtelValue::Array(Array::I64(vec![1, -2, 3]))),
        KeyValue::new("floats", OtelValue::Array(Array::F64(vec![0.25, -1e300]))),
        KeyValue::new("strs", OtelValue::Array(Array::String(vec![StringValue::from("a"), StringValue::from("")]))),
    ]);
    span.add_event("interop.event", vec![KeyValue::new("at", "the middle")]);
    span.set_status(Status::error("it failed, on purpose"));
    span.end();

    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        let span = tracing::info_span!("interop tracing span", answer = 42, ratio = 0.5, ok = true, who = "ünïcode");
        let _entered = span.enter();
        tracing::warn!(code = 7, detail = "", "a log record inside a span");
        tracing::error!(name: "interop.error", reason = "boom", "an event with a name");
    });

    let logger = telemetry.logger_provider().expect("logs on").logger("interop.otlp");
    let mut record = logger.create_log_record();
    record.set_severity_number(Severity::Info2);
    record.set_severity_text("INFO2");
    record.set_event_name("interop.record");
    record.set_body(AnyValue::Map(Box::new(
        [
            ("k".into(), AnyValue::from("v")),
            ("n".into(), AnyValue::Int(1)),
            ("list".into(), AnyValue::ListAny(Box::new(vec![AnyValue::Boolean(false), AnyValue::Double(2.5)]))),
        ]
        .into_iter()
        .collect(),
    )));
    record.add_attribute("bytes", AnyValue::Bytes(Box::new(vec![0, 1, 254, 255])));
    record.add_attribute("text", "línea");
    logger.emit(record);

    let meter = telemetry.meter("interop.otlp");
    let attrs = [KeyValue::new("route", "/x"), KeyValue::new("status", 200i64)];
    meter.u64_counter("interop.requests").with_unit("{request}").build().add(3, &attrs);
    meter.i64_up_down_counter("interop.active").build().add(-2, &attrs);
    meter.f64_histogram("interop.duration").with_unit("s").build().record(0.012, &attrs);
    meter.f64_gauge("interop.temperature").build().record(21.5, &[]);
}

//! The server layer end to end, one test per behaviour, each with a pipeline of its own (`otelwright::build`,
//! providers given to the builder) exporting over OTLP to otelwright-receiver: routes and failures by the HTTP
//! conventions, unknown methods, excluded paths, the response headers, the slow-request warning, propagation
//! headers valid and malformed, a streamed response (the span ends after the body), a request abandoned
//! mid-flight, and the metrics' attributes.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::get;
use common::{SERVER, STATUS_ERROR, WAIT, serve, span_named};
use otelwright_http::{DispatchLayer, HttpServerLayer};
use otelwright_receiver::{ReceivedSpan, Receiver};
use otelwright_test_support::{Pipeline, fast_batches};
use tokio::sync::Notify;
use tower::ServiceExt;

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PID: &str = "00f067aa0ba902b7";

/// A pipeline exporting to its own receiver, spans and logs sent 50 ms after they end.
async fn pipeline(service: &str) -> Pipeline {
    Pipeline::start(service, |c| fast_batches(c, Duration::from_millis(50))).await
}

/// The test app behind the layer on `p`'s providers and propagators, with `p`'s subscriber for its logs;
/// `/stream` sends its second chunk when `release` is notified.
fn app(p: &Pipeline, release: Arc<Notify>) -> Router {
    let telemetry = &p.telemetry;
    let layer = HttpServerLayer::builder()
        .tracer_provider(telemetry.tracer_provider().expect("traces are on"))
        .meter_provider(telemetry.meter_provider().expect("metrics are on"))
        .propagator(otelwright::propagator(&otelwright::Config::default()))
        .slow_request_threshold(Some(Duration::from_millis(60)))
        .build();
    Router::new()
        .route("/users/{id}", get(|| async { "ada" }))
        .route("/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(120)).await;
                "late"
            }),
        )
        .route("/health", get(|| async { "ok" }))
        .route("/hang", get(std::future::pending::<&'static str>))
        .route(
            "/stream",
            get(move || {
                let release = release.clone();
                async move {
                    let chunks = futures_util::stream::unfold(0, move |n| {
                        let release = release.clone();
                        async move {
                            match n {
                                0 => Some((Ok::<_, Infallible>("first;"), 1)),
                                1 => {
                                    release.notified().await;
                                    Some((Ok("second"), 2))
                                }
                                _ => None,
                            }
                        }
                    });
                    Body::from_stream(chunks)
                }
            }),
        )
        .layer(layer)
        .layer(DispatchLayer::new(telemetry.dispatch().clone()))
}

/// A pipeline and the app served on an ephemeral port.
async fn start(service: &str) -> (Pipeline, SocketAddr) {
    let p = pipeline(service).await;
    let addr = serve(app(&p, Arc::new(Notify::new()))).await;
    (p, addr)
}

async fn get_path(addr: SocketAddr, path: &str) -> reqwest::Response {
    reqwest::get(format!("http://{addr}{path}")).await.unwrap()
}

/// The span whose `url.path` is `path`.
async fn span_at(receiver: &Receiver, path: &str) -> ReceivedSpan {
    let at = |s: &ReceivedSpan| s.attr_str("url.path").as_deref() == Some(path);
    let spans = receiver.wait_for_spans(|s| s.iter().any(at), WAIT).await.unwrap();
    spans.into_iter().find(at).unwrap()
}

fn sorted_keys<'a>(attributes: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut keys: Vec<&str> = attributes.collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_is_a_server_span_named_by_method_and_route() {
    let (p, addr) = start("server-route").await;
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/users/42?token=abc&page=2"))
        .header("user-agent", "e2e/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let span = span_named(&p.receiver, "GET /users/{id}").await;
    assert_eq!(span.span.kind, SERVER);
    assert_eq!(span.attr_str("http.request.method").as_deref(), Some("GET"));
    assert_eq!(span.attr_str("http.route").as_deref(), Some("/users/{id}"));
    assert_eq!(span.attr_str("url.path").as_deref(), Some("/users/42"));
    assert_eq!(span.attr_str("url.query").as_deref(), Some("token=REDACTED&page=2"));
    assert_eq!(span.attr_str("url.scheme").as_deref(), Some("http"));
    assert_eq!(span.attr_str("http.response.status_code").as_deref(), Some("200"));
    assert_eq!(span.attr_str("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(span.attr_str("server.port"), Some(addr.port().to_string()));
    assert_eq!(span.attr_str("network.peer.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(span.attr_str("client.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(span.attr_str("network.protocol.version").as_deref(), Some("1.1"));
    assert_eq!(span.attr_str("user_agent.original").as_deref(), Some("e2e/1.0"));
    assert!(span.attr_str("http.response.header.x-request-id").unwrap().contains(&request_id));
    assert_eq!(span.status_code(), 0, "2xx leaves the status unset");
    assert!(span.attr("error.type").is_none());
    assert!(span.parent_span_id_hex().is_none(), "no traceparent: a root span");
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_a_request_id_and_the_response_time() {
    let (p, addr) = start("server-headers").await;
    let r = get_path(addr, "/users/1").await;
    assert!(uuid_like(r.headers()["x-request-id"].to_str().unwrap()));
    let response_time = r.headers()["x-response-time"].to_str().unwrap();
    assert!(is_ms_two_decimals(response_time), "{response_time}");
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_request_id_is_kept_and_an_unsafe_one_replaced() {
    let (p, addr) = start("server-request-id").await;
    let http = reqwest::Client::new();
    let r = http.get(format!("http://{addr}/users/7")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = http.get(format!("http://{addr}/users/7")).header("x-request-id", "two words").send().await.unwrap();
    assert!(uuid_like(r.headers()["x-request-id"].to_str().unwrap()));
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_is_an_error_on_a_server_span() {
    let (p, addr) = start("server-5xx").await;
    assert_eq!(get_path(addr, "/fail").await.status(), 500);
    let fail = span_named(&p.receiver, "GET /fail").await;
    assert_eq!(fail.status_code(), STATUS_ERROR);
    assert_eq!(fail.attr_str("error.type").as_deref(), Some("500"));
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_not_an_error_on_a_server_span() {
    let (p, addr) = start("server-4xx").await;
    assert_eq!(get_path(addr, "/missing").await.status(), 404);
    let missing = span_named(&p.receiver, "GET /missing").await;
    assert_eq!(missing.status_code(), 0);
    assert!(missing.attr("error.type").is_none());
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_method_is_other_with_the_original_kept() {
    let (p, addr) = start("server-method").await;
    let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
    let _ = reqwest::Client::new().request(purge, format!("http://{addr}/users/1")).send().await.unwrap();
    let other = span_at(&p.receiver, "/users/1").await;
    assert_eq!(other.attr_str("http.request.method").as_deref(), Some("_OTHER"));
    assert_eq!(other.attr_str("http.request.method_original").as_deref(), Some("PURGE"));
    assert!(other.name().starts_with("HTTP"), "{}", other.name());
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_paths_get_the_headers_but_no_span_and_no_measurement() {
    let (p, addr) = start("server-excluded").await;
    let r = get_path(addr, "/health").await;
    assert!(r.headers().contains_key("x-request-id") && r.headers().contains_key("x-response-time"));
    get_path(addr, "/users/1").await;
    // Spans are exported in order of their end: once the later request's span is in, the excluded one would be.
    span_at(&p.receiver, "/users/1").await;
    assert!(!p.receiver.spans().iter().any(|s| s.attr_str("url.path").as_deref() == Some("/health")));
    let metrics = p.export_metrics("http.server.request.duration").await;
    let duration = metrics.iter().find(|m| m.name() == "http.server.request.duration").unwrap();
    assert!(!duration.histogram_points().iter().any(|p| p.attr_str("http.route").as_deref() == Some("/health")));
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_logs_a_warning_with_its_trace_id() {
    let (p, addr) = start("server-slow").await;
    get_path(addr, "/slow").await;
    let slow = span_named(&p.receiver, "GET /slow").await;
    let is_slow = |l: &otelwright_receiver::ReceivedLog| l.body_str().as_deref() == Some("slow request");
    let logs = p.receiver.wait_for_logs(|l| l.iter().any(is_slow), WAIT).await.unwrap();
    let warn = logs.iter().find(|l| is_slow(l)).unwrap();
    assert_eq!(warn.severity_text(), "WARN");
    assert_eq!(warn.trace_id_hex(), Some(slow.trace_id_hex()));
    assert_eq!(warn.attr_str("http.route").as_deref(), Some("/slow"));
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_traceparent_continues_the_callers_trace() {
    let (p, addr) = start("server-traceparent").await;
    let http = reqwest::Client::new();
    http.get(format!("http://{addr}/users/100"))
        .header("traceparent", format!("00-{TID}-{PID}-01"))
        .send()
        .await
        .unwrap();
    let child = span_at(&p.receiver, "/users/100").await;
    assert_eq!(child.trace_id_hex(), TID);
    assert_eq!(child.parent_span_id_hex().as_deref(), Some(PID));
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_propagation_headers_start_new_traces_and_never_fail_the_request() {
    let (p, addr) = start("server-malformed").await;
    let malformed: [(&str, Vec<(&str, String)>); 5] = [
        ("/users/101", vec![("traceparent", format!("00-{}-{PID}-01", TID.to_uppercase()))]),
        ("/users/102", vec![("traceparent", format!("00-{}-{PID}-01", "0".repeat(32)))]),
        ("/users/103", vec![("traceparent", format!("ff-{TID}-{PID}-01"))]),
        (
            "/users/104",
            vec![("traceparent", format!("00-{TID}-{PID}-01")), ("traceparent", format!("00-{TID}-{PID}-01"))],
        ),
        ("/users/105", vec![("traceparent", "garbage".to_owned()), ("tracestate", "a=1".to_owned())]),
    ];
    let http = reqwest::Client::new();
    for (path, headers) in &malformed {
        let mut req = http.get(format!("http://{addr}{path}"));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        assert_eq!(req.send().await.unwrap().status(), 200, "{path}");
    }
    for (path, _) in &malformed {
        let s = span_at(&p.receiver, path).await;
        assert!(s.parent_span_id_hex().is_none(), "{path}: a new root span");
        assert_ne!(s.trace_id_hex(), TID, "{path}: a new trace");
    }
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_tracestate_is_dropped_and_the_parent_kept() {
    let (p, addr) = start("server-tracestate").await;
    reqwest::Client::new()
        .get(format!("http://{addr}/users/106"))
        .header("traceparent", format!("00-{TID}-{PID}-01"))
        .header("tracestate", "Bad-Key=1")
        .send()
        .await
        .unwrap();
    let s = span_at(&p.receiver, "/users/106").await;
    assert_eq!(s.parent_span_id_hex().as_deref(), Some(PID));
    assert_eq!(s.span.trace_state, "");
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_response_ends_its_span_after_the_last_chunk() {
    let p = pipeline("server-stream").await;
    let release = Arc::new(Notify::new());
    let addr = serve(app(&p, release.clone())).await;
    let mut r = get_path(addr, "/stream").await;
    assert_eq!(r.chunk().await.unwrap().as_deref(), Some(&b"first;"[..]));
    assert!(p.telemetry.flush().await.is_empty());
    assert!(!p.receiver.spans().iter().any(|s| s.name() == "GET /stream"), "the span must not end before the body");
    release.notify_one();
    assert_eq!(r.chunk().await.unwrap().as_deref(), Some(&b"second"[..]));
    assert!(r.chunk().await.unwrap().is_none());
    let stream = span_named(&p.receiver, "GET /stream").await;
    assert_eq!(stream.attr_str("http.response.status_code").as_deref(), Some("200"));
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_request_still_ends_its_span_and_leaves_active_requests() {
    let p = pipeline("server-abandoned").await;
    let service = app(&p, Arc::new(Notify::new()));
    let request = axum::http::Request::get("/hang").body(Body::empty()).unwrap();
    let mut pending = Box::pin(service.oneshot(request));
    // One poll runs the layer and reaches the handler, which never answers; dropping the future abandons it.
    assert!(futures_util::FutureExt::now_or_never(&mut pending).is_none(), "the handler never answers");
    drop(pending);
    let hang = span_named(&p.receiver, "GET /hang").await;
    assert!(hang.attr("http.response.status_code").is_none());
    assert_eq!(hang.status_code(), 0, "a cancellation is not an error");
    let metrics = p.export_metrics("http.server.active_requests").await;
    let active = metrics.iter().find(|m| m.name() == "http.server.active_requests").unwrap();
    assert!(active.number_points().iter().all(|p| p.value == 0.0), "{:?}", active.number_points());
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_duration_carries_exactly_the_conventions_attributes() {
    let (p, addr) = start("server-duration").await;
    for _ in 0..3 {
        get_path(addr, "/users/1").await;
    }
    get_path(addr, "/fail").await;
    let metrics = p.export_metrics("http.server.request.duration").await;
    let duration = metrics.iter().find(|m| m.name() == "http.server.request.duration").unwrap();
    assert_eq!(duration.unit(), "s");
    let points = duration.histogram_points();
    let users = points
        .iter()
        .find(|p| {
            p.attr_str("http.route").as_deref() == Some("/users/{id}")
                && p.attr_str("http.response.status_code").as_deref() == Some("200")
        })
        .expect("a /users/{id} 200 point");
    assert_eq!(users.count, 3);
    assert_eq!(users.explicit_bounds, otelwright_http::metrics::DURATION_BUCKETS.to_vec());
    assert_eq!(
        sorted_keys(users.attributes.iter().map(|kv| kv.key.as_str())),
        ["http.request.method", "http.response.status_code", "http.route", "network.protocol.version", "url.scheme"]
    );
    let failed = points.iter().find(|p| p.attr_str("http.route").as_deref() == Some("/fail")).unwrap();
    assert_eq!(failed.attr_str("error.type").as_deref(), Some("500"));
    assert_eq!(
        sorted_keys(failed.attributes.iter().map(|kv| kv.key.as_str())),
        [
            "error.type",
            "http.request.method",
            "http.response.status_code",
            "http.route",
            "network.protocol.version",
            "url.scheme"
        ]
    );
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_requests_go_back_to_zero_with_method_and_scheme_only() {
    let (p, addr) = start("server-active").await;
    get_path(addr, "/users/1").await;
    get_path(addr, "/fail").await;
    let metrics = p.export_metrics("http.server.active_requests").await;
    let active = metrics.iter().find(|m| m.name() == "http.server.active_requests").unwrap();
    let points = active.number_points();
    assert!(!points.is_empty());
    for point in points {
        assert_eq!(point.value, 0.0, "{point:?}");
        assert_eq!(
            sorted_keys(point.attributes.iter().map(|kv| kv.key.as_str())),
            ["http.request.method", "url.scheme"]
        );
    }
    p.finish().await;
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

fn is_ms_two_decimals(s: &str) -> bool {
    let Some(num) = s.strip_suffix("ms") else { return false };
    let Some((whole, frac)) = num.split_once('.') else { return false };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 2
        && frac.bytes().all(|b| b.is_ascii_digit())
}

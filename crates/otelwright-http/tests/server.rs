//! The server layer end to end, exporting over OTLP to otelwright-receiver: routes and failures by the HTTP
//! conventions, unknown methods, excluded paths, the response headers, the slow-request warning, malformed
//! propagation headers, a streamed response (the span ends after the body), and a request abandoned mid-flight.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::get;
use common::*;
use otelwright_http::HttpServerLayer;
use tower::ServiceExt;

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PID: &str = "00f067aa0ba902b7";

fn app(release: std::sync::Arc<tokio::sync::Notify>) -> Router {
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
        .layer(HttpServerLayer::builder().slow_request_threshold(Some(Duration::from_millis(60))).build())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_layer_end_to_end() {
    let (receiver, telemetry) = setup("http-server-e2e").await;
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let addr = serve(app(release.clone())).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{addr}{p}");

    // A route with a parameter and a sensitive query value.
    let r = http.get(url("/users/42?token=abc&page=2")).header("user-agent", "e2e/1.0").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid_like(&request_id), "{request_id}");
    let response_time = r.headers()["x-response-time"].to_str().unwrap().to_owned();
    assert!(is_ms_two_decimals(&response_time), "{response_time}");
    let span = span_named(&receiver, "GET /users/{id}").await;
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

    // An incoming request id is kept; an unsafe one is replaced.
    let r = http.get(url("/users/7")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = http.get(url("/users/7")).header("x-request-id", "two words").send().await.unwrap();
    assert!(uuid_like(r.headers()["x-request-id"].to_str().unwrap()));

    // 5xx is an error on a server span, 4xx is not.
    assert_eq!(http.get(url("/fail")).send().await.unwrap().status(), 500);
    let fail = span_named(&receiver, "GET /fail").await;
    assert_eq!(fail.status_code(), STATUS_ERROR);
    assert_eq!(fail.attr_str("error.type").as_deref(), Some("500"));
    assert_eq!(http.get(url("/missing")).send().await.unwrap().status(), 404);
    let missing = span_named(&receiver, "GET /missing").await;
    assert_eq!(missing.status_code(), 0);
    assert!(missing.attr("error.type").is_none());

    // An unknown method is _OTHER, with the original kept; the span name uses HTTP.
    let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
    let _ = http.request(purge, url("/users/1")).send().await.unwrap();
    let spans = receiver
        .wait_for_spans(
            |s| s.iter().any(|s| s.attr_str("http.request.method_original").as_deref() == Some("PURGE")),
            WAIT,
        )
        .await
        .unwrap();
    let other = spans.iter().find(|s| s.attr_str("http.request.method_original").as_deref() == Some("PURGE")).unwrap();
    assert_eq!(other.attr_str("http.request.method").as_deref(), Some("_OTHER"));
    assert!(other.name().starts_with("HTTP"), "{}", other.name());

    // Excluded paths get the headers but no span.
    let r = http.get(url("/health")).send().await.unwrap();
    assert!(r.headers().contains_key("x-request-id") && r.headers().contains_key("x-response-time"));

    // A slow request logs a warning carrying its trace id.
    http.get(url("/slow")).send().await.unwrap();
    let slow = span_named(&receiver, "GET /slow").await;
    let logs = receiver
        .wait_for_logs(|l| l.iter().any(|l| l.body_str().as_deref() == Some("slow request")), WAIT)
        .await
        .unwrap();
    let warn = logs.iter().find(|l| l.body_str().as_deref() == Some("slow request")).unwrap();
    assert_eq!(warn.severity_text(), "WARN");
    assert_eq!(warn.trace_id_hex(), Some(slow.trace_id_hex()));
    assert_eq!(warn.attr_str("http.route").as_deref(), Some("/slow"));

    // Valid traceparent: the server span continues the caller's trace.
    http.get(url("/users/100")).header("traceparent", format!("00-{TID}-{PID}-01")).send().await.unwrap();
    let spans = receiver
        .wait_for_spans(|s| s.iter().any(|s| s.attr_str("url.path").as_deref() == Some("/users/100")), WAIT)
        .await
        .unwrap();
    let child = spans.iter().find(|s| s.attr_str("url.path").as_deref() == Some("/users/100")).unwrap();
    assert_eq!(child.trace_id_hex(), TID);
    assert_eq!(child.parent_span_id_hex().as_deref(), Some(PID));

    // Malformed propagation headers start new traces, and never fail the request.
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
    for (path, headers) in &malformed {
        let mut req = http.get(url(path));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        assert_eq!(req.send().await.unwrap().status(), 200, "{path}");
    }
    let spans = receiver
        .wait_for_spans(
            |s| malformed.iter().all(|(p, _)| s.iter().any(|s| s.attr_str("url.path").as_deref() == Some(*p))),
            WAIT,
        )
        .await
        .unwrap();
    for (path, _) in &malformed {
        let s = spans.iter().find(|s| s.attr_str("url.path").as_deref() == Some(*path)).unwrap();
        assert!(s.parent_span_id_hex().is_none(), "{path}: a new root span");
        assert_ne!(s.trace_id_hex(), TID, "{path}: a new trace");
    }

    // Valid traceparent with an invalid tracestate: the parent is kept, the tracestate dropped.
    http.get(url("/users/106"))
        .header("traceparent", format!("00-{TID}-{PID}-01"))
        .header("tracestate", "Bad-Key=1")
        .send()
        .await
        .unwrap();
    let spans = receiver
        .wait_for_spans(|s| s.iter().any(|s| s.attr_str("url.path").as_deref() == Some("/users/106")), WAIT)
        .await
        .unwrap();
    let s = spans.iter().find(|s| s.attr_str("url.path").as_deref() == Some("/users/106")).unwrap();
    assert_eq!(s.parent_span_id_hex().as_deref(), Some(PID));
    assert_eq!(s.span.trace_state, "");

    // A streamed response: the span ends only after the last chunk has been sent.
    let mut r = http.get(url("/stream")).send().await.unwrap();
    assert_eq!(r.chunk().await.unwrap().as_deref(), Some(&b"first;"[..]));
    assert!(telemetry.flush().await.is_empty());
    assert!(!receiver.spans().iter().any(|s| s.name() == "GET /stream"), "the span must not end before the body");
    release.notify_one();
    assert_eq!(r.chunk().await.unwrap().as_deref(), Some(&b"second"[..]));
    assert!(r.chunk().await.unwrap().is_none());
    let stream = span_named(&receiver, "GET /stream").await;
    assert_eq!(stream.attr_str("http.response.status_code").as_deref(), Some("200"));

    // A request abandoned before the response: the span still ends, active_requests goes back down.
    let service = app(release.clone());
    let request = axum::http::Request::get("/hang").body(Body::empty()).unwrap();
    let mut pending = Box::pin(service.oneshot(request));
    // One poll runs the layer and reaches the handler, which never answers; dropping the future abandons it.
    assert!(futures_util::FutureExt::now_or_never(&mut pending).is_none(), "the handler never answers");
    drop(pending);
    let hang = span_named(&receiver, "GET /hang").await;
    assert!(hang.attr("http.response.status_code").is_none());
    assert_eq!(hang.status_code(), 0, "a cancellation is not an error");

    // Metrics: durations with exactly the conventions' attributes and buckets; nothing left active.
    let duration = metric(&receiver, &telemetry, "http.server.request.duration").await;
    assert_eq!(duration.unit(), "s");
    let points = duration.histogram_points();
    let users = points
        .iter()
        .find(|p| {
            p.attr_str("http.route").as_deref() == Some("/users/{id}")
                && p.attr_str("http.response.status_code").as_deref() == Some("200")
        })
        .expect("a /users/{id} 200 point");
    assert!(users.count >= 3, "{}", users.count);
    assert_eq!(users.explicit_bounds, otelwright_http::metrics::DURATION_BUCKETS.to_vec());
    let mut keys: Vec<&str> = users.attributes.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["http.request.method", "http.response.status_code", "http.route", "network.protocol.version", "url.scheme"]
    );
    let failed = points.iter().find(|p| p.attr_str("http.route").as_deref() == Some("/fail")).unwrap();
    assert_eq!(failed.attr_str("error.type").as_deref(), Some("500"));
    let mut keys: Vec<&str> = failed.attributes.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "error.type",
            "http.request.method",
            "http.response.status_code",
            "http.route",
            "network.protocol.version",
            "url.scheme"
        ]
    );
    assert!(
        !points.iter().any(|p| p.attr_str("http.route").as_deref() == Some("/health")),
        "excluded paths are not measured"
    );
    let active = metric(&receiver, &telemetry, "http.server.active_requests").await;
    assert!(active.number_points().iter().all(|p| p.value == 0.0), "{:?}", active.number_points());
    for p in active.number_points() {
        let mut keys: Vec<&str> = p.attributes.iter().map(|kv| kv.key.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["http.request.method", "url.scheme"], "{p:?}");
    }

    let report = telemetry.shutdown().await;
    assert!(report.is_clean(), "{report:?}");
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

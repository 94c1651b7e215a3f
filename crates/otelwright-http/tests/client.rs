//! The client layer end to end, one test per behaviour: a tower HTTP client (hyper-util's) and a tonic channel
//! wrapped in `HttpClientLayer`, talking over real sockets to servers without any layer, and exporting over OTLP
//! to otelwright-receiver through a pipeline of their own (`otelwright::build`, providers given to the builder).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use bytes::Bytes;
use common::{CLIENT, STATUS_ERROR, serve, span_named};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use otelwright_http::client::HttpClientService;
use otelwright_http::{HttpClientLayer, HttpClientLayerBuilder};
use otelwright_receiver::ReceivedMetric;
use otelwright_test_support::{Pipeline, fast_batches};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower::{Layer, ServiceExt};

type HttpClient = HttpClientService<Client<HttpConnector, Empty<Bytes>>>;

/// A pipeline exporting to its own receiver, spans sent 50 ms after they end.
async fn pipeline(service: &str) -> Pipeline {
    Pipeline::start(service, |c| fast_batches(c, Duration::from_millis(50))).await
}

/// The client layer's builder on `pipeline`'s providers, injecting W3C trace context (a built pipeline installs
/// no global propagator).
fn builder(pipeline: &Pipeline) -> HttpClientLayerBuilder {
    let telemetry = &pipeline.telemetry;
    HttpClientLayer::builder()
        .tracer_provider(telemetry.tracer_provider().expect("traces are on"))
        .meter_provider(telemetry.meter_provider().expect("metrics are on"))
        .propagator(TraceContextPropagator::new())
}

/// hyper-util's client behind `layer`.
fn http_client(layer: HttpClientLayer) -> HttpClient {
    layer.layer(Client::builder(TokioExecutor::new()).build_http())
}

/// GET `uri` through the default client layer on `p`'s providers: the status and body, or the client's error.
async fn get_path(p: &Pipeline, uri: &str) -> Result<(StatusCode, String), hyper_util::client::legacy::Error> {
    let request = http::Request::get(uri).body(Empty::<Bytes>::new()).unwrap();
    let response = http_client(builder(p).build()).oneshot(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await.expect("the body arrives").to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// An HTTP server without any layer: `/echo` answers with the `traceparent` it received.
async fn http_server() -> SocketAddr {
    let header = |h: &HeaderMap, name: &str| h.get(name).map_or(String::new(), |v| v.to_str().unwrap().to_owned());
    serve(
        Router::new()
            .route("/echo", get(move |h: HeaderMap| async move { header(&h, "traceparent") }))
            .route("/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
            .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no") })),
    )
    .await
}

/// The one point of `metric` whose attributes include `key` = `value`.
fn point(metric: &[ReceivedMetric], name: &str, key: &str, value: &str) -> otelwright_receiver::HistogramPoint {
    let metric = metric.iter().rev().find(|m| m.name() == name).unwrap_or_else(|| panic!("{name} exported"));
    metric
        .histogram_points()
        .into_iter()
        .find(|p| p.attr_str(key).as_deref() == Some(value))
        .unwrap_or_else(|| panic!("a {name} point with {key}={value}"))
}

fn keys(p: &otelwright_receiver::HistogramPoint) -> Vec<String> {
    let mut keys: Vec<String> = p.attributes.iter().map(|kv| kv.key.clone()).collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_a_client_span_named_by_its_method() {
    let p = pipeline("client-span").await;
    let addr = http_server().await;
    let (status, _) = get_path(&p, &format!("http://{addr}/echo?token=abc&page=2")).await.unwrap();
    assert_eq!(status, 200);
    let span = span_named(&p.receiver, "GET").await;
    assert_eq!(span.kind(), CLIENT);
    assert_eq!(span.attr_str("http.request.method").as_deref(), Some("GET"));
    assert_eq!(span.attr_str("url.full"), Some(format!("http://{addr}/echo?token=REDACTED&page=2")));
    assert_eq!(span.attr_str("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(span.attr_str("server.port"), Some(addr.port().to_string()));
    assert_eq!(span.attr_str("http.response.status_code").as_deref(), Some("200"));
    assert_eq!(span.attr_str("network.protocol.version").as_deref(), Some("1.1"));
    assert_eq!(span.status_code(), 0, "2xx leaves the status unset");
    assert!(span.attr("error.type").is_none());
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_span_context_is_injected_into_the_request_headers() {
    let p = pipeline("client-inject").await;
    let addr = http_server().await;
    let (_, traceparent) = get_path(&p, &format!("http://{addr}/echo")).await.unwrap();
    let span = span_named(&p.receiver, "GET").await;
    // A root the layer started: sampled (0x01) and, its trace id being random, the random flag (0x02).
    assert_eq!(traceparent, format!("00-{}-{}-03", span.trace_id_hex(), span.span_id_hex()));
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_duration_carries_exactly_the_conventions_attributes() {
    let p = pipeline("client-duration").await;
    let addr = http_server().await;
    get_path(&p, &format!("http://{addr}/echo")).await.unwrap();
    let metrics = p.export_metrics("http.client.request.duration").await;
    let duration = metrics.iter().find(|m| m.name() == "http.client.request.duration").unwrap();
    assert_eq!(duration.unit(), "s");
    let ok = point(&metrics, "http.client.request.duration", "http.response.status_code", "200");
    assert_eq!(ok.count, 1);
    assert_eq!(ok.explicit_bounds, otelwright_http::metrics::DURATION_BUCKETS.to_vec());
    assert_eq!(ok.attr_str("server.port"), Some(addr.port().to_string()));
    assert_eq!(
        keys(&ok),
        [
            "http.request.method",
            "http.response.status_code",
            "network.protocol.version",
            "server.address",
            "server.port"
        ]
    );
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_is_an_error_with_its_status_as_error_type() {
    let p = pipeline("client-5xx").await;
    let addr = http_server().await;
    let (status, _) = get_path(&p, &format!("http://{addr}/fail")).await.unwrap();
    assert_eq!(status, 500);
    let span = span_named(&p.receiver, "GET").await;
    assert_eq!(span.status_code(), STATUS_ERROR);
    assert_eq!(span.attr_str("error.type").as_deref(), Some("500"));
    let metrics = p.export_metrics("http.client.request.duration").await;
    let failed = point(&metrics, "http.client.request.duration", "http.response.status_code", "500");
    assert_eq!(failed.attr_str("error.type").as_deref(), Some("500"));
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_an_error_on_a_client() {
    let p = pipeline("client-4xx").await;
    let addr = http_server().await;
    let (status, _) = get_path(&p, &format!("http://{addr}/missing")).await.unwrap();
    assert_eq!(status, 404);
    let span = span_named(&p.receiver, "GET").await;
    assert_eq!(span.status_code(), STATUS_ERROR, "from 400 up, a client's request failed");
    assert_eq!(span.attr_str("error.type").as_deref(), Some("404"));
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_failure_is_an_error_named_by_its_type() {
    let p = pipeline("client-refused").await;
    // A port that was just free: nothing listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let error = get_path(&p, &format!("http://{closed}/echo")).await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    let error_type = std::any::type_name::<hyper_util::client::legacy::Error>();
    let span = span_named(&p.receiver, "GET").await;
    assert_eq!(span.status_code(), STATUS_ERROR);
    assert_eq!(span.attr_str("error.type").as_deref(), Some(error_type));
    assert!(span.attr("http.response.status_code").is_none(), "no response, no status");
    let metrics = p.export_metrics("http.client.request.duration").await;
    let failed = point(&metrics, "http.client.request.duration", "error.type", error_type);
    assert_eq!(
        keys(&failed),
        ["error.type", "http.request.method", "network.protocol.version", "server.address", "server.port"]
    );
    p.finish().await;
}

/// A tonic-health server without any layer, serving `recommender`.
async fn grpc_server() -> SocketAddr {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter.set_service_status("recommender", tonic_health::ServingStatus::Serving).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming =
        futures_util::stream::unfold(listener, |l| async move { Some((l.accept().await.map(|(s, _)| s), l)) });
    tokio::spawn(async move {
        let _keep = reporter;
        tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming).await.unwrap();
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_call_is_measured_by_the_rpc_client_conventions() {
    const RPC: &str = "grpc.health.v1.Health/Check";
    let p = pipeline("client-grpc").await;
    let grpc = grpc_server().await;
    let target = format!("http://{grpc}");
    let channel = tonic::transport::Endpoint::from_shared(target.clone()).unwrap().connect().await.unwrap();
    let mut client = HealthClient::new(builder(&p).target(&target).build().layer(channel));
    client.check(HealthCheckRequest { service: "recommender".into() }).await.unwrap();
    let missing = client.check(HealthCheckRequest { service: "nope".into() }).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    let span = span_named(&p.receiver, RPC).await;
    assert_eq!(span.kind(), CLIENT);
    assert_eq!(span.attr_str("rpc.system.name").as_deref(), Some("grpc"));
    assert_eq!(span.attr_str("rpc.method").as_deref(), Some(RPC));
    assert_eq!(span.attr_str("server.port"), Some(grpc.port().to_string()));

    let metrics = p.export_metrics("rpc.client.call.duration").await;
    let ok = point(&metrics, "rpc.client.call.duration", "rpc.response.status_code", "OK");
    assert_eq!(
        keys(&ok),
        ["rpc.method", "rpc.response.status_code", "rpc.system.name", "server.address", "server.port"]
    );
    assert_eq!(ok.explicit_bounds, otelwright_http::metrics::DURATION_BUCKETS.to_vec());
    let not_found = point(&metrics, "rpc.client.call.duration", "rpc.response.status_code", "NOT_FOUND");
    assert_eq!(not_found.attr_str("error.type").as_deref(), Some("NOT_FOUND"), "every code but OK is an error");
    assert!(
        !metrics.iter().any(|m| m.name() == "http.client.request.duration"),
        "a gRPC call is not also an HTTP measurement"
    );
    p.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_outside_the_configured_set_is_other() {
    let p = pipeline("client-methods").await;
    let addr = http_server().await;
    let client = http_client(builder(&p).known_methods(["GET"]).build());
    let request = http::Request::post(format!("http://{addr}/echo")).body(Empty::<Bytes>::new()).unwrap();
    let response = client.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 405);
    drop(response); // the span ends with the body
    let span = span_named(&p.receiver, "HTTP").await;
    assert_eq!(span.attr_str("http.request.method").as_deref(), Some("_OTHER"));
    assert_eq!(span.attr_str("http.request.method_original").as_deref(), Some("POST"));
    p.finish().await;
}

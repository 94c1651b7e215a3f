//! `Telemetry` as the one object a service wires (issue 17): what it hands out records into its own pipeline,
//! without any global provider or subscriber (`otelwright::build`), and carries the settings `Config::from_env`
//! read. One test per behaviour, each through real sockets into otelwright-receiver.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use otelwright::Config;
use otelwright_test_support::{Pipeline, WAIT, fast_batches};
use tracing_subscriber::layer::SubscriberExt as _;

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const STATUS_ERROR: i32 = 2;

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn fast(config: Config) -> Config {
    fast_batches(config, Duration::from_millis(100))
}

/// A pipeline whose settings come from `vars` as `Config::from_env_vars` reads them, exporting to a new receiver.
async fn from_env(service: &str, vars: &[(&str, &str)]) -> Pipeline {
    let receiver = otelwright_receiver::Receiver::start().await.unwrap();
    let config = Config::from_env_vars(vars.iter().copied());
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    let config = config
        .service_name(service)
        .protocol(otelwright::Protocol::Grpc)
        .otlp_endpoint(receiver.grpc_endpoint())
        .log_format(otelwright::LogFormat::Off);
    let telemetry = otelwright::build(fast(config)).unwrap();
    Pipeline { receiver, telemetry }
}

#[tokio::test]
async fn the_server_layer_records_into_its_own_pipeline() {
    let p = Pipeline::start("wired-server", fast).await;
    let app = Router::new().route("/items/{id}", get(|| async { "ok" })).layer(p.telemetry.server_layer());
    let addr = serve(app).await;
    let response = reqwest::get(format!("http://{addr}/items/7")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let spans = p.receiver.wait_for_spans(|s| s.iter().any(|s| s.kind() == SERVER), WAIT).await.unwrap();
    let span = spans.iter().find(|s| s.kind() == SERVER).unwrap();
    assert_eq!(span.name(), "GET /items/{id}");
    assert_eq!(span.resource_str("service.name").as_deref(), Some("wired-server"));
    let metrics = p.export_metrics("http.server.request.duration").await;
    let duration = metrics.iter().find(|m| m.name() == "http.server.request.duration").unwrap();
    assert_eq!(duration.scope_name(), "otelwright-http");
    p.finish().await;
}

#[tokio::test]
async fn the_reqwest_middleware_continues_the_trace_in_the_server() {
    let p = Pipeline::start("wired-client", fast).await;
    let app = Router::new().route("/", get(|| async { "ok" })).layer(p.telemetry.server_layer());
    let addr = serve(app).await;
    let client =
        reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).with(p.telemetry.reqwest_middleware()).build();
    assert_eq!(client.get(format!("http://{addr}/")).send().await.unwrap().status(), 200);
    let pred = |s: &[otelwright_receiver::ReceivedSpan]| {
        s.iter().any(|s| s.kind() == SERVER) && s.iter().any(|s| s.kind() == CLIENT)
    };
    let spans = p.receiver.wait_for_spans(pred, WAIT).await.unwrap();
    let server = spans.iter().find(|s| s.kind() == SERVER).unwrap();
    let client = spans.iter().find(|s| s.kind() == CLIENT).unwrap();
    assert_eq!(server.trace_id_hex(), client.trace_id_hex(), "one trace across the call");
    assert_eq!(server.parent_span_id_hex(), Some(client.span_id_hex()));
    p.finish().await;
}

#[tokio::test]
async fn the_slow_request_threshold_comes_from_the_config() {
    let p = from_env("wired-slow", &[("OTELWRIGHT_SLOW_REQUEST_MS", "1")]).await;
    let slow = || async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        "late"
    };
    // The layer logs through the request's subscriber: `dispatch_layer` makes it this pipeline's.
    let app =
        Router::new().route("/slow", get(slow)).layer(p.telemetry.server_layer()).layer(p.telemetry.dispatch_layer());
    let addr = serve(app).await;
    assert_eq!(reqwest::get(format!("http://{addr}/slow")).await.unwrap().status(), 200);
    let logs = p.receiver.wait_for_logs(|l| l.iter().any(|l| l.body_str().as_deref() == Some("slow request")), WAIT);
    logs.await.expect("a `slow request` log record");
    p.finish().await;
}

#[tokio::test]
async fn the_known_http_methods_come_from_the_config() {
    let p = from_env("wired-methods", &[("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,PURGE")]).await;
    let app = Router::new().route("/", axum::routing::any(|| async { "ok" })).layer(p.telemetry.server_layer());
    let addr = serve(app).await;
    let client = reqwest::Client::new();
    for method in ["PURGE", "PUT"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        assert_eq!(client.request(method, format!("http://{addr}/")).send().await.unwrap().status(), 200);
    }
    let spans = p.receiver.wait_for_spans(|s| s.iter().filter(|s| s.kind() == SERVER).count() == 2, WAIT).await;
    let mut methods: Vec<(String, Option<String>)> = spans
        .unwrap()
        .iter()
        .map(|s| (s.attr_str("http.request.method").unwrap(), s.attr_str("http.request.method_original")))
        .collect();
    methods.sort();
    // PURGE is known by the variable; PUT, known by default, is not in the list that replaced the default.
    assert_eq!(methods, [("PURGE".to_owned(), None), ("_OTHER".to_owned(), Some("PUT".to_owned()))]);
    p.finish().await;
}

#[test]
fn the_environment_is_read_once_by_the_config() {
    let config = Config::from_env_vars([
        ("OTELWRIGHT_SLOW_REQUEST_MS", "soon"),
        ("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET, PURGE"),
        ("OTELWRIGHT_METRICS_TOKEN", "s3cret"),
    ]);
    let warned: Vec<&str> = config.warnings().iter().map(|w| w.variable.as_str()).collect();
    assert_eq!(warned, ["OTELWRIGHT_SLOW_REQUEST_MS"], "a bad value warns and keeps the default");
    assert!(!format!("{config:?}").contains("s3cret"), "the token never shows in Debug");
}

#[tokio::test]
async fn the_health_endpoints_take_the_token_from_the_config() {
    let p = from_env("wired-health", &[("OTELWRIGHT_METRICS_TOKEN", "s3cret")]).await;
    let meters = p.telemetry.meters().unwrap();
    let health = p.telemetry.health(&meters).build();
    assert!(!health.serves_prometheus(), "no readers without `metrics_endpoints`");
    let addr = serve(health.router()).await;
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/v1/metrics");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 401);
    let ok = client.get(&url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    p.finish().await;
}

#[tokio::test]
async fn metrics_endpoints_serve_prometheus_from_the_pipeline() {
    let p = Pipeline::start("wired-prometheus", |c| c.metrics_endpoints(true)).await;
    let meters = p.telemetry.meters().unwrap();
    let app = Router::new().route("/", get(|| async { "ok" })).layer(p.telemetry.server_layer());
    let app = app.merge(p.telemetry.health(&meters).build().router());
    let addr = serve(app).await;
    assert_eq!(reqwest::get(format!("http://{addr}/")).await.unwrap().status(), 200);
    let text = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap();
    assert!(text.contains("http_server_request_duration_seconds_bucket"), "{text}");
    p.finish().await;
}

#[tokio::test]
async fn the_meters_register_on_the_pipeline_with_their_scope() {
    let p = Pipeline::start("wired-meters", fast).await;
    let meters = p.telemetry.meters().unwrap();
    meters.resources.as_ref().unwrap().refresh();
    let metrics = p.export_metrics("process.cpu.time").await;
    let cpu = metrics.iter().find(|m| m.name() == "process.cpu.time").unwrap();
    assert_eq!(cpu.scope_name(), "otelwright-meters");
    assert_eq!(cpu.scope.version, env!("CARGO_PKG_VERSION"));
    p.finish().await;
}

/// Records what reaches it, to prove a user's own layer sees the same events as the telemetry's.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Seen {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.lock().unwrap().push(event.metadata().level().to_string());
    }
}

#[tokio::test]
async fn layers_compose_with_a_layer_of_your_own() {
    let p = Pipeline::start("wired-layers", fast).await;
    let seen = Seen::default();
    let subscriber = tracing_subscriber::registry().with(p.telemetry.layers()).with(seen.clone());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("work");
        let _entered = span.enter();
        tracing::info!("step");
        tracing::error!("failed"); // marks the span's status as Error, as with `init`'s subscriber
    });
    assert_eq!(*seen.0.lock().unwrap(), ["INFO", "ERROR"]);
    let spans = p.receiver.wait_for_spans(|s| s.iter().any(|s| s.name() == "work"), WAIT).await.unwrap();
    let work = spans.iter().find(|s| s.name() == "work").unwrap();
    assert_eq!(work.status_code(), STATUS_ERROR);
    let logs = p.receiver.wait_for_logs(|l| l.len() >= 2, WAIT).await.unwrap();
    assert!(logs.iter().all(|l| l.trace_id_hex().as_deref() == Some(work.trace_id_hex().as_str())));
    p.finish().await;
}

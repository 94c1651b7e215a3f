//! Runs each one-topic example binary against an OTLP receiver (real gRPC sockets), as a user would run it with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, and checks that what it shows arrived: one test per example.

use std::process::Command;

use otelwright_receiver::{ReceivedMetric, ReceivedSpan, Receiver};

const SERVER: i32 = 2;
const CLIENT: i32 = 3;

/// What one run of an example left: its stdout, and the receiver holding everything it exported.
struct Run {
    stdout: String,
    receiver: Receiver,
}

impl Run {
    fn spans(&self) -> Vec<ReceivedSpan> {
        self.receiver.spans()
    }

    fn metric(&self, name: &str) -> ReceivedMetric {
        let metrics = self.receiver.metrics();
        let found = metrics.iter().rev().find(|m| m.name() == name).cloned();
        found.unwrap_or_else(|| panic!("no {name} among {:?}", metrics.iter().map(|m| m.name()).collect::<Vec<_>>()))
    }
}

/// Runs the example `bin` to its end (its shutdown flushes every signal), failing on a non-zero exit.
async fn run(bin: &str) -> Run {
    let receiver = Receiver::start().await.unwrap();
    let mut command = Command::new(bin);
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTELWRIGHT_LOG_FORMAT", "off")
        .env_remove("OTEL_SERVICE_NAME");
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{bin}: {}\n{stdout}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    // The shutdown returned only after every export was answered, and the receiver stores before it answers.
    Run { stdout, receiver }
}

#[tokio::test]
async fn axum_sqlx_traces_each_query_inside_its_request() {
    let run = run(env!("CARGO_BIN_EXE_axum-sqlx")).await;
    assert!(
        run.stdout.contains("GET /users/1 -> 200 OK") && run.stdout.contains("GET /users/2 -> 404"),
        "{}",
        run.stdout
    );
    let spans = run.spans();
    let query = spans.iter().find(|s| s.name() == "SELECT users" && s.kind() == CLIENT).expect("the query span");
    assert_eq!(query.attr_str("db.system.name").as_deref(), Some("sqlite"));
    let parent = spans.iter().find(|s| Some(s.span_id_hex()) == query.parent_span_id_hex()).expect("its parent");
    assert_eq!((parent.name(), parent.kind()), ("GET /users/{id}", SERVER));
    let wait = run.metric("db.client.connection.wait_time");
    assert!(wait.histogram_points().iter().any(|p| p.count >= 2), "each query waited for a connection");
    assert!(!run.metric("db.client.connection.count").number_points().is_empty());
}

#[tokio::test]
async fn reqwest_client_calls_join_the_server_trace() {
    let run = run(env!("CARGO_BIN_EXE_reqwest-client")).await;
    let spans = run.spans();
    let clients: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.kind() == CLIENT).collect();
    assert_eq!(clients.len(), 3, "{spans:?}");
    for client in clients {
        let server = spans.iter().find(|s| s.kind() == SERVER && s.parent_span_id_hex() == Some(client.span_id_hex()));
        assert!(server.is_some_and(|s| s.trace_id_hex() == client.trace_id_hex()), "the server continues {client:?}");
    }
    assert_eq!(run.metric("http.client.request.duration").histogram_points()[0].count, 3);
}

#[tokio::test]
async fn tonic_records_rpc_spans_and_metrics_on_both_sides() {
    let run = run(env!("CARGO_BIN_EXE_tonic")).await;
    let spans = run.spans();
    let servers: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.kind() == SERVER).collect();
    assert_eq!(servers.len(), 2);
    assert!(servers.iter().all(|s| s.name() == "recommender.v1.Recommender/Recommend"));
    let status = |s: &&ReceivedSpan| s.attr_str("rpc.response.status_code");
    assert!(servers.iter().any(|s| status(s).as_deref() == Some("INVALID_ARGUMENT")));
    // The caller's mistake is an error for the client only (semconv, RPC spans: a server counts only UNKNOWN,
    // DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS).
    assert!(servers.iter().all(|s| s.attr_str("error.type").is_none()));
    let clients: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.kind() == CLIENT).collect();
    assert!(clients.iter().any(|s| s.attr_str("error.type").as_deref() == Some("INVALID_ARGUMENT")));
    run.metric("rpc.server.call.duration");
    run.metric("rpc.client.call.duration");
}

#[tokio::test]
async fn custom_metrics_arrive_with_their_units() {
    let run = run(env!("CARGO_BIN_EXE_custom-metrics")).await;
    let orders = run.metric("shop.orders");
    assert_eq!(orders.unit(), "{order}");
    assert_eq!(orders.values().iter().sum::<f64>(), 3.0);
    let basket = run.metric("shop.basket.value");
    assert_eq!(basket.histogram_points().iter().map(|p| p.count).sum::<u64>(), 3);
    assert_eq!(run.metric("shop.stock.level").values(), [111.0]);
    assert_eq!(run.metric("shop.carts.open").values(), [0.0]);
}

#[tokio::test]
async fn measured_counts_calls_by_outcome() {
    let run = run(env!("CARGO_BIN_EXE_measured")).await;
    let calls = run.metric("function.calls");
    let outcome = |name: &str, outcome: &str| {
        calls
            .number_points()
            .iter()
            .filter(|p| {
                p.attr_str("function.name").as_deref() == Some(name)
                    && p.attr_str("outcome").as_deref() == Some(outcome)
            })
            .map(|p| p.value)
            .sum::<f64>()
    };
    assert_eq!((outcome("agent.plan", "ok"), outcome("agent.plan", "error")), (1.0, 1.0));
    assert_eq!(run.spans().iter().filter(|s| s.name() == "agent.plan").count(), 2);
    assert_eq!(run.metric("function.calls.active").values(), [0.0]);
    assert_eq!(run.metric("agent.tokens").values().iter().sum::<f64>(), 5.0);
}

#[tokio::test]
async fn own_subscriber_keeps_the_pipeline_and_adds_a_file() {
    let run = run(env!("CARGO_BIN_EXE_own-subscriber")).await;
    let import = run.spans().into_iter().find(|s| s.name() == "nightly import").expect("the span");
    let logs = run.receiver.logs();
    assert_eq!(logs.len(), 2, "both events are log records");
    assert!(logs.iter().all(|l| l.trace_id_hex() == Some(import.trace_id_hex())));
    let file = std::fs::read_to_string(std::env::temp_dir().join("own-subscriber.log")).unwrap();
    assert!(file.contains("rows without an id") && !file.contains("imported"), "{file}");
}

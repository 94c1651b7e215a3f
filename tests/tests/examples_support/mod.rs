//! The example services end to end: recommender and health-agent run in this test process, each with its own
//! `otelwright::build` pipeline exporting over OTLP/gRPC to otelwright-receiver, and one chat request must arrive
//! as ONE trace: health-agent's SERVER span, its cache and DB spans, its gRPC CLIENT span and recommender's SERVER
//! span (and its `rank` span), with the log records of that request carrying the trace id and the pool, cache,
//! resource and request meters reaching the receiver. `examples_embedded.rs` runs it on SQLite + moka,
//! `examples_postgres.rs` on PostgreSQL + Redis.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use otelwright::health::HealthReaders;
use otelwright::{Config, Telemetry};
use otelwright_demo::health_agent::{self, HealthAgentConfig, RunningAgent};
use otelwright_demo::recommender;
use otelwright_receiver::{ReceivedMetric, ReceivedSpan, Receiver};

pub const WAIT: Duration = Duration::from_secs(30);
const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const RPC: &str = "recommender.v1.Recommender/Recommend";

/// The receiver and both services.
pub struct Stack {
    pub receiver: Receiver,
    pub agent: RunningAgent,
    pub recommender: recommender::Running,
    agent_telemetry: Telemetry,
    recommender_telemetry: Telemetry,
    dir: PathBuf,
    http: reqwest::Client,
}

fn pipeline(service: &str, receiver: &Receiver) -> Config {
    let config = otelwright_test_support::config(receiver, service).metric_interval(Duration::from_millis(500));
    otelwright_test_support::fast_batches(config, Duration::from_millis(200))
}

/// Starts the receiver, recommender and health-agent (SQLite and moka unless URLs are given).
pub async fn start(name: &str, database_url: Option<String>, redis_url: Option<String>) -> Stack {
    let receiver = Receiver::start().await.expect("receiver starts");
    let config =
        HealthAgentConfig { addr: ([127, 0, 0, 1], 0).into(), database_url, redis_url, ..HealthAgentConfig::default() };
    let recommender_telemetry = otelwright::build(pipeline("recommender", &receiver)).unwrap();
    let readers = HealthReaders::new().request_window(Duration::from_secs(60), Duration::from_millis(500));
    let agent_telemetry = otelwright::build(pipeline("health-agent", &receiver).health_readers(readers)).unwrap();
    // `#[otelwright::measured]` records through the global meter provider (one test per binary sets it).
    otelwright::measure::set_global_meter_provider(agent_telemetry.meter_provider().unwrap().clone());
    let recommender = recommender::serve(([127, 0, 0, 1], 0).into(), &recommender_telemetry).await.unwrap();
    let dir = std::env::temp_dir().join(format!("otelwright-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = HealthAgentConfig {
        data_dir: dir.clone(),
        recommender_url: format!("http://{}", recommender.addr()),
        ..config
    };
    let agent = health_agent::run(config, &agent_telemetry).await.expect("health-agent starts");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    Stack { receiver, agent, recommender, agent_telemetry, recommender_telemetry, dir, http }
}

impl Stack {
    /// POSTs `body` to `/api/v1/chat` with `traceparent` in trace `trace_id`; returns status and JSON.
    pub async fn chat(&self, body: &str, trace_id: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/chat", self.agent.base_url()))
            .header("content-type", "application/json")
            .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
            .body(body.to_owned())
            .send()
            .await
            .expect("health-agent answers");
        let status = response.status().as_u16();
        (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default())
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.http.get(format!("{}{path}", self.agent.base_url())).send().await.unwrap();
        let status = response.status().as_u16();
        (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default())
    }

    pub async fn stop(self) {
        self.agent.shutdown().await;
        self.recommender.shutdown().await;
        for t in [self.agent_telemetry, self.recommender_telemetry] {
            let report = t.shutdown().await;
            assert!(report.is_clean(), "{report:?}");
        }
        self.receiver.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A trace id unique to this run.
pub fn trace_id(salt: u64) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    format!("{:016x}{:016x}", u64::from(std::process::id()) << 16 | salt, nanos)
}

fn find<'a>(trace: &[&'a ReceivedSpan], name: &str, kind: i32, service: &str) -> &'a ReceivedSpan {
    trace
        .iter()
        .copied()
        .find(|s| s.name() == name && s.kind() == kind && s.resource_str("service.name").as_deref() == Some(service))
        .unwrap_or_else(|| {
            let all: Vec<_> = trace.iter().map(|s| (s.name(), s.kind(), s.resource_str("service.name"))).collect();
            panic!("no {name} span (kind {kind}) from {service} in {all:?}")
        })
}

/// `span` descends from `ancestor` within `trace`.
fn descends(trace: &[&ReceivedSpan], span: &ReceivedSpan, ancestor: &ReceivedSpan) -> bool {
    let mut parent = span.parent_span_id_hex();
    while let Some(p) = parent {
        if p == ancestor.span_id_hex() {
            return true;
        }
        parent = trace.iter().find(|s| s.span_id_hex() == p).and_then(|s| s.parent_span_id_hex());
    }
    false
}

/// What the storage variant should show.
pub struct Expect {
    pub db_system: &'static str,
    /// `Some((host, port))` for PostgreSQL.
    pub db_server: Option<(String, u16)>,
    pub redis: bool,
}

/// The whole check: one chat request, one trace across both services, correlated logs, meters.
pub async fn one_chat_one_trace(stack: &Stack, expect: &Expect) {
    let tid = trace_id(1);
    let (status, reply) =
        stack.chat(r#"{"user_id":"5","message":"How do I sleep better?","topic":"sleep"}"#, &tid).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["suggestions"].as_array().map(Vec::len), Some(3), "{reply}");
    assert!(reply["input_tokens"].as_u64().unwrap() > 0);

    // The API's other answers, while the spans travel.
    let (status, body) = stack.chat(r#"{"user_id":"5","message":""}"#, &trace_id(2)).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("message")), "{body}");
    let (status, body) = stack.chat("{not json", &trace_id(3)).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "a reason: {body}");
    let (status, body) = stack.chat(r#"{"user_id":"5","message":"hi","topic":"chaos"}"#, &trace_id(4)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(stack.get("/api/v1/users/5").await.0, 200);
    assert_eq!(stack.get("/api/v1/users/nobody").await.0, 404);
    assert_eq!(stack.get("/health/ready").await.0, 200);

    let spans = stack
        .receiver
        .wait_for_spans(
            |s| {
                s.iter().any(|s| s.trace_id_hex() == tid && s.name() == "rank")
                    && s.iter().any(|s| s.trace_id_hex() == tid && s.name() == "POST /api/v1/chat")
            },
            WAIT,
        )
        .await
        .expect("the chat's spans arrive");
    let trace: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.trace_id_hex() == tid).collect();
    let server = find(&trace, "POST /api/v1/chat", SERVER, "health-agent");
    assert_eq!(server.parent_span_id_hex().as_deref(), Some("00f067aa0ba902b7"), "the caller's traceparent");
    let cache = find(&trace, "cache.get users", if expect.redis { CLIENT } else { 1 }, "health-agent");
    assert_eq!(cache.attr_str("cache.name").as_deref(), Some("users"));
    assert!(matches!(cache.attr_str("cache.result").as_deref(), Some("hit" | "miss")));
    if expect.redis {
        assert_eq!(cache.attr_str("db.system.name").as_deref(), Some("redis"));
    }
    let insert = find(&trace, "INSERT conversations", CLIENT, "health-agent");
    assert_eq!(insert.attr_str("db.system.name").as_deref(), Some(expect.db_system));
    assert_eq!(insert.attr_str("db.operation.name").as_deref(), Some("INSERT"));
    assert_eq!(insert.attr_str("db.collection.name").as_deref(), Some("conversations"));
    let text = insert.attr_str("db.query.text").unwrap();
    assert!(text.starts_with("INSERT INTO conversations") && text.contains("$1"), "parameterized: {text}");
    assert!(!text.contains("sleep better"), "no values in the query text: {text}");
    assert!(insert.attr_str("db.namespace").is_some_and(|n| !n.is_empty()));
    match &expect.db_server {
        Some((host, port)) => {
            assert_eq!(insert.attr_str("server.address").as_ref(), Some(host));
            assert_eq!(insert.attr_str("server.port"), Some(port.to_string()));
        }
        None => assert_eq!(insert.attr("server.address"), None),
    }
    let client = find(&trace, RPC, CLIENT, "health-agent");
    assert_eq!(client.attr_str("rpc.system.name").as_deref(), Some("grpc"));
    let remote = find(&trace, RPC, SERVER, "recommender");
    assert_eq!(remote.parent_span_id_hex(), Some(client.span_id_hex()), "recommender continues the client's span");
    let rank = find(&trace, "rank", 1, "recommender");
    for span in [cache, insert, client, remote, rank] {
        assert!(descends(&trace, span, server), "{} is in the request's tree", span.name());
    }

    // The request's log records, from both services, carry its trace id.
    let logs = stack
        .receiver
        .wait_for_logs(
            |l| {
                let of = |service: &str, body: &str| {
                    l.iter().any(|r| {
                        r.trace_id_hex().as_deref() == Some(tid.as_str())
                            && r.body_str().as_deref() == Some(body)
                            && r.resource_str("service.name").as_deref() == Some(service)
                    })
                };
                of("health-agent", "chat answered") && of("recommender", "recommendations ranked")
            },
            WAIT,
        )
        .await;
    assert!(logs.is_ok(), "both services log the request with its trace id");

    // Pool, cache, resource, request and function meters reach the receiver.
    let wanted = |m: &[ReceivedMetric]| {
        let has = |name: &str, service: &str, pred: &dyn Fn(&ReceivedMetric) -> bool| {
            m.iter().any(|m| m.name() == name && m.resource_str("service.name").as_deref() == Some(service) && pred(m))
        };
        let attr_is = |key: &'static str, value: &'static str| {
            move |m: &ReceivedMetric| {
                m.number_points().iter().any(|p| p.attr_str(key).as_deref() == Some(value) && p.value > 0.0)
            }
        };
        has("db.client.connection.max", "health-agent", &attr_is("db.client.connection.pool.name", "main"))
            && has("cache.requests", "health-agent", &attr_is("cache.name", "users"))
            && (!expect.redis || has("cache.requests", "health-agent", &attr_is("cache.name", "redis")))
            && has("process.memory.usage", "health-agent", &|m| m.values().iter().any(|v| *v > 0.0))
            && has("http.server.request.duration", "health-agent", &|m| !m.histogram_points().is_empty())
            && has("rpc.server.call.duration", "recommender", &|m| !m.histogram_points().is_empty())
            && has("function.calls", "health-agent", &attr_is("function.name", "chat.count_tokens"))
            && has("chat.tokens", "health-agent", &attr_is("direction", "input"))
    };
    let metrics = stack.receiver.wait_for_metrics(|m| wanted(m), WAIT).await;
    if metrics.is_err() {
        let names: std::collections::BTreeSet<String> = stack
            .receiver
            .metrics()
            .iter()
            .map(|m| format!("{} ({:?})", m.name(), m.resource_str("service.name")))
            .collect();
        panic!("meters missing; received {names:?}");
    }

    // The JSON snapshot reads the same meters, and its request window the same histogram.
    let mut snapshot = serde_json::Value::Null;
    for _ in 0..50 {
        let (status, body) = stack.get("/api/v1/metrics").await;
        assert_eq!(status, 200);
        snapshot = body;
        if snapshot["requests"]["total_count"].as_u64().unwrap_or(0) >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(snapshot["database"]["name"], "main");
    assert_eq!(snapshot["cache"]["name"], "users");
    assert!(snapshot["cache"]["total_reads"].as_u64().unwrap() >= 2, "{snapshot}");
    assert_eq!(snapshot["system"]["enabled"], true);
    assert!(snapshot["requests"]["total_count"].as_u64().unwrap() >= 5, "the request window: {snapshot}");
    let (status, _) = stack.get("/metrics").await;
    assert_eq!(status, 200, "Prometheus from the same provider");
}

//! The pipeline end to end against the real tools (issue 14, item 3): the gateway collector with the shipped
//! otel-collector.yaml, Prometheus 3 with the shipped prometheus.yml and alert rules, Alertmanager and Jaeger v2
//! (stack_support). health-agent (PostgreSQL + Redis) and recommender run in this process and export OTLP/gRPC to
//! the collector; the demo's mixed load (crates/otelwright-cli/src/demo/load.rs: seven good, one slow, one
//! failing, one invalid request in ten) drives them. Then, through the real APIs:
//! - every PromQL expression of every dashboard, every template variable query and every alert rule returns at
//!   least one series from Prometheus (an alert is queried without its final threshold comparison: the rule's
//!   condition is proven where it fires). The exceptions are listed, with a reason each, in
//!   tests/stack/expected-empty.txt;
//! - a service's own `host.name` survives the gateway and the RED series carry `collector_instance_id`;
//! - every trace tail sampling must keep (errors, slow requests) is in Jaeger with both services' spans, and of
//!   the other traces no more than the probabilistic policy's share (with a binomial margin) is there;
//! - every exemplar on the exemplar panels opens a trace Jaeger has;
//! - both services' log records reach the log backend (an `otelwright-receiver` standing in for Loki) with the
//!   trace ids of their requests;
//! - injected faults (cache misses, PostgreSQL blackholed, a slow measured step, recommender stopped, a burst of
//!   token-heavy chats, the trace exporter at a wrong port, the trace backend hanging with a small queue, the
//!   collector stopped) reach an Alertmanager webhook as their alerts, through a rules overlay with a short `for:`
//!   (thresholds unchanged).
//!
//! The tools come from tests/stack/build.sh; with `CI` set a missing tool or database fails this test, elsewhere it
//! skips saying why.

mod collector_support;
mod stack_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use collector_support::{files_under, is_ci, read, yaml};
use otelwright::health::HealthReaders;
use otelwright::{BatchSettings, Config, LogFormat, Protocol, Telemetry};
use otelwright_demo::health_agent::{self, HealthAgentConfig};
use otelwright_demo::recommender;
use serde_json::Value;
use stack_support::{Stack, Tools, to_json, trace_services};

/// How long the dashboards get to fill once the load runs.
const DATA_DEADLINE: Duration = Duration::from_secs(150);
/// How long Jaeger gets to show the kept traces after the load stops (tail sampling waits `decision_wait`, 10 s).
const TRACE_DEADLINE: Duration = Duration::from_secs(60);
/// What `$__rate_interval` becomes: Grafana's is at least four scrape intervals; Prometheus scrapes every 2 s here.
const RATE_INTERVAL: &str = "1m";

/// One PromQL expression to check, with where it comes from.
#[derive(Debug, Clone)]
struct Check {
    /// `dashboard.json#panel-id/refId`, `dashboard.json$variable`, `dashboard.json@annotation` or `alert:Name`.
    id: String,
    promql: String,
}

/// Grafana's substitution of a dashboard's variables: every variable here is multi-value with "All", whose value
/// is its `allValue` (`.*`); `$__rate_interval` is [`RATE_INTERVAL`].
fn substitute(expr: &str, variables: &BTreeMap<String, String>) -> String {
    let mut s = expr.replace("${__rate_interval}", RATE_INTERVAL).replace("$__rate_interval", RATE_INTERVAL);
    // Longest names first, so that `$service_name` is not cut at `$service`.
    let mut names: Vec<&String> = variables.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in names {
        let value = &variables[name];
        s = s.replace(&format!("${{{name}}}"), value).replace(&format!("${name}"), value);
    }
    assert!(!s.contains('$'), "unsubstituted variable in {s}");
    s
}

/// Every expression of every dashboard (panel targets, template-variable queries and annotations) and every alert
/// rule.
fn checks() -> Vec<Check> {
    let mut out = Vec::new();
    let label_values = regex::Regex::new(r"^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$").unwrap();
    for rel in files_under("collector-config/grafana/dashboards", &[".json"]) {
        let file = rel.rsplit('/').next().unwrap().to_owned();
        let d: Value = serde_json::from_str(&read(&rel)).unwrap();
        let mut variables = BTreeMap::new();
        let list = d["templating"]["list"].as_array().cloned().unwrap_or_default();
        for v in &list {
            let name = v["name"].as_str().unwrap().to_owned();
            assert!(v["includeAll"] == true, "{file}: variable {name} has no All option; this test substitutes All");
            variables.insert(name, v["allValue"].as_str().unwrap_or(".*").to_owned());
        }
        for v in &list {
            let query = v["query"]["query"].as_str().or(v["query"].as_str()).unwrap_or_default();
            let caps = label_values
                .captures(query)
                .unwrap_or_else(|| panic!("{file}: variable {} is not label_values(...): {query}", v["name"]));
            let (selector, label) = (&caps[1], &caps[2]);
            out.push(Check {
                id: format!("{file}${}", v["name"].as_str().unwrap()),
                promql: format!("group by ({label}) ({})", substitute(selector, &variables)),
            });
        }
        for a in d["annotations"]["list"].as_array().into_iter().flatten() {
            if let Some(expr) = a["expr"].as_str() {
                let name = a["name"].as_str().unwrap_or("?");
                out.push(Check { id: format!("{file}@{name}"), promql: substitute(expr, &variables) });
            }
        }
        let mut panels: Vec<&Value> = Vec::new();
        for p in d["panels"].as_array().into_iter().flatten() {
            panels.push(p);
            panels.extend(p["panels"].as_array().into_iter().flatten());
        }
        for p in panels {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    out.push(Check {
                        id: format!("{file}#{}/{}", p["id"], t["refId"].as_str().unwrap_or("?")),
                        promql: substitute(expr, &variables),
                    });
                }
            }
        }
    }
    let condition = regex::Regex::new(r"\s*(>=|<=|==|!=|>|<)\s*[0-9.]+\s*$").unwrap();
    for rel in files_under("collector-config/prometheus/rules", &[".yml"]) {
        let rules = to_json(&yaml(&rel));
        for group in rules["groups"].as_array().unwrap() {
            for rule in group["rules"].as_array().unwrap() {
                let expr = rule["expr"].as_str().unwrap();
                match rule["alert"].as_str() {
                    Some(alert) => {
                        out.push(Check {
                            id: format!("alert:{alert}"),
                            promql: condition.replace(expr, "").into_owned(),
                        });
                        // Every metric the rule reads exists, whatever its condition (a filter such as
                        // `rate(x) > 0` inside the expression empties it while all is well).
                        let usage = collector_support::promql_usage(expr).unwrap_or_else(|e| panic!("{alert}: {e}"));
                        let metrics: BTreeSet<String> = usage.references.into_iter().map(|r| r.metric).collect();
                        for metric in metrics {
                            out.push(Check {
                                id: format!("alert:{alert}/{metric}"),
                                promql: format!("group({{__name__=\"{metric}\"}})"),
                            });
                        }
                    }
                    None => out.push(Check {
                        id: format!("record:{}", rule["record"].as_str().unwrap()),
                        promql: expr.to_owned(),
                    }),
                }
            }
        }
    }
    out
}

/// The dashboard targets with exemplars on (Grafana shows their trace ids as links into the trace backend), with
/// variables substituted.
fn exemplar_targets() -> Vec<Check> {
    let mut out = Vec::new();
    for rel in files_under("collector-config/grafana/dashboards", &[".json"]) {
        let file = rel.rsplit('/').next().unwrap().to_owned();
        let d: Value = serde_json::from_str(&read(&rel)).unwrap();
        let variables: BTreeMap<String, String> = d["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| (v["name"].as_str().unwrap().to_owned(), v["allValue"].as_str().unwrap_or(".*").to_owned()))
            .collect();
        for p in d["panels"].as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten().filter(|t| t["exemplar"] == true) {
                out.push(Check {
                    id: format!("{file}#{}/{}", p["id"], t["refId"].as_str().unwrap_or("?")),
                    promql: substitute(t["expr"].as_str().unwrap(), &variables),
                });
            }
        }
    }
    out
}

/// tests/stack/expected-empty.txt: `id  reason` per line (`#` comments); every entry needs a reason.
fn expected_empty() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in read("tests/stack/expected-empty.txt").lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        assert!(!reason.trim().is_empty(), "expected-empty.txt: {id} has no reason");
        out.insert(id.to_owned(), reason.trim().to_owned());
    }
    out
}

// -----------------------------------------------------------------------------------------------------------------
// The services and the load
// -----------------------------------------------------------------------------------------------------------------

/// What the services export to: the collector, with short intervals so the run is short.
fn pipeline(service: &str, endpoint: &str) -> Config {
    Config::default()
        .service_name(service)
        .deployment_environment("stack-test")
        .protocol(Protocol::Grpc)
        .otlp_endpoint(endpoint)
        .log_format(LogFormat::Off)
        .metric_interval(Duration::from_secs(1))
        .span_batch(BatchSettings { schedule_delay: Duration::from_millis(200), ..BatchSettings::spans() })
        .log_batch(BatchSettings { schedule_delay: Duration::from_millis(200), ..BatchSettings::logs() })
}

struct Services {
    agent: health_agent::RunningAgent,
    recommender: Option<recommender::Running>,
    /// health-agent reaches PostgreSQL through this proxy (the database-unavailable fault).
    db_proxy: DbProxy,
    telemetry: Vec<Telemetry>,
    dir: std::path::PathBuf,
    /// The shared database itself (not through the proxy), to remove what the token burst stored.
    database_url: String,
}

async fn reachable_or_skip(what: &str, ok: bool, error: String) -> bool {
    if !ok {
        assert!(!is_ci(), "{what} is not reachable in CI: {error}");
        eprintln!("skipped: {what} is not reachable ({error}); scripts/services.sh starts it");
    }
    ok
}

/// A TCP proxy in front of PostgreSQL. Blackholed, it stops forwarding (queries on open connections hang, new
/// connections hang in the handshake), as a database that stops answering does; healed, it closes what it held and
/// forwards again.
struct DbProxy {
    port: u16,
    blackholed: tokio::sync::watch::Sender<bool>,
}

impl DbProxy {
    async fn start(upstream: String) -> DbProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (blackholed, _) = tokio::sync::watch::channel(false);
        let state = blackholed.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(Self::relay(client, upstream.clone(), state.subscribe()));
            }
        });
        DbProxy { port, blackholed }
    }

    async fn relay(mut client: tokio::net::TcpStream, upstream: String, mut rx: tokio::sync::watch::Receiver<bool>) {
        while *rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
        let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
        let blackholed = async {
            while !*rx.borrow_and_update() {
                if rx.changed().await.is_err() {
                    return false;
                }
            }
            true
        };
        let held = tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
            held = blackholed => held,
        };
        // Blackholed: the copy is dropped, both sockets stay open and silent until healed; dropping them then
        // resets the connection.
        while held && *rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                break;
            }
        }
        drop((client, server));
    }

    fn set_blackholed(&self, on: bool) {
        self.blackholed.send_replace(on);
    }
}

/// `postgres://user@host:port/db` -> (`host:port`, the same URL pointing at `127.0.0.1:port` instead).
fn via_proxy(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (auth, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, hostport) = auth.rsplit_once('@').map(|(u, h)| (format!("{u}@"), h)).unwrap_or((String::new(), auth));
    let hostport = if hostport.contains(':') { hostport.to_owned() } else { format!("{hostport}:5432") };
    (hostport, format!("{scheme}://{user}127.0.0.1:{port}/{path}"))
}

async fn start_services(stack: &Stack) -> Option<Services> {
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let pg = tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(&database_url)).await;
    let pg_error = match &pg {
        Ok(Ok(_)) => String::new(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "connect timed out".into(),
    };
    if !reachable_or_skip("PostgreSQL", pg_error.is_empty(), pg_error).await {
        return None;
    }
    let redis = tokio::net::TcpStream::connect(redis_url.trim_start_matches("redis://")).await;
    if !reachable_or_skip("Redis", redis.is_ok(), format!("{:?}", redis.err())).await {
        return None;
    }

    let endpoint = stack.otlp_grpc_endpoint();
    let (upstream, _) = via_proxy(&database_url, 0);
    let db_proxy = DbProxy::start(upstream).await;
    let (_, proxied_url) = via_proxy(&database_url, db_proxy.port);
    let config = HealthAgentConfig {
        addr: ([127, 0, 0, 1], 0).into(),
        database_url: Some(proxied_url),
        redis_url: Some(redis_url),
        ..HealthAgentConfig::default()
    };
    let recommender_telemetry = otelwright::build(pipeline("recommender", &endpoint)).unwrap();
    // A host.name of its own, told apart from the gateway's (same machine here): audit F5 says the gateway's
    // resource_detection stamps its host on every service; with override: false it must keep this one.
    let agent_pipeline = pipeline("health-agent", &endpoint)
        .resource_attribute("host.name", AGENT_HOST)
        .health_readers(HealthReaders::new().request_window(Duration::from_secs(60), Duration::from_secs(1)))
        .slow_request_threshold(Some(Duration::from_millis(200)));
    let agent_telemetry = otelwright::build(agent_pipeline).unwrap();
    otelwright::measure::set_global_meter_provider(agent_telemetry.meter_provider().unwrap().clone());
    let recommender = recommender::serve(([127, 0, 0, 1], 0).into(), &recommender_telemetry).await.unwrap();
    let dir = stack.dir.join("health-agent");
    std::fs::create_dir_all(&dir).unwrap();
    let config = HealthAgentConfig {
        data_dir: dir.clone(),
        recommender_url: format!("http://{}", recommender.addr()),
        ..config
    };
    let agent = health_agent::run(config, &agent_telemetry).await.expect("health-agent starts");
    Some(Services {
        agent,
        recommender: Some(recommender),
        db_proxy,
        telemetry: vec![agent_telemetry, recommender_telemetry],
        dir,
        database_url,
    })
}

impl Services {
    async fn stop(self) {
        self.db_proxy.set_blackholed(false);
        self.agent.shutdown().await;
        if let Some(r) = self.recommender {
            r.shutdown().await;
        }
        for t in self.telemetry {
            let _ = t.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The kinds of the demo's load (crates/otelwright-cli/src/demo/load.rs, `kind_of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Good,
    Slow,
    Failing,
    Invalid,
}

fn kind_of(n: u64) -> Kind {
    match n % 10 {
        3 => Kind::Slow,
        6 => Kind::Failing,
        9 => Kind::Invalid,
        _ => Kind::Good,
    }
}

/// Sent requests: trace id, kind, status, client-side latency.
type Sent = Arc<Mutex<Vec<(String, Kind, u16, Duration)>>>;

/// Sends the demo's request cycle at ~20 requests a second, each in a trace of its own (`traceparent`, sampled),
/// until `stop` is set.
async fn drive(base: String, sent: Sent, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let run = std::process::id();
    let mut tasks = tokio::task::JoinSet::new();
    let mut n = 0_u64;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    while !stop.load(Ordering::SeqCst) {
        tick.tick().await;
        while tasks.try_join_next().is_some() {}
        let trace_id = format!("{:08x}{:08x}{:016x}", run, n, rand_u64(n));
        let user = (1 + n * 7 % 20).to_string();
        let kind = kind_of(n);
        let chat = |topic: Option<&str>, message: &str| {
            let mut body = serde_json::json!({ "user_id": user, "message": message });
            if let Some(t) = topic {
                body["topic"] = t.into();
            }
            client.post(format!("{base}/api/v1/chat")).header("content-type", "application/json").body(body.to_string())
        };
        let request = match kind {
            Kind::Slow => chat(Some(recommender::SLOW_TOPIC), "Any reading on sleep and shift work?"),
            Kind::Failing => chat(Some(recommender::FAILING_TOPIC), "How do I stay calm?"),
            Kind::Invalid if n % 20 == 9 => chat(None, "  "),
            Kind::Invalid => client.post(format!("{base}/api/v1/chat")).body("{\"user_id\": 7,"),
            Kind::Good => match n % 3 {
                0 => chat(None, "How can I sleep better after late shifts?"),
                1 => client.get(format!("{base}/api/v1/users/{user}")),
                _ => client.get(format!("{base}/api/v1/recommendations/{user}")),
            },
        }
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"));
        let sent = sent.clone();
        tasks.spawn(async move {
            let started = Instant::now();
            let status = request.send().await.map(|r| r.status().as_u16()).unwrap_or(0);
            sent.lock().unwrap_or_else(PoisonError::into_inner).push((trace_id, kind, status, started.elapsed()));
        });
        n += 1;
    }
    while tasks.join_next().await.is_some() {}
}

/// Holds a WebSocket conversation on health-agent's `/api/v1/chat/stream` (the service dashboard's WebSocket row):
/// a question every 500 ms, each answer read to its `done` message, a new connection every 5 questions so that
/// connection durations are recorded, until `stop` is set.
async fn converse(base: String, stop: Arc<AtomicBool>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("{}/api/v1/chat/stream", base.replacen("http://", "ws://", 1));
    while !stop.load(Ordering::SeqCst) {
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        for _ in 0..5 {
            if stop.load(Ordering::SeqCst) || ws.send(Message::text("How can I sleep better?")).await.is_err() {
                break;
            }
            let answer = async {
                while let Some(Ok(m)) = ws.next().await {
                    if m.to_text().is_ok_and(|t| t.contains("\"done\":true")) {
                        return true;
                    }
                }
                false
            };
            if !tokio::time::timeout(Duration::from_secs(10), answer).await.unwrap_or(false) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let _ = ws.close(None).await;
        let _ =
            tokio::time::timeout(Duration::from_secs(2), async { while let Some(Ok(_)) = ws.next().await {} }).await;
    }
}

/// A well-mixed 64-bit value (splitmix64) so trace ids spread over the probabilistic sampler's hash space.
fn rand_u64(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut z = n.wrapping_add(nanos).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// -----------------------------------------------------------------------------------------------------------------
// The test
// -----------------------------------------------------------------------------------------------------------------

/// health-agent's `host.name` (see `start_services`).
const AGENT_HOST: &str = "stack-test-agent-host";

/// Phase 1b: what identifies a series. health-agent's own `host.name` survives the gateway (audit F5); the RED
/// series carry the gateway's `collector_instance_id` (audit F12).
async fn series_identity(stack: &Stack, problems: &mut Vec<String>) {
    let hosts =
        stack.query(r#"group by (host_name) (http_server_request_duration_seconds_count{job="health-agent"})"#).await;
    let hosts: BTreeSet<String> = hosts
        .unwrap_or_default()
        .iter()
        .map(|s| s["metric"]["host_name"].as_str().unwrap_or_default().to_owned())
        .collect();
    if hosts != BTreeSet::from([AGENT_HOST.to_owned()]) {
        problems.push(format!("health-agent's series carry host_name {hosts:?}, not its own {AGENT_HOST:?} (F5)"));
    }
    let red = stack
        .query(r#"count by (collector_instance_id) (traces_span_metrics_calls_total{service_name="health-agent"})"#)
        .await;
    let ids: Vec<String> = red
        .unwrap_or_default()
        .iter()
        .map(|s| s["metric"]["collector_instance_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    eprintln!("identity: health-agent host_name {hosts:?}; RED series by collector_instance_id {ids:?}");
    if ids.len() != 1 || ids[0].is_empty() {
        problems.push(format!("RED series by collector_instance_id: {ids:?}, expected the one gateway's id (F12)"));
    }
}

/// How long an injected fault gets to reach the webhook as an alert.
const ALERT_DEADLINE: Duration = Duration::from_secs(90);
/// ServiceDown needs its service silent for the rule's 2-minute window; the wait starts after the exporter fault.
const SERVICE_DOWN_DEADLINE: Duration = Duration::from_secs(180);

/// Phase 1: every dashboard, variable and alert expression returns data, or is a listed exception.
async fn dashboards_return_data(stack: &Stack, problems: &mut Vec<String>) {
    let checks = checks();
    let exceptions = expected_empty();
    let known: BTreeSet<&String> = checks.iter().map(|c| &c.id).collect();
    for id in exceptions.keys() {
        assert!(known.contains(id), "expected-empty.txt lists {id}, which no dashboard or rule has any more");
    }
    let started = Instant::now();
    let mut empty: BTreeMap<String, String> = BTreeMap::new();
    loop {
        empty.clear();
        for c in &checks {
            match stack.query(&c.promql).await {
                Ok(series) if !series.is_empty() => {}
                Ok(_) => {
                    empty.insert(c.id.clone(), format!("no series: {}", c.promql));
                }
                Err(e) => {
                    empty.insert(c.id.clone(), format!("query error {e}: {}", c.promql));
                }
            }
        }
        let unexpected = empty.keys().filter(|id| !exceptions.contains_key(*id)).count();
        if unexpected == 0 || started.elapsed() > DATA_DEADLINE {
            break;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    for (id, why) in &empty {
        if !exceptions.contains_key(id) {
            problems.push(format!("{id}: {why}"));
        }
    }
    for id in exceptions.keys() {
        if !empty.contains_key(id) {
            problems.push(format!("{id} is listed in expected-empty.txt but returned data: remove it from the list"));
        }
    }
    eprintln!(
        "dashboards: {} expressions checked, {} empty (listed: {}), after {:?}",
        checks.len(),
        empty.len(),
        exceptions.len(),
        started.elapsed()
    );
}

/// Phase 2: the traces tail sampling must keep are in Jaeger with both services' spans; of the rest, at most the
/// probabilistic share (10 %) plus a margin.
async fn kept_traces_are_in_jaeger(stack: &Stack, sent: &[(String, Kind, u16, Duration)], problems: &mut Vec<String>) {
    let must_keep: Vec<&(String, Kind, u16, Duration)> =
        sent.iter().filter(|(_, k, status, _)| matches!(k, Kind::Slow | Kind::Failing) && *status != 0).collect();
    assert!(must_keep.len() >= 10, "the load produced only {} slow/failing requests", must_keep.len());
    for (_, kind, status, _) in &must_keep {
        if *kind == Kind::Failing {
            assert_eq!(*status, 502, "a failing chat answers 502 (recommender's model is down)");
        }
    }
    let started = Instant::now();
    let mut missing: Vec<String> = Vec::new();
    loop {
        missing.clear();
        for (id, kind, _, _) in &must_keep {
            match stack.jaeger_trace(id).await {
                Some(trace) => {
                    let services = trace_services(&trace);
                    if !(services.contains("health-agent") && services.contains("recommender")) {
                        missing.push(format!("{kind:?} trace {id} has spans of {services:?} only"));
                    }
                }
                None => missing.push(format!("{kind:?} trace {id} is not in Jaeger")),
            }
        }
        if missing.is_empty() || started.elapsed() > TRACE_DEADLINE {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    problems.extend(missing.iter().take(10).cloned());
    if missing.len() > 10 {
        problems.push(format!("... and {} more kept traces missing", missing.len() - 10));
    }
    // Good requests well below the slow threshold: only the probabilistic policy can keep them.
    let others: Vec<&String> = sent
        .iter()
        .filter(|(_, k, s, d)| *k == Kind::Good && *s == 200 && *d < Duration::from_millis(150))
        .map(|(id, ..)| id)
        .collect();
    assert!(others.len() >= 50, "only {} plain requests", others.len());
    let mut kept = 0_usize;
    for id in &others {
        if stack.jaeger_trace(id).await.is_some() {
            kept += 1;
        }
    }
    let n = others.len() as f64;
    let p = 0.10;
    let limit = n * p + 4.0 * (n * p * (1.0 - p)).sqrt();
    eprintln!(
        "traces: {} slow/failing traces all in Jaeger: {}; {kept} of {} plain traces kept (limit {limit:.0}, policy 10 %)",
        must_keep.len(),
        missing.is_empty(),
        others.len()
    );
    if kept as f64 > limit {
        problems
            .push(format!("{kept} of {} plain traces are in Jaeger: more than 10 % + 4σ ({limit:.0})", others.len()));
    }
}

/// Phase 2c: the log records of the requests reach the log backend (the Loki stand-in behind the collector's
/// `otlp_http/loki`) with the trace ids of their requests.
fn logs_carry_trace_ids(stack: &Stack, sent: &[(String, Kind, u16, Duration)], problems: &mut Vec<String>) {
    let ids: BTreeSet<&str> = sent.iter().map(|(id, ..)| id.as_str()).collect();
    let logs = stack.logs.logs();
    let mut with_trace = BTreeMap::<String, usize>::new();
    for l in &logs {
        if l.trace_id_hex().is_some_and(|t| ids.contains(t.as_str())) {
            *with_trace.entry(l.resource_str("service.name").unwrap_or_default()).or_default() += 1;
        }
    }
    eprintln!("logs: {} records at the log backend, with a request's trace id by service: {with_trace:?}", logs.len());
    for service in ["health-agent", "recommender"] {
        if !with_trace.contains_key(service) {
            problems.push(format!("no log record of {service} with a request's trace id reached the log backend"));
        }
    }
}

/// Phase 2b: an exemplar link opens a trace the backend has. Exemplars at least `settled` old are checked (tail
/// sampling decides after `decision_wait`, 10 s), against Jaeger.
async fn exemplars_point_to_kept_traces(stack: &Stack, since: f64, problems: &mut Vec<String>) {
    let targets = exemplar_targets();
    assert!(!targets.is_empty(), "no dashboard target has exemplars on");
    let settled = now_unix() - 20.0;
    let mut ids = BTreeSet::new();
    for t in &targets {
        match stack.exemplars(&t.promql, since, settled).await {
            Ok(found) => ids.extend(found.into_iter().map(|(id, _)| id)),
            Err(e) => problems.push(format!("{}: query_exemplars failed: {e}", t.id)),
        }
    }
    let mut missing = 0_usize;
    for id in &ids {
        if stack.jaeger_trace(id).await.is_none() {
            missing += 1;
        }
    }
    eprintln!("exemplars: {} distinct trace ids on the exemplar panels, {missing} not in Jaeger", ids.len());
    if ids.is_empty() {
        problems.push("no exemplars on the exemplar panels' series".to_owned());
    } else if missing > 0 {
        problems.push(format!(
            "{missing} of {} exemplar trace ids are not in Jaeger: their links open \"trace not found\" (audit F3)",
            ids.len()
        ));
    }
}

fn now_unix() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// A measured step that takes `d` (11 s: the FunctionSlow fault; see faults_raise_alerts).
#[otelwright::measured(name = "stack_test.slow_step")]
async fn slow_step(d: Duration) {
    tokio::time::sleep(d).await;
}

/// ChatSpendOverBudget's prices and budget, as written in the rule: an input token costs 0.000003 USD, the budget
/// is 50 USD a day. A chat message of 2000 one-letter words is 2000 tokens (health-agent counts at least one per
/// word) and 3999 characters (the limit is 4000).
const WORDS_PER_CHAT: usize = 2000;
const BURST_MESSAGE_CHARS: usize = 2 * WORDS_PER_CHAT - 1;
const CHATS_OVER_BUDGET: usize = (50.0 / (WORDS_PER_CHAT as f64 * 0.000003)) as usize + 500;

/// Sends [`CHATS_OVER_BUDGET`] token-heavy chats, 16 at a time; returns how many were answered (any status).
async fn token_burst(base: String) -> usize {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let message = vec!["a"; WORDS_PER_CHAT].join(" ");
    let body = serde_json::json!({ "user_id": "1", "message": message, "topic": "sleep" }).to_string();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (client, base, body, next, answered) =
            (client.clone(), base.clone(), body.clone(), next.clone(), answered.clone());
        workers.spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < CHATS_OVER_BUDGET {
                let sent = client
                    .post(format!("{base}/api/v1/chat"))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                if sent.is_ok() {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    answered.load(Ordering::SeqCst)
}

/// Probes `/health/ready` every second until `stop` is set, as an orchestrator does (health.check.status is the
/// latest probe's result).
async fn probe_readiness(base: String, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    while !stop.load(Ordering::SeqCst) {
        let _ = client.get(format!("{base}/health/ready")).send().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Phase 3: each injected fault reaches the webhook as its alert, through Prometheus (rules overlay, short
/// `for:`) and Alertmanager. An alert that already fired before its fault proves nothing about the fault, so that
/// is a problem too, except where the demo's load itself is the fault (see HttpServerErrorsHigh).
async fn faults_raise_alerts(stack: &mut Stack, services: &mut Services, problems: &mut Vec<String>) {
    let notified = |stack: &Stack| -> BTreeSet<String> { stack.webhook.alerts().into_iter().map(|(n, _)| n).collect() };
    let names: BTreeSet<String> = notified(stack).into_iter().filter(|k| !k.contains('/')).collect();
    eprintln!("alerts: notified before the faults: {names:?}");
    // Waits for `alert` at the webhook; it must not have been notified before its fault was injected.
    let expect =
        async |stack: &Stack, alert: &str, fault: &str, before: &BTreeSet<String>, problems: &mut Vec<String>| {
            if before.contains(alert) {
                problems.push(format!("{alert} was notified before its fault ({fault}) was injected"));
                return;
            }
            let started = Instant::now();
            if stack.wait_alert(alert, ALERT_DEADLINE).await {
                eprintln!("alerts: {fault} -> {alert} at the webhook after {:?}", started.elapsed());
            } else {
                problems.push(format!(
                    "{fault}: {alert} did not reach the webhook within {ALERT_DEADLINE:?}; Prometheus has {:?}",
                    stack.firing().await
                ));
            }
        };

    // One quick call of the measured step FunctionSlow watches, so that its series exists before the slow calls:
    // rate() ignores what a series held at its first sample, and a series that appears with the slow calls already
    // counted would show no increase.
    slow_step(Duration::ZERO).await;

    // The cache hit ratio driven down: profiles nobody has, each one a miss (and a 404). Four at a time, so that
    // the pool of eight connections is not what runs out.
    let before = notified(stack);
    let flood_stop = Arc::new(AtomicBool::new(false));
    let mut flood = tokio::task::JoinSet::new();
    for worker in 0..4_u64 {
        let (base, stop) = (services.agent.base_url(), flood_stop.clone());
        flood.spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
            let mut n = 0_u64;
            while !stop.load(Ordering::SeqCst) {
                let _ = client.get(format!("{base}/api/v1/users/nobody-{worker}-{n}")).send().await;
                n += 1;
            }
        });
    }
    expect(stack, "CacheHitRatioLow/cache_name=users", "cache misses", &before, problems).await;
    flood_stop.store(true, Ordering::SeqCst);
    while flood.join_next().await.is_some() {}

    // The database stops answering: queries on open connections hang until the pool has no free connection; new
    // queries wait for a connection and fail after the pool's 3 s acquire timeout, so the chats that store a
    // message take over 3 s (p99 over 2 s, requests over 2.5 s), the INSERT's p95 is seconds, and the readiness
    // check `database:main` (SELECT 1, 2 s timeout) fails on every probe. One cause, five alerts.
    // Also here, sharing the wait: a measured step that takes 11 s (FunctionSlow: average over 10 s). It is this
    // test's own #[measured] function on health-agent's meter provider: no demo function can average 10 s, their
    // calls time out first (gRPC 5 s, pool 3 s).
    let before = notified(stack);
    services.db_proxy.set_blackholed(true);
    let slow_steps: Vec<_> = (0..3).map(|_| tokio::spawn(slow_step(Duration::from_secs(11)))).collect();
    for (alert, fault) in [
        ("DbPoolExhausted/db_client_connection_pool_name=main", "database unavailable"),
        ("ReadinessFailing/health_check_name=database:main", "database unavailable"),
        ("DbQueryLatencyHigh/db_operation_name=INSERT", "database unavailable"),
        ("HttpLatencyP99Critical/http_route=/api/v1/chat", "database unavailable"),
        ("HttpSlowRequests/http_route=/api/v1/chat", "database unavailable"),
        ("FunctionSlow/job=health-agent", "a measured step taking 11 s"),
    ] {
        expect(stack, alert, fault, &before, problems).await;
    }
    for step in slow_steps {
        step.await.unwrap();
    }
    services.db_proxy.set_blackholed(false);

    // recommender stopped: every chat answers 502. The demo's load already fails one request in ten (recommender's
    // model is down for topic `chaos`), above the rules' 5 % (5xx answers, failing gRPC calls to recommender) and
    // 10 % (failing chat.suggestions calls), so HttpServerErrorsHigh, DependencyFailing and FunctionErrorRateHigh are
    // usually notified before this fault: here they are only checked to be notified. ServiceDown is checked below.
    let before_recommender_stopped = notified(stack);
    if let Some(r) = services.recommender.take() {
        r.shutdown().await;
        // The process is gone, and its telemetry with it (start_services: telemetry[1] is recommender's).
        let _ = services.telemetry.remove(1).shutdown().await;
    }
    for alert in [
        "HttpServerErrorsHigh/job=health-agent",
        "DependencyFailing/job=health-agent",
        "FunctionErrorRateHigh/job=health-agent",
    ] {
        expect(stack, alert, "recommender stopped", &BTreeSet::new(), problems).await;
    }
    // A burst of token-heavy chats, over the rule's daily budget at its prices (checked after ServiceDown, whose
    // wait it shares). The input tokens are recorded before the chat stores the message and asks recommender, so
    // they count although recommender is down.
    let before_spend = notified(stack);
    let burst = tokio::spawn(token_burst(services.agent.base_url()));

    // The collector's trace exporter pointed at the wrong port: Jaeger's query gRPC port answers the OTLP export
    // with Unimplemented, a permanent error, so the failure is counted at once. (A closed port is retried for
    // retry_on_failure.max_elapsed_time, 300 s, before the collector counts anything: see collector-config/README.md.)
    let wrong = format!("127.0.0.1:{}", stack.ports.jaeger_query_grpc);
    let before = notified(stack);
    stack.restart_collector(&[("OTELCOL_TEMPO_ENDPOINT", wrong)]).await;
    expect(
        stack,
        "CollectorExporterFailing/exporter=otlp_grpc/tempo",
        "trace exporter at the wrong port",
        &before,
        problems,
    )
    .await;
    // The failure also shows where expected-empty.txt says it would: the dashboard's failed-spans series.
    let all = checks();
    for id in ["collector-health.json#6/B", "alert:CollectorExporterFailing/otelcol_exporter_send_failed_spans"] {
        let check = all.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no expression {id}"));
        let series = stack.query(&check.promql).await.unwrap_or_default();
        if series.is_empty() {
            problems.push(format!("{id} is still empty after the trace exporter fault: {}", check.promql));
        }
    }

    // The trace backend hangs (accepts connections, never answers) and the exporter's queue is small (test
    // overlay: 20 requests, one consumer, instead of the shipped 5000 and 10): the queue fills, as the shipped one
    // does over a longer outage. The threshold (80 %) is the rule's.
    let hung = format!("127.0.0.1:{}", Stack::blackhole().await);
    let before = notified(stack);
    let small_queue = serde_json::json!({"otlp_grpc/tempo": {"sending_queue": {"queue_size": 20, "num_consumers": 1}}});
    stack.restart_collector_with_exporters(&[("OTELCOL_TEMPO_ENDPOINT", hung)], small_queue).await;
    expect(
        stack,
        "CollectorQueueNearCapacity/exporter=otlp_grpc/tempo",
        "trace backend hanging, small queue",
        &before,
        problems,
    )
    .await;

    // recommender, stopped above, has pushed nothing for ServiceDown's 2-minute window by now or soon.
    let started = Instant::now();
    if before_recommender_stopped.contains("ServiceDown/job=recommender") {
        problems.push("ServiceDown/job=recommender was notified while recommender ran".to_owned());
    } else if stack.wait_alert("ServiceDown/job=recommender", SERVICE_DOWN_DEADLINE).await {
        eprintln!(
            "alerts: recommender stopped -> ServiceDown at the webhook {:?} after the exporter fault",
            started.elapsed()
        );
    } else {
        problems.push(format!(
            "recommender stopped: ServiceDown/job=recommender did not reach the webhook; Prometheus has {:?}",
            stack.firing().await
        ));
    }

    let chats = burst.await.unwrap();
    eprintln!("alerts: token burst sent {chats} chats");
    // The burst stored about 35 MB of messages in the shared `test` database: remove them (only the burst's
    // messages are BURST_MESSAGE_CHARS long).
    match sqlx::PgPool::connect(&services.database_url).await {
        Ok(pool) => {
            let delete = sqlx::query("DELETE FROM conversations WHERE length(message) = $1")
                .bind(i32::try_from(BURST_MESSAGE_CHARS).unwrap())
                .execute(&pool)
                .await;
            if let Err(e) = delete {
                problems.push(format!("removing the token burst's messages: {e}"));
            }
            pool.close().await;
        }
        Err(e) => problems.push(format!("connecting to remove the token burst's messages: {e}")),
    }
    expect(stack, "ChatSpendOverBudget/job=health-agent", "a burst of token-heavy chats", &before_spend, problems)
        .await;

    // The gateway collector stopped: Prometheus' scrapes of it fail. CollectorDown also fires, rightly, while the
    // collector starts (Prometheus scrapes before it listens), and resolves; so a new firing notification after the
    // fault is what counts, and the alert must not be firing at the fault.
    let firing_before = stack.firing().await;
    if firing_before.iter().any(|a| a.starts_with("CollectorDown ")) {
        problems.push(format!("CollectorDown is active before the collector was stopped: {firing_before:?}"));
    }
    let mark = stack.webhook.mark();
    stack.stop_collector();
    let started = Instant::now();
    if stack.wait_alert_since("CollectorDown/job=otel-collector", mark, ALERT_DEADLINE).await {
        eprintln!("alerts: gateway collector stopped -> CollectorDown at the webhook after {:?}", started.elapsed());
    } else {
        problems.push(format!(
            "gateway collector stopped: CollectorDown did not reach the webhook within {ALERT_DEADLINE:?}; Prometheus has {:?}",
            stack.firing().await
        ));
    }

    // Routing: each severity reached its receiver (all receivers are this test's webhook, by name).
    let deliveries = stack.webhook.deliveries();
    for (alert, receiver) in [("DbPoolExhausted", "pager"), ("CacheHitRatioLow", "ticket"), ("CollectorDown", "pager")]
    {
        let reached: BTreeSet<&str> =
            deliveries.iter().filter(|(_, l)| l["alertname"] == alert).map(|(r, _)| r.as_str()).collect();
        if reached != BTreeSet::from([receiver]) {
            problems.push(format!("{alert} reached receivers {reached:?}, expected only {receiver}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_real_stack_shows_every_panel_alert_and_kept_trace() {
    let Some(tools) = Tools::find() else { return };
    let mut stack = Stack::start(tools).await;
    let Some(mut services) = start_services(&stack).await else { return };
    let started = now_unix();

    let sent: Sent = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(drive(services.agent.base_url(), sent.clone(), stop.clone()));
    let conversation = tokio::spawn(converse(services.agent.base_url(), stop.clone()));
    let prober = tokio::spawn(probe_readiness(services.agent.base_url(), stop.clone()));

    let mut problems = Vec::new();
    dashboards_return_data(&stack, &mut problems).await;
    series_identity(&stack, &mut problems).await;
    let snapshot = sent.lock().unwrap_or_else(PoisonError::into_inner).clone();
    kept_traces_are_in_jaeger(&stack, &snapshot, &mut problems).await;
    exemplars_point_to_kept_traces(&stack, started, &mut problems).await;
    logs_carry_trace_ids(&stack, &snapshot, &mut problems);
    faults_raise_alerts(&mut stack, &mut services, &mut problems).await;

    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    conversation.await.unwrap();
    prober.await.unwrap();
    services.stop().await;
    assert!(
        problems.is_empty(),
        "{} problems:\n{}\n--- collector log ---\n{}",
        problems.len(),
        problems.join("\n"),
        stack.log_tail("collector")
    );
}

/// The shipped alertmanager.yml in the real Alertmanager, with its own timings (only the receivers point at the
/// test's webhook): alerts posted as Prometheus posts them reach the receiver their severity names, and each
/// inhibition rule silences what it should and nothing more. Each silenced alert has a control twin that differs
/// in the one label the rule keys on and must be delivered, so a rule that silences too much fails as well as one
/// that silences nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_alertmanager_routes_by_severity_and_inhibits() {
    let Some(tools) = Tools::find() else { return };
    let stack = Stack::alertmanager_only(tools).await;
    // Labels as `name=value` pairs.
    let alert = |labels: &str| -> Value {
        Value::Object(
            labels
                .split_whitespace()
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap();
                    (k.to_owned(), Value::String(v.to_owned()))
                })
                .collect(),
        )
    };
    // (labels, the receiver it must reach, or None when an inhibition rule must silence it), in two rounds: the
    // gateway-down round silences every ServiceDown, so it is posted after the first round was notified.
    let rounds: Vec<Vec<(&str, Option<&str>)>> = vec![
        vec![
            // critical silences its warning twin (same twin, job, instance) ...
            ("alertname=ServiceCpuCritical severity=critical twin=cpu job=am-twin instance=a", Some("pager")),
            ("alertname=ServiceCpuHigh severity=warning twin=cpu job=am-twin instance=a", None),
            // ... but not the warning of another instance, nor a warning without a twin label.
            ("alertname=ServiceCpuHigh severity=warning twin=cpu job=am-twin instance=b", Some("ticket")),
            ("alertname=CacheErrors severity=warning job=am-twin instance=a", Some("ticket")),
            // A service that is down silences everything else from it ...
            ("alertname=ServiceDown severity=critical job=am-down", Some("pager")),
            ("alertname=HttpServerErrorsHigh severity=critical job=am-down", None),
            ("alertname=CacheErrors severity=warning job=am-down instance=x", None),
            // ... and nothing from another service.
            ("alertname=HttpServerErrorsHigh severity=critical job=am-up", Some("pager")),
            // info goes to the low-priority channel.
            ("alertname=HttpSlowRequests severity=info job=am-info http_route=/x", Some("low-priority")),
        ],
        vec![
            // The gateway down silences every service's missing-telemetry alerts, and only those.
            ("alertname=CollectorDown severity=critical job=otel-collector", Some("pager")),
            ("alertname=ServiceDown severity=critical job=am-behind-gateway", None),
            ("alertname=TelemetryExportDropping severity=warning job=am-gw-drop instance=y", None),
            (
                "alertname=HttpLatencySloBreached severity=warning job=am-gw-other http_route=/x twin=latency",
                Some("ticket"),
            ),
        ],
    ];
    // Alertmanager adds no labels: a delivered alert carries exactly the posted label set.
    let same = |a: &Value, b: &Value| a == b;
    let started = Instant::now();
    let mut cases: Vec<(Value, Option<&str>)> = Vec::new();
    for round in rounds {
        let round: Vec<(Value, Option<&str>)> = round.into_iter().map(|(l, r)| (alert(l), r)).collect();
        stack.post_alerts(&round.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>()).await;
        // The longest group_wait of the routes these alerts take is the root's 30 s; give it twice that.
        let deadline = Instant::now() + Duration::from_secs(70);
        loop {
            let got = stack.webhook.deliveries();
            let delivered = round.iter().filter(|(_, r)| r.is_some()).all(|(l, _)| got.iter().any(|(_, g)| same(l, g)));
            if delivered || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Every notification of these groups has been sent; wait a little for any straggler.
        tokio::time::sleep(Duration::from_secs(3)).await;
        cases.extend(round);
    }
    let got = stack.webhook.deliveries();
    let mut problems = Vec::new();
    for (l, want) in &cases {
        let reached: BTreeSet<&str> = got.iter().filter(|(_, g)| same(l, g)).map(|(r, _)| r.as_str()).collect();
        match want {
            Some(r) if reached != BTreeSet::from([*r]) => {
                problems.push(format!("{l}: must reach {r}, reached {reached:?}"))
            }
            None if !reached.is_empty() => problems.push(format!("{l}: must be inhibited, reached {reached:?}")),
            _ => {}
        }
    }
    eprintln!("alertmanager: {} cases, {} notifications after {:?}", cases.len(), got.len(), started.elapsed());
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

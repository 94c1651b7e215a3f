//! Every metric (and label) that a dashboard panel, a template variable, an alert rule or a Grafana datasource link
//! uses is one that otelwright really emits, as Prometheus names it.
//!
//! The emitted set is DERIVED, not listed: a service built from the SDK (axum with `HttpServerLayer`, reqwest with
//! `OtelMiddleware`, a tonic server and client through the same layers, and `otelwright-meters` resource, pool
//! (sqlx SQLite) and cache meters) runs and exports over OTLP/gRPC to `otelwright-receiver`. Each received metric is
//! translated with Prometheus' OTLP rules (`collector_support::prometheus_name`, a port of prometheus/otlptranslator),
//! with its data-point attributes as labels plus `job`/`instance` and the resource attributes prometheus.yml
//! promotes. Added to that, each with its source:
//! - the span_metrics connector's series, built from otel-collector.yaml (namespace, unit, dimensions), after
//!   checking that every configured dimension is an attribute the SDK's server spans really carry;
//! - the collector's own metrics (tests/fixtures/collector/otelcol-self-metrics.txt, from its metadata.yaml files);
//! - series Prometheus makes itself (`up`, `target_info`);
//! - PENDING: metrics ARCHITECTURE.md declares that no crate emits yet. The test fails once one is emitted, so the
//!   list cannot go stale.
//!
//! A typo in a metric or label name anywhere fails the test, and every expression must parse.

mod collector_support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use collector_support::*;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use otelwright::BatchSettings;
use otelwright_http::{HttpClientLayer, HttpServerLayer, OtelMiddleware};
use otelwright_meters::pool::sqlx::SqlxPool;
use otelwright_meters::{Meters, ResourceConfig};
use otelwright_receiver::{MetricKind, ReceivedMetric, ReceivedSpan, Receiver};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const WAIT: Duration = Duration::from_secs(30);

/// Declared in ARCHITECTURE.md's metric table but not emitted by any crate yet. Dashboards and alerts may use them
/// already; once the SDK emits one, this test fails until it is removed from here. (OTel name, instrument, unit,
/// attributes.) Empty today: `otelwright.exporter.items {otel.signal, outcome}`, which the TelemetryExportDropping
/// alert and the Collector health dashboard use, was listed here until crates/otelwright/src/selfobs.rs started
/// emitting it; it is now derived like every other SDK metric.
const PENDING: [(&str, PromKind, &str, &[&str]); 0] = [];

/// Series Prometheus creates itself.
const PROMETHEUS_BUILTIN: [&str; 2] = ["up", "target_info"];

/// The OTel metrics the instrumented service must have exported before the catalog is built.
const EXPECTED_OTEL: [&str; 17] = [
    "http.server.request.duration",
    "http.server.active_requests",
    "http.client.request.duration",
    "rpc.server.call.duration",
    "rpc.client.call.duration",
    "cache.requests",
    "db.client.connection.count",
    "system.memory.utilization",
    "process.cpu.utilization",
    "function.calls",
    "function.calls.duration",
    "chat.tokens",
    "websocket.server.active_connections",
    "websocket.server.messages",
    "websocket.server.connection.duration",
    "db.client.operation.duration",
    "health.check.status",
];

/// Echoes text messages until the client closes.
async fn echo(mut socket: otelwright_http::ws::WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if let otelwright_http::ws::Message::Text(text) = message
            && socket.send(otelwright_http::ws::Message::Text(text)).await.is_err()
        {
            return;
        }
    }
}

/// A step measured as an agent's or tool's function is (`function.calls`, `function.calls.duration`, with
/// `outcome` ok or error), which the function alerts read.
#[otelwright::measured]
async fn measured_step(fail: bool) -> Result<(), std::io::Error> {
    if fail { Err(std::io::Error::other("tool failed")) } else { Ok(()) }
}

type Channel = otelwright_http::client::HttpClientService<tonic::transport::Channel>;

fn incoming(
    listener: tokio::net::TcpListener,
) -> impl futures_util::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(listener, |l| async move { Some((l.accept().await.map(|(s, _)| s), l)) })
}

async fn grpc_server() -> SocketAddr {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter.set_service_status("recommender", tonic_health::ServingStatus::Serving).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _keep = reporter;
        tonic::transport::Server::builder()
            .layer(HttpServerLayer::new())
            .add_service(service)
            .serve_with_incoming(incoming(listener))
            .await
            .unwrap();
    });
    addr
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    addr
}

async fn recommend(State(mut client): State<HealthClient<Channel>>) -> String {
    // One failing call too (NOT_FOUND): error.type is only recorded on failures, and DependencyFailing reads it.
    let missing = client.check(HealthCheckRequest { service: "no-such-service".into() }).await;
    assert!(missing.is_err(), "the health service knows no-such-service");
    let ok = client.check(HealthCheckRequest { service: "recommender".into() }).await.unwrap();
    format!("{:?}", ok.into_inner().status)
}

/// What the instrumented service exported: every metric and span received.
async fn run_instrumented_service() -> (Vec<ReceivedMetric>, Vec<ReceivedSpan>) {
    let receiver = Receiver::start().await.expect("receiver starts");
    let telemetry = otelwright::init(
        otelwright_test_support::config(&receiver, "metric-names")
            .metric_interval(Duration::from_secs(3600))
            .span_batch(BatchSettings { schedule_delay: Duration::from_millis(50), ..BatchSettings::spans() }),
    )
    .expect("init");

    // Resources, a real sqlx pool and a cache, registered like a service does.
    let meters = Meters::new().with_resources(ResourceConfig::default().manual_refresh()).expect("resource meter");
    meters.register_instruments(&telemetry.meter("otelwright-meters"));
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(2)
        .min_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let main = meters.pools.add("main", SqlxPool::new(pool));
    {
        let mut conn = main.acquire().await.unwrap();
        sqlx::query("SELECT 1").execute(&mut **conn).await.unwrap();
    }
    let users = meters.caches.meter("users");
    for op in "hhmsdev".chars() {
        match op {
            'h' => users.hit(),
            'm' => users.miss(),
            's' => users.set(),
            'd' => users.delete(),
            'e' => users.error(),
            _ => users.eviction(),
        }
    }
    users.set_entry_count(3);
    let resources = meters.resources.clone().unwrap();
    resources.refresh();

    // HTTP server + client, gRPC server + client, all through otelwright-http.
    let grpc = grpc_server().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}")).unwrap().connect().await.unwrap();
    let channel = tower::ServiceBuilder::new()
        .layer(HttpClientLayer::builder().target(&format!("http://{grpc}")).build())
        .service(channel);
    let app = Router::new()
        .route("/users/{id}", get(|| async { "ada" }))
        .route("/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
        .route("/recommendations", get(recommend))
        .route("/ws", get(|ws: otelwright_http::ws::WebSocketUpgrade| async move { ws.on_upgrade(echo) }))
        .with_state(HealthClient::new(channel))
        .layer(HttpServerLayer::new());
    let addr = serve(app).await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).with(OtelMiddleware::new()).build();
    for path in ["/users/1", "/users/2", "/fail", "/recommendations"] {
        client.get(format!("http://{addr}{path}")).send().await.unwrap();
    }
    for fail in [false, true] {
        let _ = measured_step(fail).await;
    }
    // A WebSocket connection, opened, used both ways and closed (the service dashboard's WebSocket row).
    {
        use futures_util::{SinkExt, StreamExt};
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.unwrap();
        ws.send(tokio_tungstenite::tungstenite::Message::text("ping")).await.unwrap();
        assert!(ws.next().await.is_some_and(|m| m.is_ok_and(|m| m.is_text())), "the echo");
        ws.close(None).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    }
    // health-agent itself (on SQLite, without Redis): its query helper records db.client.operation.duration (a
    // user read from the database) and its readiness checks health.check.status (one readiness run).
    let agent_dir = temp_dir("metric-names-agent");
    let agent_config = otelwright_demo::health_agent::HealthAgentConfig {
        addr: ([127, 0, 0, 1], 0).into(),
        data_dir: agent_dir.clone(),
        ..Default::default()
    };
    let agent = otelwright_demo::health_agent::run(agent_config, &telemetry).await.expect("health-agent starts");
    for path in ["/api/v1/users/1", "/health/ready"] {
        let status = client.get(format!("{}{path}", agent.base_url())).send().await.unwrap().status();
        assert_eq!(status, 200, "health-agent {path}");
    }
    // A record! quantity, as health-agent's chat records it (the Functions dashboard shows chat.tokens).
    otelwright::record!("chat.tokens", 3_u64, unit = "{token}", direction = "input");
    tokio::time::sleep(Duration::from_millis(150)).await;
    resources.refresh();

    let errors = telemetry.flush().await;
    assert!(errors.is_empty(), "flush errors: {errors:?}");
    receiver
        .wait_for_metrics(|m| EXPECTED_OTEL.iter().all(|n| m.iter().any(|x| x.name() == *n)), WAIT)
        .await
        .unwrap_or_else(|e| {
            let got: BTreeSet<String> = receiver.metrics().iter().map(|m| m.name().to_owned()).collect();
            panic!("metrics did not arrive ({e:?}); got {got:?}")
        });
    receiver
        .wait_for_spans(|s| s.iter().any(|s| s.attr("rpc.method").is_some() && s.span.kind == 2), WAIT)
        .await
        .expect("server spans arrive");
    let out = (receiver.metrics(), receiver.spans());
    agent.shutdown().await;
    let _ = std::fs::remove_dir_all(&agent_dir);
    let report = telemetry.shutdown().await;
    assert!(report.is_clean(), "{report:?}");
    receiver.shutdown().await;
    out
}

fn prom_kind(m: &ReceivedMetric) -> PromKind {
    match (m.kind(), m.is_monotonic()) {
        (MetricKind::Sum, Some(true)) => PromKind::Counter,
        (MetricKind::Sum, _) => PromKind::UpDownCounter,
        (MetricKind::Gauge, _) => PromKind::Gauge,
        (MetricKind::Histogram, _) => PromKind::Histogram,
        (other, _) => panic!("{}: {other:?} is not used by otelwright", m.name()),
    }
}

/// Attribute keys of every data point of `m`.
fn point_keys(m: &ReceivedMetric) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> =
        m.number_points().iter().flat_map(|p| p.attributes.iter().map(|kv| kv.key.clone())).collect();
    keys.extend(m.histogram_points().iter().flat_map(|p| p.attributes.iter().map(|kv| kv.key.clone())));
    keys
}

/// Labels every OTLP-ingested series gets besides its point attributes.
fn resource_labels() -> BTreeSet<String> {
    let prom = yaml("collector-config/prometheus/prometheus.yml");
    let mut labels: BTreeSet<String> =
        strings(&prom["otlp"]["promote_resource_attributes"]).iter().map(|a| prometheus_label(a)).collect();
    labels.extend(["job".to_owned(), "instance".to_owned()]);
    labels
}

/// The span_metrics connector's OTel metrics: (name, kind, unit, attribute keys).
fn span_metrics_model() -> Vec<(String, PromKind, String, BTreeSet<String>)> {
    let gateway = yaml("collector-config/otel-collector.yaml");
    let mut out = Vec::new();
    // Every span_metrics connector: the RED one and the exemplar one (audit F3), each under its namespace.
    for (_, sm) in entries(&gateway["connectors"]).into_iter().filter(|(id, _)| component_type(id) == "span_metrics") {
        let namespace = scalar(&sm["namespace"]).unwrap_or_else(|| "traces.span.metrics".into());
        let unit = scalar(&sm["histogram"]["unit"]).unwrap_or_else(|| "ms".into());
        // The connector's own attributes (connector.go: service.name, span.name, span.kind, status.code) and the
        // configured dimensions.
        let mut attrs: BTreeSet<String> =
            ["service.name", "span.name", "span.kind", "status.code"].iter().map(|s| s.to_string()).collect();
        attrs.extend(sm["dimensions"].as_vec().into_iter().flatten().filter_map(|d| scalar(&d["name"])));
        out.push((format!("{namespace}.calls"), PromKind::Counter, String::new(), attrs.clone()));
        out.push((format!("{namespace}.duration"), PromKind::Histogram, unit, attrs));
    }
    out
}

struct Emitted {
    catalog: Catalog,
    /// OTel name -> attribute keys (points and resource), for the awsemf declarations.
    otel: BTreeMap<String, BTreeSet<String>>,
}

fn build_catalog(metrics: &[ReceivedMetric], spans: &[ReceivedSpan]) -> Emitted {
    let mut catalog = Catalog::default();
    let mut otel: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let base = resource_labels();

    // 1. What the SDK emitted.
    let mut seen_kind: BTreeMap<String, (PromKind, String)> = BTreeMap::new();
    for m in metrics {
        let kind = prom_kind(m);
        if let Some((k, u)) = seen_kind.insert(m.name().to_owned(), (kind, m.unit().to_owned())) {
            assert_eq!((k, u.as_str()), (kind, m.unit()), "{} changed kind or unit between exports", m.name());
        }
        // Prometheus rejects delta temporality (without a feature flag): every sum and histogram is cumulative.
        let temporality = match &m.metric.data {
            Some(Data::Sum(s)) => Some(s.aggregation_temporality),
            Some(Data::Histogram(h)) => Some(h.aggregation_temporality),
            _ => None,
        };
        assert!(temporality.is_none_or(|t| t == 2), "{} is not cumulative ({temporality:?})", m.name());
        assert!(m.resource_str("service.name").is_some(), "{}: no service.name (job)", m.name());

        let keys = point_keys(m);
        let mut labels: BTreeSet<String> = keys.iter().map(|k| prometheus_label(k)).collect();
        labels.extend(base.iter().cloned());
        let prom = prometheus_name(m.name(), m.unit(), kind);
        catalog.add(&prom, kind, &labels, &format!("SDK {} [{}]", m.name(), m.unit()));
        let entry = otel.entry(m.name().to_owned()).or_default();
        entry.extend(keys);
        entry.extend(m.resource.attributes.iter().map(|kv| kv.key.clone()));
    }

    // 2. span_metrics: every configured dimension is an attribute the SDK's server spans really set.
    let server_spans: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.span.kind == 2).collect();
    assert!(!server_spans.is_empty());
    for (name, kind, unit, attrs) in span_metrics_model() {
        for a in
            attrs.iter().filter(|a| !["service.name", "span.name", "span.kind", "status.code"].contains(&a.as_str()))
        {
            assert!(
                server_spans.iter().any(|s| s.attr(a).is_some()),
                "span_metrics dimension {a:?} is on no server span the SDK emits (spans: {:?})",
                server_spans.iter().map(|s| s.name()).collect::<Vec<_>>()
            );
        }
        let mut labels: BTreeSet<String> = attrs.iter().map(|k| prometheus_label(k)).collect();
        labels.extend(base.iter().cloned());
        catalog.add(&prometheus_name(&name, &unit, kind), kind, &labels, &format!("span_metrics {name}"));
        let mut keys = attrs.clone();
        keys.insert("service.name".into());
        otel.insert(name, keys);
    }

    // 3. The collector's own metrics.
    let mut collector_base: BTreeSet<String> =
        ["job", "instance", "service_name", "service_instance_id", "service_version", "otel_scope_name"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    collector_base.extend(base.iter().cloned());
    for line in read("tests/fixtures/collector/otelcol-self-metrics.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let kind = match parts[1] {
            "counter" => PromKind::Counter,
            "gauge" => PromKind::Gauge,
            "updowncounter" => PromKind::UpDownCounter,
            "histogram" => PromKind::Histogram,
            other => panic!("fixture: kind {other}"),
        };
        let mut labels = collector_base.clone();
        labels.extend(parts[3..].iter().map(|s| s.to_string()));
        // Exposed as named: no unit or type suffix (see the fixture's header; audit F1).
        catalog.add(parts[0], kind, &labels, "collector self-metric (fixture)");
    }

    // 4. Prometheus' own series.
    for name in PROMETHEUS_BUILTIN {
        catalog.add(name, PromKind::Gauge, &base, "Prometheus");
    }

    // 5. Declared but not emitted yet: must really not be emitted.
    for (name, kind, unit, attrs) in PENDING {
        assert!(
            !metrics.iter().any(|m| m.name() == name),
            "{name} is emitted now: remove it from PENDING in {}",
            file!()
        );
        let mut labels: BTreeSet<String> = attrs.iter().map(|a| prometheus_label(a)).collect();
        labels.extend(base.iter().cloned());
        catalog.add(
            &prometheus_name(name, unit, kind),
            kind,
            &labels,
            "PENDING: declared in ARCHITECTURE.md, not yet emitted",
        );
    }

    // 6. Recording rules: a series named by the rule, carrying the labels its outer aggregation keeps (`sum by
    // (job) (...)`), whose own expression is checked like an alert's (check_all_references).
    let outer_by = regex::Regex::new(r"^\s*[a-z_]+\s+by\s*\(([^)]*)\)").unwrap();
    for rel in files_under("collector-config/prometheus/rules", &[".yml"]) {
        for group in yaml(&rel)["groups"].as_vec().unwrap() {
            for rule in group["rules"].as_vec().unwrap() {
                let (Some(record), Some(expr)) = (scalar(&rule["record"]), scalar(&rule["expr"])) else { continue };
                let by = outer_by.captures(&expr).unwrap_or_else(|| panic!("{record}: not `aggregation by (...)`"));
                let labels: BTreeSet<String> = by[1].split(',').map(|l| l.trim().to_owned()).collect();
                catalog.add(&record, PromKind::Gauge, &labels, &format!("recording rule in {rel}"));
            }
        }
    }
    Emitted { catalog, otel }
}

/// `{{label}}` placeholders of a legend format.
fn legend_labels(legend: &str) -> Vec<String> {
    legend.split("{{").skip(1).filter_map(|s| s.split("}}").next()).map(|s| s.trim().to_owned()).collect()
}

/// Every PromQL use in dashboards, alert rules and datasource links, checked against the catalog.
fn check_all_references(catalog: &Catalog) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut checked = 0;

    for rel in files_under("collector-config/prometheus/rules", &[".yml"]) {
        for group in yaml(&rel)["groups"].as_vec().unwrap() {
            for rule in group["rules"].as_vec().unwrap() {
                let name = scalar(&rule["alert"]).or_else(|| scalar(&rule["record"])).unwrap_or_default();
                checked += 1;
                problems.extend(check_expr(&scalar(&rule["expr"]).unwrap(), catalog, &format!("{rel} rule {name}")));
            }
        }
    }

    for rel in files_under("collector-config/grafana/dashboards", &[".json"]) {
        let d: serde_json::Value = serde_json::from_str(&read(&rel)).unwrap();
        for v in d["templating"]["list"].as_array().into_iter().flatten() {
            let q = v["query"]["query"].as_str().or(v["query"].as_str()).unwrap_or_default();
            let Some(inner) = q.strip_prefix("label_values(").and_then(|s| s.strip_suffix(')')) else { continue };
            let (selector, label) = inner.rsplit_once(',').unwrap();
            let (selector, label) = (substitute_grafana_vars(selector.trim(), false), label.trim());
            checked += 1;
            let whence = format!("{rel} variable {}", v["name"]);
            problems.extend(check_expr(&selector, catalog, &whence));
            if let Ok(usage) = promql_usage(&selector) {
                for r in usage.references {
                    if catalog.series.get(&r.metric).is_some_and(|l| !l.contains(label)) {
                        problems.push(format!(
                            "{whence}: label_values of {} by {label:?}, which it does not carry",
                            r.metric
                        ));
                    }
                }
            }
        }
        let mut stack: Vec<&serde_json::Value> = d["panels"].as_array().into_iter().flatten().collect();
        while let Some(p) = stack.pop() {
            stack.extend(p["panels"].as_array().into_iter().flatten());
            for t in p["targets"].as_array().into_iter().flatten() {
                let Some(expr) = t["expr"].as_str() else { continue };
                checked += 1;
                let whence = format!("{rel} panel {:?} {}", p["title"].as_str().unwrap_or_default(), t["refId"]);
                let expr = substitute_grafana_vars(expr, false);
                problems.extend(check_expr(&expr, catalog, &whence));
                // Legend placeholders must be labels of the series the expression selects.
                if let Ok(usage) = promql_usage(&expr) {
                    let available: BTreeSet<&String> =
                        usage.references.iter().filter_map(|r| catalog.series.get(&r.metric)).flatten().collect();
                    for l in legend_labels(t["legendFormat"].as_str().unwrap_or_default()) {
                        if !available.contains(&l) {
                            problems.push(format!("{whence}: legend uses {{{{{l}}}}}, not a label of its series"));
                        }
                    }
                }
            }
        }
    }

    let ds = yaml("collector-config/grafana/provisioning/datasources/datasources.yaml");
    for d in ds["datasources"].as_vec().unwrap() {
        for q in d["jsonData"]["tracesToMetrics"]["queries"].as_vec().into_iter().flatten() {
            checked += 1;
            let expr = substitute_grafana_vars(&scalar(&q["query"]).unwrap(), true);
            problems.extend(check_expr(
                &expr,
                catalog,
                &format!("datasource tracesToMetrics {:?}", scalar(&q["name"])),
            ));
        }
    }
    (problems, checked)
}

/// The awsemf declarations select metrics and dimensions that exist (OTel names: EMF does no translation).
fn check_awsemf(otel: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let aws = yaml("collector-config/aws.yaml");
    let mut problems = Vec::new();
    for (i, decl) in aws["exporters"]["awsemf"]["metric_declarations"].as_vec().unwrap().iter().enumerate() {
        let mut matched: Vec<&String> = Vec::new();
        for sel in strings(&decl["metric_name_selectors"]) {
            let re = regex::Regex::new(&sel).unwrap_or_else(|e| panic!("awsemf selector {sel}: {e}"));
            let hits: Vec<&String> = otel.keys().filter(|n| re.is_match(n)).collect();
            if hits.is_empty() {
                problems.push(format!("aws.yaml awsemf declaration {i}: selector {sel:?} matches no emitted metric"));
            }
            matched.extend(hits);
        }
        let mut keys: Vec<String> = decl["dimensions"].as_vec().into_iter().flatten().flat_map(strings).collect();
        keys.extend(decl["label_matchers"].as_vec().into_iter().flatten().flat_map(|m| strings(&m["label_names"])));
        for key in keys {
            if !matched.iter().any(|m| otel[*m].contains(&key)) {
                problems.push(format!("aws.yaml awsemf declaration {i}: dimension {key:?} is on none of {matched:?}"));
            }
        }
    }
    problems
}

/// collector-config/aws/alarms.yaml (CloudFormation) alarms on what awsemf really sends: each alarm metric's
/// namespace is awsemf's, its name is an emitted OTel metric selected by a metric declaration, and its dimension
/// names are exactly one of that declaration's dimension sets (NoDimensionRollup: no other combination exists in
/// CloudWatch). An alarm named like a Prometheus alert has that alert's threshold. Not run against awsemf itself:
/// the AWS exporters cannot be built from the module proxy here (tests/stack/README.md).
fn check_alarms(otel: &BTreeMap<String, BTreeSet<String>>) -> (Vec<String>, usize) {
    let aws = yaml("collector-config/aws.yaml");
    let emf = &aws["exporters"]["awsemf"];
    assert_eq!(scalar(&emf["dimension_rollup_option"]).as_deref(), Some("NoDimensionRollup"));
    let namespace_setting = scalar(&emf["namespace"]).unwrap();
    let namespace = namespace_setting.rsplit(":-").next().unwrap().trim_end_matches('}').to_owned();
    let declarations: Vec<(Vec<regex::Regex>, Vec<BTreeSet<String>>)> = emf["metric_declarations"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|d| {
            let selectors =
                strings(&d["metric_name_selectors"]).iter().map(|s| regex::Regex::new(s).unwrap()).collect();
            let sets =
                d["dimensions"].as_vec().into_iter().flatten().map(|set| strings(set).into_iter().collect()).collect();
            (selectors, sets)
        })
        .collect();
    let thresholds: BTreeMap<String, f64> = {
        let last = regex::Regex::new(r"(>=|<=|==|!=|>|<)\s*([0-9.]+)\s*$").unwrap();
        let mut out = BTreeMap::new();
        for rel in files_under("collector-config/prometheus/rules", &[".yml"]) {
            for group in yaml(&rel)["groups"].as_vec().unwrap() {
                for rule in group["rules"].as_vec().unwrap() {
                    let (Some(alert), Some(expr)) = (scalar(&rule["alert"]), scalar(&rule["expr"])) else { continue };
                    if let Some(c) = last.captures(&expr) {
                        out.insert(alert, c[2].parse::<f64>().unwrap());
                    }
                }
            }
        }
        out
    };
    let template = yaml("collector-config/aws/alarms.yaml");
    let parameter_default = |v: &yaml_rust2::Yaml| -> Option<String> {
        scalar(&v["Ref"]).and_then(|p| scalar(&template["Parameters"][p.as_str()]["Default"])).or_else(|| scalar(v))
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, resource) in entries(&template["Resources"]) {
        if scalar(&resource["Type"]).as_deref() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let props = &resource["Properties"];
        if props["AlarmActions"].as_vec().is_none_or(|a| a.is_empty()) {
            problems.push(format!("alarms.yaml {name}: no AlarmActions (it would notify no one)"));
        }
        if let Some(want) = thresholds.get(&name) {
            let got = props["Threshold"].as_f64().or_else(|| props["Threshold"].as_i64().map(|i| i as f64));
            if got != Some(*want) {
                problems.push(format!("alarms.yaml {name}: threshold {got:?}, the Prometheus rule says {want}"));
            }
        }
        let mut metrics: Vec<&yaml_rust2::Yaml> = Vec::new();
        if !props["MetricName"].is_badvalue() {
            metrics.push(props);
        }
        metrics.extend(
            props["Metrics"]
                .as_vec()
                .into_iter()
                .flatten()
                .map(|m| &m["MetricStat"]["Metric"])
                .filter(|m| !m.is_badvalue()),
        );
        if metrics.is_empty() {
            problems.push(format!("alarms.yaml {name}: no metric"));
        }
        for m in metrics {
            checked += 1;
            let metric = scalar(&m["MetricName"]).unwrap_or_default();
            if parameter_default(&m["Namespace"]).as_deref() != Some(namespace.as_str()) {
                problems.push(format!("alarms.yaml {name} {metric}: namespace is not awsemf's {namespace:?}"));
            }
            if !otel.contains_key(&metric) {
                problems.push(format!("alarms.yaml {name}: {metric:?} is no metric the SDK or span_metrics emits"));
            }
            let dims: BTreeSet<String> =
                m["Dimensions"].as_vec().into_iter().flatten().filter_map(|d| scalar(&d["Name"])).collect();
            let declared = declarations
                .iter()
                .filter(|(selectors, _)| selectors.iter().any(|r| r.is_match(&metric)))
                .any(|(_, sets)| sets.contains(&dims));
            if !declared {
                problems.push(format!(
                    "alarms.yaml {name}: {metric} with dimensions {dims:?} is not what an aws.yaml metric declaration sends"
                ));
            }
        }
    }
    (problems, checked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_alerts_use_only_emitted_metric_names() {
    let (metrics, spans) = run_instrumented_service().await;
    let Emitted { catalog, otel } = build_catalog(&metrics, &spans);

    let mut listing = String::new();
    for (name, labels) in &catalog.series {
        listing.push_str(&format!("  {name} {labels:?}  <- {}\n", catalog.origin[name]));
    }
    eprintln!("emitted/known series ({}):\n{listing}", catalog.series.len());

    let (mut problems, checked) = check_all_references(&catalog);
    problems.extend(check_awsemf(&otel));
    let (alarm_problems, alarm_metrics) = check_alarms(&otel);
    problems.extend(alarm_problems);
    assert!(alarm_metrics >= 7, "only {alarm_metrics} alarm metrics checked");
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    assert!(checked > 60, "only {checked} expressions checked");

    // The check has teeth: a typo in a metric or a label is caught.
    for typo in [
        "rate(http_server_request_duraton_seconds_count[5m])",
        "sum by (http_rout) (rate(http_server_request_duration_seconds_count[5m]))",
        "cache_requests_total{cache_reslt=\"hit\"}",
        "process_cpu_utilization",
    ] {
        assert!(!check_expr(typo, &catalog, "typo").is_empty(), "typo not caught: {typo}");
    }
}

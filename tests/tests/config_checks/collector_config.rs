//! The collector configs (collector-config/otel-collector.yaml, aws.yaml, agent.yaml) checked without a collector
//! binary: every file parses; pipelines name only defined components and every defined component is used; every
//! component type exists in contrib 0.159 under its current (not deprecated) name; receivers bind 0.0.0.0;
//! memory_limiter is first everywhere; the gateway has what issue 7 asks for (batching, retry + persistent queue
//! on traces, health/scrape filter, resource_detection, tail_sampling, ONE span_metrics fed before sampling,
//! backends, self-metrics, health_check); the AWS overlay only adds; the agent routes by trace id; every block has
//! a comment; every `${env:...}` has a default.

use std::collections::BTreeSet;

use crate::collector_support::*;
use yaml_rust2::Yaml;

const GATEWAY: &str = "collector-config/otel-collector.yaml";
const AWS: &str = "collector-config/aws.yaml";
const AGENT: &str = "collector-config/agent.yaml";

/// The configs as the collector would run them: the gateway, the gateway + AWS overlay, the agent.
fn effective_configs() -> Vec<(&'static str, Yaml)> {
    let gateway = yaml(GATEWAY);
    let merged = merge(&gateway, &yaml(AWS));
    vec![("otel-collector.yaml", gateway), ("otel-collector.yaml + aws.yaml", merged), ("agent.yaml", yaml(AGENT))]
}

#[test]
fn every_config_file_parses() {
    let yamls = files_under("collector-config", &[".yaml", ".yml"]);
    assert!(yamls.len() >= 10, "expected the collector, Prometheus, Tempo, Loki and Grafana configs: {yamls:?}");
    for rel in yamls.iter().chain(["docker-compose.yml".to_owned()].iter()) {
        let doc = yaml(rel);
        assert!(doc.as_hash().is_some(), "{rel}: top level is not a mapping");
    }
    for rel in files_under("collector-config/grafana/dashboards", &[".json"]) {
        serde_json::from_str::<serde_json::Value>(&read(&rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
}

#[test]
fn pipelines_use_only_defined_components_and_every_component_is_used() {
    for (what, config) in effective_configs() {
        let pipelines = pipelines(&config);
        assert!(!pipelines.is_empty(), "{what}: no pipelines");
        let receivers: BTreeSet<String> = defined(&config, "receivers").into_iter().collect();
        let processors: BTreeSet<String> = defined(&config, "processors").into_iter().collect();
        let exporters: BTreeSet<String> = defined(&config, "exporters").into_iter().collect();
        let connectors: BTreeSet<String> = defined(&config, "connectors").into_iter().collect();
        let extensions: BTreeSet<String> = defined(&config, "extensions").into_iter().collect();

        let mut used = BTreeSet::new();
        for p in &pipelines {
            assert!(["traces", "metrics", "logs"].contains(&p.signal()), "{what}: pipeline {} has no signal", p.name);
            assert!(!p.receivers.is_empty() && !p.exporters.is_empty(), "{what}: {} lacks receivers/exporters", p.name);
            for r in &p.receivers {
                assert!(receivers.contains(r) || connectors.contains(r), "{what}: {}: receiver {r} undefined", p.name);
            }
            for x in &p.processors {
                assert!(processors.contains(x), "{what}: {}: processor {x} is not defined", p.name);
            }
            for e in &p.exporters {
                assert!(exporters.contains(e) || connectors.contains(e), "{what}: {}: exporter {e} undefined", p.name);
            }
            let unique: BTreeSet<&String> = p.processors.iter().collect();
            assert_eq!(unique.len(), p.processors.len(), "{what}: {} repeats a processor", p.name);
            used.extend(p.receivers.iter().chain(&p.processors).chain(&p.exporters).cloned());
        }
        // A connector must be an exporter of one pipeline and a receiver of another.
        for c in &connectors {
            assert!(pipelines.iter().any(|p| p.exporters.contains(c)), "{what}: connector {c} is never fed");
            assert!(pipelines.iter().any(|p| p.receivers.contains(c)), "{what}: connector {c} feeds nothing");
        }
        let service_extensions: BTreeSet<String> =
            strings(at(&config, &["service", "extensions"])).into_iter().collect();
        for x in &service_extensions {
            assert!(extensions.contains(x), "{what}: service.extensions names undefined {x}");
        }
        // Extensions used by reference (a queue's storage) count as used too, but must still be enabled.
        for x in &extensions {
            assert!(service_extensions.contains(x), "{what}: extension {x} is defined but not in service.extensions");
        }
        for id in receivers.iter().chain(&processors).chain(&exporters).chain(&connectors) {
            assert!(used.contains(id), "{what}: {id} is defined but no pipeline uses it");
        }
    }
}

#[test]
fn component_types_exist_in_contrib_0_159_under_their_current_names() {
    let known = contrib_components();
    let deprecated: BTreeSet<(String, String)> =
        known.iter().filter_map(|((kind, _), alias)| alias.clone().map(|a| (kind.clone(), a))).collect();
    for (what, config) in effective_configs() {
        for (kind, section) in KINDS {
            for id in defined(&config, section) {
                let ty = component_type(&id).to_owned();
                let key = (kind.to_owned(), ty.clone());
                assert!(
                    !deprecated.contains(&key),
                    "{what}: {kind} {id} uses the deprecated type name {ty:?} (see the fixture for the new name)"
                );
                assert!(known.contains_key(&key), "{what}: {kind} type {ty:?} ({id}) does not exist in contrib 0.159");
            }
        }
    }
    // The fixture itself knows the renames issue 7 relies on.
    for (kind, ty) in [
        ("exporter", "otlp_grpc"),
        ("exporter", "otlp_http"),
        ("exporter", "load_balancing"),
        ("connector", "span_metrics"),
        ("processor", "resource_detection"),
        ("processor", "tail_sampling"),
        ("exporter", "awsemf"),
        ("exporter", "awsxray"),
        ("exporter", "awscloudwatchlogs"),
    ] {
        assert!(known.contains_key(&(kind.to_owned(), ty.to_owned())), "fixture lacks {kind} {ty}");
    }
}

#[test]
fn receivers_bind_all_interfaces() {
    for (what, config) in effective_configs() {
        for (id, receiver) in entries(&config["receivers"]) {
            let protocols = entries(&receiver["protocols"]);
            assert!(!protocols.is_empty(), "{what}: receiver {id} has no protocols");
            for (proto, settings) in protocols {
                let endpoint = scalar(&settings["endpoint"])
                    .unwrap_or_else(|| panic!("{what}: {id}.{proto} has no endpoint (the default is localhost)"));
                let (host, _) = host_port(&endpoint).unwrap_or_else(|| panic!("{what}: {id}.{proto}: {endpoint}"));
                assert_eq!(host, "0.0.0.0", "{what}: receiver {id}.{proto} binds {endpoint}, not 0.0.0.0");
            }
        }
        // The health_check extension must answer probes from outside the process namespace too.
        let health = scalar(at(&config, &["extensions", "health_check", "endpoint"])).unwrap_or_default();
        assert!(health.starts_with("0.0.0.0:"), "{what}: health_check endpoint {health:?}");
    }
}

#[test]
fn memory_limiter_comes_first_in_every_pipeline() {
    for (what, config) in effective_configs() {
        for p in pipelines(&config) {
            let first = p.processors.first().map(|x| component_type(x));
            assert_eq!(first, Some("memory_limiter"), "{what}: pipeline {} starts with {first:?}", p.name);
        }
    }
}

fn pipelines_exporting(config: &Yaml, exporter: &str) -> Vec<Pipeline> {
    pipelines(config).into_iter().filter(|p| p.exporters.iter().any(|e| e == exporter)).collect()
}

#[test]
fn gateway_has_what_issue_7_asks_for() {
    let config = yaml(GATEWAY);
    let pipelines = pipelines(&config);
    let exporters = &config["exporters"];

    // Traces -> Tempo with retry and a persistent queue on an enabled file_storage extension.
    let tempo = &exporters["otlp_grpc/tempo"];
    assert_eq!(host_port(&scalar(&tempo["endpoint"]).unwrap()), Some(("tempo".into(), 4317)));
    assert_eq!(tempo["retry_on_failure"]["enabled"].as_bool(), Some(true), "trace exporter retries");
    let storage = scalar(&tempo["sending_queue"]["storage"]).expect("persistent queue on the trace exporter");
    assert_eq!(component_type(&storage), "file_storage");
    assert!(strings(at(&config, &["service", "extensions"])).contains(&storage), "{storage} not enabled");
    assert_eq!(scalar(&config["extensions"][storage.as_str()]["create_directory"]).as_deref(), Some("true"));

    // Metrics -> Prometheus OTLP receiver; logs -> Loki OTLP.
    let prom = scalar(&exporters["otlp_http/prometheus"]["endpoint"]).unwrap();
    assert_eq!(with_defaults(&prom), "http://prometheus:9090/api/v1/otlp", "otlp_http appends /v1/metrics");
    let loki = scalar(&exporters["otlp_http/loki"]["endpoint"]).unwrap();
    assert_eq!(with_defaults(&loki), "http://loki:3100/otlp", "otlp_http appends /v1/logs");
    for (exporter, signal) in
        [("otlp_grpc/tempo", "traces"), ("otlp_http/prometheus", "metrics"), ("otlp_http/loki", "logs")]
    {
        let users = pipelines_exporting(&config, exporter);
        assert!(!users.is_empty() && users.iter().all(|p| p.signal() == signal), "{exporter} carries {signal}");
    }

    // Batching: every exporter batches in its queue, or its pipelines batch.
    for (id, exporter) in entries(exporters) {
        let queued = exporter["sending_queue"]["batch"].as_hash().is_some();
        let batched =
            pipelines_exporting(&config, &id).iter().all(|p| p.processors.iter().any(|x| component_type(x) == "batch"));
        assert!(queued || batched, "exporter {id} is not batched");
    }

    // The health/scrape filter runs before span_metrics and before Tempo.
    let filter = &config["processors"]["filter/drop_health"];
    let conditions = strings(&filter["trace_conditions"]).join("\n");
    for needle in ["health", "metrics", "ready", "url.path", "user_agent.original"] {
        assert!(conditions.contains(needle), "filter/drop_health does not cover {needle}: {conditions}");
    }
    for p in pipelines.iter().filter(|p| p.signal() == "traces") {
        assert!(p.processors.contains(&"filter/drop_health".to_owned()), "{} does not filter probes", p.name);
    }

    // resource_detection enriches every signal that leaves for a backend.
    for p in pipelines.iter().filter(|p| !p.exporters.iter().any(|e| e == "span_metrics")) {
        assert!(p.processors.contains(&"resource_detection".to_owned()), "{}: no resource_detection", p.name);
    }

    // tail_sampling: keep errors, keep slow traces, sample the rest.
    let policies: Vec<String> = config["processors"]["tail_sampling"]["policies"]
        .as_vec()
        .expect("tail_sampling policies")
        .iter()
        .map(|p| scalar(&p["type"]).unwrap_or_default())
        .collect();
    assert_eq!(policies, ["status_code", "latency", "probabilistic"]);
    let errors = &config["processors"]["tail_sampling"]["policies"][0];
    assert_eq!(strings(&errors["status_code"]["status_codes"]), ["ERROR"]);

    // ONE RED source: span_metrics, fed by a traces pipeline WITHOUT tail_sampling, read by the metrics pipeline,
    // without exemplars. span_metrics/exemplars is the exemplar source: the same histogram, fed only AFTER
    // tail_sampling, so every exemplar's trace is a kept one (audit F3).
    let span_metrics: Vec<String> =
        defined(&config, "connectors").into_iter().filter(|c| component_type(c) == "span_metrics").collect();
    assert_eq!(span_metrics, ["span_metrics", "span_metrics/exemplars"], "one RED source and one exemplar source");
    let (red, sampled) = (&config["connectors"]["span_metrics"], &config["connectors"]["span_metrics/exemplars"]);
    assert_eq!(
        red["exemplars"]["enabled"].as_bool(),
        Some(false),
        "exemplars of unsampled spans link to dropped traces"
    );
    assert_eq!(sampled["exemplars"]["enabled"].as_bool(), Some(true));
    assert_eq!(red["histogram"], sampled["histogram"], "exemplar histogram buckets differ from the RED ones");
    assert_eq!(red["dimensions"], sampled["dimensions"], "exemplar histogram dimensions differ from the RED ones");
    assert_ne!(red["namespace"], sampled["namespace"]);
    let exemplar_feeders = pipelines_exporting(&config, "span_metrics/exemplars");
    assert!(!exemplar_feeders.is_empty());
    for p in &exemplar_feeders {
        assert!(
            p.processors.iter().any(|x| component_type(x) == "tail_sampling"),
            "{} feeds exemplars unsampled",
            p.name
        );
    }
    let feeders = pipelines_exporting(&config, "span_metrics");
    assert!(!feeders.is_empty());
    for p in &feeders {
        assert!(!p.processors.iter().any(|x| component_type(x) == "tail_sampling"), "{} samples before RED", p.name);
    }
    let readers: Vec<&Pipeline> = pipelines.iter().filter(|p| p.receivers.contains(&"span_metrics".into())).collect();
    assert!(readers.iter().all(|p| p.signal() == "metrics") && !readers.is_empty());
    assert!(readers.iter().all(|p| p.exporters.contains(&"otlp_http/prometheus".into())));
    assert!(pipelines.iter().any(|p| p.processors.iter().any(|x| x == "tail_sampling")));

    // The collector's own metrics and the health_check extension.
    let reader = &at(&config, &["service", "telemetry", "metrics", "readers"])[0]["pull"]["exporter"]["prometheus"];
    assert_eq!((scalar(&reader["host"]).as_deref(), reader["port"].as_i64()), (Some("0.0.0.0"), Some(8888)));
    assert!(strings(at(&config, &["service", "extensions"])).contains(&"health_check".to_owned()));
}

#[test]
fn aws_overlay_only_adds_new_components_and_pipelines() {
    let base = yaml(GATEWAY);
    let overlay = yaml(AWS);
    let base_pipelines: BTreeSet<String> = pipelines(&base).into_iter().map(|p| p.name).collect();

    assert_eq!(keys(&overlay["service"]), ["pipelines"], "the overlay must not replace service lists");
    for p in pipelines(&overlay) {
        assert!(!base_pipelines.contains(&p.name), "overlay redefines pipeline {} (lists are replaced)", p.name);
        assert!(p.name.ends_with("/aws"), "{}", p.name);
    }
    for (_, section) in KINDS {
        for id in defined(&overlay, section) {
            assert!(!defined(&base, section).contains(&id), "overlay redefines {section}.{id}");
        }
    }
    // The merge keeps every base pipeline's exporters untouched.
    let merged = merge(&base, &overlay);
    for p in pipelines(&base) {
        let after = pipelines(&merged).into_iter().find(|m| m.name == p.name).unwrap();
        assert_eq!(after.exporters, p.exporters, "{} changed by the overlay", p.name);
    }

    let exporters = &overlay["exporters"];
    let emf = &exporters["awsemf"];
    assert_eq!(scalar(&emf["dimension_rollup_option"]).as_deref(), Some("NoDimensionRollup"));
    assert!(scalar(&emf["namespace"]).is_some_and(|n| !with_defaults(&n).is_empty()));
    for id in ["awsemf", "awsxray", "awscloudwatchlogs"] {
        let region = scalar(&exporters[id]["region"]).unwrap_or_else(|| panic!("{id}: no region"));
        assert!(region.contains("${env:AWS_REGION:-"), "{id}: region must come from AWS_REGION with a default");
        let users = pipelines_exporting(&overlay, id);
        assert_eq!(users.len(), 1, "{id} in one new pipeline");
    }
    // awsemf and awsxray have no queue/retry settings: their pipelines batch instead.
    for id in ["awsemf", "awsxray"] {
        assert!(exporters[id]["sending_queue"].is_badvalue() && exporters[id]["retry_on_failure"].is_badvalue());
        for p in pipelines_exporting(&overlay, id) {
            assert!(p.processors.iter().any(|x| component_type(x) == "batch"), "{}: no batch processor", p.name);
        }
    }
    let cwl = &exporters["awscloudwatchlogs"];
    assert!(scalar(&cwl["log_group_name"]).is_some() && scalar(&cwl["log_stream_name"]).is_some());

    // Declarations for RED, resource, pool and cache metrics (the names are checked against what the SDK emits in
    // dashboards_metric_names.rs).
    let selectors: Vec<String> = emf["metric_declarations"]
        .as_vec()
        .expect("metric_declarations")
        .iter()
        .flat_map(|d| strings(&d["metric_name_selectors"]))
        .collect();
    for family in
        ["http\\.server", "traces\\.span\\.metrics", "process\\.cpu", "system\\.memory", "db\\.client", "cache"]
    {
        assert!(selectors.iter().any(|s| s.contains(family)), "no awsemf declaration for {family}: {selectors:?}");
    }
    // The comments document credentials and region.
    let text = read(AWS);
    for needle in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_PROFILE", "instance profile", "role"] {
        assert!(text.contains(needle), "aws.yaml does not document {needle}");
    }
}

#[test]
fn agent_routes_traces_by_trace_id_to_the_gateways() {
    let agent = yaml(AGENT);
    let gateway = yaml(GATEWAY);
    let lb = &agent["exporters"]["load_balancing"];
    assert_eq!(scalar(&lb["routing_key"]).as_deref(), Some("traceID"));
    assert!(lb["protocol"]["otlp"].as_hash().is_some(), "load_balancing needs an otlp template");
    let dns = &lb["resolver"]["dns"];
    let host = with_defaults(&scalar(&dns["hostname"]).expect("dns resolver hostname"));
    let port: u16 = scalar(&dns["port"]).unwrap().parse().unwrap();
    let grpc = scalar(at(&gateway, &["receivers", "otlp", "protocols", "grpc", "endpoint"])).unwrap();
    assert_eq!(Some(port), host_port(&grpc).map(|(_, p)| p), "agent targets the gateways' OTLP gRPC port");
    assert_eq!(host, "otel-gateways", "the compose alias every gateway carries (collector_stack.rs checks it)");

    let traces: Vec<Pipeline> = pipelines(&agent).into_iter().filter(|p| p.signal() == "traces").collect();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].exporters, ["load_balancing"], "every span goes through the trace-id router");
    // Sampling and RED stay on the gateways, where whole traces are.
    let all: Vec<String> = KINDS.iter().flat_map(|(_, s)| defined(&agent, s)).collect();
    assert!(!all.iter().any(|c| ["tail_sampling", "span_metrics"].contains(&component_type(c))), "{all:?}");

    let readme = read("collector-config/README.md");
    for needle in ["load_balancing", "traceID", "tail_sampling", "otel-gateways"] {
        assert!(readme.contains(needle), "collector-config/README.md does not explain {needle}");
    }
}

/// The line of each component/pipeline key, and whether a comment precedes it (or trails it).
fn undocumented_blocks(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut section = "";
    let mut in_pipelines = false;
    let mut missing = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indent == 0 {
            section = trimmed.trim_end_matches(':');
            in_pipelines = false;
            continue;
        }
        if section == "service" && indent == 2 {
            in_pipelines = trimmed.starts_with("pipelines:");
            if !trimmed.starts_with("pipelines:") && !trimmed.starts_with("extensions:") {
                // telemetry: documented like a block
                if !has_comment(&lines, i) {
                    missing.push(format!("service.{trimmed}"));
                }
            }
            continue;
        }
        let block = (indent == 2 && KINDS.iter().any(|(_, s)| *s == section)) || (in_pipelines && indent == 4);
        if block && !has_comment(&lines, i) {
            missing.push(format!("{section}: {trimmed}"));
        }
    }
    missing
}

fn has_comment(lines: &[&str], i: usize) -> bool {
    if lines[i].contains(" # ") {
        return true;
    }
    lines[..i].iter().rev().find(|l| !l.trim().is_empty()).is_some_and(|l| l.trim().starts_with('#'))
}

#[test]
fn every_block_says_why_it_is_there() {
    for rel in [GATEWAY, AWS, AGENT] {
        let missing = undocumented_blocks(&read(rel));
        assert!(missing.is_empty(), "{rel}: blocks without a comment: {missing:#?}");
    }
}

#[test]
fn every_env_reference_has_a_default() {
    let mut checked = 0;
    for rel in files_under("collector-config", &[".yaml", ".yml"]) {
        let text = read(&rel);
        for inner in expansions(&text) {
            checked += 1;
            if let Some(var) = inner.strip_prefix("env:") {
                assert!(var.contains(":-"), "{rel}: ${{{inner}}} has no default (${{env:{var}:-default}})");
            } else {
                // Compose interpolation in the override file.
                assert!(inner.contains(":-"), "{rel}: ${{{inner}}} has no default");
            }
        }
    }
    for inner in expansions(&read("docker-compose.yml")) {
        checked += 1;
        // A secret has no default on purpose (issue 15: Grafana's admin password comes from the environment):
        // `${VAR:?message}` makes compose refuse to start and say which variable to set, a clear error.
        let required = inner.split_once(":?").is_some_and(|(_, message)| message.trim().len() > 10);
        assert!(
            inner.contains(":-") || required,
            "docker-compose.yml: ${{{inner}}} has neither a default nor a `:?` message saying what to set"
        );
    }
    assert!(checked > 10, "expected env references with defaults, found {checked}");
    // The collector's own syntax: a bare ${VAR} or $VAR is not expanded the same way; only ${env:...} is used.
    for rel in [GATEWAY, AWS, AGENT] {
        for inner in expansions(&read(rel)) {
            assert!(inner.starts_with("env:"), "{rel}: ${{{inner}}} is not an ${{env:...}} reference");
        }
    }
}

#[test]
fn name_translation_follows_otlptranslator() {
    // Edge cases as prometheus/otlptranslator metric_namer.go handles them (see collector_support::prometheus_name).
    let cases = [
        ("http.server.request.duration", "s", PromKind::Histogram, "http_server_request_duration_seconds"),
        ("http.server.active_requests", "{request}", PromKind::UpDownCounter, "http_server_active_requests"),
        ("cache.requests", "{request}", PromKind::Counter, "cache_requests_total"),
        ("cache.hit_ratio", "1", PromKind::Gauge, "cache_hit_ratio"),
        ("system.memory.utilization", "1", PromKind::Gauge, "system_memory_utilization_ratio"),
        ("system.cpu.load_average.1m", "{thread}", PromKind::Gauge, "system_cpu_load_average_1m"),
        ("process.cpu.time", "s", PromKind::Counter, "process_cpu_time_seconds_total"),
        ("process.memory.usage", "By", PromKind::UpDownCounter, "process_memory_usage_bytes"),
        ("otelcol_process_cpu_seconds", "s", PromKind::Counter, "otelcol_process_cpu_seconds_total"),
        ("requests.total", "1", PromKind::Counter, "requests_total"),
        ("net.io", "By/s", PromKind::Gauge, "net_io_bytes_per_second"),
        ("traces.span.metrics.calls", "", PromKind::Counter, "traces_span_metrics_calls_total"),
        ("ratio.of.things", "1", PromKind::UpDownCounter, "ratio_of_things"),
        ("2xx.count", "", PromKind::Gauge, "_2xx_count"),
    ];
    for (name, unit, kind, want) in cases {
        assert_eq!(prometheus_name(name, unit, kind), want, "{name} [{unit}] {kind:?}");
    }
    assert_eq!(prometheus_label("http.response.status_code"), "http_response_status_code");
    assert_eq!(prometheus_label("db.client.connection.pool.name"), "db_client_connection_pool_name");
    assert_eq!(prometheus_label("1st"), "key_1st");
}

//! `GET /metrics`: the Prometheus text exposition of the service's provider, parsed by a real parser
//! (prometheus-parse) and, when `promtool` is there (`PROMTOOL`, else PATH; CI builds it; with `CI` set a missing
//! promtool fails the test), checked with `promtool check metrics`. Names follow Prometheus' OTLP ingest; the values are the
//! pools', caches' and HTTP layer's own numbers.

#![cfg(feature = "prometheus")]

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::fixture::service;
use prometheus_parse::{Sample, Scrape, Value};

fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    scrape.samples.iter().find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
}

fn number(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match find(scrape, metric, labels).map(|s| &s.value) {
        Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
        other => panic!("{metric}{labels:?}: {other:?}"),
    }
}

#[tokio::test]
async fn the_exposition_parses_and_carries_the_sources_numbers() {
    let svc = service(|b| b.cache(Duration::ZERO)).await;
    for _ in 0..4 {
        svc.server.get("/work").await;
    }
    let answer = svc.server.get("/metrics").await;
    assert_eq!((answer.status, answer.content_type.as_str()), (200, "text/plain; version=0.0.4; charset=utf-8"));
    let scrape = Scrape::parse(answer.body.lines().map(|l| Ok(l.to_owned()))).expect("the exposition parses");

    // Pools and caches: the sources' own numbers under the OTLP-ingest names.
    let pool = otelwright_meters::PoolStats::state(&otelwright_meters::pool::sqlx::SqlxPool::new(svc.main.clone()));
    let pool = pool.unwrap();
    let main = ("db_client_connection_pool_name", "main");
    assert_eq!(
        number(&scrape, "db_client_connection_count", &[main, ("db_client_connection_state", "used")]),
        pool.used as f64
    );
    assert_eq!(
        number(&scrape, "db_client_connection_count", &[main, ("db_client_connection_state", "idle")]),
        pool.idle as f64
    );
    assert_eq!(number(&scrape, "db_client_connection_max", &[main]), pool.max as f64);
    let users = ("cache_name", "users");
    let counts = svc.users.counts();
    assert_eq!(number(&scrape, "cache_requests_total", &[users, ("cache_result", "hit")]), counts.hits as f64);
    assert_eq!(number(&scrape, "cache_requests_total", &[users, ("cache_result", "miss")]), counts.misses as f64);
    let ratio = number(&scrape, "cache_hit_ratio", &[users]);
    assert!((ratio - 7.0 / 9.0).abs() < 1e-12, "{ratio}");
    assert!(!answer.body.contains("cache_hit_ratio_ratio"), "the ingest's name, not the exporter's");

    // Resources, with unit suffixes.
    let r = svc.meters.resources.as_ref().unwrap().snapshot();
    assert_eq!(number(&scrape, "process_memory_usage_bytes", &[]), r.process.memory_rss_bytes as f64);
    assert!(find(&scrape, "process_cpu_time_seconds_total", &[]).is_some());

    // The HTTP histogram.
    let work = find(&scrape, "http_server_request_duration_seconds", &[("http_route", "/work")]).expect("histogram");
    let Value::Histogram(buckets) = &work.value else { panic!("{work:?}") };
    assert_eq!(buckets.last().map(|b| (b.less_than, b.count)), Some((f64::INFINITY, 4.0)));
    assert_eq!(work.labels.get("http_request_method"), Some("GET"));
    assert_eq!(work.labels.get("otel_scope_name"), Some("otelwright-http"));

    // The resource as target_info.
    assert_eq!(find(&scrape, "target_info", &[]).unwrap().labels.get("service_name"), Some("health-test"));

    promtool_check(&answer.body);
}

/// `promtool check metrics`: exit 1 (a parse error) fails; exit 3 (lint findings) passes only for the
/// semconv names that end in `_count` without being histograms, which the OTLP ingest produces as well.
fn promtool_check(exposition: &str) {
    // `PROMTOOL`: the Prometheus 3 promtool tests/stack/build.sh builds (`.ci/run` sets it); else one on PATH.
    let promtool = std::env::var_os("PROMTOOL").unwrap_or_else(|| "promtool".into());
    let child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("promtool is required in CI (.ci/run builds it with tests/stack/build.sh): {e}");
            }
            eprintln!(
                "SKIPPED: promtool check metrics ({e}); run tests/stack/build.sh and source tests/stack/env.sh to run it"
            );
            return;
        }
    };
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let findings = String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout);
    // Semantic-convention names that end in `.count` (UpDownCounters, so no `_total`): promtool's lint is a style
    // rule, the conventions are the spec.
    const SEMCONV_COUNT: [&str; 4] = [
        "db_client_connection_count",
        "process_thread_count",
        "process_unix_file_descriptor_count",
        "system_process_count",
    ];
    let unexpected: Vec<&str> = findings
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            !(l.ends_with(r#"non-histogram and non-summary metrics should not have "_count" suffix"#)
                && SEMCONV_COUNT.iter().any(|name| l.starts_with(&format!("{name} "))))
        })
        .collect();
    assert!(
        matches!(output.status.code(), Some(0 | 3)) && unexpected.is_empty(),
        "promtool: {:?}\n{findings}",
        output.status
    );
}

#[tokio::test]
async fn readers_that_were_never_installed_answer_503_not_an_empty_200() {
    let readers = otelwright_health::HealthReaders::new();
    let health = otelwright_health::Health::builder().readers(&readers).without_token().build();
    let server = common::serve(health.router()).await;
    let answer = server.get("/metrics").await;
    assert_eq!((answer.status, answer.body.as_str()), (503, "metrics unavailable\n"));
    let snapshot = server.get("/api/v1/metrics").await.json();
    assert_eq!(snapshot["requests"]["count"], 0);
    assert!(snapshot["requests"]["p99_ms"].is_null() && snapshot["requests"]["collected_seconds_ago"].is_null());
}

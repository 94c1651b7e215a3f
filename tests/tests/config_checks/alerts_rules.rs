//! The alert rules (collector-config/prometheus/rules/) cover what issues 7 and 15 list, with their thresholds,
//! durations and severities; every expression parses as PromQL; every alert has a summary, a description and a runbook_url
//! whose anchor exists in RUNBOOK.md; every alert has promtool unit tests that make it fire and keep it silent.
//! (alerts_promtool.rs runs promtool itself; dashboards_metric_names.rs checks the metric names.)

use std::collections::{BTreeMap, BTreeSet};

use crate::collector_support::*;
use yaml_rust2::Yaml;

struct Rule {
    alert: String,
    expr: String,
    for_: String,
    severity: String,
    /// The `twin` label: the same condition at warning and critical level (alertmanager.yml inhibits the warning).
    twin: Option<String>,
    annotations: BTreeMap<String, String>,
}

fn rules() -> Vec<Rule> {
    let files = files_under("collector-config/prometheus/rules", &[".yml", ".yaml"]);
    assert!(!files.is_empty());
    let mut out = Vec::new();
    for rel in files {
        let doc = yaml(&rel);
        for group in doc["groups"].as_vec().unwrap_or_else(|| panic!("{rel}: no groups")) {
            for rule in group["rules"].as_vec().unwrap() {
                // Recording rules are checked by `every_recording_rule_is_read`.
                let Some(alert) = scalar(&rule["alert"]) else { continue };
                out.push(Rule {
                    expr: scalar(&rule["expr"]).unwrap(),
                    for_: scalar(&rule["for"]).unwrap_or_default(),
                    severity: scalar(&rule["labels"]["severity"]).unwrap_or_default(),
                    twin: scalar(&rule["labels"]["twin"]),
                    annotations: entries(&rule["annotations"])
                        .into_iter()
                        .map(|(k, v)| (k, scalar(v).unwrap_or_default()))
                        .collect(),
                    alert,
                });
            }
        }
    }
    out
}

/// Issue 7's and issue 15's lists: (alert, severity, `for`, a comparison the expression must contain, a metric it
/// must use).
const REQUIRED: [(&str, &str, &str, &str, &str); 24] = [
    ("ServiceCpuHigh", "warning", "5m", "> 0.80", "system_cpu_utilization_ratio"),
    ("ServiceCpuCritical", "critical", "2m", "> 0.95", "system_cpu_utilization_ratio"),
    ("ServiceMemoryHigh", "warning", "5m", "> 0.85", "system_memory_utilization_ratio"),
    ("ServiceMemoryCritical", "critical", "2m", "> 0.95", "system_memory_utilization_ratio"),
    ("DbPoolExhausted", "critical", "1m", ">= 1", "db_client_connection_max"),
    ("DbPoolSaturated", "warning", "5m", "> 0.80", "db_client_connection_count"),
    ("CacheHitRatioLow", "warning", "10m", "< 0.30", "cache_requests_total"),
    ("CacheErrors", "warning", "2m", "> 0", "cache_errors_total"),
    ("HttpLatencySloBreached", "warning", "10m", "> 0.5", "http_server_request_duration_seconds_bucket"),
    ("HttpServerErrorsHigh", "critical", "5m", "> 0.05", "http_server_request_duration_seconds_count"),
    ("TelemetryExportDropping", "warning", "5m", "> 0", "otelwright_exporter_items_total"),
    ("CollectorExporterFailing", "warning", "5m", "> 0", "otelcol_exporter_send_failed_spans"),
    ("CollectorRefusingData", "critical", "5m", "> 0", "otelcol_receiver_refused_spans"),
    // Issue 15.
    ("ServiceDown", "critical", "1m", "unless on (job)", "otelwright_exporter_items_total"),
    ("CollectorDown", "critical", "1m", "== 0", "up"),
    ("CollectorQueueNearCapacity", "warning", "5m", "> 0.80", "otelcol_exporter_queue_capacity"),
    ("HttpLatencyP99Critical", "critical", "5m", "> 2", "http_server_request_duration_seconds_bucket"),
    ("HttpSlowRequests", "info", "1m", "> 10", "http_server_request_duration_seconds_bucket"),
    ("DependencyFailing", "critical", "5m", "> 0.05", "rpc_client_call_duration_seconds_count"),
    ("FunctionErrorRateHigh", "warning", "5m", "> 0.10", "function_calls_total"),
    ("FunctionSlow", "warning", "5m", "> 10", "function_calls_duration_seconds_count"),
    ("ChatSpendOverBudget", "warning", "5m", "> 50", "chat_tokens_total"),
    ("ReadinessFailing", "critical", "3m", "< 1", "health_check_status"),
    ("DbQueryLatencyHigh", "warning", "5m", "> 0.1", "db_client_operation_duration_seconds_bucket"),
];

#[test]
fn rules_cover_issue_7_with_its_thresholds() {
    let rules = rules();
    let records = recording_rules();
    let by_name: BTreeMap<&str, &Rule> = rules.iter().map(|r| (r.alert.as_str(), r)).collect();
    assert_eq!(by_name.len(), rules.len(), "duplicate alert names");
    for (alert, severity, for_, comparison, metric) in REQUIRED {
        let rule = by_name.get(alert).unwrap_or_else(|| panic!("missing alert {alert}"));
        assert_eq!(rule.severity, severity, "{alert}: severity");
        assert_eq!(rule.for_, for_, "{alert}: for");
        let flat = rule.expr.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(comparison), "{alert}: expected `{comparison}` in {flat}");
        let used = metrics_read(&rule.expr, &records);
        assert!(used.contains(metric), "{alert}: expected {metric} in {used:?}");
    }
    assert_eq!(rules.len(), REQUIRED.len(), "an alert without a row in REQUIRED: add it there");
}

/// The recording rules: name → expression.
fn recording_rules() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for rel in files_under("collector-config/prometheus/rules", &[".yml", ".yaml"]) {
        let doc = yaml(&rel);
        for group in doc["groups"].as_vec().unwrap() {
            for rule in group["rules"].as_vec().unwrap() {
                if let (Some(record), Some(expr)) = (scalar(&rule["record"]), scalar(&rule["expr"])) {
                    out.insert(record, expr);
                }
            }
        }
    }
    out
}

/// The metrics `expr` reads, through the recording rules it uses.
fn metrics_read(expr: &str, records: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for metric in promql_usage(expr).unwrap().references.into_iter().map(|r| r.metric) {
        if let Some(inner) = records.get(&metric) {
            out.extend(metrics_read(inner, records));
        }
        out.insert(metric);
    }
    out
}

#[test]
fn every_expression_parses_and_every_alert_is_documented() {
    let runbook = read("collector-config/prometheus/RUNBOOK.md");
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_lowercase().replace(' ', "-"))
        .collect();
    for rule in rules() {
        promql_usage(&rule.expr).unwrap_or_else(|e| panic!("{}: {e}", rule.alert));
        // The severities alertmanager.yml routes (critical pages, warning tickets, info low-priority).
        assert!(["info", "warning", "critical"].contains(&rule.severity.as_str()), "{}: severity", rule.alert);
        for key in ["summary", "description", "runbook_url"] {
            assert!(rule.annotations.get(key).is_some_and(|v| !v.is_empty()), "{}: no {key}", rule.alert);
        }
        let url = &rule.annotations["runbook_url"];
        let (page, anchor) = url.split_once('#').unwrap_or_else(|| panic!("{}: {url} has no anchor", rule.alert));
        assert!(
            page.ends_with("/blob/main/collector-config/prometheus/RUNBOOK.md"),
            "{}: runbook_url points at {page}",
            rule.alert
        );
        assert_eq!(anchor, rule.alert.to_lowercase(), "{}: anchor", rule.alert);
        assert!(anchors.contains(anchor), "{}: RUNBOOK.md has no section ## {}", rule.alert, rule.alert);
    }
}

#[test]
fn every_alert_has_unit_tests_that_fire_and_stay_silent() {
    let tests = files_under("collector-config/prometheus/tests", &[".test.yml"]);
    assert!(!tests.is_empty(), "no promtool unit tests");
    let mut fires: BTreeSet<String> = BTreeSet::new();
    let mut silent: BTreeSet<String> = BTreeSet::new();
    for rel in &tests {
        let doc = yaml(rel);
        for file in strings(&doc["rule_files"]) {
            let dir = std::path::Path::new(rel).parent().unwrap();
            assert!(root().join(dir).join(&file).is_file(), "{rel}: rule file {file} does not exist");
        }
        for group in doc["tests"].as_vec().unwrap() {
            for case in group["alert_rule_test"].as_vec().into_iter().flatten() {
                let name = scalar(&case["alertname"]).unwrap();
                match &case["exp_alerts"] {
                    Yaml::Array(a) if !a.is_empty() => {
                        fires.insert(name);
                    }
                    _ => {
                        silent.insert(name);
                    }
                }
            }
        }
    }
    for rule in rules() {
        assert!(fires.contains(&rule.alert), "{}: no unit test in which it fires", rule.alert);
        assert!(silent.contains(&rule.alert), "{}: no unit test in which it stays silent", rule.alert);
    }
}

#[test]
fn every_twin_is_one_critical_and_its_warnings() {
    let mut twins: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for rule in rules() {
        if let Some(t) = rule.twin {
            twins.entry(t).or_default().push((rule.severity, rule.alert));
        }
    }
    // Issue 15: CPU, memory, pool and latency each have a warning and a critical level.
    assert_eq!(twins.keys().map(String::as_str).collect::<Vec<_>>(), ["cpu", "db_pool", "latency", "memory"]);
    for (twin, alerts) in &twins {
        let critical = alerts.iter().filter(|(s, _)| s == "critical").count();
        let warning = alerts.iter().filter(|(s, _)| s == "warning").count();
        assert!(critical == 1 && warning >= 1 && critical + warning == alerts.len(), "twin {twin}: {alerts:?}");
    }
}

/// `30s`, `5m`, `4h`, `1d` -> seconds.
fn seconds(d: &str) -> u64 {
    let (n, unit) = d.split_at(d.find(|c: char| !c.is_ascii_digit()).unwrap_or(d.len()));
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("duration {d}"));
    n * match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        other => panic!("duration unit {other} in {d}"),
    }
}

/// The write-ups' cooldown: no alert is re-sent unchanged within 15 minutes, on any route (a route inherits its
/// parent's repeat_interval); every severity the rules use has its own route.
#[test]
fn alertmanager_never_repeats_an_alert_within_15_minutes_and_routes_every_severity() {
    let am = yaml("collector-config/alertmanager/alertmanager.yml");
    fn walk(route: &Yaml, inherited: u64, out: &mut Vec<(String, u64)>) {
        let repeat = scalar(&route["repeat_interval"]).map_or(inherited, |d| seconds(&d));
        let matchers = strings(&route["matchers"]).join(",");
        out.push((matchers, repeat));
        for child in route["routes"].as_vec().into_iter().flatten() {
            walk(child, repeat, out);
        }
    }
    let mut routes = Vec::new();
    // Alertmanager's default repeat_interval is 4h.
    walk(&am["route"], 4 * 3600, &mut routes);
    for (matchers, repeat) in &routes {
        assert!(*repeat >= 15 * 60, "route {{{matchers}}} repeats every {repeat} s, within 15 minutes");
    }
    let severities: BTreeSet<String> = rules().into_iter().map(|r| r.severity).collect();
    for severity in severities {
        let matcher = format!("severity=\"{severity}\"");
        assert!(routes.iter().any(|(m, _)| *m == matcher), "no route for {matcher}: {routes:?}");
    }
}

/// A recording rule exists to compute a number once for the alerts and panels that read it: each one is read by
/// at least one alert, and its name follows Prometheus' `level:metric:operations` convention.
#[test]
fn every_recording_rule_is_read() {
    let alerts = rules();
    let records = recording_rules();
    assert!(!records.is_empty(), "the spend's prices are written once, in a recording rule");
    for record in records.keys() {
        assert_eq!(record.split(':').count(), 3, "{record}: not level:metric:operations");
        assert!(alerts.iter().any(|a| a.expr.contains(record.as_str())), "{record}: no alert reads it");
    }
}

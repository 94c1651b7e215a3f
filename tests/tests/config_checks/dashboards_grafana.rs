//! The Grafana dashboards (collector-config/grafana/dashboards/*.json) as Grafana 13 loads them from provisioning:
//! classic dashboard JSON (schemaVersion 41+, no database id), unique uids, panels on the 24-column grid without
//! overlaps, datasources that the provisioning defines, template variables that exist, PromQL that parses, and the
//! five dashboards issue 7 asks for and issue 15's Functions dashboard, with the panels that make them what they are (RED per route with exemplars
//! linking to Tempo). dashboards_metric_names.rs checks the metric and label names.

use std::collections::{BTreeMap, BTreeSet};

use crate::collector_support::*;
use serde_json::Value;

fn dashboards() -> Vec<(String, Value)> {
    files_under("collector-config/grafana/dashboards", &[".json"])
        .into_iter()
        .map(|rel| {
            let v: Value = serde_json::from_str(&read(&rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
            (rel, v)
        })
        .collect()
}

fn provisioned_datasources() -> BTreeSet<String> {
    let ds = yaml("collector-config/grafana/provisioning/datasources/datasources.yaml");
    ds["datasources"].as_vec().unwrap().iter().filter_map(|d| scalar(&d["uid"])).collect()
}

/// Every panel, with the panels nested in collapsed rows.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().into_iter().flatten() {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// Grafana variables used in a string: `$name`, `${name}`, `${name:fmt}`, `[[name]]`.
fn variables_in(s: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == '$' {
            let braced = bytes.get(i + 1) == Some(&'{');
            let start = if braced { i + 2 } else { i + 1 };
            let mut end = start;
            while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == '_') {
                end += 1;
            }
            if end > start {
                out.insert(bytes[start..end].iter().collect());
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn the_five_dashboards_exist_with_unique_uids() {
    let dashboards = dashboards();
    let uids: BTreeMap<String, String> =
        dashboards.iter().map(|(rel, d)| (d["uid"].as_str().unwrap().to_owned(), rel.clone())).collect();
    assert_eq!(uids.len(), dashboards.len(), "duplicate uid");
    let expected = [
        "otelwright-service-overview",
        "otelwright-resources",
        "otelwright-pools",
        "otelwright-caches",
        "otelwright-collector-health",
        "otelwright-functions",
    ];
    assert_eq!(uids.keys().map(String::as_str).collect::<BTreeSet<_>>(), expected.into_iter().collect());
    let titles: BTreeSet<&str> = dashboards.iter().map(|(_, d)| d["title"].as_str().unwrap()).collect();
    assert_eq!(titles.len(), dashboards.len(), "duplicate title");
}

#[test]
fn dashboards_follow_grafana_13_classic_json() {
    let datasources = provisioned_datasources();
    let kinds: BTreeSet<&str> =
        ["row", "timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text", "logs", "traces", "nodeGraph"]
            .into();
    for (rel, d) in dashboards() {
        let schema = d["schemaVersion"].as_u64().unwrap_or_else(|| panic!("{rel}: no schemaVersion"));
        assert!((41..=43).contains(&schema), "{rel}: schemaVersion {schema} (Grafana 12/13 classic JSON)");
        assert!(d.get("id").is_none_or(Value::is_null), "{rel}: provisioned dashboards carry no database id");
        assert!(d["tags"].as_array().unwrap().iter().any(|t| t == "otelwright"), "{rel}: tag otelwright");
        assert!(d["time"]["from"].is_string() && d["refresh"].is_string(), "{rel}: time range and refresh");

        let variables: BTreeSet<String> = d["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect();
        for v in d["templating"]["list"].as_array().unwrap() {
            let uid = v["datasource"]["uid"].as_str().unwrap_or_default();
            assert!(datasources.contains(uid), "{rel}: variable {} uses datasource {uid:?}", v["name"]);
        }

        let mut ids = BTreeSet::new();
        let mut boxes: Vec<(u64, u64, u64, u64, String)> = Vec::new();
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or_default().to_owned();
            let kind = p["type"].as_str().unwrap();
            assert!(kinds.contains(kind), "{rel}: panel {title:?} has type {kind}");
            assert!(ids.insert(p["id"].as_u64().unwrap()), "{rel}: duplicate panel id {}", p["id"]);
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_u64().unwrap(),
                g["y"].as_u64().unwrap(),
                g["w"].as_u64().unwrap(),
                g["h"].as_u64().unwrap(),
            );
            assert!(w >= 1 && x + w <= 24 && h >= 1, "{rel}: panel {title:?} is off the 24-column grid");
            for (bx, by, bw, bh, other) in &boxes {
                let overlap = x < bx + bw && *bx < x + w && y < by + bh && *by < y + h;
                assert!(!overlap, "{rel}: panels {title:?} and {other:?} overlap");
            }
            boxes.push((x, y, w, h, title.clone()));
            if kind == "row" {
                continue;
            }
            assert!(
                p["description"].as_str().is_some_and(|s| !s.is_empty()),
                "{rel}: panel {title:?} has no description"
            );
            let uid = p["datasource"]["uid"].as_str().unwrap_or_default();
            assert!(datasources.contains(uid), "{rel}: panel {title:?} uses datasource {uid:?}");
            let targets = p["targets"].as_array().unwrap_or_else(|| panic!("{rel}: {title:?} has no targets"));
            assert!(!targets.is_empty(), "{rel}: {title:?} has no targets");
            let refs: BTreeSet<&str> = targets.iter().map(|t| t["refId"].as_str().unwrap()).collect();
            assert_eq!(refs.len(), targets.len(), "{rel}: {title:?}: duplicate refId");
            for t in targets {
                let expr = t["expr"].as_str().unwrap_or_else(|| panic!("{rel}: {title:?}: a target without expr"));
                for var in variables_in(expr) {
                    assert!(
                        var.starts_with("__") || variables.contains(&var),
                        "{rel}: {title:?} uses undefined ${var}"
                    );
                }
                let substituted = substitute_grafana_vars(expr, false);
                promql_usage(&substituted).unwrap_or_else(|e| panic!("{rel}: {title:?}: {e}\n{expr}"));
            }
        }
    }
}

#[test]
fn each_dashboard_shows_what_its_title_promises() {
    let exprs = |d: &Value| -> String {
        panels(d)
            .iter()
            .flat_map(|p| p["targets"].as_array().into_iter().flatten())
            .filter_map(|t| t["expr"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let all: BTreeMap<String, Value> =
        dashboards().into_iter().map(|(_, d)| (d["uid"].as_str().unwrap().to_owned(), d)).collect();
    let wants = [
        (
            "otelwright-resources",
            ["system_cpu_utilization_ratio", "system_memory_utilization_ratio", "process_memory_usage_bytes"],
        ),
        (
            "otelwright-pools",
            ["db_client_connection_count", "db_client_connection_max", "db_client_connection_wait_time_seconds_bucket"],
        ),
        ("otelwright-caches", ["cache_requests_total", "cache_errors_total", "cache_entry_count"]),
        (
            "otelwright-functions",
            ["function_calls_total", "function_calls_duration_seconds_bucket", "chat_tokens_total"],
        ),
        (
            "otelwright-collector-health",
            ["otelcol_receiver_refused_spans", "otelcol_exporter_send_failed_spans", "otelcol_exporter_queue_size"],
        ),
        (
            "otelwright-service-overview",
            [
                "traces_span_metrics_calls_total",
                "traces_span_metrics_duration_seconds_bucket",
                "http_server_request_duration_seconds_bucket",
            ],
        ),
    ];
    for (uid, metrics) in wants {
        let text = exprs(&all[uid]);
        for m in metrics {
            assert!(text.contains(m), "{uid} does not show {m}");
        }
    }

    // Service overview: RED per route, with exemplars from the SAMPLED span_metrics duration (trace ids -> Tempo
    // through the Prometheus datasource's exemplarTraceIdDestinations, checked in collector_stack.rs). Exemplars of
    // the unsampled RED histogram would link to dropped traces (audit F3), so no target on it has exemplars on.
    let overview = &all["otelwright-service-overview"];
    let exemplar_panels: Vec<&Value> = panels(overview)
        .into_iter()
        .filter(|p| {
            p["targets"].as_array().into_iter().flatten().any(|t| {
                t["exemplar"] == true
                    && t["expr"].as_str().is_some_and(|e| {
                        e.contains("traces_span_metrics_sampled_duration_seconds_bucket") && e.contains("http_route")
                    })
            })
        })
        .collect();
    assert!(!exemplar_panels.is_empty(), "no per-route duration panel with exemplars");
    for t in panels(overview).iter().flat_map(|p| p["targets"].as_array().into_iter().flatten()) {
        let expr = t["expr"].as_str().unwrap_or_default();
        assert!(
            t["exemplar"] != true || expr.contains("traces_span_metrics_sampled_"),
            "exemplars on an unsampled series link to dropped traces: {expr}"
        );
    }
    for red in ["rate(traces_span_metrics_calls_total", "STATUS_CODE_ERROR", "histogram_quantile(0.95"] {
        assert!(exprs(overview).contains(red), "service overview lacks {red}");
    }
    let by_route = panels(overview)
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter(|t| t["expr"].as_str().is_some_and(|e| e.contains("by (service_name, http_route")))
        .count();
    assert!(by_route >= 3, "rate, errors and duration per route: {by_route}");
}

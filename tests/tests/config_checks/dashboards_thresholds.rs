//! Dashboard thresholds are the alert rules' numbers (issue 15, item 3): each number is written once in its rule
//! (collector-config/prometheus/rules/), and every panel that draws threshold bands for an alert must draw exactly
//! the thresholds of the alerts it shows, so changing a rule without its panel (or the reverse) fails here. A panel
//! with threshold values that no alert backs fails too, and so does an alerted panel without bands.

use std::collections::{BTreeMap, BTreeSet};

use crate::collector_support::*;
use serde_json::Value;

/// Which panel shows which alerts: (dashboard file, panel id, the alerts whose thresholds it must draw).
const PANEL_ALERTS: [(&str, u64, &[&str]); 16] = [
    ("resources.json", 2, &["ServiceCpuHigh", "ServiceCpuCritical"]),
    ("resources.json", 6, &["ServiceMemoryHigh", "ServiceMemoryCritical"]),
    ("pools.json", 2, &["DbPoolSaturated", "DbPoolExhausted"]),
    ("pools.json", 9, &["DbQueryLatencyHigh"]),
    ("service-overview.json", 29, &["ReadinessFailing"]),
    ("caches.json", 2, &["CacheHitRatioLow"]),
    ("service-overview.json", 9, &["HttpServerErrorsHigh"]),
    ("service-overview.json", 10, &["HttpLatencySloBreached"]),
    ("collector-health.json", 9, &["CollectorQueueNearCapacity"]),
    ("functions.json", 3, &["FunctionErrorRateHigh"]),
    ("functions.json", 6, &["FunctionSlow"]),
    ("functions.json", 10, &["ChatSpendOverBudget"]),
    // The service overview's system-health stat row.
    ("service-overview.json", 20, &["HttpServerErrorsHigh"]),
    ("service-overview.json", 21, &["HttpLatencySloBreached"]),
    ("service-overview.json", 22, &["ServiceCpuHigh", "ServiceCpuCritical"]),
    ("service-overview.json", 23, &["DbPoolSaturated", "DbPoolExhausted"]),
];

/// Each alert's threshold: the number of its expression's final comparison (`... > 0.80`).
fn alert_thresholds() -> BTreeMap<String, f64> {
    let last = regex::Regex::new(r"(>=|<=|==|!=|>|<)\s*([0-9.]+)\s*$").unwrap();
    let mut out = BTreeMap::new();
    for rel in files_under("collector-config/prometheus/rules", &[".yml"]) {
        let doc = yaml(&rel);
        for group in doc["groups"].as_vec().unwrap() {
            for rule in group["rules"].as_vec().unwrap() {
                let (Some(alert), Some(expr)) = (scalar(&rule["alert"]), scalar(&rule["expr"])) else { continue };
                if let Some(c) = last.captures(&expr) {
                    out.insert(alert, c[2].parse::<f64>().unwrap());
                }
            }
        }
    }
    out
}

/// Every panel (rows' panels included) of a dashboard by id.
fn panels(file: &str) -> BTreeMap<u64, Value> {
    let d: Value = serde_json::from_str(&read(&format!("collector-config/grafana/dashboards/{file}"))).unwrap();
    let mut out = BTreeMap::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        for q in std::iter::once(p).chain(p["panels"].as_array().into_iter().flatten()) {
            out.insert(q["id"].as_u64().unwrap(), q.clone());
        }
    }
    out
}

/// The non-base threshold steps' values of a panel (the base step has `value: null`).
fn steps(panel: &Value) -> Vec<f64> {
    panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["value"].as_f64())
        .collect()
}

#[test]
fn every_alerted_panel_draws_its_alerts_thresholds() {
    let thresholds = alert_thresholds();
    let mut problems = Vec::new();
    for (file, id, alerts) in PANEL_ALERTS {
        let panel = panels(file).remove(&id).unwrap_or_else(|| panic!("{file}: no panel {id}"));
        let mut want: Vec<f64> = alerts
            .iter()
            .map(|a| *thresholds.get(*a).unwrap_or_else(|| panic!("{a}: no alert with a final comparison")))
            .collect();
        want.sort_by(f64::total_cmp);
        let got = steps(&panel);
        if got != want {
            problems.push(format!(
                "{file}#{id} ({}): thresholds {got:?}, the alerts {alerts:?} say {want:?}",
                panel["title"]
            ));
        }
        // A time series draws them as lines/areas, a stat colours its background by them.
        let drawn = match panel["type"].as_str() {
            Some("stat") => panel["options"]["colorMode"].as_str().is_some_and(|m| m != "none"),
            _ => panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"]
                .as_str()
                .is_some_and(|m| m != "off"),
        };
        if !drawn {
            problems.push(format!("{file}#{id}: thresholds are not drawn"));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn no_panel_has_thresholds_that_no_alert_backs() {
    let listed: BTreeSet<(&str, u64)> = PANEL_ALERTS.iter().map(|(f, id, _)| (*f, *id)).collect();
    for rel in files_under("collector-config/grafana/dashboards", &[".json"]) {
        let file = rel.rsplit('/').next().unwrap();
        for (id, panel) in panels(file) {
            if !steps(&panel).is_empty() {
                assert!(
                    listed.contains(&(file, id)),
                    "{file}#{id} ({}) has threshold values but no alert in PANEL_ALERTS backs them",
                    panel["title"]
                );
            }
        }
    }
}

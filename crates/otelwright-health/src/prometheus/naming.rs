//! Metric and label names as Prometheus' OTLP ingest writes them (its default `UnderscoreEscapingWithSuffixes`
//! translation), so that dashboards and alerts work the same on scraped and on OTLP-ingested series.
//!
//! opentelemetry-prometheus already replaces invalid characters, appends the unit (`s` → `_seconds`, `By` →
//! `_bytes`, `1` → `_ratio`, `{annotations}` dropped) and `_total` on monotonic sums. The ingest differs in
//! three ways that this module applies to the gathered families:
//! - names are split into tokens at `_` (so runs of underscores collapse) and rejoined;
//! - `total` is removed from a counter's tokens and appended once; a unit word already in the name is not
//!   appended a second time (`foo.seconds` in `s` → `foo_seconds`, not `foo_seconds_seconds`);
//! - `ratio` is appended to a gauge in unit `1` only after removing it from the name (`cache.hit_ratio` →
//!   `cache_hit_ratio`, not `cache_hit_ratio_ratio`);
//! - label names keep only `[a-zA-Z0-9_]`, and one that starts with a digit or a single `_` gets a `key`
//!   prefix.
//!
//! The families hold no unit, so two ingest rules cannot be reproduced: units outside the exporter's table
//! (`requests`) are dropped here but appended by the ingest, and a counter or histogram in unit `1` keeps the
//! exporter's `_ratio` (the ingest adds `ratio` to gauges only). No otelwright instrument is affected.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use prometheus::proto::{LabelPair, MetricFamily, MetricType};

/// The unit words the exporter appends (its UCUM table).
const UNIT_WORDS: [&str; 25] = [
    "days",
    "hours",
    "minutes",
    "seconds",
    "milliseconds",
    "microseconds",
    "nanoseconds",
    "bytes",
    "kibibytes",
    "mebibytes",
    "gibibytes",
    "tibibytes",
    "kilobytes",
    "megabytes",
    "gigabytes",
    "terabytes",
    "meters",
    "volts",
    "amperes",
    "joules",
    "watts",
    "grams",
    "celsius",
    "hertz",
    "percent",
];

/// Renames every family and label, then merges families that now share a name (a family whose type differs
/// from the first one of its name is dropped, as the exporter does).
pub(crate) fn translate(families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    let mut by_name: BTreeMap<String, MetricFamily> = BTreeMap::new();
    for mut family in families {
        let name = metric_name(family.name(), family.get_field_type());
        let mut metrics = family.take_metric();
        for metric in &mut metrics {
            let labels = labels(metric.take_label());
            metric.set_label(labels);
        }
        match by_name.entry(name) {
            Entry::Vacant(slot) => {
                family.set_name(slot.key().clone());
                family.set_metric(metrics);
                slot.insert(family);
            }
            Entry::Occupied(mut slot) => {
                let existing = slot.get_mut();
                if existing.get_field_type() == family.get_field_type() {
                    existing.mut_metric().extend(metrics);
                } else {
                    tracing::debug!(name = %slot.key(), "dropping a family whose type conflicts after renaming");
                }
            }
        }
    }
    by_name.into_values().collect()
}

/// The ingest's name for a family the exporter called `name`.
pub(crate) fn metric_name(name: &str, kind: MetricType) -> String {
    let mut tokens: Vec<&str> = name.split('_').filter(|t| !t.is_empty()).collect();
    if tokens.is_empty() {
        return name.to_owned();
    }
    let counter = kind == MetricType::COUNTER;
    if counter {
        tokens.retain(|t| *t != "total");
    }
    // The exporter appended the unit word last; the ingest appends it only when the name lacks it.
    if let Some((&last, rest)) = tokens.split_last()
        && UNIT_WORDS.contains(&last)
        && rest.contains(&last)
    {
        tokens.pop();
    }
    if kind == MetricType::GAUGE && tokens.last() == Some(&"ratio") {
        tokens.retain(|t| *t != "ratio");
        tokens.push("ratio");
    }
    if counter {
        tokens.push("total");
    }
    let joined = tokens.join("_");
    if joined.starts_with(|c: char| c.is_ascii_digit()) { format!("_{joined}") } else { joined }
}

/// The ingest's label name.
pub(crate) fn label_name(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with('_') && !out.starts_with("__") {
        out.insert_str(0, "key");
    }
    out
}

/// Renames labels; labels that now share a name are joined with `;` (the exporter's rule for collisions).
fn labels(pairs: Vec<LabelPair>) -> Vec<LabelPair> {
    let mut out: Vec<LabelPair> = Vec::with_capacity(pairs.len());
    for mut pair in pairs {
        let name = label_name(pair.name());
        if let Some(existing) = out.iter_mut().find(|p| p.name() == name) {
            let joined = format!("{};{}", existing.value(), pair.value());
            existing.set_value(joined);
            continue;
        }
        pair.set_name(name);
        out.push(pair);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_otlp_ingest() {
        let cases = [
            // (exporter's name, type, ingest's name)
            ("http_server_request_duration_seconds", MetricType::HISTOGRAM, "http_server_request_duration_seconds"),
            ("cache_hit_ratio_ratio", MetricType::GAUGE, "cache_hit_ratio"),
            ("system_memory_utilization_ratio", MetricType::GAUGE, "system_memory_utilization_ratio"),
            ("cache_requests_total", MetricType::COUNTER, "cache_requests_total"),
            ("process_cpu_time_seconds_total", MetricType::COUNTER, "process_cpu_time_seconds_total"),
            ("requests_total_total", MetricType::COUNTER, "requests_total"),
            ("queue_wait_seconds_seconds", MetricType::HISTOGRAM, "queue_wait_seconds"),
            ("a__b___c", MetricType::GAUGE, "a_b_c"),
            ("_1m_load", MetricType::GAUGE, "_1m_load"),
            ("system_cpu_load_average_1m", MetricType::GAUGE, "system_cpu_load_average_1m"),
            ("target_info", MetricType::GAUGE, "target_info"),
        ];
        for (exporter, kind, ingest) in cases {
            assert_eq!(metric_name(exporter, kind), ingest, "{exporter}");
        }
    }

    #[test]
    fn label_names_match_the_otlp_ingest() {
        assert_eq!(label_name("http_request_method"), "http_request_method");
        assert_eq!(label_name("a:b"), "a_b");
        assert_eq!(label_name("1st"), "key_1st");
        assert_eq!(label_name("_private"), "key_private");
        assert_eq!(label_name("__reserved"), "__reserved");
    }

    #[test]
    fn families_merge_after_renaming() {
        let family = |name: &str, label: &str| {
            let mut pair = LabelPair::default();
            pair.set_name(label.to_owned());
            pair.set_value("v".to_owned());
            let mut metric = prometheus::proto::Metric::default();
            metric.set_label(vec![pair]);
            let mut f = MetricFamily::default();
            f.set_name(name.to_owned());
            f.set_field_type(MetricType::GAUGE);
            f.set_metric(vec![metric]);
            f
        };
        let out = translate(vec![family("x_ratio_ratio", "a"), family("x__ratio", "b:c")]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name(), "x_ratio");
        let labels: Vec<&str> = out[0].get_metric().iter().map(|m| m.get_label()[0].name()).collect();
        assert_eq!(labels, ["a", "b_c"]);
    }
}

//! The `health.check.status` gauge: one series per readiness check, 1 while it passes and 0 while it fails, with
//! `health.check.name` and `health.check.critical`. otelwright's own metric (the semantic conventions define none
//! for application health checks); its shape follows semconv's `k8s.container.ready` (a 0/1 value in a count
//! unit, so that a `sum` counts the passing checks).
//!
//! Recorded off the request path: the gauge's callback runs at metric collection and reads the result the
//! readiness runner last computed for `/health/ready` (or [`Health::ready_report`](crate::Health::ready_report));
//! it never runs a check. A result older than [`STALE_AFTER`] is not exported, so when nothing probes readiness
//! any more the series goes stale instead of repeating an old verdict.

use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;

use crate::Inner;
use crate::check::RegisteredCheck;

/// The gauge's name, from the workspace's one list of names.
pub use otelwright_core::metric::health::CHECK_STATUS;

/// Attribute: the name the check was registered under (`database:main`, `disk:/data`, `cache:redis`).
pub const CHECK_NAME: &str = "health.check.name";
/// Attribute: whether the check's failure makes the service not ready (`true`) or only degraded (`false`).
pub const CHECK_CRITICAL: &str = "health.check.critical";
/// How old a readiness result may be and still be exported: orchestrators probe every few seconds (Kubernetes'
/// default period is 10 s, docker-compose's healthcheck here 30 s).
pub const STALE_AFTER: Duration = Duration::from_secs(120);

/// Each check's attribute set, built once (the callback allocates nothing per check).
pub(crate) fn attributes(checks: &[RegisteredCheck]) -> Vec<[KeyValue; 2]> {
    checks
        .iter()
        .map(|c| [KeyValue::new(CHECK_NAME, c.name.clone()), KeyValue::new(CHECK_CRITICAL, c.critical)])
        .collect()
}

/// Registers the gauge on `meter`; it reads `inner` until the [`Health`](crate::Health) is dropped.
pub(crate) fn register(meter: &Meter, inner: &Arc<Inner>) {
    let inner: Weak<Inner> = Arc::downgrade(inner);
    meter
        .u64_observable_gauge(CHECK_STATUS)
        .with_unit("{check}")
        .with_description("Whether the readiness check passed at its latest run: 1 passing, 0 failing")
        .with_callback(move |o| {
            let Some(inner) = inner.upgrade() else { return };
            let Some((at, report)) = inner.ready.latest() else { return };
            if at.elapsed() > STALE_AFTER {
                return;
            }
            // The report lists the checks in registration order, as `check_attributes` does.
            for (result, attrs) in report.checks.iter().zip(&inner.check_attributes) {
                o.observe(u64::from(result.is_ok()), attrs);
            }
        })
        .build();
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

    use super::*;
    use crate::Health;

    /// (check name, critical, value) of every exported point, sorted.
    fn points(exporter: &InMemoryMetricExporter) -> Vec<(String, bool, u64)> {
        let mut out = Vec::new();
        let exports = exporter.get_finished_metrics().unwrap();
        let Some(last) = exports.last() else { return out };
        for metric in last.scope_metrics().flat_map(|s| s.metrics()).filter(|m| m.name() == CHECK_STATUS) {
            assert_eq!(metric.unit(), "{check}");
            let AggregatedMetrics::U64(MetricData::Gauge(gauge)) = metric.data() else { panic!("not a u64 gauge") };
            for p in gauge.data_points() {
                let attr = |k: &str| p.attributes().find(|kv| kv.key.as_str() == k).map(|kv| kv.value.clone());
                let critical = matches!(attr(CHECK_CRITICAL), Some(opentelemetry::Value::Bool(true)));
                out.push((attr(CHECK_NAME).unwrap().to_string(), critical, p.value()));
            }
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn each_check_is_exported_as_its_latest_result_and_nothing_before_the_first_run() {
        let exporter = InMemoryMetricExporter::default();
        let provider =
            SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
        let health = Health::builder()
            .check("database:main", || async { Err::<(), _>("connection refused") })
            .check("disk:/data", || async { Ok::<(), String>(()) })
            .non_critical_check("cache:redis", || async { Err::<(), _>("timed out") })
            .ready_cache(Duration::ZERO)
            .build();
        health.register_instruments(&provider.meter("otelwright-health"));

        provider.force_flush().unwrap();
        assert_eq!(points(&exporter), [], "no readiness run yet: nothing to report");

        assert!(!health.ready_report().await.is_ready());
        exporter.reset();
        provider.force_flush().unwrap();
        assert_eq!(
            points(&exporter),
            [
                ("cache:redis".to_owned(), false, 0),
                ("database:main".to_owned(), true, 0),
                ("disk:/data".to_owned(), true, 1)
            ]
        );

        // Once the Health is gone the gauge reports nothing.
        drop(health);
        exporter.reset();
        provider.force_flush().unwrap();
        assert_eq!(points(&exporter), []);
    }
}

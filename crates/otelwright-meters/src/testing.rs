//! Test support: an SDK meter provider with an in-memory exporter, flattened into comparable points.

use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

/// One exported data point: a sum or gauge value, or a histogram's count and sum.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub(crate) name: String,
    pub(crate) unit: String,
    pub(crate) value: f64,
    pub(crate) count: u64,
    pub(crate) attrs: Vec<(String, String)>,
}

impl Point {
    pub(crate) fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

pub(crate) struct Collector {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

impl Collector {
    pub(crate) fn new() -> Self {
        let exporter = InMemoryMetricExporter::default();
        let reader = PeriodicReader::builder(exporter.clone()).build();
        Collector { provider: SdkMeterProvider::builder().with_reader(reader).build(), exporter }
    }

    pub(crate) fn meter(&self) -> Meter {
        self.provider.meter("otelwright-meters-test")
    }

    /// Runs one collection and returns its points.
    pub(crate) fn collect(&self) -> Vec<Point> {
        self.exporter.reset();
        self.provider.force_flush().expect("flush");
        let mut points = Vec::new();
        for rm in self.exporter.get_finished_metrics().expect("metrics") {
            for sm in rm.scope_metrics() {
                for m in sm.metrics() {
                    flatten(m.name(), m.unit(), m.data(), &mut points);
                }
            }
        }
        points
    }
}

fn flatten(name: &str, unit: &str, data: &AggregatedMetrics, out: &mut Vec<Point>) {
    macro_rules! push {
        ($data:expr) => {
            match $data {
                MetricData::Sum(s) => {
                    for p in s.data_points() {
                        out.push(point(name, unit, p.value() as f64, 0, p.attributes()));
                    }
                }
                MetricData::Gauge(g) => {
                    for p in g.data_points() {
                        out.push(point(name, unit, p.value() as f64, 0, p.attributes()));
                    }
                }
                MetricData::Histogram(h) => {
                    for p in h.data_points() {
                        out.push(point(name, unit, p.sum() as f64, p.count(), p.attributes()));
                    }
                }
                MetricData::ExponentialHistogram(_) => {}
            }
        };
    }
    match data {
        AggregatedMetrics::F64(d) => push!(d),
        AggregatedMetrics::U64(d) => push!(d),
        AggregatedMetrics::I64(d) => push!(d),
    }
}

fn point<'a>(
    name: &str,
    unit: &str,
    value: f64,
    count: u64,
    attrs: impl Iterator<Item = &'a opentelemetry::KeyValue>,
) -> Point {
    let mut attrs: Vec<(String, String)> = attrs.map(|kv| (kv.key.to_string(), kv.value.to_string())).collect();
    attrs.sort();
    Point { name: name.to_owned(), unit: unit.to_owned(), value, count, attrs }
}

//! The stored items — [`ReceivedSpan`], [`ReceivedLog`], [`ReceivedMetric`] —
//! each a proto item together with its resource, scope and transport, plus
//! accessors that keep test assertions short.

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::types::Transport;
use crate::values::{any_value_str, find_attr, hex, id_hex};

/// Accessors shared by every stored item (resource and scope).
macro_rules! resource_and_scope_accessors {
    () => {
        /// The value of the resource attribute `key`, if present.
        pub fn resource_attr(&self, key: &str) -> Option<&AnyValue> {
            find_attr(&self.resource.attributes, key)
        }

        /// The resource attribute `key` rendered as a string (see
        /// [`any_value_to_string`](crate::any_value_to_string)).
        pub fn resource_str(&self, key: &str) -> Option<String> {
            self.resource_attr(key).and_then(any_value_str)
        }

        /// The instrumentation scope's name.
        pub fn scope_name(&self) -> &str {
            &self.scope.name
        }
    };
}

/// `attr` and `attr_str` over the item's own attributes: `self.$field.attributes`, or `self.attributes`.
macro_rules! attribute_accessors {
    ($what:literal $(, $field:ident)?) => {
        #[doc = concat!("The value of the ", $what, " attribute `key`, if present.")]
        pub fn attr(&self, key: &str) -> Option<&AnyValue> {
            find_attr(&self.$($field.)?attributes, key)
        }

        #[doc = concat!("The ", $what, " attribute `key` rendered as a string.")]
        pub fn attr_str(&self, key: &str) -> Option<String> {
            self.attr(key).and_then(any_value_str)
        }
    };
}

/// One span as received, with the resource and scope it was sent under.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// The resource the span was exported under (default when absent).
    pub resource: Resource,
    /// The instrumentation scope (default when absent).
    pub scope: InstrumentationScope,
    /// The span itself.
    pub span: Span,
    /// The protocol that carried it.
    pub transport: Transport,
}

impl ReceivedSpan {
    resource_and_scope_accessors!();

    /// The span's name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    attribute_accessors!("span", span);

    /// The trace id as lowercase hex (32 characters for a valid id).
    pub fn trace_id_hex(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span id as lowercase hex (16 characters for a valid id).
    pub fn span_id_hex(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent span id as lowercase hex; `None` for a root span (empty or
    /// all-zero parent id).
    pub fn parent_span_id_hex(&self) -> Option<String> {
        id_hex(&self.span.parent_span_id)
    }

    /// The span kind as the proto's integer (`1` internal, `2` server,
    /// `3` client, `4` producer, `5` consumer).
    pub fn kind(&self) -> i32 {
        self.span.kind
    }

    /// The status code as the proto's integer (`0` unset, `1` ok, `2`
    /// error); `0` when no status was sent.
    pub fn status_code(&self) -> i32 {
        self.span.status.as_ref().map_or(0, |s| s.code)
    }

    /// The names of the span's events, in order.
    pub fn event_names(&self) -> Vec<&str> {
        self.span.events.iter().map(|e| e.name.as_str()).collect()
    }
}

/// One log record as received, with the resource and scope it was sent under.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedLog {
    /// The resource the record was exported under (default when absent).
    pub resource: Resource,
    /// The instrumentation scope (default when absent).
    pub scope: InstrumentationScope,
    /// The log record itself.
    pub record: LogRecord,
    /// The protocol that carried it.
    pub transport: Transport,
}

impl ReceivedLog {
    resource_and_scope_accessors!();

    attribute_accessors!("log", record);

    /// The body rendered as a string; `None` when there is no body.
    pub fn body_str(&self) -> Option<String> {
        self.record.body.as_ref().and_then(any_value_str)
    }

    /// The trace id as lowercase hex; `None` when empty or all zero.
    pub fn trace_id_hex(&self) -> Option<String> {
        id_hex(&self.record.trace_id)
    }

    /// The span id as lowercase hex; `None` when empty or all zero.
    pub fn span_id_hex(&self) -> Option<String> {
        id_hex(&self.record.span_id)
    }

    /// The severity number as the proto's integer (`9` is INFO, `17` ERROR).
    pub fn severity_number(&self) -> i32 {
        self.record.severity_number
    }

    /// The severity text, as sent (may be empty).
    pub fn severity_text(&self) -> &str {
        &self.record.severity_text
    }

    /// The event name, as sent (may be empty).
    pub fn event_name(&self) -> &str {
        &self.record.event_name
    }
}

/// One metric as received, with the resource and scope it was sent under.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMetric {
    /// The resource the metric was exported under (default when absent).
    pub resource: Resource,
    /// The instrumentation scope (default when absent).
    pub scope: InstrumentationScope,
    /// The metric itself, with all its data points.
    pub metric: Metric,
    /// The protocol that carried it.
    pub transport: Transport,
}

/// Which kind of data a metric carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// A gauge.
    Gauge,
    /// A sum (monotonic or not).
    Sum,
    /// An explicit-bucket histogram.
    Histogram,
    /// An exponential histogram.
    ExponentialHistogram,
    /// A summary.
    Summary,
    /// No data set.
    Empty,
}

/// A sum or gauge data point: its value as `f64` and its attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberPoint {
    /// The value (`as_int` values are converted to `f64`).
    pub value: f64,
    /// The data point's attributes.
    pub attributes: Vec<KeyValue>,
}

impl NumberPoint {
    attribute_accessors!("point");
}

/// An explicit-bucket histogram data point.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    /// Number of recorded values.
    pub count: u64,
    /// Sum of recorded values, if sent.
    pub sum: Option<f64>,
    /// Smallest recorded value, if sent.
    pub min: Option<f64>,
    /// Largest recorded value, if sent.
    pub max: Option<f64>,
    /// Per-bucket counts (one more than `explicit_bounds`).
    pub bucket_counts: Vec<u64>,
    /// Bucket boundaries.
    pub explicit_bounds: Vec<f64>,
    /// The data point's attributes.
    pub attributes: Vec<KeyValue>,
}

impl HistogramPoint {
    attribute_accessors!("point");
}

impl ReceivedMetric {
    resource_and_scope_accessors!();

    /// The metric's name.
    pub fn name(&self) -> &str {
        &self.metric.name
    }

    /// The metric's unit (may be empty).
    pub fn unit(&self) -> &str {
        &self.metric.unit
    }

    /// The metric's description (may be empty).
    pub fn description(&self) -> &str {
        &self.metric.description
    }

    /// Which kind of data the metric carries.
    pub fn kind(&self) -> MetricKind {
        match &self.metric.data {
            Some(Data::Gauge(_)) => MetricKind::Gauge,
            Some(Data::Sum(_)) => MetricKind::Sum,
            Some(Data::Histogram(_)) => MetricKind::Histogram,
            Some(Data::ExponentialHistogram(_)) => MetricKind::ExponentialHistogram,
            Some(Data::Summary(_)) => MetricKind::Summary,
            None => MetricKind::Empty,
        }
    }

    /// For a sum, whether it is monotonic; `None` for other kinds.
    pub fn is_monotonic(&self) -> Option<bool> {
        match &self.metric.data {
            Some(Data::Sum(sum)) => Some(sum.is_monotonic),
            _ => None,
        }
    }

    /// The data points of a sum or gauge (empty for other kinds). Points
    /// without a value are skipped.
    pub fn number_points(&self) -> Vec<NumberPoint> {
        let points = match &self.metric.data {
            Some(Data::Sum(sum)) => &sum.data_points,
            Some(Data::Gauge(gauge)) => &gauge.data_points,
            _ => return Vec::new(),
        };
        points
            .iter()
            .filter_map(|p| {
                let value = match p.value? {
                    number_data_point::Value::AsDouble(d) => d,
                    number_data_point::Value::AsInt(i) => i as f64,
                };
                Some(NumberPoint { value, attributes: p.attributes.clone() })
            })
            .collect()
    }

    /// The values of a sum's or gauge's data points, in order.
    pub fn values(&self) -> Vec<f64> {
        self.number_points().into_iter().map(|p| p.value).collect()
    }

    /// The data points of an explicit-bucket histogram (empty for other kinds).
    pub fn histogram_points(&self) -> Vec<HistogramPoint> {
        match &self.metric.data {
            Some(Data::Histogram(h)) => h
                .data_points
                .iter()
                .map(|p| HistogramPoint {
                    count: p.count,
                    sum: p.sum,
                    min: p.min,
                    max: p.max,
                    bucket_counts: p.bucket_counts.clone(),
                    explicit_bounds: p.explicit_bounds.clone(),
                    attributes: p.attributes.clone(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

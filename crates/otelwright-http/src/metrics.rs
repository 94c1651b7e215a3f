//! The instruments the layers record into, created once per layer: names, units and bucket boundaries from the
//! HTTP and RPC semantic conventions.

use opentelemetry::metrics::{Histogram, Meter, UpDownCounter};

/// The advised boundaries for HTTP and RPC durations, in seconds.
pub const DURATION_BUCKETS: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

/// `opentelemetry::global::meter_with_scope` for this crate.
pub(crate) fn global_meter() -> Meter {
    opentelemetry::global::meter_with_scope(scope())
}

pub(crate) fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder("otelwright-http")
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url("https://opentelemetry.io/schemas/1.37.0")
        .build()
}

fn duration(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(DURATION_BUCKETS.to_vec())
        .build()
}

/// Server-side instruments.
#[derive(Clone, Debug)]
pub(crate) struct ServerInstruments {
    pub(crate) duration: Histogram<f64>,
    pub(crate) active: UpDownCounter<i64>,
    pub(crate) request_body: Option<Histogram<u64>>,
    pub(crate) response_body: Option<Histogram<u64>>,
    pub(crate) rpc_duration: Histogram<f64>,
}

impl ServerInstruments {
    pub(crate) fn new(meter: &Meter, body_sizes: bool) -> Self {
        let body = |name: &'static str, description: &'static str| {
            body_sizes.then(|| meter.u64_histogram(name).with_unit("By").with_description(description).build())
        };
        ServerInstruments {
            duration: duration(meter, "http.server.request.duration", "Duration of HTTP server requests."),
            active: meter
                .i64_up_down_counter("http.server.active_requests")
                .with_unit("{request}")
                .with_description("Number of active HTTP server requests.")
                .build(),
            request_body: body("http.server.request.body.size", "Size of HTTP server request bodies."),
            response_body: body("http.server.response.body.size", "Size of HTTP server response bodies."),
            rpc_duration: duration(meter, "rpc.server.call.duration", "Measures the duration of inbound RPC."),
        }
    }
}

/// Client-side instruments.
#[derive(Clone, Debug)]
pub(crate) struct ClientInstruments {
    pub(crate) duration: Histogram<f64>,
    pub(crate) rpc_duration: Histogram<f64>,
}

impl ClientInstruments {
    pub(crate) fn new(meter: &Meter) -> Self {
        ClientInstruments {
            duration: duration(meter, "http.client.request.duration", "Duration of HTTP client requests."),
            rpc_duration: duration(meter, "rpc.client.call.duration", "Measures the duration of outbound RPC."),
        }
    }
}

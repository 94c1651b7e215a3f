//! [`Export`]: what differs between the three OTLP export services (the request and response messages, the
//! signal, how a request's items are stored, how a partial success is answered), so the gRPC services and the
//! OTLP/HTTP routes are each written once for all three.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::Store;
use crate::types::{Signal, Transport};

/// An OTLP export request message, with what the receiver needs to know about its service.
pub(crate) trait Export: prost::Message + Default + DeserializeOwned + Send + 'static {
    /// The service's response message.
    type Response: prost::Message + Serialize + Send + 'static;

    /// The signal the service carries.
    const SIGNAL: Signal;

    /// Stores the request's items; returns how many there were.
    fn insert(self, store: &Store, transport: Transport, gzip: bool) -> usize;

    /// The response, with `partial_success` set from `(rejected, error_message)` when given (OTLP specification,
    /// "Partial Success").
    fn response(partial: Option<(i64, String)>) -> Self::Response;
}

/// The table of the three services: per row the signal and the store method, the request and response
/// messages, and the partial-success message with its count field.
macro_rules! export {
    ($($signal:ident, $insert:ident: $request:ty => $response:ident, $partial:ident { $rejected:ident };)+) => {$(
        impl Export for $request {
            type Response = $response;
            const SIGNAL: Signal = Signal::$signal;

            fn insert(self, store: &Store, transport: Transport, gzip: bool) -> usize {
                store.$insert(self, transport, gzip)
            }

            fn response(partial: Option<(i64, String)>) -> Self::Response {
                let partial_success = partial.map(|($rejected, error_message)| $partial { $rejected, error_message });
                $response { partial_success }
            }
        }
    )+};
}

export! {
    Traces, insert_traces: ExportTraceServiceRequest => ExportTraceServiceResponse,
        ExportTracePartialSuccess { rejected_spans };
    Metrics, insert_metrics: ExportMetricsServiceRequest => ExportMetricsServiceResponse,
        ExportMetricsPartialSuccess { rejected_data_points };
    Logs, insert_logs: ExportLogsServiceRequest => ExportLogsServiceResponse,
        ExportLogsPartialSuccess { rejected_log_records };
}

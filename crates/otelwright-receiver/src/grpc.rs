//! OTLP/gRPC: the `TraceService`, `MetricsService` and `LogsService`
//! implementations (from opentelemetry-proto's generated tonic servers) and
//! the tonic server that hosts all three on one listener.

use std::future::Future;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsPartialSuccess;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsPartialSuccess;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::fault::Fault;

use crate::store::Store;
use crate::tls::TlsListener;
use crate::types::{Signal, Transport};

/// Largest gRPC message accepted (decoded), the same cap as for HTTP bodies.
const MAX_MESSAGE_SIZE: usize = crate::http::MAX_BODY_SIZE;

/// The three OTLP services, all writing into one store.
#[derive(Debug, Clone)]
struct OtlpGrpc {
    store: Arc<Store>,
}

impl OtlpGrpc {
    /// Applies the fault mode: waits, holds until the fault changes, fails the call, or returns a partial-success
    /// answer to give.
    async fn fault(&self, signal: Signal) -> Result<Option<(i64, String)>, Status> {
        let mut fault = self.store.fault.get();
        while fault == Fault::Hold {
            self.store.fault.hold(signal).await;
            fault = self.store.fault.get();
        }
        match fault {
            Fault::Delay(d) => {
                self.store.fault.hit();
                tokio::time::sleep(d).await;
                Ok(None)
            }
            Fault::GrpcStatus { code, retry_after } => {
                self.store.fault.hit();
                let code = tonic::Code::from_i32(code);
                let message = "fault injected by otelwright-receiver";
                Err(match retry_after {
                    Some(delay) => {
                        Status::with_error_details(code, message, ErrorDetails::with_retry_info(Some(delay)))
                    }
                    None => Status::new(code, message),
                })
            }
            Fault::Partial { rejected, message } => {
                self.store.fault.hit();
                Ok(Some((rejected, message)))
            }
            _ => Ok(None),
        }
    }
}

/// Whether the client declared the request message gzip-compressed.
fn is_gzip(metadata: &MetadataMap) -> bool {
    metadata.get("grpc-encoding").and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"))
}

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let partial = self.fault(Signal::Traces).await?;
        let gzip = is_gzip(request.metadata());
        self.store.insert_traces(request.into_inner(), Transport::Grpc, gzip);
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: partial
                .map(|(rejected_spans, error_message)| ExportTracePartialSuccess { rejected_spans, error_message }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let partial = self.fault(Signal::Metrics).await?;
        let gzip = is_gzip(request.metadata());
        self.store.insert_metrics(request.into_inner(), Transport::Grpc, gzip);
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: partial.map(|(rejected_data_points, error_message)| ExportMetricsPartialSuccess {
                rejected_data_points,
                error_message,
            }),
        }))
    }
}

#[tonic::async_trait]
impl LogsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let partial = self.fault(Signal::Logs).await?;
        let gzip = is_gzip(request.metadata());
        self.store.insert_logs(request.into_inner(), Transport::Grpc, gzip);
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: partial.map(|(rejected_log_records, error_message)| ExportLogsPartialSuccess {
                rejected_log_records,
                error_message,
            }),
        }))
    }
}

/// Serves the three services on `listener` until `shutdown` completes, then
/// drains open connections. With `tls`, every connection must complete a TLS
/// handshake first (see [`crate::tls::TlsListener`]).
pub(crate) async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) {
    let svc = OtlpGrpc { store: Arc::clone(&store) };
    let traces = TraceServiceServer::new(svc.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_SIZE);
    let metrics = MetricsServiceServer::new(svc.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_SIZE);
    let logs = LogsServiceServer::new(svc)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_SIZE);
    let router = tonic::transport::Server::builder().add_service(traces).add_service(metrics).add_service(logs);

    let result = match tls {
        None => {
            // Connections accepted while the fault is `Refuse` are closed at once.
            let incoming = futures_util::stream::unfold((listener, store), |(listener, store)| async move {
                loop {
                    match listener.accept().await {
                        Ok(_) if store.fault.refusing() => store.fault.hit(),
                        Ok((stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            let stream = crate::fault::FaultyStream::new(stream, Arc::clone(&store));
                            return Some((Ok::<_, std::io::Error>(stream), (listener, store)));
                        }
                        Err(e) => return Some((Err(e), (listener, store))),
                    }
                }
            });
            router.serve_with_incoming_shutdown(incoming, shutdown).await
        }
        Some(config) => {
            let listener = TlsListener::new(listener, config, store);
            let incoming = futures_util::stream::unfold(listener, |mut listener| async move {
                let (conn, _) = listener.accept().await;
                Some((Ok::<_, std::io::Error>(conn), listener))
            });
            router.serve_with_incoming_shutdown(incoming, shutdown).await
        }
    };
    if let Err(err) = result {
        tracing::warn!(error = %err, "otlp grpc receiver stopped with an error");
    }
}

//! A null OTLP/gRPC sink for `bench receiver --sink`: the three OTLP services decode each request, count its
//! items and drop them. Against it, what limits `bench export` is the exporter itself; against the storing
//! receiver (the default), the receiver's decode-and-store time is part of every export's round trip.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use otelwright_receiver::proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use otelwright_receiver::proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use otelwright_receiver::proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use otelwright_receiver::proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use otelwright_receiver::proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use otelwright_receiver::proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tonic::{Request, Response, Status};

use super::receiver::Received;

/// Item counters.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    requests: AtomicU64,
    spans: AtomicU64,
    logs: AtomicU64,
    metrics: AtomicU64,
}

impl Counts {
    /// What arrived so far.
    pub(crate) fn received(&self) -> Received {
        Received {
            requests: self.requests.load(Ordering::Relaxed),
            spans: self.spans.load(Ordering::Relaxed),
            logs: self.logs.load(Ordering::Relaxed),
            metrics: self.metrics.load(Ordering::Relaxed),
        }
    }

    fn add(&self, counter: &AtomicU64, items: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        counter.fetch_add(items as u64, Ordering::Relaxed);
    }
}

#[derive(Clone)]
struct Sink(Arc<Counts>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let r = request.into_inner();
        let n = r.resource_spans.iter().flat_map(|rs| &rs.scope_spans).map(|ss| ss.spans.len()).sum();
        self.0.add(&self.0.spans, n);
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let r = request.into_inner();
        let n = r.resource_logs.iter().flat_map(|rl| &rl.scope_logs).map(|sl| sl.log_records.len()).sum();
        self.0.add(&self.0.logs, n);
        Ok(Response::new(ExportLogsServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let r = request.into_inner();
        let n = r.resource_metrics.iter().flat_map(|rm| &rm.scope_metrics).map(|sm| sm.metrics.len()).sum();
        self.0.add(&self.0.metrics, n);
        Ok(Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

/// Starts the sink on an ephemeral loopback port; returns its endpoint and counters. Runs until the process ends.
pub(crate) async fn start() -> anyhow::Result<(String, Arc<Counts>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let counts = Arc::new(Counts::default());
    let sink = Sink(counts.clone());
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(sink.clone()))
            .add_service(LogsServiceServer::new(sink.clone()))
            .add_service(MetricsServiceServer::new(sink))
            .serve_with_incoming(incoming),
    );
    Ok((endpoint, counts))
}

//! OTLP/gRPC: the `TraceService`, `MetricsService` and `LogsService`
//! implementations (from opentelemetry-proto's generated tonic servers) and
//! the tonic server that hosts all three on one listener.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::export::Export;
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

impl OtlpGrpc {
    /// One export call, whatever its signal: applies the fault mode, then stores the request's items (and its raw
    /// body when bodies are kept), and answers with a partial success when the fault mode asks for one.
    async fn accept<R: Export>(&self, request: Request<R>) -> Result<Response<R::Response>, Status> {
        let partial = self.fault(R::SIGNAL).await?;
        let gzip = is_gzip(request.metadata());
        let raw = request.extensions().get::<RawMessage>().map(|m| m.0.clone());
        request.into_inner().insert(&self.store, Transport::Grpc, gzip);
        if let Some(raw) = raw {
            self.store.keep_body(R::SIGNAL, Transport::Grpc, || raw);
        }
        Ok(Response::new(R::response(partial)))
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
        self.accept(request).await
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.accept(request).await
    }
}

#[tonic::async_trait]
impl LogsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.accept(request).await
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
    let router = tonic::transport::Server::builder()
        .layer(CaptureLayer { store: Arc::clone(&store) })
        .add_service(traces)
        .add_service(metrics)
        .add_service(logs);

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

/// The request message of a unary gRPC call as it arrived (decompressed), put in the request's extensions by
/// [`CaptureLayer`] while the store keeps payloads.
#[derive(Debug, Clone)]
struct RawMessage(Bytes);

/// While the store keeps payloads ([`Receiver::keep_bodies`](crate::Receiver::keep_bodies)), buffers each
/// request body, takes its one length-prefixed message out ("gRPC over HTTP2", PROTOCOL-HTTP2.md:
/// `Length-Prefixed-Message → Compressed-Flag Message-Length Message`, the flag 1 when the message is compressed
/// with the `grpc-encoding`) and hands the same bytes on to tonic. Otherwise the body passes through untouched.
/// Buffering happens before tonic's message size limit applies: keeping payloads is for tests.
#[derive(Debug, Clone)]
struct CaptureLayer {
    store: Arc<Store>,
}

impl<S> tower_layer::Layer<S> for CaptureLayer {
    type Service = Capture<S>;

    fn layer(&self, inner: S) -> Capture<S> {
        Capture { inner, store: Arc::clone(&self.store) }
    }
}

#[derive(Debug, Clone)]
struct Capture<S> {
    inner: S,
    store: Arc<Store>,
}

impl<S> tower_service::Service<http::Request<tonic::body::Body>> for Capture<S>
where
    S: tower_service::Service<http::Request<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        // The clone that was made ready is the one that serves the call (tower's `Service` contract).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        if !self.store.keeps_bodies() {
            return Box::pin(inner.call(request));
        }
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let bytes = match http_body_util::BodyExt::collect(body).await {
                Ok(collected) => collected.to_bytes(),
                // Let tonic see (and answer) a broken body as it would have.
                Err(status) => {
                    return inner
                        .call(http::Request::from_parts(parts, tonic::body::Body::new(ErrorBody(Some(status)))))
                        .await;
                }
            };
            let gzip = parts.headers.get("grpc-encoding").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
            if let Some(message) = message(&bytes, gzip) {
                parts.extensions.insert(RawMessage(message));
            }
            inner.call(http::Request::from_parts(parts, tonic::body::Body::new(http_body_util::Full::new(bytes)))).await
        })
    }
}

/// The one message of a unary request body, decompressed; `None` for anything else (tonic answers it).
fn message(body: &Bytes, gzip: bool) -> Option<Bytes> {
    let (&flag, rest) = body.split_first()?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    if rest.len() != 4 + len {
        return None;
    }
    let message = body.slice(5..);
    match flag {
        0 => Some(message),
        1 if gzip => crate::http::gunzip(&message).ok().map(Bytes::from),
        _ => None,
    }
}

/// A body that yields one error: what a failed body read becomes when it is passed on.
struct ErrorBody(Option<tonic::Status>);

impl http_body::Body for ErrorBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        std::task::Poll::Ready(self.0.take().map(Err))
    }
}

#[cfg(test)]
mod capture_tests {
    use std::io::Write as _;

    use super::*;

    fn frame(flag: u8, payload: &[u8]) -> Bytes {
        let mut out = vec![flag];
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
        Bytes::from(out)
    }

    #[test]
    fn the_one_message_of_a_unary_body_plain_or_gzip() {
        assert_eq!(message(&frame(0, b"\x0a\x00"), false).as_deref(), Some(&b"\x0a\x00"[..]));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"\x0a\x00").unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(message(&frame(1, &gz), true).as_deref(), Some(&b"\x0a\x00"[..]));
        // Compressed without a `grpc-encoding`, a length that disagrees, two messages, or too short: not kept.
        assert_eq!(message(&frame(1, &gz), false), None);
        assert_eq!(message(&Bytes::from_static(b"\x00\x00\x00\x00\x05ab"), false), None);
        let two = [frame(0, b"a"), frame(0, b"b")].concat();
        assert_eq!(message(&Bytes::from(two), false), None);
        assert_eq!(message(&Bytes::from_static(b"\x00\x00"), false), None);
    }
}

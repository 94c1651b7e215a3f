//! The counting OTLP sink of `bench receiver`: OTLP/gRPC and OTLP/HTTP (protobuf) listeners that count the spans,
//! log records and metrics of each export request and drop it. It walks the protobuf only as deep as the items
//! (`Export*ServiceRequest` → `Resource*` → `Scope*` → item) and decodes nothing inside them, so it costs a small
//! fraction of what the exporter spends encoding the same bytes: against it, what limits `bench export` is the
//! exporter, up to many times the instrumented service's span rate. The storing receiver (`otelwright-receiver`,
//! which decodes and keeps every item) is the other end the benches can use.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use bytes::{Buf, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

use super::receiver::Received;

/// The largest export request accepted (tonic's default of 4 MiB is below what a large batch can take).
const MAX_REQUEST: usize = 64 << 20;

/// The three OTLP signals, as the sink's services are parameterised.
const TRACES: u8 = 0;
const LOGS: u8 = 1;
const METRICS: u8 = 2;

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

    fn add(&self, signal: u8, items: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let counter = match signal {
            TRACES => &self.spans,
            LOGS => &self.logs,
            _ => &self.metrics,
        };
        counter.fetch_add(items, Ordering::Relaxed);
    }
}

/// The protobuf could not be walked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Malformed(&'static str);

/// Reads a base-128 varint (protobuf encoding, "Base 128 Varints": least significant group first, the high bit of
/// each byte set when more follow; at most 10 bytes).
fn varint(buf: &mut &[u8]) -> Result<u64, Malformed> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&byte, rest) = buf.split_first().ok_or(Malformed("truncated varint"))?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Malformed("varint longer than 10 bytes"))
}

fn skip(buf: &mut &[u8], n: usize) -> Result<(), Malformed> {
    if buf.len() < n {
        return Err(Malformed("truncated field"));
    }
    *buf = &buf[n..];
    Ok(())
}

/// Counts the length-delimited fields at `path` (field numbers, outermost first) of a protobuf message, skipping
/// every other field by its wire type (protobuf encoding, "Message Structure": the tag is `field << 3 | wire type`;
/// 0 VARINT, 1 I64, 2 LEN with a varint length, 5 I32; 3 and 4, the deprecated groups, do not occur in OTLP).
fn count_at(mut buf: &[u8], path: &[u64]) -> Result<u64, Malformed> {
    let Some((&wanted, deeper)) = path.split_first() else { return Ok(0) };
    let mut n = 0;
    while !buf.is_empty() {
        let tag = varint(&mut buf)?;
        match tag & 7 {
            0 => drop(varint(&mut buf)?),
            1 => skip(&mut buf, 8)?,
            5 => skip(&mut buf, 4)?,
            2 => {
                let len = usize::try_from(varint(&mut buf)?).map_err(|_| Malformed("length overflows"))?;
                if buf.len() < len {
                    return Err(Malformed("truncated length-delimited field"));
                }
                let (body, rest) = buf.split_at(len);
                buf = rest;
                if tag >> 3 == wanted {
                    n += if deeper.is_empty() { 1 } else { count_at(body, deeper)? };
                }
            }
            _ => return Err(Malformed("unsupported wire type")),
        }
    }
    Ok(n)
}

/// The items of an `ExportTraceServiceRequest`, `ExportLogsServiceRequest` or `ExportMetricsServiceRequest`: the
/// three share one shape (opentelemetry-proto: `resource_spans`/`resource_logs`/`resource_metrics` = 1 in the
/// request; `scope_*` = 2 in `Resource*`; `spans`/`log_records`/`metrics` = 2 in `Scope*`).
pub(crate) fn count_items(message: &[u8]) -> Result<u64, Malformed> {
    count_at(message, &[1, 2, 2])
}

/// A tonic codec whose requests decode to their item count and whose responses are the empty export response
/// (all fields unset: zero bytes on the wire).
#[derive(Clone, Copy, Debug, Default)]
struct CountCodec;

impl Codec for CountCodec {
    type Encode = ();
    type Decode = u64;
    type Encoder = CountCodec;
    type Decoder = CountCodec;

    fn encoder(&mut self) -> CountCodec {
        CountCodec
    }

    fn decoder(&mut self) -> CountCodec {
        CountCodec
    }
}

impl Encoder for CountCodec {
    type Item = ();
    type Error = Status;

    fn encode(&mut self, (): (), _dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        Ok(())
    }
}

impl Decoder for CountCodec {
    type Item = u64;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<u64>, Status> {
        let n = if src.chunk().len() == src.remaining() {
            count_items(src.chunk())
        } else {
            count_items(&src.copy_to_bytes(src.remaining()))
        };
        src.advance(src.remaining());
        n.map(Some).map_err(|e| Status::invalid_argument(e.0))
    }
}

/// One OTLP gRPC service (`SIGNAL` picks which) answering `Export` with the empty response.
#[derive(Clone, Debug)]
struct GrpcSink<const SIGNAL: u8>(Arc<Counts>);

impl NamedService for GrpcSink<TRACES> {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl NamedService for GrpcSink<LOGS> {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
}

impl NamedService for GrpcSink<METRICS> {
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
}

impl<const SIGNAL: u8> tonic::server::UnaryService<u64> for GrpcSink<SIGNAL> {
    type Response = ();
    type Future = std::future::Ready<Result<Response<()>, Status>>;

    fn call(&mut self, request: Request<u64>) -> Self::Future {
        self.0.add(SIGNAL, request.into_inner());
        std::future::ready(Ok(Response::new(())))
    }
}

impl<const SIGNAL: u8, B> tower::Service<http::Request<B>> for GrpcSink<SIGNAL>
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move {
            if !request.uri().path().ends_with("/Export") {
                return Ok(Status::unimplemented("only Export").into_http());
            }
            let mut grpc = tonic::server::Grpc::new(CountCodec).apply_max_message_size_config(Some(MAX_REQUEST), None);
            Ok(grpc.unary(service, request).await)
        })
    }
}

/// OTLP/HTTP: `POST /v1/{traces,logs,metrics}` with a protobuf body (OTLP 1.x, "OTLP/HTTP Request": binary
/// protobuf is `application/x-protobuf`; JSON and compressed bodies are not counted and get 415). The success
/// response is the empty export response, encoded as protobuf (zero bytes).
async fn http_export<const SIGNAL: u8>(
    State(counts): State<Arc<Counts>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], &'static str) {
    let protobuf = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/x-protobuf");
    let plain = headers.get(header::CONTENT_ENCODING).is_none_or(|v| v.as_bytes() == b"identity");
    let text = [(header::CONTENT_TYPE, "text/plain")];
    if !protobuf || !plain {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, text, "the counting sink takes uncompressed protobuf only");
    }
    match count_items(&body) {
        Ok(n) => {
            counts.add(SIGNAL, n);
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-protobuf")], "")
        }
        Err(e) => (StatusCode::BAD_REQUEST, text, e.0),
    }
}

/// The sink's endpoints.
#[derive(Clone, Debug)]
pub(crate) struct Endpoints {
    /// OTLP/gRPC, `http://127.0.0.1:port`.
    pub(crate) grpc: String,
    /// OTLP/HTTP base URL (`/v1/<signal>` is appended by the exporters).
    pub(crate) http: String,
}

/// Starts the sink (both listeners) on ephemeral loopback ports; it runs until the process ends.
pub(crate) async fn start() -> anyhow::Result<(Endpoints, Arc<Counts>)> {
    let counts = Arc::new(Counts::default());
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoints = Endpoints {
        grpc: format!("http://{}", grpc_listener.local_addr()?),
        http: format!("http://{}", http_listener.local_addr()?),
    };
    let incoming = tonic::transport::server::TcpIncoming::from(grpc_listener).with_nodelay(Some(true));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(GrpcSink::<TRACES>(counts.clone()))
            .add_service(GrpcSink::<LOGS>(counts.clone()))
            .add_service(GrpcSink::<METRICS>(counts.clone()))
            .serve_with_incoming(incoming),
    );
    let app = axum::Router::new()
        .route("/v1/traces", post(http_export::<TRACES>))
        .route("/v1/logs", post(http_export::<LOGS>))
        .route("/v1/metrics", post(http_export::<METRICS>))
        .layer(DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(counts.clone());
    tokio::spawn(async move { axum::serve(http_listener, app).await });
    Ok((endpoints, counts))
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_otlp::{Protocol, WithExportConfig as _};
    use otelwright_receiver::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use otelwright_receiver::proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use otelwright_receiver::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message as _;

    use super::*;

    /// A request with one resource holding a scope per entry of `scopes` (that many spans each), and a second
    /// resource with an empty scope; spans carry fields of every wire type.
    fn request(scopes: &[usize]) -> Vec<u8> {
        let span = |i: usize| Span {
            name: format!("span-{i}"),
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            flags: 0x301,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            attributes: vec![KeyValue {
                key: "k".into(),
                value: Some(AnyValue { value: Some(any_value::Value::DoubleValue(-1.5)) }),
                ..KeyValue::default()
            }],
            dropped_attributes_count: 3,
            ..Span::default()
        };
        let scope_spans =
            scopes.iter().map(|&n| ScopeSpans { spans: (0..n).map(span).collect(), ..ScopeSpans::default() }).collect();
        ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans { scope_spans, schema_url: "https://x".into(), ..ResourceSpans::default() },
                ResourceSpans { scope_spans: vec![ScopeSpans::default()], ..ResourceSpans::default() },
            ],
        }
        .encode_to_vec()
    }

    #[test]
    fn counts_the_items_of_every_scope_and_resource() {
        assert_eq!(count_items(&request(&[3, 0, 5])), Ok(8));
        assert_eq!(count_items(&request(&[])), Ok(0));
        assert_eq!(count_items(&[]), Ok(0));
    }

    #[test]
    fn malformed_input_is_an_error() {
        let good = request(&[2]);
        assert!(count_items(&good[..good.len() - 1]).is_err(), "truncated");
        assert!(count_items(&[0x0b]).is_err(), "wire type 3");
        assert!(
            count_items(&[0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).is_err(),
            "runaway varint"
        );
    }

    /// Exports `n` spans in one batch through an SDK provider built on `exporter`, from a blocking thread.
    async fn export_spans<E>(exporter: E, n: usize)
    where
        E: opentelemetry_sdk::trace::SpanExporter + 'static,
    {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().with_batch_exporter(exporter).build();
        let done = tokio::task::spawn_blocking(move || {
            let tracer = provider.tracer("t");
            for i in 0..n {
                drop(tracer.start(format!("s{i}")));
            }
            provider.shutdown()
        });
        done.await.unwrap().unwrap();
    }

    /// Both listeners count what the SDK's own OTLP exporters send (gRPC and HTTP/protobuf), and refuse what they
    /// cannot count.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_what_the_sdk_exports_over_both_transports() {
        let (endpoints, counts) = start().await.unwrap();
        let grpc = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(&endpoints.grpc).build();
        export_spans(grpc.unwrap(), 7).await;
        assert_eq!((counts.received().requests, counts.received().spans), (1, 7));

        let url = format!("{}/v1/traces", endpoints.http);
        let http = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(&url);
        let http = http.build();
        export_spans(http.unwrap(), 5).await;
        assert_eq!((counts.received().requests, counts.received().spans), (2, 12));

        let client = reqwest::Client::new();
        let post = |content_type: &'static str, body: Vec<u8>| {
            client.post(&url).header("content-type", content_type).body(body).send()
        };
        assert_eq!(post("application/x-protobuf", request(&[4, 1])).await.unwrap().status(), 200);
        assert_eq!(post("application/json", b"{}".to_vec()).await.unwrap().status(), 415);
        assert_eq!(post("application/x-protobuf", vec![0x0b]).await.unwrap().status(), 400);
        let r = counts.received();
        assert_eq!((r.requests, r.spans, r.logs, r.metrics), (3, 17, 0, 0));
    }
}

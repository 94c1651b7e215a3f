//! OTLP/HTTP: the axum router for `POST /v1/{traces,metrics,logs}`, content
//! negotiation (protobuf or JSON), gzip decoding with a size cap, and error
//! answers shaped like the OpenTelemetry Collector's.

use std::future::Future;
use std::io::Read as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;

use crate::export::Export;
use crate::fault::Fault;
use crate::store::Store;
use crate::types::{Signal, Transport};

/// Largest accepted request body, both as sent and after gzip decoding.
pub(crate) const MAX_BODY_SIZE: usize = 64 * 1024 * 1024;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    /// Reads the request's `Content-Type`, ignoring parameters and case.
    fn from_headers(headers: &HeaderMap) -> Option<Format> {
        let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
        let essence = value.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case(PROTOBUF) {
            Some(Format::Protobuf)
        } else if essence.eq_ignore_ascii_case(JSON) {
            Some(Format::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => PROTOBUF,
            Format::Json => JSON,
        }
    }

    fn transport(self) -> Transport {
        match self {
            Format::Protobuf => Transport::HttpProtobuf,
            Format::Json => Transport::HttpJson,
        }
    }
}

/// The `google.rpc.Status` message (without `details`), for error bodies.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// `google.rpc.Code.INVALID_ARGUMENT`.
const INVALID_ARGUMENT: i32 = 3;

/// Serves the OTLP/HTTP routes on `listener` until `shutdown` completes.
/// With `tls`, every connection must complete a TLS handshake first (see [`crate::tls::TlsListener`]).
pub(crate) async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let result = match tls {
        None => {
            let listener = FaultyListener { inner: listener, store: Arc::clone(&store) };
            axum::serve(listener, router(store)).with_graceful_shutdown(shutdown).await
        }
        Some(config) => {
            let listener = crate::tls::TlsListener::new(listener, config, Arc::clone(&store));
            axum::serve(listener, router(store)).with_graceful_shutdown(shutdown).await
        }
    };
    if let Err(err) = result {
        tracing::warn!(error = %err, "otlp http receiver stopped with an error");
    }
}

/// A listener that closes connections at once while the fault is `Refuse`.
struct FaultyListener {
    inner: TcpListener,
    store: Arc<Store>,
}

impl axum::serve::Listener for FaultyListener {
    type Io = crate::fault::FaultyStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
            if self.store.fault.refusing() {
                self.store.fault.hit();
                continue;
            }
            return (crate::fault::FaultyStream::new(stream, Arc::clone(&self.store)), addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Applies the fault mode before a request is handled: waits, holds until the fault changes, answers with an
/// error status, or asks for a partial-success answer (`Ok(Some((rejected, message)))`).
async fn fault(store: &Store, signal: Signal) -> Result<Option<(i64, String)>, Response> {
    let mut fault = store.fault.get();
    while fault == Fault::Hold {
        store.fault.hold(signal).await;
        fault = store.fault.get();
    }
    match fault {
        Fault::Delay(d) => {
            store.fault.hit();
            tokio::time::sleep(d).await;
            Ok(None)
        }
        Fault::HttpStatus { status, retry_after } => {
            store.fault.hit();
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let body = RpcStatus { code: 14, message: "fault injected by otelwright-receiver".into() }.encode_to_vec();
            let mut response = with_content_type(status, PROTOBUF, Bytes::from(body));
            if let Some(delay) = retry_after
                && let Ok(v) = HeaderValue::from_str(&delay.as_secs().max(1).to_string())
            {
                response.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
            Err(response)
        }
        Fault::Partial { rejected, message } => {
            store.fault.hit();
            Ok(Some((rejected, message)))
        }
        _ => Ok(None),
    }
}

/// The routes. Axum answers 405 for other methods on these paths and 404 for
/// other paths.
fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/v1/traces", post(export::<ExportTraceServiceRequest>))
        .route("/v1/metrics", post(export::<ExportMetricsServiceRequest>))
        .route("/v1/logs", post(export::<ExportLogsServiceRequest>))
        .layer(DefaultBodyLimit::max(MAX_BODY_SIZE))
        .with_state(store)
}

/// One export request on its signal's route: applies the fault mode, then decodes and stores it (and its raw body
/// when bodies are kept).
async fn export<R: Export>(State(store): State<Arc<Store>>, headers: HeaderMap, body: Bytes) -> Response {
    let partial = match fault(&store, R::SIGNAL).await {
        Ok(p) => p.map(|p| R::response(Some(p))),
        Err(response) => return response,
    };
    handle::<R, _>(&headers, &body, partial, |req, transport, gzip, body| {
        req.insert(&store, transport, gzip);
        store.keep_body(R::SIGNAL, transport, || Bytes::copy_from_slice(body));
    })
}

/// The status the receiver answers an OTLP/HTTP export request with, negotiating, decompressing and decoding
/// `body` exactly as it would but storing nothing: 200 for a valid request, 400 for an undecodable or badly
/// compressed body, 415 for an unsupported content type. For fuzzing and property tests; never panics.
pub fn decode_status(signal: crate::Signal, headers: &HeaderMap, body: &[u8]) -> u16 {
    fn status<R: Export>(headers: &HeaderMap, body: &[u8]) -> u16 {
        handle::<R, R::Response>(headers, body, None, |_, _, _, _| {}).status().as_u16()
    }
    match signal {
        crate::Signal::Traces => status::<ExportTraceServiceRequest>(headers, body),
        crate::Signal::Metrics => status::<ExportMetricsServiceRequest>(headers, body),
        crate::Signal::Logs => status::<ExportLogsServiceRequest>(headers, body),
    }
}

/// Negotiates, decompresses, decodes and stores one export request.
fn handle<Req, Resp>(
    headers: &HeaderMap,
    body: &[u8],
    partial: Option<Resp>,
    insert: impl FnOnce(Req, Transport, bool, &[u8]),
) -> Response
where
    Req: prost::Message + Default + DeserializeOwned,
    Resp: prost::Message + serde::Serialize,
{
    let Some(format) = Format::from_headers(headers) else {
        return unsupported_media_type(headers);
    };
    let gzip = match is_gzip(headers) {
        Ok(gzip) => gzip,
        Err(message) => return bad_request(format, message),
    };
    let inflated;
    let body = if gzip {
        match gunzip(body) {
            Ok(bytes) => {
                inflated = bytes;
                &inflated[..]
            }
            Err(message) => return bad_request(format, message),
        }
    } else {
        body
    };
    let request = match format {
        Format::Protobuf => Req::decode(body).map_err(|e| format!("invalid protobuf export request: {e}")),
        Format::Json => {
            serde_json::from_slice::<Req>(body).map_err(|e| format!("invalid OTLP/JSON export request: {e}"))
        }
    };
    match request {
        Ok(request) => {
            insert(request, format.transport(), gzip, body);
            match partial {
                Some(response) => answer(format, &response),
                None => success(format),
            }
        }
        Err(message) => bad_request(format, message),
    }
}

/// Whether the body is gzip-encoded; an error for encodings we do not decode.
fn is_gzip(headers: &HeaderMap) -> Result<bool, String> {
    let Some(value) = headers.get(CONTENT_ENCODING) else {
        return Ok(false);
    };
    let value = value.to_str().unwrap_or("<non-ascii>").trim();
    if value.eq_ignore_ascii_case("gzip") {
        Ok(true)
    } else if value.is_empty() || value.eq_ignore_ascii_case("identity") {
        Ok(false)
    } else {
        Err(format!("unsupported Content-Encoding: {value}"))
    }
}

/// Decompresses a gzip body, refusing to inflate past [`MAX_BODY_SIZE`].
pub(crate) fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(MAX_BODY_SIZE as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("invalid gzip body: {e}"))?;
    if out.len() > MAX_BODY_SIZE {
        return Err(format!("decompressed body exceeds the limit of {MAX_BODY_SIZE} bytes"));
    }
    Ok(out)
}

/// 200 with an empty `Export*ServiceResponse` in the request's encoding.
fn success(format: Format) -> Response {
    // The empty response message: no bytes in protobuf, `{}` in JSON.
    let body: &'static [u8] = match format {
        Format::Protobuf => b"",
        Format::Json => b"{}",
    };
    with_content_type(StatusCode::OK, format.content_type(), Bytes::from_static(body))
}

/// 200 with a (partial-success) response message in the request's encoding.
fn answer<Resp: prost::Message + serde::Serialize>(format: Format, response: &Resp) -> Response {
    let body = match format {
        Format::Protobuf => response.encode_to_vec(),
        Format::Json => serde_json::to_vec(response).unwrap_or_else(|_| b"{}".to_vec()),
    };
    with_content_type(StatusCode::OK, format.content_type(), Bytes::from(body))
}

/// 400 with a `google.rpc.Status` body in the request's encoding.
fn bad_request(format: Format, message: String) -> Response {
    tracing::debug!(%message, "rejected otlp http request");
    let body = match format {
        Format::Protobuf => RpcStatus { code: INVALID_ARGUMENT, message }.encode_to_vec(),
        Format::Json => serde_json::json!({ "code": INVALID_ARGUMENT, "message": message }).to_string().into_bytes(),
    };
    with_content_type(StatusCode::BAD_REQUEST, format.content_type(), Bytes::from(body))
}

/// 415 with a plain-text reason, as the Collector answers.
fn unsupported_media_type(headers: &HeaderMap) -> Response {
    let got = headers.get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).unwrap_or_default();
    let message = format!("{got:?} unsupported media type, supported: [{JSON}, {PROTOBUF}]");
    with_content_type(StatusCode::UNSUPPORTED_MEDIA_TYPE, "text/plain; charset=utf-8", Bytes::from(message))
}

fn with_content_type(status: StatusCode, content_type: &'static str, body: Bytes) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write as _;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn content_type_ignores_parameters_and_case() {
        let h = headers(&[("content-type", "Application/JSON; charset=utf-8")]);
        assert_eq!(Format::from_headers(&h), Some(Format::Json));
        let h = headers(&[("content-type", "application/x-protobuf")]);
        assert_eq!(Format::from_headers(&h), Some(Format::Protobuf));
        let h = headers(&[("content-type", "text/plain")]);
        assert_eq!(Format::from_headers(&h), None);
        assert_eq!(Format::from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn content_encoding() {
        assert_eq!(is_gzip(&HeaderMap::new()), Ok(false));
        assert_eq!(is_gzip(&headers(&[("content-encoding", "GZIP")])), Ok(true));
        assert_eq!(is_gzip(&headers(&[("content-encoding", "identity")])), Ok(false));
        assert!(is_gzip(&headers(&[("content-encoding", "br")])).is_err());
    }

    #[test]
    fn gunzip_round_trip_and_errors() {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(b"hello").unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(gunzip(&gz).unwrap(), b"hello");
        assert!(gunzip(b"not gzip").is_err());
    }

    #[test]
    fn bad_request_protobuf_body_decodes_as_status() {
        let response = bad_request(Format::Protobuf, "nope".into());
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONTENT_TYPE], PROTOBUF);
    }
}

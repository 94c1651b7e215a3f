//! One request's observation: started when the request arrives, updated when the response headers, body bytes and
//! trailers go out, and finished exactly once when it is dropped — after the last body frame, or early when the
//! client goes away (then the span still ends and `http.server.active_requests` still goes down).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderValue, Request, Response};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};

use super::layer::Shared;
use crate::body::BodyObserver;
use crate::conventions::{self, grpc_code_name, grpc_server_error};
use crate::metrics::{ActiveKey, ServerKey};
use crate::request_id::RequestId;
use crate::route::RouteInput;

fn string(v: Cow<'static, str>) -> Value {
    Value::String(StringValue::from(v))
}

static X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");
static X_RESPONSE_TIME: http::HeaderName = http::HeaderName::from_static("x-response-time");

/// `12.34ms`: milliseconds with two decimals, written digit by digit (this runs on every request).
pub(crate) fn response_time(elapsed: std::time::Duration) -> HeaderValue {
    let mut hundredths = ((elapsed.as_nanos() + 5_000) / 10_000).min(u128::from(u64::MAX)) as u64;
    let mut buf = [0u8; 32];
    let mut i = buf.len();
    for suffix in [b's', b'm'] {
        i -= 1;
        buf[i] = suffix;
    }
    let mut digits = 0;
    loop {
        if digits == 2 {
            i -= 1;
            buf[i] = b'.';
        }
        i -= 1;
        buf[i] = b'0' + (hundredths % 10) as u8;
        hundredths /= 10;
        digits += 1;
        if hundredths == 0 && digits >= 3 {
            break;
        }
    }
    HeaderValue::from_bytes(&buf[i..]).unwrap_or(HeaderValue::from_static("0.00ms"))
}

/// The state of one server request. Opaque: it only appears as the observer type of the response body.
pub struct ServerExchange {
    shared: Arc<Shared>,
    pub(crate) cx: Context,
    start: Instant,
    traced: bool,
    measured: bool,
    /// `Some(rpc.method)` when the request is gRPC.
    grpc_method: Option<String>,
    method: Cow<'static, str>,
    route: Option<std::sync::Arc<str>>,
    /// `http.request.method` and `url.scheme`: the attributes every measurement and the span share.
    base: ActiveKey,
    version: Option<&'static str>,
    request_id: Option<RequestId>,
    request_bytes: Option<u64>,
    response_bytes: u64,
    status: Option<u16>,
    grpc_status: Option<i32>,
    failure: Option<&'static str>,
}

impl std::fmt::Debug for ServerExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerExchange")
            .field("method", &self.method)
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl ServerExchange {
    pub(crate) fn start<B>(shared: &Arc<Shared>, req: &mut Request<B>) -> Box<Self> {
        let start = Instant::now();
        let headers = req.headers();
        let excluded = shared.excluded(req.uri().path());
        let request_id = shared.request_id.then(|| RequestId::from_header_or_new(headers.get(&X_REQUEST_ID)));
        let grpc_method = conventions::is_grpc(headers).then(|| req.uri().path().trim_start_matches('/').to_owned());
        let (method, method_original) = shared.known_methods.normalize(req.method());
        let scheme = conventions::scheme(headers, req.uri());
        let version = conventions::protocol_version(req.version());
        let route = if grpc_method.is_some() {
            None
        } else {
            shared.route.route(&RouteInput { method: req.method(), uri: req.uri(), extensions: req.extensions() })
        };
        let base = ActiveKey { method: method.clone(), scheme };
        let traced = shared.tracer.is_some() && !excluded;
        let measured = shared.instruments.is_some() && !excluded;
        let parent = if traced {
            match &shared.propagator {
                Some(p) => crate::propagation::extract_with(p.as_ref(), headers),
                None => crate::propagation::extract(headers),
            }
        } else {
            Context::current()
        };
        let mut cx = match (&shared.tracer, traced) {
            (Some(tracer), true) => {
                let (name, attrs) = match &grpc_method {
                    Some(rpc) => (rpc.clone(), grpc_start_attributes(rpc, req)),
                    None => http_start_attributes(
                        &method,
                        &base,
                        method_original,
                        route.as_ref(),
                        version,
                        req,
                        request_id.as_ref(),
                    ),
                };
                let span = tracer.build_with_context(
                    opentelemetry::trace::SpanBuilder::from_name(name)
                        .with_kind(SpanKind::Server)
                        .with_attributes(attrs),
                    &parent,
                );
                parent.with_span(crate::propagation::with_random_flag(span, &parent, shared.random_trace_ids))
            }
            _ => parent,
        };
        if let Some(id) = &request_id {
            req.extensions_mut().insert(id.clone());
            cx = cx.with_value(id.clone());
        }
        #[cfg(feature = "axum-ws")]
        if (traced || measured) && crate::ws::is_upgrade(req) {
            // The WebSocket extractor picks this up: the connection span's parent, its route, and the layer.
            req.extensions_mut().insert(crate::ws::Upgrade {
                shared: shared.clone(),
                parent: cx.clone(),
                route: route.clone(),
                traced,
                measured,
            });
        }
        let request_bytes =
            req.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let exchange = Box::new(ServerExchange {
            shared: shared.clone(),
            base,
            cx,
            start,
            traced,
            measured,
            grpc_method,
            method,
            route,
            version,
            request_id,
            request_bytes,
            response_bytes: 0,
            status: None,
            grpc_status: None,
            failure: None,
        });
        if exchange.measured
            && exchange.grpc_method.is_none()
            && let Some(i) = &shared.instruments
        {
            i.add_active(&exchange.base, 1);
        }
        exchange
    }
}

impl crate::future::Exchange for ServerExchange {
    /// Response headers are ready: note the status and add our headers.
    fn on_response<B>(&mut self, resp: &mut Response<B>) {
        self.status = Some(resp.status().as_u16());
        if self.grpc_method.is_some() {
            // A trailers-only response carries grpc-status in the headers.
            self.grpc_status = conventions::grpc_status(resp.headers());
        }
        let headers = resp.headers_mut();
        if let Some(id) = &self.request_id {
            headers.insert(&X_REQUEST_ID, id.header_value());
        }
        if self.shared.response_time {
            headers.insert(&X_RESPONSE_TIME, response_time(self.start.elapsed()));
        }
    }

    /// The inner service failed before producing a response.
    fn on_failure(&mut self, error_type: &'static str) {
        self.failure = Some(error_type);
    }
}

impl ServerExchange {
    fn finish(&mut self) {
        let elapsed = self.start.elapsed();
        let error_type: Option<Cow<'static, str>> = match (&self.grpc_method, self.grpc_status, self.status) {
            _ if self.failure.is_some() => self.failure.map(Cow::Borrowed),
            (Some(_), Some(code), _) if grpc_server_error(code) => Some(Cow::Borrowed(grpc_code_name(code))),
            (None, _, Some(s)) if s >= 500 => Some(Cow::Owned(s.to_string())),
            _ => None,
        };
        if self.traced {
            let span = self.cx.span();
            match (&self.grpc_method, self.grpc_status, self.status) {
                (Some(_), Some(code), _) => {
                    span.set_attribute(KeyValue::new("rpc.response.status_code", grpc_code_name(code)))
                }
                (None, _, Some(s)) => span.set_attribute(KeyValue::new("http.response.status_code", i64::from(s))),
                _ => {}
            }
            if let Some(e) = &error_type {
                span.set_attribute(KeyValue::new("error.type", string(e.clone())));
                span.set_status(Status::error(""));
            }
            span.end();
        }
        if self.measured
            && let Some(i) = &self.shared.instruments
        {
            self.record(i, elapsed.as_secs_f64(), error_type.clone());
        }
        if let Some(threshold) = self.shared.slow
            && elapsed > threshold
        {
            let _attached = self.cx.clone().attach();
            let trace_id = self.cx.span().span_context().trace_id().to_string();
            tracing::warn!(
                http.request.method = %self.method,
                http.route = self.route.as_deref().or(self.grpc_method.as_deref()).unwrap_or(""),
                http.response.status_code = self.status.unwrap_or(0),
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                trace_id = %trace_id,
                "slow request"
            );
        }
    }

    fn record(&self, i: &crate::metrics::ServerInstruments, secs: f64, error_type: Option<Cow<'static, str>>) {
        if let Some(rpc) = &self.grpc_method {
            // Only calls that reported a status are measured; a client cancelling mid-call reports none.
            let Some(code) = self.grpc_status else { return };
            let mut attrs = vec![
                KeyValue::new("rpc.system.name", "grpc"),
                KeyValue::new("rpc.method", rpc.clone()),
                KeyValue::new("rpc.response.status_code", grpc_code_name(code)),
            ];
            if let Some(e) = error_type {
                attrs.push(KeyValue::new("error.type", string(e)));
            }
            i.rpc_duration.record(secs, &attrs);
            return;
        }
        i.add_active(&self.base, -1);
        if self.status.is_none() && self.failure.is_none() {
            return; // cancelled before a response: no status to report
        }
        let key = ServerKey {
            base: self.base.clone(),
            route: self.route.clone(),
            status: self.status,
            error_type,
            version: self.version,
        };
        i.record(&key, secs, self.request_bytes.unwrap_or(0), self.response_bytes);
    }
}

impl Drop for ServerExchange {
    fn drop(&mut self) {
        self.finish();
    }
}

impl BodyObserver for ServerExchange {
    fn context(&self) -> &Context {
        &self.cx
    }

    fn on_data(&mut self, bytes: usize) {
        self.response_bytes += bytes as u64;
    }

    fn on_trailers(&mut self, trailers: &HeaderMap) {
        if self.grpc_method.is_some()
            && let Some(code) = conventions::grpc_status(trailers)
        {
            self.grpc_status = Some(code);
        }
    }

    fn on_end(self) {
        // Dropping finishes.
    }
}

fn http_start_attributes<B>(
    method: &str,
    base: &ActiveKey,
    method_original: Option<String>,
    route: Option<&std::sync::Arc<str>>,
    version: Option<&'static str>,
    req: &Request<B>,
    request_id: Option<&RequestId>,
) -> (String, Vec<KeyValue>) {
    let shown = if method == "_OTHER" { "HTTP" } else { method };
    let name = match route {
        Some(r) => format!("{shown} {r}"),
        None => shown.to_owned(),
    };
    let headers = req.headers();
    let uri = req.uri();
    let mut attrs = Vec::with_capacity(14);
    attrs.extend(base.attributes());
    attrs.push(KeyValue::new("url.path", uri.path().to_owned()));
    if let Some(original) = method_original {
        attrs.push(KeyValue::new("http.request.method_original", original));
    }
    if let Some(q) = uri.query() {
        attrs.push(KeyValue::new("url.query", conventions::redact_query(q).into_owned()));
    }
    if let Some(r) = route {
        attrs.push(KeyValue::new("http.route", Value::String(StringValue::from(r.clone()))));
    }
    if let Some(v) = version {
        attrs.push(KeyValue::new("network.protocol.version", v));
    }
    add_addresses(&mut attrs, req);
    if let Some(ua) = headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()) {
        attrs.push(KeyValue::new("user_agent.original", ua.to_owned()));
    }
    if let Some(id) = request_id {
        attrs.push(KeyValue::new(
            "http.response.header.x-request-id",
            Value::Array(Array::String(vec![StringValue::from(id.as_str().to_owned())])),
        ));
    }
    (name, attrs)
}

fn grpc_start_attributes<B>(rpc_method: &str, req: &Request<B>) -> Vec<KeyValue> {
    let mut attrs = vec![KeyValue::new("rpc.system.name", "grpc"), KeyValue::new("rpc.method", rpc_method.to_owned())];
    add_addresses(&mut attrs, req);
    attrs
}

/// `server.address`/`server.port`, `client.address`, `network.peer.address`/`network.peer.port`.
fn add_addresses<B>(attrs: &mut Vec<KeyValue>, req: &Request<B>) {
    if let Some((host, port)) = conventions::server_address(req.headers(), req.uri()) {
        attrs.push(KeyValue::new("server.address", host));
        if let Some(p) = port {
            attrs.push(KeyValue::new("server.port", i64::from(p)));
        }
    }
    let peer = peer_addr(req);
    // The peer's address is formatted once; without forwarding headers it is also `client.address`.
    let peer_ip = peer.map(|p| StringValue::from(Arc::<str>::from(p.ip().to_string())));
    match conventions::forwarded_client(req.headers()) {
        Some(client) => attrs.push(KeyValue::new("client.address", client)),
        None => {
            if let Some(ip) = &peer_ip {
                attrs.push(KeyValue::new("client.address", Value::String(ip.clone())));
            }
        }
    }
    if let (Some(p), Some(ip)) = (peer, peer_ip) {
        attrs.push(KeyValue::new("network.peer.address", Value::String(ip)));
        attrs.push(KeyValue::new("network.peer.port", i64::from(p.port())));
    }
}

fn peer_addr<B>(req: &Request<B>) -> Option<std::net::SocketAddr> {
    #[cfg(feature = "axum")]
    {
        req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0)
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = req;
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn response_time_has_two_decimals() {
        assert_eq!(super::response_time(Duration::from_micros(12_345)), "12.35ms");
        assert_eq!(super::response_time(Duration::from_micros(7)), "0.01ms");
        assert_eq!(super::response_time(Duration::ZERO), "0.00ms");
        assert_eq!(super::response_time(Duration::from_secs(3)), "3000.00ms");
    }
}

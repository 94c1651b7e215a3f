//! The semantic-convention rules the four conventions share: known HTTP methods (`_OTHER` for the rest, the set
//! replaceable through the builders), where `server.address`, `client.address` and `url.scheme` come from, gRPC
//! status names and which codes are errors on a server, and redaction of credentials and sensitive query values.

use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, Method, Request, Uri};
use opentelemetry::{KeyValue, StringValue, Value};

/// An attribute value from a string that stays borrowed when it is `'static` (no allocation).
pub(crate) fn string(v: Cow<'static, str>) -> Value {
    Value::String(StringValue::from(v))
}

/// The RFC 9110 methods plus PATCH and QUERY.
const DEFAULT_METHODS: [&str; 10] =
    ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"];

/// The set of methods reported as themselves; everything else is `_OTHER`.
///
/// Semconv `docs/http/http-spans.md`, `http.request.method`: a method the instrumentation does not know MUST be
/// reported as `_OTHER` (the original in `http.request.method_original`); the known set is the RFC 9110 methods
/// plus PATCH and QUERY, and an override (named `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` when it comes from the
/// environment, comma-separated and case-sensitive) MUST replace the whole set. This crate reads no environment:
/// the override comes from the builders' `known_methods`, and `otelwright`'s configuration reads the variable.
#[derive(Clone, Debug, Default)]
pub(crate) struct KnownMethods(Option<Vec<String>>);

impl KnownMethods {
    /// A full override of the default set (case-sensitive; entries are trimmed, empty ones skipped). An empty
    /// list keeps the default set, as an empty variable does.
    pub(crate) fn new<I, M>(methods: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: Into<String>,
    {
        let list: Vec<String> = methods
            .into_iter()
            .map(|m| {
                let m: String = m.into();
                m.trim().to_owned()
            })
            .filter(|m| !m.is_empty())
            .collect();
        KnownMethods((!list.is_empty()).then_some(list))
    }

    /// `(http.request.method, http.request.method_original if it differs)`.
    pub(crate) fn normalize(&self, method: &Method) -> (Cow<'static, str>, Option<String>) {
        let m = method.as_str();
        let known = match &self.0 {
            None => DEFAULT_METHODS.iter().find(|k| **k == m).map(|k| Cow::Borrowed(*k)),
            Some(list) => list.iter().any(|k| k == m).then(|| Cow::Owned(m.to_owned())),
        };
        match known {
            Some(k) => (k, None),
            None => (Cow::Borrowed("_OTHER"), Some(m.to_owned())),
        }
    }
}

/// `Forwarded: ...;key=value` (first element only).
fn forwarded<'h>(headers: &'h HeaderMap, key: &str) -> Option<&'h str> {
    let value = headers.get(http::header::FORWARDED)?.to_str().ok()?;
    let first = value.split(',').next()?;
    first.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim().trim_matches('"'))
    })
}

static X_FORWARDED_HOST: http::HeaderName = http::HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");

fn header<'h>(headers: &'h HeaderMap, name: &http::HeaderName) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// Splits `host[:port]` (IPv6 in brackets).
pub(crate) fn split_host_port(authority: &str) -> (String, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[')
        && let Some((host, tail)) = rest.split_once(']')
    {
        return (host.to_owned(), tail.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h.to_owned(), p.parse().ok()),
        _ => (authority.to_owned(), None),
    }
}

/// `server.address`/`server.port`: `Forwarded#host`, `X-Forwarded-Host`, then `:authority`, then `Host`.
pub(crate) fn server_address(headers: &HeaderMap, uri: &Uri) -> Option<(String, Option<u16>)> {
    forwarded(headers, "host")
        .or_else(|| header(headers, &X_FORWARDED_HOST).map(|v| v.split(',').next().unwrap_or(v).trim()))
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .or_else(|| header(headers, &http::header::HOST))
        .map(split_host_port)
}

/// `client.address`: `Forwarded#for`, then the first `X-Forwarded-For`.
fn forwarded_client(headers: &HeaderMap) -> Option<String> {
    forwarded(headers, "for")
        .or_else(|| header(headers, &X_FORWARDED_FOR).and_then(|v| v.split(',').next()).map(str::trim))
        .map(|v| split_host_port(v).0)
}

/// A server's `server.address`/`server.port`, `client.address`, `network.peer.address`/`network.peer.port`.
pub(crate) fn add_server_side_addresses<B>(attrs: &mut Vec<KeyValue>, req: &Request<B>) {
    if let Some((host, port)) = server_address(req.headers(), req.uri()) {
        attrs.push(KeyValue::new("server.address", host));
        if let Some(p) = port {
            attrs.push(KeyValue::new("server.port", i64::from(p)));
        }
    }
    let peer = peer_addr(req);
    // The peer's address is formatted once; without forwarding headers it is also `client.address`.
    let peer_ip = peer.map(|p| StringValue::from(Arc::<str>::from(p.ip().to_string())));
    match forwarded_client(req.headers()) {
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

/// A client's `server.address`/`server.port` from a URI with a host (the port defaults by scheme).
pub(crate) fn uri_server(uri: &Uri) -> Option<(Arc<str>, u16)> {
    let host = uri.host()?;
    let default = if uri.scheme_str() == Some("https") { 443 } else { 80 };
    Some((Arc::from(host.trim_start_matches('[').trim_end_matches(']')), uri.port_u16().unwrap_or(default)))
}

/// A client's `server.address`/`server.port` attributes.
pub(crate) fn add_client_side_server(attrs: &mut Vec<KeyValue>, server: Option<&(Arc<str>, u16)>) {
    if let Some((host, port)) = server {
        attrs.push(KeyValue::new("server.address", Value::String(StringValue::from(host.clone()))));
        attrs.push(KeyValue::new("server.port", i64::from(*port)));
    }
}

/// `url.scheme`: `X-Forwarded-Proto`, then the URI, then `http`.
pub(crate) fn scheme(headers: &HeaderMap, uri: &Uri) -> Cow<'static, str> {
    match header(headers, &X_FORWARDED_PROTO).or_else(|| uri.scheme_str()) {
        Some(s) if s.eq_ignore_ascii_case("https") => Cow::Borrowed("https"),
        Some(s) if s.eq_ignore_ascii_case("http") => Cow::Borrowed("http"),
        Some(s) => Cow::Owned(s.to_ascii_lowercase()),
        None => Cow::Borrowed("http"),
    }
}

/// `network.protocol.version` of a request or response.
pub(crate) fn protocol_version(v: http::Version) -> Option<&'static str> {
    match v {
        http::Version::HTTP_09 => Some("0.9"),
        http::Version::HTTP_10 => Some("1.0"),
        http::Version::HTTP_11 => Some("1.1"),
        http::Version::HTTP_2 => Some("2"),
        http::Version::HTTP_3 => Some("3"),
        _ => None,
    }
}

/// Query keys whose values are replaced by `REDACTED`.
const SENSITIVE_KEYS: [&str; 12] = [
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "sig",
    "signature",
    "x-amz-signature",
];

fn sensitive(key: &str) -> bool {
    SENSITIVE_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
        || key.to_ascii_lowercase().starts_with("x-amz-credential")
}

/// `url.query` with the values of sensitive keys replaced by `REDACTED`.
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    if !query.split('&').any(|pair| sensitive(pair.split('=').next().unwrap_or(pair))) {
        return Cow::Borrowed(query);
    }
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if sensitive(k) => format!("{k}=REDACTED"),
            _ => pair.to_owned(),
        })
        .collect();
    Cow::Owned(parts.join("&"))
}

/// `url.full` for a client request: credentials become `REDACTED:REDACTED`, sensitive query values `REDACTED`.
pub(crate) fn full_url(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let authority = uri.authority().map_or("", |a| a.as_str());
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("REDACTED:REDACTED@{host}"),
        None => authority.to_owned(),
    };
    let mut url = format!("{scheme}://{authority}{}", uri.path());
    if let Some(q) = uri.query() {
        url.push('?');
        url.push_str(&redact_query(q));
    }
    url
}

/// gRPC status codes by number, as `rpc.response.status_code` spells them.
const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The name of a gRPC status code; unknown numbers are `UNKNOWN`.
pub(crate) fn grpc_code_name(code: i32) -> &'static str {
    usize::try_from(code).ok().and_then(|i| GRPC_CODES.get(i)).copied().unwrap_or("UNKNOWN")
}

/// Server side: only these codes mean the server failed.
pub(crate) fn grpc_server_error(code: i32) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

/// `grpc-status` from response headers or trailers.
fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()
}

/// The `grpc-status` of a call, from a trailers-only response's headers or from the trailers.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GrpcStatus(Option<i32>);

impl GrpcStatus {
    pub(crate) fn code(self) -> Option<i32> {
        self.0
    }

    /// Response headers: a trailers-only response carries the status here.
    pub(crate) fn on_headers(&mut self, headers: &HeaderMap) {
        self.0 = grpc_status(headers);
    }

    /// Trailers: where the status of a call with a body travels.
    pub(crate) fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let Some(code) = grpc_status(trailers) {
            self.0 = Some(code);
        }
    }

    /// `rpc.response.status_code` (the code's name), when a status arrived.
    pub(crate) fn attribute(self) -> Option<KeyValue> {
        self.0.map(|code| KeyValue::new("rpc.response.status_code", grpc_code_name(code)))
    }
}

/// `rpc.system.name` and `rpc.method`: what every gRPC span and measurement starts with (room for 8).
pub(crate) fn rpc_attributes(method: &str) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(8);
    attrs.push(KeyValue::new("rpc.system.name", "grpc"));
    attrs.push(KeyValue::new("rpc.method", method.to_owned()));
    attrs
}

/// A gRPC measurement's attributes: [`rpc_attributes`], the status when one arrived, and `error.type`.
pub(crate) fn rpc_measurement_attributes(
    method: &str,
    status: GrpcStatus,
    error: Option<Cow<'static, str>>,
) -> Vec<KeyValue> {
    let mut attrs = rpc_attributes(method);
    attrs.extend(status.attribute());
    if let Some(e) = error {
        attrs.push(KeyValue::new("error.type", string(e)));
    }
    attrs
}

/// Whether a request or response is gRPC, by content type.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        let k = KnownMethods::default();
        assert_eq!(k.normalize(&Method::GET), (Cow::Borrowed("GET"), None));
        let odd = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(k.normalize(&odd), (Cow::Borrowed("_OTHER"), Some("PURGE".to_owned())));
        let custom = KnownMethods::new([" PURGE", ""]);
        assert_eq!(custom.normalize(&odd).0, "PURGE");
        assert_eq!(custom.normalize(&Method::GET).0, "_OTHER", "the override replaces the whole set");
        let empty = KnownMethods::new(Vec::<String>::new());
        assert_eq!(empty.normalize(&Method::GET).0, "GET", "an empty list keeps the default set");
    }

    #[test]
    fn addresses() {
        let mut h = HeaderMap::new();
        h.insert("host", "api.example.com:8443".parse().unwrap());
        let uri: Uri = "/x".parse().unwrap();
        assert_eq!(server_address(&h, &uri), Some(("api.example.com".into(), Some(8443))));
        h.insert("x-forwarded-host", "front.example.com".parse().unwrap());
        assert_eq!(server_address(&h, &uri), Some(("front.example.com".into(), None)));
        h.insert("forwarded", "for=192.0.2.60;proto=https;host=fwd.example.com:443".parse().unwrap());
        assert_eq!(server_address(&h, &uri), Some(("fwd.example.com".into(), Some(443))));
        assert_eq!(forwarded_client(&h).as_deref(), Some("192.0.2.60"));
        assert_eq!(split_host_port("[::1]:8080"), ("::1".into(), Some(8080)));
        assert_eq!(split_host_port("::1"), ("::1".into(), None));
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_query("a=1&token=abc&Sig=x&b"), "a=1&token=REDACTED&Sig=REDACTED&b");
        assert_eq!(redact_query("page=2"), "page=2");
        let uri: Uri = "https://user:pw@s3.example.com/b?X-Amz-Signature=abc&x=1".parse().unwrap();
        assert_eq!(full_url(&uri), "https://REDACTED:REDACTED@s3.example.com/b?X-Amz-Signature=REDACTED&x=1");
    }

    #[test]
    fn grpc_codes() {
        assert_eq!(grpc_code_name(0), "OK");
        assert_eq!(grpc_code_name(4), "DEADLINE_EXCEEDED");
        assert_eq!(grpc_code_name(99), "UNKNOWN");
        assert_eq!(grpc_code_name(-1), "UNKNOWN");
        assert!(grpc_server_error(13) && !grpc_server_error(5) && !grpc_server_error(0));
    }
}

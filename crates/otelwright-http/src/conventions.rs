//! The semantic-convention rules the layers share: known HTTP methods (`_OTHER` for the rest, overridable with
//! `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`), where `server.address`, `client.address` and `url.scheme` come from,
//! gRPC status names and which codes are errors on a server and on a client, and redaction of credentials and
//! sensitive query values.

use std::borrow::Cow;

use http::{HeaderMap, Method, Uri};

/// The RFC 9110 methods plus PATCH and QUERY.
const DEFAULT_METHODS: [&str; 10] =
    ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"];

/// The set of methods reported as themselves; everything else is `_OTHER`.
#[derive(Clone, Debug, Default)]
pub(crate) struct KnownMethods(Option<Vec<String>>);

impl KnownMethods {
    /// From `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` (comma-separated, case-sensitive, replaces the default set).
    pub(crate) fn from_env() -> Self {
        let list = std::env::var("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS").ok().filter(|v| !v.trim().is_empty());
        KnownMethods(list.map(|v| v.split(',').map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect()))
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
pub(crate) fn forwarded_client(headers: &HeaderMap) -> Option<String> {
    forwarded(headers, "for")
        .or_else(|| header(headers, &X_FORWARDED_FOR).and_then(|v| v.split(',').next()).map(str::trim))
        .map(|v| split_host_port(v).0)
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
pub(crate) fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()
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
        let custom = KnownMethods(Some(vec!["PURGE".into()]));
        assert_eq!(custom.normalize(&odd).0, "PURGE");
        assert_eq!(custom.normalize(&Method::GET).0, "_OTHER", "the override replaces the whole set");
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

//! `X-Request-ID`: a valid incoming id (1 to 128 characters from a safe set) is kept, anything else is replaced
//! by a new UUID. The id travels in the request's extensions and in the OpenTelemetry context while the request
//! is handled, so JSON log lines inside the request carry it.

use http::HeaderValue;

/// The id of the request being handled.
///
/// ```
/// // Inside a handler running under the server layer:
/// if let Some(id) = otelwright_http::RequestId::current() {
///     tracing::info!(request_id = id.as_str(), "handling");
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(HeaderValue);

/// Longest id we keep.
pub(crate) const MAX_LEN: usize = 128;

fn safe(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=' | b'@')
}

impl RequestId {
    /// Keeps `incoming` when it is a safe id, else generates a UUID.
    pub fn from_header_or_new(incoming: Option<&HeaderValue>) -> Self {
        match incoming.map(HeaderValue::as_bytes) {
            // The header value is reference-counted: keeping it costs no copy.
            Some(b) if !b.is_empty() && b.len() <= MAX_LEN && b.iter().all(|&c| safe(c)) => {
                RequestId(incoming.cloned().unwrap_or_else(|| HeaderValue::from_static("")))
            }
            _ => RequestId::new(),
        }
    }

    /// A new random (v4) UUID.
    pub fn new() -> Self {
        let mut buf = uuid::Uuid::encode_buffer();
        let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
        // A hyphenated UUID is always a valid header value.
        RequestId(HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid")))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        // Only safe ASCII or a UUID ever gets in, so this never falls back.
        self.0.to_str().unwrap_or_default()
    }

    /// The id of the request whose handling is in progress on this task, if any.
    pub fn current() -> Option<RequestId> {
        opentelemetry::Context::current().get::<RequestId>().cloned()
    }

    pub(crate) fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_safe_ids_and_replaces_others() {
        let keep = HeaderValue::from_static("abc-123_x.y:z/+=@");
        assert_eq!(RequestId::from_header_or_new(Some(&keep)).as_str(), "abc-123_x.y:z/+=@");
        for bad in ["", "has space", "quote\"", "semi;colon", &"x".repeat(129)] {
            let v = HeaderValue::from_str(bad).unwrap();
            let id = RequestId::from_header_or_new(Some(&v));
            assert_ne!(id.as_str(), bad);
            assert!(uuid::Uuid::parse_str(id.as_str()).is_ok(), "{bad:?} -> {}", id.as_str());
        }
        assert_eq!(
            RequestId::from_header_or_new(Some(&HeaderValue::from_str(&"x".repeat(128)).unwrap())).as_str().len(),
            128
        );
        assert!(uuid::Uuid::parse_str(RequestId::from_header_or_new(None).as_str()).is_ok());
    }
}

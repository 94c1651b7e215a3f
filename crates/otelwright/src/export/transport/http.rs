//! OTLP/HTTP with protobuf bodies: a POST of the encoded (and, with gzip, compressed) bytes through reqwest's async
//! client, with the TLS settings `tls.rs` gives the blocking client, the headers, and the export timeout per
//! request. A failed attempt keeps what the retry rules need: the status and `Retry-After`.

use bytes::Bytes;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use crate::config::{Compression, ResolvedOtlp};

/// The largest request body sent, before and after compression (opentelemetry-otlp's limit; the spec's
/// `protocol/exporter.md` suggests 64 MiB).
const MAX_REQUEST_BYTES: usize = 64 << 20;
/// The largest response body read (opentelemetry-http's limit).
const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// Why one attempt failed.
#[derive(Debug)]
pub(crate) struct HttpError {
    /// The response status; `None` when there was no response (refused, reset, timed out).
    pub(crate) status: Option<u16>,
    /// The `Retry-After` header of a 429 or 503.
    pub(crate) retry_after: Option<String>,
    pub(crate) message: String,
}

/// A client posting to one signal's URL.
#[derive(Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
}

impl Http {
    pub(crate) fn new(o: &ResolvedOtlp, client: reqwest::Client) -> Result<Http, String> {
        let url = reqwest::Url::parse(&o.endpoint).map_err(|e| format!("invalid endpoint {:?}: {e}", o.endpoint))?;
        let mut headers = HeaderMap::new();
        for (k, v) in &o.headers {
            // As for gRPC metadata: what cannot be a header is left out (the header parser warned).
            if let (Ok(k), Ok(v)) = (k.parse::<HeaderName>(), HeaderValue::from_str(v)) {
                headers.insert(k, v);
            }
        }
        // OTLP/HTTP (specification.md, "Binary Protobuf Encoding"): `Content-Type: application/x-protobuf`;
        // "the client MAY gzip the content and in that case MUST include Content-Encoding: gzip".
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        if o.compression == Compression::Gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(Http { client, url, headers })
    }

    /// The body for `encoded`: compressed when gzip is on. Refused when too large (not sent; counted as failed).
    pub(crate) fn body(&self, encoded: &[u8]) -> Result<Bytes, String> {
        let too_large = |what: &str, len: usize| {
            format!("the {what} request body is {len} bytes, over the {MAX_REQUEST_BYTES}-byte limit; not sent")
        };
        if encoded.len() > MAX_REQUEST_BYTES {
            return Err(too_large("uncompressed", encoded.len()));
        }
        if self.headers.get(CONTENT_ENCODING).is_none() {
            return Ok(Bytes::copy_from_slice(encoded));
        }
        use std::io::Write as _;
        let mut gz =
            flate2::write::GzEncoder::new(Vec::with_capacity(encoded.len() / 4), flate2::Compression::default());
        let compressed = gz.write_all(encoded).and_then(|()| gz.finish()).map_err(|e| format!("gzip: {e}"))?;
        if compressed.len() > MAX_REQUEST_BYTES {
            return Err(too_large("compressed", compressed.len()));
        }
        Ok(Bytes::from(compressed))
    }

    /// One attempt: the response body, or why it failed.
    pub(crate) async fn send(&self, body: Bytes) -> Result<Bytes, HttpError> {
        let no_response = |e: reqwest::Error| HttpError {
            status: None,
            retry_after: None,
            // Without the URL: it may carry credentials.
            message: format!("HTTP export failed: {}", super::error_chain(&e.without_url())),
        };
        let mut response = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
            .map_err(no_response)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
            // The body may echo secrets: only the status is kept.
            let message = format!("HTTP export failed with status code {}", status.as_u16());
            return Err(HttpError { status: Some(status.as_u16()), retry_after, message });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(no_response)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                // Not retried (the status is a success): the data arrived, its answer is just unreadable.
                return Err(HttpError {
                    status: Some(status.as_u16()),
                    retry_after: None,
                    message: format!("the response body is over {MAX_RESPONSE_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    }
}

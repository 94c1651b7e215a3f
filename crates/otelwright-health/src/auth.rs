//! The optional bearer token that guards `/api/v1/metrics`, `/metrics` and the per-check details of
//! `/health/ready`.
//!
//! The expected token is kept only as its SHA-256 digest. A request's `Authorization: Bearer <token>` value
//! (or an empty string when the header is missing or malformed) is hashed the same way and the two digests are
//! compared with an XOR fold over all 32 bytes, so the time taken depends neither on where the values differ
//! nor on their lengths.

use http::HeaderMap;
use http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};

/// The token the builder was given, if any (the environment is read by `otelwright::Config`, which passes
/// `OTELWRIGHT_METRICS_TOKEN` through `otelwright::Telemetry::health`).
#[derive(Debug, Clone, Default)]
pub(crate) enum TokenSetting {
    /// No token: the endpoints are open.
    #[default]
    Disabled,
    /// Set by the builder.
    Value(String),
}

impl TokenSetting {
    pub(crate) fn resolve(&self) -> Option<Token> {
        match self {
            TokenSetting::Value(v) => Token::new(v, "the builder"),
            TokenSetting::Disabled => None,
        }
    }
}

/// A bearer token, held as its digest.
#[derive(Clone)]
pub(crate) struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl Token {
    /// The token without surrounding whitespace (a trailing newline from a secret file is not part of it);
    /// `None`, with a warning that never shows the value, when nothing is left.
    fn new(value: &str, source: &str) -> Option<Token> {
        let value = value.trim();
        if value.is_empty() {
            tracing::warn!("the metrics token from {source} is empty; the metrics endpoints stay unprotected");
            return None;
        }
        Some(Token { digest: digest(value.as_bytes()) })
    }

    /// Whether `headers` carry `Authorization: Bearer <this token>`.
    pub(crate) fn verify(&self, headers: &HeaderMap) -> bool {
        let presented = bearer(headers).unwrap_or_default();
        let other = digest(presented);
        let diff = self.digest.iter().zip(other.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

/// The credentials of a single `Authorization: Bearer <credentials>` header (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next()?.as_bytes();
    if values.next().is_some() {
        return None;
    }
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || !rest.starts_with(b" ") {
        return None;
    }
    let credentials = rest.trim_ascii();
    (!credentials.is_empty()).then_some(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(AUTHORIZATION, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn accepts_only_the_exact_bearer_token() {
        let token = Token::new("s3cret", "test").unwrap();
        assert!(token.verify(&headers(Some("Bearer s3cret"))));
        assert!(token.verify(&headers(Some("bearer  s3cret "))));
        for wrong in [None, Some("Bearer s3cre"), Some("Bearer s3cret2"), Some("Basic s3cret"), Some("Bearers3cret")] {
            assert!(!token.verify(&headers(wrong)), "{wrong:?}");
        }
        assert!(!token.verify(&headers(Some("Bearer "))));
        let mut twice = headers(Some("Bearer s3cret"));
        twice.append(AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(!token.verify(&twice), "two Authorization headers are refused");
    }

    #[test]
    fn blank_tokens_are_refused() {
        assert!(Token::new("", "test").is_none());
        assert!(Token::new("  ", "test").is_none());
        let from_file = Token::new("s3cret\n", "test").unwrap();
        assert!(from_file.verify(&headers(Some("Bearer s3cret"))));
        assert!(format!("{:?}", Token::new("s3cret", "test").unwrap()).contains("redacted"));
    }
}

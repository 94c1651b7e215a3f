//! The OTLP retry rules, as opentelemetry-otlp 0.33 applies them (`retry.rs`, `retry_classification.rs`,
//! `retry_policy.rs`): which answers are retried, how long to wait, and when to give up. A retry resends the same
//! encoded bytes.
//!
//! OTLP specification (opentelemetry-proto `docs/specification.md`, "Failures" and "OTLP/HTTP Throttling";
//! opentelemetry-specification `protocol/exporter.md`, "Retry"): "Transient errors MUST be handled with a retry
//! strategy. This retry strategy MUST implement an exponential back-off with jitter to avoid overwhelming the
//! destination until the network is restored or the destination has recovered."

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// How an attempt's failure is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Not retried: the data is dropped (and counted as failed).
    Never,
    /// Retried after the exponential backoff.
    Backoff,
    /// Retried after at least this delay, which the server asked for (RetryInfo, Retry-After); the backoff
    /// continues from it.
    After(Duration),
}

/// The most a server-given delay is honoured (opentelemetry-otlp caps RetryInfo and Retry-After at 10 minutes).
const MAX_SERVER_DELAY: Duration = Duration::from_secs(600);
/// The longest one wait may last when the server asks for more than the policy's maximum (opentelemetry-otlp's
/// `MAX_THROTTLE_DURATION`); the export timeout bounds the whole anyway.
const MAX_THROTTLE: Duration = Duration::from_secs(30);

/// opentelemetry-otlp's `RetryPolicy::recommended()`: 3 retries, 100 ms doubling to at most 1.6 s, up to 100 ms
/// of jitter.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    pub(crate) max_retries: u32,
    pub(crate) initial_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) max_jitter: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_retries: 3,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1600),
            max_jitter: Duration::from_millis(100),
        }
    }
}

/// gRPC (specification.md, "OTLP/gRPC Response"): "The client SHOULD interpret gRPC status codes as retryable or
/// not-retryable": CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are retryable;
/// RESOURCE_EXHAUSTED only "if the server signals that a recovery from resource exhaustion is possible", which it
/// does with `google.rpc.RetryInfo`; every other code is not. "If the server includes RetryInfo ... the client
/// SHOULD honour the retry_delay" (UNAVAILABLE may carry one too).
pub(crate) fn classify_grpc(status: &tonic::Status) -> Retry {
    use tonic::Code;
    use tonic_types::StatusExt;
    let retry_delay = status.get_details_retry_info().and_then(|info| info.retry_delay);
    match status.code() {
        Code::ResourceExhausted => match retry_delay {
            Some(delay) => Retry::After(delay.min(MAX_SERVER_DELAY)),
            None => Retry::Never,
        },
        Code::Unavailable => match retry_delay.filter(|d| !d.is_zero()) {
            Some(delay) => Retry::After(delay.min(MAX_SERVER_DELAY)),
            None => Retry::Backoff,
        },
        Code::Cancelled | Code::DeadlineExceeded | Code::Aborted | Code::OutOfRange | Code::DataLoss => Retry::Backoff,
        _ => Retry::Never,
    }
}

/// HTTP (specification.md, "Failures" under OTLP/HTTP): "The requests that receive a response status code listed
/// in following table SHOULD be retried. All other 4xx or 5xx response status codes MUST NOT be retried": 429, 502,
/// 503, 504. "If the server ... responds with 429 or 503 ... it MAY include a Retry-After header"; "the client
/// SHOULD honour the waiting interval". `None` is a failure without a response (connection refused or reset,
/// timeout): "the client SHOULD retry ... with exponential backoff".
pub(crate) fn classify_http(status: Option<u16>, retry_after: Option<&str>) -> Retry {
    match status {
        None => Retry::Backoff,
        Some(429 | 503) => match retry_after.and_then(parse_retry_after) {
            Some(delay) => Retry::After(delay),
            None => Retry::Backoff,
        },
        Some(502 | 504) => Retry::Backoff,
        Some(_) => Retry::Never,
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), capped at 10 minutes.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(MAX_SERVER_DELAY));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    let delay = at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO);
    Some(Duration::from_secs(delay.as_secs()).min(MAX_SERVER_DELAY))
}

/// Random jitter in `[0, max]` at millisecond resolution.
fn jitter(max: Duration) -> Duration {
    let max_ms = max.as_millis().min(u64::MAX as u128) as u64;
    if max_ms == 0 {
        return Duration::ZERO;
    }
    // A randomly keyed hasher: random enough to spread retries, no extra dependency.
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    Duration::from_millis(random % (max_ms + 1))
}

/// Runs `attempt` until it succeeds, fails for good, runs out of retries, or the next wait would pass `budget`
/// (the export timeout) counted from the first attempt. Returns the last error.
pub(crate) async fn with_backoff<T, E, F, Fut>(
    policy: Policy,
    budget: Duration,
    classify: impl Fn(&E) -> Retry,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    let mut retries = 0;
    let mut delay = policy.initial_delay;
    // A server may ask for longer than the policy's maximum: waiting less would defeat its backpressure.
    let mut delay_cap = policy.max_delay;
    loop {
        let err = match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        if start.elapsed() >= budget || retries >= policy.max_retries {
            return Err(err);
        }
        match classify(&err) {
            Retry::Never => return Err(err),
            Retry::Backoff => {}
            Retry::After(server_delay) => {
                let server_delay = server_delay.min(MAX_THROTTLE);
                if server_delay > delay_cap {
                    delay_cap = MAX_THROTTLE;
                }
                delay = delay.max(server_delay);
            }
        }
        retries += 1;
        let wait = delay.saturating_add(jitter(policy.max_jitter)).min(delay_cap);
        if wait >= budget.saturating_sub(start.elapsed()) {
            return Err(err);
        }
        tokio::time::sleep(wait).await;
        delay = delay.saturating_mul(2).min(delay_cap);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use tonic_types::{ErrorDetails, StatusExt};

    use super::*;

    #[test]
    fn grpc_codes_follow_the_spec() {
        use tonic::{Code, Status};
        for code in [Code::Cancelled, Code::DeadlineExceeded, Code::Aborted, Code::OutOfRange, Code::Unavailable] {
            assert_eq!(classify_grpc(&Status::new(code, "")), Retry::Backoff, "{code:?}");
        }
        assert_eq!(classify_grpc(&Status::new(Code::DataLoss, "")), Retry::Backoff);
        for code in [
            Code::Unknown,
            Code::InvalidArgument,
            Code::NotFound,
            Code::AlreadyExists,
            Code::PermissionDenied,
            Code::FailedPrecondition,
            Code::Unimplemented,
            Code::Internal,
            Code::Unauthenticated,
            Code::ResourceExhausted,
        ] {
            assert_eq!(classify_grpc(&Status::new(code, "")), Retry::Never, "{code:?}");
        }
        let with = |code, d| Status::with_error_details(code, "", ErrorDetails::with_retry_info(Some(d)));
        let second = Duration::from_millis(1500);
        assert_eq!(classify_grpc(&with(Code::ResourceExhausted, second)), Retry::After(second));
        assert_eq!(classify_grpc(&with(Code::Unavailable, second)), Retry::After(second));
        assert_eq!(classify_grpc(&with(Code::Unavailable, Duration::ZERO)), Retry::Backoff);
        let hour = Duration::from_secs(3600);
        assert_eq!(classify_grpc(&with(Code::ResourceExhausted, hour)), Retry::After(MAX_SERVER_DELAY));
        assert!(with(Code::Unavailable, second).get_details_retry_info().is_some());
    }

    #[test]
    fn http_statuses_follow_the_spec() {
        assert_eq!(classify_http(None, None), Retry::Backoff);
        for status in [429, 503] {
            assert_eq!(classify_http(Some(status), Some("7")), Retry::After(Duration::from_secs(7)));
            assert_eq!(classify_http(Some(status), Some("soon")), Retry::Backoff);
            assert_eq!(classify_http(Some(status), None), Retry::Backoff);
            assert_eq!(classify_http(Some(status), Some("86400")), Retry::After(MAX_SERVER_DELAY));
        }
        assert_eq!(classify_http(Some(502), Some("7")), Retry::Backoff);
        assert_eq!(classify_http(Some(504), None), Retry::Backoff);
        for status in [400, 401, 403, 404, 408, 413, 500, 501, 505] {
            assert_eq!(classify_http(Some(status), Some("1")), Retry::Never, "{status}");
        }
        let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        match classify_http(Some(429), Some(&date)) {
            Retry::After(d) => assert!((29..=30).contains(&d.as_secs()), "{d:?}"),
            other => panic!("{other:?}"),
        }
    }

    /// Runs an operation that always fails, its failures classified as `retry`, with the default policy and
    /// `budget`: how many attempts it made. The result is always the failure.
    async fn attempts_to_fail(budget: Duration, retry: Retry) -> u32 {
        let attempts = AtomicU32::new(0);
        let result: Result<(), ()> = with_backoff(
            Policy::default(),
            budget,
            |_| retry,
            || {
                attempts.fetch_add(1, Ordering::Relaxed);
                async { Err(()) }
            },
        )
        .await;
        assert!(result.is_err());
        attempts.load(Ordering::Relaxed)
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_retries_three_times_then_gives_up() {
        assert_eq!(attempts_to_fail(Duration::from_secs(60), Retry::Backoff).await, 4, "one attempt and three retries");
    }

    #[tokio::test(start_paused = true)]
    async fn never_is_not_retried_and_success_ends_the_loop() {
        assert_eq!(attempts_to_fail(Duration::from_secs(60), Retry::Never).await, 1);
        let attempts = AtomicU32::new(0);
        let result = with_backoff(
            Policy::default(),
            Duration::from_secs(60),
            |_: &()| Retry::Backoff,
            || {
                let n = attempts.fetch_add(1, Ordering::Relaxed);
                async move { if n < 2 { Err(()) } else { Ok(n) } }
            },
        )
        .await;
        assert_eq!(result, Ok(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_delay_is_waited_for_and_the_budget_is_kept() {
        let start = tokio::time::Instant::now();
        let delay = Duration::from_secs(5);
        assert_eq!(attempts_to_fail(Duration::from_secs(60), Retry::After(delay)).await, 4);
        // 5 s, then doubling under the raised cap of 30 s: 10 s, 20 s (plus jitter).
        assert!(start.elapsed() >= Duration::from_secs(35), "{:?}", start.elapsed());
        // A wait that would pass the budget is not started: one attempt only.
        assert_eq!(attempts_to_fail(Duration::from_secs(1), Retry::After(delay)).await, 1);
    }
}

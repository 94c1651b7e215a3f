//! Runs every registered check at once — each on its own tokio task, each under its own timeout — and collects
//! a [`ReadyReport`]. A check that panics or times out is a failed check; the tasks are aborted if the caller
//! goes away (a probe that hung up does not leave checks running).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::Check;

/// A check with its name and timeout.
#[derive(Clone)]
pub(crate) struct RegisteredCheck {
    pub(crate) name: Arc<str>,
    pub(crate) timeout: Duration,
    pub(crate) check: Arc<dyn Check>,
    /// Whether a failure makes the service not ready (otherwise only degraded).
    pub(crate) critical: bool,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The name it was registered under.
    pub name: Arc<str>,
    /// `None` when the check passed; the failure (error, timeout or panic) otherwise.
    pub error: Option<String>,
    /// How long it ran (up to its timeout).
    pub duration: Duration,
    /// Whether its failure makes the service not ready; a non-critical failure only makes it degraded.
    pub critical: bool,
}

impl CheckResult {
    /// Whether the check passed.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// The outcome of one readiness evaluation: ready when every critical check passed, degraded when a non-critical
/// one failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyReport {
    /// Every check, in registration order.
    pub checks: Vec<CheckResult>,
}

impl ReadyReport {
    /// Whether every critical check passed (also when there are none).
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|c| c.is_ok() || !c.critical)
    }

    /// Ready, but a non-critical check failed: the service serves with less (a cache, a secondary store).
    pub fn is_degraded(&self) -> bool {
        self.is_ready() && self.failures().next().is_some()
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.is_ok())
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type Outcome = (Result<(), String>, Duration);

/// Runs `checks` concurrently and waits for all of them (each at most its timeout).
pub(crate) async fn run_all(checks: &[RegisteredCheck]) -> ReadyReport {
    let started = Instant::now();
    let tasks: Vec<AbortOnDrop<Outcome>> = checks
        .iter()
        .map(|c| {
            let (check, timeout) = (c.check.clone(), c.timeout);
            AbortOnDrop(tokio::spawn(async move {
                let start = Instant::now();
                let result = match tokio::time::timeout(timeout, check.run()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("timed out after {}", describe(timeout))),
                };
                (result, start.elapsed())
            }))
        })
        .collect();
    let mut results = Vec::with_capacity(checks.len());
    for (c, mut task) in checks.iter().zip(tasks) {
        let (result, duration) = match (&mut task.0).await {
            Ok(outcome) => outcome,
            Err(e) if e.is_panic() => (Err(format!("panicked: {}", panic_message(e.into_panic()))), started.elapsed()),
            Err(_) => (Err("cancelled".to_owned()), started.elapsed()),
        };
        if let Err(error) = &result {
            tracing::debug!(check = %c.name, %error, "readiness check failed");
        }
        results.push(CheckResult { name: c.name.clone(), error: result.err(), duration, critical: c.critical });
    }
    ReadyReport { checks: results }
}

fn describe(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckError;

    fn registered(name: &str, timeout: Duration, check: impl Check) -> RegisteredCheck {
        RegisteredCheck { name: Arc::from(name), timeout, check: Arc::new(check), critical: true }
    }

    #[tokio::test]
    async fn checks_run_concurrently_and_failures_are_reported() {
        // Both must be waiting at the barrier at the same time to pass it: sequential runs would time out.
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let meet = move || {
            let barrier = barrier.clone();
            async move {
                barrier.wait().await;
                Ok::<(), CheckError>(())
            }
        };
        let checks = [
            registered("a", Duration::from_secs(5), meet.clone()),
            registered("b", Duration::from_secs(5), meet),
            registered("bad", Duration::from_secs(5), || async { Err::<(), _>("broken") }),
            registered("hang", Duration::from_millis(100), std::future::pending::<Result<(), String>>),
            registered("panic", Duration::from_secs(5), || async {
                if true {
                    panic!("boom");
                }
                Ok::<(), String>(())
            }),
        ];
        let report = tokio::time::timeout(Duration::from_secs(10), run_all(&checks)).await.unwrap();
        assert!(!report.is_ready());
        let errors: Vec<_> = report.checks.iter().map(|c| (&*c.name, c.error.as_deref())).collect();
        assert_eq!(
            errors,
            [
                ("a", None),
                ("b", None),
                ("bad", Some("broken")),
                ("hang", Some("timed out after 100 ms")),
                ("panic", Some("panicked: boom"))
            ]
        );
        assert!(report.checks[3].duration >= Duration::from_millis(100));
        assert_eq!(report.failures().count(), 3);
    }

    #[tokio::test]
    async fn no_checks_is_ready() {
        assert!(run_all(&[]).await.is_ready());
    }
}

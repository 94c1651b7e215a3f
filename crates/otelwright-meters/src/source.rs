//! Failure isolation for measurement sources: [`SourceError`], the per-source report-once log, and panic capture.
//!
//! Every pool, cache and resource source is read through a [`SourceGuard`]. A source that returns an error is
//! logged once (and once more when it recovers); a source that panics is logged once and quarantined, so the
//! panic hook does not fire on every collection. Other sources and instruments are never affected.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, Ordering};

/// Why a source could not give a value this time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The source has no value yet (for example a poller before its first answer). Not logged.
    #[error("no value yet")]
    NotReady,
    /// The source failed; the message is logged once.
    #[error("{0}")]
    Failed(String),
}

impl SourceError {
    /// A [`SourceError::Failed`] from anything printable.
    pub fn failed(message: impl fmt::Display) -> Self {
        SourceError::Failed(message.to_string())
    }
}

const HEALTHY: u8 = 0;
const FAILING: u8 = 1;
const QUARANTINED: u8 = 2;

/// Tracks one source's health so failures are logged once, not once per collection.
#[derive(Debug, Default)]
pub(crate) struct SourceGuard {
    state: AtomicU8,
}

impl SourceGuard {
    /// Runs `read`, returning its value, or `None` when it failed, panicked or was quarantined earlier.
    /// `kind` and `name` identify the source in the log.
    pub(crate) fn read<T>(&self, kind: &str, name: &str, read: impl FnOnce() -> Result<T, SourceError>) -> Option<T> {
        if self.state.load(Ordering::Relaxed) == QUARANTINED {
            return None;
        }
        match catch_unwind(AssertUnwindSafe(read)) {
            Ok(Ok(value)) => {
                if self.state.swap(HEALTHY, Ordering::Relaxed) == FAILING {
                    tracing::info!(target: "otelwright_meters", source_kind = kind, source_name = name, "meter source recovered");
                }
                Some(value)
            }
            Ok(Err(SourceError::NotReady)) => None,
            Ok(Err(SourceError::Failed(error))) => {
                if self.state.swap(FAILING, Ordering::Relaxed) == HEALTHY {
                    tracing::warn!(
                        target: "otelwright_meters",
                        source_kind = kind,
                        source_name = name,
                        error = %error,
                        "meter source failed; its instruments are skipped until it recovers"
                    );
                }
                None
            }
            Err(panic) => {
                self.state.store(QUARANTINED, Ordering::Relaxed);
                tracing::error!(
                    target: "otelwright_meters",
                    source_kind = kind,
                    source_name = name,
                    panic = %panic_message(&panic),
                    "meter source panicked; it is no longer read"
                );
                None
            }
        }
    }

    /// Whether the source panicked and is no longer read.
    #[cfg(test)]
    pub(crate) fn is_quarantined(&self) -> bool {
        self.state.load(Ordering::Relaxed) == QUARANTINED
    }
}

/// The message of a caught panic payload.
pub(crate) fn panic_message(panic: &Box<dyn Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_skip_and_recover() {
        let guard = SourceGuard::default();
        assert_eq!(guard.read("pool", "p", || Ok(3)), Some(3));
        assert_eq!(guard.read::<u32>("pool", "p", || Err(SourceError::failed("down"))), None);
        assert_eq!(guard.read::<u32>("pool", "p", || Err(SourceError::failed("down"))), None);
        assert_eq!(guard.read::<u32>("pool", "p", || Err(SourceError::NotReady)), None);
        assert_eq!(guard.read("pool", "p", || Ok(4)), Some(4));
    }

    #[test]
    fn panics_quarantine_the_source() {
        let guard = SourceGuard::default();
        assert_eq!(guard.read::<u32>("cache", "c", || panic!("boom")), None);
        assert!(guard.is_quarantined());
        assert_eq!(guard.read("cache", "c", || Ok(1)), None, "a quarantined source is not read again");
    }
}

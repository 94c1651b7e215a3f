//! [`Guard`]: started when a measured call starts, it records `function.calls` and `function.calls.duration`
//! when the call ends: `finish` with the call's value, or `Drop` when the call panicked or its future was dropped.
//! For an `in_flight` site it also keeps `function.calls.active` (+1 at the start, -1 at the end).

use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::metrics::BoundUpDownCounter;

use super::site::{Ending, Site};

/// One measured call in progress. `N` is the number of declared attributes evaluated from the arguments.
#[derive(Debug)]
#[must_use = "a guard records when it is finished or dropped"]
pub struct Guard<const N: usize> {
    site: &'static Site,
    start: Instant,
    /// `None` once recorded.
    dynamic: Option<[KeyValue; N]>,
    /// `function.calls.active`, incremented at the start of an `in_flight` site's call.
    active: Option<&'static BoundUpDownCounter<i64>>,
}

impl<const N: usize> Guard<N> {
    /// Starts the clock for a call of `site`, with the declared attributes evaluated from its arguments.
    #[inline]
    pub fn start(site: &'static Site, dynamic: [KeyValue; N]) -> Self {
        let active = site.enter();
        Guard { site, start: Instant::now(), dynamic: Some(dynamic), active }
    }

    /// Records the call as completed: `error` is the error type name when the value is an error.
    #[inline]
    pub fn finish(mut self, error: Option<&'static str>) {
        let ending = match error {
            None => Ending::Ok,
            Some(type_name) => Ending::Error(type_name),
        };
        self.record(ending);
    }

    #[inline]
    fn record(&mut self, ending: Ending) {
        let Some(dynamic) = self.dynamic.take() else { return };
        if let Some(active) = self.active {
            active.add(-1);
        }
        let seconds = self.start.elapsed().as_secs_f64();
        if N == 0 {
            self.site.record(ending, seconds);
        } else {
            self.site.record_with(ending, seconds, dynamic);
        }
    }
}

impl<const N: usize> Drop for Guard<N> {
    /// Not finished: the call panicked (the panic goes on unwinding) or its future was dropped before completing.
    fn drop(&mut self) {
        if self.dynamic.is_some() {
            let ending = if std::thread::panicking() { Ending::Panicked } else { Ending::Cancelled };
            self.record(ending);
        }
    }
}

//! [`SessionMeter`]: application sessions that outlive a request — a conversation, a call, a game — counted while
//! open (`session.active`) and timed when they end (`session.duration`), through a [`SessionGuard`] that records on
//! drop, so a session that ends by an early return, an error or a panic is still counted out.
//!
//! The semantic conventions define `session.id` (a client-side attribute) but no session metrics; both names are
//! otelwright's own. Give each kind of session its own meter with a low-cardinality attribute, never a session id.
//!
//! ```
//! use opentelemetry::KeyValue;
//! use otelwright_meters::SessionMeter;
//! # let meter = opentelemetry::global::meter("doc");
//! let conversations = SessionMeter::with_attributes(&meter, [KeyValue::new("session.kind", "conversation")]);
//! {
//!     let _session = conversations.start();
//!     assert_eq!(conversations.active(), 1);
//!     // ... requests and WebSocket messages of this conversation ...
//! } // dropped: out of session.active, into session.duration
//! assert_eq!(conversations.active(), 0);
//! ```

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter, UpDownCounter};

use crate::names::{attr, session};

/// Counts and times one kind of session. Cheap to clone (clones share the count).
#[derive(Clone, Debug)]
pub struct SessionMeter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    active: UpDownCounter<i64>,
    duration: Histogram<f64>,
    /// Built once; every recording reuses it.
    attributes: Vec<KeyValue>,
    /// Sessions open now, for a health body or a snapshot.
    open: AtomicI64,
}

impl SessionMeter {
    /// Sessions without attributes.
    pub fn new(meter: &Meter) -> Self {
        SessionMeter::with_attributes(meter, [])
    }

    /// Sessions carrying `attributes` on both instruments (keep them low-cardinality).
    pub fn with_attributes(meter: &Meter, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        SessionMeter {
            inner: Arc::new(Inner {
                active: meter
                    .i64_up_down_counter(session::ACTIVE)
                    .with_unit("{session}")
                    .with_description("Number of open application sessions.")
                    .build(),
                duration: meter
                    .f64_histogram(session::DURATION)
                    .with_unit("s")
                    .with_description("Duration of application sessions.")
                    .with_boundaries(otelwright_core::buckets::LONG_DURATION.to_vec())
                    .build(),
                attributes: attributes.into_iter().collect(),
                open: AtomicI64::new(0),
            }),
        }
    }

    /// A session starts now; it ends when the guard is dropped.
    pub fn start(&self) -> SessionGuard {
        self.inner.open.fetch_add(1, Ordering::Relaxed);
        self.inner.active.add(1, &self.inner.attributes);
        SessionGuard { meter: self.clone(), start: Instant::now(), error: None }
    }

    /// Sessions of this meter (and its clones) open now.
    pub fn active(&self) -> i64 {
        self.inner.open.load(Ordering::Relaxed)
    }
}

/// One open session. Dropping it ends the session: `session.active` goes down and `session.duration` records how
/// long it lasted (with `error.type` when [`SessionGuard::fail`] was called).
#[derive(Debug)]
#[must_use = "the session ends when the guard is dropped"]
pub struct SessionGuard {
    meter: SessionMeter,
    start: Instant,
    error: Option<Cow<'static, str>>,
}

impl SessionGuard {
    /// The session ended in failure: its duration carries `error.type` (low-cardinality, such as `timeout`).
    pub fn fail(&mut self, error_type: impl Into<Cow<'static, str>>) {
        self.error = Some(error_type.into());
    }

    /// How long the session has been open.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let inner = &self.meter.inner;
        inner.open.fetch_sub(1, Ordering::Relaxed);
        inner.active.add(-1, &inner.attributes);
        let secs = self.start.elapsed().as_secs_f64();
        match self.error.take() {
            None => inner.duration.record(secs, &inner.attributes),
            Some(e) => {
                let mut attrs = inner.attributes.clone();
                attrs.push(KeyValue::new(attr::ERROR_TYPE, e));
                inner.duration.record(secs, &attrs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;

    use super::SessionMeter;
    use crate::names::session;
    use crate::testing::Collector;

    #[test]
    fn guards_count_sessions_in_and_out_and_time_them() {
        let c = Collector::new();
        let voice = SessionMeter::with_attributes(&c.meter(), [KeyValue::new("session.kind", "voice")]);
        let first = voice.start();
        let mut second = voice.clone().start();
        assert_eq!(voice.active(), 2);
        let open = c.collect();
        let active = open.iter().find(|p| p.name == session::ACTIVE).expect("active");
        assert_eq!(
            (active.value, active.unit.as_str(), active.attr("session.kind")),
            (2.0, "{session}", Some("voice"))
        );
        assert!(open.iter().all(|p| p.name != session::DURATION), "nothing has ended yet");

        drop(first);
        second.fail("timeout");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _third = voice.start();
            panic!("the session's task failed");
        }));
        assert!(panicked.is_err());
        drop(second);
        assert_eq!(voice.active(), 0);

        let ended = c.collect();
        let active = ended.iter().find(|p| p.name == session::ACTIVE).expect("active");
        assert_eq!(active.value, 0.0, "every guard counted out, the panicking one too");
        let durations: Vec<_> = ended.iter().filter(|p| p.name == session::DURATION).collect();
        let ok = durations.iter().find(|p| p.attr("error.type").is_none()).expect("ok");
        assert_eq!((ok.count, ok.unit.as_str(), ok.attr("session.kind")), (2, "s", Some("voice")));
        let failed = durations.iter().find(|p| p.attr("error.type") == Some("timeout")).expect("failed");
        assert_eq!(failed.count, 1);
    }
}

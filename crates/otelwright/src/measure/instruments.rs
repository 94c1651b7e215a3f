//! The `function.calls` counter and `function.calls.duration` histogram, created once per meter provider, and
//! [`Outcomes`]: per measured function, the instruments bound to each outcome's attribute set, so that a call
//! records without the SDK hashing and looking up its attributes (about 25 ns instead of about 190 ns).

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{BoundCounter, BoundHistogram, BoundUpDownCounter, Counter, Histogram, UpDownCounter};

use super::generation::PerProvider;
use super::{DURATION_BUCKETS, FUNCTION_CALLS, FUNCTION_CALLS_ACTIVE, FUNCTION_CALLS_DURATION};

/// The two instruments every measured function records into, and the in-flight counter of `in_flight` ones.
pub(crate) struct FunctionInstruments {
    pub(crate) calls: Counter<u64>,
    pub(crate) duration: Histogram<f64>,
    pub(crate) active: UpDownCounter<i64>,
}

impl FunctionInstruments {
    /// Records a call whose attributes are not known in advance (declared attributes from the arguments).
    pub(crate) fn record(&self, seconds: f64, attributes: &[KeyValue]) {
        self.calls.add(1, attributes);
        self.duration.record(seconds, attributes);
    }
}

static INSTRUMENTS: PerProvider<FunctionInstruments> = PerProvider::new();

/// The instruments of the current global meter provider.
pub(crate) fn instruments() -> &'static FunctionInstruments {
    INSTRUMENTS.get(|| {
        let meter = super::meter();
        FunctionInstruments {
            calls: meter
                .u64_counter(FUNCTION_CALLS)
                .with_unit("{call}")
                .with_description("Calls of functions measured with #[measured], by outcome.")
                .build(),
            duration: meter
                .f64_histogram(FUNCTION_CALLS_DURATION)
                .with_unit("s")
                .with_description("Duration of calls of functions measured with #[measured].")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            active: meter
                .i64_up_down_counter(FUNCTION_CALLS_ACTIVE)
                .with_unit("{call}")
                .with_description("Calls in progress of functions measured with #[measured(in_flight)].")
                .build(),
        }
    })
}

/// Both instruments bound to one attribute set.
pub(crate) struct Bound {
    calls: BoundCounter<u64>,
    duration: BoundHistogram<f64>,
}

impl Bound {
    fn new(attributes: &[KeyValue]) -> Self {
        let instruments = instruments();
        Bound { calls: instruments.calls.bind(attributes), duration: instruments.duration.bind(attributes) }
    }

    #[inline]
    pub(crate) fn record(&self, seconds: f64) {
        self.calls.add(1);
        self.duration.record(seconds);
    }
}

/// One function's bound instruments for one provider, bound on the first call with each outcome (so an outcome
/// that never happens exports no point).
pub(crate) struct Outcomes {
    pub(crate) ok: OnceLock<Bound>,
    pub(crate) cancelled: OnceLock<Bound>,
    pub(crate) panicked: OnceLock<Bound>,
    /// For the error type the site caches (the first one seen).
    pub(crate) error: OnceLock<Bound>,
    /// `function.calls.active`, for `in_flight` sites.
    pub(crate) active: OnceLock<BoundUpDownCounter<i64>>,
}

impl Outcomes {
    pub(crate) const fn new() -> Self {
        Outcomes {
            ok: OnceLock::new(),
            cancelled: OnceLock::new(),
            panicked: OnceLock::new(),
            error: OnceLock::new(),
            active: OnceLock::new(),
        }
    }
}

/// The handle in `cell`, bound to `attributes` on first use.
#[inline]
pub(crate) fn bound<'a>(cell: &'a OnceLock<Bound>, attributes: &[KeyValue]) -> &'a Bound {
    cell.get_or_init(|| Bound::new(attributes))
}

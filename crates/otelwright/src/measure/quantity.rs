//! Running totals of business quantities that are not durations (tokens, cost, items): [`Quantity`], a typed
//! counter you keep in a `static`, and [`record!`](crate::record), the same from one line at the call site.

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Meter};

use super::generation::PerProvider;

mod sealed {
    pub trait Sealed {}
    impl Sealed for u64 {}
    impl Sealed for f64 {}
}

/// The number types a [`Quantity`] counts in: `u64` (tokens, items) and `f64` (cost, bytes as a fraction).
pub trait QuantityNumber: sealed::Sealed + Copy + Send + Sync + 'static {
    #[doc(hidden)]
    fn counter(meter: &Meter, name: &'static str, unit: &'static str, description: &'static str) -> Counter<Self>;
}

impl QuantityNumber for u64 {
    fn counter(meter: &Meter, name: &'static str, unit: &'static str, description: &'static str) -> Counter<Self> {
        let builder = meter.u64_counter(name).with_unit(unit);
        if description.is_empty() { builder.build() } else { builder.with_description(description).build() }
    }
}

impl QuantityNumber for f64 {
    fn counter(meter: &Meter, name: &'static str, unit: &'static str, description: &'static str) -> Counter<Self> {
        let builder = meter.f64_counter(name).with_unit(unit);
        if description.is_empty() { builder.build() } else { builder.with_description(description).build() }
    }
}

/// A monotonic counter of a business quantity with a unit (UCUM: `{token}`, `USD`, `By`), created on first use
/// from the global meter provider (re-created when [`crate::init`] replaces it). Declare it as a `static`.
///
/// ```
/// use opentelemetry::KeyValue;
/// use otelwright::measure::Quantity;
///
/// static TOKENS: Quantity<u64> = Quantity::new("llm.tokens", "{token}");
/// static COST: Quantity<f64> = Quantity::with_description("llm.cost", "USD", "Money spent on LLM calls.");
///
/// fn on_completion(model: &'static str, prompt_tokens: u64, completion_tokens: u64) {
///     let model = KeyValue::new("model", model);
///     TOKENS.add(prompt_tokens, &[model.clone(), KeyValue::new("direction", "input")]);
///     TOKENS.add(completion_tokens, &[model.clone(), KeyValue::new("direction", "output")]);
///     // 3 USD per million input tokens, 15 per million output tokens
///     COST.add((prompt_tokens as f64 * 3.0 + completion_tokens as f64 * 15.0) / 1e6, &[model]);
/// }
/// # on_completion("gpt-x", 1200, 300);
/// ```
#[derive(Debug)]
pub struct Quantity<T: QuantityNumber> {
    name: &'static str,
    unit: &'static str,
    description: &'static str,
    counters: PerProvider<Counter<T>>,
}

impl<T: QuantityNumber> Quantity<T> {
    /// A counter named `name` (dot-separated, like `llm.tokens`) counting in `unit`.
    pub const fn new(name: &'static str, unit: &'static str) -> Self {
        Self::with_description(name, unit, "")
    }

    /// As [`Quantity::new`], with the description exported with the metric.
    pub const fn with_description(name: &'static str, unit: &'static str, description: &'static str) -> Self {
        Quantity { name, unit, description, counters: PerProvider::new() }
    }

    /// Adds `value` with these attributes. Keep the attributes low-cardinality.
    #[inline]
    pub fn add(&self, value: T, attributes: &[KeyValue]) {
        self.counter().add(value, attributes);
    }

    fn counter(&self) -> &Counter<T> {
        self.counters.get(|| T::counter(&super::meter(), self.name, self.unit, self.description))
    }
}

/// What [`record!`](crate::record) accepts as the amount: unsigned integers count in a `u64` counter, floats in
/// an `f64` counter. Signed integers are accepted so that an untyped literal works; a negative amount is
/// ignored, as a counter only goes up.
pub trait Amount {
    #[doc(hidden)]
    fn __record(self, site: &RecordSite, attributes: &[KeyValue]);
}

macro_rules! unsigned_amounts {
    ($($t:ty),*) => {$(
        impl Amount for $t {
            #[inline]
            fn __record(self, site: &RecordSite, attributes: &[KeyValue]) {
                site.integers.add(u64::try_from(self).unwrap_or(u64::MAX), attributes);
            }
        }
    )*};
}
unsigned_amounts!(u8, u16, u32, u64, usize);

macro_rules! signed_amounts {
    ($($t:ty),*) => {$(
        impl Amount for $t {
            #[inline]
            fn __record(self, site: &RecordSite, attributes: &[KeyValue]) {
                if let Ok(value) = u64::try_from(self) {
                    site.integers.add(value, attributes);
                }
            }
        }
    )*};
}
signed_amounts!(i8, i16, i32, i64, isize);

impl Amount for f64 {
    #[inline]
    fn __record(self, site: &RecordSite, attributes: &[KeyValue]) {
        site.floats.add(self, attributes);
    }
}

impl Amount for f32 {
    #[inline]
    fn __record(self, site: &RecordSite, attributes: &[KeyValue]) {
        site.floats.add(f64::from(self), attributes);
    }
}

/// The `static` behind one [`record!`](crate::record) call site: an integer and a float [`Quantity`] of the same
/// name, of which only the one matching the amount's type is ever created.
#[derive(Debug)]
pub struct RecordSite {
    integers: Quantity<u64>,
    floats: Quantity<f64>,
}

impl RecordSite {
    /// The call site's metric name and unit.
    pub const fn new(name: &'static str, unit: &'static str) -> Self {
        RecordSite { integers: Quantity::new(name, unit), floats: Quantity::new(name, unit) }
    }
}

/// Adds an amount of a business quantity to a counter: `record!(name, amount, unit = "...", key = value, ...)`.
///
/// - `name`: a string literal, the metric name (`llm.tokens`).
/// - `amount`: an unsigned integer (a `u64` counter) or a float (an `f64` counter); untyped integer literals work.
/// - `unit = "..."` (optional, right after the amount): a UCUM unit such as `{token}` or `USD`.
/// - `key = value`: attributes; the key is an identifier or a string literal (`"gen_ai.request.model"`), the
///   value anything `opentelemetry::Value` converts from (`&'static str`, `String`, `i64`, `f64`, `bool`).
///   An attribute named `unit` needs the string form, `"unit" = ...`.
///
/// The counter is created once per call site (a `static`) from the global meter provider. Use one type and
/// one unit per metric name across call sites, or the SDK reports a conflict.
///
/// ```
/// fn llm_call_done(model: &'static str, prompt_tokens: u32, completion_tokens: u32, usd: f64) {
///     otelwright::record!("llm.tokens", prompt_tokens, unit = "{token}", model = model, direction = "input");
///     otelwright::record!("llm.tokens", completion_tokens, unit = "{token}", model = model, direction = "output");
///     otelwright::record!("llm.cost", usd, unit = "USD", "gen_ai.request.model" = model);
///     otelwright::record!("agent.steps", 1);
/// }
/// # llm_call_done("gpt-x", 1200, 300, 0.0081);
/// ```
#[macro_export]
macro_rules! record {
    (@key $key:ident) => { ::core::stringify!($key) };
    (@key $key:literal) => { $key };
    ($name:literal, $amount:expr, unit = $unit:literal $(, $key:tt = $value:expr)* $(,)?) => {{
        static __OTELWRIGHT_RECORD: $crate::__private::RecordSite = $crate::__private::RecordSite::new($name, $unit);
        $crate::__private::Amount::__record(
            $amount,
            &__OTELWRIGHT_RECORD,
            &[$($crate::__private::KeyValue::new($crate::record!(@key $key), $value)),*],
        )
    }};
    ($name:literal, $amount:expr $(, $key:tt = $value:expr)* $(,)?) => {{
        static __OTELWRIGHT_RECORD: $crate::__private::RecordSite = $crate::__private::RecordSite::new($name, "");
        $crate::__private::Amount::__record(
            $amount,
            &__OTELWRIGHT_RECORD,
            &[$($crate::__private::KeyValue::new($crate::record!(@key $key), $value)),*],
        )
    }};
}

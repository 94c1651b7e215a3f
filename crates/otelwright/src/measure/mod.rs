//! Rate, errors and duration of your own functions, and running totals of business quantities.
//!
//! [`#[measured]`](crate::measured) turns a function (sync or async, free or a method, including `async fn` in
//! trait impls) into two metrics, recorded through the global meter provider that [`crate::init`] installs:
//!
//! | Instrument | Name | Unit | Attributes |
//! |---|---|---|---|
//! | counter | `function.calls` | `{call}` | `code.function.name`, `outcome`, `error.type`, `function.name`, declared |
//! | histogram | `function.calls.duration` | `s` | the same |
//! | up-down counter, with `#[measured(in_flight)]` | `function.calls.active` | `{call}` | `code.function.name`, `function.name`, literal declared attributes |
//!
//! - `code.function.name` is the fully qualified path of the function (`shop::agent::Agent::run`,
//!   `<shop::Agent as shop::Tool>::call` for a trait impl).
//! - `outcome` is `ok`, `error` (a `Result::Err`, or a panic), or `cancelled` (an async call whose future was
//!   dropped before it completed).
//! - `error.type` is present on errors only: the full type name of the `Err` value's type
//!   (`std::io::error::Error`, `shop::AgentError`), or `panic`.
//! - `function.name` is present when the attribute declares `name = "..."`; it also names the `span`.
//! - Declared `attributes(...)` are added as they are: keep them low-cardinality (a model name, a tenant tier),
//!   never an id that grows without bound.
//!
//! ```
//! use otelwright::measured;
//!
//! #[derive(Debug)]
//! struct LlmError;
//!
//! struct Agent {
//!     kind: &'static str,
//! }
//!
//! impl Agent {
//!     #[measured(name = "agent.run", span, attributes(agent.kind = self.kind, tier = "free"))]
//!     async fn run(&self, prompt: &str) -> Result<usize, LlmError> {
//!         if prompt.is_empty() { Err(LlmError) } else { Ok(prompt.len()) }
//!     }
//! }
//!
//! #[measured]
//! fn parse_plan(text: &str) -> Option<usize> {
//!     text.find("plan")
//! }
//! # let _ = (Agent { kind: "planner" }.run("hi"), parse_plan("a plan"));
//! ```
//!
//! For values that are not durations, [`record!`](crate::record) adds to a counter with a unit, and
//! [`Quantity`] is the same as a typed `static`:
//!
//! ```
//! use otelwright::measure::Quantity;
//! use opentelemetry::KeyValue;
//!
//! static COST: Quantity<f64> = Quantity::with_description("llm.cost", "USD", "Money spent on LLM calls.");
//!
//! fn after_llm_call(model: &'static str, input_tokens: u64, output_tokens: u64, usd: f64) {
//!     otelwright::record!("llm.tokens", input_tokens, unit = "{token}", model = model, direction = "input");
//!     otelwright::record!("llm.tokens", output_tokens, unit = "{token}", model = model, direction = "output");
//!     COST.add(usd, &[KeyValue::new("model", model)]);
//! }
//! # after_llm_call("gpt-x", 120, 30, 0.0021);
//! ```
//!
//! # The global meter provider
//!
//! Instruments are created once (not per call), from the global meter provider at the time of the first call.
//! [`crate::init`] tells this module when it installs or removes a provider; code that sets the global provider
//! itself calls [`set_global_meter_provider`] (or [`global_meter_provider_changed`] after
//! `opentelemetry::global::set_meter_provider`), and the next call re-creates the instruments from the new
//! provider. Without that, the instruments keep recording into the provider they were created from.

mod attribute;
mod generation;
mod guard;
mod instruments;
mod outcome;
mod quantity;
mod site;

#[doc(hidden)]
pub mod __private;

pub use attribute::AttributeValue;
pub use generation::{global_meter_provider_changed, set_global_meter_provider};
pub use outcome::MeasuredOutcome;
pub use quantity::{Amount, Quantity, QuantityNumber};

/// The counter `#[measured]` records: one per completed, failed or cancelled call.
pub const FUNCTION_CALLS: &str = otelwright_core::metric::function::CALLS;
/// The histogram `#[measured]` records: the duration of each call, in seconds.
pub const FUNCTION_CALLS_DURATION: &str = otelwright_core::metric::function::CALLS_DURATION;
/// Calls in progress of functions measured with `#[measured(in_flight)]`.
pub const FUNCTION_CALLS_ACTIVE: &str = otelwright_core::metric::function::CALLS_ACTIVE;
/// Attribute: the fully qualified path of the measured function (semantic conventions).
pub const CODE_FUNCTION_NAME: &str = "code.function.name";
/// Attribute: `ok`, `error` or `cancelled`.
pub const OUTCOME: &str = "outcome";
/// Attribute: the error's type name, or `panic` (semantic conventions).
pub const ERROR_TYPE: &str = "error.type";
/// Attribute: the `name = "..."` given to `#[measured]`.
pub const FUNCTION_NAME: &str = "function.name";
/// The bucket boundaries of `function.calls.duration`, in seconds (the HTTP duration buckets).
pub use otelwright_core::buckets::DURATION as DURATION_BUCKETS;

/// The instrumentation scope of every instrument this module creates.
fn meter() -> opentelemetry::metrics::Meter {
    opentelemetry::global::meter_with_scope(
        opentelemetry::InstrumentationScope::builder("otelwright").with_version(env!("CARGO_PKG_VERSION")).build(),
    )
}

//! `#[measured]`: rate, errors and duration of a function as OpenTelemetry metrics. Use it through the
//! `otelwright` crate (`otelwright::measured`), which holds the runtime the expansion calls; the metric names,
//! attributes and the `record!` helper are documented in `otelwright::measure`.

mod args;
mod expand;
mod item;

use proc_macro::TokenStream;

/// Records a `function.calls` counter and a `function.calls.duration` histogram (seconds) for every call of the
/// function, with `code.function.name` (the function's full path), `outcome` (`ok`, `error`, `cancelled`),
/// `error.type` (on errors: the `Err` type's name, or `panic`) and the declared attributes.
///
/// Works on sync and `async` functions and methods (including `async fn` in trait impls and trait methods with
/// a default body) and on sync functions returning `impl Future` (measured until the future completes).
///
/// Options, all optional and comma-separated:
/// - `name = "agent.run"`: adds the attribute `function.name = "agent.run"` and names the span;
/// - `span`: runs the call inside `tracing::info_span!(name)` (the function's name by default) with the field
///   `code.function.name` and the declared attributes;
/// - `in_flight`: also keeps `function.calls.active`, an up-down counter of the calls in progress (+1 when a call
///   starts, -1 when it ends however it ends), with `code.function.name`, `function.name` and the literal
///   attributes (not the ones evaluated from arguments, so that every +1 meets its -1 in one series);
/// - `attributes(key = value, ...)`: extra attributes. Keys are identifiers, dotted identifiers (`agent.kind`) or
///   string literals; values are literals (computed once) or expressions over the arguments, evaluated by
///   reference at the start of each call (see `otelwright::measure::AttributeValue`). Keep them low-cardinality.
///
/// ```
/// use otelwright::measured;
///
/// #[derive(Debug)]
/// struct AgentError;
///
/// struct Agent {
///     kind: &'static str,
/// }
///
/// impl Agent {
///     // function.calls{code.function.name="my_crate::Agent::run", function.name="agent.run",
///     //                outcome="ok"|"error"|"cancelled", error.type="my_crate::AgentError", agent.kind="planner"}
///     #[measured(name = "agent.run", span, attributes(agent.kind = self.kind))]
///     async fn run(&self, prompt: &str) -> Result<usize, AgentError> {
///         if prompt.is_empty() { Err(AgentError) } else { Ok(prompt.len()) }
///     }
/// }
///
/// #[measured]
/// fn plan(steps: &[&str]) -> Option<usize> {
///     steps.iter().position(|s| s.starts_with("search"))
/// }
/// # let _ = (Agent { kind: "planner" }.run("hi"), plan(&["search web"]));
/// ```
///
/// A panic is recorded (`outcome = error`, `error.type = panic`) and keeps unwinding. Not supported, with a
/// compile error: `const fn`, `unsafe fn`, `extern` functions, functions returning `!`, trait methods without a
/// body, and anything that is not a function.
#[proc_macro_attribute]
pub fn measured(args: TokenStream, item: TokenStream) -> TokenStream {
    let parsed =
        syn::parse::<args::Args>(args).and_then(|args| Ok((args, syn::parse::<item::Function>(item.clone())?)));
    match parsed {
        Ok((args, function)) => expand::expand(&args, function).into(),
        Err(e) => {
            // The item stays as it was, so the error is the only one (no "cannot find function" after it).
            let mut out: TokenStream = e.to_compile_error().into();
            out.extend(item);
            out
        }
    }
}

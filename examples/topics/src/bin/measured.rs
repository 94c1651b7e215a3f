//! `#[otelwright::measured]` on your own functions: `function.calls` (by `outcome`: ok, error, cancelled) and
//! `function.calls.duration`, by `code.function.name`; `span` adds an INTERNAL span per call, `in_flight` the
//! `function.calls.active` up-down counter. `record!` adds a business quantity to a counter with a unit.
//!
//! `cargo run -p otelwright-examples --bin measured`

use std::time::Duration;

#[derive(Debug)]
struct PlanError;

/// A step of an agent: errors are counted with `error.type` = this error's type name.
#[otelwright::measured(name = "agent.plan", span, in_flight)]
async fn plan(goal: &str) -> Result<usize, PlanError> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    if goal.is_empty() { Err(PlanError) } else { Ok(goal.split_whitespace().count()) }
}

/// A synchronous helper, measured without a span.
#[otelwright::measured]
fn count_tokens(text: &str) -> usize {
    text.split_whitespace().count()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `init` installs the global meter provider `#[measured]` records through.
    let telemetry = otelwright::init(otelwright::Config::from_env().service_name("measured"))?;
    for goal in ["book a table for two", ""] {
        let steps = plan(goal).await;
        let tokens = count_tokens(goal);
        otelwright::record!("agent.tokens", tokens as u64, unit = "{token}", direction = "input");
        println!("plan({goal:?}) -> {steps:?}, {tokens} tokens");
    }
    telemetry.shutdown().await;
    Ok(())
}

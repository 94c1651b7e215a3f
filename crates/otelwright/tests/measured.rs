//! `#[measured]`, `record!` and `Quantity` export over real OTLP (gRPC) to otelwright-receiver. One test, one
//! process: it installs the global meter provider and subscriber. Asserts exact call counts, outcomes,
//! `error.type` values, declared attributes, durations, the span of `span`, and that a function called before
//! the provider was installed records into the new provider afterwards.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use otelwright::measure::{DURATION_BUCKETS, Quantity};
use otelwright::measured;
use otelwright_receiver::{HistogramPoint, NumberPoint, ReceivedMetric, Receiver};

const WAIT: Duration = Duration::from_secs(20);

mod shop {
    use super::*;

    #[derive(Debug)]
    pub(crate) struct PaymentError;

    #[derive(Debug)]
    pub(crate) struct AgentError;

    #[derive(Debug)]
    pub(crate) struct LedgerError;

    impl From<LedgerError> for PaymentError {
        fn from(_: LedgerError) -> Self {
            PaymentError
        }
    }

    fn ledger(amount: u32) -> Result<u32, LedgerError> {
        if amount == 13 { Err(LedgerError) } else { Ok(amount) }
    }

    /// `return`, `?` with a `From` conversion, and `Err`.
    #[measured]
    pub(crate) fn charge(amount: u32) -> Result<u32, PaymentError> {
        if amount > 100 {
            return Err(PaymentError);
        }
        let booked = ledger(amount)?;
        Ok(booked)
    }

    #[measured]
    pub(crate) fn lookup(id: u32) -> Option<&'static str> {
        (id == 1).then_some("one")
    }

    #[measured]
    pub(crate) fn add(a: u32, b: u32) -> u32 {
        a + b
    }

    #[measured]
    pub(crate) fn explode(n: u32) -> u32 {
        if n == 0 {
            panic!("measured panic (expected by the test)");
        }
        n
    }

    #[measured]
    pub(crate) fn before_install() {}

    #[measured]
    pub(crate) async fn fetch(n: u32) -> Result<u32, std::io::Error> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if n == 0 {
            return Err(std::io::Error::other("empty"));
        }
        Ok(n)
    }

    #[measured]
    pub(crate) async fn stuck() -> u32 {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        0
    }

    #[measured]
    pub(crate) async fn async_explode() {
        tokio::task::yield_now().await;
        panic!("measured async panic (expected by the test)");
    }

    #[measured(name = "shop.later")]
    pub(crate) fn later(n: u32) -> impl Future<Output = Result<u32, PaymentError>> + Send {
        async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if n == 0 { Err(PaymentError) } else { Ok(n) }
        }
    }

    /// Generic over the error type: `error.type` follows the instantiation.
    #[measured]
    pub(crate) fn parse<T: std::str::FromStr>(text: &str) -> Result<T, T::Err> {
        text.parse()
    }

    pub(crate) struct Agent {
        pub(crate) kind: &'static str,
        pub(crate) name: String,
    }

    impl Agent {
        #[measured(name = "agent.run", span, attributes(agent.kind = self.kind, tier = "gold", retries = 2))]
        pub(crate) async fn run(&self, prompt: &str) -> Result<usize, AgentError> {
            tokio::task::yield_now().await;
            if prompt.is_empty() { Err(AgentError) } else { Ok(prompt.len()) }
        }

        #[measured(span)]
        pub(crate) fn name(&self) -> &str {
            &self.name
        }
    }

    pub(crate) trait Tool {
        async fn call(&self, input: u32) -> Result<u32, AgentError>;

        #[measured]
        fn describe(&self) -> String {
            "a tool".to_owned()
        }
    }

    impl Tool for Agent {
        #[measured]
        async fn call(&self, input: u32) -> Result<u32, AgentError> {
            if input == 0 { Err(AgentError) } else { Ok(input * 2) }
        }
    }

    /// Dyn-compatible, as `#[async_trait]` writes it: the boxed future is measured until it completes.
    pub(crate) trait DynTool: Send + Sync {
        fn invoke<'a>(&'a self, input: u32) -> Pin<Box<dyn Future<Output = Result<u32, AgentError>> + Send + 'a>>;
    }

    impl DynTool for Agent {
        #[measured]
        fn invoke<'a>(&'a self, input: u32) -> Pin<Box<dyn Future<Output = Result<u32, AgentError>> + Send + 'a>> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if input == 0 { Err(AgentError) } else { Ok(input + self.name.len() as u32) }
            })
        }
    }
}

use shop::Tool as _;

static COST: Quantity<f64> = Quantity::with_description("shop.cost", "USD", "Money spent.");

fn last<'a>(metrics: &'a [ReceivedMetric], name: &str) -> &'a ReceivedMetric {
    metrics.iter().rev().find(|m| m.name() == name).unwrap_or_else(|| panic!("no metric {name}"))
}

/// The `function.calls` value for a function and outcome (0 when no such point).
fn calls(metric: &ReceivedMetric, function: &str, outcome: &str, error_type: Option<&str>) -> f64 {
    let matching: Vec<NumberPoint> = metric
        .number_points()
        .into_iter()
        .filter(|p| {
            p.attr_str("code.function.name").as_deref() == Some(function)
                && p.attr_str("outcome").as_deref() == Some(outcome)
                && p.attr_str("error.type").as_deref() == error_type
        })
        .collect();
    assert!(matching.len() <= 1, "{function} {outcome}: {matching:?}");
    matching.first().map_or(0.0, |p| p.value)
}

fn durations(metric: &ReceivedMetric, function: &str, outcome: &str) -> HistogramPoint {
    let mut points = metric.histogram_points().into_iter().filter(|p| {
        p.attr_str("code.function.name").as_deref() == Some(function)
            && p.attr_str("outcome").as_deref() == Some(outcome)
    });
    let point = points.next().unwrap_or_else(|| panic!("no duration for {function} {outcome}"));
    assert!(points.next().is_none(), "one duration point for {function} {outcome}");
    point
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measured_functions_export_calls_outcomes_and_durations() {
    let receiver = Receiver::start().await.expect("receiver starts");
    // Before any provider is installed: records into the no-op provider, then must follow the new one.
    shop::before_install();

    let telemetry =
        otelwright::build(otelwright_test_support::config(&receiver, "measured-test")).expect("telemetry builds");
    otelwright::measure::set_global_meter_provider(telemetry.meter_provider().expect("metrics on").clone());
    tracing::dispatcher::set_global_default(telemetry.dispatch().clone()).expect("first subscriber");

    shop::before_install();
    assert_eq!(shop::charge(10).unwrap(), 10);
    assert_eq!(shop::charge(20).unwrap(), 20);
    assert!(shop::charge(101).is_err());
    assert!(shop::charge(13).is_err(), "the ? path");
    assert_eq!(shop::lookup(1), Some("one"));
    assert_eq!(shop::lookup(2), None);
    assert_eq!(shop::add(2, 3), 5);
    assert_eq!(shop::explode(4), 4);
    let panicked = std::panic::catch_unwind(|| shop::explode(0));
    assert!(panicked.is_err(), "the panic is re-raised");

    // Each measured duration must lie within this test's own reading of the same call: no figure to assert.
    let call = Instant::now();
    assert_eq!(shop::fetch(3).await.unwrap(), 3);
    let fetch_call = call.elapsed().as_secs_f64();
    assert!(shop::fetch(0).await.is_err());
    let call = Instant::now();
    assert!(tokio::time::timeout(Duration::from_millis(30), shop::stuck()).await.is_err());
    let stuck_call = call.elapsed().as_secs_f64();
    let joined = tokio::spawn(shop::async_explode()).await;
    assert!(joined.expect_err("the task panicked").is_panic());

    assert_eq!(shop::later(7).await.unwrap(), 7);
    assert!(shop::later(0).await.is_err());
    drop(shop::later(9)); // never polled: cancelled

    assert_eq!(shop::parse::<u32>("12").unwrap(), 12);
    assert!(shop::parse::<u32>("x").is_err());
    assert!(shop::parse::<f64>("y").is_err());

    let planner = shop::Agent { kind: "planner", name: "p".to_owned() };
    let coder = shop::Agent { kind: "coder", name: "c".to_owned() };
    assert_eq!(planner.run("plan it").await.unwrap(), 7);
    assert_eq!(planner.run("again").await.unwrap(), 5);
    assert!(coder.run("").await.is_err());
    assert_eq!(planner.name(), "p");
    assert_eq!(planner.call(2).await.unwrap(), 4);
    assert!(planner.call(0).await.is_err());
    assert_eq!(coder.describe(), "a tool");
    let dyn_tool: &dyn shop::DynTool = &coder;
    assert_eq!(dyn_tool.invoke(1).await.unwrap(), 2);
    assert!(dyn_tool.invoke(0).await.is_err());

    otelwright::record!("shop.tokens", 120_u64, unit = "{token}", model = "gpt-x", direction = "input");
    otelwright::record!("shop.tokens", 30, unit = "{token}", model = "gpt-x", direction = "output");
    otelwright::record!("shop.tokens", 80_u32, unit = "{token}", "model" = "gpt-x", direction = "input");
    otelwright::record!("shop.tokens", -5, unit = "{token}", model = "gpt-x", direction = "input"); // ignored
    COST.add(0.25, &[KeyValue::new("model", "gpt-x")]);
    COST.add(0.5, &[KeyValue::new("model", "gpt-x")]);

    let errors = telemetry.flush().await;
    assert!(errors.is_empty(), "flush errors: {errors:?}");
    let metrics = receiver
        .wait_for_metrics(
            |m| {
                ["function.calls", "function.calls.duration", "shop.tokens", "shop.cost"]
                    .iter()
                    .all(|n| m.iter().any(|m| m.name() == *n))
            },
            WAIT,
        )
        .await
        .expect("metrics arrive");

    let counter = last(&metrics, "function.calls");
    assert_eq!(counter.unit(), "{call}");
    assert_eq!(counter.is_monotonic(), Some(true));
    assert_eq!(counter.scope_name(), "otelwright");
    let f = |path: &str| format!("measured::shop::{path}");
    let io_error = std::any::type_name::<std::io::Error>();
    let int_error = std::any::type_name::<std::num::ParseIntError>();
    let float_error = std::any::type_name::<std::num::ParseFloatError>();
    let payment = Some("measured::shop::PaymentError");
    let agent_error = Some("measured::shop::AgentError");
    for (function, outcome, error_type, want) in [
        (f("before_install"), "ok", None, 1.0),
        (f("charge"), "ok", None, 2.0),
        (f("charge"), "error", payment, 2.0),
        (f("lookup"), "ok", None, 2.0),
        (f("add"), "ok", None, 1.0),
        (f("explode"), "ok", None, 1.0),
        (f("explode"), "error", Some("panic"), 1.0),
        (f("fetch"), "ok", None, 1.0),
        (f("fetch"), "error", Some(io_error), 1.0),
        (f("stuck"), "cancelled", None, 1.0),
        (f("async_explode"), "error", Some("panic"), 1.0),
        (f("later"), "ok", None, 1.0),
        (f("later"), "error", payment, 1.0),
        (f("later"), "cancelled", None, 1.0),
        (f("parse"), "ok", None, 1.0),
        (f("parse"), "error", Some(int_error), 1.0),
        (f("parse"), "error", Some(float_error), 1.0),
        (f("Agent::name"), "ok", None, 1.0),
        (format!("<{} as {}>::call", f("Agent"), f("Tool")), "ok", None, 1.0),
        (format!("<{} as {}>::call", f("Agent"), f("Tool")), "error", agent_error, 1.0),
        (f("Tool::describe"), "ok", None, 1.0),
        (format!("<{} as {}>::invoke", f("Agent"), f("DynTool")), "ok", None, 1.0),
        (format!("<{} as {}>::invoke", f("Agent"), f("DynTool")), "error", agent_error, 1.0),
    ] {
        assert_eq!(calls(counter, &function, outcome, error_type), want, "{function} {outcome} {error_type:?}");
    }
    let total: f64 = counter.values().iter().sum();
    assert_eq!(total, 29.0, "no other calls were counted: {:?}", counter.number_points());

    // Declared attributes: constants on every point, the dynamic one per agent kind.
    let run = f("Agent::run");
    let run_points: Vec<NumberPoint> = counter
        .number_points()
        .into_iter()
        .filter(|p| p.attr_str("code.function.name").as_deref() == Some(run.as_str()))
        .collect();
    assert_eq!(run_points.len(), 2, "{run_points:?}");
    for p in &run_points {
        assert_eq!(p.attr_str("function.name").as_deref(), Some("agent.run"));
        assert_eq!(p.attr_str("tier").as_deref(), Some("gold"));
        assert_eq!(p.attr_str("retries").as_deref(), Some("2"));
        match p.attr_str("agent.kind").as_deref() {
            Some("planner") => {
                assert_eq!(
                    (p.value, p.attr_str("outcome").as_deref(), p.attr_str("error.type")),
                    (2.0, Some("ok"), None)
                )
            }
            Some("coder") => assert_eq!(
                (p.value, p.attr_str("outcome").as_deref(), p.attr_str("error.type").as_deref()),
                (1.0, Some("error"), agent_error)
            ),
            other => panic!("unexpected agent.kind {other:?}"),
        }
    }
    let later_point =
        counter.number_points().into_iter().find(|p| p.attr_str("code.function.name") == Some(f("later"))).unwrap();
    assert_eq!(later_point.attr_str("function.name").as_deref(), Some("shop.later"));
    let add_point =
        counter.number_points().into_iter().find(|p| p.attr_str("code.function.name") == Some(f("add"))).unwrap();
    assert_eq!(add_point.attributes.len(), 2, "code.function.name and outcome only: {add_point:?}");

    let histogram = last(&metrics, "function.calls.duration");
    assert_eq!(histogram.unit(), "s");
    let fetch_ok = durations(histogram, &f("fetch"), "ok");
    assert_eq!(fetch_ok.count, 1);
    assert_eq!(fetch_ok.explicit_bounds, DURATION_BUCKETS);
    let fetched = fetch_ok.sum.unwrap();
    // At least the 10 ms it slept, at most the call as the test saw it: the whole await, in seconds.
    assert!((0.010..=fetch_call).contains(&fetched), "fetch slept 10 ms: {fetched} s, the call took {fetch_call} s");
    let stuck = durations(histogram, &f("stuck"), "cancelled");
    assert_eq!(stuck.count, 1);
    let stuck_sum = stuck.sum.unwrap();
    assert!((0.030..=stuck_call).contains(&stuck_sum), "cancelled after 30 ms: {stuck_sum} s of {stuck_call} s");
    assert_eq!(durations(histogram, &f("charge"), "ok").count, 2);
    assert_eq!(durations(histogram, &f("charge"), "error").count, 2);
    assert_eq!(durations(histogram, &f("explode"), "error").count, 1);
    let histogram_total: u64 = histogram.histogram_points().iter().map(|p| p.count).sum();
    assert_eq!(histogram_total, 29, "one duration per counted call");
    let invoked = durations(histogram, &format!("<{} as {}>::invoke", f("Agent"), f("DynTool")), "ok");
    assert!(invoked.sum.unwrap() >= 0.005, "measured until the boxed future completed: {:?}", invoked.sum);

    let tokens = last(&metrics, "shop.tokens");
    assert_eq!(tokens.unit(), "{token}");
    assert_eq!(tokens.is_monotonic(), Some(true));
    let by_direction =
        |d: &str| tokens.number_points().into_iter().find(|p| p.attr_str("direction").as_deref() == Some(d)).unwrap();
    assert_eq!(by_direction("input").value, 200.0);
    assert_eq!(by_direction("input").attr_str("model").as_deref(), Some("gpt-x"));
    assert_eq!(by_direction("output").value, 30.0);
    let cost = last(&metrics, "shop.cost");
    assert_eq!((cost.unit(), cost.description()), ("USD", "Money spent."));
    assert_eq!(cost.values(), [0.75]);

    let spans = receiver
        .wait_for_spans(
            |s| s.iter().filter(|s| s.name() == "agent.run").count() == 3 && s.iter().any(|s| s.name() == "name"),
            WAIT,
        )
        .await
        .expect("spans arrive");
    let run_span =
        spans.iter().find(|s| s.name() == "agent.run" && s.attr_str("agent.kind").as_deref() == Some("coder")).unwrap();
    assert_eq!(run_span.attr_str("code.function.name"), Some(run.clone()));
    assert_eq!(run_span.attr_str("tier").as_deref(), Some("gold"));
    assert_eq!(run_span.attr_str("retries").as_deref(), Some("2"));
    let name_span = spans.iter().find(|s| s.name() == "name").unwrap();
    assert_eq!(name_span.attr_str("code.function.name"), Some(f("Agent::name")));

    let report = telemetry.shutdown().await;
    assert!(report.is_clean(), "{report:?}");
    receiver.shutdown().await;
}

//! `otelwright demo` (the README's run command) as a user runs it: `--no-tui --duration 10s` on the embedded
//! receiver must exit successfully and print a summary with traces from both example services, one trace across
//! them, non-zero RED figures, the pool/cache/resource gauges and log lines that carry trace ids. With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, the demo exports there instead.

use std::process::Command;
use std::time::Duration;

use otelwright_receiver::Receiver;

/// The number after `label` in `text` (e.g. `health-agent 123`).
fn number_after(text: &str, label: &str) -> u64 {
    let rest = text.split(label).nth(1).unwrap_or_else(|| panic!("{label:?} in {text}"));
    rest.split(|c: char| !c.is_ascii_digit()).find(|s| !s.is_empty()).unwrap().parse().unwrap()
}

#[test]
fn ten_second_run_shows_every_signal_from_both_services() {
    let out = Command::new(env!("CARGO_BIN_EXE_otelwright"))
        .args(["demo", "--no-tui", "--duration", "10s"])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("embedded OTLP receiver"), "{stdout}");

    let received = stdout.lines().find(|l| l.starts_with("== received:")).expect("the totals line");
    assert!(number_after(received, "health-agent ") > 0, "{received}");
    assert!(number_after(received, "recommender ") > 0, "{received}");
    assert!(number_after(received, "traces, ") > 0, "a trace crosses both services: {received}");
    assert!(number_after(received, "; ") > 0, "log records: {received}");

    assert!(stdout.contains("-- traces (showing 3 of"), "{stdout}");
    for span in ["POST /api/v1/chat", "INSERT conversations", "cache.get users", "rank"] {
        assert!(stdout.contains(span), "{span} drawn: {stdout}");
    }
    assert!(stdout.contains("server recommender"), "recommender's span in a health-agent trace: {stdout}");
    assert!(stdout.contains("ERROR"), "the failing requests show up: {stdout}");

    let red_row = |service: &str, route: &str| {
        let row = stdout.lines().find(|l| l.trim_start().starts_with(service) && l.contains(route));
        row.unwrap_or_else(|| panic!("a RED row for {service} {route}: {stdout}"))
    };
    let chat = red_row("health-agent", "POST /api/v1/chat");
    let fields: Vec<&str> = chat.split_whitespace().collect();
    let (count, errors): (u64, u64) = (fields[4].parse().unwrap(), fields[5].parse().unwrap());
    assert!(count > 20 && errors > 0 && errors < count, "RED of the chat route: {chat}");
    red_row("recommender", "recommender.v1.Recommender/Recommend");
    for gauge in ["process memory", "pool main", "cache users", "fn chat.count_tokens", "chat.tokens"] {
        assert!(stdout.contains(gauge), "{gauge}: {stdout}");
    }
    // The load's WebSocket conversations: their upgrade requests in the RED table, and the websocket.server.*
    // metrics: messages both ways, and back at zero open connections after the clean closes.
    red_row("health-agent", "GET /api/v1/chat/stream");
    let ws = stdout.lines().find(|l| l.trim_start().starts_with("websockets ")).expect("the websockets gauge");
    assert_eq!(number_after(ws, "websockets "), 0, "every conversation closed: {ws}");
    assert!(number_after(ws, "; ") > 0 && number_after(ws, "in, ") > number_after(ws, "; "), "{ws}");

    let carried = stdout.lines().find(|l| l.contains("log records carry a trace id")).expect("correlation line");
    let (n, rest) = carried.split_once(" of ").unwrap();
    let (n, total): (u64, u64) = (n.trim().parse().unwrap(), rest.split_whitespace().next().unwrap().parse().unwrap());
    // Only the start-up lines are outside a request.
    assert!(n > 0 && n + 5 >= total, "{carried}");
}

#[test]
fn with_an_endpoint_set_the_demo_exports_there() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_otelwright"))
        .args(["demo", "--no-tui", "--duration", "3s"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .output()
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("exporting to the collector at"), "{stdout}");
    assert!(!stdout.contains("embedded OTLP receiver"), "{stdout}");
    let spans = runtime
        .block_on(receiver.wait_for_spans(
            |s| {
                ["health-agent", "recommender"]
                    .iter()
                    .all(|name| s.iter().any(|s| s.resource_str("service.name").as_deref() == Some(*name)))
            },
            Duration::from_secs(10),
        ))
        .expect("both services' spans reach the collector");
    assert!(spans.iter().any(|s| s.name() == "POST /api/v1/chat"));
    runtime.block_on(receiver.shutdown());
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_otelwright")).args(["demo", "--duration", "soon"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a duration"));
}

//! `otelwright monitor` against a running health-agent (in this test process, exporting nothing: its meter
//! provider carries only the health readers): rows with the snapshot's figures go to the table and the CSV file, and
//! when the service goes away the monitor keeps polling, writes rows whose status is the error, and still ends
//! with a summary.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use otelwright_demo::health_agent::{self, HealthAgentConfig, RunningAgent};
use otelwright_demo::recommender;
use otelwright_health::HealthReaders;

struct Agent {
    agent: RunningAgent,
    recommender: recommender::Running,
    _telemetry: otelwright::Telemetry,
    dir: PathBuf,
}

async fn agent(name: &str) -> Agent {
    let config = HealthAgentConfig { addr: ([127, 0, 0, 1], 0).into(), ..HealthAgentConfig::default() };
    // No exporter: the meter provider exists only for the health readers.
    // The resources are sampled at the metric interval.
    let mut otel = otelwright::Config::default()
        .log_format(otelwright::LogFormat::Off)
        .metric_interval(Duration::from_millis(200))
        .health_readers(HealthReaders::new().request_window(Duration::from_secs(60), Duration::from_millis(200)));
    for signal in [otelwright::Signal::Traces, otelwright::Signal::Metrics, otelwright::Signal::Logs] {
        otel = otel.exporters(signal, []);
    }
    let telemetry = otelwright::build(otel).unwrap();
    let recommender = recommender::serve(([127, 0, 0, 1], 0).into(), &telemetry).await.unwrap();
    let dir = std::env::temp_dir().join(format!("otelwright-monitor-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = HealthAgentConfig {
        data_dir: dir.clone(),
        recommender_url: format!("http://{}", recommender.addr()),
        ..config
    };
    let agent = health_agent::run(config, &telemetry).await.unwrap();
    // Some traffic, so the cache and the request window have figures.
    let client = reqwest::Client::new();
    for id in [1, 2, 1, 2, 3] {
        let r = client.get(format!("{}/api/v1/users/{id}", agent.base_url())).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    // Until the request window has collected them (the snapshot is cached for 1 s).
    for _ in 0..50 {
        let url = format!("{}/api/v1/metrics", agent.base_url());
        let text = client.get(url).send().await.unwrap().text().await.unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        if doc["requests"]["total_count"].as_u64() == Some(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Agent { agent, recommender, _telemetry: telemetry, dir }
}

impl Agent {
    async fn stop(self) {
        self.agent.shutdown().await;
        self.recommender.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn monitor(url: &str, csv: &std::path::Path, samples: u32) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otelwright"));
    command
        .args(["monitor", "--url", url, "--interval", "300ms", "--output"])
        .arg(csv)
        .args(["--samples", &samples.to_string()]);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_from_a_running_service_go_to_the_table_and_the_csv() {
    let agent = agent("up").await;
    let csv = agent.dir.join("metrics.csv");
    let url = format!("{}/api/v1/metrics", agent.agent.base_url());
    let out = tokio::task::spawn_blocking({
        let mut command = monitor(&url, &csv, 3);
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Time     |  CPU% |  Mem% | Mem(MB) | API(ms) | DB Pool | Cache Hit% | Status"));
    let rows: Vec<&str> = stdout.lines().filter(|l| l.ends_with("| OK")).collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    let cells: Vec<&str> = rows[2].split('|').map(str::trim).collect();
    assert!(cells[3].parse::<f64>().unwrap() > 0.0, "Mem(MB): {}", rows[2]);
    assert!(cells[4].parse::<f64>().unwrap() > 0.0, "API(ms): {}", rows[2]);
    assert!(cells[5].contains('/'), "DB Pool active/size: {}", rows[2]);
    assert_eq!(cells[6], "40.0", "2 hits of 5 reads: {}", rows[2]);
    assert!(stdout.contains("monitor summary: 3 samples"), "{stdout}");
    assert!(stdout.lines().any(|l| l.trim_start().starts_with("API(ms)") && l.split_whitespace().count() == 4));

    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "header and three rows: {text}");
    assert!(lines[0].starts_with("time,cpu_percent,memory_percent,memory_mb,api_ms,pool_active"));
    assert!(lines[1..].iter().all(|l| l.ends_with(",OK")), "{text}");
    let p95 = lines[3].split(',').nth(10).unwrap();
    assert!(p95.parse::<f64>().is_ok_and(|ms| ms > 0.0), "requests_p95_ms from the service's window: {text}");
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_keeps_going_while_the_service_is_down() {
    let agent = agent("down").await;
    let csv = agent.dir.join("metrics.csv");
    let url = format!("{}/api/v1/metrics", agent.agent.base_url());
    let mut child = monitor(&url, &csv, 8).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Two good rows, then the service goes away.
    let mut seen = Vec::new();
    while seen.iter().filter(|l: &&String| l.ends_with("| OK")).count() < 2 {
        seen.push(tokio::task::block_in_place(|| lines.next()).expect("the monitor prints rows").unwrap());
    }
    let dir = agent.dir.clone();
    agent.agent.shutdown().await;
    agent.recommender.shutdown().await;
    let rest: Vec<String> = tokio::task::block_in_place(|| lines.map(Result::unwrap).collect());
    let status = tokio::task::block_in_place(|| child.wait()).unwrap();
    assert!(status.success(), "{seen:?} {rest:?}");
    let down: Vec<&String> = rest.iter().filter(|l| l.contains("| unreachable: ")).collect();
    assert!(!down.is_empty(), "rows for the down service: {rest:?}");
    assert!(down.iter().all(|l| l.contains("|       - |")), "no figures without a snapshot: {down:?}");
    let summary = rest.iter().find(|l| l.contains("monitor summary: 8 samples")).expect("a summary");
    assert!(!summary.contains(" 0 failed"), "{summary}");
    assert!(rest.iter().any(|l| l.contains("last error: unreachable")), "{rest:?}");

    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 9, "{text}");
    assert!(text.lines().last().unwrap().contains(",unreachable: "), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

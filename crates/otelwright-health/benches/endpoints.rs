//! Latency of the health endpoints under concurrent load, over loopback HTTP/1.1.
//!
//! `cargo bench -p otelwright-health --bench endpoints` (optional: `BENCH_CLIENTS`, default 32;
//! `BENCH_REQUESTS` per client, default 500; `BENCH_RATE`, default 2000 requests/s).
//!
//! Two loads per endpoint, both from 32 concurrent keep-alive clients:
//! - **paced**: the clients together send `BENCH_RATE` requests per second (each on its own schedule), below
//!   saturation, so the latency is the endpoint's service time plus loopback;
//! - **saturated**: every client sends its next request as soon as the previous one is answered, so 32
//!   requests are always in flight and the latency is mostly queueing (≈ 32 ÷ throughput, by Little's law).
//!
//! The service: an axum app under `HttpServerLayer`, recording into an `SdkMeterProvider` that carries the
//! health readers (request window collected every second, Prometheus reader), the resource sampler (10 s),
//! a sqlx SQLite pool (the readiness check pings it) and two caches. It runs on its own 2-thread runtime; the
//! clients (keep-alive connections, one request at a time each) on another. Every endpoint is measured twice:
//! with the default 1 s result caches, and with caching off (every request reads the sources, runs the checks
//! or collects the provider). Figures are client-side latencies; the machine's cores are shared by both sides.
//!
//! A third table calls the routers in process (`tower::ServiceExt::oneshot`, no socket, one request at a time):
//! the endpoints' own service time, without loopback, HTTP parsing or scheduling between client and server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use opentelemetry::metrics::MeterProvider;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use otelwright_health::{Health, HealthReaders};
use otelwright_meters::pool::sqlx::SqlxPool;
use otelwright_meters::{Meters, ResourceConfig};

const ENDPOINTS: [&str; 4] = ["/health/live", "/health/ready", "/api/v1/metrics", "/metrics"];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The service: base URLs of the cached and the uncached app, their routers, and the provider.
struct Service {
    bases: [String; 2],
    routers: [Router; 2],
    provider: SdkMeterProvider,
}

/// Starts the service on `server_rt`.
fn start(server_rt: &tokio::runtime::Runtime) -> Service {
    server_rt.block_on(async {
        let readers = HealthReaders::new().request_window(Duration::from_secs(60), Duration::from_secs(1));
        let resource = Resource::builder().with_service_name("bench").build();
        let provider = readers.install(SdkMeterProvider::builder().with_resource(resource)).build();
        let meters = Meters::new()
            .with_resources(ResourceConfig::default().refresh_interval(Duration::from_secs(10)))
            .expect("resources");
        meters.register_instruments(&provider.meter("otelwright-meters"));
        let pool =
            sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect("sqlite::memory:").await.expect("sqlite");
        meters.pools.add("main", SqlxPool::new(pool));
        let users = meters.caches.meter("users");
        (0..900).for_each(|i| if i % 3 == 0 { users.miss() } else { users.hit() });
        meters.caches.meter("sessions").set();

        let layer = otelwright_http::HttpServerLayer::builder().meter_provider(&provider).traces(false).build();
        let (mut bases, mut routers) = (Vec::new(), Vec::new());
        for cache in [otelwright_health::DEFAULT_CACHE_TTL, Duration::ZERO] {
            let health = Health::builder()
                .meters(&meters)
                .readers(&readers)
                .database_check("main")
                .disk_space_check(std::env::temp_dir())
                .without_token()
                .cache(cache)
                .build();
            let app =
                Router::new().route("/work", get(|| async { "done" })).merge(health.router()).layer(layer.clone());
            routers.push(app.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            bases.push(format!("http://{}", listener.local_addr().unwrap()));
            tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        }
        Service { bases: [bases.remove(0), bases.remove(0)], routers: [routers.remove(0), routers.remove(0)], provider }
    })
}

/// `clients` tasks each send `requests` GETs to `url` one after another — back to back, or (with `rate`) at
/// `rate / clients` per second each, staggered; returns every latency and the wall time.
async fn load(
    client: &reqwest::Client,
    url: &str,
    clients: usize,
    requests: usize,
    rate: Option<f64>,
) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (client, url) = (client.clone(), url.to_owned());
            let period = rate.map(|r| Duration::from_secs_f64(clients as f64 / r));
            tokio::spawn(async move {
                let mut ticker = period.map(|p| {
                    let first = tokio::time::Instant::now() + p.mul_f64(i as f64 / clients as f64);
                    let mut t = tokio::time::interval_at(first, p);
                    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    t
                });
                let mut latencies = Vec::with_capacity(requests);
                for _ in 0..requests {
                    if let Some(t) = &mut ticker {
                        t.tick().await;
                    }
                    let t = Instant::now();
                    let response = client.get(&url).send().await.expect("request");
                    assert!(response.status().is_success(), "{url}: {}", response.status());
                    response.bytes().await.expect("body");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::with_capacity(clients * requests);
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    (all, start.elapsed())
}

/// Calls `router` in process `n` times, one at a time; returns the sorted latencies.
async fn in_process(router: &Router, path: &str, n: usize) -> Vec<Duration> {
    use tower::ServiceExt;
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let request = http::Request::get(path).body(axum::body::Body::empty()).unwrap();
        let t = Instant::now();
        let response = router.clone().oneshot(request).await.expect("infallible");
        assert!(response.status().is_success(), "{path}: {}", response.status());
        http_body_util::BodyExt::collect(response.into_body()).await.expect("body");
        latencies.push(t.elapsed());
    }
    latencies.sort();
    latencies
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass other flags: run only under cargo bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let clients = env("BENCH_CLIENTS", 32);
    let requests = env("BENCH_REQUESTS", 500);
    let rate = env("BENCH_RATE", 2000) as f64;
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let Service { bases: [cached, uncached], routers, provider } = start(&server_rt);
    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let client = reqwest::Client::builder().pool_max_idle_per_host(clients * 2).build().unwrap();
    let client = Arc::new(client);

    client_rt.block_on(async {
        // Traffic for the request window, then one collection so the snapshot has percentiles.
        load(&client, &format!("{cached}/work"), clients, 50, None).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;

        println!("{clients} clients x {requests} requests per endpoint and load, keep-alive, loopback");
        println!(
            "{:<16} {:>6} {:>15} {:>9} {:>8} {:>8} {:>8} {:>8}",
            "endpoint", "cache", "load", "requests", "p50 ms", "p99 ms", "max ms", "req/s"
        );
        let paced = format!("paced {rate:.0}/s");
        for (load_label, pace) in [(paced.as_str(), Some(rate)), ("saturated", None)] {
            for (label, base) in [("1 s", &cached), ("off", &uncached)] {
                for path in ENDPOINTS {
                    let url = format!("{base}{path}");
                    load(&client, &url, clients, 20, None).await; // warm-up
                    let (mut latencies, wall) = load(&client, &url, clients, requests, pace).await;
                    latencies.sort();
                    println!(
                        "{:<16} {:>6} {:>15} {:>9} {:>8.3} {:>8.3} {:>8.3} {:>8.0}",
                        path,
                        label,
                        load_label,
                        latencies.len(),
                        percentile(&latencies, 0.50),
                        percentile(&latencies, 0.99),
                        percentile(&latencies, 1.0),
                        latencies.len() as f64 / wall.as_secs_f64()
                    );
                }
            }
        }
    });
    drop(client_rt);

    println!();
    println!("in process, one request at a time ({} per endpoint)", clients * requests / 4);
    println!("{:<16} {:>6} {:>9} {:>8} {:>8} {:>8}", "endpoint", "cache", "requests", "p50 ms", "p99 ms", "max ms");
    server_rt.block_on(async {
        for (label, router) in [("1 s", &routers[0]), ("off", &routers[1])] {
            for path in ENDPOINTS {
                in_process(router, path, 100).await; // warm-up
                let latencies = in_process(router, path, clients * requests / 4).await;
                println!(
                    "{:<16} {:>6} {:>9} {:>8.3} {:>8.3} {:>8.3}",
                    path,
                    label,
                    latencies.len(),
                    percentile(&latencies, 0.50),
                    percentile(&latencies, 0.99),
                    percentile(&latencies, 1.0)
                );
            }
        }
    });
    let _ = provider.shutdown();
    drop(server_rt);
}

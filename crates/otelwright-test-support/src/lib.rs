//! The fixture the integration tests share, so each test file states only what it checks: an in-process
//! [`Receiver`] (real OTLP sockets) and an otelwright pipeline exporting to it.
//!
//! - [`config`]: the settings every test starts from (its `service.name`, OTLP/gRPC to the receiver, no console
//!   log lines), which a test then changes with the ordinary [`Config`] builder.
//! - [`fast_batches`]: span and log batches sent after `delay` instead of the specification's 5 s and 1 s.
//! - [`Pipeline`]: a receiver and a built pipeline, with a forced metric export and a clean shutdown.
//! - [`black_hole`] and [`refused`]: a "collector" that accepts connections and never answers, and an address
//!   that refuses them.
//! - [`skip_or_fail`] and [`database_urls`]: tests that need PostgreSQL or Redis fail in CI when it is missing and
//!   say they skipped elsewhere.
//!
//! Not published: it is test code. Depending on it from `otelwright`'s own integration tests is a dev-dependency
//! cycle Cargo allows; the tests and this crate link the same `otelwright`.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use otelwright::{BatchSettings, Config, LogFormat, Protocol, Telemetry};
use otelwright_receiver::{ReceivedMetric, Receiver};

/// How long a wait for something that must arrive may take before the test fails: a guard against hanging, never
/// a measurement.
pub const WAIT: Duration = Duration::from_secs(20);

/// A collector that accepts connections and holds them open without reading or answering: what an exporter
/// meets when the collector hangs.
pub fn black_hole() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    addr
}

/// An address nothing listens on (a port bound and released at once): connections to it are refused.
pub fn refused() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// `service`'s pipeline settings, exporting over OTLP/gRPC to `receiver`, without console log lines.
pub fn config(receiver: &Receiver, service: &str) -> Config {
    Config::default()
        .service_name(service)
        .protocol(Protocol::Grpc)
        .otlp_endpoint(receiver.grpc_endpoint())
        .log_format(LogFormat::Off)
}

/// `config` with span and log batches sent `delay` after their first item.
pub fn fast_batches(config: Config, delay: Duration) -> Config {
    config
        .span_batch(BatchSettings { schedule_delay: delay, ..BatchSettings::spans() })
        .log_batch(BatchSettings { schedule_delay: delay, ..BatchSettings::logs() })
}

/// A receiver and a pipeline (`otelwright::build`, not installed globally) exporting to it.
#[derive(Debug)]
pub struct Pipeline {
    /// Where the pipeline exports.
    pub receiver: Receiver,
    /// The pipeline.
    pub telemetry: Telemetry,
}

impl Pipeline {
    /// Starts a receiver and builds `service`'s pipeline from [`config`], changed by `configure`.
    pub async fn start(service: &str, configure: impl FnOnce(Config) -> Config) -> Pipeline {
        let receiver = Receiver::start().await.expect("the receiver starts");
        let telemetry = otelwright::build(configure(config(&receiver, service))).expect("the pipeline builds");
        Pipeline { receiver, telemetry }
    }

    /// Forces one export of what is recorded now and returns what it carried, once a metric named `name` arrived
    /// (what the receiver held before is cleared first).
    pub async fn export_metrics(&self, name: &str) -> Vec<ReceivedMetric> {
        self.receiver.clear();
        let errors = self.telemetry.flush().await;
        assert!(errors.is_empty(), "flush errors: {errors:?}");
        self.receiver
            .wait_for_metrics(|m| m.iter().any(|m| m.name() == name), WAIT)
            .await
            .unwrap_or_else(|e| panic!("{name} arrives: {e}"))
    }

    /// Shuts the pipeline down, which must be clean (in time, no export errors), then stops the receiver.
    pub async fn finish(self) {
        let report = self.telemetry.shutdown().await;
        assert!(report.is_clean(), "{report:?}");
        self.receiver.shutdown().await;
    }
}

/// Reports that `what` (a database, a cache) cannot be reached: a failure when `CI` is set, else a skip notice on
/// stderr (the caller then returns).
pub fn skip_or_fail(what: &str, error: impl std::fmt::Display) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is not reachable in CI: {error}");
    }
    eprintln!("SKIPPED: {what} is not reachable ({error}); set CI=1 to make this a failure");
}

/// The PostgreSQL URLs to try: `DATABASE_URL`, else the local `test` database as user `postgres`, then `root`.
pub fn database_urls() -> Vec<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => vec![url],
        Err(_) => ["postgres", "root"].iter().map(|u| format!("postgres://{u}@127.0.0.1:5432/test")).collect(),
    }
}

/// The first of [`database_urls`] that answers, or `None` after [`skip_or_fail`] reported the last error.
pub async fn postgres_url() -> Option<String> {
    let mut last = String::new();
    for url in database_urls() {
        match tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(&url)).await {
            Ok(Ok(pool)) => {
                pool.close().await;
                return Some(url);
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "connect timed out".into(),
        }
    }
    skip_or_fail("PostgreSQL", last);
    None
}

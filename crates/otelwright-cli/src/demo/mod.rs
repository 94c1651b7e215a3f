//! `otelwright demo`: the embedded default. Starts `otelwright-receiver` in-process (unless
//! `OTEL_EXPORTER_OTLP_ENDPOINT` points at a collector), runs the demo's two services (`otelwright-demo`) — health-agent (SQLite
//! file in a temporary directory, in-process cache) and recommender — in this process, each with its own
//! telemetry pipeline (`otelwright::build`, its own `service.name`), drives a mix of good, slow, failing and
//! invalid requests at health-agent, and shows what arrives: a live terminal view ([`tui`]) or, with `--no-tui`,
//! progress lines and a plain summary ([`summary`]). Runs until Ctrl-C (or `q`) or `--duration`, and exits
//! non-zero when a signal is missing, so it doubles as a smoke test.
//!
//! Two services share this process, so neither pipeline is installed globally: each service handles its
//! requests with its own subscriber (`otelwright::http::DispatchLayer`) and its layers get their own
//! providers. Only `#[otelwright::measured]`, which records through the global meter provider, is pointed at
//! health-agent's provider (recommender measures no functions).

mod collect;
mod load;
mod report;
mod summary;
mod tui;

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use otelwright::{BatchSettings, Config, LogFormat, Protocol, Telemetry};
use otelwright_demo::health_agent::{self, HealthAgentConfig};
use otelwright_demo::recommender;
use otelwright_health::HealthReaders;
use otelwright_receiver::Receiver;

use self::collect::Collected;
use self::load::Load;

/// Options of `otelwright demo`.
#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// Stop after this long (e.g. 10s, 500ms, 2m); without it, run until Ctrl-C (or q in the live view).
    #[arg(long, value_parser = crate::parse_duration)]
    duration: Option<Duration>,
    /// Print progress lines and a plain summary instead of the live view (for CI and pipes).
    #[arg(long)]
    no_tui: bool,
    /// Requests per second the built-in load sends to health-agent.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// OTLP protocol to the embedded receiver: grpc, http/protobuf or http/json.
    #[arg(long, default_value = "grpc", value_parser = clap::value_parser!(Protocol))]
    protocol: Protocol,
    /// How many trace waterfalls the summary prints.
    #[arg(long, default_value_t = 3)]
    traces: usize,
    /// health-agent's database (a PostgreSQL URL); default: an SQLite file in a temporary directory.
    #[arg(long)]
    database_url: Option<String>,
    /// health-agent's cache (a Redis URL); default: an in-process cache.
    #[arg(long)]
    redis_url: Option<String>,
}

/// Asks the load, the view and the refresh loop to stop.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    flag: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Stop {
    pub(crate) fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

/// One service's pipeline: OTLP to the embedded receiver (or to the configured collector), no stdout lines
/// (the terminal is the demo's), short export intervals so the view is live.
fn pipeline(service: &str, args: &DemoArgs, receiver: Option<&Receiver>) -> anyhow::Result<Config> {
    let mut config = Config::from_env()
        .service_name(service)
        .service_version(env!("CARGO_PKG_VERSION"))
        .deployment_environment("demo")
        .log_format(LogFormat::Off)
        .log_filter("info")
        .metric_interval(Duration::from_secs(1))
        .span_batch(BatchSettings { schedule_delay: Duration::from_millis(500), ..BatchSettings::spans() })
        .log_batch(BatchSettings { schedule_delay: Duration::from_millis(500), ..BatchSettings::logs() });
    if let Some(r) = receiver {
        let endpoint = if args.protocol == Protocol::Grpc { r.grpc_endpoint() } else { r.http_endpoint() };
        config = config.protocol(args.protocol).otlp_endpoint(endpoint);
    }
    Ok(config)
}

fn build(service: &str, config: Config) -> anyhow::Result<Telemetry> {
    otelwright::build(config).with_context(|| format!("setting up telemetry for {service}"))
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let external = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok().filter(|v| !v.trim().is_empty());
    let receiver = match &external {
        Some(_) => None,
        None => Some(Receiver::start().await.context("starting the embedded OTLP receiver")?),
    };
    let config = HealthAgentConfig {
        addr: ([127, 0, 0, 1], 0).into(),
        database_url: args.database_url.clone(),
        redis_url: args.redis_url.clone(),
        ..HealthAgentConfig::default()
    };
    let recommender_telemetry = build("recommender", pipeline("recommender", &args, receiver.as_ref())?)?;
    let agent_pipeline = pipeline("health-agent", &args, receiver.as_ref())?
        .health_readers(HealthReaders::new().request_window(Duration::from_secs(60), Duration::from_secs(1)))
        .slow_request_threshold(Some(Duration::from_millis(200)));
    let agent_telemetry = build("health-agent", agent_pipeline)?;
    if let Some(p) = agent_telemetry.meter_provider() {
        otelwright::measure::set_global_meter_provider(p.clone());
    }
    let data_dir = std::env::temp_dir().join(format!("otelwright-demo-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;

    let recommender = recommender::serve(([127, 0, 0, 1], 0).into(), &recommender_telemetry).await?;
    let config = HealthAgentConfig {
        data_dir: data_dir.clone(),
        recommender_url: format!("http://{}", recommender.addr()),
        ..config
    };
    let agent = health_agent::run(config, &agent_telemetry).await.context("starting health-agent")?;
    let intro = match (&receiver, &external) {
        (Some(r), _) => format!(
            "otelwright demo: embedded OTLP receiver on grpc {} / http {} ({:?}); health-agent on {}, recommender on {}",
            r.grpc_addr(),
            r.http_addr(),
            args.protocol,
            agent.base_url(),
            recommender.addr()
        ),
        (None, url) => format!(
            "otelwright demo: exporting to the collector at {}; health-agent on {}, recommender on {}",
            url.as_deref().unwrap_or_default(),
            agent.base_url(),
            recommender.addr()
        ),
    };

    let load = Load::new(agent.base_url())?;
    let collected = Arc::new(Mutex::new(Collected::default()));
    let stop = Arc::new(Stop::default());
    let started = Instant::now();
    // The live view needs the embedded receiver and a terminal; otherwise progress lines and the summary.
    let terminal = std::io::stdout().is_terminal();
    let live = !args.no_tui && receiver.is_some() && terminal;
    let view = live.then(|| {
        let shared = tui::Shared {
            collected: collected.clone(),
            load: load.stats.clone(),
            title: intro.clone(),
            started,
            duration: args.duration,
            stop: stop.clone(),
        };
        tokio::task::spawn_blocking(move || tui::run(&shared))
    });
    if !live {
        println!("{intro}");
        if receiver.is_none() && !args.no_tui {
            println!("(the live view reads the embedded receiver; with a collector it prints progress instead)");
        } else if !terminal && !args.no_tui {
            println!("(stdout is not a terminal: progress lines and a summary instead of the live view)");
        }
    }

    drive(&args, &load, receiver.as_ref(), &collected, &stop, started, live).await;
    if let Some(view) = view {
        view.await.context("the live view")??;
    }

    // Export what is buffered while the services still run (the gauges then show them running): it is in the
    // receiver when the flushes return.
    for telemetry in [&agent_telemetry, &recommender_telemetry] {
        let errors = telemetry.flush().await;
        if !errors.is_empty() {
            println!("telemetry flush: {errors:?}");
        }
    }
    if let Some(r) = &receiver {
        collected.lock().unwrap_or_else(PoisonError::into_inner).absorb(r);
    }
    agent.shutdown().await;
    recommender.shutdown().await;
    for telemetry in [agent_telemetry, recommender_telemetry] {
        let report = telemetry.shutdown().await;
        if !report.is_clean() {
            println!("telemetry shutdown: {report:?}");
        }
    }
    otelwright::measure::set_global_meter_provider(opentelemetry::metrics::noop::NoopMeterProvider::new());
    let _ = std::fs::remove_dir_all(&data_dir);
    let elapsed = started.elapsed();
    let counts = load.stats.counts();
    let Some(receiver) = receiver else {
        println!("sent {counts} in {elapsed:.1?}; look for services health-agent and recommender in your backend");
        return Ok(());
    };
    let verdict = {
        let c = collected.lock().unwrap_or_else(PoisonError::into_inner);
        print!("{}", summary::render(&c, counts, elapsed, args.traces));
        summary::check(&c)
    };
    receiver.shutdown().await;
    verdict
}

/// Sends requests at the configured rate until the duration passes, Ctrl-C or the view's quit; moves what the
/// receiver got into `collected` twice a second; prints progress every 2 s when there is no live view.
async fn drive(
    args: &DemoArgs,
    load: &Load,
    receiver: Option<&Receiver>,
    collected: &Mutex<Collected>,
    stop: &Stop,
    started: Instant,
    live: bool,
) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut refresh = tokio::time::interval(Duration::from_millis(500));
    let mut progress = tokio::time::interval(Duration::from_secs(2));
    progress.tick().await;
    let deadline = async {
        match args.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let mut tasks = tokio::task::JoinSet::new();
    let (stop_conversations, conversations_stop) = tokio::sync::watch::channel(false);
    let mut conversations = tokio::task::JoinSet::new();
    for id in 0..load::CONVERSATIONS {
        let (load, stop) = (load.clone(), conversations_stop.clone());
        conversations.spawn(async move { load.converse(id, stop).await });
    }
    let mut n = 0_u64;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = stop.wait() => break,
            _ = &mut deadline => break,
            _ = tick.tick() => {
                while tasks.try_join_next().is_some() {}
                // Never pile up more than a few seconds of requests behind a stuck service.
                if tasks.len() < 256 {
                    let load = load.clone();
                    tasks.spawn(async move { load.send(n).await });
                    n += 1;
                }
            }
            _ = refresh.tick() => {
                if let Some(r) = receiver {
                    collected.lock().unwrap_or_else(PoisonError::into_inner).absorb(r);
                }
            }
            _ = progress.tick(), if !live => {
                let t = collected.lock().unwrap_or_else(PoisonError::into_inner).totals.clone();
                println!(
                    "  {:>5.1}s  sent {}  received: spans {}  log records {}  metric exports {}",
                    started.elapsed().as_secs_f64(),
                    load.stats.counts(),
                    t.spans,
                    t.logs,
                    t.metric_exports,
                );
            }
        }
    }
    stop.trigger();
    let _ = stop_conversations.send(true);
    while tasks.join_next().await.is_some() {}
    while conversations.join_next().await.is_some() {}
}

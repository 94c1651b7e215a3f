//! The real stack for `stack_e2e.rs`: the gateway collector (shipped `otel-collector.yaml` plus an overlay that
//! only moves its listeners to free loopback ports), Prometheus 3 (a copy of the shipped `prometheus.yml` whose
//! scrape targets, rule files and Alertmanager point at this run), Alertmanager (a webhook receiver served by the
//! test) and Jaeger v2 (in-memory storage; the trace backend the collector's `otlp_grpc/tempo` exporter feeds),
//! all built by tests/stack/build.sh. Every process runs in a temporary directory, is polled until its health
//! endpoint answers, and is killed when the [`Stack`] is dropped, also when a test panics.

#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use yaml_rust2::Yaml;

use crate::collector_support::{is_ci, read, root, temp_dir, yaml};

/// How long a process gets to answer its health endpoint.
pub const READY: Duration = Duration::from_secs(60);

/// The binaries tests/stack/build.sh builds.
#[derive(Debug, Clone)]
pub struct Tools {
    pub otelcol: PathBuf,
    pub prometheus: PathBuf,
    pub alertmanager: PathBuf,
    pub jaeger: PathBuf,
}

impl Tools {
    /// The tools named by `OTELWRIGHT_OTELCOL`, `PROMETHEUS`, `ALERTMANAGER` and `JAEGER`, or where
    /// tests/stack/env.sh says build.sh puts them. With `CI` set a missing tool fails the test; elsewhere this
    /// prints what is missing and returns `None` (the caller skips).
    pub fn find() -> Option<Tools> {
        let names = ["OTELWRIGHT_OTELCOL", "PROMETHEUS", "ALERTMANAGER", "JAEGER"];
        let script = format!(". tests/stack/env.sh && printf '%s\\n' {}", names.map(|n| format!("\"${n}\"")).join(" "));
        let from_env_sh = Command::new("bash")
            .args(["-c", &script])
            .current_dir(root())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().map(PathBuf::from).collect::<Vec<_>>())
            .unwrap_or_default();
        let paths: Vec<PathBuf> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                std::env::var_os(n)
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .or_else(|| from_env_sh.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect();
        let missing: Vec<String> = names
            .iter()
            .zip(&paths)
            .filter(|(_, p)| !p.is_file())
            .map(|(n, p)| format!("{n} ({})", p.display()))
            .collect();
        if !missing.is_empty() {
            let why = format!("missing: {}", missing.join(", "));
            assert!(!is_ci(), "CI is set but the stack tools are {why}: .ci/run builds them with tests/stack/build.sh");
            eprintln!("skipped: the stack tools are {why}. Run tests/stack/build.sh first (tests/stack/README.md).");
            return None;
        }
        Some(Tools {
            otelcol: paths[0].clone(),
            prometheus: paths[1].clone(),
            alertmanager: paths[2].clone(),
            jaeger: paths[3].clone(),
        })
    }
}

/// A free loopback port (bound, read and released: the process that gets it binds it moments later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A YAML document as JSON (YAML is a superset of JSON, so every tool reads the JSON this writes back).
pub fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s.parse::<f64>().map(Value::from).unwrap_or_else(|_| Value::String(s.clone())),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}

/// One child process with its log file; killed on drop.
#[derive(Debug)]
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, dir: &Path, program: &Path, args: &[String], env: &[(&str, String)]) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({}): {e}", program.display()));
        Proc { name, child, log }
    }

    /// The last lines of its log, for failure messages.
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Alert notifications the webhook got from Alertmanager (each one a webhook body, `version: "4"`).
#[derive(Debug, Clone, Default)]
pub struct Webhook {
    pub bodies: Arc<Mutex<Vec<Value>>>,
    pub url: String,
}

impl Webhook {
    async fn start() -> Webhook {
        let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = bodies.clone();
        let app = axum::Router::new().route(
            "/alerts",
            axum::routing::post(move |body: String| {
                let sink = sink.clone();
                async move {
                    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
                    sink.lock().unwrap_or_else(PoisonError::into_inner).push(v);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/alerts", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Webhook { bodies, url }
    }

    /// `(key, status)` of every alert in every notification so far, where the key is `alertname` and also, for
    /// each label, `alertname/label=value` (so a test can ask for one cache or one pool).
    pub fn alerts(&self) -> Vec<(String, String)> {
        self.alerts_since(0)
    }

    /// How many notifications arrived so far (for [`Webhook::alerts_since`]).
    pub fn mark(&self) -> usize {
        self.bodies.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// As [`Webhook::alerts`], of the notifications after the first `mark`.
    pub fn alerts_since(&self, mark: usize) -> Vec<(String, String)> {
        let bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        for a in bodies.iter().skip(mark).flat_map(|b| b["alerts"].as_array().cloned().unwrap_or_default()) {
            let name = a["labels"]["alertname"].as_str().unwrap_or_default().to_owned();
            let status = a["status"].as_str().unwrap_or_default().to_owned();
            for (label, value) in a["labels"].as_object().into_iter().flatten() {
                out.push((format!("{name}/{label}={}", value.as_str().unwrap_or_default()), status.clone()));
            }
            out.push((name, status));
        }
        out
    }

    /// `(receiver, labels)` of every firing alert in every notification so far.
    pub fn deliveries(&self) -> Vec<(String, Value)> {
        let bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        for b in bodies.iter() {
            let receiver = b["receiver"].as_str().unwrap_or_default().to_owned();
            for a in b["alerts"].as_array().into_iter().flatten().filter(|a| a["status"] == "firing") {
                out.push((receiver.clone(), a["labels"].clone()));
            }
        }
        out
    }
}

/// Where each part of the stack listens.
#[derive(Debug, Clone)]
pub struct Ports {
    /// Jaeger's query gRPC port: a gRPC server without the OTLP trace service (the wrong-port fault).
    pub jaeger_query_grpc: u16,
    pub otlp_grpc: u16,
    pub otlp_http: u16,
    pub collector_health: u16,
    pub collector_metrics: u16,
    pub prometheus: u16,
    pub alertmanager: u16,
    pub jaeger_otlp: u16,
    pub jaeger_query: u16,
}

/// The running stack. Dropping it stops every process (newest first) and removes the temporary directory.
pub struct Stack {
    pub ports: Ports,
    pub webhook: Webhook,
    /// The in-repo receiver standing in for Loki (the collector's `otlp_http/loki` exporter sends logs here).
    pub logs: otelwright_receiver::Receiver,
    pub http: reqwest::Client,
    pub dir: PathBuf,
    procs: Vec<Proc>,
    tools: Tools,
    collector_env: Vec<(&'static str, String)>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        while let Some(mut p) = self.procs.pop() {
            p.stop();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("stack logs kept in {}", self.dir.display());
        }
    }
}

/// Test-only timing of the Prometheus copy: scrapes and rule evaluations every 2 s instead of 15 s, so that a
/// `rate()` has two samples and an alert's `for:` elapses within the test.
const TEST_INTERVAL: &str = "2s";
/// The `for:` every alert gets in the test-only rules overlay (the shipped rules are read, never edited).
pub const TEST_FOR: &str = "4s";

impl Stack {
    /// Starts Jaeger, Alertmanager (with the webhook), Prometheus and the gateway collector, in that order, and
    /// waits until each answers its health endpoint.
    pub async fn start(tools: Tools) -> Stack {
        let dir = temp_dir("stack");
        let ports = Ports {
            otlp_grpc: free_port(),
            otlp_http: free_port(),
            collector_health: free_port(),
            collector_metrics: free_port(),
            prometheus: free_port(),
            alertmanager: free_port(),
            jaeger_otlp: free_port(),
            jaeger_query: free_port(),
            jaeger_query_grpc: free_port(),
        };
        let webhook = Webhook::start().await;
        let logs = otelwright_receiver::Receiver::start().await.expect("log sink starts");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let mut stack = Stack { ports, webhook, logs, http, dir, procs: Vec::new(), tools, collector_env: Vec::new() };
        stack.start_jaeger().await;
        stack.start_alertmanager_with(true).await;
        stack.start_prometheus().await;
        stack.start_collector().await;
        stack
    }

    /// Alertmanager alone, with the shipped config's own timings (only the receivers point at the webhook), for the
    /// routing and inhibition test.
    pub async fn alertmanager_only(tools: Tools) -> Stack {
        let free = free_port;
        let ports = Ports {
            otlp_grpc: free(),
            otlp_http: free(),
            collector_health: free(),
            collector_metrics: free(),
            prometheus: free(),
            alertmanager: free(),
            jaeger_otlp: free(),
            jaeger_query: free(),
            jaeger_query_grpc: free(),
        };
        let webhook = Webhook::start().await;
        let logs = otelwright_receiver::Receiver::start().await.expect("log sink starts");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let dir = temp_dir("alertmanager");
        let mut stack = Stack { ports, webhook, logs, http, dir, procs: Vec::new(), tools, collector_env: Vec::new() };
        stack.start_alertmanager_with(false).await;
        stack
    }

    /// Sends firing alerts to Alertmanager as Prometheus does (`POST /api/v2/alerts`), each a label set.
    pub async fn post_alerts(&self, alerts: &[Value]) {
        let url = format!("http://127.0.0.1:{}/api/v2/alerts", self.ports.alertmanager);
        let body: Vec<Value> = alerts
            .iter()
            .map(|labels| json!({"labels": labels, "annotations": {"summary": "posted by stack_e2e"}}))
            .collect();
        let r = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(serde_json::to_string(&body).unwrap())
            .send()
            .await
            .expect("Alertmanager takes alerts");
        assert!(r.status().is_success(), "POST /api/v2/alerts: {}", r.status());
    }

    fn write(&self, name: &str, v: &Value) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(v).unwrap()).unwrap();
        path
    }

    /// Polls `url` until it answers 2xx; panics with the process's log when it exits or the time is up.
    async fn wait_ready(&mut self, url: &str) {
        let started = Instant::now();
        loop {
            if let Ok(r) = self.http.get(url).send().await
                && r.status().is_success()
            {
                return;
            }
            let p = self.procs.last_mut().unwrap();
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("{} exited ({status}) before {url} answered:\n{}", p.name, p.tail());
            }
            assert!(started.elapsed() < READY, "{} did not answer {url} within {READY:?}:\n{}", p.name, p.tail());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Jaeger v2 all-in-one with memory storage. Its own tracing is off (`enable_tracing: false`) and it has no
    /// metrics listener, so nothing clashes with the collector's ports.
    async fn start_jaeger(&mut self) {
        let p = &self.ports;
        let config = json!({
            "service": {
                "extensions": ["jaeger_storage", "jaeger_query"],
                "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["jaeger_storage_exporter"]}},
                "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "warn"}}
            },
            "extensions": {
                "jaeger_storage": {"backends": {"mem": {"memory": {"max_traces": 100000}}}},
                "jaeger_query": {
                    "storage": {"traces": "mem"},
                    "enable_tracing": false,
                    "http": {"endpoint": format!("127.0.0.1:{}", p.jaeger_query)},
                    "grpc": {"endpoint": format!("127.0.0.1:{}", p.jaeger_query_grpc)}
                }
            },
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": format!("127.0.0.1:{}", p.jaeger_otlp)}}}},
            "processors": {"batch": {}},
            "exporters": {"jaeger_storage_exporter": {"trace_storage": "mem"}}
        });
        let path = self.write("jaeger.yaml", &config);
        let args = vec![format!("--config=file:{}", path.display())];
        self.procs.push(Proc::spawn("jaeger", &self.dir, &self.tools.jaeger, &args, &[]));
        let url = format!("http://127.0.0.1:{}/api/services", self.ports.jaeger_query);
        self.wait_ready(&url).await;
    }

    /// Alertmanager, single node (`--cluster.listen-address=` turns gossip off), with the shipped
    /// collector-config/alertmanager/alertmanager.yml: its routes, grouping and inhibition rules as they are, every
    /// receiver's notifiers replaced by one webhook to this test (so the webhook sees which receiver an alert
    /// reached), and, when `fast`, every route's group_wait and group_interval cut to 1 s (the shipped 10–30 s and
    /// 5–30 m would hold a second alert of a group back for minutes; the fault test waits 90 s per fault).
    async fn start_alertmanager_with(&mut self, fast: bool) {
        let mut config = to_json(&yaml("collector-config/alertmanager/alertmanager.yml"));
        let receivers: Vec<Value> = config["receivers"]
            .as_array()
            .expect("alertmanager.yml has receivers")
            .iter()
            .map(|r| json!({"name": r["name"], "webhook_configs": [{"url": self.webhook.url, "send_resolved": true}]}))
            .collect();
        config["receivers"] = json!(receivers);
        // Secrets and templates of the real notifiers are not needed by the webhook.
        config["global"] = json!({"resolve_timeout": config["global"]["resolve_timeout"]});
        config.as_object_mut().unwrap().remove("templates");
        if fast {
            fn shorten(route: &mut Value) {
                for key in ["group_wait", "group_interval"] {
                    if route.get(key).is_some() {
                        route[key] = json!("1s");
                    }
                }
                for child in route["routes"].as_array_mut().into_iter().flatten() {
                    shorten(child);
                }
            }
            shorten(&mut config["route"]);
        }
        let path = self.write("alertmanager.yml", &config);
        std::fs::create_dir_all(self.dir.join("am")).unwrap();
        let args = vec![
            format!("--config.file={}", path.display()),
            format!("--storage.path={}", self.dir.join("am").display()),
            format!("--web.listen-address=127.0.0.1:{}", self.ports.alertmanager),
            "--cluster.listen-address=".to_owned(),
        ];
        self.procs.push(Proc::spawn("alertmanager", &self.dir, &self.tools.alertmanager, &args, &[]));
        let url = format!("http://127.0.0.1:{}/-/ready", self.ports.alertmanager);
        self.wait_ready(&url).await;
    }

    /// The test-only rules overlay: every shipped rule file, each alert's `for:` set to [`TEST_FOR`].
    fn rules_overlay(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for rel in crate::collector_support::files_under("collector-config/prometheus/rules", &[".yml"]) {
            let mut rules = to_json(&yaml(&rel));
            for group in rules["groups"].as_array_mut().unwrap() {
                for rule in group["rules"].as_array_mut().unwrap() {
                    if rule.get("alert").is_some() {
                        rule["for"] = json!(TEST_FOR);
                    }
                }
            }
            let name = format!("rules-{}", Path::new(&rel).file_name().unwrap().to_string_lossy());
            out.push(self.write(&name, &rules));
        }
        out
    }

    /// Prometheus 3 with the shipped prometheus.yml, except: the scrape jobs point at this run's collector and
    /// Prometheus (the Tempo, Loki and agent jobs have nothing to scrape here and are dropped), scrapes and rule
    /// evaluations every [`TEST_INTERVAL`], the rules overlay instead of `rules/*.yml`, and Alertmanager.
    /// The flags are docker-compose.yml's.
    async fn start_prometheus(&mut self) {
        let mut config = to_json(&yaml("collector-config/prometheus/prometheus.yml"));
        config["global"]["scrape_interval"] = json!(TEST_INTERVAL);
        config["global"]["evaluation_interval"] = json!(TEST_INTERVAL);
        config["global"]["scrape_timeout"] = json!(TEST_INTERVAL);
        config["rule_files"] = json!(self.rules_overlay());
        let targets = |job: &str| match job {
            "otel-collector" => Some(format!("127.0.0.1:{}", self.ports.collector_metrics)),
            "prometheus" => Some(format!("127.0.0.1:{}", self.ports.prometheus)),
            "alertmanager" => Some(format!("127.0.0.1:{}", self.ports.alertmanager)),
            _ => None,
        };
        let jobs: Vec<Value> = config["scrape_configs"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|job| {
                let name = job["job_name"].as_str().unwrap();
                let target = targets(name)?;
                Some(json!({"job_name": name, "static_configs": [{"targets": [target]}]}))
            })
            .collect();
        assert_eq!(jobs.len(), 3, "prometheus.yml lost its otel-collector, prometheus or alertmanager job");
        config["scrape_configs"] = json!(jobs);
        config["alerting"] = json!({"alertmanagers": [{"static_configs": [{"targets": [format!("127.0.0.1:{}", self.ports.alertmanager)]}]}]});
        let path = self.write("prometheus.yml", &config);
        let compose = read("docker-compose.yml");
        let mut args = vec![
            format!("--config.file={}", path.display()),
            format!("--storage.tsdb.path={}", self.dir.join("prom").display()),
            format!("--web.listen-address=127.0.0.1:{}", self.ports.prometheus),
        ];
        for flag in
            ["--web.enable-otlp-receiver", "--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage"]
        {
            assert!(compose.contains(flag), "docker-compose.yml no longer runs Prometheus with {flag}");
            args.push(flag.to_owned());
        }
        self.procs.push(Proc::spawn("prometheus", &self.dir, &self.tools.prometheus, &args, &[]));
        let url = format!("http://127.0.0.1:{}/-/ready", self.ports.prometheus);
        self.wait_ready(&url).await;
    }

    /// The gateway collector: the shipped otel-collector.yaml, then an overlay that moves its listeners (OTLP,
    /// health_check, pprof, zpages, the self-metrics reader) to this run's loopback ports. The reader is the
    /// shipped one with only `host` and `port` changed (a later `--config` replaces lists whole). Backends come
    /// through the file's own `${env:...}` endpoints: Jaeger for Tempo, Prometheus, the log sink for Loki.
    async fn start_collector(&mut self) {
        self.start_collector_with(&[], Value::Null).await;
    }

    /// Stops the collector and starts it again with some of its `${env:...}` endpoints overridden (fault
    /// injection); the listeners stay where they were.
    pub async fn restart_collector(&mut self, overrides: &[(&'static str, String)]) {
        self.restart_collector_with_exporters(overrides, Value::Null).await;
    }

    /// As [`Stack::restart_collector`], with `exporters` (a map of exporter id to settings) merged into the
    /// shipped exporters' settings by the overlay (the collector merges maps key by key).
    pub async fn restart_collector_with_exporters(&mut self, overrides: &[(&'static str, String)], exporters: Value) {
        let i = self.procs.iter().position(|p| p.name == "collector").expect("the collector runs");
        let mut old = self.procs.remove(i);
        old.stop();
        self.start_collector_with(overrides, exporters).await;
    }

    /// A loopback port that accepts TCP connections and never answers on them (a backend that hangs), open until
    /// the test's runtime ends.
    pub async fn blackhole() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        port
    }

    /// Stops the collector for good (the gateway-down fault); its log stays in the run's directory.
    pub fn stop_collector(&mut self) {
        let i = self.procs.iter().position(|p| p.name == "collector").expect("the collector runs");
        self.procs.remove(i).stop();
    }

    async fn start_collector_with(&mut self, overrides: &[(&'static str, String)], exporters: Value) {
        let shipped = to_json(&yaml("collector-config/otel-collector.yaml"));
        let mut readers = shipped["service"]["telemetry"]["metrics"]["readers"].clone();
        let reader = &mut readers[0]["pull"]["exporter"]["prometheus"];
        assert!(reader.is_object(), "otel-collector.yaml has no pull Prometheus reader");
        reader["host"] = json!("127.0.0.1");
        reader["port"] = json!(self.ports.collector_metrics);
        let loopback = |port: u16| json!({"endpoint": format!("127.0.0.1:{port}")});
        let mut overlay = json!({
            "extensions": {
                "health_check": loopback(self.ports.collector_health),
                "pprof": loopback(free_port()),
                "zpages": loopback(free_port()),
            },
            "receivers": {"otlp": {"protocols": {"grpc": loopback(self.ports.otlp_grpc), "http": loopback(self.ports.otlp_http)}}},
            "service": {"telemetry": {"metrics": {"readers": readers}}}
        });
        if !exporters.is_null() {
            overlay["exporters"] = exporters;
        }
        let path = self.write("collector-overlay.yaml", &overlay);
        self.collector_env = vec![
            ("OTELCOL_QUEUE_DIR", self.dir.join("queue").display().to_string()),
            ("OTELCOL_TEMPO_ENDPOINT", format!("127.0.0.1:{}", self.ports.jaeger_otlp)),
            ("OTELCOL_PROMETHEUS_OTLP_ENDPOINT", format!("http://127.0.0.1:{}/api/v1/otlp", self.ports.prometheus)),
            ("OTELCOL_LOKI_OTLP_ENDPOINT", self.logs.http_endpoint()),
            // The demo's slow requests take ~250 ms (recommender's SLOW_TOPIC); the shipped 500 ms default is
            // for production traffic. This is the knob the file exposes for it.
            ("OTELCOL_SLOW_TRACE_MS", "200".to_owned()),
        ];
        let args = vec![
            format!("--config={}", root().join("collector-config/otel-collector.yaml").display()),
            format!("--config={}", path.display()),
        ];
        let mut env = self.collector_env.clone();
        for (k, v) in overrides {
            env.retain(|(key, _)| key != k);
            env.push((k, v.clone()));
        }
        self.procs.push(Proc::spawn("collector", &self.dir, &self.tools.otelcol, &args, &env));
        let url = format!("http://127.0.0.1:{}/", self.ports.collector_health);
        self.wait_ready(&url).await;
    }

    /// Waits until Alertmanager has delivered `key` (see [`Webhook::alerts`]) as firing to the webhook; false when
    /// `within` passes.
    pub async fn wait_alert(&self, key: &str, within: Duration) -> bool {
        self.wait_alert_since(key, 0, within).await
    }

    /// As [`Stack::wait_alert`], counting only notifications after [`Webhook::mark`] `mark`: an alert that fired and
    /// resolved before is notified again when it fires again.
    pub async fn wait_alert_since(&self, key: &str, mark: usize, within: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < within {
            if self.webhook.alerts_since(mark).iter().any(|(k, status)| k == key && status == "firing") {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        false
    }

    /// Names of the alerts Prometheus has firing now (`GET /api/v1/alerts`), for failure messages.
    pub async fn firing(&self) -> Vec<String> {
        let url = format!("http://127.0.0.1:{}/api/v1/alerts", self.ports.prometheus);
        let Ok(r) = self.http.get(url).send().await else { return Vec::new() };
        let v: Value = serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or_default();
        v["data"]["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                format!("{} ({})", a["labels"]["alertname"].as_str().unwrap_or("?"), a["state"].as_str().unwrap_or("?"))
            })
            .collect()
    }

    /// The collector's OTLP/gRPC endpoint, for the services.
    pub fn otlp_grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.otlp_grpc)
    }

    /// The log of a process (by name), for failure messages.
    pub fn log_tail(&self, name: &str) -> String {
        self.procs.iter().find(|p| p.name == name).map(Proc::tail).unwrap_or_default()
    }

    /// A POST to Prometheus' HTTP API at `path` with a form `body`: the `data` of a `"success"` answer, or why not.
    async fn prometheus_api(&self, path: &str, body: String) -> Result<Value, String> {
        let url = format!("http://127.0.0.1:{}{path}", self.ports.prometheus);
        let response = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let text = response.text().await.map_err(|e| e.to_string())?;
        let mut v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        if v["status"] != "success" {
            return Err(format!("{}: {}", v["errorType"], v["error"]));
        }
        Ok(v["data"].take())
    }

    /// An instant PromQL query against the real Prometheus; the `data.result` array, or the error text.
    pub async fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let data = self.prometheus_api("/api/v1/query", format!("query={}", percent_encode(promql))).await?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// Exemplars of the series `promql` selects between `start` and `end` (Unix seconds), as
    /// `(trace_id, timestamp)` from `GET /api/v1/query_exemplars`.
    pub async fn exemplars(&self, promql: &str, start: f64, end: f64) -> Result<Vec<(String, f64)>, String> {
        let body = format!("query={}&start={start}&end={end}", percent_encode(promql));
        let data = self.prometheus_api("/api/v1/query_exemplars", body).await?;
        Ok(data
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["exemplars"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| Some((e["labels"]["trace_id"].as_str()?.to_owned(), e["timestamp"].as_f64()?)))
            .collect())
    }

    /// A trace from Jaeger's query API (`GET /api/traces/{id}`): `None` when Jaeger does not have it.
    pub async fn jaeger_trace(&self, trace_id: &str) -> Option<Value> {
        let url = format!("http://127.0.0.1:{}/api/traces/{trace_id}", self.ports.jaeger_query);
        let response = self.http.get(url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let v: Value = serde_json::from_str(&response.text().await.ok()?).ok()?;
        v["data"].as_array()?.first().cloned()
    }
}

/// `application/x-www-form-urlencoded` encoding of a form value.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Service names in a Jaeger trace (`processes[*].serviceName`).
pub fn trace_services(trace: &Value) -> std::collections::BTreeSet<String> {
    trace["processes"]
        .as_object()
        .map(|p| p.values().filter_map(|v| v["serviceName"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

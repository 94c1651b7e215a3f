//! docker-compose.yml against everything it runs, without Docker: pinned images; a healthcheck that can work in
//! each image (no shell in the collector, Loki or Tempo images); every `host:port` any config or URL names is a
//! compose service (or alias) listening on that port according to ITS config; bind mounts and the config paths
//! passed on command lines exist; Prometheus, Tempo, Loki and Grafana agree with each other and with the
//! collector; the Dockerfile builds what compose asks for; the AWS override adds the overlay.

use std::collections::{BTreeMap, BTreeSet};

use crate::collector_support::*;
use yaml_rust2::Yaml;

fn compose() -> Yaml {
    yaml("docker-compose.yml")
}

fn services(compose: &Yaml) -> Vec<(String, &Yaml)> {
    entries(&compose["services"])
}

/// A service's environment as a map, with YAML merge keys (`<<: *anchor`) applied.
fn environment(service: &Yaml) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match &service["environment"] {
        Yaml::Hash(_) => {
            for (k, v) in entries(&service["environment"]) {
                if k == "<<" {
                    for (k2, v2) in entries(v) {
                        out.entry(k2).or_insert_with(|| scalar(v2).unwrap_or_default());
                    }
                } else {
                    out.insert(k, scalar(v).unwrap_or_default());
                }
            }
        }
        Yaml::Array(items) => {
            for item in items.iter().filter_map(scalar) {
                let (k, v) = item.split_once('=').unwrap_or((&item, ""));
                out.insert(k.to_owned(), v.to_owned());
            }
        }
        _ => {}
    }
    out
}

/// The command of a service as a list of strings.
fn command(service: &Yaml) -> Vec<String> {
    match &service["command"] {
        Yaml::Array(_) => strings(&service["command"]),
        y => scalar(y).map(|s| s.split_whitespace().map(str::to_owned).collect()).unwrap_or_default(),
    }
}

/// `(source, target)` of every volume entry.
fn volumes(service: &Yaml) -> Vec<(String, String)> {
    strings(&service["volumes"])
        .into_iter()
        .map(|v| {
            let parts: Vec<&str> = v.split(':').collect();
            (parts[0].to_owned(), parts.get(1).copied().unwrap_or_default().to_owned())
        })
        .collect()
}

/// Ports a collector config listens on (receivers, health_check, self-metrics); loopback-only endpoints excluded.
fn collector_ports(config: &Yaml) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for (_, receiver) in entries(&config["receivers"]) {
        for (_, proto) in entries(&receiver["protocols"]) {
            ports.extend(scalar(&proto["endpoint"]).and_then(|e| host_port(&e)).map(|(_, p)| p));
        }
    }
    for (_, ext) in entries(&config["extensions"]) {
        if let Some((host, port)) = scalar(&ext["endpoint"]).and_then(|e| host_port(&e))
            && host != "localhost"
            && host != "127.0.0.1"
        {
            ports.insert(port);
        }
    }
    for reader in config["service"]["telemetry"]["metrics"]["readers"].as_vec().into_iter().flatten() {
        ports.extend(reader["pull"]["exporter"]["prometheus"]["port"].as_i64().map(|p| p as u16));
    }
    ports
}

/// What each compose service listens on, derived from the configs it runs (not from compose itself).
fn listening(compose: &Yaml) -> BTreeMap<String, BTreeSet<u16>> {
    let tempo = yaml("collector-config/tempo/tempo.yaml");
    let loki = yaml("collector-config/loki/loki.yaml");
    let mut map = BTreeMap::new();
    for (name, svc) in services(compose) {
        let cmd = command(svc).join(" ");
        let env = environment(svc);
        let ports: BTreeSet<u16> = if cmd.contains("otel-collector.yaml") {
            collector_ports(&yaml("collector-config/otel-collector.yaml"))
        } else if cmd.contains("agent.yaml") {
            collector_ports(&yaml("collector-config/agent.yaml"))
        } else if name == "tempo" {
            let mut p: BTreeSet<u16> = [tempo["server"]["http_listen_port"].as_i64().unwrap() as u16].into();
            for (_, proto) in entries(&tempo["distributor"]["receivers"]["otlp"]["protocols"]) {
                p.extend(scalar(&proto["endpoint"]).and_then(|e| host_port(&e)).map(|(_, p)| p));
            }
            p
        } else if name == "loki" {
            [loki["server"]["http_listen_port"].as_i64().unwrap() as u16].into()
        } else if name == "prometheus" {
            assert!(!cmd.contains("--web.listen-address"), "update this test for a non-default Prometheus port");
            [9090].into()
        } else if name == "alertmanager" {
            assert!(!cmd.contains("--web.listen-address"), "update this test for a non-default Alertmanager port");
            [9093].into()
        } else if name == "grafana" {
            assert!(!env.contains_key("GF_SERVER_HTTP_PORT"));
            [3000].into()
        } else if name == "postgres" {
            [5432].into()
        } else if name == "redis" {
            [6379].into()
        } else {
            // Our services: the address they are told to bind.
            env.iter().filter(|(k, _)| k.ends_with("_ADDR")).filter_map(|(_, v)| host_port(v).map(|(_, p)| p)).collect()
        };
        map.insert(name, ports);
    }
    map
}

/// Network aliases -> services.
fn aliases(compose: &Yaml) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, svc) in services(compose) {
        out.entry(name.clone()).or_default().insert(name.clone());
        for (_, net) in entries(&svc["networks"]) {
            for alias in strings(&net["aliases"]) {
                out.entry(alias).or_default().insert(name.clone());
            }
        }
    }
    out
}

/// Checks that `endpoint`, seen from service `from`, names a service listening on that port.
fn check_endpoint(compose: &Yaml, from: &str, endpoint: &str, whence: &str, problems: &mut Vec<String>) {
    let Some((host, port)) = host_port(endpoint) else {
        problems.push(format!("{whence}: cannot read host:port from {endpoint:?}"));
        return;
    };
    let listening = listening(compose);
    let targets: Vec<String> = if ["localhost", "127.0.0.1"].contains(&host.as_str()) {
        vec![from.to_owned()]
    } else {
        match aliases(compose).get(&host) {
            Some(s) => s.iter().cloned().collect(),
            None => {
                problems.push(format!("{whence}: host {host:?} is not a compose service or alias"));
                return;
            }
        }
    };
    for t in targets {
        let ports = &listening[&t];
        if !ports.contains(&port) {
            problems.push(format!("{whence}: {host}:{port} but {t} listens on {ports:?}"));
        }
    }
}

/// `user:pass@host:port` URLs: keep the part after `@`.
fn strip_userinfo(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://{}", &url[at + 1..]),
        _ => url.to_owned(),
    }
}

#[test]
fn images_are_pinned_to_the_versions_issue_7_names() {
    let compose = compose();
    // The collector image runs the release the stack tests build (tests/stack/versions.env), so what the tests
    // prove holds for what docker compose runs.
    let versions = read("tests/stack/versions.env");
    let otelcol = versions
        .lines()
        .find_map(|l| l.strip_prefix("OTELCOL_VERSION="))
        .expect("tests/stack/versions.env pins OTELCOL_VERSION")
        .trim();
    // Alertmanager runs the release whose amtool checks its config (tests/stack/validate.sh).
    let alertmanager = versions
        .lines()
        .find_map(|l| l.strip_prefix("ALERTMANAGER_VERSION="))
        .expect("tests/stack/versions.env pins ALERTMANAGER_VERSION")
        .trim();
    let alertmanager = format!("v{alertmanager}");
    let expected = [
        ("otel/opentelemetry-collector-contrib:", otelcol),
        ("prom/prometheus:", "v3."),
        ("prom/alertmanager:", alertmanager.as_str()),
        ("grafana/tempo:", "3."),
        ("grafana/loki:", "3."),
        ("grafana/grafana:", "13."),
        ("postgres:", ""),
        ("redis:", ""),
        ("grafana/k6:", ""),
    ];
    let mut seen = BTreeSet::new();
    for (name, svc) in services(&compose) {
        let Some(image) = scalar(&svc["image"]) else {
            assert!(!svc["build"].is_badvalue(), "{name}: neither image nor build");
            continue;
        };
        if !svc["build"].is_badvalue() {
            assert!(image.starts_with("otelwright/"), "{name}: a built image is named otelwright/*: {image}");
            continue;
        }
        let (_, tag) = image.rsplit_once(':').unwrap_or_else(|| panic!("{name}: {image} has no tag"));
        assert!(tag != "latest" && tag.chars().any(|c| c.is_ascii_digit()), "{name}: {image} is not pinned");
        assert!(tag.matches('.').count() >= 1, "{name}: {image}: pin a minor version at least");
        let (prefix, version) = expected
            .iter()
            .find(|(p, _)| image.starts_with(p))
            .unwrap_or_else(|| panic!("{name}: unexpected image {image}"));
        assert!(tag.starts_with(version), "{name}: {image}, expected {prefix}{version}*");
        seen.insert(*prefix);
    }
    assert_eq!(seen.len(), expected.len(), "every expected image is used: {seen:?}");
}

#[test]
fn every_long_running_service_has_a_healthcheck_that_works_in_its_image() {
    let compose = compose();
    let shellless = ["otel/opentelemetry-collector-contrib:", "grafana/tempo:", "grafana/loki:"];
    let all: BTreeSet<String> = services(&compose).into_iter().map(|(n, _)| n).collect();
    for (name, svc) in services(&compose) {
        if name == "init" || name == "loadgen" {
            continue; // a one-shot copier and a pure client
        }
        let test = strings(&svc["healthcheck"]["test"]);
        assert!(!test.is_empty(), "{name}: no healthcheck");
        assert_eq!(test[0], "CMD", "{name}: use the exec form (CMD), no shell: {test:?}");
        let image = scalar(&svc["image"]).unwrap_or_default();
        let exe = &test[1];
        if exe.starts_with("/probe/") {
            let mounted = volumes(svc).iter().any(|(src, dst)| src == "healthcheck" && dst == "/probe");
            assert!(mounted, "{name}: runs {exe} without mounting the healthcheck volume at /probe");
            let init = &svc["depends_on"]["init"]["condition"];
            assert_eq!(scalar(init).as_deref(), Some("service_completed_successfully"), "{name}: wait for init");
        } else if shellless.iter().any(|p| image.starts_with(p)) {
            assert!(
                image.starts_with("grafana/tempo:") && exe == "/tempo" && test.contains(&"-health".to_owned()),
                "{name}: {image} has no shell/curl/wget; use /probe/healthcheck (or tempo -health): {test:?}"
            );
        }
        for (dep, cond) in entries(&svc["depends_on"]) {
            assert!(all.contains(&dep), "{name}: depends_on unknown {dep}");
            if scalar(&cond["condition"]).as_deref() == Some("service_healthy") {
                let target = &compose["services"][dep.as_str()];
                assert!(!target["healthcheck"].is_badvalue(), "{name} waits for {dep} to be healthy: no healthcheck");
            }
        }
    }
    // The image that provides the probe copies it into the volume.
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("AS healthcheck") && dockerfile.contains("/probe/healthcheck"));
    assert!(dockerfile.contains("+crt-static"), "the probe must be static to run in a FROM scratch image");
}

#[test]
fn every_host_and_port_agrees_across_compose_and_the_configs() {
    let compose = compose();
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut check = |from: &str, endpoint: &str, whence: &str, problems: &mut Vec<String>| {
        checked += 1;
        check_endpoint(&compose, from, &strip_userinfo(&with_defaults(endpoint)), whence, problems);
    };

    // The collectors' exporters.
    for (service, rel) in
        [("otel-collector", "collector-config/otel-collector.yaml"), ("otel-agent", "collector-config/agent.yaml")]
    {
        let config = yaml(rel);
        for (id, exporter) in entries(&config["exporters"]) {
            if let Some(e) = scalar(&exporter["endpoint"]) {
                check(service, &e, &format!("{rel} exporters.{id}"), &mut problems);
            }
            let dns = &exporter["resolver"]["dns"];
            if let (Some(h), Some(p)) = (scalar(&dns["hostname"]), scalar(&dns["port"])) {
                check(service, &format!("{h}:{p}"), &format!("{rel} exporters.{id}.resolver"), &mut problems);
            }
        }
    }

    // Prometheus scrape targets.
    let prom = yaml("collector-config/prometheus/prometheus.yml");
    for job in prom["scrape_configs"].as_vec().unwrap() {
        let name = scalar(&job["job_name"]).unwrap();
        for sc in job["static_configs"].as_vec().into_iter().flatten() {
            for t in strings(&sc["targets"]) {
                check("prometheus", &t, &format!("prometheus.yml job {name}"), &mut problems);
            }
        }
        for sd in job["dns_sd_configs"].as_vec().into_iter().flatten() {
            let port = sd["port"].as_i64().unwrap();
            for n in strings(&sd["names"]) {
                check("prometheus", &format!("{n}:{port}"), &format!("prometheus.yml job {name} (dns)"), &mut problems);
            }
        }
    }

    // Prometheus' Alertmanagers.
    for am in prom["alerting"]["alertmanagers"].as_vec().into_iter().flatten() {
        for sc in am["static_configs"].as_vec().into_iter().flatten() {
            for t in strings(&sc["targets"]) {
                check("prometheus", &t, "prometheus.yml alerting", &mut problems);
            }
        }
    }

    // Tempo's remote write, Grafana's datasources.
    let tempo = yaml("collector-config/tempo/tempo.yaml");
    for rw in tempo["metrics_generator"]["storage"]["remote_write"].as_vec().unwrap() {
        check("tempo", &scalar(&rw["url"]).unwrap(), "tempo.yaml remote_write", &mut problems);
    }
    let ds = yaml("collector-config/grafana/provisioning/datasources/datasources.yaml");
    for d in ds["datasources"].as_vec().unwrap() {
        let url = scalar(&d["url"]).unwrap();
        check("grafana", &url, &format!("datasource {}", scalar(&d["name"]).unwrap()), &mut problems);
    }

    // Compose itself: URLs in environments, healthchecks, published ports.
    let listening = listening(&compose);
    for (name, svc) in services(&compose) {
        for (k, v) in environment(svc) {
            if v.contains("://") {
                check(&name, &v, &format!("compose {name} {k}"), &mut problems);
            }
        }
        for arg in strings(&svc["healthcheck"]["test"]).iter().skip(1) {
            let url = arg.split_once("-health.url=").map_or(arg.as_str(), |(_, u)| u);
            if url.contains("://") {
                check(&name, url, &format!("compose {name} healthcheck"), &mut problems);
            }
        }
        for p in strings(&svc["ports"]).into_iter().chain(strings(&svc["expose"])) {
            let container: u16 = p.rsplit(':').next().unwrap().split('/').next().unwrap().parse().unwrap();
            if !listening[&name].contains(&container) {
                problems.push(format!("compose {name}: publishes {p} but listens on {:?}", listening[&name]));
            }
        }
    }
    // The load generator's default target.
    let script = read("collector-config/loadgen/loadgen.js");
    let default = script.split("__ENV.BASE_URL || '").nth(1).and_then(|s| s.split('\'').next()).unwrap();
    check("loadgen", default, "loadgen.js BASE_URL default", &mut problems);

    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    assert!(checked >= 25, "only {checked} endpoints checked");
}

#[test]
fn mounts_and_config_paths_exist() {
    let compose = compose();
    let declared: BTreeSet<String> = keys(&compose["volumes"]).into_iter().collect();
    for (name, svc) in services(&compose) {
        let vols = volumes(svc);
        for (src, _) in &vols {
            if src.starts_with("./") || src.starts_with('/') {
                assert!(root().join(src).exists(), "{name}: bind mount source {src} does not exist");
            } else {
                assert!(declared.contains(src), "{name}: named volume {src} is not declared");
            }
        }
        // Every absolute path on the command line lives in a bind-mounted file or directory that exists.
        for arg in command(svc) {
            let path = arg.split_once('=').map_or(arg.as_str(), |(_, p)| p);
            if !path.starts_with("/etc/") {
                continue;
            }
            let (src, dst) = vols
                .iter()
                .filter(|(s, d)| s.starts_with("./") && path.starts_with(d.as_str()))
                .max_by_key(|(_, d)| d.len())
                .unwrap_or_else(|| panic!("{name}: {path} is not mounted"));
            let rest = path[dst.len()..].trim_start_matches('/');
            let file = if rest.is_empty() { root().join(src) } else { root().join(src).join(rest) };
            assert!(file.is_file(), "{name}: {path} -> {} does not exist", file.display());
        }
    }
    // Grafana: the dashboard provider reads where compose mounts the dashboards, and the home dashboard exists.
    let grafana = &compose["services"]["grafana"];
    let provider = yaml("collector-config/grafana/provisioning/dashboards/dashboards.yaml");
    let path = scalar(&provider["providers"][0]["options"]["path"]).unwrap();
    let mount =
        volumes(grafana).into_iter().find(|(_, d)| *d == path).expect("dashboards mounted at the provider path");
    assert_eq!(mount.0, "./collector-config/grafana/dashboards");
    assert!(
        volumes(grafana)
            .iter()
            .any(|(s, d)| s == "./collector-config/grafana/provisioning" && d == "/etc/grafana/provisioning")
    );
    let home = environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].clone();
    let home_file = home.strip_prefix(&format!("{path}/")).unwrap();
    assert!(root().join("collector-config/grafana/dashboards").join(home_file).is_file(), "{home}");
}

#[test]
fn known_compose_keys_only() {
    // The service keys of the Compose Specification this file may use (a typo would be ignored by nothing:
    // `docker compose` rejects unknown keys, and no Docker runs here to say so).
    let allowed: BTreeSet<&str> = [
        "image",
        "build",
        "command",
        "entrypoint",
        "environment",
        "env_file",
        "volumes",
        "ports",
        "expose",
        "networks",
        "depends_on",
        "healthcheck",
        "restart",
        "profiles",
        "user",
        "working_dir",
        "labels",
        "logging",
        "deploy",
        "ulimits",
        "mem_limit",
        "cpus",
        "stop_grace_period",
        "configs",
    ]
    .into();
    for rel in ["docker-compose.yml", "collector-config/docker-compose.aws.yml"] {
        let doc = yaml(rel);
        for key in keys(&doc) {
            assert!(
                ["services", "volumes", "configs"].contains(&key.as_str()) || key.starts_with("x-"),
                "{rel}: top-level {key}"
            );
        }
        for (name, svc) in services(&doc) {
            for key in keys(svc) {
                assert!(allowed.contains(key.as_str()), "{rel}: {name}.{key} is not a compose service key");
            }
            for key in keys(&svc["healthcheck"]) {
                assert!(["test", "interval", "timeout", "start_period", "retries"].contains(&key.as_str()));
            }
        }
    }
}

#[test]
fn prometheus_runs_with_otlp_exemplars_and_remote_write() {
    let compose = compose();
    let cmd = command(&compose["services"]["prometheus"]);
    for flag in
        ["--web.enable-otlp-receiver", "--enable-feature=exemplar-storage", "--web.enable-remote-write-receiver"]
    {
        assert!(cmd.contains(&flag.to_owned()), "prometheus lacks {flag}: {cmd:?}");
    }
    let prom = yaml("collector-config/prometheus/prometheus.yml");
    // Prometheus 3 OTLP settings (config/config.go OTLPConfig); alerts_promtool.rs also has promtool 3 check them.
    let otlp_keys = [
        "promote_all_resource_attributes",
        "promote_resource_attributes",
        "ignore_resource_attributes",
        "translation_strategy",
        "keep_identifying_resource_attributes",
        "convert_histograms_to_nhcb",
        "promote_scope_metadata",
        "label_name_underscore_sanitization",
        "label_name_preserve_multiple_underscores",
    ];
    for key in keys(&prom["otlp"]) {
        assert!(otlp_keys.contains(&key.as_str()), "prometheus.yml otlp.{key} is not a Prometheus 3 setting");
    }
    let promoted = strings(&prom["otlp"]["promote_resource_attributes"]);
    let unique: BTreeSet<&String> = promoted.iter().collect();
    assert!(!promoted.is_empty() && unique.len() == promoted.len(), "promoted attributes: {promoted:?}");
    assert_eq!(scalar(&prom["otlp"]["translation_strategy"]).as_deref(), Some("UnderscoreEscapingWithSuffixes"));
    assert!(scalar(&prom["storage"]["tsdb"]["out_of_order_time_window"]).is_some(), "out-of-order window");
    assert!(prom["storage"]["exemplars"]["max_exemplars"].as_i64().is_some_and(|n| n > 0));
    let rules = strings(&prom["rule_files"]);
    assert_eq!(rules, ["rules/*.yml"]);
    assert!(!files_under("collector-config/prometheus/rules", &[".yml"]).is_empty());
    // The collector's OTLP exporter and Tempo's remote write hit the paths those flags open.
    let gateway = yaml("collector-config/otel-collector.yaml");
    let endpoint = with_defaults(&scalar(&gateway["exporters"]["otlp_http/prometheus"]["endpoint"]).unwrap());
    assert!(endpoint.ends_with("/api/v1/otlp"), "{endpoint}");
    let tempo = yaml("collector-config/tempo/tempo.yaml");
    let rw = scalar(&tempo["metrics_generator"]["storage"]["remote_write"][0]["url"]).unwrap();
    assert!(rw.ends_with("/api/v1/write"), "{rw}");
}

#[test]
fn tempo_and_loki_are_configured_for_this_pipeline() {
    let tempo = yaml("collector-config/tempo/tempo.yaml");
    let processors = strings(&tempo["overrides"]["defaults"]["metrics_generator"]["processors"]);
    assert!(processors.contains(&"service-graphs".to_owned()), "the service map needs service-graphs");
    assert!(!processors.contains(&"span-metrics".to_owned()), "ONE RED source: the collector's span_metrics");
    for (proto, p) in entries(&tempo["distributor"]["receivers"]["otlp"]["protocols"]) {
        let endpoint = scalar(&p["endpoint"]).unwrap();
        assert!(endpoint.starts_with("0.0.0.0:"), "tempo otlp {proto} binds {endpoint}");
    }
    assert_eq!(scalar(&tempo["storage"]["trace"]["backend"]).as_deref(), Some("local"));
    let compose = compose();
    let cmd = command(&compose["services"]["tempo"]);
    assert!(cmd.contains(&"-target=all".to_owned()), "Tempo 3 monolithic mode (no Kafka): {cmd:?}");

    let loki = yaml("collector-config/loki/loki.yaml");
    assert_eq!(loki["auth_enabled"].as_bool(), Some(false), "the collector sends no tenant header");
    assert_eq!(loki["limits_config"]["allow_structured_metadata"].as_bool(), Some(true), "OTLP needs it");
    let schema = &loki["schema_config"]["configs"][0];
    assert_eq!(
        (scalar(&schema["store"]).as_deref(), scalar(&schema["schema"]).as_deref()),
        (Some("tsdb"), Some("v13"))
    );
}

#[test]
fn grafana_datasources_link_metrics_traces_and_logs() {
    let rel = "collector-config/grafana/provisioning/datasources/datasources.yaml";
    let text = read(rel);
    // Grafana expands $VAR / ${VAR} in provisioning files: every literal $ is written $$.
    let mut rest = text.as_str();
    while let Some(i) = rest.find('$') {
        assert_eq!(
            rest.as_bytes().get(i + 1),
            Some(&b'$'),
            "{rel}: unescaped $ near {:?}",
            &rest[i..(i + 20).min(rest.len())]
        );
        rest = &rest[i + 2..];
    }
    let ds = yaml(rel);
    let by_uid: BTreeMap<String, &Yaml> =
        ds["datasources"].as_vec().unwrap().iter().map(|d| (scalar(&d["uid"]).unwrap(), d)).collect();
    let types: BTreeMap<&str, String> =
        by_uid.iter().map(|(uid, d)| (uid.as_str(), scalar(&d["type"]).unwrap())).collect();
    assert_eq!(
        types,
        BTreeMap::from([("loki", "loki".into()), ("prometheus", "prometheus".into()), ("tempo", "tempo".into())])
    );
    let prom = &by_uid["prometheus"]["jsonData"];
    assert_eq!(scalar(&prom["exemplarTraceIdDestinations"][0]["datasourceUid"]).as_deref(), Some("tempo"));
    assert_eq!(scalar(&prom["exemplarTraceIdDestinations"][0]["name"]).as_deref(), Some("trace_id"));
    let tempo = &by_uid["tempo"]["jsonData"];
    assert_eq!(scalar(&tempo["tracesToLogsV2"]["datasourceUid"]).as_deref(), Some("loki"));
    assert!(scalar(&tempo["tracesToLogsV2"]["query"]).unwrap().contains("trace_id"));
    // Loki 3 OTLP: the stream label is service_name.
    assert_eq!(scalar(&tempo["tracesToLogsV2"]["tags"][0]["value"]).as_deref(), Some("service_name"));
    assert_eq!(scalar(&tempo["tracesToMetrics"]["datasourceUid"]).as_deref(), Some("prometheus"));
    assert!(tempo["tracesToMetrics"]["queries"].as_vec().is_some_and(|q| !q.is_empty()));
    assert_eq!(scalar(&tempo["serviceMap"]["datasourceUid"]).as_deref(), Some("prometheus"));
    assert_eq!(tempo["nodeGraph"]["enabled"].as_bool(), Some(true));
    let loki = &by_uid["loki"]["jsonData"]["derivedFields"][0];
    assert_eq!(scalar(&loki["datasourceUid"]).as_deref(), Some("tempo"));
    assert_eq!(scalar(&loki["matcherType"]).as_deref(), Some("label"));
}

#[test]
fn dockerfile_builds_what_compose_runs() {
    let dockerfile = read("Dockerfile");
    let stages: BTreeSet<String> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .filter_map(|l| l.split(" AS ").nth(1).map(|s| s.trim().to_owned()))
        .collect();
    for stage in ["build", "probe", "healthcheck", "runtime", "health-agent", "recommender"] {
        assert!(stages.contains(stage), "Dockerfile has no stage {stage}: {stages:?}");
    }
    assert!(
        dockerfile.contains("cargo build --release --locked -p health-agent -p recommender"),
        "the services are the workspace's release binaries"
    );
    for port in ["EXPOSE 8000", "EXPOSE 50051"] {
        assert!(dockerfile.contains(port), "{port}");
    }
    let compose = compose();
    for (name, svc) in services(&compose) {
        if let Some(target) = scalar(&svc["build"]["target"]) {
            assert!(stages.contains(&target), "{name}: build target {target} is not a Dockerfile stage");
            assert_eq!(scalar(&svc["build"]["context"]).as_deref(), Some("."), "{name}: build context");
        }
    }
    // The runtime stages are non-root and the probe's source is in the build context.
    assert!(dockerfile.contains("USER 10001"));
    let ignore = read(".dockerignore");
    assert!(!ignore.lines().any(|l| l.trim() == "collector-config" || l.trim() == "collector-config/healthcheck"));
    assert!(ignore.lines().any(|l| l.trim() == "target"), ".dockerignore keeps target/ out of the context");
}

#[test]
fn the_aws_override_adds_the_overlay_to_every_gateway() {
    let base = compose();
    let over = yaml("collector-config/docker-compose.aws.yml");
    let gateways: Vec<String> = services(&base)
        .into_iter()
        .filter(|(_, s)| command(s).iter().any(|a| a.ends_with("/otel-collector.yaml")))
        .map(|(n, _)| n)
        .collect();
    assert!(gateways.len() >= 2, "{gateways:?}");
    for g in &gateways {
        let svc = &over["services"][g.as_str()];
        let cmd = command(svc);
        assert_eq!(cmd.len(), 2, "{g}: both --config files: {cmd:?}");
        assert_eq!(cmd[0], command(&base["services"][g.as_str()])[0], "{g}: the base config comes first");
        assert!(cmd[1].ends_with("/aws.yaml"));
        let vols = volumes(svc);
        let (src, dst) = vols.iter().find(|(_, d)| cmd[1].ends_with(d.as_str())).expect("aws.yaml mounted");
        assert!(root().join(src).is_file() && cmd[1].contains(dst.as_str()));
        let env = environment(svc);
        assert!(env.contains_key("AWS_REGION"), "{g}: region");
        // Credentials pass through from the shell, never written here.
        for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            assert_eq!(env.get(k).map(String::as_str), Some(""), "{g}: {k} must be a bare pass-through");
        }
    }
}

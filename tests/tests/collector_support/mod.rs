//! Shared helpers for the collector_*, alerts_* and dashboards_* tests: repository paths, YAML access, the
//! collector config model, OTel -> Prometheus name translation, PromQL reference extraction and promtool lookup.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use promql_parser::parser::{self, Expr, LabelModifier};
use yaml_rust2::{Yaml, YamlLoader};

/// The repository root (the workspace directory above tests/).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Reads a repository file.
pub fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses a repository YAML file (its first document).
pub fn yaml(rel: &str) -> Yaml {
    parse_yaml(&read(rel), rel)
}

/// Parses YAML text (its first document).
pub fn parse_yaml(text: &str, what: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("{what}: invalid YAML: {e}"));
    assert!(!docs.is_empty(), "{what}: empty YAML");
    docs.swap_remove(0)
}

/// Files below `dir` (relative to the root) whose name ends with one of `exts`, sorted.
pub fn files_under(dir: &str, exts: &[&str]) -> Vec<String> {
    fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, exts, out);
            } else if exts.iter().any(|e| path.to_string_lossy().ends_with(e)) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), exts, &mut out);
    out.sort();
    let root = root();
    out.iter().map(|p| p.strip_prefix(&root).unwrap().to_string_lossy().into_owned()).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// YAML access
// ---------------------------------------------------------------------------------------------------------------

/// The entries of a mapping as (string key, value); empty for anything else.
pub fn entries(y: &Yaml) -> Vec<(String, &Yaml)> {
    match y {
        Yaml::Hash(h) => h.iter().map(|(k, v)| (scalar(k).unwrap_or_default(), v)).collect(),
        _ => Vec::new(),
    }
}

/// The keys of a mapping.
pub fn keys(y: &Yaml) -> Vec<String> {
    entries(y).into_iter().map(|(k, _)| k).collect()
}

/// A scalar rendered as a string (strings, numbers, booleans).
pub fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The items of a sequence rendered as strings (non-scalars are skipped).
pub fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec().map(|v| v.iter().filter_map(scalar).collect()).unwrap_or_default()
}

/// Follows a dotted path of mapping keys (keys themselves may contain dots only via `get`).
pub fn at<'a>(y: &'a Yaml, path: &[&str]) -> &'a Yaml {
    path.iter().fold(y, |node, key| &node[*key])
}

/// Every scalar string anywhere below `y`, with its key path.
pub fn all_scalars(y: &Yaml, path: &str, out: &mut Vec<(String, String)>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let key = scalar(k).unwrap_or_default();
                all_scalars(v, &format!("{path}.{key}"), out);
            }
        }
        Yaml::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                all_scalars(v, &format!("{path}[{i}]"), out);
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                out.push((path.to_owned(), s));
            }
        }
    }
}

/// Deep-merges `overlay` into `base` the way the collector merges several `--config` files: maps merge key by
/// key, everything else (lists included) is replaced.
pub fn merge(base: &Yaml, overlay: &Yaml) -> Yaml {
    match (base, overlay) {
        (Yaml::Hash(b), Yaml::Hash(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match b.get(k) {
                    Some(existing) => merge(existing, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Yaml::Hash(out)
        }
        (_, o) => o.clone(),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Collector config model
// ---------------------------------------------------------------------------------------------------------------

/// The five kinds of collector components, with their top-level section.
pub const KINDS: [(&str, &str); 5] = [
    ("receiver", "receivers"),
    ("processor", "processors"),
    ("exporter", "exporters"),
    ("connector", "connectors"),
    ("extension", "extensions"),
];

/// The type part of a component id (`otlp_grpc/tempo` -> `otlp_grpc`).
pub fn component_type(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

/// A pipeline of `service.pipelines`.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Its id, e.g. `traces/red`.
    pub name: String,
    /// Receiver (and connector) ids.
    pub receivers: Vec<String>,
    /// Processor ids, in order.
    pub processors: Vec<String>,
    /// Exporter (and connector) ids.
    pub exporters: Vec<String>,
}

impl Pipeline {
    /// The signal: `traces`, `metrics` or `logs`.
    pub fn signal(&self) -> &str {
        component_type(&self.name)
    }
}

/// The pipelines of a collector config.
pub fn pipelines(config: &Yaml) -> Vec<Pipeline> {
    entries(at(config, &["service", "pipelines"]))
        .into_iter()
        .map(|(name, p)| Pipeline {
            name,
            receivers: strings(&p["receivers"]),
            processors: strings(&p["processors"]),
            exporters: strings(&p["exporters"]),
        })
        .collect()
}

/// The component ids defined in `section` (e.g. `exporters`).
pub fn defined(config: &Yaml, section: &str) -> Vec<String> {
    keys(&config[section])
}

/// Known component types of contrib 0.159: (kind, type) -> deprecated alias of that type, if any.
pub fn contrib_components() -> BTreeMap<(String, String), Option<String>> {
    let text = read("tests/fixtures/collector/contrib-0.159-components.txt");
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert!(parts.len() == 2 || parts.len() == 3, "bad fixture line {line:?}");
        out.insert((parts[0].to_owned(), parts[1].to_owned()), parts.get(2).map(|s| s.to_string()));
    }
    out
}

/// Every `${...}` expansion in `text` (collector `${env:X:-d}` and compose `${X:-d}`), as the inside of the braces.
/// Whole-line `#` comments are skipped: they may quote the syntax.
pub fn expansions(text: &str) -> Vec<String> {
    let text: String = text.lines().filter(|l| !l.trim_start().starts_with('#')).map(|l| format!("{l}\n")).collect();
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("${") {
        // `$${` is an escaped dollar (Grafana, collector), not an expansion.
        let escaped = i > 0 && rest.as_bytes()[i - 1] == b'$';
        let after = &rest[i + 2..];
        let end = after.find('}').expect("unterminated ${");
        if !escaped {
            out.push(after[..end].to_owned());
        }
        rest = &after[end + 1..];
    }
    out
}

/// `host:port` of an endpoint such as `0.0.0.0:4317`, `tempo:4317` or `http://loki:3100/otlp`, after replacing
/// `${env:X:-default}` with its default.
pub fn host_port(endpoint: &str) -> Option<(String, u16)> {
    let endpoint = with_defaults(endpoint);
    let rest = endpoint.split_once("://").map_or(endpoint.as_str(), |(_, r)| r);
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}

/// Replaces every `${env:X:-default}` / `${X:-default}` with its default.
pub fn with_defaults(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').expect("unterminated ${");
        let inner = &after[..end];
        out.push_str(inner.split_once(":-").map_or("", |(_, d)| d));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------------------------
// OTel -> Prometheus names
// ---------------------------------------------------------------------------------------------------------------

/// How Prometheus classifies an OTLP metric for naming (otlptranslator `MetricType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromKind {
    /// A monotonic cumulative sum: gets `_total`.
    Counter,
    /// A non-monotonic sum (UpDownCounter): no suffix, and no `_ratio` either.
    UpDownCounter,
    /// A gauge: unit `1` gets `_ratio`.
    Gauge,
    /// An explicit-bucket histogram: `_bucket`, `_sum`, `_count`.
    Histogram,
}

/// Unit suffixes, from prometheus/otlptranslator `metric_namer.go` (`unitMap`).
fn unit_word(unit: &str) -> Option<&str> {
    Some(match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        _ => return None,
    })
}

/// "per" units, from `metric_namer.go` (`perUnitMap`).
fn per_unit_word(unit: &str) -> Option<&str> {
    Some(match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

fn valid_metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

/// Invalid characters to `_`, runs of `_` collapsed, leading `_` trimmed (`unit_namer.go` `cleanUpUnit`).
fn clean_up_unit(unit: &str) -> String {
    let mapped: String = unit.chars().map(|c| if valid_metric_char(c) { c } else { '_' }).collect();
    let mut out = String::new();
    for c in mapped.chars() {
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out.trim_start_matches('_').to_owned()
}

/// The Prometheus metric name Prometheus 3's OTLP receiver gives an OTel metric with the default
/// `UnderscoreEscapingWithSuffixes` strategy; for a histogram, the base name (add `_bucket`/`_sum`/`_count`).
///
/// A port of `normalizeName` in prometheus/otlptranslator `metric_namer.go` (with `buildUnitSuffixes` and
/// `cleanUpUnit` from `unit_namer.go`; commit 51da7739, the module Prometheus 3 vendors for
/// storage/remote/otlptranslator). The edge cases that matter here, as that source has them:
/// - the name is split into tokens on every character outside `[a-zA-Z0-9:]`, so `.` and `_` both separate and
///   runs collapse (`system.cpu.load_average.1m` -> `system_cpu_load_average_1m`);
/// - a unit in braces (`{request}`, `{connection}`) adds nothing; `1` adds nothing either;
/// - the unit word is appended only if it is not already a token (`otelcol_process_cpu_seconds` [s] keeps one
///   `seconds`);
/// - a monotonic counter loses every `total` token and gets one `_total` at the end;
/// - only a GAUGE with unit `1` gets `_ratio`, after removing any `ratio` token (`cache.hit_ratio` ->
///   `cache_hit_ratio`, not `cache_hit_ratio_ratio`); an UpDownCounter with unit `1` does not.
pub fn prometheus_name(name: &str, unit: &str, kind: PromKind) -> String {
    let mut tokens: Vec<String> =
        name.split(|c: char| !valid_metric_char(c)).filter(|t| !t.is_empty()).map(str::to_owned).collect();

    // buildUnitSuffixes
    let (main_otel, per_otel) = match unit.split_once('/') {
        Some((m, p)) => (m.trim(), Some(p.trim())),
        None => (unit.trim(), None),
    };
    let braces = |u: &str| u.contains('{') || u.contains('}');
    let mut main = if !main_otel.is_empty() && !braces(main_otel) {
        unit_word(main_otel).unwrap_or(main_otel).to_owned()
    } else {
        String::new()
    };
    let mut per = match per_otel {
        Some(p) if !p.is_empty() && !braces(p) => format!("per_{}", per_unit_word(p).unwrap_or(p)),
        _ => String::new(),
    };
    main = clean_up_unit(&main);
    per = clean_up_unit(&per);

    // addUnitTokens
    if tokens.contains(&main) {
        main.clear();
    }
    if per == "per_" {
        per.clear();
    } else {
        per = per.trim_end_matches('_').to_owned();
        if tokens.contains(&per) {
            per.clear();
        }
    }
    if !per.is_empty() {
        main = main.trim_end_matches('_').to_owned();
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }

    if kind == PromKind::Counter {
        tokens.retain(|t| t != "total");
        tokens.push("total".into());
    }
    if unit == "1" && kind == PromKind::Gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".into());
    }
    let joined = tokens.join("_");
    if joined.starts_with(|c: char| c.is_ascii_digit()) { format!("_{joined}") } else { joined }
}

/// The Prometheus label name of an OTel attribute key (otlptranslator `label_namer.go`: invalid characters to
/// `_`, runs collapsed, a leading digit prefixed with `key_`).
pub fn prometheus_label(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) { format!("key_{out}") } else { out }
}

/// Known Prometheus series names with the label names they can carry.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// name -> label names.
    pub series: BTreeMap<String, BTreeSet<String>>,
    /// name -> where the name comes from (for messages).
    pub origin: BTreeMap<String, String>,
}

impl Catalog {
    /// Adds a metric under its Prometheus name(s), with `labels` (histograms: `_bucket` also gets `le`).
    pub fn add(&mut self, base: &str, kind: PromKind, labels: &BTreeSet<String>, origin: &str) {
        let names: Vec<(String, bool)> = if kind == PromKind::Histogram {
            vec![(format!("{base}_bucket"), true), (format!("{base}_sum"), false), (format!("{base}_count"), false)]
        } else {
            vec![(base.to_owned(), false)]
        };
        for (name, le) in names {
            let set = self.series.entry(name.clone()).or_default();
            set.extend(labels.iter().cloned());
            if le {
                set.insert("le".into());
            }
            self.origin.entry(name).or_insert_with(|| origin.to_owned());
        }
    }

    /// Whether `name` is known.
    pub fn contains(&self, name: &str) -> bool {
        self.series.contains_key(name)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// PromQL references
// ---------------------------------------------------------------------------------------------------------------

/// Replaces Grafana variables so that an expression parses as PromQL: `$__rate_interval`, `$__interval`,
/// `$__range` become `5m`; `$__tags` (Tempo trace -> metrics) becomes `service_name="x"`; other `$var` /
/// `${var}` / `[[var]]` become `x`. Provisioning files escape `$` as `$$`: pass `escaped` to undo that first.
pub fn substitute_grafana_vars(expr: &str, escaped: bool) -> String {
    let mut s = if escaped { expr.replace("$$", "$") } else { expr.to_owned() };
    for v in ["$__rate_interval", "${__rate_interval}", "$__interval", "${__interval}", "$__range", "${__range}"] {
        s = s.replace(v, "5m");
    }
    s = s.replace("${__tags}", "service_name=\"x\"").replace("$__tags", "service_name=\"x\"");
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            if chars.peek() == Some(&'{') {
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                }
            } else {
                while chars.peek().is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    chars.next();
                }
            }
            out.push('x');
        } else {
            out.push(c);
        }
    }
    out
}

/// A metric referenced by an expression, with the label names its selector matches on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    /// The metric name.
    pub metric: String,
    /// Label names in the selector's matchers.
    pub matcher_labels: BTreeSet<String>,
}

/// What an expression uses: selectors, and the label names it groups by (`by (...)`, `on (...)`).
#[derive(Debug, Default, Clone)]
pub struct Usage {
    /// Every vector/matrix selector.
    pub references: Vec<Reference>,
    /// Label names used in `by (...)` of aggregations, with the metrics aggregated.
    pub grouping: Vec<(BTreeSet<String>, Vec<String>)>,
}

/// Parses `expr` (PromQL) and collects what it uses.
pub fn promql_usage(expr: &str) -> Result<Usage, String> {
    let ast = parser::parse(expr)?;
    let mut usage = Usage::default();
    walk(&ast, &mut usage);
    Ok(usage)
}

fn selector_names(e: &Expr) -> Vec<String> {
    let mut u = Usage::default();
    walk(e, &mut u);
    u.references.into_iter().map(|r| r.metric).collect()
}

fn walk(e: &Expr, u: &mut Usage) {
    match e {
        Expr::VectorSelector(vs) => push_selector(vs, u),
        Expr::MatrixSelector(ms) => push_selector(&ms.vs, u),
        Expr::Aggregate(a) => {
            if let Some(LabelModifier::Include(labels)) = &a.modifier {
                u.grouping.push((labels.labels.iter().cloned().collect(), selector_names(&a.expr)));
            }
            walk(&a.expr, u);
            if let Some(p) = &a.param {
                walk(p, u);
            }
        }
        Expr::Unary(x) => walk(&x.expr, u),
        Expr::Binary(b) => {
            walk(&b.lhs, u);
            walk(&b.rhs, u);
        }
        Expr::Paren(p) => walk(&p.expr, u),
        Expr::Subquery(s) => walk(&s.expr, u),
        Expr::Call(c) => {
            for arg in &c.args.args {
                walk(arg, u);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn push_selector(vs: &parser::VectorSelector, u: &mut Usage) {
    let mut name = vs.name.clone();
    let mut labels = BTreeSet::new();
    for m in vs.matchers.matchers.iter().chain(vs.matchers.or_matchers.iter().flatten()) {
        if m.name == "__name__" {
            name = Some(m.value.clone());
        } else {
            labels.insert(m.name.clone());
        }
    }
    u.references.push(Reference { metric: name.unwrap_or_default(), matcher_labels: labels });
}

/// Checks `expr` against `catalog`: every metric exists, every matcher and `by` label exists on the metrics it
/// applies to. Returns human-readable problems (empty when fine).
pub fn check_expr(expr: &str, catalog: &Catalog, whence: &str) -> Vec<String> {
    let usage = match promql_usage(expr) {
        Ok(u) => u,
        Err(e) => return vec![format!("{whence}: PromQL does not parse: {e}\n    {expr}")],
    };
    let mut problems = Vec::new();
    for r in &usage.references {
        match catalog.series.get(&r.metric) {
            None => problems.push(format!("{whence}: unknown metric {:?} (no emitted series has this name)", r.metric)),
            Some(labels) => {
                for l in r.matcher_labels.iter().filter(|l| !labels.contains(*l)) {
                    problems.push(format!("{whence}: {} has no label {l:?} (it has {labels:?})", r.metric));
                }
            }
        }
    }
    for (by, metrics) in &usage.grouping {
        let available: BTreeSet<&String> =
            metrics.iter().filter_map(|m| catalog.series.get(m)).flat_map(|s| s.iter()).collect();
        for l in by.iter().filter(|l| !available.contains(l)) {
            problems.push(format!("{whence}: `by ({l})` over {metrics:?}, which carry no {l:?}"));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------------------------
// promtool
// ---------------------------------------------------------------------------------------------------------------

/// Whether this run is CI (`CI` set to anything but empty, `0` or `false`).
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Prometheus 3's promtool: `PROMTOOL` (what tests/stack/build.sh builds; .ci/run sets it), else `promtool` on
/// `PATH`. An older promtool (Debian's 2.42) cannot read Prometheus 3's `otlp:` block, so it counts as missing.
/// With `CI` set a missing promtool fails the test; elsewhere the caller skips with a message.
pub fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PROMTOOL").filter(|p| !p.is_empty()).map(PathBuf::from).or_else(|| {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("promtool")).find(|p| p.is_file()))
    });
    let why = match &found {
        None => "promtool is not installed".to_owned(),
        Some(path) => match promtool_major_version(path) {
            Some(major) if major >= 3 => return found,
            Some(major) => format!("{} is promtool {major}.x, not Prometheus 3's", path.display()),
            None => format!("{} --version did not run or print a version", path.display()),
        },
    };
    assert!(!is_ci(), "CI is set but {why}: .ci/run builds it (tests/stack/build.sh) and sets PROMTOOL");
    eprintln!("skipped: {why} (run tests/stack/build.sh, then set PROMTOOL as tests/stack/README.md says)");
    None
}

/// The major version `promtool --version` prints ("promtool, version 3.16.0 (branch: ...").
fn promtool_major_version(promtool: &Path) -> Option<u32> {
    let out = std::process::Command::new(promtool).arg("--version").output().ok()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let version = text.split("version ").nth(1)?;
    version.split('.').next()?.trim().parse().ok()
}

/// A fresh empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "otelwright-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

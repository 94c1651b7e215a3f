//! Turns what the receiver holds into text: trace waterfalls (span tree with time bars, each span with its
//! service), RED figures per service and route from the `http.server.request.duration` and
//! `rpc.server.call.duration` histograms, resource/pool/cache gauges, and log lines with their trace ids.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use otelwright_core::metric;
use otelwright_receiver::{HistogramPoint, NumberPoint, ReceivedLog, ReceivedMetric, ReceivedSpan};

/// One drawn line of a waterfall.
struct Row<'a> {
    label: String,
    span: &'a ReceivedSpan,
}

/// The spans of one trace as a waterfall with `bar`-character time bars: parents before children, siblings by
/// start time, each line with the span's kind, duration and service.
pub(crate) fn waterfall(spans: &[&ReceivedSpan], bar: usize) -> String {
    let Some(start) = spans.iter().map(|s| s.span.start_time_unix_nano).min() else {
        return String::new();
    };
    let end = spans.iter().map(|s| s.span.end_time_unix_nano).max().unwrap_or(start);
    let total = end.saturating_sub(start).max(1);
    let ids: Vec<String> = spans.iter().map(|s| s.span_id_hex()).collect();
    // Roots: no parent, or a parent that is not in this set.
    let mut roots: Vec<&ReceivedSpan> =
        spans.iter().copied().filter(|s| s.parent_span_id_hex().is_none_or(|p| !ids.contains(&p))).collect();
    roots.sort_by_key(|s| s.span.start_time_unix_nano);
    let mut rows = Vec::new();
    for root in roots {
        tree(&mut rows, root, spans, 0);
    }
    let width = rows.iter().map(|r| r.label.chars().count()).max().unwrap_or(0).min(48);
    let mut out = String::new();
    let _ = writeln!(out, "trace {}  {} spans  {}", spans[0].trace_id_hex(), spans.len(), ms(total));
    for Row { label, span } in rows {
        let s = span.span.start_time_unix_nano.saturating_sub(start);
        let e = span.span.end_time_unix_nano.saturating_sub(start).max(s);
        let from = ((s as u128 * bar as u128 / total as u128) as usize).min(bar.saturating_sub(1));
        let to = ((e as u128 * bar as u128).div_ceil(total as u128) as usize).clamp(from + 1, bar.max(1));
        let bars: String = (0..bar).map(|i| if (from..to).contains(&i) { '█' } else { '·' }).collect();
        let kind = match span.kind() {
            2 => "server",
            3 => "client",
            _ => "",
        };
        let service = span.resource_str("service.name").unwrap_or_default();
        let error = if span.status_code() == 2 { "  ERROR" } else { "" };
        let _ = writeln!(out, "  {label:<width$} {bars} {:>9} {kind:<6} {service}{error}", ms(e - s));
    }
    out
}

fn tree<'a>(rows: &mut Vec<Row<'a>>, span: &'a ReceivedSpan, all: &[&'a ReceivedSpan], depth: usize) {
    rows.push(Row { label: format!("{}{}", "  ".repeat(depth), span.name()), span });
    let me = span.span_id_hex();
    let mut children: Vec<&ReceivedSpan> =
        all.iter().copied().filter(|c| c.parent_span_id_hex().as_deref() == Some(me.as_str())).collect();
    children.sort_by_key(|c| c.span.start_time_unix_nano);
    for child in children {
        tree(rows, child, all, depth + 1);
    }
}

fn ms(nanos: u64) -> String {
    format!("{:.2} ms", nanos as f64 / 1e6)
}

/// Rate, errors and latency of one route.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Red {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
}

/// `(service.name, route)`: the route is `METHOD /http/route` for HTTP and the RPC method for gRPC.
pub(crate) type RouteKey = (String, String);

const HTTP_SERVER: &str = metric::http::SERVER_REQUEST_DURATION;
const RPC_SERVER: &str = metric::rpc::SERVER_CALL_DURATION;

/// The `q` quantile (0..1) of a histogram, interpolating linearly inside the bucket it falls in.
pub(crate) fn quantile(bounds: &[f64], counts: &[u64], q: f64) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = q * total as f64;
    let mut seen = 0.0;
    for (i, &c) in counts.iter().enumerate() {
        let next = seen + c as f64;
        if next >= rank && c > 0 {
            let lo = if i == 0 { 0.0 } else { bounds[i - 1] };
            // The overflow bucket has no upper bound: report its lower bound.
            let Some(&hi) = bounds.get(i) else { return lo };
            return lo + (hi - lo) * ((rank - seen) / c as f64);
        }
        seen = next;
    }
    bounds.last().copied().unwrap_or(0.0)
}

/// RED per service and route from the latest cumulative points of `http.server.request.duration` and
/// `rpc.server.call.duration`.
pub(crate) fn red(metrics: &[ReceivedMetric]) -> BTreeMap<RouteKey, Red> {
    // Cumulative temporality: the last export of each attribute set holds the totals.
    let mut latest: BTreeMap<String, (RouteKey, HistogramPoint)> = BTreeMap::new();
    for m in metrics.iter().filter(|m| m.name() == HTTP_SERVER || m.name() == RPC_SERVER) {
        let service = m.resource_str("service.name").unwrap_or_default();
        for p in m.histogram_points() {
            let route = if m.name() == RPC_SERVER {
                p.attr_str("rpc.method").unwrap_or_default()
            } else {
                let route = p.attr_str("http.route").unwrap_or_else(|| "(no route)".to_owned());
                format!("{} {route}", p.attr_str("http.request.method").unwrap_or_default())
            };
            let key = format!("{service} {:?}", attr_pairs(&p));
            latest.insert(key, ((service.clone(), route), p));
        }
    }
    let mut routes: BTreeMap<RouteKey, (Vec<f64>, Vec<u64>, u64, u64)> = BTreeMap::new();
    for (key, p) in latest.into_values() {
        let entry =
            routes.entry(key).or_insert_with(|| (p.explicit_bounds.clone(), vec![0; p.bucket_counts.len()], 0, 0));
        if entry.1.len() == p.bucket_counts.len() {
            for (acc, c) in entry.1.iter_mut().zip(&p.bucket_counts) {
                *acc += c;
            }
        }
        entry.2 += p.count;
        if p.attr("error.type").is_some() {
            entry.3 += p.count;
        }
    }
    routes
        .into_iter()
        .map(|(route, (bounds, counts, count, errors))| {
            let q = |x| quantile(&bounds, &counts, x) * 1000.0;
            (route, Red { count, errors, p50_ms: q(0.5), p95_ms: q(0.95), p99_ms: q(0.99) })
        })
        .collect()
}

fn attr_pairs(p: &HistogramPoint) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> =
        p.attributes.iter().map(|kv| (kv.key.clone(), p.attr_str(&kv.key).unwrap_or_default())).collect();
    v.sort();
    v
}

/// The number points of every metric called `name`.
/// Every WebSocket message the services counted (`websocket.server.messages`, both directions).
pub(crate) fn websocket_messages(metrics: &[ReceivedMetric]) -> u64 {
    total(&points(metrics, "websocket.server.messages"))
}

fn points(metrics: &[ReceivedMetric], name: &str) -> Vec<NumberPoint> {
    metrics.iter().filter(|m| m.name() == name).flat_map(ReceivedMetric::number_points).collect()
}

/// The points whose attribute `key` is `value`.
fn having(points: &[NumberPoint], key: &str, value: &str) -> Vec<NumberPoint> {
    points.iter().filter(|p| p.attr_str(key).as_deref() == Some(value)).cloned().collect()
}

/// The sum of the points' values, as a whole number for display (counters and connection counts are whole).
fn total(points: &[NumberPoint]) -> u64 {
    points.iter().map(|p| p.value).fold(0.0, |a, b| a + b).max(0.0).round() as u64
}

/// The distinct values of attribute `key`.
fn values_of(points: &[NumberPoint], key: &str) -> BTreeSet<String> {
    points.iter().filter_map(|p| p.attr_str(key)).collect()
}

const POOL: &str = "db.client.connection.pool.name";

/// Resource, pool, cache and business gauges as `(label, value)` lines, from the latest exports.
pub(crate) fn gauges(metrics: &[ReceivedMetric]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let cpu = points(metrics, metric::process::CPU_UTILIZATION);
    if !cpu.is_empty() {
        out.push(("process CPU".into(), format!("{:.1} %", cpu.iter().map(|p| p.value).sum::<f64>() * 100.0)));
    }
    if let Some(p) = points(metrics, metric::process::MEMORY_USAGE).first() {
        out.push(("process memory".into(), format!("{:.1} MB", p.value / 1_048_576.0)));
    }
    if let Some(p) = points(metrics, metric::process::THREAD_COUNT).first() {
        out.push(("process threads".into(), format!("{}", p.value.round())));
    }
    if let Some(p) = having(&points(metrics, metric::system::MEMORY_UTILIZATION), "system.memory.state", "used").first()
    {
        out.push(("host memory used".into(), format!("{:.1} %", p.value * 100.0)));
    }

    let conns = points(metrics, metric::pool::COUNT);
    let (max, pending) = (points(metrics, metric::pool::MAX), points(metrics, metric::pool::PENDING_REQUESTS));
    let waits: Vec<HistogramPoint> =
        metrics.iter().filter(|m| m.name() == metric::pool::WAIT_TIME).flat_map(|m| m.histogram_points()).collect();
    for pool in values_of(&conns, POOL) {
        let mine = having(&conns, POOL, &pool);
        let state = |s: &str| total(&having(&mine, "db.client.connection.state", s));
        let wait = waits.iter().rfind(|p| p.attr_str(POOL).as_deref() == Some(pool.as_str()));
        let wait_p95 = wait.map_or(0.0, |w| quantile(&w.explicit_bounds, &w.bucket_counts, 0.95) * 1000.0);
        out.push((
            format!("pool {pool}"),
            format!(
                "{} used, {} idle of {} max; {} waiting; wait p95 {wait_p95:.1} ms",
                state("used"),
                state("idle"),
                total(&having(&max, POOL, &pool)),
                total(&having(&pending, POOL, &pool))
            ),
        ));
    }

    let (requests, entries) = (points(metrics, metric::cache::REQUESTS), points(metrics, metric::cache::ENTRY_COUNT));
    for cache in values_of(&requests, "cache.name") {
        let mine = having(&requests, "cache.name", &cache);
        let (hits, misses) =
            (total(&having(&mine, "cache.result", "hit")), total(&having(&mine, "cache.result", "miss")));
        let ratio = if hits + misses > 0 { hits as f64 / (hits + misses) as f64 * 100.0 } else { 0.0 };
        let n = total(&having(&entries, "cache.name", &cache));
        out.push((
            format!("cache {cache}"),
            format!("hit ratio {ratio:.0} % ({hits} hits, {misses} misses, {n} entries)"),
        ));
    }

    let (open, messages) =
        (points(metrics, "websocket.server.active_connections"), points(metrics, "websocket.server.messages"));
    if !open.is_empty() || !messages.is_empty() {
        let by = |direction: &str| total(&having(&messages, "websocket.message.direction", direction));
        out.push((
            "websockets".into(),
            format!("{} open; {} messages in, {} out", total(&open), by("receive"), by("transmit")),
        ));
    }

    let tokens = points(metrics, "chat.tokens");
    if !tokens.is_empty() {
        let (i, o) = (total(&having(&tokens, "direction", "input")), total(&having(&tokens, "direction", "output")));
        out.push(("chat.tokens".into(), format!("{i} in, {o} out")));
    }
    let calls = points(metrics, metric::function::CALLS);
    for f in values_of(&calls, "function.name") {
        let mine = having(&calls, "function.name", &f);
        out.push((
            format!("fn {f}"),
            format!("{} calls, {} errors", total(&mine), total(&having(&mine, "outcome", "error"))),
        ));
    }
    out
}

/// One log line: level, service, trace id prefix, body.
pub(crate) fn log_line(l: &ReceivedLog) -> String {
    let trace = l.trace_id_hex().map_or_else(|| "-".repeat(16), |t| t[..16].to_owned());
    let service = l.resource_str("service.name").unwrap_or_default();
    format!("{:<5} {service:<12} trace={trace}  {}", l.severity_text(), l.body_str().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_inside_buckets() {
        let bounds = [0.01, 0.1, 1.0];
        // 10 in [0, 0.01], 10 in (0.01, 0.1], 0 in (0.1, 1], 0 overflow.
        let counts = [10, 10, 0, 0];
        assert!((quantile(&bounds, &counts, 0.5) - 0.01).abs() < 1e-9);
        assert!((quantile(&bounds, &counts, 0.25) - 0.005).abs() < 1e-9);
        assert!((quantile(&bounds, &counts, 1.0) - 0.1).abs() < 1e-9);
        assert_eq!(quantile(&bounds, &[0, 0, 0, 0], 0.5), 0.0);
        assert_eq!(quantile(&bounds, &[0, 0, 0, 5], 0.5), 1.0, "overflow reports its lower bound");
    }
}

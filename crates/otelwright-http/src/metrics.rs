//! The instruments the layers record into, created once per layer: names, units and bucket boundaries from the
//! HTTP and RPC semantic conventions. HTTP measurements go through instruments bound to each attribute set, bound
//! the first time the set occurs and kept per layer ([`BoundCache`]): a request records without building its
//! attributes or the SDK hashing and looking them up (one small map lookup for all its instruments).

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};

use opentelemetry::metrics::{BoundHistogram, BoundUpDownCounter, Histogram, Meter, UpDownCounter};
use opentelemetry::{KeyValue, StringValue, Value};
use otelwright_core::metric;

use crate::conventions::rules::{add_client_side_server, string};

/// The advised boundaries for HTTP and RPC durations, in seconds (the workspace's one definition).
pub use otelwright_core::buckets::DURATION as DURATION_BUCKETS;

fn duration(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(DURATION_BUCKETS.to_vec())
        .build()
}

/// Attribute sets bound per layer. Beyond this many the layer records unbound (the SDK's cardinality limit then
/// applies as usual): a route, scheme or host taken from the request cannot grow the cache without end.
const MAX_BOUND: usize = 1024;

/// Bound instruments by attribute set, bound on first use. Hashed with foldhash (randomly seeded per process, and
/// the map is capped), a few times cheaper than SipHash on these small keys.
pub(crate) struct BoundCache<K, V> {
    map: RwLock<HashMap<K, V, foldhash::fast::RandomState>>,
}

impl<K, V> std::fmt::Debug for BoundCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoundCache")
    }
}

impl<K: Hash + Eq, V> Default for BoundCache<K, V> {
    fn default() -> Self {
        BoundCache { map: RwLock::new(HashMap::default()) }
    }
}

impl<K: Hash + Eq + Clone, V> BoundCache<K, V> {
    /// Runs `f` on the handles bound to `key`, binding them first if needed; `None` (and `f` not run) when the
    /// cache is full and `key` is new.
    pub(crate) fn with<R>(&self, key: &K, bind: impl FnOnce(&K) -> V, f: impl FnOnce(&V) -> R) -> Option<R> {
        if let Some(v) = self.map.read().unwrap_or_else(PoisonError::into_inner).get(key) {
            return Some(f(v));
        }
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_BOUND && !map.contains_key(key) {
            return None;
        }
        let v = map.entry(key.clone()).or_insert_with_key(bind);
        Some(f(v))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// `http.response.status_code`, `error.type` and `network.protocol.version`, those that are known: the end of both
/// HTTP duration attribute sets.
fn push_outcome(
    attrs: &mut Vec<KeyValue>,
    status: Option<u16>,
    error_type: Option<&Cow<'static, str>>,
    version: Option<&'static str>,
) {
    if let Some(s) = status {
        attrs.push(KeyValue::new("http.response.status_code", i64::from(s)));
    }
    if let Some(e) = error_type {
        attrs.push(KeyValue::new("error.type", string(e.clone())));
    }
    if let Some(v) = version {
        attrs.push(KeyValue::new("network.protocol.version", v));
    }
}

/// `http.request.method` and `url.scheme`: the attributes of `http.server.active_requests`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ActiveKey {
    pub(crate) method: Cow<'static, str>,
    pub(crate) scheme: Cow<'static, str>,
}

impl ActiveKey {
    pub(crate) fn attributes(&self) -> [KeyValue; 2] {
        [
            KeyValue::new("http.request.method", string(self.method.clone())),
            KeyValue::new("url.scheme", string(self.scheme.clone())),
        ]
    }
}

/// The attributes of one HTTP server request's duration and body sizes (semconv `http.server.request.duration`:
/// `http.request.method`, `url.scheme`, `http.route`, `http.response.status_code`, `error.type`,
/// `network.protocol.version`; no others, and none of them unbounded once the route is templated).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ServerKey {
    pub(crate) base: ActiveKey,
    pub(crate) route: Option<Arc<str>>,
    pub(crate) status: Option<u16>,
    pub(crate) error_type: Option<Cow<'static, str>>,
    pub(crate) version: Option<&'static str>,
}

impl ServerKey {
    pub(crate) fn attributes(&self) -> Vec<KeyValue> {
        let mut attrs = Vec::with_capacity(6);
        attrs.extend(self.base.attributes());
        if let Some(route) = &self.route {
            attrs.push(KeyValue::new("http.route", Value::String(StringValue::from(route.clone()))));
        }
        push_outcome(&mut attrs, self.status, self.error_type.as_ref(), self.version);
        attrs
    }
}

/// The server instruments bound to one [`ServerKey`].
pub(crate) struct ServerBound {
    duration: BoundHistogram<f64>,
    request_body: Option<BoundHistogram<u64>>,
    response_body: Option<BoundHistogram<u64>>,
}

impl ServerBound {
    fn record(&self, secs: f64, request_bytes: u64, response_bytes: u64) {
        self.duration.record(secs);
        if let Some(h) = &self.request_body {
            h.record(request_bytes);
        }
        if let Some(h) = &self.response_body {
            h.record(response_bytes);
        }
    }
}

/// Server-side instruments.
#[derive(Debug)]
pub(crate) struct ServerInstruments {
    pub(crate) duration: Histogram<f64>,
    pub(crate) active: UpDownCounter<i64>,
    pub(crate) request_body: Option<Histogram<u64>>,
    pub(crate) response_body: Option<Histogram<u64>>,
    pub(crate) rpc_duration: Histogram<f64>,
    bound_active: BoundCache<ActiveKey, BoundUpDownCounter<i64>>,
    bound: BoundCache<ServerKey, ServerBound>,
}

impl ServerInstruments {
    pub(crate) fn new(meter: &Meter, body_sizes: bool) -> Self {
        let body = |name: &'static str, description: &'static str| {
            body_sizes.then(|| meter.u64_histogram(name).with_unit("By").with_description(description).build())
        };
        ServerInstruments {
            duration: duration(meter, metric::http::SERVER_REQUEST_DURATION, "Duration of HTTP server requests."),
            active: meter
                .i64_up_down_counter(metric::http::SERVER_ACTIVE_REQUESTS)
                .with_unit("{request}")
                .with_description("Number of active HTTP server requests.")
                .build(),
            request_body: body(metric::http::SERVER_REQUEST_BODY_SIZE, "Size of HTTP server request bodies."),
            response_body: body(metric::http::SERVER_RESPONSE_BODY_SIZE, "Size of HTTP server response bodies."),
            rpc_duration: duration(meter, metric::rpc::SERVER_CALL_DURATION, "Measures the duration of inbound RPC."),
            bound_active: BoundCache::default(),
            bound: BoundCache::default(),
        }
    }

    /// `http.server.active_requests` += `delta` for `key`.
    pub(crate) fn add_active(&self, key: &ActiveKey, delta: i64) {
        let bound = self.bound_active.with(key, |k| self.active.bind(&k.attributes()), |c| c.add(delta));
        if bound.is_none() {
            self.active.add(delta, &key.attributes());
        }
    }

    /// One finished request: its duration and, when enabled, its body sizes.
    pub(crate) fn record(&self, key: &ServerKey, secs: f64, request_bytes: u64, response_bytes: u64) {
        let bind = |k: &ServerKey| {
            let attrs = k.attributes();
            ServerBound {
                duration: self.duration.bind(&attrs),
                request_body: self.request_body.as_ref().map(|h| h.bind(&attrs)),
                response_body: self.response_body.as_ref().map(|h| h.bind(&attrs)),
            }
        };
        if self.bound.with(key, bind, |b| b.record(secs, request_bytes, response_bytes)).is_none() {
            let attrs = key.attributes();
            self.duration.record(secs, &attrs);
            if let Some(h) = &self.request_body {
                h.record(request_bytes, &attrs);
            }
            if let Some(h) = &self.response_body {
                h.record(response_bytes, &attrs);
            }
        }
    }
}

/// The attributes of one HTTP client request's duration (semconv `http.client.request.duration`:
/// `http.request.method`, `server.address`, `server.port`, `http.response.status_code`, `error.type`,
/// `network.protocol.version`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    pub(crate) method: Cow<'static, str>,
    pub(crate) server: Option<(Arc<str>, u16)>,
    pub(crate) status: Option<u16>,
    pub(crate) error_type: Option<Cow<'static, str>>,
    pub(crate) version: Option<&'static str>,
}

impl ClientKey {
    pub(crate) fn attributes(&self) -> Vec<KeyValue> {
        let mut attrs = Vec::with_capacity(6);
        attrs.push(KeyValue::new("http.request.method", string(self.method.clone())));
        add_client_side_server(&mut attrs, self.server.as_ref());
        push_outcome(&mut attrs, self.status, self.error_type.as_ref(), self.version);
        attrs
    }
}

/// Client-side instruments.
#[derive(Debug)]
pub(crate) struct ClientInstruments {
    pub(crate) duration: Histogram<f64>,
    pub(crate) rpc_duration: Histogram<f64>,
    bound: BoundCache<ClientKey, BoundHistogram<f64>>,
}

impl ClientInstruments {
    pub(crate) fn new(meter: &Meter) -> Self {
        ClientInstruments {
            duration: duration(meter, metric::http::CLIENT_REQUEST_DURATION, "Duration of HTTP client requests."),
            rpc_duration: duration(meter, metric::rpc::CLIENT_CALL_DURATION, "Measures the duration of outbound RPC."),
            bound: BoundCache::default(),
        }
    }

    /// One finished HTTP request's duration.
    pub(crate) fn record(&self, key: &ClientKey, secs: f64) {
        if self.bound.with(key, |k| self.duration.bind(&k.attributes()), |h| h.record(secs)).is_none() {
            self.duration.record(secs, &key.attributes());
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

    use super::*;

    /// `(instrument, sorted attributes, count or value)` of every exported point.
    type Points = Vec<(String, Vec<(String, String)>, f64)>;

    fn collect(provider: &SdkMeterProvider, exporter: &InMemoryMetricExporter) -> Points {
        provider.force_flush().unwrap();
        let mut out = Vec::new();
        let sorted = |attrs: &mut dyn Iterator<Item = &KeyValue>| {
            let mut v: Vec<(String, String)> = attrs.map(|kv| (kv.key.to_string(), kv.value.to_string())).collect();
            v.sort();
            v
        };
        for rm in exporter.get_finished_metrics().unwrap() {
            for sm in rm.scope_metrics() {
                for m in sm.metrics() {
                    let name = m.name().to_owned();
                    match m.data() {
                        AggregatedMetrics::F64(MetricData::Histogram(h)) => h
                            .data_points()
                            .for_each(|p| out.push((name.clone(), sorted(&mut p.attributes()), p.count() as f64))),
                        AggregatedMetrics::U64(MetricData::Histogram(h)) => h
                            .data_points()
                            .for_each(|p| out.push((name.clone(), sorted(&mut p.attributes()), p.count() as f64))),
                        AggregatedMetrics::I64(MetricData::Sum(s)) => s
                            .data_points()
                            .for_each(|p| out.push((name.clone(), sorted(&mut p.attributes()), p.value() as f64))),
                        other => panic!("unexpected data for {name}: {other:?}"),
                    }
                }
            }
        }
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    }

    fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        v.sort();
        v
    }

    fn provider() -> (SdkMeterProvider, InMemoryMetricExporter) {
        let exporter = InMemoryMetricExporter::default();
        let reader = PeriodicReader::builder(exporter.clone()).build();
        (SdkMeterProvider::builder().with_reader(reader).build(), exporter)
    }

    /// Through the bound handles and, once the cache is full, unbound: the points carry exactly the semconv
    /// attributes of each request and count every recording.
    #[test]
    fn server_points_carry_exactly_the_conventions_attributes() {
        let (provider, exporter) = provider();
        let i = ServerInstruments::new(&provider.meter("t"), true);
        let get = ActiveKey { method: Cow::Borrowed("GET"), scheme: Cow::Borrowed("http") };
        let ok = ServerKey {
            base: get.clone(),
            route: Some(Arc::from("/users/{id}")),
            status: Some(200),
            error_type: None,
            version: Some("1.1"),
        };
        let failed = ServerKey {
            base: ActiveKey { method: Cow::Borrowed("_OTHER"), scheme: Cow::Owned("https".into()) },
            route: None,
            status: Some(503),
            error_type: Some(Cow::Owned("503".into())),
            version: None,
        };
        for _ in 0..2 {
            i.add_active(&get, 1);
            i.record(&ok, 0.01, 10, 20);
            i.add_active(&get, -1);
        }
        i.record(&failed, 0.2, 0, 5);
        for n in 0..MAX_BOUND as u16 {
            i.record(&ServerKey { status: Some(1000 + n), ..ok.clone() }, 0.01, 0, 0);
        }
        let unbound = ServerKey { route: Some(Arc::from("/later")), ..ok.clone() };
        i.record(&unbound, 0.01, 1, 1);
        i.record(&unbound, 0.01, 1, 1);
        let points = collect(&provider, &exporter);
        let find = |name: &str, a: &[(String, String)]| {
            points.iter().find(|p| p.0 == name && p.1 == a).map(|p| p.2).unwrap_or_else(|| panic!("{name} {a:?}"))
        };
        let ok_attrs = attrs(&[
            ("http.request.method", "GET"),
            ("url.scheme", "http"),
            ("http.route", "/users/{id}"),
            ("http.response.status_code", "200"),
            ("network.protocol.version", "1.1"),
        ]);
        let failed_attrs = attrs(&[
            ("http.request.method", "_OTHER"),
            ("url.scheme", "https"),
            ("http.response.status_code", "503"),
            ("error.type", "503"),
        ]);
        let mut later_attrs = ok_attrs.clone();
        later_attrs.iter_mut().find(|(k, _)| k == "http.route").unwrap().1 = "/later".into();
        later_attrs.sort();
        for name in ["http.server.request.duration", "http.server.request.body.size", "http.server.response.body.size"]
        {
            assert_eq!(find(name, &ok_attrs), 2.0, "{name}");
            assert_eq!(find(name, &failed_attrs), 1.0, "{name}");
            assert_eq!(find(name, &later_attrs), 2.0, "{name}: recorded unbound once the cache is full");
        }
        let active = attrs(&[("http.request.method", "GET"), ("url.scheme", "http")]);
        assert_eq!(find("http.server.active_requests", &active), 0.0);
        assert_eq!(i.bound.len(), MAX_BOUND);
    }

    #[test]
    fn client_points_carry_exactly_the_conventions_attributes() {
        let (provider, exporter) = provider();
        let i = ClientInstruments::new(&provider.meter("t"));
        let key = ClientKey {
            method: Cow::Borrowed("POST"),
            server: Some((Arc::from("api.example.com"), 443)),
            status: Some(404),
            error_type: Some(Cow::Owned("404".into())),
            version: Some("2"),
        };
        i.record(&key, 0.1);
        i.record(&key, 0.2);
        i.record(
            &ClientKey { server: None, status: None, error_type: Some(Cow::Borrowed("timeout")), ..key.clone() },
            1.0,
        );
        let points = collect(&provider, &exporter);
        let expected = attrs(&[
            ("http.request.method", "POST"),
            ("server.address", "api.example.com"),
            ("server.port", "443"),
            ("http.response.status_code", "404"),
            ("error.type", "404"),
            ("network.protocol.version", "2"),
        ]);
        let timeout =
            attrs(&[("http.request.method", "POST"), ("error.type", "timeout"), ("network.protocol.version", "2")]);
        let mut wanted: Points = vec![
            ("http.client.request.duration".to_owned(), expected, 2.0),
            ("http.client.request.duration".to_owned(), timeout, 1.0),
        ];
        wanted.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        assert_eq!(points, wanted);
    }

    #[test]
    fn the_cache_binds_once_per_key_and_stops_growing_at_its_limit() {
        let cache: BoundCache<u32, u32> = BoundCache::default();
        let mut binds = 0;
        for _ in 0..3 {
            assert_eq!(
                cache.with(
                    &7,
                    |k| {
                        binds += 1;
                        k * 2
                    },
                    |v| *v
                ),
                Some(14)
            );
        }
        assert_eq!(binds, 1);
        for k in 0..(MAX_BOUND as u32 + 10) {
            let _ = cache.with(&k, |k| *k, |_| ());
        }
        assert_eq!(cache.len(), MAX_BOUND);
        assert_eq!(cache.with(&u32::MAX, |k| *k, |v| *v), None, "a new key once full");
        assert_eq!(cache.with(&7, |_| 0, |v| *v), Some(14), "bound keys still work");
    }
}

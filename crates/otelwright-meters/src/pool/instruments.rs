//! The `db.client.connection.*` instruments: observable ones read every registered pool; the wait/use
//! histograms are recorded by the acquire wrapper.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use opentelemetry::metrics::Meter;
use otelwright_core::buckets;

use super::meters::{Pools, Timings};
use crate::names::pool as n;

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn register(meter: &Meter, pools: Arc<Pools>) {
    let _ = pools.timings.set(Timings {
        wait: meter
            .f64_histogram(n::WAIT_TIME)
            .with_unit("s")
            .with_description("Time it took to obtain an open connection from the pool")
            .with_boundaries(buckets::POOL_WAIT.to_vec())
            .build(),
        use_time: meter
            .f64_histogram(n::USE_TIME)
            .with_unit("s")
            .with_description("Time between borrowing a connection and returning it to the pool")
            .with_boundaries(buckets::POOL_USE.to_vec())
            .build(),
    });

    let p = pools.clone();
    meter
        .i64_observable_up_down_counter(n::COUNT)
        .with_unit("{connection}")
        .with_description("Connections currently in the state described by db.client.connection.state")
        .with_callback(move |o| {
            for e in p.registry.entries().iter() {
                if let Some(s) = e.read() {
                    o.observe(gauge(s.idle), &e.attrs.idle);
                    o.observe(gauge(s.used), &e.attrs.used);
                }
            }
        })
        .build();

    type Pick = fn(&super::PoolState) -> Option<u64>;
    let simple: [(&'static str, &'static str, &'static str, Pick); 4] = [
        (n::MAX, "{connection}", "The maximum number of open connections allowed", |s| Some(s.max)),
        (n::IDLE_MAX, "{connection}", "The maximum number of idle open connections allowed", |s| s.idle_max),
        (n::IDLE_MIN, "{connection}", "The minimum number of idle open connections allowed", |s| s.idle_min),
        (n::PENDING_REQUESTS, "{request}", "Pending requests for an open connection", |s| s.pending),
    ];
    for (name, unit, description, pick) in simple {
        let p = pools.clone();
        meter
            .i64_observable_up_down_counter(name)
            .with_unit(unit)
            .with_description(description)
            .with_callback(move |o| {
                for e in p.registry.entries().iter() {
                    if let Some(v) = e.read().as_ref().and_then(pick) {
                        o.observe(gauge(v), &e.attrs.base);
                    }
                }
            })
            .build();
    }

    let p = pools;
    meter
        .u64_observable_counter(n::TIMEOUTS)
        .with_unit("{timeout}")
        .with_description("Acquires that timed out waiting for a connection")
        .with_callback(move |o| {
            for e in p.registry.entries().iter() {
                o.observe(e.counters.timeouts.load(Ordering::Relaxed), &e.attrs.base);
            }
        })
        .build();
}

//! The named histogram bucket sets, in seconds: each one a shared concept used by every instrument that measures
//! that kind of duration, so two crates' histograms of the same thing can be merged and compared.

/// Request and call durations: the semantic conventions' advised boundaries for `http.server.request.duration`,
/// `http.client.request.duration` and the RPC durations ("Metric: `http.server.request.duration`":
/// `[ 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10 ]`), also used by
/// `function.calls.duration`.
pub const DURATION: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

/// Long-lived durations, seconds to an hour: sessions (`session.duration`) and connections held open.
pub const LONG_DURATION: [f64; 12] = [0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];

/// `db.client.connection.wait_time`: from 0.1 ms (a warm pool) to 10 s (a starved one).
pub const POOL_WAIT: [f64; 12] = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 10.0];

/// `db.client.connection.use_time`: from 1 ms (one query) to 60 s (a long transaction).
pub const POOL_USE: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0, 60.0];

#[cfg(test)]
mod tests {
    #[test]
    fn every_set_is_strictly_increasing_and_positive() {
        for set in [&super::DURATION[..], &super::LONG_DURATION, &super::POOL_WAIT, &super::POOL_USE] {
            assert!(set[0] > 0.0);
            assert!(set.windows(2).all(|w| w[0] < w[1]), "{set:?}");
        }
    }
}

//! The global propagator named by `OTEL_PROPAGATORS` (the Rust SDK leaves it a no-op until someone sets it).

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::config::Propagator;

/// A composite of the configured propagators, in the configured order.
pub(crate) fn composite(list: &[Propagator]) -> TextMapCompositePropagator {
    let members: Vec<Box<dyn TextMapPropagator + Send + Sync>> = list
        .iter()
        .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
            match p {
                Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
            }
        })
        .collect();
    TextMapCompositePropagator::new(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_list() {
        let fields = |l: &[Propagator]| {
            let mut f = composite(l).fields().map(str::to_owned).collect::<Vec<_>>();
            f.sort();
            f
        };
        assert_eq!(fields(&[Propagator::TraceContext, Propagator::Baggage]), ["baggage", "traceparent", "tracestate"]);
        assert_eq!(fields(&[Propagator::Baggage]), ["baggage"]);
        assert!(fields(&[]).is_empty());
    }
}

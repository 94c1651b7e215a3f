//! Runs N requests of one server-layer variant (see `benches/common.rs`) and exits: made to run under
//! `valgrind --tool=callgrind`, whose instruction counts do not move with the machine's load. The per-request
//! figure is the difference between two runs with different N, divided by the difference in N.
//!
//! `cargo build --release -p otelwright-http --example layer_cost`
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/layer_cost otelwright 2000`
//! (`bench/layer_cost.sh` in the repository runs every variant and prints instructions per request).

#[path = "../benches/common.rs"]
mod common;

fn main() {
    let mut args = std::env::args().skip(1);
    let wanted = args.next().unwrap_or_else(|| "otelwright".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let (tracer_provider, meter_provider) = common::install();
    let variants = common::variants();
    let Some((_, app)) = variants.iter().find(|(name, _)| *name == wanted) else {
        let names: Vec<&str> = variants.iter().map(|(name, _)| *name).collect();
        eprintln!("unknown variant {wanted:?}; one of {names:?}");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        for _ in 0..n {
            common::call(app).await;
        }
    });
    let _ = tracer_provider.shutdown();
    let _ = meter_provider.shutdown();
}

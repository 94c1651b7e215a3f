//! The added cost per WebSocket message of `otelwright_http::ws` against axum's own socket, in one process: a
//! loopback echo server (both routes behind the same `HttpServerLayer`, so the upgrade costs the same) and a
//! tokio-tungstenite client on one current-thread runtime, on the providers of `benches/common.rs` (spans 100 %
//! sampled into a no-op exporter, metrics aggregated for real). Each round trip is two server-side messages (one
//! received, one sent).
//!
//! Instructions (callgrind; the machine's load does not move them), per message = (instructions for N2 round
//! trips − for N1) / (2 × (N2 − N1)), for each variant (`plain`, `otelwright`, `otelwright_events`):
//! `cargo build --release -p otelwright-http --example ws_cost`
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null $CARGO_TARGET_DIR/release/examples/ws_cost otelwright 2000`
//!
//! CPU time: `ws_cost time [ROUNDS] [N]` alternates plain and otelwright rounds of N round trips and prints the
//! median on-CPU nanoseconds per message of the thread that runs client and server (`/proc/thread-self/schedstat`,
//! Linux; span export runs on the SDK's own thread and is not in it).

#[path = "../benches/common.rs"]
mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws as axum_ws;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use otelwright_http::HttpServerLayer;
use otelwright_http::ws as otel_ws;
use tokio_tungstenite::tungstenite;

/// Read buffers of 4 KiB on both ends instead of tungstenite's 128 KiB, which it zeroes on every read: that memset
/// would be most of each message's instructions and all of its noise, the same with and without otelwright.
const BUFFER: usize = 4096;

const VARIANTS: [(&str, &str); 3] =
    [("plain", "/plain"), ("otelwright", "/observed"), ("otelwright_events", "/events")];

async fn plain(mut socket: axum_ws::WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if let axum_ws::Message::Text(t) = msg
            && socket.send(axum_ws::Message::Text(t)).await.is_err()
        {
            return;
        }
    }
}

async fn observed(mut socket: otel_ws::WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if let otel_ws::Message::Text(t) = msg
            && socket.send(otel_ws::Message::Text(t)).await.is_err()
        {
            return;
        }
    }
}

fn app() -> Router {
    let main = Router::new()
        .route(
            "/plain",
            get(|ws: axum_ws::WebSocketUpgrade| async move { ws.read_buffer_size(BUFFER).on_upgrade(plain) }),
        )
        .route(
            "/observed",
            get(|ws: otel_ws::WebSocketUpgrade| async move { ws.read_buffer_size(BUFFER).on_upgrade(observed) }),
        )
        .layer(HttpServerLayer::new());
    let events = Router::new()
        .route(
            "/events",
            get(|ws: otel_ws::WebSocketUpgrade| async move { ws.read_buffer_size(BUFFER).on_upgrade(observed) }),
        )
        .layer(HttpServerLayer::builder().websocket_message_events(true).build());
    main.merge(events)
}

/// One connection to `path`: `n` round trips of a 16-byte text message, then a normal close.
async fn run(addr: SocketAddr, path: &str, n: usize) {
    let config = tungstenite::protocol::WebSocketConfig::default().read_buffer_size(BUFFER);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(format!("ws://{addr}{path}"), Some(config), true).await.unwrap();
    for _ in 0..n {
        ws.send(tungstenite::Message::text("0123456789abcdef")).await.unwrap();
        let echo = ws.next().await.unwrap().unwrap();
        std::hint::black_box(echo);
    }
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
}

/// On-CPU nanoseconds of this thread so far.
fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let wanted = args.next().unwrap_or_else(|| "otelwright".into());
    let (tracer_provider, meter_provider) = common::install();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app()).await.unwrap() });
        if wanted == "time" {
            let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
            let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
            run(addr, "/plain", n).await; // warm-up
            run(addr, "/observed", n).await;
            let (mut bare, mut otel) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                for (path, out) in [("/plain", &mut bare), ("/observed", &mut otel)] {
                    let before = thread_cpu_ns();
                    run(addr, path, n).await;
                    out.push((thread_cpu_ns() - before) as f64 / (2 * n) as f64);
                }
            }
            let deltas: Vec<f64> = bare.iter().zip(&otel).map(|(b, o)| o - b).collect();
            println!(
                "CPU ns per message, median of {rounds} rounds of {n} round trips: plain {:.0}, otelwright {:.0}, \
                 added {:.0} (per-round deltas {:.0}..{:.0})",
                median(bare.clone()),
                median(otel.clone()),
                median(deltas.clone()),
                deltas.iter().copied().fold(f64::INFINITY, f64::min),
                deltas.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            );
            return;
        }
        let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
        let Some((_, path)) = VARIANTS.iter().find(|(name, _)| *name == wanted) else {
            let names: Vec<&str> = VARIANTS.iter().map(|(name, _)| *name).collect();
            eprintln!("unknown variant {wanted:?}; one of {names:?} or `time`");
            std::process::exit(2);
        };
        run(addr, path, n).await;
    });
    let _ = tracer_provider.shutdown();
    let _ = meter_provider.shutdown();
}

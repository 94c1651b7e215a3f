//! W3C Trace Context Level 2 over real sockets: requests through axum A (server layer) -> reqwest
//! (`OtelMiddleware`) -> axum B (server layer) -> tonic client (`HttpClientLayer`) -> tonic server (server layer),
//! exporting to otelwright-receiver. What B and the gRPC server receive, and the exported spans' flags, must keep
//! the random flag as "Random Trace ID Flag" (spec/20-http_request_header_format.md) says: set or unset as it came
//! in, set on a trace we start; and `tracestate` must arrive as sent, keys of the current grammar included.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use common::*;
use otelwright_http::{HttpClientLayer, HttpServerLayer};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

type Channel = otelwright_http::client::HttpClientService<tonic::transport::Channel>;

/// The (`traceparent`, `tracestate`) each request arrived with, in order.
type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

fn record(seen: &Seen, headers: &http::HeaderMap) {
    let text = |name: &str| {
        let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    seen.lock().unwrap().push((text("traceparent"), text("tracestate")));
}

fn last(seen: &Seen) -> (Option<String>, Option<String>) {
    seen.lock().unwrap().last().cloned().expect("a request arrived")
}

async fn grpc_server(seen: Seen) -> SocketAddr {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter.set_service_status("recommender", tonic_health::ServingStatus::Serving).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recorder = tower::util::MapRequestLayer::new(move |req: http::Request<tonic::body::Body>| {
        record(&seen, req.headers());
        req
    });
    tokio::spawn(async move {
        let _keep = reporter;
        let incoming = futures_util::stream::unfold(listener, |l| async move {
            let accepted = l.accept().await.map(|(s, _)| s);
            Some((accepted, l))
        });
        tonic::transport::Server::builder()
            .layer(recorder)
            .layer(HttpServerLayer::new())
            .add_service(service)
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    addr
}

/// Starts the chain; returns A's address and what B and the gRPC server see.
async fn chain() -> (SocketAddr, Seen, Seen) {
    let (b_seen, grpc_seen): (Seen, Seen) = Default::default();
    let grpc = grpc_server(grpc_seen.clone()).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}")).unwrap().connect().await.unwrap();
    let layer = HttpClientLayer::builder().target(&format!("http://{grpc}")).build();
    let client = HealthClient::new(tower::ServiceBuilder::new().layer(layer).service(channel));
    let seen = b_seen.clone();
    let b = serve(
        Router::new()
            .route(
                "/b",
                get(move |State(mut client): State<HealthClient<Channel>>, headers: HeaderMap| {
                    record(&seen, &headers);
                    async move {
                        let r = client.check(HealthCheckRequest { service: "recommender".into() }).await.unwrap();
                        format!("{:?}", r.into_inner().status)
                    }
                }),
            )
            .with_state(client)
            .layer(HttpServerLayer::new()),
    )
    .await;
    let a = front(b).await;
    (a, b_seen, grpc_seen)
}

async fn call(a: SocketAddr, headers: &[(&str, &str)]) {
    let mut req = reqwest::Client::new().get(format!("http://{a}/a"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    assert_eq!(req.send().await.unwrap().text().await.unwrap(), "1", "SERVING");
}

/// `00-{trace id}-{parent id}-{flags}` split into its parts.
fn parts(traceparent: &Option<String>) -> (String, String, String) {
    let tp = traceparent.as_deref().expect("a traceparent");
    let p: Vec<&str> = tp.split('-').collect();
    assert_eq!((p.len(), p[0]), (4, "00"), "{tp}");
    (p[1].to_owned(), p[2].to_owned(), p[3].to_owned())
}

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PID: &str = "00f067aa0ba902b7";
/// OTLP `Span.flags`: bits 0-7 are the W3C trace flags; 0x100 "has is_remote", 0x200 "parent is remote".
const W3C_FLAGS: u32 = 0xff;
const PARENT_IS_REMOTE: u32 = 0x300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_flag_and_tracestate_survive_http_and_grpc_hops() {
    let (receiver, telemetry) = setup("w3c-e2e").await;
    let (a, b_seen, grpc_seen) = chain().await;
    const RPC: &str = "grpc.health.v1.Health/Check";

    // Sampled and random, with a tracestate over two fields whose first key the older grammar (and
    // opentelemetry's TraceState) rejects.
    let sent = format!("00-{TID}-{PID}-03");
    call(
        a,
        &[
            ("traceparent", &sent),
            ("tracestate", "foo@@bar=1,congo=t61rcWkgMzE"),
            ("tracestate", "rojo=00f067aa0ba902b7"),
        ],
    )
    .await;
    let want_state = Some("foo@@bar=1,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".to_owned());
    for (hop, (tp, ts)) in [("B", last(&b_seen)), ("gRPC server", last(&grpc_seen))] {
        let (trace_id, parent_id, flags) = parts(&tp);
        assert_eq!((trace_id.as_str(), flags.as_str()), (TID, "03"), "{hop}: same trace, sampled and random");
        assert_ne!(parent_id, PID, "{hop}: the parent-id is updated");
        assert_eq!(ts, want_state, "{hop}: tracestate as received by A");
    }
    let spans =
        receiver.wait_for_spans(|s| s.iter().filter(|s| s.trace_id_hex() == TID).count() >= 5, WAIT).await.unwrap();
    let trace: Vec<_> = spans.iter().filter(|s| s.trace_id_hex() == TID).collect();
    assert_eq!(trace.len(), 5, "A server, reqwest client, B server, gRPC client, gRPC server");
    for s in &trace {
        assert_eq!(s.span.flags & W3C_FLAGS, 0x03, "{}: exported with sampled and random", s.name());
    }
    let a_server = trace.iter().find(|s| s.name() == "GET /a").unwrap();
    assert_eq!(a_server.parent_span_id_hex().as_deref(), Some(PID));
    assert_eq!(a_server.span.flags & PARENT_IS_REMOTE, PARENT_IS_REMOTE);
    assert!(trace.iter().any(|s| s.name() == RPC && s.span.kind == SERVER));

    // Random but not sampled: nothing is recorded, and the flag still goes on unchanged ("If the flag is set in
    // the incoming `traceparent` header, it MUST also be set in all outgoing `traceparent` headers").
    let unsampled = "5bf92f3577b34da6a3ce929d0e0e4736";
    call(a, &[("traceparent", &format!("00-{unsampled}-{PID}-02"))]).await;
    for (hop, (tp, ts)) in [("B", last(&b_seen)), ("gRPC server", last(&grpc_seen))] {
        assert_eq!(parts(&tp).2, "02", "{hop}: random, not sampled");
        assert_eq!(ts, None, "{hop}: no tracestate came in, none (not even an empty one) goes out");
    }

    // Sampled, not random: "If the flag is unset in the incoming `traceparent` header, it MUST also be unset".
    let not_random = "6bf92f3577b34da6a3ce929d0e0e4736";
    call(a, &[("traceparent", &format!("00-{not_random}-{PID}-01"))]).await;
    for (hop, (tp, _)) in [("B", last(&b_seen)), ("gRPC server", last(&grpc_seen))] {
        assert_eq!(parts(&tp).2, "01", "{hop}: sampled, random stays unset");
    }

    // No traceparent: A starts the trace with a random trace id and SHOULD set the flag.
    call(a, &[]).await;
    let (root_trace, _, flags) = parts(&last(&b_seen).0);
    assert_eq!(flags, "03", "a new trace from random ids carries the random flag");
    let (grpc_trace, _, grpc_flags) = parts(&last(&grpc_seen).0);
    assert_eq!((grpc_trace, grpc_flags.as_str()), (root_trace.clone(), "03"), "gRPC server: same trace and flags");
    let spans = receiver
        .wait_for_spans(|s| s.iter().filter(|s| s.trace_id_hex() == root_trace).count() >= 5, WAIT)
        .await
        .unwrap();
    let trace: Vec<_> = spans.iter().filter(|s| s.trace_id_hex() == root_trace).collect();
    assert_eq!(trace.len(), 5);
    for s in &trace {
        assert_eq!(s.span.flags & W3C_FLAGS, 0x03, "{}: the new root and below it, sampled and random", s.name());
    }
    assert_eq!(trace.iter().filter(|s| s.parent_span_id_hex().is_none()).count(), 1, "one root, checked above");

    let errors = telemetry.flush().await;
    assert!(errors.is_empty(), "{errors:?}");
    let spans = receiver.spans();
    assert!(!spans.iter().any(|s| s.trace_id_hex() == unsampled), "the unsampled trace is not recorded");
    assert_eq!(spans.iter().filter(|s| s.trace_id_hex() == not_random).count(), 5, "the sampled one is");
    let report = telemetry.shutdown().await;
    assert!(report.is_clean(), "{report:?}");
}

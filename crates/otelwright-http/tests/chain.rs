//! One request through axum -> reqwest -> axum -> tonic client -> tonic server, every hop instrumented by this
//! crate, must arrive at otelwright-receiver as ONE trace with the right parent/child links, HTTP conventions on
//! the HTTP hops and RPC conventions (status from trailers) on the gRPC hops. A failing gRPC call is an error on
//! the client span only when the server conventions say so.

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use common::*;
use otelwright_http::{HttpClientLayer, HttpServerLayer};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

type Channel = otelwright_http::client::HttpClientService<tonic::transport::Channel>;

async fn grpc_server() -> SocketAddr {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter.set_service_status("recommender", tonic_health::ServingStatus::Serving).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _keep = reporter;
        tonic::transport::Server::builder()
            .layer(HttpServerLayer::new())
            .add_service(service)
            .serve_with_incoming(tokio_stream_from(listener))
            .await
            .unwrap();
    });
    addr
}

fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl futures_util::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(listener, |l| async move {
        let accepted = l.accept().await.map(|(s, _)| s);
        Some((accepted, l))
    })
}

async fn check(State(mut client): State<HealthClient<Channel>>) -> String {
    let ok = client.check(HealthCheckRequest { service: "recommender".into() }).await.unwrap();
    let missing = client.check(HealthCheckRequest { service: "nope".into() }).await.unwrap_err();
    format!("{:?} {:?}", ok.into_inner().status, missing.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_http_and_grpc_hops() {
    let (receiver, telemetry) = setup("http-chain-e2e").await;

    let grpc = grpc_server().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}")).unwrap().connect().await.unwrap();
    let layer = HttpClientLayer::builder().target(&format!("http://{grpc}")).build();
    let channel = tower::ServiceBuilder::new().layer(layer).service(channel);
    let b = serve(
        Router::new().route("/b", get(check)).with_state(HealthClient::new(channel)).layer(HttpServerLayer::new()),
    )
    .await;

    let a = front(b).await;

    let body = reqwest::get(format!("http://{a}/a")).await.unwrap().text().await.unwrap();
    assert_eq!(body, "1 NotFound", "SERVING (1), then NOT_FOUND");

    const RPC: &str = "grpc.health.v1.Health/Check";
    let rpc = RPC;
    let spans = receiver
        .wait_for_spans(
            |s| s.iter().filter(|s| s.name() == rpc).count() >= 4 && s.iter().any(|s| s.name() == "GET /a"),
            WAIT,
        )
        .await
        .unwrap();
    let a_server = spans.iter().find(|s| s.name() == "GET /a").unwrap();
    let trace: Vec<_> = spans.iter().filter(|s| s.trace_id_hex() == a_server.trace_id_hex()).collect();
    assert_eq!(
        trace.len(),
        7,
        "A server, reqwest client, B server, 2x gRPC client, 2x gRPC server: {:?}",
        trace.iter().map(|s| s.name()).collect::<Vec<_>>()
    );
    let find = |name: &'static str, kind: i32| trace.iter().filter(move |s| s.name() == name && s.span.kind == kind);
    let a_client = find("GET", CLIENT).next().expect("reqwest client span");
    let b_server = find("GET /b", SERVER).next().expect("B server span");
    assert!(a_server.parent_span_id_hex().is_none());
    assert_eq!(a_client.parent_span_id_hex(), Some(a_server.span_id_hex()));
    assert_eq!(b_server.parent_span_id_hex(), Some(a_client.span_id_hex()));
    assert_eq!(a_client.attr_str("url.full"), Some(format!("http://{b}/b")));
    assert_eq!(a_client.attr_str("server.port"), Some(b.port().to_string()));
    assert_eq!(a_client.attr_str("http.response.status_code").as_deref(), Some("200"));

    let grpc_clients: Vec<_> = find(rpc, CLIENT).collect();
    let grpc_servers: Vec<_> = find(rpc, SERVER).collect();
    assert_eq!((grpc_clients.len(), grpc_servers.len()), (2, 2));
    for c in &grpc_clients {
        assert_eq!(c.parent_span_id_hex(), Some(b_server.span_id_hex()));
        assert_eq!(c.attr_str("rpc.system.name").as_deref(), Some("grpc"));
        assert_eq!(c.attr_str("rpc.method").as_deref(), Some(rpc));
        assert_eq!(c.attr_str("server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(c.attr_str("server.port"), Some(grpc.port().to_string()));
        let server =
            grpc_servers.iter().find(|s| s.parent_span_id_hex() == Some(c.span_id_hex())).expect("server child");
        assert_eq!(server.attr_str("rpc.response.status_code"), c.attr_str("rpc.response.status_code"));
    }
    let ok_client =
        grpc_clients.iter().find(|c| c.attr_str("rpc.response.status_code").as_deref() == Some("OK")).unwrap();
    assert_eq!(ok_client.status_code(), 0);
    let nf_client =
        grpc_clients.iter().find(|c| c.attr_str("rpc.response.status_code").as_deref() == Some("NOT_FOUND")).unwrap();
    assert_eq!(nf_client.status_code(), STATUS_ERROR, "every code but OK is an error on a client");
    assert_eq!(nf_client.attr_str("error.type").as_deref(), Some("NOT_FOUND"));
    let nf_server =
        grpc_servers.iter().find(|s| s.attr_str("rpc.response.status_code").as_deref() == Some("NOT_FOUND")).unwrap();
    assert_eq!(nf_server.status_code(), 0, "NOT_FOUND is not a server error");

    let rpc_server = metric(&receiver, &telemetry, "rpc.server.call.duration").await;
    let codes: Vec<String> =
        rpc_server.histogram_points().iter().filter_map(|p| p.attr_str("rpc.response.status_code")).collect();
    assert!(codes.contains(&"OK".to_owned()) && codes.contains(&"NOT_FOUND".to_owned()), "{codes:?}");
    let rpc_client = metric(&receiver, &telemetry, "rpc.client.call.duration").await;
    let nf = rpc_client
        .histogram_points()
        .into_iter()
        .find(|p| p.attr_str("rpc.response.status_code").as_deref() == Some("NOT_FOUND"))
        .unwrap();
    assert_eq!(nf.attr_str("error.type").as_deref(), Some("NOT_FOUND"));
    let http_client = metric(&receiver, &telemetry, "http.client.request.duration").await;
    let p = &http_client.histogram_points()[0];
    assert_eq!(p.attr_str("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(p.attr_str("http.response.status_code").as_deref(), Some("200"));
    let mut keys: Vec<&str> = p.attributes.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "http.request.method",
            "http.response.status_code",
            "network.protocol.version",
            "server.address",
            "server.port"
        ]
    );

    let report = telemetry.shutdown().await;
    assert!(report.is_clean(), "{report:?}");
}

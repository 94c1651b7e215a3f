//! WebSockets end to end: a real tokio-tungstenite client against an axum server over loopback, through
//! `otelwright_http::ws`, exporting over OTLP to otelwright-receiver. Covers the connection span and its parent,
//! message counts by direction, a normal close, a client that vanishes without a close frame, a server that closes
//! with 1011 and one that drops the socket, opt-in message events, metrics without traces, a route without a server
//! layer, and the active count back at zero.

mod common;

use axum::Router;
use axum::routing::get;
use common::*;
use futures_util::{SinkExt, StreamExt};
use otelwright_http::HttpServerLayer;
use otelwright_http::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use otelwright_receiver::{ReceivedMetric, ReceivedSpan};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PID: &str = "00f067aa0ba902b7";
const INTERNAL: i32 = 1;

/// Echoes text until the stream ends.
async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if let Message::Text(t) = msg
            && socket.send(Message::Text(t)).await.is_err()
        {
            return;
        }
    }
}

/// Reads one message, then closes with 1011 (the server failed).
async fn fail(mut socket: WebSocket) {
    let _ = socket.recv().await;
    let frame = CloseFrame { code: 1011, reason: "boom".into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Reads one message, then drops the socket without a close frame.
async fn abandon(mut socket: WebSocket) {
    let _ = socket.recv().await;
}

fn app() -> Router {
    let observed = Router::new()
        .route("/ws/echo/{room}", get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }))
        .route("/ws/vanish", get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }))
        .route("/ws/fail", get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(fail) }))
        .route("/ws/drop", get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(abandon) }))
        .layer(HttpServerLayer::new());
    let with_events = Router::new()
        .route("/ws/events", get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }))
        .layer(HttpServerLayer::builder().websocket_message_events(true).build());
    let quiet = Router::new()
        .route("/ws/quiet", get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }))
        .layer(HttpServerLayer::builder().traces(false).build());
    // No server layer in front: the global providers and axum's MatchedPath.
    let bare = Router::new().route("/ws/bare", get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }));
    observed.merge(with_events).merge(quiet).merge(bare)
}

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr, path: &str) -> Client {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut().insert("traceparent", format!("00-{TID}-{PID}-01").parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.status(), 101);
    ws
}

async fn send_and_echo(ws: &mut Client, n: usize) {
    for i in 0..n {
        ws.send(tungstenite::Message::text(format!("hello {i}"))).await.unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(back.to_text().unwrap(), format!("hello {i}"));
    }
}

/// Reads until the server ends the stream (its close frame, then the end).
async fn drain(ws: &mut Client) -> Vec<tungstenite::Message> {
    let mut seen = Vec::new();
    while let Some(Ok(m)) = ws.next().await {
        seen.push(m);
    }
    seen
}

fn attr(span: &ReceivedSpan, key: &str) -> Option<String> {
    span.attr_str(key)
}

/// The value of a sum's point on `route` with the given extra attributes.
fn sum_on(metric: &ReceivedMetric, route: &str, extra: &[(&str, &str)]) -> Option<f64> {
    metric
        .number_points()
        .into_iter()
        .find(|p| {
            p.attr_str("http.route").as_deref() == Some(route)
                && extra.iter().all(|(k, v)| p.attr_str(k).as_deref() == Some(*v))
        })
        .map(|p| p.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connections_end_to_end() {
    let (receiver, telemetry) = setup("http-websocket-e2e").await;
    let addr = serve(app()).await;

    // A normal close by the client, after three messages each way.
    let mut ws = connect(addr, "/ws/echo/7").await;
    send_and_echo(&mut ws, 3).await;
    ws.close(Some(tungstenite::protocol::CloseFrame {
        code: tungstenite::protocol::frame::coding::CloseCode::Normal,
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    drain(&mut ws).await;
    let conn = span_named(&receiver, "websocket /ws/echo/{room}").await;
    assert_eq!(conn.kind(), INTERNAL);
    assert_eq!(conn.trace_id_hex(), TID, "continues the client's trace");
    let upgrade = span_named(&receiver, "GET /ws/echo/{room}").await;
    assert_eq!(upgrade.parent_span_id_hex().as_deref(), Some(PID));
    assert_eq!(upgrade.attr_str("http.response.status_code").as_deref(), Some("101"));
    assert_eq!(conn.parent_span_id_hex(), Some(upgrade.span_id_hex()), "child of the upgrade request's span");
    assert_eq!(attr(&conn, "http.route").as_deref(), Some("/ws/echo/{room}"));
    assert_eq!(attr(&conn, "network.protocol.name").as_deref(), Some("websocket"));
    assert_eq!(attr(&conn, "websocket.close.code").as_deref(), Some("1000"));
    assert_eq!(attr(&conn, "websocket.close.reason").as_deref(), Some("bye"));
    assert_eq!(attr(&conn, "websocket.close.initiator").as_deref(), Some("client"));
    assert_eq!(attr(&conn, "websocket.messages.received").as_deref(), Some("4"), "three texts and the close");
    assert_eq!(attr(&conn, "websocket.messages.sent").as_deref(), Some("3"));
    assert_eq!(conn.status_code(), 0);
    assert!(conn.attr("error.type").is_none());
    assert!(conn.event_names().is_empty(), "message events are off by default");

    // A client that vanishes without a close frame.
    let mut ws = connect(addr, "/ws/vanish").await;
    send_and_echo(&mut ws, 2).await;
    drop(ws);
    let vanished = span_named(&receiver, "websocket /ws/vanish").await;
    assert_eq!(attr(&vanished, "error.type").as_deref(), Some("reset_without_close"));
    assert_eq!(vanished.status_code(), STATUS_ERROR);
    assert_eq!(attr(&vanished, "websocket.close.code").as_deref(), Some("1006"), "RFC 6455 §7.1.5");
    assert!(vanished.attr("websocket.close.initiator").is_none());
    assert_eq!(attr(&vanished, "websocket.messages.received").as_deref(), Some("2"));

    // The server fails and says so with 1011.
    let mut ws = connect(addr, "/ws/fail").await;
    ws.send(tungstenite::Message::text("go")).await.unwrap();
    let seen = drain(&mut ws).await;
    assert!(
        seen.iter().any(|m| matches!(m, tungstenite::Message::Close(Some(f)) if u16::from(f.code) == 1011)),
        "{seen:?}"
    );
    let failed = span_named(&receiver, "websocket /ws/fail").await;
    assert_eq!(attr(&failed, "error.type").as_deref(), Some("1011"));
    assert_eq!(failed.status_code(), STATUS_ERROR);
    assert_eq!(attr(&failed, "websocket.close.initiator").as_deref(), Some("server"));
    assert_eq!(attr(&failed, "websocket.close.reason").as_deref(), Some("boom"));

    // The server drops the socket while it is open.
    let mut ws = connect(addr, "/ws/drop").await;
    ws.send(tungstenite::Message::text("go")).await.unwrap();
    drain(&mut ws).await;
    let dropped = span_named(&receiver, "websocket /ws/drop").await;
    assert_eq!(attr(&dropped, "error.type").as_deref(), Some("dropped"));
    assert_eq!(attr(&dropped, "websocket.close.code").as_deref(), Some("1006"));

    // Message events when asked for.
    let mut ws = connect(addr, "/ws/events").await;
    send_and_echo(&mut ws, 2).await;
    ws.close(None).await.unwrap();
    drain(&mut ws).await;
    let with_events = span_named(&receiver, "websocket /ws/events").await;
    assert_eq!(with_events.event_names(), ["websocket.message"; 5], "two texts each way and the close");

    // Metrics only (traces off): counted, no span.
    let mut ws = connect(addr, "/ws/quiet").await;
    send_and_echo(&mut ws, 2).await;
    ws.close(None).await.unwrap();
    drain(&mut ws).await;

    // Without a server layer: still observed, through the global providers, as a root span.
    let mut ws = connect(addr, "/ws/bare").await;
    send_and_echo(&mut ws, 1).await;
    ws.close(None).await.unwrap();
    drain(&mut ws).await;
    let bare = span_named(&receiver, "websocket /ws/bare").await;
    assert!(bare.parent_span_id_hex().is_none(), "no upgrade span to continue");
    assert_eq!(attr(&bare, "websocket.close.code").as_deref(), Some("1005"), "a close frame without a code");
    assert_eq!(attr(&bare, "websocket.messages.sent").as_deref(), Some("1"));
    // The quiet connection ended before the bare one, whose span has arrived: it left no span.
    assert!(receiver.spans().iter().all(|s| s.attr_str("http.route").as_deref() != Some("/ws/quiet")));

    // Every connection has ended (its span was exported after its metrics were recorded).
    let messages = metric(&receiver, &telemetry, "websocket.server.messages").await;
    assert_eq!(messages.unit(), "{message}");
    let echo_route = "/ws/echo/{room}";
    let by = |dir: &str, kind: &str| {
        sum_on(&messages, echo_route, &[("websocket.message.direction", dir), ("websocket.message.type", kind)])
    };
    assert_eq!(by("receive", "text"), Some(3.0));
    assert_eq!(by("transmit", "text"), Some(3.0));
    assert_eq!(by("receive", "close"), Some(1.0));
    assert_eq!(by("transmit", "close"), None, "tungstenite's automatic close reply is not the handler's");
    assert!(
        messages.number_points().iter().all(|p| p.attr_str("network.protocol.name").as_deref() == Some("websocket")),
        "every point carries the protocol"
    );
    assert_eq!(
        sum_on(
            &messages,
            "/ws/fail",
            &[("websocket.message.direction", "transmit"), ("websocket.message.type", "close")]
        ),
        Some(1.0)
    );

    let active = metric(&receiver, &telemetry, "websocket.server.active_connections").await;
    assert_eq!(
        sum_on(
            &messages,
            "/ws/quiet",
            &[("websocket.message.direction", "receive"), ("websocket.message.type", "text")]
        ),
        Some(2.0),
        "metrics without traces"
    );
    let routes = ["/ws/echo/{room}", "/ws/vanish", "/ws/fail", "/ws/drop", "/ws/events", "/ws/quiet", "/ws/bare"];
    for route in routes {
        assert_eq!(sum_on(&active, route, &[]), Some(0.0), "{route}: back to zero");
    }

    let durations = metric(&receiver, &telemetry, "websocket.server.connection.duration").await;
    assert_eq!(durations.unit(), "s");
    let count = |route: &str, error: Option<&str>| -> u64 {
        durations
            .histogram_points()
            .iter()
            .filter(|p| {
                p.attr_str("http.route").as_deref() == Some(route) && p.attr_str("error.type").as_deref() == error
            })
            .map(|p| p.count)
            .sum()
    };
    assert_eq!(count(echo_route, None), 1);
    assert_eq!(count("/ws/vanish", Some("reset_without_close")), 1);
    assert_eq!(count("/ws/fail", Some("1011")), 1);
    assert_eq!(count("/ws/drop", Some("dropped")), 1);

    let sizes = metric(&receiver, &telemetry, "websocket.server.message.size").await;
    assert_eq!(sizes.unit(), "By");
    let text_in = sizes
        .histogram_points()
        .into_iter()
        .find(|p| {
            p.attr_str("http.route").as_deref() == Some(echo_route)
                && p.attr_str("websocket.message.direction").as_deref() == Some("receive")
                && p.attr_str("websocket.message.type").as_deref() == Some("text")
        })
        .expect("received text sizes");
    assert_eq!(text_in.count, 3);
    assert_eq!(text_in.sum, Some(("hello 0".len() * 3) as f64));

    let _ = telemetry.shutdown().await;
    receiver.shutdown().await;
}

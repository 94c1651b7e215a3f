//! OTLP/HTTP over a real socket: protobuf and JSON bodies, gzip, the
//! Collector-style error answers, waits and shutdown.

use crate::common;

use std::io::Write as _;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use otelwright_receiver::proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use otelwright_receiver::{MetricKind, Receiver, ReceiverConfig, RequestInfo, Signal, Transport};
use prost::Message as _;

const WAIT: Duration = Duration::from_secs(10);
const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

async fn post(
    receiver: &Receiver,
    path: &str,
    content_type: Option<&str>,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(format!("{}{path}", receiver.http_endpoint())).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    if let Some(enc) = encoding {
        request = request.header("content-encoding", enc);
    }
    request.send().await.expect("send")
}

fn content_type(response: &reqwest::Response) -> String {
    response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The `google.rpc.Status` shape, decoded from a protobuf error body.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

#[tokio::test]
async fn protobuf_round_trip_of_all_signals() {
    let receiver = Receiver::start().await.expect("start");

    let response =
        post(&receiver, "/v1/traces", Some(PROTOBUF), None, common::traces("http-svc", "proto-span").encode_to_vec())
            .await;
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), PROTOBUF);
    let body = response.bytes().await.unwrap();
    assert_eq!(ExportTraceServiceResponse::decode(body).unwrap(), ExportTraceServiceResponse::default());

    let response =
        post(&receiver, "/v1/logs", Some(PROTOBUF), None, common::logs("http-svc", "proto log").encode_to_vec()).await;
    assert_eq!(response.status(), 200);
    let response =
        post(&receiver, "/v1/metrics", Some(PROTOBUF), None, common::metrics("http-svc").encode_to_vec()).await;
    assert_eq!(response.status(), 200);

    let spans = receiver.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name(), "proto-span");
    assert_eq!(spans[0].transport, Transport::HttpProtobuf);
    assert_eq!(spans[0].resource_str("service.name").as_deref(), Some("http-svc"));
    let logs = receiver.logs();
    assert_eq!(logs[0].body_str().as_deref(), Some("proto log"));
    assert_eq!(logs[0].transport, Transport::HttpProtobuf);
    let metrics = receiver.metrics();
    assert_eq!(metrics.len(), 2);
    assert!(metrics.iter().all(|m| m.transport == Transport::HttpProtobuf));

    assert_eq!(
        receiver.requests(),
        vec![
            RequestInfo { signal: Signal::Traces, transport: Transport::HttpProtobuf, items: 1, gzip: false },
            RequestInfo { signal: Signal::Logs, transport: Transport::HttpProtobuf, items: 1, gzip: false },
            RequestInfo { signal: Signal::Metrics, transport: Transport::HttpProtobuf, items: 2, gzip: false },
        ]
    );
    receiver.shutdown().await;
}

/// A trace body written by hand the way the OTLP/JSON spec shows it: hex ids,
/// lowerCamelCase keys, enums as integers, 64-bit integers as strings.
const TRACE_JSON: &str = r#"{
  "resourceSpans": [{
    "resource": {
      "attributes": [
        { "key": "service.name", "value": { "stringValue": "json-svc" } },
        { "key": "pid", "value": { "intValue": "4242" } }
      ]
    },
    "scopeSpans": [{
      "scope": { "name": "my.library", "version": "1.0.0" },
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "eee19b7ec3c1b174",
        "parentSpanId": "eee19b7ec3c1b173",
        "name": "I'm a server span",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "kind": 2,
        "attributes": [
          { "key": "my.span.attr", "value": { "stringValue": "some value" } },
          { "key": "ratio", "value": { "doubleValue": 0.5 } },
          { "key": "count", "value": { "intValue": 3 } },
          { "key": "tags", "value": { "arrayValue": { "values": [ { "stringValue": "a" }, { "boolValue": true } ] } } }
        ],
        "events": [ { "timeUnixNano": "1544712660500000000", "name": "retry" } ],
        "status": { "code": 2, "message": "boom" }
      }]
    }]
  }]
}"#;

const LOGS_JSON: &str = r#"{
  "resourceLogs": [{
    "resource": { "attributes": [ { "key": "service.name", "value": { "stringValue": "json-svc" } } ] },
    "scopeLogs": [{
      "scope": { "name": "my.library" },
      "logRecords": [{
        "timeUnixNano": "1544712660300000000",
        "observedTimeUnixNano": "1544712660300000000",
        "severityNumber": 10,
        "severityText": "Information",
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "body": { "stringValue": "Example log record" },
        "attributes": [ { "key": "string.attribute", "value": { "stringValue": "some string" } } ]
      }, {
        "body": { "kvlistValue": { "values": [ { "key": "k", "value": { "intValue": "1" } } ] } }
      }]
    }]
  }]
}"#;

const METRICS_JSON: &str = r#"{
  "resourceMetrics": [{
    "resource": { "attributes": [ { "key": "service.name", "value": { "stringValue": "json-svc" } } ] },
    "scopeMetrics": [{
      "scope": { "name": "my.library" },
      "metrics": [{
        "name": "my.counter",
        "unit": "1",
        "sum": {
          "aggregationTemporality": 1,
          "isMonotonic": true,
          "dataPoints": [ { "asDouble": 5, "startTimeUnixNano": "1544712660300000000", "timeUnixNano": "1544712660300000000",
                            "attributes": [ { "key": "my.counter.attr", "value": { "stringValue": "x" } } ] } ]
        }
      }, {
        "name": "my.gauge",
        "gauge": { "dataPoints": [ { "asInt": "-7", "timeUnixNano": "1544712660300000000" } ] }
      }, {
        "name": "my.histogram",
        "histogram": {
          "aggregationTemporality": 1,
          "dataPoints": [ { "startTimeUnixNano": "1544712660300000000", "timeUnixNano": "1544712660300000000",
                            "count": "2", "sum": 2, "bucketCounts": ["1", "1"], "explicitBounds": [1],
                            "min": 0, "max": 2 } ]
        }
      }]
    }]
  }]
}"#;

#[tokio::test]
async fn hand_written_json_decodes() {
    let receiver = Receiver::start().await.expect("start");

    let response =
        post(&receiver, "/v1/traces", Some("application/json; charset=utf-8"), None, TRACE_JSON.into()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), JSON);
    let body: serde_json::Value = json_body(response).await;
    assert!(body.is_object());

    let spans = receiver.spans();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.transport, Transport::HttpJson);
    assert_eq!(span.name(), "I'm a server span");
    assert_eq!(span.trace_id_hex(), "5b8efff798038103d269b633813fc60c");
    assert_eq!(span.span_id_hex(), "eee19b7ec3c1b174");
    assert_eq!(span.parent_span_id_hex().as_deref(), Some("eee19b7ec3c1b173"));
    assert_eq!(span.kind(), 2);
    assert_eq!(span.status_code(), 2);
    assert_eq!(span.span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.event_names(), vec!["retry"]);
    assert_eq!(span.resource_str("service.name").as_deref(), Some("json-svc"));
    assert_eq!(span.resource_str("pid").as_deref(), Some("4242"));
    assert_eq!(span.attr_str("my.span.attr").as_deref(), Some("some value"));
    assert_eq!(span.attr_str("ratio").as_deref(), Some("0.5"));
    assert_eq!(span.attr_str("count").as_deref(), Some("3"));
    assert_eq!(span.attr_str("tags").as_deref(), Some("[a, true]"));
    assert_eq!(span.scope_name(), "my.library");

    let response = post(&receiver, "/v1/logs", Some(JSON), None, LOGS_JSON.into()).await;
    assert_eq!(response.status(), 200);
    let logs = receiver.logs();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0].body_str().as_deref(), Some("Example log record"));
    assert_eq!(logs[0].severity_number(), 10);
    assert_eq!(logs[0].severity_text(), "Information");
    assert_eq!(logs[0].trace_id_hex().as_deref(), Some("5b8efff798038103d269b633813fc60c"));
    assert_eq!(logs[0].attr_str("string.attribute").as_deref(), Some("some string"));
    assert_eq!(logs[1].body_str().as_deref(), Some("{k: 1}"));
    assert_eq!(logs[1].trace_id_hex(), None);
    assert_eq!(logs[1].resource_str("service.name").as_deref(), Some("json-svc"));

    let response = post(&receiver, "/v1/metrics", Some(JSON), None, METRICS_JSON.into()).await;
    assert_eq!(response.status(), 200);
    let metrics = receiver.metrics();
    assert_eq!(metrics.len(), 3);
    assert_eq!(metrics[0].name(), "my.counter");
    assert_eq!(metrics[0].kind(), MetricKind::Sum);
    assert_eq!(metrics[0].values(), vec![5.0]);
    assert_eq!(metrics[0].number_points()[0].attr_str("my.counter.attr").as_deref(), Some("x"));
    assert_eq!(metrics[1].kind(), MetricKind::Gauge);
    assert_eq!(metrics[1].values(), vec![-7.0]);
    let h = &metrics[2].histogram_points()[0];
    assert_eq!((h.count, h.sum, h.min, h.max), (2, Some(2.0), Some(0.0), Some(2.0)));
    assert_eq!(h.bucket_counts, vec![1, 1]);
    assert_eq!(h.explicit_bounds, vec![1.0]);

    assert!(receiver.requests().iter().all(|r| r.transport == Transport::HttpJson));
    receiver.shutdown().await;
}

#[tokio::test]
async fn gzip_bodies_are_decompressed() {
    let receiver = Receiver::start().await.expect("start");
    let proto = gzip(&common::traces("gz-svc", "gz-proto").encode_to_vec());
    let response = post(&receiver, "/v1/traces", Some(PROTOBUF), Some("gzip"), proto).await;
    assert_eq!(response.status(), 200);
    let json = gzip(TRACE_JSON.as_bytes());
    let response = post(&receiver, "/v1/traces", Some(JSON), Some("gzip"), json).await;
    assert_eq!(response.status(), 200);

    let names: Vec<String> = receiver.spans().iter().map(|s| s.name().to_owned()).collect();
    assert_eq!(names, vec!["gz-proto", "I'm a server span"]);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.gzip));
    assert_eq!(requests[0].transport, Transport::HttpProtobuf);
    assert_eq!(requests[1].transport, Transport::HttpJson);
    receiver.shutdown().await;
}

#[tokio::test]
async fn collector_style_errors() {
    let receiver = Receiver::start().await.expect("start");
    let client = reqwest::Client::new();
    let base = receiver.http_endpoint();

    // Unsupported or missing content type: 415.
    let response = post(&receiver, "/v1/traces", Some("text/plain"), None, b"x".to_vec()).await;
    assert_eq!(response.status(), 415);
    let text = response.text().await.unwrap();
    assert!(text.contains("unsupported media type"), "{text}");
    let response = post(&receiver, "/v1/logs", None, None, b"x".to_vec()).await;
    assert_eq!(response.status(), 415);

    // Undecodable protobuf: 400 with a protobuf google.rpc.Status.
    let response = post(&receiver, "/v1/traces", Some(PROTOBUF), None, vec![0xff; 7]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(content_type(&response), PROTOBUF);
    let status = RpcStatus::decode(response.bytes().await.unwrap()).expect("status body");
    assert_eq!(status.code, 3);
    assert!(status.message.contains("protobuf"), "{}", status.message);

    // Undecodable JSON: 400 with a JSON status.
    let response = post(&receiver, "/v1/metrics", Some(JSON), None, b"{not json".to_vec()).await;
    assert_eq!(response.status(), 400);
    assert_eq!(content_type(&response), JSON);
    let status: serde_json::Value = json_body(response).await;
    assert_eq!(status["code"], 3);
    assert!(status["message"].as_str().unwrap().contains("JSON"));

    // A bad hex trace id is a decode error too.
    let bad_id = TRACE_JSON.replace("5B8EFFF798038103D269B633813FC60C", "xyz");
    let response = post(&receiver, "/v1/traces", Some(JSON), None, bad_id.into()).await;
    assert_eq!(response.status(), 400);

    // Broken gzip, and an unsupported encoding: 400.
    let response = post(&receiver, "/v1/traces", Some(PROTOBUF), Some("gzip"), b"nope".to_vec()).await;
    assert_eq!(response.status(), 400);
    let response = post(&receiver, "/v1/traces", Some(PROTOBUF), Some("br"), Vec::new()).await;
    assert_eq!(response.status(), 400);

    // A gzip bomb (65 MiB of zeros, ~65 KiB compressed): 400, not an OOM.
    let bomb = {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        let chunk = vec![0u8; 1024 * 1024];
        for _ in 0..65 {
            enc.write_all(&chunk).unwrap();
        }
        enc.finish().unwrap()
    };
    assert!(bomb.len() < 1024 * 1024);
    let response = post(&receiver, "/v1/logs", Some(PROTOBUF), Some("gzip"), bomb).await;
    assert_eq!(response.status(), 400);
    let status = RpcStatus::decode(response.bytes().await.unwrap()).unwrap();
    assert!(status.message.contains("exceeds"), "{}", status.message);

    // Wrong method on a known path: 405. Unknown path: 404.
    let response = client.get(format!("{base}/v1/traces")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let response = client.put(format!("{base}/v1/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let response = client.post(format!("{base}/v1/profiles")).header("content-type", PROTOBUF).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let response = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(response.status(), 404);

    // Nothing was stored and no request was recorded.
    assert!(receiver.spans().is_empty());
    assert!(receiver.logs().is_empty());
    assert!(receiver.metrics().is_empty());
    assert!(receiver.requests().is_empty());

    // An empty protobuf body is a valid, empty export.
    let response = post(&receiver, "/v1/traces", Some(PROTOBUF), None, Vec::new()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(receiver.requests()[0].items, 0);
    receiver.shutdown().await;
}

#[tokio::test]
async fn wait_times_out_promptly() {
    let receiver = Receiver::start().await.expect("start");
    let wait = receiver.wait_for_spans(|s| !s.is_empty(), Duration::from_millis(100));
    let err = tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the wait itself must end at its deadline")
        .expect_err("nothing was sent");
    assert_eq!(err.seen, 0);
    assert_eq!(err.what, "spans");
    assert!(err.to_string().contains("timed out"), "{err}");

    let err = tokio::time::timeout(
        Duration::from_secs(10),
        receiver.wait_for_logs(|l| l.len() > 5, Duration::from_millis(50)),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(err.what, "log records");
    receiver.shutdown().await;
}

#[tokio::test]
async fn wait_wakes_when_data_arrives_later() {
    let receiver = Receiver::start().await.expect("start");
    let waiter = {
        let receiver = receiver.clone();
        tokio::spawn(async move { receiver.wait_for_spans(|s| s.iter().any(|s| s.name() == "late"), WAIT).await })
    };
    let sent = post(&receiver, "/v1/traces", Some(PROTOBUF), None, common::traces("svc", "late").encode_to_vec()).await;
    assert_eq!(sent.status(), 200);
    let spans = waiter.await.unwrap().expect("woken by the insert");
    assert_eq!(spans[0].name(), "late");

    receiver.clear();
    assert!(receiver.spans().is_empty());
    assert!(receiver.requests().is_empty());
    receiver.shutdown().await;
}

#[tokio::test]
async fn shutdown_and_drop_close_the_listeners() {
    let receiver = Receiver::start_with(ReceiverConfig::default()).await.expect("start");
    let (grpc, http) = (receiver.grpc_addr(), receiver.http_addr());
    assert_eq!(receiver.http_endpoint(), format!("http://{http}"));
    assert_eq!(receiver.grpc_endpoint(), format!("http://{grpc}"));
    assert!(tokio::net::TcpStream::connect(http).await.is_ok());
    tokio::time::timeout(Duration::from_secs(10), receiver.shutdown()).await.expect("shutdown is prompt");
    assert!(tokio::net::TcpStream::connect(http).await.is_err());
    assert!(tokio::net::TcpStream::connect(grpc).await.is_err());

    // Dropping the last handle stops the servers too.
    let receiver = Receiver::start().await.expect("start");
    let http = receiver.http_addr();
    drop(receiver);
    let closed = async {
        while tokio::net::TcpStream::connect(http).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed).await.expect("listener closes after drop");
}

async fn json_body(response: reqwest::Response) -> serde_json::Value {
    let bytes = response.bytes().await.expect("body");
    serde_json::from_slice(&bytes).expect("json body")
}

/// Draining while exports arrive loses nothing and counts nothing twice: 4 senders post 50 exports each while the
/// test drains in a loop; the drains add up to exactly 200 spans and 200 requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_while_exports_arrive_loses_nothing() {
    let receiver = Receiver::start().await.expect("start");
    let senders: Vec<_> = (0..4)
        .map(|sender| {
            let receiver = receiver.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    let body = common::traces("drain-svc", &format!("span-{sender}-{i}")).encode_to_vec();
                    let response = post(&receiver, "/v1/traces", Some(PROTOBUF), None, body).await;
                    assert_eq!(response.status(), 200);
                }
            })
        })
        .collect();
    let (mut spans, mut requests) = (std::collections::HashSet::new(), 0);
    let mut drains = 0;
    while !senders.iter().all(|s| s.is_finished()) {
        let drained = receiver.drain();
        requests += drained.requests.len();
        for span in drained.spans {
            assert!(spans.insert(span.name().to_owned()), "{} drained twice", span.name());
        }
        drains += 1;
        tokio::task::yield_now().await;
    }
    for sender in senders {
        sender.await.unwrap();
    }
    let last = receiver.drain();
    requests += last.requests.len();
    for span in last.spans {
        assert!(spans.insert(span.name().to_owned()), "{} drained twice", span.name());
    }
    assert_eq!(spans.len(), 200, "after {drains} drains");
    assert_eq!(requests, 200);
    assert!(receiver.spans().is_empty() && receiver.requests().is_empty(), "drain leaves the receiver empty");
}

/// `Fault::Hold` is a collector that hangs: the export is accepted, counted as held, and neither stored nor
/// answered until the fault changes; then it goes on under the new fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_answers_nothing_until_the_fault_changes() {
    let receiver = Receiver::start().await.expect("start");
    receiver.set_fault(otelwright_receiver::Fault::Hold);
    let export = {
        let receiver = receiver.clone();
        tokio::spawn(async move {
            post(&receiver, "/v1/traces", Some(PROTOBUF), None, common::traces("svc", "held").encode_to_vec()).await
        })
    };
    let held = async {
        while receiver.held_requests(Signal::Traces) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await; // polling a condition, not waiting for time
        }
    };
    tokio::time::timeout(WAIT, held).await.expect("the export reaches the receiver and is held");
    assert_eq!(receiver.held_requests(Signal::Logs), 0);
    assert!(!export.is_finished(), "a held export has no answer");
    assert!(receiver.spans().is_empty(), "a held export is not stored yet");
    assert_eq!(receiver.faulted_requests(), 1);

    receiver.set_fault(otelwright_receiver::Fault::None);
    assert_eq!(export.await.unwrap().status(), 200);
    assert_eq!(receiver.spans()[0].name(), "held");
    assert_eq!(receiver.held_requests(Signal::Traces), 0);
    receiver.shutdown().await;
}

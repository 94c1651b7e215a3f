//! Resource meters end to end: a service samples itself with `ResourceMeter`, exports over OTLP/gRPC to
//! otelwright-receiver, and every value received equals the snapshot the sampler took (the same snapshot the
//! JSON metrics endpoint renders).

use std::time::{Duration, Instant};

use otelwright_meters::names::{attr, process as p, system as s};
use otelwright_meters::{ResourceConfig, ResourceMeter};
use otelwright_receiver::{MetricKind, ReceivedMetric};
use otelwright_test_support::{Pipeline, WAIT};

fn value(metrics: &[ReceivedMetric], name: &str, kv: &[(&str, &str)]) -> Option<f64> {
    let metric = metrics.iter().rev().find(|m| m.name() == name)?;
    metric
        .number_points()
        .into_iter()
        .find(|pt| kv.iter().all(|(k, v)| pt.attr_str(k).as_deref() == Some(*v)))
        .map(|pt| pt.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_reach_the_receiver_as_sampled() {
    let Pipeline { receiver, telemetry } =
        Pipeline::start("meters-resources", |c| c.metric_interval(Duration::from_secs(3600))).await;
    let resources = ResourceMeter::start(ResourceConfig::default().manual_refresh()).unwrap();
    resources.register_instruments(&telemetry.meter("otelwright-meters"));

    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_millis(100) {
        x = std::hint::black_box(x.wrapping_add(1));
    }
    let snap = resources.refresh();
    receiver.clear();
    assert!(telemetry.flush().await.is_empty());
    let metrics = receiver
        .wait_for_metrics(|m| m.iter().any(|m| m.name() == s::MEMORY_USAGE), WAIT)
        .await
        .expect("metrics arrive");

    let pr = &snap.process;
    let user = [(attr::CPU_MODE, "user")];
    assert_eq!(value(&metrics, p::CPU_TIME, &user), pr.cpu_user_seconds.or(Some(pr.cpu_seconds)));
    assert_eq!(value(&metrics, p::MEMORY_USAGE, &[]), Some(pr.memory_rss_bytes as f64));
    assert_eq!(value(&metrics, p::MEMORY_VIRTUAL, &[]), Some(pr.memory_virtual_bytes as f64));
    assert_eq!(value(&metrics, p::THREAD_COUNT, &[]), pr.threads.map(|t| t as f64));
    assert_eq!(value(&metrics, p::FILE_DESCRIPTOR_COUNT, &[]), pr.open_file_descriptors.map(|t| t as f64));
    assert_eq!(value(&metrics, p::DISK_IO, &[(attr::DISK_IO_DIRECTION, "write")]), Some(pr.disk_write_bytes as f64));
    assert_eq!(value(&metrics, p::UPTIME, &[]), Some(pr.uptime_seconds));
    assert!(pr.cpu_utilization.is_some_and(|u| u > 0.0), "{pr:?}");
    let sy = &snap.system;
    assert_eq!(value(&metrics, s::CPU_UTILIZATION, &[]), sy.cpu_utilization);
    let used = [(attr::SYSTEM_MEMORY_STATE, "used")];
    assert_eq!(value(&metrics, s::MEMORY_USAGE, &used), Some(sy.memory_used_bytes as f64));
    assert_eq!(value(&metrics, s::MEMORY_UTILIZATION, &used), sy.memory_utilization);
    assert_eq!(value(&metrics, s::MEMORY_LIMIT, &[]), sy.memory_limit_bytes.map(|l| l as f64));
    assert_eq!(value(&metrics, s::LOAD_AVERAGE_5M, &[]), sy.load_average.map(|l| l.five));
    for f in &snap.filesystems {
        let kv = [(attr::SYSTEM_FILESYSTEM_MOUNTPOINT, &*f.mount_point), (attr::SYSTEM_FILESYSTEM_STATE, "free")];
        assert_eq!(value(&metrics, s::FILESYSTEM_USAGE, &kv), Some(f.free_bytes as f64));
    }
    for d in &snap.disks {
        let kv = [(attr::SYSTEM_DEVICE, &*d.device), (attr::DISK_IO_DIRECTION, "read")];
        assert_eq!(value(&metrics, s::DISK_IO, &kv), Some(d.read_bytes as f64));
    }

    let find = |name: &str| metrics.iter().rev().find(|m| m.name() == name).unwrap();
    assert_eq!((find(p::CPU_TIME).unit(), find(p::CPU_TIME).is_monotonic()), ("s", Some(true)));
    assert_eq!((find(p::MEMORY_USAGE).unit(), find(p::MEMORY_USAGE).is_monotonic()), ("By", Some(false)));
    assert_eq!((find(s::MEMORY_UTILIZATION).unit(), find(s::MEMORY_UTILIZATION).kind()), ("1", MetricKind::Gauge));
    assert_eq!(find(s::LOAD_AVERAGE_1M).unit(), "{thread}");
    assert_eq!(find(p::FILE_DESCRIPTOR_COUNT).unit(), "{file_descriptor}");

    let report = telemetry.shutdown().await;
    assert!(report.is_clean(), "{report:?}");
    receiver.shutdown().await;
}

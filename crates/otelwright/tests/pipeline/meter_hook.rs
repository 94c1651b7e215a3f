//! `Config::meter_provider_hook`: extra readers reach the meter provider, which is built for them even when no
//! metrics exporter is configured.

use otelwright::{Config, LogFormat};

#[test]
fn meter_provider_hook_adds_a_reader_even_without_exporters() {
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
    let exporter = InMemoryMetricExporter::default();
    let reader = std::sync::Mutex::new(Some(PeriodicReader::builder(exporter.clone()).build()));
    let telemetry = otelwright::build(
        Config::default().exporters(otelwright::Signal::Metrics, []).log_format(LogFormat::Off).meter_provider_hook(
            move |b| match reader.lock().unwrap().take() {
                Some(r) => b.with_reader(r),
                None => b,
            },
        ),
    )
    .unwrap();
    telemetry.meter("hooked").u64_counter("hooked.calls").build().add(2, &[]);
    telemetry.meter_provider().expect("the hook asks for a provider").force_flush().unwrap();
    let exported = exporter.get_finished_metrics().unwrap();
    let names: Vec<String> = exported
        .iter()
        .flat_map(|rm| rm.scope_metrics().flat_map(|s| s.metrics().map(|m| m.name().to_owned())))
        .collect();
    assert!(names.contains(&"hooked.calls".to_owned()), "{names:?}");
    telemetry.shutdown_blocking();
}

//! Builds the three SDK providers from a [`Config`]. Spans and log records over OTLP gRPC or HTTP/protobuf go
//! through otelwright's own processors (`export`), which send on a small runtime otelwright owns, so export never
//! depends on the application's runtime flavour. HTTP/JSON and the console keep the SDK's batch processors and
//! opentelemetry-otlp's exporters (HTTP on the blocking client, on the SDK's threads); metrics keep the periodic
//! reader (gRPC on the same runtime). Also the sampler, limits and views.

use std::collections::HashMap;

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{BatchLogProcessor, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{Aggregation, Instrument, InstrumentKind, PeriodicReader, SdkMeterProvider, Stream};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanLimits};

use crate::config::{
    BatchSettings, Compression, Config, Exporter, HistogramAggregation, ParentRoot, Protocol, ResolvedOtlp, Sampler,
    Signal, Temporality,
};
use crate::export::AttributeLimits;
use crate::export::log_processor::OtlpLogProcessor;
use crate::export::span_processor::OtlpSpanProcessor;
use crate::export::transport::Transport;
use crate::limits::TruncatingSpanExporter;
use crate::selfobs::{self, CountingMetricExporter, Stats};
#[cfg(feature = "tls")]
use crate::tls;
use crate::{ConfigWarning, Error};

/// The built providers plus the runtime that drives the gRPC exporters.
pub(crate) struct Providers {
    pub(crate) tracer: Option<SdkTracerProvider>,
    pub(crate) meter: Option<SdkMeterProvider>,
    pub(crate) logger: Option<SdkLoggerProvider>,
    pub(crate) runtime: Option<tokio::runtime::Runtime>,
    pub(crate) stats: Stats,
    /// Problems found while building that the configuration could not see (an empty system trust store).
    pub(crate) warnings: Vec<ConfigWarning>,
}

pub(crate) fn build(config: &Config, resource: &Resource) -> Result<Providers, Error> {
    let wants_runtime = Signal::ALL.iter().any(|&s| {
        config.signal_exporters(s).contains(&Exporter::Otlp)
            && match config.otlp(s).protocol {
                Protocol::Grpc => true,
                Protocol::HttpProtobuf => s != Signal::Metrics,
                Protocol::HttpJson => false,
            }
    });
    let runtime = if wants_runtime {
        Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("otelwright-export")
                // Everything on these threads is export (requests, retries, tonic's connection tasks): suppress
                // telemetry for the thread's whole life, so nothing they log or trace feeds back into export.
                .on_thread_start(|| std::mem::forget(opentelemetry::Context::enter_telemetry_suppressed_scope()))
                .enable_all()
                .build()
                .map_err(Error::Runtime)?,
        )
    } else {
        None
    };
    // Tonic channels spawn their connection tasks on the runtime that is current when they are built.
    let _entered = runtime.as_ref().map(|rt| rt.enter());
    let handle = runtime.as_ref().map(|rt| rt.handle());

    let stats = Stats::new();
    let mut warnings = Vec::new();
    let built = (|| {
        let tracer = build_tracer(config, resource, &stats, handle, &mut warnings)?;
        let logger = build_logger(config, resource, &stats, handle, &mut warnings)?;
        let meter = build_meter(config, resource, &stats, &mut warnings)?;
        Ok((tracer, logger, meter))
    })();
    drop(_entered);
    let (tracer, logger, meter) = match built {
        Ok(providers) => providers,
        Err(e) => {
            // Dropping a runtime waits for its threads, which panics inside the caller's async context.
            if let Some(rt) = runtime {
                rt.shutdown_background();
            }
            return Err(e);
        }
    };
    if let Some(m) = &meter {
        stats.register(m);
    }
    Ok(Providers { tracer, meter, logger, runtime, stats, warnings })
}

fn resolved(config: &Config, signal: Signal) -> Result<ResolvedOtlp, Error> {
    let mut otlp = config.otlp(signal);
    // OTEL_BSP/BLRP_EXPORT_TIMEOUT bound one export; the SDK's thread-based processors ignore them, so the
    // exporter's own timeout carries the tighter of the two limits.
    match signal {
        Signal::Traces => otlp.timeout = otlp.timeout.min(config.span_batch.export_timeout),
        Signal::Logs => otlp.timeout = otlp.timeout.min(config.log_batch.export_timeout),
        Signal::Metrics => otlp.timeout = otlp.timeout.min(config.metric_timeout),
    }
    // Environment endpoints were validated when read; code endpoints are checked here, where failing is allowed.
    for endpoint in config.otlp.code_endpoints(signal).chain([otlp.endpoint.as_str()]) {
        crate::config::validate_endpoint(endpoint).map_err(|reason| Error::InvalidEndpoint {
            signal: signal.as_str(),
            endpoint: endpoint.to_owned(),
            reason,
        })?;
    }
    Ok(otlp)
}

fn exporter_error(signal: Signal) -> impl FnOnce(opentelemetry_otlp::ExporterBuildError) -> Error {
    move |e| Error::Exporter { signal: signal.as_str(), reason: e.to_string() }
}

fn tonic<B: WithExportConfig + WithTonicConfig>(
    builder: B,
    o: &ResolvedOtlp,
    signal: Signal,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<B, Error> {
    let mut metadata = tonic::metadata::MetadataMap::new();
    for (k, v) in &o.headers {
        if let (Ok(k), Ok(v)) = (k.parse::<tonic::metadata::MetadataKey<_>>(), v.parse()) {
            metadata.insert(k, v);
        }
    }
    let builder = builder.with_endpoint(&o.endpoint).with_timeout(o.timeout).with_metadata(metadata);
    #[cfg(feature = "tls")]
    let builder = match tls_pems(o, signal, warnings)? {
        Some(pems) => builder.with_tls_config(tls::grpc(pems, tls::system_roots)),
        None => builder,
    };
    #[cfg(not(feature = "tls"))]
    let _ = (signal, warnings);
    Ok(match o.compression {
        Compression::Gzip => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
        Compression::None => builder,
    })
}

fn http<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    o: &ResolvedOtlp,
    signal: Signal,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<B, Error> {
    let protocol = match o.protocol {
        Protocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
        _ => opentelemetry_otlp::Protocol::HttpBinary,
    };
    let headers: HashMap<String, String> = o.headers.iter().cloned().collect();
    let builder =
        builder.with_endpoint(&o.endpoint).with_protocol(protocol).with_timeout(o.timeout).with_headers(headers);
    #[cfg(feature = "tls")]
    let builder = builder.with_http_client(tls::http_client(
        tls_pems(o, signal, warnings)?,
        tls::system_roots,
        o.timeout,
        signal,
    )?);
    #[cfg(not(feature = "tls"))]
    let _ = (signal, warnings);
    Ok(match o.compression {
        Compression::Gzip => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
        Compression::None => builder,
    })
}

/// otelwright's own transport for a signal whose protocol is gRPC or HTTP/protobuf (`None` for HTTP/JSON, which
/// keeps opentelemetry-otlp's exporter), and the runtime it sends on.
fn own_transport(
    o: &ResolvedOtlp,
    signal: Signal,
    runtime: Option<&tokio::runtime::Handle>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Option<(Transport, tokio::runtime::Handle)>, Error> {
    let (Protocol::Grpc | Protocol::HttpProtobuf, Some(runtime)) = (o.protocol, runtime) else {
        return Ok(None);
    };
    #[cfg(feature = "tls")]
    let tls = tls_pems(o, signal, warnings)?;
    #[cfg(not(feature = "tls"))]
    let tls = {
        let _ = warnings;
    };
    let transport =
        Transport::new(o, signal, tls).map_err(|reason| Error::Exporter { signal: signal.as_str(), reason })?;
    Ok(Some((transport, runtime.clone())))
}

/// The PEM contents for an `https` endpoint; `None` for `http`. The files were checked when the configuration
/// was read; reading them again here turns a file set in code, or one that changed since, into an error.
#[cfg(feature = "tls")]
fn tls_pems(o: &ResolvedOtlp, signal: Signal, warnings: &mut Vec<ConfigWarning>) -> Result<Option<tls::Pems>, Error> {
    use crate::tls::{Pem, read_pem};
    if !o.endpoint.starts_with("https://") {
        return Ok(None);
    }
    let read = |path: &std::path::PathBuf, kind| {
        read_pem(path, kind).map_err(|reason| Error::Tls { signal: signal.as_str(), path: path.clone(), reason })
    };
    let ca = o.tls.certificate.as_ref().map(|p| read(p, Pem::Certificates)).transpose()?;
    // A half pair was warned about when the configuration was read; it sends no client certificate.
    let identity = match (&o.tls.client_certificate, &o.tls.client_key) {
        (Some(cert), Some(key)) => Some((read(cert, Pem::Certificates)?, read(key, Pem::PrivateKey)?)),
        _ => None,
    };
    let pems = tls::Pems { ca, identity };
    if let Some(reason) = tls::missing_roots_warning(&pems, tls::system_roots) {
        let variable = format!("OTEL_EXPORTER_OTLP_{}_CERTIFICATE", signal.env_infix());
        warnings.push(ConfigWarning { variable, value: String::new(), reason });
    }
    Ok(Some(pems))
}

fn build_tracer(
    config: &Config,
    resource: &Resource,
    stats: &Stats,
    runtime: Option<&tokio::runtime::Handle>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Option<SdkTracerProvider>, Error> {
    let exporters = config.signal_exporters(Signal::Traces);
    if exporters.is_empty() {
        return Ok(None);
    }
    let l = &config.limits;
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(sdk_sampler(config.sampler))
        .with_span_limits(SpanLimits {
            max_events_per_span: l.span_event_count,
            max_attributes_per_span: l.span_attribute_count,
            max_links_per_span: l.span_link_count,
            max_attributes_per_event: l.event_attribute_count,
            max_attributes_per_link: l.link_attribute_count,
        });
    let batch = |settings: &BatchSettings| {
        opentelemetry_sdk::trace::BatchConfigBuilder::default()
            .with_scheduled_delay(settings.schedule_delay)
            .with_max_queue_size(settings.max_queue_size)
            .with_max_export_batch_size(settings.max_export_batch_size)
            .build()
    };
    let max_len = l.span_attribute_value_length;
    let queue = config.span_batch.max_queue_size;
    // The SDK's SpanLimits already cap the attribute counts of spans, events and links; the encoder cuts values.
    let limits = AttributeLimits { value_length: max_len, count: None };
    for exporter in exporters {
        if *exporter == Exporter::Otlp {
            let o = resolved(config, Signal::Traces)?;
            if let Some((transport, runtime)) = own_transport(&o, Signal::Traces, runtime, warnings)? {
                let processor = OtlpSpanProcessor::new(
                    transport,
                    runtime,
                    &config.span_batch,
                    stats.traces.clone(),
                    resource,
                    limits,
                )
                .map_err(Error::Runtime)?;
                builder = builder.with_span_processor(processor);
                continue;
            }
        }
        let processor = match exporter {
            Exporter::Otlp => {
                let o = resolved(config, Signal::Traces)?;
                let e = opentelemetry_otlp::SpanExporter::builder();
                let e = match o.protocol {
                    Protocol::Grpc => tonic(e.with_tonic(), &o, Signal::Traces, warnings)?.build(),
                    _ => http(e.with_http(), &o, Signal::Traces, warnings)?.build(),
                }
                .map_err(exporter_error(Signal::Traces))?;
                selfobs::admission_pipeline(TruncatingSpanExporter::new(e, max_len), &stats.traces, queue, |e| {
                    BatchSpanProcessor::builder(e).with_batch_config(batch(&config.span_batch)).build()
                })
            }
            Exporter::Console => {
                let e = opentelemetry_stdout::SpanExporter::default();
                selfobs::admission_pipeline(TruncatingSpanExporter::new(e, max_len), &stats.traces, queue, |e| {
                    BatchSpanProcessor::builder(e).with_batch_config(batch(&config.span_batch)).build()
                })
            }
        };
        builder = builder.with_span_processor(processor);
    }
    Ok(Some(builder.build()))
}

fn sdk_sampler(s: Sampler) -> opentelemetry_sdk::trace::Sampler {
    use opentelemetry_sdk::trace::Sampler as S;
    match s {
        Sampler::AlwaysOn => S::AlwaysOn,
        Sampler::AlwaysOff => S::AlwaysOff,
        Sampler::TraceIdRatio(r) => S::TraceIdRatioBased(r),
        Sampler::ParentBased(root) => S::ParentBased(Box::new(match root {
            ParentRoot::AlwaysOn => S::AlwaysOn,
            ParentRoot::AlwaysOff => S::AlwaysOff,
            ParentRoot::TraceIdRatio(r) => S::TraceIdRatioBased(r),
        })),
    }
}

fn build_logger(
    config: &Config,
    resource: &Resource,
    stats: &Stats,
    runtime: Option<&tokio::runtime::Handle>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Option<SdkLoggerProvider>, Error> {
    let exporters = config.signal_exporters(Signal::Logs);
    if exporters.is_empty() {
        return Ok(None);
    }
    let b = &config.log_batch;
    let batch = || {
        opentelemetry_sdk::logs::BatchConfigBuilder::default()
            .with_scheduled_delay(b.schedule_delay)
            .with_max_queue_size(b.max_queue_size)
            .with_max_export_batch_size(b.max_export_batch_size)
            .build()
    };
    let mut builder = SdkLoggerProvider::builder().with_resource(resource.clone());
    let l = &config.limits;
    let limits = AttributeLimits {
        value_length: l.log_record_attribute_value_length,
        count: Some(l.log_record_attribute_count as usize),
    };
    for exporter in exporters {
        if *exporter == Exporter::Otlp {
            let o = resolved(config, Signal::Logs)?;
            if let Some((transport, runtime)) = own_transport(&o, Signal::Logs, runtime, warnings)? {
                let processor = OtlpLogProcessor::new(transport, runtime, b, stats.logs.clone(), resource, limits)
                    .map_err(Error::Runtime)?;
                builder = builder.with_log_processor(processor);
                continue;
            }
        }
        let processor = match exporter {
            Exporter::Otlp => {
                let o = resolved(config, Signal::Logs)?;
                let e = opentelemetry_otlp::LogExporter::builder();
                let e = match o.protocol {
                    Protocol::Grpc => tonic(e.with_tonic(), &o, Signal::Logs, warnings)?.build(),
                    _ => http(e.with_http(), &o, Signal::Logs, warnings)?.build(),
                }
                .map_err(exporter_error(Signal::Logs))?;
                selfobs::admission_pipeline(e, &stats.logs, b.max_queue_size, |e| {
                    BatchLogProcessor::builder(e).with_batch_config(batch()).build()
                })
            }
            Exporter::Console => selfobs::admission_pipeline(
                opentelemetry_stdout::LogExporter::default(),
                &stats.logs,
                b.max_queue_size,
                |e| BatchLogProcessor::builder(e).with_batch_config(batch()).build(),
            ),
        };
        builder = builder.with_log_processor(processor);
    }
    Ok(Some(builder.build()))
}

fn sdk_temporality(t: Temporality) -> opentelemetry_sdk::metrics::Temporality {
    use opentelemetry_sdk::metrics::Temporality as T;
    match t {
        Temporality::Cumulative => T::Cumulative,
        Temporality::Delta => T::Delta,
        Temporality::LowMemory => T::LowMemory,
    }
}

fn build_meter(
    config: &Config,
    resource: &Resource,
    stats: &Stats,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Option<SdkMeterProvider>, Error> {
    let exporters = config.signal_exporters(Signal::Metrics);
    if config.sdk_disabled || (exporters.is_empty() && config.meter_hooks.is_empty()) {
        return Ok(None);
    }
    let mut builder = SdkMeterProvider::builder().with_resource(resource.clone());
    for hook in &config.meter_hooks {
        builder = (hook.0)(builder);
    }
    let temporality = sdk_temporality(config.temporality);
    for exporter in exporters {
        builder = match exporter {
            Exporter::Otlp => {
                let o = resolved(config, Signal::Metrics)?;
                let e = opentelemetry_otlp::MetricExporter::builder().with_temporality(temporality);
                let e = match o.protocol {
                    Protocol::Grpc => tonic(e.with_tonic(), &o, Signal::Metrics, warnings)?.build(),
                    _ => http(e.with_http(), &o, Signal::Metrics, warnings)?.build(),
                }
                .map_err(exporter_error(Signal::Metrics))?;
                let e = CountingMetricExporter { inner: e, counters: stats.metrics.clone() };
                builder.with_reader(PeriodicReader::builder(e).with_interval(config.metric_interval).build())
            }
            Exporter::Console => {
                let e = opentelemetry_stdout::MetricExporter::builder().with_temporality(temporality).build();
                let e = CountingMetricExporter { inner: e, counters: stats.metrics.clone() };
                builder.with_reader(PeriodicReader::builder(e).with_interval(config.metric_interval).build())
            }
        };
    }
    if config.histogram_aggregation == HistogramAggregation::Base2Exponential {
        builder = builder.with_view(|i: &Instrument| {
            if i.kind() != InstrumentKind::Histogram {
                return None;
            }
            Stream::builder()
                .with_aggregation(Aggregation::Base2ExponentialHistogram {
                    max_size: 160,
                    max_scale: 20,
                    record_min_max: true,
                })
                .build()
                .ok()
        });
    }
    Ok(Some(builder.build()))
}

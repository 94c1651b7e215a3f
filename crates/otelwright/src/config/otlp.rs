//! OTLP exporter settings: where each value comes from (code or environment, generic or per-signal) and how they
//! resolve into one endpoint, protocol, header set, timeout and compression per signal, following the spec's rules
//! (per-signal beats generic, code beats environment, `v1/<signal>` appended only to a generic HTTP endpoint).
//! TLS files are read and checked here, so a bad `OTEL_EXPORTER_OTLP_CERTIFICATE` is a warning, not a failed init.

use std::path::PathBuf;
use std::time::Duration;

use super::env::{Env, parse_key_values};
use crate::tls::Pem;

pub use otelwright_core::{Protocol, Signal};

/// Where a protocol's exporter sends when no endpoint is configured (OTLP exporter specification, "Endpoint
/// URLs": `http://localhost:4317` for gRPC, `http://localhost:4318` for HTTP).
fn default_endpoint(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Grpc => "http://localhost:4317",
        _ => "http://localhost:4318/",
    }
}

/// Payload compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// No compression (the default).
    #[default]
    None,
    /// gzip.
    Gzip,
}

/// One level of OTLP settings: every field optional so levels can be layered.
#[derive(Clone, Debug, Default)]
pub(crate) struct OtlpSource {
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Option<Vec<(String, String)>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<Compression>,
    pub(crate) insecure: Option<bool>,
    pub(crate) tls: TlsFiles,
}

/// PEM files for TLS (`OTEL_EXPORTER_OTLP_CERTIFICATE`, `_CLIENT_CERTIFICATE`, `_CLIENT_KEY`). Used only for
/// `https` endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificates to trust instead of the system's trust store.
    pub certificate: Option<PathBuf>,
    /// The client's certificate chain, for mutual TLS (sent only together with `client_key`).
    pub client_certificate: Option<PathBuf>,
    /// The client's private key, for mutual TLS.
    pub client_key: Option<PathBuf>,
}

/// All levels, lowest precedence first: env generic, env per-signal, code generic, code per-signal.
#[derive(Clone, Debug, Default)]
pub(crate) struct OtlpSources {
    pub(crate) env_generic: OtlpSource,
    pub(crate) env_signal: [OtlpSource; 3],
    pub(crate) code_generic: OtlpSource,
    pub(crate) code_signal: [OtlpSource; 3],
}

/// The settings one signal's exporter is built with.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedOtlp {
    /// Protocol.
    pub protocol: Protocol,
    /// The full URL the exporter sends to (with `/v1/<signal>` for HTTP).
    pub endpoint: String,
    /// Headers (gRPC metadata) sent with every export.
    pub headers: Vec<(String, String)>,
    /// Timeout of one export call.
    pub timeout: Duration,
    /// Compression.
    pub compression: Compression,
    /// TLS files (the endpoint is `https`), each chosen by the same precedence as the other settings.
    pub tls: TlsFiles,
}

/// The spec's default export timeout.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl OtlpSources {
    pub(crate) fn signal_mut(&mut self, signal: Signal) -> &mut OtlpSource {
        &mut self.code_signal[signal.index()]
    }

    /// The endpoints set in code that apply to `signal`, as given (environment ones were checked when read).
    pub(crate) fn code_endpoints(&self, signal: Signal) -> impl Iterator<Item = &str> {
        [&self.code_signal[signal.index()], &self.code_generic].into_iter().filter_map(|l| l.endpoint.as_deref())
    }

    /// Reads `OTEL_EXPORTER_OTLP_*` and `OTEL_EXPORTER_OTLP_{SIGNAL}_*`.
    pub(crate) fn read_env(env: &mut Env<'_>) -> OtlpSources {
        let mut sources = OtlpSources { env_generic: read_level(env, "OTEL_EXPORTER_OTLP"), ..Default::default() };
        for signal in Signal::ALL {
            sources.env_signal[signal.index()] = read_level(env, &format!("OTEL_EXPORTER_OTLP_{}", signal.env_infix()));
        }
        // A client certificate without its key (or the reverse) cannot be used: say so once, naming the variable
        // that is missing at the level that set the other half.
        let mut warned = Vec::new();
        for signal in Signal::ALL {
            let (own, generic) = (&sources.env_signal[signal.index()].tls, &sources.env_generic.tls);
            let cert = own.client_certificate.as_ref().or(generic.client_certificate.as_ref());
            let key = own.client_key.as_ref().or(generic.client_key.as_ref());
            let (set, missing) = match (cert, key) {
                (Some(c), None) => (c, "CLIENT_KEY"),
                (None, Some(k)) => (k, "CLIENT_CERTIFICATE"),
                _ => continue,
            };
            let own_level = own.client_certificate.is_some() || own.client_key.is_some();
            let var = match own_level {
                true => format!("OTEL_EXPORTER_OTLP_{}_{missing}", signal.env_infix()),
                false => format!("OTEL_EXPORTER_OTLP_{missing}"),
            };
            if !warned.contains(&var) {
                let reason = format!("unset while {} is set; no client certificate is sent", set.display());
                env.warn(&var, "", reason);
                warned.push(var);
            }
        }
        sources
    }

    /// Layers the sources for one signal. Endpoint URLs were validated when they entered a source.
    pub(crate) fn resolve(&self, signal: Signal) -> ResolvedOtlp {
        let i = signal.index();
        let levels = [&self.code_signal[i], &self.code_generic, &self.env_signal[i], &self.env_generic];
        let pick = |f: &dyn Fn(&OtlpSource) -> bool| levels.iter().position(|l| f(l));
        let first = |f: &dyn Fn(&OtlpSource) -> Option<PathBuf>| levels.iter().find_map(|l| f(l));
        let protocol = pick(&|l| l.protocol.is_some()).and_then(|p| levels[p].protocol).unwrap_or_default();
        let insecure = pick(&|l| l.insecure.is_some()).and_then(|p| levels[p].insecure).unwrap_or(false);
        let endpoint = match pick(&|l| l.endpoint.is_some()) {
            // A per-signal endpoint is used as is.
            Some(p @ (0 | 2)) => with_scheme(levels[p].endpoint.as_deref().unwrap_or_default(), insecure),
            Some(p) => with_signal_path(
                &with_scheme(levels[p].endpoint.as_deref().unwrap_or_default(), insecure),
                protocol,
                signal,
            ),
            None => with_signal_path(default_endpoint(protocol), protocol, signal),
        };
        ResolvedOtlp {
            tls: TlsFiles {
                certificate: first(&|l| l.tls.certificate.clone()),
                client_certificate: first(&|l| l.tls.client_certificate.clone()),
                client_key: first(&|l| l.tls.client_key.clone()),
            },
            protocol,
            endpoint,
            headers: pick(&|l| l.headers.is_some()).and_then(|p| levels[p].headers.clone()).unwrap_or_default(),
            timeout: pick(&|l| l.timeout.is_some()).and_then(|p| levels[p].timeout).unwrap_or(DEFAULT_TIMEOUT),
            compression: pick(&|l| l.compression.is_some()).and_then(|p| levels[p].compression).unwrap_or_default(),
        }
    }
}

/// An endpoint given as `host:port` gets `https://`, or `http://` when `OTEL_EXPORTER_OTLP_INSECURE` is true (the
/// spec's rule for gRPC, applied to every protocol so one endpoint spelling means one thing).
fn with_scheme(endpoint: &str, insecure: bool) -> String {
    if endpoint.contains("://") {
        endpoint.to_owned()
    } else if insecure {
        format!("http://{endpoint}")
    } else {
        format!("https://{endpoint}")
    }
}

/// A generic HTTP endpoint gets `v1/<signal>` appended to its path (made to end in `/` first); gRPC gets no path.
fn with_signal_path(base: &str, protocol: Protocol, signal: Signal) -> String {
    if protocol == Protocol::Grpc {
        return base.to_owned();
    }
    let mut url = base.to_owned();
    if !url.ends_with('/') {
        url.push('/');
    }
    url.push_str("v1/");
    url.push_str(signal.as_str());
    url
}

/// Checks that an endpoint is an absolute `http`/`https` URL with a host, or a scheme-less `host:port` (which
/// [`with_scheme`] completes). Returns the reason when it is neither.
pub(crate) fn validate_endpoint(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let scheme_less = !raw.contains("://");
    let with_scheme = if scheme_less { format!("http://{raw}") } else { raw.to_owned() };
    let url = url::Url::parse(&with_scheme).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not http or https", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    if scheme_less && url.port().is_none() {
        return Err("an endpoint without a scheme must be host:port".to_owned());
    }
    if url.scheme() == "https" && !cfg!(feature = "tls") && !scheme_less {
        return Err("https endpoints need otelwright's `tls` feature, which this build leaves out".to_owned());
    }
    // Keep the user's spelling (no normalisation beyond what the spec asks): trim only.
    Ok(raw.to_owned())
}

/// Header names must be valid HTTP header names (gRPC metadata keys are lowercase ASCII).
fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn read_level(env: &mut Env<'_>, prefix: &str) -> OtlpSource {
    let mut src = OtlpSource::default();
    let var = format!("{prefix}_ENDPOINT");
    if let Some(raw) = env.string(&var) {
        match validate_endpoint(&raw) {
            Ok(url) => src.endpoint = Some(url),
            Err(reason) => env.warn(&var, &raw, format!("{reason}; using the default endpoint")),
        }
    }
    src.protocol = env.choice(&format!("{prefix}_PROTOCOL"), Protocol::EXPECTED, |s| s.parse().ok());
    let var = format!("{prefix}_HEADERS");
    if let Some(raw) = env.string(&var) {
        match parse_key_values(&raw) {
            Ok(pairs) => {
                let (good, bad): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(k, _)| valid_header_name(k));
                for (k, _) in bad {
                    env.warn(&var, &k, "not a valid header name; header skipped");
                }
                src.headers = Some(good.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect());
            }
            // The value is not echoed: headers usually carry credentials.
            Err(reason) => env.warn(&var, "<redacted>", format!("{reason}; no headers are sent")),
        }
    }
    src.timeout = env.timeout(&format!("{prefix}_TIMEOUT"));
    src.compression = env.choice(&format!("{prefix}_COMPRESSION"), "gzip, none", |s| match s {
        "gzip" => Some(Compression::Gzip),
        "none" => Some(Compression::None),
        _ => None,
    });
    src.insecure = env.bool(&format!("{prefix}_INSECURE"));
    src.tls.certificate =
        tls_file(env, &format!("{prefix}_CERTIFICATE"), Pem::Certificates, "using the system's roots");
    src.tls.client_certificate =
        tls_file(env, &format!("{prefix}_CLIENT_CERTIFICATE"), Pem::Certificates, "no client certificate is sent");
    src.tls.client_key =
        tls_file(env, &format!("{prefix}_CLIENT_KEY"), Pem::PrivateKey, "no client certificate is sent");
    src
}

/// A PEM file named by `var`, kept only when it reads and parses; otherwise a warning saying what happens instead.
fn tls_file(env: &mut Env<'_>, var: &str, kind: Pem, fallback: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env.string(var)?);
    match crate::tls::read_pem(&path, kind) {
        Ok(_) => Some(path),
        Err(reason) => {
            env.warn(var, &path.display().to_string(), format!("{reason}; {fallback}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(vars: &[(&str, &str)]) -> (OtlpSources, Vec<String>) {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut env = Env::from_fn(move |n| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()));
        let s = OtlpSources::read_env(&mut env);
        (s, env.warnings.iter().map(|w| w.variable.clone()).collect())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let (s, w) = sources(&[]);
        assert!(w.is_empty());
        let t = s.resolve(Signal::Traces);
        assert_eq!(t.protocol, Protocol::HttpProtobuf);
        assert_eq!(t.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(t.timeout, Duration::from_secs(10));
        assert_eq!(s.resolve(Signal::Logs).endpoint, "http://localhost:4318/v1/logs");
    }

    #[test]
    fn generic_http_endpoint_gets_signal_path() {
        let (s, _) = sources(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/my")]);
        assert_eq!(s.resolve(Signal::Traces).endpoint, "http://c:4318/my/v1/traces");
        let (s, _) = sources(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/my/")]);
        assert_eq!(s.resolve(Signal::Metrics).endpoint, "http://c:4318/my/v1/metrics");
    }

    #[test]
    fn per_signal_endpoint_is_used_as_is_and_wins() {
        let (s, _) = sources(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:9999/custom"),
        ]);
        assert_eq!(s.resolve(Signal::Traces).endpoint, "http://t:9999/custom");
        assert_eq!(s.resolve(Signal::Logs).endpoint, "http://c:4318/v1/logs");
    }

    #[test]
    fn grpc_endpoint_has_no_path() {
        let (s, _) = sources(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
        assert_eq!(s.resolve(Signal::Traces).endpoint, "http://localhost:4317");
        let (s, _) =
            sources(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "GRPC"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]);
        assert_eq!(s.resolve(Signal::Metrics).endpoint, "http://c:4317");
    }

    #[test]
    fn per_signal_protocol_wins() {
        let (s, _) =
            sources(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json")]);
        assert_eq!(s.resolve(Signal::Traces).protocol, Protocol::Grpc);
        assert_eq!(s.resolve(Signal::Logs).protocol, Protocol::HttpJson);
        assert_eq!(s.resolve(Signal::Logs).endpoint, "http://localhost:4318/v1/logs");
    }

    #[test]
    fn code_beats_environment() {
        let (mut s, _) = sources(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env:1/x")]);
        s.code_generic.endpoint = Some("http://code:4318".into());
        assert_eq!(s.resolve(Signal::Traces).endpoint, "http://code:4318/v1/traces");
        s.signal_mut(Signal::Traces).endpoint = Some("http://code-sig:1/y".into());
        assert_eq!(s.resolve(Signal::Traces).endpoint, "http://code-sig:1/y");
    }

    #[test]
    fn headers_timeout_compression() {
        let (s, w) = sources(&[
            ("OTEL_EXPORTER_OTLP_HEADERS", "Api-Key=a%20b,x-tenant=t1"),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "only=metrics"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP"),
        ]);
        assert!(w.is_empty(), "{w:?}");
        let t = s.resolve(Signal::Traces);
        assert_eq!(t.headers, vec![("api-key".into(), "a b".into()), ("x-tenant".into(), "t1".into())]);
        assert_eq!(t.timeout, Duration::from_millis(2500));
        assert_eq!(t.compression, Compression::Gzip);
        assert_eq!(s.resolve(Signal::Metrics).headers, vec![("only".into(), "metrics".into())]);
    }

    #[test]
    fn bad_values_warn_and_fall_back() {
        let (s, w) = sources(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://x/y"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "bad name=1,ok=2"),
        ]);
        assert_eq!(w.len(), 7, "{w:?}");
        let t = s.resolve(Signal::Traces);
        assert_eq!(t.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(t.protocol, Protocol::HttpProtobuf);
        assert_eq!(t.timeout, DEFAULT_TIMEOUT);
        assert_eq!(t.compression, Compression::None);
        assert!(t.headers.is_empty());
        assert_eq!(s.resolve(Signal::Logs).headers, vec![("ok".into(), "2".into())]);
    }

    #[test]
    fn scheme_less_endpoint_is_https_unless_insecure() {
        let (s, w) =
            sources(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.resolve(Signal::Traces).endpoint, "https://collector:4317");
        let (s, w) = sources(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "logs:4318"),
            ("OTEL_EXPORTER_OTLP_LOGS_INSECURE", "false"),
        ]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.resolve(Signal::Traces).endpoint, "http://collector:4318/v1/traces");
        assert_eq!(s.resolve(Signal::Logs).endpoint, "https://logs:4318");
        // A scheme always wins over INSECURE.
        let (s, _) =
            sources(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318"), ("OTEL_EXPORTER_OTLP_INSECURE", "true")]);
        assert_eq!(s.resolve(Signal::Metrics).endpoint, "https://c:4318/v1/metrics");
    }

    #[test]
    fn bad_tls_settings_warn_and_fall_back() {
        let (s, w) = sources(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "yes"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
            ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/nonexistent/key.pem"),
            ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", "/"),
        ]);
        assert_eq!(
            w,
            [
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_EXPORTER_OTLP_INSECURE",
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
                "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
            ]
        );
        let t = s.resolve(Signal::Traces);
        assert_eq!(t.tls, TlsFiles::default());
        assert_eq!(t.endpoint, "http://localhost:4318/v1/traces");
    }
}

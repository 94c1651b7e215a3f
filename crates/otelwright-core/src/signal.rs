//! [`Signal`] and [`Protocol`]: what is exported and how, with the spellings the OTLP exporter specification uses
//! (`OTEL_EXPORTER_OTLP_PROTOCOL`, the `v1/<signal>` paths), parsed by [`FromStr`] and written by [`Display`].

use std::fmt;
use std::str::FromStr;

/// Writes a named enum's spellings once: `as_str`, [`Display`] and [`FromStr`] (exactly the spellings `as_str`
/// writes; callers that accept other cases lowercase first), and the parse error, which names the input.
macro_rules! spelled {
    (
        $(#[$as_str_doc:meta])* $ty:ident,
        $(#[$err_doc:meta])* $err:ident,
        $expected:literal,
        { $($variant:ident => $name:literal),+ }
    ) => {
        impl $ty {
            $(#[$as_str_doc])*
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    _ => Err($err { input: s.to_owned() }),
                }
            }
        }

        $(#[$err_doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $err {
            input: String,
        }

        impl fmt::Display for $err {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}: use {}", self.input, $expected)
            }
        }

        impl std::error::Error for $err {}
    };
}

/// A telemetry signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Spans (`/v1/traces`, `TraceService`).
    Traces,
    /// Metric data points (`/v1/metrics`, `MetricsService`).
    Metrics,
    /// Log records (`/v1/logs`, `LogsService`).
    Logs,
}

impl Signal {
    /// All three, in shutdown order (metrics last, so the others' counters are exported).
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Logs, Signal::Metrics];

    /// `TRACES`, `METRICS` or `LOGS`: the infix of the per-signal variables (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
    /// `OTEL_LOGS_EXPORTER`, ...; OTLP exporter specification, "Configuration Options").
    pub const fn env_infix(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    /// 0, 1 or 2 for traces, metrics and logs: a slot in a per-signal array (not the order of [`Signal::ALL`]).
    pub const fn index(self) -> usize {
        match self {
            Signal::Traces => 0,
            Signal::Metrics => 1,
            Signal::Logs => 2,
        }
    }
}

spelled! {
    /// `traces`, `metrics` or `logs`: the `otel.signal` value and the OTLP/HTTP path segment (OTLP specification,
    /// "OTLP/HTTP Request": the default paths are `/v1/traces`, `/v1/metrics` and `/v1/logs`).
    Signal,
    /// A string that is not `traces`, `metrics` or `logs`.
    ParseSignalError,
    "traces, metrics or logs",
    { Traces => "traces", Metrics => "metrics", Logs => "logs" }
}

/// The OTLP transport and encoding: what an exporter sends with, and what carried a request a receiver accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// OTLP over gRPC, default port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`Content-Type: application/x-protobuf`), default port 4318. The spec's
    /// default (OTLP exporter specification: "the default transport SHOULD be `http/protobuf`").
    #[default]
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies (`Content-Type: application/json`), default port 4318.
    HttpJson,
}

impl Protocol {
    /// The accepted spellings, for messages: `grpc, http/protobuf, http/json`.
    pub const EXPECTED: &'static str = "grpc, http/protobuf, http/json";
}

spelled! {
    /// `grpc`, `http/protobuf` or `http/json`: the values of `OTEL_EXPORTER_OTLP_PROTOCOL` (OTLP exporter
    /// specification, "Specify Protocol").
    Protocol,
    /// A string that is not `grpc`, `http/protobuf` or `http/json`.
    ParseProtocolError,
    "grpc, http/protobuf or http/json",
    { Grpc => "grpc", HttpProtobuf => "http/protobuf", HttpJson => "http/json" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_parses_back_from_its_name() {
        for s in Signal::ALL {
            assert_eq!(s.as_str().parse::<Signal>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        let mut slots = Signal::ALL.map(Signal::index);
        slots.sort_unstable();
        assert_eq!(slots, [0, 1, 2]);
    }

    #[test]
    fn every_protocol_parses_back_from_its_name() {
        for p in [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson] {
            assert_eq!(p.as_str().parse::<Protocol>(), Ok(p));
            assert!(Protocol::EXPECTED.contains(p.as_str()));
        }
        assert_eq!(Protocol::default(), Protocol::HttpProtobuf);
    }

    #[test]
    fn unknown_spellings_are_errors_that_name_the_input() {
        let err = "http/xml".parse::<Protocol>().unwrap_err();
        assert_eq!(err.to_string(), "\"http/xml\": use grpc, http/protobuf or http/json");
        // Exact spelling: case folding is the caller's rule (the environment reader lowercases).
        assert!("GRPC".parse::<Protocol>().is_err());
        assert_eq!("spans".parse::<Signal>().unwrap_err().to_string(), "\"spans\": use traces, metrics or logs");
    }
}

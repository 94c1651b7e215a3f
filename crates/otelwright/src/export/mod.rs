//! The span and log export path of issue 13: OTLP encoded straight from the SDK's data.

pub(crate) mod encode;

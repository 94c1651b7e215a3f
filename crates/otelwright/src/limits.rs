//! `OTEL_(SPAN_)ATTRIBUTE_VALUE_LENGTH_LIMIT`, which the Rust SDK ignores: a span exporter wrapper that truncates
//! string attribute values (on spans, their events and links) to the limit, in characters, before export.

use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Wraps a span exporter; with no limit it passes batches through untouched.
#[derive(Debug)]
pub(crate) struct TruncatingSpanExporter<E> {
    inner: E,
    max_chars: Option<usize>,
}

impl<E> TruncatingSpanExporter<E> {
    pub(crate) fn new(inner: E, max_chars: Option<usize>) -> Self {
        TruncatingSpanExporter { inner, max_chars }
    }
}

fn truncate_str(s: &str, max: usize) -> Option<String> {
    s.char_indices().nth(max).map(|(byte, _)| s[..byte].to_owned())
}

fn truncate_value(value: &mut Value, max: usize) {
    match value {
        Value::String(s) => {
            if let Some(t) = truncate_str(s.as_str(), max) {
                *s = StringValue::from(t);
            }
        }
        Value::Array(Array::String(items)) => {
            for s in items.iter_mut() {
                if let Some(t) = truncate_str(s.as_str(), max) {
                    *s = StringValue::from(t);
                }
            }
        }
        _ => {}
    }
}

pub(crate) fn truncate_attributes(attrs: &mut [KeyValue], max: usize) {
    for kv in attrs {
        truncate_value(&mut kv.value, max);
    }
}

impl<E: SpanExporter> SpanExporter for TruncatingSpanExporter<E> {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        if let Some(max) = self.max_chars {
            for span in &mut batch {
                truncate_attributes(&mut span.attributes, max);
                for event in &mut span.events.events {
                    truncate_attributes(&mut event.attributes, max);
                }
                for link in &mut span.links.links {
                    truncate_attributes(&mut link.attributes, max);
                }
            }
        }
        self.inner.export(batch).await
    }

    crate::selfobs::forward_to_inner!(shutdown_with_timeout, force_flush, set_resource);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_by_characters_not_bytes() {
        let mut attrs = vec![
            KeyValue::new("a", "héllo wörld"),
            KeyValue::new("b", 12345_i64),
            KeyValue::new("c", Value::Array(Array::String(vec!["abcdef".into(), "xy".into()]))),
            KeyValue::new("d", "abc"),
        ];
        truncate_attributes(&mut attrs, 3);
        assert_eq!(attrs[0].value.as_str(), "hél");
        assert_eq!(attrs[1].value, Value::I64(12345));
        assert_eq!(attrs[2].value, Value::Array(Array::String(vec!["abc".into(), "xy".into()])));
        assert_eq!(attrs[3].value.as_str(), "abc");
    }
}

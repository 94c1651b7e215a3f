//! Small helpers over proto values: attribute lookup, rendering an
//! [`AnyValue`] as a string, and hex encoding of trace/span ids.

use std::fmt::Write as _;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};

/// Looks up the value of the first attribute named `key`.
///
/// Returns `None` when no attribute has that key or when it has no value.
pub fn find_attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref())
}

/// Renders an [`AnyValue`] as a string.
///
/// Scalars render plainly (`"text"` becomes `text`, `42`, `1.5`, `true`);
/// bytes render as lowercase hex; arrays as `[a, b]`; key/value lists as
/// `{k: v, ...}`. An empty value (no variant set) renders as the empty string.
pub fn any_value_to_string(value: &AnyValue) -> String {
    let mut out = String::new();
    write_any_value(&mut out, value);
    out
}

/// Like [`any_value_to_string`], but `None` when the value has no variant set.
pub fn any_value_str(value: &AnyValue) -> Option<String> {
    value.value.as_ref().map(|_| any_value_to_string(value))
}

fn write_any_value(out: &mut String, value: &AnyValue) {
    let Some(value) = value.value.as_ref() else {
        return;
    };
    match value {
        Value::StringValue(s) => out.push_str(s),
        Value::BoolValue(b) => {
            let _ = write!(out, "{b}");
        }
        Value::IntValue(i) => {
            let _ = write!(out, "{i}");
        }
        Value::DoubleValue(d) => {
            let _ = write!(out, "{d}");
        }
        Value::BytesValue(bytes) => out.push_str(&hex(bytes)),
        Value::StringValueStrindex(i) => {
            let _ = write!(out, "<strindex {i}>");
        }
        Value::ArrayValue(array) => {
            out.push('[');
            for (i, item) in array.values.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_any_value(out, item);
            }
            out.push(']');
        }
        Value::KvlistValue(list) => {
            out.push('{');
            for (i, kv) in list.values.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&kv.key);
                out.push_str(": ");
                if let Some(v) = kv.value.as_ref() {
                    write_any_value(out, v);
                }
            }
            out.push('}');
        }
    }
}

/// Lowercase hex encoding of `bytes` (empty input gives an empty string).
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Hex of an id, or `None` when the id is empty or all zero bytes (that is,
/// not set).
pub(crate) fn id_hex(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(|b| *b == 0) { None } else { Some(hex(bytes)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn v(value: Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    #[test]
    fn renders_scalars_and_composites() {
        assert_eq!(any_value_to_string(&v(Value::StringValue("a".into()))), "a");
        assert_eq!(any_value_to_string(&v(Value::IntValue(-3))), "-3");
        assert_eq!(any_value_to_string(&v(Value::DoubleValue(1.5))), "1.5");
        assert_eq!(any_value_to_string(&v(Value::BoolValue(true))), "true");
        assert_eq!(any_value_to_string(&v(Value::BytesValue(vec![0xde, 0xad]))), "dead");
        let array =
            v(Value::ArrayValue(ArrayValue { values: vec![v(Value::IntValue(1)), v(Value::StringValue("x".into()))] }));
        assert_eq!(any_value_to_string(&array), "[1, x]");
        let kv = v(Value::KvlistValue(KeyValueList {
            values: vec![KeyValue { key: "k".into(), value: Some(v(Value::BoolValue(false))), key_strindex: 0 }],
        }));
        assert_eq!(any_value_to_string(&kv), "{k: false}");
        assert_eq!(any_value_str(&AnyValue { value: None }), None);
    }

    #[test]
    fn ids() {
        assert_eq!(id_hex(&[]), None);
        assert_eq!(id_hex(&[0; 8]), None);
        assert_eq!(id_hex(&[0, 1, 0xab]).as_deref(), Some("0001ab"));
    }
}

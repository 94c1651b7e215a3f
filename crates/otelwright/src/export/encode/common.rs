//! What trace and log requests share: attribute limits, `KeyValue`/`AnyValue` for span attribute values, the
//! `Resource` and `InstrumentationScope` messages, and the request frame (`ExportTraceServiceRequest` and
//! `ExportLogsServiceRequest` have the same shape) with its per-scope buffers.
//!
//! Field numbers are those of opentelemetry-proto v1.x `common/v1/common.proto`, `resource/v1/resource.proto`,
//! `trace/v1/trace.proto`, `logs/v1/logs.proto` and the two `collector/*/v1/*_service.proto` (the copies in
//! `opentelemetry-proto-0.33.1/src/proto/opentelemetry-proto/`); each is named beside its use.

use std::borrow::Cow;
use std::collections::HashMap;

use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;

use super::wire;

/// Attribute limits applied while encoding span, event, link and log record attributes. Resource and scope
/// attributes are exempt, and so is a log record's body (specification `common/README.md`, "Exempt Entities":
/// "Resource attributes SHOULD be exempt from the limits"; "the limits apply only to attribute collections.
/// Therefore, they do not apply to values within other data structures such as `LogRecord.Body`").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttributeLimits {
    /// `AttributeCountLimit`: each collection keeps its first `count` attributes and counts the rest in its
    /// `dropped_attributes_count`. `None`: no limit. "If adding an attribute to an attribute collection would
    /// result in exceeding the limit [...] the SDK MUST discard that attribute"; "the count limit applies only to
    /// top-level attributes, not to nested key-value pairs within maps" (`common/README.md`, "Attribute Limits").
    pub count: Option<usize>,
    /// `AttributeValueLengthLimit`: strings longer than this many characters are cut to it at a character
    /// boundary, byte arrays to this many bytes, and arrays and maps element by element, recursively. `None`: no
    /// limit (`common/README.md`, "Attribute Limits": "if it is a string, if it exceeds that limit (counting any
    /// character in it as 1), SDKs MUST truncate that value"; "if it is a byte array, [...] counting each byte as
    /// 1"; "if it is an array of strings, then apply the limit to each value within the array separately"; "if it
    /// is an array of AnyValue, then apply the limit to each element of the array separately (and recursively)";
    /// "if it is a map, then apply the limit to each value within the map separately (and recursively)";
    /// "otherwise a value MUST NOT be truncated").
    pub value_length: Option<usize>,
}

/// `s` cut to at most `max` characters, at a character boundary.
#[inline]
pub(super) fn truncate_str(s: &str, max: Option<usize>) -> &str {
    match max {
        // A string of at most `max` bytes has at most `max` characters: no scan needed.
        Some(max) if s.len() > max => match s.char_indices().nth(max) {
            Some((end, _)) => &s[..end],
            None => s,
        },
        _ => s,
    }
}

/// `b` cut to at most `max` bytes.
#[inline]
pub(super) fn truncate_bytes(b: &[u8], max: Option<usize>) -> &[u8] {
    match max {
        Some(max) if b.len() > max => &b[..max],
        _ => b,
    }
}

/// Nanoseconds since the Unix epoch, 0 before it (as opentelemetry-proto's `to_nanos`, what the SDK exporter
/// sends).
#[inline]
pub(super) fn unix_nanos(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// A repeated `KeyValue` field (`field`) from span-style attributes, with the limits applied. Returns how many
/// attributes the count limit dropped.
pub(super) fn key_values(out: &mut Vec<u8>, field: u32, attrs: &[KeyValue], limits: AttributeLimits) -> u32 {
    let keep = limits.count.map_or(attrs.len(), |n| n.min(attrs.len()));
    for kv in &attrs[..keep] {
        key_value(out, field, kv.key.as_str(), &kv.value, limits.value_length);
    }
    (attrs.len() - keep) as u32
}

/// One `KeyValue` message as field `field`: `key` = 1, `value` = 2 (common.proto `KeyValue`).
#[inline]
pub(super) fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &Value, max_len: Option<usize>) {
    wire::message(out, field, |out| {
        wire::bytes(out, 1, key.as_bytes());
        wire::message(out, 2, |out| any_value(out, value, max_len));
    });
}

/// The fields of an `AnyValue` for a span attribute value. The `value` oneof (common.proto `AnyValue`):
/// `string_value` = 1, `bool_value` = 2, `int_value` = 3, `double_value` = 4, `array_value` = 5 (`ArrayValue`,
/// whose `values` = 1). A variant added to the non-exhaustive `Value` later is written as an empty `AnyValue`.
fn any_value(out: &mut Vec<u8>, value: &Value, max_len: Option<usize>) {
    match value {
        Value::String(s) => wire::bytes_always(out, 1, truncate_str(s.as_str(), max_len).as_bytes()),
        Value::Bool(b) => wire::bool_always(out, 2, *b),
        Value::I64(i) => wire::int64_always(out, 3, *i),
        Value::F64(f) => wire::double_always(out, 4, *f),
        Value::Array(array) => wire::message(out, 5, |out| match array {
            Array::Bool(v) => v.iter().for_each(|b| wire::message(out, 1, |out| wire::bool_always(out, 2, *b))),
            Array::I64(v) => v.iter().for_each(|i| wire::message(out, 1, |out| wire::int64_always(out, 3, *i))),
            Array::F64(v) => v.iter().for_each(|f| wire::message(out, 1, |out| wire::double_always(out, 4, *f))),
            Array::String(v) => v.iter().for_each(|s| {
                wire::message(out, 1, |out| wire::bytes_always(out, 1, truncate_str(s.as_str(), max_len).as_bytes()))
            }),
            _ => {}
        }),
        _ => {}
    }
}

/// The `resource` field (1) of `ResourceSpans`/`ResourceLogs`: a `Resource` (resource.proto) with `attributes` = 1.
/// `dropped_attributes_count` (2) stays 0: resource attributes are exempt from limits.
fn resource_field(resource: &Resource) -> Vec<u8> {
    let mut out = Vec::new();
    wire::message(&mut out, 1, |out| {
        for (k, v) in resource.iter() {
            key_value(out, 1, k.as_str(), v, None);
        }
    });
    out
}

/// A request under construction: the resource encoded once, then per scope the encoded items (spans or log
/// records) of this batch.
///
/// `ExportTraceServiceRequest` (trace_service.proto) and `ExportLogsServiceRequest` (logs_service.proto) have the
/// same shape, field for field: request `resource_spans`/`resource_logs` = 1; `ResourceSpans`/`ResourceLogs`
/// `resource` = 1, `scope_spans`/`scope_logs` = 2, `schema_url` = 3; `ScopeSpans`/`ScopeLogs` `scope` = 1,
/// `spans`/`log_records` = 2, `schema_url` = 3.
#[derive(Debug, Clone)]
pub(super) struct RequestBuilder {
    /// `ResourceSpans.resource` (1), encoded with its key.
    resource: Vec<u8>,
    /// `ResourceSpans.schema_url` (3), encoded with its key (empty when there is none).
    schema_url: Vec<u8>,
    groups: Vec<ScopeGroup>,
    /// Exported scope name → index of the first group with that name (others chain through `next_same_name`).
    by_name: HashMap<Box<str>, usize>,
    /// The group used last: consecutive items usually share their scope.
    last: usize,
    /// Items encoded since the last `finish`.
    items: usize,
}

/// The items of one scope.
#[derive(Debug, Clone)]
pub(super) struct ScopeGroup {
    /// The scope as given, to match later items against.
    scope: InstrumentationScope,
    /// A log record's target, which replaces the scope's name in the export, as the SDK's exporter does.
    target: Option<Cow<'static, str>>,
    next_same_name: Option<usize>,
    /// `ScopeSpans.scope` (1) and `ScopeSpans.schema_url` (3), encoded with their keys.
    header: Vec<u8>,
    /// The repeated `spans`/`log_records` fields (2), each encoded with its key.
    pub(super) items: Vec<u8>,
}

/// Past this many distinct scopes, groups are forgotten after each request (their buffers are kept per scope
/// between requests; a program has a handful of tracers and tracing targets, not thousands).
const MAX_KEPT_GROUPS: usize = 256;

/// Up to this many scopes, a group is found by comparing each; past it, by the name's hash.
const LINEAR_SEARCH: usize = 8;

impl RequestBuilder {
    pub(super) fn new(resource: &Resource) -> Self {
        let mut r = RequestBuilder {
            resource: Vec::new(),
            schema_url: Vec::new(),
            groups: Vec::new(),
            by_name: HashMap::new(),
            last: usize::MAX,
            items: 0,
        };
        r.set_resource(resource);
        r
    }

    pub(super) fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource_field(resource);
        self.schema_url.clear();
        wire::bytes(&mut self.schema_url, 3, resource.schema_url().unwrap_or_default().as_bytes());
    }

    /// Items encoded since the last [`finish`](Self::finish).
    pub(super) fn items(&self) -> usize {
        self.items
    }

    /// The size [`finish`](Self::finish) would write now, in bytes.
    pub(super) fn encoded_len(&self) -> usize {
        let inner = self.resource_inner_len();
        if inner == 0 { 0 } else { wire::len_field_len(1, inner) }
    }

    /// The length of the `ResourceSpans` message, or 0 when no item is pending.
    fn resource_inner_len(&self) -> usize {
        if self.items == 0 {
            return 0;
        }
        let scopes: usize = self
            .groups
            .iter()
            .filter(|g| !g.items.is_empty())
            .map(|g| wire::len_field_len(2, g.header.len() + g.items.len()))
            .sum();
        self.resource.len() + scopes + self.schema_url.len()
    }

    /// The group for items of `scope` (for a log record, with the record's `target` as the scope's name), created
    /// on first use. One more item is counted: the caller appends it to the group's `items`.
    pub(super) fn group(&mut self, target: Option<&Cow<'static, str>>, scope: &InstrumentationScope) -> &mut Vec<u8> {
        self.items += 1;
        let index = if self.groups.get(self.last).is_some_and(|g| g.matches(target, scope)) {
            self.last
        } else if self.groups.len() <= LINEAR_SEARCH {
            // A few scopes (server spans and their children alternate): comparing beats hashing the name.
            match self.groups.iter().position(|g| g.matches(target, scope)) {
                Some(i) => i,
                None => self.add(target, scope),
            }
        } else {
            self.find_or_add(target, scope)
        };
        self.last = index;
        &mut self.groups[index].items
    }

    fn find_or_add(&mut self, target: Option<&Cow<'static, str>>, scope: &InstrumentationScope) -> usize {
        let name = exported_name(target, scope);
        let mut at = self.by_name.get(name).copied();
        while let Some(i) = at {
            if self.groups[i].matches(target, scope) {
                return i;
            }
            at = self.groups[i].next_same_name;
        }
        self.add(target, scope)
    }

    /// A new group, indexed by its name, or chained after the last group of the same name.
    fn add(&mut self, target: Option<&Cow<'static, str>>, scope: &InstrumentationScope) -> usize {
        let name = exported_name(target, scope);
        let index = self.groups.len();
        self.groups.push(ScopeGroup::new(target, scope));
        match self.by_name.get(name).copied() {
            Some(mut at) => {
                while let Some(next) = self.groups[at].next_same_name {
                    at = next;
                }
                self.groups[at].next_same_name = Some(index);
            }
            None => {
                self.by_name.insert(name.into(), index);
            }
        }
        index
    }

    /// Writes the whole request into `out` (cleared first) and starts the next one. With no item pending, the
    /// request holds the resource and no scope, as the SDK's exporter would send for an empty batch.
    pub(super) fn finish(&mut self, out: &mut Vec<u8>) {
        out.clear();
        let inner = self.resource_inner_len().max(self.resource.len() + self.schema_url.len());
        out.reserve(wire::len_field_len(1, inner));
        // ExportTraceServiceRequest.resource_spans / ExportLogsServiceRequest.resource_logs = 1.
        wire::len_prefix(out, 1, inner);
        out.extend_from_slice(&self.resource);
        for g in &mut self.groups {
            if g.items.is_empty() {
                continue;
            }
            // ResourceSpans.scope_spans / ResourceLogs.scope_logs = 2.
            wire::len_prefix(out, 2, g.header.len() + g.items.len());
            out.extend_from_slice(&g.header);
            out.extend_from_slice(&g.items);
            g.items.clear();
        }
        out.extend_from_slice(&self.schema_url);
        self.items = 0;
        if self.groups.len() > MAX_KEPT_GROUPS {
            self.groups.clear();
            self.by_name.clear();
            self.last = usize::MAX;
        }
    }
}

impl ScopeGroup {
    fn new(target: Option<&Cow<'static, str>>, scope: &InstrumentationScope) -> Self {
        let mut header = Vec::new();
        // ScopeSpans.scope / ScopeLogs.scope = 1: an InstrumentationScope (common.proto) with name = 1, version = 2,
        // attributes = 3 (dropped_attributes_count = 4 stays 0: the SDK exporter applies no limits here either).
        wire::message(&mut header, 1, |out| {
            wire::bytes(out, 1, exported_name(target, scope).as_bytes());
            wire::bytes(out, 2, scope.version().unwrap_or_default().as_bytes());
            for kv in scope.attributes() {
                key_value(out, 3, kv.key.as_str(), &kv.value, None);
            }
        });
        // ScopeSpans.schema_url / ScopeLogs.schema_url = 3.
        wire::bytes(&mut header, 3, scope.schema_url().unwrap_or_default().as_bytes());
        ScopeGroup { scope: scope.clone(), target: target.cloned(), next_same_name: None, header, items: Vec::new() }
    }

    /// Whether items of `scope` with `target` belong here: the same exported name, version, schema URL and
    /// attributes (what is encoded; an absent version and an empty one are the same).
    fn matches(&self, target: Option<&Cow<'static, str>>, scope: &InstrumentationScope) -> bool {
        let mine = &self.scope;
        same(exported_name(self.target.as_ref(), mine), exported_name(target, scope))
            && same(mine.version().unwrap_or_default(), scope.version().unwrap_or_default())
            && same(mine.schema_url().unwrap_or_default(), scope.schema_url().unwrap_or_default())
            && self.scope.attributes().eq(scope.attributes())
    }
}

/// The scope name as exported: a log record's target when it has one, else the scope's name.
fn exported_name<'a>(target: Option<&'a Cow<'static, str>>, scope: &'a InstrumentationScope) -> &'a str {
    target.map_or(scope.name(), |t| t.as_ref())
}

/// String equality, answered without reading the bytes when both are the same slice: scope names and versions
/// are mostly `&'static str`, shared by every clone of the scope.
#[inline]
fn same(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_and_cuts_at_boundaries() {
        assert_eq!(truncate_str("héllo wörld", Some(3)), "hél");
        assert_eq!(truncate_str("héllo", Some(5)), "héllo");
        assert_eq!(truncate_str("héllo", Some(4)), "héll");
        assert_eq!(truncate_str("日本語", Some(1)), "日");
        assert_eq!(truncate_str("日本語", Some(0)), "");
        assert_eq!(truncate_str("abc", None), "abc");
        assert_eq!(truncate_str("", Some(0)), "");
        assert_eq!(truncate_bytes(&[1, 2, 3], Some(2)), &[1, 2]);
        assert_eq!(truncate_bytes(&[1, 2, 3], Some(3)), &[1, 2, 3]);
        assert_eq!(truncate_bytes(&[1, 2, 3], None), &[1, 2, 3]);
    }

    #[test]
    fn scope_groups_are_found_again() {
        let a = InstrumentationScope::builder("a").with_version("1").build();
        let a_unversioned = InstrumentationScope::builder("a").build();
        let b = InstrumentationScope::builder("b").build();
        let mut r = RequestBuilder::new(&Resource::builder_empty().build());
        r.group(None, &a).push(1);
        r.group(None, &b).push(2);
        r.group(None, &a_unversioned).push(3);
        r.group(None, &a).push(4);
        r.group(Some(&Cow::Borrowed("x")), &a).push(5);
        assert_eq!(r.groups.len(), 4);
        assert_eq!(r.groups[0].items, [1, 4]);
        assert_eq!(r.items(), 5);
        let mut out = Vec::new();
        let expected = r.encoded_len();
        r.finish(&mut out);
        assert_eq!(out.len(), expected);
        assert_eq!(r.items(), 0);
        assert_eq!(r.encoded_len(), 0);
        assert!(r.groups.iter().all(|g| g.items.is_empty()));
    }

    /// Past the linear search, groups made before and after the switch are all found by name, including
    /// several with the same name.
    #[test]
    fn many_scope_groups_are_found_by_name() {
        let scopes: Vec<InstrumentationScope> = (0..30)
            .map(|i| InstrumentationScope::builder(format!("s{}", i % 10)).with_version(format!("{}", i / 10)).build())
            .collect();
        let mut r = RequestBuilder::new(&Resource::builder_empty().build());
        for round in 0..3u8 {
            for (i, s) in scopes.iter().enumerate() {
                r.group(None, s).push(round * 30 + i as u8);
            }
        }
        assert_eq!(r.groups.len(), 30);
        for (i, g) in r.groups.iter().enumerate() {
            assert_eq!(g.items, [i as u8, 30 + i as u8, 60 + i as u8], "group {i}");
        }
    }
}

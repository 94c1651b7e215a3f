//! Reads `OTEL_*` (and `OTELWRIGHT_*`) variables the way the OpenTelemetry spec says: empty is unset, enums are
//! case-insensitive, durations are integer milliseconds, booleans are true only for `true`. A value that cannot be
//! used becomes a [`ConfigWarning`] naming the variable and the value, and the caller falls back to its default.

use std::fmt;
use std::time::Duration;

/// A configuration value that could not be used. `otelwright::init` logs each one once, as a WARN event,
/// after the subscriber is installed; the setting falls back to its default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The environment variable (or builder setting) that held the value.
    pub variable: String,
    /// The value as it was given.
    pub value: String,
    /// Why it was not used and what is used instead.
    pub reason: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?} ignored: {}", self.variable, self.value, self.reason)
    }
}

/// The longest timeout we hand to an exporter; the spec's `0` ("no limit") maps to it.
pub(crate) const NO_LIMIT: Duration = Duration::from_secs(3600);

type Lookup<'a> = Box<dyn Fn(&str) -> Option<Result<String, String>> + 'a>;

/// A source of variables plus the warnings produced while reading it.
pub(crate) struct Env<'a> {
    lookup: Lookup<'a>,
    pub(crate) warnings: Vec<ConfigWarning>,
}

impl<'a> Env<'a> {
    /// The process environment.
    pub(crate) fn process() -> Env<'static> {
        Env {
            lookup: Box::new(|name| match std::env::var(name) {
                Ok(v) => Some(Ok(v)),
                Err(std::env::VarError::NotPresent) => None,
                Err(std::env::VarError::NotUnicode(raw)) => Some(Err(raw.to_string_lossy().into_owned())),
            }),
            warnings: Vec::new(),
        }
    }

    /// A fixed set of variables (tests, or configuration loaded from elsewhere).
    pub(crate) fn from_fn(f: impl Fn(&str) -> Option<String> + 'a) -> Env<'a> {
        Env { lookup: Box::new(move |name| f(name).map(Ok)), warnings: Vec::new() }
    }

    pub(crate) fn warn(&mut self, variable: &str, value: &str, reason: impl Into<String>) {
        self.warnings.push(ConfigWarning {
            variable: variable.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        });
    }

    /// The raw value, `None` when unset or empty (after trimming).
    pub(crate) fn raw(&mut self, name: &str) -> Option<String> {
        match (self.lookup)(name)? {
            Ok(v) if v.trim().is_empty() => None,
            Ok(v) => Some(v),
            Err(lossy) => {
                self.warn(name, &lossy, "not valid UTF-8; using the default");
                None
            }
        }
    }

    /// A trimmed string value.
    pub(crate) fn string(&mut self, name: &str) -> Option<String> {
        self.raw(name).map(|v| v.trim().to_owned())
    }

    /// A boolean: true only for case-insensitive `true`; `false` is false; anything else warns and is false.
    pub(crate) fn bool(&mut self, name: &str) -> Option<bool> {
        let v = self.string(name)?;
        if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            self.warn(name, &v, "expected `true` or `false`; using false");
            Some(false)
        }
    }

    /// A non-negative integer number of milliseconds.
    pub(crate) fn millis(&mut self, name: &str) -> Option<Duration> {
        let v = self.string(name)?;
        match v.parse::<u64>() {
            Ok(ms) => Some(Duration::from_millis(ms)),
            Err(_) => {
                self.warn(name, &v, "expected a whole number of milliseconds; using the default");
                None
            }
        }
    }

    /// A timeout in milliseconds where `0` means no limit (mapped to [`NO_LIMIT`]).
    pub(crate) fn timeout(&mut self, name: &str) -> Option<Duration> {
        self.millis(name).map(|d| if d.is_zero() { NO_LIMIT } else { d.min(NO_LIMIT) })
    }

    /// A positive integer in `1..=max`.
    pub(crate) fn count(&mut self, name: &str, max: u64) -> Option<u64> {
        let v = self.string(name)?;
        match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Some(n),
            _ => {
                self.warn(name, &v, format!("expected a whole number from 1 to {max}; using the default"));
                None
            }
        }
    }

    /// A ratio in `[0, 1]`.
    pub(crate) fn ratio(&mut self, name: &str) -> Option<f64> {
        let v = self.string(name)?;
        match v.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Some(r),
            _ => {
                self.warn(name, &v, "expected a number from 0 to 1; using the default");
                None
            }
        }
    }

    /// A case-insensitive enum value; `parse` gets the lowercased value.
    pub(crate) fn choice<T>(&mut self, name: &str, expected: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let v = self.string(name)?;
        let parsed = parse(&v.to_ascii_lowercase());
        if parsed.is_none() {
            self.warn(name, &v, format!("expected one of {expected}; using the default"));
        }
        parsed
    }

    /// A comma-separated, case-insensitive list; each element goes through `parse`, unknown ones warn and are
    /// skipped, duplicates are dropped. `None` when unset or when nothing in the list was usable.
    pub(crate) fn list<T: PartialEq>(
        &mut self,
        name: &str,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<Vec<T>> {
        let v = self.string(name)?;
        let mut out = Vec::new();
        let mut unknown = Vec::new();
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match parse(&item.to_ascii_lowercase()) {
                Some(t) if !out.contains(&t) => out.push(t),
                Some(_) => {}
                None => unknown.push(item.to_owned()),
            }
        }
        if out.is_empty() {
            self.warn(name, &v, format!("no usable entry (expected {expected}); using the default"));
            return None;
        }
        for item in unknown {
            self.warn(name, &item, format!("expected one of {expected}; entry skipped"));
        }
        Some(out)
    }
}

/// Parses a `key=value,key2=value2` list (OTLP headers, resource attributes) with percent-encoded values.
/// Returns the pairs, or a reason when any entry is malformed.
pub(crate) fn parse_key_values(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, value)) = entry.split_once('=') else {
            return Err(format!("entry {entry:?} has no `=`"));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("entry {entry:?} has an empty key"));
        }
        let value = value.trim();
        if !escapes_are_well_formed(value) {
            return Err(format!("the value of {key:?} has a malformed percent escape"));
        }
        let value = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| format!("the value of {key:?} is not valid UTF-8 once decoded"))?;
        out.push((key.to_owned(), value.into_owned()));
    }
    Ok(out)
}

/// `percent_decode_str` leaves malformed escapes (`%zz`, a trailing `%`) as they are; we reject them instead.
fn escapes_are_well_formed(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env<'static> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Env::from_fn(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn empty_is_unset_and_does_not_warn() {
        let mut e = env(&[("A", ""), ("B", "   ")]);
        assert_eq!(e.string("A"), None);
        assert_eq!(e.millis("B"), None);
        assert!(e.warnings.is_empty());
    }

    #[test]
    fn booleans_follow_the_spec() {
        let mut e = env(&[("T", "TRUE"), ("F", "false"), ("X", "yes")]);
        assert_eq!(e.bool("T"), Some(true));
        assert_eq!(e.bool("F"), Some(false));
        assert_eq!(e.bool("X"), Some(false));
        assert_eq!(e.warnings.len(), 1);
        assert_eq!(e.warnings[0].variable, "X");
        assert_eq!(e.warnings[0].value, "yes");
    }

    #[test]
    fn timeouts_zero_means_no_limit() {
        let mut e = env(&[("Z", "0"), ("N", "250"), ("BAD", "-5"), ("F", "1.5")]);
        assert_eq!(e.timeout("Z"), Some(NO_LIMIT));
        assert_eq!(e.timeout("N"), Some(Duration::from_millis(250)));
        assert_eq!(e.timeout("BAD"), None);
        assert_eq!(e.timeout("F"), None);
        assert_eq!(e.warnings.len(), 2);
    }

    #[test]
    fn lists_skip_unknown_and_dedupe() {
        let mut e = env(&[("L", "tracecontext, Baggage,bogus,tracecontext")]);
        let got = e.list("L", "a|b", |s| matches!(s, "tracecontext" | "baggage").then(|| s.to_owned()));
        assert_eq!(got, Some(vec!["tracecontext".to_owned(), "baggage".to_owned()]));
        assert_eq!(e.warnings.len(), 1);
        assert_eq!(e.warnings[0].value, "bogus");
    }

    #[test]
    fn key_values_decode_and_reject() {
        assert_eq!(
            parse_key_values("a=1, b = x%2Cy%3Dz ,c=%25").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "x,y=z".into()), ("c".into(), "%".into())]
        );
        assert!(parse_key_values("a=1,novalue").is_err());
        assert!(parse_key_values("=x").is_err());
        assert!(parse_key_values("a=%zz").is_err());
        assert!(parse_key_values("a=%ff").is_err(), "invalid UTF-8 after decoding");
        assert!(parse_key_values("a=50%").is_err());
    }
}

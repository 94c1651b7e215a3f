//! [`Site`]: the `static` that `#[measured]` puts in each function. It holds what the macro knows at compile time
//! and, from the first call on, the attribute set of each outcome and the instruments bound to it, so a call
//! neither builds attributes nor has the SDK look them up.

use std::borrow::Cow;
use std::sync::OnceLock;

use opentelemetry::metrics::BoundUpDownCounter;
use opentelemetry::{Key, KeyValue, Value};

use super::generation::PerProvider;
use super::instruments::{Outcomes, bound, instruments};
use super::{CODE_FUNCTION_NAME, ERROR_TYPE, FUNCTION_NAME, OUTCOME};

/// A declared attribute whose value is a literal, known at compile time.
#[derive(Clone, Copy, Debug)]
pub enum Constant {
    /// A string literal.
    Str(&'static str),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
}

impl From<Constant> for Value {
    fn from(c: Constant) -> Value {
        match c {
            Constant::Str(s) => Value::from(s),
            Constant::Int(i) => Value::I64(i),
            Constant::Float(f) => Value::F64(f),
            Constant::Bool(b) => Value::Bool(b),
        }
    }
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Ok,
    /// An error value; the type name of the error.
    Error(&'static str),
    Panicked,
    Cancelled,
}

/// One measured function. Built by `#[measured]` in a `static`; not meant to be written by hand.
#[derive(Debug)]
pub struct Site {
    here: fn() -> &'static str,
    name: Option<&'static str>,
    constants: &'static [(&'static str, Constant)],
    in_flight: bool,
    attributes: OnceLock<SiteAttributes>,
    outcomes: PerProvider<Outcomes>,
}

#[derive(Debug)]
pub(crate) struct SiteAttributes {
    function: &'static str,
    /// Without `outcome` and `error.type`: the set of `function.calls.active`.
    base: Box<[KeyValue]>,
    ok: Box<[KeyValue]>,
    cancelled: Box<[KeyValue]>,
    panicked: Box<[KeyValue]>,
    /// The attributes for the first error type seen (the only one, unless the function is generic over it).
    error: OnceLock<(&'static str, Box<[KeyValue]>)>,
}

impl Site {
    /// `here` returns `std::any::type_name` of a function item declared inside the measured function;
    /// `name` is `name = "..."`; `constants` are the declared attributes with literal values.
    pub const fn new(
        here: fn() -> &'static str,
        name: Option<&'static str>,
        constants: &'static [(&'static str, Constant)],
    ) -> Self {
        Site { here, name, constants, in_flight: false, attributes: OnceLock::new(), outcomes: PerProvider::new() }
    }

    /// `#[measured(in_flight)]`: calls in progress are counted in `function.calls.active`.
    pub const fn in_flight(mut self) -> Self {
        self.in_flight = true;
        self
    }

    /// For an `in_flight` site: counts a call as started, returning the counter its end must decrement (the one
    /// of the provider the call started under).
    #[inline]
    pub(crate) fn enter(&'static self) -> Option<&'static BoundUpDownCounter<i64>> {
        if !self.in_flight {
            return None;
        }
        let outcomes = self.outcomes.get(Outcomes::new);
        let active = outcomes.active.get_or_init(|| instruments().active.bind(&self.attributes().base));
        active.add(1);
        Some(active)
    }

    /// The `code.function.name` of the measured function.
    pub fn function_name(&'static self) -> &'static str {
        self.attributes().function
    }

    #[inline]
    pub(crate) fn attributes(&'static self) -> &'static SiteAttributes {
        self.attributes.get_or_init(|| self.build())
    }

    #[cold]
    fn build(&self) -> SiteAttributes {
        // Once per site, like the static itself, so leaking keeps every clone of the attribute allocation-free.
        let function: &'static str = Box::leak(function_path((self.here)()).into_boxed_str());
        let make =
            |outcome: &'static str, error: Option<&'static str>| self.attribute_set(function, Some(outcome), error);
        SiteAttributes {
            function,
            base: self.attribute_set(function, None, None),
            ok: make("ok", None),
            cancelled: make("cancelled", None),
            panicked: make("error", Some("panic")),
            error: OnceLock::new(),
        }
    }

    fn attribute_set(
        &self,
        function: &'static str,
        outcome: Option<&'static str>,
        error: Option<&'static str>,
    ) -> Box<[KeyValue]> {
        let mut set = Vec::with_capacity(4 + self.constants.len());
        set.push(KeyValue::new(Key::from_static_str(CODE_FUNCTION_NAME), function));
        if let Some(name) = self.name {
            set.push(KeyValue::new(Key::from_static_str(FUNCTION_NAME), name));
        }
        if let Some(outcome) = outcome {
            set.push(KeyValue::new(Key::from_static_str(OUTCOME), outcome));
        }
        if let Some(error) = error {
            set.push(KeyValue::new(Key::from_static_str(ERROR_TYPE), error));
        }
        for (key, value) in self.constants {
            set.push(KeyValue::new(Key::from_static_str(key), *value));
        }
        set.into_boxed_slice()
    }

    /// Records one call that ended so, with no attributes beyond the site's own: through the bound instruments,
    /// except for a second error type of a generic function.
    pub(crate) fn record(&'static self, ending: Ending, seconds: f64) {
        let attributes = self.attributes();
        let outcomes = self.outcomes.get(Outcomes::new);
        let (cell, set) = match ending {
            Ending::Ok => (&outcomes.ok, &*attributes.ok),
            Ending::Cancelled => (&outcomes.cancelled, &*attributes.cancelled),
            Ending::Panicked => (&outcomes.panicked, &*attributes.panicked),
            Ending::Error(type_name) => match self.error_attributes(type_name) {
                Cow::Borrowed(set) => (&outcomes.error, set),
                Cow::Owned(set) => return instruments().record(seconds, &set),
            },
        };
        bound(cell, set).record(seconds);
    }

    /// Records one call with the attributes evaluated from its arguments appended.
    pub(crate) fn record_with(
        &'static self,
        ending: Ending,
        seconds: f64,
        dynamic: impl IntoIterator<Item = KeyValue>,
    ) {
        let all: Vec<KeyValue> = attributes_for(self, ending).iter().cloned().chain(dynamic).collect();
        instruments().record(seconds, &all);
    }

    /// The error attribute set: borrowed for the first error type seen, built for any other.
    fn error_attributes(&'static self, type_name: &'static str) -> Cow<'static, [KeyValue]> {
        let attributes = self.attributes();
        let (cached, set) = attributes
            .error
            .get_or_init(|| (type_name, self.attribute_set(attributes.function, Some("error"), Some(type_name))));
        if *cached == type_name {
            Cow::Borrowed(&**set)
        } else {
            Cow::Owned(self.attribute_set(attributes.function, Some("error"), Some(type_name)).into_vec())
        }
    }
}

/// The attributes for an ending. Allocates only for the second and later error types of a generic function.
fn attributes_for(site: &'static Site, ending: Ending) -> Cow<'static, [KeyValue]> {
    let attributes = site.attributes();
    match ending {
        Ending::Ok => (&*attributes.ok).into(),
        Ending::Cancelled => (&*attributes.cancelled).into(),
        Ending::Panicked => (&*attributes.panicked).into(),
        Ending::Error(type_name) => site.error_attributes(type_name),
    }
}

/// `my_crate::module::Type::method::{{closure}}::__otelwright_here` -> `my_crate::module::Type::method`.
fn function_path(marker: &str) -> String {
    let path = marker.rsplit_once("::").map_or(marker, |(path, _marker)| path);
    path.replace("::{{closure}}", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_paths_drop_the_marker_and_closures() {
        assert_eq!(function_path("shop::agent::Agent::run::{{closure}}::here"), "shop::agent::Agent::run");
        assert_eq!(function_path("<shop::Agent as shop::Tool>::call::here"), "<shop::Agent as shop::Tool>::call");
        assert_eq!(function_path("shop::W<_>::get::here"), "shop::W<_>::get");
        assert_eq!(function_path("here"), "here");
    }

    fn marker() -> &'static str {
        std::any::type_name_of_val(&marker)
    }

    #[test]
    fn attribute_sets_are_built_once_and_in_a_stable_order() {
        static SITE: Site =
            Site::new(marker, Some("agent.run"), &[("tier", Constant::Str("gold")), ("n", Constant::Int(2))]);
        let ok = attributes_for(&SITE, Ending::Ok);
        let keys: Vec<&str> = ok.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["code.function.name", "function.name", "outcome", "tier", "n"]);
        assert_eq!(ok[0].value, Value::from("otelwright::measure::site::tests"));
        assert!(matches!(ok, Cow::Borrowed(_)));

        let error = attributes_for(&SITE, Ending::Error("shop::Error"));
        assert!(matches!(error, Cow::Borrowed(_)), "the first error type is cached");
        assert_eq!(error[2].value, Value::from("error"));
        assert_eq!(error[3], KeyValue::new("error.type", "shop::Error"));
        let other = attributes_for(&SITE, Ending::Error("std::io::error::Error"));
        assert!(matches!(other, Cow::Owned(_)));
        assert_eq!(other[3], KeyValue::new("error.type", "std::io::error::Error"));

        let panicked = attributes_for(&SITE, Ending::Panicked);
        assert_eq!(panicked[3], KeyValue::new("error.type", "panic"));
        assert_eq!(attributes_for(&SITE, Ending::Cancelled)[2].value, Value::from("cancelled"));
    }
}

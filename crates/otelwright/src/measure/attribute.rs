//! [`AttributeValue`]: how a value named in `#[measured(attributes(key = value))]` becomes an attribute value.
//! The value is borrowed, never moved, so the function's arguments are still there for its body.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

use opentelemetry::{StringValue, Value};

/// A value usable in `#[measured(attributes(key = value))]`: strings, integers, floats, booleans, and references
/// to them. Strings are copied on each call; integers, floats and booleans are not.
///
/// Implement it for your own low-cardinality types (an enum of tiers, say):
///
/// ```
/// enum Tier { Free, Paid }
///
/// impl otelwright::measure::AttributeValue for Tier {
///     fn to_value(&self) -> opentelemetry::Value {
///         match self {
///             Tier::Free => "free".into(),
///             Tier::Paid => "paid".into(),
///         }
///     }
/// }
///
/// #[otelwright::measured(attributes(tier = tier))]
/// fn answer(tier: Tier) -> usize {
///     42
/// }
/// # answer(Tier::Paid);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the value of a #[measured] attribute",
    label = "not a string, integer, float or bool",
    note = "use a low-cardinality value such as `x.to_string()` or `x.len()`, or implement \
            `otelwright::measure::AttributeValue` for `{Self}`"
)]
pub trait AttributeValue {
    /// The attribute value.
    fn to_value(&self) -> Value;
}

impl<T: AttributeValue + ?Sized> AttributeValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: AttributeValue + ?Sized> AttributeValue for &mut T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: AttributeValue + ?Sized> AttributeValue for Box<T> {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl AttributeValue for str {
    fn to_value(&self) -> Value {
        Value::String(self.to_owned().into())
    }
}

impl AttributeValue for String {
    fn to_value(&self) -> Value {
        Value::String(self.clone().into())
    }
}

impl AttributeValue for Cow<'_, str> {
    fn to_value(&self) -> Value {
        Value::String(self.to_string().into())
    }
}

impl AttributeValue for Arc<str> {
    fn to_value(&self) -> Value {
        Value::String(self.clone().into())
    }
}

impl AttributeValue for Rc<str> {
    fn to_value(&self) -> Value {
        Value::String(self.to_string().into())
    }
}

impl AttributeValue for StringValue {
    fn to_value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl AttributeValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl AttributeValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

macro_rules! lossless_integers {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            fn to_value(&self) -> Value {
                Value::I64(i64::from(*self))
            }
        }
    )*};
}
lossless_integers!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! saturating_integers {
    ($($t:ty),*) => {$(
        /// Values beyond `i64::MAX` saturate.
        impl AttributeValue for $t {
            fn to_value(&self) -> Value {
                Value::I64(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
saturating_integers!(u64, usize, isize);

impl AttributeValue for f64 {
    fn to_value(&self) -> Value {
        Value::F64(*self)
    }
}

impl AttributeValue for f32 {
    fn to_value(&self) -> Value {
        Value::F64(f64::from(*self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_convert_by_reference() {
        let owned = String::from("gpt");
        assert_eq!(AttributeValue::to_value(&owned), Value::from("gpt"));
        assert_eq!(AttributeValue::to_value(&"lit"), Value::from("lit"));
        assert_eq!(AttributeValue::to_value(&&&3_u8), Value::I64(3));
        assert_eq!(AttributeValue::to_value(&u64::MAX), Value::I64(i64::MAX));
        assert_eq!(AttributeValue::to_value(&1.5_f32), Value::F64(1.5));
        assert_eq!(AttributeValue::to_value(&true), Value::Bool(true));
        assert_eq!(AttributeValue::to_value(&Cow::Borrowed("c")), Value::from("c"));
        assert_eq!(AttributeValue::to_value(&Arc::<str>::from("a")), Value::from("a"));
    }
}

//! Whether a measured call's value is an error: [`MeasuredOutcome`] for `Result` (and your own types), and the
//! probe the macro uses to ask without knowing the return type (values of other types are `ok`).

/// A return value that can be an error. `#[measured]` records `outcome = error` and `error.type` when
/// [`MeasuredOutcome::error_type`] is `Some`. Implemented for `Result<T, E>` with the full type name of `E`
/// (`std::any::type_name`, not shortened: many crates call their error type `Error`). Values of types that do
/// not implement it (plain values, `Option`, `()`) are always `ok`.
///
/// ```
/// struct Reply { status: u16 }
///
/// impl otelwright::measure::MeasuredOutcome for Reply {
///     fn error_type(&self) -> Option<&'static str> {
///         (self.status >= 500).then_some("server_error")
///     }
/// }
///
/// #[otelwright::measured]
/// fn handle() -> Reply {
///     Reply { status: 503 } // recorded with outcome = error, error.type = server_error
/// }
/// # handle();
/// ```
pub trait MeasuredOutcome {
    /// `Some(error type)` when the value is an error; a `&'static str` so that recording never allocates.
    fn error_type(&self) -> Option<&'static str>;
}

impl<T, E> MeasuredOutcome for Result<T, E> {
    #[inline]
    fn error_type(&self) -> Option<&'static str> {
        match self {
            Ok(_) => None,
            Err(_) => Some(std::any::type_name::<E>()),
        }
    }
}

/// Wraps a return value for the probe: `(&Probe(&value)).__otelwright_error_type()` finds
/// [`ProbeOutcome`] when the value's type implements [`MeasuredOutcome`], and falls back to [`ProbePlain`].
#[derive(Debug)]
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// The probe's first choice: the value's own [`MeasuredOutcome`].
pub trait ProbeOutcome {
    /// The error type, if the value is an error.
    fn __otelwright_error_type(&self) -> Option<&'static str>;
}

impl<T: MeasuredOutcome + ?Sized> ProbeOutcome for Probe<'_, T> {
    #[inline]
    fn __otelwright_error_type(&self) -> Option<&'static str> {
        self.0.error_type()
    }
}

/// The probe's fallback: never an error.
pub trait ProbePlain {
    /// Always `None`.
    fn __otelwright_error_type(&self) -> Option<&'static str>;
}

impl<T: ?Sized> ProbePlain for &Probe<'_, T> {
    #[inline]
    fn __otelwright_error_type(&self) -> Option<&'static str> {
        None
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // written as the macro writes it: the borrow is what makes the fallback work
mod tests {
    use super::*;

    #[derive(Debug)]
    struct MyError;

    #[test]
    fn results_are_errors_and_everything_else_is_ok() {
        let failed: Result<u8, MyError> = Err(MyError);
        assert_eq!((&Probe(&failed)).__otelwright_error_type(), Some("otelwright::measure::outcome::tests::MyError"));
        let fine: Result<u8, MyError> = Ok(1);
        assert_eq!((&Probe(&fine)).__otelwright_error_type(), None);
        assert_eq!((&Probe(&None::<u8>)).__otelwright_error_type(), None);
        assert_eq!((&Probe(&())).__otelwright_error_type(), None);
        assert_eq!((&Probe(&"text")).__otelwright_error_type(), None);
    }
}

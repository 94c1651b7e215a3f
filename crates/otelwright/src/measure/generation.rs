//! Which global meter provider is current: a generation counter bumped whenever the global provider changes, and
//! [`PerProvider`], a cache that holds one value (instruments) per generation and is read with two atomic loads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use opentelemetry::metrics::MeterProvider;

/// Bumped after every change of the global meter provider that otelwright knows of.
static GENERATION: AtomicUsize = AtomicUsize::new(0);

/// Generations cached without a lock. A service changes its provider once or twice (`init`, shutdown); later
/// generations go through a mutex.
const SLOTS: usize = 8;

/// Tells `#[measured]`, [`record!`](crate::record) and [`Quantity`](super::Quantity) that the global meter
/// provider changed: their next call re-creates its instruments from the new provider. [`crate::init`] and the
/// shutdown of its [`Telemetry`](crate::Telemetry) call this; call it yourself after
/// `opentelemetry::global::set_meter_provider`, or use [`set_global_meter_provider`].
///
/// ```
/// opentelemetry::global::set_meter_provider(opentelemetry_sdk::metrics::SdkMeterProvider::default());
/// otelwright::measure::global_meter_provider_changed();
/// ```
pub fn global_meter_provider_changed() {
    // Release: whoever sees the new generation also sees the provider set before this call.
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// `opentelemetry::global::set_meter_provider` followed by [`global_meter_provider_changed`].
///
/// ```
/// let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
/// otelwright::measure::set_global_meter_provider(provider.clone());
/// ```
pub fn set_global_meter_provider<P>(provider: P)
where
    P: MeterProvider + Send + Sync + 'static,
{
    opentelemetry::global::set_meter_provider(provider);
    global_meter_provider_changed();
}

/// One `T` per provider generation, created on first use. Old generations' values are kept (they are small:
/// instrument handles), so a reference handed out stays valid.
pub(crate) struct PerProvider<T: 'static> {
    slots: [OnceLock<T>; SLOTS],
    later: Mutex<Option<(usize, &'static T)>>,
}

impl<T: Send + Sync + 'static> PerProvider<T> {
    pub(crate) const fn new() -> Self {
        PerProvider { slots: [const { OnceLock::new() }; SLOTS], later: Mutex::new(None) }
    }

    /// The value for the current generation: one atomic load for the generation and one for the slot.
    #[inline]
    pub(crate) fn get(&self, make: impl FnOnce() -> T) -> &T {
        let generation = GENERATION.load(Ordering::Acquire);
        match self.slots.get(generation) {
            Some(slot) => slot.get_or_init(make),
            None => self.get_later(generation, make),
        }
    }

    #[cold]
    fn get_later(&self, generation: usize, make: impl FnOnce() -> T) -> &T {
        let mut later = self.later.lock().unwrap_or_else(PoisonError::into_inner);
        match *later {
            Some((g, value)) if g == generation => value,
            _ => {
                // Bounded by the number of provider changes, which is small: the leak keeps references valid.
                let value: &'static T = Box::leak(Box::new(make()));
                *later = Some((generation, value));
                value
            }
        }
    }
}

impl<T: 'static> std::fmt::Debug for PerProvider<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerProvider").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_generation_makes_a_new_value_and_keeps_the_old_one() {
        static CACHE: PerProvider<usize> = PerProvider::new();
        let first = CACHE.get(|| GENERATION.load(Ordering::Acquire));
        assert_eq!(CACHE.get(|| unreachable!()), first, "created once per generation");
        for _ in 0..SLOTS + 2 {
            global_meter_provider_changed();
            let value = *CACHE.get(|| GENERATION.load(Ordering::Acquire));
            assert_eq!(value, GENERATION.load(Ordering::Acquire));
            assert_eq!(*CACHE.get(|| unreachable!()), value);
        }
        assert!(*first < GENERATION.load(Ordering::Acquire));
    }
}

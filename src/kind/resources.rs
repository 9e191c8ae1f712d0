//! Resources shared by the steps of one run (connection pools and the
//! like), created on first use and dropped with the run. Each kind keeps its
//! own type here, found by type, so adding a kind edits no shared struct.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Per-run resources, one value per type.
#[derive(Default)]
pub struct Resources {
    by_type: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Resources {
    /// The run's value of type `T`, made with `T::default()` on first use.
    pub fn get<T: Any + Send + Sync + Default>(&self) -> Arc<T> {
        let mut map = self
            .by_type
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()));
        Arc::clone(entry)
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("the map is keyed by the value's type"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Counter(std::sync::atomic::AtomicU32);

    #[test]
    fn one_value_per_type_per_run() {
        let resources = Resources::default();
        resources
            .get::<Counter>()
            .0
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let again = resources.get::<Counter>();
        assert_eq!(again.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(
            Resources::default()
                .get::<Counter>()
                .0
                .load(std::sync::atomic::Ordering::SeqCst),
            0
        );
    }
}

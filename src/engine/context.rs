//! What templates see during a run: the `steps` map, read live.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use minijinja::Value;
use minijinja::value::{Enumerator, Object};

/// The `steps` map: each step's status, result and outputs, read live.
#[derive(Debug, Default)]
pub struct StepsView {
    entries: Mutex<HashMap<String, Value>>,
    order: Vec<String>,
}

impl StepsView {
    /// A view over the given step ids, all pending.
    pub fn new(ids: Vec<String>) -> Self {
        let pending = Value::from_serialize(serde_json::json!({
            "status": "pending", "result": null, "outputs": {}, "attempts": 0
        }));
        let entries = ids.iter().map(|id| (id.clone(), pending.clone())).collect();
        StepsView {
            entries: Mutex::new(entries),
            order: ids,
        }
    }

    /// Records a step's state.
    pub fn set(&self, id: &str, state: &serde_json::Value) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(id.to_owned(), Value::from_serialize(state));
        }
    }
}

impl Object for StepsView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        self.entries.lock().ok()?.get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.order.iter().map(|s| Value::from(s.as_str())).collect())
    }
}
